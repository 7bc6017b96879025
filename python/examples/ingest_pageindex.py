"""Ingest a directory of PageIndex files as versioned policies.

Every file becomes policy "ex-<name>", edition 2025.1 in force from
2025-01-01.  Then the first policy gets a revised edition, 2026.1, in force
from 2026-01-01 -- its first section retitled -- so the policy has two
versions over time, as policies do.

    python3 ingest_pageindex.py [--dsn DSN] [--samples DIR]
"""

from __future__ import annotations

import copy
import datetime as dt
import json

from _common import arguments

from treestore import TreeStoreClient


def policy_id(name: str) -> str:
    return "ex-" + name.removesuffix(".json").removesuffix("_structure").replace(" ", "_")


def main() -> None:
    args = arguments(__doc__ or "")
    files = sorted(args.samples.glob("*.json"))
    with TreeStoreClient(args.dsn) as ts:
        total = 0
        for f in files:
            tree = json.loads(f.read_text(encoding="utf-8"))
            n = ts.store_document(policy_id(f.name), "2025.1", tree,
                                  effective_from=dt.date(2025, 1, 1),
                                  metadata={"source_file": f.name}, replace=True)
            total += n
            print(f"stored {policy_id(f.name)} 2025.1: {n} nodes, in force from 2025-01-01")
        print(f"{len(files)} policies, {total} nodes")

        first = policy_id(files[0].name)
        revised = copy.deepcopy(json.loads(files[0].read_text(encoding="utf-8")))
        structure = revised["structure"] if isinstance(revised, dict) else revised
        structure[0]["title"] = "Revised: " + structure[0]["title"]
        n = ts.store_document(first, "2026.1", revised, effective_from=dt.date(2026, 1, 1),
                              replace=True)
        print(f"stored {first} 2026.1: {n} nodes, in force from 2026-01-01")
        for v in ts.list_versions(first):
            print(f"  {v.policy_id} {v.version_id}: from {v.effective_from}, "
                  f"{v.node_count} nodes, {v.doc_name}")


if __name__ == "__main__":
    main()
