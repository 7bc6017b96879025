#!/usr/bin/python3
"""
test_pg_crash.py -- crash tests of treestore_fdw inside a real PostgreSQL 15.

A private cluster (initdb as user postgres, fsync=on, synchronous_commit=on,
shared_preload_libraries=treestore_fdw, unix socket only) gets a native table
ledger(id bigint primary key, note text) next to the extension's foreign
tables.  CLIENTS threads commit transactions in a loop:
  * "pair" transactions insert one row with a fresh id into BOTH ledger and
    treestore.tool_results (result_id = the same id, case_id 'pgcrash');
  * "doc" transactions (about 1 in 5) insert one row into treestore.documents
    only (policy_id 'pgcrash-<id>').
An id counts as acknowledged only once COMMIT returned successfully.  Errors
around a crash (connection lost, 08006, 57P01/57P02/57P03, the worker
restarting, ...) are expected: the client reconnects and goes on.

Each round lets the load run, waits a random 0.2-2 s, and then does one of:
  worker      kill -9 of the treestore worker (pg_stat_activity.backend_type
              'treestore'); the postmaster restarts the whole cluster;
  postmaster  kill -9 of the postmaster; waits for its orphaned children
              (every process whose working directory is the data directory)
              to exit, then pg_ctl start;
  immediate   pg_ctl -m immediate stop, then pg_ctl start;
  fast        pg_ctl -m fast stop (clean shutdown), then pg_ctl start;
  group       the worker kills itself (SIGKILL, treestore.debug_fault
              'worker-kill-prepared') between the phases of a group commit:
              an engine prepare durable, not yet answered, while another
              session's prepare is durable with it or still in flight.
It waits for treestore.health()->>'status' = 'ok', lets the clients commit a
little more (they must make progress again), stops them, and checks -- each
one a test case:
  recovered      the cluster is back and health() says 'ok' in time;
  progress       clients commit again after the recovery;
  clients-stop   every client thread finishes (no hang in COMMIT or a query);
  acked-present  every acknowledged id (all rounds so far) is in ledger and
                 in treestore.tool_results; every acknowledged document is in
                 treestore.documents;
  both-agree     the set of ids in ledger equals the set in tool_results
                 (a transaction is on both sides or on neither), and no id
                 that was never attempted shows up anywhere;
  count          SELECT count(*) of ledger, tool_results and documents work
                 and equal the number of distinct ids read (no duplicates);
  no-in-doubt    health()'s engine.prepared drops to 0 once the clients are
                 gone (every in-doubt engine transaction got settled); this
                 runs before the data checks, so that a wrong settlement shows
                 up in the round that caused it;
  no-panic       the server log of the round has no PANIC, TRAP or crash by
                 signal 6/7/11 (our own kill -9 aside).
For ids on one side only the diagnostics give each one's PostgreSQL xid, the
ledger rows whose xmin is that same xid (a reused xid) and the server log
lines naming "pg:<xid>".

Then LOST_XID deterministic cases ("lost-xid N"): one transaction writes only
treestore.documents, with commit_delay = 100 ms and commit_siblings = 0 so
that PostgreSQL sleeps between the engine PREPARE (pre-commit) and flushing
its commit record; a monitor connection polls health() until the engine
shows it prepared and kills the worker inside that window.  The commit
record dies with the shared WAL buffers, so the transaction never committed
in PostgreSQL and its xid is handed out again after recovery (the case tests
that by running five small transactions on the native table xid_burn).  The
document must be present exactly when PostgreSQL says the transaction
committed (pg_xact_status before the xid is reused; "aborted" when the xid is
at or past the next xid after recovery).  An attempt whose victim got its
COMMIT acknowledged (the kill missed the window) is retried, up to 10 times;
a case that stays inconclusive fails (it checked nothing).  Client errors
with a SQLSTATE other than connection, shutdown and restart ones (or a
failure that is not a lost connection) fail the run: nothing hides them --
the clients set no statement_timeout, the extension's own bounded waits
must end every call.  The seed is fixed (printed; TS_PGCRASH_SEED).
Before the rounds, "durable-commit": with synchronous_commit = on, COMMIT of
a transaction that wrote only treestore tables must return only after
PostgreSQL's commit record is flushed; "durable-commit-async": the same for
a session with synchronous_commit = off whose transactions write a native
table and treestore.tool_results (else a crash keeps the engine's writes and
loses the native ones) (the worker settles in-doubt engine
transactions by that record); checked with the WAL writer stopped (SIGSTOP)
for a few milliseconds, comparing pg_current_wal_insert_lsn() and
pg_current_wal_flush_lsn() after each COMMIT (a transaction counts as
asynchronous when two retries also leave WAL unflushed: a background record
inserted after the COMMIT looks the same once).
Then the operator's deterministic cases (run_admin_cases): request-timeout
(a SIGSTOPped worker), no-preload, open-failure (data_directory a file, then
fixed; the settings take effect) and in-doubt (treestore.prepared_transactions
and treestore.resolve_prepared on transactions the commit log cannot decide).
Plus "setup" and a final "final-restart" round (clean restart, same checks).
The output is TAP-like ("ok ..." / "not ok ..." with diagnostics: missing ids,
ids on one side only, server log tail) and the last line is
"N passed, N failed"; the exit status is 1 if anything failed.

Environment (defaults give ~2-3 minutes):
  TS_PGCRASH_WORKER_ROUNDS      rounds killing the worker          (5)
  TS_PGCRASH_POSTMASTER_ROUNDS  rounds killing the postmaster      (5)
  TS_PGCRASH_IMMEDIATE_ROUNDS   rounds of pg_ctl -m immediate stop (3)
  TS_PGCRASH_FAST_ROUNDS        rounds of pg_ctl -m fast stop      (1)
  TS_PGCRASH_GROUP_ROUNDS       rounds killing the worker between
                                group-commit phases                (3)
  TS_PGCRASH_CLIENTS            client threads                     (6)
  TS_PGCRASH_SEED               random seed (default 20261207; printed)
  TS_PGCRASH_PORT               port of the private cluster        (5491)
  TS_PGCRASH_KEEP=1             keep the temporary directory even on success
  TS_PGCRASH_PGBIN              PostgreSQL binaries (/usr/lib/postgresql/15/bin)
  TS_PGCRASH_RECOVERY_TIMEOUT   seconds to wait for health 'ok'    (90)
  TS_PGCRASH_LOST_XID_ROUNDS    deterministic lost-commit-record cases (2)
  TS_PGCRASH_ADMIN              0: skip the operator cases (1)
Rounds run in a shuffled order (by the seed).  A longer soak, e.g.:
  make test-pg-crash TS_PGCRASH_WORKER_ROUNDS=50 TS_PGCRASH_POSTMASTER_ROUNDS=50 \
      TS_PGCRASH_IMMEDIATE_ROUNDS=30 TS_PGCRASH_FAST_ROUNDS=10
The temporary directory is /tmp/tscrash-XXXXXX (data/, sock/, server.log);
it is removed on success and kept (and named) on failure.

Run as root (PostgreSQL then runs as user postgres through runuser) or as
user postgres.  Needs psycopg 3: run it with /usr/bin/python3.

repro/ (not run by make) holds small stand-alone reproductions of the bugs
this suite found, each on its own cluster under /tmp/tscrash-repro (port
5492; two of them use gdb): repro_xid_reuse.py, repro_async_commit.py,
repro_acked_commit_lost.py, repro_panic_pm_death.py.
"""

import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

try:
    import psycopg
except ImportError:  # pragma: no cover
    print("psycopg 3 is missing: run this with /usr/bin/python3 (python3-psycopg)")
    print("0 passed, 1 failed")
    sys.exit(1)


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


PGBIN = os.environ.get("TS_PGCRASH_PGBIN", "/usr/lib/postgresql/15/bin")
PORT = env_int("TS_PGCRASH_PORT", 5491)
CLIENTS = env_int("TS_PGCRASH_CLIENTS", 6)
ROUNDS = {
    "worker": env_int("TS_PGCRASH_WORKER_ROUNDS", 5),
    "postmaster": env_int("TS_PGCRASH_POSTMASTER_ROUNDS", 5),
    "immediate": env_int("TS_PGCRASH_IMMEDIATE_ROUNDS", 3),
    "fast": env_int("TS_PGCRASH_FAST_ROUNDS", 1),
    "group": env_int("TS_PGCRASH_GROUP_ROUNDS", 3),
}
SEED = env_int("TS_PGCRASH_SEED", 20261207)
KEEP = os.environ.get("TS_PGCRASH_KEEP", "") not in ("", "0")
RECOVERY_TIMEOUT = env_int("TS_PGCRASH_RECOVERY_TIMEOUT", 90)
LOST_XID_ROUNDS = env_int("TS_PGCRASH_LOST_XID_ROUNDS", 2)
ADMIN_CASES = env_int("TS_PGCRASH_ADMIN", 1)
DOC_FRACTION = 0.2
CASE_ID = "pgcrash"

AS_ROOT = os.geteuid() == 0

# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

passed = 0
failed = 0
failures = []


def report(name, ok, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok %s" % name, flush=True)
    else:
        failed += 1
        failures.append(name)
        print("not ok %s" % name, flush=True)
        if diag:
            for line in str(diag).rstrip("\n").split("\n"):
                print("    " + line, flush=True)


def note(msg):
    print("# " + msg, flush=True)


def fmt_ids(ids, limit=20):
    ids = sorted(ids)
    s = ", ".join(str(i) for i in ids[:limit])
    if len(ids) > limit:
        s += ", ... (%d in all)" % len(ids)
    return s


# ---------------------------------------------------------------------------
# the cluster
# ---------------------------------------------------------------------------


class Cluster:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="tscrash-", dir="/tmp")
        self.data = os.path.join(self.tmp, "data")
        self.sock = os.path.join(self.tmp, "sock")
        self.log = os.path.join(self.tmp, "server.log")
        os.mkdir(self.sock, 0o700)
        if AS_ROOT:
            pw = pwd.getpwnam("postgres")
            for p in (self.tmp, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            os.chmod(self.tmp, 0o755)
        self.datadir_real = None

    def run_pg(self, args, check=True, timeout=120):
        cmd = [os.path.join(PGBIN, args[0])] + list(args[1:])
        if AS_ROOT:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, r.stdout))
        return r

    def initdb(self):
        self.run_pg(["initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8", "--locale=C"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# test_pg_crash.py\n")
            f.write("port = %d\n" % PORT)
            f.write("listen_addresses = ''\n")
            f.write("unix_socket_directories = '%s'\n" % self.sock)
            f.write("fsync = on\n")
            f.write("synchronous_commit = on\n")
            f.write("full_page_writes = on\n")
            f.write("shared_preload_libraries = 'treestore_fdw'\n")
            f.write("max_connections = 40\n")
            f.write("restart_after_crash = on\n")
            f.write("log_line_prefix = '%m [%p] %b '\n")
            f.write("log_min_messages = log\n")
            f.write("logging_collector = off\n")
            f.write("checkpoint_timeout = 30s\n")
        self.datadir_real = os.path.realpath(self.data)

    def start(self, attempts=1, opts=None):
        """opts: server options for this start only, e.g. "-c name=value"."""
        last = None
        for i in range(attempts):
            r = self.run_pg(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120"]
                            + (["-o", opts] if opts else []) + ["start"],
                            check=False, timeout=180)
            if r.returncode == 0:
                return
            last = r.stdout
            time.sleep(1)
        raise RuntimeError("pg_ctl start failed:\n%s" % last)

    def teardown(self):
        """Stop whatever is left of the cluster: fast, else immediate, else
        SIGKILL to its own processes.  Never raises."""
        try:
            if self.postmaster_pid() is not None:
                self.stop("fast", check=False)
            if self.processes():
                self.stop("immediate", check=False)
            for p in wait_gone(self, 30):
                if self.is_ours(p):
                    os.kill(p, signal.SIGKILL)
        except Exception as e:
            note("stopping the cluster: %s" % e)

    def stop(self, mode="fast", check=True):
        return self.run_pg(["pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "120", "stop"],
                           check=check, timeout=180)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def processes(self):
        """Every process whose working directory is our data directory:
        the postmaster and all of its children (and only ours)."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/cwd" % d) == self.datadir_real:
                    pids.append(int(d))
            except OSError:
                pass
        return pids

    def is_ours(self, pid):
        try:
            return os.readlink("/proc/%d/cwd" % pid) == self.datadir_real
        except OSError:
            return False

    def connect(self, timeout=5, **kw):
        return psycopg.connect(host=self.sock, port=PORT, user="postgres", dbname="postgres",
                               connect_timeout=timeout, **kw)

    def log_tail(self, n=40):
        try:
            with open(self.log, errors="replace") as f:
                lines = f.readlines()
            return "".join(lines[-n:])
        except OSError as e:
            return "(no server log: %s)" % e

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log, errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""


# ---------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------

EXPECTED_STATES = {
    "08000", "08003", "08006", "08001", "08004",  # connection trouble
    "57P01", "57P02", "57P03",                    # shutdown, crash, cannot connect now
    "40001",                                      # serialization (not expected, harmless)
}


class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.next_id = 1
        self.attempted = {}         # id -> "pair" | "doc"
        self.xids = {}              # id -> PostgreSQL xid of its transaction
        self.acked_pairs = set()
        self.acked_docs = set()
        self.acks = 0
        self.errors = {}            # "sqlstate: message" -> count
        self.unexpected = {}        # same, for SQLSTATEs outside EXPECTED_STATES
        self.warnings = {}          # notices/warnings at commit
        self.client_acks = {}

    def new_id(self, kind):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            self.attempted[i] = kind
            return i

    def error(self, e):
        state = getattr(getattr(e, "diag", None), "sqlstate", None) or \
            getattr(e, "sqlstate", None)
        msg = str(e).strip().split("\n")[0][:160]
        key = "%s: %s" % (state or "-----", msg)
        with self.lock:
            self.errors[key] = self.errors.get(key, 0) + 1
            # no SQLSTATE: a lost connection (OperationalError) is expected,
            # anything else (a harness or driver failure) is not
            if (state not in EXPECTED_STATES if state is not None
                    else not isinstance(e, psycopg.OperationalError)):
                self.unexpected[key] = self.unexpected.get(key, 0) + 1


class Client(threading.Thread):
    def __init__(self, cluster, shared, stop, index, seed):
        super().__init__(name="client-%d" % index, daemon=True)
        self.cluster = cluster
        self.shared = shared
        self.stop_ev = stop
        self.index = index
        self.rng = random.Random(seed)
        self.conn = None
        self.acks = 0
        self.current = None      # (id, kind, since) of the transaction in flight

    def on_notice(self, diag):
        key = "%s: %s" % (diag.severity_nonlocalized, (diag.message_primary or "")[:120])
        with self.shared.lock:
            self.shared.warnings[key] = self.shared.warnings.get(key, 0) + 1

    def drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def run(self):
        while not self.stop_ev.is_set():
            if self.conn is None:
                try:
                    # no statement_timeout: the extension's own bounded
                    # waits (treestore.request_timeout) must end every call
                    self.conn = self.cluster.connect(timeout=3)
                    self.conn.add_notice_handler(self.on_notice)
                except psycopg.Error:
                    self.conn = None
                    time.sleep(0.05 + self.rng.random() * 0.1)
                    continue
            kind = "doc" if self.rng.random() < DOC_FRACTION else "pair"
            i = self.shared.new_id(kind)
            self.current = (i, kind, time.time())
            try:
                if kind == "pair":
                    xid = self.conn.execute(
                        "INSERT INTO ledger (id, note) VALUES (%s, %s) "
                        "RETURNING pg_current_xact_id()::text",
                        (i, "client %d" % self.index)).fetchone()[0]
                    with self.shared.lock:
                        self.shared.xids[i] = int(xid)
                    self.conn.execute(
                        "INSERT INTO treestore.tool_results (result_id, case_id, tool_name, output) "
                        "VALUES (%s, %s, 'pg_crash', %s::jsonb)",
                        (i, CASE_ID, '{"client": %d}' % self.index))
                else:
                    self.conn.execute(
                        "INSERT INTO treestore.documents (policy_id, title) VALUES (%s, %s)",
                        ("pgcrash-%d" % i, "document %d" % i))
                    xid = self.conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]
                    with self.shared.lock:
                        self.shared.xids[i] = int(xid)
                self.conn.commit()
            except psycopg.Error as e:
                self.current = None
                self.shared.error(e)
                if self.conn.closed or self.conn.broken or isinstance(e, psycopg.OperationalError):
                    self.drop()
                else:
                    try:
                        self.conn.rollback()
                    except psycopg.Error:
                        self.drop()
                continue
            except Exception as e:  # anything else: log it, start over
                self.current = None
                self.shared.error(e)
                self.drop()
                continue
            self.current = None
            self.acks += 1
            with self.shared.lock:
                self.shared.acks += 1
                if kind == "pair":
                    self.shared.acked_pairs.add(i)
                else:
                    self.shared.acked_docs.add(i)
        self.drop()


class Load:
    def __init__(self, cluster, shared, rng):
        self.stop = threading.Event()
        self.clients = [Client(cluster, shared, self.stop, k, rng.random())
                        for k in range(CLIENTS)]

    def start(self):
        for c in self.clients:
            c.start()

    def finish(self, timeout=90):
        """Stop the clients; returns the ones still running after timeout."""
        self.stop.set()
        deadline = time.time() + timeout
        for c in self.clients:
            c.join(max(0.1, deadline - time.time()))
        return [c for c in self.clients if c.is_alive()]


# ---------------------------------------------------------------------------
# waiting, faults, checks
# ---------------------------------------------------------------------------


def wait_healthy(cluster, timeout):
    """Wait for health()->>'status' = 'ok'.  Returns (ok, last status)."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with cluster.connect(timeout=3, autocommit=True) as conn:
                row = conn.execute("SELECT treestore.health()->>'status'").fetchone()
                last = row[0]
                if last == "ok":
                    return True, last
        except psycopg.Error as e:
            last = str(e).strip().split("\n")[0]
        time.sleep(0.2)
    return False, last


def worker_pid(cluster):
    with cluster.connect(timeout=5, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'treestore'").fetchone()
    return row[0] if row else None


def wait_gone(cluster, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = cluster.processes()
        if not left:
            return []
        time.sleep(0.05)
    return cluster.processes()


def describe_procs(pids):
    out = []
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open("/proc/%d/wchan" % p) as f:
                wchan = f.read().strip()
        except OSError:
            cmd, wchan = "?", "?"
        out.append("pid %d: %s (wchan %s)" % (p, cmd, wchan))
    return "\n".join(out)


def inject(cluster, kind):
    """Do the fault and bring the cluster back (the postmaster restarts it
    by itself after a worker kill).  Returns a description."""
    if kind == "worker":
        pid = worker_pid(cluster)
        if pid is None or not cluster.is_ours(pid):
            raise RuntimeError("no treestore worker found (pid %r)" % pid)
        os.kill(pid, signal.SIGKILL)
        return "killed worker pid %d" % pid
    if kind == "postmaster":
        pid = cluster.postmaster_pid()
        if pid is None or not cluster.is_ours(pid):
            raise RuntimeError("no postmaster found (pid %r)" % pid)
        os.kill(pid, signal.SIGKILL)
        left = wait_gone(cluster, 60)
        # until its parent reaps it, a zombie postmaster makes the new one
        # think the lock file postmaster.pid is still in use
        deadline = time.time() + 30
        while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
            time.sleep(0.05)
        if left:
            raise RuntimeError("children of the killed postmaster still alive after 60 s:\n"
                               + describe_procs(left))
        cluster.start(attempts=5)
        return "killed postmaster pid %d" % pid
    if kind == "group":
        # the worker kills itself (SIGKILL) once an engine prepare is
        # durable and before it is answered, while another session's
        # prepare is durable in the same round or still in flight
        # (treestore.debug_fault 'worker-kill-prepared', src/worker.c)
        pid = worker_pid(cluster)
        log_from = cluster.log_size()
        conn = cluster.connect(timeout=5, autocommit=True)
        try:
            conn.execute("SET treestore.debug_fault = 'worker-kill-prepared'")
            deadline = time.time() + 30
            while time.time() < deadline:
                if 'killing itself at "worker-kill-prepared"' in cluster.log_since(log_from):
                    break
                time.sleep(0.05)
            else:
                conn.execute("RESET treestore.debug_fault")
                raise RuntimeError("the worker did not reach worker-kill-prepared in 30 s")
        finally:
            try:
                conn.close()
            except psycopg.Error:
                pass
        return "worker pid %s killed itself between a durable prepare and its answer" % pid
    if kind in ("immediate", "fast"):
        cluster.stop(kind)
        left = wait_gone(cluster, 30)
        if left:
            raise RuntimeError("processes alive after pg_ctl stop:\n" + describe_procs(left))
        cluster.start(attempts=3)
        return "pg_ctl -m %s stop + start" % kind
    raise ValueError(kind)


def read_state(cluster):
    with cluster.connect(timeout=10, autocommit=True) as conn:
        ledger_xmin = {r[0]: int(r[1]) for r in conn.execute(
            "SELECT id, xmin::text FROM ledger")}
        ledger = list(ledger_xmin)
        results = [r[0] for r in conn.execute(
            "SELECT result_id FROM treestore.tool_results WHERE case_id = %s", (CASE_ID,))]
        all_docs = [r[0] for r in conn.execute("SELECT policy_id FROM treestore.documents")]
        counts = {
            "ledger": conn.execute("SELECT count(*) FROM ledger").fetchone()[0],
            "tool_results": conn.execute("SELECT count(*) FROM treestore.tool_results").fetchone()[0],
            "documents": conn.execute("SELECT count(*) FROM treestore.documents").fetchone()[0],
        }
    docs = [int(d.split("-", 1)[1]) for d in all_docs if d.startswith("pgcrash-")]
    counts["documents read"] = len(all_docs)
    return ledger, results, docs, counts, ledger_xmin


def health_json(cluster):
    with cluster.connect(timeout=5, autocommit=True) as conn:
        return conn.execute("SELECT treestore.health()").fetchone()[0]


def check_state(cluster, shared, label, log_from):
    """The data checks; every one a test case."""
    with shared.lock:
        acked_pairs = set(shared.acked_pairs)
        acked_docs = set(shared.acked_docs)
        attempted = dict(shared.attempted)
        xids = dict(shared.xids)
    try:
        ledger, results, docs, counts, ledger_xmin = read_state(cluster)
    except Exception as e:
        diag = "reading the tables failed: %s\n--- server log tail\n%s" % (e, cluster.log_tail())
        for c in ("acked-present", "both-agree", "count"):
            report("%s: %s" % (label, c), False, diag)
        return
    L, R, D = set(ledger), set(results), set(docs)

    # every acknowledged transaction is there
    miss_l = acked_pairs - L
    miss_r = acked_pairs - R
    miss_d = acked_docs - D
    ok = not (miss_l or miss_r or miss_d)
    diag = None
    if not ok:
        diag = ""
        if miss_l:
            diag += "acknowledged ids missing from ledger: %s\n" % fmt_ids(miss_l)
        if miss_r:
            diag += "acknowledged ids missing from treestore.tool_results: %s\n" % fmt_ids(miss_r)
        if miss_d:
            diag += "acknowledged documents missing from treestore.documents: %s\n" % \
                fmt_ids("pgcrash-%d" % i for i in miss_d)
        diag += "--- server log since the round began (treestore lines and the tail)\n"
        diag += relevant_log(cluster, log_from)
    report("%s: acked-present (%d pairs, %d documents acknowledged)"
           % (label, len(acked_pairs), len(acked_docs)), ok, diag)

    # both sides agree; nothing that was never attempted
    only_l = L - R
    only_r = R - L
    phantom = {i for i in (L | R) if attempted.get(i) != "pair"} | \
              {i for i in D if attempted.get(i) != "doc"}
    ok = not (only_l or only_r or phantom)
    diag = None
    if not ok:
        diag = ""
        if only_l:
            diag += "ids in ledger only (PostgreSQL committed, treestore lost it): %s\n" % \
                fmt_ids(only_l)
            diag += "  of them acknowledged: %s\n" % fmt_ids(only_l & acked_pairs)
        if only_r:
            diag += "ids in treestore.tool_results only (treestore committed, PostgreSQL " \
                    "aborted): %s\n" % fmt_ids(only_r)
        if phantom:
            diag += "ids never attempted as that kind: %s\n" % fmt_ids(phantom)
        diag += explain_ids(cluster, sorted(only_l | only_r)[:10], xids, ledger_xmin)
        diag += "--- server log since the round began (treestore lines and the tail)\n"
        diag += relevant_log(cluster, log_from)
    inflight = {i for i, k in attempted.items() if k == "pair"} - acked_pairs
    report("%s: both-agree (ledger %d = tool_results %d; %d unacknowledged attempts, %d of "
           "them committed)" % (label, len(L), len(R), len(inflight), len(inflight & L & R)),
           ok, diag)

    # count(*) works and matches
    dup_r = len(results) - len(R)
    ok = (counts["ledger"] == len(L) and counts["tool_results"] >= len(R)
          and counts["documents"] >= len(D) and dup_r == 0 and len(docs) == len(D))
    # tool_results / documents hold only our rows: counts must match exactly
    ok = ok and counts["tool_results"] == len(results) and \
        counts["documents"] == counts["documents read"]
    report("%s: count (ledger %d, tool_results %d, documents %d)"
           % (label, counts["ledger"], counts["tool_results"], counts["documents"]), ok,
           None if ok else "count(*) %r vs rows read: ledger %d, tool_results %d (distinct %d), "
           "documents %d (distinct %d)" % (counts, len(ledger), len(results), len(R),
                                            len(docs), len(D)))


def check_no_in_doubt(cluster, label, log_from, timeout=15):
    deadline = time.time() + timeout
    h = None
    while time.time() < deadline:
        try:
            h = health_json(cluster)
            if h.get("status") == "ok" and int(h.get("engine", {}).get("prepared", -1)) == 0:
                report("%s: no-in-doubt" % label, True)
                return
        except Exception as e:
            h = {"error": str(e)}
        time.sleep(0.5)
    report("%s: no-in-doubt" % label, False,
           "health() after %d s without clients: %s\n--- server log since the round began\n%s"
           % (timeout, h, relevant_log(cluster, log_from)))


NOISE = ("the database system is starting up", "the database system is in recovery mode",
         "the database system is not yet accepting connections",
         "Consistent recovery state has not been yet reached", "the database system is shutting down")


def explain_ids(cluster, ids, xids, ledger_xmin):
    """For ids on one side only: their transaction's xid, whether a later
    transaction reused that xid, and the server log lines naming pg:<xid>."""
    out = ""
    by_xmin = {}
    for lid, xm in ledger_xmin.items():
        by_xmin.setdefault(xm, []).append(lid)
    log = cluster.log_since(0).splitlines()
    for i in ids:
        x = xids.get(i)
        if x is None:
            out += "  id %d: xid unknown (the client never got it back)\n" % i
            continue
        others = [o for o in by_xmin.get(x, []) if o != i]
        out += "  id %d: PostgreSQL xid %d%s\n" % (
            i, x, "; that xid is also the xmin of ledger id(s) %s (xid reused)" % fmt_ids(others)
            if others else "")
        for l in log:
            if '"pg:%d"' % x in l or '"pg:%d/' % x in l or "transaction %d " % x in l:
                out += "    " + l + "\n"
    return out


def relevant_log(cluster, offset, tail=25):
    text = cluster.log_since(offset)
    lines = [l for l in text.splitlines() if not any(n in l for n in NOISE)]
    keys = ("treestore", "in doubt", "in-doubt", "PANIC", "FATAL", "terminated by signal",
            "TRAP", "database system")
    picked = [l for l in lines if any(k in l for k in keys)]
    out = picked[-60:]
    out.append("--- last %d lines" % tail)
    out += lines[-tail:]
    return "\n".join(out)


BAD_LOG = ("PANIC:", "TRAP:", "terminated by signal 6", "terminated by signal 11",
           "terminated by signal 7", "was terminated by exception")


def check_log(cluster, label, log_from):
    """No PANIC, failed assertion or crash of a server process other than the
    kill -9 the round did itself."""
    bad = [l for l in cluster.log_since(log_from).splitlines() if any(b in l for b in BAD_LOG)]
    report("%s: no-panic (server log)" % label, not bad,
           None if not bad else "\n".join(bad[:20]) +
           ("\n... (%d lines)" % len(bad) if len(bad) > 20 else ""))


def summarize_errors(shared, prev_errors):
    with shared.lock:
        now = dict(shared.errors)
    delta = {k: v - prev_errors.get(k, 0) for k, v in now.items() if v != prev_errors.get(k, 0)}
    for k, v in sorted(delta.items(), key=lambda kv: -kv[1])[:8]:
        note("  client error x%d  %s" % (v, k))
    return now


def wait_acks(shared, n, timeout):
    deadline = time.time() + timeout
    with shared.lock:
        start = shared.acks
    while time.time() < deadline:
        with shared.lock:
            if shared.acks - start >= n:
                return True, shared.acks - start
        time.sleep(0.02)
    with shared.lock:
        return False, shared.acks - start


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def run_round(cluster, shared, rng, label, kind, errors_seen):
    log_from = cluster.log_size()
    load = Load(cluster, shared, rng)
    load.start()
    ok_load, n = wait_acks(shared, 3 * CLIENTS, 30)
    if not ok_load:
        note("%s: only %d commits before the fault" % (label, n))
    delay = rng.uniform(0.2, 2.0)
    time.sleep(delay)
    with shared.lock:
        acks_before = shared.acks
    t0 = time.time()
    try:
        what = inject(cluster, kind)
        injected = True
    except Exception as e:
        what = "fault/restart failed: %s" % e
        injected = False
    healthy, status = (False, None)
    if injected:
        healthy, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
    t_rec = time.time() - t0
    note("%s: %s after %.2f s of load (%d commits); back in %.2f s" %
         (label, what, delay, acks_before, t_rec))
    report("%s: recovered" % label, injected and healthy,
           None if injected and healthy else
           "%s\nhealth status: %r\n--- server log since the round began\n%s"
           % (what, status, relevant_log(cluster, log_from)))
    if not (injected and healthy):
        # bring it back for the remaining rounds if we can
        load.finish(30)
        try:
            if cluster.postmaster_pid() is None or not cluster.processes():
                cluster.start(attempts=3)
            wait_healthy(cluster, RECOVERY_TIMEOUT)
        except Exception as e:
            note("could not bring the cluster back: %s" % e)
        errors_seen.update(summarize_errors(shared, errors_seen))
        check_state(cluster, shared, label, log_from)
        return
    ok_prog, n = wait_acks(shared, 2 * CLIENTS, 30)
    report("%s: progress (%d commits after recovery)" % (label, n), ok_prog,
           None if ok_prog else "clients committed only %d transactions in 30 s after "
           "recovery\n--- server log\n%s" % (n, relevant_log(cluster, log_from)))
    time.sleep(0.3)
    stuck = load.finish(90)
    diag = None
    if stuck:
        diag = "client threads still running 90 s after stop: %s\n" % ", ".join(
            "%s in txn %r (%.1f s)" % (c.name, c.current[:2], time.time() - c.current[2])
            if c.current else c.name for c in stuck)
        try:
            with cluster.connect(timeout=5, autocommit=True) as conn:
                for r in conn.execute("SELECT pid, state, wait_event_type, wait_event, "
                                      "now() - xact_start, left(query, 80) FROM "
                                      "pg_stat_activity WHERE backend_type = 'client backend'"):
                    diag += "  %r\n" % (r,)
        except Exception as e:
            diag += "  (pg_stat_activity: %s)\n" % e
    report("%s: clients-stop" % label, not stuck, diag)
    errors_seen.update(summarize_errors(shared, errors_seen))
    # settle first (the worker settles in-doubt transactions every second),
    # then look at the data
    check_no_in_doubt(cluster, label, log_from)
    check_state(cluster, shared, label, log_from)
    check_log(cluster, label, log_from)


def check_durable_commit(cluster, label="durable-commit", n=3, async_session=False):
    """COMMIT of a transaction that wrote treestore tables must return after
    PostgreSQL's commit record is flushed: the worker settles in-doubt
    transactions by that record, and the engine's own commit is durable.
    PostgreSQL itself commits asynchronously a transaction that wrote no WAL
    of its own (RecordTransactionCommit), and any transaction when the
    session set synchronous_commit = off (async_session: each transaction
    then also writes a native table, whose row a crash would take away while
    the engine kept its own), so the extension has to force it.  The WAL
    writer is stopped (SIGSTOP) for the few milliseconds of the test so that
    only the committing backend could have flushed."""
    rows = []
    bad = 0
    ww = None
    what = ("synchronous_commit = off: COMMIT of a native + treestore transaction"
            if async_session else "treestore-only COMMIT")

    def write(conn, tag):
        if async_session:
            conn.execute("INSERT INTO durable_native (tag) VALUES (%s)", (tag,))
            conn.execute("INSERT INTO treestore.tool_results (result_id, case_id, tool_name) "
                         "VALUES (nextval('durable_ids'), 'durable', %s)", (tag,))
        else:
            conn.execute("INSERT INTO treestore.documents (policy_id, title) "
                         "VALUES (%s, 'durable commit')", (tag,))

    try:
        with cluster.connect(autocommit=True) as mon, cluster.connect() as conn:
            ww = mon.execute("SELECT pid FROM pg_stat_activity "
                             "WHERE backend_type = 'walwriter'").fetchone()[0]
            if not cluster.is_ours(ww):
                raise RuntimeError("walwriter pid %r is not ours" % ww)
            if async_session:
                mon.execute("CREATE TABLE IF NOT EXISTS durable_native (tag text)")
                mon.execute("CREATE SEQUENCE IF NOT EXISTS durable_ids MINVALUE -1000000000 "
                            "MAXVALUE -1 START -1 INCREMENT -1")
                conn.execute("SET synchronous_commit = off")
                conn.commit()
            # warm-up: the session's first transactions may write WAL of
            # their own (catalog pruning), which makes them synchronous
            for k in range(2):
                write(conn, "durable-warmup-%d-%d" % (k, async_session))
                conn.commit()
            os.kill(ww, signal.SIGSTOP)
            try:
                for k in range(n):
                    # A background record (the bgwriter's running-xacts
                    # snapshot, every 15 s) inserted after our COMMIT also
                    # shows as unflushed WAL: a commit that is really
                    # asynchronous is so every time, so only a transaction
                    # whose two retries also show it counts.
                    for attempt in range(3):
                        write(conn, "durable-%d-%d-%d" % (k, attempt, async_session))
                        xid = conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]
                        conn.commit()
                        ins, flu = mon.execute(
                            "SELECT pg_current_wal_insert_lsn()::text, "
                            "pg_current_wal_flush_lsn()::text").fetchone()
                        rows.append("xid %s: after COMMIT returned, WAL insert %s, flushed to %s"
                                    % (xid, ins, flu))
                        if ins == flu:
                            break
                    else:
                        bad += 1
            finally:
                os.kill(ww, signal.SIGCONT)
            if async_session:
                # the crash rounds count tool_results rows: these go
                conn.execute("DELETE FROM treestore.tool_results WHERE case_id = 'durable'")
                conn.commit()
    except Exception as e:
        report("%s: %s flushes its commit record" % (label, what), False,
               "%s\n%s" % (e, "\n".join(rows)))
        return
    report("%s: %s flushes its commit record (%d of %d did not)"
           % (label, what, bad, n), bad == 0,
           None if bad == 0 else
           "COMMIT returned before PostgreSQL's commit record was flushed (asynchronous "
           "commit).  A crash then loses the commit record -- and with it the PostgreSQL "
           "side of the transaction -- while the engine's commit is durable; the worker "
           "settles the engine transaction by that record (aborted, or in doubt until "
           "the xid is reused), so a COMMIT that returned with the warning \"committed "
           "but not yet visible\" is lost.\n"
           + "\n".join(rows))


def run_lost_xid(cluster, label, seq, attempts=10):
    """Deterministic: a transaction that wrote only treestore.documents is
    PREPAREd in the engine (pre-commit), then, while PostgreSQL sleeps
    commit_delay (100 ms, commit_siblings = 0) before flushing its commit
    record, the worker is killed: the cluster restarts and the commit record,
    still in the shared WAL buffers, is gone.  Nothing of that transaction
    reached PostgreSQL's WAL, so its xid is at or past the next xid after
    recovery and PostgreSQL hands it out again.  The document must end up
    present exactly when PostgreSQL says that transaction committed (here:
    absent), also after later transactions have reused the xid."""
    log_from = cluster.log_size()
    for attempt in range(1, attempts + 1):
        ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
        if not ok:
            report("%s: recovered" % label, False, "health: %r\n%s"
                   % (status, relevant_log(cluster, log_from)))
            return
        policy = "lostxid-%d-%d" % (seq, attempt)
        res = {}
        ready = threading.Event()

        def victim():
            try:
                with cluster.connect(timeout=5) as conn:
                    conn.execute("SET commit_delay = 100000")
                    conn.execute("SET commit_siblings = 0")
                    conn.execute("INSERT INTO treestore.documents (policy_id, title) "
                                 "VALUES (%s, 'lost xid')", (policy,))
                    res["xid"] = int(conn.execute(
                        "SELECT pg_current_xact_id()::text").fetchone()[0])
                    ready.set()
                    conn.commit()
                    res["acked"] = True
            except psycopg.Error as e:
                res["error"] = str(e).strip().split("\n")[0]
            finally:
                ready.set()

        wpid = worker_pid(cluster)
        # the monitor connects (and opens its channel to the worker) first:
        # the window is only commit_delay long
        mon = cluster.connect(timeout=5, autocommit=True)
        mon.execute("SELECT treestore.health()")
        t = threading.Thread(target=victim, daemon=True)
        t.start()
        ready.wait(10)
        seen = None
        try:
            deadline = time.time() + 2
            while time.time() < deadline:
                h = mon.execute("SELECT treestore.health()").fetchone()[0]
                if int(h.get("engine", {}).get("prepared", 0)) >= 1:
                    seen = time.time()
                    break
        except psycopg.Error:
            pass
        os.kill(wpid, signal.SIGKILL)
        try:
            mon.close()
        except psycopg.Error:
            pass
        t.join(60)
        if "xid" not in res or t.is_alive():
            report("%s: lost-xid" % label, False, "the victim transaction did not run: %r" % res)
            return
        ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
        if not ok:
            report("%s: recovered" % label, False, "health: %r\n%s"
                   % (status, relevant_log(cluster, log_from)))
            return
        xid = res["xid"]
        with cluster.connect(timeout=5, autocommit=True) as conn:
            nxt = int(conn.execute(
                "SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()[0])
            if xid >= nxt:
                verdict = "aborted"
                why = "xid %d is at or past the next xid %d after recovery: never committed" \
                    % (xid, nxt)
            else:
                verdict = conn.execute("SELECT pg_xact_status(%s::text::xid8)",
                                       (str(xid),)).fetchone()[0]
                why = "pg_xact_status(%d) = %s" % (xid, verdict)
            # new transactions: they get the lost xid again
            for k in range(5):
                conn.execute("INSERT INTO xid_burn VALUES (%s, %s)", (k, policy))
            reused = [int(r[0]) for r in conn.execute(
                "SELECT xmin::text FROM xid_burn WHERE note = %s", (policy,))]
        # let the worker settle (every second)
        deadline = time.time() + 5
        while time.time() < deadline:
            h = health_json(cluster)
            if h.get("status") == "ok" and int(h.get("engine", {}).get("prepared", -1)) == 0:
                break
            time.sleep(0.3)
        with cluster.connect(timeout=5, autocommit=True) as conn:
            present = conn.execute("SELECT count(*) FROM treestore.documents WHERE policy_id = %s",
                                   (policy,)).fetchone()[0] > 0
        hit = not res.get("acked")
        note("%s attempt %d: %s; victim %s, xid %d, %s; document %s; later xids %s"
             % (label, attempt, "worker killed while the engine held it prepared" if seen
                else "prepared state not seen before the kill",
                "acknowledged" if res.get("acked") else
                "failed (%s)" % res.get("error"), xid, why,
                "present" if present else "absent", reused))
        ok = present == (verdict == "committed") and not (res.get("acked") and not present)
        if not ok or hit:
            diag = None
            if not ok:
                diag = ("document %r is %s but PostgreSQL's transaction %d is %s (%s); "
                        "xids of the transactions run after recovery: %s\n"
                        % (policy, "present" if present else "absent", xid, verdict, why, reused))
                if res.get("acked") and verdict != "committed":
                    diag += ("the victim's COMMIT was acknowledged, yet PostgreSQL lost its "
                             "commit record: it committed asynchronously (see "
                             "durable-commit)\n")
                for l in cluster.log_since(log_from).splitlines():
                    if '"pg:%d"' % xid in l or '"pg:%d/' % xid in l or "transaction %d " % xid in l:
                        diag += "    " + l + "\n"
            report("%s: lost-xid (commit record lost: document follows PostgreSQL's "
                   "verdict '%s')" % (label, verdict), ok, diag)
            check_log(cluster, label, log_from)
            return
    # never conclusive: nothing was checked, and that is a failure to report
    report("%s: lost-xid (inconclusive: the kill never hit the window in %d attempts)"
           % (label, attempts), False,
           "every victim's COMMIT was acknowledged before the worker was killed; "
           "the case checked nothing")
    check_log(cluster, label, log_from)


def sqlerror(conn, sql, params=None):
    """Run sql expecting an error: (sqlstate, message, detail, hint), or
    None if it succeeded."""
    try:
        conn.execute(sql, params)
    except psycopg.Error as e:
        d = e.diag
        return (d.sqlstate, d.message_primary or "", d.message_detail or "",
                d.message_hint or "")
    return None


def check_case(name, fn):
    """Run one check: fn returns (ok, diag); an exception fails it."""
    try:
        ok, diag = fn()
    except Exception:
        ok, diag = False, traceback.format_exc()
    report(name, ok, None if ok else diag)
    return ok


def run_admin_cases(cluster):
    """Deterministic cases of the operator's view, each on a restart of the
    private cluster (README.md, "Inside PostgreSQL"):

      request-timeout  the worker stopped (SIGSTOP): a call with
                       treestore.request_timeout = '1s' fails in about a
                       second with 08006 instead of hanging, in a session that
                       already talked to the worker and in a new one; after
                       SIGCONT the same session works again.
      no-preload       a start without shared_preload_libraries: CREATE
                       EXTENSION fails with 55000 "treestore_fdw must be
                       loaded at server start" and the hint to add it, and a
                       function of an installed extension with 55000 too.
      open-failure     treestore.data_directory names a regular file: calls
                       get 57P03 with the reason in the detail; once the file
                       is gone the worker's retry (every 5 s) opens the engine
                       there -- the setting took effect: a new, empty engine in
                       that directory, and treestore.cache_size is the one
                       given at start.
      in-doubt         two transactions wrote treestore.documents, were
                       prepared in the engine and committed in PostgreSQL, but
                       never resolved (treestore.debug_fault = 'commit' makes
                       the commit callback fail; then pg_ctl -m immediate
                       stop); with PostgreSQL's oldest xid moved past them
                       (pg_resetwal -u, on a start without the library so the
                       worker cannot settle them first) the commit log cannot
                       decide them and they stay in doubt: the worker logs
                       "resolve it by hand", treestore.prepared_transactions()
                       lists both (gid, xid, origin 'recovery', the reason),
                       they stay there, and treestore.resolve_prepared()
                       commits one (its row appears) and aborts the other (its
                       row never does); resolving again is 42704."""
    # ---- request-timeout: a stopped worker
    ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
    if not ok:
        report("admin: cluster healthy before the cases", False, "health: %r" % status)
        return
    wpid = worker_pid(cluster)
    old = cluster.connect(timeout=5, autocommit=True)
    old.execute("SET treestore.backend_reads = off")     # through the worker
    old.execute("SELECT count(*) FROM treestore.documents")
    os.kill(wpid, signal.SIGSTOP)
    try:
        def timed_out(conn):
            conn.execute("SET treestore.backend_reads = off")
            conn.execute("SET treestore.request_timeout = '1s'")
            t0 = time.time()
            err = sqlerror(conn, "SELECT count(*) FROM treestore.documents")
            took = time.time() - t0
            ok = err is not None and err[0] == "08006" and 0.8 <= took <= 5
            return ok, "error %r after %.2f s (want 08006 after about 1 s)" % (err, took)
        check_case("request-timeout: a stopped worker gives 08006 after request_timeout "
                   "(session with a channel)", lambda: timed_out(old))
        with cluster.connect(timeout=5, autocommit=True) as fresh:
            check_case("request-timeout: a stopped worker gives 08006 after request_timeout "
                       "(new session)", lambda: timed_out(fresh))

        def reads_go_on():
            # reads in the backend do not ask the worker at all
            with cluster.connect(timeout=5, autocommit=True) as conn:
                conn.execute("SET treestore.request_timeout = '1s'")
                t0 = time.time()
                n = conn.execute("SELECT count(*) FROM treestore.documents").fetchone()[0]
                m = conn.execute("SELECT count(*) FROM treestore.get_subtree('no-such')").fetchone()[0]
                took = time.time() - t0
                return n >= 0 and m == 0 and took < 1, "answered in %.2f s" % took
        check_case("request-timeout: reads in the backend go on while the worker is stopped",
                   reads_go_on)
    finally:
        os.kill(wpid, signal.SIGCONT)

    def works_again():
        n = old.execute("SELECT count(*) FROM treestore.documents").fetchone()[0]
        return n >= 0, None
    check_case("request-timeout: after SIGCONT the same session works again", works_again)
    old.close()

    # ---- in-doubt, part 1: two prepared, committed, never resolved
    xids = {}
    conn = cluster.connect(timeout=5)
    conn.execute("SET treestore.debug_fault = 'commit'")
    conn.commit()
    for name in ("commit", "abort"):
        conn.execute("INSERT INTO treestore.documents (policy_id, title) "
                     "VALUES (%s, 'in doubt')", ("indoubt-" + name,))
        xids[name] = int(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
        conn.commit()      # the commit callback fails: a WARNING, still prepared
    # at once, with the session still there (the worker settles a prepared
    # transaction 5 s after its session moved on, or when the session ends):
    # everything stops, the engine's log holds them prepared
    cluster.stop("immediate")
    try:
        conn.close()
    except psycopg.Error:
        pass
    wait_gone(cluster, 30)

    # ---- no-preload
    log_from = cluster.log_size()
    cluster.start(opts="-c shared_preload_libraries=''")
    with cluster.connect(timeout=5, autocommit=True) as conn:
        def no_preload_create():
            conn.execute("DROP DATABASE IF EXISTS nopreload")
            conn.execute("CREATE DATABASE nopreload")
            with psycopg.connect(host=cluster.sock, port=PORT, user="postgres",
                                 dbname="nopreload", autocommit=True) as c2:
                err = sqlerror(c2, "CREATE EXTENSION treestore_fdw")
            conn.execute("DROP DATABASE nopreload")
            ok = (err is not None and err[0] == "55000"
                  and err[1] == "treestore_fdw must be loaded at server start"
                  and "shared_preload_libraries" in err[3])
            return ok, "CREATE EXTENSION gave %r" % (err,)
        check_case("no-preload: CREATE EXTENSION fails with 55000 and the hint", no_preload_create)

        def no_preload_call():
            err = sqlerror(conn, "SELECT count(*) FROM treestore.documents")
            ok = (err is not None and err[0] == "55000"
                  and "shared_preload_libraries" in err[3])
            return ok, "a scan gave %r" % (err,)
        check_case("no-preload: an installed extension's tables fail with 55000", no_preload_call)
    cluster.stop("fast")

    # the commit log no longer covers the two transactions
    oldest = max(xids.values()) + 1
    cluster.run_pg(["pg_resetwal", "-u", str(oldest), "-D", cluster.data])

    # ---- open-failure: data_directory is a regular file, then fixed
    blocked = os.path.join(cluster.tmp, "blocked")
    with open(blocked, "w") as f:
        f.write("not a directory\n")
    if AS_ROOT:
        pw = pwd.getpwnam("postgres")
        os.chown(blocked, pw.pw_uid, pw.pw_gid)
    cluster.start(opts="-c treestore.data_directory=%s -c treestore.cache_size=3MB" % blocked)
    try:
        with cluster.connect(timeout=5, autocommit=True) as conn:
            def refused():
                deadline = time.time() + 20
                err = None
                while time.time() < deadline:
                    err = sqlerror(conn, "SELECT count(*) FROM treestore.documents")
                    if err is not None and err[0] == "57P03" and blocked in err[2]:
                        return True, None
                    time.sleep(0.3)
                return False, "a scan gave %r (want 57P03 naming %s)" % (err, blocked)
            check_case("open-failure: calls get 57P03 with the reason", refused)
            os.unlink(blocked)

            def back():
                t0 = time.time()
                ok, status = wait_healthy(cluster, 20)
                return ok, "health after %.1f s: %r" % (time.time() - t0, status)
            check_case("open-failure: the worker opens the engine once the path is fixed", back)

            def took_effect():
                n = conn.execute("SELECT count(*) FROM treestore.documents").fetchone()[0]
                cache = conn.execute("SHOW treestore.cache_size").fetchone()[0]
                files = sorted(os.listdir(blocked)) if os.path.isdir(blocked) else []
                # about 8 MB of rows, written out, then read: a 3 MB cache
                # (768 pages of 4 KB) holds at most about that many
                conn.execute("INSERT INTO treestore.documents (policy_id, title) "
                             "SELECT 'cache-' || g, repeat('x', 2000) "
                             "FROM generate_series(1, 4000) g")
                conn.execute("SELECT treestore.checkpoint()")
                conn.execute("SELECT count(*), sum(length(title)) FROM treestore.documents")
                pages = int(conn.execute("SELECT treestore.stats()->'cache'->>'pages'"
                                         ).fetchone()[0])
                note("cache pages held with treestore.cache_size = 3MB: %d" % pages)
                ok = n == 0 and "treestore.db" in files and cache == "3MB" and pages <= 900
                return ok, ("documents %d (want 0: a new engine), files in %s: %s, "
                            "cache_size %s, cache pages held %d (want at most about 768)"
                            % (n, blocked, files, cache, pages))
            check_case("open-failure: data_directory and cache_size took effect", took_effect)
    finally:
        cluster.stop("fast")

    # ---- in-doubt, part 2: the worker cannot decide them; by hand
    cluster.start()
    ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
    # gids: "pg:<xid>/<server lifetime>/<LSN>" (src/xact.c)
    gid_of = {}
    with cluster.connect(timeout=5, autocommit=True) as conn:
        def listed():
            time.sleep(2.5)     # the worker tries to settle every second
            rows = conn.execute("SELECT gid, xid::text, status, origin, reason "
                                "FROM treestore.prepared_transactions() ORDER BY xid").fetchall()
            for r in rows:
                gid_of[r[1]] = r[0]
            ok = (len(rows) == 2 and all(
                r[1] in (str(xids["commit"]), str(xids["abort"]))
                and r[0].startswith("pg:%s/" % r[1]) and r[2] is None and r[3] == "recovery"
                and "resolve it by hand" in (r[4] or "") for r in rows))
            logged = "resolve it by hand" in cluster.log_since(log_from)
            return ok and logged, "rows %r, server log says 'resolve it by hand': %s" % (
                rows, logged)
        check_case("in-doubt: prepared_transactions() lists both, the worker leaves them",
                   listed)

        def resolved():
            gid_c = gid_of.get(str(xids["commit"]), "pg:%d" % xids["commit"])
            gid_a = gid_of.get(str(xids["abort"]), "pg:%d" % xids["abort"])
            before = conn.execute("SELECT count(*) FROM treestore.documents "
                                  "WHERE policy_id LIKE 'indoubt-%'").fetchone()[0]
            conn.execute("SELECT treestore.resolve_prepared(%s, true)", (gid_c,))
            conn.execute("SELECT treestore.resolve_prepared(%s, false)", (gid_a,))
            docs = [r[0] for r in conn.execute(
                "SELECT policy_id FROM treestore.documents WHERE policy_id LIKE 'indoubt-%' "
                "ORDER BY 1")]
            left = conn.execute("SELECT count(*) FROM treestore.prepared_transactions()"
                                ).fetchone()[0]
            again = sqlerror(conn, "SELECT treestore.resolve_prepared(%s, true)", (gid_c,))
            ok = (before == 0 and docs == ["indoubt-commit"] and left == 0
                  and again is not None and again[0] == "42704")
            return ok, ("rows before %d, after %r, still listed %d, resolving again: %r"
                        % (before, docs, left, again))
        check_case("in-doubt: resolve_prepared() commits one, aborts the other", resolved)
        conn.execute("DELETE FROM treestore.documents WHERE policy_id LIKE 'indoubt-%'")
    check_log(cluster, "admin", log_from)
    run_commit_wait_case(cluster)
    run_shm_full_case(cluster)
    run_backend_kill_case(cluster)


def run_commit_wait_case(cluster, attempts=8):
    """commit-wait: the COMMIT callback waits for the worker with interrupts
    held, so its wait has a bound of its own (5 s) whatever
    treestore.request_timeout says (here 10 minutes).  The worker is stopped
    (SIGSTOP) after it prepared the transaction (pre-commit) and before the
    commit callback resolves it -- inside commit_delay (100 ms) -- so COMMIT
    must return within seconds with the WARNING; once the worker runs again
    it settles the transaction by the commit log: the row is there.  An
    attempt whose stop missed the window is retried (bounded); never hitting
    it fails the case as inconclusive."""
    ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
    if not ok:
        report("commit-wait: cluster healthy", False, "health: %r" % status)
        return
    wpid = worker_pid(cluster)
    mon = cluster.connect(timeout=5, autocommit=True)
    for attempt in range(1, attempts + 1):
        policy = "commit-wait-%d" % attempt
        res = {}
        notices = []
        ready = threading.Event()

        def victim():
            try:
                with cluster.connect(timeout=5) as conn:
                    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
                    conn.execute("SET treestore.request_timeout = '10min'")
                    conn.execute("SET commit_delay = 100000")    # 100 ms before the flush
                    conn.execute("SET commit_siblings = 0")
                    conn.execute("INSERT INTO treestore.documents (policy_id, title) "
                                 "VALUES (%s, 'x')", (policy,))
                    ready.set()
                    t0 = time.time()
                    conn.commit()
                    res["took"] = time.time() - t0
            except psycopg.Error as e:
                res["error"] = str(e).strip().split("\n")[0]
            finally:
                ready.set()

        t = threading.Thread(target=victim, daemon=True)
        t.start()
        ready.wait(10)
        stopped = False
        try:
            deadline = time.time() + 3
            while time.time() < deadline and t.is_alive():
                h = mon.execute("SELECT treestore.health()").fetchone()[0]
                if int(h.get("engine", {}).get("prepared", 0)) >= 1:
                    os.kill(wpid, signal.SIGSTOP)
                    stopped = True
                    break
            t.join(30)
        finally:
            if stopped:
                os.kill(wpid, signal.SIGCONT)
        warned = any("committed but not yet visible" in n for n in notices)
        if not stopped or not warned:
            # the stop missed the window (the resolve came first): again
            note("commit-wait attempt %d: stopped %s, COMMIT %r s, warned %s: retried"
                 % (attempt, stopped, res.get("took"), warned))
            time.sleep(0.5)
            continue
        took = res.get("took")
        note("commit-wait attempt %d: COMMIT returned after %.2f s with the warning"
             % (attempt, took or -1))
        check_case("commit-wait: COMMIT with a stopped worker returns within its own bound "
                   "(request_timeout 10 min)", lambda: (
                       not t.is_alive() and took is not None and took < 15,
                       "COMMIT took %r s, error %r" % (took, res.get("error"))))

        def settled():
            deadline = time.time() + 20
            n = 0
            while time.time() < deadline:
                n = mon.execute("SELECT count(*) FROM treestore.documents "
                                "WHERE policy_id = %s", (policy,)).fetchone()[0]
                if n == 1:
                    return True, None
                time.sleep(0.3)
            return False, "the row is not there 20 s after SIGCONT (count %d)" % n
        check_case("commit-wait: the worker settles it by the commit log", settled)
        break
    else:
        report("commit-wait: inconclusive (the stop never hit the window in %d attempts)"
               % attempts, False)
    mon.execute("DELETE FROM treestore.documents WHERE policy_id LIKE 'commit-wait-%'")
    mon.close()


def run_backend_kill_case(cluster):
    """backend-kill: a backend reading the engine itself (a cursor holding
    its snapshot, registered in the engine's reader table) is SIGKILLed while
    another session rewrites the rows it reads, so the worker reuses pages
    around it.  PostgreSQL restarts every process; afterwards every committed
    write is there and a new session reads it in its backend."""
    ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
    if not ok:
        report("backend-kill: cluster healthy before the case", False, "health: %r" % status)
        return
    with cluster.connect(timeout=5, autocommit=True) as w:
        w.execute("INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, action) "
                  "SELECT 'bk', 't', g, 'v0 ' || repeat('x', 2000) FROM generate_series(1, 300) g")

    # a session ended by FATAL (pg_terminate_backend: what an unexpected
    # postmaster exit does too) while its transaction holds an open cursor
    # and snapshots read in the backend: it exits cleanly, nothing restarts
    log_from = cluster.log_size()
    victim = cluster.connect(timeout=5)
    vpid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]
    victim.execute("SELECT count(*) FROM treestore.trajectories WHERE case_id = 'bk'")
    victim.execute("DECLARE v CURSOR FOR SELECT step_number FROM treestore.trajectories "
                   "WHERE case_id = 'bk'")
    victim.execute("FETCH 1 FROM v")

    def terminated_cleanly():
        with cluster.connect(timeout=5, autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(%s)", (vpid,))
            deadline = time.time() + 10
            while time.time() < deadline and c.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (vpid,)).fetchone()[0]:
                time.sleep(0.05)
            gone = not c.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                 (vpid,)).fetchone()[0]
            n = c.execute("SELECT count(*) FROM treestore.trajectories WHERE case_id = 'bk'"
                          ).fetchone()[0]
        bad = [l for l in cluster.log_since(log_from).splitlines()
               if "double free" in l or "Assertion" in l or "terminated by signal" in l]
        return gone and n == 300 and not bad, "gone %r, rows %r, log %r" % (gone, n, bad[:5])
    check_case("backend-kill: a session ended by FATAL in a transaction that read in the "
               "backend exits cleanly", terminated_cleanly)
    try:
        victim.close()
    except Exception:
        pass

    reader = cluster.connect(timeout=5)
    rpid = reader.execute("SELECT pg_backend_pid()").fetchone()[0]
    reader.execute("DECLARE c CURSOR FOR SELECT step_number, left(action, 3) "
                   "FROM treestore.trajectories WHERE case_id = 'bk' ORDER BY step_number")
    first = reader.execute("FETCH 1 FROM c").fetchone()
    last = 0
    with cluster.connect(timeout=5, autocommit=True) as w:
        for v in range(1, 21):
            w.execute("UPDATE treestore.trajectories SET action = %s || repeat('x', 2000) "
                      "WHERE case_id = 'bk'", ("v%d " % v,))
            last = v
    # the cursor still reads its snapshot, whole
    rest = reader.execute("FETCH ALL FROM c").fetchall()
    check_case("backend-kill: the cursor reads its own snapshot while the rows are rewritten",
               lambda: (first == (1, "v0 ") and len(rest) == 299 and
                        all(a == "v0 " for _, a in rest),
                        "first %r, %d more, values %r" % (first, len(rest),
                                                          sorted({a for _, a in rest}))))
    reader.execute("FETCH ABSOLUTE 1 FROM c")
    log_from = cluster.log_size()
    os.kill(rpid, signal.SIGKILL)
    try:
        reader.close()
    except Exception:
        pass
    ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
    check_case("backend-kill: the cluster comes back after the reader's SIGKILL",
               lambda: (ok, "health: %r" % status))

    def all_there():
        with cluster.connect(timeout=5, autocommit=True) as c:
            rows = c.execute("SELECT left(action, 4), count(*) FROM treestore.trajectories "
                             "WHERE case_id = 'bk' GROUP BY 1").fetchall()
            plan = "\n".join(r[0] for r in c.execute(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                "SELECT count(*) FROM treestore.trajectories WHERE case_id = 'bk'").fetchall())
            c.execute("DELETE FROM treestore.trajectories WHERE case_id = 'bk'")
        want = [("v%d " % last, 300)]
        return rows == want and "Read In: backend" in plan, "rows %r, plan:\n%s" % (rows, plan)
    check_case("backend-kill: every committed write is there, read in the backend", all_there)
    check_log(cluster, "backend-kill", log_from)


def run_shm_full_case(cluster):
    """shm-full: dynamic shared memory runs out (Docker's /dev/shm is 64 MB).
    With dynamic_shared_memory_type = mmap the segments are files in
    pg_dynshmem, here a 4 MB tmpfs filled up: a new session's first call
    must fail at once with 53100 and a hint naming the channel and
    --shm-size -- not hang -- and work once space is back.  Needs root (a
    mount); otherwise reported as skipped, not passed."""
    shm = os.path.join(cluster.data, "pg_dynshmem")
    cluster.stop("fast")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700,uid=%d,gid=%d" % (
        pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid) if AS_ROOT
        else "size=4m", "tmpfs", shm], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    if r.returncode != 0:
        note("skip shm-full: cannot mount a tmpfs on %s: %s" % (shm, r.stdout.strip()))
        print("ok shm-full: a full dynamic shared memory gives 53100 # SKIP no mount",
              flush=True)
        cluster.start()
        return
    filler = os.path.join(shm, "filler")
    try:
        cluster.start(opts="-c dynamic_shared_memory_type=mmap")
        ok, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
        with cluster.connect(timeout=5, autocommit=True) as conn:
            # fill what is left, once the health check's session (and its
            # channel's segment) has gone
            deadline = time.time() + 10
            while time.time() < deadline and conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                    ).fetchone()[0] > 1:
                time.sleep(0.1)
            with open(filler, "wb", buffering=0) as f:
                for size in (65536, 4096, 1):
                    try:
                        while f.write(b"\0" * size) == size:
                            pass
                    except OSError:
                        pass

            def reads_here():
                # a read in the backend needs no dynamic shared memory
                n = conn.execute("SELECT count(*) FROM treestore.documents").fetchone()[0]
                return n >= 0, None
            check_case("shm-full: reads in the backend need no channel", reads_here)

            def refused():
                conn.execute("SET treestore.backend_reads = off")     # through the worker
                t0 = time.time()
                err = sqlerror(conn, "SELECT count(*) FROM treestore.documents")
                took = time.time() - t0
                ok = (err is not None and err[0] == "53100" and "--shm-size" in err[3]
                      and took < 5)
                vfs = os.statvfs(shm)
                return ok, ("the first call gave %r after %.2f s (dynamic_shared_memory_type "
                            "%s, %d bytes free in %s)" % (
                                err, took, conn.execute("SHOW dynamic_shared_memory_type"
                                                        ).fetchone()[0],
                                vfs.f_bavail * vfs.f_frsize, shm))
            check_case("shm-full: a session's first call fails with 53100 and the hint", refused)
            os.unlink(filler)

            def back():
                n = conn.execute("SELECT count(*) FROM treestore.documents").fetchone()[0]
                return n >= 0, None
            check_case("shm-full: once space is back the same session works", back)
    finally:
        if os.path.exists(filler):
            os.unlink(filler)
        cluster.stop("fast", check=False)
        subprocess.run(["umount", shm], check=False)
        cluster.start()


def main():
    rng = random.Random(SEED)
    plan = [k for k, n in ROUNDS.items() for _ in range(n)]
    rng.shuffle(plan)
    note("seed %d, %d clients, rounds: %s" % (SEED, CLIENTS, ", ".join(
        "%s %d" % kv for kv in ROUNDS.items())))
    note("replay with TS_PGCRASH_SEED=%d" % SEED)
    t_start = time.time()
    cluster = None
    shared = Shared()
    try:
        cluster = Cluster()
        note("cluster in %s, port %d" % (cluster.tmp, PORT))
        try:
            cluster.initdb()
            cluster.start()
            with cluster.connect(autocommit=True) as conn:
                conn.execute("CREATE EXTENSION treestore_fdw")
                conn.execute("CREATE TABLE ledger (id bigint PRIMARY KEY, note text)")
                conn.execute("CREATE TABLE xid_burn (n int, note text)")
            healthy, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
            if not healthy:
                raise RuntimeError("health() never said ok: %r" % status)
            report("setup (initdb, start, CREATE EXTENSION, ledger)", True)
        except Exception as e:
            report("setup (initdb, start, CREATE EXTENSION, ledger)", False,
                   "%s\n--- server log\n%s" % (e, cluster.log_tail()))
            return
        check_durable_commit(cluster)
        check_durable_commit(cluster, "durable-commit-async", async_session=True)
        errors_seen = {}
        for n, kind in enumerate(plan, 1):
            run_round(cluster, shared, rng, "round %d %s" % (n, kind), kind, errors_seen)
        for n in range(1, LOST_XID_ROUNDS + 1):
            run_lost_xid(cluster, "lost-xid %d" % n, n)
        if ADMIN_CASES:
            run_admin_cases(cluster)
        # a last clean restart with no load: everything still there
        log_from = cluster.log_size()
        try:
            cluster.stop("fast")
            cluster.start()
            healthy, status = wait_healthy(cluster, RECOVERY_TIMEOUT)
            report("final-restart: recovered", healthy, None if healthy else
                   "health: %r\n%s" % (status, relevant_log(cluster, log_from)))
        except Exception as e:
            report("final-restart: recovered", False, "%s\n%s" % (e, cluster.log_tail()))
        check_no_in_doubt(cluster, "final-restart", log_from)
        check_state(cluster, shared, "final-restart", log_from)
        check_log(cluster, "final-restart", log_from)
        with shared.lock:
            note("%d transactions attempted, %d pairs and %d documents acknowledged"
                 % (len(shared.attempted), len(shared.acked_pairs), len(shared.acked_docs)))
            for k, v in sorted(shared.warnings.items(), key=lambda kv: -kv[1])[:8]:
                note("  client notice x%d  %s" % (v, k))
            unexpected = dict(shared.unexpected)
        report("client errors: only connection, shutdown and restart SQLSTATEs (%d others)"
               % sum(unexpected.values()), not unexpected,
               None if not unexpected else "\n".join(
                   "x%d  %s" % (v, k)
                   for k, v in sorted(unexpected.items(), key=lambda kv: -kv[1])[:15]))
    except Exception:
        report("harness", False, traceback.format_exc())
    finally:
        if cluster is not None:
            cluster.teardown()
            if failed == 0 and not KEEP:
                shutil.rmtree(cluster.tmp, ignore_errors=True)
            else:
                note("kept %s (server log %s)" % (cluster.tmp, cluster.log))
        note("runtime %.1f s" % (time.time() - t_start))
        if failures:
            note("failed: " + "; ".join(failures[:20]))
        print("%d passed, %d failed" % (passed, failed), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(1 if failed else 0)
