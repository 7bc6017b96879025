/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  Foreign tables <-> engine rows: which store a foreign table is, which
 *	  attribute is which column, and Datums <-> the engine's key tuples and
 *	  records (engine/stores.h).  Conversions run in the backend; the worker
 *	  only moves bytes.
 *
 *	  A foreign table must declare every column of its store, by name, with
 *	  the store's type (in any order); anything else is an error naming the
 *	  column, so a row can never be half-written or read into the wrong
 *	  column.
 *
 *	  Only the extension's own foreign tables (members of extension
 *	  treestore_fdw, made by its script) map the engine's stores: a foreign
 *	  table anyone with USAGE on the server made would read and write the
 *	  stores past the grants on treestore.*.  The validator refuses to
 *	  create one (fdw.c) and ts_table_store refuses to use one made before.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/acl.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "tables.h"

Oid
ts_coltype_oid(ts_coltype type)
{
	switch (type)
	{
		case TS_COL_TEXT:
			return TEXTOID;
		case TS_COL_INT4:
			return INT4OID;
		case TS_COL_INT8:
			return INT8OID;
		case TS_COL_FLOAT4:
			return FLOAT4OID;
		case TS_COL_FLOAT8:
			return FLOAT8OID;
		case TS_COL_BOOL:
			return BOOLOID;
		case TS_COL_DATE:
			return DATEOID;
		case TS_COL_TIMESTAMPTZ:
			return TIMESTAMPTZOID;
		case TS_COL_JSONB:
			return JSONBOID;
		case TS_COL_TEXT_ARRAY:
			return TEXTARRAYOID;
	}
	return InvalidOid;
}

/* ---------- only the extension's own foreign tables ---------- */

/* Is the extension script (or pg_upgrade restoring it) running now? */
bool
ts_creating_own_tables(void)
{
	if (IsBinaryUpgrade)
		return true;			/* pg_upgrade adds the members one by one */
	return creating_extension &&
		CurrentExtensionObject == get_extension_oid("treestore_fdw", true);
}

/*
 * Relations found to be the extension's, for this backend: a member stays
 * one until the extension is dropped, which drops the relation too (and
 * invalidates it).
 */
static Oid	own_rels[32];
static int	n_own_rels = 0;
static bool own_rels_callback = false;

/* ts_table_open's mappings, by relation (freed on any relcache invalidation) */
static TsTable *mapped[32];
static int	n_mapped = 0;

static void
own_rels_invalidate(Datum arg, Oid relid)
{
	n_own_rels = 0;
	for (int i = 0; i < n_mapped; i++)
		pfree(mapped[i]);
	n_mapped = 0;
}

static void
require_own_table(Oid relid)
{
	Oid			ext;

	for (int i = 0; i < n_own_rels; i++)
		if (own_rels[i] == relid)
			return;
	ext = get_extension_oid("treestore_fdw", true);
	if (!OidIsValid(ext) || getExtensionOfObject(RelationRelationId, relid) != ext)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("foreign table \"%s\" is not one of treestore_fdw's tables",
						get_rel_name(relid)),
				 errdetail("Only the foreign tables made by the extension in schema treestore map the engine's tables; their grants guard the data."),
				 errhint("Use the tables of schema treestore, or a view on them.")));
	if (!own_rels_callback)
	{
		CacheRegisterRelcacheCallback(own_rels_invalidate, (Datum) 0);
		own_rels_callback = true;
	}
	if (n_own_rels == lengthof(own_rels))
		n_own_rels = 0;
	own_rels[n_own_rels++] = relid;
}

const ts_store *
ts_table_store(Oid relid)
{
	ForeignTable *ft;
	const char *name = NULL;
	const ts_store *st;
	ListCell   *lc;

	require_own_table(relid);
	ft = GetForeignTable(relid);

	foreach(lc, ft->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "table") == 0)
			name = defGetString(d);
	}
	if (name == NULL)
		name = get_rel_name(relid);
	st = ts_store_find(name);
	if (st == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("treestore has no table \"%s\"", name),
				 errhint("Set the foreign table's option \"table\" to one of: documents, versions, nodes, cross_references, tool_results, trajectories, prompts, prompt_usage.")));
	return st;
}

static TsTable *
table_map(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TsTable    *t = palloc0(offsetof(TsTable, col_of_att) + sizeof(int) * Max(desc->natts, 1));

	t->store = ts_table_store(RelationGetRelid(rel));
	t->relid = RelationGetRelid(rel);
	t->natts = desc->natts;
	for (int c = 0; c < TS_STORE_MAX_COLS; c++)
		t->att_of_col[c] = InvalidAttrNumber;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;

		t->col_of_att[i] = -1;
		if (att->attisdropped)
			continue;
		c = ts_store_colno(t->store, NameStr(att->attname));
		if (c < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("treestore table \"%s\" has no column \"%s\"",
							t->store->name, NameStr(att->attname)),
					 errdetail("Foreign table \"%s\" must declare the columns of treestore table \"%s\" and no others.",
							   RelationGetRelationName(rel), t->store->name)));
		if (att->atttypid != ts_coltype_oid(t->store->cols[c].type))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, but treestore stores %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid),
							format_type_be(ts_coltype_oid(t->store->cols[c].type)))));
		t->col_of_att[i] = c;
		t->att_of_col[c] = att->attnum;
	}
	for (int c = 0; c < t->store->ncols; c++)
		if (t->att_of_col[c] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" lacks column \"%s\" of treestore table \"%s\"",
							RelationGetRelationName(rel), t->store->cols[c].name, t->store->name)));
	return t;
}

TsTable *
ts_table_open(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TsTable    *t = NULL,
			   *copy;
	Size		size;

	for (int i = 0; i < n_mapped; i++)
		if (mapped[i]->relid == relid)
			t = mapped[i];
	if (t == NULL)
	{
		TsTable    *m = table_map(rel); /* raises before anything is kept */

		size = offsetof(TsTable, col_of_att) + sizeof(int) * Max(m->natts, 1);
		t = MemoryContextAlloc(CacheMemoryContext, size);
		memcpy(t, m, size);
		pfree(m);
		if (!own_rels_callback)
		{
			CacheRegisterRelcacheCallback(own_rels_invalidate, (Datum) 0);
			own_rels_callback = true;
		}
		if (n_mapped == lengthof(mapped))
			own_rels_invalidate((Datum) 0, InvalidOid);
		mapped[n_mapped++] = t;
	}
	else
		require_own_table(relid);	/* the privilege rule, checked every time */
	size = offsetof(TsTable, col_of_att) + sizeof(int) * Max(t->natts, 1);
	copy = palloc(size);
	memcpy(copy, t, size);
	return copy;
}

/* ---------- Datum -> engine ---------- */

static void
datum_to_colval(ts_coltype type, Datum d, ts_colval *v, ts_buf *arr)
{
	memset(v, 0, sizeof(*v));
	switch (type)
	{
		case TS_COL_TEXT:
			{
				text	   *t = DatumGetTextPP(d);

				v->data = (const uint8 *) VARDATA_ANY(t);
				v->len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case TS_COL_JSONB:
			{
				Jsonb	   *j = DatumGetJsonbP(d);

				v->data = (const uint8 *) VARDATA(j);
				v->len = VARSIZE(j) - VARHDRSZ;
				break;
			}
		case TS_COL_INT4:
			v->i = DatumGetInt32(d);
			break;
		case TS_COL_INT8:
			v->i = DatumGetInt64(d);
			break;
		case TS_COL_DATE:
			v->i = DatumGetDateADT(d);
			break;
		case TS_COL_TIMESTAMPTZ:
			v->i = DatumGetTimestampTz(d);
			break;
		case TS_COL_BOOL:
			v->i = DatumGetBool(d) ? 1 : 0;
			break;
		case TS_COL_FLOAT4:
			v->f = DatumGetFloat4(d);
			break;
		case TS_COL_FLOAT8:
			v->f = DatumGetFloat8(d);
			break;
		case TS_COL_TEXT_ARRAY:
			{
				ArrayType  *a = DatumGetArrayTypeP(d);
				Datum	   *elems;
				bool	   *nulls;
				int			n;

				if (ARR_NDIM(a) > 1)
					ereport(ERROR,
							(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
							 errmsg("treestore stores one-dimensional text arrays only")));
				deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
				arr->len = 0;
				for (int i = 0; i < n; i++)
				{
					text	   *t = nulls[i] ? NULL : DatumGetTextPP(elems[i]);

					if (ts_rec_array_add(arr, t ? VARDATA_ANY(t) : NULL,
										 t ? VARSIZE_ANY_EXHDR(t) : 0, nulls[i]) != 0)
						ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
				}
				v->data = arr->data;
				v->len = arr->len;
				v->nelems = (uint32) n;
				break;
			}
	}
}

void
ts_key_append(ts_keybuf *kb, ts_coltype type, Datum value)
{
	if (type == TS_COL_TEXT)
	{
		text	   *t = DatumGetTextPP(value);

		ts_key_add_text(kb, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	else if (type == TS_COL_INT4)
		ts_key_add_int64(kb, DatumGetInt32(value));
	else if (type == TS_COL_INT8)
		ts_key_add_int64(kb, DatumGetInt64(value));
	else
		elog(ERROR, "treestore key column of unexpected type %d", (int) type);
}

void
ts_row_encode(TsTable *t, Datum *values, bool *isnull,
			  uint8 *key, size_t *klen, ts_buf *rec)
{
	const ts_store *st = t->store;
	ts_colval	row[TS_STORE_MAX_COLS];
	ts_buf		arrays[TS_STORE_MAX_COLS];
	int			rc;

	memset(arrays, 0, sizeof(arrays));
	for (int c = 0; c < st->ncols; c++)
	{
		int			a = t->att_of_col[c] - 1;

		if (isnull[a])
		{
			memset(&row[c], 0, sizeof(ts_colval));
			row[c].isnull = 1;
			if (c < st->nkeys && !(st->assigned_id && c == 0))
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
								st->cols[c].name, get_rel_name(t->relid)),
						 errdetail("Column \"%s\" is part of the key of treestore table \"%s\".",
								   st->cols[c].name, st->name)));
			continue;
		}
		datum_to_colval(st->cols[c].type, values[a], &row[c], &arrays[c]);
	}
	if (st->assigned_id && row[0].isnull)
		*klen = 0;
	else if ((rc = ts_store_key(st, row, st->nkeys, key, klen)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key of treestore table \"%s\" is too long", st->name),
				 errdetail("Key columns together may take at most %d bytes.", TS_MAX_KEY)));
	rc = ts_rec_encode(st, row, rec);
	for (int c = 0; c < st->ncols; c++)
		ts_buf_free(&arrays[c]);
	if (rc != 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/* ---------- engine -> Datum ---------- */

Datum
ts_colval_to_datum(ts_coltype type, const ts_colval *v)
{
	switch (type)
	{
		case TS_COL_TEXT:
			return PointerGetDatum(cstring_to_text_with_len((const char *) v->data, (int) v->len));
		case TS_COL_JSONB:
			{
				Jsonb	   *j = palloc(VARHDRSZ + v->len);

				SET_VARSIZE(j, VARHDRSZ + v->len);
				memcpy(VARDATA(j), v->data, v->len);
				return JsonbPGetDatum(j);
			}
		case TS_COL_INT4:
			return Int32GetDatum((int32) v->i);
		case TS_COL_INT8:
			return Int64GetDatum(v->i);
		case TS_COL_DATE:
			return DateADTGetDatum((DateADT) v->i);
		case TS_COL_TIMESTAMPTZ:
			return TimestampTzGetDatum(v->i);
		case TS_COL_BOOL:
			return BoolGetDatum(v->i != 0);
		case TS_COL_FLOAT4:
			return Float4GetDatum((float4) v->f);
		case TS_COL_FLOAT8:
			return Float8GetDatum(v->f);
		case TS_COL_TEXT_ARRAY:
			{
				Datum	   *elems = palloc(sizeof(Datum) * Max(v->nelems, 1));
				bool	   *nulls = palloc(sizeof(bool) * Max(v->nelems, 1));
				int			dims[1] = {(int) v->nelems};
				int			lbs[1] = {1};
				size_t		pos = 0;

				for (uint32 i = 0; i < v->nelems; i++)
				{
					int			isnull;
					const uint8 *d;
					size_t		len;

					if (ts_rec_array_next(v, &pos, &isnull, &d, &len) != 0)
						ereport(ERROR,
								(errcode(ERRCODE_DATA_CORRUPTED),
								 errmsg("malformed text array in a treestore row")));
					nulls[i] = isnull != 0;
					elems[i] = isnull ? (Datum) 0
						: PointerGetDatum(cstring_to_text_with_len((const char *) d, (int) len));
				}
				if (v->nelems == 0)
					return PointerGetDatum(construct_empty_array(TEXTOID));
				return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
														  TEXTOID, -1, false, TYPALIGN_INT));
			}
	}
	return (Datum) 0;
}

void
ts_colvals_decode(const ts_store *st, const uint8 *key, size_t klen,
				  const uint8 *rec, size_t rlen, ts_colval *row, uint8 *scratch)
{
	if (ts_store_key_decode(st, key, klen, row, scratch, TS_MAX_KEY) != 0 ||
		ts_rec_decode(st, rec, rlen, row) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("malformed row in treestore table \"%s\"", st->name)));
}

void
ts_row_decode(TsTable *t, const uint8 *key, size_t klen,
			  const uint8 *rec, size_t rlen, Datum *values, bool *isnull,
			  const bool *need)
{
	const ts_store *st = t->store;
	ts_colval	row[TS_STORE_MAX_COLS];
	uint8		scratch[TS_MAX_KEY];

	ts_colvals_decode(st, key, klen, rec, rlen, row, scratch);
	for (int i = 0; i < t->natts; i++)
		isnull[i] = true;
	for (int c = 0; c < st->ncols; c++)
	{
		int			a = t->att_of_col[c] - 1;

		if (need && !need[a])
			continue;
		isnull[a] = row[c].isnull != 0;
		values[a] = row[c].isnull ? (Datum) 0 : ts_colval_to_datum(st->cols[c].type, &row[c]);
	}
}

/* ---------- privileges of the C functions ---------- */

void
ts_require_access(const char *table, AclMode modes)
{
	static const AclMode each[] = {ACL_SELECT, ACL_INSERT, ACL_UPDATE, ACL_DELETE};
	Oid			nsp = get_namespace_oid("treestore", false);
	Oid			relid = get_relname_relid(table, nsp);
	Oid			user = GetUserId();

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("foreign table \"treestore.%s\" does not exist", table),
				 errhint("The function reads and writes the extension's own tables; recreate the extension.")));
	for (int i = 0; i < lengthof(each); i++)
	{
		AclMode		m = each[i];

		if (!(modes & m) || pg_class_aclcheck(relid, user, m) == ACLCHECK_OK)
			continue;
		/* column grants: the function reads or writes every column */
		if (m != ACL_DELETE &&
			pg_attribute_aclcheck_all(relid, user, m, ACLMASK_ALL) == ACLCHECK_OK)
			continue;
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FOREIGN_TABLE, table);
	}
}
