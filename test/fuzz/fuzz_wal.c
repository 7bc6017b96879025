/*
 * fuzz_wal.c
 *	  libFuzzer target for the write-ahead log reader (engine/wal.c).
 *
 *	  The input becomes one or two segment files held in a tiny in-memory
 *	  VFS (only what the reader uses: exists, open, size, read, close).  The
 *	  first input byte picks the layout:
 *	    mode 0  segment 1 = a valid header + the input as its body;
 *	    mode 1  segment 1 = the input itself (header included);
 *	    mode 2  segments 1 and 2 with valid headers, the input split between
 *	            their bodies; segment 2 begins where the input says;
 *	    mode 3  as mode 0, but every 8-byte aligned position whose LSN field
 *	            fits its place and whose length fits the file gets a correct
 *	            CRC, so that chains of valid records (and damage between
 *	            them) are reachable without the fuzzer computing CRC32C.
 *	  The reader then runs to the end from LSN 0 and from an LSN taken from
 *	  the input, with and without tolerate.  Findings (abort()):
 *	    - a crash, out-of-bounds access or leak (the sanitizers);
 *	    - a return code other than 0, TS_NOTFOUND, TS_CORRUPT (TS_INVALID
 *	      from reader_open only), or TS_CORRUPT from a tolerant reader;
 *	    - records out of order, overlapping, or not contiguous; a record
 *	      whose type, batch or end is not what wal.h allows, or whose
 *	      payload is not exactly the bytes of the file at its offset;
 *	    - more records than the bytes could hold (a loop).
 *
 *	  Build and run (from the repository root):
 *	    clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
 *	        engine/wal.c engine/crc32c.c engine/error.c engine/vfs_posix.c \
 *	        test/fuzz/fuzz_wal.c -o /tmp/fuzz_wal
 *	    /tmp/fuzz_wal -max_total_time=30
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "format.h"
#include "treestore.h"
#include "vfs.h"
#include "wal.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIR			"mem"
#define SALT1		0x0123456789ABCDEFull
#define SALT2		0xFEDCBA9876543210ull
#define MAXFILES	2

/* --- the in-memory VFS ------------------------------------------------- */

typedef struct memfile
{
	char		path[64];
	uint8_t    *data;
	size_t		len;
} memfile;

static memfile files[MAXFILES];
static int	nfiles;
static int	open_handles;

typedef struct memhandle
{
	ts_file		base;			/* must be first */
	memfile    *mf;
} memhandle;

static memfile *
mem_find(const char *path)
{
	for (int i = 0; i < nfiles; i++)
		if (strcmp(files[i].path, path) == 0)
			return &files[i];
	return NULL;
}

static int
mem_open(ts_vfs *vfs, const char *path, int flags, ts_file **out)
{
	memfile    *mf = mem_find(path);
	memhandle  *h;

	*out = NULL;
	if (mf == NULL)
		return (flags & TS_VFS_CREATE) ? EROFS : ENOENT;
	if ((h = malloc(sizeof(*h))) == NULL)
		return ENOMEM;
	h->base.vfs = vfs;
	h->mf = mf;
	open_handles++;
	*out = &h->base;
	return 0;
}

static int
mem_close(ts_file *f)
{
	free(f);
	open_handles--;
	return 0;
}

static int
mem_read(ts_file *f, void *buf, size_t n, uint64_t off)
{
	memfile    *mf = ((memhandle *) f)->mf;
	size_t		have = off < mf->len ? mf->len - (size_t) off : 0;

	if (have > n)
		have = n;
	if (have)
		memcpy(buf, mf->data + off, have);
	memset((uint8_t *) buf + have, 0, n - have);	/* vfs.h: zeros past the end */
	return 0;
}

static int
mem_write(ts_file *f, const void *buf, size_t n, uint64_t off)
{
	(void) f;
	(void) buf;
	(void) n;
	(void) off;
	return EROFS;
}

static int
mem_sync(ts_file *f)
{
	(void) f;
	return EROFS;
}

static int
mem_truncate(ts_file *f, uint64_t size)
{
	(void) f;
	(void) size;
	return EROFS;
}

static int
mem_size(ts_file *f, uint64_t *size)
{
	*size = ((memhandle *) f)->mf->len;
	return 0;
}

static int
mem_rename(ts_vfs *vfs, const char *from, const char *to)
{
	(void) vfs;
	(void) from;
	(void) to;
	return EROFS;
}

static int
mem_unlink(ts_vfs *vfs, const char *path)
{
	(void) vfs;
	(void) path;
	return EROFS;
}

static int
mem_dirop(ts_vfs *vfs, const char *path)
{
	(void) vfs;
	(void) path;
	return 0;
}

static int
mem_exists(ts_vfs *vfs, const char *path)
{
	(void) vfs;
	return mem_find(path) != NULL;
}

static ts_vfs memvfs = {
	.open = mem_open,
	.close = mem_close,
	.read = mem_read,
	.write = mem_write,
	.sync = mem_sync,
	.truncate = mem_truncate,
	.size = mem_size,
	.rename = mem_rename,
	.unlink = mem_unlink,
	.mkdir = mem_dirop,
	.sync_dir = mem_dirop,
	.exists = mem_exists,
};

/* --- building the segments --------------------------------------------- */

static void
header(uint8_t *h, uint64_t no, uint64_t salt, uint64_t first)
{
	memset(h, 0, TS_WAL_HDR);
	memcpy(h, TS_WAL_MAGIC, 8);
	wr32(h + 8, TS_WAL_VERSION);
	wr64(h + 16, no);
	wr64(h + 24, salt);
	wr64(h + 32, first);
	wr32(h + 60, ts_crc32c(0, h, 60));
}

/* A segment file: a valid header (unless hdr == 0) then body. */
static memfile *
add_file(uint64_t no, int hdr, uint64_t salt, uint64_t first, const uint8_t *body, size_t n)
{
	memfile    *mf = &files[nfiles++];
	size_t		h = hdr ? TS_WAL_HDR : 0;

	snprintf(mf->path, sizeof(mf->path), "%s/wal-%016llx", DIR, (unsigned long long) no);
	mf->len = h + n;
	mf->data = malloc(mf->len ? mf->len : 1);
	if (mf->data == NULL)
		abort();
	if (hdr)
		header(mf->data, no, salt, first);
	if (n)
		memcpy(mf->data + h, body, n);
	return mf;
}

/* Mode 3: give every plausible record header a correct CRC. */
static void
fix_crcs(memfile *mf, uint64_t salt, uint64_t first)
{
	uint32_t	seed = (uint32_t) (salt ^ (salt >> 32));

	for (size_t o = TS_WAL_HDR; o + TS_WAL_REC_HDR <= mf->len; o += 8)
	{
		uint8_t    *p = mf->data + o;
		uint64_t	len = rd32(p + 4);

		if (rd64(p + 8) != first + (o - TS_WAL_HDR) || len > mf->len - o - TS_WAL_REC_HDR)
			continue;
		wr32(p, ts_crc32c(seed, p + 4, TS_WAL_REC_HDR - 4 + (size_t) len));
	}
}

static void
free_files(void)
{
	for (int i = 0; i < nfiles; i++)
		free(files[i].data);
	nfiles = 0;
}

/* --- running the reader ------------------------------------------------ */

static void
run_reader(uint64_t from, int tolerate, size_t total)
{
	ts_wal_reader *r;
	ts_wal_record rec;
	uint64_t	prev_end = from;
	size_t		n = 0;
	int			rc,
				damaged = 0;

	rc = ts_wal_reader_open(&memvfs, DIR, from, tolerate, &r);
	if (rc != 0)
	{
		if (rc != TS_CORRUPT && rc != TS_INVALID)
			abort();
		if (tolerate && rc == TS_CORRUPT)
			abort();
		return;
	}
	while ((rc = ts_wal_read(r, &rec)) == 0)
	{
		memfile    *mf;
		uint64_t	exp_end = rec.lsn + ((TS_WAL_REC_HDR + rec.len + 7) & ~(size_t) 7);
		uint32_t	sum;

		if (++n > total / 8 + 4)
			abort();			/* more records than the bytes hold */
		if (rec.type < TS_WAL_OPS || rec.type > TS_WAL_ABORT_PREPARED)
			abort();
		if (rec.batch > rec.lsn || rec.end != exp_end || rec.lsn < prev_end)
			abort();
		if (from == 0 ? (n > 1 && rec.lsn != prev_end) : rec.lsn != prev_end)
			abort();
		if (rec.segment < 1 || rec.segment > (uint64_t) nfiles)
			abort();
		mf = &files[rec.segment - 1];
		if (rec.offset < TS_WAL_HDR || rec.offset % 8 != 0 ||
			rec.offset + TS_WAL_REC_HDR + rec.len > mf->len ||
			(rec.len && memcmp(rec.payload, mf->data + rec.offset + TS_WAL_REC_HDR, rec.len) != 0))
			abort();
		sum = ts_crc32c(0, rec.payload, rec.len);	/* touch every byte */
		(void) sum;
		prev_end = rec.end;
	}
	if (rc != TS_NOTFOUND && rc != TS_CORRUPT)
		abort();
	if (tolerate && rc == TS_CORRUPT)
		abort();
	/* stays at the end */
	if (ts_wal_read(r, &rec) != rc)
		abort();
	if (rc == TS_NOTFOUND && (n > 0 || from > 0) && ts_wal_reader_end(r, &damaged) != prev_end)
		abort();
	(void) ts_wal_reader_end(r, &damaged);
	if (!tolerate && damaged)
		abort();
	ts_wal_reader_close(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			mode;
	uint64_t	from = 0;

	if (size < 1)
		return 0;
	mode = data[0] % 4;
	data++;
	size--;
	nfiles = 0;
	switch (mode)
	{
		case 0:
			add_file(1, 1, SALT1, 0, data, size);
			break;
		case 1:
			add_file(1, 0, 0, 0, data, size);
			break;
		case 2:
			{
				size_t		cut = size ? (size_t) data[0] * size / 256 : 0;
				uint64_t	first2 = size >= 2 ? (uint64_t) data[1] * 8 : 0;

				add_file(1, 1, SALT1, 0, data, cut);
				fix_crcs(&files[0], SALT1, 0);
				add_file(2, 1, SALT2, first2, data + cut, size - cut);
				fix_crcs(&files[1], SALT2, first2);
				break;
			}
		case 3:
			add_file(1, 1, SALT1, 0, data, size);
			fix_crcs(&files[0], SALT1, 0);
			break;
	}
	if (size >= 3)
		from = (uint64_t) data[2] * 8;
	for (int tolerate = 0; tolerate < 2; tolerate++)
	{
		run_reader(0, tolerate, size + TS_WAL_HDR * 2);
		if (from)
			run_reader(from, tolerate, size + TS_WAL_HDR * 2);
	}
	if (open_handles != 0)
		abort();				/* a file left open */
	free_files();
	return 0;
}
