/*-------------------------------------------------------------------------
 *
 * treestore_fdw.h
 *	  Declarations shared by the PostgreSQL side of treestore_fdw.
 *
 *	  Who does what:
 *	    treestore_fdw.c  _PG_init: one init call per module below
 *	    settings.c       the treestore.* settings (GUCs)
 *	    shmem.c          shared state: worker status, one channel slot per
 *	                     backend, the engine's reader table
 *	    worker.c         the background worker: owns the engine, serves
 *	                     sessions (worker_ops.c executes their requests,
 *	                     worker_pool.c runs the engine's syncs on threads)
 *	    local.c          reads in the backend: scans and document queries on
 *	                     the engine's published snapshot, without the worker
 *	    docquery.c       one document query on an engine transaction (worker
 *	                     and backends)
 *	    channel.c        a backend's end of the IPC: requests, responses,
 *	                     timeouts, a dead or restarted worker
 *	    wire.c           protobuf-c glue and the row batch format
 *	    xact.c           PostgreSQL transactions -> engine transactions
 *	                     (two-phase commit, savepoints, snapshots)
 *	    tables.c         foreign tables <-> engine rows (Datums, keys)
 *	    fdw.c            FDW handler, planning, scans, EXPLAIN
 *	    fdw_modify.c     INSERT / UPDATE / DELETE
 *	    pushdown.c       which quals become key ranges
 *	    functions.c      SQL-callable functions (health, checkpoint, in-doubt transactions)
 *	    metrics.c        stats, metrics, metrics_text (one list of metrics
 *	                     for both metrics functions)
 *	    rows.c           row writes and key-range scans for C functions
 *	    documents.c      store_document, get_document, delete_document; the
 *	                     temporal rule (which version is in force)
 *	    queries.c        get_node, get_children, get_subtree, ..., store_tool_result
 *	    search.c         search; the search terms of node rows
 *
 *-------------------------------------------------------------------------
 */
#ifndef TREESTORE_FDW_H
#define TREESTORE_FDW_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/spin.h"

/* ---------- settings.c ---------- */
extern char *ts_data_directory;
extern int	ts_cache_mb;
extern int	ts_checkpoint_timeout_s;
extern int	ts_checkpoint_wal_mb;
extern int	ts_wal_segment_mb;
extern int	ts_wal_keep_segments;
extern bool ts_synchronous_commit;
extern int	ts_request_timeout_ms;
extern int	ts_startup_timeout_ms;
extern int	ts_max_transaction_mb;
extern char *ts_debug_fault;
extern bool ts_backend_reads;
extern int	ts_backend_cache_kb;

extern void ts_settings_init(void);
/* ERROR if treestore.debug_fault names this point (tests of error paths) */
extern void ts_fault_point(const char *name);
/* the same in the worker, for points named "worker-*" (set by any backend) */
extern void ts_worker_fault_point(const char *name);
extern void ts_worker_fault_kill(const char *name);

/* ---------- shmem.c ---------- */

typedef enum TsWorkerState
{
	TS_WORKER_NONE = 0,			/* not started yet */
	TS_WORKER_STARTING,			/* opening the engine, recovering */
	TS_WORKER_READY,
	TS_WORKER_FAILED,			/* could not open: see failure */
	TS_WORKER_STOPPED			/* shut down */
} TsWorkerState;

/* One backend's channel: a DSM segment holding its two queues. */
typedef struct TsSlot
{
	slock_t		mutex;
	uint32		generation;		/* bumped for every new channel or exit */
	int			pid;			/* 0: no channel */
	int			procno;			/* the backend's PGPROC: the worker watches
								 * its lxid to end finished transactions */
	dsm_handle	handle;
	uint32		req_size;		/* the request queue's size: the response
								 * queue follows it in the segment */
} TsSlot;

typedef struct TsShared
{
	slock_t		mutex;			/* protects the fields up to slots */
	TsWorkerState state;
	int			worker_pid;
	int			worker_procno;	/* for SetLatch */
	uint32		worker_generation;	/* bumped at every worker start */
	TimestampTz started_at;
	char		failure[256];	/* why the worker is not ready */
	char		worker_fault[32];	/* treestore.debug_fault "worker-*" (tests) */
	/*
	 * This postmaster lifetime ("incarnation"), counted in the data
	 * directory's treestore.incarnation at each start and each crash
	 * restart; 0 if that file could not be written (xact.c then flushes
	 * the xid's WAL record before the prepare).  Set before any backend.
	 */
	uint64		incarnation;
	pg_atomic_uint32 channels_changed;
	pg_atomic_uint32 waiting;	/* backends waiting for a response: one
								 * alone spins briefly (channel.c) */
	int			nslots;
	TsSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} TsShared;

extern TsShared *ts_shared;

extern void ts_shmem_init(void);
extern void ts_wake_worker(void);
extern bool ts_preloaded(void);
extern const char *ts_worker_state_name(TsWorkerState st);

/* ---------- worker.c ---------- */
extern void ts_worker_register(void);
PGDLLEXPORT void ts_worker_main(Datum arg);

/* ---------- xact.c ---------- */
extern void ts_xact_init(void);
extern bool ts_gid_parse(const char *gid, uint64 *fxid, uint64 *incarnation, uint64 *lsn);

#endif							/* TREESTORE_FDW_H */
