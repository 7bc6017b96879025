/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The TreeStore background worker: owns the engine and serves every
 *	  backend's requests.
 *
 * LIFECYCLE
 *	  Registered from _PG_init; started after PostgreSQL's own recovery
 *	  (BgWorkerStart_RecoveryFinished), so the commit log is final when it
 *	  resolves in-doubt transactions.  STARTING: open the engine (which
 *	  replays its log), create the tables' trees, settle every in-doubt
 *	  transaction whose PostgreSQL transaction has ended; then READY.
 *	  SIGTERM: end the sessions' transactions, checkpoint, close, exit 1
 *	  (restarted after bgw_restart_time unless the server is shutting down).
 *	  Postmaster death: exit at once (the engine's log makes that safe).
 *	  A failure to open the engine is published (TS_WORKER_FAILED, with the
 *	  reason) and the worker exits 1, so the postmaster retries it later.
 *
 * SESSIONS
 *	  A backend creates a DSM segment with two shm_mq (request: backend ->
 *	  worker, response: worker -> backend), publishes its handle in its slot
 *	  and bumps the slot's generation.  The worker attaches when
 *	  channels_changed moves.  A backend that was cancelled mid-request
 *	  makes a new channel (a fresh segment: nothing stale can be read); the
 *	  worker keeps the session's engine transaction if the pid is the same.
 *
 * NEVER BLOCK ON ONE BACKEND
 *	  Every queue operation is non-blocking.  A response that does not fit
 *	  stays pending in the session and is sent as the backend reads; that
 *	  session's next request waits, the others go on.  One request per
 *	  session per round keeps a busy session from starving the rest.  A
 *	  streamed query sends its rows in parts while it reads them; once a
 *	  part does not fit, the rest is kept and follows it.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include "access/transam.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/s_lock.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "local.h"
#include "worker.h"

ts_env	   *ts_worker_env = NULL;
ts_tree		ts_worker_trees[16];
ts_docindex ts_worker_docindex;
int64		ts_worker_next_id[16];
uint64		ts_worker_requests = 0;

static Session *sessions = NULL;
static int	nsessions = 0;
static uint32 seen_changes = 0;
static bool slots_deferred = false; /* a busy session's slot moved */
static MemoryContext jobcxt = NULL;	/* answers of finished jobs */

/* prepared transactions whose backend went away: settled by xid status */
typedef struct Orphan
{
	struct Orphan *next;
	ts_txn	   *txn;
	char		gid[96];
} Orphan;
static Orphan *orphans = NULL;

static volatile sig_atomic_t shutdown_requested = false;

/* how often finished transactions are looked for (and the longest sleep) */
#define REAP_INTERVAL_MS 100
/* a prepared transaction whose backend moved on unresolved becomes an orphan */
#define ORPHAN_AFTER_MS 5000

static void
handle_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shutdown_requested = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
ts_worker_register(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	/* a connection to no database: listed in pg_stat_activity */
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "treestore_fdw");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ts_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "treestore worker");
	snprintf(w.bgw_type, BGW_MAXLEN, "treestore");
	RegisterBackgroundWorker(&w);
}

int
ts_worker_nsessions(void)
{
	int			n = 0;

	for (int i = 0; i < nsessions; i++)
		n += sessions[i].active;
	return n;
}

Size
ts_worker_channel_bytes(void)
{
	Size		n = 0;

	for (int i = 0; i < nsessions; i++)
		n += sessions[i].seg_bytes;
	return n;
}

Size
ts_worker_write_set_bytes(void)
{
	Size		n = 0;

	for (int i = 0; i < nsessions; i++)
		if (sessions[i].active && sessions[i].txn && !sessions[i].busy)
			n += ts_txn_write_bytes(sessions[i].txn);
	for (Orphan *o = orphans; o; o = o->next)
		n += ts_txn_write_bytes(o->txn);
	return n;
}

void
ts_worker_orphan(ts_txn *txn, const char *gid)
{
	Orphan	   *o = MemoryContextAllocZero(TopMemoryContext, sizeof(Orphan));

	o->txn = txn;
	strlcpy(o->gid, gid, sizeof(o->gid));
	o->next = orphans;
	orphans = o;
}

static void
set_state(TsWorkerState state, const char *failure)
{
	SpinLockAcquire(&ts_shared->mutex);
	ts_shared->state = state;
	if (failure)
		strlcpy(ts_shared->failure, failure, sizeof(ts_shared->failure));
	else
		ts_shared->failure[0] = '\0';
	SpinLockRelease(&ts_shared->mutex);
}

/* ---------- opening the engine ---------- */

char *
ts_worker_data_path(void)
{
	if (is_absolute_path(ts_data_directory))
		return pstrdup(ts_data_directory);
	return psprintf("%s/%s", DataDir, ts_data_directory);
}

/* Open failure: publish why, exit 1 (restarted after bgw_restart_time). */
static void
open_failed(const char *what, int rc)
{
	char		msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", what,
			 rc > 0 ? strerror(rc) : ts_last_error());
	set_state(TS_WORKER_FAILED, msg);
	ereport(LOG,
			(errmsg("treestore worker could not start: %s", msg),
			 errhint("The worker retries in 5 seconds.")));
	proc_exit(1);
}

/* Create the contract's trees, find their handles, and the next ids. */
/*
 * After serving a request, look for the next one for up to WORKER_SPIN_USEC
 * before sleeping -- but only while one session alone has been sending
 * requests lately (a client calling one function after another).  Waking a
 * sleeping worker takes a signal and, on an idle CPU, costs about as much as
 * a small request; with several sessions busy the CPU is theirs.
 */
#define WORKER_SPIN_USEC 500
#define WORKER_SPIN_RECENT_USEC 10000

static bool
spin_for_next(TimestampTz last_work)
{
	TimestampTz now = GetCurrentTimestamp();
	int			recent = 0;

	if (now - last_work > WORKER_SPIN_USEC)
		return false;
	for (int i = 0; i < nsessions; i++)
		if (sessions[i].active && now - sessions[i].last_request < WORKER_SPIN_RECENT_USEC &&
			++recent > 1)
			return false;
	return true;
}

/*
 * Is s the only session that sent a request lately, with no job running?
 * Then work that waits for the disk may as well wait on the main loop
 * (worker_ops.c, op_prepare): nobody else is waiting for it.
 */
bool
ts_worker_alone(Session *s)
{
	TimestampTz now = GetCurrentTimestamp();

	if (ts_pool_in_flight() > 0)
		return false;
	for (int i = 0; i < nsessions; i++)
		if (&sessions[i] != s && sessions[i].active &&
			now - sessions[i].last_request < WORKER_SPIN_RECENT_USEC)
			return false;
	return true;
}

static void
open_tables(void)
{
	ts_txn	   *txn;
	int			rc;

	if ((rc = ts_txn_begin(ts_worker_env, 0, &txn)) != 0)
		open_failed("could not begin a transaction", rc);
	for (int i = 0; i < ts_nstores; i++)
		if ((rc = ts_tree_open(txn, ts_stores[i].name, TS_CREATE, &ts_worker_trees[i])) != 0)
		{
			ts_txn_abort(txn);
			open_failed("could not open the tables", rc);
		}
	if ((rc = ts_docindex_open(txn, &ts_worker_docindex)) != 0 ||
		(rc = ts_docindex_rebuild_needed(txn, &ts_worker_docindex)) < 0)
	{
		ts_txn_abort(txn);
		open_failed("could not open the document indexes", rc);
	}
	if (rc == 1)
	{
		uint64		n;

		/* tables written by a build without the indexes */
		ereport(LOG, (errmsg("treestore worker building the document indexes from the tables")));
		if ((rc = ts_docindex_rebuild(txn, &ts_worker_docindex, &n)) != 0)
		{
			ts_txn_abort(txn);
			open_failed("could not build the document indexes", rc);
		}
		if (n > 0)
			ereport(WARNING,
					(errmsg("treestore built the document indexes of %llu nodes without search terms",
							(unsigned long long) n),
					 errdetail("The nodes were written by a build without search; treestore.search does not find them."),
					 errhint("Store the documents again, or UPDATE treestore.nodes SET title = title, to make them searchable.")));
	}
	if ((rc = ts_txn_commit(txn)) != 0)
		open_failed("could not create the tables", rc);
}

/*
 * The next id to assign in each table with an assigned key: one past the
 * largest key.  Read after settle_in_doubt(true): a transaction prepared
 * before a crash and committed by it holds ids past the last committed one
 * (read before, those ids were handed out again: 23505 on a later INSERT).
 */
static void
init_next_ids(void)
{
	ts_txn	   *txn;
	int			rc;

	if ((rc = ts_txn_begin(ts_worker_env, TS_RDONLY, &txn)) != 0)
		open_failed("could not begin a transaction", rc);
	for (int i = 0; i < ts_nstores; i++)
	{
		ts_cursor  *c;
		ts_slice	k,
					v;

		ts_worker_next_id[i] = 1;
		if (!ts_stores[i].assigned_id)
			continue;
		if ((rc = ts_cursor_open(txn, ts_worker_trees[i], &c)) != 0)
			open_failed("could not open a cursor", rc);
		if (ts_cursor_last(c) == 0 && ts_cursor_get(c, &k, &v) == 0)
		{
			ts_colval	kv[1];
			uint8		scratch[16];

			if (ts_store_key_decode(&ts_stores[i], k.data, k.len, kv, scratch, sizeof(scratch)) == 0)
				ts_worker_next_id[i] = kv[0].i == PG_INT64_MAX ? PG_INT64_MAX : kv[0].i + 1;
		}
		ts_cursor_close(c);
	}
	ts_txn_abort(txn);
}

/*
 * Settle what can be settled: in-doubt transactions from recovery and
 * orphans, by the status of their PostgreSQL transaction.  One still in
 * progress (its backend between pre-commit and commit) waits for a later
 * round.
 */
static void
settle_in_doubt(bool at_start)
{
	char	   *gids = NULL;
	size_t		n = 0;
	int			rc;

	if (!at_start)
		ts_worker_fault_point("worker-settle");
	if ((rc = ts_env_prepared(ts_worker_env, &gids, &n)) == 0)
	{
		const char *g = gids;

		for (size_t i = 0; i < n; i++, g += strlen(g) + 1)
		{
			bool		commit;
			char		why[200];

			if (!ts_ops_xid_status(g, &commit, why, sizeof(why)))
			{
				if (at_start)
					ereport(LOG, (errmsg("treestore transaction \"%s\" stays in doubt: %s", g, why)));
				continue;
			}
			rc = ts_env_resolve(ts_worker_env, g, commit);
			ereport(rc == 0 ? LOG : WARNING,
					(errmsg("treestore in-doubt transaction \"%s\" %s%s%s", g,
							commit ? "committed" : "aborted",
							rc == 0 ? "" : " failed: ", rc == 0 ? "" : ts_last_error())));
		}
		free(gids);
	}
	for (Orphan **p = &orphans; *p;)
	{
		Orphan	   *o = *p;
		bool		commit;
		char		why[200];

		if (!ts_ops_xid_status(o->gid, &commit, why, sizeof(why)))
		{
			p = &o->next;
			continue;
		}
		if (commit)
			rc = ts_txn_commit_nosync(o->txn);	/* prepared: no sync (xact.c) */
		else
		{
			ts_txn_abort(o->txn);
			rc = 0;
		}
		ereport(rc == 0 ? LOG : WARNING,
				(errmsg("treestore transaction \"%s\" of an ended session %s%s%s", o->gid,
						commit ? "committed" : "aborted",
						rc == 0 ? "" : " failed: ", rc == 0 ? "" : ts_last_error())));
		*p = o->next;
		pfree(o);
	}
}

static Treestore__InDoubtTxn *
in_doubt_txn(const char *gid, bool recovered)
{
	Treestore__InDoubtTxn *t = palloc(sizeof(*t));
	bool		commit;
	char		why[200];

	treestore__in_doubt_txn__init(t);
	t->gid = pstrdup(gid);
	t->recovered = recovered;
	why[0] = '\0';
	t->reason = pstrdup(ts_ops_xid_status(gid, &commit, why, sizeof(why)) ? "" : why);
	return t;
}

/*
 * The in-doubt transactions, for treestore.prepared_transactions(): those
 * found by recovery, then those of ended sessions, each with the reason the
 * worker leaves it (empty: the next settle_in_doubt settles it).
 */
void
ts_worker_list_in_doubt(Treestore__InDoubtResult *r)
{
	char	   *gids = NULL;
	size_t		n = 0,
				norphans = 0,
				k = 0;
	int			rc;
	const char *g;

	if ((rc = ts_env_prepared(ts_worker_env, &gids, &n)) != 0)
		elog(ERROR, "could not list the in-doubt transactions: %s", ts_last_error());
	for (Orphan *o = orphans; o; o = o->next)
		norphans++;
	r->n_txns = n + norphans;
	r->txns = palloc(sizeof(Treestore__InDoubtTxn *) * (r->n_txns + 1));
	g = gids;
	for (size_t i = 0; i < n; i++, g += strlen(g) + 1)
		r->txns[k++] = in_doubt_txn(g, true);
	for (Orphan *o = orphans; o; o = o->next)
		r->txns[k++] = in_doubt_txn(o->gid, false);
	free(gids);
}

/*
 * Commit or abort the in-doubt transaction gid by hand: 0, TS_NOTFOUND if
 * no in-doubt transaction has that gid, or the engine's error.
 */
int
ts_worker_resolve_in_doubt(const char *gid, bool commit)
{
	int			rc;

	for (Orphan **p = &orphans; *p; p = &(*p)->next)
	{
		Orphan	   *o = *p;

		if (strcmp(o->gid, gid) != 0)
			continue;
		*p = o->next;
		if (commit)
			rc = ts_txn_commit(o->txn);
		else
		{
			ts_txn_abort(o->txn);
			rc = 0;
		}
		pfree(o);
		goto done;
	}
	rc = ts_env_resolve(ts_worker_env, gid, commit);
	if (rc == TS_NOTFOUND)
		return rc;
done:
	ereport(rc == 0 ? LOG : WARNING,
			(errmsg("treestore in-doubt transaction \"%s\" %s by hand%s%s", gid,
					commit ? "committed" : "aborted",
					rc == 0 ? "" : " failed: ", rc == 0 ? "" : ts_last_error())));
	return rc;
}

static void
open_engine(void)
{
	ts_options	opt;
	char	   *path = ts_worker_data_path();
	int			rc;

	ts_options_init(&opt);
	opt.flags = TS_CREATE;
	opt.cache_pages = (size_t) ts_cache_mb * (1024 * 1024 / TS_PAGE_SIZE);
	opt.sync = 1;
	opt.async_commit = ts_synchronous_commit ? 0 : 1;
	opt.checkpoint_interval_ms = (uint32) ts_checkpoint_timeout_s * 1000;
	opt.checkpoint_wal_bytes = (uint64) ts_checkpoint_wal_mb * 1024 * 1024;
	/* a checkpoint must not stall this process: every session waits on it */
	opt.background_checkpoints = 1;
	opt.shared = ts_reader_region;	/* backends read the engine themselves (local.c) */
	opt.wal_segment_size = (uint64) ts_wal_segment_mb * 1024 * 1024;
	opt.wal_keep_segments = ts_wal_keep_segments;
	if (mkdir(path, S_IRWXU) != 0 && errno != EEXIST)
		open_failed(psprintf("could not create directory \"%s\"", path), errno);
	if ((rc = ts_env_open(path, &opt, &ts_worker_env)) != 0)
		open_failed(psprintf("could not open the engine in \"%s\"", path), rc);
	open_tables();
	settle_in_doubt(true);
	init_next_ids();
	ereport(LOG, (errmsg("treestore worker ready, data directory \"%s\"", path)));
}

/* ---------- containing errors ---------- */

/*
 * Run fn(arg) under an error handler.  The worker has no outer one: an
 * ERROR anywhere else would be its FATAL, ending every session's
 * transaction.  Caught, it is logged as a WARNING and contain(s) limits the
 * damage to where it happened; false when it failed.
 */
static bool
run_guarded(void (*fn) (void *), void *arg, void (*contain) (Session *), Session *s,
			const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errmsg("treestore worker could not %s: %s", what, edata->message),
				 s ? errdetail("Contained to the session of process %d.", s->pid) : 0));
		FreeErrorData(edata);
		if (contain && s)
			contain(s);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static void session_drop_channel(Session *s);
static void reap_ended_transactions(TimestampTz now);

/*
 * The session's channel can no longer be trusted (a response half queued,
 * an attach half done): drop it -- the backend gets 08006 and makes a new
 * one -- and end its transaction; the rest of that transaction fails
 * (txn_lost), so nothing it wrote before commits without the rest.
 */
static void
session_fail(Session *s)
{
	if (s->txn && !s->prepared)
	{
		s->txn_lost = true;
		s->lost_lxid = s->lxid;
	}
	ts_ops_end_txn(s);
	session_drop_channel(s);
}

/* ---------- sessions ---------- */

static void
session_drop_channel(Session *s)
{
	/* the queue handles and their receive buffers are freed only here */
	if (s->inq)
		shm_mq_detach(s->inq);
	if (s->outq)
		shm_mq_detach(s->outq);
	if (s->seg)
		dsm_detach(s->seg);
	s->seg = NULL;
	s->seg_bytes = 0;
	s->inq = s->outq = NULL;
	for (int i = 0; i < s->nout; i++)
		pfree(s->out[i].hdr);
	s->nout = 0;
}

/* The backend is gone: end its transaction; a prepared one becomes an orphan. */
static void
session_close(Session *s)
{
	session_drop_channel(s);
	ts_ops_end_txn(s);
	s->active = false;
	s->pid = 0;
	MemoryContextReset(s->cxt);
	memset(&s->out_rows, 0, sizeof(s->out_rows));
	memset(&s->out_spill, 0, sizeof(s->out_spill));
	s->marks = NULL;
	s->nmarks = s->maxmarks = 0;
	s->scans = NULL;
}

static void
session_attach(Session *s, int slot, uint32 gen, int pid, int procno, dsm_handle handle,
			   uint32 req_size)
{
	dsm_segment *seg;
	shm_mq	   *req,
			   *resp;
	MemoryContext oldcxt;

	if (s->active && s->pid != pid)
		session_close(s);		/* a new backend in the slot */
	else
		session_drop_channel(s);	/* same backend, new channel */
	s->slot = slot;
	s->slot_gen = gen;
	s->pid = pid;
	s->procno = procno;
	s->active = true;
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	seg = dsm_attach(handle);
	if (seg == NULL)
	{
		MemoryContextSwitchTo(oldcxt);
		return;					/* the backend already went away */
	}
	dsm_pin_mapping(seg);
	req = (shm_mq *) dsm_segment_address(seg);
	if (req_size == 0 || req_size >= dsm_segment_map_length(seg))
	{
		MemoryContextSwitchTo(oldcxt);
		dsm_detach(seg);
		elog(ERROR, "treestore channel of process %d has a bad layout", pid);
	}
	resp = (shm_mq *) ((char *) req + req_size);
	shm_mq_set_receiver(req, MyProc);
	shm_mq_set_sender(resp, MyProc);
	s->seg = seg;
	s->seg_bytes = dsm_segment_map_length(seg);
	s->inq = shm_mq_attach(req, seg, NULL);
	s->outq = shm_mq_attach(resp, seg, NULL);
	MemoryContextSwitchTo(oldcxt);
	ts_worker_fault_point("worker-attach");
}

typedef struct AttachArgs
{
	Session    *s;
	int			slot;
	uint32		gen;
	int			pid;
	int			procno;
	dsm_handle	handle;
	uint32		req_size;
} AttachArgs;

static void
attach_guarded(void *arg)
{
	AttachArgs *a = arg;

	session_attach(a->s, a->slot, a->gen, a->pid, a->procno, a->handle, a->req_size);
}

/* Look at the slots whose generation moved. */
static void
scan_slots(void)
{
	for (int i = 0; i < nsessions; i++)
	{
		TsSlot	   *slot = &ts_shared->slots[i];
		Session    *s = &sessions[i];
		uint32		gen;
		int			pid,
					procno;
		dsm_handle	handle;
		uint32		req_size;

		if (s->busy)
		{
			/* its job holds the session: looked at once it is answered */
			slots_deferred = true;
			continue;
		}
		SpinLockAcquire(&slot->mutex);
		gen = slot->generation;
		pid = slot->pid;
		procno = slot->procno;
		handle = slot->handle;
		req_size = slot->req_size;
		SpinLockRelease(&slot->mutex);
		if (s->active && gen == s->slot_gen)
			continue;
		if (!s->active && pid == 0)
			continue;
		if (pid == 0)
			session_close(s);
		else
		{
			AttachArgs	a = {s, i, gen, pid, procno, handle, req_size};

			(void) run_guarded(attach_guarded, &a, session_fail, s,
							   "attach a backend's channel");
		}
	}
}

/* Send what waits in s->out, in order; true when nothing waits. */
static bool
flush_pending(Session *s)
{
	while (s->nout > 0)
	{
		OutMsg	   *m = &s->out[0];
		shm_mq_result r;

		r = shm_mq_sendv(s->outq, m->iov, m->iov[1].len ? 2 : 1, true, true);
		if (r == SHM_MQ_WOULD_BLOCK)
			return false;
		/* sent, or the backend detached (its slot will tell why) */
		pfree(m->hdr);
		s->nout--;
		memmove(&s->out[0], &s->out[1], sizeof(OutMsg) * s->nout);
	}
	return true;
}

/*
 * Queue a response -- u32 length, the packed Response, then the payload
 * (wire.h) -- behind what already waits, and send what fits now.  True
 * when all of it went: the payload's memory is free again.  Otherwise it
 * must stay as it is until flush_pending has sent it.
 */
bool
ts_worker_respond(Session *s, Treestore__Response *resp, const char *payload, Size plen)
{
	size_t		hlen;
	char	   *buf;
	OutMsg	   *m;

	if (s->seg == NULL)
		return true;			/* the channel went: nobody to answer */
	ts_worker_fault_point("worker-respond");
	if (s->nout >= lengthof(s->out))
		elog(ERROR, "treestore worker: too many responses waiting for process %d", s->pid);
	hlen = treestore__response__get_packed_size(resp);
	buf = MemoryContextAlloc(s->cxt, hlen + 4);
	buf[0] = (char) hlen;
	buf[1] = (char) (hlen >> 8);
	buf[2] = (char) (hlen >> 16);
	buf[3] = (char) (hlen >> 24);
	treestore__response__pack(resp, (uint8_t *) buf + 4);
	m = &s->out[s->nout++];
	m->hdr = buf;
	m->iov[0].data = buf;
	m->iov[0].len = hlen + 4;
	m->iov[1].data = payload;
	m->iov[1].len = payload ? plen : 0;
	return flush_pending(s);
}

static void
read_ahead_guarded(void *arg)
{
	ts_ops_read_ahead((Session *) arg);
}

/*
 * Serve one request of session s if there is one.  Returns true if it did
 * any work.  An ERROR in the request is its error response; one in
 * responding reaches the caller's guard (the session fails).
 */
static bool
serve_one(Session *s, MemoryContext reqcxt)
{
	shm_mq_result r;
	Size		len;
	void	   *data;
	Treestore__Request *req;
	Treestore__Response resp = TREESTORE__RESPONSE__INIT;
	MemoryContext old;
	bool		want_response;

	if (s->busy || s->seg == NULL || !flush_pending(s))
		return false;
	ts_ops_shrink_buffers(s);	/* between requests: nothing is using them */
	r = shm_mq_receive(s->inq, &len, &data, true);
	if (r == SHM_MQ_WOULD_BLOCK)
		return false;
	if (r == SHM_MQ_DETACHED)
	{
		/* the backend left this channel: a new one or its exit follows */
		session_drop_channel(s);
		return true;
	}
	ts_worker_requests++;
	s->last_request = GetCurrentTimestamp();
	old = MemoryContextSwitchTo(reqcxt);
	req = treestore__request__unpack(&ts_pb_allocator, len, data);
	if (req == NULL)
	{
		ereport(WARNING,
				(errmsg("treestore worker received a malformed request from process %d", s->pid),
				 errdetail("The channel is dropped; the backend reconnects.")));
		session_drop_channel(s);
		MemoryContextSwitchTo(old);
		return true;
	}
	resp.id = req->id;
	want_response = (req->op_case != TREESTORE__REQUEST__OP_CLOSE_SCAN &&
					 req->op_case != TREESTORE__REQUEST__OP_END_TXN);

	PG_TRY();
	{
		ts_ops_execute(s, req, &resp);
	}
	PG_CATCH();
	{
		/* an unexpected PostgreSQL error: report it to the backend, go on */
		ErrorData  *edata;

		MemoryContextSwitchTo(reqcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ts_ops_request_failed(s);	/* its cursors: nothing half-read stays open */
		ts_ops_set_error(&resp, "XX000", NULL, NULL, "treestore worker: %s", edata->message);
	}
	PG_END_TRY();

	/* the payload (rows) stays where the engine's bytes were put */
	if (want_response && !s->deferred)
		(void) ts_worker_respond(s, &resp, resp.error ? NULL : s->payload, s->payload_len);
	s->deferred = false;		/* a job answers it (complete_jobs) */
	s->payload = NULL;
	s->payload_len = 0;
	ts_ops_shrink_buffers(s);
	MemoryContextSwitchTo(old);
	MemoryContextReset(reqcxt);
	/* a failed read-ahead is only undone: the Fetch reads the batch itself */
	(void) run_guarded(read_ahead_guarded, s, ts_ops_request_failed, s, "read ahead");
	return true;
}

typedef struct ServeArgs
{
	Session    *s;
	MemoryContext reqcxt;
	bool		worked;
} ServeArgs;

static void
serve_guarded(void *arg)
{
	ServeArgs  *a = arg;

	a->worked = serve_one(a->s, a->reqcxt);
}

/* ---------- jobs done on the pool's threads (worker_pool.c) ---------- */

static void
complete_guarded(void *arg)
{
	TsJob	   *j = arg;
	Treestore__Response resp = TREESTORE__RESPONSE__INIT;
	MemoryContext old = MemoryContextSwitchTo(jobcxt);

	resp.id = j->req_id;
	ts_ops_job_done(j, &resp);
	(void) ts_worker_respond(j->s, &resp, NULL, 0);
	MemoryContextSwitchTo(old);
}

/*
 * Answer the sessions whose jobs finished.  "worker-kill-prepared" (tests):
 * the worker is killed with SIGKILL here, once a prepare is durable and
 * before it is answered, while another prepare is durable in the same round
 * or still in flight: a kill between the phases of a group commit.
 */
static bool
complete_jobs(void)
{
	TsJob	   *j = ts_pool_take_done();
	int			prepared = 0;

	if (j == NULL)
		return false;
	for (TsJob *k = j; k; k = k->next)
		prepared += (k->kind == TS_JOB_PREPARE && k->rc == 0);
	if (prepared >= 2 || (prepared == 1 && ts_pool_prepares_in_flight() > 0))
		ts_worker_fault_kill("worker-kill-prepared");
	while (j)
	{
		TsJob	   *next = j->next;

		(void) run_guarded(complete_guarded, j, session_fail, j->s, "answer a commit");
		j->s->busy = false;
		free(j);
		j = next;
	}
	MemoryContextReset(jobcxt);
	if (slots_deferred)
	{
		slots_deferred = false;
		scan_slots();
	}
	return true;
}

static void
reap_guarded(void *arg)
{
	reap_ended_transactions(*(TimestampTz *) arg);
}

static void
settle_guarded(void *arg)
{
	settle_in_doubt(false);
}

/*
 * End the engine transactions whose PostgreSQL transaction has ended: the
 * backend's PGPROC shows another lxid (or none).  A read-only transaction
 * then needs no message at its commit (a signal and a wake-up saved per
 * transaction); a prepared one the backend could not resolve is settled by
 * its xid's status.
 */
static void
reap_ended_transactions(TimestampTz now)
{
	ts_worker_fault_point("worker-reap");
	for (int i = 0; i < nsessions; i++)
	{
		Session    *s = &sessions[i];
		LocalTransactionId lxid;

		if (!s->active || s->txn == NULL || s->busy)
			continue;
		lxid = ((volatile PGPROC *) &ProcGlobal->allProcs[s->procno])->lxid;
		if (lxid == s->lxid)
		{
			s->ended_at = 0;
			continue;
		}
		if (!s->prepared)
		{
			ts_ops_end_txn(s);
			continue;
		}

		/*
		 * Prepared: its backend's commit callback is about to resolve it
		 * (the lxid moves on before that callback runs).  Only if that does
		 * not come does it become an orphan, settled by the xid's status.
		 */
		if (s->ended_at == 0)
			s->ended_at = now;
		else if (TimestampDifferenceExceeds(s->ended_at, now, ORPHAN_AFTER_MS))
			ts_ops_end_txn(s);
	}
}

/*
 * After a failed write or sync the engine takes no more writes (poisoned):
 * only reopening -- replaying its log -- makes it whole again.  The worker
 * restarts itself for that once it is likely to succeed: when space was
 * freed (at least 8 MB since the failure), or after 10 s with 64 MB free
 * (an I/O error, not a full disk).  Until then reads go on and writes get
 * the error; while the disk stays full nothing restarts, so reads stay up.
 */
#define POISON_FREED_BYTES ((double) 8 * 1024 * 1024)
#define POISON_FREE_BYTES ((double) 64 * 1024 * 1024)
#define POISON_WAIT_MS 10000

static double
free_bytes(void)
{
	static char *path = NULL;
	struct statvfs vfs;

	if (path == NULL)
		path = MemoryContextStrdup(TopMemoryContext, ts_worker_data_path());
	if (statvfs(path, &vfs) != 0)
		return -1;
	return (double) vfs.f_bavail * vfs.f_frsize;
}

static bool
poisoned_should_restart(TimestampTz now)
{
	static TimestampTz since = 0;
	static double free_then = 0;
	double		free_now;

	if (!ts_env_poisoned(ts_worker_env))
		return false;
	free_now = free_bytes();
	if (since == 0)
	{
		since = now;
		free_then = free_now;
		ereport(WARNING,
				(errmsg("treestore engine takes no more writes after a failed write or sync"),
				 errdetail("%.0f MB free in the data directory.", free_now / (1024 * 1024)),
				 errhint("The worker restarts itself to recover once space is freed.")));
		return false;
	}
	return free_now >= free_then + POISON_FREED_BYTES ||
		(free_now >= POISON_FREE_BYTES &&
		 TimestampDifferenceExceeds(since, now, POISON_WAIT_MS));
}

static void
shutdown_engine(void)
{
	int			rc;

	set_state(TS_WORKER_STOPPED, "the treestore worker is shutting down");
	for (int i = 0; i < nsessions; i++)
		if (sessions[i].active)
			session_close(&sessions[i]);
	if (ts_worker_env)
	{
		rc = ts_env_close(ts_worker_env);
		ts_worker_env = NULL;
		if (rc != 0)
			ereport(LOG, (errmsg("treestore engine closed: %s", ts_last_error())));
		else
			ereport(LOG, (errmsg("treestore engine closed cleanly")));
	}
}

void
ts_worker_main(Datum arg)
{
	MemoryContext reqcxt;
	TimestampTz last_settle = 0;
	TimestampTz last_reap = 0;
	TimestampTz last_work = 0;
	TimestampTz last_poison_check = 0;
	WaitEventSet *wes;

	pqsignal(SIGTERM, handle_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&ts_shared->mutex);
	ts_shared->state = TS_WORKER_STARTING;
	ts_shared->failure[0] = '\0';
	ts_shared->worker_pid = MyProcPid;
	ts_shared->worker_procno = MyProc->pgprocno;
	ts_shared->worker_generation++;
	ts_shared->started_at = GetCurrentTimestamp();
	SpinLockRelease(&ts_shared->mutex);

	nsessions = ts_shared->nslots;
	sessions = MemoryContextAllocZero(TopMemoryContext, sizeof(Session) * nsessions);
	for (int i = 0; i < nsessions; i++)
		sessions[i].cxt = AllocSetContextCreate(TopMemoryContext, "treestore session",
												ALLOCSET_SMALL_SIZES);
	reqcxt = AllocSetContextCreate(TopMemoryContext, "treestore request",
								   ALLOCSET_DEFAULT_SIZES);

	open_engine();
	jobcxt = AllocSetContextCreate(TopMemoryContext, "treestore jobs", ALLOCSET_SMALL_SIZES);
	ts_pool_start();
	wes = CreateWaitEventSet(TopMemoryContext, 3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	if (ts_pool_fd() >= 0)
		AddWaitEventToSet(wes, WL_SOCKET_READABLE, ts_pool_fd(), NULL, NULL);
	set_state(TS_WORKER_READY, NULL);
	/* backends that attached while we started: look at every slot */
	seen_changes = pg_atomic_read_u32(&ts_shared->channels_changed);
	scan_slots();

	while (!shutdown_requested)
	{
		bool		worked = false;
		uint32		changes;

		ResetLatch(MyLatch);
		/* DROP DATABASE and others wait for every process to absorb these */
		if (ProcSignalBarrierPending)
			ProcessProcSignalBarrier();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		changes = pg_atomic_read_u32(&ts_shared->channels_changed);
		if (changes != seen_changes)
		{
			seen_changes = changes;
			scan_slots();
		}
		for (int i = 0; i < nsessions; i++)
			if (sessions[i].active)
			{
				ServeArgs	a = {&sessions[i], reqcxt, false};

				if (run_guarded(serve_guarded, &a, session_fail, &sessions[i],
								"serve a request"))
					worked |= a.worked;
				else
				{
					MemoryContextReset(reqcxt);
					worked = true;
				}
			}
		worked |= complete_jobs();
		{
			TimestampTz now = GetCurrentTimestamp();

			if (TimestampDifferenceExceeds(last_reap, now, REAP_INTERVAL_MS))
			{
				last_reap = now;
				(void) run_guarded(reap_guarded, &now, NULL, NULL,
								   "end finished transactions");
			}
		}
		if (orphans != NULL || !worked)
		{
			TimestampTz now = GetCurrentTimestamp();

			if (TimestampDifferenceExceeds(last_settle, now, 1000))
			{
				last_settle = now;
				(void) run_guarded(settle_guarded, NULL, NULL, NULL,
								   "settle in-doubt transactions");
			}
		}
		if (TimestampDifferenceExceeds(last_poison_check, GetCurrentTimestamp(), 500))
		{
			last_poison_check = GetCurrentTimestamp();
			if (poisoned_should_restart(last_poison_check))
			{
				ereport(LOG,
						(errmsg("treestore worker restarting to recover the engine after a failed write")));
				break;
			}
		}
		if (worked)
			last_work = GetCurrentTimestamp();
		else if (spin_for_next(last_work))
			pg_spin_delay();
		else
		{
			WaitEvent	ev;

			/* a request (the latch) or a finished job (the pool's eventfd) */
			(void) WaitEventSetWait(wes, REAP_INTERVAL_MS, &ev, 1, PG_WAIT_EXTENSION);
		}
	}
	/* the jobs given to the threads finish; their sessions are answered */
	ts_pool_stop();
	(void) complete_jobs();
	shutdown_engine();

	/*
	 * Exit 1, never 0: a worker that exits 0 is unregistered for good, and a
	 * SIGTERM that is not the server's shutdown (pg_terminate_backend) would
	 * leave TreeStore gone until a restart.  With 1 the postmaster starts a
	 * new worker after bgw_restart_time -- unless it is shutting down.
	 */
	proc_exit(1);
}
