/*-------------------------------------------------------------------------
 *
 * documents.c
 *	  PageIndex documents: treestore.store_document, get_document and
 *	  delete_document (CONTRACT.md section 4), and the temporal rule that
 *	  picks a policy's version (section 3, ts_resolve_version).
 *
 *	  JSON stays in the backend: a document is read with the jsonb API and
 *	  written as typed rows of documents / versions / nodes (rows.c), in the
 *	  caller's transaction, so one call is all of the document or nothing.
 *	  Every walk over a tree is iterative (explicit stacks): depth is bounded
 *	  by memory, not by the C stack.  The one recursive thing PostgreSQL
 *	  would do -- turning a nested JsonbValue into a Jsonb -- is done here by
 *	  encode_jsonb, iteratively, so get_document returns a depth-10,000 tree
 *	  under the default max_stack_depth.
 *
 *	  Ingestion (store_document):
 *	    shapes   {doc_name, doc_description?, structure: [...]} or a bare
 *	             list of nodes; children in "nodes" or "child_nodes"; pages
 *	             as start_index/end_index, page_index or line_num; summary or
 *	             prefix_summary; optional text.
 *	    ids      a node without node_id (or with node_id null) gets its
 *	             pre-order position, zero-padded to 4 digits ("0000", ...),
 *	             as PageIndex numbers them; an assigned id equal to a given
 *	             one is a duplicate.
 *	    columns  title, node_id, the children list, integer page fields,
 *	             line_num, the summary used and a string text go to columns;
 *	             every other key of a node is kept verbatim in
 *	             nodes.metadata, with "__pageindex" recording what the
 *	             columns cannot: {"children": key} when the children list
 *	             used "child_nodes" or was empty, {"pages": "page_index"},
 *	             {"summary": "prefix_summary"}, {"key": v} for a node's own
 *	             "__pageindex" key.  Keys of the wrapper other than
 *	             structure and string doc_name / doc_description are kept in
 *	             versions.metadata under "__pageindex": {"extra": {...}} (the
 *	             caller's own "__pageindex" then under "key").
 *	             A key of a column whose value is null (or, for summary,
 *	             prefix_summary and text, not a string) has no column value
 *	             and is kept verbatim too; page fields must be integers.
 *	    derived  parent_id, ordinal (from 0), depth (1 at top level),
 *	             section_path (titles joined with ' > '), content_hash =
 *	             sha256 hex of the text of the node's jsonb without the keys
 *	             node_id, nodes and child_nodes, i.e. (in a UTF8 database)
 *	             encode(sha256(convert_to((node - 'node_id' - 'nodes' -
 *	             'child_nodes')::text, 'UTF8')), 'hex').
 *	    version  node_count, doc_name, doc_description, metadata,
 *	             created_at = now().  replace => true deletes the version's
 *	             nodes first and keeps effective_from (when not given),
 *	             effective_to, pageindex_doc_id, pdf_sha256 and source_url.
 *	    document title = the latest version's doc_name, else the policy id;
 *	             latest_version_id = the latest effective_from (the
 *	             temporal rule's "latest"); version_count; created_at kept,
 *	             updated_at = now().  Recomputed by every store and delete;
 *	             the row goes with the policy's last version.
 *	    errors   22023 naming the node's JSON path; 23505 for an existing
 *	             version without replace; 22004 for a NULL id or tree;
 *	             54000 for a key over the engine's limit; 25006 in a
 *	             read-only transaction.
 *
 *	  get_document: NULL when no version qualifies; the wrapper always,
 *	  doc_name / doc_description only when stored (a bare list comes back
 *	  as {"structure": [...]}); children by ordinal; "text" only with
 *	  include_text.  delete_document counts the rows it removes: nodes,
 *	  versions, and the documents row when it goes.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "access/xact.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "documents.h"
#include "tables.h"
#include "rows.h"

/*
 * section_path repeats every ancestor's title, so its size grows with the
 * square of the depth: one document's paths may total at most this (a 2 MB
 * document 20,000 levels deep would otherwise make about 20 GB of rows).
 */
#define MAX_SECTION_PATHS_BYTES (256 * 1024 * 1024)

PG_FUNCTION_INFO_V1(treestore_store_document);
PG_FUNCTION_INFO_V1(treestore_get_document);
PG_FUNCTION_INFO_V1(treestore_delete_document);

#define SHAPE_KEY "__pageindex"

/* ---------- stores ---------- */

static const ts_store *
checked_store(const char *name, const char *const *cols, int ncols)
{
	const ts_store *st = ts_store_find(name);

	if (st == NULL || st->ncols != ncols)
		elog(ERROR, "treestore table \"%s\" does not have the expected columns", name);
	for (int c = 0; c < ncols; c++)
		if (strcmp(st->cols[c].name, cols[c]) != 0)
			elog(ERROR, "treestore table \"%s\": column %d is \"%s\", expected \"%s\"",
				 name, c, st->cols[c].name, cols[c]);
	return st;
}

const ts_store *
ts_documents_store(void)
{
	static const ts_store *st = NULL;
	static const char *const cols[] = {"policy_id", "title", "latest_version_id",
	"version_count", "created_at", "updated_at", "metadata"};

	if (st == NULL)
		st = checked_store("documents", cols, TS_DOC_NCOLS);
	return st;
}

const ts_store *
ts_versions_store(void)
{
	static const ts_store *st = NULL;
	static const char *const cols[] = {"policy_id", "version_id", "effective_from",
		"effective_to", "doc_name", "doc_description", "pageindex_doc_id", "pdf_sha256",
	"source_url", "node_count", "created_at", "metadata"};

	if (st == NULL)
		st = checked_store("versions", cols, TS_VER_NCOLS);
	return st;
}

const ts_store *
ts_nodes_store(void)
{
	static const ts_store *st = NULL;
	static const char *const cols[] = {"policy_id", "version_id", "node_id", "parent_id",
		"ordinal", "depth", "section_path", "title", "page_start", "page_end", "line_num",
	"summary", "text", "content_hash", "metadata"};

	if (st == NULL)
		st = checked_store("nodes", cols, TS_NODE_NCOLS);
	return st;
}

/* ---------- small helpers ---------- */

/* A stored jsonb value (record bytes, maybe unaligned) as an aligned Jsonb. */
static Jsonb *
colval_jsonb(const ts_colval *v)
{
	Jsonb	   *j;

	if (v->isnull)
		return NULL;
	j = palloc(VARHDRSZ + v->len);
	SET_VARSIZE(j, VARHDRSZ + v->len);
	memcpy(VARDATA(j), v->data, v->len);
	return j;
}

static ts_colval
jsonb_colval(Jsonb *j)
{
	return ts_val_bytes(VARDATA(j), VARSIZE(j) - VARHDRSZ);
}

static char *
cstring_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* ---------- jsonb values: building and encoding, iteratively ---------- */

static JsonbValue
jv_string(const char *s, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = len;
	return v;
}

static JsonbValue
jv_cstring(const char *s)
{
	return jv_string(s, (int) strlen(s));
}

static JsonbValue
jv_int(int64 i)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(i);
	return v;
}

/* An object under construction: pairs in any order until sorted. */
typedef struct PairList
{
	JsonbPair  *pairs;
	int			n,
				cap;
} PairList;

static void
pairs_add(PairList *pl, JsonbValue key, JsonbValue value, int priority)
{
	if (pl->n == pl->cap)
	{
		pl->cap = pl->cap ? pl->cap * 2 : 8;
		pl->pairs = pl->pairs ? repalloc(pl->pairs, sizeof(JsonbPair) * pl->cap)
			: palloc(sizeof(JsonbPair) * pl->cap);
	}
	pl->pairs[pl->n].key = key;
	pl->pairs[pl->n].value = value;
	pl->pairs[pl->n].order = priority;
	pl->n++;
}

/* jsonb's key order: shorter first, then bytewise. */
static int
key_cmp(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len ? -1 : 1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

static int
pair_cmp(const void *a, const void *b)
{
	const JsonbPair *pa = a,
			   *pb = b;
	int			r = key_cmp(&pa->key, &pb->key);

	if (r != 0)
		return r;
	return pa->order < pb->order ? -1 : pa->order > pb->order ? 1 : 0;
}

/* Sort and unique-ify (of equal keys the lowest priority number stays). */
static JsonbValue
pairs_object(PairList *pl)
{
	JsonbValue	v;
	int			n = 0;

	if (pl->n > 1)
		qsort(pl->pairs, pl->n, sizeof(JsonbPair), pair_cmp);
	for (int i = 0; i < pl->n; i++)
		if (n == 0 || key_cmp(&pl->pairs[n - 1].key, &pl->pairs[i].key) != 0)
			pl->pairs[n++] = pl->pairs[i];
	v.type = jbvObject;
	v.val.object.nPairs = n;
	v.val.object.pairs = pl->pairs;
	return v;
}

typedef struct EncFrame
{
	JsonbValue *val;			/* the array or object being written */
	int			base;			/* where it starts in the buffer */
	int			jentries;		/* where its JEntries are */
	int			n;				/* its JEntries: elements, or keys + values */
	int			e;				/* the next JEntry to fill */
	uint32		totallen;		/* data length so far */
} EncFrame;

static void
enc_pad(StringInfo buf, int *padlen)
{
	int			pad = INTALIGN(buf->len) - buf->len;

	for (int i = 0; i < pad; i++)
		appendStringInfoCharMacro(buf, '\0');
	if (padlen)
		*padlen = pad;
}

static void
enc_check(uint64 len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb elements exceeds the maximum of %u bytes",
						JENTRY_OFFLENMASK)));
}

static void
enc_begin(StringInfo buf, EncFrame *f, JsonbValue *val)
{
	uint32		header;
	int			nj;

	f->val = val;
	f->base = buf->len;
	enc_pad(buf, NULL);
	if (val->type == jbvArray)
	{
		header = (uint32) val->val.array.nElems | JB_FARRAY;
		nj = val->val.array.nElems;
	}
	else
	{
		header = (uint32) val->val.object.nPairs | JB_FOBJECT;
		nj = val->val.object.nPairs * 2;
	}
	appendBinaryStringInfo(buf, (char *) &header, sizeof(uint32));
	f->jentries = buf->len;
	enlargeStringInfo(buf, sizeof(JEntry) * nj);
	memset(buf->data + buf->len, 0, sizeof(JEntry) * nj);
	buf->len += sizeof(JEntry) * nj;
	buf->data[buf->len] = '\0';
	f->n = nj;
	f->e = 0;
	f->totallen = 0;
}

/* A scalar or a jbvBinary container: its data, and its JEntry. */
static JEntry
enc_leaf(StringInfo buf, JsonbValue *v)
{
	int			pad;

	switch (v->type)
	{
		case jbvNull:
			return JENTRY_ISNULL;
		case jbvBool:
			return v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
		case jbvString:
			enc_check(v->val.string.len);
			appendBinaryStringInfo(buf, v->val.string.val, v->val.string.len);
			return (JEntry) v->val.string.len;
		case jbvNumeric:
			{
				int			len = VARSIZE_ANY(v->val.numeric);

				enc_pad(buf, &pad);
				appendBinaryStringInfo(buf, (char *) v->val.numeric, len);
				return JENTRY_ISNUMERIC | (pad + len);
			}
		case jbvBinary:
			/* containers are position-independent: copy it, int-aligned */
			enc_check((uint64) v->val.binary.len + 4);
			enc_pad(buf, &pad);
			appendBinaryStringInfo(buf, (char *) v->val.binary.data, v->val.binary.len);
			return JENTRY_ISCONTAINER | (pad + v->val.binary.len);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return 0;
}

static void
enc_complete(StringInfo buf, EncFrame *f, JEntry meta)
{
	f->totallen += JBE_OFFLENFLD(meta);
	enc_check(f->totallen);
	if (f->e % JB_OFFSET_STRIDE == 0)
		meta = (meta & JENTRY_TYPEMASK) | f->totallen | JENTRY_HAS_OFF;
	memcpy(buf->data + f->jentries + sizeof(JEntry) * f->e, &meta, sizeof(JEntry));
	f->e++;
}

/*
 * A Jsonb from an object or array JsonbValue whose objects have sorted,
 * unique keys (pairs_object) and whose leaves may be jbvBinary containers.
 * The same bytes as JsonbValueToJsonb, without its recursion.
 */
static Jsonb *
encode_jsonb(JsonbValue *root)
{
	StringInfoData buf;
	EncFrame   *stack;
	int			depth = 0,
				cap = 64;

	Assert(root->type == jbvObject || root->type == jbvArray);
	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	stack = palloc(sizeof(EncFrame) * cap);
	enc_begin(&buf, &stack[depth++], root);
	while (depth > 0)
	{
		EncFrame   *f = &stack[depth - 1];
		JsonbValue *v;

		if (f->e == f->n)
		{
			uint32		total = buf.len - f->base;

			enc_check(total);
			if (--depth > 0)
				enc_complete(&buf, &stack[depth - 1], JENTRY_ISCONTAINER | total);
			continue;
		}
		if (f->val->type == jbvArray)
			v = &f->val->val.array.elems[f->e];
		else if (f->e < f->val->val.object.nPairs)
			v = &f->val->val.object.pairs[f->e].key;
		else
			v = &f->val->val.object.pairs[f->e - f->val->val.object.nPairs].value;
		if (v->type == jbvArray || v->type == jbvObject)
		{
			if (depth == cap)
			{
				cap *= 2;
				stack = repalloc(stack, sizeof(EncFrame) * cap);
			}
			CHECK_FOR_INTERRUPTS();
			enc_begin(&buf, &stack[depth++], v);
			continue;
		}
		enc_complete(&buf, f, enc_leaf(&buf, v));
	}
	pfree(stack);
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}

/* The pairs of a jsonb object, values of nested containers as jbvBinary. */
static void
object_pairs(JsonbContainer *obj, PairList *pl)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &k, true);
	Assert(tok == WJB_BEGIN_OBJECT);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		pairs_add(pl, k, v, 1);
	}
}

static bool
key_is(const JsonbValue *k, const char *s)
{
	int			len = (int) strlen(s);

	return k->val.string.len == len && memcmp(k->val.string.val, s, len) == 0;
}

/* ---------- reading a document ---------- */

typedef enum ChildKey
{
	CHILD_NONE = 0,
	CHILD_NODES,
	CHILD_CHILD_NODES
} ChildKey;

static const char *const child_key_names[] = {"", "nodes", "child_nodes"};

/* One node of the document being stored, in pre-order. */
typedef struct DocNode
{
	JsonbContainer *obj;
	int			parent;			/* index, -1 at top level */
	int			ordinal;
	int			depth;
	ChildKey	childkey;		/* the key of its children list */
	const char *id;				/* given or assigned (NUL-terminated) */
	int			idlen;
	bool		assigned;
} DocNode;

typedef struct DocState
{
	const char *policy_id;
	const char *version_id;
	const char *base;			/* "$.structure" or "$" */
	DocNode    *nodes;
	int			n,
				cap;
} DocState;

/* The JSON path of the ordinal-th child of parent (-1: top level). */
static char *
node_path(DocState *ds, int parent, int ordinal)
{
	StringInfoData buf;
	int			depth = 0;
	int		   *chain;

	for (int p = parent; p >= 0; p = ds->nodes[p].parent)
		depth++;
	chain = palloc(sizeof(int) * Max(depth, 1));
	for (int p = parent, i = depth; p >= 0; p = ds->nodes[p].parent)
		chain[--i] = p;
	initStringInfo(&buf);
	appendStringInfoString(&buf, ds->base);
	for (int i = 0; i < depth; i++)
		appendStringInfo(&buf, "[%d].%s", ds->nodes[chain[i]].ordinal,
						 child_key_names[ds->nodes[chain[i]].childkey]);
	appendStringInfo(&buf, "[%d]", ordinal);
	return buf.data;
}

static void pg_attribute_noreturn()
bad_node(DocState *ds, int parent, int ordinal, const char *fmt,...)
pg_attribute_printf(4, 5);

static void
bad_node(DocState *ds, int parent, int ordinal, const char *fmt,...)
{
	char		what[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid document at %s: %s", node_path(ds, parent, ordinal), what)));
}

/* What a node holds, by column. */
typedef struct NodeFields
{
	JsonbValue	title;
	bool		has_id;
	JsonbValue	id;
	ChildKey	childkey;
	JsonbContainer *children;	/* NULL: no list */
	bool		has_page[4];	/* start_index, end_index, page_index, line_num */
	int32		page[4];
	bool		has_summary[2]; /* summary, prefix_summary (strings) */
	JsonbValue	summary[2];
	bool		has_text;
	JsonbValue	text;
	PairList	all;			/* every pair of the node */
} NodeFields;

enum
{
	PG_START = 0, PG_END, PG_INDEX, PG_LINE
};
static const char *const page_keys[] = {"start_index", "end_index", "page_index", "line_num"};

/* An integral number that fits int4, or an error naming the key. */
static int32
page_number(DocState *ds, int parent, int ordinal, const char *key, JsonbValue *v)
{
	bool		err = false;
	int32		i;
	const char *what = strcmp(key, "line_num") == 0 ? "" : " of the page range";

	if (v->type != jbvNumeric)
		bad_node(ds, parent, ordinal, "\"%s\"%s must be a number", key, what);
	i = numeric_int4_opt_error(v->val.numeric, &err);
	if (err || !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
												 NumericGetDatum(int64_to_numeric(i)))))
		bad_node(ds, parent, ordinal, "\"%s\"%s must be an integer of 32 bits", key, what);
	return i;
}

/* Read a node's pairs into nf; errors name the node's path. */
static void
classify_node(DocState *ds, int parent, int ordinal, JsonbContainer *obj, NodeFields *nf)
{
	memset(nf, 0, sizeof(*nf));
	object_pairs(obj, &nf->all);
	for (int i = 0; i < nf->all.n; i++)
	{
		JsonbValue *k = &nf->all.pairs[i].key;
		JsonbValue *v = &nf->all.pairs[i].value;
		int			p;

		if (key_is(k, "title"))
		{
			if (v->type == jbvNull)
				bad_node(ds, parent, ordinal, "the node has no \"title\"");
			if (v->type != jbvString)
				bad_node(ds, parent, ordinal, "\"title\" must be a string");
			nf->title = *v;
		}
		else if (key_is(k, "node_id"))
		{
			if (v->type == jbvString)
			{
				nf->has_id = true;
				nf->id = *v;
			}
			else if (v->type != jbvNull)
				bad_node(ds, parent, ordinal, "\"node_id\" must be a string");
		}
		else if (key_is(k, "nodes") || key_is(k, "child_nodes"))
		{
			ChildKey	ck = key_is(k, "nodes") ? CHILD_NODES : CHILD_CHILD_NODES;

			if (v->type == jbvNull)
				continue;		/* kept as it is, in metadata */
			if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
				bad_node(ds, parent, ordinal, "\"%s\" must be a list of nodes",
						 child_key_names[ck]);
			if (nf->children != NULL)
				bad_node(ds, parent, ordinal, "the node has both \"nodes\" and \"child_nodes\"");
			nf->children = v->val.binary.data;
			nf->childkey = ck;
		}
		else if (key_is(k, "summary") || key_is(k, "prefix_summary"))
		{
			int			s = key_is(k, "summary") ? 0 : 1;

			if (v->type == jbvString)
			{
				nf->has_summary[s] = true;
				nf->summary[s] = *v;
			}
		}
		else if (key_is(k, "text"))
		{
			if (v->type == jbvString)
			{
				nf->has_text = true;
				nf->text = *v;
			}
		}
		else
		{
			for (p = 0; p < 4; p++)
				if (key_is(k, page_keys[p]))
					break;
			if (p < 4 && v->type != jbvNull)
			{
				nf->page[p] = page_number(ds, parent, ordinal, page_keys[p], v);
				nf->has_page[p] = true;
			}
		}
	}
	if (nf->title.type != jbvString)
		bad_node(ds, parent, ordinal, "the node has no \"title\"");
}

/* Which pairs of a classified node have a column (the rest: metadata). */
static bool
pair_in_column(NodeFields *nf, JsonbPair *pr)
{
	JsonbValue *k = &pr->key,
			   *v = &pr->value;

	if (key_is(k, "title"))
		return true;
	if (key_is(k, "node_id"))
		return true;			/* a string, or null: then assigned */
	if (key_is(k, "nodes"))
		return nf->childkey == CHILD_NODES && v->type == jbvBinary;
	if (key_is(k, "child_nodes"))
		return nf->childkey == CHILD_CHILD_NODES && v->type == jbvBinary;
	if (key_is(k, "start_index"))
		return nf->has_page[PG_START];
	if (key_is(k, "end_index"))
		return nf->has_page[PG_END];
	if (key_is(k, "page_index"))
		return nf->has_page[PG_INDEX] && !nf->has_page[PG_START] && !nf->has_page[PG_END];
	if (key_is(k, "line_num"))
		return nf->has_page[PG_LINE];
	if (key_is(k, "summary"))
		return nf->has_summary[0];
	if (key_is(k, "prefix_summary"))
		return nf->has_summary[1] && !nf->has_summary[0];
	if (key_is(k, "text"))
		return nf->has_text;
	return false;
}

/* The node's key (policy_id, version_id, node_id) must fit the engine's keys. */
static void
check_key_length(DocState *ds, DocNode *dn)
{
	ts_colval	k[3] = {ts_val_cstring(ds->policy_id), ts_val_cstring(ds->version_id),
	ts_val_text(dn->id, dn->idlen)};
	uint8		key[TS_MAX_KEY];
	size_t		klen;

	if (ts_store_key(ts_nodes_store(), k, 3, key, &klen) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid document at %s: node_id is too long",
						node_path(ds, dn->parent, dn->ordinal)),
				 errdetail("policy_id, version_id and node_id together may take at most %d bytes.",
						   TS_MAX_KEY)));
}

/*
 * Pass 1: walk the tree in pre-order (explicit stack), check every node,
 * number missing ids.
 */
typedef struct WalkFrame
{
	JsonbIterator *it;			/* over the children list */
	int			parent;
	int			next;			/* next ordinal */
} WalkFrame;

static void
walk_document(DocState *ds, JsonbContainer *structure, MemoryContext tmp)
{
	WalkFrame  *stack;
	int			depth = 0,
				cap = 64;

	stack = palloc(sizeof(WalkFrame) * cap);
	stack[depth].it = JsonbIteratorInit(structure);
	stack[depth].parent = -1;
	stack[depth].next = 0;
	depth++;
	while (depth > 0)
	{
		WalkFrame  *f = &stack[depth - 1];
		JsonbValue	v;
		JsonbIteratorToken tok = JsonbIteratorNext(&f->it, &v, true);
		NodeFields	nf;
		DocNode    *dn;
		int			ordinal,
					parent;
		MemoryContext old;

		if (tok == WJB_BEGIN_ARRAY)
			continue;
		if (tok != WJB_ELEM)
		{
			depth--;			/* WJB_END_ARRAY: the iterator is freed */
			continue;
		}
		CHECK_FOR_INTERRUPTS();
		ordinal = f->next++;
		parent = f->parent;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			bad_node(ds, parent, ordinal, "a node must be a JSON object");
		old = MemoryContextSwitchTo(tmp);
		classify_node(ds, parent, ordinal, v.val.binary.data, &nf);
		MemoryContextSwitchTo(old);

		if (ds->n == ds->cap)
		{
			ds->cap *= 2;
			ds->nodes = repalloc_huge(ds->nodes, sizeof(DocNode) * (Size) ds->cap);
		}
		dn = &ds->nodes[ds->n];
		dn->obj = v.val.binary.data;
		dn->parent = parent;
		dn->ordinal = ordinal;
		dn->depth = parent < 0 ? 1 : ds->nodes[parent].depth + 1;
		dn->childkey = nf.childkey;
		if (nf.has_id)
		{
			char	   *id = palloc(nf.id.val.string.len + 1);

			memcpy(id, nf.id.val.string.val, nf.id.val.string.len);
			id[nf.id.val.string.len] = '\0';
			dn->id = id;
			dn->idlen = nf.id.val.string.len;
			dn->assigned = false;
		}
		else
		{
			dn->id = psprintf("%04d", ds->n);
			dn->idlen = (int) strlen(dn->id);
			dn->assigned = true;
		}
		MemoryContextReset(tmp);
		check_key_length(ds, dn);
		ds->n++;

		if (nf.children != NULL && JsonContainerSize(nf.children) > 0)
		{
			if (depth == cap)
			{
				cap *= 2;
				stack = repalloc_huge(stack, sizeof(WalkFrame) * (Size) cap);
			}
			stack[depth].it = JsonbIteratorInit(nf.children);
			stack[depth].parent = ds->n - 1;
			stack[depth].next = 0;
			depth++;
		}
	}
	pfree(stack);
}

static int
id_cmp(const void *a, const void *b, void *arg)
{
	DocState   *ds = arg;
	const DocNode *x = &ds->nodes[*(const int *) a];
	const DocNode *y = &ds->nodes[*(const int *) b];
	int			r = ts_bytes_cmp((const uint8 *) x->id, x->idlen, (const uint8 *) y->id, y->idlen);

	if (r != 0)
		return r;
	return *(const int *) a - *(const int *) b;
}

static void
check_duplicate_ids(DocState *ds)
{
	int		   *order;
	int			dup = -1,
				first = -1;

	if (ds->n < 2)
		return;
	order = palloc_extended(sizeof(int) * (Size) ds->n, MCXT_ALLOC_HUGE);
	for (int i = 0; i < ds->n; i++)
		order[i] = i;
	qsort_arg(order, ds->n, sizeof(int), id_cmp, ds);
	/* report the first node in pre-order that repeats an earlier id */
	for (int i = 1; i < ds->n; i++)
	{
		DocNode    *x = &ds->nodes[order[i - 1]],
				   *y = &ds->nodes[order[i]];

		/* equal ids sort by position: order[i] repeats order[i - 1] */
		if (x->idlen == y->idlen && memcmp(x->id, y->id, x->idlen) == 0 &&
			(dup < 0 || order[i] < dup))
		{
			dup = order[i];
			first = order[i - 1];
		}
	}
	if (dup >= 0)
	{
		DocNode    *d = &ds->nodes[dup],
				   *f = &ds->nodes[first];

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid document at %s: duplicate node_id \"%s\"%s",
						node_path(ds, d->parent, d->ordinal), d->id,
						d->assigned ? " (assigned in pre-order)" : ""),
				 errdetail("The node at %s has the same node_id%s.",
						   node_path(ds, f->parent, f->ordinal),
						   f->assigned ? " (assigned in pre-order)" : "")));
	}
	pfree(order);
}

/* ---------- writing a document ---------- */

static void
sha256_hex(const char *data, size_t len, char *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute a SHA-256 hash");
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, PG_SHA256_DIGEST_LENGTH, out);
	out[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
}

/* content_hash: sha256 of the node's jsonb text without its id and children. */
static void
node_hash(NodeFields *nf, char *out)
{
	PairList	pl = {0};
	JsonbValue	obj;
	Jsonb	   *j;
	char	   *txt;

	for (int i = 0; i < nf->all.n; i++)
	{
		JsonbPair  *pr = &nf->all.pairs[i];

		if (key_is(&pr->key, "node_id") || key_is(&pr->key, "nodes") ||
			key_is(&pr->key, "child_nodes"))
			continue;
		pairs_add(&pl, pr->key, pr->value, 1);
	}
	obj = pairs_object(&pl);
	j = encode_jsonb(&obj);
	txt = JsonbToCString(NULL, &j->root, VARSIZE(j));
	sha256_hex(txt, strlen(txt), out);
}

/* nodes.metadata: the pairs without a column, and what the columns lose. */
static Jsonb *
node_metadata(NodeFields *nf)
{
	PairList	pl = {0};
	PairList	shape = {0};
	JsonbValue	obj;

	for (int i = 0; i < nf->all.n; i++)
	{
		JsonbPair  *pr = &nf->all.pairs[i];

		if (pair_in_column(nf, pr))
			continue;
		if (key_is(&pr->key, SHAPE_KEY))
			pairs_add(&shape, jv_cstring("key"), pr->value, 1);
		else
			pairs_add(&pl, pr->key, pr->value, 1);
	}
	if (nf->children != NULL &&
		(nf->childkey != CHILD_NODES || JsonContainerSize(nf->children) == 0))
		pairs_add(&shape, jv_cstring("children"), jv_cstring(child_key_names[nf->childkey]), 1);
	if (nf->has_page[PG_INDEX] && !nf->has_page[PG_START] && !nf->has_page[PG_END])
		pairs_add(&shape, jv_cstring("pages"), jv_cstring("page_index"), 1);
	if (nf->has_summary[1] && !nf->has_summary[0])
		pairs_add(&shape, jv_cstring("summary"), jv_cstring("prefix_summary"), 1);
	if (shape.n > 0)
	{
		JsonbValue	s = pairs_object(&shape);

		pairs_add(&pl, jv_cstring(SHAPE_KEY), s, 1);
	}
	obj = pairs_object(&pl);
	return encode_jsonb(&obj);
}

/* Keys of every node of (policy, version): read whole before any write. */
static uint8 **
collect_keys(const ts_store *st, const ts_colval *prefix, int nprefix, int *nkeys, size_t **lens)
{
	TsRowScan  *sc = ts_rows_scan_prefix(st, prefix, nprefix, 0);
	TsRow		row;
	int			n = 0,
				cap = 64;
	uint8	  **keys = palloc(sizeof(uint8 *) * cap);
	size_t	   *l = palloc(sizeof(size_t) * cap);

	while (ts_rows_next(sc, &row))
	{
		if (n == cap)
		{
			cap *= 2;
			keys = repalloc_huge(keys, sizeof(uint8 *) * (Size) cap);
			l = repalloc_huge(l, sizeof(size_t) * (Size) cap);
		}
		keys[n] = palloc(row.klen);
		memcpy(keys[n], row.key, row.klen);
		l[n] = row.klen;
		n++;
	}
	ts_rows_scan_end(sc);
	*nkeys = n;
	*lens = l;
	return keys;
}

/* Delete every row of st under a key prefix; returns the rows removed. */
static uint64
delete_prefix(const ts_store *st, const ts_colval *prefix, int nprefix)
{
	size_t	   *lens;
	int			n;
	uint8	  **keys = collect_keys(st, prefix, nprefix, &n, &lens);
	TsRowWriter *w;

	if (n == 0)
		return 0;
	w = ts_rows_writer(st);
	for (int i = 0; i < n; i++)
		ts_rows_delete_key(w, keys[i], lens[i]);
	return ts_rows_writer_end(w);
}

/*
 * Bring the documents row of a policy in line with its versions: title
 * (the latest version's doc_name, else the policy id), latest_version_id,
 * version_count, updated_at.  No versions left: the row goes.  Returns the
 * rows removed (0 or 1).
 */
static uint64
refresh_document_row(const char *policy_id)
{
	const ts_store *vst = ts_versions_store();
	const ts_store *dst = ts_documents_store();
	ts_colval	key[1] = {ts_val_cstring(policy_id)};
	int			n;
	TsRow	   *versions = ts_rows_fetch_prefix(vst, key, 1, 0, &n);
	TsRow		old;
	bool		exists = ts_rows_get(dst, key, &old);
	TsRowWriter *w = ts_rows_writer(dst);
	uint64		removed;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (n == 0)
	{
		if (exists)
			ts_rows_delete(w, key);
	}
	else
	{
		int			latest = ts_version_latest(versions, n);
		ts_colval	row[TS_DOC_NCOLS];
		const ts_colval *name = &versions[latest].vals[TS_VER_DOC_NAME];
		Jsonb	   *empty = NULL;

		row[TS_DOC_POLICY_ID] = key[0];
		row[TS_DOC_TITLE] = name->isnull ? key[0] : *name;
		row[TS_DOC_LATEST_VERSION_ID] = versions[latest].vals[TS_VER_VERSION_ID];
		row[TS_DOC_VERSION_COUNT] = ts_val_int(n);
		row[TS_DOC_UPDATED_AT] = ts_val_int(now);
		if (exists)
		{
			row[TS_DOC_CREATED_AT] = old.vals[TS_DOC_CREATED_AT];
			row[TS_DOC_METADATA] = old.vals[TS_DOC_METADATA];
		}
		else
		{
			empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
			row[TS_DOC_CREATED_AT] = ts_val_int(now);
			row[TS_DOC_METADATA] = jsonb_colval(empty);
		}
		ts_rows_put(w, row);
	}
	removed = ts_rows_writer_end(w);
	return n == 0 ? removed : 0;
}

/* versions.metadata: the caller's metadata, plus the wrapper's other keys. */
static Jsonb *
version_metadata(Jsonb *metadata, PairList *extra)
{
	PairList	pl = {0};
	PairList	shape = {0};
	bool		user_shape = false;
	JsonbValue	obj;

	if (!JB_ROOT_IS_OBJECT(metadata) || JB_ROOT_IS_SCALAR(metadata))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metadata must be a JSON object")));
	object_pairs(&metadata->root, &pl);
	for (int i = 0; i < pl.n; i++)
		if (key_is(&pl.pairs[i].key, SHAPE_KEY))
		{
			pairs_add(&shape, jv_cstring("key"), pl.pairs[i].value, 1);
			pl.pairs[i].order = 2;	/* replaced below */
			user_shape = true;
		}
	if (extra->n == 0 && !user_shape)
		return metadata;
	if (extra->n > 0)
	{
		JsonbValue	e = pairs_object(extra);

		pairs_add(&shape, jv_cstring("extra"), e, 1);
	}
	pairs_add(&pl, jv_cstring(SHAPE_KEY), pairs_object(&shape), 0);
	obj = pairs_object(&pl);
	return encode_jsonb(&obj);
}

Datum
treestore_store_document(PG_FUNCTION_ARGS)
{
	char	   *policy_id = cstring_arg(fcinfo, 0, "policy_id");
	char	   *version_id = cstring_arg(fcinfo, 1, "version_id");
	Jsonb	   *tree;
	bool		has_from = !PG_ARGISNULL(3);
	DateADT		effective_from = has_from ? PG_GETARG_DATEADT(3) : 0;
	Jsonb	   *metadata;
	bool		replace = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	DocState	ds = {0};
	JsonbContainer *structure;
	JsonbValue	doc_name = {0},
				doc_description = {0};
	PairList	wrapper_extra = {0};
	const ts_store *nst = ts_nodes_store();
	const ts_store *vst = ts_versions_store();
	ts_colval	vkey[2];
	TsRow		oldver;
	bool		exists;
	MemoryContext tmp;
	TsRowWriter *w;
	StringInfoData path;
	int		   *pathlen;
	Size		paths_total;
	ts_colval	vrow[TS_VER_NCOLS];
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("documents", ACL_SELECT | ACL_INSERT | ACL_UPDATE);
	ts_require_access("versions", ACL_SELECT | ACL_INSERT | ACL_UPDATE);
	ts_require_access("nodes", replace ? (ACL_INSERT | ACL_DELETE) : ACL_INSERT);

	PreventCommandIfReadOnly("treestore.store_document()");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tree must not be null")));
	tree = PG_GETARG_JSONB_P(2);
	metadata = PG_ARGISNULL(4)
		? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")))
		: PG_GETARG_JSONB_P(4);

	ds.policy_id = policy_id;
	ds.version_id = version_id;

	/* the wrapper, or a bare list */
	if (JB_ROOT_IS_SCALAR(tree))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid document at $: a document must be a JSON object or list")));
	if (JB_ROOT_IS_ARRAY(tree))
	{
		ds.base = "$";
		structure = &tree->root;
	}
	else
	{
		PairList	pl = {0};

		ds.base = "$.structure";
		structure = NULL;
		object_pairs(&tree->root, &pl);
		for (int i = 0; i < pl.n; i++)
		{
			JsonbPair  *pr = &pl.pairs[i];

			if (key_is(&pr->key, "structure"))
			{
				if (pr->value.type != jbvBinary || !JsonContainerIsArray(pr->value.val.binary.data))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid document at $.structure: \"structure\" must be a list of nodes")));
				structure = pr->value.val.binary.data;
			}
			else if (key_is(&pr->key, "doc_name") && pr->value.type == jbvString)
				doc_name = pr->value;
			else if (key_is(&pr->key, "doc_description") && pr->value.type == jbvString)
				doc_description = pr->value;
			else
				pairs_add(&wrapper_extra, pr->key, pr->value, 1);
		}
		if (structure == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid document at $: a document object needs a \"structure\" list"),
					 errhint("Pass {\"doc_name\": ..., \"structure\": [...]} or a bare list of nodes.")));
	}

	/* pass 1: check everything before writing anything */
	{
		uint8		key[TS_MAX_KEY];
		size_t		klen;
		ts_colval	k[2] = {ts_val_cstring(policy_id), ts_val_cstring(version_id)};

		ts_rows_key(vst, k, 2, key, &klen);
	}
	tmp = AllocSetContextCreate(CurrentMemoryContext, "treestore document node",
								ALLOCSET_DEFAULT_SIZES);
	ds.cap = 1024;
	ds.nodes = palloc(sizeof(DocNode) * ds.cap);
	walk_document(&ds, structure, tmp);
	check_duplicate_ids(&ds);
	metadata = version_metadata(metadata, &wrapper_extra);

	/* an existing version: refused, or replaced */
	vkey[0] = ts_val_cstring(policy_id);
	vkey[1] = ts_val_cstring(version_id);
	exists = ts_rows_get(vst, vkey, &oldver);
	if (exists && !replace)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("version \"%s\" of policy \"%s\" already exists", version_id, policy_id),
				 errhint("Pass replace => true to replace it.")));
	if (exists)
		(void) delete_prefix(nst, vkey, 2);

	/* pass 2: the nodes, in pre-order */
	paths_total = 0;
	w = ts_rows_writer(nst);
	initStringInfo(&path);
	pathlen = palloc_extended(sizeof(int) * ((Size) ds.n + 1), MCXT_ALLOC_HUGE);
	pathlen[0] = 0;
	for (int i = 0; i < ds.n; i++)
	{
		DocNode    *dn = &ds.nodes[i];
		NodeFields	nf;
		ts_colval	row[TS_NODE_NCOLS];
		char		hash[PG_SHA256_DIGEST_LENGTH * 2 + 1];
		Jsonb	   *meta;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(tmp);
		classify_node(&ds, dn->parent, dn->ordinal, dn->obj, &nf);
		node_hash(&nf, hash);
		meta = node_metadata(&nf);

		/* section_path: the path of the parent (pre-order keeps it in path) */
		path.len = pathlen[dn->depth - 1];
		path.data[path.len] = '\0';
		if (dn->depth > 1)
			appendBinaryStringInfo(&path, " > ", 3);
		appendBinaryStringInfo(&path, nf.title.val.string.val, nf.title.val.string.len);
		pathlen[dn->depth] = path.len;
		paths_total += path.len;
		if (paths_total > MAX_SECTION_PATHS_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("section paths of the document exceed %d MB",
							MAX_SECTION_PATHS_BYTES / (1024 * 1024)),
					 errdetail("Each node's section_path repeats the titles of its ancestors; at node \"%.*s\" (depth %d) they add up past the limit.",
							   (int) Min(dn->idlen, 64), dn->id, dn->depth),
					 errhint("Store a shallower tree or shorter titles.")));

		row[TS_NODE_POLICY_ID] = vkey[0];
		row[TS_NODE_VERSION_ID] = vkey[1];
		row[TS_NODE_NODE_ID] = ts_val_text(dn->id, dn->idlen);
		row[TS_NODE_PARENT_ID] = dn->parent < 0 ? ts_val_null()
			: ts_val_text(ds.nodes[dn->parent].id, ds.nodes[dn->parent].idlen);
		row[TS_NODE_ORDINAL] = ts_val_int(dn->ordinal);
		row[TS_NODE_DEPTH] = ts_val_int(dn->depth);
		row[TS_NODE_SECTION_PATH] = ts_val_text(path.data, path.len);
		row[TS_NODE_TITLE] = ts_val_text(nf.title.val.string.val, nf.title.val.string.len);
		if (nf.has_page[PG_START] || nf.has_page[PG_END])
		{
			row[TS_NODE_PAGE_START] = nf.has_page[PG_START] ? ts_val_int(nf.page[PG_START]) : ts_val_null();
			row[TS_NODE_PAGE_END] = nf.has_page[PG_END] ? ts_val_int(nf.page[PG_END]) : ts_val_null();
		}
		else if (nf.has_page[PG_INDEX])
			row[TS_NODE_PAGE_START] = row[TS_NODE_PAGE_END] = ts_val_int(nf.page[PG_INDEX]);
		else
			row[TS_NODE_PAGE_START] = row[TS_NODE_PAGE_END] = ts_val_null();
		row[TS_NODE_LINE_NUM] = nf.has_page[PG_LINE] ? ts_val_int(nf.page[PG_LINE]) : ts_val_null();
		if (nf.has_summary[0] || nf.has_summary[1])
		{
			JsonbValue *s = &nf.summary[nf.has_summary[0] ? 0 : 1];

			row[TS_NODE_SUMMARY] = ts_val_text(s->val.string.val, s->val.string.len);
		}
		else
			row[TS_NODE_SUMMARY] = ts_val_null();
		row[TS_NODE_TEXT] = nf.has_text ? ts_val_text(nf.text.val.string.val, nf.text.val.string.len)
			: ts_val_null();
		row[TS_NODE_CONTENT_HASH] = ts_val_cstring(hash);
		row[TS_NODE_METADATA] = jsonb_colval(meta);
		ts_rows_insert(w, row);	/* copies the row: tmp may go */
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
	}
	(void) ts_rows_writer_end(w);

	/* the version */
	vrow[TS_VER_POLICY_ID] = vkey[0];
	vrow[TS_VER_VERSION_ID] = vkey[1];
	if (has_from)
		vrow[TS_VER_EFFECTIVE_FROM] = ts_val_int(effective_from);
	else if (exists)
		vrow[TS_VER_EFFECTIVE_FROM] = oldver.vals[TS_VER_EFFECTIVE_FROM];
	else
		vrow[TS_VER_EFFECTIVE_FROM] = ts_val_null();
	vrow[TS_VER_DOC_NAME] = doc_name.type == jbvString
		? ts_val_text(doc_name.val.string.val, doc_name.val.string.len) : ts_val_null();
	vrow[TS_VER_DOC_DESCRIPTION] = doc_description.type == jbvString
		? ts_val_text(doc_description.val.string.val, doc_description.val.string.len) : ts_val_null();
	if (exists)
	{
		/* what describes the version rather than its tree stays */
		vrow[TS_VER_EFFECTIVE_TO] = oldver.vals[TS_VER_EFFECTIVE_TO];
		vrow[TS_VER_PAGEINDEX_DOC_ID] = oldver.vals[TS_VER_PAGEINDEX_DOC_ID];
		vrow[TS_VER_PDF_SHA256] = oldver.vals[TS_VER_PDF_SHA256];
		vrow[TS_VER_SOURCE_URL] = oldver.vals[TS_VER_SOURCE_URL];
	}
	else
		vrow[TS_VER_EFFECTIVE_TO] = vrow[TS_VER_PAGEINDEX_DOC_ID] =
			vrow[TS_VER_PDF_SHA256] = vrow[TS_VER_SOURCE_URL] = ts_val_null();
	vrow[TS_VER_NODE_COUNT] = ts_val_int(ds.n);
	vrow[TS_VER_CREATED_AT] = ts_val_int(now);
	vrow[TS_VER_METADATA] = jsonb_colval(metadata);
	w = ts_rows_writer(vst);
	if (exists)
		ts_rows_put(w, vrow);
	else
		ts_rows_insert(w, vrow);
	(void) ts_rows_writer_end(w);

	/* the document */
	(void) refresh_document_row(policy_id);
	MemoryContextDelete(tmp);
	PG_RETURN_INT32(ds.n);
}

/* ---------- the temporal rule ---------- */

/* Rank of a version for "latest": effective_from (NULL lowest), version_id. */
static int
version_rank_cmp(const TsRow *a, const TsRow *b)
{
	const ts_colval *fa = &a->vals[TS_VER_EFFECTIVE_FROM],
			   *fb = &b->vals[TS_VER_EFFECTIVE_FROM];
	const ts_colval *ia = &a->vals[TS_VER_VERSION_ID],
			   *ib = &b->vals[TS_VER_VERSION_ID];

	if (fa->isnull != fb->isnull)
		return fa->isnull ? -1 : 1;
	if (!fa->isnull && fa->i != fb->i)
		return fa->i < fb->i ? -1 : 1;
	return ts_bytes_cmp(ia->data, ia->len, ib->data, ib->len);
}

int
ts_version_latest(const TsRow *versions, int n)
{
	int			best = -1;

	for (int i = 0; i < n; i++)
		if (best < 0 || version_rank_cmp(&versions[i], &versions[best]) > 0)
			best = i;
	return best;
}

int
ts_version_in_force(const TsRow *versions, int n, DateADT date)
{
	int			best = -1;

	for (int i = 0; i < n; i++)
	{
		const ts_colval *from = &versions[i].vals[TS_VER_EFFECTIVE_FROM];

		if (from->isnull || (DateADT) from->i > date)
			continue;
		if (best < 0 || version_rank_cmp(&versions[i], &versions[best]) > 0)
			best = i;
	}
	if (best >= 0)
	{
		const ts_colval *to = &versions[best].vals[TS_VER_EFFECTIVE_TO];

		if (!to->isnull && (DateADT) to->i <= date)
			return -1;
	}
	return best;
}

bool
ts_resolve_version(const char *policy_id, const char *version_id,
				   bool has_as_of, DateADT as_of, TsRow *row)
{
	const ts_store *vst = ts_versions_store();
	ts_colval	key[2] = {ts_val_cstring(policy_id), ts_val_cstring(version_id)};
	TsRow	   *versions;
	int			n,
				i;

	if (version_id != NULL)
		return ts_rows_get(vst, key, row);
	versions = ts_rows_fetch_prefix(vst, key, 1, 0, &n);
	if (has_as_of)
		i = ts_version_in_force(versions, n, as_of);
	else
	{
		i = ts_version_in_force(versions, n, GetSQLCurrentDate());
		if (i < 0)
			i = ts_version_latest(versions, n);
	}
	if (i < 0)
		return false;
	*row = versions[i];
	return true;
}

/* ---------- get_document ---------- */

/* One stored node, as get_document needs it. */
typedef struct GNode
{
	const uint8 *id;
	size_t		idlen;
	const uint8 *parent_id;		/* NULL at top level */
	size_t		parent_len;
	int			parent;			/* index; -1 at top level */
	int32		ordinal;
	bool		has_start,
				has_end,
				has_line;
	int32		start,
				end,
				line;
	const char *title;
	int			title_len;
	const char *summary;		/* NULL: none */
	int			summary_len;
	const char *text;			/* NULL: none or not wanted */
	int			text_len;
	Jsonb	   *metadata;		/* an object, or NULL */
	int			nchildren;
	int			first_child;	/* in the children index */
	JsonbValue *slot;			/* where its object goes */
} GNode;

static int
gnode_id_cmp(const void *a, const void *b)
{
	const GNode *x = a,
			   *y = b;

	return ts_bytes_cmp(x->id, x->idlen, y->id, y->idlen);
}

/* children of one parent: by ordinal, then id */
static int
gchild_cmp(const void *a, const void *b, void *arg)
{
	GNode	   *nodes = arg;
	const GNode *x = &nodes[*(const int *) a];
	const GNode *y = &nodes[*(const int *) b];

	if (x->ordinal != y->ordinal)
		return x->ordinal < y->ordinal ? -1 : 1;
	return ts_bytes_cmp(x->id, x->idlen, y->id, y->idlen);
}

static int
find_gnode(GNode *nodes, int n, const uint8 *id, size_t len)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			r = ts_bytes_cmp(nodes[mid].id, nodes[mid].idlen, id, len);

		if (r == 0)
			return mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const uint8 *
copy_bytes(const ts_colval *v)
{
	uint8	   *p = palloc(Max(v->len, 1));

	memcpy(p, v->data, v->len);
	return p;
}

/* A node's object: its columns, its metadata's keys, its children. */
static void
build_node_object(GNode *g, JsonbValue *children, bool include_text)
{
	PairList	pl = {0};
	const char *childkey = NULL;
	bool		page_index = false,
				prefix_summary = false;

	if (g->metadata)
	{
		PairList	meta = {0};

		object_pairs(&g->metadata->root, &meta);
		for (int i = 0; i < meta.n; i++)
		{
			JsonbPair  *pr = &meta.pairs[i];

			if (key_is(&pr->key, SHAPE_KEY))
			{
				PairList	shape = {0};

				if (pr->value.type != jbvBinary || !JsonContainerIsObject(pr->value.val.binary.data))
					continue;
				object_pairs(pr->value.val.binary.data, &shape);
				for (int j = 0; j < shape.n; j++)
				{
					JsonbPair  *s = &shape.pairs[j];

					if (key_is(&s->key, "key"))
						pairs_add(&pl, jv_cstring(SHAPE_KEY), s->value, 1);
					else if (key_is(&s->key, "children") && s->value.type == jbvString)
						childkey = pnstrdup(s->value.val.string.val, s->value.val.string.len);
					else if (key_is(&s->key, "pages") && s->value.type == jbvString)
						page_index = true;
					else if (key_is(&s->key, "summary") && s->value.type == jbvString)
						prefix_summary = true;
				}
				continue;
			}
			if (!include_text && key_is(&pr->key, "text"))
				continue;
			pairs_add(&pl, pr->key, pr->value, 1);
		}
	}

	/* columns win over metadata keys of the same name (priority 0) */
	pairs_add(&pl, jv_cstring("title"), jv_string(g->title, g->title_len), 0);
	pairs_add(&pl, jv_cstring("node_id"), jv_string((const char *) g->id, (int) g->idlen), 0);
	if (page_index && g->has_start)
		pairs_add(&pl, jv_cstring("page_index"), jv_int(g->start), 0);
	else
	{
		if (g->has_start)
			pairs_add(&pl, jv_cstring("start_index"), jv_int(g->start), 0);
		if (g->has_end)
			pairs_add(&pl, jv_cstring("end_index"), jv_int(g->end), 0);
	}
	if (g->has_line)
		pairs_add(&pl, jv_cstring("line_num"), jv_int(g->line), 0);
	if (g->summary)
		pairs_add(&pl, jv_cstring(prefix_summary ? "prefix_summary" : "summary"),
				  jv_string(g->summary, g->summary_len), 0);
	if (g->text && include_text)
		pairs_add(&pl, jv_cstring("text"), jv_string(g->text, g->text_len), 0);
	if (g->nchildren > 0 || childkey != NULL)
	{
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.nElems = g->nchildren;
		arr.val.array.elems = children;
		arr.val.array.rawScalar = false;
		pairs_add(&pl, jv_cstring(childkey ? childkey : "nodes"), arr, 0);
	}
	*g->slot = pairs_object(&pl);
}

Datum
treestore_get_document(PG_FUNCTION_ARGS)
{
	char	   *policy_id = cstring_arg(fcinfo, 0, "policy_id");
	char	   *version_id = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		has_as_of = !PG_ARGISNULL(2);
	DateADT		as_of = has_as_of ? PG_GETARG_DATEADT(2) : 0;
	bool		include_text = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	const ts_store *nst = ts_nodes_store();
	TsRow		ver;
	ts_colval	vkey[2];
	TsRowScan  *sc;
	TsRow		row;
	GNode	   *nodes;
	int			n = 0,
				cap = 1024,
				nroots = 0;
	bool		sorted = true;
	int		   *index;
	int		   *fill;
	JsonbValue *elems;
	JsonbValue *root_elems;
	PairList	top = {0};
	JsonbValue	structure,
				doc;
	Jsonb	   *vmeta;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("versions", ACL_SELECT);
	ts_require_access("nodes", ACL_SELECT);

	if (!ts_resolve_version(policy_id, version_id, has_as_of, as_of, &ver))
		PG_RETURN_NULL();
	vkey[0] = ts_val_cstring(policy_id);
	vkey[1] = ver.vals[TS_VER_VERSION_ID];

	/* the version's nodes, in key (node_id) order */
	nodes = palloc(sizeof(GNode) * cap);
	sc = ts_rows_scan_prefix(nst, vkey, 2, 0);
	while (ts_rows_next(sc, &row))
	{
		GNode	   *g;
		ts_colval  *v = row.vals;

		CHECK_FOR_INTERRUPTS();
		if (n == cap)
		{
			cap *= 2;
			nodes = repalloc_huge(nodes, sizeof(GNode) * (Size) cap);
		}
		g = &nodes[n];
		memset(g, 0, sizeof(*g));
		g->id = copy_bytes(&v[TS_NODE_NODE_ID]);
		g->idlen = v[TS_NODE_NODE_ID].len;
		if (!v[TS_NODE_PARENT_ID].isnull)
		{
			g->parent_id = copy_bytes(&v[TS_NODE_PARENT_ID]);
			g->parent_len = v[TS_NODE_PARENT_ID].len;
		}
		g->ordinal = v[TS_NODE_ORDINAL].isnull ? 0 : (int32) v[TS_NODE_ORDINAL].i;
		g->has_start = !v[TS_NODE_PAGE_START].isnull;
		g->start = (int32) v[TS_NODE_PAGE_START].i;
		g->has_end = !v[TS_NODE_PAGE_END].isnull;
		g->end = (int32) v[TS_NODE_PAGE_END].i;
		g->has_line = !v[TS_NODE_LINE_NUM].isnull;
		g->line = (int32) v[TS_NODE_LINE_NUM].i;
		if (!v[TS_NODE_TITLE].isnull)
		{
			g->title = (const char *) copy_bytes(&v[TS_NODE_TITLE]);
			g->title_len = (int) v[TS_NODE_TITLE].len;
		}
		else
		{
			g->title = "";
			g->title_len = 0;
		}
		if (!v[TS_NODE_SUMMARY].isnull)
		{
			g->summary = (const char *) copy_bytes(&v[TS_NODE_SUMMARY]);
			g->summary_len = (int) v[TS_NODE_SUMMARY].len;
		}
		if (include_text && !v[TS_NODE_TEXT].isnull)
		{
			g->text = (const char *) copy_bytes(&v[TS_NODE_TEXT]);
			g->text_len = (int) v[TS_NODE_TEXT].len;
		}
		if (!v[TS_NODE_METADATA].isnull)
		{
			Jsonb	   *m = colval_jsonb(&v[TS_NODE_METADATA]);

			if (JB_ROOT_IS_OBJECT(m) && JB_ROOT_COUNT(m) > 0)
				g->metadata = m;
			else
				pfree(m);
		}
		if (n > 0 && gnode_id_cmp(&nodes[n - 1], g) >= 0)
			sorted = false;
		n++;
	}
	ts_rows_scan_end(sc);
	if (!sorted)
		qsort(nodes, n, sizeof(GNode), gnode_id_cmp);

	/* parents (a missing parent: top level), then children by ordinal */
	for (int i = 0; i < n; i++)
	{
		GNode	   *g = &nodes[i];

		g->parent = g->parent_id ? find_gnode(nodes, n, g->parent_id, g->parent_len) : -1;
		if (g->parent >= 0)
			nodes[g->parent].nchildren++;
		else
			nroots++;
	}
	index = palloc_extended(sizeof(int) * ((Size) n + 1), MCXT_ALLOC_HUGE);
	fill = palloc_extended(sizeof(int) * ((Size) n + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	{
		int			pos = nroots;

		for (int i = 0; i < n; i++)
		{
			nodes[i].first_child = pos;
			pos += nodes[i].nchildren;
		}
	}
	{
		int			r = 0;

		for (int i = 0; i < n; i++)
		{
			GNode	   *g = &nodes[i];

			if (g->parent < 0)
				index[r++] = i;
			else
				index[nodes[g->parent].first_child + fill[g->parent]++] = i;
		}
	}
	qsort_arg(index, nroots, sizeof(int), gchild_cmp, nodes);
	for (int i = 0; i < n; i++)
		if (nodes[i].nchildren > 1)
			qsort_arg(index + nodes[i].first_child, nodes[i].nchildren, sizeof(int),
					  gchild_cmp, nodes);

	/* every node's object in its parent's list (a cycle is never reached) */
	elems = palloc_extended(sizeof(JsonbValue) * ((Size) n + 1), MCXT_ALLOC_HUGE);
	root_elems = elems;
	for (int k = 0; k < n; k++)
		nodes[index[k]].slot = &elems[k];
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		build_node_object(&nodes[i], &elems[nodes[i].first_child], include_text);
	}

	/* the wrapper */
	structure.type = jbvArray;
	structure.val.array.nElems = nroots;
	structure.val.array.elems = root_elems;
	structure.val.array.rawScalar = false;
	pairs_add(&top, jv_cstring("structure"), structure, 0);
	if (!ver.vals[TS_VER_DOC_NAME].isnull)
		pairs_add(&top, jv_cstring("doc_name"),
				  jv_string((const char *) ver.vals[TS_VER_DOC_NAME].data,
							(int) ver.vals[TS_VER_DOC_NAME].len), 0);
	if (!ver.vals[TS_VER_DOC_DESCRIPTION].isnull)
		pairs_add(&top, jv_cstring("doc_description"),
				  jv_string((const char *) ver.vals[TS_VER_DOC_DESCRIPTION].data,
							(int) ver.vals[TS_VER_DOC_DESCRIPTION].len), 0);
	vmeta = colval_jsonb(&ver.vals[TS_VER_METADATA]);
	if (vmeta && JB_ROOT_IS_OBJECT(vmeta))
	{
		JsonbValue *shape = getKeyJsonValueFromContainer(&vmeta->root, SHAPE_KEY,
														 strlen(SHAPE_KEY), NULL);

		if (shape && shape->type == jbvBinary && JsonContainerIsObject(shape->val.binary.data))
		{
			JsonbValue *extra = getKeyJsonValueFromContainer(shape->val.binary.data, "extra",
															 5, NULL);

			if (extra && extra->type == jbvBinary && JsonContainerIsObject(extra->val.binary.data))
				object_pairs(extra->val.binary.data, &top);
		}
	}
	doc = pairs_object(&top);
	PG_RETURN_JSONB_P(encode_jsonb(&doc));
}

/* ---------- delete_document ---------- */

Datum
treestore_delete_document(PG_FUNCTION_ARGS)
{
	char	   *policy_id = cstring_arg(fcinfo, 0, "policy_id");
	char	   *version_id = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	ts_colval	key[2] = {ts_val_cstring(policy_id), ts_val_cstring(version_id)};
	uint64		removed = 0;

	/* as if the user ran the SQL: the privileges on the tables it touches */
	ts_require_access("documents", ACL_SELECT | ACL_UPDATE | ACL_DELETE);
	ts_require_access("versions", ACL_SELECT | ACL_DELETE);
	ts_require_access("nodes", ACL_SELECT | ACL_DELETE);

	PreventCommandIfReadOnly("treestore.delete_document()");
	if (version_id != NULL)
	{
		TsRowWriter *w;
		uint64		vrows;

		removed += delete_prefix(ts_nodes_store(), key, 2);
		w = ts_rows_writer(ts_versions_store());
		ts_rows_delete(w, key);
		vrows = ts_rows_writer_end(w);
		removed += vrows;
		if (vrows > 0)
			removed += refresh_document_row(policy_id);
	}
	else
	{
		TsRowWriter *w;

		removed += delete_prefix(ts_nodes_store(), key, 1);
		removed += delete_prefix(ts_versions_store(), key, 1);
		w = ts_rows_writer(ts_documents_store());
		ts_rows_delete(w, key);
		removed += ts_rows_writer_end(w);
	}
	if (removed > PG_INT32_MAX)
		removed = PG_INT32_MAX;
	PG_RETURN_INT32((int32) removed);
}
