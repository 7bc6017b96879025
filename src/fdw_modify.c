/*-------------------------------------------------------------------------
 *
 * fdw_modify.c
 *	  INSERT, UPDATE and DELETE on the foreign tables.
 *
 *	  A row is identified by its key columns, carried to UPDATE and DELETE
 *	  as row-identity junk columns ("ts_key_<n>").  INSERT without RETURNING
 *	  is batched (batch_size rows a round trip, server option, default
 *	  1000), so INSERT ... SELECT moves a table in few round trips.  Key
 *	  violations are 23505 (from the worker), NULL keys 23502 (here).
 *	  An id column of tool_results / prompt_usage left NULL is assigned by
 *	  the worker and written back into the row (RETURNING shows it).
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "channel.h"
#include "fdw.h"
#include "search.h"
#include "tables.h"
#include "xact.h"

#define DEFAULT_BATCH_SIZE 1000

typedef struct TsModifyState
{
	TsTable    *table;
	CmdType		operation;
	AttrNumber	key_junk[TS_STORE_MAX_COLS];	/* in the subplan's output */
	MemoryContext temp_cxt;
	ts_buf		rec;
	int			batch_size;
	bool		skip_existing;	/* ON CONFLICT DO NOTHING */
	TupleTableSlot **out;		/* the inserted slots of a batch */
	int			nout;
	Datum	   *values;
	bool	   *nulls;
} TsModifyState;

static void
tsAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						  RangeTblEntry *target_rte, Relation target_relation)
{
	const ts_store *st = ts_table_store(RelationGetRelid(target_relation));

	for (int c = 0; c < st->nkeys; c++)
	{
		AttrNumber	attno = get_attnum(RelationGetRelid(target_relation), st->cols[c].name);
		Oid			type;
		int32		typmod;
		Oid			coll;
		char		name[32];

		if (attno == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" lacks key column \"%s\"",
							RelationGetRelationName(target_relation), st->cols[c].name)));
		get_atttypetypmodcoll(RelationGetRelid(target_relation), attno, &type, &typmod, &coll);
		snprintf(name, sizeof(name), "ts_key_%d", c);
		add_row_identity_var(root, makeVar(rtindex, attno, type, typmod, coll, 0),
							 rtindex, pstrdup(name));
	}
}

static int
server_batch_size(Oid relid)
{
	ForeignServer *server = GetForeignServer(GetForeignTable(relid)->serverid);
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, "batch_size") == 0)
			return atoi(defGetString(d));	/* checked by the validator */
	}
	return DEFAULT_BATCH_SIZE;
}

static void
tsBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, int eflags)
{
	TsModifyState *ms = palloc0(sizeof(TsModifyState));
	Relation	rel = rinfo->ri_RelationDesc;

	rinfo->ri_FdwState = ms;
	ms->batch_size = server_batch_size(RelationGetRelid(rel));
	ms->skip_existing = fdw_private != NIL && intVal(linitial(fdw_private)) != 0;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	ms->table = ts_table_open(rel);
	ms->operation = mtstate->operation;
	ms->temp_cxt = AllocSetContextCreate(mtstate->ps.state->es_query_cxt,
										 "treestore modify", ALLOCSET_DEFAULT_SIZES);
	ms->values = palloc(sizeof(Datum) * ms->table->natts);
	ms->nulls = palloc(sizeof(bool) * ms->table->natts);
	if (ms->operation == CMD_UPDATE || ms->operation == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		for (int c = 0; c < ms->table->store->nkeys; c++)
		{
			char		name[32];

			snprintf(name, sizeof(name), "ts_key_%d", c);
			ms->key_junk[c] = ExecFindJunkAttributeInTlist(subplan->targetlist, name);
			if (!AttributeNumberIsValid(ms->key_junk[c]))
				elog(ERROR, "could not find junk column \"%s\"", name);
		}
	}
}

/* fdw_private of the modification: ON CONFLICT DO NOTHING or not. */
static List *
tsPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					int subplan_index)
{
	if (plan->onConflictAction != ONCONFLICT_NONE &&
		plan->onConflictAction != ONCONFLICT_NOTHING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("treestore foreign tables support ON CONFLICT DO NOTHING only")));
	return list_make1(makeInteger(plan->onConflictAction == ONCONFLICT_NOTHING ? 1 : 0));
}

/* COPY into a foreign table, and rows routed to it as a partition. */
static void
tsBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	ModifyTable *plan = mtstate ? (ModifyTable *) mtstate->ps.plan : NULL;
	List	   *priv = NIL;

	if (plan && plan->onConflictAction == ONCONFLICT_NOTHING)
		priv = list_make1(makeInteger(1));
	else if (plan && plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("treestore foreign tables support ON CONFLICT DO NOTHING only")));
	tsBeginForeignModify(mtstate ? mtstate : NULL, rinfo, priv, 0, 0);
	((TsModifyState *) rinfo->ri_FdwState)->operation = CMD_INSERT;
}

static void
tsEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	TsModifyState *ms = rinfo->ri_FdwState;

	if (ms)
		ts_buf_free(&ms->rec);
}

/* Send ops; returns the response (in the current context). */
static Treestore__Response *
send_ops(TsModifyState *ms, Treestore__RowOp **ops, int n)
{
	Treestore__Request req = TREESTORE__REQUEST__INIT;
	Treestore__Modify m = TREESTORE__MODIFY__INIT;
	Treestore__Response *resp;

	ts_xact_request(&req, true);
	m.table = (char *) ms->table->store->name;
	m.n_ops = n;
	m.ops = ops;
	req.op_case = TREESTORE__REQUEST__OP_MODIFY;
	req.modify = &m;
	resp = ts_call(&req);
	ts_xact_request_sent();
	if (resp->modified == NULL)
		elog(ERROR, "treestore worker answered a modification without a result");
	return resp;
}

static Treestore__RowOp *
encode_op(TsModifyState *ms, TupleTableSlot *slot, int kind)
{
	Treestore__RowOp *op = palloc(sizeof(Treestore__RowOp));
	uint8		key[TS_MAX_KEY];
	size_t		klen;

	treestore__row_op__init(op);
	slot_getallattrs(slot);
	ts_row_encode(ms->table, slot->tts_values, slot->tts_isnull, key, &klen, &ms->rec);
	op->kind = kind;
	op->key.data = palloc(Max(klen, 1));
	memcpy(op->key.data, key, klen);
	op->key.len = klen;
	op->record.data = palloc(ms->rec.len);
	memcpy(op->record.data, ms->rec.data, ms->rec.len);
	op->record.len = ms->rec.len;
	if (kind != TREESTORE__ROW_OP__KIND__DELETE)
		ts_search_node_terms(ms->table->store, op->record.data, op->record.len, &op->terms);
	return op;
}

/* Put an assigned id into the slot's id column (the first key column). */
static void
set_assigned_id(TsModifyState *ms, TupleTableSlot *slot, int64 id)
{
	int			natts = slot->tts_tupleDescriptor->natts;
	AttrNumber	a = ms->table->att_of_col[0] - 1;

	slot_getallattrs(slot);
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(slot->tts_tupleDescriptor, i);

		ms->nulls[i] = slot->tts_isnull[i];
		ms->values[i] = slot->tts_isnull[i] ? (Datum) 0
			: datumCopy(slot->tts_values[i], att->attbyval, att->attlen);
	}
	ms->values[a] = Int64GetDatum(id);
	ms->nulls[a] = false;
	ExecClearTuple(slot);
	memcpy(slot->tts_values, ms->values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, ms->nulls, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
}

static TupleTableSlot **
insert_slots(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots, int *numSlots)
{
	TsModifyState *ms = rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(ms->temp_cxt);
	Treestore__RowOp **ops = palloc(sizeof(Treestore__RowOp *) * *numSlots);
	Treestore__Response *resp;
	int			next_id = 0;

	int			kept = 0;
	TupleTableSlot **out;

	/* the returned array is ours: PostgreSQL owns (and frees) slots[] */
	if (ms->nout < *numSlots)
	{
		ms->out = MemoryContextAlloc(estate->es_query_cxt, sizeof(TupleTableSlot *) * *numSlots);
		ms->nout = *numSlots;
	}
	out = ms->out;
	for (int i = 0; i < *numSlots; i++)
	{
		ops[i] = encode_op(ms, slots[i], TREESTORE__ROW_OP__KIND__INSERT);
		ops[i]->skip_existing = ms->skip_existing;
	}
	resp = send_ops(ms, ops, *numSlots);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < *numSlots; i++)
	{
		if (ops[i]->key.len == 0)
		{
			if ((size_t) next_id >= resp->modified->n_assigned_ids)
				elog(ERROR, "treestore worker assigned too few ids");
			set_assigned_id(ms, slots[i], resp->modified->assigned_ids[next_id++]);
		}
		/* rows skipped by ON CONFLICT DO NOTHING are not returned */
		if (ms->skip_existing && (size_t) i < resp->modified->n_skipped &&
			resp->modified->skipped[i])
			continue;
		out[kept++] = slots[i];
	}
	*numSlots = kept;
	MemoryContextReset(ms->temp_cxt);
	return out;
}

static TupleTableSlot *
tsExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	int			n = 1;
	TupleTableSlot **out = insert_slots(estate, rinfo, &slot, &n);

	return n == 1 ? out[0] : NULL;
}

static TupleTableSlot **
tsExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot **slots, TupleTableSlot **planSlots, int *numSlots)
{
	return insert_slots(estate, rinfo, slots, numSlots);
}

static int
tsGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	TsModifyState *ms = rinfo->ri_FdwState;

	/* RETURNING and row triggers need each row back as it is inserted */
	if (ms == NULL || rinfo->ri_projectReturning != NULL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	return ms->batch_size;
}

/* The old key from the subplan's junk columns. */
static void
old_key(TsModifyState *ms, TupleTableSlot *planSlot, uint8 *key, size_t *klen)
{
	const ts_store *st = ms->table->store;
	ts_keybuf	kb;

	ts_key_init(&kb);
	for (int c = 0; c < st->nkeys; c++)
	{
		bool		isnull;
		Datum		d = ExecGetJunkAttribute(planSlot, ms->key_junk[c], &isnull);

		if (isnull)
			elog(ERROR, "treestore row identity is NULL");
		ts_key_append(&kb, st->cols[c].type, d);
	}
	if (kb.overflow)
		elog(ERROR, "treestore row identity is too long");
	memcpy(key, kb.buf, kb.len);
	*klen = kb.len;
}

static TupleTableSlot *
tsExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	TsModifyState *ms = rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(ms->temp_cxt);
	Treestore__RowOp *op = encode_op(ms, slot, TREESTORE__ROW_OP__KIND__UPDATE);
	uint8		okey[TS_MAX_KEY];
	size_t		oklen;
	Treestore__Response *resp;

	if (op->key.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
						ms->table->store->cols[0].name,
						RelationGetRelationName(rinfo->ri_RelationDesc))));
	old_key(ms, planSlot, okey, &oklen);
	if (oklen != op->key.len || memcmp(okey, op->key.data, oklen) != 0)
	{
		op->old_key.data = palloc(oklen);
		memcpy(op->old_key.data, okey, oklen);
		op->old_key.len = oklen;
	}
	resp = send_ops(ms, &op, 1);
	MemoryContextSwitchTo(old);
	MemoryContextReset(ms->temp_cxt);
	return resp ? slot : NULL;
}

static TupleTableSlot *
tsExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	TsModifyState *ms = rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(ms->temp_cxt);
	Treestore__RowOp *op = palloc(sizeof(Treestore__RowOp));
	uint8		key[TS_MAX_KEY];
	size_t		klen;
	Treestore__Response *resp;
	bool		want_old = rinfo->ri_projectReturning != NULL;

	treestore__row_op__init(op);
	old_key(ms, planSlot, key, &klen);
	op->kind = TREESTORE__ROW_OP__KIND__DELETE;
	op->key.data = key;
	op->key.len = klen;
	op->want_old = want_old;
	resp = send_ops(ms, &op, 1);
	MemoryContextSwitchTo(old);
	if (resp->modified->affected == 0)
	{
		MemoryContextReset(ms->temp_cxt);
		return NULL;			/* already gone: not counted */
	}
	if (want_old)
	{
		size_t		pos = 0;
		const uint8 *k,
				   *r;
		size_t		kl,
					rl;

		if (!ts_batch_next(resp->modified->old_rows.data, resp->modified->old_rows.len,
						   &pos, &k, &kl, &r, &rl))
			elog(ERROR, "treestore worker did not return the deleted row");
		ExecClearTuple(slot);
		ts_row_decode(ms->table, k, kl, r, rl, slot->tts_values, slot->tts_isnull, NULL);
		ExecStoreVirtualTuple(slot);
		ExecMaterializeSlot(slot);
	}
	MemoryContextReset(ms->temp_cxt);
	return slot;
}

static void
tsEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	TsModifyState *ms = rinfo->ri_FdwState;

	if (ms)
		ts_buf_free(&ms->rec);
}

static int
tsIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

static void
tsExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					   List *fdw_private, int subplan_index, ExplainState *es)
{
	TsModifyState *ms = rinfo->ri_FdwState;

	if (es->verbose && mtstate->operation == CMD_INSERT && ms)
		ExplainPropertyInteger("Batch Size", NULL, tsGetForeignModifyBatchSize(rinfo), es);
}

/*
 * TRUNCATE: every row goes, in the transaction (undone by ROLLBACK).
 * RESTART IDENTITY does not reset assigned ids: ids are never reused.
 */
static void
tsExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	ListCell   *lc;

	foreach(lc, rels)
	{
		Relation	rel = lfirst(lc);
		Treestore__Request req = TREESTORE__REQUEST__INIT;
		Treestore__Truncate t = TREESTORE__TRUNCATE__INIT;

		ts_xact_request(&req, true);
		t.table = (char *) ts_table_store(RelationGetRelid(rel))->name;
		req.op_case = TREESTORE__REQUEST__OP_TRUNCATE;
		req.truncate = &t;
		(void) ts_call(&req);
		ts_xact_request_sent();
	}
}

void
ts_fdw_modify_routines(FdwRoutine *routine)
{
	routine->ExecForeignTruncate = tsExecForeignTruncate;
	routine->AddForeignUpdateTargets = tsAddForeignUpdateTargets;
	routine->PlanForeignModify = tsPlanForeignModify;
	routine->BeginForeignModify = tsBeginForeignModify;
	routine->BeginForeignInsert = tsBeginForeignInsert;
	routine->EndForeignInsert = tsEndForeignInsert;
	routine->ExecForeignInsert = tsExecForeignInsert;
	routine->ExecForeignBatchInsert = tsExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = tsGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = tsExecForeignUpdate;
	routine->ExecForeignDelete = tsExecForeignDelete;
	routine->EndForeignModify = tsEndForeignModify;
	routine->IsForeignRelUpdatable = tsIsForeignRelUpdatable;
	routine->ExplainForeignModify = tsExplainForeignModify;
}
