/*-------------------------------------------------------------------------
 *
 * btree.h
 *	  Copy-on-write B+trees over the pager, and the commit context that
 *	  mutates them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_BTREE_H
#define TS_BTREE_H

#include <stddef.h>
#include <stdint.h>

#include "pager.h"

/* A growable array of u64 (page numbers). */
typedef struct ts_u64vec
{
	uint64_t   *v;
	size_t		n;
	size_t		cap;
} ts_u64vec;

int			ts_u64vec_push(ts_u64vec *a, uint64_t x);
void		ts_u64vec_free(ts_u64vec *a);
void		ts_u64vec_sort(ts_u64vec *a);	/* ascending */

/* Where a tree lives. */
typedef struct ts_treeinfo
{
	uint64_t	root;			/* 0: empty tree */
	uint32_t	depth;			/* 0 when empty; 1: root is a leaf */
	uint64_t	entries;
} ts_treeinfo;

/*
 * The commit being built.  Only one exists at a time (the commit lock).
 * Pages allocated by it are dirty frames in the cache until flushed;
 * pages it frees were reachable from the previous committed state.
 */
typedef struct ts_wctx
{
	ts_pager   *pager;
	uint64_t	txnid;			/* the commit's transaction id */
	uint64_t	page_count;		/* high-water mark; allocation from the end */
	uint64_t	reuse_horizon;	/* freelist entries with txnid <= this are reusable */
	uint64_t	ckpt_txnid;		/* ...and on-disk ones only up to the durable checkpoint */
	ts_u64vec	dirty;			/* pages allocated (frames) */
	ts_u64vec	freed;			/* pages of the last checkpoint this commit frees */
	ts_u64vec	freed_volatile; /* pages created since the checkpoint it frees */
	ts_u64vec	pool;			/* reusable pages taken from the freelist */
	ts_u64vec	taken;			/* freelist keys emptied into pool: class, txnid, seq */
	ts_treeinfo fl;				/* the freelist tree */
	uint64_t	free_count;		/* pages on the freelist, incl. pool */
	int			fl_busy;		/* inside freelist code: don't refill the pool */
	int			pool_frozen;	/* saving the freelist: allocate from the end */
} ts_wctx;

/* --- reads (any snapshot) --- */

/*
 * Look up `key`.  On success *val and *vlen give the value: inside the
 * pinned frame *hold (release it with ts_pager_release when done), or, for
 * an overflow value, in *buf (malloc'ed, caller frees; *hold is NULL).
 */
int			ts_bt_get(ts_pager *pg, const ts_treeinfo *t, const uint8_t *key, size_t klen,
					  const uint8_t **val, size_t *vlen, ts_frame **hold, uint8_t **buf);

/* --- writes (inside a commit) --- */
int			ts_bt_put(ts_wctx *w, ts_treeinfo *t, const uint8_t *key, size_t klen,
					  const uint8_t *val, size_t vlen);
int			ts_bt_del(ts_wctx *w, ts_treeinfo *t, const uint8_t *key, size_t klen, int *found);

/* Read an overflow chain of `total` bytes starting at `first` into dst. */
int			ts_ovf_read(ts_pager *pg, uint64_t first, size_t total, uint8_t *dst);

/* Free every page of a tree (and its overflow chains). */
int			ts_bt_drop(ts_wctx *w, ts_treeinfo *t);

/* --- cursors over a snapshot --- */
typedef struct ts_btcur
{
	ts_pager   *pager;
	ts_treeinfo tree;
	int			depth;			/* levels on the stack */
	uint64_t	pg[TS_MAX_DEPTH];
	int			idx[TS_MAX_DEPTH];
	ts_frame   *leaf;			/* pinned leaf while positioned */
	int			valid;
	uint8_t    *ovf;			/* overflow value buffer */
	size_t		ovf_cap;
} ts_btcur;

void		ts_btcur_init(ts_btcur *c, ts_pager *pg, const ts_treeinfo *t);
void		ts_btcur_done(ts_btcur *c);
int			ts_btcur_first(ts_btcur *c);
int			ts_btcur_last(ts_btcur *c);
int			ts_btcur_seek(ts_btcur *c, const uint8_t *key, size_t klen);	/* first >= */
int			ts_btcur_next(ts_btcur *c);
int			ts_btcur_prev(ts_btcur *c);

/* Current key and value (valid until the next move). */
int			ts_btcur_key(ts_btcur *c, const uint8_t **key, size_t *klen);
int			ts_btcur_val(ts_btcur *c, const uint8_t **val, size_t *vlen);

/* --- page allocation (freelist.c) --- */
int			ts_page_alloc(ts_wctx *w, uint64_t *pgno);
int			ts_page_free(ts_wctx *w, uint64_t pgno);
int			ts_freelist_save(ts_wctx *w);

/* --- checking (check.c) --- */

/* Walk a tree, checking order, separators and depth; mark every page seen in
 * `seen` (one byte per page); TS_CORRUPT on any problem. */
int			ts_bt_check(ts_pager *pg, const ts_treeinfo *t, uint8_t *seen, uint64_t npages,
						uint64_t *entries);

/* Environment internals shared by txn.c and check.c. */
ts_pager   *ts_env_pager(ts_env *env);
int			ts_env_check_snapshot(ts_env *env, const ts_meta *m, uint32_t ntrees,
								  const ts_treeinfo *trees, const uint8_t *exists);

/* key comparison: bytewise, shorter first on a common prefix */
static inline int
ts_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t		n = al < bl ? al : bl;
	size_t		i = 0;

	/* eight bytes at a time, compared as big-endian words: no library call */
	for (; i + 8 <= n; i += 8)
	{
		uint64_t	x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
		{
			x = __builtin_bswap64(x);
			y = __builtin_bswap64(y);
			return x < y ? -1 : 1;
		}
	}
	for (; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return (al > bl) - (al < bl);
}

#endif							/* TS_BTREE_H */
