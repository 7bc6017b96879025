/*-------------------------------------------------------------------------
 *
 * docindex.h
 *	  Secondary indexes of the document tables (nodes, versions,
 *	  cross_references) and the queries they serve: children, subtree,
 *	  ancestors, pages, the version in force, incoming references, and
 *	  BM25 search over an inverted index.
 *
 *	  Every index is an engine tree of its own, written in the same
 *	  transaction as the row it indexes: whoever writes a row of an
 *	  indexed table calls ts_docindex_changed() with the row's old and
 *	  new bytes, then ts_docindex_flush() before anything reads the
 *	  transaction again.  The indexes are derived from the rows alone, so
 *	  every write path (store_document, the foreign tables, TRUNCATE)
 *	  keeps them the same way.
 *
 *	  Terms for search are not derived here: tokenising belongs to
 *	  PostgreSQL's text search, in the backend.  The writer of a node
 *	  passes its terms (ts_terms format below) with the row.
 *
 *	  TERMS FORMAT: varint n, then n times: varint length, the lexeme,
 *	  varint count in the title, varint count in summary and text.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_DOCINDEX_H
#define TS_DOCINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "stores.h"
#include "treestore.h"

/* A version whose nodes are not all in document order (see docindex.c). */
#define TS_DOCINDEX_IRREGULAR 1

typedef struct ts_docindex
{
	int			st_nodes,		/* positions in ts_stores[] */
				st_versions,
				st_xrefs;
	ts_tree		nodes,			/* the tables */
				versions,
				xrefs;
	ts_tree		children,		/* the indexes (docindex.c) */
				order,
				paths,
				pages,
				terms,
				vmeta,
				postings,
				by_date,
				xref_in,
				meta;			/* "format": the indexes are built */
} ts_docindex;

/* What a query hands back, row by row: a table row and, for search, a score. */
typedef int (*ts_docindex_emit) (void *arg, const uint8_t *key, size_t klen,
								 const uint8_t *val, size_t vlen, double score);

/* Per-batch state of a writer (postings and per-version counters are
 * merged once per batch, not once per row). */
typedef struct ts_docindex_batch ts_docindex_batch;

/* Open the tables' and indexes' trees (a write transaction creates the missing ones). */
int			ts_docindex_open(ts_txn *txn, ts_docindex *ix);

/*
 * Indexes missing for rows that exist (tables written by a build without
 * them): 1 (0: built, or the tables are empty -- then marked built, so
 * txn must be a write transaction).  Rebuild them from the rows in txn -- every index but the search
 * terms, which only the backend can make.  *nodes_without_terms tells how
 * many nodes are not searchable until rewritten.  Idempotent: it empties
 * the indexes first, and marks them built when done.
 */
int			ts_docindex_rebuild_needed(ts_txn *txn, const ts_docindex *ix);
int			ts_docindex_rebuild(ts_txn *txn, const ts_docindex *ix, uint64_t *nodes_without_terms);

/* 1 if writes to ts_stores[st] must be reported to ts_docindex_changed. */
int			ts_docindex_indexed(const ts_docindex *ix, int st);

ts_docindex_batch *ts_docindex_batch_new(void);
void		ts_docindex_batch_free(ts_docindex_batch *b);

/*
 * A row of ts_stores[st] changed from (okey, orec) to (nkey, nrec), in txn;
 * either side may be absent (okey / nkey NULL).  The table itself is
 * already written.  terms: the new node's terms (NULL: none).
 */
int			ts_docindex_changed(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b,
								int st,
								const uint8_t *okey, size_t oklen,
								const uint8_t *orec, size_t orlen,
								const uint8_t *nkey, size_t nklen,
								const uint8_t *nrec, size_t nrlen,
								const uint8_t *terms, size_t tlen);
/* Apply what the batch collected; the batch is empty afterwards. */
int			ts_docindex_flush(ts_txn *txn, const ts_docindex *ix, ts_docindex_batch *b);
/* Drop what the batch collected (the writes it belonged to failed). */
void		ts_docindex_discard(ts_docindex_batch *b);
/* Empty the indexes of ts_stores[st] (after its rows were all deleted). */
int			ts_docindex_truncate(ts_txn *txn, const ts_docindex *ix, int st);

/*
 * The temporal rule (CONTRACT.md section 3): version_id when given (if it
 * exists), else the version in force at as_of when has_as_of, else the one
 * in force at `today` or, if none is, the latest effective_from.  Writes
 * the version id to vout (TS_MAX_KEY bytes); TS_NOTFOUND if none.
 */
int			ts_docindex_resolve(ts_txn *txn, const ts_docindex *ix,
								const uint8_t *policy, size_t plen,
								const uint8_t *version, size_t vlen, int has_version,
								int has_as_of, int32_t as_of, int32_t today,
								uint8_t *vout, size_t *voutlen);

/*
 * Node queries within one version (policy p, version v); rows of nodes are
 * emitted.  TS_DOCINDEX_IRREGULAR: the version has nodes outside document
 * order (an orphan, a cycle, a tree too deep for the order keys), and the
 * caller answers from the version's rows instead; children of a given node
 * and get_node never need that.
 */
int			ts_docindex_node(ts_txn *txn, const ts_docindex *ix,
							 const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
							 const uint8_t *id, size_t idlen,
							 ts_docindex_emit emit, void *arg);
int			ts_docindex_children(ts_txn *txn, const ts_docindex *ix,
								 const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
								 const uint8_t *id, size_t idlen,	/* NULL: top level */
								 ts_docindex_emit emit, void *arg);
int			ts_docindex_subtree(ts_txn *txn, const ts_docindex *ix,
								const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
								const uint8_t *id, size_t idlen,	/* NULL: all */
								int max_depth,	/* < 0: no bound */
								ts_docindex_emit emit, void *arg);
int			ts_docindex_ancestors(ts_txn *txn, const ts_docindex *ix,
								  const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
								  const uint8_t *id, size_t idlen,
								  ts_docindex_emit emit, void *arg);
int			ts_docindex_by_page(ts_txn *txn, const ts_docindex *ix,
								const uint8_t *p, size_t plen, const uint8_t *v, size_t vlen,
								int32_t page, ts_docindex_emit emit, void *arg);

/* Cross references of policy p (and node id): rows of cross_references,
 * in key order.  direction: 1 outgoing, 2 incoming, 3 both. */
int			ts_docindex_xrefs(ts_txn *txn, const ts_docindex *ix,
							  const uint8_t *p, size_t plen,
							  const uint8_t *id, size_t idlen,	/* NULL: any node */
							  int direction, ts_docindex_emit emit, void *arg);

/*
 * BM25 search for any of terms[0..nterms) (lexemes, as in the terms format)
 * over title (weighted), summary and text.  With policy p: in the version
 * the temporal rule picks (or v when has_version); without: in every
 * policy's such version.  Emits at most top_k nodes rows, best first.
 */
typedef struct ts_search_args
{
	const uint8_t *policy;		/* NULL: every policy */
	size_t		plen;
	const uint8_t *version;
	size_t		vlen;
	int			has_version;
	int			has_as_of;
	int32_t		as_of;
	int32_t		today;
	const uint8_t *const *terms;
	const size_t *term_lens;
	int			nterms;
	uint32_t	top_k;
} ts_search_args;

int			ts_docindex_search(ts_txn *txn, const ts_docindex *ix, const ts_search_args *a,
							   ts_docindex_emit emit, void *arg);

#endif							/* TS_DOCINDEX_H */
