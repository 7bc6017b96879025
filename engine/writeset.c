/*-------------------------------------------------------------------------
 *
 * writeset.c
 *	  A transaction's private write set: an arena-allocated skiplist.
 *
 *	  Layout: each node is one arena allocation holding the node header, its
 *	  `height` forward pointers, the key bytes and, for a value of at most
 *	  WS_BIG_VALUE bytes, the value bytes (the node's value "slot").  Larger
 *	  values are malloc'd separately ("external") so that megabyte values do
 *	  not bloat arena blocks, and are freed when replaced or at ts_wset_free.
 *
 *	  Invariants:
 *	  - Level 0 links every node in strictly increasing (tree, key) order;
 *	    level l links the nodes of height > l, a subsequence of level l-1.
 *	  - Nodes are never moved, and unlinked only by a rollback (below), so
 *	    ts_wentry pointers (the entry is a node's first member) are stable
 *	    until the set is freed or a rollback removes their entry.
 *	  - A node's value is either NULL (tombstone), external (malloc'd, owned
 *	    by the node) or in its arena slot of capacity vcap >= vlen.  The slot
 *	    survives a tombstone or an external value, so a later small value
 *	    reuses it.  A small value too big for the slot gets a new slot of at
 *	    least twice the old capacity (capped at WS_BIG_VALUE); the abandoned
 *	    slots of one entry thus sum to at most 2 * WS_BIG_VALUE bytes.
 *	  - Node heights come from a per-set xorshift generator, independent of
 *	    the keys (P(height > h) = 4^-h, at most WS_MAX_LEVEL), so search and
 *	    insertion take O(log n) expected comparisons whatever the key order.
 *
 * SAVEPOINTS
 *	  A mark records the length of the undo log and the arena's position
 *	  (current block, free space, bytes used).  Nothing is logged while no
 *	  mark is live: the only cost to a set that never takes one is a test of
 *	  nmarks per put.  While marks are live (depth D = their number):
 *	  - a new node gets an UNDO_NEW record (rollback unlinks it);
 *	  - the first change to an existing node under the newest mark gets an
 *	    UNDO_REPLACE record holding its value, slot, external flag and
 *	    depth.  The record owns them from then on (the old slot is never
 *	    written again, an external value is freed with the record) and the
 *	    new value gets fresh space.  node->depth = D records that the node
 *	    was created or logged under the newest mark, so further changes
 *	    replace in place, as without marks: each node is logged at most once
 *	    per mark, and a key rewritten many times under one mark costs no
 *	    more than without it.
 *	  Rollback to mark i replays the records after it newest first, which
 *	  restores every node changed since to its state at the mark and
 *	  unlinks every node made since; then no live pointer refers to arena
 *	  space taken after the mark, and the arena is cut back to the mark's
 *	  position (blocks allocated since are freed).  The mark stays live;
 *	  later marks are dropped.
 *	  Release of mark i drops it and the later ones.  Their records now
 *	  belong to mark i-1, which needs only each node's earliest record since
 *	  it was taken: REPLACE records of nodes created or logged under i-1 or
 *	  deeper (record depth >= i) are dropped, the others kept, and the
 *	  nodes involved get depth i (logged under the new newest mark).  With
 *	  no mark left the log is freed.
 *	  Invariant: for each live mark k, each node created or changed since k
 *	  has a record after k's log position, and the earliest such record
 *	  holds the node's state at k (UNDO_NEW: it did not exist).
 *
 *-------------------------------------------------------------------------
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "writeset.h"

#define WS_MAX_LEVEL	20
#define WS_BIG_VALUE	2048	/* values above this are malloc'd */
#define WS_BLOCK_FIRST	8192	/* arena blocks double from here... */
#define WS_BLOCK_MAX	(1 << 20)	/* ...up to this */

typedef struct wnode
{
	ts_wentry	e;				/* must be first: ts_wentry * <-> wnode * */
	uint8_t    *slot;			/* arena value space; NULL if none yet */
	uint16_t	vcap;			/* capacity of slot (at most WS_BIG_VALUE) */
	uint8_t		height;			/* forward pointers in next[] */
	uint8_t		external;		/* e.val is malloc'd by this node */
	uint32_t	depth;			/* marks live when the node was created or last
								 * logged (SAVEPOINTS); in what was padding */
	struct wnode *next[];
} wnode;

_Static_assert(WS_BIG_VALUE <= UINT16_MAX, "vcap is 16 bits");

/* An undo record (SAVEPOINTS). */
enum
{
	UNDO_NEW, UNDO_REPLACE
};

typedef struct wundo
{
	wnode	   *n;
	const uint8_t *val;			/* REPLACE: the node's earlier value, slot, ... */
	size_t		vlen;
	uint8_t    *slot;
	uint16_t	vcap;
	uint8_t		external;		/* val is malloc'd and owned by this record */
	uint8_t		kind;
	uint32_t	depth;			/* ... and depth */
} wundo;

/* A live mark: where the undo log and the arena stood when it was taken. */
typedef struct wmark
{
	uint64_t	serial;			/* the caller's handle; increasing along the stack */
	uint64_t	tag;			/* the caller's datum, returned by rollback */
	size_t		nundo;
	struct ablock *blocks;
	char	   *cur;
	size_t		avail;
	size_t		arena_used;
	size_t		next_block;
} wmark;

typedef struct ablock
{
	struct ablock *prev;
	/* 8 bytes of padding keep the data 16-byte aligned */
	uint64_t	pad;
} ablock;

struct ts_wset
{
	wnode	   *head[WS_MAX_LEVEL];	/* forward pointers of the head */
	int			level;			/* levels in use, 1..WS_MAX_LEVEL */
	uint64_t	rng;			/* xorshift64 state, never 0 */
	size_t		count;
	size_t		arena_used;		/* bytes handed out by arena_alloc */
	size_t		external_bytes;	/* sum of vlen of external values */
	size_t		nexternal;		/* number of external values */
	ablock	   *blocks;			/* all arena blocks, newest first */
	char	   *cur;			/* free space of the current block */
	size_t		avail;
	size_t		next_block;		/* size of the next regular block */

	/* savepoints: empty (and unused) until the first mark */
	wmark	   *marks;			/* live marks, oldest first */
	size_t		nmarks,
				marks_cap;
	wundo	   *undo;			/* the undo log, oldest first */
	size_t		nundo,
				undo_cap;
	size_t		undo_bytes;		/* external values owned by undo records */
};

/* Mark handles: unique in the process, so a stale or foreign one is refused. */
static _Atomic uint64_t mark_serial;

/* What an empty (non-tombstone) value points to. */
static const uint8_t ws_empty[1];

/* ---------- arena ---------- */

static void *
arena_alloc(ts_wset *ws, size_t n)
{
	void	   *p;

	n = (n + 7) & ~(size_t) 7;	/* nodes need pointer alignment */
	if (n > ws->avail)
	{
		size_t		bsize;
		ablock	   *b;

		/*
		 * A request too large for a regular block gets a block of its own,
		 * and the current block stays current: its free space is not wasted.
		 */
		int			own = n > ws->next_block / 4;

		bsize = own ? n : ws->next_block;
		if (bsize > SIZE_MAX - sizeof(ablock) ||
			(b = malloc(sizeof(ablock) + bsize)) == NULL)
			return NULL;
		b->prev = ws->blocks;
		ws->blocks = b;
		if (own)
		{
			ws->arena_used += n;
			return b + 1;
		}
		ws->cur = (char *) (b + 1);
		ws->avail = bsize;
		if (ws->next_block < WS_BLOCK_MAX)
			ws->next_block *= 2;
	}
	p = ws->cur;
	ws->cur += n;
	ws->avail -= n;
	ws->arena_used += n;
	return p;
}

/* ---------- set ---------- */

ts_wset *
ts_wset_new(void)
{
	ts_wset    *ws = calloc(1, sizeof(*ws));

	if (ws == NULL)
	{
		ts_error(TS_NOMEM, "write set: out of memory");
		return NULL;
	}
	ws->level = 1;
	ws->rng = 0x9E3779B97F4A7C15ULL;	/* fixed: runs are reproducible */
	ws->next_block = WS_BLOCK_FIRST;
	return ws;
}

void
ts_wset_free(ts_wset *ws)
{
	if (ws == NULL)
		return;
	/* Walk the list only if some value lives outside the arena. */
	for (wnode *n = ws->head[0]; n != NULL && ws->nexternal > 0; n = n->next[0])
		if (n->external)
		{
			free((void *) n->e.val);
			ws->nexternal--;
		}
	for (size_t i = 0; i < ws->nundo; i++)
		if (ws->undo[i].external)
			free((void *) ws->undo[i].val);
	free(ws->undo);
	free(ws->marks);
	while (ws->blocks)
	{
		ablock	   *prev = ws->blocks->prev;

		free(ws->blocks);
		ws->blocks = prev;
	}
	free(ws);
}

static inline int
node_cmp(const wnode *n, uint32_t tree, const void *key, size_t klen)
{
	size_t		m;
	int			c;

	if (n->e.tree != tree)
		return n->e.tree < tree ? -1 : 1;
	m = n->e.klen < klen ? n->e.klen : klen;
	c = m ? memcmp(n->e.key, key, m) : 0;
	if (c != 0)
		return c;
	return n->e.klen < klen ? -1 : n->e.klen > klen;
}

/*
 * The last node < (tree, key), or <= with `inclusive`; NULL for the head.
 * With upd, also the forward-pointer array to update at each level.
 */
static wnode *
find_pred(const ts_wset *ws, uint32_t tree, const void *key, size_t klen,
		  int inclusive, wnode ***upd)
{
	wnode	   *const *x = ws->head;
	wnode	   *pred = NULL;
	const wnode *stop = NULL;	/* known > key: no need to compare again */

	for (int l = ws->level - 1; l >= 0; l--)
	{
		wnode	   *n;

		while ((n = x[l]) != NULL && n != stop)
		{
			int			c = node_cmp(n, tree, key, klen);

			if (c > 0 || (c == 0 && !inclusive))
			{
				stop = n;
				break;
			}
			pred = n;
			x = n->next;
		}
		if (upd)
			upd[l] = (wnode **) x;
	}
	return pred;
}

static inline const wnode *
succ(const ts_wset *ws, const wnode *pred)
{
	return pred ? pred->next[0] : ws->head[0];
}

static inline const ts_wentry *
in_tree(const wnode *n, uint32_t tree)
{
	return n != NULL && n->e.tree == tree ? &n->e : NULL;
}

static int
random_height(ts_wset *ws)
{
	uint64_t	x = ws->rng;
	int			h = 1;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ws->rng = x;
	/* Each further level with probability 1/4: two zero bits per level. */
	while (h < WS_MAX_LEVEL && (x & 3) == 0)
	{
		h++;
		x >>= 2;
	}
	return h;
}

static int
nomem(size_t n)
{
	return ts_error(TS_NOMEM, "write set: out of memory allocating %zu bytes", n);
}

static void
drop_external(ts_wset *ws, wnode *n)
{
	if (n->external)
	{
		ws->external_bytes -= n->e.vlen;
		ws->nexternal--;
		free((void *) n->e.val);
		n->external = 0;
	}
}

/* Replace the value of an existing entry; on failure it is unchanged. */
static int
replace_value(ts_wset *ws, wnode *n, const void *val, size_t vlen)
{
	if (val == NULL)
	{
		drop_external(ws, n);
		n->e.val = NULL;
		n->e.vlen = 0;
		return 0;
	}
	if (vlen > WS_BIG_VALUE)
	{
		uint8_t    *ext = malloc(vlen);

		if (ext == NULL)
			return nomem(vlen);
		memcpy(ext, val, vlen);
		drop_external(ws, n);	/* after the copy: val may point into it */
		n->e.val = ext;
		n->e.vlen = vlen;
		n->external = 1;
		ws->external_bytes += vlen;
		ws->nexternal++;
		return 0;
	}
	if (vlen > n->vcap)
	{
		size_t		cap = (size_t) n->vcap * 2;
		uint8_t    *s;

		if (cap < vlen)
			cap = vlen;
		if (cap > WS_BIG_VALUE)
			cap = WS_BIG_VALUE;
		if ((s = arena_alloc(ws, cap)) == NULL)
			return nomem(cap);
		memcpy(s, val, vlen);
		n->slot = s;
		n->vcap = (uint16_t) cap;
	}
	else if (vlen > 0)
		memmove(n->slot, val, vlen);	/* val may be this very slot */
	drop_external(ws, n);
	n->e.val = vlen ? n->slot : ws_empty;
	n->e.vlen = vlen;
	return 0;
}

/* ---------- savepoints: logging ---------- */

static int
undo_grow(ts_wset *ws)
{
	size_t		ncap = ws->undo_cap ? ws->undo_cap * 2 : 64;
	wundo	   *nu;

	if (ncap > SIZE_MAX / sizeof(wundo) || (nu = realloc(ws->undo, ncap * sizeof(wundo))) == NULL)
		return TS_NOMEM;
	ws->undo = nu;
	ws->undo_cap = ncap;
	return 0;
}

/*
 * Replace the value of a node not yet logged under the newest mark: its
 * current value, slot and depth go to an undo record (which owns them from
 * now on: the slot is never written again, an external value is freed only
 * with the record), and the new value gets fresh space.  The caller has
 * made room in the undo log.  On failure the node is unchanged.
 */
static int
replace_logged(ts_wset *ws, wnode *n, const void *val, size_t vlen)
{
	wundo		u = {n, n->e.val, n->e.vlen, n->slot, n->vcap, n->external, UNDO_REPLACE, n->depth};
	int			rc;

	if (n->external)
	{
		ws->external_bytes -= n->e.vlen;
		ws->nexternal--;
		ws->undo_bytes += n->e.vlen;
	}
	n->external = 0;
	n->slot = NULL;
	n->vcap = 0;
	if ((rc = replace_value(ws, n, val, vlen)) != 0)
	{
		/* unchanged but detached: attach the old value again */
		n->slot = u.slot;
		n->vcap = u.vcap;
		n->external = u.external;
		if (u.external)
		{
			ws->external_bytes += u.vlen;
			ws->nexternal++;
			ws->undo_bytes -= u.vlen;
		}
		return rc;
	}
	n->depth = (uint32_t) ws->nmarks;
	ws->undo[ws->nundo++] = u;
	return 0;
}

int
ts_wset_put(ts_wset *ws, uint32_t tree, const void *key, size_t klen,
			const void *val, size_t vlen)
{
	wnode	  **upd[WS_MAX_LEVEL];
	wnode	   *n;
	uint8_t    *ext = NULL;
	size_t		inline_vlen,
				hdr;
	int			h;

	if (klen > UINT32_MAX)
		return ts_error(TS_INVALID, "write set: key of %zu bytes", klen);
	if (ws->nmarks > 0 && ws->nundo == ws->undo_cap && undo_grow(ws) != 0)
		return nomem(ws->undo_cap * 2 * sizeof(wundo));
	find_pred(ws, tree, key, klen, 0, upd);
	n = upd[0][0];
	if (n != NULL && node_cmp(n, tree, key, klen) == 0)
	{
		if (ws->nmarks == 0 || n->depth == ws->nmarks)
			return replace_value(ws, n, val, vlen);
		return replace_logged(ws, n, val, vlen);
	}

	/* A new node: header, forward pointers, key, small value. */
	inline_vlen = (val != NULL && vlen <= WS_BIG_VALUE) ? vlen : 0;
	if (val != NULL && vlen > WS_BIG_VALUE)
	{
		if ((ext = malloc(vlen)) == NULL)
			return nomem(vlen);
		memcpy(ext, val, vlen);
	}
	h = random_height(ws);
	hdr = offsetof(wnode, next) + (size_t) h * sizeof(wnode *);
	if (klen > SIZE_MAX - hdr - inline_vlen ||
		(n = arena_alloc(ws, hdr + klen + inline_vlen)) == NULL)
	{
		free(ext);
		return nomem(hdr + klen + inline_vlen);
	}
	n->e.tree = tree;
	n->e.klen = (uint32_t) klen;
	n->e.key = (uint8_t *) n + hdr;
	if (klen > 0)
		memcpy((uint8_t *) n->e.key, key, klen);
	n->height = (uint8_t) h;
	n->external = 0;
	n->slot = NULL;
	n->vcap = 0;
	n->depth = (uint32_t) ws->nmarks;
	if (val == NULL)
	{
		n->e.val = NULL;
		n->e.vlen = 0;
	}
	else if (ext != NULL)
	{
		n->e.val = ext;
		n->e.vlen = vlen;
		n->external = 1;
		ws->external_bytes += vlen;
		ws->nexternal++;
	}
	else
	{
		n->slot = (uint8_t *) n + hdr + klen;
		n->vcap = (uint16_t) vlen;
		if (vlen > 0)
			memcpy(n->slot, val, vlen);
		n->e.val = vlen ? n->slot : ws_empty;
		n->e.vlen = vlen;
	}

	/* Link it in, raising the list's level if needed. */
	for (int l = ws->level; l < h; l++)
		upd[l] = ws->head;
	if (h > ws->level)
		ws->level = h;
	for (int l = 0; l < h; l++)
	{
		n->next[l] = upd[l][l];
		upd[l][l] = n;
	}
	ws->count++;
	if (ws->nmarks > 0)
		ws->undo[ws->nundo++] = (wundo) {.n = n, .kind = UNDO_NEW};
	return 0;
}

const ts_wentry *
ts_wset_get(const ts_wset *ws, uint32_t tree, const void *key, size_t klen)
{
	const wnode *n = succ(ws, find_pred(ws, tree, key, klen, 0, NULL));

	return n != NULL && node_cmp(n, tree, key, klen) == 0 ? &n->e : NULL;
}

const ts_wentry *
ts_wset_seek_ge(const ts_wset *ws, uint32_t tree, const void *key, size_t klen)
{
	return in_tree(succ(ws, find_pred(ws, tree, key, klen, 0, NULL)), tree);
}

const ts_wentry *
ts_wset_seek_gt(const ts_wset *ws, uint32_t tree, const void *key, size_t klen)
{
	return in_tree(succ(ws, find_pred(ws, tree, key, klen, 1, NULL)), tree);
}

const ts_wentry *
ts_wset_seek_le(const ts_wset *ws, uint32_t tree, const void *key, size_t klen)
{
	return in_tree(find_pred(ws, tree, key, klen, 1, NULL), tree);
}

const ts_wentry *
ts_wset_seek_lt(const ts_wset *ws, uint32_t tree, const void *key, size_t klen)
{
	return in_tree(find_pred(ws, tree, key, klen, 0, NULL), tree);
}

const ts_wentry *
ts_wset_first(const ts_wset *ws, uint32_t tree)
{
	/* The empty key sorts before every key of the tree. */
	return ts_wset_seek_ge(ws, tree, ws_empty, 0);
}

const ts_wentry *
ts_wset_last(const ts_wset *ws, uint32_t tree)
{
	wnode	   *const *x = ws->head;
	const wnode *pred = NULL;

	/* The last node whose tree is <= tree. */
	for (int l = ws->level - 1; l >= 0; l--)
	{
		wnode	   *n;

		while ((n = x[l]) != NULL && n->e.tree <= tree)
		{
			pred = n;
			x = n->next;
		}
	}
	return in_tree(pred, tree);
}

const ts_wentry *
ts_wset_begin(const ts_wset *ws)
{
	return ws->head[0] ? &ws->head[0]->e : NULL;
}

const ts_wentry *
ts_wset_next(const ts_wset *ws, const ts_wentry *e)
{
	const wnode *n = ((const wnode *) e)->next[0];

	(void) ws;
	return n ? &n->e : NULL;
}

size_t
ts_wset_count(const ts_wset *ws)
{
	return ws->count;
}

size_t
ts_wset_bytes(const ts_wset *ws)
{
	return ws->arena_used + ws->external_bytes + ws->undo_bytes +
		ws->undo_cap * sizeof(wundo) + ws->marks_cap * sizeof(wmark);
}

/* ---------- savepoints: marks, rollback, release ---------- */

int
ts_wset_mark(ts_wset *ws, uint64_t tag, uint64_t *mark)
{
	wmark	   *m;

	if (ws->nmarks == ws->marks_cap)
	{
		size_t		ncap = ws->marks_cap ? ws->marks_cap * 2 : 8;
		wmark	   *nm;

		if (ncap > SIZE_MAX / sizeof(wmark) ||
			(nm = realloc(ws->marks, ncap * sizeof(wmark))) == NULL)
			return nomem(ncap * sizeof(wmark));
		ws->marks = nm;
		ws->marks_cap = ncap;
	}
	if (ws->nmarks >= UINT32_MAX - 1)
		return ts_error(TS_INVALID, "write set: too many savepoints");
	m = &ws->marks[ws->nmarks++];
	m->serial = atomic_fetch_add(&mark_serial, 1) + 1;
	m->tag = tag;
	m->nundo = ws->nundo;
	m->blocks = ws->blocks;
	m->cur = ws->cur;
	m->avail = ws->avail;
	m->arena_used = ws->arena_used;
	m->next_block = ws->next_block;
	*mark = m->serial;
	return 0;
}

/* Index of the live mark `serial`, or -1. */
static ptrdiff_t
mark_find(const ts_wset *ws, uint64_t serial)
{
	size_t		lo = 0,
				hi = ws->nmarks;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (ws->marks[mid].serial < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ws->nmarks && ws->marks[lo].serial == serial ? (ptrdiff_t) lo : -1;
}

static int
bad_mark(uint64_t serial)
{
	return ts_error(TS_INVALID, "savepoint mark %llu is not live in this transaction",
					(unsigned long long) serial);
}

/* Take node n out of the list (it is in it). */
static void
unlink_node(ts_wset *ws, wnode *n)
{
	wnode	  **upd[WS_MAX_LEVEL];

	find_pred(ws, n->e.tree, n->e.key, n->e.klen, 0, upd);
	for (int l = 0; l < n->height; l++)
		if (upd[l][l] == n)
			upd[l][l] = n->next[l];
	drop_external(ws, n);
	ws->count--;
}

int
ts_wset_rollback(ts_wset *ws, uint64_t serial, uint64_t *tag)
{
	ptrdiff_t	i = mark_find(ws, serial);
	wmark	   *m;

	if (i < 0)
		return bad_mark(serial);
	m = &ws->marks[i];

	/* newest first: each record restores the state before its change */
	while (ws->nundo > m->nundo)
	{
		wundo	   *u = &ws->undo[--ws->nundo];
		wnode	   *n = u->n;

		if (u->kind == UNDO_NEW)
		{
			unlink_node(ws, n);
			continue;
		}
		drop_external(ws, n);
		n->e.val = u->val;
		n->e.vlen = u->vlen;
		n->slot = u->slot;
		n->vcap = u->vcap;
		n->external = u->external;
		n->depth = u->depth;
		if (u->external)
		{
			ws->external_bytes += u->vlen;
			ws->nexternal++;
			ws->undo_bytes -= u->vlen;
		}
	}

	/*
	 * Nothing left refers to arena space taken after the mark (nodes made
	 * since are unlinked, nodes changed since have their earlier slots
	 * back): give it back.
	 */
	while (ws->blocks != m->blocks)
	{
		ablock	   *prev = ws->blocks->prev;

		free(ws->blocks);
		ws->blocks = prev;
	}
	ws->cur = m->cur;
	ws->avail = m->avail;
	ws->arena_used = m->arena_used;
	ws->next_block = m->next_block;
	ws->nmarks = (size_t) i + 1;
	if (tag)
		*tag = m->tag;
	return 0;
}

int
ts_wset_release(ts_wset *ws, uint64_t serial)
{
	ptrdiff_t	i = mark_find(ws, serial);
	size_t		from,
				keep;
	uint32_t	top = (uint32_t) (i > 0 ? i : 0);	/* depth once released */

	if (i < 0)
		return bad_mark(serial);
	from = ws->marks[i].nundo;

	/*
	 * The records of the released marks now belong to the mark below, if
	 * any.  It needs a node's earliest record since it was taken; a
	 * REPLACE record of a node created or logged since then (its earlier
	 * depth is that mark's or deeper) is redundant.  Every node with a
	 * record here counts as logged under the new top mark.
	 */
	keep = from;
	for (size_t r = from; r < ws->nundo; r++)
	{
		wundo	   *u = &ws->undo[r];

		u->n->depth = top;
		if (top > 0 && (u->kind == UNDO_NEW || u->depth < top))
		{
			ws->undo[keep++] = *u;
			continue;
		}
		if (u->external)
		{
			ws->undo_bytes -= u->vlen;
			free((void *) u->val);
		}
	}
	ws->nundo = keep;
	ws->nmarks = (size_t) i;
	if (ws->nmarks == 0)
	{
		/* no mark left: stop logging and give the log back */
		free(ws->undo);
		free(ws->marks);
		ws->undo = NULL;
		ws->marks = NULL;
		ws->undo_cap = ws->marks_cap = 0;
	}
	return 0;
}

size_t
ts_wset_marks(const ts_wset *ws)
{
	return ws->nmarks;
}
