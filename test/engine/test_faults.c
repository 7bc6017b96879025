/*
 * test_faults.c
 *	  Error injection through the VFS: the N-th write or fsync of a commit
 *	  fails, for every N; the engine then refuses writes (poisoned) and, on
 *	  reopen, shows exactly the last committed state (or, when the sync
 *	  failed, possibly the new one: its log records may have reached the
 *	  disk) and passes ts_env_check.  Also: out
 *	  of space maps to TS_FULL, and the buffer cache keeps to its size.
 */
#include <sys/stat.h>
#include "harness.h"
#include "faultvfs.h"
#include "btree.h"
#include "pager.h"

#define NKEYS 3000

static void
key_of(char *k, int i)
{
	snprintf(k, 32, "k%06d", i);
}

static ts_env *
open_with(const char *dir, ts_vfs *vfs, size_t cache)
{
	ts_options	o;
	ts_env	   *env;

	ts_options_init(&o);
	o.flags = TS_CREATE;
	o.sync = 1;
	o.vfs = vfs;
	o.cache_pages = cache;
	CHECK_OK(ts_env_open(dir, &o, &env));
	return env;
}

/* write version `ver` of every key (value "ver:key", plus some big values) */
static int
write_version(ts_env *env, int ver)
{
	ts_txn	   *t;
	ts_tree		tr;
	int			rc;
	static uint8_t big[20000];

	if ((rc = ts_txn_begin(env, 0, &t)) != 0)
		return rc;
	if ((rc = ts_tree_open(t, "data", TS_CREATE, &tr)) != 0)
	{
		ts_txn_abort(t);
		return rc;
	}
	for (int i = 0; i < NKEYS; i++)
	{
		char		k[32],
					v[64];

		key_of(k, i);
		snprintf(v, sizeof(v), "%d:%s", ver, k);
		if (i % 500 == 0)
		{
			memset(big, 'a' + ver % 26, sizeof(big));
			rc = ts_put(t, tr, k, strlen(k), big, sizeof(big), 0);
		}
		else
			rc = ts_put(t, tr, k, strlen(k), v, strlen(v), 0);
		if (rc)
		{
			ts_txn_abort(t);
			return rc;
		}
	}
	return ts_txn_commit(t);
}

/* which version the environment holds: every key must agree */
static int
read_version(ts_env *env)
{
	ts_txn	   *t;
	ts_tree		tr;
	int			ver = -1;

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	for (int i = 0; i < NKEYS; i++)
	{
		char		k[32],
					v[64];
		ts_slice	s;
		int			this;

		key_of(k, i);
		CHECK_OK(ts_get(t, tr, k, strlen(k), &s));
		if (i % 500 == 0)
		{
			CHECK(s.len == 20000);
			this = ((const char *) s.data)[0] - 'a';
			CHECK(((const char *) s.data)[19999] == 'a' + this);
		}
		else
		{
			CHECK(s.len < sizeof(v));
			memcpy(v, s.data, s.len);
			v[s.len] = 0;
			this = atoi(v);
			CHECK(strcmp(strchr(v, ':') + 1, k) == 0);
		}
		if (ver < 0)
			ver = this;
		CHECK_MSG(this == ver, "key %d holds version %d, key 0 version %d", i, this, ver);
	}
	ts_txn_abort(t);
	return ver;
}

/* Fail the n-th write (kind 0) or sync (kind 1) of the second commit. */
static int
one_fault(const char *dir, int kind, long n, int err)
{
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	ts_env	   *env;
	int			rc,
				ver;
	long		before;

	th_rmdir(dir);
	env = open_with(dir, vfs, 256);
	CHECK_OK(write_version(env, 1));
	fv->err = err;
	before = fv->failures;
	if (kind == 0)
		faultvfs_fail_write(fv, n);
	else
		faultvfs_fail_sync(fv, n);
	rc = write_version(env, 2);
	faultvfs_reset(fv);
	if (fv->failures == before)
	{
		/* n was past the commit's last write or sync: it succeeded */
		CHECK_OK(rc);
		CHECK_OK(ts_env_close(env));
		faultvfs_free(vfs);
		return 0;
	}
	CHECK_MSG(rc != 0, "commit reported success although its %s %ld failed",
			  kind ? "sync" : "write", n);
	if (err == ENOSPC)
		CHECK_MSG(rc == TS_FULL, "out of space gave %d (%s)", rc, ts_strerror(rc));
	else
		CHECK_MSG(rc == err, "failure gave %d (%s)", rc, ts_strerror(rc));
	/* poisoned: no further commit, even with the disk healthy again */
	CHECK_ERR(write_version(env, 3), TS_POISONED);
	CHECK(strstr(ts_last_error(), "reopen") != NULL);
	/* reads still work and see the last committed state */
	CHECK(read_version(env) == 1);
	CHECK_OK(ts_env_close(env));
	faultvfs_free(vfs);

	/* reopen on the real file system: a consistent, acknowledged state */
	env = open_with(dir, NULL, 256);
	CHECK_OK(ts_env_check(env));
	ver = read_version(env);
	if (kind == 0)
		CHECK_MSG(ver == 1, "after a failed write the file holds version %d", ver);
	else
		CHECK_MSG(ver == 1 || ver == 2, "after a failed sync the file holds version %d", ver);
	CHECK_OK(write_version(env, 4));
	CHECK(read_version(env) == 4);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	return 1;
}

TEST(test_every_write_fails)
{
	const char *dir = th_tmpdir("fault-w");
	long		n;
	int			failed = 0;

	for (n = 1; n < 100000; n++)
	{
		if (!one_fault(dir, 0, n, EIO))
			break;
		failed++;
	}
	CHECK_MSG(failed > 10, "only %d writes in a commit", failed);
	th_rmdir(dir);
}

TEST(test_every_sync_fails)
{
	const char *dir = th_tmpdir("fault-s");
	long		n;
	int			failed = 0;

	for (n = 1; n < 100; n++)
	{
		if (!one_fault(dir, 1, n, EIO))
			break;
		failed++;
	}
	/* a commit syncs once: its log records (pages wait for a checkpoint) */
	CHECK_MSG(failed == 1, "a commit made %d syncs, expected 1 (the log)", failed);
	th_rmdir(dir);
}

TEST(test_out_of_space)
{
	const char *dir = th_tmpdir("fault-nospc");

	CHECK(one_fault(dir, 0, 3, ENOSPC) == 1);
	th_rmdir(dir);
}

TEST(test_read_error_is_reported)
{
	const char *dir = th_tmpdir("fault-r");
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	ts_env	   *env = open_with(dir, NULL, 256);
	ts_txn	   *t;
	ts_tree		tr;
	ts_slice	s;
	int			rc;

	CHECK_OK(write_version(env, 1));
	CHECK_OK(ts_env_close(env));
	env = open_with(dir, vfs, 16);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "data", 0, &tr));
	faultvfs_fail_all(fv, 1);
	rc = ts_get(t, tr, "k001234", 7, &s);
	CHECK_MSG(rc == EIO, "read failure gave %d (%s)", rc, ts_strerror(rc));
	CHECK(strstr(ts_last_error(), "cannot read page") != NULL);
	faultvfs_reset(fv);
	CHECK_OK(ts_get(t, tr, "k001234", 7, &s));
	ts_txn_abort(t);
	CHECK_OK(ts_env_close(env));
	faultvfs_free(vfs);
	th_rmdir(dir);
}

TEST(test_cache_size_and_counters)
{
	const char *dir = th_tmpdir("cache");
	ts_env	   *env = open_with(dir, NULL, 64);
	ts_stat		st0,
				st1,
				st2;
	ts_txn	   *t;
	ts_tree		tr;
	ts_slice	s;
	char		k[32];
	uint8_t		v[100];

	memset(v, 'v', sizeof(v));
	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, "wide", TS_CREATE, &tr));
	for (int i = 0; i < 20000; i++)
	{
		key_of(k, i);
		CHECK_OK(ts_put(t, tr, k, strlen(k), v, sizeof(v), 0));
	}
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_env_close(env));

	env = open_with(dir, NULL, 64);
	CHECK_OK(ts_env_stat(env, &st0));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "wide", 0, &tr));
	for (int i = 0; i < 20000; i++)
	{
		key_of(k, i);
		CHECK_OK(ts_get(t, tr, k, strlen(k), &s));
		CHECK(s.len == sizeof(v) && memcmp(s.data, v, sizeof(v)) == 0);
	}
	CHECK_OK(ts_env_stat(env, &st1));
	CHECK(st1.cache_misses > st0.cache_misses);
	CHECK(st1.cache_hits > st0.cache_hits);
	/* the data is larger than the cache, which stays at its size */
	CHECK(st1.page_count > 500);
	CHECK_MSG(st1.cache_pages <= 64, "cache holds %llu frames, capacity 64",
			  (unsigned long long) st1.cache_pages);
	/* the same key again: served from the cache */
	CHECK_OK(ts_get(t, tr, "k000007", 7, &s));
	CHECK_OK(ts_env_stat(env, &st1));
	CHECK_OK(ts_get(t, tr, "k000007", 7, &s));
	CHECK_OK(ts_env_stat(env, &st2));
	CHECK(st2.cache_misses == st1.cache_misses);
	CHECK(st2.cache_hits > st1.cache_hits);
	ts_txn_abort(t);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

/*
 * Creating the environment's directory syncs its parent, so that the new
 * directory entry is durable (issue 12, item 18).
 */
static ts_vfs dirsync_vfs;
static char dirsync_seen[8][600];
static int	dirsync_n;

static int
dirsync_record(ts_vfs *vfs, const char *path)
{
	(void) vfs;
	if (dirsync_n < 8)
		snprintf(dirsync_seen[dirsync_n++], sizeof(dirsync_seen[0]), "%s", path);
	return ts_vfs_posix()->sync_dir(ts_vfs_posix(), path);
}

TEST(test_create_syncs_parent_directory)
{
	const char *base = th_tmpdir("fault-dirsync");
	char		parent[560],
				dir[600];
	ts_options	o;
	ts_env	   *env;
	int			found = 0;

	snprintf(parent, sizeof(parent), "%s", base);
	CHECK(mkdir(parent, 0700) == 0);
	snprintf(dir, sizeof(dir), "%s/env", parent);
	dirsync_vfs = *ts_vfs_posix();
	dirsync_vfs.sync_dir = dirsync_record;
	dirsync_n = 0;
	ts_options_init(&o);
	o.flags = TS_CREATE;
	o.sync = 0;
	o.vfs = &dirsync_vfs;
	CHECK_OK(ts_env_open(dir, &o, &env));
	for (int i = 0; i < dirsync_n; i++)
		if (strcmp(dirsync_seen[i], parent) == 0)
			found = 1;
	CHECK_MSG(found, "the parent %s of a new environment directory was not synced (%d directory syncs)",
			  parent, dirsync_n);
	CHECK_OK(ts_env_close(env));
	th_rmdir(parent);
}

/*
 * A transaction that dirties far more pages than the cache holds: claiming
 * a frame looks at a bounded number of frames (not a sweep of a cache full
 * of dirty ones), and once a checkpoint has written them the cache gives
 * the extra frames back (issue 12, item 14).
 */
TEST(test_cache_claims_bounded_and_shrinks)
{
	const char *dir = th_tmpdir("cache-shrink");
	ts_env	   *env = open_with(dir, NULL, 64);
	ts_pager   *pg = ts_env_pager(env);
	ts_stat		st;
	ts_txn	   *t;
	ts_tree		tr;
	char		k[32];
	uint8_t		v[100];
	uint64_t	steps0,
				steps1,
				retired;

	memset(v, 'v', sizeof(v));
	ts_pager_claim_stats(pg, &steps0, &retired);
	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, "wide", TS_CREATE, &tr));
	for (int i = 0; i < 20000; i++)
	{
		key_of(k, i);
		CHECK_OK(ts_put(t, tr, k, strlen(k), v, sizeof(v), 0));
	}
	CHECK_OK(ts_txn_commit(t));
	ts_pager_claim_stats(pg, &steps1, &retired);
	CHECK_OK(ts_env_stat(env, &st));
	/* every page of it is dirty: the cache grew past its 64 frames */
	CHECK(st.dirty_pages > 500);
	CHECK_MSG(st.cache_pages >= st.dirty_pages, "cache %llu frames, %llu dirty",
			  (unsigned long long) st.cache_pages, (unsigned long long) st.dirty_pages);
	/* each claim looked at a bounded number of frames */
	CHECK_MSG(steps1 - steps0 <= 80 * st.page_count,
			  "claims looked at %llu frames for %llu pages",
			  (unsigned long long) (steps1 - steps0), (unsigned long long) st.page_count);
	/* written by a checkpoint, the extra frames go back */
	CHECK_OK(ts_env_checkpoint(env));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.dirty_pages == 0);
	CHECK_MSG(st.cache_pages <= 64, "after the checkpoint the cache holds %llu frames, capacity 64",
			  (unsigned long long) st.cache_pages);
	/* and reading everything keeps it at its size */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	for (int i = 0; i < 20000; i += 7)
	{
		ts_slice	s;

		key_of(k, i);
		CHECK_OK(ts_get(t, tr, k, strlen(k), &s));
		CHECK(s.len == sizeof(v));
	}
	ts_txn_abort(t);
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.cache_pages <= 64);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

TEST_MAIN(test_every_write_fails, test_every_sync_fails, test_out_of_space,
		  test_read_error_is_reported, test_cache_size_and_counters, test_create_syncs_parent_directory,
		  test_cache_claims_bounded_and_shrinks)
