/*-------------------------------------------------------------------------
 *
 * btree.c
 *	  Copy-on-write B+trees: lookup, insert, delete with merge and
 *	  redistribution, and overflow chains for large values.
 *
 *	  Cursors are in btcursor.c, the page accessors in page.h, the tree
 *	  checker in check.c.
 *
 * INVARIANTS
 *	  1. Committed pages are never modified.  A write first "touches" every
 *	     page on its path top-down: a page this commit did not create is
 *	     copied to a newly allocated page, the old one is freed (to be reused
 *	     only after every snapshot that can see it has ended), and the parent
 *	     (already dirty) is pointed at the copy.
 *	  2. Keys in a page are strictly increasing (ts_keycmp).  Branch cell i
 *	     holds the child for keys in [key_i, key_i+1); cell 0's key is empty
 *	     and stands for minus infinity.  All leaves are at the same depth.
 *	  3. Every cell is at most TS_MAX_CELL bytes (a value that would make it
 *	     larger lives in an overflow chain), so every page holds at least four
 *	     cells and a split into two halves always fits.
 *	  4. Sequential inserts at the right edge of a tree split "append style"
 *	     (the old page stays full, the new one takes the new cell), so
 *	     document-order loads fill pages; other splits halve by bytes.
 *	  5. A page whose cells fill less than a quarter of it after a delete is
 *	     merged with a sibling when both fit in one page, else the two are
 *	     redistributed evenly.  An emptied page is removed from its parent;
 *	     a root branch with one child is replaced by that child.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "page.h"

#define UNDERFLOW	(TS_PAGE_SIZE / 4)

/* ---------- vectors ---------- */

int
ts_u64vec_push(ts_u64vec *a, uint64_t x)
{
	if (a->n == a->cap)
	{
		size_t		ncap = a->cap ? a->cap * 2 : 64;
		uint64_t   *nv = realloc(a->v, ncap * sizeof(uint64_t));

		if (nv == NULL)
			return ts_error(TS_NOMEM, "out of memory");
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = x;
	return 0;
}

static void
u64_insertion_sort(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
	{
		uint64_t	x = v[i];
		size_t		j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/*
 * Quicksort (median-of-three pivot, Hoare partition), recursing into the
 * smaller part, insertion sort for short runs: no allocation, no comparator
 * calls (qsort's merge sort with a callback cost commits several
 * microseconds each in the freelist).
 */
static void
u64_quicksort(uint64_t *v, size_t n)
{
	while (n > 16)
	{
		uint64_t	a = v[0],
					b = v[n / 2],
					c = v[n - 1],
					p;
		size_t		i = 0,
					j = n - 1;

		p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
		for (;;)
		{
			uint64_t	t;

			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i >= j)
				break;
			t = v[i];
			v[i] = v[j];
			v[j] = t;
			i++;
			j--;
		}
		/* [0, j] <= p <= [j + 1, n); both non-empty */
		if (j + 1 < n - (j + 1))
		{
			u64_quicksort(v, j + 1);
			v += j + 1;
			n -= j + 1;
		}
		else
		{
			u64_quicksort(v + j + 1, n - (j + 1));
			n = j + 1;
		}
	}
	u64_insertion_sort(v, n);
}

void
ts_u64vec_sort(ts_u64vec *a)
{
	size_t		i = 1;

	while (i < a->n && a->v[i - 1] <= a->v[i])
		i++;
	if (i < a->n)				/* not sorted already */
		u64_quicksort(a->v, a->n);
}

void
ts_u64vec_free(ts_u64vec *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

static void
page_init(uint8_t *p, int type)
{
	p[PH_TYPE] = (uint8_t) type;
	p[PH_FLAGS] = 0;
	wr16(p + PH_NKEYS, 0);
	wr16(p + PH_LOWER, TS_PH_SIZE);
	wr16(p + PH_UPPER, TS_PAGE_SIZE);
	wr32(p + 28, 0);
}

typedef struct cellref
{
	const uint8_t *p;
	size_t		sz;
} cellref;

/* Rebuild page p (keeping its number) from cells that may point into p. */
static void
page_build(uint8_t *p, int type, const cellref *cells, int n)
{
	uint8_t		tmp[TS_PAGE_SIZE];
	uint16_t	upper = TS_PAGE_SIZE;

	memcpy(tmp, p, TS_PH_SIZE);
	page_init(tmp, type);
	for (int i = 0; i < n; i++)
	{
		upper -= (uint16_t) cells[i].sz;
		memcpy(tmp + upper, cells[i].p, cells[i].sz);
		wr16(tmp + TS_PH_SIZE + 2 * i, upper);
	}
	wr16(tmp + PH_NKEYS, (uint16_t) n);
	wr16(tmp + PH_LOWER, (uint16_t) (TS_PH_SIZE + 2 * n));
	wr16(tmp + PH_UPPER, upper);
	memcpy(p, tmp, TS_PAGE_SIZE);
}

static void
page_compact(uint8_t *p)
{
	cellref		cells[TS_PAGE_SIZE / 4];
	int			n = nkeys(p);

	for (int i = 0; i < n; i++)
	{
		cells[i].p = cellp(p, i);
		cells[i].sz = cell_size(p, cells[i].p);
	}
	page_build(p, p[PH_TYPE], cells, n);
}

/* Insert a cell at index i if it fits (compacting if needed). */
static int
page_insert(uint8_t *p, int i, const uint8_t *cell, size_t sz)
{
	int			n = nkeys(p);
	uint16_t	lower = rd16(p + PH_LOWER),
				upper = rd16(p + PH_UPPER);

	if ((size_t) (upper - lower) < sz + 2)
	{
		if (TS_PAGE_SIZE - TS_PH_SIZE - used_bytes(p) < sz + 2)
			return 0;
		page_compact(p);
		lower = rd16(p + PH_LOWER);
		upper = rd16(p + PH_UPPER);
	}
	upper -= (uint16_t) sz;
	memcpy(p + upper, cell, sz);
	memmove(p + TS_PH_SIZE + 2 * (i + 1), p + TS_PH_SIZE + 2 * i, 2 * (size_t) (n - i));
	wr16(p + TS_PH_SIZE + 2 * i, upper);
	wr16(p + PH_NKEYS, (uint16_t) (n + 1));
	wr16(p + PH_LOWER, (uint16_t) (lower + 2));
	wr16(p + PH_UPPER, upper);
	return 1;
}

static void
page_remove(uint8_t *p, int i)
{
	int			n = nkeys(p);
	uint16_t	off = rd16(p + TS_PH_SIZE + 2 * i);

	if (off == rd16(p + PH_UPPER))
		wr16(p + PH_UPPER, (uint16_t) (off + cell_size(p, p + off)));
	memmove(p + TS_PH_SIZE + 2 * i, p + TS_PH_SIZE + 2 * (i + 1), 2 * (size_t) (n - i - 1));
	wr16(p + PH_NKEYS, (uint16_t) (n - 1));
	wr16(p + PH_LOWER, (uint16_t) (rd16(p + PH_LOWER) - 2));
}

static size_t
make_branch_cell(uint8_t *buf, uint64_t child, const uint8_t *key, size_t klen)
{
	wr64(buf, child);
	wr16(buf + 8, (uint16_t) klen);
	if (klen)
		memcpy(buf + 10, key, klen);
	return 10 + klen;
}

/* Make branch cell 0 keyless (after the old cell 0 was removed). */
static void
branch_strip_first(uint8_t *p)
{
	uint8_t		buf[16];
	uint64_t	child;

	if (nkeys(p) == 0 || rd16(cellp(p, 0) + 8) == 0)
		return;
	child = branch_child(p, 0);
	page_remove(p, 0);
	page_insert(p, 0, buf, make_branch_cell(buf, child, NULL, 0));
}

/* ---------- overflow chains ---------- */

static int
ovf_write(ts_wctx *w, const uint8_t *val, size_t vlen, uint64_t *first)
{
	size_t		npages = (vlen + TS_OVF_DATA - 1) / TS_OVF_DATA;
	uint8_t    *buf = aligned_alloc(TS_PAGE_SIZE, TS_PAGE_SIZE);
	uint64_t	cur = 0,
				next = 0;
	int			rc = 0;

	if (buf == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	if ((rc = ts_page_alloc(w, &cur)) != 0)
		goto done;
	*first = cur;
	for (size_t i = 0; i < npages; i++)
	{
		size_t		off = i * TS_OVF_DATA;
		size_t		n = vlen - off < TS_OVF_DATA ? vlen - off : TS_OVF_DATA;

		next = 0;
		if (i + 1 < npages && (rc = ts_page_alloc(w, &next)) != 0)
			goto done;
		ts_pager_forget(w->pager, cur);
		memset(buf, 0, TS_PAGE_SIZE);
		buf[PH_TYPE] = TS_PT_OVERFLOW;
		wr64(buf + PH_NEXT, next);
		memcpy(buf + TS_PH_SIZE, val + off, n);
		if ((rc = ts_pager_write_raw(w->pager, cur, buf, w->txnid)) != 0)
			goto done;
		cur = next;
	}
done:
	free(buf);
	return rc;
}

int
ts_ovf_read(ts_pager *pg, uint64_t first, size_t total, uint8_t *dst)
{
	uint64_t	cur = first;
	size_t		off = 0;
	int			rc = 0;

	/* through the page cache: a value read once (a node's text) is read again */
	while (off < total || off == 0)
	{
		size_t		n = total - off < TS_OVF_DATA ? total - off : TS_OVF_DATA;
		ts_frame   *f;

		if (cur == 0)
		{
			rc = ts_error(TS_CORRUPT, "%s: overflow chain from page %llu ends after %zu of %zu bytes",
						  ts_pager_path(pg), (unsigned long long) first, off, total);
			break;
		}
		if ((rc = ts_pager_get(pg, cur, TS_PT_OVERFLOW, &f)) != 0)
			break;
		memcpy(dst + off, f->data + TS_PH_SIZE, n);
		off += n;
		cur = rd64(f->data + PH_NEXT);
		ts_pager_release(pg, f);
		if (off >= total)
			break;
	}
	if (rc == 0 && cur != 0)
		rc = ts_error(TS_CORRUPT, "%s: overflow chain from page %llu is longer than its value",
					  ts_pager_path(pg), (unsigned long long) first);
	return rc;
}

static int
ovf_free(ts_wctx *w, uint64_t first)
{
	uint8_t    *buf = aligned_alloc(TS_PAGE_SIZE, TS_PAGE_SIZE);
	uint64_t	cur = first;
	uint64_t	guard = 0;
	int			rc = 0;

	if (buf == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	while (cur != 0)
	{
		if ((rc = ts_pager_read_raw(w->pager, cur, TS_PT_OVERFLOW, buf)) != 0)
			break;
		if ((rc = ts_page_free(w, cur)) != 0)
			break;
		cur = rd64(buf + PH_NEXT);
		if (++guard > (TS_MAX_STORED_VALUE / TS_OVF_DATA) + 1)
		{
			rc = ts_error(TS_CORRUPT, "%s: overflow chain from page %llu loops",
						  ts_pager_path(w->pager), (unsigned long long) first);
			break;
		}
	}
	free(buf);
	return rc;
}

/* If leaf cell c holds an overflow value, free its chain. */
static int
cell_free_overflow(ts_wctx *w, const uint8_t *c)
{
	if (rd16(c + 2) != TS_VAL_OVERFLOW)
		return 0;
	return ovf_free(w, rd64(c + 4 + rd16(c) + 8));
}

/* ---------- reads ---------- */

int
ts_bt_get(ts_pager *pg, const ts_treeinfo *t, const uint8_t *key, size_t klen,
		  const uint8_t **val, size_t *vlen, ts_frame **hold, uint8_t **buf)
{
	uint64_t	pgno = t->root;
	ts_frame   *f;
	int			rc,
				exact,
				i;
	const uint8_t *c;

	uint64_t	ptx = UINT64_MAX;	/* the parent's txnid (none for the root) */

	*hold = NULL;
	*buf = NULL;
	if (pgno == 0)
		return TS_NOTFOUND;
	for (uint32_t level = 1; level < t->depth; level++)
	{
		if ((rc = ts_pager_get_child(pg, pgno, TS_PT_BRANCH, ptx, &f)) != 0)
			return rc;
		if (nkeys(f->data) == 0)
		{
			ts_pager_release(pg, f);
			return TS_NOTFOUND;
		}
		pgno = branch_child(f->data, branch_search(f->data, key, klen));
		ptx = rd64(f->data + PH_TXNID);
		ts_pager_release(pg, f);
	}
	if ((rc = ts_pager_get_child(pg, pgno, TS_PT_LEAF, ptx, &f)) != 0)
		return rc;
	i = leaf_search(f->data, key, klen, &exact);
	if (!exact)
	{
		ts_pager_release(pg, f);
		return TS_NOTFOUND;
	}
	c = ccellp(f->data, i);
	if (rd16(c + 2) != TS_VAL_OVERFLOW)
	{
		*val = c + 4 + rd16(c);
		*vlen = rd16(c + 2);
		*hold = f;
		return 0;
	}
	else
	{
		const uint8_t *o = c + 4 + rd16(c);
		size_t		total = rd64(o);
		uint64_t	first = rd64(o + 8);

		ts_pager_release(pg, f);
		if (total > TS_MAX_STORED_VALUE)
			return ts_error(TS_CORRUPT, "%s: leaf page %llu: overflow value length %zu out of range",
							ts_pager_path(pg), (unsigned long long) pgno, total);
		*buf = malloc(total ? total : 1);
		if (*buf == NULL)
			return ts_error(TS_NOMEM, "out of memory for a %zu-byte value", total);
		if ((rc = ts_ovf_read(pg, first, total, *buf)) != 0)
		{
			free(*buf);
			*buf = NULL;
			return rc;
		}
		*val = *buf;
		*vlen = total;
		return 0;
	}
}

/* ---------- writes ---------- */

typedef struct wpath
{
	int			depth;
	ts_frame   *f[TS_MAX_DEPTH];	/* dirty frames, pinned by the commit */
	int			idx[TS_MAX_DEPTH];	/* child index taken (branch), slot (leaf) */
} wpath;

/*
 * Make page `pgno` writable in this commit: return its dirty frame, copying
 * it to a new page first if it is committed.  *moved tells whether the page
 * number changed.
 */
static int
touch_child(ts_wctx *w, uint64_t pgno, int type, uint64_t ptx, uint64_t *otx, ts_frame **out)
{
	ts_frame   *f,
			   *nf;
	uint64_t	npg;
	int			rc;

	if ((rc = ts_pager_get_child(w->pager, pgno, type, ptx, &f)) != 0)
		return rc;
	if (otx)
		*otx = rd64(f->data + PH_TXNID);	/* before any copy */
	if (f->born == w->txnid && f->dirty)
	{
		/*
		 * made by this commit: still private, change it in place (born
		 * first: a checkpoint may be marking older frames clean meanwhile)
		 */
		ts_pager_release(w->pager, f);	/* the dirty page's own pin keeps it */
		*out = f;
		return 0;
	}
	if ((rc = ts_page_alloc(w, &npg)) != 0 ||
		(rc = ts_pager_new_page(w->pager, npg, w->txnid, &nf)) != 0)
	{
		ts_pager_release(w->pager, f);
		return rc;
	}
	memcpy(nf->data + PH_TYPE, f->data + PH_TYPE, TS_PAGE_SIZE - PH_TYPE);
	wr64(nf->data + PH_PGNO, npg);
	wr64(nf->data + PH_TXNID, w->txnid);	/* the copy is this commit's page */
	ts_pager_release(w->pager, f);
	if ((rc = ts_u64vec_push(&w->dirty, npg)) != 0 ||
		(rc = ts_page_free(w, pgno)) != 0)
		return rc;
	*out = nf;
	return 0;
}

static int
touch(ts_wctx *w, uint64_t pgno, int type, ts_frame **out)
{
	return touch_child(w, pgno, type, UINT64_MAX, NULL, out);
}

static inline uint64_t
frame_pgno(ts_frame *f)
{
	return rd64(f->data + PH_PGNO);
}

/* A new, empty, dirty page of the given type. */
static int
new_page(ts_wctx *w, int type, ts_frame **out)
{
	uint64_t	pgno;
	int			rc;

	if ((rc = ts_page_alloc(w, &pgno)) != 0 ||
		(rc = ts_pager_new_page(w->pager, pgno, w->txnid, out)) != 0 ||
		(rc = ts_u64vec_push(&w->dirty, pgno)) != 0)
		return rc;
	page_init((*out)->data, type);
	return 0;
}

/*
 * Descend from the root to the leaf for `key`, touching every page, and
 * record the path.
 */
static int
descend_touch(ts_wctx *w, ts_treeinfo *t, const uint8_t *key, size_t klen, wpath *path)
{
	uint64_t	pgno = t->root,
				ptx = UINT64_MAX;	/* the parent's txnid before it was copied */
	int			rc;

	if (t->depth > TS_MAX_DEPTH)
		return ts_error(TS_CORRUPT, "%s: tree depth %u out of range",
						ts_pager_path(w->pager), t->depth);
	path->depth = (int) t->depth;
	for (int level = 0; level < path->depth; level++)
	{
		int			leaf = (level == path->depth - 1);
		ts_frame   *f;

		if ((rc = touch_child(w, pgno, leaf ? TS_PT_LEAF : TS_PT_BRANCH, ptx, &ptx, &f)) != 0)
			return rc;
		if (level == 0)
			t->root = frame_pgno(f);
		else
			wr64(cellp(path->f[level - 1]->data, path->idx[level - 1]), frame_pgno(f));
		path->f[level] = f;
		if (!leaf)
		{
			if (nkeys(f->data) == 0)
				return ts_error(TS_CORRUPT, "%s: branch page %llu is empty",
								ts_pager_path(w->pager), (unsigned long long) frame_pgno(f));
			path->idx[level] = branch_search(f->data, key, klen);
			pgno = branch_child(f->data, path->idx[level]);
		}
	}
	return 0;
}

/* Is the path at the right edge of the tree above `level`? */
static int
rightmost(const wpath *path, int level)
{
	for (int l = 0; l < level; l++)
		if (path->idx[l] != nkeys(path->f[l]->data) - 1)
			return 0;
	return 1;
}

/*
 * Insert `cell` at slot i of the page at `level`, splitting upward as
 * needed.
 */
static int
insert_cell(ts_wctx *w, ts_treeinfo *t, wpath *path, int level, int i,
			const uint8_t *cell, size_t sz)
{
	uint8_t		cellbuf[TS_PAGE_SIZE];
	uint8_t		copy[TS_PAGE_SIZE];
	uint8_t		newcell[TS_PAGE_SIZE];
	int			rc;

	memcpy(cellbuf, cell, sz);
	for (;;)
	{
		uint8_t    *p = path->f[level]->data;
		int			type = p[PH_TYPE];
		int			n = nkeys(p);
		cellref		cells[TS_PAGE_SIZE / 4 + 2];
		int			total = n + 1;
		int			s;
		size_t		sum = 0,
					half = 0;
		ts_frame   *rf;
		const uint8_t *sk;
		size_t		skl;

		if (page_insert(p, i, cellbuf, sz))
			return 0;

		/* split: gather the cells with the new one in place */
		memcpy(copy, p, TS_PAGE_SIZE);
		for (int j = 0, k = 0; j < total; j++)
		{
			if (j == i)
			{
				cells[j].p = newcell;
				cells[j].sz = sz;
			}
			else
			{
				cells[j].p = ccellp(copy, k);
				cells[j].sz = cell_size(copy, cells[j].p);
				k++;
			}
		}
		memcpy(newcell, cellbuf, sz);

		if (i == n && rightmost(path, level))
			s = n;				/* appending at the right edge */
		else
		{
			for (int j = 0; j < total; j++)
				sum += cells[j].sz + 2;
			for (s = 0; s < total - 1 && half + cells[s].sz + 2 <= sum / 2; s++)
				half += cells[s].sz + 2;
			if (s == 0)
				s = 1;
		}

		if ((rc = new_page(w, type, &rf)) != 0)
			return rc;
		cell_key(copy, cells[s].p, &sk, &skl);
		{
			uint8_t		sep[TS_MAX_KEY + 16];
			size_t		sepl = skl;

			memcpy(sep, sk, skl);
			page_build(p, type, cells, s);
			if (type == TS_PT_LEAF)
				page_build(rf->data, type, cells + s, total - s);
			else
			{
				uint8_t		first[16];
				cellref		save = cells[s];

				cells[s].p = first;
				cells[s].sz = make_branch_cell(first, rd64(save.p), NULL, 0);
				page_build(rf->data, type, cells + s, total - s);
			}

			if (level == 0)
			{
				ts_frame   *root;
				uint8_t		c0[16];
				size_t		c0l;

				if ((rc = new_page(w, TS_PT_BRANCH, &root)) != 0)
					return rc;
				c0l = make_branch_cell(c0, frame_pgno(path->f[0]), NULL, 0);
				page_insert(root->data, 0, c0, c0l);
				c0l = make_branch_cell(cellbuf, frame_pgno(rf), sep, sepl);
				page_insert(root->data, 1, cellbuf, c0l);
				t->root = frame_pgno(root);
				t->depth++;
				if (t->depth > TS_MAX_DEPTH)
					return ts_error(TS_FULL, "tree too deep");
				return 0;
			}
			sz = make_branch_cell(cellbuf, frame_pgno(rf), sep, sepl);
		}
		level--;
		i = path->idx[level] + 1;
	}
}

int
ts_bt_put(ts_wctx *w, ts_treeinfo *t, const uint8_t *key, size_t klen,
		  const uint8_t *val, size_t vlen)
{
	uint8_t		cell[TS_MAX_CELL + 16];
	size_t		sz;
	wpath		path;
	int			rc,
				exact,
				i;
	uint8_t    *leaf;

	if (klen == 0 || klen > TS_MAX_KEY)
		return ts_error(TS_KEY_TOO_BIG, "key of %zu bytes (allowed: 1 to %d)", klen, TS_MAX_KEY);
	if (vlen > TS_MAX_VALUE)
		return ts_error(TS_VALUE_TOO_BIG, "value of %zu bytes is longer than the limit", vlen);
	wr16(cell, (uint16_t) klen);
	memcpy(cell + 4, key, klen);
	if (4 + klen + vlen <= TS_MAX_CELL)
	{
		wr16(cell + 2, (uint16_t) vlen);
		if (vlen)
			memcpy(cell + 4 + klen, val, vlen);
		sz = 4 + klen + vlen;
	}
	else
	{
		uint64_t	first = 0;

		if ((rc = ovf_write(w, val, vlen, &first)) != 0)
			return rc;
		wr16(cell + 2, TS_VAL_OVERFLOW);
		wr64(cell + 4 + klen, vlen);
		wr64(cell + 4 + klen + 8, first);
		sz = 4 + klen + 16;
	}

	if (t->root == 0)
	{
		ts_frame   *f;

		if ((rc = new_page(w, TS_PT_LEAF, &f)) != 0)
			return rc;
		page_insert(f->data, 0, cell, sz);
		t->root = frame_pgno(f);
		t->depth = 1;
		t->entries = 1;
		return 0;
	}
	if ((rc = descend_touch(w, t, key, klen, &path)) != 0)
		return rc;
	leaf = path.f[path.depth - 1]->data;
	i = leaf_search(leaf, key, klen, &exact);
	if (exact)
	{
		if ((rc = cell_free_overflow(w, cellp(leaf, i))) != 0)
			return rc;
		page_remove(leaf, i);
	}
	else
		t->entries++;
	path.idx[path.depth - 1] = i;
	return insert_cell(w, t, &path, path.depth - 1, i, cell, sz);
}

/* Remove child slot `ci` from the branch at `level` (its page already freed). */
static void
branch_remove_child(wpath *path, int level, int ci)
{
	uint8_t    *p = path->f[level]->data;

	page_remove(p, ci);
	if (ci == 0)
		branch_strip_first(p);
}

/*
 * After a delete at `level`, merge or redistribute underfull pages, walking
 * up.  Pages on the path are dirty.
 */
static int
rebalance(ts_wctx *w, ts_treeinfo *t, wpath *path, int level)
{
	int			rc;

	for (; level >= 0; level--)
	{
		uint8_t    *p = path->f[level]->data;
		int			type = p[PH_TYPE];
		int			n = nkeys(p);
		uint8_t    *parent;
		int			pi,
					pn,
					li,
					ri;
		ts_frame   *sib,
				   *L,
				   *R;

		if (level == 0)
		{
			/* the root: empty leaf, or branch with one child, shrinks */
			if (n == 0)
			{
				if ((rc = ts_page_free(w, frame_pgno(path->f[0]))) != 0)
					return rc;
				t->root = 0;
				t->depth = 0;
				return 0;
			}
			while (type == TS_PT_BRANCH && n == 1)
			{
				uint64_t	child = branch_child(p, 0);
				ts_frame   *cf;

				if ((rc = ts_page_free(w, frame_pgno(path->f[0]))) != 0)
					return rc;
				t->root = child;
				t->depth--;
				if ((rc = touch(w, child, t->depth == 1 ? TS_PT_LEAF : TS_PT_BRANCH, &cf)) != 0)
					return rc;
				t->root = frame_pgno(cf);
				path->f[0] = cf;
				p = cf->data;
				type = p[PH_TYPE];
				n = nkeys(p);
				if (n == 0)
				{
					if ((rc = ts_page_free(w, t->root)) != 0)
						return rc;
					t->root = 0;
					t->depth = 0;
					return 0;
				}
			}
			return 0;
		}

		parent = path->f[level - 1]->data;
		pi = path->idx[level - 1];
		pn = nkeys(parent);

		if (n == 0)
		{
			/* an empty page leaves its parent */
			if ((rc = ts_page_free(w, frame_pgno(path->f[level]))) != 0)
				return rc;
			branch_remove_child(path, level - 1, pi);
			continue;
		}
		if (used_bytes(p) >= UNDERFLOW || pn < 2)
			return 0;

		/* pick a sibling: the left one if any */
		li = pi > 0 ? pi - 1 : pi;
		ri = li + 1;
		{
			int			si = (li == pi) ? ri : li;

			if ((rc = touch(w, branch_child(parent, si), type, &sib)) != 0)
				return rc;
			wr64(cellp(parent, si), frame_pgno(sib));
			L = (li == pi) ? path->f[level] : sib;
			R = (li == pi) ? sib : path->f[level];
		}

		{
			uint8_t		lcopy[TS_PAGE_SIZE],
						rcopy[TS_PAGE_SIZE];
			uint8_t		sepcell[TS_MAX_KEY + 16];
			cellref		cells[TS_PAGE_SIZE / 2 + 2];
			int			ln = nkeys(L->data),
						rn = nkeys(R->data),
						total = 0;
			size_t		sum = 0,
						half = 0;
			int			s;

			memcpy(lcopy, L->data, TS_PAGE_SIZE);
			memcpy(rcopy, R->data, TS_PAGE_SIZE);
			for (int j = 0; j < ln; j++)
			{
				cells[total].p = ccellp(lcopy, j);
				cells[total].sz = cell_size(lcopy, cells[total].p);
				total++;
			}
			for (int j = 0; j < rn; j++)
			{
				cells[total].p = ccellp(rcopy, j);
				cells[total].sz = cell_size(rcopy, cells[total].p);
				if (j == 0 && type == TS_PT_BRANCH)
				{
					/* R's first child gets the parent's separator as key */
					const uint8_t *pc = ccellp(parent, ri);

					cells[total].p = sepcell;
					cells[total].sz = make_branch_cell(sepcell, rd64(ccellp(rcopy, 0)),
													   pc + 10, rd16(pc + 8));
				}
				total++;
			}
			for (int j = 0; j < total; j++)
				sum += cells[j].sz + 2;

			if (sum <= TS_PAGE_SIZE - TS_PH_SIZE)
			{
				/* merge R into L */
				page_build(L->data, type, cells, total);
				if ((rc = ts_page_free(w, frame_pgno(R))) != 0)
					return rc;
				branch_remove_child(path, level - 1, ri);
				path->idx[level - 1] = li;
				path->f[level] = L;
				continue;
			}

			/* redistribute evenly and replace the separator */
			for (s = 0; s < total - 1 && half + cells[s].sz + 2 <= sum / 2; s++)
				half += cells[s].sz + 2;
			if (s == 0)
				s = 1;
			{
				uint8_t		sep[TS_MAX_KEY + 16];
				const uint8_t *sk;
				size_t		skl;
				uint8_t		pcell[TS_MAX_KEY + 16];
				size_t		pcl;
				uint8_t		first[16];

				cell_key(type == TS_PT_LEAF ? lcopy : rcopy, cells[s].p, &sk, &skl);
				if (type == TS_PT_BRANCH)
				{
					sk = cells[s].p + 10;
					skl = rd16(cells[s].p + 8);
				}
				memcpy(sep, sk, skl);
				page_build(L->data, type, cells, s);
				if (type == TS_PT_BRANCH)
				{
					cells[s].sz = make_branch_cell(first, rd64(cells[s].p), NULL, 0);
					cells[s].p = first;
				}
				page_build(R->data, type, cells + s, total - s);
				page_remove(parent, ri);
				pcl = make_branch_cell(pcell, frame_pgno(R), sep, skl);
				path->idx[level - 1] = ri;
				return insert_cell(w, t, path, level - 1, ri, pcell, pcl);
			}
		}
	}
	return 0;
}

int
ts_bt_del(ts_wctx *w, ts_treeinfo *t, const uint8_t *key, size_t klen, int *found)
{
	wpath		path;
	int			rc,
				exact,
				i;
	uint8_t    *leaf;

	*found = 0;
	if (t->root == 0 || klen == 0 || klen > TS_MAX_KEY)
		return 0;
	/* look before touching: deleting a missing key changes nothing */
	{
		const uint8_t *v;
		size_t		vl;
		ts_frame   *hold;
		uint8_t    *buf;

		rc = ts_bt_get(w->pager, t, key, klen, &v, &vl, &hold, &buf);
		if (rc == TS_NOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		ts_pager_release(w->pager, hold);
		free(buf);
	}
	if ((rc = descend_touch(w, t, key, klen, &path)) != 0)
		return rc;
	leaf = path.f[path.depth - 1]->data;
	i = leaf_search(leaf, key, klen, &exact);
	if (!exact)
		return ts_error(TS_CORRUPT, "%s: key vanished between lookup and delete", ts_pager_path(w->pager));
	if ((rc = cell_free_overflow(w, cellp(leaf, i))) != 0)
		return rc;
	page_remove(leaf, i);
	t->entries--;
	*found = 1;
	return rebalance(w, t, &path, path.depth - 1);
}

/* Free a subtree rooted at pgno (iterative, with an explicit stack). */
int
ts_bt_drop(ts_wctx *w, ts_treeinfo *t)
{
	uint64_t	stack_pg[TS_MAX_DEPTH];
	int			stack_i[TS_MAX_DEPTH];
	int			sp = 0,
				rc;

	if (t->root == 0)
		return 0;
	stack_pg[0] = t->root;
	stack_i[0] = 0;
	sp = 1;
	while (sp > 0)
	{
		ts_frame   *f;
		int			leaf = (sp == (int) t->depth);

		if ((rc = ts_pager_get(w->pager, stack_pg[sp - 1], leaf ? TS_PT_LEAF : TS_PT_BRANCH, &f)) != 0)
			return rc;
		if (leaf)
		{
			for (int i = 0; i < nkeys(f->data); i++)
				if ((rc = cell_free_overflow(w, ccellp(f->data, i))) != 0)
				{
					ts_pager_release(w->pager, f);
					return rc;
				}
		}
		if (!leaf && stack_i[sp - 1] < nkeys(f->data))
		{
			uint64_t	child = branch_child(f->data, stack_i[sp - 1]++);

			ts_pager_release(w->pager, f);
			stack_pg[sp] = child;
			stack_i[sp] = 0;
			sp++;
			continue;
		}
		ts_pager_release(w->pager, f);
		if ((rc = ts_page_free(w, stack_pg[sp - 1])) != 0)
			return rc;
		sp--;
	}
	t->root = 0;
	t->depth = 0;
	t->entries = 0;
	return 0;
}
