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
	uint8_t		dirty;			/* written by the current commit, not yet on disk */
	uint8_t    *data;
} ts_frame;

int			ts_pager_open(ts_vfs *vfs, const char *dir, size_t cache_pages,
						  int create, ts_pager **out, ts_meta *meta);
void		ts_pager_close(ts_pager *pg);

/* Pin page `pgno`, reading and verifying it on a miss.  `type` is the page
 * type the caller expects (0: any). */
int			ts_pager_get(ts_pager *pg, uint64_t pgno, int type, ts_frame **out);
void		ts_pager_release(ts_pager *pg, ts_frame *f);

/* A frame for a page the current commit allocated: pinned, dirty, zeroed
 * header.  Stays pinned until ts_pager_flush or ts_pager_discard. */
int			ts_pager_new_page(ts_pager *pg, uint64_t pgno, ts_frame **out);

/* Forget a dirty page allocated and freed in the same commit.  Returns 1 if
 * the page was such a page, 0 if it is not dirty (a committed page). */
int			ts_pager_discard(ts_pager *pg, uint64_t pgno);

/*
 * Write the listed dirty pages (sorted, each once) with their checksums,
 * stamping txnid, then unpin them.  On failure every dirty page of the list
 * is dropped from the cache.
 */
int			ts_pager_flush(ts_pager *pg, uint64_t *pgnos, size_t n, uint64_t txnid);

/* Drop the listed dirty pages without writing them (failed commit). */
void		ts_pager_drop(ts_pager *pg, uint64_t *pgnos, size_t n);

/* Uncached I/O for overflow pages: read+verify, or stamp+checksum+write. */
int			ts_pager_read_raw(ts_pager *pg, uint64_t pgno, int type, uint8_t *buf);
int			ts_pager_write_raw(ts_pager *pg, uint64_t pgno, uint8_t *buf, uint64_t txnid);

int			ts_pager_write_meta(ts_pager *pg, const ts_meta *m);
int			ts_pager_sync(ts_pager *pg);

/* Has any write or sync failed since open?  (Then the engine is poisoned.) */
int			ts_pager_failed(ts_pager *pg);

/* Verify a page image read from disk: checksum, pgno, type. */
int			ts_page_verify(const uint8_t *page, uint64_t pgno, int type, const char *file);
void		ts_page_seal(uint8_t *page);	/* compute and store the checksum */

void		ts_pager_counters(ts_pager *pg, uint64_t *hits, uint64_t *misses, uint64_t *frames);
const char *ts_pager_path(ts_pager *pg);

#endif							/* TS_PAGER_H */
