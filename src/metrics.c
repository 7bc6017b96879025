/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  Observability functions of schema treestore: stats() (jsonb),
 *	  metrics() (one row per sample) and metrics_text() (the same samples
 *	  in the Prometheus text exposition format).
 *
 *	  Each takes one snapshot: the worker's state from shared memory and,
 *	  when the worker is ready, one Status round trip (the row counts come
 *	  with it: the engine keeps them per table, no scan).  Like health(),
 *	  none of them raises for an absent, failed or restarting worker:
 *	  stats() says why in "status", metrics() reports treestore_up 0 and
 *	  the facts the backend knows without the worker.
 *
 *	  metrics() and metrics_text() are built from one list (collect_metrics),
 *	  so that both always show the same names, types, labels and values.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <math.h>
#include <sys/statvfs.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "channel.h"

PG_FUNCTION_INFO_V1(treestore_stats);
PG_FUNCTION_INFO_V1(treestore_metrics);
PG_FUNCTION_INFO_V1(treestore_metrics_text);

/* ---------- one snapshot ---------- */

typedef struct TsObsSnapshot
{
	TsWorkerState state;
	int			worker_pid;
	uint32		worker_starts;
	char		failure[256];
	int			channels;		/* backends with a channel to the worker */
	Treestore__StatusResult *status;	/* NULL: the worker did not answer */
	char	   *why;			/* and why not */
	double		disk_free_bytes;	/* < 0: unknown */
} TsObsSnapshot;

static void
take_snapshot(TsObsSnapshot *snap)
{
	const char *dir;
	struct statvfs vfs;

	if (!ts_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("treestore_fdw is not loaded at server start"),
				 errhint("Add treestore_fdw to shared_preload_libraries in postgresql.conf and restart the server.")));
	memset(snap, 0, sizeof(*snap));
	SpinLockAcquire(&ts_shared->mutex);
	snap->state = ts_shared->state;
	snap->worker_pid = ts_shared->worker_pid;
	snap->worker_starts = ts_shared->worker_generation;
	strlcpy(snap->failure, ts_shared->failure, sizeof(snap->failure));
	SpinLockRelease(&ts_shared->mutex);

	for (int i = 0; i < ts_shared->nslots; i++)
	{
		TsSlot	   *slot = &ts_shared->slots[i];

		SpinLockAcquire(&slot->mutex);
		if (slot->pid != 0)
			snap->channels++;
		SpinLockRelease(&slot->mutex);
	}

	if (snap->state == TS_WORKER_READY)
	{
		Treestore__Request req = TREESTORE__REQUEST__INIT;
		Treestore__Status status = TREESTORE__STATUS__INIT;
		Treestore__Response *resp = NULL;

		req.op_case = TREESTORE__REQUEST__OP_STATUS;
		req.status = &status;
		if (ts_call_noerror(&req, &resp, &snap->why) && resp->status)
			snap->status = resp->status;
		else if (snap->why == NULL)
			snap->why = pstrdup("the treestore worker sent no status");
	}
	else
		snap->why = pstrdup(snap->failure[0] ? snap->failure : ts_worker_state_name(snap->state));

	dir = snap->status && snap->status->data_directory[0] ? snap->status->data_directory : DataDir;
	snap->disk_free_bytes = statvfs(dir, &vfs) == 0 ? (double) vfs.f_bavail * vfs.f_frsize : -1;
}

/* "rows" of table, or null if the worker could not count them */
static void
append_table_rows(StringInfo buf, const Treestore__StatusResult *s, const char *table)
{
	for (size_t i = 0; i < s->n_tables; i++)
		if (strcmp(s->tables[i]->table, table) == 0)
		{
			appendStringInfo(buf, UINT64_FORMAT, s->tables[i]->rows);
			return;
		}
	appendStringInfoString(buf, "null");
}

/* ---------- stats() ---------- */

/*
 * stats(): what is stored and how the engine is doing, as jsonb.
 * "status" is 'ok' (or 'poisoned') when the worker answered; otherwise it
 * says why not and the engine's figures are absent.
 */
Datum
treestore_stats(PG_FUNCTION_ARGS)
{
	TsObsSnapshot	snap;
	StringInfoData buf;

	take_snapshot(&snap);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"status\": ");
	if (snap.status)
	{
		Treestore__StatusResult *s = snap.status;
		uint64		lookups = s->cache_hits + s->cache_misses;

		escape_json(&buf, s->state);
		appendStringInfo(&buf, ", \"worker_pid\": %d, \"uptime_seconds\": %.3f",
						 s->worker_pid, s->uptime_seconds);
		appendStringInfoString(&buf, ", \"documents\": ");
		append_table_rows(&buf, s, "documents");
		appendStringInfoString(&buf, ", \"versions\": ");
		append_table_rows(&buf, s, "versions");
		appendStringInfoString(&buf, ", \"nodes\": ");
		append_table_rows(&buf, s, "nodes");
		appendStringInfoString(&buf, ", \"tables\": {");
		for (size_t i = 0; i < s->n_tables; i++)
		{
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, s->tables[i]->table);
			appendStringInfo(&buf, ": " UINT64_FORMAT, s->tables[i]->rows);
		}
		appendStringInfoString(&buf, "}, \"data\": {\"directory\": ");
		escape_json(&buf, s->data_directory);
		appendStringInfo(&buf, ", \"bytes\": " UINT64_FORMAT ", \"pages\": " UINT64_FORMAT
						 ", \"free_pages\": " UINT64_FORMAT ", \"dirty_pages\": " UINT64_FORMAT
						 ", \"disk_free_bytes\": %.0f}",
						 s->data_bytes, s->page_count, s->free_pages, s->dirty_pages,
						 snap.disk_free_bytes);
		appendStringInfo(&buf, ", \"wal\": {\"bytes\": " UINT64_FORMAT ", \"segments\": " UINT64_FORMAT
						 ", \"flushes\": " UINT64_FORMAT "}",
						 s->wal_bytes, s->wal_segments, s->wal_flushes);
		appendStringInfo(&buf, ", \"cache\": {\"hits\": " UINT64_FORMAT ", \"misses\": " UINT64_FORMAT
						 ", \"hit_ratio\": ",
						 s->cache_hits, s->cache_misses);
		if (lookups > 0)
			appendStringInfo(&buf, "%.6f", (double) s->cache_hits / (double) lookups);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfo(&buf, ", \"pages\": " UINT64_FORMAT "}", s->cache_pages);
		appendStringInfo(&buf, ", \"transactions\": {\"commits\": " UINT64_FORMAT
						 ", \"conflicts\": " UINT64_FORMAT ", \"prepared\": " UINT64_FORMAT
						 ", \"active\": " UINT64_FORMAT "}",
						 s->commits, s->conflicts, s->prepared, s->active_transactions);
		appendStringInfo(&buf, ", \"checkpoints\": {\"count\": " UINT64_FORMAT
						 ", \"last_age_seconds\": %.3f}",
						 s->checkpoints, s->last_checkpoint_age_seconds);
		appendStringInfo(&buf, ", \"memory\": {\"worker_bytes\": " UINT64_FORMAT
						 ", \"write_sets_bytes\": " UINT64_FORMAT ", \"rss_bytes\": " UINT64_FORMAT
						 ", \"channels_bytes\": " UINT64_FORMAT "}",
						 s->memory_bytes, s->write_set_bytes, s->rss_bytes, s->channel_bytes);
		appendStringInfo(&buf, ", \"limits\": {\"max_transaction_size\": " UINT64_FORMAT "}",
						 s->max_transaction_size);
		appendStringInfo(&buf, ", \"readers\": {\"backends\": " UINT64_FORMAT
						 ", \"oldest_snapshot_lag\": " UINT64_FORMAT "}",
						 s->backend_readers, s->oldest_snapshot_lag);
		appendStringInfo(&buf, ", \"sessions\": " UINT64_FORMAT ", \"requests\": " UINT64_FORMAT "}",
						 s->sessions, s->requests);
	}
	else
	{
		escape_json(&buf, snap.why);
		appendStringInfo(&buf, ", \"worker_pid\": %d, \"worker_state\": ", snap.worker_pid);
		escape_json(&buf, ts_worker_state_name(snap.state));
		appendStringInfoChar(&buf, '}');
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* ---------- the metrics ---------- */

typedef struct Metric
{
	const char *name;
	const char *type;			/* "counter" or "gauge" */
	const char *help;
	const char *label;			/* NULL: no label */
	const char *label_value;
	double		value;
} Metric;

typedef struct MetricList
{
	Metric	   *items;
	int			n,
				cap;
} MetricList;

static void
add_labeled(MetricList *l, const char *name, const char *type, const char *help,
			const char *label, const char *label_value, double value)
{
	Metric	   *m;

	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 64;
		l->items = l->items ? repalloc(l->items, sizeof(Metric) * l->cap)
			: palloc(sizeof(Metric) * l->cap);
	}
	m = &l->items[l->n++];
	m->name = name;
	m->type = type;
	m->help = help;
	m->label = label;
	m->label_value = label_value;
	m->value = value;
}

static void
add(MetricList *l, const char *name, const char *type, const char *help, double value)
{
	add_labeled(l, name, type, help, NULL, NULL, value);
}

/*
 * The one list behind metrics() and metrics_text().  Samples of one name
 * are added one after another (the exposition format wants them together).
 */
static void
collect_metrics(MetricList *l)
{
	static const TsWorkerState states[] = {
		TS_WORKER_NONE, TS_WORKER_STARTING, TS_WORKER_READY, TS_WORKER_FAILED, TS_WORKER_STOPPED
	};
	TsObsSnapshot	snap;
	const Treestore__StatusResult *s;

	take_snapshot(&snap);
	s = snap.status;
	memset(l, 0, sizeof(*l));

	/* known without the worker */
	add(l, "treestore_up", "gauge",
		"1 if the treestore worker answered, 0 if not.", s ? 1 : 0);
	for (int i = 0; i < lengthof(states); i++)
		add_labeled(l, "treestore_worker_state", "gauge",
					"State of the treestore worker: 1 for the current one.",
					"state", ts_worker_state_name(states[i]), snap.state == states[i] ? 1 : 0);
	add(l, "treestore_worker_starts_total", "counter",
		"Times the treestore worker was started since the server started.", snap.worker_starts);
	add(l, "treestore_backend_channels", "gauge",
		"Backends with a channel open to the treestore worker.", snap.channels);
	if (snap.disk_free_bytes >= 0)
		add(l, "treestore_disk_free_bytes", "gauge",
			"Free bytes on the file system of the treestore data directory.", snap.disk_free_bytes);
	if (s == NULL)
		return;

	/* from the worker */
	add(l, "treestore_engine_poisoned", "gauge",
		"1 if a write or sync of the engine failed (no more writes until a restart).",
		strcmp(s->state, "ok") == 0 ? 0 : 1);
	add(l, "treestore_uptime_seconds", "gauge",
		"Seconds since the treestore worker started.", s->uptime_seconds);
	add(l, "treestore_commits_total", "counter",
		"Engine transactions committed.", s->commits);
	add(l, "treestore_conflicts_total", "counter",
		"Engine transactions that failed with a write-write conflict.", s->conflicts);
	add(l, "treestore_prepared_transactions", "gauge",
		"Engine transactions prepared and not yet resolved.", s->prepared);
	add(l, "treestore_active_transactions", "gauge",
		"Engine transactions open.", s->active_transactions);
	add(l, "treestore_backend_readers", "gauge",
		"Backends attached to read the engine themselves.", s->backend_readers);
	add(l, "treestore_oldest_snapshot_lag", "gauge",
		"Commits since the oldest engine snapshot still read (it pins the pages freed since).",
		s->oldest_snapshot_lag);
	add(l, "treestore_cache_hits_total", "counter",
		"Page lookups answered by the engine's cache.", s->cache_hits);
	add(l, "treestore_cache_misses_total", "counter",
		"Page lookups that read the data file.", s->cache_misses);
	add(l, "treestore_cache_pages", "gauge",
		"Pages held by the engine's cache.", s->cache_pages);
	add(l, "treestore_worker_memory_bytes", "gauge",
		"Memory of the treestore worker's contexts (sessions, buffers).", s->memory_bytes);
	add(l, "treestore_write_set_bytes", "gauge",
		"Memory held by the open transactions' write sets.", s->write_set_bytes);
	add(l, "treestore_channel_bytes", "gauge",
		"Dynamic shared memory held by the sessions' channels to the worker.", s->channel_bytes);
	add(l, "treestore_worker_rss_bytes", "gauge",
		"Resident set of the treestore worker (shared pages it touched included).", s->rss_bytes);
	add(l, "treestore_pages", "gauge",
		"Pages of the data file in use (high-water mark).", s->page_count);
	add(l, "treestore_free_pages", "gauge",
		"Pages of the data file on the free list.", s->free_pages);
	add(l, "treestore_dirty_pages", "gauge",
		"Pages changed since the last checkpoint.", s->dirty_pages);
	add(l, "treestore_data_file_bytes", "gauge",
		"Bytes of the data file in use.", s->data_bytes);
	add(l, "treestore_wal_bytes", "gauge",
		"Bytes of the write-ahead log segment files.", s->wal_bytes);
	add(l, "treestore_wal_segments", "gauge",
		"Write-ahead log segment files.", s->wal_segments);
	add(l, "treestore_wal_flushes_total", "counter",
		"Write-ahead log flushes (each a write and a sync for a group of commits).",
		s->wal_flushes);
	add(l, "treestore_checkpoints_total", "counter",
		"Checkpoints taken since the treestore worker started.", s->checkpoints);
	add(l, "treestore_last_checkpoint_age_seconds", "gauge",
		"Seconds since the last checkpoint (or since the worker started).",
		s->last_checkpoint_age_seconds);
	add(l, "treestore_sessions", "gauge",
		"Backends with a session in the treestore worker.", s->sessions);
	add(l, "treestore_requests_total", "counter",
		"Requests served by the treestore worker since it started.", s->requests);
	for (size_t i = 0; i < s->n_tables; i++)
		add_labeled(l, "treestore_rows", "gauge",
					"Rows of a treestore table (committed).",
					"table", s->tables[i]->table, s->tables[i]->rows);
}

/* Prometheus's float syntax: NaN, +Inf, -Inf, else the shortest exact decimal. */
static void
append_value(StringInfo buf, double v)
{
	char		num[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(v))
		appendStringInfoString(buf, "NaN");
	else if (isinf(v))
		appendStringInfoString(buf, v > 0 ? "+Inf" : "-Inf");
	else
	{
		double_to_shortest_decimal_buf(v, num);
		appendStringInfoString(buf, num);
	}
}

/*
 * Escape s for the exposition format: a label value escapes backslash,
 * double quote and newline; HELP text escapes backslash and newline.
 */
static void
append_escaped(StringInfo buf, const char *s, bool label_value)
{
	for (; *s; s++)
	{
		if (*s == '\\')
			appendStringInfoString(buf, "\\\\");
		else if (*s == '\n')
			appendStringInfoString(buf, "\\n");
		else if (*s == '"' && label_value)
			appendStringInfoString(buf, "\\\"");
		else
			appendStringInfoChar(buf, *s);
	}
}

/* metrics(): TABLE(name text, type text, labels jsonb, value float8) */
Datum
treestore_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MetricList	l;
	StringInfoData labels;

	InitMaterializedSRF(fcinfo, 0);
	collect_metrics(&l);
	initStringInfo(&labels);
	for (int i = 0; i < l.n; i++)
	{
		Metric	   *m = &l.items[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		resetStringInfo(&labels);
		appendStringInfoChar(&labels, '{');
		if (m->label)
		{
			escape_json(&labels, m->label);
			appendStringInfoString(&labels, ": ");
			escape_json(&labels, m->label_value);
		}
		appendStringInfoChar(&labels, '}');
		values[0] = CStringGetTextDatum(m->name);
		values[1] = CStringGetTextDatum(m->type);
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(labels.data));
		values[3] = Float8GetDatum(m->value);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* metrics_text(): the Prometheus text exposition format (version 0.0.4) */
Datum
treestore_metrics_text(PG_FUNCTION_ARGS)
{
	MetricList	l;
	StringInfoData buf;

	collect_metrics(&l);
	initStringInfo(&buf);
	for (int i = 0; i < l.n; i++)
	{
		Metric	   *m = &l.items[i];

		if (i == 0 || strcmp(m->name, l.items[i - 1].name) != 0)
		{
			appendStringInfo(&buf, "# HELP %s ", m->name);
			append_escaped(&buf, m->help, false);
			appendStringInfo(&buf, "\n# TYPE %s %s\n", m->name, m->type);
		}
		appendStringInfoString(&buf, m->name);
		if (m->label)
		{
			appendStringInfo(&buf, "{%s=\"", m->label);
			append_escaped(&buf, m->label_value, true);
			appendStringInfoString(&buf, "\"}");
		}
		appendStringInfoChar(&buf, ' ');
		append_value(&buf, m->value);
		appendStringInfoChar(&buf, '\n');
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
