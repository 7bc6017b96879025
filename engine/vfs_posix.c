/*-------------------------------------------------------------------------
 *
 * vfs_posix.c
 *	  The real file system under the engine: vfs.h on POSIX system calls.
 *
 *	  Invariants:
 *	  - Every operation returns 0 or a positive errno, and on failure records
 *	    a ts_error message naming the operation and the path.
 *	  - read and write transfer exactly n bytes or fail: partial transfers and
 *	    EINTR are retried; a read that reaches the end of the file zero-fills
 *	    the rest of the buffer and succeeds (vfs.h).
 *	  - Files are opened O_RDWR (O_RDONLY with TS_VFS_RDONLY) | O_CLOEXEC (never inherited by a child
 *	    process), created 0600 with TS_VFS_CREATE; directories 0700.
 *	  - sync is fdatasync.  A failed fdatasync is not retried (only EINTR
 *	    is): after a writeback error the kernel may have dropped the dirty
 *	    pages, so a later success would prove nothing; the caller poisons the
 *	    environment instead.
 *	  - The ts_vfs returned by ts_vfs_posix() is a process-wide constant
 *	    table with no state; it is never freed.
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"
#include "vfs.h"

typedef struct posix_file
{
	ts_file		base;			/* must be first: ts_file * <-> posix_file * */
	int			fd;
	char	   *path;			/* for error messages */
} posix_file;

/* Record a message for errno value `err` and return it. */
static int
vfs_fail(int err, const char *op, const char *path)
{
	return ts_error(err, "%s \"%s\": %s", op, path, strerror(err));
}

static int
vfs_fail_at(int err, const char *op, const char *path, size_t n, uint64_t off)
{
	return ts_error(err, "%s of %zu bytes at offset %llu in \"%s\": %s",
					op, n, (unsigned long long) off, path, strerror(err));
}

/* The offset range [off, off + n) must be representable as off_t. */
static int
range_ok(size_t n, uint64_t off)
{
	return off <= (uint64_t) INT64_MAX && n <= (uint64_t) INT64_MAX - off;
}

static int
posix_open(ts_vfs *vfs, const char *path, int flags, ts_file **out)
{
	int			oflags = ((flags & TS_VFS_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	posix_file *pf;
	int			fd;

	*out = NULL;
	if (flags & TS_VFS_CREATE)
		oflags |= O_CREAT;
	pf = malloc(sizeof(*pf));
	if (pf == NULL || (pf->path = strdup(path)) == NULL)
	{
		free(pf);
		return vfs_fail(ENOMEM, "open", path);
	}
	do
		fd = open(path, oflags, 0600);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
	{
		int			err = errno;

		free(pf->path);
		free(pf);
		return vfs_fail(err, "open", path);
	}
	pf->base.vfs = vfs;
	pf->fd = fd;
	*out = &pf->base;
	return 0;
}

static int
posix_close(ts_file *f)
{
	posix_file *pf = (posix_file *) f;
	int			rc = 0;

	/*
	 * No retry on EINTR: Linux has released the descriptor by then, and a
	 * retry could close a descriptor another thread just opened.
	 */
	if (close(pf->fd) != 0 && errno != EINTR)
		rc = vfs_fail(errno, "close", pf->path);
	free(pf->path);
	free(pf);
	return rc;
}

static int
posix_read(ts_file *f, void *buf, size_t n, uint64_t off)
{
	posix_file *pf = (posix_file *) f;
	char	   *p = buf;

	if (!range_ok(n, off))
		return vfs_fail_at(EINVAL, "read", pf->path, n, off);
	while (n > 0)
	{
		ssize_t		got = pread(pf->fd, p, n, (off_t) off);

		if (got < 0)
		{
			if (errno == EINTR)
				continue;
			return vfs_fail_at(errno, "read", pf->path, n, off);
		}
		if (got == 0)
		{
			/* End of file: the rest reads as zeros (never-written pages). */
			memset(p, 0, n);
			break;
		}
		p += got;
		n -= (size_t) got;
		off += (uint64_t) got;
	}
	return 0;
}

static int posix_write(ts_file *f, const void *buf, size_t n, uint64_t off);

/* pwritev of equal-sized buffers; a short transfer finishes buffer by buffer */
static int
posix_writev(ts_file *f, const void *const *bufs, size_t n, size_t size, uint64_t off)
{
	posix_file *pf = (posix_file *) f;
	struct iovec iov[64];

	while (n > 0)
	{
		size_t		cnt = n < 64 ? n : 64;
		ssize_t		put;

		if (!range_ok(cnt * size, off))
			return vfs_fail_at(EFBIG, "write", pf->path, cnt * size, off);
		for (size_t i = 0; i < cnt; i++)
		{
			iov[i].iov_base = (void *) bufs[i];
			iov[i].iov_len = size;
		}
		put = pwritev(pf->fd, iov, (int) cnt, (off_t) off);
		if (put < 0 && errno != EINTR)
			return vfs_fail_at(errno, "write", pf->path, cnt * size, off);
		if (put < 0)
			put = 0;
		if ((size_t) put < cnt * size)
		{
			/* rare: complete the rest with plain writes */
			size_t		done = (size_t) put;

			for (size_t i = done / size; i < cnt; i++)
			{
				size_t		skip = i == done / size ? done % size : 0;
				int			rc = posix_write(f, (const char *) bufs[i] + skip, size - skip,
											 off + i * size + skip);

				if (rc)
					return rc;
			}
		}
		bufs += cnt;
		n -= cnt;
		off += cnt * size;
	}
	return 0;
}

static int
posix_list(ts_vfs *vfs, const char *dir, int (*fn) (const char *name, void *arg), void *arg)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	int			rc = 0;

	(void) vfs;
	if (d == NULL)
		return vfs_fail(errno, "list", dir);
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			rc = fn(e->d_name, arg);
	closedir(d);
	return rc;
}

static int
posix_lock(ts_file *f)
{
	posix_file *pf = (posix_file *) f;

	while (flock(pf->fd, LOCK_EX | LOCK_NB) != 0)
	{
		if (errno == EINTR)
			continue;
		return vfs_fail(errno, "lock", pf->path);
	}
	return 0;
}

static int
posix_write(ts_file *f, const void *buf, size_t n, uint64_t off)
{
	posix_file *pf = (posix_file *) f;
	const char *p = buf;

	if (!range_ok(n, off))
		return vfs_fail_at(EFBIG, "write", pf->path, n, off);
	while (n > 0)
	{
		ssize_t		put = pwrite(pf->fd, p, n, (off_t) off);

		if (put < 0)
		{
			if (errno == EINTR)
				continue;
			return vfs_fail_at(errno, "write", pf->path, n, off);
		}
		if (put == 0)			/* no progress and no error: call it full */
			return vfs_fail_at(ENOSPC, "write", pf->path, n, off);
		p += put;
		n -= (size_t) put;
		off += (uint64_t) put;
	}
	return 0;
}

static int
posix_sync(ts_file *f)
{
	posix_file *pf = (posix_file *) f;
	int			rc;

	do
		rc = fdatasync(pf->fd);
	while (rc != 0 && errno == EINTR);
	return rc == 0 ? 0 : vfs_fail(errno, "fdatasync", pf->path);
}

static int
posix_truncate(ts_file *f, uint64_t size)
{
	posix_file *pf = (posix_file *) f;
	int			rc;

	if (size > (uint64_t) INT64_MAX)
		return vfs_fail(EFBIG, "ftruncate", pf->path);
	do
		rc = ftruncate(pf->fd, (off_t) size);
	while (rc != 0 && errno == EINTR);
	return rc == 0 ? 0 : vfs_fail(errno, "ftruncate", pf->path);
}

static int
posix_size(ts_file *f, uint64_t *size)
{
	posix_file *pf = (posix_file *) f;
	struct stat st;

	if (fstat(pf->fd, &st) != 0)
		return vfs_fail(errno, "fstat", pf->path);
	*size = (uint64_t) st.st_size;
	return 0;
}

static int
posix_rename(ts_vfs *vfs, const char *from, const char *to)
{
	(void) vfs;
	if (rename(from, to) != 0)
	{
		int			err = errno;

		return ts_error(err, "rename \"%s\" to \"%s\": %s", from, to, strerror(err));
	}
	return 0;
}

static int
posix_unlink(ts_vfs *vfs, const char *path)
{
	(void) vfs;
	return unlink(path) == 0 ? 0 : vfs_fail(errno, "unlink", path);
}

static int
posix_mkdir(ts_vfs *vfs, const char *path)
{
	struct stat st;

	(void) vfs;
	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return vfs_fail(errno, "mkdir", path);
	/* EEXIST is success only if what exists is a directory. */
	if (stat(path, &st) != 0)
		return vfs_fail(errno, "mkdir", path);
	if (!S_ISDIR(st.st_mode))
		return vfs_fail(ENOTDIR, "mkdir", path);
	return 0;
}

/* Make a directory's entries (a created or renamed file) durable. */
static int
posix_sync_dir(ts_vfs *vfs, const char *path)
{
	int			fd,
				rc;

	(void) vfs;
	do
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return vfs_fail(errno, "open directory", path);
	do
		rc = fsync(fd);
	while (rc != 0 && errno == EINTR);
	if (rc != 0)
	{
		int			err = errno;

		close(fd);
		return vfs_fail(err, "fsync directory", path);
	}
	if (close(fd) != 0 && errno != EINTR)
		return vfs_fail(errno, "close directory", path);
	return 0;
}

static int
posix_exists(ts_vfs *vfs, const char *path)
{
	(void) vfs;
	return access(path, F_OK) == 0;
}

static ts_vfs posix_vfs = {
	.open = posix_open,
	.close = posix_close,
	.read = posix_read,
	.write = posix_write,
	.writev = posix_writev,
	.lock = posix_lock,
	.list = posix_list,
	.sync = posix_sync,
	.truncate = posix_truncate,
	.size = posix_size,
	.rename = posix_rename,
	.unlink = posix_unlink,
	.mkdir = posix_mkdir,
	.sync_dir = posix_sync_dir,
	.exists = posix_exists,
	.ctx = NULL,
};

ts_vfs *
ts_vfs_posix(void)
{
	return &posix_vfs;
}
