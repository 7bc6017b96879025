/*-------------------------------------------------------------------------
 *
 * shared.h
 *	  The region shared by the process that writes an environment and the
 *	  processes that read it (ts_env_attach): the published snapshot, the
 *	  reader table and the ring of rewritten pages.  Layout and protocol are
 *	  in shared.c.  Called by txn.c (snapshots, the reuse horizon) and
 *	  pager.c (the ring); calls nothing but the C library.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_SHARED_H
#define TS_SHARED_H

#include <stdatomic.h>
#include <stdint.h>

#include "format.h"

typedef struct ts_shared ts_shared;

/* ---- the writer ---- */

/* Check a region given in ts_options (magic, size). */
int			ts_shared_check(void *mem, ts_shared **out);

/*
 * Opening: withdraw the published snapshot (readers get TS_BUSY until the
 * next ts_shared_publish), take the writer's place, bump the generation.
 * Returns the new generation.
 */
uint64_t	ts_shared_withdraw(ts_shared *sh);

/* Newest snapshot txnid held by a live reader (0: none). */
uint64_t	ts_shared_newest_reader(ts_shared *sh);

/* Oldest snapshot txnid held by a live reader (UINT64_MAX: none). */
uint64_t	ts_shared_oldest_reader(ts_shared *sh);

/* Oldest conflict base or snapshot of any slot (UINT64_MAX: none). */
uint64_t	ts_shared_oldest_base(ts_shared *sh);

/* Slots taken by reading processes. */
uint64_t	ts_shared_count(ts_shared *sh);

/* Free the slots of processes that no longer exist; returns how many. */
int			ts_shared_reap(ts_shared *sh);

/* Make `m` the snapshot new readers take. */
void		ts_shared_publish(ts_shared *sh, const ts_meta *m);

/* The pages listed were (re)written in the data file: readers drop their
 * cached copies before their next snapshot.  Single writer. */
void		ts_shared_rewritten(ts_shared *sh, const uint64_t *pgnos, size_t n);

/* ---- a reader ---- */

/* Take a slot for this process: its index, or -1 (TS_BUSY) if none is free. */
int			ts_shared_claim(ts_shared *sh);
void		ts_shared_release(ts_shared *sh, int slot);

/*
 * Register a snapshot in `slot` and read it.  `held`: the oldest snapshot
 * the process still reads (0: none), which keeps protecting what it
 * protects.  On success *m is the published snapshot (txnid >= what the
 * slot holds), *gen the writer's generation.  TS_BUSY: nothing published
 * (no writer, or one is opening).
 */
int			ts_shared_snapshot(ts_shared *sh, int slot, uint64_t held, ts_meta *m,
							   uint64_t *gen);

/* Set the slot's conflict base (0: none); its snapshot must be registered. */
void		ts_shared_set_base(ts_shared *sh, int slot, uint64_t base);

/* Set the slot's snapshot (0: none) after a transaction ended. */
void		ts_shared_hold(ts_shared *sh, int slot, uint64_t txnid);

/*
 * The pages rewritten since position *pos of the ring: calls forget(arg,
 * pgno) for each and advances *pos.  Returns 0, or 1 if the ring has
 * wrapped past *pos (the caller must drop every cached page).
 */
int			ts_shared_ring_scan(ts_shared *sh, uint64_t *pos,
								void (*forget) (void *arg, uint64_t pgno), void *arg);
uint64_t	ts_shared_ring_head(ts_shared *sh);

#endif							/* TS_SHARED_H */
