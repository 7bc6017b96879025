#!/bin/bash
# bench_commit.sh: one-row write transactions (INSERT into tool_results,
# COMMIT) on treestore.tool_results against a native table with the same
# columns, in one private cluster, same durability (fsync, synchronous_commit
# and treestore.synchronous_commit on).  pgbench -M prepared, ROUNDS rounds
# alternating the two, median commits/s; one RESULT line per client count.
#
# Environment: PG_CONFIG (pg_config of the server), BENCH_PORT (5592),
# BENCH_DIR (/tmp/ts-bench-commit), BENCH_SECONDS (8), BENCH_ROUNDS (3),
# BENCH_CLIENTS ("1 16").  Run as root (the server runs as postgres) or as
# the server's user.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
PORT=${BENCH_PORT:-5592}
DIR=${BENCH_DIR:-/tmp/ts-bench-commit}
SECS=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-"1 16"}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

rm -rf "$DIR"; mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$DIR"
as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >"$DIR/initdb.log"
cat >>"$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'treestore_fdw'
fsync = on
synchronous_commit = on
treestore.synchronous_commit = on
max_connections = 60
shared_buffers = 256MB
CONF
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
[ -n "${BENCH_KEEP:-}" ] || trap 'as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
PSQL=("$BIN/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
as_pg "${PSQL[@]}" <<'SQL'
CREATE EXTENSION treestore_fdw;
CREATE TABLE native_tool_results (
	result_id bigserial PRIMARY KEY, case_id text, criterion_id text, tool_name text,
	policy_id text, version_id text, node_id text, input jsonb, output jsonb,
	success boolean, error_message text, latency_ms double precision,
	created_at timestamptz DEFAULT now());
SQL
for side in native treestore; do
	tbl=native_tool_results
	[ $side = treestore ] && tbl=treestore.tool_results
	cat >"$DIR/$side.sql" <<SQL
INSERT INTO $tbl (case_id, tool_name, input, output, success, latency_ms)
VALUES ('case-' || :client_id, 'pi_search', '{"q": "prior authorization"}', '{"hits": [1, 2, 3]}', true, 12.5);
SQL
done
[ "$(id -u)" = 0 ] && chown postgres: "$DIR"/*.sql
run() {	# side clients -> commits/s
	as_pg "$BIN/pgbench" -n -M prepared -h "$DIR" -p "$PORT" -U postgres -c "$2" -j "$2" \
		-T "$SECS" -f "$DIR/$1.sql" postgres 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for c in $CLIENTS; do
	run native "$c" >/dev/null; run treestore "$c" >/dev/null	# warm
	n=(); t=()
	for r in $(seq "$ROUNDS"); do
		n+=("$(run native "$c")"); t+=("$(run treestore "$c")")
	done
	nm=$(printf '%s\n' "${n[@]}" | median); tm=$(printf '%s\n' "${t[@]}" | median)
	echo "clients $c: native ${n[*]} treestore ${t[*]} (commits/s)"
	echo "RESULT commit clients=$c native=$nm treestore=$tm ratio=$(awk -v a="$tm" -v b="$nm" 'BEGIN {printf "%.2f", a / b}')"
done
