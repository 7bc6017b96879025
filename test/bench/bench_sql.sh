#!/usr/bin/env bash
#
# bench_sql.sh -- `make bench-sql`: treestore.nodes and treestore.tool_results
# against native tables with the same rows and the same indexes, side by
# side in one run on one private cluster, with pgbench.  Targets (issue 4,
# issue 13):
#   point lookup by the full key, at 1, 2, 4 and 8 clients:
#                                   treestore latency / native   <= 1.0
#   point lookup throughput, 2 clients / 1 client (treestore)    >= 1.7
#   one-row write transactions (BEGIN; INSERT one row into
#     tool_results; COMMIT):        treestore commits/s / native >= 0.5 at
#                                   1 client, >= 0.8 at 16 clients
#   a 10,000-row scan (aggregate    treestore latency / native   <= 2
#     over columns of every row, 1 client)
#   INSERT ... SELECT of ROWS rows  treestore rows/s / native    >= 0.5
# A "TARGET sql <name> <value> <op> <goal> ok|MISS" line per target.
#
# Same data: both tables get the same rows (10 policies x ROWS/10 nodes of
# about 300 bytes).  Same indexes: native_nodes has the primary key treestore
# has, a parent index and a stored tsvector with GIN (the work treestore's own
# indexes do on every write); native_tool_results a bigint identity primary
# key (treestore keeps tool_results by its assigned result_id alone).  Laid
# out as a DBA would: native_nodes is CLUSTERed on its primary key after the
# load (the rows are generated policy by policy interleaved; without it each
# policy's rows would be spread over every heap page).  Same durability:
# fsync=on, synchronous_commit=on, treestore.synchronous_commit=on: every
# commit durable on both sides.  Warm: the data fits both caches, and every
# script runs a warm-up pass first.
# pgbench: -M prepared, -c C -j C, BENCH_SQL_SECONDS per measurement,
# BENCH_SQL_ROUNDS rounds, each measuring every workload and client count on
# native then treestore (drift in the machine's speed hits both alike); the
# median round of each figure is reported (INSERT ... SELECT: the best).
#
# CPU per request (bench_lib.sh): for each treestore measurement, the
# treestore worker's CPU seconds and the other cluster processes' (backends)
# per transaction, from /proc/<pid>/stat before and after; for native, all
# of the cluster's.  Projection to N cores (from the 8-client figures for
# reads, 16 for writes):
#   treestore  min(N / backend_cpu_per_req, 1 / worker_cpu_per_req)
#              (the worker is one process: it never uses more than one core)
#   native     N / native_cpu_per_req
# Prints "RESULT sql <name> <value>" lines last.
#
#   PG_CONFIG           the server's pg_config (default: pg_config on PATH);
#                       the extension is built and installed for it
#   BENCH_SQL_DIR       cluster directory (default /tmp/treestore-bench-sql)
#   BENCH_SQL_PORT      port (default 5487)
#   BENCH_SQL_SECONDS   seconds per measurement (default 4)
#   BENCH_SQL_ROUNDS    rounds (default 3)
#   BENCH_SQL_ROWS      rows (default 100000; a multiple of 10)
#   BENCH_SQL_CLIENTS   client counts of the reads (default "1 2 4 8")
#   BENCH_SQL_WRITE_CLIENTS  client counts of the writes (default "1 16")
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${BENCH_SQL_DIR:-/tmp/treestore-bench-sql}
PORT=${BENCH_SQL_PORT:-5487}
SECS=${BENCH_SQL_SECONDS:-4}
ROUNDS=${BENCH_SQL_ROUNDS:-3}
ROWS=${BENCH_SQL_ROWS:-100000}
CLIENTS=(${BENCH_SQL_CLIENTS:-1 2 4 8})
WCLIENTS=(${BENCH_SQL_WRITE_CLIENTS:-1 16})
PG_CONFIG=${PG_CONFIG:-pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi
case "$DIR" in ""|/) echo "refusing BENCH_SQL_DIR='$DIR'" >&2; exit 1;; esac
SOCK=$DIR
PGDATA_DIR=$DIR/data
# shellcheck source=bench_lib.sh
. "$ROOT/test/bench/bench_lib.sh"
LIB_AREA=sql
start_time=$SECONDS
log() { echo "bench-sql: [$((SECONDS - start_time))s] $*" >&2; }

make -C "$ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" treestore_fdw.so >/dev/null
make -C "$ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" install >/dev/null

stop() { [ -f "$DIR/data/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true; }
stop
rm -rf "$DIR"
mkdir -p "$DIR"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi
trap stop EXIT
"${AS_PG[@]}" "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
cat >>"$DIR/data/postgresql.conf" <<CONF
shared_preload_libraries = 'treestore_fdw'
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_buffers = 256MB
fsync = on
synchronous_commit = on
treestore.synchronous_commit = on
treestore.cache_size = 256MB
max_connections = 100
CONF
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null

psql_b() { "${AS_PG[@]}" "$PGBIN/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

# The rows: 10 policies x ROWS/10 nodes of about 300 bytes.
psql_b <<SQL
CREATE EXTENSION treestore_fdw;
CREATE TABLE src AS
SELECT 'pol' || (g % 10) AS policy_id, 'v1'::text AS version_id, lpad(g::text, 6, '0') AS node_id,
       NULL::text AS parent_id, g % 7 AS ordinal, 2 AS depth, 'Part > Section ' || g AS section_path,
       'Title ' || g AS title, g % 50 AS page_start, g % 50 + 2 AS page_end, NULL::int AS line_num,
       repeat('summary ', 10) AS summary, repeat('text body ', 20) AS text,
       md5(g::text) AS content_hash, '{}'::jsonb AS metadata
FROM generate_series(1, $ROWS) g;
-- the same work as treestore.nodes does on a write: its primary key, a
-- parent index and a full-text index over title, summary and text
-- (treestore keeps children, document order, pages and search terms)
CREATE TABLE native_nodes (LIKE treestore.nodes, PRIMARY KEY (policy_id, version_id, node_id),
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(title, '')) ||
      to_tsvector('english', coalesce(summary, '') || ' ' || coalesce(text, ''))) STORED);
CREATE INDEX ON native_nodes (policy_id, version_id, parent_id, ordinal);
CREATE INDEX ON native_nodes USING gin (tsv);
-- tool_results as treestore keeps it: by result_id, assigned on insert
CREATE TABLE native_tool_results (LIKE treestore.tool_results INCLUDING DEFAULTS);
ALTER TABLE native_tool_results ALTER result_id SET NOT NULL,
  ALTER result_id ADD GENERATED BY DEFAULT AS IDENTITY, ADD PRIMARY KEY (result_id);
VACUUM ANALYZE src;
SQL
WORKER_PID=$(lib_worker_pid)
[ -n "$WORKER_PID" ] || { echo "bench-sql: no treestore worker in pg_stat_activity" >&2; exit 1; }

# --- INSERT ... SELECT of every row (timed by the server, durable commit;
# rounds alternating, the best of each)
log "INSERT ... SELECT of $ROWS rows ($ROUNDS rounds per side)"
ins_ms() {	# table -> ms for INSERT ... SELECT of all rows
	psql_b -c "TRUNCATE $1"
	psql_b -At <<SQL | tail -n 1
\timing on
INSERT INTO $1 SELECT * FROM src;
SQL
}
parse_ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
declare -a ni ti
for ((round = 1; round <= ROUNDS; round++)); do
	ni+=("$(ins_ms native_nodes | parse_ms)")
	ti+=("$(ins_ms treestore.nodes | parse_ms)")
done
native_ins=$(printf '%s\n' "${ni[@]}" | sort -g | head -n 1)
ts_ins=$(printf '%s\n' "${ti[@]}" | sort -g | head -n 1)
# As a DBA would: the heap in primary-key order (src interleaves the
# policies: row g is policy g % 10).
out_of_order() { psql_b -At -c "SELECT count(*) FILTER (WHERE back) FROM (SELECT ROW(policy_id, version_id, node_id) < lag(ROW(policy_id, version_id, node_id)) OVER (ORDER BY ctid) AS back FROM native_nodes) s"; }
before_cluster=$(out_of_order)
log "CLUSTER native_nodes on its primary key ($before_cluster heap rows out of key order), VACUUM ANALYZE"
psql_b -c "CLUSTER native_nodes USING native_nodes_pkey" -c "VACUUM ANALYZE native_nodes"
after_cluster=$(out_of_order)

# --- the scripts
cat >"$DIR/point_native.sql" <<SQL
\\set n random(1, $ROWS)
SELECT title FROM native_nodes WHERE policy_id = 'pol' || (:n % 10) AND version_id = 'v1' AND node_id = lpad(:n::text, 6, '0');
SQL
sed 's/native_nodes/treestore.nodes/' "$DIR/point_native.sql" >"$DIR/point_ts.sql"
cat >"$DIR/scan_native.sql" <<'SQL'
\set p random(0, 9)
SELECT count(*), sum(length(title)), max(page_end) FROM native_nodes WHERE policy_id = 'pol' || :p;
SQL
sed 's/native_nodes/treestore.nodes/' "$DIR/scan_native.sql" >"$DIR/scan_ts.sql"
cat >"$DIR/write_native.sql" <<'SQL'
BEGIN;
INSERT INTO native_tool_results (case_id, criterion_id, tool_name, policy_id, version_id, node_id, input, output, success, latency_ms) VALUES ('case-' || :client_id, 'crit-1', 'get_node', 'pol1', 'v1', '000001', '{"node_id": "000001"}', '{"found": true}', true, 1.5);
COMMIT;
SQL
sed 's/native_tool_results/treestore.tool_results/' "$DIR/write_native.sql" >"$DIR/write_ts.sql"
chmod 644 "$DIR"/*.sql

log "warm-up pass (2s per script and side)"
for s in point_native point_ts scan_native scan_ts write_native write_ts; do
	lib_pgb "$DIR/$s.sql" 2 1 >/dev/null
done

# --- measurements: NAME -> "tps lat stmt xacts worker_s others_s" per round
declare -A M
measure() {	# measure KEY SCRIPT CLIENTS
	local r
	r=$(lib_pgb "$DIR/$2.sql" "$SECS" "$3")
	M[$1]+="$r"$'\n'
}
for ((round = 1; round <= ROUNDS; round++)); do
	log "round $round of $ROUNDS (point lookups at ${CLIENTS[*]} clients, scan, writes at ${WCLIENTS[*]} clients; ${SECS}s each per side)"
	for c in "${CLIENTS[@]}"; do
		measure "point_native_$c" point_native "$c"
		measure "point_ts_$c" point_ts "$c"
	done
	measure scan_native_1 scan_native 1
	measure scan_ts_1 scan_ts 1
	for c in "${WCLIENTS[@]}"; do
		measure "write_native_$c" write_native "$c"
		measure "write_ts_$c" write_ts "$c"
	done
done
# fig KEY FIELD -> the median over the rounds of field FIELD (1 tps, 2 lat,
# 3 stmt, 4 xacts, 5 worker_s, 6 others_s of lib_pgb; 7 worker CPU us per
# transaction, 8 others' CPU us per transaction, 9 all CPU us per
# transaction, 10 request latency ms: the transaction's latency less the
# commands before the measured statement (the pick lookup))
fig() {
	# shellcheck disable=SC2046
	lib_median $(printf '%s' "${M[$1]}" | awk -v f="$2" 'NF >= 7 {
		if (f <= 6) print $f
		else if (f == 10) printf "%.4f\n", $2 - $7
		else if (f == 7) printf "%.3f\n", $5 * 1e6 / $4
		else if (f == 8) printf "%.3f\n", $6 * 1e6 / $4
		else printf "%.3f\n", ($5 + $6) * 1e6 / $4 }')
}
rows_per_scan=$(psql_b -At -c "SELECT count(*) FROM treestore.nodes WHERE policy_id = 'pol3'")
ts_settings=$(psql_b -At -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name LIKE 'treestore.%' AND name <> 'treestore.debug_fault'")
elapsed=$((SECONDS - start_time))

f3() { awk -v a="$1" 'BEGIN { printf "%.3f", a }'; }
f1() { awk -v a="$1" 'BEGIN { printf "%.1f", a }'; }
cat <<OUT
bench-sql: $ROWS rows in treestore.nodes and in native_nodes (primary key on the same columns, parent index,
        stored tsvector with GIN; CLUSTERed on the primary key after loading: heap rows out of key order
        $before_cluster before, $after_cluster after);
        tool_results: treestore.tool_results / native_tool_results (identity bigint primary key, as treestore keys it)
durability: fsync=on, synchronous_commit=on, treestore.synchronous_commit=on (both sides durable per commit)
memory: shared_buffers = treestore.cache_size = 256MB (the data fits both)
treestore settings: $ts_settings
warmth: warm (a 2s warm-up pass of every script on both sides before timing)
pgbench: -M prepared, -c C -j C, ${SECS}s per measurement, $ROUNDS rounds (native then treestore per workload and
        client count), median round; latency = pgbench's latency per transaction (the script's one statement,
        its commit, and the client's wait for a CPU); INSERT ... SELECT: the best of $ROUNDS
CPU per request: utime+stime from /proc/<pid>/stat before/after each run: worker = the treestore background worker,
        backends = every other process of the cluster (postmaster, its live children and the exited ones it reaped:
        pgbench's backends); native: all of the cluster's; pgbench's own CPU not counted.  Microseconds per transaction.
machine: $(nproc) CPUs, shared with other work: timings are noisy

                               native        treestore
INSERT ... SELECT ($ROWS rows) $native_ins ms   $ts_ins ms
scan of $rows_per_scan rows (aggregate, 1 client)  $(fig scan_native_1 10) ms     $(fig scan_ts_1 10) ms

point lookup by the full key (request latency ms = pgbench's latency per transaction, tps; CPU us per request)
clients  native ms  treestore ms  ratio   native tps  treestore tps  native cpu  ts worker cpu  ts backend cpu
OUT
for c in "${CLIENTS[@]}"; do
	printf '%7s  %9s  %12s  %5s  %11s  %13s  %10s  %13s  %14s\n' "$c" "$(fig "point_native_$c" 10)" "$(fig "point_ts_$c" 10)" \
		"$(lib_div "$(fig "point_ts_$c" 10)" "$(fig "point_native_$c" 10)")" "$(f1 "$(fig "point_native_$c" 1)")" "$(f1 "$(fig "point_ts_$c" 1)")" \
		"$(fig "point_native_$c" 9)" "$(fig "point_ts_$c" 7)" "$(fig "point_ts_$c" 8)"
done
echo
echo "one-row write transactions (BEGIN; INSERT into tool_results; COMMIT): commits/s; CPU us per request"
echo "clients  native tps  treestore tps  ratio   native cpu  ts worker cpu  ts backend cpu"
for c in "${WCLIENTS[@]}"; do
	printf '%7s  %10s  %13s  %5s  %11s  %13s  %14s\n' "$c" "$(f1 "$(fig "write_native_$c" 1)")" "$(f1 "$(fig "write_ts_$c" 1)")" \
		"$(lib_div "$(fig "write_ts_$c" 1)" "$(fig "write_native_$c" 1)")" \
		"$(fig "write_native_$c" 9)" "$(fig "write_ts_$c" 7)" "$(fig "write_ts_$c" 8)"
done
echo
echo "projection to N cores (requests/s): treestore = min(N / backend_cpu_per_req, 1 / worker_cpu_per_req) (one worker"
echo "        process: at most one core); native = N / native_cpu_per_req; CPU per request from the run with the most clients"
declare -A P
project() {	# project NAME KEY
	local n wk be na t v
	wk=$(fig "$2" 7); be=$(fig "$2" 8); na=$(fig "${2/_ts_/_native_}" 9)
	for n in 16 64; do
		t=$(awk -v n="$n" -v w="$wk" -v b="$be" 'BEGIN { x = (b > 0) ? n * 1e6 / b : 1e12; y = (w > 0) ? 1e6 / w : 1e12; printf "%.0f", (x < y) ? x : y }')
		v=$(awk -v n="$n" -v a="$na" 'BEGIN { printf "%.0f", (a > 0) ? n * 1e6 / a : 1e12 }')
		P[$1_${n}_ts]=$t P[$1_${n}_native]=$v
		printf '  %-14s %2s cores: treestore %9s/s (%s)  native %9s/s  ratio %s\n' "$1" "$n" "$t" \
			"$(awk -v n="$n" -v w="$wk" -v b="$be" 'BEGIN { print ((b > 0 ? n * 1e6 / b : 1e12) <= (w > 0 ? 1e6 / w : 1e12)) ? "backends bound" : "worker bound" }')" \
			"$v" "$(lib_div "$t" "$v")"
	done
}
cmax=${CLIENTS[${#CLIENTS[@]} - 1]}
wmax=${WCLIENTS[${#WCLIENTS[@]} - 1]}
project point_lookup "point_ts_$cmax"
project write "write_ts_$wmax"
echo "run time: ${elapsed}s"
echo

has() { local x; for x in "${@:2}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
for c in "${CLIENTS[@]}"; do
	lib_target "point_lookup_c${c}_latency_ratio" "$(lib_div "$(fig "point_ts_$c" 10)" "$(fig "point_native_$c" 10)")" "<=" 1.0
done
if has 1 "${CLIENTS[@]}" && has 2 "${CLIENTS[@]}"; then
	lib_target point_lookup_scaling_2v1_treestore "$(lib_div "$(fig point_ts_2 1)" "$(fig point_ts_1 1)")" ">=" 1.7
	echo "(native point lookups scale $(lib_div "$(fig point_native_2 1)" "$(fig point_native_1 1)")x from 1 to 2 clients)"
fi
if has 1 "${WCLIENTS[@]}"; then
	lib_target write_c1_commit_ratio "$(lib_div "$(fig write_ts_1 1)" "$(fig write_native_1 1)")" ">=" 0.5
fi
if has 16 "${WCLIENTS[@]}"; then
	lib_target write_c16_commit_ratio "$(lib_div "$(fig write_ts_16 1)" "$(fig write_native_16 1)")" ">=" 0.8
fi
lib_target scan_10k_latency_ratio "$(lib_div "$(fig scan_ts_1 10)" "$(fig scan_native_1 10)")" "<=" 2
lib_target insert_select_rate_ratio "$(lib_div "$native_ins" "$ts_ins")" ">=" 0.5
echo "targets: $LIB_TARGETS, missed: $LIB_MISSES"
echo

result() { echo "RESULT sql $1 $2"; }
for c in "${CLIENTS[@]}"; do
	result "point_lookup_c${c}_native_ms" "$(fig "point_native_$c" 10)"
	result "point_lookup_c${c}_treestore_ms" "$(fig "point_ts_$c" 10)"
	result "point_lookup_c${c}_native_tps" "$(f1 "$(fig "point_native_$c" 1)")"
	result "point_lookup_c${c}_treestore_tps" "$(f1 "$(fig "point_ts_$c" 1)")"
	result "point_lookup_c${c}_ratio" "$(lib_div "$(fig "point_ts_$c" 10)" "$(fig "point_native_$c" 10)")"
	result "point_lookup_c${c}_native_cpu_us" "$(fig "point_native_$c" 9)"
	result "point_lookup_c${c}_worker_cpu_us" "$(fig "point_ts_$c" 7)"
	result "point_lookup_c${c}_backend_cpu_us" "$(fig "point_ts_$c" 8)"
done
if has 1 "${CLIENTS[@]}" && has 2 "${CLIENTS[@]}"; then
	result point_lookup_scaling_2v1_treestore "$(lib_div "$(fig point_ts_2 1)" "$(fig point_ts_1 1)")"
	result point_lookup_scaling_2v1_native "$(lib_div "$(fig point_native_2 1)" "$(fig point_native_1 1)")"
fi
for c in "${WCLIENTS[@]}"; do
	result "write_c${c}_native_tps" "$(f1 "$(fig "write_native_$c" 1)")"
	result "write_c${c}_treestore_tps" "$(f1 "$(fig "write_ts_$c" 1)")"
	result "write_c${c}_ratio" "$(lib_div "$(fig "write_ts_$c" 1)" "$(fig "write_native_$c" 1)")"
	result "write_c${c}_native_cpu_us" "$(fig "write_native_$c" 9)"
	result "write_c${c}_worker_cpu_us" "$(fig "write_ts_$c" 7)"
	result "write_c${c}_backend_cpu_us" "$(fig "write_ts_$c" 8)"
done
for k in point_lookup write; do
	for n in 16 64; do
		result "${k}_projected_${n}cores_treestore_rps" "${P[${k}_${n}_ts]}"
		result "${k}_projected_${n}cores_native_rps" "${P[${k}_${n}_native]}"
	done
done
result scan_10k_latency_vs_native "$(lib_div "$(fig scan_ts_1 10)" "$(fig scan_native_1 10)")"
result insert_select_rate_vs_native "$(lib_div "$native_ins" "$ts_ins")"
result point_lookup_latency_vs_native "$(lib_div "$(fig point_ts_1 10)" "$(fig point_native_1 10)")"
result targets_missed "$LIB_MISSES"
