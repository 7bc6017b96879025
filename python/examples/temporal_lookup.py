"""What was in force when: a policy revised on 2026-03-01, asked about
dates on both sides of the change.

    python3 temporal_lookup.py [--dsn DSN] [--samples DIR]
"""

from __future__ import annotations

import datetime as dt

from _common import arguments

from treestore import TreeStoreClient

POLICY = "ex-temporal"


def edition(prior_auth_rule: str) -> dict[str, object]:
    return {"doc_name": "Advanced Imaging Policy.pdf", "structure": [
        {"title": "Coverage Rationale", "node_id": "0000", "start_index": 1, "end_index": 2,
         "nodes": [{"title": "Prior Authorization", "node_id": "0001", "start_index": 2,
                    "end_index": 2, "summary": prior_auth_rule}]}]}


def main() -> None:
    args = arguments(__doc__ or "")
    with TreeStoreClient(args.dsn) as ts:
        ts.store_document(POLICY, "2025.1", edition("MRI needs prior authorization."),
                          effective_from=dt.date(2025, 1, 1), replace=True)
        ts.store_document(POLICY, "2026.1", edition("MRI and CT need prior authorization."),
                          effective_from=dt.date(2026, 3, 1), replace=True)
        for day in ("2024-12-31", "2025-06-15", "2026-02-28", "2026-03-01"):
            version = ts.get_version_as_of(POLICY, day)
            if version is None:
                print(f"{day}: no version in force")
                continue
            rule = ts.get_node(POLICY, "0001", as_of=day)
            print(f"{day}: {version.version_id} (from {version.effective_from}): "
                  f"{rule.summary if rule else '?'}")
        latest = ts.latest_version(POLICY)
        print(f"latest: {latest.version_id if latest else None}")


if __name__ == "__main__":
    main()
