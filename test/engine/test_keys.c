/*
 * test_keys.c
 *	  Tests of the order-preserving tuple key encoding (engine/keys.c).
 *
 *	  Property tests use a deterministic PRNG (splitmix64).  The seed is
 *	  printed; set TS_KEYS_SEED to rerun with another one.
 */
#include <inttypes.h>

#include "harness.h"

#define MAX_FIELDS	5
#define MAX_TEXT	40

/* --- PRNG --- */

static uint64_t rng_state;
static uint64_t rng_seed = 0x5eed0f7ee5707eULL;

static uint64_t
rnd(void)
{
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned
rnd_below(unsigned n)
{
	return (unsigned) (rnd() % n);
}

/* Each property test starts from the seed, so it can be run on its own. */
static void
rng_reset(const char *test)
{
	const char *env = getenv("TS_KEYS_SEED");

	if (env)
		rng_seed = strtoull(env, NULL, 0);
	rng_state = rng_seed;
	printf("# %s: seed 0x%" PRIx64 "\n", test, rng_seed);
}

/* A byte biased toward the interesting values. */
static uint8_t
rnd_byte(void)
{
	static const uint8_t special[] = {0x00, 0x01, 0xFE, 0xFF};
	unsigned	r = rnd_below(16);

	if (r < 8)
		return special[r % 4];
	if (r < 10)
		return (uint8_t) ('a' + rnd_below(3));	/* small alphabet: ties */
	return (uint8_t) rnd();
}

static int64_t
rnd_int(void)
{
	static const int64_t special[] = {
		INT64_MIN, INT64_MIN + 1, -256, -255, -1, 0, 1, 255, 256,
		INT64_MAX - 1, INT64_MAX
	};

	switch (rnd_below(4))
	{
		case 0:
			return special[rnd_below(sizeof(special) / sizeof(special[0]))];
		case 1:
			return (int64_t) rnd_below(7) - 3;	/* ties and neighbours */
		case 2:
			return (int64_t) (rnd() >> rnd_below(64)) * (rnd_below(2) ? 1 : -1);
		default:
			return (int64_t) rnd();	/* implementation-defined; gcc/clang wrap */
	}
}

/* --- tuples (the test's own representation) --- */

typedef struct tfield
{
	ts_field_type type;
	size_t		len;
	uint8_t		text[MAX_TEXT + 2];
	int64_t		i;
} tfield;

typedef struct tuple
{
	int			n;
	tfield		f[MAX_FIELDS + 1];
} tuple;

static void
rnd_text(tfield *f)
{
	f->type = TS_FIELD_TEXT;
	f->len = rnd_below(3) == 0 ? rnd_below(4) : rnd_below(MAX_TEXT + 1);
	for (size_t i = 0; i < f->len; i++)
		f->text[i] = rnd_byte();
}

static void
rnd_field(tfield *f)
{
	memset(f, 0, sizeof(*f));
	switch (rnd_below(4))
	{
		case 0:
			f->type = TS_FIELD_NULL;
			break;
		case 1:
			rnd_text(f);
			break;
		case 2:
			f->type = TS_FIELD_INT64;
			f->i = rnd_int();
			break;
		default:
			f->type = TS_FIELD_TIMESTAMP;
			f->i = rnd_int();
			break;
	}
}

static void
rnd_tuple(tuple *t)
{
	t->n = 1 + (int) rnd_below(MAX_FIELDS);
	for (int i = 0; i < t->n; i++)
		rnd_field(&t->f[i]);
}

static void
encode(const tuple *t, ts_keybuf *kb)
{
	ts_key_init(kb);
	for (int i = 0; i < t->n; i++)
	{
		const tfield *f = &t->f[i];

		switch (f->type)
		{
			case TS_FIELD_NULL:
				ts_key_add_null(kb);
				break;
			case TS_FIELD_TEXT:
				ts_key_add_text(kb, f->text, f->len);
				break;
			case TS_FIELD_INT64:
				ts_key_add_int64(kb, f->i);
				break;
			case TS_FIELD_TIMESTAMP:
				ts_key_add_timestamp(kb, f->i);
				break;
		}
	}
}

/* --- reference comparators, independent of the encoding --- */

static int
sign(long v)
{
	return (v > 0) - (v < 0);
}

static int
ref_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return sign(c);
	return (alen > blen) - (alen < blen);
}

static int
ref_tuple(const tuple *a, const tuple *b)
{
	for (int i = 0; i < a->n && i < b->n; i++)
	{
		const tfield *x = &a->f[i],
				   *y = &b->f[i];

		if (x->type != y->type)
			return x->type < y->type ? -1 : 1;
		if (x->type == TS_FIELD_TEXT)
		{
			int			c = ref_bytes(x->text, x->len, y->text, y->len);

			if (c != 0)
				return c;
		}
		else if (x->type != TS_FIELD_NULL && x->i != y->i)
			return x->i < y->i ? -1 : 1;
	}
	return (a->n > b->n) - (a->n < b->n);
}

/* Key order: bytewise, shorter first on a common prefix. */
static int
key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	return ref_bytes(a, alen, b, blen);
}

/* --- helpers --- */

/* Decode a whole key into a tuple; returns the final code (TS_NOTFOUND = ok). */
static int
decode(const void *key, size_t len, tuple *t, uint8_t *scratch, size_t cap)
{
	size_t		pos = 0;
	ts_field	f;
	int			rc;

	t->n = 0;
	while ((rc = ts_key_next_field(key, len, &pos, &f, scratch, cap)) == 0)
	{
		tfield	   *d;

		if (t->n > MAX_FIELDS)
			return -1;
		d = &t->f[t->n++];
		memset(d, 0, sizeof(*d));
		d->type = f.type;
		d->i = f.i;
		if (f.type == TS_FIELD_TEXT)
		{
			if (f.len > MAX_TEXT)
				return -1;
			d->len = f.len;
			if (f.len)
				memcpy(d->text, f.data, f.len);
		}
	}
	if (rc == TS_NOTFOUND && pos != len)
		return -2;
	return rc;
}

static int
tuple_equal(const tuple *a, const tuple *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
	{
		const tfield *x = &a->f[i],
				   *y = &b->f[i];

		if (x->type != y->type)
			return 0;
		if (x->type == TS_FIELD_TEXT &&
			(x->len != y->len || memcmp(x->text, y->text, x->len) != 0))
			return 0;
		if ((x->type == TS_FIELD_INT64 || x->type == TS_FIELD_TIMESTAMP) &&
			x->i != y->i)
			return 0;
	}
	return 1;
}

/* Copy into an exact-size heap block, so ASan catches any over-read. */
static uint8_t *
exact_copy(const void *p, size_t len)
{
	uint8_t    *q = malloc(len ? len : 1);

	if (!q)
		abort();
	if (len)
		memcpy(q, p, len);
	return q;
}

/* An uninitialised exact-size heap block (for scratch buffers). */
static uint8_t *
exact_alloc(size_t len)
{
	uint8_t    *q = malloc(len ? len : 1);

	if (!q)
		abort();
	return q;
}

static size_t
key1_text(ts_keybuf *kb, const void *s, size_t len)
{
	ts_key_init(kb);
	ts_key_add_text(kb, s, len);
	return kb->len;
}

/* --- tests --- */

TEST(test_int_encoding)
{
	ts_keybuf	kb;
	static const uint8_t zero[] = {0x03, 0x80, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t min[] = {0x03, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t minus1[] = {0x04, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	static const uint8_t max[] = {0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	static const uint8_t onetwo[] = {0x03, 0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

	ts_key_init(&kb);
	ts_key_add_int64(&kb, 0);
	CHECK(kb.len == 9 && memcmp(kb.buf, zero, 9) == 0);
	ts_key_init(&kb);
	ts_key_add_int64(&kb, INT64_MIN);
	CHECK(kb.len == 9 && memcmp(kb.buf, min, 9) == 0);
	ts_key_init(&kb);
	ts_key_add_timestamp(&kb, -1);
	CHECK(kb.len == 9 && memcmp(kb.buf, minus1, 9) == 0);
	ts_key_init(&kb);
	ts_key_add_int64(&kb, INT64_MAX);
	CHECK(kb.len == 9 && memcmp(kb.buf, max, 9) == 0);
	ts_key_init(&kb);
	ts_key_add_int64(&kb, 0x0102030405060708LL);
	CHECK(kb.len == 9 && memcmp(kb.buf, onetwo, 9) == 0);
	CHECK(!kb.overflow);

	/* Text: tag, escaped bytes, terminator. */
	{
		static const uint8_t s[] = {'a', 0x00, 0xFF, 0x01};
		static const uint8_t enc[] = {0x02, 'a', 0x00, 0xFF, 0xFF, 0x01, 0x00, 0x01};

		CHECK(key1_text(&kb, s, sizeof(s)) == sizeof(enc));
		CHECK(memcmp(kb.buf, enc, sizeof(enc)) == 0);
	}
	ts_key_init(&kb);
	ts_key_add_null(&kb);
	CHECK(kb.len == 1 && kb.buf[0] == 0x01);
}

TEST(test_roundtrip_random)
{
	tuple		a,
				b;
	ts_keybuf	kb,
				kb2;
	uint8_t		scratch[MAX_TEXT];
	long		fields = 0;
	const long	N = 200000;

	rng_reset("test_roundtrip_random");
	for (long n = 0; n < N; n++)
	{
		uint8_t    *key;

		rnd_tuple(&a);
		encode(&a, &kb);
		CHECK(!kb.overflow);
		key = exact_copy(kb.buf, kb.len);
		CHECK_ERR(decode(key, kb.len, &b, scratch, sizeof(scratch)), TS_NOTFOUND);
		CHECK_MSG(tuple_equal(&a, &b), "tuple %ld does not round-trip", n);
		encode(&b, &kb2);
		CHECK(kb2.len == kb.len && memcmp(kb2.buf, kb.buf, kb.len) == 0);
		fields += a.n;
		free(key);
	}
	printf("# %ld tuples, %ld fields round-tripped\n", N, fields);
}

/* b derived from a in one of several ways that produce near-equal tuples. */
static void
derive(const tuple *a, tuple *b)
{
	int			k;

	*b = *a;
	switch (rnd_below(8))
	{
		case 0:					/* independent */
			rnd_tuple(b);
			break;
		case 1:					/* common prefix of k fields, then random */
			k = (int) rnd_below((unsigned) a->n + 1);
			b->n = k + (int) rnd_below((unsigned) (MAX_FIELDS - k) + 1);
			for (int i = k; i < b->n; i++)
				rnd_field(&b->f[i]);
			break;
		case 2:					/* b is a prefix of a (possibly empty) */
			b->n = (int) rnd_below((unsigned) a->n + 1);
			break;
		case 3:					/* a is a prefix of b */
			b->n = a->n + 1 + (int) rnd_below(MAX_FIELDS - (unsigned) a->n + 1);
			if (b->n > MAX_FIELDS + 1)
				b->n = MAX_FIELDS + 1;
			for (int i = a->n; i < b->n; i++)
				rnd_field(&b->f[i]);
			break;
		case 4:					/* one text field differs slightly */
		case 5:
			{
				tfield	   *f = &b->f[rnd_below((unsigned) b->n)];

				if (f->type != TS_FIELD_TEXT)
					rnd_text(f);
				switch (rnd_below(5))
				{
					case 0:		/* one byte differs */
						if (f->len)
							f->text[rnd_below((unsigned) f->len)] = rnd_byte();
						break;
					case 1:		/* one byte appended */
						if (f->len < MAX_TEXT)
							f->text[f->len++] = rnd_byte();
						break;
					case 2:		/* truncated */
						f->len = rnd_below((unsigned) f->len + 1);
						break;
					case 3:		/* one byte inserted */
						if (f->len < MAX_TEXT)
						{
							size_t		at = rnd_below((unsigned) f->len + 1);

							memmove(f->text + at + 1, f->text + at, f->len - at);
							f->text[at] = rnd_byte();
							f->len++;
						}
						break;
					default:	/* one byte removed */
						if (f->len)
						{
							size_t		at = rnd_below((unsigned) f->len);

							memmove(f->text + at, f->text + at + 1, f->len - at - 1);
							f->len--;
						}
						break;
				}
			}
			break;
		case 6:					/* one integer differs slightly or changes type */
			{
				tfield	   *f = &b->f[rnd_below((unsigned) b->n)];

				if (f->type == TS_FIELD_INT64 || f->type == TS_FIELD_TIMESTAMP)
				{
					unsigned	r = rnd_below(3);

					if (r == 0 && f->i != INT64_MAX)
						f->i++;
					else if (r == 1 && f->i != INT64_MIN)
						f->i--;
					else
						f->type = f->type == TS_FIELD_INT64 ?
							TS_FIELD_TIMESTAMP : TS_FIELD_INT64;
				}
				else
					rnd_field(f);
			}
			break;
		default:				/* equal */
			break;
	}
}

TEST(test_order_random)
{
	tuple		a,
				b;
	ts_keybuf	ka,
				kb;
	long		counts[3] = {0, 0, 0};
	const long	N = 600000;

	rng_reset("test_order_random");
	for (long n = 0; n < N; n++)
	{
		int			ref,
					enc;

		rnd_tuple(&a);
		derive(&a, &b);
		if (rnd_below(2))
		{
			tuple		t = a;

			a = b;
			b = t;
		}
		encode(&a, &ka);
		encode(&b, &kb);
		CHECK(!ka.overflow && !kb.overflow);
		ref = ref_tuple(&a, &b);
		enc = key_cmp(ka.buf, ka.len, kb.buf, kb.len);
		CHECK_MSG(ref == enc, "pair %ld: reference says %d, encoding says %d",
				  n, ref, enc);
		counts[ref + 1]++;
	}
	printf("# %ld pairs: %ld less, %ld equal, %ld greater\n",
		   N, counts[0], counts[1], counts[2]);
	/* The generator must exercise every outcome substantially. */
	CHECK(counts[0] > N / 10 && counts[1] > N / 50 && counts[2] > N / 10);
}

/* --- exhaustive short strings --- */

typedef struct xstr
{
	uint8_t		s[3];
	size_t		len;
	uint8_t		enc[16];
	size_t		elen;
} xstr;

static int
xstr_enc_cmp(const void *a, const void *b)
{
	const xstr *x = a,
			   *y = b;

	return key_cmp(x->enc, x->elen, y->enc, y->elen);
}

static void
xstr_fill(xstr *x, const uint8_t *s, size_t len)
{
	ts_keybuf	kb;

	memcpy(x->s, s, len);
	x->len = len;
	key1_text(&kb, s, len);
	if (kb.overflow || kb.len > sizeof(x->enc))
		abort();
	memcpy(x->enc, kb.buf, kb.len);
	x->elen = kb.len;
}

TEST(test_exhaustive_short)
{
	static const uint8_t alpha[] = {0x00, 0x01, 0x7F, 0xFE, 0xFF};
	const size_t nall = 1 + 256 + 65536 + 125;
	xstr	   *all = calloc(nall, sizeof(xstr));
	size_t		n = 0;
	uint8_t		s[3] = {0, 0, 0};

	CHECK(all != NULL);
	xstr_fill(&all[n++], s, 0);
	for (unsigned a = 0; a < 256; a++)
	{
		s[0] = (uint8_t) a;
		xstr_fill(&all[n++], s, 1);
		for (unsigned b = 0; b < 256; b++)
		{
			s[1] = (uint8_t) b;
			xstr_fill(&all[n++], s, 2);
		}
	}
	for (int a = 0; a < 5; a++)
		for (int b = 0; b < 5; b++)
			for (int c = 0; c < 5; c++)
			{
				s[0] = alpha[a];
				s[1] = alpha[b];
				s[2] = alpha[c];
				xstr_fill(&all[n++], s, 3);
			}
	CHECK(n == nall);

	/* Round trip, each decoded from an exact-size copy. */
	for (size_t i = 0; i < n; i++)
	{
		uint8_t    *key = exact_copy(all[i].enc, all[i].elen);
		uint8_t    *scratch = exact_alloc(all[i].len);
		size_t		pos = 0;
		ts_field	f;

		CHECK_OK(ts_key_next_field(key, all[i].elen, &pos, &f, scratch, all[i].len));
		CHECK(f.type == TS_FIELD_TEXT && f.len == all[i].len);
		CHECK(f.len == 0 || memcmp(f.data, all[i].s, f.len) == 0);
		CHECK(pos == all[i].elen);
		CHECK_ERR(ts_key_next_field(key, all[i].elen, &pos, &f, scratch, all[i].len),
				  TS_NOTFOUND);
		free(key);
		free(scratch);
	}

	/*
	 * Order: sort by encoding, then every neighbouring pair must be strictly
	 * increasing as strings.  With a total order this proves the encoding
	 * order is exactly the string order (and the encoding injective).
	 */
	rng_reset("test_exhaustive_short");
	for (size_t i = n - 1; i > 0; i--)
	{
		size_t		j = (size_t) (rnd() % (i + 1));
		xstr		t = all[i];

		all[i] = all[j];
		all[j] = t;
	}
	qsort(all, n, sizeof(xstr), xstr_enc_cmp);
	for (size_t i = 1; i < n; i++)
		CHECK_MSG(ref_bytes(all[i - 1].s, all[i - 1].len, all[i].s, all[i].len) < 0,
				  "encodings of strings %zu and %zu sort wrongly", i - 1, i);

	/* And directly, every pair over the small alphabet up to length 3. */
	{
		xstr	   *small = all;	/* reuse the memory */
		size_t		m = 0;

		for (size_t len = 0; len <= 3; len++)
		{
			size_t		count = 1;

			for (size_t k = 0; k < len; k++)
				count *= 5;
			for (size_t v = 0; v < count; v++)
			{
				size_t		x = v;

				for (size_t k = len; k-- > 0;)
				{
					s[k] = alpha[x % 5];
					x /= 5;
				}
				xstr_fill(&small[m++], s, len);
			}
		}
		CHECK(m == 156);
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < m; j++)
				CHECK(ref_bytes(small[i].s, small[i].len, small[j].s, small[j].len) ==
					  key_cmp(small[i].enc, small[i].elen, small[j].enc, small[j].elen));
	}
	free(all);
}

/* --- edge cases --- */

static int
cmp_keys(const ts_keybuf *a, const ts_keybuf *b)
{
	return key_cmp(a->buf, a->len, b->buf, b->len);
}

TEST(test_null_empty_absent)
{
	ts_keybuf	absent,
				null,
				empty,
				nul,
				empty_null,
				null_null,
				imin,
				tsmin;

	ts_key_init(&absent);
	ts_key_init(&null);
	ts_key_add_null(&null);
	key1_text(&empty, "", 0);
	key1_text(&nul, "\0", 1);
	key1_text(&empty_null, "", 0);
	ts_key_add_null(&empty_null);
	ts_key_init(&null_null);
	ts_key_add_null(&null_null);
	ts_key_add_null(&null_null);
	ts_key_init(&imin);
	ts_key_add_int64(&imin, INT64_MIN);
	ts_key_init(&tsmin);
	ts_key_add_timestamp(&tsmin, INT64_MIN);

	CHECK(absent.len == 0);
	CHECK(empty.len == 3 && memcmp(empty.buf, "\x02\x00\x01", 3) == 0);
	/* absent < NULL < (NULL, NULL) < "" < ("", NULL) < "\0" < INT64_MIN < ts */
	CHECK(cmp_keys(&absent, &null) < 0);
	CHECK(cmp_keys(&null, &null_null) < 0);
	CHECK(cmp_keys(&null_null, &empty) < 0);
	CHECK(cmp_keys(&empty, &empty_null) < 0);
	CHECK(cmp_keys(&empty_null, &nul) < 0);
	CHECK(cmp_keys(&nul, &imin) < 0);
	CHECK(cmp_keys(&imin, &tsmin) < 0);

	/* The empty key decodes to no fields. */
	{
		size_t		pos = 0;
		ts_field	f;

		CHECK_ERR(ts_key_next_field(NULL, 0, &pos, &f, NULL, 0), TS_NOTFOUND);
		CHECK_ERR(ts_key_next_field(empty.buf, empty.len, &pos, &f, NULL, 0), TS_OK);
		CHECK(f.type == TS_FIELD_TEXT && f.len == 0 && pos == 3);
	}
}

TEST(test_text_zero_bytes)
{
	static const struct
	{
		const char *s;
		size_t		len;
	}			v[] = {
		{"a", 1},
		{"a\0", 2},
		{"a\0\0", 3},
		{"a\0\x01", 3},
		{"a\0\xff", 3},
		{"a\x01", 2},
		{"a\xfe", 2},
		{"a\xff", 2},
		{"a\xff\0", 3},
		{"a\xff\xff", 3},
		{"b", 1},
	};
	const int	n = (int) (sizeof(v) / sizeof(v[0]));
	ts_keybuf	ka,
				kb;

	/* Listed in increasing order: check every pair, alone and followed by fields. */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			int			want = (i > j) - (i < j);

			key1_text(&ka, v[i].s, v[i].len);
			key1_text(&kb, v[j].s, v[j].len);
			CHECK(cmp_keys(&ka, &kb) == want);
			/* A following field must never override the text comparison. */
			ts_key_add_int64(&ka, INT64_MAX);
			ts_key_add_text(&ka, "\xff\xff", 2);
			ts_key_add_null(&kb);
			if (want != 0)
				CHECK(cmp_keys(&ka, &kb) == want);
			else
				CHECK(cmp_keys(&ka, &kb) > 0);
		}

	key1_text(&ka, "a\0", 2);
	CHECK(ka.len == 6 && memcmp(ka.buf, "\x02" "a\x00\xff\x00\x01", 6) == 0);
	key1_text(&ka, "a\0\0", 3);
	CHECK(ka.len == 8 && memcmp(ka.buf, "\x02" "a\x00\xff\x00\xff\x00\x01", 8) == 0);
}

TEST(test_overflow)
{
	ts_keybuf	kb;
	uint8_t    *big = malloc(TS_MAX_KEY + 1);
	const uint8_t tiny[1] = {'x'};

	CHECK(big != NULL);
	memset(big, 'x', TS_MAX_KEY + 1);

	/* Text of TS_MAX_KEY bytes never fits. */
	key1_text(&kb, big, TS_MAX_KEY);
	CHECK(kb.overflow && kb.len == 0);

	/* 977 non-zero bytes + 3 fit exactly; then nothing more does. */
	key1_text(&kb, big, TS_MAX_KEY - 3);
	CHECK(!kb.overflow && kb.len == TS_MAX_KEY);
	ts_key_add_null(&kb);
	CHECK(kb.overflow && kb.len == TS_MAX_KEY);

	/* 978 bytes: one too many. */
	key1_text(&kb, big, TS_MAX_KEY - 2);
	CHECK(kb.overflow && kb.len == 0);

	/* Escaping counts: a 0x00 costs two bytes. */
	big[10] = 0x00;
	key1_text(&kb, big, TS_MAX_KEY - 4);
	CHECK(!kb.overflow && kb.len == TS_MAX_KEY);
	key1_text(&kb, big, TS_MAX_KEY - 3);
	CHECK(kb.overflow && kb.len == 0);

	/* After an overflow, the buffer is unchanged from that field on. */
	ts_key_init(&kb);
	ts_key_add_int64(&kb, 7);
	ts_key_add_text(&kb, big, TS_MAX_KEY);
	CHECK(kb.overflow && kb.len == 9);
	ts_key_add_null(&kb);
	ts_key_add_int64(&kb, 1);
	ts_key_add_timestamp(&kb, 1);
	ts_key_add_text(&kb, "", 0);
	CHECK(kb.overflow && kb.len == 9);
	CHECK(kb.buf[0] == 0x03);

	/* Integers: 971 + 9 fits, 972 + 9 does not. */
	key1_text(&kb, big + 11, TS_MAX_KEY - 3 - 9 - 1);
	ts_key_add_null(&kb);
	CHECK(!kb.overflow && kb.len == TS_MAX_KEY - 9);
	ts_key_add_int64(&kb, -1);
	CHECK(!kb.overflow && kb.len == TS_MAX_KEY);
	key1_text(&kb, big + 11, TS_MAX_KEY - 3 - 9);
	ts_key_add_null(&kb);
	CHECK(!kb.overflow && kb.len == TS_MAX_KEY - 8);
	ts_key_add_timestamp(&kb, -1);
	CHECK(kb.overflow && kb.len == TS_MAX_KEY - 8);

	/* A huge length is rejected without reading the data. */
	ts_key_init(&kb);
	ts_key_add_text(&kb, tiny, SIZE_MAX);
	CHECK(kb.overflow && kb.len == 0);
	ts_key_init(&kb);
	ts_key_add_text(&kb, tiny, SIZE_MAX - 2);
	CHECK(kb.overflow && kb.len == 0);

	/* ts_key_init clears the flag. */
	ts_key_init(&kb);
	CHECK(!kb.overflow && kb.len == 0);
	free(big);
}

/* Decode one field from an exact-size copy of `key`; return the code. */
static int
decode1(const char *key, size_t len, size_t *pos, size_t cap)
{
	uint8_t    *k = exact_copy(key, len);
	uint8_t    *scratch = cap ? exact_alloc(cap) : NULL;
	ts_field	f;
	int			rc = ts_key_next_field(k, len, pos, &f, scratch, cap);

	free(k);
	free(scratch);
	return rc;
}

#define LAST_ERROR_HAS(s) (strstr(ts_last_error(), (s)) != NULL)

TEST(test_malformed)
{
	size_t		pos;
	ts_field	f;

	/* Unknown tags. */
	pos = 0;
	CHECK_ERR(decode1("\x00", 1, &pos, 0), TS_INVALID);
	CHECK(LAST_ERROR_HAS("byte offset 0") && pos == 0);
	pos = 0;
	CHECK_ERR(decode1("\x05", 1, &pos, 0), TS_INVALID);
	pos = 0;
	CHECK_ERR(decode1("\xff", 1, &pos, 0), TS_INVALID);
	pos = 1;
	CHECK_ERR(decode1("\x01\x07", 2, &pos, 0), TS_INVALID);
	CHECK(LAST_ERROR_HAS("0x07") && LAST_ERROR_HAS("byte offset 1") && pos == 1);

	/* Truncated integers: 0..7 payload bytes. */
	for (size_t n = 0; n < 8; n++)
	{
		pos = 0;
		CHECK_ERR(decode1("\x03\x80\0\0\0\0\0\0\0", 1 + n, &pos, 0), TS_INVALID);
		CHECK(pos == 0);
		pos = 0;
		CHECK_ERR(decode1("\x04\x80\0\0\0\0\0\0\0", 1 + n, &pos, 0), TS_INVALID);
	}
	pos = 1;
	CHECK_ERR(decode1("\x01\x03\x80\0\0\0\0\0", 8, &pos, 0), TS_INVALID);
	CHECK(LAST_ERROR_HAS("byte offset 1"));
	pos = 0;
	CHECK_OK(decode1("\x03\x80\0\0\0\0\0\0\0", 9, &pos, 0));
	CHECK(pos == 9);

	/* Unterminated text. */
	pos = 0;
	CHECK_ERR(decode1("\x02", 1, &pos, 8), TS_INVALID);
	pos = 0;
	CHECK_ERR(decode1("\x02" "ab", 3, &pos, 8), TS_INVALID);
	CHECK(LAST_ERROR_HAS("byte offset 0"));
	pos = 0;
	CHECK_ERR(decode1("\x02" "ab\x00", 4, &pos, 8), TS_INVALID);
	CHECK(LAST_ERROR_HAS("byte offset 3"));
	pos = 0;
	CHECK_ERR(decode1("\x02" "a\x00\xff", 4, &pos, 8), TS_INVALID);

	/* 0x00 followed by something other than 0x01 / 0xFF. */
	for (unsigned b = 0; b < 256; b++)
	{
		char		k[5] = {0x02, 'a', 0x00, (char) b, 0x01};

		pos = 0;
		if (b == 0x01)
			CHECK_OK(decode1(k, 4, &pos, 8));
		else if (b == 0xFF)
			CHECK_ERR(decode1(k, 4, &pos, 8), TS_INVALID);	/* unterminated */
		else
		{
			CHECK_ERR(decode1(k, 5, &pos, 8), TS_INVALID);
			CHECK(LAST_ERROR_HAS("byte offset 3"));
		}
	}

	/* Scratch buffer too small; exactly enough is fine. */
	pos = 0;
	CHECK_ERR(decode1("\x02" "abc\x00\x01", 6, &pos, 2), TS_INVALID);
	pos = 0;
	CHECK_OK(decode1("\x02" "abc\x00\x01", 6, &pos, 3));
	pos = 0;
	CHECK_ERR(decode1("\x02" "a\x00\xff\x00\x01", 6, &pos, 1), TS_INVALID);
	pos = 0;
	CHECK_OK(decode1("\x02" "a\x00\xff\x00\x01", 6, &pos, 2));
	pos = 0;
	CHECK_OK(decode1("\x02\x00\x01", 3, &pos, 0));

	/* Bad arguments. */
	pos = 4;
	CHECK_ERR(decode1("\x01\x01\x01", 3, &pos, 0), TS_INVALID);
	pos = 3;
	CHECK_ERR(decode1("\x01\x01\x01", 3, &pos, 0), TS_NOTFOUND);
	CHECK_ERR(ts_key_next_field("\x01", 1, NULL, &f, NULL, 0), TS_INVALID);
	pos = 0;
	CHECK_ERR(ts_key_next_field("\x01", 1, &pos, NULL, NULL, 0), TS_INVALID);
	CHECK_ERR(ts_key_next_field(NULL, 1, &pos, &f, NULL, 0), TS_INVALID);
}

/* Random garbage and mutated keys: decoding must only ever return codes. */
TEST(test_garbage)
{
	const long	N = 100000;
	long		full = 0,
				invalid = 0;
	tuple		t;
	ts_keybuf	kb;

	rng_reset("test_garbage");
	for (long n = 0; n < N; n++)
	{
		uint8_t		raw[128];
		size_t		len,
					cap,
					pos = 0,
					last;
		uint8_t    *key,
				   *scratch;
		ts_field	f;
		int			rc;

		if (rnd_below(2))
		{
			/* Pure garbage, biased toward tags and the escape bytes. */
			len = rnd_below(64);
			for (size_t i = 0; i < len; i++)
				raw[i] = rnd_below(2) ? (uint8_t) rnd_below(6) : rnd_byte();
		}
		else
		{
			/* A valid key, truncated or with a few bytes changed. */
			rnd_tuple(&t);
			encode(&t, &kb);
			len = kb.len < sizeof(raw) ? kb.len : sizeof(raw);
			memcpy(raw, kb.buf, len);
			if (len && rnd_below(2))
				len = rnd_below((unsigned) len);
			for (unsigned m = rnd_below(3); m > 0 && len > 0; m--)
				raw[rnd_below((unsigned) len)] = rnd_byte();
		}
		key = exact_copy(raw, len);
		cap = rnd_below(4) ? len : rnd_below(8);
		scratch = cap ? exact_alloc(cap) : NULL;

		ts_key_init(&kb);
		for (;;)
		{
			last = pos;
			rc = ts_key_next_field(key, len, &pos, &f, scratch, cap);
			if (rc != 0)
				break;
			CHECK(pos > last && pos <= len);
			/* The decoded prefix re-encodes to exactly the bytes consumed. */
			switch (f.type)
			{
				case TS_FIELD_NULL:
					ts_key_add_null(&kb);
					break;
				case TS_FIELD_TEXT:
					CHECK(f.len <= cap);
					ts_key_add_text(&kb, f.data, f.len);
					break;
				case TS_FIELD_INT64:
					ts_key_add_int64(&kb, f.i);
					break;
				case TS_FIELD_TIMESTAMP:
					ts_key_add_timestamp(&kb, f.i);
					break;
				default:
					CHECK_MSG(0, "decoded unknown type %d", (int) f.type);
			}
			CHECK(!kb.overflow && kb.len == pos && memcmp(kb.buf, key, pos) == 0);
		}
		CHECK_MSG(rc == TS_NOTFOUND || rc == TS_INVALID, "input %ld: code %d", n, rc);
		CHECK(pos == last);		/* an error or the end does not move pos */
		if (rc == TS_NOTFOUND)
		{
			CHECK(pos == len);
			full++;
		}
		else
			invalid++;
		free(key);
		free(scratch);
	}
	printf("# %ld inputs: %ld decoded fully, %ld invalid\n", N, full, invalid);
	CHECK(full > N / 20 && invalid > N / 20);
}

/* --- prefix end --- */

static int
has_prefix(const uint8_t *s, size_t slen, const uint8_t *p, size_t plen)
{
	return slen >= plen && memcmp(s, p, plen) == 0;
}

TEST(test_prefix_end_cases)
{
	uint8_t		out[8];
	uint8_t		inplace[4] = {0x01, 0xFE, 0xFF, 0xFF};

	CHECK(ts_key_prefix_end("ab", 2, out) == 2 && memcmp(out, "ac", 2) == 0);
	CHECK(ts_key_prefix_end("a\xff\xff", 3, out) == 1 && out[0] == 'b');
	CHECK(ts_key_prefix_end("\x01\xfe\xff", 3, out) == 2 &&
		  memcmp(out, "\x01\xff", 2) == 0);
	CHECK(ts_key_prefix_end("\x00", 1, out) == 1 && out[0] == 0x01);
	CHECK(ts_key_prefix_end("\xff", 1, out) == 0);
	CHECK(ts_key_prefix_end("\xff\xff\xff", 3, out) == 0);
	CHECK(ts_key_prefix_end("", 0, out) == 0);
	/* out may be the prefix itself */
	CHECK(ts_key_prefix_end(inplace, 4, inplace) == 2 &&
		  inplace[0] == 0x01 && inplace[1] == 0xFF);

	/* Encoded keys ending in 0xFF bytes. */
	{
		ts_keybuf	p,
					k;
		size_t		n;

		/* INT64_MAX is 0x03 then eight 0xFF: the end is the next tag. */
		ts_key_init(&p);
		ts_key_add_int64(&p, INT64_MAX);
		n = ts_key_prefix_end(p.buf, p.len, out);
		CHECK(n == 1 && out[0] == 0x04);
		ts_key_init(&k);
		ts_key_add_int64(&k, INT64_MAX);
		ts_key_add_text(&k, "\xff\xff", 2);
		CHECK(key_cmp(k.buf, k.len, out, n) < 0);
		ts_key_init(&k);
		ts_key_add_int64(&k, 0);
		CHECK(key_cmp(k.buf, k.len, out, n) < 0);
		ts_key_init(&k);
		ts_key_add_timestamp(&k, INT64_MIN);
		CHECK(key_cmp(k.buf, k.len, out, n) >= 0);

		/* -1 is 0x03 0x7F then seven 0xFF: the end is 0x03 0x80 (= 0). */
		ts_key_init(&p);
		ts_key_add_int64(&p, -1);
		n = ts_key_prefix_end(p.buf, p.len, out);
		CHECK(n == 2 && out[0] == 0x03 && out[1] == 0x80);
		ts_key_init(&k);
		ts_key_add_int64(&k, -1);
		ts_key_add_null(&k);
		CHECK(key_cmp(k.buf, k.len, out, n) < 0);
		ts_key_init(&k);
		ts_key_add_int64(&k, 0);
		CHECK(key_cmp(k.buf, k.len, out, n) >= 0);
	}
}

TEST(test_prefix_end_property)
{
	const long	N = 200000;
	long		inside = 0;
	uint8_t		out[TS_MAX_KEY];

	rng_reset("test_prefix_end_property");
	for (long n = 0; n < N; n++)
	{
		uint8_t		p[16],
					s[24];
		size_t		plen = rnd_below(sizeof(p)),
					slen,
					elen;
		uint8_t    *pcopy;

		for (size_t i = 0; i < plen; i++)
			p[i] = rnd_below(3) ? (rnd_below(2) ? 0xFF : 0xFE) : rnd_byte();
		pcopy = exact_copy(p, plen);
		elen = ts_key_prefix_end(pcopy, plen, out);
		free(pcopy);

		if (elen == 0)
			for (size_t i = 0; i < plen; i++)
				CHECK(p[i] == 0xFF);
		else
		{
			CHECK(elen <= plen);
			CHECK(key_cmp(out, elen, p, plen) > 0);
			CHECK(!has_prefix(out, elen, p, plen));
		}

		/*
		 * For strings s near the prefix: s starts with the prefix exactly
		 * when prefix <= s < end (end absent: no upper bound).  This checks
		 * both that the result is above every key with the prefix and that
		 * it is the smallest such.
		 */
		for (int r = 0; r < 4; r++)
		{
			int			in;

			slen = rnd_below((unsigned) plen + 1);
			if (rnd_below(2))
				slen += rnd_below(8);
			for (size_t i = 0; i < slen; i++)
				s[i] = i < plen && rnd_below(4) ? p[i] : rnd_byte();
			if (rnd_below(4) == 0 && slen > 0)
				s[rnd_below((unsigned) slen)]++;
			in = key_cmp(s, slen, p, plen) >= 0 &&
				(elen == 0 || key_cmp(s, slen, out, elen) < 0);
			CHECK_MSG(in == has_prefix(s, slen, p, plen),
					  "case %ld: prefix_end range disagrees with prefix test", n);
			inside += in;
		}
	}

	/* With real keys: every key extending a tuple's prefix sorts below. */
	for (long n = 0; n < N / 4; n++)
	{
		tuple		t;
		ts_keybuf	full,
					pre;
		size_t		elen;

		rnd_tuple(&t);
		encode(&t, &full);
		pre = full;
		pre.len = rnd_below((unsigned) full.len + 1);	/* any byte prefix */
		elen = ts_key_prefix_end(pre.buf, pre.len, out);
		CHECK(elen == 0 || key_cmp(full.buf, full.len, out, elen) < 0);
		CHECK(key_cmp(full.buf, full.len, pre.buf, pre.len) >= 0);
	}
	printf("# %ld prefixes, %ld probe strings inside their range\n", N, inside);
}

TEST_MAIN(test_int_encoding, test_roundtrip_random, test_order_random,
		  test_exhaustive_short, test_null_empty_absent, test_text_zero_bytes,
		  test_overflow, test_malformed, test_garbage, test_prefix_end_cases,
		  test_prefix_end_property)
