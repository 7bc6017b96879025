/*
 * crashvfs.h
 *	  An in-memory VFS that simulates a disk with a volatile write cache, for
 *	  crash tests (header-only; in the spirit of SQLite's crash VFS,
 *	  src/test6.c, and LevelDB's fault-injection Env).
 *
 *	      ts_vfs   *vfs = crashvfs_new();
 *	      crashvfs *cv = CRASHVFS(vfs);
 *	      vfs->mkdir(vfs, "/db"); vfs->sync_dir(vfs, "/");
 *	      opt.vfs = vfs;  ...open the environment, work...
 *	      crashvfs_arm(cv, CRASHVFS_SYNC, 7, CRASHVFS_BEFORE);
 *	      ...work until an operation fails (crashvfs_frozen(cv))...
 *	      ...abort the transactions, close the environment...
 *	      crashvfs_crash(cv, seed);		// power loss, then power back on
 *	      ...ts_env_open again on the same vfs: recovery...
 *	      crashvfs_free(vfs);			// after every file is closed
 *
 *	  THE MODEL
 *	  - Files live in memory.  Every file (inode) has its durable contents
 *	    and the list of writes and truncates made since its last sync, in
 *	    order; reads see the current contents (durable + pending, in order).
 *	  - sync (fdatasync) makes every pending write and truncate of that file
 *	    durable: its contents and its size, not its name.
 *	  - Names: creating a file (open with TS_VFS_CREATE), mkdir, rename and
 *	    unlink change the current namespace at once, and are pending in the
 *	    directory that holds the name until sync_dir of that directory makes
 *	    them durable, in order.  rename works within one directory (else
 *	    EXDEV).  The root ("/", "." or "") always exists; mkdir creates one
 *	    level (its parent must exist; an existing directory is success).
 *	  - crashvfs_crash(cv, seed) is a power loss.  It picks a profile from
 *	    the seed (or cv->profile when set):
 *	      MIXED     each pending write, independently: dropped (30%), kept
 *	                (30%), torn (25%), garbage (15%); each pending truncate
 *	                and each pending directory operation applied or not (50%);
 *	      DROP_ALL  every pending write, truncate and directory operation is
 *	                lost (LevelDB's fault-injection Env);
 *	      KEEP_ALL  every pending operation reaches the disk (a process kill
 *	                without power loss);
 *	      PREFIX    operations reach the disk in the order they were made up
 *	                to a random point; the one at the cut is torn (if a write)
 *	                and everything after it is lost (ordered writeback).
 *	    Outcomes of a write, by 512-byte sector of the file (a write covers
 *	    the parts of the aligned sectors it touches, a "piece" each):
 *	      dropped   nothing of it reaches the disk;
 *	      kept      all of it;
 *	      torn      each piece independently: the new bytes or the old ones
 *	                (past the old end of the file, "old" reads as zeros);
 *	      garbage   each piece independently: random bytes (50%), new (25%)
 *	                or old (25%); at least one piece is random bytes.
 *	    A write that reaches the disk in any part extends the file to the
 *	    end of its last piece that reached it (a torn write whose last pieces
 *	    were dropped extends it less).  Pending operations are applied in
 *	    the order they were made, each to the outcome of the earlier ones.
 *	    cv->write_outcome (when >= 0) forces one outcome for every write.
 *	  - Directory operations after a crash, each one applied or rolled back
 *	    onto the durable namespace, in order: a file created but not
 *	    dir-synced may vanish (its name, not its contents: a synced inode
 *	    that a rename made reachable keeps its data); a rename may not have
 *	    happened (the old name stays, the new one keeps its old file); an
 *	    unlink may be undone.  A rename or unlink applies to the inode it
 *	    named: if the name is bound to another inode by then, only the
 *	    rename's new name is set.  Names whose directory vanished vanish too.
 *	  - After crashvfs_crash everything is durable (nothing pending), every
 *	    file handle opened before it is dead (every call on it fails with
 *	    EIO but close, which frees it), locks are released, and the VFS
 *	    works again.  Files no name reaches are freed.  Same state and same
 *	    seed: same result (determinism; the randomness is a splitmix64 of
 *	    the seed).
 *
 *	  THE CRASH POINT
 *	  - crashvfs_arm(cv, kind, n, when): the n-th call (n >= 1, counted
 *	    from now) of kind CRASHVFS_WRITE (write and writev), CRASHVFS_SYNC
 *	    (file sync) or CRASHVFS_SYNC_DIR is the last operation that happens:
 *	      CRASHVFS_BEFORE     it fails with EIO and has no effect;
 *	      CRASHVFS_AFTER      it takes effect and returns success;
 *	      CRASHVFS_AFTER_EIO  it takes effect but returns EIO (the device
 *	                          did it, the caller never learned);
 *	    and from then on every operation fails with EIO (frozen), except
 *	    close (which frees the handle) and exists (which cannot fail), until
 *	    crashvfs_crash().  crashvfs_hit(cv) tells whether it fired.
 *	    crashvfs_freeze(cv) freezes at once.
 *	  - Failures record "crashvfs: <op> after the crash point" for
 *	    ts_last_error() (link error.c, in the engine library).
 *
 *	  OTHER RULES (vfs.h): read returns exactly n bytes, zero-filling past
 *	  the end of the file; write past the end extends the file with zeros
 *	  in between; truncate may shrink or extend (zeros); lock is exclusive
 *	  per file among open handles (EWOULDBLOCK); open of a missing file
 *	  without TS_VFS_CREATE, or in a missing directory, is ENOENT.
 *
 *	  Counters (cv->st, read under crashvfs_stats) count operations that
 *	  took effect; the crash outcome counters add up over all crashes.
 *	  Every entry point takes one mutex: the VFS is thread-safe.
 */
#ifndef TS_TEST_CRASHVFS_H
#define TS_TEST_CRASHVFS_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "vfs.h"

#define CRASHVFS_SECTOR 512

/* crash point kinds */
#define CRASHVFS_WRITE		1
#define CRASHVFS_SYNC		2
#define CRASHVFS_SYNC_DIR	3

/* when the crash point freezes the disk, relative to its operation */
#define CRASHVFS_BEFORE		0
#define CRASHVFS_AFTER		1
#define CRASHVFS_AFTER_EIO	2

/* crash profiles (cv->profile; -1: chosen from the seed) */
#define CRASHVFS_MIXED		0
#define CRASHVFS_DROP_ALL	1
#define CRASHVFS_KEEP_ALL	2
#define CRASHVFS_PREFIX		3
#define CRASHVFS_NPROFILES	4

/* write outcomes (cv->write_outcome; -1: random) */
#define CRASHVFS_DROP		0
#define CRASHVFS_KEEP		1
#define CRASHVFS_TORN		2
#define CRASHVFS_GARBAGE	3

typedef struct crashvfs_stats
{
	/* operations that took effect */
	long		opens;
	long		reads;
	long		writes;			/* write and writev calls */
	long		syncs;
	long		dir_syncs;
	long		truncates;
	long		renames;
	long		unlinks;
	long		mkdirs;
	long		bytes_written;
	long		eio;			/* calls failed because of the crash point */
	/* crashes and their outcomes, added up */
	long		crashes;
	long		profile[CRASHVFS_NPROFILES];
	long		w_dropped;
	long		w_kept;
	long		w_torn;
	long		w_garbage;
	long		trunc_applied;
	long		trunc_dropped;
	long		dir_applied;
	long		dir_rolled_back;
} crashvfs_stats;

typedef struct cv_buf
{
	uint8_t    *p;
	uint64_t	size;
	uint64_t	cap;
} cv_buf;

#define CV_OP_WRITE	1
#define CV_OP_TRUNC	2

typedef struct cv_op
{
	int			kind;
	uint64_t	seq;			/* global order of pending operations */
	uint64_t	off;			/* WRITE: offset; TRUNC: new size */
	size_t		len;
	uint8_t    *data;
} cv_op;

typedef struct cv_inode
{
	cv_buf		cur;			/* what reads see */
	cv_buf		dur;			/* what survives a crash for sure */
	cv_op	   *ops;			/* pending since the last sync */
	size_t		nops;
	size_t		capops;
	void	   *lock_holder;	/* the cv_file holding the lock */
	int			mark;
	struct cv_inode *next;		/* every inode */
} cv_inode;

typedef struct cv_name
{
	char	   *path;
	cv_inode   *ino;			/* NULL for a directory */
	int			isdir;
} cv_name;

typedef struct cv_map
{
	cv_name    *v;
	size_t		n;
	size_t		cap;
} cv_map;

#define CV_D_CREATE	1			/* a file (ino) or a directory (isdir) */
#define CV_D_UNLINK	2
#define CV_D_RENAME	3

typedef struct cv_dirop
{
	int			kind;
	uint64_t	seq;
	char	   *parent;
	char	   *a;				/* the name; RENAME: from */
	char	   *b;				/* RENAME: to */
	cv_inode   *ino;
	int			isdir;
} cv_dirop;

typedef struct crashvfs
{
	ts_vfs		vfs;			/* must be first: CRASHVFS() casts back */
	pthread_mutex_t mu;
	cv_inode   *inodes;
	cv_map		names;			/* current namespace */
	cv_map		dnames;			/* durable namespace */
	cv_dirop   *dirops;			/* pending directory operations, in order */
	size_t		ndirops;
	size_t		capdirops;
	uint64_t	seq;
	uint64_t	gen;			/* handles of an older generation are dead */

	/* crash point */
	int			arm_kind;
	long		arm_left;
	int			arm_when;
	int			hit;
	int			hit_kind;
	int			frozen;

	/* knobs for crashvfs_crash (set directly) */
	int			profile;		/* -1 (default): chosen from the seed */
	int			write_outcome;	/* -1 (default): by profile */

	crashvfs_stats st;
} crashvfs;

typedef struct cv_file
{
	ts_file		base;			/* must be first */
	cv_inode   *ino;
	uint64_t	gen;
} cv_file;

#define CRASHVFS(v) ((crashvfs *) (v))

/* ---------- small helpers ---------- */

static inline uint64_t
cv_rand(uint64_t *s)
{
	uint64_t	z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0..n-1 */
static inline uint64_t
cv_below(uint64_t *s, uint64_t n)
{
	return n ? cv_rand(s) % n : 0;
}

static inline void *
cv_xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();				/* a test helper: out of memory ends the test */
	return p;
}

static inline void *
cv_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

/* A normalized copy: no repeated or trailing slashes. */
static inline char *
cv_norm(const char *path)
{
	size_t		n = strlen(path);
	char	   *out = cv_xmalloc(n + 1);
	size_t		j = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (path[i] == '/' && j > 0 && out[j - 1] == '/')
			continue;
		out[j++] = path[i];
	}
	while (j > 1 && out[j - 1] == '/')
		j--;
	out[j] = '\0';
	return out;
}

static inline int
cv_is_root(const char *p)
{
	return p[0] == '\0' || strcmp(p, "/") == 0 || strcmp(p, ".") == 0;
}

/* The directory holding a normalized path (malloc'ed). */
static inline char *
cv_parent(const char *p)
{
	const char *slash = strrchr(p, '/');
	char	   *out;

	if (slash == NULL)
	{
		out = cv_xmalloc(2);
		strcpy(out, ".");
		return out;
	}
	if (slash == p)
	{
		out = cv_xmalloc(2);
		strcpy(out, "/");
		return out;
	}
	out = cv_xmalloc((size_t) (slash - p) + 1);
	memcpy(out, p, (size_t) (slash - p));
	out[slash - p] = '\0';
	return out;
}

static inline void
cv_buf_reserve(cv_buf *b, uint64_t size)
{
	if (size <= b->cap)
		return;
	uint64_t	cap = b->cap ? b->cap : 4096;

	while (cap < size)
		cap *= 2;
	b->p = cv_xrealloc(b->p, (size_t) cap);
	b->cap = cap;
}

/* Set the size; new bytes are zeros. */
static inline void
cv_buf_resize(cv_buf *b, uint64_t size)
{
	if (size > b->size)
	{
		cv_buf_reserve(b, size);
		memset(b->p + b->size, 0, (size_t) (size - b->size));
	}
	b->size = size;
}

static inline void
cv_buf_write(cv_buf *b, uint64_t off, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (off + len > b->size)
		cv_buf_resize(b, off + len);
	memcpy(b->p + off, data, len);
}

static inline void
cv_buf_copy(cv_buf *dst, const cv_buf *src)
{
	cv_buf_reserve(dst, src->size);
	if (src->size)
		memcpy(dst->p, src->p, (size_t) src->size);
	dst->size = src->size;
}

/* ---------- namespaces ---------- */

static inline long
cv_map_find(const cv_map *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].path, path) == 0)
			return (long) i;
	return -1;
}

static inline void
cv_map_set(cv_map *m, const char *path, cv_inode *ino, int isdir)
{
	long		i = cv_map_find(m, path);

	if (i >= 0)
	{
		m->v[i].ino = ino;
		m->v[i].isdir = isdir;
		return;
	}
	if (m->n == m->cap)
	{
		m->cap = m->cap ? m->cap * 2 : 16;
		m->v = cv_xrealloc(m->v, m->cap * sizeof(cv_name));
	}
	m->v[m->n].path = cv_xmalloc(strlen(path) + 1);
	strcpy(m->v[m->n].path, path);
	m->v[m->n].ino = ino;
	m->v[m->n].isdir = isdir;
	m->n++;
}

static inline void
cv_map_del_at(cv_map *m, size_t i)
{
	free(m->v[i].path);
	m->v[i] = m->v[m->n - 1];
	m->n--;
}

static inline void
cv_map_clear(cv_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	m->n = 0;
}

static inline void
cv_map_copy(cv_map *dst, const cv_map *src)
{
	cv_map_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		cv_map_set(dst, src->v[i].path, src->v[i].ino, src->v[i].isdir);
}

/* Does directory `dir` (normalized) exist in m? */
static inline int
cv_map_isdir(const cv_map *m, const char *dir)
{
	long		i;

	if (cv_is_root(dir))
		return 1;
	i = cv_map_find(m, dir);
	return i >= 0 && m->v[i].isdir;
}

static inline void
cv_dirop_apply(cv_map *m, const cv_dirop *d)
{
	long		i;

	switch (d->kind)
	{
		case CV_D_CREATE:
			cv_map_set(m, d->a, d->ino, d->isdir);
			break;
		case CV_D_UNLINK:
			i = cv_map_find(m, d->a);
			if (i >= 0 && !m->v[i].isdir && m->v[i].ino == d->ino)
				cv_map_del_at(m, (size_t) i);
			break;
		case CV_D_RENAME:
			i = cv_map_find(m, d->a);
			if (i >= 0 && !m->v[i].isdir && m->v[i].ino == d->ino)
				cv_map_del_at(m, (size_t) i);
			cv_map_set(m, d->b, d->ino, 0);
			break;
	}
}

/* Remove names whose directory is missing, until none is left. */
static inline void
cv_map_prune(cv_map *m)
{
	int			changed = 1;

	while (changed)
	{
		changed = 0;
		for (size_t i = 0; i < m->n;)
		{
			char	   *par = cv_parent(m->v[i].path);
			int			ok = cv_map_isdir(m, par);

			free(par);
			if (!ok)
			{
				cv_map_del_at(m, i);
				changed = 1;
			}
			else
				i++;
		}
	}
}

static inline void
cv_dirop_free(cv_dirop *d)
{
	free(d->parent);
	free(d->a);
	free(d->b);
}

/* Record a pending directory operation (takes the strings). */
static inline void
cv_dirop_add(crashvfs *cv, int kind, char *parent, char *a, char *b, cv_inode *ino, int isdir)
{
	cv_dirop   *d;

	if (cv->ndirops == cv->capdirops)
	{
		cv->capdirops = cv->capdirops ? cv->capdirops * 2 : 16;
		cv->dirops = cv_xrealloc(cv->dirops, cv->capdirops * sizeof(cv_dirop));
	}
	d = &cv->dirops[cv->ndirops++];
	d->kind = kind;
	d->seq = ++cv->seq;
	d->parent = parent;
	d->a = a;
	d->b = b;
	d->ino = ino;
	d->isdir = isdir;
}

/* ---------- inodes ---------- */

static inline cv_inode *
cv_inode_new(crashvfs *cv)
{
	cv_inode   *ino = calloc(1, sizeof(*ino));

	if (ino == NULL)
		abort();
	ino->next = cv->inodes;
	cv->inodes = ino;
	return ino;
}

static inline void
cv_inode_free_ops(cv_inode *ino)
{
	for (size_t i = 0; i < ino->nops; i++)
		free(ino->ops[i].data);
	ino->nops = 0;
}

static inline void
cv_inode_free(cv_inode *ino)
{
	cv_inode_free_ops(ino);
	free(ino->ops);
	free(ino->cur.p);
	free(ino->dur.p);
	free(ino);
}

/* Append a pending operation; a WRITE takes `data` (malloc'ed). */
static inline void
cv_inode_add_op(crashvfs *cv, cv_inode *ino, int kind, uint64_t off, uint8_t *data, size_t len)
{
	cv_op	   *op;

	if (ino->nops == ino->capops)
	{
		ino->capops = ino->capops ? ino->capops * 2 : 16;
		ino->ops = cv_xrealloc(ino->ops, ino->capops * sizeof(cv_op));
	}
	op = &ino->ops[ino->nops++];
	op->kind = kind;
	op->seq = ++cv->seq;
	op->off = off;
	op->len = len;
	op->data = data;
}

/* ---------- the crash point ---------- */

static inline int
cv_eio(crashvfs *cv, const char *op)
{
	cv->st.eio++;
	return ts_error(EIO, "crashvfs: %s after the crash point", op);
}

/*
 * Entering a counted operation of `kind`: 0 to go on (*post set when it is
 * the armed one and must freeze after taking effect), or EIO.
 */
static inline int
cv_enter(crashvfs *cv, int kind, const char *op, int *post)
{
	*post = 0;
	if (cv->frozen)
		return cv_eio(cv, op);
	if (cv->arm_kind == kind && cv->arm_left > 0 && --cv->arm_left == 0)
	{
		cv->hit = 1;
		cv->hit_kind = kind;
		if (cv->arm_when == CRASHVFS_BEFORE)
		{
			cv->frozen = 1;
			return cv_eio(cv, op);
		}
		*post = 1;
	}
	return 0;
}

static inline int
cv_leave(crashvfs *cv, int post, const char *op)
{
	if (!post)
		return 0;
	cv->frozen = 1;
	return cv->arm_when == CRASHVFS_AFTER_EIO ? cv_eio(cv, op) : 0;
}

/* A live handle, or NULL (dead: opened before a crash). */
static inline cv_inode *
cv_live(crashvfs *cv, ts_file *f)
{
	cv_file    *cf = (cv_file *) f;

	return cf->gen == cv->gen ? cf->ino : NULL;
}

/* ---------- the VFS operations ---------- */

static inline int
crashvfs_open(ts_vfs *vfs, const char *path, int flags, ts_file **out)
{
	crashvfs   *cv = CRASHVFS(vfs);
	char	   *p = cv_norm(path);
	cv_inode   *ino;
	cv_file    *cf;
	long		i;
	int			rc = 0;

	*out = NULL;
	pthread_mutex_lock(&cv->mu);
	if (cv->frozen)
	{
		rc = cv_eio(cv, "open");
		goto done;
	}
	i = cv_map_find(&cv->names, p);
	if (i >= 0 && cv->names.v[i].isdir)
	{
		rc = ts_error(EISDIR, "crashvfs: open \"%s\": is a directory", path);
		goto done;
	}
	if (i >= 0)
		ino = cv->names.v[i].ino;
	else
	{
		char	   *par = cv_parent(p);

		if (!(flags & TS_VFS_CREATE) || !cv_map_isdir(&cv->names, par))
		{
			free(par);
			rc = ts_error(ENOENT, "crashvfs: open \"%s\": no such file or directory", path);
			goto done;
		}
		ino = cv_inode_new(cv);
		cv_map_set(&cv->names, p, ino, 0);
		cv_dirop_add(cv, CV_D_CREATE, par, p, NULL, ino, 0);
		p = NULL;				/* taken */
	}
	cf = calloc(1, sizeof(*cf));
	if (cf == NULL)
		abort();
	cf->base.vfs = vfs;
	cf->ino = ino;
	cf->gen = cv->gen;
	cv->st.opens++;
	*out = &cf->base;
done:
	pthread_mutex_unlock(&cv->mu);
	free(p);
	return rc;
}

static inline int
crashvfs_close(ts_file *f)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	cv_inode   *ino;

	pthread_mutex_lock(&cv->mu);
	ino = cv_live(cv, f);
	if (ino && ino->lock_holder == (void *) f)
		ino->lock_holder = NULL;
	pthread_mutex_unlock(&cv->mu);
	free(f);
	return 0;
}

static inline int
crashvfs_read(ts_file *f, void *buf, size_t n, uint64_t off)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	cv_inode   *ino;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	ino = cv_live(cv, f);
	if (cv->frozen || ino == NULL)
		rc = cv_eio(cv, "read");
	else
	{
		size_t		have = 0;

		if (off < ino->cur.size)
		{
			have = (size_t) (ino->cur.size - off);
			if (have > n)
				have = n;
			memcpy(buf, ino->cur.p + off, have);
		}
		memset((char *) buf + have, 0, n - have);
		cv->st.reads++;
	}
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

/* One write (of the gathered buffers) under the lock. */
static inline int
cv_write_locked(crashvfs *cv, ts_file *f, const void *const *bufs, size_t nbufs,
				size_t size, uint64_t off)
{
	cv_inode   *ino = cv_live(cv, f);
	size_t		len = nbufs * size;
	uint8_t    *data;
	int			post,
				rc;

	if (ino == NULL)
		return cv_eio(cv, "write");
	if (!cv->frozen && (off > (uint64_t) 1 << 40 || len > (size_t) 1 << 40))
		return ts_error(EFBIG, "crashvfs: write of %zu bytes at %llu: too large",
						len, (unsigned long long) off);
	if ((rc = cv_enter(cv, CRASHVFS_WRITE, "write", &post)) != 0)
		return rc;
	data = cv_xmalloc(len);
	for (size_t i = 0; i < nbufs; i++)
		memcpy(data + i * size, bufs[i], size);
	cv_buf_write(&ino->cur, off, data, len);
	cv_inode_add_op(cv, ino, CV_OP_WRITE, off, data, len);
	cv->st.writes++;
	cv->st.bytes_written += (long) len;
	return cv_leave(cv, post, "write");
}

static inline int
crashvfs_write(ts_file *f, const void *buf, size_t n, uint64_t off)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	const void *bufs[1] = {buf};
	int			rc;

	pthread_mutex_lock(&cv->mu);
	rc = cv_write_locked(cv, f, bufs, 1, n, off);
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

static inline int
crashvfs_writev(ts_file *f, const void *const *bufs, size_t n, size_t size, uint64_t off)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	int			rc;

	pthread_mutex_lock(&cv->mu);
	rc = cv_write_locked(cv, f, bufs, n, size, off);
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

/* Make an inode's pending operations durable. */
static inline void
cv_inode_sync(cv_inode *ino)
{
	for (size_t i = 0; i < ino->nops; i++)
	{
		cv_op	   *op = &ino->ops[i];

		if (op->kind == CV_OP_WRITE)
			cv_buf_write(&ino->dur, op->off, op->data, op->len);
		else
			cv_buf_resize(&ino->dur, op->off);
	}
	cv_inode_free_ops(ino);
}

static inline int
crashvfs_sync(ts_file *f)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	cv_inode   *ino;
	int			post,
				rc;

	pthread_mutex_lock(&cv->mu);
	ino = cv_live(cv, f);
	if (ino == NULL)
		rc = cv_eio(cv, "sync");
	else if ((rc = cv_enter(cv, CRASHVFS_SYNC, "sync", &post)) == 0)
	{
		cv_inode_sync(ino);
		cv->st.syncs++;
		rc = cv_leave(cv, post, "sync");
	}
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

static inline int
crashvfs_truncate(ts_file *f, uint64_t size)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	cv_inode   *ino;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	ino = cv_live(cv, f);
	if (cv->frozen || ino == NULL)
		rc = cv_eio(cv, "truncate");
	else if (size > (uint64_t) 1 << 40)
		rc = ts_error(EFBIG, "crashvfs: truncate to %llu: too large", (unsigned long long) size);
	else
	{
		cv_buf_resize(&ino->cur, size);
		cv_inode_add_op(cv, ino, CV_OP_TRUNC, size, NULL, 0);
		cv->st.truncates++;
	}
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

static inline int
crashvfs_size(ts_file *f, uint64_t *size)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	cv_inode   *ino;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	ino = cv_live(cv, f);
	if (cv->frozen || ino == NULL)
		rc = cv_eio(cv, "size");
	else
		*size = ino->cur.size;
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

static inline int
crashvfs_lock(ts_file *f)
{
	crashvfs   *cv = CRASHVFS(f->vfs);
	cv_inode   *ino;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	ino = cv_live(cv, f);
	if (cv->frozen || ino == NULL)
		rc = cv_eio(cv, "lock");
	else if (ino->lock_holder != NULL && ino->lock_holder != (void *) f)
		rc = ts_error(EWOULDBLOCK, "crashvfs: lock: held by another handle");
	else
		ino->lock_holder = f;
	pthread_mutex_unlock(&cv->mu);
	return rc;
}

static inline int
crashvfs_rename(ts_vfs *vfs, const char *from, const char *to)
{
	crashvfs   *cv = CRASHVFS(vfs);
	char	   *a = cv_norm(from),
			   *b = cv_norm(to),
			   *pa = cv_parent(a),
			   *pb = cv_parent(b);
	long		i,
				j;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	if (cv->frozen)
	{
		rc = cv_eio(cv, "rename");
		goto done;
	}
	i = cv_map_find(&cv->names, a);
	j = cv_map_find(&cv->names, b);
	if (i < 0)
		rc = ts_error(ENOENT, "crashvfs: rename \"%s\": no such file", from);
	else if (cv->names.v[i].isdir || (j >= 0 && cv->names.v[j].isdir))
		rc = ts_error(EISDIR, "crashvfs: rename \"%s\" to \"%s\": directories are not renamed",
					  from, to);
	else if (strcmp(pa, pb) != 0)
		rc = ts_error(EXDEV, "crashvfs: rename \"%s\" to \"%s\": across directories", from, to);
	else if (strcmp(a, b) != 0)
	{
		cv_inode   *ino = cv->names.v[i].ino;

		cv_map_del_at(&cv->names, (size_t) i);
		cv_map_set(&cv->names, b, ino, 0);
		cv_dirop_add(cv, CV_D_RENAME, pa, a, b, ino, 0);
		a = b = pa = NULL;		/* taken */
		cv->st.renames++;
	}
done:
	pthread_mutex_unlock(&cv->mu);
	free(a);
	free(b);
	free(pa);
	free(pb);
	return rc;
}

static inline int
crashvfs_unlink(ts_vfs *vfs, const char *path)
{
	crashvfs   *cv = CRASHVFS(vfs);
	char	   *p = cv_norm(path);
	long		i;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	if (cv->frozen)
		rc = cv_eio(cv, "unlink");
	else if ((i = cv_map_find(&cv->names, p)) < 0)
		rc = ts_error(ENOENT, "crashvfs: unlink \"%s\": no such file", path);
	else if (cv->names.v[i].isdir)
		rc = ts_error(EISDIR, "crashvfs: unlink \"%s\": is a directory", path);
	else
	{
		cv_inode   *ino = cv->names.v[i].ino;

		cv_map_del_at(&cv->names, (size_t) i);
		cv_dirop_add(cv, CV_D_UNLINK, cv_parent(p), p, NULL, ino, 0);
		p = NULL;
		cv->st.unlinks++;
	}
	pthread_mutex_unlock(&cv->mu);
	free(p);
	return rc;
}

static inline int
crashvfs_mkdir(ts_vfs *vfs, const char *path)
{
	crashvfs   *cv = CRASHVFS(vfs);
	char	   *p = cv_norm(path);
	char	   *par = cv_parent(p);
	long		i;
	int			rc = 0;

	pthread_mutex_lock(&cv->mu);
	if (cv->frozen)
		rc = cv_eio(cv, "mkdir");
	else if (cv_is_root(p))
		rc = 0;
	else if ((i = cv_map_find(&cv->names, p)) >= 0)
		rc = cv->names.v[i].isdir ? 0 :
			ts_error(ENOTDIR, "crashvfs: mkdir \"%s\": a file exists", path);
	else if (!cv_map_isdir(&cv->names, par))
		rc = ts_error(ENOENT, "crashvfs: mkdir \"%s\": no parent directory", path);
	else
	{
		cv_map_set(&cv->names, p, NULL, 1);
		cv_dirop_add(cv, CV_D_CREATE, par, p, NULL, NULL, 1);
		p = par = NULL;
		cv->st.mkdirs++;
	}
	pthread_mutex_unlock(&cv->mu);
	free(p);
	free(par);
	return rc;
}

static inline int
crashvfs_sync_dir(ts_vfs *vfs, const char *path)
{
	crashvfs   *cv = CRASHVFS(vfs);
	char	   *p = cv_norm(path);
	int			post,
				rc;

	pthread_mutex_lock(&cv->mu);
	if (!cv->frozen && !cv_map_isdir(&cv->names, p))
		rc = ts_error(ENOENT, "crashvfs: sync_dir \"%s\": no such directory", path);
	else if ((rc = cv_enter(cv, CRASHVFS_SYNC_DIR, "sync_dir", &post)) == 0)
	{
		size_t		j = 0;
		int			root = cv_is_root(p);

		for (size_t i = 0; i < cv->ndirops; i++)
		{
			cv_dirop   *d = &cv->dirops[i];

			if (strcmp(d->parent, p) == 0 || (root && cv_is_root(d->parent)))
			{
				cv_dirop_apply(&cv->dnames, d);
				cv_dirop_free(d);
			}
			else
				cv->dirops[j++] = *d;
		}
		cv->ndirops = j;
		cv->st.dir_syncs++;
		rc = cv_leave(cv, post, "sync_dir");
	}
	pthread_mutex_unlock(&cv->mu);
	free(p);
	return rc;
}

static inline int
crashvfs_exists(ts_vfs *vfs, const char *path)
{
	crashvfs   *cv = CRASHVFS(vfs);
	char	   *p = cv_norm(path);
	int			r;

	pthread_mutex_lock(&cv->mu);
	r = cv_is_root(p) || cv_map_find(&cv->names, p) >= 0;
	pthread_mutex_unlock(&cv->mu);
	free(p);
	return r;
}

/* ---------- the control interface ---------- */

/* A new, empty disk; NULL never (aborts on out of memory). */
static inline ts_vfs *
crashvfs_new(void)
{
	crashvfs   *cv = calloc(1, sizeof(*cv));

	if (cv == NULL)
		abort();
	pthread_mutex_init(&cv->mu, NULL);
	cv->vfs.open = crashvfs_open;
	cv->vfs.close = crashvfs_close;
	cv->vfs.read = crashvfs_read;
	cv->vfs.write = crashvfs_write;
	cv->vfs.writev = crashvfs_writev;
	cv->vfs.sync = crashvfs_sync;
	cv->vfs.truncate = crashvfs_truncate;
	cv->vfs.size = crashvfs_size;
	cv->vfs.rename = crashvfs_rename;
	cv->vfs.unlink = crashvfs_unlink;
	cv->vfs.mkdir = crashvfs_mkdir;
	cv->vfs.sync_dir = crashvfs_sync_dir;
	cv->vfs.exists = crashvfs_exists;
	cv->vfs.lock = crashvfs_lock;
	cv->vfs.ctx = cv;
	cv->gen = 1;
	cv->profile = -1;
	cv->write_outcome = -1;
	return &cv->vfs;
}

/* Free the disk; every file opened on it must be closed. */
static inline void
crashvfs_free(ts_vfs *vfs)
{
	crashvfs   *cv = CRASHVFS(vfs);

	if (cv == NULL)
		return;
	for (cv_inode *ino = cv->inodes, *next; ino; ino = next)
	{
		next = ino->next;
		cv_inode_free(ino);
	}
	for (size_t i = 0; i < cv->ndirops; i++)
		cv_dirop_free(&cv->dirops[i]);
	free(cv->dirops);
	cv_map_clear(&cv->names);
	cv_map_clear(&cv->dnames);
	free(cv->names.v);
	free(cv->dnames.v);
	pthread_mutex_destroy(&cv->mu);
	free(cv);
}

/*
 * Arm the crash point: the n-th call (n >= 1) of `kind` from now is the last
 * operation; `when` is CRASHVFS_BEFORE, _AFTER or _AFTER_EIO.  n = 0
 * disarms.  Clears the "hit" flag.
 */
static inline void
crashvfs_arm(crashvfs *cv, int kind, long n, int when)
{
	pthread_mutex_lock(&cv->mu);
	cv->arm_kind = n > 0 ? kind : 0;
	cv->arm_left = n;
	cv->arm_when = when;
	cv->hit = 0;
	cv->hit_kind = 0;
	pthread_mutex_unlock(&cv->mu);
}

/* Freeze now: every operation fails with EIO until crashvfs_crash. */
static inline void
crashvfs_freeze(crashvfs *cv)
{
	pthread_mutex_lock(&cv->mu);
	cv->frozen = 1;
	pthread_mutex_unlock(&cv->mu);
}

static inline int
crashvfs_frozen(crashvfs *cv)
{
	int			r;

	pthread_mutex_lock(&cv->mu);
	r = cv->frozen;
	pthread_mutex_unlock(&cv->mu);
	return r;
}

/* Did the armed crash point fire (since crashvfs_arm)? */
static inline int
crashvfs_hit(crashvfs *cv)
{
	int			r;

	pthread_mutex_lock(&cv->mu);
	r = cv->hit;
	pthread_mutex_unlock(&cv->mu);
	return r;
}

static inline crashvfs_stats
crashvfs_stats_get(crashvfs *cv)
{
	crashvfs_stats s;

	pthread_mutex_lock(&cv->mu);
	s = cv->st;
	pthread_mutex_unlock(&cv->mu);
	return s;
}

/* Make everything durable now (every file synced, every directory synced). */
static inline void
crashvfs_sync_all(crashvfs *cv)
{
	pthread_mutex_lock(&cv->mu);
	for (cv_inode *ino = cv->inodes; ino; ino = ino->next)
		cv_inode_sync(ino);
	for (size_t i = 0; i < cv->ndirops; i++)
	{
		cv_dirop_apply(&cv->dnames, &cv->dirops[i]);
		cv_dirop_free(&cv->dirops[i]);
	}
	cv->ndirops = 0;
	pthread_mutex_unlock(&cv->mu);
}

/* Number of pending (unsynced) file and directory operations. */
static inline long
crashvfs_pending(crashvfs *cv)
{
	long		n;

	pthread_mutex_lock(&cv->mu);
	n = (long) cv->ndirops;
	for (cv_inode *ino = cv->inodes; ino; ino = ino->next)
		n += (long) ino->nops;
	pthread_mutex_unlock(&cv->mu);
	return n;
}

/* Apply one pending write to the durable contents with an outcome. */
static inline void
cv_crash_write(crashvfs *cv, cv_inode *ino, const cv_op *op, int outcome, uint64_t *rng)
{
	uint64_t	end = op->off + op->len;
	uint64_t	pos;
	int			any_garbage = 0;

	switch (outcome)
	{
		case CRASHVFS_DROP:
			cv->st.w_dropped++;
			return;
		case CRASHVFS_KEEP:
			cv->st.w_kept++;
			cv_buf_write(&ino->dur, op->off, op->data, op->len);
			return;
		case CRASHVFS_TORN:
			cv->st.w_torn++;
			break;
		default:
			cv->st.w_garbage++;
			break;
	}
	/* piece by piece: the part of each aligned sector the write covers */
	for (pos = op->off; pos < end;)
	{
		uint64_t	pend = (pos / CRASHVFS_SECTOR + 1) * CRASHVFS_SECTOR;
		const uint8_t *src = op->data + (pos - op->off);
		size_t		plen;
		int			what;		/* 0 old, 1 new, 2 garbage */

		if (pend > end)
			pend = end;
		plen = (size_t) (pend - pos);
		if (outcome == CRASHVFS_TORN)
			what = (int) cv_below(rng, 2);
		else
		{
			uint64_t	r = cv_below(rng, 4);

			what = r < 2 ? 2 : r == 2 ? 1 : 0;
			if (!any_garbage && pend == end)
				what = 2;		/* at least one piece of garbage */
		}
		if (what == 1)
			cv_buf_write(&ino->dur, pos, src, plen);
		else if (what == 2)
		{
			uint8_t		junk[CRASHVFS_SECTOR];

			for (size_t k = 0; k < plen; k++)
				junk[k] = (uint8_t) cv_rand(rng);
			cv_buf_write(&ino->dur, pos, junk, plen);
			any_garbage = 1;
		}
		pos = pend;
	}
}

/*
 * Power loss, then power back on: see THE MODEL above.  Also disarms and
 * unfreezes.
 */
static inline void
crashvfs_crash(crashvfs *cv, uint64_t seed)
{
	uint64_t	rng = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
	int			profile;
	uint64_t	lo = UINT64_MAX,
				hi = 0,
				cut = 0;
	cv_map		nm = {0};

	pthread_mutex_lock(&cv->mu);
	cv_rand(&rng);
	if (cv->profile >= 0 && cv->profile < CRASHVFS_NPROFILES)
		profile = cv->profile;
	else
	{
		uint64_t	r = cv_below(&rng, 100);

		profile = r < 55 ? CRASHVFS_MIXED : r < 70 ? CRASHVFS_DROP_ALL :
			r < 80 ? CRASHVFS_KEEP_ALL : CRASHVFS_PREFIX;
	}
	cv->st.crashes++;
	cv->st.profile[profile]++;

	if (profile == CRASHVFS_PREFIX)
	{
		for (cv_inode *ino = cv->inodes; ino; ino = ino->next)
			for (size_t i = 0; i < ino->nops; i++)
			{
				if (ino->ops[i].seq < lo)
					lo = ino->ops[i].seq;
				if (ino->ops[i].seq > hi)
					hi = ino->ops[i].seq;
			}
		for (size_t i = 0; i < cv->ndirops; i++)
		{
			if (cv->dirops[i].seq < lo)
				lo = cv->dirops[i].seq;
			if (cv->dirops[i].seq > hi)
				hi = cv->dirops[i].seq;
		}
		/* operations with seq < cut reach the disk; the one at cut is torn */
		cut = lo <= hi ? lo + cv_below(&rng, hi - lo + 2) : 0;
	}

	/* file contents */
	for (cv_inode *ino = cv->inodes; ino; ino = ino->next)
	{
		if (ino->nops == 0)
			continue;
		for (size_t i = 0; i < ino->nops; i++)
		{
			cv_op	   *op = &ino->ops[i];
			int			outcome;

			if (op->kind == CV_OP_TRUNC)
			{
				int			apply = profile == CRASHVFS_KEEP_ALL ||
					(profile == CRASHVFS_MIXED && cv_below(&rng, 2)) ||
					(profile == CRASHVFS_PREFIX && op->seq < cut);

				if (apply)
				{
					cv_buf_resize(&ino->dur, op->off);
					cv->st.trunc_applied++;
				}
				else
					cv->st.trunc_dropped++;
				continue;
			}
			if (cv->write_outcome >= 0)
				outcome = cv->write_outcome;
			else if (profile == CRASHVFS_DROP_ALL)
				outcome = CRASHVFS_DROP;
			else if (profile == CRASHVFS_KEEP_ALL)
				outcome = CRASHVFS_KEEP;
			else if (profile == CRASHVFS_PREFIX)
				outcome = op->seq < cut ? CRASHVFS_KEEP :
					op->seq == cut ? CRASHVFS_TORN : CRASHVFS_DROP;
			else
			{
				uint64_t	r = cv_below(&rng, 100);

				outcome = r < 30 ? CRASHVFS_DROP : r < 60 ? CRASHVFS_KEEP :
					r < 85 ? CRASHVFS_TORN : CRASHVFS_GARBAGE;
			}
			cv_crash_write(cv, ino, op, outcome, &rng);
		}
		cv_inode_free_ops(ino);
		cv_buf_copy(&ino->cur, &ino->dur);
	}

	/* the namespace */
	cv_map_copy(&nm, &cv->dnames);
	for (size_t i = 0; i < cv->ndirops; i++)
	{
		cv_dirop   *d = &cv->dirops[i];
		int			apply = profile == CRASHVFS_KEEP_ALL ||
			(profile == CRASHVFS_MIXED && cv_below(&rng, 2)) ||
			(profile == CRASHVFS_PREFIX && d->seq < cut);

		if (apply)
		{
			cv_dirop_apply(&nm, d);
			cv->st.dir_applied++;
		}
		else
			cv->st.dir_rolled_back++;
		cv_dirop_free(d);
	}
	cv->ndirops = 0;
	cv_map_prune(&nm);
	cv_map_copy(&cv->dnames, &nm);
	cv_map_copy(&cv->names, &nm);
	cv_map_clear(&nm);
	free(nm.v);

	/* every handle dies, locks go; unreachable inodes are freed */
	cv->gen++;
	for (cv_inode *ino = cv->inodes; ino; ino = ino->next)
	{
		ino->lock_holder = NULL;
		ino->mark = 0;
	}
	for (size_t i = 0; i < cv->names.n; i++)
		if (cv->names.v[i].ino)
			cv->names.v[i].ino->mark = 1;
	for (cv_inode **pp = &cv->inodes; *pp;)
	{
		cv_inode   *ino = *pp;

		if (!ino->mark)
		{
			*pp = ino->next;
			cv_inode_free(ino);
		}
		else
			pp = &ino->next;
	}

	cv->frozen = 0;
	cv->arm_kind = 0;
	cv->arm_left = 0;
	pthread_mutex_unlock(&cv->mu);
}

#endif							/* TS_TEST_CRASHVFS_H */
