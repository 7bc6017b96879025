/*-------------------------------------------------------------------------
 *
 * rows.h
 *	  Engine rows for C functions (rows.c): write batches of row operations
 *	  to a store through the worker, and read key ranges of a store, in the
 *	  current transaction (the same engine transaction as the foreign
 *	  tables': reads see the transaction's own writes, writes follow its
 *	  COMMIT, ROLLBACK and savepoints).  Reads of a transaction that has not
 *	  written run in the backend (local.c); a later write is checked for
 *	  conflicts from the first of them.
 *
 *	  Rows are given and returned as ts_colval arrays in store column order
 *	  (engine/stores.h): vals[0..nkeys) the key, the rest the record.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_ROWS_H
#define TS_ROWS_H

#include "stores.h"
#include "treestore.h"

/* ---------- writing ---------- */

typedef struct TsRowWriter TsRowWriter;

/*
 * A writer buffers row operations for one store and sends them in batches
 * (250 operations or about 256 KB), each sent without waiting for the
 * worker: its response is read before the next request (ts_call_start), so
 * that the backend prepares a batch while the worker writes the last one.
 * Errors (23505 on an INSERT of an existing key, 40001, ...) are raised
 * when that response is read, which may be at a later call than the one
 * that queued the operation, and at the latest by ts_rows_writer_end.
 */
extern TsRowWriter *ts_rows_writer(const ts_store *st);

/* INSERT a full row; fails with 23505 if its key exists. */
extern void ts_rows_insert(TsRowWriter *w, const ts_colval *row);

/* Write a full row whether or not its key exists (insert or overwrite). */
extern void ts_rows_put(TsRowWriter *w, const ts_colval *row);

/* DELETE the row with key columns keyvals[0..nkeys); a missing row is no error. */
extern void ts_rows_delete(TsRowWriter *w, const ts_colval *keyvals);

/* DELETE by encoded key. */
extern void ts_rows_delete_key(TsRowWriter *w, const uint8 *key, size_t klen);

/* Send what is buffered. */
extern void ts_rows_flush(TsRowWriter *w);

/*
 * Send what is buffered and free the writer.  Returns the rows affected by
 * all its operations (DELETE counts only rows that existed).
 */
extern uint64 ts_rows_writer_end(TsRowWriter *w);

/* ---------- reading ---------- */

/* A decoded row; text and jsonb values point into memory the row owns. */
typedef struct TsRow
{
	ts_colval	vals[TS_STORE_MAX_COLS];
	const uint8 *key;			/* the encoded key */
	size_t		klen;
} TsRow;

typedef struct TsRowScan TsRowScan;

/*
 * Scan the rows whose key starts with the key columns vals[0..nvals)
 * (nvals 0: the whole store), in key order; limit 0: no limit.
 */
extern TsRowScan *ts_rows_scan_prefix(const ts_store *st, const ts_colval *vals, int nvals,
									  uint64 limit);

/* Scan the key range [lo, hi) (empty lo: from the start, empty hi: to the end). */
extern TsRowScan *ts_rows_scan_range(const ts_store *st, const uint8 *lo, size_t lolen,
									 const uint8 *hi, size_t hilen, uint64 limit);

/*
 * The next row, or false at the end.  The row's pointers stay valid until
 * the next call (key columns) or the next batch (the rest); copy what must
 * live longer (ts_rows_copy).  Other requests may be made between
 * calls: each batch is copied out of the channel.  A scan started before
 * writes of the same transaction may or may not see them; to write what a
 * scan reads, read it whole first (ts_rows_fetch_prefix).
 */
extern bool ts_rows_next(TsRowScan *sc, TsRow *row);

/* End a scan early (or after its end: then only frees it). */
extern void ts_rows_scan_end(TsRowScan *sc);

/* A copy of row in the current memory context. */
extern void ts_rows_copy(const ts_store *st, const TsRow *row, TsRow *out);

/* Every row of a prefix scan, copied into the current memory context. */
extern TsRow *ts_rows_fetch_prefix(const ts_store *st, const ts_colval *vals, int nvals,
								   uint64 limit, int *nrows);

/* The row with key columns keyvals[0..nkeys), copied; false if there is none. */
extern bool ts_rows_get(const ts_store *st, const ts_colval *keyvals, TsRow *row);

/* ---------- building values ---------- */

/* ts_colval constructors (text and jsonb point to the caller's bytes). */
extern ts_colval ts_val_null(void);
extern ts_colval ts_val_text(const char *data, size_t len);
extern ts_colval ts_val_cstring(const char *s);
extern ts_colval ts_val_int(int64 v);
extern ts_colval ts_val_bytes(const void *data, size_t len);	/* jsonb bytes */

/* Encode the key columns vals[0..n) of st (a prefix when n < nkeys). */
extern void ts_rows_key(const ts_store *st, const ts_colval *vals, int n,
						uint8 *key, size_t *klen);

/* A text column value as a palloc'd C string (NULL for NULL). */
extern char *ts_val_cstring_copy(const ts_colval *v);

#endif							/* TS_ROWS_H */
