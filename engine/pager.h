/*-------------------------------------------------------------------------
 *
 * pager.h
 *	  Pages of the data file, their checksums, the meta pages, and the
 *	  buffer cache.  Called by the B+tree and the freelist; calls the VFS.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_PAGER_H
#define TS_PAGER_H

#include <stdatomic.h>
#include <stdint.h>

#include "format.h"
#include "vfs.h"

typedef struct ts_pager ts_pager;

/*
 * A cached page.  `data` is valid while the frame is pinned (by
 * ts_pager_get or ts_pager_new_page) and until ts_pager_release.
 */
typedef struct ts_frame
{
	_Atomic uint64_t pgno;
	_Atomic int32_t pin;		/* < 0 while being evicted */
	_Atomic uint8_t ref;		/* CLOCK reference bit */
	_Atomic uint8_t dirty;		/* changed since the last checkpoint: not on disk
								 * (changed under the cache lock; a checkpoint
								 * reads it without) */
	_Atomic uint64_t born;		/* txnid of the commit that created the page */
	_Atomic uint8_t written;	/* dirty, but already in the data file (written
								 * at commit for other processes' readers) */
	uint8_t		extra;			/* made beyond the capacity: retired when clean */
	uint8_t    *data;
	struct ts_frame *next_spare;	/* retired: the pager's spare list */
} ts_frame;

/* read_only: open the file for reading only; nothing is ever written
 * (pager.c, invariant 5) */
int			ts_pager_open(ts_vfs *vfs, const char *dir, size_t cache_pages,
						  int create, int read_only, ts_pager **out, ts_meta *meta);
void		ts_pager_close(ts_pager *pg);

/*
 * A reader's pager for a file another process writes (ts_env_attach): read
 * only, no lock, no meta page read (the snapshot comes from the writer).
 */
int			ts_pager_attach(ts_vfs *vfs, const char *dir, size_t cache_pages, ts_pager **out);

/* Writer: every page number written from now on is added to the ring of
 * rewritten pages in `sh` (shared.h). */
struct ts_shared;
void		ts_pager_set_shared(ts_pager *pg, struct ts_shared *sh);

/*
 * Write the listed dirty pages (a commit's, sealed) to the data file now,
 * without a sync: they stay dirty (not part of a durable checkpoint) but
 * the checkpoint need not write them again.  Writer with readers in other
 * processes (shared.c, invariant 1).
 */
int			ts_pager_write_through(ts_pager *pg, const uint64_t *pgnos, size_t n);

/* Reader: drop every cached page (a new writer; the ring wrapped). */
void		ts_pager_forget_all(ts_pager *pg);
/* Reader: from this commit on page txnids are exact (the snapshot's meta). */
void		ts_pager_set_stamp_from(ts_pager *pg, uint64_t stamp_from);

/* Pin page `pgno`, reading and verifying it on a miss.  `type` is the page
 * type the caller expects (0: any). */
int			ts_pager_get(ts_pager *pg, uint64_t pgno, int type, ts_frame **out);
void		ts_pager_release(ts_pager *pg, ts_frame *f);

/*
 * ts_pager_get of a child page whose parent carries `parent_txnid`
 * (UINT64_MAX: none known): TS_CORRUPT if the child is newer than its
 * parent (pager.c, invariant 6).
 */
int			ts_pager_get_child(ts_pager *pg, uint64_t pgno, int type, uint64_t parent_txnid,
							   ts_frame **out);

/*
 * A frame for a page commit `txnid` allocated: pinned, dirty, zeroed
 * header stamped with its number and txnid.  It stays pinned and in memory
 * until a checkpoint writes it (ts_pager_flush) or the commit that created
 * it frees it (ts_pager_discard) or fails (ts_pager_drop).
 */
int			ts_pager_new_page(ts_pager *pg, uint64_t pgno, uint64_t txnid, ts_frame **out);

/* What freeing a page means for the freelist (ts_pager_discard). */
#define TS_FREED_ONDISK		0	/* part of the last checkpoint */
#define TS_FREED_NEW		1	/* created by this commit: dropped, reuse now */
#define TS_FREED_VOLATILE	2	/* created since the checkpoint by an earlier commit */

/* Commit `txnid` frees page `pgno`: classify it, dropping it if new. */
int			ts_pager_discard(ts_pager *pg, uint64_t pgno, uint64_t txnid);

/* Drop any cached copy of a free page about to be written directly (an
 * overflow page), so that no stale frame is ever flushed over it. */
void		ts_pager_forget(ts_pager *pg, uint64_t pgno);

/* Compute the checksums of the listed pages (a commit's, once final). */
void		ts_pager_seal(ts_pager *pg, const uint64_t *pgnos, size_t n);

/*
 * Checkpoint: write the listed pages that are still dirty and were made by
 * commits up to `upto` (sorted; sealed by their commits), then mark them
 * clean and unpin them.  On failure they stay dirty (they are committed
 * state) and the pager is failed.
 */
int			ts_pager_flush(ts_pager *pg, const uint64_t *pgnos, size_t n, uint64_t upto);

/*
 * A checkpoint is writing the dirty pages made by commits up to `upto`
 * (0: none is): until it is over, ts_pager_discard reports such a page
 * as TS_FREED_ONDISK, since the checkpoint will reference it.
 */
void		ts_pager_writing(ts_pager *pg, uint64_t upto);

/* Drop the listed pages created by commit `txnid` (which failed). */
void		ts_pager_drop(ts_pager *pg, const uint64_t *pgnos, size_t n, uint64_t txnid);

/* Pages dirty now (changed since the last checkpoint). */
uint64_t	ts_pager_dirty_count(ts_pager *pg);

/* Uncached I/O for overflow pages: read+verify, or stamp+checksum+write. */
int			ts_pager_read_raw(ts_pager *pg, uint64_t pgno, int type, uint8_t *buf);
int			ts_pager_write_raw(ts_pager *pg, uint64_t pgno, uint8_t *buf, uint64_t txnid);

int			ts_pager_write_meta(ts_pager *pg, const ts_meta *m);
int			ts_pager_sync(ts_pager *pg);

/* Make the file at least npages long (a checkpoint, before its meta page:
 * an open refuses a meta page that counts more pages than the file has). */
int			ts_pager_extend(ts_pager *pg, uint64_t npages);

/* Has any write or sync failed since open?  (Then the engine is poisoned.) */
int			ts_pager_failed(ts_pager *pg);

/* Verify a page image read from disk: checksum, pgno, type. */
int			ts_page_verify(const uint8_t *page, uint64_t pgno, int type, const char *file);
void		ts_page_seal(uint8_t *page);	/* compute and store the checksum */

void		ts_pager_counters(ts_pager *pg, uint64_t *hits, uint64_t *misses, uint64_t *frames);
/* Frames looked at by claims and shrinking, and extra frames retired (tests). */
void		ts_pager_claim_stats(ts_pager *pg, uint64_t *scan_steps, uint64_t *retired);
const char *ts_pager_path(ts_pager *pg);

#endif							/* TS_PAGER_H */
