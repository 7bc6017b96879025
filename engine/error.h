/*-------------------------------------------------------------------------
 *
 * error.h
 *	  Engine error reporting: every failure returns a code (treestore.h) and
 *	  records a detailed, thread-local message for ts_last_error().
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_ERROR_H
#define TS_ERROR_H

#include "treestore.h"

/* Record a message for ts_last_error() and return `code` (for tail calls). */
int			ts_error(int code, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* Clear the thread's message. */
void		ts_error_clear(void);

#endif							/* TS_ERROR_H */
