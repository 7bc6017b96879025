/*-------------------------------------------------------------------------
 *
 * test_txn.c
 *	  Transaction semantics of the engine (treestore.h, TRANSACTIONS):
 *
 *	  - focused single-threaded cases: snapshot isolation, read-your-own
 *	    writes, first committer wins (and the loser leaves no trace), what
 *	    counts as a write, prepare (reservations, prepare conflicts, prepare
 *	    then abort), wrong-state and argument errors, tree creation
 *	    visibility;
 *	  - threads: writers incrementing shared counters with retry on
 *	    TS_CONFLICT (no lost update: each counter ends equal to the number of
 *	    successful increments) while readers check that counters never go
 *	    backwards and that a snapshot reads the same twice; and a bank:
 *	    transfers between accounts, readers check that every snapshot sums
 *	    to the constant total.
 *
 *	  TS_TXN_ITERS scales the threaded cases (default 1500 successful
 *	  transactions per writer thread).
 *
 *	  The randomized model-based test is test_model.c.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"
#include "txnhelpers.h"
#include "txn.h"
#include "vfs.h"

/* ------------------------------------------------------------------------
 * Focused single-threaded cases
 * ------------------------------------------------------------------------ */

TEST(txn_snapshot_isolation)
{
	ts_env	   *env = open_env("snap", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *w,
			   *r1,
			   *r2;
	ts_stat		st;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "k1", "v1");
	put_str(w, t, "k3", "v3");
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r1));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(ts_txn_snapshot(r1) == st.txnid);

	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "k1", "v1b");
	put_str(w, t, "k2", "v2");
	CHECK_OK(ts_del(w, t, "k3", 2));
	/* uncommitted writes are invisible to others */
	EXPECT_VAL(r1, t, "k1", "v1");
	EXPECT_VAL(r1, t, "k2", NULL);
	CHECK_OK(ts_txn_commit(w));

	/* r1 keeps its snapshot after the commit */
	EXPECT_VAL(r1, t, "k1", "v1");
	EXPECT_VAL(r1, t, "k2", NULL);
	EXPECT_VAL(r1, t, "k3", "v3");
	expect_scan(r1, t, "k1=v1 k3=v3");

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r2));
	CHECK(ts_txn_snapshot(r2) > ts_txn_snapshot(r1));
	expect_scan(r2, t, "k1=v1b k2=v2");

	/* a write transaction also reads its begin snapshot */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	{
		ts_txn	   *w2;

		CHECK_OK(ts_txn_begin(env, 0, &w2));
		put_str(w2, t, "k4", "v4");
		CHECK_OK(ts_txn_commit(w2));
	}
	EXPECT_VAL(w, t, "k4", NULL);
	expect_scan(w, t, "k1=v1b k2=v2");
	ts_txn_abort(w);

	CHECK_OK(ts_txn_commit(r1));	/* committing a read-only txn just ends it */
	ts_txn_abort(r2);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(txn_read_own_writes)
{
	ts_env	   *env = open_env("ryow", 1);
	ts_tree		t = make_tree(env, "t"),
				u = make_tree(env, "u");
	ts_txn	   *w,
			   *r;
	ts_cursor  *c;
	ts_slice	k,
				v;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "a", "1");
	put_str(w, t, "b", "2");
	put_str(w, t, "c", "3");
	put_str(w, u, "b", "other tree");
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "b", "2new");
	CHECK_OK(ts_del(w, t, "c", 1));
	put_str(w, t, "d", "4");
	EXPECT_VAL(w, t, "b", "2new");
	EXPECT_VAL(w, t, "c", NULL);
	EXPECT_VAL(w, t, "d", "4");
	EXPECT_VAL(w, u, "b", "other tree");
	CHECK_ERR(ts_del(w, t, "c", 1), TS_NOTFOUND);	/* already deleted here */
	CHECK_ERR(ts_put(w, t, "d", 1, "x", 1, TS_NOOVERWRITE), TS_EXISTS);
	CHECK_OK(ts_put(w, t, "c", 1, "3again", 6, TS_NOOVERWRITE));	/* deleted here: absent */
	CHECK_OK(ts_del(w, t, "c", 1));
	expect_scan(w, t, "a=1 b=2new d=4");

	/* a cursor open across writes sees them at its next move */
	CHECK_OK(ts_cursor_open(w, t, &c));
	CHECK_OK(ts_cursor_first(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "a", 1) == 0);
	CHECK_OK(ts_del(w, t, "b", 1));
	put_str(w, t, "bb", "5");
	CHECK_OK(ts_cursor_next(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK_MSG(k.len == 2 && memcmp(k.data, "bb", 2) == 0, "next after writes: %.*s", (int) k.len,
			  (const char *) k.data);
	CHECK_OK(ts_cursor_next(c));
	CHECK_OK(ts_cursor_get(c, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "d", 1) == 0);
	CHECK_ERR(ts_cursor_next(c), TS_NOTFOUND);
	ts_cursor_close(c);

	/* others see none of it */
	expect_scan(r, t, "a=1 b=2 c=3");
	ts_txn_abort(w);

	/* abort leaves nothing */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=1 b=2 c=3");
	ts_txn_abort(w);
	ts_txn_abort(r);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(txn_first_committer_wins)
{
	ts_env	   *env = open_env("fcw", 1);
	ts_tree		t = make_tree(env, "t"),
				u = make_tree(env, "u");
	ts_txn	   *a,
			   *b,
			   *r;
	ts_stat		st0,
				st1;

	CHECK_OK(ts_txn_begin(env, 0, &a));
	put_str(a, t, "k", "0");
	put_str(a, t, "m", "0");
	CHECK_OK(ts_txn_commit(a));

	/* put/put: the second committer loses, and leaves no trace */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(a, t, "k", "A");
	put_str(a, t, "x", "A");
	put_str(b, t, "k", "B");
	put_str(b, t, "y", "B");
	put_str(b, u, "z", "B");
	CHECK_OK(ts_txn_commit(a));
	CHECK_OK(ts_env_stat(env, &st0));
	CHECK_ERR(ts_txn_commit(b), TS_CONFLICT);
	CHECK_OK(ts_env_stat(env, &st1));
	CHECK(st1.conflicts == st0.conflicts + 1);
	CHECK(st1.txnid == st0.txnid);	/* the loser committed nothing */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, t, "k=A m=0 x=A");
	expect_scan(r, u, "");
	ts_txn_abort(r);

	/* delete/put: B puts and commits first; A's delete loses */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	CHECK_OK(ts_del(a, t, "k", 1));
	put_str(b, t, "k", "B2");
	CHECK_OK(ts_txn_commit(b));
	CHECK_ERR(ts_txn_commit(a), TS_CONFLICT);

	/* put/delete: A deletes m and commits first; B's put of m loses */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(b, t, "m", "B");
	CHECK_OK(ts_del(a, t, "m", 1));
	CHECK_OK(ts_txn_commit(a));
	CHECK_ERR(ts_txn_commit(b), TS_CONFLICT);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, t, "k=B2 x=A");
	ts_txn_abort(r);

	/* disjoint keys, and the same key in different trees: both commit */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(a, t, "p", "A");
	put_str(b, t, "q", "B");
	put_str(a, u, "same", "A");
	put_str(b, t, "same", "B");
	CHECK_OK(ts_txn_commit(b));
	CHECK_OK(ts_txn_commit(a));

	/* a transaction that began after the commit does not conflict */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	put_str(a, t, "p", "A2");
	CHECK_OK(ts_txn_commit(a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(b, t, "p", "B2");
	CHECK_OK(ts_txn_commit(b));

	/* reads never conflict (snapshot isolation checks writes only) */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	EXPECT_VAL(a, t, "p", "B2");
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(b, t, "p", "B3");
	CHECK_OK(ts_txn_commit(b));
	EXPECT_VAL(a, t, "p", "B2");
	put_str(a, t, "r", "from A");
	CHECK_OK(ts_txn_commit(a));

	/* failed operations are not writes: a TS_EXISTS put, a TS_NOTFOUND delete */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	CHECK_ERR(ts_put(a, t, "p", 1, "x", 1, TS_NOOVERWRITE), TS_EXISTS);
	CHECK_ERR(ts_del(a, t, "nope", 4), TS_NOTFOUND);
	put_str(a, t, "s", "A");
	put_str(b, t, "p", "B4");
	put_str(b, t, "nope", "B4");
	CHECK_OK(ts_txn_commit(b));
	CHECK_OK(ts_txn_commit(a));

	/* a conflict on the last of many keys still applies nothing */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	for (int i = 0; i < 500; i++)
	{
		char		key[32];

		snprintf(key, sizeof(key), "bulk%04d", i);
		put_str(a, u, key, "A");
	}
	put_str(a, t, "zzz", "A");
	put_str(b, t, "zzz", "B");
	CHECK_OK(ts_txn_commit(b));
	CHECK_ERR(ts_txn_commit(a), TS_CONFLICT);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, u, "same=A");
	EXPECT_VAL(r, t, "zzz", "B");
	expect_scan(r, t, "k=B2 nope=B4 p=B4 q=B r=from A s=A same=B x=A zzz=B");
	ts_txn_abort(r);

	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(txn_prepare)
{
	ts_env	   *env = open_env("prep", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *a,
			   *b,
			   *c,
			   *r;
	char		gid[256];

	/* a prepared transaction's keys are reserved */
	CHECK_OK(ts_txn_begin(env, 0, &b));	/* began before the prepare */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	put_str(a, t, "k", "A");
	put_str(a, t, "k2", "A");
	CHECK_OK(ts_txn_prepare(a, "gid-a"));
	CHECK_OK(ts_txn_begin(env, 0, &c));	/* began after the prepare */
	put_str(b, t, "k", "B");
	put_str(c, t, "k2", "C");
	CHECK_ERR(ts_txn_commit(b), TS_CONFLICT);
	CHECK_ERR(ts_txn_commit(c), TS_CONFLICT);
	/* disjoint keys commit while a is prepared */
	CHECK_OK(ts_txn_begin(env, 0, &c));
	put_str(c, t, "other", "C");
	CHECK_OK(ts_txn_commit(c));
	/* nothing of a is visible before its commit */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	EXPECT_VAL(r, t, "k", NULL);
	ts_txn_abort(r);
	CHECK_OK(ts_txn_commit(a));	/* cannot conflict any more */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, t, "k=A k2=A other=C");
	ts_txn_abort(r);

	/* a second prepare of an overlapping write set fails; the txn stays
	 * active and is aborted */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(a, t, "k", "A2");
	put_str(b, t, "k", "B2");
	CHECK_OK(ts_txn_prepare(a, "gid-a2"));
	CHECK_ERR(ts_txn_prepare(b, "gid-b2"), TS_CONFLICT);
	ts_txn_abort(b);
	CHECK_OK(ts_txn_commit(a));

	/* a gid names one prepared transaction: a second one under it fails */
	{
		ts_tree		d = make_tree(env, "dup");

		CHECK_OK(ts_txn_begin(env, 0, &a));
		CHECK_OK(ts_txn_begin(env, 0, &b));
		put_str(a, d, "dup-a", "A");
		put_str(b, d, "dup-b", "B");
	}
	CHECK_OK(ts_txn_prepare(a, "gid-dup"));
	CHECK_ERR(ts_txn_prepare(b, "gid-dup"), TS_EXISTS);
	CHECK_OK(ts_txn_prepare(b, "gid-dup2"));	/* stayed active: another gid works */
	CHECK_OK(ts_txn_commit(a));
	CHECK_OK(ts_txn_commit(b));

	/* prepare checks commits since the snapshot */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(a, t, "k", "A3");
	put_str(b, t, "k", "B3");
	CHECK_OK(ts_txn_commit(b));
	CHECK_ERR(ts_txn_prepare(a, "gid-a3"), TS_CONFLICT);
	ts_txn_abort(a);

	/* prepare then abort releases the reservation and applies nothing */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_begin(env, 0, &b));
	put_str(a, t, "k", "A4");
	put_str(a, t, "new", "A4");
	CHECK_OK(ts_txn_prepare(a, "gid-a4"));
	ts_txn_abort(a);
	put_str(b, t, "k", "B4");
	CHECK_OK(ts_txn_commit(b));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	expect_scan(r, t, "k=B4 k2=A other=C");
	ts_txn_abort(r);

	/* after a successful prepare only commit or abort may follow */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	put_str(a, t, "late", "A5");
	CHECK_OK(ts_txn_prepare(a, "gid-a5"));
	CHECK_ERR(ts_put(a, t, "later", 5, "x", 1, 0), TS_BAD_TXN);
	CHECK_ERR(ts_del(a, t, "late", 4), TS_BAD_TXN);
	CHECK_OK(ts_txn_commit(a));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	EXPECT_VAL(r, t, "late", "A5");
	EXPECT_VAL(r, t, "later", NULL);
	ts_txn_abort(r);

	/* an empty write set prepares and commits */
	CHECK_OK(ts_txn_begin(env, 0, &a));
	CHECK_OK(ts_txn_prepare(a, "gid-empty"));
	CHECK_OK(ts_txn_commit(a));

	/* gid: at most 200 bytes */
	memset(gid, 'g', sizeof(gid));
	gid[201] = '\0';
	CHECK_OK(ts_txn_begin(env, 0, &a));
	put_str(a, t, "g", "1");
	CHECK_ERR(ts_txn_prepare(a, gid), TS_INVALID);
	gid[200] = '\0';
	CHECK_OK(ts_txn_prepare(a, gid));
	CHECK_OK(ts_txn_commit(a));

	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST(txn_errors_and_trees)
{
	ts_env	   *env = open_env("err", 1);
	ts_tree		t = make_tree(env, "t"),
				t2,
				n;
	ts_txn	   *w,
			   *r,
			   *old;
	static uint8_t big[TS_MAX_KEY + 1];
	ts_slice	v;

	memset(big, 'k', sizeof(big));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_ERR(ts_put(w, t, big, 0, "v", 1, 0), TS_KEY_TOO_BIG);
	CHECK_ERR(ts_put(w, t, big, TS_MAX_KEY + 1, "v", 1, 0), TS_KEY_TOO_BIG);
	CHECK_OK(ts_put(w, t, big, TS_MAX_KEY, "v", 1, 0));
	CHECK_OK(ts_put(w, t, "empty", 5, "", 0, 0));
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_OK(ts_get(r, t, big, TS_MAX_KEY, &v));
	CHECK(v.len == 1 && memcmp(v.data, "v", 1) == 0);
	CHECK_OK(ts_get(r, t, "empty", 5, &v));
	CHECK(v.len == 0);
	CHECK_ERR(ts_put(r, t, "x", 1, "v", 1, 0), TS_BAD_TXN);
	CHECK_ERR(ts_del(r, t, "empty", 5), TS_BAD_TXN);
	CHECK_ERR(ts_tree_open(r, "missing", TS_CREATE, &t2), TS_BAD_TXN);
	CHECK_ERR(ts_tree_open(r, "missing", 0, &t2), TS_NOTFOUND);
	CHECK_OK(ts_tree_open(r, "t", 0, &t2));
	CHECK(t2 == t);				/* handles are stable for the env */
	ts_txn_abort(r);

	/* a new tree is visible to others only after its creator commits */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &old));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, "newtree", TS_CREATE, &n));
	put_str(w, n, "a", "1");
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_ERR(ts_tree_open(r, "newtree", 0, &t2), TS_NOTFOUND);
	ts_txn_abort(r);
	CHECK_OK(ts_txn_commit(w));
	CHECK_ERR(ts_tree_open(old, "newtree", 0, &t2), TS_NOTFOUND);
	ts_txn_abort(old);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_OK(ts_tree_open(r, "newtree", 0, &t2));
	EXPECT_VAL(r, t2, "a", "1");
	ts_txn_abort(r);

	/* a tree created by an aborted transaction does not exist */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, "ghost", TS_CREATE, &n));
	put_str(w, n, "a", "1");
	ts_txn_abort(w);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_ERR(ts_tree_open(r, "ghost", 0, &t2), TS_NOTFOUND);
	ts_txn_abort(r);

	/* everything survives a reopen */
	CHECK_OK(ts_env_close(env));
	env = open_env("err", 0);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_OK(ts_tree_open(r, "newtree", 0, &t2));
	EXPECT_VAL(r, t2, "a", "1");
	CHECK_OK(ts_tree_open(r, "t", 0, &t2));
	CHECK_OK(ts_get(r, t2, big, TS_MAX_KEY, &v));
	CHECK_ERR(ts_tree_open(r, "ghost", 0, &t2), TS_NOTFOUND);
	ts_txn_abort(r);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

/* ------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------ */

/* A failure in a thread is recorded here and checked by the main thread. */
static atomic_int tfailed;
static pthread_mutex_t tmsg_lock = PTHREAD_MUTEX_INITIALIZER;
static char tmsg[1024];

static void tfail(const char *fmt,...) __attribute__((format(printf, 1, 2)));

static void
tfail(const char *fmt,...)
{
	va_list		ap;

	pthread_mutex_lock(&tmsg_lock);
	if (!atomic_load(&tfailed))
	{
		va_start(ap, fmt);
		vsnprintf(tmsg, sizeof(tmsg), fmt, ap);
		va_end(ap);
		atomic_store(&tfailed, 1);
	}
	pthread_mutex_unlock(&tmsg_lock);
}

static void
tfail_reset(void)
{
	atomic_store(&tfailed, 0);
	tmsg[0] = '\0';
}

static uint64_t
trng(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int
get_i64(ts_txn *txn, ts_tree t, const char *key, int64_t *out)
{
	ts_slice	v;
	int			rc = ts_get(txn, t, key, strlen(key), &v);

	if (rc != 0)
		return rc;
	if (v.len != 8)
		return TS_CORRUPT;
	memcpy(out, v.data, 8);
	return 0;
}

static int
put_i64(ts_txn *txn, ts_tree t, const char *key, int64_t val)
{
	return ts_put(txn, t, key, strlen(key), &val, 8, 0);
}

/* --- counters --- */
#define NCTR		8
#define CW_THREADS	6
#define CR_THREADS	2

typedef struct ctr_shared
{
	ts_env	   *env;
	ts_tree		t;
	long		iters;
	atomic_int	writers_left;
} ctr_shared;

typedef struct ctr_arg
{
	ctr_shared *sh;
	int			id;
	long		done[NCTR];		/* successful increments per counter */
	long		conflicts;
	long		prepared;
	long		reads;
} ctr_arg;

static void
ctr_name(char *buf, int i)
{
	snprintf(buf, 16, "ctr/%d", i);
}

static void *
ctr_writer(void *p)
{
	ctr_arg    *a = p;
	ctr_shared *sh = a->sh;
	uint64_t	s = 0x1234567ULL * (uint64_t) (a->id + 1);

	for (long it = 0; it < sh->iters && !atomic_load(&tfailed); it++)
	{
		int			pick[3],
					np = 1 + (int) (trng(&s) % 3),
					use_prepare = trng(&s) % 8 == 0,
					use_cursor = trng(&s) % 4 == 0;

		for (int i = 0; i < np; i++)
		{
			int			again;

			do
			{
				pick[i] = (int) (trng(&s) % NCTR);
				again = 0;
				for (int j = 0; j < i; j++)
					if (pick[j] == pick[i])
						again = 1;
			} while (again);
		}
		for (;;)				/* until committed */
		{
			ts_txn	   *txn;
			int			rc = ts_txn_begin(sh->env, 0, &txn);
			int64_t		val[NCTR];

			if (rc != 0)
			{
				tfail("writer %d: ts_txn_begin: %s", a->id, ts_strerror(rc));
				return NULL;
			}
			if (use_cursor)
			{
				/* read all counters through a cursor */
				ts_cursor  *c;
				int			n = 0;

				rc = ts_cursor_open(txn, sh->t, &c);
				if (rc != 0)
				{
					tfail("writer %d: ts_cursor_open: %s", a->id, ts_strerror(rc));
					ts_txn_abort(txn);
					return NULL;
				}
				rc = ts_cursor_prefix(c, "ctr/", 4);
				for (rc = rc ? rc : ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
				{
					ts_slice	k,
								v;

					rc = ts_cursor_get(c, &k, &v);
					if (rc != 0 || v.len != 8 || n >= NCTR)
						break;
					memcpy(&val[n++], v.data, 8);
				}
				ts_cursor_close(c);
				if (rc != TS_NOTFOUND || n != NCTR)
				{
					tfail("writer %d: cursor over the counters: rc %d (%s), %d entries",
						  a->id, rc, ts_strerror(rc), n);
					ts_txn_abort(txn);
					return NULL;
				}
			}
			for (int i = 0; i < np; i++)
			{
				char		key[16];
				int64_t		v;

				ctr_name(key, pick[i]);
				rc = get_i64(txn, sh->t, key, &v);
				if (rc != 0)
				{
					tfail("writer %d: get %s: %s", a->id, key, ts_strerror(rc));
					ts_txn_abort(txn);
					return NULL;
				}
				if (use_cursor && v != val[pick[i]])
				{
					tfail("writer %d: %s reads %" PRId64 " by get, %" PRId64 " by cursor in one snapshot",
						  a->id, key, v, val[pick[i]]);
					ts_txn_abort(txn);
					return NULL;
				}
				if (trng(&s) % 2)
					sched_yield();	/* widen the read-to-write window */
				rc = put_i64(txn, sh->t, key, v + 1);
				if (rc == 0)
					rc = get_i64(txn, sh->t, key, &val[pick[i]]);
				if (rc != 0 || val[pick[i]] != v + 1)
				{
					tfail("writer %d: put/get back %s: %s", a->id, key, ts_strerror(rc));
					ts_txn_abort(txn);
					return NULL;
				}
			}
			if (use_prepare)
			{
				char		gid[64];

				snprintf(gid, sizeof(gid), "ctr-%d-%ld", a->id, it);
				rc = ts_txn_prepare(txn, gid);
				if (rc == TS_CONFLICT)
				{
					ts_txn_abort(txn);
					a->conflicts++;
					continue;
				}
				if (rc != 0)
				{
					tfail("writer %d: prepare: %s (%s)", a->id, ts_strerror(rc), ts_last_error());
					ts_txn_abort(txn);
					return NULL;
				}
				rc = ts_txn_commit(txn);
				if (rc != 0)
				{
					tfail("writer %d: commit after a successful prepare: %d (%s: %s)",
						  a->id, rc, ts_strerror(rc), ts_last_error());
					return NULL;
				}
				a->prepared++;
			}
			else
			{
				rc = ts_txn_commit(txn);
				if (rc == TS_CONFLICT)
				{
					a->conflicts++;
					continue;
				}
				if (rc != 0)
				{
					tfail("writer %d: commit: %d (%s: %s)", a->id, rc, ts_strerror(rc), ts_last_error());
					return NULL;
				}
			}
			break;
		}
		for (int i = 0; i < np; i++)
			a->done[pick[i]]++;
	}
	atomic_fetch_sub(&sh->writers_left, 1);
	return NULL;
}

static void *
ctr_reader(void *p)
{
	ctr_arg    *a = p;
	ctr_shared *sh = a->sh;
	int64_t		last[NCTR] = {0};
	uint64_t	last_snap = 0;

	while (atomic_load(&sh->writers_left) > 0 && !atomic_load(&tfailed))
	{
		ts_txn	   *txn;
		int64_t		v1[NCTR],
					v2[NCTR];
		int			rc = ts_txn_begin(sh->env, TS_RDONLY, &txn);

		if (rc != 0)
		{
			tfail("reader %d: begin: %s", a->id, ts_strerror(rc));
			return NULL;
		}
		if (ts_txn_snapshot(txn) < last_snap)
		{
			tfail("reader %d: snapshot went backwards (%" PRIu64 " after %" PRIu64 ")",
				  a->id, ts_txn_snapshot(txn), last_snap);
			ts_txn_abort(txn);
			return NULL;
		}
		last_snap = ts_txn_snapshot(txn);
		for (int pass = 0; pass < 2; pass++)
		{
			for (int i = 0; i < NCTR; i++)
			{
				char		key[16];

				ctr_name(key, i);
				rc = get_i64(txn, sh->t, key, pass ? &v2[i] : &v1[i]);
				if (rc != 0)
				{
					tfail("reader %d: get %s: %s (%s)", a->id, key, ts_strerror(rc), ts_last_error());
					ts_txn_abort(txn);
					return NULL;
				}
			}
			if (pass == 0)
				sched_yield();	/* let writers commit in between */
		}
		for (int i = 0; i < NCTR; i++)
		{
			if (v1[i] != v2[i])
			{
				tfail("reader %d: ctr/%d read %" PRId64 " then %" PRId64 " in one snapshot",
					  a->id, i, v1[i], v2[i]);
				ts_txn_abort(txn);
				return NULL;
			}
			if (v1[i] < last[i])
			{
				tfail("reader %d: ctr/%d went backwards: %" PRId64 " after %" PRId64,
					  a->id, i, v1[i], last[i]);
				ts_txn_abort(txn);
				return NULL;
			}
			last[i] = v1[i];
		}
		a->reads++;
		if (a->reads % 2)
			ts_txn_abort(txn);
		else if ((rc = ts_txn_commit(txn)) != 0)
		{
			tfail("reader %d: commit of a read-only txn: %s", a->id, ts_strerror(rc));
			return NULL;
		}
	}
	return NULL;
}

TEST(txn_threads_no_lost_update)
{
	ts_env	   *env = open_env("ctr", 1);
	ctr_shared	sh;
	ctr_arg		args[CW_THREADS + CR_THREADS];
	pthread_t	th[CW_THREADS + CR_THREADS];
	ts_txn	   *txn;
	long		conflicts = 0,
				prepared = 0,
				reads = 0;

	tfail_reset();
	memset(args, 0, sizeof(args));
	sh.env = env;
	sh.t = make_tree(env, "counters");
	sh.iters = env_long("TS_TXN_ITERS", 1500);
	atomic_store(&sh.writers_left, CW_THREADS);
	CHECK_OK(ts_txn_begin(env, 0, &txn));
	for (int i = 0; i < NCTR; i++)
	{
		char		key[16];

		ctr_name(key, i);
		CHECK_OK(put_i64(txn, sh.t, key, 0));
	}
	CHECK_OK(ts_txn_commit(txn));

	for (int i = 0; i < CW_THREADS + CR_THREADS; i++)
	{
		args[i].sh = &sh;
		args[i].id = i;
		CHECK(pthread_create(&th[i], NULL, i < CW_THREADS ? ctr_writer : ctr_reader, &args[i]) == 0);
	}
	for (int i = 0; i < CW_THREADS + CR_THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_MSG(!atomic_load(&tfailed), "%s", tmsg);

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &txn));
	for (int i = 0; i < NCTR; i++)
	{
		char		key[16];
		int64_t		v;
		long		want = 0;

		for (int j = 0; j < CW_THREADS; j++)
			want += args[j].done[i];
		ctr_name(key, i);
		CHECK_OK(get_i64(txn, sh.t, key, &v));
		CHECK_MSG(v == want, "%s = %" PRId64 " after %ld successful increments (lost updates)", key, v, want);
	}
	ts_txn_abort(txn);
	for (int j = 0; j < CW_THREADS + CR_THREADS; j++)
	{
		conflicts += args[j].conflicts;
		prepared += args[j].prepared;
		reads += args[j].reads;
	}
	printf("# counters: %d writers x %ld txns, %ld conflicts retried, %ld via prepare, %ld reader snapshots\n",
		   CW_THREADS, sh.iters, conflicts, prepared, reads);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

/* --- bank --- */
#define NACCT		32
#define BW_THREADS	4
#define BR_THREADS	3
#define START_BAL	1000

typedef struct bank_shared
{
	ts_env	   *env;
	ts_tree		t;
	long		iters;
	atomic_int	writers_left;
} bank_shared;

typedef struct bank_arg
{
	bank_shared *sh;
	int			id;
	long		conflicts;
	long		checks;
} bank_arg;

static void
acct_name(char *buf, int i)
{
	snprintf(buf, 16, "acct/%02d", i);
}

/* Sum of all accounts through a cursor: 0 or an error; *n entries. */
static int
bank_sum(ts_txn *txn, ts_tree t, int64_t *sum, int *n, int64_t *bal)
{
	ts_cursor  *c;
	int			rc = ts_cursor_open(txn, t, &c);

	*sum = 0;
	*n = 0;
	if (rc != 0)
		return rc;
	rc = ts_cursor_prefix(c, "acct/", 5);
	for (rc = rc ? rc : ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
	{
		ts_slice	k,
					v;
		int64_t		x;

		rc = ts_cursor_get(c, &k, &v);
		if (rc != 0)
			break;
		if (v.len != 8 || *n >= NACCT)
		{
			rc = TS_CORRUPT;
			break;
		}
		memcpy(&x, v.data, 8);
		if (bal)
			bal[*n] = x;
		*sum += x;
		(*n)++;
	}
	ts_cursor_close(c);
	return rc == TS_NOTFOUND ? 0 : rc;
}

static void *
bank_writer(void *p)
{
	bank_arg   *a = p;
	bank_shared *sh = a->sh;
	uint64_t	s = 0xABCDEFULL * (uint64_t) (a->id + 7);

	for (long it = 0; it < sh->iters && !atomic_load(&tfailed); it++)
	{
		int			from = (int) (trng(&s) % NACCT),
					to = (int) (trng(&s) % (NACCT - 1));
		int			third = (int) (trng(&s) % NACCT);
		int64_t		amt = (int64_t) (trng(&s) % 100) + 1;
		int			verify = trng(&s) % 10 == 0;

		if (to >= from)
			to++;
		for (;;)
		{
			ts_txn	   *txn;
			char		kf[16],
						kt[16],
						k3[16];
			int64_t		bf,
						bt,
						b3,
						sum;
			int			n,
						rc = ts_txn_begin(sh->env, 0, &txn);

			if (rc != 0)
			{
				tfail("bank writer %d: begin: %s", a->id, ts_strerror(rc));
				return NULL;
			}
			acct_name(kf, from);
			acct_name(kt, to);
			acct_name(k3, third);
			if ((rc = get_i64(txn, sh->t, kf, &bf)) == 0 && trng(&s) % 2)
				sched_yield();	/* widen the read-to-write window */
			if (rc != 0 ||
				(rc = put_i64(txn, sh->t, kf, bf - amt)) != 0 ||
				(rc = get_i64(txn, sh->t, kt, &bt)) != 0 ||
				(rc = put_i64(txn, sh->t, kt, bt + amt)) != 0)
			{
				tfail("bank writer %d: transfer: %s (%s)", a->id, ts_strerror(rc), ts_last_error());
				ts_txn_abort(txn);
				return NULL;
			}
			if (third != from && third != to && trng(&s) % 3 == 0)
			{
				/* a second leg: to -> third, half of amt */
				if ((rc = get_i64(txn, sh->t, kt, &bt)) != 0 ||
					(rc = put_i64(txn, sh->t, kt, bt - amt / 2)) != 0 ||
					(rc = get_i64(txn, sh->t, k3, &b3)) != 0 ||
					(rc = put_i64(txn, sh->t, k3, b3 + amt / 2)) != 0)
				{
					tfail("bank writer %d: second leg: %s", a->id, ts_strerror(rc));
					ts_txn_abort(txn);
					return NULL;
				}
			}
			if (verify)
			{
				/* the snapshot merged with own writes still sums to the total */
				rc = bank_sum(txn, sh->t, &sum, &n, NULL);
				if (rc != 0 || n != NACCT || sum != (int64_t) NACCT * START_BAL)
				{
					tfail("bank writer %d: inside a write txn: sum %" PRId64 " over %d accounts (rc %d)",
						  a->id, sum, n, rc);
					ts_txn_abort(txn);
					return NULL;
				}
				a->checks++;
			}
			rc = ts_txn_commit(txn);
			if (rc == TS_CONFLICT)
			{
				a->conflicts++;
				continue;
			}
			if (rc != 0)
			{
				tfail("bank writer %d: commit: %s (%s)", a->id, ts_strerror(rc), ts_last_error());
				return NULL;
			}
			break;
		}
	}
	atomic_fetch_sub(&sh->writers_left, 1);
	return NULL;
}

static void *
bank_reader(void *p)
{
	bank_arg   *a = p;
	bank_shared *sh = a->sh;
	uint64_t	s = 0x5151ULL * (uint64_t) (a->id + 3);

	while ((atomic_load(&sh->writers_left) > 0 || a->checks < 200) && !atomic_load(&tfailed))
	{
		ts_txn	   *txn;
		int64_t		sum,
					sum2 = 0,
					bal[NACCT],
					bal2[NACCT];
		int			n,
					n2,
					rc = ts_txn_begin(sh->env, TS_RDONLY, &txn);

		if (rc != 0)
		{
			tfail("bank reader %d: begin: %s", a->id, ts_strerror(rc));
			return NULL;
		}
		rc = bank_sum(txn, sh->t, &sum, &n, bal);
		if (rc != 0 || n != NACCT || sum != (int64_t) NACCT * START_BAL)
		{
			tfail("bank reader %d: snapshot %" PRIu64 " sums to %" PRId64 " over %d accounts (rc %d %s), expected %d",
				  a->id, ts_txn_snapshot(txn), sum, n, rc, ts_strerror(rc), NACCT * START_BAL);
			ts_txn_abort(txn);
			return NULL;
		}
		/* hold the snapshot while writers commit, then read it again by gets */
		for (int i = 0, spins = (int) (trng(&s) % 50); i < spins; i++)
			sched_yield();
		for (int i = 0; i < NACCT; i++)
		{
			char		k[16];

			acct_name(k, i);
			rc = get_i64(txn, sh->t, k, &bal2[i]);
			if (rc != 0 || bal2[i] != bal[i])
			{
				tfail("bank reader %d: %s read %" PRId64 " by cursor, then %" PRId64 " by get (rc %d) in one snapshot",
					  a->id, k, bal[i], bal2[i], rc);
				ts_txn_abort(txn);
				return NULL;
			}
			sum2 += bal2[i];
		}
		rc = bank_sum(txn, sh->t, &sum, &n2, NULL);
		if (rc != 0 || sum != sum2 || n2 != NACCT)
		{
			tfail("bank reader %d: second scan of one snapshot sums to %" PRId64 " (rc %d)", a->id, sum, rc);
			ts_txn_abort(txn);
			return NULL;
		}
		a->checks++;
		ts_txn_abort(txn);
	}
	return NULL;
}

TEST(txn_threads_bank)
{
	ts_env	   *env = open_env("bank", 1);
	bank_shared sh;
	bank_arg	args[BW_THREADS + BR_THREADS];
	pthread_t	th[BW_THREADS + BR_THREADS];
	ts_txn	   *txn;
	int64_t		sum;
	int			n;
	long		conflicts = 0,
				rchecks = 0,
				wchecks = 0;

	tfail_reset();
	memset(args, 0, sizeof(args));
	sh.env = env;
	sh.t = make_tree(env, "bank");
	sh.iters = env_long("TS_TXN_ITERS", 1500);
	atomic_store(&sh.writers_left, BW_THREADS);
	CHECK_OK(ts_txn_begin(env, 0, &txn));
	for (int i = 0; i < NACCT; i++)
	{
		char		k[16];

		acct_name(k, i);
		CHECK_OK(put_i64(txn, sh.t, k, START_BAL));
	}
	/* other keys around the accounts, outside the prefix */
	CHECK_OK(ts_put(txn, sh.t, "acc", 3, "x", 1, 0));
	CHECK_OK(ts_put(txn, sh.t, "acct0", 5, "x", 1, 0));
	CHECK_OK(ts_txn_commit(txn));

	for (int i = 0; i < BW_THREADS + BR_THREADS; i++)
	{
		args[i].sh = &sh;
		args[i].id = i;
		CHECK(pthread_create(&th[i], NULL, i < BW_THREADS ? bank_writer : bank_reader, &args[i]) == 0);
	}
	for (int i = 0; i < BW_THREADS + BR_THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_MSG(!atomic_load(&tfailed), "%s", tmsg);
	for (int i = 0; i < BW_THREADS + BR_THREADS; i++)
	{
		conflicts += args[i].conflicts;
		if (i < BW_THREADS)
			wchecks += args[i].checks;
		else
			rchecks += args[i].checks;
	}
	printf("# bank: %d writers x %ld transfers, %ld conflicts retried, %ld reader snapshots and %ld "
		   "in-transaction sums checked\n", BW_THREADS, sh.iters, conflicts, rchecks, wchecks);

	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	env = open_env("bank", 0);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &txn));
	CHECK_OK(ts_tree_open(txn, "bank", 0, &sh.t));
	CHECK_OK(bank_sum(txn, sh.t, &sum, &n, NULL));
	CHECK(n == NACCT);
	CHECK_MSG(sum == (int64_t) NACCT * START_BAL, "total after reopen: %" PRId64, sum);
	ts_txn_abort(txn);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

/* ------------------------------------------------------------------------
 * ts_env_stat reads pages as a registered reader (issue 12, item 12)
 * ------------------------------------------------------------------------ */

/*
 * A VFS passing everything to the POSIX one, whose data-file reads call a
 * hook while armed: the hook runs in the middle of ts_env_stat's freelist
 * walk (a cache miss) and looks at what the page reuse horizon sees.
 */
static ts_vfs stat_vfs;
static ts_env *stat_env;
static int	stat_armed;
static int	stat_hook_ran;
static int	stat_registered;	/* a live reader reads the current snapshot */

static int
stat_vfs_read(ts_file *f, void *buf, size_t n, uint64_t off)
{
	if (stat_armed)
	{
		stat_armed = 0;
		stat_hook_ran = 1;
		pthread_mutex_lock(&stat_env->lock);
		for (ts_txn *t = stat_env->txns; t; t = t->next)
			if (t->snap->meta.txnid <= stat_env->current->meta.txnid)
				stat_registered++;
		/* what a concurrent commit would take as its reuse horizon */
		if (ts_env_oldest(stat_env) > stat_env->current->meta.txnid)
			stat_registered = -1000;
		pthread_mutex_unlock(&stat_env->lock);
	}
	return ts_vfs_posix()->read(f, buf, n, off);
}

TEST(txn_stat_registers_reader)
{
	ts_options	o;
	ts_env	   *env;
	ts_tree		t;
	ts_txn	   *w;
	ts_stat		st;
	char		dir[512];

	stat_vfs = *ts_vfs_posix();
	stat_vfs.read = stat_vfs_read;
	snprintf(dir, sizeof(dir), "%s", th_tmpdir("statreader"));
	ts_options_init(&o);
	o.sync = 0;
	o.flags = TS_CREATE;
	o.vfs = &stat_vfs;
	CHECK_OK(ts_env_open(dir, &o, &env));
	t = make_tree(env, "t");
	/* rewrite the keys a few times: the freelist gets records */
	for (int round = 0; round < 4; round++)
	{
		CHECK_OK(ts_txn_begin(env, 0, &w));
		for (int i = 0; i < 400; i++)
		{
			char		k[32],
						v[64];

			snprintf(k, sizeof(k), "key%05d", i);
			snprintf(v, sizeof(v), "value %d of round %d", i, round);
			put_str(w, t, k, v);
		}
		CHECK_OK(ts_txn_commit(w));
	}
	CHECK_OK(ts_env_close(env));

	/* reopened: the freelist pages are not cached, the walk reads them */
	o.flags = 0;
	CHECK_OK(ts_env_open(dir, &o, &env));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.free_pages > 0 && st.active_txns == 0);
	CHECK_OK(ts_env_close(env));
	CHECK_OK(ts_env_open(dir, &o, &env));
	stat_env = env;
	stat_hook_ran = 0;
	stat_registered = 0;
	stat_armed = 1;
	CHECK_OK(ts_env_stat(env, &st));
	stat_armed = 0;
	CHECK_MSG(stat_hook_ran, "ts_env_stat read no page from the file");
	CHECK_MSG(stat_registered == 1,
			  "during ts_env_stat's freelist walk %d live readers held its snapshot (expected 1)",
			  stat_registered);
	/* and the reader is gone afterwards */
	CHECK(st.active_txns == 0);
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.active_txns == 0 && st.oldest_reader == st.txnid);
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

/* ------------------------------------------------------------------------
 * A value the log cannot hold is refused at ts_put (issue 12, item 15)
 * ------------------------------------------------------------------------ */

/*
 * Sizes only: ts_put must refuse the value from its length alone, before
 * reading a byte of it, so the test passes a small buffer with a length
 * of about 2 GB and never allocates one.
 */
TEST(txn_value_too_big_for_log)
{
	ts_env	   *env = open_env("toobig", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *w;
	ts_stat		st;
	static const char small[16] = "0123456789abcde";
	const size_t lens[] = {
		((size_t) 1 << 31) - 5,	/* once allowed; with its record over 2^31 */
		((size_t) 1 << 31),
		TS_MAX_VALUE + 1,
		(size_t) UINT32_MAX + 7,
	};

	/* the limit holds any key: op header + key + value fit one record */
	CHECK(11 + (size_t) TS_MAX_KEY + TS_MAX_VALUE <= ((size_t) 1 << 31));
	CHECK(ts_strerror(TS_VALUE_TOO_BIG) != NULL &&
		  strcmp(ts_strerror(TS_VALUE_TOO_BIG), "unknown error") != 0);
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_str(w, t, "a", "1");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		CHECK_ERR(ts_put(w, t, "k", 1, small, lens[i], 0), TS_VALUE_TOO_BIG);
	/* the transaction goes on: its other writes commit, nothing poisoned */
	put_str(w, t, "b", "2");
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(ts_env_stat(env, &st));
	CHECK(st.poisoned == 0);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	expect_scan(w, t, "a=1 b=2");
	ts_txn_abort(w);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

/* ------------------------------------------------------------------------
 * The conflict table stays bounded under a long-lived writer (issue 12,
 * item 13)
 * ------------------------------------------------------------------------ */

TEST(txn_conflict_table_bounded)
{
	ts_env	   *env = open_env("ctab", 1);
	ts_tree		t = make_tree(env, "t");
	ts_txn	   *old,
			   *w;
	const int	commits = 3000;
	const size_t limit = 200;
	size_t		most = 0;
	uint64_t	visits;

	env->ctab_limit = limit;	/* TS_CTAB_LIMIT is 65536: the same, smaller */
	/* a writer that stays open: every later commit is recorded, and young */
	CHECK_OK(ts_txn_begin(env, 0, &old));
	put_str(old, t, "old-own", "x");
	pthread_mutex_lock(&env->lock);
	visits = env->ctab_visits;
	pthread_mutex_unlock(&env->lock);
	for (int i = 0; i < commits; i++)
	{
		char		k[32];

		snprintf(k, sizeof(k), "key%05d", i);
		CHECK_OK(ts_txn_begin(env, 0, &w));
		put_str(w, t, k, "v");
		CHECK_OK(ts_txn_commit(w));
		pthread_mutex_lock(&env->lock);
		if (env->ctab_count > most)
			most = env->ctab_count;
		pthread_mutex_unlock(&env->lock);
	}
	pthread_mutex_lock(&env->lock);
	visits = env->ctab_visits - visits;
	pthread_mutex_unlock(&env->lock);
	/* memory: entries up to about the limit, not one per key ever written */
	CHECK_MSG(most <= 2 * limit + 16, "the conflict table held %zu entries (limit %zu)", most, limit);
	/* time: the walks cost O(1) per commit, not O(table) */
	CHECK_MSG(visits <= (uint64_t) 64 * commits, "the walks visited %llu buckets and entries for %d commits",
			  (unsigned long long) visits, commits);

	/* a key written after old began still conflicts, folded or not */
	{
		ts_txn	   *o2;

		CHECK_OK(ts_txn_begin(env, 0, &o2));	/* begun after all of them */
		put_str(o2, t, "key00005", "o2");
		put_str(old, t, "key00005", "old");
		CHECK_ERR(ts_txn_commit(old), TS_CONFLICT);
		CHECK_OK(ts_txn_commit(o2));	/* its base includes every commit */
	}
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &w));
	EXPECT_VAL(w, t, "key00005", "o2");
	EXPECT_VAL(w, t, "old-own", NULL);
	ts_txn_abort(w);
	/* with no writer open, the next walk empties table and summary */
	for (int i = 0; i < 300; i++)
	{
		CHECK_OK(ts_txn_begin(env, 0, &w));
		put_str(w, t, "again", "v");
		CHECK_OK(ts_txn_commit(w));
	}
	pthread_mutex_lock(&env->lock);
	CHECK(env->ctab_summary_max == 0);
	CHECK(env->ctab_count <= 256);
	pthread_mutex_unlock(&env->lock);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

TEST_MAIN(txn_snapshot_isolation, txn_read_own_writes, txn_first_committer_wins, txn_prepare,
		  txn_errors_and_trees, txn_threads_no_lost_update, txn_threads_bank,
		  txn_stat_registers_reader, txn_value_too_big_for_log,
		  txn_conflict_table_bounded)
