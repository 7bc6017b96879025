/*-------------------------------------------------------------------------
 *
 * cursor.c
 *	  Cursors: a walk of one tree in key order as a transaction sees it.
 *
 *	  A read-only transaction's cursor is the B+tree cursor alone.  A write
 *	  transaction's cursor merges its write set over its snapshot: at each
 *	  move both sides are positioned strictly past the current key, the
 *	  nearer key in the direction of travel wins, the write set wins ties
 *	  (it shadows the snapshot), and tombstones are stepped over.  The write
 *	  set is searched afresh at every move, so writes made while the cursor
 *	  is open are seen by its next move.
 *
 *	  After a rollback to a savepoint or a renewed snapshot, a positioned
 *	  cursor keeps its position key and is re-read there in the new view
 *	  (ts_cursors_refresh): on the write set's entry, on the tree's entry,
 *	  or, if the key is no longer visible, "gone" (ts_cursor_get returns
 *	  TS_NOTFOUND; next and prev move to the neighbours of the key, as if
 *	  it had been deleted while the cursor was on it).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "txn.h"

int
ts_cursor_open(ts_txn *txn, ts_tree tree, ts_cursor **out)
{
	ts_cursor  *c;
	const ts_treeinfo *t;
	ts_treeinfo empty = {0, 0, 0};

	*out = NULL;
	if (txn == NULL || !ts_txn_tree_valid(txn, tree))
		return ts_error(TS_INVALID, "no tree with id %u", tree);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	c->txn = txn;
	c->tree = tree;
	t = ts_txn_snap_tree(txn, tree);
	ts_btcur_init(&c->bt, txn->env->pager, t ? t : &empty);
	c->next_in_txn = txn->cursors;
	txn->cursors = c;
	*out = c;
	return 0;
}

void
ts_cursor_close(ts_cursor *c)
{
	if (c == NULL)
		return;
	if (c->txn)
	{
		ts_cursor **pp = &c->txn->cursors;

		while (*pp && *pp != c)
			pp = &(*pp)->next_in_txn;
		if (*pp)
			*pp = c->next_in_txn;
		ts_btcur_done(&c->bt);
	}
	free(c->lo);
	free(c->hi);
	free(c);
}

int
ts_cursor_bounds(ts_cursor *c, const void *lo, size_t lolen, const void *hi, size_t hilen)
{
	if (c == NULL)
		return ts_error(TS_INVALID, "no cursor");
	free(c->lo);
	free(c->hi);
	c->lo = c->hi = NULL;
	c->lolen = c->hilen = 0;
	c->valid = 0;
	if (lo && (c->lo = malloc(lolen ? lolen : 1)) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	if (hi && (c->hi = malloc(hilen ? hilen : 1)) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	if (lo)
	{
		memcpy(c->lo, lo, lolen);
		c->lolen = lolen;
	}
	if (hi)
	{
		memcpy(c->hi, hi, hilen);
		c->hilen = hilen;
	}
	return 0;
}

int
ts_cursor_prefix(ts_cursor *c, const void *prefix, size_t len)
{
	uint8_t		end[TS_MAX_KEY + 1];
	size_t		elen;

	if (len > TS_MAX_KEY)
		return ts_error(TS_INVALID, "prefix longer than a key");
	elen = ts_key_prefix_end(prefix, len, end);
	return ts_cursor_bounds(c, prefix, len, elen ? end : NULL, elen);
}

/* The current candidate key of the B+tree side, if positioned. */
static int
bt_key(ts_cursor *c, const uint8_t **k, size_t *kl)
{
	if (!c->bt_pos)
		return 0;
	return ts_btcur_key(&c->bt, k, kl) == 0;
}

static int
in_bounds(ts_cursor *c, const uint8_t *k, size_t kl)
{
	if (c->lo && ts_keycmp(k, kl, c->lo, c->lolen) < 0)
		return 0;
	if (c->hi && ts_keycmp(k, kl, c->hi, c->hilen) >= 0)
		return 0;
	return 1;
}

/* Map a B+tree cursor result to bt_pos; pass errors through. */
static int
bt_result(ts_cursor *c, int rc)
{
	c->bt_pos = (rc == 0);
	return rc == TS_NOTFOUND ? 0 : rc;
}

/*
 * Settle the merged position given both sides positioned at their
 * candidates for direction dir; skip tombstones; check bounds.
 */
static int
settle(ts_cursor *c, int dir)
{
	ts_wset    *ws = c->txn->ws;
	int			rc;

	c->gone = 0;
	for (;;)
	{
		const uint8_t *bk = NULL;
		size_t		bkl = 0;
		int			hasb = bt_key(c, &bk, &bkl);
		const ts_wentry *we = NULL;
		int			cmp;

		if (ws)
			we = dir > 0 ? ts_wset_seek_ge(ws, c->tree, c->key, c->klen)
				: ts_wset_seek_le(ws, c->tree, c->key, c->klen);
		if (ws && c->klen == 0 && dir > 0)
			we = ts_wset_first(ws, c->tree);
		if (!hasb && we == NULL)
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		if (!hasb)
			cmp = 1;
		else if (we == NULL)
			cmp = -1;
		else
			cmp = ts_keycmp(bk, bkl, we->key, we->klen) * dir;
		/* cmp < 0: the tree's key comes first in direction dir */
		if (cmp < 0)
		{
			if (!in_bounds(c, bk, bkl))
			{
				c->valid = 0;
				return TS_NOTFOUND;
			}
			c->we = NULL;
			memcpy(c->key, bk, bkl);
			c->klen = bkl;
			c->valid = 1;
			return 0;
		}
		if (!in_bounds(c, we->key, we->klen))
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		memcpy(c->key, we->key, we->klen);
		c->klen = we->klen;
		if (cmp == 0)
		{
			/* the write set shadows the tree's entry: step the tree past it */
			rc = bt_result(c, dir > 0 ? ts_btcur_next(&c->bt) : ts_btcur_prev(&c->bt));
			if (rc != 0)
				return rc;
		}
		if (we->val != NULL)
		{
			c->we = we;
			c->valid = 1;
			return 0;
		}
		/* a tombstone: move past it and try again */
		{
			const ts_wentry *nx = dir > 0 ? ts_wset_seek_gt(ws, c->tree, we->key, we->klen)
				: ts_wset_seek_lt(ws, c->tree, we->key, we->klen);

			if (nx == NULL)
			{
				/* no more write-set entries: only the tree is left */
				if (!bt_key(c, &bk, &bkl) || !in_bounds(c, bk, bkl))
				{
					c->valid = 0;
					return TS_NOTFOUND;
				}
				c->we = NULL;
				memcpy(c->key, bk, bkl);
				c->klen = bkl;
				c->valid = 1;
				return 0;
			}
			memcpy(c->key, nx->key, nx->klen);
			c->klen = nx->klen;
		}
	}
}

/* Position the B+tree side at the first key >= k (dir > 0) or last <= k. */
static int
bt_seek_dir(ts_cursor *c, const uint8_t *k, size_t kl, int dir)
{
	int			rc;

	if (dir > 0)
		return bt_result(c, ts_btcur_seek(&c->bt, k, kl));
	rc = bt_result(c, ts_btcur_seek(&c->bt, k, kl));
	if (rc != 0)
		return rc;
	if (!c->bt_pos)
		return bt_result(c, ts_btcur_last(&c->bt));
	{
		const uint8_t *bk;
		size_t		bkl;

		if (bt_key(c, &bk, &bkl) && ts_keycmp(bk, bkl, k, kl) > 0)
			return bt_result(c, ts_btcur_prev(&c->bt));
	}
	return 0;
}

static int
cursor_ready(ts_cursor *c)
{
	if (c == NULL)
		return ts_error(TS_INVALID, "no cursor");
	if (c->txn == NULL)
		return ts_error(TS_BAD_TXN, "the cursor's transaction has ended");
	return 0;
}

/* Fast path of read-only cursors: the B+tree alone. */
static int
plain_settle(ts_cursor *c, int rc)
{
	const uint8_t *k;
	size_t		kl;

	c->gone = 0;
	if ((rc = bt_result(c, rc)) != 0)
		return rc;
	if (!c->bt_pos || !bt_key(c, &k, &kl) || !in_bounds(c, k, kl))
	{
		c->valid = 0;
		return TS_NOTFOUND;
	}
	c->we = NULL;
	c->valid = 1;
	return 0;
}

static int
seek_dir(ts_cursor *c, const uint8_t *k, size_t kl, int dir)
{
	int			rc;

	c->dir = dir;
	if (c->txn->ws == NULL)
	{
		if (dir > 0)
			return plain_settle(c, ts_btcur_seek(&c->bt, k, kl));
		if ((rc = bt_seek_dir(c, k, kl, -1)) != 0)
			return rc;
		return plain_settle(c, c->bt_pos ? 0 : TS_NOTFOUND);
	}
	if ((rc = bt_seek_dir(c, k, kl, dir)) != 0)
		return rc;
	memcpy(c->key, k, kl);
	c->klen = kl;
	return settle(c, dir);
}

int
ts_cursor_first(ts_cursor *c)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (c->lo)
		return seek_dir(c, c->lo, c->lolen, 1);
	c->dir = 1;
	if (c->txn->ws == NULL)
		return plain_settle(c, ts_btcur_first(&c->bt));
	if ((rc = bt_result(c, ts_btcur_first(&c->bt))) != 0)
		return rc;
	c->klen = 0;
	return settle(c, 1);
}

int
ts_cursor_last(ts_cursor *c)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (c->hi)
	{
		/* last key < hi: seek_le(hi), stepping back if equal */
		if ((rc = seek_dir(c, c->hi, c->hilen, -1)) == TS_NOTFOUND)
		{
			const uint8_t *k;
			size_t		kl;

			/* seek_le landed on hi itself (out of bounds): step back */
			if (c->txn->ws == NULL)
			{
				if (bt_key(c, &k, &kl) && ts_keycmp(k, kl, c->hi, c->hilen) == 0)
					return plain_settle(c, ts_btcur_prev(&c->bt));
				return TS_NOTFOUND;
			}
			if (c->klen == c->hilen && memcmp(c->key, c->hi, c->hilen) == 0)
			{
				c->valid = 1;
				return ts_cursor_prev(c);
			}
		}
		return rc;
	}
	c->dir = -1;
	if (c->txn->ws == NULL)
		return plain_settle(c, ts_btcur_last(&c->bt));
	if ((rc = bt_result(c, ts_btcur_last(&c->bt))) != 0)
		return rc;
	{
		const ts_wentry *we = ts_wset_last(c->txn->ws, c->tree);
		const uint8_t *bk;
		size_t		bkl;

		if (we && (!bt_key(c, &bk, &bkl) || ts_keycmp(we->key, we->klen, bk, bkl) > 0))
		{
			memcpy(c->key, we->key, we->klen);
			c->klen = we->klen;
		}
		else if (bt_key(c, &bk, &bkl))
		{
			memcpy(c->key, bk, bkl);
			c->klen = bkl;
		}
		else
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
	}
	return settle(c, -1);
}

int
ts_cursor_seek(ts_cursor *c, const void *key, size_t klen)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (klen > TS_MAX_KEY)
		return ts_error(TS_KEY_TOO_BIG, "seek key of %zu bytes", klen);
	if (c->lo && ts_keycmp(key, klen, c->lo, c->lolen) < 0)
		return seek_dir(c, c->lo, c->lolen, 1);
	return seek_dir(c, key, klen, 1);
}

int
ts_cursor_seek_le(ts_cursor *c, const void *key, size_t klen)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (klen > TS_MAX_KEY)
		return ts_error(TS_KEY_TOO_BIG, "seek key of %zu bytes", klen);
	if (c->hi && ts_keycmp(key, klen, c->hi, c->hilen) >= 0)
		return ts_cursor_last(c);
	return seek_dir(c, key, klen, -1);
}

static int
step(ts_cursor *c, int dir)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (!c->valid)
		return TS_NOTFOUND;
	if (c->txn->ws == NULL)
	{
		/* gone: the key is not in the tree, so >= is > and <= is < */
		if (c->gone)
			return seek_dir(c, c->key, c->klen, dir);
		if (c->dir != dir)
			c->dir = dir;
		return plain_settle(c, dir > 0 ? ts_btcur_next(&c->bt) : ts_btcur_prev(&c->bt));
	}
	/* merged: put the tree side strictly past the current key */
	if (c->dir != dir || !c->bt_pos)
	{
		if ((rc = bt_seek_dir(c, c->key, c->klen, dir)) != 0)
			return rc;
		c->dir = dir;
	}
	for (;;)
	{
		const uint8_t *bk;
		size_t		bkl;

		if (!bt_key(c, &bk, &bkl) || ts_keycmp(bk, bkl, c->key, c->klen) * dir > 0)
			break;
		if ((rc = bt_result(c, dir > 0 ? ts_btcur_next(&c->bt) : ts_btcur_prev(&c->bt))) != 0)
			return rc;
	}
	/* and the write set strictly past it too */
	{
		const ts_wentry *we = dir > 0 ? ts_wset_seek_gt(c->txn->ws, c->tree, c->key, c->klen)
			: ts_wset_seek_lt(c->txn->ws, c->tree, c->key, c->klen);
		const uint8_t *bk;
		size_t		bkl;
		int			hasb = bt_key(c, &bk, &bkl);

		if (we == NULL && !hasb)
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		if (we == NULL || (hasb && ts_keycmp(bk, bkl, we->key, we->klen) * dir < 0))
		{
			memcpy(c->key, bk, bkl);
			c->klen = bkl;
		}
		else
		{
			memcpy(c->key, we->key, we->klen);
			c->klen = we->klen;
		}
	}
	return settle(c, dir);
}

int
ts_cursor_next(ts_cursor *c)
{
	return step(c, 1);
}

int
ts_cursor_prev(ts_cursor *c)
{
	return step(c, -1);
}

int
ts_cursor_get(ts_cursor *c, ts_slice *key, ts_slice *val)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (!c->valid || c->gone)
		return TS_NOTFOUND;
	if (c->we && c->we->val == NULL)
		return TS_NOTFOUND;		/* deleted by the transaction while the cursor was on it */
	if (c->we)
	{
		if (key)
		{
			key->data = c->we->key;
			key->len = c->we->klen;
		}
		if (val)
		{
			val->data = c->we->val;
			val->len = c->we->vlen;
		}
		return 0;
	}
	if (key)
	{
		const uint8_t *k;
		size_t		kl;

		if ((rc = ts_btcur_key(&c->bt, &k, &kl)) != 0)
			return rc;
		key->data = k;
		key->len = kl;
	}
	if (val)
	{
		const uint8_t *v;
		size_t		vl;

		if ((rc = ts_btcur_val(&c->bt, &v, &vl)) != 0)
			return rc;
		val->data = v;
		val->len = vl;
	}
	return 0;
}

/* ---------- after a rollback or a renewed snapshot ---------- */

void
ts_cursors_detach(ts_txn *txn)
{
	for (ts_cursor *c = txn->cursors; c; c = c->next_in_txn)
	{
		const uint8_t *k;
		size_t		kl;

		/* read-only cursors keep their key in the B+tree cursor only */
		if (c->valid && !c->gone && txn->ws == NULL)
		{
			if (ts_btcur_key(&c->bt, &k, &kl) == 0)
			{
				memcpy(c->key, k, kl);
				c->klen = kl;
			}
			else
				c->valid = 0;
		}
		ts_btcur_done(&c->bt);
		c->bt_pos = 0;
	}
}

/* Re-read a positioned cursor at c->key in the transaction's current view. */
static int
reposition(ts_cursor *c)
{
	int			dir = c->dir < 0 ? -1 : 1;
	const uint8_t *bk;
	size_t		bkl;
	int			rc;

	c->we = NULL;
	c->gone = 0;
	c->dir = dir;
	if (c->txn->ws)
	{
		const ts_wentry *e = ts_wset_get(c->txn->ws, c->tree, c->key, c->klen);

		if (e)
		{
			/* the write set decides; the tree side is sought again at the next move */
			c->bt_pos = 0;
			if (e->val)
				c->we = e;
			else
				c->gone = 1;
			return 0;
		}
	}
	if ((rc = bt_seek_dir(c, c->key, c->klen, dir)) != 0)
	{
		c->valid = 0;
		return rc;
	}
	if (!bt_key(c, &bk, &bkl) || ts_keycmp(bk, bkl, c->key, c->klen) != 0)
		c->gone = 1;			/* the tree side already lies beyond the key */
	return 0;
}

int
ts_cursors_refresh(ts_txn *txn, int resnap)
{
	int			first = 0;

	for (ts_cursor *c = txn->cursors; c; c = c->next_in_txn)
	{
		int			rc;

		if (resnap)
		{
			const ts_treeinfo *t = ts_txn_snap_tree(txn, c->tree);
			ts_treeinfo empty = {0, 0, 0};

			ts_btcur_init(&c->bt, txn->env->pager, t ? t : &empty);
			c->bt_pos = 0;
		}
		if (!c->valid)
			continue;
		if ((rc = reposition(c)) != 0 && first == 0)
			first = rc;
	}
	return first;
}
