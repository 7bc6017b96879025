/*-------------------------------------------------------------------------
 *
 * test_commit.c
 *	  Concurrent committers (commit.c, COMMIT: the commit queue, batches of
 *	  commits applied together) and checkpoints taken while they commit
 *	  (commit.c, CHECKPOINT: pages written without commit_lock); the
 *	  background thread's signal mask.
 *
 *	  - Writers, each on its own keys: every commit puts key i and the
 *	    writer's count key (i + 1), overwrites key i - 1, deletes key i - 3;
 *	    every seventh value is large enough for an overflow chain.
 *	    Counter threads increment shared counters, retrying on TS_CONFLICT
 *	    (increments of one counter often meet in one batch).  A thread calls
 *	    ts_env_checkpoint in a loop and max_dirty_pages is small, so
 *	    committers take checkpoints too, with a small cache.  Readers check
 *	    that every snapshot holds whole commits: where a writer's count key
 *	    says n, key n - 1 holds the value commit n - 1 gave it (commit n
 *	    would overwrite it) and key n is absent.
 *	  - At the end every acknowledged write is there with its value, the
 *	    counters add up, ts_env_check passes; again after close and reopen.
 *	  - A child process commits from many threads and exits without
 *	    closing: recovery replays the batches commit by commit and every
 *	    acknowledged commit is there.
 *	  - The engine's background thread blocks every signal (it runs inside
 *	    PostgreSQL processes, whose handlers must run on the main thread),
 *	    and opening the environment leaves the caller's mask as it was.
 *
 *	  TS_GC_ITERS scales the writers' commits (default 400: each writer
 *	  commits twice that without sync, half of it with sync and in the
 *	  recovery test).
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "faultvfs.h"

#define WRITERS		8
#define COUNTERS	4			/* shared counters and threads incrementing them */
#define READERS		2
#define BIG			3000		/* an overflow value */

static long
env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return (s && *s) ? strtol(s, NULL, 0) : dflt;
}

typedef struct shared
{
	ts_env	   *env;
	ts_tree		tree;
	long		iters;
	atomic_int	stop;			/* writers done: readers, checkpointer stop */
	atomic_int	writers_left;
	atomic_long counter_ok[COUNTERS];
	atomic_long checkpoints;
	atomic_long snapshots;
	char		err[512];		/* first failure in a thread */
	pthread_mutex_t err_lock;
} shared;

static void
fail(shared *sh, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
fail(shared *sh, const char *fmt,...)
{
	va_list		ap;

	pthread_mutex_lock(&sh->err_lock);
	if (sh->err[0] == '\0')
	{
		va_start(ap, fmt);
		vsnprintf(sh->err, sizeof(sh->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&sh->err_lock);
	atomic_store(&sh->stop, 1);
}

static size_t
wkey(char *k, int w, long i)
{
	return (size_t) sprintf(k, "w%02d-%06ld", w, i);
}

static size_t
ckey(char *k, int w)
{
	return (size_t) sprintf(k, "n%02d", w);
}

/* The value commit `c` of writer w gives key i: "w:i:c:" then filler. */
static size_t
wval(uint8_t *v, int w, long i, long c)
{
	int			n = sprintf((char *) v, "%d:%ld:%ld:", w, i, c);
	size_t		len = (c % 7 == 3) ? BIG : 20 + (size_t) (c % 50);

	for (size_t j = (size_t) n; j < len; j++)
		v[j] = (uint8_t) ('a' + (w + i + c + (long) j) % 26);
	return len;
}

typedef struct wstate
{
	shared	   *sh;
	int			w;
	long		done;			/* commits acknowledged */
	long	   *ver;			/* key i: commit that last wrote it, -1 deleted/absent */
} wstate;

/* Writer w's commit c (c = 0, 1, ...). */
static int
writer_commit(ts_env *env, ts_tree tree, int w, long c, long *ver)
{
	ts_txn	   *t;
	char		k[32];
	uint8_t		v[BIG + 64];
	char		nbuf[32];
	size_t		kl,
				vl;
	int			rc;

	if ((rc = ts_txn_begin(env, 0, &t)) != 0)
		return rc;
	kl = wkey(k, w, c);
	vl = wval(v, w, c, c);
	rc = ts_put(t, tree, k, kl, v, vl, 0);
	if (rc == 0 && c >= 1)
	{
		kl = wkey(k, w, c - 1);
		vl = wval(v, w, c - 1, c);
		rc = ts_put(t, tree, k, kl, v, vl, 0);
	}
	if (rc == 0 && c >= 3)
	{
		kl = wkey(k, w, c - 3);
		rc = ts_del(t, tree, k, kl);
	}
	if (rc == 0)
	{
		kl = ckey(k, w);
		vl = (size_t) sprintf(nbuf, "%ld", c + 1);
		rc = ts_put(t, tree, k, kl, nbuf, vl, 0);
	}
	if (rc != 0)
	{
		ts_txn_abort(t);
		return rc;
	}
	if ((rc = ts_txn_commit(t)) != 0)
		return rc;
	if (ver)
	{
		ver[c] = c;
		if (c >= 1)
			ver[c - 1] = c;
		if (c >= 3)
			ver[c - 3] = -1;
	}
	return 0;
}

static void *
writer_main(void *arg)
{
	wstate	   *ws = arg;
	shared	   *sh = ws->sh;

	for (long c = 0; c < sh->iters && !atomic_load(&sh->stop); c++)
	{
		int			rc = writer_commit(sh->env, sh->tree, ws->w, c, ws->ver);

		if (rc != 0)
		{
			fail(sh, "writer %d commit %ld: %d (%s): %s", ws->w, c, rc, ts_strerror(rc),
				 ts_last_error());
			break;
		}
		ws->done = c + 1;
	}
	if (atomic_fetch_sub(&sh->writers_left, 1) == 1)
		atomic_store(&sh->stop, 1);
	return NULL;
}

static void *
counter_main(void *arg)
{
	shared	   *sh = ((wstate *) arg)->sh;
	int			me = ((wstate *) arg)->w;
	unsigned	seed = (unsigned) me * 7919u + 1;

	while (!atomic_load(&sh->stop))
	{
		int			c = (int) (rand_r(&seed) % COUNTERS);
		char		k[16];
		ts_txn	   *t;
		ts_slice	s;
		long		val = 0;
		char		buf[32];
		int			rc;

		sprintf(k, "ctr%d", c);
		if ((rc = ts_txn_begin(sh->env, 0, &t)) != 0)
		{
			fail(sh, "counter begin: %s", ts_last_error());
			break;
		}
		rc = ts_get(t, sh->tree, k, strlen(k), &s);
		if (rc == 0)
		{
			memcpy(buf, s.data, s.len);
			buf[s.len] = '\0';
			val = atol(buf);
		}
		else if (rc != TS_NOTFOUND)
		{
			ts_txn_abort(t);
			fail(sh, "counter get: %s", ts_last_error());
			break;
		}
		sprintf(buf, "%ld", val + 1);
		if ((rc = ts_put(t, sh->tree, k, strlen(k), buf, strlen(buf), 0)) != 0)
		{
			ts_txn_abort(t);
			fail(sh, "counter put: %s", ts_last_error());
			break;
		}
		rc = ts_txn_commit(t);
		if (rc == 0)
			atomic_fetch_add(&sh->counter_ok[c], 1);
		else if (rc != TS_CONFLICT)
		{
			fail(sh, "counter commit: %d: %s", rc, ts_last_error());
			break;
		}
	}
	return NULL;
}

static void *
checkpointer_main(void *arg)
{
	shared	   *sh = arg;

	while (!atomic_load(&sh->stop))
	{
		struct timespec d = {0, 2 * 1000 * 1000};
		int			rc = ts_env_checkpoint(sh->env);

		if (rc != 0)
		{
			fail(sh, "ts_env_checkpoint: %d: %s", rc, ts_last_error());
			break;
		}
		atomic_fetch_add(&sh->checkpoints, 1);
		nanosleep(&d, NULL);
	}
	return NULL;
}

/* Does this snapshot hold whole commits of every writer? */
static int
check_snapshot(shared *sh, ts_txn *t, char *why, size_t whylen)
{
	for (int w = 0; w < WRITERS; w++)
	{
		char		k[32],
					buf[32];
		ts_slice	s;
		size_t		kl = ckey(k, w);
		long		n;
		int			rc = ts_get(t, sh->tree, k, kl, &s);

		if (rc == TS_NOTFOUND)
			continue;
		if (rc != 0 || s.len >= sizeof(buf))
			return snprintf(why, whylen, "count key of writer %d: %d", w, rc), -1;
		memcpy(buf, s.data, s.len);
		buf[s.len] = '\0';
		n = atol(buf);
		/* key n - 1: written by commit n - 1 */
		kl = wkey(k, w, n - 1);
		if ((rc = ts_get(t, sh->tree, k, kl, &s)) != 0)
			return snprintf(why, whylen, "writer %d count %ld but key %ld: %d", w, n, n - 1, rc), -1;
		{
			uint8_t		v[BIG + 64];
			size_t		vl = wval(v, w, n - 1, n - 1);

			if (s.len != vl || memcmp(s.data, v, vl) != 0)
				return snprintf(why, whylen, "writer %d count %ld: key %ld holds another value", w, n,
								n - 1), -1;
		}
		kl = wkey(k, w, n);
		if ((rc = ts_get(t, sh->tree, k, kl, &s)) != TS_NOTFOUND)
			return snprintf(why, whylen, "writer %d count %ld but key %ld: %d", w, n, n, rc), -1;
	}
	return 0;
}

static void *
reader_main(void *arg)
{
	shared	   *sh = arg;

	while (!atomic_load(&sh->stop))
	{
		ts_txn	   *t;
		char		why[256];

		if (ts_txn_begin(sh->env, TS_RDONLY, &t) != 0)
		{
			fail(sh, "reader begin: %s", ts_last_error());
			break;
		}
		if (check_snapshot(sh, t, why, sizeof(why)) != 0)
		{
			ts_txn_abort(t);
			fail(sh, "snapshot %llu: %s", (unsigned long long) ts_txn_snapshot(t), why);
			break;
		}
		ts_txn_abort(t);
		atomic_fetch_add(&sh->snapshots, 1);
	}
	return NULL;
}

/* Every writer's keys as its model says, and the counters. */
static void
verify_all(ts_env *env, ts_tree tree, wstate *ws, long *counters)
{
	ts_txn	   *t;

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	for (int w = 0; w < WRITERS; w++)
		for (long i = 0; i < ws[w].done; i++)
		{
			char		k[32];
			uint8_t		v[BIG + 64];
			size_t		kl = wkey(k, w, i);
			ts_slice	s;
			int			rc = ts_get(t, tree, k, kl, &s);

			if (ws[w].ver[i] < 0)
				CHECK_MSG(rc == TS_NOTFOUND, "writer %d key %ld deleted, get gave %d", w, i, rc);
			else
			{
				size_t		vl = wval(v, w, i, ws[w].ver[i]);

				CHECK_MSG(rc == 0, "writer %d key %ld missing (%d)", w, i, rc);
				CHECK_MSG(s.len == vl && memcmp(s.data, v, vl) == 0,
						  "writer %d key %ld: wrong value", w, i);
			}
		}
	for (int c = 0; counters && c < COUNTERS; c++)
	{
		char		k[16],
					buf[32];
		ts_slice	s;
		long		val = 0;
		int			rc;

		sprintf(k, "ctr%d", c);
		rc = ts_get(t, tree, k, strlen(k), &s);
		if (rc == 0)
		{
			memcpy(buf, s.data, s.len);
			buf[s.len] = '\0';
			val = atol(buf);
		}
		else
			CHECK(rc == TS_NOTFOUND);
		CHECK_MSG(val == counters[c], "counter %d is %ld after %ld increments", c, val, counters[c]);
	}
	ts_txn_abort(t);
}

static ts_env *
open_env(const char *dir, int sync, int create)
{
	ts_options	o;
	ts_env	   *env = NULL;

	ts_options_init(&o);
	o.sync = sync;
	o.cache_pages = 256;
	o.max_dirty_pages = 64;
	o.wal_segment_size = 256 * 1024;
	if (create)
		o.flags = TS_CREATE;
	CHECK_OK(ts_env_open(dir, &o, &env));
	return env;
}

static ts_tree
open_tree(ts_env *env)
{
	ts_txn	   *t;
	ts_tree		tree;

	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, "kv", TS_CREATE, &tree));
	CHECK_OK(ts_txn_commit(t));
	return tree;
}

static void
run_concurrent(int sync, long iters)
{
	const char *dir = th_tmpdir(sync ? "gc-sync" : "gc");
	shared		sh;
	wstate		ws[WRITERS],
				cs[COUNTERS];
	pthread_t	wt[WRITERS],
				ct[COUNTERS],
				rt[READERS],
				kt;
	long		counters[COUNTERS];
	ts_stat		st;

	memset(&sh, 0, sizeof(sh));
	pthread_mutex_init(&sh.err_lock, NULL);
	sh.env = open_env(dir, sync, 1);
	sh.tree = open_tree(sh.env);
	sh.iters = iters;
	atomic_store(&sh.writers_left, WRITERS);
	for (int w = 0; w < WRITERS; w++)
	{
		ws[w].sh = &sh;
		ws[w].w = w;
		ws[w].done = 0;
		ws[w].ver = calloc((size_t) iters, sizeof(long));
		CHECK(ws[w].ver != NULL);
		CHECK(pthread_create(&wt[w], NULL, writer_main, &ws[w]) == 0);
	}
	for (int c = 0; c < COUNTERS; c++)
	{
		cs[c].sh = &sh;
		cs[c].w = c;
		CHECK(pthread_create(&ct[c], NULL, counter_main, &cs[c]) == 0);
	}
	for (int r = 0; r < READERS; r++)
		CHECK(pthread_create(&rt[r], NULL, reader_main, &sh) == 0);
	CHECK(pthread_create(&kt, NULL, checkpointer_main, &sh) == 0);
	for (int w = 0; w < WRITERS; w++)
		pthread_join(wt[w], NULL);
	for (int c = 0; c < COUNTERS; c++)
		pthread_join(ct[c], NULL);
	for (int r = 0; r < READERS; r++)
		pthread_join(rt[r], NULL);
	pthread_join(kt, NULL);
	CHECK_MSG(sh.err[0] == '\0', "%s", sh.err);
	for (int c = 0; c < COUNTERS; c++)
		counters[c] = atomic_load(&sh.counter_ok[c]);

	CHECK_OK(ts_env_stat(sh.env, &st));
	printf("# sync=%d: %llu commits in %llu WAL flushes, %llu checkpoints (%ld by the thread), "
		   "%ld snapshots checked, %llu conflicts\n", sync,
		   (unsigned long long) st.commits, (unsigned long long) st.wal_flushes,
		   (unsigned long long) st.checkpoints, atomic_load(&sh.checkpoints),
		   atomic_load(&sh.snapshots), (unsigned long long) st.conflicts);
	CHECK(st.checkpoints > 0);
	verify_all(sh.env, sh.tree, ws, counters);
	CHECK_OK(ts_env_check(sh.env));
	CHECK_OK(ts_env_close(sh.env));

	/* after a clean close */
	sh.env = open_env(dir, sync, 0);
	verify_all(sh.env, sh.tree, ws, counters);
	CHECK_OK(ts_env_check(sh.env));
	CHECK_OK(ts_env_close(sh.env));
	for (int w = 0; w < WRITERS; w++)
		free(ws[w].ver);
	pthread_mutex_destroy(&sh.err_lock);
	th_rmdir(dir);
}

TEST(test_concurrent_commits_and_checkpoints)
{
	run_concurrent(0, env_long("TS_GC_ITERS", 400) * 2);
}

TEST(test_concurrent_commits_and_checkpoints_sync)
{
	run_concurrent(1, env_long("TS_GC_ITERS", 400) / 2);
}

/* The child: WRITERS threads commit `iters` each, then exit without closing. */
static void
child_commits(const char *dir, long iters)
{
	shared		sh;
	wstate		ws[WRITERS];
	pthread_t	wt[WRITERS];
	ts_options	o;

	memset(&sh, 0, sizeof(sh));
	pthread_mutex_init(&sh.err_lock, NULL);
	ts_options_init(&o);
	o.sync = 1;
	o.flags = TS_CREATE;
	o.wal_segment_size = 256 * 1024;
	if (ts_env_open(dir, &o, &sh.env) != 0)
		_exit(2);
	{
		ts_txn	   *t;

		if (ts_txn_begin(sh.env, 0, &t) != 0 || ts_tree_open(t, "kv", TS_CREATE, &sh.tree) != 0 ||
			ts_txn_commit(t) != 0)
			_exit(3);
	}
	sh.iters = iters;
	atomic_store(&sh.writers_left, WRITERS);
	for (int w = 0; w < WRITERS; w++)
	{
		ws[w].sh = &sh;
		ws[w].w = w;
		ws[w].ver = NULL;
		if (pthread_create(&wt[w], NULL, writer_main, &ws[w]) != 0)
			_exit(4);
	}
	for (int w = 0; w < WRITERS; w++)
		pthread_join(wt[w], NULL);
	_exit(sh.err[0] ? 5 : 0);	/* no close: no checkpoint, recovery replays */
}

TEST(test_recovery_replays_batches)
{
	const char *dir = th_tmpdir("gc-rec");
	long		iters = env_long("TS_GC_ITERS", 400) / 2;
	pid_t		pid;
	int			status;
	ts_env	   *env;
	ts_tree		tree;
	wstate		ws[WRITERS];
	ts_stat		st;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		child_commits(dir, iters);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)", status);

	/* every writer committed all: the model follows from the count */
	for (int w = 0; w < WRITERS; w++)
	{
		ws[w].w = w;
		ws[w].done = iters;
		ws[w].ver = calloc((size_t) iters, sizeof(long));
		CHECK(ws[w].ver != NULL);
		for (long c = 0; c < iters; c++)
		{
			ws[w].ver[c] = c;
			if (c >= 1)
				ws[w].ver[c - 1] = c;
			if (c >= 3)
				ws[w].ver[c - 3] = -1;
		}
	}
	env = open_env(dir, 1, 0);
	tree = open_tree(env);
	CHECK_OK(ts_env_stat(env, &st));
	CHECK_MSG(st.txnid == 1 + (uint64_t) (WRITERS * iters), "txnid %llu after %ld commits",
			  (unsigned long long) st.txnid, 1 + WRITERS * iters);
	verify_all(env, tree, ws, NULL);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	for (int w = 0; w < WRITERS; w++)
		free(ws[w].ver);
	th_rmdir(dir);
}

/* The blocked-signal mask of thread tid, from /proc (0 if unreadable). */
static unsigned long long
sigblk(long tid)
{
	char		path[64],
				line[256];
	unsigned long long m = 0;
	FILE	   *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "SigBlk:", 7) == 0)
			m = strtoull(line + 7, NULL, 16);
	fclose(f);
	return m;
}

TEST(test_background_thread_blocks_signals)
{
	const char *dir = th_tmpdir("gc-sig");
	int			sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,
	SIGTERM, SIGCHLD, SIGURG};
	sigset_t	mine,
				after;
	ts_env	   *env;
	DIR		   *d;
	struct dirent *e;
	int			others = 0;
	long		self = (long) getpid();

	/* the caller's mask: SIGUSR2 blocked, nothing else */
	sigemptyset(&mine);
	sigaddset(&mine, SIGUSR2);
	CHECK(pthread_sigmask(SIG_SETMASK, &mine, NULL) == 0);
	env = open_env(dir, 0, 1);
	CHECK(pthread_sigmask(SIG_SETMASK, NULL, &after) == 0);
	CHECK(sigismember(&after, SIGUSR2) == 1);
	CHECK(sigismember(&after, SIGTERM) == 0 && sigismember(&after, SIGINT) == 0);

	/* every other thread of this (single-threaded) test is the engine's */
	d = opendir("/proc/self/task");
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
	{
		long		tid = atol(e->d_name);
		unsigned long long m;

		if (tid <= 0 || tid == self)
			continue;
		others++;
		m = sigblk(tid);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			CHECK_MSG(m & (1ULL << (sigs[i] - 1)), "thread %ld does not block signal %d (SigBlk %llx)",
					  tid, sigs[i], m);
	}
	closedir(d);
	CHECK_MSG(others >= 1, "no background thread found");
	CHECK_OK(ts_env_close(env));
	sigemptyset(&mine);
	CHECK(pthread_sigmask(SIG_SETMASK, &mine, NULL) == 0);
	th_rmdir(dir);
}

/*
 * The background thread takes checkpoints (asked by committers, by log
 * size, by time; it wakes every millisecond) while this thread commits, reads ts_env_stat and takes
 * checkpoints too; then a data-file write fails and poisons the
 * environment, from whichever thread checkpoints next.  Meant for the
 * ThreadSanitizer build (build-tsan/): the checkpoint LSN and time and the
 * poisoned flag are shared between those threads (issue 12, item 18).
 */
TEST(test_background_checkpoint_shared_state)
{
	const char *dir = th_tmpdir("gc-bgstate");
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	ts_options	o;
	ts_env	   *env;
	ts_stat		st;
	ts_tree		t;
	ts_txn	   *w;
	int			rc = 0,
				i;

	ts_options_init(&o);
	o.flags = TS_CREATE;
	o.sync = 0;
	o.vfs = vfs;
	o.background_checkpoints = 1;
	o.max_dirty_pages = 16;		/* committers ask the thread for checkpoints */
	o.async_commit = 1;			/* and it wakes every millisecond */
	o.async_flush_ms = 1;
	o.checkpoint_interval_ms = 1;
	o.checkpoint_wal_bytes = 8192;
	CHECK_OK(ts_env_open(dir, &o, &env));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, "t", TS_CREATE, &t));
	CHECK_OK(ts_txn_commit(w));
	for (i = 0; i < 300; i++)
	{
		char		k[32];

		snprintf(k, sizeof(k), "key%04d", i % 50);
		CHECK_OK(ts_txn_begin(env, 0, &w));
		CHECK_OK(ts_put(w, t, k, strlen(k), k, strlen(k), 0));
		CHECK_OK(ts_txn_commit(w));
		CHECK_OK(ts_env_stat(env, &st));
		CHECK(!st.poisoned);
		if (i % 25 == 0)
			CHECK_OK(ts_env_checkpoint(env));
	}
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.checkpoints >= 12);
	/* the next data-file write fails: a checkpoint poisons the environment */
	faultvfs_fail_write(FAULTVFS(vfs), 1);
	for (i = 0; i < 100000 && rc == 0; i++)
	{
		char		k[32];

		snprintf(k, sizeof(k), "key%04d", i % 50);
		if ((rc = ts_txn_begin(env, 0, &w)) != 0)
			break;
		if ((rc = ts_put(w, t, k, strlen(k), k, strlen(k), 0)) != 0)
		{
			ts_txn_abort(w);
			break;
		}
		rc = ts_txn_commit(w);
		if (rc == 0 && i % 20 == 0)
			(void) ts_env_checkpoint(env);
	}
	CHECK_MSG(rc == TS_POISONED, "commits after a failed checkpoint write returned %d (%s)",
			  rc, ts_strerror(rc));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.poisoned == 1);
	(void) ts_env_close(env);
	faultvfs_free(vfs);
	th_rmdir(dir);
}

TEST_MAIN(test_concurrent_commits_and_checkpoints, test_concurrent_commits_and_checkpoints_sync,
		  test_recovery_replays_batches, test_background_thread_blocks_signals,
		  test_background_checkpoint_shared_state)
