/*
 * fuzz_keys.c
 *	  libFuzzer target for the tuple key decoder (engine/keys.c).
 *
 *	  Decodes arbitrary input with ts_key_next_field until it returns non-zero,
 *	  re-encoding each decoded field as it goes.  Findings (abort()):
 *	    - a code other than 0, TS_NOTFOUND or TS_INVALID;
 *	    - a position that does not advance, or passes the end of the input;
 *	    - decoded fields whose re-encoding differs from the bytes consumed
 *	      (for an input that decodes fully: from the whole input), i.e. the
 *	      encoding is not canonical or does not round-trip;
 *	    - TS_NOTFOUND anywhere but at the end of the input;
 *	    - a second decode in lockstep, into a small exact-size scratch buffer
 *	      (capacity taken from the input's last byte), that does not give the
 *	      same fields, or does not fail with TS_INVALID exactly at the first
 *	      text longer than its capacity.
 *	  Memory errors are the sanitizers' job.
 *
 *	  Build and run (from the repository root):
 *	    clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine \
 *	        engine/keys.c engine/error.c test/fuzz/fuzz_keys.c -o /tmp/fuzz_keys
 *	    /tmp/fuzz_keys -max_total_time=20
 */
#include <stdlib.h>
#include <string.h>

#include "treestore.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An unescaped text is shorter than its encoding: size bytes suffice. */
	uint8_t    *scratch = malloc(size ? size : 1);
	size_t		small_cap = size ? data[size - 1] % 32 : 0;
	uint8_t    *small = small_cap ? malloc(small_cap) : NULL;
	int			small_done = 0;
	ts_keybuf	kb;
	ts_field	f,
				g;
	size_t		pos = 0,
				pos2 = 0,
				last;
	int			rc,
				rc2;

	if (!scratch || (small_cap && !small))
	{
		free(scratch);
		free(small);
		return 0;				/* out of memory: not a finding */
	}
	ts_key_init(&kb);
	for (;;)
	{
		last = pos;
		rc = ts_key_next_field(data, size, &pos, &f, scratch, size);
		if (!small_done)
		{
			rc2 = ts_key_next_field(data, size, &pos2, &g, small, small_cap);
			if (rc == 0 && f.type == TS_FIELD_TEXT && f.len > small_cap)
			{
				if (rc2 != TS_INVALID || pos2 != last)
					abort();
				small_done = 1;
			}
			else if (rc2 != rc || pos2 != pos ||
					 (rc == 0 && (g.type != f.type || g.i != f.i ||
								  g.len != f.len ||
								  (f.len && memcmp(g.data, f.data, f.len) != 0))))
				abort();
		}
		if (rc != 0)
			break;
		if (pos <= last || pos > size)
			abort();
		switch (f.type)
		{
			case TS_FIELD_NULL:
				ts_key_add_null(&kb);
				break;
			case TS_FIELD_TEXT:
				if (f.len > size)
					abort();
				ts_key_add_text(&kb, f.data, f.len);
				break;
			case TS_FIELD_INT64:
				ts_key_add_int64(&kb, f.i);
				break;
			case TS_FIELD_TIMESTAMP:
				ts_key_add_timestamp(&kb, f.i);
				break;
			default:
				abort();
		}

		/*
		 * The fields so far re-encode to exactly data[0..pos).  Past
		 * TS_MAX_KEY bytes the key buffer overflows: then what it holds must
		 * still be a prefix of the input, ending on a field boundary.
		 */
		if (!kb.overflow)
		{
			if (kb.len != pos || memcmp(kb.buf, data, pos) != 0)
				abort();
		}
		else if (pos <= TS_MAX_KEY || kb.len > last ||
				 memcmp(kb.buf, data, kb.len) != 0)
			abort();
	}

	if (pos != last)			/* neither the end nor an error moves pos */
		abort();
	if (rc == TS_NOTFOUND)
	{
		/* Decoded fully: the re-encoding is the input, byte for byte. */
		if (pos != size)
			abort();
		if (!kb.overflow && (kb.len != size || memcmp(kb.buf, data, size) != 0))
			abort();
	}
	else if (rc != TS_INVALID)
		abort();

	free(scratch);
	free(small);
	return 0;
}
