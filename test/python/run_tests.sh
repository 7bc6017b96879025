#!/usr/bin/env bash
#
# run_tests.sh
#	  The `make test-python` suite: the Python package python/ as a user
#	  installs and uses it.
#
#	  1. builds and installs the extension (make treestore_fdw.so, make
#	     install), unless TS_REGRESS_NO_INSTALL=1;
#	  2. "install": a fresh venv build/python-venv made with
#	     /usr/bin/python3 -m venv --system-site-packages (Debian's psycopg,
#	     psycopg_pool, pytest and mypy belong to /usr/bin/python3), then
#	     pip install --no-build-isolation --no-deps ./python, offline;
#	  3. "mypy": mypy --strict over the package and the examples;
#	  4. pytest python/tests with the venv's python, from a directory where
#	     the source tree is not importable, so that the tests use the
#	     installed package (test_package.py checks that); the tests start
#	     their own PostgreSQL (python/tests/pgserver.py) as user postgres.
#	  Each of 2 and 3 counts as one test, pytest's tests as theirs; the last
#	  line is "N passed, N failed".
#
#	  Environment: TS_PYTEST_PORT (the tests' server port, default 5478),
#	  TS_PYTEST_ARGS (more pytest arguments, e.g. "-k compat"),
#	  TS_REGRESS_NO_INSTALL=1 (test the extension already installed).
#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV="$ROOT/build/python-venv"
LOGS="$ROOT/build/python-test"
PY=/usr/bin/python3
passed=0
failed=0

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

result() {	# result NAME STATUS LOG
	if [ "$2" -eq 0 ]; then
		echo "ok $1"
		passed=$((passed + 1))
	else
		echo "not ok $1 (log: $3)"
		tail -n 40 "$3" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

cd "$ROOT" || exit 1
mkdir -p "$LOGS"

if [ "${TS_REGRESS_NO_INSTALL:-0}" != 1 ]; then
	echo "=== build and install the extension"
	if ! { make --no-print-directory treestore_fdw.so && make --no-print-directory install; } \
			>"$LOGS/install-extension.log" 2>&1; then
		result "extension builds and installs" 1 "$LOGS/install-extension.log"
		finish
	fi
fi

echo "=== install the package into a fresh venv"
rm -rf "$VENV"
{
	"$PY" -m venv --system-site-packages "$VENV" &&
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1 \
		"$VENV/bin/pip" install --no-build-isolation --no-deps "$ROOT/python"
} >"$LOGS/install.log" 2>&1
status=$?
result "install (venv --system-site-packages, pip install --no-build-isolation --no-deps ./python)" \
	$status "$LOGS/install.log"
[ $status -eq 0 ] || finish

echo "=== mypy --strict"
"$VENV/bin/python" -m mypy --strict --cache-dir "$LOGS/mypy-cache" \
	python/treestore python/examples >"$LOGS/mypy.log" 2>&1
result "mypy --strict python/treestore python/examples" $? "$LOGS/mypy.log"

echo "=== pytest"
# From build/: the current directory must not make python/treestore importable.
(cd "$ROOT/build" && TREESTORE_VENV="$VENV" "$VENV/bin/python" -m pytest \
	-p no:cacheprovider --rootdir "$ROOT/python" -q -rfE ${TS_PYTEST_ARGS:-} \
	"$ROOT/python/tests") 2>&1 | tee "$LOGS/pytest.log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/pytest.log" | tail -n 1)
if [ -n "$line" ]; then
	read -r p _ f _ <<<"$line"
	passed=$((passed + p))
	failed=$((failed + f))
else
	echo "not ok pytest printed no closing line"
	failed=$((failed + 1))
fi
finish
