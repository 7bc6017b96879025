/*
 * test_wal.c
 *	  The write-ahead log (engine/wal.c) on its own: append, flush and read
 *	  back with random sizes and types; rotation over many segments; reopen
 *	  continuing in a new segment; group commit from 8 threads; torn tails
 *	  (the reader ends cleanly at the last good record) against corruption
 *	  of synced batches (TS_CORRUPT naming file and offset, or with tolerate
 *	  the end of the log with damaged = 1); records from another segment
 *	  never accepted; every N-th write or sync failing (poisoned afterwards,
 *	  every acknowledged record readable); removal of old segments.
 *
 *	  Damage is done to the files directly (truncate, pwrite), as a crash or
 *	  a bad disk would.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "faultvfs.h"
#include "crc32c.h"
#include "format.h"
#include "vfs.h"
#include "wal.h"

#define MB (1024 * 1024)

/* --- helpers ----------------------------------------------------------- */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t	x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Payload bytes of record `id`: a function of id alone, so reads can be
 * checked without keeping the bytes. */
static void
fill(uint8_t *p, size_t len, uint64_t id)
{
	uint64_t	x = id * 0x9E3779B97F4A7C15ull + 12345;

	for (size_t i = 0; i < len; i++)
	{
		if ((i & 7) == 0)
			rnd(&x);
		p[i] = (uint8_t) (x >> ((i & 7) * 8));
	}
}

static uint64_t
rsize(uint64_t len)
{
	return (TS_WAL_REC_HDR + len + 7) & ~(uint64_t) 7;
}

/* What the test appended, to compare with what is read back. */
typedef struct mrec
{
	uint64_t	lsn;
	uint64_t	end;
	uint64_t	batch;			/* expected batch field */
	uint64_t	xid;
	uint64_t	id;				/* payload seed */
	size_t		len;
	int			type;
} mrec;

typedef struct model
{
	mrec	   *r;
	size_t		n;
	size_t		cap;
	size_t		unflushed;		/* index of the first record not yet flushed */
	size_t		acked;			/* records whose flush returned 0 */
} model;

static uint8_t *scratch;
static size_t scratch_cap;

static uint8_t *
scratch_buf(size_t n)
{
	if (n > scratch_cap)
	{
		scratch = realloc(scratch, n);
		CHECK(scratch != NULL);
		scratch_cap = n;
	}
	return scratch;
}

static ts_wal_options
wopt(uint64_t segment_size, int sync)
{
	ts_wal_options o;

	memset(&o, 0, sizeof(o));
	o.segment_size = segment_size;
	o.sync = sync;
	return o;
}

static const char *
newdir(const char *tag)
{
	const char *d = th_tmpdir(tag);

	CHECK_OK(ts_vfs_posix()->mkdir(ts_vfs_posix(), d));
	return d;
}

static void
segpath(char *buf, const char *dir, uint64_t no)
{
	snprintf(buf, 600, "%s/wal-%016llx", dir, (unsigned long long) no);
}

/* Append one record to the WAL and the model; returns the append's rc. */
static int
m_append(model *m, ts_wal *wal, uint64_t xid, int type, size_t len, uint64_t id)
{
	uint8_t    *p = scratch_buf(len ? len : 1);
	uint64_t	end,
				before = ts_wal_end_lsn(wal);
	int			rc;

	fill(p, len, id);
	rc = ts_wal_append(wal, xid, type, p, len, &end);
	if (rc != 0)
		return rc;
	CHECK(end == before + rsize(len));
	if (m->n == m->cap)
	{
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->r = realloc(m->r, m->cap * sizeof(mrec));
		CHECK(m->r != NULL);
	}
	m->r[m->n] = (mrec)
	{
		.lsn = before,.end = end,.xid = xid,.id = id,.len = len,.type = type
	};
	m->n++;
	return 0;
}

/* Flush everything appended; on success mark those records' batch. */
static int
m_flush(model *m, ts_wal *wal)
{
	int			rc;

	if (m->unflushed == m->n)
		return 0;
	rc = ts_wal_flush(wal, m->r[m->n - 1].end);
	if (rc != 0)
		return rc;
	for (size_t i = m->unflushed; i < m->n; i++)
		m->r[i].batch = m->r[m->unflushed].lsn;
	m->unflushed = m->acked = m->n;
	return 0;
}

static void
m_free(model *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}

/* Check one record read against the model's record i. */
static void
check_rec(const ts_wal_record *rec, const mrec *e, int check_batch)
{
	uint8_t    *p = scratch_buf(e->len ? e->len : 1);

	CHECK_MSG(rec->lsn == e->lsn, "LSN %llu, expected %llu",
			  (unsigned long long) rec->lsn, (unsigned long long) e->lsn);
	CHECK(rec->end == e->end);
	CHECK(rec->len == e->len);
	CHECK(rec->type == e->type);
	CHECK(rec->xid == e->xid);
	CHECK(rec->batch <= rec->lsn);
	if (check_batch)
		CHECK_MSG(rec->batch == e->batch, "batch %llu, expected %llu at LSN %llu",
				  (unsigned long long) rec->batch, (unsigned long long) e->batch,
				  (unsigned long long) rec->lsn);
	fill(p, e->len, e->id);
	CHECK(e->len == 0 || memcmp(rec->payload, p, e->len) == 0);
}

/*
 * Read the log from `from`; compare with model records [first, ...).
 * Returns the final rc (TS_NOTFOUND: clean or tolerated end) and sets
 * *count, *end, *damaged.
 */
static int
m_read(const model *m, size_t first, const char *dir, uint64_t from, int tolerate,
	   size_t *count, uint64_t *end, int *damaged, int check_batch)
{
	ts_wal_reader *r;
	ts_wal_record rec;
	size_t		i = first;
	int			rc;

	rc = ts_wal_reader_open(ts_vfs_posix(), dir, from, tolerate, &r);
	if (rc != 0)
		return rc;
	while ((rc = ts_wal_read(r, &rec)) == 0)
	{
		CHECK_MSG(i < m->n, "more records than appended (LSN %llu)", (unsigned long long) rec.lsn);
		check_rec(&rec, &m->r[i], check_batch);
		i++;
	}
	*count = i - first;
	*end = ts_wal_reader_end(r, damaged);
	ts_wal_reader_close(r);
	return rc;
}

/* Read everything, expecting exactly the model's records and a clean end. */
static void
m_verify_all(const model *m, const char *dir)
{
	size_t		count;
	uint64_t	end;
	int			damaged;

	CHECK_ERR(m_read(m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK_MSG(count == m->n, "read %zu of %zu records", count, m->n);
	CHECK(end == (m->n ? m->r[m->n - 1].end : end));
	CHECK(!damaged);
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	CHECK_MSG(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return (uint64_t) st.st_size;
}

static void
file_write(const char *path, uint64_t off, const void *buf, size_t n)
{
	int			fd = open(path, O_WRONLY);

	CHECK_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(pwrite(fd, buf, n, (off_t) off) == (ssize_t) n);
	close(fd);
}

static void
file_read(const char *path, uint64_t off, void *buf, size_t n)
{
	int			fd = open(path, O_RDONLY);

	CHECK_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(pread(fd, buf, n, (off_t) off) == (ssize_t) n);
	close(fd);
}

static void
file_truncate(const char *path, uint64_t size)
{
	CHECK_MSG(truncate(path, (off_t) size) == 0, "truncate %s: %s", path, strerror(errno));
}

/* Where record i of the model lives: read the log to find it. */
static void
locate(const model *m, const char *dir, size_t i, uint64_t *seg, uint64_t *off)
{
	ts_wal_reader *r;
	ts_wal_record rec;

	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, m->r[i].lsn, 0, &r));
	CHECK_OK(ts_wal_read(r, &rec));
	CHECK(rec.lsn == m->r[i].lsn);
	*seg = rec.segment;
	*off = rec.offset;
	ts_wal_reader_close(r);
}

static int
contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* ts_last_error() must name the file of segment `seg` and the offset. */
static void
check_names(const char *dir, uint64_t seg, uint64_t off)
{
	char		path[600],
				offs[64];

	segpath(path, dir, seg);
	snprintf(offs, sizeof(offs), "offset %llu", (unsigned long long) off);
	CHECK_MSG(contains(ts_last_error(), path) && contains(ts_last_error(), offs),
			  "error \"%s\" should name \"%s\" and \"%s\"", ts_last_error(), path, offs);
}

/*
 * A log of `nbatches` flushed batches of 1..4 records (sizes up to maxlen)
 * in `dir`; the WAL is closed afterwards.
 */
static void
build_log(model *m, const char *dir, uint64_t segsize, int nbatches, size_t maxlen, uint64_t seed)
{
	ts_wal_options o = wopt(segsize, 0);
	ts_wal	   *wal;
	uint64_t	s = seed;

	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, m->n ? m->r[m->n - 1].end : 0, &wal));
	for (int b = 0; b < nbatches; b++)
	{
		int			k = 1 + (int) (rnd(&s) % 4);

		for (int j = 0; j < k; j++)
			CHECK_OK(m_append(m, wal, rnd(&s) % 100, 1 + (int) (rnd(&s) % 5),
							  (size_t) (rnd(&s) % (maxlen + 1)), m->n + seed * 1000000));
		CHECK_OK(m_flush(m, wal));
	}
	ts_wal_close(wal);
}

/* --- append, flush, read ---------------------------------------------- */

TEST(test_roundtrip_random_sizes)
{
	const char *dir = newdir("wal-rt");
	ts_wal_options o = wopt(8 * MB, 1);
	ts_wal	   *wal;
	model		m = {0};
	uint64_t	s = 42;
	ts_wal_stat st;

	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, 0, &wal));
	CHECK(ts_wal_end_lsn(wal) == 0 && ts_wal_flushed_lsn(wal) == 0);
	for (int i = 0; i < 300; i++)
	{
		uint64_t	c = rnd(&s) % 100;
		size_t		len = c < 70 ? rnd(&s) % 1024 : c < 92 ? rnd(&s) % 65536 : rnd(&s) % (3 * MB + 1);

		if (i == 7)
			len = 0;
		if (i == 8)
			len = 3 * MB;
		CHECK_OK(m_append(&m, wal, rnd(&s), 1 + (int) (rnd(&s) % 5), len, (uint64_t) i));
		if (rnd(&s) % 4 == 0)
			CHECK_OK(m_flush(&m, wal));
	}
	CHECK_OK(m_flush(&m, wal));
	CHECK(ts_wal_flushed_lsn(wal) == ts_wal_end_lsn(wal));
	ts_wal_stat_get(wal, &st);
	CHECK(st.records == m.n);
	CHECK(st.last_segment > st.first_segment);	/* ~100 MB over 8 MB segments */
	ts_wal_close(wal);
	m_verify_all(&m, dir);
	m_free(&m);
	th_rmdir(dir);
}

TEST(test_flush_semantics)
{
	const char *dir = newdir("wal-fl");
	ts_wal_options o = wopt(0, 1);
	ts_wal	   *wal;
	ts_wal_stat st;
	uint64_t	e1,
				e2;

	/* a log starting at LSN 4096 (in an empty directory: the slow path of
	 * segment discovery, see wal.c) */
	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, 4096, &wal));
	CHECK(ts_wal_end_lsn(wal) == 4096);
	CHECK_OK(ts_wal_flush(wal, 4096));	/* nothing to do */
	CHECK_OK(ts_wal_append(wal, 1, TS_WAL_OPS, "abc", 3, &e1));
	CHECK(e1 == 4096 + 48);
	CHECK_OK(ts_wal_append(wal, 1, TS_WAL_COMMIT, "12345678", 8, &e2));
	CHECK(e2 == e1 + 48);
	CHECK(ts_wal_flushed_lsn(wal) == 4096);
	CHECK_OK(ts_wal_flush(wal, e1));	/* takes both: one batch */
	CHECK(ts_wal_flushed_lsn(wal) == e2);
	CHECK_OK(ts_wal_flush(wal, e2));
	CHECK_OK(ts_wal_flush(wal, UINT64_MAX));	/* beyond the end: everything */
	ts_wal_stat_get(wal, &st);
	CHECK(st.flushes == 1 && st.records == 2);
	CHECK(st.first_segment == 1 && st.last_segment == 1);
	CHECK(st.bytes == TS_WAL_HDR + 96);
	CHECK_ERR(ts_wal_append(wal, 1, 0, NULL, 0, &e1), TS_INVALID);
	CHECK_ERR(ts_wal_append(wal, 1, 6, NULL, 0, &e1), TS_INVALID);
	CHECK_ERR(ts_wal_append(wal, 1, TS_WAL_OPS, NULL, 5, &e1), TS_INVALID);
	ts_wal_close(wal);

	{
		ts_wal_reader *r;
		ts_wal_record rec;
		int			damaged;

		CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
		CHECK_OK(ts_wal_read(r, &rec));
		CHECK(rec.lsn == 4096 && rec.batch == 4096 && rec.len == 3 && rec.segment == 1 &&
			  rec.offset == TS_WAL_HDR && memcmp(rec.payload, "abc", 3) == 0);
		CHECK_OK(ts_wal_read(r, &rec));
		CHECK(rec.lsn == e1 && rec.batch == 4096 && rec.type == TS_WAL_COMMIT);
		CHECK_ERR(ts_wal_read(r, &rec), TS_NOTFOUND);
		CHECK_ERR(ts_wal_read(r, &rec), TS_NOTFOUND);
		CHECK(ts_wal_reader_end(r, &damaged) == e2 && !damaged);
		ts_wal_reader_close(r);

		/* from a record boundary; from the end; not a boundary */
		CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, e1, 0, &r));
		CHECK_OK(ts_wal_read(r, &rec));
		CHECK(rec.lsn == e1);
		ts_wal_reader_close(r);
		CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, e2, 0, &r));
		CHECK_ERR(ts_wal_read(r, &rec), TS_NOTFOUND);
		CHECK(ts_wal_reader_end(r, &damaged) == e2 && !damaged);
		ts_wal_reader_close(r);
		CHECK_ERR(ts_wal_reader_open(ts_vfs_posix(), dir, e1 + 4, 0, &r), TS_INVALID);
		/* from before the log's first LSN */
		CHECK_ERR(ts_wal_reader_open(ts_vfs_posix(), dir, 8, 0, &r), TS_CORRUPT);
		CHECK_MSG(contains(ts_last_error(), "WAL needed from LSN 8 is missing"), "%s",
				  ts_last_error());
	}
	/* opening for writing at an end before the log's first LSN is refused */
	CHECK_ERR(ts_wal_open(ts_vfs_posix(), dir, &o, 8, &wal), TS_INVALID);
	th_rmdir(dir);
}

TEST(test_empty_directory)
{
	const char *dir = newdir("wal-empty");
	ts_wal_reader *r;
	ts_wal_record rec;
	int			damaged;

	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	CHECK_ERR(ts_wal_read(r, &rec), TS_NOTFOUND);
	CHECK(ts_wal_reader_end(r, &damaged) == 0 && !damaged);
	ts_wal_reader_close(r);
	th_rmdir(dir);
}

TEST(test_rotation_many_segments)
{
	const char *dir = newdir("wal-rot");
	ts_wal_options o = wopt(64 * 1024, 0);
	ts_wal	   *wal;
	model		m = {0};
	uint64_t	s = 7,
				total = 0,
				prev_seg = 0;
	ts_wal_stat st;
	ts_wal_reader *r;
	ts_wal_record rec;
	size_t		i = 0;

	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, 0, &wal));
	for (int k = 0; k < 4000; k++)
	{
		size_t		len = k % 500 == 99 ? 200 * 1024 : (size_t) (rnd(&s) % 2000);

		CHECK_OK(m_append(&m, wal, (uint64_t) k, 1 + k % 5, len, (uint64_t) k));
		if (rnd(&s) % 3 == 0)
			CHECK_OK(m_flush(&m, wal));
	}
	CHECK_OK(m_flush(&m, wal));
	ts_wal_stat_get(wal, &st);
	CHECK_MSG(st.last_segment - st.first_segment + 1 > 40, "%llu segments",
			  (unsigned long long) (st.last_segment - st.first_segment + 1));
	for (uint64_t n = st.first_segment; n <= st.last_segment; n++)
	{
		char		path[600];

		segpath(path, dir, n);
		total += file_size(path);
	}
	CHECK(total == st.bytes);
	ts_wal_close(wal);

	/* every record whole inside one segment; segments follow each other */
	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	while (ts_wal_read(r, &rec) == 0)
	{
		char		path[600];

		check_rec(&rec, &m.r[i++], 1);
		segpath(path, dir, rec.segment);
		CHECK(rec.offset + TS_WAL_REC_HDR + rec.len <= file_size(path));
		CHECK(rec.segment == prev_seg || rec.segment == prev_seg + 1 || prev_seg == 0);
		prev_seg = rec.segment;
	}
	CHECK(i == m.n);
	ts_wal_reader_close(r);
	m_verify_all(&m, dir);
	m_free(&m);
	th_rmdir(dir);
}

TEST(test_reopen_continues)
{
	const char *dir = newdir("wal-reopen");
	model		m = {0};
	ts_wal_stat st;
	ts_wal	   *wal;
	ts_wal_options o = wopt(64 * 1024, 1);
	size_t		count;
	uint64_t	end;
	int			damaged;

	build_log(&m, dir, 64 * 1024, 50, 3000, 1);
	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK(count == m.n && end == m.r[m.n - 1].end);

	/* reopen twice without writing: two empty segments, the log unchanged */
	for (int k = 0; k < 2; k++)
	{
		uint64_t	before_last;

		CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, end, &wal));
		ts_wal_stat_get(wal, &st);
		before_last = st.last_segment;
		CHECK(ts_wal_end_lsn(wal) == end);
		ts_wal_close(wal);
		CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, end, &wal));
		ts_wal_stat_get(wal, &st);
		CHECK(st.last_segment == before_last + 1);	/* always a new segment */
		ts_wal_close(wal);
	}
	m_verify_all(&m, dir);

	/* continue writing: LSNs go on, read from the start and from the seam */
	build_log(&m, dir, 64 * 1024, 50, 3000, 2);
	m_verify_all(&m, dir);
	{
		size_t		seam = 0;

		while (m.r[seam].lsn < end)
			seam++;
		CHECK_ERR(m_read(&m, seam, dir, end, 0, &count, &end, &damaged, 1), TS_NOTFOUND);
		CHECK(count == m.n - seam);
	}
	m_free(&m);
	th_rmdir(dir);
}

/* --- group commit ------------------------------------------------------ */

#define GC_THREADS 8
#define GC_RECORDS 2000

typedef struct gc_arg
{
	ts_wal	   *wal;
	int			t;
	int			rc;
} gc_arg;

static void *
gc_worker(void *p)
{
	gc_arg	   *a = p;
	uint64_t	s = (uint64_t) a->t * 7919 + 1;

	for (int i = 0; i < GC_RECORDS && a->rc == 0; i++)
	{
		uint8_t		buf[256];
		size_t		len = 8 + (size_t) (rnd(&s) % 200);
		uint64_t	end;

		wr32(buf, (uint32_t) a->t);
		wr32(buf + 4, (uint32_t) i);
		fill(buf + 8, len - 8, (uint64_t) a->t * 100000 + (uint64_t) i);
		a->rc = ts_wal_append(a->wal, (uint64_t) a->t + 1, TS_WAL_OPS, buf, len, &end);
		if (a->rc == 0)
			a->rc = ts_wal_flush(a->wal, end);
	}
	return NULL;
}

TEST(test_group_commit)
{
	const char *dir = newdir("wal-gc");
	ts_wal_options o = wopt(1 * MB, 1);
	ts_wal	   *wal;
	pthread_t	th[GC_THREADS];
	gc_arg		args[GC_THREADS];
	int			next[GC_THREADS] = {0};
	ts_wal_stat st;
	ts_wal_reader *r;
	ts_wal_record rec;
	uint64_t	prev_end = 0,
				n = 0;
	int			rc;

	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, 0, &wal));
	for (int t = 0; t < GC_THREADS; t++)
	{
		args[t] = (gc_arg)
		{
			.wal = wal,.t = t,.rc = 0
		};
		CHECK(pthread_create(&th[t], NULL, gc_worker, &args[t]) == 0);
	}
	for (int t = 0; t < GC_THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < GC_THREADS; t++)
		CHECK_MSG(args[t].rc == 0, "thread %d: %d %s", t, args[t].rc, ts_strerror(args[t].rc));
	ts_wal_stat_get(wal, &st);
	CHECK(st.records == GC_THREADS * GC_RECORDS);
	CHECK_MSG(st.flushes < st.records, "%llu flushes for %llu records",
			  (unsigned long long) st.flushes, (unsigned long long) st.records);
	printf("# group commit: %llu records in %llu flushes\n",
		   (unsigned long long) st.records, (unsigned long long) st.flushes);
	CHECK(ts_wal_flushed_lsn(wal) == ts_wal_end_lsn(wal));
	ts_wal_close(wal);

	/* each record exactly once, in LSN order, each thread's in its order */
	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	while ((rc = ts_wal_read(r, &rec)) == 0)
	{
		int			t = (int) rd32(rec.payload),
					i = (int) rd32(rec.payload + 4);
		uint8_t		exp[256];

		CHECK(rec.lsn == prev_end || n == 0);
		CHECK(t >= 0 && t < GC_THREADS && rec.xid == (uint64_t) t + 1);
		CHECK_MSG(i == next[t], "thread %d: record %d where %d expected", t, i, next[t]);
		next[t]++;
		fill(exp, rec.len - 8, (uint64_t) t * 100000 + (uint64_t) i);
		CHECK(memcmp(rec.payload + 8, exp, rec.len - 8) == 0);
		prev_end = rec.end;
		n++;
	}
	CHECK_ERR(rc, TS_NOTFOUND);
	CHECK(n == GC_THREADS * GC_RECORDS);
	for (int t = 0; t < GC_THREADS; t++)
		CHECK(next[t] == GC_RECORDS);
	ts_wal_reader_close(r);
	th_rmdir(dir);
}

/* --- torn tails: the normal end of the log ----------------------------- */

/*
 * A log whose last batch has 4 records; returns the model and the index of
 * the last batch's first record.
 */
static size_t
log_with_last_batch(model *m, const char *dir, uint64_t segsize)
{
	ts_wal_options o = wopt(segsize, 0);
	ts_wal	   *wal;
	size_t		first;

	build_log(m, dir, segsize, 20, 500, 3);
	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, m->r[m->n - 1].end, &wal));
	first = m->n;
	for (int j = 0; j < 4; j++)
		CHECK_OK(m_append(m, wal, 9, TS_WAL_OPS, 100 + (size_t) j * 37, 777000 + (uint64_t) j));
	CHECK_OK(m_flush(m, wal));
	ts_wal_close(wal);
	return first;
}

/* The reader must end cleanly right before model record `at`. */
static void
expect_end_before(const model *m, const char *dir, size_t at)
{
	size_t		count;
	uint64_t	end;
	int			damaged;

	CHECK_ERR(m_read(m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK_MSG(count == at, "read %zu records, expected %zu", count, at);
	CHECK(end == m->r[at].lsn);
	CHECK(!damaged);
}

/* After a torn tail, recovery's reopen continues the log past it. */
static void
reopen_after_tear(model *m, const char *dir, size_t at)
{
	m->n = at;
	m->unflushed = m->acked = at;
	build_log(m, dir, 64 * 1024, 5, 300, 4);
	m_verify_all(m, dir);
}

TEST(test_torn_tail_truncated)
{
	for (int variant = 0; variant < 3; variant++)
	{
		const char *dir = newdir("wal-torn");
		model		m = {0};
		size_t		first = log_with_last_batch(&m, dir, 1 * MB),
					at = first + (size_t) (variant == 0 ? 3 : variant == 1 ? 0 : 2);
		uint64_t	seg,
					off;
		char		path[600];

		locate(&m, dir, at, &seg, &off);
		segpath(path, dir, seg);
		/* in the middle of the payload; in the header; right after it */
		file_truncate(path, variant == 0 ? off + 70 : variant == 1 ? off + 20 : off + 40);
		expect_end_before(&m, dir, at);
		reopen_after_tear(&m, dir, at);
		m_free(&m);
		th_rmdir(dir);
	}
}

TEST(test_torn_tail_overwritten)
{
	for (int variant = 0; variant < 4; variant++)
	{
		const char *dir = newdir("wal-torn2");
		model		m = {0};
		size_t		first = log_with_last_batch(&m, dir, 1 * MB),
					at = first + (variant < 2 ? 1 : 0);
		uint64_t	seg,
					off,
					size;
		char		path[600];
		uint8_t    *junk;
		uint64_t	s = 99;

		locate(&m, dir, at, &seg, &off);
		segpath(path, dir, seg);
		size = file_size(path);
		junk = calloc(1, size - off);
		CHECK(junk != NULL);
		if (variant % 2 == 1)
			for (uint64_t k = 0; k < size - off; k++)
				junk[k] = (uint8_t) rnd(&s);
		/* zeros / garbage from a record to the end (the last batch's tail) */
		file_write(path, off + (variant >= 2 ? 12 : 0), junk, size - off - (variant >= 2 ? 12 : 0));
		free(junk);
		expect_end_before(&m, dir, at);
		reopen_after_tear(&m, dir, at);
		m_free(&m);
		th_rmdir(dir);
	}
}

TEST(test_torn_record_before_valid_ones_in_last_batch)
{
	const char *dir = newdir("wal-torn3");
	model		m = {0};
	size_t		first = log_with_last_batch(&m, dir, 1 * MB);
	uint64_t	seg,
				off;
	char		path[600];
	uint8_t		c;

	/* the first record of the last batch damaged, the other three intact:
	 * they are of the same batch, so nothing proves the batch was synced */
	locate(&m, dir, first, &seg, &off);
	segpath(path, dir, seg);
	file_read(path, off + 50, &c, 1);
	c ^= 0x40;
	file_write(path, off + 50, &c, 1);
	expect_end_before(&m, dir, first);
	reopen_after_tear(&m, dir, first);
	m_free(&m);
	th_rmdir(dir);
}

TEST(test_crash_while_creating_segment)
{
	for (int variant = 0; variant < 3; variant++)
	{
		const char *dir = newdir("wal-mkseg");
		model		m = {0};
		ts_wal_stat st;
		ts_wal	   *wal;
		ts_wal_options o = wopt(64 * 1024, 1);
		char		path[600];
		uint8_t		junk[64];
		size_t		count;
		uint64_t	end;
		int			damaged;

		build_log(&m, dir, 64 * 1024, 30, 2000, 5);
		CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, m.r[m.n - 1].end, &wal));
		ts_wal_stat_get(wal, &st);
		ts_wal_close(wal);
		/* the next segment: empty, part of a header, or a garbage header */
		segpath(path, dir, st.last_segment + 1);
		memset(junk, 0xA5, sizeof(junk));
		{
			int			fd = open(path, O_CREAT | O_WRONLY, 0600);

			CHECK(fd >= 0);
			if (variant > 0)
				CHECK(write(fd, junk, variant == 1 ? 30 : 64) == (variant == 1 ? 30 : 64));
			close(fd);
		}
		m_verify_all(&m, dir);
		/* recovery reopens: the damaged newest segment is replaced */
		build_log(&m, dir, 64 * 1024, 10, 2000, 6);
		m_verify_all(&m, dir);

		/* a damaged header on a segment with records is corruption */
		if (variant == 2)
		{
			CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, m.r[m.n - 1].end, &wal));
			ts_wal_stat_get(wal, &st);
			ts_wal_close(wal);
			segpath(path, dir, st.last_segment - 1);
			file_write(path, 0, junk, 8);
			CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_CORRUPT);
			check_names(dir, st.last_segment - 1, 0);
		}
		m_free(&m);
		th_rmdir(dir);
	}
}

/* --- corruption of synced data ----------------------------------------- */

/* Read with and without tolerate; expect corruption at model record `at`
 * in (seg, off). */
static void
expect_corrupt(const model *m, const char *dir, size_t at, uint64_t seg, uint64_t off)
{
	size_t		count;
	uint64_t	end;
	int			damaged;

	CHECK_ERR(m_read(m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_CORRUPT);
	CHECK(count == at);
	check_names(dir, seg, off);
	CHECK_ERR(m_read(m, 0, dir, 0, 1, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK_MSG(count == at, "tolerated: read %zu records, expected %zu", count, at);
	CHECK(end == m->r[at].lsn);
	CHECK(damaged == 1);
	check_names(dir, seg, off);
}

TEST(test_corrupt_earlier_batch)
{
	const char *dir = newdir("wal-cor1");
	model		m = {0};
	size_t		at;
	uint64_t	seg,
				off;
	char		path[600];
	uint8_t		c;

	build_log(&m, dir, 16 * MB, 40, 1000, 8);	/* one segment */
	at = m.n / 2;
	locate(&m, dir, at, &seg, &off);
	segpath(path, dir, seg);
	file_read(path, off + TS_WAL_REC_HDR + m.r[at].len / 2, &c, 1);
	c ^= 1;
	file_write(path, off + TS_WAL_REC_HDR + m.r[at].len / 2, &c, 1);
	if (m.r[at].len == 0)		/* no payload: damage the xid instead */
	{
		file_read(path, off + 24, &c, 1);
		c ^= 1;
		file_write(path, off + 24, &c, 1);
	}
	expect_corrupt(&m, dir, at, seg, off);
	m_free(&m);
	th_rmdir(dir);
}

TEST(test_corrupt_last_record_of_earlier_segment)
{
	const char *dir = newdir("wal-cor2");
	model		m = {0};
	size_t		at = 0;
	uint64_t	seg,
				off,
				seg2,
				off2;
	char		path[600];
	uint8_t		c = 0xFF;

	build_log(&m, dir, 64 * 1024, 60, 3000, 9);
	/* the last record of the first segment */
	locate(&m, dir, 0, &seg, &off);
	for (size_t i = 1; i < m.n; i++)
	{
		locate(&m, dir, i, &seg2, &off2);
		if (seg2 != seg)
			break;
		at = i;
		off = off2;
	}
	segpath(path, dir, seg);
	file_write(path, off + 4, &c, 1);	/* its length */
	expect_corrupt(&m, dir, at, seg, off);
	m_free(&m);
	th_rmdir(dir);
}

TEST(test_missing_middle_segment)
{
	const char *dir = newdir("wal-cor3");
	model		m = {0};
	ts_wal_reader *r;
	ts_wal_record rec;
	uint64_t	last_seg = 0,
				end = 0;
	size_t		at = 0,
				count;
	int			damaged;
	char		path[600];

	build_log(&m, dir, 64 * 1024, 80, 3000, 10);
	/* find the records of segment 3 */
	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	while (ts_wal_read(r, &rec) == 0 && rec.segment < 3)
		at++;
	CHECK(rec.segment == 3);
	ts_wal_reader_close(r);
	segpath(path, dir, 3);
	CHECK(unlink(path) == 0);

	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_CORRUPT);
	CHECK(count == at);
	CHECK_MSG(contains(ts_last_error(), path) && contains(ts_last_error(), "missing"), "%s",
			  ts_last_error());
	CHECK_ERR(m_read(&m, 0, dir, 0, 1, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK(count == at && damaged == 1 && end == m.r[at].lsn);
	(void) last_seg;
	m_free(&m);
	th_rmdir(dir);
}

TEST(test_segment_first_lsn_changed)
{
	const char *dir = newdir("wal-cor4");
	model		m = {0};
	ts_wal_reader *r;
	ts_wal_record rec;
	size_t		at = 0,
				count;
	uint64_t	end,
				seg2_off = 0;
	int			damaged;
	char		path[600];
	uint8_t		h[TS_WAL_HDR];

	build_log(&m, dir, 64 * 1024, 80, 3000, 11);
	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	while (ts_wal_read(r, &rec) == 0 && rec.segment < 3)
	{
		at++;
		seg2_off = rec.offset;
	}
	ts_wal_reader_close(r);
	/* segment 3 claims to begin 8 bytes later (header checksum redone) */
	segpath(path, dir, 3);
	file_read(path, 0, h, sizeof(h));
	wr64(h + 32, rd64(h + 32) + 8);
	wr32(h + 60, ts_crc32c(0, h, 60));
	file_write(path, 0, h, sizeof(h));

	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_CORRUPT);
	CHECK(count == at);
	CHECK_MSG(contains(ts_last_error(), path), "%s", ts_last_error());
	CHECK_ERR(m_read(&m, 0, dir, 0, 1, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK(count == at && damaged == 1);
	(void) seg2_off;

	/* and 8 bytes earlier */
	wr64(h + 32, rd64(h + 32) - 16);
	wr32(h + 60, ts_crc32c(0, h, 60));
	file_write(path, 0, h, sizeof(h));
	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_CORRUPT);
	CHECK(count == at);
	CHECK_MSG(contains(ts_last_error(), path), "%s", ts_last_error());
	m_free(&m);
	th_rmdir(dir);
}

/* After corruption was tolerated (the operator accepted the loss), the log
 * reopened at the end found continues there: the segments after the damage
 * are dropped, and the next reader goes straight through. */
TEST(test_reopen_after_tolerated_corruption)
{
	const char *dir = newdir("wal-tol");
	model		m = {0};
	size_t		at,
				count;
	uint64_t	seg,
				off,
				end;
	int			damaged;
	char		path[600];
	uint8_t		c = 0x77;

	build_log(&m, dir, 64 * 1024, 80, 3000, 13);
	at = m.n / 3;
	locate(&m, dir, at, &seg, &off);
	segpath(path, dir, seg);
	file_write(path, off + 33, &c, 1);	/* a reserved byte: CRC mismatch */
	CHECK_ERR(m_read(&m, 0, dir, 0, 1, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK(count == at && damaged && end == m.r[at].lsn);
	m.n = at;
	m.unflushed = m.acked = at;
	build_log(&m, dir, 64 * 1024, 20, 3000, 14);
	m_verify_all(&m, dir);
	m_free(&m);
	th_rmdir(dir);
}

/* A record made for another segment (another salt) is never accepted, even
 * with the right LSN at the right place and a CRC valid for its salt. */
TEST(test_foreign_record_rejected)
{
	const char *dir = newdir("wal-salt");
	model		m = {0};
	uint64_t	seg,
				off,
				lseg,
				loff,
				salt1,
				salt_last;
	char		path1[600],
				pathl[600];
	uint8_t		h[TS_WAL_HDR],
				rec[TS_WAL_REC_HDR + 64];
	size_t		count;
	uint64_t	end;
	int			damaged;

	build_log(&m, dir, 64 * 1024, 60, 3000, 12);
	locate(&m, dir, 0, &seg, &off);
	locate(&m, dir, m.n - 1, &lseg, &loff);
	CHECK(seg != lseg);
	segpath(path1, dir, seg);
	segpath(pathl, dir, lseg);
	file_read(path1, 0, h, sizeof(h));
	salt1 = rd64(h + 24);
	file_read(pathl, 0, h, sizeof(h));
	salt_last = rd64(h + 24);
	CHECK(salt1 != salt_last);

	/* a record for the next position of the last segment, in a later batch,
	 * checksummed with the first segment's salt */
	memset(rec, 0, sizeof(rec));
	wr32(rec + 4, 64);
	wr64(rec + 8, m.r[m.n - 1].end);
	wr64(rec + 16, m.r[m.n - 1].end);
	wr64(rec + 24, 5);
	rec[32] = TS_WAL_COMMIT;
	memset(rec + 40, 'x', 64);
	wr32(rec, ts_crc32c((uint32_t) (salt1 ^ (salt1 >> 32)), rec + 4, 36 + 64));
	file_write(pathl, file_size(pathl), rec, sizeof(rec));
	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 1), TS_NOTFOUND);
	CHECK(count == m.n && end == m.r[m.n - 1].end && !damaged);

	/* control: with the last segment's own salt it is a valid record */
	wr32(rec, ts_crc32c((uint32_t) (salt_last ^ (salt_last >> 32)), rec + 4, 36 + 64));
	file_write(pathl, loff + rsize(m.r[m.n - 1].len), rec, sizeof(rec));
	{
		ts_wal_reader *r;
		ts_wal_record rr;
		size_t		n = 0;

		CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
		while (ts_wal_read(r, &rr) == 0)
			n++;
		CHECK(n == m.n + 1);
		ts_wal_reader_close(r);
	}
	m_free(&m);
	th_rmdir(dir);
}

/* --- fault injection --------------------------------------------------- */

/*
 * Fail the n-th write (mode 0) or sync (mode 1) from the start: returns 1
 * if a failure happened within the workload.
 */
static int
fault_run(int mode, long n)
{
	const char *dir = newdir("wal-fault");
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	ts_wal_options o = wopt(2048, 1);
	ts_wal	   *wal = NULL;
	model		m = {0};
	uint64_t	s = (uint64_t) n * 31 + (uint64_t) mode;
	int			failed = 0,
				rc;
	size_t		count;
	uint64_t	end;
	int			damaged;

	if (mode == 0)
		faultvfs_fail_write(fv, n);
	else
		faultvfs_fail_sync(fv, n);
	rc = ts_wal_open(vfs, dir, &o, 0, &wal);
	if (rc != 0)
	{
		CHECK_MSG(rc == EIO, "open: %d %s", rc, ts_last_error());
		failed = 1;
	}
	for (int i = 0; i < 60 && !failed; i++)
	{
		CHECK_OK(m_append(&m, wal, 1, TS_WAL_OPS, (size_t) (rnd(&s) % 700), (uint64_t) i));
		if (rnd(&s) % 3 == 0 || i == 59)
		{
			rc = m_flush(&m, wal);
			if (rc != 0)
			{
				CHECK_MSG(rc == EIO, "flush: %d %s", rc, ts_last_error());
				CHECK(contains(ts_last_error(), "faultvfs: injected"));
				failed = 1;
			}
		}
	}
	if (failed && wal)
	{
		uint64_t	e;

		/* poisoned, even with the fault disarmed */
		faultvfs_reset(fv);
		CHECK_ERR(ts_wal_append(wal, 1, TS_WAL_OPS, "x", 1, &e), TS_POISONED);
		/* the failed batch's records: outcome unknown, the failure itself */
		CHECK_ERR(ts_wal_flush(wal, ts_wal_end_lsn(wal)), EIO);
		CHECK_ERR(ts_wal_flush(wal, 0), TS_POISONED);
	}
	ts_wal_close(wal);
	faultvfs_free(vfs);

	/* everything acknowledged is there; perhaps more (a failed sync's batch) */
	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 0), TS_NOTFOUND);
	CHECK_MSG(count >= m.acked, "%zu records read, %zu acknowledged (%s %ld)",
			  count, m.acked, mode ? "sync" : "write", n);
	CHECK(!damaged);

	/* recovery: reopen at the end found, write more, all readable */
	m.n = count;
	m.unflushed = m.acked = count;
	for (size_t i = 0; i < count; i++)
		m.r[i].batch = 0;
	{
		ts_wal	   *w2;

		CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, end, &w2));
		for (int i = 0; i < 10; i++)
			CHECK_OK(m_append(&m, w2, 2, TS_WAL_COMMIT, 8, 5000 + (uint64_t) i));
		CHECK_OK(ts_wal_flush(w2, ts_wal_end_lsn(w2)));
		ts_wal_close(w2);
	}
	CHECK_ERR(m_read(&m, 0, dir, 0, 0, &count, &end, &damaged, 0), TS_NOTFOUND);
	CHECK(count == m.n && !damaged);
	m_free(&m);
	th_rmdir(dir);
	return failed;
}

TEST(test_fault_every_write_and_sync)
{
	for (int mode = 0; mode < 2; mode++)
	{
		long		n;

		for (n = 1; n < 500; n++)
			if (!fault_run(mode, n))
				break;
		CHECK_MSG(n > 10, "only %ld %s points", n - 1, mode ? "sync" : "write");
		printf("# %s failures: %ld points tried\n", mode ? "sync" : "write", n - 1);
	}
}

/* --- removal ----------------------------------------------------------- */

TEST(test_remove_before)
{
	const char *dir = newdir("wal-rm");
	ts_wal_options o = wopt(4096, 1);
	ts_wal	   *wal;
	model		m = {0};
	ts_wal_stat st;
	uint64_t	s = 5,
				firsts[256] = {0};
	ts_wal_reader *r;
	ts_wal_record rec;
	size_t		count;
	uint64_t	end;
	int			damaged;
	char		path[600];

	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, 0, &wal));
	for (int i = 0; i < 700; i++)
	{
		CHECK_OK(m_append(&m, wal, 1, TS_WAL_OPS, (size_t) (rnd(&s) % 900), (uint64_t) i));
		if (i % 3 == 2)
			CHECK_OK(m_flush(&m, wal));
	}
	CHECK_OK(m_flush(&m, wal));
	ts_wal_stat_get(wal, &st);
	CHECK(st.first_segment == 1 && st.last_segment > 40 && st.last_segment < 256);

	/* the first LSN of each segment, from the records */
	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	while (ts_wal_read(r, &rec) == 0)
		if (firsts[rec.segment] == 0 && rec.segment > 1)
			firsts[rec.segment] = rec.lsn;
	ts_wal_reader_close(r);

	/* nothing ends before LSN 0; keep larger than what is removable */
	CHECK_OK(ts_wal_remove_before(wal, 0, 0));
	CHECK_OK(ts_wal_remove_before(wal, firsts[20], 100));
	ts_wal_stat_get(wal, &st);
	CHECK(st.first_segment == 1);

	/* segments 1..19 end at or before firsts[20]; keep the 3 newest */
	CHECK_OK(ts_wal_remove_before(wal, firsts[20], 3));
	ts_wal_stat_get(wal, &st);
	CHECK_MSG(st.first_segment == 17, "first segment %llu", (unsigned long long) st.first_segment);
	for (uint64_t n = 1; n <= 30; n++)
	{
		segpath(path, dir, n);
		CHECK(access(path, F_OK) == (n < 17 ? -1 : 0));
	}
	/* a segment that merely reaches into lsn is not removed */
	CHECK_OK(ts_wal_remove_before(wal, firsts[25] + 8, 0));
	ts_wal_stat_get(wal, &st);
	CHECK(st.first_segment == 25);

	/* reading: from the start is the oldest kept; from before it is missing */
	{
		size_t		i = 0;

		while (m.r[i].lsn < firsts[25])
			i++;
		CHECK_ERR(m_read(&m, i, dir, 0, 0, &count, &end, &damaged, 1), TS_NOTFOUND);
		CHECK(count == m.n - i);
		CHECK_ERR(m_read(&m, 0, dir, m.r[1].lsn, 0, &count, &end, &damaged, 1), TS_CORRUPT);
		CHECK(contains(ts_last_error(), "is missing"));
		CHECK_ERR(m_read(&m, 0, dir, m.r[1].lsn, 1, &count, &end, &damaged, 1), TS_NOTFOUND);
		CHECK(count == 0 && damaged == 1);
	}

	/* everything but the segment being written */
	CHECK_OK(ts_wal_remove_before(wal, UINT64_MAX, 0));
	ts_wal_stat_get(wal, &st);
	CHECK(st.first_segment == st.last_segment);
	segpath(path, dir, st.last_segment);
	CHECK(st.bytes == file_size(path));
	ts_wal_close(wal);
	/* make the one segment left a number that is no power of two */
	while ((st.last_segment & (st.last_segment - 1)) == 0)
	{
		CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, m.r[m.n - 1].end, &wal));
		CHECK_OK(ts_wal_remove_before(wal, UINT64_MAX, 0));
		ts_wal_stat_get(wal, &st);
		ts_wal_close(wal);
	}

	/* the single remaining segment is found again */
	CHECK_OK(ts_wal_open(ts_vfs_posix(), dir, &o, m.r[m.n - 1].end, &wal));
	{
		ts_wal_stat st2;

		ts_wal_stat_get(wal, &st2);
		CHECK(st2.first_segment == st.last_segment && st2.last_segment == st.last_segment + 1);
		CHECK_OK(ts_wal_append(wal, 3, TS_WAL_COMMIT, "12345678", 8, &end));
		CHECK_OK(ts_wal_flush(wal, end));
	}
	ts_wal_close(wal);
	CHECK_OK(ts_wal_reader_open(ts_vfs_posix(), dir, 0, 0, &r));
	count = 0;
	while (ts_wal_read(r, &rec) == 0)
		count++;
	CHECK(count >= 1 && rec.xid == 3);
	CHECK(ts_wal_reader_end(r, &damaged) == end && !damaged);
	ts_wal_reader_close(r);
	m_free(&m);
	th_rmdir(dir);
}

TEST_MAIN(test_roundtrip_random_sizes, test_flush_semantics, test_empty_directory,
		  test_rotation_many_segments, test_reopen_continues, test_group_commit,
		  test_torn_tail_truncated, test_torn_tail_overwritten,
		  test_torn_record_before_valid_ones_in_last_batch, test_crash_while_creating_segment,
		  test_corrupt_earlier_batch, test_corrupt_last_record_of_earlier_segment,
		  test_missing_middle_segment, test_segment_first_lsn_changed, test_reopen_after_tolerated_corruption,
		  test_foreign_record_rejected, test_fault_every_write_and_sync, test_remove_before)
