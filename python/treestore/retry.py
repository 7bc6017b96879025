"""When to run a call again, and how long to wait first.

A call is repeated only when both hold:
  * the failure is transient (``errors.is_transient``: a lost connection,
    class 08, 57P01-57P03, 40001, 40P01), and
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

BASE_DELAY = 0.05
MAX_DELAY = 2.0


def backoff(attempt: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first)."""
    return random.uniform(0.0, min(cap, base * (2 ** attempt)))
