/*-------------------------------------------------------------------------
 *
 * pager.c
 *	  Pages of the data file, checksums, meta pages and the buffer cache.
 *
 * INVARIANTS
 *	  1. A page that reaches a caller from disk has passed ts_page_verify:
 *	     its CRC32C, its own page number and its expected type, and a branch
 *	     page has at least one child (cursors index its last cell).  A page that
 *	     fails is reported as TS_CORRUPT with its number; it is never cached.
 *	  2. A committed page is immutable: a frame changes only while the commit
 *	     that created it is being built (no snapshot can reach it yet), and
 *	     when a later commit reuses the page after every snapshot that could
 *	     see it has ended.
 *	  3. A dirty frame (a page made since the last checkpoint: in memory and
 *	     in the write-ahead log only) is never evicted; the checkpoint writes
 *	     it (ts_pager_flush).  Pages are written to the data file only there,
 *	     for overflow chains into pages that no checkpoint references, and,
 *	     with readers in other processes, at commit into pages no checkpoint
 *	     references either (ts_pager_write_through: still dirty, not written
 *	     again by the checkpoint).  Every page written then goes to the
 *	     ring of rewritten pages (shared.c).
 *	     A checkpoint writes while commits go on (commit.c, CHECKPOINT): no
 *	     page it writes is reused meanwhile, it leaves dirty any frame made
 *	     after the state it writes (born > upto), and a page of that state
 *	     freed meanwhile counts as on disk (ts_pager_writing).
 *	  4. A meta page is written only after every page it references is
 *	     written and (with sync) fdatasync'ed; meta pages alternate by
 *	     checkpoint sequence, so a torn meta write leaves the previous one.
 *	  5. A read-only pager (TS_RDONLY environment) opens the file for reading
 *	     only and never writes it: an overflow page that replaying the log
 *	     makes (ts_pager_write_raw) is kept in a dirty frame instead, where
 *	     ts_pager_read_raw finds it; meta writes, syncs, extends and flushes
 *	     are refused.
 *	  6. A page's header txnid is the commit that wrote it (ts_pager_new_page,
 *	     and btree.c's copies), so no child page is newer than its parent;
 *	     readers going down a tree check this (ts_pager_get_child) for
 *	     parents written since stamps are exact (meta: stamp_from), and report
 *	     a stale page (an old copy with a valid checksum: a lost write) as
 *	     TS_CORRUPT.
 *
 * THE CACHE
 *	  Frames are found through a two-level radix table indexed by page
 *	  number, read without a lock.  A reader pins a frame by incrementing its
 *	  pin count and then re-checking that the frame still holds the page; the
 *	  evictor (under the cache mutex) claims an unpinned frame by swinging its
 *	  pin count from 0 to a large negative value, so a concurrent pin either
 *	  happened first (eviction skips the frame) or sees a negative count and
 *	  retries through the slow path.  Misses are read under the mutex.
 *	  Replacement is CLOCK, bounded: a claim looks at CLAIM_SCAN frames at
 *	  most (so a cache full of dirty or pinned frames, as in a big
 *	  transaction or while a background checkpoint writes, costs O(1) per
 *	  claim, not a sweep of the whole cache).  When none of them is clean
 *	  and unpinned, the cache grows past its capacity by an "extra" frame
 *	  rather than fail; extra frames are retired (their page images freed)
 *	  once clean and unpinned, a few at every claim over capacity and, after
 *	  a checkpoint has written pages, in proportion to the pages written, so
 *	  the cache shrinks back to its capacity.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "error.h"
#include "pager.h"
#include "shared.h"

#define RADIX_BITS	16
#define RADIX_SIZE	(1u << RADIX_BITS)
#define MAX_PAGES	((uint64_t) RADIX_SIZE * RADIX_SIZE)	/* 2^32 pages */
#define EVICTING	(INT32_MIN / 2)
#define NO_PAGE		UINT64_MAX
#define FLUSH_RUN_MAX 64

struct ts_pager
{
	ts_vfs	   *vfs;
	ts_file    *file;
	char		path[4096];
	char		dir[4096];
	size_t		capacity;		/* frames wanted */

	pthread_mutex_t lock;		/* frames[], clock hand, radix chunk creation */
	ts_frame  **frames;
	size_t		nframes;
	size_t		frames_cap;
	size_t		hand;

	_Atomic(ts_frame *) *_Atomic radix[RADIX_SIZE];	/* chunks, created under lock */

	_Atomic uint64_t hits;
	_Atomic uint64_t misses;
	_Atomic int failed;			/* a write or sync has failed */
	uint64_t	ndirty;			/* dirty frames (under lock) */
	ts_frame   *spare;			/* bookkeeping of retired extra frames (under lock) */
	uint64_t	scan_steps;		/* frames looked at by claims and shrinking */
	uint64_t	retired;		/* extra frames retired */
	uint64_t	writing;		/* a checkpoint is writing pages born up to this
								 * txnid (under lock; 0: none) */
	int			read_only;		/* opened TS_VFS_RDONLY: nothing is ever written */
	uint64_t	stamp_from;		/* page txnids are exact from this commit on */
	ts_shared  *shared;			/* writer: the ring of rewritten pages */
	pthread_mutex_t ring_lock;	/* one writer of the ring at a time */
};

static int	write_run(ts_pager *pg, const void *const *bufs, size_t n, uint64_t start);

/* Tell readers in other processes that these pages were (re)written. */
static void
ring_add(ts_pager *pg, uint64_t start, size_t n)
{
	uint64_t	buf[FLUSH_RUN_MAX];

	if (pg->shared == NULL)
		return;
	pthread_mutex_lock(&pg->ring_lock);
	while (n > 0)
	{
		size_t		k = n < FLUSH_RUN_MAX ? n : FLUSH_RUN_MAX;

		for (size_t i = 0; i < k; i++)
			buf[i] = start + i;
		ts_shared_rewritten(pg->shared, buf, k);
		start += k;
		n -= k;
	}
	pthread_mutex_unlock(&pg->ring_lock);
}

/*
 * A failed write: out of space gets its own code, anything else its errno.
 * Either way the pager remembers it (ts_pager_failed).
 */
static int
read_only_error(ts_pager *pg, const char *what)
{
	return ts_error(TS_BAD_TXN, "%s is open read-only: cannot write %s", pg->path, what);
}

static int
write_error(ts_pager *pg, int rc, const char *what, const char *path)
{
	atomic_store(&pg->failed, 1);
	if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG)
		return ts_error(TS_FULL, "out of space writing %s of %s: %s", what, path, strerror(rc));
	return ts_error(rc, "cannot write %s of %s: %s", what, path, strerror(rc));
}

/* ---------- page checksums ---------- */

void
ts_page_seal(uint8_t *page)
{
	wr32(page + PH_CRC, ts_crc32c(0, page + 4, TS_PAGE_SIZE - 4));
}

int
ts_page_verify(const uint8_t *page, uint64_t pgno, int type, const char *file)
{
	uint32_t	crc = ts_crc32c(0, page + 4, TS_PAGE_SIZE - 4);

	if (crc != rd32(page + PH_CRC))
		return ts_error(TS_CORRUPT, "page %llu of %s: checksum mismatch (stored %08x, computed %08x)",
						(unsigned long long) pgno, file, rd32(page + PH_CRC), crc);
	if (rd64(page + PH_PGNO) != pgno)
		return ts_error(TS_CORRUPT, "page %llu of %s: page claims to be page %llu",
						(unsigned long long) pgno, file,
						(unsigned long long) rd64(page + PH_PGNO));
	if (type != 0 && page[PH_TYPE] != type)
		return ts_error(TS_CORRUPT, "page %llu of %s: type %d where type %d was expected",
						(unsigned long long) pgno, file, page[PH_TYPE], type);
	if (page[PH_TYPE] == TS_PT_BRANCH || page[PH_TYPE] == TS_PT_LEAF)
	{
		uint16_t	n = rd16(page + PH_NKEYS),
					lower = rd16(page + PH_LOWER),
					upper = rd16(page + PH_UPPER);
		int			leaf = page[PH_TYPE] == TS_PT_LEAF;
		uint32_t	ends[TS_PAGE_SIZE / 4];	/* (offset << 16 | size) per cell */

		if (n > (TS_PAGE_SIZE - TS_PH_SIZE) / 6 || lower != TS_PH_SIZE + 2 * n ||
			upper < lower || upper > TS_PAGE_SIZE || (!leaf && n == 0))
			return ts_error(TS_CORRUPT, "page %llu of %s: bad slot area (nkeys %u, lower %u, upper %u)",
							(unsigned long long) pgno, file, n, lower, upper);
		for (uint16_t i = 0; i < n; i++)
		{
			uint16_t	off = rd16(page + TS_PH_SIZE + 2 * i);
			size_t		sz,
						kl;

			if (off < upper || off > TS_PAGE_SIZE - (leaf ? 4 : 10))
				return ts_error(TS_CORRUPT, "page %llu of %s: cell %u out of bounds",
								(unsigned long long) pgno, file, i);
			if (leaf)
			{
				uint16_t	vl = rd16(page + off + 2);

				kl = rd16(page + off);
				sz = 4 + kl + (vl == TS_VAL_OVERFLOW ? 16 : vl);
				if (kl == 0 || (vl != TS_VAL_OVERFLOW && sz > TS_MAX_CELL))
					return ts_error(TS_CORRUPT, "page %llu of %s: cell %u has a bad size",
									(unsigned long long) pgno, file, i);
			}
			else
			{
				kl = rd16(page + off + 8);
				sz = 10 + kl;
				if ((i == 0) != (kl == 0))
					return ts_error(TS_CORRUPT, "page %llu of %s: branch cell %u has a bad key length",
									(unsigned long long) pgno, file, i);
			}
			if (kl > TS_MAX_KEY || off + sz > TS_PAGE_SIZE)
				return ts_error(TS_CORRUPT, "page %llu of %s: cell %u overruns the page",
								(unsigned long long) pgno, file, i);
			ends[i] = ((uint32_t) off << 16) | (uint32_t) sz;
		}
		/* cells must not overlap: sort by offset (insertion sort: few cells) */
		for (int i = 1; i < n; i++)
		{
			uint32_t	x = ends[i];
			int			j = i - 1;

			while (j >= 0 && ends[j] > x)
			{
				ends[j + 1] = ends[j];
				j--;
			}
			ends[j + 1] = x;
		}
		for (int i = 0; i + 1 < n; i++)
			if ((ends[i] >> 16) + (ends[i] & 0xFFFF) > (ends[i + 1] >> 16))
				return ts_error(TS_CORRUPT, "page %llu of %s: cells overlap",
								(unsigned long long) pgno, file);
	}
	return 0;
}

/* ---------- radix table ---------- */

static inline _Atomic(ts_frame *) *
slot_of(ts_pager *pg, uint64_t pgno, int create)
{
	_Atomic(ts_frame *) *chunk = atomic_load_explicit(&pg->radix[pgno >> RADIX_BITS],
													   memory_order_acquire);

	if (chunk == NULL)
	{
		if (!create)
			return NULL;
		chunk = calloc(RADIX_SIZE, sizeof(*chunk));
		if (chunk == NULL)
			return NULL;
		atomic_store_explicit(&pg->radix[pgno >> RADIX_BITS], chunk, memory_order_release);
	}
	return &chunk[pgno & (RADIX_SIZE - 1)];
}

static inline ts_frame *
lookup(ts_pager *pg, uint64_t pgno)
{
	_Atomic(ts_frame *) *chunk;

	if (pgno >= MAX_PAGES)
		return NULL;			/* a damaged reference: the slow path reports it */
	chunk = atomic_load_explicit(&pg->radix[pgno >> RADIX_BITS], memory_order_acquire);
	if (chunk == NULL)
		return NULL;
	return atomic_load_explicit(&chunk[pgno & (RADIX_SIZE - 1)], memory_order_acquire);
}

/* ---------- frames ---------- */

/*
 * A frame's bookkeeping sits in the 64 bytes just before its page image, in
 * the same 128-byte-aligned pair of cache lines as the page header, so the
 * hardware's adjacent-line prefetch brings both with one miss.  Those are
 * the frames up to the capacity, never freed.  A frame made beyond the
 * capacity (every frame pinned or dirty) is an "extra" one: its bookkeeping
 * and its page image are separate allocations, so that once clean and
 * unpinned it can be retired (frame_retire): the page image is freed, the
 * bookkeeping kept for a later extra frame (a lock-free pinner may still
 * hold its address: it finds the pin count negative and backs off, and
 * never touches the page image).
 */
#define FRAME_HEAD 64
_Static_assert(sizeof(ts_frame) <= FRAME_HEAD, "ts_frame must fit in one cache line");

#define CLAIM_SCAN	64			/* frames a claim looks at before growing */
#define SHRINK_SCAN	8			/* frames a claim over capacity looks at to retire */

static int
frames_push(ts_pager *pg, ts_frame *f)
{
	if (pg->nframes == pg->frames_cap)
	{
		size_t		ncap = pg->frames_cap ? pg->frames_cap * 2 : 1024;
		ts_frame  **nf = realloc(pg->frames, ncap * sizeof(*nf));

		if (nf == NULL)
			return -1;
		pg->frames = nf;
		pg->frames_cap = ncap;
	}
	pg->frames[pg->nframes++] = f;
	return 0;
}

static ts_frame *
frame_alloc(ts_pager *pg)
{
	void	   *block = NULL;
	ts_frame   *f;
	int			extra = pg->nframes >= pg->capacity;

	if (!extra)
	{
		if (posix_memalign(&block, 128, FRAME_HEAD + TS_PAGE_SIZE) != 0)
			return NULL;
		f = block;
		memset(f, 0, FRAME_HEAD);
		f->data = (uint8_t *) block + FRAME_HEAD;
	}
	else
	{
		void	   *data = NULL;

		if (posix_memalign(&data, 64, TS_PAGE_SIZE) != 0)
			return NULL;
		if (pg->spare != NULL)
		{
			/* its pin count stays as it is: stray pinners' increments */
			f = pg->spare;
			pg->spare = f->next_spare;
			f->next_spare = NULL;
			f->dirty = 0;
			f->born = 0;
			f->ref = 0;
		}
		else
		{
			if (posix_memalign(&block, 64, FRAME_HEAD) != 0)
			{
				free(data);
				return NULL;
			}
			f = block;
			memset(f, 0, FRAME_HEAD);
			atomic_store(&f->pin, EVICTING);
			f->extra = 1;
		}
		f->data = data;
	}
	atomic_store(&f->pgno, NO_PAGE);
	if (frames_push(pg, f) != 0)
	{
		if (!extra)
			free(f);
		else
		{
			free(f->data);
			f->data = NULL;
			f->next_spare = pg->spare;
			pg->spare = f;
		}
		return NULL;
	}
	return f;
}

/*
 * Retire the extra frame at frames[i], which the caller claimed (pin ==
 * EVICTING, unpublished): free its page image, keep its bookkeeping on the
 * spare list.  Caller holds the lock.
 */
static void
frame_retire(ts_pager *pg, size_t i)
{
	ts_frame   *f = pg->frames[i];

	pg->frames[i] = pg->frames[--pg->nframes];
	free(f->data);
	f->data = NULL;
	f->next_spare = pg->spare;
	pg->spare = f;
	pg->retired++;
}

/*
 * Claim frame f for eviction if it is clean and unpinned: unpublish it.
 * Caller holds the lock.
 */
static int
frame_evict(ts_pager *pg, ts_frame *f)
{
	int32_t		expect = 0;
	uint64_t	old;

	if (f->dirty || atomic_load(&f->pin) != 0 ||
		!atomic_compare_exchange_strong(&f->pin, &expect, EVICTING))
		return 0;
	old = atomic_load(&f->pgno);
	if (old != NO_PAGE)
	{
		_Atomic(ts_frame *) *s = slot_of(pg, old, 0);

		if (s)
			atomic_store_explicit(s, NULL, memory_order_release);
	}
	atomic_store(&f->pgno, NO_PAGE);
	return 1;
}

/*
 * Over capacity: look at up to `budget` frames from the hand and retire
 * the extra ones that are clean and unpinned.  Caller holds the lock.
 */
static void
shrink_locked(ts_pager *pg, size_t budget)
{
	while (pg->nframes > pg->capacity && budget-- > 0)
	{
		ts_frame   *f;

		if (pg->hand >= pg->nframes)
			pg->hand = 0;
		f = pg->frames[pg->hand];
		pg->scan_steps++;
		if (f->extra && frame_evict(pg, f))
			frame_retire(pg, pg->hand);	/* another frame moves to the hand */
		else
			pg->hand++;
	}
}

/*
 * Take an unused frame: a new one while under capacity, else evict by
 * CLOCK, looking at CLAIM_SCAN frames at most (a frame with its reference
 * bit set is passed over for one without, but taken rather than growing);
 * if none of them is clean and unpinned, grow by an extra frame.  Over
 * capacity, also retire a few extra frames.  Caller holds the lock.  The
 * frame comes back with pin == EVICTING and no page; the caller finishes
 * with frame_publish.
 */
static ts_frame *
frame_claim(ts_pager *pg)
{
	ts_frame   *f = NULL,
			   *second = NULL;	/* clean and unpinned, but referenced */

	if (pg->nframes < pg->capacity)
	{
		f = frame_alloc(pg);
		if (f)
			atomic_store(&f->pin, EVICTING);
		return f;
	}
	if (pg->nframes > pg->capacity)
		shrink_locked(pg, SHRINK_SCAN);
	for (size_t step = 0; step < CLAIM_SCAN && step < pg->nframes; step++)
	{
		ts_frame   *c;

		if (pg->hand >= pg->nframes)
			pg->hand = 0;
		c = pg->frames[pg->hand++];
		pg->scan_steps++;
		if (c->dirty || atomic_load(&c->pin) != 0)
			continue;
		if (atomic_exchange(&c->ref, 0))
		{
			if (second == NULL)
				second = c;
			continue;
		}
		if (frame_evict(pg, c))
		{
			f = c;
			break;
		}
	}
	if (f == NULL && second != NULL && frame_evict(pg, second))
		f = second;
	if (f != NULL)
		return f;
	/* everything looked at pinned or dirty: grow (an extra frame comes
	 * with pin == EVICTING, plus any stray pinner's increments) */
	return frame_alloc(pg);
}

/* Make a claimed frame hold `pgno`, pinned once, visible to lookups. */
static int
frame_publish(ts_pager *pg, ts_frame *f, uint64_t pgno)
{
	_Atomic(ts_frame *) *s = slot_of(pg, pgno, 1);

	if (s == NULL)
		return ts_error(TS_NOMEM, "out of memory for the page table");
	atomic_store(&f->pgno, pgno);
	atomic_store(&f->ref, 1);
	/* keep any stray increments from stale pinners: add, don't store */
	atomic_fetch_add(&f->pin, 1 - EVICTING);
	atomic_store_explicit(s, f, memory_order_release);
	return 0;
}

/* Return a claimed frame unused. */
static void
frame_unclaim(ts_frame *f)
{
	atomic_fetch_add(&f->pin, -EVICTING);
}

/* ---------- open / close ---------- */

static int
read_meta(ts_pager *pg, int which, ts_meta *m, int *valid)
{
	uint8_t		page[TS_PAGE_SIZE];
	int			rc;

	*valid = 0;
	rc = pg->vfs->read(pg->file, page, TS_PAGE_SIZE, (uint64_t) which * TS_PAGE_SIZE);
	if (rc)
		return ts_error(rc, "cannot read meta page %d of %s: %s", which, pg->path, strerror(rc));
	if (ts_page_verify(page, which, TS_PT_META, pg->path) != 0)
		return 0;
	if (memcmp(page + MT_MAGIC, TS_MAGIC, 8) != 0)
		return 0;
	if (rd32(page + MT_VERSION) > TS_FORMAT_VERSION)
		return ts_error(TS_TOO_NEW, "%s has on-disk format version %u; this build reads version %d or older",
						pg->path, rd32(page + MT_VERSION), TS_FORMAT_VERSION);
	if (rd32(page + MT_PAGESIZE) != TS_PAGE_SIZE)
		return ts_error(TS_CORRUPT, "%s has page size %u; this build uses %d",
						pg->path, rd32(page + MT_PAGESIZE), TS_PAGE_SIZE);
	m->txnid = rd64(page + MT_TXNID);
	m->cat_root = rd64(page + MT_CAT_ROOT);
	m->cat_depth = rd32(page + MT_CAT_DEPTH);
	m->next_tree = rd32(page + MT_NEXT_TREE);
	m->fl_root = rd64(page + MT_FL_ROOT);
	m->fl_depth = rd32(page + MT_FL_DEPTH);
	m->page_count = rd64(page + MT_PAGE_COUNT);
	m->free_count = rd64(page + MT_FREE_COUNT);
	m->cat_entries = rd64(page + MT_CAT_ENTRIES);
	m->fl_entries = rd64(page + MT_FL_ENTRIES);
	m->ckpt_lsn = rd64(page + MT_CKPT_LSN);
	m->wal_start = rd64(page + MT_WAL_START);
	m->next_xid = rd64(page + MT_NEXT_XID);
	m->ckpt_seq = rd64(page + MT_CKPT_SEQ);
	m->stamp_from = rd64(page + MT_STAMP_FROM);
	if (m->stamp_from == 0 || m->stamp_from > m->txnid + 1)
		m->stamp_from = m->txnid + 1;	/* written before stamps were exact */
	if (m->page_count < 2 || m->page_count > MAX_PAGES ||
		m->cat_root >= m->page_count || m->fl_root >= m->page_count ||
		(m->cat_root == 0) != (m->cat_depth == 0) || (m->fl_root == 0) != (m->fl_depth == 0) ||
		m->next_tree > TS_MAX_TREES ||
		m->cat_depth > TS_MAX_DEPTH || m->fl_depth > TS_MAX_DEPTH ||
		m->wal_start > m->ckpt_lsn)
		return ts_error(TS_CORRUPT, "meta page %d of %s: fields out of range", which, pg->path);
	*valid = 1;
	return 0;
}

int
ts_pager_write_meta(ts_pager *pg, const ts_meta *m)
{
	uint8_t		page[TS_PAGE_SIZE];
	uint64_t	which = m->ckpt_seq & 1;
	int			rc;

	if (pg->read_only)
		return read_only_error(pg, "a meta page");
	memset(page, 0, sizeof(page));
	page[PH_TYPE] = TS_PT_META;
	wr64(page + PH_PGNO, which);
	wr64(page + PH_TXNID, m->txnid);
	memcpy(page + MT_MAGIC, TS_MAGIC, 8);
	wr32(page + MT_VERSION, TS_FORMAT_VERSION);
	wr32(page + MT_PAGESIZE, TS_PAGE_SIZE);
	wr64(page + MT_TXNID, m->txnid);
	wr64(page + MT_CAT_ROOT, m->cat_root);
	wr32(page + MT_CAT_DEPTH, m->cat_depth);
	wr32(page + MT_NEXT_TREE, m->next_tree);
	wr64(page + MT_FL_ROOT, m->fl_root);
	wr32(page + MT_FL_DEPTH, m->fl_depth);
	wr64(page + MT_PAGE_COUNT, m->page_count);
	wr64(page + MT_FREE_COUNT, m->free_count);
	wr64(page + MT_CAT_ENTRIES, m->cat_entries);
	wr64(page + MT_FL_ENTRIES, m->fl_entries);
	wr64(page + MT_CKPT_LSN, m->ckpt_lsn);
	wr64(page + MT_WAL_START, m->wal_start);
	wr64(page + MT_NEXT_XID, m->next_xid);
	wr64(page + MT_CKPT_SEQ, m->ckpt_seq);
	wr64(page + MT_STAMP_FROM, m->stamp_from);
	ts_page_seal(page);
	rc = pg->vfs->write(pg->file, page, TS_PAGE_SIZE, which * TS_PAGE_SIZE);
	if (rc)
		return write_error(pg, rc, "the meta page", pg->path);
	return 0;
}

/*
 * Create the data file whole or not at all: both meta pages go into a
 * temporary file, which is synced and then renamed into place (and the
 * directory synced), so a crash during creation leaves either no data file
 * (the next open creates it again) or a complete one.
 */
static int
create_file(ts_pager *pg)
{
	char		tmp[4200];
	ts_meta		m;
	int			rc;

	snprintf(tmp, sizeof(tmp), "%s.new", pg->path);
	(void) pg->vfs->unlink(pg->vfs, tmp);
	rc = pg->vfs->open(pg->vfs, tmp, TS_VFS_CREATE, &pg->file);
	if (rc)
		return ts_error(rc, "cannot create %s: %s", tmp, strerror(rc));
	memset(&m, 0, sizeof(m));
	m.page_count = 2;
	m.next_tree = 1;
	m.stamp_from = 1;
	if ((rc = ts_pager_write_meta(pg, &m)) == 0)
	{
		m.ckpt_seq = 1;
		rc = ts_pager_write_meta(pg, &m);
	}
	if (rc == 0 && (rc = pg->vfs->sync(pg->file)) != 0)
		rc = ts_error(rc, "cannot sync %s: %s", tmp, strerror(rc));
	pg->vfs->close(pg->file);
	pg->file = NULL;
	if (rc == 0 && (rc = pg->vfs->rename(pg->vfs, tmp, pg->path)) != 0)
		rc = ts_error(rc, "cannot rename %s to %s: %s", tmp, pg->path, strerror(rc));
	if (rc == 0 && (rc = pg->vfs->sync_dir(pg->vfs, pg->dir)) != 0)
		rc = ts_error(rc, "cannot sync directory %s: %s", pg->dir, strerror(rc));
	return rc;
}

int
ts_pager_open(ts_vfs *vfs, const char *dir, size_t cache_pages, int create,
			  int read_only, ts_pager **out, ts_meta *meta)
{
	ts_pager   *pg;
	uint64_t	size;
	int			rc;

	*out = NULL;
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	pg->vfs = vfs;
	pg->read_only = read_only;
	pg->capacity = cache_pages < 16 ? 16 : cache_pages;
	pthread_mutex_init(&pg->lock, NULL);
	pthread_mutex_init(&pg->ring_lock, NULL);
	snprintf(pg->path, sizeof(pg->path), "%s/%s", dir, TS_DATA_FILE);
	snprintf(pg->dir, sizeof(pg->dir), "%s", dir);

	if (create)
	{
		char		parent[4096];
		char	   *slash;

		rc = vfs->mkdir(vfs, dir);
		if (rc)
		{
			ts_error(rc, "cannot create directory %s: %s", dir, strerror(rc));
			goto fail;
		}

		/*
		 * The new directory's entry is durable only once its parent is
		 * synced (as a new file's once its directory is: create_file).
		 */
		snprintf(parent, sizeof(parent), "%s", dir);
		while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash > parent)
			*slash = '\0';		/* trailing slashes */
		slash = strrchr(parent, '/');
		if (slash == NULL)
			snprintf(parent, sizeof(parent), ".");
		else if (slash == parent)
			parent[1] = '\0';	/* "/" */
		else
			*slash = '\0';
		if ((rc = vfs->sync_dir(vfs, parent)) != 0)
		{
			ts_error(rc, "cannot sync directory %s: %s", parent, strerror(rc));
			goto fail;
		}
	}
	if (create && vfs->exists(vfs, pg->path) != 1 && (rc = create_file(pg)) != 0)
		goto fail;
	rc = vfs->open(vfs, pg->path, read_only ? TS_VFS_RDONLY : 0, &pg->file);
	if (rc)
	{
		ts_error(rc, "cannot open %s: %s", pg->path, strerror(rc));
		goto fail;
	}
	if (vfs->lock && (rc = vfs->lock(pg->file)) != 0)
	{
		if (rc == EWOULDBLOCK)
			rc = ts_error(TS_BUSY, "%s is in use by another open environment", pg->path);
		else
			ts_error(rc, "cannot lock %s: %s", pg->path, strerror(rc));
		goto fail;
	}
	rc = vfs->size(pg->file, &size);
	if (rc)
	{
		ts_error(rc, "cannot stat %s: %s", pg->path, strerror(rc));
		goto fail;
	}
	{
		ts_meta		m[2];
		int			valid[2];

		if (size < 2 * TS_PAGE_SIZE)
		{
			rc = ts_error(TS_CORRUPT, "%s is too short (%llu bytes) to hold its meta pages",
						  pg->path, (unsigned long long) size);
			goto fail;
		}
		for (int i = 0; i < 2; i++)
		{
			if ((rc = read_meta(pg, i, &m[i], &valid[i])) != 0)
				goto fail;
			/* a checkpoint extends the file to its page count first */
			if (valid[i] && m[i].page_count * TS_PAGE_SIZE > size)
			{
				ts_error(TS_CORRUPT, "meta page %d of %s claims %llu pages; the file holds %llu",
						 i, pg->path, (unsigned long long) m[i].page_count,
						 (unsigned long long) (size / TS_PAGE_SIZE));
				valid[i] = 0;
			}
		}
		if (!valid[0] && !valid[1])
		{
			rc = ts_error(TS_CORRUPT, "%s: neither meta page (0, 1) is valid (%s)", pg->path,
						  ts_last_error());
			goto fail;
		}
		if (valid[0] && (!valid[1] || m[0].ckpt_seq > m[1].ckpt_seq))
			*meta = m[0];
		else
			*meta = m[1];
		pg->stamp_from = meta->stamp_from;
	}
	*out = pg;
	return 0;

fail:
	if (pg->file)
		vfs->close(pg->file);
	pthread_mutex_destroy(&pg->lock);
	pthread_mutex_destroy(&pg->ring_lock);
	free(pg);
	return rc;
}

int
ts_pager_attach(ts_vfs *vfs, const char *dir, size_t cache_pages, ts_pager **out)
{
	ts_pager   *pg;
	int			rc;

	*out = NULL;
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	pg->vfs = vfs;
	pg->read_only = 1;
	pg->capacity = cache_pages < 16 ? 16 : cache_pages;
	pthread_mutex_init(&pg->lock, NULL);
	pthread_mutex_init(&pg->ring_lock, NULL);
	snprintf(pg->path, sizeof(pg->path), "%s/%s", dir, TS_DATA_FILE);
	snprintf(pg->dir, sizeof(pg->dir), "%s", dir);
	rc = vfs->open(vfs, pg->path, TS_VFS_RDONLY, &pg->file);
	if (rc)
	{
		ts_error(rc, "cannot open %s: %s", pg->path, strerror(rc));
		pthread_mutex_destroy(&pg->lock);
		pthread_mutex_destroy(&pg->ring_lock);
		free(pg);
		return rc;
	}
	*out = pg;
	return 0;
}

void
ts_pager_set_shared(ts_pager *pg, ts_shared *sh)
{
	pg->shared = sh;
}

void
ts_pager_set_stamp_from(ts_pager *pg, uint64_t stamp_from)
{
	pg->stamp_from = stamp_from;
}

int
ts_pager_write_through(ts_pager *pg, const uint64_t *pgnos, size_t n)
{
	const void *run[FLUSH_RUN_MAX];
	ts_frame   *fr[FLUSH_RUN_MAX];
	size_t		len = 0;
	uint64_t	start = 0;
	int			rc = 0;

	if (pg->read_only)
		return read_only_error(pg, "pages");
	for (size_t i = 0; i <= n && rc == 0; i++)
	{
		ts_frame   *f = NULL;

		if (i < n)
		{
			f = lookup(pg, pgnos[i]);
			if (f == NULL || !f->dirty || atomic_load(&f->written))
				continue;		/* dropped by its own commit, or listed twice */
		}
		if (len > 0 && (f == NULL || pgnos[i] != start + len || len == FLUSH_RUN_MAX))
		{
			rc = write_run(pg, run, len, start);
			for (size_t j = 0; j < len && rc == 0; j++)
				atomic_store(&fr[j]->written, 1);
			len = 0;
		}
		if (f == NULL)
			continue;
		if (len == 0)
			start = pgnos[i];
		fr[len] = f;
		run[len++] = f->data;
	}
	return rc;
}

void
ts_pager_forget_all(ts_pager *pg)
{
	pthread_mutex_lock(&pg->lock);
	for (size_t i = 0; i < pg->nframes; i++)
	{
		ts_frame   *f = pg->frames[i];
		uint64_t	pgno = atomic_load(&f->pgno);

		if (pgno == NO_PAGE || f->dirty)
			continue;
		atomic_store(slot_of(pg, pgno, 0), NULL);
		atomic_store(&f->pgno, NO_PAGE);
	}
	pthread_mutex_unlock(&pg->lock);
}

void
ts_pager_close(ts_pager *pg)
{
	if (pg == NULL)
		return;
	for (size_t i = 0; i < pg->nframes; i++)
	{
		if (pg->frames[i]->extra)
			free(pg->frames[i]->data);
		free(pg->frames[i]);
	}
	while (pg->spare)
	{
		ts_frame   *f = pg->spare;

		pg->spare = f->next_spare;
		free(f);
	}
	free(pg->frames);
	for (size_t i = 0; i < RADIX_SIZE; i++)
		free(atomic_load(&pg->radix[i]));
	if (pg->file)
		pg->vfs->close(pg->file);
	pthread_mutex_destroy(&pg->lock);
	pthread_mutex_destroy(&pg->ring_lock);
	free(pg);
}

/* ---------- page access ---------- */

int
ts_pager_get(ts_pager *pg, uint64_t pgno, int type, ts_frame **out)
{
	ts_frame   *f = lookup(pg, pgno);
	int			rc;

	if (f != NULL)
	{
		if (atomic_fetch_add(&f->pin, 1) >= 0 && atomic_load(&f->pgno) == pgno)
		{
			if (!atomic_load_explicit(&f->ref, memory_order_relaxed))
				atomic_store_explicit(&f->ref, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&pg->hits, 1, memory_order_relaxed);
			if (type != 0 && f->data[PH_TYPE] != type)
			{
				atomic_fetch_sub(&f->pin, 1);
				return ts_error(TS_CORRUPT, "page %llu of %s: type %d where type %d was expected",
								(unsigned long long) pgno, pg->path, f->data[PH_TYPE], type);
			}
			*out = f;
			return 0;
		}
		atomic_fetch_sub(&f->pin, 1);
	}
	if (pgno < 2 || pgno >= MAX_PAGES)
		return ts_error(TS_CORRUPT, "reference to page %llu of %s, which is out of range",
						(unsigned long long) pgno, pg->path);

	pthread_mutex_lock(&pg->lock);
	f = lookup(pg, pgno);
	if (f != NULL && atomic_fetch_add(&f->pin, 1) >= 0 && atomic_load(&f->pgno) == pgno)
	{
		pthread_mutex_unlock(&pg->lock);
		atomic_fetch_add_explicit(&pg->hits, 1, memory_order_relaxed);
		if (type != 0 && f->data[PH_TYPE] != type)
		{
			atomic_fetch_sub(&f->pin, 1);
			return ts_error(TS_CORRUPT, "page %llu of %s: type %d where type %d was expected",
							(unsigned long long) pgno, pg->path, f->data[PH_TYPE], type);
		}
		*out = f;
		return 0;
	}
	if (f != NULL)
		atomic_fetch_sub(&f->pin, 1);

	f = frame_claim(pg);
	if (f == NULL)
	{
		pthread_mutex_unlock(&pg->lock);
		return ts_error(TS_NOMEM, "out of memory for the buffer cache");
	}
	rc = pg->vfs->read(pg->file, f->data, TS_PAGE_SIZE, pgno * TS_PAGE_SIZE);
	if (rc)
		rc = ts_error(rc, "cannot read page %llu of %s: %s",
					  (unsigned long long) pgno, pg->path, strerror(rc));
	else
		rc = ts_page_verify(f->data, pgno, type, pg->path);
	if (rc == 0)
		rc = frame_publish(pg, f, pgno);
	if (rc != 0)
	{
		frame_unclaim(f);
		pthread_mutex_unlock(&pg->lock);
		return rc;
	}
	pthread_mutex_unlock(&pg->lock);
	atomic_fetch_add_explicit(&pg->misses, 1, memory_order_relaxed);
	*out = f;
	return 0;
}

int
ts_pager_get_child(ts_pager *pg, uint64_t pgno, int type, uint64_t parent_txnid, ts_frame **out)
{
	int			rc = ts_pager_get(pg, pgno, type, out);
	uint64_t	txnid;

	if (rc != 0 || parent_txnid < pg->stamp_from)
		return rc;
	txnid = rd64((*out)->data + PH_TXNID);
	if (txnid > parent_txnid)
	{
		ts_pager_release(pg, *out);
		*out = NULL;
		return ts_error(TS_CORRUPT, "page %llu of %s was written by commit %llu, after its parent "
						"page (commit %llu): a stale page (a lost write?)",
						(unsigned long long) pgno, pg->path, (unsigned long long) txnid,
						(unsigned long long) parent_txnid);
	}
	return 0;
}

void
ts_pager_release(ts_pager *pg, ts_frame *f)
{
	(void) pg;
	if (f)
		atomic_fetch_sub_explicit(&f->pin, 1, memory_order_release);
}

int
ts_pager_new_page(ts_pager *pg, uint64_t pgno, uint64_t txnid, ts_frame **out)
{
	ts_frame   *f;
	int			rc;
	int			was_dirty = 0;

	if (pgno < 2 || pgno >= MAX_PAGES)
		return ts_error(TS_FULL, "%s: page number %llu is beyond the file's limit",
						pg->path, (unsigned long long) pgno);
	pthread_mutex_lock(&pg->lock);
	f = lookup(pg, pgno);
	if (f != NULL)
	{
		/*
		 * A copy of a page freed earlier: no snapshot can reach the page, so
		 * nobody holds this frame except a racing pinner that will fail its
		 * page-number check.  Take it over (a dirty one keeps its pin).
		 */
		_Atomic(ts_frame *) *s = slot_of(pg, pgno, 0);

		atomic_store(s, NULL);
		atomic_store(&f->pgno, NO_PAGE);
		was_dirty = f->dirty;
		if (was_dirty)
		{
			atomic_fetch_sub(&f->pin, 1);
			pg->ndirty--;
		}
		atomic_fetch_add(&f->pin, EVICTING);
	}
	else
		f = frame_claim(pg);
	if (f == NULL)
	{
		pthread_mutex_unlock(&pg->lock);
		return ts_error(TS_NOMEM, "out of memory for the buffer cache");
	}
	memset(f->data, 0, TS_PH_SIZE);
	wr64(f->data + PH_PGNO, pgno);
	wr64(f->data + PH_TXNID, txnid);
	f->dirty = 1;
	f->born = txnid;
	atomic_store(&f->written, 0);
	rc = frame_publish(pg, f, pgno);
	if (rc)
	{
		f->dirty = 0;
		frame_unclaim(f);
	}
	else
		pg->ndirty++;
	pthread_mutex_unlock(&pg->lock);
	*out = f;
	return rc;
}

/* Unpublish a dirty frame and make it reusable.  Caller holds the lock. */
static void
drop_locked(ts_pager *pg, ts_frame *f, uint64_t pgno)
{
	_Atomic(ts_frame *) *s = slot_of(pg, pgno, 0);

	atomic_store(s, NULL);
	atomic_store(&f->pgno, NO_PAGE);
	f->dirty = 0;
	pg->ndirty--;
	atomic_fetch_sub(&f->pin, 1);	/* the dirty page's own pin */
}

int
ts_pager_discard(ts_pager *pg, uint64_t pgno, uint64_t txnid)
{
	ts_frame   *f;
	int			r = TS_FREED_ONDISK;

	pthread_mutex_lock(&pg->lock);
	f = lookup(pg, pgno);
	if (f != NULL && f->dirty)
	{
		if (f->born == txnid)
		{
			drop_locked(pg, f, pgno);
			r = TS_FREED_NEW;
		}
		else if (pg->writing == 0 || f->born > pg->writing)
			r = TS_FREED_VOLATILE;
		/* else a checkpoint is writing it: on disk once that is durable */
	}
	pthread_mutex_unlock(&pg->lock);
	return r;
}

void
ts_pager_writing(ts_pager *pg, uint64_t upto)
{
	pthread_mutex_lock(&pg->lock);
	pg->writing = upto;
	pthread_mutex_unlock(&pg->lock);
}

void
ts_pager_drop(ts_pager *pg, const uint64_t *pgnos, size_t n, uint64_t txnid)
{
	pthread_mutex_lock(&pg->lock);
	for (size_t i = 0; i < n; i++)
	{
		ts_frame   *f = lookup(pg, pgnos[i]);

		if (f != NULL && f->dirty && f->born == txnid)
			drop_locked(pg, f, pgnos[i]);
	}
	pthread_mutex_unlock(&pg->lock);
}

void
ts_pager_forget(ts_pager *pg, uint64_t pgno)
{
	ts_frame   *f;

	pthread_mutex_lock(&pg->lock);
	f = lookup(pg, pgno);
	if (f != NULL)
	{
		if (f->dirty)
			drop_locked(pg, f, pgno);
		else
		{
			/*
			 * Unreachable page: only a racing pinner could hold it, and it
			 * fails its page-number check or reads what it read before.
			 * Unpublish the frame even then, so that no later lookup finds
			 * the old contents (overflow pages are read through the cache);
			 * it is claimed again once unpinned.
			 */
			_Atomic(ts_frame *) *s = slot_of(pg, pgno, 0);

			atomic_store(s, NULL);
			atomic_store(&f->pgno, NO_PAGE);
		}
	}
	pthread_mutex_unlock(&pg->lock);
}

void
ts_pager_seal(ts_pager *pg, const uint64_t *pgnos, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		ts_frame   *f = lookup(pg, pgnos[i]);

		if (f != NULL && f->dirty)
			ts_page_seal(f->data);
	}
}

uint64_t
ts_pager_dirty_count(ts_pager *pg)
{
	uint64_t	n;

	pthread_mutex_lock(&pg->lock);
	n = pg->ndirty;
	pthread_mutex_unlock(&pg->lock);
	return n;
}

#define FLUSH_RUN FLUSH_RUN_MAX

/* Write a run of consecutive dirty pages straight from their frames. */
static int
write_run(ts_pager *pg, const void *const *bufs, size_t n, uint64_t start)
{
	int			rc = 0;

	if (pg->vfs->writev)
		rc = pg->vfs->writev(pg->file, bufs, n, TS_PAGE_SIZE, start * TS_PAGE_SIZE);
	else
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = pg->vfs->write(pg->file, bufs[i], TS_PAGE_SIZE, (start + i) * TS_PAGE_SIZE);
	if (rc)
	{
		char		what[64];

		snprintf(what, sizeof(what), "pages %llu..%llu",
				 (unsigned long long) start, (unsigned long long) (start + n - 1));
		return write_error(pg, rc, what, pg->path);
	}
	ring_add(pg, start, n);
	return 0;
}

int
ts_pager_flush(ts_pager *pg, const uint64_t *pgnos, size_t n, uint64_t upto)
{
	const void *run[FLUSH_RUN];
	size_t		len = 0;
	uint64_t	start = 0,
				prev = 0;
	int			rc = 0;

	if (pg->read_only)
		return read_only_error(pg, "pages");
	/* coalesce consecutive page numbers into one write */
	for (size_t i = 0; i < n && rc == 0; i++)
	{
		ts_frame   *f;

		if (i > 0 && pgnos[i] == prev)
			continue;			/* listed twice */
		prev = pgnos[i];
		f = lookup(pg, pgnos[i]);
		if (f == NULL || !f->dirty || f->born > upto)
			continue;			/* freed and dropped (or reused) since */
		if (atomic_load(&f->written))
			continue;			/* written at its commit */
		if (len > 0 && (pgnos[i] != start + len || len == FLUSH_RUN))
		{
			rc = write_run(pg, run, len, start);
			len = 0;
		}
		if (len == 0)
			start = pgnos[i];
		run[len++] = f->data;
	}
	if (rc == 0 && len > 0)
		rc = write_run(pg, run, len, start);
	if (rc != 0)
		return rc;

	pthread_mutex_lock(&pg->lock);
	for (size_t j = 0; j < n; j++)
	{
		ts_frame   *f = lookup(pg, pgnos[j]);

		if (f == NULL || !f->dirty || f->born > upto)
			continue;
		f->dirty = 0;
		pg->ndirty--;
		atomic_fetch_sub(&f->pin, 1);
	}
	/* frames grown beyond the capacity while these were dirty go back */
	if (pg->nframes > pg->capacity)
		shrink_locked(pg, 2 * n + CLAIM_SCAN);
	pthread_mutex_unlock(&pg->lock);
	return 0;
}

int
ts_pager_read_raw(ts_pager *pg, uint64_t pgno, int type, uint8_t *buf)
{
	int			rc;

	if (pgno < 2 || pgno >= MAX_PAGES)
		return ts_error(TS_CORRUPT, "reference to page %llu of %s, which is out of range",
						(unsigned long long) pgno, pg->path);
	if (pg->read_only)
	{
		/* a page replay made is in memory only (invariant 5) */
		ts_frame   *f = lookup(pg, pgno);

		if (f != NULL && atomic_fetch_add(&f->pin, 1) >= 0 && atomic_load(&f->pgno) == pgno &&
			f->dirty)
		{
			memcpy(buf, f->data, TS_PAGE_SIZE);
			atomic_fetch_sub(&f->pin, 1);
			return ts_page_verify(buf, pgno, type, pg->path);
		}
		if (f != NULL)
			atomic_fetch_sub(&f->pin, 1);
	}
	rc = pg->vfs->read(pg->file, buf, TS_PAGE_SIZE, pgno * TS_PAGE_SIZE);
	if (rc)
		return ts_error(rc, "cannot read page %llu of %s: %s",
						(unsigned long long) pgno, pg->path, strerror(rc));
	atomic_fetch_add_explicit(&pg->misses, 1, memory_order_relaxed);
	return ts_page_verify(buf, pgno, type, pg->path);
}

int
ts_pager_write_raw(ts_pager *pg, uint64_t pgno, uint8_t *buf, uint64_t txnid)
{
	int			rc;

	wr64(buf + PH_PGNO, pgno);
	wr64(buf + PH_TXNID, txnid);
	ts_page_seal(buf);
	if (pg->read_only)
	{
		/* replay in memory: a dirty frame, never written (invariant 5) */
		ts_frame   *f;

		if ((rc = ts_pager_new_page(pg, pgno, txnid, &f)) != 0)
			return rc;
		memcpy(f->data, buf, TS_PAGE_SIZE);
		return 0;
	}
	rc = pg->vfs->write(pg->file, buf, TS_PAGE_SIZE, pgno * TS_PAGE_SIZE);
	if (rc)
	{
		char		what[32];

		snprintf(what, sizeof(what), "page %llu", (unsigned long long) pgno);
		return write_error(pg, rc, what, pg->path);
	}
	ring_add(pg, pgno, 1);
	return 0;
}

int
ts_pager_extend(ts_pager *pg, uint64_t npages)
{
	uint64_t	size;
	int			rc;

	if (pg->read_only)
		return read_only_error(pg, "the file size");
	rc = pg->vfs->size(pg->file, &size);
	if (rc == 0 && size < npages * TS_PAGE_SIZE)
		rc = pg->vfs->truncate(pg->file, npages * TS_PAGE_SIZE);
	if (rc)
		return write_error(pg, rc, "the file size", pg->path);
	return 0;
}

int
ts_pager_sync(ts_pager *pg)
{
	int			rc;

	if (pg->read_only)
		return read_only_error(pg, "(sync)");
	rc = pg->vfs->sync(pg->file);

	if (rc)
	{
		atomic_store(&pg->failed, 1);
		return ts_error(rc, "cannot fdatasync %s: %s", pg->path, strerror(rc));
	}
	return 0;
}

int
ts_pager_failed(ts_pager *pg)
{
	return atomic_load(&pg->failed);
}

void
ts_pager_counters(ts_pager *pg, uint64_t *hits, uint64_t *misses, uint64_t *frames)
{
	*hits = atomic_load(&pg->hits);
	*misses = atomic_load(&pg->misses);
	pthread_mutex_lock(&pg->lock);
	*frames = pg->nframes;
	pthread_mutex_unlock(&pg->lock);
}

void
ts_pager_claim_stats(ts_pager *pg, uint64_t *scan_steps, uint64_t *retired)
{
	pthread_mutex_lock(&pg->lock);
	*scan_steps = pg->scan_steps;
	*retired = pg->retired;
	pthread_mutex_unlock(&pg->lock);
}

const char *
ts_pager_path(ts_pager *pg)
{
	return pg->path;
}
