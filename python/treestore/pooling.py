"""The connection pool's settings, and a clear error when it has no
connection to give.

Both clients make their pool (psycopg_pool) from ``pool_kwargs``: autocommit
connections, so that a method outside ``transaction()`` is one statement in
one transaction.  psycopg_pool's own PoolTimeout says only that it waited;
``pool_timeout_error`` says why: every connection in use (a ``PoolTimeout``
naming the pool's size), or none could be made at all.  To tell them apart the client connects once
itself: the server's refusal (a wrong database, a password, a server that
is down) is the error; a connection that succeeds means the pool is
exhausted (a ``PoolTimeout`` naming its size).
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool

from .errors import PoolTimeout, TreeStoreError, from_psycopg

POOL_NAME = "treestore"


def pool_kwargs(min_size: int, max_size: int, timeout: float) -> dict[str, Any]:
    """The keyword arguments of ConnectionPool / AsyncConnectionPool."""
    if max_size < 1 or min_size < 0 or min_size > max_size:
        raise ValueError(f"pool sizes must satisfy 0 <= min_size <= max_size and max_size >= 1"
                         f" (min_size {min_size}, max_size {max_size})")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout,
            "kwargs": {"autocommit": True}, "name": POOL_NAME}


AnyPool = psycopg_pool.ConnectionPool | psycopg_pool.AsyncConnectionPool


def _exhausted(pool: AnyPool, timeout: float) -> PoolTimeout:
    stats = pool.get_stats()
    return PoolTimeout(
        f"no free connection within {timeout:g} s: all {stats.get('pool_size', '?')} "
        f"connections of the pool (max_size {pool.max_size}) are in use",
        detail=f"{stats.get('requests_waiting', 0)} other requests were waiting too.",
        hint="Raise max_size, or hold connections for less time "
             "(a transaction() keeps its connection until it ends).")


def _connect_timeout(timeout: float) -> int:
    # libpq's connect_timeout: whole seconds, at least 2
    return max(2, int(min(timeout, 10.0)))


def _refused(exc: psycopg.Error, timeout: float) -> TreeStoreError:
    err = from_psycopg(exc)
    waited = f"The pool got no connection in {timeout:g} s."
    err.detail = f"{err.detail} {waited}" if err.detail else waited
    return err


def pool_timeout_error(pool: psycopg_pool.ConnectionPool, timeout: float) -> TreeStoreError:
    """Why ``pool`` gave no connection within ``timeout`` (synchronous): what
    the server says to a new connection, else that the pool is exhausted."""
    try:
        psycopg.connect(pool.conninfo, connect_timeout=_connect_timeout(timeout)).close()
    except psycopg.Error as exc:
        return _refused(exc, timeout)
    return _exhausted(pool, timeout)


async def pool_timeout_error_async(pool: psycopg_pool.AsyncConnectionPool,
                                   timeout: float) -> TreeStoreError:
    """Why ``pool`` gave no connection within ``timeout`` (asynchronous)."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            pool.conninfo, connect_timeout=_connect_timeout(timeout))
        await conn.close()
    except psycopg.Error as exc:
        return _refused(exc, timeout)
    return _exhausted(pool, timeout)
