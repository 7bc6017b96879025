#!/usr/bin/env bash
#
# bench_docs.sh -- `make bench-docs`: the treestore document functions
# against the same corpus in ordinary PostgreSQL tables (schema native, with
# the indexes a careful DBA would add), side by side in one run on one
# private cluster, with pgbench.  Targets (issue 13; speedup = native
# request latency / treestore request latency (below), at 1, 2, 4 and 8
# clients each; ingestion: treestore nodes/s / native nodes/s):
#   get_subtree of a top-level section           >= 5
#   get_ancestors of a deep node                 >= 3
#   version_as_of                                >= 2
#   search within one policy (top 10, snippets)  >= 5
#   search across all policies                   >= 50
#   ingestion of the corpus                      >= 1
#   get_subtree throughput, 2 clients / 1 client (treestore)      >= 1.7
#   point lookup (treestore.nodes by the full key) p99 latency at 4
#     clients while one more session runs searches across all
#     policies back to back / its p99 without them (treestore)    <= 1.5
# A "TARGET sql <name> <value> <op> <goal> ok|MISS" line per target.
#
# Corpus: test/bench/gen_corpus.py (deterministic, --seed): about 200
# policies x 2 versions (v2 supersedes v1) x ~875 nodes = ~350,000 nodes of
# PageIndex trees of depth 3-5 shaped like medical policies, with titles,
# pages, summaries (~25 words) and texts (~80 words) from a Zipf-like medical
# / insurance vocabulary.
#
# Native side: native.versions (PK (policy_id, version_id), index on
# (policy_id, effective_from)) and native.nodes (PK (policy_id, version_id,
# node_id), index on (policy_id, version_id, parent_id, ordinal), a stored
# generated tsvector of title (weight A), summary and text with a GIN index);
# native.load_document(policy_id, version_id, tree, effective_from) flattens
# a tree with a recursive CTE over the jsonb (parent_id, ordinal, depth,
# section_path as treestore derives them) -- the same call as
# treestore.store_document.  Every query resolves the version by the temporal
# rule of CONTRACT.md section 3 (in force today, else the latest): treestore
# inside its functions, native through the view native.resolved_versions.
#   subtree    count(*) over treestore.get_subtree(p, n) / over a recursive
#              CTE down parent_id that carries every column (but tsv) of each
#              row, like the rows get_subtree builds
#   ancestors  count(*) over treestore.get_ancestors(p, n) / a recursive CTE
#              up parent_id, every column (but tsv)
#   as of      treestore.version_as_of(p, d) / the latest native.versions row
#              with effective_from <= d, unless its effective_to <= d
#   search     treestore.search(q, policy_id => p, top_k => 10) and
#              treestore.search(q, top_k => 10) / the resolved versions' nodes
#              matching ANY word of q (plainto_tsquery with & turned into |),
#              ts_rank DESC LIMIT 10, with ts_headline snippets of the 10;
#              one policy: the resolved version's rows (primary key) filtered
#              by tsv @@ q (an OFFSET 0 fence: faster than the planner's own
#              AND with the GIN index); all policies: the GIN index joined
#              with the resolved versions (skipped, and no RESULT lines, while
#              treestore.search does not exist)
# Search: before timing, both sides must find the same SET of matching nodes
# (all matches: treestore.search with top_k above the corpus's node count,
# against the native query without its LIMIT; EXCEPT both ways) for every
# query across all policies and for the first BENCH_DOCS_SET_CHECKS
# (policy, query) picks within a policy; any difference fails the run.
# Then the top-10 queries are timed.
# Random choices (policy, node, date, query) come from tables of picks that
# gen_corpus.py writes: each pgbench script draws i, fetches pick i (\gset),
# then runs the measured statement, the same picks on both sides.  The
# request latency reported is pgbench's latency per transaction less the
# pick lookup's own (pgbench -r): the measured statement and whatever
# follows it before the next transaction (its commit; the client waiting
# for a CPU), which its -r latency alone would leave out.
#
# Settings, the same for both: fsync=on, synchronous_commit=on,
# treestore.synchronous_commit=on (every commit durable); shared_buffers =
# treestore.cache_size = BENCH_DOCS_CACHE (default 2GB: each side's data
# fits, about 0.75 GB native and 1.4 GB treestore at full size; the output
# states both sizes), other settings default.  Warm: after loading, native
# tables and indexes are read into shared_buffers (pg_prewarm) and
# treestore.nodes is scanned whole (nothing reads treestore's search index
# whole but the warm-up); then a warm-up pass of every script on both sides.
# pgbench -M prepared, -c C -j C for C in BENCH_DOCS_CLIENTS (default
# 1 2 4 8), BENCH_DOCS_SECONDS (default 4) per measurement,
# BENCH_DOCS_ROUNDS (default 2) rounds, each measuring every workload and
# client count on native then treestore; the median round is reported.
# Native tables are laid out as a DBA would: native.nodes's heap in
# primary-key order (the run counts heap rows out of key order after the
# load and CLUSTERs native.nodes on its primary key if there are any; the
# output says which).
# Point lookup p99: pgbench --log (per-transaction latency, all clients),
# 4 clients, BENCH_DOCS_SECONDS, without and then with one more pgbench
# session running the all-policies search script back to back (started a
# second before, ending after); BENCH_DOCS_ROUNDS rounds, median p99;
# native the same for comparison.
# CPU per request (bench_lib.sh): the treestore worker's CPU and the other
# cluster processes' (backends; their \gset pick lookup included) per
# transaction, from /proc/<pid>/stat before and after each run; native:
# all of the cluster's.  Projection to N cores from the figures at the most
# clients: treestore min(N / backend_cpu_per_req, 1 / worker_cpu_per_req)
# (one worker process), native N / native_cpu_per_req.
# Ingestion: one client program (/usr/bin/python3 + psycopg 3, autocommit:
# one call and one durable transaction per version), the corpus in halves
# alternating native, treestore, native, treestore; rate = nodes / seconds of
# the calls.  Prints "RESULT sql <name> <value>" lines last.
#
#   BENCH_DOCS_DIR         cluster and corpus directory
#                          (default /tmp/treestore-bench-docs)
#   BENCH_DOCS_PORT        port (default 5486)
#   PG_CONFIG              the server's pg_config (default: pg_config on
#                          PATH); the extension is built and installed for it
#   BENCH_DOCS_SECONDS     seconds per measurement (default 4)
#   BENCH_DOCS_WARMUP      seconds of each warm-up pass (default 2)
#   BENCH_DOCS_ROUNDS      rounds (default 2)
#   BENCH_DOCS_CLIENTS     client counts (default "1 2 4 8")
#   BENCH_DOCS_SET_CHECKS  (policy, query) picks whose match sets are
#                          compared (default 40)
#   BENCH_DOCS_POLICIES    policies (default 200; e.g. 20 for a smoke run)
#   BENCH_DOCS_NODES_PER_VERSION  (default 875)
#   BENCH_DOCS_SEED        corpus seed (default 1)
#   BENCH_DOCS_CACHE       shared_buffers and treestore.cache_size (default 2GB)
#   BENCH_DOCS_NO_INSTALL  1: use the installed extension (no build, no
#                          make install)
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${BENCH_DOCS_DIR:-/tmp/treestore-bench-docs}
PORT=${BENCH_DOCS_PORT:-5486}
SECS=${BENCH_DOCS_SECONDS:-4}
WARM=${BENCH_DOCS_WARMUP:-2}
ROUNDS=${BENCH_DOCS_ROUNDS:-2}
CLIENTS=(${BENCH_DOCS_CLIENTS:-1 2 4 8})
SET_CHECKS=${BENCH_DOCS_SET_CHECKS:-40}
POLICIES=${BENCH_DOCS_POLICIES:-200}
NPV=${BENCH_DOCS_NODES_PER_VERSION:-875}
SEED=${BENCH_DOCS_SEED:-1}
CACHE=${BENCH_DOCS_CACHE:-2GB}
PY=/usr/bin/python3
PG_CONFIG=${PG_CONFIG:-pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi
case "$DIR" in ""|/) echo "refusing BENCH_DOCS_DIR='$DIR'" >&2; exit 1;; esac
SOCK=$DIR
PGDATA_DIR=$DIR/data
# shellcheck source=bench_lib.sh
. "$ROOT/test/bench/bench_lib.sh"
LIB_AREA=sql
start_time=$SECONDS

if [ "${BENCH_DOCS_NO_INSTALL:-0}" != 1 ]; then
	make -C "$ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" treestore_fdw.so >/dev/null
	make -C "$ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" install >/dev/null
fi

stop() { [ -f "$DIR/data/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true; }
stop
rm -rf "$DIR"
mkdir -p "$DIR/corpus" "$DIR/scripts"
log() { echo "bench-docs: [$((SECONDS - start_time))s] $*" >&2; }

log "generating the corpus ($POLICIES policies, ~$NPV nodes per version, seed $SEED)"
"$PY" "$ROOT/test/bench/gen_corpus.py" --out "$DIR/corpus" --policies "$POLICIES" \
	--nodes-per-version "$NPV" --seed "$SEED" >&2
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$DIR"; fi

trap stop EXIT
"${AS_PG[@]}" "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
cat >>"$DIR/data/postgresql.conf" <<CONF
shared_preload_libraries = 'treestore_fdw'
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_buffers = $CACHE
fsync = on
synchronous_commit = on
treestore.synchronous_commit = on
treestore.cache_size = $CACHE
max_connections = 100
CONF
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
WORKER_PID=$(lib_worker_pid)
[ -n "$WORKER_PID" ] || { echo "bench-docs: no treestore worker in pg_stat_activity" >&2; exit 1; }

psql_b() { "${AS_PG[@]}" "$PGBIN/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

# --- schema: the native design, the picks
psql_b <<'SQL'
CREATE EXTENSION treestore_fdw;
CREATE EXTENSION pg_prewarm;
CREATE SCHEMA native;
CREATE TABLE native.versions (
	policy_id text NOT NULL,
	version_id text NOT NULL,
	effective_from date,
	effective_to date,
	doc_name text,
	node_count int,
	PRIMARY KEY (policy_id, version_id));
CREATE INDEX ON native.versions (policy_id, effective_from);
CREATE TABLE native.nodes (
	policy_id text NOT NULL,
	version_id text NOT NULL,
	node_id text NOT NULL,
	parent_id text,
	ordinal int,
	depth int,
	section_path text,
	title text,
	page_start int,
	page_end int,
	summary text,
	text text,
	tsv tsvector GENERATED ALWAYS AS (
		setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
		to_tsvector('english', coalesce(summary, '') || ' ' || coalesce(text, ''))) STORED,
	PRIMARY KEY (policy_id, version_id, node_id));
CREATE INDEX ON native.nodes (policy_id, version_id, parent_id, ordinal);
CREATE INDEX ON native.nodes USING gin (tsv);

-- One PageIndex tree -> versions + nodes, as treestore.store_document stores
-- it: parent_id, ordinal from 0, depth from 1, section_path = titles joined
-- with ' > '.  (The corpus gives every node its node_id.)
CREATE FUNCTION native.load_document(p_policy_id text, p_version_id text, p_tree jsonb,
		p_effective_from date) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	WITH RECURSIVE walk(node, parent_id, ordinal, depth, section_path) AS (
		SELECT e.value, NULL::text, (e.ordinality - 1)::int, 1, e.value->>'title'
		FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_tree) = 'array' THEN p_tree
									   ELSE p_tree->'structure' END) WITH ORDINALITY e
		UNION ALL
		SELECT c.value, w.node->>'node_id', (c.ordinality - 1)::int, w.depth + 1,
			   w.section_path || ' > ' || (c.value->>'title')
		FROM walk w, jsonb_array_elements(coalesce(w.node->'nodes', '[]')) WITH ORDINALITY c)
	INSERT INTO native.nodes (policy_id, version_id, node_id, parent_id, ordinal, depth,
							  section_path, title, page_start, page_end, summary, text)
	SELECT p_policy_id, p_version_id, node->>'node_id', parent_id, ordinal, depth, section_path,
		   node->>'title', (node->>'start_index')::int, (node->>'end_index')::int,
		   node->>'summary', node->>'text'
	FROM walk;
	GET DIAGNOSTICS n = ROW_COUNT;
	INSERT INTO native.versions VALUES (p_policy_id, p_version_id, p_effective_from, NULL,
										p_tree->>'doc_name', n);
	RETURN n;
END $$;

-- The temporal rule (CONTRACT.md section 3) without as_of: per policy, the
-- version in force today (the latest effective_from <= today, unless its
-- effective_to has passed), else the one with the latest effective_from
-- (ties: the greatest version_id, bytewise, as treestore does).  LATERAL
-- with LIMIT: version_id is a column computed once per policy, not an
-- expression the planner could push into a join condition.
CREATE VIEW native.resolved_versions AS
SELECT p.policy_id, r.version_id
FROM (SELECT DISTINCT policy_id FROM native.versions) p
CROSS JOIN LATERAL (
	SELECT c.version_id FROM (
		SELECT f.version_id, 1 AS pref
		FROM (SELECT v.version_id, v.effective_to FROM native.versions v
			  WHERE v.policy_id = p.policy_id AND v.effective_from <= current_date
			  ORDER BY v.effective_from DESC, v.version_id COLLATE "C" DESC LIMIT 1) f
		WHERE f.effective_to IS NULL OR f.effective_to > current_date
		UNION ALL
		(SELECT v.version_id, 2 FROM native.versions v WHERE v.policy_id = p.policy_id
		 ORDER BY v.effective_from DESC NULLS LAST, v.version_id COLLATE "C" DESC LIMIT 1)) c
	ORDER BY c.pref LIMIT 1) r;

CREATE SCHEMA bench;
CREATE TABLE bench.picks_subtree (i int PRIMARY KEY, p text, n text);
CREATE TABLE bench.picks_ancestors (i int PRIMARY KEY, p text, n text);
CREATE TABLE bench.picks_asof (i int PRIMARY KEY, p text, d date);
CREATE TABLE bench.picks_search_policy (i int PRIMARY KEY, p text, q text);
CREATE TABLE bench.picks_search_all (i int PRIMARY KEY, q text);
SQL
for t in subtree ancestors asof search_policy search_all; do
	psql_b -c "\\copy bench.picks_$t FROM '$DIR/corpus/picks_$t.tsv'"
done
npicks=$(wc -l <"$DIR/corpus/picks_subtree.tsv")
psql_b -c "VACUUM ANALYZE bench.picks_subtree, bench.picks_ancestors, bench.picks_asof, bench.picks_search_policy, bench.picks_search_all"

has_search=$(psql_b -At -c "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'search' AND pronamespace = 'treestore'::regnamespace)")

# --- ingestion: the same client program and calls on both sides
log "ingesting the corpus into native and treestore (halves alternating)"
ingest=$("$PY" - "$DIR" "$PORT" "$DIR/corpus/corpus.jsonl" <<'PY'
import json, sys, time
import psycopg

sockdir, port, corpus = sys.argv[1:4]
docs = []
with open(corpus) as f:
    for line in f:
        r = json.loads(line)
        docs.append((r["policy_id"], r["version_id"], json.dumps(r["tree"]), r["effective_from"]))
half = len(docs) // 2
calls = {"native": "SELECT native.load_document(%s, %s, %s::jsonb, %s::date)",
         "treestore": "SELECT treestore.store_document(%s, %s, %s::jsonb, %s::date)"}
conns = {side: psycopg.connect(host=sockdir, port=port, user="postgres", dbname="postgres",
                               autocommit=True) for side in calls}
secs = {side: 0.0 for side in calls}
nodes = {side: 0 for side in calls}
for part in (docs[:half], docs[half:]):
    for side in ("native", "treestore"):
        cur = conns[side].cursor()
        t0 = time.perf_counter()
        for d in part:
            cur.execute(calls[side], d, prepare=True)
            nodes[side] += cur.fetchone()[0]
        secs[side] += time.perf_counter() - t0
print(len(docs), nodes["native"], secs["native"], nodes["treestore"], secs["treestore"])
PY
)
read -r n_versions native_nodes native_secs ts_nodes ts_secs <<<"$ingest"
if [ "$native_nodes" != "$ts_nodes" ]; then
	echo "bench-docs: native stored $native_nodes nodes, treestore $ts_nodes" >&2
	exit 1
fi

# Laid out as a DBA would: the heap in primary-key order.  Versions are
# loaded one after another, but a version's rows go in level by level (the
# recursive CTE) and autovacuum's free-space map sends some rows back to
# earlier pages; count the rows out of key order and CLUSTER if there are
# any.
out_of_order=$(psql_b -At -c "SELECT count(*) FILTER (WHERE back) FROM (SELECT ROW(policy_id, version_id, node_id) < lag(ROW(policy_id, version_id, node_id)) OVER (ORDER BY ctid) AS back FROM native.nodes) s")
if [ "$out_of_order" != 0 ]; then
	log "native.nodes: $out_of_order heap rows out of primary-key order: CLUSTER"
	psql_b -c "CLUSTER native.nodes USING nodes_pkey"
	layout="CLUSTERed on the primary key ($out_of_order heap rows were out of key order after loading)"
else
	layout="loaded in primary-key order (0 heap rows out of key order)"
fi

log "VACUUM ANALYZE, checkpoints, prewarm"
psql_b <<'SQL' >/dev/null
VACUUM ANALYZE native.versions, native.nodes;
CHECKPOINT;
SELECT treestore.checkpoint();
SELECT pg_prewarm(c.oid) FROM pg_class c
WHERE c.relnamespace IN ('native'::regnamespace, 'bench'::regnamespace) AND c.relkind IN ('r', 'i', 't')
   OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'native'::regnamespace)
   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN
				(SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'native'::regnamespace));
SELECT count(*), sum(length(text)), sum(length(summary)) FROM treestore.nodes;
SELECT count(*) FROM treestore.versions;
SQL
native_mb=$(psql_b -At -c "SELECT round((pg_total_relation_size('native.nodes') + pg_total_relation_size('native.versions')) / 1048576.0)")

# --- the scripts
S=$DIR/scripts
pick() {	# pick TABLE COLUMNS -> the script's first two lines
	printf '\\set i random(1, %d)\nSELECT %s FROM bench.picks_%s WHERE i = :i \\gset\n' "$npicks" "$2" "$1"
}
NODE_COLS="n.policy_id, n.version_id, n.node_id, n.parent_id, n.ordinal, n.depth, n.section_path, n.title, n.page_start, n.page_end, n.summary, n.text"
NODE_COLS_C=${NODE_COLS//n./c.}

{ pick subtree "p, n"; cat <<'SQL'; } >"$S/subtree_ts.sql"
SELECT count(*) FROM treestore.get_subtree(:p, :n);
SQL
{ pick subtree "p, n"; cat <<SQL; } >"$S/subtree_native.sql"
SELECT count(*) FROM (
	WITH RECURSIVE t AS (
		SELECT $NODE_COLS
		FROM native.nodes n JOIN native.resolved_versions r
			 ON r.policy_id = n.policy_id AND r.version_id = n.version_id
		WHERE n.policy_id = :p AND n.node_id = :n
		UNION ALL
		SELECT $NODE_COLS_C
		FROM t JOIN native.nodes c
			 ON c.policy_id = t.policy_id AND c.version_id = t.version_id AND c.parent_id = t.node_id)
	SELECT * FROM t) s;
SQL
{ pick ancestors "p, n"; cat <<'SQL'; } >"$S/ancestors_ts.sql"
SELECT count(*) FROM treestore.get_ancestors(:p, :n);
SQL
{ pick ancestors "p, n"; cat <<SQL; } >"$S/ancestors_native.sql"
SELECT count(*) FROM (
	WITH RECURSIVE a AS (
		SELECT $NODE_COLS
		FROM native.nodes n JOIN native.resolved_versions r
			 ON r.policy_id = n.policy_id AND r.version_id = n.version_id
		WHERE n.policy_id = :p AND n.node_id = :n
		UNION ALL
		SELECT $NODE_COLS_C
		FROM a JOIN native.nodes c
			 ON c.policy_id = a.policy_id AND c.version_id = a.version_id AND c.node_id = a.parent_id)
	SELECT * FROM a) s;
SQL
{ pick asof "p, d"; cat <<'SQL'; } >"$S/asof_ts.sql"
SELECT * FROM treestore.version_as_of(:p, :d);
SQL
{ pick asof "p, d"; cat <<'SQL'; } >"$S/asof_native.sql"
SELECT * FROM (
	SELECT * FROM native.versions
	WHERE policy_id = :p AND effective_from <= :d
	ORDER BY effective_from DESC, version_id COLLATE "C" DESC LIMIT 1) v
WHERE effective_to IS NULL OR effective_to > :d;
SQL
{ pick search_policy "p, q"; cat <<'SQL'; } >"$S/search_policy_ts.sql"
SELECT * FROM treestore.search(:q, policy_id => :p, top_k => 10);
SQL
{ pick search_all "q"; cat <<'SQL'; } >"$S/search_all_ts.sql"
SELECT * FROM treestore.search(:q, top_k => 10);
SQL
native_search() {	# native_search FROM-ITEM-OF-CANDIDATE-NODES
	cat <<SQL
WITH q AS (SELECT replace(plainto_tsquery('english', :q)::text, ' & ', ' | ')::tsquery AS q)
SELECT r.policy_id, r.version_id, r.node_id, r.title, r.section_path, r.score,
	   ts_headline('english', coalesce(r.summary, '') || ' ' || coalesce(r.text, ''), q.q) AS snippet
FROM q, LATERAL (
	SELECT n.policy_id, n.version_id, n.node_id, n.title, n.section_path, n.summary, n.text,
		   ts_rank(n.tsv, q.q)::float8 AS score
	FROM $1
	WHERE n.tsv @@ q.q
	ORDER BY score DESC LIMIT 10) r
ORDER BY r.score DESC;
SQL
}
# One policy: the resolved version's rows by the primary key, tsv @@ q a
# filter over them; the OFFSET 0 fence keeps the planner from ANDing them
# with a GIN bitmap of the matches in every policy (5x slower here).  All
# policies: the GIN index, joined with the resolved versions.
{ pick search_policy "p, q"; native_search "(SELECT n.* FROM native.nodes n JOIN native.resolved_versions rv
			ON rv.policy_id = n.policy_id AND rv.version_id = n.version_id
		  WHERE n.policy_id = :p OFFSET 0) n"; } >"$S/search_policy_native.sql"
{ pick search_all "q"; native_search "native.nodes n JOIN native.resolved_versions rv
		 ON rv.policy_id = n.policy_id AND rv.version_id = n.version_id"; } >"$S/search_all_native.sql"
chmod 644 "$S"/*.sql

kinds=(subtree ancestors asof)
if [ "$has_search" = t ]; then kinds+=(search_policy search_all); fi

# --- checks: on the first 30 picks, both sides give the same rows (subtree,
# ancestors: the same node ids; as of: the same version; search: as many
# rows)
log "checking that both sides answer alike"
check_sql() {	# check_sql SCRIPT -> a query of one value over its measured statement's rows
	local body
	body=$(sed -n '3,$p' "$1" | sed 's/;[[:space:]]*$//; s/:\([pndq]\)\b/:'"'"'\1'"'"'/g')
	case "$1" in
	*subtree*|*ancestors*)
		body=$(printf '%s\n' "$body" | sed '1s/^SELECT count(\*) FROM/SELECT md5(string_agg(node_id, '"','"' ORDER BY node_id)) FROM/')
		printf '%s;\n' "$body" ;;
	*asof*) printf 'SELECT string_agg(version_id, %s) FROM (%s) s;\n' "','" "$body" ;;
	*) printf 'SELECT count(*) FROM (%s) s;\n' "$body" ;;
	esac
}
bad=0
for k in "${kinds[@]}"; do
	for side in ts native; do
		{
			echo '\set ON_ERROR_STOP 1'
			for i in $(seq 1 30); do
				sed -n '2p' "$S/${k}_$side.sql" | sed "s/:i/$i/"
				check_sql "$S/${k}_$side.sql"
			done
		} >"$S/check_${k}_$side.sql"
		chmod 644 "$S/check_${k}_$side.sql"
		psql_b -At -f "$S/check_${k}_$side.sql" >"$S/check_${k}_$side.out"
	done
	if ! cmp -s "$S/check_${k}_ts.out" "$S/check_${k}_native.out"; then
		echo "bench-docs: $k: native and treestore answers differ on the first 30 picks (see $S/check_${k}_*.out)" >&2
		bad=1
	fi
done
[ $bad -eq 0 ] || exit 1


# --- search: the same SET of matches on both sides, for every query across
# all policies and the first SET_CHECKS (policy, query) picks
if [ "$has_search" = t ]; then
	log "checking that both sides find the same set of matching nodes (all matches, EXCEPT both ways)"
	all_nodes=$(psql_b -At -c "SELECT count(*) FROM native.nodes")
	set_sql() {	# set_sql QUERY [POLICY] -> a query of "q|p|ts|native|ts_only|native_only"
		local q=$1 p=${2:-} tsp="" np=""
		if [ -n "$p" ]; then tsp=", policy_id => '$p'"; np=" AND n.policy_id = '$p'"; fi
		cat <<SQL
WITH t AS MATERIALIZED (SELECT policy_id, version_id, node_id FROM treestore.search('$q'$tsp, top_k => $((all_nodes + 1)))),
n AS MATERIALIZED (SELECT n.policy_id, n.version_id, n.node_id
	FROM native.nodes n JOIN native.resolved_versions rv ON rv.policy_id = n.policy_id AND rv.version_id = n.version_id
	WHERE n.tsv @@ replace(plainto_tsquery('english', '$q')::text, ' & ', ' | ')::tsquery$np)
SELECT '$q', '$p', (SELECT count(*) FROM t), (SELECT count(*) FROM n),
	(SELECT count(*) FROM (TABLE t EXCEPT TABLE n) x), (SELECT count(*) FROM (TABLE n EXCEPT TABLE t) x);
SQL
	}
	# two sessions, each half of the checks (this machine has 2 cores)
	: >"$S/check_sets_0.sql"
	: >"$S/check_sets_1.sql"
	i=0
	while IFS='|' read -r p q; do
		set_sql "$q" "$p" >>"$S/check_sets_$((i % 2)).sql"
		i=$((i + 1))
	done < <(cut -f2 "$DIR/corpus/picks_search_all.tsv" | sort -u | sed 's/^/|/'
			 head -n "$SET_CHECKS" "$DIR/corpus/picks_search_policy.tsv" | cut -f2,3 | sort -u | tr '\t' '|')
	chmod 644 "$S"/check_sets_*.sql
	psql_b -At -f "$S/check_sets_0.sql" >"$S/check_sets_0.out" &
	set_pid=$!
	psql_b -At -f "$S/check_sets_1.sql" >"$S/check_sets_1.out"
	wait "$set_pid"
	cat "$S/check_sets_0.out" "$S/check_sets_1.out" >"$S/check_sets.out"
	set_summary=$(awk -F'|' '
		{ if ($2 == "") { na++; ma += $3 } else { np++; mp += $3 } if ($5 != 0 || $6 != 0 || $3 != $4) bad++ }
		END { printf "%d queries across all policies (%d matches), %d (policy, query) picks (%d matches): %s\n",
			  na, ma, np, mp, bad ? bad " DIFFER" : "the same sets" }' "$S/check_sets.out")
	log "search match sets: $set_summary"
	if awk -F'|' '$5 != 0 || $6 != 0 || $3 != $4 { exit 1 }' "$S/check_sets.out"; then :; else
		echo "bench-docs: search: treestore and native find different sets of matching nodes:" >&2
		awk -F'|' '$5 != 0 || $6 != 0 || $3 != $4 { printf "  query \"%s\" policy \"%s\": treestore %d, native %d, treestore only %d, native only %d\n", $1, $2, $3, $4, $5, $6 }' \
			"$S/check_sets.out" >&2
		exit 1
	fi
fi

# --- point lookups by the full key (for the p99 under searches): no pick
# table, the key from random numbers (node ids are pre-order from 0000)
min_nodes=$(psql_b -At -c "SELECT min(node_count) FROM native.versions")
cat >"$S/point_ts.sql" <<SQL
\\set p random(1, $POLICIES)
\\set v random(1, 2)
\\set n random(0, $((min_nodes - 1)))
SELECT title FROM treestore.nodes WHERE policy_id = 'POL-' || lpad(:p::text, 5, '0') AND version_id = 'v' || :v AND node_id = lpad(:n::text, 4, '0');
SQL
sed 's/treestore\.nodes/native.nodes/' "$S/point_ts.sql" >"$S/point_native.sql"
chmod 644 "$S"/point_*.sql
for side in ts native; do
	t=treestore.nodes; [ $side = native ] && t=native.nodes
	got=$(psql_b -At -c "SELECT count(*) FROM $t WHERE policy_id = 'POL-' || lpad($POLICIES::text, 5, '0') AND version_id = 'v2' AND node_id = lpad('$((min_nodes - 1))', 4, '0')")
	[ "$got" = 1 ] || { echo "bench-docs: point lookup key not found in $t" >&2; exit 1; }
done

log "warm-up pass (${WARM}s per script and side)"
for k in "${kinds[@]}" point; do
	lib_pgb "$S/${k}_native.sql" "$WARM" 1 >/dev/null
	lib_pgb "$S/${k}_ts.sql" "$WARM" 1 >/dev/null
done

# --- measurements: KEY -> "tps lat stmt xacts worker_s others_s" per round
declare -A M P99
for ((r = 1; r <= ROUNDS; r++)); do
	for k in "${kinds[@]}"; do
		log "round $r of $ROUNDS: $k at ${CLIENTS[*]} clients (${SECS}s per side)"
		for c in "${CLIENTS[@]}"; do
			M[${k}_native_$c]+="$(lib_pgb "$S/${k}_native.sql" "$SECS" "$c")"$'\n'
			M[${k}_ts_$c]+="$(lib_pgb "$S/${k}_ts.sql" "$SECS" "$c")"$'\n'
		done
	done
done
# point lookups at 4 clients: p99 alone, then p99 while one more session
# runs searches across all policies back to back
if [ "$has_search" = t ]; then
	for ((r = 1; r <= ROUNDS; r++)); do
		log "round $r of $ROUNDS: point lookup p99 at 4 clients, without and with a session searching all policies"
		for side in ts native; do
			P99[${side}_alone]+="$(lib_pgb_p99 "$DIR/lat" "$S/point_$side.sql" "$SECS" 4)"$'\n'
			"${AS_PG[@]}" "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -M prepared -c 1 -T $((SECS + 2)) \
				-f "$S/search_all_$side.sql" postgres >"$DIR/bg_search.out" 2>&1 &
			bg=$!
			sleep 1
			P99[${side}_search]+="$(lib_pgb_p99 "$DIR/lat" "$S/point_$side.sql" "$SECS" 4)"$'\n'
			wait "$bg" || { cat "$DIR/bg_search.out" >&2; echo "bench-docs: background search failed" >&2; exit 1; }
			P99[${side}_bg_tps]+="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$DIR/bg_search.out")"$'\n'
		done
	done
fi

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
p99() {	# p99 KEY FIELD (1 p99 ms, 2 p50 ms, 3 transactions) -> median over rounds
	# shellcheck disable=SC2046
	lib_median $(printf '%s' "${P99[$1]}" | awk -v f="$2" 'NF { print $f }')
}

subtree_rows=$(psql_b -At -c "SELECT round(avg((SELECT count(*) FROM treestore.get_subtree(p, n))), 1) FROM bench.picks_subtree WHERE i <= 200")
ancestor_rows=$(psql_b -At -c "SELECT round(avg((SELECT count(*) FROM treestore.get_ancestors(p, n))), 1) FROM bench.picks_ancestors WHERE i <= 200")
ts_mb=$(du -sm "$DIR/data/treestore/treestore.db" | cut -f1)
cache_mb=$(psql_b -At -c "SELECT pg_size_bytes('$CACHE') / 1048576")
ts_settings=$(psql_b -At -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name LIKE 'treestore.%' AND name <> 'treestore.debug_fault'")
if [ "$native_mb" -le "$cache_mb" ] && [ "$ts_mb" -le "$cache_mb" ]; then fits="both fit"; else fits="NOT both fit: not all reads are from the caches"; fi
elapsed=$((SECONDS - start_time))

f1() { awk -v a="$1" 'BEGIN { printf "%.1f", a }'; }
cat <<OUT
bench-docs: $n_versions versions of $POLICIES policies, $ts_nodes nodes (gen_corpus.py seed $SEED), in treestore and in native tables
durability: fsync=on, synchronous_commit=on, treestore.synchronous_commit=on (both sides durable per commit)
memory: shared_buffers = treestore.cache_size = $CACHE ($cache_mb MB;
        native tables and indexes $native_mb MB, treestore.db $ts_mb MB: $fits); other settings default
treestore settings: $ts_settings
layout: native.nodes $layout
warmth: warm: native tables and indexes prewarmed (pg_prewarm), treestore.nodes scanned whole (no prewarm of
        treestore's search index but the warm-up), then a warm-up pass of every script on both sides (${WARM}s each)
pgbench: -M prepared, -c C -j C, ${SECS}s per measurement, $ROUNDS rounds (native then treestore per workload and
        client count), median round; request latency = pgbench's latency per transaction less the pick lookup's
        (\\gset, its pgbench -r latency); tps = whole transactions (pick lookup included); random picks from
        $npicks per script, the same for both sides
CPU per request: utime+stime from /proc/<pid>/stat before/after each run: worker = the treestore background worker,
        backends = every other process of the cluster (postmaster, its live children and the exited ones it reaped:
        pgbench's backends), pick lookups included; native: all of the cluster's; pgbench's own CPU not counted;
        microseconds per transaction
ingestion: /usr/bin/python3 + psycopg 3, autocommit, one call (one durable transaction) per version:
        native.load_document / treestore.store_document; corpus halves alternating native, treestore, native, treestore
machine: $(nproc) CPUs, shared with other work: timings are noisy
OUT
if [ "$has_search" = t ]; then
	echo "search: treestore.search (ANY query word, its ranking) / native: OR tsquery (plainto_tsquery, & -> |), ts_rank;"
	echo "        top 10 with snippets (ts_headline); match sets compared first: $set_summary"
else
	echo "search: treestore.search not installed, skipped"
fi
printf '\n%-46s %-16s %s\n' "" native treestore
printf '%-46s %-16s %s\n' "ingestion (nodes/s)" "$(awk -v n="$native_nodes" -v s="$native_secs" 'BEGIN { printf "%.0f", n / s }')" \
	"$(awk -v n="$ts_nodes" -v s="$ts_secs" 'BEGIN { printf "%.0f", n / s }')"
declare -A label=([subtree]="get_subtree, top-level node (~$subtree_rows rows)" [ancestors]="get_ancestors, deep node (~$ancestor_rows rows)"
	[asof]="version_as_of" [search_policy]="search, one policy, top 10" [search_all]="search, all policies, top 10")
echo
echo "request latency (ms), throughput (transactions/s), CPU per request (us)"
printf '%-14s %7s %10s %10s %8s %11s %11s %10s %10s %10s\n' workload clients "native ms" "ts ms" speedup "native tps" "ts tps" "native cpu" "ts worker" "ts backend"
for k in "${kinds[@]}"; do
	for c in "${CLIENTS[@]}"; do
		printf '%-14s %7s %10s %10s %8s %11s %11s %10s %10s %10s\n' "$k" "$c" "$(fig "${k}_native_$c" 10)" "$(fig "${k}_ts_$c" 10)" \
			"$(lib_div "$(fig "${k}_native_$c" 10)" "$(fig "${k}_ts_$c" 10)")" "$(f1 "$(fig "${k}_native_$c" 1)")" "$(f1 "$(fig "${k}_ts_$c" 1)")" \
			"$(fig "${k}_native_$c" 9)" "$(fig "${k}_ts_$c" 7)" "$(fig "${k}_ts_$c" 8)"
	done
done
for k in "${kinds[@]}"; do echo "  $k: ${label[$k]}"; done
echo
cmax=${CLIENTS[${#CLIENTS[@]} - 1]}
echo "projection to N cores (requests/s): treestore = min(N / backend_cpu_per_req, 1 / worker_cpu_per_req) (one worker"
echo "        process: at most one core); native = N / native_cpu_per_req; CPU per request from the ${cmax}-client runs"
declare -A PR
for k in "${kinds[@]}"; do
	wk=$(fig "${k}_ts_$cmax" 7); be=$(fig "${k}_ts_$cmax" 8); na=$(fig "${k}_native_$cmax" 9)
	for n in 16 64; do
		read -r t bound <<<"$(awk -v n="$n" -v w="$wk" -v b="$be" 'BEGIN { x = (b > 0) ? n * 1e6 / b : 1e12; y = (w > 0) ? 1e6 / w : 1e12; printf "%.0f %s\n", (x < y) ? x : y, (x <= y) ? "backends-bound" : "worker-bound" }')"
		v=$(awk -v n="$n" -v a="$na" 'BEGIN { printf "%.0f", (a > 0) ? n * 1e6 / a : 1e12 }')
		PR[${k}_${n}_ts]=$t PR[${k}_${n}_native]=$v
		printf '  %-14s %2s cores: treestore %9s/s (%s)  native %9s/s  ratio %s\n' "$k" "$n" "$t" "$bound" "$v" "$(lib_div "$t" "$v")"
	done
done
if [ "$has_search" = t ]; then
	echo
	echo "point lookup (treestore.nodes / native.nodes by the full key), 4 clients, p99 / p50 of per-transaction latency"
	echo "        (pgbench --log, all clients' transactions), alone and while one more session searches all policies"
	for side in ts native; do
		printf '  %-9s alone p99 %s ms (p50 %s, %s xacts); with searches p99 %s ms (p50 %s, %s xacts, %s searches/s): ratio %s\n' \
			"$([ $side = ts ] && echo treestore || echo native)" "$(p99 ${side}_alone 1)" "$(p99 ${side}_alone 2)" "$(p99 ${side}_alone 3)" \
			"$(p99 ${side}_search 1)" "$(p99 ${side}_search 2)" "$(p99 ${side}_search 3)" \
			"$(lib_median $(printf '%s' "${P99[${side}_bg_tps]}"))" "$(lib_div "$(p99 ${side}_search 1)" "$(p99 ${side}_alone 1)")"
	done
fi
echo "run time: ${elapsed}s"
echo

has() { local x; for x in "${@:2}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
declare -A goal=([subtree]=5 [ancestors]=3 [asof]=2 [search_policy]=5 [search_all]=50)
declare -A rname=([subtree]=subtree [ancestors]=ancestors [asof]=version_as_of [search_policy]=search_policy [search_all]=search_all)
lib_target ingest_speedup "$(lib_div "$native_secs" "$ts_secs")" ">=" 1
for k in "${kinds[@]}"; do
	for c in "${CLIENTS[@]}"; do
		lib_target "${rname[$k]}_c${c}_speedup" "$(lib_div "$(fig "${k}_native_$c" 10)" "$(fig "${k}_ts_$c" 10)")" ">=" "${goal[$k]}"
	done
done
if has 1 "${CLIENTS[@]}" && has 2 "${CLIENTS[@]}"; then
	lib_target subtree_scaling_2v1_treestore "$(lib_div "$(fig subtree_ts_2 1)" "$(fig subtree_ts_1 1)")" ">=" 1.7
	echo "(native subtrees scale $(lib_div "$(fig subtree_native_2 1)" "$(fig subtree_native_1 1)")x from 1 to 2 clients)"
fi
if [ "$has_search" = t ]; then
	lib_target point_lookup_p99_with_search_ratio_treestore "$(lib_div "$(p99 ts_search 1)" "$(p99 ts_alone 1)")" "<=" 1.5
fi
echo "targets: $LIB_TARGETS, missed: $LIB_MISSES"
echo

result() { echo "RESULT sql $1 $2"; }
result ingest_native_nodes_per_s "$(awk -v n="$native_nodes" -v s="$native_secs" 'BEGIN { printf "%.0f", n / s }')"
result ingest_treestore_nodes_per_s "$(awk -v n="$ts_nodes" -v s="$ts_secs" 'BEGIN { printf "%.0f", n / s }')"
result ingest_speedup "$(lib_div "$native_secs" "$ts_secs")"
for k in "${kinds[@]}"; do
	n=${rname[$k]}
	for c in "${CLIENTS[@]}"; do
		result "${n}_c${c}_native_ms" "$(fig "${k}_native_$c" 10)"
		result "${n}_c${c}_treestore_ms" "$(fig "${k}_ts_$c" 10)"
		result "${n}_c${c}_native_tps" "$(f1 "$(fig "${k}_native_$c" 1)")"
		result "${n}_c${c}_treestore_tps" "$(f1 "$(fig "${k}_ts_$c" 1)")"
		result "${n}_c${c}_speedup" "$(lib_div "$(fig "${k}_native_$c" 10)" "$(fig "${k}_ts_$c" 10)")"
		result "${n}_c${c}_native_cpu_us" "$(fig "${k}_native_$c" 9)"
		result "${n}_c${c}_worker_cpu_us" "$(fig "${k}_ts_$c" 7)"
		result "${n}_c${c}_backend_cpu_us" "$(fig "${k}_ts_$c" 8)"
	done
	if has 1 "${CLIENTS[@]}" && has 2 "${CLIENTS[@]}"; then
		result "${n}_scaling_2v1_treestore" "$(lib_div "$(fig "${k}_ts_2" 1)" "$(fig "${k}_ts_1" 1)")"
		result "${n}_scaling_2v1_native" "$(lib_div "$(fig "${k}_native_2" 1)" "$(fig "${k}_native_1" 1)")"
	fi
	for p in 16 64; do
		result "${n}_projected_${p}cores_treestore_rps" "${PR[${k}_${p}_ts]}"
		result "${n}_projected_${p}cores_native_rps" "${PR[${k}_${p}_native]}"
	done
	# the 1-client figures under the names earlier runs used
	if has 1 "${CLIENTS[@]}"; then
		result "${n}_native_ms" "$(fig "${k}_native_1" 10)"
		result "${n}_treestore_ms" "$(fig "${k}_ts_1" 10)"
		result "${n}_speedup" "$(lib_div "$(fig "${k}_native_1" 10)" "$(fig "${k}_ts_1" 10)")"
	fi
done
if [ "$has_search" = t ]; then
	for side in ts native; do
		sn=$([ $side = ts ] && echo treestore || echo native)
		result "point_lookup_c4_p99_${sn}_ms" "$(p99 ${side}_alone 1)"
		result "point_lookup_c4_p99_with_search_${sn}_ms" "$(p99 ${side}_search 1)"
		result "point_lookup_c4_p99_with_search_ratio_${sn}" "$(lib_div "$(p99 ${side}_search 1)" "$(p99 ${side}_alone 1)")"
	done
fi
result targets_missed "$LIB_MISSES"
