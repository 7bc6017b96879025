"""AsyncTreeStoreClient: the asyncio client (CONTRACT.md section 5).

The same methods as ``TreeStoreClient``, as coroutines, over a
``psycopg_pool.AsyncConnectionPool`` of autocommit connections, running the
same ``calls``.  ``transaction()`` pins one connection to the calling task
(a context variable: tasks it starts inherit it).  The pool is opened on
first use, inside the running event loop, as psycopg_pool requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
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
from .pooling import pool_kwargs, pool_timeout_error_async
from .retry import backoff, rerun_transaction, retry_call

R = TypeVar("R")
T = TypeVar("T")


class AsyncTreeStoreClient:
    """The asyncio twin of ``TreeStoreClient``: same arguments, same
    methods (coroutines), ``async with`` and ``await close()``."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: psycopg_pool.AsyncConnectionPool | None = None,
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
        self._pool = pool if pool is not None else psycopg_pool.AsyncConnectionPool(
            dsn or "", open=False, **pool_kwargs(min_size, max_size, timeout))
        self._opened = not self._own_pool
        # one cursor per connection, kept for the next call (Call's docstring)
        self._cursors: weakref.WeakKeyDictionary[
            psycopg.AsyncConnection[Any], psycopg.AsyncCursor[Any]] = weakref.WeakKeyDictionary()
        self._txn: contextvars.ContextVar[psycopg.AsyncConnection[Any] | None] = \
            contextvars.ContextVar(f"treestore-async-txn-{id(self)}", default=None)

    # --- lifecycle ---------------------------------------------------------------

    @property
    def pool(self) -> psycopg_pool.AsyncConnectionPool:
        return self._pool

    async def close(self) -> None:
        """Close the pool (when the client made it).  Idempotent."""
        if self._own_pool:
            await self._pool.close()

    async def __aenter__(self) -> AsyncTreeStoreClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- running calls -------------------------------------------------------------

    async def _getconn(self) -> psycopg.AsyncConnection[Any]:
        if not self._opened:
            await self._pool.open()
            self._opened = True
        try:
            return await self._pool.getconn()
        except psycopg_pool.PoolTimeout as exc:
            raise await pool_timeout_error_async(self._pool, self.timeout) from exc

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self._getconn()
        try:
            yield conn
        finally:
            await self._pool.putconn(conn)

    async def _execute(self, conn: psycopg.AsyncConnection[Any], call: Call[R, T]) -> T:
        cur = self._cursors.pop(conn, None)
        if cur is None or cur.closed:
            cur = conn.cursor()
        cur.row_factory = call.row_factory
        try:
            await cur.execute(call.sql, call.params)
            rows = await cur.fetchall()
        except BaseException:
            await cur.close()
            raise
        if keep_cursor(call, rows):
            self._cursors[conn] = cur
        else:
            await cur.close()
        return call.result(rows)

    async def _run(self, call: Call[R, T]) -> T:
        pinned = self._txn.get()
        try:
            if pinned is not None:
                return await self._execute(pinned, call)
            attempt = 0
            while True:
                conn = await self._getconn()  # not _connection(): this is the hot path
                try:
                    return await self._execute(conn, call)
                except psycopg.Error as exc:
                    if not retry_call(exc, safe_to_repeat=call.safe_to_repeat, attempt=attempt,
                                      limit=self.retries):
                        raise
                    if conn.broken:
                        await self._pool.check()  # drop the idle connections that died with it
                finally:
                    await self._pool.putconn(conn)
                await asyncio.sleep(backoff(attempt))
                attempt += 1
        except psycopg.Error as exc:
            raise from_psycopg(exc) from exc

    # --- transactions ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncTreeStoreClient]:
        """Run the calls of the block in one PostgreSQL transaction (see
        ``TreeStoreClient.transaction``)."""
        pinned = self._txn.get()
        try:
            if pinned is not None:
                async with pinned.transaction():
                    yield self
                return
            async with self._connection() as conn, conn.transaction():
                token = self._txn.set(conn)
                try:
                    yield self
                finally:
                    self._txn.reset(token)
        except psycopg.Error as exc:
            raise from_psycopg(exc) from exc

    async def run_in_transaction(self, fn: Callable[[AsyncTreeStoreClient], Awaitable[T]], *,
                                 retries: int | None = None) -> T:
        """Await ``fn(self)`` inside ``transaction()``, rerunning it as
        ``TreeStoreClient.run_in_transaction`` does."""
        if self._txn.get() is not None:
            raise TreeStoreError("run_in_transaction cannot run inside a transaction: "
                                 "a failed attempt would abort the outer one")
        limit = self.retries if retries is None else retries
        attempt = 0
        while True:
            committing = False
            try:
                async with self.transaction():
                    result = await fn(self)
                    committing = True
                return result
            except TreeStoreError as exc:
                if not rerun_transaction(exc, committing=committing, attempt=attempt,
                                         limit=limit):
                    raise
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    # --- documents -----------------------------------------------------------------

    async def store_document(self, policy_id: str, version_id: str, tree: Any, *,
                             effective_from: DateLike | None = None,
                             metadata: Mapping[str, Any] | None = None,
                             replace: bool = False) -> int:
        """Store a PageIndex tree as a version of a policy; the nodes stored."""
        return await self._run(calls.store_document(policy_id, version_id, tree,
                                                    effective_from=effective_from,
                                                    metadata=metadata, replace=replace))

    async def get_document(self, policy_id: str, *, version_id: str | None = None,
                           as_of: DateLike | None = None,
                           include_text: bool = False) -> dict[str, Any]:
        """The resolved version as a PageIndex tree; NotFound when none."""
        return await self._run(calls.get_document(policy_id, version_id=version_id, as_of=as_of,
                                                  include_text=include_text))

    async def delete_document(self, policy_id: str, version_id: str | None = None) -> int:
        """Delete one version (or every version) of a policy; the rows removed."""
        return await self._run(calls.delete_document(policy_id, version_id))

    async def list_documents(self) -> list[Document]:
        """Every policy, by policy_id."""
        return await self._run(calls.list_documents())

    # --- nodes ---------------------------------------------------------------------

    async def get_node(self, policy_id: str, node_id: str, *, version_id: str | None = None,
                       as_of: DateLike | None = None) -> Node | None:
        """One node of the resolved version, or None."""
        return await self._run(calls.get_node(policy_id, node_id, version_id=version_id,
                                              as_of=as_of))

    async def get_nodes(self, policy_id: str, version_id: str,
                        node_ids: Iterable[str]) -> dict[str, Node]:
        """The nodes of one version with these ids, by id, in the order asked
        (ids that do not exist are left out)."""
        return await self._run(calls.get_nodes(policy_id, version_id, node_ids))

    async def get_children(self, policy_id: str, node_id: str | None = None, *,
                           version_id: str | None = None,
                           as_of: DateLike | None = None) -> list[Node]:
        """A node's children by ordinal (node_id None: the top level)."""
        return await self._run(calls.get_children(policy_id, node_id, version_id=version_id,
                                                  as_of=as_of))

    async def get_subtree(self, policy_id: str, node_id: str | None = None, *,
                          max_depth: int | None = None, version_id: str | None = None,
                          as_of: DateLike | None = None) -> list[Node]:
        """A node and its descendants in document order (node_id None: all)."""
        return await self._run(calls.get_subtree(policy_id, node_id, max_depth=max_depth,
                                                 version_id=version_id, as_of=as_of))

    async def get_ancestor_path(self, policy_id: str, node_id: str, *,
                                version_id: str | None = None,
                                as_of: DateLike | None = None) -> list[Node]:
        """The path from the top level down to the node itself."""
        return await self._run(calls.get_ancestor_path(policy_id, node_id, version_id=version_id,
                                                       as_of=as_of))

    async def get_nodes_by_page(self, policy_id: str, page: int, *,
                                version_id: str | None = None,
                                as_of: DateLike | None = None) -> list[Node]:
        """The nodes whose page range holds ``page``, in document order."""
        return await self._run(calls.get_nodes_by_page(policy_id, page, version_id=version_id,
                                                       as_of=as_of))

    async def search_nodes(self, query: str, *, policy_id: str | None = None,
                           version_id: str | None = None, as_of: DateLike | None = None,
                           top_k: int = 10) -> list[SearchHit]:
        """Nodes matching the query's words, best first (BM25)."""
        return await self._run(calls.search_nodes(query, policy_id=policy_id, version_id=version_id,
                                                  as_of=as_of, top_k=top_k))

    # --- versions ------------------------------------------------------------------

    async def get_version_as_of(self, policy_id: str, as_of: DateLike) -> Version | None:
        """The version in force on a date, or None."""
        return await self._run(calls.get_version_as_of(policy_id, as_of))

    async def latest_version(self, policy_id: str) -> Version | None:
        """The version with the latest effective_from, or None."""
        return await self._run(calls.latest_version(policy_id))

    async def list_versions(self, policy_id: str) -> list[Version]:
        """Every version of a policy, by effective_from."""
        return await self._run(calls.list_versions(policy_id))

    # --- cross references ----------------------------------------------------------

    async def get_cross_references(self, policy_id: str, node_id: str | None = None, *,
                                   direction: str = "outgoing") -> list[CrossReference]:
        """Cross references from ('outgoing'), to ('incoming') or of ('both')
        a policy or one of its nodes."""
        return await self._run(calls.get_cross_references(policy_id, node_id, direction=direction))

    async def add_cross_reference(self, source_policy_id: str, source_node_id: str,
                                  target_policy_id: str, target_node_id: str,
                                  reference_type: str, *, context: str | None = None,
                                  confidence: float | None = None) -> CrossReference:
        """Record a cross reference; Conflict when it exists."""
        return await self._run(calls.add_cross_reference(
            source_policy_id, source_node_id, target_policy_id, target_node_id,
            reference_type, context=context, confidence=confidence))

    # --- tool results, trajectories ------------------------------------------------

    async def store_tool_result(self, case_id: str, tool_name: str, result: Any, *,
                                input: Any = None, criterion_id: str | None = None,
                                policy_id: str | None = None, version_id: str | None = None,
                                node_id: str | None = None, success: bool = True,
                                error_message: str | None = None,
                                latency_ms: float | None = None) -> int:
        """Record one tool call; its result_id."""
        return await self._run(calls.store_tool_result(
            case_id, tool_name, result, input=input, criterion_id=criterion_id,
            policy_id=policy_id, version_id=version_id, node_id=node_id, success=success,
            error_message=error_message, latency_ms=latency_ms))

    async def get_tool_results(self, case_id: str,
                               tool_name: str | None = None) -> list[ToolResult]:
        """A case's tool results, oldest first."""
        return await self._run(calls.get_tool_results(case_id, tool_name))

    async def store_trajectory(self, case_id: str,
                               steps: Sequence[TrajectoryStep | Mapping[str, Any]], *,
                               trajectory_id: str | None = None) -> str:
        """Record a trajectory's steps (mappings or TrajectorySteps with
        tool_name, action, thought, observation and optionally step_number,
        else numbered from 1); its trajectory_id (a new UUID unless given)."""
        return await self._run(calls.store_trajectory(case_id, steps, trajectory_id=trajectory_id))

    async def get_trajectory(self, case_id: str,
                             trajectory_id: str | None = None) -> list[TrajectoryStep]:
        """A case's trajectory steps, by trajectory and step number."""
        return await self._run(calls.get_trajectory(case_id, trajectory_id))

    # --- prompts -------------------------------------------------------------------

    async def store_prompt(self, prompt_id: str, template: str, *, name: str | None = None,
                           variables: Sequence[str] = (), tool_schemas: Any = None) -> int:
        """Store the next version of a prompt; that version."""
        return await self._run(calls.store_prompt(prompt_id, template, name=name,
                                                  variables=variables, tool_schemas=tool_schemas))

    async def get_prompt(self, prompt_id: str, version: int | None = None) -> Prompt | None:
        """One version of a prompt (default: the highest), or None."""
        return await self._run(calls.get_prompt(prompt_id, version))

    async def record_prompt_usage(self, prompt_id: str, version: int, case_id: str | None = None, *,
                                  filled_variables: Any = None, response: str | None = None) -> int:
        """Record one use of a prompt version; its usage_id."""
        return await self._run(calls.record_prompt_usage(prompt_id, version, case_id,
                                                         filled_variables=filled_variables,
                                                         response=response))

    # --- the engine ----------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """treestore.health(): status, worker, WAL, disk."""
        return await self._run(calls.health())

    async def stats(self) -> dict[str, Any]:
        """treestore.stats(): counts, sizes, cache, transactions."""
        return await self._run(calls.stats())
