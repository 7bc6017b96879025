#!/usr/bin/env bash
#
# bench_docs.sh -- `make bench-docs`: the treestore document functions
# against the same corpus in ordinary PostgreSQL tables (schema native, with
# the indexes a careful DBA would add), side by side in one run on one
# private cluster, with pgbench.  Targets (speedup = native latency /
# treestore latency; ingestion: treestore nodes/s / native nodes/s):
#   get_subtree of a top-level section           >= 3
#   get_ancestors of a deep node                 >= 2
#   version_as_of                                >= 1
#   search within one policy (top 10, snippets)  >= 3
#   search across all policies                   >= 20
#   ingestion of the corpus                      >= 1
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
# Random choices (policy, node, date, query) come from tables of picks that
# gen_corpus.py writes: each pgbench script draws i, fetches pick i (\gset),
# then runs the measured statement; the latency reported is that statement's
# own (pgbench -r), the same picks on both sides.
#
# Settings, the same for both: fsync=on, synchronous_commit=on,
# treestore.synchronous_commit=on (every commit durable); shared_buffers =
# treestore.cache_size = BENCH_DOCS_CACHE (default 2GB: each side's data
# fits, about 0.75 GB native and 1.4 GB treestore at full size; the output
# states both sizes), other settings default.  Warm: after loading, native
# tables and indexes are read into shared_buffers (pg_prewarm) and
# treestore.nodes is scanned whole (nothing reads treestore's search index
# whole but the warm-up); then a warm-up pass of every script on both sides.
# pgbench -M prepared, 1 client, BENCH_DOCS_SECONDS (default 10) per
# measurement, BENCH_DOCS_ROUNDS (default 3) rounds alternating native and
# treestore; the median round is reported.
# Ingestion: one client program (/usr/bin/python3 + psycopg 3, autocommit:
# one call and one durable transaction per version), the corpus in halves
# alternating native, treestore, native, treestore; rate = nodes / seconds of
# the calls.  Prints "RESULT sql <name> <value>" lines last.
#
#   BENCH_DOCS_DIR         cluster and corpus directory
#                          (default /tmp/treestore-bench-docs)
#   BENCH_DOCS_PORT        port (default 5486)
#   BENCH_DOCS_SECONDS     seconds per measurement (default 10)
#   BENCH_DOCS_WARMUP      seconds of each warm-up pass (default 3)
#   BENCH_DOCS_ROUNDS      rounds (default 3)
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
SECS=${BENCH_DOCS_SECONDS:-10}
WARM=${BENCH_DOCS_WARMUP:-3}
ROUNDS=${BENCH_DOCS_ROUNDS:-3}
POLICIES=${BENCH_DOCS_POLICIES:-200}
NPV=${BENCH_DOCS_NODES_PER_VERSION:-875}
SEED=${BENCH_DOCS_SEED:-1}
CACHE=${BENCH_DOCS_CACHE:-2GB}
PY=/usr/bin/python3
PGBIN=$(pg_config --bindir)
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi
case "$DIR" in ""|/) echo "refusing BENCH_DOCS_DIR='$DIR'" >&2; exit 1;; esac
start_time=$SECONDS

if [ "${BENCH_DOCS_NO_INSTALL:-0}" != 1 ]; then
	make -C "$ROOT" --no-print-directory treestore_fdw.so >/dev/null
	make -C "$ROOT" --no-print-directory install >/dev/null
fi

stop() { [ -f "$DIR/data/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true; }
stop
rm -rf "$DIR"
mkdir -p "$DIR/corpus" "$DIR/scripts"
log() { echo "bench-docs: $*" >&2; }

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
CONF
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null

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

pgb() {	# pgb SCRIPT SECONDS -> the measured (last) statement's latency in ms
	local out
	out=$("${AS_PG[@]}" "$PGBIN/pgbench" -h "$DIR" -p "$PORT" -U postgres -n -M prepared -c 1 -T "$2" -r -f "$1" postgres 2>&1) || {
		printf '%s\n' "$out" >&2; echo "bench-docs: pgbench $1 failed" >&2; return 1; }
	printf '%s\n' "$out" |
		awk '/^statement latencies/ { s = 1; next } s && $1 ~ /^[0-9.]+$/ { last = $1 } END { if (last == "") exit 1; print last }'
}

log "warm-up pass (${WARM}s per script)"
for k in "${kinds[@]}"; do
	pgb "$S/${k}_native.sql" "$WARM" >/dev/null
	pgb "$S/${k}_ts.sql" "$WARM" >/dev/null
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A lat_native lat_ts
for k in "${kinds[@]}"; do
	log "measuring $k ($ROUNDS rounds x ${SECS}s per side)"
	nat=() tsl=()
	for ((r = 1; r <= ROUNDS; r++)); do
		nat+=("$(pgb "$S/${k}_native.sql" "$SECS")")
		tsl+=("$(pgb "$S/${k}_ts.sql" "$SECS")")
	done
	lat_native[$k]=$(median "${nat[@]}")
	lat_ts[$k]=$(median "${tsl[@]}")
done

subtree_rows=$(psql_b -At -c "SELECT round(avg((SELECT count(*) FROM treestore.get_subtree(p, n))), 1) FROM bench.picks_subtree WHERE i <= 200")
ancestor_rows=$(psql_b -At -c "SELECT round(avg((SELECT count(*) FROM treestore.get_ancestors(p, n))), 1) FROM bench.picks_ancestors WHERE i <= 200")
ts_mb=$(du -sm "$DIR/data/treestore/treestore.db" | cut -f1)
cache_mb=$(psql_b -At -c "SELECT pg_size_bytes('$CACHE') / 1048576")
if [ "$native_mb" -le "$cache_mb" ] && [ "$ts_mb" -le "$cache_mb" ]; then fits="both fit"; else fits="NOT both fit: not all reads are from the caches"; fi
elapsed=$((SECONDS - start_time))

f3() { awk -v a="$1" 'BEGIN { printf "%.3f", a }'; }
cat <<OUT
bench-docs: $n_versions versions of $POLICIES policies, $ts_nodes nodes (gen_corpus.py seed $SEED), in treestore and in native tables
durability: fsync=on, synchronous_commit=on, treestore.synchronous_commit=on (both sides durable per commit)
memory: shared_buffers = treestore.cache_size = $CACHE ($cache_mb MB;
        native tables and indexes $native_mb MB, treestore.db $ts_mb MB: $fits); other settings default
warmth: warm: native tables and indexes prewarmed (pg_prewarm), treestore.nodes scanned whole (no prewarm of
        treestore's search index but the warm-up), then a warm-up pass of every script on both sides (${WARM}s each)
pgbench: -M prepared, 1 client, ${SECS}s per measurement, $ROUNDS rounds alternating native and treestore, median
        round; latency = the measured statement's own (pgbench -r), the pick lookup (\\gset) before it excluded;
        random picks from $npicks per script, the same for both sides
ingestion: /usr/bin/python3 + psycopg 3, autocommit, one call (one durable transaction) per version:
        native.load_document / treestore.store_document; corpus halves alternating native, treestore, native, treestore
OUT
row() { printf '%-46s %-16s %s\n' "$@"; }
row "" native treestore
row "ingestion (nodes/s)" "$(awk -v n="$native_nodes" -v s="$native_secs" 'BEGIN { printf "%.0f", n / s }')" \
	"$(awk -v n="$ts_nodes" -v s="$ts_secs" 'BEGIN { printf "%.0f", n / s }')"
row "get_subtree, top-level node (~$subtree_rows rows)" "${lat_native[subtree]} ms" "${lat_ts[subtree]} ms"
row "get_ancestors, deep node (~$ancestor_rows rows)" "${lat_native[ancestors]} ms" "${lat_ts[ancestors]} ms"
row "version_as_of" "${lat_native[asof]} ms" "${lat_ts[asof]} ms"
if [ "$has_search" = t ]; then
	echo "search: treestore.search (ANY query word, its ranking) / native: OR tsquery (plainto_tsquery, & -> |), ts_rank; top 10 with snippets (ts_headline)"
	row "search, one policy, top 10" "${lat_native[search_policy]} ms" "${lat_ts[search_policy]} ms"
	row "search, all policies, top 10" "${lat_native[search_all]} ms" "${lat_ts[search_all]} ms"
else
	echo "search: treestore.search not installed, skipped"
fi
echo "run time: ${elapsed}s"

result() { echo "RESULT sql $1 $2"; }
speed() {	# speed NAME KIND
	result "$1_native_ms" "${lat_native[$2]}"
	result "$1_treestore_ms" "${lat_ts[$2]}"
	result "$1_speedup" "$(f3 "$(awk -v a="${lat_native[$2]}" -v b="${lat_ts[$2]}" 'BEGIN { print a / b }')")"
}
result ingest_native_nodes_per_s "$(awk -v n="$native_nodes" -v s="$native_secs" 'BEGIN { printf "%.0f", n / s }')"
result ingest_treestore_nodes_per_s "$(awk -v n="$ts_nodes" -v s="$ts_secs" 'BEGIN { printf "%.0f", n / s }')"
result ingest_speedup "$(awk -v a="$native_secs" -v b="$ts_secs" 'BEGIN { printf "%.3f", a / b }')"
speed subtree subtree
speed ancestors ancestors
speed version_as_of asof
if [ "$has_search" = t ]; then
	speed search_policy search_policy
	speed search_all search_all
fi
