"""The package as a user gets it: installed in a fresh venv, typed, its
version the extension's, its result types the server's columns."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest

import treestore
from treestore import (
    CrossReference,
    Document,
    Node,
    Prompt,
    SearchHit,
    ToolResult,
    TrajectoryStep,
    Version,
)

ROOT = Path(__file__).resolve().parents[2]
VENV = os.environ.get("TREESTORE_VENV")


def test_version_is_the_extensions() -> None:
    control = (ROOT / "treestore_fdw.control").read_text()
    m = re.search(r"^default_version\s*=\s*'([^']+)'", control, re.M)
    assert m and treestore.__version__ == m.group(1)


def test_dependencies_are_psycopg_and_its_pool_only() -> None:
    meta = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text())
    names = [re.split(r"[<>=!~ ;\[]", d)[0] for d in meta["project"]["dependencies"]]
    assert names == ["psycopg", "psycopg-pool"]
    assert meta["project"]["dynamic"] == ["version"]


@pytest.mark.skipif(VENV is None, reason="TREESTORE_VENV not set: not run by run_tests.sh")
def test_imported_from_the_venv_install() -> None:
    assert VENV is not None
    installed = Path(treestore.__file__).resolve()
    assert Path(VENV).resolve() in installed.parents, installed
    assert (installed.parent / "py.typed").is_file()


@pytest.mark.skipif(VENV is None, reason="TREESTORE_VENV not set: not run by run_tests.sh")
def test_one_call_from_the_installed_package(server: Any) -> None:
    assert VENV is not None
    code = ("import treestore\n"
            "with treestore.TreeStoreClient() as ts:\n"
            "    print(treestore.__version__, ts.health()['status'])\n")
    out = subprocess.run([str(Path(VENV) / "bin" / "python"), "-c", code],
                         env={**os.environ, **server.env}, capture_output=True, text=True,
                         cwd="/", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{treestore.__version__} ok"


@pytest.mark.parametrize("cls,table", [
    (Node, "nodes"), (Version, "versions"), (Document, "documents"),
    (CrossReference, "cross_references"), (ToolResult, "tool_results"),
    (TrajectoryStep, "trajectories"), (Prompt, "prompts"),
])
def test_result_types_are_the_tables_columns(admin: psycopg.Connection[Any], cls: type,
                                             table: str) -> None:
    cols = [r[0] for r in admin.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'treestore'"
        " AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall()]
    assert [f.name for f in dataclasses.fields(cls)] == cols


def test_search_hit_is_searchs_result(admin: psycopg.Connection[Any]) -> None:
    row = admin.execute(
        "SELECT proargnames, proargmodes FROM pg_proc WHERE oid ="
        " 'treestore.search(text, text, text, date, integer)'::regprocedure").fetchone()
    assert row is not None
    outs = [n for n, m in zip(row[0], row[1]) if m == "t"]
    assert [f.name for f in dataclasses.fields(SearchHit)] == outs


def test_results_are_frozen(client: Any, samples: dict[str, Any]) -> None:
    node = client.get_node(next(iter(samples)), "0001")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.title = "changed"
