/*-------------------------------------------------------------------------
 *
 * channel.c
 *	  A backend's end of the IPC with the TreeStore worker: a DSM segment
 *	  holding a request queue and a response queue (shm_mq), made on first
 *	  use and published in the backend's slot.
 *
 *	  Rules (each answers a hang or a wrong answer seen elsewhere):
 *	  1. Never wait without a bound: every wait polls the worker's state and
 *	     generation and ends at treestore.request_timeout.
 *	  2. A request that did not finish cleanly (cancelled, timed out,
 *	     errored in the middle) leaves the channel "busy"; the next request
 *	     makes a new channel, so no stale or half-sent message is ever read.
 *	  3. Responses carry the request's id; any other id is a protocol error.
 *	  4. Transaction-end callbacks use ts_call_settle and ts_send_nowait,
 *	     which never raise, never make a channel (a new DSM segment can fail)
 *	     and wait at most TS_NOERROR_WAIT_MS with interrupts held.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <signal.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/s_lock.h"
#include "storage/shm_mq.h"
#include "commands/dbcommands.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "channel.h"

uint64		ts_round_trips = 0;
const uint8 *ts_response_payload = NULL;
size_t		ts_response_payload_len = 0;

/* who holds a pointer into the queue (see ts_payload_borrow) */
static void (*borrow_release) (void *arg) = NULL;
static void *borrow_arg = NULL;

static dsm_segment *chan_seg = NULL;
static shm_mq_handle *req_mqh = NULL;
static shm_mq_handle *resp_mqh = NULL;
static uint32 chan_worker_gen = 0;
static bool chan_busy = false;	/* a request is (or was left) in flight */
static uint64 stream_id = 0;	/* a streamed request's next part is due */
static uint64 next_request_id = 0;
static bool exit_callback_set = false;
static bool chan_large = false;	/* the channel has the large queues */
static bool want_large = false; /* an answer filled half a small queue */
static Size chan_resp_size = 0;

#define POLL_MS 100
/*
 * A wait that may not raise (transaction-end callbacks, health) has interrupts
 * held: it ends after this long whatever treestore.request_timeout says.  The
 * worker settles a transaction whose resolve never came by itself.
 */
#define TS_NOERROR_WAIT_MS 5000
/* spin for a response at most this long (microseconds) before sleeping */
#define TS_SPIN_USEC 60
/*
 * ... and for a Prepare, which waits for the engine's log sync (a few
 * hundred microseconds): the worker is asleep in the sync meanwhile (or one
 * of its threads is), so the CPU is free, and the latch wake-up saved (a
 * signal and a trip through the scheduler) is a part of a one-row
 * transaction's time.  Still only when this backend is the one waiting.
 * (Not measured apart: the development VM's disk was shared with other
 * benchmarks at the time, and the syncs varied more than the gain.)
 */
#define TS_SPIN_PREPARE_USEC 1000
#define TS_SPIN_MAX 1000000

static TsSlot *
my_slot(void)
{
	Assert(MyBackendId >= 1 && MyBackendId <= ts_shared->nslots);
	return &ts_shared->slots[MyBackendId - 1];
}

/* Tell the worker about our channel (handle != 0) or its end (0). */
static void
publish_channel(dsm_handle handle, Size req_size)
{
	TsSlot	   *slot = my_slot();

	SpinLockAcquire(&slot->mutex);
	slot->generation++;
	slot->pid = handle ? MyProcPid : 0;
	slot->procno = MyProc->pgprocno;
	slot->handle = handle;
	slot->req_size = (uint32) req_size;
	SpinLockRelease(&slot->mutex);
	pg_atomic_fetch_add_u32(&ts_shared->channels_changed, 1);
	ts_wake_worker();
}

static void
drop_channel(void)
{
	/* rows still read in place copy themselves out first */
	ts_payload_release();
	/* the handles (and their receive buffers) are ours to free */
	if (req_mqh)
		shm_mq_detach(req_mqh);
	if (resp_mqh)
		shm_mq_detach(resp_mqh);
	if (chan_seg)
		dsm_detach(chan_seg);
	chan_seg = NULL;
	req_mqh = resp_mqh = NULL;
	chan_busy = false;
	stream_id = 0;
}

static void
channel_at_exit(int code, Datum arg)
{
	if (chan_seg)
	{
		drop_channel();
		publish_channel(0, 0);
	}
}

/* The worker's state and generation. */
static TsWorkerState
worker_state(uint32 *gen, int *pid, char *failure, size_t flen)
{
	TsWorkerState st;

	SpinLockAcquire(&ts_shared->mutex);
	st = ts_shared->state;
	*gen = ts_shared->worker_generation;
	*pid = ts_shared->worker_pid;
	if (failure)
		strlcpy(failure, ts_shared->failure, flen);
	SpinLockRelease(&ts_shared->mutex);
	return st;
}

static void
require_preload(void)
{
	if (!ts_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("treestore_fdw is not loaded at server start"),
				 errdetail("The treestore worker and its shared memory exist only when the library is preloaded."),
				 errhint("Add treestore_fdw to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Why a failed dsm_create (/dev/shm full: 53100) matters, and what to do. */
static void
channel_create_context(void *arg)
{
	errcontext("creating the treestore channel of this session (%zu kB of dynamic shared memory)",
			   (Size) arg / 1024);
	errhint("Each session that uses treestore holds one; make /dev/shm larger (Docker: --shm-size) or use fewer sessions.");
}

/*
 * One engine serves every database of the cluster, and its text is UTF-8:
 * a database in another encoding (SQL_ASCII included) would store bytes the
 * others misread.  Refused rather than converted (README.md, "Inside
 * PostgreSQL").
 */
void
ts_require_utf8(void)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("treestore_fdw requires a database with encoding UTF8"),
				 errdetail("Database \"%s\" has encoding %s; the treestore engine, shared by every database of the cluster, keeps its text in UTF-8.",
						   get_database_name(MyDatabaseId), GetDatabaseEncodingName()),
				 errhint("Use treestore_fdw from a database created with ENCODING 'UTF8'.")));
}

/*
 * Make sure there is a usable channel to a ready worker.  With noerror,
 * return false instead of raising (short of an error from dsm_create).
 */
static bool
ensure_channel(bool noerror, char **why)
{
	TimestampTz start = GetCurrentTimestamp();
	uint32		gen;
	int			pid;
	char		failure[256];
	dsm_segment *seg;
	shm_mq	   *req,
			   *resp;
	MemoryContext oldcxt;
	Size		req_size,
				resp_size;
	ErrorContextCallback dsm_context;

	if (!ts_preloaded())
	{
		if (noerror)
		{
			*why = "treestore_fdw is not preloaded";
			return false;
		}
		require_preload();
	}
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		if (noerror)
		{
			*why = "treestore_fdw requires a database with encoding UTF8";
			return false;
		}
		ts_require_utf8();
	}
	for (;;)
	{
		TsWorkerState st = worker_state(&gen, &pid, failure, sizeof(failure));

		if (st == TS_WORKER_READY)
			break;
		if (noerror)
		{
			*why = "the treestore worker is not ready";
			return false;
		}
		if (st == TS_WORKER_FAILED)
			ereport(ERROR,
					(errcode(ERRCODE_CANNOT_CONNECT_NOW),
					 errmsg("treestore worker is not available"),
					 errdetail("%s", failure),
					 errhint("See the server log; the worker retries every 5 seconds.")));
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), ts_startup_timeout_ms))
			ereport(ERROR,
					(errcode(ERRCODE_CANNOT_CONNECT_NOW),
					 errmsg("treestore worker is not ready"),
					 errdetail("The worker is %s.",
							   st == TS_WORKER_STARTING ? "starting up (recovering)" :
							   st == TS_WORKER_STOPPED ? "shut down" : "not running"),
					 errhint("Try again in a moment.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* replace a channel left busy, of an earlier worker, or too small */
	if (chan_seg && (chan_busy || chan_worker_gen != gen || (want_large && !chan_large)))
		drop_channel();
	if (chan_seg)
		return true;

	if (!exit_callback_set)
	{
		before_shmem_exit(channel_at_exit, 0);
		exit_callback_set = true;
	}
	req_size = want_large ? TS_REQUEST_QUEUE_LARGE : TS_REQUEST_QUEUE_SMALL;
	resp_size = want_large ? TS_RESPONSE_QUEUE_LARGE : TS_RESPONSE_QUEUE_SMALL;
	/* the handles live as long as the channel: not in a query's context */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	dsm_context.callback = channel_create_context;
	dsm_context.arg = (void *) (req_size + resp_size);
	dsm_context.previous = error_context_stack;
	error_context_stack = &dsm_context;
	seg = dsm_create(req_size + resp_size, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	error_context_stack = dsm_context.previous;
	if (seg == NULL)
	{
		MemoryContextSwitchTo(oldcxt);
		if (noerror)
		{
			*why = "no dynamic shared memory segment is available";
			return false;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many dynamic shared memory segments"),
				 errdetail("Each session that uses treestore holds one for its channel to the worker."),
				 errhint("Raise max_connections (the number of segments follows it), or use fewer sessions.")));
	}
	dsm_pin_mapping(seg);
	req = shm_mq_create(dsm_segment_address(seg), req_size);
	resp = shm_mq_create((char *) dsm_segment_address(seg) + req_size, resp_size);
	shm_mq_set_sender(req, MyProc);
	shm_mq_set_receiver(resp, MyProc);
	chan_seg = seg;
	req_mqh = shm_mq_attach(req, seg, NULL);
	resp_mqh = shm_mq_attach(resp, seg, NULL);
	MemoryContextSwitchTo(oldcxt);
	chan_worker_gen = gen;
	chan_busy = false;
	chan_large = want_large;
	chan_resp_size = resp_size;
	publish_channel(dsm_segment_handle(seg), req_size);
	return true;
}

uint32
ts_channel_worker_generation(void)
{
	char	   *why;

	ts_call_finish();			/* a channel with a response due is busy */
	if (!ensure_channel(false, &why))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to the treestore worker"),
				 errdetail("%s.", why)));
	return chan_worker_gen;
}

/* Is the worker we talk to still the one that is running and ready? */
static bool
worker_alive(void)
{
	uint32		gen;
	int			pid;
	TsWorkerState st = worker_state(&gen, &pid, NULL, 0);

	if (st != TS_WORKER_READY || gen != chan_worker_gen || pid == 0)
		return false;
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* The borrower's memory is going away (end of query, error): forget it. */
static void
borrow_forget(void *arg)
{
	if (borrow_arg == arg)
	{
		borrow_release = NULL;
		borrow_arg = NULL;
	}
}

void
ts_payload_borrow(void (*release) (void *arg), void *arg, MemoryContext owner_cxt)
{
	MemoryContextCallback *cb = MemoryContextAlloc(owner_cxt, sizeof(MemoryContextCallback));

	borrow_release = release;
	borrow_arg = arg;
	cb->func = borrow_forget;
	cb->arg = arg;
	MemoryContextRegisterResetCallback(owner_cxt, cb);
}

void
ts_payload_return(void *arg)
{
	borrow_forget(arg);
}

/* Before the queue moves on: the borrower copies what it still needs. */
void
ts_payload_release(void)
{
	if (borrow_release)
	{
		void		(*release) (void *) = borrow_release;

		borrow_release = NULL;
		release(borrow_arg);
		borrow_arg = NULL;
	}
	ts_response_payload = NULL;
	ts_response_payload_len = 0;
}

typedef enum CallFailure
{
	CALL_OK,
	CALL_DEAD,					/* worker gone or restarted */
	CALL_TIMEOUT,
	CALL_DETACHED,
	CALL_PROTOCOL
} CallFailure;

/*
 * One round trip (or a send only).  Interrupts are checked while waiting
 * unless noerror (then they are held by the caller anyway).
 */
static CallFailure
round_trip_counted(Treestore__Request *req, bool want_response, bool noerror,
				   Treestore__Response **out, bool *counted, bool already_sent)
{
	size_t		len = treestore__request__get_packed_size(req);
	uint8	   *buf = palloc(len);
	TimestampTz start = GetCurrentTimestamp();
	bool		sent = already_sent;
	int			spins = 0;
	int			timeout_ms = noerror ? Min(ts_request_timeout_ms, TS_NOERROR_WAIT_MS)
		: ts_request_timeout_ms;
	int			spin_usec = req->op_case == TREESTORE__REQUEST__OP_PREPARE
		? TS_SPIN_PREPARE_USEC : TS_SPIN_USEC;

	if (!sent)
		treestore__request__pack(req, buf);
	chan_busy = true;
	for (;;)
	{
		shm_mq_result r;

		if (!sent)
		{
			r = shm_mq_send(req_mqh, len, buf, true, true);
			if (r == SHM_MQ_SUCCESS)
			{
				sent = true;
				if (!want_response)
				{
					chan_busy = false;
					pfree(buf);
					return CALL_OK;
				}
				continue;
			}
		}
		else
		{
			Size		rlen;
			void	   *rdata;

			r = shm_mq_receive(resp_mqh, &rlen, &rdata, true);
			if (r == SHM_MQ_SUCCESS)
			{
				const uint8 *d = rdata;
				size_t		plen;
				Treestore__Response *resp;

				/* u32 length, the Response, the payload (wire.h) */
				if (rlen < 4)
					return CALL_PROTOCOL;
				plen = (size_t) d[0] | (size_t) d[1] << 8 | (size_t) d[2] << 16 |
					(size_t) d[3] << 24;
				if (plen > rlen - 4)
					return CALL_PROTOCOL;
				resp = treestore__response__unpack(&ts_pb_allocator, plen, d + 4);
				if (resp == NULL || resp->id != req->id)
					return CALL_PROTOCOL;
				if (!chan_large && rlen > chan_resp_size / 2)
					want_large = true;	/* the next request gets a larger channel */
				ts_response_payload = d + 4 + plen;
				ts_response_payload_len = rlen - 4 - plen;
				chan_busy = false;
				ts_round_trips++;
				pfree(buf);
				*out = resp;
				return CALL_OK;
			}
		}
		if (r == SHM_MQ_DETACHED)
			return CALL_DETACHED;

		/*
		 * A response usually comes within tens of microseconds.  Look again
		 * for a short while before sleeping: a sleeping backend is woken by
		 * a signal and, on an idle CPU, a wake-up that costs as much as the
		 * request itself.  Bounded by TS_SPIN_USEC, so a long request costs
		 * at most that much CPU; and only when this backend is the one
		 * waiting (measured with 1 client: -18% latency; with 4-8 clients
		 * spinning would cost 20-30% of the throughput).
		 */
		if (sent && spins < TS_SPIN_MAX)
		{
			if (!*counted)
			{
				/* spin only when no other backend waits: with several, the
				 * CPUs are better left to them and to the worker */
				*counted = true;
				if (pg_atomic_fetch_add_u32(&ts_shared->waiting, 1) != 0)
				{
					spins = TS_SPIN_MAX;
					continue;
				}
			}
			spins++;
			if ((spins & 63) == 0 && GetCurrentTimestamp() - start > spin_usec)
				spins = TS_SPIN_MAX;
			pg_spin_delay();
			continue;
		}

		/* would block: wait, but never forever */
		if (!worker_alive())
			return CALL_DEAD;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms))
			return CALL_TIMEOUT;
		/* in a commit callback, exiting would turn into a PANIC: return */
		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT |
					  (noerror ? WL_POSTMASTER_DEATH : WL_EXIT_ON_PM_DEATH),
					  POLL_MS, PG_WAIT_EXTENSION) & WL_POSTMASTER_DEATH)
			return CALL_DEAD;
		ResetLatch(MyLatch);
		if (!noerror)
			CHECK_FOR_INTERRUPTS();
	}
}

static CallFailure
round_trip_mode(Treestore__Request *req, bool want_response, bool noerror,
				Treestore__Response **out, bool already_sent)
{
	bool		counted = false;
	volatile CallFailure f = CALL_OK;

	PG_TRY();
	{
		f = round_trip_counted(req, want_response, noerror, out, &counted, already_sent);
	}
	PG_FINALLY();
	{
		if (counted)
			pg_atomic_fetch_sub_u32(&ts_shared->waiting, 1);
	}
	PG_END_TRY();
	return f;
}

static CallFailure
round_trip(Treestore__Request *req, bool want_response, bool noerror,
		   Treestore__Response **out)
{
	return round_trip_mode(req, want_response, noerror, out, false);
}

static const char *
failure_text(CallFailure f)
{
	switch (f)
	{
		case CALL_DEAD:
			return "The treestore worker exited or restarted.";
		case CALL_TIMEOUT:
			return "The treestore worker did not answer within treestore.request_timeout.";
		case CALL_DETACHED:
			return "The treestore worker closed the channel.";
		case CALL_PROTOCOL:
			return "The treestore worker sent a malformed or mismatched response.";
		default:
			return "";
	}
}

/* A round trip that failed: the channel goes, the call raises 08006. */
static void
raise_call_failure(CallFailure f)
{
	drop_channel();
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("lost the connection to the treestore worker"),
			 errdetail("%s", failure_text(f))));
}

void
ts_raise_response_error(Treestore__Error *e)
{
	const char *s = e->sqlstate;
	int			code = (s && strlen(s) == 5)
		? MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]) : ERRCODE_INTERNAL_ERROR;

	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", e->message),
			 (e->detail && e->detail[0]) ? errdetail_internal("%s", e->detail) : 0,
			 (e->hint && e->hint[0]) ? errhint("%s", e->hint) : 0));
}

/* ---------- a request whose response is read later ---------- */

static uint64 pending_id = 0;
static void (*pending_done) (Treestore__Response *resp, void *arg) = NULL;
static void *pending_arg = NULL;

/* Read a response of request id, which was sent before. */
static CallFailure
receive_response(uint64 id, bool noerror, Treestore__Response **resp)
{
	Treestore__Request dummy = TREESTORE__REQUEST__INIT;

	dummy.id = id;
	ts_payload_release();
	return round_trip_mode(&dummy, true, noerror, resp, true);
}

/* Read the pending request's response (it is no longer pending after). */
static CallFailure
receive_pending(bool noerror, Treestore__Response **resp)
{
	uint64		id = pending_id;

	pending_id = 0;
	pending_done = NULL;
	pending_arg = NULL;
	return receive_response(id, noerror, resp);
}

/* Send req on a usable channel; raise if the worker is gone. */
static Treestore__Response *
send_request(Treestore__Request *req, bool want_response)
{
	Treestore__Response *resp = NULL;
	CallFailure f;
	char	   *why;

	ts_call_finish();
	ts_payload_release();
	stream_id = 0;				/* a stream left unread: the channel is busy */
	ensure_channel(false, &why);
	req->id = ++next_request_id;
	f = round_trip(req, want_response, false, &resp);
	if (f != CALL_OK)
		raise_call_failure(f);
	return resp;
}

void
ts_call_finish(void)
{
	Treestore__Response *resp = NULL;
	void		(*done) (Treestore__Response *, void *) = pending_done;
	void	   *arg = pending_arg;
	CallFailure f;

	if (pending_id == 0)
		return;
	f = receive_pending(false, &resp);
	if (f != CALL_OK)
		raise_call_failure(f);
	if (resp->error)
		ts_raise_response_error(resp->error);
	if (done)
		done(resp, arg);
}

void
ts_call_start(Treestore__Request *req, void (*done) (Treestore__Response *resp, void *arg),
			  void *arg)
{
	(void) send_request(req, false);
	chan_busy = true;			/* until its response is read */
	pending_id = req->id;
	pending_done = done;
	pending_arg = arg;
}

void
ts_call_abandon(void)
{
	Treestore__Response *resp = NULL;

	/*
	 * Read and drop the response, so that the channel stays usable; if that
	 * fails, chan_busy stays set and the next request makes a new channel.
	 */
	if (pending_id != 0)
		(void) receive_pending(true, &resp);
}

/* After a response arrived: a part with more to come keeps the channel busy. */
static void
note_stream(Treestore__Response *resp)
{
	if (resp->more)
	{
		chan_busy = true;
		stream_id = resp->id;
	}
	else
		stream_id = 0;
}

Treestore__Response *
ts_call(Treestore__Request *req)
{
	Treestore__Response *resp = send_request(req, true);

	note_stream(resp);
	if (resp->error)
		ts_raise_response_error(resp->error);
	return resp;
}

Treestore__Response *
ts_call_next(void)
{
	Treestore__Response *resp = NULL;
	CallFailure f;

	if (stream_id == 0)
		elog(ERROR, "treestore: no streamed response is being read");
	f = receive_response(stream_id, false, &resp);
	if (f != CALL_OK)
		raise_call_failure(f);
	note_stream(resp);
	if (resp->error)
		ts_raise_response_error(resp->error);
	return resp;
}

static bool
call_noerror(Treestore__Request *req, Treestore__Response **out, char **why,
			 bool reuse_only)
{
	Treestore__Response *resp = NULL;
	CallFailure f;

	ts_call_abandon();
	ts_payload_release();
	if (reuse_only)
	{
		if (chan_seg == NULL || chan_busy || !worker_alive())
		{
			*why = "The treestore worker restarted, or the channel to it was lost.";
			return false;
		}
	}
	else if (!ensure_channel(true, why))
		return false;
	req->id = ++next_request_id;
	f = round_trip(req, true, true, &resp);
	if (f != CALL_OK)
	{
		chan_busy = true;		/* the next request makes a new channel */
		*why = pstrdup(failure_text(f));
		return false;
	}
	if (resp->error)
	{
		*why = psprintf("%s (SQLSTATE %s)", resp->error->message, resp->error->sqlstate);
		return false;
	}
	if (out)
		*out = resp;
	return true;
}

bool
ts_call_noerror(Treestore__Request *req, Treestore__Response **out, char **why)
{
	return call_noerror(req, out, why, false);
}

bool
ts_call_settle(Treestore__Request *req, char **why)
{
	return call_noerror(req, NULL, why, true);
}

void
ts_channel_forget(void)
{
	pending_id = 0;
	pending_done = NULL;
	pending_arg = NULL;
	stream_id = 0;
	if (chan_seg)
		chan_busy = true;
}

void
ts_send_nowait(Treestore__Request *req)
{
	size_t		len;
	uint8	   *buf;
	shm_mq_result r;

	ts_call_abandon();
	/* only on an existing, idle channel: a new one would have nothing to end */
	if (chan_seg == NULL || chan_busy || !worker_alive())
		return;
	ts_payload_release();
	req->id = ++next_request_id;
	len = treestore__request__get_packed_size(req);
	buf = palloc(len);
	treestore__request__pack(req, buf);
	r = shm_mq_send(req_mqh, len, buf, true, true);
	if (r == SHM_MQ_WOULD_BLOCK)
		chan_busy = true;		/* half sent: the next request makes a new channel */
	pfree(buf);
}
