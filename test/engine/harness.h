/*
 * harness.h
 *	  The tiny test harness of the engine's C test programs.
 *
 *	  A test program defines its tests with TEST(name) { ... }, lists them in
 *	  TEST_MAIN(t1, t2, ...), and is run by test/run_tests.sh, which adds up
 *	  the "# passed N failed M" line every program prints last and prints the
 *	  closing line "N passed, N failed".
 *
 *	  CHECK(cond) and CHECK_OK(call) fail the current test with the file, line
 *	  and, for engine calls, the engine's error text; the test stops there.
 *	  A test that checks nothing fails (so no test can pass vacuously).
 */
#ifndef TS_TEST_HARNESS_H
#define TS_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>
#include "treestore.h"

static jmp_buf th_jump;
static long th_checks;
static const char *th_dir_base;

#define TH_FAIL(...) do { \
		fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
		longjmp(th_jump, 1); } while (0)

#define CHECK(cond) do { th_checks++; \
		if (!(cond)) TH_FAIL("check failed: %s", #cond); } while (0)

#define CHECK_MSG(cond, ...) do { th_checks++; \
		if (!(cond)) TH_FAIL(__VA_ARGS__); } while (0)

/* An engine call that must succeed. */
#define CHECK_OK(call) do { int th_rc = (call); th_checks++; \
		if (th_rc != 0) TH_FAIL("%s returned %d (%s): %s", #call, th_rc, \
								ts_strerror(th_rc), ts_last_error()); } while (0)

/* An engine call that must fail with a given code. */
#define CHECK_ERR(call, code) do { int th_rc = (call); th_checks++; \
		if (th_rc != (code)) TH_FAIL("%s returned %d (%s), expected %d (%s)", \
				#call, th_rc, ts_strerror(th_rc), (code), ts_strerror(code)); } while (0)

typedef void (*th_fn) (void);
typedef struct { const char *name; th_fn fn; } th_case;

#define TEST(name) static void name(void)

/*
 * A fresh, empty scratch directory for a test, under $TS_TEST_DIR (default
 * /tmp).  Returns a static buffer.
 */
static inline const char *
th_tmpdir(const char *tag)
{
	static char path[512];
	static int	seq;
	char		cmd[600];
	const char *base = getenv("TS_TEST_DIR");

	if (!base)
		base = "/tmp";
	snprintf(path, sizeof(path), "%s/ts-%s-%d-%d", base, tag, (int) getpid(), seq++);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		TH_FAIL("cannot clear %s", path);
	return path;
}

static inline void
th_rmdir(const char *path)
{
	char		cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "  warning: cannot remove %s\n", path);
}

static inline int
th_run(const char *prog, const th_case *cases, int n, int argc, char **argv)
{
	volatile int passed = 0,
				failed = 0;

	(void) th_dir_base;
	for (volatile int i = 0; i < n; i++)
	{
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		th_checks = 0;
		if (setjmp(th_jump) == 0)
		{
			cases[i].fn();
			if (th_checks == 0)
			{
				fprintf(stderr, "  FAIL %s: checked nothing\n", cases[i].name);
				failed++;
				printf("not ok %s.%s\n", prog, cases[i].name);
				continue;
			}
			passed++;
			printf("ok %s.%s (%ld checks)\n", prog, cases[i].name, th_checks);
		}
		else
		{
			failed++;
			printf("not ok %s.%s\n", prog, cases[i].name);
		}
		fflush(stdout);
	}
	printf("# passed %d failed %d\n", passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

#define TEST_MAIN(...) \
	int main(int argc, char **argv) { \
		th_fn fns[] = { __VA_ARGS__ }; \
		const char *names = #__VA_ARGS__; \
		th_case cases[sizeof(fns) / sizeof(fns[0])]; \
		static char namebuf[4096]; \
		int n = (int) (sizeof(fns) / sizeof(fns[0])); \
		snprintf(namebuf, sizeof(namebuf), "%s", names); \
		char *save = NULL, *tok = strtok_r(namebuf, ", ", &save); \
		for (int i = 0; i < n; i++) { \
			cases[i].fn = fns[i]; cases[i].name = tok ? tok : "?"; \
			tok = strtok_r(NULL, ", ", &save); } \
		const char *prog = strrchr(argv[0], '/'); \
		return th_run(prog ? prog + 1 : argv[0], cases, n, argc, argv); }

#endif
