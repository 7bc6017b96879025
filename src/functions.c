/*-------------------------------------------------------------------------
 *
 * functions.c
 *	  SQL-callable functions of schema treestore that report on or act on
 *	  the engine as a whole: health(), checkpoint().
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <sys/statvfs.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
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
