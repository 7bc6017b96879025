/*-------------------------------------------------------------------------
 *
 * btcursor.c
 *	  Cursors over one tree of one snapshot.
 *
 *	  A cursor keeps the path from the root as (page number, index) pairs
 *	  and pins only its current leaf, so a scan reads each leaf's cells in
 *	  place; branch pages are looked up again when the cursor climbs.  The
 *	  snapshot is immutable, so the path stays valid for the cursor's life.
 *	  Empty leaves (possible under a one-child branch) are stepped over.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "page.h"

void
ts_btcur_init(ts_btcur *c, ts_pager *pg, const ts_treeinfo *t)
{
	memset(c, 0, sizeof(*c));
	c->pager = pg;
	c->tree = *t;
}

static void
cur_unpin(ts_btcur *c)
{
	if (c->leaf)
	{
		ts_pager_release(c->pager, c->leaf);
		c->leaf = NULL;
	}
	c->valid = 0;
}

void
ts_btcur_done(ts_btcur *c)
{
	cur_unpin(c);
	free(c->ovf);
	c->ovf = NULL;
	c->ovf_cap = 0;
}

/*
 * From level `level` (whose page and index are set), descend to a leaf
 * along the first (dir > 0) or last (dir < 0) children.
 */
static int
cur_descend(ts_btcur *c, int level, int dir)
{
	int			rc;
	uint64_t	ptx = UINT64_MAX;	/* parent's txnid: a child is never newer */

	for (; level < (int) c->tree.depth - 1; level++)
	{
		ts_frame   *f;
		uint64_t	child;

		if ((rc = ts_pager_get_child(c->pager, c->pg[level], TS_PT_BRANCH, ptx, &f)) != 0)
			return rc;
		child = branch_child(f->data, c->idx[level]);
		ptx = rd64(f->data + PH_TXNID);
		ts_pager_release(c->pager, f);
		c->pg[level + 1] = child;
		if (dir < 0)
		{
			if ((rc = ts_pager_get_child(c->pager, child,
										 level + 1 == (int) c->tree.depth - 1 ? TS_PT_LEAF : TS_PT_BRANCH,
										 ptx, &f)) != 0)
				return rc;
			c->idx[level + 1] = nkeys(f->data) - 1;
			ts_pager_release(c->pager, f);
		}
		else
			c->idx[level + 1] = 0;
	}
	return ts_pager_get_child(c->pager, c->pg[c->tree.depth - 1], TS_PT_LEAF, ptx, &c->leaf);
}

/*
 * The cursor's leaf index is out of its page: move to the neighbouring leaf
 * in direction dir, skipping empty ones.
 */
static int
cur_step_leaf(ts_btcur *c, int dir)
{
	int			rc;

	for (;;)
	{
		int			level = (int) c->tree.depth - 1;
		int			n;

		if (c->leaf)
		{
			n = nkeys(c->leaf->data);
			if (c->idx[level] >= 0 && c->idx[level] < n)
			{
				c->valid = 1;
				return 0;
			}
			ts_pager_release(c->pager, c->leaf);
			c->leaf = NULL;
		}
		/* climb to a branch with a sibling in direction dir */
		for (level--; level >= 0; level--)
		{
			ts_frame   *f;

			if ((rc = ts_pager_get(c->pager, c->pg[level], TS_PT_BRANCH, &f)) != 0)
				return rc;
			n = nkeys(f->data);
			ts_pager_release(c->pager, f);
			if (dir > 0 && c->idx[level] + 1 < n)
			{
				c->idx[level]++;
				break;
			}
			if (dir < 0 && c->idx[level] > 0)
			{
				c->idx[level]--;
				break;
			}
		}
		if (level < 0)
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		if ((rc = cur_descend(c, level, dir)) != 0)
			return rc;
		if (dir < 0)
			c->idx[c->tree.depth - 1] = nkeys(c->leaf->data) - 1;
	}
}

static int
cur_edge(ts_btcur *c, int dir)
{
	int			rc;
	ts_frame   *f;

	cur_unpin(c);
	if (c->tree.root == 0)
		return TS_NOTFOUND;
	c->pg[0] = c->tree.root;
	if (c->tree.depth == 1)
	{
		if ((rc = ts_pager_get(c->pager, c->pg[0], TS_PT_LEAF, &c->leaf)) != 0)
			return rc;
		c->idx[0] = dir > 0 ? 0 : nkeys(c->leaf->data) - 1;
		return cur_step_leaf(c, dir);
	}
	if ((rc = ts_pager_get(c->pager, c->pg[0], TS_PT_BRANCH, &f)) != 0)
		return rc;
	c->idx[0] = dir > 0 ? 0 : nkeys(f->data) - 1;
	ts_pager_release(c->pager, f);
	if ((rc = cur_descend(c, 0, dir)) != 0)
		return rc;
	c->idx[c->tree.depth - 1] = dir > 0 ? 0 : nkeys(c->leaf->data) - 1;
	return cur_step_leaf(c, dir);
}

int
ts_btcur_first(ts_btcur *c)
{
	return cur_edge(c, 1);
}

int
ts_btcur_last(ts_btcur *c)
{
	return cur_edge(c, -1);
}

int
ts_btcur_seek(ts_btcur *c, const uint8_t *key, size_t klen)
{
	int			rc,
				exact;
	int			last = (int) c->tree.depth - 1;
	uint64_t	ptx = UINT64_MAX;

	cur_unpin(c);
	if (c->tree.root == 0)
		return TS_NOTFOUND;
	c->pg[0] = c->tree.root;
	for (int level = 0; level < last; level++)
	{
		ts_frame   *f;

		if ((rc = ts_pager_get_child(c->pager, c->pg[level], TS_PT_BRANCH, ptx, &f)) != 0)
			return rc;
		if (nkeys(f->data) == 0)
		{
			ts_pager_release(c->pager, f);
			return ts_error(TS_CORRUPT, "%s: branch page %llu is empty",
							ts_pager_path(c->pager), (unsigned long long) c->pg[level]);
		}
		c->idx[level] = branch_search(f->data, key, klen);
		c->pg[level + 1] = branch_child(f->data, c->idx[level]);
		ptx = rd64(f->data + PH_TXNID);
		ts_pager_release(c->pager, f);
	}
	if ((rc = ts_pager_get_child(c->pager, c->pg[last], TS_PT_LEAF, ptx, &c->leaf)) != 0)
		return rc;
	c->idx[last] = leaf_search(c->leaf->data, key, klen, &exact);
	return cur_step_leaf(c, 1);
}

int
ts_btcur_next(ts_btcur *c)
{
	if (!c->valid)
		return TS_NOTFOUND;
	c->idx[c->tree.depth - 1]++;
	return cur_step_leaf(c, 1);
}

int
ts_btcur_prev(ts_btcur *c)
{
	if (!c->valid)
		return TS_NOTFOUND;
	c->idx[c->tree.depth - 1]--;
	return cur_step_leaf(c, -1);
}

int
ts_btcur_key(ts_btcur *c, const uint8_t **key, size_t *klen)
{
	const uint8_t *cell;

	if (!c->valid)
		return TS_NOTFOUND;
	cell = ccellp(c->leaf->data, c->idx[c->tree.depth - 1]);
	*key = cell + 4;
	*klen = rd16(cell);
	return 0;
}

int
ts_btcur_val(ts_btcur *c, const uint8_t **val, size_t *vlen)
{
	const uint8_t *cell;

	if (!c->valid)
		return TS_NOTFOUND;
	cell = ccellp(c->leaf->data, c->idx[c->tree.depth - 1]);
	if (rd16(cell + 2) != TS_VAL_OVERFLOW)
	{
		*val = cell + 4 + rd16(cell);
		*vlen = rd16(cell + 2);
		return 0;
	}
	else
	{
		const uint8_t *o = cell + 4 + rd16(cell);
		size_t		total = rd64(o);
		int			rc;

		if (total > TS_MAX_STORED_VALUE)
			return ts_error(TS_CORRUPT, "%s: overflow value length %zu out of range",
							ts_pager_path(c->pager), total);
		if (c->ovf_cap < total || c->ovf == NULL)
		{
			uint8_t    *nb = realloc(c->ovf, total ? total : 1);

			if (nb == NULL)
				return ts_error(TS_NOMEM, "out of memory for a %zu-byte value", total);
			c->ovf = nb;
			c->ovf_cap = total;
		}
		if ((rc = ts_ovf_read(c->pager, rd64(o + 8), total, c->ovf)) != 0)
			return rc;
		*val = c->ovf;
		*vlen = total;
		return 0;
	}
}
