#!/usr/bin/python3
"""
soak.py -- the whole-system soak of treestore_fdw (issue 12): a real
PostgreSQL 15 cluster under a mixed load and faults, an oracle of every
acknowledged write, a disk that fills up, and a fuzz of the SQL surface.

It reuses test/pg_crash/test_pg_crash.py (imported as a module): its Cluster
(a private cluster under /tmp/tscrash-*, initdb as user postgres, unix socket
only, fsync on, shared_preload_libraries=treestore_fdw), report()/note(),
health waits, the postmaster kill and the server-log check.

Phases, each check a TAP-like "ok"/"not ok" line:

1. load + faults.  CLIENTS psycopg threads run for SECONDS, split in periods
   of PERIOD seconds.  Each client owns its keys (so the expected state of a
   key is decided by that client's own commits alone) and runs transactions:
   short writes; long ones (several statements with pauses); savepoints with
   ROLLBACK TO; explicit ROLLBACK; read transactions.  Writes: store_document
   of a small generated PageIndex tree (policy 'soak-<c>-<n>', one version),
   delete_document, INSERT/UPDATE/DELETE on treestore.tool_results (case_id
   'soak', output {"tag": <transaction tag>}), store_tool_result, INSERT and
   UPDATE/DELETE on treestore.trajectories (case_id 'soak', thought = tag).
   Each client keeps at most 12 documents, 60 tool results and 40
   trajectory steps alive (past a cap it deletes instead of inserting), so
   the data reaches a steady state within the first period.  Reads
   call every query function (get_node, get_children, get_subtree,
   get_ancestors, nodes_by_page, version_as_of, list_versions,
   get_cross_references, search, get_document, and a foreign-table SELECT)
   on the client's own acknowledged keys and check the answers against the
   oracle (node counts, children, ancestors, the marker word found by
   search, the tag of a tool result).  Cancels: a canceller thread runs
   pg_cancel_backend on a random busy client now and then, and a few reads
   run under SET LOCAL statement_timeout = 1ms.  The clients set no
   statement_timeout otherwise: the extension's own bounds end every call.
   Faults: the treestore worker (backend_type 'treestore') gets SIGKILL at the
   end of every period but the last (the postmaster restarts the cluster),
   SIGTERM SIGTERMS times and the postmaster SIGKILL POSTMASTER_KILLS times,
   at random points inside the periods between the first and the last.
   After each fault: the cluster is back (health 'ok') in time, the load is
   paused at transaction boundaries and the oracle is checked, then resumed.

   The oracle: every write is tagged with its transaction.  A transaction
   whose COMMIT returned is acknowledged; one that failed, was rolled back
   (or its savepoint rolled back) must leave nothing; one whose COMMIT lost
   its connection is in doubt and must be all-or-nothing (its keys are then
   frozen: the client never touches them again).  A check reads every 'soak'
   row of tool_results, trajectories and versions and compares: 0
   acknowledged writes lost, 0 writes of failed transactions visible, every
   in-doubt transaction all or nothing.

   Client errors: only connection loss, shutdown/crash/startup (57P01-3),
   cancels (57014), serialization (40001) are expected; any other SQLSTATE
   fails the run.

   Worker memory: at the end of every period (just before that period's
   worker kill) every table is read once (filling the engine's page cache,
   set to 8 MB, less than the data written in one period) and then the
   worker's VmRSS (/proc/<pid>/status) and treestore.stats()->'memory' are
   sampled.  Like is compared with like: the worker of the first period
   (started just before the load) and that of the last (started by the kill
   ending the previous period) each ran about one period under the same
   load, and no other fault falls in the first or the last period; the last
   sample waits (at most a period) until the last worker is as old as the
   first was at its sample, since faults and checks delay the schedule.
   rss_end (last period) must be at most 110% of rss_start (first period).

2. fuzz (FUZZ_SECONDS): one connection calls store_document with random and
   hostile jsonb (deep nesting, huge strings, wrong types, unicode, control
   characters, out-of-range numbers, duplicate node_ids, ...), every
   treestore.* function with random arguments (NULLs, empty, huge strings,
   negative/huge ints, odd dates) and foreign-table writes with such values
   (tool_results, trajectories, prompts, nodes, cross_references).  No statement_timeout: a call taking over
   HANG seconds fails the run (it is then cancelled).  Every error must carry
   a clear SQLSTATE (never class XX, never a lost connection); the worker
   keeps its pid.  Each XX error is listed with its call.

3. final: the load's oracle checked once more, the cluster stopped,
   treestore-check <data>/treestore exits 0, the server log has no PANIC,
   TRAP or crash by signal 6/7/11.

4. ENOSPC: a tmpfs of ENOSPC_MB is mounted by the test (root only; else a
   "# SKIP" line that counts as neither passed nor failed), a ballast file
   fills part of it, and the cluster is restarted with
   treestore.data_directory on it.  Writers store documents until writes
   fail: every error must be 53100 (disk full) or, for the requests after the
   engine gave up, 58030; the worker must not crash.  Then the ballast is
   removed: writes resume by themselves within a minute (the worker restarts
   itself once space is freed, src/worker.c), every acknowledged write is
   present, and treestore-check of the small engine directory is clean.

Output: TAP-like lines, "RESULT soak <name> <value>" lines (transactions,
errors_<SQLSTATE>, kills_survived, acked_writes_checked, rss_start_kb,
rss_end_kb, ...) and last "N passed, N failed"; exit status 1 on failure.

Environment (defaults: the full soak of `make soak`; `make test-soak` runs
TS_SOAK_CLIENTS=16 TS_SOAK_SECONDS=120 TS_SOAK_PERIOD=30 TS_SOAK_POSTMASTER_KILLS=1
TS_SOAK_FUZZ_SECONDS=15):
  TS_SOAK_CLIENTS           client threads                           (64)
  TS_SOAK_SECONDS           length of the load                       (600)
  TS_SOAK_PERIOD            seconds between worker SIGKILLs          (60)
  TS_SOAK_SIGTERMS          worker SIGTERMs                          (1)
  TS_SOAK_POSTMASTER_KILLS  postmaster SIGKILLs                      (2)
  TS_SOAK_FUZZ_SECONDS      fuzz time                                (60)
  TS_SOAK_HANG              seconds after which a fuzz call is a hang (60)
  TS_SOAK_ENOSPC            0: skip the ENOSPC phase                 (1)
  TS_SOAK_ENOSPC_MB         size of the tmpfs                        (48)
  TS_SOAK_SEED              random seed (default 20261208; printed)
  TS_SOAK_PORT              port of the private cluster              (5494)
  TS_SOAK_PGBIN             PostgreSQL binaries (else `$PG_CONFIG --bindir`,
                            else /usr/lib/postgresql/15/bin)
  TS_SOAK_CHECK             treestore-check (build/treestore-check)
  TS_SOAK_RECOVERY_TIMEOUT  seconds to wait for health 'ok'          (90)
  TS_SOAK_KEEP=1            keep the temporary directory
Run as root (the server then runs as user postgres) with /usr/bin/python3.
"""

import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "pg_crash"))
import test_pg_crash as pgc  # noqa: E402  (Cluster, report, note, ...)
import psycopg  # noqa: E402
from psycopg.types.string import TextLoader  # noqa: E402

env_int = pgc.env_int


def default_pgbin():
    if os.environ.get("TS_SOAK_PGBIN"):
        return os.environ["TS_SOAK_PGBIN"]
    if os.environ.get("PG_CONFIG"):
        try:
            return subprocess.run([os.environ["PG_CONFIG"], "--bindir"], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return "/usr/lib/postgresql/15/bin"


CLIENTS = env_int("TS_SOAK_CLIENTS", 64)
SECONDS = env_int("TS_SOAK_SECONDS", 600)
PERIOD = env_int("TS_SOAK_PERIOD", 60)
SIGTERMS = env_int("TS_SOAK_SIGTERMS", 1)
PM_KILLS = env_int("TS_SOAK_POSTMASTER_KILLS", 2)
FUZZ_SECONDS = env_int("TS_SOAK_FUZZ_SECONDS", 60)
HANG = env_int("TS_SOAK_HANG", 60)
ENOSPC = env_int("TS_SOAK_ENOSPC", 1)
ENOSPC_MB = env_int("TS_SOAK_ENOSPC_MB", 48)
SEED = env_int("TS_SOAK_SEED", 20261208)
KEEP = os.environ.get("TS_SOAK_KEEP", "") not in ("", "0")
RECOVERY_TIMEOUT = env_int("TS_SOAK_RECOVERY_TIMEOUT", 90)
CHECK = os.environ.get("TS_SOAK_CHECK", os.path.join(ROOT, "build", "treestore-check"))

# the shared helpers read these module globals
pgc.PGBIN = default_pgbin()
pgc.PORT = env_int("TS_SOAK_PORT", 5494)
report, note = pgc.report, pgc.note

# 08006 also when the treestore worker dies under a session
DOC_CAP, TR_CAP, TRAJ_CAP = 12, 60, 40     # live keys per client

EXPECTED = {"57P01", "57P02", "57P03", "57014", "40001", "08006", "08003", "08000"}
CONN_LOST = {"57P01", "57P02", "57P03"}

results = collections.OrderedDict()


def result(name, value):
    results[name] = value
    print("RESULT soak %s %s" % (name, value), flush=True)


def sqlstate(e):
    return getattr(getattr(e, "diag", None), "sqlstate", None) or getattr(e, "sqlstate", None)


def first_line(e, n=200):
    return (str(e).strip().split("\n") or [""])[0][:n]


# ---------------------------------------------------------------------------
# generated documents
# ---------------------------------------------------------------------------

WORDS = ("coverage rationale imaging therapy prior authorization lumbar spine "
         "exclusion definition member benefit clinical notes review criteria").split()


def gen_tree(rng, marker):
    """A small PageIndex tree; returns (tree, meta) with the answers the
    query functions must give."""
    counter = [0]
    meta = {"count": 0, "children0": 0, "leaf": None, "leaf_depth": 0, "marker": marker}

    def node(depth, page):
        nid = "%04d" % counter[0]
        counter[0] += 1
        n = {"title": " ".join(rng.choice(WORDS) for _ in range(3)).title(),
             "node_id": nid, "start_index": page, "end_index": page + rng.randint(0, 2),
             "summary": "%s %s" % (" ".join(rng.choice(WORDS) for _ in range(6)), marker),
             "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))}
        if depth > meta["leaf_depth"]:
            meta["leaf"], meta["leaf_depth"] = nid, depth
        if depth < 4 and counter[0] < 14 and rng.random() < 0.6:
            n["nodes"] = [node(depth + 1, page) for _ in range(rng.randint(1, 3))]
        return n

    structure = []
    for _ in range(rng.randint(1, 3)):
        structure.append(node(1, 1 + len(structure)))
    meta["count"] = counter[0]
    meta["children0"] = len(structure[0].get("nodes", []))
    return {"doc_name": "%s.pdf" % marker, "doc_description": "soak document",
            "structure": structure}, meta


def count_nodes(tree):
    def walk(ns):
        return sum(1 + walk(n.get("nodes", [])) for n in ns)
    return walk(tree.get("structure", []))


# ---------------------------------------------------------------------------
# the oracle
# ---------------------------------------------------------------------------


class Oracle:
    """Keys: ("tr", result_id), ("traj", step) and ("doc", policy_id); a
    value is the tag of the transaction that wrote it (the node count for a
    document), None when absent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}
        self.indoubt = []           # [(tag, {key: (pre, post)})]
        self.frozen = set()
        self.acked_writes = 0
        self.txn = collections.Counter()
        self.errors = collections.Counter()       # SQLSTATE -> count
        self.unexpected = collections.Counter()   # "state: message" -> count
        self.mismatches = []
        self.checked = 0

    def error(self, e, where):
        st = sqlstate(e)
        with self.lock:
            self.errors[st or "conn"] += 1
            if (st not in EXPECTED) if st else not isinstance(e, psycopg.OperationalError):
                self.unexpected["%s: %s (%s)" % (st, first_line(e), where)] += 1

    def mismatch(self, msg):
        with self.lock:
            self.txn["mismatch"] += 1
            if len(self.mismatches) < 50:
                self.mismatches.append(msg)

    def get(self, key):
        with self.lock:
            return self.state.get(key)

    def commit(self, writes):
        with self.lock:
            for k, v in writes.items():
                self.state[k] = v
            self.acked_writes += len(writes)
            self.txn["committed"] += 1

    def in_doubt(self, tag, writes):
        with self.lock:
            self.indoubt.append((tag, {k: (self.state.get(k), v) for k, v in writes.items()}))
            self.frozen.update(writes)
            self.txn["in_doubt"] += 1


def read_actual(conn):
    actual = {}
    for rid, tag in conn.execute(
            "SELECT result_id, output->>'tag' FROM treestore.tool_results WHERE case_id = 'soak'"):
        actual[("tr", rid)] = tag
    for step, tag in conn.execute(
            "SELECT step_number, thought FROM treestore.trajectories WHERE case_id = 'soak'"):
        actual[("traj", step)] = tag
    for pid, n in conn.execute(
            "SELECT policy_id, node_count FROM treestore.versions WHERE policy_id LIKE 'soak-%'"):
        actual[("doc", pid)] = n
    docs = {r[0] for r in conn.execute(
        "SELECT policy_id FROM treestore.documents WHERE policy_id LIKE 'soak-%'")}
    return actual, docs


def check_oracle(cluster, oracle, label):
    """Compare the database with the oracle (the load must be paused).
    First every prepared engine transaction must be settled (one whose
    COMMIT returned with "committed but not yet visible" is made visible by
    the worker within seconds)."""
    pgc.check_no_in_doubt(cluster, label, max(0, cluster.log_size() - 200000), timeout=30)
    try:
        with cluster.connect(timeout=10, autocommit=True) as conn:
            actual, docs = read_actual(conn)
    except Exception as e:
        report("%s: oracle (reading the tables)" % label, False, first_line(e, 400))
        return
    lost, ghost, partial = [], [], []
    with oracle.lock:
        doubt_keys = set()
        for tag, writes in oracle.indoubt:
            doubt_keys.update(writes)
        checked = 0
        for k, v in oracle.state.items():
            if k in doubt_keys:
                continue
            checked += 1
            if actual.get(k) != v:
                lost.append("%r: expected %r, found %r" % (k, v, actual.get(k)))
        for k, v in actual.items():
            if k not in oracle.state and k not in doubt_keys:
                ghost.append("%r = %r" % (k, v))
        for pid in docs:
            if oracle.state.get(("doc", pid)) is None and ("doc", pid) not in doubt_keys:
                ghost.append("documents row %s" % pid)
        resolved = collections.Counter()
        for tag, writes in oracle.indoubt:
            # a result_id the engine assigned to a transaction that then
            # aborted may be assigned again to another one: a row with that
            # id and another tag is not this transaction's write
            pre = all(actual.get(k) == p or (k[0] == "tr" and p is None and actual.get(k) != q)
                      for k, (p, q) in writes.items())
            post = all(actual.get(k) == q for k, (p, q) in writes.items())
            if post:
                resolved["committed"] += 1
                oracle.state.update({k: q for k, (p, q) in writes.items()})
            elif pre:
                resolved["aborted"] += 1    # the state already holds what is right
            else:
                partial.append("%s: %s" % (tag, ", ".join(
                    "%r pre %r post %r found %r" % (k, p, q, actual.get(k))
                    for k, (p, q) in writes.items())))
        oracle.indoubt = []
        oracle.checked = checked
        n_doubt = sum(resolved.values()) + len(partial)
    note("%s: %d keys checked, %d in-doubt transactions (%d committed, %d aborted)"
         % (label, checked, n_doubt, resolved["committed"], resolved["aborted"]))
    report("%s: 0 acknowledged writes lost (%d keys)" % (label, checked), not lost,
           "\n".join(lost[:20]) + ("\n... %d in all" % len(lost) if len(lost) > 20 else ""))
    report("%s: 0 writes of failed transactions visible" % label, not ghost,
           "\n".join(ghost[:20]) + ("\n... %d in all" % len(ghost) if len(ghost) > 20 else ""))
    report("%s: in-doubt transactions all-or-nothing (%d)" % (label, n_doubt), not partial,
           "\n".join(partial[:20]))


# ---------------------------------------------------------------------------
# the clients
# ---------------------------------------------------------------------------


class Gate:
    """Lets the main thread pause the clients at transaction boundaries."""

    def __init__(self):
        self.cv = threading.Condition()
        self.paused = False
        self.waiting = 0

    def boundary(self, stop):
        with self.cv:
            if not self.paused:
                return
            self.waiting += 1
            self.cv.notify_all()
            while self.paused and not stop.is_set():
                self.cv.wait(0.2)
            self.waiting -= 1

    def pause(self, clients, timeout=60):
        deadline = time.time() + timeout
        with self.cv:
            self.paused = True
            while time.time() < deadline:
                alive = sum(1 for c in clients if c.is_alive())
                if self.waiting >= alive:
                    return True
                self.cv.wait(0.2)
        return False

    def resume(self):
        with self.cv:
            self.paused = False
            self.cv.notify_all()


class TxnFailed(Exception):
    pass


class Client(threading.Thread):
    def __init__(self, cluster, oracle, gate, stop, index, seed, step_base):
        super().__init__(name="soak-%d" % index, daemon=True)
        self.cluster, self.oracle, self.gate, self.stop_ev = cluster, oracle, gate, stop
        self.c = index
        self.rng = random.Random(seed)
        self.conn = None
        self.seq = 0
        self.docs = {}          # policy_id -> meta of an acknowledged document
        self.trs = set()        # acknowledged live result_ids
        self.trajs = set()      # acknowledged live steps
        self.next_step = step_base
        self.busy = False

    # -- plumbing
    def drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def live(self, pool, kind, pending):
        keys = [k for k in pool if (kind, k) not in pending and (kind, k) not in self.oracle.frozen]
        return self.rng.choice(keys) if keys else None

    def run(self):
        while not self.stop_ev.is_set():
            self.gate.boundary(self.stop_ev)
            if self.stop_ev.is_set():
                break
            if self.conn is None:
                try:
                    self.conn = self.cluster.connect(timeout=3, application_name="soak-client")
                except psycopg.Error:
                    time.sleep(0.1 + self.rng.random() * 0.2)
                    continue
            try:
                self.transaction()
            except Exception as e:  # a harness bug: count it, go on
                self.oracle.unexpected["harness: %s" % traceback.format_exc().strip()
                                       .split("\n")[-1][:200]] += 1
                self.drop()
        self.drop()

    def ex(self, sql, params=None):
        return self.conn.execute(sql, params)

    # -- one transaction
    def transaction(self):
        self.seq += 1
        tag = "c%d-t%d" % (self.c, self.seq)
        r = self.rng.random()
        kind = ("read" if r < 0.35 else "short" if r < 0.75 else "long" if r < 0.85
                else "savepoint" if r < 0.95 else "rollback")
        writes = {}       # key -> value, in order
        doc_meta = {}
        self.busy = True
        try:
            if kind == "read":
                for _ in range(self.rng.randint(1, 4)):
                    self.read_op(writes)
            elif kind == "short":
                self.write_op(tag, writes, doc_meta)
            elif kind in ("long", "rollback"):
                for _ in range(self.rng.randint(2, 6)):
                    if self.rng.random() < 0.3:
                        self.read_op(writes)
                    else:
                        self.write_op(tag, writes, doc_meta)
                    if kind == "long":
                        time.sleep(self.rng.random() * 0.4)
            else:
                self.write_op(tag, writes, doc_meta)
                self.ex("SAVEPOINT s1")
                mark = dict(writes)
                for _ in range(self.rng.randint(1, 3)):
                    self.write_op(tag, writes, doc_meta)
                if self.rng.random() < 0.7:
                    self.ex("ROLLBACK TO SAVEPOINT s1")
                    writes = mark
                self.write_op(tag, writes, doc_meta)
        except TxnFailed:
            self.busy = False
            return
        except psycopg.Error as e:
            self.busy = False
            self.oracle.error(e, kind)
            self.oracle.txn["failed"] += 1
            if self.conn.closed or self.conn.broken:
                self.drop()
            else:
                try:
                    self.conn.rollback()
                except psycopg.Error:
                    self.drop()
            return
        if kind == "rollback" or (kind == "read" and self.rng.random() < 0.5):
            try:
                self.conn.rollback()
                self.oracle.txn["rolled_back"] += 1
            except psycopg.Error as e:
                self.oracle.error(e, "rollback")
                self.drop()
            self.busy = False
            return
        try:
            self.conn.commit()
        except psycopg.Error as e:
            self.busy = False
            self.oracle.error(e, "commit")
            st = sqlstate(e)
            if self.conn.closed or self.conn.broken or st is None or st in CONN_LOST \
                    or st.startswith("08"):
                if writes:
                    self.oracle.in_doubt(tag, writes)
                self.drop()
            else:
                self.oracle.txn["failed"] += 1
                try:
                    self.conn.rollback()
                except psycopg.Error:
                    self.drop()
            return
        self.busy = False
        self.oracle.commit(writes)
        for (k, key), v in writes.items():
            pool = {"doc": None, "tr": self.trs, "traj": self.trajs}[k]
            if k == "doc":
                if v is None:
                    self.docs.pop(key, None)
                else:
                    self.docs[key] = doc_meta[key]
            elif v is None:
                pool.discard(key)
            else:
                pool.add(key)

    def write_op(self, tag, writes, doc_meta):
        r = self.rng.random()
        # a steady state: past its caps a client deletes instead of inserting
        # (the data stops growing after the first period; see the RSS check)
        if r < 0.25 and len(self.docs) >= DOC_CAP:
            r = 0.27
        elif 0.30 <= r < 0.62 and len(self.trs) >= TR_CAP:
            r = 0.80
        elif 0.82 <= r < 0.93 and len(self.trajs) >= TRAJ_CAP:
            r = 0.995
        out = json.dumps({"tag": tag, "pad": "x" * self.rng.randint(0, 300)})
        if r < 0.25:
            pid = "soak-%d-%d" % (self.c, self.seq * 10 + len(writes))
            tree, meta = gen_tree(self.rng, "mk%dq%d" % (self.c, self.seq * 10 + len(writes)))
            n = self.ex("SELECT treestore.store_document(%s, 'v1', %s::jsonb, DATE '2024-01-01')",
                        (pid, json.dumps(tree))).fetchone()[0]
            if n != meta["count"]:
                self.oracle.mismatch("store_document %s returned %r, tree has %d nodes"
                                     % (pid, n, meta["count"]))
            writes[("doc", pid)] = meta["count"]
            doc_meta[pid] = meta
        elif r < 0.30:
            pid = self.live(self.docs, "doc", writes)
            if pid is None:
                return
            n = self.ex("SELECT treestore.delete_document(%s)", (pid,)).fetchone()[0]
            # rows removed: its nodes, its version and its documents row
            self.expect("delete_document(%s)" % pid, n, self.docs[pid]["count"] + 2)
            writes[("doc", pid)] = None
        elif r < 0.50:
            rid = self.ex("INSERT INTO treestore.tool_results (case_id, tool_name, output, success) "
                          "VALUES ('soak', 'soak', %s::jsonb, true) RETURNING result_id",
                          (out,)).fetchone()[0]
            writes[("tr", rid)] = tag
        elif r < 0.62:
            rid = self.ex("SELECT treestore.store_tool_result('soak', 'soak', %s::jsonb)",
                          (out,)).fetchone()[0]
            writes[("tr", rid)] = tag
        elif r < 0.75:
            rid = self.live(self.trs, "tr", writes)
            if rid is None:
                return
            n = self.ex("UPDATE treestore.tool_results SET output = %s::jsonb WHERE result_id = %s",
                        (out, rid)).rowcount
            if n != 1:
                self.oracle.mismatch("UPDATE tool_results %d: %r rows, expected 1" % (rid, n))
            writes[("tr", rid)] = tag
        elif r < 0.82:
            rid = self.live(self.trs, "tr", writes)
            if rid is None:
                return
            n = self.ex("DELETE FROM treestore.tool_results WHERE result_id = %s", (rid,)).rowcount
            if n != 1:
                self.oracle.mismatch("DELETE tool_results %d: %r rows, expected 1" % (rid, n))
            writes[("tr", rid)] = None
        elif r < 0.93:
            step = self.next_step
            self.next_step += 1
            self.ex("INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought) "
                    "VALUES ('soak', 'soak', %s, %s)", (step, tag))
            writes[("traj", step)] = tag
        elif r >= 0.99:
            step = self.live(self.trajs, "traj", writes)
            if step is None:
                return
            n = self.ex("DELETE FROM treestore.trajectories WHERE case_id = 'soak' "
                        "AND trajectory_id = 'soak' AND step_number = %s", (step,)).rowcount
            if n != 1:
                self.oracle.mismatch("DELETE trajectories %d: %r rows" % (step, n))
            writes[("traj", step)] = None
        else:
            step = self.live(self.trajs, "traj", writes)
            if step is None:
                return
            n = self.ex("UPDATE treestore.trajectories SET thought = %s WHERE case_id = 'soak' "
                        "AND trajectory_id = 'soak' AND step_number = %s", (tag, step)).rowcount
            if n != 1:
                self.oracle.mismatch("UPDATE trajectories %d: %r rows" % (step, n))
            writes[("traj", step)] = tag

    def expect(self, what, got, want):
        if got != want:
            self.oracle.mismatch("%s: got %r, expected %r" % (what, got, want))

    def read_op(self, writes):
        if self.rng.random() < 0.03:
            self.ex("SAVEPOINT st")
            try:
                self.ex("SET LOCAL statement_timeout = 1")
                self.ex("SELECT count(*) FROM treestore.nodes")
                self.ex("SET LOCAL statement_timeout = 0")
                self.ex("RELEASE SAVEPOINT st")
            except psycopg.Error as e:
                if sqlstate(e) != "57014" or self.conn.broken:
                    raise
                self.oracle.error(e, "statement_timeout")
                self.ex("ROLLBACK TO SAVEPOINT st")
                self.ex("SET LOCAL statement_timeout = 0")
            return
        r = self.rng.random()
        if r < 0.15 and self.trs:
            rid = self.live(self.trs, "tr", writes)
            if rid is not None:
                got = self.ex("SELECT output->>'tag' FROM treestore.tool_results WHERE result_id = %s",
                              (rid,)).fetchall()
                self.expect("tool_results %d" % rid, [g[0] for g in got],
                            [self.oracle.get(("tr", rid))])
            return
        if r < 0.22:
            self.ex("SELECT * FROM treestore.search(%s, top_k => 5)",
                    (self.rng.choice(WORDS),)).fetchall()
            return
        pid = self.live(self.docs, "doc", writes)
        if pid is None:
            return
        m = self.docs[pid]
        f = self.rng.randrange(10)
        q = self.ex
        if f == 0:
            self.expect("get_node(%s)" % pid, len(q("SELECT * FROM treestore.get_node(%s, '0000')",
                                                     (pid,)).fetchall()), 1)
        elif f == 1:
            self.expect("get_children(%s)" % pid, len(q(
                "SELECT * FROM treestore.get_children(%s, '0000')", (pid,)).fetchall()), m["children0"])
        elif f == 2:
            self.expect("get_subtree(%s)" % pid, q(
                "SELECT count(*) FROM treestore.get_subtree(%s)", (pid,)).fetchone()[0], m["count"])
        elif f == 3:
            self.expect("get_ancestors(%s, %s)" % (pid, m["leaf"]), q(
                "SELECT count(*) FROM treestore.get_ancestors(%s, %s)", (pid, m["leaf"])).fetchone()[0],
                m["leaf_depth"])      # the node and its ancestors
        elif f == 4:
            n = q("SELECT count(*) FROM treestore.nodes_by_page(%s, 1)", (pid,)).fetchone()[0]
            if n < 1:
                self.oracle.mismatch("nodes_by_page(%s, 1): no rows" % pid)
        elif f == 5:
            self.expect("version_as_of(%s)" % pid, q(
                "SELECT version_id FROM treestore.version_as_of(%s, DATE '2030-01-01')",
                (pid,)).fetchall(), [("v1",)])
        elif f == 6:
            self.expect("list_versions(%s)" % pid, q(
                "SELECT node_count FROM treestore.list_versions(%s)", (pid,)).fetchall(), [(m["count"],)])
        elif f == 7:
            q("SELECT * FROM treestore.get_cross_references(%s, direction => 'incoming')",
              (pid,)).fetchall()
        elif f == 8:
            got = q("SELECT count(*) FROM treestore.search(%s, %s)", (m["marker"], pid)).fetchone()[0]
            if got < 1:
                self.oracle.mismatch("search(%s, %s): no rows" % (m["marker"], pid))
        else:
            doc = q("SELECT treestore.get_document(%s, include_text => true)", (pid,)).fetchone()[0]
            self.expect("get_document(%s) nodes" % pid, count_nodes(doc or {}), m["count"])


class Canceller(threading.Thread):
    def __init__(self, cluster, clients, stop, rng):
        super().__init__(name="canceller", daemon=True)
        self.cluster, self.clients, self.stop_ev, self.rng = cluster, clients, stop, rng
        self.cancels = 0

    def run(self):
        conn = None
        while not self.stop_ev.wait(0.5 + self.rng.random() * 2):
            try:
                if conn is None:
                    conn = self.cluster.connect(timeout=3, autocommit=True)
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'soak-client' "
                    "AND state = 'active'")]
                if pids:
                    conn.execute("SELECT pg_cancel_backend(%s)", (self.rng.choice(pids),))
                    self.cancels += 1
            except psycopg.Error:
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
        if conn is not None:
            conn.close()


# ---------------------------------------------------------------------------
# the worker
# ---------------------------------------------------------------------------


def process_age(pid):
    """Seconds since the process started (/proc/<pid>/stat field 22)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
        return up - start / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def worker_rss(cluster):
    """(pid, VmRSS in kB, stats()->'memory') of the worker."""
    pid = pgc.worker_pid(cluster)
    if pid is None:
        return None, None, None
    try:
        # warm: read every table once, so that the page cache (8 MB, less
        # than the data after one period) is full at every sample
        with cluster.connect(timeout=5, autocommit=True) as conn:
            for t in ("documents", "versions", "nodes", "tool_results", "trajectories"):
                conn.execute("SELECT count(*) FROM treestore.%s" % t)
    except psycopg.Error:
        pass
    rss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    mem = None
    try:
        with cluster.connect(timeout=5, autocommit=True) as conn:
            mem = conn.execute("SELECT treestore.stats()->'memory'").fetchone()[0]
    except psycopg.Error:
        pass
    return pid, rss, mem


def wait_new_worker(cluster, old, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            pid = pgc.worker_pid(cluster)
            if pid is not None and pid != old:
                ok, _ = pgc.wait_healthy(cluster, max(1, deadline - time.time()))
                return ok
        except psycopg.Error:
            pass
        time.sleep(0.2)
    return False


# ---------------------------------------------------------------------------
# phase 1: load + faults
# ---------------------------------------------------------------------------


def schedule(rng):
    periods = max(1, SECONDS // PERIOD)
    events = [(k * PERIOD, "worker-kill") for k in range(1, periods)]
    middle = list(range(1, periods - 1)) or [0]
    extra = ["sigterm"] * SIGTERMS + ["postmaster-kill"] * PM_KILLS
    rng.shuffle(extra)
    per = collections.defaultdict(list)
    for i, kind in enumerate(extra):
        per[middle[i % len(middle)]].append(kind)
    for p, kinds in per.items():
        for j, kind in enumerate(kinds):
            t = p * PERIOD + PERIOD * (j + 0.5 + 0.3 * (rng.random() - 0.5)) / len(kinds)
            events.append((t, kind))
    events.sort()
    return periods, events


def run_load(cluster, oracle, rng):
    periods, events = schedule(rng)
    note("load: %d clients, %d s in %d periods of %d s; faults: %s" % (
        CLIENTS, SECONDS, periods, PERIOD,
        ", ".join("%s at %ds" % (k, t) for t, k in events)))
    stop = threading.Event()
    gate = Gate()
    clients = [Client(cluster, oracle, gate, stop, k, rng.random(), 1000000 * (k + 1))
               for k in range(CLIENTS)]
    canceller = Canceller(cluster, clients, stop, random.Random(rng.random()))
    for c in clients:
        c.start()
    canceller.start()
    t0 = time.time()
    survived = 0
    rss = []
    log_from = cluster.log_size()
    period_end = [PERIOD * (k + 1) for k in range(periods)]
    todo = sorted([(t, k) for t, k in events] +
                  [(t - 0.5, "rss-sample") for t in period_end[:-1]], key=lambda e: e[0])
    ages = []
    n_fault = 0
    for t, kind in todo:
        while time.time() - t0 < t:
            time.sleep(0.1)
        if kind == "rss-sample":
            pid, kb, mem = worker_rss(cluster)
            rss.append(kb)
            ages.append(process_age(pid) if pid else None)
            note("period %d: worker pid %s (age %.0f s) VmRSS %s kB, stats memory %s (txns %d "
                 "committed)" % (len(rss), pid, ages[-1] or -1, kb, json.dumps(mem),
                                 oracle.txn["committed"]))
            continue
        n_fault += 1
        label = "fault %d %s (%ds)" % (n_fault, kind, int(time.time() - t0))
        ok, why = True, ""
        try:
            old = pgc.worker_pid(cluster)
            if kind == "worker-kill":
                why = pgc.inject(cluster, "worker")
                ok, status = pgc.wait_healthy(cluster, RECOVERY_TIMEOUT)
            elif kind == "sigterm":
                if old is None or not cluster.is_ours(old):
                    raise RuntimeError("no worker")
                os.kill(old, signal.SIGTERM)
                why = "SIGTERM to worker pid %d" % old
                ok = wait_new_worker(cluster, old, 30)
                status = "no new worker within 30 s"
            else:
                why = pgc.inject(cluster, "postmaster")
                ok, status = pgc.wait_healthy(cluster, RECOVERY_TIMEOUT)
        except Exception as e:
            ok, status = False, "%s" % e
        if ok:
            survived += 1
        report("%s: recovered (%s)" % (label, why), ok,
               None if ok else "%s\n%s" % (status, pgc.relevant_log(cluster, log_from)))
        if gate.pause(clients, 60):
            check_oracle(cluster, oracle, label)
        else:
            report("%s: clients pause at a transaction boundary" % label, False,
                   "\n".join("%s busy=%s" % (c.name, c.busy) for c in clients if c.is_alive()))
        gate.resume()
    while time.time() - t0 < SECONDS:
        time.sleep(0.1)
    # the last sample: when the last worker is as old as the first one was
    # at its sample (faults and checks delay the schedule), at most a
    # period later
    deadline = time.time() + PERIOD
    while time.time() < deadline:
        pid = pgc.worker_pid(cluster)
        age = process_age(pid) if pid else None
        if not ages or ages[0] is None or (age is not None and age >= ages[0] - 1):
            break
        time.sleep(0.5)
    pid, kb, mem = worker_rss(cluster)
    rss.append(kb)
    ages.append(process_age(pid) if pid else None)
    note("period %d: worker pid %s (age %.0f s) VmRSS %s kB, stats memory %s (txns %d committed)"
         % (len(rss), pid, ages[-1] or -1, kb, json.dumps(mem), oracle.txn["committed"]))
    stop.set()
    gate.resume()
    deadline = time.time() + 90
    for c in clients + [canceller]:
        c.join(max(0.1, deadline - time.time()))
    hung = [c.name for c in clients + [canceller] if c.is_alive()]
    report("load: every client stops (no hang)", not hung, ", ".join(hung))
    report("load: no oracle mismatch in the clients' reads (%d)" % len(oracle.mismatches),
           not oracle.mismatches, "\n".join(oracle.mismatches[:30]))
    report("load: client errors only connection/shutdown/cancel/serialization (%d others)"
           % sum(oracle.unexpected.values()), not oracle.unexpected,
           "\n".join("x%d  %s" % (v, k) for k, v in oracle.unexpected.most_common(20)))
    check_oracle(cluster, oracle, "after the load")
    result("transactions", sum(oracle.txn[k] for k in ("committed", "failed", "rolled_back",
                                                        "in_doubt")))
    for k in ("committed", "rolled_back", "failed", "in_doubt"):
        result("transactions_" + k, oracle.txn[k])
    for st, n in sorted(oracle.errors.items()):
        result("errors_%s" % st, n)
    result("cancels_sent", canceller.cancels)
    result("kills_survived", survived)
    result("acked_writes", oracle.acked_writes)
    rss_start, rss_end = rss[0] if rss else None, rss[-1] if rss else None
    result("rss_start_kb", rss_start)
    result("rss_end_kb", rss_end)
    ok = rss_start is not None and rss_end is not None and rss_end <= rss_start * 1.10
    report("worker RSS after the last period within 10%% of the first (%s kB -> %s kB)"
           % (rss_start, rss_end), ok, "samples per period: %s" % rss)
    return log_from


# ---------------------------------------------------------------------------
# phase 2: fuzz of the SQL surface
# ---------------------------------------------------------------------------


def hostile_json(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice([None, True, False, 0, -1, 2 ** 31, -2 ** 63, 2 ** 64, 1e308, -1e-308,
                           3.5, "", "x" * rng.choice([1, 100, 70000]), "\u00e9\u4e2d\U0001F600",
                           "\u0001\u001f\t\n", "\u202e", "0000", "null", [], {}])
    if r < 0.6:
        return [hostile_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["title", "node_id", "start_index", "end_index", "summary", "text", "nodes",
            "child_nodes", "structure", "doc_name", "keywords", "see_also", "line_num",
            "\u00e9", "", "x" * 300]
    return {rng.choice(keys): hostile_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}


class RawJson(str):
    pass


def to_json(v):
    return str(v) if isinstance(v, RawJson) else json.dumps(v)


def hostile_tree(rng):
    k = rng.randrange(12)
    if k == 0:      # deep nesting (a JSON text: json.dumps would recurse)
        d = rng.choice([50, 500, 3000, 20000])
        return RawJson('{"structure": [' + "".join(
            '{"title": "t%d", "node_id": "%d", "nodes": [' % (i, i) for i in range(d))
            + '{"title": "leaf", "node_id": "leaf"}' + "]}" * d + "]}")
    if k == 1:      # duplicate node ids
        return {"structure": [{"title": "a", "node_id": "0001"}, {"title": "b", "node_id": "0001"}]}
    if k == 2:      # huge strings
        return {"structure": [{"title": "h" * rng.choice([10000, 1000000]), "node_id": "0001",
                               "text": "t" * rng.choice([10, 5000000])}]}
    if k == 3:      # wrong types
        return {"structure": [{"title": 5, "node_id": [1], "start_index": "one", "nodes": "x"}]}
    if k == 4:
        return {"structure": {"title": "not an array"}}
    if k == 5:      # wide
        return {"structure": [{"title": "w%d" % i, "node_id": "%05d" % i}
                              for i in range(rng.choice([100, 20000]))]}
    if k == 6:      # numbers out of range
        return {"structure": [{"title": "n", "node_id": "1", "start_index": 10 ** 30,
                               "end_index": -2 ** 40, "line_num": 1.5}]}
    if k == 7:      # unicode and control characters
        return {"doc_name": "\u0007\u001b", "structure": [
            {"title": "\u4e2d\u6587 \U0001F600 \u0001\u0002\u001f", "node_id": "\u00e9",
             "summary": "\u202e\ufeff", "see_also": ["\u0003", 5, None]}]}
    if k == 8:
        return rng.choice([None, [], "string", 5, {}, {"structure": []}, {"structure": None}])
    if k == 9:      # cycles in see_also, references to nowhere
        return {"structure": [{"title": "a", "node_id": "1", "see_also": ["1", "2", "nope"]},
                              {"title": "b", "node_id": "2", "see_also": ["1"]}]}
    return hostile_json(rng)


def hostile_text(rng):
    return rng.choice([None, "", " ", "fz-x", "0000", "x" * rng.choice([300, 10000, 2000000]),
                       "\u00e9\u4e2d\U0001F600", "\u0001\u001f", "%", "_", "'; DROP TABLE x; --",
                       "a b c", "policy", "\\", "v1", "fz-%d" % rng.randrange(50)])


def hostile_int(rng):
    return rng.choice([None, 0, -1, 1, 2 ** 31 - 1, -2 ** 31, 1000000, 64, 10 ** 9])


def hostile_date(rng):
    return rng.choice([None, "infinity", "-infinity", "4713-01-01 BC", "5874897-12-31",
                       "2024-02-29", "1970-01-01", "2024-01-01"])


def fuzz_write(rng):
    """A foreign-table write with hostile values (never case_id 'soak')."""
    T, I = hostile_text, hostile_int
    f = rng.randrange(6)
    if f == 0:
        return ("INSERT INTO treestore.tool_results (result_id, case_id, tool_name, output, "
                "latency_ms, success) VALUES (%s, %s, %s, %s::jsonb, %s, %s)",
                (rng.choice([None, I(rng)]), T(rng), T(rng), to_json(hostile_json(rng)),
                 rng.choice([None, -0.0, float("inf"), float("nan"), 1e308]),
                 rng.choice([None, True])))
    if f == 1:
        return ("INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought) "
                "VALUES (%s, %s, %s, %s)", (T(rng), T(rng), I(rng), T(rng)))
    if f == 2:
        return ("INSERT INTO treestore.prompts (prompt_id, version, template, variables, "
                "tool_schemas, deployed_at) VALUES (%s, %s, %s, %s, %s::jsonb, %s::timestamptz)",
                (T(rng), I(rng), T(rng), rng.choice([None, [], [T(rng), None, T(rng)]]),
                 to_json(hostile_json(rng)), rng.choice([None, "infinity", "1970-01-01",
                                                         "294276-12-31"])))
    if f == 3:
        return ("UPDATE treestore.nodes SET title = %s, page_start = %s WHERE policy_id = %s",
                (T(rng), I(rng), rng.choice(["fz-%d" % rng.randrange(30), T(rng)])))
    if f == 4:
        return ("DELETE FROM treestore.tool_results WHERE case_id = %s", (T(rng),))
    return ("INSERT INTO treestore.cross_references (source_policy_id, source_node_id, "
            "target_policy_id, target_node_id, reference_type, confidence) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (T(rng), T(rng), T(rng), T(rng), T(rng), rng.choice([None, -1.0, 1e30, float("nan")])))


def fuzz_call(rng):
    f = rng.randrange(19)
    if f >= 16:
        return fuzz_write(rng)
    T, I, D = hostile_text, hostile_int, hostile_date
    if f in (0, 1, 2):
        pid = rng.choice(["fz-%d" % rng.randrange(30), T(rng)])
        return ("SELECT treestore.store_document(%s, %s, %s::jsonb, %s::date, %s::jsonb, %s)",
                (pid, rng.choice(["v1", "v2", T(rng)]), to_json(hostile_tree(rng)), D(rng),
                 rng.choice([None, "{}", "[]", '{"a": 1}', '"s"']), rng.choice([None, True, False])))
    if f == 3:
        return ("SELECT treestore.get_document(%s, %s, %s::date, %s)",
                (T(rng), T(rng), D(rng), rng.choice([None, True, False])))
    if f == 4:
        return ("SELECT treestore.delete_document(%s, %s)", (T(rng), T(rng)))
    if f == 5:
        return ("SELECT count(*) FROM treestore.get_node(%s, %s, %s, %s::date)",
                (T(rng), T(rng), T(rng), D(rng)))
    if f == 6:
        return ("SELECT count(*) FROM treestore.get_children(%s, %s, %s, %s::date)",
                (T(rng), T(rng), T(rng), D(rng)))
    if f == 7:
        return ("SELECT count(*) FROM treestore.get_subtree(%s, %s, %s, %s, %s::date)",
                (T(rng), T(rng), I(rng), T(rng), D(rng)))
    if f == 8:
        return ("SELECT count(*) FROM treestore.get_ancestors(%s, %s, %s, %s::date)",
                (T(rng), T(rng), T(rng), D(rng)))
    if f == 9:
        return ("SELECT count(*) FROM treestore.nodes_by_page(%s, %s, %s, %s::date)",
                (T(rng), I(rng), T(rng), D(rng)))
    if f == 10:
        return ("SELECT count(*) FROM treestore.version_as_of(%s, %s::date)", (T(rng), D(rng)))
    if f == 11:
        return ("SELECT count(*) FROM treestore.list_versions(%s)", (T(rng),))
    if f == 12:
        return ("SELECT count(*) FROM treestore.get_cross_references(%s, %s, %s)",
                (T(rng), T(rng), rng.choice([None, "incoming", "outgoing", "both", "", "x"])))
    if f == 13:
        return ("SELECT count(*) FROM treestore.search(%s, %s, %s, %s::date, %s)",
                (T(rng), T(rng), T(rng), D(rng), I(rng)))
    if f == 14:
        out = rng.choice(["{}", "null", "[]", json.dumps(hostile_json(rng)), None])
        return ("SELECT treestore.store_tool_result(%s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, "
                "%s, %s, %s)",
                (rng.choice(["fz", T(rng)]), T(rng), out, rng.choice([None, out]), T(rng), T(rng),
                 T(rng), T(rng), rng.choice([None, True, False]), T(rng),
                 rng.choice([None, 0.0, -1.0, float("inf"), float("nan"), 1e308])))
    return (rng.choice(["SELECT treestore.health()", "SELECT treestore.stats()",
                        "SELECT count(*) FROM treestore.metrics()",
                        "SELECT length(treestore.metrics_text())",
                        "SELECT count(*) FROM treestore.prepared_transactions()"]), None)


def run_fuzz(cluster, rng):
    log_from = cluster.log_size()
    old_worker = pgc.worker_pid(cluster)
    calls = 0
    states = collections.Counter()
    internal, crashes, hangs, harness = [], [], [], []
    conn = None
    t0 = time.time()
    while time.time() - t0 < FUZZ_SECONDS and len(crashes) < 5:
        if conn is None:
            conn = cluster.connect(timeout=10, autocommit=True, application_name="soak-fuzz")
            # jsonb as text: a 20,000-level document is too deep for json.loads
            conn.adapters.register_loader("jsonb", TextLoader)
            conn.adapters.register_loader("json", TextLoader)
            bpid = conn.info.backend_pid
        sql, params = fuzz_call(rng)
        shown = "%s %s" % (sql, repr(params)[:300])
        done = threading.Event()
        hung = []

        def watchdog():
            if not done.wait(HANG):
                hung.append(True)
                try:
                    with cluster.connect(timeout=5, autocommit=True) as c2:
                        c2.execute("SELECT pg_cancel_backend(%s)", (bpid,))
                except psycopg.Error:
                    pass
        w = threading.Thread(target=watchdog, daemon=True)
        w.start()
        t1 = time.time()
        try:
            cur = conn.execute(sql, params)
            if cur.description is not None:
                cur.fetchall()
            states["ok"] += 1
        except psycopg.Error as e:
            st = sqlstate(e)
            states[st or "conn"] += 1
            if conn.broken or conn.closed or st is None:
                if not (conn.broken or conn.closed):
                    conn.close()
                crashes.append("%s\n  -> %s" % (shown, first_line(e)))
                conn = None
            elif st.startswith("XX") or st.startswith("58"):
                internal.append("%s: %s\n  <- %s" % (st, first_line(e), shown))
        except Exception as e:      # the harness (the driver) failed: say so, go on
            states["harness"] += 1
            harness.append("%s: %s\n  <- %s" % (type(e).__name__, first_line(e), shown))
            conn.close()
            conn = None
        finally:
            done.set()
            w.join()
        if hung:
            hangs.append("%.1f s: %s" % (time.time() - t1, shown))
        calls += 1
    if conn is not None:
        conn.close()
    note("fuzz: %d calls in %.0f s; outcomes %s" % (calls, time.time() - t0, dict(states)))
    result("fuzz_calls", calls)
    for st, n in sorted(states.items()):
        if st != "ok":
            result("fuzz_errors_%s" % st, n)
    report("fuzz: no lost connection (crash) (%d)" % len(crashes), not crashes,
           "\n".join(crashes) + "\n" + pgc.relevant_log(cluster, log_from))
    report("fuzz: no call over %d s (hang) (%d)" % (HANG, len(hangs)), not hangs, "\n".join(hangs[:10]))
    report("fuzz: every error a clear SQLSTATE, no XX/58 (%d)" % len(internal), not internal,
           "\n".join(internal[:20]))
    report("fuzz: no harness failure (%d)" % len(harness), not harness, "\n".join(harness[:10]))
    new_worker = pgc.worker_pid(cluster)
    report("fuzz: the worker kept its pid (%s -> %s)" % (old_worker, new_worker),
           new_worker == old_worker)
    pgc.check_log(cluster, "fuzz", log_from)


# ---------------------------------------------------------------------------
# treestore-check
# ---------------------------------------------------------------------------


def run_check(label, path):
    # run as ourselves: root reads postgres's files, and the check opens them
    # read-only (it never writes); user postgres may not reach the build
    # directory (a clone under a 0700 directory)
    cmd = [CHECK, path]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        report("%s: treestore-check %s clean" % (label, path), r.returncode == 0,
               "exit %d\n%s" % (r.returncode, r.stdout[-3000:]))
        if r.returncode == 0:
            note("treestore-check: " + r.stdout.strip().replace("\n", " | ")[:300])
    except Exception as e:
        report("%s: treestore-check %s clean" % (label, path), False, str(e))


# ---------------------------------------------------------------------------
# phase 4: ENOSPC
# ---------------------------------------------------------------------------


def run_enospc(cluster, rng):
    mnt = os.path.join(cluster.tmp, "small")
    os.makedirs(mnt, exist_ok=True)
    if os.geteuid() != 0:
        print("ok enospc # SKIP not root: cannot mount a small tmpfs", flush=True)
        return
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % ENOSPC_MB,
                            "tmpfs", mnt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        why = r.stdout.strip() if r.returncode != 0 else None
    except (OSError, subprocess.SubprocessError) as e:
        why = str(e)
    if why is not None:
        print("ok enospc # SKIP cannot mount a tmpfs: %s" % why, flush=True)
        return
    log_from = cluster.log_size()
    try:
        subprocess.run(["chown", "postgres:postgres", mnt], check=True)
        engine_dir = os.path.join(mnt, "ts")
        ballast = os.path.join(mnt, "ballast")
        opts = ("-c treestore.data_directory=%s -c treestore.wal_segment_size=4 "
                "-c treestore.checkpoint_wal_size=8 -c treestore.checkpoint_timeout=5"
                % engine_dir)
        if cluster.postmaster_pid() is not None:
            cluster.stop("fast")
        cluster.start(opts=opts)
        ok, status = pgc.wait_healthy(cluster, RECOVERY_TIMEOUT)
        report("enospc: the engine opens on a %d MB tmpfs" % ENOSPC_MB, ok, status)
        if not ok:
            return
        with open(ballast, "wb") as f:
            f.write(b"\0" * (ENOSPC_MB // 3 * 1024 * 1024))
        worker0 = pgc.worker_pid(cluster)
        acked = {}
        states = collections.Counter()
        messages = {}
        conn = cluster.connect(timeout=10)
        t0 = time.time()
        n = 0
        full_since = None
        text = "".join(rng.choice(WORDS) + " " for _ in range(20000))   # ~150 kB
        while time.time() - t0 < 120 and n < 3000:
            n += 1
            pid = "enospc-%d" % n
            tree = {"structure": [{"title": "e%d" % n, "node_id": "0001", "text": text}]}
            try:
                conn.execute("SELECT treestore.store_document(%s, 'v1', %s::jsonb)",
                             (pid, json.dumps(tree)))
                conn.execute("INSERT INTO treestore.tool_results (case_id, tool_name, output) "
                             "VALUES ('enospc', %s, '{}')", (pid,))
                conn.commit()
                acked[pid] = True
                states["ok"] += 1
            except psycopg.Error as e:
                st = sqlstate(e) or "conn"
                states[st] += 1
                messages.setdefault(st, first_line(e, 300))
                if conn.broken or conn.closed:
                    conn = cluster.connect(timeout=10)
                else:
                    conn.rollback()
                if full_since is None:
                    full_since = n
                if n - full_since >= 30:
                    break
        note("enospc: %d writes, outcomes %s" % (n, dict(states)))
        for st, m in messages.items():
            note("enospc: %s: %s" % (st, m))
        bad = {st: c for st, c in states.items() if st not in ("ok", "53100", "58030")}
        report("enospc: the disk filled (%d writes acknowledged first)" % len(acked),
               full_since is not None and states["53100"] > 0, json.dumps(dict(states)))
        report("enospc: errors are 53100 (or 58030 once the engine gave up)", not bad,
               "\n".join("%s x%d: %s" % (st, c, messages.get(st)) for st, c in bad.items()))
        worker1 = pgc.worker_pid(cluster)
        report("enospc: the worker did not die (%s -> %s)" % (worker0, worker1), worker0 == worker1)
        # free the space; writes must resume (restart the worker if the engine says so)
        os.unlink(ballast)
        resumed = False
        t1 = time.time()
        last = None
        while time.time() - t1 < 60:
            n += 1
            pid = "enospc-%d" % n
            try:
                conn.execute("SELECT treestore.store_document(%s, 'v1', %s::jsonb)",
                             (pid, json.dumps({"structure": [{"title": "r", "node_id": "1"}]})))
                conn.commit()
                acked[pid] = True
                resumed = True
                break
            except psycopg.Error as e:
                last = "%s: %s" % (sqlstate(e), first_line(e))
                if conn.broken or conn.closed:
                    conn = cluster.connect(timeout=10)
                else:
                    conn.rollback()
                time.sleep(0.5)
        restarted = pgc.worker_pid(cluster) != worker0
        report("enospc: writes resume by themselves once space is freed (%.1f s%s)"
               % (time.time() - t1, ", the worker restarted itself to recover the engine"
                  if restarted else ""), resumed, last)
        result("enospc_acked", len(acked))
        try:
            conn.close()
        except Exception:
            pass
        with cluster.connect(timeout=10, autocommit=True) as c2:
            have = {r[0] for r in c2.execute(
                "SELECT policy_id FROM treestore.documents WHERE policy_id LIKE 'enospc-%'")}
        missing = sorted(set(acked) - have)
        report("enospc: every acknowledged write present (%d)" % len(acked), not missing,
               ", ".join(missing[:20]))
        pgc.check_log(cluster, "enospc", log_from)
        cluster.stop("fast")
        run_check("enospc", engine_dir)
    finally:
        if cluster.postmaster_pid() is not None:
            cluster.stop("fast", check=False)
        subprocess.run(["umount", mnt])


# ---------------------------------------------------------------------------
# a case the soak found: ids assigned after recovery
# ---------------------------------------------------------------------------


def check_ids_after_recovery(cluster, attempts=5):
    """A transaction prepared in the engine and committed in PostgreSQL, whose
    worker dies before making it visible, is committed by the next worker at
    start (settle_in_doubt).  Its assigned result_id must not be handed out
    again (found by the soak: a later INSERT failed with 23505)."""
    label = "ids-after-recovery: an assigned result_id is not reused"
    diag = None
    for attempt in range(attempts):
        try:
            with cluster.connect(timeout=10) as conn:
                conn.execute("SET treestore.debug_fault = 'commit'")
                x = conn.execute("INSERT INTO treestore.tool_results (case_id, output) "
                                 "VALUES ('ids-case', '{}') RETURNING result_id").fetchone()[0]
                conn.commit()       # WARNING: committed but not yet visible
                pgc.inject(cluster, "worker")
            ok, status = pgc.wait_healthy(cluster, RECOVERY_TIMEOUT)
            if not ok:
                diag = "no recovery: %s" % status
                break
            with cluster.connect(timeout=10, autocommit=True) as conn:
                present = conn.execute("SELECT count(*) FROM treestore.tool_results "
                                       "WHERE result_id = %s", (x,)).fetchone()[0]
                try:
                    y = conn.execute("INSERT INTO treestore.tool_results (case_id, output) "
                                     "VALUES ('ids-case', '{}') RETURNING result_id").fetchone()[0]
                    err = None
                except psycopg.Error as e:
                    y, err = None, "%s: %s" % (sqlstate(e), first_line(e))
                conn.execute("DELETE FROM treestore.tool_results WHERE case_id = 'ids-case'")
            if present != 1:
                note("ids-after-recovery: attempt %d: id %d not committed (the kill came late)"
                     % (attempt + 1, x))
                continue
            report(label, err is None and y != x,
                   "committed id %d (settled at start); next INSERT: %s" % (x, err or y))
            return
        except Exception as e:
            diag = "%s" % e
    report(label, False, diag or "inconclusive after %d attempts" % attempts)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main():
    rng = random.Random(SEED)
    note("seed %d (replay with TS_SOAK_SEED=%d); %d clients, %d s, period %d s, %d SIGTERM, "
         "%d postmaster kills, fuzz %d s; binaries %s" % (
             SEED, SEED, CLIENTS, SECONDS, PERIOD, SIGTERMS, PM_KILLS, FUZZ_SECONDS, pgc.PGBIN))
    t_start = time.time()
    cluster = None
    oracle = Oracle()
    try:
        cluster = pgc.Cluster()
        note("cluster in %s, port %d" % (cluster.tmp, pgc.PORT))
        try:
            cluster.initdb()
            with open(os.path.join(cluster.data, "postgresql.conf"), "a") as f:
                f.write("# soak.py\nmax_connections = %d\n" % (CLIENTS + 30))
                f.write("treestore.cache_size = 8MB\n")
            cluster.start()
            with cluster.connect(autocommit=True) as conn:
                conn.execute("CREATE EXTENSION treestore_fdw")
            healthy, status = pgc.wait_healthy(cluster, RECOVERY_TIMEOUT)
            if not healthy:
                raise RuntimeError("health() never said ok: %r" % status)
            report("setup (initdb, start, CREATE EXTENSION)", True)
        except Exception as e:
            report("setup (initdb, start, CREATE EXTENSION)", False,
                   "%s\n--- server log\n%s" % (e, cluster.log_tail()))
            return
        check_ids_after_recovery(cluster)
        if SECONDS > 0:
            run_load(cluster, oracle, rng)
        if FUZZ_SECONDS > 0:
            run_fuzz(cluster, rng)
            check_oracle(cluster, oracle, "after the fuzz")
        result("acked_writes_checked", oracle.checked)
        pgc.check_log(cluster, "whole run", 0)
        cluster.stop("fast")
        run_check("final", os.path.join(cluster.data, "treestore"))
        if ENOSPC:
            run_enospc(cluster, rng)
    except Exception:
        report("harness", False, traceback.format_exc())
    finally:
        if cluster is not None:
            cluster.teardown()
            if pgc.failed == 0 and not KEEP:
                shutil.rmtree(cluster.tmp, ignore_errors=True)
            else:
                note("kept %s (server log %s)" % (cluster.tmp, cluster.log))
        note("runtime %.1f s" % (time.time() - t_start))
        if pgc.failures:
            note("failed: " + "; ".join(pgc.failures[:20]))
        print("%d passed, %d failed" % (pgc.passed, pgc.failed), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(1 if pgc.failed else 0)
