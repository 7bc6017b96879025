/*-------------------------------------------------------------------------
 *
 * docquery.h
 *	  One document query (Treestore__Query) on an engine transaction: the
 *	  version resolved by the temporal rule, then the rows the query asks
 *	  for, from the document indexes.  Run by the worker (worker_ops.c) and
 *	  by a backend reading the engine itself (local.c), so both answer
 *	  alike.  The rows go to emit(); nothing here sends or raises.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_DOCQUERY_H
#define TS_DOCQUERY_H

#include "docindex.h"
#include "treestore.h"
#include "wire.h"

/*
 * Returns 0, an engine error, or what emit returned to stop.  res gets
 * found_version and version_id (palloc'ed); TS_DOCINDEX_IRREGULAR when the
 * version must be answered from its rows (docindex.h).  trees: the handle
 * of each of ts_stores[] in txn's environment.  An unknown kind: TS_INVALID.
 */
extern int	ts_docquery_run(ts_txn *txn, const ts_docindex *ix, const ts_tree *trees,
							const Treestore__Query *q, Treestore__QueryResult *res,
							ts_docindex_emit emit, void *arg);

#endif							/* TS_DOCQUERY_H */
