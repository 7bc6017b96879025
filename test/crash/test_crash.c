/*
 * test_crash.c
 *	  The crash simulator test of the engine: workloads on a crashvfs
 *	  (crashvfs.h), a power loss at a random crash point, recovery
 *	  (ts_env_open on the same disk) and an oracle.
 *
 *	  A RUN starts on an empty disk (directory /db made durable first) and
 *	  goes through CYCLES:
 *	    1. Arm a crash point: the n-th file sync, write or directory sync
 *	       from now (n random within what the workload will do), frozen
 *	       before it, after it, or after it with EIO (crashvfs_arm).
 *	    2. Workload: 20-50 steps on the environment (opts.sync = 1, a small
 *	       cache): write transactions putting "k<j>" in trees t0..t2 (small,
 *	       medium and overflow values up to 100 KB, each value naming the
 *	       transaction, tree and key that wrote it and its bytes derived
 *	       from them) and deleting a few; aborted transactions; pairs of
 *	       transactions conflicting on a key (the second committer must fail
 *	       with TS_CONFLICT); prepared transactions then committed or
 *	       aborted; long read transactions checked against the state they
 *	       began on.  After each successful ts_txn_commit the ORACLE records
 *	       the acknowledged state.  The first cycle of a run creates the
 *	       environment (ts_env_open with TS_CREATE) under the crash point.
 *	    3. When the crash point hits, every operation fails: the workload
 *	       stops at the first error.  A commit that failed then is IN FLIGHT
 *	       (outcome unknown).  Transactions are aborted, the environment is
 *	       closed, crashvfs_crash(seed) loses, keeps, tears or garbles what
 *	       was not synced.
 *	    4. Recovery: ts_env_open must succeed, ts_env_check must return 0,
 *	       and the whole contents (every tree, every key, every value byte,
 *	       read with cursors) must equal the last acknowledged state, or
 *	       that plus the in-flight transaction; nothing of an aborted,
 *	       conflicting or unacknowledged transaction.
 *	    5. A few more transactions (no crash point): all must commit; the
 *	       state and ts_env_check are checked again.  The next cycle goes on
 *	       from there; a run ends after a random number of cycles.
 *	  Crash points that the workload did not reach still crash ("at rest":
 *	  every acknowledged commit must survive that too), but only crash points
 *	  that hit count towards TS_CRASH_POINTS.
 *
 *	  crash_every_point: a small fixed workload crashed at every sync and
 *	  every write in turn, each way (before / after / after-EIO), with every
 *	  crash profile.
 *
 *	  Environment variables:
 *	    TS_CRASH_POINTS  crash points that must hit (default 10000; the ASan
 *	                     build's default is set by the Makefile with
 *	                     -DTS_CRASH_POINTS_DEFAULT=2000); for a soak run, set
 *	                     it high.
 *	    TS_CRASH_SEED    master seed (default 1); each run's seed derives from
 *	                     it and the run number, so a failure names
 *	                     TS_CRASH_SEED and TS_CRASH_RUN to replay it alone.
 *	    TS_CRASH_RUN     run only this run number (replay).
 *	    TS_CRASH_VERBOSE 1: print every cycle.
 *	    TS_CRASH_TOLERATE "create", "freepage" or "all": count these known
 *	                     engine issues instead of failing on them, to look
 *	                     for others past them (CI does not set it):
 *	                     create: a crash while ts_env_open creates the data
 *	                     file can leave it too short or with no valid meta
 *	                     page, and every later open fails with TS_CORRUPT
 *	                     (the test then removes the file, as an operator
 *	                     would); freepage: ts_env_check fails on a free page
 *	                     that an unacknowledged commit was writing when the
 *	                     power went (torn: "free page N is damaged").
 *
 *	  Prepared transactions across a crash (the WAL issue: "every prepared
 *	  transaction in doubt" after recovery, ts_env_prepared/ts_env_resolve)
 *	  are checked only when built with -DTS_HAVE_WAL: then some prepared
 *	  transactions are left prepared ("parked") at the crash, and after
 *	  recovery each must be listed by ts_env_prepared (an in-flight prepare
 *	  may or may not be), is resolved at random with ts_env_resolve, and the
 *	  oracle follows.  The WAL build also calls ts_env_checkpoint at random
 *	  and sets small WAL segments and checkpoint sizes so that rotations and
 *	  checkpoints happen under the crash points.  In one cycle in five (once
 *	  the environment exists) the crash point is armed at a random step just
 *	  before a ts_env_checkpoint, at one of its first 12 writes or 3 syncs,
 *	  each way (so before / after / EIO land in the checkpoint's page writes,
 *	  syncs and meta write, not only in commits).  Odd runs open the
 *	  environment as the PostgreSQL worker does (src/worker.c:
 *	  background_checkpoints on), with a small max_dirty_pages, so that the
 *	  background thread's checkpoints run among the commits and under the
 *	  crash points; even runs use the engine's defaults.
 */
#include <time.h>

#include "harness.h"
#include "crashvfs.h"

#ifndef TS_CRASH_POINTS_DEFAULT
#define TS_CRASH_POINTS_DEFAULT 10000
#endif

#define DIR			"/db"
#define NTREES		3
#define NKEYS		120			/* keys k000.. per tree for ordinary transactions */
#define PKEYS		8			/* keys after NKEYS: only parked prepared transactions */
#define ALLKEYS		(NKEYS + PKEYS)
#define MAXOPS		128
#define MAXVAL		(100 * 1024)
#define MAXPT		64			/* prepares tracked between two crashes (TS_HAVE_WAL) */

/* ---------- the oracle's states ---------- */

typedef struct cell
{
	uint32_t	seq;			/* transaction that wrote the value; 0: absent */
	uint32_t	len;
} cell;

typedef struct state
{
	int			exists[NTREES];
	cell		c[NTREES][ALLKEYS];
} state;

typedef struct wop
{
	uint8_t		tree;
	uint8_t		del;
	uint16_t	key;
	uint32_t	len;
} wop;

typedef struct txdesc
{
	uint32_t	seq;
	int			touch[NTREES];	/* opened with TS_CREATE: exists after commit */
	int			nops;
	wop			ops[MAXOPS];
} txdesc;

static void
txdesc_apply(state *s, const txdesc *d)
{
	for (int t = 0; t < NTREES; t++)
		if (d->touch[t])
			s->exists[t] = 1;
	for (int i = 0; i < d->nops; i++)
	{
		const wop  *o = &d->ops[i];

		if (o->del)
			s->c[o->tree][o->key] = (cell) {0, 0};
		else
			s->c[o->tree][o->key] = (cell) {d->seq, o->len};
	}
}

/* ---------- counters ---------- */

static const char *const kind_name[] = {"?", "write", "sync", "sync_dir"};
static const char *const when_name[] = {"before", "after", "after-eio"};

static struct
{
	long		runs;
	long		cycles;
	long		hits[4][3];		/* crash points that hit, by kind and when */
	long		at_rest;		/* crash points the workload did not reach */
	long		in_create;		/* hits that interrupted the environment's creation */
	long		recoveries;		/* successful reopens after a crash */
	long		checks;			/* full state comparisons */
	long		env_checks;
	long		acked;			/* acknowledged commits */
	long		acked_checked;	/* of them, checked after a later crash */
	long		inflight;
	long		inflight_applied;
	long		inflight_lost;
	long		aborted;
	long		conflicts;
	long		prepared_commit;
	long		prepared_abort;
	long		readers;
	long		post_commits;	/* commits after recovery */
	long		parked;
	long		in_doubt;
	long		resolved_commit;
	long		resolved_abort;
	long		checkpoints;
	long		product_runs;	/* runs with the PostgreSQL worker's options */
	long		ckpt_armed;		/* crash points armed just before a checkpoint */
	long		ckpt_hits;		/* of them, hit inside that ts_env_checkpoint */
	long		known_create;	/* tolerated: interrupted creation left an unopenable file */
	long		known_freepage; /* tolerated: ts_env_check failed on a free page */
} S;

/* TS_CRASH_TOLERATE: known engine issues counted instead of failing */
static int tolerate_create,
			tolerate_freepage;

static crashvfs_stats VS;		/* crash outcomes added up over every disk */

static void
vs_add(const crashvfs_stats *s)
{
	VS.crashes += s->crashes;
	for (int i = 0; i < CRASHVFS_NPROFILES; i++)
		VS.profile[i] += s->profile[i];
	VS.w_dropped += s->w_dropped;
	VS.w_kept += s->w_kept;
	VS.w_torn += s->w_torn;
	VS.w_garbage += s->w_garbage;
	VS.trunc_applied += s->trunc_applied;
	VS.trunc_dropped += s->trunc_dropped;
	VS.dir_applied += s->dir_applied;
	VS.dir_rolled_back += s->dir_rolled_back;
	VS.writes += s->writes;
	VS.syncs += s->syncs;
	VS.dir_syncs += s->dir_syncs;
	VS.bytes_written += s->bytes_written;
}

/* ---------- randomness ---------- */

static uint64_t
rnd(uint64_t *s)
{
	return cv_rand(s);
}

static uint64_t
below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static long
env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* ---------- values ---------- */

static uint8_t valbuf[MAXVAL];
static uint8_t valbuf2[MAXVAL];

static void
wr32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static uint32_t
rd32le(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* The value transaction `seq` writes to (tree, key), `len` >= 12 bytes. */
static void
make_val(uint8_t *buf, uint32_t seq, int tree, int key, uint32_t len)
{
	uint64_t	x = (uint64_t) seq * 0x9E3779B97F4A7C15ULL ^ (uint64_t) tree << 40 ^
		(uint64_t) key * 0xD1B54A32D192ED03ULL;

	wr32le(buf, seq);
	wr32le(buf + 4, (uint32_t) tree);
	wr32le(buf + 8, (uint32_t) key);
	/* 8 bytes at a time (the values are checked byte for byte at every read) */
	for (uint32_t i = 12; i < len; i += 8)
	{
		uint64_t	y;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		y = x ^ (x >> 29);
		memcpy(buf + i, &y, len - i < 8 ? len - i : 8);
	}
}

static uint32_t
rand_len(uint64_t *r)
{
	uint64_t	p = below(r, 100);

	if (p < 70)
		return 12 + (uint32_t) below(r, 90);
	if (p < 90)
		return 100 + (uint32_t) below(r, 1900);
	if (p < 97)
		return 2000 + (uint32_t) below(r, 8000);
	return 10 * 1024 + (uint32_t) below(r, 90 * 1024);
}

/* "k000".."k999" (key < 1000) */
static void
key_name(char *k, int key)
{
	k[0] = 'k';
	k[1] = (char) ('0' + key / 100 % 10);
	k[2] = (char) ('0' + key / 10 % 10);
	k[3] = (char) ('0' + key % 10);
	k[4] = '\0';
}

/* "t0".."t9" */
static void
tree_name(char *n, int t)
{
	n[0] = 't';
	n[1] = (char) ('0' + t % 10);
	n[2] = '\0';
}

/* ---------- the world of one run ---------- */

typedef struct world
{
	ts_vfs	   *vfs;
	crashvfs   *cv;
	ts_env	   *env;
	ts_options	opt;
	uint64_t	r;				/* the run's randomness */
	uint64_t	run_seed;
	long		run;
	long		cycle;
	int			created;		/* the environment's creation was acknowledged */
	uint32_t	seq;			/* last transaction number given out */

	state		ack;			/* the last acknowledged state */
	int			have_inflight;
	state		inflight;		/* ack + the in-flight commit */
	long		acked_since_crash;

	/* a long read transaction and the state it began on */
	ts_txn	   *reader;
	state		reader_state;
	int			reader_left;

	int			product;		/* options as the PostgreSQL worker sets them */

	/* the crash point of this cycle */
	int			ckpt_step;		/* >= 0: armed at this step, then a checkpoint */
	int			arm_kind;
	long		arm_n;
	int			arm_when;
	uint64_t	crash_seed;

#ifdef TS_HAVE_WAL
	/* a parked prepared transaction (left prepared across steps) */
	ts_txn	   *parked;
	int			parked_ix;		/* its entry in pt[] */
	/* every prepare since the last crash: what may come back in doubt */
	int			npt;
	struct
	{
		char		gid[64];	/* "" once committed (never in doubt again) */
		txdesc		d;
		int			must;		/* prepare acknowledged and not resolved: must be in doubt */
		int			decision;	/* -1 none yet, 0 abort, 1 commit (resolve so) */
	}			pt[MAXPT];
	int			inflight_pt;	/* the entry whose commit is in flight, or -1 */
#endif
} world;

static world *CUR;				/* for failure messages */

static void
context(void)
{
	world	   *w = CUR;

	if (w == NULL)
		return;
	fprintf(stderr, "  crash context: run %ld (seed %llu), cycle %ld, crash point: %s #%ld %s, "
			"crash seed %llu, inflight %d\n",
			w->run, (unsigned long long) w->run_seed, w->cycle,
			kind_name[w->arm_kind], w->arm_n, when_name[w->arm_when],
			(unsigned long long) w->crash_seed, w->have_inflight);
	if (w->run >= 0)
		fprintf(stderr, "  replay: TS_CRASH_SEED=%s TS_CRASH_RUN=%ld %s crash_simulation\n",
				getenv("TS_CRASH_SEED") ? getenv("TS_CRASH_SEED") : "1", w->run,
				"build/crash/test_crash");
	else
		fprintf(stderr, "  replay: build/crash/test_crash crash_every_point (crash profile %d)\n",
				w->cv ? w->cv->profile : -1);
}

#define WFAIL(...) do { context(); TH_FAIL(__VA_ARGS__); } while (0)
#define WCHECK(cond, ...) do { th_checks++; if (!(cond)) WFAIL(__VA_ARGS__); } while (0)

/*
 * An engine call failed: stop the workload (1) if the disk is frozen at the
 * crash point, else fail the test.
 */
static int
stop_or_fail(world *w, int rc, const char *what)
{
	if (rc == 0)
		return 0;
	if (crashvfs_frozen(w->cv))
		return 1;
	WFAIL("%s returned %d (%s) with no crash point hit: %s", what, rc,
		  ts_strerror(rc), ts_last_error());
	return 1;
}

/* ---------- reading the whole state ---------- */

/*
 * Read every tree with cursors into *out, checking each value's bytes
 * against its header.  0, an engine error, or fails the test on a value
 * that no transaction wrote.
 */
static int
read_state(world *w, ts_txn *txn, state *out)
{
	memset(out, 0, sizeof(*out));
	for (int t = 0; t < NTREES; t++)
	{
		char		name[8];
		ts_tree		tr;
		ts_cursor  *cur;
		int			rc;

		tree_name(name, t);
		rc = ts_tree_open(txn, name, 0, &tr);
		if (rc == TS_NOTFOUND)
			continue;
		if (rc)
			return rc;
		out->exists[t] = 1;
		if ((rc = ts_cursor_open(txn, tr, &cur)) != 0)
			return rc;
		for (rc = ts_cursor_first(cur); rc == 0; rc = ts_cursor_next(cur))
		{
			ts_slice	k,
						v;
			int			key;
			uint32_t	seq;

			if ((rc = ts_cursor_get(cur, &k, &v)) != 0)
				break;
			key = -1;
			if (k.len == 4 && ((const char *) k.data)[0] == 'k')
			{
				const char *kd = k.data;

				key = 0;
				for (int i = 1; i < 4; i++)
					key = kd[i] >= '0' && kd[i] <= '9' && key >= 0 ? key * 10 + kd[i] - '0' : -1;
			}
			WCHECK(key >= 0 && key < ALLKEYS,
				   "tree %s holds a key no transaction wrote (%zu bytes)", name, k.len);
			WCHECK(v.len >= 12 && v.len <= MAXVAL,
				   "tree %s key k%03d: value of %zu bytes, which no transaction wrote",
				   name, key, v.len);
			seq = rd32le(v.data);
			WCHECK(rd32le((const uint8_t *) v.data + 4) == (uint32_t) t &&
				   rd32le((const uint8_t *) v.data + 8) == (uint32_t) key &&
				   seq > 0 && seq <= w->seq,
				   "tree %s key k%03d: value header names txn %u tree %u key %u",
				   name, key, seq, rd32le((const uint8_t *) v.data + 4),
				   rd32le((const uint8_t *) v.data + 8));
			make_val(valbuf2, seq, t, key, (uint32_t) v.len);
			WCHECK(memcmp(valbuf2, v.data, v.len) == 0,
				   "tree %s key k%03d: the %zu-byte value of txn %u has wrong bytes",
				   name, key, v.len, seq);
			WCHECK(out->c[t][key].seq == 0, "tree %s key k%03d seen twice", name, key);
			out->c[t][key] = (cell) {seq, (uint32_t) v.len};
		}
		ts_cursor_close(cur);
		if (rc != TS_NOTFOUND)
			return rc;
	}
	return 0;
}

/* Describe the first difference between two states (for messages). */
static void
state_diff(const state *a, const state *b, char *buf, size_t n)
{
	snprintf(buf, n, "no difference");
	for (int t = 0; t < NTREES; t++)
	{
		if (a->exists[t] != b->exists[t])
		{
			snprintf(buf, n, "tree t%d exists %d vs %d", t, a->exists[t], b->exists[t]);
			return;
		}
		for (int k = 0; k < ALLKEYS; k++)
			if (a->c[t][k].seq != b->c[t][k].seq || a->c[t][k].len != b->c[t][k].len)
			{
				snprintf(buf, n, "t%d/k%03d: txn %u (%u bytes) vs txn %u (%u bytes)",
						 t, k, a->c[t][k].seq, a->c[t][k].len, b->c[t][k].seq, b->c[t][k].len);
				return;
			}
	}
}

static int
state_eq(const state *a, const state *b)
{
	return memcmp(a, b, sizeof(state)) == 0;
}

/* Read the environment's state in a fresh read transaction. */
static void
read_env_state(world *w, state *out)
{
	ts_txn	   *txn;
	int			rc;

	CHECK_OK(ts_txn_begin(w->env, TS_RDONLY, &txn));
	rc = read_state(w, txn, out);
	ts_txn_abort(txn);
	WCHECK(rc == 0, "reading the state: %d (%s): %s", rc, ts_strerror(rc), ts_last_error());
}

static void
env_check(world *w, const char *when)
{
	int			rc = ts_env_check(w->env);

	S.env_checks++;
	if (rc == TS_CORRUPT && tolerate_freepage && strstr(ts_last_error(), "free page") &&
		strstr(ts_last_error(), "damaged"))
	{
		S.known_freepage++;
		return;
	}
	WCHECK(rc == 0, "ts_env_check %s: %d (%s): %s", when, rc, ts_strerror(rc), ts_last_error());
}

/* ---------- workload steps ---------- */

/* Results of a step. */
#define STEP_OK		0
#define STEP_STOP	1			/* frozen at the crash point: stop the workload */

static void
abort_reader(world *w)
{
	if (w->reader)
	{
		ts_txn_abort(w->reader);
		w->reader = NULL;
	}
}

/*
 * Fill a write transaction: writes to 1..3 trees, based on `view` (the
 * state its snapshot shows), recorded in *d and applied to *view.
 * keylo/keyn: the key range used.  Returns STEP_OK or STEP_STOP.
 */
static int
fill_txn(world *w, ts_txn *txn, txdesc *d, state *view, int keylo, int keyn, int only_tree)
{
	int			ntrees = only_tree >= 0 ? 1 : 1 + (int) below(&w->r, 3);
	int			first = only_tree >= 0 ? only_tree : (int) below(&w->r, NTREES);
	int			rc;

	for (int i = 0; i < ntrees; i++)
	{
		int			t = (first + i) % NTREES;
		int			nput = 1 + (int) below(&w->r, 12);
		int			ndel = (int) below(&w->r, 4);
		char		name[8];
		ts_tree		tr;

		tree_name(name, t);
		rc = ts_tree_open(txn, name, TS_CREATE, &tr);
		if (stop_or_fail(w, rc, "ts_tree_open"))
			return STEP_STOP;
		d->touch[t] = 1;
		view->exists[t] = 1;
		for (int j = 0; j < nput && d->nops < MAXOPS; j++)
		{
			int			key = keylo + (int) below(&w->r, (uint64_t) keyn);
			uint32_t	len = rand_len(&w->r);
			char		k[8];

			key_name(k, key);
			make_val(valbuf, d->seq, t, key, len);
			rc = ts_put(txn, tr, k, 4, valbuf, len, 0);
			if (stop_or_fail(w, rc, "ts_put"))
				return STEP_STOP;
			d->ops[d->nops++] = (wop) {(uint8_t) t, 0, (uint16_t) key, len};
			view->c[t][key] = (cell) {d->seq, len};
		}
		for (int j = 0; j < ndel && d->nops < MAXOPS; j++)
		{
			int			start = (int) below(&w->r, (uint64_t) keyn),
						key = -1;
			char		k[8];

			for (int m = 0; m < keyn; m++)
				if (view->c[t][keylo + (start + m) % keyn].seq)
				{
					key = keylo + (start + m) % keyn;
					break;
				}
			if (key < 0)
				break;
			key_name(k, key);
			rc = ts_del(txn, tr, k, 4);
			if (stop_or_fail(w, rc, "ts_del"))
				return STEP_STOP;
			d->ops[d->nops++] = (wop) {(uint8_t) t, 1, (uint16_t) key, 0};
			view->c[t][key] = (cell) {0, 0};
		}
		/* read back one key through the transaction (its own writes merged) */
		{
			int			key = keylo + (int) below(&w->r, (uint64_t) keyn);
			char		k[8];
			ts_slice	v;

			key_name(k, key);
			rc = ts_get(txn, tr, k, 4, &v);
			if (rc == TS_NOTFOUND)
				WCHECK(view->c[t][key].seq == 0, "ts_get t%d/%s: not found, expected txn %u",
					   t, k, view->c[t][key].seq);
			else if (stop_or_fail(w, rc, "ts_get"))
				return STEP_STOP;
			else
			{
				WCHECK(v.len == view->c[t][key].len && v.len >= 12 &&
					   rd32le(v.data) == view->c[t][key].seq,
					   "ts_get t%d/%s: %zu bytes of txn %u, expected txn %u (%u bytes)",
					   t, k, v.len, v.len >= 12 ? rd32le(v.data) : 0,
					   view->c[t][key].seq, view->c[t][key].len);
			}
		}
	}
	return STEP_OK;
}

/* Is a failed commit's code one that says "not applied"? */
static int
commit_refused(int rc)
{
	return rc == TS_CONFLICT || rc == TS_POISONED || rc == TS_BAD_TXN || rc == TS_INVALID;
}

/*
 * Commit; on success the oracle takes *view.  A failure at the crash
 * point makes the commit in flight.
 */
static int
commit_txn(world *w, ts_txn *txn, const state *view)
{
	int			rc = ts_txn_commit(txn);

	if (rc == 0)
	{
		w->ack = *view;
		S.acked++;
		w->acked_since_crash++;
		return STEP_OK;
	}
	if (!crashvfs_frozen(w->cv))
		WFAIL("ts_txn_commit returned %d (%s) with no crash point hit: %s",
			  rc, ts_strerror(rc), ts_last_error());
	if (!commit_refused(rc))
	{
		w->have_inflight = 1;
		w->inflight = *view;
		S.inflight++;
	}
	return STEP_STOP;
}

#ifdef TS_HAVE_WAL
/*
 * Track a transaction about to be prepared (before ts_txn_prepare: an
 * in-flight prepare may come back in doubt).  decision: the outcome it will
 * get (-1: not decided yet).
 */
static int
pt_add(world *w, const txdesc *d, int decision)
{
	int			ix = w->npt++;

	WCHECK(ix < MAXPT, "test bug: more than %d prepares between two crashes", MAXPT);
	w->pt[ix].gid[0] = '\0';
	w->pt[ix].d = *d;
	w->pt[ix].must = 0;
	w->pt[ix].decision = decision;
	return ix;
}

/* Commit a prepared transaction (entry ix); as commit_txn. */
static int
commit_prepared(world *w, ts_txn *txn, const txdesc *d, int ix)
{
	state		view = w->ack;
	int			rc;

	txdesc_apply(&view, d);
	w->pt[ix].decision = 1;
	rc = commit_txn(w, txn, &view);
	w->pt[ix].must = 0;
	if (rc == STEP_OK)
		w->pt[ix].gid[0] = '\0';	/* committed: never in doubt again */
	else if (w->have_inflight)
		w->inflight_pt = ix;	/* committed, or still in doubt: not both */
	return rc;
}
#endif

/* mode: 0 commit, 1 abort, 2 prepare + commit, 3 prepare + abort */
static int
step_write(world *w, int mode)
{
	ts_txn	   *txn;
	txdesc		d;
	state		view = w->ack;
	int			rc;

	memset(&d, 0, sizeof(d));
	d.seq = ++w->seq;
	rc = ts_txn_begin(w->env, 0, &txn);
	if (stop_or_fail(w, rc, "ts_txn_begin"))
		return STEP_STOP;
	if (fill_txn(w, txn, &d, &view, 0, NKEYS, -1) != STEP_OK)
	{
		ts_txn_abort(txn);
		return STEP_STOP;
	}
	if (mode == 1)
	{
		ts_txn_abort(txn);
		S.aborted++;
		return STEP_OK;
	}
	if (mode >= 2)
	{
		char		gid[64];
#ifdef TS_HAVE_WAL
		int			ix = pt_add(w, &d, mode == 2 ? 1 : 0);
#endif

		snprintf(gid, sizeof(gid), "gid-%ld-%u", w->run, d.seq);
#ifdef TS_HAVE_WAL
		snprintf(w->pt[ix].gid, sizeof(w->pt[ix].gid), "%s", gid);
#endif
		rc = ts_txn_prepare(txn, gid);
		if (stop_or_fail(w, rc, "ts_txn_prepare"))
		{
			ts_txn_abort(txn);
			return STEP_STOP;
		}
		if (mode == 3)
		{
			/* the abort record need not be durable: it may come back in doubt */
			ts_txn_abort(txn);
			S.prepared_abort++;
			return STEP_OK;
		}
		S.prepared_commit++;
#ifdef TS_HAVE_WAL
		w->pt[ix].must = 1;
		rc = commit_prepared(w, txn, &d, ix);
		return rc;
#endif
	}
	{
		/* the oracle's bookkeeping: the view is the state plus the writes */
		state		tmp = w->ack;

		txdesc_apply(&tmp, &d);
		WCHECK(state_eq(&tmp, &view), "test bug: transaction description and view differ");
	}
	return commit_txn(w, txn, &view);
}

/* Two transactions write one key; the second committer must get TS_CONFLICT. */
static int
step_conflict(world *w)
{
	ts_txn	   *a,
			   *b;
	txdesc		da,
				db;
	state		va = w->ack,
				vb = w->ack;
	int			t = -1,
				rc,
				first;
	char		name[8],
				k[8];
	ts_tree		tr;
	int			key = (int) below(&w->r, NKEYS);

	for (int i = 0; i < NTREES; i++)
		if (w->ack.exists[i])
			t = i;
	if (t < 0)
		return step_write(w, 0);
	memset(&da, 0, sizeof(da));
	memset(&db, 0, sizeof(db));
	da.seq = ++w->seq;
	db.seq = ++w->seq;
	rc = ts_txn_begin(w->env, 0, &a);
	if (stop_or_fail(w, rc, "ts_txn_begin"))
		return STEP_STOP;
	rc = ts_txn_begin(w->env, 0, &b);
	if (stop_or_fail(w, rc, "ts_txn_begin"))
	{
		ts_txn_abort(a);
		return STEP_STOP;
	}
	tree_name(name, t);
	key_name(k, key);
	for (int i = 0; i < 2; i++)
	{
		ts_txn	   *x = i ? b : a;
		txdesc	   *d = i ? &db : &da;
		state	   *v = i ? &vb : &va;
		uint32_t	len = 12 + (uint32_t) below(&w->r, 200);

		if (fill_txn(w, x, d, v, 0, NKEYS, t) != STEP_OK)
			goto stop;
		rc = ts_tree_open(x, name, 0, &tr);
		if (stop_or_fail(w, rc, "ts_tree_open"))
			goto stop;
		make_val(valbuf, d->seq, t, key, len);
		rc = ts_put(x, tr, k, 4, valbuf, len, 0);
		if (stop_or_fail(w, rc, "ts_put"))
			goto stop;
		if (d->nops < MAXOPS)
			d->ops[d->nops++] = (wop) {(uint8_t) t, 0, (uint16_t) key, len};
		v->c[t][key] = (cell) {d->seq, len};
	}
	first = (int) below(&w->r, 2);
	if (commit_txn(w, first ? b : a, first ? &vb : &va) != STEP_OK)
	{
		ts_txn_abort(first ? a : b);
		return STEP_STOP;
	}
	rc = ts_txn_commit(first ? a : b);
	if (rc == 0)
		WFAIL("the second of two transactions writing t%d/%s committed: a lost update", t, k);
	if (rc == TS_CONFLICT)
	{
		S.conflicts++;
		return STEP_OK;
	}
	if (!crashvfs_frozen(w->cv))
		WFAIL("the second conflicting commit returned %d (%s), not TS_CONFLICT: %s",
			  rc, ts_strerror(rc), ts_last_error());
	return STEP_STOP;

stop:
	ts_txn_abort(a);
	ts_txn_abort(b);
	return STEP_STOP;
}

/* A long read transaction: begin now, check it a few steps later. */
static int
step_reader(world *w)
{
	int			rc;

	if (w->reader)
	{
		state		got;

		rc = read_state(w, w->reader, &got);
		if (stop_or_fail(w, rc, "reading in a long read transaction"))
		{
			abort_reader(w);
			return STEP_STOP;
		}
		if (!state_eq(&got, &w->reader_state))
		{
			char		diff[200];

			state_diff(&got, &w->reader_state, diff, sizeof(diff));
			WFAIL("a long read transaction does not see its snapshot: %s", diff);
		}
		th_checks++;
		S.readers++;
		abort_reader(w);
		return STEP_OK;
	}
	rc = ts_txn_begin(w->env, TS_RDONLY, &w->reader);
	if (stop_or_fail(w, rc, "ts_txn_begin(TS_RDONLY)"))
	{
		w->reader = NULL;
		return STEP_STOP;
	}
	w->reader_state = w->ack;
	w->reader_left = 1 + (int) below(&w->r, 6);
	return STEP_OK;
}

#ifdef TS_HAVE_WAL
/* Prepare a transaction on the reserved keys and leave it prepared; or resolve it. */
static int
step_park(world *w)
{
	ts_txn	   *txn;
	txdesc		d;
	state		view = w->ack;
	int			rc,
				ix,
				t = -1;

	if (w->parked)
	{
		txn = w->parked;
		ix = w->parked_ix;
		w->parked = NULL;
		if (below(&w->r, 2))
		{
			S.resolved_commit++;
			return commit_prepared(w, txn, &w->pt[ix].d, ix);
		}
		/* the abort record need not be durable: it may come back in doubt */
		ts_txn_abort(txn);
		w->pt[ix].must = 0;
		w->pt[ix].decision = 0;
		S.resolved_abort++;
		return STEP_OK;
	}
	for (int i = 0; i < NTREES; i++)
		if (w->ack.exists[i])
			t = i;
	if (t < 0 || w->npt >= MAXPT - 2)
		return step_write(w, 0);
	memset(&d, 0, sizeof(d));
	d.seq = ++w->seq;
	rc = ts_txn_begin(w->env, 0, &txn);
	if (stop_or_fail(w, rc, "ts_txn_begin"))
		return STEP_STOP;
	if (fill_txn(w, txn, &d, &view, NKEYS, PKEYS, t) != STEP_OK)
	{
		ts_txn_abort(txn);
		return STEP_STOP;
	}
	ix = pt_add(w, &d, -1);
	snprintf(w->pt[ix].gid, sizeof(w->pt[ix].gid), "park-%ld-%u", w->run, d.seq);
	rc = ts_txn_prepare(txn, w->pt[ix].gid);
	if (rc != 0)
	{
		ts_txn_abort(txn);
		if (stop_or_fail(w, rc, "ts_txn_prepare"))
			return STEP_STOP;
	}
	w->pt[ix].must = 1;
	w->parked = txn;
	w->parked_ix = ix;
	S.parked++;
	return STEP_OK;
}
#endif

/* One random workload step. */
static int
step(world *w)
{
	uint64_t	p = below(&w->r, 100);
	int			rc;

	if (w->reader && --w->reader_left <= 0)
		return step_reader(w);
#ifdef TS_HAVE_WAL
	if (p < 4)
		return step_park(w);
	if (p < 6)
	{
		rc = ts_env_checkpoint(w->env);
		if (stop_or_fail(w, rc, "ts_env_checkpoint"))
			return STEP_STOP;
		S.checkpoints++;
		return STEP_OK;
	}
#endif
	if (p < 8)
		return step_write(w, 1);
	if (p < 15)
		return step_conflict(w);
	if (p < 19)
		return step_write(w, 2 + (int) below(&w->r, 2));
	if (p < 24 && w->reader == NULL)
		return step_reader(w);
	rc = step_write(w, 0);
	return rc;
}

static void
known_issues(void)
{
	const char *t = getenv("TS_CRASH_TOLERATE");

	tolerate_create = t && (strstr(t, "create") || strstr(t, "all"));
	tolerate_freepage = t && (strstr(t, "freepage") || strstr(t, "all"));
	if (tolerate_create || tolerate_freepage)
		printf("  crash: TS_CRASH_TOLERATE=%s: known issues are counted, not failed\n", t);
}

/* ---------- environment lifecycle ---------- */

#ifdef TS_HAVE_WAL
/* The reader table of product runs: made anew for every open, as PostgreSQL
 * makes its shared memory anew after a crash. */
static void *
product_region(void)
{
	static void *mem = NULL;
	size_t		size = ts_shared_size(4);

	if (mem == NULL && (mem = malloc(size)) == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (ts_shared_init(mem, size, 4) != 0)
	{
		fprintf(stderr, "ts_shared_init: %s\n", ts_last_error());
		exit(2);
	}
	return mem;
}
#endif

static void
set_options(world *w)
{
	ts_options_init(&w->opt);
	w->opt.sync = 1;
	w->opt.vfs = w->vfs;
	w->opt.cache_pages = 16 + (size_t) below(&w->r, 48);
#ifdef TS_HAVE_WAL
	w->opt.wal_segment_size = 256 * 1024;
	w->opt.checkpoint_wal_bytes = 512 * 1024;
	w->opt.checkpoint_interval_ms = 0;	/* never by time: deterministic */
	if (w->product)
	{
		/*
		 * As the PostgreSQL worker opens it (src/worker.c): a committer that
		 * sees too many changed pages asks the background thread for the
		 * checkpoint and goes on.  A small limit makes that frequent.
		 * (Such runs are not exactly replayable: the thread's timing
		 * decides where its writes fall among the workload's.)
		 */
		w->opt.background_checkpoints = 1;
		w->opt.max_dirty_pages = 24 + (size_t) below(&w->r, 64);

		/*
		 * And with the reader table, as the worker has it: every commit's
		 * pages are written to the data file at commit, unsynced, so a
		 * crash loses, tears or garbles them too (engine/shared.c).
		 */
		w->opt.shared = product_region();
	}
#endif
}

/* Open after a crash (or for the first time, with TS_CREATE). */
static int
open_env(world *w)
{
	ts_options	o = w->opt;

	o.flags = w->created ? 0 : TS_CREATE;
#ifdef TS_HAVE_WAL
	if (o.shared)
		o.shared = product_region();
#endif
	return ts_env_open(DIR, &o, &w->env);
}

/* Abort what is open and close the environment (frozen or not). */
static void
close_env(world *w)
{
	abort_reader(w);
#ifdef TS_HAVE_WAL
	if (w->parked)
	{
		/* the process dies with it prepared: the abort must not reach the disk */
		ts_txn_abort(w->parked);
		w->parked = NULL;
	}
#endif
	if (w->env)
	{
		ts_env_close(w->env);
		w->env = NULL;
	}
}

#ifdef TS_HAVE_WAL
/*
 * After recovery: the in-doubt list against the oracle (every acknowledged,
 * unresolved prepare listed; nothing else but prepares whose outcome did not
 * reach the disk); resolve each as decided (undecided: at random).
 */
static void
recover_prepared(world *w, int inflight_applied)
{
	char	   *gids = NULL;
	size_t		n = 0;
	const char *g;
	int			seen[MAXPT] = {0};

	CHECK_OK(ts_env_prepared(w->env, &gids, &n));
	g = gids;
	for (size_t i = 0; i < n; i++, g += strlen(g) + 1)
	{
		int			m = -1,
					commit;

		for (int j = 0; j < w->npt; j++)
			if (w->pt[j].gid[0] && strcmp(w->pt[j].gid, g) == 0)
				m = j;
		WCHECK(m >= 0, "recovery lists prepared transaction \"%s\", which is committed or "
			   "was never prepared", g);
		WCHECK(!(inflight_applied && m == w->inflight_pt),
			   "prepared transaction \"%s\" is both committed and in doubt after recovery", g);
		WCHECK(!seen[m], "recovery lists prepared transaction \"%s\" twice", g);
		seen[m] = 1;
		S.in_doubt++;
		commit = w->pt[m].decision >= 0 ? w->pt[m].decision : (int) below(&w->r, 2);
		CHECK_OK(ts_env_resolve(w->env, g, commit));
		if (commit)
		{
			txdesc_apply(&w->ack, &w->pt[m].d);
			S.resolved_commit++;
		}
		else
			S.resolved_abort++;
	}
	for (int j = 0; j < w->npt; j++)
		WCHECK(!w->pt[j].must || seen[j], "prepared transaction \"%s\" is not in doubt after "
			   "recovery", w->pt[j].gid);
	free(gids);
	w->npt = 0;
	w->inflight_pt = -1;
}
#endif

/*
 * After the workload stopped (or ended): crash, reopen, check the oracle,
 * write a few more transactions, check again.
 */
static void
crash_and_recover(world *w, int hit)
{
	state		got;
	int			rc,
				inflight_applied = 0;

	/* the process dies: nothing it does from now reaches the disk */
	crashvfs_freeze(w->cv);
	close_env(w);
	crashvfs_crash(w->cv, w->crash_seed);
	rc = open_env(w);
	if (rc == TS_CORRUPT && !w->created && tolerate_create)
	{
		/* what an operator would do: remove the half-created file */
		S.known_create++;
		CHECK_OK(w->vfs->unlink(w->vfs, DIR "/treestore.db"));
		rc = open_env(w);
	}
	WCHECK(rc == 0, "ts_env_open after the crash: %d (%s): %s (environment %s)",
		   rc, ts_strerror(rc), ts_last_error(),
		   w->created ? "created before" : "never acknowledged as created");
	w->created = 1;
	S.recoveries++;
	env_check(w, "after recovery");
	read_env_state(w, &got);
	S.checks++;
	if (state_eq(&got, &w->ack))
	{
		if (w->have_inflight)
			S.inflight_lost++;
	}
	else if (w->have_inflight && state_eq(&got, &w->inflight))
	{
		S.inflight_applied++;
		inflight_applied = 1;
		w->ack = w->inflight;
	}
	else
	{
		char		diff[200],
					diff2[200] = "";

		state_diff(&got, &w->ack, diff, sizeof(diff));
		if (w->have_inflight)
			state_diff(&got, &w->inflight, diff2, sizeof(diff2));
		WFAIL("after recovery (%s): the state is not the last acknowledged one "
			  "(recovered vs acknowledged: %s)%s%s",
			  hit ? "crash point hit" : "at rest", diff,
			  w->have_inflight ? "; nor that plus the in-flight commit: " : "", diff2);
	}
	th_checks++;
	S.acked_checked += w->acked_since_crash;
	w->acked_since_crash = 0;
	w->have_inflight = 0;
#ifdef TS_HAVE_WAL
	recover_prepared(w, inflight_applied);
#else
	(void) inflight_applied;
#endif

	/* continue after recovery */
	for (int i = 0, n = 2 + (int) below(&w->r, 4); i < n; i++)
	{
		int			r = step_write(w, 0);

		WCHECK(r == STEP_OK, "a commit after recovery failed");
		S.post_commits++;
	}
	read_env_state(w, &got);
	S.checks++;
	if (!state_eq(&got, &w->ack))
	{
		char		diff[200];

		state_diff(&got, &w->ack, diff, sizeof(diff));
		WFAIL("after recovery and more commits: %s", diff);
	}
	th_checks++;
	env_check(w, "after recovery and more commits");
}

/* Pick this cycle's crash point from the operations a step usually makes. */
static void
pick_crash_point(world *w, int nsteps, double writes_per_step, double syncs_per_step)
{
	uint64_t	p = below(&w->r, 100);
	double		expect;

	w->arm_when = (int) below(&w->r, 3);
	w->ckpt_step = -1;
#ifdef TS_HAVE_WAL
	if (w->env != NULL && below(&w->r, 5) == 0)
	{
		/*
		 * An I/O error or crash inside a checkpoint: armed at a random step
		 * just before ts_env_checkpoint, at one of its first writes (the
		 * pages, the meta page) or syncs.
		 */
		w->ckpt_step = (int) below(&w->r, (uint64_t) nsteps);
		w->arm_kind = below(&w->r, 3) == 0 ? CRASHVFS_SYNC : CRASHVFS_WRITE;
		w->arm_n = 1 + (long) below(&w->r, w->arm_kind == CRASHVFS_SYNC ? 3 : 12);
		w->crash_seed = rnd(&w->r);
		return;
	}
#endif
	if (p < 45)
	{
		w->arm_kind = CRASHVFS_SYNC;
		expect = syncs_per_step * nsteps;
	}
	else if (p < 92)
	{
		w->arm_kind = CRASHVFS_WRITE;
		expect = writes_per_step * nsteps;
	}
	else
	{
		w->arm_kind = CRASHVFS_SYNC_DIR;
		expect = 2;
	}
	if (expect < 1)
		expect = 1;
	w->arm_n = 1 + (long) below(&w->r, (uint64_t) (expect * 1.05) + 1);
	if (w->env == NULL && !w->created && below(&w->r, 8) == 0)
		w->arm_n = 1 + (long) below(&w->r, 3);	/* aim at the environment's creation */
	w->crash_seed = rnd(&w->r);
	crashvfs_arm(w->cv, w->arm_kind, w->arm_n, w->arm_when);
}

static int verbose;

/* One run: an empty disk, several crash cycles.  Returns the crash points hit. */
static long
one_run(long run, uint64_t master, long max_hits, double *wps, double *sps)
{
	world	   *w = calloc(1, sizeof(world));
	long		hits = 0;
	int			ncycles;

	CHECK(w != NULL);
	CUR = w;
	w->run = run;
	w->run_seed = master * 0x9E3779B97F4A7C15ULL + (uint64_t) run * 0xD1B54A32D192ED03ULL + 1;
	w->r = w->run_seed;
	w->vfs = crashvfs_new();
	w->cv = CRASHVFS(w->vfs);
#ifdef TS_HAVE_WAL
	w->inflight_pt = -1;
#endif
	CHECK_OK(w->vfs->mkdir(w->vfs, DIR));
	CHECK_OK(w->vfs->sync_dir(w->vfs, "/"));
#ifdef TS_HAVE_WAL
	w->product = (int) (run & 1);	/* odd runs: the PostgreSQL worker's options */
	S.product_runs += w->product;
#endif
	set_options(w);
	ncycles = 4 + (int) below(&w->r, 24);
	S.runs++;

	for (w->cycle = 0; w->cycle < ncycles && hits < max_hits; w->cycle++)
	{
		int			nsteps = 20 + (int) below(&w->r, 31);
		crashvfs_stats before = crashvfs_stats_get(w->cv);
		crashvfs_stats after;
		int			stopped = 0,
					hit,
					steps_done = 0;

		S.cycles++;
		pick_crash_point(w, nsteps, *wps, *sps);
		if (w->env == NULL)
		{
			/* the first cycle of a run: creating the environment is under the crash point */
			int			rc = open_env(w);

			if (rc != 0)
			{
				stopped = 1;
				WCHECK(crashvfs_frozen(w->cv), "creating the environment: %d (%s): %s",
					   rc, ts_strerror(rc), ts_last_error());
			}
			else
				w->created = 1;
		}
		for (int i = 0; i < nsteps && !stopped; i++)
		{
#ifdef TS_HAVE_WAL
			if (i == w->ckpt_step)
			{
				int			rc;

				/* the crash point lands in this checkpoint (if it writes) */
				crashvfs_arm(w->cv, w->arm_kind, w->arm_n, w->arm_when);
				S.ckpt_armed++;
				rc = ts_env_checkpoint(w->env);
				if (crashvfs_hit(w->cv))
					S.ckpt_hits++;
				if (stop_or_fail(w, rc, "ts_env_checkpoint (crash point armed)"))
				{
					stopped = 1;
					break;
				}
				S.checkpoints++;
			}
#endif
			if (step(w) == STEP_STOP)
				stopped = 1;
			else
				steps_done++;
		}
		hit = crashvfs_hit(w->cv);
		if (hit)
		{
			hits++;
			S.hits[w->arm_kind][w->arm_when]++;
			if (!w->created)
				S.in_create++;
		}
		else
			S.at_rest++;
		WCHECK(!stopped || hit, "the workload stopped without a crash point");
		if (!stopped && steps_done > 0)
		{
			/* learn the operations per step (a moving average) */
			after = crashvfs_stats_get(w->cv);
			*wps = 0.8 * *wps + 0.2 * (double) (after.writes - before.writes) / steps_done;
			*sps = 0.8 * *sps + 0.2 * (double) (after.syncs - before.syncs) / steps_done;
		}
		if (verbose)
			printf("  run %ld cycle %ld: %d steps, crash point %s #%ld %s %s, inflight %d\n",
				   run, w->cycle, steps_done, kind_name[w->arm_kind], w->arm_n,
				   when_name[w->arm_when], hit ? "hit" : "not reached", w->have_inflight);
		crash_and_recover(w, hit);
	}
	close_env(w);
	{
		crashvfs_stats st = crashvfs_stats_get(w->cv);

		vs_add(&st);
	}
	crashvfs_free(w->vfs);
	CUR = NULL;
	free(w);
	return hits;
}

TEST(crash_simulation)
{
	long		points = env_long("TS_CRASH_POINTS", TS_CRASH_POINTS_DEFAULT);
	long		only = env_long("TS_CRASH_RUN", -1);
	uint64_t	master = (uint64_t) env_long("TS_CRASH_SEED", 1);
	long		hits = 0;
	double		wps = 6,
				sps = 2;
	struct timespec t0,
				t1;

	verbose = (int) env_long("TS_CRASH_VERBOSE", 0);
	known_issues();
	memset(&S, 0, sizeof(S));
	memset(&VS, 0, sizeof(VS));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (only >= 0)
		hits = one_run(only, master, 1L << 40, &wps, &sps);
	else
		for (long run = 0; hits < points; run++)
		{
			hits += one_run(run, master, points - hits, &wps, &sps);
			CHECK(run < points);	/* the crash points must hit */
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("  crash: seed %llu: %ld crash points hit in %ld runs, %ld cycles (%.1f s)\n",
		   (unsigned long long) master, hits, S.runs, S.cycles,
		   (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("  crash: hits by kind: ");
	for (int k = 1; k <= 3; k++)
		for (int wh = 0; wh < 3; wh++)
			printf("%s/%s %ld%s", kind_name[k], when_name[wh], S.hits[k][wh],
				   k == 3 && wh == 2 ? "\n" : ", ");
	printf("  crash: %ld crashes at rest (crash point not reached), %ld interrupting the creation\n",
		   S.at_rest, S.in_create);
	printf("  crash: %ld recoveries, %ld state checks, %ld ts_env_check, "
		   "%ld acknowledged commits (%ld checked after a crash), %ld after recovery\n",
		   S.recoveries, S.checks, S.env_checks, S.acked, S.acked_checked, S.post_commits);
	printf("  crash: in-flight commits %ld: %ld applied, %ld not; aborted %ld, conflicts %ld, "
		   "prepared+commit %ld, prepared+abort %ld, long readers checked %ld\n",
		   S.inflight, S.inflight_applied, S.inflight_lost, S.aborted, S.conflicts,
		   S.prepared_commit, S.prepared_abort, S.readers);
#ifdef TS_HAVE_WAL
	printf("  crash: parked prepared %ld, in doubt after recovery %ld, resolved commit %ld / "
		   "abort %ld, checkpoints %ld\n",
		   S.parked, S.in_doubt, S.resolved_commit, S.resolved_abort, S.checkpoints);
	printf("  crash: %ld runs with the PostgreSQL worker's options (background_checkpoints, a reader table), "
		   "%ld with the engine's defaults; %ld crash points armed at a checkpoint, %ld hit in it\n",
		   S.product_runs, S.runs - S.product_runs, S.ckpt_armed, S.ckpt_hits);
#endif
	printf("  crash: profiles mixed %ld, drop-all %ld, keep-all %ld, prefix %ld; unsynced writes "
		   "dropped %ld, kept %ld, torn %ld, garbage %ld; directory ops applied %ld, rolled back %ld\n",
		   VS.profile[CRASHVFS_MIXED], VS.profile[CRASHVFS_DROP_ALL],
		   VS.profile[CRASHVFS_KEEP_ALL], VS.profile[CRASHVFS_PREFIX],
		   VS.w_dropped, VS.w_kept, VS.w_torn, VS.w_garbage,
		   VS.dir_applied, VS.dir_rolled_back);
	if (tolerate_create || tolerate_freepage)
		printf("  crash: tolerated known issues: %ld unopenable half-created files, "
			   "%ld ts_env_check failures on a damaged free page\n",
			   S.known_create, S.known_freepage);
	printf("  crash: disk operations: %ld writes (%ld MB), %ld syncs, %ld directory syncs\n",
		   VS.writes, VS.bytes_written >> 20, VS.syncs, VS.dir_syncs);
	CHECK(only >= 0 || hits >= points);
}

/*
 * A fixed small workload (environment creation and 8 transactions),
 * crashed at every write and every sync in turn, each way, with every
 * profile.
 */
TEST(crash_every_point)
{
	long		total = 0;

	known_issues();
	for (int kind = CRASHVFS_WRITE; kind <= CRASHVFS_SYNC_DIR; kind++)
		for (int when = 0; when < 3; when++)
			for (long n = 1;; n++)
			{
				int			reached = 0;

				for (int prof = 0; prof < CRASHVFS_NPROFILES; prof++)
				{
					world	   *w = calloc(1, sizeof(world));
					int			rc,
								stopped = 0;

					CHECK(w != NULL);
					CUR = w;
					w->run = -1;
					w->run_seed = 7;
					w->r = 7;
					w->vfs = crashvfs_new();
					w->cv = CRASHVFS(w->vfs);
					w->cv->profile = prof;
#ifdef TS_HAVE_WAL
					w->inflight_pt = -1;
#endif
					CHECK_OK(w->vfs->mkdir(w->vfs, DIR));
					CHECK_OK(w->vfs->sync_dir(w->vfs, "/"));
					set_options(w);
					w->opt.cache_pages = 16;
					w->arm_kind = kind;
					w->arm_n = n;
					w->arm_when = when;
					w->crash_seed = (uint64_t) n * 31 + (uint64_t) prof;
					crashvfs_arm(w->cv, kind, n, when);
					rc = open_env(w);
					if (rc == 0)
						w->created = 1;
					else
					{
						stopped = 1;
						WCHECK(crashvfs_frozen(w->cv), "creating: %d (%s): %s", rc,
							   ts_strerror(rc), ts_last_error());
					}
					for (int i = 0; i < 8 && !stopped; i++)
						stopped = step_write(w, 0) == STEP_STOP;
					reached = crashvfs_hit(w->cv);
					crash_and_recover(w, reached);
					close_env(w);
					crashvfs_free(w->vfs);
					CUR = NULL;
					free(w);
					total++;
					if (!reached)
						break;
				}
				if (!reached)
					break;
			}
	printf("  crash_every_point: %ld crashes, %ld recoveries, %ld acknowledged commits, "
		   "in flight %ld (%ld applied)\n",
		   total, S.recoveries, S.acked, S.inflight, S.inflight_applied);
	CHECK(total > 50);
}

TEST_MAIN(crash_every_point, crash_simulation)
