"""The privacy-budget ledger: cumulative ε and δ per source table, across releases.

Sequential composition: the total across runs is bounded by the sum of each
run's ε and the sum of each run's δ. A run *reserves* its requested ε and δ
under the source's lock before it reads a row (so two jobs on one source cannot
both pass the check), then *settles* to what its fit actually spent, or
*releases* the reservation when it failed before any DP mechanism ran. An open
reservation counts against the limit like a charge. A masked copy is recorded
with ε = ∞ and counted apart: no finite ε describes it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from synthgate.contracts import StageSpend
from synthgate.errors import PrivacyBudgetError, SynthgateError
from synthgate.store import EXIT_LOCKED, Store, process_lock, utcnow
from synthgate.store.models import BudgetEntry

__all__ = [
    "MASKED_COPY",
    "RESERVED",
    "TOTAL",
    "BudgetLedger",
    "BudgetLimits",
    "BudgetStatus",
    "SourceBusy",
]

TOTAL = "total"  # a run's settled charge: what the budget counts
RESERVED = "reserved"  # a run's open reservation: counted until settled or released
MASKED_COPY = "masked-copy"  # real rows with masking only: ε = ∞, counted apart
#: how long a run waits for another run's reservation on the same source (seconds)
LOCK_WAIT = 60.0
_SLACK = 1e-9  # float sums of ε that equal the limit are within it


class SourceBusy(SynthgateError):
    """Another process held the source's budget lock for longer than a run waits."""

    exit_code: ClassVar[int] = EXIT_LOCKED


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """A source's cumulative limits and where they come from."""

    epsilon: float
    delta: float
    origin: str = ""


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    source_key: str
    spent_epsilon: float  # settled charges
    limit_epsilon: float
    runs: int  # runs with a settled charge (0-ε re-samples included)
    spent_delta: float = 0.0
    limit_delta: float = math.inf
    reserved_epsilon: float = 0.0  # open reservations of running jobs
    reserved_delta: float = 0.0
    reservations: int = 0
    masked_copies: int = 0  # ε = ∞ lines: not differentially private

    @property
    def committed_epsilon(self) -> float:
        return self.spent_epsilon + self.reserved_epsilon

    @property
    def committed_delta(self) -> float:
        return self.spent_delta + self.reserved_delta

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit_epsilon - self.committed_epsilon)

    @property
    def remaining_delta(self) -> float:
        return max(0.0, self.limit_delta - self.committed_delta)

    @property
    def empty(self) -> bool:
        """No run has charged, reserved or copied anything from this source."""
        return not (self.runs or self.reservations or self.masked_copies)


def _lock_name(key: str) -> str:
    return "budget:" + hashlib.sha256(key.encode()).hexdigest()[:32]


class BudgetLedger:
    """Cumulative ε and δ per source table (keyed by its canonical identity)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ reading

    def _status_in(
        self, s: Session, key: str, limit: float, delta_limit: float, *, but: str | None = None
    ) -> BudgetStatus:
        query = (
            select(
                BudgetEntry.stage,
                func.coalesce(func.sum(BudgetEntry.epsilon), 0.0),
                func.coalesce(func.sum(BudgetEntry.delta), 0.0),
                func.count(func.distinct(BudgetEntry.run_id)),
            )
            .where(
                BudgetEntry.source_key == key,
                BudgetEntry.stage.in_((TOTAL, RESERVED, MASKED_COPY)),
            )
            .group_by(BudgetEntry.stage)
        )
        if but is not None:  # a run re-reserving replaces its own reservation
            query = query.where((BudgetEntry.stage != RESERVED) | (BudgetEntry.run_id != but))
        rows = {r[0]: (float(r[1]), float(r[2]), int(r[3])) for r in s.execute(query)}
        total = rows.get(TOTAL, (0.0, 0.0, 0))
        reserved = rows.get(RESERVED, (0.0, 0.0, 0))
        return BudgetStatus(
            key,
            total[0],
            limit,
            total[2],
            spent_delta=total[1],
            limit_delta=delta_limit,
            reserved_epsilon=reserved[0],
            reserved_delta=reserved[1],
            reservations=reserved[2],
            masked_copies=rows.get(MASKED_COPY, (0.0, 0.0, 0))[2],
        )

    def status(
        self, source_key: str, *, limit: float, delta_limit: float = math.inf
    ) -> BudgetStatus:
        with self.store.session() as s:
            return self._status_in(s, source_key, limit, delta_limit)

    def entries(self, source_key: str) -> list[BudgetEntry]:
        with self.store.session() as s:
            return list(
                s.scalars(
                    select(BudgetEntry)
                    .where(BudgetEntry.source_key == source_key)
                    .order_by(BudgetEntry.id)
                )
            )

    def sources(self) -> list[str]:
        with self.store.session() as s:
            return list(
                s.scalars(
                    select(BudgetEntry.source_key).distinct().order_by(BudgetEntry.source_key)
                )
            )

    def reserved(self, source_key: str, run_id: str) -> float:
        """ε still reserved by *run_id* on *source_key* (0 when it has settled)."""
        with self.store.session() as s:
            return float(
                s.scalar(
                    select(func.coalesce(func.sum(BudgetEntry.epsilon), 0.0)).where(
                        BudgetEntry.source_key == source_key,
                        BudgetEntry.run_id == run_id,
                        BudgetEntry.stage == RESERVED,
                    )
                )
                or 0.0
            )

    # ------------------------------------------------------------------ checking

    def require(
        self,
        source_key: str,
        epsilon: float,
        *,
        limit: float,
        delta: float = 0.0,
        delta_limit: float = math.inf,
    ) -> BudgetStatus:
        """Raise :class:`PrivacyBudgetError` if *epsilon* (or *delta*) more would pass
        the limit, counting the open reservations of running jobs."""
        status = self.status(source_key, limit=limit, delta_limit=delta_limit)
        _check(status, epsilon, delta)
        return status

    @contextmanager
    def _locked(self, source_key: str) -> Iterator[None]:
        def busy(holder: str) -> SynthgateError:
            return SourceBusy(
                f"the privacy budget of {source_key} is being reserved by another process "
                f"({holder}); try again"
            )

        with process_lock(_lock_name(source_key), self.store, None, busy=busy, wait=LOCK_WAIT):
            yield

    def reserve(
        self,
        source_key: str,
        run_id: str,
        *,
        epsilon: float,
        delta: float,
        limit: float,
        delta_limit: float = math.inf,
    ) -> BudgetStatus:
        """Reserve *epsilon* and *delta* for *run_id*, under the source's lock, or raise
        :class:`PrivacyBudgetError`. A run that reserves again (a resumed run) replaces
        its own reservation. Returns the status before this reservation."""
        with self._locked(source_key), self.store.session() as s:
            status = self._status_in(s, source_key, limit, delta_limit, but=run_id)
            _check(status, epsilon, delta)
            _drop_reservation(s, source_key, run_id)
            s.add(_line(source_key, run_id, RESERVED, "reservation", epsilon, delta))
        return status

    def release(self, source_key: str, run_id: str) -> float:
        """Drop *run_id*'s open reservation (no DP mechanism ran); the ε it held."""
        with self.store.session() as s:
            return _drop_reservation(s, source_key, run_id)[0]

    # ------------------------------------------------------------------ charging

    def record(
        self,
        source_key: str,
        run_id: str,
        *,
        epsilon: float,
        delta: float,
        accountant: str,
        stages: Sequence[StageSpend],
    ) -> None:
        """Settle *run_id*: one ``total`` line (what the budget counts) plus the
        per-stage split, and its reservation dropped, in one transaction."""
        now = utcnow()
        with self.store.session() as s:
            _drop_reservation(s, source_key, run_id)
            s.add(_line(source_key, run_id, TOTAL, accountant, epsilon, delta, now))
            for spend in stages:
                s.add(
                    _line(
                        source_key,
                        run_id,
                        spend.stage,
                        spend.mechanism,
                        spend.epsilon,
                        spend.delta,
                        now,
                    )
                )

    def charge_reserved(self, source_key: str, run_id: str, *, accountant: str) -> float:
        """Settle *run_id* at its whole reservation: a fit that stopped without saying
        what it spent is charged what it may have spent. The ε charged (0: none held)."""
        with self.store.session() as s:
            epsilon, delta = _drop_reservation(s, source_key, run_id)
            if epsilon > 0 or delta > 0:
                s.add(_line(source_key, run_id, TOTAL, accountant, epsilon, delta))
        return epsilon

    def record_masked_copy(self, source_key: str, run_id: str) -> None:
        """A masked copy of *source_key*'s real rows: ε = ∞, marked, counted apart; one
        line per run (a resumed run does not add another)."""
        with self.store.session() as s:
            found = s.scalar(
                select(BudgetEntry.id).where(
                    BudgetEntry.source_key == source_key,
                    BudgetEntry.run_id == run_id,
                    BudgetEntry.stage == MASKED_COPY,
                )
            )
            if found is None:
                s.add(_line(source_key, run_id, MASKED_COPY, "none", math.inf, 0.0))


def _line(
    key: str,
    run_id: str,
    stage: str,
    mechanism: str,
    epsilon: float,
    delta: float,
    now: str | None = None,
) -> BudgetEntry:
    return BudgetEntry(
        source_key=key,
        run_id=run_id,
        stage=stage,
        mechanism=mechanism,
        epsilon=epsilon,
        delta=delta,
        created_at=now or utcnow(),
    )


def _drop_reservation(s: Session, key: str, run_id: str) -> tuple[float, float]:
    where = (
        BudgetEntry.source_key == key,
        BudgetEntry.run_id == run_id,
        BudgetEntry.stage == RESERVED,
    )
    held = s.execute(
        select(
            func.coalesce(func.sum(BudgetEntry.epsilon), 0.0),
            func.coalesce(func.sum(BudgetEntry.delta), 0.0),
        ).where(*where)
    ).one()
    s.execute(delete(BudgetEntry).where(*where))
    return float(held[0]), float(held[1])


def _check(status: BudgetStatus, epsilon: float, delta: float) -> None:
    key = status.source_key
    held = ""
    if status.reservations:
        held = (
            f" and ε={status.reserved_epsilon:.3g} reserved by {status.reservations} running job(s)"
        )
    if status.committed_epsilon + epsilon > status.limit_epsilon + _SLACK:
        raise PrivacyBudgetError(
            f"privacy budget of {key} would be exceeded: spent ε={status.spent_epsilon:.3g} "
            f"over {status.runs} run(s){held}, this run asks ε={epsilon:.3g}, "
            f"limit ε={status.limit_epsilon:.3g}",
            hint="lower synthesis.privacy.epsilon, re-sample an existing release, or have "
            "the policy's budget.epsilon_per_source (or the registered source's limit) raised",
        )
    if delta > 0 and status.committed_delta + delta > status.limit_delta * (1 + _SLACK):
        raise PrivacyBudgetError(
            f"privacy budget of {key} would be exceeded: spent δ={status.spent_delta:.3g} "
            f"over {status.runs} run(s), this run asks δ={delta:.3g}, "
            f"limit δ={status.limit_delta:.3g}",
            hint="lower synthesis.privacy.delta, or have the policy's budget.delta_per_source "
            "(or the registered source's limit) raised",
        )
