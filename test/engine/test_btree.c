/*
 * test_btree.c
 *	  The B+tree, pager and freelist through the public API: inserts in
 *	  every order, deletes down to empty, overflow values, cursors, reopen,
 *	  file-size bounds under churn, and ts_env_check after each phase.
 */
#include <pthread.h>
#include "harness.h"
#include "format.h"
#include "pager.h"

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static ts_env *
open_env(const char *dir, size_t cache)
{
	ts_options	o;
	ts_env	   *env;

	ts_options_init(&o);
	o.flags = TS_CREATE;
	o.sync = 0;
	o.cache_pages = cache;
	CHECK_OK(ts_env_open(dir, &o, &env));
	return env;
}

static ts_tree
tree_of(ts_env *env, const char *name)
{
	ts_txn	   *t;
	ts_tree		tr;

	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, name, TS_CREATE, &tr));
	CHECK_OK(ts_txn_commit(t));
	return tr;
}

static void
keyof(char *buf, uint64_t i)
{
	snprintf(buf, 32, "key%012llu", (unsigned long long) i);
}

static void
valof(uint8_t *buf, size_t len, uint64_t i, uint64_t round)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t) (i * 31 + j * 7 + round * 13);
}

/* put n keys in the given order, in transactions of `batch` */
static void
load(ts_env *env, ts_tree tr, const uint64_t *order, size_t n, size_t batch, size_t vlen, uint64_t round)
{
	ts_txn	   *t = NULL;
	uint8_t		val[4096];

	for (size_t i = 0; i < n; i++)
	{
		char		k[32];

		if (t == NULL)
			CHECK_OK(ts_txn_begin(env, 0, &t));
		keyof(k, order[i]);
		valof(val, vlen, order[i], round);
		CHECK_OK(ts_put(t, tr, k, strlen(k), val, vlen, 0));
		if ((i + 1) % batch == 0)
		{
			CHECK_OK(ts_txn_commit(t));
			t = NULL;
		}
	}
	if (t)
		CHECK_OK(ts_txn_commit(t));
}

/* every key 0..n-1 present (or absent when present[i] == 0) with its value */
static void
verify(ts_env *env, ts_tree tr, size_t n, const uint8_t *present, size_t vlen, uint64_t round)
{
	ts_txn	   *t;
	ts_cursor  *c;
	uint8_t		val[4096];
	size_t		seen = 0;
	int			rc;

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	for (size_t i = 0; i < n; i++)
	{
		char		k[32];
		ts_slice	v;

		keyof(k, i);
		rc = ts_get(t, tr, k, strlen(k), &v);
		if (present && !present[i])
		{
			CHECK_ERR(rc, TS_NOTFOUND);
			continue;
		}
		CHECK_OK(rc);
		valof(val, vlen, i, round);
		CHECK(v.len == vlen && memcmp(v.data, val, vlen) == 0);
	}
	/* forward scan sees exactly the present keys in order */
	CHECK_OK(ts_cursor_open(t, tr, &c));
	{
		char		prev[64] = "";

		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c))
		{
			ts_slice	k,
						v;
			char		ks[64];

			CHECK_OK(ts_cursor_get(c, &k, &v));
			CHECK(k.len < sizeof(ks));
			memcpy(ks, k.data, k.len);
			ks[k.len] = 0;
			CHECK(strcmp(prev, ks) < 0);
			strcpy(prev, ks);
			seen++;
		}
		CHECK_ERR(rc, TS_NOTFOUND);
	}
	{
		size_t		want = 0;

		for (size_t i = 0; i < n; i++)
			want += present ? present[i] : 1;
		CHECK_MSG(seen == want, "scan saw %zu keys, want %zu", seen, want);
		/* and backward */
		seen = 0;
		for (rc = ts_cursor_last(c); rc == 0; rc = ts_cursor_prev(c))
			seen++;
		CHECK_ERR(rc, TS_NOTFOUND);
		CHECK(seen == want);
	}
	ts_cursor_close(c);
	ts_txn_abort(t);
}

TEST(test_sequential_random_reverse)
{
	const char *dir = th_tmpdir("bt-order");
	size_t		n = 20000;
	uint64_t   *order = malloc(n * sizeof(uint64_t));

	for (int mode = 0; mode < 3; mode++)
	{
		ts_env	   *env = open_env(dir, 256);
		char		name[16];
		ts_tree		tr;

		snprintf(name, sizeof(name), "t%d", mode);
		tr = tree_of(env, name);
		for (size_t i = 0; i < n; i++)
			order[i] = mode == 2 ? n - 1 - i : i;
		if (mode == 1)
			for (size_t i = n - 1; i > 0; i--)
			{
				size_t		j = next_rand() % (i + 1);
				uint64_t	x = order[i];

				order[i] = order[j];
				order[j] = x;
			}
		load(env, tr, order, n, 500, 100, 0);
		verify(env, tr, n, NULL, 100, 0);
		CHECK_OK(ts_env_check(env));
		CHECK_OK(ts_env_close(env));
		env = open_env(dir, 64);	/* reopen with a small cache: real reads */
		tr = tree_of(env, name);
		verify(env, tr, n, NULL, 100, 0);
		CHECK_OK(ts_env_check(env));
		CHECK_OK(ts_env_close(env));
	}
	free(order);
	th_rmdir(dir);
}

TEST(test_sequential_fill_factor)
{
	const char *dir = th_tmpdir("bt-fill");
	ts_env	   *env = open_env(dir, 4096);
	ts_tree		tr = tree_of(env, "seq");
	size_t		n = 50000;
	uint64_t   *order = malloc(n * sizeof(uint64_t));
	ts_stat		st;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	load(env, tr, order, n, 1000, 100, 0);
	CHECK_OK(ts_env_stat(env, &st));
	/* 50,000 cells of 4+15+100 bytes + a slot: ~6 MB; append splits keep
	 * leaves nearly full, so the file stays close to that */
	CHECK_MSG((st.page_count - st.free_pages) * TS_PAGE_SIZE < n * 121 * 110 / 100,
			  "%llu pages in use for %zu sequential keys",
			  (unsigned long long) (st.page_count - st.free_pages), n);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	free(order);
	th_rmdir(dir);
}

TEST(test_delete_everything)
{
	const char *dir = th_tmpdir("bt-del");
	ts_env	   *env = open_env(dir, 512);
	ts_tree		tr = tree_of(env, "d");
	size_t		n = 20000;
	uint64_t   *order = malloc(n * sizeof(uint64_t));
	uint8_t    *present = malloc(n);
	ts_stat		st;
	ts_treestat ts;

	for (size_t i = 0; i < n; i++)
	{
		order[i] = i;
		present[i] = 1;
	}
	load(env, tr, order, n, 1000, 200, 0);
	/* delete in random order, checking along the way */
	for (size_t i = n - 1; i > 0; i--)
	{
		size_t		j = next_rand() % (i + 1);
		uint64_t	x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (size_t i = 0; i < n; i += 1000)
	{
		ts_txn	   *t;

		CHECK_OK(ts_txn_begin(env, 0, &t));
		for (size_t j = i; j < i + 1000 && j < n; j++)
		{
			char		k[32];

			keyof(k, order[j]);
			CHECK_OK(ts_del(t, tr, k, strlen(k)));
			CHECK_ERR(ts_del(t, tr, k, strlen(k)), TS_NOTFOUND);
			present[order[j]] = 0;
		}
		CHECK_OK(ts_txn_commit(t));
		if (i % 5000 == 0)
		{
			verify(env, tr, n, present, 200, 0);
			CHECK_OK(ts_env_check(env));
		}
	}
	verify(env, tr, n, present, 200, 0);
	CHECK_OK(ts_env_check(env));
	{
		ts_txn	   *t;

		CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
		CHECK_OK(ts_tree_stat(t, tr, &ts));
		ts_txn_abort(t);
	}
	CHECK(ts.entries == 0 && ts.depth == 0 && ts.root == 0);
	CHECK_OK(ts_env_stat(env, &st));
	/* all but the metas, catalog and freelist pages are free */
	CHECK_MSG(st.page_count - st.free_pages < 16, "%llu pages still used",
			  (unsigned long long) (st.page_count - st.free_pages));
	CHECK_OK(ts_env_close(env));
	free(order);
	free(present);
	th_rmdir(dir);
}

TEST(test_overflow_values)
{
	const char *dir = th_tmpdir("bt-ovf");
	ts_env	   *env = open_env(dir, 128);
	ts_tree		tr = tree_of(env, "big");
	size_t		sizes[] = {0, 1, 900, 1010, 1100, 4064, 4065, 100000, 3 * 1024 * 1024 + 17};
	int			ns = (int) (sizeof(sizes) / sizeof(sizes[0]));
	uint8_t    *buf = malloc(4 * 1024 * 1024);
	ts_txn	   *t;

	CHECK_OK(ts_txn_begin(env, 0, &t));
	for (int i = 0; i < ns; i++)
	{
		char		k[32];

		keyof(k, (uint64_t) i);
		for (size_t j = 0; j < sizes[i]; j++)
			buf[j] = (uint8_t) (j * 131 + (size_t) i);
		CHECK_OK(ts_put(t, tr, k, strlen(k), buf, sizes[i], 0));
	}
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_env_check(env));
	for (int pass = 0; pass < 2; pass++)
	{
		ts_cursor  *c;
		int			i = 0,
					rc;

		CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
		for (i = 0; i < ns; i++)
		{
			char		k[32];
			ts_slice	v;

			keyof(k, (uint64_t) i);
			CHECK_OK(ts_get(t, tr, k, strlen(k), &v));
			CHECK(v.len == sizes[i]);
			for (size_t j = 0; j < sizes[i]; j++)
				CHECK_MSG(((const uint8_t *) v.data)[j] == (uint8_t) (j * 131 + (size_t) i),
						  "value %d byte %zu", i, j);
		}
		CHECK_OK(ts_cursor_open(t, tr, &c));
		i = 0;
		for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c), i++)
		{
			ts_slice	k,
						v;

			CHECK_OK(ts_cursor_get(c, &k, &v));
			CHECK(v.len == sizes[i]);
			CHECK(sizes[i] == 0 || ((const uint8_t *) v.data)[sizes[i] - 1] ==
				  (uint8_t) ((sizes[i] - 1) * 131 + (size_t) i));
		}
		CHECK(i == ns);
		ts_cursor_close(c);
		ts_txn_abort(t);
		CHECK_OK(ts_env_close(env));
		env = open_env(dir, 16);
	}
	/* replacing and deleting big values frees their chains */
	CHECK_OK(ts_txn_begin(env, 0, &t));
	for (int i = 0; i < ns; i++)
	{
		char		k[32];

		keyof(k, (uint64_t) i);
		if (i % 2)
			CHECK_OK(ts_del(t, tr, k, strlen(k)));
		else
			CHECK_OK(ts_put(t, tr, k, strlen(k), "x", 1, 0));
	}
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_env_check(env));
	{
		ts_stat		st;

		CHECK_OK(ts_env_stat(env, &st));
		CHECK_MSG(st.page_count - st.free_pages < 16, "%llu pages still used",
				  (unsigned long long) (st.page_count - st.free_pages));
	}
	CHECK_OK(ts_env_close(env));
	free(buf);
	th_rmdir(dir);
}

TEST(test_churn_bounded_and_reader)
{
	const char *dir = th_tmpdir("bt-churn");
	ts_env	   *env = open_env(dir, 4096);
	ts_tree		tr = tree_of(env, "churn");
	size_t		n = 20000;
	uint64_t   *order = malloc(n * sizeof(uint64_t));
	ts_stat		st;
	uint64_t	after_first,
				peak_with_reader,
				size_after;
	ts_txn	   *reader;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	load(env, tr, order, n, 1000, 100, 0);
	load(env, tr, order, n, 1000, 100, 1);
	CHECK_OK(ts_env_stat(env, &st));
	after_first = st.page_count;
	for (uint64_t round = 2; round < 12; round++)
		load(env, tr, order, n, 1000, 100, round);
	CHECK_OK(ts_env_stat(env, &st));
	CHECK_MSG(st.page_count <= after_first * 12 / 10,
			  "file grew from %llu to %llu pages under churn",
			  (unsigned long long) after_first, (unsigned long long) st.page_count);
	verify(env, tr, n, NULL, 100, 11);

	/* a long reader pins old pages: the file grows... */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &reader));
	for (uint64_t round = 12; round < 15; round++)
		load(env, tr, order, n, 1000, 100, round);
	CHECK_OK(ts_env_stat(env, &st));
	peak_with_reader = st.page_count;
	CHECK(st.oldest_reader == ts_txn_snapshot(reader));
	CHECK(peak_with_reader > after_first);
	/* ...and the reader still sees its snapshot */
	{
		char		k[32];
		ts_slice	v;
		uint8_t		val[100];

		keyof(k, 7);
		CHECK_OK(ts_get(reader, tr, k, strlen(k), &v));
		valof(val, 100, 7, 11);
		CHECK(v.len == 100 && memcmp(v.data, val, 100) == 0);
	}
	ts_txn_abort(reader);
	/* ...and once it ends, churn reuses the pinned pages: no more growth */
	for (uint64_t round = 15; round < 25; round++)
		load(env, tr, order, n, 1000, 100, round);
	CHECK_OK(ts_env_stat(env, &st));
	size_after = st.page_count;
	CHECK_MSG(size_after <= peak_with_reader,
			  "file grew from %llu to %llu pages after the reader ended",
			  (unsigned long long) peak_with_reader, (unsigned long long) size_after);
	verify(env, tr, n, NULL, 100, 24);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	free(order);
	th_rmdir(dir);
}

TEST(test_many_trees_catalog)
{
	const char *dir = th_tmpdir("bt-cat");
	ts_env	   *env = open_env(dir, 256);
	ts_txn	   *t;
	ts_tree		ids[300];

	CHECK_OK(ts_txn_begin(env, 0, &t));
	for (int i = 0; i < 300; i++)
	{
		char		name[64],
					k[32];

		snprintf(name, sizeof(name), "tree-%04d", i);
		CHECK_OK(ts_tree_open(t, name, TS_CREATE, &ids[i]));
		snprintf(k, sizeof(k), "k%d", i);
		CHECK_OK(ts_put(t, ids[i], k, strlen(k), name, strlen(name), 0));
	}
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_env_close(env));
	env = open_env(dir, 256);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	for (int i = 0; i < 300; i++)
	{
		char		name[64],
					k[32];
		ts_tree		id;
		ts_slice	v;

		snprintf(name, sizeof(name), "tree-%04d", i);
		CHECK_OK(ts_tree_open(t, name, 0, &id));
		CHECK(id == ids[i]);
		snprintf(k, sizeof(k), "k%d", i);
		CHECK_OK(ts_get(t, id, k, strlen(k), &v));
		CHECK(v.len == strlen(name) && memcmp(v.data, name, v.len) == 0);
	}
	CHECK_ERR(ts_tree_open(t, "missing", 0, &ids[0]), TS_NOTFOUND);
	CHECK_ERR(ts_tree_open(t, "missing", TS_CREATE, &ids[0]), TS_BAD_TXN);
	ts_txn_abort(t);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(dir);
}

TEST(test_errors)
{
	const char *dir = th_tmpdir("bt-err");
	ts_env	   *env = open_env(dir, 64);
	ts_tree		tr = tree_of(env, "e");
	ts_txn	   *t;
	uint8_t		big[TS_MAX_KEY + 1];
	ts_options	o;
	ts_env	   *e2;

	memset(big, 'k', sizeof(big));
	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_ERR(ts_put(t, tr, big, TS_MAX_KEY + 1, "v", 1, 0), TS_KEY_TOO_BIG);
	CHECK_ERR(ts_put(t, tr, big, 0, "v", 1, 0), TS_KEY_TOO_BIG);
	CHECK_OK(ts_put(t, tr, big, TS_MAX_KEY, "v", 1, 0));
	CHECK_ERR(ts_put(t, tr, big, TS_MAX_KEY, "w", 1, TS_NOOVERWRITE), TS_EXISTS);
	CHECK_ERR(ts_put(t, 9999, "a", 1, "v", 1, 0), TS_INVALID);
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_ERR(ts_put(t, tr, "a", 1, "v", 1, 0), TS_BAD_TXN);
	CHECK_ERR(ts_del(t, tr, "a", 1), TS_BAD_TXN);
	ts_txn_abort(t);
	CHECK_OK(ts_env_close(env));
	/* a missing directory without TS_CREATE */
	ts_options_init(&o);
	CHECK(ts_env_open("/nonexistent/treestore-test", &o, &e2) != 0);
	CHECK(strstr(ts_last_error(), "/nonexistent/treestore-test") != NULL);
	th_rmdir(dir);
}

TEST(test_one_environment_per_file)
{
	const char *dir = th_tmpdir("bt-lock");
	ts_env	   *env = open_env(dir, 64);
	ts_env	   *second = NULL;
	ts_options	o;

	ts_options_init(&o);
	CHECK_ERR(ts_env_open(dir, &o, &second), TS_BUSY);
	CHECK(second == NULL);
	CHECK(strstr(ts_last_error(), "in use") != NULL);
	CHECK_OK(ts_env_close(env));
	CHECK_OK(ts_env_open(dir, &o, &second));
	CHECK_OK(ts_env_close(second));
	th_rmdir(dir);
}

/*
 * A branch page with no cell passes no verification: a cursor moving
 * backwards would index its cell -1 (issue 12, item 18).  A leaf may be
 * empty (the root of a tree whose keys were all deleted).
 */
TEST(test_branch_without_keys_is_corrupt)
{
	uint8_t		page[TS_PAGE_SIZE];

	for (int type = TS_PT_BRANCH; ; type = TS_PT_LEAF)
	{
		memset(page, 0, sizeof(page));
		page[PH_TYPE] = (uint8_t) type;
		wr64(page + PH_PGNO, 7);
		wr64(page + PH_TXNID, 3);
		wr16(page + PH_NKEYS, 0);
		wr16(page + PH_LOWER, TS_PH_SIZE);
		wr16(page + PH_UPPER, TS_PAGE_SIZE);
		ts_page_seal(page);
		if (type == TS_PT_BRANCH)
			CHECK_ERR(ts_page_verify(page, 7, TS_PT_BRANCH, "test"), TS_CORRUPT);
		else
		{
			CHECK_OK(ts_page_verify(page, 7, TS_PT_LEAF, "test"));
			break;
		}
	}
	/* a branch with its one (key-less) cell is fine */
	memset(page, 0, sizeof(page));
	page[PH_TYPE] = TS_PT_BRANCH;
	wr64(page + PH_PGNO, 7);
	wr16(page + PH_NKEYS, 1);
	wr16(page + PH_LOWER, TS_PH_SIZE + 2);
	wr16(page + PH_UPPER, TS_PAGE_SIZE - 10);
	wr16(page + TS_PH_SIZE, TS_PAGE_SIZE - 10);
	wr64(page + TS_PAGE_SIZE - 10, 5);	/* child 5, key length 0 */
	ts_page_seal(page);
	CHECK_OK(ts_page_verify(page, 7, TS_PT_BRANCH, "test"));
}

TEST_MAIN(test_sequential_random_reverse, test_sequential_fill_factor, test_delete_everything,
		  test_overflow_values, test_churn_bounded_and_reader, test_many_trees_catalog,
		  test_errors, test_one_environment_per_file, test_branch_without_keys_is_corrupt)
