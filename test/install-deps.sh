#!/usr/bin/env bash
#
# install-deps.sh
#	  Install the Debian 12 packages that building and testing treestore_fdw
#	  need, but only those that are missing.  Run by `make deps` (and so by
#	  `make test`, `make demo`, `make bench-engine`).
#
#	  Idempotent and quick when everything is present: it checks each package
#	  with dpkg first and calls apt-get (update once, then install) only when
#	  something is missing.  Not root and something missing: it prints the
#	  command to run and fails.
#
#	  Add a package here, in PACKAGES, when a new part of the build needs one.
#
set -euo pipefail

PACKAGES=(
	build-essential			# gcc, make, libc headers
	pkg-config
	liblmdb-dev				# benchmark baseline (test/bench)
	libsqlite3-dev			# benchmark baseline (test/bench)
	clang					# fuzzing, LLVM bitcode for PGXS
	libclang-rt-14-dev		# clang sanitizer and libFuzzer runtimes
	postgresql-15
	postgresql-server-dev-15	# pg_config, PGXS, server headers, pg_regress
	libprotobuf-c-dev		# worker IPC messages
	protobuf-c-compiler
	python3-psycopg			# python/ client (psycopg 3)
	python3-psycopg-pool
	python3-pytest
	python3-mypy			# python/: mypy --strict in make test
	python3-venv			# python/: installed into a fresh venv in make test
	python3-setuptools		# python/: the package's build backend (pip --no-build-isolation)
	python3-wheel
	python3-pip
)

missing=()
for pkg in "${PACKAGES[@]}"; do
	# "install ok installed" only; a package removed with its config files
	# left behind ("deinstall ok config-files") must be installed again.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if ! dpkg -s "$pkg" >/dev/null 2>&1 || [ "$status" != "install ok installed" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

echo "install-deps: missing: ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

# Check again: apt-get can succeed without installing what was asked for
# (for example a package name that only a virtual package provides).
still=()
for pkg in "${missing[@]}"; do
	dpkg -s "$pkg" >/dev/null 2>&1 || still+=("$pkg")
done
if [ "${#still[@]}" -ne 0 ]; then
	echo "install-deps: still missing after apt-get: ${still[*]}" >&2
	exit 1
fi
echo "install-deps: installed ${missing[*]}"
