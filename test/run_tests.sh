#!/usr/bin/env bash
#
# run_tests.sh DIR...
#	  Run every executable test_* program in each DIR (in sorted order), echo
#	  its output, and add up the "# passed N failed M" line each program prints
#	  last (see test/engine/harness.h).
#
#	  A program counts as 1 failed, with the reason printed, when it
#	    - times out (TS_TEST_TIMEOUT seconds, default 1200),
#	    - is killed by a signal (a crash) or exits non-zero without its
#	      summary line (for example a sanitizer report),
#	    - exits non-zero although its summary line reports no failure
#	      (for example LeakSanitizer at exit),
#	    - exits zero without a summary line.
#
#	  Each program runs with TS_TEST_DIR set to a fresh scratch directory under
#	  build/test-tmp/ of the repository; it is removed after a run in which
#	  everything passed, and kept for inspection otherwise.
#
#	  The last line printed is exactly "N passed, N failed".  Exit status 1
#	  when anything failed or when no test ran at all, 0 otherwise.
#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIMEOUT=${TS_TEST_TIMEOUT:-1200}

# Sanitizer settings for the build-asan programs (harmless for the others);
# the caller's settings win.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:exitcode=66:second_deadlock_stack=1}

if [ "$#" -eq 0 ]; then
	echo "usage: $0 DIR..." >&2
	echo "0 passed, 1 failed"
	exit 1
fi

SCRATCH_BASE="$ROOT/build/test-tmp"
mkdir -p "$SCRATCH_BASE"
SCRATCH=$(mktemp -d "$SCRATCH_BASE/run.XXXXXX")

passed=0
failed=0
programs=0
failures=()

for dir in "$@"; do
	if [ ! -d "$dir" ]; then
		echo "run_tests: no such directory: $dir"
		failed=$((failed + 1))
		failures+=("$dir (missing directory)")
		continue
	fi
	mapfile -t progs < <(find "$dir" -maxdepth 1 -type f -name 'test_*' ! -name '*.*' -perm -u+x | LC_ALL=C sort)
	if [ "${#progs[@]}" -eq 0 ]; then
		echo "run_tests: no test programs in $dir"
		continue
	fi
	for prog in "${progs[@]}"; do
		programs=$((programs + 1))
		name=$(basename "$prog")
		tag=$(printf '%s' "${dir%/}" | tr -c 'A-Za-z0-9_.-' '_')
		log="$SCRATCH/$tag-$name.log"
		tdir="$SCRATCH/$tag-$name"
		mkdir -p "$tdir"
		echo "# running $prog"
		start=$SECONDS
		TS_TEST_DIR="$tdir" timeout -k 30 "$TIMEOUT" "$prog" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		secs=$((SECONDS - start))

		summary=$(grep -E '^# passed [0-9]+ failed [0-9]+$' "$log" | tail -n 1)
		p=0
		f=0
		if [ -n "$summary" ]; then
			read -r _ _ p _ f <<<"$summary"
		fi

		reason=""
		if [ "$rc" -eq 124 ]; then
			reason="timed out after ${TIMEOUT}s"
		elif [ "$rc" -gt 128 ]; then
			reason="killed by signal $((rc - 128))"
		elif [ "$rc" -ne 0 ] && [ -z "$summary" ]; then
			reason="exited with status $rc without a summary line"
		elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			reason="exited with status $rc after reporting no failure"
		elif [ "$rc" -eq 0 ] && [ -z "$summary" ]; then
			reason="exited without a summary line"
		fi

		if [ -n "$reason" ]; then
			# The summary of a program that died is not trusted: 1 failed.
			echo "not ok $prog: $reason"
			p=0
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -gt 0 ]; then
			failures+=("$prog${reason:+ ($reason)}")
		fi
		echo "# $prog: $p passed, $f failed (${secs}s)"
	done
done

if [ "$failed" -eq 0 ] || [ "$programs" -eq 0 ]; then
	rm -rf "$SCRATCH"
else
	echo "# scratch files kept in $SCRATCH"
fi

if [ "${#failures[@]}" -gt 0 ]; then
	echo "# failed programs:"
	for f in "${failures[@]}"; do
		echo "#   $f"
	done
fi

if [ $((passed + failed)) -eq 0 ]; then
	echo "# no test ran"
	echo "$passed passed, $failed failed"
	exit 1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
