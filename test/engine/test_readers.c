/*
 * test_readers.c
 *	  Readers in other processes (engine/shared.c): processes that read the
 *	  data file on snapshots published by the writer, registered in the
 *	  shared reader table.
 *
 *	  - readers_basic: a reader sees each published commit, and TS_BUSY
 *	    while nothing is published or every slot is taken.
 *	  - readers_race_page_reuse: reader processes (small and large page
 *	    caches) check that every snapshot is whole (every key at the same
 *	    version, the right count) while the writer rewrites every page of the
 *	    tree at every commit, so freed pages are reused under them.
 *	  - readers_killed_holding_snapshot: a reader killed (SIGKILL) while it
 *	    holds an old snapshot pins pages only until the writer sees it gone.
 *	  - readers_writer_killed: the writer is killed; a reader's snapshot stays
 *	    readable; a new writer waits for it (TS_BUSY past open_wait_ms),
 *	    then recovers, and readers see its state.
 *	  - readers_conflict_base: a reader's conflict base (ts_env_set_base)
 *	    makes the writer check a later write from it (ts_txn_rebase).
 *
 *	  Children never use an environment opened before fork(): each opens its
 *	  own, and each is forked before the parent opens anything.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NKEYS 1500
#define VALLEN 120
#define SLOTS 8

static void *
shared_region(void)
{
	size_t		size = ts_shared_size(SLOTS);
	void	   *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		TH_FAIL("mmap: %s", strerror(errno));
	if (ts_shared_init(mem, size, SLOTS) != 0)
		TH_FAIL("ts_shared_init: %s", ts_last_error());
	return mem;
}

static void
options(ts_options *o, void *sh, int create)
{
	ts_options_init(o);
	o->sync = 0;
	o->shared = sh;
	o->background_checkpoints = 1;
	if (create)
		o->flags = TS_CREATE;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Commit version v: NKEYS keys of one of two key sets (alternating, so the
 * tree's shape changes), each with the value "v<version>" padded. */
static int
write_version(ts_env *env, ts_tree t, uint64_t v)
{
	ts_txn	   *w;
	char		key[32],
				val[VALLEN];
	int			rc;

	if ((rc = ts_txn_begin(env, 0, &w)) != 0)
		return rc;
	memset(val, 'x', sizeof(val));
	snprintf(val, sizeof(val), "v%llu", (unsigned long long) v);
	for (int i = 0; i < NKEYS && rc == 0; i++)
	{
		snprintf(key, sizeof(key), "%c%05d", v % 2 ? 'a' : 'b', i);
		rc = ts_put(w, t, key, strlen(key), val, sizeof(val), 0);
		if (rc == 0 && v > 1)
		{
			snprintf(key, sizeof(key), "%c%05d", v % 2 ? 'b' : 'a', i);
			rc = ts_del(w, t, key, strlen(key));
		}
	}
	if (rc != 0)
	{
		ts_txn_abort(w);
		return rc;
	}
	return ts_txn_commit(w);
}

/*
 * Read the whole tree in one snapshot: 0 and *version if it is whole,
 * TS_CORRUPT (with a message) if not, or the engine's error.
 */
static int
read_version(ts_txn *r, uint64_t *version)
{
	ts_tree		t;
	ts_cursor  *c;
	ts_slice	k,
				v;
	long		n = 0;
	int			rc;
	char		first[VALLEN];

	if ((rc = ts_tree_open(r, "t", 0, &t)) != 0)
		return rc;
	if ((rc = ts_cursor_open(r, t, &c)) != 0)
		return rc;
	for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
	{
		if ((rc = ts_cursor_get(c, &k, &v)) != 0)
			break;
		if (v.len != VALLEN)
		{
			rc = TS_CORRUPT;
			fprintf(stderr, "value of %zu bytes\n", v.len);
			break;
		}
		if (n == 0)
			memcpy(first, v.data, VALLEN);
		else if (memcmp(first, v.data, VALLEN) != 0)
		{
			rc = TS_CORRUPT;
			fprintf(stderr, "snapshot %llu mixes versions: %.12s and %.12s at key %.*s\n",
					(unsigned long long) ts_txn_snapshot(r), first, (const char *) v.data,
					(int) k.len, (const char *) k.data);
			break;
		}
		n++;
	}
	ts_cursor_close(c);
	if (rc != TS_NOTFOUND)
		return rc;
	if (n == 0)
		return TS_NOTFOUND;		/* the tree exists, version 1 is not written yet */
	if (n != NKEYS)
	{
		fprintf(stderr, "snapshot %llu has %ld keys, not %d\n",
				(unsigned long long) ts_txn_snapshot(r), n, NKEYS);
		return TS_CORRUPT;
	}
	*version = strtoull(first + 1, NULL, 10);
	return 0;
}

/* A writer's tree "t" with version 1. */
static ts_tree
make_t(ts_env *env)
{
	ts_txn	   *w;
	ts_tree		t;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, "t", TS_CREATE, &t));
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(write_version(env, t, 1));
	return t;
}

/* Attach, retrying while the writer has not created the file yet. */
static int
attach(const char *dir, void *sh, size_t cache, ts_env **env)
{
	ts_options	o;
	int			rc;

	options(&o, sh, 0);
	o.cache_pages = cache;
	for (int i = 0; i < 5000; i++)
	{
		if ((rc = ts_env_attach(dir, &o, env)) != ENOENT)
			return rc;
		usleep(1000);
	}
	return rc;
}

static int
begin_read(ts_env *env, ts_txn **r)
{
	int			rc;

	for (int i = 0; i < 10000; i++)
	{
		if ((rc = ts_txn_begin(env, TS_RDONLY, r)) != TS_BUSY)
			return rc;
		usleep(1000);
	}
	return rc;
}

static int
wait_child(pid_t pid)
{
	int			status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(readers_basic)
{
	const char *dir = th_tmpdir("readers-basic");
	void	   *sh = shared_region();
	ts_options	o;
	ts_env	   *wenv,
			   *renv[SLOTS + 1];
	ts_txn	   *r;
	ts_tree		t;
	uint64_t	v;

	options(&o, sh, 1);
	CHECK_OK(ts_env_open(dir, &o, &wenv));
	t = make_t(wenv);

	/* same process is fine too: the protocol does not care */
	CHECK_OK(attach(dir, sh, 64, &renv[0]));
	CHECK_OK(ts_txn_begin(renv[0], TS_RDONLY, &r));
	CHECK_OK(read_version(r, &v));
	CHECK(v == 1);
	CHECK_OK(write_version(wenv, t, 2));
	CHECK_OK(read_version(r, &v));
	CHECK(v == 1);				/* its snapshot */
	CHECK_ERR(ts_put(r, t, "k", 1, "v", 1, 0), TS_BAD_TXN);
	CHECK_OK(ts_txn_renew(r));
	CHECK_OK(read_version(r, &v));
	CHECK(v == 2);
	ts_txn_abort(r);
	CHECK_ERR(ts_txn_begin(renv[0], 0, &r), TS_BAD_TXN);

	/* every slot taken: TS_BUSY */
	for (int i = 1; i < SLOTS; i++)
		CHECK_OK(attach(dir, sh, 16, &renv[i]));
	CHECK_ERR(attach(dir, sh, 16, &renv[SLOTS]), TS_BUSY);
	for (int i = 1; i < SLOTS; i++)
		CHECK_OK(ts_env_close(renv[i]));

	/* nothing published once a writer opens: TS_BUSY, then it reads on */
	CHECK_OK(ts_env_close(wenv));
	CHECK_OK(ts_txn_begin(renv[0], TS_RDONLY, &r));	/* a clean close leaves it readable */
	CHECK_OK(read_version(r, &v));
	CHECK(v == 2);
	ts_txn_abort(r);
	CHECK_OK(ts_env_open(dir, &o, &wenv));
	CHECK_OK(write_version(wenv, t, 3));
	CHECK_OK(ts_txn_begin(renv[0], TS_RDONLY, &r));
	CHECK_OK(read_version(r, &v));
	CHECK(v == 3);
	ts_txn_abort(r);
	CHECK_OK(ts_env_close(renv[0]));
	CHECK_OK(ts_env_close(wenv));

	/* a region not initialized is refused */
	{
		char		junk[256] = {0};

		options(&o, junk, 0);
		CHECK_ERR(ts_env_attach(dir, &o, &renv[0]), TS_INVALID);
	}
	munmap(sh, ts_shared_size(SLOTS));
	th_rmdir(dir);
}

/* A reader process: whole snapshots until `until`; exit 0 if every one was
 * whole and versions never went backwards, 2 if too few were read. */
static int
reader_loop(const char *dir, void *sh, size_t cache, double seconds)
{
	ts_env	   *env;
	ts_txn	   *r;
	uint64_t	v,
				last = 0;
	long		snaps = 0,
				advanced = 0;
	double		until;
	int			rc;

	if ((rc = attach(dir, sh, cache, &env)) != 0)
	{
		fprintf(stderr, "reader: attach: %s\n", ts_last_error());
		return 1;
	}
	until = now_s() + seconds;
	while (now_s() < until)
	{
		if ((rc = begin_read(env, &r)) != 0)
		{
			fprintf(stderr, "reader: begin: %s\n", ts_last_error());
			return 1;
		}
		rc = read_version(r, &v);
		ts_txn_abort(r);
		if (rc == TS_NOTFOUND)
			continue;			/* not created yet */
		if (rc != 0)
		{
			fprintf(stderr, "reader: %s: %s\n", ts_strerror(rc), ts_last_error());
			return 1;
		}
		if (v < last)
		{
			fprintf(stderr, "reader: version went back from %llu to %llu\n",
					(unsigned long long) last, (unsigned long long) v);
			return 1;
		}
		advanced += v > last;
		last = v;
		snaps++;
	}
	ts_env_close(env);
	fprintf(stderr, "  reader (cache %zu pages): %ld whole snapshots, %ld new versions seen\n",
			cache, snaps, advanced);
	return snaps >= 20 && advanced >= 5 ? 0 : 2;
}

TEST(readers_race_page_reuse)
{
	const char *dir = th_tmpdir("readers-race");
	void	   *sh = shared_region();
	double		seconds = (double) (getenv("TS_READERS_SECONDS") ? atof(getenv("TS_READERS_SECONDS")) : 3.0);
	size_t		caches[3] = {16, 64, 8192};
	pid_t		kids[3];
	ts_options	o;
	ts_env	   *env;
	ts_tree		t;
	ts_stat		st;
	uint64_t	v = 1;
	double		until;

	for (int i = 0; i < 3; i++)
	{
		fflush(NULL);
		if ((kids[i] = fork()) == 0)
			_exit(reader_loop(dir, sh, caches[i], seconds + 0.5));
		CHECK(kids[i] > 0);
	}
	options(&o, sh, 1);
	o.max_dirty_pages = 2048;	/* checkpoints during the run too */
	CHECK_OK(ts_env_open(dir, &o, &env));
	t = make_t(env);
	until = now_s() + seconds + 1.0;
	while (now_s() < until)
	{
		CHECK_OK(write_version(env, t, ++v));
		if (v % 64 == 0)
			CHECK_OK(ts_env_checkpoint(env));	/* pages written at commit are not rewritten */
	}
	for (int i = 0; i < 3; i++)
		CHECK_MSG(wait_child(kids[i]) == 0, "reader %d failed", i);
	CHECK_OK(ts_env_stat(env, &st));
	fprintf(stderr, "  writer: %llu versions, file %llu pages, %llu free, %llu checkpoints\n",
			(unsigned long long) v, (unsigned long long) st.page_count,
			(unsigned long long) st.free_pages, (unsigned long long) st.checkpoints);
	/*
	 * Pages were reused: without reuse the file would hold every version
	 * (each rewrites about `live` pages); it holds a few (how many depends
	 * on when the readers and checkpoints let pages go).
	 */
	CHECK(v > 20);
	{
		uint64_t	live = NKEYS * (VALLEN + 16) / TS_PAGE_SIZE;

		CHECK_MSG(st.page_count * 4 < v * live, "file of %llu pages after %llu versions of %llu pages",
				  (unsigned long long) st.page_count, (unsigned long long) v,
				  (unsigned long long) live);
	}
	CHECK(st.checkpoints > 0);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));

	/* the file alone (no readers, no region) holds the last version */
	{
		ts_txn	   *r;
		uint64_t	got;

		options(&o, NULL, 0);
		CHECK_OK(ts_env_open(dir, &o, &env));
		CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
		CHECK_OK(read_version(r, &got));
		CHECK(got == v);
		ts_txn_abort(r);
		CHECK_OK(ts_env_check(env));
		CHECK_OK(ts_env_close(env));
	}
	munmap(sh, ts_shared_size(SLOTS));
	th_rmdir(dir);
}

TEST(readers_killed_holding_snapshot)
{
	const char *dir = th_tmpdir("readers-killed");
	void	   *sh = shared_region();
	int			fds[2];
	pid_t		kid;
	ts_options	o;
	ts_env	   *env;
	ts_tree		t;
	ts_stat		st;
	uint64_t	held = 0,
				pages_before,
				v = 2;
	double		until;

	CHECK(pipe(fds) == 0);
	fflush(NULL);
	if ((kid = fork()) == 0)
	{
		ts_env	   *renv;
		ts_txn	   *r;
		uint64_t	snap;

		close(fds[0]);
		if (attach(dir, sh, 64, &renv) != 0)
			_exit(1);
		for (;;)
		{
			if (begin_read(renv, &r) != 0)
				_exit(1);
			if (ts_tree_open(r, "t", 0, &(ts_tree) {0}) == 0)
				break;
			ts_txn_abort(r);
			usleep(1000);
		}
		snap = ts_txn_snapshot(r);
		if (write(fds[1], &snap, sizeof(snap)) != sizeof(snap))
			_exit(1);
		for (;;)
			pause();			/* holding r until killed */
	}
	close(fds[1]);
	options(&o, sh, 1);
	CHECK_OK(ts_env_open(dir, &o, &env));
	t = make_t(env);
	CHECK(read(fds[0], &held, sizeof(held)) == sizeof(held));
	close(fds[0]);
	for (; v < 40; v++)
		CHECK_OK(write_version(env, t, v));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK_MSG(st.oldest_reader == held, "oldest reader %llu, the child holds %llu",
			  (unsigned long long) st.oldest_reader, (unsigned long long) held);
	CHECK(st.pinned_pages > 0);
	pages_before = st.page_count;

	kill(kid, SIGKILL);
	CHECK(wait_child(kid) == 128 + SIGKILL);
	/* the background thread frees its slot within about a second */
	until = now_s() + 5;
	do
	{
		usleep(50000);
		CHECK_OK(write_version(env, t, v++));
		CHECK_OK(ts_env_stat(env, &st));
	} while (st.oldest_reader <= held && now_s() < until);
	CHECK_MSG(st.oldest_reader > held, "the dead reader still pins snapshot %llu",
			  (unsigned long long) held);
	pages_before = st.page_count;
	/* its pages are reused: more commits do not grow the file much */
	for (int i = 0; i < 40; i++)
		CHECK_OK(write_version(env, t, v++));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK_MSG(st.page_count <= pages_before + pages_before / 4,
			  "file grew from %llu to %llu pages", (unsigned long long) pages_before,
			  (unsigned long long) st.page_count);
	CHECK_OK(ts_env_close(env));
	munmap(sh, ts_shared_size(SLOTS));
	th_rmdir(dir);
}

/* A writer process: commits versions 2, 3, ... and reports each one
 * committed on fd; never closes (it is killed). */
static void
writer_child(const char *dir, void *sh, int fd)
{
	ts_options	o;
	ts_env	   *env;
	ts_tree		t;
	ts_txn	   *w;

	options(&o, sh, 1);
	if (ts_env_open(dir, &o, &env) != 0 || ts_txn_begin(env, 0, &w) != 0 ||
		ts_tree_open(w, "t", TS_CREATE, &t) != 0 || ts_txn_commit(w) != 0)
		_exit(1);
	for (uint64_t v = 1;; v++)
	{
		if (write_version(env, t, v) != 0)
			_exit(1);
		if (write(fd, &v, sizeof(v)) != sizeof(v))
			_exit(1);
	}
}

/* Open as the next writer with open_wait_ms = wait; exit 0 once it has
 * found at least version `minv` recovered and committed the version after
 * it, closed cleanly; 3 on TS_BUSY, 4 if recovery lost a version. */
static int
next_writer(const char *dir, void *sh, uint32_t wait, uint64_t minv)
{
	uint64_t	have;

	ts_options	o;
	ts_env	   *env;
	ts_txn	   *w;
	ts_tree		t;
	int			rc;

	options(&o, sh, 0);
	o.open_wait_ms = wait;
	rc = ts_env_open(dir, &o, &env);
	if (rc == TS_BUSY)
		return 3;
	if (rc != 0 || (rc = ts_txn_begin(env, 0, &w)) != 0 || (rc = ts_tree_open(w, "t", 0, &t)) != 0 ||
		(rc = read_version(w, &have)) != 0)
	{
		fprintf(stderr, "next writer: %s: %s\n", ts_strerror(rc), ts_last_error());
		return 1;
	}
	ts_txn_abort(w);
	if (have < minv)
	{
		fprintf(stderr, "recovered version %llu, expected at least %llu\n",
				(unsigned long long) have, (unsigned long long) minv);
		return 4;
	}
	if ((rc = write_version(env, t, have + 1)) != 0 || (rc = ts_env_close(env)) != 0)
	{
		fprintf(stderr, "next writer: %s: %s\n", ts_strerror(rc), ts_last_error());
		return 1;
	}
	return 0;
}

TEST(readers_writer_killed)
{
	const char *dir = th_tmpdir("readers-wkill");
	void	   *sh = shared_region();
	int			fds[2];
	pid_t		kid;
	ts_env	   *renv;
	ts_txn	   *r;
	uint64_t	v = 0,
				seen = 0,
				got;

	CHECK(pipe(fds) == 0);
	fflush(NULL);
	if ((kid = fork()) == 0)
	{
		close(fds[0]);
		writer_child(dir, sh, fds[1]);
	}
	close(fds[1]);
	/* wait for some versions, then take a snapshot and kill the writer */
	while (v < 30)
		CHECK(read(fds[0], &v, sizeof(v)) == sizeof(v));
	CHECK_OK(attach(dir, sh, 256, &renv));
	CHECK_OK(begin_read(renv, &r));
	CHECK_OK(read_version(r, &seen));
	CHECK(seen >= 30);
	kill(kid, SIGKILL);
	CHECK(wait_child(kid) == 128 + SIGKILL);
	while (read(fds[0], &got, sizeof(got)) == sizeof(got))
		v = got;				/* the last version it reported committed */
	close(fds[0]);

	/* the snapshot stays whole and readable with no writer */
	CHECK_OK(read_version(r, &got));
	CHECK(got == seen);

	/* a new writer may not replay under it: it gives up after its wait */
	fflush(NULL);
	if ((kid = fork()) == 0)
		_exit(next_writer(dir, sh, 200, 0));
	CHECK_MSG(wait_child(kid) == 3, "the next writer did not wait for the reader");
	CHECK_ERR(ts_txn_begin(renv, TS_RDONLY, &(ts_txn *) {NULL}), TS_BUSY);	/* withdrawn */
	CHECK_OK(read_version(r, &got));	/* still whole */
	CHECK(got == seen);

	/* once the reader lets go, the next writer recovers and goes on */
	ts_txn_abort(r);
	fflush(NULL);
	if ((kid = fork()) == 0)
		_exit(next_writer(dir, sh, 5000, v));
	CHECK_MSG((got = wait_child(kid)) == 0, "the next writer exited with %d", (int) got);
	CHECK_OK(begin_read(renv, &r));
	CHECK_OK(read_version(r, &got));
	CHECK_MSG(got > v, "reader sees version %llu, the dead writer reported %llu",
			  (unsigned long long) got, (unsigned long long) v);
	v = got;
	ts_txn_abort(r);
	CHECK_OK(ts_env_close(renv));

	/* the new writer's commit is durable for a plain open too */
	{
		ts_options	o;
		ts_env	   *env;
		ts_txn	   *w;

		options(&o, NULL, 0);
		CHECK_OK(ts_env_open(dir, &o, &env));
		CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
		CHECK_OK(read_version(w, &got));
		CHECK(got == v);
		ts_txn_abort(w);
		CHECK_OK(ts_env_check(env));
		CHECK_OK(ts_env_close(env));
	}
	CHECK(v > seen);
	munmap(sh, ts_shared_size(SLOTS));
	th_rmdir(dir);
}

/* 600 commits of keys of their own: the conflict table is walked */
static void
churn(ts_env *env, ts_tree t, int round)
{
	for (int i = 0; i < 600; i++)
	{
		ts_txn	   *w;
		char		key[32];

		snprintf(key, sizeof(key), "c%d-%d", round, i);
		CHECK_OK(ts_txn_begin(env, 0, &w));
		CHECK_OK(ts_put(w, t, key, strlen(key), "x", 1, 0));
		CHECK_OK(ts_txn_commit(w));
	}
}

/*
 * A reader that writes later through the writer: with its conflict base set
 * while it read, a key committed since is a conflict for the writer's
 * transaction rebased there; a key nobody wrote is not; without a base the
 * writer cannot tell and refuses.
 */
TEST(readers_conflict_base)
{
	const char *dir = th_tmpdir("readers-base");
	void	   *sh = shared_region();
	ts_options	o;
	ts_env	   *wenv,
			   *renv;
	ts_txn	   *r,
			   *w,
			   *other;
	ts_tree		t;
	uint64_t	base;

	options(&o, sh, 1);
	CHECK_OK(ts_env_open(dir, &o, &wenv));
	CHECK_OK(ts_txn_begin(wenv, 0, &w));
	CHECK_OK(ts_tree_open(w, "k", TS_CREATE, &t));
	CHECK_OK(ts_put(w, t, "a", 1, "0", 1, 0));
	CHECK_OK(ts_put(w, t, "b", 1, "0", 1, 0));
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(attach(dir, sh, 64, &renv));

	/* the reader reads, sets its base, its read ends */
	CHECK_OK(ts_txn_begin(renv, TS_RDONLY, &r));
	base = ts_txn_snapshot(r);
	CHECK_OK(ts_env_set_base(renv, base));
	ts_txn_abort(r);
	CHECK_ERR(ts_env_set_base(wenv, base), TS_INVALID);

	/* another transaction commits "a", then many others (the table is pruned) */
	CHECK_OK(ts_txn_begin(wenv, 0, &other));
	CHECK_OK(ts_put(other, t, "a", 1, "1", 1, 0));
	CHECK_OK(ts_txn_commit(other));
	churn(wenv, t, 0);

	/* the reader's write of "a", begun now, rebased: the later committer */
	CHECK_OK(ts_txn_begin(wenv, 0, &w));
	CHECK_OK(ts_txn_rebase(w, base));
	CHECK_OK(ts_put(w, t, "a", 1, "2", 1, 0));
	CHECK_ERR(ts_txn_commit(w), TS_CONFLICT);
	/* of "b": no conflict */
	CHECK_OK(ts_txn_begin(wenv, 0, &w));
	CHECK_OK(ts_txn_rebase(w, base));
	CHECK_OK(ts_put(w, t, "b", 1, "2", 1, 0));
	CHECK_OK(ts_txn_commit(w));

	/* without a base the writer cannot tell: refused */
	CHECK_OK(ts_env_set_base(renv, 0));
	CHECK_OK(ts_txn_begin(wenv, 0, &other));
	CHECK_OK(ts_put(other, t, "a", 1, "3", 1, 0));
	CHECK_OK(ts_txn_commit(other));
	churn(wenv, t, 1);
	CHECK_OK(ts_txn_begin(wenv, 0, &w));
	CHECK_ERR(ts_txn_rebase(w, base), TS_CONFLICT);
	ts_txn_abort(w);

	CHECK_OK(ts_env_close(renv));
	CHECK_OK(ts_env_close(wenv));
	munmap(sh, ts_shared_size(SLOTS));
	th_rmdir(dir);
}

TEST_MAIN(readers_basic, readers_race_page_reuse, readers_killed_holding_snapshot,
		  readers_writer_killed, readers_conflict_base)
