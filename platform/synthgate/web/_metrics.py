"""``/metrics``: Prometheus gauges read from the store at scrape time.

Nothing is counted in process memory, so every server process (and the
command line writing the same store) reports the same numbers. The values are
counts and ε per source key (the source URL without its password, plus the
table name): no real data.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select

from synthgate.release import ReleaseStatus
from synthgate.store import Store
from synthgate.store.models import ReleaseRow, RunRow, StageRow
from synthgate.web import _queries as q

__all__ = ["StoreCollector", "registry_for"]


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "synthgate_runs", "Runs in the store by status.", labels=["status"]
        )
        for status, n in sorted(q.counts_by(self.store, RunRow.status).items()):
            runs.add_metric([status], n)
        yield runs

        failed = GaugeMetricFamily(
            "synthgate_stage_failures",
            "Failed pipeline stages in the store, by stage.",
            labels=["stage"],
        )
        for stage, n in sorted(_failed_stages(self.store).items()):
            failed.add_metric([stage], n)
        yield failed

        releases = GaugeMetricFamily(
            "synthgate_releases", "Releases in the store by status.", labels=["status"]
        )
        counts = q.counts_by(self.store, ReleaseRow.status)
        for status in ReleaseStatus:
            releases.add_metric([status.value], counts.get(status.value, 0))
        yield releases

        yield GaugeMetricFamily(
            "synthgate_release_queue_length",
            "Releases awaiting approval.",
            value=counts.get(ReleaseStatus.AWAITING_APPROVAL.value, 0),
        )

        spent = GaugeMetricFamily(
            "synthgate_epsilon_spent",
            "Cumulative privacy budget (ε) spent per source table.",
            labels=["source"],
        )
        limit = GaugeMetricFamily(
            "synthgate_epsilon_limit",
            "Privacy budget limit (ε) per source table, from its latest release's policy.",
            labels=["source"],
        )
        for view in q.budgets(self.store):
            spent.add_metric([view.source], view.spent_epsilon)
            limit.add_metric([view.source], view.limit_epsilon)
        yield spent
        yield limit


def _failed_stages(store: Store) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(
            select(StageRow.name, func.count())
            .where(StageRow.status == "failed")
            .group_by(StageRow.name)
        )
        return {str(name): int(n) for name, n in rows}


def registry_for(store: Store) -> CollectorRegistry:
    """A registry of its own per app (not the process-global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
