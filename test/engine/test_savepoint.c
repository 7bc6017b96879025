/*-------------------------------------------------------------------------
 *
 * test_savepoint.c
 *	  Savepoints (ts_txn_savepoint, ts_txn_rollback_to, ts_txn_release) and
 *	  statement snapshots (ts_txn_renew) of treestore.h:
 *
 *	  - focused cases: a rollback restores keys that were absent from the
 *	    write set, overwritten in it or deleted (ts_get and cursor scans,
 *	    small and large values), nested marks, rolling back twice, release,
 *	    tree creation undone, open cursors across a rollback, a rolled-back
 *	    write neither committed nor counted as a conflict, a commit after
 *	    rollbacks holds what remains (checked after a reopen), errors;
 *	  - 10,000 savepoints: the time grows linearly with their number;
 *	  - a randomized run against a simple model: random put, delete,
 *	    savepoint, rollback, release, cursor-across-rollback, commit and
 *	    abort, every key compared (ts_get, forward and backward scans);
 *	  - ts_txn_renew: a concurrent commit is seen only after renewing, the
 *	    transaction's own writes stay, a key committed by another
 *	    transaction after our begin still conflicts (also after the conflict
 *	    table was pruned), cursors across a renew, and a long-lived reader
 *	    that renews lets the file stop growing; threads renewing, rolling
 *	    back and committing increments lose none of them.
 *
 *	  TS_SP_OPS sets the operations of the randomized run (default 60000),
 *	  TS_SP_SEED its seed (printed); TS_TXN_ITERS the transactions of each
 *	  thread of the threaded case (default 1500).
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"
#include "txnhelpers.h"

static void
put_big(ts_txn *txn, ts_tree t, const char *k, size_t len, char fill)
{
	char	   *v = malloc(len);

	CHECK(v != NULL);
	memset(v, fill, len);
	CHECK_OK(ts_put(txn, t, k, strlen(k), v, len, 0));
	free(v);
}

static void
expect_big(ts_txn *txn, ts_tree t, const char *k, size_t len, char fill)
{
	ts_slice	v;

	CHECK_OK(ts_get(txn, t, k, strlen(k), &v));
	CHECK_MSG(v.len == len, "%s: %zu bytes, expected %zu", k, v.len, len);
	for (size_t i = 0; i < len; i++)
		if (((const char *) v.data)[i] != fill)
			CHECK_MSG(0, "%s: byte %zu is %d, expected %d", k, i, ((const char *) v.data)[i], fill);
}

static ts_env *
env_abc(const char *tag, ts_tree *t)
{
	ts_env	   *env = open_env(tag, 1);
	ts_txn	   *w;

	*t = make_tree(env, "t");
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, *t, "a", "1");
	put_str(w, *t, "b", "2");
	put_str(w, *t, "c", "3");
	CHECK_OK(ts_txn_commit(w));
	return env;
}

/* ------------------------------------------------------------------------
 * Savepoints: focused cases
 * ------------------------------------------------------------------------ */

TEST(sp_restores_absent_overwritten_deleted)
{
	ts_tree		t;
	ts_env	   *env = env_abc("sp-restore", &t);
	ts_txn	   *w;
	uint64_t	m;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	/* before the mark: a new key, a committed key overwritten, one deleted */
	put_str(w, t, "d", "4");
	put_str(w, t, "c", "30");
	CHECK_OK(ts_del(w, t, "b", 1));
	put_big(w, t, "big", 3000, 'x');	/* an external value */
	put_str(w, t, "e", "5");
	CHECK_OK(ts_txn_savepoint(w, &m));
	CHECK(m != 0);

	/* after it: every kind of change to every kind of key */
	put_str(w, t, "f", "6");			/* absent everywhere */
	put_str(w, t, "g", "7");
	CHECK_OK(ts_del(w, t, "g", 1));		/* absent, put then deleted */
	put_str(w, t, "d", "40");			/* write-set value overwritten */
	put_str(w, t, "d", "400");			/* ... twice */
	CHECK_OK(ts_del(w, t, "c", 1));		/* write-set value deleted */
	put_str(w, t, "b", "20");			/* write-set tombstone overwritten */
	CHECK_OK(ts_del(w, t, "a", 1));		/* committed key, not in the write set */
	put_big(w, t, "big", 5000, 'y');	/* external replaced by external */
	put_str(w, t, "e", "a value longer than the first one");	/* slot outgrown */
	put_big(w, t, "huge", 100000, 'z');	/* a new external value */
	put_big(w, t, "e2", 2500, 'q');
	put_str(w, t, "e2", "small");
	EXPECT_VAL(w, t, "a", NULL);
	EXPECT_VAL(w, t, "b", "20");
	EXPECT_VAL(w, t, "d", "400");
	expect_scan(w, t, "b=20 big=#5000y d=400 e=a value longer than the first one e2=small f=6 huge=#100000z");

	CHECK_OK(ts_txn_rollback_to(w, m));
	EXPECT_VAL(w, t, "a", "1");
	EXPECT_VAL(w, t, "b", NULL);
	EXPECT_VAL(w, t, "c", "30");
	EXPECT_VAL(w, t, "d", "4");
	EXPECT_VAL(w, t, "e", "5");
	EXPECT_VAL(w, t, "e2", NULL);
	EXPECT_VAL(w, t, "f", NULL);
	EXPECT_VAL(w, t, "g", NULL);
	EXPECT_VAL(w, t, "huge", NULL);
	expect_big(w, t, "big", 3000, 'x');
	expect_scan(w, t, "a=1 big=#3000x c=30 d=4 e=5");
	CHECK_ERR(ts_del(w, t, "b", 1), TS_NOTFOUND);	/* its tombstone is back */
	CHECK_ERR(ts_put(w, t, "a", 1, "x", 1, TS_NOOVERWRITE), TS_EXISTS);

	/* the mark is still live: change things again and go back again */
	put_str(w, t, "a", "again");
	put_str(w, t, "zz", "new");
	CHECK_OK(ts_del(w, t, "big", 3));
	CHECK_OK(ts_txn_rollback_to(w, m));
	expect_scan(w, t, "a=1 big=#3000x c=30 d=4 e=5");
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=1 big=#3000x c=30 d=4 e=5");
	ts_txn_abort(w);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(sp_nested_marks)
{
	ts_tree		t;
	ts_env	   *env = env_abc("sp-nested", &t);
	ts_txn	   *w;
	uint64_t	ma,
				mb,
				mc,
				md;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "x", "0");
	CHECK_OK(ts_txn_savepoint(w, &ma));
	put_str(w, t, "x", "A");
	put_str(w, t, "ya", "A");
	CHECK_OK(ts_txn_savepoint(w, &mb));
	put_str(w, t, "x", "B");
	put_str(w, t, "yb", "B");
	CHECK_OK(ts_del(w, t, "a", 1));
	CHECK_OK(ts_txn_savepoint(w, &mc));
	put_str(w, t, "x", "C");
	CHECK(ma < mb && mb < mc);

	/* back to B: C is gone, A and B stay live */
	CHECK_OK(ts_txn_rollback_to(w, mb));
	expect_scan(w, t, "a=1 b=2 c=3 x=A ya=A");
	CHECK_ERR(ts_txn_rollback_to(w, mc), TS_INVALID);
	CHECK_ERR(ts_txn_release(w, mc), TS_INVALID);
	/* B again (a second time, nothing changed since) */
	CHECK_OK(ts_txn_rollback_to(w, mb));
	expect_scan(w, t, "a=1 b=2 c=3 x=A ya=A");
	put_str(w, t, "x", "B2");
	CHECK_OK(ts_txn_savepoint(w, &md));
	CHECK(md > mc);
	put_str(w, t, "x", "D");
	expect_scan(w, t, "a=1 b=2 c=3 x=D ya=A");
	CHECK_OK(ts_txn_rollback_to(w, md));
	EXPECT_VAL(w, t, "x", "B2");

	/* back to A: B and D are invalid now, A stays */
	CHECK_OK(ts_txn_rollback_to(w, ma));
	expect_scan(w, t, "a=1 b=2 c=3 x=0");
	CHECK_ERR(ts_txn_rollback_to(w, mb), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(w, md), TS_INVALID);
	CHECK_OK(ts_txn_rollback_to(w, ma));
	expect_scan(w, t, "a=1 b=2 c=3 x=0");
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=1 b=2 c=3 x=0");
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(sp_release)
{
	ts_tree		t;
	ts_env	   *env = env_abc("sp-release", &t);
	ts_txn	   *w;
	uint64_t	ma,
				mb,
				mc;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_savepoint(w, &ma));
	put_str(w, t, "x", "A");
	put_str(w, t, "a", "A");
	CHECK_OK(ts_txn_savepoint(w, &mb));
	put_str(w, t, "x", "B");
	put_str(w, t, "y", "B");
	CHECK_OK(ts_del(w, t, "b", 1));
	CHECK_OK(ts_txn_savepoint(w, &mc));
	put_str(w, t, "x", "C");
	put_big(w, t, "y", 4000, 'C');

	/* release B (and C): the writes stay; A can still undo all of them */
	CHECK_OK(ts_txn_release(w, mb));
	CHECK_ERR(ts_txn_rollback_to(w, mb), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(w, mc), TS_INVALID);
	EXPECT_VAL(w, t, "x", "C");
	expect_big(w, t, "y", 4000, 'C');
	expect_scan(w, t, "a=A c=3 x=C y=#4000C");
	put_str(w, t, "x", "after release");
	CHECK_OK(ts_txn_rollback_to(w, ma));
	expect_scan(w, t, "a=1 b=2 c=3");

	/* release of the only mark: writes stay, no mark is left */
	put_str(w, t, "x", "1");
	CHECK_OK(ts_txn_savepoint(w, &mb));
	put_str(w, t, "x", "2");
	CHECK_OK(ts_txn_release(w, ma));
	CHECK_ERR(ts_txn_rollback_to(w, ma), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(w, mb), TS_INVALID);
	EXPECT_VAL(w, t, "x", "2");
	/* and a new mark works after that */
	CHECK_OK(ts_txn_savepoint(w, &mc));
	put_str(w, t, "x", "3");
	put_str(w, t, "z", "3");
	CHECK_OK(ts_txn_rollback_to(w, mc));
	expect_scan(w, t, "a=1 b=2 c=3 x=2");
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=1 b=2 c=3 x=2");
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(sp_commit_after_rollback_and_trees)
{
	ts_tree		t,
				t1,
				t2,
				tx;
	ts_env	   *env = env_abc("sp-commit", &t);
	ts_txn	   *w;
	uint64_t	m1,
				m2;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, "kept", TS_CREATE, &t1));
	put_str(w, t1, "k", "kept");
	put_str(w, t, "a", "10");
	CHECK_OK(ts_txn_savepoint(w, &m1));
	CHECK_OK(ts_tree_open(w, "dropped", TS_CREATE, &t2));
	put_str(w, t2, "k", "dropped");
	put_str(w, t1, "k2", "dropped too");
	put_str(w, t, "b", "20");
	CHECK_OK(ts_txn_savepoint(w, &m2));
	put_str(w, t, "c", "30");
	CHECK_OK(ts_txn_rollback_to(w, m1));
	/* the tree created after the mark does not exist for the transaction */
	CHECK_ERR(ts_put(w, t2, "k", 1, "v", 1, 0), TS_INVALID);
	CHECK_ERR(ts_tree_open(w, "dropped", 0, &tx), TS_NOTFOUND);
	CHECK_OK(ts_tree_open(w, "kept", 0, &tx));
	CHECK(tx == t1);
	expect_scan(w, t1, "k=kept");
	/* re-creating it gives a new id; writes after the rollback count */
	CHECK_OK(ts_tree_open(w, "again", TS_CREATE, &tx));
	CHECK(tx != t2);
	put_str(w, tx, "k", "again");
	put_str(w, t, "d", "40");
	CHECK_OK(ts_txn_commit(w));

	/* reopen: exactly what remained was committed and logged */
	CHECK_OK(ts_env_close(env));
	env = open_env("sp-commit", 0);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=10 b=2 c=3 d=40");
	CHECK_OK(ts_tree_open(w, "kept", 0, &tx));
	expect_scan(w, tx, "k=kept");
	CHECK_OK(ts_tree_open(w, "again", 0, &tx));
	expect_scan(w, tx, "k=again");
	CHECK_ERR(ts_tree_open(w, "dropped", 0, &tx), TS_NOTFOUND);
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));

	/* also after a checkpointless reopen (log replay) */
	{
		ts_options	o;

		ts_options_init(&o);
		o.sync = 0;
		o.checkpoint_interval_ms = 0;
		CHECK_OK(ts_env_open(env_dir, &o, &env));
	}
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_savepoint(w, &m1));
	put_str(w, t, "e", "rolled back");
	CHECK_OK(ts_txn_rollback_to(w, m1));
	put_str(w, t, "f", "50");
	CHECK_OK(ts_txn_commit(w));
	/* a transaction whose every write was rolled back commits nothing */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_savepoint(w, &m1));
	put_str(w, t, "g", "rolled back");
	CHECK_OK(ts_tree_open(w, "ghost", TS_CREATE, &tx));
	CHECK_OK(ts_txn_rollback_to(w, m1));
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(ts_env_close(env));
	env = open_env("sp-commit", 0);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=10 b=2 c=3 d=40 f=50");
	CHECK_ERR(ts_tree_open(w, "ghost", 0, &tx), TS_NOTFOUND);
	ts_txn_abort(w);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(sp_rolled_back_write_is_no_conflict)
{
	ts_tree		t;
	ts_env	   *env = env_abc("sp-conflict", &t);
	ts_txn	   *w,
			   *o;
	uint64_t	m;

	/* our write to b is rolled back; another transaction commits b */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "a", "ours");
	CHECK_OK(ts_txn_savepoint(w, &m));
	put_str(w, t, "b", "ours");
	CHECK_OK(ts_del(w, t, "c", 1));
	CHECK_OK(ts_txn_rollback_to(w, m));
	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "b", "theirs");
	put_str(o, t, "c", "theirs");
	CHECK_OK(ts_txn_commit(o));
	CHECK_OK(ts_txn_commit(w));		/* no conflict: b and c are not ours */

	/* but a write that remains still conflicts */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "a", "ours2");
	CHECK_OK(ts_txn_savepoint(w, &m));
	put_str(w, t, "b", "ours2");
	CHECK_OK(ts_txn_rollback_to(w, m));
	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "a", "theirs2");
	CHECK_OK(ts_txn_commit(o));
	CHECK_ERR(ts_txn_commit(w), TS_CONFLICT);

	/* prepare after a rollback reserves only what remains */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "a", "prepared");
	CHECK_OK(ts_txn_savepoint(w, &m));
	put_str(w, t, "b", "no");
	CHECK_OK(ts_txn_rollback_to(w, m));
	CHECK_OK(ts_txn_prepare(w, "sp-gid"));
	CHECK_ERR(ts_txn_savepoint(w, &m), TS_BAD_TXN);
	CHECK_ERR(ts_txn_rollback_to(w, m), TS_BAD_TXN);
	CHECK_ERR(ts_txn_release(w, m), TS_BAD_TXN);
	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "b", "free");
	CHECK_OK(ts_txn_commit(o));
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=prepared b=free c=theirs");
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(sp_cursor_across_rollback)
{
	ts_tree		t;
	ts_env	   *env = env_abc("sp-cursor", &t);
	ts_txn	   *w;
	ts_cursor  *c,
			   *c2,
			   *c3;
	ts_slice	k,
				v;
	uint64_t	m;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "bb", "0");
	CHECK_OK(ts_txn_savepoint(w, &m));
	put_str(w, t, "ab", "new");		/* gone after the rollback */
	put_str(w, t, "bb", "changed");	/* restored */
	CHECK_OK(ts_del(w, t, "c", 1));
	CHECK_OK(ts_cursor_open(w, t, &c));
	CHECK_OK(ts_cursor_open(w, t, &c2));
	CHECK_OK(ts_cursor_open(w, t, &c3));
	CHECK_OK(ts_cursor_seek(c, "ab", 2));
	CHECK_OK(ts_cursor_seek(c2, "bb", 2));
	CHECK_OK(ts_cursor_seek_le(c3, "zz", 2));	/* on "bb" backwards */
	CHECK_OK(ts_cursor_get(c3, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "bb", 2) == 0);

	CHECK_OK(ts_txn_rollback_to(w, m));
	/* c was on "ab", which no longer exists: it reads nothing, moves on */
	CHECK_ERR(ts_cursor_get(c, &k, &v), TS_NOTFOUND);
	CHECK_OK(ts_cursor_next(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "b", 1) == 0);
	CHECK_OK(ts_cursor_prev(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "a", 1) == 0);
	/* c2 is on "bb" with its old value; next is "c", deleted no more */
	CHECK_OK(ts_cursor_get(c2, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "bb", 2) == 0 && v.len == 1 && memcmp(v.data, "0", 1) == 0);
	CHECK_OK(ts_cursor_next(c2));
	CHECK_OK(ts_cursor_get(c2, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "c", 1) == 0);
	CHECK_ERR(ts_cursor_next(c2), TS_NOTFOUND);
	/* c3 went backwards to "bb"; prev is "b" */
	CHECK_OK(ts_cursor_prev(c3));
	CHECK_OK(ts_cursor_get(c3, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "b", 1) == 0);

	/* a cursor on a snapshot key that the rollback leaves alone */
	CHECK_OK(ts_txn_savepoint(w, &m));
	CHECK_OK(ts_cursor_seek(c, "b", 1));
	put_str(w, t, "b", "shadowed");
	CHECK_OK(ts_del(w, t, "a", 1));
	CHECK_OK(ts_txn_rollback_to(w, m));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "b", 1) == 0 && v.len == 1 && memcmp(v.data, "2", 1) == 0);
	CHECK_OK(ts_cursor_prev(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "a", 1) == 0);
	ts_cursor_close(c);
	ts_cursor_close(c2);
	ts_cursor_close(c3);

	/*
	 * A cursor on a write-set entry that the transaction then deletes reads
	 * TS_NOTFOUND (never a NULL value); its next move goes on.
	 */
	CHECK_OK(ts_cursor_open(w, t, &c));
	CHECK_OK(ts_cursor_seek(c, "bb", 2));
	CHECK_OK(ts_del(w, t, "bb", 2));
	CHECK_ERR(ts_cursor_get(c, &k, &v), TS_NOTFOUND);
	CHECK_OK(ts_cursor_next(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "c", 1) == 0);
	ts_cursor_close(c);
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(sp_errors)
{
	ts_tree		t;
	ts_env	   *env = env_abc("sp-errors", &t);
	ts_txn	   *w,
			   *w2,
			   *r;
	uint64_t	m,
				m2;

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_ERR(ts_txn_savepoint(r, &m), TS_BAD_TXN);
	CHECK_ERR(ts_txn_rollback_to(r, 1), TS_BAD_TXN);
	CHECK_ERR(ts_txn_release(r, 1), TS_BAD_TXN);
	ts_txn_abort(r);
	CHECK_ERR(ts_txn_savepoint(NULL, &m), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(NULL, 1), TS_INVALID);

	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_begin(env, 0, &w2));
	CHECK_ERR(ts_txn_savepoint(w, NULL), TS_INVALID);
	/* no mark yet, mark 0, a made-up mark */
	CHECK_ERR(ts_txn_rollback_to(w, 0), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(w, 12345), TS_INVALID);
	CHECK_ERR(ts_txn_release(w, 0), TS_INVALID);
	/* another transaction's mark */
	CHECK_OK(ts_txn_savepoint(w2, &m2));
	CHECK_ERR(ts_txn_rollback_to(w, m2), TS_INVALID);
	CHECK_OK(ts_txn_savepoint(w, &m));
	CHECK_ERR(ts_txn_rollback_to(w, m2), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(w2, m), TS_INVALID);
	CHECK_ERR(ts_txn_rollback_to(w, m + 1000), TS_INVALID);
	put_str(w, t, "x", "1");
	/* a failed rollback changed nothing */
	EXPECT_VAL(w, t, "x", "1");
	/* a mark from before a rollback to an earlier mark */
	{
		uint64_t	later;

		CHECK_OK(ts_txn_savepoint(w, &later));
		put_str(w, t, "y", "1");
		CHECK_OK(ts_txn_rollback_to(w, m));
		CHECK_ERR(ts_txn_rollback_to(w, later), TS_INVALID);
		CHECK_ERR(ts_txn_release(w, later), TS_INVALID);
		EXPECT_VAL(w, t, "x", NULL);
		EXPECT_VAL(w, t, "y", NULL);
	}
	ts_txn_abort(w2);
	ts_txn_abort(w);	/* with a live mark: everything is freed (LeakSanitizer) */
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * n savepoints, each followed by an overwrite of a hot key and a new key;
 * then rollbacks to every other mark, newest first, and to the first.
 */
static double
many_savepoints(ts_env *env, ts_tree t, int n)
{
	ts_txn	   *w;
	uint64_t   *marks = malloc((size_t) n * sizeof(uint64_t));
	double		t0 = now_sec();
	char		k[32],
				v[32];
	ts_slice	s;

	CHECK(marks != NULL);
	CHECK_OK(ts_txn_begin(env, 0, &w));
	for (int i = 0; i < n; i++)
	{
		CHECK_OK(ts_txn_savepoint(w, &marks[i]));
		snprintf(v, sizeof(v), "%d", i);
		CHECK_OK(ts_put(w, t, "hot", 3, v, strlen(v), 0));
		snprintf(k, sizeof(k), "k%08d", i);
		CHECK_OK(ts_put(w, t, k, strlen(k), v, strlen(v), 0));
	}
	for (int i = n - 1; i >= n / 2; i -= 2)
	{
		CHECK_OK(ts_txn_rollback_to(w, marks[i]));
		CHECK_OK(ts_get(w, t, "hot", 3, &s));
		snprintf(v, sizeof(v), "%d", i - 1);
		CHECK(i == 0 || (s.len == strlen(v) && memcmp(s.data, v, s.len) == 0));
	}
	CHECK_OK(ts_txn_release(w, marks[n / 4]));
	CHECK_OK(ts_txn_rollback_to(w, marks[0]));
	CHECK_ERR(ts_get(w, t, "hot", 3, &s), TS_NOTFOUND);
	CHECK_ERR(ts_get(w, t, "k00000000", 9, &s), TS_NOTFOUND);
	put_str(w, t, "only", "this");
	CHECK_OK(ts_txn_commit(w));
	free(marks);
	return now_sec() - t0;
}

TEST(sp_many_savepoints_linear)
{
	ts_env	   *env = open_env("sp-many", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *r;
	double		small = 1e9,
				big = 1e9;

	/* best of three of each: 10,000 savepoints and 8 times as many */
	for (int rep = 0; rep < 3; rep++)
	{
		double		a = many_savepoints(env, t, 10000),
					b = many_savepoints(env, t, 80000);

		if (a < small)
			small = a;
		if (b < big)
			big = b;
	}
	printf("# 10,000 savepoints: %.3f s; 80,000: %.3f s\n", small, big);
	/* linear: about 8 times; quadratic would be 64 (floor for timer noise) */
	CHECK_MSG(big < 24 * (small > 0.005 ? small : 0.005),
			  "80,000 savepoints took %.3f s, 10,000 took %.3f s: not linear", big, small);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, t, "only=this");
	ts_txn_abort(r);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

/* ------------------------------------------------------------------------
 * Savepoints: randomized against a model
 * ------------------------------------------------------------------------ */

#define MK		48				/* keys "k00".."k47" */
#ifndef TS_SP_OPS_DEFAULT
#define TS_SP_OPS_DEFAULT 60000	/* the model's operations (TS_SP_OPS overrides) */
#endif
#define MMARKS	64				/* live marks at most */

typedef struct rng_t
{
	uint64_t	s;
} rng_t;

static uint64_t
rng_u64(rng_t *r)
{
	uint64_t	z = (r->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_below(rng_t *r, uint64_t n)
{
	return rng_u64(r) % n;
}

/* A value: (seed, length); its bytes are regenerated. */
typedef struct mval
{
	int			present;
	uint32_t	seed;
	uint32_t	len;
} mval;

/* write-set state of a key: not written, put, deleted */
enum
{
	WS_NONE, WS_PUT, WS_DEL
};

typedef struct mkey
{
	int			ws;
	mval		v;				/* WS_PUT */
} mkey;

typedef struct model
{
	mval		committed[MK];
	mkey		ws[MK];
	int			nmarks;
	uint64_t	marks[MMARKS];
	mkey		saved[MMARKS][MK];
	uint64_t	dead[16];		/* marks invalidated, for checks */
	int			ndead;
} model;

static uint8_t vbuf[70000];

static void
gen_value(uint32_t seed, uint32_t len, uint8_t *out)
{
	uint64_t	x = seed * 0x9E3779B97F4A7C15ULL + len;

	for (uint32_t i = 0; i < len; i++)
	{
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (uint8_t) x;
	}
}

static mval
visible(const model *M, int i)
{
	mval		none = {0, 0, 0};

	if (M->ws[i].ws == WS_PUT)
		return M->ws[i].v;
	if (M->ws[i].ws == WS_DEL)
		return none;
	return M->committed[i];
}

static void
key_of(int i, char *k)
{
	snprintf(k, 8, "k%02d", i);
}

static void
check_value(const ts_slice *s, mval v, const char *what, int i)
{
	CHECK_MSG(s->len == v.len, "%s k%02d: %zu bytes, model %u", what, i, s->len, v.len);
	gen_value(v.seed, v.len, vbuf);
	CHECK_MSG(v.len == 0 || memcmp(s->data, vbuf, v.len) == 0, "%s k%02d: value differs", what, i);
}

/* Compare every key: ts_get, and a scan in each direction. */
static void
model_verify(ts_txn *w, ts_tree t, const model *M)
{
	ts_cursor  *c;
	char		k[8];
	int			rc;

	for (int i = 0; i < MK; i++)
	{
		ts_slice	s;
		mval		v = visible(M, i);

		key_of(i, k);
		rc = ts_get(w, t, k, 3, &s);
		if (!v.present)
			CHECK_MSG(rc == TS_NOTFOUND, "get k%02d: returned %d, model: absent", i, rc);
		else
		{
			CHECK_MSG(rc == 0, "get k%02d: returned %d (%s), model: present", i, rc, ts_last_error());
			check_value(&s, v, "get", i);
		}
	}
	CHECK_OK(ts_cursor_open(w, t, &c));
	for (int dir = 1; dir >= -1; dir -= 2)
	{
		int			i = dir > 0 ? 0 : MK - 1;

		for (rc = dir > 0 ? ts_cursor_first(c) : ts_cursor_last(c); rc == 0;
			 rc = dir > 0 ? ts_cursor_next(c) : ts_cursor_prev(c))
		{
			ts_slice	ck,
						cv;

			while (i >= 0 && i < MK && !visible(M, i).present)
				i += dir;
			CHECK_MSG(i >= 0 && i < MK, "scan (%d): an entry beyond the model's", dir);
			CHECK_OK(ts_cursor_get(c, &ck, &cv));
			key_of(i, k);
			CHECK_MSG(ck.len == 3 && memcmp(ck.data, k, 3) == 0, "scan (%d): at %.*s, model at k%02d",
					  dir, (int) ck.len, (const char *) ck.data, i);
			check_value(&cv, visible(M, i), "scan", i);
			i += dir;
		}
		CHECK_MSG(rc == TS_NOTFOUND, "scan ended with %d (%s)", rc, ts_last_error());
		while (i >= 0 && i < MK && !visible(M, i).present)
			i += dir;
		CHECK_MSG(i < 0 || i >= MK, "scan (%d): ended before k%02d", dir, i);
	}
	ts_cursor_close(c);
}

static void
model_verify_committed(ts_env *env, ts_tree t, model *M)
{
	ts_txn	   *r;

	for (int i = 0; i < MK; i++)
		M->ws[i].ws = WS_NONE;
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	model_verify(r, t, M);
	ts_txn_abort(r);
}

static void
forget_marks(model *M, int keep)
{
	for (int j = keep; j < M->nmarks; j++)
	{
		if (M->ndead < 16)
			M->dead[M->ndead++] = M->marks[j];
		else
			M->dead[rng_below(&(rng_t) {M->marks[j]}, 16)] = M->marks[j];
	}
	M->nmarks = keep;
}

/*
 * Position a cursor at a random key before a rollback; after it, the
 * cursor must read what the model says there and move to the model's
 * neighbour.
 */
static void
cursor_across_rollback(ts_txn *w, ts_tree t, model *M, rng_t *R, int mi)
{
	ts_cursor  *c;
	char		k[8];
	int			i = (int) rng_below(R, MK),
				dir = rng_below(R, 2) ? 1 : -1,
				rc,
				at;
	ts_slice	ck,
				cv;

	CHECK_OK(ts_cursor_open(w, t, &c));
	key_of(i, k);
	rc = dir > 0 ? ts_cursor_seek(c, k, 3) : ts_cursor_seek_le(c, k, 3);
	/* the model's landing key */
	at = i;
	while (at >= 0 && at < MK && !visible(M, at).present)
		at += dir;
	if (at < 0 || at >= MK)
	{
		CHECK_ERR(rc, TS_NOTFOUND);
		ts_cursor_close(c);
		CHECK_OK(ts_txn_rollback_to(w, M->marks[mi]));
	}
	else
	{
		CHECK_OK(rc);
		CHECK_OK(ts_txn_rollback_to(w, M->marks[mi]));
	}
	memcpy(M->ws, M->saved[mi], sizeof(M->ws));
	forget_marks(M, mi + 1);
	if (at < 0 || at >= MK)
		return;

	/* where it stands now */
	rc = ts_cursor_get(c, &ck, &cv);
	if (visible(M, at).present)
	{
		CHECK_MSG(rc == 0, "cursor at k%02d after rollback: %d, model: present", at, rc);
		key_of(at, k);
		CHECK(ck.len == 3 && memcmp(ck.data, k, 3) == 0);
		check_value(&cv, visible(M, at), "cursor", at);
	}
	else
		CHECK_MSG(rc == TS_NOTFOUND, "cursor at k%02d after rollback: %d, model: absent", at, rc);
	/* one step in a random direction */
	dir = rng_below(R, 2) ? 1 : -1;
	rc = dir > 0 ? ts_cursor_next(c) : ts_cursor_prev(c);
	at += dir;
	while (at >= 0 && at < MK && !visible(M, at).present)
		at += dir;
	if (at < 0 || at >= MK)
		CHECK_MSG(rc == TS_NOTFOUND, "cursor step %d after rollback: %d, model: none", dir, rc);
	else
	{
		CHECK_MSG(rc == 0, "cursor step %d after rollback: %d, model: k%02d", dir, rc, at);
		CHECK_OK(ts_cursor_get(c, &ck, &cv));
		key_of(at, k);
		CHECK_MSG(ck.len == 3 && memcmp(ck.data, k, 3) == 0, "cursor step %d: at %.*s, model k%02d",
				  dir, (int) ck.len, (const char *) ck.data, at);
		check_value(&cv, visible(M, at), "cursor step", at);
	}
	ts_cursor_close(c);
}

static mval
random_value(rng_t *R)
{
	mval		v = {1, (uint32_t) rng_u64(R), 0};
	uint64_t	p = rng_below(R, 100);

	if (p < 5)
		v.len = 0;
	else if (p < 80)
		v.len = 1 + (uint32_t) rng_below(R, 60);
	else if (p < 95)
		v.len = 200 + (uint32_t) rng_below(R, 1900);	/* arena slots */
	else
		v.len = 2049 + (uint32_t) rng_below(R, 60000);	/* external */
	return v;
}

TEST(sp_randomized_model)
{
	long		ops = env_long("TS_SP_OPS", TS_SP_OPS_DEFAULT);
	uint64_t	seed = (uint64_t) env_long("TS_SP_SEED", 20250301);
	rng_t		R = {seed};
	ts_env	   *env = open_env("sp-model", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *w = NULL;
	model	   *M = calloc(1, sizeof(model));
	long		counts[12] = {0};
	char		k[8];

	printf("# sp_randomized_model: %ld operations, seed %" PRIu64 "\n", ops, seed);
	CHECK(M != NULL);
	for (long op = 0; op < ops; op++)
	{
		uint64_t	p;
		int			i = (int) rng_below(&R, MK);

		if (w == NULL)
		{
			CHECK_OK(ts_txn_begin(env, 0, &w));
			M->nmarks = 0;
			M->ndead = 0;
		}
		key_of(i, k);
		p = rng_below(&R, 1000);
		if (p < 400)
		{
			/* put */
			mval		v = random_value(&R);

			gen_value(v.seed, v.len, vbuf);
			CHECK_OK(ts_put(w, t, k, 3, vbuf, v.len, 0));
			M->ws[i].ws = WS_PUT;
			M->ws[i].v = v;
			counts[0]++;
		}
		else if (p < 600)
		{
			/* delete: TS_NOTFOUND unless visible */
			int			rc = ts_del(w, t, k, 3);

			if (visible(M, i).present)
			{
				CHECK_MSG(rc == 0, "del k%02d: %d, model: present", i, rc);
				M->ws[i].ws = WS_DEL;
			}
			else
				CHECK_MSG(rc == TS_NOTFOUND, "del k%02d: %d, model: absent", i, rc);
			counts[1]++;
		}
		else if (p < 700)
		{
			/* savepoint */
			if (M->nmarks == MMARKS)
				continue;
			CHECK_OK(ts_txn_savepoint(w, &M->marks[M->nmarks]));
			memcpy(M->saved[M->nmarks], M->ws, sizeof(M->ws));
			M->nmarks++;
			counts[2]++;
		}
		else if (p < 800)
		{
			/* rollback to a random live mark, often the newest */
			int			mi;

			if (M->nmarks == 0)
				continue;
			mi = rng_below(&R, 2) ? M->nmarks - 1 : (int) rng_below(&R, (uint64_t) M->nmarks);
			if (rng_below(&R, 4) == 0)
			{
				cursor_across_rollback(w, t, M, &R, mi);
				counts[4]++;
			}
			else
			{
				CHECK_OK(ts_txn_rollback_to(w, M->marks[mi]));
				memcpy(M->ws, M->saved[mi], sizeof(M->ws));
				forget_marks(M, mi + 1);
			}
			counts[3]++;
		}
		else if (p < 840)
		{
			/* release a random live mark and the later ones */
			int			mi;

			if (M->nmarks == 0)
				continue;
			mi = (int) rng_below(&R, (uint64_t) M->nmarks);
			CHECK_OK(ts_txn_release(w, M->marks[mi]));
			forget_marks(M, mi);
			counts[5]++;
		}
		else if (p < 860)
		{
			/* a mark no longer live */
			if (M->ndead == 0)
				continue;
			CHECK_ERR(ts_txn_rollback_to(w, M->dead[rng_below(&R, (uint64_t) M->ndead)]), TS_INVALID);
			counts[6]++;
		}
		else if (p < 960)
		{
			model_verify(w, t, M);
			counts[7]++;
		}
		else if (p < 990)
		{
			/* commit: the committed state is the visible one */
			model_verify(w, t, M);
			CHECK_OK(ts_txn_commit(w));
			w = NULL;
			for (int j = 0; j < MK; j++)
				M->committed[j] = visible(M, j);
			model_verify_committed(env, t, M);
			counts[8]++;
		}
		else
		{
			ts_txn_abort(w);
			w = NULL;
			model_verify_committed(env, t, M);
			counts[9]++;
		}
	}
	if (w)
	{
		CHECK_OK(ts_txn_commit(w));
		for (int j = 0; j < MK; j++)
			M->committed[j] = visible(M, j);
	}
	printf("# puts %ld, dels %ld, savepoints %ld, rollbacks %ld (with a cursor %ld), releases %ld, "
		   "dead marks %ld, verifies %ld, commits %ld, aborts %ld\n", counts[0], counts[1],
		   counts[2], counts[3], counts[4], counts[5], counts[6], counts[7], counts[8], counts[9]);
	CHECK(counts[3] > 0 && counts[5] > 0 && counts[8] > 0);

	/* what was committed survives a reopen */
	CHECK_OK(ts_env_close(env));
	env = open_env("sp-model", 0);
	CHECK_OK(ts_env_check(env));
	model_verify_committed(env, t, M);
	CHECK_OK(ts_env_close(env));
	free(M);
	th_rmdir(env_dir);
}

/* ------------------------------------------------------------------------
 * Statement snapshots: ts_txn_renew
 * ------------------------------------------------------------------------ */

TEST(renew_sees_commits_keeps_own_writes)
{
	ts_tree		t;
	ts_env	   *env = env_abc("renew-see", &t);
	ts_txn	   *w,
			   *r,
			   *o;
	ts_stat		st;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	put_str(w, t, "mine", "m");
	put_str(w, t, "b", "mine too");
	CHECK_OK(ts_del(w, t, "c", 1));

	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "theirs", "x");
	put_str(o, t, "a", "their a");
	put_str(o, t, "c", "their c");
	CHECK_OK(ts_txn_commit(o));

	/* before the renew: the begin snapshot */
	EXPECT_VAL(w, t, "theirs", NULL);
	EXPECT_VAL(r, t, "theirs", NULL);
	expect_scan(w, t, "a=1 b=mine too mine=m");
	expect_scan(r, t, "a=1 b=2 c=3");

	CHECK_OK(ts_txn_renew(w));
	CHECK_OK(ts_txn_renew(r));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(ts_txn_snapshot(w) == st.txnid);
	CHECK(ts_txn_snapshot(r) == st.txnid);
	CHECK(st.oldest_reader == st.txnid);
	/* after: their commit, with our writes still shadowing it */
	EXPECT_VAL(w, t, "theirs", "x");
	EXPECT_VAL(w, t, "mine", "m");
	EXPECT_VAL(w, t, "c", NULL);
	expect_scan(w, t, "a=their a b=mine too mine=m theirs=x");
	expect_scan(r, t, "a=their a b=2 c=their c theirs=x");
	CHECK_ERR(ts_put(w, t, "theirs", 6, "y", 1, TS_NOOVERWRITE), TS_EXISTS);
	/* a renew with nothing new changes nothing */
	CHECK_OK(ts_txn_renew(w));
	expect_scan(w, t, "a=their a b=mine too mine=m theirs=x");
	ts_txn_abort(r);

	/* c was deleted by us and committed by them after our begin: conflict */
	CHECK_ERR(ts_txn_commit(w), TS_CONFLICT);

	/* without the overlap, the commit goes through */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "mine", "m2");
	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "theirs2", "x2");
	CHECK_OK(ts_txn_commit(o));
	CHECK_OK(ts_txn_renew(w));
	EXPECT_VAL(w, t, "theirs2", "x2");
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, t, "a=their a b=2 c=their c mine=m2 theirs=x theirs2=x2");
	ts_txn_abort(r);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(renew_conflict_uses_begin_snapshot)
{
	ts_tree		t;
	ts_env	   *env = env_abc("renew-conflict", &t);
	ts_txn	   *w,
			   *o,
			   *x;
	ts_slice	v;

	/*
	 * We begin; they commit k; we renew, read their k and write k.  Then
	 * another writer ends, which prunes the conflict table below the
	 * oldest writer's conflict base: the entry for k must survive (pruning
	 * by our renewed snapshot would drop it and lose their update).
	 */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "k", "theirs");
	CHECK_OK(ts_txn_commit(o));
	CHECK_OK(ts_txn_renew(w));
	CHECK_OK(ts_get(w, t, "k", 1, &v));
	CHECK(v.len == 6 && memcmp(v.data, "theirs", 6) == 0);
	put_str(w, t, "k", "ours, based on theirs");
	CHECK_OK(ts_txn_begin(env, 0, &x));
	put_str(x, t, "other", "1");
	CHECK_OK(ts_txn_commit(x));
	CHECK_OK(ts_txn_begin(env, 0, &x));
	ts_txn_abort(x);
	CHECK_ERR(ts_txn_commit(w), TS_CONFLICT);

	/* the same through prepare */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_txn_begin(env, 0, &o));
	put_str(o, t, "a", "theirs");
	CHECK_OK(ts_txn_commit(o));
	CHECK_OK(ts_txn_renew(w));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &x));
	ts_txn_abort(x);
	CHECK_OK(ts_del(w, t, "a", 1));
	CHECK_ERR(ts_txn_prepare(w, "renew-gid"), TS_CONFLICT);
	ts_txn_abort(w);

	/* a prepared transaction cannot renew */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "p", "1");
	CHECK_OK(ts_txn_prepare(w, "renew-gid2"));
	CHECK_ERR(ts_txn_renew(w), TS_BAD_TXN);
	CHECK_OK(ts_txn_commit(w));
	CHECK_ERR(ts_txn_renew(NULL), TS_INVALID);

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &x));
	expect_scan(x, t, "a=theirs b=2 c=3 k=theirs other=1 p=1");
	ts_txn_abort(x);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(renew_with_savepoints_and_trees)
{
	ts_tree		t,
				n,
				n2;
	ts_env	   *env = env_abc("renew-sp", &t);
	ts_txn	   *w,
			   *o;
	uint64_t	m;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "w1", "1");
	CHECK_OK(ts_txn_savepoint(w, &m));
	put_str(w, t, "w2", "2");
	CHECK_OK(ts_txn_begin(env, 0, &o));
	CHECK_OK(ts_tree_open(o, "their tree", TS_CREATE, &n));
	put_str(o, n, "x", "y");
	put_str(o, t, "z", "theirs");
	CHECK_OK(ts_txn_commit(o));
	CHECK_ERR(ts_tree_open(w, "their tree", 0, &n2), TS_NOTFOUND);
	CHECK_OK(ts_txn_renew(w));
	CHECK_OK(ts_tree_open(w, "their tree", 0, &n2));
	CHECK(n2 == n);
	expect_scan(w, n2, "x=y");
	expect_scan(w, t, "a=1 b=2 c=3 w1=1 w2=2 z=theirs");
	/* the mark survives the renew */
	CHECK_OK(ts_txn_rollback_to(w, m));
	expect_scan(w, t, "a=1 b=2 c=3 w1=1 z=theirs");
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=1 b=2 c=3 w1=1 z=theirs");
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(renew_cursors)
{
	ts_tree		t;
	ts_env	   *env = env_abc("renew-cursor", &t);
	ts_txn	   *w,
			   *r,
			   *o;
	ts_cursor  *cr,
			   *cw,
			   *cw2,
			   *idle;
	ts_slice	k,
				v;
	char		key[16];

	/* enough keys for a multi-level tree, so that pages really change */
	CHECK_OK(ts_txn_begin(env, 0, &o));
	for (int i = 0; i < 2000; i++)
	{
		snprintf(key, sizeof(key), "m%05d", i);
		put_str(o, t, key, "old");
	}
	CHECK_OK(ts_txn_commit(o));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "bb", "ours");
	CHECK_OK(ts_cursor_open(r, t, &cr));
	CHECK_OK(ts_cursor_open(w, t, &cw));
	CHECK_OK(ts_cursor_open(w, t, &cw2));
	CHECK_OK(ts_cursor_open(w, t, &idle));
	CHECK_OK(ts_cursor_seek(cr, "b", 1));
	CHECK_OK(ts_cursor_seek(cw, "b", 1));
	CHECK_OK(ts_cursor_seek(cw2, "m01000", 6));

	/* they delete b, add ba, rewrite every m key */
	CHECK_OK(ts_txn_begin(env, 0, &o));
	CHECK_OK(ts_del(o, t, "b", 1));
	put_str(o, t, "ba", "new");
	for (int i = 0; i < 2000; i++)
	{
		snprintf(key, sizeof(key), "m%05d", i);
		put_str(o, t, key, "new");
	}
	CHECK_OK(ts_txn_commit(o));

	CHECK_OK(ts_txn_renew(r));
	CHECK_OK(ts_txn_renew(w));
	/* on b, which is gone now: nothing there, next is ba */
	CHECK_ERR(ts_cursor_get(cr, &k, &v), TS_NOTFOUND);
	CHECK_OK(ts_cursor_next(cr));
	CHECK_OK(ts_cursor_get(cr, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "ba", 2) == 0);
	CHECK_OK(ts_cursor_next(cr));
	CHECK_OK(ts_cursor_get(cr, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "c", 1) == 0);
	CHECK_ERR(ts_cursor_get(cw, &k, &v), TS_NOTFOUND);
	CHECK_OK(ts_cursor_next(cw));
	CHECK_OK(ts_cursor_get(cw, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "ba", 2) == 0);
	CHECK_OK(ts_cursor_next(cw));
	CHECK_OK(ts_cursor_get(cw, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "bb", 2) == 0 && v.len == 4 && memcmp(v.data, "ours", 4) == 0);
	CHECK_OK(ts_cursor_prev(cw));
	CHECK_OK(ts_cursor_prev(cw));
	CHECK_OK(ts_cursor_get(cw, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "a", 1) == 0);
	/* on m01000, still there with its new value; walk on */
	CHECK_OK(ts_cursor_get(cw2, &k, &v));
	CHECK(k.len == 6 && memcmp(k.data, "m01000", 6) == 0 && v.len == 3 && memcmp(v.data, "new", 3) == 0);
	for (int i = 1001; i < 2000; i++)
	{
		CHECK_OK(ts_cursor_next(cw2));
		CHECK_OK(ts_cursor_get(cw2, &k, &v));
		snprintf(key, sizeof(key), "m%05d", i);
		CHECK(k.len == 6 && memcmp(k.data, key, 6) == 0 && v.len == 3 && memcmp(v.data, "new", 3) == 0);
	}
	CHECK_ERR(ts_cursor_next(cw2), TS_NOTFOUND);
	/* an unpositioned cursor works on the new snapshot */
	CHECK_OK(ts_cursor_seek(idle, "ba", 2));
	CHECK_OK(ts_cursor_get(idle, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "ba", 2) == 0);
	ts_cursor_close(cr);
	ts_cursor_close(cw);
	ts_cursor_close(cw2);
	ts_cursor_close(idle);
	ts_txn_abort(r);
	ts_txn_abort(w);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

/*
 * Rounds of rewriting every key, with a checkpoint after each (freed pages
 * are reused only once a checkpoint holds the commits that freed them),
 * while one read-only transaction stays open; it renews after every round
 * when `renew`.  Returns the growth of the file over the second half.
 */
static uint64_t
churn(int renew, uint64_t *pinned)
{
	ts_env	   *env = open_env(renew ? "renew-space" : "renew-space-pinned", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *r,
			   *w;
	ts_stat		st;
	uint64_t	mid = 0;
	char		key[16],
				val[100];

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	for (int round = 0; round < 40; round++)
	{
		CHECK_OK(ts_txn_begin(env, 0, &w));
		for (int i = 0; i < 3000; i++)
		{
			snprintf(key, sizeof(key), "key%06d", i);
			memset(val, 'a' + round % 26, sizeof(val));
			CHECK_OK(ts_put(w, t, key, strlen(key), val, sizeof(val), 0));
		}
		CHECK_OK(ts_txn_commit(w));
		if (renew)
			CHECK_OK(ts_txn_renew(r));
		CHECK_OK(ts_env_checkpoint(env));
		CHECK_OK(ts_env_stat(env, &st));
		if (round == 19)
			mid = st.page_count;
	}
	*pinned = st.pinned_pages;
	if (renew)
		CHECK(st.oldest_reader == st.txnid);
	ts_txn_abort(r);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
	return st.page_count - mid;
}

TEST(renew_releases_pages)
{
	uint64_t	pinned_renew,
				pinned_held,
				grow_renew = churn(1, &pinned_renew),
				grow_held = churn(0, &pinned_held);

	printf("# file growth over the last 20 rounds: %" PRIu64 " pages with renew (%" PRIu64
		   " pinned), %" PRIu64 " without (%" PRIu64 " pinned)\n",
		   grow_renew, pinned_renew, grow_held, pinned_held);
	CHECK(grow_held > 0);
	CHECK_MSG(grow_renew * 4 < grow_held, "renewing reader: the file grew %" PRIu64
			  " pages, %" PRIu64 " with a held snapshot", grow_renew, grow_held);
	CHECK(pinned_renew < pinned_held);
}

/*
 * Threads in the READ COMMITTED pattern of the PostgreSQL side: begin,
 * then per "statement" renew the snapshot, take a savepoint, read a counter
 * and write it plus one, sometimes roll the statement back and redo it;
 * commit, retrying on TS_CONFLICT.  No increment may be lost: each counter
 * ends equal to the number of committed increments.
 */
#define RC_THREADS	4
#define RC_CTRS		4

typedef struct rc_arg
{
	ts_env	   *env;
	ts_tree		t;
	int			id;
	long		iters;
	long		done[RC_CTRS];
	long		conflicts;
	char		err[256];
} rc_arg;

static int
rc_increment(rc_arg *a, ts_txn *txn, int ctr, uint64_t *rng)
{
	char		key[16];
	ts_slice	v;
	int64_t		n;
	uint64_t	m;
	int			rc;

	snprintf(key, sizeof(key), "ctr%d", ctr);
	if ((rc = ts_txn_renew(txn)) != 0 || (rc = ts_txn_savepoint(txn, &m)) != 0)
		return rc;
	for (int attempt = 0;; attempt++)
	{
		if ((rc = ts_get(txn, a->t, key, strlen(key), &v)) != 0)
			return rc;
		if (v.len != 8)
			return TS_CORRUPT;
		memcpy(&n, v.data, 8);
		n++;
		if ((rc = ts_put(txn, a->t, key, strlen(key), &n, 8, 0)) != 0)
			return rc;
		*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
		if (attempt > 0 || (*rng >> 60) != 0)
			break;
		/* "the statement failed": undo it and run it again */
		if ((rc = ts_txn_rollback_to(txn, m)) != 0)
			return rc;
		sched_yield();
	}
	return ts_txn_release(txn, m);
}

static void *
rc_writer(void *p)
{
	rc_arg	   *a = p;
	uint64_t	rng = 0x9E3779B97F4A7C15ULL * (uint64_t) (a->id + 1);

	for (long it = 0; it < a->iters; it++)
	{
		int			c1,
					c2;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		c1 = (int) ((rng >> 33) % RC_CTRS);
		c2 = (int) ((rng >> 40) % RC_CTRS);
		for (;;)
		{
			ts_txn	   *txn;
			int			rc = ts_txn_begin(a->env, 0, &txn);

			if (rc == 0)
				rc = rc_increment(a, txn, c1, &rng);
			sched_yield();		/* let others commit between our statements */
			if (rc == 0 && c2 != c1)
				rc = rc_increment(a, txn, c2, &rng);
			if (rc != 0)
			{
				snprintf(a->err, sizeof(a->err), "writer %d: %s (%s)", a->id, ts_strerror(rc),
						 ts_last_error());
				ts_txn_abort(txn);
				return NULL;
			}
			rc = ts_txn_commit(txn);
			if (rc == TS_CONFLICT)
			{
				a->conflicts++;
				continue;
			}
			if (rc != 0)
			{
				snprintf(a->err, sizeof(a->err), "writer %d: commit: %s (%s)", a->id,
						 ts_strerror(rc), ts_last_error());
				return NULL;
			}
			break;
		}
		a->done[c1]++;
		if (c2 != c1)
			a->done[c2]++;
	}
	return NULL;
}

TEST(renew_threads_no_lost_update)
{
	ts_env	   *env = open_env("renew-threads", 1);
	ts_tree		t = make_tree(env, "t");
	rc_arg		args[RC_THREADS];
	pthread_t	th[RC_THREADS];
	ts_txn	   *w;
	long		conflicts = 0;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	for (int i = 0; i < RC_CTRS; i++)
	{
		char		key[16];
		int64_t		zero = 0;

		snprintf(key, sizeof(key), "ctr%d", i);
		CHECK_OK(ts_put(w, t, key, strlen(key), &zero, 8, 0));
	}
	CHECK_OK(ts_txn_commit(w));
	memset(args, 0, sizeof(args));
	for (int i = 0; i < RC_THREADS; i++)
	{
		args[i].env = env;
		args[i].t = t;
		args[i].id = i;
		args[i].iters = env_long("TS_TXN_ITERS", 1500);
		CHECK(pthread_create(&th[i], NULL, rc_writer, &args[i]) == 0);
	}
	for (int i = 0; i < RC_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < RC_THREADS; i++)
	{
		CHECK_MSG(args[i].err[0] == '\0', "%s", args[i].err);
		conflicts += args[i].conflicts;
	}
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	for (int c = 0; c < RC_CTRS; c++)
	{
		char		key[16];
		ts_slice	v;
		int64_t		n;
		long		want = 0;

		for (int i = 0; i < RC_THREADS; i++)
			want += args[i].done[c];
		snprintf(key, sizeof(key), "ctr%d", c);
		CHECK_OK(ts_get(w, t, key, strlen(key), &v));
		CHECK(v.len == 8);
		memcpy(&n, v.data, 8);
		CHECK_MSG(n == want, "%s = %" PRId64 " after %ld committed increments (lost updates)", key, n, want);
	}
	ts_txn_abort(w);
	printf("# %d writers x %ld transactions, %ld conflicts retried\n", RC_THREADS, args[0].iters, conflicts);
	CHECK(conflicts > 0);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST_MAIN(sp_restores_absent_overwritten_deleted, sp_nested_marks, sp_release,
		  sp_commit_after_rollback_and_trees, sp_rolled_back_write_is_no_conflict,
		  sp_cursor_across_rollback, sp_errors, sp_many_savepoints_linear,
		  sp_randomized_model, renew_sees_commits_keeps_own_writes,
		  renew_conflict_uses_begin_snapshot, renew_with_savepoints_and_trees,
		  renew_cursors, renew_releases_pages, renew_threads_no_lost_update)
