/*
 * bench_wal.c
 *	  Durable commit and recovery benchmark (issue 3, "make bench-wal"): side
 *	  by side in one run, on the same disk (one directory, --dir):
 *
 *	    a. raw fdatasync: 8 KB pwrite at increasing offsets (wrapping within a
 *	       preallocated, fully written 64 MB file), each followed by
 *	       fdatasync, for --seconds -> syncs/s.  The ceiling for any system
 *	       that makes each commit durable with its own flush;
 *	    b. TreeStore, durable single writer: sync=1, async_commit=0; each
 *	       transaction puts one key (16 bytes) with a 100-byte value and
 *	       commits -> commits/s;
 *	    c. the same with --threads concurrent committers (each its own
 *	       transactions, on its own keys: no conflicts) -> total commits/s;
 *	       group commit lets them share flushes;
 *	    d. SQLite, journal_mode=WAL, synchronous=FULL, the same one-row
 *	       transactions (BEGIN IMMEDIATE; INSERT INTO kv VALUES(?,?); COMMIT
 *	       on a WITHOUT ROWID table), one writer, then --threads writers
 *	       (one connection each, busy_timeout; SQLite serializes writers);
 *	    e. recovery: a forked child builds an environment whose write-ahead
 *	       log holds >= --wal-mb MB not yet checkpointed (sync=0, no
 *	       checkpoint by size, time or dirty pages; transactions of 1,000
 *	       puts of 100-byte values) and exits with _exit(0) without closing
 *	       it, so no closing checkpoint runs; the parent then times
 *	       ts_env_open, which replays the log -> MB of WAL replayed per
 *	       second (the log's bytes from the checkpoint to its end,
 *	       wal_end_lsn - checkpoint_lsn of ts_env_stat in the child, passed
 *	       back through a pipe; the wal-* files' size is shown too).  It then
 *	       checks that the last key written, and every key (by count), are
 *	       present.  If the engine takes a checkpoint anyway while the log is
 *	       built, the run fails: the figure would not be for the size asked.
 *
 *	  Every system gets the same keys, values and durability (a commit
 *	  returns only after an fdatasync covering it); the output states them.
 *	  Each committed run is checked afterwards: the tree (table) holds
 *	  exactly as many entries (rows) as commits were counted.
 *
 *	  A table is printed first, then "RESULT wal <name> <value>" lines last.
 *	  Any error stops the run (exit 1) with the system's own message
 *	  (ts_strerror/ts_last_error, sqlite3_errmsg, strerror).
 *
 *	  Build (from the repository root):
 *	    gcc -std=c11 -D_GNU_SOURCE -O2 -pthread -Iengine test/bench/bench_wal.c \
 *	        build/libtreestore.a -lsqlite3 -lpthread -lm -o build/bench/bench_wal
 *
 *	  usage: bench_wal [--dir DIR] [--seconds S] [--threads T] [--wal-mb M]
 *	                   [--skip-recovery] [--cold]
 *	    --seconds S      per measurement (a..d), default 3
 *	    --threads T      concurrent committers in c and d, default 16
 *	    --wal-mb M       WAL to replay in e, default 100 (MB = 10^6 bytes)
 *	    --skip-recovery  skip e (an engine without a write-ahead log)
 *	    --cold           e: fdatasync the directory's files and drop them from
 *	                     the page cache (posix_fadvise DONTNEED) before the
 *	                     timed open, as after a reboot; default: warm, as after
 *	                     a process crash (the log is still in the page cache)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include "treestore.h"

#define KEY_LEN			16
#define VAL_LEN			100
#define RAW_FILE_BYTES	((off_t) 64 << 20)	/* a: 64 MB, preallocated */
#define RAW_WRITE		8192				/* a: bytes per write */
#define TS_CACHE		16384				/* b, c: pages (the default, 64 MB) */
#define REC_CACHE		131072				/* e: pages (512 MB) */
#define REC_TXN_KEYS	1000				/* e: puts per transaction */
#define SQ_BUSY_MS		10000

typedef struct bench_cfg
{
	const char *dir;
	double		seconds;
	int			threads;
	unsigned	wal_mb;
	int			skip_recovery;
	int			cold;
} bench_cfg;

static const char *cur_dir;		/* the directory in use, kept on failure */

static void
die(const char *sys, const char *what, const char *fmt, ...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "\nbench_wal: %s: %s: ", sys, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_dir)
		fprintf(stderr, "bench_wal: data left in %s for inspection\n", cur_dir);
	fprintf(stderr, "bench_wal: run FAILED, no results reported\n");
	exit(1);
}

static void
ts_check(int rc, const char *what)
{
	if (rc != 0)
		die("treestore", what, "%s (%d): %s", ts_strerror(rc), rc, ts_last_error());
}

static void
sys_check(int ok, const char *what, const char *path)
{
	if (!ok)
		die("disk", what, "%s: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------- helpers */

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
sleep_sec(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t) s;
	ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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

/* Pseudo-random value of key i: no compression, no dedup. */
static void
make_value(uint8_t *v, size_t len, uint64_t i)
{
	uint64_t	x = i * 0xD1B54A32D192ED03ULL;

	for (size_t off = 0; off < len; off += 8)
	{
		uint64_t	r = splitmix64(&x);

		memcpy(v + off, &r, len - off < 8 ? len - off : 8);
	}
}

/* Key space of committer thread t (0..): disjoint ranges. */
static uint64_t
thread_key(int t, uint64_t i)
{
	return ((uint64_t) (t + 1) << 40) | i;
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

static void
sub_dir(char *buf, size_t cap, const bench_cfg *c, const char *name)
{
	if ((size_t) snprintf(buf, cap, "%s/%s", c->dir, name) >= cap)
		die("bench", "path", "%s/%s: too long", c->dir, name);
}

/* Sum of st_size of the files "wal-*" in dir (the write-ahead log). */
static uint64_t
wal_file_bytes(const char *dir, int *nfiles)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	uint64_t	total = 0;

	*nfiles = 0;
	if (!d)
		die("bench", "opendir", "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
	{
		char		path[PATH_MAX];
		struct stat st;

		if (strncmp(e->d_name, "wal-", 4) != 0)
			continue;
		if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			die("bench", "path", "%s/%s: too long", dir, e->d_name);
		if (stat(path, &st) != 0)
			die("bench", "stat", "%s: %s", path, strerror(errno));
		if (S_ISREG(st.st_mode))
		{
			total += (uint64_t) st.st_size;
			(*nfiles)++;
		}
	}
	closedir(d);
	return total;
}

/* --cold: fdatasync every file of dir, then drop it from the page cache. */
static void
drop_dir_cache(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;

	if (!d)
		die("bench", "opendir", "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
	{
		char		path[PATH_MAX];
		int			fd,
					rc;

		if (e->d_name[0] == '.')
			continue;
		if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			die("bench", "path", "%s/%s: too long", dir, e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
		{
			if (errno == EISDIR)
				continue;
			die("bench", "open", "%s: %s", path, strerror(errno));
		}
		if (fdatasync(fd) != 0)
			die("bench", "fdatasync", "%s: %s", path, strerror(errno));
		if ((rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)) != 0)
			die("bench", "posix_fadvise", "%s: %s", path, strerror(rc));
		close(fd);
	}
	closedir(d);
}

static const char *
fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) != 0)
		return "unknown";
	switch ((unsigned long) sf.f_type)
	{
		case 0xEF53UL:
			return "ext2/3/4";
		case 0x58465342UL:
			return "xfs";
		case 0x9123683EUL:
			return "btrfs";
		case 0x01021994UL:
			return "tmpfs (fdatasync is a no-op: figures are meaningless)";
		case 0x794C7630UL:
			return "overlayfs";
		case 0x2FC12FC1UL:
			return "zfs";
		case 0x6969UL:
			return "nfs";
		default:
			return "other";
	}
}

/* ------------------------------------------------- a. raw fdatasync rate */

typedef struct raw_result
{
	double		per_s;
	uint64_t	syncs;
	double		secs;
} raw_result;

static void
run_raw(const bench_cfg *c, raw_result *r)
{
	char		path[PATH_MAX];
	uint8_t    *buf = malloc(1 << 20);
	uint64_t	seed = 42;
	off_t		off;
	int			fd;
	double		t0,
				t;

	if (!buf)
		die("bench", "malloc", "out of memory");
	sub_dir(path, sizeof(path), c, "raw-fdatasync.dat");
	cur_dir = path;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	sys_check(fd >= 0, "open", path);

	/* preallocate by writing every byte, so the timed writes change no
	 * block allocation or extent state: fdatasync then flushes data only */
	for (size_t i = 0; i < (1 << 20); i += 8)
	{
		uint64_t	v = splitmix64(&seed);

		memcpy(buf + i, &v, 8);
	}
	for (off = 0; off < RAW_FILE_BYTES; off += 1 << 20)
		sys_check(pwrite(fd, buf, 1 << 20, off) == 1 << 20, "pwrite", path);
	sys_check(fsync(fd) == 0, "fsync", path);

	r->syncs = 0;
	off = 0;
	t0 = now_sec();
	do
	{
		memcpy(buf, &r->syncs, sizeof(r->syncs));	/* new content each time */
		sys_check(pwrite(fd, buf, RAW_WRITE, off) == RAW_WRITE, "pwrite", path);
		sys_check(fdatasync(fd) == 0, "fdatasync", path);
		r->syncs++;
		off += RAW_WRITE;
		if (off >= RAW_FILE_BYTES)
			off = 0;
		t = now_sec() - t0;
	} while (t < c->seconds);
	r->secs = t;
	r->per_s = r->syncs / t;
	close(fd);
	sys_check(unlink(path) == 0, "unlink", path);
	cur_dir = NULL;
	free(buf);
}

/* -------------------------------------------- b, c. TreeStore commits */

typedef struct commit_result
{
	double		per_s;
	uint64_t	commits;
	double		secs;
	int			threads;
	uint64_t	wal_flushes;	/* ts_env_stat after the run (0: no WAL) */
	uint64_t	wal_bytes;
	uint64_t	checkpoints;
} commit_result;

typedef struct ts_worker
{
	pthread_t	th;
	int			id;
	ts_env	   *env;
	ts_tree		tree;
	pthread_barrier_t *start;
	atomic_int *stop;
	uint64_t	commits;
} ts_worker;

static void *
ts_worker_main(void *arg)
{
	ts_worker  *w = arg;
	uint8_t		key[KEY_LEN],
				val[VAL_LEN];

	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed))
	{
		ts_txn	   *txn;
		uint64_t	k = thread_key(w->id, w->commits);

		make_key(key, k);
		make_value(val, VAL_LEN, k);
		ts_check(ts_txn_begin(w->env, 0, &txn), "ts_txn_begin");
		ts_check(ts_put(txn, w->tree, key, KEY_LEN, val, VAL_LEN, 0), "ts_put");
		ts_check(ts_txn_commit(txn), "ts_txn_commit");
		w->commits++;
	}
	return NULL;
}

static void
ts_options_bench(ts_options *opt)
{
	/* zero first: fields a library built from an older header leaves alone */
	memset(opt, 0, sizeof(*opt));
	ts_options_init(opt);
}

/*
 * nthreads committers, each in its own thread (so that the single-writer
 * figure pays the same thread costs as the concurrent one), for c->seconds.
 */
static void
run_ts_commits(const bench_cfg *c, int nthreads, const char *name, commit_result *r)
{
	char		dir[PATH_MAX];
	ts_options	opt;
	ts_env	   *env;
	ts_txn	   *txn;
	ts_tree		tree;
	ts_worker  *w = calloc((size_t) nthreads, sizeof(*w));
	pthread_barrier_t start;
	atomic_int	stop = 0;
	ts_stat		st;
	ts_treestat ts;
	double		t0;

	if (!w)
		die("bench", "calloc", "out of memory");
	sub_dir(dir, sizeof(dir), c, name);
	rm_rf(dir);
	cur_dir = dir;
	ts_options_bench(&opt);
	opt.flags = TS_CREATE;
	opt.cache_pages = TS_CACHE;
	opt.sync = 1;
	opt.async_commit = 0;
	ts_check(ts_env_open(dir, &opt, &env), "ts_env_open");
	ts_check(ts_txn_begin(env, 0, &txn), "ts_txn_begin");
	ts_check(ts_tree_open(txn, "kv", TS_CREATE, &tree), "ts_tree_open");
	ts_check(ts_txn_commit(txn), "ts_txn_commit");

	if (pthread_barrier_init(&start, NULL, (unsigned) nthreads + 1) != 0)
		die("bench", "pthread_barrier_init", "failed");
	for (int i = 0; i < nthreads; i++)
	{
		w[i].id = i;
		w[i].env = env;
		w[i].tree = tree;
		w[i].start = &start;
		w[i].stop = &stop;
		if ((errno = pthread_create(&w[i].th, NULL, ts_worker_main, &w[i])) != 0)
			die("bench", "pthread_create", "%s", strerror(errno));
	}
	pthread_barrier_wait(&start);
	t0 = now_sec();
	sleep_sec(c->seconds);
	atomic_store(&stop, 1);
	r->commits = 0;
	for (int i = 0; i < nthreads; i++)
	{
		pthread_join(w[i].th, NULL);
		r->commits += w[i].commits;
	}
	r->secs = now_sec() - t0;	/* includes the commits in flight at stop */
	r->per_s = r->commits / r->secs;
	r->threads = nthreads;
	pthread_barrier_destroy(&start);

	memset(&st, 0, sizeof(st));
	ts_check(ts_env_stat(env, &st), "ts_env_stat");
	r->wal_flushes = st.wal_flushes;
	r->wal_bytes = st.wal_bytes;
	r->checkpoints = st.checkpoints;

	/* every counted commit is there */
	ts_check(ts_txn_begin(env, TS_RDONLY, &txn), "ts_txn_begin");
	ts_check(ts_tree_stat(txn, tree, &ts), "ts_tree_stat");
	if (ts.entries != r->commits)
		die("treestore", "check", "tree holds %llu entries after %llu commits",
			(unsigned long long) ts.entries, (unsigned long long) r->commits);
	for (int i = 0; i < nthreads; i++)
		if (w[i].commits > 0)
		{
			uint8_t		key[KEY_LEN],
						val[VAL_LEN];
			uint64_t	k = thread_key(i, w[i].commits - 1);
			ts_slice	v;

			make_key(key, k);
			make_value(val, VAL_LEN, k);
			ts_check(ts_get(txn, tree, key, KEY_LEN, &v), "ts_get (last key of a committer)");
			if (v.len != VAL_LEN || memcmp(v.data, val, VAL_LEN) != 0)
				die("treestore", "check", "wrong value for the last key of committer %d", i);
		}
	ts_txn_abort(txn);
	ts_check(ts_env_close(env), "ts_env_close");
	rm_rf(dir);
	cur_dir = NULL;
	free(w);
}

/* ----------------------------------------------------------- d. SQLite */

typedef struct sq_worker
{
	pthread_t	th;
	int			id;
	const char *path;
	pthread_barrier_t *start;
	atomic_int *stop;
	uint64_t	commits;
} sq_worker;

static void
sq_fail(sqlite3 *db, const char *what, int rc)
{
	die("sqlite", what, "%s (%d)", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

static void
sq_exec(sqlite3 *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st;
	int			rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		sq_fail(db, sql, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (out)
		{
			snprintf(out, cap, "%s", (const char *) sqlite3_column_text(st, 0));
			out = NULL;
		}
	if (rc != SQLITE_DONE)
		sq_fail(db, sql, rc);
	sqlite3_finalize(st);
}

static sqlite3 *
sq_connect(const char *path, int create)
{
	sqlite3    *db = NULL;
	char		mode[16] = "",
				sync[16] = "";
	int			rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
									 (create ? SQLITE_OPEN_CREATE : 0), NULL);

	if (rc != SQLITE_OK)
		sq_fail(db, "sqlite3_open_v2", rc);
	if ((rc = sqlite3_busy_timeout(db, SQ_BUSY_MS)) != SQLITE_OK)
		sq_fail(db, "sqlite3_busy_timeout", rc);
	sq_exec(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
	if (strcmp(mode, "wal") != 0)
		die("sqlite", "PRAGMA journal_mode=WAL", "journal mode is '%s'", mode);
	sq_exec(db, "PRAGMA synchronous=FULL", NULL, 0);	/* per connection */
	sq_exec(db, "PRAGMA synchronous", sync, sizeof(sync));
	if (strcmp(sync, "2") != 0)
		die("sqlite", "PRAGMA synchronous=FULL", "synchronous is %s", sync);
	return db;
}

static sqlite3_stmt *
sq_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int			rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		sq_fail(db, sql, rc);
	return st;
}

static void
sq_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int			rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		sq_fail(db, what, rc);
	sqlite3_reset(st);
}

static void *
sq_worker_main(void *arg)
{
	sq_worker  *w = arg;
	sqlite3    *db = sq_connect(w->path, 0);
	sqlite3_stmt *begin = sq_prepare(db, "BEGIN IMMEDIATE"),
			   *ins = sq_prepare(db, "INSERT INTO kv VALUES(?1, ?2)"),
			   *commit = sq_prepare(db, "COMMIT");
	uint8_t		key[KEY_LEN],
				val[VAL_LEN];
	int			rc;

	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed))
	{
		uint64_t	k = thread_key(w->id, w->commits);

		make_key(key, k);
		make_value(val, VAL_LEN, k);
		sq_step_done(db, begin, "BEGIN IMMEDIATE");
		if ((rc = sqlite3_bind_blob(ins, 1, key, KEY_LEN, SQLITE_STATIC)) != SQLITE_OK ||
			(rc = sqlite3_bind_blob(ins, 2, val, VAL_LEN, SQLITE_STATIC)) != SQLITE_OK)
			sq_fail(db, "sqlite3_bind_blob", rc);
		sq_step_done(db, ins, "INSERT");
		sq_step_done(db, commit, "COMMIT");
		w->commits++;
	}
	sqlite3_finalize(begin);
	sqlite3_finalize(ins);
	sqlite3_finalize(commit);
	if ((rc = sqlite3_close(db)) != SQLITE_OK)
		sq_fail(db, "sqlite3_close", rc);
	return NULL;
}

static void
run_sqlite(const bench_cfg *c, int nthreads, const char *name, commit_result *r)
{
	char		dir[PATH_MAX],
				path[PATH_MAX + 8];
	sq_worker  *w = calloc((size_t) nthreads, sizeof(*w));
	pthread_barrier_t start;
	atomic_int	stop = 0;
	sqlite3    *db;
	sqlite3_stmt *st;
	long long	rows;
	double		t0;
	int			rc;

	if (!w)
		die("bench", "calloc", "out of memory");
	if (nthreads > 1 && !sqlite3_threadsafe())
		die("sqlite", "sqlite3_threadsafe", "this SQLite is built without thread support");
	sub_dir(dir, sizeof(dir), c, name);
	rm_rf(dir);
	cur_dir = dir;
	sys_check(mkdir(dir, 0775) == 0, "mkdir", dir);
	snprintf(path, sizeof(path), "%s/kv.db", dir);
	db = sq_connect(path, 1);
	sq_exec(db, "CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID", NULL, 0);

	if (pthread_barrier_init(&start, NULL, (unsigned) nthreads + 1) != 0)
		die("bench", "pthread_barrier_init", "failed");
	for (int i = 0; i < nthreads; i++)
	{
		w[i].id = i;
		w[i].path = path;
		w[i].start = &start;
		w[i].stop = &stop;
		if ((errno = pthread_create(&w[i].th, NULL, sq_worker_main, &w[i])) != 0)
			die("bench", "pthread_create", "%s", strerror(errno));
	}
	pthread_barrier_wait(&start);
	t0 = now_sec();
	sleep_sec(c->seconds);
	atomic_store(&stop, 1);
	r->commits = 0;
	for (int i = 0; i < nthreads; i++)
	{
		pthread_join(w[i].th, NULL);
		r->commits += w[i].commits;
	}
	r->secs = now_sec() - t0;
	r->per_s = r->commits / r->secs;
	r->threads = nthreads;
	pthread_barrier_destroy(&start);

	st = sq_prepare(db, "SELECT count(*) FROM kv");
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		sq_fail(db, "SELECT count(*)", rc);
	rows = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rows < 0 || (uint64_t) rows != r->commits)
		die("sqlite", "check", "table holds %lld rows after %llu commits",
			rows, (unsigned long long) r->commits);
	if ((rc = sqlite3_close(db)) != SQLITE_OK)
		sq_fail(db, "sqlite3_close", rc);
	rm_rf(dir);
	cur_dir = NULL;
	free(w);
}

/* --------------------------------------------------------- e. recovery */

typedef struct rec_report		/* child -> parent, through a pipe */
{
	int			ok;
	char		err[1024];
	uint64_t	keys;			/* keys 0..keys-1 committed */
	uint64_t	txns;
	uint64_t	wal_bytes;		/* ts_env_stat, at the end */
	uint64_t	logged;			/* log after the checkpoint: wal_end_lsn - checkpoint_lsn */
	uint64_t	wal_end_lsn;
	uint64_t	checkpoints;
	uint64_t	checkpoint_lsn;
	double		build_secs;
} rec_report;

typedef struct rec_result
{
	rec_report	child;
	uint64_t	wal_disk_bytes; /* wal-* files before the open */
	int			wal_files;
	uint64_t	replay_bytes;	/* the figure used */
	double		open_secs;
	double		close_secs;
	double		mb_per_s;
	uint64_t	entries;
} rec_result;

static void
rec_options(ts_options *opt)
{
	ts_options_bench(opt);
	opt->cache_pages = REC_CACHE;
	opt->sync = 0;
	opt->async_commit = 0;
	opt->checkpoint_wal_bytes = UINT64_MAX / 2;	/* never by size */
	opt->checkpoint_interval_ms = 0;			/* never by time */
	opt->max_dirty_pages = (size_t) 1 << 40;	/* never by memory */
}

static void
child_fail(int fd, rec_report *rep, const char *what, int rc)
{
	ssize_t		n;

	rep->ok = 0;
	snprintf(rep->err, sizeof(rep->err), "%s: %s (%d): %s", what, ts_strerror(rc), rc,
			 ts_last_error());
	n = write(fd, rep, sizeof(*rep));
	(void) n;
	_exit(1);
}

/*
 * The log recovery replays: from the checkpoint to its end (LSNs are byte
 * positions in the log); the segment files' size if the LSNs are not given.
 */
static uint64_t
log_after_checkpoint(const ts_stat *st)
{
	if (st->wal_end_lsn > 0)
		return st->wal_end_lsn > st->checkpoint_lsn ? st->wal_end_lsn - st->checkpoint_lsn : 0;
	return st->wal_bytes;
}

/* The child: build the log, report, and exit without closing. */
static void
rec_child(const char *dir, uint64_t target, int fd)
{
	rec_report	rep;
	ts_options	opt;
	ts_env	   *env;
	ts_txn	   *txn;
	ts_tree		tree;
	ts_stat		st,
				prev;
	uint8_t		key[KEY_LEN],
				val[VAL_LEN];
	uint64_t	payload = 0;
	double		t0 = now_sec();
	int			rc;

	memset(&rep, 0, sizeof(rep));
	memset(&st, 0, sizeof(st));
	rec_options(&opt);
	opt.flags = TS_CREATE;
	if ((rc = ts_env_open(dir, &opt, &env)) != 0)
		child_fail(fd, &rep, "ts_env_open", rc);
	if ((rc = ts_txn_begin(env, 0, &txn)) != 0 ||
		(rc = ts_tree_open(txn, "kv", TS_CREATE, &tree)) != 0 ||
		(rc = ts_txn_commit(txn)) != 0)
		child_fail(fd, &rep, "create tree", rc);
	for (;;)
	{
		if ((rc = ts_txn_begin(env, 0, &txn)) != 0)
			child_fail(fd, &rep, "ts_txn_begin", rc);
		for (int i = 0; i < REC_TXN_KEYS; i++)
		{
			make_key(key, rep.keys + i);
			make_value(val, VAL_LEN, rep.keys + i);
			if ((rc = ts_put(txn, tree, key, KEY_LEN, val, VAL_LEN, 0)) != 0)
				child_fail(fd, &rep, "ts_put", rc);
		}
		if ((rc = ts_txn_commit(txn)) != 0)
			child_fail(fd, &rep, "ts_txn_commit", rc);
		rep.keys += REC_TXN_KEYS;
		rep.txns++;
		payload += REC_TXN_KEYS * (KEY_LEN + VAL_LEN);
		prev = st;
		memset(&st, 0, sizeof(st));
		if ((rc = ts_env_stat(env, &st)) != 0)
			child_fail(fd, &rep, "ts_env_stat", rc);
		if (log_after_checkpoint(&st) >= target)
			break;
		if (st.checkpoints > 0)
		{
			snprintf(rep.err, sizeof(rep.err), "the engine took a checkpoint while the log "
					 "was being built (checkpoints %llu after %llu transactions of %d puts; "
					 "before the last one: WAL %.1f MB, %llu dirty pages, page_count %llu) "
					 "although checkpoint_wal_bytes, checkpoint_interval_ms and "
					 "max_dirty_pages disable every automatic one: a log of %llu MB "
					 "not yet checkpointed cannot be built", (unsigned long long) st.checkpoints,
					 (unsigned long long) rep.txns, REC_TXN_KEYS, prev.wal_bytes / 1e6,
					 (unsigned long long) prev.dirty_pages,
					 (unsigned long long) prev.page_count,
					 (unsigned long long) (target / 1000000));
			rc = write(fd, &rep, sizeof(rep)) < 0;
			_exit(1);
		}
		if (payload >= ((uint64_t) 4 << 20) && st.wal_bytes == 0)
		{
			snprintf(rep.err, sizeof(rep.err), "no write-ahead log: ts_env_stat reports "
					 "wal_bytes 0 after %llu commits of %llu puts (an engine without a WAL?); "
					 "run with --skip-recovery", (unsigned long long) rep.txns,
					 (unsigned long long) rep.keys);
			rc = write(fd, &rep, sizeof(rep)) < 0;
			_exit(1);
		}
	}
	rep.wal_bytes = st.wal_bytes;
	rep.logged = log_after_checkpoint(&st);
	rep.wal_end_lsn = st.wal_end_lsn;
	rep.checkpoints = st.checkpoints;
	rep.checkpoint_lsn = st.checkpoint_lsn;
	rep.build_secs = now_sec() - t0;
	rep.ok = 1;
	if (write(fd, &rep, sizeof(rep)) != (ssize_t) sizeof(rep))
		_exit(1);
	_exit(0);					/* no ts_env_close: no closing checkpoint */
}

static void
run_recovery(const bench_cfg *c, rec_result *r)
{
	char		dir[PATH_MAX];
	uint64_t	target = (uint64_t) c->wal_mb * 1000000;
	int			pfd[2],
				status;
	pid_t		pid;
	ssize_t		got = 0;
	ts_options	opt;
	ts_env	   *env;
	ts_txn	   *txn;
	ts_tree		tree;
	ts_treestat tst;
	double		t0;

	memset(r, 0, sizeof(*r));
	sub_dir(dir, sizeof(dir), c, "treestore-recovery");
	rm_rf(dir);
	cur_dir = dir;
	sys_check(pipe(pfd) == 0, "pipe", "(recovery)");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	sys_check(pid >= 0, "fork", "(recovery)");
	if (pid == 0)
	{
		close(pfd[0]);
		rec_child(dir, target, pfd[1]);
		_exit(1);				/* not reached */
	}
	close(pfd[1]);
	while (got < (ssize_t) sizeof(r->child))
	{
		ssize_t		n = read(pfd[0], (char *) &r->child + got, sizeof(r->child) - (size_t) got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("bench", "waitpid", "%s", strerror(errno));
	if (got == (ssize_t) sizeof(r->child) && !r->child.ok)
		die("treestore", "recovery: building the log (child)", "%s", r->child.err);
	if (got != (ssize_t) sizeof(r->child) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("treestore", "recovery: building the log (child)",
			"child ended without a report (status 0x%x%s%s)", status,
			WIFSIGNALED(status) ? ", signal " : "",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");

	r->wal_disk_bytes = wal_file_bytes(dir, &r->wal_files);
	r->replay_bytes = r->child.logged;
	if (r->replay_bytes < target)
		die("treestore", "recovery", "the log holds %llu bytes after the checkpoint "
			"(wal-* files: %llu, ts_env_stat wal_bytes: %llu), less than the %llu wanted",
			(unsigned long long) r->replay_bytes, (unsigned long long) r->wal_disk_bytes,
			(unsigned long long) r->child.wal_bytes, (unsigned long long) target);
	if (c->cold)
		drop_dir_cache(dir);

	rec_options(&opt);
	t0 = now_sec();
	ts_check(ts_env_open(dir, &opt, &env), "ts_env_open (recovery)");
	r->open_secs = now_sec() - t0;
	r->mb_per_s = r->replay_bytes / 1e6 / r->open_secs;

	/* the last key written is there, with its value; so is every key */
	ts_check(ts_txn_begin(env, TS_RDONLY, &txn), "ts_txn_begin");
	ts_check(ts_tree_open(txn, "kv", 0, &tree), "ts_tree_open (after recovery)");
	{
		uint64_t	probe[3] = {r->child.keys - 1, 0, r->child.keys / 2};

		for (int i = 0; i < 3; i++)
		{
			uint8_t		key[KEY_LEN],
						val[VAL_LEN];
			ts_slice	v;
			int			rc;

			make_key(key, probe[i]);
			make_value(val, VAL_LEN, probe[i]);
			rc = ts_get(txn, tree, key, KEY_LEN, &v);
			if (rc == TS_NOTFOUND)
				die("treestore", "recovery", "key %llu (%s) is missing after recovery",
					(unsigned long long) probe[i], i == 0 ? "the last written" : "committed");
			ts_check(rc, "ts_get (after recovery)");
			if (v.len != VAL_LEN || memcmp(v.data, val, VAL_LEN) != 0)
				die("treestore", "recovery", "key %llu has a wrong value after recovery",
					(unsigned long long) probe[i]);
		}
	}
	ts_check(ts_tree_stat(txn, tree, &tst), "ts_tree_stat (after recovery)");
	r->entries = tst.entries;
	if (tst.entries != r->child.keys)
		die("treestore", "recovery", "%llu entries after recovery, %llu keys were committed",
			(unsigned long long) tst.entries, (unsigned long long) r->child.keys);
	ts_txn_abort(txn);
	t0 = now_sec();
	ts_check(ts_env_close(env), "ts_env_close (after recovery)");
	r->close_secs = now_sec() - t0;
	rm_rf(dir);
	cur_dir = NULL;
}

/* ------------------------------------------------------------------- main */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_wal [--dir DIR] [--seconds S] [--threads T] [--wal-mb M] "
			"[--skip-recovery] [--cold]\n");
	exit(2);
}

static double
parse_num(const char *s, double min, double max)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
	{
		fprintf(stderr, "bench_wal: bad number '%s' (range %g..%g)\n", s, min, max);
		usage();
	}
	return v;
}

static void
row(const char *what, double value, const char *unit, const char *fmt, ...)
{
	va_list		ap;

	/* rates with one decimal, ratios with three */
	printf("%-40s %12.*f  %-9s ", what, strcmp(unit, "ratio") == 0 ? 3 : 1, value, unit);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
result(const char *name, double v)
{
	printf("RESULT wal %s %.3f\n", name, v);
}

static void
wal_note(char *buf, size_t cap, const commit_result *r)
{
	if (r->wal_flushes > 0)
		snprintf(buf, cap, "; %llu WAL flushes, %.2f commits/flush",
				 (unsigned long long) r->wal_flushes, (double) r->commits / r->wal_flushes);
	else
		snprintf(buf, cap, "; no WAL flush counted");
}

int
main(int argc, char **argv)
{
	bench_cfg	cfg = {"./bench-data", 3.0, 16, 100, 0, 0};
	char		absdir[PATH_MAX],
				note[128],
				name[64];
	raw_result	raw;
	commit_result ts1,
				tsn,
				sq1,
				sqn;
	rec_result	rec;
	int			made_dir;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i],
				   *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--skip-recovery") == 0)
		{
			cfg.skip_recovery = 1;
			continue;
		}
		if (strcmp(a, "--cold") == 0)
		{
			cfg.cold = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--dir") == 0)
			cfg.dir = v;
		else if (strcmp(a, "--seconds") == 0)
			cfg.seconds = parse_num(v, 0.1, 3600);
		else if (strcmp(a, "--threads") == 0)
			cfg.threads = (int) parse_num(v, 1, 1024);
		else if (strcmp(a, "--wal-mb") == 0)
			cfg.wal_mb = (unsigned) parse_num(v, 1, 100000);
		else
			usage();
	}
	signal(SIGPIPE, SIG_IGN);

	made_dir = mkdir(cfg.dir, 0775) == 0;
	if (!made_dir && errno != EEXIST)
		die("bench", "mkdir", "%s: %s", cfg.dir, strerror(errno));
	if (!realpath(cfg.dir, absdir))
		die("bench", "realpath", "%s: %s", cfg.dir, strerror(errno));

	printf("bench_wal: durable commits and recovery: TreeStore vs the disk vs SQLite %s\n",
		   sqlite3_libversion());
	printf("  disk: %s (file system: %s); a subdirectory per run, deleted before and after\n",
		   absdir, fs_name(absdir));
	printf("  every commit is one transaction writing one new key of %d bytes with a %d-byte\n"
		   "  pseudo-random value, and is durable when it returns (fdatasync before return):\n"
		   "    treestore: sync=1, async_commit=0, cache_pages=%d, other options default\n"
		   "    sqlite:    journal_mode=WAL, synchronous=FULL, WITHOUT ROWID table,\n"
		   "               BEGIN IMMEDIATE; INSERT INTO kv VALUES(?,?); COMMIT (prepared),\n"
		   "               wal_autocheckpoint default, one connection per thread,\n"
		   "               busy_timeout %d ms\n"
		   "    raw:       pwrite of %d bytes at increasing offsets wrapping in a %d MB\n"
		   "               file written in full and fsync'ed before timing, then fdatasync\n",
		   KEY_LEN, VAL_LEN, TS_CACHE, SQ_BUSY_MS, RAW_WRITE, (int) (RAW_FILE_BYTES >> 20));
	printf("  each measurement runs %.1f s; committers run in threads (1, then %d),\n"
		   "  each on its own keys (no conflicts); counts are checked against the data after\n",
		   cfg.seconds, cfg.threads);
	if (!cfg.skip_recovery)
		printf("  recovery: a child process commits transactions of %d puts (same key and\n"
			   "  value sizes) with sync=0 and every automatic checkpoint off\n"
			   "  (checkpoint_wal_bytes and max_dirty_pages huge, checkpoint_interval_ms=0)\n"
			   "  until the log holds >= %u MB, then _exit(0)s without ts_env_close; the\n"
			   "  parent times ts_env_open (cache_pages=%d, same options), which replays it:\n"
			   "  %s\n",
			   REC_TXN_KEYS, cfg.wal_mb, REC_CACHE,
			   cfg.cold ? "COLD: the files are fdatasync'ed and dropped from the page cache first\n"
			   "  (as after a reboot)" :
			   "WARM: the log is still in the page cache (as after a process crash;\n"
			   "  --cold: as after a reboot)");
	printf("\n");
	fflush(stdout);

	fprintf(stderr, "raw fdatasync");
	run_raw(&cfg, &raw);
	fprintf(stderr, ", treestore 1 committer");
	run_ts_commits(&cfg, 1, "treestore-1", &ts1);
	fprintf(stderr, ", treestore %d committers", cfg.threads);
	run_ts_commits(&cfg, cfg.threads, "treestore-n", &tsn);
	fprintf(stderr, ", sqlite 1 writer");
	run_sqlite(&cfg, 1, "sqlite-1", &sq1);
	fprintf(stderr, ", sqlite %d writers", cfg.threads);
	run_sqlite(&cfg, cfg.threads, "sqlite-n", &sqn);
	if (!cfg.skip_recovery)
	{
		fprintf(stderr, ", recovery (building a %u MB log)", cfg.wal_mb);
		run_recovery(&cfg, &rec);
	}
	fprintf(stderr, ": done\n");
	if (made_dir)
		rmdir(cfg.dir);

	printf("%-40s %12s  %-9s %s\n", "what", "value", "unit", "settings");
	row("raw 8 KB pwrite + fdatasync", raw.per_s, "syncs/s",
		"%llu in %.2f s; %.3f ms each", (unsigned long long) raw.syncs, raw.secs,
		1e3 / raw.per_s);
	wal_note(note, sizeof(note), &ts1);
	row("treestore durable commit, 1 thread", ts1.per_s, "commits/s",
		"sync=1 async_commit=0; %llu in %.2f s; %.3f ms each%s",
		(unsigned long long) ts1.commits, ts1.secs, 1e3 / ts1.per_s, note);
	snprintf(name, sizeof(name), "treestore durable commit, %d threads", tsn.threads);
	wal_note(note, sizeof(note), &tsn);
	row(name, tsn.per_s, "commits/s",
		"sync=1 async_commit=0; %llu in %.2f s; mean latency %.3f ms%s",
		(unsigned long long) tsn.commits, tsn.secs, 1e3 * tsn.threads / tsn.per_s, note);
	row("sqlite WAL synchronous=FULL, 1 thread", sq1.per_s, "commits/s",
		"%llu in %.2f s; %.3f ms each", (unsigned long long) sq1.commits, sq1.secs,
		1e3 / sq1.per_s);
	snprintf(name, sizeof(name), "sqlite WAL synchronous=FULL, %d threads", sqn.threads);
	row(name, sqn.per_s, "commits/s", "%llu in %.2f s; mean latency %.3f ms",
		(unsigned long long) sqn.commits, sqn.secs, 1e3 * sqn.threads / sqn.per_s);
	row("treestore 1 thread / raw fdatasync", ts1.per_s / raw.per_s, "ratio", "");
	snprintf(name, sizeof(name), "treestore %d threads / 1 thread", tsn.threads);
	row(name, tsn.per_s / ts1.per_s, "ratio", "group commit");
	row("treestore 1 thread / sqlite 1 thread", ts1.per_s / sq1.per_s, "ratio", "");
	snprintf(name, sizeof(name), "treestore / sqlite, %d threads", tsn.threads);
	row(name, tsn.per_s / sqn.per_s, "ratio", "");
	if (!cfg.skip_recovery)
	{
		row("recovery: WAL replayed by ts_env_open", rec.mb_per_s, "MB/s",
			"%s; %.1f MB in %.3f s", cfg.cold ? "cold" : "warm",
			rec.replay_bytes / 1e6, rec.open_secs);
		printf("%-40s %12s  %-9s %llu keys in %llu transactions of %d, built in %.1f s "
			   "(sync=0);\n%-64s log to replay (wal_end_lsn - checkpoint_lsn) %.1f MB; wal-* files: "
			   "%d, %.1f MB;\n%-64s ts_env_stat wal_bytes %.1f MB, checkpoints %llu;\n%-64s after recovery: last key present, %llu entries; "
			   "close (checkpoint) %.2f s\n",
			   "", "", "", (unsigned long long) rec.child.keys,
			   (unsigned long long) rec.child.txns, REC_TXN_KEYS, rec.child.build_secs, "",
			   rec.replay_bytes / 1e6, rec.wal_files, rec.wal_disk_bytes / 1e6, "",
			   rec.child.wal_bytes / 1e6,
			   (unsigned long long) rec.child.checkpoints, "",
			   (unsigned long long) rec.entries, rec.close_secs);
	}
	else
		printf("%-40s %12s  %-9s (--skip-recovery)\n", "recovery", "skipped", "");
	printf("(MB = 10^6 bytes; targets (issue 3): durable_commit_vs_fdatasync >= 0.8, "
		   "group_commit_speedup_16 >= 5, recovery_mb_per_s >= 200)\n\n");

	result("raw_fdatasync_per_s", raw.per_s);
	result("durable_commit_per_s", ts1.per_s);
	snprintf(name, sizeof(name), "durable_commit_%d_per_s", tsn.threads);
	result(name, tsn.per_s);
	result("sqlite_full_commit_per_s", sq1.per_s);
	snprintf(name, sizeof(name), "sqlite_full_commit_%d_per_s", sqn.threads);
	result(name, sqn.per_s);
	result("durable_commit_vs_fdatasync", ts1.per_s / raw.per_s);
	snprintf(name, sizeof(name), "group_commit_speedup_%d", tsn.threads);
	result(name, tsn.per_s / ts1.per_s);
	result("commit_vs_sqlite", ts1.per_s / sq1.per_s);
	snprintf(name, sizeof(name), "commit_%d_vs_sqlite_%d", tsn.threads, sqn.threads);
	result(name, tsn.per_s / sqn.per_s);
	if (!cfg.skip_recovery)
		result("recovery_mb_per_s", rec.mb_per_s);
	return 0;
}
