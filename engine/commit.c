/*-------------------------------------------------------------------------
 *
 * commit.c
 *	  Commit, two-phase commit, write-ahead logging of write sets, and
 *	  checkpoints.
 *
 * COMMIT (the order is the durability argument)
 *	  0. The committer joins the commit queue.  One committer at a time
 *	     holds the lead: one that finds no leader, or the first queued when
 *	     the lead is passed on (step 2).  The leader waits briefly for the
 *	     committers it expects (GATHER, below), then takes itself and the
 *	     committers queued behind it (at most BATCH_MAX, and
 *	     BATCH_MAX_ENTRIES writes in all unless alone), in queue order, as a
 *	     batch, and does steps 1-3 for all of them; the others sleep until
 *	     their result is set (one sleep and one wake-up per commit, no lock
 *	     hand-over per commit).  A lone committer leads at once.
 *	  1. Under commit_lock: check conflicts, in batch order, against the
 *	     conflict table and against the writes and tree creations of the
 *	     batch's earlier members (a later member that writes a key an
 *	     earlier one writes fails with TS_CONFLICT, as if they had committed
 *	     one after the other); apply the remaining write sets together to
 *	     the newest applied state ("head"), copy-on-write, in memory only
 *	     (ts_apply_writes; one copy of each page for the whole batch), giving
 *	     one new state whose txnid is head's plus the number of commits
 *	     applied; append, for each member in order, its writes and a COMMIT
 *	     record with its own txnid (head's + its position), exactly what it
 *	     would have logged alone, so recovery replays the members one by one
 *	     to the same contents; make the result the new head.  Nothing is
 *	     written to the data file.  If the batch cannot be applied together,
 *	     its members are applied one at a time, so only the one at fault
 *	     fails.
 *	  2. Without the lock: ts_wal_flush up to the last COMMIT record: one
 *	     write and fdatasync for the whole batch (group commit).  Then the
 *	     lead passes to the first queued committer.
 *	  3. Publish: the durable state becomes the one new transactions read;
 *	     then the members are told their result.
 *	  The next batch may apply on top of a head whose records are still
 *	  being flushed; it is published only after its own (later) records are
 *	  durable, and so after everything it builds on.  A failed flush poisons
 *	  the environment: heads not yet published are never seen.  States
 *	  between the members of a batch never exist in memory: no snapshot can
 *	  name them, and pages a batch frees are keyed by its last txnid.
 *	  With async_commit, step 2 is left to the background thread (at most
 *	  async_flush_ms later): the batch is published and the lead passed on
 *	  at once.
 *
 * GATHER
 *	  The lead is held through the flush, not passed on once the batch is
 *	  applied, and the next leader, before taking its batch, waits for the
 *	  committers it expects (cq_expect: those queued when the previous batch
 *	  was done, plus that batch's members, who come back soon when they
 *	  commit in a loop), or until a batch's worth of writes is queued.
 *	  Measured with 16 committers in a loop on the development VM: passing
 *	  the lead as soon as a batch was being written (two batches in flight)
 *	  gave 6 commits per fdatasync and about 40k commits/s; holding it but
 *	  taking whoever was queued, 8 and 37k; with the wait, 16 and 60k.  The
 *	  wait lasts no longer than a recent log flush took (cq_flush_ns, at
 *	  most GATHER_MAX_NS): a longer wait would cost more than the flush it
 *	  saves.  Nobody waits when flushes take less than GATHER_MIN_NS (about
 *	  the timer slack of a timed wait), without sync or with async_commit
 *	  (no fdatasync to share); a committer that commits alone is expected
 *	  alone and never waits.
 *
 * TWO-PHASE COMMIT
 *	  prepare: conflict check + key reservation; the write set and a PREPARE
 *	  record (with the caller's gid) are logged and flushed, nothing applied.
 *	  commit of a prepared transaction: through the commit queue, apply +
 *	  COMMIT_PREPARED, as above.
 *	  abort of a prepared transaction: ABORT_PREPARED, flushed.
 *	  ts_txn_commit_nosync (NO-SYNC COMMIT): the same, but a batch whose
 *	  members all asked for it is published and answered without a flush;
 *	  its records become durable with the next flush of anyone (a prepare,
 *	  a commit, a checkpoint) or of the background thread within about a
 *	  second.  Every earlier batch is durable before it becomes visible (a
 *	  leader holds the lead through its flush), so the states that are
 *	  visible before they are durable are no-sync commits only.  For a
 *	  prepared transaction a crash before that flush brings it back in
 *	  doubt: its caller decides again (in PostgreSQL, by the commit log).
 *	  The log is kept from the first record of the oldest prepared
 *	  transaction, so recovery can bring it back in doubt.
 *
 * CHECKPOINT (one at a time: ckpt_lock, taken before commit_lock)
 *	  1. Under commit_lock: take head, its log end and the list of pages made
 *	     since the last checkpoint (commits start a new list); make the file
 *	     as long as head's page count (overflow pages are written under
 *	     commit_lock, so the size never goes backwards); pin the page reuse
 *	     horizon at the last checkpoint's state and tell the pager which
 *	     pages are being written (ts_pager_writing).  Then release
 *	     commit_lock: commits go on while the pages are written.
 *	  2. Without it: flush the log through head; write the listed pages
 *	     (every page head reaches that is not on disk yet is among them);
 *	     fdatasync; write the meta page of head (the other slot) with the log
 *	     position; fdatasync; remove log segments before the oldest position
 *	     still needed, keeping wal_keep_segments.
 *	  3. Under commit_lock again: head is now the durable checkpoint; from
 *	     now on pages freed before it may be reused (freelist.c, invariant
 *	     2); unpin the horizon.
 *	  Why the pages do not change while they are written: the pin keeps
 *	  every page freed after the previous checkpoint from being reused, and
 *	  every listed page was made after it.  A page of head that a commit
 *	  frees meanwhile is classified as on disk (ts_pager_discard), so that
 *	  it is not reused before a checkpoint that no longer references it is
 *	  durable.  Pages reused during a checkpoint come from the end of the
 *	  file or from pages freed before the previous checkpoint.
 *	  At open (recovery) and close, with nothing else running, the whole
 *	  checkpoint runs under commit_lock (ts_checkpoint_locked).
 *	  Taken every checkpoint_interval_ms, after checkpoint_wal_bytes of log,
 *	  when the pages made since the last one exceed an eighth of the file
 *	  (at least CKPT_MIN_DIRTY) or max_dirty_pages (by the committer that
 *	  sees it, unless a checkpoint is already being taken; with
 *	  background_checkpoints asked of the background thread), on
 *	  ts_env_checkpoint and at close.
 *
 * THE BACKGROUND THREAD
 *	  Flushes async and no-sync commits and takes the checkpoints that are due (by time,
 *	  by log size, or asked for by a committer with background_checkpoints).
 *	  It is created with every signal blocked: the engine runs inside
 *	  PostgreSQL processes, whose signal handlers must only ever run on
 *	  their main thread.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "shared.h"
#include "txn.h"

#define OPS_CHUNK	(1 << 20)	/* log write sets in records of about 1 MB */
#define CKPT_MIN_DIRTY 8192		/* pages (32 MB): checkpointing a small database more
								 * often costs commits more than it saves space */
#define BATCH_MAX	64			/* commits applied together */
#define BATCH_MAX_ENTRIES 512	/* writes in a batch (one larger commit goes alone) */
#define BATCH_SET	(2 * BATCH_MAX_ENTRIES) /* slots of the batch's key set */
#define ERR_MAX		512			/* a member's error message (error.c keeps 512) */
#define GATHER_MIN_NS	50000	/* a leader waits for the committers expected */
#define GATHER_MAX_NS	2000000	/* if flushes take at least this, at most that */

/* an OPS record holds one op of any key and value (ts_put checks the value) */
_Static_assert(11 + (size_t) TS_MAX_KEY + TS_MAX_VALUE <= TS_WAL_MAX_RECORD,
			   "TS_MAX_VALUE must fit in one log record with any key");

#define OP_PUT TS_OP_PUT
#define OP_DEL TS_OP_DEL
#define OP_CREATE TS_OP_CREATE

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
wctx_free(ts_wctx *w)
{
	ts_u64vec_free(&w->dirty);
	ts_u64vec_free(&w->freed);
	ts_u64vec_free(&w->freed_volatile);
	ts_u64vec_free(&w->pool);
	ts_u64vec_free(&w->taken);
}

/* ---------- applying write sets ---------- */

/* One transaction's part of a batch: its writes and tree creations. */
typedef struct apply_in
{
	ts_wset    *ws;
	const created *cr;
	int			ncr;
} apply_in;

/*
 * Apply n write sets (and tree creations), in order, to env->head, in
 * memory, giving the next state in *out: one state, txnid head's + n (the
 * states in between are never made).  The sets must not write a common
 * key (the conflict check sees to it).  Caller holds commit_lock.  On
 * failure nothing is left behind: the new pages are dropped and head is
 * unchanged.
 */
static int
apply_n(ts_env *env, const apply_in *in, int n, uint64_t horizon, ts_snap **out)
{
	ts_snap    *cur = env->head;
	ts_snap    *ns = NULL;
	ts_wctx		w;
	ts_treeinfo cat = {cur->meta.cat_root, cur->meta.cat_depth, cur->meta.cat_entries};
	uint32_t	ntrees = atomic_load(&env->next_tree);
	uint8_t    *touched = NULL;
	int			rc;

	memset(&w, 0, sizeof(w));
	w.pager = env->pager;
	w.txnid = cur->meta.txnid + (uint64_t) n;
	w.page_count = cur->meta.page_count;
	w.reuse_horizon = horizon;
	w.ckpt_txnid = env->ckpt_txnid;
	w.fl.root = cur->meta.fl_root;
	w.fl.depth = cur->meta.fl_depth;
	w.fl.entries = cur->meta.fl_entries;
	w.free_count = cur->meta.free_count;

	for (int t = 0; t < n; t++)
		for (int i = 0; i < in[t].ncr; i++)
			if (in[t].cr[i].id >= ntrees)
				ntrees = in[t].cr[i].id + 1;
	if ((rc = ts_snap_copy(cur, ntrees, &ns)) != 0)
		return rc;
	touched = calloc(ns->ntrees, 1);
	if (touched == NULL)
	{
		rc = ts_error(TS_NOMEM, "out of memory");
		goto fail;
	}
	for (int t = 0; t < n; t++)
		for (int i = 0; i < in[t].ncr; i++)
		{
			uint32_t	id = in[t].cr[i].id;

			if (ns->trees[id].name != NULL)
			{
				rc = ts_error(TS_CORRUPT, "tree id %u created twice", id);
				goto fail;
			}
			if ((ns->trees[id].name = strdup(in[t].cr[i].name)) == NULL)
			{
				rc = ts_error(TS_NOMEM, "out of memory");
				goto fail;
			}
			memset(&ns->trees[id].info, 0, sizeof(ts_treeinfo));
			touched[id] = 1;
		}

	/* each write set, in (tree, key) order */
	for (int t = 0; t < n; t++)
		for (const ts_wentry *e = ts_wset_begin(in[t].ws); e; e = ts_wset_next(in[t].ws, e))
		{
			ts_treeinfo *ti;
			int			found;

			if (e->tree >= ns->ntrees || ns->trees[e->tree].name == NULL)
			{
				rc = ts_error(TS_INVALID, "write to tree id %u, which does not exist", e->tree);
				goto fail;
			}
			ti = &ns->trees[e->tree].info;
			touched[e->tree] = 1;
			if (e->val)
				rc = ts_bt_put(&w, ti, e->key, e->klen, e->val, e->vlen);
			else
				rc = ts_bt_del(&w, ti, e->key, e->klen, &found);
			if (rc != 0)
				goto fail;
		}
	for (uint32_t id = 1; id < ns->ntrees; id++)
	{
		uint8_t		v[TS_CAT_VALLEN];

		if (!touched[id])
			continue;
		ts_cat_encode(v, id, &ns->trees[id].info);
		if ((rc = ts_bt_put(&w, &cat, (const uint8_t *) ns->trees[id].name,
							strlen(ns->trees[id].name), v, TS_CAT_VALLEN)) != 0)
			goto fail;
	}
	if ((rc = ts_freelist_save(&w)) != 0)
		goto fail;

	/* remember the new pages for the next checkpoint; they are final now */
	for (size_t i = 0; i < w.dirty.n; i++)
		if ((rc = ts_u64vec_push(&env->ckpt_dirty, w.dirty.v[i])) != 0)
			goto fail;
	ts_pager_seal(env->pager, w.dirty.v, w.dirty.n);
	/* readers in other processes read them from the file (shared.c, 1) */
	if (env->shared && (rc = ts_pager_write_through(env->pager, w.dirty.v, w.dirty.n)) != 0)
		goto fail;

	ns->meta.txnid = w.txnid;
	ns->meta.cat_root = cat.root;
	ns->meta.cat_depth = cat.depth;
	ns->meta.cat_entries = cat.entries;
	ns->meta.fl_root = w.fl.root;
	ns->meta.fl_depth = w.fl.depth;
	ns->meta.fl_entries = w.fl.entries;
	ns->meta.page_count = w.page_count;
	ns->meta.free_count = w.free_count;
	if (ns->meta.next_tree < ntrees)
		ns->meta.next_tree = ntrees;
	free(touched);
	wctx_free(&w);
	*out = ns;
	return 0;

fail:
	if (ts_pager_failed(env->pager))
		env->poisoned = 1;		/* an overflow page write failed: never retry */
	ts_pager_drop(env->pager, w.dirty.v, w.dirty.n, w.txnid);
	free(touched);
	wctx_free(&w);
	ts_snap_free(ns);
	return rc;
}

/*
 * Apply one write set (and tree creations) to env->head: the next state,
 * txnid head's + 1 (recovery replays commits with it).  As apply_n.
 */
int
ts_apply_writes(ts_env *env, ts_wset *ws, const created *cr, int ncreated,
				uint64_t horizon, ts_snap **out)
{
	apply_in	one = {ws, cr, ncreated};

	return apply_n(env, &one, 1, horizon, out);
}

/* ---------- logging a write set ---------- */

typedef struct opbuf
{
	uint8_t    *buf;
	size_t		len,
				cap;
} opbuf;

static int
opbuf_flush(ts_env *env, uint64_t xid, opbuf *b, uint64_t *end)
{
	int			rc;

	if (b->len == 0)
		return 0;
	rc = ts_wal_append(env->wal, xid, TS_WAL_OPS, b->buf, b->len, end);
	b->len = 0;
	return rc;
}

static int
opbuf_add(ts_env *env, uint64_t xid, opbuf *b, int op, uint32_t tree,
		  const void *key, size_t klen, const void *val, size_t vlen, uint64_t *end)
{
	size_t		need = 11 + klen + vlen;
	int			rc;

	if (b->len > 0 && b->len + need > OPS_CHUNK && (rc = opbuf_flush(env, xid, b, end)) != 0)
		return rc;
	if (b->len + need > b->cap)
	{
		size_t		ncap = b->cap ? b->cap : 4096;
		uint8_t    *nb;

		while (ncap < b->len + need)
			ncap *= 2;
		if ((nb = realloc(b->buf, ncap)) == NULL)
			return ts_error(TS_NOMEM, "out of memory for a %zu-byte log record", ncap);
		b->buf = nb;
		b->cap = ncap;
	}
	b->buf[b->len] = (uint8_t) op;
	wr32(b->buf + b->len + 1, tree);
	wr16(b->buf + b->len + 5, (uint16_t) klen);
	wr32(b->buf + b->len + 7, (uint32_t) vlen);
	memcpy(b->buf + b->len + 11, key, klen);
	if (vlen)
		memcpy(b->buf + b->len + 11 + klen, val, vlen);
	b->len += need;
	return 0;
}

/*
 * Append the transaction's tree creations and writes as OPS records, then
 * a record of `type` with `payload`.  Caller holds commit_lock (so the
 * records are contiguous and in commit order).  `b` is a buffer to build
 * the OPS records in (empty; kept for the next call, caller frees b->buf).
 */
static int
log_txn(ts_env *env, ts_txn *txn, int type, const void *payload, size_t plen,
		int with_ops, opbuf *b, uint64_t *end)
{
	int			rc = 0;

	if (txn->xid == 0)
		txn->xid = atomic_fetch_add(&env->next_xid, 1);
	if (with_ops)
	{
		txn->first_lsn = ts_wal_end_lsn(env->wal);
		for (int i = 0; i < txn->ncreated && rc == 0; i++)
			rc = opbuf_add(env, txn->xid, b, OP_CREATE, txn->created[i].id,
						   txn->created[i].name, strlen(txn->created[i].name), NULL, 0, end);
		for (const ts_wentry *e = ts_wset_begin(txn->ws); e && rc == 0; e = ts_wset_next(txn->ws, e))
		{
			if (e->vlen > UINT32_MAX)
				rc = ts_error(TS_INVALID, "value of %zu bytes is too large to log", e->vlen);
			else
				rc = opbuf_add(env, txn->xid, b, e->val ? OP_PUT : OP_DEL, e->tree,
							   e->key, e->klen, e->val, e->val ? e->vlen : 0, end);
		}
		if (rc == 0)
			rc = opbuf_flush(env, txn->xid, b, end);
		b->len = 0;
		if (b->cap > OPS_CHUNK)
		{
			/* don't keep a huge transaction's buffer */
			free(b->buf);
			b->buf = NULL;
			b->cap = 0;
		}
	}
	if (rc == 0)
		rc = ts_wal_append(env->wal, txn->xid, type, payload, plen, end);
	return rc;
}

/* Decode one op of an OPS payload (recovery.c and the tools use the same
 * layout: u8 op, u32 tree, u16 key length, u32 value length, key, value). */
int
ts_ops_next(const uint8_t *p, size_t len, size_t *pos, int *op, uint32_t *tree,
			const uint8_t **key, size_t *klen, const uint8_t **val, size_t *vlen)
{
	size_t		at = *pos;

	if (at == len)
		return TS_NOTFOUND;
	if (len - at < 11)
		return ts_error(TS_CORRUPT, "log record: truncated operation at byte %zu", at);
	*op = p[at];
	*tree = rd32(p + at + 1);
	*klen = rd16(p + at + 5);
	*vlen = rd32(p + at + 7);
	if (*op < OP_PUT || *op > OP_CREATE || *klen == 0 || len - at - 11 < *klen + *vlen)
		return ts_error(TS_CORRUPT, "log record: bad operation at byte %zu", at);
	*key = p + at + 11;
	*val = p + at + 11 + *klen;
	*pos = at + 11 + *klen + *vlen;
	return 0;
}

/* ---------- commit ---------- */

static int
read_only_error(ts_env *env)
{
	return ts_error(TS_BAD_TXN, "the environment in %s is open read-only", env->dir);
}

static int
poisoned_error(ts_env *env)
{
	env->poisoned = 1;
	return ts_error(TS_POISONED, "an earlier write or sync in %s failed; reopen the environment",
					env->dir);
}

/* Make `ns` the newest published state if it is newer.  Caller holds no lock. */
static void
publish(ts_env *env, ts_snap *ns)
{
	pthread_mutex_lock(&env->lock);
	if (ns->meta.txnid > env->current->meta.txnid)
	{
		ns->refs++;
		ts_snap_unref(env->current);
		env->current = ns;
		if (env->shared)
			ts_shared_publish(env->shared, &ns->meta);
	}
	pthread_mutex_unlock(&env->lock);
}

static void
unref(ts_env *env, ts_snap *s)
{
	pthread_mutex_lock(&env->lock);
	ts_snap_unref(s);
	pthread_mutex_unlock(&env->lock);
}

static int checkpoint(ts_env *env, int concurrent);

/*
 * A committer in the commit queue (on its own stack).  The batch leader
 * sets rc, err and pages, then done; or hands it the lead (turn); then
 * posts `wake`, once, and touches it no more.  (A semaphore, not a
 * condition variable: the woken thread need not take a mutex the waker
 * still holds, and may destroy it as soon as its wait returns.)
 */
typedef struct ts_cwait
{
	struct ts_cwait *next;		/* in the queue (under cq_lock) */
	ts_txn	   *txn;
	sem_t		wake;
	int			turn;			/* it leads the next batch */
	int			nosync;			/* ts_txn_commit_nosync: no flush for it */
	int			done;			/* its commit has finished with rc */
	int			rc;
	uint64_t	pages;			/* page count of the state it committed */
	char		err[ERR_MAX];	/* the message, when rc != 0 */
} ts_cwait;

/* Member m failed with rc; the message is the calling thread's last one. */
static void
member_fail(ts_cwait *m, int rc)
{
	m->rc = rc;
	snprintf(m->err, sizeof(m->err), "%s", ts_last_error());
}

/* ---- the key set of a batch: the writes of its members so far ---- */

static uint64_t
wentry_hash(const ts_wentry *e)
{
	uint64_t	h = 0xcbf29ce484222325ULL ^ e->tree;

	for (uint32_t i = 0; i < e->klen; i++)
		h = (h ^ e->key[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* The slot of e's key in set: where it is, or the empty one to put it. */
static const ts_wentry **
kset_slot(const ts_wentry **set, const ts_wentry *e)
{
	size_t		i = (size_t) wentry_hash(e) & (BATCH_SET - 1);

	while (set[i] != NULL &&
		   (set[i]->tree != e->tree || set[i]->klen != e->klen ||
			memcmp(set[i]->key, e->key, e->klen) != 0))
		i = (i + 1) & (BATCH_SET - 1);
	return &set[i];
}

/*
 * Would txn conflict with the members of its batch accepted before it (ok[0
 * .. k-1], whose writes are in set), or create a tree that head already
 * has?  The conflict table knows only commits before the batch.  Caller
 * holds commit_lock.
 */
static int
batch_conflicts(ts_env *env, ts_txn *txn, ts_cwait **ok, int k, const ts_wentry **set)
{
	for (int i = 0; i < txn->ncreated; i++)
	{
		const char *name = txn->created[i].name;
		int			dup = 0;

		for (uint32_t id = 1; id < env->head->ntrees && !dup; id++)
			dup = env->head->trees[id].name && strcmp(env->head->trees[id].name, name) == 0;
		for (int j = 0; j < k && !dup; j++)
			for (int c = 0; c < ok[j]->txn->ncreated && !dup; c++)
				dup = strcmp(ok[j]->txn->created[c].name, name) == 0;
		if (dup)
			return ts_error(TS_CONFLICT, "tree \"%s\" was created by a transaction that committed first",
							name);
	}
	if (set == NULL || k == 0)
		return 0;
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
		if (*kset_slot(set, e) != NULL)
			return ts_error(TS_CONFLICT, "a key of tree %u was written by a transaction that committed first",
							e->tree);
	return 0;
}

/*
 * Apply, log and make head the commits of g[0..k-1] together (above, step
 * 1).  Sets each member's rc; on success *out (a reference, replacing any
 * earlier one) is the new head and *end its log end.  Caller holds
 * commit_lock.
 */
static int
commit_group(ts_env *env, ts_cwait **g, int k, uint64_t horizon, ts_snap **out, uint64_t *end)
{
	apply_in	in[BATCH_MAX];
	ts_snap    *ns = NULL;
	opbuf		b = {0};
	uint64_t	base = env->head->meta.txnid,
				lsn = 0;
	int			rc,
				untracked = 0;

	if (k < 1 || k > BATCH_MAX)
		return 0;
	for (int i = 0; i < k; i++)
	{
		in[i].ws = g[i]->txn->ws;
		in[i].cr = g[i]->txn->created;
		in[i].ncr = g[i]->txn->ncreated;
	}
	rc = apply_n(env, in, k, horizon, &ns);
	for (int i = 0; i < k && rc == 0; i++)
	{
		ts_txn	   *t = g[i]->txn;
		int			prepared = (t->state == TXN_PREPARED);
		uint8_t		payload[8];

		wr64(payload, base + (uint64_t) i + 1);
		rc = log_txn(env, t, prepared ? TS_WAL_COMMIT_PREPARED : TS_WAL_COMMIT,
					 payload, 8, !prepared, &b, &lsn);
		if (rc != 0)
		{
			/* not logged: forget the applied state (nothing refers to it) */
			ts_pager_drop(env->pager, env->ckpt_dirty.v, env->ckpt_dirty.n, ns->meta.txnid);
			ts_snap_free(ns);
			ns = NULL;
			env->poisoned = 1;	/* the log buffer may hold part of it */
		}
	}
	free(b.buf);
	if (rc != 0)
	{
		for (int i = 0; i < k; i++)
			member_fail(g[i], rc);
		return rc;
	}

	pthread_mutex_lock(&env->lock);
	ts_snap_unref(env->head);
	env->head = ns;				/* the head's reference */
	ns->refs++;					/* and *out's, until it is published */
	env->head_lsn = lsn;
	env->commits += (uint64_t) k;
	for (int i = 0; i < k; i++)
		if (ts_conflicts_record(env, g[i]->txn, 0, base + (uint64_t) i + 1) != 0)
			untracked = 1;
	if (*out)
		ts_snap_unref(*out);
	*out = ns;
	pthread_mutex_unlock(&env->lock);
	if (untracked)
		env->poisoned = 1;		/* committed, but cannot track it for conflicts: stop writes */
	*end = lsn;
	for (int i = 0; i < k; i++)
	{
		g[i]->rc = 0;
		g[i]->pages = ns->meta.page_count;
	}
	if (env->opt.async_commit)
		publish(env, ns);
	return 0;
}

/*
 * Step 1 for the batch b[0..n-1]: conflicts, then one group of the rest;
 * if that cannot be applied, one group per member.  *out, *end: as
 * commit_group (*out NULL: nothing committed).  Caller holds commit_lock.
 */
static void
commit_batch(ts_env *env, ts_cwait **b, int n, ts_snap **out, uint64_t *end)
{
	ts_cwait   *ok[BATCH_MAX];
	const ts_wentry *set_space[BATCH_SET];
	const ts_wentry **set = n > 1 ? set_space : NULL;
	uint64_t	horizon;
	int			k = 0;

	*out = NULL;
	if (env->poisoned || ts_pager_failed(env->pager))
	{
		int			rc = poisoned_error(env);

		for (int i = 0; i < n; i++)
			member_fail(b[i], rc);
		return;
	}
	if (set)
		memset(set_space, 0, sizeof(set_space));
	pthread_mutex_lock(&env->lock);
	for (int i = 0; i < n; i++)
	{
		ts_txn	   *t = b[i]->txn;
		int			rc = 0;

		if (t->state != TXN_PREPARED)	/* a prepared one was checked and holds its keys */
		{
			rc = ts_conflicts_check(env, t);
			if (rc == 0)
				rc = batch_conflicts(env, t, ok, k, set);
		}
		if (rc == TS_CONFLICT)
			env->conflicts++;
		if (rc != 0)
		{
			member_fail(b[i], rc);
			continue;
		}
		ok[k++] = b[i];
		if (set)
			for (const ts_wentry *e = ts_wset_begin(t->ws); e; e = ts_wset_next(t->ws, e))
				*kset_slot(set, e) = e;
	}
	horizon = ts_env_oldest(env);
	if (env->ckpt_writing && env->ckpt_pin < horizon)
		horizon = env->ckpt_pin;	/* a checkpoint is writing pages (CHECKPOINT) */
	pthread_mutex_unlock(&env->lock);

	if (k > 0 && commit_group(env, ok, k, horizon, out, end) != 0 && k > 1 && !env->poisoned)
		for (int i = 0; i < k && !env->poisoned; i++)
			(void) commit_group(env, &ok[i], 1, horizon, out, end);
}

/* Join the queue; 1 if the caller leads the next batch. */
static int
queue_join(ts_env *env, ts_cwait *me)
{
	int			lead;

	pthread_mutex_lock(&env->cq_lock);
	if (env->cq_tail)
		env->cq_tail->next = me;
	else
		env->cq_head = me;
	env->cq_tail = me;
	env->cq_len++;
	env->cq_entries += ts_wset_count(me->txn->ws);
	if (env->cq_gathering &&
		(env->cq_len >= env->cq_expect || env->cq_entries >= BATCH_MAX_ENTRIES))
		pthread_cond_signal(&env->cq_cond);
	lead = !env->cq_leader;
	env->cq_leader = 1;
	pthread_mutex_unlock(&env->cq_lock);
	return lead;
}

/* Before taking its batch, the leader waits for the committers expected,
 * briefly (GATHER above). */
static void
queue_gather(ts_env *env, const ts_cwait *me)
{
	if (!env->opt.sync || env->opt.async_commit || me->nosync)
		return;
	pthread_mutex_lock(&env->cq_lock);
	if (env->cq_len < env->cq_expect && env->cq_entries < BATCH_MAX_ENTRIES &&
		env->cq_flush_ns >= GATHER_MIN_NS)
	{
		struct timespec until;
		uint64_t	ns = env->cq_flush_ns;

		if (ns > GATHER_MAX_NS)
			ns = GATHER_MAX_NS;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t) (ns / 1000000000u);
		until.tv_nsec += (long) (ns % 1000000000u);
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		env->cq_gathering = 1;
		while (env->cq_len < env->cq_expect && env->cq_entries < BATCH_MAX_ENTRIES &&
			   pthread_cond_timedwait(&env->cq_cond, &env->cq_lock, &until) == 0)
			;
		env->cq_gathering = 0;
	}
	pthread_mutex_unlock(&env->cq_lock);
}

/*
 * A batch of n is done (its log flush took flush_ns; 0: none): the lead
 * goes to the first queued committer, if any, which will wait for the
 * ones queued now and these n (GATHER).
 */
static void
queue_pass(ts_env *env, int n, uint64_t flush_ns)
{
	ts_cwait   *next;

	pthread_mutex_lock(&env->cq_lock);
	next = env->cq_head;
	if (next == NULL)
		env->cq_leader = 0;
	env->cq_expect = env->cq_len + n < BATCH_MAX ? env->cq_len + n : BATCH_MAX;
	if (flush_ns)
		env->cq_flush_ns = (env->cq_flush_ns * 7 + flush_ns) / 8;
	pthread_mutex_unlock(&env->cq_lock);
	/* next stays queued (only a leader dequeues), so it is still there */
	if (next)
	{
		next->turn = 1;
		sem_post(&next->wake);
	}
}

/* Lead a batch: me, first in the queue, and those behind it. */
static void
lead(ts_env *env, ts_cwait *me)
{
	ts_cwait   *b[BATCH_MAX];
	ts_snap    *ns = NULL;
	uint64_t	end = 0;
	size_t		entries = 0;
	int			n = 0,
				nosync = 1,
				rc;

	queue_gather(env, me);
	pthread_mutex_lock(&env->commit_lock);
	/* taken now rather than before waiting for the lock: more have queued */
	pthread_mutex_lock(&env->cq_lock);
	for (ts_cwait *c = env->cq_head; c && n < BATCH_MAX; c = c->next)
	{
		size_t		w = ts_wset_count(c->txn->ws);

		if (n > 0 && entries + w > BATCH_MAX_ENTRIES)
			break;
		b[n++] = c;
		entries += w;
	}
	env->cq_head = b[n - 1]->next;
	if (env->cq_head == NULL)
		env->cq_tail = NULL;
	env->cq_len -= n;
	env->cq_entries -= entries;
	pthread_mutex_unlock(&env->cq_lock);

	commit_batch(env, b, n, &ns, &end);
	pthread_mutex_unlock(&env->commit_lock);
	for (int i = 0; i < n; i++)
		nosync &= b[i]->nosync;

	/*
	 * Durable, then visible.  The lead passes once the flush is done
	 * (GATHER), before the members are told: the next leader gathers while
	 * they come back.
	 */
	if (ns == NULL || env->opt.async_commit)
		queue_pass(env, n, 0);
	else if (nosync)
	{
		/*
		 * Every member asked not to wait for the log (NO-SYNC COMMIT):
		 * visible now, durable with the next flush.  Every earlier batch is
		 * durable already (a leader holds the lead through its flush), so
		 * nothing but no-sync commits becomes visible before it is durable.
		 */
		publish(env, ns);
		queue_pass(env, n, 0);
	}
	else
	{
		uint64_t	t0 = now_ns();

		rc = ts_wal_flush(env->wal, end);
		queue_pass(env, n, now_ns() - t0);
		if (rc != 0)
		{
			env->poisoned = 1;
			for (int i = 0; i < n; i++)
				if (b[i]->rc == 0)
					member_fail(b[i], rc);
		}
		else
			publish(env, ns);
	}
	if (ns)
		unref(env, ns);

	for (int i = 0; i < n; i++)
		if (b[i] != me)
		{
			b[i]->done = 1;
			sem_post(&b[i]->wake);	/* b[i] may be gone from here on */
		}
}

/*
 * Too many pages made since the checkpoint: checkpoint now.  Both memory
 * (dirty pages stay in the cache) and the file (pages the checkpoint
 * uses cannot be reused before the next one) grow with them; an eighth
 * of the file keeps a large file within about 1.15 times its live pages.
 * If a checkpoint is already being taken, it will do, unless the pages
 * keep growing to twice the limit meanwhile: then wait for it and take
 * another.  With background_checkpoints the background thread is asked for
 * the checkpoint and the committer goes on, to wait only at twice the
 * limit: its caller (in PostgreSQL, the worker every session waits on) is
 * not held up for all the page writes and syncs, and the file grows by
 * what commits make while the checkpoint is being written (bench-engine's
 * overwrite rounds: 2.2 times the live data instead of 1.85).
 */
static int
maybe_checkpoint(ts_env *env, uint64_t pages)
{
	uint64_t	limit = pages / 8,
				dirty;
	int			rc = 0;

	if (limit < CKPT_MIN_DIRTY)
		limit = CKPT_MIN_DIRTY;
	if (limit > env->opt.max_dirty_pages || env->dirty_limit_set)
		limit = env->opt.max_dirty_pages;
	if ((dirty = ts_pager_dirty_count(env->pager)) <= limit)
		return 0;
	if (pthread_mutex_trylock(&env->ckpt_lock) != 0)
	{
		if (dirty <= 2 * limit)
			return 0;
		pthread_mutex_lock(&env->ckpt_lock);
	}
	else if (env->opt.background_checkpoints && env->bg_running && dirty <= 2 * limit)
	{
		pthread_mutex_unlock(&env->ckpt_lock);
		pthread_mutex_lock(&env->lock);
		env->ckpt_requested = 1;
		pthread_cond_signal(&env->bg_cond);
		pthread_mutex_unlock(&env->lock);
		return 0;
	}
	if (ts_pager_dirty_count(env->pager) > limit)
	{
		pthread_mutex_lock(&env->commit_lock);
		rc = checkpoint(env, 1);
		pthread_mutex_unlock(&env->commit_lock);
	}
	pthread_mutex_unlock(&env->ckpt_lock);
	return rc;
}

static int
do_commit(ts_txn *txn, int nosync)
{
	ts_env	   *env = txn->env;
	ts_cwait	me;

	ts_txn_release_value(txn);
	if (txn->state != TXN_PREPARED && ts_wset_count(txn->ws) == 0 && txn->ncreated == 0)
		return 0;
	memset(&me, 0, offsetof(ts_cwait, err));
	me.err[0] = '\0';
	me.txn = txn;
	me.nosync = nosync;
	if (sem_init(&me.wake, 0, 0) != 0)
		return ts_error(errno, "cannot initialize a semaphore: %s", strerror(errno));
	if (!queue_join(env, &me))
		while (sem_wait(&me.wake) != 0)
			;					/* EINTR */
	if (!me.done)
		lead(env, &me);
	sem_destroy(&me.wake);
	if (me.rc != 0)
		return ts_error(me.rc, "%s", me.err);

	/*
	 * The commit is durable and published: it succeeded, whatever happens
	 * to the checkpoint it may now take.  A failed checkpoint poisons the
	 * environment and the next write reports it; returning its error here
	 * would tell the caller a durable commit had failed (TS_POISONED even
	 * says "not applied").
	 */
	(void) maybe_checkpoint(env, me.pages);
	return 0;
}

int
ts_txn_commit(ts_txn *txn)
{
	int			rc;

	if (txn == NULL)
		return ts_error(TS_INVALID, "no transaction");
	rc = txn->ws ? do_commit(txn, 0) : 0;
	ts_txn_end(txn);
	return rc;
}

int
ts_txn_commit_nosync(ts_txn *txn)
{
	int			rc;

	if (txn == NULL)
		return ts_error(TS_INVALID, "no transaction");
	rc = txn->ws ? do_commit(txn, 1) : 0;
	ts_txn_end(txn);
	return rc;
}

int
ts_txn_prepare(ts_txn *txn, const char *gid)
{
	ts_env	   *env;
	uint8_t		payload[2 + TS_MAX_TREE_NAME];
	size_t		glen;
	uint64_t	end = 0;
	opbuf		b = {0};
	int			rc;

	if (txn == NULL || gid == NULL || (glen = strlen(gid)) > TS_MAX_TREE_NAME)
		return ts_error(TS_INVALID, "ts_txn_prepare needs a transaction and a gid of at most %d bytes",
						TS_MAX_TREE_NAME);
	if (txn->ws == NULL || txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "only an active write transaction can be prepared");
	env = txn->env;
	ts_txn_release_value(txn);
	pthread_mutex_lock(&env->commit_lock);
	if (env->poisoned || ts_pager_failed(env->pager))
	{
		pthread_mutex_unlock(&env->commit_lock);
		return poisoned_error(env);
	}
	pthread_mutex_lock(&env->lock);
	rc = 0;
	for (ts_txn *t = env->txns; t && rc == 0; t = t->next)
		if (t != txn && t->state == TXN_PREPARED && strcmp(t->gid, gid) == 0)
			rc = ts_error(TS_EXISTS, "a transaction is already prepared with gid \"%s\"", gid);
	if (rc == 0)
		rc = ts_conflicts_check(env, txn);
	if (rc == TS_CONFLICT)
		env->conflicts++;
	if (rc == 0)
		rc = ts_conflicts_record(env, txn, 1, 0);
	if (rc == 0)
	{
		txn->state = TXN_PREPARED;
		strcpy(txn->gid, gid);
	}
	pthread_mutex_unlock(&env->lock);
	if (rc == 0)
	{
		wr16(payload, (uint16_t) glen);
		memcpy(payload + 2, gid, glen);
		rc = log_txn(env, txn, TS_WAL_PREPARE, payload, 2 + glen, 1, &b, &end);
		free(b.buf);
		if (rc != 0)
			env->poisoned = 1;
	}
	pthread_mutex_unlock(&env->commit_lock);
	if (rc == 0 && (rc = ts_wal_flush(env->wal, end)) != 0)
		env->poisoned = 1;
	if (rc != 0 && txn->state == TXN_PREPARED)
	{
		/* not durably prepared: back to active (its reservations go) */
		pthread_mutex_lock(&env->lock);
		ts_conflicts_release(env, txn);
		txn->state = TXN_ACTIVE;
		pthread_mutex_unlock(&env->lock);
	}
	return rc;
}

void
ts_txn_abort(ts_txn *txn)
{
	if (txn == NULL)
		return;
	if (txn->state == TXN_PREPARED)
	{
		ts_env	   *env = txn->env;
		uint64_t	end = 0;
		opbuf		b = {0};
		int			rc;

		/* the abort must be durable, or recovery would bring it back */
		pthread_mutex_lock(&env->commit_lock);
		rc = (env->poisoned || ts_pager_failed(env->pager)) ? TS_POISONED
			: log_txn(env, txn, TS_WAL_ABORT_PREPARED, NULL, 0, 0, &b, &end);
		pthread_mutex_unlock(&env->commit_lock);
		free(b.buf);
		if (rc == 0)
			rc = ts_wal_flush(env->wal, end);
		if (rc != 0)
			env->poisoned = 1;	/* it stays prepared in the log: in doubt at restart */
	}
	ts_txn_end(txn);
}

/* ---------- in-doubt transactions ---------- */

int
ts_env_prepared(ts_env *env, char **gids, size_t *n)
{
	size_t		total = 0,
				count = 0;
	char	   *buf,
			   *p;

	*gids = NULL;
	*n = 0;
	pthread_mutex_lock(&env->lock);
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->recovered && t->state == TXN_PREPARED)
		{
			total += strlen(t->gid) + 1;
			count++;
		}
	buf = malloc(total ? total : 1);
	if (buf == NULL)
	{
		pthread_mutex_unlock(&env->lock);
		return ts_error(TS_NOMEM, "out of memory");
	}
	p = buf;
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->recovered && t->state == TXN_PREPARED)
		{
			strcpy(p, t->gid);
			p += strlen(t->gid) + 1;
		}
	pthread_mutex_unlock(&env->lock);
	*gids = buf;
	*n = count;
	return 0;
}

int
ts_env_resolve(ts_env *env, const char *gid, int commit)
{
	ts_txn	   *found = NULL;

	if (gid == NULL)
		return ts_error(TS_INVALID, "no gid");
	pthread_mutex_lock(&env->lock);
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->recovered && t->state == TXN_PREPARED && strcmp(t->gid, gid) == 0)
		{
			found = t;
			t->recovered = 0;	/* ours to resolve now */
			break;
		}
	pthread_mutex_unlock(&env->lock);
	if (found == NULL)
		return ts_error(TS_NOTFOUND, "no prepared transaction with gid \"%s\"", gid);
	if (env->read_only)
	{
		found->recovered = 1;
		return read_only_error(env);
	}
	if (commit)
		return ts_txn_commit(found);
	ts_txn_abort(found);
	return env->poisoned ? poisoned_error(env) : 0;
}

/* ---------- checkpoints ---------- */

/*
 * Take a checkpoint (CHECKPOINT above).  Caller holds commit_lock; with
 * `concurrent` also ckpt_lock, and commit_lock is released while the pages
 * are written and synced, and held again on return.
 */
static int
checkpoint(ts_env *env, int concurrent)
{
	ts_snap    *head;
	ts_meta		m;
	ts_u64vec	pages = {0};
	uint64_t	end,
				start,
				upto;
	int			rc = 0,
				changed;

	if (env->read_only)
		return read_only_error(env);
	if (env->poisoned || ts_pager_failed(env->pager))
		return poisoned_error(env);

	/* 1. what it will hold */
	pthread_mutex_lock(&env->lock);
	head = env->head;
	head->refs++;
	end = env->head_lsn;
	/* the oldest log position still needed: a prepared transaction's */
	start = end;
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->state == TXN_PREPARED && t->first_lsn < start)
			start = t->first_lsn;
	pthread_mutex_unlock(&env->lock);
	upto = head->meta.txnid;
	changed = (upto != env->ckpt_txnid || end != env->ckpt_lsn ||
			   start != env->ckpt_start || env->ckpt_dirty.n > 0);
	if (changed)
	{
		pages = env->ckpt_dirty;	/* later commits start a new list */
		memset(&env->ckpt_dirty, 0, sizeof(env->ckpt_dirty));
		rc = ts_pager_extend(env->pager, head->meta.page_count);
		if (rc == 0 && concurrent)
		{
			pthread_mutex_lock(&env->lock);
			env->ckpt_pin = env->ckpt_txnid;
			env->ckpt_writing = 1;
			pthread_mutex_unlock(&env->lock);
			ts_pager_writing(env->pager, upto);
		}
	}
	if (concurrent)
		pthread_mutex_unlock(&env->commit_lock);

	/* 2. everything it will contain is durable in the log first */
	if (rc == 0 && (rc = ts_wal_flush(env->wal, end)) == 0)
		publish(env, head);
	if (rc == 0 && changed)
	{
		ts_u64vec_sort(&pages);
		rc = ts_pager_flush(env->pager, pages.v, pages.n, upto);
		if (rc == 0 && env->opt.sync)
			rc = ts_pager_sync(env->pager);
		if (rc == 0)
		{
			m = head->meta;
			m.ckpt_lsn = end;
			m.wal_start = start;
			m.next_xid = atomic_load(&env->next_xid);
			m.ckpt_seq = env->ckpt_seq + 1;
			rc = ts_pager_write_meta(env->pager, &m);
		}
		if (rc == 0 && env->opt.sync)
			rc = ts_pager_sync(env->pager);
	}
	if (rc == 0)
		rc = ts_wal_remove_before(env->wal, start, env->opt.wal_keep_segments);

	/* 3. head is the durable checkpoint */
	if (concurrent)
		pthread_mutex_lock(&env->commit_lock);
	pthread_mutex_lock(&env->lock);
	if (rc == 0 && changed)
	{
		env->ckpt_seq++;
		env->ckpt_txnid = upto;
		env->ckpt_lsn = end;
		env->ckpt_start = start;
		env->checkpoints++;
	}
	env->ckpt_writing = 0;
	env->ckpt_ms = now_ms();
	pthread_mutex_unlock(&env->lock);
	if (changed && concurrent)
		ts_pager_writing(env->pager, 0);
	if (rc != 0)
		env->poisoned = 1;		/* the listed pages stay dirty: nothing is lost but writes */
	unref(env, head);
	ts_u64vec_free(&pages);
	return rc;
}

int
ts_checkpoint_locked(ts_env *env)
{
	return checkpoint(env, 0);
}

int
ts_env_checkpoint(ts_env *env)
{
	int			rc;

	if (env == NULL)
		return ts_error(TS_INVALID, "no environment");
	pthread_mutex_lock(&env->ckpt_lock);
	pthread_mutex_lock(&env->commit_lock);
	rc = checkpoint(env, 1);
	pthread_mutex_unlock(&env->commit_lock);
	pthread_mutex_unlock(&env->ckpt_lock);
	return rc;
}

/* ---------- setup ---------- */

void
ts_commit_init(ts_env *env)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&env->ckpt_lock, NULL);
	pthread_mutex_init(&env->cq_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* queue_gather's deadline */
	pthread_cond_init(&env->cq_cond, &ca);
	pthread_condattr_destroy(&ca);
}

void
ts_commit_fini(ts_env *env)
{
	pthread_mutex_destroy(&env->ckpt_lock);
	pthread_mutex_destroy(&env->cq_lock);
	pthread_cond_destroy(&env->cq_cond);
}

/* ---------- the background thread: async flushes, timed and asked-for checkpoints ---------- */

static void *
background(void *arg)
{
	ts_env	   *env = arg;

	pthread_mutex_lock(&env->lock);
	while (!env->bg_stop)
	{
		struct timespec until;
		uint64_t	wait_ms = env->opt.async_commit ? env->opt.async_flush_ms : 1000;
		uint64_t	ckpt_lsn,
					ckpt_ms;
		int			requested;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t) (wait_ms / 1000);
		until.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!env->ckpt_requested)
			pthread_cond_timedwait(&env->bg_cond, &env->lock, &until);
		/* taken before the poisoned check: a request left set would keep
		 * the loop from ever waiting */
		requested = env->ckpt_requested;
		env->ckpt_requested = 0;
		if (env->shared)
			(void) ts_shared_reap(env->shared);	/* dead readers (shared.c, 5) */
		if (env->bg_stop || env->poisoned)
			continue;
		/* a checkpoint by another thread changes these (under env->lock) */
		ckpt_lsn = env->ckpt_lsn;
		ckpt_ms = env->ckpt_ms;
		pthread_mutex_unlock(&env->lock);

		/* async commits, and no-sync commits no later flush has covered */
		if ((env->opt.async_commit ||
			 ts_wal_flushed_lsn(env->wal) < ts_wal_end_lsn(env->wal)) &&
			ts_wal_flush(env->wal, ts_wal_end_lsn(env->wal)) != 0)
			env->poisoned = 1;
		else
		{
			uint64_t	since = ts_wal_end_lsn(env->wal) - ckpt_lsn;
			int			due = requested ||
				(env->opt.checkpoint_interval_ms &&
							   now_ms() - ckpt_ms >= env->opt.checkpoint_interval_ms) ||
				(env->opt.checkpoint_wal_bytes && since >= env->opt.checkpoint_wal_bytes);

			if (due)
				(void) ts_env_checkpoint(env);	/* a failure poisons; nothing else to do */
		}
		pthread_mutex_lock(&env->lock);
	}
	pthread_mutex_unlock(&env->lock);
	return NULL;
}

/* Milliseconds since the last checkpoint (or since the start). */
uint64_t
ts_checkpoint_age_ms(ts_env *env)
{
	uint64_t	now = now_ms();

	return env->ckpt_ms && now > env->ckpt_ms ? now - env->ckpt_ms : 0;
}

int
ts_commit_start(ts_env *env)
{
	sigset_t	all,
				old;
	int			rc;

	env->ckpt_ms = now_ms();
	env->bg_stop = 0;
	/* with every signal blocked (THE BACKGROUND THREAD); it inherits the mask */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&env->bg, NULL, background, env);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return ts_error(rc, "cannot start the checkpoint thread: %s", strerror(rc));
	env->bg_running = 1;
	return 0;
}

void
ts_commit_stop(ts_env *env)
{
	if (!env->bg_running)
		return;			/* read-only, or never started */
	pthread_mutex_lock(&env->lock);
	env->bg_stop = 1;
	pthread_cond_broadcast(&env->bg_cond);
	pthread_mutex_unlock(&env->lock);
	pthread_join(env->bg, NULL);
	env->bg_running = 0;
	/* async commits not yet flushed become durable at close */
	if (!env->poisoned && ts_wal_flush(env->wal, ts_wal_end_lsn(env->wal)) != 0)
		env->poisoned = 1;
}
