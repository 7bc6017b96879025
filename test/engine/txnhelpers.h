/*
 * txnhelpers.h
 *	  Helpers shared by the transaction tests (test_txn.c, test_savepoint.c):
 *	  one scratch environment per test, trees, string puts, and checks of a
 *	  key's value and of a whole tree in both scan directions.
 */
#ifndef TS_TEST_TXNHELPERS_H
#define TS_TEST_TXNHELPERS_H

#include "harness.h"

static inline long
env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return (s && *s) ? strtol(s, NULL, 0) : dflt;
}

static char env_dir[512];

static inline ts_env *
open_env(const char *tag, int create)
{
	ts_options	o;
	ts_env	   *env = NULL;

	if (create)
		snprintf(env_dir, sizeof(env_dir), "%s", th_tmpdir(tag));
	ts_options_init(&o);
	o.sync = 0;
	if (create)
		o.flags = TS_CREATE;
	CHECK_OK(ts_env_open(env_dir, &o, &env));
	return env;
}

static inline ts_tree
make_tree(ts_env *env, const char *name)
{
	ts_txn	   *w;
	ts_tree		t;

	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, name, TS_CREATE, &t));
	CHECK_OK(ts_txn_commit(w));
	return t;
}

static inline void
put_str(ts_txn *txn, ts_tree t, const char *k, const char *v)
{
	CHECK_OK(ts_put(txn, t, k, strlen(k), v, strlen(v), 0));
}

/* Expect key k to read as v (v NULL: absent). */
#define EXPECT_VAL(txn, t, k, v) do { ts_slice ev_s; const char *ev_v = (v); \
		int ev_rc = ts_get((txn), (t), (k), strlen(k), &ev_s); \
		if (ev_v == NULL) CHECK_MSG(ev_rc == TS_NOTFOUND, "get %s: returned %d (%s), expected TS_NOTFOUND", \
									(k), ev_rc, ts_strerror(ev_rc)); \
		else { CHECK_MSG(ev_rc == 0, "get %s: returned %d (%s: %s), expected \"%s\"", (k), ev_rc, \
						 ts_strerror(ev_rc), ts_last_error(), ev_v); \
			CHECK_MSG(ev_s.len == strlen(ev_v) && memcmp(ev_s.data, ev_v, ev_s.len) == 0, \
					  "get %s: got \"%.*s\", expected \"%s\"", (k), (int) ev_s.len, \
					  (const char *) ev_s.data, ev_v); } } while (0)

/*
 * Expect the whole tree, in order, to be "k1=v1 k2=v2 ..." (values longer
 * than 40 bytes are shown as their length and first byte: "k=#3000x").
 * Scans forward, then backward.
 */
static inline void
expect_scan(ts_txn *txn, ts_tree t, const char *want)
{
	ts_cursor  *c;
	char		got[2048],
				back[2048];
	char	   *items[128];
	size_t		n = 0;
	int			rc,
				ni = 0;

	got[0] = '\0';
	CHECK_OK(ts_cursor_open(txn, t, &c));
	for (int dir = 1; dir >= -1; dir -= 2)
	{
		char	   *out = dir > 0 ? got : back;

		n = 0;
		out[0] = '\0';
		ni = 0;
		for (rc = dir > 0 ? ts_cursor_first(c) : ts_cursor_last(c); rc == 0;
			 rc = dir > 0 ? ts_cursor_next(c) : ts_cursor_prev(c))
		{
			ts_slice	k,
						v;
			char		item[128];

			CHECK_OK(ts_cursor_get(c, &k, &v));
			if (v.len > 40)
				snprintf(item, sizeof(item), "%.*s=#%zu%c", (int) k.len, (const char *) k.data,
						 v.len, ((const char *) v.data)[0]);
			else
				snprintf(item, sizeof(item), "%.*s=%.*s", (int) k.len, (const char *) k.data,
						 (int) v.len, (const char *) v.data);
			if (dir > 0)
				n += (size_t) snprintf(out + n, sizeof(got) - n, "%s%s", n ? " " : "", item);
			else
			{
				CHECK(ni < 128);
				items[ni++] = strdup(item);
			}
			CHECK(n < sizeof(got));
		}
		CHECK_MSG(rc == TS_NOTFOUND, "scan ended with %d (%s: %s)", rc, ts_strerror(rc), ts_last_error());
		if (dir < 0)
		{
			for (int i = ni - 1; i >= 0; i--)
			{
				n += (size_t) snprintf(out + n, sizeof(back) - n, "%s%s", n ? " " : "", items[i]);
				free(items[i]);
			}
		}
	}
	ts_cursor_close(c);
	CHECK_MSG(strcmp(got, want) == 0, "scan: got \"%s\", expected \"%s\"", got, want);
	CHECK_MSG(strcmp(back, want) == 0, "backward scan: got \"%s\", expected \"%s\"", back, want);
}

#endif							/* TS_TEST_TXNHELPERS_H */
