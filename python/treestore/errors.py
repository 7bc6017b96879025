"""Errors: one class per thing a caller can do about it, chosen by SQLSTATE.

Every error the client raises is a ``TreeStoreError``.  One made from a
server error keeps the server's words: ``message`` (PostgreSQL's primary
message), ``detail``, ``hint`` and ``sqlstate``, and the psycopg exception
as ``__cause__``.  Errors the client finds itself (a document that does not
exist, a pool with no free connection) have ``sqlstate`` None.

    SQLSTATE                                   class
    23505, 40001, 40P01, 55P03, class 23       Conflict
    class 22 (data exception), 23502           InvalidDocument
    42501, class 28                            PermissionDenied
    class 08, 57P01-57P05, 53xxx, 55000, 58xxx Unavailable
    3D000, 3F000, 42P01, 42883, 42704, P0002,  NotFound
    02000
    anything else                              TreeStoreError

``is_transient`` says which failures a retry may cure: a lost connection,
class 08, 57P01-57P03 (the server or its backend shut down), 57P05 (an idle
session timed out), 40001 and 40P01 (the transaction was rolled back and
may succeed run again).
"""

from __future__ import annotations

import psycopg

__all__ = [
    "TreeStoreError",
    "NotFound",
    "InvalidDocument",
    "Conflict",
    "Unavailable",
    "PoolTimeout",
    "PermissionDenied",
    "from_psycopg",
    "is_transient",
    "is_rollback",
    "connection_lost",
]


class TreeStoreError(Exception):
    """Base of every error of the treestore client."""

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.detail:
            parts.append(f"DETAIL: {self.detail}")
        if self.hint:
            parts.append(f"HINT: {self.hint}")
        if self.sqlstate:
            parts.append(f"(SQLSTATE {self.sqlstate})")
        return "\n".join(parts)


class NotFound(TreeStoreError):
    """What was asked for does not exist (a document, the extension itself)."""


class InvalidDocument(TreeStoreError):
    """The server refused the input: a malformed tree, a bad value, a NULL key."""


class Conflict(TreeStoreError):
    """A key that exists (23505) or a write that lost to another (40001, 40P01)."""


class Unavailable(TreeStoreError):
    """The server, its treestore worker or a connection cannot serve now."""


class PoolTimeout(Unavailable):
    """No connection of the client's pool became free within ``timeout``."""


class PermissionDenied(TreeStoreError):
    """The role lacks a privilege the call needs (42501), or cannot log in."""


_BY_SQLSTATE: dict[str, type[TreeStoreError]] = {
    "23502": InvalidDocument,
    "23505": Conflict,
    "40001": Conflict,
    "40P01": Conflict,
    "55P03": Conflict,
    "42501": PermissionDenied,
    "3F000": NotFound,
    "42P01": NotFound,
    "42883": NotFound,
    "42704": NotFound,
    "P0002": NotFound,
    "3D000": NotFound,
    "02000": NotFound,
    "55000": Unavailable,
}

_BY_CLASS: dict[str, type[TreeStoreError]] = {
    "08": Unavailable,
    "22": InvalidDocument,
    "23": Conflict,
    "28": PermissionDenied,
    "53": Unavailable,
    "57": Unavailable,
    "58": Unavailable,
}

# 57014 (query_canceled: a statement_timeout or a cancel) is class 57 but is
# the caller's own doing, not an unavailable server.
_NOT_BY_CLASS = {"57014"}

# 57P04 (the database was dropped) is not: it would fail again.
_TRANSIENT = {"40001", "40P01", "57P01", "57P02", "57P03", "57P05"}
_ROLLBACK = {"40001", "40P01"}


def _class_for(sqlstate: str | None) -> type[TreeStoreError]:
    if sqlstate is None:
        return TreeStoreError
    if sqlstate in _BY_SQLSTATE:
        return _BY_SQLSTATE[sqlstate]
    if sqlstate in _NOT_BY_CLASS:
        return TreeStoreError
    return _BY_CLASS.get(sqlstate[:2], TreeStoreError)


def _sqlstate(exc: BaseException) -> str | None:
    if isinstance(exc, (psycopg.Error, TreeStoreError)):
        return exc.sqlstate
    return None


def connection_lost(exc: BaseException) -> bool:
    """A failure of the connection itself, with no answer from the server."""
    if isinstance(exc, PoolTimeout):
        return False
    if isinstance(exc, TreeStoreError):
        exc = exc.__cause__ if exc.__cause__ is not None else exc
    return isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None


def from_psycopg(exc: psycopg.Error) -> TreeStoreError:
    """The TreeStoreError for a psycopg error, keeping the server's words."""
    diag = exc.diag
    sqlstate = exc.sqlstate
    cls = _class_for(sqlstate)
    if sqlstate is None and isinstance(exc, psycopg.OperationalError):
        cls = Unavailable  # the connection itself failed: no server answer
    message = diag.message_primary or str(exc).strip() or type(exc).__name__
    err = cls(message, sqlstate=sqlstate, detail=diag.message_detail, hint=diag.message_hint)
    err.__cause__ = exc
    return err


def is_transient(exc: BaseException) -> bool:
    """True for a failure that the same call, made again, may not meet."""
    state = _sqlstate(exc)
    if state is not None:
        return state in _TRANSIENT or state.startswith("08")
    return connection_lost(exc)


def is_rollback(exc: BaseException) -> bool:
    """True when the server rolled the whole transaction back (40001, 40P01)."""
    return _sqlstate(exc) in _ROLLBACK
