/*-------------------------------------------------------------------------
 *
 * txn.h
 *	  Internals shared by txn.c (environment, snapshots, transactions,
 *	  conflicts), commit.c (commit, write-ahead logging, checkpoints),
 *	  recovery.c (replaying the log at open) and cursor.c (cursors merging a
 *	  write set over a snapshot).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_TXN_H
#define TS_TXN_H

#include <pthread.h>
#include <stdatomic.h>

#include "btree.h"
#include "wal.h"
#include "writeset.h"

typedef struct tdesc
{
	char	   *name;			/* NULL: no tree with this id */
	ts_treeinfo info;
} tdesc;

typedef struct ts_snap
{
	int			refs;			/* under env->lock */
	ts_meta		meta;
	uint32_t	ntrees;			/* trees[] is indexed by id, 0 unused */
	tdesc	   *trees;
} ts_snap;

typedef struct centry
{
	struct centry *next;
	uint32_t	tree;
	uint32_t	klen;
	uint64_t	hash;
	uint64_t	txnid;			/* last commit writing the key (0: none known) */
	struct ts_txn *prepared;	/* prepared transaction reserving it */
	uint8_t		key[];
} centry;

struct ts_env
{
	ts_vfs	   *vfs;
	ts_pager   *pager;
	ts_options	opt;
	char	   *dir;

	pthread_mutex_t lock;		/* current, head, txns, conflict table, counters */
	pthread_mutex_t commit_lock;	/* one commit batch, prepare or checkpoint step at a time */
	ts_snap    *current;		/* newest published (durable) state */
	ts_snap    *head;			/* newest applied state: current, or ahead of it
								 * while its log records are being flushed */
	uint64_t	head_lsn;		/* log end of head */

	/* write-ahead log and checkpoints (commit.c) */
	ts_wal	   *wal;
	_Atomic uint64_t next_xid;
	uint64_t	ckpt_txnid;		/* state of the last durable checkpoint (the ckpt_*
								 * fields and ckpt_ms: written under commit_lock
								 * and lock, read under either) */
	uint64_t	ckpt_lsn;
	uint64_t	ckpt_start;		/* its WAL start */
	uint64_t	ckpt_seq;
	ts_u64vec	ckpt_dirty;		/* pages made since the checkpoint (under commit_lock) */
	pthread_mutex_t ckpt_lock;	/* one checkpoint at a time; before commit_lock */
	int			ckpt_writing;	/* a checkpoint is writing pages without commit_lock: */
	uint64_t	ckpt_pin;		/* reuse no page freed after this (both set under
								 * commit_lock and lock) */
	uint64_t	checkpoints;
	uint64_t	ckpt_ms;		/* when the last one was taken (monotonic) */
	pthread_t	bg;				/* checkpointer and async flusher */
	int			bg_running;
	int			bg_stop;
	int			ckpt_requested;	/* a committer saw too many dirty pages */
	pthread_cond_t bg_cond;		/* with lock */

	/* the commit queue (commit.c, COMMIT) */
	pthread_mutex_t cq_lock;	/* the fields below */
	pthread_cond_t cq_cond;		/* a leader gathering its batch waits here */
	struct ts_cwait *cq_head,	/* committers waiting, in arrival order */
			   *cq_tail;
	int			cq_len;
	size_t		cq_entries;		/* writes of the committers queued */
	int			cq_leader;		/* a committer leads a batch, or has been handed the lead */
	int			cq_expect;		/* committers the next batch waits for (briefly) */
	int			cq_gathering;	/* its leader is waiting for them */
	uint64_t	cq_flush_ns;	/* recent log flush time, bounds that wait */

	struct ts_txn *txns;		/* live transactions */
	int			nwriters;		/* live write transactions */
	_Atomic uint32_t next_tree;

	centry	  **ctab;
	size_t		ctab_size;
	size_t		ctab_count;
	size_t		ctab_prune_at;	/* walk the table at a transaction end once
								 * ctab_count reaches this (txn.c, CONFLICTS) */
	size_t		ctab_limit;		/* entries kept exactly (TS_CTAB_LIMIT; tests
								 * may lower it); beyond, folded into: */
	uint64_t   *ctab_summary;	/* TS_CTAB_SUMMARY slots: the newest txnid
								 * folded into each hash slot (NULL: none) */
	uint64_t	ctab_summary_max;	/* newest txnid in it (0: empty) */
	uint64_t	ctab_visits;	/* buckets and entries the walks visited */
	uint64_t	ctab_pruned_to; /* entries of commits up to this may be gone
								 * (ts_txn_rebase cannot check from before) */
	int			unrecorded;		/* transactions with txn->unrecorded set */

	/* readers in other processes (shared.c) */
	struct ts_shared *shared;	/* the region (writer or reader), or NULL */
	int			attached;		/* ts_env_attach: this env reads another's file */
	int			slot;			/* attached: its reader slot */
	uint64_t	gen;			/* attached: the writer generation of current */
	uint64_t	ring_pos;		/* attached: rewritten pages applied so far */

	_Atomic int poisoned;		/* set by any thread that saw a write or sync fail */
	int			read_only;		/* TS_RDONLY: recovery in memory, no writes */
	int			dirty_limit_set;	/* max_dirty_pages given: it alone is the limit */
	int			recovering;		/* inside ts_recover */
	uint64_t	commits;
	uint64_t	conflicts;
};

enum
{
	TXN_ACTIVE, TXN_PREPARED
};

typedef struct created
{
	char	   *name;
	uint32_t	id;
} created;

struct ts_txn
{
	ts_env	   *env;
	ts_snap    *snap;			/* what it reads: its begin snapshot, or the one
								 * its last ts_txn_renew took */
	uint64_t	base;			/* txnid of its begin snapshot: the conflict base
								 * (first committer wins), kept by ts_txn_renew */
	unsigned	flags;
	int			state;
	ts_wset    *ws;				/* NULL for read-only */
	created    *created;
	int			ncreated;
	ts_frame   *hold;			/* frame behind the last ts_get value */
	uint8_t    *ovf;			/* buffer behind the last overflow value */
	struct ts_cursor *cursors;
	struct ts_txn *prev,
			   *next;
	char		gid[TS_MAX_TREE_NAME + 1];
	uint64_t	unrecorded;		/* its commit, whose keys ts_conflicts_record skipped
								 * (no other writer then); recorded by the next
								 * writer to begin before that commit is
								 * published, if any (txn.c, CONFLICTS) */
	uint64_t	xid;			/* in the log (0 until logged) */
	uint64_t	first_lsn;		/* of its first log record, while prepared */
	int			recovered;		/* prepared before a restart (in doubt) */
};

struct ts_cursor
{
	ts_txn	   *txn;			/* NULL once the transaction ended */
	ts_tree		tree;
	ts_btcur	bt;
	int			bt_pos;			/* bt is positioned (on a key) */
	int			dir;			/* direction of the last move */
	int			valid;
	const ts_wentry *we;		/* current entry comes from the write set */
	int			gone;			/* positioned at key, which a rollback or renew
								 * took away: ts_cursor_get says TS_NOTFOUND,
								 * moves go on from key */
	uint8_t		key[TS_MAX_KEY];	/* current key (merged cursors; read-only ones
									 * only while gone) */
	size_t		klen;
	uint8_t    *lo,
			   *hi;
	size_t		lolen,
				hilen;
	struct ts_cursor *next_in_txn;
};

/* snapshots and catalog (txn.c) */
void		ts_snap_unref(ts_snap *s);	/* caller holds env->lock */
void		ts_snap_free(ts_snap *s);
int			ts_snap_copy(const ts_snap *src, uint32_t ntrees, ts_snap **out);
void		ts_cat_encode(uint8_t *v, uint32_t id, const ts_treeinfo *t);
#define TS_CAT_VALLEN 24

/* conflicts (txn.c); caller holds env->lock */
#define TS_CTAB_LIMIT	65536	/* conflict entries kept exactly */
#define TS_CTAB_SUMMARY	16384	/* slots of the summary of the folded ones */
int			ts_conflicts_check(ts_env *env, ts_txn *txn);
int			ts_conflicts_record(ts_env *env, ts_txn *txn, int prepare, uint64_t txnid);
void		ts_conflicts_release(ts_env *env, ts_txn *txn);
uint64_t	ts_env_oldest(ts_env *env);

/* transactions (txn.c) */
void		ts_txn_release_value(ts_txn *txn);
void		ts_txn_end(ts_txn *txn);

/* commit, log, checkpoints (commit.c) */
void		ts_commit_init(ts_env *env);	/* locks of the commit queue, checkpoints */
void		ts_commit_fini(ts_env *env);
int			ts_apply_writes(ts_env *env, ts_wset *ws, const created *cr, int ncreated,
							uint64_t horizon, ts_snap **out);
int			ts_commit_start(ts_env *env);	/* background thread */
void		ts_commit_stop(ts_env *env);
int			ts_checkpoint_locked(ts_env *env);	/* caller holds commit_lock */
uint64_t	ts_checkpoint_age_ms(ts_env *env);	/* caller holds lock */

/* the OPS record payload (commit.c) */
int			ts_ops_next(const uint8_t *p, size_t len, size_t *pos, int *op, uint32_t *tree,
						const uint8_t **key, size_t *klen, const uint8_t **val, size_t *vlen);
#define TS_OP_PUT		1
#define TS_OP_DEL		2
#define TS_OP_CREATE	3

/* recovery (recovery.c): replay the log after the checkpoint; leaves the
 * log open for appending */
int			ts_recover(ts_env *env);

/* The tree descriptor `id` in the transaction's snapshot, or NULL. */
const ts_treeinfo *ts_txn_snap_tree(ts_txn *txn, ts_tree id);

/* Does tree `id` exist for the transaction (snapshot or created by it)? */
int			ts_txn_tree_valid(ts_txn *txn, ts_tree id);

/*
 * Cursors after a change of what the transaction sees (cursor.c).
 * ts_cursors_detach, before ts_txn_renew drops the old snapshot: remember
 * each positioned cursor's key and unpin its pages.  ts_cursors_refresh,
 * after a rollback (resnap 0) or a renew (resnap 1, after detach): each
 * positioned cursor stays at its key, now read in the new view (if the key
 * is no longer there, `gone`).  Returns the first I/O error; a cursor that
 * hit one is unpositioned.
 */
void		ts_cursors_detach(ts_txn *txn);
int			ts_cursors_refresh(ts_txn *txn, int resnap);

#endif							/* TS_TXN_H */
