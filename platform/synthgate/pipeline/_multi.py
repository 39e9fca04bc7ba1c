"""A multi-table job (``source.tables``): related tables synthesized as one release.

The same stages as a one-table run (extract, classify, mask, synthesize, sample,
validate, gate, report), each over every table, governed the same way: the unit
table's source budget is reserved before any row is read and charged the
composed ε once; the pack gates each table's metrics and referential
integrity; one release holds every table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from synthgate import __version__
from synthgate.audit import AuditLog
from synthgate.config import LoadedSpec, size_problems
from synthgate.contracts import (
    MultiTableSink,
    Relationship,
    RuleOutcome,
    Severity,
    Sink,
    Source,
    TableSchema,
)
from synthgate.errors import ConfigError, SynthesisError, SynthgateError, redact
from synthgate.pii import Pseudonymizer
from synthgate.pipeline import _stages as st
from synthgate.pipeline import _tables as tb
from synthgate.pipeline._graph import Artifacts, execute
from synthgate.pipeline._multi_nodes import (
    NodeContext,
    Unchanged,
    charge,
    findings_of,
    publish_order,
    spent_of,
    tables_graph,
    validations_of,
)
from synthgate.pipeline._records import policy_names, record_release_made, record_run_started
from synthgate.pipeline._resume import (
    History,
    abandoned_runs,
    budget_charged,
    load_history,
    release_of,
)
from synthgate.pipeline._runner import (
    Progress,
    RunMode,
    RunOutcome,
    _abandon,
    _attempt,
    _failure_cost,
    _fit_started,
    _fresh_seed,
    _new_id,
    _parse_ts,
    _record_refused,
    _reserve,
    _Run,
    _spec_error,
    check_packs,
    skipped_run,
)
from synthgate.privacy import BudgetLedger, BudgetStatus, source_limits
from synthgate.release import (
    GateDecision,
    Permission,
    PolicyPack,
    ReleaseStatus,
    ResolvedPolicy,
    auto_approve,
    evaluate_gate,
    file_sha256,
    identify,
    record_policy,
    token_from_env,
)
from synthgate.release._card import build_card, write_card
from synthgate.release._service import tables_fingerprint
from synthgate.reporting import write_report
from synthgate.settings import Settings
from synthgate.sources import open_sink, open_source, source_key
from synthgate.store import Store, utcnow
from synthgate.store.models import ReleaseRow
from synthgate.synth.multitable import MultiTableSynthesis, TablePlan, describe_plans
from synthgate.validate import MULTI_TABLE

__all__ = ["TablesPreflight", "dry_run_tables", "run_tables"]

INTEGRITY = "multitable.referential_integrity"
ENGINE = "dp-mst (multi-table)"


@dataclass
class TablesPreflight:
    """Everything a multi-table run checks before a row is read."""

    loaded: LoadedSpec
    source: Source
    sink: Sink
    policy: PolicyPack
    pii_policy: PolicyPack
    policy_source: ResolvedPolicy | None
    pseudonymizer: Pseudonymizer | None
    source_key: str
    schemas: dict[str, TableSchema]
    relationships: list[Relationship]
    keys: dict[str, tuple[str, ...]]
    plans: list[TablePlan]

    def close(self) -> None:
        self.source.close()
        self.sink.close()

    @property
    def private(self) -> list[str]:
        return [p.name for p in self.plans]


class _TablesRun(_Run):
    started: str = ""


def _policy_names(pre: TablesPreflight) -> dict[str, Any]:
    return policy_names(pre.policy, pre.policy_source)


def _schemas(source: Source, tables: list[str], problems: list[str]) -> dict[str, TableSchema]:
    found = {}
    for i, name in enumerate(tables):
        schema = _attempt(problems, f"source.tables[{i}]", partial(source.schema, name))
        if schema is not None:
            found[name] = schema
    return found


def _sink(loaded: LoadedSpec) -> Sink:
    sink = open_sink(loaded.spec.target.url)
    try:
        if not isinstance(sink, MultiTableSink):
            raise ConfigError(
                "this target cannot write several tables as one; publish a multi-table job "
                "to a database (PostgreSQL, MySQL/MariaDB or SQLite)"
            )
        tb.check_targets(sink, loaded.spec)
    except BaseException:
        sink.close()
        raise
    return sink


def preflight_tables(loaded: LoadedSpec, store: Store | None) -> TablesPreflight:
    """The packs, the source's tables and relationships, the graph from the unit and
    the target — or one ConfigError that lists every problem, one line each."""
    spec = loaded.spec
    problems: list[str] = []
    resolved, policy, pii_policy, pseudonymizer = check_packs(spec, store, problems)
    source = _attempt(problems, "source.url", lambda: open_source(spec.source.url))
    sink = None
    try:
        sink = _attempt(problems, "target", lambda: _sink(loaded))
        if source is None:
            raise _spec_error(loaded, problems)
        schemas = _schemas(source, list(spec.source.tables or ()), problems)
        if len(schemas) < len(spec.source.tables or ()):
            raise _spec_error(loaded, problems)
        rels, keys, plans = tb.resolve_graph(source, spec, schemas, problems)
        for name, schema in schemas.items():
            problems.extend(f"{name}: {p}" for p in size_problems(spec, len(schema.columns)))
        if problems or sink is None or policy is None or pii_policy is None:
            raise _spec_error(loaded, problems)
    except BaseException:
        for opened in (source, sink):
            if opened is not None:
                opened.close()
        raise
    key = source_key(spec.source.url, spec.source.table)
    return TablesPreflight(
        loaded, source, sink, policy, pii_policy, resolved, pseudonymizer, key,
        schemas, rels, keys, plans,
    )  # fmt: skip


@dataclass
class TablesDryRun:
    preflight: TablesPreflight
    budget: BudgetStatus

    def close(self) -> None:
        self.preflight.close()


def dry_run_tables(loaded: LoadedSpec, settings: Settings) -> TablesDryRun:
    """Preflight and the unit source's budget, reading no row and writing nothing."""
    store = Store(settings.store_url)
    identify(store, settings.user, token_from_env(), Permission.RUN)
    pre = preflight_tables(loaded, store)
    try:
        spec = loaded.spec
        limits = source_limits(store, pre.source_key, pre.policy)
        status = BudgetLedger(store).require(
            pre.source_key,
            spec.synthesis.privacy.epsilon,
            limit=limits.epsilon,
            delta=spec.synthesis.privacy.delta_bound(),
            delta_limit=limits.delta,
        )
    except BaseException:
        pre.close()
        raise
    return TablesDryRun(pre, status)


# --------------------------------------------------------------------------- run


@dataclass
class _Started:
    """The run this process carries on: a new one, or the one whose process died."""

    run: _TablesRun
    seed: int
    finished: dict[str, str]  # node → status, as the dead process left them
    resumed: bool
    snapshot: str | None


def run_tables(
    loaded: LoadedSpec,
    settings: Settings,
    store: Store,
    progress: Progress,
    clock: Callable[[], str],
    force: bool = False,
) -> RunOutcome:
    """Run a multi-table job (the caller holds the job's lock): its graph of nodes,
    then the gate, the report and the release. A run whose process died is resumed
    from its finished nodes; an unchanged source and spec skip the run (exit 99)."""
    spec = loaded.spec
    try:
        pre = preflight_tables(loaded, store)
    except SynthgateError as exc:
        _record_refused(store, loaded, settings, clock, exc)
        raise
    audit = AuditLog(store)
    limits = source_limits(store, pre.source_key, pre.policy)
    ledger = BudgetLedger(store)
    try:
        history = load_history(store, spec.name, loaded.spec_hash, pre.source_key)
        unchanged = _unchanged_since(history, pre, force)
        env = _Env(settings, store, audit, progress, pre, clock)
        started = _start_or_resume(env, history, force, check_budget=unchanged is None)
    except SynthgateError as exc:
        pre.close()
        _record_refused(store, loaded, settings, clock, exc)
        raise
    run = started.run
    reserve = partial(_reserve, ledger, audit, settings.user, pre.source_key, run.id, spec, limits)
    ctx = NodeContext(
        pre, started.seed, run.id, settings.user, store, audit, ledger, limits.epsilon,
        unchanged_since=None if started.resumed else unchanged,
        resumed_snapshot=started.snapshot,
        # a run that may find nothing changed reserves once its snapshot says otherwise
        reserve=reserve if unchanged is not None and not started.resumed else None,
    )  # fmt: skip
    art = Artifacts()
    try:
        if not started.resumed and unchanged is None:
            reserve()
        graph = tables_graph(ctx)
        st.write_json(run.dir / "graph.json", graph.to_dict())
        execute(graph, run, art, run.folder, finished=started.finished)
        return _finish(run, ctx, art, (started.resumed, len(graph.nodes)), clock)
    except Unchanged as same:
        return skipped_run(run, ledger, pre.source_key, art.get("snapshot"), same.run_id)
    except BaseException as exc:
        _failed(run, ctx, art, exc)
        if isinstance(exc, SynthgateError | KeyboardInterrupt):
            raise
        raise SynthesisError(
            f"run {run.id} failed with an internal error ({type(exc).__name__})",
            hint="rerun with --debug for the traceback",
        ) from exc
    finally:
        pre.close()


def _unchanged_since(history: History, pre: TablesPreflight, force: bool) -> tuple[str, str] | None:
    """The last success's run and snapshot when its spec and pack are this run's."""
    last = history.last_ok
    if force or last is None or last.spec_hash != pre.loaded.spec_hash:
        return None
    stages = history.last_ok_stages
    snapshot = history.snapshot_of(stages)
    if snapshot is None or not history.unchanged(
        stages, model=pre.loaded.spec_hash, policy=pre.policy.content_hash
    ):
        return None
    return last.id, snapshot


@dataclass(frozen=True)
class _Env:
    """What starting or resuming a run needs."""

    settings: Settings
    store: Store
    audit: AuditLog
    progress: Progress
    pre: TablesPreflight
    clock: Callable[[], str]


def _start_or_resume(env: _Env, history: History, force: bool, *, check_budget: bool) -> _Started:
    """Resume the job's dead run with this spec, or start one; with *check_budget*,
    only once the unit source's budget covers it."""
    spec, stale = env.pre.loaded.spec, history.stale
    store, audit, user = env.store, env.audit, env.settings.user
    if stale is not None and force:
        _abandon(store, audit, user, stale.id, "abandoned: rerun with --force")
        stale = None
    for other in abandoned_runs(store, spec.name):  # 'running' while we hold the lock
        if stale is None or other != stale.id:
            _abandon(store, audit, user, other, "abandoned: its process ended mid-run")
    seed = history.seed_of(history.stale_stages) if stale is not None else None
    if stale is not None and seed is not None:
        run = _TablesRun(env.settings, store, audit, stale.id, env.progress, spec.name)
        run.started = stale.started_at
        finished = {n: r.status for n, r in history.stale_stages.items()}
        run.resumed([n for n, status in finished.items() if status == "succeeded"])
        return _Started(run, seed, finished, True, history.snapshot_of(history.stale_stages))
    if stale is not None:  # died before its snapshot was known: nothing to carry on
        _abandon(store, audit, user, stale.id, "abandoned: its process ended mid-run")
    if check_budget:  # stop before any row is read when the unit source cannot cover it
        _require(store, env.pre)
    return _Started(_start(env), _fresh_seed(env.pre.loaded), {}, False, None)


def _require(store: Store, pre: TablesPreflight) -> None:
    spec = pre.loaded.spec
    limits = source_limits(store, pre.source_key, pre.policy)
    BudgetLedger(store).require(
        pre.source_key,
        spec.synthesis.privacy.epsilon,
        limit=limits.epsilon,
        delta=spec.synthesis.privacy.delta_bound(),
        delta_limit=limits.delta,
    )


def _start(env: _Env) -> _TablesRun:
    loaded, pre = env.pre.loaded, env.pre
    run = _TablesRun(
        env.settings, env.store, env.audit, _new_id("run"), env.progress, loaded.spec.name
    )
    run.started = env.clock()
    record_run_started(
        env.store,
        env.audit,
        loaded,
        run_id=run.id,
        run_dir=run.dir,
        source_key=pre.source_key,
        synthesizer=ENGINE,
        user=env.settings.user,
        started=run.started,
        extra={"tables": list(pre.schemas)},
    )
    return run


# --------------------------------------------------------------------------- gate


def cross_table_metrics(checks: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics measured across a release's tables, as pack rules read them."""
    tvds = [
        float(r["children_per_parent_tvd"])
        for r in (checks.get("relationships") or {}).values()
        if r.get("children_per_parent_tvd") is not None
    ]
    quality = checks.get("quality") or {}
    unique = checks.get("unique_keys") or {}
    return {
        "multitable.referential_integrity": checks.get("referential_integrity"),
        "multitable.unique_keys": all(unique.values()),
        "multitable.children_tvd": max(tvds, default=0.0),
        "multitable.quality": quality.get("score"),
    }


def _integrity_outcome(checks: Mapping[str, Any]) -> RuleOutcome:
    """Integrity, judged even where the pack has no rule on it."""
    observed = checks.get("referential_integrity")
    passed = observed == 1.0
    return RuleOutcome(
        rule_id="multitable-integrity",
        metric=INTEGRITY,
        passed=passed,
        observed=observed,
        threshold=1.0,
        comparator=">=",
        severity=Severity.BLOCK,
        reason="every foreign key of a released table names a released parent row"
        if passed
        else f"{INTEGRITY} is {observed}, needs >= 1.0: a foreign key names no released row",
    )


def _gate(
    pre: TablesPreflight, flats: Mapping[str, dict[str, Any]], checks: Mapping[str, Any]
) -> tuple[GateDecision, list[dict[str, Any]]]:
    """The pack's rules on metrics across tables, once for the release (integrity
    among them, judged even where the pack has no rule on it), then the pack on each
    private table's metrics: blocked when any of them blocks."""
    across = [r for r in pre.policy.rules if r.metric.startswith(MULTI_TABLE)]
    release_level = evaluate_gate(
        pre.policy.model_copy(update={"rules": across}), cross_table_metrics(checks)
    )
    outcomes = list(release_level.outcomes)
    if not any(r.metric == INTEGRITY for r in across):
        outcomes.insert(0, _integrity_outcome(checks))
    shown: list[dict[str, Any]] = [{"table": None, **o.to_dict()} for o in outcomes]
    for name, flat in flats.items():
        decision = evaluate_gate(pre.policy, flat)
        for o in decision.outcomes:
            if o.metric.startswith(MULTI_TABLE):  # judged once, above
                continue
            outcomes.append(o)
            shown.append({"table": name, **o.to_dict()})
    blocked = any(not o.passed and o.severity is Severity.BLOCK for o in outcomes)
    status = ReleaseStatus.BLOCKED if blocked else ReleaseStatus.AWAITING_APPROVAL
    return GateDecision(status, tuple(outcomes)), shown


def _tables_section(
    pre: TablesPreflight, result: MultiTableSynthesis, art: Artifacts
) -> dict[str, Any]:
    """Per table its synthetic row count; per relationship its cap and distance."""
    checks = result.checks
    return {
        "unit": pre.loaded.spec.source.table,
        "public": list(pre.loaded.spec.source.public),
        "plan": describe_plans(pre.plans, pre.loaded.spec.source.public),
        "rows": {t: len(f) for t, f in _released(art).items()},
        "referential_integrity": checks.get("referential_integrity"),
        "unique_keys": checks.get("unique_keys"),
        "relationships": checks.get("relationships"),
        "quality": checks.get("quality"),
        "ledger": result.ledger,
    }


def _released(art: Artifacts) -> dict[str, pd.DataFrame]:
    return dict(art.matching("released:"))


# --------------------------------------------------------------------------- finish


def _finish(
    run: _TablesRun,
    ctx: NodeContext,
    art: Artifacts,
    how: tuple[bool, int],
    clock: Callable[[], str],
) -> RunOutcome:
    """The gate and the report after the graph's nodes, then the release."""
    resumed, nodes = how
    pre = ctx.pre
    spec = pre.loaded.spec
    result: MultiTableSynthesis = art["synthesis"]
    validations = validations_of(art)
    flats = {t: v["flat"] for t, v in validations.items()}
    metrics = [{"table": t, **m} for t, v in validations.items() for m in v["metrics"]]
    total = nodes + 2
    with run.stage("gate", _policy_names(pre), position=(total - 1, total)) as folder:
        decision, shown = _gate(pre, flats, result.checks)
        st.write_json(
            folder / "outcomes.json", {"status": decision.status.value, "outcomes": shown}
        )
        record_policy(run.store, pre.policy, actor=run.settings.user)
    existing = release_of(run.store, run.id) if resumed else None
    release_id = existing.id if existing is not None else _new_id("rel")
    expires = (_parse_ts(run.started) + spec.release.expires_after).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    mode = RunMode.RESUME if resumed else RunMode.TRAIN
    with run.stage("report", {}, position=(total, total)) as folder:
        report = _report(
            run, ctx, art, metrics, decision, shown, (release_id, expires), mode, clock
        )
        report_json, report_html = write_report(report, folder)
        write_card(_card(pre, art, report), folder)
    status = (
        _release(run, ctx, art, decision, release_id, expires, report_html)
        if existing is None  # else the process died after the release was created
        else ReleaseStatus(existing.status)
    )
    run.store.finish_run(run.id, status="succeeded", snapshot_id=art["snapshot"])
    run.audit.append(
        actor=run.settings.user,
        action="run.finished",
        subject=run.id,
        details={"release": release_id, "status": status.value, "mode": mode.value},
    )
    released = _released(art)
    return RunOutcome(
        run_id=run.id,
        run_dir=run.dir,
        release_id=release_id,
        status=status,
        report_html=report_html,
        report_json=report_json,
        synthetic_path=art["manifest"],
        rows=sum(len(f) for f in released.values()),
        stage_seconds=run.seconds,
        failed_rules=[o.rule_id for o in decision.blocking_failures],
        warnings=[o.rule_id for o in decision.warnings],
        mode=mode,
        epsilon_spent=result.epsilon,
        model_run=run.id if resumed else None,
        message=f"{len(released)} tables synthesized for unit {spec.source.table}",
    )


def _report(
    run: _TablesRun,
    ctx: NodeContext,
    art: Artifacts,
    metrics: list[dict[str, Any]],
    decision: GateDecision,
    shown: list[dict[str, Any]],
    release: tuple[str, str],
    mode: RunMode,
    clock: Callable[[], str],
) -> dict[str, Any]:
    pre = ctx.pre
    spec = pre.loaded.spec
    result: MultiTableSynthesis = art["synthesis"]
    released = _released(art)
    masked = dict(art.matching("masked:"))
    return {
        "run": {
            "id": run.id,
            "job": spec.name,
            "requested_by": run.settings.user,
            "started_at": run.started,
            "finished_at": clock(),
            "synthgate_version": __version__,
            "mode": mode.value,
            "output": spec.mode.value,
        },
        "provenance": {
            "spec_hash": pre.loaded.spec_hash,
            "source": redact(spec.source.url),
            "table": spec.source.table,
            "tables": list(pre.schemas),
            "snapshot_id": art["snapshot"],
            "synthesizer": ENGINE,
            "rows_source": {t: len(f) for t, f in art.matching("frame:")},
            "rows_synthetic": {t: len(f) for t, f in released.items()},
            "target": redact(spec.target.url),
            "target_tables": publish_order(pre),
            "target_mode": spec.target.mode.value,
            "stage_seconds": run.seconds,
        },
        "pii": {
            "inventory": {t: [f.to_dict() for f in found] for t, found in findings_of(art).items()},
            "actions": {t: [a.to_dict() for a in m.masked.plan.actions] for t, m in masked.items()},
        },
        "privacy": {"spent": spent_of(result).to_dict(), "budget": art["budget"]},
        "metrics": metrics,
        "validation": {"tables": {t: v["report"] for t, v in validations_of(art).items()}},
        "multi_table": _tables_section(pre, result, art),
        "gate": {**_policy_names(pre), "status": decision.status.value, "outcomes": shown},
        "release": {"id": release[0], "status": decision.status.value, "expires_at": release[1]},
    }


def _card(pre: TablesPreflight, art: Artifacts, report: dict[str, Any]) -> dict[str, Any]:
    """One card for the release, listing every table with its figures."""
    unit = pre.loaded.spec.source.table
    released = _released(art)
    card: dict[str, Any] = build_card(report, released[unit], rows_estimate=None)
    card["table"] = {"rows": sum(len(f) for f in released.values())}
    card["tables"] = {
        name: build_card(report, frame, rows_estimate=None)["table"]
        for name, frame in released.items()
    }
    card["notes"].insert(
        0,
        f"One guarantee for the person: adding or removing one row of {unit} together with "
        "every row that belongs to it through foreign keys; public tables are copied as given.",
    )
    return card


def _release(
    run: _TablesRun,
    ctx: NodeContext,
    art: Artifacts,
    decision: GateDecision,
    release_id: str,
    expires: str,
    report_html: Path,
) -> ReleaseStatus:
    pre = ctx.pre
    spec = pre.loaded.spec
    now = utcnow()
    names = publish_order(pre)
    released = _released(art)
    run.store.add_release(
        ReleaseRow(
            id=release_id,
            run_id=run.id,
            job_name=spec.name,
            source_key=pre.source_key,
            status=decision.status.value,
            requested_by=run.settings.user,
            created_at=now,
            updated_at=now,
            expires_at=expires,
            policy=pre.policy.name,
            policy_version=pre.policy_source.version if pre.policy_source else None,
            target_url=redact(spec.target.url),
            target_table=", ".join(names),
            target_mode=spec.target.mode.value,
            rows=sum(len(f) for f in released.values()),
            gate=json.dumps([o.to_dict() for o in decision.outcomes], default=str),
            report_path=str(report_html),
            version=1,
            approvals_required=pre.policy.required_approvals,
            artifact_sha256=file_sha256(art["manifest"]),
            target_fingerprint=tables_fingerprint(names, spec.target.url, spec.target.mode.value),
        )
    )
    record_release_made(
        run.audit,
        run.settings.user,
        release_id,
        run_id=run.id,
        names=_policy_names(pre),
        decision=decision,
        made={"tables": {t: len(f) for t, f in released.items()}},
    )
    status = decision.status
    if status is ReleaseStatus.AWAITING_APPROVAL and pre.policy.auto_approve:
        status = auto_approve(run.store, release_id, policy=pre.policy)
    return status


def _failed(run: _TablesRun, ctx: NodeContext, art: Artifacts, exc: BaseException) -> None:
    """The run is marked failed; what its mechanisms made is charged, and no synthetic
    table is left in its folder."""
    if "synthesis" in art and not budget_charged(run.store, run.id):
        with suppress(SynthgateError):  # the first error is the one to tell
            charge(ctx, art["synthesis"])
    cost = _failure_cost(
        exc,
        ctx.ledger,
        run.audit,
        run.settings.user,
        ctx.pre.source_key,
        run.id,
        None,
        private=True,
        fit_began=_fit_started(run.store, run.id) and "synthesis" not in art,
    )
    reason = str(exc) if isinstance(exc, SynthgateError) else type(exc).__name__
    if cost:
        reason = f"{reason}; {cost}"
    for made in (run.dir / "synthesize").glob("table-*.parquet"):
        made.unlink()
    run.failed(reason, art.get("snapshot"))
