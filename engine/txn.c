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
 *	  The page reuse horizon (ts_env_oldest) sees live transactions only, so
 *	  whatever reads pages of a snapshot does so as a registered reader (a
 *	  transaction in env->txns), ts_env_stat's freelist walk included; a bare
 *	  reference (refs) keeps the ts_snap in memory, not its pages.
 *
 * STATEMENT SNAPSHOTS (ts_txn_renew, for READ COMMITTED)
 *	  A transaction has two snapshot txnids: `snap`, what it reads, and
 *	  `base`, the snapshot it began with.  ts_txn_renew moves `snap` to the
 *	  newest published state and drops the reference to the old one (its
 *	  pages become reusable once no one else reads it: ts_env_oldest, the
 *	  page reuse horizon, looks at `snap`).  `base` never moves: the
 *	  conflict check and the pruning of the conflict table (below) use it,
 *	  so a key committed by another transaction after `base` and written by
 *	  this one is still a conflict, whatever it read.  Open cursors are
 *	  re-read on the new snapshot at their current key (cursor.c).
 *
 * SAVEPOINTS (ts_txn_savepoint, ts_txn_rollback_to, ts_txn_release)
 *	  A mark is a write-set mark (writeset.c, SAVEPOINTS) whose tag is the
 *	  number of trees the transaction had created; rollback restores the
 *	  write set and forgets the trees created since (their ids are not
 *	  reused, as with an aborted transaction's).  Open cursors stay at their
 *	  current key and see the restored writes (cursor.c).  Conflicts and
 *	  commit only ever look at the write set, so a rolled-back write is
 *	  neither checked, logged nor applied.
 *
 * COMMIT (commit.c: batches of commits, one batch at a time, under
 * commit_lock)
 *	  1. Conflict check against the conflict table (below) and the batch's
 *	     earlier members, and the reuse horizon: the oldest snapshot of any
 *	     live transaction, or of any reader in another process (shared.c).
 *	  2. Apply the write sets in (tree, key) order to the newest trees,
 *	     copy-on-write; update the catalog entries of the trees changed.
 *	  3. Save the freelist (freed pages + pool leftovers).
 *	  4. Log each transaction's writes and COMMIT record; write the log and
 *	     fdatasync it, once for the batch (with sync off, no fdatasync).
 *	     Pages reach the data file at checkpoints (and, with readers in
 *	     other processes, at commit: apply_n writes them through).
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
 *	  (no later writer can conflict with a commit its snapshot includes), and
 *	  always when readers in other processes may write later (their conflict
 *	  bases: shared.c, 5; ts_txn_rebase); they are pruned once older than
 *	  every open writer's snapshot and every such reader's base (an older
 *	  entry conflicts with nothing; with no writer or reader, every entry
 *	  not reserved by a prepared transaction goes).  "Snapshot" here is always the
 *	  conflict base (txn->base, the snapshot it began with), which
 *	  ts_txn_renew does not move.
 *
 *	  Bounds.  Pruning walks the table at a transaction end only once the
 *	  entry count reaches ctab_prune_at: at least a quarter of the bucket
 *	  array's size more entries than the last walk left (so a walk costs
 *	  O(1) per entry recorded since), and at most ctab_limit.  A walk that
 *	  leaves ctab_limit entries or more (a long-lived writer keeps them
 *	  all young) folds every entry not reserved by a prepared transaction
 *	  into the summary: TS_CTAB_SUMMARY slots, each the newest txnid of the
 *	  keys hashing to it.  The conflict check consults the summary as well:
 *	  a key whose slot is newer than the snapshot conflicts (false
 *	  conflicts are possible for writers that old, never missed ones).  The
 *	  summary is emptied once every open writer's snapshot is at least its
 *	  newest txnid.  Memory: ctab_limit entries, prepared write sets, and
 *	  the fixed summary; an empty table gives its bucket array back.
 *
 *	  A commit is applied and recorded under the locks but published (made
 *	  the snapshot new transactions read) only after its log flush
 *	  (commit.c), so a writer beginning in between reads a snapshot without
 *	  it.  A commit that skipped recording (it was the only writer) leaves
 *	  its txnid in txn->unrecorded until it is published; a writer that
 *	  begins meanwhile records that transaction's keys first (its write set
 *	  lives until ts_txn_end, after the publication).  Without this, such a
 *	  writer could overwrite the commit's keys without a conflict: a lost
 *	  update.
 *
 *	  Cursors are in cursor.c.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "shared.h"
#include "txn.h"

#define TS_CAT_VALLEN 24			/* id u32, depth u32, root u64, entries u64 */

/* ---------- snapshots ---------- */

void
ts_snap_free(ts_snap *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->ntrees; i++)
		free(s->trees[i].name);
	free(s->trees);
	free(s);
}

/* Drop a reference; caller holds env->lock. */
void
ts_snap_unref(ts_snap *s)
{
	if (--s->refs == 0)
		ts_snap_free(s);
}

int
ts_snap_copy(const ts_snap *src, uint32_t ntrees, ts_snap **out)
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
			ts_snap_free(s);
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

void
ts_cat_encode(uint8_t *v, uint32_t id, const ts_treeinfo *t)
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
		if (vl != TS_CAT_VALLEN || kl > TS_MAX_TREE_NAME)
		{
			rc = ts_error(TS_CORRUPT, "%s: catalog entry of %zu bytes", ts_pager_path(pg), vl);
			break;
		}
		cat_decode(v, &id, &ti);
		if (id == 0 || id >= s->ntrees || s->trees[id].name != NULL ||
			ti.root >= m->page_count || ti.depth > TS_MAX_DEPTH || (ti.root == 0) != (ti.depth == 0))
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
		ts_snap_free(s);
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
	opt->wal_segment_size = (uint64_t) 100 << 20;
	opt->wal_keep_segments = 3;
	opt->checkpoint_wal_bytes = (uint64_t) 256 << 20;
	opt->checkpoint_interval_ms = 600000;
	opt->async_flush_ms = 200;
}

static void
env_free(ts_env *env)
{
	if (env->attached && env->slot >= 0)
		ts_shared_release(env->shared, env->slot);
	if (env->head)
		ts_snap_unref(env->head);
	if (env->current)
		ts_snap_unref(env->current);
	if (env->wal)
		ts_wal_close(env->wal);
	ts_pager_close(env->pager);
	ts_u64vec_free(&env->ckpt_dirty);
	pthread_mutex_destroy(&env->lock);
	pthread_mutex_destroy(&env->commit_lock);
	ts_commit_fini(env);
	pthread_cond_destroy(&env->bg_cond);
	free(env->dir);
	free(env);
}

static int	open_shared(ts_env *env, const ts_meta *ckpt);

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
	env->read_only = (opt->flags & TS_RDONLY) != 0;
	if (env->read_only && (opt->flags & TS_CREATE))
	{
		free(env->dir);
		free(env);
		return ts_error(TS_INVALID, "TS_RDONLY and TS_CREATE do not go together");
	}
	if (env->opt.wal_segment_size == 0)
		env->opt.wal_segment_size = (uint64_t) 100 << 20;
	if (env->opt.wal_keep_segments < 1)
		env->opt.wal_keep_segments = 1;
	env->dirty_limit_set = env->opt.max_dirty_pages != 0;
	if (env->opt.max_dirty_pages == 0)
		env->opt.max_dirty_pages = env->opt.cache_pages / 2 > 1024 ? env->opt.cache_pages / 2 : 1024;
	if (env->opt.async_flush_ms == 0)
		env->opt.async_flush_ms = 200;
	env->vfs = opt->vfs ? opt->vfs : ts_vfs_posix();
	pthread_mutex_init(&env->lock, NULL);
	pthread_mutex_init(&env->commit_lock, NULL);
	ts_commit_init(env);
	pthread_cond_init(&env->bg_cond, NULL);
	rc = ts_pager_open(env->vfs, path, opt->cache_pages, (opt->flags & TS_CREATE) != 0,
					   env->read_only,
					   &env->pager, &meta);
	if (rc == 0)
		rc = snap_load(env->pager, &meta, &env->current);
	if (rc != 0)
	{
		env_free(env);
		return rc;
	}
	if (opt->shared != NULL && (rc = open_shared(env, &meta)) != 0)
	{
		env_free(env);
		return rc;
	}
	env->head = env->current;
	env->current->refs++;
	env->head_lsn = meta.ckpt_lsn;
	env->ckpt_txnid = meta.txnid;
	env->ckpt_lsn = meta.ckpt_lsn;
	env->ckpt_start = meta.wal_start;
	env->ckpt_seq = meta.ckpt_seq;
	atomic_store(&env->next_tree, meta.next_tree > 0 ? meta.next_tree : 1);
	atomic_store(&env->next_xid, meta.next_xid > 0 ? meta.next_xid : 1);
	if ((rc = ts_recover(env)) != 0 || (!env->read_only && (rc = ts_commit_start(env)) != 0))
	{
		/* recovered prepared transactions, if any, go with it */
		while (env->txns)
			ts_txn_end(env->txns);
		env_free(env);
		return rc;
	}
	if (env->shared)
	{
		pthread_mutex_lock(&env->lock);
		/* nothing is known of conflicts before the open (ts_txn_rebase) */
		env->ctab_pruned_to = env->current->meta.txnid;
		ts_shared_publish(env->shared, &env->current->meta);
		pthread_mutex_unlock(&env->lock);
	}
	*out = env;
	return 0;
}

/*
 * ts_env_open with readers in other processes: withdraw the published
 * snapshot, then wait until no reader holds a snapshot newer than the
 * checkpoint we start from (shared.c, invariant 4): replaying the log may
 * rewrite its pages.  From then on every page written goes to the ring.
 */
static int
open_shared(ts_env *env, const ts_meta *ckpt)
{
	uint32_t	wait_ms = env->opt.open_wait_ms ? env->opt.open_wait_ms : 5000;
	uint64_t	newest;
	int			rc;

	if (env->read_only)
		return ts_error(TS_INVALID, "a read-only environment cannot serve readers in other processes");
	if ((rc = ts_shared_check(env->opt.shared, &env->shared)) != 0)
		return rc;
	(void) ts_shared_withdraw(env->shared);
	for (uint32_t waited = 0;; waited++)
	{
		(void) ts_shared_reap(env->shared);
		newest = ts_shared_newest_reader(env->shared);
		if (newest <= ckpt->txnid)
			break;
		if (waited >= wait_ms)
			return ts_error(TS_BUSY, "a process still reads snapshot %llu of %s, newer than its "
							"checkpoint (%llu), which recovery may rewrite",
							(unsigned long long) newest, env->dir,
							(unsigned long long) ckpt->txnid);
		{
			struct timespec ms = {0, 1000000L};

			nanosleep(&ms, NULL);
		}
	}
	ts_pager_set_shared(env->pager, env->shared);
	return 0;
}

/* ---------- readers in other processes (shared.c) ---------- */

static void
forget_page(void *arg, uint64_t pgno)
{
	ts_pager_forget(arg, pgno);
}

/* Oldest snapshot the environment's transactions read (0: none).  Caller
 * holds env->lock. */
static uint64_t
oldest_held(ts_env *env)
{
	uint64_t	oldest = 0;

	for (ts_txn *t = env->txns; t; t = t->next)
		if (oldest == 0 || t->snap->meta.txnid < oldest)
			oldest = t->snap->meta.txnid;
	return oldest;
}

/*
 * An attached environment: register the newest published snapshot, drop
 * the cached pages rewritten since the last one (or all of them: a new
 * writer, a ring that wrapped), and make it env->current.
 */
static int
attach_refresh(ts_env *env)
{
	ts_meta		m;
	uint64_t	gen;
	ts_snap    *ns;
	int			rc;

	/* caller holds env->lock, and links its transaction before releasing it */
	rc = ts_shared_snapshot(env->shared, env->slot, oldest_held(env), &m, &gen);
	if (rc == 0)
	{
		if (gen != env->gen)
		{
			ts_pager_forget_all(env->pager);
			env->ring_pos = ts_shared_ring_head(env->shared);
		}
		else if (ts_shared_ring_scan(env->shared, &env->ring_pos, forget_page, env->pager) != 0)
			ts_pager_forget_all(env->pager);
		if (gen != env->gen || m.txnid != env->current->meta.txnid)
		{
			ts_pager_set_stamp_from(env->pager, m.stamp_from);
			rc = snap_load(env->pager, &m, &ns);
			if (rc == 0)
			{
				ts_snap_unref(env->current);
				env->current = ns;
				env->gen = gen;
			}
		}
	}
	if (rc != 0)
		ts_shared_hold(env->shared, env->slot, oldest_held(env));
	return rc;
}

int
ts_env_attach(const char *path, const ts_options *opt, ts_env **out)
{
	ts_env	   *env;
	ts_shared  *sh;
	int			rc;

	*out = NULL;
	ts_error_clear();
	if (path == NULL || opt == NULL)
		return ts_error(TS_INVALID, "ts_env_attach needs a path and options");
	if ((rc = ts_shared_check(opt->shared, &sh)) != 0)
		return rc;
	env = calloc(1, sizeof(*env));
	if (env == NULL || (env->dir = strdup(path)) == NULL ||
		(env->current = calloc(1, sizeof(ts_snap))) == NULL ||
		(env->current->trees = calloc(1, sizeof(tdesc))) == NULL)
	{
		if (env)
		{
			if (env->current)
				free(env->current);
			free(env->dir);
		}
		free(env);
		return ts_error(TS_NOMEM, "out of memory");
	}
	env->current->refs = 1;
	env->current->ntrees = 1;
	env->opt = *opt;
	env->read_only = 1;
	env->attached = 1;
	env->shared = sh;
	env->slot = -1;
	env->vfs = opt->vfs ? opt->vfs : ts_vfs_posix();
	pthread_mutex_init(&env->lock, NULL);
	pthread_mutex_init(&env->commit_lock, NULL);
	ts_commit_init(env);
	pthread_cond_init(&env->bg_cond, NULL);
	rc = ts_pager_attach(env->vfs, path, opt->cache_pages, &env->pager);
	if (rc == 0 && (env->slot = ts_shared_claim(sh)) < 0)
		rc = env->slot;
	if (rc != 0)
	{
		env_free(env);
		return rc;
	}
	env->ring_pos = ts_shared_ring_head(sh);
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
	ts_commit_stop(env);
	for (ts_txn *t = env->txns; t; t = t->next)
		if (!t->recovered)
			rc = ts_error(TS_BAD_TXN, "environment closed with transactions still open");
	/* a clean shutdown ends with a checkpoint, so the next open replays nothing */
	if (rc == 0 && !env->poisoned && !env->read_only)
	{
		pthread_mutex_lock(&env->commit_lock);
		rc = ts_checkpoint_locked(env);
		pthread_mutex_unlock(&env->commit_lock);
	}
	/* in-doubt transactions stay prepared in the log */
	while (env->txns)
		ts_txn_end(env->txns);
	ctab_clear(env, 0);
	free(env->ctab);
	free(env->ctab_summary);
	env_free(env);
	return rc;
}

/*
 * Oldest snapshot txnid of any live transaction (the snapshot it reads: a
 * renewed transaction no longer pins its begin snapshot's pages); the page
 * reuse horizon.  Caller holds env->lock.
 */
uint64_t
ts_env_oldest(ts_env *env)
{
	uint64_t	oldest = env->current->meta.txnid;

	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->snap->meta.txnid < oldest)
			oldest = t->snap->meta.txnid;
	if (env->shared && !env->attached)
	{
		/* after reading current (shared.c, invariant 2) */
		uint64_t	r = ts_shared_oldest_reader(env->shared);

		if (r < oldest)
			oldest = r;
	}
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
int
ts_conflicts_check(ts_env *env, ts_txn *txn)
{
	uint64_t	snap = txn->base;	/* not the renewed read snapshot */

	for (int i = 0; i < txn->ncreated; i++)
	{
		ts_snap    *cur = env->current;

		for (uint32_t id = 1; id < cur->ntrees; id++)
			if (cur->trees[id].name && strcmp(cur->trees[id].name, txn->created[i].name) == 0)
				return ts_error(TS_CONFLICT, "tree \"%s\" was created by a transaction that committed first",
								txn->created[i].name);
	}
	if (env->ctab_count == 0 && env->ctab_summary_max <= snap)
		return 0;
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		uint64_t	h = key_hash(e->tree, e->key, e->klen);
		centry	   *c = ctab_find(env, e->tree, e->key, e->klen, h);

		if (c && (c->txnid > snap || (c->prepared && c->prepared != txn)))
			return ts_error(TS_CONFLICT, "a key of tree %u was written by a transaction that %s first",
							e->tree, c->prepared && c->prepared != txn ? "prepared" : "committed");
		if (env->ctab_summary_max > snap && env->ctab_summary[h & (TS_CTAB_SUMMARY - 1)] > snap)
			return ts_error(TS_CONFLICT, "a key of tree %u may have been written by a transaction "
							"that committed first (the conflict table overflowed while this "
							"transaction was open)", e->tree);
	}
	return 0;
}

/*
 * Record txn's keys: as reserved by it (prepare), or as written by commit
 * `txnid`.  Caller holds env->lock.
 */
int
ts_conflicts_record(ts_env *env, ts_txn *txn, int prepare, uint64_t txnid)
{
	if (!prepare && txn->state != TXN_PREPARED && env->nwriters <= 1 &&
		!(env->shared && !env->attached))	/* readers elsewhere may write later */
	{
		/*
		 * No other writer now.  One that begins before this commit is
		 * published would not see it: ts_txn_begin records the keys then.
		 */
		if (txn->unrecorded == 0)
			env->unrecorded++;
		txn->unrecorded = txnid;
		return 0;
	}
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		centry	   *c;

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
void
ts_conflicts_release(ts_env *env, ts_txn *txn)
{
	for (const ts_wentry *e = ts_wset_begin(txn->ws); e; e = ts_wset_next(txn->ws, e))
	{
		centry	   *c = ctab_find(env, e->tree, e->key, e->klen, key_hash(e->tree, e->key, e->klen));

		if (c && c->prepared == txn)
			c->prepared = NULL;
	}
}

/*
 * Drop entries no open writer can conflict with, fold the rest into the
 * summary above the limit (CONFLICTS, Bounds).  Caller holds env->lock.
 */
static void
prune_conflicts(ts_env *env)
{
	uint64_t	horizon = UINT64_MAX;
	int			walk = env->ctab_count > 0 && env->ctab_count >= env->ctab_prune_at;
	size_t		limit = env->ctab_limit ? env->ctab_limit : TS_CTAB_LIMIT;
	size_t		at;

	if (!walk && env->ctab_summary_max == 0)
		return;
	for (ts_txn *t = env->txns; t; t = t->next)
		if (t->ws && t->base < horizon)	/* its conflict base, not its read snapshot */
			horizon = t->base;
	if (env->shared && !env->attached)
	{
		/* readers in other processes that may write later (shared.c, 5) */
		uint64_t	b = ts_shared_oldest_base(env->shared);

		if (b < horizon)
			horizon = b;
	}
	if (env->ctab_summary_max != 0 && env->ctab_summary_max <= horizon)
	{
		/* every open writer began after all of it (or none is open) */
		memset(env->ctab_summary, 0, TS_CTAB_SUMMARY * sizeof(uint64_t));
		env->ctab_summary_max = 0;
	}
	if (!walk)
		return;
	for (size_t b = 0; b < env->ctab_size; b++)
	{
		centry	  **pp = &env->ctab[b];

		env->ctab_visits++;
		while (*pp)
		{
			centry	   *e = *pp;

			env->ctab_visits++;
			if (!e->prepared && e->txnid <= horizon)
			{
				if (e->txnid > env->ctab_pruned_to)
					env->ctab_pruned_to = e->txnid;
				*pp = e->next;
				free(e);
				env->ctab_count--;
			}
			else
				pp = &e->next;
		}
	}
	if (env->ctab_count >= limit && env->ctab_summary == NULL)
		env->ctab_summary = calloc(TS_CTAB_SUMMARY, sizeof(uint64_t));
	if (env->ctab_count >= limit && env->ctab_summary != NULL)
	{
		for (size_t b = 0; b < env->ctab_size; b++)
		{
			centry	  **pp = &env->ctab[b];

			while (*pp)
			{
				centry	   *e = *pp;
				uint64_t   *slot = &env->ctab_summary[e->hash & (TS_CTAB_SUMMARY - 1)];

				env->ctab_visits++;
				if (e->prepared)
				{
					pp = &e->next;
					continue;
				}
				if (e->txnid > *slot)
					*slot = e->txnid;	/* still checked, against the summary */
				if (e->txnid > env->ctab_summary_max)
					env->ctab_summary_max = e->txnid;
				*pp = e->next;
				free(e);
				env->ctab_count--;
			}
		}
	}
	if (env->ctab_count == 0 && env->ctab_size > 1024)
	{
		/* give a large bucket array back; ctab_get makes a small one */
		free(env->ctab);
		env->ctab = NULL;
		env->ctab_size = 0;
	}
	/* the next walk: after O(size) more entries, and never above the limit */
	at = env->ctab_size / 2 > 2 * env->ctab_count ? env->ctab_size / 2 : 2 * env->ctab_count;
	if (at < env->ctab_count + env->ctab_size / 4)
		at = env->ctab_count + env->ctab_size / 4;
	if (at < 256)
		at = 256;
	if (at > limit && limit > env->ctab_count)
		at = limit;
	env->ctab_prune_at = at;
}

/*
 * A writer begins reading snapshot `snap`: record the keys of the commits
 * that skipped recording and are not in it (applied, not yet published).
 * Caller holds env->lock.
 */
static int
record_unpublished(ts_env *env, uint64_t snap)
{
	for (ts_txn *t = env->txns; t && env->unrecorded > 0; t = t->next)
	{
		if (t->unrecorded == 0)
			continue;
		if (t->unrecorded > snap)
			for (const ts_wentry *e = ts_wset_begin(t->ws); e; e = ts_wset_next(t->ws, e))
			{
				centry	   *c = ctab_get(env, e->tree, e->key, e->klen);

				if (c == NULL)
					return ts_error(TS_NOMEM, "out of memory");
				if (c->txnid < t->unrecorded)
					c->txnid = t->unrecorded;
			}
		/* recorded, or published: every later snapshot includes it */
		t->unrecorded = 0;
		env->unrecorded--;
	}
	return 0;
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
	if (!(flags & TS_RDONLY) && env->read_only && !env->recovering)
	{
		free(txn);
		return ts_error(TS_BAD_TXN, "the environment in %s is open read-only", env->dir);
	}

	if (!(flags & TS_RDONLY) && (txn->ws = ts_wset_new()) == NULL)
	{
		free(txn);
		return ts_error(TS_NOMEM, "out of memory");
	}
	pthread_mutex_lock(&env->lock);
	if (env->attached)
	{
		int			rc = attach_refresh(env);

		if (rc != 0)
		{
			pthread_mutex_unlock(&env->lock);
			ts_wset_free(txn->ws);
			free(txn);
			return rc;
		}
	}
	if (txn->ws && env->unrecorded > 0)
	{
		int			rc = record_unpublished(env, env->current->meta.txnid);

		if (rc != 0)
		{
			pthread_mutex_unlock(&env->lock);
			ts_wset_free(txn->ws);
			free(txn);
			return rc;
		}
	}
	txn->snap = env->current;
	txn->snap->refs++;
	txn->base = txn->snap->meta.txnid;
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

void
ts_txn_release_value(ts_txn *txn)
{
	if (txn->hold)
	{
		ts_pager_release(txn->env->pager, txn->hold);
		txn->hold = NULL;
	}
	free(txn->ovf);
	txn->ovf = NULL;
}

void
ts_txn_end(ts_txn *txn)
{
	ts_env	   *env = txn->env;

	ts_txn_release_value(txn);
	for (struct ts_cursor *c = txn->cursors; c; c = c->next_in_txn)
	{
		ts_btcur_done(&c->bt);
		c->txn = NULL;
		c->valid = 0;
	}
	pthread_mutex_lock(&env->lock);
	if (txn->state == TXN_PREPARED)
		ts_conflicts_release(env, txn);
	if (txn->unrecorded)
		env->unrecorded--;
	if (txn->prev)
		txn->prev->next = txn->next;
	else
		env->txns = txn->next;
	if (txn->next)
		txn->next->prev = txn->prev;
	if (txn->ws)
		env->nwriters--;
	ts_snap_unref(txn->snap);
	prune_conflicts(env);
	if (env->attached)
		ts_shared_hold(env->shared, env->slot, oldest_held(env));
	pthread_mutex_unlock(&env->lock);
	ts_wset_free(txn->ws);
	for (int i = 0; i < txn->ncreated; i++)
		free(txn->created[i].name);
	free(txn->created);
	free(txn);
}

uint64_t
ts_txn_snapshot(const ts_txn *txn)
{
	return txn->snap->meta.txnid;
}

size_t
ts_txn_write_bytes(const ts_txn *txn)
{
	return txn->ws ? ts_wset_bytes(txn->ws) : 0;
}

int
ts_txn_rebase(ts_txn *txn, uint64_t base)
{
	ts_env	   *env;
	int			rc = 0;

	if (txn == NULL || txn->ws == NULL || txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "only an active write transaction can be rebased");
	env = txn->env;
	pthread_mutex_lock(&env->lock);
	if (base < txn->base)
	{
		if (base < env->ctab_pruned_to)
			rc = ts_error(TS_CONFLICT, "the transaction read snapshot %llu first; the conflict "
						  "table keeps commits after %llu only",
						  (unsigned long long) base, (unsigned long long) env->ctab_pruned_to);
		else
			txn->base = base;
	}
	pthread_mutex_unlock(&env->lock);
	return rc;
}

int
ts_env_set_base(ts_env *env, uint64_t base)
{
	if (env == NULL || !env->attached)
		return ts_error(TS_INVALID, "ts_env_set_base is for an attached environment");
	pthread_mutex_lock(&env->lock);
	if (base != 0 && oldest_held(env) > base)
	{
		pthread_mutex_unlock(&env->lock);
		return ts_error(TS_INVALID, "the conflict base must be a snapshot the process still reads");
	}
	ts_shared_set_base(env->shared, env->slot, base);
	pthread_mutex_unlock(&env->lock);
	return 0;
}

/* ---------- savepoints and statement snapshots ---------- */

static int
check_active_writer(ts_txn *txn, const char *what)
{
	if (txn == NULL)
		return ts_error(TS_INVALID, "%s needs a transaction", what);
	if (txn->ws == NULL)
		return ts_error(TS_BAD_TXN, "%s in a read-only transaction", what);
	if (txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "%s in a prepared transaction", what);
	return 0;
}

int
ts_txn_savepoint(ts_txn *txn, uint64_t *mark)
{
	int			rc;

	if ((rc = check_active_writer(txn, "ts_txn_savepoint")) != 0)
		return rc;
	if (mark == NULL)
		return ts_error(TS_INVALID, "ts_txn_savepoint needs a result");
	/* the tag: how many trees it had created */
	return ts_wset_mark(txn->ws, (uint64_t) txn->ncreated, mark);
}

int
ts_txn_rollback_to(ts_txn *txn, uint64_t mark)
{
	uint64_t	ncreated;
	int			rc;

	if ((rc = check_active_writer(txn, "ts_txn_rollback_to")) != 0)
		return rc;
	ts_txn_release_value(txn);
	if ((rc = ts_wset_rollback(txn->ws, mark, &ncreated)) != 0)
		return rc;
	/* trees created since: forgotten (their ids stay unused, as after an abort) */
	while ((uint64_t) txn->ncreated > ncreated)
		free(txn->created[--txn->ncreated].name);
	return ts_cursors_refresh(txn, 0);
}

int
ts_txn_release(ts_txn *txn, uint64_t mark)
{
	int			rc;

	if ((rc = check_active_writer(txn, "ts_txn_release")) != 0)
		return rc;
	return ts_wset_release(txn->ws, mark);
}

int
ts_txn_renew(ts_txn *txn)
{
	ts_env	   *env;
	ts_snap    *old;
	int			same;

	if (txn == NULL)
		return ts_error(TS_INVALID, "ts_txn_renew needs a transaction");
	if (txn->state != TXN_ACTIVE)
		return ts_error(TS_BAD_TXN, "ts_txn_renew in a prepared transaction");
	env = txn->env;
	ts_txn_release_value(txn);
	pthread_mutex_lock(&env->lock);
	if (env->attached)
	{
		int			rc = attach_refresh(env);

		if (rc != 0)
		{
			pthread_mutex_unlock(&env->lock);
			return rc;
		}
	}
	same = txn->snap == env->current;
	pthread_mutex_unlock(&env->lock);
	if (same)
		return 0;
	/* unpin the cursors' pages while the old snapshot still protects them */
	ts_cursors_detach(txn);
	pthread_mutex_lock(&env->lock);
	old = txn->snap;
	txn->snap = env->current;
	txn->snap->refs++;
	ts_snap_unref(old);			/* its pages may be reused from now on */
	if (env->attached)
		ts_shared_hold(env->shared, env->slot, oldest_held(env));
	pthread_mutex_unlock(&env->lock);
	return ts_cursors_refresh(txn, 1);
}

const ts_treeinfo *
ts_txn_snap_tree(ts_txn *txn, ts_tree id)
{
	if (id < txn->snap->ntrees && txn->snap->trees[id].name)
		return &txn->snap->trees[id].info;
	return NULL;
}

int
ts_txn_tree_valid(ts_txn *txn, ts_tree id)
{
	if (ts_txn_snap_tree(txn, id))
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
	if (atomic_load(&txn->env->next_tree) >= TS_MAX_TREES)
		return ts_error(TS_FULL, "no tree ids left (%u trees have been created)", TS_MAX_TREES);
	nc[txn->ncreated].id = atomic_fetch_add(&txn->env->next_tree, 1);
	*tree = nc[txn->ncreated].id;
	txn->ncreated++;
	return 0;
}

int
ts_tree_stat(ts_txn *txn, ts_tree tree, ts_treestat *st)
{
	const ts_treeinfo *t;

	if (txn == NULL || st == NULL || !ts_txn_tree_valid(txn, tree))
		return ts_error(TS_INVALID, "no tree with id %u", tree);
	t = ts_txn_snap_tree(txn, tree);
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
	ts_txn_release_value(txn);
	if (!ts_txn_tree_valid(txn, tree))
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
	if ((t = ts_txn_snap_tree(txn, tree)) == NULL)
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
	if (!ts_txn_tree_valid(txn, tree))
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
	/*
	 * Before anything is copied or written: a value the log cannot hold
	 * would otherwise fail only at commit, after its overflow pages were
	 * written, and poison the environment.
	 */
	if (vlen > TS_MAX_VALUE)
		return ts_error(TS_VALUE_TOO_BIG, "value of %zu bytes is longer than the limit (%zu bytes)",
						vlen, (size_t) TS_MAX_VALUE);
	if (flags & TS_NOOVERWRITE)
	{
		ts_slice	cur;

		rc = ts_get(txn, tree, key, klen, &cur);
		ts_txn_release_value(txn);
		if (rc == 0)
			return ts_error(TS_EXISTS, "key exists");
		if (rc != TS_NOTFOUND)
			return rc;
	}
	ts_txn_release_value(txn);
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
	ts_txn_release_value(txn);
	if (rc != 0)
		return rc;
	return ts_wset_put(txn->ws, tree, key, klen, NULL, 0);
}

/* ---------- statistics ---------- */

int
ts_env_poisoned(ts_env *env)
{
	return env->poisoned || ts_pager_failed(env->pager);
}

int
ts_env_stat(ts_env *env, ts_stat *st)
{
	uint64_t	frames;
	ts_snap    *snap;
	ts_txn	   *reader;
	int			rc;

	memset(st, 0, sizeof(*st));
	if (env->attached)
	{
		/* a reader: what it knows without reading pages */
		pthread_mutex_lock(&env->lock);
		st->txnid = env->current->meta.txnid;
		st->page_count = env->current->meta.page_count;
		st->free_pages = env->current->meta.free_count;
		st->file_bytes = st->page_count * TS_PAGE_SIZE;
		st->oldest_reader = oldest_held(env);
		for (ts_txn *t = env->txns; t; t = t->next)
			st->active_txns++;
		pthread_mutex_unlock(&env->lock);
		ts_pager_counters(env->pager, &st->cache_hits, &st->cache_misses, &frames);
		st->cache_pages = frames;
		return 0;
	}
	/*
	 * The freelist walk below reads pages of the current snapshot: it
	 * registers as a reader (a live read transaction), so that the page
	 * reuse horizon (ts_env_oldest) keeps those pages from being reused
	 * under it.  A bare reference to the snapshot would not: the horizon
	 * looks only at live transactions.
	 */
	reader = calloc(1, sizeof(*reader));
	if (reader == NULL)
		return ts_error(TS_NOMEM, "out of memory");
	reader->env = env;
	reader->flags = TS_RDONLY;
	reader->state = TXN_ACTIVE;
	pthread_mutex_lock(&env->lock);
	st->txnid = env->current->meta.txnid;
	st->page_count = env->current->meta.page_count;
	st->free_pages = env->current->meta.free_count;
	st->file_bytes = st->page_count * TS_PAGE_SIZE;
	st->oldest_reader = ts_env_oldest(env);
	st->commits = env->commits;
	st->conflicts = env->conflicts;
	st->checkpoints = env->checkpoints;
	st->checkpoint_txnid = env->ckpt_txnid;
	st->checkpoint_lsn = env->ckpt_lsn;
	st->checkpoint_age_ms = ts_checkpoint_age_ms(env);
	st->poisoned = env->poisoned || ts_pager_failed(env->pager);
	if (env->shared)
		st->readers = ts_shared_count(env->shared);
	for (ts_txn *t = env->txns; t; t = t->next)
	{
		st->active_txns++;
		if (t->state == TXN_PREPARED)
			st->prepared++;
	}
	/* register the reader (not counted in active_txns above) */
	snap = env->current;
	snap->refs++;
	reader->snap = snap;
	reader->base = snap->meta.txnid;
	reader->next = env->txns;
	if (env->txns)
		env->txns->prev = reader;
	env->txns = reader;
	pthread_mutex_unlock(&env->lock);
	ts_pager_counters(env->pager, &st->cache_hits, &st->cache_misses, &frames);
	st->cache_pages = frames;

	/* pinned: freelist records of commits newer than the oldest reader */
	rc = 0;
	for (int class = 0; class < 2 && (rc == 0 || rc == TS_NOTFOUND); class++)
	{
		ts_treeinfo fl = {snap->meta.fl_root, snap->meta.fl_depth, snap->meta.fl_entries};
		ts_btcur	c;
		uint8_t		from[13] = {0};
		const uint8_t *k;
		size_t		kl;

		from[0] = (uint8_t) class;
		wr64be(from + 1, st->oldest_reader + 1);
		ts_btcur_init(&c, env->pager, &fl);
		for (rc = ts_btcur_seek(&c, from, sizeof(from)); rc == 0; rc = ts_btcur_next(&c))
		{
			const uint8_t *v;
			size_t		vl;

			if ((rc = ts_btcur_key(&c, &k, &kl)) != 0 || kl < 1 || k[0] != class)
				break;
			if ((rc = ts_btcur_val(&c, &v, &vl)) != 0)
				break;
			st->pinned_pages += vl / 8;
		}
		ts_btcur_done(&c);
	}
	if (env->wal)
	{
		ts_wal_stat ws;

		ts_wal_stat_get(env->wal, &ws);
		st->wal_bytes = ws.bytes;
		st->wal_segments = ws.last_segment >= ws.first_segment ?
			ws.last_segment - ws.first_segment + 1 : 0;
		st->wal_flushes = ws.flushes;
		st->wal_end_lsn = ts_wal_end_lsn(env->wal);
		st->wal_flushed_lsn = ts_wal_flushed_lsn(env->wal);
	}
	st->dirty_pages = ts_pager_dirty_count(env->pager);
	ts_txn_end(reader);			/* drops the snapshot reference */
	return rc == TS_NOTFOUND ? 0 : rc;
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

	if (env->attached)
		return ts_error(TS_INVALID, "ts_env_check needs the writer's environment, not a reader's");
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
