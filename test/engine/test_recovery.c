/*
 * test_recovery.c
 *	  The write-ahead log through the public API: commits survive a process
 *	  that dies without closing (a forked child that _exit()s), replay after
 *	  checkpoints, prepared transactions come back in doubt and can be
 *	  committed or aborted, aborted ones stay gone, log segments are removed
 *	  behind checkpoints, async commits are durable after close, and
 *	  accept_wal_loss opens a log damaged in the middle, ending it there.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "harness.h"
#include "faultvfs.h"

static ts_options
opts(void)
{
	ts_options	o;

	ts_options_init(&o);
	o.flags = TS_CREATE;
	o.sync = 1;
	o.cache_pages = 512;
	o.wal_segment_size = 64 * 1024;
	o.checkpoint_interval_ms = 0;
	return o;
}

static ts_env *
open_dir(const char *dir, const ts_options *o)
{
	ts_env	   *env;

	CHECK_OK(ts_env_open(dir, o, &env));
	return env;
}

/* commit `n` transactions, transaction i putting "k<i>" = "v<i>:<tag>" */
static int
commit_range(ts_env *env, int from, int n, const char *tag)
{
	for (int i = from; i < from + n; i++)
	{
		ts_txn	   *t;
		ts_tree		tr;
		char		k[32],
					v[64];
		int			rc;

		snprintf(k, sizeof(k), "k%06d", i);
		snprintf(v, sizeof(v), "v%d:%s", i, tag);
		if ((rc = ts_txn_begin(env, 0, &t)) != 0)
			return rc;
		if ((rc = ts_tree_open(t, "data", TS_CREATE, &tr)) != 0 ||
			(rc = ts_put(t, tr, k, strlen(k), v, strlen(v), 0)) != 0)
		{
			ts_txn_abort(t);
			return rc;
		}
		if ((rc = ts_txn_commit(t)) != 0)
			return rc;
	}
	return 0;
}

/* every key in [from, from+n) present with its tag; count keys in all */
static void
expect_range(ts_env *env, int from, int n, const char *tag, uint64_t total)
{
	ts_txn	   *t;
	ts_tree		tr;
	ts_treestat ts;

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	for (int i = from; i < from + n; i++)
	{
		char		k[32],
					v[64];
		ts_slice	s;

		snprintf(k, sizeof(k), "k%06d", i);
		snprintf(v, sizeof(v), "v%d:%s", i, tag);
		CHECK_OK(ts_get(t, tr, k, strlen(k), &s));
		CHECK_MSG(s.len == strlen(v) && memcmp(s.data, v, s.len) == 0, "key %s", k);
	}
	CHECK_OK(ts_tree_stat(t, tr, &ts));
	CHECK_MSG(ts.entries == total, "%llu keys, expected %llu",
			  (unsigned long long) ts.entries, (unsigned long long) total);
	ts_txn_abort(t);
}

/* Run fn in a child that dies without closing anything. */
static void
in_dying_child(void (*fn) (const char *), const char *dir)
{
	pid_t		pid = fork();
	int			status;

	CHECK(pid >= 0);
	if (pid == 0)
	{
		fn(dir);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)", status);
}

static int
count_segments(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	int			n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "wal-", 4) == 0)
			n++;
	closedir(d);
	return n;
}

static void
child_commits(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;

	if (ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 300, "a") != 0)
		_exit(1);
	/* no close: the process dies with everything in the log only */
}

TEST(test_commits_survive_exit_without_close)
{
	const char *dir = th_tmpdir("rec-exit");
	ts_options	o = opts();
	ts_env	   *env;
	ts_stat		st;

	in_dying_child(child_commits, dir);
	env = open_dir(dir, &o);
	expect_range(env, 0, 300, "a", 300);
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.txnid >= 300);
	CHECK(st.checkpoint_txnid == st.txnid);	/* the replay was checkpointed */
	CHECK_OK(ts_env_check(env));
	/* and it goes on */
	CHECK_OK(commit_range(env, 300, 10, "b"));
	CHECK_OK(ts_env_close(env));
	env = open_dir(dir, &o);
	expect_range(env, 300, 10, "b", 310);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

static void
child_checkpoint_then_more(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;

	if (ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 100, "a") != 0 ||
		ts_env_checkpoint(env) != 0 || commit_range(env, 50, 100, "b") != 0)
		_exit(1);
}

TEST(test_replay_after_checkpoint)
{
	const char *dir = th_tmpdir("rec-ckpt");
	ts_options	o = opts();
	ts_env	   *env;

	in_dying_child(child_checkpoint_then_more, dir);
	env = open_dir(dir, &o);
	expect_range(env, 0, 50, "a", 150);
	expect_range(env, 50, 100, "b", 150);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

static void
child_prepares(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;
	ts_txn	   *t1,
			   *t2,
			   *t3;
	ts_tree		tr;

	if (ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 5, "a") != 0)
		_exit(1);
	/* three prepared transactions; the third is aborted before the "crash" */
	if (ts_txn_begin(env, 0, &t1) || ts_tree_open(t1, "data", 0, &tr) ||
		ts_put(t1, tr, "p1", 2, "one", 3, 0) || ts_del(t1, tr, "k000001", 7) ||
		ts_txn_prepare(t1, "gid-one"))
		_exit(2);
	if (ts_txn_begin(env, 0, &t2) || ts_put(t2, tr, "p2", 2, "two", 3, 0) ||
		ts_txn_prepare(t2, "gid-two"))
		_exit(3);
	if (ts_txn_begin(env, 0, &t3) || ts_put(t3, tr, "p3", 2, "three", 5, 0) ||
		ts_txn_prepare(t3, "gid-three"))
		_exit(4);
	ts_txn_abort(t3);
	/* a checkpoint must keep the prepared transactions' log */
	if (ts_env_checkpoint(env) != 0 || commit_range(env, 5, 200, "b") != 0 ||
		ts_env_checkpoint(env) != 0)
		_exit(5);
}

TEST(test_prepared_come_back_in_doubt)
{
	const char *dir = th_tmpdir("rec-prep");
	ts_options	o = opts();
	ts_env	   *env;
	char	   *gids;
	size_t		n;
	ts_txn	   *t;
	ts_tree		tr;
	ts_slice	s;
	ts_stat		st;

	in_dying_child(child_prepares, dir);
	env = open_dir(dir, &o);
	CHECK_OK(ts_env_prepared(env, &gids, &n));
	CHECK_MSG(n == 2, "%zu transactions in doubt", n);
	{
		int			one = 0,
					two = 0;
		char	   *p = gids;

		for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
		{
			one += strcmp(p, "gid-one") == 0;
			two += strcmp(p, "gid-two") == 0;
		}
		CHECK(one == 1 && two == 1);
	}
	free(gids);
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.prepared == 2);
	/* in doubt: nothing visible, keys reserved */
	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	CHECK_ERR(ts_get(t, tr, "p1", 2, &s), TS_NOTFOUND);
	CHECK_ERR(ts_get(t, tr, "p3", 2, &s), TS_NOTFOUND);
	CHECK_OK(ts_get(t, tr, "k000001", 7, &s));
	CHECK_OK(ts_put(t, tr, "p2", 2, "mine", 4, 0));
	CHECK_ERR(ts_txn_commit(t), TS_CONFLICT);
	/* resolve: one committed, one aborted */
	CHECK_OK(ts_env_resolve(env, "gid-one", 1));
	CHECK_OK(ts_env_resolve(env, "gid-two", 0));
	CHECK_ERR(ts_env_resolve(env, "gid-two", 0), TS_NOTFOUND);
	CHECK_OK(ts_env_close(env));

	env = open_dir(dir, &o);
	CHECK_OK(ts_env_prepared(env, &gids, &n));
	free(gids);
	CHECK(n == 0);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	CHECK_OK(ts_get(t, tr, "p1", 2, &s));
	CHECK(s.len == 3 && memcmp(s.data, "one", 3) == 0);
	CHECK_ERR(ts_get(t, tr, "k000001", 7, &s), TS_NOTFOUND);
	CHECK_ERR(ts_get(t, tr, "p2", 2, &s), TS_NOTFOUND);
	CHECK_ERR(ts_get(t, tr, "p3", 2, &s), TS_NOTFOUND);
	ts_txn_abort(t);
	expect_range(env, 5, 200, "b", 205);	/* 205 = 4 "a" + 200 "b" + p1 */
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

static void
child_prepares_empty(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;
	ts_txn	   *t1,
			   *t2;
	ts_tree		tr;
	uint64_t	mark;

	if (ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 5, "a") != 0)
		_exit(1);
	/* nothing written; and writes all undone by a savepoint rollback */
	if (ts_txn_begin(env, 0, &t1) || ts_txn_prepare(t1, "gid-empty"))
		_exit(2);
	if (ts_txn_begin(env, 0, &t2) || ts_tree_open(t2, "data", 0, &tr) ||
		ts_txn_savepoint(t2, &mark) || ts_put(t2, tr, "u1", 2, "undone", 6, 0) ||
		ts_txn_rollback_to(t2, mark) || ts_txn_prepare(t2, "gid-undone"))
		_exit(3);
}

/*
 * A transaction prepared with an empty write set (a PostgreSQL transaction
 * whose writes were all rolled back to a savepoint) logs a PREPARE record
 * with no operations before it: recovery must take it as an empty prepared
 * transaction, not call the log corrupt (which kept the engine from opening).
 */
TEST(test_prepared_empty_write_set_recovers)
{
	const char *dir = th_tmpdir("rec-prep-empty");
	ts_options	o = opts();
	ts_env	   *env;
	char	   *gids;
	size_t		n;

	in_dying_child(child_prepares_empty, dir);
	env = open_dir(dir, &o);
	CHECK_OK(ts_env_prepared(env, &gids, &n));
	free(gids);
	CHECK_MSG(n == 2, "%zu transactions in doubt", n);
	CHECK_OK(ts_env_resolve(env, "gid-empty", 1));
	CHECK_OK(ts_env_resolve(env, "gid-undone", 0));
	expect_range(env, 0, 5, "a", 5);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	env = open_dir(dir, &o);
	CHECK_OK(ts_env_prepared(env, &gids, &n));
	free(gids);
	CHECK(n == 0);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

TEST(test_segments_removed_behind_checkpoints)
{
	const char *dir = th_tmpdir("rec-segs");
	ts_options	o = opts();
	ts_env	   *env;
	int			before,
				after;

	o.wal_segment_size = 16 * 1024;
	env = open_dir(dir, &o);

	CHECK_OK(commit_range(env, 0, 2000, "a"));	/* ~ dozens of 64 KB segments */
	before = count_segments(dir);
	CHECK_MSG(before > 10, "%d segments", before);
	CHECK_OK(ts_env_checkpoint(env));
	after = count_segments(dir);
	CHECK_MSG(after <= o.wal_keep_segments + 1, "%d segments left after a checkpoint", after);
	CHECK_OK(ts_env_close(env));
	env = open_dir(dir, &o);
	expect_range(env, 0, 2000, "a", 2000);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

TEST(test_checkpoint_on_wal_size_and_dirty_bound)
{
	const char *dir = th_tmpdir("rec-auto");
	ts_options	o = opts();
	ts_env	   *env;
	ts_stat		st;

	o.max_dirty_pages = 8;
	env = open_dir(dir, &o);
	CHECK_OK(commit_range(env, 0, 3000, "a"));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK_MSG(st.checkpoints > 0, "no checkpoint although %llu pages are dirty",
			  (unsigned long long) st.dirty_pages);
	CHECK(st.dirty_pages <= 8 + 16);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

/*
 * With background_checkpoints, past an eighth of the file in dirty pages
 * (CKPT_MIN_DIRTY for a small one) the background thread takes the
 * checkpoint: commits go on while it writes and syncs.  The data file's
 * syncs are held, so a committer that took the checkpoint itself would be
 * seen waiting.
 */
TEST(test_dirty_pages_checkpoint_in_background)
{
	const char *dir = th_tmpdir("rec-bgckpt");
	ts_options	o = opts();
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	ts_env	   *env;
	ts_stat		st;
	char		val[1000];
	int			i,
				held = 0;

	memset(val, 'x', sizeof(val));
	o.vfs = vfs;
	o.background_checkpoints = 1;
	o.cache_pages = 20000;		/* max_dirty_pages 10000: above the 8192 */
	env = open_dir(dir, &o);
	faultvfs_hold_data_syncs(fv, 1);
	for (i = 0; i < 1000 && !held; i++)
	{
		ts_txn	   *t;
		ts_tree		tr;

		CHECK_OK(ts_txn_begin(env, 0, &t));
		CHECK_OK(ts_tree_open(t, "data", TS_CREATE, &tr));
		for (int k = 0; k < 100; k++)
		{
			char		key[32];

			snprintf(key, sizeof(key), "k%08d", i * 100 + k);
			CHECK_OK(ts_put(t, tr, key, strlen(key), val, sizeof(val), 0));
		}
		CHECK_OK(ts_txn_commit(t));
		held = atomic_load(&fv->data_syncs_waiting) > 0;
	}
	CHECK_MSG(held, "no checkpoint was seen syncing while commits went on (%d commits)", i);
	/* and one more commit does not wait for it either */
	CHECK_OK(commit_range(env, 0, 1, "a"));
	CHECK(atomic_load(&fv->data_syncs_waiting) == 1);
	faultvfs_hold_data_syncs(fv, 0);
	for (int w = 0; w < 1000; w++)
	{
		struct timespec ms = {0, 1000000};

		CHECK_OK(ts_env_stat(env, &st));
		if (st.checkpoints > 0)
			break;
		nanosleep(&ms, NULL);
	}
	CHECK(st.checkpoints > 0);
	CHECK_OK(ts_env_close(env));
	env = open_dir(dir, &o);
	expect_range(env, 0, 1, "a", (uint64_t) i * 100 + 1);
	CHECK_OK(ts_env_close(env));
	faultvfs_free(vfs);
	th_rmdir(dir);
}

static void
child_async(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;

	o.async_commit = 1;
	if (ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 100, "a") != 0 ||
		ts_env_close(env) != 0)
		_exit(1);
}

TEST(test_async_commit_durable_at_close)
{
	const char *dir = th_tmpdir("rec-async");
	ts_options	o = opts();
	ts_env	   *env;

	in_dying_child(child_async, dir);
	env = open_dir(dir, &o);
	expect_range(env, 0, 100, "a", 100);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

struct committer
{
	ts_env	   *env;
	int			id;
	int			rc;
};

static void *
committer_main(void *arg)
{
	struct committer *c = arg;

	for (int i = 0; i < 100 && c->rc == 0; i++)
	{
		ts_txn	   *t;
		ts_tree		tr;
		char		k[32];

		snprintf(k, sizeof(k), "t%d-%d", c->id, i);
		if ((c->rc = ts_txn_begin(c->env, 0, &t)) != 0)
			break;
		if ((c->rc = ts_tree_open(t, "group", 0, &tr)) != 0 ||
			(c->rc = ts_put(t, tr, k, strlen(k), "x", 1, 0)) != 0)
		{
			ts_txn_abort(t);
			break;
		}
		c->rc = ts_txn_commit(t);
	}
	return NULL;
}

TEST(test_group_commit_shares_fsyncs)
{
	const char *dir = th_tmpdir("rec-group");
	ts_options	o = opts();
	ts_env	   *env = open_dir(dir, &o);
	ts_stat		st0,
				st1;
	pthread_t	th[8];
	struct committer c[8];
	ts_txn	   *t;
	ts_tree		tr;
	ts_treestat ts;

	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, "group", TS_CREATE, &tr));
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_env_stat(env, &st0));
	for (int i = 0; i < 8; i++)
	{
		c[i].env = env;
		c[i].id = i;
		c[i].rc = 0;
		CHECK(pthread_create(&th[i], NULL, committer_main, &c[i]) == 0);
	}
	for (int i = 0; i < 8; i++)
	{
		CHECK(pthread_join(th[i], NULL) == 0);
		CHECK_MSG(c[i].rc == 0, "committer %d: %s", i, ts_strerror(c[i].rc));
	}
	CHECK_OK(ts_env_stat(env, &st1));
	CHECK(st1.commits - st0.commits == 800);
	CHECK(st1.wal_flushed_lsn == st1.wal_end_lsn);
	/* 800 durable commits; concurrent committers shared fdatasyncs */
	CHECK_MSG(st1.wal_flushes - st0.wal_flushes < 800, "%llu flushes for 800 commits",
			  (unsigned long long) (st1.wal_flushes - st0.wal_flushes));
	CHECK_OK(ts_env_close(env));
	env = open_dir(dir, &o);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "group", 0, &tr));
	CHECK_OK(ts_tree_stat(t, tr, &ts));
	CHECK(ts.entries == 800);
	ts_txn_abort(t);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

static long long
dir_signature(const char *dir)
{
	char		cmd[700];
	FILE	   *f;
	long long	sig = -1;

	/* sizes and modification times of every file, folded into one number */
	snprintf(cmd, sizeof(cmd), "cd '%s' && stat -c '%%s %%y %%n' * | cksum | cut -d' ' -f1", dir);
	if ((f = popen(cmd, "r")) != NULL)
	{
		if (fscanf(f, "%lld", &sig) != 1)
			sig = -1;
		pclose(f);
	}
	return sig;
}

TEST(test_read_only_open_replays_in_memory)
{
	const char *dir = th_tmpdir("rec-ro");
	ts_options	o = opts();
	ts_env	   *env;
	ts_txn	   *t;
	long long	before;
	char		cmd[2048];

	in_dying_child(child_commits, dir);		/* 300 commits, only in the log */
	before = dir_signature(dir);
	CHECK(before != -1);
	o.flags = TS_RDONLY;
	env = open_dir(dir, &o);
	expect_range(env, 0, 300, "a", 300);
	CHECK_OK(ts_env_check(env));
	CHECK_ERR(ts_txn_begin(env, 0, &t), TS_BAD_TXN);
	CHECK_ERR(ts_env_checkpoint(env), TS_BAD_TXN);
	CHECK_OK(ts_env_close(env));
	CHECK_MSG(dir_signature(dir) == before, "a read-only open changed the files");
	o.flags = TS_RDONLY | TS_CREATE;
	CHECK_ERR(ts_env_open(dir, &o, &env), TS_INVALID);

	/* the offline tools (make tools; beside build/test/ and build-asan/test/) */
	{
		char		self[600],
					tools[700];
		ssize_t		n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		CHECK(n > 0);
		self[n] = '\0';
		*strrchr(self, '/') = '\0';	/* .../build/test */
		*strrchr(self, '/') = '\0';	/* .../build */
		*strrchr(self, '/') = '\0';	/* the repository */
		snprintf(tools, sizeof(tools), "%s/build", self);
		snprintf(cmd, sizeof(cmd), "%s/treestore-check -q '%s'", tools, dir);
		CHECK_MSG(system(cmd) == 0, "treestore-check failed on a sound directory (%s)", cmd);
		snprintf(cmd, sizeof(cmd), "%s/treestore-waldump '%s' > /dev/null", tools, dir);
		CHECK_MSG(system(cmd) == 0, "treestore-waldump failed on a sound directory");
		/* damage a record of an early batch: the check fails */
		snprintf(cmd, sizeof(cmd), "f=$(ls '%s'/wal-* | head -1); "
				 "printf 'XXXXXXXX' | dd of=\"$f\" bs=1 seek=200 conv=notrunc 2>/dev/null", dir);
		CHECK(system(cmd) == 0);
		CHECK(dir_signature(dir) != before);
		snprintf(cmd, sizeof(cmd), "%s/treestore-check -q '%s' 2>/dev/null", tools, dir);
		CHECK_MSG(system(cmd) != 0, "treestore-check passed a damaged log");
	}
	th_rmdir(dir);
}

/*
 * Damage in the middle of the log (valid records after it) stops the open
 * with the file and offset (TS_CORRUPT); accept_wal_loss (README.md: "lets
 * an operator go on") opens it with the log ended at the damage: every
 * commit before it present, none after, and the environment writable -- a
 * later open without the option is clean and keeps what came after.
 */
TEST(test_accept_wal_loss)
{
	const char *dir = th_tmpdir("rec-walloss");
	ts_options	o = opts();
	ts_env	   *env;
	char		path[1024];
	FILE	   *f;
	char	   *buf;
	long		len;
	char	   *hit = NULL;
	DIR		   *d;
	struct dirent *e;

	in_dying_child(child_commits, dir);		/* 300 commits, only in the log */
	/* the segment holding commit 150: flip a byte of its value "v150:a" */
	path[0] = '\0';
	CHECK((d = opendir(dir)) != NULL);
	while ((e = readdir(d)) != NULL && hit == NULL)
	{
		if (strncmp(e->d_name, "wal-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		CHECK((f = fopen(path, "r+b")) != NULL);
		CHECK(fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0);
		buf = malloc((size_t) len);
		CHECK(buf != NULL);
		rewind(f);
		CHECK(fread(buf, 1, (size_t) len, f) == (size_t) len);
		hit = memmem(buf, (size_t) len, "v150:a", 6);
		if (hit)
		{
			CHECK(fseek(f, hit - buf + 1, SEEK_SET) == 0);
			CHECK(fputc('X', f) != EOF);
		}
		CHECK(fclose(f) == 0);
		free(buf);
	}
	closedir(d);
	CHECK_MSG(hit != NULL, "commit 150 not found in the log");

	/* by default: refused, naming the file and the offset */
	CHECK_ERR(ts_env_open(dir, &o, &env), TS_CORRUPT);
	CHECK_MSG(strstr(ts_last_error(), "offset") && strstr(ts_last_error(), "wal-"),
			  "the error does not name the file and offset: %s", ts_last_error());

	/* accept_wal_loss: the log ends at the damage */
	o.accept_wal_loss = 1;
	env = open_dir(dir, &o);
	expect_range(env, 0, 150, "a", 150);
	CHECK_OK(commit_range(env, 1000, 10, "after"));
	CHECK_OK(ts_env_close(env));

	/* and the operator goes on: a plain open is clean */
	o.accept_wal_loss = 0;
	env = open_dir(dir, &o);
	expect_range(env, 0, 150, "a", 160);
	expect_range(env, 1000, 10, "after", 160);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

/* ------------------------------------------------------------------------
 * A read-only open writes nothing (issue 12, item 16)
 * ------------------------------------------------------------------------ */

/*
 * A VFS over the POSIX one that refuses (EROFS) and counts every
 * operation that could change the directory: write, sync, truncate,
 * rename, unlink, mkdir, directory sync, and any open not asked for
 * reading only.  (chmod would not do: the tests may run as root.)
 */
static ts_vfs ro_vfs;
static atomic_long ro_violations;
static char ro_what[320];

static int
ro_refuse(const char *what)
{
	if (atomic_fetch_add(&ro_violations, 1) == 0)
		snprintf(ro_what, sizeof(ro_what), "%s", what);
	return EROFS;
}

static int
ro_open(ts_vfs *vfs, const char *path, int flags, ts_file **out)
{
	(void) vfs;
	if (!(flags & TS_VFS_RDONLY))
	{
		char		w[300];

		snprintf(w, sizeof(w), "open for writing of %s", path);
		*out = NULL;
		return ro_refuse(w);
	}
	return ts_vfs_posix()->open(ts_vfs_posix(), path, flags, out);
}

static int
ro_write(ts_file *f, const void *b, size_t n, uint64_t off)
{
	(void) f, (void) b, (void) n, (void) off;
	return ro_refuse("write");
}

static int
ro_writev(ts_file *f, const void *const *b, size_t n, size_t sz, uint64_t off)
{
	(void) f, (void) b, (void) n, (void) sz, (void) off;
	return ro_refuse("writev");
}

static int
ro_sync(ts_file *f)
{
	(void) f;
	return ro_refuse("sync");
}

static int
ro_truncate(ts_file *f, uint64_t size)
{
	(void) f, (void) size;
	return ro_refuse("truncate");
}

static int
ro_path2(ts_vfs *v, const char *a, const char *b)
{
	(void) v, (void) a, (void) b;
	return ro_refuse("rename");
}

static int
ro_unlink(ts_vfs *v, const char *a)
{
	(void) v, (void) a;
	return ro_refuse("unlink");
}

static int
ro_mkdir(ts_vfs *v, const char *a)
{
	(void) v, (void) a;
	return ro_refuse("mkdir");
}

static int
ro_sync_dir(ts_vfs *v, const char *a)
{
	(void) v, (void) a;
	return ro_refuse("sync_dir");
}

#define RO_BIG 20000			/* bytes: an overflow chain of 5 pages */

static void
child_commits_big(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;
	ts_txn	   *t;
	ts_tree		tr;
	char	   *big = malloc(RO_BIG);

	if (big == NULL || ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 50, "a") != 0)
		_exit(1);
	for (int i = 0; i < 6; i++)
	{
		char		k[16];

		memset(big, 'A' + i, RO_BIG);
		snprintf(k, sizeof(k), "big%d", i);
		if (ts_txn_begin(env, 0, &t) != 0 || ts_tree_open(t, "data", TS_CREATE, &tr) != 0 ||
			ts_put(t, tr, k, strlen(k), big, RO_BIG, 0) != 0 || ts_txn_commit(t) != 0)
			_exit(1);
	}
	/* no close: the overflow values are in the log only */
}

TEST(test_read_only_open_writes_nothing)
{
	const char *dir = th_tmpdir("rec-ro-nowrite");
	ts_options	o = opts();
	ts_env	   *env;
	ts_txn	   *t;
	ts_tree		tr;
	long long	before;

	in_dying_child(child_commits_big, dir);
	before = dir_signature(dir);
	CHECK(before != -1);
	ro_vfs = *ts_vfs_posix();
	ro_vfs.open = ro_open;
	ro_vfs.write = ro_write;
	ro_vfs.writev = ro_writev;
	ro_vfs.sync = ro_sync;
	ro_vfs.truncate = ro_truncate;
	ro_vfs.rename = ro_path2;
	ro_vfs.unlink = ro_unlink;
	ro_vfs.mkdir = ro_mkdir;
	ro_vfs.sync_dir = ro_sync_dir;
	atomic_store(&ro_violations, 0);
	o.flags = TS_RDONLY;
	o.vfs = &ro_vfs;
	CHECK_OK(ts_env_open(dir, &o, &env));
	/* the replayed overflow values are read back from memory */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	for (int i = 0; i < 6; i++)
	{
		char		k[16];
		ts_slice	v;

		snprintf(k, sizeof(k), "big%d", i);
		CHECK_OK(ts_get(t, tr, k, strlen(k), &v));
		CHECK(v.len == RO_BIG);
		for (size_t j = 0; j < RO_BIG; j++)
			CHECK_MSG(((const char *) v.data)[j] == 'A' + i, "%s byte %zu", k, j);
	}
	ts_txn_abort(t);
	expect_range(env, 0, 50, "a", 56);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	CHECK_MSG(atomic_load(&ro_violations) == 0, "a read-only open tried %ld changes (first: %s)",
			  atomic_load(&ro_violations), ro_what);
	CHECK_MSG(dir_signature(dir) == before, "a read-only open changed the files");
	th_rmdir(dir);
}

/*
 * ts_txn_commit_nosync: a prepared transaction committed without a flush is
 * visible at once; a process that dies before any flush brings it back in
 * doubt (or committed, had the background thread flushed it); a sync
 * commit after it makes it durable too (one log, flushed in order).
 */
static void
child_nosync(const char *dir)
{
	ts_options	o = opts();
	ts_env	   *env;
	ts_txn	   *t1,
			   *t2,
			   *r;
	ts_tree		tr;
	ts_slice	s;

	if (ts_env_open(dir, &o, &env) != 0 || commit_range(env, 0, 5, "a") != 0)
		_exit(1);
	/* n1: no-sync commit, then a durable commit: both durable */
	if (ts_txn_begin(env, 0, &t1) || ts_tree_open(t1, "data", 0, &tr) ||
		ts_put(t1, tr, "n1", 2, "one", 3, 0) || ts_txn_prepare(t1, "gid-n1") ||
		ts_txn_commit_nosync(t1) || commit_range(env, 5, 1, "b") != 0)
		_exit(2);
	/* n2: no-sync commit, visible at once; the process dies right after */
	if (ts_txn_begin(env, 0, &t2) || ts_put(t2, tr, "n2", 2, "two", 3, 0) ||
		ts_txn_prepare(t2, "gid-n2") || ts_txn_commit_nosync(t2))
		_exit(3);
	if (ts_txn_begin(env, TS_RDONLY, &r) || ts_get(r, tr, "n2", 2, &s) ||
		s.len != 3 || memcmp(s.data, "two", 3) != 0)
		_exit(4);
	ts_txn_abort(r);
}

TEST(test_nosync_commit_prepared)
{
	const char *dir = th_tmpdir("rec-nosync");
	ts_options	o = opts();
	ts_env	   *env;
	char	   *gids;
	size_t		n;
	ts_txn	   *t;
	ts_tree		tr;
	ts_slice	s;

	in_dying_child(child_nosync, dir);
	env = open_dir(dir, &o);
	CHECK_OK(ts_env_prepared(env, &gids, &n));
	CHECK_MSG(n == 0 || (n == 1 && strcmp(gids, "gid-n2") == 0),
			  "%zu transactions in doubt (first: %s)", n, n ? gids : "");
	free(gids);
	if (n == 1)
		CHECK_OK(ts_env_resolve(env, "gid-n2", 1));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	CHECK_OK(ts_get(t, tr, "n1", 2, &s));
	CHECK(s.len == 3 && memcmp(s.data, "one", 3) == 0);
	CHECK_OK(ts_get(t, tr, "n2", 2, &s));
	CHECK(s.len == 3 && memcmp(s.data, "two", 3) == 0);
	ts_txn_abort(t);
	expect_range(env, 5, 1, "b", 8);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

TEST_MAIN(test_commits_survive_exit_without_close, test_accept_wal_loss, test_read_only_open_replays_in_memory,
		  test_read_only_open_writes_nothing, test_replay_after_checkpoint,
		  test_prepared_come_back_in_doubt, test_prepared_empty_write_set_recovers,
		  test_segments_removed_behind_checkpoints,
		  test_dirty_pages_checkpoint_in_background,
		  test_checkpoint_on_wal_size_and_dirty_bound, test_async_commit_durable_at_close,
		  test_group_commit_shares_fsyncs, test_nosync_commit_prepared)
