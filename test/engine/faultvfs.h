/*
 * faultvfs.h
 *	  A fault-injecting VFS for tests (header-only).
 *
 *	  faultvfs_new(base) returns a ts_vfs that passes every operation to
 *	  `base`, counts them, and fails chosen ones with EIO (or fv->err):
 *
 *	      ts_vfs   *vfs = faultvfs_new(ts_vfs_posix());
 *	      faultvfs *fv = FAULTVFS(vfs);
 *	      opt.vfs = vfs;  ...open the environment...
 *	      faultvfs_fail_write(fv, 3);		// the 3rd write from now fails
 *	      faultvfs_fail_sync(fv, 1);		// the next file sync fails
 *	      faultvfs_fail_all(fv, 1);		// everything fails from now on
 *	      faultvfs_hold_data_syncs(fv, 1);	// data-file syncs wait (see below)
 *	      ... fv->writes, fv->syncs, fv->failures ...
 *	      faultvfs_reset(fv);			// disarm (counters kept)
 *	      faultvfs_free(vfs);			// after every file is closed
 *
 *	  Rules:
 *	  - fail_write / fail_sync / fail_read are one-shot: the N-th matching
 *	    call after arming fails (N >= 1), later ones pass again.  A failed
 *	    write writes nothing.  "sync" means the file sync (fdatasync), not
 *	    sync_dir.
 *	  - fail_all makes every operation fail until disarmed, except close
 *	    (which still closes the underlying file, so nothing leaks) and exists
 *	    (which cannot report an error).
 *	  - An injected failure records "faultvfs: injected write failure" (etc.)
 *	    for ts_last_error(); link error.c.
 *	  - Counters count attempts, failed ones included; `failures` counts the
 *	    injected failures.  They are atomic: reader threads may use the VFS
 *	    concurrently.
 *	  - Files opened through the wrapper are wrapped too, so every later
 *	    call on them (f->vfs->write(f, ...)) goes through the wrapper.
 *	  - While hold_data_syncs is set, a sync of the data file (TS_DATA_FILE)
 *	    waits until it is cleared, but at most FAULTVFS_HOLD_MS; the syncs
 *	    waiting are counted in data_syncs_waiting.  A test sees with it who
 *	    waits for a checkpoint.
 */
#ifndef TS_TEST_FAULTVFS_H
#define TS_TEST_FAULTVFS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "format.h"
#include "vfs.h"

#define FAULTVFS_HOLD_MS 3000

typedef struct faultvfs
{
	ts_vfs		vfs;			/* must be first: FAULTVFS() casts back */
	ts_vfs	   *base;
	int			err;			/* errno injected; EIO by default */

	/* Counters (attempts, failed ones included). */
	atomic_long opens;
	atomic_long reads;
	atomic_long writes;
	atomic_long syncs;			/* file syncs */
	atomic_long dir_syncs;
	atomic_long truncates;
	atomic_long renames;
	atomic_long unlinks;
	atomic_long bytes_written;	/* by writes that were passed on */
	atomic_long failures;		/* injected failures */

	/* Arming: countdowns (0 = disarmed) and the fail-everything switch. */
	atomic_long write_countdown;
	atomic_long sync_countdown;
	atomic_long read_countdown;
	atomic_int	fail_all;

	atomic_int	hold_data_syncs;
	atomic_long data_syncs_waiting;
} faultvfs;

typedef struct faultvfs_file
{
	ts_file		base;			/* must be first */
	ts_file    *inner;
	int			is_data;		/* the data file */
} faultvfs_file;

#define FAULTVFS(v) ((faultvfs *) (v))

/* Count one call down; true when it is the armed N-th one. */
static inline int
faultvfs_hit(atomic_long *countdown)
{
	return atomic_load(countdown) > 0 && atomic_fetch_sub(countdown, 1) == 1;
}

/* An injected failure: counted, and named in ts_last_error(). */
static inline int
faultvfs_inject(faultvfs *fv, const char *op)
{
	atomic_fetch_add(&fv->failures, 1);
	return ts_error(fv->err, "faultvfs: injected %s failure", op);
}

static inline int
faultvfs_open(ts_vfs *vfs, const char *path, int flags, ts_file **out)
{
	faultvfs   *fv = FAULTVFS(vfs);
	faultvfs_file *ff;
	int			rc;

	*out = NULL;
	atomic_fetch_add(&fv->opens, 1);
	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "open");
	ff = malloc(sizeof(*ff));
	if (ff == NULL)
		return ENOMEM;
	rc = fv->base->open(fv->base, path, flags, &ff->inner);
	if (rc != 0)
	{
		free(ff);
		return rc;
	}
	ff->base.vfs = vfs;
	ff->is_data = strlen(path) >= strlen(TS_DATA_FILE) &&
		strcmp(path + strlen(path) - strlen(TS_DATA_FILE), TS_DATA_FILE) == 0;
	*out = &ff->base;
	return 0;
}

static inline int
faultvfs_close(ts_file *f)
{
	faultvfs_file *ff = (faultvfs_file *) f;
	int			rc = ff->inner->vfs->close(ff->inner);

	free(ff);
	return rc;
}

static inline int
faultvfs_read(ts_file *f, void *buf, size_t n, uint64_t off)
{
	faultvfs_file *ff = (faultvfs_file *) f;
	faultvfs   *fv = FAULTVFS(f->vfs);

	atomic_fetch_add(&fv->reads, 1);
	if (atomic_load(&fv->fail_all) || faultvfs_hit(&fv->read_countdown))
		return faultvfs_inject(fv, "read");
	return ff->inner->vfs->read(ff->inner, buf, n, off);
}

static inline int
faultvfs_write(ts_file *f, const void *buf, size_t n, uint64_t off)
{
	faultvfs_file *ff = (faultvfs_file *) f;
	faultvfs   *fv = FAULTVFS(f->vfs);

	atomic_fetch_add(&fv->writes, 1);
	if (atomic_load(&fv->fail_all) || faultvfs_hit(&fv->write_countdown))
		return faultvfs_inject(fv, "write");
	atomic_fetch_add(&fv->bytes_written, (long) n);
	return ff->inner->vfs->write(ff->inner, buf, n, off);
}

static inline int
faultvfs_sync(ts_file *f)
{
	faultvfs_file *ff = (faultvfs_file *) f;
	faultvfs   *fv = FAULTVFS(f->vfs);

	atomic_fetch_add(&fv->syncs, 1);
	if (atomic_load(&fv->fail_all) || faultvfs_hit(&fv->sync_countdown))
		return faultvfs_inject(fv, "sync");
	if (ff->is_data && atomic_load(&fv->hold_data_syncs))
	{
		struct timespec ms = {0, 1000000};

		atomic_fetch_add(&fv->data_syncs_waiting, 1);
		for (int i = 0; i < FAULTVFS_HOLD_MS && atomic_load(&fv->hold_data_syncs); i++)
			nanosleep(&ms, NULL);
		atomic_fetch_sub(&fv->data_syncs_waiting, 1);
	}
	return ff->inner->vfs->sync(ff->inner);
}

static inline int
faultvfs_truncate(ts_file *f, uint64_t size)
{
	faultvfs_file *ff = (faultvfs_file *) f;
	faultvfs   *fv = FAULTVFS(f->vfs);

	atomic_fetch_add(&fv->truncates, 1);
	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "truncate");
	return ff->inner->vfs->truncate(ff->inner, size);
}

static inline int
faultvfs_size(ts_file *f, uint64_t *size)
{
	faultvfs_file *ff = (faultvfs_file *) f;
	faultvfs   *fv = FAULTVFS(f->vfs);

	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "size");
	return ff->inner->vfs->size(ff->inner, size);
}

static inline int
faultvfs_rename(ts_vfs *vfs, const char *from, const char *to)
{
	faultvfs   *fv = FAULTVFS(vfs);

	atomic_fetch_add(&fv->renames, 1);
	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "rename");
	return fv->base->rename(fv->base, from, to);
}

static inline int
faultvfs_unlink(ts_vfs *vfs, const char *path)
{
	faultvfs   *fv = FAULTVFS(vfs);

	atomic_fetch_add(&fv->unlinks, 1);
	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "unlink");
	return fv->base->unlink(fv->base, path);
}

static inline int
faultvfs_mkdir(ts_vfs *vfs, const char *path)
{
	faultvfs   *fv = FAULTVFS(vfs);

	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "mkdir");
	return fv->base->mkdir(fv->base, path);
}

static inline int
faultvfs_sync_dir(ts_vfs *vfs, const char *path)
{
	faultvfs   *fv = FAULTVFS(vfs);

	atomic_fetch_add(&fv->dir_syncs, 1);
	if (atomic_load(&fv->fail_all))
		return faultvfs_inject(fv, "sync_dir");
	return fv->base->sync_dir(fv->base, path);
}

static inline int
faultvfs_exists(ts_vfs *vfs, const char *path)
{
	faultvfs   *fv = FAULTVFS(vfs);

	return fv->base->exists(fv->base, path);
}

/* A new wrapper around `base` (not owned); NULL on out of memory. */
static inline ts_vfs *
faultvfs_new(ts_vfs *base)
{
	faultvfs   *fv = calloc(1, sizeof(*fv));

	if (fv == NULL)
		return NULL;
	fv->vfs.open = faultvfs_open;
	fv->vfs.close = faultvfs_close;
	fv->vfs.read = faultvfs_read;
	fv->vfs.write = faultvfs_write;
	fv->vfs.sync = faultvfs_sync;
	fv->vfs.truncate = faultvfs_truncate;
	fv->vfs.size = faultvfs_size;
	fv->vfs.rename = faultvfs_rename;
	fv->vfs.unlink = faultvfs_unlink;
	fv->vfs.mkdir = faultvfs_mkdir;
	fv->vfs.sync_dir = faultvfs_sync_dir;
	fv->vfs.exists = faultvfs_exists;
	fv->vfs.ctx = fv;
	fv->base = base;
	fv->err = EIO;
	return &fv->vfs;
}

/* Free the wrapper (not the base); every file opened through it closed. */
static inline void
faultvfs_free(ts_vfs *vfs)
{
	free(FAULTVFS(vfs));
}

/* Fail the n-th write from now (n >= 1), once; n = 0 disarms. */
static inline void
faultvfs_fail_write(faultvfs *fv, long n)
{
	atomic_store(&fv->write_countdown, n);
}

/* Fail the n-th file sync from now (n >= 1), once; n = 0 disarms. */
static inline void
faultvfs_fail_sync(faultvfs *fv, long n)
{
	atomic_store(&fv->sync_countdown, n);
}

/* Fail the n-th read from now (n >= 1), once; n = 0 disarms. */
static inline void
faultvfs_fail_read(faultvfs *fv, long n)
{
	atomic_store(&fv->read_countdown, n);
}

/* on = 1: fail every operation from now on (but close and exists). */
static inline void
faultvfs_fail_all(faultvfs *fv, int on)
{
	atomic_store(&fv->fail_all, on);
}

static inline void
faultvfs_hold_data_syncs(faultvfs *fv, int on)
{
	atomic_store(&fv->hold_data_syncs, on);
}

/* Disarm everything; the counters are kept. */
static inline void
faultvfs_reset(faultvfs *fv)
{
	faultvfs_fail_write(fv, 0);
	faultvfs_fail_sync(fv, 0);
	faultvfs_fail_read(fv, 0);
	faultvfs_fail_all(fv, 0);
	faultvfs_hold_data_syncs(fv, 0);
}

#endif							/* TS_TEST_FAULTVFS_H */
