/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  Order-preserving encoding of typed tuples as byte-string keys.
 *
 * ENCODING
 *	  A key is the concatenation of its fields' encodings; each field starts
 *	  with a tag byte (the ts_field_type value):
 *
 *	    0x01                                NULL
 *	    0x02 <escaped bytes> 0x00 0x01      text/bytes; 0x00 -> 0x00 0xFF
 *	    0x03 <8 bytes big-endian, sign bit flipped>    int64
 *	    0x04 <8 bytes, as int64>            timestamp (int64 microseconds)
 *
 *	  The empty tuple encodes as the empty string.
 *
 * INVARIANTS
 *	  1. Byte order equals tuple order.  Comparing two encodings bytewise
 *	     (shorter first on a common prefix) gives the same result as comparing
 *	     the tuples: fields in turn, NULL before every value, different types
 *	     by tag, text bytewise then shorter first, integers numerically, and a
 *	     tuple before any longer tuple it prefixes.  This holds because every
 *	     field encoding is self-delimiting and no field's encoding is a proper
 *	     prefix of another field's encoding: the first differing byte of two
 *	     keys therefore lies inside the first differing field, where the tag
 *	     and then the payload order the field correctly.  A missing field
 *	     (end of key) sorts before any tag, so a prefix tuple sorts first.
 *
 *	  2. Every byte string round-trips, 0x00, 0xFE and 0xFF included, and the
 *	     encoding is canonical: ts_key_next_field accepts exactly the strings
 *	     the ts_key_add_* functions produce, so decoding a key and encoding the
 *	     fields again gives back the same bytes.
 *
 *	  Why 0x00 0xFF and 0x00 0x01.  Inside a text field a raw 0x00 byte only
 *	  ever starts a two-byte sequence, so the end of the field can be found
 *	  without a length.  An escaped 0x00 (00 FF) sorts below every other
 *	  content byte (01..FF) because its first byte is 0x00.  The terminator
 *	  (00 01) must sort below every content byte, including an escaped 0x00,
 *	  so that "a" < "a\0" < "a\x01": its first byte 0x00 puts it below 01..FF
 *	  and its second byte must be below the escape's second byte.  Any second
 *	  byte below 0xFF would do; taking 0xFF for the escape leaves the most
 *	  room, and taking 0x01 (not 0x00) for the terminator means 00 00 never
 *	  occurs in a valid key, so it is rejected as malformed (and stays free as
 *	  a marker sorting below every text, should one ever be needed).
 *
 *	  Integers: flipping the sign bit of the two's complement value maps
 *	  INT64_MIN..INT64_MAX onto 0..2^64-1 monotonically; big-endian byte order
 *	  makes bytewise order numeric order.
 *
 * OVERFLOW
 *	  A key holds at most TS_MAX_KEY bytes.  An add that does not fit sets
 *	  kb->overflow and appends nothing, and every later add is ignored, so the
 *	  buffer holds exactly the fields before the first that did not fit.
 *	  Callers check overflow and report TS_KEY_TOO_BIG.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "error.h"

#define SIGN_BIT	((uint64_t) 1 << 63)

void
ts_key_init(ts_keybuf *kb)
{
	kb->len = 0;
	kb->overflow = 0;
}

/* Room for n more bytes?  If not, mark the buffer overflowed. */
static int
key_reserve(ts_keybuf *kb, size_t n)
{
	if (kb->overflow || n > TS_MAX_KEY - kb->len)
	{
		kb->overflow = 1;
		return 0;
	}
	return 1;
}

void
ts_key_add_null(ts_keybuf *kb)
{
	if (key_reserve(kb, 1))
		kb->buf[kb->len++] = TS_FIELD_NULL;
}

void
ts_key_add_text(ts_keybuf *kb, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t		need;
	uint8_t    *out;

	/* Check the unescaped size first: len may be huge, never scan it. */
	if (kb->overflow || len > TS_MAX_KEY - 3)
	{
		kb->overflow = 1;
		return;
	}
	need = len + 3;
	for (size_t i = 0; i < len; i++)
		need += (p[i] == 0x00);
	if (!key_reserve(kb, need))
		return;

	out = kb->buf + kb->len;
	*out++ = TS_FIELD_TEXT;
	for (size_t i = 0; i < len; i++)
	{
		*out++ = p[i];
		if (p[i] == 0x00)
			*out++ = 0xFF;
	}
	*out++ = 0x00;
	*out++ = 0x01;
	kb->len += need;
}

static void
key_add_int(ts_keybuf *kb, uint8_t tag, int64_t v)
{
	uint64_t	u = (uint64_t) v ^ SIGN_BIT;

	if (!key_reserve(kb, 9))
		return;
	kb->buf[kb->len++] = tag;
	for (int shift = 56; shift >= 0; shift -= 8)
		kb->buf[kb->len++] = (uint8_t) (u >> shift);
}

void
ts_key_add_int64(ts_keybuf *kb, int64_t v)
{
	key_add_int(kb, TS_FIELD_INT64, v);
}

void
ts_key_add_timestamp(ts_keybuf *kb, int64_t usec)
{
	key_add_int(kb, TS_FIELD_TIMESTAMP, usec);
}

/* Undo the sign-bit flip without an implementation-defined conversion. */
static int64_t
decode_int(const uint8_t *p)
{
	uint64_t	u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	u ^= SIGN_BIT;
	if (u <= (uint64_t) INT64_MAX)
		return (int64_t) u;
	return -(int64_t) (~u) - 1;
}

int
ts_key_next_field(const void *key, size_t len, size_t *pos,
				  ts_field *f, void *scratch, size_t scratch_cap)
{
	const uint8_t *k = key;
	uint8_t    *dst = scratch;
	size_t		p,
				n = 0;

	if (pos == NULL || f == NULL || (key == NULL && len > 0))
		return ts_error(TS_INVALID, "ts_key_next_field: NULL argument");
	p = *pos;
	if (p > len)
		return ts_error(TS_INVALID, "key position %zu beyond key length %zu",
						p, len);
	if (p == len)
		return TS_NOTFOUND;		/* the normal end of the key: no message */

	switch (k[p])
	{
		case TS_FIELD_NULL:
			f->type = TS_FIELD_NULL;
			f->data = NULL;
			f->len = 0;
			f->i = 0;
			*pos = p + 1;
			return TS_OK;

		case TS_FIELD_INT64:
		case TS_FIELD_TIMESTAMP:
			if (len - p - 1 < 8)
				return ts_error(TS_INVALID,
								"key truncated: integer field at byte offset %zu needs 8 bytes, %zu left",
								p, len - p - 1);
			f->type = (ts_field_type) k[p];
			f->data = NULL;
			f->len = 0;
			f->i = decode_int(k + p + 1);
			*pos = p + 9;
			return TS_OK;

		case TS_FIELD_TEXT:
			for (size_t i = p + 1;; i++)
			{
				uint8_t		b;

				if (i >= len)
					return ts_error(TS_INVALID,
									"key truncated: text field at byte offset %zu is unterminated",
									p);
				b = k[i];
				if (b == 0x00)
				{
					if (i + 1 >= len)
						return ts_error(TS_INVALID,
										"key truncated: text field at byte offset %zu ends in 0x00 at byte offset %zu",
										p, i);
					if (k[i + 1] == 0x01)
					{
						f->type = TS_FIELD_TEXT;
						f->data = scratch;
						f->len = n;
						f->i = 0;
						*pos = i + 2;
						return TS_OK;
					}
					if (k[i + 1] != 0xFF)
						return ts_error(TS_INVALID,
										"malformed key: byte 0x%02x after 0x00 at byte offset %zu (expected 0x01 or 0xFF)",
										k[i + 1], i + 1);
					i++;		/* escaped 0x00 */
				}
				if (n >= scratch_cap)
					return ts_error(TS_INVALID,
									"text field at byte offset %zu does not fit in a %zu-byte scratch buffer",
									p, scratch_cap);
				dst[n++] = b;
			}

		default:
			return ts_error(TS_INVALID,
							"malformed key: unknown field tag 0x%02x at byte offset %zu",
							k[p], p);
	}
}

size_t
ts_key_prefix_end(const void *prefix, size_t len, void *out)
{
	const uint8_t *p = prefix;
	uint8_t    *o = out;

	while (len > 0 && p[len - 1] == 0xFF)
		len--;
	if (len == 0)
		return 0;
	memmove(o, p, len);			/* out may be prefix itself */
	o[len - 1]++;
	return len;
}
