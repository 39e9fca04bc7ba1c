"""A multi-table job (``source.tables``): related tables synthesized as one release.

The same stages as a one-table run (extract, classify, mask, synthesize, sample,
validate, gate, report), each over every table, governed the same way: the unit
table's source budget is reserved before any row is read and charged the
composed ε once; the pack gates each table's metrics and referential
integrity; one release holds every table.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthgate import __version__
from synthgate.audit import AuditLog
from synthgate.config import LoadedSpec, size_problems
from synthgate.contracts import (
    MultiTableSink,
    PrivacySpent,
    Relationship,
    RuleOutcome,
    Severity,
    Sink,
    Source,
    StageSpend,
    TableSchema,
)
from synthgate.errors import ConfigError, SynthesisError, SynthgateError, redact
from synthgate.pii import ColumnFinding, Pseudonymizer, classify_columns, refill
from synthgate.pipeline import _stages as st
from synthgate.pipeline import _tables as tb
from synthgate.pipeline._records import policy_names, record_release_made, record_run_started
from synthgate.pipeline._resume import abandoned_runs
from synthgate.pipeline._runner import (
    Progress,
    RunMode,
    RunOutcome,
    _abandon,
    _attempt,
    _failure_cost,
    _fresh_seed,
    _new_id,
    _parse_ts,
    _record_refused,
    _reserve,
    _Run,
    _spec_error,
    check_packs,
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
from synthgate.release._service import TABLES_MANIFEST, tables_fingerprint
from synthgate.reporting import json_safe, write_report
from synthgate.settings import Settings
from synthgate.sources import open_sink, open_source, source_key
from synthgate.store import Store, utcnow
from synthgate.store.models import ReleaseRow
from synthgate.synth.multitable import MultiTableSynthesis, TablePlan, synthesize_related

__all__ = ["TablesPreflight", "dry_run_tables", "run_tables"]

INTEGRITY = "multitable.integrity"
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
class _State:
    """What the stages hand on; filled in as they finish."""

    seed: int
    snapshot_id: str | None = None
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    findings: dict[str, list[ColumnFinding]] = field(default_factory=dict)
    masked: dict[str, tb.MaskedTable] = field(default_factory=dict)
    held: dict[str, Any] = field(default_factory=dict)
    result: MultiTableSynthesis | None = None
    released: dict[str, pd.DataFrame] = field(default_factory=dict)
    replay: dict[str, dict[str, int]] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    fit_began: bool = False


def run_tables(
    loaded: LoadedSpec,
    settings: Settings,
    store: Store,
    progress: Progress,
    clock: Callable[[], str],
) -> RunOutcome:
    """Run a multi-table job (the caller holds the job's lock)."""
    spec = loaded.spec
    try:
        pre = preflight_tables(loaded, store)
    except SynthgateError as exc:
        _record_refused(store, loaded, settings, clock, exc)
        raise
    audit = AuditLog(store)
    limits = source_limits(store, pre.source_key, pre.policy)
    ledger = BudgetLedger(store)
    try:  # stop before any row is read when the unit source's budget cannot cover it
        for other in abandoned_runs(store, spec.name):  # 'running' while we hold the lock
            _abandon(store, audit, settings.user, other, "abandoned: its process ended mid-run")
        ledger.require(
            pre.source_key,
            spec.synthesis.privacy.epsilon,
            limit=limits.epsilon,
            delta=spec.synthesis.privacy.delta_bound(),
            delta_limit=limits.delta,
        )
    except SynthgateError as exc:
        pre.close()
        _record_refused(store, loaded, settings, clock, exc)
        raise
    run = _start(loaded, settings, store, audit, progress, pre, clock)
    state = _State(seed=_fresh_seed(loaded))
    try:
        _reserve(ledger, audit, settings.user, pre.source_key, run.id, spec, limits)
        _stages(run, pre, state, ledger, limits.epsilon)
        return _finish(run, pre, state, clock)
    except BaseException as exc:
        _failed(run, pre, state, ledger, exc)
        if isinstance(exc, SynthgateError | KeyboardInterrupt):
            raise
        raise SynthesisError(
            f"run {run.id} failed with an internal error ({type(exc).__name__})",
            hint="rerun with --debug for the traceback",
        ) from exc
    finally:
        pre.close()


def _start(
    loaded: LoadedSpec,
    settings: Settings,
    store: Store,
    audit: AuditLog,
    progress: Progress,
    pre: TablesPreflight,
    clock: Callable[[], str],
) -> _TablesRun:
    spec = loaded.spec
    run = _TablesRun(settings, store, audit, _new_id("run"), progress, spec.name)
    run.started = clock()
    record_run_started(
        store,
        audit,
        loaded,
        run_id=run.id,
        run_dir=run.dir,
        source_key=pre.source_key,
        synthesizer=ENGINE,
        user=settings.user,
        started=run.started,
        extra={"tables": list(pre.schemas)},
    )
    return run


def _stages(
    run: _TablesRun, pre: TablesPreflight, state: _State, ledger: BudgetLedger, limit: float
) -> None:
    spec = pre.loaded.spec
    summary: dict[str, Any] = {"tables": list(pre.schemas)}
    with run.stage("extract", summary) as folder:
        data = tb.extract_tables(pre.source, spec, pre.schemas)
        state.frames, state.snapshot_id = data.frames, data.snapshot_id
        summary.update(snapshot_id=data.snapshot_id, seed=state.seed, mode=RunMode.TRAIN.value)
        st.write_json(folder / "schemas.json", {t: s.to_dict() for t, s in pre.schemas.items()})
    with run.stage("classify", {}) as folder:
        _classify(pre, state, folder)
    run.audit.append(
        actor=run.settings.user,
        action="pii.classified",
        subject=run.id,
        details={
            "tables": {
                t: {f.column: f.entity for f in found if f.entity}
                for t, found in state.findings.items()
            }
        },
    )
    with run.stage("mask", {}) as folder:
        _mask(pre, state, folder)
    synth_summary: dict[str, Any] = {"synthesizer": ENGINE, "saved": False}
    with run.stage("synthesize", synth_summary) as folder:
        state.fit_began = True
        state.result = _synthesize(pre, state)
        st.write_json(folder / "ledger.json", json_safe(state.result.ledger))
    state.budget = _charge(run, pre, ledger, state.result, limit)
    with run.stage("sample", {}) as folder:
        _sample(pre, state, folder)


def _classify(pre: TablesPreflight, state: _State, folder: Path) -> None:
    spec = pre.loaded.spec
    recognizers = pre.pii_policy.pii.custom_recognizers()
    for name, frame in state.frames.items():
        state.findings[name] = classify_columns(
            frame,
            pre.schemas[name],
            sample_values=spec.pii.sample_values,
            seed=state.seed,
            recognizers=recognizers,
        )
    st.write_json(
        folder / "inventory.json",
        {t: [f.to_dict() for f in found] for t, found in state.findings.items()},
    )


def _mask(pre: TablesPreflight, state: _State, folder: Path) -> None:
    spec = pre.loaded.spec
    keep = tb.keep_columns(pre.plans, pre.relationships)
    for name, frame in state.frames.items():
        state.masked[name] = tb.mask_table(
            frame,
            pre.schemas[name],
            state.findings[name],
            pre.pii_policy,
            keep.get(name, set()),
            pre.pseudonymizer,
            spec,
        )
    frames = {t: m.masked.train for t, m in state.masked.items()}
    state.held = tb.person_holdout(frames, pre.plans, spec.validation.holdout, state.seed)
    st.write_json(
        folder / "plan.json", {t: m.masked.plan.to_dict() for t, m in state.masked.items()}
    )
    st.write_json(
        folder / "split.json",
        {t: {"holdout_rows": int(h.sum()), "rows": len(h)} for t, h in state.held.items()},
    )


def _synthesize(pre: TablesPreflight, state: _State) -> MultiTableSynthesis:
    spec = pre.loaded.spec
    train = {
        t: (m.masked.train[~state.held[t]] if t in state.held else m.masked.train)
        for t, m in state.masked.items()
    }
    return synthesize_related(
        {t: f.reset_index(drop=True) for t, f in train.items()},
        unit=spec.source.table,
        relationships=pre.relationships,
        epsilon=spec.synthesis.privacy.epsilon,
        public=spec.source.public,
        keys=pre.keys,
        caps=tb.caps_by_table(spec),
        seed=state.seed,
        # the holdout share is public: the release is about as large as the whole table
        unit_rows_scale=1.0 / (1.0 - spec.validation.holdout),
    )


def _spent(result: MultiTableSynthesis) -> PrivacySpent:
    stages = tuple(
        StageSpend(
            stage=f"table:{name}",
            mechanism="dp-mst",
            epsilon=float(part["epsilon_alone"]),
            delta=0.0,
            details={"rows_per_person": part["rows_per_person"], "composed": False},
        )
        for name, part in result.ledger["tables"].items()
    )
    return PrivacySpent(
        True, result.epsilon, result.delta, str(result.ledger["accountant"]), stages
    )


def _charge(
    run: _TablesRun,
    pre: TablesPreflight,
    ledger: BudgetLedger,
    result: MultiTableSynthesis,
    limit: float,
) -> dict[str, Any]:
    """Charge the composed ε on the unit's source once (its per-table shares as stage
    lines: they are informational, the total is composed)."""
    spent = _spent(result)
    before = ledger.status(pre.source_key, limit=limit)
    assert spent.epsilon is not None
    assert spent.delta is not None
    ledger.record(
        pre.source_key,
        run.id,
        epsilon=spent.epsilon,
        delta=spent.delta,
        accountant=spent.accountant or "rdp",
        stages=spent.stages,
    )
    ledger.release(pre.source_key, run.id)
    run.audit.append(
        actor=run.settings.user,
        action="budget.spent",
        subject=run.id,
        details={
            "source": pre.source_key,
            "epsilon": spent.epsilon,
            "delta": spent.delta,
            "accountant": spent.accountant,
            "unit": pre.loaded.spec.source.table,
        },
    )
    after = ledger.status(pre.source_key, limit=limit)
    return {
        "source": pre.source_key,
        "limit_epsilon": limit,
        "spent_before": before.spent_epsilon,
        "spent_after": after.spent_epsilon,
        "remaining": after.remaining,
        "releases_counted": after.runs,
        "spent_this_run": spent.epsilon,
    }


def _file_name(index: int) -> str:
    return f"table-{index}.parquet"


def _sample(pre: TablesPreflight, state: _State, folder: Path) -> None:
    """Refill each synthetic table's masked columns, scan it for real identifiers, and
    write it; the manifest lists every table in publishing order (parents first)."""
    assert state.result is not None
    manifest = []
    for index, name in enumerate(_publish_order(pre)):
        table = state.masked[name]
        model = state.result.tables[name]
        released = refill(
            model,
            table.masked.plan,
            pre.schemas[name],
            seed=state.seed,
            avoid=table.masked.leak,
            pseudonymizer=table.masked.pseudonymizer,
            generalization=table.masked.generalization,
        )
        released = released[[c for c in pre.schemas[name].column_names if c in released]]
        state.released[name] = released
        state.replay[name] = st._replay(released, table.masked, state.seed)
        path = folder / _file_name(index)
        pq.write_table(pa.Table.from_pandas(released, preserve_index=False), path)
        manifest.append(
            {"table": name, "file": path.name, "rows": len(released), "sha256": file_sha256(path)}
        )
    st.write_json(folder / TABLES_MANIFEST, {"tables": manifest})


def _publish_order(pre: TablesPreflight) -> list[str]:
    """Public tables (parents of private ones only), then private ones from the unit down."""
    private = pre.private
    return [t for t in pre.schemas if t not in private] + private


# --------------------------------------------------------------------------- validate, gate


def _validate_table(
    pre: TablesPreflight, state: _State, name: str, folder: Path
) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Every metric family on one private table's modelled columns (keys left out:
    they are regenerated, not learned)."""
    assert state.result is not None
    table = state.masked[name]
    keys = tb.keep_columns(pre.plans, pre.relationships).get(name, set())
    columns = [c for c in table.schema.column_names if c not in keys]
    schema = table.schema.select(columns)
    held = state.held[name]
    train = table.masked.train
    masked = st.Masked(
        table.masked.plan,
        train[~held][columns].reset_index(drop=True),
        train[held][columns].reset_index(drop=True),
        table.masked.leak,
        table.masked.pseudonymizer,
        table.masked.recognizers,
        table.masked.generalization,
    )
    model = state.result.tables[name][columns]
    sampled = st.Sampled(model, state.released[name], state.replay[name], folder)
    return st.validate(masked, sampled, schema, _spent(state.result), folder, seed=state.seed)


def _integrity_outcome(checks: Mapping[str, Any]) -> RuleOutcome:
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
    """The pack on each private table's metrics, and integrity across them: blocked
    when any table's gate blocks or a foreign key dangles."""
    outcomes: list[RuleOutcome] = [_integrity_outcome(checks)]
    shown: list[dict[str, Any]] = [{"table": None, **outcomes[0].to_dict()}]
    for name, flat in flats.items():
        decision = evaluate_gate(pre.policy, flat)
        for o in decision.outcomes:
            outcomes.append(o)
            shown.append({"table": name, **o.to_dict()})
    blocked = any(not o.passed and o.severity is Severity.BLOCK for o in outcomes)
    status = ReleaseStatus.BLOCKED if blocked else ReleaseStatus.AWAITING_APPROVAL
    return GateDecision(status, tuple(outcomes)), shown


def _tables_section(pre: TablesPreflight, state: _State) -> dict[str, Any]:
    """Per table its synthetic row count; per relationship its cap and distance."""
    assert state.result is not None
    checks = state.result.checks
    return {
        "unit": pre.loaded.spec.source.table,
        "public": list(pre.loaded.spec.source.public),
        "rows": {t: len(f) for t, f in state.released.items()},
        "referential_integrity": checks.get("referential_integrity"),
        "unique_keys": checks.get("unique_keys"),
        "relationships": checks.get("relationships"),
        "quality": checks.get("quality"),
        "ledger": state.result.ledger,
    }


# --------------------------------------------------------------------------- finish


def _finish(
    run: _TablesRun, pre: TablesPreflight, state: _State, clock: Callable[[], str]
) -> RunOutcome:
    spec = pre.loaded.spec
    assert state.result is not None
    flats: dict[str, dict[str, Any]] = {}
    validation: dict[str, Any] = {}
    metrics: list[dict[str, Any]] = []
    with run.stage("validate", {}) as folder:
        for index, name in enumerate(pre.private):
            sub = folder / f"table-{index}"
            sub.mkdir(exist_ok=True)
            found, flat, report = _validate_table(pre, state, name, sub)
            flats[name], validation[name] = flat, report
            metrics += [{"table": name, **m.to_dict()} for m in found]
        st.write_json(folder / "checks.json", json_safe(state.result.checks))
    with run.stage("gate", _policy_names(pre)) as folder:
        decision, shown = _gate(pre, flats, state.result.checks)
        st.write_json(
            folder / "outcomes.json", {"status": decision.status.value, "outcomes": shown}
        )
        record_policy(run.store, pre.policy, actor=run.settings.user)
    release_id = _new_id("rel")
    started = run.started
    expires = (_parse_ts(started) + spec.release.expires_after).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with run.stage("report", {}) as folder:
        report = _report(
            run, pre, state, metrics, validation, decision, shown, release_id, expires, clock
        )
        report_json, report_html = write_report(report, folder)
        write_card(_card(pre, state, report), folder)
    status = _release(run, pre, state, decision, release_id, expires, report_html)
    run.store.finish_run(run.id, status="succeeded", snapshot_id=state.snapshot_id)
    run.audit.append(
        actor=run.settings.user,
        action="run.finished",
        subject=run.id,
        details={"release": release_id, "status": status.value, "mode": RunMode.TRAIN.value},
    )
    return RunOutcome(
        run_id=run.id,
        run_dir=run.dir,
        release_id=release_id,
        status=status,
        report_html=report_html,
        report_json=report_json,
        synthetic_path=run.dir / "sample" / TABLES_MANIFEST,
        rows=sum(len(f) for f in state.released.values()),
        stage_seconds=run.seconds,
        failed_rules=[o.rule_id for o in decision.blocking_failures],
        warnings=[o.rule_id for o in decision.warnings],
        mode=RunMode.TRAIN,
        epsilon_spent=state.result.epsilon,
        model_run=None,
        message=f"{len(state.released)} tables synthesized for unit {spec.source.table}",
    )


def _report(
    run: _TablesRun,
    pre: TablesPreflight,
    state: _State,
    metrics: list[dict[str, Any]],
    validation: dict[str, Any],
    decision: GateDecision,
    shown: list[dict[str, Any]],
    release_id: str,
    expires: str,
    clock: Callable[[], str],
) -> dict[str, Any]:
    spec = pre.loaded.spec
    assert state.result is not None
    return {
        "run": {
            "id": run.id,
            "job": spec.name,
            "requested_by": run.settings.user,
            "started_at": run.started,
            "finished_at": clock(),
            "synthgate_version": __version__,
            "mode": RunMode.TRAIN.value,
            "output": spec.mode.value,
        },
        "provenance": {
            "spec_hash": pre.loaded.spec_hash,
            "source": redact(spec.source.url),
            "table": spec.source.table,
            "tables": list(pre.schemas),
            "snapshot_id": state.snapshot_id,
            "synthesizer": ENGINE,
            "rows_source": {t: len(f) for t, f in state.frames.items()},
            "rows_synthetic": {t: len(f) for t, f in state.released.items()},
            "target": redact(spec.target.url),
            "target_tables": _publish_order(pre),
            "target_mode": spec.target.mode.value,
            "stage_seconds": run.seconds,
        },
        "pii": {
            "inventory": {t: [f.to_dict() for f in found] for t, found in state.findings.items()},
            "actions": {
                t: [a.to_dict() for a in m.masked.plan.actions] for t, m in state.masked.items()
            },
        },
        "privacy": {"spent": _spent(state.result).to_dict(), "budget": state.budget},
        "metrics": metrics,
        "validation": {"tables": validation},
        "multi_table": _tables_section(pre, state),
        "gate": {**_policy_names(pre), "status": decision.status.value, "outcomes": shown},
        "release": {"id": release_id, "status": decision.status.value, "expires_at": expires},
    }


def _card(pre: TablesPreflight, state: _State, report: dict[str, Any]) -> dict[str, Any]:
    """One card for the release, listing every table with its figures."""
    unit = pre.loaded.spec.source.table
    card: dict[str, Any] = build_card(report, state.released[unit], rows_estimate=None)
    card["table"] = {"rows": sum(len(f) for f in state.released.values())}
    card["tables"] = {
        name: build_card(report, frame, rows_estimate=None)["table"]
        for name, frame in state.released.items()
    }
    card["notes"].insert(
        0,
        f"One guarantee for the person: adding or removing one row of {unit} together with "
        "every row that belongs to it through foreign keys; public tables are copied as given.",
    )
    return card


def _release(
    run: _TablesRun,
    pre: TablesPreflight,
    state: _State,
    decision: GateDecision,
    release_id: str,
    expires: str,
    report_html: Path,
) -> ReleaseStatus:
    spec = pre.loaded.spec
    now = utcnow()
    names = _publish_order(pre)
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
            rows=sum(len(f) for f in state.released.values()),
            gate=json.dumps([o.to_dict() for o in decision.outcomes], default=str),
            report_path=str(report_html),
            version=1,
            approvals_required=pre.policy.required_approvals,
            artifact_sha256=file_sha256(run.dir / "sample" / TABLES_MANIFEST),
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
        made={"tables": {t: len(f) for t, f in state.released.items()}},
    )
    status = decision.status
    if status is ReleaseStatus.AWAITING_APPROVAL and pre.policy.auto_approve:
        status = auto_approve(run.store, release_id, policy=pre.policy)
    return status


def _failed(
    run: _TablesRun, pre: TablesPreflight, state: _State, ledger: BudgetLedger, exc: BaseException
) -> None:
    cost = _failure_cost(
        exc,
        ledger,
        run.audit,
        run.settings.user,
        pre.source_key,
        run.id,
        None,
        private=True,
        fit_began=state.fit_began and state.result is None,
    )
    reason = str(exc) if isinstance(exc, SynthgateError) else type(exc).__name__
    if cost:
        reason = f"{reason}; {cost}"
    shutil.rmtree(run.dir / "sample", ignore_errors=True)
    shutil.rmtree(run.dir / "report", ignore_errors=True)
    run.store.finish_run(run.id, status="failed", snapshot_id=state.snapshot_id, error=reason)
    run.audit.append(
        actor=run.settings.user, action="run.failed", subject=run.id, details={"error": reason}
    )
