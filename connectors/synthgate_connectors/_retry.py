"""Bounded retry with exponential backoff for transient errors.

Only errors whose class says ``transient`` (a connection reset, a deadlock, a
server still starting) are retried; terminal ones (a wrong password, a missing
table) are raised at once, since repeating cannot fix them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from synthgate.errors import SynthgateError

__all__ = ["RetryPolicy", "retry"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """*attempts* tries in all; waits grow from *base_delay* by *factor* up to *max_delay*."""

    attempts: int = 3
    base_delay: float = 0.25
    factor: float = 4.0
    max_delay: float = 4.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number *attempt* (1-based), with jitter."""
        ceiling = min(self.max_delay, self.base_delay * self.factor ** (attempt - 1))
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto


def retry(
    action: Callable[[], T],
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run *action*; on a transient :class:`SynthgateError` wait and try again,
    at most ``policy.attempts`` times in all. The last error is raised."""
    attempt = 1
    while True:
        try:
            return action()
        except SynthgateError as exc:
            if not exc.transient or attempt >= policy.attempts:
                raise
            sleep(policy.delay(attempt))
            attempt += 1
