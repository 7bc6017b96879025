/*-------------------------------------------------------------------------
 *
 * writeset.h
 *	  A write transaction's private, ordered write set.
 *
 *	  An in-memory skiplist of entries ordered by (tree id, key), keys
 *	  compared bytewise with memcmp, a shorter key first on a common prefix
 *	  (the order of treestore.h).  Each entry holds the latest put of that
 *	  key in the transaction, or a tombstone (val == NULL) for a delete.
 *
 *	  Entries are never removed: a ts_wentry pointer stays valid, at the same
 *	  address, until ts_wset_free; a replacement updates val/vlen in place
 *	  (so a later put makes an earlier val pointer stale, but never the
 *	  entry or its key).  Key and value bytes are copied.
 *
 *	  Not thread-safe: a set belongs to one transaction, used by one thread
 *	  at a time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_WRITESET_H
#define TS_WRITESET_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_wset ts_wset;

typedef struct ts_wentry
{
	uint32_t	tree;
	uint32_t	klen;
	const uint8_t *key;
	const uint8_t *val;			/* NULL for a tombstone (delete) */
	size_t		vlen;
} ts_wentry;

ts_wset    *ts_wset_new(void);	/* NULL on out of memory */
void		ts_wset_free(ts_wset *ws);	/* NULL is a no-op */

/*
 * Insert or replace; val NULL records a delete (tombstone), and a non-NULL
 * val with vlen 0 an empty value.  Copies key and value (which may point
 * into this set, e.g. an entry's own val).  Returns 0, TS_NOMEM (the set
 * is unchanged) or TS_INVALID (klen over 4 GB).  Replacing reuses the old
 * value's space when the new value fits, so a key rewritten many times does
 * not grow the set without bound.
 */
int			ts_wset_put(ts_wset *ws, uint32_t tree, const void *key, size_t klen,
						const void *val, size_t vlen);

/* The entry for exactly (tree, key), tombstones included; NULL if none. */
const ts_wentry *ts_wset_get(const ts_wset *ws, uint32_t tree, const void *key, size_t klen);

/*
 * Positioning within one tree: the first entry of `tree` with key >= / > the
 * probe, or the last with key <= / < the probe; NULL if that tree has no such
 * entry.  The probe may be empty (klen 0), which sorts before every key.
 */
const ts_wentry *ts_wset_seek_ge(const ts_wset *ws, uint32_t tree, const void *key, size_t klen);
const ts_wentry *ts_wset_seek_gt(const ts_wset *ws, uint32_t tree, const void *key, size_t klen);
const ts_wentry *ts_wset_seek_le(const ts_wset *ws, uint32_t tree, const void *key, size_t klen);
const ts_wentry *ts_wset_seek_lt(const ts_wset *ws, uint32_t tree, const void *key, size_t klen);
const ts_wentry *ts_wset_first(const ts_wset *ws, uint32_t tree);
const ts_wentry *ts_wset_last(const ts_wset *ws, uint32_t tree);

/*
 * Whole-set iteration in (tree, key) order, used at commit.  ts_wset_next
 * also steps within a tree (check e->tree).  NULL at the end.
 */
const ts_wentry *ts_wset_begin(const ts_wset *ws);
const ts_wentry *ts_wset_next(const ts_wset *ws, const ts_wentry *e);

size_t		ts_wset_count(const ts_wset *ws);	/* entries incl. tombstones */

/*
 * Memory held for the entries: arena bytes in use (nodes, keys, small
 * values, including space left behind by replacements) plus the bytes of
 * separately allocated large values.  For memory accounting and limits.
 */
size_t		ts_wset_bytes(const ts_wset *ws);

#endif							/* TS_WRITESET_H */
