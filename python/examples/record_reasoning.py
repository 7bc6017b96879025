"""One reasoning case, as the reasoning-service runs it, through the tool
layer (treestore.compat): three tools -- pi_search (search, then the hit's
subtree), temporal_lookup (the version in force), policy_xref (what a node
refers to) -- with every tool result, the trajectory and the prompt usage
recorded in ONE transaction: all of the case's records, or none.

    python3 record_reasoning.py [--dsn DSN] [--samples DIR]
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from _common import arguments

from treestore import TreeStoreClient
from treestore.compat import ReasoningServiceClient

POLICY = "ex-reasoning"


def temporal_lookup(svc: ReasoningServiceClient, policy_id: str,
                    as_of_date: str) -> dict[str, Any]:
    v = svc.get_version_as_of(policy_id, as_of_date)
    return {"version_id": v.version_id, "effective_start": v.effective_start,
            "nodes": len(v.node_ids)} if v else {"version_id": None}


def pi_search(svc: ReasoningServiceClient, policy_id: str, query: str,
              version_id: str | None) -> dict[str, Any]:
    version, hits = svc.search_nodes(policy_id, query, version_id, top_k=3)
    if not hits:
        return {"version_id": version, "hits": []}
    subtree = svc.client.get_subtree(policy_id, hits[0].node_id, max_depth=1,
                                     version_id=version)
    return {"version_id": version, "hits": [h.node_id for h in hits],
            "best": hits[0].section_path, "subtree": [n.node_id for n in subtree]}


def policy_xref(svc: ReasoningServiceClient, policy_id: str, version_id: str | None,
                criterion_id: str, tokens: list[str]) -> dict[str, Any]:
    related = svc.find_related_nodes(policy_id, version_id, criterion_id, tokens, limit=4)
    return {"related": [{"node_id": n.node_id, "reason": r} for n, r in related]}


def main() -> None:
    args = arguments(__doc__ or "")
    tree = json.loads((args.samples / "PRML_structure.json").read_text(encoding="utf-8"))
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    with TreeStoreClient(args.dsn) as ts:
        svc = ReasoningServiceClient(ts)
        ts.store_document(POLICY, "v1", tree, effective_from="2025-01-01", replace=True)
        if not ts.get_cross_references(POLICY, "0009"):
            ts.add_cross_reference(POLICY, "0009", POLICY, "0005", "see_also",
                                   context="curve fitting example", confidence=0.8)
        prompt_version = ts.store_prompt("decide-criterion", "Decide {criterion} for {case}",
                                         name="criterion decider",
                                         variables=["criterion", "case"])

        steps: list[dict[str, Any]] = []

        def tool(name: str, thought: str, fn: Callable[[], dict[str, Any]],
                 **ids: Any) -> dict[str, Any]:
            started = time.perf_counter()
            out = fn()
            ts.store_tool_result(case_id, name, out, input=ids, criterion_id="crit-1",
                                 policy_id=POLICY, version_id=out.get("version_id"),
                                 latency_ms=(time.perf_counter() - started) * 1000)
            steps.append({"tool_name": name, "action": f"{name}({json.dumps(ids)})",
                          "thought": thought, "observation": json.dumps(out)[:200]})
            return out

        with ts.transaction():  # the case's records: all or none
            t = tool("temporal_lookup", "Which edition applies on the date of service?",
                     lambda: temporal_lookup(svc, POLICY, "2025-06-01"), as_of="2025-06-01")
            s = tool("pi_search", "Find the rule on Bayesian probabilities.",
                     lambda: pi_search(svc, POLICY, "bayesian probabilities", t["version_id"]),
                     query="bayesian probabilities")
            tool("policy_xref", "What does the best section refer to?",
                 lambda: policy_xref(svc, POLICY, t["version_id"], "crit-1",
                                     ["bayesian", "probabilities"]),
                 tokens=["bayesian", "probabilities"])
            trajectory = ts.store_trajectory(case_id, steps)
            ts.record_prompt_usage("decide-criterion", prompt_version, case_id,
                                   filled_variables={"criterion": "crit-1", "case": case_id},
                                   response="ready")

        print(f"case {case_id}: version {t['version_id']}, best section: {s['best']}")
        for r in ts.get_tool_results(case_id):
            print(f"tool result {r.tool_name}: success={r.success}")
        for st in ts.get_trajectory(case_id, trajectory):
            print(f"step {st.step_number}: {st.tool_name}: {st.thought}")
        print(f"prompt decide-criterion v{prompt_version} used once for {case_id}")


if __name__ == "__main__":
    main()
