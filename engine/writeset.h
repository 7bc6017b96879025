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
 *	  Entries are never removed except by a rollback: a ts_wentry pointer
 *	  stays valid, at the same address, until ts_wset_free or a
 *	  ts_wset_rollback to a mark taken before the entry was made; a
 *	  replacement updates val/vlen in place (so a later put makes an earlier
 *	  val pointer stale, but never the entry or its key).  Key and value
 *	  bytes are copied.
 *
 *	  Savepoints: ts_wset_mark takes a mark; ts_wset_rollback restores the
 *	  exact contents the set had when the mark was taken (entries made since
 *	  disappear, entries changed since get their earlier value or tombstone
 *	  back) and gives back the memory taken since; ts_wset_release forgets
 *	  marks, keeping the writes.  While no mark is live nothing is logged
 *	  (writeset.c, SAVEPOINTS).
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

/*
 * Savepoints.  ts_wset_mark takes a mark of the set's current contents and
 * returns its handle in *mark (handles are unique in the process, never 0)
 * with the caller's `tag` attached; TS_NOMEM.  Marks form a stack.
 *
 * ts_wset_rollback restores the contents at `mark`, which stays live; the
 * marks taken after it are forgotten.  *tag (if not NULL) gets its tag.
 * Entry pointers of entries made after the mark become invalid; pointers
 * to the other entries stay valid (their val may change).
 *
 * ts_wset_release forgets `mark` and every mark taken after it; the writes
 * stay.  Both return TS_INVALID for a handle that is not a live mark of
 * this set.  ts_wset_marks counts the live marks.
 */
int			ts_wset_mark(ts_wset *ws, uint64_t tag, uint64_t *mark);
int			ts_wset_rollback(ts_wset *ws, uint64_t mark, uint64_t *tag);
int			ts_wset_release(ts_wset *ws, uint64_t mark);
size_t		ts_wset_marks(const ts_wset *ws);

#endif							/* TS_WRITESET_H */
