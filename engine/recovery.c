/*-------------------------------------------------------------------------
 *
 * recovery.c
 *	  Replaying the write-ahead log at open.
 *
 *	  The data file holds the state of the last checkpoint (its meta page
 *	  names the log position it reflects, and the position from which the
 *	  log must be read: earlier while a prepared transaction's records are
 *	  needed).  Recovery reads the log from there and:
 *	  - collects each transaction's OPS records by xid;
 *	  - on COMMIT or COMMIT_PREPARED: skips it if its commit txnid is
 *	    already in the checkpoint; else applies it, which must be the next
 *	    txnid (commits are logged in commit order), with the writes the
 *	    original commit applied (ts_apply_writes).  At run time a batch of
 *	    commits was applied as one state (commit.c, COMMIT); replayed one
 *	    by one they give the same contents, in other pages;
 *	  - on ABORT_PREPARED: forgets the transaction;
 *	  - at the end of the log: drops transactions that neither committed
 *	    nor prepared (they never returned success), and brings back every
 *	    prepared one as an in-doubt transaction (ts_env_prepared) holding
 *	    its keys, to be committed or aborted by the caller.
 *	  A torn tail is the normal end of the log; corruption before valid
 *	  records stops the open (wal.h), unless accept_wal_loss is set.
 *	  Then the log is reopened for appending (a fresh segment) and, if
 *	  anything was replayed, a checkpoint makes the replay durable.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "txn.h"

typedef struct rtx
{
	uint64_t	xid;
	uint64_t	first_lsn;
	ts_wset    *ws;
	created    *cr;
	int			ncr;
	int			prepared;
	char		gid[TS_MAX_TREE_NAME + 1];
} rtx;

typedef struct rstate
{
	rtx		   *t;
	int			n,
				cap;
} rstate;

static rtx *
find(rstate *st, uint64_t xid)
{
	for (int i = 0; i < st->n; i++)
		if (st->t[i].xid == xid)
			return &st->t[i];
	return NULL;
}

static void
rtx_free_parts(rtx *t)
{
	ts_wset_free(t->ws);
	for (int i = 0; i < t->ncr; i++)
		free(t->cr[i].name);
	free(t->cr);
}

static void
forget(rstate *st, rtx *t)
{
	rtx_free_parts(t);
	*t = st->t[--st->n];
}

static int
add_ops(ts_env *env, rtx *t, const ts_wal_record *rec)
{
	size_t		pos = 0;
	int			rc;

	for (;;)
	{
		int			op;
		uint32_t	tree;
		const uint8_t *k,
				   *v;
		size_t		kl,
					vl;

		rc = ts_ops_next(rec->payload, rec->len, &pos, &op, &tree, &k, &kl, &v, &vl);
		if (rc == TS_NOTFOUND)
			return 0;
		if (rc != 0)
		{
			char		why[256];

			snprintf(why, sizeof(why), "%s", ts_last_error());
			return ts_error(TS_CORRUPT, "log record at LSN %llu (segment %llu, offset %llu): %s",
							(unsigned long long) rec->lsn, (unsigned long long) rec->segment,
							(unsigned long long) rec->offset, why);
		}
		if (op == TS_OP_CREATE)
		{
			created    *nc = realloc(t->cr, (size_t) (t->ncr + 1) * sizeof(created));

			if (nc == NULL)
				return ts_error(TS_NOMEM, "out of memory");
			t->cr = nc;
			if ((nc[t->ncr].name = strndup((const char *) k, kl)) == NULL)
				return ts_error(TS_NOMEM, "out of memory");
			nc[t->ncr].id = tree;
			t->ncr++;
			if (tree >= atomic_load(&env->next_tree))
				atomic_store(&env->next_tree, tree + 1);
		}
		else if ((rc = ts_wset_put(t->ws, tree, k, kl, op == TS_OP_PUT ? v : NULL, vl)) != 0)
			return rc;
	}
}

/* Apply a committed transaction as commit `txnid`. */
static int
replay_commit(ts_env *env, rtx *t, const ts_wal_record *rec)
{
	ts_snap    *ns;
	uint64_t	txnid;
	int			rc;

	if (rec->len != 8)
		return ts_error(TS_CORRUPT, "commit record at LSN %llu has %zu payload bytes",
						(unsigned long long) rec->lsn, rec->len);
	txnid = rd64(rec->payload);
	if (txnid <= env->head->meta.txnid)
		return 0;				/* already in the checkpoint */
	if (txnid != env->head->meta.txnid + 1)
		return ts_error(TS_CORRUPT, "commit record at LSN %llu is for transaction %llu; %llu was expected",
						(unsigned long long) rec->lsn, (unsigned long long) txnid,
						(unsigned long long) env->head->meta.txnid + 1);
	if (t == NULL)
		return ts_error(TS_CORRUPT, "commit record at LSN %llu for xid %llu, whose writes are not in the log",
						(unsigned long long) rec->lsn, (unsigned long long) rec->xid);
	rc = ts_apply_writes(env, t->ws, t->cr, t->ncr, env->head->meta.txnid, &ns);
	if (rc != 0)
		return rc;
	ns->refs++;					/* head and current */
	ts_snap_unref(env->head);
	ts_snap_unref(env->current);
	env->head = env->current = ns;
	env->head_lsn = rec->end;
	env->commits++;
	return 0;
}

/* Bring a prepared transaction back, in doubt, holding its keys. */
static int
restore_prepared(ts_env *env, rtx *r)
{
	ts_txn	   *txn;
	int			rc;

	if ((rc = ts_txn_begin(env, 0, &txn)) != 0)
		return rc;
	ts_wset_free(txn->ws);
	txn->ws = r->ws;
	txn->created = r->cr;
	txn->ncreated = r->ncr;
	r->ws = NULL;
	r->cr = NULL;
	r->ncr = 0;
	txn->xid = r->xid;
	txn->first_lsn = r->first_lsn;
	strcpy(txn->gid, r->gid);
	txn->recovered = 1;
	pthread_mutex_lock(&env->lock);
	txn->state = TXN_PREPARED;
	rc = ts_conflicts_record(env, txn, 1, 0);
	pthread_mutex_unlock(&env->lock);
	return rc;
}

int
ts_recover(ts_env *env)
{
	ts_wal_reader *r = NULL;
	ts_wal_record rec;
	rstate		st = {0};
	uint64_t	end,
				max_xid = 0,
				replayed_from = env->head->meta.txnid;
	ts_wal_options wo;
	int			rc,
				damaged = 0;

	rc = ts_wal_reader_open(env->vfs, env->dir, env->head->meta.wal_start,
							env->opt.accept_wal_loss, &r);
	while (rc == 0 && (rc = ts_wal_read(r, &rec)) == 0)
	{
		rtx		   *t = find(&st, rec.xid);

		if (rec.xid > max_xid)
			max_xid = rec.xid;
		switch (rec.type)
		{
			case TS_WAL_OPS:
			case TS_WAL_PREPARE:
				/*
				 * A transaction's first record: usually its operations, but
				 * a transaction prepared with an empty write set (all its
				 * writes rolled back to a savepoint) logs only PREPARE.
				 */
				if (t == NULL)
				{
					if (st.n == st.cap)
					{
						int			ncap = st.cap ? st.cap * 2 : 8;
						rtx		   *nt = realloc(st.t, (size_t) ncap * sizeof(rtx));

						if (nt == NULL)
						{
							rc = ts_error(TS_NOMEM, "out of memory");
							break;
						}
						st.t = nt;
						st.cap = ncap;
					}
					t = &st.t[st.n];
					memset(t, 0, sizeof(*t));
					t->xid = rec.xid;
					t->first_lsn = rec.lsn;
					if ((t->ws = ts_wset_new()) == NULL)
					{
						rc = ts_error(TS_NOMEM, "out of memory");
						break;
					}
					st.n++;
				}
				if (rec.type == TS_WAL_OPS)
				{
					rc = add_ops(env, t, &rec);
					break;
				}
				if (rec.len < 2 || rd16(rec.payload) != rec.len - 2 ||
					rec.len - 2 > TS_MAX_TREE_NAME)
				{
					rc = ts_error(TS_CORRUPT, "bad prepare record at LSN %llu",
								  (unsigned long long) rec.lsn);
					break;
				}
				t->prepared = 1;
				memcpy(t->gid, rec.payload + 2, rec.len - 2);
				t->gid[rec.len - 2] = '\0';
				break;
			case TS_WAL_COMMIT:
			case TS_WAL_COMMIT_PREPARED:
				rc = replay_commit(env, t, &rec);
				if (rc == 0 && t)
					forget(&st, t);
				break;
			case TS_WAL_ABORT_PREPARED:
				if (t)
					forget(&st, t);
				break;
			default:
				rc = ts_error(TS_CORRUPT, "log record of unknown type %d at LSN %llu",
							  rec.type, (unsigned long long) rec.lsn);
		}
	}
	if (rc == TS_NOTFOUND)
		rc = 0;
	end = r ? ts_wal_reader_end(r, &damaged) : 0;
	ts_wal_reader_close(r);
	if (max_xid >= atomic_load(&env->next_xid))
		atomic_store(&env->next_xid, max_xid + 1);

	if (rc == 0 && !env->read_only)
	{
		memset(&wo, 0, sizeof(wo));
		wo.segment_size = env->opt.wal_segment_size;
		wo.sync = env->opt.sync;
		rc = ts_wal_open(env->vfs, env->dir, &wo, end, &env->wal);
		env->head_lsn = end;
	}
	env->recovering = 1;
	for (int i = 0; i < st.n && rc == 0; i++)
		if (st.t[i].prepared)
			rc = restore_prepared(env, &st.t[i]);
	env->recovering = 0;
	for (int i = 0; i < st.n; i++)
		rtx_free_parts(&st.t[i]);
	free(st.t);
	(void) damaged;

	/* make the replay durable, so the log before it can go */
	if (rc == 0 && env->head->meta.txnid != replayed_from && !env->read_only)
	{
		pthread_mutex_lock(&env->commit_lock);
		rc = ts_checkpoint_locked(env);
		pthread_mutex_unlock(&env->commit_lock);
	}
	return rc;
}
