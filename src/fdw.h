/*-------------------------------------------------------------------------
 *
 * fdw.h
 *	  The foreign data wrapper's callbacks, split by role: planning and
 *	  scans (fdw.c), modifications (fdw_modify.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_FDW_H
#define TS_FDW_H

#include "foreign/fdwapi.h"

extern void ts_fdw_modify_routines(FdwRoutine *routine);

/*
 * Before the first request of statement stmt: every scan still open from
 * an earlier statement reads its rest now, in its own statement's snapshot.
 */
extern void ts_fdw_drain_scans(uint32 stmt);

#endif							/* TS_FDW_H */
