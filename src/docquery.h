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

/* A query's rows past this make it fail (54000) rather than run out of memory. */
#define TS_QUERY_MAX_PAYLOAD ((Size) 512 * 1024 * 1024)
#define TS_QUERY_TOO_BIG	(-1)	/* what ts_docquery_collect returns then */
#define TS_QUERY_FAILED		(-2)	/* an ERROR while adding a row (error) */

/*
 * The rows of a query as they come (a row batch, wire.h) with their scores:
 * ts_docquery_collect is the emit callback that fills it.  The engine calls
 * it with cursors and pages held, so an ERROR in it is caught, kept in
 * `error` and returned as TS_QUERY_FAILED: the engine unwinds normally and
 * the caller reports it.  row_added, when set, is called after each row
 * (the worker sends parts from there; it may raise).
 */
typedef struct TsQueryRows
{
	StringInfo	rows;			/* rows not yet handed on */
	uint32		nrows;
	Size		total;			/* bytes of every row so far */
	double	   *scores;
	size_t		nscores,
				capscores;
	ErrorData  *error;
	void		(*row_added) (struct TsQueryRows *qr);
} TsQueryRows;

extern int	ts_docquery_collect(void *arg, const uint8_t *key, size_t klen,
								const uint8_t *val, size_t vlen, double score);

#endif							/* TS_DOCQUERY_H */
