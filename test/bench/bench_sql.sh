#!/usr/bin/env bash
#
# bench_sql.sh -- `make bench-sql`: treestore.nodes against a native table
# with the same rows, its primary key, a parent index and a full-text index
# (a stored tsvector with GIN: the work treestore's own indexes do on every
# write since issue 5), side by side in one run, with
# pgbench (issue 4's targets):
#   point lookup by the full key    treestore latency / native   <= 1.5
#   a 10,000-row scan (aggregate    treestore latency / native   <= 2
#     over columns of every row)
#   INSERT ... SELECT of 100,000    treestore rows/s / native    >= 0.5
#     rows
# Both tables get the same rows; the server runs with fsync=on and
# synchronous_commit=on (treestore.synchronous_commit=on): every commit is
# durable on both sides.  Reads are warm for both (a warm-up pass of each
# script first, and the data fits both caches).  pgbench: -M prepared,
# 1 client, BENCH_SQL_SECONDS (default 10) per measurement, three rounds
# alternating the two systems (median reported; INSERT: the best).
# Prints "RESULT sql <name> <value>" lines last.
#
#   BENCH_SQL_DIR   cluster directory (default /tmp/treestore-bench-sql)
#   BENCH_SQL_PORT  port (default 5487)
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${BENCH_SQL_DIR:-/tmp/treestore-bench-sql}
PORT=${BENCH_SQL_PORT:-5487}
SECS=${BENCH_SQL_SECONDS:-10}
ROWS=100000
PGBIN=$(pg_config --bindir)
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi

make -C "$ROOT" --no-print-directory treestore_fdw.so >/dev/null
make -C "$ROOT" --no-print-directory install >/dev/null

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
CONF
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null

psql_b() { "${AS_PG[@]}" "$PGBIN/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

# The rows: 10 policies x 10,000 nodes of about 300 bytes.
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
VACUUM ANALYZE src;
SQL

pgb() {	# pgb SCRIPT -> latency in ms
	chmod 644 "$1"
	"${AS_PG[@]}" "$PGBIN/pgbench" -h "$DIR" -p "$PORT" -U postgres -n -M prepared -c 1 -T "$2" -f "$1" postgres 2>&1 |
		sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
}

# --- INSERT ... SELECT of 100,000 rows (timed by the server, durable commit;
# three rounds alternating, the best of each)
ins_ms() {	# table -> ms for INSERT ... SELECT of all rows
	psql_b -c "TRUNCATE $1"
	psql_b -At <<SQL | tail -n 1
\timing on
INSERT INTO $1 SELECT * FROM src;
SQL
}
parse_ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
declare -a ni ti
for round in 1 2 3; do
	ni+=("$(ins_ms native_nodes | parse_ms)")
	ti+=("$(ins_ms treestore.nodes | parse_ms)")
done
native_ins=$(printf '%s\n' "${ni[@]}" | sort -g | head -n 1)
ts_ins=$(printf '%s\n' "${ti[@]}" | sort -g | head -n 1)
psql_b -c "VACUUM ANALYZE native_nodes"

# --- point lookups and scans
cat >"$DIR/point_native.sql" <<'SQL'
\set n random(1, 100000)
SELECT title FROM native_nodes WHERE policy_id = 'pol' || (:n % 10) AND version_id = 'v1' AND node_id = lpad(:n::text, 6, '0');
SQL
sed 's/native_nodes/treestore.nodes/' "$DIR/point_native.sql" >"$DIR/point_ts.sql"
cat >"$DIR/scan_native.sql" <<'SQL'
\set p random(0, 9)
SELECT count(*), sum(length(title)), max(page_end) FROM native_nodes WHERE policy_id = 'pol' || :p;
SQL
sed 's/native_nodes/treestore.nodes/' "$DIR/scan_native.sql" >"$DIR/scan_ts.sql"

for s in point_native point_ts scan_native scan_ts; do pgb "$DIR/$s.sql" 2 >/dev/null; done	# warm-up
# Three rounds, native and treestore alternating, so that drift in the
# machine's speed hits both alike; the median of each is reported.
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
declare -a pn pt sn st
for round in 1 2 3; do
	pn+=("$(pgb "$DIR/point_native.sql" "$SECS")")
	pt+=("$(pgb "$DIR/point_ts.sql" "$SECS")")
	sn+=("$(pgb "$DIR/scan_native.sql" "$SECS")")
	st+=("$(pgb "$DIR/scan_ts.sql" "$SECS")")
done
point_native=$(median3 "${pn[@]}")
point_ts=$(median3 "${pt[@]}")
scan_native=$(median3 "${sn[@]}")
scan_ts=$(median3 "${st[@]}")
rows_per_scan=$(psql_b -At -c "SELECT count(*) FROM treestore.nodes WHERE policy_id = 'pol3'")

cat <<OUT
bench-sql: $ROWS rows in treestore.nodes and in native_nodes (primary key on the same columns, parent index, stored tsvector with GIN)
durability: fsync=on, synchronous_commit=on, treestore.synchronous_commit=on (both sides durable per commit)
warmth: warm (one warm-up pass of every read script before timing); pgbench -M prepared, 1 client, ${SECS}s each,
        3 rounds alternating native and treestore: reads report the median round, INSERT the best
                               native        treestore
INSERT ... SELECT ($ROWS rows) $native_ins ms   $ts_ins ms
point lookup (full key)        $point_native ms     $point_ts ms
scan of $rows_per_scan rows (aggregate)  $scan_native ms     $scan_ts ms
OUT
awk -v a="$point_ts" -v b="$point_native" 'BEGIN { printf "RESULT sql point_lookup_latency_vs_native %.3f\n", a / b }'
awk -v a="$scan_ts" -v b="$scan_native" 'BEGIN { printf "RESULT sql scan_10k_latency_vs_native %.3f\n", a / b }'
awk -v a="$native_ins" -v b="$ts_ins" 'BEGIN { printf "RESULT sql insert_select_rate_vs_native %.3f\n", a / b }'
