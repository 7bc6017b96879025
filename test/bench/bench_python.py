#!/usr/bin/python3
"""bench_python.py -- `make bench-python`: the Python client, measured.

1. Overhead.  get_node, get_subtree (a top-level section) and search (one
   policy, top 10) through TreeStoreClient against raw psycopg running the
   same SQL on a plain connection with the same settings (autocommit,
   psycopg's default prepare threshold), tuples instead of dataclasses.
   Each process holds both and runs them in alternating batches of about
   0.05 s on the same picks, so that both meet the same machine and load.
   Goal: client latency / raw latency <= 1.1.  1, 2, 4 and 8 client
   processes; the named lines are the 1-client ratios.
2. One reasoning case as the service runs it, through treestore.compat
   (ReasoningServiceClient), against the same case answered from the legacy
   tables (../shared/spec/legacy_schema.sql) with plain psycopg: temporal
   lookup, 3 searches (top 3), 10 get_node, 2 find_related_nodes, then 5
   tool results and a 5-step trajectory in one transaction.  Cases per
   second at 1 and 16 concurrent cases (processes).  Goal: treestore >= 2x.
   Then, for information, the same against the legacy tables given a
   stored tsvector column and its GIN index (a schema change the service
   would need): RESULT lines case_speedup_tsv_1 and _16.

The legacy side gets the indexes a careful DBA would add: the schema's
own, (policy_id, effective_date) on policy_versions, and a GIN index on the
weighted tsvector expression its search ranks by (title weight A; the
legacy schema stores no tsvector, so ranking recomputes it per candidate).
The legacy schema has no home for cross references, tool results or
trajectories: the benchmark adds native tables for them (primary keys, an
index on case_id) holding the same rows treestore holds.

Same for both: the corpus (test/bench/gen_corpus.py, BENCH_PY_POLICIES
policies x 2 versions), the durability (fsync, synchronous_commit and
treestore.synchronous_commit on: every commit durable), the cache
(shared_buffers = treestore.cache_size = BENCH_PY_CACHE), the warmth (legacy
tables and indexes prewarmed, treestore.nodes scanned whole, a warm-up pass
of every measurement on both sides), the Python and psycopg, one connection
per process.  Rounds alternate the two sides; the median round is reported.
Prints a table and "RESULT python <name> <value>" lines last.

  BENCH_PY_DIR            cluster directory (default /tmp/treestore-bench-python)
  BENCH_PY_PORT           port (default 5487; Unix socket only)
  BENCH_PY_POLICIES       policies (default 50: ~87,000 nodes)
  BENCH_PY_SECONDS        seconds per overhead measurement (default 3)
  BENCH_PY_CASE_SECONDS   seconds per case measurement (default 6)
  BENCH_PY_ROUNDS         rounds (default 5)
  BENCH_PY_CACHE          shared_buffers and treestore.cache_size (default 1GB)
  BENCH_PY_SEED           corpus and pick seed (default 1)
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "python" / "tests"), str(ROOT / "test" / "bench")]

import psycopg  # noqa: E402

import gen_corpus  # noqa: E402
from pgserver import PrivateServer  # noqa: E402
from treestore import TreeStoreClient, calls  # noqa: E402
from treestore.calls import rows_of  # noqa: E402
from treestore.models import builder  # noqa: E402
from treestore.compat import ReasoningServiceClient, ServiceNode, ServiceVersion  # noqa: E402

DIR = os.environ.get("BENCH_PY_DIR", "/tmp/treestore-bench-python")
PORT = int(os.environ.get("BENCH_PY_PORT", "5487"))
POLICIES = int(os.environ.get("BENCH_PY_POLICIES", "50"))
SECONDS = float(os.environ.get("BENCH_PY_SECONDS", "3"))
CASE_SECONDS = float(os.environ.get("BENCH_PY_CASE_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_PY_ROUNDS", "5"))
CACHE = os.environ.get("BENCH_PY_CACHE", "1GB")
SEED = int(os.environ.get("BENCH_PY_SEED", "1"))
OVERHEAD_CLIENTS = (1, 2, 4, 8)
CASE_CLIENTS = (1, 16)


def log(msg: str) -> None:
    print(f"bench-python: {msg}", file=sys.stderr, flush=True)


# --- the legacy side ----------------------------------------------------------------

DOC = ("setweight(to_tsvector('english', title), 'A') || to_tsvector('english',"
       " coalesce(summary, '') || ' ' || coalesce(text, ''))")
ANY_WORD = "to_tsquery('english', replace(plainto_tsquery('english', %(q)s)::text, '&', '|'))"

# The indexes, built after loading.
LEGACY_INDEXES = f"""
CREATE INDEX ON legacy.policy_versions (policy_id, effective_date);
CREATE INDEX legacy_nodes_fts ON legacy.policy_nodes USING gin (({DOC}));
"""

# What the legacy schema has no table for.
LEGACY_EXTRA_TABLES = """
CREATE TABLE legacy.cross_references (
    source_policy_id text, source_node_id text, target_policy_id text, target_node_id text,
    reference_type text, context text, confidence real, created_at timestamptz DEFAULT now(),
    PRIMARY KEY (source_policy_id, source_node_id, target_policy_id, target_node_id,
                 reference_type));
CREATE TABLE legacy.tool_results (
    result_id bigserial PRIMARY KEY, case_id text, criterion_id text, tool_name text,
    policy_id text, version_id text, node_id text, input jsonb, output jsonb, success bool,
    error_message text, latency_ms float8, created_at timestamptz DEFAULT now());
CREATE INDEX ON legacy.tool_results (case_id);
CREATE TABLE legacy.trajectories (
    case_id text, trajectory_id text, step_number int, tool_name text, action text,
    thought text, observation text, created_at timestamptz DEFAULT now(),
    PRIMARY KEY (case_id, trajectory_id, step_number));
"""

# Reads every legacy table and index into shared_buffers.
PREWARM_LEGACY = ("SELECT pg_prewarm(c.oid) FROM pg_class c JOIN pg_namespace s"
                  " ON s.oid = c.relnamespace WHERE s.nspname = 'legacy'"
                  " AND c.relkind IN ('r', 'i')")

NODE_COLS = ("n.node_id, n.title, n.section_path,"
             " CASE WHEN n.page_start IS NOT NULL THEN"
             " ARRAY(SELECT generate_series(n.page_start, coalesce(n.page_end, n.page_start)))"
             " WHEN n.page_index IS NOT NULL THEN ARRAY[n.page_index] ELSE '{}' END,"
             " n.summary, n.parent_id, '{}'::text[], '{}'::text[], n.text")


# The legacy side builds the same dataclasses the same way as treestore.compat.
NODE_ROWS = rows_of(ServiceNode)
VERSION_ROWS = rows_of(ServiceVersion)
_build_node = builder(ServiceNode)


def _related_row(reason: str, *cols: Any) -> tuple[ServiceNode, str]:
    return _build_node(*cols), reason


RELATED_ROWS = psycopg.rows.args_row(_related_row)


class LegacyService:
    """The reasoning-service's tool-layer protocol over the legacy tables,
    with the SQL a competent engineer would write: one statement per call."""

    VERSION = (
        "WITH v AS (SELECT policy_id, version_id, effective_date::date AS eff, pageindex_doc_id,"
        " lag(version_id) OVER w AS prev, lead(effective_date::date) OVER w AS next_eff"
        " FROM legacy.policy_versions WHERE policy_id = %(p)s"
        " WINDOW w AS (ORDER BY effective_date, version_id))"
        " SELECT v.policy_id, v.version_id, to_char(v.eff, 'YYYY-MM-DD'),"
        " to_char(v.next_eff, 'YYYY-MM-DD'), v.pageindex_doc_id, v.prev,"
        " ARRAY(SELECT n.node_id FROM legacy.policy_nodes n WHERE n.policy_id = v.policy_id"
        " AND n.version_id = v.version_id ORDER BY n.node_id)"
        " FROM v WHERE v.eff <= %(d)s ORDER BY v.eff DESC LIMIT 1")
    SEARCH = (f"SELECT {NODE_COLS} FROM legacy.policy_nodes n, {ANY_WORD} q"
              f" WHERE n.policy_id = %(p)s AND n.version_id = %(v)s AND (@DOC@) @@ q"
              f" ORDER BY ts_rank((@DOC@), q) DESC, n.node_id LIMIT %(k)s")
    NODE = (f"SELECT {NODE_COLS} FROM legacy.policy_nodes n WHERE n.policy_id = %(p)s"
            " AND n.version_id = %(v)s AND n.node_id = %(n)s LIMIT 1")
    RELATED = (
        f"WITH anchor AS (SELECT n.node_id, ts_rank((@DOC@), q) AS score,"
        f" row_number() OVER (ORDER BY ts_rank((@DOC@), q) DESC, n.node_id) AS rank"
        f" FROM legacy.policy_nodes n, {ANY_WORD} q WHERE n.policy_id = %(p)s"
        f" AND n.version_id = %(v)s AND (@DOC@) @@ q ORDER BY 3 LIMIT %(k)s),"
        " related AS ("
        " SELECT a.rank, 0 AS sub, %(p)s::text AS policy_id, a.node_id,"
        " format('matches criterion %%s (score %%s)', %(crit)s::text,"
        " round(a.score::numeric, 2)) AS reason FROM anchor a"
        " UNION ALL SELECT a.rank, row_number() OVER (PARTITION BY a.rank"
        " ORDER BY x.confidence DESC NULLS LAST, x.target_policy_id, x.target_node_id),"
        " x.target_policy_id, x.target_node_id,"
        " format('%%s from %%s%%s', x.reference_type, a.node_id, ': ' || x.context)"
        " FROM anchor a JOIN legacy.cross_references x ON x.source_policy_id = %(p)s"
        " AND x.source_node_id = a.node_id),"
        " firsts AS (SELECT DISTINCT ON (r.policy_id, r.node_id) r.* FROM related r"
        " ORDER BY r.policy_id, r.node_id, r.rank, r.sub)"
        f" SELECT f.reason, {NODE_COLS} FROM firsts f JOIN legacy.policy_nodes n"
        " ON n.policy_id = f.policy_id AND n.node_id = f.node_id AND n.version_id = %(v)s"
        " ORDER BY f.rank, f.sub LIMIT %(k)s")
    TOOL_RESULT = ("INSERT INTO legacy.tool_results (case_id, tool_name, output, input,"
                   " criterion_id, policy_id, version_id, latency_ms)"
                   " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING result_id")
    TRAJECTORY = ("INSERT INTO legacy.trajectories (case_id, trajectory_id, step_number,"
                  " tool_name, action, thought, observation)"
                  " SELECT %s, gen_random_uuid()::text, s.step_number, s.tool_name, s.action,"
                  " s.thought, s.observation FROM jsonb_to_recordset(%s::jsonb) AS"
                  " s(step_number int, tool_name text, action text, thought text,"
                  " observation text)")

    def __init__(self, dsn: str, doc: str = DOC) -> None:
        """``doc``: the tsvector searched and ranked (an expression of the
        row, or the stored column of the variant that has one)."""
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.search_sql = self.SEARCH.replace("@DOC@", doc)
        self.related_sql = self.RELATED.replace("@DOC@", doc)

    def close(self) -> None:
        self.conn.close()

    def get_version_as_of(self, policy_id: str, as_of_date: str) -> ServiceVersion | None:
        with self.conn.cursor(row_factory=VERSION_ROWS) as cur:
            cur.execute(self.VERSION, {"p": policy_id, "d": dt.date.fromisoformat(as_of_date)})
            return cur.fetchone()

    def get_node(self, policy_id: str, version_id: str, node_id: str) -> ServiceNode | None:
        with self.conn.cursor(row_factory=NODE_ROWS) as cur:
            cur.execute(self.NODE, {"p": policy_id, "v": version_id, "n": node_id})
            return cur.fetchone()

    def search_nodes(self, policy_id: str, query: str, version_id: str,
                     top_k: int = 3) -> tuple[str, list[ServiceNode]]:
        with self.conn.cursor(row_factory=NODE_ROWS) as cur:
            cur.execute(self.search_sql, {"p": policy_id, "v": version_id, "q": query, "k": top_k})
            return version_id, cur.fetchall()

    def find_related_nodes(self, policy_id: str, version_id: str, criterion_id: str,
                           tokens: list[str], limit: int = 5) -> list[tuple[ServiceNode, str]]:
        with self.conn.cursor(row_factory=RELATED_ROWS) as cur:
            cur.execute(self.related_sql, {"p": policy_id, "v": version_id, "q": " ".join(tokens),
                                       "k": limit, "crit": criterion_id})
            return cur.fetchall()

    def record(self, case_id: str, results: list[dict[str, Any]],
               steps: list[dict[str, Any]]) -> None:
        from psycopg.types.json import Jsonb
        with self.conn.transaction(), self.conn.cursor() as cur:
            for r in results:
                cur.execute(self.TOOL_RESULT, (case_id, r["tool"], Jsonb(r["output"]),
                                               Jsonb(r["input"]), "crit-1", r["policy_id"],
                                               r["version_id"], r["latency_ms"]))
                cur.fetchone()
            cur.execute(self.TRAJECTORY, (case_id, Jsonb(steps)))


class TreeStoreService:
    """The same protocol through treestore.compat; records through the
    client's transaction()."""

    def __init__(self, dsn: str) -> None:
        self.svc = ReasoningServiceClient(dsn=dsn, min_size=1, max_size=1)
        self.get_version_as_of = self.svc.get_version_as_of
        self.get_node = self.svc.get_node
        self.search_nodes = self.svc.search_nodes
        self.find_related_nodes = self.svc.find_related_nodes

    def close(self) -> None:
        self.svc.close()

    def record(self, case_id: str, results: list[dict[str, Any]],
               steps: list[dict[str, Any]]) -> None:
        ts = self.svc.client
        with ts.transaction():
            for r in results:
                ts.store_tool_result(case_id, r["tool"], r["output"], input=r["input"],
                                     criterion_id="crit-1", policy_id=r["policy_id"],
                                     version_id=r["version_id"], latency_ms=r["latency_ms"])
            ts.store_trajectory(case_id, steps)


# --- the case ------------------------------------------------------------------------

def case_picks(seed: int, policies: list[str]) -> list[tuple[str, str, list[str]]]:
    rng = random.Random(seed)
    today = dt.date.today()
    span = (today - dt.date(2023, 7, 1)).days
    return [(rng.choice(policies),
             (dt.date(2023, 7, 1) + dt.timedelta(days=rng.randrange(span))).isoformat(),
             rng.sample(gen_corpus.QUERIES, 3)) for _ in range(5000)]


def run_case(svc: Any, pick: tuple[str, str, list[str]], rng: random.Random, n: int) -> None:
    policy, day, queries = pick
    results: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []

    def note(tool: str, started: float, inp: dict[str, Any], out: Any, version: str) -> None:
        results.append({"tool": tool, "input": inp, "output": out, "policy_id": policy,
                        "version_id": version, "latency_ms": (time.perf_counter() - started) * 1e3})
        steps.append({"step_number": len(steps) + 1, "tool_name": tool, "action": tool,
                      "thought": f"step {len(steps) + 1}", "observation": json.dumps(out)[:200]})

    t = time.perf_counter()
    version = svc.get_version_as_of(policy, day)
    assert version is not None, (policy, day)
    vid = version.version_id
    note("temporal_lookup", t, {"as_of": day}, {"version_id": vid}, vid)
    for q in queries:
        t = time.perf_counter()
        _, hits = svc.search_nodes(policy, q, vid, 3)
        if q is queries[0]:
            note("pi_search", t, {"query": q}, [h.node_id for h in hits], vid)
    t = time.perf_counter()
    got = [svc.get_node(policy, vid, i) for i in rng.sample(version.node_ids, 10)]
    assert all(g is not None for g in got)
    note("get_node", t, {"n": 10}, [g.node_id for g in got], vid)
    for q in queries[:2]:
        t = time.perf_counter()
        related = svc.find_related_nodes(policy, vid, "crit-1", q.split(), 5)
    note("policy_xref", t, {"tokens": q}, [[node.node_id, r] for node, r in related], vid)
    note("decide", time.perf_counter(), {}, {"status": "ready"}, vid)
    svc.record(f"bench-{os.getpid()}-{n}", results, steps)


# --- measuring in processes ---------------------------------------------------------

def _worker(sides: list[tuple[Callable[[], Any], Callable[[Any, int], None]]], start: Any,
            seconds: float, warm: int, out: Any, slot: int) -> None:
    """One process: makes each side's client, warms it, waits for the
    others, then runs for ``seconds``.  One side: call after call.  Several:
    in turns of PAIR_BATCH_SECONDS, the first of each turn setting how many
    operations (on the same picks) the others run; the first side turns with
    every batch.  Puts [(operations, seconds)] per side on ``out``."""
    objs = [make() for make, _ in sides]
    gc.freeze()  # the picks and set-up: out of the collector's way for every side
    try:
        for (_, op), obj in zip(sides, objs):
            for i in range(warm):  # warm this connection (and its prepared statements)
                op(obj, slot * 100_000 + i)
        start.wait()
        spent = [0.0] * len(sides)
        done = [0] * len(sides)
        i, batch = slot * 100_000 + warm, 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            order = list(range(len(sides)))
            order = order[batch % len(order):] + order[:batch % len(order)]
            n = 0
            for s in order:
                op, obj = sides[s][1], objs[s]
                t0 = time.perf_counter()
                if n == 0:
                    while time.perf_counter() - t0 < PAIR_BATCH_SECONDS:
                        op(obj, i + n)
                        n += 1
                else:
                    for k in range(n):
                        op(obj, i + k)
                spent[s] += time.perf_counter() - t0
                done[s] += n
            i += n
            batch += 1
        out.put(list(zip(done, spent)))
    except BaseException as exc:  # noqa: BLE001 -- reported by the parent
        out.put(exc)
        raise
    finally:
        for obj in objs:
            obj.close()


PAIR_BATCH_SECONDS = 0.05


def measure(sides: list[tuple[Callable[[], Any], Callable[[Any, int], None]]],
            clients: int, seconds: float, warm: int = 20) -> list[tuple[float, float]]:
    """(operations per second, mean latency in ms) of each side, run by
    ``clients`` processes at once (``_worker``), each after ``warm``
    operations of each side.  Sides measured together
    are interleaved in each process in batches of about PAIR_BATCH_SECONDS:
    they see the same picks, machine and load.  (Batches, not single calls:
    the treestore worker spins for the next request only while one session
    alone is sending them, and two sessions taking turns call by call would
    never be alone.)"""
    ctx = mp.get_context("fork")
    start = ctx.Barrier(clients + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(sides, start, seconds, warm, out, s))
             for s in range(clients)]
    for p in procs:
        p.start()
    start.wait(timeout=300)
    got = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    errors = [g for g in got if isinstance(g, BaseException)]
    if errors:
        raise errors[0]
    result = []
    for s in range(len(sides)):
        per_proc = [g[s] for g in got]
        assert all(n > 0 for n, _ in per_proc)
        result.append((sum(n / el for n, el in per_proc),
                       statistics.mean(el / n * 1e3 for n, el in per_proc)))
    return result


# --- set-up ----------------------------------------------------------------------------

def flatten(tree: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    stack = [(n, None, None) for n in reversed(tree["structure"])]
    while stack:
        node, parent, path = stack.pop()
        section = node["title"] if path is None else f"{path} > {node['title']}"
        body = {k: v for k, v in node.items() if k not in ("node_id", "nodes")}
        rows.append((node["node_id"], parent, section, node["title"], node.get("start_index"),
                     node.get("end_index"), node.get("summary"), node.get("text"),
                     hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()))
        stack.extend((c, node["node_id"], section) for c in reversed(node.get("nodes", [])))
    return rows


def load(server: PrivateServer, corpus: Path) -> tuple[list[str], int]:
    dsn = server.dsn()
    legacy_sql = ROOT / "test" / "data" / "legacy_schema.sql"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_prewarm")
        conn.execute("CREATE SCHEMA legacy")
        conn.execute("SET search_path = legacy")
        conn.execute(legacy_sql.read_text())
        conn.execute("RESET search_path")
        conn.execute(LEGACY_EXTRA_TABLES)
    rng = random.Random(SEED)
    policies: list[str] = []
    xrefs: list[tuple[Any, ...]] = []
    nodes = 0
    t_ts = t_legacy = 0.0
    with TreeStoreClient(dsn, max_size=1) as ts, psycopg.connect(dsn, autocommit=True) as conn:
        for line in open(corpus / "corpus.jsonl"):
            v = json.loads(line)
            p, vid, eff, tree = v["policy_id"], v["version_id"], v["effective_from"], v["tree"]
            if p not in policies:
                policies.append(p)
            t = time.perf_counter()
            nodes += ts.store_document(p, vid, tree, effective_from=eff)
            t_ts += time.perf_counter() - t
            rows = flatten(tree)
            t = time.perf_counter()
            with conn.transaction():
                conn.execute("INSERT INTO legacy.policy_versions (policy_id, version_id,"
                             " pageindex_doc_id, pdf_sha256, markdown_ptr, tree_json_ptr,"
                             " effective_date) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                             (p, vid, f"doc-{p}-{vid}", "0" * 64, f"s3://md/{p}/{vid}",
                              f"s3://tree/{p}/{vid}", eff))
                with conn.cursor().copy(
                        "COPY legacy.policy_nodes (policy_id, version_id, node_id, parent_id,"
                        " section_path, title, page_start, page_end, summary, text, content_hash)"
                        " FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row((p, vid, *r))
            t_legacy += time.perf_counter() - t
            ids = [r[0] for r in rows]
            for _ in range(len(ids) // 10):  # cross references: one per ten nodes
                xrefs.append((p, rng.choice(ids), p, rng.choice(ids), "see_also",
                              "related section", round(rng.random(), 2)))
        log(f"loaded {nodes} nodes: treestore {t_ts:.1f} s, legacy {t_legacy:.1f} s")
        xrefs = list({x[:5]: x for x in xrefs}.values())
        with conn.cursor().copy("COPY legacy.cross_references (source_policy_id, source_node_id,"
                                " target_policy_id, target_node_id, reference_type, context,"
                                " confidence) FROM STDIN") as cp:
            for x in xrefs:
                cp.write_row(x)
        conn.execute("INSERT INTO treestore.cross_references (source_policy_id, source_node_id,"
                     " target_policy_id, target_node_id, reference_type, context, confidence)"
                     " SELECT source_policy_id, source_node_id, target_policy_id, target_node_id,"
                     " reference_type, context, confidence FROM legacy.cross_references")
        conn.execute("UPDATE treestore.versions t SET pageindex_doc_id = l.pageindex_doc_id"
                     " FROM legacy.policy_versions l WHERE l.policy_id = t.policy_id"
                     " AND l.version_id = t.version_id")
        log("building the legacy indexes")
        conn.execute(LEGACY_INDEXES)
        conn.execute("VACUUM ANALYZE")
        conn.execute(PREWARM_LEGACY)
        conn.execute("SELECT count(*) FROM treestore.nodes")
        conn.execute("SELECT count(*) FROM treestore.cross_references")
    return policies, nodes


def check_answers(dsn: str, picks: list[tuple[str, str, list[str]]]) -> int:
    """Versions and nodes agree on both sides (search ranks differ: BM25
    against ts_rank, so only their shape is compared)."""
    legacy, tree = LegacyService(dsn), TreeStoreService(dsn)
    checked = 0
    try:
        for policy, day, queries in picks[:40]:
            a, b = legacy.get_version_as_of(policy, day), tree.get_version_as_of(policy, day)
            assert a is not None and b is not None and a == b, (policy, day, a, b)
            for node_id in a.node_ids[:: max(1, len(a.node_ids) // 5)]:
                na = legacy.get_node(policy, a.version_id, node_id)
                nb = tree.get_node(policy, a.version_id, node_id)
                assert na == nb, (policy, node_id, na, nb)
                checked += 1
            la = legacy.search_nodes(policy, queries[0], a.version_id)[1]
            lb = tree.search_nodes(policy, queries[0], a.version_id)[1]
            assert len(la) == len(lb) == 3
    finally:
        legacy.close()
        tree.close()
    return checked


def main() -> None:
    started = time.monotonic()
    corpus = Path(DIR) / "corpus"
    server = PrivateServer(DIR, PORT, settings={
        "fsync": "on", "synchronous_commit": "on", "treestore.synchronous_commit": "on",
        "shared_buffers": CACHE, "treestore.cache_size": CACHE})
    log("starting PostgreSQL")
    server.start()
    try:
        subprocess.run(["/usr/bin/python3", str(ROOT / "test" / "bench" / "gen_corpus.py"),
                        "--out", str(corpus), "--policies", str(POLICIES), "--seed", str(SEED)],
                       check=True, stdout=sys.stderr)
        policies, nodes = load(server, corpus)
        dsn = server.dsn()
        picks = case_picks(SEED, policies)
        log(f"answers checked on both sides: {check_answers(dsn, picks)} nodes")
        report(dsn, nodes, picks, corpus)
    finally:
        server.stop()
        log(f"done in {time.monotonic() - started:.0f} s")


def tsv(path: Path) -> list[list[str]]:
    return [line.rstrip("\n").split("\t")[1:] for line in open(path)]


def report(dsn: str, nodes: int, picks: list[tuple[str, str, list[str]]], corpus: Path) -> None:
    node_picks = tsv(corpus / "picks_ancestors.tsv")
    subtree_picks = tsv(corpus / "picks_subtree.tsv")
    search_picks = tsv(corpus / "picks_search_policy.tsv")
    sql = {"get_node": calls.get_node("", "", version_id=None, as_of=None).sql,
           "get_subtree": calls.get_subtree("", "", max_depth=None, version_id=None,
                                            as_of=None).sql,
           "search": calls.search_nodes("", policy_id="", version_id=None, as_of=None,
                                        top_k=10).sql}

    def raw_op(kind: str) -> Callable[[Any, int], None]:
        def op(conn: Any, i: int) -> None:
            if kind == "get_node":
                p, n = node_picks[i % len(node_picks)]
                params = {"p": p, "n": n, "v": None, "as_of": None}
            elif kind == "get_subtree":
                p, n = subtree_picks[i % len(subtree_picks)]
                params = {"p": p, "n": n, "d": None, "v": None, "as_of": None}
            else:
                p, q = search_picks[i % len(search_picks)]
                params = {"q": q, "p": p, "v": None, "as_of": None, "k": 10}
            with conn.cursor() as cur:
                cur.execute(sql[kind], params)
                cur.fetchall()
        return op

    def client_op(kind: str) -> Callable[[Any, int], None]:
        def op(ts: Any, i: int) -> None:
            if kind == "get_node":
                p, n = node_picks[i % len(node_picks)]
                ts.get_node(p, n)
            elif kind == "get_subtree":
                p, n = subtree_picks[i % len(subtree_picks)]
                ts.get_subtree(p, n)
            else:
                p, q = search_picks[i % len(search_picks)]
                ts.search_nodes(q, policy_id=p, top_k=10)
        return op

    def make_raw() -> Any:
        return psycopg.connect(dsn, autocommit=True)

    def make_client() -> Any:
        return TreeStoreClient(dsn, min_size=1, max_size=1)

    print(f"# bench-python: {POLICIES} policies, {2 * POLICIES} versions, {nodes} nodes "
          f"(gen_corpus seed {SEED}); fsync, synchronous_commit, treestore.synchronous_commit on;"
          f" shared_buffers = treestore.cache_size = {CACHE}; warm; psycopg "
          f"{psycopg.__version__} ({psycopg.pq.__impl__}); {ROUNDS} rounds, median;"
          f" {os.cpu_count()} CPUs")
    results: dict[str, float] = {}
    print("\n## client overhead: latency through TreeStoreClient / raw psycopg, same SQL")
    print(f"{'operation':<12} {'clients':>7} {'raw ms':>9} {'client ms':>10} {'ratio':>7}"
          f"  {'rounds':>13}")
    for kind in ("get_node", "get_subtree", "search"):
        for clients in OVERHEAD_CLIENTS:
            ratios, raws, cls = [], [], []
            for _ in range(ROUNDS):
                (_, raw), (_, client) = measure([(make_raw, raw_op(kind)),
                                                 (make_client, client_op(kind))], clients, SECONDS)
                ratios.append(client / raw)
                raws.append(raw)
                cls.append(client)
            ratio = statistics.median(ratios)
            print(f"{kind:<12} {clients:>7} {statistics.median(raws):>9.3f} "
                  f"{statistics.median(cls):>10.3f} {ratio:>7.3f}  "
                  f"{min(ratios):.3f}-{max(ratios):.3f}", flush=True)
            results[f"overhead_{kind}" + ("" if clients == 1 else f"_c{clients}")] = ratio

    def case_op(svc: Any, i: int) -> None:
        rng = random.Random(i)
        run_case(svc, picks[i % len(picks)], rng, i)

    def cases(title: str, legacy_doc: str, suffix: str) -> None:
        print(f"\n## {title} (cases/s)")
        print(f"{'clients':>7} {'legacy':>9} {'treestore':>10} {'speedup':>8}  {'rounds':>11}")
        for clients in CASE_CLIENTS:
            speedups, leg, tre = [], [], []
            for r in range(ROUNDS):
                sides = [("legacy", lambda: LegacyService(dsn, legacy_doc)),
                         ("treestore", lambda: TreeStoreService(dsn))]
                rate = {}
                for name, make in (sides if r % 2 == 0 else sides[::-1]):
                    rate[name] = measure([(make, case_op)], clients, CASE_SECONDS, warm=3)[0][0]
                speedups.append(rate["treestore"] / rate["legacy"])
                leg.append(rate["legacy"])
                tre.append(rate["treestore"])
            s = statistics.median(speedups)
            print(f"{clients:>7} {statistics.median(leg):>9.1f} {statistics.median(tre):>10.1f} "
                  f"{s:>8.2f}  {min(speedups):.2f}-{max(speedups):.2f}", flush=True)
            results[f"case_speedup{suffix}_{clients}"] = s
            results[f"case_legacy{suffix}_{clients}_per_s"] = statistics.median(leg)
            results[f"case_treestore{suffix}_{clients}_per_s"] = statistics.median(tre)

    cases("one reasoning case: treestore.compat against the legacy tables", DOC, "")
    # For information: the legacy tables given what their search lacks, a
    # stored tsvector column (a schema change the service would have to make).
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE legacy.policy_nodes ADD COLUMN tsv tsvector"
                     f" GENERATED ALWAYS AS ({DOC}) STORED")
        conn.execute("CREATE INDEX legacy_nodes_tsv ON legacy.policy_nodes USING gin (tsv)")
        conn.execute("VACUUM ANALYZE legacy.policy_nodes")
        conn.execute(PREWARM_LEGACY)
    cases("for information: the legacy tables with a stored tsvector column added", "n.tsv",
          "_tsv")
    print()
    for name, value in results.items():
        print(f"RESULT python {name} {value:.3f}")


if __name__ == "__main__":
    main()
