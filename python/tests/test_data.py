"""What goes in comes out: Unicode in every field, a 10 MB document, the
sample PageIndex files."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from conftest import sample_trees
from treestore import TreeStoreClient

WORDS = ["Ünïcödé", "政策", "保险范围", "Страхование", "وثيقة", "ביטוח", "🩺💊",
         "e\u0301clair", "naïve café", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u200d", "tab\there"]


def unicode_tree() -> dict[str, Any]:
    return {
        "doc_name": "Política de cobertura — 医疗政策 🩺.pdf",
        "doc_description": " · ".join(WORDS),
        "structure": [
            {"title": f"{w} section", "node_id": f"n-{i}-{w}", "start_index": i + 1,
             "end_index": i + 1, "summary": f"résumé {w} 摘要", "text": f"{w} " * 20,
             "keywords": [w, "ключ"],
             "nodes": [{"title": f"child of {w}", "node_id": f"c-{i}-{w}",
                        "summary": "détail", "text": "子节点 text"}]}
            for i, w in enumerate(WORDS)
        ],
    }


def test_unicode_everywhere(client: TreeStoreClient, uid: str) -> None:
    policy = f"{uid}-政策-🩺"
    tree = unicode_tree()
    assert client.store_document(policy, "версия-1", tree, effective_from=dt.date(2025, 1, 1),
                                 metadata={"owner": "Zoë", "区域": ["东", "西"]}) == 24
    assert client.get_document(policy, include_text=True) == tree
    node = client.get_node(policy, "c-1-政策")
    assert node is not None
    assert node.section_path == "政策 section > child of 政策"
    assert node.text == "子节点 text"
    assert [n.node_id for n in client.get_ancestor_path(policy, "c-2-保险范围")] == \
        ["n-2-保险范围", "c-2-保险范围"]
    hits = client.search_nodes("Страхование", policy_id=policy)
    assert hits and hits[0].node_id == "n-3-Страхование"
    v = client.latest_version(policy)
    assert v is not None and v.version_id == "версия-1" and v.metadata["区域"] == ["东", "西"]

    rid = client.store_tool_result(policy, "poisk 🔎", {"ответ": WORDS}, input={"запрос": "政策"},
                                   error_message="ошибка ✗")
    r = client.get_tool_results(policy)[0]
    assert (r.result_id, r.tool_name, r.output, r.input, r.error_message) == \
        (rid, "poisk 🔎", {"ответ": WORDS}, {"запрос": "政策"}, "ошибка ✗")
    client.store_trajectory(policy, [{"thought": w, "observation": w[::-1]} for w in WORDS],
                            trajectory_id="траектория")
    assert [s.thought for s in client.get_trajectory(policy)] == WORDS
    client.store_prompt(policy, "Décide {critère} 🤖", name="имя", variables=["critère", "変数"],
                        tool_schemas={"описание": "✓"})
    p = client.get_prompt(policy)
    assert p is not None and (p.template, p.name, p.variables, p.tool_schemas) == \
        ("Décide {critère} 🤖", "имя", ["critère", "変数"], {"описание": "✓"})
    ref = client.add_cross_reference(policy, "n-0-Ünïcödé", policy, "n-1-政策", "参照",
                                     context="voir aussi 👀")
    assert client.get_cross_references(policy) == [ref]


def test_ten_megabyte_document_round_trip(client: TreeStoreClient, uid: str) -> None:
    paragraph = ("Prior authorization is required for advanced imaging. "
                 "Résumé: 医疗 coverage applies. ") * 80  # ~7 KB
    tree = {"doc_name": "big.pdf", "structure": [
        {"title": f"Section {i}", "node_id": f"{i:04d}", "start_index": i, "end_index": i + 1,
         "summary": f"Summary {i}", "text": paragraph,
         "nodes": [{"title": f"Part {i}.{j}", "node_id": f"{i:04d}.{j}",
                    "text": paragraph} for j in range(2)]}
        for i in range(500)]}
    size = len(str(tree).encode())
    assert size > 10_000_000
    assert client.store_document(uid, "v1", tree) == 1500
    assert client.get_document(uid, include_text=True) == tree
    assert len(client.get_subtree(uid)) == 1500


def test_sample_pageindex_files_round_trip(client: TreeStoreClient,
                                           samples: dict[str, Any]) -> None:
    for policy, tree in sample_trees().items():
        assert client.get_document(policy, include_text=True) == tree, policy
        nodes = client.get_subtree(policy)
        assert nodes and all(dataclasses.is_dataclass(n) for n in nodes)
