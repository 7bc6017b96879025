"""treestore.compat: the reasoning-service's protocol, answering as the
direct client does, with the service's field names."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import psycopg
import pytest

from docs import policy_tree
from treestore import Node, TreeStoreClient
from treestore.compat import (
    ReasoningServiceClient,
    ServiceNode,
    ServiceVersion,
    TreeStoreClientError,
)


def as_service(n: Node) -> ServiceNode:
    """What the service's node is, from the direct client's Node."""
    pages = [] if n.page_start is None else \
        list(range(n.page_start, (n.page_end or n.page_start) + 1))
    meta = n.metadata if isinstance(n.metadata, dict) else {}

    def texts(key: str) -> list[str]:
        v = meta.get(key)
        return [x if isinstance(x, str) else str(x) for x in v] if isinstance(v, list) else []

    return ServiceNode(n.node_id, n.title, n.section_path, pages, n.summary, n.parent_id,
                       texts("keywords"), texts("see_also"), n.text)


@pytest.fixture(scope="module")
def svc(client: TreeStoreClient) -> ReasoningServiceClient:
    return ReasoningServiceClient(client)


def test_protocol_methods(svc: ReasoningServiceClient) -> None:
    import inspect
    sig = {name: list(inspect.signature(getattr(svc, name)).parameters)
           for name in ("get_version_as_of", "latest_version", "get_node", "get_nodes",
                        "search_nodes", "find_related_nodes")}
    assert sig == {
        "get_version_as_of": ["policy_id", "as_of_date"],
        "latest_version": ["policy_id"],
        "get_node": ["policy_id", "version_id", "node_id"],
        "get_nodes": ["policy_id", "version_id", "node_ids"],
        "search_nodes": ["policy_id", "query", "version_id", "top_k"],
        "find_related_nodes": ["policy_id", "version_id", "criterion_id", "tokens", "limit"],
    }
    assert inspect.signature(svc.search_nodes).parameters["top_k"].default == 3
    assert inspect.signature(svc.find_related_nodes).parameters["limit"].default == 5
    assert issubclass(TreeStoreClientError, RuntimeError)
    assert [f.name for f in dataclasses.fields(ServiceNode)] == [
        "node_id", "title", "section_path", "pages", "summary", "parent_id", "keywords",
        "see_also", "text"]
    assert [f.name for f in dataclasses.fields(ServiceVersion)] == [
        "policy_id", "version_id", "effective_start", "effective_end", "pageindex_doc_id",
        "previous_version_id", "node_ids"]


def test_answers_equal_the_direct_clients_on_the_samples(
        svc: ReasoningServiceClient, client: TreeStoreClient, samples: dict[str, Any]) -> None:
    for policy in samples:
        direct_nodes = client.get_subtree(policy)
        version = svc.get_version_as_of(policy, "2025-06-01")
        direct_version = client.get_version_as_of(policy, "2025-06-01")
        assert version is not None and direct_version is not None
        assert version == ServiceVersion(
            policy, direct_version.version_id, "2025-01-01", None,
            direct_version.pageindex_doc_id, None, sorted(n.node_id for n in direct_nodes))
        assert svc.latest_version(policy) == version
        for n in direct_nodes:
            assert svc.get_node(policy, "v1", n.node_id) == as_service(n), (policy, n.node_id)
        ids = [n.node_id for n in direct_nodes][::-1]
        assert svc.get_nodes(policy, "v1", ids) == \
            {n.node_id: as_service(n) for n in direct_nodes[::-1]}
        for query in ("risk", "model distribution", "revenue growth quarter", "nothingmatches"):
            hits = client.search_nodes(query, policy_id=policy, top_k=3)
            got_version, got = svc.search_nodes(policy, query, None)
            assert got_version == "v1"
            assert got == [as_service(client.get_node(policy, h.node_id))  # type: ignore[arg-type]
                           for h in hits]


def test_versions_in_time(svc: ReasoningServiceClient, client: TreeStoreClient,
                          admin: psycopg.Connection[Any], uid: str) -> None:
    client.store_document(uid, "v1", policy_tree(), effective_from=dt.date(2024, 1, 1))
    client.store_document(uid, "v2", policy_tree(), effective_from=dt.date(2025, 1, 1))
    v1 = svc.get_version_as_of(uid, "2024-12-31")
    v2 = svc.get_version_as_of(uid, "2025-01-01")
    assert v1 is not None and v2 is not None
    assert (v1.version_id, v1.effective_start, v1.effective_end, v1.previous_version_id) == \
        ("v1", "2024-01-01", "2025-01-01", None)
    assert (v2.version_id, v2.effective_start, v2.effective_end, v2.previous_version_id) == \
        ("v2", "2025-01-01", None, "v1")
    assert v1.node_ids == ["0000", "0001", "0002", "0003", "0004"]
    assert svc.get_version_as_of(uid, "2023-06-01") is None
    assert svc.latest_version(uid) == v2
    admin.execute("UPDATE treestore.versions SET effective_to = '2024-09-01'"
                  " WHERE policy_id = %s AND version_id = 'v1'", (uid,))
    v1 = svc.get_version_as_of(uid, "2024-03-01")
    assert v1 is not None and v1.effective_end == "2024-09-01"
    assert svc.get_version_as_of(uid, "2024-10-01") is None  # a gap between the two
    assert svc.get_version_as_of(uid, dt.date(2025, 2, 1)) == v2


def test_service_fields(svc: ReasoningServiceClient, client: TreeStoreClient, uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    n = svc.get_node(uid, "v1", "0001")
    assert n == ServiceNode("0001", "Prior Authorization",
                            "Coverage Rationale > Prior Authorization", [1, 2],
                            "MRI of the lumbar spine requires prior authorization.", "0000",
                            ["prior authorization", "MRI"], ["0004"],
                            "Submit clinical notes documenting six weeks of conservative therapy.")
    assert n.to_dict()["pages"] == [1, 2]
    assert svc.get_node(uid, "v1", "0004").pages == [4, 5]  # type: ignore[union-attr]
    assert svc.get_node(uid, "v1", "nope") is None
    assert svc.get_node(uid, "v9", "0001") is None


def test_pages_are_bounded(svc: ReasoningServiceClient, client: TreeStoreClient,
                           uid: str) -> None:
    from treestore.compat import MAX_PAGES
    client.store_document(uid, "v1", [{"title": "huge", "node_id": "a", "start_index": 1,
                                       "end_index": 2_000_000_000},
                                      {"title": "one page", "node_id": "b", "page_index": 7},
                                      {"title": "no pages", "node_id": "c"}])
    assert len(svc.get_node(uid, "v1", "a").pages) == MAX_PAGES  # type: ignore[union-attr]
    assert svc.get_node(uid, "v1", "b").pages == [7]  # type: ignore[union-attr]
    assert svc.get_node(uid, "v1", "c").pages == []  # type: ignore[union-attr]


def test_search_nodes(svc: ReasoningServiceClient, client: TreeStoreClient, uid: str) -> None:
    client.store_document(uid, "v1", policy_tree(), effective_from="2024-01-01")
    client.store_document(uid, "v2", policy_tree(marker="onlyinvtwo"), effective_from="2025-01-01")
    version, nodes = svc.search_nodes(uid, "lumbar spine imaging", None)
    assert version == "v2" and len(nodes) == 3
    assert nodes[0].node_id in ("0000", "0001", "0002")
    assert svc.search_nodes(uid, "onlyinvtwo", "v1") == ("v1", [])
    version, nodes = svc.search_nodes(uid, "onlyinvtwo", "v2", top_k=10)
    assert version == "v2" and len(nodes) == 5
    assert svc.search_nodes(uid + "-none", "imaging", None) == (None, [])


def test_find_related_nodes(svc: ReasoningServiceClient, client: TreeStoreClient,
                            uid: str) -> None:
    client.store_document(uid, "v1", policy_tree())
    client.store_document(uid + "-other", "v1", policy_tree("Other Policy"))
    client.add_cross_reference(uid, "0001", uid, "0004", "see_also", context="terms",
                               confidence=0.9)
    client.add_cross_reference(uid, "0001", uid + "-other", "0003", "excludes", confidence=0.5)
    related = svc.find_related_nodes(uid, "v1", "crit-7", ["prior", "authorization"], limit=5)
    assert [(n.node_id, r.split(" ")[0]) for n, r in related][:3] == \
        [("0001", "matches"), ("0004", "see_also"), ("0003", "excludes")]
    assert related[0][1].startswith("matches criterion crit-7 (score ")
    assert related[1][1] == "see_also from 0001: terms"
    assert related[2][1] == "excludes from 0001"
    assert related[2][0].title == "Exclusions"  # the other policy's node
    assert len(svc.find_related_nodes(uid, "v1", "c", ["imaging"], limit=2)) == 2
    assert svc.find_related_nodes(uid, "v1", "c", [], limit=5) == []
    assert svc.find_related_nodes(uid, None, "c", ["zzzznothing"]) == []
    ids = [n.node_id for n, _ in svc.find_related_nodes(uid, "v1", "c", ["imaging", "policy"],
                                                        limit=50)]
    assert len(ids) == len(set(ids))  # each node once


def test_failures_raise_tree_store_client_error(svc: ReasoningServiceClient,
                                                 server: Any) -> None:
    with pytest.raises(TreeStoreClientError) as exc:
        svc.get_version_as_of("p", "June 1st")
    assert exc.value.sqlstate == "22007"
    with pytest.raises(TreeStoreClientError) as exc:
        svc.search_nodes("p", "imaging", None, top_k=0)
    assert exc.value.sqlstate == "22023" and "top_k" in str(exc.value)
    with pytest.raises(TreeStoreClientError):
        svc.get_nodes("p", "v1", "0001")
    with ReasoningServiceClient(dsn=server.dsn("postgres", user="nobody"), timeout=1.0,
                                retries=0) as bad:
        with pytest.raises(TreeStoreClientError) as exc:
            bad.latest_version("p")
    assert isinstance(exc.value, RuntimeError)
    assert exc.value.__cause__ is not None
