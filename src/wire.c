/*-------------------------------------------------------------------------
 *
 * wire.c
 *	  protobuf-c glue (messages live in the current memory context, so a
 *	  request's memory goes with its context) and the row batch format:
 *	  per row u32 key length, key, u32 record length, record, little-endian.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "wire.h"

static void *
pb_alloc(void *data, size_t size)
{
	return palloc(size);
}

static void
pb_free(void *data, void *ptr)
{
	if (ptr)
		pfree(ptr);
}

ProtobufCAllocator ts_pb_allocator = {pb_alloc, pb_free, NULL};

static void
put_u32(StringInfo buf, uint32 v)
{
	uint8		b[4] = {(uint8) v, (uint8) (v >> 8), (uint8) (v >> 16), (uint8) (v >> 24)};

	appendBinaryStringInfo(buf, (const char *) b, 4);
}

static uint32
get_u32(const uint8 *p)
{
	return (uint32) p[0] | (uint32) p[1] << 8 | (uint32) p[2] << 16 | (uint32) p[3] << 24;
}

void
ts_batch_add(StringInfo buf, const void *key, size_t klen, const void *rec, size_t rlen)
{
	put_u32(buf, (uint32) klen);
	appendBinaryStringInfo(buf, key, (int) klen);
	put_u32(buf, (uint32) rlen);
	appendBinaryStringInfo(buf, rec, (int) rlen);
}

/* The next row at *pos; false at the end.  A malformed batch is an error. */
bool
ts_batch_next(const uint8 *data, size_t len, size_t *pos,
			  const uint8 **key, size_t *klen, const uint8 **rec, size_t *rlen)
{
	size_t		at = *pos;

	if (at >= len)
		return false;
	if (len - at < 4 || len - at - 4 < get_u32(data + at))
		elog(ERROR, "malformed row batch from the treestore worker");
	*klen = get_u32(data + at);
	*key = data + at + 4;
	at += 4 + *klen;
	if (len - at < 4 || len - at - 4 < get_u32(data + at))
		elog(ERROR, "malformed row batch from the treestore worker");
	*rlen = get_u32(data + at);
	*rec = data + at + 4;
	*pos = at + 4 + *rlen;
	return true;
}
