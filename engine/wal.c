/*-------------------------------------------------------------------------
 *
 * wal.c
 *	  The write-ahead log: segment files, appending with group commit, and
 *	  the validating reader.  The on-disk format, the validity rules and the
 *	  end-of-log rule are in wal.h; this file is their implementation.
 *
 * INVARIANTS
 *	  1. Batches are written one at a time, in LSN order, by one thread (the
 *	     flush leader): one write call (after the zeros ahead of it, if any:
 *	     PREALLOCATION), then fdatasync, before the next batch is taken.  A
 *	     batch goes whole into one segment.  So a crash can damage only the
 *	     last batch, which is what the reader relies on.
 *	  2. A record's `batch` field and CRC are filled in when the leader takes
 *	     the buffer, not at append time: only then is it known which write
 *	     the record goes out in, and which segment (salt) receives it.
 *	  3. The flushed LSN advances only after the batch's fdatasync returned
 *	     0 (with sync = 0: after the write).  A failed write, fdatasync or
 *	     segment creation poisons the log: every later append returns
 *	     TS_POISONED, and so does a flush, except one up to an LSN in the
 *	     failed batch: its records may or may not be on disk, so it gets
 *	     the failure itself (an I/O error: outcome unknown), never
 *	     TS_POISONED (which says "not written").  An fdatasync is never
 *	     retried.
 *	  4. A segment receives records only after its header has been written
 *	     and synced and the directory synced.  ts_wal_open never appends to
 *	     an existing segment: it starts a new one at end_lsn, so a torn tail
 *	     stays behind, unread (the reader follows the new segment, whose
 *	     first LSN is where the valid log ended).  A segment file is never
 *	     created over an existing one.
 *	  5. The segments present form one run of consecutive numbers
 *	     [lo, hi]: rotation adds hi + 1, removal unlinks from lo upward, one
 *	     durable unlink at a time (a crash may undo each unsynced directory
 *	     operation or not), and never the segment being written.
 *	  6. The reader returns only valid records, in LSN order, each once.  It
 *	     calls an invalid record at LSN X the end of the log only when
 *	     nothing later proves that X was in a synced batch (wal.h).
 *
 * FINDING THE SEGMENTS
 *	  The VFS cannot list a directory, so the segments are found with
 *	  exists() probes, in two phases:
 *	  1. Some segment: the powers of two 2^62 .. 1 (a run that holds one is
 *	     found at once; a log from which nothing was ever removed holds
 *	     segment 1); failing that, every number upward from 3, up to
 *	     PROBE_DEEP when the caller's LSN says that a log exists (> 0), or
 *	     PROBE_SHORT otherwise (a fresh log).
 *	  2. Its run: galloping and bisecting up and down, which relies on the
 *	     run being contiguous (5); then a look past each end of it (the next
 *	     PROBE_AHEAD numbers and the powers of two) for segments beyond a
 *	     gap.  The writer uses the top run; the reader goes down to the
 *	     lowest, so that reading from the start runs into a gap and reports
 *	     it as a missing segment.
 *	  The linear part of phase 1 costs one probe per removed segment number
 *	  (a few microseconds each): fine for thousands, seconds for a million;
 *	  a log whose lowest segment lies above PROBE_DEEP, with no power of two
 *	  among its numbers, is not found at all (the reader then reports the
 *	  WAL needed as missing).  With nothing to find and an LSN > 0 the whole
 *	  PROBE_DEEP range is probed (seconds).  A directory listing in the VFS
 *	  would remove these limits; seg_find is the one place to change.
 *
 * PREALLOCATION
 *	  An fdatasync that also changes the file's size must write the inode
 *	  too: on ext4 a second, dependent write per commit flush (measured on
 *	  the development VM: 7,400 appending fdatasyncs/s against 9,900 into
 *	  written space).  So, with sync, the flush leader zero-fills the
 *	  segment ahead of its records: when a batch would end past the zeros,
 *	  it first writes zeros from the batch's end on, as much again as the
 *	  segment holds (at least PREALLOC_MIN, at most PREALLOC_MAX, never past
 *	  segment_size), then the batch, and one fdatasync covers both.  Most
 *	  flushes then write into space the file already has.  The zeros are
 *	  what follows the last record: an invalid record (type 0, and its CRC
 *	  does not match), the end of the log, as for a torn tail.  Zeros
 *	  first, so that a failed write leaves nothing of the batch.  The
 *	  segment table counts a segment's bytes up to its last record; the
 *	  zeros of the segment being written are not counted.
 *
 * OPENING FOR WRITING
 *	  ts_wal_open reads every segment header, then drops, newest first, the
 *	  segments that hold nothing of the log ending at end_lsn: those that
 *	  begin after it (left behind when recovery tolerated damage before
 *	  them; kept, they would not let the new segment continue the log) and
 *	  a damaged header-only newest segment (a crash while creating it).  It
 *	  refuses (TS_INVALID) an end_lsn before the first segment rather than
 *	  drop a whole log.  Then it creates segment hi + 1 starting at end_lsn.
 *	  With sync = 0 nothing is ever synced, segment creation and removal
 *	  included.
 *
 * READING
 *	  The reader validates each record at the position where the previous
 *	  one ended.  At an invalid record at LSN X (segment N, offset off):
 *	  - the next segment N + 1 exists, its header is valid and its first LSN
 *	    is X: the log continues there (a normal rotation, or a segment that
 *	    ts_wal_open started after a torn tail; the tail is not examined);
 *	  - N + 1 exists but begins elsewhere, or has a damaged header while
 *	    not being the newest, header-only segment (a crash while creating a
 *	    segment leaves exactly that), or is missing while later segments
 *	    exist: corruption;
 *	  - otherwise the rest of segment N is scanned at every 8-byte aligned
 *	    offset for a valid record (its CRC matches this segment's salt, its
 *	    LSN field matches its position, ...) whose batch is > X: found, that
 *	    proves X was written in an earlier, synced batch: corruption at
 *	    (N, off); not found, X is the end of the log.
 *	  Later segments need no record scan: any later segment either
 *	  continues at X, or its existence alone is the proof.  Corruption
 *	  fails with TS_CORRUPT naming the file and offset, or, when the reader
 *	  tolerates it, ends the log there with *damaged set.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "error.h"
#include "format.h"
#include "wal.h"

#define DEFAULT_SEGMENT_SIZE	((uint64_t) 100 * 1024 * 1024)
#define WAL_PATH_MAX		4096
#define WAL_DIR_MAX			(WAL_PATH_MAX - 32)
#define PROBE_SHORT			((uint64_t) 1024)
#define PROBE_DEEP			((uint64_t) 1 << 20)
#define PROBE_AHEAD			64	/* numbers probed past a missing segment */
#define READ_WINDOW			((size_t) 1 << 20)
#define BUF_KEEP			((size_t) 8 << 20)	/* larger batch buffers are freed */
#define MAX_SEGNO			((uint64_t) 1 << 62)
#define PREALLOC_MIN		((uint64_t) 64 * 1024)	/* zero-filled ahead of the */
#define PREALLOC_MAX		((uint64_t) 1024 * 1024)	/* records (PREALLOCATION) */
#define ZERO_BUF			((size_t) 64 * 1024)

/* segment header fields */
#define SH_MAGIC	0
#define SH_VERSION	8
#define SH_SEGNO	16
#define SH_SALT		24
#define SH_FIRST	32
#define SH_CRC		60

/* record header fields */
#define RH_CRC		0
#define RH_LEN		4
#define RH_LSN		8
#define RH_BATCH	16
#define RH_XID		24
#define RH_TYPE		32

/* Bytes a record with `len` payload bytes takes, padding included. */
static inline uint64_t
rec_size(uint64_t len)
{
	return (TS_WAL_REC_HDR + len + 7) & ~(uint64_t) 7;
}

/* The CRC seed of a segment (wal.h). */
static inline uint32_t
salt_seed(uint64_t salt)
{
	return (uint32_t) (salt ^ (salt >> 32));
}

static void
seg_path(char *buf, const char *dir, uint64_t no)
{
	/* callers checked that dir is shorter than WAL_DIR_MAX */
	snprintf(buf, WAL_PATH_MAX, "%.*s/wal-%016llx", WAL_DIR_MAX, dir, (unsigned long long) no);
}

/* Copy of the thread's last message, to quote it in a new one. */
static void
last_error_copy(char *buf, size_t n)
{
	snprintf(buf, n, "%s", ts_last_error());
}

/*
 * A fresh salt: getrandom(2), or, if that fails (no entropy yet, old
 * kernel), a mix of the clock, the pid and a counter.  Never equal to
 * `prev`, the salt of the previous segment.
 */
static uint64_t
new_salt(uint64_t prev)
{
	static _Atomic uint64_t counter;
	uint64_t	s;

	for (;;)
	{
		if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t) sizeof(s))
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			s = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
			s ^= (uint64_t) getpid() << 40;
			s += ++counter * 0x9E3779B97F4A7C15ull;
			/* splitmix64 finalizer */
			s = (s ^ (s >> 30)) * 0xBF58476D1CE4E5B9ull;
			s = (s ^ (s >> 27)) * 0x94D049BB133111EBull;
			s ^= s >> 31;
		}
		if (s != prev)
			return s;
	}
}

static void
hdr_build(uint8_t *h, uint64_t no, uint64_t salt, uint64_t first)
{
	memset(h, 0, TS_WAL_HDR);
	memcpy(h + SH_MAGIC, TS_WAL_MAGIC, 8);
	wr32(h + SH_VERSION, TS_WAL_VERSION);
	wr64(h + SH_SEGNO, no);
	wr64(h + SH_SALT, salt);
	wr64(h + SH_FIRST, first);
	wr32(h + SH_CRC, ts_crc32c(0, h, SH_CRC));
}

/* Why the header of segment `no` (file of `size` bytes) is invalid, or NULL. */
static const char *
hdr_problem(const uint8_t *h, uint64_t size, uint64_t no)
{
	if (size < TS_WAL_HDR)
		return "shorter than a segment header";
	if (memcmp(h + SH_MAGIC, TS_WAL_MAGIC, 8) != 0)
		return "bad magic";
	if (rd32(h + SH_CRC) != ts_crc32c(0, h, SH_CRC))
		return "header checksum mismatch";
	if (rd32(h + SH_VERSION) != TS_WAL_VERSION)
		return "unsupported format version";
	if (rd64(h + SH_SEGNO) != no)
		return "header names another segment number";
	return NULL;
}

/*
 * A segment opened for reading its header (and, for the reader, records).
 * bad == NULL: the header is valid and salt/first are set.
 */
typedef struct segref
{
	uint64_t	no;
	ts_file    *f;
	uint64_t	size;
	uint64_t	salt;
	uint32_t	seed;
	uint64_t	first;
	const char *bad;
	char		path[WAL_PATH_MAX];
} segref;

static void
segref_close(segref *s)
{
	if (s->f)
		s->f->vfs->close(s->f);
	s->f = NULL;
}

/* Open segment `no` (which must exist) and check its header. */
static int
segref_open(ts_vfs *vfs, const char *dir, uint64_t no, segref *s)
{
	uint8_t		h[TS_WAL_HDR];
	int			rc;

	memset(s, 0, offsetof(segref, path));
	s->no = no;
	seg_path(s->path, dir, no);
	/* only ever read through a segref (the reader; the writer's scan at open) */
	if ((rc = vfs->open(vfs, s->path, TS_VFS_RDONLY, &s->f)) != 0)
	{
		s->f = NULL;
		return rc;
	}
	if ((rc = s->f->vfs->size(s->f, &s->size)) != 0 ||
		(rc = s->f->vfs->read(s->f, h, sizeof(h), 0)) != 0)
	{
		segref_close(s);
		return rc;
	}
	s->bad = hdr_problem(h, s->size, no);
	if (s->bad == NULL)
	{
		s->salt = rd64(h + SH_SALT);
		s->seed = salt_seed(s->salt);
		s->first = rd64(h + SH_FIRST);
	}
	return 0;
}

/* --- finding segments ------------------------------------------------- */

static int
seg_exists(ts_vfs *vfs, const char *dir, uint64_t no)
{
	char		path[WAL_PATH_MAX];

	seg_path(path, dir, no);
	return vfs->exists(vfs, path) == 1;
}

/* The highest segment of the run that holds p (which exists): gallop up,
 * then bisect between one that exists and one that does not. */
static uint64_t
run_top(ts_vfs *vfs, const char *dir, uint64_t p)
{
	uint64_t	good = p,
				bad;

	for (uint64_t step = 1;; step *= 2)
	{
		if (good + step > MAX_SEGNO || !seg_exists(vfs, dir, good + step))
		{
			bad = good + step;
			break;
		}
		good += step;
	}
	while (bad - good > 1)
	{
		uint64_t	mid = good + (bad - good) / 2;

		if (seg_exists(vfs, dir, mid))
			good = mid;
		else
			bad = mid;
	}
	return good;
}

/* The lowest segment of the run that holds p, likewise. */
static uint64_t
run_bottom(ts_vfs *vfs, const char *dir, uint64_t p)
{
	uint64_t	good = p,
				bad;

	for (uint64_t step = 1;; step *= 2)
	{
		if (step >= good || !seg_exists(vfs, dir, good - step))
		{
			bad = step >= good ? 0 : good - step;
			break;
		}
		good -= step;
	}
	while (good - bad > 1)
	{
		uint64_t	mid = bad + (good - bad) / 2;

		if (seg_exists(vfs, dir, mid))
			good = mid;
		else
			bad = mid;
	}
	return good;
}

/* A segment above n + 1 (n + 2 .. n + PROBE_AHEAD, then the powers of two
 * above), or 0: after a gap at n + 1, its existence means a missing one. */
static uint64_t
probe_above(ts_vfs *vfs, const char *dir, uint64_t n)
{
	for (uint64_t k = n + 2; k <= n + PROBE_AHEAD; k++)
		if (seg_exists(vfs, dir, k))
			return k;
	for (int k = 62; k >= 0 && ((uint64_t) 1 << k) > n + PROBE_AHEAD; k--)
		if (seg_exists(vfs, dir, (uint64_t) 1 << k))
			return (uint64_t) 1 << k;
	return 0;
}

/* A segment below n - 1, likewise, or 0. */
static uint64_t
probe_below(ts_vfs *vfs, const char *dir, uint64_t n)
{
	for (uint64_t k = 2; k <= PROBE_AHEAD && k < n; k++)
		if (seg_exists(vfs, dir, n - k))
			return n - k;
	for (int k = 0; k < 63 && ((uint64_t) 1 << k) + PROBE_AHEAD < n; k++)
		if (seg_exists(vfs, dir, (uint64_t) 1 << k))
			return (uint64_t) 1 << k;
	return 0;
}

/*
 * Find the segments (see FINDING THE SEGMENTS): *hi the highest, *lo the
 * lowest (whole = 1, for the reader: below any gap, so that reading from
 * the start runs into the gap and reports it) or the lowest of the top run
 * (whole = 0, for the writer: what lies below a gap is never read again).
 * 0, 0: none.  `limit`: how far the linear phase goes.
 */
typedef struct seg_list
{
	uint64_t   *no;
	size_t		n,
				cap;
} seg_list;

static int
seg_list_add(const char *name, void *arg)
{
	seg_list   *l = arg;
	unsigned long long no;
	char		tail;

	if (strlen(name) != 4 + 16 || strncmp(name, "wal-", 4) != 0 ||
		sscanf(name + 4, "%16llx%c", &no, &tail) != 1 || no == 0 || no > MAX_SEGNO)
		return 0;				/* not a segment: ignore it */
	if (l->n == l->cap)
	{
		size_t		ncap = l->cap ? l->cap * 2 : 64;
		uint64_t   *nn = realloc(l->no, ncap * sizeof(uint64_t));

		if (nn == NULL)
			return TS_NOMEM;
		l->no = nn;
		l->cap = ncap;
	}
	l->no[l->n++] = (uint64_t) no;
	return 0;
}

static int
cmp_segno(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

/* seg_find with a directory listing: exact and one pass.  -1: no listing. */
static int
seg_find_listed(ts_vfs *vfs, const char *dir, int whole, uint64_t *lo, uint64_t *hi)
{
	seg_list	l = {0};

	if (vfs->list == NULL || vfs->list(vfs, dir, seg_list_add, &l) != 0)
	{
		free(l.no);
		return -1;				/* fall back to probing */
	}
	if (l.n > 0)
	{
		qsort(l.no, l.n, sizeof(uint64_t), cmp_segno);
		size_t		i = l.n - 1;

		*hi = l.no[i];
		if (whole)
			*lo = l.no[0];
		else
		{
			/* the lowest of the run that ends at the top */
			while (i > 0 && l.no[i - 1] + 1 == l.no[i])
				i--;
			*lo = l.no[i];
		}
	}
	free(l.no);
	return 0;
}

static void
seg_find(ts_vfs *vfs, const char *dir, uint64_t limit, int whole, uint64_t *lo, uint64_t *hi)
{
	uint64_t	p = 0,
				q;

	*lo = *hi = 0;
	if (seg_find_listed(vfs, dir, whole, lo, hi) == 0)
		return;
	for (int k = 62; k >= 0 && p == 0; k--)
		if (seg_exists(vfs, dir, (uint64_t) 1 << k))
			p = (uint64_t) 1 << k;
	for (uint64_t n = 3; n <= limit && p == 0; n++)
		if ((n & (n - 1)) != 0 && seg_exists(vfs, dir, n))
			p = n;
	if (p == 0)
		return;
	*hi = run_top(vfs, dir, p);
	*lo = run_bottom(vfs, dir, p);
	while ((q = probe_above(vfs, dir, *hi)) != 0)
	{
		*hi = run_top(vfs, dir, q);
		if (!whole)
			*lo = run_bottom(vfs, dir, q);
	}
	while (whole && (q = probe_below(vfs, dir, *lo)) != 0)
		*lo = run_bottom(vfs, dir, q);
}

/* Is there a segment numbered above m?  known_hi: the highest found at
 * open. */
static int
seg_any_after(ts_vfs *vfs, const char *dir, uint64_t m, uint64_t known_hi)
{
	if (known_hi > m && seg_exists(vfs, dir, known_hi))
		return 1;
	return seg_exists(vfs, dir, m + 1) || probe_above(vfs, dir, m) != 0;
}

/* --- writing ---------------------------------------------------------- */

/* An append buffer: records back to back, and where each one starts. */
typedef struct wbuf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	size_t	   *recs;			/* offsets of the records in data */
	size_t		nrecs;
	size_t		recs_cap;
	uint64_t	start;			/* LSN of data[0] */
} wbuf;

/* What the writer knows of one segment present on disk. */
typedef struct segent
{
	uint64_t	first;			/* first LSN; UINT64_MAX: header unreadable */
	uint64_t	size;			/* bytes in the file */
} segent;

struct ts_wal
{
	ts_vfs	   *vfs;
	char		dir[WAL_PATH_MAX];
	ts_wal_options opt;

	pthread_mutex_t lock;		/* everything below but the leader's part */
	pthread_cond_t flushed_cv;	/* a flush finished (or failed) */
	pthread_mutex_t remove_lock;	/* one ts_wal_remove_before at a time */

	wbuf		buf[2];			/* buf[cur]: appends; the other: the leader's */
	int			cur;
	uint64_t	end_lsn;		/* end of what was appended */
	uint64_t	flushed_lsn;	/* end of what is durable */
	int			flushing;		/* a leader is writing */
	int			poisoned;
	int			fail_rc;		/* the failure that poisoned it */
	uint64_t	failed_end;		/* end of the batch whose write or sync failed */
	uint64_t	flushes;
	uint64_t	records;

	/* segments lo .. lo + nseg - 1 (the last one is being written) */
	uint64_t	lo;
	segent	   *segs;
	size_t		seg_head;		/* segs[seg_head] is segment lo */
	size_t		nseg;
	size_t		seg_cap;
	uint64_t	bytes;			/* sum of sizes */
	uint64_t	seg_no;			/* segment being written (the leader
								 * changes it, under lock) */

	/* the leader's (only the thread with flushing = 1 touches these) */
	ts_file    *file;			/* segment seg_no */
	uint64_t	seg_salt;
	uint64_t	seg_off;		/* end of its records: where the next batch goes */
	uint64_t	seg_alloc;		/* its size: zeros from seg_off on (PREALLOCATION) */
	char		seg_file_path[WAL_PATH_MAX];
};

static int
wbuf_reserve(wbuf *b, size_t n)
{
	if (b->cap - b->len < n)
	{
		size_t		ncap = b->cap ? b->cap : 64 * 1024;
		uint8_t    *nd;

		while (ncap - b->len < n)
		{
			if (ncap > SIZE_MAX / 2)
				return TS_NOMEM;
			ncap *= 2;
		}
		if ((nd = realloc(b->data, ncap)) == NULL)
			return TS_NOMEM;
		b->data = nd;
		b->cap = ncap;
	}
	if (b->nrecs == b->recs_cap)
	{
		size_t		ncap = b->recs_cap ? b->recs_cap * 2 : 256;
		size_t	   *nr = realloc(b->recs, ncap * sizeof(size_t));

		if (nr == NULL)
			return TS_NOMEM;
		b->recs = nr;
		b->recs_cap = ncap;
	}
	return 0;
}

static void
wbuf_free(wbuf *b)
{
	free(b->data);
	free(b->recs);
	memset(b, 0, sizeof(*b));
}

/* Room for one more entry in the segment table. */
static int
segs_reserve(ts_wal *wal)
{
	if (wal->seg_head + wal->nseg < wal->seg_cap)
		return 0;
	if (wal->seg_head > 0)
	{
		memmove(wal->segs, wal->segs + wal->seg_head, wal->nseg * sizeof(segent));
		wal->seg_head = 0;
	}
	else
	{
		size_t		ncap = wal->seg_cap ? wal->seg_cap * 2 : 16;
		segent	   *ns = realloc(wal->segs, ncap * sizeof(segent));

		if (ns == NULL)
			return TS_NOMEM;
		wal->segs = ns;
		wal->seg_cap = ncap;
	}
	return 0;
}

static int
segs_push(ts_wal *wal, uint64_t first, uint64_t size)
{
	if (segs_reserve(wal) != 0)
		return TS_NOMEM;
	wal->segs[wal->seg_head + wal->nseg].first = first;
	wal->segs[wal->seg_head + wal->nseg].size = size;
	wal->nseg++;
	wal->bytes += size;
	return 0;
}

static segent *
segs_at(ts_wal *wal, uint64_t no)
{
	return &wal->segs[wal->seg_head + (size_t) (no - wal->lo)];
}

/*
 * Create segment `no` starting at LSN `first`: create the file, write the
 * header, fdatasync, fsync the directory (sync order, wal.h).  On success
 * *out is the open file and *salt its salt.  Refuses to touch an existing
 * file (invariant 4).
 */
static int
seg_create(ts_wal *wal, uint64_t no, uint64_t first, uint64_t prev_salt,
		   ts_file **out, uint64_t *salt)
{
	char		path[WAL_PATH_MAX];
	uint8_t		h[TS_WAL_HDR];
	ts_file    *f;
	int			rc;

	*out = NULL;
	seg_path(path, wal->dir, no);
	if (no > MAX_SEGNO)
		return ts_error(TS_FULL, "WAL segment numbers exhausted in \"%s\"", wal->dir);
	if (wal->vfs->exists(wal->vfs, path) == 1)
		return ts_error(TS_CORRUPT, "WAL segment \"%s\" already exists: the segments "
						"of \"%s\" were not all found", path, wal->dir);
	if ((rc = wal->vfs->open(wal->vfs, path, TS_VFS_CREATE, &f)) != 0)
		return rc;
	*salt = new_salt(prev_salt);
	hdr_build(h, no, *salt, first);
	rc = f->vfs->write(f, h, sizeof(h), 0);
	if (rc == 0 && wal->opt.sync)
		rc = f->vfs->sync(f);
	if (rc == 0 && wal->opt.sync)
		rc = wal->vfs->sync_dir(wal->vfs, wal->dir);
	if (rc != 0)
	{
		char		why[512];

		last_error_copy(why, sizeof(why));
		f->vfs->close(f);
		return ts_error(rc, "cannot create WAL segment \"%s\": %s", path, why);
	}
	*out = f;
	return 0;
}

static const uint8_t zeros[ZERO_BUF];

/*
 * Zero-fill the segment being written from `from` (the end of the batch
 * being written) on, ahead of the records (PREALLOCATION): as much as is
 * allocated already, between PREALLOC_MIN and PREALLOC_MAX, not past the
 * segment size.  The leader's; the caller syncs.
 */
static int
prealloc(ts_wal *wal, uint64_t from)
{
	uint64_t	grow = wal->seg_alloc - TS_WAL_HDR,
				to;
	int			rc = 0;

	if (grow < PREALLOC_MIN)
		grow = PREALLOC_MIN;
	if (grow > PREALLOC_MAX)
		grow = PREALLOC_MAX;
	to = from + grow;
	if (to > wal->opt.segment_size)
		to = wal->opt.segment_size;
	for (uint64_t off = from; off < to && rc == 0;)
	{
		uint64_t	n = to - off;

		if (wal->file->vfs->writev && n >= 2 * ZERO_BUF)
		{
			const void *bufs[16];
			size_t		k = (size_t) (n / ZERO_BUF) < 16 ? (size_t) (n / ZERO_BUF) : 16;

			for (size_t i = 0; i < k; i++)
				bufs[i] = zeros;
			rc = wal->file->vfs->writev(wal->file, bufs, k, ZERO_BUF, off);
			off += (uint64_t) k * ZERO_BUF;
		}
		else
		{
			if (n > ZERO_BUF)
				n = ZERO_BUF;
			rc = wal->file->vfs->write(wal->file, zeros, (size_t) n, off);
			off += n;
		}
	}
	if (rc == 0)
		wal->seg_alloc = to > from ? to : from;
	return rc;
}

/*
 * The leader: rotate if the segment is full, fill in batch and CRC of
 * every record, write zeros past the batch's end if it reaches beyond what
 * was zero-filled (PREALLOCATION), write the batch, fdatasync.  Runs
 * without wal->lock.
 */
static int
write_batch(ts_wal *wal, wbuf *b)
{
	uint32_t	seed;
	int			rc;

	if (wal->seg_off >= wal->opt.segment_size)
	{
		ts_file    *nf;
		uint64_t	nsalt;

		pthread_mutex_lock(&wal->lock);
		rc = segs_reserve(wal);
		pthread_mutex_unlock(&wal->lock);
		if (rc != 0)
			return ts_error(rc, "out of memory");
		if ((rc = seg_create(wal, wal->seg_no + 1, b->start, wal->seg_salt, &nf, &nsalt)) != 0)
			return rc;
		wal->file->vfs->close(wal->file);
		wal->file = nf;
		wal->seg_salt = nsalt;
		wal->seg_off = wal->seg_alloc = TS_WAL_HDR;
		seg_path(wal->seg_file_path, wal->dir, wal->seg_no + 1);
		pthread_mutex_lock(&wal->lock);
		segs_push(wal, b->start, TS_WAL_HDR);	/* cannot fail: reserved */
		wal->seg_no++;
		pthread_mutex_unlock(&wal->lock);
	}

	seed = salt_seed(wal->seg_salt);
	for (size_t i = 0; i < b->nrecs; i++)
	{
		uint8_t    *p = b->data + b->recs[i];
		uint32_t	len = rd32(p + RH_LEN);

		wr64(p + RH_BATCH, b->start);
		wr32(p + RH_CRC, ts_crc32c(seed, p + 4, TS_WAL_REC_HDR - 4 + (size_t) len));
	}
	/* zeros first: a failed write leaves nothing of the batch behind */
	if (wal->opt.sync && wal->seg_off + b->len > wal->seg_alloc)
		rc = prealloc(wal, wal->seg_off + b->len);
	else
		rc = 0;
	if (rc == 0)
		rc = wal->file->vfs->write(wal->file, b->data, b->len, wal->seg_off);
	if (rc == 0 && wal->opt.sync)
		rc = wal->file->vfs->sync(wal->file);
	if (rc != 0)
	{
		char		why[512];

		last_error_copy(why, sizeof(why));
		return ts_error(rc, "cannot write WAL batch at LSN %llu to \"%s\": %s",
						(unsigned long long) b->start, wal->seg_file_path, why);
	}
	wal->seg_off += b->len;
	return 0;
}

static void
wal_free(ts_wal *wal)
{
	if (wal->file)
		wal->file->vfs->close(wal->file);
	wbuf_free(&wal->buf[0]);
	wbuf_free(&wal->buf[1]);
	free(wal->segs);
	pthread_mutex_destroy(&wal->lock);
	pthread_mutex_destroy(&wal->remove_lock);
	pthread_cond_destroy(&wal->flushed_cv);
	free(wal);
}

/*
 * Forget the segments at the top of the log that hold nothing of the log
 * ending at end_lsn: a header-only segment with a damaged header (a crash
 * while creating it), and segments beginning after end_lsn (left behind
 * when recovery tolerated damage before them).  They would stand between
 * the log and the new segment, which must continue it.  Refuses, rather
 * than delete a whole log, when end_lsn lies before every segment.
 */
static int
drop_abandoned(ts_wal *wal)
{
	uint64_t	end_lsn = wal->end_lsn;
	size_t		keep = wal->nseg;
	int			rc,
				dropped = 0;

	while (keep > 0)
	{
		segent	   *e = &wal->segs[wal->seg_head + keep - 1];

		if (e->first != UINT64_MAX && e->first <= end_lsn)
			break;
		keep--;
	}
	for (size_t i = 0; keep == 0 && i < wal->nseg; i++)
	{
		segent	   *e = &wal->segs[wal->seg_head + i];
		char		path[WAL_PATH_MAX];

		seg_path(path, wal->dir, wal->lo + i);
		if (e->first != UINT64_MAX)
			return ts_error(TS_INVALID, "WAL end LSN %llu lies before the first segment "
							"\"%s\" (first LSN %llu)", (unsigned long long) end_lsn,
							path, (unsigned long long) e->first);
		if (e->size > TS_WAL_HDR)
			return ts_error(TS_CORRUPT, "WAL segment \"%s\" has a damaged header", path);
	}
	while (wal->nseg > keep)
	{
		char		path[WAL_PATH_MAX];

		seg_path(path, wal->dir, wal->lo + wal->nseg - 1);
		if ((rc = wal->vfs->unlink(wal->vfs, path)) != 0)
			return rc;
		wal->bytes -= wal->segs[wal->seg_head + wal->nseg - 1].size;
		wal->nseg--;
		dropped = 1;
	}
	if (dropped && wal->opt.sync && (rc = wal->vfs->sync_dir(wal->vfs, wal->dir)) != 0)
		return rc;
	return 0;
}

int
ts_wal_open(ts_vfs *vfs, const char *dir, const ts_wal_options *opt,
			uint64_t end_lsn, ts_wal **out)
{
	ts_wal	   *wal;
	uint64_t	lo,
				hi,
				no;
	int			rc;

	*out = NULL;
	if (vfs == NULL || dir == NULL || strlen(dir) >= WAL_DIR_MAX)
		return ts_error(TS_INVALID, "invalid WAL directory");
	if ((wal = calloc(1, sizeof(*wal))) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	wal->vfs = vfs;
	snprintf(wal->dir, sizeof(wal->dir), "%s", dir);
	wal->opt.segment_size = opt && opt->segment_size ? opt->segment_size : DEFAULT_SEGMENT_SIZE;
	wal->opt.sync = opt ? opt->sync : 1;
	pthread_mutex_init(&wal->lock, NULL);
	pthread_mutex_init(&wal->remove_lock, NULL);
	pthread_cond_init(&wal->flushed_cv, NULL);
	wal->end_lsn = wal->flushed_lsn = end_lsn;
	wal->buf[0].start = end_lsn;

	seg_find(vfs, dir, end_lsn > 0 ? PROBE_DEEP : PROBE_SHORT, 0, &lo, &hi);
	wal->lo = lo ? lo : 1;
	for (no = lo; lo != 0 && no <= hi; no++)
	{
		segref		s;

		if (!seg_exists(vfs, dir, no))
		{
			char		path[WAL_PATH_MAX];

			seg_path(path, dir, no);
			wal_free(wal);
			return ts_error(TS_CORRUPT, "WAL segment \"%s\" is missing", path);
		}
		if ((rc = segref_open(vfs, dir, no, &s)) != 0 ||
			(rc = segs_push(wal, s.bad ? UINT64_MAX : s.first, s.size)) != 0)
		{
			segref_close(&s);
			wal_free(wal);
			return rc == TS_NOMEM ? ts_error(rc, "out of memory") : rc;
		}
		segref_close(&s);
	}
	if ((rc = drop_abandoned(wal)) != 0)
	{
		wal_free(wal);
		return rc;
	}

	/* invariant 4: always a new segment */
	no = wal->lo + wal->nseg;
	if ((rc = seg_create(wal, no, end_lsn, 0, &wal->file, &wal->seg_salt)) != 0 ||
		(rc = segs_push(wal, end_lsn, TS_WAL_HDR)) != 0)
	{
		wal_free(wal);
		return rc == TS_NOMEM ? ts_error(rc, "out of memory") : rc;
	}
	wal->seg_no = no;
	wal->seg_off = wal->seg_alloc = TS_WAL_HDR;
	seg_path(wal->seg_file_path, dir, no);
	*out = wal;
	return 0;
}

void
ts_wal_close(ts_wal *wal)
{
	if (wal)
		wal_free(wal);
}

int
ts_wal_append(ts_wal *wal, uint64_t xid, int type, const void *payload,
			  size_t len, uint64_t *end)
{
	size_t		total;
	wbuf	   *b;
	uint8_t    *p;
	int			rc;

	if (type < TS_WAL_OPS || type > TS_WAL_ABORT_PREPARED)
		return ts_error(TS_INVALID, "unknown WAL record type %d", type);
	if (len > TS_WAL_MAX_RECORD || (len > 0 && payload == NULL))
		return ts_error(TS_INVALID, "WAL record payload of %zu bytes", len);
	total = (size_t) rec_size(len);

	pthread_mutex_lock(&wal->lock);
	if (wal->poisoned)
	{
		pthread_mutex_unlock(&wal->lock);
		return ts_error(TS_POISONED, "the WAL in \"%s\" refuses appends after a failed write or sync",
						wal->dir);
	}
	b = &wal->buf[wal->cur];
	if ((rc = wbuf_reserve(b, total)) != 0)
	{
		pthread_mutex_unlock(&wal->lock);
		return ts_error(rc, "out of memory for a WAL record of %zu bytes", len);
	}
	p = b->data + b->len;
	memset(p, 0, TS_WAL_REC_HDR);
	wr32(p + RH_LEN, (uint32_t) len);
	wr64(p + RH_LSN, wal->end_lsn);
	wr64(p + RH_XID, xid);
	p[RH_TYPE] = (uint8_t) type;
	if (len > 0)
		memcpy(p + TS_WAL_REC_HDR, payload, len);
	memset(p + TS_WAL_REC_HDR + len, 0, total - TS_WAL_REC_HDR - len);
	b->recs[b->nrecs++] = b->len;
	b->len += total;
	wal->end_lsn += total;
	if (end)
		*end = wal->end_lsn;
	pthread_mutex_unlock(&wal->lock);
	return 0;
}

int
ts_wal_flush(ts_wal *wal, uint64_t lsn)
{
	wbuf	   *take;
	int			rc;

	pthread_mutex_lock(&wal->lock);
	if (lsn > wal->end_lsn)
		lsn = wal->end_lsn;
	for (;;)
	{
		if (wal->poisoned)
		{
			int			fail = wal->fail_rc,
						unknown = lsn > wal->flushed_lsn && lsn <= wal->failed_end;

			pthread_mutex_unlock(&wal->lock);
			if (unknown)
				return ts_error(fail, "the log flush that held the records up to LSN %llu in \"%s\" "
								"failed (%s): they may or may not be on disk",
								(unsigned long long) lsn, wal->dir, ts_strerror(fail));
			return ts_error(TS_POISONED, "the WAL in \"%s\" refuses flushes after a failed write or sync",
							wal->dir);
		}
		if (wal->flushed_lsn >= lsn)
		{
			pthread_mutex_unlock(&wal->lock);
			return 0;
		}
		if (!wal->flushing)
			break;
		pthread_cond_wait(&wal->flushed_cv, &wal->lock);
	}

	/* Become the leader: take everything appended so far. */
	take = &wal->buf[wal->cur];
	wal->cur ^= 1;
	wal->buf[wal->cur].len = 0;
	wal->buf[wal->cur].nrecs = 0;
	wal->buf[wal->cur].start = wal->end_lsn;
	wal->flushing = 1;
	pthread_mutex_unlock(&wal->lock);

	rc = write_batch(wal, take);

	pthread_mutex_lock(&wal->lock);
	wal->flushing = 0;
	if (rc != 0)
	{
		wal->poisoned = 1;
		wal->fail_rc = rc;
		wal->failed_end = take->start + take->len;
	}
	else
	{
		wal->flushed_lsn = take->start + take->len;
		wal->flushes++;
		wal->records += take->nrecs;
		wal->bytes += take->len;
		segs_at(wal, wal->seg_no)->size = wal->seg_off;	/* the zeros after it not counted */
	}
	take->len = 0;
	take->nrecs = 0;
	if (take->cap > BUF_KEEP)
		wbuf_free(take);		/* don't hold on to a huge batch's memory */
	pthread_cond_broadcast(&wal->flushed_cv);
	pthread_mutex_unlock(&wal->lock);
	return rc;
}

uint64_t
ts_wal_end_lsn(ts_wal *wal)
{
	uint64_t	v;

	pthread_mutex_lock(&wal->lock);
	v = wal->end_lsn;
	pthread_mutex_unlock(&wal->lock);
	return v;
}

uint64_t
ts_wal_flushed_lsn(ts_wal *wal)
{
	uint64_t	v;

	pthread_mutex_lock(&wal->lock);
	v = wal->flushed_lsn;
	pthread_mutex_unlock(&wal->lock);
	return v;
}

/*
 * Segments ending at or before `lsn` are removable (a segment ends where
 * the next one begins), oldest first; of those, the `keep` newest stay.
 * The segment being written never ends, so it always stays.
 */
int
ts_wal_remove_before(ts_wal *wal, uint64_t lsn, int keep)
{
	uint64_t	removable = 0,
				n;
	int			rc = 0;

	pthread_mutex_lock(&wal->remove_lock);
	pthread_mutex_lock(&wal->lock);
	for (n = wal->lo; n < wal->seg_no; n++)
	{
		uint64_t	end = segs_at(wal, n + 1)->first;

		if (end == UINT64_MAX || end > lsn)
			break;
		removable++;
	}
	n = keep > 0 ? (uint64_t) keep : 0;
	removable = removable > n ? removable - n : 0;
	pthread_mutex_unlock(&wal->lock);

	/*
	 * Oldest first, each unlink made durable before the next: a crash in
	 * between leaves a contiguous run (inv. 5).  (Unsynced directory
	 * operations may each be undone or not at a crash, so several pending
	 * unlinks could leave a hole in the run.)
	 */
	for (uint64_t i = 0; i < removable; i++)
	{
		char		path[WAL_PATH_MAX];

		pthread_mutex_lock(&wal->lock);
		seg_path(path, wal->dir, wal->lo);
		pthread_mutex_unlock(&wal->lock);
		if (wal->vfs->exists(wal->vfs, path) == 1 &&
			(rc = wal->vfs->unlink(wal->vfs, path)) != 0)
			break;
		if (wal->opt.sync && (rc = wal->vfs->sync_dir(wal->vfs, wal->dir)) != 0)
			break;
		pthread_mutex_lock(&wal->lock);
		wal->bytes -= wal->segs[wal->seg_head].size;
		wal->seg_head++;
		wal->nseg--;
		wal->lo++;
		pthread_mutex_unlock(&wal->lock);
	}
	pthread_mutex_unlock(&wal->remove_lock);
	return rc;
}

void
ts_wal_stat_get(ts_wal *wal, ts_wal_stat *st)
{
	pthread_mutex_lock(&wal->lock);
	st->first_segment = wal->lo;
	st->last_segment = wal->seg_no;
	st->bytes = wal->bytes;
	st->flushes = wal->flushes;
	st->records = wal->records;
	pthread_mutex_unlock(&wal->lock);
}

/* --- reading ---------------------------------------------------------- */

enum
{
	RD_READING,
	RD_ENDED,
	RD_FAILED
};

struct ts_wal_reader
{
	ts_vfs	   *vfs;
	char		dir[WAL_PATH_MAX];
	int			tolerate;
	uint64_t	hi;				/* highest segment found at open */

	segref		seg;			/* segment being read (f == NULL: none) */
	uint64_t	off;			/* where the next record should start */
	uint64_t	lsn;			/* and its LSN */

	/* read window: bytes [win_off, win_off + win_len) of seg */
	uint8_t    *win;
	size_t		win_cap;
	size_t		win_len;
	uint64_t	win_off;
	int			win_valid;

	int			state;
	int			fail_rc;
	uint64_t	end;
	int			damaged;
	int			reported;
	char		msg[512];
};

/* Switch the reader to segment s (its header valid), reading from off. */
static void
reader_enter(ts_wal_reader *r, segref *s, uint64_t off, uint64_t lsn)
{
	segref_close(&r->seg);
	memcpy(&r->seg, s, sizeof(*s));
	s->f = NULL;
	r->off = off;
	r->lsn = lsn;
	r->win_valid = 0;
}

/* Bytes [off, off + n) of the current segment (all inside the file). */
static int
fetch(ts_wal_reader *r, uint64_t off, size_t n, const uint8_t **p)
{
	size_t		want;
	int			rc;

	if (r->win_valid && off >= r->win_off && off - r->win_off + n <= r->win_len)
	{
		*p = r->win + (off - r->win_off);
		return 0;
	}
	want = n > READ_WINDOW ? n : READ_WINDOW;
	if (r->seg.size - off < want)
		want = (size_t) (r->seg.size - off);
	if (want > r->win_cap)
	{
		uint8_t    *nw = realloc(r->win, want);

		if (nw == NULL)
			return ts_error(TS_NOMEM, "out of memory reading \"%s\"", r->seg.path);
		r->win = nw;
		r->win_cap = want;
	}
	r->win_valid = 0;
	if ((rc = r->seg.f->vfs->read(r->seg.f, r->win, want, off)) != 0)
		return rc;
	r->win_off = off;
	r->win_len = want;
	r->win_valid = 1;
	*p = r->win + (off - r->win_off);
	return 0;
}

/*
 * Is there a valid record at `off` of the current segment?  Returns 1 (and
 * fills *rec if given), 0, or an I/O error.  The cheap tests come first;
 * a record is valid only if all of wal.h's conditions hold.
 */
static int
record_at(ts_wal_reader *r, uint64_t off, ts_wal_record *rec)
{
	const uint8_t *p;
	uint64_t	lsn,
				batch,
				len;
	int			type,
				rc;

	if (off > r->seg.size || r->seg.size - off < TS_WAL_REC_HDR)
		return 0;
	if ((rc = fetch(r, off, TS_WAL_REC_HDR, &p)) != 0)
		return rc;
	lsn = rd64(p + RH_LSN);
	if (lsn != r->seg.first + (off - TS_WAL_HDR))
		return 0;
	len = rd32(p + RH_LEN);
	if (len > TS_WAL_MAX_RECORD || len > r->seg.size - off - TS_WAL_REC_HDR)
		return 0;
	type = p[RH_TYPE];
	if (type < TS_WAL_OPS || type > TS_WAL_ABORT_PREPARED)
		return 0;
	batch = rd64(p + RH_BATCH);
	if (batch > lsn)
		return 0;
	if ((rc = fetch(r, off, TS_WAL_REC_HDR + (size_t) len, &p)) != 0)
		return rc;
	if (rd32(p + RH_CRC) != ts_crc32c(r->seg.seed, p + 4, TS_WAL_REC_HDR - 4 + (size_t) len))
		return 0;
	if (rec)
	{
		rec->lsn = lsn;
		rec->end = lsn + rec_size(len);
		rec->batch = batch;
		rec->xid = rd64(p + RH_XID);
		rec->type = type;
		rec->payload = p + TS_WAL_REC_HDR;
		rec->len = (size_t) len;
		rec->segment = r->seg.no;
		rec->offset = off;
	}
	return 1;
}

/* The log ends at r->lsn; not damaged. */
static int
reader_end_clean(ts_wal_reader *r)
{
	r->state = RD_ENDED;
	r->end = r->lsn;
	segref_close(&r->seg);
	r->win_valid = 0;
	return TS_NOTFOUND;
}

/* Corruption: fail, or with tolerate end the log at r->lsn, damaged. */
static int
reader_corrupt(ts_wal_reader *r, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static int
reader_corrupt(ts_wal_reader *r, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	segref_close(&r->seg);
	r->win_valid = 0;
	if (r->tolerate)
	{
		r->state = RD_ENDED;
		r->end = r->lsn;
		r->damaged = 1;
		return TS_NOTFOUND;
	}
	r->state = RD_FAILED;
	r->fail_rc = TS_CORRUPT;
	return TS_CORRUPT;
}

static int
reader_fail(ts_wal_reader *r, int rc)
{
	segref_close(&r->seg);
	r->win_valid = 0;
	r->state = RD_FAILED;
	r->fail_rc = rc;
	snprintf(r->msg, sizeof(r->msg), "%s", ts_last_error());
	return rc;
}

/*
 * The record at (r->seg, r->off), LSN X = r->lsn, is invalid: continue in
 * the next segment (returns 0), or decide end of log vs corruption (see
 * READING).
 */
static int
reader_at_invalid(ts_wal_reader *r)
{
	uint64_t	n = r->seg.no,
				x = r->lsn,
				off = r->off;
	segref		next;
	int			rc;

	if (seg_exists(r->vfs, r->dir, n + 1))
	{
		if ((rc = segref_open(r->vfs, r->dir, n + 1, &next)) != 0)
			return reader_fail(r, rc);
		if (next.bad == NULL && next.first == x)
		{
			reader_enter(r, &next, TS_WAL_HDR, x);
			return 0;
		}
		if (next.bad == NULL)
		{
			segref_close(&next);
			if (next.first > x)
				return reader_corrupt(r, "WAL record at offset %llu of \"%s\" (LSN %llu) is damaged: "
									  "the next segment \"%s\" begins at LSN %llu",
									  (unsigned long long) off, r->seg.path, (unsigned long long) x,
									  next.path, (unsigned long long) next.first);
			return reader_corrupt(r, "WAL segment \"%s\" begins at LSN %llu, which does not continue "
								  "\"%s\" (valid up to LSN %llu, offset %llu)",
								  next.path, (unsigned long long) next.first, r->seg.path,
								  (unsigned long long) x, (unsigned long long) off);
		}
		segref_close(&next);
		if (next.size > TS_WAL_HDR || seg_any_after(r->vfs, r->dir, n + 1, r->hi))
			return reader_corrupt(r, "WAL segment \"%s\" has a damaged header (%s) at offset 0",
								  next.path, next.bad);
		/* the newest segment, header-only and damaged: a crash creating it */
	}
	else if (seg_any_after(r->vfs, r->dir, n + 1, r->hi))
	{
		char		path[WAL_PATH_MAX];

		seg_path(path, r->dir, n + 1);
		return reader_corrupt(r, "WAL segment \"%s\" is missing (later segments exist; the log "
							  "is valid up to LSN %llu, offset %llu of \"%s\")", path,
							  (unsigned long long) x, (unsigned long long) off, r->seg.path);
	}

	/* Last segment: look for proof that X was in a synced batch. */
	for (uint64_t o = off + 8; o <= r->seg.size && r->seg.size - o >= TS_WAL_REC_HDR; o += 8)
	{
		ts_wal_record rec;

		rc = record_at(r, o, &rec);
		if (rc == 1 && rec.batch > x)
			return reader_corrupt(r, "WAL record at offset %llu of \"%s\" (LSN %llu) is damaged: "
								  "a record of a later batch follows at offset %llu (LSN %llu, "
								  "batch %llu)", (unsigned long long) off, r->seg.path,
								  (unsigned long long) x, (unsigned long long) o,
								  (unsigned long long) rec.lsn, (unsigned long long) rec.batch);
		if (rc != 0 && rc != 1)
			return reader_fail(r, rc);
	}
	return reader_end_clean(r);
}

int
ts_wal_read(ts_wal_reader *r, ts_wal_record *rec)
{
	int			rc;

	for (;;)
	{
		if (r->state == RD_FAILED)
			return ts_error(r->fail_rc, "%s", r->msg);
		if (r->state == RD_ENDED)
		{
			if (r->damaged && !r->reported)
			{
				r->reported = 1;
				return ts_error(TS_NOTFOUND, "%s", r->msg);
			}
			return TS_NOTFOUND;
		}
		rc = record_at(r, r->off, rec);
		if (rc == 1)
		{
			r->off += rec_size(rec->len);
			r->lsn = rec->end;
			return 0;
		}
		if (rc != 0)
			return reader_fail(r, rc);
		if ((rc = reader_at_invalid(r)) != 0)
		{
			if (rc == TS_NOTFOUND || rc == TS_CORRUPT)
				continue;		/* report through the state above */
			return rc;
		}
	}
}

int
ts_wal_reader_open(ts_vfs *vfs, const char *dir, uint64_t from_lsn, int tolerate,
				   ts_wal_reader **out)
{
	ts_wal_reader *r;
	uint64_t	lo,
				hi,
				no;
	segref		s;
	int			rc;

	*out = NULL;
	if (vfs == NULL || dir == NULL || strlen(dir) >= WAL_DIR_MAX)
		return ts_error(TS_INVALID, "invalid WAL directory");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	r->vfs = vfs;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	r->tolerate = tolerate;
	r->lsn = from_lsn;
	r->state = RD_READING;

	seg_find(vfs, dir, from_lsn > 0 ? PROBE_DEEP : PROBE_SHORT, 1, &lo, &hi);
	r->hi = hi;
	if (lo == 0)
	{
		if (from_lsn > 0)
			reader_corrupt(r, "WAL needed from LSN %llu is missing: no segment in \"%s\"",
						   (unsigned long long) from_lsn, dir);
		else
			reader_end_clean(r);
		goto done;
	}

	/* the start segment: the oldest, or the newest beginning at or before from_lsn */
	for (no = from_lsn == 0 ? lo : hi;; no--)
	{
		if (no > lo && !seg_exists(vfs, dir, no))
			continue;			/* a gap: reported if reading crosses it */
		if ((rc = segref_open(vfs, dir, no, &s)) != 0)
		{
			free(r);
			return rc;
		}
		if (from_lsn == 0 || (s.bad == NULL && s.first <= from_lsn) || no == lo)
			break;
		segref_close(&s);
	}
	if (s.bad)
	{
		int			newest = (no == hi && !seg_any_after(vfs, dir, no, hi));

		segref_close(&s);
		if (newest && s.size <= TS_WAL_HDR)
			reader_end_clean(r);	/* a crash while creating it */
		else
			reader_corrupt(r, "WAL segment \"%s\" has a damaged header (%s) at offset 0",
						   s.path, s.bad);
		goto done;
	}
	if (from_lsn == 0)
	{
		reader_enter(r, &s, TS_WAL_HDR, s.first);
		goto done;
	}
	if (s.first > from_lsn)
	{
		segref_close(&s);
		reader_corrupt(r, "WAL needed from LSN %llu is missing: the oldest segment \"%s\" "
					   "begins at LSN %llu", (unsigned long long) from_lsn, s.path,
					   (unsigned long long) s.first);
		goto done;
	}
	if ((from_lsn - s.first) % 8 != 0)
	{
		segref_close(&s);
		free(r);
		return ts_error(TS_INVALID, "LSN %llu is not a record boundary of \"%s\"",
						(unsigned long long) from_lsn, s.path);
	}
	reader_enter(r, &s, TS_WAL_HDR + (from_lsn - s.first), from_lsn);

done:
	if (r->state == RD_FAILED)
	{
		rc = r->fail_rc;
		ts_error(rc, "%s", r->msg);
		ts_wal_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

uint64_t
ts_wal_reader_end(ts_wal_reader *r, int *damaged)
{
	if (damaged)
		*damaged = r->damaged;
	return r->state == RD_ENDED ? r->end : r->lsn;
}

void
ts_wal_reader_close(ts_wal_reader *r)
{
	if (r == NULL)
		return;
	segref_close(&r->seg);
	free(r->win);
	free(r);
}
