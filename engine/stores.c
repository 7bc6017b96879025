/*-------------------------------------------------------------------------
 *
 * stores.c
 *	  Schemas of the product's tables and the record format of their rows
 *	  (format described in stores.h).
 *
 *	  Invariants:
 *	  1. A table's schema only grows at the end: a record written with
 *	     fewer columns decodes with the missing ones NULL.
 *	  2. ts_rec_decode never reads past the record and accepts only what
 *	     ts_rec_encode can produce (tags 0/1, bool 0/1, lengths in range).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "stores.h"
#include "treestore.h"

#define T TS_COL_TEXT
#define I4 TS_COL_INT4
#define I8 TS_COL_INT8
#define F4 TS_COL_FLOAT4
#define F8 TS_COL_FLOAT8
#define B TS_COL_BOOL
#define D TS_COL_DATE
#define TZ TS_COL_TIMESTAMPTZ
#define J TS_COL_JSONB
#define TA TS_COL_TEXT_ARRAY

/* The contract's tables (CONTRACT.md section 2), key columns first. */
const ts_store ts_stores[] = {
	{"documents", 7, 1, 0, {
			{"policy_id", T}, {"title", T}, {"latest_version_id", T},
			{"version_count", I4}, {"created_at", TZ}, {"updated_at", TZ},
			{"metadata", J}}},
	{"versions", 12, 2, 0, {
			{"policy_id", T}, {"version_id", T}, {"effective_from", D},
			{"effective_to", D}, {"doc_name", T}, {"doc_description", T},
			{"pageindex_doc_id", T}, {"pdf_sha256", T}, {"source_url", T},
			{"node_count", I4}, {"created_at", TZ}, {"metadata", J}}},
	{"nodes", 15, 3, 0, {
			{"policy_id", T}, {"version_id", T}, {"node_id", T},
			{"parent_id", T}, {"ordinal", I4}, {"depth", I4},
			{"section_path", T}, {"title", T}, {"page_start", I4},
			{"page_end", I4}, {"line_num", I4}, {"summary", T}, {"text", T},
			{"content_hash", T}, {"metadata", J}}},
	{"cross_references", 8, 5, 0, {
			{"source_policy_id", T}, {"source_node_id", T},
			{"target_policy_id", T}, {"target_node_id", T},
			{"reference_type", T}, {"context", T}, {"confidence", F4},
			{"created_at", TZ}}},
	{"tool_results", 13, 1, 1, {
			{"result_id", I8}, {"case_id", T}, {"criterion_id", T},
			{"tool_name", T}, {"policy_id", T}, {"version_id", T},
			{"node_id", T}, {"input", J}, {"output", J}, {"success", B},
			{"error_message", T}, {"latency_ms", F8}, {"created_at", TZ}}},
	{"trajectories", 8, 3, 0, {
			{"case_id", T}, {"trajectory_id", T}, {"step_number", I4},
			{"tool_name", T}, {"action", T}, {"thought", T},
			{"observation", T}, {"created_at", TZ}}},
	{"prompts", 9, 2, 0, {
			{"prompt_id", T}, {"version", I4}, {"name", T}, {"template", T},
			{"variables", TA}, {"tool_schemas", J}, {"created_at", TZ},
			{"deployed_at", TZ}, {"retired_at", TZ}}},
	{"prompt_usage", 7, 1, 1, {
			{"usage_id", I8}, {"prompt_id", T}, {"version", I4},
			{"case_id", T}, {"filled_variables", J}, {"response", T},
			{"used_at", TZ}}},
};
const int	ts_nstores = sizeof(ts_stores) / sizeof(ts_stores[0]);

const ts_store *
ts_store_find(const char *name)
{
	for (int i = 0; i < ts_nstores; i++)
		if (strcmp(ts_stores[i].name, name) == 0)
			return &ts_stores[i];
	return NULL;
}

int
ts_store_colno(const ts_store *s, const char *colname)
{
	for (int i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, colname) == 0)
			return i;
	return -1;
}

/* ---------- buffers ---------- */

int
ts_buf_reserve(ts_buf *b, size_t more)
{
	size_t		ncap;
	uint8_t    *nd;

	if (b->len + more <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + more)
		ncap *= 2;
	if ((nd = realloc(b->data, ncap)) == NULL)
		return TS_NOMEM;
	b->data = nd;
	b->cap = ncap;
	return 0;
}

int
ts_buf_append(ts_buf *b, const void *p, size_t n)
{
	if (ts_buf_reserve(b, n) != 0)
		return TS_NOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void
ts_buf_free(ts_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
ts_varint_put(ts_buf *b, uint64_t v)
{
	uint8_t		tmp[10];
	int			n = 0;

	do
	{
		tmp[n] = (uint8_t) (v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return ts_buf_append(b, tmp, (size_t) n);
}

int
ts_varint_get(const uint8_t *p, size_t len, size_t *pos, uint32_t *out)
{
	uint64_t	v = 0;

	for (int shift = 0; shift < 35; shift += 7)
	{
		if (*pos >= len)
			return TS_CORRUPT;
		uint8_t		b = p[(*pos)++];

		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			/* canonical only: no trailing zero groups, 32 bits at most */
			if ((b == 0 && shift > 0) || v > UINT32_MAX)
				return TS_CORRUPT;
			*out = (uint32_t) v;
			return 0;
		}
	}
	return TS_CORRUPT;
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

/* ---------- keys ---------- */

int
ts_store_key(const ts_store *s, const ts_colval *vals, int nvals,
			 uint8_t *out, size_t *outlen)
{
	ts_keybuf	kb;

	ts_key_init(&kb);
	for (int i = 0; i < nvals && i < s->nkeys; i++)
	{
		if (vals[i].isnull)
			return TS_INVALID;
		switch (s->cols[i].type)
		{
			case TS_COL_TEXT:
				ts_key_add_text(&kb, vals[i].data, vals[i].len);
				break;
			case TS_COL_INT4:
			case TS_COL_INT8:
				ts_key_add_int64(&kb, vals[i].i);
				break;
			default:
				return TS_INVALID;
		}
	}
	if (kb.overflow)
		return TS_KEY_TOO_BIG;
	memcpy(out, kb.buf, kb.len);
	*outlen = kb.len;
	return 0;
}

int
ts_store_key_decode(const ts_store *s, const uint8_t *key, size_t klen,
					ts_colval *vals, uint8_t *scratch, size_t scratch_cap)
{
	size_t		pos = 0,
				used = 0;

	for (int i = 0; i < s->nkeys; i++)
	{
		ts_field	f;
		int			rc = ts_key_next_field(key, klen, &pos, &f, scratch + used, scratch_cap - used);

		if (rc != 0)
			return TS_CORRUPT;	/* short or malformed (scratch of TS_MAX_KEY always fits) */
		memset(&vals[i], 0, sizeof(ts_colval));
		if (f.type == TS_FIELD_TEXT && s->cols[i].type == TS_COL_TEXT)
		{
			vals[i].data = f.data;
			vals[i].len = f.len;
			used += f.len;
		}
		else if (f.type == TS_FIELD_INT64 &&
				 (s->cols[i].type == TS_COL_INT4 || s->cols[i].type == TS_COL_INT8))
			vals[i].i = f.i;
		else
			return TS_CORRUPT;
	}
	return pos == klen ? 0 : TS_CORRUPT;
}

/* ---------- records ---------- */

static int
fixed_size(ts_coltype t)
{
	switch (t)
	{
		case TS_COL_INT4:
		case TS_COL_DATE:
		case TS_COL_FLOAT4:
			return 4;
		case TS_COL_INT8:
		case TS_COL_TIMESTAMPTZ:
		case TS_COL_FLOAT8:
			return 8;
		case TS_COL_BOOL:
			return 1;
		default:
			return 0;
	}
}

int
ts_rec_encode(const ts_store *s, const ts_colval *row, ts_buf *out)
{
	uint8_t		hdr[2] = {TS_REC_VERSION, (uint8_t) (s->ncols - s->nkeys)};

	out->len = 0;
	if (ts_buf_append(out, hdr, 2) != 0)
		return TS_NOMEM;
	for (int i = s->nkeys; i < s->ncols; i++)
	{
		const ts_colval *v = &row[i];
		ts_coltype	t = s->cols[i].type;
		uint8_t		tmp[9];
		int			n = fixed_size(t);

		if (v->isnull)
		{
			tmp[0] = 0;
			if (ts_buf_append(out, tmp, 1) != 0)
				return TS_NOMEM;
			continue;
		}
		tmp[0] = 1;
		if (n > 0)
		{
			uint64_t	bits;

			if (t == TS_COL_FLOAT4)
			{
				float		f = (float) v->f;
				uint32_t	u;

				memcpy(&u, &f, 4);
				bits = u;
			}
			else if (t == TS_COL_FLOAT8)
				memcpy(&bits, &v->f, 8);
			else if (t == TS_COL_BOOL)
				bits = v->i ? 1 : 0;
			else
				bits = (uint64_t) v->i;
			put_le(tmp + 1, bits, n);
			if (ts_buf_append(out, tmp, (size_t) n + 1) != 0)
				return TS_NOMEM;
			continue;
		}
		if (ts_buf_append(out, tmp, 1) != 0)
			return TS_NOMEM;
		if (t == TS_COL_TEXT_ARRAY)
		{
			if (ts_varint_put(out, v->nelems) != 0 || ts_buf_append(out, v->data, v->len) != 0)
				return TS_NOMEM;
		}
		else if (ts_varint_put(out, v->len) != 0 || ts_buf_append(out, v->data, v->len) != 0)
			return TS_NOMEM;
	}
	return 0;
}

/* Skip n array elements starting at *pos; TS_CORRUPT if they do not fit. */
static int
skip_elems(const uint8_t *p, size_t len, size_t *pos, uint32_t n)
{
	for (uint32_t e = 0; e < n; e++)
	{
		uint32_t	l;

		if (ts_varint_get(p, len, pos, &l) != 0)
			return TS_CORRUPT;
		if (l > 0 && len - *pos < l - 1)
			return TS_CORRUPT;
		if (l > 0)
			*pos += l - 1;
	}
	return 0;
}

int
ts_rec_decode(const ts_store *s, const uint8_t *rec, size_t len, ts_colval *row)
{
	size_t		pos = 2;
	int			n;

	if (len < 2 || rec[0] != TS_REC_VERSION)
		return TS_CORRUPT;
	n = rec[1];
	if (n > s->ncols - s->nkeys)
		return TS_CORRUPT;
	for (int i = s->nkeys; i < s->ncols; i++)
	{
		ts_colval  *v = &row[i];
		ts_coltype	t = s->cols[i].type;
		int			fs = fixed_size(t);

		memset(v, 0, sizeof(*v));
		v->isnull = 1;
		if (i - s->nkeys >= n)
			continue;
		if (pos >= len || rec[pos] > 1)
			return TS_CORRUPT;
		if (rec[pos++] == 0)
			continue;
		v->isnull = 0;
		if (fs > 0)
		{
			uint64_t	bits;

			if (len - pos < (size_t) fs)
				return TS_CORRUPT;
			bits = get_le(rec + pos, fs);
			pos += (size_t) fs;
			switch (t)
			{
				case TS_COL_FLOAT4:
					{
						uint32_t	u = (uint32_t) bits;
						float		f;

						memcpy(&f, &u, 4);
						v->f = f;
						break;
					}
				case TS_COL_FLOAT8:
					memcpy(&v->f, &bits, 8);
					break;
				case TS_COL_BOOL:
					if (bits > 1)
						return TS_CORRUPT;
					v->i = (int64_t) bits;
					break;
				case TS_COL_INT4:
				case TS_COL_DATE:
					v->i = (int32_t) (uint32_t) bits;
					break;
				default:
					v->i = (int64_t) bits;
					break;
			}
			continue;
		}
		if (t == TS_COL_TEXT_ARRAY)
		{
			size_t		start;

			if (ts_varint_get(rec, len, &pos, &v->nelems) != 0)
				return TS_CORRUPT;
			start = pos;
			if (skip_elems(rec, len, &pos, v->nelems) != 0)
				return TS_CORRUPT;
			v->data = rec + start;
			v->len = pos - start;
		}
		else
		{
			uint32_t	l;

			if (ts_varint_get(rec, len, &pos, &l) != 0 || len - pos < l)
				return TS_CORRUPT;
			v->data = rec + pos;
			v->len = l;
			pos += l;
		}
	}
	return pos == len ? 0 : TS_CORRUPT;
}

int
ts_rec_array_next(const ts_colval *v, size_t *pos, int *isnull,
				  const uint8_t **data, size_t *len)
{
	uint32_t	l;

	if (*pos >= v->len)
		return TS_NOTFOUND;
	if (ts_varint_get(v->data, v->len, pos, &l) != 0)
		return TS_CORRUPT;
	*isnull = (l == 0);
	*data = v->data + *pos;
	*len = l ? l - 1 : 0;
	if (v->len - *pos < *len)
		return TS_CORRUPT;
	*pos += *len;
	return 0;
}

int
ts_rec_array_add(ts_buf *b, const void *data, size_t len, int isnull)
{
	if (ts_varint_put(b, isnull ? 0 : (uint64_t) len + 1) != 0)
		return TS_NOMEM;
	return isnull ? 0 : ts_buf_append(b, data, len);
}
