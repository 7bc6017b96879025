/*-------------------------------------------------------------------------
 *
 * vfs.h
 *	  The file-system interface under the engine.
 *
 *	  Every pread, pwrite, fsync, ftruncate, rename, unlink and directory sync
 *	  the engine performs goes through a ts_vfs, so that tests can substitute
 *	  one that injects faults or simulates a crash (dropping, keeping, tearing
 *	  or garbling writes not yet synced).  ts_vfs_posix() is the real one.
 *
 *	  Contract of each operation: return 0 on success or a positive errno.
 *	  read returns exactly n bytes or fails; reading past the end of the file
 *	  fills the missing bytes with zeros and returns 0 (a page never written
 *	  reads as zeros and then fails its checksum).  sync is fdatasync.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_VFS_H
#define TS_VFS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_file ts_file;
typedef struct ts_vfs ts_vfs;

struct ts_file
{
	ts_vfs	   *vfs;			/* the vfs that opened it */
};

#define TS_VFS_CREATE	0x01	/* create the file if missing */
#define TS_VFS_RDONLY	0x02	/* open for reading only (no write, sync,
								 * truncate will be asked of it) */

struct ts_vfs
{
	int			(*open) (ts_vfs *vfs, const char *path, int flags, ts_file **out);
	int			(*close) (ts_file *f);
	int			(*read) (ts_file *f, void *buf, size_t n, uint64_t off);
	int			(*write) (ts_file *f, const void *buf, size_t n, uint64_t off);

	/*
	 * Optional (may be NULL): write `n` buffers of `size` bytes each to
	 * consecutive offsets from `off` in one call (pwritev).  The engine falls
	 * back to one write per buffer without it.
	 */
	int			(*writev) (ts_file *f, const void *const *bufs, size_t n, size_t size,
						   uint64_t off);
	int			(*sync) (ts_file *f);
	int			(*truncate) (ts_file *f, uint64_t size);
	int			(*size) (ts_file *f, uint64_t *size);
	int			(*rename) (ts_vfs *vfs, const char *from, const char *to);
	int			(*unlink) (ts_vfs *vfs, const char *path);
	int			(*mkdir) (ts_vfs *vfs, const char *path);	/* EEXIST is success */
	int			(*sync_dir) (ts_vfs *vfs, const char *path);
	int			(*exists) (ts_vfs *vfs, const char *path);	/* 1, 0 */

	/*
	 * Optional (may be NULL): take an exclusive lock on the open file for as
	 * long as it stays open, without waiting; EWOULDBLOCK if another open
	 * file holds it.  Keeps two environments off one data file.
	 */
	int			(*lock) (ts_file *f);

	/*
	 * Optional (may be NULL): call fn(name, arg) for every entry of the
	 * directory (not "." or ".."); a non-zero return from fn stops the walk
	 * and is returned.  Without it, the log finds its segments by probing
	 * with exists (slower once many segments have been removed).
	 */
	int			(*list) (ts_vfs *vfs, const char *dir,
						 int (*fn) (const char *name, void *arg), void *arg);
	void	   *ctx;			/* for wrappers */
};

ts_vfs	   *ts_vfs_posix(void);

#endif							/* TS_VFS_H */
