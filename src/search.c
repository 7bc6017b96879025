/*-------------------------------------------------------------------------
 *
 * search.c
 *	  Full-text search over nodes (CONTRACT.md section 4, search): the
 *	  backend's half.
 *
 *	  Tokenising is PostgreSQL's: every node written (store_document or the
 *	  foreign table nodes, INSERT and UPDATE alike) carries its terms to the
 *	  worker -- the lexemes of to_tsvector('pg_catalog.english', title) and
 *	  of to_tsvector('pg_catalog.english', summary || ' ' || text), with how
 *	  often each occurs in each -- and the engine keeps them in its inverted
 *	  index (engine/docindex.c) in the same transaction as the row.  So
 *	  stemming and stop words are exactly PostgreSQL's english
 *	  configuration's, and the worker (which has no database) never needs
 *	  a catalog.
 *
 *	  search(query, policy_id, version_id, as_of, top_k):
 *	    - the query's terms are the lexemes of to_tsvector('english',
 *	      query); a node matches if it holds ANY of them; ranked by BM25
 *	      (k1 = 1.2, b = 0.75; a term in the title counts 3 times) in the
 *	      worker, which keeps only the top_k best (no sort of all matches);
 *	    - with policy_id: the version the temporal rule picks (version_id,
 *	      else in force at as_of, else today's or the latest); without: the
 *	      version so picked of every policy (version_id without policy_id:
 *	      that version of each policy that has one);
 *	    - snippet: ts_headline('english', ...) of the node's text (else its
 *	      summary, else its title; the first SNIPPET_SOURCE_BYTES bytes),
 *	      matches marked **like this**;
 *	    - a NULL or stop-words-only query: no rows; top_k NULL: 10; top_k
 *	      below 1: 22023.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "catalog/namespace.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "tsearch/ts_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "channel.h"
#include "documents.h"
#include "rows.h"
#include "local.h"
#include "search.h"
#include "tables.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(treestore_search);

#define SNIPPET_SOURCE_BYTES 8192
#define SNIPPET_OPTIONS "StartSel=**, StopSel=**, MaxWords=30, MinWords=12, MaxFragments=1"

static Oid
english_config(void)
{
	static Oid	cfg = InvalidOid;

	if (!OidIsValid(cfg))
		cfg = get_ts_config_oid(list_make2(makeString("pg_catalog"), makeString("english")),
								false);
	return cfg;
}

static TSVector
tokenize(const char *data, size_t len)
{
	text	   *t = cstring_to_text_with_len(data, (int) len);

	return DatumGetTSVector(DirectFunctionCall2(to_tsvector_byid,
												ObjectIdGetDatum(english_config()),
												PointerGetDatum(t)));
}

static int
lexeme_cmp(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* occurrences of a lexeme: its positions (a stripped entry counts once) */
static uint32
occurrences(TSVector v, WordEntry *we)
{
	return we->haspos ? Max(POSDATALEN(v, we), 1) : 1;
}

void
ts_search_node_terms(const ts_store *st, const uint8 *rec, size_t rlen,
					 ProtobufCBinaryData *out)
{
	static MemoryContext tmp = NULL;
	MemoryContext target = CurrentMemoryContext;
	ts_colval	row[TS_STORE_MAX_COLS];
	TSVector	title = NULL,
				body = NULL;
	int			nt = 0,
				nb = 0,
				i = 0,
				j = 0;
	uint32		n = 0;
	ts_buf		terms = {0},
				head = {0};
	bool		oom = false;

	out->data = NULL;
	out->len = 0;
	if (st != ts_nodes_store())
		return;
	if (tmp == NULL)
		tmp = AllocSetContextCreate(TopMemoryContext, "treestore search terms",
									ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(tmp);
	memset(row, 0, sizeof(row));
	if (ts_rec_decode(st, rec, rlen, row) != 0)
		elog(ERROR, "could not decode a treestore nodes row");
	if (!row[TS_NODE_TITLE].isnull)
		title = tokenize((const char *) row[TS_NODE_TITLE].data, row[TS_NODE_TITLE].len);
	if (!row[TS_NODE_SUMMARY].isnull || !row[TS_NODE_TEXT].isnull)
	{
		StringInfoData b;

		initStringInfo(&b);
		if (!row[TS_NODE_SUMMARY].isnull)
			appendBinaryStringInfo(&b, (const char *) row[TS_NODE_SUMMARY].data,
								   (int) row[TS_NODE_SUMMARY].len);
		appendStringInfoChar(&b, ' ');
		if (!row[TS_NODE_TEXT].isnull)
			appendBinaryStringInfo(&b, (const char *) row[TS_NODE_TEXT].data,
								   (int) row[TS_NODE_TEXT].len);
		body = tokenize(b.data, b.len);
	}
	nt = title ? title->size : 0;
	nb = body ? body->size : 0;

	/* merge the two sorted lexeme lists (format: engine/docindex.h) */
	while (i < nt || j < nb)
	{
		WordEntry  *a = i < nt ? &ARRPTR(title)[i] : NULL;
		WordEntry  *b = j < nb ? &ARRPTR(body)[j] : NULL;
		int			c;
		const char *lex;
		int			len;
		uint32		tft = 0,
					tfb = 0;

		if (a && b)
			c = lexeme_cmp(STRPTR(title) + a->pos, a->len, STRPTR(body) + b->pos, b->len);
		else
			c = a ? -1 : 1;
		if (c <= 0)
		{
			lex = STRPTR(title) + a->pos;
			len = a->len;
			tft = occurrences(title, a);
			i++;
		}
		else
		{
			lex = STRPTR(body) + b->pos;
			len = b->len;
		}
		if (c >= 0)
		{
			tfb = occurrences(body, b);
			j++;
		}
		if (ts_varint_put(&terms, (uint64) len) != 0 || ts_buf_append(&terms, lex, len) != 0 ||
			ts_varint_put(&terms, tft) != 0 || ts_varint_put(&terms, tfb) != 0)
			oom = true;
		n++;
	}
	if (ts_varint_put(&head, n) != 0)
		oom = true;

	MemoryContextSwitchTo(target);
	if (!oom)
	{
		out->data = palloc(head.len + terms.len);
		memcpy(out->data, head.data, head.len);
		memcpy(out->data + head.len, terms.data, terms.len);
		out->len = head.len + terms.len;
	}
	ts_buf_free(&terms);
	ts_buf_free(&head);
	MemoryContextReset(tmp);
	if (oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/* 'lex1' | 'lex2' | ..., for ts_headline */
static Datum
or_query(TSVector q)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < q->size; i++)
	{
		WordEntry  *we = &ARRPTR(q)[i];
		const char *p = STRPTR(q) + we->pos;

		if (i > 0)
			appendStringInfoString(&s, " | ");
		appendStringInfoChar(&s, '\'');
		for (int k = 0; k < we->len; k++)
		{
			if (p[k] == '\'' || p[k] == '\\')
				appendStringInfoChar(&s, '\\');
			appendStringInfoChar(&s, p[k]);
		}
		appendStringInfoChar(&s, '\'');
	}
	return DirectFunctionCall1(tsqueryin, CStringGetDatum(s.data));
}

static Datum
snippet(const TsRow *row, Datum query)
{
	const ts_colval *src = &row->vals[TS_NODE_TEXT];
	int			len;

	if (src->isnull)
		src = &row->vals[TS_NODE_SUMMARY];
	if (src->isnull)
		src = &row->vals[TS_NODE_TITLE];
	if (src->isnull)
		return (Datum) 0;
	len = (int) src->len;
	if (len > SNIPPET_SOURCE_BYTES)
		len = pg_mbcliplen((const char *) src->data, len, SNIPPET_SOURCE_BYTES);
	return DirectFunctionCall4(ts_headline_byid_opt,
							   ObjectIdGetDatum(english_config()),
							   PointerGetDatum(cstring_to_text_with_len((const char *) src->data, len)),
							   query,
							   PointerGetDatum(cstring_to_text(SNIPPET_OPTIONS)));
}

static Datum
text_datum(const ts_colval *v)
{
	return PointerGetDatum(cstring_to_text_with_len((const char *) v->data, (int) v->len));
}

/* search(query, policy_id, version_id, as_of, top_k) */
Datum
treestore_search(PG_FUNCTION_ARGS)
{
	int			top_k = PG_ARGISNULL(4) ? 10 : PG_GETARG_INT32(4);
	ReturnSetInfo *rsinfo;
	TSVector	qv;
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Query q;
	Treestore__Response *resp;
	Treestore__QueryResult *res;
	const ts_store *st = ts_nodes_store();
	uint8	   *scratch;
	Datum		tsq;
	size_t		pos = 0;
	const uint8 *key,
			   *rec;
	size_t		klen,
				rlen;
	uint32		n = 0;
	text	   *qt;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	if (top_k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_k must be positive")));
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (rsinfo->setDesc->natts != 7)
		elog(ERROR, "treestore.search must return 7 columns");
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	qt = PG_GETARG_TEXT_PP(0);
	qv = tokenize(VARDATA_ANY(qt), VARSIZE_ANY_EXHDR(qt));
	if (qv->size == 0)
		return (Datum) 0;

	treestore__query__init(&q);
	q.kind = TREESTORE__QUERY__KIND__SEARCH;
	if (!PG_ARGISNULL(1))
	{
		text	   *p = PG_GETARG_TEXT_PP(1);

		q.policy_id.data = (uint8 *) VARDATA_ANY(p);
		q.policy_id.len = VARSIZE_ANY_EXHDR(p);
		q.has_policy = true;
	}
	if (!PG_ARGISNULL(2))
	{
		text	   *v = PG_GETARG_TEXT_PP(2);

		q.version_id.data = (uint8 *) VARDATA_ANY(v);
		q.version_id.len = VARSIZE_ANY_EXHDR(v);
		q.has_version = true;
	}
	if (!PG_ARGISNULL(3))
	{
		q.has_as_of = true;
		q.as_of = PG_GETARG_DATEADT(3);
	}
	q.today = GetSQLCurrentDate();
	q.top_k = (uint32) top_k;
	q.n_terms = qv->size;
	q.terms = palloc(sizeof(ProtobufCBinaryData) * qv->size);
	for (int i = 0; i < qv->size; i++)
	{
		WordEntry  *we = &ARRPTR(qv)[i];

		q.terms[i].data = (uint8 *) STRPTR(qv) + we->pos;
		q.terms[i].len = we->len;
	}
	tsq = or_query(qv);

	req.op_case = TREESTORE__REQUEST__OP_QUERY;
	req.query = &q;
	resp = ts_read_request(&req, false);
	res = resp->query;
	if (res == NULL)
		elog(ERROR, "treestore worker answered a search without a result");

	/* copy the rows out of the queue: ts_headline must not hold it */
	{
		uint8	   *rows = palloc(Max(ts_response_payload_len, 1));
		size_t		rows_len = ts_response_payload_len;

		memcpy(rows, ts_response_payload, rows_len);
		scratch = palloc(TS_MAX_KEY);
		while (ts_batch_next(rows, rows_len, &pos, &key, &klen, &rec, &rlen))
		{
			TsRow		row;
			Datum		values[7];
			bool		nulls[7] = {false, false, false, false, false, false, false};

			memset(&row, 0, sizeof(row));
			ts_colvals_decode(st, key, klen, rec, rlen, row.vals, scratch);
			values[0] = text_datum(&row.vals[TS_NODE_POLICY_ID]);
			values[1] = text_datum(&row.vals[TS_NODE_VERSION_ID]);
			values[2] = text_datum(&row.vals[TS_NODE_NODE_ID]);
			nulls[3] = row.vals[TS_NODE_TITLE].isnull;
			values[3] = nulls[3] ? (Datum) 0 : text_datum(&row.vals[TS_NODE_TITLE]);
			nulls[4] = row.vals[TS_NODE_SECTION_PATH].isnull;
			values[4] = nulls[4] ? (Datum) 0 : text_datum(&row.vals[TS_NODE_SECTION_PATH]);
			values[5] = Float8GetDatum(n < res->n_scores ? res->scores[n] : 0);
			values[6] = snippet(&row, tsq);
			nulls[6] = values[6] == (Datum) 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			n++;
		}
	}
	return (Datum) 0;
}
