/*
 * test_stores.c
 *	  The product's table schemas and row record format (engine/stores.c):
 *	  every column type round-trips, NULLs, text arrays with NULL elements,
 *	  older records with fewer columns, keys in key order, and malformed
 *	  records are TS_CORRUPT (never a read past the end).
 */
#include "harness.h"
#include "stores.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

TEST(test_schemas)
{
	static const char *names[] = {"documents", "versions", "nodes", "cross_references",
		"tool_results", "trajectories", "prompts", "prompt_usage"};

	CHECK(ts_nstores == 8);
	for (int i = 0; i < 8; i++)
	{
		const ts_store *s = ts_store_find(names[i]);

		CHECK(s != NULL);
		CHECK(s->nkeys >= 1 && s->nkeys <= s->ncols && s->ncols <= TS_STORE_MAX_COLS);
		for (int c = 0; c < s->nkeys; c++)
			CHECK(s->cols[c].type == TS_COL_TEXT || s->cols[c].type == TS_COL_INT4 ||
				  s->cols[c].type == TS_COL_INT8);
		CHECK(ts_store_colno(s, s->cols[s->ncols - 1].name) == s->ncols - 1);
	}
	CHECK(ts_store_find("nope") == NULL);
	CHECK(ts_store_colno(ts_store_find("nodes"), "parent_id") == 3);
	CHECK(ts_store_find("tool_results")->assigned_id == 1);
	CHECK(ts_store_find("nodes")->assigned_id == 0);
}

/* Fill a random value of column type t; text data in buf. */
static void
random_value(ts_coltype t, ts_colval *v, uint8_t *buf, ts_buf *arr)
{
	memset(v, 0, sizeof(*v));
	if (rnd() % 5 == 0)
	{
		v->isnull = 1;
		return;
	}
	switch (t)
	{
		case TS_COL_TEXT:
		case TS_COL_JSONB:
			v->len = rnd() % 300;
			for (size_t i = 0; i < v->len; i++)
				buf[i] = (uint8_t) rnd();
			v->data = buf;
			break;
		case TS_COL_INT4:
		case TS_COL_DATE:
			v->i = (int32_t) rnd();
			break;
		case TS_COL_INT8:
		case TS_COL_TIMESTAMPTZ:
			v->i = (int64_t) rnd();
			break;
		case TS_COL_BOOL:
			v->i = rnd() & 1;
			break;
		case TS_COL_FLOAT4:
			v->f = (float) ((double) (int32_t) rnd() / 7.0);
			break;
		case TS_COL_FLOAT8:
			v->f = (double) (int64_t) rnd() / 3.0;
			break;
		case TS_COL_TEXT_ARRAY:
			arr->len = 0;
			v->nelems = (uint32_t) (rnd() % 6);
			for (uint32_t e = 0; e < v->nelems; e++)
			{
				size_t		l = rnd() % 20;

				for (size_t i = 0; i < l; i++)
					buf[i] = (uint8_t) ('a' + rnd() % 26);
				CHECK_OK(ts_rec_array_add(arr, buf, l, rnd() % 4 == 0));
			}
			v->data = arr->data;
			v->len = arr->len;
			break;
	}
}

static int
same_value(ts_coltype t, const ts_colval *a, const ts_colval *b)
{
	if (a->isnull || b->isnull)
		return a->isnull == b->isnull;
	switch (t)
	{
		case TS_COL_TEXT:
		case TS_COL_JSONB:
			return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
		case TS_COL_TEXT_ARRAY:
			return a->nelems == b->nelems && a->len == b->len &&
				(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
		case TS_COL_FLOAT4:
			return (float) a->f == (float) b->f;
		case TS_COL_FLOAT8:
			return a->f == b->f;
		default:
			return a->i == b->i;
	}
}

TEST(test_record_roundtrip_random)
{
	static uint8_t bufs[TS_STORE_MAX_COLS][400];
	ts_buf		arrs[TS_STORE_MAX_COLS];
	ts_buf		rec = {0};

	memset(arrs, 0, sizeof(arrs));
	for (int round = 0; round < 20000; round++)
	{
		const ts_store *s = &ts_stores[round % ts_nstores];
		ts_colval	row[TS_STORE_MAX_COLS],
					back[TS_STORE_MAX_COLS];

		for (int c = s->nkeys; c < s->ncols; c++)
			random_value(s->cols[c].type, &row[c], bufs[c], &arrs[c]);
		CHECK_OK(ts_rec_encode(s, row, &rec));
		CHECK_OK(ts_rec_decode(s, rec.data, rec.len, back));
		for (int c = s->nkeys; c < s->ncols; c++)
			CHECK_MSG(same_value(s->cols[c].type, &row[c], &back[c]),
					  "table %s column %s differs", s->name, s->cols[c].name);
	}
	for (int c = 0; c < TS_STORE_MAX_COLS; c++)
		ts_buf_free(&arrs[c]);
	ts_buf_free(&rec);
}

TEST(test_text_array_elements)
{
	const ts_store *s = ts_store_find("prompts");
	ts_colval	row[TS_STORE_MAX_COLS],
				back[TS_STORE_MAX_COLS];
	ts_buf		arr = {0},
				rec = {0};
	int			vcol = ts_store_colno(s, "variables");
	size_t		pos = 0;
	int			isnull;
	const uint8_t *d;
	size_t		len;

	memset(row, 0, sizeof(row));
	for (int c = 0; c < s->ncols; c++)
		row[c].isnull = 1;
	CHECK_OK(ts_rec_array_add(&arr, "a", 1, 0));
	CHECK_OK(ts_rec_array_add(&arr, NULL, 0, 1));
	CHECK_OK(ts_rec_array_add(&arr, "", 0, 0));
	row[vcol].isnull = 0;
	row[vcol].data = arr.data;
	row[vcol].len = arr.len;
	row[vcol].nelems = 3;
	CHECK_OK(ts_rec_encode(s, row, &rec));
	CHECK_OK(ts_rec_decode(s, rec.data, rec.len, back));
	CHECK(back[vcol].nelems == 3);
	CHECK_OK(ts_rec_array_next(&back[vcol], &pos, &isnull, &d, &len));
	CHECK(!isnull && len == 1 && d[0] == 'a');
	CHECK_OK(ts_rec_array_next(&back[vcol], &pos, &isnull, &d, &len));
	CHECK(isnull);
	CHECK_OK(ts_rec_array_next(&back[vcol], &pos, &isnull, &d, &len));
	CHECK(!isnull && len == 0);
	CHECK_ERR(ts_rec_array_next(&back[vcol], &pos, &isnull, &d, &len), TS_NOTFOUND);
	ts_buf_free(&arr);
	ts_buf_free(&rec);
}

/* A record written before columns were added reads them as NULL. */
TEST(test_fewer_columns)
{
	const ts_store *s = ts_store_find("documents");
	uint8_t		rec[] = {TS_REC_VERSION, 1, 1, 2, 'h', 'i'};	/* title only */
	ts_colval	back[TS_STORE_MAX_COLS];

	CHECK_OK(ts_rec_decode(s, rec, sizeof(rec), back));
	CHECK(!back[1].isnull && back[1].len == 2 && memcmp(back[1].data, "hi", 2) == 0);
	for (int c = 2; c < s->ncols; c++)
		CHECK(back[c].isnull);
}

TEST(test_malformed_records)
{
	const ts_store *s = ts_store_find("nodes");
	ts_colval	row[TS_STORE_MAX_COLS],
				back[TS_STORE_MAX_COLS];
	static uint8_t buf[TS_STORE_MAX_COLS][400];
	ts_buf		arrs[TS_STORE_MAX_COLS];
	ts_buf		rec = {0};
	uint8_t		bad_version[] = {9, 0};
	uint8_t		too_many[] = {TS_REC_VERSION, 200};
	uint8_t		bad_tag[] = {TS_REC_VERSION, 1, 7};

	memset(arrs, 0, sizeof(arrs));
	CHECK_ERR(ts_rec_decode(s, bad_version, sizeof(bad_version), back), TS_CORRUPT);
	CHECK_ERR(ts_rec_decode(s, too_many, sizeof(too_many), back), TS_CORRUPT);
	CHECK_ERR(ts_rec_decode(s, bad_tag, sizeof(bad_tag), back), TS_CORRUPT);
	CHECK_ERR(ts_rec_decode(s, bad_tag, 1, back), TS_CORRUPT);
	for (int round = 0; round < 2000; round++)
	{
		for (int c = s->nkeys; c < s->ncols; c++)
			random_value(s->cols[c].type, &row[c], buf[c], &arrs[c]);
		CHECK_OK(ts_rec_encode(s, row, &rec));
		/* every strict prefix is malformed; a decoder must say so */
		for (size_t cut = 0; cut < rec.len; cut += 1 + rec.len / 16)
		{
			uint8_t    *copy = malloc(cut ? cut : 1);

			memcpy(copy, rec.data, cut);
			CHECK_ERR(ts_rec_decode(s, copy, cut, back), TS_CORRUPT);
			free(copy);
		}
		/* random corruption: either an error or a decode within bounds */
		{
			uint8_t    *copy = malloc(rec.len);
			int			rc;

			memcpy(copy, rec.data, rec.len);
			copy[rnd() % rec.len] ^= (uint8_t) (1 + rnd() % 255);
			rc = ts_rec_decode(s, copy, rec.len, back);
			CHECK(rc == 0 || rc == TS_CORRUPT);
			free(copy);
		}
	}
	for (int c = 0; c < TS_STORE_MAX_COLS; c++)
		ts_buf_free(&arrs[c]);
	ts_buf_free(&rec);
}

TEST(test_keys_order_and_decode)
{
	const ts_store *s = ts_store_find("prompts");
	ts_colval	k1[2],
				k2[2],
				back[2];
	uint8_t		e1[TS_MAX_KEY],
				e2[TS_MAX_KEY],
				scratch[TS_MAX_KEY];
	size_t		l1,
				l2;

	memset(k1, 0, sizeof(k1));
	memset(k2, 0, sizeof(k2));
	k1[0].data = (const uint8_t *) "p";
	k1[0].len = 1;
	k1[1].i = 2;
	k2[0].data = (const uint8_t *) "p";
	k2[0].len = 1;
	k2[1].i = 10;
	CHECK_OK(ts_store_key(s, k1, 2, e1, &l1));
	CHECK_OK(ts_store_key(s, k2, 2, e2, &l2));
	CHECK(memcmp(e1, e2, l1 < l2 ? l1 : l2) < 0);	/* 2 before 10 */
	CHECK_OK(ts_store_key_decode(s, e2, l2, back, scratch, sizeof(scratch)));
	CHECK(back[0].len == 1 && back[0].data[0] == 'p' && back[1].i == 10);
	k1[1].isnull = 1;
	CHECK_ERR(ts_store_key(s, k1, 2, e1, &l1), TS_INVALID);
	CHECK_ERR(ts_store_key_decode(s, e2, l2 - 1, back, scratch, sizeof(scratch)), TS_CORRUPT);
	/* a key of a different table's shape */
	CHECK(ts_store_key_decode(ts_store_find("documents"), e2, l2, back, scratch, sizeof(scratch)) != 0);
}

TEST_MAIN(test_schemas, test_record_roundtrip_random, test_text_array_elements,
		  test_fewer_columns, test_malformed_records, test_keys_order_and_decode)
