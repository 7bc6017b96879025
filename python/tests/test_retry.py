"""Retries: reads and idempotent writes survive a killed backend, other
writes surface at once, run_in_transaction reruns on real 40001 conflicts."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest

from docs import policy_tree
from treestore import (
    AsyncTreeStoreClient,
    Conflict,
    TreeStoreClient,
    Unavailable,
)
from treestore.retry import BASE_DELAY, MAX_DELAY, backoff


def terminate(admin: psycopg.Connection[Any], pid: int) -> None:
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for _ in range(200):
        gone = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
        if gone.fetchone() is None:
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} still there")


def pooled_pid(client: TreeStoreClient) -> int:
    with client.pool.connection() as conn:
        return conn.info.backend_pid


def test_read_is_retried_after_its_backend_is_killed(dsn: str, admin: psycopg.Connection[Any],
                                                     uid: str) -> None:
    with TreeStoreClient(dsn, min_size=1, max_size=1) as c:
        c.store_document(uid, "v1", policy_tree())
        old = pooled_pid(c)
        terminate(admin, old)
        node = c.get_node(uid, "0001")
        assert node is not None and node.title == "Prior Authorization"
        assert pooled_pid(c) != old


def test_reads_survive_every_pooled_backend_killed(dsn: str, admin: psycopg.Connection[Any],
                                                   uid: str) -> None:
    # four dead connections in the pool, one retry: the failed attempt makes
    # the pool drop the other dead ones, so the retry gets a live connection
    with TreeStoreClient(dsn, min_size=4, max_size=4, retries=1) as c:
        c.store_document(uid, "v1", policy_tree())
        held = [c.pool.getconn() for _ in range(4)]
        pids = [conn.info.backend_pid for conn in held]
        for conn in held:
            c.pool.putconn(conn)
        for pid in pids:
            terminate(admin, pid)
        assert [n.node_id for n in c.get_subtree(uid)] == ["0000", "0001", "0002", "0003", "0004"]


def test_write_is_not_retried_after_its_backend_is_killed(dsn: str,
                                                          admin: psycopg.Connection[Any],
                                                          uid: str) -> None:
    with TreeStoreClient(dsn, min_size=1, max_size=1) as c:
        c.health()
        terminate(admin, pooled_pid(c))
        with pytest.raises(Unavailable):
            c.store_tool_result(uid, "pi_search", {"n": 1})
        assert c.get_tool_results(uid) == []  # and the next call works again


def test_idempotent_write_is_retried(dsn: str, admin: psycopg.Connection[Any],
                                     uid: str) -> None:
    with TreeStoreClient(dsn, min_size=1, max_size=1) as c:
        c.health()
        terminate(admin, pooled_pid(c))
        assert c.store_document(uid, "v1", policy_tree(), replace=True) == 5
        terminate(admin, pooled_pid(c))
        assert c.delete_document(uid) == 7


def test_no_retry_when_retries_is_zero(dsn: str, admin: psycopg.Connection[Any]) -> None:
    with TreeStoreClient(dsn, min_size=1, max_size=1, retries=0) as c:
        c.health()
        terminate(admin, pooled_pid(c))
        with pytest.raises(Unavailable):
            c.health()


def test_async_read_is_retried(dsn: str, admin: psycopg.Connection[Any], uid: str) -> None:
    async def main() -> None:
        async with AsyncTreeStoreClient(dsn, min_size=1, max_size=1) as c:
            await c.store_document(uid, "v1", policy_tree())
            async with c.pool.connection() as conn:
                old = conn.info.backend_pid
            terminate(admin, old)
            node = await c.get_node(uid, "0002")
            assert node is not None and node.title == "Imaging Studies"
            with pytest.raises(Unavailable):
                async with c.pool.connection() as conn:
                    pid = conn.info.backend_pid
                terminate(admin, pid)
                await c.store_tool_result(uid, "t", {})
    asyncio.run(main())


def test_run_in_transaction_reruns_real_conflicts(dsn: str, uid: str) -> None:
    threads, per_thread = 8, 5
    attempts = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    with TreeStoreClient(dsn, max_size=threads) as c:
        def add_version(t: TreeStoreClient) -> int:
            with lock:
                attempts.append(1)
            version = t.store_prompt(uid, "template")
            time.sleep(0.005)  # widen the window in which another commits first
            return version

        def work() -> None:
            try:
                for _ in range(per_thread):
                    c.run_in_transaction(add_version, retries=200)
            except BaseException as exc:  # noqa: BLE001 -- reported below
                errors.append(exc)

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert errors == []
        versions = [c.get_prompt(uid, v) for v in range(1, threads * per_thread + 2)]
    assert all(p is not None for p in versions[:-1]) and versions[-1] is None
    assert len(attempts) > threads * per_thread  # some attempts lost to 40001 and ran again


def test_without_run_in_transaction_the_conflict_surfaces(dsn: str, uid: str) -> None:
    with TreeStoreClient(dsn, max_size=2) as a, TreeStoreClient(dsn, max_size=2) as b:
        with pytest.raises(Conflict) as exc:
            with a.transaction():
                a.store_prompt(uid, "a")
                b.store_prompt(uid, "b")
        assert exc.value.sqlstate == "40001"
        calls = []

        def once(t: TreeStoreClient) -> None:
            calls.append(1)
            t.store_prompt(uid, "a")
            if len(calls) == 1:
                b.store_prompt(uid, "b")  # a concurrent writer commits the same key first

        a.run_in_transaction(once)
        assert len(calls) == 2
        prompts = [a.get_prompt(uid, v) for v in (1, 2, 3)]
        assert [p.template if p else None for p in prompts] == ["b", "b", "a"]


def test_run_in_transaction_surfaces_other_errors_at_once(client: TreeStoreClient,
                                                          uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    calls = []

    def dup(t: TreeStoreClient) -> None:
        calls.append(1)
        t.store_tool_result(uid, "x", {})
        t.store_document(uid, "v1", policy_tree())

    with pytest.raises(Conflict) as exc:
        client.run_in_transaction(dup)
    assert exc.value.sqlstate == "23505" and len(calls) == 1
    assert client.get_tool_results(uid) == []


def test_run_in_transaction_reruns_after_connection_lost_before_commit(
        dsn: str, admin: psycopg.Connection[Any], uid: str) -> None:
    calls = []
    with TreeStoreClient(dsn, max_size=1) as c:
        def fn(t: TreeStoreClient) -> int:
            calls.append(1)
            rid = t.store_tool_result(uid, "t", {"attempt": len(calls)})
            if len(calls) == 1:
                terminate(admin, t._txn.get().info.backend_pid)  # type: ignore[union-attr]
            t.store_trajectory(uid, [{"action": "a"}], trajectory_id="t")
            return rid

        c.run_in_transaction(fn)
        assert len(calls) == 2
        assert [r.output for r in c.get_tool_results(uid)] == [{"attempt": 2}]
        assert len(c.get_trajectory(uid)) == 1


def test_run_in_transaction_gives_up_after_retries(dsn: str, uid: str) -> None:
    calls = []
    with TreeStoreClient(dsn, max_size=2) as a, TreeStoreClient(dsn, max_size=2) as b:
        def always_loses(t: TreeStoreClient) -> None:
            calls.append(1)
            t.store_prompt(uid, "a")
            b.store_prompt(uid, "b")

        with pytest.raises(Conflict):
            a.run_in_transaction(always_loses, retries=2)
    assert len(calls) == 3


def test_run_in_transaction_is_not_nested(client: TreeStoreClient) -> None:
    with client.transaction():
        with pytest.raises(Exception, match="cannot run inside a transaction"):
            client.run_in_transaction(lambda t: None)


def test_backoff_is_capped_and_jittered() -> None:
    for attempt in range(12):
        bound = min(MAX_DELAY, BASE_DELAY * 2 ** attempt)
        draws = [backoff(attempt) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in draws)
        assert len(set(draws)) > 150  # jittered: not one fixed delay
    assert max(backoff(30) for _ in range(100)) <= MAX_DELAY


def test_rerun_rule() -> None:
    from treestore import TreeStoreError
    from treestore.retry import rerun_transaction

    def err(state: str | None) -> TreeStoreError:
        return TreeStoreError("failed", sqlstate=state)

    assert rerun_transaction(err("40001"), committing=True, attempt=0, limit=3)
    assert rerun_transaction(err("40P01"), committing=False, attempt=2, limit=3)
    assert not rerun_transaction(err("40001"), committing=True, attempt=3, limit=3)
    assert rerun_transaction(err("57P01"), committing=False, attempt=0, limit=3)
    unknown = err("57P01")
    assert not rerun_transaction(unknown, committing=True, attempt=0, limit=3)
    assert "outcome is unknown" in unknown.message
    assert not rerun_transaction(err("23505"), committing=False, attempt=0, limit=3)
