"""Every method of TreeStoreClient against a real server, with known answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from docs import policy_tree
from treestore import (
    Conflict,
    CrossReference,
    Document,
    InvalidDocument,
    Node,
    NotFound,
    Prompt,
    SearchHit,
    ToolResult,
    TrajectoryStep,
    TreeStoreClient,
    Version,
)


def old_word(uid: str) -> str:
    """A word only v1 of the test's policy holds."""
    return "old" + uid[-8:]


def new_word(uid: str) -> str:
    """A word only v2 of the test's policy holds."""
    return "new" + uid[-8:]


@pytest.fixture
def policy(client: TreeStoreClient, uid: str) -> str:
    """A policy with v1 (from 2024-01-01) and v2 (from 2025-01-01)."""
    client.store_document(uid, "v1", policy_tree(marker=old_word(uid)),
                          effective_from=dt.date(2024, 1, 1), metadata={"source": "test"})
    client.store_document(uid, "v2", policy_tree(marker=new_word(uid)),
                          effective_from=dt.date(2025, 1, 1))
    return uid


def test_store_document_returns_nodes_and_get_document_round_trips(client: TreeStoreClient,
                                                                   uid: str) -> None:
    tree = policy_tree()
    assert client.store_document(uid, "v1", tree) == 5
    assert client.get_document(uid, include_text=True) == tree
    without_text = client.get_document(uid)
    assert "text" not in without_text["structure"][0]
    assert without_text["structure"][0]["summary"] == tree["structure"][0]["summary"]


def test_store_document_replace(client: TreeStoreClient, uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    with pytest.raises(Conflict) as exc:
        client.store_document(uid, "v1", policy_tree())
    assert exc.value.sqlstate == "23505"
    smaller = {"doc_name": "x.pdf", "structure": [{"title": "Only", "node_id": "0000"}]}
    assert client.store_document(uid, "v1", smaller, replace=True) == 1
    assert [n.title for n in client.get_subtree(uid)] == ["Only"]


def test_get_document_versions_and_not_found(client: TreeStoreClient, policy: str) -> None:
    v1 = client.get_document(policy, version_id="v1")
    assert v1["structure"][0]["summary"].endswith(old_word(policy))
    as_of = client.get_document(policy, as_of=dt.date(2024, 6, 1))
    assert as_of == v1
    assert client.get_document(policy, as_of="2025-06-01")["structure"][0]["summary"].endswith(
        new_word(policy))
    with pytest.raises(NotFound):
        client.get_document(policy, version_id="v9")
    with pytest.raises(NotFound):
        client.get_document(policy + "-none")


def test_delete_document(client: TreeStoreClient, policy: str) -> None:
    removed = client.delete_document(policy, "v1")
    assert removed == 6  # five nodes and the version row
    assert [v.version_id for v in client.list_versions(policy)] == ["v2"]
    assert client.delete_document(policy) == 7  # v2's nodes, version, documents row
    assert client.list_versions(policy) == []
    assert client.delete_document(policy) == 0


def test_list_documents(client: TreeStoreClient, policy: str) -> None:
    docs = {d.policy_id: d for d in client.list_documents()}
    d = docs[policy]
    assert isinstance(d, Document)
    assert (d.title, d.latest_version_id, d.version_count) == \
        ("Lumbar Imaging Policy.pdf", "v2", 2)


def test_get_node(client: TreeStoreClient, policy: str) -> None:
    n = client.get_node(policy, "0002", version_id="v1")
    assert isinstance(n, Node)
    assert (n.policy_id, n.version_id, n.node_id, n.parent_id) == (policy, "v1", "0002", "0001")
    assert (n.depth, n.ordinal, n.page_start, n.page_end) == (3, 0, 2, 2)
    assert n.section_path == "Coverage Rationale > Prior Authorization > Imaging Studies"
    assert n.metadata == {"keywords": ["MRI", "CT"]}
    assert n.content_hash is not None and len(n.content_hash) == 64
    # the temporal rule: no version given and no date: in force today (v2)
    assert client.get_node(policy, "0000").version_id == "v2"  # type: ignore[union-attr]
    old = client.get_node(policy, "0000", as_of="2024-02-01")
    assert old is not None and old.version_id == "v1"
    assert client.get_node(policy, "9999") is None


def test_get_nodes(client: TreeStoreClient, policy: str) -> None:
    got = client.get_nodes(policy, "v1", ["0004", "nope", "0001"])
    assert list(got) == ["0004", "0001"]
    assert got["0001"].title == "Prior Authorization"
    assert client.get_nodes(policy, "v1", []) == {}


def test_get_children(client: TreeStoreClient, policy: str) -> None:
    assert [n.node_id for n in client.get_children(policy)] == ["0000", "0004"]
    assert [n.node_id for n in client.get_children(policy, "0000", version_id="v1")] == \
        ["0001", "0003"]
    assert client.get_children(policy, "0002") == []


def test_get_subtree(client: TreeStoreClient, policy: str) -> None:
    assert [n.node_id for n in client.get_subtree(policy)] == \
        ["0000", "0001", "0002", "0003", "0004"]
    assert [n.node_id for n in client.get_subtree(policy, "0000", max_depth=1)] == \
        ["0000", "0001", "0003"]
    assert [n.node_id for n in client.get_subtree(policy, "0001", max_depth=0)] == ["0001"]
    with pytest.raises(InvalidDocument) as exc:
        client.get_subtree(policy, "0000", max_depth=-1)
    assert exc.value.sqlstate == "22023"


def test_get_ancestor_path(client: TreeStoreClient, policy: str) -> None:
    assert [n.node_id for n in client.get_ancestor_path(policy, "0002")] == \
        ["0000", "0001", "0002"]
    assert client.get_ancestor_path(policy, "nope") == []


def test_get_nodes_by_page(client: TreeStoreClient, policy: str) -> None:
    assert [n.node_id for n in client.get_nodes_by_page(policy, 2)] == ["0000", "0001", "0002"]
    assert [n.node_id for n in client.get_nodes_by_page(policy, 5)] == ["0004"]
    assert client.get_nodes_by_page(policy, 99) == []


def test_search_nodes(client: TreeStoreClient, policy: str) -> None:
    hits = client.search_nodes("prior authorization", policy_id=policy)
    assert hits and isinstance(hits[0], SearchHit)
    assert hits[0].node_id == "0001" and hits[0].version_id == "v2"
    text_hit = client.search_nodes("conservative", policy_id=policy, top_k=1)
    assert "**conservative**" in (text_hit[0].snippet or "").lower()
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # the marker word of v1 is found in v1 only
    old = old_word(policy)
    assert client.search_nodes(old, policy_id=policy) == []
    v1 = client.search_nodes(old, policy_id=policy, version_id="v1", top_k=2)
    assert len(v1) == 2 and {h.version_id for h in v1} == {"v1"}
    assert len(client.search_nodes(old, policy_id=policy, as_of="2024-03-01", top_k=50)) == 5
    across = client.search_nodes(new_word(policy), top_k=50)
    assert {(h.policy_id, h.version_id) for h in across} == {(policy, "v2")}


def test_versions(client: TreeStoreClient, policy: str) -> None:
    versions = client.list_versions(policy)
    assert [v.version_id for v in versions] == ["v1", "v2"]
    assert isinstance(versions[0], Version)
    assert versions[0].effective_from == dt.date(2024, 1, 1)
    assert versions[0].metadata == {"source": "test"}
    assert versions[0].node_count == 5
    v = client.get_version_as_of(policy, dt.date(2024, 12, 31))
    assert v is not None and v.version_id == "v1"
    v = client.get_version_as_of(policy, "2025-01-01")
    assert v is not None and v.version_id == "v2"
    assert client.get_version_as_of(policy, "2023-12-31") is None
    latest = client.latest_version(policy)
    assert latest is not None and latest.version_id == "v2"
    assert client.latest_version(policy + "-none") is None


def test_cross_references(client: TreeStoreClient, policy: str) -> None:
    ref = client.add_cross_reference(policy, "0001", policy, "0004", "see_also",
                                     context="definitions", confidence=0.75)
    assert isinstance(ref, CrossReference)
    assert (ref.context, ref.confidence) == ("definitions", 0.75)
    client.add_cross_reference(policy, "0003", "other-policy", "0000", "supersedes")
    with pytest.raises(Conflict) as exc:
        client.add_cross_reference(policy, "0001", policy, "0004", "see_also")
    assert exc.value.sqlstate == "23505"
    out = client.get_cross_references(policy)
    assert [(r.source_node_id, r.target_node_id) for r in out] == [("0001", "0004"),
                                                                  ("0003", "0000")]
    assert [r.target_node_id for r in client.get_cross_references(policy, "0001")] == ["0004"]
    incoming = client.get_cross_references(policy, "0004", direction="incoming")
    assert [r.source_node_id for r in incoming] == ["0001"]
    assert len(client.get_cross_references(policy, direction="both")) == 2
    with pytest.raises(InvalidDocument):
        client.get_cross_references(policy, direction="sideways")


def test_tool_results(client: TreeStoreClient, uid: str) -> None:
    first = client.store_tool_result(uid, "pi_search", {"nodes": ["0001"]},
                                     input={"query": "mri"}, criterion_id="c1",
                                     policy_id="P", version_id="v1", node_id="0001",
                                     latency_ms=12.5)
    second = client.store_tool_result(uid, "temporal_lookup", {"error": "none"},
                                      success=False, error_message="no version")
    assert second > first
    results = client.get_tool_results(uid)
    assert [r.result_id for r in results] == [first, second]
    r = results[0]
    assert isinstance(r, ToolResult)
    assert (r.case_id, r.tool_name, r.input, r.output, r.success, r.latency_ms) == \
        (uid, "pi_search", {"query": "mri"}, {"nodes": ["0001"]}, True, 12.5)
    assert (results[1].success, results[1].error_message) == (False, "no version")
    assert [r.tool_name for r in client.get_tool_results(uid, "temporal_lookup")] == \
        ["temporal_lookup"]


def test_trajectories(client: TreeStoreClient, uid: str) -> None:
    tid = client.store_trajectory(uid, [
        {"tool_name": "pi_search", "action": "search", "thought": "find MRI rules",
         "observation": "0001"},
        TrajectoryStep(uid, "ignored", 7, "get_node", "read", "read it", "ok", None),
    ])
    assert len(tid) == 36  # a UUID when none is given
    given = client.store_trajectory(uid, [{"step_number": 3, "action": "finish"}],
                                    trajectory_id="t-given")
    assert given == "t-given"
    steps = client.get_trajectory(uid, tid)
    assert [(s.step_number, s.tool_name, s.action) for s in steps] == \
        [(1, "pi_search", "search"), (7, "get_node", "read")]
    assert all(isinstance(s, TrajectoryStep) and s.trajectory_id == tid for s in steps)
    assert len(client.get_trajectory(uid)) == 3
    with pytest.raises(InvalidDocument):
        client.store_trajectory(uid, [])
    with pytest.raises(Conflict):
        client.store_trajectory(uid, [{"step_number": 3, "action": "again"}],
                                trajectory_id="t-given")


def test_prompts(client: TreeStoreClient, uid: str) -> None:
    assert client.store_prompt(uid, "Decide {criterion}", name="decider",
                               variables=["criterion"],
                               tool_schemas=[{"name": "pi_search"}]) == 1
    assert client.store_prompt(uid, "Decide {criterion} for {case}",
                               variables=("criterion", "case")) == 2
    p = client.get_prompt(uid)
    assert isinstance(p, Prompt)
    assert (p.version, p.template, p.variables) == (2, "Decide {criterion} for {case}",
                                                    ["criterion", "case"])
    p1 = client.get_prompt(uid, 1)
    assert p1 is not None and (p1.name, p1.tool_schemas) == ("decider", [{"name": "pi_search"}])
    assert client.get_prompt(uid, 3) is None
    assert client.get_prompt(uid + "-none") is None
    usage = client.record_prompt_usage(uid, 2, "case-1", filled_variables={"criterion": "c1"},
                                       response="ready")
    assert isinstance(usage, int)


def test_prompt_usage_row(client: TreeStoreClient, admin: psycopg.Connection[Any],
                          uid: str) -> None:
    client.store_prompt(uid, "t")
    usage = client.record_prompt_usage(uid, 1, uid, filled_variables={"a": 1}, response="r")
    row = admin.execute("SELECT prompt_id, version, case_id, filled_variables, response"
                        " FROM treestore.prompt_usage WHERE usage_id = %s", (usage,)).fetchone()
    assert row == (uid, 1, uid, {"a": 1}, "r")


def test_health_and_stats(client: TreeStoreClient) -> None:
    h = client.health()
    assert h["status"] == "ok" and isinstance(h["worker_pid"], int)
    s = client.stats()
    assert s["status"] == "ok" and s["nodes"] >= 0


def test_transaction_groups_writes(client: TreeStoreClient, uid: str) -> None:
    with client.transaction():
        rid = client.store_tool_result(uid, "pi_search", {"ok": 1})
        client.store_trajectory(uid, [{"action": "search"}], trajectory_id="t")
        # visible to the transaction itself at once
        assert [r.result_id for r in client.get_tool_results(uid)] == [rid]
    assert len(client.get_tool_results(uid)) == 1 and len(client.get_trajectory(uid)) == 1

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with client.transaction():
            client.store_tool_result(uid, "pi_search", {"ok": 2})
            client.store_trajectory(uid, [{"action": "x"}], trajectory_id="t2")
            raise Boom
    assert len(client.get_tool_results(uid)) == 1 and len(client.get_trajectory(uid)) == 1


def test_nested_transaction_is_a_savepoint(client: TreeStoreClient, uid: str) -> None:
    with client.transaction():
        client.store_tool_result(uid, "outer", {})
        with pytest.raises(ValueError):
            with client.transaction():
                client.store_tool_result(uid, "inner", {})
                raise ValueError("undo the inner one")
        client.store_tool_result(uid, "after", {})
    assert [r.tool_name for r in client.get_tool_results(uid)] == ["outer", "after"]


def test_transaction_error_rolls_back_everything(client: TreeStoreClient, uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    with pytest.raises(Conflict):
        with client.transaction():
            client.store_tool_result(uid, "pi_search", {})
            client.store_document(uid, "v1", policy_tree())  # 23505
    assert client.get_tool_results(uid) == []


def test_get_nodes_rejects_a_string(client: TreeStoreClient) -> None:
    with pytest.raises(TypeError):
        client.get_nodes("p", "v1", "0001")


def test_kept_cursors_hold_only_small_results(dsn: str, uid: str) -> None:
    """A pooled connection keeps its cursor for the next call, but not one
    that held a whole document or more than KEEP_CURSOR_ROWS rows."""
    from treestore.calls import KEEP_CURSOR_ROWS
    with TreeStoreClient(dsn, min_size=1, max_size=1) as c:
        big = [{"title": f"n{i}", "node_id": f"{i:05d}"} for i in range(KEEP_CURSOR_ROWS + 1)]
        c.store_document(uid, "v1", big)
        assert len(c._cursors) == 0
        c.get_node(uid, "00001")
        assert len(c._cursors) == 1
        kept = next(iter(c._cursors.values()))
        c.get_children(uid, "00002")
        assert next(iter(c._cursors.values())) is kept  # reused
        assert len(c.get_subtree(uid)) == KEEP_CURSOR_ROWS + 1
        assert len(c._cursors) == 0 and kept.closed
        c.get_node(uid, "00001")
        c.get_document(uid)
        assert len(c._cursors) == 0
