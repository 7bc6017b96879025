/*-------------------------------------------------------------------------
 *
 * wire.h
 *	  The IPC wire format: protobuf-c messages (treestore.proto) allocated
 *	  in the current memory context, and row batches.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_WIRE_H
#define TS_WIRE_H

#include "lib/stringinfo.h"

#include "treestore.pb-c.h"

/*
 * Queue sizes of a session's channel (one DSM segment: request queue, then
 * response queue).  A session starts small -- most only call functions
 * with short answers, and /dev/shm may be small (Docker: 64 MB) -- and
 * moves to the large size once an answer fills half its response queue
 * (scans, big documents).  A message larger than a queue still goes
 * through it, in pieces.
 */
#define TS_REQUEST_QUEUE_SMALL (16 * 1024)
#define TS_RESPONSE_QUEUE_SMALL (64 * 1024)
#define TS_REQUEST_QUEUE_LARGE (64 * 1024)
#define TS_RESPONSE_QUEUE_LARGE (1024 * 1024)

/*
 * A streamed query's rows go out in parts of about this many bytes, so the
 * backend turns one part into tuples while the worker reads the next.
 */
#define TS_QUERY_PART_BYTES (16 * 1024)

/* Rows a scan batch holds at most (count and bytes). */
#define TS_BATCH_ROWS 1000
#define TS_BATCH_BYTES (64 * 1024)

extern ProtobufCAllocator ts_pb_allocator;

extern void ts_batch_add(StringInfo buf, const void *key, size_t klen,
						 const void *rec, size_t rlen);
extern bool ts_batch_next(const uint8 *data, size_t len, size_t *pos,
						  const uint8 **key, size_t *klen,
						  const uint8 **rec, size_t *rlen);

#endif							/* TS_WIRE_H */
