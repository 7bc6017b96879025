/*-------------------------------------------------------------------------
 *
 * xact.c
 *	  PostgreSQL transactions -> engine transactions.
 *
 *	  One PostgreSQL transaction that touches TreeStore is one engine
 *	  transaction in the worker (worker_ops.c), named by the backend's
 *	  local transaction id.  Atomic commit follows the prepare-at-pre-commit
 *	  design, PostgreSQL's commit record deciding:
 *	    PRE_COMMIT  if it wrote: insert (not flush) a WAL record R carrying
 *	                the xid, ending at P; then PREPARE in the engine,
 *	                durable, under gid "pg:<full xid>/<lifetime>/<P>" (the
 *	                xid was forced at the first write; <lifetime> is this
 *	                postmaster lifetime's number, shmem.c).  A failure here
 *	                (conflict: 40001) aborts the PostgreSQL transaction
 *	                normally.  The commit record is then flushed whatever
 *	                synchronous_commit says (ForceSyncCommit).
 *	    COMMIT      RESOLVE commit and wait for it (at most a few seconds)
 *	                to be applied -- not for it to be durable -- so that the
 *	                client's next statement sees its writes.  Nothing here
 *	                raises (an ERROR after the commit record is a PANIC):
 *	                only the existing channel is used, and an error is
 *	                caught and logged as a WARNING; the worker settles the
 *	                transaction by the xid's status (committed in clog ->
 *	                commit) when the resolve does not come.
 *	    ABORT       tell the worker without waiting (it would also see our
 *	                lxid move on, like after a read-only COMMIT, which sends
 *	                nothing).
 *	    PREPARE     refused for a transaction that wrote: the engine
 *	                transaction cannot outlive this session's callbacks.
 *
 * SYNCS ON A WRITING TRANSACTION'S CRITICAL PATH
 *	  Before: four, one after another: R flushed, the engine's prepare,
 *	  the commit record, the engine's commit-prepared (the last three by the
 *	  single-threaded worker or after it, so that no two sessions' engine
 *	  syncs were ever shared).  Now: two.  (a) The engine's prepare, on a
 *	  thread of the worker (worker_pool.c) while other sessions are active:
 *	  the prepares of concurrent sessions share one fdatasync of the
 *	  engine's log, and the worker's main loop serves the rest meanwhile
 *	  (a session alone prepares on the main loop: nobody waits).  (b) The commit
 *	  record, by the backend: PostgreSQL's XLogFlush groups concurrent
 *	  sessions, and flushes R with it (R comes first).  The commit-prepared
 *	  record is written without a sync (ts_txn_commit_nosync): the next
 *	  prepare's flush, or the engine's background thread within about a
 *	  second, makes it durable.  Two is the fewest for two logs: the
 *	  prepare must be durable before the commit record is (a crash between
 *	  them would otherwise leave PostgreSQL committed and the engine
 *	  without the writes), and the commit record must be durable before
 *	  COMMIT returns.
 *
 * ATOMICITY (the engine transaction commits iff the xid commits)
 *	  Before the prepare is durable a crash leaves nothing of it in the
 *	  engine, and PostgreSQL has no commit record: both sides abort.  After
 *	  it, the worker decides an in-doubt prepare (one whose resolve never
 *	  came: a crash, a dead session, a failed commit callback) by
 *	  ts_ops_xid_status (worker_ops.c):
 *	  - Prepared in this postmaster lifetime (only the worker restarted):
 *	    the xid was handed out in it and will not be again; once it is no
 *	    longer running the commit log says committed exactly when the
 *	    commit record was written.
 *	  - Prepared in the lifetime before this one: the crash recovery that
 *	    began this one replayed the WAL to E = GetXLogReplayRecPtr()
 *	    (0 when the server was shut down cleanly, which flushes all of it:
 *	    PerformWalRecovery does not run then).  If P > E, R was lost, and
 *	    the commit record, which follows it in the WAL, was lost too:
 *	    PostgreSQL did not commit; abort.  If P <= E, R was replayed, and
 *	    replay moved the next xid past ours (ApplyWalRecord:
 *	    AdvanceNextFullTransactionIdPastXid), so the xid is never handed
 *	    out again and the commit log decides, as above.
 *	  - Earlier: the commit log's "did not commit" is right for us in any
 *	    case (had ours committed, R would be durable and the xid never
 *	    reused), but its "committed" could be a later transaction's that
 *	    got the same xid: left in doubt, "resolve it by hand"
 *	    (treestore.prepared_transactions()).  Only two restarts before the
 *	    worker settles (it does at start, before it takes requests) leave
 *	    one there.
 *	  The lifetimes are counted by the postmaster before the startup
 *	  process replays anything (shmem.c), durably, so two lifetimes never
 *	  share a number -- but only those started with the library in
 *	  shared_preload_libraries: a server started without it after a crash
 *	  and written to is a lifetime the worker cannot see (README, Caveats).
 *	  Without a number (treestore.incarnation could not be written) R is
 *	  flushed before the prepare and the gid is "pg:<full xid>", decided
 *	  by the commit log alone, as before.
 *	  The commit-prepared record may be lost in a crash after COMMIT
 *	  returned: the prepare is then in doubt, its commit record durable,
 *	  so R is too (P <= E) and the commit log says committed: the worker
 *	  commits it again before it takes requests.  Other sessions may read
 *	  a commit-prepared before it is durable; it is decided already.
 *	  A worker killed after a durable prepare and before its answer (the
 *	  new crash test, "worker-kill-prepared"): the backend never gets its
 *	  prepare back, so its commit record is never written; the prepare is
 *	  in doubt and aborted by the commit log, whichever case above applies.
 *	  Subtransactions: an aborted one is remembered and sent with the next
 *	  request; the worker rolls its writes back to their savepoint.
 *	  Snapshots: a statement counter (ExecutorStart) lets the worker renew a
 *	  READ COMMITTED snapshot per statement.  A statement reads one snapshot
 *	  from start to end: before the first request of a new statement, the
 *	  scans still open from an earlier one (a cursor, a FOR loop, the outer
 *	  query of a function that runs SQL) read their rest into tuplestores
 *	  (fdw.c), and a scan's fetches carry its own statement, so neither the
 *	  new snapshot nor the new statement's writes reach them.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/proc.h"
#include "utils/memutils.h"

#include "channel.h"
#include "fdw.h"
#include "local.h"
#include "xact.h"

typedef struct TsXact
{
	bool		open;			/* a request was made in this transaction */
	bool		wrote;
	bool		prepared;
	LocalTransactionId lxid;
	uint32		worker_gen;
	char		gid[96];
	int			nrollbacks,
				maxrollbacks;
	uint32	   *rollbacks;		/* aborted subtransactions, not yet sent */
} TsXact;

static TsXact xact;
static uint32 statement_id = 0;
static uint32 last_statement_sent = 0;	/* of the last request that could renew */
static bool draining = false;
static ExecutorStart_hook_type prev_executor_start = NULL;

static void
ts_executor_start(QueryDesc *queryDesc, int eflags)
{
	statement_id++;
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
reset_xact(void)
{
	xact.open = xact.wrote = xact.prepared = false;
	xact.gid[0] = '\0';
	xact.nrollbacks = 0;
}

static void fill_request(Treestore__Request *req, bool write, uint32 stmt);

void
ts_xact_request(Treestore__Request *req, bool write)
{
	/*
	 * The first request of a new statement: scans of an earlier one that are
	 * still open read their rest first, before the worker takes this
	 * statement's snapshot and before its writes.
	 */
	if (statement_id != last_statement_sent && !draining)
	{
		draining = true;
		PG_TRY();
		{
			ts_fdw_drain_scans(statement_id);
		}
		PG_FINALLY();
		{
			draining = false;
		}
		PG_END_TRY();
		last_statement_sent = statement_id;
	}
	fill_request(req, write, statement_id);
}

void
ts_xact_request_continue(Treestore__Request *req, uint32 stmt)
{
	fill_request(req, false, stmt);
}

static void
fill_request(Treestore__Request *req, bool write, uint32 stmt)
{
	uint32		gen = ts_channel_worker_generation();

	if (!xact.open)
	{
		xact.open = true;
		xact.lxid = MyProc->lxid;
		xact.worker_gen = gen;
		xact.nrollbacks = 0;
	}
	else if (xact.worker_gen != gen)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("lost the connection to the treestore worker"),
				 errdetail("The worker restarted during this transaction; its treestore reads and writes are gone."),
				 errhint("Roll back and retry the transaction.")));
	if (write)
	{
		if (!xact.wrote)
		{
			FullTransactionId fxid;

			if (IsInParallelMode())
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
						 errmsg("cannot write to treestore during a parallel operation")));
			/* an xid to tag the prepared engine transaction with */
			fxid = GetTopFullTransactionId();
			snprintf(xact.gid, sizeof(xact.gid), "pg:" UINT64_FORMAT,
					 U64FromFullTransactionId(fxid));
		}
		xact.wrote = true;
	}
	req->lxid = xact.lxid;
	req->stmt = stmt;
	req->repeatable = IsolationUsesXactSnapshot();
	req->subxid = GetCurrentSubTransactionId();
	req->read_base = ts_local_xact_base();
	req->n_rollback_subxids = xact.nrollbacks;
	req->rollback_subxids = xact.rollbacks;
}

void
ts_xact_request_sent(void)
{
	xact.nrollbacks = 0;
}

bool
ts_xact_wrote(void)
{
	return xact.wrote;
}

uint32
ts_xact_statement(void)
{
	return statement_id;
}

static void
send_end(void)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__EndTxn end = TREESTORE__END_TXN__INIT;

	end.lxid = xact.lxid;
	req.op_case = TREESTORE__REQUEST__OP_END_TXN;
	req.end_txn = &end;
	req.lxid = xact.lxid;
	ts_send_nowait(&req);
}

/* XACT_EVENT_COMMIT: make the prepared engine transaction visible. */
static void
resolve_committed(void)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Resolve res = TREESTORE__RESOLVE__INIT;
	char	   *why = NULL;

	ts_fault_point("commit");
	req.lxid = xact.lxid;
	res.gid = xact.gid;
	res.commit = true;
	req.op_case = TREESTORE__REQUEST__OP_RESOLVE;
	req.resolve = &res;
	if (!ts_call_settle(&req, &why))
		ereport(WARNING,
				(errmsg("treestore transaction \"%s\" is committed but not yet visible", xact.gid),
				 errdetail("%s", why ? why : "Unknown failure."),
				 errhint("The treestore worker makes it visible within seconds, from the commit log.")));
}

static void
end_aborted(void)
{
	ts_fault_point("abort");
	send_end();
}

/*
 * Run fn in a callback after the commit record (or in an abort) where an
 * ERROR would become a PANIC: catch it, report it as a WARNING and go on.
 * The worker settles the engine transaction by itself (reap, orphans).
 */
static void
run_noerror(void (*fn) (void), const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint32		holdoff = InterruptHoldoffCount;

	PG_TRY();
	{
		fn();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		InterruptHoldoffCount = holdoff;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ts_channel_forget();
		ereport(WARNING,
				(errmsg("treestore could not %s: %s", what, edata->message),
				 errdetail("The transaction's outcome in PostgreSQL stands."),
				 errhint("The treestore worker settles its part by the commit log within seconds.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

static void
ts_xact_callback(XactEvent event, void *arg)
{
	if (!xact.open)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (xact.wrote)
			{
				Treestore__Request req = TREESTORE__REQUEST__INIT;
				Treestore__Prepare prep = TREESTORE__PREPARE__INIT;

				XLogRecPtr	p;
				uint64		inc = ts_shared->incarnation;

				/*
				 * A WAL record carrying the xid, not flushed: its end P
				 * and this server lifetime go into the gid, and after a
				 * crash the worker knows from them whether the record, and
				 * so the xid, survived (ATOMICITY at the top; the commit
				 * record comes after P, so one lost means the other was).
				 * Without a lifetime number, flush it as before.  The
				 * commit record must be flushed before COMMIT returns
				 * whatever synchronous_commit says: the engine's prepare
				 * is durable, and after a crash the worker settles by that
				 * record -- an unflushed one would take the PostgreSQL side
				 * of the transaction away and leave ours.
				 */
				p = LogLogicalMessage("treestore", xact.gid, strlen(xact.gid) + 1, true);
				if (inc == 0)
					XLogFlush(p);
				else
					snprintf(xact.gid, sizeof(xact.gid), "pg:" UINT64_FORMAT "/" UINT64_FORMAT "/" UINT64_FORMAT,
							 U64FromFullTransactionId(GetTopFullTransactionId()), inc, (uint64) p);
				ForceSyncCommit();
				ts_xact_request_continue(&req, last_statement_sent);
				prep.gid = xact.gid;
				req.op_case = TREESTORE__REQUEST__OP_PREPARE;
				req.prepare = &prep;
				(void) ts_call(&req);	/* raises on failure: we abort */
				ts_xact_request_sent();
				xact.prepared = true;
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (xact.wrote)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that wrote to treestore"),
						 errdetail("TreeStore writes commit together with the PostgreSQL transaction, in the same session.")));
			break;
		case XACT_EVENT_COMMIT:
			if (xact.prepared)
				run_noerror(resolve_committed, "make its committed writes visible");

			/*
			 * A transaction that only read needs no message: the worker sees
			 * our lxid move on and ends it (worker.c, reap_ended_transactions).
			 */
			reset_xact();
			break;
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			run_noerror(end_aborted, "end its aborted transaction");
			reset_xact();
			break;
		default:
			break;
	}
}

static void
ts_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	ts_call_abandon();			/* a write batch in flight belonged to it */
	if (!xact.open)
		return;
	if (xact.nrollbacks == xact.maxrollbacks)
	{
		int			n = xact.maxrollbacks ? xact.maxrollbacks * 2 : 16;

		xact.rollbacks = xact.rollbacks
			? repalloc(xact.rollbacks, n * sizeof(uint32))
			: MemoryContextAlloc(TopMemoryContext, n * sizeof(uint32));
		xact.maxrollbacks = n;
	}
	xact.rollbacks[xact.nrollbacks++] = mySubid;
}

/*
 * A gid of ours: "pg:<full xid>" (a prepare whose xid record was flushed
 * first) or "pg:<full xid>/<incarnation>/<lsn>" (ATOMICITY above; the
 * two are 0 for the first form).  false for any other gid.
 */
bool
ts_gid_parse(const char *gid, uint64 *fxid, uint64 *incarnation, uint64 *lsn)
{
	const char *p = gid + 3;
	char	   *end;
	uint64		v[3] = {0, 0, 0};

	if (strncmp(gid, "pg:", 3) != 0)
		return false;
	for (int i = 0; i < 3; i++)
	{
		if (!isdigit((unsigned char) *p))
			return false;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno != 0)
			return false;
		if (*end == '\0' && (i == 0 || i == 2))
			break;
		if (*end != '/' || i == 2)
			return false;
		p = end + 1;
	}
	*fxid = v[0];
	*incarnation = v[1];
	*lsn = v[2];
	return true;
}

void
ts_xact_init(void)
{
	RegisterXactCallback(ts_xact_callback, NULL);
	RegisterSubXactCallback(ts_subxact_callback, NULL);
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = ts_executor_start;
}
