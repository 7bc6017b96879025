/*-------------------------------------------------------------------------
 *
 * worker_ops.c
 *	  Executing a session's requests on the engine, in the worker.
 *
 *	  A backend's PostgreSQL transaction is one engine write transaction,
 *	  begun at its first request (lxid) and ended by EndTxn, by Resolve
 *	  after a Prepare, or by the next request carrying another lxid.
 *	  READ COMMITTED: a new statement number renews the read snapshot (the
 *	  write set and the conflict base stay).  Savepoints: the first write
 *	  of a subtransaction takes an engine mark; a rolled-back subtransaction
 *	  rolls the write set back to the mark of the oldest mark at or above
 *	  it.  Subtransaction ids grow in start order, and a subtransaction can
 *	  be rolled back only while it is open, so every mark at or above it
 *	  belongs to it or to its children.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/transam.h"
#include "access/xlogrecovery.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/memutils.h"

#include "docquery.h"
#include "worker.h"

/* ---------- errors ---------- */

void
ts_ops_set_error(Treestore__Response *resp, const char *sqlstate,
				 const char *detail, const char *hint, const char *fmt,...)
{
	Treestore__Error *e = palloc(sizeof(Treestore__Error));
	va_list		ap;
	char		buf[1024];

	treestore__error__init(e);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	e->sqlstate = pstrdup(sqlstate);
	e->message = pstrdup(buf);
	e->detail = pstrdup(detail ? detail : "");
	e->hint = pstrdup(hint ? hint : "");
	resp->error = e;
}

static void engine_error(Treestore__Response *resp, int rc, const char *what,
						 const char *detail);

/* Map an engine error to a SQLSTATE and message. */
void
ts_ops_engine_error(Treestore__Response *resp, int rc, const char *what)
{
	engine_error(resp, rc, what, ts_last_error());
}

/* The same, with the engine's message given (a thread's: worker_pool.c). */
static void
engine_error(Treestore__Response *resp, int rc, const char *what, const char *detail)
{

	switch (rc)
	{
		case TS_CONFLICT:
			ts_ops_set_error(resp, "40001", detail,
							 "The transaction might succeed if retried.",
							 "could not serialize access due to concurrent update");
			break;
		case TS_KEY_TOO_BIG:
			ts_ops_set_error(resp, "54000", detail, NULL, "treestore key is too long");
			break;
		case TS_VALUE_TOO_BIG:
			ts_ops_set_error(resp, "54000", detail, NULL, "treestore row is too large");
			break;
		case TS_FULL:
			ts_ops_set_error(resp, "53100", detail, NULL, "treestore could not %s: disk full", what);
			break;
		case TS_NOMEM:
			ts_ops_set_error(resp, "53200", detail, NULL, "treestore worker out of memory");
			break;
		case TS_POISONED:
			ts_ops_set_error(resp, "58030", detail,
							 "The treestore worker restarts itself to recover once space is freed (or the storage works again).",
							 "treestore could not %s: an earlier write failed", what);
			break;
		case TS_CORRUPT:
			ts_ops_set_error(resp, "XX001", detail, NULL, "treestore data is corrupted");
			break;
		default:
			/* the log's writes report out of space by errno, the pager's by TS_FULL */
			if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG)
				ts_ops_set_error(resp, "53100", detail, NULL, "treestore could not %s: disk full",
								 what);
			else if (rc > 0)
				ts_ops_set_error(resp, "58030", detail, NULL, "treestore could not %s: %s",
								 what, strerror(rc));
			else
				ts_ops_set_error(resp, "XX000", detail, NULL, "treestore could not %s: %s",
								 what, ts_strerror(rc));
	}
}

/* "Key (a, b)=(x, y)" for a 23505 detail. */
static char *
describe_key(const ts_store *st, const uint8 *key, size_t klen)
{
	ts_colval	kv[TS_STORE_MAX_COLS];
	uint8		scratch[TS_MAX_KEY];
	StringInfoData names,
				vals;

	if (ts_store_key_decode(st, key, klen, kv, scratch, sizeof(scratch)) != 0)
		return pstrdup("The key already exists.");
	initStringInfo(&names);
	initStringInfo(&vals);
	for (int i = 0; i < st->nkeys; i++)
	{
		if (i > 0)
		{
			appendStringInfoString(&names, ", ");
			appendStringInfoString(&vals, ", ");
		}
		appendStringInfoString(&names, st->cols[i].name);
		if (st->cols[i].type == TS_COL_TEXT)
			appendBinaryStringInfo(&vals, (const char *) kv[i].data, (int) kv[i].len);
		else
			appendStringInfo(&vals, INT64_FORMAT, (int64) kv[i].i);
	}
	return psprintf("Key (%s)=(%s) already exists.", names.data, vals.data);
}

/* ---------- PostgreSQL transaction status ---------- */

/*
 * Has the PostgreSQL transaction named by gid ended, and how?  false (with
 * why) if it is still running or cannot be known.
 *
 * A gid "pg:<full xid>/<incarnation>/<P>" (xact.c, ATOMICITY) was prepared
 * in server lifetime <incarnation> after a WAL record carrying the xid,
 * ending at P, was inserted but maybe not flushed.  Prepared in this
 * lifetime: the xid was handed out in it and never will be again; the
 * commit log decides.  In the lifetime before this one: the crash recovery
 * that began this one replayed the WAL to GetXLogReplayRecPtr() (0 after a
 * clean shutdown, whose checkpoint flushed all of it); past P, the record
 * was replayed, the next xid is beyond ours and the commit log decides;
 * short of P, the record was lost, and the commit record, which comes
 * after it, too: PostgreSQL did not commit, abort (the xid may belong to
 * another transaction now).  Earlier still: the commit log's "not
 * committed" is ours whatever happened (a reused xid means ours never
 * committed), but its "committed" may be another transaction's: left in
 * doubt, by hand.  A gid "pg:<full xid>" had its xid record flushed before
 * the prepare: the commit log decides.
 */
bool
ts_ops_xid_status(const char *gid, bool *commit, char *why, size_t whylen)
{
	uint64		fxid_value,
				inc,
				lsn;
	FullTransactionId fxid,
				next;
	TransactionId xid;
	bool		earlier = false,	/* prepared in an earlier lifetime */
				previous_known = false; /* the one before this, and P survived */

	if (!ts_gid_parse(gid, &fxid_value, &inc, &lsn))
	{
		snprintf(why, whylen, "not a PostgreSQL transaction id");
		return false;
	}
	if (inc != 0 && inc != ts_shared->incarnation)
	{
		XLogRecPtr	replayed = GetXLogReplayRecPtr(NULL);

		earlier = true;
		if (ts_shared->incarnation != 0 && inc + 1 == ts_shared->incarnation)
		{
			if (replayed != InvalidXLogRecPtr && lsn > replayed)
			{
				/* the xid's record, and so its commit record, was lost */
				*commit = false;
				return true;
			}
			previous_known = true;
		}
	}
	fxid = FullTransactionIdFromU64(fxid_value);
	xid = XidFromFullTransactionId(fxid);
	next = ReadNextFullTransactionId();
	if (!FullTransactionIdPrecedes(fxid, next))
	{
		/*
		 * PostgreSQL never made this xid durable, so it cannot have
		 * committed: abort, before the xid is handed out again.
		 */
		*commit = false;
		return true;
	}
	if (U64FromFullTransactionId(next) - fxid_value >= (uint64) 1 << 31 ||
		TransactionIdPrecedes(xid, ShmemVariableCache->oldestClogXid))
	{
		snprintf(why, whylen, "transaction %llu is older than the commit log's horizon; "
				 "resolve it by hand", (unsigned long long) fxid_value);
		return false;
	}
	if (TransactionIdIsInProgress(xid))
	{
		snprintf(why, whylen, "transaction %u is still in progress", xid);
		return false;
	}
	*commit = TransactionIdDidCommit(xid);
	if (*commit && earlier && !previous_known)
	{
		snprintf(why, whylen, "transaction %u was prepared before more than one restart of "
				 "PostgreSQL (lifetime %llu, now %llu): its xid may have been handed out again; "
				 "resolve it by hand", xid, (unsigned long long) inc,
				 (unsigned long long) ts_shared->incarnation);
		return false;
	}
	return true;
}

/* ---------- the session's engine transaction ---------- */

/* Forget a scan's read-ahead batch: back to where the backend is. */
static void
discard_ahead(WScan *sc)
{
	if (!sc->has_ahead)
		return;
	sc->has_ahead = false;
	sc->range = sc->saved_range;
	sc->last_len = sc->saved_len;
	memcpy(sc->last_key, sc->saved_key, sc->saved_len);
	sc->returned = sc->saved_returned;
	sc->in_range = false;
	if (sc->cur)
	{
		ts_cursor_close(sc->cur);
		sc->cur = NULL;
	}
}

/* Before the transaction's state moves (renew, rollback, writes). */
static void
close_cursors(Session *s)
{
	s->read_ahead = NULL;
	for (WScan *sc = s->scans; sc; sc = sc->next)
	{
		discard_ahead(sc);
		if (sc->cur)
		{
			ts_cursor_close(sc->cur);
			sc->cur = NULL;
		}
	}
}

static void
free_scan(Session *s, WScan *sc)
{
	for (WScan **p = &s->scans; *p; p = &(*p)->next)
		if (*p == sc)
		{
			*p = sc->next;
			break;
		}
	if (s->read_ahead == sc)
		s->read_ahead = NULL;
	discard_ahead(sc);
	if (sc->cur)
		ts_cursor_close(sc->cur);
	if (sc->ahead.data)
		pfree(sc->ahead.data);
	pfree(sc);
}

/* End the session's transaction: abort it, or orphan it if prepared. */
void
ts_ops_end_txn(Session *s)
{
	while (s->scans)
		free_scan(s, s->scans);
	if (s->txn)
	{
		if (s->prepared)
			ts_worker_orphan(s->txn, s->gid);
		else
			ts_txn_abort(s->txn);
	}
	s->txn = NULL;
	s->prepared = false;
	s->gid[0] = '\0';
	s->nmarks = 0;
}

/*
 * Buffers kept between requests: past this they are freed once sent, so a
 * session holds its largest answer only while sending it.
 */
#define KEEP_BUFFER_BYTES (256 * 1024)

static void
shrink_buffer(StringInfo b)
{
	if (b->data && b->maxlen > KEEP_BUFFER_BYTES)
	{
		pfree(b->data);
		memset(b, 0, sizeof(*b));
	}
}

void
ts_ops_shrink_buffers(Session *s)
{
	if (s->nout > 0)
		return;					/* a payload still waits in them */
	shrink_buffer(&s->out_rows);
	shrink_buffer(&s->out_spill);
	for (WScan *sc = s->scans; sc; sc = sc->next)
		if (!sc->has_ahead)
			shrink_buffer(&sc->ahead);
}

/* A write made the transaction's write set larger than the limit: 54000. */
static bool
write_set_too_big(Session *s, Treestore__Response *resp)
{
	size_t		limit = (size_t) ts_max_transaction_mb * 1024 * 1024;

	if (s->txn == NULL || ts_txn_write_bytes(s->txn) <= limit || resp->error)
		return false;
	ts_ops_set_error(resp, "54000",
					 psprintf("Its write set holds %zu kB in the treestore worker.",
							  ts_txn_write_bytes(s->txn) >> 10),
					 "Split the work into smaller transactions, or raise treestore.max_transaction_size.",
					 "treestore transaction exceeds treestore.max_transaction_size (%d MB)",
					 ts_max_transaction_mb);
	return true;
}

/* A request failed with an unexpected ERROR: its cursors go (reopened lazily). */
void
ts_ops_request_failed(Session *s)
{
	close_cursors(s);
}

/* Bring the session's transaction in line with the request's. */
static int
sync_txn(Session *s, Treestore__Request *req, Treestore__Response *resp)
{
	int			rc;

	if (s->txn_lost)
	{
		if (req->lxid == s->lost_lxid)
		{
			ts_ops_set_error(resp, "08006", "The treestore worker ended this transaction after an internal error; its treestore writes are gone.",
							 "Roll back and retry the transaction.",
							 "lost the treestore transaction");
			return -1;
		}
		s->txn_lost = false;
	}

	if (s->txn && s->lxid != req->lxid)
	{
		/* the backend's previous transaction ended without telling us */
		if (s->prepared)
		{
			ts_worker_orphan(s->txn, s->gid);
			s->txn = NULL;
			s->prepared = false;
		}
		ts_ops_end_txn(s);
	}
	if (s->txn == NULL)
	{
		if ((rc = ts_txn_begin(ts_worker_env, 0, &s->txn)) != 0)
		{
			s->txn = NULL;
			ts_ops_engine_error(resp, rc, "begin a transaction");
			return rc;
		}
		s->lxid = req->lxid;
		s->ended_at = 0;
		s->stmt = req->stmt;
		s->nmarks = 0;
	}
	else if (!s->prepared && !req->repeatable && req->stmt != s->stmt)
	{
		close_cursors(s);
		if ((rc = ts_txn_renew(s->txn)) != 0)
		{
			ts_ops_engine_error(resp, rc, "take a snapshot");
			return rc;
		}
		s->stmt = req->stmt;
	}
	/* the backend read the engine itself first: conflicts from there on */
	if (req->read_base != 0 && !s->prepared && (rc = ts_txn_rebase(s->txn, req->read_base)) != 0)
	{
		ts_ops_engine_error(resp, rc, "begin a transaction");
		return rc;
	}
	/* subtransactions rolled back since the last request */
	for (size_t i = 0; i < req->n_rollback_subxids; i++)
	{
		uint32		sub = req->rollback_subxids[i];
		int			k = s->nmarks;

		while (k > 0 && s->marks[k - 1].subxid >= sub)
			k--;
		if (k == s->nmarks)
			continue;			/* it wrote nothing */
		if (s->prepared)
			continue;
		close_cursors(s);
		/* undo, then drop the mark: PostgreSQL goes on in a new subtransaction */
		if ((rc = ts_txn_rollback_to(s->txn, s->marks[k].mark)) != 0 ||
			(rc = ts_txn_release(s->txn, s->marks[k].mark)) != 0)
		{
			ts_ops_engine_error(resp, rc, "roll back to a savepoint");
			return rc;
		}
		s->nmarks = k;
	}
	return 0;
}

/* Before the first write of a subtransaction: take its mark. */
static int
mark_subxact(Session *s, uint32 subxid, Treestore__Response *resp)
{
	uint64		mark;
	int			rc;

	if (subxid <= 1 || (s->nmarks > 0 && s->marks[s->nmarks - 1].subxid >= subxid))
		return 0;
	if ((rc = ts_txn_savepoint(s->txn, &mark)) != 0)
	{
		ts_ops_engine_error(resp, rc, "take a savepoint");
		return rc;
	}
	if (s->nmarks == s->maxmarks)
	{
		int			n = s->maxmarks ? s->maxmarks * 2 : 8;

		s->marks = s->marks ? repalloc(s->marks, n * sizeof(WMark))
			: MemoryContextAlloc(s->cxt, n * sizeof(WMark));
		s->maxmarks = n;
	}
	s->marks[s->nmarks].subxid = subxid;
	s->marks[s->nmarks].mark = mark;
	s->nmarks++;
	return 0;
}

static int
store_index(const char *name, Treestore__Response *resp)
{
	for (int i = 0; i < ts_nstores; i++)
		if (strcmp(ts_stores[i].name, name) == 0)
			return i;
	ts_ops_set_error(resp, "42P01", NULL, NULL, "treestore has no table \"%s\"", name);
	return -1;
}

/* ---------- scans ---------- */

/* Position sc's cursor at its next entry; false when the scan is done. */
static bool
scan_advance(Session *s, WScan *sc, int *rc)
{
	*rc = 0;
	for (;;)
	{
		int			r;

		if (sc->range >= Max(sc->nranges, 1))
			return false;
		if (sc->cur == NULL)
		{
			if ((r = ts_cursor_open(s->txn, ts_worker_trees[sc->store], &sc->cur)) != 0)
			{
				*rc = r;
				return false;
			}
			sc->in_range = false;
		}
		if (!sc->in_range)
		{
			if (sc->nranges > 0)
			{
				ProtobufCBinaryData *lo = &sc->lo[sc->range],
						   *hi = &sc->hi[sc->range];

				r = ts_cursor_bounds(sc->cur, lo->len ? lo->data : NULL, lo->len,
									 hi->len ? hi->data : NULL, hi->len);
				if (r != 0)
				{
					*rc = r;
					return false;
				}
			}
			if (sc->last_len > 0)
			{
				ts_slice	k,
							v;

				/* reopened: continue after the last key returned */
				r = ts_cursor_seek(sc->cur, sc->last_key, sc->last_len);
				if (r == 0 && ts_cursor_get(sc->cur, &k, &v) == 0 &&
					k.len == sc->last_len && memcmp(k.data, sc->last_key, k.len) == 0)
					r = ts_cursor_next(sc->cur);
			}
			else
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
		/* this range is done */
		sc->range++;
		sc->in_range = false;
		sc->last_len = 0;
	}
}

/* Append up to max_rows / max_bytes rows of sc to out. */
static int
fill_rows(Session *s, WScan *sc, StringInfo out, uint32 *nrows, bool *done)
{
	int			rc = 0;

	*nrows = 0;
	*done = false;
	while (*nrows < sc->max_rows && (size_t) out->len < sc->max_bytes)
	{
		ts_slice	k,
					v;

		if (sc->limit > 0 && sc->returned >= sc->limit)
		{
			*done = true;
			break;
		}
		if (!scan_advance(s, sc, &rc))
		{
			*done = (rc == 0);
			break;
		}
		if ((rc = ts_cursor_get(sc->cur, &k, &v)) != 0)
			break;
		ts_batch_add(out, k.data, k.len, v.data, v.len);
		memcpy(sc->last_key, k.data, k.len);
		sc->last_len = k.len;
		(*nrows)++;
		sc->returned++;
	}
	return rc;
}

static void
fill_batch(Session *s, WScan *sc, Treestore__Response *resp)
{
	Treestore__ScanBatch *b = palloc(sizeof(Treestore__ScanBatch));
	uint32		nrows;
	bool		done;
	int			rc;

	treestore__scan_batch__init(b);
	b->scan_id = sc->id;
	if (s->out_rows.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(s->cxt);

		initStringInfo(&s->out_rows);
		MemoryContextSwitchTo(old);
	}
	if (sc->has_ahead)
	{
		/* read ahead while the backend was busy with the last batch: swap */
		StringInfoData tmp = s->out_rows;

		s->out_rows = sc->ahead;
		sc->ahead = tmp;
		sc->has_ahead = false;
		nrows = sc->ahead_rows;
		done = sc->ahead_done;
		rc = 0;
	}
	else
	{
		resetStringInfo(&s->out_rows);
		rc = fill_rows(s, sc, &s->out_rows, &nrows, &done);
	}
	if (rc != 0)
	{
		ts_ops_engine_error(resp, rc, "read");
		free_scan(s, sc);
		return;
	}
	b->nrows = nrows;
	b->done = done;
	s->payload = s->out_rows.data;
	s->payload_len = s->out_rows.len;
	if (done)
		free_scan(s, sc);
	else
		s->read_ahead = sc;
	resp->body_case = TREESTORE__RESPONSE__BODY_BATCH;
	resp->batch = b;
}

/*
 * After responding with a batch: fill the next one now, while the backend
 * decodes (the two processes overlap instead of taking turns).
 */
void
ts_ops_read_ahead(Session *s)
{
	WScan	   *sc = s->read_ahead;
	MemoryContext old;
	int			rc;

	s->read_ahead = NULL;
	if (sc == NULL || sc->has_ahead || s->txn == NULL)
		return;
	sc->saved_range = sc->range;
	sc->saved_len = sc->last_len;
	memcpy(sc->saved_key, sc->last_key, sc->last_len);
	sc->saved_returned = sc->returned;
	if (sc->ahead.data == NULL)
	{
		old = MemoryContextSwitchTo(s->cxt);
		initStringInfo(&sc->ahead);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&sc->ahead);
	sc->has_ahead = true;
	ts_worker_fault_point("worker-read-ahead");
	rc = fill_rows(s, sc, &sc->ahead, &sc->ahead_rows, &sc->ahead_done);
	if (rc != 0)
		discard_ahead(sc);		/* the Fetch will meet the error itself */
}

static void
op_scan(Session *s, Treestore__Scan *req, Treestore__Response *resp)
{
	int			st = store_index(req->table, resp);
	WScan	   *sc;

	if (st < 0)
		return;
	sc = MemoryContextAllocZero(s->cxt, sizeof(WScan));
	sc->id = ++s->next_scan_id;
	sc->store = st;
	sc->limit = req->limit;
	sc->nranges = (int) req->n_ranges;
	if (sc->nranges > 0)
	{
		sc->lo = MemoryContextAlloc(s->cxt, sizeof(ProtobufCBinaryData) * sc->nranges);
		sc->hi = MemoryContextAlloc(s->cxt, sizeof(ProtobufCBinaryData) * sc->nranges);
		for (int i = 0; i < sc->nranges; i++)
		{
			ProtobufCBinaryData *src[2] = {&req->ranges[i]->lo, &req->ranges[i]->hi};
			ProtobufCBinaryData *dst[2] = {&sc->lo[i], &sc->hi[i]};

			for (int j = 0; j < 2; j++)
			{
				dst[j]->len = src[j]->len;
				dst[j]->data = MemoryContextAlloc(s->cxt, Max(src[j]->len, 1));
				if (src[j]->len)
					memcpy(dst[j]->data, src[j]->data, src[j]->len);
			}
		}
	}
	sc->max_rows = req->batch_rows ? req->batch_rows : TS_BATCH_ROWS;
	sc->max_bytes = req->batch_bytes ? req->batch_bytes : TS_BATCH_BYTES;
	sc->next = s->scans;
	s->scans = sc;
	fill_batch(s, sc, resp);
}

static WScan *
find_scan(Session *s, uint64 id)
{
	for (WScan *sc = s->scans; sc; sc = sc->next)
		if (sc->id == id)
			return sc;
	return NULL;
}

/* ---------- modifications ---------- */

/* An id given explicitly (insert or update) moves the next assigned one past it. */
static void
note_explicit_id(const ts_store *store, int st, const uint8 *key, size_t klen)
{
	ts_colval	kv[1];
	uint8		scratch[16];

	if (store->assigned_id &&
		ts_store_key_decode(store, key, klen, kv, scratch, sizeof(scratch)) == 0 &&
		kv[0].i >= ts_worker_next_id[st])
		ts_worker_next_id[st] = kv[0].i == PG_INT64_MAX ? PG_INT64_MAX : kv[0].i + 1;
}

/* The row at key, copied (the engine's bytes change under later writes). */
static bool
get_copy(Session *s, ts_tree tree, const uint8 *key, size_t klen, uint8 **val, size_t *vlen,
		 int *rc)
{
	ts_slice	v;

	*rc = ts_get(s->txn, tree, key, klen, &v);
	if (*rc == TS_NOTFOUND)
	{
		*rc = 0;
		return false;
	}
	if (*rc != 0)
		return false;
	*val = palloc(Max(v.len, 1));
	memcpy(*val, v.data, v.len);
	*vlen = v.len;
	return true;
}

static ts_docindex_batch *index_batch = NULL;

static void
op_modify(Session *s, Treestore__Request *req, Treestore__Response *resp)
{
	Treestore__Modify *m = req->modify;
	int			st = store_index(m->table, resp);
	const ts_store *store;
	ts_tree		tree;
	Treestore__ModifyResult *res;
	StringInfoData old_rows;
	bool		indexed;
	int			rc;

	if (st < 0)
		return;
	if (s->prepared)
	{
		ts_ops_set_error(resp, "25000", NULL, NULL,
						 "treestore transaction is already prepared");
		return;
	}
	if (mark_subxact(s, req->subxid, resp) != 0)
		return;
	store = &ts_stores[st];
	tree = ts_worker_trees[st];
	indexed = ts_docindex_indexed(&ts_worker_docindex, st);
	if (indexed && index_batch == NULL &&
		(index_batch = ts_docindex_batch_new()) == NULL)
	{
		ts_ops_engine_error(resp, TS_NOMEM, "write");
		return;
	}
	if (index_batch)
		ts_docindex_discard(index_batch);	/* left by a failed request */
	res = palloc(sizeof(Treestore__ModifyResult));
	treestore__modify_result__init(res);
	res->assigned_ids = palloc(sizeof(int64_t) * Max(m->n_ops, 1));
	res->skipped = palloc0(sizeof(protobuf_c_boolean) * Max(m->n_ops, 1));
	res->n_skipped = m->n_ops;
	initStringInfo(&old_rows);

	for (size_t i = 0; i < m->n_ops; i++)
	{
		Treestore__RowOp *op = m->ops[i];
		uint8		keybuf[TS_MAX_KEY];
		const uint8 *key = op->key.data;
		size_t		klen = op->key.len;
		const uint8 *okey = NULL;	/* the row replaced or removed, for the indexes */
		size_t		oklen = 0;
		uint8	   *orec = NULL;
		size_t		orlen = 0;
		bool		written = true; /* the new row (key, record) exists now */

		rc = 0;

		switch (op->kind)
		{
			case TREESTORE__ROW_OP__KIND__INSERT:
				if (klen == 0)
				{
					ts_colval	kv[1];

					if (!store->assigned_id)
					{
						ts_ops_set_error(resp, "23502", NULL, NULL,
										 "null value in a key column of \"%s\"", store->name);
						return;
					}
					memset(kv, 0, sizeof(kv));
					if (ts_worker_next_id[st] == PG_INT64_MAX)
					{
						ts_ops_set_error(resp, "2200H", NULL, NULL,
										 "treestore ran out of ids for \"%s\"", store->name);
						return;
					}
					kv[0].i = ts_worker_next_id[st]++;
					(void) ts_store_key(store, kv, 1, keybuf, &klen);
					key = keybuf;
					res->assigned_ids[res->n_assigned_ids++] = kv[0].i;
				}
				else
					note_explicit_id(store, st, key, klen);
				rc = ts_put(s->txn, tree, key, klen, op->record.data, op->record.len,
							TS_NOOVERWRITE);
				if (rc == TS_EXISTS && op->skip_existing)
				{
					res->skipped[i] = true;
					continue;
				}
				if (rc == TS_EXISTS)
				{
					ts_ops_set_error(resp, "23505", describe_key(store, key, klen), NULL,
									 "duplicate key value violates unique constraint \"%s_pkey\"",
									 store->name);
					return;
				}
				break;
			case TREESTORE__ROW_OP__KIND__UPDATE:
				if (op->old_key.len > 0)
				{
					note_explicit_id(store, st, key, klen);
					if (indexed &&
						get_copy(s, tree, op->old_key.data, op->old_key.len, &orec, &orlen, &rc))
					{
						okey = op->old_key.data;
						oklen = op->old_key.len;
					}
					if (rc != 0)
						break;
					rc = ts_del(s->txn, tree, op->old_key.data, op->old_key.len);
					if (rc != 0 && rc != TS_NOTFOUND)
						break;
					rc = ts_put(s->txn, tree, key, klen, op->record.data, op->record.len,
								TS_NOOVERWRITE);
					if (rc == TS_EXISTS)
					{
						ts_ops_set_error(resp, "23505", describe_key(store, key, klen), NULL,
										 "duplicate key value violates unique constraint \"%s_pkey\"",
										 store->name);
						return;
					}
				}
				else
				{
					if (indexed && get_copy(s, tree, key, klen, &orec, &orlen, &rc))
					{
						okey = key;
						oklen = klen;
					}
					if (rc != 0)
						break;
					rc = ts_put(s->txn, tree, key, klen, op->record.data, op->record.len, 0);
				}
				break;
			case TREESTORE__ROW_OP__KIND__DELETE:
				written = false;
				if (op->want_old || indexed)
				{
					if (!get_copy(s, tree, key, klen, &orec, &orlen, &rc))
					{
						if (rc != 0)
							break;
						continue;	/* no such row */
					}
					okey = key;
					oklen = klen;
					if (op->want_old)
					{
						ts_batch_add(&old_rows, key, klen, orec, orlen);
						res->nold++;
					}
				}
				rc = ts_del(s->txn, tree, key, klen);
				if (rc == TS_NOTFOUND)
				{
					rc = 0;
					continue;
				}
				break;
			default:
				ts_ops_set_error(resp, "XX000", NULL, NULL, "unknown row operation %d", op->kind);
				return;
		}
		if (rc == 0 && indexed)
			rc = ts_docindex_changed(s->txn, &ts_worker_docindex, index_batch, st,
									 okey, oklen, orec, orlen,
									 written ? key : NULL, klen,
									 op->record.data, op->record.len,
									 op->terms.data, op->terms.len);
		if (orec)
			pfree(orec);
		if (rc != 0)
		{
			ts_ops_engine_error(resp, rc, "write");
			return;
		}
		res->affected++;
	}
	if (indexed && (rc = ts_docindex_flush(s->txn, &ts_worker_docindex, index_batch)) != 0)
	{
		ts_ops_engine_error(resp, rc, "write");
		return;
	}
	res->old_rows.data = (uint8_t *) old_rows.data;
	res->old_rows.len = old_rows.len;
	resp->body_case = TREESTORE__RESPONSE__BODY_MODIFIED;
	resp->modified = res;
}

static void
op_truncate(Session *s, Treestore__Request *req, Treestore__Response *resp)
{
	int			st = store_index(req->truncate->table, resp);
	ts_cursor  *c;
	ts_slice	k,
				v;
	int			rc;
	uint64		n = 0;
	Treestore__ModifyResult *res;

	if (st < 0)
		return;
	if (mark_subxact(s, req->subxid, resp) != 0)
		return;
	if ((rc = ts_cursor_open(s->txn, ts_worker_trees[st], &c)) != 0)
	{
		ts_ops_engine_error(resp, rc, "truncate");
		return;
	}
	/* the cursor sees our deletes: its next move goes past the deleted key */
	for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
	{
		uint8		key[TS_MAX_KEY];
		size_t		klen;

		if ((rc = ts_cursor_get(c, &k, &v)) != 0)
			break;
		klen = k.len;
		memcpy(key, k.data, klen);
		if ((rc = ts_del(s->txn, ts_worker_trees[st], key, klen)) != 0)
			break;
		n++;
	}
	ts_cursor_close(c);
	if (rc == TS_NOTFOUND)
		rc = 0;
	if (rc == 0 && ts_docindex_indexed(&ts_worker_docindex, st))
		rc = ts_docindex_truncate(s->txn, &ts_worker_docindex, st);
	if (rc != 0)
	{
		ts_ops_engine_error(resp, rc, "truncate");
		return;
	}
	res = palloc(sizeof(*res));
	treestore__modify_result__init(res);
	res->affected = n;
	resp->body_case = TREESTORE__RESPONSE__BODY_MODIFIED;
	resp->modified = res;
}

/* ---------- two-phase commit ---------- */

/*
 * A job for the pool (worker_pool.c): the session is busy until it is
 * answered (ts_ops_job_done).  NULL if there is no memory for one: the
 * caller then does the work itself.
 */
static TsJob *
new_job(Session *s, TsJobKind kind, uint64 req_id)
{
	TsJob	   *j = calloc(1, sizeof(TsJob));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	j->env = ts_worker_env;
	j->s = s;
	j->req_id = req_id;
	return j;
}

static void
submit_job(Session *s, TsJob *j)
{
	s->busy = true;
	s->deferred = true;
	ts_pool_submit(j);
}

/*
 * A job is done (the main thread, from worker.c): bring the session up to
 * date and fill its answer.
 */
void
ts_ops_job_done(TsJob *j, Treestore__Response *resp)
{
	Session    *s = j->s;

	s->busy = false;
	switch (j->kind)
	{
		case TS_JOB_PREPARE:
			if (j->rc == 0)
			{
				s->prepared = true;
				strlcpy(s->gid, j->gid, sizeof(s->gid));
			}
			else
				engine_error(resp, j->rc, "prepare the transaction", j->err);
			break;
		case TS_JOB_CHECKPOINT:
			if (j->rc != 0)
				engine_error(resp, j->rc, "checkpoint", j->err);
			break;
	}
}

static void
op_prepare(Session *s, Treestore__Prepare *p, uint64 req_id, Treestore__Response *resp)
{
	TsJob	   *j;
	int			rc;

	if (s->prepared)
	{
		ts_ops_set_error(resp, "25000", NULL, NULL, "treestore transaction is already prepared");
		return;
	}
	while (s->scans)
		free_scan(s, s->scans);
	/*
	 * With other sessions busy, on a thread: the main loop serves them
	 * meanwhile, and their prepares share the fdatasync.  A session alone
	 * (nobody else sent a request in the last 10 ms, no job in flight)
	 * prepares here: nobody waits for the main loop, and a thread's
	 * hand-off and answer cost more than the sync itself on a busy VM.
	 */
	if (!ts_worker_alone(s) && strlen(p->gid) < sizeof(j->gid) &&
		(j = new_job(s, TS_JOB_PREPARE, req_id)) != NULL)
	{
		/* durable on a thread, sharing its fdatasync with other sessions' */
		j->txn = s->txn;
		strlcpy(j->gid, p->gid, sizeof(j->gid));
		submit_job(s, j);
		return;
	}
	if ((rc = ts_txn_prepare(s->txn, p->gid)) != 0)
	{
		ts_ops_engine_error(resp, rc, "prepare the transaction");
		return;
	}
	s->prepared = true;
	strlcpy(s->gid, p->gid, sizeof(s->gid));
}

static void
op_resolve(Session *s, Treestore__Resolve *r, Treestore__Response *resp)
{
	int			rc;

	if (s->txn && s->prepared && strcmp(s->gid, r->gid) == 0)
	{
		ts_txn	   *txn = s->txn;

		s->txn = NULL;
		s->prepared = false;
		s->gid[0] = '\0';
		s->nmarks = 0;

		/*
		 * Commit without waiting for the log: the prepare is durable, and
		 * if a crash loses this record the transaction comes back in doubt
		 * and is settled by the commit log (xact.c, ATOMICITY).  Here, on
		 * the main loop: no sync, and in the worker the engine's commit
		 * queue holds only such commits (the syncing ones -- at start, by
		 * hand -- are the main loop's own), so it waits for no disk.  A
		 * thread's hand-off cost more than applying the writes (measured on
		 * the development VM: 100-300 us against 10-60 us).
		 */
		if (r->commit)
			rc = ts_txn_commit_nosync(txn);
		else
		{
			ts_txn_abort(txn);
			rc = 0;
		}
	}
	else
		rc = ts_env_resolve(ts_worker_env, r->gid, r->commit);	/* in doubt since a restart */
	if (rc != 0)
		ts_ops_engine_error(resp, rc, r->commit ? "commit" : "abort");
}

/*
 * In-doubt transactions by hand (treestore.prepared_transactions(),
 * treestore.resolve_prepared()): no gid lists them, a gid settles that one.
 */
static void
op_in_doubt(Treestore__InDoubt *d, Treestore__Response *resp)
{
	int			rc;

	if (d->gid == NULL || d->gid[0] == '\0')
	{
		Treestore__InDoubtResult *r = palloc(sizeof(*r));

		treestore__in_doubt_result__init(r);
		ts_worker_list_in_doubt(r);
		resp->body_case = TREESTORE__RESPONSE__BODY_IN_DOUBT;
		resp->in_doubt = r;
		return;
	}
	rc = ts_worker_resolve_in_doubt(d->gid, d->commit);
	if (rc == TS_NOTFOUND)
		ts_ops_set_error(resp, "42704",
						 "Only a prepared treestore transaction that no session will resolve can be "
						 "resolved by hand; treestore.prepared_transactions() lists them.",
						 NULL, "treestore transaction \"%s\" is not in doubt", d->gid);
	else if (rc != 0)
		ts_ops_engine_error(resp, rc, d->commit ? "commit" : "abort");
}

/* ---------- status ---------- */

static void
op_table_stats(Session *s, Treestore__TableStats *t, Treestore__Response *resp)
{
	int			st = store_index(t->table, resp);
	Treestore__TableStatsResult *r;
	ts_treestat ts;
	int			rc;

	if (st < 0)
		return;
	if ((rc = ts_tree_stat(s->txn, ts_worker_trees[st], &ts)) != 0)
	{
		ts_ops_engine_error(resp, rc, "read table statistics");
		return;
	}
	r = palloc(sizeof(*r));
	treestore__table_stats_result__init(r);
	r->entries = ts.entries;
	r->depth = ts.depth;
	resp->body_case = TREESTORE__RESPONSE__BODY_TABLE_STATS;
	resp->table_stats = r;
}

/* The process's resident set, from /proc (0 where there is none). */
static uint64
resident_bytes(void)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	unsigned long size,
				resident = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64) resident * (uint64) sysconf(_SC_PAGESIZE);
}

static void
op_status(Treestore__Response *resp)
{
	Treestore__StatusResult *r = palloc(sizeof(*r));
	ts_stat		st;
	ts_txn	   *txn;

	treestore__status_result__init(r);
	ts_env_stat(ts_worker_env, &st);
	r->state = pstrdup(st.poisoned ? "poisoned" : "ok");
	r->worker_pid = MyProcPid;
	r->uptime_seconds = (double) (GetCurrentTimestamp() - ts_shared->started_at) / USECS_PER_SEC;
	r->commits = st.commits;
	r->conflicts = st.conflicts;
	r->prepared = st.prepared;
	r->page_count = st.page_count;
	r->free_pages = st.free_pages;
	r->dirty_pages = st.dirty_pages;
	r->cache_hits = st.cache_hits;
	r->cache_misses = st.cache_misses;
	r->wal_bytes = st.wal_bytes;
	r->checkpoints = st.checkpoints;
	r->sessions = ts_worker_nsessions();
	r->requests = ts_worker_requests;
	r->wal_segments = st.wal_segments;
	r->last_checkpoint_age_seconds = (double) st.checkpoint_age_ms / 1000.0;
	r->data_directory = ts_worker_data_path();
	r->active_transactions = st.active_txns;
	r->wal_flushes = st.wal_flushes;
	r->cache_pages = st.cache_pages;
	r->data_bytes = st.file_bytes;
	r->memory_bytes = MemoryContextMemAllocated(TopMemoryContext, true);
	r->write_set_bytes = ts_worker_write_set_bytes();
	r->channel_bytes = ts_worker_channel_bytes();
	r->rss_bytes = resident_bytes();
	r->max_transaction_size = (uint64) ts_max_transaction_mb * 1024 * 1024;
	r->backend_readers = st.readers;
	r->oldest_snapshot_lag = st.txnid > st.oldest_reader ? st.txnid - st.oldest_reader : 0;

	/* rows per table: the trees keep their entry counts */
	if (ts_txn_begin(ts_worker_env, TS_RDONLY, &txn) == 0)
	{
		r->tables = palloc(sizeof(Treestore__TableRows *) * ts_nstores);
		for (int i = 0; i < ts_nstores; i++)
		{
			Treestore__TableRows *t;
			ts_treestat ts;

			if (ts_tree_stat(txn, ts_worker_trees[i], &ts) != 0)
				continue;
			t = palloc(sizeof(*t));
			treestore__table_rows__init(t);
			t->table = (char *) ts_stores[i].name;
			t->rows = ts.entries;
			r->tables[r->n_tables++] = t;
		}
		ts_txn_abort(txn);
	}
	resp->body_case = TREESTORE__RESPONSE__BODY_STATUS;
	resp->status = r;
}

/* ---------- document queries ---------- */

/* A query's rows (docquery.h) and where they go. */
typedef struct QueryOut
{
	TsQueryRows qr;				/* first: the collector's callbacks get it */
	Session    *s;
	uint64		id;				/* the request's */
	bool		stream;			/* send parts while reading (Query.stream) */
	uint32		parts;			/* parts sent */
} QueryOut;

/*
 * Send the rows so far as a part (Response.more).  If it does not go out
 * at once it waits in the session with its buffer, and the query keeps the
 * rest in out_spill for its final response.
 */
static void
query_send_part(QueryOut *q)
{
	Treestore__Response resp = TREESTORE__RESPONSE__INIT;
	Treestore__QueryResult res = TREESTORE__QUERY_RESULT__INIT;

	res.nrows = q->qr.nrows;
	res.scores = q->qr.scores;
	res.n_scores = q->qr.nscores;
	resp.id = q->id;
	resp.more = true;
	resp.body_case = TREESTORE__RESPONSE__BODY_QUERY;
	resp.query = &res;
	q->parts++;
	q->qr.nrows = 0;
	q->qr.nscores = 0;
	if (ts_worker_respond(q->s, &resp, q->qr.rows->data, q->qr.rows->len))
	{
		resetStringInfo(q->qr.rows);
		return;
	}
	if (q->s->out_spill.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(q->s->cxt);

		initStringInfo(&q->s->out_spill);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&q->s->out_spill);
	q->qr.rows = &q->s->out_spill;
	q->stream = false;
}

/* After each row (ts_docquery_collect catches what this raises). */
static void
query_row_added(TsQueryRows *qr)
{
	QueryOut   *q = (QueryOut *) qr;

	ts_worker_fault_point("worker-query-row");
	if (q->stream && qr->rows->len >= TS_QUERY_PART_BYTES)
		query_send_part(q);
}

static void
op_query(Session *s, Treestore__Query *q, Treestore__Response *resp)
{
	const ts_docindex *ix = &ts_worker_docindex;
	Treestore__QueryResult *res = palloc(sizeof(Treestore__QueryResult));
	QueryOut	out = {0};
	int			rc;

	treestore__query_result__init(res);
	if (s->out_rows.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(s->cxt);

		initStringInfo(&s->out_rows);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&s->out_rows);
	out.qr.rows = &s->out_rows;
	out.qr.row_added = query_row_added;
	out.s = s;
	out.id = resp->id;
	out.stream = q->stream;

	rc = ts_docquery_run(s->txn, ix, ts_worker_trees, q, res, ts_docquery_collect, &out.qr);
	if (rc == TS_INVALID)
	{
		ts_ops_set_error(resp, "XX000", NULL, NULL, "unknown treestore query %d", (int) q->kind);
		return;
	}
	if (rc == TS_DOCINDEX_IRREGULAR && out.parts > 0)
		rc = TS_CORRUPT;		/* cannot be: every query checks before it emits */
	if (rc == TS_DOCINDEX_IRREGULAR)
	{
		res->fallback = true;
		resetStringInfo(&s->out_rows);
		out.qr.nrows = 0;
		out.qr.nscores = 0;
		rc = 0;
	}
	if (rc == TS_QUERY_FAILED && out.qr.error)
	{
		ts_ops_set_error(resp, unpack_sql_state(out.qr.error->sqlerrcode), NULL, NULL,
						 "treestore worker: %s", out.qr.error->message);
		return;
	}
	if (rc == TS_QUERY_TOO_BIG)
	{
		ts_ops_set_error(resp, "54000", NULL, NULL,
						 "result of the treestore query exceeds %zu MB",
						 (size_t) (TS_QUERY_MAX_PAYLOAD >> 20));
		return;
	}
	if (rc != 0)
	{
		ts_ops_engine_error(resp, rc, "query");
		return;
	}
	res->nrows = out.qr.nrows;
	if (q->kind == TREESTORE__QUERY__KIND__SEARCH)
	{
		res->scores = out.qr.scores;
		res->n_scores = out.qr.nscores;
	}
	s->payload = out.qr.rows->data;
	s->payload_len = out.qr.rows->len;
	resp->body_case = TREESTORE__RESPONSE__BODY_QUERY;
	resp->query = res;
}

/* ---------- dispatch ---------- */

void
ts_ops_execute(Session *s, Treestore__Request *req, Treestore__Response *resp)
{
	int			rc;

	switch (req->op_case)
	{
		case TREESTORE__REQUEST__OP_END_TXN:
			if (s->txn && s->lxid == req->end_txn->lxid)
				ts_ops_end_txn(s);
			return;
		case TREESTORE__REQUEST__OP_CLOSE_SCAN:
			{
				WScan	   *sc = find_scan(s, req->close_scan->scan_id);

				if (sc)
					free_scan(s, sc);
				return;
			}
		case TREESTORE__REQUEST__OP_RESOLVE:
			op_resolve(s, req->resolve, resp);
			return;
		case TREESTORE__REQUEST__OP_STATUS:
			op_status(resp);
			return;
		case TREESTORE__REQUEST__OP_CHECKPOINT:
			{
				TsJob	   *j = new_job(s, TS_JOB_CHECKPOINT, req->id);

				if (j != NULL)
					submit_job(s, j);	/* its syncs on a thread */
				else if ((rc = ts_env_checkpoint(ts_worker_env)) != 0)
					ts_ops_engine_error(resp, rc, "checkpoint");
				return;
			}
		case TREESTORE__REQUEST__OP_IN_DOUBT:
			op_in_doubt(req->in_doubt, resp);
			return;
		default:
			break;
	}

	/* the rest runs in the session's transaction */
	if (sync_txn(s, req, resp) != 0)
		return;
	ts_worker_fault_point("worker-request");
	switch (req->op_case)
	{
		case TREESTORE__REQUEST__OP_SCAN:
			op_scan(s, req->scan, resp);
			break;
		case TREESTORE__REQUEST__OP_FETCH:
			{
				WScan	   *sc = find_scan(s, req->fetch->scan_id);

				if (sc == NULL)
					ts_ops_set_error(resp, "XX000", NULL, NULL,
									 "treestore scan %llu is not open",
									 (unsigned long long) req->fetch->scan_id);
				else
					fill_batch(s, sc, resp);
				break;
			}
		case TREESTORE__REQUEST__OP_MODIFY:
			close_cursors(s);	/* read-ahead must not miss our writes */
			op_modify(s, req, resp);
			(void) write_set_too_big(s, resp);
			break;
		case TREESTORE__REQUEST__OP_TRUNCATE:
			close_cursors(s);
			op_truncate(s, req, resp);
			(void) write_set_too_big(s, resp);
			break;
		case TREESTORE__REQUEST__OP_PREPARE:
			close_cursors(s);
			op_prepare(s, req->prepare, req->id, resp);
			break;
		case TREESTORE__REQUEST__OP_TABLE_STATS:
			op_table_stats(s, req->table_stats, resp);
			break;
		case TREESTORE__REQUEST__OP_QUERY:
			op_query(s, req->query, resp);
			break;
		default:
			ts_ops_set_error(resp, "XX000", NULL, NULL, "unknown treestore request %d",
							 (int) req->op_case);
	}
}
