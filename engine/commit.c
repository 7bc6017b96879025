/*-------------------------------------------------------------------------
 *
 * commit.c
 *	  Commit, two-phase commit, write-ahead logging of write sets, and
 *	  checkpoints.
 *
 * COMMIT (the order is the durability argument)
 *	  1. Under commit_lock: check conflicts; apply the write set to the
 *	     newest applied state ("head"), copy-on-write, in memory only
 *	     (ts_apply_writes); append the write set and a COMMIT record to the
 *	     log buffer; make the result the new head.  Nothing is written to
 *	     the data file.
 *	  2. Without the lock: ts_wal_flush up to the COMMIT record (group
 *	     commit: one fdatasync serves every committer queued behind it).
 *	  3. Publish: the durable state becomes the one new transactions read.
 *	  The next commit may apply on top of a head whose records are still
 *	  being flushed; it is published only after its own (later) records are
 *	  durable, and so after everything it builds on.  A failed flush poisons
 *	  the environment: heads not yet published are never seen.
 *	  With async_commit, step 2 is left to the background thread (at most
 *	  async_flush_ms later) and the commit is published at once.
 *
 * TWO-PHASE COMMIT
 *	  prepare: conflict check + key reservation; the write set and a PREPARE
 *	  record (with the caller's gid) are logged and flushed, nothing applied.
 *	  commit of a prepared transaction: apply + COMMIT_PREPARED, as above.
 *	  abort of a prepared transaction: ABORT_PREPARED, flushed.
 *	  The log is kept from the first record of the oldest prepared
 *	  transaction, so recovery can bring it back in doubt.
 *
 * CHECKPOINT (under commit_lock)
 *	  flush the log through head; write every page made since the last
 *	  checkpoint; fdatasync; write the meta page of head (the other slot)
 *	  with the log position; fdatasync; from now on pages freed before it
 *	  may be reused (freelist.c, invariant 2); remove log segments before
 *	  the oldest position still needed, keeping wal_keep_segments.
 *	  Taken every checkpoint_interval_ms, after checkpoint_wal_bytes of log,
 *	  when the pages made since the last one exceed an eighth of the file
 *	  (at least CKPT_MIN_DIRTY) or max_dirty_pages, on ts_env_checkpoint and
 *	  at close.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "txn.h"

#define OPS_CHUNK	(1 << 20)	/* log write sets in records of about 1 MB */
#define CKPT_MIN_DIRTY 8192		/* pages (32 MB): checkpointing a small database more
								 * often costs commits more than it saves space */

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

static void
wctx_free(ts_wctx *w)
{
	ts_u64vec_free(&w->dirty);
	ts_u64vec_free(&w->freed);
	ts_u64vec_free(&w->freed_volatile);
	ts_u64vec_free(&w->pool);
	ts_u64vec_free(&w->taken);
}

/* ---------- applying a write set ---------- */

/*
 * Apply a write set (and tree creations) to env->head, in memory, giving
 * the next state in *out.  Caller holds commit_lock.  On failure nothing
 * is left behind: the new pages are dropped and head is unchanged.
 */
int
ts_apply_writes(ts_env *env, ts_wset *ws, const created *cr, int ncreated,
				uint64_t horizon, ts_snap **out)
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
	w.txnid = cur->meta.txnid + 1;
	w.page_count = cur->meta.page_count;
	w.reuse_horizon = horizon;
	w.ckpt_txnid = env->ckpt_txnid;
	w.fl.root = cur->meta.fl_root;
	w.fl.depth = cur->meta.fl_depth;
	w.fl.entries = cur->meta.fl_entries;
	w.free_count = cur->meta.free_count;

	for (int i = 0; i < ncreated; i++)
		if (cr[i].id >= ntrees)
			ntrees = cr[i].id + 1;
	if ((rc = ts_snap_copy(cur, ntrees, &ns)) != 0)
		return rc;
	touched = calloc(ns->ntrees, 1);
	if (touched == NULL)
	{
		rc = ts_error(TS_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < ncreated; i++)
	{
		uint32_t	id = cr[i].id;

		if (ns->trees[id].name != NULL)
		{
			rc = ts_error(TS_CORRUPT, "tree id %u created twice", id);
			goto fail;
		}
		if ((ns->trees[id].name = strdup(cr[i].name)) == NULL)
		{
			rc = ts_error(TS_NOMEM, "out of memory");
			goto fail;
		}
		memset(&ns->trees[id].info, 0, sizeof(ts_treeinfo));
		touched[id] = 1;
	}

	/* the write set, in (tree, key) order */
	for (const ts_wentry *e = ts_wset_begin(ws); e; e = ts_wset_next(ws, e))
	{
		ts_treeinfo *t;
		int			found;

		if (e->tree >= ns->ntrees || ns->trees[e->tree].name == NULL)
		{
			rc = ts_error(TS_INVALID, "write to tree id %u, which does not exist", e->tree);
			goto fail;
		}
		t = &ns->trees[e->tree].info;
		touched[e->tree] = 1;
		if (e->val)
			rc = ts_bt_put(&w, t, e->key, e->klen, e->val, e->vlen);
		else
			rc = ts_bt_del(&w, t, e->key, e->klen, &found);
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
 * records are contiguous and in commit order).
 */
static int
log_txn(ts_env *env, ts_txn *txn, int type, const void *payload, size_t plen,
		int with_ops, uint64_t *end)
{
	opbuf		b = {0};
	int			rc = 0;

	if (txn->xid == 0)
		txn->xid = atomic_fetch_add(&env->next_xid, 1);
	if (with_ops)
	{
		txn->first_lsn = ts_wal_end_lsn(env->wal);
		for (int i = 0; i < txn->ncreated && rc == 0; i++)
			rc = opbuf_add(env, txn->xid, &b, OP_CREATE, txn->created[i].id,
						   txn->created[i].name, strlen(txn->created[i].name), NULL, 0, end);
		for (const ts_wentry *e = ts_wset_begin(txn->ws); e && rc == 0; e = ts_wset_next(txn->ws, e))
		{
			if (e->vlen > UINT32_MAX)
				rc = ts_error(TS_INVALID, "value of %zu bytes is too large to log", e->vlen);
			else
				rc = opbuf_add(env, txn->xid, &b, e->val ? OP_PUT : OP_DEL, e->tree,
							   e->key, e->klen, e->val, e->val ? e->vlen : 0, end);
		}
		if (rc == 0)
			rc = opbuf_flush(env, txn->xid, &b, end);
		free(b.buf);
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
	}
	pthread_mutex_unlock(&env->lock);
}

static int
do_commit(ts_txn *txn)
{
	ts_env	   *env = txn->env;
	ts_snap    *ns = NULL;
	uint64_t	horizon,
				end = 0,
				pages = 0;
	int			rc,
				prepared = (txn->state == TXN_PREPARED);
	uint8_t		payload[8];

	ts_txn_release_value(txn);
	if (!prepared && ts_wset_count(txn->ws) == 0 && txn->ncreated == 0)
		return 0;
	pthread_mutex_lock(&env->commit_lock);
	if (env->poisoned || ts_pager_failed(env->pager))
	{
		pthread_mutex_unlock(&env->commit_lock);
		return poisoned_error(env);
	}
	pthread_mutex_lock(&env->lock);
	rc = prepared ? 0 : ts_conflicts_check(env, txn);
	if (rc == TS_CONFLICT)
		env->conflicts++;
	horizon = ts_env_oldest(env);
	pthread_mutex_unlock(&env->lock);
	if (rc == 0)
		rc = ts_apply_writes(env, txn->ws, txn->created, txn->ncreated, horizon, &ns);
	if (rc == 0)
	{
		pages = ns->meta.page_count;
		wr64(payload, ns->meta.txnid);
		rc = log_txn(env, txn, prepared ? TS_WAL_COMMIT_PREPARED : TS_WAL_COMMIT,
					 payload, 8, !prepared, &end);
		if (rc != 0)
		{
			/* not logged: forget the applied state (nothing refers to it) */
			ts_pager_drop(env->pager, env->ckpt_dirty.v, env->ckpt_dirty.n, ns->meta.txnid);
			ts_snap_free(ns);
			ns = NULL;
			env->poisoned = 1;	/* the log buffer may hold part of it */
		}
	}
	if (rc == 0)
	{
		pthread_mutex_lock(&env->lock);
		ts_snap_unref(env->head);
		env->head = ns;			/* the head's reference */
		ns->refs++;				/* and ours, until it is published */
		env->head_lsn = end;
		env->commits++;
		rc = ts_conflicts_record(env, txn, 0, ns->meta.txnid);
		pthread_mutex_unlock(&env->lock);
		if (rc != 0)
		{
			/* committed, but cannot track it for conflicts: stop writes */
			env->poisoned = 1;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&env->commit_lock);
	if (rc != 0)
		return rc;

	/* durable, then visible */
	if (!env->opt.async_commit && (rc = ts_wal_flush(env->wal, end)) != 0)
		env->poisoned = 1;
	else
		publish(env, ns);
	pthread_mutex_lock(&env->lock);
	ts_snap_unref(ns);
	pthread_mutex_unlock(&env->lock);
	if (rc != 0)
		return rc;

	/*
	 * Too many pages made since the checkpoint: checkpoint now.  Both memory
	 * (dirty pages stay in the cache) and the file (pages the checkpoint
	 * uses cannot be reused before the next one) grow with them; an eighth
	 * of the file keeps a large file within about 1.15 times its live pages.
	 */
	{
		uint64_t	limit = pages / 8;

		if (limit < CKPT_MIN_DIRTY)
			limit = CKPT_MIN_DIRTY;
		if (limit > env->opt.max_dirty_pages || env->dirty_limit_set)
			limit = env->opt.max_dirty_pages;
		if (ts_pager_dirty_count(env->pager) > limit)
			rc = ts_env_checkpoint(env);
	}
	return rc;
}

int
ts_txn_commit(ts_txn *txn)
{
	int			rc;

	if (txn == NULL)
		return ts_error(TS_INVALID, "no transaction");
	rc = txn->ws ? do_commit(txn) : 0;
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
		rc = log_txn(env, txn, TS_WAL_PREPARE, payload, 2 + glen, 1, &end);
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
		int			rc;

		/* the abort must be durable, or recovery would bring it back */
		pthread_mutex_lock(&env->commit_lock);
		rc = (env->poisoned || ts_pager_failed(env->pager)) ? TS_POISONED
			: log_txn(env, txn, TS_WAL_ABORT_PREPARED, NULL, 0, 0, &end);
		pthread_mutex_unlock(&env->commit_lock);
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

int
ts_checkpoint_locked(ts_env *env)
{
	ts_snap    *head;
	ts_meta		m;
	uint64_t	end,
				start;
	int			rc;

	if (env->read_only)
		return read_only_error(env);
	if (env->poisoned || ts_pager_failed(env->pager))
		return poisoned_error(env);
	pthread_mutex_lock(&env->lock);
	head = env->head;
	head->refs++;
	end = env->head_lsn;
	pthread_mutex_unlock(&env->lock);

	/* everything the checkpoint will contain is durable in the log first */
	rc = ts_wal_flush(env->wal, end);
	if (rc == 0)
		publish(env, head);

	/* the oldest log position still needed: a prepared transaction's */
	start = end;
	pthread_mutex_lock(&env->lock);
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->state == TXN_PREPARED && t->first_lsn < start)
			start = t->first_lsn;
	pthread_mutex_unlock(&env->lock);

	if (rc == 0 && (head->meta.txnid != env->ckpt_txnid || end != env->ckpt_lsn ||
					start != env->ckpt_start || env->ckpt_dirty.n > 0))
	{
		ts_u64vec_sort(&env->ckpt_dirty);
		rc = ts_pager_flush(env->pager, env->ckpt_dirty.v, env->ckpt_dirty.n);
		if (rc == 0)
			rc = ts_pager_extend(env->pager, head->meta.page_count);
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
		if (rc == 0)
		{
			env->ckpt_seq++;
			env->ckpt_txnid = head->meta.txnid;
			env->ckpt_lsn = end;
			env->ckpt_start = start;
			env->ckpt_dirty.n = 0;
			pthread_mutex_lock(&env->lock);
			env->checkpoints++;
			pthread_mutex_unlock(&env->lock);
		}
	}
	env->ckpt_ms = now_ms();
	if (rc == 0)
		rc = ts_wal_remove_before(env->wal, start, env->opt.wal_keep_segments);
	if (rc != 0)
		env->poisoned = 1;
	pthread_mutex_lock(&env->lock);
	ts_snap_unref(head);
	pthread_mutex_unlock(&env->lock);
	return rc;
}

int
ts_env_checkpoint(ts_env *env)
{
	int			rc;

	if (env == NULL)
		return ts_error(TS_INVALID, "no environment");
	pthread_mutex_lock(&env->commit_lock);
	rc = ts_checkpoint_locked(env);
	pthread_mutex_unlock(&env->commit_lock);
	return rc;
}

/* ---------- the background thread: async flushes and timed checkpoints ---------- */

static void *
background(void *arg)
{
	ts_env	   *env = arg;

	pthread_mutex_lock(&env->lock);
	while (!env->bg_stop)
	{
		struct timespec until;
		uint64_t	wait_ms = env->opt.async_commit ? env->opt.async_flush_ms : 1000;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t) (wait_ms / 1000);
		until.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&env->bg_cond, &env->lock, &until);
		if (env->bg_stop || env->poisoned)
			continue;
		pthread_mutex_unlock(&env->lock);

		if (env->opt.async_commit && ts_wal_flush(env->wal, ts_wal_end_lsn(env->wal)) != 0)
			env->poisoned = 1;
		else
		{
			uint64_t	since = ts_wal_end_lsn(env->wal) - env->ckpt_lsn;
			int			due = (env->opt.checkpoint_interval_ms &&
							   now_ms() - env->ckpt_ms >= env->opt.checkpoint_interval_ms) ||
				(env->opt.checkpoint_wal_bytes && since >= env->opt.checkpoint_wal_bytes);

			if (due)
				(void) ts_env_checkpoint(env);	/* a failure poisons; nothing else to do */
		}
		pthread_mutex_lock(&env->lock);
	}
	pthread_mutex_unlock(&env->lock);
	return NULL;
}

int
ts_commit_start(ts_env *env)
{
	int			rc;

	env->ckpt_ms = now_ms();
	env->bg_stop = 0;
	if ((rc = pthread_create(&env->bg, NULL, background, env)) != 0)
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
