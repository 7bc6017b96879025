/*-------------------------------------------------------------------------
 *
 * search.h
 *	  Search terms of node rows and the search function (search.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_SEARCH_H
#define TS_SEARCH_H

#include "stores.h"
#include "wire.h"

/*
 * The search terms of a row of st (a record as stored) for RowOp.terms, in
 * the current memory context; nothing (len 0) unless st is nodes.
 */
extern void ts_search_node_terms(const ts_store *st, const uint8 *rec, size_t rlen,
								 ProtobufCBinaryData *out);

#endif							/* TS_SEARCH_H */
