/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *	  Which quals narrow a scan to key ranges, and the ranges themselves.
 *
 *	  Usable: "key column op value" with op a btree operator of the column's
 *	  type (=, <, <=, >, >=; integer columns take any integer operand type;
 *	  text: = only, since text order follows the collation and the engine's
 *	  is bytewise, and only under a deterministic collation, where equal
 *	  means byte-equal), and "key column = ANY(array)".
 *	  The ranges are a superset of the matching rows: every qual stays a
 *	  local filter too, so a range only ever saves work, never decides an
 *	  answer.
 *
 *	  Ranges: equalities (and IN lists, one range per value) on the leading
 *	  key columns make prefixes; bounds on the next column narrow each one.
 *	  Keys are ts_key tuples, so "prefix P" is [P, prefix_end(P)) and
 *	  "col > v" after P starts at prefix_end(P + v).
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "pushdown.h"

#define MAX_RANGES 10000

/* The store key column a Var of baserel is, or -1. */
static int
key_column(Node *n, RelOptInfo *baserel, const ts_store *st, Oid relid)
{
	Var		   *v;
	char	   *name;
	int			c;

	if (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	if (n == NULL || !IsA(n, Var))
		return -1;
	v = (Var *) n;
	if (v->varno != baserel->relid || v->varlevelsup != 0 || v->varattno <= 0)
		return -1;
	name = get_attname(relid, v->varattno, true);
	if (name == NULL)
		return -1;
	c = ts_store_colno(st, name);
	return (c >= 0 && c < st->nkeys) ? c : -1;
}

static bool
value_ok(PlannerInfo *root, RelOptInfo *baserel, Node *value, bool outer_vars)
{
	if (contain_volatile_functions(value))
		return false;
	if (!outer_vars)
		return !contain_var_clause(value);
	return !bms_is_member(baserel->relid, pull_varnos(root, value));
}

/*
 * The engine compares text bytewise: it decides "=" exactly only when the
 * comparison's collation does, i.e. is deterministic (then equal means
 * byte-equal).  Under a nondeterministic collation ('und-u-ks-level2', case-
 * or accent-insensitive) rows that match would never be fetched.
 */
static bool
collation_ok(ts_coltype type, Oid collid)
{
	if (type != TS_COL_TEXT)
		return true;
	return OidIsValid(collid) && get_collation_isdeterministic(collid);
}

static bool
is_integer_type(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID;
}

/*
 * Btree strategy of opno for a column of type typid, or 0.  Text: its own
 * operators only.  Integer columns: any operator of the integer family, so
 * "bigint_col = 42" (int8 = int4) narrows too; values travel as int64.
 */
static int
strategy_of(Oid opno, Oid typid)
{
	Oid			opclass = GetDefaultOpClass(typid, BTREE_AM_OID);
	Oid			ltype,
				rtype;

	if (!OidIsValid(opclass))
		return 0;
	op_input_types(opno, &ltype, &rtype);
	if (is_integer_type(typid))
	{
		if (!is_integer_type(ltype) || !is_integer_type(rtype))
			return 0;
	}
	else if (ltype != typid || rtype != typid)
		return 0;
	return get_op_opfamily_strategy(opno, get_opclass_family(opclass));
}

void
ts_key_append_value(ts_keybuf *kb, ts_coltype type, Oid valtype, Datum value)
{
	if (type == TS_COL_INT4 || type == TS_COL_INT8)
	{
		int64		v = valtype == INT2OID ? DatumGetInt16(value)
			: valtype == INT4OID ? DatumGetInt32(value) : DatumGetInt64(value);

		ts_key_add_int64(kb, v);
	}
	else
		ts_key_append(kb, type, value);
}

static KeyOp
keyop_of(int strategy, bool commuted)
{
	switch (strategy)
	{
		case BTEqualStrategyNumber:
			return KEY_EQ;
		case BTLessStrategyNumber:
			return commuted ? KEY_GT : KEY_LT;
		case BTLessEqualStrategyNumber:
			return commuted ? KEY_GE : KEY_LE;
		case BTGreaterStrategyNumber:
			return commuted ? KEY_LT : KEY_GT;
		case BTGreaterEqualStrategyNumber:
			return commuted ? KEY_LE : KEY_GE;
	}
	return 0;
}

List *
ts_key_conds(PlannerInfo *root, RelOptInfo *baserel, const ts_store *st,
			 Oid relid, List *clauses, bool outer_vars)
{
	List	   *conds = NIL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		Expr	   *clause = (Expr *) lfirst(lc);
		KeyCond    *kc = NULL;

		if (IsA(clause, RestrictInfo))
			clause = ((RestrictInfo *) clause)->clause;

		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;
			Node	   *l = linitial(op->args),
					   *r = lsecond(op->args);
			int			col = key_column(l, baserel, st, relid);
			bool		commuted = false;
			Node	   *value = r;
			int			strategy;
			KeyOp		kop;

			if (col < 0)
			{
				col = key_column(r, baserel, st, relid);
				commuted = true;
				value = l;
			}
			if (col < 0 || !value_ok(root, baserel, value, outer_vars))
				continue;
			strategy = strategy_of(op->opno, ts_coltype_oid(st->cols[col].type));
			kop = keyop_of(strategy, commuted);
			if (kop == 0 || (kop != KEY_EQ && st->cols[col].type == TS_COL_TEXT) ||
				!collation_ok(st->cols[col].type, op->inputcollid))
				continue;
			kc = palloc0(sizeof(KeyCond));
			kc->col = col;
			kc->op = kop;
			kc->value = (Expr *) value;
			kc->valtype = exprType(value);
		}
		else if (IsA(clause, ScalarArrayOpExpr))
		{
			ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
			Node	   *l = linitial(sa->args),
					   *r = lsecond(sa->args);
			int			col = key_column(l, baserel, st, relid);

			if (col < 0 || !sa->useOr || !value_ok(root, baserel, r, outer_vars) ||
				!collation_ok(st->cols[col].type, sa->inputcollid))
				continue;
			if (strategy_of(sa->opno, ts_coltype_oid(st->cols[col].type)) != BTEqualStrategyNumber)
				continue;
			kc = palloc0(sizeof(KeyCond));
			kc->col = col;
			kc->op = KEY_IN;
			kc->value = (Expr *) r;
			kc->valtype = get_element_type(exprType(r));
			if (!OidIsValid(kc->valtype))
				continue;
		}
		if (kc)
			conds = lappend(conds, kc);
	}
	return conds;
}

static KeyCond *
find_cond(List *conds, int col, KeyOp op)
{
	ListCell   *lc;

	foreach(lc, conds)
	{
		KeyCond    *kc = lfirst(lc);

		if (kc->col == col && kc->op == op)
			return kc;
	}
	return NULL;
}

List *
ts_key_conds_narrowing(const ts_store *st, List *conds)
{
	List	   *out = NIL;

	for (int c = 0; c < st->nkeys; c++)
	{
		KeyCond    *eq = find_cond(conds, c, KEY_EQ);
		KeyCond    *lo,
				   *hi;

		if (eq == NULL)
			eq = find_cond(conds, c, KEY_IN);
		if (eq)
		{
			out = lappend(out, eq);
			continue;
		}
		lo = find_cond(conds, c, KEY_GE);
		if (lo == NULL)
			lo = find_cond(conds, c, KEY_GT);
		hi = find_cond(conds, c, KEY_LE);
		if (hi == NULL)
			hi = find_cond(conds, c, KEY_LT);
		if (lo)
			out = lappend(out, lo);
		if (hi)
			out = lappend(out, hi);
		break;
	}
	return out;
}

bool
ts_key_conds_unique(const ts_store *st, List *conds)
{
	for (int c = 0; c < st->nkeys; c++)
		if (!find_cond(conds, c, KEY_EQ))
			return false;
	return true;
}

const char *
ts_key_access(const ts_store *st, List *conds)
{
	bool		any_eq = false;

	if (ts_key_conds_unique(st, conds))
		return "point lookup";
	for (int c = 0; c < st->nkeys; c++)
	{
		if (find_cond(conds, c, KEY_EQ) || find_cond(conds, c, KEY_IN))
		{
			any_eq = true;
			continue;
		}
		if (find_cond(conds, c, KEY_LT) || find_cond(conds, c, KEY_LE) ||
			find_cond(conds, c, KEY_GT) || find_cond(conds, c, KEY_GE))
			return "key range";
		break;
	}
	return any_eq ? "key prefix" : "full scan";
}

/* ---------- ranges at execution ---------- */

typedef struct Prefix
{
	uint8		buf[TS_MAX_KEY];
	size_t		len;
} Prefix;

static int
index_of(List *conds, KeyCond *kc)
{
	int			i = 0;
	ListCell   *lc;

	foreach(lc, conds)
	{
		if (lfirst(lc) == kc)
			return i;
		i++;
	}
	return -1;
}

/* prefix + value, or false if it does not fit a key. */
static bool
extend(const Prefix *p, ts_coltype type, Oid valtype, Datum v, Prefix *out)
{
	ts_keybuf	kb;

	ts_key_init(&kb);
	memcpy(kb.buf, p->buf, p->len);
	kb.len = p->len;
	ts_key_append_value(&kb, type, valtype, v);
	if (kb.overflow)
		return false;
	memcpy(out->buf, kb.buf, kb.len);
	out->len = kb.len;
	return true;
}

static int
cmp_range_lo(const ListCell *a, const ListCell *b)
{
	const KeyRangeBuf *x = lfirst(a),
			   *y = lfirst(b);

	return ts_bytes_cmp(x->lo, x->lolen, y->lo, y->lolen);
}

static KeyRangeBuf *
make_range(const uint8 *lo, size_t lolen, const uint8 *hi, size_t hilen)
{
	KeyRangeBuf *r = palloc(sizeof(KeyRangeBuf));

	r->lo = palloc(Max(lolen, 1));
	memcpy(r->lo, lo, lolen);
	r->lolen = lolen;
	r->hi = palloc(Max(hilen, 1));
	memcpy(r->hi, hi, hilen);
	r->hilen = hilen;
	return r;
}

List *
ts_key_ranges(const ts_store *st, List *conds, Datum *values, bool *nulls,
			  bool *all, bool *none)
{
	Prefix	   *prefixes = palloc(sizeof(Prefix));
	int			nprefixes = 1;
	int			col;
	List	   *ranges = NIL;
	KeyCond    *lo = NULL,
			   *hi = NULL;

	*all = false;
	*none = false;
	prefixes[0].len = 0;

	for (col = 0; col < st->nkeys; col++)
	{
		KeyCond    *eq = find_cond(conds, col, KEY_EQ);
		KeyCond    *in = eq ? NULL : find_cond(conds, col, KEY_IN);
		ts_coltype	type = st->cols[col].type;

		if (eq)
		{
			int			i = index_of(conds, eq);

			if (nulls[i])
			{
				*none = true;
				return NIL;
			}
			for (int p = 0; p < nprefixes; p++)
				if (!extend(&prefixes[p], type, eq->valtype, values[i], &prefixes[p]))
					goto bounds;	/* too long to narrow further */
			continue;
		}
		if (in)
		{
			int			i = index_of(conds, in);
			ArrayType  *arr;
			Datum	   *elems;
			bool	   *enulls;
			int			n,
						m = 0;
			int16		typlen;
			bool		typbyval;
			char		typalign;
			Prefix	   *next;
			Oid			elemtype = in->valtype;

			if (nulls[i])
			{
				*none = true;
				return NIL;
			}
			arr = DatumGetArrayTypeP(values[i]);
			get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
			deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &enulls, &n);
			if ((int64) n * nprefixes > MAX_RANGES)
				break;			/* too many: scan the prefixes as they are */
			next = palloc(sizeof(Prefix) * Max(n * nprefixes, 1));
			for (int p = 0; p < nprefixes; p++)
				for (int e = 0; e < n; e++)
					if (!enulls[e] && extend(&prefixes[p], type, elemtype, elems[e], &next[m]))
						m++;
			if (m == 0)
			{
				*none = true;
				return NIL;
			}
			prefixes = next;
			nprefixes = m;
			continue;
		}
		/* the first column without an equality: its bounds, then stop */
		lo = find_cond(conds, col, KEY_GE);
		if (lo == NULL)
			lo = find_cond(conds, col, KEY_GT);
		hi = find_cond(conds, col, KEY_LE);
		if (hi == NULL)
			hi = find_cond(conds, col, KEY_LT);
		break;
	}

bounds:
	if ((lo && nulls[index_of(conds, lo)]) || (hi && nulls[index_of(conds, hi)]))
	{
		*none = true;
		return NIL;
	}
	if (nprefixes == 1 && prefixes[0].len == 0 && lo == NULL && hi == NULL)
	{
		*all = true;
		return NIL;
	}
	for (int p = 0; p < nprefixes; p++)
	{
		Prefix		l = prefixes[p],
					h;
		uint8		end[TS_MAX_KEY];
		size_t		endlen;

		/* lower bound */
		if (lo && col < st->nkeys)
		{
			Prefix		x;

			if (extend(&prefixes[p], st->cols[col].type, lo->valtype, values[index_of(conds, lo)], &x))
			{
				if (lo->op == KEY_GT)
				{
					x.len = ts_key_prefix_end(x.buf, x.len, end);
					memcpy(x.buf, end, x.len);
				}
				if (x.len > 0)
					l = x;
			}
		}
		/* upper bound */
		endlen = prefixes[p].len ? ts_key_prefix_end(prefixes[p].buf, prefixes[p].len, end) : 0;
		h.len = endlen;
		memcpy(h.buf, end, endlen);
		if (hi && col < st->nkeys)
		{
			Prefix		x;

			if (extend(&prefixes[p], st->cols[col].type, hi->valtype, values[index_of(conds, hi)], &x))
			{
				if (hi->op == KEY_LE)
				{
					x.len = ts_key_prefix_end(x.buf, x.len, end);
					memcpy(x.buf, end, x.len);
				}
				if (x.len > 0)
					h = x;
			}
		}
		if (h.len > 0 && ts_bytes_cmp(l.buf, l.len, h.buf, h.len) >= 0)
			continue;			/* empty */
		ranges = lappend(ranges, make_range(l.buf, l.len, h.buf, h.len));
	}
	if (ranges == NIL)
	{
		*none = true;
		return NIL;
	}
	/* key order, overlaps merged (IN lists may repeat values) */
	list_sort(ranges, cmp_range_lo);
	{
		List	   *merged = NIL;
		KeyRangeBuf *cur = NULL;
		ListCell   *lc;

		foreach(lc, ranges)
		{
			KeyRangeBuf *r = lfirst(lc);

			if (cur && (cur->hilen == 0 ||
						ts_bytes_cmp(r->lo, r->lolen, cur->hi, cur->hilen) <= 0))
			{
				if (cur->hilen > 0 &&
					(r->hilen == 0 || ts_bytes_cmp(r->hi, r->hilen, cur->hi, cur->hilen) > 0))
				{
					cur->hi = r->hi;
					cur->hilen = r->hilen;
				}
				continue;
			}
			cur = r;
			merged = lappend(merged, cur);
		}
		return merged;
	}
}
