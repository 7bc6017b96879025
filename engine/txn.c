/*-------------------------------------------------------------------------
 *
 * txn.c
 *	  The environment, snapshots, transactions, the catalog of named trees,
 *	  commit, conflicts and merged cursors.
 *
 * SNAPSHOTS
 *	  Each commit publishes an immutable ts_snap: the meta page's contents and
 *	  the descriptor (root, depth, entries) of every named tree, indexed by
 *	  tree id.  A transaction holds a reference to the snapshot that was
 *	  current when it began; every page reachable from it stays unchanged and
 *	  allocated until the last such transaction ends (freelist.c, invariant 1).
 *
 * COMMIT (one at a time, under commit_lock)
 *	  1. Conflict check against the conflict table (below), and the reuse
 *	     horizon: the oldest snapshot of any live transaction.
 *	  2. Apply the write set in (tree, key) order to the newest trees,
 *	     copy-on-write; update the catalog entries of the trees changed.
 *	  3. Save the freelist (freed pages + pool leftovers).
 *	  4. Write the dirty pages; fdatasync; write the meta page (slot txnid % 2);
 *	     fdatasync.  (With sync off, no fdatasync.)
 *	  5. Publish the new snapshot.
 *	  A failure in steps 2-3 leaves nothing behind: the new pages are dropped
 *	  and the committed state was never modified.  A failed write or sync in
 *	  step 4 poisons the environment: every later commit fails with
 *	  TS_POISONED (after a failed fsync the kernel may have dropped dirty
 *	  pages; retrying could report success falsely).
 *
 * CONFLICTS (first committer wins)
 *	  The conflict table maps (tree, key) to the txnid of the last commit that
 *	  wrote it, and to the prepared transaction reserving it, if any.  A
 *	  committing transaction conflicts if an entry it wrote has a later
 *	  txnid than its snapshot or is reserved by another prepared transaction.
 *	  Entries are recorded only while some other write transaction is open
 *	  (no later writer can conflict with a commit its snapshot includes) and
 *	  pruned once older than every open writer's snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "error.h"
#include "writeset.h"

#define CAT_VALLEN 24			/* id u32, depth u32, root u64, entries u64 */

typedef struct tdesc
{
	char	   *name;			/* NULL: no tree with this id */
	ts_treeinfo info;
} tdesc;

typedef struct ts_snap
{
	int			refs;			/* under env->lock */
	ts_meta		meta;
	uint32_t	ntrees;			/* trees[] is indexed by id, 0 unused */
	tdesc	   *trees;
} ts_snap;

typedef struct centry
{
	struct centry *next;
	uint32_t	tree;
	uint32_t	klen;
	uint64_t	hash;
	uint64_t	txnid;			/* last commit writing the key (0: none known) */
	struct ts_txn *prepared;	/* prepared transaction reserving it */
	uint8_t		key[];
} centry;

struct ts_env
{
	ts_vfs	   *vfs;
	ts_pager   *pager;
	ts_options	opt;
	char	   *dir;

	pthread_mutex_t lock;		/* current, txns, conflict table, counters */
	pthread_mutex_t commit_lock;	/* one commit (or prepare) at a time */
	ts_snap    *current;
	struct ts_txn *txns;		/* live transactions */
	int			nwriters;		/* live write transactions */
	_Atomic uint32_t next_tree;

	centry	  **ctab;
	size_t		ctab_size;
	size_t		ctab_count;

	int			poisoned;
	uint64_t	commits;
	uint64_t	conflicts;
};

enum
{
	TXN_ACTIVE, TXN_PREPARED
};

typedef struct created
{
	char	   *name;
	uint32_t	id;
} created;

struct ts_txn
{
	ts_env	   *env;
	ts_snap    *snap;
	unsigned	flags;
	int			state;
	ts_wset    *ws;				/* NULL for read-only */
	created    *created;
	int			ncreated;
	ts_frame   *hold;			/* frame behind the last ts_get value */
	uint8_t    *ovf;			/* buffer behind the last overflow value */
	struct ts_cursor *cursors;
	struct ts_txn *prev,
			   *next;
	char		gid[TS_MAX_TREE_NAME + 1];
};

struct ts_cursor
{
	ts_txn	   *txn;			/* NULL once the transaction ended */
	ts_tree		tree;
	ts_btcur	bt;
	int			bt_pos;			/* bt is positioned (on a key) */
	int			dir;			/* direction of the last move */
	int			valid;
	const ts_wentry *we;		/* current entry comes from the write set */
	uint8_t		key[TS_MAX_KEY];	/* current key (merged cursors) */
	size_t		klen;
	uint8_t    *lo,
			   *hi;
	size_t		lolen,
				hilen;
	struct ts_cursor *next_in_txn;
};

/* ---------- snapshots ---------- */

static void
snap_free(ts_snap *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->ntrees; i++)
		free(s->trees[i].name);
	free(s->trees);
	free(s);
}

/* Drop a reference; caller holds env->lock. */
static void
snap_unref(ts_snap *s)
{
	if (--s->refs == 0)
		snap_free(s);
}

static int
snap_copy(const ts_snap *src, uint32_t ntrees, ts_snap **out)
{
	ts_snap    *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	s->meta = src->meta;
	s->ntrees = ntrees > src->ntrees ? ntrees : src->ntrees;
	s->trees = calloc(s->ntrees ? s->ntrees : 1, sizeof(tdesc));
	if (s->trees == NULL)
	{
		free(s);
		return ts_error(TS_NOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < src->ntrees; i++)
	{
		s->trees[i].info = src->trees[i].info;
		if (src->trees[i].name && (s->trees[i].name = strdup(src->trees[i].name)) == NULL)
		{
			snap_free(s);
			return ts_error(TS_NOMEM, "out of memory");
		}
	}
	s->refs = 1;
	*out = s;
	return 0;
}

static void
cat_decode(const uint8_t *v, uint32_t *id, ts_treeinfo *t)
{
	*id = rd32(v);
	t->depth = rd32(v + 4);
	t->root = rd64(v + 8);
	t->entries = rd64(v + 16);
}

static void
cat_encode(uint8_t *v, uint32_t id, const ts_treeinfo *t)
{
	wr32(v, id);
	wr32(v + 4, t->depth);
	wr64(v + 8, t->root);
	wr64(v + 16, t->entries);
}

/* Build the snapshot of a meta page by reading its catalog. */
static int
snap_load(ts_pager *pg, const ts_meta *m, ts_snap **out)
{
	ts_snap    *s = calloc(1, sizeof(*s));
	ts_treeinfo cat = {m->cat_root, m->cat_depth, m->cat_entries};
	ts_btcur	c;
	int			rc;

	if (s == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	s->meta = *m;
	s->refs = 1;
	s->ntrees = m->next_tree > 0 ? m->next_tree : 1;
	s->trees = calloc(s->ntrees, sizeof(tdesc));
	if (s->trees == NULL)
	{
		free(s);
		return ts_error(TS_NOMEM, "out of memory");
	}
	ts_btcur_init(&c, pg, &cat);
	for (rc = ts_btcur_first(&c); rc == 0; rc = ts_btcur_next(&c))
	{
		const uint8_t *k,
				   *v;
		size_t		kl,
					vl;
		uint32_t	id;
		ts_treeinfo ti;

		if ((rc = ts_btcur_key(&c, &k, &kl)) != 0 || (rc = ts_btcur_val(&c, &v, &vl)) != 0)
			break;
		if (vl != CAT_VALLEN || kl > TS_MAX_TREE_NAME)
		{
			rc = ts_error(TS_CORRUPT, "%s: catalog entry of %zu bytes", ts_pager_path(pg), vl);
			break;
		}
		cat_decode(v, &id, &ti);
		if (id == 0 || id >= s->ntrees || s->trees[id].name != NULL ||
			ti.root >= m->page_count || ti.depth > TS_MAX_DEPTH)
		{
			rc = ts_error(TS_CORRUPT, "%s: catalog entry for tree id %u is invalid",
						  ts_pager_path(pg), id);
			break;
		}
		s->trees[id].name = strndup((const char *) k, kl);
		if (s->trees[id].name == NULL)
		{
			rc = ts_error(TS_NOMEM, "out of memory");
			break;
		}
		s->trees[id].info = ti;
	}
	ts_btcur_done(&c);
	if (rc != TS_NOTFOUND)
	{
		snap_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ---------- environment ---------- */

void
ts_options_init(ts_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->cache_pages = 16384;
	opt->sync = 1;
}

int
ts_env_open(const char *path, const ts_options *opt, ts_env **out)
{
	ts_env	   *env;
	ts_meta		meta;
	int			rc;

	*out = NULL;
	ts_error_clear();
	if (path == NULL || opt == NULL)
		return ts_error(TS_INVALID, "ts_env_open needs a path and options");
	env = calloc(1, sizeof(*env));
	if (env == NULL || (env->dir = strdup(path)) == NULL)
	{
		free(env);
		return ts_error(TS_NOMEM, "out of memory");
	}
	env->opt = *opt;
	env->vfs = opt->vfs ? opt->vfs : ts_vfs_posix();
	pthread_mutex_init(&env->lock, NULL);
	pthread_mutex_init(&env->commit_lock, NULL);
	rc = ts_pager_open(env->vfs, path, opt->cache_pages, (opt->flags & TS_CREATE) != 0,
					   &env->pager, &meta);
	if (rc == 0)
		rc = snap_load(env->pager, &meta, &env->current);
	if (rc != 0)
	{
		ts_pager_close(env->pager);
		pthread_mutex_destroy(&env->lock);
		pthread_mutex_destroy(&env->commit_lock);
		free(env->dir);
		free(env);
		return rc;
	}
	atomic_store(&env->next_tree, meta.next_tree > 0 ? meta.next_tree : 1);
	*out = env;
	return 0;
}

static void
ctab_clear(ts_env *env, int keep_prepared)
{
	for (size_t b = 0; b < env->ctab_size; b++)
	{
		centry	  **pp = &env->ctab[b];

		while (*pp)
		{
			centry	   *e = *pp;

			if (keep_prepared && e->prepared)
			{
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			env->ctab_count--;
		}
	}
}

int
ts_env_close(ts_env *env)
{
	int			rc = 0;

	if (env == NULL)
		return 0;
	if (env->txns != NULL)
		rc = ts_error(TS_BAD_TXN, "environment closed with transactions still open");
	ctab_clear(env, 0);
	free(env->ctab);
	snap_unref(env->current);
	ts_pager_close(env->pager);
	pthread_mutex_destroy(&env->lock);
	pthread_mutex_destroy(&env->commit_lock);
	free(env->dir);
	free(env);
	return rc;
}

/* Oldest snapshot txnid of any live transaction; caller holds env->lock. */
static uint64_t
oldest_snapshot(ts_env *env)
{
	uint64_t	oldest = env->current->meta.txnid;

	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->snap->meta.txnid < oldest)
			oldest = t->snap->meta.txnid;
	return oldest;
}

/* ---------- the conflict table ---------- */

static uint64_t
key_hash(uint32_t tree, const uint8_t *k, size_t kl)
{
	uint64_t	h = 0xcbf29ce484222325ULL ^ tree;

	for (size_t i = 0; i < kl; i++)
		h = (h ^ k[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static centry *
ctab_find(ts_env *env, uint32_t tree, const uint8_t *k, size_t kl, uint64_t h)
{
	if (env->ctab_size == 0)
		return NULL;
	for (centry *e = env->ctab[h & (env->ctab_size - 1)]; e; e = e->next)
		if (e->hash == h && e->tree == tree && e->klen == kl && memcmp(e->key, k, kl) == 0)
			return e;
	return NULL;
}

static int
ctab_grow(ts_env *env)
{
	size_t		nsize = env->ctab_size ? env->ctab_size * 2 : 1024;
	centry	  **nt = calloc(nsize, sizeof(centry *));

	if (nt == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	for (size_t b = 0; b < env->ctab_size; b++)
		for (centry *e = env->ctab[b], *n; e; e = n)
		{
			n = e->next;
			e->next = nt[e->hash & (nsize - 1)];
			nt[e->hash & (nsize - 1)] = e;
		}
	free(env->ctab);
	env->ctab = nt;
	env->ctab_size = nsize;
	return 0;
}

static centry *
ctab_get(ts_env *env, uint32_t tree, const uint8_t *k, size_t kl)
{
	uint64_t	h = key_hash(tree, k, kl);
	centry	   *e = ctab_find(env, tree, k, kl, h);

	if (e)
		return e;
	if (env->ctab_count >= env->ctab_size && ctab_grow(env) != 0)
		return NULL;
	e = calloc(1, sizeof(centry) + kl);
	if (e == NULL)
		return NULL;
	e->tree = tree;
	e->klen = (uint32_t) kl;
	e->hash = h;
	memcpy(e->key, k, kl);
	e->next = env->ctab[h & (env->ctab_size - 1)];
	env->ctab[h & (env->ctab_size - 1)] = e;
	env->ctab_count++;
	return e;
}

/* Would txn conflict?  Caller holds env->lock. */
static int
check_conflicts(ts_env *env, ts_txn *txn)
{
	uint64_t	snap = txn->snap->meta.txnid;

	for (int i = 0; i < txn->ncreated; i++)
	{
		ts_snap    *cur = env->current;

		for (uint32_t id = 1; id < cur->ntrees; id++)
			if (cur->trees[id].name && strcmp(cur->trees[id].name, txn->created[i].name) == 0)
				return ts_error(TS_CONFLICT, "tree \"%s\" was created by a transaction that committed first",
								txn->created[i].name);
	}
	if (env->ctab_count == 0)
		return 0;
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		centry	   *c = ctab_find(env, e->tree, e->key, e->klen, key_hash(e->tree, e->key, e->klen));

		if (c && (c->txnid > snap || (c->prepared && c->prepared != txn)))
			return ts_error(TS_CONFLICT, "a key of tree %u was written by a transaction that %s first",
							e->tree, c->prepared && c->prepared != txn ? "prepared" : "committed");
	}
	return 0;
}

/*
 * Record txn's keys: as reserved by it (prepare), or as written by commit
 * `txnid`.  Caller holds env->lock.
 */
static int
record_keys(ts_env *env, ts_txn *txn, int prepare, uint64_t txnid)
{
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		centry	   *c;

		if (!prepare && txn->state != TXN_PREPARED && env->nwriters <= 1)
			return 0;			/* no other writer can conflict with us */
		c = prepare ? ctab_get(env, e->tree, e->key, e->klen)
			: ctab_find(env, e->tree, e->key, e->klen, key_hash(e->tree, e->key, e->klen));
		if (c == NULL)
		{
			if (prepare)
				return ts_error(TS_NOMEM, "out of memory");
			if ((c = ctab_get(env, e->tree, e->key, e->klen)) == NULL)
				return ts_error(TS_NOMEM, "out of memory");
		}
		if (prepare)
			c->prepared = txn;
		else
		{
			if (c->prepared == txn)
				c->prepared = NULL;
			c->txnid = txnid;
		}
	}
	return 0;
}

/* Forget a prepared transaction's reservations.  Caller holds env->lock. */
static void
release_keys(ts_env *env, ts_txn *txn)
{
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		centry	   *c = ctab_find(env, e->tree, e->key, e->klen, key_hash(e->tree, e->key, e->klen));

		if (c && c->prepared == txn)
			c->prepared = NULL;
	}
}

/* Drop entries no open writer can conflict with.  Caller holds env->lock. */
static void
prune_conflicts(ts_env *env)
{
	uint64_t	horizon = UINT64_MAX;
	int			writers = 0;

	if (env->ctab_count == 0)
		return;
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->ws)
		{
			writers++;
			if (t->snap->meta.txnid < horizon)
				horizon = t->snap->meta.txnid;
		}
	if (writers == 0)
	{
		ctab_clear(env, 1);
		return;
	}
	for (size_t b = 0; b < env->ctab_size; b++)
	{
		centry	  **pp = &env->ctab[b];

		while (*pp)
		{
			centry	   *e = *pp;

			if (!e->prepared && e->txnid <= horizon)
			{
				*pp = e->next;
				free(e);
				env->ctab_count--;
			}
			else
				pp = &e->next;
		}
	}
}

/* ---------- transactions ---------- */

int
ts_txn_begin(ts_env *env, unsigned flags, ts_txn **out)
{
	ts_txn	   *txn;

	*out = NULL;
	if (env == NULL)
		return ts_error(TS_INVALID, "no environment");
	txn = calloc(1, sizeof(*txn));
	if (txn == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	txn->env = env;
	txn->flags = flags;
	txn->state = TXN_ACTIVE;
	if (!(flags & TS_RDONLY) && (txn->ws = ts_wset_new()) == NULL)
	{
		free(txn);
		return ts_error(TS_NOMEM, "out of memory");
	}
	pthread_mutex_lock(&env->lock);
	txn->snap = env->current;
	txn->snap->refs++;
	txn->next = env->txns;
	if (env->txns)
		env->txns->prev = txn;
	env->txns = txn;
	if (txn->ws)
		env->nwriters++;
	pthread_mutex_unlock(&env->lock);
	*out = txn;
	return 0;
}

static void
release_value(ts_txn *txn)
{
	if (txn->hold)
	{
		ts_pager_release(txn->env->pager, txn->hold);
		txn->hold = NULL;
	}
	free(txn->ovf);
	txn->ovf = NULL;
}

static void
txn_end(ts_txn *txn)
{
	ts_env	   *env = txn->env;

	release_value(txn);
	for (struct ts_cursor *c = txn->cursors; c; c = c->next_in_txn)
	{
		ts_btcur_done(&c->bt);
		c->txn = NULL;
		c->valid = 0;
	}
	pthread_mutex_lock(&env->lock);
	if (txn->state == TXN_PREPARED)
		release_keys(env, txn);
	if (txn->prev)
		txn->prev->next = txn->next;
	else
		env->txns = txn->next;
	if (txn->next)
		txn->next->prev = txn->prev;
	if (txn->ws)
		env->nwriters--;
	snap_unref(txn->snap);
	prune_conflicts(env);
	pthread_mutex_unlock(&env->lock);
	ts_wset_free(txn->ws);
	for (int i = 0; i < txn->ncreated; i++)
		free(txn->created[i].name);
	free(txn->created);
	free(txn);
}

void
ts_txn_abort(ts_txn *txn)
{
	if (txn)
		txn_end(txn);
}

uint64_t
ts_txn_snapshot(const ts_txn *txn)
{
	return txn->snap->meta.txnid;
}

/* Where tree `id` stands for this transaction's reads from its snapshot. */
static const ts_treeinfo *
snap_tree(ts_txn *txn, ts_tree id)
{
	if (id < txn->snap->ntrees && txn->snap->trees[id].name)
		return &txn->snap->trees[id].info;
	return NULL;
}

static int
tree_valid(ts_txn *txn, ts_tree id)
{
	if (snap_tree(txn, id))
		return 1;
	for (int i = 0; i < txn->ncreated; i++)
		if (txn->created[i].id == id)
			return 1;
	return 0;
}

int
ts_tree_open(ts_txn *txn, const char *name, unsigned flags, ts_tree *tree)
{
	size_t		nl;
	created    *nc;

	if (txn == NULL || name == NULL || tree == NULL)
		return ts_error(TS_INVALID, "ts_tree_open needs a transaction, a name and a result");
	nl = strlen(name);
	if (nl == 0 || nl > TS_MAX_TREE_NAME)
		return ts_error(TS_INVALID, "tree name of %zu bytes (allowed: 1 to %d)", nl, TS_MAX_TREE_NAME);
	for (uint32_t id = 1; id < txn->snap->ntrees; id++)
		if (txn->snap->trees[id].name && strcmp(txn->snap->trees[id].name, name) == 0)
		{
			*tree = id;
			return 0;
		}
	for (int i = 0; i < txn->ncreated; i++)
		if (strcmp(txn->created[i].name, name) == 0)
		{
			*tree = txn->created[i].id;
			return 0;
		}
	if (!(flags & TS_CREATE))
		return ts_error(TS_NOTFOUND, "no tree named \"%s\"", name);
	if (txn->ws == NULL)
		return ts_error(TS_BAD_TXN, "cannot create tree \"%s\" in a read-only transaction", name);
	if (txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "transaction is prepared");
	nc = realloc(txn->created, (size_t) (txn->ncreated + 1) * sizeof(created));
	if (nc == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	txn->created = nc;
	if ((nc[txn->ncreated].name = strdup(name)) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	nc[txn->ncreated].id = atomic_fetch_add(&txn->env->next_tree, 1);
	*tree = nc[txn->ncreated].id;
	txn->ncreated++;
	return 0;
}

int
ts_tree_stat(ts_txn *txn, ts_tree tree, ts_treestat *st)
{
	const ts_treeinfo *t;

	if (txn == NULL || st == NULL || !tree_valid(txn, tree))
		return ts_error(TS_INVALID, "no tree with id %u", tree);
	t = snap_tree(txn, tree);
	memset(st, 0, sizeof(*st));
	if (t)
	{
		st->entries = t->entries;
		st->depth = t->depth;
		st->root = t->root;
	}
	return 0;
}

/* ---------- reads and writes ---------- */

int
ts_get(ts_txn *txn, ts_tree tree, const void *key, size_t klen, ts_slice *val)
{
	const ts_treeinfo *t;
	const uint8_t *v;
	size_t		vl;
	int			rc;

	if (txn == NULL || val == NULL || key == NULL)
		return ts_error(TS_INVALID, "ts_get needs a transaction, a key and a result");
	release_value(txn);
	if (!tree_valid(txn, tree))
		return ts_error(TS_INVALID, "no tree with id %u", tree);
	if (klen == 0 || klen > TS_MAX_KEY)
		return TS_NOTFOUND;
	if (txn->ws)
	{
		const ts_wentry *e = ts_wset_get(txn->ws, tree, key, klen);

		if (e)
		{
			if (e->val == NULL)
				return TS_NOTFOUND;
			val->data = e->val;
			val->len = e->vlen;
			return 0;
		}
	}
	if ((t = snap_tree(txn, tree)) == NULL)
		return TS_NOTFOUND;
	rc = ts_bt_get(txn->env->pager, t, key, klen, &v, &vl, &txn->hold, &txn->ovf);
	if (rc != 0)
		return rc;
	val->data = v;
	val->len = vl;
	return 0;
}

static int
check_writable(ts_txn *txn, ts_tree tree, size_t klen)
{
	if (txn == NULL)
		return ts_error(TS_INVALID, "no transaction");
	if (txn->ws == NULL)
		return ts_error(TS_BAD_TXN, "write in a read-only transaction");
	if (txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "write in a prepared transaction");
	if (!tree_valid(txn, tree))
		return ts_error(TS_INVALID, "no tree with id %u", tree);
	if (klen == 0 || klen > TS_MAX_KEY)
		return ts_error(TS_KEY_TOO_BIG, "key of %zu bytes (allowed: 1 to %d)", klen, TS_MAX_KEY);
	return 0;
}

int
ts_put(ts_txn *txn, ts_tree tree, const void *key, size_t klen,
	   const void *val, size_t vlen, unsigned flags)
{
	int			rc;

	if ((rc = check_writable(txn, tree, klen)) != 0)
		return rc;
	if (vlen > TS_MAX_VALUE)
		return ts_error(TS_INVALID, "value of %zu bytes is larger than the limit", vlen);
	if (flags & TS_NOOVERWRITE)
	{
		ts_slice	cur;

		rc = ts_get(txn, tree, key, klen, &cur);
		release_value(txn);
		if (rc == 0)
			return ts_error(TS_EXISTS, "key exists");
		if (rc != TS_NOTFOUND)
			return rc;
	}
	release_value(txn);
	return ts_wset_put(txn->ws, tree, key, klen, val ? val : (const void *) "", vlen);
}

int
ts_del(ts_txn *txn, ts_tree tree, const void *key, size_t klen)
{
	ts_slice	cur;
	int			rc;

	if ((rc = check_writable(txn, tree, klen)) != 0)
		return rc;
	rc = ts_get(txn, tree, key, klen, &cur);
	release_value(txn);
	if (rc != 0)
		return rc;
	return ts_wset_put(txn->ws, tree, key, klen, NULL, 0);
}

/* ---------- commit ---------- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

static void
wctx_free(ts_wctx *w)
{
	ts_u64vec_free(&w->dirty);
	ts_u64vec_free(&w->freed);
	ts_u64vec_free(&w->pool);
	ts_u64vec_free(&w->taken);
}

/*
 * Apply txn's writes to the newest state and make it durable.  Caller holds
 * commit_lock, and has checked conflicts.
 */
static int
apply_and_write(ts_env *env, ts_txn *txn, uint64_t horizon, ts_snap **out)
{
	ts_snap    *cur = env->current;
	ts_snap    *ns = NULL;
	ts_wctx		w;
	ts_treeinfo cat = {cur->meta.cat_root, cur->meta.cat_depth, cur->meta.cat_entries};
	uint32_t	ntrees = atomic_load(&env->next_tree);
	uint8_t    *touched = NULL;
	int			rc;

	memset(&w, 0, sizeof(w));
	w.pager = env->pager;
	w.txnid = cur->meta.txnid + 1;
	w.page_count = cur->meta.page_count;
	w.reuse_horizon = horizon;
	w.fl.root = cur->meta.fl_root;
	w.fl.depth = cur->meta.fl_depth;
	w.fl.entries = cur->meta.fl_entries;
	w.free_count = cur->meta.free_count;

	if ((rc = snap_copy(cur, ntrees, &ns)) != 0)
		return rc;
	touched = calloc(ns->ntrees, 1);
	if (touched == NULL)
	{
		rc = ts_error(TS_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < txn->ncreated; i++)
	{
		uint32_t	id = txn->created[i].id;

		if ((ns->trees[id].name = strdup(txn->created[i].name)) == NULL)
		{
			rc = ts_error(TS_NOMEM, "out of memory");
			goto fail;
		}
		memset(&ns->trees[id].info, 0, sizeof(ts_treeinfo));
		touched[id] = 1;
	}

	/* 2. the write set, in (tree, key) order */
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		ts_treeinfo *t;
		int			found;

		if (e->tree >= ns->ntrees || ns->trees[e->tree].name == NULL)
		{
			rc = ts_error(TS_INVALID, "write to tree id %u, which does not exist", e->tree);
			goto fail;
		}
		t = &ns->trees[e->tree].info;
		touched[e->tree] = 1;
		if (e->val)
			rc = ts_bt_put(&w, t, e->key, e->klen, e->val, e->vlen);
		else
			rc = ts_bt_del(&w, t, e->key, e->klen, &found);
		if (rc != 0)
			goto fail;
	}
	for (uint32_t id = 1; id < ns->ntrees; id++)
	{
		uint8_t		v[CAT_VALLEN];

		if (!touched[id])
			continue;
		cat_encode(v, id, &ns->trees[id].info);
		if ((rc = ts_bt_put(&w, &cat, (const uint8_t *) ns->trees[id].name,
							strlen(ns->trees[id].name), v, CAT_VALLEN)) != 0)
			goto fail;
	}

	/* 3. the freelist */
	if ((rc = ts_freelist_save(&w)) != 0)
		goto fail;

	ns->meta.txnid = w.txnid;
	ns->meta.cat_root = cat.root;
	ns->meta.cat_depth = cat.depth;
	ns->meta.cat_entries = cat.entries;
	ns->meta.fl_root = w.fl.root;
	ns->meta.fl_depth = w.fl.depth;
	ns->meta.fl_entries = w.fl.entries;
	ns->meta.page_count = w.page_count;
	ns->meta.free_count = w.free_count;
	if (ns->meta.next_tree < ntrees)
		ns->meta.next_tree = ntrees;

	/* 4. pages, sync, meta, sync */
	if (w.dirty.n > 1)
		qsort(w.dirty.v, w.dirty.n, sizeof(uint64_t), cmp_u64);
	rc = ts_pager_flush(env->pager, w.dirty.v, w.dirty.n, w.txnid);
	w.dirty.n = 0;				/* flushed or dropped */
	if (rc == 0 && env->opt.sync)
		rc = ts_pager_sync(env->pager);
	if (rc == 0)
		rc = ts_pager_write_meta(env->pager, &ns->meta);
	if (rc == 0 && env->opt.sync)
		rc = ts_pager_sync(env->pager);
	if (rc != 0)
		goto fail;
	free(touched);
	wctx_free(&w);
	*out = ns;
	return 0;

fail:
	if (ts_pager_failed(env->pager))
		env->poisoned = 1;		/* never retry after a failed write or sync */
	ts_pager_drop(env->pager, w.dirty.v, w.dirty.n);
	free(touched);
	wctx_free(&w);
	snap_free(ns);
	return rc;
}

static int
do_commit(ts_txn *txn)
{
	ts_env	   *env = txn->env;
	ts_snap    *ns = NULL;
	uint64_t	horizon;
	int			rc;

	release_value(txn);
	if (ts_wset_count(txn->ws) == 0 && txn->ncreated == 0)
		return 0;
	pthread_mutex_lock(&env->commit_lock);
	if (env->poisoned || ts_pager_failed(env->pager))
	{
		env->poisoned = 1;
		pthread_mutex_unlock(&env->commit_lock);
		return ts_error(TS_POISONED, "an earlier write or sync of %s failed; reopen the environment",
						ts_pager_path(env->pager));
	}
	pthread_mutex_lock(&env->lock);
	rc = txn->state == TXN_PREPARED ? 0 : check_conflicts(env, txn);
	if (rc == TS_CONFLICT)
		env->conflicts++;
	horizon = oldest_snapshot(env);
	pthread_mutex_unlock(&env->lock);
	if (rc == 0)
		rc = apply_and_write(env, txn, horizon, &ns);
	if (rc == 0)
	{
		pthread_mutex_lock(&env->lock);
		snap_unref(env->current);
		env->current = ns;
		env->commits++;
		rc = record_keys(env, txn, 0, ns->meta.txnid);
		pthread_mutex_unlock(&env->lock);
		if (rc != 0)
		{
			/* committed, but cannot track it for conflicts: stop writes */
			env->poisoned = 1;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&env->commit_lock);
	return rc;
}

int
ts_txn_commit(ts_txn *txn)
{
	int			rc;

	if (txn == NULL)
		return ts_error(TS_INVALID, "no transaction");
	rc = txn->ws ? do_commit(txn) : 0;
	txn_end(txn);
	return rc;
}

int
ts_txn_prepare(ts_txn *txn, const char *gid)
{
	ts_env	   *env;
	int			rc;

	if (txn == NULL || gid == NULL || strlen(gid) > TS_MAX_TREE_NAME)
		return ts_error(TS_INVALID, "ts_txn_prepare needs a transaction and a gid of at most %d bytes",
						TS_MAX_TREE_NAME);
	if (txn->ws == NULL || txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "only an active write transaction can be prepared");
	env = txn->env;
	pthread_mutex_lock(&env->commit_lock);
	pthread_mutex_lock(&env->lock);
	rc = check_conflicts(env, txn);
	if (rc == TS_CONFLICT)
		env->conflicts++;
	if (rc == 0)
		rc = record_keys(env, txn, 1, 0);
	if (rc == 0)
	{
		txn->state = TXN_PREPARED;
		strcpy(txn->gid, gid);
	}
	else
		release_keys(env, txn);
	pthread_mutex_unlock(&env->lock);
	pthread_mutex_unlock(&env->commit_lock);
	return rc;
}

/* ---------- statistics ---------- */

int
ts_env_stat(ts_env *env, ts_stat *st)
{
	uint64_t	frames;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&env->lock);
	st->txnid = env->current->meta.txnid;
	st->page_count = env->current->meta.page_count;
	st->free_pages = env->current->meta.free_count;
	st->file_bytes = st->page_count * TS_PAGE_SIZE;
	st->oldest_reader = oldest_snapshot(env);
	st->commits = env->commits;
	st->conflicts = env->conflicts;
	for (ts_txn *t = env->txns; t; t = t->next)
		st->active_txns++;
	pthread_mutex_unlock(&env->lock);
	ts_pager_counters(env->pager, &st->cache_hits, &st->cache_misses, &frames);
	st->cache_pages = frames;
	return 0;
}

/* ---------- cursors ---------- */

int
ts_cursor_open(ts_txn *txn, ts_tree tree, ts_cursor **out)
{
	ts_cursor  *c;
	const ts_treeinfo *t;
	ts_treeinfo empty = {0, 0, 0};

	*out = NULL;
	if (txn == NULL || !tree_valid(txn, tree))
		return ts_error(TS_INVALID, "no tree with id %u", tree);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	c->txn = txn;
	c->tree = tree;
	t = snap_tree(txn, tree);
	ts_btcur_init(&c->bt, txn->env->pager, t ? t : &empty);
	c->next_in_txn = txn->cursors;
	txn->cursors = c;
	*out = c;
	return 0;
}

void
ts_cursor_close(ts_cursor *c)
{
	if (c == NULL)
		return;
	if (c->txn)
	{
		ts_cursor **pp = &c->txn->cursors;

		while (*pp && *pp != c)
			pp = &(*pp)->next_in_txn;
		if (*pp)
			*pp = c->next_in_txn;
		ts_btcur_done(&c->bt);
	}
	free(c->lo);
	free(c->hi);
	free(c);
}

int
ts_cursor_bounds(ts_cursor *c, const void *lo, size_t lolen, const void *hi, size_t hilen)
{
	if (c == NULL)
		return ts_error(TS_INVALID, "no cursor");
	free(c->lo);
	free(c->hi);
	c->lo = c->hi = NULL;
	c->lolen = c->hilen = 0;
	c->valid = 0;
	if (lo && (c->lo = malloc(lolen ? lolen : 1)) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	if (hi && (c->hi = malloc(hilen ? hilen : 1)) == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	if (lo)
	{
		memcpy(c->lo, lo, lolen);
		c->lolen = lolen;
	}
	if (hi)
	{
		memcpy(c->hi, hi, hilen);
		c->hilen = hilen;
	}
	return 0;
}

int
ts_cursor_prefix(ts_cursor *c, const void *prefix, size_t len)
{
	uint8_t		end[TS_MAX_KEY + 1];
	size_t		elen;

	if (len > TS_MAX_KEY)
		return ts_error(TS_INVALID, "prefix longer than a key");
	elen = ts_key_prefix_end(prefix, len, end);
	return ts_cursor_bounds(c, prefix, len, elen ? end : NULL, elen);
}

/* The current candidate key of the B+tree side, if positioned. */
static int
bt_key(ts_cursor *c, const uint8_t **k, size_t *kl)
{
	if (!c->bt_pos)
		return 0;
	return ts_btcur_key(&c->bt, k, kl) == 0;
}

static int
in_bounds(ts_cursor *c, const uint8_t *k, size_t kl)
{
	if (c->lo && ts_keycmp(k, kl, c->lo, c->lolen) < 0)
		return 0;
	if (c->hi && ts_keycmp(k, kl, c->hi, c->hilen) >= 0)
		return 0;
	return 1;
}

/* Map a B+tree cursor result to bt_pos; pass errors through. */
static int
bt_result(ts_cursor *c, int rc)
{
	c->bt_pos = (rc == 0);
	return rc == TS_NOTFOUND ? 0 : rc;
}

/*
 * Settle the merged position given both sides positioned at their
 * candidates for direction dir; skip tombstones; check bounds.
 */
static int
settle(ts_cursor *c, int dir)
{
	ts_wset    *ws = c->txn->ws;
	int			rc;

	for (;;)
	{
		const uint8_t *bk = NULL;
		size_t		bkl = 0;
		int			hasb = bt_key(c, &bk, &bkl);
		const ts_wentry *we = NULL;
		int			cmp;

		if (ws)
			we = dir > 0 ? ts_wset_seek_ge(ws, c->tree, c->key, c->klen)
				: ts_wset_seek_le(ws, c->tree, c->key, c->klen);
		if (ws && c->klen == 0 && dir > 0)
			we = ts_wset_first(ws, c->tree);
		if (!hasb && we == NULL)
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		if (!hasb)
			cmp = 1;
		else if (we == NULL)
			cmp = -1;
		else
			cmp = ts_keycmp(bk, bkl, we->key, we->klen) * dir;
		/* cmp < 0: the tree's key comes first in direction dir */
		if (cmp < 0)
		{
			if (!in_bounds(c, bk, bkl))
			{
				c->valid = 0;
				return TS_NOTFOUND;
			}
			c->we = NULL;
			memcpy(c->key, bk, bkl);
			c->klen = bkl;
			c->valid = 1;
			return 0;
		}
		if (!in_bounds(c, we->key, we->klen))
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		memcpy(c->key, we->key, we->klen);
		c->klen = we->klen;
		if (cmp == 0)
		{
			/* the write set shadows the tree's entry: step the tree past it */
			rc = bt_result(c, dir > 0 ? ts_btcur_next(&c->bt) : ts_btcur_prev(&c->bt));
			if (rc != 0)
				return rc;
		}
		if (we->val != NULL)
		{
			c->we = we;
			c->valid = 1;
			return 0;
		}
		/* a tombstone: move past it and try again */
		{
			const ts_wentry *nx = dir > 0 ? ts_wset_seek_gt(ws, c->tree, we->key, we->klen)
				: ts_wset_seek_lt(ws, c->tree, we->key, we->klen);

			if (nx == NULL)
			{
				/* no more write-set entries: only the tree is left */
				if (!bt_key(c, &bk, &bkl) || !in_bounds(c, bk, bkl))
				{
					c->valid = 0;
					return TS_NOTFOUND;
				}
				c->we = NULL;
				memcpy(c->key, bk, bkl);
				c->klen = bkl;
				c->valid = 1;
				return 0;
			}
			memcpy(c->key, nx->key, nx->klen);
			c->klen = nx->klen;
		}
	}
}

/* Position the B+tree side at the first key >= k (dir > 0) or last <= k. */
static int
bt_seek_dir(ts_cursor *c, const uint8_t *k, size_t kl, int dir)
{
	int			rc;

	if (dir > 0)
		return bt_result(c, ts_btcur_seek(&c->bt, k, kl));
	rc = bt_result(c, ts_btcur_seek(&c->bt, k, kl));
	if (rc != 0)
		return rc;
	if (!c->bt_pos)
		return bt_result(c, ts_btcur_last(&c->bt));
	{
		const uint8_t *bk;
		size_t		bkl;

		if (bt_key(c, &bk, &bkl) && ts_keycmp(bk, bkl, k, kl) > 0)
			return bt_result(c, ts_btcur_prev(&c->bt));
	}
	return 0;
}

static int
cursor_ready(ts_cursor *c)
{
	if (c == NULL)
		return ts_error(TS_INVALID, "no cursor");
	if (c->txn == NULL)
		return ts_error(TS_BAD_TXN, "the cursor's transaction has ended");
	return 0;
}

/* Fast path of read-only cursors: the B+tree alone. */
static int
plain_settle(ts_cursor *c, int rc)
{
	const uint8_t *k;
	size_t		kl;

	if ((rc = bt_result(c, rc)) != 0)
		return rc;
	if (!c->bt_pos || !bt_key(c, &k, &kl) || !in_bounds(c, k, kl))
	{
		c->valid = 0;
		return TS_NOTFOUND;
	}
	c->we = NULL;
	c->valid = 1;
	return 0;
}

static int
seek_dir(ts_cursor *c, const uint8_t *k, size_t kl, int dir)
{
	int			rc;

	c->dir = dir;
	if (c->txn->ws == NULL)
	{
		if (dir > 0)
			return plain_settle(c, ts_btcur_seek(&c->bt, k, kl));
		if ((rc = bt_seek_dir(c, k, kl, -1)) != 0)
			return rc;
		return plain_settle(c, c->bt_pos ? 0 : TS_NOTFOUND);
	}
	if ((rc = bt_seek_dir(c, k, kl, dir)) != 0)
		return rc;
	memcpy(c->key, k, kl);
	c->klen = kl;
	return settle(c, dir);
}

int
ts_cursor_first(ts_cursor *c)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (c->lo)
		return seek_dir(c, c->lo, c->lolen, 1);
	c->dir = 1;
	if (c->txn->ws == NULL)
		return plain_settle(c, ts_btcur_first(&c->bt));
	if ((rc = bt_result(c, ts_btcur_first(&c->bt))) != 0)
		return rc;
	c->klen = 0;
	return settle(c, 1);
}

int
ts_cursor_last(ts_cursor *c)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (c->hi)
	{
		/* last key < hi: seek_le(hi), stepping back if equal */
		if ((rc = seek_dir(c, c->hi, c->hilen, -1)) == TS_NOTFOUND)
		{
			const uint8_t *k;
			size_t		kl;

			/* seek_le landed on hi itself (out of bounds): step back */
			if (c->txn->ws == NULL)
			{
				if (bt_key(c, &k, &kl) && ts_keycmp(k, kl, c->hi, c->hilen) == 0)
					return plain_settle(c, ts_btcur_prev(&c->bt));
				return TS_NOTFOUND;
			}
			if (c->klen == c->hilen && memcmp(c->key, c->hi, c->hilen) == 0)
			{
				c->valid = 1;
				return ts_cursor_prev(c);
			}
		}
		return rc;
	}
	c->dir = -1;
	if (c->txn->ws == NULL)
		return plain_settle(c, ts_btcur_last(&c->bt));
	if ((rc = bt_result(c, ts_btcur_last(&c->bt))) != 0)
		return rc;
	{
		const ts_wentry *we = ts_wset_last(c->txn->ws, c->tree);
		const uint8_t *bk;
		size_t		bkl;

		if (we && (!bt_key(c, &bk, &bkl) || ts_keycmp(we->key, we->klen, bk, bkl) > 0))
		{
			memcpy(c->key, we->key, we->klen);
			c->klen = we->klen;
		}
		else if (bt_key(c, &bk, &bkl))
		{
			memcpy(c->key, bk, bkl);
			c->klen = bkl;
		}
		else
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
	}
	return settle(c, -1);
}

int
ts_cursor_seek(ts_cursor *c, const void *key, size_t klen)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (klen > TS_MAX_KEY)
		return ts_error(TS_KEY_TOO_BIG, "seek key of %zu bytes", klen);
	if (c->lo && ts_keycmp(key, klen, c->lo, c->lolen) < 0)
		return seek_dir(c, c->lo, c->lolen, 1);
	return seek_dir(c, key, klen, 1);
}

int
ts_cursor_seek_le(ts_cursor *c, const void *key, size_t klen)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (klen > TS_MAX_KEY)
		return ts_error(TS_KEY_TOO_BIG, "seek key of %zu bytes", klen);
	if (c->hi && ts_keycmp(key, klen, c->hi, c->hilen) >= 0)
		return ts_cursor_last(c);
	return seek_dir(c, key, klen, -1);
}

static int
step(ts_cursor *c, int dir)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (!c->valid)
		return TS_NOTFOUND;
	if (c->txn->ws == NULL)
	{
		if (c->dir != dir)
			c->dir = dir;
		return plain_settle(c, dir > 0 ? ts_btcur_next(&c->bt) : ts_btcur_prev(&c->bt));
	}
	/* merged: put the tree side strictly past the current key */
	if (c->dir != dir || !c->bt_pos)
	{
		if ((rc = bt_seek_dir(c, c->key, c->klen, dir)) != 0)
			return rc;
		c->dir = dir;
	}
	for (;;)
	{
		const uint8_t *bk;
		size_t		bkl;

		if (!bt_key(c, &bk, &bkl) || ts_keycmp(bk, bkl, c->key, c->klen) * dir > 0)
			break;
		if ((rc = bt_result(c, dir > 0 ? ts_btcur_next(&c->bt) : ts_btcur_prev(&c->bt))) != 0)
			return rc;
	}
	/* and the write set strictly past it too */
	{
		const ts_wentry *we = dir > 0 ? ts_wset_seek_gt(c->txn->ws, c->tree, c->key, c->klen)
			: ts_wset_seek_lt(c->txn->ws, c->tree, c->key, c->klen);
		const uint8_t *bk;
		size_t		bkl;
		int			hasb = bt_key(c, &bk, &bkl);

		if (we == NULL && !hasb)
		{
			c->valid = 0;
			return TS_NOTFOUND;
		}
		if (we == NULL || (hasb && ts_keycmp(bk, bkl, we->key, we->klen) * dir < 0))
		{
			memcpy(c->key, bk, bkl);
			c->klen = bkl;
		}
		else
		{
			memcpy(c->key, we->key, we->klen);
			c->klen = we->klen;
		}
	}
	return settle(c, dir);
}

int
ts_cursor_next(ts_cursor *c)
{
	return step(c, 1);
}

int
ts_cursor_prev(ts_cursor *c)
{
	return step(c, -1);
}

int
ts_cursor_get(ts_cursor *c, ts_slice *key, ts_slice *val)
{
	int			rc;

	if ((rc = cursor_ready(c)) != 0)
		return rc;
	if (!c->valid)
		return TS_NOTFOUND;
	if (c->we)
	{
		if (key)
		{
			key->data = c->we->key;
			key->len = c->we->klen;
		}
		if (val)
		{
			val->data = c->we->val;
			val->len = c->we->vlen;
		}
		return 0;
	}
	if (key)
	{
		const uint8_t *k;
		size_t		kl;

		if ((rc = ts_btcur_key(&c->bt, &k, &kl)) != 0)
			return rc;
		key->data = k;
		key->len = kl;
	}
	if (val)
	{
		const uint8_t *v;
		size_t		vl;

		if ((rc = ts_btcur_val(&c->bt, &v, &vl)) != 0)
			return rc;
		val->data = v;
		val->len = vl;
	}
	return 0;
}

/* ---------- internal access for check.c ---------- */

int
ts_env_check(ts_env *env)
{
	ts_txn	   *txn;
	int			rc;
	ts_treeinfo *infos;
	uint8_t    *exists;
	ts_snap    *s;

	if ((rc = ts_txn_begin(env, TS_RDONLY, &txn)) != 0)
		return rc;
	s = txn->snap;
	infos = calloc(s->ntrees, sizeof(ts_treeinfo));
	exists = calloc(s->ntrees, 1);
	if (infos == NULL || exists == NULL)
		rc = ts_error(TS_NOMEM, "out of memory");
	else
	{
		for (uint32_t i = 0; i < s->ntrees; i++)
		{
			infos[i] = s->trees[i].info;
			exists[i] = s->trees[i].name != NULL;
		}
		/* the freelist counts as free only what no older reader pins */
		rc = ts_env_check_snapshot(env, &s->meta, s->ntrees, infos, exists);
	}
	free(infos);
	free(exists);
	ts_txn_abort(txn);
	return rc;
}

ts_pager *
ts_env_pager(ts_env *env)
{
	return env->pager;
}
