/*
 * fuzz_page.c
 *	  libFuzzer target for the page decoder: every reader of a page image
 *	  that came from disk (ts_page_verify, meta pages, catalog, branch, leaf,
 *	  overflow and freelist pages, cursors, the checker, and a commit on top).
 *
 *	  The engine runs on an in-memory VFS (below): a few named files in
 *	  growable buffers (the data file, and whatever else the engine keeps
 *	  there, such as write-ahead log segments), reads past the end fill with
 *	  zeros, writes past 32 MB fail with ENOSPC (so a corrupt page count
 *	  cannot exhaust memory through the VFS), sync is a no-op.
 *
 *	  Once, at start-up, the engine itself builds a valid data file: trees "alpha" (300 keys, values of 0..60 bytes,
 *	  one 9,000-byte overflow value; depth 2), "beta" (5 keys) and "gamma"
 *	  (empty), then a second commit that deletes and overwrites keys, so the
 *	  file also holds freelist pages and free pages; then closes it (with
 *	  the write-ahead log: after a checkpoint).  For each input, every file
 *	  is copied, one page of the data file is replaced, and the environment is
 *	  opened with a 16-page cache; then, for every tree: a full forward and
 *	  backward cursor scan, seeks and gets; ts_env_check; a write transaction
 *	  (overwrite, insert, overflow insert, delete, new tree) and its commit;
 *	  close.  Errors are expected; crashes, hangs, leaks and memory errors
 *	  (ASan/UBSan) are findings.
 *
 *	  Input:
 *	    byte 0   which page: byte % number of pages in the file (0, 1: meta)
 *	    byte 1   mode bits:
 *	               0x01  re-seal: recompute the page's CRC32C (bytes 4..4095,
 *	                     stored at offset 0, as ts_page_seal does) after the
 *	                     change, so the decoder sees a checksum-valid page
 *	                     with arbitrary contents; without it the stored
 *	                     checksum is whatever the input says
 *	               0x02  set the page-number field (offset 8) to the page's
 *	                     real number before sealing (passes that check too)
 *	               0x04  patch: the rest is (u16 offset LE, u8 value) triples
 *	                     applied to the original page; without it, the rest
 *	                     is the page's new bytes from offset 0 (bytes past the
 *	                     end of the input keep their original values)
 *	    byte 2.. the page's new bytes, or the patch triples
 *
 *	  Findings besides the sanitizers' (abort() with a message on stderr):
 *	    - a return code that is neither 0, a TS_* code nor a positive errno;
 *	    - a cursor scan that does not end within SCAN_CAP steps (a cycle);
 *	    - ts_env_check returning 0 although a page it verifies has a wrong
 *	      checksum.  Which pages it verifies (those in use; free pages are
 *	      the engine's choice) is learnt at start-up from the engine itself:
 *	      each page's last byte is damaged in turn, and a page counts as
 *	      verified when open + ts_env_check then fail.
 *
 *	  Build and run (from the repository root):
 *	    clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
 *	        engine/[a-z]*.c test/fuzz/fuzz_page.c -o /tmp/fuzz_page
 *	    /tmp/fuzz_page -max_total_time=60 -max_len=4200 -timeout=10
 *	  With FUZZ_PAGE_SEEDS=dir set, the target writes one seed input per page
 *	  (the unchanged page, modes 0 and 3) into dir at start-up; with
 *	  FUZZ_PAGE_VERBOSE set, it describes each input's change on stderr (page,
 *	  type, every byte changed), to reproduce a finding:
 *	    FUZZ_PAGE_VERBOSE=1 /tmp/fuzz_page crash-<hash>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "format.h"
#include "treestore.h"
#include "vfs.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIR_PATH		"/fz"
#define DATA_PATH		DIR_PATH "/" TS_DATA_FILE
#define MAX_FILES		32
#define MAX_DIRS		4
#define MAX_NAME		256
#define MAX_FILE_BYTES	((uint64_t) 32 << 20)	/* then ENOSPC: no OOM on a huge page_count */
#define SCAN_CAP		200000	/* cursor steps; the file has < 100 pages of < 700 cells */

#define MODE_RESEAL		0x01
#define MODE_FIXPGNO	0x02
#define MODE_PATCH		0x04

/* ------------------------------------------------------- in-memory VFS */

typedef struct mnode
{
	char		name[MAX_NAME];
	uint8_t    *buf;
	size_t		len;
	size_t		cap;
	int			linked;			/* has a name in the file system */
	int			opens;			/* open handles */
} mnode;

typedef struct memfs
{
	ts_vfs		vfs;			/* first: the vfs pointer is the memfs */
	mnode		nodes[MAX_FILES];
	char		dirs[MAX_DIRS][MAX_NAME];
	int			ndirs;
} memfs;

typedef struct mhandle
{
	ts_file		base;			/* first */
	mnode	   *node;
} mhandle;

static mnode *
mfs_find(memfs *fs, const char *path)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (fs->nodes[i].linked && strcmp(fs->nodes[i].name, path) == 0)
			return &fs->nodes[i];
	return NULL;
}

static int
mfs_dir_exists(memfs *fs, const char *path)
{
	for (int i = 0; i < fs->ndirs; i++)
		if (strcmp(fs->dirs[i], path) == 0)
			return 1;
	return 0;
}

static void
mnode_release(mnode *n)
{
	if (!n->linked && n->opens == 0)
	{
		free(n->buf);
		memset(n, 0, sizeof(*n));
	}
}

static int
mfs_open(ts_vfs *vfs, const char *path, int flags, ts_file **out)
{
	memfs	   *fs = (memfs *) vfs;
	mnode	   *n = mfs_find(fs, path);
	mhandle    *h;

	*out = NULL;
	if (strlen(path) >= MAX_NAME)
		return ENAMETOOLONG;
	if (n == NULL)
	{
		if (!(flags & TS_VFS_CREATE))
			return ENOENT;
		for (int i = 0; i < MAX_FILES && n == NULL; i++)
			if (!fs->nodes[i].linked && fs->nodes[i].opens == 0)
				n = &fs->nodes[i];
		if (n == NULL)
			return ENFILE;
		memset(n, 0, sizeof(*n));
		strcpy(n->name, path);
		n->linked = 1;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return ENOMEM;
	h->base.vfs = vfs;
	h->node = n;
	n->opens++;
	*out = &h->base;
	return 0;
}

static int
mfs_close(ts_file *f)
{
	mhandle    *h = (mhandle *) f;

	h->node->opens--;
	mnode_release(h->node);
	free(h);
	return 0;
}

static int
mfs_read(ts_file *f, void *buf, size_t n, uint64_t off)
{
	mnode	   *nd = ((mhandle *) f)->node;
	size_t		have = 0;

	if (off < nd->len)
	{
		have = nd->len - (size_t) off;
		if (have > n)
			have = n;
		memcpy(buf, nd->buf + off, have);
	}
	memset((uint8_t *) buf + have, 0, n - have);	/* past EOF: zeros */
	return 0;
}

static int
mnode_reserve(mnode *nd, uint64_t size)
{
	if (size > MAX_FILE_BYTES)
		return ENOSPC;
	if (size > nd->cap)
	{
		size_t		ncap = nd->cap ? nd->cap : 4 * TS_PAGE_SIZE;
		uint8_t    *nb;

		while (ncap < size)
			ncap *= 2;
		if ((nb = realloc(nd->buf, ncap)) == NULL)
			return ENOMEM;
		nd->buf = nb;
		nd->cap = ncap;
	}
	return 0;
}

static int
mfs_write(ts_file *f, const void *buf, size_t n, uint64_t off)
{
	mnode	   *nd = ((mhandle *) f)->node;
	int			rc;

	if (off > MAX_FILE_BYTES || n > MAX_FILE_BYTES - off)
		return ENOSPC;
	if ((rc = mnode_reserve(nd, off + n)) != 0)
		return rc;
	if (off > nd->len)
		memset(nd->buf + nd->len, 0, (size_t) off - nd->len);
	memcpy(nd->buf + off, buf, n);
	if (off + n > nd->len)
		nd->len = (size_t) (off + n);
	return 0;
}

static int
mfs_sync(ts_file *f)
{
	(void) f;
	return 0;
}

static int
mfs_truncate(ts_file *f, uint64_t size)
{
	mnode	   *nd = ((mhandle *) f)->node;
	int			rc;

	if ((rc = mnode_reserve(nd, size)) != 0)
		return rc;
	if (size > nd->len)
		memset(nd->buf + nd->len, 0, (size_t) size - nd->len);
	nd->len = (size_t) size;
	return 0;
}

static int
mfs_size(ts_file *f, uint64_t *size)
{
	*size = ((mhandle *) f)->node->len;
	return 0;
}

static int
mfs_rename(ts_vfs *vfs, const char *from, const char *to)
{
	memfs	   *fs = (memfs *) vfs;
	mnode	   *src = mfs_find(fs, from),
			   *dst = mfs_find(fs, to);

	if (src == NULL)
		return ENOENT;
	if (strlen(to) >= MAX_NAME)
		return ENAMETOOLONG;
	if (dst == src)
		return 0;
	if (dst)
	{
		dst->linked = 0;
		mnode_release(dst);
	}
	strcpy(src->name, to);
	return 0;
}

static int
mfs_unlink(ts_vfs *vfs, const char *path)
{
	mnode	   *n = mfs_find((memfs *) vfs, path);

	if (n == NULL)
		return ENOENT;
	n->linked = 0;
	mnode_release(n);
	return 0;
}

static int
mfs_mkdir(ts_vfs *vfs, const char *path)
{
	memfs	   *fs = (memfs *) vfs;

	if (mfs_dir_exists(fs, path))
		return 0;				/* EEXIST is success */
	if (fs->ndirs == MAX_DIRS)
		return ENOSPC;
	if (strlen(path) >= MAX_NAME)
		return ENAMETOOLONG;
	strcpy(fs->dirs[fs->ndirs++], path);
	return 0;
}

static int
mfs_sync_dir(ts_vfs *vfs, const char *path)
{
	/* the root always exists (a new environment's parent is synced) */
	return strcmp(path, "/") == 0 || mfs_dir_exists((memfs *) vfs, path) ? 0 : ENOENT;
}

static int
mfs_exists(ts_vfs *vfs, const char *path)
{
	return mfs_find((memfs *) vfs, path) != NULL || mfs_dir_exists((memfs *) vfs, path);
}

static int
mfs_lock(ts_file *f)
{
	(void) f;
	return 0;
}

static memfs live;				/* what the engine sees */

static void
mfs_init(memfs *fs)
{
	memset(fs, 0, sizeof(*fs));
	fs->vfs.open = mfs_open;
	fs->vfs.close = mfs_close;
	fs->vfs.read = mfs_read;
	fs->vfs.write = mfs_write;
	fs->vfs.writev = NULL;		/* optional: one write per buffer */
	fs->vfs.sync = mfs_sync;
	fs->vfs.truncate = mfs_truncate;
	fs->vfs.size = mfs_size;
	fs->vfs.rename = mfs_rename;
	fs->vfs.unlink = mfs_unlink;
	fs->vfs.mkdir = mfs_mkdir;
	fs->vfs.sync_dir = mfs_sync_dir;
	fs->vfs.exists = mfs_exists;
	fs->vfs.lock = mfs_lock;
}

/* Free every file (none may be open). */
static void
mfs_clear(memfs *fs)
{
	for (int i = 0; i < MAX_FILES; i++)
	{
		if (fs->nodes[i].opens != 0)
		{
			fprintf(stderr, "fuzz_page: %s is still open after ts_env_close\n",
					fs->nodes[i].name);
			abort();
		}
		free(fs->nodes[i].buf);
		memset(&fs->nodes[i], 0, sizeof(fs->nodes[i]));
	}
}

/* --------------------------------------------------- the snapshot */

static int	verbose;			/* FUZZ_PAGE_VERBOSE set: describe each input */

static const char *
type_name(int t)
{
	switch (t)
	{
		case TS_PT_META:
			return "meta";
		case TS_PT_BRANCH:
			return "branch";
		case TS_PT_LEAF:
			return "leaf";
		case TS_PT_OVERFLOW:
			return "overflow";
		default:
			return "unknown";
	}
}


typedef struct snapfile
{
	char		name[MAX_NAME];
	uint8_t    *buf;
	size_t		len;
} snapfile;

static snapfile snap[MAX_FILES];
static int	nsnap;
static char snap_dirs[MAX_DIRS][MAX_NAME];
static int	nsnap_dirs;
static size_t snap_pages;		/* pages of the data file */
static int	snap_data;			/* index of the data file in snap[] */

static void
fail(const char *what, int rc)
{
	fprintf(stderr, "fuzz_page: %s: %s (%d): %s\n", what, ts_strerror(rc), rc, ts_last_error());
	abort();
}

static void
check_code(const char *what, int rc)
{
	if (rc == 0 || (rc <= TS_NOTFOUND && rc >= TS_LAST_ERRCODE) || (rc > 0 && rc < 4096))
		return;
	fprintf(stderr, "fuzz_page: %s returned %d, neither 0, a TS_* code nor an errno\n",
			what, rc);
	abort();
}

static void
fuzz_options(ts_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	ts_options_init(opt);
	opt->vfs = &live.vfs;
	opt->cache_pages = 16;		/* tiny: pages are evicted and read again */
	opt->sync = 1;
	opt->checkpoint_interval_ms = 0;	/* no background timer */
}

static void
alpha_key(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "key%05d", i);
}

static void
fill_value(uint8_t *v, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t) (seed * 31 + i * 7);
}

static uint8_t checked[256];	/* page p: ts_env_check reports damage to it */

static void restore_snapshot(void);

/*
 * Which pages does ts_env_check verify?  (Pages in use; whether free pages
 * are read is the engine's choice.)  Ask the engine: damage each page's last
 * byte in turn, checksum left stale, and see whether open + check fail.
 */
static void
calibrate_checked_pages(void)
{
	for (size_t p = 2; p < snap_pages && p < sizeof(checked); p++)
	{
		ts_options	opt;
		ts_env	   *env;
		int			rc;

		restore_snapshot();
		live.nodes[snap_data].buf[p * TS_PAGE_SIZE + TS_PAGE_SIZE - 1] ^= 0x5A;
		fuzz_options(&opt);
		rc = ts_env_open(DIR_PATH, &opt, &env);
		if (rc == 0)
		{
			rc = ts_env_check(env);
			ts_env_close(env);
		}
		checked[p] = rc != 0;
		mfs_clear(&live);
	}
}

static void
build_snapshot(void)
{
	static uint8_t big[9000];
	uint8_t		val[64];
	char		key[32];
	ts_options	opt;
	ts_env	   *env;
	ts_txn	   *txn;
	ts_tree		alpha,
				beta,
				gamma;
	int			rc;

	mfs_init(&live);
	fuzz_options(&opt);
	opt.flags = TS_CREATE;
	if ((rc = ts_env_open(DIR_PATH, &opt, &env)) != 0)
		fail("build: ts_env_open", rc);

	if ((rc = ts_txn_begin(env, 0, &txn)) != 0 ||
		(rc = ts_tree_open(txn, "alpha", TS_CREATE, &alpha)) != 0 ||
		(rc = ts_tree_open(txn, "beta", TS_CREATE, &beta)) != 0 ||
		(rc = ts_tree_open(txn, "gamma", TS_CREATE, &gamma)) != 0)
		fail("build: first transaction", rc);
	for (int i = 0; i < 300; i++)
	{
		alpha_key(key, sizeof(key), i);
		fill_value(val, (size_t) (i % 61), (unsigned) i);
		if ((rc = ts_put(txn, alpha, key, strlen(key), val, (size_t) (i % 61), 0)) != 0)
			fail("build: ts_put", rc);
	}
	fill_value(big, sizeof(big), 999);
	if ((rc = ts_put(txn, alpha, "key00150x", 9, big, sizeof(big), 0)) != 0)
		fail("build: ts_put (overflow)", rc);
	for (int i = 0; i < 5; i++)
	{
		snprintf(key, sizeof(key), "b%d", i);
		if ((rc = ts_put(txn, beta, key, strlen(key), "v", 1, 0)) != 0)
			fail("build: ts_put", rc);
	}
	if ((rc = ts_txn_commit(txn)) != 0)
		fail("build: commit 1", rc);

	/* second commit: deletes and overwrites free pages (freelist) */
	if ((rc = ts_txn_begin(env, 0, &txn)) != 0)
		fail("build: ts_txn_begin", rc);
	for (int i = 0; i < 300; i += 7)
	{
		alpha_key(key, sizeof(key), i);
		if ((rc = ts_del(txn, alpha, key, strlen(key))) != 0)
			fail("build: ts_del", rc);
	}
	for (int i = 3; i < 300; i += 50)
	{
		alpha_key(key, sizeof(key), i);
		fill_value(val, 40, (unsigned) i + 1000);
		if ((rc = ts_put(txn, alpha, key, strlen(key), val, 40, 0)) != 0)
			fail("build: ts_put (overwrite)", rc);
	}
	if ((rc = ts_txn_commit(txn)) != 0)
		fail("build: commit 2", rc);
	if ((rc = ts_env_check(env)) != 0)
		fail("build: ts_env_check", rc);
	if ((rc = ts_env_close(env)) != 0)
		fail("build: ts_env_close", rc);

	/* keep every file (the data file, and whatever else the engine keeps) */
	nsnap = 0;
	snap_data = -1;
	for (int i = 0; i < MAX_FILES; i++)
		if (live.nodes[i].linked)
		{
			snapfile   *s = &snap[nsnap];

			strcpy(s->name, live.nodes[i].name);
			s->len = live.nodes[i].len;
			s->buf = malloc(s->len ? s->len : 1);
			if (!s->buf)
				abort();
			memcpy(s->buf, live.nodes[i].buf, s->len);
			if (strcmp(s->name, DATA_PATH) == 0)
				snap_data = nsnap;
			nsnap++;
		}
	memcpy(snap_dirs, live.dirs, sizeof(snap_dirs));
	nsnap_dirs = live.ndirs;
	if (snap_data < 0 || snap[snap_data].len % TS_PAGE_SIZE != 0 ||
		snap[snap_data].len < 3 * TS_PAGE_SIZE)
	{
		fprintf(stderr, "fuzz_page: build: no usable %s\n", DATA_PATH);
		abort();
	}
	snap_pages = snap[snap_data].len / TS_PAGE_SIZE;
	mfs_clear(&live);
	calibrate_checked_pages();
	if (verbose)
	{
		for (int i = 0; i < nsnap; i++)
			fprintf(stderr, "fuzz_page: snapshot file %s, %zu bytes\n", snap[i].name, snap[i].len);
		for (size_t p = 0; p < snap_pages; p++)
		{
			const uint8_t *pg = snap[snap_data].buf + p * TS_PAGE_SIZE;

			fprintf(stderr, "fuzz_page: page %2zu: %-8s txnid %llu nkeys %u%s\n", p,
					type_name(pg[PH_TYPE]), (unsigned long long) rd64(pg + PH_TXNID),
					rd16(pg + PH_NKEYS), checked[p] ? ", verified by ts_env_check" : "");
		}
	}
}

/* Seed inputs: every page unchanged, raw (mode 0) and re-sealed (mode 3). */
static void
write_seeds(const char *dir)
{
	static uint8_t in[2 + TS_PAGE_SIZE];

	for (size_t p = 0; p < snap_pages; p++)
		for (int mode = 0; mode < 4; mode += 3)
		{
			char		path[4096];
			FILE	   *f;

			in[0] = (uint8_t) p;
			in[1] = (uint8_t) mode;
			memcpy(in + 2, snap[snap_data].buf + p * TS_PAGE_SIZE, TS_PAGE_SIZE);
			snprintf(path, sizeof(path), "%s/page%02zu-mode%d", dir, p, mode);
			if ((f = fopen(path, "wb")) == NULL)
				continue;
			fwrite(in, 1, sizeof(in), f);
			fclose(f);
		}
}

/* Reset the live file system to the snapshot. */
static void
restore_snapshot(void)
{
	mfs_init(&live);
	for (int i = 0; i < nsnap; i++)
	{
		mnode	   *n = &live.nodes[i];

		strcpy(n->name, snap[i].name);
		n->linked = 1;
		n->cap = snap[i].len ? snap[i].len : 1;
		if ((n->buf = malloc(n->cap)) == NULL)
			abort();
		memcpy(n->buf, snap[i].buf, snap[i].len);
		n->len = snap[i].len;
	}
	memcpy(live.dirs, snap_dirs, sizeof(live.dirs));
	live.ndirs = nsnap_dirs;
}

/* ------------------------------------------------------- the workload */

static void
scan_tree(ts_txn *txn, ts_tree tree)
{
	ts_cursor  *cur;
	ts_slice	k,
				v;
	long		steps;
	int			rc;

	rc = ts_cursor_open(txn, tree, &cur);
	check_code("ts_cursor_open", rc);
	if (rc != 0)
		return;
	/* forward, whole tree */
	steps = 0;
	for (rc = ts_cursor_first(cur); rc == 0; rc = ts_cursor_next(cur))
	{
		check_code("ts_cursor_get", ts_cursor_get(cur, &k, &v));
		if (++steps > SCAN_CAP)
		{
			fprintf(stderr, "fuzz_page: forward scan does not end (%ld steps)\n", steps);
			abort();
		}
	}
	check_code("ts_cursor_first/next", rc);
	/* backward */
	steps = 0;
	for (rc = ts_cursor_last(cur); rc == 0; rc = ts_cursor_prev(cur))
	{
		check_code("ts_cursor_get", ts_cursor_get(cur, &k, &v));
		if (++steps > SCAN_CAP)
		{
			fprintf(stderr, "fuzz_page: backward scan does not end (%ld steps)\n", steps);
			abort();
		}
	}
	check_code("ts_cursor_last/prev", rc);
	/* seeks, and a few steps from each */
	{
		static const char *const seeks[] = {"", "key00100", "key00150x", "b2", "zzz", "key"};

		for (size_t i = 0; i < sizeof(seeks) / sizeof(seeks[0]); i++)
		{
			size_t		len = strlen(seeks[i]);

			if (len == 0)
				continue;
			rc = ts_cursor_seek(cur, seeks[i], len);
			check_code("ts_cursor_seek", rc);
			for (int s = 0; s < 3 && rc == 0; s++)
			{
				check_code("ts_cursor_get", ts_cursor_get(cur, &k, &v));
				rc = ts_cursor_next(cur);
				check_code("ts_cursor_next", rc);
			}
			rc = ts_cursor_seek_le(cur, seeks[i], len);
			check_code("ts_cursor_seek_le", rc);
			if (rc == 0)
			{
				check_code("ts_cursor_get", ts_cursor_get(cur, &k, &v));
				check_code("ts_cursor_prev", ts_cursor_prev(cur));
			}
		}
	}
	/* bounded and prefix scans */
	rc = ts_cursor_bounds(cur, "key00050", 8, "key00200", 8);
	check_code("ts_cursor_bounds", rc);
	steps = 0;
	for (rc = ts_cursor_first(cur); rc == 0 && steps < SCAN_CAP; rc = ts_cursor_next(cur))
		steps++;
	check_code("bounded scan", rc);
	rc = ts_cursor_prefix(cur, "key001", 6);
	check_code("ts_cursor_prefix", rc);
	steps = 0;
	for (rc = ts_cursor_last(cur); rc == 0 && steps < SCAN_CAP; rc = ts_cursor_prev(cur))
		steps++;
	check_code("prefix scan", rc);
	ts_cursor_close(cur);
}

static void
read_everything(ts_env *env)
{
	static const char *const trees[] = {"alpha", "beta", "gamma", "delta"};
	static const char *const gets[] = {"key00000", "key00001", "key00150", "key00150x",
	"key00299", "key00007", "b0", "b4", "nope"};
	ts_txn	   *txn;
	int			rc;

	rc = ts_txn_begin(env, TS_RDONLY, &txn);
	check_code("ts_txn_begin (read)", rc);
	if (rc != 0)
		return;
	for (size_t t = 0; t < sizeof(trees) / sizeof(trees[0]); t++)
	{
		ts_tree		tree;
		ts_treestat st;

		rc = ts_tree_open(txn, trees[t], 0, &tree);
		check_code("ts_tree_open", rc);
		if (rc != 0)
			continue;
		check_code("ts_tree_stat", ts_tree_stat(txn, tree, &st));
		for (size_t g = 0; g < sizeof(gets) / sizeof(gets[0]); g++)
		{
			ts_slice	v;

			check_code("ts_get", ts_get(txn, tree, gets[g], strlen(gets[g]), &v));
		}
		scan_tree(txn, tree);
	}
	ts_txn_abort(txn);
}

static void
write_something(ts_env *env)
{
	static uint8_t big[5000];
	ts_txn	   *txn;
	ts_tree		alpha,
				delta;
	int			rc;

	rc = ts_txn_begin(env, 0, &txn);
	check_code("ts_txn_begin (write)", rc);
	if (rc != 0)
		return;
	rc = ts_tree_open(txn, "alpha", 0, &alpha);
	check_code("ts_tree_open", rc);
	if (rc == 0)
	{
		char		key[32];

		for (int i = 0; i < 40; i++)
		{
			alpha_key(key, sizeof(key), i * 7 + 1);
			check_code("ts_put", ts_put(txn, alpha, key, strlen(key), "overwritten", 11, 0));
			snprintf(key, sizeof(key), "new%03d", i);
			check_code("ts_put", ts_put(txn, alpha, key, strlen(key), "inserted", 8, 0));
		}
		fill_value(big, sizeof(big), 5);
		check_code("ts_put", ts_put(txn, alpha, "big2", 4, big, sizeof(big), 0));
		check_code("ts_del", ts_del(txn, alpha, "key00002", 8));
		check_code("ts_del", ts_del(txn, alpha, "key00150x", 9));	/* overflow chain */
	}
	rc = ts_tree_open(txn, "delta", TS_CREATE, &delta);
	check_code("ts_tree_open (create)", rc);
	if (rc == 0)
		check_code("ts_put", ts_put(txn, delta, "d", 1, "", 0, 0));
	rc = ts_txn_commit(txn);
	check_code("ts_txn_commit", rc);
}

/* The stored checksum of page p of the data file is wrong. */
static int
bad_checksum(const uint8_t *page)
{
	return rd32(page + PH_CRC) != ts_crc32c(0, page + 4, TS_PAGE_SIZE - 4);
}

/* To stderr: the page replaced, and every byte changed (offset: old -> new). */
static void
describe_change(size_t pgno, int mode, const uint8_t *old, const uint8_t *new)
{
	int			n = 0;

	fprintf(stderr, "fuzz_page: page %zu (was a %s page, type %d; now type %d, nkeys %u, "
			"lower %u, upper %u), mode 0x%02x%s%s%s\n", pgno, type_name(old[PH_TYPE]),
			old[PH_TYPE], new[PH_TYPE], rd16(new + PH_NKEYS), rd16(new + PH_LOWER),
			rd16(new + PH_UPPER), mode, mode & MODE_RESEAL ? " re-sealed" : "",
			mode & MODE_FIXPGNO ? " pgno-fixed" : "", mode & MODE_PATCH ? " patch" : "");
	for (int i = 0; i < TS_PAGE_SIZE; i++)
		if (old[i] != new[i])
		{
			if (n++ < 64)
				fprintf(stderr, "  offset %4d (0x%03x): %02x -> %02x\n", i, i, old[i], new[i]);
		}
	fprintf(stderr, "fuzz_page: %d bytes changed%s\n", n, n > 64 ? " (first 64 shown)" : "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	built;
	static uint8_t newpage[TS_PAGE_SIZE];	/* the page as written into the file */
	ts_options	opt;
	ts_env	   *env;
	uint8_t    *page;
	size_t		pgno;
	int			mode,
				rc,
				changed;

	if (!built)
	{
		const char *seeds = getenv("FUZZ_PAGE_SEEDS");

		verbose = getenv("FUZZ_PAGE_VERBOSE") != NULL;

		build_snapshot();
		if (seeds)
			write_seeds(seeds);
		built = 1;
	}
	if (size < 2)
		return 0;
	pgno = data[0] % snap_pages;
	mode = data[1];
	data += 2;
	size -= 2;

	restore_snapshot();
	page = live.nodes[snap_data].buf + pgno * TS_PAGE_SIZE;
	if (mode & MODE_PATCH)
		for (size_t i = 0; i + 3 <= size; i += 3)
			page[(data[i] | data[i + 1] << 8) % TS_PAGE_SIZE] = data[i + 2];
	else
		memcpy(page, data, size < TS_PAGE_SIZE ? size : TS_PAGE_SIZE);
	if (mode & MODE_FIXPGNO)
		wr64(page + PH_PGNO, pgno);
	if (mode & MODE_RESEAL)
		wr32(page + PH_CRC, ts_crc32c(0, page + 4, TS_PAGE_SIZE - 4));
	changed = memcmp(page, snap[snap_data].buf + pgno * TS_PAGE_SIZE, TS_PAGE_SIZE) != 0;
	memcpy(newpage, page, TS_PAGE_SIZE);
	if (verbose)
		describe_change(pgno, mode, snap[snap_data].buf + pgno * TS_PAGE_SIZE, newpage);

	fuzz_options(&opt);
	rc = ts_env_open(DIR_PATH, &opt, &env);
	check_code("ts_env_open", rc);
	if (rc == 0)
	{
		ts_stat		st;

		read_everything(env);
		memset(&st, 0, sizeof(st));
		rc = ts_env_stat(env, &st);
		check_code("ts_env_stat", rc);
		rc = ts_env_check(env);
		check_code("ts_env_check", rc);
		if (rc == 0 && changed && pgno < sizeof(checked) && checked[pgno] &&
			bad_checksum(newpage))
		{
			fprintf(stderr, "fuzz_page: ts_env_check passed although page %zu, which it "
					"verifies, has a wrong checksum\n", pgno);
			abort();
		}
		write_something(env);
		read_everything(env);
		check_code("ts_env_close", ts_env_close(env));
	}
	mfs_clear(&live);
	return 0;
}
