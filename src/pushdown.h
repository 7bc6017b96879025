/*-------------------------------------------------------------------------
 *
 * pushdown.h
 *	  Which quals narrow a scan to key ranges (pushdown.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_PUSHDOWN_H
#define TS_PUSHDOWN_H

#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"

#include "stores.h"
#include "tables.h"

typedef enum KeyOp
{
	KEY_EQ = 1,
	KEY_IN,						/* col = ANY(array) */
	KEY_LT,
	KEY_LE,
	KEY_GT,
	KEY_GE
} KeyOp;

/* A qual "key column <op> value" that can narrow the scan. */
typedef struct KeyCond
{
	int			col;			/* store key column */
	KeyOp		op;
	Expr	   *value;			/* the other side: no Var of this relation */
	Oid			valtype;		/* its type (IN: the element type); an
								 * integer column takes any integer type */
} KeyCond;

/*
 * The usable quals among clauses (RestrictInfos or bare Exprs), as a List of
 * KeyCond.  outer_vars: the value side may hold Vars of other relations
 * (parameterized paths); otherwise only constants, Params and stable
 * functions.
 */
extern List *ts_key_conds(PlannerInfo *root, RelOptInfo *baserel, const ts_store *st,
						  Oid relid, List *clauses, bool outer_vars);

/*
 * The conditions that narrow the scan: an equality (or IN) per leading key
 * column, then bounds on the first column without one.  The rest can only
 * be filters.
 */
extern List *ts_key_conds_narrowing(const ts_store *st, List *conds);

/* Append a condition's value to a key being built. */
extern void ts_key_append_value(ts_keybuf *kb, ts_coltype type, Oid valtype, Datum value);

/* Do the conditions fix every key column (at most one row)? */
extern bool ts_key_conds_unique(const ts_store *st, List *conds);

/* "point lookup", "key prefix", "key range" or "full scan". */
extern const char *ts_key_access(const ts_store *st, List *conds);

/*
 * Key ranges for evaluated conditions: values[i]/nulls[i] are the values of
 * conds' i-th entry.  Returns a List of (lo, hi) pairs as bytea-like
 * StringInfos in key order, or NIL with *all = true for the whole table;
 * *none = true when no row can match (a NULL compared, an empty IN).
 */
typedef struct KeyRangeBuf
{
	uint8	   *lo;
	size_t		lolen;
	uint8	   *hi;
	size_t		hilen;
} KeyRangeBuf;

extern List *ts_key_ranges(const ts_store *st, List *conds, Datum *values, bool *nulls,
						   bool *all, bool *none);

#endif							/* TS_PUSHDOWN_H */
