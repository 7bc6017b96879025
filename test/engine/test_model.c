/*-------------------------------------------------------------------------
 *
 * test_model.c
 *	  Model-based randomized test of the engine's public API (treestore.h).
 *
 *	  A deliberately simple in-memory reference model runs beside the engine
 *	  and every answer the engine gives is compared with it:
 *
 *	  - The committed state of each of NT named trees is an immutable,
 *	    reference-counted sorted array of entries (a "version").  A commit
 *	    builds a new version (copy of the old one merged with the write set),
 *	    so a snapshot is just a reference to the versions current at begin.
 *	  - A write transaction's view is its snapshot plus its own sorted write
 *	    set (puts and tombstones); reads, cursors and NOOVERWRITE puts are
 *	    answered from that merged view (read-your-own-writes).
 *	  - A log of the keys written by each model commit, plus the write sets
 *	    of the prepared transactions, predicts TS_CONFLICT (first committer
 *	    wins, prepared keys reserved).  A transaction that conflicts must
 *	    leave no trace (the keys it wrote are read back at once).
 *	  - Savepoints: a write transaction keeps a copy of its write set for
 *	    each live mark; a rollback puts the copy back (exactly: a key
 *	    written only after the mark is not in the write set at all, so it
 *	    neither conflicts nor commits), a release drops copies.  A cursor
 *	    held across a rollback moves on from its key in the restored view.
 *	  - Entries are immutable and shared between versions; a value is kept
 *	    as (seed, length) and its bytes regenerated when compared.  Entries
 *	    no version, write set or log references are swept now and then.
 *
 *	  One point the header leaves open: a transaction that puts a key absent
 *	  from its snapshot and then deletes it again may keep that key in its
 *	  write set (a tombstone of nothing) or forget it.  The model calls such
 *	  a write "ambiguous": when only ambiguous writes overlap a concurrent
 *	  commit, either commit outcome is accepted, and an ambiguous key never
 *	  changes the committed state (it was absent at the snapshot and, if
 *	  someone wrote it since, the commit must conflict or leave it alone).
 *
 *	  Environment:
 *	    TS_MODEL_OPS    operations of the big randomized run (default 1000000)
 *	    TS_MODEL_SEED   seed (default 20241125; printed)
 *	    TS_MODEL_TRACE  1: print every operation (to build a reproduction)
 *
 *	  Threaded transaction tests (lost updates, consistent snapshots) are in
 *	  test_txn.c.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

#include "harness.h"

#define NT			3
#define MAX_W		16			/* concurrent write transactions */
#define MAX_R		8			/* concurrent read-only transactions */
#define MAX_SP		6			/* live savepoints of a transaction */
#define BIG_MIN		(100 * 1024)
#define BIG_MAX		(300 * 1024)

static const char *const tree_names[NT] = {"alpha", "beta", "gamma"};

/* ------------------------------------------------------------------------
 * Random numbers: splitmix64, explicit state so a run reproduces.
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

static inline int
rng_pm(rng_t *r, unsigned permille)
{
	return rng_below(r, 1000) < permille;
}

/* ------------------------------------------------------------------------
 * Keys and values
 * ------------------------------------------------------------------------ */
static int
kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t		n = al < bl ? al : bl;
	int			c = n ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return (al > bl) - (al < bl);
}

/* Printable form of a key, as a C string literal body (4 rotating buffers). */
static const char *
kstr(const void *key, size_t n)
{
	static char bufs[4][400];
	static int	bi;
	char	   *b = bufs[bi++ & 3];
	const uint8_t *k = key;
	size_t		o = 0,
				i;

	b[o++] = '"';
	for (i = 0; i < n && o < 300; i++)
	{
		uint8_t		c = k[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			b[o++] = (char) c;
		else
			o += (size_t) snprintf(b + o, 8, "\\x%02x", c);
	}
	b[o++] = '"';
	b[o] = '\0';
	if (i < n)
		snprintf(b + o, sizeof(bufs[0]) - o, "...(%zu bytes)", n);
	return b;
}

/* The bytes of a value are a function of (seed, length). */
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

static uint8_t vput[BIG_MAX];	/* value being written */
static uint8_t vcmp[BIG_MAX];	/* value expected */

/* ------------------------------------------------------------------------
 * Trace: the last operations, printed when a check fails.
 * ------------------------------------------------------------------------ */
#define TRACE_N		64
static char trace_ring[TRACE_N][480];
static unsigned long trace_n;
static int	trace_live;
static long trace_op;			/* operation number of the current run */

static void trace(const char *fmt,...) __attribute__((format(printf, 1, 2)));

static void
trace(const char *fmt,...)
{
	va_list		ap;
	char	   *b = trace_ring[trace_n++ % TRACE_N];
	int			n = snprintf(b, 32, "[%ld] ", trace_op);

	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(trace_ring[0]) - (size_t) n, fmt, ap);
	va_end(ap);
	if (trace_live)
		fprintf(stderr, "%s\n", b);
}

static void
trace_dump(void)
{
	unsigned long i = trace_n > TRACE_N ? trace_n - TRACE_N : 0;

	if (trace_live)
		return;
	fprintf(stderr, "  last operations (oldest first):\n");
	for (; i < trace_n; i++)
		fprintf(stderr, "    %s\n", trace_ring[i % TRACE_N]);
}

#define MCHECK(cond, ...) do { th_checks++; \
		if (!(cond)) { trace_dump(); TH_FAIL(__VA_ARGS__); } } while (0)

#define MCHECK_RC(rc, want, what) do { int mc_rc = (rc); th_checks++; \
		if (mc_rc != (want)) { trace_dump(); \
			TH_FAIL("%s: returned %d (%s), expected %d (%s); last error: %s", \
					(what), mc_rc, ts_strerror(mc_rc), (want), ts_strerror(want), \
					ts_last_error()); } } while (0)

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		TH_FAIL("out of memory (%zu bytes)", n);
	return p;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void	   *p = calloc(n ? n : 1, sz);

	if (p == NULL)
		TH_FAIL("out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n ? n : 1);

	if (q == NULL)
		TH_FAIL("out of memory (%zu bytes)", n);
	return q;
}

/* ------------------------------------------------------------------------
 * Model entries: immutable (key, value seed, value length) or tombstone.
 * All are on one list and swept by mark and sweep.
 * ------------------------------------------------------------------------ */
typedef struct ment
{
	struct ment *gc_next;
	uint64_t	vseed;
	uint32_t	vlen;
	uint16_t	klen;
	uint8_t		del;			/* tombstone (write sets only) */
	uint8_t		mark;
	uint8_t		key[];
} ment;

static ment *gc_head;
static size_t gc_count;

static ment *
ment_new(const uint8_t *key, size_t klen, uint64_t vseed, uint32_t vlen, int del)
{
	ment	   *e = xmalloc(sizeof(ment) + klen);

	e->vseed = vseed;
	e->vlen = vlen;
	e->klen = (uint16_t) klen;
	e->del = (uint8_t) (del != 0);
	e->mark = 0;
	memcpy(e->key, key, klen);
	e->gc_next = gc_head;
	gc_head = e;
	gc_count++;
	return e;
}

static int
ment_cmpk(const ment *e, const uint8_t *k, size_t kl)
{
	return kcmp(e->key, e->klen, k, kl);
}

static int
val_eq(const ts_slice *v, const ment *e)
{
	if (v->len != e->vlen)
		return 0;
	if (e->vlen == 0)
		return 1;
	if (v->data == NULL)
		return 0;
	val_fill(vcmp, e->vseed, e->vlen);
	return memcmp(v->data, vcmp, e->vlen) == 0;
}

/* ------------------------------------------------------------------------
 * Versions: immutable sorted arrays of live entries, reference counted.
 * ------------------------------------------------------------------------ */
typedef struct mver
{
	long		refs;
	size_t		n;
	ment	  **a;
} mver;

static mver *
mver_new(size_t cap)
{
	mver	   *v = xcalloc(1, sizeof(mver));

	v->refs = 1;
	v->a = xmalloc((cap ? cap : 1) * sizeof(ment *));
	return v;
}

static mver *
mver_ref(mver *v)
{
	v->refs++;
	return v;
}

static void
mver_unref(mver *v)
{
	if (v != NULL && --v->refs == 0)
	{
		free(v->a);
		free(v);
	}
}

/* first index in [from, n) whose key is >= k (or > k with strict) */
static size_t
mver_bound(const mver *v, size_t from, const uint8_t *k, size_t kl, int strict)
{
	size_t		lo = from,
				hi = v->n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = ment_cmpk(v->a[mid], k, kl);

		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static ment *
mver_get(const mver *v, const uint8_t *k, size_t kl)
{
	size_t		i = mver_bound(v, 0, k, kl, 0);

	return (i < v->n && ment_cmpk(v->a[i], k, kl) == 0) ? v->a[i] : NULL;
}

/* ------------------------------------------------------------------------
 * Write sets: sorted (entry or tombstone, definite) per tree.
 * ------------------------------------------------------------------------ */
typedef struct wsi
{
	ment	   *e;
	uint8_t		definite;		/* 0: put+delete of a key absent at the snapshot */
} wsi;

typedef struct wset
{
	wsi		   *a;
	size_t		n,
				cap;
} wset;

static size_t
ws_bound(const wset *w, const uint8_t *k, size_t kl, int strict)
{
	size_t		lo = 0,
				hi = w->n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = ment_cmpk(w->a[mid].e, k, kl);

		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static wsi *
ws_find(const wset *w, const uint8_t *k, size_t kl)
{
	size_t		i = ws_bound(w, k, kl, 0);

	return (i < w->n && ment_cmpk(w->a[i].e, k, kl) == 0) ? &w->a[i] : NULL;
}

static void
ws_set(wset *w, ment *e, int definite)
{
	size_t		i = ws_bound(w, e->key, e->klen, 0);

	if (i < w->n && ment_cmpk(w->a[i].e, e->key, e->klen) == 0)
	{
		w->a[i].e = e;
		w->a[i].definite = (uint8_t) definite;
		return;
	}
	if (w->n == w->cap)
	{
		w->cap = w->cap ? w->cap * 2 : 16;
		w->a = xrealloc(w->a, w->cap * sizeof(wsi));
	}
	memmove(&w->a[i + 1], &w->a[i], (w->n - i) * sizeof(wsi));
	w->a[i].e = e;
	w->a[i].definite = (uint8_t) definite;
	w->n++;
}

/* ------------------------------------------------------------------------
 * Views: a snapshot (one version per tree) with an optional write set.
 * ------------------------------------------------------------------------ */
typedef struct view
{
	mver	   *const *snap;
	const wset *ws;				/* NT write sets, or NULL */
} view;

static const ment *
view_get(const view *v, int t, const uint8_t *k, size_t kl)
{
	if (v->ws)
	{
		const wsi  *it = ws_find(&v->ws[t], k, kl);

		if (it)
			return it->e->del ? NULL : it->e;
	}
	return mver_get(v->snap[t], k, kl);
}

/* Smallest visible key > k (>= k with incl); k NULL: from the start. */
static const ment *
view_next(const view *v, int t, const uint8_t *k, size_t kl, int incl)
{
	const mver *s = v->snap[t];
	const wset *w = v->ws ? &v->ws[t] : NULL;
	size_t		i = k ? mver_bound(s, 0, k, kl, !incl) : 0;
	size_t		j = (w && k) ? ws_bound(w, k, kl, !incl) : 0;

	for (;;)
	{
		const ment *se = i < s->n ? s->a[i] : NULL;
		const ment *we = (w && j < w->n) ? w->a[j].e : NULL;
		int			c;

		if (!se && !we)
			return NULL;
		c = !se ? 1 : !we ? -1 : kcmp(se->key, se->klen, we->key, we->klen);
		if (c < 0)
			return se;
		if (c == 0)
			i++;
		j++;
		if (!we->del)
			return we;
	}
}

/* Largest visible key < k (<= k with incl); k NULL: from the end. */
static const ment *
view_prev(const view *v, int t, const uint8_t *k, size_t kl, int incl)
{
	const mver *s = v->snap[t];
	const wset *w = v->ws ? &v->ws[t] : NULL;
	size_t		i = k ? mver_bound(s, 0, k, kl, incl) : s->n;
	size_t		j = w ? (k ? ws_bound(w, k, kl, incl) : w->n) : 0;

	for (;;)
	{
		const ment *se = i > 0 ? s->a[i - 1] : NULL;
		const ment *we = (w && j > 0) ? w->a[j - 1].e : NULL;
		int			c;

		if (!se && !we)
			return NULL;
		c = !se ? -1 : !we ? 1 : kcmp(se->key, se->klen, we->key, we->klen);
		if (c > 0)
			return se;
		if (c == 0)
			i--;
		j--;
		if (!we->del)
			return we;
	}
}

/* Cursor bounds [lo, hi); a prefix is [prefix, prefix_end(prefix)). */
typedef struct bnds
{
	int			lo_set,
				hi_set;
	size_t		lolen,
				hilen;
	uint8_t		lo[TS_MAX_KEY],
				hi[TS_MAX_KEY];
} bnds;

static int
above_hi(const bnds *b, const ment *e)
{
	return b->hi_set && kcmp(e->key, e->klen, b->hi, b->hilen) >= 0;
}

static int
below_lo(const bnds *b, const ment *e)
{
	return b->lo_set && kcmp(e->key, e->klen, b->lo, b->lolen) < 0;
}

static const ment *
m_first(const view *v, int t, const bnds *b)
{
	const ment *e = view_next(v, t, b->lo_set ? b->lo : NULL, b->lolen, 1);

	return (e && above_hi(b, e)) ? NULL : e;
}

static const ment *
m_last(const view *v, int t, const bnds *b)
{
	const ment *e = b->hi_set ? view_prev(v, t, b->hi, b->hilen, 0) : view_prev(v, t, NULL, 0, 1);

	return (e && below_lo(b, e)) ? NULL : e;
}

static const ment *
m_seek(const view *v, int t, const bnds *b, const uint8_t *k, size_t kl)
{
	const ment *e;

	if (b->lo_set && kcmp(k, kl, b->lo, b->lolen) < 0)
		return m_first(v, t, b);
	e = view_next(v, t, k, kl, 1);
	return (e && above_hi(b, e)) ? NULL : e;
}

static const ment *
m_seek_le(const view *v, int t, const bnds *b, const uint8_t *k, size_t kl)
{
	const ment *e;

	if (b->hi_set && kcmp(k, kl, b->hi, b->hilen) >= 0)
		return m_last(v, t, b);
	e = view_prev(v, t, k, kl, 1);
	return (e && below_lo(b, e)) ? NULL : e;
}

static const ment *
m_next(const view *v, int t, const bnds *b, const uint8_t *pos, size_t plen)
{
	const ment *e = view_next(v, t, pos, plen, 0);

	return (e && above_hi(b, e)) ? NULL : e;
}

static const ment *
m_prev(const view *v, int t, const bnds *b, const uint8_t *pos, size_t plen)
{
	const ment *e = view_prev(v, t, pos, plen, 0);

	return (e && below_lo(b, e)) ? NULL : e;
}

/* ------------------------------------------------------------------------
 * The run: configuration, transactions, statistics.
 * ------------------------------------------------------------------------ */
typedef struct cfg
{
	const char *tag;
	long		ops;
	uint64_t	seed;
	int			maxw;			/* per epoch, 1..maxw write txns at once */
	int			maxr;			/* read-only txns at once */
	int			hot_pm;			/* per mille of generated keys from the hot set */
	int			nhot;
	size_t		cap;			/* keys per tree before deletes are preferred */
	long		quiesce_every;	/* end all txns, sweep, ts_env_check */
	int			reopen_every;	/* close+reopen at every Nth quiesce */
	int			big_p10k;		/* per 10000 puts: 100-300 KB values */
	int			medium_pm;		/* per mille puts: 1-20 KB values */
	int			long_txn_pm;	/* per mille write txns of 200..2000 ops */
	int			prepare_pm;		/* per mille of txn ends that prepare */
	int			short_txn_max;	/* short txns: 1..this ops */
	int			rdonly_pm;		/* per mille of steps on a read-only txn */
	int			prep_finish_pm; /* per mille per step: a held prepared txn ends */
	int			put_pm;			/* write-txn operation mix, per mille: puts, */
	int			del_pm;			/* deletes (the rest: reads, cursors) */
	int			sp_pm;			/* per mille of steps on savepoints (0: none, and
								 * no random draw for them) */
} cfg;

typedef struct stats
{
	long		steps,
				puts,
				puts_exists,
				dels,
				dels_absent,
				gets,
				gets_found,
				scans,
				cursor_moves,
				held_moves,
				writes_in_scan,
				tree_stats,
				bad_txn,
				w_txns,
				ro_txns,
				commits,
				commits_nowrite,
				conflicts,
				reservation_conflicts,
				either,
				aborts,
				prepares,
				prepare_conflicts,
				prepared_commits,
				prepared_aborts,
				quiesces,
				reopens,
				checks,
				full_verifies,
				big_values,
				max_keys,
				savepoints,
				rollbacks,
				releases;
} stats;

typedef struct hcur
{
	ts_cursor  *c;
	int			t;
	int			valid;
	bnds		b;
	size_t		poslen;
	uint8_t		pos[TS_MAX_KEY];
} hcur;

typedef struct mtx
{
	ts_txn	   *txn;
	int			rdonly;
	int			id;
	int			prepared;
	long		ops_left;
	uint64_t	snap_seq;		/* model commit count at begin */
	mver	   *snap[NT];
	wset		ws[NT];
	hcur		hc;				/* a cursor held open across operations */
	int			nsp;			/* live savepoints: */
	uint64_t	sp_mark[MAX_SP];	/* the engine's marks */
	wset		sp_ws[MAX_SP][NT];	/* the write set when each was taken */
} mtx;

typedef struct lrec				/* a key written by a model commit */
{
	uint64_t	seq;
	ment	   *e;
	uint8_t		t;
	uint8_t		definite;
} lrec;

typedef struct run
{
	cfg			c;
	rng_t		r;
	char		dir[512];
	ts_env	   *env;
	ts_tree		tree[NT];
	mver	   *cur[NT];		/* committed state */
	uint64_t	seq;			/* model commits */
	uint64_t	txnid;			/* the engine's last committed txnid, as seen */
	lrec	   *log;
	size_t		nlog,
				caplog;
	mtx		   *w[MAX_W];
	int			nw;
	mtx		   *ro[MAX_R];
	int			nr;
	int			maxw_now;
	int			next_id;
	stats		st;
} run;

static view
mtx_view(const mtx *x)
{
	view		v;

	v.snap = x->snap;
	v.ws = x->rdonly ? NULL : x->ws;
	return v;
}

static view
committed_view(const run *R)
{
	view		v;

	v.snap = R->cur;
	v.ws = NULL;
	return v;
}

/* ------------------------------------------------------------------------
 * Garbage collection of model entries
 * ------------------------------------------------------------------------ */
static void
mark_ver(const mver *v)
{
	for (size_t i = 0; i < v->n; i++)
		v->a[i]->mark = 1;
}

static void
mark_txn(const mtx *x)
{
	for (int t = 0; t < NT; t++)
	{
		mark_ver(x->snap[t]);
		for (size_t i = 0; i < x->ws[t].n; i++)
			x->ws[t].a[i].e->mark = 1;
		for (int s = 0; s < x->nsp; s++)
			for (size_t i = 0; i < x->sp_ws[s][t].n; i++)
				x->sp_ws[s][t].a[i].e->mark = 1;
	}
}

static void
gc_sweep_all(void)
{
	ment	  **pp = &gc_head;

	while (*pp)
	{
		ment	   *e = *pp;

		if (e->mark)
		{
			e->mark = 0;
			pp = &e->gc_next;
		}
		else
		{
			*pp = e->gc_next;
			free(e);
			gc_count--;
		}
	}
}

static void
model_gc(run *R)
{
	for (int t = 0; t < NT; t++)
		mark_ver(R->cur[t]);
	for (int i = 0; i < R->nw; i++)
		mark_txn(R->w[i]);
	for (int i = 0; i < R->nr; i++)
		mark_txn(R->ro[i]);
	for (size_t i = 0; i < R->nlog; i++)
		R->log[i].e->mark = 1;
	gc_sweep_all();
}

/* ------------------------------------------------------------------------
 * Key and value generation
 * ------------------------------------------------------------------------ */
static uint8_t
rand_sym(rng_t *r)
{
	unsigned	u = (unsigned) rng_below(r, 100);

	if (u < 3)
		return 0x00;
	if (u < 6)
		return 0xFF;
	if (u < 8)
		return (uint8_t) rng_below(r, 256);
	return (uint8_t) ('a' + (u & 3));
}

static size_t
rand_key(rng_t *r, uint8_t *out)
{
	unsigned	u = (unsigned) rng_below(r, 1000);
	size_t		len;

	if (u < 700)
		len = rng_range(r, 1, 6);
	else if (u < 970)
		len = rng_range(r, 7, 64);
	else if (u < 990)
		len = rng_range(r, 65, TS_MAX_KEY);
	else
		len = TS_MAX_KEY;
	for (size_t i = 0; i < len; i++)
		out[i] = rand_sym(r);
	return len;
}

/*
 * A key for tree t: a hot key, an existing key of the view (about exist_pct
 * percent), an existing key's prefix plus a few symbols, or a fresh one.
 */
static size_t
gen_key(run *R, const view *v, int t, uint8_t *out, unsigned exist_pct)
{
	rng_t	   *r = &R->r;
	const mver *s = v->snap[t];
	const wset *w = v->ws ? &v->ws[t] : NULL;
	unsigned	u;

	if (R->c.nhot > 0 && rng_pm(r, (unsigned) R->c.hot_pm))
		return (size_t) snprintf((char *) out, TS_MAX_KEY, "hot%02d",
								 (int) rng_below(r, (uint64_t) R->c.nhot));
	u = (unsigned) rng_below(r, 100);
	if (u < exist_pct * 4 / 5 && s->n > 0)
	{
		const ment *e = s->a[rng_below(r, s->n)];

		memcpy(out, e->key, e->klen);
		return e->klen;
	}
	if (u < exist_pct && w && w->n > 0)
	{
		const ment *e = w->a[rng_below(r, w->n)].e;

		memcpy(out, e->key, e->klen);
		return e->klen;
	}
	if (u < exist_pct + 15 && s->n > 0)
	{
		const ment *e = s->a[rng_below(r, s->n)];
		size_t		len = rng_below(r, (uint64_t) e->klen + 1),
					add = rng_range(r, 1, 8);

		memcpy(out, e->key, len);
		while (add-- > 0 && len < TS_MAX_KEY)
			out[len++] = rand_sym(r);
		return len;
	}
	return rand_key(r, out);
}

/* A key visible to the view (0 if none found quickly). */
static size_t
pick_visible(run *R, const view *v, int t, uint8_t *out)
{
	const mver *s = v->snap[t];
	const wset *w = v->ws ? &v->ws[t] : NULL;

	for (int tries = 0; tries < 8; tries++)
	{
		const ment *e = NULL;

		if (w && w->n > 0 && (s->n == 0 || rng_pm(&R->r, 300)))
			e = w->a[rng_below(&R->r, w->n)].e;
		else if (s->n > 0)
			e = s->a[rng_below(&R->r, s->n)];
		if (e && view_get(v, t, e->key, e->klen))
		{
			memcpy(out, e->key, e->klen);
			return e->klen;
		}
	}
	return 0;
}

static uint32_t
gen_vlen(run *R)
{
	rng_t	   *r = &R->r;
	unsigned	u;

	if (R->c.big_p10k > 0 && rng_below(r, 10000) < (uint64_t) R->c.big_p10k)
	{
		R->st.big_values++;
		return (uint32_t) rng_range(r, BIG_MIN, BIG_MAX);
	}
	if (rng_pm(r, (unsigned) R->c.medium_pm))
		return (uint32_t) rng_range(r, 1024, 20480);
	u = (unsigned) rng_below(r, 100);
	if (u < 6)
		return 0;
	if (u < 88)
		return (uint32_t) rng_range(r, 1, 64);
	return (uint32_t) rng_range(r, 65, 2000);
}

/* ------------------------------------------------------------------------
 * Single operations
 * ------------------------------------------------------------------------ */
static void op_del(run *R, mtx *x, int t, int prefer_existing);

static void
op_put(run *R, mtx *x, int t)
{
	uint8_t		key[TS_MAX_KEY];
	size_t		klen;
	view		v = mtx_view(x);
	uint32_t	vlen;
	uint64_t	vseed;
	unsigned	flags;
	const ment *vis;
	int			rc;

	if (!x->rdonly && (x->snap[t]->n >= R->c.cap || R->cur[t]->n >= R->c.cap) &&
		rng_pm(&R->r, 700))
	{
		op_del(R, x, t, 1);
		return;
	}
	klen = gen_key(R, &v, t, key, 30);
	vlen = gen_vlen(R);
	vseed = rng_u64(&R->r);
	flags = rng_pm(&R->r, 100) ? TS_NOOVERWRITE : 0;
	vis = view_get(&v, t, key, klen);
	val_fill(vput, vseed, vlen);
	trace("T%d put %s %s vlen=%u%s", x->id, tree_names[t], kstr(key, klen), vlen,
		  flags ? " NOOVERWRITE" : "");
	rc = ts_put(x->txn, R->tree[t], key, klen, vput, vlen, flags);
	R->st.puts++;
	if (x->rdonly)
	{
		MCHECK_RC(rc, TS_BAD_TXN, "ts_put in a read-only transaction");
		R->st.bad_txn++;
		return;
	}
	if (flags && vis)
	{
		MCHECK_RC(rc, TS_EXISTS, "ts_put(TS_NOOVERWRITE) of a visible key");
		R->st.puts_exists++;
		return;
	}
	MCHECK_RC(rc, 0, "ts_put");
	ws_set(&x->ws[t], ment_new(key, klen, vseed, vlen, 0), 1);
}

static void
op_del(run *R, mtx *x, int t, int prefer_existing)
{
	uint8_t		key[TS_MAX_KEY];
	size_t		klen = 0;
	view		v = mtx_view(x);
	const ment *vis;
	int			rc;

	if (prefer_existing || rng_pm(&R->r, 700))
		klen = pick_visible(R, &v, t, key);
	if (klen == 0)
		klen = gen_key(R, &v, t, key, 55);
	vis = view_get(&v, t, key, klen);
	trace("T%d del %s %s (%s)", x->id, tree_names[t], kstr(key, klen), vis ? "present" : "absent");
	rc = ts_del(x->txn, R->tree[t], key, klen);
	R->st.dels++;
	if (x->rdonly)
	{
		/* only called with a visible key in a read-only transaction */
		MCHECK_RC(rc, TS_BAD_TXN, "ts_del in a read-only transaction");
		R->st.bad_txn++;
		return;
	}
	if (!vis)
	{
		MCHECK_RC(rc, TS_NOTFOUND, "ts_del of a key the transaction does not see");
		R->st.dels_absent++;
		return;
	}
	MCHECK_RC(rc, 0, "ts_del of a visible key");
	ws_set(&x->ws[t], ment_new(key, klen, 0, 0, 1),
		   mver_get(x->snap[t], key, klen) != NULL);
}

static void
op_get(run *R, mtx *x, int t)
{
	uint8_t		key[TS_MAX_KEY];
	size_t		klen = 0;
	view		v = mtx_view(x);
	const ment *vis;
	ts_slice	val;
	int			rc;

	if (rng_pm(&R->r, 600))
		klen = pick_visible(R, &v, t, key);
	if (klen == 0)
		klen = gen_key(R, &v, t, key, 55);
	vis = view_get(&v, t, key, klen);
	trace("T%d get %s %s (%s)", x->id, tree_names[t], kstr(key, klen), vis ? "present" : "absent");
	rc = ts_get(x->txn, R->tree[t], key, klen, &val);
	R->st.gets++;
	if (!vis)
	{
		MCHECK_RC(rc, TS_NOTFOUND, "ts_get of an invisible key");
		return;
	}
	MCHECK_RC(rc, 0, "ts_get of a visible key");
	MCHECK(val_eq(&val, vis), "T%d ts_get %s %s: value mismatch: got %zu bytes, expected %u bytes",
		   x->id, tree_names[t], kstr(key, klen), val.len, vis->vlen);
	R->st.gets_found++;
}

static void
op_tstat(run *R, mtx *x, int t)
{
	ts_treestat ts;

	/* the snapshot's shape: the transaction's own writes are not counted */
	trace("T%d tree_stat %s (own writes in this tree: %zu)", x->id, tree_names[t], x->ws[t].n);
	CHECK_OK(ts_tree_stat(x->txn, R->tree[t], &ts));
	MCHECK(ts.entries == x->snap[t]->n, "T%d ts_tree_stat(%s).entries = %" PRIu64 ", model has %zu",
		   x->id, tree_names[t], ts.entries, x->snap[t]->n);
	R->st.tree_stats++;
}

/* ------------------------------------------------------------------------
 * Cursors
 * ------------------------------------------------------------------------ */
enum
{
	MV_FIRST, MV_LAST, MV_SEEK, MV_SEEK_LE, MV_NEXT, MV_PREV
};
static const char *const mv_names[] = {"first", "last", "seek", "seek_le", "next", "prev"};

static size_t
prefix_end(const uint8_t *p, size_t len, uint8_t *out)
{
	memcpy(out, p, len);
	while (len > 0 && out[len - 1] == 0xFF)
		len--;
	if (len == 0)
		return 0;
	out[len - 1]++;
	return len;
}

static void
set_random_bounds(run *R, const view *v, int t, ts_cursor *c, bnds *b, int mx_id)
{
	rng_t	   *r = &R->r;
	unsigned	u = (unsigned) rng_below(r, 100);

	b->lo_set = b->hi_set = 0;
	b->lolen = b->hilen = 0;
	if (u < 40)
		return;
	if (u < 75)
	{
		if (rng_pm(r, 700))
		{
			b->lo_set = 1;
			b->lolen = gen_key(R, v, t, b->lo, 55);
		}
		if (rng_pm(r, 700))
		{
			b->hi_set = 1;
			b->hilen = gen_key(R, v, t, b->hi, 55);
		}
		if (b->lo_set && b->hi_set)
		{
			int			c2 = kcmp(b->lo, b->lolen, b->hi, b->hilen);

			if (c2 == 0)
				b->hi_set = 0;
			else if (c2 > 0)
			{
				uint8_t		tmp[TS_MAX_KEY];
				size_t		tl = b->lolen;

				memcpy(tmp, b->lo, tl);
				memcpy(b->lo, b->hi, b->hilen);
				b->lolen = b->hilen;
				memcpy(b->hi, tmp, tl);
				b->hilen = tl;
			}
		}
		trace("T%d cursor bounds %s [%s, %s)", mx_id, tree_names[t],
			  b->lo_set ? kstr(b->lo, b->lolen) : "-inf",
			  b->hi_set ? kstr(b->hi, b->hilen) : "+inf");
		CHECK_OK(ts_cursor_bounds(c, b->lo_set ? b->lo : NULL, b->lolen,
								  b->hi_set ? b->hi : NULL, b->hilen));
	}
	else
	{
		uint8_t		p[TS_MAX_KEY];
		size_t		plen;
		const mver *s = v->snap[t];

		if (s->n > 0 && rng_pm(r, 800))
		{
			const ment *e = s->a[rng_below(r, s->n)];

			plen = rng_range(r, 1, e->klen < 6 ? e->klen : 6);
			memcpy(p, e->key, plen);
		}
		else
		{
			plen = rng_range(r, 1, 3);
			for (size_t i = 0; i < plen; i++)
				p[i] = rand_sym(r);
		}
		b->lo_set = 1;
		memcpy(b->lo, p, plen);
		b->lolen = plen;
		b->hilen = prefix_end(p, plen, b->hi);
		b->hi_set = b->hilen > 0;
		trace("T%d cursor prefix %s %s", mx_id, tree_names[t], kstr(p, plen));
		CHECK_OK(ts_cursor_prefix(c, p, plen));
	}
}

/*
 * One cursor move on engine and model; compare.  *valid/pos track the
 * model's position (a copy of the current key).
 */
static void
cur_move(run *R, mtx *x, ts_cursor *c, int t, const bnds *b, int mv,
		 const uint8_t *k, size_t kl, uint8_t *pos, size_t *poslen, int *valid)
{
	view		v = mtx_view(x);
	const ment *e = NULL;
	int			rc = 0;
	ts_slice	ck,
				cv;

	switch (mv)
	{
		case MV_FIRST:
			e = m_first(&v, t, b);
			rc = ts_cursor_first(c);
			break;
		case MV_LAST:
			e = m_last(&v, t, b);
			rc = ts_cursor_last(c);
			break;
		case MV_SEEK:
			e = m_seek(&v, t, b, k, kl);
			rc = ts_cursor_seek(c, k, kl);
			break;
		case MV_SEEK_LE:
			e = m_seek_le(&v, t, b, k, kl);
			rc = ts_cursor_seek_le(c, k, kl);
			break;
		case MV_NEXT:
			e = m_next(&v, t, b, pos, *poslen);
			rc = ts_cursor_next(c);
			break;
		case MV_PREV:
			e = m_prev(&v, t, b, pos, *poslen);
			rc = ts_cursor_prev(c);
			break;
	}
	R->st.cursor_moves++;
	if (trace_live || mv == MV_SEEK || mv == MV_SEEK_LE)
		trace("T%d cursor %s %s%s -> %s", x->id, tree_names[t], mv_names[mv],
			  (mv == MV_SEEK || mv == MV_SEEK_LE) ? kstr(k, kl) : "",
			  e ? kstr(e->key, e->klen) : "NOTFOUND");
	if (e == NULL)
	{
		if (rc == 0 && ts_cursor_get(c, &ck, &cv) == 0)
			MCHECK(0, "T%d cursor %s on %s from %s: engine found %s, model expects TS_NOTFOUND",
				   x->id, mv_names[mv], tree_names[t],
				   (mv == MV_NEXT || mv == MV_PREV) ? kstr(pos, *poslen) : kstr(k, kl),
				   kstr(ck.data, ck.len));
		MCHECK_RC(rc, TS_NOTFOUND, "cursor move past the last entry in range");
		*valid = 0;
		return;
	}
	MCHECK(rc == 0, "T%d cursor %s on %s from %s: returned %d (%s: %s), model expects %s",
		   x->id, mv_names[mv], tree_names[t],
		   (mv == MV_NEXT || mv == MV_PREV) ? kstr(pos, *poslen) : kstr(k, kl),
		   rc, ts_strerror(rc), ts_last_error(), kstr(e->key, e->klen));
	CHECK_OK(ts_cursor_get(c, &ck, &cv));
	MCHECK(kcmp(ck.data, ck.len, e->key, e->klen) == 0,
		   "T%d cursor %s on %s from %s: engine at %s, model expects %s", x->id, mv_names[mv],
		   tree_names[t], (mv == MV_NEXT || mv == MV_PREV) ? kstr(pos, *poslen) : kstr(k, kl),
		   kstr(ck.data, ck.len), kstr(e->key, e->klen));
	MCHECK(val_eq(&cv, e), "T%d cursor %s on %s at %s: value mismatch (%zu bytes, expected %u)",
		   x->id, mv_names[mv], tree_names[t], kstr(e->key, e->klen), cv.len, e->vlen);
	memcpy(pos, e->key, e->klen);
	*poslen = e->klen;
	*valid = 1;
}

static int
random_position(run *R, uint8_t *k, size_t *kl, const view *v, int t)
{
	int			mv = (int) rng_below(&R->r, 4);

	if (mv == MV_SEEK || mv == MV_SEEK_LE)
		*kl = gen_key(R, v, t, k, 55);
	return mv;
}

/* A range scan on a fresh cursor; in a write txn, sometimes writes between steps. */
static void
op_scan(run *R, mtx *x, int t)
{
	rng_t	   *r = &R->r;
	view		v = mtx_view(x);
	ts_cursor  *c;
	bnds	   *b = xmalloc(sizeof(bnds));
	uint8_t		k[TS_MAX_KEY],
				pos[TS_MAX_KEY];
	size_t		kl = 0,
				poslen = 0;
	int			valid = 0,
				mv,
				fwd;
	long		steps;
	int			writes = 0;
	unsigned	u = (unsigned) rng_below(r, 1000);

	R->st.scans++;
	CHECK_OK(ts_cursor_open(x->txn, R->tree[t], &c));
	set_random_bounds(R, &v, t, c, b, x->id);
	mv = random_position(R, k, &kl, &v, t);
	fwd = (mv == MV_FIRST || mv == MV_SEEK) ? 1 : 0;
	if (rng_pm(r, 200))
		fwd = !fwd;
	steps = u < 700 ? (long) rng_below(r, 11) : u < 995 ? (long) rng_range(r, 10, 100) : 1000000;
	cur_move(R, x, c, t, b, mv, k, kl, pos, &poslen, &valid);
	while (valid && steps-- > 0)
	{
		if (!x->rdonly && writes < 4 && rng_pm(r, 30))
		{
			writes++;
			/* a write through the transaction while the cursor is open */
			R->st.writes_in_scan++;
			if (rng_pm(r, 500))
				op_put(R, x, t);
			else
				op_del(R, x, t, 1);
		}
		if (steps < 1000 && rng_pm(r, 50))
			fwd = !fwd;			/* (not in the whole-range scans: no random walk) */
		cur_move(R, x, c, t, b, fwd ? MV_NEXT : MV_PREV, NULL, 0, pos, &poslen, &valid);
	}
	ts_cursor_close(c);
	free(b);
}

static void
hc_close(mtx *x)
{
	if (x->hc.c)
	{
		ts_cursor_close(x->hc.c);
		x->hc.c = NULL;
	}
	x->hc.valid = 0;
}

/* One step of the cursor a transaction holds open across its operations. */
static void
hc_step(run *R, mtx *x)
{
	hcur	   *h = &x->hc;
	view		v = mtx_view(x);
	uint8_t		k[TS_MAX_KEY];
	size_t		kl = 0;

	if (h->c == NULL)
	{
		h->t = (int) rng_below(&R->r, NT);
		CHECK_OK(ts_cursor_open(x->txn, R->tree[h->t], &h->c));
		set_random_bounds(R, &v, h->t, h->c, &h->b, x->id);
		h->valid = 0;
	}
	else if (rng_pm(&R->r, 30))
	{
		trace("T%d close held cursor", x->id);
		hc_close(x);
		return;
	}
	R->st.held_moves++;
	if (!h->valid || rng_pm(&R->r, 80))
	{
		int			mv = random_position(R, k, &kl, &v, h->t);

		cur_move(R, x, h->c, h->t, &h->b, mv, k, kl, h->pos, &h->poslen, &h->valid);
	}
	else
		cur_move(R, x, h->c, h->t, &h->b, rng_pm(&R->r, 600) ? MV_NEXT : MV_PREV,
				 NULL, 0, h->pos, &h->poslen, &h->valid);
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */
static void
tx_free(mtx *x)
{
	for (int t = 0; t < NT; t++)
	{
		mver_unref(x->snap[t]);
		free(x->ws[t].a);
		for (int s = 0; s < x->nsp; s++)
			free(x->sp_ws[s][t].a);
	}
	free(x);
}

/* ------------------------------------------------------------------------
 * Savepoints
 * ------------------------------------------------------------------------ */
static wset
ws_dup(const wset *w)
{
	wset		d = {NULL, w->n, w->n};

	d.a = xmalloc((w->n ? w->n : 1) * sizeof(wsi));
	if (w->n > 0)
		memcpy(d.a, w->a, w->n * sizeof(wsi));
	return d;
}

/* Forget the savepoints from index `from` on (engine marks now invalid). */
static void
sp_forget(mtx *x, int from)
{
	while (x->nsp > from)
	{
		x->nsp--;
		for (int t = 0; t < NT; t++)
			free(x->sp_ws[x->nsp][t].a);
	}
}

/* A savepoint, a rollback to a live one, or a release. */
static void
op_savepoint(run *R, mtx *x)
{
	unsigned	u = (unsigned) rng_below(&R->r, 100);
	uint64_t	m;
	int			rc,
				i;

	if (x->rdonly || x->prepared)
	{
		trace("T%d savepoint (%s)", x->id, x->rdonly ? "read-only" : "prepared");
		MCHECK_RC(ts_txn_savepoint(x->txn, &m), TS_BAD_TXN, "ts_txn_savepoint in a read-only transaction");
		R->st.bad_txn++;
		return;
	}
	if (x->nsp > 0 && (u < 40 || x->nsp == MAX_SP))
	{
		/* rollback: to the newest mark half of the time */
		i = rng_pm(&R->r, 500) ? x->nsp - 1 : (int) rng_below(&R->r, (uint64_t) x->nsp);
		trace("T%d rollback to savepoint %d of %d", x->id, i, x->nsp);
		rc = ts_txn_rollback_to(x->txn, x->sp_mark[i]);
		MCHECK_RC(rc, 0, "ts_txn_rollback_to");
		for (int t = 0; t < NT; t++)
		{
			free(x->ws[t].a);
			x->ws[t] = ws_dup(&x->sp_ws[i][t]);
		}
		if (i + 1 < x->nsp)
			MCHECK_RC(ts_txn_rollback_to(x->txn, x->sp_mark[x->nsp - 1]), TS_INVALID,
					  "ts_txn_rollback_to a mark taken after the one rolled back to");
		sp_forget(x, i + 1);
		R->st.rollbacks++;
	}
	else if (x->nsp > 0 && u < 55)
	{
		i = (int) rng_below(&R->r, (uint64_t) x->nsp);
		trace("T%d release savepoint %d of %d", x->id, i, x->nsp);
		MCHECK_RC(ts_txn_release(x->txn, x->sp_mark[i]), 0, "ts_txn_release");
		MCHECK_RC(ts_txn_rollback_to(x->txn, x->sp_mark[i]), TS_INVALID,
				  "ts_txn_rollback_to a released mark");
		sp_forget(x, i);
		R->st.releases++;
	}
	else
	{
		trace("T%d savepoint %d", x->id, x->nsp);
		MCHECK_RC(ts_txn_savepoint(x->txn, &x->sp_mark[x->nsp]), 0, "ts_txn_savepoint");
		for (int t = 0; t < NT; t++)
			x->sp_ws[x->nsp][t] = ws_dup(&x->ws[t]);
		x->nsp++;
		R->st.savepoints++;
	}
}

static mtx *
tx_begin(run *R, int rdonly)
{
	mtx		   *x = xcalloc(1, sizeof(mtx));
	ts_stat		st;
	int			rc;
	rng_t	   *r = &R->r;

	x->rdonly = rdonly;
	x->id = ++R->next_id;
	CHECK_OK(ts_env_stat(R->env, &st));
	rc = ts_txn_begin(R->env, rdonly ? TS_RDONLY : 0, &x->txn);
	trace("T%d begin %s (snapshot txnid %" PRIu64 ")", x->id, rdonly ? "read-only" : "write", st.txnid);
	MCHECK_RC(rc, 0, "ts_txn_begin");
	MCHECK(ts_txn_snapshot(x->txn) == st.txnid,
		   "T%d: ts_txn_snapshot = %" PRIu64 ", last committed txnid is %" PRIu64,
		   x->id, ts_txn_snapshot(x->txn), st.txnid);
	MCHECK(st.txnid == R->txnid, "ts_env_stat txnid %" PRIu64 ", expected %" PRIu64,
		   st.txnid, R->txnid);
	MCHECK(st.active_txns == (uint64_t) (R->nw + R->nr), "ts_env_stat active_txns %" PRIu64
		   " with %d transactions open", st.active_txns, R->nw + R->nr);
	for (int t = 0; t < NT; t++)
		x->snap[t] = mver_ref(R->cur[t]);
	x->snap_seq = R->seq;
	if (rdonly)
	{
		x->ops_left = (long) rng_range(r, 20, 2000);
		R->ro[R->nr++] = x;
		R->st.ro_txns++;
	}
	else
	{
		if (rng_pm(r, (unsigned) R->c.long_txn_pm))
			x->ops_left = (long) rng_range(r, 200, 2000);
		else if (rng_pm(r, 250))
			x->ops_left = (long) rng_range(r, 30, 200);
		else
			x->ops_left = (long) rng_range(r, 1, (uint64_t) R->c.short_txn_max);
		R->w[R->nw++] = x;
		R->st.w_txns++;
	}
	return x;
}

enum
{
	EX_OK, EX_CONFLICT, EX_EITHER
};

static void
overlap(int *res, int d1, int d2)
{
	if (d1 && d2)
		*res = EX_CONFLICT;
	else if (*res == EX_OK)
		*res = EX_EITHER;
}

/* What committing (or preparing) x must return. */
static int
expect_outcome(const run *R, const mtx *x, int *by_reservation)
{
	int			res = EX_OK;

	*by_reservation = 0;
	for (size_t i = 0; i < R->nlog && res != EX_CONFLICT; i++)
	{
		const lrec *lr = &R->log[i];
		const wsi  *it;

		if (lr->seq <= x->snap_seq)
			continue;
		it = ws_find(&x->ws[lr->t], lr->e->key, lr->e->klen);
		if (it)
			overlap(&res, it->definite, lr->definite);
	}
	if (res == EX_CONFLICT)
		return res;
	for (int i = 0; i < R->nw; i++)
	{
		const mtx  *y = R->w[i];

		if (y == x || !y->prepared)
			continue;
		for (int t = 0; t < NT; t++)
			for (size_t j = 0; j < y->ws[t].n; j++)
			{
				const wsi  *it = ws_find(&x->ws[t], y->ws[t].a[j].e->key, y->ws[t].a[j].e->klen);

				if (it)
				{
					overlap(&res, it->definite, y->ws[t].a[j].definite);
					if (res == EX_CONFLICT)
					{
						*by_reservation = 1;
						return res;
					}
				}
			}
	}
	return res;
}

static int
has_definite_write(const mtx *x)
{
	for (int t = 0; t < NT; t++)
		for (size_t i = 0; i < x->ws[t].n; i++)
			if (x->ws[t].a[i].definite)
				return 1;
	return 0;
}

/* Apply a committed write set to the model. */
static void
model_apply(run *R, const mtx *x)
{
	R->seq++;
	for (int t = 0; t < NT; t++)
	{
		const wset *w = &x->ws[t];
		mver	   *o = R->cur[t],
				   *n;
		size_t		i = 0;

		if (w->n == 0)
			continue;
		n = mver_new(o->n + w->n);
		for (size_t j = 0; j < w->n; j++)
		{
			const wsi  *it = &w->a[j];
			size_t		p;

			if (R->nlog == R->caplog)
			{
				R->caplog = R->caplog ? R->caplog * 2 : 1024;
				R->log = xrealloc(R->log, R->caplog * sizeof(lrec));
			}
			R->log[R->nlog].seq = R->seq;
			R->log[R->nlog].e = it->e;
			R->log[R->nlog].t = (uint8_t) t;
			R->log[R->nlog].definite = it->definite;
			R->nlog++;
			if (!it->definite)
				continue;
			p = mver_bound(o, i, it->e->key, it->e->klen, 0);
			memcpy(&n->a[n->n], &o->a[i], (p - i) * sizeof(ment *));
			n->n += p - i;
			i = p;
			if (i < o->n && ment_cmpk(o->a[i], it->e->key, it->e->klen) == 0)
				i++;
			if (!it->e->del)
				n->a[n->n++] = it->e;
		}
		memcpy(&n->a[n->n], &o->a[i], (o->n - i) * sizeof(ment *));
		n->n += o->n - i;
		mver_unref(o);
		R->cur[t] = n;
		if ((long) n->n > R->st.max_keys)
			R->st.max_keys = (long) n->n;
	}
}

static void
prune_log(run *R)
{
	uint64_t	min = UINT64_MAX;
	size_t		k = 0;

	for (int i = 0; i < R->nw; i++)
		if (R->w[i]->snap_seq < min)
			min = R->w[i]->snap_seq;
	while (k < R->nlog && R->log[k].seq <= min)
		k++;
	if (k > 0)
	{
		memmove(R->log, R->log + k, (R->nlog - k) * sizeof(lrec));
		R->nlog -= k;
	}
}

/* Read back (a sample of) the keys x wrote, in a fresh snapshot. */
static void
verify_written(run *R, const mtx *x)
{
	ts_txn	   *txn;
	view		v = committed_view(R);

	CHECK_OK(ts_txn_begin(R->env, TS_RDONLY, &txn));
	for (int t = 0; t < NT; t++)
	{
		const wset *w = &x->ws[t];
		size_t		step = w->n > 64 ? w->n / 64 : 1;

		for (size_t i = 0; i < w->n; i += step)
		{
			const ment *k = w->a[i].e;
			const ment *e = view_get(&v, t, k->key, k->klen);
			ts_slice	val;
			int			rc = ts_get(txn, R->tree[t], k->key, k->klen, &val);

			if (e)
			{
				MCHECK(rc == 0, "after T%d ended: ts_get %s %s returned %d (%s), model has the key",
					   x->id, tree_names[t], kstr(k->key, k->klen), rc, ts_strerror(rc));
				MCHECK(val_eq(&val, e), "after T%d ended: ts_get %s %s: value mismatch (%zu bytes, expected %u)",
					   x->id, tree_names[t], kstr(k->key, k->klen), val.len, e->vlen);
			}
			else
				MCHECK(rc == TS_NOTFOUND, "after T%d ended: ts_get %s %s returned %d (%s), model has no such key",
					   x->id, tree_names[t], kstr(k->key, k->klen), rc, ts_strerror(rc));
		}
	}
	ts_txn_abort(txn);
}

static void
tx_remove(run *R, mtx *x)
{
	mtx		  **arr = x->rdonly ? R->ro : R->w;
	int		   *n = x->rdonly ? &R->nr : &R->nw;

	for (int i = 0; i < *n; i++)
		if (arr[i] == x)
		{
			arr[i] = arr[--*n];
			break;
		}
	tx_free(x);
	prune_log(R);
}

enum
{
	END_COMMIT, END_ABORT, END_PREP_COMMIT, END_PREP_HOLD, END_PREP_ABORT
};

static void
tx_end(run *R, mtx *x, int how)
{
	ts_stat		before,
				after;
	int			rc,
				ex,
				resv = 0,
				applied = 0;
	char		gid[64];
	char		what[128];

	hc_close(x);
	if (x->rdonly)
	{
		if (how == END_COMMIT)
		{
			trace("T%d commit (read-only)", x->id);
			MCHECK_RC(ts_txn_commit(x->txn), 0, "ts_txn_commit of a read-only transaction");
		}
		else
		{
			trace("T%d abort (read-only)", x->id);
			ts_txn_abort(x->txn);
		}
		tx_remove(R, x);
		return;
	}
	CHECK_OK(ts_env_stat(R->env, &before));
	if ((how == END_PREP_COMMIT || how == END_PREP_HOLD || how == END_PREP_ABORT) && !x->prepared)
	{
		ex = expect_outcome(R, x, &resv);
		snprintf(gid, sizeof(gid), "gid-%s-%d", R->c.tag, x->id);
		trace("T%d prepare '%s' (model expects %s)", x->id, gid,
			  ex == EX_OK ? "success" : ex == EX_CONFLICT ? "TS_CONFLICT" : "either");
		rc = ts_txn_prepare(x->txn, gid);
		R->st.prepares++;
		if (ex == EX_EITHER)
			R->st.either++;
		if (rc == TS_CONFLICT)
		{
			MCHECK(ex != EX_OK, "T%d ts_txn_prepare returned TS_CONFLICT; model expects success", x->id);
			R->st.prepare_conflicts++;
			R->st.conflicts++;
			if (resv)
				R->st.reservation_conflicts++;
			trace("T%d abort after failed prepare", x->id);
			ts_txn_abort(x->txn);
			goto done;
		}
		snprintf(what, sizeof(what), "T%d ts_txn_prepare", x->id);
		MCHECK_RC(rc, 0, what);
		MCHECK(ex != EX_CONFLICT, "T%d ts_txn_prepare succeeded; model expects TS_CONFLICT%s",
			   x->id, resv ? " (key reserved by a prepared transaction)" : "");
		x->prepared = 1;
		if (how == END_PREP_HOLD)
			return;
		how = how == END_PREP_COMMIT ? END_COMMIT : END_ABORT;
	}
	if (how == END_ABORT)
	{
		trace("T%d abort%s", x->id, x->prepared ? " (prepared)" : "");
		ts_txn_abort(x->txn);
		R->st.aborts++;
		if (x->prepared)
			R->st.prepared_aborts++;
	}
	else
	{
		ex = x->prepared ? EX_OK : expect_outcome(R, x, &resv);
		trace("T%d commit%s (model expects %s)", x->id, x->prepared ? " (prepared)" : "",
			  ex == EX_OK ? "success" : ex == EX_CONFLICT ? "TS_CONFLICT" : "either");
		rc = ts_txn_commit(x->txn);
		if (ex == EX_EITHER)
			R->st.either++;
		if (rc == TS_CONFLICT)
		{
			MCHECK(ex != EX_OK, "T%d ts_txn_commit returned TS_CONFLICT; model expects success%s",
				   x->id, x->prepared ? " (the transaction was prepared)" : "");
			R->st.conflicts++;
			if (resv)
				R->st.reservation_conflicts++;
		}
		else
		{
			snprintf(what, sizeof(what), "T%d ts_txn_commit", x->id);
			MCHECK_RC(rc, 0, what);
			MCHECK(ex != EX_CONFLICT, "T%d ts_txn_commit succeeded; model expects TS_CONFLICT%s",
				   x->id, resv ? " (key reserved by a prepared transaction)" : "");
			model_apply(R, x);
			applied = 1;
			R->st.commits++;
			if (x->prepared)
				R->st.prepared_commits++;
			if (!has_definite_write(x))
				R->st.commits_nowrite++;
		}
	}
done:
	x->txn = NULL;
	CHECK_OK(ts_env_stat(R->env, &after));
	if (!applied)
		MCHECK(after.txnid == before.txnid,
			   "T%d ended without committing but the last committed txnid moved %" PRIu64 " -> %" PRIu64,
			   x->id, before.txnid, after.txnid);
	else if (has_definite_write(x))
		MCHECK(after.txnid > before.txnid,
			   "T%d committed writes but the last committed txnid stayed %" PRIu64, x->id, after.txnid);
	else
		MCHECK(after.txnid >= before.txnid, "txnid went backwards");
	R->txnid = after.txnid;
	verify_written(R, x);
	tx_remove(R, x);
}

static void
tx_end_random(run *R, mtx *x)
{
	unsigned	u = (unsigned) rng_below(&R->r, 1000);

	if (x->rdonly)
		tx_end(R, x, u < 500 ? END_COMMIT : END_ABORT);
	else if (x->prepared)
		tx_end(R, x, u < 700 ? END_COMMIT : END_ABORT);
	else if (u < (unsigned) R->c.prepare_pm)
	{
		unsigned	v = (unsigned) rng_below(&R->r, 100);

		tx_end(R, x, v < 40 ? END_PREP_COMMIT : v < 80 ? END_PREP_HOLD : END_PREP_ABORT);
	}
	else if (u < (unsigned) R->c.prepare_pm + 100)
		tx_end(R, x, END_ABORT);
	else
		tx_end(R, x, END_COMMIT);
}

/* ------------------------------------------------------------------------
 * Environment
 * ------------------------------------------------------------------------ */
static void
verify_committed(run *R)
{
	ts_txn	   *txn;

	R->st.full_verifies++;
	CHECK_OK(ts_txn_begin(R->env, TS_RDONLY, &txn));
	for (int t = 0; t < NT; t++)
	{
		const mver *v = R->cur[t];
		ts_treestat ts;
		ts_cursor  *c;
		int			back = rng_pm(&R->r, 300);

		CHECK_OK(ts_tree_stat(txn, R->tree[t], &ts));
		MCHECK(ts.entries == v->n, "ts_tree_stat(%s).entries = %" PRIu64 ", model has %zu",
			   tree_names[t], ts.entries, v->n);
		CHECK_OK(ts_cursor_open(txn, R->tree[t], &c));
		for (size_t i = 0; i < v->n; i++)
		{
			const ment *e = v->a[back ? v->n - 1 - i : i];
			ts_slice	k,
						val;
			int			rc = i == 0 ? (back ? ts_cursor_last(c) : ts_cursor_first(c))
			: (back ? ts_cursor_prev(c) : ts_cursor_next(c));

			MCHECK(rc == 0, "full %s scan of %s: entry %zu of %zu (%s): returned %d (%s: %s)",
				   back ? "backward" : "forward", tree_names[t], i, v->n,
				   kstr(e->key, e->klen), rc, ts_strerror(rc), ts_last_error());
			CHECK_OK(ts_cursor_get(c, &k, &val));
			MCHECK(kcmp(k.data, k.len, e->key, e->klen) == 0,
				   "full %s scan of %s: entry %zu is %s, model has %s", back ? "backward" : "forward",
				   tree_names[t], i, kstr(k.data, k.len), kstr(e->key, e->klen));
			MCHECK(val_eq(&val, e), "full scan of %s at %s: value mismatch (%zu bytes, expected %u)",
				   tree_names[t], kstr(e->key, e->klen), val.len, e->vlen);
		}
		if (v->n == 0)
			MCHECK_RC(back ? ts_cursor_last(c) : ts_cursor_first(c), TS_NOTFOUND, "first/last of an empty tree");
		else
			MCHECK_RC(back ? ts_cursor_prev(c) : ts_cursor_next(c), TS_NOTFOUND, "move past the end of a full scan");
		ts_cursor_close(c);
	}
	ts_txn_abort(txn);
}

static void
env_open(run *R, int create)
{
	ts_options	o;
	ts_txn	   *txn;
	ts_stat		st;

	ts_options_init(&o);
	o.sync = 0;
	if (create)
		o.flags |= TS_CREATE;
	else
		switch (rng_below(&R->r, 3))
		{
			case 0:
				o.cache_pages = 16;
				break;
			case 1:
				o.cache_pages = 256;
				break;
			default:
				break;
		}
	trace("env open %s%s cache_pages=%zu", R->dir, create ? " (create)" : "", o.cache_pages);
	CHECK_OK(ts_env_open(R->dir, &o, &R->env));
	if (create)
	{
		CHECK_OK(ts_txn_begin(R->env, 0, &txn));
		for (int t = 0; t < NT; t++)
			CHECK_OK(ts_tree_open(txn, tree_names[t], TS_CREATE, &R->tree[t]));
		CHECK_OK(ts_txn_commit(txn));
	}
	else
	{
		CHECK_OK(ts_env_check(R->env));
		R->st.checks++;
		CHECK_OK(ts_txn_begin(R->env, TS_RDONLY, &txn));
		for (int t = 0; t < NT; t++)
			CHECK_OK(ts_tree_open(txn, tree_names[t], 0, &R->tree[t]));
		ts_txn_abort(txn);
	}
	CHECK_OK(ts_env_stat(R->env, &st));
	if (!create)
		MCHECK(st.txnid == R->txnid, "after reopen the last committed txnid is %" PRIu64 ", was %" PRIu64,
			   st.txnid, R->txnid);
	R->txnid = st.txnid;
}

/* End every transaction, sweep the model, check the file; maybe reopen. */
static void
quiesce(run *R, int reopen)
{
	R->st.quiesces++;
	while (R->nw > 0)
		tx_end_random(R, R->w[0]);
	while (R->nr > 0)
		tx_end_random(R, R->ro[0]);
	MCHECK(R->nlog == 0, "commit log not empty with no transaction open");
	model_gc(R);
	trace("ts_env_check");
	CHECK_OK(ts_env_check(R->env));
	R->st.checks++;
	if (reopen)
	{
		trace("env close");
		CHECK_OK(ts_env_close(R->env));
		R->env = NULL;
		R->st.reopens++;
		env_open(R, 0);
	}
	verify_committed(R);
	R->maxw_now = 1 + (int) rng_below(&R->r, (uint64_t) R->c.maxw);
}

/* ------------------------------------------------------------------------
 * Steps
 * ------------------------------------------------------------------------ */
static void
w_step(run *R, mtx *x)
{
	unsigned	u;
	int			t;

	if (x->ops_left-- <= 0)
	{
		tx_end_random(R, x);
		return;
	}
	if (R->c.sp_pm > 0 && rng_pm(&R->r, (unsigned) R->c.sp_pm))
	{
		op_savepoint(R, x);
		return;
	}
	u = (unsigned) rng_below(&R->r, 1000);
	t = (int) rng_below(&R->r, NT);
	if (u < (unsigned) R->c.put_pm)
		op_put(R, x, t);
	else if (u < (unsigned) (R->c.put_pm + R->c.del_pm))
		op_del(R, x, t, 0);
	else
	{
		/* the rest: 60% gets, 10% scans, 28% held cursor, 2% tree stat */
		u = (unsigned) rng_below(&R->r, 100);
		if (u < 60)
			op_get(R, x, t);
		else if (u < 70)
			op_scan(R, x, t);
		else if (u < 98)
			hc_step(R, x);
		else
			op_tstat(R, x, t);
	}
}

static void
ro_step(run *R, mtx *x)
{
	unsigned	u;
	int			t;

	if (x->ops_left-- <= 0)
	{
		tx_end_random(R, x);
		return;
	}
	if (R->c.sp_pm > 0 && rng_pm(&R->r, (unsigned) R->c.sp_pm / 4))
	{
		op_savepoint(R, x);		/* TS_BAD_TXN */
		return;
	}
	u = (unsigned) rng_below(&R->r, 1000);
	t = (int) rng_below(&R->r, NT);
	if (u < 500)
		op_get(R, x, t);
	else if (u < 650)
		op_scan(R, x, t);
	else if (u < 950)
		hc_step(R, x);
	else if (u < 990)
		op_tstat(R, x, t);
	else if (u < 995)
		op_put(R, x, t);
	else
	{
		view		v = mtx_view(x);
		uint8_t		k[TS_MAX_KEY];

		if (pick_visible(R, &v, t, k) > 0)
			op_del(R, x, t, 1);
	}
}

static void
step(run *R)
{
	rng_t	   *r = &R->r;
	mtx		   *cand[MAX_W];
	int			nc = 0;

	for (int i = 0; i < R->nw; i++)
		if (!R->w[i]->prepared)
			cand[nc++] = R->w[i];
	if ((nc == 0 || (R->nw < R->maxw_now && rng_pm(r, 40))) && R->nw < MAX_W)
		cand[nc++] = tx_begin(R, 0);
	if (R->nr < R->c.maxr && rng_pm(r, 5))
		tx_begin(R, 1);
	for (int i = 0; i < R->nw; i++)
		if (R->w[i]->prepared && rng_pm(r, (unsigned) R->c.prep_finish_pm))
		{
			mtx		   *y = R->w[i];

			tx_end_random(R, y);
			for (int j = 0; j < nc; j++)
				if (cand[j] == y)
					cand[j] = cand[--nc];
			i--;
		}
	if (R->nr > 0 && rng_pm(r, (unsigned) R->c.rdonly_pm))
		ro_step(R, R->ro[rng_below(r, (uint64_t) R->nr)]);
	else if (nc > 0)
		w_step(R, cand[rng_below(r, (uint64_t) nc)]);
}

static long
env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return (s && *s) ? strtol(s, NULL, 0) : dflt;
}

static void
print_stats(const run *R, double secs)
{
	const stats *s = &R->st;

	printf("# model[%s] seed %" PRIu64 ": %ld steps in %.1f s\n", R->c.tag, R->c.seed, s->steps, secs);
	printf("#   puts %ld (TS_EXISTS %ld, 100-300KB values %ld), dels %ld (absent %ld), gets %ld (found %ld)\n",
		   s->puts, s->puts_exists, s->big_values, s->dels, s->dels_absent, s->gets, s->gets_found);
	printf("#   scans %ld, held-cursor steps %ld, cursor moves %ld, writes inside scans %ld, tree stats %ld, TS_BAD_TXN %ld\n",
		   s->scans, s->held_moves, s->cursor_moves, s->writes_in_scan, s->tree_stats, s->bad_txn);
	printf("#   txns: write %ld, read-only %ld; commits %ld (no definite write %ld), conflicts %ld "
		   "(at prepare %ld, by reservation %ld), either-outcome %ld, aborts %ld\n",
		   s->w_txns, s->ro_txns, s->commits, s->commits_nowrite, s->conflicts,
		   s->prepare_conflicts, s->reservation_conflicts, s->either, s->aborts);
	printf("#   prepares %ld (then committed %ld, aborted %ld); quiesces %ld, reopens %ld, "
		   "ts_env_check %ld, full verifies %ld; max keys in a tree %ld\n",
		   s->prepares, s->prepared_commits, s->prepared_aborts, s->quiesces, s->reopens,
		   s->checks, s->full_verifies, s->max_keys);
	if (R->c.sp_pm > 0)
		printf("#   savepoints %ld, rollbacks %ld, releases %ld\n", s->savepoints, s->rollbacks,
			   s->releases);
	fflush(stdout);
}

static run *
run_model(const cfg *c)
{
	run		   *R = xcalloc(1, sizeof(run));
	struct timespec t0,
				t1;

	R->c = *c;
	R->r.s = c->seed;
	trace_live = env_long("TS_MODEL_TRACE", 0) != 0;
	trace_op = 0;
	snprintf(R->dir, sizeof(R->dir), "%s", th_tmpdir(c->tag));
	printf("# model[%s]: seed %" PRIu64 " (TS_MODEL_SEED), %ld ops, dir %s\n", c->tag, c->seed, c->ops, R->dir);
	fflush(stdout);
	for (int t = 0; t < NT; t++)
		R->cur[t] = mver_new(16);
	R->maxw_now = c->maxw;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	env_open(R, 1);
	for (long i = 0; i < c->ops; i++)
	{
		trace_op = i;
		step(R);
		R->st.steps++;
		if ((i + 1) % c->quiesce_every == 0)
			quiesce(R, ((i + 1) / c->quiesce_every) % c->reopen_every == 0);
		if (gc_count > 400000)
			model_gc(R);
	}
	quiesce(R, 1);
	CHECK_OK(ts_env_close(R->env));
	R->env = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_stats(R, (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
	th_rmdir(R->dir);
	return R;
}

static void
run_free(run *R)
{
	for (int t = 0; t < NT; t++)
		mver_unref(R->cur[t]);
	free(R->log);
	free(R);
	gc_sweep_all();				/* nothing marked: frees every entry */
}

static uint64_t
model_seed(void)
{
	return (uint64_t) env_long("TS_MODEL_SEED", 20241125);
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

/*
 * A few fixed expectations first (ordering of tricky keys, bounds, prefix,
 * read-your-own-writes through a cursor), then a small randomized run with
 * a tiny key space and frequent reopens.
 */
TEST(model_smoke)
{
	const char *dir = th_tmpdir("smoke");
	char		d[512];
	ts_options	o;
	ts_env	   *env;
	ts_txn	   *w,
			   *r;
	ts_tree		tr;
	ts_cursor  *cu;
	ts_slice	k,
				v;
	static const char *const sorted[] = {"\x00", "\x00\x00", "a", "a\x00", "aa", "ab", "b", "b\xff", "\xff", "\xff\xff"};
	static const size_t lens[] = {1, 2, 1, 2, 2, 2, 1, 2, 1, 2};
	const int	nk = 10;
	cfg			c;
	run		   *R;

	snprintf(d, sizeof(d), "%s", dir);
	ts_options_init(&o);
	o.sync = 0;
	o.flags = TS_CREATE;
	CHECK_OK(ts_env_open(d, &o, &env));
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_tree_open(w, "t", TS_CREATE, &tr));
	/* insert in a scrambled order */
	for (int i = 0; i < nk; i++)
	{
		int			j = (i * 7) % nk;

		CHECK_OK(ts_put(w, tr, sorted[j], lens[j], sorted[j], lens[j], 0));
	}
	CHECK_OK(ts_txn_commit(w));

	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	CHECK_OK(ts_cursor_open(r, tr, &cu));
	for (int i = 0; i < nk; i++)
	{
		CHECK_OK(i == 0 ? ts_cursor_first(cu) : ts_cursor_next(cu));
		CHECK_OK(ts_cursor_get(cu, &k, &v));
		CHECK_MSG(k.len == lens[i] && memcmp(k.data, sorted[i], lens[i]) == 0,
				  "entry %d is %s, expected %s", i, kstr(k.data, k.len), kstr(sorted[i], lens[i]));
	}
	CHECK_ERR(ts_cursor_next(cu), TS_NOTFOUND);
	/* prefix "a": a, a\0, aa, ab */
	CHECK_OK(ts_cursor_prefix(cu, "a", 1));
	CHECK_OK(ts_cursor_last(cu));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "ab", 2) == 0);
	CHECK_OK(ts_cursor_first(cu));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "a", 1) == 0);
	CHECK_ERR(ts_cursor_prev(cu), TS_NOTFOUND);
	/* prefix 0xFF: both 0xFF keys, no upper bound */
	CHECK_OK(ts_cursor_prefix(cu, "\xff", 1));
	CHECK_OK(ts_cursor_seek_le(cu, "\xff\xff\xff", 3));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "\xff\xff", 2) == 0);
	/* bounds [a\0, b): seek before lo lands on lo, seek_le at hi lands before it */
	CHECK_OK(ts_cursor_bounds(cu, "a\x00", 2, "b", 1));
	CHECK_OK(ts_cursor_seek(cu, "\x00", 1));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "a\x00", 2) == 0);
	CHECK_OK(ts_cursor_seek_le(cu, "zzz", 3));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "ab", 2) == 0);
	CHECK_ERR(ts_cursor_seek(cu, "b", 1), TS_NOTFOUND);
	CHECK_ERR(ts_cursor_seek_le(cu, "a", 1), TS_NOTFOUND);
	ts_cursor_close(cu);
	ts_txn_abort(r);

	/* read-your-own-writes, cursor sees writes made while it is open */
	CHECK_OK(ts_txn_begin(env, 0, &w));
	CHECK_OK(ts_del(w, tr, "aa", 2));
	CHECK_ERR(ts_get(w, tr, "aa", 2, &v), TS_NOTFOUND);
	CHECK_ERR(ts_del(w, tr, "aa", 2), TS_NOTFOUND);
	CHECK_OK(ts_put(w, tr, "a\x01", 2, "", 0, 0));
	CHECK_OK(ts_get(w, tr, "a\x01", 2, &v));
	CHECK(v.len == 0);
	CHECK_ERR(ts_put(w, tr, "ab", 2, "x", 1, TS_NOOVERWRITE), TS_EXISTS);
	CHECK_OK(ts_cursor_open(w, tr, &cu));
	CHECK_OK(ts_cursor_seek(cu, "a", 1));		/* at "a" */
	CHECK_OK(ts_cursor_next(cu));				/* "a\0" */
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "a\x00", 2) == 0);
	CHECK_OK(ts_cursor_next(cu));				/* own insert "a\x01" */
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "a\x01", 2) == 0);
	CHECK_OK(ts_del(w, tr, "ab", 2));			/* the next key goes away ... */
	CHECK_OK(ts_put(w, tr, "a\x02", 2, "y", 1, 0));	/* ... and another appears */
	CHECK_OK(ts_cursor_next(cu));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "a\x02", 2) == 0 && v.len == 1 && memcmp(v.data, "y", 1) == 0);
	CHECK_OK(ts_cursor_next(cu));				/* "aa" and "ab" are deleted */
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 1 && memcmp(k.data, "b", 1) == 0);
	CHECK_OK(ts_cursor_prev(cu));
	CHECK_OK(ts_cursor_get(cu, &k, &v));
	CHECK(k.len == 2 && memcmp(k.data, "a\x02", 2) == 0);
	ts_cursor_close(cu);
	CHECK_OK(ts_txn_commit(w));
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(d);

	memset(&c, 0, sizeof(c));
	c.tag = "smoke";
	c.ops = 30000;
	c.seed = 1;
	c.maxw = 4;
	c.maxr = 2;
	c.hot_pm = 50;
	c.nhot = 8;
	c.cap = 400;
	c.quiesce_every = 3000;
	c.reopen_every = 2;
	c.big_p10k = 10;
	c.medium_pm = 30;
	c.long_txn_pm = 20;
	c.prepare_pm = 80;
	c.short_txn_max = 30;
	c.rdonly_pm = 200;
	c.put_pm = 330;
	c.del_pm = 160;
	c.prep_finish_pm = 15;
	R = run_model(&c);
	CHECK(R->st.commits > 100);
	CHECK(R->st.reopens >= 5);
	run_free(R);
}

/* The big randomized run: TS_MODEL_OPS operations (default 1,000,000). */
TEST(model_random)
{
	cfg			c;
	run		   *R;

	memset(&c, 0, sizeof(c));
	c.tag = "random";
	c.ops = env_long("TS_MODEL_OPS", 1000000);
	c.seed = model_seed();
	c.maxw = 8;
	c.maxr = 4;
	c.hot_pm = 15;
	c.nhot = 32;
	c.cap = 20000;
	c.quiesce_every = c.ops >= 500000 ? 50000 : (c.ops >= 50000 ? c.ops / 10 : 5000);
	c.reopen_every = 2;
	c.big_p10k = 10;
	c.medium_pm = 40;
	c.long_txn_pm = 30;
	c.prepare_pm = 50;
	c.short_txn_max = 60;
	c.rdonly_pm = 200;
	c.put_pm = 450;
	c.del_pm = 45;
	c.prep_finish_pm = 15;
	R = run_model(&c);
	CHECK(R->st.steps == c.ops);
	if (c.ops >= 10000)
		CHECK(R->st.commits > 0);
	run_free(R);
}

/*
 * Many transactions at once on a small hot key set: conflicts, prepared
 * reservations and snapshots held across many commits are the common case.
 */
TEST(model_conflicts)
{
	cfg			c;
	run		   *R;
	long		ops = env_long("TS_MODEL_OPS", 1000000) / 5;

	memset(&c, 0, sizeof(c));
	c.tag = "conflicts";
	c.ops = ops < 20000 ? 20000 : ops;
	c.seed = model_seed() + 1;
	c.maxw = 12;
	c.maxr = 6;
	c.hot_pm = 350;
	c.nhot = 24;
	c.cap = 1500;
	c.quiesce_every = 10000;
	c.reopen_every = 3;
	c.big_p10k = 0;
	c.medium_pm = 10;
	c.long_txn_pm = 10;
	c.prepare_pm = 200;
	c.short_txn_max = 20;
	c.rdonly_pm = 250;
	c.put_pm = 330;
	c.del_pm = 160;
	c.prep_finish_pm = 3;		/* prepared transactions reserve keys for long */
	R = run_model(&c);
	/* the point of this case: it must have produced what it is about */
	CHECK(R->st.conflicts > 0);
	CHECK(R->st.prepared_commits > 0);
	if (c.ops >= 50000)
		CHECK(R->st.reservation_conflicts > 0);
	run_free(R);
}

/*
 * Savepoints in the mix: write transactions take marks, roll back to them
 * and release them while they write hot keys, hold cursors and prepare; the
 * conflict predictions use the restored write sets, so a rolled-back write
 * that the engine still counted (or a restored one it forgot) shows up as a
 * wrong TS_CONFLICT outcome.
 */
TEST(model_savepoints)
{
	cfg			c;
	run		   *R;
	long		ops = env_long("TS_MODEL_OPS", 1000000) / 5;

	memset(&c, 0, sizeof(c));
	c.tag = "savepoints";
	c.ops = ops < 20000 ? 20000 : ops;
	c.seed = model_seed() + 2;
	c.maxw = 6;
	c.maxr = 3;
	c.hot_pm = 200;
	c.nhot = 32;
	c.cap = 3000;
	c.quiesce_every = 10000;
	c.reopen_every = 2;
	c.big_p10k = 5;
	c.medium_pm = 40;
	c.long_txn_pm = 60;
	c.prepare_pm = 100;
	c.short_txn_max = 60;
	c.rdonly_pm = 150;
	c.put_pm = 400;
	c.del_pm = 150;
	c.prep_finish_pm = 15;
	c.sp_pm = 80;
	R = run_model(&c);
	CHECK(R->st.savepoints > 0 && R->st.rollbacks > 0 && R->st.releases > 0);
	CHECK(R->st.conflicts > 0);
	run_free(R);
}

/*
 * A read-only snapshot held while many commits rewrite its pages, with a
 * 16-page cache so that pages really are read back from disk: it must still
 * read exactly its data (freed pages are not reused under it).  After it
 * ends, the freed pages are reused: the file stops growing.
 */
#define PIN_KEYS	400

static uint32_t
pin_vlen(int i)
{
	return i % 50 == 7 ? 5000 : (uint32_t) (20 + (i * 37) % 700);
}

static void
pin_churn(ts_env *env, ts_tree t, int *ver, int from, int to)
{
	for (int v = from; v <= to; v++)
	{
		ts_txn	   *w;

		CHECK_OK(ts_txn_begin(env, 0, &w));
		for (int i = 0; i < PIN_KEYS; i++)
			if ((i + v) % 3 == 0)
			{
				char		k[16];

				snprintf(k, sizeof(k), "key%05d", i);
				val_fill(vput, (uint64_t) v * 1000003u + (uint64_t) i, pin_vlen(i));
				CHECK_OK(ts_put(w, t, k, strlen(k), vput, pin_vlen(i), 0));
				ver[i] = v;
			}
		CHECK_OK(ts_txn_commit(w));
	}
}

static void
pin_verify(ts_txn *txn, ts_tree t, const int *ver)
{
	ts_cursor  *c;
	int			rc,
				i = 0;

	CHECK_OK(ts_cursor_open(txn, t, &c));
	for (rc = ts_cursor_first(c); rc == 0; rc = ts_cursor_next(c), i++)
	{
		ts_slice	k,
					v;
		char		want[16];

		CHECK_OK(ts_cursor_get(c, &k, &v));
		CHECK(i < PIN_KEYS);
		snprintf(want, sizeof(want), "key%05d", i);
		CHECK_MSG(k.len == strlen(want) && memcmp(k.data, want, k.len) == 0, "entry %d is %s", i,
				  kstr(k.data, k.len));
		val_fill(vcmp, (uint64_t) ver[i] * 1000003u + (uint64_t) i, pin_vlen(i));
		CHECK_MSG(v.len == pin_vlen(i) && memcmp(v.data, vcmp, v.len) == 0,
				  "%s: not the value of version %d", want, ver[i]);
	}
	CHECK_MSG(rc == TS_NOTFOUND, "scan: %d (%s: %s)", rc, ts_strerror(rc), ts_last_error());
	CHECK(i == PIN_KEYS);
	ts_cursor_close(c);
}

TEST(model_pinned_snapshot)
{
	const char *dir = th_tmpdir("pinned");
	char		d[512];
	ts_options	o;
	ts_env	   *env;
	ts_txn	   *r0,
			   *r;
	ts_tree		t;
	ts_stat		st0,
				st1,
				st2;
	static int	ver[PIN_KEYS],
				ver0[PIN_KEYS];

	snprintf(d, sizeof(d), "%s", dir);
	ts_options_init(&o);
	o.sync = 0;
	o.cache_pages = 16;
	o.flags = TS_CREATE;
	CHECK_OK(ts_env_open(d, &o, &env));
	{
		ts_txn	   *w;

		CHECK_OK(ts_txn_begin(env, 0, &w));
		CHECK_OK(ts_tree_open(w, "pinned", TS_CREATE, &t));
		CHECK_OK(ts_txn_commit(w));
	}
	for (int i = 0; i < PIN_KEYS; i++)
		ver[i] = -1;
	pin_churn(env, t, ver, 0, 2);	/* every key written once */
	memcpy(ver0, ver, sizeof(ver));
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r0));
	CHECK_OK(ts_env_stat(env, &st0));

	pin_churn(env, t, ver, 3, 150);
	CHECK_OK(ts_env_stat(env, &st1));
	CHECK_MSG(st1.oldest_reader == ts_txn_snapshot(r0), "oldest_reader %" PRIu64 ", the held snapshot is %" PRIu64,
			  st1.oldest_reader, ts_txn_snapshot(r0));
	pin_verify(r0, t, ver0);	/* the old snapshot, read back from disk */
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	pin_verify(r, t, ver);
	ts_txn_abort(r);
	ts_txn_abort(r0);

	pin_churn(env, t, ver, 151, 300);
	CHECK_OK(ts_env_stat(env, &st2));
	printf("# pinned snapshot: file grew %" PRIu64 " pages over 148 commits while held "
		   "(%" PRIu64 " pinned), %" PRIu64 " pages over 150 commits after\n",
		   st1.page_count - st0.page_count, st1.pinned_pages, st2.page_count - st1.page_count);
	CHECK_MSG((st2.page_count - st1.page_count) * 4 <= st1.page_count - st0.page_count + 64,
			  "the file kept growing after the snapshot ended: +%" PRIu64 " pages (+%" PRIu64 " while held)",
			  st2.page_count - st1.page_count, st1.page_count - st0.page_count);
	CHECK_OK(ts_txn_begin(env, TS_RDONLY, &r));
	pin_verify(r, t, ver);
	ts_txn_abort(r);
	CHECK_OK(ts_env_check(env));
	CHECK_OK(ts_env_close(env));
	th_rmdir(d);
	/* ts_stat.pinned_pages: "freed pages waiting for old readers" */
	CHECK_MSG(st1.pinned_pages > 0, "ts_stat.pinned_pages is 0 while a snapshot 148 commits old is held");
}

TEST_MAIN(model_smoke, model_random, model_conflicts, model_savepoints, model_pinned_snapshot)
