/*-------------------------------------------------------------------------
 *
 * treestore.h
 *	  The TreeStore engine: public interface.  Plain C11, no PostgreSQL.
 *
 * DESIGN
 *	  One environment (ts_env) is one directory holding one data file
 *	  ("treestore.db").  The file is an array of fixed-size pages (4096 bytes),
 *	  each carrying a CRC32C checksum that is verified whenever the page is read
 *	  from disk.  Pages 0 and 1 are the two meta pages, written alternately; an
 *	  open takes the newest one whose checksum holds.  The meta page names the
 *	  catalog (a B+tree of named trees) and the freelist (a B+tree of pages freed
 *	  by each transaction).
 *
 *	  Every tree is a copy-on-write B+tree: a commit never overwrites a page that
 *	  a committed snapshot can reach.  A page freed by transaction T is reused
 *	  only when no snapshot older than T remains.
 *
 * DURABILITY
 *	  A commit appends its writes to the write-ahead log ("wal-*" segment files
 *	  in the same directory, wal.h), fdatasyncs the log (concurrent committers
 *	  share one fdatasync: group commit) and only then becomes visible and
 *	  returns.  Its pages stay in memory; a checkpoint writes them to the data
 *	  file, syncs, writes the meta page, syncs, and drops the log behind it.
 *	  Opening the environment replays the log from the last checkpoint: every
 *	  commit that returned success survives a crash, and nothing of one that
 *	  did not is visible.  With sync = 0 nothing is fdatasync'ed (a crash may
 *	  lose recent commits, never mix states); with async_commit, a commit
 *	  returns before its fdatasync, which follows within async_flush_ms.
 *	  The log is the engine's own: PostgreSQL does not replicate it.
 *
 * TRANSACTIONS
 *	  Any number of read transactions run at once, each on the snapshot that
 *	  was newest when it began.  A write transaction also reads that snapshot,
 *	  but keeps its own writes in a private, ordered write set; its reads
 *	  (ts_get, cursors) see the write set merged over the snapshot.  Commit
 *	  applies the write set to the newest committed state under one engine-wide
 *	  commit lock (the commit path is single-writer).  First committer wins:
 *	  if a transaction that committed after this one's snapshot wrote any key
 *	  this one wrote (put or delete, same tree), commit fails with TS_CONFLICT
 *	  and nothing of this transaction is applied.
 *
 *	  Lifecycle (function performing each transition):
 *
 *	      ts_txn_begin ──► ACTIVE ──ts_txn_prepare──► PREPARED
 *	                         │  │                       │   │
 *	            ts_txn_abort │  │ ts_txn_commit         │   │ ts_txn_commit
 *	                         ▼  ▼                       │   ▼
 *	                     ABORTED COMMITTED ◄────────────┘ COMMITTED
 *	                                    ts_txn_abort ─► ABORTED
 *
 *	  ts_txn_prepare performs the conflict check and reserves the write set's
 *	  keys, so that a later ts_txn_commit of the prepared transaction cannot
 *	  fail with TS_CONFLICT (only with an I/O error).  Any other transaction that
 *	  writes a reserved key and tries to commit gets TS_CONFLICT.  A prepared
 *	  transaction is durable: after a crash it comes back "in doubt"
 *	  (ts_env_prepared) until ts_env_resolve commits or aborts it.
 *
 *	  Savepoints (ts_txn_savepoint, ts_txn_rollback_to, ts_txn_release)
 *	  undo the writes of an ACTIVE write transaction back to a mark, as SQL
 *	  savepoints do.  ts_txn_renew moves a transaction's reads to the newest
 *	  committed state (a statement snapshot, for READ COMMITTED) while its
 *	  writes are still checked for conflicts against the snapshot it began
 *	  with.
 *
 * CAVEATS
 *	  - A transaction handle and its cursors are used by one thread at a time.
 *	    Different transactions may be used from different threads.
 *	  - A long-lived read transaction pins every page freed after its
 *	    snapshot; the file grows until it ends or renews its snapshot
 *	    (ts_txn_renew; see ts_env_stat: oldest_reader).
 *	  - Open the environment in the process that uses it (never across fork).
 *
 * BUFFER LIFETIMES
 *	  Keys and values returned by ts_get and cursors point into memory owned by
 *	  the transaction or cursor.  They stay valid until the next call on the
 *	  same transaction (ts_get, ts_put, ts_del, ts_txn_rollback_to,
 *	  ts_txn_renew) or cursor (any move), or until the transaction ends,
 *	  whichever comes first.
 *
 * ERRORS
 *	  Every function returning int returns 0 (TS_OK) on success, a negative
 *	  TS_* code below for engine conditions, or a positive errno for a system
 *	  call failure.  ts_strerror() names any code; ts_last_error() gives the
 *	  detailed message of the last failure on the calling thread (for example
 *	  "page 1234 of treestore.db: checksum mismatch").  Nothing in the engine
 *	  aborts the process.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TREESTORE_H
#define TREESTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 is success; engine codes in a reserved negative range. */
#define TS_OK			 0
#define TS_NOTFOUND		(-30900)	/* key, tree or cursor position not found */
#define TS_EXISTS		(-30901)	/* key exists (TS_NOOVERWRITE), tree exists */
#define TS_CONFLICT		(-30902)	/* write-write conflict: a later committer lost */
#define TS_CORRUPT		(-30903)	/* a page or meta failed verification */
#define TS_TOO_NEW		(-30904)	/* file written by a newer on-disk format */
#define TS_FULL			(-30905)	/* out of space: disk full or page number limit */
#define TS_KEY_TOO_BIG	(-30906)	/* key longer than TS_MAX_KEY, or empty */
#define TS_BAD_TXN		(-30907)	/* wrong state: write in a read txn, finished txn */
#define TS_INVALID		(-30908)	/* invalid argument */
#define TS_POISONED		(-30909)	/* an earlier write or fsync failed: no more writes */
#define TS_NOMEM		(-30910)	/* out of memory */
#define TS_BUSY			(-30911)	/* the data file is open in another environment */
#define TS_VALUE_TOO_BIG (-30912)	/* value longer than TS_MAX_VALUE */
#define TS_LAST_ERRCODE	TS_VALUE_TOO_BIG

#define TS_PAGE_SIZE	4096
#define TS_MAX_KEY		980		/* bytes; keys are 1..TS_MAX_KEY bytes */
/*
 * Values may be 0 to TS_MAX_VALUE bytes (2 GB less 991 bytes): the most the
 * write-ahead log holds with any key in one record (payload at most 2^31
 * bytes: an 11-byte operation header, the key, the value).  ts_put refuses a
 * longer one with TS_VALUE_TOO_BIG before anything is written.
 */
#define TS_MAX_VALUE	(((size_t) 1 << 31) - 11 - TS_MAX_KEY)
#define TS_MAX_TREE_NAME 200

/* Flags */
#define TS_RDONLY		0x01	/* ts_txn_begin: read-only transaction; ts_env_open:
								 * replay the log in memory, write nothing */
#define TS_CREATE		0x02	/* ts_env_open: create; ts_tree_open: create tree */
#define TS_NOOVERWRITE	0x04	/* ts_put: fail with TS_EXISTS if key is present */

typedef struct ts_env ts_env;
typedef struct ts_txn ts_txn;
typedef struct ts_cursor ts_cursor;
typedef struct ts_vfs ts_vfs;		/* see vfs.h */
typedef uint32_t ts_tree;			/* handle of a named tree; stable for the env */

typedef struct ts_slice
{
	const void *data;
	size_t		len;
} ts_slice;

typedef struct ts_options
{
	size_t		cache_pages;	/* buffer cache capacity in pages; default 16384 */
	int			sync;			/* 1 (default): fdatasync at commit; 0: never */
	unsigned	flags;			/* TS_CREATE: create the directory and file */
	ts_vfs	   *vfs;			/* NULL: the POSIX file system */

	/* write-ahead log and checkpoints */
	uint64_t	wal_segment_size;	/* rotate segments at; default 100 MB */
	int			wal_keep_segments;	/* kept behind the checkpoint; default 3 */
	uint64_t	checkpoint_wal_bytes;	/* checkpoint after this much WAL; default 256 MB */
	uint32_t	checkpoint_interval_ms; /* and at least this often; default 600000 (10 min), 0: never */
	size_t		max_dirty_pages;	/* force a checkpoint above this many pages changed since
									 * the last one; default: an eighth of the file (at
									 * least 8192), at most cache_pages / 2 */
	int			background_checkpoints; /* 1: the committer that sees too many changed pages
										 * asks the background thread for that checkpoint and
										 * goes on (it waits only at twice the limit), for a
										 * caller that cannot stall: a shorter wait, a larger
										 * file under heavy updates; default 0 */
	int			async_commit;	/* 1: commit returns before its fdatasync (loss window
								 * up to async_flush_ms); default 0 */
	uint32_t	async_flush_ms; /* default 200 */
	int			accept_wal_loss;	/* 1: recovery ends the log at corruption instead of
									 * failing (operator's choice); default 0 */
	void	   *shared;			/* readers in other processes: a region made by
								 * ts_shared_init, mapped in each of them (below);
								 * NULL: none */
	uint32_t	open_wait_ms;	/* ts_env_open with shared: how long to wait for
								 * readers of snapshots its recovery may rewrite
								 * (then TS_BUSY); default 5000 */
} ts_options;

typedef struct ts_stat
{
	uint64_t	txnid;			/* last committed transaction */
	uint64_t	page_count;		/* pages in use by the file (high-water mark) */
	uint64_t	free_pages;		/* pages on the freelist */
	uint64_t	file_bytes;		/* page_count * TS_PAGE_SIZE */
	uint64_t	cache_hits;
	uint64_t	cache_misses;
	uint64_t	cache_pages;	/* frames currently held */
	uint64_t	oldest_reader;	/* txnid of the oldest live snapshot */
	uint64_t	pinned_pages;	/* freed pages waiting for old readers */
	uint64_t	commits;
	uint64_t	conflicts;
	uint64_t	active_txns;
	/* write-ahead log and checkpoints */
	uint64_t	wal_bytes;		/* of all segment files */
	uint64_t	wal_segments;	/* segment files */
	uint64_t	wal_end_lsn;	/* end of the log written */
	uint64_t	wal_flushed_lsn;	/* end of the log made durable */
	uint64_t	wal_flushes;	/* write + fdatasync batches (group commits) */
	uint64_t	checkpoint_txnid;	/* last checkpoint's transaction */
	uint64_t	checkpoint_lsn;
	uint64_t	checkpoints;
	uint64_t	checkpoint_age_ms;	/* since the last checkpoint (or the open) */
	uint64_t	dirty_pages;	/* changed since the last checkpoint */
	uint64_t	prepared;		/* prepared transactions not yet resolved */
	uint64_t	readers;		/* processes attached as readers (shared.c) */
	int			poisoned;		/* 1: a write or sync failed; reopen */
} ts_stat;

typedef struct ts_treestat
{
	uint64_t	entries;
	uint32_t	depth;
	uint64_t	root;
} ts_treestat;

/* --- errors --- */
const char *ts_strerror(int err);
const char *ts_last_error(void);	/* detailed message, thread-local */

/* --- environment --- */
void		ts_options_init(ts_options *opt);

/*
 * Open (with TS_CREATE in opt->flags: create) the environment in directory
 * `path`.  Errors: TS_CORRUPT (no valid meta page), TS_TOO_NEW (newer format),
 * TS_BUSY (another open environment, in this or another process, holds the
 * file), errno values from the file system.
 */
int			ts_env_open(const char *path, const ts_options *opt, ts_env **env);

/* Close; every transaction must have ended.  Returns the first error seen. */
int			ts_env_close(ts_env *env);
int			ts_env_stat(ts_env *env, ts_stat *st);
/* 1 once a write or sync failed (st.poisoned, without ts_env_stat's walk) */
int			ts_env_poisoned(ts_env *env);

/*
 * Verify the whole file: every checksum, every tree's ordering and balance,
 * and that every page below page_count is reachable or free exactly once.
 * Returns 0 or TS_CORRUPT with the first problem in ts_last_error().
 */
int			ts_env_check(ts_env *env);

/*
 * Checkpoint now: write every page changed since the last checkpoint, sync,
 * write the meta page, sync, and remove WAL segments no longer needed.
 */
int			ts_env_checkpoint(ts_env *env);

/*
 * Prepared transactions found by recovery ("in doubt"): their global ids,
 * one after another as NUL-terminated strings in a malloc'ed buffer (*n of
 * them; free the buffer).  Resolve each with ts_env_resolve.
 */
int			ts_env_prepared(ts_env *env, char **gids, size_t *n);
int			ts_env_resolve(ts_env *env, const char *gid, int commit);

/*
 * Readers in other processes (shared.c).  One process writes the
 * environment (ts_env_open with opt.shared set); others read it with
 * ts_env_attach, without any message to the writer: they read the data
 * file themselves, on the snapshot the writer published in the shared
 * region, registered there so that the writer does not reuse its pages.
 * The caller allocates ts_shared_size(max_readers) bytes that every process
 * maps (at any address), and calls ts_shared_init once, before any process
 * uses them.  With a region, the writer writes each commit's pages to the
 * data file at commit (without a sync), so that readers see them at once.
 *
 * ts_env_attach: an environment that only reads (ts_txn_begin with
 * TS_RDONLY), on the snapshot newest when each transaction begins (or
 * renews); its own page cache holds opt->cache_pages pages.  It takes one
 * slot of the reader table for the process (TS_BUSY if none is free; a
 * slot of a process that is gone is reclaimed).  ts_txn_begin fails with
 * TS_BUSY while no snapshot is published (the writer is not running, or is
 * opening and must first wait for readers of snapshots newer than its
 * checkpoint: those of a writer that died, which its recovery may rewrite).
 * A reader keeps reading while the writer restarts after a clean close.
 */
size_t		ts_shared_size(uint32_t max_readers);
int			ts_shared_init(void *mem, size_t size, uint32_t max_readers);
int			ts_env_attach(const char *path, const ts_options *opt, ts_env **env);

/* --- transactions --- */
int			ts_txn_begin(ts_env *env, unsigned flags, ts_txn **txn);

/*
 * Commit: TS_CONFLICT if another transaction committed a write to a key this
 * one wrote after this one's snapshot was taken.  The handle is freed in
 * every case (success or failure).
 *
 * 0 once the commit is durable, even if a checkpoint it then takes fails
 * (that poisons the environment: the next write reports it).  TS_CONFLICT
 * and TS_POISONED: nothing was applied.  A positive errno (the log's write
 * or fdatasync failed): the outcome is unknown, its records may be on disk
 * and the commit there after a restart.
 */
int			ts_txn_commit(ts_txn *txn);

/*
 * As ts_txn_commit, but returns once the commit is applied and visible,
 * without waiting for its log record to be durable: a later flush (any
 * commit's or prepare's, a checkpoint's, the background thread's within
 * about a second, the close) makes it durable.  Meant for a PREPARED
 * transaction, whose prepare is durable: a crash before that flush brings
 * it back in doubt (ts_env_prepared), for its owner to decide again.  For an
 * ACTIVE one a crash may lose it, as with async_commit.  Errors as
 * ts_txn_commit.
 */
int			ts_txn_commit_nosync(ts_txn *txn);
void		ts_txn_abort(ts_txn *txn);	/* frees the handle */

/*
 * First phase of two-phase commit: check conflicts and reserve the write
 * set's keys under the caller's global id `gid` (at most 200 bytes).  After
 * success, only ts_txn_commit or ts_txn_abort may follow.  Errors:
 * TS_CONFLICT, TS_EXISTS (another transaction, live or in doubt, is
 * prepared under gid); the transaction stays ACTIVE and must be aborted.
 */
int			ts_txn_prepare(ts_txn *txn, const char *gid);
/*
 * Readers in other processes that write later (PostgreSQL: a READ
 * COMMITTED transaction reads in its backend, then writes through the
 * worker).  ts_env_set_base, in an attached environment, while a
 * transaction of it reads snapshot `base` (0: clear): the writer keeps what
 * it needs to check conflicts from `base` on.  ts_txn_rebase, in the
 * writer: the write transaction's first-committer-wins base becomes `base`
 * if older than its own, so that a key committed by another transaction
 * after `base` and written by this one is a conflict, as if it had begun
 * then; TS_CONFLICT if the writer no longer knows the commits since `base`
 * (none registered it, or the writer restarted since).
 */
int			ts_env_set_base(ts_env *env, uint64_t base);
int			ts_txn_rebase(ts_txn *txn, uint64_t base);

/* txnid of the snapshot it reads (after ts_txn_renew, the renewed one) */
uint64_t	ts_txn_snapshot(const ts_txn *txn);
/* memory held by its write set, in bytes (0 for read-only) */
size_t		ts_txn_write_bytes(const ts_txn *txn);

/*
 * Savepoints.  ts_txn_savepoint returns in *mark a handle on the current
 * state of an ACTIVE write transaction: its writes (ts_put, ts_del) and the
 * trees it created (ts_tree_open with TS_CREATE).  ts_txn_rollback_to
 * undoes everything done after `mark` was taken: the transaction's writes
 * are exactly what they were then (a key it had not written is unwritten
 * again, a key it had written has its earlier value or deletion back) and
 * trees created since no longer exist for it (their handles become
 * invalid; their ids are not reused).  Its reads, cursors, commit and
 * prepare see the restored state only: a rolled-back write is never logged,
 * applied, or counted in a conflict.
 *
 * Marks nest as a stack.  Rolling back to a mark keeps it live (rolling back
 * to it again works) and invalidates the marks taken after it.
 * ts_txn_release forgets `mark` and every later one while keeping the
 * writes (RELEASE SAVEPOINT); rolling back to a mark taken before stays
 * possible and undoes them too.
 *
 * Cost: nothing while no mark is live.  While one is, the first change to
 * each key after each mark saves the key's previous state (memory in
 * proportion to the writes made under marks, not to the number of rewrites
 * of a key under one mark).  A rollback frees the memory taken by the
 * writes it undoes; the rest is freed at commit, abort, or once no mark is
 * live (ts_txn_release of the oldest live mark).
 *
 * Open cursors of the transaction stay at their current key and see the
 * restored writes from there: if that key is no longer visible,
 * ts_cursor_get returns TS_NOTFOUND and ts_cursor_next/prev go on to its
 * neighbours.
 *
 * Errors: TS_INVALID (mark is not a live mark of this transaction: taken
 * in another transaction, invalidated by a rollback to an earlier mark or
 * by ts_txn_release, or never issued), TS_BAD_TXN (read-only or prepared
 * transaction), TS_NOMEM (ts_txn_savepoint).  A handle that has been
 * committed or aborted is freed and must not be passed at all.
 */
int			ts_txn_savepoint(ts_txn *txn, uint64_t *mark);
int			ts_txn_rollback_to(ts_txn *txn, uint64_t mark);
int			ts_txn_release(ts_txn *txn, uint64_t mark);

/*
 * Statement snapshot (READ COMMITTED): from now on the transaction reads the
 * newest committed state, as a transaction beginning now would; its own
 * writes stay, and still shadow what it reads.  The reference to its
 * previous snapshot is dropped, so the pages only that snapshot pinned can
 * be reused.  Conflict detection does not move: commit and prepare still
 * fail with TS_CONFLICT if another transaction committed, after this one
 * BEGAN, a key this one wrote, even if this one read that commit after
 * renewing (no lost update, at the cost of failing some updates that
 * PostgreSQL's READ COMMITTED would let through).
 *
 * Works for read-only and write transactions.  Open cursors stay at their
 * current key, now read in the new snapshot (as after a rollback, above).
 * ts_tree_stat and ts_txn_snapshot describe the new snapshot; a tree
 * created by another transaction since becomes visible to ts_tree_open.
 * Errors: TS_BAD_TXN (prepared transaction), and I/O errors from
 * re-reading a cursor's position (that cursor is unpositioned; the renew
 * itself has happened).
 */
int			ts_txn_renew(ts_txn *txn);

/* --- named trees --- */

/*
 * Find the tree `name` (1..TS_MAX_TREE_NAME bytes).  With TS_CREATE in a
 * write transaction, create it if missing (visible to others at commit).
 * Errors: TS_NOTFOUND, TS_BAD_TXN (create in a read transaction).
 */
int			ts_tree_open(ts_txn *txn, const char *name, unsigned flags, ts_tree *tree);
/* Shape of a tree in the transaction's snapshot (its own writes not counted). */
int			ts_tree_stat(ts_txn *txn, ts_tree tree, ts_treestat *st);

/* --- data --- */
int			ts_get(ts_txn *txn, ts_tree tree, const void *key, size_t klen, ts_slice *val);

/*
 * Errors: TS_KEY_TOO_BIG, TS_VALUE_TOO_BIG (vlen > TS_MAX_VALUE: refused from
 * the length alone, nothing read, copied or written), TS_BAD_TXN (read-only),
 * TS_EXISTS (TS_NOOVERWRITE).
 */
int			ts_put(ts_txn *txn, ts_tree tree, const void *key, size_t klen,
				   const void *val, size_t vlen, unsigned flags);

/* Delete; TS_NOTFOUND if the key is not visible to the transaction. */
int			ts_del(ts_txn *txn, ts_tree tree, const void *key, size_t klen);

/* --- cursors --- */

/*
 * A cursor walks one tree in key order (bytewise, shorter first on a common
 * prefix) as the transaction sees it: for a write transaction, its own writes
 * merged over its snapshot.  Writes made through the transaction while a
 * cursor is open are seen by the cursor's next move.  Positioning functions
 * return TS_NOTFOUND when there is no such entry (the cursor is then
 * unpositioned).
 */
int			ts_cursor_open(ts_txn *txn, ts_tree tree, ts_cursor **cur);
void		ts_cursor_close(ts_cursor *cur);

/*
 * Restrict the cursor to keys in [lo, hi): lo NULL means from the start, hi
 * NULL means to the end.  ts_cursor_prefix restricts it to keys starting with
 * the prefix.  Both unposition the cursor.  The bounds are copied.
 */
int			ts_cursor_bounds(ts_cursor *cur, const void *lo, size_t lolen,
							 const void *hi, size_t hilen);
int			ts_cursor_prefix(ts_cursor *cur, const void *prefix, size_t len);

int			ts_cursor_first(ts_cursor *cur);
int			ts_cursor_last(ts_cursor *cur);
int			ts_cursor_seek(ts_cursor *cur, const void *key, size_t klen); /* first >= key */
int			ts_cursor_seek_le(ts_cursor *cur, const void *key, size_t klen); /* last <= key */
int			ts_cursor_next(ts_cursor *cur);
int			ts_cursor_prev(ts_cursor *cur);
int			ts_cursor_get(ts_cursor *cur, ts_slice *key, ts_slice *val);

/* --- order-preserving tuple keys (keys.c) --- */

/*
 * A key is a tuple of typed fields.  Its encoding's bytewise order equals the
 * tuple order: fields compare in turn, NULL sorts before every value, a
 * shorter tuple before a longer one that it prefixes.  Within a type:
 * text/bytes in bytewise order, int64 and timestamps (int64 microseconds)
 * numerically.  Every byte string round-trips, 0x00, 0xFE and 0xFF included.
 *
 * Encoding (each field starts with a tag byte):
 *   0x01                       NULL
 *   0x02 <escaped bytes> 0x00 0x01   text/bytes: 0x00 -> 0x00 0xFF,
 *                              terminator 0x00 0x01
 *   0x03 <8 bytes big-endian, sign bit flipped>   int64
 *   0x04 <same as int64>       timestamp (microseconds)
 */
typedef enum ts_field_type
{
	TS_FIELD_NULL = 1,
	TS_FIELD_TEXT = 2,
	TS_FIELD_INT64 = 3,
	TS_FIELD_TIMESTAMP = 4
} ts_field_type;

typedef struct ts_field
{
	ts_field_type type;
	const void *data;			/* TEXT: bytes (need not be NUL-terminated) */
	size_t		len;			/* TEXT: byte length */
	int64_t		i;				/* INT64, TIMESTAMP */
} ts_field;

typedef struct ts_keybuf
{
	uint8_t		buf[TS_MAX_KEY];
	size_t		len;
	int			overflow;		/* set when an append did not fit */
} ts_keybuf;

void		ts_key_init(ts_keybuf *kb);
void		ts_key_add_null(ts_keybuf *kb);
void		ts_key_add_text(ts_keybuf *kb, const void *data, size_t len);
void		ts_key_add_int64(ts_keybuf *kb, int64_t v);
void		ts_key_add_timestamp(ts_keybuf *kb, int64_t usec);

/*
 * Decode the next field at *pos in key[0..len).  Text fields are unescaped
 * into `scratch` (capacity scratch_cap) and f->data points there.  Returns 0
 * and advances *pos, TS_NOTFOUND at the end of the key, TS_INVALID on a
 * malformed key or a scratch buffer too small.
 */
int			ts_key_next_field(const void *key, size_t len, size_t *pos,
							  ts_field *f, void *scratch, size_t scratch_cap);

/*
 * The smallest key greater than every key starting with prefix[0..len):
 * written to out (capacity len); returns its length, or 0 if there is none
 * (the prefix is all 0xFF).
 */
size_t		ts_key_prefix_end(const void *prefix, size_t len, void *out);

#ifdef __cplusplus
}
#endif

#endif							/* TREESTORE_H */
