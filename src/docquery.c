/*-------------------------------------------------------------------------
 *
 * docquery.c
 *	  One document query on an engine transaction (docquery.h), for the
 *	  worker and for backends alike.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "docquery.h"
#include "stores.h"

static int
collect_row(TsQueryRows *qr, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
			double score)
{
	qr->total += klen + vlen + 8;
	if (qr->total > TS_QUERY_MAX_PAYLOAD)
		return TS_QUERY_TOO_BIG;
	ts_batch_add(qr->rows, key, klen, val, vlen);
	qr->nrows++;
	if (qr->nscores == qr->capscores)
	{
		qr->capscores = qr->capscores ? qr->capscores * 2 : 16;
		qr->scores = qr->scores ? repalloc(qr->scores, sizeof(double) * qr->capscores)
			: palloc(sizeof(double) * qr->capscores);
	}
	qr->scores[qr->nscores++] = score;
	if (qr->row_added)
		qr->row_added(qr);
	return 0;
}

int
ts_docquery_collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
					double score)
{
	TsQueryRows *qr = arg;
	MemoryContext cxt = CurrentMemoryContext;
	volatile int rc = 0;

	PG_TRY();
	{
		rc = collect_row(qr, key, klen, val, vlen, score);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		qr->error = CopyErrorData();
		FlushErrorState();
		rc = TS_QUERY_FAILED;
	}
	PG_END_TRY();
	return rc;
}

int
ts_docquery_run(ts_txn *txn, const ts_docindex *ix, const ts_tree *trees,
				const Treestore__Query *q, Treestore__QueryResult *res,
				ts_docindex_emit emit, void *arg)
{
	uint8		v[TS_MAX_KEY];
	size_t		vlen = 0;
	const uint8 *p = q->policy_id.data;
	size_t		plen = q->policy_id.len;
	const uint8 *node = q->has_node ? q->node_id.data : NULL;
	size_t		nodelen = q->node_id.len;
	int			rc;

	switch (q->kind)
	{
		case TREESTORE__QUERY__KIND__SEARCH:
			{
				ts_search_args a;
				const uint8_t **terms = palloc(sizeof(uint8_t *) * Max(q->n_terms, 1));
				size_t	   *lens = palloc(sizeof(size_t) * Max(q->n_terms, 1));

				for (size_t i = 0; i < q->n_terms; i++)
				{
					terms[i] = q->terms[i].data;
					lens[i] = q->terms[i].len;
				}
				memset(&a, 0, sizeof(a));
				a.policy = q->has_policy ? p : NULL;
				a.plen = plen;
				a.version = q->version_id.data;
				a.vlen = q->version_id.len;
				a.has_version = q->has_version;
				a.has_as_of = q->has_as_of;
				a.as_of = q->as_of;
				a.today = q->today;
				a.terms = (const uint8_t *const *) terms;
				a.term_lens = lens;
				a.nterms = (int) q->n_terms;
				a.top_k = q->top_k;
				return ts_docindex_search(txn, ix, &a, emit, arg);
			}
		case TREESTORE__QUERY__KIND__XREFS:
			return ts_docindex_xrefs(txn, ix, p, plen, node, nodelen, (int) q->direction,
									 emit, arg);
		default:
			break;
	}
	rc = ts_docindex_resolve(txn, ix, p, plen, q->version_id.data, q->version_id.len,
							 q->has_version, q->has_as_of, q->as_of, q->today, v, &vlen);
	if (rc == TS_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	res->found_version = true;
	res->version_id.data = palloc(Max(vlen, 1));
	memcpy(res->version_id.data, v, vlen);
	res->version_id.len = vlen;
	switch (q->kind)
	{
		case TREESTORE__QUERY__KIND__NODE:
			return node ? ts_docindex_node(txn, ix, p, plen, v, vlen, node, nodelen, emit, arg) : 0;
		case TREESTORE__QUERY__KIND__CHILDREN:
			return ts_docindex_children(txn, ix, p, plen, v, vlen, node, nodelen, emit, arg);
		case TREESTORE__QUERY__KIND__SUBTREE:
			return ts_docindex_subtree(txn, ix, p, plen, v, vlen, node, nodelen,
									   q->max_depth, emit, arg);
		case TREESTORE__QUERY__KIND__ANCESTORS:
			return node ? ts_docindex_ancestors(txn, ix, p, plen, v, vlen, node, nodelen,
												emit, arg) : 0;
		case TREESTORE__QUERY__KIND__BY_PAGE:
			return ts_docindex_by_page(txn, ix, p, plen, v, vlen, q->page, emit, arg);
		case TREESTORE__QUERY__KIND__VERSION:
			{
				ts_keybuf	kb;
				ts_slice	val;

				ts_key_init(&kb);
				ts_key_add_text(&kb, p, plen);
				ts_key_add_text(&kb, v, vlen);
				rc = ts_get(txn, trees[ix->st_versions], kb.buf, kb.len, &val);
				if (rc == 0)
					return emit(arg, kb.buf, kb.len, val.data, val.len, 0);
				return rc == TS_NOTFOUND ? 0 : rc;
			}
		default:
			return TS_INVALID;
	}
}
