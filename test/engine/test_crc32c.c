/*
 * test_crc32c.c
 *	  CRC-32C: known vectors, chaining, and the hardware path against the
 *	  portable table path on random buffers, lengths and alignments.
 *
 *	  Run with "bench" as the only argument for a quick throughput figure.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "crc32c.h"

/* Deterministic xorshift64 so a failure reproduces. */
static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Bit-at-a-time definition: the reference both fast paths must match. */
static uint32_t
crc_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--)
	{
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

TEST(known_vectors)
{
	uint8_t		buf[64];

	CHECK(ts_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(ts_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
	CHECK(ts_crc32c(0, "", 0) == 0);
	CHECK(ts_crc32c(0, NULL, 0) == 0);
	CHECK(ts_crc32c(0x12345678u, NULL, 0) == 0x12345678u);

	memset(buf, 0, 32);
	CHECK(ts_crc32c(0, buf, 32) == 0x8A9136AAu);
	CHECK(ts_crc32c_sw(0, buf, 32) == 0x8A9136AAu);
	memset(buf, 0xFF, 32);
	CHECK(ts_crc32c(0, buf, 32) == 0x62A8AB43u);
	CHECK(ts_crc32c_sw(0, buf, 32) == 0x62A8AB43u);
	/* RFC 3720 B.4: 32 bytes ascending and descending. */
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t) i;
	CHECK(ts_crc32c(0, buf, 32) == 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t) (31 - i);
	CHECK(ts_crc32c(0, buf, 32) == 0x113FDB5Cu);
	CHECK(ts_crc32c(0, "a", 1) == 0xC1D04330u);
}

TEST(matches_bitwise_definition)
{
	static uint8_t buf[3 * 8192 * 2 + 100];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t) rng();
	/* Lengths around every block boundary of both paths. */
	size_t		lens[] = {0, 1, 7, 8, 9, 63, 64, 255, 256, 257, 767, 768, 769,
		1000, 4080, 4088, 4092, 4096, 4097, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 8, sizeof(buf) - 8};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t off = 0; off < 8; off++)
		{
			uint32_t	want = crc_bitwise(0, buf + off, lens[i]);

			CHECK_MSG(ts_crc32c(0, buf + off, lens[i]) == want,
					  "len %zu off %zu", lens[i], off);
			CHECK_MSG(ts_crc32c_sw(0, buf + off, lens[i]) == want,
					  "sw len %zu off %zu", lens[i], off);
		}
}

TEST(hw_equals_sw_random)
{
	enum
	{
		MAXLEN = 40000
	};
	uint8_t    *buf = malloc(MAXLEN + 16);

	CHECK(buf != NULL);
	printf("# hardware crc32c: %s\n", ts_crc32c_hw_available() ? "yes" : "no");
	for (int round = 0; round < 3000; round++)
	{
		size_t		align = rng() % 16;
		size_t		len;
		uint32_t	seed = (uint32_t) rng();

		/* Mostly short and page-sized buffers, sometimes long ones. */
		switch (rng() % 4)
		{
			case 0:
				len = rng() % 64;
				break;
			case 1:
				len = rng() % 5000;
				break;
			case 2:
				len = 4096;
				break;
			default:
				len = rng() % MAXLEN;
				break;
		}
		for (size_t i = 0; i < len; i++)
			buf[align + i] = (uint8_t) rng();
		CHECK_MSG(ts_crc32c(seed, buf + align, len) ==
				  ts_crc32c_sw(seed, buf + align, len),
				  "round %d len %zu align %zu", round, len, align);
	}
	free(buf);
}

TEST(chaining)
{
	uint8_t		buf[20000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t) rng();
	CHECK(ts_crc32c(ts_crc32c(0, "12345", 5), "6789", 4) == 0xE3069283u);
	for (int round = 0; round < 500; round++)
	{
		size_t		len = rng() % sizeof(buf);
		size_t		cut = len ? rng() % (len + 1) : 0;
		uint32_t	whole = ts_crc32c(0, buf, len);

		CHECK(ts_crc32c(ts_crc32c(0, buf, cut), buf + cut, len - cut) == whole);
		CHECK(ts_crc32c_sw(ts_crc32c(0, buf, cut), buf + cut, len - cut) == whole);
		CHECK(ts_crc32c(ts_crc32c_sw(0, buf, cut), buf + cut, len - cut) == whole);
	}
	/* Byte at a time. */
	uint32_t	c = 0;

	for (size_t i = 0; i < 5000; i++)
		c = ts_crc32c(c, buf + i, 1);
	CHECK(c == ts_crc32c(0, buf, 5000));
}

TEST(detects_single_bit_flips)
{
	uint8_t		page[4096];

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t) rng();
	uint32_t	good = ts_crc32c(0, page, sizeof(page));

	for (int bit = 0; bit < 4096 * 8; bit += 7)
	{
		page[bit / 8] ^= (uint8_t) (1 << (bit % 8));
		CHECK(ts_crc32c(0, page, sizeof(page)) != good);
		page[bit / 8] ^= (uint8_t) (1 << (bit % 8));
	}
	CHECK(ts_crc32c(0, page, sizeof(page)) == good);
}

/* Threads racing on the first call all get correct results. */
static void *
thread_crc(void *arg)
{
	uint32_t   *out = arg;

	*out = ts_crc32c(0, "123456789", 9);
	return NULL;
}

TEST(threads)
{
	pthread_t	th[8];
	uint32_t	res[8];

	for (int i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, thread_crc, &res[i]) == 0);
	for (int i = 0; i < 8; i++)
	{
		pthread_join(th[i], NULL);
		CHECK(res[i] == 0xE3069283u);
	}
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
bench_one(const char *name, uint32_t (*fn) (uint32_t, const void *, size_t),
		  const uint8_t *buf, size_t len, size_t total)
{
	volatile uint32_t sink = 0;
	double		t0 = now_sec();

	for (size_t done = 0; done < total; done += len)
		sink += fn(sink, buf, len);
	double		dt = now_sec() - t0;

	printf("# %-4s %7zu-byte buffers: %8.0f MB/s\n", name, len, total / dt / 1e6);
}

static int
bench(void)
{
	static uint8_t buf[1 << 20] __attribute__((aligned(4096)));
	size_t		lens[] = {64, 4096, sizeof(buf)};

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t) rng();
	printf("# hardware crc32c: %s\n", ts_crc32c_hw_available() ? "yes" : "no");
	/* A page checksum as the pager computes it: bytes 4..4095. */
	bench_one("auto", ts_crc32c, buf + 4, 4092, (size_t) 2 << 30);
	bench_one("sw", ts_crc32c_sw, buf + 4, 4092, (size_t) 256 << 20);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
	{
		bench_one("auto", ts_crc32c, buf, lens[i], (size_t) 2 << 30);
		bench_one("sw", ts_crc32c_sw, buf, lens[i], (size_t) 256 << 20);
	}
	return 0;
}

int			test_main(int argc, char **argv);

#define main test_main
TEST_MAIN(known_vectors, matches_bitwise_definition, hw_equals_sw_random,
		  chaining, detects_single_bit_flips, threads)
#undef main

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "bench") == 0)
		return bench();
	return test_main(argc, argv);
}
