/*-------------------------------------------------------------------------
 *
 * tables.h
 *	  Foreign tables <-> engine rows (tables.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_TABLES_H
#define TS_TABLES_H

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "utils/rel.h"

#include "stores.h"
#include "treestore.h"

typedef struct TsTable
{
	const ts_store *store;
	Oid			relid;
	int			natts;
	AttrNumber	att_of_col[TS_STORE_MAX_COLS];	/* column -> attnum */
	int			col_of_att[FLEXIBLE_ARRAY_MEMBER];	/* attnum - 1 -> column, -1 dropped */
} TsTable;

/*
 * Map rel's columns onto its store; raises on any mismatch.  A copy in the
 * current memory context of a mapping kept per relation until its relcache
 * entry is invalidated (every scan and modify opens one).
 */
extern TsTable *ts_table_open(Relation rel);

/*
 * A C function touches the foreign table treestore.<table>: check that the
 * current user holds every privilege in modes (ACL_SELECT, ACL_INSERT,
 * ACL_UPDATE, ACL_DELETE) on it -- on the table, or for SELECT, INSERT and
 * UPDATE on all of its columns -- as if the SQL were run; else 42501.
 */
extern void ts_require_access(const char *table, AclMode modes);

/* The store a foreign table maps to (option "table", else its name). */
extern const ts_store *ts_table_store(Oid relid);

/* the extension's script (or pg_upgrade) is creating its own tables now */
extern bool ts_creating_own_tables(void);

/*
 * Encode a row given by attribute (values/isnull indexed by attnum - 1).
 * key empty (*klen 0): an assigned-id table's NULL id.  A NULL in another
 * key column raises 23502.
 */
extern void ts_row_encode(TsTable *t, Datum *values, bool *isnull,
						  uint8 *key, size_t *klen, ts_buf *rec);

/*
 * Decode a row's key and record into row[0..ncols) (key text goes to
 * scratch, TS_MAX_KEY bytes); a malformed row
 * raises XX001 (data corrupted).
 */
extern void ts_colvals_decode(const ts_store *st, const uint8 *key, size_t klen,
							  const uint8 *rec, size_t rlen, ts_colval *row, uint8 *scratch);

/*
 * Decode a row into values/isnull by attribute (palloc'd in the current
 * context); need (by attribute, NULL: all) limits which are converted, the
 * others read as NULL.
 */
extern void ts_row_decode(TsTable *t, const uint8 *key, size_t klen,
						  const uint8 *rec, size_t rlen, Datum *values, bool *isnull,
						  const bool *need);

/* Bytewise order, shorter first on a common prefix: the engine's key order. */
static inline int
ts_bytes_cmp(const uint8 *a, size_t alen, const uint8 *b, size_t blen)
{
	int			r = memcmp(a, b, Min(alen, blen));

	if (r != 0)
		return r;
	return (alen > blen) - (alen < blen);
}

/* One decoded column value as a Datum (palloc'd in the current context). */
extern Datum ts_colval_to_datum(ts_coltype type, const ts_colval *v);

/* Append a key column's value to a key being built (pushdown bounds). */
extern void ts_key_append(ts_keybuf *kb, ts_coltype type, Datum value);

/* The PostgreSQL type of a column type. */
extern Oid	ts_coltype_oid(ts_coltype type);

#endif							/* TS_TABLES_H */
