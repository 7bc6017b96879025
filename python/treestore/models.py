"""The client's result types: one frozen dataclass per row shape.

Field names and order are the columns of the foreign tables and functions
of CONTRACT.md section 4, so that psycopg's ``args_row`` builds each one
straight from a result row: every query selects exactly these columns in
exactly this order (``columns(cls)`` gives the list), and nothing unpacks a
tuple by hand.  jsonb arrives as Python objects, dates as ``date``, times
as timezone-aware ``datetime``.

``builder(cls)`` is the constructor the row factories call: a frozen
dataclass's ``__init__`` sets each field through ``object.__setattr__``,
which costs more per row than psycopg's own work on a small row; the
builder fills the instance's ``__dict__`` in one step (the classes have no
``__post_init__`` and no defaults, so the object is the same).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

__all__ = [
    "Node",
    "Version",
    "Document",
    "SearchHit",
    "CrossReference",
    "ToolResult",
    "TrajectoryStep",
    "Prompt",
    "builder",
    "columns",
]

T = TypeVar("T")

Json = Any
"""A decoded jsonb value: dict, list, str, int, float, bool or None."""


@dataclasses.dataclass(frozen=True)
class Node:
    """A row of ``treestore.nodes``: one section of a PageIndex tree."""

    policy_id: str
    version_id: str
    node_id: str
    parent_id: str | None
    ordinal: int | None
    depth: int | None
    section_path: str | None
    title: str | None
    page_start: int | None
    page_end: int | None
    line_num: int | None
    summary: str | None
    text: str | None
    content_hash: str | None
    metadata: Json


@dataclasses.dataclass(frozen=True)
class Version:
    """A row of ``treestore.versions``: one version of a policy document."""

    policy_id: str
    version_id: str
    effective_from: date | None
    effective_to: date | None
    doc_name: str | None
    doc_description: str | None
    pageindex_doc_id: str | None
    pdf_sha256: str | None
    source_url: str | None
    node_count: int | None
    created_at: datetime | None
    metadata: Json


@dataclasses.dataclass(frozen=True)
class Document:
    """A row of ``treestore.documents``: one policy and its versions' summary."""

    policy_id: str
    title: str | None
    latest_version_id: str | None
    version_count: int | None
    created_at: datetime | None
    updated_at: datetime | None
    metadata: Json


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """A row of ``treestore.search``: a node ranked by BM25, best first."""

    policy_id: str
    version_id: str
    node_id: str
    title: str | None
    section_path: str | None
    score: float
    snippet: str | None


@dataclasses.dataclass(frozen=True)
class CrossReference:
    """A row of ``treestore.cross_references``."""

    source_policy_id: str
    source_node_id: str
    target_policy_id: str
    target_node_id: str
    reference_type: str
    context: str | None
    confidence: float | None
    created_at: datetime | None


@dataclasses.dataclass(frozen=True)
class ToolResult:
    """A row of ``treestore.tool_results``: one recorded tool call."""

    result_id: int
    case_id: str | None
    criterion_id: str | None
    tool_name: str | None
    policy_id: str | None
    version_id: str | None
    node_id: str | None
    input: Json
    output: Json
    success: bool | None
    error_message: str | None
    latency_ms: float | None
    created_at: datetime | None


@dataclasses.dataclass(frozen=True)
class TrajectoryStep:
    """A row of ``treestore.trajectories``: one step of a ReAct trajectory."""

    case_id: str
    trajectory_id: str
    step_number: int
    tool_name: str | None
    action: str | None
    thought: str | None
    observation: str | None
    created_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Prompt:
    """A row of ``treestore.prompts``: one version of a prompt template."""

    prompt_id: str
    version: int
    name: str | None
    template: str | None
    variables: list[str] | None
    tool_schemas: Json
    created_at: datetime | None
    deployed_at: datetime | None
    retired_at: datetime | None


def columns(cls: type[Any], alias: str = "") -> str:
    """The select list that builds ``cls``: its fields in order, quoted,
    each prefixed by ``alias.`` when an alias is given."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{f.name}"' for f in dataclasses.fields(cls))


def builder(cls: type[T]) -> Callable[..., T]:
    """A function making a ``cls`` from its fields' values, in order (for
    ``psycopg.rows.args_row``); ValueError when the count differs."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    new = object.__new__

    def build(*values: Any) -> T:
        obj = new(cls)
        obj.__dict__.update(zip(names, values, strict=True))
        return obj

    build.__name__ = f"build_{cls.__name__}"
    return build
