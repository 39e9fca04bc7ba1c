"""Failed authentications per client address: a throttle and an aggregated audit trail.

Two things an attacker with a list of guesses must not get:

* **Throughput.** Each failed token or sign-in from an address takes one of
  :data:`ADDRESS_FAILURE_LIMIT` allowances that refill over
  :data:`ADDRESS_WINDOW_SECONDS`; an address with none left is answered 429
  before any token or password is checked (no argon2, no database). A token
  that authenticated in this process before still passes, so real clients
  behind the same address keep working.
* **The audit log.** Failures are aggregated into at most one ``auth.failed``
  event per address and minute: the first failure of a minute is written at
  once, later ones are counted and written, with their count, names and
  reasons, as the next event of that address (or at shutdown).

The state is per process and per store (several console processes each keep
their own); it holds no secret: tokens are remembered as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from synthgate.audit import AuditLog
from synthgate.store import Store

__all__ = [
    "ADDRESS_FAILURE_LIMIT",
    "ADDRESS_WINDOW_SECONDS",
    "AuthGuard",
    "guard_for",
]

ADDRESS_FAILURE_LIMIT = 20  # failed authentications from one address …
ADDRESS_WINDOW_SECONDS = 60.0  # … per this many seconds, then 429
_MAX_ADDRESSES = 10_000
_MAX_GOOD = 4096
_MAX_NAMES = 10  # names listed in one aggregated event


@dataclass
class _Allowance:
    tokens: float
    at: float


@dataclass
class _Pending:
    """Failures of one address not yet in an audit event."""

    count: int = 0
    since: str = ""
    names: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    via: set[str] = field(default_factory=set)
    written_minute: str = ""

    def add(self, name: str | None, reason: str, via: str, stamp: str) -> None:
        if not self.count:
            self.since = stamp
        self.count += 1
        if name is not None and name not in self.names and len(self.names) < _MAX_NAMES:
            self.names.append(name)
        self.reasons[reason] += 1
        self.via.add(via)

    def take(self, client: str) -> dict[str, Any]:
        details: dict[str, Any] = {
            "client": client,
            "failures": self.count,
            "since": self.since,
            "users": list(self.names),
            "reasons": dict(self.reasons),
            "via": ", ".join(sorted(self.via)),
        }
        self.count, self.since = 0, ""
        self.names, self.reasons, self.via = [], Counter(), set()
        return details


def _digest(name: str, token: str) -> str:
    return hashlib.sha256(f"{name}\0{token}".encode()).hexdigest()


class AuthGuard:
    """The throttle and the failure log of one store in this process."""

    def __init__(
        self,
        store: Store,
        *,
        limit: int = ADDRESS_FAILURE_LIMIT,
        window: float = ADDRESS_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._limit = limit
        self._rate = limit / window
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._allowances: OrderedDict[str, _Allowance] = OrderedDict()
        self._pending: dict[str, _Pending] = {}
        self._good: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------ throttle

    def _refilled(self, client: str) -> _Allowance:
        now = self._clock()
        allowance = self._allowances.get(client)
        if allowance is None:
            allowance = _Allowance(float(self._limit), now)
            self._allowances[client] = allowance
            while len(self._allowances) > _MAX_ADDRESSES:
                self._allowances.popitem(last=False)
        else:
            allowance.tokens = min(
                float(self._limit), allowance.tokens + (now - allowance.at) * self._rate
            )
            allowance.at = now
            self._allowances.move_to_end(client)
        return allowance

    def reserve(self, client: str) -> float | None:
        """Hold one allowance of *client* for a check about to run: None when held (give it
        back with :meth:`release` when the check is over), else the seconds to wait.

        Checks in flight hold an allowance each, so concurrent guesses cannot all
        slip through on the same allowance; a failed check is charged by
        :meth:`failed` as well, a successful one costs nothing.
        """
        with self._lock:
            allowance = self._refilled(client)
            if allowance.tokens >= 1.0:
                allowance.tokens -= 1.0
                return None
            return (1.0 - allowance.tokens) / self._rate

    def release(self, client: str) -> None:
        with self._lock:
            allowance = self._refilled(client)
            allowance.tokens = min(float(self._limit), allowance.tokens + 1.0)

    def known_good(self, name: str | None, token: str | None) -> bool:
        """Whether *name* authenticated with *token* in this process before."""
        if not name or not token:
            return False
        with self._lock:
            return _digest(name, token) in self._good

    def succeeded(self, name: str, token: str) -> None:
        key = _digest(name, token)
        with self._lock:
            self._good[key] = None
            self._good.move_to_end(key)
            while len(self._good) > _MAX_GOOD:
                self._good.popitem(last=False)

    # ------------------------------------------------------------------ failures

    def failed(self, client: str, *, name: str, reason: str, via: str) -> None:
        """Count one failure of *client* and audit it (aggregated per address and minute)."""
        moment = self._now()
        minute = moment.strftime("%Y-%m-%dT%H:%M")
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._lock:
            allowance = self._refilled(client)
            allowance.tokens = max(-float(self._limit), allowance.tokens - 1.0)
            pending = self._pending.setdefault(client, _Pending())
            pending.add(name, reason, via, stamp)
            due = [
                (address, p.take(address))
                for address, p in self._pending.items()
                if p.count and p.written_minute != minute
            ]
            for address, _ in due:
                self._pending[address].written_minute = minute
            if len(self._pending) > _MAX_ADDRESSES:
                self._forget_quiet()
        for address, details in due:
            self._write(address, details)

    def refused(self, client: str, *, via: str) -> None:
        """Count a request refused with 429 (nothing checked): in the next event of *client*."""
        stamp = self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._lock:
            pending = self._pending.setdefault(client, _Pending())
            pending.add(None, "throttled: refused unchecked", via, stamp)

    def _forget_quiet(self) -> None:
        for address in [a for a, p in self._pending.items() if not p.count]:
            del self._pending[address]

    def flush(self) -> None:
        """Write every failure not yet in an event (at shutdown)."""
        with self._lock:
            due = [(a, p.take(a)) for a, p in self._pending.items() if p.count]
        for address, details in due:
            self._write(address, details)

    def _write(self, client: str, details: dict[str, Any]) -> None:
        names = details["users"]
        who = names[0] if len(names) == 1 else "<several names>" if names else "<no name>"
        AuditLog(self._store).append(actor=who, action="auth.failed", subject=who, details=details)


_GUARDS: dict[str, AuthGuard] = {}
_GUARDS_LOCK = threading.Lock()


def guard_for(store: Store) -> AuthGuard:
    """The process's guard for *store* (one per store URL)."""
    with _GUARDS_LOCK:
        guard = _GUARDS.get(store.url)
        if guard is None:
            guard = _GUARDS[store.url] = AuthGuard(store)
        return guard
