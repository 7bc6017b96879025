"""Every call of the client as data: its SQL, parameters, row factory,
how rows become the result, and whether it is safe to repeat.

``TreeStoreClient`` and ``AsyncTreeStoreClient`` differ only in how they
wait; both run the ``Call`` objects built here, so the SQL, the typing of
arguments and the shaping of results live in one place.  Each call is ONE
statement -- one round trip -- through the functions and foreign tables of
CONTRACT.md section 4; the client adds no logic the server has.

``safe_to_repeat`` marks reads and idempotent writes (a replacing
store_document, delete_document): only those are retried after a transient
failure, because a write whose outcome is unknown (the connection broke
before its answer arrived) could otherwise be applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Generic, TypeVar

from psycopg.rows import BaseRowFactory, args_row
from psycopg.types.json import Jsonb

from .errors import InvalidDocument, NotFound
from .models import (
    CrossReference,
    Document,
    Node,
    Prompt,
    SearchHit,
    ToolResult,
    TrajectoryStep,
    Version,
    builder,
    columns,
)

R = TypeVar("R")
T = TypeVar("T")

DateLike = date | str
"""A date, or its ISO text ('2025-01-31'): the server casts it to date."""


class Call(Generic[R, T]):
    """One statement and what to make of its rows.

    ``large``: the call moves a whole document (in or out).  The clients
    keep one cursor per connection for the next call (psycopg spends more
    on making a cursor than on a small query's rows), but not one that held
    a large call or more than KEEP_CURSOR_ROWS rows: a kept cursor keeps its
    last result, and that must stay small.
    """

    __slots__ = ("sql", "params", "row_factory", "result", "safe_to_repeat", "large")

    def __init__(self, sql: str, params: Mapping[str, Any], row_factory: BaseRowFactory[R],
                 result: Callable[[list[R]], T], safe_to_repeat: bool,
                 large: bool = False) -> None:
        self.sql = sql
        self.params = params
        self.row_factory = row_factory
        self.result = result
        self.safe_to_repeat = safe_to_repeat
        self.large = large


KEEP_CURSOR_ROWS = 1000
"""The most rows a result may have for its cursor to be kept for reuse."""


def keep_cursor(call: Call[Any, Any], rows: list[Any]) -> bool:
    """Whether the cursor that ran ``call`` and fetched ``rows`` is kept
    for the connection's next call (see ``Call``)."""
    return not call.large and len(rows) <= KEEP_CURSOR_ROWS


def _identity(value: Any) -> Any:
    return value


_scalar: BaseRowFactory[Any] = args_row(_identity)


def rows_of(cls: type[R]) -> BaseRowFactory[R]:
    """The row factory making ``cls`` (a models dataclass) of each row."""
    return args_row(builder(cls))


_node_rows = rows_of(Node)
_version_rows = rows_of(Version)
_document_rows = rows_of(Document)
_hit_rows = rows_of(SearchHit)
_reference_rows = rows_of(CrossReference)
_tool_rows = rows_of(ToolResult)
_step_rows = rows_of(TrajectoryStep)
_prompt_rows = rows_of(Prompt)


def all_rows(rows: list[R]) -> list[R]:
    return rows


def first_or_none(rows: list[R]) -> R | None:
    return rows[0] if rows else None


def _first(rows: list[R]) -> R:
    return rows[0]


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _read(sql: str, params: Mapping[str, Any], row_factory: BaseRowFactory[R],
          result: Callable[[list[R]], T], *, large: bool = False) -> Call[R, T]:
    return Call(sql, params, row_factory, result, True, large)


def _write(sql: str, params: Mapping[str, Any], row_factory: BaseRowFactory[R],
           result: Callable[[list[R]], T], *, idempotent: bool = False,
           large: bool = False) -> Call[R, T]:
    return Call(sql, params, row_factory, result, idempotent, large)


_NODE = columns(Node)
_VERSION = columns(Version)

# --- documents ---------------------------------------------------------------


def store_document(policy_id: str, version_id: str, tree: Any, *,
                   effective_from: DateLike | None, metadata: Mapping[str, Any] | None,
                   replace: bool) -> Call[Any, int]:
    return _write(
        "SELECT treestore.store_document(%(p)s::text, %(v)s::text, %(tree)s::jsonb,"
        " %(from)s::date, coalesce(%(meta)s::jsonb, '{}'), %(replace)s::boolean)",
        {"p": policy_id, "v": version_id, "tree": Jsonb(tree), "from": effective_from,
         "meta": _json(metadata), "replace": replace},
        _scalar, _first, idempotent=replace, large=True)


def get_document(policy_id: str, *, version_id: str | None, as_of: DateLike | None,
                 include_text: bool) -> Call[Any, dict[str, Any]]:
    def found(rows: list[Any]) -> dict[str, Any]:
        if rows[0] is None:
            raise NotFound(f'no version of policy "{policy_id}" matches'
                           f" (version_id {version_id!r}, as_of {as_of!r})")
        return dict(rows[0])

    return _read(
        "SELECT treestore.get_document(%(p)s::text, %(v)s::text, %(as_of)s::date,"
        " %(text)s::boolean)",
        {"p": policy_id, "v": version_id, "as_of": as_of, "text": include_text},
        _scalar, found, large=True)


def delete_document(policy_id: str, version_id: str | None) -> Call[Any, int]:
    return _write("SELECT treestore.delete_document(%(p)s::text, %(v)s::text)",
                  {"p": policy_id, "v": version_id}, _scalar, _first, idempotent=True)


def list_documents() -> Call[Document, list[Document]]:
    return _read(f"SELECT {columns(Document)} FROM treestore.documents ORDER BY policy_id",
                 {}, _document_rows, all_rows)


# --- nodes ---------------------------------------------------------------------


_GET_NODE = (f"SELECT {_NODE} FROM treestore.get_node(%(p)s::text, %(n)s::text, %(v)s::text,"
             " %(as_of)s::date)")


def get_node(policy_id: str, node_id: str, *, version_id: str | None,
             as_of: DateLike | None) -> Call[Node, Node | None]:
    return Call(_GET_NODE, {"p": policy_id, "n": node_id, "v": version_id, "as_of": as_of},
                _node_rows, first_or_none, True)


def get_nodes(policy_id: str, version_id: str,
              node_ids: Iterable[str]) -> Call[Node, dict[str, Node]]:
    if isinstance(node_ids, str):
        raise TypeError("node_ids must be an iterable of ids, not one string")
    wanted = list(node_ids)

    def in_request_order(rows: list[Node]) -> dict[str, Node]:
        by_id = {n.node_id: n for n in rows}
        return {i: by_id[i] for i in wanted if i in by_id}

    return _read(
        f"SELECT {_NODE} FROM treestore.nodes WHERE policy_id = %(p)s::text"
        " AND version_id = %(v)s::text AND node_id = ANY(%(ids)s::text[])",
        {"p": policy_id, "v": version_id, "ids": wanted}, _node_rows, in_request_order)


def _node_set(function: str, args: str) -> str:
    return f"SELECT {_NODE} FROM treestore.{function}({args})"


_CHILDREN = _node_set("get_children", "%(p)s::text, %(n)s::text, %(v)s::text, %(as_of)s::date")
_SUBTREE = _node_set("get_subtree", "%(p)s::text, %(n)s::text, %(d)s::integer, %(v)s::text,"
                     " %(as_of)s::date")
_ANCESTORS = _node_set("get_ancestors", "%(p)s::text, %(n)s::text, %(v)s::text, %(as_of)s::date")
_BY_PAGE = _node_set("nodes_by_page", "%(p)s::text, %(page)s::integer, %(v)s::text,"
                     " %(as_of)s::date")


def get_children(policy_id: str, node_id: str | None, *, version_id: str | None,
                 as_of: DateLike | None) -> Call[Node, list[Node]]:
    return _read(_CHILDREN, {"p": policy_id, "n": node_id, "v": version_id, "as_of": as_of},
                 _node_rows, all_rows)


def get_subtree(policy_id: str, node_id: str | None, *, max_depth: int | None,
                version_id: str | None, as_of: DateLike | None) -> Call[Node, list[Node]]:
    return _read(_SUBTREE, {"p": policy_id, "n": node_id, "d": max_depth, "v": version_id,
                            "as_of": as_of}, _node_rows, all_rows)


def get_ancestor_path(policy_id: str, node_id: str, *, version_id: str | None,
                      as_of: DateLike | None) -> Call[Node, list[Node]]:
    return _read(_ANCESTORS, {"p": policy_id, "n": node_id, "v": version_id, "as_of": as_of},
                 _node_rows, all_rows)


def get_nodes_by_page(policy_id: str, page: int, *, version_id: str | None,
                      as_of: DateLike | None) -> Call[Node, list[Node]]:
    return _read(_BY_PAGE, {"p": policy_id, "page": page, "v": version_id, "as_of": as_of},
                 _node_rows, all_rows)


_SEARCH = (f"SELECT {columns(SearchHit)} FROM treestore.search(%(q)s::text, %(p)s::text,"
           " %(v)s::text, %(as_of)s::date, %(k)s::integer)")


def search_nodes(query: str, *, policy_id: str | None, version_id: str | None,
                 as_of: DateLike | None, top_k: int) -> Call[SearchHit, list[SearchHit]]:
    return _read(_SEARCH, {"q": query, "p": policy_id, "v": version_id, "as_of": as_of,
                           "k": top_k}, _hit_rows, all_rows)


# --- versions -----------------------------------------------------------------


def get_version_as_of(policy_id: str, as_of: DateLike) -> Call[Version, Version | None]:
    return _read(f"SELECT {_VERSION} FROM treestore.version_as_of(%(p)s::text, %(as_of)s::date)",
                 {"p": policy_id, "as_of": as_of}, _version_rows, first_or_none)


def latest_version(policy_id: str) -> Call[Version, Version | None]:
    # documents.latest_version_id is the temporal rule's "latest" (the
    # latest effective_from), kept by the server on every store and delete.
    return _read(
        f"SELECT {columns(Version, 'v')} FROM treestore.documents d"
        " JOIN treestore.versions v ON v.policy_id = d.policy_id"
        " AND v.version_id = d.latest_version_id WHERE d.policy_id = %(p)s::text",
        {"p": policy_id}, _version_rows, first_or_none)


def list_versions(policy_id: str) -> Call[Version, list[Version]]:
    return _read(f"SELECT {_VERSION} FROM treestore.list_versions(%(p)s::text)",
                 {"p": policy_id}, _version_rows, all_rows)


# --- cross references ---------------------------------------------------------


def get_cross_references(policy_id: str, node_id: str | None, *,
                         direction: str) -> Call[CrossReference, list[CrossReference]]:
    return _read(
        f"SELECT {columns(CrossReference)} FROM treestore.get_cross_references("
        "%(p)s::text, %(n)s::text, %(dir)s::text)",
        {"p": policy_id, "n": node_id, "dir": direction}, _reference_rows, all_rows)


def add_cross_reference(source_policy_id: str, source_node_id: str, target_policy_id: str,
                        target_node_id: str, reference_type: str, *, context: str | None,
                        confidence: float | None) -> Call[CrossReference, CrossReference]:
    return _write(
        "INSERT INTO treestore.cross_references (source_policy_id, source_node_id,"
        " target_policy_id, target_node_id, reference_type, context, confidence)"
        " VALUES (%(sp)s, %(sn)s, %(tp)s, %(tn)s, %(type)s, %(ctx)s, %(conf)s::real)"
        f" RETURNING {columns(CrossReference)}",
        {"sp": source_policy_id, "sn": source_node_id, "tp": target_policy_id,
         "tn": target_node_id, "type": reference_type, "ctx": context, "conf": confidence},
        _reference_rows, _first)


# --- tool results, trajectories -------------------------------------------------


def store_tool_result(case_id: str, tool_name: str, result: Any, *, input: Any,
                      criterion_id: str | None, policy_id: str | None,
                      version_id: str | None, node_id: str | None, success: bool,
                      error_message: str | None,
                      latency_ms: float | None) -> Call[Any, int]:
    return _write(
        "SELECT treestore.store_tool_result(%(case)s::text, %(tool)s::text, %(out)s::jsonb,"
        " %(in)s::jsonb, %(crit)s::text, %(p)s::text, %(v)s::text, %(n)s::text,"
        " %(ok)s::boolean, %(err)s::text, %(ms)s::double precision)",
        {"case": case_id, "tool": tool_name, "out": Jsonb(result), "in": _json(input),
         "crit": criterion_id, "p": policy_id, "v": version_id, "n": node_id,
         "ok": success, "err": error_message, "ms": latency_ms},
        _scalar, _first)


def _where(**filters: tuple[str, Any]) -> tuple[str, dict[str, Any]]:
    """``col = %(col)s::type AND ...`` for each filter col=(type, value)
    whose value is not None (None: not filtered), and the parameters.  The
    equalities on key columns reach the foreign table as key ranges."""
    conds = [f"{col} = %({col})s::{typ}" for col, (typ, value) in filters.items()
             if value is not None]
    return " AND ".join(conds), {col: value for col, (_, value) in filters.items()}


def get_tool_results(case_id: str,
                     tool_name: str | None) -> Call[ToolResult, list[ToolResult]]:
    where, params = _where(case_id=("text", case_id), tool_name=("text", tool_name))
    return _read(f"SELECT {columns(ToolResult)} FROM treestore.tool_results WHERE {where}"
                 " ORDER BY result_id", params, _tool_rows, all_rows)


_STEP_FIELDS = ("tool_name", "action", "thought", "observation")


def _step_json(position: int, step: TrajectoryStep | Mapping[str, Any]) -> dict[str, Any]:
    get: Callable[[str], Any]
    if isinstance(step, TrajectoryStep):
        get = step.__getattribute__
    elif isinstance(step, Mapping):
        get = step.get
    else:
        raise InvalidDocument(f"trajectory step {position} must be a mapping or a "
                              f"TrajectoryStep, not {type(step).__name__}")
    number = get("step_number")
    return {"step_number": position if number is None else number,
            **{f: get(f) for f in _STEP_FIELDS}}


def store_trajectory(case_id: str, steps: Sequence[TrajectoryStep | Mapping[str, Any]], *,
                     trajectory_id: str | None) -> Call[Any, str]:
    if not steps:
        raise InvalidDocument("a trajectory needs at least one step")
    payload = [_step_json(i, s) for i, s in enumerate(steps, start=1)]
    # One id for every step: drawn once (gen_random_uuid) unless given.
    return _write(
        "INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, tool_name,"
        " action, thought, observation)"
        " SELECT %(case)s::text, t.id, s.step_number, s.tool_name, s.action, s.thought,"
        " s.observation"
        " FROM (SELECT coalesce(%(tid)s::text, gen_random_uuid()::text) AS id) t,"
        " jsonb_to_recordset(%(steps)s::jsonb) AS s(step_number integer, tool_name text,"
        " action text, thought text, observation text)"
        " RETURNING trajectory_id",
        {"case": case_id, "tid": trajectory_id, "steps": Jsonb(payload)}, _scalar, _first)


def get_trajectory(case_id: str,
                   trajectory_id: str | None) -> Call[TrajectoryStep, list[TrajectoryStep]]:
    where, params = _where(case_id=("text", case_id), trajectory_id=("text", trajectory_id))
    return _read(f"SELECT {columns(TrajectoryStep)} FROM treestore.trajectories WHERE {where}"
                 " ORDER BY trajectory_id, step_number", params, _step_rows, all_rows)


# --- prompts ---------------------------------------------------------------------


def store_prompt(prompt_id: str, template: str, *, name: str | None,
                 variables: Sequence[str], tool_schemas: Any) -> Call[Any, int]:
    # The next version of the prompt: two sessions storing one prompt at once
    # write the same key, and the later committer gets 40001.
    return _write(
        "INSERT INTO treestore.prompts (prompt_id, version, name, template, variables,"
        " tool_schemas)"
        " SELECT %(id)s::text, coalesce(max(version), 0) + 1, %(name)s::text, %(t)s::text,"
        " %(vars)s::text[], %(schemas)s::jsonb"
        " FROM treestore.prompts WHERE prompt_id = %(id)s::text RETURNING version",
        {"id": prompt_id, "name": name, "t": template, "vars": list(variables),
         "schemas": _json(tool_schemas)}, _scalar, _first)


def get_prompt(prompt_id: str, version: int | None) -> Call[Prompt, Prompt | None]:
    where, params = _where(prompt_id=("text", prompt_id), version=("integer", version))
    return _read(f"SELECT {columns(Prompt)} FROM treestore.prompts WHERE {where}"
                 " ORDER BY version DESC LIMIT 1", params, _prompt_rows, first_or_none)


def record_prompt_usage(prompt_id: str, version: int, case_id: str | None, *,
                        filled_variables: Any, response: str | None) -> Call[Any, int]:
    return _write(
        "INSERT INTO treestore.prompt_usage (prompt_id, version, case_id, filled_variables,"
        " response) VALUES (%(id)s::text, %(v)s::integer, %(case)s::text, %(vars)s::jsonb,"
        " %(resp)s::text) RETURNING usage_id",
        {"id": prompt_id, "v": version, "case": case_id, "vars": _json(filled_variables),
         "resp": response}, _scalar, _first)


# --- the engine ------------------------------------------------------------------


def health() -> Call[Any, dict[str, Any]]:
    return _read("SELECT treestore.health()", {}, _scalar, _first)


def stats() -> Call[Any, dict[str, Any]]:
    return _read("SELECT treestore.stats()", {}, _scalar, _first)
