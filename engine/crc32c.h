/*-------------------------------------------------------------------------
 *
 * crc32c.h
 *	  CRC-32C (Castagnoli), the checksum of every page and meta page.
 *
 *	  ts_crc32c(crc, data, len) continues a checksum: start with 0, and feed
 *	  the previous result to checksum data in pieces, so that
 *	  ts_crc32c(ts_crc32c(0, a, n), b, m) == ts_crc32c(0, a || b, n + m).
 *	  The pre- and post-inversion are built in (ts_crc32c(0, "123456789", 9)
 *	  == 0xE3069283).  The result does not depend on the CPU: the SSE4.2 path
 *	  and the portable table path compute the same function.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_CRC32C_H
#define TS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The fastest implementation this CPU supports.  Thread-safe. */
uint32_t	ts_crc32c(uint32_t crc, const void *data, size_t len);

/* Internal, for tests and benchmarks: the portable (slicing-by-8) path. */
uint32_t	ts_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* Internal, for tests and benchmarks: 1 if ts_crc32c uses the CPU's crc32. */
int			ts_crc32c_hw_available(void);

#endif							/* TS_CRC32C_H */
