from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from synthgate.contracts import StageSpend
from synthgate.errors import PrivacyBudgetError
from synthgate.store import Store, utcnow
from synthgate.store.models import BudgetEntry

__all__ = ["BudgetLedger", "BudgetStatus"]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    source_key: str
    spent_epsilon: float
    limit_epsilon: float
    runs: int

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit_epsilon - self.spent_epsilon)


class BudgetLedger:
    """Cumulative ε per source table across releases (sequential composition:
    the total across runs is bounded by the sum of each run's ε)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def status(self, source_key: str, *, limit: float) -> BudgetStatus:
        with self.store.session() as s:
            row = s.execute(
                select(
                    func.coalesce(func.sum(BudgetEntry.epsilon), 0.0),
                    func.count(func.distinct(BudgetEntry.run_id)),
                ).where(BudgetEntry.source_key == source_key, BudgetEntry.stage == "total")
            ).one()
        return BudgetStatus(source_key, float(row[0]), limit, int(row[1]))

    def require(self, source_key: str, epsilon: float, *, limit: float) -> BudgetStatus:
        """Raise :class:`PrivacyBudgetError` if *epsilon* more would pass *limit*."""
        status = self.status(source_key, limit=limit)
        if status.spent_epsilon + epsilon > limit + 1e-9:
            raise PrivacyBudgetError(
                f"privacy budget of {source_key} would be exceeded: spent ε={status.spent_epsilon:.3g} "
                f"over {status.runs} run(s), this run asks ε={epsilon:.3g}, limit ε={limit:.3g}",
                hint="lower synthesis.privacy.epsilon, re-sample an existing release, or have "
                "the policy's budget.epsilon_per_source raised",
            )
        return status

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
        """One ``total`` line (what the budget counts) plus the per-stage split."""
        now = utcnow()
        with self.store.session() as s:
            s.add(
                BudgetEntry(
                    source_key=source_key,
                    run_id=run_id,
                    stage="total",
                    mechanism=accountant,
                    epsilon=epsilon,
                    delta=delta,
                    created_at=now,
                )
            )
            for spend in stages:
                s.add(
                    BudgetEntry(
                        source_key=source_key,
                        run_id=run_id,
                        stage=spend.stage,
                        mechanism=spend.mechanism,
                        epsilon=spend.epsilon,
                        delta=spend.delta,
                        created_at=now,
                    )
                )

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
            return list(s.scalars(select(BudgetEntry.source_key).distinct()))
