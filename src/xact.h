/*-------------------------------------------------------------------------
 *
 * xact.h
 *	  PostgreSQL transactions -> engine transactions (xact.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_XACT_H
#define TS_XACT_H

#include "wire.h"

/*
 * Fill req's transaction fields (lxid, statement, isolation, subtransaction,
 * rolled-back subtransactions) for a request in the current transaction;
 * write: the request modifies (forces an xid).  After ts_call succeeds, call
 * ts_xact_request_sent.
 */
extern void ts_xact_request(Treestore__Request *req, bool write);

/*
 * The same for a request that continues a scan begun in statement stmt (a
 * Fetch): it keeps that statement's snapshot, and drains nothing.
 */
extern void ts_xact_request_continue(Treestore__Request *req, uint32 stmt);
extern void ts_xact_request_sent(void);
extern bool ts_xact_wrote(void);
/* The statement counter (ExecutorStart): a READ COMMITTED snapshot's scope. */
extern uint32 ts_xact_statement(void);

#endif							/* TS_XACT_H */
