/*-------------------------------------------------------------------------
 *
 * error.c
 *	  Error names and the thread-local detailed message.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char last_error[512];

const char *
ts_strerror(int err)
{
	switch (err)
	{
		case TS_OK:
			return "success";
		case TS_NOTFOUND:
			return "not found";
		case TS_EXISTS:
			return "already exists";
		case TS_CONFLICT:
			return "write conflict: another transaction committed a write to the same key first";
		case TS_CORRUPT:
			return "data corrupted";
		case TS_TOO_NEW:
			return "file written by a newer on-disk format";
		case TS_FULL:
			return "out of space";
		case TS_KEY_TOO_BIG:
			return "key empty or too long";
		case TS_BAD_TXN:
			return "operation not valid in this transaction state";
		case TS_INVALID:
			return "invalid argument";
		case TS_POISONED:
			return "engine refuses writes after an earlier write or sync failure";
		case TS_NOMEM:
			return "out of memory";
		case TS_BUSY:
			return "data file in use by another environment";
		case TS_VALUE_TOO_BIG:
			return "value too long";
	}
	if (err > 0)
		return strerror(err);
	return "unknown error";
}

const char *
ts_last_error(void)
{
	return last_error[0] ? last_error : "no error recorded";
}

int
ts_error(int code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return code;
}

void
ts_error_clear(void)
{
	last_error[0] = '\0';
}
