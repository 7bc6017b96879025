/*-------------------------------------------------------------------------
 *
 * treestore-waldump.c
 *	  Print the records of a TreeStore write-ahead log (like pg_waldump).
 *
 *	  One line per record: LSN, end, batch, xid, type, payload length and
 *	  where it lies (segment:offset), then what the payload says: for OPS
 *	  records the count of each operation (with -v each operation, its key
 *	  escaped and its value length), for COMMIT and COMMIT_PREPARED the
 *	  commit txnid, for PREPARE the global id.
 *
 *	  The log is read with the engine's validating reader (wal.c), so what
 *	  this prints is exactly what recovery would replay.  The reader finds
 *	  segments by probing names; to start at the oldest segment left after
 *	  removals this tool lists the directory (a tool may, the engine's VFS
 *	  cannot) and starts at that segment's first LSN.
 *
 *	  Exit status: 0 when the log was read to its end, 1 on corruption or
 *	  any error (printed on stderr).  With --tolerate, corruption ends the
 *	  log instead (reported on stderr) and the status is 0.
 *
 *	  Build (from the repository root):
 *	    gcc -std=c11 -D_GNU_SOURCE -O2 -Iengine engine/tools/treestore-waldump.c \
 *	        engine/wal.c engine/crc32c.c engine/error.c engine/vfs_posix.c \
 *	        -o treestore-waldump -lpthread
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "treestore.h"
#include "vfs.h"
#include "wal.h"

#define OP_PUT		1
#define OP_DELETE	2
#define OP_CREATE	3
#define OP_HDR		11			/* u8 op, u32 tree, u16 klen, u32 vlen */
#define KEY_SHOWN	64			/* key bytes printed before "..." */

typedef struct dump_opts
{
	int			verbose;
	int			tolerate;
	int			have_xid;
	uint64_t	xid;
	int			have_from;
	uint64_t	from;
	int			have_to;
	uint64_t	to;
	const char *dir;
} dump_opts;

static void
usage(FILE *out, const char *prog)
{
	fprintf(out,
			"Usage: %s [OPTION]... DIR\n"
			"Print the records of the TreeStore write-ahead log in DIR, one line each.\n"
			"\n"
			"  -v, --verbose   also print each operation of OPS records\n"
			"      --xid N     only the records of transaction N\n"
			"      --from LSN  start at LSN (a record boundary; default: the oldest record)\n"
			"      --to LSN    stop before LSN\n"
			"      --tolerate  end at corruption (reported) instead of failing\n"
			"  -h, --help      show this help\n"
			"\n"
			"Line: LSN, end LSN, batch (first LSN of the write it went out in), xid,\n"
			"type, payload length, segment:offset, then the payload's summary.\n"
			"Exit status: 0 when the log was read to its end, 1 on corruption or error.\n",
			prog);
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char	   *end;

	errno = 0;
	if (*s == '\0' || *s == '-')
		return -1;
	*v = strtoull(s, &end, 0);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static const char *
type_name(int type)
{
	switch (type)
	{
		case TS_WAL_OPS:
			return "OPS";
		case TS_WAL_COMMIT:
			return "COMMIT";
		case TS_WAL_PREPARE:
			return "PREPARE";
		case TS_WAL_COMMIT_PREPARED:
			return "COMMIT_PREPARED";
		case TS_WAL_ABORT_PREPARED:
			return "ABORT_PREPARED";
	}
	return "?";
}

/* Print bytes quoted, printable ASCII as is, the rest as \xNN. */
static void
print_escaped(const uint8_t *p, size_t n, size_t max)
{
	putchar('\'');
	for (size_t i = 0; i < n && i < max; i++)
	{
		if (p[i] == '\'' || p[i] == '\\')
			printf("\\%c", p[i]);
		else if (isprint(p[i]))
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	putchar('\'');
	if (n > max)
		printf("...(%zu bytes)", n);
}

/* The summary of an OPS payload (and with verbose, each op). */
static void
print_ops(const ts_wal_record *rec, int verbose)
{
	size_t		pos = 0,
				counts[4] = {0};
	const char *bad = NULL;

	/* first pass: count, and find where it stops making sense */
	while (pos < rec->len)
	{
		const uint8_t *p = rec->payload + pos;
		int			op;
		size_t		klen,
					vlen;

		if (rec->len - pos < OP_HDR)
		{
			bad = "truncated op header";
			break;
		}
		op = p[0];
		klen = rd16(p + 5);
		vlen = rd32(p + 7);
		if (op < OP_PUT || op > OP_CREATE)
		{
			bad = "unknown op";
			break;
		}
		if (rec->len - pos - OP_HDR < klen || rec->len - pos - OP_HDR - klen < vlen)
		{
			bad = "op runs past the payload";
			break;
		}
		counts[op]++;
		pos += OP_HDR + klen + vlen;
	}
	printf(" ops put=%zu delete=%zu create=%zu", counts[OP_PUT], counts[OP_DELETE],
		   counts[OP_CREATE]);
	if (bad)
		printf(" MALFORMED at payload byte %zu: %s", pos, bad);
	putchar('\n');
	if (!verbose)
		return;
	for (size_t at = 0; at < pos;)
	{
		const uint8_t *p = rec->payload + at;
		int			op = p[0];
		uint32_t	tree = rd32(p + 1);
		size_t		klen = rd16(p + 5),
					vlen = rd32(p + 7);

		if (op == OP_CREATE)
		{
			printf("    create tree %" PRIu32 " name ", tree);
			print_escaped(p + OP_HDR, klen, KEY_SHOWN);
			putchar('\n');
		}
		else
		{
			printf("    %s tree %" PRIu32 " key ", op == OP_PUT ? "put" : "delete", tree);
			print_escaped(p + OP_HDR, klen, KEY_SHOWN);
			if (op == OP_PUT)
				printf(" value %zu bytes", vlen);
			putchar('\n');
		}
		at += OP_HDR + klen + vlen;
	}
}

static void
print_record(const ts_wal_record *rec, int verbose)
{
	printf("lsn %" PRIu64 " end %" PRIu64 " batch %" PRIu64 " xid %" PRIu64
		   " %s len %zu seg %" PRIu64 ":%" PRIu64,
		   rec->lsn, rec->end, rec->batch, rec->xid, type_name(rec->type), rec->len,
		   rec->segment, rec->offset);
	switch (rec->type)
	{
		case TS_WAL_OPS:
			print_ops(rec, verbose);
			return;
		case TS_WAL_COMMIT:
		case TS_WAL_COMMIT_PREPARED:
			if (rec->len == 8)
				printf(" commit txnid %" PRIu64, rd64(rec->payload));
			else
				printf(" MALFORMED (payload of %zu bytes, 8 expected)", rec->len);
			break;
		case TS_WAL_PREPARE:
			if (rec->len >= 2 && (size_t) rd16(rec->payload) == rec->len - 2)
			{
				printf(" gid ");
				print_escaped(rec->payload + 2, rec->len - 2, 256);
			}
			else
				printf(" MALFORMED (gid length does not match the payload)");
			break;
		default:
			break;
	}
	putchar('\n');
}

/*
 * The first LSN of the oldest segment in dir (0 if none or unreadable):
 * found by listing the directory.
 */
static uint64_t
oldest_first_lsn(ts_vfs *vfs, const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	uint64_t	lowest = 0,
				first = 0;
	char		path[4200];
	ts_file    *f;
	uint8_t		h[TS_WAL_HDR];

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
	{
		uint64_t	no;
		char	   *end;

		if (strncmp(e->d_name, "wal-", 4) != 0 || strlen(e->d_name) != 20)
			continue;
		no = strtoull(e->d_name + 4, &end, 16);
		if (*end == '\0' && no > 0 && (lowest == 0 || no < lowest))
			lowest = no;
	}
	closedir(d);
	if (lowest == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/wal-%016llx", dir, (unsigned long long) lowest);
	if (vfs->open(vfs, path, 0, &f) != 0)
		return 0;
	if (f->vfs->read(f, h, sizeof(h), 0) == 0 && memcmp(h, TS_WAL_MAGIC, 8) == 0)
		first = rd64(h + 32);
	f->vfs->close(f);
	return first;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"verbose", no_argument, NULL, 'v'},
		{"xid", required_argument, NULL, 'x'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"tolerate", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	dump_opts	o;
	ts_vfs	   *vfs = ts_vfs_posix();
	ts_wal_reader *r;
	ts_wal_record rec;
	uint64_t	shown = 0,
				read = 0,
				end;
	int			c,
				rc,
				damaged = 0;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'v':
				o.verbose = 1;
				break;
			case 'x':
				o.have_xid = 1;
				if (parse_u64(optarg, &o.xid) != 0)
				{
					fprintf(stderr, "%s: invalid --xid \"%s\"\n", argv[0], optarg);
					return 1;
				}
				break;
			case 'f':
				o.have_from = 1;
				if (parse_u64(optarg, &o.from) != 0)
				{
					fprintf(stderr, "%s: invalid --from \"%s\"\n", argv[0], optarg);
					return 1;
				}
				break;
			case 't':
				o.have_to = 1;
				if (parse_u64(optarg, &o.to) != 0)
				{
					fprintf(stderr, "%s: invalid --to \"%s\"\n", argv[0], optarg);
					return 1;
				}
				break;
			case 'T':
				o.tolerate = 1;
				break;
			case 'h':
				usage(stdout, argv[0]);
				return 0;
			default:
				usage(stderr, argv[0]);
				return 1;
		}
	}
	if (optind != argc - 1)
	{
		usage(stderr, argv[0]);
		return 1;
	}
	o.dir = argv[optind];
	{
		DIR		   *d = opendir(o.dir);

		if (d == NULL)
		{
			fprintf(stderr, "%s: cannot open directory \"%s\": %s\n", argv[0], o.dir,
					strerror(errno));
			return 1;
		}
		closedir(d);
	}
	if (!o.have_from)
		o.from = oldest_first_lsn(vfs, o.dir);

	rc = ts_wal_reader_open(vfs, o.dir, o.from, o.tolerate, &r);
	if (rc != 0)
	{
		fprintf(stderr, "%s: %s: %s\n", argv[0], ts_strerror(rc), ts_last_error());
		return 1;
	}
	while ((rc = ts_wal_read(r, &rec)) == 0)
	{
		read++;
		if (o.have_to && rec.lsn >= o.to)
			break;
		if (o.have_xid && rec.xid != o.xid)
			continue;
		print_record(&rec, o.verbose);
		shown++;
	}
	if (rc == 0)
	{
		printf("# stopped at LSN %" PRIu64 " (--to): %" PRIu64 " records shown\n",
			   rec.lsn, shown);
		ts_wal_reader_close(r);
		return 0;
	}
	if (rc != TS_NOTFOUND)
	{
		fflush(stdout);
		fprintf(stderr, "%s: %s: %s\n", argv[0], ts_strerror(rc), ts_last_error());
		ts_wal_reader_close(r);
		return 1;
	}
	end = ts_wal_reader_end(r, &damaged);
	if (damaged)
	{
		fflush(stdout);
		fprintf(stderr, "%s: damage tolerated: %s\n", argv[0], ts_last_error());
	}
	printf("# end of log at LSN %" PRIu64 "%s: %" PRIu64 " records shown of %" PRIu64 " read\n",
		   end, damaged ? " (damaged)" : "", shown, read);
	ts_wal_reader_close(r);
	return 0;
}
