/*
 * test_crashvfs.c
 *	  Unit tests of the crash simulator itself (crashvfs.h): the vfs.h rules
 *	  (zero fill past the end, truncate, writev, lock, names), synced data
 *	  always surviving a crash, unsynced data able to vanish, torn writes
 *	  leaving only whole 512-byte sectors of old or new data (or garbage), an
 *	  unsynced file creation able to vanish without sync_dir, renames and
 *	  unlinks that may be undone, the crash point (before / after / after
 *	  with EIO; everything fails until the crash; old handles die), counters,
 *	  determinism per seed, and use from several threads.
 */
#include <pthread.h>

#include "harness.h"
#include "crashvfs.h"

#define SEEDS 300

static ts_file *
xopen(ts_vfs *vfs, const char *path, int flags)
{
	ts_file    *f = NULL;

	CHECK_OK(vfs->open(vfs, path, flags, &f));
	return f;
}

static void
fill(uint8_t *b, size_t n, uint8_t v)
{
	memset(b, v, n);
}

/* Read the whole current file `path` (malloc'ed; *n its size); NULL if missing. */
static uint8_t *
slurp(ts_vfs *vfs, const char *path, uint64_t *n)
{
	ts_file    *f;
	uint8_t    *b;

	*n = 0;
	if (!vfs->exists(vfs, path))
		return NULL;
	f = xopen(vfs, path, 0);
	CHECK_OK(vfs->size(f, n));
	b = malloc(*n + 1);
	CHECK(b != NULL);
	CHECK_OK(vfs->read(f, b, *n, 0));
	CHECK_OK(vfs->close(f));
	return b;
}

/* A fresh disk with directory /d (durable). */
static ts_vfs *
fresh(void)
{
	ts_vfs	   *vfs = crashvfs_new();

	CHECK_OK(vfs->mkdir(vfs, "/d"));
	CHECK_OK(vfs->sync_dir(vfs, "/"));
	return vfs;
}

TEST(basics)
{
	ts_vfs	   *vfs = crashvfs_new();
	ts_file    *f,
			   *g;
	uint8_t		buf[8192],
				a[100];
	uint64_t	size;
	const void *bufs[3];

	CHECK(vfs->exists(vfs, "/"));
	CHECK(!vfs->exists(vfs, "/d"));
	CHECK_ERR(vfs->open(vfs, "/d/x", TS_VFS_CREATE, &f), ENOENT);
	CHECK_ERR(vfs->mkdir(vfs, "/d/e"), ENOENT);
	CHECK_OK(vfs->mkdir(vfs, "/d"));
	CHECK_OK(vfs->mkdir(vfs, "/d/"));	/* exists: success */
	CHECK(vfs->exists(vfs, "/d"));
	CHECK_ERR(vfs->open(vfs, "/d/x", 0, &f), ENOENT);
	CHECK_ERR(vfs->open(vfs, "/d", 0, &f), EISDIR);
	f = xopen(vfs, "/d//x", TS_VFS_CREATE);
	CHECK(vfs->exists(vfs, "/d/x"));
	CHECK_ERR(vfs->mkdir(vfs, "/d/x"), ENOTDIR);

	/* read past the end: zeros */
	memset(buf, 0xAA, sizeof(buf));
	CHECK_OK(vfs->read(f, buf, 4096, 0));
	for (int i = 0; i < 4096; i++)
		CHECK(buf[i] == 0);
	fill(a, sizeof(a), 7);
	CHECK_OK(vfs->write(f, a, sizeof(a), 1000));
	CHECK_OK(vfs->size(f, &size));
	CHECK(size == 1100);
	memset(buf, 0xAA, sizeof(buf));
	CHECK_OK(vfs->read(f, buf, 2000, 500));
	for (int i = 0; i < 2000; i++)
		CHECK(buf[i] == (i >= 500 && i < 600 ? 7 : 0));

	/* writev: consecutive buffers, one write */
	{
		uint8_t		p[3][64];

		for (int i = 0; i < 3; i++)
		{
			fill(p[i], 64, (uint8_t) (i + 1));
			bufs[i] = p[i];
		}
		CHECK_OK(vfs->writev(f, bufs, 3, 64, 4096));
		CHECK_OK(vfs->read(f, buf, 192, 4096));
		for (int i = 0; i < 192; i++)
			CHECK(buf[i] == i / 64 + 1);
		CHECK(CRASHVFS(vfs)->st.writes == 2);
	}

	/* truncate: shrink, then extend with zeros */
	CHECK_OK(vfs->truncate(f, 1050));
	CHECK_OK(vfs->truncate(f, 3000));
	CHECK_OK(vfs->size(f, &size));
	CHECK(size == 3000);
	CHECK_OK(vfs->read(f, buf, 100, 1000));
	for (int i = 0; i < 100; i++)
		CHECK(buf[i] == (i < 50 ? 7 : 0));

	/* lock: exclusive among handles, released by close */
	g = xopen(vfs, "/d/x", 0);
	CHECK_OK(vfs->lock(f));
	CHECK_OK(vfs->lock(f));
	CHECK_ERR(vfs->lock(g), EWOULDBLOCK);
	CHECK_OK(vfs->close(f));
	CHECK_OK(vfs->lock(g));

	/* rename and unlink in the current namespace */
	CHECK_OK(vfs->rename(vfs, "/d/x", "/d/y"));
	CHECK(!vfs->exists(vfs, "/d/x"));
	CHECK(vfs->exists(vfs, "/d/y"));
	CHECK_ERR(vfs->rename(vfs, "/d/x", "/d/z"), ENOENT);
	CHECK_OK(vfs->mkdir(vfs, "/e"));
	CHECK_ERR(vfs->rename(vfs, "/d/y", "/e/y"), EXDEV);
	/* the open handle still reaches the renamed file */
	CHECK_OK(vfs->read(g, buf, 10, 1000));
	CHECK(buf[0] == 7);
	CHECK_OK(vfs->unlink(vfs, "/d/y"));
	CHECK(!vfs->exists(vfs, "/d/y"));
	CHECK_ERR(vfs->unlink(vfs, "/d/y"), ENOENT);
	CHECK_OK(vfs->read(g, buf, 10, 1000));	/* unlinked but open */
	CHECK(buf[0] == 7);
	CHECK_OK(vfs->close(g));
	CHECK_ERR(vfs->sync_dir(vfs, "/nope"), ENOENT);
	CHECK_OK(vfs->sync_dir(vfs, "/d"));
	crashvfs_free(vfs);
}

/* Synced data survives every crash, whatever else is pending. */
TEST(synced_survives)
{
	for (uint64_t seed = 0; seed < SEEDS; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		uint8_t		a[5000],
					b[3000];
		uint8_t    *got;
		uint64_t	n;

		for (size_t i = 0; i < sizeof(a); i++)
			a[i] = (uint8_t) (i * 7 + seed);
		CHECK_OK(vfs->write(f, a, sizeof(a), 0));
		CHECK_OK(vfs->sync(f));
		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		/* pending: writes past the synced range, a second file, a rename */
		fill(b, sizeof(b), 0xEE);
		CHECK_OK(vfs->write(f, b, sizeof(b), 8192));
		{
			ts_file    *g = xopen(vfs, "/d/g", TS_VFS_CREATE);

			CHECK_OK(vfs->write(g, b, 100, 0));
			CHECK_OK(vfs->close(g));
		}
		CHECK_OK(vfs->rename(vfs, "/d/g", "/d/h"));
		cv->profile = (int) (seed % (CRASHVFS_NPROFILES + 1)) - 1;	/* -1: random */
		crashvfs_crash(cv, seed);
		got = slurp(vfs, "/d/f", &n);
		CHECK(got != NULL);
		CHECK(n == sizeof(a) || n == 8192 + sizeof(b) || (n > 8192 && n < 8192 + sizeof(b)));
		CHECK(memcmp(got, a, sizeof(a)) == 0);
		free(got);
		CHECK(crashvfs_pending(cv) == 0);
		/* the old handle is dead; close still frees it */
		CHECK_ERR(vfs->read(f, b, 10, 0), EIO);
		CHECK_ERR(vfs->write(f, b, 10, 0), EIO);
		CHECK_OK(vfs->close(f));
		crashvfs_free(vfs);
	}
}

/* Unsynced data can vanish; and it can also stay. */
TEST(unsynced_can_vanish)
{
	int			gone = 0,
				kept = 0;

	for (uint64_t seed = 0; seed < SEEDS; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		uint8_t		a[4096],
					b[4096];
		uint8_t    *got;
		uint64_t	n;

		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		fill(a, sizeof(a), 1);
		CHECK_OK(vfs->write(f, a, sizeof(a), 0));
		CHECK_OK(vfs->sync(f));
		fill(b, sizeof(b), 2);
		CHECK_OK(vfs->write(f, b, sizeof(b), 0));	/* unsynced overwrite */
		CHECK_OK(vfs->close(f));
		crashvfs_crash(cv, seed);
		got = slurp(vfs, "/d/f", &n);
		CHECK(got != NULL && n == 4096);
		if (memcmp(got, a, 4096) == 0)
			gone++;
		else if (memcmp(got, b, 4096) == 0)
			kept++;
		free(got);
		crashvfs_free(vfs);
	}
	CHECK_MSG(gone > 0 && kept > 0, "gone %d kept %d", gone, kept);

	/* DROP_ALL: always gone, and an unsynced append leaves the size alone */
	for (uint64_t seed = 0; seed < 50; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		uint8_t		a[1000];
		uint64_t	n;
		uint8_t    *got;

		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		fill(a, sizeof(a), 3);
		CHECK_OK(vfs->write(f, a, 100, 0));
		CHECK_OK(vfs->sync(f));
		CHECK_OK(vfs->write(f, a, sizeof(a), 100));
		CHECK_OK(vfs->truncate(f, 50));
		CHECK_OK(vfs->close(f));
		cv->profile = CRASHVFS_DROP_ALL;
		crashvfs_crash(cv, seed);
		got = slurp(vfs, "/d/f", &n);
		CHECK(n == 100);
		free(got);
		crashvfs_free(vfs);
	}
}

/*
 * Torn writes: every sector piece of the write is wholly old or wholly new;
 * bytes outside the write never change.  Garbage: each piece old, new or
 * random, at least one not old nor new.
 */
TEST(torn_sectors)
{
	int			mixed = 0,
				garbage_seen = 0;

	for (int outcome = CRASHVFS_TORN; outcome <= CRASHVFS_GARBAGE; outcome++)
		for (uint64_t seed = 0; seed < SEEDS; seed++)
		{
			ts_vfs	   *vfs = fresh();
			crashvfs   *cv = CRASHVFS(vfs);
			ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
			uint8_t		old[4096],
						nw[4096];
			uint8_t    *got;
			uint64_t	n,
						off = 100 + seed % 300,
						len = 2500 + seed % 1000,
						end = off + len;
			int			n_old = 0,
						n_new = 0,
						n_junk = 0;

			CHECK_OK(vfs->sync_dir(vfs, "/d"));
			fill(old, sizeof(old), 0x11);
			fill(nw, sizeof(nw), 0x22);
			CHECK_OK(vfs->write(f, old, sizeof(old), 0));
			CHECK_OK(vfs->sync(f));
			CHECK_OK(vfs->write(f, nw, (size_t) len, off));
			CHECK_OK(vfs->close(f));
			cv->write_outcome = outcome;
			crashvfs_crash(cv, seed);
			got = slurp(vfs, "/d/f", &n);
			CHECK(n == 4096);
			for (uint64_t i = 0; i < off; i++)
				CHECK(got[i] == 0x11);
			for (uint64_t i = end; i < n; i++)
				CHECK(got[i] == 0x11);
			for (uint64_t pos = off; pos < end;)
			{
				uint64_t	pend = (pos / 512 + 1) * 512;
				int			all_old = 1,
							all_new = 1;

				if (pend > end)
					pend = end;
				for (uint64_t i = pos; i < pend; i++)
				{
					all_old &= got[i] == 0x11;
					all_new &= got[i] == 0x22;
				}
				n_old += all_old;
				n_new += all_new;
				n_junk += !all_old && !all_new;
				pos = pend;
			}
			if (outcome == CRASHVFS_TORN)
			{
				CHECK(n_junk == 0);
				mixed += n_old > 0 && n_new > 0;
			}
			else
			{
				CHECK(n_junk > 0);
				garbage_seen++;
			}
			free(got);
			crashvfs_free(vfs);
		}
	CHECK_MSG(mixed > SEEDS / 2, "torn writes mixing old and new sectors: %d", mixed);
	CHECK(garbage_seen == SEEDS);

	/* a torn append: the file ends at a piece that reached the disk */
	for (uint64_t seed = 0; seed < 100; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		uint8_t		nw[4096];
		uint8_t    *got;
		uint64_t	n;

		CHECK_OK(vfs->sync(f));
		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		fill(nw, sizeof(nw), 0x33);
		CHECK_OK(vfs->write(f, nw, sizeof(nw), 0));
		CHECK_OK(vfs->close(f));
		cv->write_outcome = CRASHVFS_TORN;
		crashvfs_crash(cv, seed);
		got = slurp(vfs, "/d/f", &n);
		CHECK(n % 512 == 0 && n <= 4096);
		if (n > 0)
			CHECK(memcmp(got + n - 512, nw, 512) == 0);	/* the last piece is new */
		for (uint64_t s = 0; s < n; s += 512)
		{
			int			z = 1,
						w = 1;

			for (int i = 0; i < 512; i++)
			{
				z &= got[s + i] == 0;
				w &= got[s + i] == 0x33;
			}
			CHECK(z || w);
		}
		free(got);
		crashvfs_free(vfs);
	}
}

/* A created file whose directory was not synced can vanish; after sync_dir it cannot. */
TEST(unsynced_create_vanishes)
{
	int			vanished = 0,
				stayed = 0;

	for (uint64_t seed = 0; seed < SEEDS; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		uint8_t		a[600];
		uint8_t    *got;
		uint64_t	n;

		fill(a, sizeof(a), 9);
		CHECK_OK(vfs->write(f, a, sizeof(a), 0));
		CHECK_OK(vfs->sync(f));		/* data durable; the name is not */
		CHECK_OK(vfs->close(f));
		crashvfs_crash(cv, seed);
		got = slurp(vfs, "/d/f", &n);
		if (got == NULL)
			vanished++;
		else
		{
			stayed++;
			CHECK(n == sizeof(a) && memcmp(got, a, n) == 0);
		}
		free(got);
		crashvfs_free(vfs);
	}
	CHECK_MSG(vanished > 0 && stayed > 0, "vanished %d stayed %d", vanished, stayed);

	/* DROP_ALL: gone; with sync_dir: always there */
	for (uint64_t seed = 0; seed < 100; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);

		CHECK_OK(vfs->close(f));
		cv->profile = CRASHVFS_DROP_ALL;
		crashvfs_crash(cv, seed);
		CHECK(!vfs->exists(vfs, "/d/f"));
		f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		CHECK_OK(vfs->close(f));
		crashvfs_crash(cv, seed);
		CHECK(vfs->exists(vfs, "/d/f"));
		crashvfs_free(vfs);
	}

	/* a directory whose creation was not synced takes its files with it */
	for (uint64_t seed = 0; seed < 50; seed++)
	{
		ts_vfs	   *vfs = crashvfs_new();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f;

		CHECK_OK(vfs->mkdir(vfs, "/x"));
		f = xopen(vfs, "/x/f", TS_VFS_CREATE);
		CHECK_OK(vfs->sync(f));
		CHECK_OK(vfs->sync_dir(vfs, "/x"));
		CHECK_OK(vfs->close(f));
		cv->profile = CRASHVFS_DROP_ALL;
		crashvfs_crash(cv, seed);
		CHECK(!vfs->exists(vfs, "/x"));
		CHECK(!vfs->exists(vfs, "/x/f"));
		crashvfs_free(vfs);
	}
}

/* A rename or unlink not dir-synced may be undone, never half done. */
TEST(rename_unlink_undone)
{
	int			renamed = 0,
				not_renamed = 0,
				unlinked = 0,
				undone = 0;

	for (uint64_t seed = 0; seed < SEEDS; seed++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/old", TS_VFS_CREATE);
		ts_file    *g = xopen(vfs, "/d/new", TS_VFS_CREATE);
		ts_file    *h = xopen(vfs, "/d/gone", TS_VFS_CREATE);
		uint8_t    *got;
		uint64_t	n;

		CHECK_OK(vfs->write(f, "OLD", 3, 0));
		CHECK_OK(vfs->write(g, "NEW", 3, 0));
		CHECK_OK(vfs->write(h, "GONE", 4, 0));
		CHECK_OK(vfs->sync(f));
		CHECK_OK(vfs->sync(g));
		CHECK_OK(vfs->sync(h));
		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		CHECK_OK(vfs->close(f));
		CHECK_OK(vfs->close(g));
		CHECK_OK(vfs->close(h));
		CHECK_OK(vfs->rename(vfs, "/d/old", "/d/new"));	/* replaces */
		CHECK_OK(vfs->unlink(vfs, "/d/gone"));
		crashvfs_crash(cv, seed);
		got = slurp(vfs, "/d/new", &n);
		CHECK(got != NULL && n == 3);
		if (memcmp(got, "OLD", 3) == 0)
		{
			renamed++;
			CHECK(!vfs->exists(vfs, "/d/old"));
		}
		else
		{
			CHECK(memcmp(got, "NEW", 3) == 0);
			not_renamed++;
			CHECK(vfs->exists(vfs, "/d/old"));
		}
		free(got);
		got = slurp(vfs, "/d/gone", &n);
		if (got)
		{
			undone++;
			CHECK(n == 4 && memcmp(got, "GONE", 4) == 0);
		}
		else
			unlinked++;
		free(got);
		crashvfs_free(vfs);
	}
	CHECK(renamed > 0 && not_renamed > 0 && unlinked > 0 && undone > 0);
}

/* Write a fixed workload and crash with `seed`; return a digest of the result. */
static uint64_t
digest_after(uint64_t seed)
{
	ts_vfs	   *vfs = fresh();
	crashvfs   *cv = CRASHVFS(vfs);
	uint64_t	h = 1469598103934665603ULL;
	const char *names[] = {"/d/a", "/d/b", "/d/c", "/d/b2"};

	for (int k = 0; k < 3; k++)
	{
		ts_file    *f = xopen(vfs, names[k], TS_VFS_CREATE);
		uint8_t		buf[3000];

		for (int r = 0; r < 5; r++)
		{
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = (uint8_t) (i + r * 31 + k);
			CHECK_OK(vfs->write(f, buf, sizeof(buf) - r * 100, (uint64_t) r * 1700));
			if (r == 2 && k == 0)
				CHECK_OK(vfs->sync(f));
		}
		CHECK_OK(vfs->close(f));
	}
	CHECK_OK(vfs->rename(vfs, "/d/b", "/d/b2"));
	crashvfs_crash(cv, seed);
	for (int k = 0; k < 4; k++)
	{
		uint64_t	n;
		uint8_t    *got = slurp(vfs, names[k], &n);

		h = (h ^ (got ? 1 : 0)) * 1099511628211ULL;
		h = (h ^ n) * 1099511628211ULL;
		for (uint64_t i = 0; i < n; i++)
			h = (h ^ got[i]) * 1099511628211ULL;
		free(got);
	}
	crashvfs_free(vfs);
	return h;
}

TEST(deterministic_per_seed)
{
	int			differ = 0;

	for (uint64_t seed = 1; seed < 100; seed++)
	{
		uint64_t	a = digest_after(seed),
					b = digest_after(seed);

		CHECK(a == b);
		differ += a != digest_after(seed + 1000);
	}
	CHECK_MSG(differ > 50, "different seeds gave different results only %d times", differ);
}

/* The crash point: before, after, after with EIO; frozen until the crash. */
TEST(crash_point)
{
	for (int when = CRASHVFS_BEFORE; when <= CRASHVFS_AFTER_EIO; when++)
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE),
				   *g;
		uint8_t		a[512],
					b[512];
		uint64_t	n;
		uint8_t    *got;

		CHECK_OK(vfs->sync_dir(vfs, "/d"));
		fill(a, sizeof(a), 1);
		fill(b, sizeof(b), 2);
		crashvfs_arm(cv, CRASHVFS_SYNC, 2, when);
		CHECK_OK(vfs->write(f, a, sizeof(a), 0));
		CHECK_OK(vfs->sync(f));		/* the 1st */
		CHECK(!crashvfs_hit(cv));
		CHECK_OK(vfs->write(f, b, sizeof(b), 0));
		if (when == CRASHVFS_AFTER)
			CHECK_OK(vfs->sync(f));
		else
			CHECK_ERR(vfs->sync(f), EIO);
		CHECK(crashvfs_hit(cv));
		CHECK(crashvfs_frozen(cv));
		/* everything fails now */
		CHECK_ERR(vfs->write(f, a, 1, 0), EIO);
		CHECK_ERR(vfs->read(f, a, 1, 0), EIO);
		CHECK_ERR(vfs->sync(f), EIO);
		CHECK_ERR(vfs->size(f, &n), EIO);
		CHECK_ERR(vfs->truncate(f, 0), EIO);
		CHECK_ERR(vfs->open(vfs, "/d/f", 0, &g), EIO);
		CHECK_ERR(vfs->sync_dir(vfs, "/d"), EIO);
		CHECK_ERR(vfs->unlink(vfs, "/d/f"), EIO);
		CHECK_ERR(vfs->rename(vfs, "/d/f", "/d/g"), EIO);
		CHECK_ERR(vfs->mkdir(vfs, "/d/e"), EIO);
		CHECK_ERR(vfs->lock(f), EIO);
		CHECK(strstr(ts_last_error(), "crashvfs") != NULL);
		CHECK(vfs->exists(vfs, "/d/f"));
		CHECK_OK(vfs->close(f));
		cv->profile = CRASHVFS_DROP_ALL;
		crashvfs_crash(cv, 42);
		CHECK(!crashvfs_frozen(cv));
		got = slurp(vfs, "/d/f", &n);
		CHECK(n == 512);
		/* before: the 2nd sync did not happen; after: it did */
		CHECK(memcmp(got, when == CRASHVFS_BEFORE ? a : b, 512) == 0);
		free(got);
		/* works again */
		f = xopen(vfs, "/d/f", 0);
		CHECK_OK(vfs->write(f, a, 10, 0));
		CHECK_OK(vfs->close(f));
		crashvfs_free(vfs);
	}

	/* write and sync_dir crash points; writev counts as one write */
	{
		ts_vfs	   *vfs = fresh();
		crashvfs   *cv = CRASHVFS(vfs);
		ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		uint8_t		a[64];
		const void *bufs[2] = {a, a};

		crashvfs_arm(cv, CRASHVFS_WRITE, 3, CRASHVFS_BEFORE);
		CHECK_OK(vfs->write(f, a, sizeof(a), 0));
		CHECK_OK(vfs->writev(f, bufs, 2, sizeof(a), 64));
		CHECK_OK(vfs->sync(f));
		CHECK_ERR(vfs->write(f, a, sizeof(a), 0), EIO);
		CHECK(crashvfs_hit(cv));
		CHECK_OK(vfs->close(f));
		crashvfs_crash(cv, 1);
		/* created without sync_dir: may be gone */
		f = xopen(vfs, "/d/f", TS_VFS_CREATE);
		crashvfs_arm(cv, CRASHVFS_SYNC_DIR, 1, CRASHVFS_AFTER_EIO);
		CHECK_ERR(vfs->sync_dir(vfs, "/d"), EIO);
		CHECK(crashvfs_hit(cv));
		CHECK_OK(vfs->close(f));
		cv->profile = CRASHVFS_DROP_ALL;
		crashvfs_crash(cv, 1);
		CHECK(vfs->exists(vfs, "/d/f"));	/* the sync_dir took effect */
		crashvfs_arm(cv, CRASHVFS_SYNC, 5, CRASHVFS_BEFORE);
		crashvfs_arm(cv, CRASHVFS_SYNC, 0, CRASHVFS_BEFORE);	/* disarmed */
		f = xopen(vfs, "/d/f", 0);
		for (int i = 0; i < 10; i++)
			CHECK_OK(vfs->sync(f));
		CHECK(!crashvfs_hit(cv));
		CHECK_OK(vfs->close(f));
		crashvfs_free(vfs);
	}
}

TEST(counters)
{
	ts_vfs	   *vfs = fresh();
	crashvfs   *cv = CRASHVFS(vfs);
	ts_file    *f = xopen(vfs, "/d/f", TS_VFS_CREATE);
	uint8_t		a[100] = {0};
	crashvfs_stats s;

	for (int i = 0; i < 5; i++)
		CHECK_OK(vfs->write(f, a, sizeof(a), (uint64_t) i * 100));
	CHECK_OK(vfs->sync(f));
	CHECK_OK(vfs->sync(f));
	CHECK_OK(vfs->sync_dir(vfs, "/d"));
	CHECK_OK(vfs->read(f, a, 10, 0));
	CHECK_OK(vfs->write(f, a, sizeof(a), 0));
	CHECK_OK(vfs->write(f, a, sizeof(a), 2000));
	CHECK(crashvfs_pending(cv) == 2);
	s = crashvfs_stats_get(cv);
	CHECK(s.writes == 7 && s.syncs == 2 && s.dir_syncs == 2 && s.reads == 1);
	CHECK(s.bytes_written == 700);
	CHECK_OK(vfs->close(f));
	cv->profile = CRASHVFS_KEEP_ALL;
	crashvfs_crash(cv, 3);
	s = crashvfs_stats_get(cv);
	CHECK(s.crashes == 1 && s.w_kept == 2 && s.profile[CRASHVFS_KEEP_ALL] == 1);
	crashvfs_free(vfs);
}

typedef struct
{
	ts_vfs	   *vfs;
	int			id;
	int			ok;
} thr_arg;

static void *
thr_main(void *p)
{
	thr_arg    *t = p;
	char		name[32];
	ts_file    *f;
	uint8_t		buf[700];

	snprintf(name, sizeof(name), "/d/t%d", t->id);
	if (t->vfs->open(t->vfs, name, TS_VFS_CREATE, &f) != 0)
		return NULL;
	for (int i = 0; i < 200; i++)
	{
		memset(buf, (uint8_t) (t->id * 16 + i % 16), sizeof(buf));
		if (t->vfs->write(f, buf, sizeof(buf), (uint64_t) i * sizeof(buf)) != 0)
			return NULL;
		if (i % 20 == 0 && t->vfs->sync(f) != 0)
			return NULL;
	}
	t->ok = t->vfs->sync(f) == 0 && t->vfs->close(f) == 0;
	return NULL;
}

TEST(threads)
{
	ts_vfs	   *vfs = fresh();
	crashvfs   *cv = CRASHVFS(vfs);
	pthread_t	th[4];
	thr_arg		args[4];

	for (int i = 0; i < 4; i++)
	{
		args[i].vfs = vfs;
		args[i].id = i;
		args[i].ok = 0;
		CHECK(pthread_create(&th[i], NULL, thr_main, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK_OK(vfs->sync_dir(vfs, "/d"));
	crashvfs_crash(cv, 5);
	for (int i = 0; i < 4; i++)
	{
		char		name[32];
		uint64_t	n;
		uint8_t    *got;

		CHECK(args[i].ok);
		snprintf(name, sizeof(name), "/d/t%d", i);
		got = slurp(vfs, name, &n);
		CHECK(n == 200 * 700);
		for (int k = 0; k < 200; k++)
			CHECK(got[k * 700] == (uint8_t) (i * 16 + k % 16) &&
				  got[k * 700 + 699] == (uint8_t) (i * 16 + k % 16));
		free(got);
	}
	CHECK(crashvfs_stats_get(cv).writes == 800);
	crashvfs_free(vfs);
}

TEST_MAIN(basics, synced_survives, unsynced_can_vanish, torn_sectors,
		  unsynced_create_vanishes, rename_unlink_undone, deterministic_per_seed,
		  crash_point, counters, threads)
