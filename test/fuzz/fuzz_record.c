/*
 * fuzz_record.c
 *	  libFuzzer target for the row record decoder and the table key decoder
 *	  (engine/stores.c), which read what the worker stores and what a
 *	  backend receives.
 *
 *	  The first input byte picks the table; the rest is decoded as a record
 *	  and as a key.  Findings (abort()):
 *	    - a code other than 0 or TS_CORRUPT;
 *	    - a decoded record that does not re-encode to the same bytes when it
 *	      was written with every column (the format is canonical; a float
 *	      NaN may come back quieted, so records holding one are skipped);
 *	    - a text array whose elements do not walk to its exact end;
 *	    - a decoded key whose re-encoding differs from the input.
 *	  Reads past the input are the sanitizers' job.
 */
#include <stdlib.h>
#include <string.h>

#include "stores.h"
#include "treestore.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ts_store *s;
	ts_colval	row[TS_STORE_MAX_COLS];
	uint8_t		scratch[TS_MAX_KEY];
	int			rc;

	if (size < 1)
		return 0;
	s = &ts_stores[data[0] % ts_nstores];
	data++;
	size--;

	rc = ts_rec_decode(s, data, size, row);
	if (rc != 0 && rc != TS_CORRUPT)
		abort();
	if (rc == 0)
	{
		for (int c = s->nkeys; c < s->ncols; c++)
			if (!row[c].isnull && s->cols[c].type == TS_COL_TEXT_ARRAY)
			{
				size_t		pos = 0;
				uint32_t	n = 0;
				int			isnull,
							r;
				const uint8_t *d;
				size_t		len;

				while ((r = ts_rec_array_next(&row[c], &pos, &isnull, &d, &len)) == 0)
					n++;
				if (r != TS_NOTFOUND || n != row[c].nelems || pos != row[c].len)
					abort();
			}
		int			has_nan = 0;

		/* a float NaN may come back quieted: canonical up to NaN payloads */
		for (int c = s->nkeys; c < s->ncols; c++)
			if (!row[c].isnull && row[c].f != row[c].f)
				has_nan = 1;
		if (size >= 2 && data[1] == s->ncols - s->nkeys && !has_nan)
		{
			ts_buf		b = {0};

			if (ts_rec_encode(s, row, &b) != 0)
				abort();
			if (b.len != size || memcmp(b.data, data, size) != 0)
				abort();
			ts_buf_free(&b);
		}
	}

	if (size <= TS_MAX_KEY)
	{
		rc = ts_store_key_decode(s, data, size, row, scratch, sizeof(scratch));
		if (rc != 0 && rc != TS_CORRUPT)
			abort();
		if (rc == 0)
		{
			uint8_t		again[TS_MAX_KEY];
			size_t		len;

			if (ts_store_key(s, row, s->nkeys, again, &len) != 0 ||
				len != size || memcmp(again, data, size) != 0)
				abort();
		}
	}
	return 0;
}
