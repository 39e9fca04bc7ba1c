"""Read-only queries the console and the API show; every write goes through synthgate.release."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from synthgate.audit import AuditLog, ChainReport, ChainWatch, EventRecord
from synthgate.contracts import area_verdicts
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
    "MultiTableFacts",
    "RelationshipFacts",
    "ReportFacts",
    "TableFacts",
    "audit_events",
    "budget_of",
    "budgets",
    "counts_by",
    "decisions",
    "gate_groups",
    "gate_outcomes",
    "list_releases",
    "list_runs",
    "number",
    "queue_length",
    "release_dict",
    "release_summaries",
    "report_facts",
    "rule_line",
    "run_dict",
    "run_epsilon",
    "run_outcomes",
    "stage_dicts",
    "tabled_outcomes",
    "tables_view",
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


def _limit(store: Store, policy: str) -> tuple[str, float]:
    try:
        return policy, load_policy(policy, store=store).budget.epsilon_per_source
    except SynthgateError:  # a pack that is gone since: the default's limit, named as such
        return _DEFAULT_POLICY, load_policy(_DEFAULT_POLICY).budget.epsilon_per_source


def budget_of(store: Store, source: str, *, policy: str | None = None) -> BudgetView:
    """ε spent on *source* against the limit of *policy* (default: its latest release's)."""
    name, limit = _limit(store, policy or _policy_of(store, source))
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


# --------------------------------------------------------------------------- summaries

#: what a failed rule's observed value is, against its threshold
_NOT = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "==": "≠", "!=": "="}
_REPORT_LIMIT = 64 * 1024 * 1024  # a report.json larger than this is not read by the console


def number(value: Any) -> str:
    """A figure with three significant digits; anything else as text."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def rule_line(outcome: Mapping[str, Any]) -> str:
    """``fidelity.quality 0.61 < 0.75``: the metric, what it was, what it had to be; an
    outcome of one table of a multi-table release names it first (``orders: …``)."""
    comparator = str(outcome.get("comparator", ""))
    threshold = outcome.get("threshold")
    observed = outcome.get("observed")
    shown = "not computed" if observed is None else number(observed)
    table = outcome.get("table")
    named = f"{table}: " if isinstance(table, str) and table else ""
    return (
        f"{named}{outcome.get('metric', '')} {shown} "
        f"{_NOT.get(comparator, 'vs')} {number(threshold)}"
    )


@dataclass(frozen=True, slots=True)
class TableFacts:
    """One table of a multi-table release: its kind (``unit``, ``private`` or ``public``),
    the rows released, the rows one person may own, the ε its mechanisms spend on their
    own and whether its key is unique in the synthetic table (None: no key, or public)."""

    name: str
    kind: str
    rows: int | None
    rows_per_person: int | None
    epsilon_alone: float | None
    unique_key: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "rows": self.rows,
            "rows_per_person": self.rows_per_person,
            "epsilon_alone": self.epsilon_alone,
            "unique_key": self.unique_key,
        }


@dataclass(frozen=True, slots=True)
class RelationshipFacts:
    """One relationship (``child -> parent``) of a multi-table release: the share of the
    child's foreign keys that name a released parent row and, under a private parent, the
    cap on children per parent (declared in the spec or chosen under DP), the DP estimate
    of the children it dropped, the largest synthetic child count and the rounded
    total-variation distance between the real and synthetic children-per-parent counts.
    A *link* is a further foreign key between private tables (``child -> parent
    (columns)``): the engine fills it with a row the tables already hold, so it has an
    integrity and no cap."""

    name: str
    child: str
    parent: str
    columns: str | None
    link: bool
    integrity: float | None
    cap: int | None
    cap_declared: bool | None
    clipped_rows_estimate: int | None
    children_per_parent_tvd: float | None
    synthetic_max_children: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "child": self.child,
            "parent": self.parent,
            "columns": self.columns,
            "link": self.link,
            "integrity": self.integrity,
            "cap": self.cap,
            "cap_declared": self.cap_declared,
            "clipped_rows_estimate": self.clipped_rows_estimate,
            "children_per_parent_tvd": self.children_per_parent_tvd,
            "synthetic_max_children": self.synthetic_max_children,
        }


@dataclass(frozen=True, slots=True)
class MultiTableFacts:
    """The ``multi_table`` section of a release's report, as the console shows it: tables
    in publishing order, relationships, integrity, SDMetrics' multi-table quality, the ε
    and δ composed for the person, and the gate's outcomes with the table each is about
    (None for the rules across tables). Keys the console does not know are left out."""

    unit: str | None
    tables: tuple[TableFacts, ...]
    relationships: tuple[RelationshipFacts, ...]
    referential_integrity: float | None
    quality_score: float | None
    quality_properties: tuple[tuple[str, float | None], ...]
    epsilon: float | None
    delta: float | None
    outcomes: tuple[dict[str, Any], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What the console shows of a release's JSON report (counts and verdicts only)."""

    status: str | None
    verdicts: tuple[dict[str, Any], ...]
    epsilon: float | None
    delta: float | None
    synthesizer: str | None
    multi: MultiTableFacts | None = None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _names(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str) and v]


def _table_order(report: Mapping[str, Any], part: Mapping[str, Any]) -> list[str]:
    """Publishing order (the report's target tables), then any other table it names."""
    seen: dict[str, None] = {}
    ledger = _mapping(part.get("ledger"))
    for name in (
        *_names(_mapping(report.get("provenance")).get("target_tables")),
        *(k for k in _mapping(part.get("rows")) if isinstance(k, str)),
        *_names(part.get("public")),
        *(k for k in _mapping(ledger.get("tables")) if isinstance(k, str)),
    ):
        seen.setdefault(name, None)
    return list(seen)


def _tables(report: Mapping[str, Any], part: Mapping[str, Any]) -> tuple[TableFacts, ...]:
    unit = part.get("unit")
    public = set(_names(part.get("public")))
    rows = _mapping(part.get("rows"))
    unique = _mapping(part.get("unique_keys"))
    ledger = _mapping(_mapping(part.get("ledger")).get("tables"))
    out = []
    for name in _table_order(report, part):
        kind = "public" if name in public else "unit" if name == unit else "private"
        own = _mapping(ledger.get(name))
        out.append(
            TableFacts(
                name=name,
                kind=kind,
                rows=_int(rows.get(name)),
                rows_per_person=None if kind == "public" else _int(own.get("rows_per_person")),
                epsilon_alone=None if kind == "public" else _float(own.get("epsilon_alone")),
                unique_key=_bool(unique.get(name)),
            )
        )
    return tuple(out)


def _ends(name: str) -> tuple[str, str, str | None]:
    """``child -> parent (columns)``: the child and parent tables, and the columns if named."""
    child, arrow, parent = name.partition(" -> ")
    if not arrow:
        return name, "", None
    if parent.endswith(")") and " (" in parent:
        parent, _, columns = parent[:-1].partition(" (")
        return child, parent, columns
    return child, parent, None


def _relationships(
    part: Mapping[str, Any], tables: Sequence[TableFacts]
) -> tuple[RelationshipFacts, ...]:
    """Relationships in the order of their child tables (publishing order); for each
    child, its private parent, then its public ones, then its links."""
    caps = _mapping(_mapping(part.get("ledger")).get("caps"))
    position = {t.name: i for i, t in enumerate(tables)}
    public = {t.name for t in tables if t.kind == "public"}
    out = []
    for name, value in _mapping(part.get("relationships")).items():
        if not isinstance(name, str):
            continue
        entry = _mapping(value)
        child, parent, columns = _ends(name)
        cap = _int(entry.get("cap"))
        chosen = _mapping(caps.get(child)) if cap is not None else {}
        out.append(
            RelationshipFacts(
                name=name,
                child=child,
                parent=parent,
                columns=columns,
                link=entry.get("link") is True,
                integrity=_float(entry.get("integrity")),
                cap=cap,
                cap_declared=_bool(chosen.get("declared")),
                clipped_rows_estimate=_int(chosen.get("clipped_rows_estimate")),
                children_per_parent_tvd=_float(entry.get("children_per_parent_tvd")),
                synthetic_max_children=_int(entry.get("synthetic_max_children")),
            )
        )
    last = len(position)
    return tuple(
        sorted(
            out,
            key=lambda r: (
                position.get(r.child, last),
                r.link,
                r.parent in public,
                position.get(r.parent, last),
            ),
        )
    )


def _multi_facts(report: Mapping[str, Any]) -> MultiTableFacts | None:
    part = report.get("multi_table")
    if not isinstance(part, Mapping):
        return None
    ledger = _mapping(part.get("ledger"))
    quality = _mapping(part.get("quality"))
    outcomes = _mapping(report.get("gate")).get("outcomes")
    unit = part.get("unit")
    tables = _tables(report, part)
    return MultiTableFacts(
        unit=unit if isinstance(unit, str) and unit else None,
        tables=tables,
        relationships=_relationships(part, tables),
        referential_integrity=_float(part.get("referential_integrity")),
        quality_score=_float(quality.get("score")),
        quality_properties=tuple(
            (str(k), _float(v)) for k, v in _mapping(quality.get("properties")).items()
        ),
        epsilon=_float(ledger.get("epsilon")),
        delta=_float(ledger.get("delta")),
        outcomes=tuple(
            dict(o)
            for o in (outcomes if isinstance(outcomes, list) else [])
            if isinstance(o, Mapping)
        ),
    )


def tables_view(multi: MultiTableFacts) -> dict[str, Any]:
    """The ``tables`` object of the API's release detail (the page shows the same)."""
    return {
        "unit": multi.unit,
        "epsilon": multi.epsilon,
        "delta": multi.delta,
        "referential_integrity": multi.referential_integrity,
        "quality": None
        if multi.quality_score is None and not multi.quality_properties
        else {"score": multi.quality_score, "properties": dict(multi.quality_properties)},
        "per_table": [t.to_dict() for t in multi.tables],
        "relationships": [r.to_dict() for r in multi.relationships],
    }


def _same_rule(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("rule_id", "metric", "passed", "severity"))


def tabled_outcomes(row: ReleaseRow, multi: MultiTableFacts | None) -> list[dict[str, Any]] | None:
    """The release's gate outcomes with the table each is about, from its report; None
    unless the report's outcomes are the store's, rule for rule (the store decides)."""
    if multi is None or not multi.outcomes:
        return None
    stored = gate_outcomes(row)
    if len(stored) != len(multi.outcomes):
        return None
    if not all(_same_rule(a, b) for a, b in zip(stored, multi.outcomes, strict=True)):
        return None
    return [dict(o) for o in multi.outcomes]


def gate_groups(
    multi: MultiTableFacts, outcomes: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """*outcomes* by table: the rules across tables (integrity) first, then each table
    in publishing order, then any other table an outcome names."""
    order: dict[str | None, list[dict[str, Any]]] = {None: []}
    for t in multi.tables:
        order[t.name] = []
    for o in outcomes:
        table = o.get("table")
        key = table if isinstance(table, str) and table else None
        order.setdefault(key, []).append(dict(o))
    return [{"table": k, "outcomes": v} for k, v in order.items() if v]


@lru_cache(maxsize=512)
def _facts_at(path: str, _mtime_ns: int, _size: int) -> ReportFacts | None:
    try:
        report = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, Mapping):
        return None
    spent = _mapping(_mapping(report.get("privacy")).get("spent"))
    status = _mapping(report.get("release")).get("status")
    synthesizer = _mapping(report.get("provenance")).get("synthesizer")
    private = bool(spent.get("private"))
    return ReportFacts(
        status=str(status) if status else None,
        verdicts=tuple(area_verdicts(report)),
        epsilon=_float(spent.get("epsilon")) if private else None,
        delta=_float(spent.get("delta")) if private else None,
        synthesizer=str(synthesizer) if synthesizer else None,
        multi=_multi_facts(report),
    )


def report_facts(report_path: str) -> ReportFacts | None:
    """The facts of the ``report.json`` beside a release's ``report.html``; None without one."""
    path = Path(report_path).with_name("report.json")
    try:
        info = path.stat()
    except OSError:
        return None
    if info.st_size > _REPORT_LIMIT:
        return None
    return _facts_at(str(path), info.st_mtime_ns, info.st_size)


def _epsilons(store: Store, run_ids: Iterable[str]) -> dict[str, float]:
    ids = list(run_ids)
    if not ids:
        return {}
    with store.session() as s:
        found = s.execute(
            select(BudgetEntry.run_id, func.sum(BudgetEntry.epsilon))
            .where(BudgetEntry.run_id.in_(ids), BudgetEntry.stage == "total")
            .group_by(BudgetEntry.run_id)
        )
        return {str(run): float(eps) for run, eps in found if eps is not None}


def _synthesizers(store: Store, run_ids: Iterable[str]) -> dict[str, str]:
    ids = list(run_ids)
    if not ids:
        return {}
    with store.session() as s:
        found = s.execute(select(RunRow.id, RunRow.synthesizer).where(RunRow.id.in_(ids)))
        return {str(run): str(name) for run, name in found}


def _verdict_line(status: str, failed: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> str:
    blocking = [o for o in failed if o.get("severity") == "block"]
    if status == ReleaseStatus.BLOCKED.value and blocking:
        more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
        return f"blocked: {rule_line(blocking[0])}{more}"
    parts = []
    for word in ("fail", "warn"):
        areas = [v["area"] + (" (advisory)" if v["basis"] != "gate" else "") for v in verdicts]
        named = [a for a, v in zip(areas, verdicts, strict=True) if v["verdict"] == word]
        if named:
            parts.append(f"{word}: {', '.join(named)}")
    if parts:
        return " · ".join(parts)
    if verdicts and all(v["verdict"] == "pass" for v in verdicts):
        return "every area passes"
    return "no verdict recorded"


def release_summaries(store: Store, rows: Sequence[ReleaseRow]) -> dict[str, dict[str, Any]]:
    """Per release id: its verdict per area (as the report's first page gives them), failed
    rules, a one-line verdict, ε and δ spent, the synthesizer, the report's status and,
    for a multi-table release, its tables in publishing order (None for one table)."""
    run_ids = {r.run_id for r in rows}
    epsilons = _epsilons(store, run_ids)
    engines = _synthesizers(store, run_ids)
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        outcomes = gate_outcomes(row)
        facts = report_facts(row.report_path)
        multi = facts.multi if facts is not None else None
        verdicts = (
            [dict(v) for v in facts.verdicts]
            if facts is not None
            else area_verdicts({"gate": {"outcomes": outcomes}})
        )
        named = tabled_outcomes(row, multi) or outcomes
        failed = [{**o, "line": rule_line(o)} for o in named if not o.get("passed", False)]
        epsilon = epsilons.get(row.run_id)
        out[row.id] = {
            "verdicts": verdicts,
            "failed": failed,
            "line": _verdict_line(row.status, failed, verdicts),
            "epsilon": epsilon if epsilon is not None else (facts.epsilon if facts else None),
            "delta": facts.delta if facts else None,
            "synthesizer": (facts.synthesizer if facts else None) or engines.get(row.run_id),
            "report_status": facts.status if facts else None,
            "tables": list(multi.names) if multi is not None else None,
        }
    return out


#: a run's outcome in words, from its own status and its release's
_RELEASE_OUTCOME = {
    ReleaseStatus.BLOCKED.value: "blocked",
    ReleaseStatus.AWAITING_APPROVAL.value: "awaiting approval",
    ReleaseStatus.APPROVED.value: "approved",
    ReleaseStatus.PUBLISHED.value: "published",
    ReleaseStatus.REJECTED.value: "rejected",
    ReleaseStatus.REVOKED.value: "revoked",
    ReleaseStatus.EXPIRED.value: "expired",
}


def run_outcomes(store: Store, runs: Sequence[RunRow]) -> dict[str, dict[str, Any]]:
    """Per run id: ``outcome`` (failed, blocked, awaiting approval, …), ``release`` (its id or
    None), ``before_start`` (it failed before any stage ran) and ``failure`` (one line)."""
    ids = [r.id for r in runs]
    releases: dict[str, tuple[str, str]] = {}
    staged: set[str] = set()
    if ids:
        with store.session() as s:
            for rel, run, status in s.execute(
                select(ReleaseRow.id, ReleaseRow.run_id, ReleaseRow.status).where(
                    ReleaseRow.run_id.in_(ids)
                )
            ):
                releases[str(run)] = (str(rel), str(status))
            staged = {
                str(run)
                for run in s.scalars(select(StageRow.run_id).where(StageRow.run_id.in_(ids)))
            }
    out: dict[str, dict[str, Any]] = {}
    for r in runs:
        release = releases.get(r.id)
        outcome = r.status
        if r.status == "succeeded" and release is not None:
            outcome = _RELEASE_OUTCOME.get(release[1], release[1].lower())
        failure = (r.error or "").strip().splitlines()[0][:300] if (r.error or "").strip() else ""
        out[r.id] = {
            "outcome": outcome,
            "release": release[0] if release else None,
            "before_start": r.status == "failed" and r.id not in staged,
            "failure": failure,
        }
    return out
