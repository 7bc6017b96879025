/*
 * test_vfs.c
 *	  The POSIX VFS (vfs_posix.c) and the fault-injecting test wrapper
 *	  (faultvfs.h).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "faultvfs.h"
#include "vfs.h"

static char path_a[600],
			path_b[600];

/* A fresh directory, created through the VFS; sets path_a and path_b. */
static const char *
setup(ts_vfs *vfs, const char *tag)
{
	const char *dir = th_tmpdir(tag);

	CHECK_OK(vfs->mkdir(vfs, dir));
	snprintf(path_a, sizeof(path_a), "%s/a.db", dir);
	snprintf(path_b, sizeof(path_b), "%s/b.db", dir);
	return dir;
}

static void
fill(uint8_t *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t) (seed + i * 31 + (i >> 8));
}

TEST(create_write_read_size)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs1");
	ts_file    *f;
	uint8_t		w[3 * 4096],
				r[3 * 4096];
	uint64_t	size = 99;
	struct stat st;

	CHECK(vfs->exists(vfs, path_a) == 0);
	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	CHECK(f != NULL && f->vfs == vfs);
	CHECK(vfs->exists(vfs, path_a) == 1);
	CHECK(stat(path_a, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == 0);

	fill(w, sizeof(w), 1);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == sizeof(w));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 0));
	CHECK(memcmp(r, w, sizeof(w)) == 0);

	/* Overwrite the middle page, read an unaligned range across it. */
	fill(w + 4096, 4096, 7);
	CHECK_OK(f->vfs->write(f, w + 4096, 4096, 4096));
	CHECK_OK(f->vfs->read(f, r, 5000, 3000));
	CHECK(memcmp(r, w + 3000, 5000) == 0);
	CHECK_OK(f->vfs->sync(f));
	CHECK_OK(vfs->sync_dir(vfs, dir));
	CHECK_OK(f->vfs->close(f));

	/* Reopen without TS_VFS_CREATE: the data is there. */
	CHECK_OK(vfs->open(vfs, path_a, 0, &f));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 0));
	CHECK(memcmp(r, w, sizeof(w)) == 0);
	/* Zero-length transfers are no-ops. */
	CHECK_OK(f->vfs->write(f, w, 0, 1 << 20));
	CHECK_OK(f->vfs->read(f, r, 0, 1 << 20));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == sizeof(w));
	CHECK_OK(f->vfs->close(f));
	th_rmdir(dir);
}

TEST(read_past_eof_zero_fills)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs2");
	ts_file    *f;
	uint8_t		w[100],
				r[4096];

	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	fill(w, sizeof(w), 3);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));

	/* Straddling the end: data then zeros. */
	memset(r, 0xAA, sizeof(r));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 0));
	CHECK(memcmp(r, w, sizeof(w)) == 0);
	for (size_t i = sizeof(w); i < sizeof(r); i++)
		CHECK(r[i] == 0);

	/* Wholly past the end: all zeros, and the file does not grow. */
	memset(r, 0xAA, sizeof(r));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 1 << 30));
	for (size_t i = 0; i < sizeof(r); i++)
		CHECK(r[i] == 0);

	uint64_t	size;

	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == sizeof(w));
	CHECK_OK(f->vfs->close(f));
	th_rmdir(dir);
}

TEST(truncate_shrink_and_grow)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs3");
	ts_file    *f;
	uint8_t		w[8192],
				r[8192];
	uint64_t	size;

	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	fill(w, sizeof(w), 5);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	CHECK_OK(f->vfs->truncate(f, 4096));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == 4096);
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 0));
	CHECK(memcmp(r, w, 4096) == 0);
	for (size_t i = 4096; i < sizeof(r); i++)
		CHECK(r[i] == 0);

	/* Growing adds zeros. */
	CHECK_OK(f->vfs->truncate(f, 3 * 4096));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == 3 * 4096);
	CHECK_OK(f->vfs->read(f, r, 4096, 2 * 4096));
	for (size_t i = 0; i < 4096; i++)
		CHECK(r[i] == 0);
	CHECK_OK(f->vfs->truncate(f, 0));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == 0);
	CHECK_OK(f->vfs->sync(f));
	CHECK_OK(f->vfs->close(f));
	th_rmdir(dir);
}

TEST(rename_unlink_exists)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs4");
	ts_file    *f;
	uint8_t		w[512],
				r[512];

	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	fill(w, sizeof(w), 9);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	CHECK_OK(f->vfs->close(f));

	CHECK_OK(vfs->rename(vfs, path_a, path_b));
	CHECK_OK(vfs->sync_dir(vfs, dir));
	CHECK(vfs->exists(vfs, path_a) == 0);
	CHECK(vfs->exists(vfs, path_b) == 1);
	CHECK_OK(vfs->open(vfs, path_b, 0, &f));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 0));
	CHECK(memcmp(r, w, sizeof(w)) == 0);
	CHECK_OK(f->vfs->close(f));

	/* Rename over an existing file replaces it. */
	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	CHECK_OK(f->vfs->close(f));
	CHECK_OK(vfs->rename(vfs, path_a, path_b));
	CHECK_OK(vfs->open(vfs, path_b, 0, &f));
	uint64_t	size;

	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == 0);
	CHECK_OK(f->vfs->close(f));

	CHECK_OK(vfs->unlink(vfs, path_b));
	CHECK(vfs->exists(vfs, path_b) == 0);
	CHECK(vfs->exists(vfs, dir) == 1);
	th_rmdir(dir);
}

TEST(mkdir_semantics)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs5");
	char		sub[700];
	ts_file    *f;
	struct stat st;

	/* EEXIST is success. */
	CHECK_OK(vfs->mkdir(vfs, dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	CHECK_OK(vfs->mkdir(vfs, sub));
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK_OK(vfs->mkdir(vfs, sub));
	CHECK_OK(vfs->sync_dir(vfs, sub));

	/* ...but not when a file has the name. */
	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	CHECK_OK(f->vfs->close(f));
	CHECK_ERR(vfs->mkdir(vfs, path_a), ENOTDIR);

	/* A missing parent. */
	snprintf(sub, sizeof(sub), "%s/no/such", dir);
	CHECK_ERR(vfs->mkdir(vfs, sub), ENOENT);
	th_rmdir(dir);
}

TEST(missing_file_errors)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs6");
	ts_file    *f = (ts_file *) &f;	/* must be reset to NULL */
	char		nodir[700];

	ts_error_clear();
	CHECK_ERR(vfs->open(vfs, path_a, 0, &f), ENOENT);
	CHECK(f == NULL);
	/* The message names the operation and the path. */
	CHECK(strstr(ts_last_error(), "open") != NULL);
	CHECK(strstr(ts_last_error(), path_a) != NULL);

	CHECK_ERR(vfs->rename(vfs, path_a, path_b), ENOENT);
	CHECK(strstr(ts_last_error(), path_a) != NULL);
	CHECK_ERR(vfs->unlink(vfs, path_a), ENOENT);
	CHECK(strstr(ts_last_error(), "unlink") != NULL);
	snprintf(nodir, sizeof(nodir), "%s/nodir", dir);
	CHECK_ERR(vfs->sync_dir(vfs, nodir), ENOENT);
	CHECK(strstr(ts_last_error(), nodir) != NULL);
	/* TS_VFS_CREATE in a missing directory. */
	snprintf(nodir, sizeof(nodir), "%s/nodir/x.db", dir);
	CHECK_ERR(vfs->open(vfs, nodir, TS_VFS_CREATE, &f), ENOENT);
	/* sync_dir on a regular file is refused. */
	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	CHECK_OK(f->vfs->close(f));
	CHECK_ERR(vfs->sync_dir(vfs, path_a), ENOTDIR);
	th_rmdir(dir);
}

TEST(large_offsets)
{
	ts_vfs	   *vfs = ts_vfs_posix();
	const char *dir = setup(vfs, "vfs7");
	ts_file    *f;
	uint8_t		w[4096],
				r[8192];
	uint64_t	size;
	uint64_t	off = (uint64_t) 5 << 30;	/* past 4 GB: 64-bit offsets */

	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	fill(w, sizeof(w), 11);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), off));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == off + sizeof(w));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), off));
	CHECK(memcmp(r, w, sizeof(w)) == 0);
	for (size_t i = sizeof(w); i < sizeof(r); i++)
		CHECK(r[i] == 0);
	/* The hole before it reads as zeros. */
	CHECK_OK(f->vfs->read(f, r, sizeof(r), (uint64_t) 1 << 30));
	for (size_t i = 0; i < sizeof(r); i++)
		CHECK(r[i] == 0);

	/* Offsets beyond off_t fail cleanly instead of wrapping. */
	CHECK(f->vfs->write(f, w, sizeof(w), UINT64_MAX - 10) != 0);
	CHECK(f->vfs->read(f, r, sizeof(r), (uint64_t) INT64_MAX) != 0);
	CHECK(f->vfs->truncate(f, UINT64_MAX) != 0);
	CHECK_OK(f->vfs->truncate(f, 0));
	CHECK_OK(f->vfs->close(f));
	th_rmdir(dir);
}

TEST(fault_counts_and_passthrough)
{
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	const char *dir;
	ts_file    *f;
	uint8_t		w[4096],
				r[4096];

	CHECK(vfs != NULL);
	dir = setup(vfs, "vfs8");
	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	/* Files are wrapped: calls through f->vfs reach the wrapper. */
	CHECK(f->vfs == vfs);
	fill(w, sizeof(w), 13);
	for (int i = 0; i < 5; i++)
		CHECK_OK(f->vfs->write(f, w, sizeof(w), (uint64_t) i * 4096));
	CHECK_OK(f->vfs->sync(f));
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 4096));
	CHECK(memcmp(r, w, sizeof(w)) == 0);
	CHECK_OK(vfs->sync_dir(vfs, dir));
	CHECK_OK(f->vfs->truncate(f, 4096));
	CHECK(fv->opens == 1 && fv->writes == 5 && fv->syncs == 1);
	CHECK(fv->reads == 1 && fv->dir_syncs == 1 && fv->truncates == 1);
	CHECK(fv->bytes_written == 5 * 4096 && fv->failures == 0);
	CHECK_OK(f->vfs->close(f));
	CHECK_OK(vfs->rename(vfs, path_a, path_b));
	CHECK(vfs->exists(vfs, path_b) == 1);
	CHECK_OK(vfs->unlink(vfs, path_b));
	CHECK(fv->renames == 1 && fv->unlinks == 1);
	/* Errors of the base pass through. */
	CHECK_ERR(vfs->open(vfs, path_a, 0, &f), ENOENT);
	CHECK(fv->failures == 0);
	faultvfs_free(vfs);
	th_rmdir(dir);
}

TEST(fault_nth_write_and_sync)
{
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	const char *dir = setup(vfs, "vfs9");
	ts_file    *f;
	uint8_t		w[4096],
				r[4096];

	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	fill(w, sizeof(w), 17);

	/* The 3rd write from now fails with EIO and writes nothing; once. */
	faultvfs_fail_write(fv, 3);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 4096));
	CHECK_ERR(f->vfs->write(f, w, sizeof(w), 8192), EIO);
	CHECK(strstr(ts_last_error(), "injected write") != NULL);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 12288));
	CHECK(fv->writes == 4 && fv->failures == 1);
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 8192));
	for (size_t i = 0; i < sizeof(r); i++)
		CHECK(r[i] == 0);

	/* The 2nd sync fails; writes are unaffected. */
	faultvfs_fail_sync(fv, 2);
	CHECK_OK(f->vfs->sync(f));
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	CHECK_ERR(f->vfs->sync(f), EIO);
	CHECK_OK(f->vfs->sync(f));
	CHECK(fv->syncs == 3 && fv->failures == 2);

	/* The next read fails; a custom errno. */
	fv->err = ENOSPC;
	faultvfs_fail_read(fv, 1);
	CHECK_ERR(f->vfs->read(f, r, sizeof(r), 0), ENOSPC);
	CHECK_OK(f->vfs->read(f, r, sizeof(r), 0));
	fv->err = EIO;

	/* Disarming before the count is reached. */
	faultvfs_fail_write(fv, 2);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	faultvfs_reset(fv);
	CHECK_OK(f->vfs->write(f, w, sizeof(w), 0));
	CHECK(fv->failures == 3);
	CHECK_OK(f->vfs->close(f));
	faultvfs_free(vfs);
	th_rmdir(dir);
}

TEST(fault_fail_all)
{
	ts_vfs	   *vfs = faultvfs_new(ts_vfs_posix());
	faultvfs   *fv = FAULTVFS(vfs);
	const char *dir = setup(vfs, "vfs10");
	ts_file    *f,
			   *g;
	uint8_t		w[64] = {1, 2, 3};
	uint64_t	size;

	CHECK_OK(vfs->open(vfs, path_a, TS_VFS_CREATE, &f));
	faultvfs_fail_all(fv, 1);
	CHECK_ERR(f->vfs->write(f, w, sizeof(w), 0), EIO);
	CHECK_ERR(f->vfs->read(f, w, sizeof(w), 0), EIO);
	CHECK_ERR(f->vfs->sync(f), EIO);
	CHECK_ERR(f->vfs->truncate(f, 0), EIO);
	CHECK_ERR(f->vfs->size(f, &size), EIO);
	CHECK_ERR(vfs->open(vfs, path_b, TS_VFS_CREATE, &g), EIO);
	CHECK_ERR(vfs->rename(vfs, path_a, path_b), EIO);
	CHECK_ERR(vfs->unlink(vfs, path_a), EIO);
	CHECK_ERR(vfs->mkdir(vfs, dir), EIO);
	CHECK_ERR(vfs->sync_dir(vfs, dir), EIO);
	CHECK(vfs->exists(vfs, path_a) == 1);
	CHECK(fv->failures == 10);
	/* Close still closes (no leak under ASan). */
	CHECK_OK(f->vfs->close(f));

	faultvfs_reset(fv);
	CHECK_OK(vfs->open(vfs, path_a, 0, &f));
	CHECK_OK(f->vfs->size(f, &size));
	CHECK(size == 0);			/* the failed write wrote nothing */
	CHECK_OK(f->vfs->close(f));
	faultvfs_free(vfs);
	th_rmdir(dir);
}

TEST_MAIN(create_write_read_size, read_past_eof_zero_fills,
		  truncate_shrink_and_grow, rename_unlink_exists, mkdir_semantics,
		  missing_file_errors, large_offsets, fault_counts_and_passthrough,
		  fault_nth_write_and_sync, fault_fail_all)
