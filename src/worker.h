/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The worker's sessions, shared by worker.c (process, channels,
 *	  dispatch) and worker_ops.c (executing requests on the engine).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_WORKER_H
#define TS_WORKER_H

#include "storage/shm_mq.h"

#include "docindex.h"
#include "stores.h"
#include "treestore.h"
#include "wire.h"

/* A savepoint: the write set's state when subtransaction subxid first wrote. */
typedef struct WMark
{
	uint32		subxid;
	uint64		mark;
} WMark;

/* An open scan; its cursor is reopened (after last_key) when dropped. */
typedef struct WScan
{
	struct WScan *next;
	uint64		id;
	int			store;			/* index into ts_stores */
	ts_cursor  *cur;			/* NULL: to be reopened */
	int			nranges;
	ProtobufCBinaryData *lo,
			   *hi;				/* copies of the ranges */
	int			range;			/* current range */
	bool		in_range;		/* cursor positioned in ranges[range] */
	uint8		last_key[TS_MAX_KEY];
	size_t		last_len;		/* 0: nothing returned from this range yet */
	uint64		limit,
				returned;
	uint32		max_rows,
				max_bytes;

	/*
	 * Read-ahead: the next batch, filled while the backend decodes the last
	 * one.  The position before it is kept so that any request other than a
	 * Fetch of this scan can put it back (ts_ops_discard_readahead).
	 */
	bool		has_ahead;
	StringInfoData ahead;
	uint32		ahead_rows;
	bool		ahead_done;
	int			saved_range;
	size_t		saved_len;
	uint64		saved_returned;
	uint8		saved_key[TS_MAX_KEY];
} WScan;

typedef struct OutMsg
{
	shm_mq_iovec iov[2];		/* the framed Response, the payload */
	char	   *hdr;
} OutMsg;

typedef struct Session
{
	bool		active;
	TimestampTz last_request;	/* when it last sent one (the idle spin) */
	int			slot;
	int			procno;			/* the backend's PGPROC */
	uint32		slot_gen;
	int			pid;
	dsm_segment *seg;
	Size		seg_bytes;		/* its size (the channel's queues) */
	shm_mq_handle *inq,
			   *outq;
	/*
	 * Responses not yet sent in full, oldest first: each a framed header
	 * (palloc'd) and a payload.  At most a query's part that did not fit
	 * and the response after it.
	 */
	OutMsg		out[2];
	int			nout;
	StringInfoData out_rows;	/* payload of scan batches and queries (reused) */
	StringInfoData out_spill;	/* a query's rows while a part waits in out */
	const char *payload;		/* set by a request that attaches rows */
	Size		payload_len;
	MemoryContext cxt;			/* the session's memory (scans, marks) */

	/* the engine transaction of the backend's current transaction */
	ts_txn	   *txn;
	uint32		lxid;
	TimestampTz ended_at;		/* when its backend was first seen past lxid */
	uint32		stmt;
	bool		prepared;
	char		gid[96];
	WMark	   *marks;
	int			nmarks,
				maxmarks;
	WScan	   *scans;
	uint64		next_scan_id;
	WScan	   *read_ahead;		/* scan to read ahead for, after responding */

	/*
	 * The engine transaction of backend transaction lost_lxid was ended by
	 * an error outside a request: every later request of that transaction
	 * fails (its earlier writes are gone), so nothing half-done commits.
	 */
	bool		txn_lost;
	uint32		lost_lxid;

	/*
	 * A job of this session runs on a thread (worker_pool.c): its requests
	 * wait, its channel and slot are looked at again afterwards, and nothing
	 * touches its transaction until the job is answered.  deferred: the
	 * request being served is answered by the job, not by serve_one.
	 */
	bool		busy;
	bool		deferred;
} Session;

/* An engine call that may wait for the disk, run on a thread (worker_pool.c). */
typedef enum TsJobKind
{
	TS_JOB_PREPARE,				/* ts_txn_prepare(txn, gid) */
	TS_JOB_CHECKPOINT			/* ts_env_checkpoint(env) */
} TsJobKind;

typedef struct TsJob
{
	struct TsJob *next;
	TsJobKind	kind;
	ts_env	   *env;
	ts_txn	   *txn;
	char		gid[96];
	Session    *s;				/* whose request (main thread only) */
	uint64		req_id;
	int			rc;				/* set by the thread */
	char		err[512];		/* ts_last_error() of the thread, if rc != 0 */
} TsJob;

/* worker.c */
extern ts_env *ts_worker_env;
extern ts_tree ts_worker_trees[];
extern ts_docindex ts_worker_docindex;
extern int64 ts_worker_next_id[];
extern uint64 ts_worker_requests;
extern int	ts_worker_nsessions(void);
extern bool ts_worker_alone(Session *s);
extern char *ts_worker_data_path(void);
extern void ts_worker_orphan(ts_txn *txn, const char *gid);
extern void ts_worker_list_in_doubt(Treestore__InDoubtResult *r);
extern int	ts_worker_resolve_in_doubt(const char *gid, bool commit);
extern bool ts_worker_respond(Session *s, Treestore__Response *resp,
							  const char *payload, Size plen);

/* worker_ops.c */
extern void ts_ops_execute(Session *s, Treestore__Request *req, Treestore__Response *resp);
extern void ts_ops_end_txn(Session *s);
extern void ts_ops_read_ahead(Session *s);
extern void ts_ops_request_failed(Session *s);
extern void ts_ops_shrink_buffers(Session *s);
extern Size ts_worker_write_set_bytes(void);
extern Size ts_worker_channel_bytes(void);
extern void ts_ops_set_error(Treestore__Response *resp, const char *sqlstate,
							 const char *detail, const char *hint, const char *fmt,...)
			pg_attribute_printf(5, 6);
extern void ts_ops_engine_error(Treestore__Response *resp, int rc, const char *what);
extern bool ts_ops_xid_status(const char *gid, bool *commit, char *why, size_t whylen);
extern void ts_ops_job_done(TsJob *j, Treestore__Response *resp);

/* worker_pool.c */
extern void ts_pool_start(void);
extern void ts_pool_stop(void);
extern void ts_pool_submit(TsJob *j);
extern TsJob *ts_pool_take_done(void);
extern int	ts_pool_fd(void);
extern int	ts_pool_in_flight(void);
extern int	ts_pool_prepares_in_flight(void);

#endif							/* TS_WORKER_H */
