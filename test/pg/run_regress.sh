#!/usr/bin/env bash
#
# run_regress.sh [TEST...]
#	  The `make test-pg` suite: treestore_fdw's pg_regress topics and its
#	  isolation specs, each against a temporary PostgreSQL instance of its own.
#
#	  1. builds the extension (make treestore_fdw.so) and installs it
#	     (make install: run as root, or as a user who may write into the
#	     server's directories);
#	  2. copies sql/, expected/, test/pg/, test/isolation/ and the PageIndex
#	     samples of test/data/pageindex/ (to regress/data/pageindex/) into a scratch
#	     directory under /tmp owned by user postgres (PostgreSQL refuses to run
#	     as root, and user postgres may not be able to read the repository);
#	  3. runs pg_regress with --temp-instance (port 5497 or the next free one)
#	     and --temp-config test/pg/regress.conf, the topics in the order of
#	     test/pg/schedule (or, with arguments, just the topics named);
#	  4. runs pg_isolation_regress the same way (port 5496) on every
#	     test/isolation/specs/*.spec, expected output in
#	     test/isolation/expected/ (skipped when topics are named);
#	  5. copies the results back to build/pg-regress/{regress,isolation}/
#	     (regression.out, regression.diffs, results/, the server log) and
#	     prints the first lines of each regression.diffs on failure.
#
#	  Each temporary instance starts its own treestore worker, whose data lives
#	  in the instance's data directory: every run starts with empty tables.
#	  Each pg_regress test and each isolation spec counts as one test; the
#	  last line printed is exactly "N passed, N failed".  Exit status 1 when
#	  anything failed.
#
#	  Environment: PG_CONFIG (default: pg_config on PATH, else
#	  /usr/lib/postgresql/15/bin/pg_config), TS_REGRESS_PORT (5497),
#	  TS_ISOLATION_PORT (5496), TS_REGRESS_TIMEOUT (seconds per runner, 600),
#	  TS_KEEP_TMP=1 keeps the scratch directory, TS_REGRESS_NO_INSTALL=1
#	  skips step 1 (neither builds nor installs: the tests run against the
#	  extension already installed in the server's directories, e.g. while
#	  someone else installs builds there).
#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$ROOT/build/pg-regress"
REGRESS_PORT=${TS_REGRESS_PORT:-5497}
ISOLATION_PORT=${TS_ISOLATION_PORT:-5496}
TIMEOUT=${TS_REGRESS_TIMEOUT:-600}

passed=0
failed=0

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# A step that fails before any test could run counts as 1 failed.
abort() {
	echo "run_regress: $*"
	failed=$((failed + 1))
	finish
}

cd "$ROOT" || abort "cannot enter $ROOT"

if [ -z "${PG_CONFIG:-}" ]; then
	if command -v pg_config >/dev/null 2>&1; then
		PG_CONFIG=pg_config
	else
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	fi
fi
command -v "$PG_CONFIG" >/dev/null 2>&1 ||
	abort "$PG_CONFIG not found: run 'make deps' (installs postgresql-server-dev-15) or set PG_CONFIG"
PGBIN=$("$PG_CONFIG" --bindir)
PGXS_DIR=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")	# .../lib/pgxs/src
PG_REGRESS="$PGXS_DIR/test/regress/pg_regress"
PG_ISOLATION_REGRESS="$PGXS_DIR/test/isolation/pg_isolation_regress"
[ -x "$PG_REGRESS" ] || abort "pg_regress not found at $PG_REGRESS"

mkdir -p "$ROOT/build"
if [ "${TS_REGRESS_NO_INSTALL:-0}" = 1 ]; then
	echo "=== build and install skipped (TS_REGRESS_NO_INSTALL=1): testing the installed extension"
else
	echo "=== build (make treestore_fdw.so PG_CONFIG=$PG_CONFIG)"
	make --no-print-directory treestore_fdw.so PG_CONFIG="$PG_CONFIG" ||
		abort "the extension does not build"
	echo "=== install (make install)"
	make --no-print-directory install PG_CONFIG="$PG_CONFIG" >"$ROOT/build/pg-regress-install.log" 2>&1 || {
		tail -n 30 "$ROOT/build/pg-regress-install.log"
		abort "make install failed (log: build/pg-regress-install.log)"
	}
fi

# Who runs the servers: user postgres when we are root, else ourselves.
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || abort "running as root, but there is no user postgres to run PostgreSQL as"
	AS=(runuser -u postgres --)
	RUN_USER=postgres
else
	AS=()
	RUN_USER=$(id -un)
fi

WORK=$(mktemp -d /tmp/treestore-pg-test.XXXXXX) || abort "mktemp failed"
cleanup() {
	if [ "${TS_KEEP_TMP:-0}" = 1 ]; then
		echo "scratch directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

mkdir -p "$WORK/regress/sql" "$WORK/regress/expected" \
	"$WORK/isolation/specs" "$WORK/isolation/expected"
cp sql/*.sql "$WORK/regress/sql/"
rm -f "$WORK"/regress/sql/treestore_fdw--*.sql
cp expected/*.out "$WORK/regress/expected/" 2>/dev/null
cp test/pg/schedule test/pg/regress.conf "$WORK/"
# the PageIndex samples, for documents.sql (psql: \getenv abs_srcdir PG_ABS_SRCDIR)
mkdir -p "$WORK/regress/data/pageindex"
cp test/data/pageindex/*.json "$WORK/regress/data/pageindex/"
cp test/isolation/specs/*.spec "$WORK/isolation/specs/" 2>/dev/null
cp test/isolation/expected/*.out "$WORK/isolation/expected/" 2>/dev/null
if [ "$RUN_USER" = postgres ] && [ "$(id -u)" -eq 0 ]; then
	chown -R postgres "$WORK"
fi

rm -rf "$OUT"
mkdir -p "$OUT"

# run_suite NAME DIR COMMAND...: run a pg_regress-style runner in DIR, add up
# its "... ok" / "... FAILED" lines, copy its products to $OUT/NAME.
run_suite() {
	local name=$1 dir=$2
	shift 2
	local log="$dir/runner.log" rc p f
	echo "=== $name"
	(cd "$dir" && timeout -k 10 "$TIMEOUT" "${AS[@]}" "$@") >"$log" 2>&1
	rc=$?
	# a runner killed by the timeout leaves its temporary server running
	if [ -f "$dir/tmp_check/data/postmaster.pid" ]; then
		(cd "$dir" && "${AS[@]}" "$PGBIN/pg_ctl" -D "$dir/tmp_check/data" stop -m immediate) >/dev/null 2>&1
	fi
	cat "$log"
	# one line per test: "test NAME ... ok", "     NAME ... FAILED", "... failed (ignored)"
	p=$(grep -cE '^(test +)? *[^ ]+ +\.\.\. ok' "$log")
	f=$(grep -cE '^(test +)? *[^ ]+ +\.\.\. (FAILED|failed)' "$log")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "=== $name timed out after $TIMEOUT s"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "=== $name exited with status $rc without a failed test: counted as 1 failed"
		f=1
	elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "=== $name ran no test: counted as 1 failed"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	mkdir -p "$OUT/$name"
	cp "$log" "$OUT/$name/"
	for x in regression.out regression.diffs results; do
		[ -e "$dir/$x" ] && cp -r "$dir/$x" "$OUT/$name/"
	done
	[ -d "$dir/tmp_check/log" ] && cp -r "$dir/tmp_check/log" "$OUT/$name/server-log"
	if [ -s "$dir/regression.diffs" ]; then
		echo "=== $name: first lines of regression.diffs (all of it: build/pg-regress/$name/regression.diffs)"
		head -n 200 "$dir/regression.diffs"
	fi
}

if [ "$#" -gt 0 ]; then
	tests=("$@")
else
	tests=(--schedule="$WORK/schedule")
fi

run_suite regress "$WORK/regress" "$PG_REGRESS" \
	--temp-instance="$WORK/regress/tmp_check" --port="$REGRESS_PORT" \
	--temp-config="$WORK/regress.conf" --bindir="$PGBIN" \
	--inputdir="$WORK/regress" --outputdir="$WORK/regress" \
	--dbname=contrib_regression --no-locale --encoding=UTF8 \
	"${tests[@]}"

if [ "$#" -eq 0 ]; then
	specs=()
	for s in "$WORK"/isolation/specs/*.spec; do
		[ -e "$s" ] && specs+=("$(basename "$s" .spec)")
	done
	if [ "${#specs[@]}" -gt 0 ]; then
		[ -x "$PG_ISOLATION_REGRESS" ] || abort "pg_isolation_regress not found at $PG_ISOLATION_REGRESS"
		run_suite isolation "$WORK/isolation" "$PG_ISOLATION_REGRESS" \
			--temp-instance="$WORK/isolation/tmp_check" --port="$ISOLATION_PORT" \
			--temp-config="$WORK/regress.conf" --bindir="$PGBIN" \
			--inputdir="$WORK/isolation" --outputdir="$WORK/isolation" \
			--dbname=isolation_regression --no-locale --encoding=UTF8 \
			"${specs[@]}"
	fi
fi

finish
