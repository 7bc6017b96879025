"""When to run a call again, and how long to wait first.

A call is repeated only when both hold:
  * the failure is transient (``errors.is_transient``: a lost connection,
    class 08, 57P01-57P03, 57P05, 40001, 40P01), and
  * repeating it is safe: a read, or an idempotent write that is its own
    whole transaction (``Call.safe_to_repeat``).  Inside ``transaction()``
    nothing is repeated: the transaction is the caller's.
``run_in_transaction`` reruns the caller's function on 40001 and 40P01 (the
server rolled the transaction back) and on a connection lost before COMMIT
was sent; never after, when the outcome is unknown.

Waits grow exponentially from ``BASE_DELAY`` and are capped at
``MAX_DELAY``, with full jitter (a uniform draw below the bound), so that
sessions that failed together do not retry together.
"""

from __future__ import annotations

import random

import psycopg

from .errors import TreeStoreError, is_rollback, is_transient

BASE_DELAY = 0.05
MAX_DELAY = 2.0


def retry_call(exc: psycopg.Error, *, safe_to_repeat: bool, attempt: int, limit: int) -> bool:
    """Whether a call outside transaction() that failed with ``exc`` on
    attempt number ``attempt`` (0 first) runs again."""
    return safe_to_repeat and attempt < limit and is_transient(exc)


def rerun_transaction(exc: TreeStoreError, *, committing: bool, attempt: int,
                      limit: int) -> bool:
    """Whether run_in_transaction runs the function again after ``exc``.
    ``committing``: the function had returned, so COMMIT was under way.  A
    transient failure during COMMIT leaves the outcome unknown: never rerun,
    and the error says so."""
    if attempt < limit and (is_rollback(exc) or (not committing and is_transient(exc))):
        return True
    if committing and is_transient(exc) and not is_rollback(exc):
        exc.message += " (during COMMIT: the transaction's outcome is unknown)"
    return False


def backoff(attempt: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first)."""
    return random.uniform(0.0, min(cap, base * (2 ** attempt)))
