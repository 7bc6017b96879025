/*
 * test_writeset.c
 *	  The write set (writeset.c): randomized against a sorted-array
 *	  reference, ordering across trees, pointer stability, large values,
 *	  aliasing puts, a few hundred thousand entries, and savepoints (marks,
 *	  rollbacks and releases against copies of the reference; memory given
 *	  back by a rollback).
 */
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "writeset.h"

static uint64_t rng_state = 0x1234567887654321ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---------- reference: a sorted array of entries ---------- */

typedef struct ref_ent
{
	uint32_t	tree;
	uint32_t	klen;
	uint8_t		key[8];
	int			tomb;
	size_t		vlen;
	uint8_t    *val;
} ref_ent;

static ref_ent **ref;
static size_t nref,
			capref;

static int
ref_cmp(const ref_ent *r, uint32_t tree, const uint8_t *key, size_t klen)
{
	size_t		m = r->klen < klen ? r->klen : klen;
	int			c;

	if (r->tree != tree)
		return r->tree < tree ? -1 : 1;
	c = m ? memcmp(r->key, key, m) : 0;
	if (c)
		return c;
	return r->klen < klen ? -1 : r->klen > klen;
}

/* First index with entry >= (tree, key), or > with `upper`. */
static size_t
ref_bound(uint32_t tree, const uint8_t *key, size_t klen, int upper)
{
	size_t		lo = 0,
				hi = nref;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;
		int			c = ref_cmp(ref[mid], tree, key, klen);

		if (c < 0 || (upper && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index whose tree is > tree. */
static size_t
ref_tree_end(uint32_t tree)
{
	size_t		lo = 0,
				hi = nref;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;

		if (ref[mid]->tree <= tree)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
ref_put(uint32_t tree, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	size_t		i = ref_bound(tree, key, klen, 0);
	ref_ent    *r;

	if (i < nref && ref_cmp(ref[i], tree, key, klen) == 0)
		r = ref[i];
	else
	{
		if (nref == capref)
		{
			capref = capref ? capref * 2 : 1024;
			ref = realloc(ref, capref * sizeof(*ref));
			CHECK(ref != NULL);
		}
		r = calloc(1, sizeof(*r));
		CHECK(r != NULL);
		memmove(ref + i + 1, ref + i, (nref - i) * sizeof(*ref));
		ref[i] = r;
		nref++;
		r->tree = tree;
		r->klen = (uint32_t) klen;
		memcpy(r->key, key, klen);
	}
	free(r->val);
	r->val = NULL;
	r->tomb = (val == NULL);
	r->vlen = val ? vlen : 0;
	if (val)
	{
		r->val = malloc(vlen ? vlen : 1);
		CHECK(r->val != NULL);
		memcpy(r->val, val, vlen);
	}
}

static void
ref_free(void)
{
	for (size_t i = 0; i < nref; i++)
	{
		free(ref[i]->val);
		free(ref[i]);
	}
	free(ref);
	ref = NULL;
	nref = capref = 0;
}

/* The entry matches reference entry `i` (or both are absent, i == SIZE_MAX). */
static int
same(const ts_wentry *e, size_t i)
{
	const ref_ent *r;

	if (i == SIZE_MAX)
		return e == NULL;
	if (e == NULL)
		return 0;
	r = ref[i];
	if (e->tree != r->tree || e->klen != r->klen ||
		memcmp(e->key, r->key, r->klen) != 0)
		return 0;
	if (r->tomb)
		return e->val == NULL && e->vlen == 0;
	return e->val != NULL && e->vlen == r->vlen &&
		(r->vlen == 0 || memcmp(e->val, r->val, r->vlen) == 0);
}

/* Index i if it is in range and in `tree`, else SIZE_MAX. */
static size_t
in_tree(size_t i, uint32_t tree)
{
	return (i < nref && ref[i]->tree == tree) ? i : SIZE_MAX;
}

/* ---------- random keys and values ---------- */

static const uint32_t trees[] = {0, 1, 7, UINT32_MAX};
static const uint32_t probe_trees[] = {0, 1, 2, 7, 8, UINT32_MAX - 1, UINT32_MAX};

/* Keys over a small alphabet with boundary bytes, so prefixes collide. */
static size_t
rand_key(uint8_t *key, size_t maxlen, int allow_empty)
{
	static const uint8_t alpha[] = {0x00, 0x01, 0x80, 0xFF};
	size_t		len = rng() % (maxlen + 1);

	if (len == 0 && !allow_empty)
		len = 1;
	for (size_t i = 0; i < len; i++)
		key[i] = alpha[rng() % 4];
	return len;
}

static uint8_t valbuf[10000];

/* NULL (tombstone) or a value around the small/large boundary. */
static const uint8_t *
rand_val(size_t *vlen)
{
	unsigned	kind = rng() % 10;
	uint8_t		seed = (uint8_t) rng();

	if (kind < 3)
	{
		*vlen = 0;
		return NULL;
	}
	if (kind < 7)
		*vlen = rng() % 41;
	else if (kind < 9)
		*vlen = 1900 + rng() % 300;	/* straddles the 2048-byte threshold */
	else
		*vlen = 2049 + rng() % (sizeof(valbuf) - 2049);
	for (size_t i = 0; i < *vlen; i++)
		valbuf[i] = (uint8_t) (seed + i * 7);
	return valbuf;
}

static void
check_all(const ts_wset *ws)
{
	const ts_wentry *e = ts_wset_begin(ws);

	CHECK(ts_wset_count(ws) == nref);
	for (size_t i = 0; i < nref; i++, e = ts_wset_next(ws, e))
		CHECK_MSG(same(e, i), "iteration differs at %zu", i);
	CHECK(e == NULL);
}

static void
check_probe(const ts_wset *ws, uint32_t tree, const uint8_t *key, size_t klen)
{
	size_t		lb = ref_bound(tree, key, klen, 0);
	size_t		ub = ref_bound(tree, key, klen, 1);
	size_t		exact = (lb < ub) ? lb : SIZE_MAX;

	CHECK(same(ts_wset_get(ws, tree, key, klen), exact));
	CHECK(same(ts_wset_seek_ge(ws, tree, key, klen), in_tree(lb, tree)));
	CHECK(same(ts_wset_seek_gt(ws, tree, key, klen), in_tree(ub, tree)));
	CHECK(same(ts_wset_seek_le(ws, tree, key, klen),
			   ub > 0 ? in_tree(ub - 1, tree) : SIZE_MAX));
	CHECK(same(ts_wset_seek_lt(ws, tree, key, klen),
			   lb > 0 ? in_tree(lb - 1, tree) : SIZE_MAX));
}

static void
check_tree_ends(const ts_wset *ws, uint32_t tree)
{
	size_t		first = ref_bound(tree, NULL, 0, 0);
	size_t		end = ref_tree_end(tree);

	CHECK(same(ts_wset_first(ws, tree), in_tree(first, tree)));
	CHECK(same(ts_wset_last(ws, tree), end > 0 ? in_tree(end - 1, tree) : SIZE_MAX));
}

TEST(randomized_against_reference)
{
	ts_wset    *ws = ts_wset_new();
	uint8_t		key[8];
	long		puts = 0,
				probes = 0;

	CHECK(ws != NULL);
	check_all(ws);
	for (int t = 0; t < 7; t++)
		check_tree_ends(ws, probe_trees[t]);

	for (int op = 0; op < 150000; op++)
	{
		if (rng() % 10 < 6)
		{
			uint32_t	tree = trees[rng() % 4];
			size_t		klen = rand_key(key, 6, rng() % 50 == 0);
			size_t		vlen;
			const uint8_t *val = rand_val(&vlen);

			CHECK_OK(ts_wset_put(ws, tree, key, klen, val, vlen));
			ref_put(tree, key, klen, val, vlen);
			check_probe(ws, tree, key, klen);
			puts++;
		}
		else
		{
			uint32_t	tree = probe_trees[rng() % 7];
			size_t		klen = rand_key(key, 7, 1);

			check_probe(ws, tree, key, klen);
			check_tree_ends(ws, tree);
			probes++;
		}
		if (op % 25000 == 0)
			check_all(ws);
	}
	check_all(ws);
	for (int t = 0; t < 7; t++)
		check_tree_ends(ws, probe_trees[t]);
	printf("# %ld puts, %ld probes, %zu entries, %zu bytes\n",
		   puts, probes, ts_wset_count(ws), ts_wset_bytes(ws));
	ts_wset_free(ws);
	ref_free();
}

/* Exhaustive probes: every key of length <= 3 over the alphabet. */
TEST(every_seek_at_boundaries)
{
	static const uint8_t alpha[] = {0x00, 0x01, 0x80, 0xFF};
	ts_wset    *ws = ts_wset_new();
	uint8_t		key[8];

	CHECK(ws != NULL);
	/* A sparse set: some keys of each length in two trees. */
	for (int i = 0; i < 60; i++)
	{
		uint32_t	tree = (i & 1) ? 1 : 7;
		size_t		klen = rand_key(key, 3, 0);
		size_t		vlen;
		const uint8_t *val = rand_val(&vlen);

		CHECK_OK(ts_wset_put(ws, tree, key, klen, val, vlen));
		ref_put(tree, key, klen, val, vlen);
	}
	for (int t = 0; t < 7; t++)
	{
		uint32_t	tree = probe_trees[t];

		check_tree_ends(ws, tree);
		check_probe(ws, tree, key, 0);	/* empty probe */
		for (int len = 1; len <= 3; len++)
			for (int code = 0; code < (1 << (2 * len)); code++)
			{
				for (int i = 0; i < len; i++)
					key[i] = alpha[(code >> (2 * i)) & 3];
				check_probe(ws, tree, key, (size_t) len);
			}
	}
	ts_wset_free(ws);
	ref_free();
}

TEST(order_across_trees)
{
	ts_wset    *ws = ts_wset_new();
	const ts_wentry *e;
	/* Numeric tree order, not byte order: 256 > 1 although 0x00 < 0x01. */
	uint32_t	tr[] = {UINT32_MAX, 256, 1, 0, 65536, 2};
	uint32_t	want[] = {0, 1, 2, 256, 65536, UINT32_MAX};

	CHECK(ws != NULL);
	CHECK(ts_wset_begin(ws) == NULL);
	CHECK(ts_wset_first(ws, 0) == NULL && ts_wset_last(ws, UINT32_MAX) == NULL);
	for (int i = 0; i < 6; i++)
	{
		CHECK_OK(ts_wset_put(ws, tr[i], "b", 1, "v", 1));
		CHECK_OK(ts_wset_put(ws, tr[i], "ab", 2, NULL, 0));
		CHECK_OK(ts_wset_put(ws, tr[i], "a", 1, "", 0));
	}
	e = ts_wset_begin(ws);
	for (int i = 0; i < 6; i++)
	{
		/* Within a tree: "a" < "ab" < "b" (shorter first on a prefix). */
		CHECK(e && e->tree == want[i] && e->klen == 1 && e->key[0] == 'a');
		CHECK(e->val != NULL && e->vlen == 0);	/* empty, not a tombstone */
		e = ts_wset_next(ws, e);
		CHECK(e && e->tree == want[i] && e->klen == 2 && memcmp(e->key, "ab", 2) == 0);
		CHECK(e->val == NULL);
		e = ts_wset_next(ws, e);
		CHECK(e && e->tree == want[i] && e->klen == 1 && e->key[0] == 'b');
		CHECK(e->vlen == 1 && e->val[0] == 'v');
		CHECK(ts_wset_first(ws, want[i])->key[0] == 'a');
		CHECK(ts_wset_last(ws, want[i]) == e);
		e = ts_wset_next(ws, e);
	}
	CHECK(e == NULL);
	CHECK(ts_wset_count(ws) == 18);
	/* Seeks stay inside their tree. */
	CHECK(ts_wset_seek_gt(ws, 1, "b", 1) == NULL);
	CHECK(ts_wset_seek_lt(ws, 2, "a", 1) == NULL);
	CHECK(ts_wset_seek_ge(ws, 3, "", 0) == NULL);
	CHECK(ts_wset_seek_le(ws, 3, "zzz", 3) == NULL);
	CHECK(ts_wset_seek_le(ws, UINT32_MAX, "zzz", 3)->key[0] == 'b');
	CHECK(ts_wset_seek_ge(ws, 0, "", 0)->key[0] == 'a');
	ts_wset_free(ws);
}

TEST(pointers_stable_and_replace_in_place)
{
	ts_wset    *ws = ts_wset_new();
	const ts_wentry *saved[100];
	char		key[16];

	CHECK(ws != NULL);
	for (int i = 0; i < 100; i++)
	{
		snprintf(key, sizeof(key), "k%05d", i * 1000);
		CHECK_OK(ts_wset_put(ws, 5, key, 6, key, 6));
		saved[i] = ts_wset_get(ws, 5, key, 6);
		CHECK(saved[i] != NULL);
	}
	/* Many inserts in between (arena grows) and replacements of each kind. */
	for (int i = 0; i < 100000; i++)
	{
		snprintf(key, sizeof(key), "k%05d", i);
		if (i % 1000 == 0)
		{
			size_t		vlen = (size_t) (i / 1000) * 50;	/* 0 .. 4950 */

			memset(valbuf, i / 1000, vlen);
			CHECK_OK(ts_wset_put(ws, 5, key, 6, valbuf, vlen));
		}
		else
			CHECK_OK(ts_wset_put(ws, 5, key, 6, NULL, 0));
	}
	CHECK(ts_wset_count(ws) == 100000);
	for (int i = 0; i < 100; i++)
	{
		snprintf(key, sizeof(key), "k%05d", i * 1000);
		CHECK(ts_wset_get(ws, 5, key, 6) == saved[i]);
		CHECK(memcmp(saved[i]->key, key, 6) == 0);
		CHECK(saved[i]->vlen == (size_t) i * 50);
		for (size_t j = 0; j < saved[i]->vlen; j++)
			CHECK(saved[i]->val[j] == i);
	}
	ts_wset_free(ws);
}

TEST(aliasing_puts)
{
	ts_wset    *ws = ts_wset_new();
	const ts_wentry *a,
			   *b;
	uint8_t    *big = malloc(50000);

	CHECK(ws != NULL && big != NULL);
	for (size_t i = 0; i < 50000; i++)
		big[i] = (uint8_t) (i * 13);
	CHECK_OK(ts_wset_put(ws, 1, "a", 1, big, 50000));
	CHECK_OK(ts_wset_put(ws, 1, "b", 1, "0123456789", 10));
	a = ts_wset_get(ws, 1, "a", 1);
	b = ts_wset_get(ws, 1, "b", 1);

	/* A value taken from the entry itself: external, then slot. */
	CHECK_OK(ts_wset_put(ws, 1, "a", 1, a->val + 100, 20000));
	CHECK(a->vlen == 20000 && memcmp(a->val, big + 100, 20000) == 0);
	CHECK_OK(ts_wset_put(ws, 1, "a", 1, a->val + 1, 10));
	CHECK(a->vlen == 10 && memcmp(a->val, big + 101, 10) == 0);
	CHECK_OK(ts_wset_put(ws, 1, "b", 1, b->val + 2, 5));
	CHECK(b->vlen == 5 && memcmp(b->val, "23456", 5) == 0);
	/* From another entry into a new entry and over an existing one. */
	CHECK_OK(ts_wset_put(ws, 1, "c", 1, b->val, b->vlen));
	CHECK_OK(ts_wset_put(ws, 1, "b", 1, a->val, a->vlen));
	CHECK(memcmp(ts_wset_get(ws, 1, "c", 1)->val, "23456", 5) == 0);
	CHECK(b->vlen == 10 && memcmp(b->val, big + 101, 10) == 0);
	/* A key taken from an entry. */
	CHECK_OK(ts_wset_put(ws, 2, a->key, a->klen, NULL, 0));
	CHECK(ts_wset_get(ws, 2, "a", 1)->val == NULL);
	free(big);
	ts_wset_free(ws);
}

TEST(large_values_and_bytes)
{
	ts_wset    *ws = ts_wset_new();
	size_t		mb = (size_t) 1 << 20;
	uint8_t    *v = malloc(16 * mb);
	const ts_wentry *e;
	size_t		b0,
				b1;

	CHECK(ws != NULL && v != NULL);
	CHECK(ts_wset_count(ws) == 0 && ts_wset_bytes(ws) == 0);
	for (size_t i = 0; i < 16 * mb; i++)
		v[i] = (uint8_t) (i ^ (i >> 9));
	CHECK_OK(ts_wset_put(ws, 3, "big", 3, v, 8 * mb));
	e = ts_wset_get(ws, 3, "big", 3);
	CHECK(e && e->vlen == 8 * mb && memcmp(e->val, v, 8 * mb) == 0);
	b0 = ts_wset_bytes(ws);
	/* Big values live outside the arena: bytes ~ value + a small node. */
	CHECK(b0 >= 8 * mb && b0 < 8 * mb + 4096);

	CHECK_OK(ts_wset_put(ws, 3, "big", 3, v + 1, 16 * mb - 1));
	CHECK(ts_wset_get(ws, 3, "big", 3) == e);
	CHECK(e->vlen == 16 * mb - 1 && memcmp(e->val, v + 1, 16 * mb - 1) == 0);
	CHECK(ts_wset_bytes(ws) == b0 + 8 * mb - 1);	/* the old one was freed */

	CHECK_OK(ts_wset_put(ws, 3, "big", 3, "small", 5));
	CHECK(e->vlen == 5 && memcmp(e->val, "small", 5) == 0);
	b1 = ts_wset_bytes(ws);
	CHECK(b1 < 4096);

	CHECK_OK(ts_wset_put(ws, 3, "big", 3, NULL, 0));
	CHECK(e->val == NULL && ts_wset_bytes(ws) == b1);
	CHECK_OK(ts_wset_put(ws, 3, "big", 3, v, 3 * mb));
	CHECK(memcmp(e->val, v, 3 * mb) == 0 && ts_wset_bytes(ws) == b1 + 3 * mb);
	/* Another big entry; freeing with external values must not leak. */
	CHECK_OK(ts_wset_put(ws, 3, "big2", 4, v, 5 * mb));
	CHECK(ts_wset_count(ws) == 2);
	free(v);
	ts_wset_free(ws);
	ts_wset_free(NULL);
}

TEST(rewrites_are_bounded)
{
	ts_wset    *ws = ts_wset_new();
	size_t		after_first;

	CHECK(ws != NULL);
	CHECK_OK(ts_wset_put(ws, 1, "k", 1, valbuf, 10));
	after_first = ts_wset_bytes(ws);
	/* Same-size and shrinking rewrites reuse the slot: no growth at all. */
	for (int i = 0; i < 10000; i++)
		CHECK_OK(ts_wset_put(ws, 1, "k", 1, valbuf, (size_t) (10 - i % 11)));
	CHECK(ts_wset_bytes(ws) == after_first);
	/* Growing, shrinking, tombstones, big values: bounded garbage. */
	for (int i = 0; i < 100000; i++)
	{
		size_t		vlen = rng() % 5000;

		CHECK_OK(ts_wset_put(ws, 1, "k", 1, i % 7 ? valbuf : NULL, vlen));
	}
	CHECK(ts_wset_bytes(ws) < 5000 + 3 * 2048 + 256);
	CHECK(ts_wset_count(ws) == 1);
	ts_wset_free(ws);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Hundreds of thousands of entries in random order; O(log n) operations. */
TEST(many_entries)
{
	enum
	{
		N = 400000
	};
	ts_wset    *ws = ts_wset_new();
	uint8_t		key[8],
				prev[8];
	const ts_wentry *e;
	double		t0,
				t1,
				t2;
	size_t		n = 0;

	CHECK(ws != NULL);
	t0 = now_sec();
	for (uint64_t i = 0; i < N; i++)
	{
		/* A bijection on 32 bits: distinct keys in scrambled order. */
		uint32_t	k = (uint32_t) (i * 2654435761u);

		for (int b = 0; b < 4; b++)
			key[b] = (uint8_t) (k >> (24 - 8 * b));
		CHECK_OK(ts_wset_put(ws, (uint32_t) (i % 3), key, 4, key, 4));
	}
	t1 = now_sec();
	for (uint64_t i = 0; i < N; i++)
	{
		uint32_t	k = (uint32_t) (i * 2654435761u);

		for (int b = 0; b < 4; b++)
			key[b] = (uint8_t) (k >> (24 - 8 * b));
		e = ts_wset_get(ws, (uint32_t) (i % 3), key, 4);
		CHECK(e != NULL && e->vlen == 4 && memcmp(e->val, key, 4) == 0);
	}
	t2 = now_sec();
	CHECK(ts_wset_count(ws) == N);
	uint32_t	ptree = 0;

	for (e = ts_wset_begin(ws); e; e = ts_wset_next(ws, e), n++)
	{
		if (n > 0)
			CHECK(e->tree > ptree ||
				  (e->tree == ptree && memcmp(prev, e->key, 4) < 0));
		ptree = e->tree;
		memcpy(prev, e->key, 4);
	}
	CHECK(n == N);
	printf("# %d entries: put %.0f ns/op, get %.0f ns/op, %zu bytes (%.0f per entry)\n",
		   N, (t1 - t0) / N * 1e9, (t2 - t1) / N * 1e9, ts_wset_bytes(ws),
		   (double) ts_wset_bytes(ws) / N);
	ts_wset_free(ws);
}

/* ---------- savepoints ---------- */

/* A deep copy of the reference (its state at a mark). */
typedef struct ref_copy
{
	ref_ent    *ents;
	size_t		n;
} ref_copy;

static ref_copy
ref_save(void)
{
	ref_copy	c = {malloc((nref ? nref : 1) * sizeof(ref_ent)), nref};

	CHECK(c.ents != NULL);
	for (size_t i = 0; i < nref; i++)
	{
		c.ents[i] = *ref[i];
		if (ref[i]->val)
		{
			c.ents[i].val = malloc(ref[i]->vlen ? ref[i]->vlen : 1);
			CHECK(c.ents[i].val != NULL);
			memcpy(c.ents[i].val, ref[i]->val, ref[i]->vlen);
		}
	}
	return c;
}

static void
ref_restore(const ref_copy *c)
{
	ref_free();
	for (size_t i = 0; i < c->n; i++)
		ref_put(c->ents[i].tree, c->ents[i].key, c->ents[i].klen,
				c->ents[i].tomb ? NULL : (c->ents[i].val ? c->ents[i].val : (const uint8_t *) ""),
				c->ents[i].vlen);
}

static void
ref_copy_free(ref_copy *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->ents[i].val);
	free(c->ents);
	c->ents = NULL;
	c->n = 0;
}

/*
 * Random puts (tombstones, small, slot-straddling and external values),
 * marks, rollbacks and releases; after every rollback the set must be
 * exactly the reference's copy from the mark: the same entries (a key
 * first written after the mark is absent, not a tombstone), values and
 * tombstones.  Entry pointers of entries older than a mark stay valid.
 */
TEST(savepoints_against_reference)
{
	enum
	{
		MAXM = 40
	};
	ts_wset    *ws = ts_wset_new();
	uint64_t	marks[MAXM],
				tag;
	ref_copy	saved[MAXM];
	int			nm = 0;
	uint8_t		key[8];
	long		counts[4] = {0};

	CHECK(ws != NULL);
	for (int op = 0; op < 120000; op++)
	{
		unsigned	p = (unsigned) (rng() % 100);

		if (p < 70)
		{
			uint32_t	tree = trees[rng() % 4];
			size_t		klen = rand_key(key, 4, 0);
			size_t		vlen;
			const uint8_t *val = rand_val(&vlen);

			CHECK_OK(ts_wset_put(ws, tree, key, klen, val, vlen));
			ref_put(tree, key, klen, val, vlen);
			counts[0]++;
		}
		else if (p < 80 && nm < MAXM)
		{
			CHECK_OK(ts_wset_mark(ws, (uint64_t) nm * 10, &marks[nm]));
			CHECK(nm == 0 || marks[nm] > marks[nm - 1]);
			saved[nm++] = ref_save();
			CHECK(ts_wset_marks(ws) == (size_t) nm);
			counts[1]++;
		}
		else if (p < 92 && nm > 0)
		{
			int			i = rng() % 2 ? nm - 1 : (int) (rng() % (uint64_t) nm);

			CHECK_OK(ts_wset_rollback(ws, marks[i], &tag));
			CHECK(tag == (uint64_t) i * 10);
			ref_restore(&saved[i]);
			while (nm > i + 1)
			{
				CHECK_ERR(ts_wset_rollback(ws, marks[nm - 1], NULL), TS_INVALID);
				ref_copy_free(&saved[--nm]);
			}
			CHECK(ts_wset_marks(ws) == (size_t) nm);
			check_all(ws);
			counts[2]++;
		}
		else if (p < 95 && nm > 0)
		{
			int			i = (int) (rng() % (uint64_t) nm);

			CHECK_OK(ts_wset_release(ws, marks[i]));
			while (nm > i)
			{
				CHECK_ERR(ts_wset_release(ws, marks[nm - 1]), TS_INVALID);
				ref_copy_free(&saved[--nm]);
			}
			CHECK(ts_wset_marks(ws) == (size_t) nm);
			check_all(ws);
			counts[3]++;
		}
		else if (p < 96)
		{
			/* start over now and then, so that the set stays small */
			ts_wset_free(ws);
			ws = ts_wset_new();
			CHECK(ws != NULL);
			ref_free();
			while (nm > 0)
				ref_copy_free(&saved[--nm]);
		}
		if (op % 1000 == 0)
			check_all(ws);
	}
	check_all(ws);
	printf("# %ld puts, %ld marks, %ld rollbacks, %ld releases\n",
		   counts[0], counts[1], counts[2], counts[3]);
	CHECK(counts[2] > 100 && counts[3] > 100);
	ts_wset_free(ws);			/* with live marks: LeakSanitizer checks */
	ref_free();
	while (nm > 0)
		ref_copy_free(&saved[--nm]);
}

/*
 * A rollback gives back the memory taken since its mark, and entries made
 * before the mark keep their addresses; without a mark nothing is logged.
 */
TEST(savepoint_memory)
{
	ts_wset    *ws = ts_wset_new();
	const ts_wentry *e0;
	uint64_t	m;
	size_t		before,
				after_first = 0;
	char		k[16];

	CHECK(ws != NULL);
	for (int i = 0; i < 1000; i++)
	{
		snprintf(k, sizeof(k), "base%04d", i);
		CHECK_OK(ts_wset_put(ws, 1, k, strlen(k), valbuf, (size_t) (i % 50)));
	}
	CHECK_OK(ts_wset_put(ws, 1, "ext", 3, valbuf, 5000));
	e0 = ts_wset_get(ws, 1, "base0001", 8);
	before = ts_wset_bytes(ws);
	CHECK_OK(ts_wset_mark(ws, 0, &m));
	for (int round = 0; round < 50; round++)
	{
		for (int i = 0; i < 2000; i++)
		{
			snprintf(k, sizeof(k), "new%06d", i);
			CHECK_OK(ts_wset_put(ws, (uint32_t) (i % 3), k, strlen(k), valbuf, (size_t) (i % 3000)));
		}
		for (int i = 0; i < 1000; i += 3)
		{
			snprintf(k, sizeof(k), "base%04d", i);
			CHECK_OK(ts_wset_put(ws, 1, k, strlen(k), i % 2 ? NULL : valbuf, 3000));
		}
		CHECK_OK(ts_wset_put(ws, 1, "ext", 3, valbuf, 100));
		CHECK_OK(ts_wset_rollback(ws, m, NULL));
		CHECK(ts_wset_count(ws) == 1001);
		CHECK(ts_wset_get(ws, 1, "base0001", 8) == e0);
		CHECK(e0->vlen == 1);
		CHECK(ts_wset_get(ws, 1, "ext", 3)->vlen == 5000);
		/* the undo log's capacity is kept while the mark lives; nothing else */
		if (round == 0)
			after_first = ts_wset_bytes(ws);
		CHECK_MSG(ts_wset_bytes(ws) == after_first, "round %d: %zu bytes, %zu after the first",
				  round, ts_wset_bytes(ws), after_first);
	}
	/* with no mark left, the log goes: back to the bytes before the mark */
	CHECK_OK(ts_wset_release(ws, m));
	CHECK(ts_wset_bytes(ws) == before);
	CHECK(ts_wset_marks(ws) == 0);
	ts_wset_free(ws);
}

TEST_MAIN(randomized_against_reference, every_seek_at_boundaries,
		  order_across_trees, pointers_stable_and_replace_in_place,
		  aliasing_puts, large_values_and_bytes, rewrites_are_bounded,
		  many_entries, savepoints_against_reference, savepoint_memory)
