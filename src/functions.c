/*-------------------------------------------------------------------------
 *
 * functions.c
 *	  SQL-callable functions of schema treestore that report on or act on
 *	  the engine as a whole: health(), checkpoint(), and the in-doubt
 *	  transactions by hand: prepared_transactions(), resolve_prepared()
 *	  (superuser only).
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <sys/statvfs.h>

#include "access/clog.h"
#include "access/transam.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "channel.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(treestore_health);
PG_FUNCTION_INFO_V1(treestore_checkpoint);

/*
 * health(): never raises for an unhealthy engine -- it says why instead.
 * status 'ok' only when the worker is ready and answers.
 */
Datum
treestore_health(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	TsWorkerState st;
	int			pid;
	char		failure[256];
	char	   *why = NULL;
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Status status = TREESTORE__STATUS__INIT;
	Treestore__Response *resp = NULL;

	if (!ts_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("treestore_fdw is not loaded at server start"),
				 errhint("Add treestore_fdw to shared_preload_libraries in postgresql.conf and restart the server.")));
	SpinLockAcquire(&ts_shared->mutex);
	st = ts_shared->state;
	pid = ts_shared->worker_pid;
	strlcpy(failure, ts_shared->failure, sizeof(failure));
	SpinLockRelease(&ts_shared->mutex);

	initStringInfo(&buf);
	if (st == TS_WORKER_READY)
	{
		req.op_case = TREESTORE__REQUEST__OP_STATUS;
		req.status = &status;
		if (!ts_call_noerror(&req, &resp, &why))
			resp = NULL;
	}
	if (resp && resp->status)
	{
		Treestore__StatusResult *s = resp->status;
		struct statvfs vfs;
		double		free_bytes = -1;

		if (statvfs(DataDir, &vfs) == 0)
			free_bytes = (double) vfs.f_bavail * vfs.f_frsize;
		appendStringInfoString(&buf, "{\"status\": ");
		escape_json(&buf, s->state);
		appendStringInfo(&buf,
						 ", \"worker_pid\": %d, \"uptime_seconds\": %.3f, "
						 "\"engine\": {\"pages\": " UINT64_FORMAT
						 ", \"free_pages\": " UINT64_FORMAT ", \"dirty_pages\": " UINT64_FORMAT
						 ", \"prepared\": " UINT64_FORMAT ", \"sessions\": " UINT64_FORMAT
						 ", \"commits\": " UINT64_FORMAT "}, "
						 "\"wal\": {\"bytes\": " UINT64_FORMAT "}, "
						 "\"checkpoints\": " UINT64_FORMAT ", \"disk_free_bytes\": %.0f}",
						 s->worker_pid, s->uptime_seconds, s->page_count, s->free_pages,
						 s->dirty_pages, s->prepared, s->sessions, s->commits, s->wal_bytes,
						 s->checkpoints, free_bytes);
	}
	else
	{
		appendStringInfoString(&buf, "{\"status\": ");
		escape_json(&buf, why ? why : failure[0] ? failure : ts_worker_state_name(st));
		appendStringInfo(&buf, ", \"worker_pid\": %d, \"worker_state\": \"%s\"}",
						 pid, ts_worker_state_name(st));
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

Datum
treestore_checkpoint(PG_FUNCTION_ARGS)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Checkpoint c = TREESTORE__CHECKPOINT__INIT;

	req.op_case = TREESTORE__REQUEST__OP_CHECKPOINT;
	req.checkpoint = &c;
	(void) ts_call(&req);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(treestore_require_preload);

/* CREATE EXTENSION calls this first: no preload, no extension. */
Datum
treestore_require_preload(PG_FUNCTION_ARGS)
{
	if (!ts_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("treestore_fdw must be loaded at server start"),
				 errdetail("The treestore worker and its shared memory exist only when the library is preloaded."),
				 errhint("Add treestore_fdw to shared_preload_libraries in postgresql.conf and restart the server.")));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(treestore_require_utf8);

/* CREATE EXTENSION calls this too: the engine's text is UTF-8. */
Datum
treestore_require_utf8(PG_FUNCTION_ARGS)
{
	ts_require_utf8();
	PG_RETURN_VOID();
}

/* ---------- in-doubt transactions by hand ---------- */

PG_FUNCTION_INFO_V1(treestore_prepared_transactions);
PG_FUNCTION_INFO_V1(treestore_resolve_prepared);

static void
require_superuser(const char *what)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to %s", what)));
}

/* The full xid of a gid "pg:<full xid>[/...]"; false for any other gid. */
static bool
gid_fxid(const char *gid, FullTransactionId *fxid)
{
	uint64		v,
				inc,
				lsn;

	if (!ts_gid_parse(gid, &v, &inc, &lsn))
		return false;
	*fxid = FullTransactionIdFromU64(v);
	return true;
}

/*
 * pg_xact_status() of fxid, or NULL where that has no answer: an xid not
 * yet assigned, or one the commit log no longer covers.
 */
static const char *
xact_status(FullTransactionId fxid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	TransactionId xid = XidFromFullTransactionId(fxid);
	const char *status;

	if (!FullTransactionIdPrecedes(fxid, next) ||
		U64FromFullTransactionId(next) - U64FromFullTransactionId(fxid) >= ((uint64) 1 << 31))
		return NULL;
	/* as pg_xact_status: the commit log must not be truncated under us */
	LWLockAcquire(XactTruncationLock, LW_SHARED);
	if (TransactionIdPrecedes(xid, ShmemVariableCache->oldestClogXid))
		status = NULL;
	else if (TransactionIdIsCurrentTransactionId(xid) || TransactionIdIsInProgress(xid))
		status = "in progress";
	else if (TransactionIdDidCommit(xid))
		status = "committed";
	else
		status = "aborted";
	LWLockRelease(XactTruncationLock);
	return status;
}

/*
 * prepared_transactions(): the in-doubt engine transactions -- prepared,
 * and no session will resolve them -- with the PostgreSQL transaction each
 * belongs to, its status, and why the worker does not settle it.
 */
Datum
treestore_prepared_transactions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__InDoubt d = TREESTORE__IN_DOUBT__INIT;
	Treestore__Response *resp;

	require_superuser("list treestore's in-doubt transactions");
	InitMaterializedSRF(fcinfo, 0);
	req.op_case = TREESTORE__REQUEST__OP_IN_DOUBT;
	req.in_doubt = &d;
	resp = ts_call(&req);
	if (resp->in_doubt == NULL)
		return (Datum) 0;
	for (size_t i = 0; i < resp->in_doubt->n_txns; i++)
	{
		Treestore__InDoubtTxn *t = resp->in_doubt->txns[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		FullTransactionId fxid;
		const char *status = NULL;

		values[0] = CStringGetTextDatum(t->gid);
		if (gid_fxid(t->gid, &fxid))
		{
			values[1] = FullTransactionIdGetDatum(fxid);
			status = xact_status(fxid);
		}
		else
			nulls[1] = true;
		if (status)
			values[2] = CStringGetTextDatum(status);
		else
			nulls[2] = true;
		values[3] = CStringGetTextDatum(t->recovered ? "recovery" : "ended session");
		if (t->reason && t->reason[0])
			values[4] = CStringGetTextDatum(t->reason);
		else
			nulls[4] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* resolve_prepared(gid, commit): commit or abort one of them by hand. */
Datum
treestore_resolve_prepared(PG_FUNCTION_ARGS)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__InDoubt d = TREESTORE__IN_DOUBT__INIT;

	require_superuser("resolve treestore's in-doubt transactions");
	d.gid = text_to_cstring(PG_GETARG_TEXT_PP(0));
	d.commit = PG_GETARG_BOOL(1);
	if (d.gid[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("transaction identifier must not be empty")));
	req.op_case = TREESTORE__REQUEST__OP_IN_DOUBT;
	req.in_doubt = &d;
	(void) ts_call(&req);
	PG_RETURN_VOID();
}
