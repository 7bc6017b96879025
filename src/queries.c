/*-------------------------------------------------------------------------
 *
 * queries.c
 *	  The contract's read functions over stored documents (CONTRACT.md
 *	  section 4): get_node, get_children, get_subtree, get_ancestors,
 *	  nodes_by_page, version_as_of, list_versions, get_cross_references;
 *	  and store_tool_result.
 *
 *	  Each function is ONE request to the worker (a Query, treestore.proto)
 *	  that resolves the version by the temporal rule and answers from the
 *	  engine's document indexes (engine/docindex.c): get_node a point
 *	  lookup, children the parent index, a subtree one range scan of the
 *	  document-order index, ancestors the node's path, pages the page
 *	  index, version_as_of the versions-by-date index, incoming cross
 *	  references their own index.
 *
 *	  A version whose nodes are not all in document order -- an orphan (a
 *	  parent_id naming no node), a parent cycle, a tree deeper than an order
 *	  key holds (about 100 levels) -- is answered here instead, from ONE
 *	  key-prefix scan of the version: the nodes sorted by node_id, each
 *	  node's parent found by binary search, children lists sorted by
 *	  (ordinal, node_id) -- the same sibling order as the index and
 *	  get_document -- and every walk iterative (an explicit stack, no
 *	  recursion), so a document 10,000 levels deep works.  A node whose
 *	  parent_id names no node of the version counts as top level (as in
 *	  get_document); nodes on a parent cycle are never reached from the top
 *	  level and a walk never visits a node twice.
 *
 *	  Choices:
 *	    - Unknown policy, version or node: no rows, never an error.  A NULL
 *	      policy_id raises 22004, as get_document does; a NULL node_id of
 *	      get_node / get_ancestors or a NULL page gives no rows.
 *	    - get_subtree's max_depth counts levels below the start: 0 the node
 *	      alone, 1 with its children, ...; with node_id NULL the top-level
 *	      nodes are level 0.  NULL: no bound; negative: 22023.
 *	    - nodes_by_page: page_start <= page <= coalesce(page_end,
 *	      page_start) (a PageIndex page_index node has no page_end); nodes
 *	      without page_start never match; document order.
 *	    - list_versions: by effective_from (undated last), then version_id.
 *	    - get_cross_references: 'outgoing' rows whose source is the policy
 *	      (and node), 'incoming' whose target is, 'both' either (a row
 *	      matching both once); key order; another direction: 22023.
 *	    - store_tool_result: created_at is the transaction's start (now()),
 *	      result_id assigned by the engine; written in the caller's
 *	      transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "channel.h"
#include "documents.h"
#include "local.h"
#include "queries.h"
#include "rows.h"
#include "tables.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(treestore_get_node);
PG_FUNCTION_INFO_V1(treestore_get_children);
PG_FUNCTION_INFO_V1(treestore_get_subtree);
PG_FUNCTION_INFO_V1(treestore_get_ancestors);
PG_FUNCTION_INFO_V1(treestore_nodes_by_page);
PG_FUNCTION_INFO_V1(treestore_version_as_of);
PG_FUNCTION_INFO_V1(treestore_list_versions);
PG_FUNCTION_INFO_V1(treestore_get_cross_references);
PG_FUNCTION_INFO_V1(treestore_store_tool_result);

/* ---------- helpers ---------- */

static char *
policy_arg(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("policy_id must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static char *
opt_text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Rows of a store into the function's tuplestore (columns matched by name). */
typedef struct Emitter
{
	ReturnSetInfo *rsinfo;
	const ts_store *st;
	int			natts;
	int		   *col_of_att;		/* -1: dropped or not a column: NULL */
	Datum	   *values;
	bool	   *isnull;
	MemoryContext tmp;
} Emitter;

static void
emitter_init(Emitter *e, FunctionCallInfo fcinfo, const ts_store *st)
{
	TupleDesc	desc;

	InitMaterializedSRF(fcinfo, 0);
	e->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	e->st = st;
	desc = e->rsinfo->setDesc;
	e->natts = desc->natts;
	e->col_of_att = palloc(sizeof(int) * Max(desc->natts, 1));
	e->values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	e->isnull = palloc(sizeof(bool) * Max(desc->natts, 1));
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		e->col_of_att[a] = att->attisdropped ? -1 : ts_store_colno(st, NameStr(att->attname));
		if (e->col_of_att[a] >= 0 &&
			ts_coltype_oid(st->cols[e->col_of_att[a]].type) != att->atttypid)
			elog(ERROR, "column \"%s\" of the result does not have the type of treestore column \"%s.%s\"",
				 NameStr(att->attname), st->name, st->cols[e->col_of_att[a]].name);
	}
	e->tmp = AllocSetContextCreate(CurrentMemoryContext, "treestore query row",
								   ALLOCSET_SMALL_SIZES);
}

static void
emit(Emitter *e, const TsRow *row)
{
	MemoryContext old = MemoryContextSwitchTo(e->tmp);

	for (int a = 0; a < e->natts; a++)
	{
		int			c = e->col_of_att[a];

		if (c < 0 || row->vals[c].isnull)
		{
			e->values[a] = (Datum) 0;
			e->isnull[a] = true;
			continue;
		}
		e->values[a] = ts_colval_to_datum(e->st->cols[c].type, &row->vals[c]);
		e->isnull[a] = false;
	}
	tuplestore_putvalues(e->rsinfo->setResult, e->rsinfo->setDesc, e->values, e->isnull);
	MemoryContextSwitchTo(old);
	MemoryContextReset(e->tmp);
}

/* ---------- a version's nodes in memory ---------- */

typedef struct QDoc
{
	TsRow	   *rows;			/* sorted by node_id */
	int			n;
	int		   *parent;			/* index, -1: top level */
	int		   *nchildren;
	int		   *first_child;	/* into index */
	int		   *index;			/* [0, nroots): top level; then children lists */
	int			nroots;
} QDoc;

static int
row_id_cmp(const void *a, const void *b)
{
	const ts_colval *x = &((const TsRow *) a)->vals[TS_NODE_NODE_ID];
	const ts_colval *y = &((const TsRow *) b)->vals[TS_NODE_NODE_ID];

	return ts_bytes_cmp(x->data, x->len, y->data, y->len);
}

/* siblings: by ordinal (NULL as 0), then node_id */
static int
sibling_cmp(const void *a, const void *b, void *arg)
{
	const TsRow *rows = arg;
	const TsRow *x = &rows[*(const int *) a];
	const TsRow *y = &rows[*(const int *) b];
	int32		ox = x->vals[TS_NODE_ORDINAL].isnull ? 0 : (int32) x->vals[TS_NODE_ORDINAL].i;
	int32		oy = y->vals[TS_NODE_ORDINAL].isnull ? 0 : (int32) y->vals[TS_NODE_ORDINAL].i;

	if (ox != oy)
		return ox < oy ? -1 : 1;
	return row_id_cmp(x, y);
}

static int
find_node(const QDoc *d, const uint8 *id, size_t len)
{
	int			lo = 0,
				hi = d->n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		const ts_colval *m = &d->rows[mid].vals[TS_NODE_NODE_ID];
		int			r = ts_bytes_cmp(m->data, m->len, id, len);

		if (r == 0)
			return mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int
find_node_cstring(const QDoc *d, const char *id)
{
	return find_node(d, (const uint8 *) id, strlen(id));
}

static void *
alloc_ints(int n, bool zero)
{
	return palloc_extended(sizeof(int) * ((Size) n + 1),
						   MCXT_ALLOC_HUGE | (zero ? MCXT_ALLOC_ZERO : 0));
}

/* The nodes of (policy_id, the resolved version): one prefix scan. */
static void
load_doc(const char *policy_id, const TsRow *ver, QDoc *d)
{
	ts_colval	vkey[2] = {ts_val_cstring(policy_id), ver->vals[TS_VER_VERSION_ID]};
	bool		sorted = true;
	int		   *fill;
	int			pos;

	d->rows = ts_rows_fetch_prefix(ts_nodes_store(), vkey, 2, 0, &d->n);
	for (int i = 1; i < d->n && sorted; i++)
		if (row_id_cmp(&d->rows[i - 1], &d->rows[i]) >= 0)
			sorted = false;
	if (!sorted)
		qsort(d->rows, d->n, sizeof(TsRow), row_id_cmp);

	d->parent = alloc_ints(d->n, false);
	d->nchildren = alloc_ints(d->n, true);
	d->first_child = alloc_ints(d->n, false);
	d->index = alloc_ints(d->n, false);
	fill = alloc_ints(d->n, true);
	d->nroots = 0;
	for (int i = 0; i < d->n; i++)
	{
		const ts_colval *p = &d->rows[i].vals[TS_NODE_PARENT_ID];

		CHECK_FOR_INTERRUPTS();
		d->parent[i] = p->isnull ? -1 : find_node(d, p->data, p->len);
		if (d->parent[i] >= 0)
			d->nchildren[d->parent[i]]++;
		else
			d->nroots++;
	}
	pos = d->nroots;
	for (int i = 0; i < d->n; i++)
	{
		d->first_child[i] = pos;
		pos += d->nchildren[i];
	}
	{
		int			r = 0;

		for (int i = 0; i < d->n; i++)
		{
			int			p = d->parent[i];

			if (p < 0)
				d->index[r++] = i;
			else
				d->index[d->first_child[p] + fill[p]++] = i;
		}
	}
	qsort_arg(d->index, d->nroots, sizeof(int), sibling_cmp, d->rows);
	for (int i = 0; i < d->n; i++)
		if (d->nchildren[i] > 1)
			qsort_arg(d->index + d->first_child[i], d->nchildren[i], sizeof(int),
					  sibling_cmp, d->rows);
	pfree(fill);
}

/*
 * Walk in document order (pre-order) from start (-1: every top-level node,
 * each at level 0), levels up to max_depth (< 0: no bound); calls visit on
 * each node.  Iterative, each node at most once.
 */
typedef void (*visit_fn) (const QDoc *d, int node, void *arg);

static void
walk_preorder(const QDoc *d, int start, int max_depth, visit_fn visit, void *arg)
{
	int		   *stack = alloc_ints(d->n, false);
	int		   *level = alloc_ints(d->n, false);
	bool	   *seen = palloc_extended((Size) d->n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	int			top = 0;

	if (start >= 0)
	{
		stack[top] = start;
		level[top++] = 0;
		seen[start] = true;
	}
	else
		for (int k = d->nroots - 1; k >= 0; k--)
		{
			stack[top] = d->index[k];
			level[top++] = 0;
			seen[d->index[k]] = true;
		}
	while (top > 0)
	{
		int			i = stack[--top];
		int			lv = level[top];

		CHECK_FOR_INTERRUPTS();
		visit(d, i, arg);
		if (max_depth >= 0 && lv >= max_depth)
			continue;
		for (int k = d->nchildren[i] - 1; k >= 0; k--)
		{
			int			c = d->index[d->first_child[i] + k];

			if (seen[c])
				continue;
			seen[c] = true;
			stack[top] = c;
			level[top++] = lv + 1;
		}
	}
	pfree(stack);
	pfree(level);
	pfree(seen);
}

static void
visit_emit(const QDoc *d, int node, void *arg)
{
	emit((Emitter *) arg, &d->rows[node]);
}

typedef struct PageArg
{
	Emitter    *e;
	int32		page;
} PageArg;

static void
visit_page(const QDoc *d, int node, void *arg)
{
	PageArg    *pa = arg;
	const TsRow *r = &d->rows[node];
	const ts_colval *s = &r->vals[TS_NODE_PAGE_START];
	const ts_colval *e = &r->vals[TS_NODE_PAGE_END];
	int64		end;

	if (s->isnull)
		return;
	end = e->isnull ? s->i : e->i;
	if (s->i <= pa->page && pa->page <= end)
		emit(pa->e, r);
}

/* ---------- queries answered by the worker ---------- */

/* A Query for policy_id and the version arguments at varg / aarg (< 0: none). */
static void
query_init(Treestore__Query *q, FunctionCallInfo fcinfo, int kind, const char *policy_id,
		   int varg, int aarg)
{
	treestore__query__init(q);
	q->kind = kind;
	q->policy_id.data = (uint8 *) policy_id;
	q->policy_id.len = strlen(policy_id);
	q->has_policy = true;
	if (varg >= 0 && !PG_ARGISNULL(varg))
	{
		text	   *v = PG_GETARG_TEXT_PP(varg);

		q->version_id.data = (uint8 *) VARDATA_ANY(v);
		q->version_id.len = VARSIZE_ANY_EXHDR(v);
		q->has_version = true;
	}
	if (aarg >= 0 && !PG_ARGISNULL(aarg))
	{
		q->has_as_of = true;
		q->as_of = PG_GETARG_DATEADT(aarg);
	}
	q->today = GetSQLCurrentDate();
	q->max_depth = -1;
}

static void
query_node(Treestore__Query *q, text *node_id)
{
	q->node_id.data = (uint8 *) VARDATA_ANY(node_id);
	q->node_id.len = VARSIZE_ANY_EXHDR(node_id);
	q->has_node = true;
}

/*
 * Run q in the worker and emit its rows.  false: the version's nodes are
 * not all in document order (docindex.h) and the caller answers from the
 * version's rows; *ver then holds the resolved version's id.
 */
static bool
run_query(Treestore__Query *q, Emitter *e, TsRow *ver)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Response *resp;
	Treestore__QueryResult *res;
	uint8	   *scratch = palloc(TS_MAX_KEY);
	const uint8 *key,
			   *rec;
	size_t		klen,
				rlen;

	req.op_case = TREESTORE__REQUEST__OP_QUERY;
	req.query = q;
	q->stream = true;			/* the worker's: tuples are made of a part while it reads on */
	resp = ts_read_request(&req, false);
	for (;;)
	{
		size_t		pos = 0;

		res = resp->query;
		if (res == NULL)
			elog(ERROR, "treestore worker answered a query without a result");
		if (res->fallback)
		{
			memset(ver, 0, sizeof(*ver));
			ver->vals[TS_VER_VERSION_ID] = ts_val_bytes(pnstrdup((char *) res->version_id.data,
																 res->version_id.len),
														 res->version_id.len);
			return false;
		}
		while (ts_batch_next(ts_response_payload, ts_response_payload_len, &pos,
							 &key, &klen, &rec, &rlen))
		{
			TsRow		row;

			memset(&row, 0, sizeof(row));
			ts_colvals_decode(e->st, key, klen, rec, rlen, row.vals, scratch);
			emit(e, &row);
		}
		if (!resp->more)
			break;
		CHECK_FOR_INTERRUPTS();
		resp = ts_call_next();
	}
	pfree(scratch);
	return true;
}

/* ---------- node functions ---------- */

/* get_node(policy_id, node_id, version_id, as_of) */
Datum
treestore_get_node(PG_FUNCTION_ARGS)
{
	char	   *policy_id = policy_arg(fcinfo, 0);
	Emitter		e;
	TsRow		ver;
	Treestore__Query q;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	emitter_init(&e, fcinfo, ts_nodes_store());
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__NODE, policy_id, 2, 3);
	query_node(&q, PG_GETARG_TEXT_PP(1));
	(void) run_query(&q, &e, &ver);
	return (Datum) 0;
}

/* get_children(policy_id, node_id, version_id, as_of): node_id NULL, top level */
Datum
treestore_get_children(PG_FUNCTION_ARGS)
{
	char	   *policy_id = policy_arg(fcinfo, 0);
	Emitter		e;
	TsRow		ver;
	QDoc		d;
	Treestore__Query q;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	emitter_init(&e, fcinfo, ts_nodes_store());
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__CHILDREN, policy_id, 2, 3);
	if (!PG_ARGISNULL(1))
		query_node(&q, PG_GETARG_TEXT_PP(1));
	if (run_query(&q, &e, &ver))
		return (Datum) 0;
	load_doc(policy_id, &ver, &d);
	if (PG_ARGISNULL(1))
	{
		for (int k = 0; k < d.nroots; k++)
			emit(&e, &d.rows[d.index[k]]);
	}
	else
	{
		int			i = find_node_cstring(&d, text_to_cstring(PG_GETARG_TEXT_PP(1)));

		if (i >= 0)
			for (int k = 0; k < d.nchildren[i]; k++)
				emit(&e, &d.rows[d.index[d.first_child[i] + k]]);
	}
	return (Datum) 0;
}

/* get_subtree(policy_id, node_id, max_depth, version_id, as_of) */
Datum
treestore_get_subtree(PG_FUNCTION_ARGS)
{
	char	   *policy_id = policy_arg(fcinfo, 0);
	int			max_depth = PG_ARGISNULL(2) ? -1 : PG_GETARG_INT32(2);
	Emitter		e;
	TsRow		ver;
	QDoc		d;
	int			start = -1;
	Treestore__Query q;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	if (!PG_ARGISNULL(2) && max_depth < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_depth must not be negative")));
	emitter_init(&e, fcinfo, ts_nodes_store());
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__SUBTREE, policy_id, 3, 4);
	if (!PG_ARGISNULL(1))
		query_node(&q, PG_GETARG_TEXT_PP(1));
	q.max_depth = max_depth;
	if (run_query(&q, &e, &ver))
		return (Datum) 0;
	load_doc(policy_id, &ver, &d);
	if (!PG_ARGISNULL(1))
	{
		start = find_node_cstring(&d, text_to_cstring(PG_GETARG_TEXT_PP(1)));
		if (start < 0)
			return (Datum) 0;
	}
	walk_preorder(&d, start, max_depth, visit_emit, &e);
	return (Datum) 0;
}

/* get_ancestors(policy_id, node_id, version_id, as_of): top level first, the node last */
Datum
treestore_get_ancestors(PG_FUNCTION_ARGS)
{
	char	   *policy_id = policy_arg(fcinfo, 0);
	Emitter		e;
	TsRow		ver;
	QDoc		d;
	int			i,
				n = 0;
	int		   *path;
	bool	   *seen;
	Treestore__Query q;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	emitter_init(&e, fcinfo, ts_nodes_store());
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__ANCESTORS, policy_id, 2, 3);
	query_node(&q, PG_GETARG_TEXT_PP(1));
	if (run_query(&q, &e, &ver))
		return (Datum) 0;
	load_doc(policy_id, &ver, &d);
	i = find_node_cstring(&d, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (i < 0)
		return (Datum) 0;
	path = alloc_ints(d.n, false);
	seen = palloc_extended((Size) d.n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	/* up to the top level; on a parent cycle, up to the first node seen twice */
	while (i >= 0 && !seen[i])
	{
		CHECK_FOR_INTERRUPTS();
		seen[i] = true;
		path[n++] = i;
		i = d.parent[i];
	}
	while (n > 0)
		emit(&e, &d.rows[path[--n]]);
	return (Datum) 0;
}

/* nodes_by_page(policy_id, page, version_id, as_of), in document order */
Datum
treestore_nodes_by_page(PG_FUNCTION_ARGS)
{
	char	   *policy_id = policy_arg(fcinfo, 0);
	Emitter		e;
	TsRow		ver;
	QDoc		d;
	PageArg		pa;
	Treestore__Query q;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	emitter_init(&e, fcinfo, ts_nodes_store());
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__BY_PAGE, policy_id, 2, 3);
	q.page = PG_GETARG_INT32(1);
	if (run_query(&q, &e, &ver))
		return (Datum) 0;
	load_doc(policy_id, &ver, &d);
	pa.e = &e;
	pa.page = PG_GETARG_INT32(1);
	walk_preorder(&d, -1, -1, visit_page, &pa);
	return (Datum) 0;
}

/* ---------- versions ---------- */

/* version_as_of(policy_id, as_of): STRICT */
Datum
treestore_version_as_of(PG_FUNCTION_ARGS)
{
	char	   *policy_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Emitter		e;
	TsRow		ver;
	Treestore__Query q;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);

	emitter_init(&e, fcinfo, ts_versions_store());
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__VERSION, policy_id, -1, 1);
	if (!run_query(&q, &e, &ver))
		elog(ERROR, "treestore worker could not answer version_as_of");
	return (Datum) 0;
}

/* by effective_from, undated last; then version_id */
static int
version_order_cmp(const void *a, const void *b)
{
	const TsRow *x = a,
			   *y = b;
	const ts_colval *fx = &x->vals[TS_VER_EFFECTIVE_FROM],
			   *fy = &y->vals[TS_VER_EFFECTIVE_FROM];
	const ts_colval *ix = &x->vals[TS_VER_VERSION_ID],
			   *iy = &y->vals[TS_VER_VERSION_ID];

	if (fx->isnull != fy->isnull)
		return fx->isnull ? 1 : -1;
	if (!fx->isnull && fx->i != fy->i)
		return fx->i < fy->i ? -1 : 1;
	return ts_bytes_cmp(ix->data, ix->len, iy->data, iy->len);
}

/* list_versions(policy_id): STRICT */
Datum
treestore_list_versions(PG_FUNCTION_ARGS)
{
	char	   *policy_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ts_colval	key[1] = {ts_val_cstring(policy_id)};
	Emitter		e;
	TsRow	   *rows;
	int			n;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);

	emitter_init(&e, fcinfo, ts_versions_store());
	rows = ts_rows_fetch_prefix(ts_versions_store(), key, 1, 0, &n);
	qsort(rows, n, sizeof(TsRow), version_order_cmp);
	for (int i = 0; i < n; i++)
		emit(&e, &rows[i]);
	return (Datum) 0;
}

/* ---------- cross references ---------- */

static const ts_store *
xref_store(void)
{
	static const ts_store *st = NULL;

	if (st == NULL)
	{
		const ts_store *s = ts_store_find("cross_references");

		if (s == NULL || s->nkeys < 4 ||
			ts_store_colno(s, "source_policy_id") != 0 ||
			ts_store_colno(s, "source_node_id") != 1 ||
			ts_store_colno(s, "target_policy_id") != 2 ||
			ts_store_colno(s, "target_node_id") != 3)
			elog(ERROR, "treestore store \"cross_references\" does not have the expected columns");
		st = s;
	}
	return st;
}

/* get_cross_references(policy_id, node_id, direction) */
Datum
treestore_get_cross_references(PG_FUNCTION_ARGS)
{
	char	   *policy_id = policy_arg(fcinfo, 0);
	char	   *direction = opt_text_arg(fcinfo, 2);
	Emitter		e;
	TsRow		ver;
	Treestore__Query q;
	uint32		dir = 0;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("cross_references", ACL_SELECT);

	if (direction != NULL && strcmp(direction, "outgoing") == 0)
		dir = 1;
	else if (direction != NULL && strcmp(direction, "incoming") == 0)
		dir = 2;
	else if (direction != NULL && strcmp(direction, "both") == 0)
		dir = 3;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("direction must be 'outgoing', 'incoming' or 'both'")));
	emitter_init(&e, fcinfo, xref_store());
	query_init(&q, fcinfo, TREESTORE__QUERY__KIND__XREFS, policy_id, -1, -1);
	if (!PG_ARGISNULL(1))
		query_node(&q, PG_GETARG_TEXT_PP(1));
	q.direction = dir;
	if (!run_query(&q, &e, &ver))
		elog(ERROR, "treestore worker could not answer get_cross_references");
	return (Datum) 0;
}

/* ---------- store_tool_result ---------- */

static void
set_col(const ts_store *st, ts_colval *vals, const char *name, ts_colval v)
{
	int			c = ts_store_colno(st, name);

	if (c < 0)
		elog(ERROR, "treestore store \"%s\" has no column \"%s\"", st->name, name);
	vals[c] = v;
}

static ts_colval
jsonb_arg(FunctionCallInfo fcinfo, int n)
{
	Jsonb	   *j;

	if (PG_ARGISNULL(n))
		return ts_val_null();
	j = PG_GETARG_JSONB_P(n);
	return ts_val_bytes(VARDATA(j), VARSIZE(j) - VARHDRSZ);
}

static ts_colval
text_arg(FunctionCallInfo fcinfo, int n)
{
	return ts_val_cstring(opt_text_arg(fcinfo, n));
}

/*
 * store_tool_result(case_id, tool_name, output, input, criterion_id,
 * policy_id, version_id, node_id, success, error_message, latency_ms)
 */
Datum
treestore_store_tool_result(PG_FUNCTION_ARGS)
{
	const ts_store *st = ts_store_find("tool_results");
	ts_colval	vals[TS_STORE_MAX_COLS];
	ts_colval	v;
	ts_buf		rec = {0};
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Modify m = TREESTORE__MODIFY__INIT;
	Treestore__RowOp op;
	Treestore__RowOp *ops[1] = {&op};
	Treestore__Response *resp;
	int64		id;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("tool_results", ACL_INSERT);

	if (st == NULL || !st->assigned_id)
		elog(ERROR, "treestore store \"tool_results\" does not assign ids");
	for (int c = 0; c < st->ncols; c++)
		vals[c] = ts_val_null();
	set_col(st, vals, "case_id", text_arg(fcinfo, 0));
	set_col(st, vals, "tool_name", text_arg(fcinfo, 1));
	set_col(st, vals, "output", jsonb_arg(fcinfo, 2));
	set_col(st, vals, "input", jsonb_arg(fcinfo, 3));
	set_col(st, vals, "criterion_id", text_arg(fcinfo, 4));
	set_col(st, vals, "policy_id", text_arg(fcinfo, 5));
	set_col(st, vals, "version_id", text_arg(fcinfo, 6));
	set_col(st, vals, "node_id", text_arg(fcinfo, 7));
	v = PG_ARGISNULL(8) ? ts_val_null() : ts_val_int(PG_GETARG_BOOL(8) ? 1 : 0);
	set_col(st, vals, "success", v);
	set_col(st, vals, "error_message", text_arg(fcinfo, 9));
	v = ts_val_null();
	if (!PG_ARGISNULL(10))
	{
		v = ts_val_int(0);
		v.f = PG_GETARG_FLOAT8(10);
	}
	set_col(st, vals, "latency_ms", v);
	set_col(st, vals, "created_at", ts_val_int(GetCurrentTransactionStartTimestamp()));

	if (ts_rec_encode(st, vals, &rec) != 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	treestore__row_op__init(&op);
	op.kind = TREESTORE__ROW_OP__KIND__INSERT;
	op.key.data = NULL;			/* empty key: the worker assigns result_id */
	op.key.len = 0;
	op.record.data = palloc(Max(rec.len, 1));
	memcpy(op.record.data, rec.data, rec.len);
	op.record.len = rec.len;
	ts_buf_free(&rec);

	ts_xact_request(&req, true);
	m.table = (char *) st->name;
	m.n_ops = 1;
	m.ops = ops;
	req.op_case = TREESTORE__REQUEST__OP_MODIFY;
	req.modify = &m;
	resp = ts_call(&req);
	ts_xact_request_sent();
	if (resp->modified == NULL || resp->modified->n_assigned_ids < 1)
		elog(ERROR, "treestore worker did not assign a result_id");
	id = resp->modified->assigned_ids[0];
	PG_RETURN_INT64(id);
}
