/*-------------------------------------------------------------------------
 *
 * local.h
 *	  Reads in the backend: a read request (a scan, its fetches, a document
 *	  query, table statistics) is executed by the backend itself, on the
 *	  engine's published snapshot (engine/shared.c), when the transaction
 *	  allows it, and sent to the worker otherwise.  The answer has the same
 *	  shape either way (a Treestore__Response and its row payload), so
 *	  callers do not know which one served them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_LOCAL_H
#define TS_LOCAL_H

#include "wire.h"

/* Shared memory for the engine's reader table (shmem.c). */
extern void *ts_reader_region;
extern Size ts_reader_region_size(void);

extern void ts_local_init(void);

/*
 * A read request of the current statement (Scan, Query or TableStats,
 * with the rest of req filled in): executed here when it can be, else
 * through the worker (ts_xact_request + ts_call).  via_worker: the caller
 * needs the worker's view (a statement that writes treestore).  The
 * response is allocated in the current memory context, and so is a local
 * answer's row payload (ts_response_payload).
 */
extern Treestore__Response *ts_read_request(Treestore__Request *req, bool via_worker);

/* The next batch of a scan (local or the worker's, by its id), for the
 * statement stmt; and closing one not read to its end. */
extern Treestore__Response *ts_read_fetch(uint64 scan_id, uint32 stmt);
extern void ts_read_close(uint64 scan_id);

/*
 * The engine snapshot this transaction first read here (0: none): its
 * writes through the worker are checked for conflicts from it on, as if its
 * engine transaction had begun there (Request.read_base).
 */
extern uint64 ts_local_xact_base(void);

/* Did the last ts_read_request run here?  (EXPLAIN) */
extern bool ts_local_last_served;

#endif							/* TS_LOCAL_H */
