/*-------------------------------------------------------------------------
 *
 * fdw.c
 *	  The foreign data wrapper: handler and option validator, planning
 *	  (sizes from the engine's statistics, key-range and parameterized
 *	  paths), scans streamed in batches, EXPLAIN.
 *
 *	  Every qual stays a local filter; pushdown.c turns the usable ones into
 *	  key ranges that only narrow what is fetched.  A scan is one round
 *	  trip for its first batch (a point lookup is one round trip in all),
 *	  then one per further batch.  The scan of an UPDATE's or DELETE's
 *	  target is fetched whole before the first row is returned, so that the
 *	  statement's own writes can never feed its scan.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/reloptions.h"
#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "lib/ilist.h"
#include "utils/tuplestore.h"

#include "channel.h"
#include "fdw.h"
#include "local.h"
#include "pushdown.h"
#include "tables.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(treestore_fdw_handler);
PG_FUNCTION_INFO_V1(treestore_fdw_validator);

/* Costs: a round trip, a row moved, and a batch of rows. */
#define ROUND_TRIP_COST 5.0
#define ROW_COST 0.005
#define STATS_TTL_MS 10000

/* fdw_private of a ForeignScan, by position */
enum FdwScanPrivateIndex
{
	FdwScanCondCols,			/* IntList: key column per fdw_exprs entry */
	FdwScanCondOps,				/* IntList: KeyOp per fdw_exprs entry */
	FdwScanCondTypes,			/* OidList: value type per fdw_exprs entry */
	FdwScanAccess,				/* String: point lookup / key prefix / ... */
	FdwScanMaterialize,			/* Integer: 1 = the statement writes, 2 = it
								 * writes treestore */
	FdwScanAttrs				/* IntList: attributes to decode; NIL: all */
};

typedef struct TsRelInfo
{
	const ts_store *st;
	double		entries;
} TsRelInfo;

typedef struct TsScanState
{
	dlist_node	open_node;		/* in open_scans while its executor lives */
	ForeignScanState *node;
	uint32		stmt;			/* the statement it reads for */
	TsTable    *table;
	List	   *conds;			/* KeyCond (col, op) per value */
	List	   *value_states;	/* ExprState per fdw_exprs entry */
	bool		materialize;
	bool		started,
				done;
	uint64		scan_id;
	MemoryContext batch_cxt;
	const uint8 *rows;			/* in the queue (borrowed) or in batch_cxt */
	size_t		rows_len,
				pos;
	uint64		round_trips,
				rows_fetched;
	bool	   *need;			/* attributes to decode (NULL: all) */
	Tuplestorestate *store;		/* materialize: the rows, read whole first */
	TupleTableSlot *store_slot;	/* reads the store (minimal tuples) */
	TupleTableSlot *fill_slot;	/* decodes rows into the store (the scan
								 * slot may hold a row its parent uses) */
	MemoryContext fill_cxt;		/* decoded values on their way to the store */
	bool		spilled;		/* the store went to disk (work_mem) */
	bool		drained;		/* read whole because a later statement came */
	bool		whole;			/* read once at executor start without the
								 * conditions the executor sets (see Begin);
								 * a rescan rereads the store */
	bool	   *deferred;		/* per condition: its value is a PARAM_EXEC */
	bool		writes_treestore;	/* its statement writes treestore */
	bool		local;			/* read in this backend (local.c) */
} TsScanState;

/*
 * The scans whose executor state exists (a cursor's, a PL/pgSQL FOR loop's,
 * the outer query of a function that runs SQL): when a later statement
 * first talks to the worker, those still reading are read to their end
 * first (ts_fdw_drain_scans), so each reads one snapshot -- its statement's
 * -- and none of the later statements' writes, as PostgreSQL's own scans.
 */
static dlist_head open_scans = DLIST_STATIC_INIT(open_scans);

static void forget_open_scan(void *arg);
static bool has_exec_param(Node *n, void *context);
static void start_scan(ForeignScanState *node, TsScanState *ss);

/* ---------- options ---------- */

Datum
treestore_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	/* only the extension's script makes foreign tables (tables.c) */
	if (catalog == ForeignTableRelationId && !ts_creating_own_tables())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("foreign tables of treestore_fdw are made only by its extension"),
				 errdetail("The engine's tables are reached only through the foreign tables of schema treestore, whose grants guard them."),
				 errhint("Use the tables of schema treestore, or a view on them.")));

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (catalog == ForeignTableRelationId && strcmp(d->defname, "table") == 0)
		{
			if (ts_store_find(defGetString(d)) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("treestore has no table \"%s\"", defGetString(d)),
						 errhint("Valid tables are: documents, versions, nodes, cross_references, tool_results, trajectories, prompts, prompt_usage.")));
			continue;
		}
		if (catalog == ForeignServerRelationId && strcmp(d->defname, "batch_size") == 0)
		{
			char	   *end;
			long		n = strtol(defGetString(d), &end, 10);

			if (*end != '\0' || n < 1 || n > 100000)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("batch_size must be between 1 and 100000")));
			continue;
		}
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", d->defname),
				 errhint("%s",
						 catalog == ForeignTableRelationId ? "Valid options in this context are: table." :
						 catalog == ForeignServerRelationId ? "Valid options in this context are: batch_size." :
						 "There are no valid options in this context.")));
	}
	PG_RETURN_VOID();
}

/* ---------- statistics ---------- */

static double
table_entries(const ts_store *st)
{
	static struct
	{
		double		entries;
		TimestampTz at;
	}			cache[16];
	int			i = (int) (st - ts_stores);
	TimestampTz now = GetCurrentTimestamp();
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__TableStats ts = TREESTORE__TABLE_STATS__INIT;
	Treestore__Response *resp;

	if (cache[i].at != 0 && !TimestampDifferenceExceeds(cache[i].at, now, STATS_TTL_MS))
		return cache[i].entries;
	ts.table = (char *) st->name;
	req.op_case = TREESTORE__REQUEST__OP_TABLE_STATS;
	req.table_stats = &ts;
	resp = ts_read_request(&req, false);
	cache[i].entries = resp->table_stats ? (double) resp->table_stats->entries : 0;
	cache[i].at = now;
	return cache[i].entries;
}

/* ---------- planning ---------- */

static void
tsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	TsRelInfo  *info = palloc0(sizeof(TsRelInfo));
	List	   *conds;
	double		rows;

	info->st = ts_table_store(foreigntableid);
	info->entries = table_entries(info->st);
	conds = ts_key_conds(root, baserel, info->st, foreigntableid,
						 baserel->baserestrictinfo, false);
	if (ts_key_conds_unique(info->st, conds))
		rows = 1;
	else
		rows = info->entries * clauselist_selectivity(root, baserel->baserestrictinfo,
													  0, JOIN_INNER, NULL);
	baserel->tuples = info->entries;
	baserel->rows = clamp_row_est(rows);
	baserel->fdw_private = info;
}

/* Rows fetched from the engine and the cost of a scan returning rows. */
static void
scan_cost(double fetched, double rows, Cost *startup, Cost *total)
{
	*startup = ROUND_TRIP_COST;
	*total = *startup + fetched * (ROW_COST + cpu_tuple_cost) +
		(fetched / 1000.0) * ROUND_TRIP_COST + rows * cpu_tuple_cost;
}

typedef struct EcArg
{
	Var		   *var;
} EcArg;

static bool
ec_matches_var(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
			   EquivalenceMember *em, void *arg)
{
	Expr	   *e = em->em_expr;

	if (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return equal(e, ((EcArg *) arg)->var);
}

/* Join clauses that could look up keys of baserel per outer row. */
static List *
join_key_clauses(PlannerInfo *root, RelOptInfo *baserel, TsRelInfo *info, Oid relid)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		if (ts_key_conds(root, baserel, info->st, relid, list_make1(ri), true) != NIL)
			out = lappend(out, ri);
	}
	if (baserel->has_eclass_joins)
	{
		for (int c = 0; c < info->st->nkeys; c++)
		{
			EcArg		arg;
			AttrNumber	attno = get_attnum(relid, info->st->cols[c].name);
			Oid			type;
			int32		typmod;
			Oid			coll;

			if (attno == InvalidAttrNumber)
				continue;
			get_atttypetypmodcoll(relid, attno, &type, &typmod, &coll);
			arg.var = makeVar(baserel->relid, attno, type, typmod, coll, 0);
			out = list_concat(out, generate_implied_equalities_for_column(root, baserel,
																		  ec_matches_var, &arg,
																		  baserel->lateral_referencers));
		}
	}
	return out;
}

static Query *top_query(PlannerInfo *root);
static void tsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);

/*
 * Does the statement write a treestore table (or may it: a data-modifying
 * CTE)?  Its scans must then read before its writes: no parameterized
 * paths, whose lookups would run between them.
 */
static bool
writes_treestore(Query *top)
{
	if (top->hasModifyingCTE)
		return true;
	if (top->commandType != CMD_SELECT && top->resultRelation > 0)
	{
		RangeTblEntry *rte = rt_fetch(top->resultRelation, top->rtable);

		return rte->relkind == RELKIND_FOREIGN_TABLE &&
			GetFdwRoutineByRelId(rte->relid)->GetForeignPaths == tsGetForeignPaths;
	}
	return false;
}

static void
tsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	TsRelInfo  *info = baserel->fdw_private;
	List	   *conds = ts_key_conds(root, baserel, info->st, foreigntableid,
									 baserel->baserestrictinfo, false);
	const char *access = ts_key_access(info->st, conds);
	double		fetched;
	Cost		startup,
				total;
	List	   *jclauses;
	List	   *outers = NIL;
	ListCell   *lc;

	/* what the key conditions leave to fetch */
	if (strcmp(access, "full scan") == 0)
		fetched = Max(info->entries, baserel->rows);
	else
		fetched = baserel->rows;
	scan_cost(fetched, baserel->rows, &startup, &total);
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows,
													   startup, total, NIL,
													   baserel->lateral_relids, NULL, NIL));

	/* parameterized paths: one keyed lookup per outer row */
	if (writes_treestore(top_query(root)))
		return;
	jclauses = join_key_clauses(root, baserel, info, foreigntableid);
	foreach(lc, jclauses)
	{
		RestrictInfo *ri = lfirst(lc);
		Relids		outer = bms_difference(ri->clause_relids, baserel->relids);
		bool		seen = false;
		ListCell   *lc2;

		outer = bms_union(outer, baserel->lateral_relids);
		if (bms_is_empty(outer))
			continue;
		foreach(lc2, outers)
			if (bms_equal(lfirst(lc2), outer))
				seen = true;
		if (!seen)
			outers = lappend(outers, outer);
	}
	foreach(lc, outers)
	{
		Relids		outer = lfirst(lc);
		ParamPathInfo *ppi = get_baserel_parampathinfo(root, baserel, outer);
		List	   *all = list_concat(list_copy(baserel->baserestrictinfo), ppi->ppi_clauses);
		List	   *pconds = ts_key_conds(root, baserel, info->st, foreigntableid, all, true);
		double		rows = ts_key_conds_unique(info->st, pconds) ? 1 : ppi->ppi_rows;

		if (pconds == NIL)
			continue;
		scan_cost(rows, rows, &startup, &total);
		add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, clamp_row_est(rows),
														   startup, total, NIL, outer,
														   NULL, NIL));
	}
}

/*
 * "col op value" for EXPLAIN, from the plan's own lists (fdw_exprs holds
 * the values as executed: Params where a join feeds them).
 */
static char *
cond_text(const ts_store *st, List *cols, List *ops, List *exprs)
{
	static const char *opname[] = {"", "=", "= ANY", "<", "<=", ">", ">="};
	StringInfoData buf;
	ListCell   *lc1,
			   *lc2,
			   *lc3;

	initStringInfo(&buf);
	forthree(lc1, cols, lc2, ops, lc3, exprs)
	{
		Node	   *v = (Node *) lfirst(lc3);
		int			op = lfirst_int(lc2);

		if (buf.len > 0)
			appendStringInfoString(&buf, " AND ");
		appendStringInfo(&buf, "%s %s ", st->cols[lfirst_int(lc1)].name, opname[op]);
		if (IsA(v, RelabelType))
			v = (Node *) ((RelabelType *) v)->arg;
		if (IsA(v, Const) && ((Const *) v)->constisnull)
			appendStringInfoString(&buf, "NULL");
		else if (IsA(v, Const))
		{
			Oid			out;
			bool		isvarlena;
			char	   *str;

			getTypeOutputInfo(((Const *) v)->consttype, &out, &isvarlena);
			str = OidOutputFunctionCall(out, ((Const *) v)->constvalue);
			appendStringInfoString(&buf, op == KEY_IN ? psprintf("(%s)", quote_literal_cstr(str))
								   : quote_literal_cstr(str));
		}
		else if (IsA(v, Param))
			appendStringInfo(&buf, "$%d", ((Param *) v)->paramid);
		else
			appendStringInfoString(&buf, "(expression)");
	}
	return buf.data;
}

/* The top query of a planner tree (CTEs and subqueries have their own). */
static Query *
top_query(PlannerInfo *root)
{
	while (root->parent_root)
		root = root->parent_root;
	return root->parse;
}

static ForeignScan *
tsGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses, Plan *outer_plan)
{
	TsRelInfo  *info = baserel->fdw_private;
	List	   *local = extract_actual_clauses(scan_clauses, false);
	/* outer Vars in a parameterized path become Params after we return */
	List	   *conds = ts_key_conds_narrowing(info->st,
											   ts_key_conds(root, baserel, info->st, foreigntableid,
															local, best_path->path.param_info != NULL));
	List	   *exprs = NIL,
			   *cols = NIL,
			   *ops = NIL,
			   *types = NIL;
	Query	   *top = top_query(root);

	/*
	 * A statement that writes reads what it scans first, whole: its own
	 * writes must not feed its scans (INSERT ... SELECT from the same table
	 * would never end), as PostgreSQL's command ids guarantee for its tables.
	 */
	bool		materialize = top->commandType != CMD_SELECT || top->hasModifyingCTE;
	ListCell   *lc;

	Bitmapset  *used = NULL;
	List	   *attrs = NIL;
	List	   *priv;

	foreach(lc, conds)
	{
		KeyCond    *kc = lfirst(lc);

		exprs = lappend(exprs, kc->value);
		cols = lappend_int(cols, kc->col);
		ops = lappend_int(ops, kc->op);
		types = lappend_oid(types, kc->valtype);
	}

	/* decode only the columns the query uses (count(*) needs none) */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &used);
	pull_varattnos((Node *) local, baserel->relid, &used);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, used))
		attrs = NIL;			/* a whole-row reference: every column */
	else
	{
		int			x = -1;

		while ((x = bms_next_member(used, x)) >= 0)
		{
			AttrNumber	a = x + FirstLowInvalidHeapAttributeNumber;

			if (a > 0)
				attrs = lappend_int(attrs, a);
		}
		if (attrs == NIL)
			attrs = list_make1_int(0);	/* none: not the same as "all" */
	}
	priv = list_make5(cols, ops, types,
					  makeString(pstrdup(ts_key_access(info->st, conds))),
					  makeInteger(!materialize ? 0 : writes_treestore(top) ? 2 : 1));
	priv = lappend(priv, attrs);
	return make_foreignscan(tlist, local, baserel->relid, exprs, priv, NIL, NIL, outer_plan);
}

/* ---------- scans ---------- */

static void
tsBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	TsScanState *ss = palloc0(sizeof(TsScanState));
	List	   *cols = list_nth(fs->fdw_private, FdwScanCondCols);
	List	   *ops = list_nth(fs->fdw_private, FdwScanCondOps);
	List	   *types = list_nth(fs->fdw_private, FdwScanCondTypes);
	ListCell   *lc1,
			   *lc2,
			   *lc3;

	node->fdw_state = ss;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	ss->node = node;
	ss->table = ts_table_open(node->ss.ss_currentRelation);
	{
		/* in open_scans until its executor state goes (normally or by an error) */
		MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

		cb->func = forget_open_scan;
		cb->arg = ss;
		MemoryContextRegisterResetCallback(node->ss.ps.state->es_query_cxt, cb);
		dlist_push_head(&open_scans, &ss->open_node);
	}
	forthree(lc1, cols, lc2, ops, lc3, types)
	{
		KeyCond    *kc = palloc0(sizeof(KeyCond));

		kc->col = lfirst_int(lc1);
		kc->op = lfirst_int(lc2);
		kc->valtype = lfirst_oid(lc3);
		ss->conds = lappend(ss->conds, kc);
	}
	ss->value_states = ExecInitExprList(fs->fdw_exprs, (PlanState *) node);
	ss->materialize = intVal(list_nth(fs->fdw_private, FdwScanMaterialize)) != 0;
	ss->writes_treestore = intVal(list_nth(fs->fdw_private, FdwScanMaterialize)) == 2;
	ss->batch_cxt = AllocSetContextCreate(node->ss.ps.state->es_query_cxt,
										  "treestore scan batch", ALLOCSET_DEFAULT_SIZES);
	{
		List	   *attrs = list_nth(fs->fdw_private, FdwScanAttrs);

		if (attrs != NIL)
		{
			ListCell   *lc;

			ss->need = palloc0(sizeof(bool) * ss->table->natts);
			foreach(lc, attrs)
				if (lfirst_int(lc) > 0)
					ss->need[lfirst_int(lc) - 1] = true;
		}
	}

	/*
	 * A statement that writes reads its scans before any of its writes: now,
	 * at executor start.  A scan whose values come from the executor (a
	 * correlated subquery's, rescanned per outer row) would run between the
	 * writes: in a statement that writes treestore it is read now without
	 * those conditions, once -- every condition is also a local filter --
	 * and each rescan rereads what was read.
	 */
	if (ss->materialize)
	{
		int			i = 0;
		bool		any = false;

		ss->deferred = palloc0(sizeof(bool) * Max(list_length(fs->fdw_exprs), 1));
		foreach(lc1, fs->fdw_exprs)
		{
			ss->deferred[i] = has_exec_param(lfirst(lc1), NULL);
			any |= ss->deferred[i++];
		}
		ss->whole = any && intVal(list_nth(fs->fdw_private, FdwScanMaterialize)) == 2;
		if (!any || ss->whole)
			start_scan(node, ss);
	}
}

/*
 * The channel is about to be used again: keep the rows not yet returned
 * (they are read in place in the queue until then).
 */
static void
keep_rows(void *arg)
{
	TsScanState *ss = arg;
	size_t		left = ss->rows_len - ss->pos;
	uint8	   *copy = MemoryContextAlloc(ss->batch_cxt, Max(left, 1));

	memcpy(copy, ss->rows + ss->pos, left);
	ss->rows = copy;
	ss->rows_len = left;
	ss->pos = 0;
}

/* Take a batch response: its rows become the current ones, read in place. */
static void
take_batch(TsScanState *ss, Treestore__Response *resp)
{
	Treestore__ScanBatch *b = resp->batch;
	const uint8 *rows = ts_response_payload;
	size_t		len = ts_response_payload_len;

	if (b == NULL)
		elog(ERROR, "treestore worker answered a scan without rows");
	ss->round_trips++;
	ss->rows_fetched += b->nrows;
	ss->scan_id = b->scan_id;
	ss->done = b->done;
	ss->rows = rows;
	ss->rows_len = len;
	ts_payload_borrow(keep_rows, ss, ss->batch_cxt);
	ss->pos = 0;
}

static void
fetch_more(TsScanState *ss)
{
	MemoryContext old;

	ts_payload_return(ss);		/* every row was returned: nothing to keep */
	MemoryContextReset(ss->batch_cxt);
	old = MemoryContextSwitchTo(ss->batch_cxt);
	take_batch(ss, ts_read_fetch(ss->scan_id, ss->stmt));	/* its statement's snapshot */
	MemoryContextSwitchTo(old);
}

/* The current batch's next row into slot; false at the batch's end. */
static bool
next_row(TsScanState *ss, TupleTableSlot *slot)
{
	const uint8 *key,
			   *rec;
	size_t		klen,
				rlen;

	if (!ts_batch_next(ss->rows, ss->rows_len, &ss->pos, &key, &klen, &rec, &rlen))
		return false;
	ExecClearTuple(slot);
	ts_row_decode(ss->table, key, klen, rec, rlen, slot->tts_values, slot->tts_isnull, ss->need);
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * Read the rest of the scan into a tuplestore: linear in the rows, on disk
 * past work_mem.  A statement that writes reads its scans whole first (see
 * the planner's comment); a scan still open when a later statement talks to
 * the worker is read whole then (ts_fdw_drain_scans).
 */
static void
materialize_scan(ForeignScanState *node, TsScanState *ss)
{
	TupleTableSlot *scan_slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old = MemoryContextSwitchTo(node->ss.ps.state->es_query_cxt);

	ss->store = tuplestore_begin_heap(false, false, work_mem);
	if (ss->store_slot == NULL)
	{
		ss->store_slot = MakeSingleTupleTableSlot(scan_slot->tts_tupleDescriptor,
												  &TTSOpsMinimalTuple);
		ss->fill_slot = MakeSingleTupleTableSlot(scan_slot->tts_tupleDescriptor,
												 &TTSOpsVirtual);
		ss->fill_cxt = AllocSetContextCreate(node->ss.ps.state->es_query_cxt,
											 "treestore scan fill", ALLOCSET_DEFAULT_SIZES);
	}
	MemoryContextSwitchTo(old);
	for (;;)
	{
		old = MemoryContextSwitchTo(ss->fill_cxt);
		while (next_row(ss, ss->fill_slot))
			tuplestore_puttupleslot(ss->store, ss->fill_slot);
		ExecClearTuple(ss->fill_slot);
		MemoryContextSwitchTo(old);
		MemoryContextReset(ss->fill_cxt);
		if (ss->done)
			break;
		CHECK_FOR_INTERRUPTS();
		fetch_more(ss);
	}
	ss->spilled = !tuplestore_in_memory(ss->store);
	ts_payload_return(ss);
	MemoryContextReset(ss->batch_cxt);
	ss->rows = NULL;
	ss->rows_len = ss->pos = 0;
}

/* Does the expression use a PARAM_EXEC (a value the executor sets later)? */
static bool
has_exec_param(Node *n, void *context)
{
	if (n == NULL)
		return false;
	if (IsA(n, Param))
		return ((Param *) n)->paramkind == PARAM_EXEC;
	return expression_tree_walker(n, has_exec_param, context);
}

static void
start_scan(ForeignScanState *node, TsScanState *ss)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	int			n = list_length(ss->value_states);
	Datum	   *values = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	List	   *ranges;
	bool		all,
				none;
	int			i = 0;
	ListCell   *lc;
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Scan scan = TREESTORE__SCAN__INIT;
	MemoryContext old;
	List	   *conds = NIL;
	int			k = 0;

	ss->started = true;
	ss->done = false;
	ss->scan_id = 0;			/* none in the worker until its first batch */
	ss->rows = NULL;
	ss->rows_len = ss->pos = 0;
	/* values[k] goes with the k-th condition used */
	foreach(lc, ss->value_states)
	{
		/* a whole read leaves out what the executor sets later */
		if (!(ss->whole && ss->deferred[i]))
		{
			values[k] = ExecEvalExpr((ExprState *) lfirst(lc), econtext, &nulls[k]);
			conds = lappend(conds, list_nth(ss->conds, i));
			k++;
		}
		i++;
	}
	ts_payload_return(ss);
	MemoryContextReset(ss->batch_cxt);
	old = MemoryContextSwitchTo(ss->batch_cxt);
	ranges = ts_key_ranges(ss->table->store, conds, values, nulls, &all, &none);
	if (none)
	{
		ss->done = true;
		MemoryContextSwitchTo(old);
		return;
	}
	ss->stmt = ts_xact_statement();
	scan.table = (char *) ss->table->store->name;
	scan.n_ranges = list_length(ranges);
	if (scan.n_ranges > 0)
	{
		scan.ranges = palloc(sizeof(Treestore__KeyRange *) * scan.n_ranges);
		i = 0;
		foreach(lc, ranges)
		{
			KeyRangeBuf *r = lfirst(lc);
			Treestore__KeyRange *kr = palloc(sizeof(Treestore__KeyRange));

			treestore__key_range__init(kr);
			kr->lo.data = r->lo;
			kr->lo.len = r->lolen;
			kr->hi.data = r->hi;
			kr->hi.len = r->hilen;
			scan.ranges[i++] = kr;
		}
	}
	scan.batch_rows = TS_BATCH_ROWS;
	scan.batch_bytes = TS_BATCH_BYTES;
	req.op_case = TREESTORE__REQUEST__OP_SCAN;
	req.scan = &scan;
	/* a statement that writes treestore reads through the worker */
	take_batch(ss, ts_read_request(&req, ss->writes_treestore));
	ss->local = ts_local_last_served;
	MemoryContextSwitchTo(old);
	if (ss->materialize)
		materialize_scan(node, ss);
}

static TupleTableSlot *
tsIterateForeignScan(ForeignScanState *node)
{
	TsScanState *ss = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (!ss->started)
		start_scan(node, ss);
	if (ss->store)
	{
		/*
		 * A tuple read back from disk is allocated here and freed by the slot
		 * at the next one: not in the per-tuple context, which is reset first.
		 */
		MemoryContext old = MemoryContextSwitchTo(node->ss.ps.state->es_query_cxt);
		bool		found = tuplestore_gettupleslot(ss->store, true, false, ss->store_slot);

		MemoryContextSwitchTo(old);
		if (!found)
			return ExecClearTuple(slot);
		return ExecCopySlot(slot, ss->store_slot);
	}
	for (;;)
	{
		if (next_row(ss, slot))
			return slot;
		if (ss->done)
			return ExecClearTuple(slot);
		fetch_more(ss);
	}
}

static void
close_scan(TsScanState *ss)
{
	ts_payload_return(ss);
	if (ss->started && !ss->done)
		ts_read_close(ss->scan_id);
	if (ss->store)
	{
		tuplestore_end(ss->store);
		ss->store = NULL;
	}
	ss->started = false;
	ss->done = false;
}

static void
forget_open_scan(void *arg)
{
	TsScanState *ss = arg;

	dlist_delete(&ss->open_node);
}

void
ts_fdw_drain_scans(uint32 stmt)
{
	dlist_iter	it;

	dlist_foreach(it, &open_scans)
	{
		TsScanState *ss = dlist_container(TsScanState, open_node, it.cur);

		/* a scan read here keeps its own snapshot: nothing to do */
		if (ss->scan_id != 0 && !ss->local && ss->started && !ss->done && ss->store == NULL &&
			ss->stmt != stmt)
		{
			materialize_scan(ss->node, ss);
			ss->drained = true;
		}
	}
}

static void
tsReScanForeignScan(ForeignScanState *node)
{
	TsScanState *ss = node->fdw_state;

	if (ss->whole && ss->store)
	{
		tuplestore_rescan(ss->store);	/* read once, at executor start */
		return;
	}
	close_scan(ss);
}

static void
tsEndForeignScan(ForeignScanState *node)
{
	TsScanState *ss = node->fdw_state;

	if (ss && ss->table)
		close_scan(ss);
}

static void
tsExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	TsScanState *ss = node->fdw_state;
	const ts_store *st = ts_table_store(RelationGetRelid(node->ss.ss_currentRelation));
	const char *conds = cond_text(st, list_nth(fs->fdw_private, FdwScanCondCols),
								  list_nth(fs->fdw_private, FdwScanCondOps), fs->fdw_exprs);

	ExplainPropertyText("TreeStore Table", st->name, es);
	ExplainPropertyText("Access", strVal(list_nth(fs->fdw_private, FdwScanAccess)), es);
	if (conds[0] != '\0')
		ExplainPropertyText("Key Conditions", conds, es);
	if (es->analyze && ss)
	{
		if (ss->local)
		{
			/* read in this backend (local.c): batches, no round trip */
			ExplainPropertyText("Read In", "backend", es);
			ExplainPropertyInteger("Batches", NULL, (int64) ss->round_trips, es);
		}
		else
			ExplainPropertyInteger("Round Trips", NULL, (int64) ss->round_trips, es);
		ExplainPropertyInteger("Rows Fetched", NULL, (int64) ss->rows_fetched, es);
		if (ss->materialize || ss->drained)
			ExplainPropertyText("Materialized", ss->spilled ? "disk" : "memory", es);
	}
}

Datum
treestore_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	/* scans */
	routine->GetForeignRelSize = tsGetForeignRelSize;
	routine->GetForeignPaths = tsGetForeignPaths;
	routine->GetForeignPlan = tsGetForeignPlan;
	routine->BeginForeignScan = tsBeginForeignScan;
	routine->IterateForeignScan = tsIterateForeignScan;
	routine->ReScanForeignScan = tsReScanForeignScan;
	routine->EndForeignScan = tsEndForeignScan;
	/* EXPLAIN */
	routine->ExplainForeignScan = tsExplainForeignScan;
	/* INSERT / UPDATE / DELETE */
	ts_fdw_modify_routines(routine);
	PG_RETURN_POINTER(routine);
}
