#!/usr/bin/env bash
#
# demo.sh -- `make demo`: a private PostgreSQL with treestore_fdw, sample
# PageIndex documents loaded into its foreign tables, a few queries, and how
# to connect.
#
#   DEMO_DIR   cluster directory (default /tmp/treestore-demo; must be
#              writable by the postgres user)
#   DEMO_PORT  port (default 5433); the server listens on a Unix socket in
#              DEMO_DIR and on localhost
#
# Run again: the cluster is restarted and the samples reloaded.  Stop it with
#   runuser -u postgres -- pg_ctl -D $DEMO_DIR/data stop
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${DEMO_DIR:-/tmp/treestore-demo}
PORT=${DEMO_PORT:-5433}
PGBIN=$(pg_config --bindir)
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi

echo "=== building and installing treestore_fdw"
make -C "$ROOT" --no-print-directory treestore_fdw.so >/dev/null
make -C "$ROOT" --no-print-directory install >/dev/null

mkdir -p "$DIR/samples"
cp "$ROOT"/test/data/pageindex/*.json "$DIR/samples/"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$DIR"; fi

if [ -f "$DIR/data/postmaster.pid" ]; then
	"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null || true
fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
	echo "=== initdb $DIR/data"
	"${AS_PG[@]}" "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
	cat >>"$DIR/data/postgresql.conf" <<CONF
shared_preload_libraries = 'treestore_fdw'
port = $PORT
listen_addresses = 'localhost'
unix_socket_directories = '$DIR'
CONF
fi
echo "=== starting PostgreSQL on port $PORT"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -o "-p $PORT" -w start >/dev/null

psql_demo() { "${AS_PG[@]}" "$PGBIN/psql" -X -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

psql_demo -q -c "CREATE EXTENSION IF NOT EXISTS treestore_fdw"

echo "=== loading sample PageIndex documents"
n=0
for f in "$DIR"/samples/*.json; do
	n=$((n + 1))
	policy="demo-$n"
	psql_demo -q -v file="$f" -v policy="$policy" <<'SQL'
SELECT treestore.store_document(:'policy', 'v1', pg_read_file(:'file')::jsonb,
                                effective_from => DATE '2025-01-01', replace => true);
SQL
done
# a second version of demo-1, in force from 2026-06-01: the temporal rule
# picks v1 for earlier dates and v2 from then on
psql_demo -q -v file="$(ls "$DIR"/samples/*.json | head -1)" <<'SQL'
SELECT treestore.store_document('demo-1', 'v2', pg_read_file(:'file')::jsonb,
                                effective_from => DATE '2026-06-01', replace => true);
SQL

echo "=== sample queries"
psql_demo <<'SQL'
\echo '-- documents and their node counts'
SELECT d.policy_id, v.version_id, d.title, v.node_count
FROM treestore.documents d JOIN treestore.versions v USING (policy_id) ORDER BY 1, 2;
\echo '-- the top-level sections of one document (a key-prefix scan)'
SELECT node_id, title, page_start, page_end
FROM treestore.nodes WHERE policy_id = 'demo-1' AND version_id = 'v1' AND depth = 1 ORDER BY ordinal;
\echo '-- one node by its full key (one round trip to the engine)'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT title, section_path FROM treestore.nodes
WHERE policy_id = 'demo-2' AND version_id = 'v1' AND node_id = '0005';
SELECT title, section_path FROM treestore.nodes
WHERE policy_id = 'demo-2' AND version_id = 'v1' AND node_id = '0005';
\echo '-- sections whose title mentions "regulation", across documents'
SELECT policy_id, node_id, section_path FROM treestore.nodes WHERE title ILIKE '%regulation%' AND version_id = 'v1' ORDER BY 1, 2 LIMIT 8;
\echo '-- a subtree in document order, two levels deep (one range scan of the engine''s order index)'
SELECT node_id, depth, title FROM treestore.get_subtree('demo-2', '0024', max_depth => 1);
\echo '-- the ancestor path of a node, top level first'
SELECT node_id, depth, title FROM treestore.get_ancestors('demo-2', '0030');
\echo '-- which version of demo-1 was in force when (the temporal rule)'
SELECT policy_id, version_id, effective_from, effective_to FROM treestore.list_versions('demo-1');
SELECT d AS as_of, (SELECT version_id FROM treestore.version_as_of('demo-1', d)) AS in_force
FROM unnest(ARRAY[DATE '2024-12-31', DATE '2025-01-01', DATE '2026-05-31', DATE '2026-06-01']) d;
\echo '-- search across every policy (BM25, PostgreSQL english stemming), then within one'
SELECT policy_id, node_id, title, round(score::numeric, 2) AS score, snippet
FROM treestore.search('gaussian distribution', top_k => 5);
SELECT node_id, section_path, round(score::numeric, 2) AS score
FROM treestore.search('monetary policy', policy_id => 'demo-1', top_k => 3);
\echo '-- a stored document, back as the PageIndex tree it came from (first two sections)'
SELECT jsonb_pretty(jsonb_build_object('doc_name', d->'doc_name',
       'structure', jsonb_path_query_array(d, '$.structure[0 to 1]')))
FROM treestore.get_document('demo-5') d;
\echo '-- a tool result, with the id treestore assigns'
INSERT INTO treestore.tool_results (case_id, tool_name, policy_id, output, success)
VALUES ('demo-case', 'get_node', 'demo-1', '{"found": true}', true) RETURNING result_id, case_id, output;
SELECT treestore.health()->>'status' AS health;
SQL

cat <<EOF2

The demo server is running.  Connect with:
    psql -h $DIR -p $PORT -U postgres postgres        (or: psql -h localhost -p $PORT -U postgres)
and try, for example:
    SELECT * FROM treestore.nodes WHERE policy_id = 'demo-1' LIMIT 5;
Stop it with:
    runuser -u postgres -- $PGBIN/pg_ctl -D $DIR/data stop
EOF2
