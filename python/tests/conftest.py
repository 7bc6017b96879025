"""Fixtures: one private PostgreSQL with treestore_fdw for the whole run.

The server starts once per session (``pgserver.PrivateServer``) on a Unix
socket under /tmp, port TS_PYTEST_PORT (default 5478), with the sample
PageIndex files of test/data/pageindex loaded as policies "sample-<name>".
Tests use ids of their own (``uid``), so they share the engine without
seeing each other's rows.

Closing line: "N passed, N failed" (errors count as failed; skipped tests
are not counted as passed), which test/python/run_tests.sh adds up.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgserver import PrivateServer

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "test" / "data" / "pageindex"


@pytest.fixture(scope="session")
def server() -> Iterator[PrivateServer]:
    port = int(os.environ.get("TS_PYTEST_PORT", "5478"))
    srv = PrivateServer(f"/tmp/treestore-pytest-{port}", port)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def dsn(server: PrivateServer) -> str:
    return server.dsn()


@pytest.fixture(scope="session")
def admin(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def client(dsn: str) -> Iterator[Any]:
    from treestore import TreeStoreClient
    with TreeStoreClient(dsn, max_size=4) as c:
        yield c


def sample_trees() -> dict[str, Any]:
    """policy_id -> the PageIndex tree of each sample file."""
    out = {}
    for f in sorted(SAMPLES.glob("*.json")):
        stem = f.name.removesuffix(".json").removesuffix("_structure")
        out["sample-" + stem.replace(" ", "_")] = json.loads(f.read_text())
    return out


@pytest.fixture(scope="session")
def samples(client: Any) -> dict[str, Any]:
    """The sample files stored as version v1 (effective 2025-01-01) of their
    policy; returns policy_id -> tree."""
    trees = sample_trees()
    for policy_id, tree in trees.items():
        client.store_document(policy_id, "v1", tree, effective_from="2025-01-01", replace=True)
    return trees


@pytest.fixture
def uid(request: pytest.FixtureRequest) -> str:
    """A prefix no other test uses: ids of this test's rows."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = terminalreporter.stats
    passed = len(stats.get("passed", []))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    terminalreporter.write_line(f"{passed} passed, {failed} failed")
