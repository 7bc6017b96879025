/*-------------------------------------------------------------------------
 *
 * local.c
 *	  Reads in the backend (local.h): the backend attaches to the engine
 *	  as a reader (ts_env_attach: its own file descriptor and page cache,
 *	  one slot of the reader table in shared memory) and executes read
 *	  requests itself, with no message to the worker.
 *
 * WHEN A READ RUNS HERE
 *	  - treestore.backend_reads is on (the default), and the worker is
 *	    ready (in-doubt transactions settled: a committed one must be seen)
 *	    or has stopped (its last snapshot was settled; a new worker
 *	    withdraws it when it opens the engine);
 *	  - the transaction has not written treestore: its writes live in the
 *	    worker, and so must the reads that see them;
 *	  - READ COMMITTED, or a READ ONLY transaction: a REPEATABLE READ
 *	    transaction that may write reads through the worker, whose
 *	    transaction's snapshot is also its first-committer-wins base;
 *	  - the statement does not write treestore (its reads go through the
 *	    worker, as before).
 *	  Otherwise, or when the engine has no snapshot published (the worker
 *	  is opening), the request goes to the worker as it always did.
 *
 * SNAPSHOTS
 *	  A READ COMMITTED statement reads one engine snapshot (one read
 *	  transaction here), a READ ONLY repeatable-read transaction one for all
 *	  its statements.  A scan holds its snapshot until it closes, so a
 *	  cursor opened by an earlier statement keeps reading its own statement's
 *	  snapshot while later statements read newer ones.  Everything ends at
 *	  transaction end.  A writer that commits makes its commit visible to
 *	  readers before its COMMIT returns (the worker publishes before it
 *	  answers the resolve), so a session reads its own committed writes.
 *
 * ERRORS
 *	  An engine error is raised with the SQLSTATE the worker would give
 *	  (ts_ops_engine_error).  The engine holds cursors and pinned pages while
 *	  it calls back with rows: an ERROR there is caught, the engine unwinds,
 *	  and then it is raised.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/xact.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#include "channel.h"
#include "docquery.h"
#include "local.h"
#include "stores.h"
#include "worker.h"
#include "xact.h"

void	   *ts_reader_region = NULL;
bool		ts_local_last_served = false;

#define LOCAL_SCAN_ID	(UINT64CONST(1) << 63)	/* ids of scans served here */

typedef struct LocalSnap
{
	dlist_node	node;
	ts_txn	   *txn;
	LocalTransactionId lxid;
	uint32		stmt;			/* 0: the whole transaction's */
	int			refs;			/* the statement's, and each open scan's */
} LocalSnap;

typedef struct LocalScan
{
	dlist_node	node;
	uint64		id;
	LocalSnap  *snap;
	int			store;
	ts_cursor  *cur;
	int			nranges;
	uint8	  **lo,
			  **hi;
	size_t	   *lolen,
			   *hilen;
	int			range;
	bool		in_range;
	uint64		limit,
				returned;
	uint32		max_rows,
				max_bytes;
} LocalScan;

static ts_env *local_env = NULL;
static bool trees_open = false;
static ts_tree local_trees[16];
static ts_docindex local_ix;
static LocalSnap *cur_snap = NULL;
static dlist_head snaps = DLIST_STATIC_INIT(snaps);
static dlist_head scans = DLIST_STATIC_INIT(scans);
static uint64 next_scan = 0;
static uint64 xact_base = 0;	/* ts_local_xact_base */
static LocalTransactionId xact_base_lxid = InvalidLocalTransactionId;

Size
ts_reader_region_size(void)
{
	return ts_shared_size((uint32) MaxBackends);
}

/* ---------- errors ---------- */

static void
raise_engine_error(int rc, const char *what)
{
	Treestore__Response resp = TREESTORE__RESPONSE__INIT;

	ts_ops_engine_error(&resp, rc, what);
	ts_raise_response_error(resp.error);
}

/* ---------- attaching and snapshots ---------- */

static void release_all(void);

/*
 * Process exit.  This runs before PostgreSQL aborts a transaction still
 * open (a FATAL: before_shmem_exit callbacks run newest first), so the
 * scans and snapshots go here, and the transaction's abort finds none.
 */
static void
local_exit(int code, Datum arg)
{
	release_all();
	if (local_env)
	{
		(void) ts_env_close(local_env);	/* the slot goes with it */
		local_env = NULL;
	}
}

static bool
attach(void)
{
	ts_options	opt;
	ts_env	   *env;
	char	   *path;

	if (local_env)
		return true;
	ts_options_init(&opt);
	opt.shared = ts_reader_region;
	opt.cache_pages = (size_t) ts_backend_cache_kb * 1024 / TS_PAGE_SIZE;
	path = ts_worker_data_path();
	if (ts_env_attach(path, &opt, &env) != 0)
	{
		elog(DEBUG1, "treestore: reading through the worker: %s", ts_last_error());
		pfree(path);
		return false;
	}
	pfree(path);
	local_env = env;
	before_shmem_exit(local_exit, 0);
	return true;
}

/* The worker's state and generation, to check around taking a snapshot. */
static bool
worker_ready(uint32 *gen)
{
	bool		ready;

	SpinLockAcquire(&ts_shared->mutex);
	/* stopped: its last published snapshot is settled and stays readable */
	ready = ts_shared->state == TS_WORKER_READY || ts_shared->state == TS_WORKER_STOPPED;
	*gen = ts_shared->worker_generation;
	SpinLockRelease(&ts_shared->mutex);
	return ready;
}

static void
snap_unref(LocalSnap *s)
{
	if (--s->refs > 0)
		return;
	dlist_delete(&s->node);
	ts_txn_abort(s->txn);
	pfree(s);
}

/* The trees' handles, once (they are stable for the environment). */
static bool
open_trees(ts_txn *txn)
{
	if (trees_open)
		return true;
	Assert(ts_nstores <= lengthof(local_trees));
	for (int i = 0; i < ts_nstores; i++)
		if (ts_tree_open(txn, ts_stores[i].name, 0, &local_trees[i]) != 0)
			return false;
	if (ts_docindex_open(txn, &local_ix) != 0)
		return false;
	trees_open = true;
	return true;
}

/*
 * The snapshot this statement reads here, or NULL if it cannot read here
 * (the worker is not ready, nothing is published).
 */
static LocalSnap *
local_snapshot(void)
{
	uint32		stmt = IsolationUsesXactSnapshot() ? 0 : ts_xact_statement();
	uint32		gen,
				gen2;
	ts_txn	   *txn;
	LocalSnap  *s;
	int			rc;

	if (cur_snap && cur_snap->lxid == MyProc->lxid && cur_snap->stmt == stmt)
		return cur_snap;
	if (cur_snap)
	{
		snap_unref(cur_snap);	/* the statement's reference */
		cur_snap = NULL;
	}
	if (!attach() || !worker_ready(&gen))
		return NULL;
	rc = ts_txn_begin(local_env, TS_RDONLY, &txn);
	if (rc == TS_BUSY)
		return NULL;
	if (rc != 0)
		raise_engine_error(rc, "read");
	/* a worker that restarted meanwhile may not have settled yet */
	if (!worker_ready(&gen2) || gen2 != gen || !open_trees(txn))
	{
		ts_txn_abort(txn);
		return NULL;
	}
	/* the transaction's first snapshot read here: its conflict base */
	if (xact_base == 0 || xact_base_lxid != MyProc->lxid)
	{
		uint64		base = ts_txn_snapshot(txn);

		if ((rc = ts_env_set_base(local_env, base)) != 0)
		{
			ts_txn_abort(txn);
			raise_engine_error(rc, "read");
		}
		xact_base = base;
		xact_base_lxid = MyProc->lxid;
	}
	s = MemoryContextAllocZero(TopMemoryContext, sizeof(LocalSnap));
	s->txn = txn;
	s->lxid = MyProc->lxid;
	s->stmt = stmt;
	s->refs = 1;
	dlist_push_head(&snaps, &s->node);
	cur_snap = s;
	return s;
}

static bool
local_allowed(bool via_worker)
{
	return ts_backend_reads && !via_worker && ts_reader_region != NULL &&
		!ts_xact_wrote() && (!IsolationUsesXactSnapshot() || XactReadOnly);
}

/* ---------- scans ---------- */

static void
scan_free(LocalScan *sc)
{
	dlist_delete(&sc->node);
	if (sc->cur)
		ts_cursor_close(sc->cur);
	snap_unref(sc->snap);
	for (int i = 0; i < sc->nranges; i++)
	{
		pfree(sc->lo[i]);
		pfree(sc->hi[i]);
	}
	if (sc->nranges > 0)
	{
		pfree(sc->lo);
		pfree(sc->hi);
		pfree(sc->lolen);
		pfree(sc->hilen);
	}
	pfree(sc);
}

static LocalScan *
find_scan(uint64 id)
{
	dlist_iter	it;

	dlist_foreach(it, &scans)
	{
		LocalScan  *sc = dlist_container(LocalScan, node, it.cur);

		if (sc->id == id)
			return sc;
	}
	return NULL;
}

/* Position at the next entry; false when done (*rc: an error, or 0). */
static bool
scan_advance(LocalScan *sc, int *rc)
{
	*rc = 0;
	for (;;)
	{
		int			r;

		if (sc->range >= Max(sc->nranges, 1))
			return false;
		if (!sc->in_range)
		{
			if (sc->nranges > 0 &&
				(r = ts_cursor_bounds(sc->cur,
									  sc->lolen[sc->range] ? sc->lo[sc->range] : NULL,
									  sc->lolen[sc->range],
									  sc->hilen[sc->range] ? sc->hi[sc->range] : NULL,
									  sc->hilen[sc->range])) != 0)
			{
				*rc = r;
				return false;
			}
			r = ts_cursor_first(sc->cur);
			sc->in_range = true;
		}
		else
			r = ts_cursor_next(sc->cur);
		if (r == 0)
			return true;
		if (r != TS_NOTFOUND)
		{
			*rc = r;
			return false;
		}
		sc->range++;
		sc->in_range = false;
	}
}

/* The next batch of sc as a response; the scan is freed once done. */
static Treestore__Response *
scan_batch(LocalScan *sc)
{
	Treestore__Response *resp = palloc(sizeof(Treestore__Response));
	Treestore__ScanBatch *b = palloc(sizeof(Treestore__ScanBatch));
	StringInfoData out;
	bool		done = false;
	int			rc = 0;

	treestore__response__init(resp);
	treestore__scan_batch__init(b);
	initStringInfo(&out);
	b->scan_id = sc->id;
	while (b->nrows < sc->max_rows && (size_t) out.len < sc->max_bytes)
	{
		ts_slice	k,
					v;

		if (sc->limit > 0 && sc->returned >= sc->limit)
		{
			done = true;
			break;
		}
		if (!scan_advance(sc, &rc))
		{
			done = (rc == 0);
			break;
		}
		if ((rc = ts_cursor_get(sc->cur, &k, &v)) != 0)
			break;
		ts_batch_add(&out, k.data, k.len, v.data, v.len);	/* may raise: nothing held */
		b->nrows++;
		sc->returned++;
	}
	if (rc != 0 || done)
		scan_free(sc);
	if (rc != 0)
		raise_engine_error(rc, "scan");
	b->done = done;
	resp->body_case = TREESTORE__RESPONSE__BODY_BATCH;
	resp->batch = b;
	ts_response_payload = (const uint8 *) out.data;
	ts_response_payload_len = out.len;
	return resp;
}

static Treestore__Response *
local_scan(LocalSnap *snap, const Treestore__Scan *req)
{
	const ts_store *st = ts_store_find(req->table);
	LocalScan  *sc;
	int			rc;

	if (st == NULL)
		return NULL;			/* the worker says what is wrong */
	sc = MemoryContextAllocZero(TopMemoryContext, sizeof(LocalScan));
	sc->id = LOCAL_SCAN_ID | ++next_scan;
	sc->snap = snap;
	snap->refs++;
	sc->store = (int) (st - ts_stores);
	sc->limit = req->limit;
	sc->max_rows = req->batch_rows ? req->batch_rows : TS_BATCH_ROWS;
	sc->max_bytes = req->batch_bytes ? req->batch_bytes : TS_BATCH_BYTES;
	sc->nranges = (int) req->n_ranges;
	if (sc->nranges > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		sc->lo = palloc(sizeof(uint8 *) * sc->nranges);
		sc->hi = palloc(sizeof(uint8 *) * sc->nranges);
		sc->lolen = palloc(sizeof(size_t) * sc->nranges);
		sc->hilen = palloc(sizeof(size_t) * sc->nranges);
		for (int i = 0; i < sc->nranges; i++)
		{
			sc->lolen[i] = req->ranges[i]->lo.len;
			sc->hilen[i] = req->ranges[i]->hi.len;
			sc->lo[i] = palloc(Max(sc->lolen[i], 1));
			sc->hi[i] = palloc(Max(sc->hilen[i], 1));
			memcpy(sc->lo[i], req->ranges[i]->lo.data, sc->lolen[i]);
			memcpy(sc->hi[i], req->ranges[i]->hi.data, sc->hilen[i]);
		}
		MemoryContextSwitchTo(old);
	}
	dlist_push_head(&scans, &sc->node);
	if ((rc = ts_cursor_open(snap->txn, local_trees[sc->store], &sc->cur)) != 0)
	{
		scan_free(sc);
		raise_engine_error(rc, "scan");
	}
	return scan_batch(sc);
}

/* ---------- document queries ---------- */

static Treestore__Response *
local_query(LocalSnap *snap, const Treestore__Query *q)
{
	Treestore__Response *resp = palloc(sizeof(Treestore__Response));
	Treestore__QueryResult *res = palloc(sizeof(Treestore__QueryResult));
	TsQueryRows out = {0};
	int			rc;

	treestore__response__init(resp);
	treestore__query_result__init(res);
	out.rows = makeStringInfo();
	rc = ts_docquery_run(snap->txn, &local_ix, local_trees, q, res, ts_docquery_collect, &out);
	if (rc == TS_INVALID)
		return NULL;			/* not a query this build knows: the worker says so */
	if (rc == TS_QUERY_FAILED && out.error)
		ReThrowError(out.error);
	if (rc == TS_QUERY_TOO_BIG)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("result of the treestore query exceeds %zu MB",
						(size_t) (TS_QUERY_MAX_PAYLOAD >> 20))));
	if (rc == TS_DOCINDEX_IRREGULAR)
	{
		res->fallback = true;
		resetStringInfo(out.rows);
		out.nrows = 0;
		out.nscores = 0;
		rc = 0;
	}
	if (rc != 0)
		raise_engine_error(rc, "query");
	res->nrows = out.nrows;
	if (q->kind == TREESTORE__QUERY__KIND__SEARCH)
	{
		res->scores = out.scores;
		res->n_scores = out.nscores;
	}
	resp->body_case = TREESTORE__RESPONSE__BODY_QUERY;
	resp->query = res;
	ts_response_payload = (const uint8 *) out.rows->data;
	ts_response_payload_len = out.rows->len;
	return resp;
}

static Treestore__Response *
local_table_stats(LocalSnap *snap, const Treestore__TableStats *t)
{
	const ts_store *st = ts_store_find(t->table);
	Treestore__Response *resp;
	Treestore__TableStatsResult *r;
	ts_treestat ts;
	int			rc;

	if (st == NULL)
		return NULL;
	if ((rc = ts_tree_stat(snap->txn, local_trees[st - ts_stores], &ts)) != 0)
		raise_engine_error(rc, "read table statistics");
	resp = palloc(sizeof(Treestore__Response));
	r = palloc(sizeof(Treestore__TableStatsResult));
	treestore__response__init(resp);
	treestore__table_stats_result__init(r);
	r->entries = ts.entries;
	resp->body_case = TREESTORE__RESPONSE__BODY_TABLE_STATS;
	resp->table_stats = r;
	return resp;
}

/* ---------- entry points ---------- */

uint64
ts_local_xact_base(void)
{
	return xact_base_lxid == MyProc->lxid ? xact_base : 0;
}

Treestore__Response *
ts_read_request(Treestore__Request *req, bool via_worker)
{
	Treestore__Response *resp = NULL;

	ts_local_last_served = false;
	if (local_allowed(via_worker))
	{
		LocalSnap  *snap = local_snapshot();

		if (snap != NULL)
		{
			/* whoever reads rows in the queue copies them first (channel.h) */
			ts_payload_release();
			switch (req->op_case)
			{
				case TREESTORE__REQUEST__OP_SCAN:
					resp = local_scan(snap, req->scan);
					break;
				case TREESTORE__REQUEST__OP_QUERY:
					resp = local_query(snap, req->query);
					break;
				case TREESTORE__REQUEST__OP_TABLE_STATS:
					resp = local_table_stats(snap, req->table_stats);
					break;
				default:
					break;
			}
		}
	}
	if (resp != NULL)
	{
		ts_local_last_served = true;
		return resp;
	}
	ts_xact_request(req, false);
	resp = ts_call(req);
	ts_xact_request_sent();
	return resp;
}

Treestore__Response *
ts_read_fetch(uint64 scan_id, uint32 stmt)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Fetch f = TREESTORE__FETCH__INIT;
	Treestore__Response *resp;

	if (scan_id & LOCAL_SCAN_ID)
	{
		LocalScan  *sc = find_scan(scan_id);

		if (sc == NULL)
			elog(ERROR, "treestore scan " UINT64_FORMAT " is gone", scan_id);
		ts_payload_release();
		return scan_batch(sc);
	}
	ts_xact_request_continue(&req, stmt);	/* its statement's snapshot */
	f.scan_id = scan_id;
	req.op_case = TREESTORE__REQUEST__OP_FETCH;
	req.fetch = &f;
	resp = ts_call(&req);
	ts_xact_request_sent();
	return resp;
}

void
ts_read_close(uint64 scan_id)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__CloseScan cs = TREESTORE__CLOSE_SCAN__INIT;

	if (scan_id & LOCAL_SCAN_ID)
	{
		LocalScan  *sc = find_scan(scan_id);

		if (sc)
			scan_free(sc);
		return;
	}
	cs.scan_id = scan_id;
	req.op_case = TREESTORE__REQUEST__OP_CLOSE_SCAN;
	req.close_scan = &cs;
	ts_send_nowait(&req);
}

/* Every scan and snapshot goes, and the conflict base (nothing raises). */
static void
release_all(void)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &scans)
		scan_free(dlist_container(LocalScan, node, it.cur));
	dlist_foreach_modify(it, &snaps)
	{
		LocalSnap  *s = dlist_container(LocalSnap, node, it.cur);

		dlist_delete(&s->node);
		ts_txn_abort(s->txn);
		pfree(s);
	}
	cur_snap = NULL;
	if (xact_base != 0 && local_env != NULL)
		(void) ts_env_set_base(local_env, 0);
	xact_base = 0;
}

/* Transaction end: everything of the transaction goes. */
static void
local_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			release_all();
			break;
		default:
			break;
	}
}

void
ts_local_init(void)
{
	RegisterXactCallback(local_xact_callback, NULL);
}
