/*-------------------------------------------------------------------------
 *
 * freelist.c
 *	  Page allocation and the persistent freelist.
 *
 * DESIGN
 *	  The freelist is a B+tree (its root is in the meta page) whose keys are
 *	  (txnid: 8 bytes big-endian, seq: 4 bytes big-endian) and whose values
 *	  are up to FL_PER_RECORD page numbers (u64 little-endian): the pages that
 *	  became free at commit `txnid`.  A commit adds only its own records and
 *	  deletes only the records it consumed, so the freelist is never
 *	  rewritten whole (the bbolt lesson).
 *
 * INVARIANTS
 *	  1. A page freed by commit T is handed out again only when T <= the
 *	     reuse horizon: the oldest snapshot any live transaction reads (a
 *	     snapshot S sees the state after commit S, so pages freed by commits
 *	     up to S are invisible to it).  Commit T's own freed pages are never
 *	     reused by commit T: the previous meta page still references them.
 *	  2. Every page below page_count is, after each commit, exactly one of:
 *	     reachable from the meta page (a tree page or an overflow page), or
 *	     listed once in the freelist (ts_env_check verifies this).
 *	  3. A page allocated and freed within the same commit was never visible:
 *	     it goes straight back to the commit's pool.
 *
 *	  Saving the freelist modifies the freelist tree, which itself frees and
 *	  allocates pages.  ts_freelist_save therefore iterates: write the
 *	  records for (freed pages + unused pool pages); if doing so changed
 *	  either set, write them again.  From the second round on, allocation
 *	  takes only new pages from the end of the file, so the pool stops
 *	  changing and the loop ends (a page is copied at most once per commit).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "error.h"

#define FL_PER_RECORD 100
#define FL_KEYLEN 12
#define FL_SAVE_RESERVE 64		/* pool pages wanted before saving */
#define MAX_PAGES ((uint64_t) 1 << 32)

static void
fl_key(uint8_t *k, uint64_t txnid, uint32_t seq)
{
	wr64be(k, txnid);
	k[8] = (uint8_t) (seq >> 24);
	k[9] = (uint8_t) (seq >> 16);
	k[10] = (uint8_t) (seq >> 8);
	k[11] = (uint8_t) seq;
}

/*
 * Move the oldest reusable freelist record not yet taken into the pool.
 * Returns 0 (possibly having found nothing) or an error.
 */
static int
refill(ts_wctx *w)
{
	ts_btcur	c;
	uint8_t		from[FL_KEYLEN];
	const uint8_t *k,
			   *v;
	size_t		kl,
				vl;
	int			rc;

	if (w->fl.root == 0)
		return 0;
	ts_btcur_init(&c, w->pager, &w->fl);
	if (w->taken.n > 0)
	{
		/* records are taken in key order: continue after the last one */
		uint64_t	txn = w->taken.v[w->taken.n - 2],
					seq = w->taken.v[w->taken.n - 1];

		if (seq == UINT32_MAX)
			fl_key(from, txn + 1, 0);
		else
			fl_key(from, txn, (uint32_t) seq + 1);
		rc = ts_btcur_seek(&c, from, FL_KEYLEN);
	}
	else
		rc = ts_btcur_first(&c);
	if (rc == TS_NOTFOUND)
	{
		ts_btcur_done(&c);
		return 0;
	}
	if (rc == 0)
		rc = ts_btcur_key(&c, &k, &kl);
	if (rc == 0 && kl != FL_KEYLEN)
		rc = ts_error(TS_CORRUPT, "%s: freelist key of %zu bytes", ts_pager_path(w->pager), kl);
	if (rc == 0 && rd64be(k) <= w->reuse_horizon)
	{
		uint64_t	txnid = rd64be(k);
		uint32_t	seq = ((uint32_t) k[8] << 24) | ((uint32_t) k[9] << 16) |
			((uint32_t) k[10] << 8) | k[11];

		rc = ts_btcur_val(&c, &v, &vl);
		if (rc == 0 && (vl % 8 != 0 || vl / 8 > FL_PER_RECORD))
			rc = ts_error(TS_CORRUPT, "%s: freelist record of %zu bytes", ts_pager_path(w->pager), vl);
		for (size_t i = 0; rc == 0 && i < vl / 8; i++)
		{
			uint64_t	pgno = rd64(v + 8 * i);

			if (pgno < 2 || pgno >= w->page_count)
				rc = ts_error(TS_CORRUPT, "%s: freelist lists page %llu, outside the file",
							  ts_pager_path(w->pager), (unsigned long long) pgno);
			else
				rc = ts_u64vec_push(&w->pool, pgno);
		}
		if (rc == 0 && (rc = ts_u64vec_push(&w->taken, txnid)) == 0)
			rc = ts_u64vec_push(&w->taken, seq);
	}
	ts_btcur_done(&c);
	return rc;
}

int
ts_page_alloc(ts_wctx *w, uint64_t *pgno)
{
	int			rc;

	if (!w->pool_frozen)
	{
		if (w->pool.n == 0 && !w->fl_busy)
		{
			w->fl_busy = 1;
			rc = refill(w);
			w->fl_busy = 0;
			if (rc != 0)
				return rc;
		}
		if (w->pool.n > 0)
		{
			*pgno = w->pool.v[--w->pool.n];
			return 0;
		}
	}
	if (w->page_count >= MAX_PAGES)
		return ts_error(TS_FULL, "%s: the file has reached %llu pages, its limit",
						ts_pager_path(w->pager), (unsigned long long) w->page_count);
	*pgno = w->page_count++;
	return 0;
}

int
ts_page_free(ts_wctx *w, uint64_t pgno)
{
	if (ts_pager_discard(w->pager, pgno))
		return ts_u64vec_push(&w->pool, pgno);	/* never visible: reuse now */
	return ts_u64vec_push(&w->freed, pgno);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

/* freed + pool, sorted, into out */
static int
free_set(ts_wctx *w, ts_u64vec *out)
{
	int			rc;

	out->n = 0;
	for (size_t i = 0; i < w->freed.n; i++)
		if ((rc = ts_u64vec_push(out, w->freed.v[i])) != 0)
			return rc;
	for (size_t i = 0; i < w->pool.n; i++)
		if ((rc = ts_u64vec_push(out, w->pool.v[i])) != 0)
			return rc;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(uint64_t), cmp_u64);
	return 0;
}

int
ts_freelist_save(ts_wctx *w)
{
	ts_u64vec	set = {0},
				prev = {0};
	uint32_t	written = 0;
	uint64_t	taken_pages = 0;
	int			rc = 0;

	/*
	 * Saving copies freelist pages; give it reusable pages to take, or it
	 * would extend the file on every commit.
	 */
	while (w->pool.n < FL_SAVE_RESERVE)
	{
		size_t		before = w->pool.n;

		w->fl_busy = 1;
		rc = refill(w);
		w->fl_busy = 0;
		if (rc != 0)
			return rc;
		if (w->pool.n == before)
			break;
	}
	w->fl_busy = 1;

	/* 1. the records emptied into the pool leave the freelist */
	for (size_t i = 0; i < w->taken.n && rc == 0; i += 2)
	{
		uint8_t		k[FL_KEYLEN];
		int			found;
		const uint8_t *v;
		size_t		vl;
		ts_frame   *hold;
		uint8_t    *buf;

		fl_key(k, w->taken.v[i], (uint32_t) w->taken.v[i + 1]);
		rc = ts_bt_get(w->pager, &w->fl, k, FL_KEYLEN, &v, &vl, &hold, &buf);
		if (rc != 0)
			break;
		taken_pages += vl / 8;
		ts_pager_release(w->pager, hold);
		free(buf);
		rc = ts_bt_del(w, &w->fl, k, FL_KEYLEN, &found);
	}

	/* 2. write (freed + pool) as this commit's records until stable */
	for (int round = 0; rc == 0; round++)
	{
		uint32_t	nrec;

		if (round > 0)
			w->pool_frozen = 1;
		if ((rc = free_set(w, &set)) != 0)
			break;
		if (round > 0 && set.n == prev.n &&
			(set.n == 0 || memcmp(set.v, prev.v, set.n * sizeof(uint64_t)) == 0))
			break;
		nrec = (uint32_t) ((set.n + FL_PER_RECORD - 1) / FL_PER_RECORD);
		for (uint32_t r = 0; r < nrec && rc == 0; r++)
		{
			uint8_t		k[FL_KEYLEN];
			uint8_t		val[FL_PER_RECORD * 8];
			size_t		n = set.n - (size_t) r * FL_PER_RECORD;

			if (n > FL_PER_RECORD)
				n = FL_PER_RECORD;
			for (size_t i = 0; i < n; i++)
				wr64(val + 8 * i, set.v[(size_t) r * FL_PER_RECORD + i]);
			fl_key(k, w->txnid, r);
			rc = ts_bt_put(w, &w->fl, k, FL_KEYLEN, val, n * 8);
		}
		/* records left over from a longer previous round */
		for (uint32_t r = nrec; r < written && rc == 0; r++)
		{
			uint8_t		k[FL_KEYLEN];
			int			found;

			fl_key(k, w->txnid, r);
			rc = ts_bt_del(w, &w->fl, k, FL_KEYLEN, &found);
		}
		written = nrec;
		{
			ts_u64vec	t = prev;

			prev = set;
			set = t;
		}
	}
	if (rc == 0)
		w->free_count = w->free_count - taken_pages + prev.n;
	ts_u64vec_free(&set);
	ts_u64vec_free(&prev);
	w->fl_busy = 0;
	return rc;
}
