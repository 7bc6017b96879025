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
 *	  - Nodes are never unlinked or moved, so ts_wentry pointers (the entry
 *	    is a node's first member) are stable until the set is freed.
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
 *-------------------------------------------------------------------------
 */
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
	uint32_t	vcap;			/* capacity of slot */
	uint8_t		height;			/* forward pointers in next[] */
	uint8_t		external;		/* e.val is malloc'd by this node */
	struct wnode *next[];
} wnode;

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
};

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
		n->vcap = (uint32_t) cap;
	}
	else if (vlen > 0)
		memmove(n->slot, val, vlen);	/* val may be this very slot */
	drop_external(ws, n);
	n->e.val = vlen ? n->slot : ws_empty;
	n->e.vlen = vlen;
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
	find_pred(ws, tree, key, klen, 0, upd);
	n = upd[0][0];
	if (n != NULL && node_cmp(n, tree, key, klen) == 0)
		return replace_value(ws, n, val, vlen);

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
		n->vcap = (uint32_t) vlen;
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
	return ws->arena_used + ws->external_bytes;
}
