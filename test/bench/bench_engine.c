/*
 * bench_engine.c
 *	  Side-by-side benchmark of the TreeStore engine, LMDB and SQLite, run in
 *	  one process on the same disk with the same keys, values, batching,
 *	  durability and (as far as each allows) cache size.
 *
 *	  Systems: treestore (the engine's default options), treestore_worker
 *	  (the options the PostgreSQL worker opens it with: background_checkpoints
 *	  = 1), LMDB, SQLite.
 *
 *	  Workloads, per system, in order: fillseq, fillrandom, readrandom (warm),
 *	  scan (warm), overwrite (R rounds); plus the on-disk size after
 *	  fillrandom and after the overwrite rounds.  The write workloads
 *	  (fillseq, fillrandom, overwrite) end by closing the environment inside
 *	  the timed section: the close's final checkpoint (treestore), WAL
 *	  checkpoint (SQLite) or sync is part of the figure, so no system can
 *	  leave work for after the clock stops; the environment is then reopened,
 *	  untimed, for what follows.  A table is printed at the
 *	  end, then "RESULT engine <name> <value>" lines.  Any error from any
 *	  system stops the run (exit 1) before any figure is printed.
 *
 *	  Build (from the repository root):
 *	    gcc -std=c11 -D_GNU_SOURCE -O2 -Iengine test/bench/bench_engine.c \
 *	        build/libtreestore.a -llmdb -lsqlite3 -lm
 *	  With -DBENCH_NO_TREESTORE only LMDB and SQLite are built and run.
 *
 *	  usage: bench_engine [--dir DIR] [--keys N] [--value-size V] [--batch B]
 *	                      [--rounds R] [--sync 0|1]
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sqlite3.h>
#ifndef BENCH_NO_TREESTORE
#include "treestore.h"
#endif

#define KEY_LEN			16
#define CACHE_MB		512
#define TS_CACHE_PAGES	131072		/* x 4096 bytes = 512 MB */
#define LMDB_MAP_SIZE	((size_t) 8 << 30)
#define READ_GROUP		1000		/* point reads per read transaction */
#define CHECK_EVERY		1000		/* compare value bytes on every Nth read */

/* Value content "rounds": fillseq 0, fillrandom 1, overwrite 2..R+1. */
#define ROUND_FILLSEQ	0
#define ROUND_FILLRAND	1

enum { W_FILLSEQ, W_FILLRANDOM, W_READRANDOM, W_SCAN, W_OVERWRITE, W_COUNT };
static const char *const wl_name[W_COUNT] =
	{"fillseq", "fillrandom", "readrandom", "scan", "overwrite"};

typedef struct bench_cfg
{
	const char *dir;
	size_t		keys;
	size_t		vsize;
	size_t		batch;
	unsigned	rounds;
	int			sync;
} bench_cfg;

typedef void (*scan_fn) (const void *k, size_t klen, const void *v, size_t vlen, void *arg);

/*
 * One system under test.  Every function either succeeds or reports the
 * system's own error message through die(), which exits.  get() returns 0
 * when the key is found (*v valid until the next call) and 1 when not.
 * flush may be NULL.
 */
typedef struct sys_ops
{
	const char *name;
	void	   *(*open) (const char *dir, const bench_cfg *cfg);	/* fresh, creates dir */
	void		(*begin) (void *h, int rdonly);
	void		(*end) (void *h);	/* commit a write batch / end a read batch */
	void		(*put) (void *h, const void *k, const void *v, size_t vlen);
	int			(*get) (void *h, const void *k, const void **v, size_t *vlen);
	void		(*scan) (void *h, scan_fn fn, void *arg);	/* full ordered scan */
	void		(*flush) (void *h);	/* before measuring the size on disk */
	void		(*note) (void *h, char *buf, size_t cap);	/* internal statistics */
	void		(*close) (void *h);
	const char *data_file;		/* measure only this file (NULL: the whole directory) */
} sys_ops;

static const char *cur_dir;		/* the system directory in use */

static void
die(const char *sys, const char *what, const char *fmt, ...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "\nbench_engine: %s: %s: ", sys, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_dir)
		fprintf(stderr, "bench_engine: data left in %s for inspection\n", cur_dir);
	fprintf(stderr, "bench_engine: run FAILED, no results reported\n");
	exit(1);
}

/* ---------------------------------------------------------------- helpers */

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Key i: big-endian i, then 8 bytes derived from i (key order = i order). */
static void
make_key(uint8_t *k, uint64_t i)
{
	uint64_t	x = i ^ 0x5DEECE66DULL,
				tail = splitmix64(&x);

	for (int b = 0; b < 8; b++)
	{
		k[b] = (uint8_t) (i >> (56 - 8 * b));
		k[8 + b] = (uint8_t) (tail >> (56 - 8 * b));
	}
}

/* Pseudo-random value of key i in a given round: no compression, no dedup. */
static void
make_value(uint8_t *v, size_t len, uint64_t i, unsigned round)
{
	uint64_t	x = i * 0xD1B54A32D192ED03ULL ^ ((uint64_t) round << 40);

	for (size_t off = 0; off < len; off += 8)
	{
		uint64_t	r = splitmix64(&x);

		memcpy(v + off, &r, len - off < 8 ? len - off : 8);
	}
}

/* A fixed-seed random permutation of 0..n-1 (Fisher-Yates). */
static void
make_perm(uint32_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint32_t) i;
	for (size_t i = n - 1; i > 0; i--)
	{
		size_t		j = (size_t) (splitmix64(&seed) % (i + 1));
		uint32_t	t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
}

static uint64_t du_total;

static int
ftw_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void) path, (void) ftw;
	if (type == FTW_F && S_ISREG(sb->st_mode))
		du_total += (uint64_t) sb->st_size;
	return 0;
}

static int
ftw_remove(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void) sb, (void) type, (void) ftw;
	if (remove(path) != 0)
		die("bench", "remove", "%s: %s", path, strerror(errno));
	return 0;
}

static void
rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0 && errno == ENOENT)
		return;
	if (nftw(path, ftw_remove, 16, FTW_DEPTH | FTW_PHYS) != 0)
		die("bench", "remove", "%s: %s", path, strerror(errno));
}

/* Sum of st_size of every regular file under path. */
static uint64_t
dir_bytes(const char *path)
{
	du_total = 0;
	if (nftw(path, ftw_entry, 16, FTW_PHYS) != 0)
		die("bench", "nftw", "%s: %s", path, strerror(errno));
	return du_total;
}

static void
make_dir(const char *sys, const char *path)
{
	if (mkdir(path, 0775) != 0 && errno != EEXIST)
		die(sys, "mkdir", "%s: %s", path, strerror(errno));
}

/* -------------------------------------------------------------- TreeStore */
#ifndef BENCH_NO_TREESTORE

typedef struct ts_h
{
	ts_env	   *env;
	ts_txn	   *txn;
	ts_tree		tree;
	int			rdonly;
} ts_h;

static void
ts_check(int rc, const char *what)
{
	if (rc != 0)
		die("treestore", what, "%s (%d): %s", ts_strerror(rc), rc, ts_last_error());
}

static void *
ts_open_opts(const char *dir, const bench_cfg *cfg, int background_checkpoints)
{
	ts_h	   *h = calloc(1, sizeof(*h));
	ts_options	opt;
	ts_txn	   *txn;

	if (!h)
		die("treestore", "calloc", "out of memory");
	ts_options_init(&opt);
	opt.cache_pages = TS_CACHE_PAGES;
	opt.sync = cfg->sync;
	opt.flags = TS_CREATE;
	opt.background_checkpoints = background_checkpoints;
	ts_check(ts_env_open(dir, &opt, &h->env), "ts_env_open");
	ts_check(ts_txn_begin(h->env, 0, &txn), "ts_txn_begin");
	ts_check(ts_tree_open(txn, "kv", TS_CREATE, &h->tree), "ts_tree_open");
	ts_check(ts_txn_commit(txn), "ts_txn_commit");
	return h;
}

/* The engine's default options. */
static void *
ts_b_open(const char *dir, const bench_cfg *cfg)
{
	return ts_open_opts(dir, cfg, 0);
}

/* The options src/worker.c (open_engine) sets that change how the engine
 * works under these workloads: background_checkpoints = 1 (the committer
 * that sees too many changed pages hands the checkpoint to the background
 * thread).  Cache and sync stay the benchmark's, the same for every
 * system. */
static void *
ts_w_open(const char *dir, const bench_cfg *cfg)
{
	return ts_open_opts(dir, cfg, 1);
}

static void
ts_b_begin(void *hp, int rdonly)
{
	ts_h	   *h = hp;

	h->rdonly = rdonly;
	ts_check(ts_txn_begin(h->env, rdonly ? TS_RDONLY : 0, &h->txn), "ts_txn_begin");
}

static void
ts_b_end(void *hp)
{
	ts_h	   *h = hp;

	if (h->rdonly)
		ts_txn_abort(h->txn);
	else
		ts_check(ts_txn_commit(h->txn), "ts_txn_commit");
	h->txn = NULL;
}

static void
ts_b_put(void *hp, const void *k, const void *v, size_t vlen)
{
	ts_h	   *h = hp;

	ts_check(ts_put(h->txn, h->tree, k, KEY_LEN, v, vlen, 0), "ts_put");
}

static int
ts_b_get(void *hp, const void *k, const void **v, size_t *vlen)
{
	ts_h	   *h = hp;
	ts_slice	val;
	int			rc = ts_get(h->txn, h->tree, k, KEY_LEN, &val);

	if (rc == TS_NOTFOUND)
		return 1;
	ts_check(rc, "ts_get");
	*v = val.data;
	*vlen = val.len;
	return 0;
}

static void
ts_b_scan(void *hp, scan_fn fn, void *arg)
{
	ts_h	   *h = hp;
	ts_txn	   *txn;
	ts_cursor  *cur;
	ts_slice	k, v;
	int			rc;

	ts_check(ts_txn_begin(h->env, TS_RDONLY, &txn), "ts_txn_begin");
	ts_check(ts_cursor_open(txn, h->tree, &cur), "ts_cursor_open");
	for (rc = ts_cursor_first(cur); rc == 0; rc = ts_cursor_next(cur))
	{
		ts_check(ts_cursor_get(cur, &k, &v), "ts_cursor_get");
		fn(k.data, k.len, v.data, v.len, arg);
	}
	if (rc != TS_NOTFOUND)
		ts_check(rc, "ts_cursor_first/next");
	ts_cursor_close(cur);
	ts_txn_abort(txn);
}

static void
ts_b_note(void *hp, char *buf, size_t cap)
{
	ts_stat		st;

	ts_check(ts_env_stat(((ts_h *) hp)->env, &st), "ts_env_stat");
	snprintf(buf, cap, "page_count %llu, free_pages %llu, file_bytes %llu, "
			 "WAL bytes %llu (segments kept after the checkpoint), checkpoints %llu, "
			 "cache hits %llu, misses %llu",
			 (unsigned long long) st.page_count, (unsigned long long) st.free_pages,
			 (unsigned long long) st.file_bytes, (unsigned long long) st.wal_bytes,
			 (unsigned long long) st.checkpoints, (unsigned long long) st.cache_hits,
			 (unsigned long long) st.cache_misses);
}

/* Like SQLite's wal_checkpoint(TRUNCATE) before measuring: write the state
 * into the data file; the data file is then what is measured. */
static void
ts_b_flush(void *hp)
{
	ts_check(ts_env_checkpoint(((ts_h *) hp)->env), "ts_env_checkpoint");
}

static void
ts_b_close(void *hp)
{
	ts_check(ts_env_close(((ts_h *) hp)->env), "ts_env_close");
	free(hp);
}

static const sys_ops treestore_ops = {
	"treestore", ts_b_open, ts_b_begin, ts_b_end, ts_b_put, ts_b_get,
	ts_b_scan, ts_b_flush, ts_b_note, ts_b_close, "treestore.db"
};

static const sys_ops treestore_worker_ops = {
	"treestore_worker", ts_w_open, ts_b_begin, ts_b_end, ts_b_put, ts_b_get,
	ts_b_scan, ts_b_flush, ts_b_note, ts_b_close, "treestore.db"
};
#endif							/* BENCH_NO_TREESTORE */

/* ------------------------------------------------------------------- LMDB */

typedef struct lm_h
{
	MDB_env    *env;
	MDB_dbi		dbi;
	MDB_txn    *txn;			/* the current write or read txn */
	MDB_txn    *rtxn;			/* the read txn, reset between uses */
} lm_h;

static void
lm_check(int rc, const char *what)
{
	if (rc != 0)
		die("lmdb", what, "%s (%d)", mdb_strerror(rc), rc);
}

static void *
lm_open(const char *dir, const bench_cfg *cfg)
{
	lm_h	   *h = calloc(1, sizeof(*h));
	MDB_txn    *txn;

	if (!h)
		die("lmdb", "calloc", "out of memory");
	make_dir("lmdb", dir);
	lm_check(mdb_env_create(&h->env), "mdb_env_create");
	lm_check(mdb_env_set_mapsize(h->env, LMDB_MAP_SIZE), "mdb_env_set_mapsize");
	lm_check(mdb_env_open(h->env, dir, cfg->sync ? 0 : MDB_NOSYNC | MDB_NOMETASYNC, 0664),
			 "mdb_env_open");
	lm_check(mdb_txn_begin(h->env, NULL, 0, &txn), "mdb_txn_begin");
	lm_check(mdb_dbi_open(txn, NULL, 0, &h->dbi), "mdb_dbi_open");
	lm_check(mdb_txn_commit(txn), "mdb_txn_commit");
	return h;
}

static void
lm_begin(void *hp, int rdonly)
{
	lm_h	   *h = hp;

	if (!rdonly)
		lm_check(mdb_txn_begin(h->env, NULL, 0, &h->txn), "mdb_txn_begin");
	else
	{
		if (h->rtxn)
			lm_check(mdb_txn_renew(h->rtxn), "mdb_txn_renew");
		else
			lm_check(mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->rtxn), "mdb_txn_begin");
		h->txn = h->rtxn;
	}
}

static void
lm_end(void *hp)
{
	lm_h	   *h = hp;

	if (h->txn == h->rtxn)
		mdb_txn_reset(h->rtxn);
	else
		lm_check(mdb_txn_commit(h->txn), "mdb_txn_commit");
	h->txn = NULL;
}

static void
lm_put(void *hp, const void *k, const void *v, size_t vlen)
{
	lm_h	   *h = hp;
	MDB_val		key = {KEY_LEN, (void *) k};
	MDB_val		val = {vlen, (void *) v};

	lm_check(mdb_put(h->txn, h->dbi, &key, &val, 0), "mdb_put");
}

static int
lm_get(void *hp, const void *k, const void **v, size_t *vlen)
{
	lm_h	   *h = hp;
	MDB_val		key = {KEY_LEN, (void *) k};
	MDB_val		val;
	int			rc = mdb_get(h->txn, h->dbi, &key, &val);

	if (rc == MDB_NOTFOUND)
		return 1;
	lm_check(rc, "mdb_get");
	*v = val.mv_data;
	*vlen = val.mv_size;
	return 0;
}

static void
lm_scan(void *hp, scan_fn fn, void *arg)
{
	lm_h	   *h = hp;
	MDB_cursor *cur;
	MDB_val		k, v;
	int			rc;

	lm_begin(h, 1);
	lm_check(mdb_cursor_open(h->txn, h->dbi, &cur), "mdb_cursor_open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		 rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
	if (rc != MDB_NOTFOUND)
		lm_check(rc, "mdb_cursor_get");
	mdb_cursor_close(cur);
	lm_end(h);
}

static void
lm_note(void *hp, char *buf, size_t cap)
{
	MDB_envinfo info;
	MDB_stat	st;

	lm_check(mdb_env_info(((lm_h *) hp)->env, &info), "mdb_env_info");
	lm_check(mdb_env_stat(((lm_h *) hp)->env, &st), "mdb_env_stat");
	snprintf(buf, cap, "last_pgno %zu, depth %u, branch pages %zu, leaf pages %zu",
			 info.me_last_pgno, st.ms_depth, st.ms_branch_pages, st.ms_leaf_pages);
}

static void
lm_close(void *hp)
{
	lm_h	   *h = hp;

	if (h->rtxn)
		mdb_txn_abort(h->rtxn);
	mdb_env_close(h->env);
	free(h);
}

static const sys_ops lmdb_ops = {
	"lmdb", lm_open, lm_begin, lm_end, lm_put, lm_get,
	lm_scan, NULL, lm_note, lm_close, NULL
};

/* ----------------------------------------------------------------- SQLite */

typedef struct sq_h
{
	sqlite3    *db;
	sqlite3_stmt *ins, *sel, *scan, *begin, *commit;
} sq_h;

static void
sq_fail(sq_h *h, const char *what, int rc)
{
	die("sqlite", what, "%s (%d)", sqlite3_errmsg(h->db), rc);
}

static sqlite3_stmt *
sq_prepare(sq_h *h, const char *sql)
{
	sqlite3_stmt *st;
	int			rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		sq_fail(h, sql, rc);
	return st;
}

/* Run a statement to completion; return its first row's first column. */
static long long
sq_run(sq_h *h, const char *sql, char *text, size_t cap)
{
	sqlite3_stmt *st = sq_prepare(h, sql);
	long long	v = 0;
	int			rc,
				rows = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (rows++ == 0)
		{
			if (text)
				snprintf(text, cap, "%s", (const char *) sqlite3_column_text(st, 0));
			v = sqlite3_column_int64(st, 0);
		}
	if (rc != SQLITE_DONE)
		sq_fail(h, sql, rc);
	sqlite3_finalize(st);
	return v;
}

static void
sq_step_done(sq_h *h, sqlite3_stmt *st, const char *what)
{
	int			rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		sq_fail(h, what, rc);
	sqlite3_reset(st);
}

static void *
sq_open(const char *dir, const bench_cfg *cfg)
{
	sq_h	   *h = calloc(1, sizeof(*h));
	char		path[PATH_MAX], mode[16] = "";

	if (!h)
		die("sqlite", "calloc", "out of memory");
	make_dir("sqlite", dir);
	snprintf(path, sizeof(path), "%s/kv.db", dir);
	if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		die("sqlite", "sqlite3_open_v2", "%s: %s", path,
			h->db ? sqlite3_errmsg(h->db) : "out of memory");
	sq_run(h, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
	if (strcmp(mode, "wal") != 0)
		die("sqlite", "PRAGMA journal_mode=WAL", "journal mode is '%s'", mode);
	sq_run(h, cfg->sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF", NULL, 0);
	sq_run(h, "PRAGMA cache_size=-524288", NULL, 0);	/* KiB: 512 MB */
	sq_run(h, "PRAGMA mmap_size=0", NULL, 0);
	sq_run(h, "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID", NULL, 0);
	h->ins = sq_prepare(h, "INSERT INTO kv(k, v) VALUES(?1, ?2) "
						"ON CONFLICT(k) DO UPDATE SET v = excluded.v");
	h->sel = sq_prepare(h, "SELECT v FROM kv WHERE k = ?1");
	h->scan = sq_prepare(h, "SELECT k, v FROM kv ORDER BY k");
	h->begin = sq_prepare(h, "BEGIN");
	h->commit = sq_prepare(h, "COMMIT");
	return h;
}

static void
sq_begin(void *hp, int rdonly)
{
	(void) rdonly;
	sq_step_done(hp, ((sq_h *) hp)->begin, "BEGIN");
}

static void
sq_end(void *hp)
{
	sq_h	   *h = hp;

	sqlite3_reset(h->sel);		/* finish the last point read */
	sq_step_done(h, h->commit, "COMMIT");
}

static void
sq_put(void *hp, const void *k, const void *v, size_t vlen)
{
	sq_h	   *h = hp;
	int			rc;

	if ((rc = sqlite3_bind_blob(h->ins, 1, k, KEY_LEN, SQLITE_STATIC)) != SQLITE_OK ||
		(rc = sqlite3_bind_blob(h->ins, 2, v, (int) vlen, SQLITE_STATIC)) != SQLITE_OK)
		sq_fail(h, "bind", rc);
	sq_step_done(h, h->ins, "INSERT");
}

static int
sq_get(void *hp, const void *k, const void **v, size_t *vlen)
{
	sq_h	   *h = hp;
	int			rc;

	sqlite3_reset(h->sel);
	if ((rc = sqlite3_bind_blob(h->sel, 1, k, KEY_LEN, SQLITE_STATIC)) != SQLITE_OK)
		sq_fail(h, "bind", rc);
	rc = sqlite3_step(h->sel);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		sq_fail(h, "SELECT", rc);
	*v = sqlite3_column_blob(h->sel, 0);
	*vlen = (size_t) sqlite3_column_bytes(h->sel, 0);
	return 0;
}

static void
sq_scan(void *hp, scan_fn fn, void *arg)
{
	sq_h	   *h = hp;
	sqlite3_stmt *st = h->scan;
	int			rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
	{
		const void *k = sqlite3_column_blob(st, 0);
		size_t		klen = (size_t) sqlite3_column_bytes(st, 0);
		const void *v = sqlite3_column_blob(st, 1);

		fn(k, klen, v, (size_t) sqlite3_column_bytes(st, 1), arg);
	}
	if (rc != SQLITE_DONE)
		sq_fail(h, "SELECT k, v FROM kv ORDER BY k", rc);
	sqlite3_reset(st);
}

static void
sq_flush(void *hp)
{
	/* the row is (busy, log frames, checkpointed frames): busy must be 0 */
	if (sq_run(hp, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0) != 0)
		die("sqlite", "PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint was blocked");
}

static void
sq_note(void *hp, char *buf, size_t cap)
{
	snprintf(buf, cap, "page_size %lld, page_count %lld, freelist_count %lld",
			 sq_run(hp, "PRAGMA page_size", NULL, 0), sq_run(hp, "PRAGMA page_count", NULL, 0),
			 sq_run(hp, "PRAGMA freelist_count", NULL, 0));
}

static void
sq_close(void *hp)
{
	sq_h	   *h = hp;
	int			rc;

	sqlite3_finalize(h->ins);
	sqlite3_finalize(h->sel);
	sqlite3_finalize(h->scan);
	sqlite3_finalize(h->begin);
	sqlite3_finalize(h->commit);
	if ((rc = sqlite3_close(h->db)) != SQLITE_OK)
		sq_fail(h, "sqlite3_close", rc);
	free(h);
}

static const sys_ops sqlite_ops = {
	"sqlite", sq_open, sq_begin, sq_end, sq_put, sq_get,
	sq_scan, sq_flush, sq_note, sq_close, NULL
};

/* -------------------------------------------------------------- workloads */

typedef struct sys_result
{
	double		secs[W_COUNT];
	double		ops[W_COUNT];	/* operations per second */
	uint64_t	size_fill;		/* bytes on disk after fillrandom */
	uint64_t	size_over;		/* bytes on disk after the overwrite rounds */
	char		note[256];
} sys_result;

/* Put every key, in `order` (NULL: key order), in transactions of B. */
static double
run_fill(const sys_ops *s, void *h, const bench_cfg *c, const uint32_t *order,
		 unsigned round, uint8_t *val)
{
	uint8_t		key[KEY_LEN];
	double		t0 = now_sec();

	for (size_t i = 0; i < c->keys; i += c->batch)
	{
		size_t		end = i + c->batch < c->keys ? i + c->batch : c->keys;

		s->begin(h, 0);
		for (size_t j = i; j < end; j++)
		{
			uint64_t	idx = order ? order[j] : j;

			make_key(key, idx);
			make_value(val, c->vsize, idx, round);
			s->put(h, key, val, c->vsize);
		}
		s->end(h);
	}
	return now_sec() - t0;
}

/*
 * Point-read the keys order[0..n) (order NULL: keys 0, stride, 2*stride...),
 * READ_GROUP reads per read transaction.  Every read must find its key with
 * a value of the right length; every check_every-th value is compared byte
 * for byte with the content written in `round`.
 */
static double
run_reads(const sys_ops *s, void *h, const bench_cfg *c, const uint32_t *order,
		  size_t n, size_t stride, unsigned round, size_t check_every, uint8_t *expect)
{
	uint8_t		key[KEY_LEN];
	double		t0 = now_sec();

	for (size_t i = 0; i < n; i += READ_GROUP)
	{
		size_t		end = i + READ_GROUP < n ? i + READ_GROUP : n;

		s->begin(h, 1);
		for (size_t j = i; j < end; j++)
		{
			uint64_t	idx = order ? order[j] : j * stride;
			const void *v;
			size_t		vlen;

			make_key(key, idx);
			if (s->get(h, key, &v, &vlen) != 0)
				die(s->name, "get", "key %llu not found", (unsigned long long) idx);
			if (vlen != c->vsize)
				die(s->name, "get", "key %llu: value length %zu, expected %zu",
					(unsigned long long) idx, vlen, c->vsize);
			if (j % check_every == 0)
			{
				make_value(expect, c->vsize, idx, round);
				if (memcmp(v, expect, c->vsize) != 0)
					die(s->name, "get", "key %llu: wrong value content",
						(unsigned long long) idx);
			}
		}
		s->end(h);
	}
	return now_sec() - t0;
}

typedef struct scan_state
{
	const char *sys;
	size_t		count;
	uint64_t	vbytes;
	uint8_t		prev[KEY_LEN];
} scan_state;

static void
scan_entry(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	scan_state *st = arg;

	(void) v;
	if (klen != KEY_LEN)
		die(st->sys, "scan", "entry %zu: key length %zu", st->count, klen);
	if (st->count > 0 && memcmp(st->prev, k, KEY_LEN) >= 0)
		die(st->sys, "scan", "entry %zu: key not strictly increasing", st->count);
	memcpy(st->prev, k, KEY_LEN);
	st->count++;
	st->vbytes += vlen;
}

/* Full ordered scan: N entries, N*V value bytes, keys strictly increasing. */
static double
run_scan(const sys_ops *s, void *h, const bench_cfg *c)
{
	scan_state	st = {s->name, 0, 0, {0}};
	double		t0 = now_sec(),
				secs;

	s->scan(h, scan_entry, &st);
	secs = now_sec() - t0;
	if (st.count != c->keys || st.vbytes != (uint64_t) c->keys * c->vsize)
		die(s->name, "scan", "%zu entries, %llu value bytes; expected %zu, %llu",
			st.count, (unsigned long long) st.vbytes, c->keys,
			(unsigned long long) c->keys * c->vsize);
	return secs;
}

static uint64_t
size_on_disk(const sys_ops *s, void *h, const char *dir)
{
	if (s->flush)
		s->flush(h);
	if (s->data_file)
	{
		char		path[PATH_MAX + 64];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", dir, s->data_file);
		if (stat(path, &sb) != 0)
			die(s->name, "stat", "%s: %s", path, strerror(errno));
		return (uint64_t) sb.st_size;
	}
	return dir_bytes(dir);
}

/* Warm reads and scans are timed three times; the median is reported. */
#define TIMED_RUNS 3

static double
median3(const double *t)
{
	double		a = t[0],
				b = t[1],
				c = t[2];

	if (a > b)
	{
		double		x = a;

		a = b;
		b = x;
	}
	if (b > c)
		b = c;
	return a > b ? a : b;
}

/*
 * Close the environment and return the seconds it took.  A write workload's
 * figure includes it: whatever a system defers (treestore's final
 * checkpoint, SQLite's WAL checkpoint on the last close, LMDB's sync) is
 * paid inside the timed section, not after the clock stops.
 */
static double
timed_close(const sys_ops *s, void *h)
{
	double		t0 = now_sec();

	s->close(h);
	return now_sec() - t0;
}

static void
run_system(const sys_ops *s, const bench_cfg *c, sys_result *r, uint32_t *perm)
{
	char		dir[PATH_MAX];
	uint8_t    *val = malloc(c->vsize);
	size_t		n = c->keys;
	void	   *h;

	if (!val)
		die("bench", "malloc", "out of memory");
	snprintf(dir, sizeof(dir), "%s/%s", c->dir, s->name);
	cur_dir = dir;
	rm_rf(dir);
	fprintf(stderr, "%s: fillseq", s->name);

	/* 1. fillseq (the close timed: see timed_close) */
	h = s->open(dir, c);
	r->secs[W_FILLSEQ] = run_fill(s, h, c, NULL, ROUND_FILLSEQ, val);
	r->secs[W_FILLSEQ] += timed_close(s, h);
	rm_rf(dir);

	/* 2. fillrandom, into a fresh database; closed (timed) and reopened */
	fprintf(stderr, ", fillrandom");
	h = s->open(dir, c);
	make_perm(perm, n, 1);
	r->secs[W_FILLRANDOM] = run_fill(s, h, c, perm, ROUND_FILLRAND, val);
	r->secs[W_FILLRANDOM] += timed_close(s, h);
	h = s->open(dir, c);
	r->size_fill = size_on_disk(s, h, dir);

	/* 3. readrandom: untimed warm-up reading every key once, then N timed */
	fprintf(stderr, ", readrandom");
	make_perm(perm, n, 2);
	run_reads(s, h, c, perm, n, 0, ROUND_FILLRAND, CHECK_EVERY, val);
	{
		double		t[TIMED_RUNS];

		for (int i = 0; i < TIMED_RUNS; i++)
		{
			make_perm(perm, n, 3 + (unsigned) i);
			t[i] = run_reads(s, h, c, perm, n, 0, ROUND_FILLRAND, CHECK_EVERY, val);
		}
		r->secs[W_READRANDOM] = median3(t);

		/* 4. scan, once untimed to warm up, then timed */
		fprintf(stderr, ", scan");
		run_scan(s, h, c);
		for (int i = 0; i < TIMED_RUNS; i++)
			t[i] = run_scan(s, h, c);
		r->secs[W_SCAN] = median3(t);
	}

	/* 5. overwrite: R rounds, each in a new random order with new values */
	fprintf(stderr, ", overwrite");
	for (unsigned round = 0; round < c->rounds; round++)
	{
		make_perm(perm, n, 100 + round);
		r->secs[W_OVERWRITE] += run_fill(s, h, c, perm, ROUND_FILLRAND + 1 + round, val);
	}
	s->note(h, r->note, sizeof(r->note));	/* the run's counters, before the close */
	r->secs[W_OVERWRITE] += timed_close(s, h);
	h = s->open(dir, c);
	r->size_over = size_on_disk(s, h, dir);

	/* untimed check: every 100th key holds the last round's value */
	run_reads(s, h, c, NULL, (n + 99) / 100, 100, ROUND_FILLRAND + c->rounds, 1, val);
	s->close(h);
	rm_rf(dir);
	cur_dir = NULL;
	fprintf(stderr, ": done\n");

	for (int w = 0; w < W_COUNT; w++)
		r->ops[w] = (double) n * (w == W_OVERWRITE ? c->rounds : 1) / r->secs[w];
	free(val);
}

/* ------------------------------------------------------------------- main */

static const sys_ops *const systems[] = {
#ifndef BENCH_NO_TREESTORE
	&treestore_ops, &treestore_worker_ops,
#endif
	&lmdb_ops, &sqlite_ops
};
#define NSYS (sizeof(systems) / sizeof(systems[0]))

static void
usage(void)
{
	fprintf(stderr, "usage: bench_engine [--dir DIR] [--keys N] [--value-size V] "
			"[--batch B] [--rounds R] [--sync 0|1]\n");
	exit(2);
}

static unsigned long long
parse_num(const char *s, unsigned long long min, unsigned long long max)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
	{
		fprintf(stderr, "bench_engine: bad number '%s' (range %llu..%llu)\n", s, min, max);
		usage();
	}
	return v;
}

static void
print_header(const bench_cfg *c, const char *absdir)
{
	printf("bench_engine: TreeStore vs LMDB %d.%d.%d vs SQLite %s\n", MDB_VERSION_MAJOR,
		   MDB_VERSION_MINOR, MDB_VERSION_PATCH, sqlite3_libversion());
	printf("  N=%zu keys of %d bytes, values of %zu bytes (pseudo-random), "
		   "live data N*(16+V) = %.1f MB\n",
		   c->keys, KEY_LEN, c->vsize, c->keys * (double) (KEY_LEN + c->vsize) / 1e6);
	printf("  batch: %zu puts per write transaction; %d point reads per read "
		   "transaction; overwrite: %u rounds\n", c->batch, READ_GROUP, c->rounds);
	printf("  disk: %s (a subdirectory per system, deleted before and after)\n", absdir);
	if (c->sync)
		printf("  sync=1, durable at every commit: treestore sync=1 (fdatasync at commit), "
			   "lmdb default env flags (fsync at commit), sqlite synchronous=FULL\n");
	else
		printf("  sync=0, no fsync (a crash may lose recent commits): treestore sync=0, "
			   "lmdb MDB_NOSYNC|MDB_NOMETASYNC, sqlite synchronous=OFF\n");
	printf("  cache: treestore cache_pages=%d (%d MB); sqlite cache_size=-524288 (%d MB), "
		   "mmap_size=0; lmdb: OS page cache\n", TS_CACHE_PAGES, CACHE_MB, CACHE_MB);
	printf("  lmdb: map size %zu GB, no MDB_WRITEMAP/MDB_NORDAHEAD/MDB_APPEND; sqlite: "
		   "WITHOUT ROWID, journal_mode=WAL, prepared upsert\n", LMDB_MAP_SIZE >> 30);
	printf("  warm: the timed readrandom follows an untimed read of every key, the timed\n"
		   "        scan an untimed scan: the data is in each system's cache (lmdb: the\n"
		   "        OS page cache); sizes: st_size of all files in the system's directory\n"
		   "        (sqlite after wal_checkpoint(TRUNCATE), with -wal and -shm; treestore:\n"
		   "        its data file after ts_env_checkpoint; its log is in the stats line)\n"
		   "  timing: readrandom and scan run %d times each, the median is reported;\n"
		   "        fills and overwrite rounds run once; fillseq, fillrandom and overwrite\n"
		   "        include closing the environment (treestore: its final checkpoint;\n"
		   "        sqlite: the last close's WAL checkpoint), then it is reopened untimed\n"
		   "  treestore_worker: treestore with the PostgreSQL worker's engine options\n"
		   "        (background_checkpoints=1); cache and sync as above\n\n", TIMED_RUNS);
	fflush(stdout);
}

static void
result(const char *sys, const char *what, const char *sfx, double v)
{
	printf("RESULT engine %s%s%s%s %.3f\n", sys, *sys ? "_" : "", what, sfx, v);
}

int
main(int argc, char **argv)
{
	bench_cfg	cfg = {"./bench-data", 1000000, 100, 1000, 10, 0};
	sys_result	res[NSYS];
	char		absdir[PATH_MAX];
	uint32_t   *perm;
	double		live;
	int			made_dir;

	for (int i = 1; i < argc; i += 2)
	{
		const char *a = argv[i],
				   *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(a, "--dir") == 0)
			cfg.dir = v;
		else if (strcmp(a, "--keys") == 0)
			cfg.keys = parse_num(v, 1, UINT32_MAX);
		else if (strcmp(a, "--value-size") == 0)
			cfg.vsize = parse_num(v, 1, 1 << 20);
		else if (strcmp(a, "--batch") == 0)
			cfg.batch = parse_num(v, 1, 1000000000);
		else if (strcmp(a, "--rounds") == 0)
			cfg.rounds = parse_num(v, 1, 1000);
		else if (strcmp(a, "--sync") == 0)
			cfg.sync = (int) parse_num(v, 0, 1);
		else
			usage();
	}

	made_dir = mkdir(cfg.dir, 0775) == 0;
	if (!made_dir && errno != EEXIST)
		die("bench", "mkdir", "%s: %s", cfg.dir, strerror(errno));
	if (!realpath(cfg.dir, absdir))
		die("bench", "realpath", "%s: %s", cfg.dir, strerror(errno));
	if (!(perm = malloc(cfg.keys * sizeof(uint32_t))))
		die("bench", "malloc", "out of memory");

	print_header(&cfg, absdir);
	memset(res, 0, sizeof(res));
	for (size_t s = 0; s < NSYS; s++)
		run_system(systems[s], &cfg, &res[s], perm);
	free(perm);
	if (made_dir)
		rmdir(cfg.dir);

	printf("%-16s %-12s %14s %10s\n", "system", "workload", "ops/s", "seconds");
	for (size_t s = 0; s < NSYS; s++)
		for (int w = 0; w < W_COUNT; w++)
			printf("%-16s %-12s %14.0f %10.3f\n", systems[s]->name, wl_name[w],
				   res[s].ops[w], res[s].secs[w]);
	printf("(overwrite: ops = N x rounds)\n\n");

	live = (double) cfg.keys * (KEY_LEN + cfg.vsize);
	printf("%-16s %16s %8s %20s %8s\n", "system", "MB after fillrand", "amp",
		   "MB after overwrite", "amp");
	for (size_t s = 0; s < NSYS; s++)
		printf("%-16s %16.1f %8.3f %20.1f %8.3f\n", systems[s]->name,
			   res[s].size_fill / 1e6, res[s].size_fill / live,
			   res[s].size_over / 1e6, res[s].size_over / live);
	printf("(amp = bytes on disk / live data N*(16+V) = %.0f bytes)\n", live);
	for (size_t s = 0; s < NSYS; s++)
		printf("%s after the overwrite rounds: %s\n", systems[s]->name, res[s].note);
	printf("\n");

	/* Machine-readable: raw throughputs, ours / peer ratios, space. */
	for (size_t s = 0; s < NSYS; s++)
		for (int w = 0; w < W_COUNT; w++)
			result(systems[s]->name, wl_name[w], "_ops", res[s].ops[w]);
#ifndef BENCH_NO_TREESTORE
	/* treestore: <workload>_vs_<peer>; treestore_worker:
	 * treestore_worker_<workload>_vs_<peer> */
	for (size_t t = 0; t < NSYS; t++)
	{
		if (strncmp(systems[t]->name, "treestore", 9) != 0)
			continue;
		for (size_t s = 0; s < NSYS; s++)
		{
			if (strncmp(systems[s]->name, "treestore", 9) == 0)
				continue;
			for (int w = 0; w < W_COUNT; w++)
			{
				char		sfx[32];

				snprintf(sfx, sizeof(sfx), "_vs_%s", systems[s]->name);
				result(strcmp(systems[t]->name, "treestore") == 0 ? "" : systems[t]->name,
					   wl_name[w], sfx, res[t].ops[w] / res[s].ops[w]);
			}
		}
	}
#endif
	for (size_t s = 0; s < NSYS; s++)
	{
		char		sfx[32] = "";

		if (strcmp(systems[s]->name, "treestore") != 0)
			snprintf(sfx, sizeof(sfx), "_%s", systems[s]->name);
		result("", "space_amplification", sfx, res[s].size_over / live);
		result("", "space_amplification_fillrandom", sfx, res[s].size_fill / live);
	}
	return 0;
}
