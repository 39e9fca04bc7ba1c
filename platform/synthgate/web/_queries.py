"""Read-only queries the console and the API show; every write goes through synthgate.release."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from synthgate.audit import AuditLog, ChainReport, ChainWatch, EventRecord
from synthgate.errors import SynthgateError
from synthgate.privacy import BudgetLedger
from synthgate.release import ReleaseStatus, approvals_of, load_policy
from synthgate.store import Store
from synthgate.store.models import (
    AuditEvent,
    BudgetEntry,
    ReleaseRow,
    RunRow,
    StageRow,
)

__all__ = [
    "BudgetView",
    "audit_events",
    "budget_of",
    "budgets",
    "counts_by",
    "decisions",
    "gate_outcomes",
    "list_releases",
    "list_runs",
    "queue_length",
    "release_dict",
    "run_dict",
    "run_epsilon",
    "stage_dicts",
    "verify_chain",
    "verify_chain_since_checkpoint",
    "watch_of",
]

_DEFAULT_POLICY = "default"


def list_releases(
    store: Store,
    *,
    status: ReleaseStatus | None = None,
    source: str | None = None,
    requester: str | None = None,
    limit: int = 100,
) -> list[ReleaseRow]:
    """Releases newest first; *source* matches a part of the source key."""
    query = select(ReleaseRow).order_by(ReleaseRow.created_at.desc(), ReleaseRow.id).limit(limit)
    if status is not None:
        query = query.where(ReleaseRow.status == status.value)
    if source:
        query = query.where(ReleaseRow.source_key.contains(source, autoescape=True))
    if requester:
        query = query.where(ReleaseRow.requested_by == requester)
    with store.session() as s:
        return list(s.scalars(query))


def release_dict(r: ReleaseRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "run_id": r.run_id,
        "job": r.job_name,
        "source": r.source_key,
        "status": r.status,
        "version": r.version,
        "requested_by": r.requested_by,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "expires_at": r.expires_at,
        "policy": r.policy,
        "approvals_required": r.approvals_required,
        "rows": r.rows,
        "target_url": r.target_url,
        "target_table": r.target_table,
        "target_mode": r.target_mode,
        "published_at": r.published_at,
        "published_by": r.published_by,
        "closed_at": r.closed_at,
        "closed_by": r.closed_by,
        "closed_reason": r.closed_reason,
    }


def gate_outcomes(r: ReleaseRow) -> list[dict[str, Any]]:
    try:
        outcomes = json.loads(r.gate)
    except ValueError:
        return []
    return [o for o in outcomes if isinstance(o, dict)] if isinstance(outcomes, list) else []


def decisions(store: Store, release_id: str) -> list[dict[str, Any]]:
    return [
        {
            "approver": a.approver,
            "decision": a.decision,
            "comment": a.comment,
            "at": a.created_at,
            "reviewed_version": a.release_version,
        }
        for a in approvals_of(store, release_id)
    ]


@dataclass(frozen=True, slots=True)
class BudgetView:
    source: str
    spent_epsilon: float
    limit_epsilon: float
    remaining_epsilon: float
    runs: int
    policy: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "spent_epsilon": self.spent_epsilon,
            "limit_epsilon": self.limit_epsilon,
            "remaining_epsilon": self.remaining_epsilon,
            "runs": self.runs,
            "policy": self.policy,
        }


def _policy_of(store: Store, source: str) -> str:
    with store.session() as s:
        name = s.scalar(
            select(ReleaseRow.policy)
            .where(ReleaseRow.source_key == source)
            .order_by(ReleaseRow.created_at.desc())
            .limit(1)
        )
    return name or _DEFAULT_POLICY


def _limit(policy: str) -> tuple[str, float]:
    try:
        return policy, load_policy(policy).budget.epsilon_per_source
    except SynthgateError:  # a pack that is gone since: the default's limit, named as such
        return _DEFAULT_POLICY, load_policy(_DEFAULT_POLICY).budget.epsilon_per_source


def budget_of(store: Store, source: str, *, policy: str | None = None) -> BudgetView:
    """ε spent on *source* against the limit of *policy* (default: its latest release's)."""
    name, limit = _limit(policy or _policy_of(store, source))
    status = BudgetLedger(store).status(source, limit=limit)
    return BudgetView(source, status.spent_epsilon, limit, status.remaining, status.runs, name)


def budgets(store: Store) -> list[BudgetView]:
    return [budget_of(store, key) for key in BudgetLedger(store).sources()]


def run_epsilon(store: Store, run_id: str) -> float | None:
    with store.session() as s:
        value = s.scalar(
            select(func.sum(BudgetEntry.epsilon)).where(
                BudgetEntry.run_id == run_id, BudgetEntry.stage == "total"
            )
        )
    return None if value is None else float(value)


def audit_events(
    store: Store,
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    since: str | None = None,
    limit: int = 200,
) -> list[EventRecord]:
    """Audit events newest first; *action* matches a prefix (``release.`` shows all of them)."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if subject:
        query = query.where(AuditEvent.subject == subject)
    if since:
        query = query.where(AuditEvent.ts >= since)
    with store.session() as s:
        rows = list(s.scalars(query))
    return [
        EventRecord(
            r.seq, r.ts, r.actor, r.action, r.subject, _details(r.details), r.prev_hash, r.hash
        )
        for r in rows
    ]


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"value": value}


def verify_chain(store: Store) -> ChainReport:
    """The whole chain, checked now."""
    return AuditLog(store).verify()


_WATCHES: dict[str, ChainWatch] = {}
_WATCHES_LOCK = threading.Lock()


def watch_of(store: Store) -> ChainWatch:
    """The process's incremental verifier of *store*'s chain (see :class:`ChainWatch`)."""
    with _WATCHES_LOCK:
        watch = _WATCHES.get(store.url)
        if watch is None:
            watch = _WATCHES[store.url] = ChainWatch(store)
        return watch


def verify_chain_since_checkpoint(store: Store, *, full: bool = False) -> ChainReport:
    """The chain from the last event this process verified on; all of it with *full*."""
    return watch_of(store).verify(full=full)


def list_runs(store: Store, *, status: str | None = None, limit: int = 100) -> list[RunRow]:
    query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id).limit(limit)
    if status:
        query = query.where(RunRow.status == status)
    with store.session() as s:
        return list(s.scalars(query))


def run_dict(r: RunRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "job": r.job_name,
        "source": r.source_key,
        "synthesizer": r.synthesizer,
        "status": r.status,
        "requested_by": r.requested_by,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "error": r.error,
    }


def stage_dicts(stages: Sequence[StageRow]) -> list[dict[str, Any]]:
    return [
        {
            "name": st.name,
            "status": st.status,
            "started_at": st.started_at,
            "finished_at": st.finished_at,
            "seconds": st.seconds,
        }
        for st in stages
    ]


def counts_by(store: Store, column: Any) -> dict[str, int]:
    """Row counts grouped by one column, e.g. ``ReleaseRow.status``."""
    with store.session() as s:
        return {str(k): int(n) for k, n in s.execute(select(column, func.count()).group_by(column))}


def queue_length(store: Store) -> int:
    with store.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(ReleaseRow)
                .where(ReleaseRow.status == ReleaseStatus.AWAITING_APPROVAL.value)
            )
            or 0
        )
