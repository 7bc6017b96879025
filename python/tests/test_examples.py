"""The examples run against a real server and print what they should."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, server: Any) -> str:
    env = {**os.environ, **server.env}
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_ingest_pageindex(server: Any) -> None:
    out = run_example("ingest_pageindex.py", server)
    assert "stored ex-PRML 2025.1: 286 nodes, in force from 2025-01-01" in out
    assert "6 policies, 517 nodes" in out
    assert re.search(r"ex-2023-annual-report 2025\.1: from 2025-01-01, 76 nodes", out)
    assert re.search(r"ex-2023-annual-report 2026\.1: from 2026-01-01, 76 nodes", out)


def test_query_policy(server: Any) -> None:
    out = run_example("query_policy.py", server)
    assert "  0004 Introduction (pages 21-24)\n    0005 Example: Polynomial Curve Fitting" in out
    assert "Introduction > Probability Theory > Bayesian probabilities" in out
    assert "0008 Introduction > Probability Theory > Expectations and covariances" in out
    assert re.search(r"-- search: gaussian distribution\n[\d.]+ 0010 The Gaussian distribution",
                     out)


def test_temporal_lookup(server: Any) -> None:
    out = run_example("temporal_lookup.py", server)
    assert out.splitlines() == [
        "2024-12-31: no version in force",
        "2025-06-15: 2025.1 (from 2025-01-01): MRI needs prior authorization.",
        "2026-02-28: 2025.1 (from 2025-01-01): MRI needs prior authorization.",
        "2026-03-01: 2026.1 (from 2026-03-01): MRI and CT need prior authorization.",
        "latest: 2026.1",
    ]


def test_record_reasoning(server: Any, admin: psycopg.Connection[Any]) -> None:
    out = run_example("record_reasoning.py", server)
    m = re.search(r"^case (case-[0-9a-f]{8}): version v1, best section: "
                  r"Introduction > Probability Theory > Bayesian probabilities$", out, re.M)
    assert m, out
    case = m.group(1)
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("tool result")] \
        == ["tool result temporal_lookup", "tool result pi_search", "tool result policy_xref"]
    tools = admin.execute("SELECT tool_name, output FROM treestore.tool_results"
                          " WHERE case_id = %s ORDER BY result_id", (case,)).fetchall()
    assert [t for t, _ in tools] == ["temporal_lookup", "pi_search", "policy_xref"]
    assert tools[1][1]["hits"][0] == "0009"
    assert {"node_id": "0005", "reason": "see_also from 0009: curve fitting example"} in \
        tools[2][1]["related"]
    steps = admin.execute("SELECT step_number, tool_name FROM treestore.trajectories"
                          " WHERE case_id = %s ORDER BY step_number", (case,)).fetchall()
    assert steps == [(1, "temporal_lookup"), (2, "pi_search"), (3, "policy_xref")]
    assert admin.execute("SELECT count(*) FROM treestore.prompt_usage WHERE case_id = %s",
                         (case,)).fetchone() == (1,)
