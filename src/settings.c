/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The treestore.* settings.
 *
 *	  Engine settings are read by the worker when it opens the engine
 *	  (PGC_POSTMASTER; PGC_SIGHUP in a backend that loads the library
 *	  without the preload, where there is no worker); the timeouts are per
 *	  session.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "miscadmin.h"
#include "utils/guc.h"

#define DEFAULT_CACHE_MB 128
#define MIN_CACHE_MB 1
#define MAX_CACHE_MB (1024 * 1024)

char	   *ts_data_directory = NULL;
int			ts_cache_mb = DEFAULT_CACHE_MB;
int			ts_checkpoint_timeout_s = 600;
int			ts_checkpoint_wal_mb = 256;
int			ts_wal_segment_mb = 100;
int			ts_wal_keep_segments = 3;
bool		ts_synchronous_commit = true;
int			ts_request_timeout_ms = 30000;
int			ts_startup_timeout_ms = 5000;
int			ts_max_transaction_mb = 1024;
char	   *ts_debug_fault = NULL;
bool		ts_backend_reads = true;
int			ts_backend_cache_kb = 2048;

/* the longest any session may make a request or startup wait */
#define MAX_WAIT_MS (10 * 60 * 1000)

void
ts_fault_point(const char *name)
{
	if (ts_debug_fault && ts_debug_fault[0] && strcmp(ts_debug_fault, name) == 0)
		elog(ERROR, "treestore: injected fault at \"%s\"", name);
}

/* Is the worker's fault point `name` armed (treestore.debug_fault)? */
static bool
worker_fault_armed(const char *name)
{
	bool		hit;

	if (ts_shared == NULL)
		return false;
	SpinLockAcquire(&ts_shared->mutex);
	hit = ts_shared->worker_fault[0] && strcmp(ts_shared->worker_fault, name) == 0;
	SpinLockRelease(&ts_shared->mutex);
	return hit;
}

void
ts_worker_fault_point(const char *name)
{
	if (worker_fault_armed(name))
		elog(ERROR, "treestore: injected fault at \"%s\"", name);
}

/* A point where the worker kills itself with SIGKILL (crash tests). */
void
ts_worker_fault_kill(const char *name)
{
	if (worker_fault_armed(name))
	{
		ereport(LOG, (errmsg("treestore worker killing itself at \"%s\"", name)));
		kill(MyProcPid, SIGKILL);
		pg_usleep(10 * 1000 * 1000L);
	}
}

/*
 * Points named "worker-*" are for the worker, which has settings of its
 * own: a backend that sets one publishes it in shared memory, and clears it
 * when it sets anything else.
 */
static void
assign_debug_fault(const char *newval, void *extra)
{
	static bool published = false;
	bool		worker = newval && strncmp(newval, "worker-", 7) == 0;

	if (ts_shared == NULL || IsBackgroundWorker || (!worker && !published))
		return;
	SpinLockAcquire(&ts_shared->mutex);
	strlcpy(ts_shared->worker_fault, worker ? newval : "", sizeof(ts_shared->worker_fault));
	SpinLockRelease(&ts_shared->mutex);
	published = worker;
}

void
ts_settings_init(void)
{
	/*
	 * PostgreSQL refuses, with a FATAL that ends the session, to create a
	 * PGC_POSTMASTER setting after startup.  Loaded without the preload
	 * (CREATE EXTENSION, a function call, LOAD) nothing reads the engine's
	 * settings -- there is no worker -- and the entry points must be able to
	 * say what to add to shared_preload_libraries: define them as
	 * PGC_SIGHUP then.
	 */
	GucContext	engine = process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomStringVariable("treestore.data_directory",
							   "Directory of the TreeStore engine's files.",
							   "A relative path is taken from the cluster's data directory.",
							   &ts_data_directory, "treestore",
							   engine, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.cache_size",
							"Size of the engine's page cache.",
							NULL, &ts_cache_mb, DEFAULT_CACHE_MB, MIN_CACHE_MB, MAX_CACHE_MB,
							engine, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.checkpoint_timeout",
							"Longest time between automatic engine checkpoints.",
							"0 turns time-based checkpoints off.",
							&ts_checkpoint_timeout_s, 600, 0, 86400,
							engine, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.checkpoint_wal_size",
							"Engine write-ahead log written that triggers a checkpoint.",
							NULL, &ts_checkpoint_wal_mb, 256, 1, 1024 * 1024,
							engine, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.wal_segment_size",
							"Size at which the engine starts a new write-ahead log segment.",
							NULL, &ts_wal_segment_mb, 100, 1, 1024,
							engine, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.wal_keep_segments",
							"Write-ahead log segments kept behind the last checkpoint.",
							NULL, &ts_wal_keep_segments, 3, 0, 1000,
							engine, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("treestore.synchronous_commit",
							 "Make each engine commit durable before it returns.",
							 "Off: commits return before the log is flushed (at most 200 ms of "
							 "committed work can be lost in a crash of the server).",
							 &ts_synchronous_commit, true,
							 engine, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.max_transaction_size",
							"Largest write set one transaction may hold in the worker.",
							"Past it a write fails with 54000 (program_limit_exceeded).",
							&ts_max_transaction_mb, 1024, 1, 64 * 1024,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.request_timeout",
							"Longest wait for the TreeStore worker to answer a request.",
							NULL, &ts_request_timeout_ms, 30000, 100, MAX_WAIT_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.startup_timeout",
							"Longest wait for a starting TreeStore worker to become ready.",
							NULL, &ts_startup_timeout_ms, 5000, 0, MAX_WAIT_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("treestore.backend_reads",
							 "Lets a backend read the engine itself instead of asking the worker.",
							 "Reads of a transaction that has not written treestore (READ COMMITTED, or READ ONLY) run in the backend, on the engine's newest snapshot.",
							 &ts_backend_reads, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("treestore.backend_cache_size",
							"Size of each backend's cache of engine pages.",
							"Pages read from the data file are verified and kept here; the operating system's page cache is shared.",
							&ts_backend_cache_kb, 2048, 64, 1024 * 1024, PGC_BACKEND,
							GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomStringVariable("treestore.debug_fault",
							   "Raise an error at the named point (for tests only).",
							   "Points: commit, abort (the transaction callbacks); in the worker: "
							   "worker-request, worker-query-row, worker-read-ahead, worker-respond, "
							   "worker-attach, worker-reap, worker-settle.",
							   &ts_debug_fault, "",
							   PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, NULL,
							   assign_debug_fault, NULL);
	MarkGUCPrefixReserved("treestore");
}
