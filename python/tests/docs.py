"""Small PageIndex trees with known answers, for the tests."""

from __future__ import annotations

from typing import Any


def policy_tree(name: str = "Lumbar Imaging Policy", *, marker: str = "") -> dict[str, Any]:
    """A five-node policy: ids 0000-0004, pages 1-5, keywords and see_also.

        0000 Coverage Rationale (1-3)
          0001 Prior Authorization (1-2)
            0002 Imaging Studies (2-2)
          0003 Exclusions (3-3)
        0004 Definitions (4-5)
    ``marker`` is appended to every summary (a word that only this tree has).
    """
    def node(node_id: str, title: str, start: int, end: int, summary: str, text: str,
             children: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        n: dict[str, Any] = {"title": title, "node_id": node_id, "start_index": start,
                             "end_index": end, "summary": f"{summary} {marker}".strip(),
                             "text": text, **extra}
        if children:
            n["nodes"] = children
        return n

    return {
        "doc_name": f"{name}.pdf",
        "doc_description": f"Medical policy: {name}",
        "structure": [
            node("0000", "Coverage Rationale", 1, 3,
                 "When lumbar spine imaging is medically necessary.",
                 "Coverage applies to members with persistent low back pain.",
                 [node("0001", "Prior Authorization", 1, 2,
                       "MRI of the lumbar spine requires prior authorization.",
                       "Submit clinical notes documenting six weeks of conservative therapy.",
                       [node("0002", "Imaging Studies", 2, 2,
                             "Magnetic resonance imaging and computed tomography.",
                             "Radiographs are required before advanced imaging.",
                             keywords=["MRI", "CT"])],
                       keywords=["prior authorization", "MRI"], see_also=["0004"]),
                  node("0003", "Exclusions", 3, 3,
                       "Imaging for acute low back pain without red flags is excluded.",
                       "Screening imaging is not covered.")]),
            node("0004", "Definitions", 4, 5,
                 "Terms used in this policy.",
                 "Conservative therapy means physical therapy and analgesics."),
        ],
    }
