#-------------------------------------------------------------------------
#
# Makefile for treestore_fdw
#
#	  Two halves:
#	  - the PostgreSQL extension (src/, sql/, expected/), built by PGXS;
#	    PG_CONFIG selects the server;
#	  - the storage engine (engine/, plain C11), its tests and benchmarks,
#	    built by the explicit rules below into build/ (and, with
#	    AddressSanitizer and UndefinedBehaviorSanitizer, into build-asan/).
#
#	  Main targets:
#	    all            engine library, tools, test and benchmark programs,
#	                   extension
#	    deps           install missing Debian packages (test/install-deps.sh)
#	    test           deps, build, then every suite in TEST_SUITES; prints
#	                   the total "N passed, N failed" last
#	    test-engine    engine unit and model-based tests, normal and ASan builds,
#	                   and the threaded ones with ThreadSanitizer (build-tsan/)
#	    test-crash     crash suite (test/crash/): crash simulator and kill
#	                   loop, normal and ASan builds
#	    test-fuzz      the fuzz suite: `make fuzz` with FUZZ_SECONDS=30
#	    test-pg        the extension's pg_regress and isolation tests
#	                   (test/pg/run_regress.sh)
#	    test-pg-crash  crash tests in a real PostgreSQL: kill -9 of the
#	                   treestore worker and of the postmaster, immediate and
#	                   fast shutdowns under load (test/pg_crash/)
#	    test-python    the Python package (python/): installed into a fresh
#	                   venv, mypy --strict, pytest against a real server
#	                   (test/python/run_tests.sh)
#	    test-soak      the whole-system soak, a ~3-minute version
#	                   (test/soak/soak.py)
#	    soak           the full soak: 64 clients for 10 minutes under faults
#	    fuzz           build every test/fuzz/fuzz_*.c with clang and libFuzzer
#	                   (ASan, UBSan) into build-fuzz/, run each for
#	                   FUZZ_SECONDS (default 30)
#	    tools          engine/tools/treestore-<name>.c -> build/treestore-<name>
#	    asan           the sanitizer build only
#	    tsan           the ThreadSanitizer build only
#	    bench          every target in BENCH_TARGETS
#	    bench-engine   engine benchmark against LMDB and SQLite, the engine
#	                   also with the worker's options (RESULT lines)
#	    bench-wal      durable-commit, group-commit and recovery benchmark
#	                   (test/bench/bench_wal.c; RESULT wal lines)
#	    bench-sql      treestore.nodes and tool_results against native tables
#	                   with pgbench: point lookups at 1-8 clients, one-row
#	                   write transactions at 1 and 16, CPU per request
#	                   (test/bench/bench_sql.sh; TARGET and RESULT sql lines)
#	    bench-docs     the document functions (get_subtree, get_ancestors,
#	                   version_as_of, search, store_document) against the
#	                   same corpus in native tables at 1-8 clients, p99 of
#	                   point lookups under searches, CPU per request
#	                   (test/bench/bench_docs.sh; TARGET and RESULT sql lines)
#	    bench-python   the Python client's overhead over raw psycopg, and a
#	                   reasoning case through treestore.compat against the
#	                   legacy tables (test/bench/bench_python.py; RESULT
#	                   python lines)
#	    demo           deps, build, start a private PostgreSQL with the
#	                   extension, load sample documents, run queries
#	                   (test/demo/demo.sh; DEMO_DIR, DEMO_PORT)
#	    clean          remove build/, build-asan/, build-tsan/, build-fuzz/ and PGXS's
#	                   products
#
#-------------------------------------------------------------------------

all:
.DEFAULT_GOAL := all

#-------------------------------------------------------------------------
# PostgreSQL extension (PGXS)
#
# Included only when pg_config is found, so that the engine targets work
# without PostgreSQL; `make test` installs it first (make deps) and then runs
# its suites in a sub-make, which reads this file again with pg_config present.
#-------------------------------------------------------------------------

EXTENSION = treestore_fdw

# src/treestore.pb-c.[ch] are generated from src/treestore.proto by
# protoc-c (never committed).
SRC_C := $(filter-out %.pb-c.c,$(wildcard src/*.c))
PROTO_GEN = src/treestore.pb-c.c src/treestore.pb-c.h
ifneq ($(SRC_C),)
MODULE_big = treestore_fdw
OBJS = $(SRC_C:.c=.o) src/treestore.pb-c.o
PG_CPPFLAGS += -Iengine -Isrc
SHLIB_LINK += build/libtreestore.a -lprotobuf-c -lpthread -lm
EXTRA_CLEAN = $(PROTO_GEN)
endif

DATA = $(wildcard sql/treestore_fdw--*.sql)

# pg_regress topics: sql/<topic>.sql with expected/<topic>.out.
REGRESS_SQL := $(filter-out sql/treestore_fdw--%,$(wildcard sql/*.sql))
ifneq ($(REGRESS_SQL),)
REGRESS = $(patsubst sql/%.sql,%,$(REGRESS_SQL))
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
ifneq ($(SRC_C),)
# The module links the engine library: build it first.  PGXS tracks no
# header dependencies, so every src/ object depends on every header.
$(MODULE_big)$(DLSUFFIX): build/libtreestore.a
$(OBJS) $(OBJS:.o=.bc): $(filter-out %.pb-c.h,$(wildcard src/*.h)) $(wildcard engine/*.h) src/treestore.pb-c.h
$(PROTO_GEN) &: src/treestore.proto
	protoc-c --proto_path=src --c_out=src src/treestore.proto
endif
else
install installcheck uninstall:
	@echo "$(PG_CONFIG) not found: run 'make deps' (installs postgresql-server-dev-15) or set PG_CONFIG=/path/to/pg_config" >&2
	@exit 1
endif

#-------------------------------------------------------------------------
# Storage engine
#
# PGXS defines CC, CFLAGS, CPPFLAGS and a %.o: %.c rule; the engine uses its
# own variables and pattern rules whose targets are under build/, so neither
# affects the other.  -fPIC: the engine library is linked into the
# extension's shared library.
#-------------------------------------------------------------------------

ENGINE_CC ?= $(CC)
ENGINE_AR ?= ar
ENGINE_WARNINGS = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wvla
ENGINE_CFLAGS ?= -std=c11 -D_GNU_SOURCE -O2 -g $(ENGINE_WARNINGS) -pthread -fPIC -Iengine
ASAN_FLAGS ?= -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
# The sanitizer build: the same flags with ASAN_FLAGS replacing -O2 -g.
ENGINE_ASAN_CFLAGS = $(filter-out -O2 -g,$(ENGINE_CFLAGS)) $(ASAN_FLAGS)
# The ThreadSanitizer build (build-tsan/): the engine and the test programs
# that use threads (TSAN_TESTS), run by test-engine.
TSAN_FLAGS ?= -O1 -g -fsanitize=thread -fno-omit-frame-pointer
ENGINE_TSAN_CFLAGS = $(filter-out -O2 -g,$(ENGINE_CFLAGS)) $(TSAN_FLAGS)
TSAN_TESTS = test_txn test_commit test_recovery test_savepoint test_wal

# Test programs: -Itest/engine; test functions are static, so prototypes are
# not required.
TEST_CFLAGS = $(ENGINE_CFLAGS) -Wno-missing-prototypes -Itest/engine
TEST_ASAN_CFLAGS = $(ENGINE_ASAN_CFLAGS) -Wno-missing-prototypes -Itest/engine
# (the single-threaded savepoint model runs shorter there: its threads are
# elsewhere in the program)
TEST_TSAN_CFLAGS = $(ENGINE_TSAN_CFLAGS) -Wno-missing-prototypes -Itest/engine \
	-DTS_SP_OPS_DEFAULT=6000
TEST_LIBS = -lpthread -lm
BENCH_CFLAGS = $(ENGINE_CFLAGS) -Wno-missing-prototypes -Itest/bench
BENCH_LIBS = -llmdb -lsqlite3 -lpthread -lm

ENGINE_SRCS := $(wildcard engine/*.c)
ENGINE_OBJS := $(patsubst engine/%.c,build/engine/%.o,$(ENGINE_SRCS))
ENGINE_ASAN_OBJS := $(patsubst engine/%.c,build-asan/engine/%.o,$(ENGINE_SRCS))
ENGINE_LIB := build/libtreestore.a
ENGINE_ASAN_LIB := build-asan/libtreestore.a
ENGINE_TSAN_OBJS := $(patsubst engine/%.c,build-tsan/engine/%.o,$(ENGINE_SRCS))
ENGINE_TSAN_LIB := build-tsan/libtreestore.a

# test/engine/test_X.c is the program test_X; any other test/engine/*.c is a
# helper (a fault-injecting vfs, a model, ...) linked into every test program.
TEST_SRCS := $(wildcard test/engine/test_*.c)
TEST_HELPER_SRCS := $(filter-out $(TEST_SRCS),$(wildcard test/engine/*.c))
TEST_PROGS := $(patsubst test/engine/%.c,build/test/%,$(TEST_SRCS))
TEST_ASAN_PROGS := $(patsubst test/engine/%.c,build-asan/test/%,$(TEST_SRCS))
TEST_HELPER_OBJS := $(patsubst test/engine/%.c,build/test/helpers/%.o,$(TEST_HELPER_SRCS))
TEST_HELPER_ASAN_OBJS := $(patsubst test/engine/%.c,build-asan/test/helpers/%.o,$(TEST_HELPER_SRCS))
TEST_TSAN_PROGS := $(patsubst %,build-tsan/test/%,$(TSAN_TESTS))
TEST_HELPER_TSAN_OBJS := $(patsubst test/engine/%.c,build-tsan/test/helpers/%.o,$(TEST_HELPER_SRCS))

# test/crash/test_X.c is the program test_X of the crash suite, built like
# the engine tests into build/crash/ and build-asan/crash/, with
# -Itest/crash (crashvfs.h) and -Itest/engine (harness.h).  The ASan build
# runs fewer crash points and kill rounds unless TS_CRASH_POINTS or
# TS_KILL_ROUNDS say otherwise.
CRASH_SRCS := $(wildcard test/crash/test_*.c)
CRASH_PROGS := $(patsubst test/crash/%.c,build/crash/%,$(CRASH_SRCS))
CRASH_ASAN_PROGS := $(patsubst test/crash/%.c,build-asan/crash/%,$(CRASH_SRCS))
# CRASH_DEFS: -DTS_HAVE_WAL adds the write-ahead log's checks to test_crash
# (prepared transactions in doubt after recovery, checkpoints; see its
# header); set it here once the engine has them (after changing it, remove
# build/crash and build-asan/crash: flags are not tracked).
CRASH_DEFS ?= -DTS_HAVE_WAL
CRASH_CFLAGS = $(TEST_CFLAGS) -Itest/crash $(CRASH_DEFS)
CRASH_ASAN_CFLAGS = $(TEST_ASAN_CFLAGS) -Itest/crash $(CRASH_DEFS) \
	-DTS_CRASH_POINTS_DEFAULT=2000 -DTS_KILL_ROUNDS_DEFAULT=50

# engine/tools/treestore-X.c is the program build/treestore-X.
TOOL_SRCS := $(wildcard engine/tools/*.c)
TOOL_PROGS := $(patsubst engine/tools/%.c,build/%,$(TOOL_SRCS))
TOOL_CFLAGS = $(ENGINE_CFLAGS) -Wno-missing-prototypes

# test/bench/bench_X.c is the program build/bench/bench_X.
BENCH_SRCS := $(wildcard test/bench/bench_*.c)
BENCH_PROGS := $(patsubst test/bench/%.c,build/bench/%,$(BENCH_SRCS))

# Helper objects are reached only through pattern rules; keep make from
# deleting them as intermediate files.
.SECONDARY: $(TEST_HELPER_OBJS) $(TEST_HELPER_ASAN_OBJS) $(TEST_HELPER_TSAN_OBJS)

.PHONY: engine engine-tests crash-tests crash-asan tools asan tsan bench-programs
engine: $(ENGINE_LIB)
engine-tests: $(TEST_PROGS)
crash-tests: $(CRASH_PROGS)
crash-asan: $(ENGINE_ASAN_LIB) $(CRASH_ASAN_PROGS)
tools: $(TOOL_PROGS)
bench-programs: $(BENCH_PROGS)
asan: $(ENGINE_ASAN_LIB) $(TEST_ASAN_PROGS)
tsan: $(ENGINE_TSAN_LIB) $(TEST_TSAN_PROGS)

all: engine tools engine-tests crash-tests bench-programs

build/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(ENGINE_CC) $(ENGINE_CFLAGS) -MMD -MP -c -o $@ $<

build-tsan/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(ENGINE_CC) $(ENGINE_TSAN_CFLAGS) -MMD -MP -c -o $@ $<

$(ENGINE_TSAN_LIB): $(ENGINE_TSAN_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(ENGINE_AR) rcs $@ $^

build-tsan/test/helpers/%.o: test/engine/%.c
	@mkdir -p $(dir $@)
	$(ENGINE_CC) $(TEST_TSAN_CFLAGS) -MMD -MP -c -o $@ $<

build-tsan/test/test_%: test/engine/test_%.c $(TEST_HELPER_TSAN_OBJS) $(ENGINE_TSAN_LIB)
	@mkdir -p $(dir $@)
	$(ENGINE_CC) $(TEST_TSAN_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(TEST_HELPER_TSAN_OBJS) $(ENGINE_TSAN_LIB) $(TEST_LIBS)

build-asan/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(ENGINE_CC) $(ENGINE_ASAN_CFLAGS) -MMD -MP -c -o $@ $<

$(ENGINE_LIB): $(ENGINE_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(ENGINE_AR) rcs $@ $^

$(ENGINE_ASAN_LIB): $(ENGINE_ASAN_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(ENGINE_AR) rcs $@ $^

build/test/helpers/%.o: test/engine/%.c
	@mkdir -p $(@D)
	$(ENGINE_CC) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

build-asan/test/helpers/%.o: test/engine/%.c
	@mkdir -p $(@D)
	$(ENGINE_CC) $(TEST_ASAN_CFLAGS) -MMD -MP -c -o $@ $<

build/test/test_%: test/engine/test_%.c $(TEST_HELPER_OBJS) $(ENGINE_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(TEST_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(TEST_HELPER_OBJS) $(ENGINE_LIB) $(TEST_LIBS)

build-asan/test/test_%: test/engine/test_%.c $(TEST_HELPER_ASAN_OBJS) $(ENGINE_ASAN_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(TEST_ASAN_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(TEST_HELPER_ASAN_OBJS) $(ENGINE_ASAN_LIB) $(TEST_LIBS)

build/crash/test_%: test/crash/test_%.c $(ENGINE_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(CRASH_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(ENGINE_LIB) $(TEST_LIBS)

build-asan/crash/test_%: test/crash/test_%.c $(ENGINE_ASAN_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(CRASH_ASAN_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(ENGINE_ASAN_LIB) $(TEST_LIBS)

$(TOOL_PROGS): build/%: engine/tools/%.c $(ENGINE_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(TOOL_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(ENGINE_LIB) -lpthread -lm

build/bench/bench_%: test/bench/bench_%.c $(ENGINE_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(BENCH_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(ENGINE_LIB) $(BENCH_LIBS)

# bench_wal compares with SQLite only.
ifneq ($(wildcard test/bench/bench_wal.c),)
build/bench/bench_wal: test/bench/bench_wal.c $(ENGINE_LIB)
	@mkdir -p $(@D)
	$(ENGINE_CC) $(BENCH_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(ENGINE_LIB) -lsqlite3 -lpthread -lm
endif

-include $(wildcard build/engine/*.d build-asan/engine/*.d \
	build/test/*.d build-asan/test/*.d \
	build/test/helpers/*.d build-asan/test/helpers/*.d build/bench/*.d \
	build/crash/*.d build-asan/crash/*.d build/*.d \
	build-tsan/engine/*.d build-tsan/test/*.d build-tsan/test/helpers/*.d \
	build-fuzz/engine/*.d build-fuzz/*.d)

#-------------------------------------------------------------------------
# Dependencies
#-------------------------------------------------------------------------

.PHONY: deps
deps:
	bash test/install-deps.sh

#-------------------------------------------------------------------------
# Tests
#
# Every suite is a target test-<suite> listed in TEST_SUITES.  A suite builds
# what it needs, runs, and prints its own closing line "N passed, N failed"
# (the last such line of its output counts); it exits non-zero if anything
# failed.  `make test` installs the dependencies, builds everything, runs each
# suite (continuing after a failing one) and prints the total as its last
# line.  A suite that fails without a closing line counts as 1 failed, and so
# does a failing build.  To add a suite: define test-<suite> and append it to
# TEST_SUITES.
#-------------------------------------------------------------------------

TEST_SUITES = engine crash fuzz pg

.PHONY: test test-engine test-crash test-fuzz
# Programs whose source is gone (renamed or deleted tests) are removed first.
STALE_TEST_PROGS = $(filter-out $(TEST_PROGS) $(TEST_ASAN_PROGS), \
	$(filter-out %.d,$(wildcard build/test/test_* build-asan/test/test_*)))
STALE_CRASH_PROGS = $(filter-out $(CRASH_PROGS) $(CRASH_ASAN_PROGS), \
	$(filter-out %.d,$(wildcard build/crash/test_* build-asan/crash/test_*)))

test-engine: engine-tests asan tsan tools
	$(if $(strip $(STALE_TEST_PROGS)),rm -f $(STALE_TEST_PROGS))
	bash test/run_tests.sh build/test build-asan/test build-tsan/test

# The crash suite: test_crashvfs (the simulator's own tests), test_crash
# (TS_CRASH_POINTS crash points, default 10000; 2000 in the ASan build) and
# test_kill (TS_KILL_ROUNDS SIGKILLed writers, default 200; 50 in the ASan
# build); both are read from the environment or the make command line, e.g.
# a longer soak: make test-crash TS_CRASH_POINTS=200000 TS_KILL_ROUNDS=2000.
test-crash: crash-tests crash-asan
	$(if $(strip $(STALE_CRASH_PROGS)),rm -f $(STALE_CRASH_PROGS))
	bash test/run_tests.sh build/crash build-asan/crash

test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# The PostgreSQL suite (test/pg/run_regress.sh): builds and installs the
# extension, then runs the pg_regress topics (sql/<topic>.sql, in the order
# of test/pg/schedule) and the isolation specs (test/isolation/specs/), each
# on a temporary instance run as user postgres when we are root.  Results:
# build/pg-regress/.
.PHONY: test-pg
test-pg:
	@bash test/pg/run_regress.sh

# The PostgreSQL crash suite (test/pg_crash/test_pg_crash.py): builds and
# installs the extension, then runs a private cluster under /tmp/tscrash-*
# (as user postgres when we are root) whose treestore worker and postmaster
# are killed under load; checks that acknowledged commits survive and that
# ledger and treestore.tool_results agree; then the operator's cases (a
# stopped worker and request_timeout, no preload, an engine that cannot
# open, in-doubt transactions resolved by hand).  Rounds, clients and seed come
# from TS_PGCRASH_* (see the script's header), e.g. a longer soak:
#   make test-pg-crash TS_PGCRASH_WORKER_ROUNDS=50 TS_PGCRASH_POSTMASTER_ROUNDS=50
# A failing build counts as 1 failed.
.PHONY: test-pg-crash
test-pg-crash:
	@if ! { $(MAKE) --no-print-directory treestore_fdw$(DLSUFFIX) && \
		$(MAKE) --no-print-directory install >build/pg-crash-install.log 2>&1; }; then \
		echo "not ok pg-crash: building or installing the extension failed (see build/pg-crash-install.log)"; \
		echo "0 passed, 1 failed"; exit 1; \
	fi
	@/usr/bin/python3 test/pg_crash/test_pg_crash.py
TEST_SUITES += pg-crash

# The Python suite (test/python/run_tests.sh): builds and installs the
# extension, installs python/ into a fresh venv (build/python-venv), runs
# mypy --strict and pytest python/tests (its own server, as user postgres).
.PHONY: test-python
test-python:
	@bash test/python/run_tests.sh
TEST_SUITES += python

# The whole-system soak (test/soak/soak.py; see its header): a private
# cluster under /tmp/tscrash-* with a mixed load of psycopg clients, the
# treestore worker killed (SIGKILL every period, SIGTERM) and the postmaster
# killed, an oracle of acknowledged writes, worker RSS, a fuzz of the SQL
# surface, treestore-check, and a full disk (a small tmpfs; skipped when not
# root).  `make soak` is the full one (64 clients, 10 minutes, a worker
# SIGKILL every minute, one SIGTERM, two postmaster SIGKILLs); test-soak a
# ~3-minute one.  Everything can be changed by TS_SOAK_* (environment).
# The server binaries: TS_SOAK_PGBIN, else $(PG_CONFIG) --bindir.
define run_soak
	@if ! { $(MAKE) --no-print-directory treestore_fdw$(DLSUFFIX) tools >build/soak-build.log 2>&1 && \
		$(MAKE) --no-print-directory install >build/soak-install.log 2>&1; }; then \
		echo "not ok soak: building or installing failed (see build/soak-build.log, build/soak-install.log)"; \
		echo "0 passed, 1 failed"; exit 1; \
	fi
	@TS_SOAK_PGBIN="$${TS_SOAK_PGBIN:-$$($(PG_CONFIG) --bindir)}" $(1) /usr/bin/python3 test/soak/soak.py
endef

.PHONY: soak test-soak
soak:
	$(call run_soak,)
test-soak:
	$(call run_soak,TS_SOAK_CLIENTS=$${TS_SOAK_CLIENTS:-16} TS_SOAK_SECONDS=$${TS_SOAK_SECONDS:-120} \
		TS_SOAK_PERIOD=$${TS_SOAK_PERIOD:-30} TS_SOAK_POSTMASTER_KILLS=$${TS_SOAK_POSTMASTER_KILLS:-1} \
		TS_SOAK_FUZZ_SECONDS=$${TS_SOAK_FUZZ_SECONDS:-15})
TEST_SUITES += soak

test: SHELL := /bin/bash
test: deps
	@mkdir -p build/test-logs; \
	passed=0; failed=0; summary=(); \
	echo "=== build (make all)"; \
	if ! $(MAKE) --no-print-directory all; then \
		echo "=== build FAILED (make all)"; failed=$$((failed + 1)); \
		summary+=("build: FAILED"); \
	fi; \
	for suite in $(TEST_SUITES); do \
		echo "=== suite $$suite (make test-$$suite)"; \
		log=build/test-logs/$$suite.log; \
		$(MAKE) --no-print-directory test-$$suite 2>&1 | tee $$log; \
		rc=$${PIPESTATUS[0]}; \
		line=$$(grep -E '^[0-9]+ passed, [0-9]+ failed$$' $$log | tail -n 1); \
		p=0; f=0; \
		if [ -n "$$line" ]; then read -r p _ f _ <<<"$$line"; fi; \
		if [ $$rc -ne 0 ] && [ $$f -eq 0 ]; then \
			echo "=== suite $$suite exited with status $$rc without reporting a failure: counted as 1 failed"; \
			f=1; \
		elif [ $$rc -eq 0 ] && [ -z "$$line" ]; then \
			echo "=== suite $$suite printed no closing line: counted as 1 failed"; \
			f=1; \
		fi; \
		passed=$$((passed + p)); failed=$$((failed + f)); \
		summary+=("$$suite: $$p passed, $$f failed"); \
	done; \
	echo "=== summary"; \
	for s in "$${summary[@]}"; do echo "  $$s"; done; \
	echo "$$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

#-------------------------------------------------------------------------
# Fuzzing (libFuzzer)
#
# Every test/fuzz/fuzz_X.c (a LLVMFuzzerTestOneInput) is linked with the
# engine, all compiled by clang with FUZZ_FLAGS, into build-fuzz/fuzz_X.
# `make fuzz` builds and runs each for FUZZ_SECONDS seconds on a fresh corpus
# build-fuzz/corpus/fuzz_X (seeded from test/fuzz/corpus/fuzz_X/ when that
# exists); a target passes if libFuzzer exits 0 (no crash, sanitizer report,
# leak, timeout of one input over FUZZ_TIMEOUT seconds, or out-of-memory).
# The log is build-fuzz/fuzz_X.log, a failing input build-fuzz/artifacts/.
# Prints "N passed, N failed" last.
#-------------------------------------------------------------------------

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_TIMEOUT ?= 10
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) -Iengine -Itest/fuzz
FUZZ_SRCS := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_PROGS := $(patsubst test/fuzz/%.c,build-fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst engine/%.c,build-fuzz/engine/%.o,$(ENGINE_SRCS))
FUZZ_LIB := build-fuzz/libtreestore.a

build-fuzz/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(ENGINE_AR) rcs $@ $^

build-fuzz/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(FUZZ_LIB) -lpthread -lm

.PHONY: fuzz fuzz-programs
fuzz-programs: $(FUZZ_PROGS)

# Each target is built on its own, so that one that does not build fails
# alone (counted as failed) and the others still run.
fuzz:
	@passed=0; failed=0; \
	mkdir -p build-fuzz/artifacts build-fuzz/corpus; \
	for prog in $(FUZZ_PROGS); do \
		name=$$(basename $$prog); log=build-fuzz/$$name.log; \
		if ! $(MAKE) -s --no-print-directory $$prog; then \
			echo "not ok $$name: does not build"; failed=$$((failed + 1)); continue; \
		fi; \
		corpus=build-fuzz/corpus/$$name; rm -rf $$corpus build-fuzz/artifacts/$$name-*; \
		mkdir -p $$corpus; \
		seeds=; if [ -d test/fuzz/corpus/$$name ]; then seeds=test/fuzz/corpus/$$name; fi; \
		echo "# fuzzing $$name for $(FUZZ_SECONDS) s"; \
		if $$prog -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
				-rss_limit_mb=2048 -print_final_stats=1 \
				-artifact_prefix=build-fuzz/artifacts/$$name- $$corpus $$seeds >$$log 2>&1; then \
			runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
			echo "ok $$name ($${runs:-?} runs, $$(ls $$corpus | wc -l) corpus inputs)"; \
			passed=$$((passed + 1)); \
		else \
			echo "not ok $$name (log $$log):"; tail -n 40 $$log | sed 's/^/    /'; \
			failed=$$((failed + 1)); \
		fi; \
	done; \
	echo "$$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

#-------------------------------------------------------------------------
# Benchmarks
#
# bench-engine runs build/bench/bench_engine --dir $(BENCH_DIR) $(BENCH_ARGS)
# (for example BENCH_ARGS="--keys 100000 --sync 1"); BENCH_DIR is emptied
# first and is on the same disk as the repository by default.  The program
# prints a table and then "RESULT engine <name> <value>" lines.  bench-wal
# runs build/bench/bench_wal --dir $(BENCH_DIR)/wal $(BENCH_WAL_ARGS) (that
# directory emptied first) and prints "RESULT wal <name> <value>" lines; it
# is in BENCH_TARGETS once test/bench/bench_wal.c exists.  `make bench` runs
# every target in BENCH_TARGETS, one after another.
#
# bench-sql and bench-docs start a private PostgreSQL of $(PG_CONFIG) (they
# build and install the extension for it) as user postgres, load the same
# data into treestore and into native tables (same indexes, primary-key
# order), and compare them with pgbench at several client counts, with
# fsync, synchronous_commit and treestore.synchronous_commit on, warm.  They
# print "TARGET sql <name> <value> <op> <goal> ok|MISS" per issue target and
# "RESULT sql <name> <value>" lines; settings (BENCH_SQL_*, BENCH_DOCS_*:
# size, seconds, rounds, client counts, port, directory) in the scripts'
# headers.  Both together take about 15 minutes at the default sizes.
#-------------------------------------------------------------------------

BENCH_DIR ?= $(CURDIR)/build/bench-data
BENCH_ARGS ?=
BENCH_WAL_ARGS ?=
BENCH_TARGETS = bench-engine $(if $(wildcard test/bench/bench_wal.c),bench-wal) bench-sql bench-docs \
	bench-python

.PHONY: bench bench-engine bench-wal bench-sql bench-docs bench-python
# bench-sql: treestore.nodes and tool_results against native tables with
# pgbench (test/bench/bench_sql.sh; TARGET and RESULT sql lines).
bench-sql: deps
	@$(MAKE) --no-print-directory engine
	PG_CONFIG="$(PG_CONFIG)" bash test/bench/bench_sql.sh

# bench-docs: the document functions against the same corpus in native
# tables (test/bench/bench_docs.sh, corpus by test/bench/gen_corpus.py;
# TARGET and RESULT sql lines).  BENCH_DOCS_* variables in the script's
# header.
bench-docs: deps
	@$(MAKE) --no-print-directory engine
	PG_CONFIG="$(PG_CONFIG)" bash test/bench/bench_docs.sh

# bench-python: the Python client (test/bench/bench_python.py; RESULT python
# lines).  BENCH_PY_* variables in the script's header.
bench-python: deps
	@$(MAKE) --no-print-directory treestore_fdw$(DLSUFFIX)
	@$(MAKE) --no-print-directory install >/dev/null
	/usr/bin/python3 test/bench/bench_python.py

bench:
	@for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

bench-engine: deps
	@test -f test/bench/bench_engine.c || { echo "test/bench/bench_engine.c does not exist yet" >&2; exit 1; }
	@$(MAKE) --no-print-directory build/bench/bench_engine
	@case "$(BENCH_DIR)" in ""|/) echo "refusing BENCH_DIR='$(BENCH_DIR)'" >&2; exit 1;; esac
	rm -rf "$(BENCH_DIR)"
	mkdir -p "$(BENCH_DIR)"
	build/bench/bench_engine --dir "$(BENCH_DIR)" $(BENCH_ARGS)

bench-wal: deps
	@test -f test/bench/bench_wal.c || { echo "test/bench/bench_wal.c does not exist yet" >&2; exit 1; }
	@$(MAKE) --no-print-directory build/bench/bench_wal
	@case "$(BENCH_DIR)" in ""|/) echo "refusing BENCH_DIR='$(BENCH_DIR)'" >&2; exit 1;; esac
	rm -rf "$(BENCH_DIR)/wal"
	mkdir -p "$(BENCH_DIR)/wal"
	build/bench/bench_wal --dir "$(BENCH_DIR)/wal" $(BENCH_WAL_ARGS)

#-------------------------------------------------------------------------
# Demo (placeholder: the PostgreSQL demo arrives with the PostgreSQL
# integration issue)
#-------------------------------------------------------------------------

.PHONY: demo
demo: deps
	@$(MAKE) --no-print-directory engine
	bash test/demo/demo.sh

#-------------------------------------------------------------------------
# Clean
#-------------------------------------------------------------------------

.PHONY: clean clean-build
clean: clean-build
clean-build:
	rm -rf build build-asan build-tsan build-fuzz
