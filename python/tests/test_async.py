"""AsyncTreeStoreClient: every method, answering as the sync client does."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
from typing import Any

import pytest

from docs import policy_tree
from treestore import AsyncTreeStoreClient, Conflict, NotFound, TreeStoreClient


def without_times(value: Any) -> Any:
    """A result with created_at / updated_at / result ids masked: rows written
    by two clients differ only there."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return without_times({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {k: ("*" if k in ("created_at", "updated_at", "result_id", "trajectory_id")
                    else without_times(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def test_same_methods_and_signatures() -> None:
    public = {n for n in dir(TreeStoreClient) if not n.startswith("_")}
    assert public == {n for n in dir(AsyncTreeStoreClient) if not n.startswith("_")}
    for name in public - {"pool"}:
        s, a = getattr(TreeStoreClient, name), getattr(AsyncTreeStoreClient, name)
        assert inspect.iscoroutinefunction(a) or name == "transaction", name
        ps = list(inspect.signature(s).parameters.values())[1:]
        pa = list(inspect.signature(a).parameters.values())[1:]
        assert [(p.name, p.kind, p.default) for p in ps] == \
            [(p.name, p.kind, p.default) for p in pa], name


def run_all_sync(c: TreeStoreClient, p: str) -> list[Any]:
    out: list[Any] = []
    out.append(c.store_document(p, "v1", policy_tree(), effective_from=dt.date(2024, 1, 1),
                                metadata={"m": 1}))
    out.append(c.store_document(p, "v2", policy_tree(), effective_from="2025-01-01"))
    out.append(c.store_document(p, "v2", policy_tree(), replace=True))
    out.append(c.get_document(p, version_id="v1", include_text=True))
    out.append(c.get_node(p, "0002", version_id="v1"))
    out.append(c.get_node(p, "0002", as_of="2024-05-05"))
    out.append(c.get_nodes(p, "v1", ["0003", "0001"]))
    out.append(c.get_children(p, "0000"))
    out.append(c.get_subtree(p, None, max_depth=1))
    out.append(c.get_ancestor_path(p, "0002"))
    out.append(c.get_nodes_by_page(p, 3))
    out.append([(h.node_id, h.title, h.snippet) for h in
                c.search_nodes("imaging", policy_id=p, top_k=3)])
    out.append(c.get_version_as_of(p, "2024-06-01"))
    out.append(c.latest_version(p))
    out.append(c.list_versions(p))
    out.append(c.add_cross_reference(p, "0001", p, "0004", "see_also", context="c",
                                     confidence=0.5))
    out.append(c.get_cross_references(p, "0004", direction="both"))
    out.append(c.store_tool_result(p, "pi_search", {"r": [1, 2]}, input={"q": "x"},
                                   latency_ms=1.5) > 0)
    out.append(c.get_tool_results(p, "pi_search"))
    out.append(c.store_trajectory(p, [{"action": "a"}, {"action": "b"}], trajectory_id="t1"))
    out.append(c.get_trajectory(p, "t1"))
    out.append(c.store_prompt(p, "T {x}", name="n", variables=["x"], tool_schemas={"a": 1}))
    out.append(c.get_prompt(p))
    out.append(c.record_prompt_usage(p, 1, p, filled_variables={"x": 1}, response="r") > 0)
    out.append(c.health()["status"])
    out.append(c.stats()["status"])
    out.append(p in {d.policy_id for d in c.list_documents()})
    with c.transaction():
        c.store_tool_result(p, "in_txn", {})
    out.append(len(c.get_tool_results(p, "in_txn")))
    out.append(c.run_in_transaction(lambda t: t.store_tool_result(p, "rit", {}) > 0))
    out.append(c.delete_document(p, "v1"))
    return out


async def run_all_async(c: AsyncTreeStoreClient, p: str) -> list[Any]:
    out: list[Any] = []
    out.append(await c.store_document(p, "v1", policy_tree(), effective_from=dt.date(2024, 1, 1),
                                      metadata={"m": 1}))
    out.append(await c.store_document(p, "v2", policy_tree(), effective_from="2025-01-01"))
    out.append(await c.store_document(p, "v2", policy_tree(), replace=True))
    out.append(await c.get_document(p, version_id="v1", include_text=True))
    out.append(await c.get_node(p, "0002", version_id="v1"))
    out.append(await c.get_node(p, "0002", as_of="2024-05-05"))
    out.append(await c.get_nodes(p, "v1", ["0003", "0001"]))
    out.append(await c.get_children(p, "0000"))
    out.append(await c.get_subtree(p, None, max_depth=1))
    out.append(await c.get_ancestor_path(p, "0002"))
    out.append(await c.get_nodes_by_page(p, 3))
    out.append([(h.node_id, h.title, h.snippet) for h in
                await c.search_nodes("imaging", policy_id=p, top_k=3)])
    out.append(await c.get_version_as_of(p, "2024-06-01"))
    out.append(await c.latest_version(p))
    out.append(await c.list_versions(p))
    out.append(await c.add_cross_reference(p, "0001", p, "0004", "see_also", context="c",
                                           confidence=0.5))
    out.append(await c.get_cross_references(p, "0004", direction="both"))
    out.append(await c.store_tool_result(p, "pi_search", {"r": [1, 2]}, input={"q": "x"},
                                         latency_ms=1.5) > 0)
    out.append(await c.get_tool_results(p, "pi_search"))
    out.append(await c.store_trajectory(p, [{"action": "a"}, {"action": "b"}],
                                        trajectory_id="t1"))
    out.append(await c.get_trajectory(p, "t1"))
    out.append(await c.store_prompt(p, "T {x}", name="n", variables=["x"],
                                    tool_schemas={"a": 1}))
    out.append(await c.get_prompt(p))
    out.append(await c.record_prompt_usage(p, 1, p, filled_variables={"x": 1},
                                           response="r") > 0)
    out.append((await c.health())["status"])
    out.append((await c.stats())["status"])
    out.append(p in {d.policy_id for d in await c.list_documents()})
    async with c.transaction():
        await c.store_tool_result(p, "in_txn", {})
    out.append(len(await c.get_tool_results(p, "in_txn")))

    async def rit(t: AsyncTreeStoreClient) -> bool:
        return await t.store_tool_result(p, "rit", {}) > 0
    out.append(await c.run_in_transaction(rit))
    out.append(await c.delete_document(p, "v1"))
    return out


def test_every_method_answers_as_the_sync_client(client: TreeStoreClient, dsn: str,
                                                 uid: str) -> None:
    expected = run_all_sync(client, uid + "-s")

    async def main() -> list[Any]:
        async with AsyncTreeStoreClient(dsn, max_size=2) as c:
            return await run_all_async(c, uid + "-a")

    got = asyncio.run(main())
    assert len(got) == len(expected) == 30
    norm = [without_times(x) for x in expected]
    for i, (g, e) in enumerate(zip(got, norm)):
        g = without_times(g)
        g_text = repr(g).replace(uid + "-a", "P")
        e_text = repr(e).replace(uid + "-s", "P")
        assert g_text == e_text, f"call {i}"


def test_async_errors_and_transactions(dsn: str, uid: str) -> None:
    async def main() -> None:
        async with AsyncTreeStoreClient(dsn, max_size=2) as c:
            await c.store_document(uid, "v1", policy_tree())
            with pytest.raises(Conflict):
                await c.store_document(uid, "v1", policy_tree())
            with pytest.raises(NotFound):
                await c.get_document(uid, version_id="v7")
            with pytest.raises(RuntimeError):
                async with c.transaction():
                    await c.store_tool_result(uid, "x", {})
                    raise RuntimeError("roll back")
            assert await c.get_tool_results(uid) == []
            async with c.transaction():
                async with c.transaction():
                    await c.store_tool_result(uid, "inner", {})
                await c.store_tool_result(uid, "outer", {})
            assert [r.tool_name for r in await c.get_tool_results(uid)] == ["inner", "outer"]

    asyncio.run(main())
