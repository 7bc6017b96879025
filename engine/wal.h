/*-------------------------------------------------------------------------
 *
 * wal.h
 *	  The write-ahead log: segment files, appending with group commit, and
 *	  reading back with validation.  Knows records, not transactions: what a
 *	  record means is txn.c's and recovery.c's business.
 *
 * FILES
 *	  Segments "wal-<16 hex digits: segment number>" in the environment's
 *	  directory, numbered consecutively from 1.  A segment is rotated when
 *	  it has reached segment_size bytes (a record is never split: a segment
 *	  can exceed its size by one write batch).  With sync, the segment being
 *	  written is zero-filled ahead of its records (wal.c, PREALLOCATION), so
 *	  its file can be longer than its records: zeros follow the last one.
 *	  Layout (little-endian):
 *
 *	  SEGMENT HEADER (64 bytes)
 *	      0  8 magic "TSWALSEG"
 *	      8  4 format version (TS_WAL_VERSION)
 *	     12  4 reserved, zero
 *	     16  8 segment number
 *	     24  8 salt: random, different for every segment
 *	     32  8 first LSN: the LSN of the byte at offset 64
 *	     40 20 reserved, zero
 *	     60  4 CRC32C of bytes 0..59
 *
 *	  RECORD (from offset 64; every record starts 8-byte aligned, padding is
 *	  zero bytes counted in the LSN space)
 *	      0  4 CRC32C of bytes 4 .. 40+len-1, computed with the initial value
 *	           (uint32_t) (salt ^ (salt >> 32)) of the segment holding it
 *	      4  4 payload length `len`
 *	      8  8 LSN of this record
 *	     16  8 batch: LSN of the first record of the write this record went
 *	           out in (one write + fdatasync per batch)
 *	     24  8 xid: the transaction the record belongs to (0: none)
 *	     32  1 type (TS_WAL_*)
 *	     33  7 reserved, zero
 *	     40 len payload
 *
 *	  LSNs are byte positions in the log as a whole: a record at offset off
 *	  of a segment has LSN first_lsn + off - 64, and the next segment's
 *	  first LSN is the end LSN of the previous segment.
 *
 * A RECORD IS VALID when, in order: its 40-byte header lies within the
 * file; the CRC matches (so a record from another segment, file or an
 * earlier life of the same bytes never matches: the salt differs); its LSN
 * is the one expected at that position; len <= TS_WAL_MAX_RECORD and the
 * payload lies within the file; type is known; batch <= LSN.
 *
 * THE END OF THE LOG vs CORRUPTION
 *	  Batches are written one at a time, each followed by fdatasync before
 *	  the next is written, so a crash can damage only the last batch.  When
 *	  reading stops at an invalid record at LSN X, the reader looks further
 *	  (every 8-byte aligned position to the end of that segment, and the
 *	  later segments) for a valid record.  One whose batch is > X proves that
 *	  X was in an earlier, synced batch: that is corruption (TS_CORRUPT,
 *	  naming the file and offset), unless the reader was opened to tolerate
 *	  it.  Otherwise X is a torn tail: the normal end of the log.  A missing
 *	  segment number, or a first LSN that does not continue the previous
 *	  segment, is corruption too.
 *
 *	  A SEGMENT ENDS WHERE THE NEXT BEGINS: when segment N+1 exists, the
 *	  records of segment N end exactly at N+1's first LSN.  Recovery leaves a
 *	  torn tail behind and starts a new segment at the end it found, so an
 *	  invalid record (or the end of the file) in N at exactly that LSN is not
 *	  an error: the reader goes on in N+1.  Valid records of N ending before
 *	  N+1's first LSN followed by an invalid one, or running past it, are
 *	  corruption.
 *
 * SYNC ORDER (commit)
 *	  append (buffer) -> ts_wal_flush: write the batch, fdatasync -> the
 *	  caller publishes.  New segment: create, write header, fdatasync the
 *	  file, fsync the directory, then write records into it.  Removing
 *	  segments, oldest first: unlink one, fsync the directory, then the
 *	  next.
 *
 * FAILURE
 *	  A failed write or fdatasync poisons the log: every later append or
 *	  flush returns TS_POISONED; an fdatasync is never retried.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_WAL_H
#define TS_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "treestore.h"
#include "vfs.h"

#define TS_WAL_VERSION		1
#define TS_WAL_MAGIC		"TSWALSEG"
#define TS_WAL_HDR			64		/* segment header */
#define TS_WAL_REC_HDR		40		/* record header */
#define TS_WAL_MAX_RECORD	((size_t) 1 << 31)

/* record types */
#define TS_WAL_OPS				1	/* a chunk of a transaction's writes */
#define TS_WAL_COMMIT			2	/* payload: u64 commit txnid */
#define TS_WAL_PREPARE			3	/* payload: u16 gid length, gid */
#define TS_WAL_COMMIT_PREPARED	4	/* payload: u64 commit txnid */
#define TS_WAL_ABORT_PREPARED	5	/* no payload */

typedef struct ts_wal ts_wal;

typedef struct ts_wal_options
{
	uint64_t	segment_size;	/* rotate at this size; default 100 MB */
	int			sync;			/* 1: fdatasync in ts_wal_flush; 0: never */
} ts_wal_options;

/* --- writing --- */

/*
 * Open the log in `dir` for appending after `end_lsn`, the end of the valid
 * log as the reader found it (recovery).  The next record goes into a new
 * segment, so a torn tail is never appended to.  With no segments at all,
 * the first segment starts at end_lsn.
 */
int			ts_wal_open(ts_vfs *vfs, const char *dir, const ts_wal_options *opt,
						uint64_t end_lsn, ts_wal **out);
void		ts_wal_close(ts_wal *wal);

/*
 * Add a record to the in-memory buffer (not yet written).  Thread-safe, but
 * the caller orders its appends (txn.c appends under its commit lock).
 * Returns the LSN just past the record in *end.
 */
int			ts_wal_append(ts_wal *wal, uint64_t xid, int type, const void *payload,
						  size_t len, uint64_t *end);

/*
 * Make the log durable up to `lsn` (group commit): if another thread is
 * already writing, wait for it; then, if `lsn` is not yet durable, become
 * the writer and write + fdatasync everything buffered so far, for every
 * committer waiting.  Returns 0, TS_POISONED, or the write/sync error.
 */
int			ts_wal_flush(ts_wal *wal, uint64_t lsn);

uint64_t	ts_wal_end_lsn(ts_wal *wal);	/* end of what was appended */
uint64_t	ts_wal_flushed_lsn(ts_wal *wal);	/* end of what is durable */

/* Remove segments that end at or before `lsn`, keeping at least `keep` of
 * them (the newest).  Never removes the segment being written. */
int			ts_wal_remove_before(ts_wal *wal, uint64_t lsn, int keep);

typedef struct ts_wal_stat
{
	uint64_t	first_segment,
				last_segment;
	uint64_t	bytes;			/* of all segment files */
	uint64_t	flushes;		/* write + fdatasync batches */
	uint64_t	records;
} ts_wal_stat;
void		ts_wal_stat_get(ts_wal *wal, ts_wal_stat *st);

/* --- reading --- */

typedef struct ts_wal_reader ts_wal_reader;

typedef struct ts_wal_record
{
	uint64_t	lsn;
	uint64_t	end;			/* LSN just past the record (and padding) */
	uint64_t	batch;
	uint64_t	xid;
	int			type;
	const uint8_t *payload;		/* valid until the next ts_wal_read */
	size_t		len;
	uint64_t	segment;		/* where it was read */
	uint64_t	offset;
} ts_wal_record;

/*
 * Read the log in `dir` from `from_lsn` (the first record at or after it;
 * from_lsn must be a record boundary or 0 for the very start).  With
 * `tolerate` set, corruption ends the log (reported once through
 * ts_last_error and *damaged) instead of failing.
 */
int			ts_wal_reader_open(ts_vfs *vfs, const char *dir, uint64_t from_lsn, int tolerate,
							   ts_wal_reader **out);

/* Next record: 0, TS_NOTFOUND at the end of the log, TS_CORRUPT. */
int			ts_wal_read(ts_wal_reader *r, ts_wal_record *rec);

/* After TS_NOTFOUND: the end LSN of the valid log, and whether damage was
 * tolerated to get there. */
uint64_t	ts_wal_reader_end(ts_wal_reader *r, int *damaged);
void		ts_wal_reader_close(ts_wal_reader *r);

#endif							/* TS_WAL_H */
