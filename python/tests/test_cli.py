"""python -m treestore: ingest, get, search, health; errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import SAMPLES


def cli(server: Any, *args: str, dsn: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **server.env}
    argv = [sys.executable, "-m", "treestore", *(["--dsn", dsn] if dsn else []), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_ingest_a_directory_then_get_and_search(server: Any, tmp_path: Path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    for f in SAMPLES.glob("PRML*.json"):
        (d / ("cli-" + f.name)).write_bytes(f.read_bytes())
    out = cli(server, "ingest", str(d), "--version-id", "2025.1",
              "--effective-from", "2025-01-01", "--replace")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["cli-PRML 2025.1: 286 nodes (cli-PRML_structure.json)",
                                       "1 documents, 286 nodes"]
    got = cli(server, "get", "cli-PRML", "--as-of", "2025-02-01", "--include-text")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == json.loads((SAMPLES / "PRML_structure.json").read_text())
    hits = cli(server, "search", "gaussian distribution", "--policy-id", "cli-PRML",
               "--top-k", "2")
    assert hits.returncode == 0 and len(hits.stdout.splitlines()) == 2
    assert "cli-PRML 2025.1 0010" in hits.stdout.splitlines()[0]
    as_json = cli(server, "search", "gaussian", "--policy-id", "cli-PRML", "--json")
    first = json.loads(as_json.stdout)[0]
    assert set(first) == {"policy_id", "version_id", "node_id", "title", "section_path",
                          "score", "snippet"}


def test_ingest_one_file_with_a_policy_id(server: Any) -> None:
    out = cli(server, "ingest", str(SAMPLES / "earthmover_structure.json"),
              "--policy-id", "cli-earth", "--replace")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("cli-earth v1: 21 nodes")


def test_health(server: Any) -> None:
    out = cli(server, "health")
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "ok"


def test_errors_and_exit_codes(server: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"structure": [{"node_id": "1"}]}')
    out = cli(server, "ingest", str(bad))
    assert out.returncode == 1
    assert "bad.json" in out.stderr and "22023" in out.stderr and "title" in out.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    out = cli(server, "ingest", str(broken))
    assert out.returncode == 1 and "cannot read" in out.stderr
    out = cli(server, "get", "cli-no-such-policy")
    assert out.returncode == 1 and "no version of policy" in out.stderr
    out = cli(server, "get", "x", "--as-of", "yesterday")
    assert out.returncode == 2 and "not an ISO date" in out.stderr
    out = cli(server, "health", dsn=f"host={tmp_path} port=1")
    assert out.returncode == 1 and out.stderr.startswith("treestore: error:")
    out = cli(server, "ingest", str(tmp_path / "missing"))
    assert out.returncode == 1 and "no such file or directory" in out.stderr
