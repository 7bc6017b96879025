/*-------------------------------------------------------------------------
 *
 * channel.h
 *	  A backend's end of the IPC with the TreeStore worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_CHANNEL_H
#define TS_CHANNEL_H

#include "wire.h"

/*
 * Send req and wait for its response (allocated in the current memory
 * context).  Errors from the worker are raised here with their SQLSTATE;
 * a dead, restarting or silent worker raises 08006 or 57P03.
 */
extern Treestore__Response *ts_call(Treestore__Request *req);

/*
 * After a response with more set (a streamed Query): read the next part.
 * The channel counts as busy until the last part is read, so a call that
 * stops between parts (an error, a cancel) leaves it to be replaced.
 */
extern Treestore__Response *ts_call_next(void);

/*
 * Send req now and read its response later -- at ts_call_finish, or before
 * the next request -- so that the backend prepares its next request while
 * the worker executes this one.  done(resp, arg) is called with the
 * response; an error response is raised by whichever call reads it.
 * ts_call_abandon (transaction and subtransaction abort) reads and drops
 * it, never raising.
 */
extern void ts_call_start(Treestore__Request *req,
						  void (*done) (Treestore__Response *resp, void *arg), void *arg);
extern void ts_call_finish(void);
extern void ts_call_abandon(void);

/* Send a request that has no response (EndTxn, CloseScan); never raises. */
extern void ts_send_nowait(Treestore__Request *req);

/*
 * ts_call that never raises and waits at most a few seconds, for health
 * and metrics.  Returns false with *why set on any failure, including an
 * error response; on success *resp (if not NULL) is the response.
 */
extern bool ts_call_noerror(Treestore__Request *req, Treestore__Response **resp, char **why);

/*
 * ts_call_noerror on the channel that exists, idle, to the same worker --
 * never a new one: transaction-end callbacks, where making a DSM segment
 * could raise.  False (with *why) when there is none.
 */
extern bool ts_call_settle(Treestore__Request *req, char **why);

/*
 * After an error was caught in a callback: forget any response due and
 * leave the channel to be replaced by the next request.  Never raises.
 */
extern void ts_channel_forget(void);

/*
 * The payload of the last response (a scan batch's rows), in place in the
 * queue: valid until the next request on the channel.  A caller that keeps
 * it registers a release callback, called before that request (and dropped
 * when owner_cxt goes), which must copy what it still needs.
 */
extern const uint8 *ts_response_payload;
extern size_t ts_response_payload_len;
extern void ts_payload_borrow(void (*release) (void *arg), void *arg, MemoryContext owner_cxt);
extern void ts_payload_return(void *arg);
/* The borrower copies what it still needs now (before a local answer
 * replaces ts_response_payload: local.c). */
extern void ts_payload_release(void);

/* Raise an error response with its SQLSTATE. */
extern void ts_raise_response_error(Treestore__Error *e);

/* Generation of the worker the current channel talks to (0: none). */
extern uint32 ts_channel_worker_generation(void);

/* 0A000 unless the database's encoding is UTF8 */
extern void ts_require_utf8(void);

/* Round trips made by this backend (EXPLAIN ANALYZE shows deltas). */
extern uint64 ts_round_trips;

#endif							/* TS_CHANNEL_H */
