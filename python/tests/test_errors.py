"""Each error class, raised from a real server error, keeps the server's
message, detail and SQLSTATE."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

import treestore.errors as errors
from docs import policy_tree
from treestore import (
    Conflict,
    InvalidDocument,
    NotFound,
    PermissionDenied,
    PoolTimeout,
    TreeStoreClient,
    TreeStoreError,
    Unavailable,
)


def test_invalid_document_names_the_node(client: TreeStoreClient, uid: str) -> None:
    bad = {"structure": [{"title": "ok", "nodes": [{"node_id": "x"}]}]}
    with pytest.raises(InvalidDocument) as exc:
        client.store_document(uid, "v1", bad)
    e = exc.value
    assert e.sqlstate == "22023"
    assert "$.structure[0].nodes[0]" in e.message and "title" in e.message
    assert isinstance(e.__cause__, psycopg.Error)
    assert client.list_versions(uid) == []  # nothing of the call stored


def test_invalid_document_keeps_detail_and_hint(client: TreeStoreClient, uid: str) -> None:
    with pytest.raises(InvalidDocument) as exc:
        client.store_document(uid, "v1", [{"title": "a", "start_index": "one"}])
    e = exc.value
    assert e.sqlstate == "22023"
    cause = e.__cause__
    assert isinstance(cause, psycopg.Error)
    assert (e.message, e.detail, e.hint) == (cause.diag.message_primary,
                                             cause.diag.message_detail, cause.diag.message_hint)
    assert e.message in str(e) and "22023" in str(e)


def test_invalid_date_is_invalid_input(client: TreeStoreClient) -> None:
    with pytest.raises(InvalidDocument) as exc:
        client.get_version_as_of("p", "2025-02-30")
    assert exc.value.sqlstate == "22008"


def test_conflict_on_duplicate_key(client: TreeStoreClient, uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    with pytest.raises(Conflict) as exc:
        client.store_document(uid, "v1", policy_tree())
    assert exc.value.sqlstate == "23505"
    assert exc.value.message


def test_conflict_on_serialization_failure(dsn: str, uid: str) -> None:
    with TreeStoreClient(dsn, max_size=2) as a, TreeStoreClient(dsn, max_size=2) as b:
        with pytest.raises(Conflict) as exc:
            with a.transaction():
                a.store_prompt(uid, "first")
                b.store_prompt(uid, "second")  # commits first: same key
        assert exc.value.sqlstate == "40001"
    with TreeStoreClient(dsn) as c:
        p = c.get_prompt(uid)
        assert p is not None and (p.version, p.template) == (1, "second")


def test_not_found_without_the_extension(admin: psycopg.Connection[Any],
                                         server: Any) -> None:
    admin.execute("DROP DATABASE IF EXISTS noext")
    admin.execute("CREATE DATABASE noext")
    with TreeStoreClient(server.dsn("noext"), retries=0) as c:
        with pytest.raises(NotFound) as exc:
            c.get_node("p", "0001")
    assert exc.value.sqlstate in ("3F000", "42883")


def test_permission_denied(client: TreeStoreClient, admin: psycopg.Connection[Any],
                           server: Any, uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    admin.execute("DROP OWNED BY ts_reader" if admin.execute(
        "SELECT 1 FROM pg_roles WHERE rolname = 'ts_reader'").fetchone() else "SELECT 1")
    admin.execute("DROP ROLE IF EXISTS ts_reader")
    admin.execute("CREATE ROLE ts_reader LOGIN")
    with TreeStoreClient(server.dsn(user="ts_reader"), retries=0) as c:
        with pytest.raises(PermissionDenied) as exc:
            c.get_node(uid, "0001")  # no EXECUTE on the function
        assert exc.value.sqlstate == "42501" and "get_node" in exc.value.message
        with pytest.raises(PermissionDenied) as exc:
            c.get_nodes(uid, "v1", ["0001"])  # no SELECT on treestore.nodes
        assert exc.value.sqlstate == "42501" and "nodes" in exc.value.message
        with pytest.raises(PermissionDenied):
            c.store_trajectory(uid, [{"action": "a"}])  # no INSERT on trajectories
        admin.execute("GRANT SELECT ON treestore.nodes TO ts_reader")
        assert c.get_nodes(uid, "v1", ["0001"])["0001"].title == "Prior Authorization"
    admin.execute("DROP OWNED BY ts_reader")
    admin.execute("DROP ROLE ts_reader")


def test_unavailable_when_the_backend_is_terminated(client: TreeStoreClient,
                                                    admin: psycopg.Connection[Any],
                                                    uid: str) -> None:
    # inside a transaction nothing is retried: the caller sees the failure
    with pytest.raises(Unavailable) as exc:
        with client.transaction():
            client.store_tool_result(uid, "t", {})
            pid = client._txn.get().info.backend_pid  # type: ignore[union-attr]
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            client.store_tool_result(uid, "t", {})
    assert exc.value.sqlstate in ("57P01", None)
    assert errors.is_transient(exc.value)
    assert client.get_tool_results(uid) == []


def test_unavailable_when_the_server_is_down(tmp_path: Any) -> None:
    started = time.monotonic()
    with TreeStoreClient(f"host={tmp_path} port=1", timeout=1.0, retries=0) as c:
        with pytest.raises(Unavailable) as exc:
            c.health()
    assert "No such file or directory" in exc.value.message or "connect" in exc.value.message
    assert "1 s" in (exc.value.detail or "")
    assert time.monotonic() - started < 15


def test_pool_exhaustion_is_a_clear_timeout(dsn: str) -> None:
    import threading
    with TreeStoreClient(dsn, max_size=1, timeout=0.5) as c:
        held = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with c.transaction():
                c.health()
                held.set()
                release.wait(10)

        t = threading.Thread(target=hold)
        t.start()
        try:
            assert held.wait(10)
            started = time.monotonic()
            with pytest.raises(PoolTimeout) as exc:
                c.health()
            waited = time.monotonic() - started
        finally:
            release.set()
            t.join()
        assert 0.4 < waited < 5
        assert "no free connection within 0.5 s" in exc.value.message
        assert "max_size 1" in exc.value.message
        assert isinstance(exc.value, Unavailable) and not errors.is_transient(exc.value)
        assert c.health()["status"] == "ok"  # usable again once the connection is back


@pytest.mark.parametrize("sqlstate,cls", [
    ("23505", Conflict), ("40001", Conflict), ("40P01", Conflict), ("23503", Conflict),
    ("22023", InvalidDocument), ("22P02", InvalidDocument), ("23502", InvalidDocument),
    ("42501", PermissionDenied), ("28P01", PermissionDenied),
    ("08006", Unavailable), ("57P01", Unavailable), ("57P03", Unavailable),
    ("53300", Unavailable), ("55000", Unavailable),
    ("3F000", NotFound), ("42883", NotFound), ("42P01", NotFound),
    ("57014", TreeStoreError), ("XX000", TreeStoreError), ("42601", TreeStoreError),
])
def test_class_by_sqlstate(admin: psycopg.Connection[Any], sqlstate: str,
                           cls: type[TreeStoreError]) -> None:
    """Every row of the mapping, through a real server error of that SQLSTATE
    (raised by PL/pgSQL with a detail and a hint)."""
    try:
        admin.execute(
            "DO $$ BEGIN RAISE EXCEPTION 'the message' USING ERRCODE = '" + sqlstate + "',"
            " DETAIL = 'The detail.', HINT = 'The hint.'; END $$")
    except psycopg.Error as exc:
        err = errors.from_psycopg(exc)
    else:
        pytest.fail("no error raised")
    assert type(err) is cls
    assert (err.message, err.detail, err.hint, err.sqlstate) == \
        ("the message", "The detail.", "The hint.", sqlstate)


def test_transient_and_rollback_classification() -> None:
    for state in ("40001", "40P01", "57P01", "57P02", "57P03", "57P05", "08006", "08003"):
        assert errors.is_transient(TreeStoreError("x", sqlstate=state)), state
    for state in ("23505", "22023", "42501", "57014", "53300", "57P04"):
        assert not errors.is_transient(TreeStoreError("x", sqlstate=state)), state
    assert errors.is_rollback(TreeStoreError("x", sqlstate="40001"))
    assert not errors.is_rollback(TreeStoreError("x", sqlstate="57P01"))
