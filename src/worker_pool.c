/*-------------------------------------------------------------------------
 *
 * worker_pool.c
 *	  The engine calls that wait for the disk, on threads of the worker.
 *
 *	  A prepare (ts_txn_prepare: its log record fdatasync'ed) while other
 *	  sessions are active, and treestore.checkpoint(), run here, so that
 *	  the worker's main loop goes on serving the other sessions, and so
 *	  that the prepares of many sessions wait in the engine's log at the
 *	  same time and share one fdatasync (ts_wal_flush takes everything
 *	  appended while the last flush was running).  A session alone
 *	  prepares on the main loop (nobody waits for it; a hand-off to a
 *	  thread and back costs 100-500 us on the development VM), and the
 *	  commit of a prepared transaction never syncs (ts_txn_commit_nosync):
 *	  both in worker_ops.c.
 *
 *	  The threads call the engine only: never palloc, elog, ereport,
 *	  SetLatch or anything else of PostgreSQL's.  A job is malloc'ed by the
 *	  main thread, handed over under `lock`, run, and handed back on the
 *	  done list; the thread then writes to an eventfd that the main loop
 *	  waits on beside its latch (WaitEventSet), and the main loop answers
 *	  the session (worker.c, complete_jobs).  The engine's error message is
 *	  thread-local: the thread copies it into the job.  The threads start
 *	  with every signal blocked: PostgreSQL's handlers run on the main
 *	  thread only.  The engine allows different transactions on different
 *	  threads; a session whose job runs is "busy" and nothing else touches
 *	  its transaction meanwhile.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

/*
 * Prepares that can wait in one group: one per concurrent session up to
 * this (each thread mostly sleeps in the engine).
 */
#define POOL_THREADS 16

static pthread_t threads[POOL_THREADS];
static int	nthreads = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static TsJob *todo_head = NULL,
		   *todo_tail = NULL,
		   *done_head = NULL,
		   *done_tail = NULL;
static bool stopping = false;
static int	efd = -1;

/* main thread only */
static int	in_flight = 0;
static int	prepares_in_flight = 0;

static void
run_job(TsJob *j)
{
	switch (j->kind)
	{
		case TS_JOB_PREPARE:
			j->rc = ts_txn_prepare(j->txn, j->gid);
			break;
		case TS_JOB_CHECKPOINT:
			j->rc = ts_env_checkpoint(j->env);
			break;
	}
	if (j->rc != 0)
		snprintf(j->err, sizeof(j->err), "%s", ts_last_error());
}

/* Put a finished job on the done list and wake the main loop. */
static void
finish(TsJob *j)
{
	uint64_t	one = 1;

	pthread_mutex_lock(&lock);
	j->next = NULL;
	if (done_tail)
		done_tail->next = j;
	else
		done_head = j;
	done_tail = j;
	pthread_mutex_unlock(&lock);
	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0)
	{
		/* EAGAIN: the counter is full, so the main loop wakes anyway */
	}
}

static void *
pool_main(void *arg)
{
	pthread_mutex_lock(&lock);
	for (;;)
	{
		TsJob	   *j;

		while (todo_head == NULL && !stopping)
			pthread_cond_wait(&cond, &lock);
		if (todo_head == NULL)
			break;				/* stopping, and nothing left to do */
		j = todo_head;
		todo_head = j->next;
		if (todo_head == NULL)
			todo_tail = NULL;
		pthread_mutex_unlock(&lock);
		run_job(j);
		finish(j);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Start the threads (fewer, or none, if they cannot be made: jobs then run inline). */
void
ts_pool_start(void)
{
	sigset_t	all,
				old;

	stopping = false;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		ereport(WARNING,
				(errmsg("treestore worker could not make an eventfd: %m"),
				 errdetail("Prepares and commits run on the main loop, one after another.")));
	else
	{
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (nthreads = 0; nthreads < POOL_THREADS; nthreads++)
			if (pthread_create(&threads[nthreads], NULL, pool_main, NULL) != 0)
				break;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (nthreads < POOL_THREADS)
			ereport(WARNING,
					(errmsg("treestore worker started %d of %d threads", nthreads, POOL_THREADS)));
	}
}

/* Wait for every job given to the threads, then end them. */
void
ts_pool_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
}

void
ts_pool_submit(TsJob *j)
{
	in_flight++;
	if (j->kind == TS_JOB_PREPARE)
		prepares_in_flight++;
	if (nthreads == 0)
	{
		run_job(j);
		finish(j);
		return;
	}
	pthread_mutex_lock(&lock);
	j->next = NULL;
	if (todo_tail)
		todo_tail->next = j;
	else
		todo_head = j;
	todo_tail = j;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

/* The jobs finished since the last call, in the order they finished. */
TsJob *
ts_pool_take_done(void)
{
	TsJob	   *list;
	uint64_t	v;

	if (in_flight == 0)
		return NULL;
	if (efd >= 0 && read(efd, &v, sizeof(v)) < 0)
	{
		/* EAGAIN: nothing was written since the last read */
	}
	pthread_mutex_lock(&lock);
	list = done_head;
	done_head = done_tail = NULL;
	pthread_mutex_unlock(&lock);
	for (TsJob *j = list; j; j = j->next)
	{
		in_flight--;
		if (j->kind == TS_JOB_PREPARE)
			prepares_in_flight--;
	}
	return list;
}

int
ts_pool_fd(void)
{
	return efd;
}

int
ts_pool_in_flight(void)
{
	return in_flight;
}

int
ts_pool_prepares_in_flight(void)
{
	return prepares_in_flight;
}
