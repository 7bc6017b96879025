/*-------------------------------------------------------------------------
 *
 * rows.c
 *	  Engine rows for C functions: row-operation batches and key-range
 *	  scans over the IPC, in the current transaction (see rows.h).
 *
 *	  The same requests as the foreign tables make (fdw_modify.c's Modify,
 *	  fdw.c's Scan / Fetch / CloseScan), without an executor: a writer
 *	  queues encoded RowOps in its own memory context and sends them every
 *	  WRITE_BATCH_OPS operations or WRITE_BATCH_BYTES bytes; a scan copies
 *	  each batch out of the response queue (ts_response_payload is valid
 *	  only until the next request, and callers interleave requests).
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "utils/memutils.h"

#include "channel.h"
#include "local.h"
#include "rows.h"
#include "search.h"
#include "tables.h"
#include "xact.h"

/* small batches, sent without waiting: the worker writes one while the
 * backend prepares the next (ts_call_start) */
#define WRITE_BATCH_OPS 250
#define WRITE_BATCH_BYTES (256 * 1024)

struct TsRowWriter
{
	const ts_store *store;
	MemoryContext cxt;			/* the writer and its queued operations */
	MemoryContext ops_cxt;		/* queued operations, reset per batch */
	Treestore__RowOp **ops;
	int			nops;
	size_t		bytes;
	uint64		affected;
};

struct TsRowScan
{
	const ts_store *store;
	MemoryContext cxt;			/* the scan */
	MemoryContext batch_cxt;	/* the current batch, reset per batch */
	uint64		scan_id;
	bool		done;			/* the worker closed the scan */
	uint8	   *rows;			/* the current batch (copied) */
	size_t		rows_len,
				pos;
	uint8	   *scratch;		/* decoded key text of the current row */
};

/* Records are encoded here: one buffer per backend, kept small. */
static ts_buf rec_buf;

static void
release_rec_buf(void)
{
	if (rec_buf.cap > WRITE_BATCH_BYTES)
		ts_buf_free(&rec_buf);
}

/* ---------- values ---------- */

ts_colval
ts_val_null(void)
{
	ts_colval	v;

	memset(&v, 0, sizeof(v));
	v.isnull = 1;
	return v;
}

ts_colval
ts_val_text(const char *data, size_t len)
{
	ts_colval	v;

	memset(&v, 0, sizeof(v));
	v.data = (const uint8 *) data;
	v.len = len;
	return v;
}

ts_colval
ts_val_cstring(const char *s)
{
	return s ? ts_val_text(s, strlen(s)) : ts_val_null();
}

ts_colval
ts_val_int(int64 i)
{
	ts_colval	v;

	memset(&v, 0, sizeof(v));
	v.i = i;
	return v;
}

ts_colval
ts_val_bytes(const void *data, size_t len)
{
	return ts_val_text(data, len);
}

char *
ts_val_cstring_copy(const ts_colval *v)
{
	char	   *s;

	if (v->isnull)
		return NULL;
	s = palloc(v->len + 1);
	memcpy(s, v->data, v->len);
	s[v->len] = '\0';
	return s;
}

void
ts_rows_key(const ts_store *st, const ts_colval *vals, int n, uint8 *key, size_t *klen)
{
	int			rc;

	for (int i = 0; i < n; i++)
		if (vals[i].isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in key column \"%s\" of treestore table \"%s\"",
							st->cols[i].name, st->name)));
	if (n == 0)
	{
		*klen = 0;
		return;
	}
	rc = ts_store_key(st, vals, n, key, klen);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key of treestore table \"%s\" is too long", st->name),
				 errdetail("Key columns together may take at most %d bytes.", TS_MAX_KEY)));
}

/* ---------- writing ---------- */

TsRowWriter *
ts_rows_writer(const ts_store *st)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "treestore row writer",
											  ALLOCSET_DEFAULT_SIZES);
	TsRowWriter *w = MemoryContextAllocZero(cxt, sizeof(TsRowWriter));

	w->store = st;
	w->cxt = cxt;
	w->ops_cxt = AllocSetContextCreate(cxt, "treestore row ops", ALLOCSET_DEFAULT_SIZES);
	w->ops = MemoryContextAlloc(cxt, sizeof(Treestore__RowOp *) * WRITE_BATCH_OPS);
	return w;
}

static void
batch_done(Treestore__Response *resp, void *arg)
{
	TsRowWriter *w = arg;

	if (resp->modified == NULL)
		elog(ERROR, "treestore worker answered a modification without a result");
	w->affected += resp->modified->affected;
}

void
ts_rows_flush(TsRowWriter *w)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Modify m = TREESTORE__MODIFY__INIT;
	MemoryContext old;

	if (w->nops == 0)
		return;
	/* the previous batch's response first (its errors raised here) */
	ts_call_finish();
	old = MemoryContextSwitchTo(w->ops_cxt);
	ts_xact_request(&req, true);
	m.table = (char *) w->store->name;
	m.n_ops = w->nops;
	m.ops = w->ops;
	req.op_case = TREESTORE__REQUEST__OP_MODIFY;
	req.modify = &m;
	ts_call_start(&req, batch_done, w);
	ts_xact_request_sent();
	MemoryContextSwitchTo(old);
	w->nops = 0;
	w->bytes = 0;
	MemoryContextReset(w->ops_cxt);
}

static Treestore__RowOp *
new_op(TsRowWriter *w, int kind, const ts_colval *vals, bool with_record)
{
	Treestore__RowOp *op = MemoryContextAlloc(w->ops_cxt, sizeof(Treestore__RowOp));
	uint8		key[TS_MAX_KEY];
	size_t		klen;

	treestore__row_op__init(op);
	op->kind = kind;
	ts_rows_key(w->store, vals, w->store->nkeys, key, &klen);
	op->key.data = MemoryContextAlloc(w->ops_cxt, klen);
	memcpy(op->key.data, key, klen);
	op->key.len = klen;
	if (with_record)
	{
		if (ts_rec_encode(w->store, vals, &rec_buf) != 0)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		op->record.data = MemoryContextAlloc(w->ops_cxt, rec_buf.len);
		memcpy(op->record.data, rec_buf.data, rec_buf.len);
		op->record.len = rec_buf.len;
		release_rec_buf();
		{
			MemoryContext old = MemoryContextSwitchTo(w->ops_cxt);

			ts_search_node_terms(w->store, op->record.data, op->record.len, &op->terms);
			MemoryContextSwitchTo(old);
		}
	}
	return op;
}

static void
queue_op(TsRowWriter *w, Treestore__RowOp *op)
{
	w->ops[w->nops++] = op;
	w->bytes += op->key.len + op->record.len + 16;
	if (w->nops >= WRITE_BATCH_OPS || w->bytes >= WRITE_BATCH_BYTES)
		ts_rows_flush(w);
}

void
ts_rows_insert(TsRowWriter *w, const ts_colval *row)
{
	queue_op(w, new_op(w, TREESTORE__ROW_OP__KIND__INSERT, row, true));
}

void
ts_rows_put(TsRowWriter *w, const ts_colval *row)
{
	/* UPDATE without an old key: a plain put (worker_ops.c) */
	queue_op(w, new_op(w, TREESTORE__ROW_OP__KIND__UPDATE, row, true));
}

void
ts_rows_delete(TsRowWriter *w, const ts_colval *keyvals)
{
	queue_op(w, new_op(w, TREESTORE__ROW_OP__KIND__DELETE, keyvals, false));
}

void
ts_rows_delete_key(TsRowWriter *w, const uint8 *key, size_t klen)
{
	Treestore__RowOp *op = MemoryContextAlloc(w->ops_cxt, sizeof(Treestore__RowOp));

	treestore__row_op__init(op);
	op->kind = TREESTORE__ROW_OP__KIND__DELETE;
	op->key.data = MemoryContextAlloc(w->ops_cxt, Max(klen, 1));
	memcpy(op->key.data, key, klen);
	op->key.len = klen;
	queue_op(w, op);
}

uint64
ts_rows_writer_end(TsRowWriter *w)
{
	uint64		n;

	ts_rows_flush(w);
	ts_call_finish();
	n = w->affected;
	MemoryContextDelete(w->cxt);
	return n;
}

/* ---------- reading ---------- */

/* Take a batch response: copy its rows out of the queue. */
static void
take_batch(TsRowScan *sc, Treestore__Response *resp)
{
	Treestore__ScanBatch *b = resp->batch;

	if (b == NULL)
		elog(ERROR, "treestore worker answered a scan without rows");
	sc->scan_id = b->scan_id;
	sc->done = b->done;
	sc->rows_len = ts_response_payload_len;
	sc->rows = MemoryContextAlloc(sc->batch_cxt, Max(sc->rows_len, 1));
	if (sc->rows_len)
		memcpy(sc->rows, ts_response_payload, sc->rows_len);
	sc->pos = 0;
}

TsRowScan *
ts_rows_scan_range(const ts_store *st, const uint8 *lo, size_t lolen,
				   const uint8 *hi, size_t hilen, uint64 limit)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "treestore row scan",
											  ALLOCSET_DEFAULT_SIZES);
	TsRowScan  *sc = MemoryContextAllocZero(cxt, sizeof(TsRowScan));
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Scan scan = TREESTORE__SCAN__INIT;
	Treestore__KeyRange kr = TREESTORE__KEY_RANGE__INIT;
	Treestore__KeyRange *krs[1] = {&kr};
	MemoryContext old;

	sc->store = st;
	sc->cxt = cxt;
	sc->batch_cxt = AllocSetContextCreate(cxt, "treestore row scan batch", ALLOCSET_DEFAULT_SIZES);
	sc->scratch = MemoryContextAlloc(cxt, TS_MAX_KEY);
	old = MemoryContextSwitchTo(sc->batch_cxt);
	scan.table = (char *) st->name;
	if (lolen > 0 || hilen > 0)
	{
		kr.lo.data = (uint8 *) lo;
		kr.lo.len = lolen;
		kr.hi.data = (uint8 *) hi;
		kr.hi.len = hilen;
		scan.n_ranges = 1;
		scan.ranges = krs;
	}
	scan.batch_rows = TS_BATCH_ROWS;
	scan.batch_bytes = TS_BATCH_BYTES;
	scan.limit = limit;
	req.op_case = TREESTORE__REQUEST__OP_SCAN;
	req.scan = &scan;
	/* in the backend unless the transaction wrote (local.c) */
	take_batch(sc, ts_read_request(&req, false));
	MemoryContextSwitchTo(old);
	return sc;
}

TsRowScan *
ts_rows_scan_prefix(const ts_store *st, const ts_colval *vals, int nvals, uint64 limit)
{
	uint8		lo[TS_MAX_KEY],
				hi[TS_MAX_KEY];
	size_t		lolen,
				hilen = 0;

	ts_rows_key(st, vals, nvals, lo, &lolen);
	if (lolen > 0)
		hilen = ts_key_prefix_end(lo, lolen, hi);
	return ts_rows_scan_range(st, lo, lolen, hi, hilen, limit);
}

static void
fetch_more(TsRowScan *sc)
{
	MemoryContext old;

	MemoryContextReset(sc->batch_cxt);
	sc->rows = NULL;
	sc->rows_len = sc->pos = 0;
	old = MemoryContextSwitchTo(sc->batch_cxt);
	take_batch(sc, ts_read_fetch(sc->scan_id, ts_xact_statement()));
	MemoryContextSwitchTo(old);
}

bool
ts_rows_next(TsRowScan *sc, TsRow *row)
{
	for (;;)
	{
		const uint8 *key,
				   *rec;
		size_t		klen,
					rlen;

		if (ts_batch_next(sc->rows, sc->rows_len, &sc->pos, &key, &klen, &rec, &rlen))
		{
			memset(row, 0, sizeof(*row));
			ts_colvals_decode(sc->store, key, klen, rec, rlen, row->vals, sc->scratch);
			row->key = key;
			row->klen = klen;
			return true;
		}
		if (sc->done)
			return false;
		fetch_more(sc);
	}
}

void
ts_rows_scan_end(TsRowScan *sc)
{
	if (!sc->done)
		ts_read_close(sc->scan_id);
	MemoryContextDelete(sc->cxt);
}

void
ts_rows_copy(const ts_store *st, const TsRow *row, TsRow *out)
{
	size_t		total = row->klen;
	uint8	   *p;

	for (int c = 0; c < st->ncols; c++)
		if (!row->vals[c].isnull && row->vals[c].data != NULL)
			total += row->vals[c].len;
	p = palloc(Max(total, 1));
	*out = *row;
	memcpy(p, row->key, row->klen);
	out->key = p;
	p += row->klen;
	for (int c = 0; c < st->ncols; c++)
	{
		if (row->vals[c].isnull || row->vals[c].data == NULL)
			continue;
		memcpy(p, row->vals[c].data, row->vals[c].len);
		out->vals[c].data = p;
		p += row->vals[c].len;
	}
}

TsRow *
ts_rows_fetch_prefix(const ts_store *st, const ts_colval *vals, int nvals,
					 uint64 limit, int *nrows)
{
	TsRowScan  *sc = ts_rows_scan_prefix(st, vals, nvals, limit);
	int			n = 0,
				cap = 16;
	TsRow	   *rows = palloc(sizeof(TsRow) * cap);
	TsRow		row;

	while (ts_rows_next(sc, &row))
	{
		if (n == cap)
		{
			if ((Size) cap * 2 * sizeof(TsRow) > MaxAllocSize)
				rows = repalloc_huge(rows, sizeof(TsRow) * (Size) cap * 2);
			else
				rows = repalloc(rows, sizeof(TsRow) * cap * 2);
			cap *= 2;
		}
		ts_rows_copy(st, &row, &rows[n++]);
	}
	ts_rows_scan_end(sc);
	*nrows = n;
	return rows;
}

bool
ts_rows_get(const ts_store *st, const ts_colval *keyvals, TsRow *row)
{
	TsRowScan  *sc = ts_rows_scan_prefix(st, keyvals, st->nkeys, 1);
	TsRow		r;
	bool		found = ts_rows_next(sc, &r);

	if (found)
		ts_rows_copy(st, &r, row);
	ts_rows_scan_end(sc);
	return found;
}
