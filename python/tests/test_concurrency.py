"""Many callers at once: 16 threads on one client, 64 asyncio tasks on one
async client, each answer equal to the one the same call gave alone."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from typing import Any

from treestore import AsyncTreeStoreClient, TreeStoreClient


def workload(samples: dict[str, Any]) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """(method, args, kwargs) over the sample documents: reads of every kind."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for policy in sorted(samples):
        calls += [
            ("get_node", (policy, "0001"), {}),
            ("get_children", (policy,), {}),
            ("get_subtree", (policy,), {"max_depth": 1}),
            ("get_ancestor_path", (policy, "0003"), {}),
            ("get_nodes_by_page", (policy, 3), {}),
            ("get_version_as_of", (policy, "2025-06-01"), {}),
            ("list_versions", (policy,), {}),
            ("search_nodes", ("risk return model",), {"policy_id": policy, "top_k": 5}),
            ("get_document", (policy,), {}),
        ]
    calls.append(("search_nodes", ("distribution of returns",), {"top_k": 10}))
    return calls


def test_sixteen_threads_equal_sequential(dsn: str, samples: dict[str, Any]) -> None:
    calls = workload(samples)
    with TreeStoreClient(dsn, max_size=8) as c:
        expected = [getattr(c, m)(*a, **k) for m, a, k in calls]
        results: dict[int, list[Any]] = {}
        failures: list[BaseException] = []

        def run(t: int) -> None:
            order = list(range(len(calls)))
            random.Random(t).shuffle(order)
            got: list[Any] = [None] * len(calls)
            try:
                for _ in range(3):
                    for i in order:
                        m, a, k = calls[i]
                        got[i] = getattr(c, m)(*a, **k)
                results[t] = got
            except BaseException as exc:  # noqa: BLE001 -- checked below
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(t,)) for t in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert failures == []
    assert len(results) == 16
    for got in results.values():
        assert got == expected


def test_sixty_four_tasks_equal_sequential(dsn: str, samples: dict[str, Any]) -> None:
    calls = workload(samples)

    async def main() -> None:
        async with AsyncTreeStoreClient(dsn, max_size=8) as c:
            expected = [await getattr(c, m)(*a, **k) for m, a, k in calls]

            async def run(t: int) -> list[Any]:
                order = list(range(len(calls)))
                random.Random(t).shuffle(order)
                got: list[Any] = [None] * len(calls)
                for i in order:
                    m, a, k = calls[i]
                    got[i] = await getattr(c, m)(*a, **k)
                return got

            results = await asyncio.gather(*(run(t) for t in range(64)))
            assert all(got == expected for got in results)

    asyncio.run(main())


def test_concurrent_writers_each_get_their_own_rows(dsn: str, uid: str) -> None:
    """16 threads recording tool results and trajectories in transactions:
    every row there once, result ids distinct."""
    ids: list[int] = []
    lock = threading.Lock()

    with TreeStoreClient(dsn, max_size=8) as c:
        def run(t: int) -> None:
            for i in range(10):
                with c.transaction():
                    rid = c.store_tool_result(f"{uid}-{t}", "pi_search", {"t": t, "i": i})
                    c.store_trajectory(f"{uid}-{t}", [{"action": f"step {i}"}],
                                       trajectory_id=f"traj-{i}")
                with lock:
                    ids.append(rid)

        run_all(run, 16)
        assert len(set(ids)) == 160
        for t in range(16):
            assert [r.output["i"] for r in c.get_tool_results(f"{uid}-{t}")] == list(range(10))
            assert len(c.get_trajectory(f"{uid}-{t}")) == 10


def run_all(fn: Callable[[int], None], n: int) -> None:
    errors: list[BaseException] = []

    def wrap(t: int) -> None:
        try:
            fn(t)
        except BaseException as exc:  # noqa: BLE001 -- re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
