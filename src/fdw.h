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

#endif							/* TS_FDW_H */
