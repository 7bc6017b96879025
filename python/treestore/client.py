"""TreeStoreClient: the synchronous client (CONTRACT.md section 5).

One ``psycopg_pool.ConnectionPool`` of autocommit connections: outside
``transaction()`` every method is one statement and one transaction,
taken from the pool and given back at once.  ``transaction()`` pins one
connection to the calling thread (a context variable), so that every
method called inside it -- on this client, from this thread -- runs in the
same PostgreSQL transaction; nested, it makes a savepoint.

The SQL of each method is in ``calls.py``, shared with the async client.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from . import calls
from .calls import Call, DateLike, keep_cursor
from .errors import TreeStoreError, from_psycopg
from .models import (
    CrossReference,
    Document,
    Node,
    Prompt,
    SearchHit,
    ToolResult,
    TrajectoryStep,
    Version,
)
from .pooling import pool_kwargs, pool_timeout_error
from .retry import backoff, rerun_transaction, retry_call

R = TypeVar("R")
T = TypeVar("T")


class TreeStoreClient:
    """A client for treestore_fdw on psycopg 3.

    ``dsn``: a libpq connection string or URI; None or "" uses the standard
    ``PG*`` environment variables.  ``pool``: a ConnectionPool to use instead
    of making one (the client then neither opens nor closes it; its
    connections must be in autocommit mode).  ``min_size``/``max_size``: the
    pool's bounds.  ``timeout``: seconds to wait for a free connection.
    ``retries``: how many times a call that is safe to repeat is retried
    after a transient failure.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: psycopg_pool.ConnectionPool | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
        retries: int = 3,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.retries = retries
        self.timeout = timeout
        self._own_pool = pool is None
        self._pool = pool if pool is not None else psycopg_pool.ConnectionPool(
            dsn or "", open=True, **pool_kwargs(min_size, max_size, timeout))
        # one cursor per connection, kept for the next call (Call's docstring)
        self._cursors: weakref.WeakKeyDictionary[psycopg.Connection[Any], psycopg.Cursor[Any]] = \
            weakref.WeakKeyDictionary()
        self._txn: contextvars.ContextVar[psycopg.Connection[Any] | None] = \
            contextvars.ContextVar(f"treestore-txn-{id(self)}", default=None)

    # --- lifecycle ---------------------------------------------------------------

    @property
    def pool(self) -> psycopg_pool.ConnectionPool:
        return self._pool

    def close(self) -> None:
        """Close the pool (when the client made it).  Idempotent."""
        if self._own_pool:
            self._pool.close()

    def __enter__(self) -> TreeStoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- running calls -------------------------------------------------------------

    def _getconn(self) -> psycopg.Connection[Any]:
        try:
            return self._pool.getconn()
        except psycopg_pool.PoolTimeout as exc:
            raise pool_timeout_error(self._pool, self.timeout) from exc

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._getconn()
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    def _execute(self, conn: psycopg.Connection[Any], call: Call[R, T]) -> T:
        cur = self._cursors.pop(conn, None)
        if cur is None or cur.closed:
            cur = conn.cursor()
        cur.row_factory = call.row_factory
        try:
            cur.execute(call.sql, call.params)
            rows = cur.fetchall()
        except BaseException:
            cur.close()
            raise
        if keep_cursor(call, rows):
            self._cursors[conn] = cur
        else:
            cur.close()
        return call.result(rows)

    def _run(self, call: Call[R, T]) -> T:
        pinned = self._txn.get()
        try:
            if pinned is not None:
                return self._execute(pinned, call)
            attempt = 0
            while True:
                conn = self._getconn()  # not _connection(): this is the hot path
                try:
                    return self._execute(conn, call)
                except psycopg.Error as exc:
                    if not retry_call(exc, safe_to_repeat=call.safe_to_repeat, attempt=attempt,
                                      limit=self.retries):
                        raise
                    if conn.broken:
                        self._pool.check()  # drop the idle connections that died with it
                finally:
                    self._pool.putconn(conn)
                time.sleep(backoff(attempt))
                attempt += 1
        except psycopg.Error as exc:
            raise from_psycopg(exc) from exc

    # --- transactions ------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[TreeStoreClient]:
        """Run the calls of the block in one PostgreSQL transaction.

        Commits when the block ends, rolls back when it raises.  Nested in
        another transaction() of this client it is a savepoint.  Calls in the
        block are never retried.
        """
        pinned = self._txn.get()
        try:
            if pinned is not None:
                with pinned.transaction():
                    yield self
                return
            with self._connection() as conn, conn.transaction():
                token = self._txn.set(conn)
                try:
                    yield self
                finally:
                    self._txn.reset(token)
        except psycopg.Error as exc:
            raise from_psycopg(exc) from exc

    def run_in_transaction(self, fn: Callable[[TreeStoreClient], T], *,
                           retries: int | None = None) -> T:
        """Call ``fn(self)`` inside ``transaction()`` and return its result,
        running it again (after a capped, jittered wait) when the transaction
        fails with 40001 or 40P01 or loses its connection before COMMIT, at
        most ``retries`` times (default: the client's)."""
        if self._txn.get() is not None:
            raise TreeStoreError("run_in_transaction cannot run inside a transaction: "
                                 "a failed attempt would abort the outer one")
        limit = self.retries if retries is None else retries
        attempt = 0
        while True:
            committing = False
            try:
                with self.transaction():
                    result = fn(self)
                    committing = True
                return result
            except TreeStoreError as exc:
                if not rerun_transaction(exc, committing=committing, attempt=attempt,
                                         limit=limit):
                    raise
            time.sleep(backoff(attempt))
            attempt += 1

    # --- documents -----------------------------------------------------------------

    def store_document(self, policy_id: str, version_id: str, tree: Any, *,
                       effective_from: DateLike | None = None,
                       metadata: Mapping[str, Any] | None = None,
                       replace: bool = False) -> int:
        """Store a PageIndex tree as a version of a policy; the nodes stored."""
        return self._run(calls.store_document(policy_id, version_id, tree,
                                              effective_from=effective_from,
                                              metadata=metadata, replace=replace))

    def get_document(self, policy_id: str, *, version_id: str | None = None,
                     as_of: DateLike | None = None, include_text: bool = False) -> dict[str, Any]:
        """The resolved version as a PageIndex tree; NotFound when none."""
        return self._run(calls.get_document(policy_id, version_id=version_id, as_of=as_of,
                                            include_text=include_text))

    def delete_document(self, policy_id: str, version_id: str | None = None) -> int:
        """Delete one version (or every version) of a policy; the rows removed."""
        return self._run(calls.delete_document(policy_id, version_id))

    def list_documents(self) -> list[Document]:
        """Every policy, by policy_id."""
        return self._run(calls.list_documents())

    # --- nodes ---------------------------------------------------------------------

    def get_node(self, policy_id: str, node_id: str, *, version_id: str | None = None,
                 as_of: DateLike | None = None) -> Node | None:
        """One node of the resolved version, or None."""
        return self._run(calls.get_node(policy_id, node_id, version_id=version_id, as_of=as_of))

    def get_nodes(self, policy_id: str, version_id: str,
                  node_ids: Iterable[str]) -> dict[str, Node]:
        """The nodes of one version with these ids, by id, in the order asked
        (ids that do not exist are left out)."""
        return self._run(calls.get_nodes(policy_id, version_id, node_ids))

    def get_children(self, policy_id: str, node_id: str | None = None, *,
                     version_id: str | None = None,
                     as_of: DateLike | None = None) -> list[Node]:
        """A node's children by ordinal (node_id None: the top level)."""
        return self._run(calls.get_children(policy_id, node_id, version_id=version_id,
                                            as_of=as_of))

    def get_subtree(self, policy_id: str, node_id: str | None = None, *,
                    max_depth: int | None = None, version_id: str | None = None,
                    as_of: DateLike | None = None) -> list[Node]:
        """A node and its descendants in document order (node_id None: all)."""
        return self._run(calls.get_subtree(policy_id, node_id, max_depth=max_depth,
                                           version_id=version_id, as_of=as_of))

    def get_ancestor_path(self, policy_id: str, node_id: str, *,
                          version_id: str | None = None,
                          as_of: DateLike | None = None) -> list[Node]:
        """The path from the top level down to the node itself."""
        return self._run(calls.get_ancestor_path(policy_id, node_id, version_id=version_id,
                                                 as_of=as_of))

    def get_nodes_by_page(self, policy_id: str, page: int, *,
                          version_id: str | None = None,
                          as_of: DateLike | None = None) -> list[Node]:
        """The nodes whose page range holds ``page``, in document order."""
        return self._run(calls.get_nodes_by_page(policy_id, page, version_id=version_id,
                                                 as_of=as_of))

    def search_nodes(self, query: str, *, policy_id: str | None = None,
                     version_id: str | None = None, as_of: DateLike | None = None,
                     top_k: int = 10) -> list[SearchHit]:
        """Nodes matching the query's words, best first (BM25)."""
        return self._run(calls.search_nodes(query, policy_id=policy_id, version_id=version_id,
                                            as_of=as_of, top_k=top_k))

    # --- versions ------------------------------------------------------------------

    def get_version_as_of(self, policy_id: str, as_of: DateLike) -> Version | None:
        """The version in force on a date, or None."""
        return self._run(calls.get_version_as_of(policy_id, as_of))

    def latest_version(self, policy_id: str) -> Version | None:
        """The version with the latest effective_from, or None."""
        return self._run(calls.latest_version(policy_id))

    def list_versions(self, policy_id: str) -> list[Version]:
        """Every version of a policy, by effective_from."""
        return self._run(calls.list_versions(policy_id))

    # --- cross references ----------------------------------------------------------

    def get_cross_references(self, policy_id: str, node_id: str | None = None, *,
                             direction: str = "outgoing") -> list[CrossReference]:
        """Cross references from ('outgoing'), to ('incoming') or of ('both')
        a policy or one of its nodes."""
        return self._run(calls.get_cross_references(policy_id, node_id, direction=direction))

    def add_cross_reference(self, source_policy_id: str, source_node_id: str,
                            target_policy_id: str, target_node_id: str,
                            reference_type: str, *, context: str | None = None,
                            confidence: float | None = None) -> CrossReference:
        """Record a cross reference; Conflict when it exists."""
        return self._run(calls.add_cross_reference(
            source_policy_id, source_node_id, target_policy_id, target_node_id,
            reference_type, context=context, confidence=confidence))

    # --- tool results, trajectories ------------------------------------------------

    def store_tool_result(self, case_id: str, tool_name: str, result: Any, *,
                          input: Any = None, criterion_id: str | None = None,
                          policy_id: str | None = None, version_id: str | None = None,
                          node_id: str | None = None, success: bool = True,
                          error_message: str | None = None,
                          latency_ms: float | None = None) -> int:
        """Record one tool call; its result_id."""
        return self._run(calls.store_tool_result(
            case_id, tool_name, result, input=input, criterion_id=criterion_id,
            policy_id=policy_id, version_id=version_id, node_id=node_id, success=success,
            error_message=error_message, latency_ms=latency_ms))

    def get_tool_results(self, case_id: str, tool_name: str | None = None) -> list[ToolResult]:
        """A case's tool results, oldest first."""
        return self._run(calls.get_tool_results(case_id, tool_name))

    def store_trajectory(self, case_id: str,
                         steps: Sequence[TrajectoryStep | Mapping[str, Any]], *,
                         trajectory_id: str | None = None) -> str:
        """Record a trajectory's steps (mappings or TrajectorySteps with
        tool_name, action, thought, observation and optionally step_number,
        else numbered from 1); its trajectory_id (a new UUID unless given)."""
        return self._run(calls.store_trajectory(case_id, steps, trajectory_id=trajectory_id))

    def get_trajectory(self, case_id: str,
                       trajectory_id: str | None = None) -> list[TrajectoryStep]:
        """A case's trajectory steps, by trajectory and step number."""
        return self._run(calls.get_trajectory(case_id, trajectory_id))

    # --- prompts -------------------------------------------------------------------

    def store_prompt(self, prompt_id: str, template: str, *, name: str | None = None,
                     variables: Sequence[str] = (), tool_schemas: Any = None) -> int:
        """Store the next version of a prompt; that version."""
        return self._run(calls.store_prompt(prompt_id, template, name=name,
                                            variables=variables, tool_schemas=tool_schemas))

    def get_prompt(self, prompt_id: str, version: int | None = None) -> Prompt | None:
        """One version of a prompt (default: the highest), or None."""
        return self._run(calls.get_prompt(prompt_id, version))

    def record_prompt_usage(self, prompt_id: str, version: int, case_id: str | None = None, *,
                            filled_variables: Any = None, response: str | None = None) -> int:
        """Record one use of a prompt version; its usage_id."""
        return self._run(calls.record_prompt_usage(prompt_id, version, case_id,
                                                   filled_variables=filled_variables,
                                                   response=response))

    # --- the engine ----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """treestore.health(): status, worker, WAL, disk."""
        return self._run(calls.health())

    def stats(self) -> dict[str, Any]:
        """treestore.stats(): counts, sizes, cache, transactions."""
        return self._run(calls.stats())
