/*-------------------------------------------------------------------------
 *
 * shared.c
 *	  Readers in other processes: the shared region.
 *
 * DESIGN
 *	  One process writes an environment (ts_env_open with opt.shared); any
 *	  number of others read it (ts_env_attach) without asking the writer
 *	  anything: they read the data file themselves, on a snapshot the
 *	  writer published here, registered in a slot of the reader table.  The
 *	  caller provides the memory (ts_shared_size, ts_shared_init: in
 *	  PostgreSQL, shared memory allocated at server start), mapped at any
 *	  address in every process; it holds no pointers.
 *
 *	  - The published snapshot: the meta of the newest durable commit
 *	    (seqlock-protected words), its txnid (pub_txnid), and the writer's
 *	    generation (bumped at every ts_env_open).
 *	  - The reader table: one slot per reading process (its pid, and the
 *	    oldest snapshot txnid it reads, 0 for none).
 *	  - The ring: the page numbers the writer has (re)written, so that a
 *	    reader drops its cached copy of a page before a snapshot that may
 *	    reach the page's new contents.
 *
 * INVARIANTS
 *	  1. Pages reachable from a published snapshot are in the data file
 *	     before it is published: with opt.shared the writer writes a
 *	     commit's pages at commit (no sync; the OS page cache makes them
 *	     visible, the log makes them durable), and publishes after its log
 *	     flush (commit.c).
 *	  2. A page reachable from a snapshot S that a reader registered is not
 *	     rewritten while S stays registered: the writer's reuse horizon is
 *	     the oldest snapshot of its own transactions and of every slot
 *	     (txn.c, ts_env_oldest).  Registration (ts_shared_snapshot): store
 *	     the slot, then re-read pub_txnid; if it moved, store again.  The
 *	     writer stores pub_txnid, then (for a later commit) reads the slots,
 *	     all sequentially consistent, so either the writer sees the slot, or
 *	     the reader sees the newer snapshot and registers that one instead;
 *	     and no horizon ever passes the snapshot published when it was taken.
 *	     A slot value protects every snapshot at or after it.
 *	  3. A reader's cached page is never older than the page its snapshot
 *	     reaches: pages are added to the ring before the snapshot that can
 *	     reach their new contents is published, and a reader applies the ring
 *	     after reading the published snapshot, before reading pages.  A ring
 *	     that wrapped past a reader's position drops its whole cache; so does
 *	     a new generation.
 *	  4. A writer that opens withdraws the published snapshot first, and
 *	     replays its log only once no reader holds a snapshot newer than the
 *	     checkpoint it starts from (txn.c, ts_env_open): replay may rewrite
 *	     the pages of those snapshots.  Older ones stay protected by 2.
 *	  5. A reader that may write through the writer later in the same
 *	     transaction (PostgreSQL: a READ COMMITTED transaction that read
 *	     here first) sets its slot's conflict base while its first snapshot
 *	     is registered; the writer keeps the conflict entries of every commit
 *	     after the oldest base or snapshot of any slot (txn.c, CONFLICTS), so
 *	     that ts_txn_rebase can check a write transaction from that base.
 *	  6. A dead reader's slot (its pid gone: kill(pid, 0) fails with ESRCH)
 *	     is freed by the writer (ts_shared_reap: at open and from the
 *	     background thread); in PostgreSQL a backend that dies abnormally
 *	     restarts every process anyway.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "shared.h"
#include "treestore.h"

#define SHARED_MAGIC	0x5453534852454431ull	/* "TSSHRED1" */
#define RING_SIZE		65536	/* page numbers; a power of two */
#define META_WORDS		16

typedef struct slot
{
	_Atomic int32_t pid;		/* 0: free */
	_Atomic uint64_t txnid;		/* oldest snapshot it reads; 0: none */
	_Atomic uint64_t base;		/* conflict base of a transaction it may write
								 * through the writer (ts_env_set_base); 0: none */
	uint8_t		pad[40];		/* a cache line each */
} slot;

struct ts_shared
{
	uint64_t	magic;
	uint32_t	max_readers;
	_Atomic int32_t writer_pid;
	_Atomic uint64_t generation;
	_Atomic uint64_t pub_txnid; /* 0: nothing published */
	_Atomic uint64_t pub_seq;	/* odd while pub_meta changes */
	_Atomic uint64_t pub_meta[META_WORDS];
	_Atomic uint64_t ring_reserved; /* page numbers being added (>= ring_head) */
	_Atomic uint64_t ring_head; /* page numbers added so far */
	_Atomic uint64_t ring[RING_SIZE];
	slot		slots[];
};

size_t
ts_shared_size(uint32_t max_readers)
{
	return sizeof(ts_shared) + (size_t) max_readers * sizeof(slot);
}

int
ts_shared_init(void *mem, size_t size, uint32_t max_readers)
{
	ts_shared  *sh = mem;

	if (mem == NULL || max_readers == 0 || size < ts_shared_size(max_readers))
		return ts_error(TS_INVALID, "ts_shared_init needs %zu bytes for %u readers",
						ts_shared_size(max_readers), max_readers);
	memset(mem, 0, ts_shared_size(max_readers));
	sh->max_readers = max_readers;
	sh->magic = SHARED_MAGIC;
	return 0;
}

int
ts_shared_check(void *mem, ts_shared **out)
{
	ts_shared  *sh = mem;

	if (sh == NULL || sh->magic != SHARED_MAGIC)
		return ts_error(TS_INVALID, "the shared region was not initialized by ts_shared_init");
	*out = sh;
	return 0;
}

/* ---------- the published snapshot ---------- */

static void
meta_pack(const ts_meta *m, uint64_t *w)
{
	w[0] = m->txnid;
	w[1] = m->cat_root;
	w[2] = ((uint64_t) m->cat_depth << 32) | m->next_tree;
	w[3] = m->cat_entries;
	w[4] = m->fl_root;
	w[5] = m->fl_depth;
	w[6] = m->fl_entries;
	w[7] = m->page_count;
	w[8] = m->free_count;
	w[9] = m->ckpt_lsn;
	w[10] = m->wal_start;
	w[11] = m->next_xid;
	w[12] = m->ckpt_seq;
	w[13] = m->stamp_from;
	w[14] = 0;
	w[15] = 0;
}

static void
meta_unpack(const uint64_t *w, ts_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->txnid = w[0];
	m->cat_root = w[1];
	m->cat_depth = (uint32_t) (w[2] >> 32);
	m->next_tree = (uint32_t) w[2];
	m->cat_entries = w[3];
	m->fl_root = w[4];
	m->fl_depth = (uint32_t) w[5];
	m->fl_entries = w[6];
	m->page_count = w[7];
	m->free_count = w[8];
	m->ckpt_lsn = w[9];
	m->wal_start = w[10];
	m->next_xid = w[11];
	m->ckpt_seq = w[12];
	m->stamp_from = w[13];
}

uint64_t
ts_shared_withdraw(ts_shared *sh)
{
	atomic_store(&sh->pub_txnid, 0);
	atomic_store(&sh->writer_pid, (int32_t) getpid());
	return atomic_fetch_add(&sh->generation, 1) + 1;
}

void
ts_shared_publish(ts_shared *sh, const ts_meta *m)
{
	uint64_t	w[META_WORDS];
	uint64_t	seq = atomic_load_explicit(&sh->pub_seq, memory_order_relaxed);

	/* a seqlock, every access sequentially consistent (no fences: TSan) */
	meta_pack(m, w);
	atomic_store(&sh->pub_seq, seq + 1);
	for (int i = 0; i < META_WORDS; i++)
		atomic_store(&sh->pub_meta[i], w[i]);
	atomic_store(&sh->pub_seq, seq + 2);
	atomic_store(&sh->pub_txnid, m->txnid);	/* seq_cst: invariant 2 */
}

static void
meta_read(ts_shared *sh, ts_meta *m)
{
	uint64_t	w[META_WORDS];
	uint64_t	s1,
				s2;

	for (;;)
	{
		s1 = atomic_load(&sh->pub_seq);
		if (s1 & 1)
			continue;
		for (int i = 0; i < META_WORDS; i++)
			w[i] = atomic_load(&sh->pub_meta[i]);
		s2 = atomic_load(&sh->pub_seq);
		if (s1 == s2)
			break;
	}
	meta_unpack(w, m);
}

/* ---------- the reader table ---------- */

static int
alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

int
ts_shared_claim(ts_shared *sh)
{
	int32_t		me = (int32_t) getpid();

	for (int pass = 0; pass < 2; pass++)
	{
		for (uint32_t i = 0; i < sh->max_readers; i++)
		{
			int32_t		free_pid = 0;

			if (atomic_load(&sh->slots[i].pid) == 0 &&
				atomic_compare_exchange_strong(&sh->slots[i].pid, &free_pid, me))
			{
				atomic_store(&sh->slots[i].txnid, 0);
				atomic_store(&sh->slots[i].base, 0);
				return (int) i;
			}
		}
		if (pass == 0 && ts_shared_reap(sh) == 0)
			break;
	}
	return ts_error(TS_BUSY, "every one of the %u reader slots is taken", sh->max_readers);
}

void
ts_shared_release(ts_shared *sh, int i)
{
	if (i < 0 || (uint32_t) i >= sh->max_readers)
		return;
	atomic_store(&sh->slots[i].txnid, 0);
	atomic_store(&sh->slots[i].base, 0);
	atomic_store(&sh->slots[i].pid, 0);
}

int
ts_shared_reap(ts_shared *sh)
{
	int			n = 0;

	for (uint32_t i = 0; i < sh->max_readers; i++)
	{
		int32_t		pid = atomic_load(&sh->slots[i].pid);

		if (pid != 0 && !alive(pid))
		{
			/* clear the snapshot first: the slot may be claimed at once */
			atomic_store(&sh->slots[i].txnid, 0);
			atomic_store(&sh->slots[i].base, 0);
			if (atomic_compare_exchange_strong(&sh->slots[i].pid, &pid, 0))
				n++;
		}
	}
	return n;
}

uint64_t
ts_shared_count(ts_shared *sh)
{
	uint64_t	n = 0;

	for (uint32_t i = 0; i < sh->max_readers; i++)
		n += atomic_load(&sh->slots[i].pid) != 0;
	return n;
}

uint64_t
ts_shared_oldest_reader(ts_shared *sh)
{
	uint64_t	oldest = UINT64_MAX;

	for (uint32_t i = 0; i < sh->max_readers; i++)
	{
		uint64_t	t = atomic_load(&sh->slots[i].txnid);

		if (t != 0 && t < oldest)
			oldest = t;
	}
	return oldest;
}

uint64_t
ts_shared_oldest_base(ts_shared *sh)
{
	uint64_t	oldest = UINT64_MAX;

	for (uint32_t i = 0; i < sh->max_readers; i++)
	{
		/* the snapshot too: a base is set while its snapshot is registered */
		uint64_t	t = atomic_load(&sh->slots[i].txnid);
		uint64_t	b = atomic_load(&sh->slots[i].base);

		if (t != 0 && t < oldest)
			oldest = t;
		if (b != 0 && b < oldest)
			oldest = b;
	}
	return oldest;
}

void
ts_shared_set_base(ts_shared *sh, int i, uint64_t base)
{
	atomic_store(&sh->slots[i].base, base);
}

uint64_t
ts_shared_newest_reader(ts_shared *sh)
{
	uint64_t	newest = 0;

	for (uint32_t i = 0; i < sh->max_readers; i++)
	{
		uint64_t	t = atomic_load(&sh->slots[i].txnid);

		if (t > newest)
			newest = t;
	}
	return newest;
}

int
ts_shared_snapshot(ts_shared *sh, int i, uint64_t held, ts_meta *m, uint64_t *gen)
{
	slot	   *s = &sh->slots[i];
	uint64_t	t;

retry:
	t = atomic_load(&sh->pub_txnid);
	for (;;)
	{
		uint64_t	again;

		if (t == 0)
		{
			if (held == 0)
				atomic_store(&s->txnid, 0);
			return ts_error(TS_BUSY, "no snapshot is published: the writer is not running or is opening");
		}
		if (held == 0 || held > t)
			atomic_store(&s->txnid, t);
		again = atomic_load(&sh->pub_txnid);
		if (again == t)
			break;
		t = again;
	}
	*gen = atomic_load(&sh->generation);
	meta_read(sh, m);
	/* a new writer withdrew and republished meanwhile: start over */
	if (m->txnid < t || atomic_load(&sh->generation) != *gen ||
		atomic_load(&sh->pub_txnid) == 0)
		goto retry;
	return 0;
}

void
ts_shared_hold(ts_shared *sh, int i, uint64_t txnid)
{
	atomic_store(&sh->slots[i].txnid, txnid);
}

/* ---------- the ring of rewritten pages ---------- */

void
ts_shared_rewritten(ts_shared *sh, const uint64_t *pgnos, size_t n)
{
	uint64_t	head = atomic_load_explicit(&sh->ring_head, memory_order_relaxed);

	/* announce the slots about to be overwritten before overwriting them */
	atomic_store(&sh->ring_reserved, head + n);
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&sh->ring[(head + i) & (RING_SIZE - 1)], pgnos[i],
							  memory_order_relaxed);
	atomic_store_explicit(&sh->ring_head, head + n, memory_order_release);
}

uint64_t
ts_shared_ring_head(ts_shared *sh)
{
	return atomic_load_explicit(&sh->ring_head, memory_order_acquire);
}

int
ts_shared_ring_scan(ts_shared *sh, uint64_t *pos, void (*forget) (void *arg, uint64_t pgno),
					void *arg)
{
	uint64_t	head = atomic_load_explicit(&sh->ring_head, memory_order_acquire);
	uint64_t	from = *pos;

	if (head - from > RING_SIZE)
	{
		*pos = head;
		return 1;
	}
	for (uint64_t p = from; p < head; p++)
		forget(arg, atomic_load_explicit(&sh->ring[p & (RING_SIZE - 1)], memory_order_relaxed));

	/* entries read may have been overwritten meanwhile: then trust none */
	if (atomic_load(&sh->ring_reserved) - from > RING_SIZE)
	{
		*pos = head;
		return 1;
	}
	*pos = head;
	return 0;
}
