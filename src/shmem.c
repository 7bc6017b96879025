/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared state between the backends and the TreeStore worker: the
 *	  worker's status and one channel slot per backend.
 *
 *	  Requested the PostgreSQL 15 way (shmem_request_hook) and so only when
 *	  the library is in shared_preload_libraries; ts_shared is NULL
 *	  otherwise and every entry point says what to add (ts_preloaded).
 *	  A slot is indexed by MyBackendId - 1 and written only by its backend;
 *	  the worker reads it when channels_changed moves.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "local.h"
#include "treestore.h"

TsShared   *ts_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool loaded_at_startup = false;

static Size
shared_size(void)
{
	return add_size(offsetof(TsShared, slots), mul_size(MaxBackends, sizeof(TsSlot)));
}

static void
ts_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestAddinShmemSpace(ts_reader_region_size());
}

/*
 * Count this start (or crash restart) of the postmaster in
 * $PGDATA/treestore.incarnation: read, add one, write a new file, fsync it,
 * rename it over the old one, fsync the directory -- durable before the
 * startup process replays any WAL, so no two lifetimes of the server share a
 * number.  0 if that fails (logged): backends then keep the xid's WAL flush
 * before each prepare (xact.c).
 */
static uint64
count_incarnation(void)
{
	char		path[MAXPGPATH],
				tmp[MAXPGPATH],
				buf[32];
	uint64		n = 0;
	int			fd;
	ssize_t		len;

	snprintf(path, sizeof(path), "%s/treestore.incarnation", DataDir);
	snprintf(tmp, sizeof(tmp), "%s/treestore.incarnation.tmp", DataDir);
	if ((fd = open(path, O_RDONLY, 0)) >= 0)
	{
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len > 0)
		{
			buf[len] = '\0';
			n = strtoull(buf, NULL, 10);
		}
	}
	n++;
	snprintf(buf, sizeof(buf), UINT64_FORMAT "\n", n);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, S_IRUSR | S_IWUSR)) < 0 ||
		write(fd, buf, strlen(buf)) != (ssize_t) strlen(buf) ||
		pg_fsync(fd) != 0 || close(fd) != 0 ||
		rename(tmp, path) != 0 || fsync_fname_ext(DataDir, true, true, LOG) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("treestore could not count this start in \"%s\": %m", path),
				 errdetail("Every treestore commit flushes PostgreSQL's WAL once more until a start succeeds.")));
		return 0;
	}
	return n;
}

static void
ts_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ts_shared = ShmemInitStruct("treestore_fdw", shared_size(), &found);
	if (!found)
	{
		memset(ts_shared, 0, shared_size());
		SpinLockInit(&ts_shared->mutex);
		ts_shared->state = TS_WORKER_NONE;
		ts_shared->worker_procno = -1;
		pg_atomic_init_u32(&ts_shared->channels_changed, 0);
		pg_atomic_init_u32(&ts_shared->waiting, 0);
		ts_shared->nslots = MaxBackends;
		/* the postmaster (or a single-user backend): a new lifetime */
		ts_shared->incarnation = IsUnderPostmaster ? 0 : count_incarnation();
		for (int i = 0; i < MaxBackends; i++)
			SpinLockInit(&ts_shared->slots[i].mutex);
	}
	/* the engine's reader table (local.c): reset with every shared memory */
	ts_reader_region = ShmemInitStruct("treestore_fdw readers", ts_reader_region_size(), &found);
	if (!found && ts_shared_init(ts_reader_region, ts_reader_region_size(), (uint32) MaxBackends) != 0)
		elog(FATAL, "could not initialize the treestore reader table: %s", ts_last_error());
	LWLockRelease(AddinShmemInitLock);
}

void
ts_shmem_init(void)
{
	loaded_at_startup = process_shared_preload_libraries_in_progress;
	if (!loaded_at_startup)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ts_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ts_shmem_startup;
}

bool
ts_preloaded(void)
{
	return ts_shared != NULL;
}

/* Set the worker's latch, if there is a worker. */
void
ts_wake_worker(void)
{
	int			procno;

	SpinLockAcquire(&ts_shared->mutex);
	procno = ts_shared->worker_procno;
	SpinLockRelease(&ts_shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/* The worker's state in words (health(), stats(), metrics()). */
const char *
ts_worker_state_name(TsWorkerState st)
{
	switch (st)
	{
		case TS_WORKER_NONE:
			return "not started";
		case TS_WORKER_STARTING:
			return "starting";
		case TS_WORKER_READY:
			return "ready";
		case TS_WORKER_FAILED:
			return "failed";
		case TS_WORKER_STOPPED:
			return "stopped";
	}
	return "unknown";
}
