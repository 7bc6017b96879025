/*-------------------------------------------------------------------------
 *
 * docindex.c
 *	  Secondary indexes of nodes, versions and cross_references, kept in the
 *	  writer's transaction, and the queries they answer (docindex.h).
 *
 *	  The index trees (key tuples as in treestore.h; P policy, V version):
 *	    nodes#children  (P, V, parent | NULL, ordinal, node_id) -> ""
 *	                    every node, by parent then sibling order (ordinal,
 *	                    NULL as 0, then node_id)
 *	    nodes#order     (P, V) ++ path -> varint level, node_id
 *	    nodes#paths     (P, V, node_id) -> path
 *	                    a node's path is its ancestors' and its own
 *	                    elements, top first; an element is the ordinal
 *	                    (order-preserving, 1 byte below 230) and the node_id
 *	                    as a text field.  Bytewise order of (P, V) ++ path is
 *	                    document order (pre-order), and a subtree is the key
 *	                    range of its root's path as a prefix.
 *	    nodes#pages     (P, V, 0, page, node_id) -> ""  for each page of a
 *	                    range of fewer than NARROW_PAGES pages;
 *	                    (P, V, 1, page_start, node_id) -> page_end  for wider
 *	    nodes#terms     (P, V, node_id) -> the node's terms (docindex.h)
 *	    nodes#vmeta     (P, V) -> nodes, total term count, unplaced (3 x i64)
 *	    search#postings (P, V, term, first node_id) -> a chunk of the
 *	                    term's posting list: varint n, then n entries sorted
 *	                    by node_id: varint length, node_id, varint title
 *	                    count, varint body count, varint node length.  The
 *	                    chunks split the node_ids into ranges, each keyed by
 *	                    its first; a chunk past CHUNK_MAX entries is split,
 *	                    so a write rewrites a few KB, not the whole list
 *	                    (the version first: storing a document writes a
 *	                    few neighbouring pages, not a page per term all over
 *	                    the tree; a search across policies probes each
 *	                    resolved version, which also skips the others)
 *	    versions#by_date (P, effective_from | NULL, V) -> effective_to
 *	                    (4 bytes) or "" (open)
 *	    cross_references#incoming (target P, target node, source P, source
 *	                    node, type) -> ""
 *
 *	  Invariants:
 *	  1. A node has an order/paths entry ("is placed") iff its parent chain
 *	     reaches the top level through existing nodes and its path fits in
 *	     a key.  vmeta.unplaced counts the version's other nodes; a version
 *	     with unplaced == 0 is "regular": its order index holds every node,
 *	     and subtree, ancestors, pages and top-level children are answered
 *	     from the indexes.  Otherwise the caller falls back to the rows.
 *	  2. Placing a node places its unplaced descendants (iteratively), and
 *	     removing or moving it unplaces its placed descendants: a node is
 *	     placed at most once, so a parent cycle is never walked forever.
 *	  3. Postings and vmeta are changed through a batch: collected per row,
 *	     merged once per key at ts_docindex_flush, so a posting list is
 *	     rewritten once per batch, not once per node.
 *	  4. Nothing here recurses: deep trees cost memory, not stack.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "docindex.h"

#define NARROW_PAGES 32
#define BM25_K1 1.2
#define BM25_B 0.75
#define TITLE_WEIGHT 3
/* posting-list chunks: split past CHUNK_MAX entries into CHUNK_SPLIT */
#define CHUNK_MAX 512
#define CHUNK_SPLIT 256

/* nodes columns (checked at open) */
#define N_PARENT 3
#define N_ORDINAL 4
#define N_START 8
#define N_END 9
/* versions columns */
#define V_FROM 2
#define V_TO 3

/* ---------- small helpers ---------- */

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static void
put_le64(uint8_t *p, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) ((uint64_t) v >> (8 * i));
}

static int64_t
get_le64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return (int64_t) v;
}

static int
bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static void
kb_raw(ts_keybuf *kb, const uint8_t *d, size_t n)
{
	if (kb->len + n > TS_MAX_KEY)
	{
		kb->overflow = 1;
		return;
	}
	memcpy(kb->buf + kb->len, d, n);
	kb->len += n;
}

static void
kb_pv(ts_keybuf *kb, const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen)
{
	ts_key_init(kb);
	ts_key_add_text(kb, p, plen);
	ts_key_add_text(kb, v, vlen);
}

static void
kb_pvid(ts_keybuf *kb, const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
		const uint8_t *id, size_t idlen)
{
	kb_pv(kb, p, plen, v, vlen);
	ts_key_add_text(kb, id, idlen);
}

static int
del_ok(int rc)
{
	return rc == TS_NOTFOUND ? 0 : rc;
}

/* A growable array of byte strings, in one arena. */
typedef struct StrList
{
	ts_buf		arena;
	size_t	   *off;
	size_t	   *len;
	uint32_t   *aux;
	size_t		n,
				cap;
} StrList;

static int
sl_add(StrList *l, const uint8_t *d, size_t n, uint32_t aux)
{
	if (l->n == l->cap)
	{
		size_t		cap = l->cap ? l->cap * 2 : 64;
		size_t	   *o = realloc(l->off, cap * sizeof(size_t));

		if (!o)
			return TS_NOMEM;
		l->off = o;
		o = realloc(l->len, cap * sizeof(size_t));
		if (!o)
			return TS_NOMEM;
		l->len = o;
		uint32_t   *a = realloc(l->aux, cap * sizeof(uint32_t));

		if (!a)
			return TS_NOMEM;
		l->aux = a;
		l->cap = cap;
	}
	l->off[l->n] = l->arena.len;
	l->len[l->n] = n;
	l->aux[l->n] = aux;
	if (ts_buf_append(&l->arena, d, n) != 0)
		return TS_NOMEM;
	l->n++;
	return 0;
}

static const uint8_t *
sl_get(const StrList *l, size_t i)
{
	return l->arena.data + l->off[i];
}

static void
sl_free(StrList *l)
{
	ts_buf_free(&l->arena);
	free(l->off);
	free(l->len);
	free(l->aux);
	memset(l, 0, sizeof(*l));
}

/* ---------- opening ---------- */

static int
open_tree(ts_txn *txn, const char *name, ts_tree *t)
{
	int			rc = ts_tree_open(txn, name, 0, t);

	/* a reader (read-only transaction) only finds them */
	return rc == TS_NOTFOUND ? ts_tree_open(txn, name, TS_CREATE, t) : rc;
}

int
ts_docindex_open(ts_txn *txn, ts_docindex *ix)
{
	const ts_store *n,
			   *v;
	int			rc;

	memset(ix, 0, sizeof(*ix));
	ix->st_nodes = ix->st_versions = ix->st_xrefs = -1;
	for (int i = 0; i < ts_nstores; i++)
	{
		if (strcmp(ts_stores[i].name, "nodes") == 0)
			ix->st_nodes = i;
		else if (strcmp(ts_stores[i].name, "versions") == 0)
			ix->st_versions = i;
		else if (strcmp(ts_stores[i].name, "cross_references") == 0)
			ix->st_xrefs = i;
	}
	if (ix->st_nodes < 0 || ix->st_versions < 0 || ix->st_xrefs < 0)
		return TS_INVALID;
	n = &ts_stores[ix->st_nodes];
	v = &ts_stores[ix->st_versions];
	if (ts_store_colno(n, "parent_id") != N_PARENT || ts_store_colno(n, "ordinal") != N_ORDINAL ||
		ts_store_colno(n, "page_start") != N_START || ts_store_colno(n, "page_end") != N_END ||
		ts_store_colno(v, "effective_from") != V_FROM || ts_store_colno(v, "effective_to") != V_TO ||
		ts_stores[ix->st_xrefs].nkeys != 5)
		return TS_INVALID;
	if ((rc = open_tree(txn, "nodes", &ix->nodes)) != 0 ||
		(rc = open_tree(txn, "versions", &ix->versions)) != 0 ||
		(rc = open_tree(txn, "cross_references", &ix->xrefs)) != 0 ||
		(rc = open_tree(txn, "nodes#children", &ix->children)) != 0 ||
		(rc = open_tree(txn, "nodes#order", &ix->order)) != 0 ||
		(rc = open_tree(txn, "nodes#paths", &ix->paths)) != 0 ||
		(rc = open_tree(txn, "nodes#pages", &ix->pages)) != 0 ||
		(rc = open_tree(txn, "nodes#terms", &ix->terms)) != 0 ||
		(rc = open_tree(txn, "nodes#vmeta", &ix->vmeta)) != 0 ||
		(rc = open_tree(txn, "search#postings", &ix->postings)) != 0 ||
		(rc = open_tree(txn, "versions#by_date", &ix->by_date)) != 0 ||
		(rc = open_tree(txn, "cross_references#incoming", &ix->xref_in)) != 0 ||
		(rc = open_tree(txn, "docindex#meta", &ix->meta)) != 0)
		return rc;
	return 0;
}

#define FORMAT_KEY "format"
#define FORMAT_VALUE "1"

static int
tree_empty(ts_txn *txn, ts_tree t, int *empty)
{
	ts_cursor  *c;
	int			rc;

	if ((rc = ts_cursor_open(txn, t, &c)) != 0)
		return rc;
	rc = ts_cursor_first(c);
	ts_cursor_close(c);
	if (rc != 0 && rc != TS_NOTFOUND)
		return rc;
	*empty = rc == TS_NOTFOUND;
	return 0;
}

int
ts_docindex_rebuild_needed(ts_txn *txn, const ts_docindex *ix)
{
	ts_slice	v;
	int			rc = ts_get(txn, ix->meta, FORMAT_KEY, strlen(FORMAT_KEY), &v);
	int			e1,
				e2,
				e3;

	if (rc == 0)
		return 0;
	if (rc != TS_NOTFOUND)
		return rc;
	if ((rc = tree_empty(txn, ix->nodes, &e1)) != 0 ||
		(rc = tree_empty(txn, ix->versions, &e2)) != 0 ||
		(rc = tree_empty(txn, ix->xrefs, &e3)) != 0)
		return rc;
	if (!(e1 && e2 && e3))
		return 1;
	/* new tables: the indexes are built as the rows come */
	rc = ts_put(txn, ix->meta, FORMAT_KEY, strlen(FORMAT_KEY), FORMAT_VALUE, strlen(FORMAT_VALUE), 0);
	return rc;
}

/* Report every row of table st as inserted. */
static int
rebuild_table(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b, ts_tree t, int st,
			  uint64_t *rows)
{
	ts_cursor  *c;
	int			rc;
	StrList		keys = {0};
	size_t		done = 0;

	/* keys first: the index writes must not run under an open cursor */
	if ((rc = ts_cursor_open(txn, t, &c)) != 0)
		return rc;
	for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
	{
		ts_slice	k,
					v;

		if ((rc = ts_cursor_get(c, &k, &v)) != 0 || (rc = sl_add(&keys, k.data, k.len, 0)) != 0)
			break;
	}
	ts_cursor_close(c);
	if (rc == TS_NOTFOUND)
		rc = 0;
	for (size_t i = 0; i < keys.n && rc == 0; i++)
	{
		ts_slice	v;
		uint8_t    *copy;

		if ((rc = ts_get(txn, t, sl_get(&keys, i), keys.len[i], &v)) != 0)
			break;
		if (!(copy = malloc(v.len ? v.len : 1)))
		{
			rc = TS_NOMEM;
			break;
		}
		memcpy(copy, v.data, v.len);
		rc = ts_docindex_changed(txn, ix, b, st, NULL, 0, NULL, 0,
								 sl_get(&keys, i), keys.len[i], copy, v.len, NULL, 0);
		free(copy);
		if (rc == 0 && ++done % 1000 == 0)
			rc = ts_docindex_flush(txn, ix, b);
	}
	if (rc == 0)
		rc = ts_docindex_flush(txn, ix, b);
	*rows = keys.n;
	sl_free(&keys);
	return rc;
}

int
ts_docindex_rebuild(ts_txn *txn, const ts_docindex *ix, uint64_t *nodes_without_terms)
{
	ts_docindex_batch *b = ts_docindex_batch_new();
	uint64_t	n = 0,
				ignored;
	int			rc;

	if (!b)
		return TS_NOMEM;
	*nodes_without_terms = 0;
	if ((rc = ts_docindex_truncate(txn, ix, ix->st_nodes)) != 0 ||
		(rc = ts_docindex_truncate(txn, ix, ix->st_versions)) != 0 ||
		(rc = ts_docindex_truncate(txn, ix, ix->st_xrefs)) != 0 ||
		(rc = rebuild_table(txn, ix, b, ix->nodes, ix->st_nodes, &n)) != 0 ||
		(rc = rebuild_table(txn, ix, b, ix->versions, ix->st_versions, &ignored)) != 0 ||
		(rc = rebuild_table(txn, ix, b, ix->xrefs, ix->st_xrefs, &ignored)) != 0)
		goto done;
	*nodes_without_terms = n;
	rc = ts_put(txn, ix->meta, FORMAT_KEY, strlen(FORMAT_KEY), FORMAT_VALUE, strlen(FORMAT_VALUE), 0);
done:
	ts_docindex_batch_free(b);
	return rc;
}

int
ts_docindex_indexed(const ts_docindex *ix, int st)
{
	return st == ix->st_nodes || st == ix->st_versions || st == ix->st_xrefs;
}

/* ---------- the batch ---------- */

typedef struct PChange
{
	size_t		key_off,
				key_len;		/* (term, P, V) in arena */
	size_t		id_off,
				id_len;
	uint64_t	seq;
	int			add;
	uint32_t	tft,
				tfb,
				dl;
} PChange;

typedef struct MDelta
{
	uint8_t		key[TS_MAX_KEY];
	size_t		klen;
	int64_t		dn,
				dlen,
				dun;
} MDelta;

struct ts_docindex_batch
{
	ts_buf		arena;
	PChange    *ch;
	size_t		nch,
				capch;
	MDelta	   *md;
	size_t		nmd,
				capmd;
};

ts_docindex_batch *
ts_docindex_batch_new(void)
{
	return calloc(1, sizeof(ts_docindex_batch));
}

void
ts_docindex_discard(ts_docindex_batch *b)
{
	b->arena.len = 0;
	b->nch = 0;
	b->nmd = 0;
}

void
ts_docindex_batch_free(ts_docindex_batch *b)
{
	if (!b)
		return;
	ts_buf_free(&b->arena);
	free(b->ch);
	free(b->md);
	free(b);
}

static int
meta_delta(ts_docindex_batch *b, const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
		   int64_t dn, int64_t dlen, int64_t dun)
{
	ts_keybuf	kb;
	MDelta	   *m = NULL;

	kb_pv(&kb, p, plen, v, vlen);
	if (kb.overflow)
		return TS_KEY_TOO_BIG;
	/* a batch usually touches one version: look from the end */
	for (size_t i = b->nmd; i-- > 0;)
		if (b->md[i].klen == kb.len && memcmp(b->md[i].key, kb.buf, kb.len) == 0)
		{
			m = &b->md[i];
			break;
		}
	if (!m)
	{
		if (b->nmd == b->capmd)
		{
			size_t		cap = b->capmd ? b->capmd * 2 : 4;
			MDelta	   *n = realloc(b->md, cap * sizeof(MDelta));

			if (!n)
				return TS_NOMEM;
			b->md = n;
			b->capmd = cap;
		}
		m = &b->md[b->nmd++];
		memcpy(m->key, kb.buf, kb.len);
		m->klen = kb.len;
		m->dn = m->dlen = m->dun = 0;
	}
	m->dn += dn;
	m->dlen += dlen;
	m->dun += dun;
	return 0;
}

static int
posting_change(ts_docindex_batch *b, const uint8_t *key, size_t klen,
			   const uint8_t *id, size_t idlen, int add, uint32_t tft, uint32_t tfb, uint32_t dl)
{
	PChange    *c;

	if (b->nch == b->capch)
	{
		size_t		cap = b->capch ? b->capch * 2 : 1024;
		PChange    *n = realloc(b->ch, cap * sizeof(PChange));

		if (!n)
			return TS_NOMEM;
		b->ch = n;
		b->capch = cap;
	}
	c = &b->ch[b->nch];
	c->key_off = b->arena.len;
	c->key_len = klen;
	if (ts_buf_append(&b->arena, key, klen) != 0)
		return TS_NOMEM;
	c->id_off = b->arena.len;
	c->id_len = idlen;
	if (ts_buf_append(&b->arena, id, idlen) != 0)
		return TS_NOMEM;
	c->seq = b->nch;
	c->add = add;
	c->tft = tft;
	c->tfb = tfb;
	c->dl = dl;
	b->nch++;
	return 0;
}

/* ---------- terms ---------- */

typedef struct TermIter
{
	const uint8_t *d;
	size_t		len,
				pos;
	uint32_t	n,
				i;
} TermIter;

static int
terms_begin(TermIter *it, const uint8_t *d, size_t len)
{
	it->d = d;
	it->len = len;
	it->pos = 0;
	it->i = 0;
	it->n = 0;
	if (len == 0)
		return 0;
	return ts_varint_get(d, len, &it->pos, &it->n);
}

/* 1: a term, 0: the end, < 0: malformed */
static int
terms_next(TermIter *it, const uint8_t **term, size_t *tlen, uint32_t *tft, uint32_t *tfb)
{
	uint32_t	l;

	if (it->i >= it->n)
		return 0;
	if (ts_varint_get(it->d, it->len, &it->pos, &l) != 0 || it->len - it->pos < l)
		return TS_CORRUPT;
	*term = it->d + it->pos;
	*tlen = l;
	it->pos += l;
	if (ts_varint_get(it->d, it->len, &it->pos, tft) != 0 ||
		ts_varint_get(it->d, it->len, &it->pos, tfb) != 0)
		return TS_CORRUPT;
	it->i++;
	return 1;
}

static int
terms_length(const uint8_t *d, size_t len, uint32_t *dl)
{
	TermIter	it;
	const uint8_t *t;
	size_t		tl;
	uint32_t	a,
				b;
	int			r;
	uint64_t	sum = 0;

	if ((r = terms_begin(&it, d, len)) != 0)
		return r;
	while ((r = terms_next(&it, &t, &tl, &a, &b)) == 1)
		sum += (uint64_t) a + b;
	*dl = sum > UINT32_MAX ? UINT32_MAX : (uint32_t) sum;
	return r;
}

static int
terms_changes(ts_docindex_batch *b, const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
			  const uint8_t *id, size_t idlen, const uint8_t *terms, size_t tlen, int add)
{
	TermIter	it;
	const uint8_t *t;
	size_t		tl;
	uint32_t	a,
				bb,
				dl;
	int			r;

	if ((r = terms_length(terms, tlen, &dl)) != 0)
		return r;
	if ((r = terms_begin(&it, terms, tlen)) != 0)
		return r;
	while ((r = terms_next(&it, &t, &tl, &a, &bb)) == 1)
	{
		ts_keybuf	kb;

		kb_pv(&kb, p, plen, v, vlen);
		ts_key_add_text(&kb, t, tl);
		if (kb.overflow)
			continue;			/* a lexeme too long for a key is not indexed */
		if ((r = posting_change(b, kb.buf, kb.len, id, idlen, add, a, bb, dl)) != 0)
			return r;
	}
	if (r < 0)
		return r;
	return meta_delta(b, p, plen, v, vlen, add ? 1 : -1, add ? (int64_t) dl : -(int64_t) dl, 0);
}

/* ---------- rows ---------- */

typedef struct NodeRow
{
	ts_colval	c[TS_STORE_MAX_COLS];
	uint8_t		scratch[TS_MAX_KEY];
} NodeRow;

static int
decode_row(const ts_store *s, const uint8_t *key, size_t klen, const uint8_t *rec, size_t rlen,
		   NodeRow *r)
{
	int			rc;

	memset(r->c, 0, sizeof(r->c));
	if ((rc = ts_store_key_decode(s, key, klen, r->c, r->scratch, sizeof(r->scratch))) != 0)
		return rc;
	return ts_rec_decode(s, rec, rlen, r->c);
}

static int32_t
node_ordinal(const NodeRow *r)
{
	return r->c[N_ORDINAL].isnull ? 0 : (int32_t) r->c[N_ORDINAL].i;
}

/* ---------- paths ---------- */

static size_t
ord_encode(int32_t ord, uint8_t *out)
{
	if (ord < 0)
	{
		out[0] = 0;
		put_be32(out + 1, (uint32_t) ord);
		return 5;
	}
	if (ord < 230)
	{
		out[0] = (uint8_t) (ord + 1);
		return 1;
	}
	if (ord < 230 + 65536)
	{
		out[0] = 0xE7;
		out[1] = (uint8_t) ((ord - 230) >> 8);
		out[2] = (uint8_t) (ord - 230);
		return 3;
	}
	out[0] = 0xE8;
	put_be32(out + 1, (uint32_t) ord);
	return 5;
}

/* Append an element to path[*len]; 0, or TS_KEY_TOO_BIG past cap. */
static int
path_append(uint8_t *path, size_t *len, size_t cap, int32_t ord, const uint8_t *id, size_t idlen)
{
	uint8_t		o[5];
	size_t		ol = ord_encode(ord, o);
	ts_keybuf	kb;

	ts_key_init(&kb);
	ts_key_add_text(&kb, id, idlen);
	if (kb.overflow || *len + ol + kb.len > cap)
		return TS_KEY_TOO_BIG;
	memcpy(path + *len, o, ol);
	memcpy(path + *len + ol, kb.buf, kb.len);
	*len += ol + kb.len;
	return 0;
}

/* Next element's node_id (into scratch); 1: one, 0: end, < 0: malformed. */
static int
path_next(const uint8_t *path, size_t len, size_t *pos, ts_field *f, uint8_t *scratch, size_t cap)
{
	uint8_t		b;

	if (*pos >= len)
		return 0;
	b = path[*pos];
	*pos += (b == 0 || b == 0xE8) ? 5 : b == 0xE7 ? 3 : 1;
	if (*pos > len || ts_key_next_field(path, len, pos, f, scratch, cap) != 0 ||
		f->type != TS_FIELD_TEXT)
		return TS_CORRUPT;
	return 1;
}

static int
path_level(const uint8_t *path, size_t len, uint32_t *level)
{
	size_t		pos = 0;
	ts_field	f;
	uint8_t		scratch[TS_MAX_KEY];
	int			r;

	*level = 0;
	while ((r = path_next(path, len, &pos, &f, scratch, sizeof(scratch))) == 1)
		(*level)++;
	return r;
}

/* Copy a node's path; TS_NOTFOUND when it is not placed. */
static int
get_path(ts_txn *txn, const ts_docindex *ix, const uint8_t *p, size_t plen,
		 const uint8_t *v, size_t vlen, const uint8_t *id, size_t idlen,
		 uint8_t *out, size_t *outlen)
{
	ts_keybuf	kb;
	ts_slice	val;
	int			rc;

	kb_pvid(&kb, p, plen, v, vlen, id, idlen);
	if (kb.overflow)
		return TS_NOTFOUND;
	if ((rc = ts_get(txn, ix->paths, kb.buf, kb.len, &val)) != 0)
		return rc;
	if (val.len > TS_MAX_KEY)
		return TS_CORRUPT;
	memcpy(out, val.data, val.len);
	*outlen = val.len;
	return 0;
}

/* The children of (P, V, parent) as (node_id, ordinal): parent NULL = top. */
static int
list_children(ts_txn *txn, const ts_docindex *ix, const uint8_t *p, size_t plen,
			  const uint8_t *v, size_t vlen, const uint8_t *parent, size_t parent_len,
			  StrList *out)
{
	ts_keybuf	kb;
	ts_cursor  *c;
	int			rc;

	kb_pv(&kb, p, plen, v, vlen);
	if (parent)
		ts_key_add_text(&kb, parent, parent_len);
	else
		ts_key_add_null(&kb);
	if (kb.overflow)
		return 0;
	if ((rc = ts_cursor_open(txn, ix->children, &c)) != 0)
		return rc;
	if ((rc = ts_cursor_prefix(c, kb.buf, kb.len)) == 0)
	{
		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						val;
			size_t		pos = kb.len;
			ts_field	fo,
						fi;
			uint8_t		scratch[TS_MAX_KEY];

			if ((rc = ts_cursor_get(c, &k, &val)) != 0)
				break;
			if (ts_key_next_field(k.data, k.len, &pos, &fo, scratch, sizeof(scratch)) != 0 ||
				fo.type != TS_FIELD_INT64 ||
				ts_key_next_field(k.data, k.len, &pos, &fi, scratch, sizeof(scratch)) != 0 ||
				fi.type != TS_FIELD_TEXT)
			{
				rc = TS_CORRUPT;
				break;
			}
			if ((rc = sl_add(out, fi.data, fi.len, (uint32_t) (int32_t) fo.i)) != 0)
				break;
		}
	}
	ts_cursor_close(c);
	return rc == TS_NOTFOUND ? 0 : rc;
}

static int
put_placed(ts_txn *txn, const ts_docindex *ix, const uint8_t *p, size_t plen,
		   const uint8_t *v, size_t vlen, const uint8_t *id, size_t idlen,
		   const uint8_t *path, size_t pathlen, uint32_t level)
{
	ts_keybuf	kb;
	ts_buf		val = {0};
	int			rc;

	kb_pv(&kb, p, plen, v, vlen);
	kb_raw(&kb, path, pathlen);
	if (kb.overflow)
		return TS_KEY_TOO_BIG;
	if (ts_varint_put(&val, level) != 0 || ts_buf_append(&val, id, idlen) != 0)
	{
		ts_buf_free(&val);
		return TS_NOMEM;
	}
	rc = ts_put(txn, ix->order, kb.buf, kb.len, val.data, val.len, 0);
	ts_buf_free(&val);
	if (rc != 0)
		return rc;
	kb_pvid(&kb, p, plen, v, vlen, id, idlen);
	if (kb.overflow)
		return TS_KEY_TOO_BIG;
	return ts_put(txn, ix->paths, kb.buf, kb.len, path, pathlen, 0);
}

/*
 * Place node id (not placed yet) at path, then every unplaced descendant
 * that now reaches the top level.  Each descendant placed lowers unplaced.
 */
static int
place(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b,
	  const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
	  const uint8_t *id, size_t idlen, const uint8_t *path, size_t pathlen)
{
	StrList		todo = {0};		/* node_id; aux = offset of its path in paths */
	StrList		paths = {0};
	size_t		prefix;
	ts_keybuf	kb;
	int			rc;
	uint32_t	level;

	kb_pv(&kb, p, plen, v, vlen);
	prefix = kb.len;
	if ((rc = path_level(path, pathlen, &level)) != 0 ||
		(rc = sl_add(&todo, id, idlen, 0)) != 0 ||
		(rc = sl_add(&paths, path, pathlen, level)) != 0)
		goto done;
	while (todo.n > 0)
	{
		size_t		i = todo.n - 1;
		uint8_t		nid[TS_MAX_KEY],
					npath[TS_MAX_KEY];
		size_t		nidlen = todo.len[i],
					npathlen = paths.len[i];
		uint32_t	nlevel = paths.aux[i];
		StrList		kids = {0};

		memcpy(nid, sl_get(&todo, i), nidlen);
		memcpy(npath, sl_get(&paths, i), npathlen);
		todo.n--;
		paths.n--;
		todo.arena.len = todo.off[i];
		paths.arena.len = paths.off[i];
		if ((rc = put_placed(txn, ix, p, plen, v, vlen, nid, nidlen, npath, npathlen, nlevel)) != 0)
			goto done;
		if ((rc = list_children(txn, ix, p, plen, v, vlen, nid, nidlen, &kids)) != 0)
		{
			sl_free(&kids);
			goto done;
		}
		for (size_t k = 0; k < kids.n; k++)
		{
			uint8_t		cpath[TS_MAX_KEY],
						tmp[TS_MAX_KEY];
			size_t		cpathlen = npathlen,
						tl;

			rc = get_path(txn, ix, p, plen, v, vlen, sl_get(&kids, k), kids.len[k], tmp, &tl);
			if (rc == 0)
				continue;		/* placed already (cannot be: see invariant 2) */
			if (rc != TS_NOTFOUND)
				break;
			rc = 0;
			memcpy(cpath, npath, npathlen);
			if (path_append(cpath, &cpathlen, TS_MAX_KEY - prefix, (int32_t) kids.aux[k],
							sl_get(&kids, k), kids.len[k]) != 0)
				continue;		/* too deep for a key: stays unplaced */
			if ((rc = sl_add(&todo, sl_get(&kids, k), kids.len[k], 0)) != 0 ||
				(rc = sl_add(&paths, cpath, cpathlen, nlevel + 1)) != 0 ||
				(rc = meta_delta(b, p, plen, v, vlen, 0, 0, -1)) != 0)
				break;
		}
		sl_free(&kids);
		if (rc != 0)
			goto done;
	}
done:
	sl_free(&todo);
	sl_free(&paths);
	return rc;
}

/* Unplace node id (placed) and its placed descendants; each descendant raises unplaced. */
static int
unplace(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b,
		const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
		const uint8_t *id, size_t idlen)
{
	StrList		todo = {0};
	int			rc;
	int			first = 1;

	if ((rc = sl_add(&todo, id, idlen, 0)) != 0)
		goto done;
	while (todo.n > 0)
	{
		size_t		i = todo.n - 1;
		uint8_t		nid[TS_MAX_KEY],
					path[TS_MAX_KEY];
		size_t		nidlen = todo.len[i],
					pathlen;
		ts_keybuf	kb;
		StrList		kids = {0};

		memcpy(nid, sl_get(&todo, i), nidlen);
		todo.n--;
		todo.arena.len = todo.off[i];
		rc = get_path(txn, ix, p, plen, v, vlen, nid, nidlen, path, &pathlen);
		if (rc == TS_NOTFOUND)
		{
			rc = 0;
			continue;
		}
		if (rc != 0)
			goto done;
		kb_pv(&kb, p, plen, v, vlen);
		kb_raw(&kb, path, pathlen);
		if (!kb.overflow && (rc = del_ok(ts_del(txn, ix->order, kb.buf, kb.len))) != 0)
			goto done;
		kb_pvid(&kb, p, plen, v, vlen, nid, nidlen);
		if ((rc = del_ok(ts_del(txn, ix->paths, kb.buf, kb.len))) != 0)
			goto done;
		if (!first && (rc = meta_delta(b, p, plen, v, vlen, 0, 0, 1)) != 0)
			goto done;
		first = 0;
		if ((rc = list_children(txn, ix, p, plen, v, vlen, nid, nidlen, &kids)) != 0)
		{
			sl_free(&kids);
			goto done;
		}
		for (size_t k = 0; k < kids.n && rc == 0; k++)
			rc = sl_add(&todo, sl_get(&kids, k), kids.len[k], 0);
		sl_free(&kids);
		if (rc != 0)
			goto done;
	}
done:
	sl_free(&todo);
	return rc;
}

/* ---------- node maintenance ---------- */

static int
children_key(ts_keybuf *kb, const NodeRow *r)
{
	kb_pv(kb, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len);
	if (r->c[N_PARENT].isnull)
		ts_key_add_null(kb);
	else
		ts_key_add_text(kb, r->c[N_PARENT].data, r->c[N_PARENT].len);
	ts_key_add_int64(kb, node_ordinal(r));
	ts_key_add_text(kb, r->c[2].data, r->c[2].len);
	return kb->overflow ? TS_KEY_TOO_BIG : 0;
}

static int
structure_add(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b, const NodeRow *r)
{
	const uint8_t *p = r->c[0].data,
			   *v = r->c[1].data,
			   *id = r->c[2].data;
	size_t		plen = r->c[0].len,
				vlen = r->c[1].len,
				idlen = r->c[2].len;
	ts_keybuf	kb;
	uint8_t		path[TS_MAX_KEY];
	size_t		pathlen = 0;
	int			rc;

	if ((rc = children_key(&kb, r)) != 0)
		return rc;
	if ((rc = ts_put(txn, ix->children, kb.buf, kb.len, "", 0, 0)) != 0)
		return rc;
	kb_pv(&kb, p, plen, v, vlen);
	if (!r->c[N_PARENT].isnull)
	{
		rc = get_path(txn, ix, p, plen, v, vlen, r->c[N_PARENT].data, r->c[N_PARENT].len,
					  path, &pathlen);
		if (rc == TS_NOTFOUND)
			return meta_delta(b, p, plen, v, vlen, 0, 0, 1);
		if (rc != 0)
			return rc;
	}
	if (path_append(path, &pathlen, TS_MAX_KEY - kb.len, node_ordinal(r), id, idlen) != 0)
		return meta_delta(b, p, plen, v, vlen, 0, 0, 1);
	return place(txn, ix, b, p, plen, v, vlen, id, idlen, path, pathlen);
}

static int
structure_remove(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b, const NodeRow *r)
{
	const uint8_t *p = r->c[0].data,
			   *v = r->c[1].data,
			   *id = r->c[2].data;
	size_t		plen = r->c[0].len,
				vlen = r->c[1].len,
				idlen = r->c[2].len;
	ts_keybuf	kb;
	uint8_t		path[TS_MAX_KEY];
	size_t		pathlen;
	int			rc;

	if ((rc = children_key(&kb, r)) != 0)
		return rc;
	if ((rc = del_ok(ts_del(txn, ix->children, kb.buf, kb.len))) != 0)
		return rc;
	rc = get_path(txn, ix, p, plen, v, vlen, id, idlen, path, &pathlen);
	if (rc == TS_NOTFOUND)
		return meta_delta(b, p, plen, v, vlen, 0, 0, -1);
	if (rc != 0)
		return rc;
	return unplace(txn, ix, b, p, plen, v, vlen, id, idlen);
}

static int
pages_write(ts_txn *txn, const ts_docindex *ix, const NodeRow *r, int add)
{
	int32_t		start,
				end;
	ts_keybuf	kb;
	int			rc;

	if (r->c[N_START].isnull)
		return 0;
	start = (int32_t) r->c[N_START].i;
	end = r->c[N_END].isnull ? start : (int32_t) r->c[N_END].i;
	if (end < start)
		return 0;
	if ((int64_t) end - start < NARROW_PAGES)
	{
		for (int64_t pg = start; pg <= end; pg++)
		{
			kb_pv(&kb, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len);
			ts_key_add_int64(&kb, 0);
			ts_key_add_int64(&kb, pg);
			ts_key_add_text(&kb, r->c[2].data, r->c[2].len);
			if (kb.overflow)
				return TS_KEY_TOO_BIG;
			rc = add ? ts_put(txn, ix->pages, kb.buf, kb.len, "", 0, 0)
				: del_ok(ts_del(txn, ix->pages, kb.buf, kb.len));
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	kb_pv(&kb, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len);
	ts_key_add_int64(&kb, 1);
	ts_key_add_int64(&kb, start);
	ts_key_add_text(&kb, r->c[2].data, r->c[2].len);
	if (kb.overflow)
		return TS_KEY_TOO_BIG;
	if (add)
	{
		uint8_t		e[4];

		put_be32(e, (uint32_t) end);
		return ts_put(txn, ix->pages, kb.buf, kb.len, e, 4, 0);
	}
	return del_ok(ts_del(txn, ix->pages, kb.buf, kb.len));
}

static int
same_col(const ts_colval *a, const ts_colval *b, int text)
{
	if (a->isnull || b->isnull)
		return a->isnull == b->isnull;
	if (text)
		return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
	return a->i == b->i;
}

static int
terms_remove(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b, const NodeRow *r)
{
	ts_keybuf	kb;
	ts_slice	val;
	uint8_t    *copy;
	int			rc;

	kb_pvid(&kb, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len, r->c[2].data, r->c[2].len);
	rc = ts_get(txn, ix->terms, kb.buf, kb.len, &val);
	if (rc == TS_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	copy = malloc(val.len ? val.len : 1);
	if (!copy)
		return TS_NOMEM;
	memcpy(copy, val.data, val.len);
	rc = terms_changes(b, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len,
					   r->c[2].data, r->c[2].len, copy, val.len, 0);
	free(copy);
	if (rc == 0)
		rc = del_ok(ts_del(txn, ix->terms, kb.buf, kb.len));
	return rc;
}

static int
terms_add(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b, const NodeRow *r,
		  const uint8_t *terms, size_t tlen)
{
	ts_keybuf	kb;
	static const uint8_t none[1] = {0};
	int			rc;

	if (terms == NULL || tlen == 0)
	{
		terms = none;
		tlen = 1;
	}
	kb_pvid(&kb, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len, r->c[2].data, r->c[2].len);
	if ((rc = terms_changes(b, r->c[0].data, r->c[0].len, r->c[1].data, r->c[1].len,
							r->c[2].data, r->c[2].len, terms, tlen, 1)) != 0)
		return rc;
	return ts_put(txn, ix->terms, kb.buf, kb.len, terms, tlen, 0);
}

static int
node_changed(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b,
			 const uint8_t *okey, size_t oklen, const uint8_t *orec, size_t orlen,
			 const uint8_t *nkey, size_t nklen, const uint8_t *nrec, size_t nrlen,
			 const uint8_t *terms, size_t tlen)
{
	const ts_store *s = &ts_stores[ix->st_nodes];
	NodeRow    *o = NULL,
			   *n = NULL;
	int			rc = 0;
	int			same_key = 0,
				same_struct = 0,
				same_pages = 0;

	if (okey)
	{
		if (!(o = malloc(sizeof(NodeRow))))
			return TS_NOMEM;
		if ((rc = decode_row(s, okey, oklen, orec, orlen, o)) != 0)
			goto done;
	}
	if (nkey)
	{
		if (!(n = malloc(sizeof(NodeRow))))
		{
			rc = TS_NOMEM;
			goto done;
		}
		if ((rc = decode_row(s, nkey, nklen, nrec, nrlen, n)) != 0)
			goto done;
	}
	if (o && n)
	{
		same_key = oklen == nklen && memcmp(okey, nkey, oklen) == 0;
		same_struct = same_key && same_col(&o->c[N_PARENT], &n->c[N_PARENT], 1) &&
			node_ordinal(o) == node_ordinal(n);
		same_pages = same_key && same_col(&o->c[N_START], &n->c[N_START], 0) &&
			same_col(&o->c[N_END], &n->c[N_END], 0);
	}
	if (o)
	{
		if (!same_struct && (rc = structure_remove(txn, ix, b, o)) != 0)
			goto done;
		if (!same_pages && (rc = pages_write(txn, ix, o, 0)) != 0)
			goto done;
		if ((rc = terms_remove(txn, ix, b, o)) != 0)
			goto done;
	}
	if (n)
	{
		if (!same_struct && (rc = structure_add(txn, ix, b, n)) != 0)
			goto done;
		if (!same_pages && (rc = pages_write(txn, ix, n, 1)) != 0)
			goto done;
		if ((rc = terms_add(txn, ix, b, n, terms, tlen)) != 0)
			goto done;
	}
done:
	free(o);
	free(n);
	return rc;
}

/* ---------- versions and cross references ---------- */

static int
by_date_key(ts_keybuf *kb, const NodeRow *r)
{
	ts_key_init(kb);
	ts_key_add_text(kb, r->c[0].data, r->c[0].len);
	if (r->c[V_FROM].isnull)
		ts_key_add_null(kb);
	else
		ts_key_add_int64(kb, r->c[V_FROM].i);
	ts_key_add_text(kb, r->c[1].data, r->c[1].len);
	return kb->overflow ? TS_KEY_TOO_BIG : 0;
}

static int
version_changed(ts_txn *txn, const ts_docindex *ix,
				const uint8_t *okey, size_t oklen, const uint8_t *orec, size_t orlen,
				const uint8_t *nkey, size_t nklen, const uint8_t *nrec, size_t nrlen)
{
	const ts_store *s = &ts_stores[ix->st_versions];
	NodeRow    *r = malloc(sizeof(NodeRow));
	ts_keybuf	kb;
	int			rc = 0;

	if (!r)
		return TS_NOMEM;
	if (okey)
	{
		if ((rc = decode_row(s, okey, oklen, orec, orlen, r)) != 0 ||
			(rc = by_date_key(&kb, r)) != 0 ||
			(rc = del_ok(ts_del(txn, ix->by_date, kb.buf, kb.len))) != 0)
			goto done;
	}
	if (nkey)
	{
		uint8_t		to[4];

		if ((rc = decode_row(s, nkey, nklen, nrec, nrlen, r)) != 0 ||
			(rc = by_date_key(&kb, r)) != 0)
			goto done;
		if (!r->c[V_TO].isnull)
			put_be32(to, (uint32_t) (int32_t) r->c[V_TO].i);
		rc = ts_put(txn, ix->by_date, kb.buf, kb.len, to, r->c[V_TO].isnull ? 0 : 4, 0);
	}
done:
	free(r);
	return rc;
}

/* cross_references key (sp, sn, tp, tn, type) <-> incoming key (tp, tn, sp, sn, type) */
static int
xref_swap(const uint8_t *key, size_t klen, ts_keybuf *out, int to_incoming)
{
	ts_field	f[5];
	uint8_t		scratch[5][TS_MAX_KEY];
	size_t		pos = 0;
	static const int inc[5] = {2, 3, 0, 1, 4};

	(void) to_incoming;			/* the swap is its own inverse */
	for (int i = 0; i < 5; i++)
		if (ts_key_next_field(key, klen, &pos, &f[i], scratch[i], TS_MAX_KEY) != 0 ||
			f[i].type != TS_FIELD_TEXT)
			return TS_CORRUPT;
	ts_key_init(out);
	for (int i = 0; i < 5; i++)
		ts_key_add_text(out, f[inc[i]].data, f[inc[i]].len);
	return out->overflow ? TS_KEY_TOO_BIG : 0;
}

static int
xref_changed(ts_txn *txn, const ts_docindex *ix,
			 const uint8_t *okey, size_t oklen, const uint8_t *nkey, size_t nklen)
{
	ts_keybuf	kb;
	int			rc;

	if (okey && nkey && oklen == nklen && memcmp(okey, nkey, oklen) == 0)
		return 0;
	if (okey)
	{
		if ((rc = xref_swap(okey, oklen, &kb, 1)) != 0 ||
			(rc = del_ok(ts_del(txn, ix->xref_in, kb.buf, kb.len))) != 0)
			return rc;
	}
	if (nkey)
	{
		if ((rc = xref_swap(nkey, nklen, &kb, 1)) != 0 ||
			(rc = ts_put(txn, ix->xref_in, kb.buf, kb.len, "", 0, 0)) != 0)
			return rc;
	}
	return 0;
}

int
ts_docindex_changed(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b, int st,
					const uint8_t *okey, size_t oklen, const uint8_t *orec, size_t orlen,
					const uint8_t *nkey, size_t nklen, const uint8_t *nrec, size_t nrlen,
					const uint8_t *terms, size_t tlen)
{
	if (st == ix->st_nodes)
		return node_changed(txn, ix, b, okey, oklen, orec, orlen, nkey, nklen, nrec, nrlen,
							terms, tlen);
	if (st == ix->st_versions)
		return version_changed(txn, ix, okey, oklen, orec, orlen, nkey, nklen, nrec, nrlen);
	if (st == ix->st_xrefs)
		return xref_changed(txn, ix, okey, oklen, nkey, nklen);
	return 0;
}

/* ---------- flush: posting lists and version counters ---------- */

typedef struct Posting
{
	const uint8_t *id;
	size_t		idlen;
	uint32_t	tft,
				tfb,
				dl;
	int			dead;
} Posting;

static int
posting_cmp(const void *a, const void *b)
{
	const Posting *x = a,
			   *y = b;

	return bytes_cmp(x->id, x->idlen, y->id, y->idlen);
}

/* Decode a posting list (entries point into d). */
static int
postings_decode(const uint8_t *d, size_t len, Posting **out, size_t *n)
{
	size_t		pos = 0;
	uint32_t	cnt;
	Posting    *p;

	*out = NULL;
	*n = 0;
	if (ts_varint_get(d, len, &pos, &cnt) != 0 || cnt > len)
		return TS_CORRUPT;
	p = malloc(sizeof(Posting) * (cnt ? cnt : 1));
	if (!p)
		return TS_NOMEM;
	for (uint32_t i = 0; i < cnt; i++)
	{
		uint32_t	l;

		if (ts_varint_get(d, len, &pos, &l) != 0 || len - pos < l)
			goto bad;
		p[i].id = d + pos;
		p[i].idlen = l;
		pos += l;
		if (ts_varint_get(d, len, &pos, &p[i].tft) != 0 ||
			ts_varint_get(d, len, &pos, &p[i].tfb) != 0 ||
			ts_varint_get(d, len, &pos, &p[i].dl) != 0)
			goto bad;
		p[i].dead = 0;
	}
	*out = p;
	*n = cnt;
	return 0;
bad:
	free(p);
	return TS_CORRUPT;
}

/* qsort_r comparators take what they compare against as their argument:
 * the engine may run queries and writes on several threads at once */
static int
change_cmp(const void *a, const void *b, void *batch)
{
	const PChange *x = a,
			   *y = b;
	const uint8_t *ar = ((const ts_docindex_batch *) batch)->arena.data;
	int			c = bytes_cmp(ar + x->key_off, x->key_len, ar + y->key_off, y->key_len);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct ChangeSort
{
	const PChange *ch;
	const uint8_t *arena;
} ChangeSort;

/* changes (indexes into ChangeSort.ch) by node_id, then sequence */
static int
change_id_cmp(const void *a, const void *b, void *arg)
{
	const ChangeSort *s = arg;
	const PChange *x = &s->ch[*(const size_t *) a],
			   *y = &s->ch[*(const size_t *) b];
	int			c = bytes_cmp(s->arena + x->id_off, x->id_len, s->arena + y->id_off, y->id_len);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A posting-list chunk being rewritten. */
typedef struct Chunk
{
	int			loaded;			/* an existing chunk was read */
	uint8_t		key[TS_MAX_KEY];	/* its key, as read */
	size_t		klen;
	uint8_t    *data;			/* its bytes (the entries point here) */
	Posting    *olds;
	size_t		nold;
	uint8_t		next_first[TS_MAX_KEY];	/* the next chunk's first node_id */
	size_t		next_len;
	int			has_next;
	Posting    *adds;			/* changes in node_id order */
	size_t		nadd,
				capadd;
} Chunk;

static void
chunk_reset(Chunk *c)
{
	free(c->data);
	free(c->olds);
	free(c->adds);
	memset(c, 0, sizeof(*c));
}

/* The node_id of a chunk key: its last field. */
static int
chunk_first_id(const uint8_t *key, size_t klen, size_t prefix, ts_field *f, uint8_t *scratch)
{
	size_t		pos = prefix;

	if (ts_key_next_field(key, klen, &pos, f, scratch, TS_MAX_KEY) != 0 || f->type != TS_FIELD_TEXT)
		return TS_CORRUPT;
	return 0;
}

/*
 * Load the chunk of (P, V, term) = prefix that holds node_id id: the last
 * chunk whose first node_id is <= id, else the first chunk, else none.
 */
static int
chunk_load(ts_txn *txn, const ts_docindex *ix, const uint8_t *prefix, size_t plen,
		   const uint8_t *id, size_t idlen, Chunk *c)
{
	ts_keybuf	kb;
	ts_cursor  *cur;
	ts_slice	k,
				v;
	int			rc;

	memcpy(kb.buf, prefix, plen);
	kb.len = plen;
	kb.overflow = 0;
	ts_key_add_text(&kb, id, idlen);
	if ((rc = ts_cursor_open(txn, ix->postings, &cur)) != 0)
		return rc;
	if ((rc = ts_cursor_prefix(cur, prefix, plen)) != 0)
		goto done;
	rc = kb.overflow ? TS_NOTFOUND : ts_cursor_seek_le(cur, kb.buf, kb.len);
	if (rc == TS_NOTFOUND)
		rc = ts_cursor_first(cur);
	if (rc == TS_NOTFOUND)
	{
		rc = 0;					/* no chunk yet */
		goto done;
	}
	if (rc != 0 || (rc = ts_cursor_get(cur, &k, &v)) != 0)
		goto done;
	c->loaded = 1;
	memcpy(c->key, k.data, k.len);
	c->klen = k.len;
	c->data = malloc(v.len ? v.len : 1);
	if (!c->data)
	{
		rc = TS_NOMEM;
		goto done;
	}
	memcpy(c->data, v.data, v.len);
	if ((rc = postings_decode(c->data, v.len, &c->olds, &c->nold)) != 0)
		goto done;
	rc = ts_cursor_next(cur);
	if (rc == 0 && (rc = ts_cursor_get(cur, &k, &v)) == 0)
	{
		ts_field	f;
		uint8_t		scratch[TS_MAX_KEY];

		if ((rc = chunk_first_id(k.data, k.len, plen, &f, scratch)) != 0)
			goto done;
		memcpy(c->next_first, f.data, f.len);
		c->next_len = f.len;
		c->has_next = 1;
	}
	else if (rc == TS_NOTFOUND)
		rc = 0;
done:
	ts_cursor_close(cur);
	return rc;
}

/* Does the loaded chunk take node_id id?  (Below its first: only the first chunk is found.) */
static int
chunk_covers(const Chunk *c, const uint8_t *id, size_t idlen)
{
	return !c->has_next || bytes_cmp(id, idlen, c->next_first, c->next_len) < 0;
}

static int
put_chunk(ts_txn *txn, const ts_docindex *ix, const uint8_t *prefix, size_t plen,
		  const Posting *const *e, size_t n)
{
	ts_keybuf	kb;
	ts_buf		out = {0};
	int			rc;

	memcpy(kb.buf, prefix, plen);
	kb.len = plen;
	kb.overflow = 0;
	ts_key_add_text(&kb, e[0]->id, e[0]->idlen);
	if (kb.overflow)
		return TS_KEY_TOO_BIG;
	rc = ts_varint_put(&out, n);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (ts_varint_put(&out, e[i]->idlen) != 0 || ts_buf_append(&out, e[i]->id, e[i]->idlen) != 0 ||
			ts_varint_put(&out, e[i]->tft) != 0 || ts_varint_put(&out, e[i]->tfb) != 0 ||
			ts_varint_put(&out, e[i]->dl) != 0)
			rc = TS_NOMEM;
	if (rc == 0)
		rc = ts_put(txn, ix->postings, kb.buf, kb.len, out.data, out.len, 0);
	ts_buf_free(&out);
	return rc;
}

/*
 * Write the chunk back: its old entries not changed, merged with the adds;
 * keyed by its first node_id; split when it grew past CHUNK_MAX.
 */
static int
chunk_store(ts_txn *txn, const ts_docindex *ix, const uint8_t *prefix, size_t plen, Chunk *c)
{
	const Posting **all;
	size_t		n = 0,
				i = 0,
				j = 0;
	int			rc = 0;

	all = malloc(sizeof(Posting *) * (c->nold + c->nadd + 1));
	if (!all)
		return TS_NOMEM;
	while (i < c->nold || j < c->nadd)
	{
		if (i < c->nold && c->olds[i].dead)
			i++;
		else if (j < c->nadd && c->adds[j].dead)
			j++;
		else if (j >= c->nadd || (i < c->nold && posting_cmp(&c->olds[i], &c->adds[j]) < 0))
			all[n++] = &c->olds[i++];
		else
			all[n++] = &c->adds[j++];
	}
	/* the old key goes unless the first node_id stays */
	if (c->loaded)
	{
		ts_keybuf	kb;

		memcpy(kb.buf, prefix, plen);
		kb.len = plen;
		kb.overflow = 0;
		if (n > 0)
			ts_key_add_text(&kb, all[0]->id, all[0]->idlen);
		if (n == 0 || kb.len != c->klen || memcmp(kb.buf, c->key, c->klen) != 0)
			rc = del_ok(ts_del(txn, ix->postings, c->key, c->klen));
	}
	for (size_t k = 0; k < n && rc == 0; k += CHUNK_SPLIT)
	{
		size_t		m = n - k;

		if (m > CHUNK_MAX)
			m = CHUNK_SPLIT;
		rc = put_chunk(txn, ix, prefix, plen, all + k, m);
		if (m != CHUNK_SPLIT)
			break;
	}
	free(all);
	return rc;
}

static int
chunk_add(Chunk *c, const Posting *p)
{
	if (c->nadd == c->capadd)
	{
		size_t		cap = c->capadd ? c->capadd * 2 : 64;
		Posting    *n = realloc(c->adds, cap * sizeof(Posting));

		if (!n)
			return TS_NOMEM;
		c->adds = n;
		c->capadd = cap;
	}
	c->adds[c->nadd++] = *p;
	return 0;
}

static int
flush_postings_key(ts_txn *txn, const ts_docindex *ix, const ts_docindex_batch *b,
				   const PChange *ch, size_t n)
{
	const uint8_t *ar = b->arena.data;
	const uint8_t *prefix = ar + ch[0].key_off;
	size_t		plen = ch[0].key_len;
	size_t	   *order;
	Chunk		c;
	int			have = 0;
	int			rc = 0;

	memset(&c, 0, sizeof(c));
	/*
	 * The last change of each node_id decides (an update is a removal and
	 * an add); an old entry goes whenever its node_id changed.  Sorting the
	 * changes by (node_id, seq) finds both without a quadratic scan, and
	 * visits the chunks in order, each read and written once.
	 */
	order = malloc(sizeof(size_t) * n);
	if (!order)
		return TS_NOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	{
		ChangeSort	s = {ch, ar};

		qsort_r(order, n, sizeof(size_t), change_id_cmp, &s);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
	{
		const PChange *x = &ch[order[i]];
		Posting		probe = {ar + x->id_off, x->id_len, x->tft, x->tfb, x->dl, 0};
		Posting    *hit;

		if (i + 1 < n && bytes_cmp(ar + ch[order[i + 1]].id_off, ch[order[i + 1]].id_len,
								   probe.id, probe.idlen) == 0)
			continue;			/* a later change of the same node decides */
		if (have && !chunk_covers(&c, probe.id, probe.idlen))
		{
			rc = chunk_store(txn, ix, prefix, plen, &c);
			chunk_reset(&c);
			have = 0;
			if (rc != 0)
				break;
		}
		if (!have)
		{
			if ((rc = chunk_load(txn, ix, prefix, plen, probe.id, probe.idlen, &c)) != 0)
				break;
			have = 1;
		}
		hit = c.nold ? bsearch(&probe, c.olds, c.nold, sizeof(Posting), posting_cmp) : NULL;
		if (hit)
			hit->dead = 1;
		if (x->add)
			rc = chunk_add(&c, &probe);
	}
	if (rc == 0 && have)
		rc = chunk_store(txn, ix, prefix, plen, &c);
	chunk_reset(&c);
	free(order);
	return rc;
}

int
ts_docindex_flush(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b)
{
	int			rc = 0;

	if (b->nch > 0)
	{
		qsort_r(b->ch, b->nch, sizeof(PChange), change_cmp, b);
		for (size_t i = 0; i < b->nch && rc == 0;)
		{
			size_t		j = i + 1;

			while (j < b->nch &&
				   bytes_cmp(b->arena.data + b->ch[j].key_off, b->ch[j].key_len,
							 b->arena.data + b->ch[i].key_off, b->ch[i].key_len) == 0)
				j++;
			rc = flush_postings_key(txn, ix, b, &b->ch[i], j - i);
			i = j;
		}
	}
	for (size_t i = 0; i < b->nmd && rc == 0; i++)
	{
		MDelta	   *m = &b->md[i];
		ts_slice	val;
		int64_t		cur[3] = {0, 0, 0};
		uint8_t		buf[24];

		if (m->dn == 0 && m->dlen == 0 && m->dun == 0)
			continue;
		rc = ts_get(txn, ix->vmeta, m->key, m->klen, &val);
		if (rc == 0 && val.len == 24)
			for (int k = 0; k < 3; k++)
				cur[k] = get_le64((const uint8_t *) val.data + 8 * k);
		else if (rc == 0)
			rc = TS_CORRUPT;
		if (rc != 0 && rc != TS_NOTFOUND)
			break;
		cur[0] += m->dn;
		cur[1] += m->dlen;
		cur[2] += m->dun;
		if (cur[0] == 0 && cur[1] == 0 && cur[2] == 0)
			rc = del_ok(ts_del(txn, ix->vmeta, m->key, m->klen));
		else
		{
			for (int k = 0; k < 3; k++)
				put_le64(buf + 8 * k, cur[k]);
			rc = ts_put(txn, ix->vmeta, m->key, m->klen, buf, 24, 0);
		}
	}
	ts_docindex_discard(b);
	return rc;
}

static int
clear_tree(ts_txn *txn, ts_tree t)
{
	ts_cursor  *c;
	int			rc;

	if ((rc = ts_cursor_open(txn, t, &c)) != 0)
		return rc;
	for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
	{
		ts_slice	k,
					v;
		uint8_t		key[TS_MAX_KEY];
		size_t		klen;

		if ((rc = ts_cursor_get(c, &k, &v)) != 0)
			break;
		klen = k.len;
		memcpy(key, k.data, klen);
		if ((rc = ts_del(txn, t, key, klen)) != 0)
			break;
	}
	ts_cursor_close(c);
	return rc == TS_NOTFOUND ? 0 : rc;
}

int
ts_docindex_truncate(ts_txn *txn, const ts_docindex *ix, int st)
{
	int			rc = 0;

	if (st == ix->st_nodes)
	{
		const ts_tree t[] = {ix->children, ix->order, ix->paths, ix->pages, ix->terms,
		ix->vmeta, ix->postings};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && rc == 0; i++)
			rc = clear_tree(txn, t[i]);
	}
	else if (st == ix->st_versions)
		rc = clear_tree(txn, ix->by_date);
	else if (st == ix->st_xrefs)
		rc = clear_tree(txn, ix->xref_in);
	return rc;
}

/* ---------- the temporal rule ---------- */

typedef struct Resolver
{
	int32_t		date;			/* the day asked about */
	int			fallback_latest;	/* none in force: the latest */
	const uint8_t *want;		/* a version id asked for, or NULL */
	size_t		wantlen;
	/* per policy */
	uint8_t		best[TS_MAX_KEY],
				latest[TS_MAX_KEY];
	size_t		bestlen,
				latestlen;
	int			has_best,
				has_latest,
				best_open;
	int32_t		best_to;
	int			found_want;
} Resolver;

static void
resolver_reset(Resolver *r)
{
	r->has_best = r->has_latest = r->found_want = 0;
}

/* One by_date entry of the policy, in key order. */
static void
resolver_add(Resolver *r, const ts_field *from, const ts_field *ver, const uint8_t *to, size_t tolen)
{
	if (r->want)
	{
		if (ver->len == r->wantlen && memcmp(ver->data, r->want, ver->len) == 0)
			r->found_want = 1;
		return;
	}
	memcpy(r->latest, ver->data, ver->len);
	r->latestlen = ver->len;
	r->has_latest = 1;
	if (from->type == TS_FIELD_INT64 && from->i <= r->date)
	{
		memcpy(r->best, ver->data, ver->len);
		r->bestlen = ver->len;
		r->has_best = 1;
		r->best_open = tolen != 4;
		r->best_to = tolen == 4 ? (int32_t) get_be32(to) : 0;
	}
}

/* The policy's version: 1 and *out set, or 0. */
static int
resolver_result(Resolver *r, const uint8_t **out, size_t *outlen)
{
	if (r->want)
	{
		*out = r->want;
		*outlen = r->wantlen;
		return r->found_want;
	}
	if (r->has_best && (r->best_open || r->best_to > r->date))
	{
		*out = r->best;
		*outlen = r->bestlen;
		return 1;
	}
	if (r->fallback_latest && r->has_latest)
	{
		*out = r->latest;
		*outlen = r->latestlen;
		return 1;
	}
	return 0;
}

static void
resolver_init(Resolver *r, const uint8_t *version, size_t vlen, int has_version,
			  int has_as_of, int32_t as_of, int32_t today)
{
	memset(r, 0, sizeof(*r));
	r->want = has_version ? version : NULL;
	r->wantlen = vlen;
	r->date = has_as_of ? as_of : today;
	r->fallback_latest = !has_as_of;
}

/* Decode a by_date key: policy, from, version. */
static int
by_date_decode(const ts_slice *k, ts_field *pf, ts_field *ff, ts_field *vf, uint8_t *s1, uint8_t *s2)
{
	size_t		pos = 0;
	uint8_t		dummy[8];

	if (ts_key_next_field(k->data, k->len, &pos, pf, s1, TS_MAX_KEY) != 0 ||
		ts_key_next_field(k->data, k->len, &pos, ff, dummy, sizeof(dummy)) != 0 ||
		ts_key_next_field(k->data, k->len, &pos, vf, s2, TS_MAX_KEY) != 0 ||
		pf->type != TS_FIELD_TEXT || vf->type != TS_FIELD_TEXT)
		return TS_CORRUPT;
	return 0;
}

int
ts_docindex_resolve(ts_txn *txn, const ts_docindex *ix,
					const uint8_t *policy, size_t plen,
					const uint8_t *version, size_t vlen, int has_version,
					int has_as_of, int32_t as_of, int32_t today,
					uint8_t *vout, size_t *voutlen)
{
	Resolver	r;
	ts_keybuf	kb;
	ts_cursor  *c;
	int			rc;
	const uint8_t *res;
	size_t		reslen;

	if (has_version)
	{
		ts_slice	val;

		kb_pv(&kb, policy, plen, version, vlen);
		if (kb.overflow)
			return TS_NOTFOUND;
		if ((rc = ts_get(txn, ix->versions, kb.buf, kb.len, &val)) != 0)
			return rc;
		memcpy(vout, version, vlen);
		*voutlen = vlen;
		return 0;
	}
	resolver_init(&r, NULL, 0, 0, has_as_of, as_of, today);
	ts_key_init(&kb);
	ts_key_add_text(&kb, policy, plen);
	if (kb.overflow)
		return TS_NOTFOUND;
	if ((rc = ts_cursor_open(txn, ix->by_date, &c)) != 0)
		return rc;
	if ((rc = ts_cursor_prefix(c, kb.buf, kb.len)) == 0)
		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						v;
			ts_field	pf,
						ff,
						vf;
			uint8_t		s1[TS_MAX_KEY],
						s2[TS_MAX_KEY];

			if ((rc = ts_cursor_get(c, &k, &v)) != 0 ||
				(rc = by_date_decode(&k, &pf, &ff, &vf, s1, s2)) != 0)
				break;
			resolver_add(&r, &ff, &vf, v.data, v.len);
		}
	ts_cursor_close(c);
	if (rc != 0 && rc != TS_NOTFOUND)
		return rc;
	if (!resolver_result(&r, &res, &reslen))
		return TS_NOTFOUND;
	memcpy(vout, res, reslen);
	*voutlen = reslen;
	return 0;
}

/* ---------- node queries ---------- */

static int
regular(ts_txn *txn, const ts_docindex *ix, const uint8_t *p, size_t plen,
		const uint8_t *v, size_t vlen)
{
	ts_keybuf	kb;
	ts_slice	val;
	int			rc;

	kb_pv(&kb, p, plen, v, vlen);
	rc = ts_get(txn, ix->vmeta, kb.buf, kb.len, &val);
	if (rc == TS_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (val.len != 24)
		return TS_CORRUPT;
	return get_le64((const uint8_t *) val.data + 16) == 0 ? 0 : TS_DOCINDEX_IRREGULAR;
}

/*
 * Emit the nodes rows of ids (in list order).  One cursor: ids in document
 * order are usually in key order too (PageIndex numbers nodes in
 * pre-order), so the next row is mostly the cursor's next entry, not a
 * descent from the root.
 */
static int
emit_nodes(ts_txn *txn, const ts_docindex *ix, const uint8_t *p, size_t plen,
		   const uint8_t *v, size_t vlen, const StrList *ids, ts_docindex_emit emit, void *arg)
{
	ts_cursor  *c;
	int			rc,
				positioned = 0;

	if (ids->n == 0)
		return 0;
	if ((rc = ts_cursor_open(txn, ix->nodes, &c)) != 0)
		return rc;
	for (size_t i = 0; i < ids->n && rc == 0; i++)
	{
		ts_keybuf	kb;
		ts_slice	k,
					val;

		kb_pvid(&kb, p, plen, v, vlen, sl_get(ids, i), ids->len[i]);
		if (kb.overflow)
			continue;
		rc = TS_NOTFOUND;
		if (positioned && ts_cursor_next(c) == 0 && ts_cursor_get(c, &k, &val) == 0 &&
			k.len == kb.len && memcmp(k.data, kb.buf, kb.len) == 0)
			rc = 0;
		else
		{
			positioned = 0;
			rc = ts_cursor_seek(c, kb.buf, kb.len);
			if (rc == 0)
			{
				positioned = 1;
				if ((rc = ts_cursor_get(c, &k, &val)) == 0 &&
					(k.len != kb.len || memcmp(k.data, kb.buf, kb.len) != 0))
					rc = TS_NOTFOUND;
			}
		}
		if (rc == TS_NOTFOUND)
		{
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = emit(arg, kb.buf, kb.len, val.data, val.len, 0);
	}
	ts_cursor_close(c);
	return rc;
}

int
ts_docindex_node(ts_txn *txn, const ts_docindex *ix,
				 const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
				 const uint8_t *id, size_t idlen, ts_docindex_emit emit, void *arg)
{
	ts_keybuf	kb;
	ts_slice	val;
	int			rc;

	kb_pvid(&kb, p, plen, v, vlen, id, idlen);
	if (kb.overflow)
		return 0;
	rc = ts_get(txn, ix->nodes, kb.buf, kb.len, &val);
	if (rc == TS_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	return emit(arg, kb.buf, kb.len, val.data, val.len, 0);
}

int
ts_docindex_children(ts_txn *txn, const ts_docindex *ix,
					 const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
					 const uint8_t *id, size_t idlen, ts_docindex_emit emit, void *arg)
{
	StrList		kids = {0};
	int			rc;

	if (id)
	{
		ts_keybuf	kb;
		ts_slice	val;

		kb_pvid(&kb, p, plen, v, vlen, id, idlen);
		if (kb.overflow)
			return 0;
		rc = ts_get(txn, ix->nodes, kb.buf, kb.len, &val);
		if (rc == TS_NOTFOUND)
			return 0;			/* children of no node: none */
		if (rc != 0)
			return rc;
	}
	else if ((rc = regular(txn, ix, p, plen, v, vlen)) != 0)
		return rc;
	if ((rc = list_children(txn, ix, p, plen, v, vlen, id, idlen, &kids)) == 0)
		rc = emit_nodes(txn, ix, p, plen, v, vlen, &kids, emit, arg);
	sl_free(&kids);
	return rc;
}

/* The order entries under prefix (P, V) ++ path: node ids with level <= maxlevel. */
static int
order_range(ts_txn *txn, const ts_docindex *ix, const uint8_t *p, size_t plen,
			const uint8_t *v, size_t vlen, const uint8_t *path, size_t pathlen,
			uint32_t maxlevel, StrList *out)
{
	ts_keybuf	kb;
	ts_cursor  *c;
	int			rc;

	kb_pv(&kb, p, plen, v, vlen);
	kb_raw(&kb, path, pathlen);
	if (kb.overflow)
		return 0;
	if ((rc = ts_cursor_open(txn, ix->order, &c)) != 0)
		return rc;
	if ((rc = ts_cursor_prefix(c, kb.buf, kb.len)) == 0)
		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						val;
			size_t		pos = 0;
			uint32_t	level;

			if ((rc = ts_cursor_get(c, &k, &val)) != 0)
				break;
			if (ts_varint_get(val.data, val.len, &pos, &level) != 0)
			{
				rc = TS_CORRUPT;
				break;
			}
			if (level > maxlevel)
				continue;
			if ((rc = sl_add(out, (const uint8_t *) val.data + pos, val.len - pos, level)) != 0)
				break;
		}
	ts_cursor_close(c);
	return rc == TS_NOTFOUND ? 0 : rc;
}

int
ts_docindex_subtree(ts_txn *txn, const ts_docindex *ix,
					const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
					const uint8_t *id, size_t idlen, int max_depth,
					ts_docindex_emit emit, void *arg)
{
	uint8_t		path[TS_MAX_KEY];
	size_t		pathlen = 0;
	uint32_t	base = 1,
				maxlevel;
	StrList		ids = {0};
	int			rc;

	if ((rc = regular(txn, ix, p, plen, v, vlen)) != 0)
		return rc;
	if (id)
	{
		rc = get_path(txn, ix, p, plen, v, vlen, id, idlen, path, &pathlen);
		if (rc == TS_NOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		if ((rc = path_level(path, pathlen, &base)) != 0)
			return rc;
	}
	maxlevel = max_depth < 0 ? UINT32_MAX :
		(uint64_t) base + (uint64_t) max_depth > UINT32_MAX ? UINT32_MAX : base + (uint32_t) max_depth;
	if ((rc = order_range(txn, ix, p, plen, v, vlen, path, pathlen, maxlevel, &ids)) == 0)
		rc = emit_nodes(txn, ix, p, plen, v, vlen, &ids, emit, arg);
	sl_free(&ids);
	return rc;
}

int
ts_docindex_ancestors(ts_txn *txn, const ts_docindex *ix,
					  const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
					  const uint8_t *id, size_t idlen, ts_docindex_emit emit, void *arg)
{
	uint8_t		path[TS_MAX_KEY],
				scratch[TS_MAX_KEY];
	size_t		pathlen,
				pos = 0;
	ts_field	f;
	StrList		ids = {0};
	int			rc;

	if ((rc = regular(txn, ix, p, plen, v, vlen)) != 0)
		return rc;
	rc = get_path(txn, ix, p, plen, v, vlen, id, idlen, path, &pathlen);
	if (rc == TS_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	while ((rc = path_next(path, pathlen, &pos, &f, scratch, sizeof(scratch))) == 1)
		if ((rc = sl_add(&ids, f.data, f.len, 0)) != 0)
			break;
	if (rc == 0)
		rc = emit_nodes(txn, ix, p, plen, v, vlen, &ids, emit, arg);
	sl_free(&ids);
	return rc;
}

/* indexes into a StrList, by the bytes of the entries they point at */
static int
strlist_ref_cmp(const void *a, const void *b, void *list)
{
	const StrList *l = list;
	size_t		x = *(const size_t *) a,
				y = *(const size_t *) b;

	return bytes_cmp(sl_get(l, x), l->len[x], sl_get(l, y), l->len[y]);
}

/* Collect node ids from a pages cursor range into ids (wide: check page_end). */
static int
pages_scan(ts_txn *txn, const ts_docindex *ix, const uint8_t *lo, size_t lolen,
		   const uint8_t *hi, size_t hilen, int wide, int32_t page, StrList *ids)
{
	ts_cursor  *c;
	int			rc;

	if ((rc = ts_cursor_open(txn, ix->pages, &c)) != 0)
		return rc;
	if ((rc = ts_cursor_bounds(c, lo, lolen, hi, hilen)) == 0)
		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						val;
			size_t		pos = 0;
			ts_field	f;
			uint8_t		scratch[TS_MAX_KEY];

			if ((rc = ts_cursor_get(c, &k, &val)) != 0)
				break;
			if (wide && (val.len != 4 || (int32_t) get_be32(val.data) < page))
				continue;
			/* P, V, tag, page, node_id: the id is the fifth field */
			for (int i = 0; i < 5 && rc == 0; i++)
				rc = ts_key_next_field(k.data, k.len, &pos, &f, scratch, sizeof(scratch));
			if (rc != 0 || f.type != TS_FIELD_TEXT)
			{
				rc = TS_CORRUPT;
				break;
			}
			if ((rc = sl_add(ids, f.data, f.len, 0)) != 0)
				break;
		}
	ts_cursor_close(c);
	return rc == TS_NOTFOUND ? 0 : rc;
}

int
ts_docindex_by_page(ts_txn *txn, const ts_docindex *ix,
					const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
					int32_t page, ts_docindex_emit emit, void *arg)
{
	ts_keybuf	lo,
				hi;
	StrList		ids = {0},
				paths = {0},
				sorted = {0};
	size_t	   *order = NULL;
	int			rc;

	if ((rc = regular(txn, ix, p, plen, v, vlen)) != 0)
		return rc;
	/* narrow: (P, V, 0, page) exactly */
	kb_pv(&lo, p, plen, v, vlen);
	ts_key_add_int64(&lo, 0);
	ts_key_add_int64(&lo, page);
	hi.len = ts_key_prefix_end(lo.buf, lo.len, hi.buf);
	if (lo.overflow)
		goto done;
	if ((rc = pages_scan(txn, ix, lo.buf, lo.len, hi.buf, hi.len, 0, page, &ids)) != 0)
		goto done;
	/* wide: (P, V, 1, start <= page) */
	kb_pv(&lo, p, plen, v, vlen);
	ts_key_add_int64(&lo, 1);
	kb_pv(&hi, p, plen, v, vlen);
	ts_key_add_int64(&hi, 1);
	ts_key_add_int64(&hi, (int64_t) page + 1);
	if ((rc = pages_scan(txn, ix, lo.buf, lo.len, hi.buf, hi.len, 1, page, &ids)) != 0)
		goto done;
	/* document order: by path */
	for (size_t i = 0; i < ids.n; i++)
	{
		uint8_t		path[TS_MAX_KEY];
		size_t		pathlen;

		rc = get_path(txn, ix, p, plen, v, vlen, sl_get(&ids, i), ids.len[i], path, &pathlen);
		if (rc == TS_NOTFOUND)
			pathlen = 0;
		else if (rc != 0)
			goto done;
		if ((rc = sl_add(&paths, path, pathlen, 0)) != 0)
			goto done;
	}
	order = malloc(sizeof(size_t) * (ids.n ? ids.n : 1));
	if (!order)
	{
		rc = TS_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < ids.n; i++)
		order[i] = i;
	qsort_r(order, ids.n, sizeof(size_t), strlist_ref_cmp, &paths);
	for (size_t i = 0; i < ids.n; i++)
		if ((rc = sl_add(&sorted, sl_get(&ids, order[i]), ids.len[order[i]], 0)) != 0)
			goto done;
	rc = emit_nodes(txn, ix, p, plen, v, vlen, &sorted, emit, arg);
done:
	free(order);
	sl_free(&ids);
	sl_free(&paths);
	sl_free(&sorted);
	return rc;
}

/* ---------- cross references ---------- */

static int
prefix_keys(ts_txn *txn, ts_tree t, const uint8_t *prefix, size_t plen, StrList *out)
{
	ts_cursor  *c;
	int			rc;

	if ((rc = ts_cursor_open(txn, t, &c)) != 0)
		return rc;
	if ((rc = ts_cursor_prefix(c, prefix, plen)) == 0)
		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						v;

			if ((rc = ts_cursor_get(c, &k, &v)) != 0 || (rc = sl_add(out, k.data, k.len, 0)) != 0)
				break;
		}
	ts_cursor_close(c);
	return rc == TS_NOTFOUND ? 0 : rc;
}

int
ts_docindex_xrefs(ts_txn *txn, const ts_docindex *ix,
				  const uint8_t *p, size_t plen, const uint8_t *id, size_t idlen,
				  int direction, ts_docindex_emit emit, void *arg)
{
	ts_keybuf	kb;
	StrList		keys = {0},
				inc = {0};
	size_t	   *order = NULL;
	int			rc = 0;

	ts_key_init(&kb);
	ts_key_add_text(&kb, p, plen);
	if (id)
		ts_key_add_text(&kb, id, idlen);
	if (kb.overflow)
		return 0;
	if ((direction & 1) && (rc = prefix_keys(txn, ix->xrefs, kb.buf, kb.len, &keys)) != 0)
		goto done;
	if (direction & 2)
	{
		if ((rc = prefix_keys(txn, ix->xref_in, kb.buf, kb.len, &inc)) != 0)
			goto done;
		for (size_t i = 0; i < inc.n; i++)
		{
			ts_keybuf	pk;

			if ((rc = xref_swap(sl_get(&inc, i), inc.len[i], &pk, 0)) != 0 ||
				(rc = sl_add(&keys, pk.buf, pk.len, 0)) != 0)
				goto done;
		}
	}
	order = malloc(sizeof(size_t) * (keys.n ? keys.n : 1));
	if (!order)
	{
		rc = TS_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < keys.n; i++)
		order[i] = i;
	qsort_r(order, keys.n, sizeof(size_t), strlist_ref_cmp, &keys);
	for (size_t i = 0; i < keys.n; i++)
	{
		const uint8_t *k = sl_get(&keys, order[i]);
		size_t		kl = keys.len[order[i]];
		ts_slice	val;

		if (i > 0 && bytes_cmp(k, kl, sl_get(&keys, order[i - 1]), keys.len[order[i - 1]]) == 0)
			continue;			/* a row both outgoing and incoming: once */
		rc = ts_get(txn, ix->xrefs, k, kl, &val);
		if (rc == TS_NOTFOUND)
		{
			rc = 0;
			continue;
		}
		if (rc != 0 || (rc = emit(arg, k, kl, val.data, val.len, 0)) != 0)
			goto done;
	}
done:
	free(order);
	sl_free(&keys);
	sl_free(&inc);
	return rc;
}

/* ---------- search ---------- */

/* Accumulators: nodes key -> score, open addressing. */
typedef struct Acc
{
	ts_buf		arena;
	size_t	   *off;
	uint32_t   *len;
	double	   *score;
	size_t		n,
				cap;			/* cap: power of two */
} Acc;

static uint64_t
hash_bytes(const uint8_t *d, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
	{
		h ^= d[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
acc_grow(Acc *a)
{
	size_t		cap = a->cap ? a->cap * 2 : 1024;
	size_t	   *off = malloc(sizeof(size_t) * cap);
	uint32_t   *len = malloc(sizeof(uint32_t) * cap);
	double	   *score = malloc(sizeof(double) * cap);

	if (!off || !len || !score)
	{
		free(off);
		free(len);
		free(score);
		return TS_NOMEM;
	}
	for (size_t i = 0; i < cap; i++)
		off[i] = SIZE_MAX;
	for (size_t i = 0; i < a->cap; i++)
	{
		size_t		h;

		if (a->off[i] == SIZE_MAX)
			continue;
		h = hash_bytes(a->arena.data + a->off[i], a->len[i]) & (cap - 1);
		while (off[h] != SIZE_MAX)
			h = (h + 1) & (cap - 1);
		off[h] = a->off[i];
		len[h] = a->len[i];
		score[h] = a->score[i];
	}
	free(a->off);
	free(a->len);
	free(a->score);
	a->off = off;
	a->len = len;
	a->score = score;
	a->cap = cap;
	return 0;
}

static int
acc_add(Acc *a, const uint8_t *key, size_t klen, double s)
{
	size_t		h;

	if ((a->n + 1) * 2 > a->cap && acc_grow(a) != 0)
		return TS_NOMEM;
	h = hash_bytes(key, klen) & (a->cap - 1);
	while (a->off[h] != SIZE_MAX)
	{
		if (a->len[h] == klen && memcmp(a->arena.data + a->off[h], key, klen) == 0)
		{
			a->score[h] += s;
			return 0;
		}
		h = (h + 1) & (a->cap - 1);
	}
	a->off[h] = a->arena.len;
	a->len[h] = (uint32_t) klen;
	a->score[h] = s;
	a->n++;
	return ts_buf_append(&a->arena, key, klen) == 0 ? 0 : TS_NOMEM;
}

static void
acc_free(Acc *a)
{
	ts_buf_free(&a->arena);
	free(a->off);
	free(a->len);
	free(a->score);
}

/* accumulators (indexes into acc), better first: higher score, then smaller key */
static int
hit_cmp(const void *x, const void *y, void *acc)
{
	const Acc  *s = acc;
	size_t		i = *(const size_t *) x,
				j = *(const size_t *) y;
	double		a = s->score[i],
				b = s->score[j];

	if (a != b)
		return a > b ? -1 : 1;
	return bytes_cmp(s->arena.data + s->off[i], s->len[i],
					 s->arena.data + s->off[j], s->len[j]);
}

/* Keep the k best of the accumulators in a heap (worst on top): no full sort. */
static void
heap_sift(size_t *h, size_t n, size_t i, Acc *acc)
{
	for (;;)
	{
		size_t		l = 2 * i + 1,
					r = l + 1,
					w = i;

		/* the worst of i, l, r goes up */
		if (l < n && hit_cmp(&h[l], &h[w], acc) > 0)
			w = l;
		if (r < n && hit_cmp(&h[r], &h[w], acc) > 0)
			w = r;
		if (w == i)
			return;
		size_t		t = h[i];

		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* One resolved version that the search covers. */
typedef struct SVersion
{
	uint8_t		pv[TS_MAX_KEY];	/* (P, V) key prefix */
	size_t		pvlen;
	int64_t		nodes,
				len;
} SVersion;

typedef struct SBlob
{
	const uint8_t *pv;			/* (P, V) prefix of the nodes key */
	size_t		pvlen;
	uint8_t    *data;
	size_t		len;
} SBlob;

static int
svcmp(const void *a, const void *b)
{
	const SVersion *x = a,
			   *y = b;

	return bytes_cmp(x->pv, x->pvlen, y->pv, y->pvlen);
}

static int
load_vmeta(ts_txn *txn, const ts_docindex *ix, SVersion *sv)
{
	ts_slice	val;
	int			rc = ts_get(txn, ix->vmeta, sv->pv, sv->pvlen, &val);

	sv->nodes = sv->len = 0;
	if (rc == TS_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (val.len != 24)
		return TS_CORRUPT;
	sv->nodes = get_le64(val.data);
	sv->len = get_le64((const uint8_t *) val.data + 8);
	return 0;
}

/* Every policy's resolved version, sorted by (P, V) prefix. */
static int
resolve_all(ts_txn *txn, const ts_docindex *ix, const ts_search_args *a,
			SVersion **out, size_t *nout)
{
	Resolver   *r = malloc(sizeof(Resolver));
	ts_cursor  *c = NULL;
	SVersion   *vs = NULL;
	size_t		n = 0,
				cap = 0;
	uint8_t		cur[TS_MAX_KEY];
	size_t		curlen = 0;
	int			have = 0;
	int			rc;

	if (!r)
		return TS_NOMEM;
	resolver_init(r, a->version, a->vlen, a->has_version, a->has_as_of, a->as_of, a->today);
	if ((rc = ts_cursor_open(txn, ix->by_date, &c)) != 0)
		goto done;
	for (rc = ts_cursor_first(c);; rc = ts_cursor_next(c))
	{
		ts_slice	k,
					v;
		ts_field	pf,
					ff,
					vf;
		uint8_t		s1[TS_MAX_KEY],
					s2[TS_MAX_KEY];
		int			end = rc == TS_NOTFOUND;

		if (rc != 0 && !end)
			goto done;
		if (!end)
		{
			if ((rc = ts_cursor_get(c, &k, &v)) != 0 ||
				(rc = by_date_decode(&k, &pf, &ff, &vf, s1, s2)) != 0)
				goto done;
		}
		if (have && (end || pf.len != curlen || memcmp(pf.data, cur, curlen) != 0))
		{
			const uint8_t *res;
			size_t		reslen;

			if (resolver_result(r, &res, &reslen))
			{
				ts_keybuf	kb;

				if (n == cap)
				{
					size_t		nc = cap ? cap * 2 : 64;
					SVersion   *nv = realloc(vs, nc * sizeof(SVersion));

					if (!nv)
					{
						rc = TS_NOMEM;
						goto done;
					}
					vs = nv;
					cap = nc;
				}
				kb_pv(&kb, cur, curlen, res, reslen);
				memcpy(vs[n].pv, kb.buf, kb.len);
				vs[n].pvlen = kb.len;
				if ((rc = load_vmeta(txn, ix, &vs[n])) != 0)
					goto done;
				n++;
			}
			resolver_reset(r);
			have = 0;
		}
		if (end)
			break;
		if (!have)
		{
			memcpy(cur, pf.data, pf.len);
			curlen = pf.len;
			have = 1;
		}
		resolver_add(r, &ff, &vf, v.data, v.len);
	}
	rc = 0;
	qsort(vs, n, sizeof(SVersion), svcmp);
	*out = vs;
	*nout = n;
	vs = NULL;
done:
	if (c)
		ts_cursor_close(c);
	free(vs);
	free(r);
	return rc;
}

int
ts_docindex_search(ts_txn *txn, const ts_docindex *ix, const ts_search_args *a,
				   ts_docindex_emit emit, void *arg)
{
	SVersion   *vs = NULL;
	size_t		nvs = 0;
	Acc			acc = {0};
	SBlob	   *blobs = NULL;
	size_t		nblobs = 0,
				capblobs = 0;
	size_t	   *heap = NULL;
	double		ndocs = 0,
				totlen = 0,
				avgdl;
	int			rc = 0;

	if (a->top_k == 0 || a->nterms == 0)
		return 0;
	/* the versions searched */
	if (a->policy)
	{
		uint8_t		v[TS_MAX_KEY];
		size_t		vlen;
		ts_keybuf	kb;

		rc = ts_docindex_resolve(txn, ix, a->policy, a->plen, a->version, a->vlen,
								 a->has_version, a->has_as_of, a->as_of, a->today, v, &vlen);
		if (rc == TS_NOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		if (!(vs = malloc(sizeof(SVersion))))
			return TS_NOMEM;
		kb_pv(&kb, a->policy, a->plen, v, vlen);
		memcpy(vs[0].pv, kb.buf, kb.len);
		vs[0].pvlen = kb.len;
		if ((rc = load_vmeta(txn, ix, &vs[0])) != 0)
			goto done;
		nvs = 1;
	}
	else if ((rc = resolve_all(txn, ix, a, &vs, &nvs)) != 0)
		goto done;
	for (size_t i = 0; i < nvs; i++)
	{
		ndocs += (double) vs[i].nodes;
		totlen += (double) vs[i].len;
	}
	if (ndocs <= 0)
		goto done;
	avgdl = totlen > 0 ? totlen / ndocs : 1;

	for (int t = 0; t < a->nterms; t++)
	{
		ts_keybuf	kb;
		uint64_t	df = 0;
		size_t		first = nblobs;
		double		idf;

		/* the term's posting-list chunks in each searched version */
		for (size_t i = 0; i < nvs; i++)
		{
			ts_cursor  *cur;

			ts_key_init(&kb);
			kb_raw(&kb, vs[i].pv, vs[i].pvlen);
			ts_key_add_text(&kb, a->terms[t], a->term_lens[t]);
			if (kb.overflow)
				continue;
			if ((rc = ts_cursor_open(txn, ix->postings, &cur)) != 0)
				goto done;
			if ((rc = ts_cursor_prefix(cur, kb.buf, kb.len)) == 0)
				for (rc = ts_cursor_first(cur); rc == 0; rc = ts_cursor_next(cur))
				{
					ts_slice	k,
								val;

					if ((rc = ts_cursor_get(cur, &k, &val)) != 0)
						break;
					if (nblobs == capblobs)
					{
						size_t		nc = capblobs ? capblobs * 2 : 16;
						SBlob	   *nb = realloc(blobs, nc * sizeof(SBlob));

						if (!nb)
						{
							rc = TS_NOMEM;
							break;
						}
						blobs = nb;
						capblobs = nc;
					}
					blobs[nblobs].pv = vs[i].pv;
					blobs[nblobs].pvlen = vs[i].pvlen;
					blobs[nblobs].data = malloc(val.len ? val.len : 1);
					if (!blobs[nblobs].data)
					{
						rc = TS_NOMEM;
						break;
					}
					memcpy(blobs[nblobs].data, val.data, val.len);
					blobs[nblobs].len = val.len;
					nblobs++;
				}
			ts_cursor_close(cur);
			if (rc != 0 && rc != TS_NOTFOUND)
				goto done;
			rc = 0;
		}
		/* document frequency over the searched versions, then the scores */
		for (size_t i = first; i < nblobs; i++)
		{
			size_t		pos = 0;
			uint32_t	cnt;

			if (ts_varint_get(blobs[i].data, blobs[i].len, &pos, &cnt) != 0)
			{
				rc = TS_CORRUPT;
				goto done;
			}
			df += cnt;
		}
		idf = log(1.0 + (ndocs - (double) df + 0.5) / ((double) df + 0.5));
		for (size_t i = first; i < nblobs; i++)
		{
			Posting    *ps;
			size_t		np;

			if ((rc = postings_decode(blobs[i].data, blobs[i].len, &ps, &np)) != 0)
				goto done;
			for (size_t j = 0; j < np && rc == 0; j++)
			{
				double		tf = (double) TITLE_WEIGHT * ps[j].tft + ps[j].tfb;
				double		s = idf * tf * (BM25_K1 + 1) /
					(tf + BM25_K1 * (1 - BM25_B + BM25_B * (double) ps[j].dl / avgdl));
				ts_keybuf	nk;

				ts_key_init(&nk);
				kb_raw(&nk, blobs[i].pv, blobs[i].pvlen);
				ts_key_add_text(&nk, ps[j].id, ps[j].idlen);
				if (!nk.overflow)
					rc = acc_add(&acc, nk.buf, nk.len, s);
			}
			free(ps);
			if (rc != 0)
				goto done;
		}
	}

	/* the top_k best: a heap of k, the worst on top */
	{
		size_t		k = a->top_k < acc.n ? a->top_k : acc.n;
		size_t		nh = 0;

		heap = malloc(sizeof(size_t) * (k ? k : 1));
		if (!heap)
		{
			rc = TS_NOMEM;
			goto done;
		}
		for (size_t i = 0; i < acc.cap && k > 0; i++)
		{
			if (acc.off[i] == SIZE_MAX)
				continue;
			if (nh < k)
			{
				heap[nh++] = i;
				if (nh == k)
					for (size_t j = k / 2 + 1; j-- > 0;)
						heap_sift(heap, nh, j, &acc);
			}
			else if (hit_cmp(&i, &heap[0], &acc) < 0)
			{
				heap[0] = i;
				heap_sift(heap, nh, 0, &acc);
			}
		}
		qsort_r(heap, nh, sizeof(size_t), hit_cmp, &acc);
		for (size_t i = 0; i < nh; i++)
		{
			const uint8_t *key = acc.arena.data + acc.off[heap[i]];
			size_t		klen = acc.len[heap[i]];
			ts_slice	val;

			rc = ts_get(txn, ix->nodes, key, klen, &val);
			if (rc == TS_NOTFOUND)
			{
				rc = 0;
				continue;
			}
			if (rc != 0 || (rc = emit(arg, key, klen, val.data, val.len, acc.score[heap[i]])) != 0)
				goto done;
		}
	}
done:
	for (size_t i = 0; i < nblobs; i++)
		free(blobs[i].data);
	free(blobs);
	free(heap);
	free(vs);
	acc_free(&acc);
	return rc;
}
