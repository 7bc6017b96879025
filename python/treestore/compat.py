"""The reasoning-service's tool layer on TreeStore.

``ReasoningServiceClient`` implements, method for method, the protocol the
reasoning-service's tool handlers call (CONTRACT.md section 5), with the
service's own field names:

    get_version_as_of(policy_id, as_of_date)   as_of_date an ISO string
    latest_version(policy_id)
    get_node(policy_id, version_id, node_id)
    get_nodes(policy_id, version_id, node_ids)
    search_nodes(policy_id, query, version_id, top_k=3) -> (version_id, nodes)
    find_related_nodes(policy_id, version_id, criterion_id, tokens, limit=5)
        -> [(node, reason)]

A node is a ``ServiceNode`` (node_id, title, section_path, pages: a list of
ints, summary, parent_id, keywords, see_also, text); a version a
``ServiceVersion`` (policy_id, version_id, effective_start, effective_end:
ISO strings or None, pageindex_doc_id, previous_version_id, node_ids).  Each
method is one statement over treestore's functions and tables, shaped into
those fields by SQL and built by a row factory.  Every failure raises
``TreeStoreClientError`` (a RuntimeError), as the handlers expect.

Choices where the service's protocol is silent:
  * get_node returns None for a node that does not exist; get_version_as_of
    and latest_version None for a policy without one.  get_nodes returns a
    dict by node_id, in the order asked, without the ids that do not exist.
  * pages: page_start..page_end (page_end missing: page_start alone), at
    most MAX_PAGES entries; [] for a node without pages.  keywords and
    see_also: the node's "keywords" / "see_also" arrays as PageIndex stored
    them (nodes.metadata), [] when absent.
  * effective_end: the temporal rule's end, the earlier of effective_to and
    the next version's effective_from.  previous_version_id: the version
    before it in list_versions order.  node_ids: by node_id (the order of
    treestore.nodes' key).
  * version_id None (search_nodes, find_related_nodes): the version in force
    today, else the latest -- the contract's rule; the version searched is
    returned even when nothing matched.
  * find_related_nodes: the best nodes for the criterion's tokens (BM25,
    treestore.search), each followed by the nodes its cross references point
    to (a target in another policy: that policy's version in force today);
    each node once, the first ``limit``; the reason says which.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

from psycopg.rows import args_row

from .calls import Call, all_rows, first_or_none, rows_of
from .client import TreeStoreClient
from .errors import TreeStoreError
from .models import builder

__all__ = ["ReasoningServiceClient", "ServiceNode", "ServiceVersion", "TreeStoreClientError"]

T = TypeVar("T")

MAX_PAGES = 10_000
"""The most entries a node's ``pages`` list gets (a bound on bad page ranges)."""


class TreeStoreClientError(RuntimeError):
    """A failed call of the tool layer; keeps the server's SQLSTATE and words."""

    def __init__(self, message: str, *, sqlstate: str | None = None,
                 detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


@dataclasses.dataclass(frozen=True)
class ServiceNode:
    """A policy node as the reasoning-service's tools see it."""

    node_id: str
    title: str | None
    section_path: str | None
    pages: list[int]
    summary: str | None
    parent_id: str | None
    keywords: list[str]
    see_also: list[str]
    text: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ServiceVersion:
    """A policy version as the reasoning-service's tools see it."""

    policy_id: str
    version_id: str
    effective_start: str | None
    effective_end: str | None
    pageindex_doc_id: str | None
    previous_version_id: str | None
    node_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _text_array(expr: str) -> str:
    return (f"ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof({expr})"
            f" WHEN 'array' THEN {expr} ELSE '[]' END))")


# The select list of a ServiceNode from a treestore.nodes row n.
_KEYWORDS = _text_array("n.metadata->'keywords'")
_SEE_ALSO = _text_array("n.metadata->'see_also'")
_NODE = (
    "n.node_id, n.title, n.section_path,"
    " ARRAY(SELECT generate_series(n.page_start,"
    f" least(coalesce(n.page_end, n.page_start), n.page_start + {MAX_PAGES - 1}))) AS pages,"
    " n.summary, n.parent_id,"
    f" {_KEYWORDS} AS keywords, {_SEE_ALSO} AS see_also,"
    " n.text")
_build_node = builder(ServiceNode)
_node_rows = rows_of(ServiceNode)

# The version the contract's rule picks without a date: in force today, else
# the latest (documents.latest_version_id).
_RESOLVED = ("coalesce(%(v)s::text,"
             " (SELECT a.version_id FROM treestore.version_as_of(%(p)s::text, current_date) a),"
             " (SELECT d.latest_version_id FROM treestore.documents d"
             " WHERE d.policy_id = %(p)s::text))")

# One version with its neighbours (list_versions order) and its node ids (one
# key-prefix scan of treestore.nodes: by node_id); {pick} is a subquery
# giving the version_id.
_VERSION_SQL = (
    "WITH v AS (SELECT l.policy_id, l.version_id, l.effective_from, l.effective_to,"
    " l.pageindex_doc_id, lag(l.version_id) OVER w AS previous_version_id,"
    " lead(l.effective_from) OVER w AS next_from"
    " FROM treestore.list_versions(%(p)s::text) l"
    " WINDOW w AS (ORDER BY l.effective_from NULLS LAST, l.version_id))"
    " SELECT v.policy_id, v.version_id, to_char(v.effective_from, 'YYYY-MM-DD'),"
    " to_char(least(v.effective_to, v.next_from), 'YYYY-MM-DD'), v.pageindex_doc_id,"
    " v.previous_version_id,"
    " ARRAY(SELECT n.node_id FROM treestore.nodes n WHERE n.policy_id = v.policy_id"
    " AND n.version_id = v.version_id)"
    " FROM v WHERE v.version_id = ({pick})")
_VERSION_AS_OF = _VERSION_SQL.replace(
    "{pick}", "SELECT a.version_id FROM treestore.version_as_of(%(p)s::text, %(d)s::date) a")
_LATEST_VERSION = _VERSION_SQL.replace(
    "{pick}", "SELECT d.latest_version_id FROM treestore.documents d"
    " WHERE d.policy_id = %(p)s::text")
_version_rows = rows_of(ServiceVersion)


def _version_call(sql: str, params: dict[str, Any]) -> Call[ServiceVersion,
                                                            ServiceVersion | None]:
    first: Callable[[list[ServiceVersion]], ServiceVersion | None] = first_or_none
    return Call(sql, params, _version_rows, first, safe_to_repeat=True)


def _search_row(version_id: str | None, *cols: Any) -> tuple[str | None, ServiceNode | None]:
    # cols: a ServiceNode's columns, then the score (for ORDER BY only); all
    # NULL when nothing matched
    return version_id, (_build_node(*cols[:-1]) if cols[0] is not None else None)


def _related_row(reason: str, *node: Any) -> tuple[ServiceNode, str]:
    return _build_node(*node), reason


class ReasoningServiceClient:
    """The reasoning-service's tool-layer protocol, served by TreeStore.

    ``client``: a TreeStoreClient to use (not closed by ``close()``); else
    one is made from ``dsn`` and ``client_args`` (TreeStoreClient's keyword
    arguments) and closed with this one.  ``client`` also records tool
    results, trajectories and prompt usage, and groups them with
    ``client.transaction()``.
    """

    def __init__(self, client: TreeStoreClient | None = None, *, dsn: str | None = None,
                 **client_args: Any) -> None:
        self._own_client = client is None
        self.client = client if client is not None else TreeStoreClient(dsn, **client_args)

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> ReasoningServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except TreeStoreError as exc:
            raise TreeStoreClientError(exc.message, sqlstate=exc.sqlstate, detail=exc.detail,
                                       hint=exc.hint) from exc

    def _run(self, call: Call[Any, T]) -> T:
        with self._errors():
            return self.client._run(call)

    # --- versions ------------------------------------------------------------------

    def get_version_as_of(self, policy_id: str, as_of_date: str | date) -> ServiceVersion | None:
        """The version in force on ``as_of_date`` (ISO 'YYYY-MM-DD'), or None."""
        if isinstance(as_of_date, str):
            try:
                as_of_date = date.fromisoformat(as_of_date)
            except ValueError as exc:
                raise TreeStoreClientError(f"as_of_date must be an ISO date (YYYY-MM-DD), "
                                           f"not {as_of_date!r}", sqlstate="22007") from exc
        return self._run(_version_call(_VERSION_AS_OF, {"p": policy_id, "d": as_of_date}))

    def latest_version(self, policy_id: str) -> ServiceVersion | None:
        """The version with the latest effective_from, or None."""
        return self._run(_version_call(_LATEST_VERSION, {"p": policy_id}))

    # --- nodes ---------------------------------------------------------------------

    def get_node(self, policy_id: str, version_id: str, node_id: str) -> ServiceNode | None:
        """One node of one version, or None."""
        first: Callable[[list[ServiceNode]], ServiceNode | None] = first_or_none
        return self._run(Call(
            f"SELECT {_NODE} FROM treestore.get_node(%(p)s::text, %(n)s::text, %(v)s::text) n",
            {"p": policy_id, "n": node_id, "v": version_id}, _node_rows, first,
            safe_to_repeat=True))

    def get_nodes(self, policy_id: str, version_id: str,
                  node_ids: Iterable[str]) -> dict[str, ServiceNode]:
        """Nodes of one version by id, in the order asked; missing ids left out."""
        wanted = _ids(node_ids)

        def in_request_order(rows: list[ServiceNode]) -> dict[str, ServiceNode]:
            by_id = {n.node_id: n for n in rows}
            return {i: by_id[i] for i in wanted if i in by_id}

        return self._run(Call(
            f"SELECT {_NODE} FROM treestore.nodes n WHERE n.policy_id = %(p)s::text"
            " AND n.version_id = %(v)s::text AND n.node_id = ANY(%(ids)s::text[])",
            {"p": policy_id, "v": version_id, "ids": wanted}, _node_rows, in_request_order,
            safe_to_repeat=True))

    def search_nodes(self, policy_id: str, query: str, version_id: str | None = None,
                     top_k: int = 3) -> tuple[str | None, list[ServiceNode]]:
        """The ``top_k`` best nodes for ``query`` in one version of a policy,
        and that version's id (None: the policy has no version)."""

        def split(rows: list[tuple[str | None, ServiceNode | None]]
                  ) -> tuple[str | None, list[ServiceNode]]:
            return (rows[0][0] if rows else None), [n for _, n in rows if n is not None]

        return self._run(Call(
            f"WITH ver AS (SELECT {_RESOLVED} AS version_id)"
            f" SELECT ver.version_id, hit.* FROM ver LEFT JOIN LATERAL ("
            f" SELECT {_NODE}, s.score FROM treestore.search(%(q)s::text, %(p)s::text,"
            " ver.version_id, NULL, %(k)s::integer) s"
            " CROSS JOIN LATERAL treestore.get_node(s.policy_id, s.node_id, s.version_id) n"
            " ) hit ON true ORDER BY hit.score DESC NULLS LAST",
            {"p": policy_id, "v": version_id, "q": query, "k": top_k},
            args_row(_search_row), split, safe_to_repeat=True))

    def find_related_nodes(self, policy_id: str, version_id: str | None, criterion_id: str,
                           tokens: Sequence[str], limit: int = 5
                           ) -> list[tuple[ServiceNode, str]]:
        """Nodes related to a criterion: the best matches for its tokens, each
        followed by what its cross references point to; at most ``limit``."""
        words = [t for t in _ids(tokens) if t.strip()]
        if not words or limit <= 0:
            return []
        return self._run(Call(
            f"WITH ver AS (SELECT {_RESOLVED} AS version_id),"
            " anchor AS (SELECT s.node_id, s.version_id, s.score,"
            " row_number() OVER (ORDER BY s.score DESC, s.node_id) AS rank"
            " FROM ver, treestore.search(%(q)s::text, %(p)s::text, ver.version_id, NULL,"
            " %(k)s::integer) s),"
            " related AS ("
            " SELECT a.rank, 0 AS sub, %(p)s::text AS policy_id, a.node_id, a.version_id,"
            " format('matches criterion %%s (score %%s)', %(crit)s::text,"
            " round(a.score::numeric, 2)) AS reason"
            " FROM anchor a"
            " UNION ALL"
            " SELECT a.rank, row_number() OVER (PARTITION BY a.rank"
            " ORDER BY x.confidence DESC NULLS LAST, x.target_policy_id, x.target_node_id),"
            " x.target_policy_id, x.target_node_id,"
            " CASE WHEN x.target_policy_id = %(p)s::text THEN a.version_id END,"
            " format('%%s from %%s%%s', x.reference_type, a.node_id,"
            " ': ' || x.context)"
            " FROM anchor a CROSS JOIN LATERAL"
            " treestore.get_cross_references(%(p)s::text, a.node_id, 'outgoing') x),"
            " firsts AS (SELECT DISTINCT ON (r.policy_id, r.node_id) r.*"
            " FROM related r ORDER BY r.policy_id, r.node_id, r.rank, r.sub)"
            f" SELECT f.reason, {_NODE} FROM firsts f"
            " CROSS JOIN LATERAL treestore.get_node(f.policy_id, f.node_id, f.version_id) n"
            " ORDER BY f.rank, f.sub LIMIT %(k)s::integer",
            {"p": policy_id, "v": version_id, "q": " ".join(words), "k": limit,
             "crit": criterion_id},
            args_row(_related_row), all_rows, safe_to_repeat=True))


def _ids(values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        raise TreeStoreClientError("expected a list of strings, not one string",
                                   sqlstate="22023")
    return list(values)

