/*-------------------------------------------------------------------------
 *
 * txn.h
 *	  Internals shared by txn.c (environment, snapshots, transactions,
 *	  commit) and cursor.c (cursors merging a write set over a snapshot).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_TXN_H
#define TS_TXN_H

#include <pthread.h>
#include <stdatomic.h>

#include "btree.h"
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

	pthread_mutex_t lock;		/* current, txns, conflict table, counters */
	pthread_mutex_t commit_lock;	/* one commit (or prepare) at a time */
	ts_snap    *current;
	struct ts_txn *txns;		/* live transactions */
	int			nwriters;		/* live write transactions */
	_Atomic uint32_t next_tree;

	centry	  **ctab;
	size_t		ctab_size;
	size_t		ctab_count;

	int			poisoned;
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
	ts_snap    *snap;
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
	uint8_t		key[TS_MAX_KEY];	/* current key (merged cursors) */
	size_t		klen;
	uint8_t    *lo,
			   *hi;
	size_t		lolen,
				hilen;
	struct ts_cursor *next_in_txn;
};

/* The tree descriptor `id` in the transaction's snapshot, or NULL. */
const ts_treeinfo *ts_txn_snap_tree(ts_txn *txn, ts_tree id);

/* Does tree `id` exist for the transaction (snapshot or created by it)? */
int			ts_txn_tree_valid(ts_txn *txn, ts_tree id);

#endif							/* TS_TXN_H */
