/*
 * test_docindex.c
 *	  The document indexes (engine/docindex.c) against a model: random trees
 *	  written in random order (children before their parents), moved,
 *	  deleted and re-inserted; subtree, children, ancestors and pages checked
 *	  against the model's pre-order after every step; orphans, cycles and
 *	  trees too deep for the order keys report TS_DOCINDEX_IRREGULAR; BM25
 *	  search ranks and follows deletes; the temporal rule's edges; the
 *	  incoming cross references; truncate empties the indexes; two threads
 *	  writing and querying at once.
 */
#include <pthread.h>

#include "docindex.h"
#include "txnhelpers.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define MAXN 400

typedef struct MNode
{
	char		id[16];
	int			parent;			/* -1: top level */
	int			ordinal;
	int			start,
				end;			/* start < 0: no pages */
	int			present;
} MNode;

static MNode m[MAXN];
static int	mn;

static ts_env *env;
static ts_docindex ix;
static ts_docindex_batch *batch;
static int	st_nodes,
			st_versions,
			st_xrefs;

static void
setup(const char *tag)
{
	ts_txn	   *w;

	env = open_env(tag, 1);
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_docindex_open(w, &ix));
	CHECK_OK(ts_txn_commit(w));
	st_nodes = ix.st_nodes;
	st_versions = ix.st_versions;
	st_xrefs = ix.st_xrefs;
	batch = ts_docindex_batch_new();
	CHECK(batch != NULL);
}

static void
teardown(void)
{
	ts_docindex_batch_free(batch);
	CHECK_OK(ts_env_close(env));
	th_rmdir(env_dir);
}

static ts_colval
tv(const char *s)
{
	ts_colval	v;

	memset(&v, 0, sizeof(v));
	if (s == NULL)
		v.isnull = 1;
	else
	{
		v.data = (const uint8_t *) s;
		v.len = strlen(s);
	}
	return v;
}

static ts_colval
iv(int64_t i, int isnull)
{
	ts_colval	v;

	memset(&v, 0, sizeof(v));
	v.i = i;
	v.isnull = isnull;
	return v;
}

/* Encode model node i as a nodes row of (p, v). */
static void
node_row(const char *p, const char *v, int i, uint8_t *key, size_t *klen, ts_buf *rec)
{
	const ts_store *s = &ts_stores[st_nodes];
	ts_colval	c[TS_STORE_MAX_COLS];

	for (int k = 0; k < s->ncols; k++)
		c[k] = iv(0, 1);
	c[0] = tv(p);
	c[1] = tv(v);
	c[2] = tv(m[i].id);
	c[3] = tv(m[i].parent >= 0 ? m[m[i].parent].id : NULL);
	c[4] = iv(m[i].ordinal, 0);
	c[7] = tv(m[i].id);
	if (m[i].start >= 0)
	{
		c[8] = iv(m[i].start, 0);
		c[9] = iv(m[i].end, 0);
	}
	CHECK_OK(ts_store_key(s, c, 3, key, klen));
	rec->len = 0;
	CHECK_OK(ts_rec_encode(s, c, rec));
}

/* Write (or delete) model node i through the table and the indexes. */
static void
write_node(ts_txn *w, const char *p, const char *v, int i, int del, const uint8_t *terms,
		   size_t tlen)
{
	uint8_t		key[TS_MAX_KEY];
	size_t		klen;
	ts_buf		rec = {0};
	ts_slice	old;
	uint8_t    *ocopy = NULL;
	size_t		olen = 0;
	int			had;

	node_row(p, v, i, key, &klen, &rec);
	had = ts_get(w, ix.nodes, key, klen, &old) == 0;
	if (had)
	{
		ocopy = malloc(old.len + 1);
		memcpy(ocopy, old.data, old.len);
		olen = old.len;
	}
	if (del)
		CHECK_OK(ts_del(w, ix.nodes, key, klen));
	else
		CHECK_OK(ts_put(w, ix.nodes, key, klen, rec.data, rec.len, 0));
	CHECK_OK(ts_docindex_changed(w, &ix, batch, st_nodes,
								 had ? key : NULL, klen, ocopy, olen,
								 del ? NULL : key, klen, rec.data, rec.len, terms, tlen));
	free(ocopy);
	ts_buf_free(&rec);
}

/* ---- the model's answers ---- */

static int
sib_cmp(const void *a, const void *b)
{
	const MNode *x = &m[*(const int *) a],
			   *y = &m[*(const int *) b];

	if (x->ordinal != y->ordinal)
		return x->ordinal < y->ordinal ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
model_children(int parent, int *out)
{
	int			n = 0;

	for (int i = 0; i < mn; i++)
		if (m[i].present && m[i].parent == parent)
			out[n++] = i;
	qsort(out, n, sizeof(int), sib_cmp);
	return n;
}

/* pre-order from start (-1: all top level), levels <= maxd below (-1: all) */
static int
model_preorder(int start, int maxd, int *out)
{
	int			stack[MAXN],
				lvl[MAXN],
				top = 0,
				n = 0;
	int			kids[MAXN];

	if (start >= 0)
	{
		stack[top] = start;
		lvl[top++] = 0;
	}
	else
	{
		int			k = model_children(-1, kids);

		for (int j = k - 1; j >= 0; j--)
		{
			stack[top] = kids[j];
			lvl[top++] = 0;
		}
	}
	while (top > 0)
	{
		int			i = stack[--top],
					l = lvl[top];
		int			k;

		out[n++] = i;
		if (maxd >= 0 && l >= maxd)
			continue;
		k = model_children(i, kids);
		for (int j = k - 1; j >= 0; j--)
		{
			stack[top] = kids[j];
			lvl[top++] = l + 1;
		}
	}
	return n;
}

/* ---- what the indexes answer ---- */

typedef struct Got
{
	char		ids[4096][16];
	double		score[4096];
	int			n;
} Got;

static Got	got;

static int
collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, double score)
{
	ts_colval	c[TS_STORE_MAX_COLS];
	uint8_t		scratch[TS_MAX_KEY];
	Got		   *g = arg;

	(void) val;
	(void) vlen;
	memset(c, 0, sizeof(c));
	if (ts_store_key_decode(&ts_stores[st_nodes], key, klen, c, scratch, sizeof(scratch)) != 0 ||
		c[2].len >= 16 || g->n >= 4096)
		return TS_CORRUPT;
	memcpy(g->ids[g->n], c[2].data, c[2].len);
	g->ids[g->n][c[2].len] = 0;
	g->score[g->n] = score;
	g->n++;
	return 0;
}

static void
expect_same(const int *want, int n, const char *what)
{
	CHECK_MSG(got.n == n, "%s: %d rows, expected %d", what, got.n, n);
	for (int i = 0; i < n; i++)
		CHECK_MSG(strcmp(got.ids[i], m[want[i]].id) == 0, "%s: row %d is %s, expected %s",
				  what, i, got.ids[i], m[want[i]].id);
}

#define P "pol", 3
#define V "v1", 2
#define ID(i) (const uint8_t *) m[i].id, strlen(m[i].id)

static void
check_all(ts_txn *r)
{
	int			want[MAXN];
	int			n;

	got.n = 0;
	CHECK_OK(ts_docindex_subtree(r, &ix, (const uint8_t *) P, (const uint8_t *) V, NULL, 0, -1,
								 collect, &got));
	n = model_preorder(-1, -1, want);
	expect_same(want, n, "whole document");
	got.n = 0;
	CHECK_OK(ts_docindex_children(r, &ix, (const uint8_t *) P, (const uint8_t *) V, NULL, 0,
								  collect, &got));
	n = model_children(-1, want);
	expect_same(want, n, "top level");
	for (int t = 0; t < 20; t++)
	{
		int			i = (int) (rnd() % mn);
		int			d = (int) (rnd() % 4) - 1;
		int			chain[MAXN],
					c = 0;

		if (!m[i].present)
			continue;
		got.n = 0;
		CHECK_OK(ts_docindex_subtree(r, &ix, (const uint8_t *) P, (const uint8_t *) V, ID(i), d,
									 collect, &got));
		n = model_preorder(i, d, want);
		expect_same(want, n, "subtree");
		got.n = 0;
		CHECK_OK(ts_docindex_children(r, &ix, (const uint8_t *) P, (const uint8_t *) V, ID(i),
									  collect, &got));
		n = model_children(i, want);
		expect_same(want, n, "children");
		for (int j = i; j >= 0; j = m[j].parent)
			chain[c++] = j;
		for (int j = 0; j < c; j++)
			want[j] = chain[c - 1 - j];
		got.n = 0;
		CHECK_OK(ts_docindex_ancestors(r, &ix, (const uint8_t *) P, (const uint8_t *) V, ID(i),
									   collect, &got));
		expect_same(want, c, "ancestors");
	}
	for (int page = 0; page < 60; page += 7)
	{
		int			all[MAXN],
					na = model_preorder(-1, -1, all);

		n = 0;
		for (int j = 0; j < na; j++)
			if (m[all[j]].start >= 0 && m[all[j]].start <= page && page <= m[all[j]].end)
				want[n++] = all[j];
		got.n = 0;
		CHECK_OK(ts_docindex_by_page(r, &ix, (const uint8_t *) P, (const uint8_t *) V, page,
									 collect, &got));
		expect_same(want, n, "pages");
	}
}

static void
random_tree(int n)
{
	mn = n;
	for (int i = 0; i < n; i++)
	{
		snprintf(m[i].id, sizeof(m[i].id), "n%03d", (int) (rnd() % 1000));
		for (int j = 0; j < i; j++)
			if (strcmp(m[j].id, m[i].id) == 0)
			{
				snprintf(m[i].id, sizeof(m[i].id), "x%04d", i);
				break;
			}
		m[i].parent = i == 0 || rnd() % 8 == 0 ? -1 : (int) (rnd() % i);
		m[i].ordinal = (int) (rnd() % 5) - (rnd() % 10 == 0 ? 300 : 0) + (rnd() % 20 == 0 ? 70000 : 0);
		m[i].start = rnd() % 6 == 0 ? -1 : (int) (rnd() % 50);
		m[i].end = m[i].start + (rnd() % 10 == 0 ? 40 : (int) (rnd() % 3));
		m[i].present = 0;
	}
}

static int
is_regular(ts_txn *r)
{
	got.n = 0;
	return ts_docindex_subtree(r, &ix, (const uint8_t *) P, (const uint8_t *) V, NULL, 0, -1,
							   collect, &got) == 0;
}

TEST(test_tree_model)
{
	setup("docindex-tree");
	for (int round = 0; round < 6; round++)
	{
		ts_txn	   *w;
		int			order[MAXN];

		random_tree(150 + (int) (rnd() % 150));
		for (int i = 0; i < mn; i++)
			order[i] = i;
		for (int i = mn - 1; i > 0; i--)
		{
			int			j = (int) (rnd() % (i + 1)),
						t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		/* random order: children often come before their parents */
		CHECK_OK(ts_txn_begin(env, 0, &w));
		for (int i = 0; i < mn; i++)
		{
			write_node(w, "pol", "v1", order[i], 0, NULL, 0);
			m[order[i]].present = 1;
			if (rnd() % 40 == 0)
				CHECK_OK(ts_docindex_flush(w, &ix, batch));
		}
		CHECK_OK(ts_docindex_flush(w, &ix, batch));
		CHECK(is_regular(w));
		check_all(w);
		CHECK_OK(ts_txn_commit(w));

		/* move nodes (not under their own subtree) and change ordinals */
		CHECK_OK(ts_txn_begin(env, 0, &w));
		for (int t = 0; t < 10; t++)
		{
			int			i = (int) (rnd() % mn),
						np = (int) (rnd() % mn),
						a;

			for (a = np; a >= 0 && a != i; a = m[a].parent)
				;
			if (a == i)
				np = -1;		/* would make a cycle: to the top level */
			m[i].parent = np;
			m[i].ordinal = (int) (rnd() % 7);
			write_node(w, "pol", "v1", i, 0, NULL, 0);
		}
		CHECK_OK(ts_docindex_flush(w, &ix, batch));
		CHECK(is_regular(w));
		check_all(w);

		/* delete an inner node: its children are orphans */
		{
			int			i;

			for (i = 0; i < mn; i++)
			{
				int			kids[MAXN];

				if (model_children(i, kids) > 0)
					break;
			}
			if (i < mn)
			{
				write_node(w, "pol", "v1", i, 1, NULL, 0);
				CHECK_OK(ts_docindex_flush(w, &ix, batch));
				CHECK(!is_regular(w));
				/* children of a present node still answer; the deleted has none */
				got.n = 0;
				CHECK_OK(ts_docindex_children(w, &ix, (const uint8_t *) P, (const uint8_t *) V,
											  ID(i), collect, &got));
				CHECK(got.n == 0);
				write_node(w, "pol", "v1", i, 0, NULL, 0);
				CHECK_OK(ts_docindex_flush(w, &ix, batch));
				CHECK(is_regular(w));
				check_all(w);
			}
		}
		/* everything deleted, in random order: the version's counters go */
		for (int i = 0; i < mn; i++)
		{
			write_node(w, "pol", "v1", order[i], 1, NULL, 0);
			m[order[i]].present = 0;
		}
		CHECK_OK(ts_docindex_flush(w, &ix, batch));
		{
			ts_keybuf	kb;
			ts_slice	s;

			ts_key_init(&kb);
			ts_key_add_text(&kb, "pol", 3);
			ts_key_add_text(&kb, "v1", 2);
			CHECK_ERR(ts_get(w, ix.vmeta, kb.buf, kb.len, &s), TS_NOTFOUND);
		}
		CHECK(is_regular(w) && got.n == 0);
		CHECK_OK(ts_txn_commit(w));
		CHECK_OK(ts_env_check(env));
	}
	teardown();
}

TEST(test_cycles_and_depth)
{
	ts_txn	   *w;

	setup("docindex-cycle");
	CHECK_OK(ts_txn_begin(env, 0, &w));
	/* a and b each other's parent: never placed, the version irregular */
	mn = 3;
	strcpy(m[0].id, "a");
	strcpy(m[1].id, "b");
	strcpy(m[2].id, "c");
	m[0].parent = 1;
	m[1].parent = 0;
	m[2].parent = -1;
	for (int i = 0; i < 3; i++)
	{
		m[i].ordinal = i;
		m[i].start = -1;
		write_node(w, "pol", "v1", i, 0, NULL, 0);
	}
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	CHECK(!is_regular(w));
	/* break the cycle: a to the top level */
	m[0].parent = -1;
	write_node(w, "pol", "v1", 0, 0, NULL, 0);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	CHECK(is_regular(w));
	CHECK(got.n == 3 && strcmp(got.ids[0], "a") == 0 && strcmp(got.ids[1], "b") == 0);
	/* a self-parent */
	m[2].parent = 2;
	write_node(w, "pol", "v1", 2, 0, NULL, 0);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	CHECK(!is_regular(w));
	ts_txn_abort(w);

	/* a chain deeper than an order key holds: irregular, then fine when cut */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	mn = 300;
	for (int i = 0; i < mn; i++)
	{
		snprintf(m[i].id, sizeof(m[i].id), "d%03d", i);
		m[i].parent = i - 1;
		m[i].ordinal = 0;
		m[i].start = -1;
		m[i].present = 1;
		write_node(w, "pol", "v2", i, 0, NULL, 0);
	}
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	got.n = 0;
	CHECK_ERR(ts_docindex_subtree(w, &ix, (const uint8_t *) P, (const uint8_t *) "v2", 2, NULL, 0, -1,
								  collect, &got), TS_DOCINDEX_IRREGULAR);
	for (int i = 100; i < mn; i++)
		write_node(w, "pol", "v2", i, 1, NULL, 0);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	got.n = 0;
	CHECK_OK(ts_docindex_subtree(w, &ix, (const uint8_t *) P, (const uint8_t *) "v2", 2, NULL, 0, -1,
								 collect, &got));
	CHECK(got.n == 100);
	ts_txn_abort(w);
	teardown();
}

/* terms: n, then (term, title count, body count) */
static size_t
make_terms(uint8_t *out, const char *const *terms, const int *tt, const int *tb, int n)
{
	ts_buf		b = {0};
	size_t		len;

	CHECK_OK(ts_varint_put(&b, (uint64_t) n));
	for (int i = 0; i < n; i++)
	{
		CHECK_OK(ts_varint_put(&b, strlen(terms[i])));
		CHECK_OK(ts_buf_append(&b, terms[i], strlen(terms[i])));
		CHECK_OK(ts_varint_put(&b, (uint64_t) tt[i]));
		CHECK_OK(ts_varint_put(&b, (uint64_t) tb[i]));
	}
	len = b.len;
	memcpy(out, b.data, len);
	ts_buf_free(&b);
	return len;
}

static void
search(ts_txn *r, const char *policy, const char *term, uint32_t top_k)
{
	ts_search_args a;
	const uint8_t *t = (const uint8_t *) term;
	size_t		tl = strlen(term);

	memset(&a, 0, sizeof(a));
	a.policy = (const uint8_t *) policy;
	a.plen = policy ? strlen(policy) : 0;
	a.today = 9000;
	a.terms = &t;
	a.term_lens = &tl;
	a.nterms = 1;
	a.top_k = top_k;
	got.n = 0;
	CHECK_OK(ts_docindex_search(r, &ix, &a, collect, &got));
}

static void
put_version(ts_txn *w, const char *p, const char *v, int from, int to)
{
	const ts_store *s = &ts_stores[st_versions];
	ts_colval	c[TS_STORE_MAX_COLS];
	uint8_t		key[TS_MAX_KEY];
	size_t		klen;
	ts_buf		rec = {0};

	for (int k = 0; k < s->ncols; k++)
		c[k] = iv(0, 1);
	c[0] = tv(p);
	c[1] = tv(v);
	c[2] = iv(from, from < 0);
	c[3] = iv(to, to < 0);
	CHECK_OK(ts_store_key(s, c, 2, key, &klen));
	CHECK_OK(ts_rec_encode(s, c, &rec));
	{
		ts_slice	old;
		uint8_t		ocopy[256];
		int			had = ts_get(w, ix.versions, key, klen, &old) == 0;

		if (had)
		{
			CHECK(old.len <= sizeof(ocopy));
			memcpy(ocopy, old.data, old.len);
		}
		CHECK_OK(ts_put(w, ix.versions, key, klen, rec.data, rec.len, 0));
		CHECK_OK(ts_docindex_changed(w, &ix, batch, st_versions, had ? key : NULL, klen,
									 ocopy, had ? old.len : 0,
									 key, klen, rec.data, rec.len, NULL, 0));
	}
	ts_buf_free(&rec);
}

TEST(test_search)
{
	ts_txn	   *w;
	uint8_t		t1[256],
				t2[256],
				t3[256];
	const char *terms[] = {"coverag", "knee"};
	int			a1[] = {1, 0},
				b1[] = {0, 2},
				a2[] = {0, 0},
				b2[] = {1, 5},
				a3[] = {0},
				b3[] = {1};
	size_t		l1,
				l2,
				l3;

	setup("docindex-search");
	l1 = make_terms(t1, terms, a1, b1, 2);	/* "coverag" in the title */
	l2 = make_terms(t2, terms, a2, b2, 2);	/* "coverag" once in the body */
	l3 = make_terms(t3, terms, a3, b3, 1);
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_version(w, "pol", "v1", 100, -1);
	put_version(w, "other", "v1", 100, -1);
	mn = 3;
	for (int i = 0; i < 3; i++)
	{
		snprintf(m[i].id, sizeof(m[i].id), "%04d", i);
		m[i].parent = -1;
		m[i].ordinal = i;
		m[i].start = -1;
	}
	write_node(w, "pol", "v1", 0, 0, t1, l1);
	write_node(w, "pol", "v1", 1, 0, t2, l2);
	write_node(w, "other", "v1", 2, 0, t3, l3);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	search(w, "pol", "coverag", 10);
	CHECK(got.n == 2 && strcmp(got.ids[0], "0000") == 0 && got.score[0] > got.score[1]);
	search(w, NULL, "coverag", 10);
	CHECK(got.n == 3);
	search(w, NULL, "coverag", 1);
	CHECK(got.n == 1 && strcmp(got.ids[0], "0000") == 0);
	search(w, "pol", "knee", 10);
	CHECK(got.n == 2 && strcmp(got.ids[0], "0001") == 0);	/* 5 times in a short body */
	search(w, "pol", "nothing", 10);
	CHECK(got.n == 0);
	/* an update replaces the node's terms, a delete removes them */
	write_node(w, "pol", "v1", 0, 0, t3, l3);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	search(w, "pol", "knee", 10);
	CHECK(got.n == 1 && strcmp(got.ids[0], "0001") == 0);
	write_node(w, "pol", "v1", 1, 1, NULL, 0);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	search(w, "pol", "knee", 10);
	CHECK(got.n == 0);
	search(w, "pol", "coverag", 10);
	CHECK(got.n == 1 && strcmp(got.ids[0], "0000") == 0);
	/* a version not in force is not searched */
	put_version(w, "pol", "v0", 10, 50);
	write_node(w, "pol", "v0", 1, 0, t2, l2);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	search(w, "pol", "knee", 10);
	CHECK(got.n == 0);
	search(w, NULL, "knee", 10);
	CHECK(got.n == 0);
	/* truncate empties the postings */
	CHECK_OK(ts_docindex_truncate(w, &ix, st_nodes));
	search(w, "pol", "coverag", 10);
	CHECK(got.n == 0);
	ts_txn_abort(w);
	teardown();
}

/* Posting lists split into chunks and merged back: random adds and removes
 * in random batches, membership checked against a model. */
TEST(test_postings_chunks)
{
	ts_txn	   *w;
	static int	present[3000];
	uint8_t		t1[64];
	const char *terms[] = {"t"};
	int			a1[] = {1},
				b1[] = {2};
	size_t		l1;

	setup("docindex-chunks");
	l1 = make_terms(t1, terms, a1, b1, 1);
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_version(w, "pol", "v1", 100, -1);
	CHECK_OK(ts_docindex_flush(w, &ix, batch));
	mn = 1;
	m[0].parent = -1;
	m[0].ordinal = 0;
	m[0].start = -1;
	for (int round = 0; round < 12; round++)
	{
		int			ops = 1 + (int) (rnd() % 1500);

		for (int o = 0; o < ops; o++)
		{
			int			id = (int) (rnd() % 3000);
			int			del = present[id] && rnd() % 3 == 0;

			snprintf(m[0].id, sizeof(m[0].id), "%d", id);	/* not zero-padded: bytewise order differs */
			write_node(w, "pol", "v1", 0, del, t1, l1);
			present[id] = !del;
		}
		CHECK_OK(ts_docindex_flush(w, &ix, batch));
		{
			int			want = 0;
			static char seen[3000];

			for (int i = 0; i < 3000; i++)
				want += present[i];
			search(w, "pol", "t", 100000);
			CHECK_MSG(got.n == want, "round %d: %d hits, expected %d", round, got.n, want);
			memset(seen, 0, sizeof(seen));
			for (int i = 0; i < got.n; i++)
			{
				int			id = atoi(got.ids[i]);

				CHECK(id >= 0 && id < 3000 && present[id] && !seen[id]);
				seen[id] = 1;
			}
		}
	}
	/* more than one chunk exists, none over CHUNK_MAX entries */
	{
		ts_cursor  *c;
		int			chunks = 0;

		CHECK_OK(ts_cursor_open(w, ix.postings, &c));
		for (int rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						v;
			size_t		pos = 0;
			uint32_t	cnt;

			CHECK_OK(ts_cursor_get(c, &k, &v));
			CHECK_OK(ts_varint_get(v.data, v.len, &pos, &cnt));
			CHECK(cnt >= 1 && cnt <= 512);
			chunks++;
		}
		ts_cursor_close(c);
		CHECK(chunks > 2);
	}
	ts_txn_abort(w);
	teardown();
}

static int
resolve(ts_txn *r, const char *p, int has_as_of, int as_of, int today, char *out)
{
	uint8_t		v[TS_MAX_KEY];
	size_t		vl;
	int			rc = ts_docindex_resolve(r, &ix, (const uint8_t *) p, strlen(p), NULL, 0, 0,
										 has_as_of, as_of, today, v, &vl);

	if (rc == 0)
	{
		memcpy(out, v, vl);
		out[vl] = 0;
	}
	return rc;
}

TEST(test_temporal_rule)
{
	ts_txn	   *w;
	char		v[64];

	setup("docindex-temporal");
	CHECK_OK(ts_txn_begin(env, 0, &w));
	put_version(w, "p", "a", 100, -1);
	put_version(w, "p", "b", 200, 250);	/* ends before c starts: a gap */
	put_version(w, "p", "c", 300, -1);
	put_version(w, "p", "z", -1, -1);	/* undated */
	put_version(w, "q", "future", 1000, -1);
	CHECK_ERR(resolve(w, "p", 1, 99, 0, v), TS_NOTFOUND);
	CHECK_OK(resolve(w, "p", 1, 100, 0, v));
	CHECK(strcmp(v, "a") == 0);
	CHECK_OK(resolve(w, "p", 1, 199, 0, v));
	CHECK(strcmp(v, "a") == 0);
	CHECK_OK(resolve(w, "p", 1, 200, 0, v));
	CHECK(strcmp(v, "b") == 0);
	CHECK_OK(resolve(w, "p", 1, 249, 0, v));
	CHECK(strcmp(v, "b") == 0);
	CHECK_ERR(resolve(w, "p", 1, 250, 0, v), TS_NOTFOUND);	/* effective_to exclusive */
	CHECK_ERR(resolve(w, "p", 1, 299, 0, v), TS_NOTFOUND);
	CHECK_OK(resolve(w, "p", 1, 300, 0, v));
	CHECK(strcmp(v, "c") == 0);
	CHECK_OK(resolve(w, "p", 0, 0, 260, v));	/* today in the gap: the latest */
	CHECK(strcmp(v, "c") == 0);
	CHECK_OK(resolve(w, "p", 0, 0, 150, v));
	CHECK(strcmp(v, "a") == 0);
	CHECK_OK(resolve(w, "q", 0, 0, 150, v));	/* only a future version */
	CHECK(strcmp(v, "future") == 0);
	CHECK_ERR(resolve(w, "q", 1, 150, 0, v), TS_NOTFOUND);
	CHECK_ERR(resolve(w, "none", 0, 0, 150, v), TS_NOTFOUND);
	/* moving a version's date moves its index entry */
	put_version(w, "p", "c", 320, -1);
	CHECK_ERR(resolve(w, "p", 1, 310, 0, v), TS_NOTFOUND);
	ts_txn_abort(w);
	teardown();
}

static char xout[512];

static int
collect_xref(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
			 double score)
{
	ts_colval	c[TS_STORE_MAX_COLS];
	uint8_t		scratch[TS_MAX_KEY];

	(void) arg;
	(void) val;
	(void) vlen;
	(void) score;
	if (ts_store_key_decode(&ts_stores[st_xrefs], key, klen, c, scratch, sizeof(scratch)) != 0)
		return TS_CORRUPT;
	for (int k = 0; k < 4; k++)
		strncat(xout, (const char *) c[k].data, c[k].len);
	strcat(xout, " ");
	return 0;
}

TEST(test_cross_references)
{
	ts_txn	   *w;
	const ts_store *s;
	const char *rows[][5] = {
		{"p1", "n1", "p2", "m1", "cites"},
		{"p2", "m1", "p1", "n1", "cites"},
		{"p3", "k", "p1", "n2", "see"},
		{"p1", "n1", "p1", "n2", "see"},
	};

	setup("docindex-xrefs");
	s = &ts_stores[st_xrefs];
	CHECK_OK(ts_txn_begin(env, 0, &w));
	for (int i = 0; i < 4; i++)
	{
		ts_colval	c[TS_STORE_MAX_COLS];
		uint8_t		key[TS_MAX_KEY];
		size_t		klen;
		ts_buf		rec = {0};

		for (int k = 0; k < s->ncols; k++)
			c[k] = iv(0, 1);
		for (int k = 0; k < 5; k++)
			c[k] = tv(rows[i][k]);
		CHECK_OK(ts_store_key(s, c, 5, key, &klen));
		CHECK_OK(ts_rec_encode(s, c, &rec));
		CHECK_OK(ts_put(w, ix.xrefs, key, klen, rec.data, rec.len, 0));
		CHECK_OK(ts_docindex_changed(w, &ix, batch, st_xrefs, NULL, 0, NULL, 0,
									 key, klen, rec.data, rec.len, NULL, 0));
		ts_buf_free(&rec);
	}
	{
		/* p1 outgoing: rows 0 and 3; incoming: 1, 2, 3; both: 0, 1, 2, 3 once each */
		static const char *want[3] = {"p1n1p1n2 p1n1p2m1 ", "p1n1p1n2 p2m1p1n1 p3kp1n2 ",
		"p1n1p1n2 p1n1p2m1 p2m1p1n1 p3kp1n2 "};

		for (int dir = 1; dir <= 3; dir++)
		{
			xout[0] = 0;
			CHECK_OK(ts_docindex_xrefs(w, &ix, (const uint8_t *) "p1", 2, NULL, 0, dir,
									   collect_xref, NULL));
			CHECK_MSG(strcmp(xout, want[dir - 1]) == 0, "direction %d: %s", dir, xout);
		}
		xout[0] = 0;
		CHECK_OK(ts_docindex_xrefs(w, &ix, (const uint8_t *) "p1", 2, (const uint8_t *) "n2", 2, 2,
								   collect_xref, NULL));
		CHECK(strcmp(xout, "p1n1p1n2 p3kp1n2 ") == 0);
	}
	ts_txn_abort(w);
	teardown();
}

/* Tables written without the indexes (an older build): rebuilt from the rows. */
TEST(test_rebuild)
{
	ts_txn	   *w;
	uint64_t	n;
	int			want[MAXN],
				nw;

	setup("docindex-rebuild");
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK(ts_docindex_rebuild_needed(w, &ix) == 0);	/* empty: marked built */
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK(ts_docindex_rebuild_needed(w, &ix) == 0);
	/* forget the marker, write rows behind the indexes' back */
	CHECK_OK(ts_del(w, ix.meta, "format", 6));
	random_tree(120);
	for (int i = 0; i < mn; i++)
	{
		uint8_t		key[TS_MAX_KEY];
		size_t		klen;
		ts_buf		rec = {0};

		node_row("pol", "v1", i, key, &klen, &rec);
		CHECK_OK(ts_put(w, ix.nodes, key, klen, rec.data, rec.len, 0));
		m[i].present = 1;
		ts_buf_free(&rec);
	}
	CHECK(ts_docindex_rebuild_needed(w, &ix) == 1);
	CHECK_OK(ts_docindex_rebuild(w, &ix, &n));
	CHECK(n == (uint64_t) mn);
	CHECK(ts_docindex_rebuild_needed(w, &ix) == 0);
	CHECK(is_regular(w));
	nw = model_preorder(-1, -1, want);
	expect_same(want, nw, "rebuilt");
	check_all(w);
	/* again: idempotent */
	CHECK_OK(ts_docindex_rebuild(w, &ix, &n));
	check_all(w);
	CHECK_OK(ts_txn_commit(w));
	teardown();
}

/* ---- two threads at once ---- */

/*
 * The engine may write and query on several threads: the indexes' sorts
 * (of a batch's changes, of pages' hits by document order, of search hits)
 * must each use their own state.  Two threads write a policy each -- a tree
 * of CN nodes, children first, node ids against document order -- and read
 * it back by subtree, page and search, round after round.  No CHECK on the
 * threads (the harness counts on one): each reports its first failure.
 */
#define CN 120
#define CROUNDS 150

typedef struct CWorker
{
	int			id;
	pthread_t	thread;
	char		failure[256];
} CWorker;

/* node k: parent (k-1)/3, ordinal (k-1)%3, pages k%10 .. k%10 + k%3 */
static void
cnode_id(int k, char *out)
{
	snprintf(out, 16, "n%04d", CN - 1 - k);
}

static int
cpreorder(int *out)
{
	int			stack[CN],
				top = 0,
				n = 0;

	stack[top++] = 0;
	while (top > 0)
	{
		int			k = stack[--top];

		out[n++] = k;
		for (int c = 3 * k + 3; c >= 3 * k + 1; c--)
			if (c < CN)
				stack[top++] = c;
	}
	return n;
}

static int
cwrite(ts_txn *w, ts_docindex_batch *b, const char *p, const char *v, int round)
{
	const ts_store *s = &ts_stores[st_nodes];
	const ts_store *vs = &ts_stores[st_versions];
	ts_colval	c[TS_STORE_MAX_COLS];
	uint8_t		key[TS_MAX_KEY];
	size_t		klen;
	ts_buf		rec = {0},
				terms = {0};
	int			rc = 0;

	for (int k = 0; k < vs->ncols; k++)
		c[k] = iv(0, 1);
	c[0] = tv(p);
	c[1] = tv(v);
	c[2] = iv(100 + round, 0);
	if ((rc = ts_store_key(vs, c, 2, key, &klen)) != 0 || (rc = ts_rec_encode(vs, c, &rec)) != 0 ||
		(rc = ts_put(w, ix.versions, key, klen, rec.data, rec.len, 0)) != 0 ||
		(rc = ts_docindex_changed(w, &ix, b, st_versions, NULL, 0, NULL, 0,
								  key, klen, rec.data, rec.len, NULL, 0)) != 0)
		goto done;
	for (int k = CN - 1; k >= 0 && rc == 0; k--)
	{
		char		id[16],
					parent[16];

		cnode_id(k, id);
		for (int j = 0; j < s->ncols; j++)
			c[j] = iv(0, 1);
		c[0] = tv(p);
		c[1] = tv(v);
		c[2] = tv(id);
		if (k > 0)
		{
			cnode_id((k - 1) / 3, parent);
			c[3] = tv(parent);
		}
		c[4] = iv(k > 0 ? (k - 1) % 3 : 0, 0);
		c[7] = tv(id);
		c[8] = iv(k % 10, 0);
		c[9] = iv(k % 10 + k % 3, 0);
		rec.len = 0;
		terms.len = 0;
		/* one term, "t", k % 5 + 1 times in the body */
		if ((rc = ts_store_key(s, c, 3, key, &klen)) != 0 ||
			(rc = ts_rec_encode(s, c, &rec)) != 0 ||
			(rc = ts_varint_put(&terms, 1)) != 0 || (rc = ts_varint_put(&terms, 1)) != 0 ||
			(rc = ts_buf_append(&terms, "t", 1)) != 0 || (rc = ts_varint_put(&terms, 0)) != 0 ||
			(rc = ts_varint_put(&terms, (uint64_t) (k % 5 + 1))) != 0 ||
			(rc = ts_put(w, ix.nodes, key, klen, rec.data, rec.len, 0)) != 0)
			break;
		rc = ts_docindex_changed(w, &ix, b, st_nodes, NULL, 0, NULL, 0, key, klen,
								 rec.data, rec.len, terms.data, terms.len);
		if (rc == 0 && k % 40 == 0)
			rc = ts_docindex_flush(w, &ix, b);
	}
	if (rc == 0)
		rc = ts_docindex_flush(w, &ix, b);
done:
	ts_buf_free(&rec);
	ts_buf_free(&terms);
	return rc;
}

static void *
cworker(void *arg)
{
	CWorker    *me = arg;
	ts_docindex_batch *b = ts_docindex_batch_new();
	Got		   *g = malloc(sizeof(Got));
	int			pre[CN],
				npre = cpreorder(pre);
	char		p[16];

	snprintf(p, sizeof(p), "cp%d", me->id);
	for (int round = 0; round < CROUNDS && !me->failure[0]; round++)
	{
		char		v[16],
					id[16];
		ts_txn	   *w;
		ts_search_args a;
		const uint8_t *term = (const uint8_t *) "t";
		size_t		tl = 1;
		int			rc,
					n;

		snprintf(v, sizeof(v), "v%d", round);
		if ((rc = ts_txn_begin(env, 0, &w)) != 0 || (rc = cwrite(w, b, p, v, round)) != 0)
		{
			snprintf(me->failure, sizeof(me->failure), "round %d: write: %s", round, ts_strerror(rc));
			break;
		}
		/* the subtree: document order */
		g->n = 0;
		rc = ts_docindex_subtree(w, &ix, (const uint8_t *) p, strlen(p), (const uint8_t *) v,
								 strlen(v), NULL, 0, -1, collect, g);
		for (int i = 0; rc == 0 && i < npre && g->n == npre; i++)
		{
			cnode_id(pre[i], id);
			if (strcmp(g->ids[i], id) != 0)
				rc = TS_CORRUPT;
		}
		if (rc != 0 || g->n != npre)
		{
			snprintf(me->failure, sizeof(me->failure), "round %d: subtree: %d rows, rc %d",
					 round, g->n, rc);
			ts_txn_abort(w);
			break;
		}
		/* page 5: its nodes in document order */
		g->n = 0;
		rc = ts_docindex_by_page(w, &ix, (const uint8_t *) p, strlen(p), (const uint8_t *) v,
								 strlen(v), 5, collect, g);
		n = 0;
		for (int i = 0; rc == 0 && i < npre; i++)
		{
			int			k = pre[i];

			if (k % 10 > 5 || k % 10 + k % 3 < 5)
				continue;
			cnode_id(k, id);
			if (n >= g->n || strcmp(g->ids[n], id) != 0)
				rc = TS_CORRUPT;
			n++;
		}
		if (rc != 0 || g->n != n)
		{
			snprintf(me->failure, sizeof(me->failure), "round %d: page 5: %d rows, expected %d, rc %d",
					 round, g->n, n, rc);
			ts_txn_abort(w);
			break;
		}
		/* search: ten hits, best first, ties by key */
		memset(&a, 0, sizeof(a));
		a.policy = (const uint8_t *) p;
		a.plen = strlen(p);
		a.version = (const uint8_t *) v;
		a.vlen = strlen(v);
		a.has_version = 1;
		a.today = 9000;
		a.terms = &term;
		a.term_lens = &tl;
		a.nterms = 1;
		a.top_k = 10;
		g->n = 0;
		rc = ts_docindex_search(w, &ix, &a, collect, g);
		for (int i = 1; rc == 0 && i < g->n; i++)
			if (g->score[i] > g->score[i - 1] ||
				(g->score[i] == g->score[i - 1] && strcmp(g->ids[i], g->ids[i - 1]) <= 0))
				rc = TS_CORRUPT;
		if (rc != 0 || g->n != 10)
		{
			snprintf(me->failure, sizeof(me->failure), "round %d: search: %d hits, rc %d",
					 round, g->n, rc);
			ts_txn_abort(w);
			break;
		}
		if ((rc = ts_txn_commit(w)) != 0)
			snprintf(me->failure, sizeof(me->failure), "round %d: commit: %s", round, ts_strerror(rc));
	}
	free(g);
	ts_docindex_batch_free(b);
	return NULL;
}

TEST(test_two_threads)
{
	CWorker		w[2];

	setup("docindex-threads");
	for (int i = 0; i < 2; i++)
	{
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		CHECK(pthread_create(&w[i].thread, NULL, cworker, &w[i]) == 0);
	}
	for (int i = 0; i < 2; i++)
	{
		CHECK(pthread_join(w[i].thread, NULL) == 0);
		CHECK_MSG(w[i].failure[0] == '\0', "thread %d: %s", i, w[i].failure);
	}
	teardown();
}

TEST_MAIN(test_tree_model, test_rebuild, test_cycles_and_depth, test_search, test_postings_chunks, test_temporal_rule,
		  test_cross_references, test_two_threads)
