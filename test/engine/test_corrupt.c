/*-------------------------------------------------------------------------
 *
 * test_corrupt.c
 *	  Corruption of the data file: the engine must never return wrong data
 *	  and never crash.  For every damaged copy of a known file, every read
 *	  either returns exactly the original data or fails with TS_CORRUPT whose
 *	  message (ts_last_error) names the damaged page, and ts_env_check
 *	  reports TS_CORRUPT.
 *
 *	  - A file with three trees, thousands of keys and overflow values,
 *	    built by many commits (so it has free pages), is damaged at 250+
 *	    randomly chosen pages (one or several flipped bytes, a flipped
 *	    header byte, a garbled range) -- and a small file at every page.
 *	  - Meta pages: one damaged meta -> the other is used (the newer one
 *	    damaged: the state before the last commit, which the test knows);
 *	    the next commit repairs the file; both damaged -> TS_CORRUPT; a
 *	    meta with a valid checksum but a bad magic is skipped; a meta with
 *	    a format version above TS_FORMAT_VERSION -> TS_TOO_NEW.
 *	  - Truncated files: pages past the end read as zeros -> TS_CORRUPT.
 *
 *	  Each damaged copy is opened (cache_pages = 16, so pages really come
 *	  from disk) and read in a child process, so that a crash or a hang is
 *	  reported with its page instead of killing the test program.
 *
 *	  TS_CORRUPT_TRIALS sets the number of random-page trials (default 250).
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "harness.h"
#include "format.h"
#include "crc32c.h"
#include "pager.h"

#define CT			3
#define NO_PAGE		UINT64_MAX	/* no TS_CORRUPT expected */
#define ANY_PAGE	(UINT64_MAX - 1)	/* TS_CORRUPT allowed, naming any page */

static const char *const cnames[CT] = {"one", "two", "three"};

/* ------------------------------------------------------------------------
 * Random numbers and values (as in test_model.c)
 * ------------------------------------------------------------------------ */
typedef struct rng_t
{
	uint64_t	s;
} rng_t;

static inline uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static inline uint64_t
rng_u64(rng_t *r)
{
	r->s += 0x9E3779B97F4A7C15ULL;
	return mix64(r->s);
}

static inline uint64_t
rng_below(rng_t *r, uint64_t n)
{
	return n ? rng_u64(r) % n : 0;
}

static inline uint64_t
rng_range(rng_t *r, uint64_t lo, uint64_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static void
val_fill(uint8_t *buf, uint64_t seed, size_t len)
{
	uint64_t	s = seed;
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	x = mix64(s += 0x9E3779B97F4A7C15ULL);

		memcpy(buf + i, &x, 8);
	}
	if (i < len)
	{
		uint64_t	x = mix64(s += 0x9E3779B97F4A7C15ULL);

		memcpy(buf + i, &x, len - i);
	}
}

#define VMAX	40000
static uint8_t vbuf[VMAX];

static int
kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t		n = al < bl ? al : bl;
	int			c = n ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return (al > bl) - (al < bl);
}

static const char *
kstr(const void *key, size_t n)
{
	static char bufs[2][200];
	static int	bi;
	char	   *b = bufs[bi++ & 1];
	const uint8_t *k = key;
	size_t		o = 0;

	b[o++] = '"';
	for (size_t i = 0; i < n && o < 180; i++)
	{
		if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"' && k[i] != '\\')
			b[o++] = (char) k[i];
		else
			o += (size_t) snprintf(b + o, 8, "\\x%02x", k[i]);
	}
	b[o++] = '"';
	b[o] = '\0';
	return b;
}

/* ------------------------------------------------------------------------
 * The model: per tree, a sorted array of candidate keys and, for the two
 * last committed states (0: before the last commit, 1: after it), whether
 * each is present and its value.
 * ------------------------------------------------------------------------ */
typedef struct ckey
{
	uint8_t		key[48];
	uint8_t		klen;
	uint8_t		present[2];
	uint32_t	vlen[2];
	uint64_t	vseed[2];
} ckey;

typedef struct cmodel
{
	ckey	   *k[CT];
	size_t		n[CT];
	uint64_t	txnid[2];		/* txnid of state 0 and state 1 */
	uint64_t	page_count;		/* of state 1 */
	uint64_t	free_pages;		/* of state 1 (ts_stat.free_pages) */
	uint64_t	zero_pages;		/* pages below page_count that are all zeros */
	uint8_t    *is_free;		/* per page: listed on state 1's freelist */
	uint8_t    *img;			/* the pristine file */
	size_t		img_len;
	int			newer_meta;		/* page (0/1) holding state 1's meta */
	char		src[512];		/* the directory built: its wal-* files go with every copy */
} cmodel;

static int
ckey_cmp(const void *a, const void *b)
{
	const ckey *x = a,
			   *y = b;

	return kcmp(x->key, x->klen, y->key, y->klen);
}

static uint32_t
gen_vlen(rng_t *r)
{
	unsigned	u = (unsigned) rng_below(r, 100);

	if (u < 3)
		return 0;
	if (u < 88)
		return (uint32_t) rng_range(r, 5, 300);
	if (u < 97)
		return (uint32_t) rng_range(r, 400, 3000);
	return (uint32_t) rng_range(r, 5000, VMAX);
}

/* Apply random changes to slot 0 (the transaction's working copy). */
static void
random_changes(rng_t *r, cmodel *m, ts_txn *txn, const ts_tree *trees, int nops, int want_overflow)
{
	for (int op = 0; op < nops; op++)
	{
		int			t = (int) rng_below(r, CT);
		ckey	   *k = &m->k[t][rng_below(r, m->n[t])];

		if (k->present[0] && rng_below(r, 100) < 30)
		{
			CHECK_OK(ts_del(txn, trees[t], k->key, k->klen));
			k->present[0] = 0;
		}
		else
		{
			uint32_t	vlen = (want_overflow && op == 0) ? 12345 : gen_vlen(r);
			uint64_t	vseed = rng_u64(r);

			val_fill(vbuf, vseed, vlen);
			CHECK_OK(ts_put(txn, trees[t], k->key, k->klen, vbuf, vlen, 0));
			k->present[0] = 1;
			k->vlen[0] = vlen;
			k->vseed[0] = vseed;
		}
	}
}

static void
copy_slot(cmodel *m, int from, int to)
{
	for (int t = 0; t < CT; t++)
		for (size_t i = 0; i < m->n[t]; i++)
		{
			ckey	   *k = &m->k[t][i];

			k->present[to] = k->present[from];
			k->vlen[to] = k->vlen[from];
			k->vseed[to] = k->vseed[from];
		}
}

static void
read_image(cmodel *m, const char *dir)
{
	char		path[600];
	FILE	   *f;
	long		len;

	snprintf(path, sizeof(path), "%s/treestore.db", dir);
	f = fopen(path, "rb");
	CHECK_MSG(f != NULL, "cannot open %s: %s", path, strerror(errno));
	CHECK(fseek(f, 0, SEEK_END) == 0);
	len = ftell(f);
	CHECK(len > 0);
	CHECK(fseek(f, 0, SEEK_SET) == 0);
	m->img_len = (size_t) len;
	m->img = malloc(m->img_len);
	CHECK(m->img != NULL);
	CHECK(fread(m->img, 1, m->img_len, f) == m->img_len);
	fclose(f);
}

static void find_free_pages(cmodel *m);

/*
 * Build a file: `ncommits` commits of `nops` random changes (some aborted
 * transactions in between), then one last commit of `nlast` changes.
 * Keeps the states before and after the last commit.
 */
static void
build(cmodel *m, const char *dir, size_t ncand, int ncommits, int nops, int nlast, uint64_t seed)
{
	rng_t		r = {seed};
	ts_options	o;
	ts_env	   *env;
	ts_txn	   *txn;
	ts_tree		trees[CT];
	ts_stat		st;

	memset(m, 0, sizeof(*m));
	snprintf(m->src, sizeof(m->src), "%s", dir);
	for (int t = 0; t < CT; t++)
	{
		size_t		n = 0;

		m->k[t] = calloc(ncand, sizeof(ckey));
		CHECK(m->k[t] != NULL);
		for (size_t i = 0; i < ncand; i++)
		{
			ckey	   *k = &m->k[t][i];

			k->klen = (uint8_t) rng_range(&r, 1, sizeof(k->key));
			for (size_t j = 0; j < k->klen; j++)
				k->key[j] = j < 2 ? (uint8_t) ('a' + rng_below(&r, 8)) : (uint8_t) rng_below(&r, 256);
		}
		qsort(m->k[t], ncand, sizeof(ckey), ckey_cmp);
		for (size_t i = 0; i < ncand; i++)	/* drop duplicates */
			if (n == 0 || ckey_cmp(&m->k[t][n - 1], &m->k[t][i]) != 0)
				m->k[t][n++] = m->k[t][i];
		m->n[t] = n;
	}

	ts_options_init(&o);
	o.sync = 0;
	o.flags = TS_CREATE;
	CHECK_OK(ts_env_open(dir, &o, &env));
	CHECK_OK(ts_txn_begin(env, 0, &txn));
	for (int t = 0; t < CT; t++)
		CHECK_OK(ts_tree_open(txn, cnames[t], TS_CREATE, &trees[t]));
	CHECK_OK(ts_txn_commit(txn));

	/* slot 1: committed; slot 0: the open transaction's working copy */
	for (int c = 0; c < ncommits; c++)
	{
		copy_slot(m, 1, 0);
		CHECK_OK(ts_txn_begin(env, 0, &txn));
		random_changes(&r, m, txn, trees, nops, 0);
		if (c % 5 == 3)
			ts_txn_abort(txn);
		else
		{
			CHECK_OK(ts_txn_commit(txn));
			copy_slot(m, 0, 1);
		}
	}
	/*
	 * The last commit: slot 0 = before it, slot 1 = after it.  A checkpoint
	 * on either side puts those two states in the two meta pages.
	 */
	CHECK_OK(ts_env_checkpoint(env));
	CHECK_OK(ts_env_stat(env, &st));
	m->txnid[0] = st.txnid;
	copy_slot(m, 1, 0);
	CHECK_OK(ts_txn_begin(env, 0, &txn));
	random_changes(&r, m, txn, trees, nlast, 1);
	CHECK_OK(ts_txn_commit(txn));
	for (int t = 0; t < CT; t++)	/* swap the slots */
		for (size_t i = 0; i < m->n[t]; i++)
		{
			ckey	   *k = &m->k[t][i];
			ckey		tmp = *k;

			k->present[0] = tmp.present[1];
			k->vlen[0] = tmp.vlen[1];
			k->vseed[0] = tmp.vseed[1];
			k->present[1] = tmp.present[0];
			k->vlen[1] = tmp.vlen[0];
			k->vseed[1] = tmp.vseed[0];
		}
	CHECK_OK(ts_env_checkpoint(env));
	CHECK_OK(ts_env_stat(env, &st));
	m->txnid[1] = st.txnid;
	m->page_count = st.page_count;
	m->free_pages = st.free_pages;
	CHECK(m->txnid[1] > m->txnid[0]);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));

	read_image(m, dir);
	CHECK_MSG(m->img_len >= m->page_count * TS_PAGE_SIZE,
			  "file is %zu bytes, shorter than its %" PRIu64 " pages", m->img_len, m->page_count);
	{
		uint64_t	t0 = rd64(m->img + MT_TXNID),
					t1 = rd64(m->img + TS_PAGE_SIZE + MT_TXNID);

		CHECK_MSG((t0 == m->txnid[1] && t1 == m->txnid[0]) || (t1 == m->txnid[1] && t0 == m->txnid[0]),
				  "meta txnids %" PRIu64 ", %" PRIu64 "; the last two commits were %" PRIu64 ", %" PRIu64,
				  t0, t1, m->txnid[0], m->txnid[1]);
		m->newer_meta = t1 > t0 ? 1 : 0;
		CHECK(rd64(m->img + (size_t) m->newer_meta * TS_PAGE_SIZE + MT_PAGE_COUNT) == m->page_count);
	}
	for (uint64_t p = 2; p < m->page_count; p++)	/* pages never written? */
	{
		const uint8_t *pg = m->img + p * TS_PAGE_SIZE;
		size_t		i = 0;

		while (i < TS_PAGE_SIZE && pg[i] == 0)
			i++;
		m->zero_pages += i == TS_PAGE_SIZE;
	}
	find_free_pages(m);
}

static void
model_free(cmodel *m)
{
	for (int t = 0; t < CT; t++)
		free(m->k[t]);
	free(m->img);
	free(m->is_free);
}

/*
 * The pages on the freelist of the pristine file, read with the layout of
 * format.h (for diagnostics: which damaged pages are free).  The freelist
 * is a B+tree whose values are arrays of u64 page numbers.
 */
static void
fl_walk(cmodel *m, uint64_t pg, int depth, uint64_t *nfree)
{
	const uint8_t *p;
	uint16_t	n;

	CHECK(pg >= 2 && pg < m->page_count && depth <= TS_MAX_DEPTH);
	p = m->img + pg * TS_PAGE_SIZE;
	n = rd16(p + PH_NKEYS);
	CHECK(p[PH_TYPE] == TS_PT_BRANCH || p[PH_TYPE] == TS_PT_LEAF);
	for (uint16_t i = 0; i < n; i++)
	{
		uint16_t	off = rd16(p + TS_PH_SIZE + 2 * i);

		if (p[PH_TYPE] == TS_PT_BRANCH)
			fl_walk(m, rd64(p + off), depth + 1, nfree);
		else
		{
			uint16_t	klen = rd16(p + off),
						vlen = rd16(p + off + 2);
			const uint8_t *val = p + off + 4 + klen;
			uint8_t    *buf = NULL;
			size_t		len = vlen;

			if (vlen == TS_VAL_OVERFLOW)
			{
				uint64_t	next = rd64(val + 8);
				size_t		got = 0;

				len = (size_t) rd64(val);
				buf = malloc(len ? len : 1);
				CHECK(buf != NULL);
				while (got < len)
				{
					const uint8_t *op;
					size_t		take = len - got < TS_OVF_DATA ? len - got : TS_OVF_DATA;

					CHECK(next >= 2 && next < m->page_count);
					op = m->img + next * TS_PAGE_SIZE;
					memcpy(buf + got, op + TS_PH_SIZE, take);
					got += take;
					next = rd64(op + PH_NEXT);
				}
				val = buf;
			}
			for (size_t j = 0; j + 8 <= len; j += 8)
			{
				uint64_t	fp = rd64(val + j);

				CHECK(fp >= 2 && fp < m->page_count);
				m->is_free[fp] = 1;
				(*nfree)++;
			}
			free(buf);
		}
	}
}

static void
find_free_pages(cmodel *m)
{
	const uint8_t *meta = m->img + (size_t) m->newer_meta * TS_PAGE_SIZE;
	uint64_t	root = rd64(meta + MT_FL_ROOT),
				nfree = 0;

	m->is_free = calloc(m->page_count, 1);
	CHECK(m->is_free != NULL);
	if (root != 0)
		fl_walk(m, root, 1, &nfree);
	CHECK_MSG(nfree == m->free_pages, "the freelist lists %" PRIu64 " pages, ts_stat.free_pages says %" PRIu64,
			  nfree, m->free_pages);
}

static size_t
present_count(const cmodel *m, int t, int s)
{
	size_t		n = 0;

	for (size_t i = 0; i < m->n[t]; i++)
		n += m->k[t][i].present[s];
	return n;
}

/* ------------------------------------------------------------------------
 * Verification (runs in a child process: no CHECK, no longjmp)
 * ------------------------------------------------------------------------ */
typedef struct vctx
{
	uint64_t	page;			/* the damaged page, NO_PAGE or ANY_PAGE */
	long		corrupt;		/* reads that failed with TS_CORRUPT */
	long		reads;			/* reads that returned data */
	int			failed;
	char		why[1024];
} vctx;

static void vfail(vctx *v, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
vfail(vctx *v, const char *fmt,...)
{
	va_list		ap;

	if (v->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	v->failed = 1;
}

/* Does msg contain pg as a decimal number (not part of a longer one)? */
static int
names_page(const char *msg, uint64_t pg)
{
	char		num[32];
	size_t		n;

	snprintf(num, sizeof(num), "%" PRIu64, pg);
	n = strlen(num);
	for (const char *p = strstr(msg, num); p; p = strstr(p + 1, num))
		if ((p == msg || !isdigit((unsigned char) p[-1])) && !isdigit((unsigned char) p[n]))
			return 1;
	return 0;
}

/* rc is TS_CORRUPT: account for it and check its message; returns 1. */
static int
is_corrupt(vctx *v, int rc, const char *what)
{
	if (rc != TS_CORRUPT)
		return 0;
	v->corrupt++;
	if (v->page == NO_PAGE)
		vfail(v, "%s: TS_CORRUPT in an undamaged file: %s", what, ts_last_error());
	else if (v->page != ANY_PAGE && !names_page(ts_last_error(), v->page))
		vfail(v, "%s: TS_CORRUPT, but the message does not name page %" PRIu64 ": \"%s\"",
			  what, v->page, ts_last_error());
	return 1;
}

static int
value_ok(const ts_slice *val, const ckey *k, int s)
{
	if (val->len != k->vlen[s])
		return 0;
	if (val->len == 0)
		return 1;
	val_fill(vbuf, k->vseed[s], k->vlen[s]);
	return memcmp(val->data, vbuf, val->len) == 0;
}

/* Compare the cursor's current entry with expected key index e (may be -1: none). */
static void
cursor_expect(vctx *v, ts_cursor *c, int rc, const cmodel *m, int t, int s, long e, const char *what)
{
	ts_slice	k,
				val;

	if (e < 0)
	{
		if (rc == 0 && ts_cursor_get(c, &k, &val) == 0)
			vfail(v, "tree %s: %s: found %s, expected nothing", cnames[t], what, kstr(k.data, k.len));
		else if (rc != TS_NOTFOUND && !is_corrupt(v, rc, what))
			vfail(v, "tree %s: %s: returned %d (%s), expected TS_NOTFOUND", cnames[t], what, rc, ts_strerror(rc));
		return;
	}
	if (rc == 0)
		rc = ts_cursor_get(c, &k, &val);
	if (rc == 0)
	{
		const ckey *ek = &m->k[t][e];

		v->reads++;
		if (kcmp(k.data, k.len, ek->key, ek->klen) != 0)
			vfail(v, "tree %s: %s: at %s, expected %s", cnames[t], what, kstr(k.data, k.len), kstr(ek->key, ek->klen));
		else if (!value_ok(&val, ek, s))
			vfail(v, "tree %s: %s: wrong value at %s (%zu bytes, expected %u)", cnames[t], what,
				  kstr(k.data, k.len), val.len, ek->vlen[s]);
	}
	else if (!is_corrupt(v, rc, what))
		vfail(v, "tree %s: %s: returned %d (%s), expected %s", cnames[t], what, rc, ts_strerror(rc),
			  kstr(m->k[t][e].key, m->k[t][e].klen));
}

/* Full scan in one direction. */
static void
scan(vctx *v, ts_txn *txn, ts_tree tree, const cmodel *m, int t, int s, int back)
{
	ts_cursor  *c;
	long		n = (long) m->n[t],
				e = back ? n - 1 : 0;
	int			rc = ts_cursor_open(txn, tree, &c);
	const char *what = back ? "backward scan" : "forward scan";

	if (rc != 0)
	{
		if (!is_corrupt(v, rc, "ts_cursor_open"))
			vfail(v, "ts_cursor_open: %s", ts_strerror(rc));
		return;
	}
	rc = back ? ts_cursor_last(c) : ts_cursor_first(c);
	for (;;)
	{
		ts_slice	k,
					val;

		while (e >= 0 && e < n && !m->k[t][e].present[s])
			e += back ? -1 : 1;
		if (rc != 0)
		{
			if (rc == TS_NOTFOUND)
			{
				if (e >= 0 && e < n)
					vfail(v, "tree %s: %s ended early: %s is missing", cnames[t], what,
						  kstr(m->k[t][e].key, m->k[t][e].klen));
			}
			else if (!is_corrupt(v, rc, what))
				vfail(v, "tree %s: %s: returned %d (%s)", cnames[t], what, rc, ts_strerror(rc));
			break;
		}
		if (e < 0 || e >= n)
		{
			if (ts_cursor_get(c, &k, &val) == 0)
				vfail(v, "tree %s: %s: extra entry %s", cnames[t], what, kstr(k.data, k.len));
			else
				vfail(v, "tree %s: %s: an extra entry", cnames[t], what);
			break;
		}
		cursor_expect(v, c, 0, m, t, s, e, what);
		if (v->failed)
			break;
		e += back ? -1 : 1;
		rc = back ? ts_cursor_prev(c) : ts_cursor_next(c);
	}
	ts_cursor_close(c);
}

/* Read everything of state s: stats, both scans, every get, seeks. */
static void
read_all(vctx *v, ts_env *env, const cmodel *m, int s)
{
	ts_txn	   *txn;
	int			rc = ts_txn_begin(env, TS_RDONLY, &txn);
	rng_t		r = {42};

	if (rc != 0)
	{
		if (!is_corrupt(v, rc, "ts_txn_begin"))
			vfail(v, "ts_txn_begin: %s", ts_strerror(rc));
		return;
	}
	for (int t = 0; t < CT && !v->failed; t++)
	{
		ts_tree		tree;
		ts_treestat ts;
		ts_cursor  *c;

		rc = ts_tree_open(txn, cnames[t], 0, &tree);
		if (rc != 0)
		{
			if (!is_corrupt(v, rc, "ts_tree_open"))
				vfail(v, "ts_tree_open(%s): %d (%s)", cnames[t], rc, ts_strerror(rc));
			continue;
		}
		rc = ts_tree_stat(txn, tree, &ts);
		if (rc == 0)
		{
			if (ts.entries != present_count(m, t, s))
				vfail(v, "tree %s: ts_tree_stat entries %" PRIu64 ", expected %zu", cnames[t],
					  ts.entries, present_count(m, t, s));
		}
		else if (!is_corrupt(v, rc, "ts_tree_stat"))
			vfail(v, "ts_tree_stat(%s): %s", cnames[t], ts_strerror(rc));

		scan(v, txn, tree, m, t, s, 0);
		scan(v, txn, tree, m, t, s, 1);

		/* every candidate key: present ones with their value, others absent */
		for (size_t i = 0; i < m->n[t] && !v->failed; i++)
		{
			const ckey *k = &m->k[t][i];
			ts_slice	val;

			rc = ts_get(txn, tree, k->key, k->klen, &val);
			if (rc == 0)
			{
				v->reads++;
				if (!k->present[s])
					vfail(v, "tree %s: get %s found a value, the key is absent", cnames[t], kstr(k->key, k->klen));
				else if (!value_ok(&val, k, s))
					vfail(v, "tree %s: get %s: wrong value (%zu bytes, expected %u)", cnames[t],
						  kstr(k->key, k->klen), val.len, k->vlen[s]);
			}
			else if (rc == TS_NOTFOUND)
			{
				if (k->present[s])
					vfail(v, "tree %s: get %s: TS_NOTFOUND, the key is present", cnames[t], kstr(k->key, k->klen));
			}
			else if (!is_corrupt(v, rc, "ts_get"))
				vfail(v, "tree %s: get %s: %d (%s)", cnames[t], kstr(k->key, k->klen), rc, ts_strerror(rc));
		}

		/* seeks to candidate keys and just past them */
		if (ts_cursor_open(txn, tree, &c) == 0)
		{
			for (int i = 0; i < 60 && !v->failed; i++)
			{
				long		n = (long) m->n[t],
							j = (long) rng_below(&r, m->n[t]),
							e;
				const ckey *k = &m->k[t][j];
				uint8_t		probe[64];

				/* seek(key): first present >= key */
				for (e = j; e < n && !m->k[t][e].present[s]; e++)
					;
				rc = ts_cursor_seek(c, k->key, k->klen);
				cursor_expect(v, c, rc, m, t, s, e < n ? e : -1, "seek");
				/* seek_le(key + "\0"): last present <= key */
				memcpy(probe, k->key, k->klen);
				probe[k->klen] = 0;
				for (e = j; e >= 0 && !m->k[t][e].present[s]; e--)
					;
				rc = ts_cursor_seek_le(c, probe, (size_t) k->klen + 1);
				cursor_expect(v, c, rc, m, t, s, e, "seek_le");
			}
			ts_cursor_close(c);
		}
	}
	ts_txn_abort(txn);
}

static int
open_copy(const char *dir, ts_env **env)
{
	ts_options	o;

	ts_options_init(&o);
	o.sync = 0;
	o.cache_pages = 16;
	return ts_env_open(dir, &o, env);
}

/*
 * Which state does the open environment show (0, 1)?  `state` is the one
 * expected (-1: either).  ts_env_stat reads the freelist (pinned_pages), so
 * it too may fail with TS_CORRUPT; then the expected state is assumed.
 * Returns -1 after recording a failure.
 */
static int
state_of(vctx *v, ts_env *env, const cmodel *m, int state)
{
	ts_stat		st;
	int			rc = ts_env_stat(env, &st),
				s;

	if (rc != 0)
	{
		if (!is_corrupt(v, rc, "ts_env_stat"))
			vfail(v, "ts_env_stat: %d (%s)", rc, ts_strerror(rc));
		else if (state < 0)
			vfail(v, "ts_env_stat failed (%s), so the state opened cannot be told", ts_last_error());
		return v->failed ? -1 : state;
	}
	s = st.txnid == m->txnid[1] ? 1 : st.txnid == m->txnid[0] ? 0 : -1;
	if (s < 0 || (state >= 0 && s != state))
	{
		vfail(v, "opened at txnid %" PRIu64 ", expected %" PRIu64 " (the state %s the last commit)",
			  st.txnid, m->txnid[state < 0 ? 1 : state], state == 0 ? "before" : "after");
		return -1;
	}
	return s;
}

enum
{
	X_DATA,						/* a damaged data page; pg = that page */
	X_CLEAN,					/* undamaged: everything reads, check passes */
	X_ONE_META,					/* one meta damaged: the other one's state */
	X_OPEN_FAILS,				/* open must fail with `want` */
	X_TRUNCATED					/* pages past the end: TS_CORRUPT, any page */
};

/* Child: open the damaged copy in dir and judge it.  Exit codes below. */
#define CHILD_PASS			0
#define CHILD_FAIL			1
#define CHILD_PASS_DETECTED 3	/* passed, and some read saw TS_CORRUPT */

static int
child_main(const char *dir, const cmodel *m, int kind, uint64_t pg, int want, int state, const char *desc)
{
	vctx		v;
	ts_env	   *env = NULL;
	int			rc,
				s;

	memset(&v, 0, sizeof(v));
	v.page = kind == X_DATA ? pg : kind == X_TRUNCATED ? ANY_PAGE : NO_PAGE;
	rc = open_copy(dir, &env);
	if (kind == X_OPEN_FAILS)
	{
		if (rc != want)
			vfail(&v, "ts_env_open returned %d (%s), expected %d (%s); last error: %s",
				  rc, ts_strerror(rc), want, ts_strerror(want), ts_last_error());
		goto out;
	}
	if (rc != 0)
	{
		if ((kind == X_DATA || kind == X_TRUNCATED) && is_corrupt(&v, rc, "ts_env_open"))
			goto out;
		vfail(&v, "ts_env_open: %d (%s): %s", rc, ts_strerror(rc), ts_last_error());
		goto out;
	}
	s = state_of(&v, env, m, state);
	if (s < 0)
		goto out;
	read_all(&v, env, m, s);
	if (v.failed)
		goto out;
	rc = ts_env_check(env);
	if ((kind == X_DATA || kind == X_TRUNCATED) && rc == 0 && pg != NO_PAGE && pg < m->page_count &&
		m->is_free[pg])
	{
		/* a free page holds no data (after a crash it may hold anything):
		 * damage there is harmless, and the check need not see it */
	}
	else if (kind == X_DATA || kind == X_TRUNCATED)
	{
		if (rc != TS_CORRUPT)
			vfail(&v, "ts_env_check returned %d (%s), expected TS_CORRUPT (%ld reads saw TS_CORRUPT)",
				  rc, ts_strerror(rc), v.corrupt);
		else
		{
			v.corrupt--;		/* is_corrupt counts it; it is not a read */
			is_corrupt(&v, rc, "ts_env_check");
		}
	}
	else if (kind == X_CLEAN && rc != 0)
		vfail(&v, "ts_env_check: %d (%s): %s", rc, ts_strerror(rc), ts_last_error());
	else if (kind == X_ONE_META)
	{
		ts_txn	   *txn;
		ts_tree		tr;

		/* the check may or may not look at the damaged meta; a commit repairs it */
		if (rc != 0 && rc != TS_CORRUPT)
			vfail(&v, "ts_env_check with one damaged meta: %d (%s)", rc, ts_strerror(rc));
		if ((rc = ts_txn_begin(env, 0, &txn)) != 0 ||
			(rc = ts_tree_open(txn, "repair", TS_CREATE, &tr)) != 0 ||
			(rc = ts_put(txn, tr, "k", 1, "v", 1, 0)) != 0 ||
			(rc = ts_txn_commit(txn)) != 0 ||
			(rc = ts_env_checkpoint(env)) != 0)
		{
			vfail(&v, "commit after opening with one damaged meta: %s (%s)", ts_strerror(rc), ts_last_error());
			goto out;
		}
		rc = ts_env_close(env);
		env = NULL;
		if (rc != 0)
		{
			vfail(&v, "ts_env_close: %s", ts_strerror(rc));
			goto out;
		}
		if ((rc = open_copy(dir, &env)) != 0)
		{
			vfail(&v, "reopen after the repairing commit: %s (%s)", ts_strerror(rc), ts_last_error());
			goto out;
		}
		if ((rc = ts_env_check(env)) != 0)
			vfail(&v, "ts_env_check after the repairing commit: %d (%s): %s", rc, ts_strerror(rc), ts_last_error());
		read_all(&v, env, m, s);
	}
out:
	if (env)
	{
		rc = ts_env_close(env);
		if (rc != 0 && rc != TS_CORRUPT)
			vfail(&v, "ts_env_close: %d (%s)", rc, ts_strerror(rc));
	}
	if (v.failed)
	{
		fprintf(stderr, "  %s: %s\n", desc, v.why);
		return CHILD_FAIL;
	}
	return v.corrupt > 0 ? CHILD_PASS_DETECTED : CHILD_PASS;
}

/* ------------------------------------------------------------------------
 * Trials (parent)
 * ------------------------------------------------------------------------ */
typedef struct tally
{
	int			trials,
				failed,
				failed_free,		/* of those: the damaged page is a free page */
				detected_by_reads,
				detected_by_check_only;
	char		failed_pages[512];
	size_t		fp_len;
} tally;

static void
write_copy(const char *dir, const uint8_t *img, size_t len)
{
	char		path[600];
	int			fd;
	size_t		off = 0;

	snprintf(path, sizeof(path), "%s/treestore.db", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK_MSG(fd >= 0, "cannot create %s: %s", path, strerror(errno));
	while (off < len)
	{
		ssize_t		n = write(fd, img + off, len - off);

		CHECK_MSG(n > 0, "write %s: %s", path, strerror(errno));
		off += (size_t) n;
	}
	CHECK(close(fd) == 0);
}

/*
 * Give the work directory the pristine write-ahead log of the built one
 * (the damage under test is in the data file; a child may have changed the
 * log of the previous trial).
 */
static void
copy_wal(const char *from, const char *to)
{
	char		cmd[1400];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/wal-* && for f in '%s'/wal-*; do "
			 "[ -e \"$f\" ] && cp \"$f\" '%s'/; done; true", to, from, to);
	CHECK_MSG(system(cmd) == 0, "cannot copy the log from %s to %s", from, to);
}

/* Run one trial on the image in a child process; returns the child's code. */
static int
trial(tally *ta, const char *dir, const uint8_t *img, size_t len, const cmodel *m,
	  int kind, uint64_t pg, int want, int state, const char *desc)
{
	pid_t		pid;
	int			status,
				code;

	write_copy(dir, img, len);
	copy_wal(m->src, dir);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CHECK_MSG(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
	{
		alarm(300);
		code = child_main(dir, m, kind, pg, want, state, desc);
		fflush(stderr);
		_exit(code);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	ta->trials++;
	if (WIFSIGNALED(status))
	{
		fprintf(stderr, "  %s: the reader died of signal %d (%s)\n", desc, WTERMSIG(status),
				WTERMSIG(status) == SIGALRM ? "hung" : strsignal(WTERMSIG(status)));
		code = CHILD_FAIL;
	}
	else
		code = WEXITSTATUS(status);
	if (code != CHILD_PASS && code != CHILD_PASS_DETECTED)
	{
		ta->failed++;
		if (kind == X_DATA && m->is_free[pg])
		{
			ta->failed_free++;
			fprintf(stderr, "    (page %" PRIu64 " is on the freelist: not reachable from any tree)\n", pg);
		}
		if (ta->fp_len < sizeof(ta->failed_pages) - 32)
			ta->fp_len += (size_t) snprintf(ta->failed_pages + ta->fp_len, sizeof(ta->failed_pages) - ta->fp_len,
											"%s%" PRIu64, ta->fp_len ? " " : "", pg);
		code = CHILD_FAIL;
	}
	else if (kind == X_DATA)
	{
		if (code == CHILD_PASS_DETECTED)
			ta->detected_by_reads++;
		else
			ta->detected_by_check_only++;
	}
	return code;
}

static const char *const mode_names[] = {"1 byte", "2-8 bytes", "header byte", "garbled range"};

/* Damage page pg of buf (a copy of the image) by mode; describe it. */
static void
damage(rng_t *r, uint8_t *buf, uint64_t pg, int mode, char *desc, size_t dlen)
{
	uint8_t    *p = buf + pg * TS_PAGE_SIZE;
	size_t		off = 0,
				n = 1;

	switch (mode)
	{
		case 0:
			off = (size_t) rng_below(r, TS_PAGE_SIZE);
			p[off] ^= (uint8_t) rng_range(r, 1, 255);
			break;
		case 1:
			n = (size_t) rng_range(r, 2, 8);
			for (size_t i = 0; i < n; i++)
			{
				off = (size_t) rng_below(r, TS_PAGE_SIZE);
				p[off] ^= (uint8_t) rng_range(r, 1, 255);
			}
			break;
		case 2:
			off = (size_t) rng_below(r, TS_PH_SIZE);
			p[off] ^= (uint8_t) (1u << rng_below(r, 8));
			break;
		default:
			{
				uint8_t		old[512];
				int			changed = 0;

				n = (size_t) rng_range(r, 16, 512);
				off = (size_t) rng_below(r, TS_PAGE_SIZE - n + 1);
				memcpy(old, p + off, n);
				for (size_t i = 0; i < n; i++)
					p[off + i] = (uint8_t) rng_u64(r);
				for (size_t i = 0; i < n; i++)
					changed |= old[i] != p[off + i];
				if (!changed)
					p[off] ^= 1;
			}
			break;
	}
	snprintf(desc, dlen, "page %" PRIu64 " (%s at offset %zu%s)", pg, mode_names[mode], off,
			 mode == 3 ? ", range" : "");
}

static char work_dir[512];

static void
make_work_dir(const char *tag)
{
	snprintf(work_dir, sizeof(work_dir), "%s", th_tmpdir(tag));
	CHECK_MSG(mkdir(work_dir, 0755) == 0, "mkdir %s: %s", work_dir, strerror(errno));
}

/* One damaged-page trial: a data page, or a meta page (the other meta's state). */
static void
page_trial(tally *ta, rng_t *r, const cmodel *m, uint8_t *buf, uint64_t pg, int mode)
{
	char		desc[200];

	memcpy(buf, m->img, m->img_len);
	damage(r, buf, pg, mode, desc, sizeof(desc));
	if (pg < 2)
		/*
		 * The other meta is used; with the newer one damaged, recovery
		 * replays the last commit from the log: nothing is lost either way.
		 */
		trial(ta, work_dir, buf, m->img_len, m, X_ONE_META, pg, 0, 1, desc);
	else
		trial(ta, work_dir, buf, m->img_len, m, X_DATA, pg, 0, 1, desc);
}

static void
report(const char *what, const tally *ta)
{
	printf("# %s: %d trials, %d failed (%d of them on a free page); damaged data pages detected by reads %d, "
		   "by ts_env_check only %d\n", what, ta->trials, ta->failed, ta->failed_free,
		   ta->detected_by_reads, ta->detected_by_check_only);
	fflush(stdout);
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

/* Every page of a small file, twice (a flipped byte, then several). */
TEST(corrupt_every_page_small)
{
	cmodel		m;
	const char *d = th_tmpdir("corrupt-small");
	char		src[512];
	rng_t		r = {7};
	tally		ta;
	uint8_t    *buf;

	snprintf(src, sizeof(src), "%s", d);
	build(&m, src, 40, 4, 25, 10, 1001);
	make_work_dir("corrupt-small-work");
	memset(&ta, 0, sizeof(ta));
	buf = malloc(m.img_len);
	CHECK(buf != NULL);
	printf("# small file: %" PRIu64 " pages (%" PRIu64 " free, %" PRIu64 " all zeros), %zu bytes; newest meta is page %d\n",
		   m.page_count, m.free_pages, m.zero_pages, m.img_len, m.newer_meta);
	CHECK(trial(&ta, work_dir, m.img, m.img_len, &m, X_CLEAN, NO_PAGE, 0, 1, "undamaged copy") == CHILD_PASS);
	for (uint64_t pg = 0; pg < m.page_count; pg++)
	{
		page_trial(&ta, &r, &m, buf, pg, 0);
		page_trial(&ta, &r, &m, buf, pg, 1);
	}
	report("every page of a small file", &ta);
	free(buf);
	model_free(&m);
	th_rmdir(src);
	th_rmdir(work_dir);
	CHECK_MSG(ta.failed == 0, "%d of %d trials failed (pages %s); see the lines above",
			  ta.failed, ta.trials, ta.failed_pages);
}

/* Random pages of a larger file. */
TEST(corrupt_random_pages)
{
	cmodel		m;
	const char *d = th_tmpdir("corrupt-big");
	char		src[512];
	rng_t		r = {20241125};
	tally		ta;
	uint8_t    *buf;
	long		ntrials = 250;
	const char *e = getenv("TS_CORRUPT_TRIALS");

	if (e && *e)
		ntrials = strtol(e, NULL, 0);
	snprintf(src, sizeof(src), "%s", d);
	build(&m, src, 1800, 16, 300, 40, 2002);
	make_work_dir("corrupt-big-work");
	memset(&ta, 0, sizeof(ta));
	buf = malloc(m.img_len);
	CHECK(buf != NULL);
	printf("# larger file: %" PRIu64 " pages (%" PRIu64 " free, %" PRIu64 " all zeros), %zu bytes, "
		   "%zu+%zu+%zu keys; newest meta is page %d\n",
		   m.page_count, m.free_pages, m.zero_pages, m.img_len, present_count(&m, 0, 1),
		   present_count(&m, 1, 1), present_count(&m, 2, 1), m.newer_meta);
	CHECK(m.page_count > 200);
	CHECK(trial(&ta, work_dir, m.img, m.img_len, &m, X_CLEAN, NO_PAGE, 0, 1, "undamaged copy") == CHILD_PASS);
	for (long i = 0; i < ntrials; i++)
	{
		uint64_t	pg = rng_range(&r, 2, m.page_count - 1);

		page_trial(&ta, &r, &m, buf, pg, (int) rng_below(&r, 4));
	}
	report("random pages of a larger file", &ta);
	free(buf);
	model_free(&m);
	th_rmdir(src);
	th_rmdir(work_dir);
	CHECK_MSG(ta.failed == 0, "%d of %d trials failed (pages %s); see the lines above",
			  ta.failed, ta.trials, ta.failed_pages);
}

static void
reseal(uint8_t *page)
{
	wr32(page + PH_CRC, ts_crc32c(0, page + 4, TS_PAGE_SIZE - 4));
}

TEST(corrupt_meta_pages)
{
	cmodel		m;
	const char *d = th_tmpdir("corrupt-meta");
	char		src[512];
	rng_t		r = {99};
	tally		ta;
	uint8_t    *buf;
	int			newer,
				older;

	snprintf(src, sizeof(src), "%s", d);
	build(&m, src, 600, 6, 200, 30, 3003);
	make_work_dir("corrupt-meta-work");
	memset(&ta, 0, sizeof(ta));
	buf = malloc(m.img_len);
	CHECK(buf != NULL);
	newer = m.newer_meta;
	older = 1 - newer;

	/* one damaged meta, several ways each: the other meta's state, then repair */
	for (int i = 0; i < 8; i++)
	{
		page_trial(&ta, &r, &m, buf, (uint64_t) newer, i % 4);
		page_trial(&ta, &r, &m, buf, (uint64_t) older, i % 4);
	}
	/* a meta whose checksum is fine but whose magic is not is skipped */
	memcpy(buf, m.img, m.img_len);
	buf[(size_t) newer * TS_PAGE_SIZE + MT_MAGIC] ^= 0x20;
	reseal(buf + (size_t) newer * TS_PAGE_SIZE);
	trial(&ta, work_dir, buf, m.img_len, &m, X_ONE_META, NO_PAGE, 0, 1, "newer meta with a bad magic");
	/* re-sealing an unchanged meta changes nothing (validates reseal) */
	memcpy(buf, m.img, m.img_len);
	reseal(buf + (size_t) newer * TS_PAGE_SIZE);
	CHECK(memcmp(buf, m.img, m.img_len) == 0);
	/* both metas damaged: nothing to open */
	for (int i = 0; i < 4; i++)
	{
		char		desc[200],
					d2[200];

		memcpy(buf, m.img, m.img_len);
		damage(&r, buf, 0, i, desc, sizeof(desc));
		damage(&r, buf, 1, i, d2, sizeof(d2));
		strncat(desc, " and ", sizeof(desc) - strlen(desc) - 1);
		strncat(desc, d2, sizeof(desc) - strlen(desc) - 1);
		trial(&ta, work_dir, buf, m.img_len, &m, X_OPEN_FAILS, NO_PAGE, TS_CORRUPT, -1, desc);
	}
	/* a newer on-disk format: TS_TOO_NEW, not TS_CORRUPT */
	memcpy(buf, m.img, m.img_len);
	for (int p = 0; p < 2; p++)
	{
		uint8_t    *pg = buf + (size_t) p * TS_PAGE_SIZE;

		CHECK(rd32(pg + MT_VERSION) == TS_FORMAT_VERSION);
		wr32(pg + MT_VERSION, TS_FORMAT_VERSION + 1);
		reseal(pg);
	}
	trial(&ta, work_dir, buf, m.img_len, &m, X_OPEN_FAILS, NO_PAGE, TS_TOO_NEW, -1,
		  "both metas at format version TS_FORMAT_VERSION + 1");
	/* only the current meta is newer: still TS_TOO_NEW (never silently older data) */
	memcpy(buf, m.img, m.img_len);
	wr32(buf + (size_t) newer * TS_PAGE_SIZE + MT_VERSION, 0x7fffffff);
	reseal(buf + (size_t) newer * TS_PAGE_SIZE);
	trial(&ta, work_dir, buf, m.img_len, &m, X_OPEN_FAILS, NO_PAGE, TS_TOO_NEW, -1,
		  "newest meta at format version 0x7fffffff");
	/* and the untouched file still opens after all this */
	CHECK(trial(&ta, work_dir, m.img, m.img_len, &m, X_CLEAN, NO_PAGE, 0, 1, "undamaged copy") == CHILD_PASS);
	report("meta pages", &ta);
	free(buf);
	model_free(&m);
	th_rmdir(src);
	th_rmdir(work_dir);
	CHECK_MSG(ta.failed == 0, "%d of %d trials failed; see the lines above", ta.failed, ta.trials);
}

TEST(corrupt_truncated)
{
	cmodel		m;
	const char *d = th_tmpdir("corrupt-trunc");
	char		src[512];
	tally		ta;
	size_t		cuts[4];
	const char *cut_names[4] = {"cut in the middle of a page, halfway", "cut after the meta pages",
	"cut inside the last page", "cut after a quarter"};

	snprintf(src, sizeof(src), "%s", d);
	build(&m, src, 1200, 8, 250, 20, 4004);
	make_work_dir("corrupt-trunc-work");
	memset(&ta, 0, sizeof(ta));
	cuts[0] = (size_t) (m.page_count / 2) * TS_PAGE_SIZE + 1234;
	cuts[1] = 2 * TS_PAGE_SIZE;
	cuts[2] = (size_t) m.page_count * TS_PAGE_SIZE - 100;
	cuts[3] = (size_t) (m.page_count / 4) * TS_PAGE_SIZE;
	for (int i = 0; i < 4; i++)
	{
		char		desc[200];

		uint64_t	first = cuts[i] / TS_PAGE_SIZE,
					nfree = 0;

		for (uint64_t p = first; p < m.page_count; p++)
			nfree += m.is_free[p];
		snprintf(desc, sizeof(desc), "%s (%zu of %zu bytes; pages %" PRIu64 "..%" PRIu64 " lost, %" PRIu64 " of them free)",
				 cut_names[i], cuts[i], m.img_len, first, m.page_count - 1, nfree);
		if (nfree == m.page_count - first)
			/* only free pages lost: nothing of the data is missing */
			trial(&ta, work_dir, m.img, cuts[i], &m, X_DATA, first, 0, 1, desc);
		else
			trial(&ta, work_dir, m.img, cuts[i], &m, X_TRUNCATED, ANY_PAGE, 0, 1, desc);
	}
	/* the second meta page cut: open fails, or uses meta 0 and every data
	 * page reads as damaged */
	trial(&ta, work_dir, m.img, TS_PAGE_SIZE + 100, &m, X_TRUNCATED, ANY_PAGE, 0, -1,
		  "cut inside the second meta page");
	trial(&ta, work_dir, m.img, 0, &m, X_OPEN_FAILS, NO_PAGE, TS_CORRUPT, -1, "empty file");
	report("truncated files", &ta);
	model_free(&m);
	th_rmdir(src);
	th_rmdir(work_dir);
	CHECK_MSG(ta.failed == 0, "%d of %d trials failed; see the lines above", ta.failed, ta.trials);
}

/* ------------------------------------------------------------------------
 * A stale page: a lost write (issue 12, item 17)
 *
 * Every commit rewrites every key of a tree of long keys (so it has several
 * branch pages) and the data file is copied after each checkpoint.  Then a
 * branch page of the final tree gets back an older image of itself, one
 * with a valid checksum (as if the last write of that page had been lost),
 * chosen so that the pages its cells point at have all been rewritten
 * since.  Every read must then give the right value or TS_CORRUPT, never
 * another value or "not found", and the keys below that branch must be
 * TS_CORRUPT.
 * ------------------------------------------------------------------------ */

#define SP_KEYS		600
#define SP_KLEN		400
#define SP_ROUNDS	8

static uint8_t *
sp_slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		TH_FAIL("cannot read %s", path);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
		TH_FAIL("cannot read %s", path);
	fclose(f);
	*len = (size_t) n;
	return buf;
}

static void
sp_key(char *k, int i)
{
	memset(k, 'a' + i % 26, SP_KLEN);
	snprintf(k, 16, "key%05d", i);
	k[8] = '-';
}

static void
sp_round(const char *dir, int round)
{
	ts_options	o;
	ts_env	   *env;
	ts_txn	   *t;
	ts_tree		tr;
	char		k[SP_KLEN],
				v[64];

	ts_options_init(&o);
	o.flags = TS_CREATE;
	o.sync = 0;
	o.cache_pages = 16;
	o.checkpoint_interval_ms = 0;
	CHECK_OK(ts_env_open(dir, &o, &env));
	CHECK_OK(ts_txn_begin(env, 0, &t));
	CHECK_OK(ts_tree_open(t, "t", TS_CREATE, &tr));
	for (int i = 0; i < SP_KEYS; i++)
	{
		sp_key(k, i);
		snprintf(v, sizeof(v), "value %d of round %d", i, round);
		CHECK_OK(ts_put(t, tr, k, SP_KLEN, v, strlen(v), 0));
	}
	CHECK_OK(ts_txn_commit(t));
	CHECK_OK(ts_env_close(env));	/* a checkpoint */
}

/* The branch pages of the tree (root `root`, depth `depth`) in image `img`. */
static size_t
sp_branches(const uint8_t *img, size_t len, uint64_t root, uint32_t depth, uint64_t *out, size_t max)
{
	uint64_t	level[4096],
				next[4096];
	size_t		n = 0,
				nl = 1,
				nn;

	level[0] = root;
	for (uint32_t d = 1; d < depth; d++)
	{
		nn = 0;
		for (size_t i = 0; i < nl; i++)
		{
			const uint8_t *p = img + level[i] * TS_PAGE_SIZE;

			if ((level[i] + 1) * TS_PAGE_SIZE > len)
				continue;
			if (n < max)
				out[n++] = level[i];
			for (int c = 0; c < rd16(p + PH_NKEYS) && nn < 4096; c++)
				next[nn++] = rd64(p + rd16(p + TS_PH_SIZE + 2 * c));
		}
		memcpy(level, next, nn * sizeof(uint64_t));
		nl = nn;
	}
	return n;
}

TEST(corrupt_stale_page_lost_write)
{
	const char *dir = th_tmpdir("stale");
	char		path[600];
	uint8_t    *img[SP_ROUNDS + 1];
	size_t		len[SP_ROUNDS + 1];
	uint64_t	branches[256],
				stale = 0;
	size_t		nb;
	int			from = -1;
	ts_options	o;
	ts_env	   *env;
	ts_txn	   *t;
	ts_tree		tr;
	ts_treestat ts;
	int			corrupt = 0;

	snprintf(path, sizeof(path), "%s/treestore.db", dir);
	for (int r = 0; r <= SP_ROUNDS; r++)
	{
		sp_round(dir, r);
		img[r] = sp_slurp(path, &len[r]);
	}
	ts_options_init(&o);
	o.sync = 0;
	o.cache_pages = 16;
	o.checkpoint_interval_ms = 0;
	CHECK_OK(ts_env_open(dir, &o, &env));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "t", 0, &tr));
	CHECK_OK(ts_tree_stat(t, tr, &ts));
	ts_txn_abort(t);
	CHECK_OK(ts_env_close(env));
	CHECK_MSG(ts.depth >= 2, "tree depth %u", ts.depth);

	/* a branch page X of the final tree, and an older image of X */
	nb = sp_branches(img[SP_ROUNDS], len[SP_ROUNDS], ts.root, ts.depth, branches, 256);
	for (size_t b = 0; b < nb && from < 0; b++)
		for (int r = SP_ROUNDS - 1; r >= 0 && from < 0; r--)
		{
			uint64_t	x = branches[b];
			const uint8_t *old = img[r] + x * TS_PAGE_SIZE;
			int			ok = 1;

			if ((x + 1) * TS_PAGE_SIZE > len[r] ||
				ts_page_verify(old, x, TS_PT_BRANCH, "old image") != 0 ||
				memcmp(old, img[SP_ROUNDS] + x * TS_PAGE_SIZE, TS_PAGE_SIZE) == 0)
				continue;
			for (int c = 0; c < rd16(old + PH_NKEYS) && ok; c++)
			{
				uint64_t	child = rd64(old + rd16(old + TS_PH_SIZE + 2 * c));

				ok = (child + 1) * TS_PAGE_SIZE <= len[SP_ROUNDS] &&
					((child + 1) * TS_PAGE_SIZE > len[r] ||
					 memcmp(img[r] + child * TS_PAGE_SIZE, img[SP_ROUNDS] + child * TS_PAGE_SIZE,
							TS_PAGE_SIZE) != 0);
			}
			if (ok)
			{
				stale = x;
				from = r;
			}
		}
	CHECK_MSG(from >= 0, "no branch page of the final tree has a usable older image (%zu branches)", nb);

	/* the lost write: page `stale` goes back to its image after round `from` */
	{
		FILE	   *f = fopen(path, "r+b");

		CHECK(f != NULL);
		CHECK(fseek(f, (long) (stale * TS_PAGE_SIZE), SEEK_SET) == 0);
		CHECK(fwrite(img[from] + stale * TS_PAGE_SIZE, 1, TS_PAGE_SIZE, f) == TS_PAGE_SIZE);
		CHECK(fclose(f) == 0);
	}
	CHECK_OK(ts_env_open(dir, &o, &env));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &t));
	CHECK_OK(ts_tree_open(t, "t", 0, &tr));
	for (int i = 0; i < SP_KEYS; i++)
	{
		char		k[SP_KLEN],
					v[64];
		ts_slice	val;
		int			rc;

		sp_key(k, i);
		snprintf(v, sizeof(v), "value %d of round %d", i, SP_ROUNDS);
		rc = ts_get(t, tr, k, SP_KLEN, &val);
		if (rc == TS_CORRUPT)
		{
			corrupt++;
			continue;
		}
		CHECK_MSG(rc == 0, "key %d: ts_get returned %d (%s) with page %llu stale",
				  i, rc, ts_strerror(rc), (unsigned long long) stale);
		CHECK_MSG(val.len == strlen(v) && memcmp(val.data, v, val.len) == 0,
				  "key %d: wrong value \"%.*s\" with page %llu stale", i, (int) val.len,
				  (const char *) val.data, (unsigned long long) stale);
	}
	ts_txn_abort(t);
	CHECK_MSG(corrupt > 0, "no read saw the stale page %llu", (unsigned long long) stale);
	CHECK_ERR(ts_env_check(env), TS_CORRUPT);
	CHECK_OK(ts_env_close(env));
	for (int r = 0; r <= SP_ROUNDS; r++)
		free(img[r]);
	th_rmdir(dir);
}

TEST_MAIN(corrupt_every_page_small, corrupt_random_pages, corrupt_meta_pages, corrupt_truncated,
		  corrupt_stale_page_lost_write)
