/*-------------------------------------------------------------------------
 *
 * format.h
 *	  Every on-disk format of the data file, in one place.
 *
 *	  All integers are little-endian (the engine refuses to build on a
 *	  big-endian host, see the static assertion below).  The data file
 *	  "treestore.db" is an array of TS_PAGE_SIZE-byte pages; page N lives at
 *	  byte offset N * TS_PAGE_SIZE.  Pages 0 and 1 are the meta pages.
 *
 * PAGE HEADER (every page, 32 bytes)
 *	  OFFSET SIZE DESCRIPTION
 *	       0    4 CRC32C of bytes 4 .. TS_PAGE_SIZE-1 (so it covers pgno too:
 *	              a page written to the wrong place fails its check)
 *	       4    1 page type (TS_PT_*)
 *	       5    1 flags (0)
 *	       6    2 nkeys: cells on a branch or leaf page
 *	       8    8 pgno: this page's own number
 *	      16    8 txnid: the commit that wrote the page (a copy-on-write copy
 *	              is stamped with the copying commit), so a child page is
 *	              never newer than its parent
 *	      24    2 lower: end of the slot array (branch, leaf)
 *	      26    2 upper: start of the cell area (branch, leaf)
 *	      24    8 next: next page of the chain (overflow pages; 0 ends it)
 *	      28    4 reserved, zero (branch, leaf)
 *
 * META PAGE (pages 0 and 1; of those with a valid checksum and magic, the
 * one with the higher checkpoint sequence is current)
 *	      32    8 magic "TSTOREDB"
 *	      40    4 format version (TS_FORMAT_VERSION)
 *	      44    4 page size
 *	      48    8 txnid of the last commit
 *	      56    8 catalog root page (0: empty)
 *	      64    4 catalog depth
 *	      68    4 next tree id
 *	      72    8 freelist root page (0: empty)
 *	      80    4 freelist depth
 *	      84    4 reserved
 *	      88    8 page_count: pages in use, the file's high-water mark
 *	      96    8 free_count: pages on the freelist
 *	     104    8 catalog entries
 *	     112    8 freelist entries
 *	     120    8 checkpoint LSN: the log's end when this state was written
 *	     128    8 WAL start LSN: recovery replays from here (<= checkpoint LSN:
 *	              earlier while a prepared transaction's records are needed)
 *	     136    8 next xid: above every transaction id used in the log
 *	     144    8 checkpoint sequence: +1 at every meta write; the slot is
 *	              sequence % 2 and the higher sequence is the newer meta
 *	     152    8 stamps exact from: every page written by a commit at or
 *	              after this txnid carries that commit's txnid (0 in files
 *	              written before this field: taken as the next commit at
 *	              open).  Readers check that a child page is never newer
 *	              than such a parent (a stale page: a lost write)
 *
 * LEAF PAGE: after the header, a slot array of nkeys u16 cell offsets in key
 * order growing up from byte 32 to `lower`; cells packed down from the end of
 * the page to `upper`.  A cell:
 *	       0    2 key length k (1 .. TS_MAX_KEY)
 *	       2    2 value length v, or TS_VAL_OVERFLOW
 *	       4    k key
 *	     4+k    v value, or (overflow) u64 total length, u64 first page
 *
 * BRANCH PAGE: same slot layout; cell i points at the subtree of keys >= its
 * key and < the next cell's key.  Cell 0's key is empty and means -infinity.
 *	       0    8 child page
 *	       8    2 key length k (0 only in cell 0)
 *	      10    k key
 *
 * OVERFLOW PAGE: header, then TS_OVF_DATA bytes of the value.  A value's
 * pages form a chain through `next`.
 *
 * Page types and tree shapes are checked on every read (ts_page_verify), so
 * a page that passes its checksum but is not what the parent expects is also
 * reported as corruption.
 *-------------------------------------------------------------------------
 */
#ifndef TS_FORMAT_H
#define TS_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "treestore.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
			   "the on-disk format is little-endian; this host is not");

#define TS_FORMAT_VERSION	1
#define TS_MAGIC			"TSTOREDB"
#define TS_DATA_FILE		"treestore.db"

#define TS_PT_META		1
#define TS_PT_BRANCH	2
#define TS_PT_LEAF		3
#define TS_PT_OVERFLOW	4

#define TS_PH_SIZE		32
#define TS_OVF_DATA		(TS_PAGE_SIZE - TS_PH_SIZE)
#define TS_VAL_OVERFLOW 0xFFFF

/* A leaf cell above this size puts its value in overflow pages, so that
 * every page holds at least four cells. */
#define TS_MAX_CELL		((TS_PAGE_SIZE - TS_PH_SIZE) / 4 - 2)

/* the longest value a stored overflow chain can hold (a log record's payload
 * bound; TS_MAX_VALUE is a little less): reads check against this */
#define TS_MAX_STORED_VALUE	((size_t) 1 << 31)

#define TS_MAX_DEPTH	32		/* far beyond any real tree: 4 cells/page min */
#define TS_MAX_TREES	(1u << 20)	/* tree ids (never reused) */

/* header field offsets */
#define PH_CRC		0
#define PH_TYPE		4
#define PH_FLAGS	5
#define PH_NKEYS	6
#define PH_PGNO		8
#define PH_TXNID	16
#define PH_LOWER	24
#define PH_UPPER	26
#define PH_NEXT		24

/* meta field offsets */
#define MT_MAGIC		32
#define MT_VERSION		40
#define MT_PAGESIZE		44
#define MT_TXNID		48
#define MT_CAT_ROOT		56
#define MT_CAT_DEPTH	64
#define MT_NEXT_TREE	68
#define MT_FL_ROOT		72
#define MT_FL_DEPTH		80
#define MT_PAGE_COUNT	88
#define MT_FREE_COUNT	96
#define MT_CAT_ENTRIES	104
#define MT_FL_ENTRIES	112
#define MT_CKPT_LSN		120
#define MT_WAL_START	128
#define MT_NEXT_XID		136
#define MT_CKPT_SEQ		144
#define MT_STAMP_FROM	152

static inline uint16_t
rd16(const uint8_t *p)
{
	uint16_t	v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t
rd32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t
rd64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void
wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Big-endian, for keys that must sort numerically. */
static inline void
wr64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (uint8_t) v;
		v >>= 8;
	}
}

static inline uint64_t
rd64be(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The meta page, decoded. */
typedef struct ts_meta
{
	uint64_t	txnid;
	uint64_t	cat_root;
	uint32_t	cat_depth;
	uint32_t	next_tree;
	uint64_t	cat_entries;
	uint64_t	fl_root;
	uint32_t	fl_depth;
	uint64_t	fl_entries;
	uint64_t	page_count;
	uint64_t	free_count;
	uint64_t	ckpt_lsn;
	uint64_t	wal_start;
	uint64_t	next_xid;
	uint64_t	ckpt_seq;
	uint64_t	stamp_from;		/* page txnids exact from this commit on */
} ts_meta;

#endif							/* TS_FORMAT_H */
