/*-------------------------------------------------------------------------
 *
 * freelist.c
 *	  Page allocation and the persistent freelist.
 *
 * DESIGN
 *	  The freelist is a B+tree (its root is in the meta page) whose keys are
 *	  (class: 1 byte, txnid: 8 bytes big-endian, seq: 4 bytes big-endian) and
 *	  whose values are up to FL_PER_RECORD page numbers (u64 little-endian):
 *	  the pages that became free at commit `txnid`.  A commit adds only its
 *	  own records and deletes only the records it consumed, so the freelist
 *	  is never rewritten whole (the bbolt lesson).
 *
 *	  Two classes, because the data file holds the last checkpoint's state
 *	  while newer commits live in memory and in the write-ahead log:
 *	  - FL_VOLATILE: pages that no checkpoint has written (created after the
 *	    last one), and pool leftovers.  Nothing on disk refers to them.
 *	  - FL_ONDISK: pages that the last checkpoint's tree used, or the tree
 *	    of the checkpoint being written (commit.c, CHECKPOINT;
 *	    ts_pager_discard tells).  Overwriting one before a newer checkpoint
 *	    is durable would damage the state that recovery starts from.
 *
 * INVARIANTS
 *	  1. A page freed by commit T is handed out again only when T <= the
 *	     reuse horizon: the oldest snapshot any live transaction reads (a
 *	     snapshot S sees the state after commit S, so pages freed by commits
 *	     up to S are invisible to it), and, while a checkpoint writes its
 *	     pages, no later than the previous checkpoint's state (so that the
 *	     pages it writes do not change under it: commit.c, CHECKPOINT).
 *	  2. An FL_ONDISK page freed by commit T is handed out again only when a
 *	     checkpoint of a state >= T is durable.
 *	  3. Every page below page_count is, after each commit, exactly one of:
 *	     reachable from the meta page (a tree page or an overflow page), or
 *	     listed once in the freelist (ts_env_check verifies this).
 *	  4. A page created and freed by the same commit was never visible: it
 *	     goes straight back to the commit's pool.
 *
 *	  Saving the freelist modifies the freelist tree, which itself frees and
 *	  allocates pages.  ts_freelist_save therefore iterates: write the
 *	  records for the freed pages and the unused pool pages; if doing so
 *	  changed those sets, write them again.  From the second round on,
 *	  allocation takes only new pages from the end of the file, so the pool
 *	  stops changing and the loop ends (a page is copied at most once per
 *	  commit).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "error.h"

#define FL_PER_RECORD 100
#define FL_KEYLEN 13
#define FL_SAVE_RESERVE 64		/* pool pages wanted before saving */
#define FL_VOLATILE 0
#define FL_ONDISK 1
#define MAX_PAGES ((uint64_t) 1 << 32)

static void
fl_key(uint8_t *k, int class, uint64_t txnid, uint32_t seq)
{
	k[0] = (uint8_t) class;
	wr64be(k + 1, txnid);
	k[9] = (uint8_t) (seq >> 24);
	k[10] = (uint8_t) (seq >> 16);
	k[11] = (uint8_t) (seq >> 8);
	k[12] = (uint8_t) seq;
}

static uint32_t
fl_seq(const uint8_t *k)
{
	return ((uint32_t) k[9] << 24) | ((uint32_t) k[10] << 16) |
		((uint32_t) k[11] << 8) | k[12];
}

/*
 * Take the oldest record of `class` not yet taken into the pool, if it may
 * be reused.  *got tells whether it did.
 */
static int
refill_class(ts_wctx *w, int class, uint64_t limit, int *got)
{
	ts_btcur	c;
	uint8_t		from[FL_KEYLEN];
	const uint8_t *k,
			   *v;
	size_t		kl,
				vl;
	int			rc;

	*got = 0;
	if (w->fl.root == 0)
		return 0;
	/* records are taken in key order: continue after the last one taken */
	fl_key(from, class, 0, 0);
	for (size_t i = w->taken.n; i >= 3; i -= 3)
		if ((int) w->taken.v[i - 3] == class)
		{
			uint64_t	txn = w->taken.v[i - 2],
						seq = w->taken.v[i - 1];

			if (seq == UINT32_MAX)
				fl_key(from, class, txn + 1, 0);
			else
				fl_key(from, class, txn, (uint32_t) seq + 1);
			break;
		}
	ts_btcur_init(&c, w->pager, &w->fl);
	rc = ts_btcur_seek(&c, from, FL_KEYLEN);
	if (rc == TS_NOTFOUND)
	{
		ts_btcur_done(&c);
		return 0;
	}
	if (rc == 0)
		rc = ts_btcur_key(&c, &k, &kl);
	if (rc == 0 && kl != FL_KEYLEN)
		rc = ts_error(TS_CORRUPT, "%s: freelist key of %zu bytes", ts_pager_path(w->pager), kl);
	if (rc == 0 && k[0] == class && rd64be(k + 1) <= limit)
	{
		uint64_t	txnid = rd64be(k + 1);
		uint32_t	seq = fl_seq(k);

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
		if (rc == 0 && (rc = ts_u64vec_push(&w->taken, (uint64_t) class)) == 0 &&
			(rc = ts_u64vec_push(&w->taken, txnid)) == 0)
			rc = ts_u64vec_push(&w->taken, seq);
		if (rc == 0)
			*got = 1;
	}
	ts_btcur_done(&c);
	return rc;
}

/* Move one reusable freelist record into the pool; *got if there was one. */
static int
refill(ts_wctx *w, int *got)
{
	uint64_t	gated = w->reuse_horizon < w->ckpt_txnid ? w->reuse_horizon : w->ckpt_txnid;
	int			rc;

	w->fl_busy = 1;
	rc = refill_class(w, FL_VOLATILE, w->reuse_horizon, got);
	if (rc == 0 && !*got)
		rc = refill_class(w, FL_ONDISK, gated, got);
	w->fl_busy = 0;
	return rc;
}

int
ts_page_alloc(ts_wctx *w, uint64_t *pgno)
{
	int			rc,
				got;

	if (!w->pool_frozen)
	{
		if (w->pool.n == 0 && !w->fl_busy && (rc = refill(w, &got)) != 0)
			return rc;
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
	switch (ts_pager_discard(w->pager, pgno, w->txnid))
	{
		case TS_FREED_NEW:
			return ts_u64vec_push(&w->pool, pgno);	/* never visible: reuse now */
		case TS_FREED_VOLATILE:
			return ts_u64vec_push(&w->freed_volatile, pgno);
		default:
			return ts_u64vec_push(&w->freed, pgno);
	}
}

/* a ∪ b, sorted, into out */
static int
union_sorted(const ts_u64vec *a, const ts_u64vec *b, ts_u64vec *out)
{
	int			rc;

	out->n = 0;
	for (size_t i = 0; i < a->n; i++)
		if ((rc = ts_u64vec_push(out, a->v[i])) != 0)
			return rc;
	for (size_t i = 0; b && i < b->n; i++)
		if ((rc = ts_u64vec_push(out, b->v[i])) != 0)
			return rc;
	ts_u64vec_sort(out);
	return 0;
}

static int
same(const ts_u64vec *a, const ts_u64vec *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(uint64_t)) == 0);
}

/* Write `set` as this commit's records of `class`, deleting leftovers of a
 * previous round beyond them. */
static int
write_records(ts_wctx *w, int class, const ts_u64vec *set, uint32_t *written)
{
	uint32_t	nrec = (uint32_t) ((set->n + FL_PER_RECORD - 1) / FL_PER_RECORD);
	int			rc = 0;

	for (uint32_t r = 0; r < nrec && rc == 0; r++)
	{
		uint8_t		k[FL_KEYLEN];
		uint8_t		val[FL_PER_RECORD * 8];
		size_t		n = set->n - (size_t) r * FL_PER_RECORD;

		if (n > FL_PER_RECORD)
			n = FL_PER_RECORD;
		for (size_t i = 0; i < n; i++)
			wr64(val + 8 * i, set->v[(size_t) r * FL_PER_RECORD + i]);
		fl_key(k, class, w->txnid, r);
		rc = ts_bt_put(w, &w->fl, k, FL_KEYLEN, val, n * 8);
	}
	for (uint32_t r = nrec; r < *written && rc == 0; r++)
	{
		uint8_t		k[FL_KEYLEN];
		int			found;

		fl_key(k, class, w->txnid, r);
		rc = ts_bt_del(w, &w->fl, k, FL_KEYLEN, &found);
	}
	*written = nrec;
	return rc;
}

int
ts_freelist_save(ts_wctx *w)
{
	ts_u64vec	vol = {0},
				vol_prev = {0},
				disk = {0},
				disk_prev = {0};
	uint32_t	vol_written = 0,
				disk_written = 0;
	uint64_t	taken_pages = 0;
	int			rc = 0,
				got;

	/*
	 * Saving copies freelist pages; give it reusable pages to take, or it
	 * would extend the file on every commit.
	 */
	while (w->pool.n < FL_SAVE_RESERVE)
	{
		if ((rc = refill(w, &got)) != 0)
			return rc;
		if (!got)
			break;
	}
	w->fl_busy = 1;

	/* 1. the records emptied into the pool leave the freelist */
	for (size_t i = 0; i + 2 < w->taken.n && rc == 0; i += 3)
	{
		uint8_t		k[FL_KEYLEN];
		int			found;
		const uint8_t *v;
		size_t		vl;
		ts_frame   *hold;
		uint8_t    *buf;

		fl_key(k, (int) w->taken.v[i], w->taken.v[i + 1], (uint32_t) w->taken.v[i + 2]);
		rc = ts_bt_get(w->pager, &w->fl, k, FL_KEYLEN, &v, &vl, &hold, &buf);
		if (rc != 0)
			break;
		taken_pages += vl / 8;
		ts_pager_release(w->pager, hold);
		free(buf);
		rc = ts_bt_del(w, &w->fl, k, FL_KEYLEN, &found);
	}

	/* 2. write this commit's records until they stop changing */
	for (int round = 0; rc == 0; round++)
	{
		if (round > 0)
			w->pool_frozen = 1;
		if ((rc = union_sorted(&w->freed_volatile, &w->pool, &vol)) != 0 ||
			(rc = union_sorted(&w->freed, NULL, &disk)) != 0)
			break;
		if (round > 0 && same(&vol, &vol_prev) && same(&disk, &disk_prev))
			break;
		if ((rc = write_records(w, FL_VOLATILE, &vol, &vol_written)) != 0 ||
			(rc = write_records(w, FL_ONDISK, &disk, &disk_written)) != 0)
			break;
		{
			ts_u64vec	t = vol_prev;

			vol_prev = vol;
			vol = t;
			t = disk_prev;
			disk_prev = disk;
			disk = t;
		}
	}
	if (rc == 0)
		w->free_count = w->free_count - taken_pages + vol_prev.n + disk_prev.n;
	ts_u64vec_free(&vol);
	ts_u64vec_free(&vol_prev);
	ts_u64vec_free(&disk);
	ts_u64vec_free(&disk_prev);
	w->fl_busy = 0;
	return rc;
}
