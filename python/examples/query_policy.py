"""Query one policy: a subtree, an ancestor path, the nodes on a page, a
search.  Stores the PRML sample as policy "ex-query" first.

    python3 query_policy.py [--dsn DSN] [--samples DIR]
"""

from __future__ import annotations

import json

from _common import arguments

from treestore import TreeStoreClient

POLICY = "ex-query"


def main() -> None:
    args = arguments(__doc__ or "")
    tree = json.loads((args.samples / "PRML_structure.json").read_text(encoding="utf-8"))
    with TreeStoreClient(args.dsn) as ts:
        ts.store_document(POLICY, "v1", tree, effective_from="2025-01-01", replace=True)

        print("-- the Introduction and its sections (document order)")
        intro = next(n for n in ts.get_children(POLICY) if n.title == "Introduction")
        for n in ts.get_subtree(POLICY, intro.node_id, max_depth=1):
            indent = "  " * (n.depth or 1)
            print(f"{indent}{n.node_id} {n.title} (pages {n.page_start}-{n.page_end})")

        print("-- the path down to node 0009")
        print(" > ".join(n.title or "" for n in ts.get_ancestor_path(POLICY, "0009")))

        print("-- sections on page 40")
        for n in ts.get_nodes_by_page(POLICY, 40):
            print(f"{n.node_id} {n.section_path}")

        print("-- search: gaussian distribution")
        for h in ts.search_nodes("gaussian distribution", policy_id=POLICY, top_k=3):
            print(f"{h.score:.2f} {h.node_id} {h.title}")


if __name__ == "__main__":
    main()
