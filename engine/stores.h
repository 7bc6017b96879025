/*-------------------------------------------------------------------------
 *
 * stores.h
 *	  The product's tables on top of the engine: their schemas (the eight
 *	  tables of the contract, section 2) and the record format of a row.
 *
 *	  A table is one engine tree named after it.  A row is stored as
 *	    key   = the key columns, as a ts_key tuple (treestore.h), so that
 *	            bytewise key order is the key's order and a key prefix is a
 *	            byte prefix;
 *	    value = the other columns, as a record (below).
 *	  Both sides of the PostgreSQL integration link this file: a backend
 *	  encodes and decodes rows itself, the worker stores the bytes as they
 *	  come and never converts a row it only moves.
 *
 * RECORD FORMAT (version 1; integers little-endian)
 *	  OFFSET  SIZE  DESCRIPTION
 *	  0       1     format version (TS_REC_VERSION)
 *	  1       1     number of columns stored (n), the value columns in
 *	                schema order; columns past n read as NULL (a later
 *	                schema may add columns at the end)
 *	  2       ...   per column: 1 tag byte (0 NULL, 1 present), then if
 *	                present, by type:
 *	                  INT4, DATE, FLOAT4       4 bytes
 *	                  INT8, TIMESTAMPTZ, FLOAT8 8 bytes
 *	                  BOOL                     1 byte (0 or 1)
 *	                  TEXT, JSONB              varint length, bytes
 *	                  TEXT_ARRAY               varint count, then per
 *	                                           element varint (length + 1)
 *	                                           (0: NULL element), bytes
 *	  Varints are LEB128 (7 bits a byte, high bit: more), at most 5 bytes.
 *	  JSONB holds PostgreSQL's binary jsonb (opaque here); DATE is days and
 *	  TIMESTAMPTZ microseconds since 2000-01-01, as in PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_STORES_H
#define TS_STORES_H

#include <stddef.h>
#include <stdint.h>

#define TS_REC_VERSION 1
#define TS_STORE_MAX_COLS 16

typedef enum ts_coltype
{
	TS_COL_TEXT = 1,
	TS_COL_INT4,
	TS_COL_INT8,
	TS_COL_FLOAT4,
	TS_COL_FLOAT8,
	TS_COL_BOOL,
	TS_COL_DATE,
	TS_COL_TIMESTAMPTZ,
	TS_COL_JSONB,
	TS_COL_TEXT_ARRAY
} ts_coltype;

typedef struct ts_column
{
	const char *name;
	ts_coltype	type;
} ts_column;

typedef struct ts_store
{
	const char *name;			/* table and tree name */
	int			ncols;
	int			nkeys;			/* the first nkeys columns are the key */
	int			assigned_id;	/* 1: a NULL key (single int8 column) is
								 * given the next id by the worker */
	ts_column	cols[TS_STORE_MAX_COLS];
} ts_store;

/* One column's value.  Pointers refer to the buffer decoded from. */
typedef struct ts_colval
{
	int			isnull;
	int64_t		i;				/* INT4, INT8, BOOL, DATE, TIMESTAMPTZ */
	double		f;				/* FLOAT4, FLOAT8 */
	const uint8_t *data;		/* TEXT, JSONB: bytes; TEXT_ARRAY: the
								 * encoded elements (ts_rec_array_next) */
	size_t		len;
	uint32_t	nelems;			/* TEXT_ARRAY */
} ts_colval;

/* A growable byte buffer. */
typedef struct ts_buf
{
	uint8_t    *data;
	size_t		len,
				cap;
} ts_buf;

extern const ts_store ts_stores[];
extern const int ts_nstores;

const ts_store *ts_store_find(const char *name);
int			ts_store_colno(const ts_store *s, const char *colname);

/* Key: encode the key columns vals[0..nkeys) (NULL not allowed: TS_INVALID). */
int			ts_store_key(const ts_store *s, const ts_colval *vals, int nvals,
						 uint8_t *out, size_t *outlen);
/* Decode a key into vals[0..nkeys); text points into scratch (TS_MAX_KEY
 * bytes always suffice); TS_CORRUPT for a key not of this table's shape. */
int			ts_store_key_decode(const ts_store *s, const uint8_t *key, size_t klen,
								ts_colval *vals, uint8_t *scratch, size_t scratch_cap);

/* Record: encode vals[nkeys..ncols) of a full row. */
int			ts_rec_encode(const ts_store *s, const ts_colval *row, ts_buf *out);
/* Decode a record into row[nkeys..ncols); TS_CORRUPT on a malformed one. */
int			ts_rec_decode(const ts_store *s, const uint8_t *rec, size_t len, ts_colval *row);
/* Walk a TEXT_ARRAY value: *pos starts at 0; sets *isnull/data/len. */
int			ts_rec_array_next(const ts_colval *v, size_t *pos, int *isnull,
							  const uint8_t **data, size_t *len);
/* Append a TEXT_ARRAY element to b (the encoded elements; count kept by caller). */
int			ts_rec_array_add(ts_buf *b, const void *data, size_t len, int isnull);

/* LEB128 varints of the record format (at most 32 bits when read). */
int			ts_varint_put(ts_buf *b, uint64_t v);
int			ts_varint_get(const uint8_t *p, size_t len, size_t *pos, uint32_t *out);

int			ts_buf_reserve(ts_buf *b, size_t more);
int			ts_buf_append(ts_buf *b, const void *p, size_t n);
void		ts_buf_free(ts_buf *b);

#endif							/* TS_STORES_H */
