from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synthgate import __version__
from synthgate.audit import AuditLog
from synthgate.config import LoadedSpec
from synthgate.contracts import FitResult, PrivacyRequest, Sink, Source, Synthesizer, TableSchema
from synthgate.errors import ConfigError, SynthesisError, SynthgateError, redact
from synthgate.pipeline import _stages as st
from synthgate.privacy import BudgetLedger
from synthgate.release import (
    TOKEN_ENV,
    Permission,
    PolicyPack,
    ReleaseStatus,
    auto_approve,
    file_sha256,
    identify,
    load_policy,
    record_policy,
    target_fingerprint,
)
from synthgate.reporting import write_report
from synthgate.settings import Settings
from synthgate.sources import open_sink, open_source, source_key
from synthgate.store import Store, utcnow
from synthgate.store.models import ReleaseRow, RunRow
from synthgate.synth import create_synthesizer

__all__ = ["STAGES", "Preflight", "Progress", "RunOutcome", "preflight", "run_job"]

STAGES = ("extract", "classify", "mask", "synthesize", "sample", "validate", "gate", "report")


class Progress(Protocol):
    def stage_started(self, name: str, index: int, total: int) -> None: ...

    def stage_finished(self, name: str, seconds: float) -> None: ...

    def training_step(self, step: int, total: int, info: dict[str, float]) -> None: ...


class _NoProgress:
    def stage_started(self, name: str, index: int, total: int) -> None:
        return None

    def stage_finished(self, name: str, seconds: float) -> None:
        return None

    def training_step(self, step: int, total: int, info: dict[str, float]) -> None:
        return None


@dataclass
class Preflight:
    """Everything checked before a run exists: nothing is written until it passes."""

    loaded: LoadedSpec
    source: Source
    sink: Sink
    schema: TableSchema
    synthesizer: Synthesizer
    policy: PolicyPack
    pii_policy: PolicyPack
    source_key: str

    def close(self) -> None:
        self.source.close()
        self.sink.close()


def _check_columns(spec_path: str, names: list[str], known: list[str], problems: list[str]) -> None:
    for name in names:
        if name not in known:
            problems.append(
                f"{spec_path}: no column {name!r} in the source table; columns: {', '.join(known)}"
            )


def preflight(loaded: LoadedSpec) -> Preflight:
    """Resolve plugins, open the source and sink, check names — or raise."""
    spec = loaded.spec
    synthesizer = create_synthesizer(spec.synthesis.synthesizer, spec.synthesis.params)
    policy = load_policy(spec.release.policy)
    pii_policy = policy if spec.pii_policy == spec.release.policy else load_policy(spec.pii_policy)
    source = open_source(spec.source.url)
    try:
        schema = source.schema(spec.source.table)
        known = schema.column_names
        problems: list[str] = []
        if spec.source.columns:
            _check_columns("source.columns", spec.source.columns, known, problems)
            known = [c for c in known if c in spec.source.columns]
        _check_columns("pii.columns", list(spec.pii.columns), known, problems)
        _check_columns("synthesis.columns", list(spec.synthesis.columns), known, problems)
        if spec.validation.target_column:
            _check_columns(
                "validation.target_column", [spec.validation.target_column], known, problems
            )
        _check_columns(
            "validation.protected_attributes", spec.validation.protected_attributes, known, problems
        )
        if spec.synthesis.rebalance:
            _check_columns(
                "synthesis.rebalance.column", [spec.synthesis.rebalance.column], known, problems
            )
            if not hasattr(synthesizer, "released_domain"):
                problems.append(
                    f"synthesis.rebalance: {synthesizer.name} cannot sample conditionally; "
                    "use synthesizer dp-ctgan"
                )
        if problems:
            raise ConfigError(
                f"job spec {loaded.path} does not match the source table", problems=problems
            )
        sink = open_sink(spec.target.url)
        sink.check_writable(spec.target_table, mode=spec.target.mode)
    except BaseException:
        source.close()
        raise
    return Preflight(
        loaded,
        source,
        sink,
        schema,
        synthesizer,
        policy,
        pii_policy,
        source_key(spec.source.url, spec.source.table),
    )


@dataclass
class RunOutcome:
    run_id: str
    run_dir: Path
    release_id: str | None
    status: ReleaseStatus | None
    report_html: Path | None
    report_json: Path | None
    synthetic_path: Path | None
    rows: int
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failed_rules: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.status is ReleaseStatus.BLOCKED:
            return 3
        if self.status is ReleaseStatus.AWAITING_APPROVAL:
            return 4
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "release_id": self.release_id,
            "status": self.status.value if self.status else None,
            "report_html": str(self.report_html) if self.report_html else None,
            "report_json": str(self.report_json) if self.report_json else None,
            "synthetic_path": str(self.synthetic_path) if self.synthetic_path else None,
            "rows": self.rows,
            "stage_seconds": self.stage_seconds,
            "failed_rules": self.failed_rules,
            "warnings": self.warnings,
            "exit_code": self.exit_code,
        }


def _new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"


class _Run:
    def __init__(
        self, settings: Settings, store: Store, audit: AuditLog, run_id: str, progress: Progress
    ):
        self.settings = settings
        self.store = store
        self.audit = audit
        self.id = run_id
        self.dir = settings.runs_dir / run_id
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def folder(self, stage: str) -> Path:
        path = self.dir / stage
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def stage(self, name: str, summary: dict[str, Any]) -> Iterator[Path]:
        """Time a stage, record it in the store and the audit log."""
        self.progress.stage_started(name, STAGES.index(name) + 1, len(STAGES))
        started = utcnow()
        t0 = time.perf_counter()
        folder = self.folder(name)
        try:
            yield folder
        except BaseException as exc:
            seconds = time.perf_counter() - t0
            self.store.record_stage(
                self.id,
                name,
                status="failed",
                started_at=started,
                seconds=seconds,
                artifact=str(folder),
                summary={"error": type(exc).__name__},
            )
            raise
        seconds = time.perf_counter() - t0
        self.seconds[name] = round(seconds, 3)
        self.store.record_stage(
            self.id,
            name,
            status="succeeded",
            started_at=started,
            seconds=seconds,
            artifact=str(folder),
            summary=summary,
        )
        self.audit.append(
            actor=self.settings.user,
            action="stage.finished",
            subject=self.id,
            details={"stage": name, "seconds": round(seconds, 3), **summary},
        )
        self.progress.stage_finished(name, seconds)


def run_job(
    loaded: LoadedSpec,
    settings: Settings,
    *,
    progress: Progress | None = None,
    store: Store | None = None,
    clock: Callable[[], str] = utcnow,
) -> RunOutcome:
    """Run one job end to end. Raises :class:`SynthgateError` on failure."""
    spec = loaded.spec
    store = store or Store(settings.store_url)
    # once the store has users, the requester proves who they are (four-eyes relies on it)
    identify(store, settings.user, os.environ.get(TOKEN_ENV), Permission.RUN)
    pre = preflight(loaded)
    budget_limit = pre.policy.budget.epsilon_per_source
    ledger = BudgetLedger(store)
    if pre.synthesizer.private:
        # stop before any real row is read when the source's budget cannot cover the run
        try:
            ledger.require(pre.source_key, spec.synthesis.privacy.epsilon, limit=budget_limit)
        except BaseException:
            pre.close()
            raise
    audit = AuditLog(store)
    run = _Run(settings, store, audit, _new_id("run"), progress or _NoProgress())
    seed = spec.synthesis.seed if spec.synthesis.seed is not None else secrets.randbits(32)
    started = clock()
    store.create_run(
        RunRow(
            id=run.id,
            job_name=spec.name,
            spec_hash=loaded.spec_hash,
            source_key=pre.source_key,
            snapshot_id=None,
            synthesizer=pre.synthesizer.name,
            status="running",
            requested_by=settings.user,
            started_at=started,
            finished_at=None,
            error=None,
            run_dir=str(run.dir),
            spec_path=str(loaded.path.resolve()) if loaded.path else None,
        )
    )
    audit.append(
        actor=settings.user,
        action="run.started",
        subject=run.id,
        details={
            "job": spec.name,
            "spec_hash": loaded.spec_hash,
            "source": pre.source_key,
            "synthesizer": pre.synthesizer.name,
        },
    )
    snapshot_id: str | None = None
    try:
        with run.stage("extract", {}) as folder:
            data = st.extract(pre.source, spec, pre.schema, folder)
            snapshot_id = data.snapshot_id
        with run.stage("classify", {}) as folder:
            findings = st.classify(data, spec, folder, seed=seed)
        audit.append(
            actor=settings.user,
            action="pii.classified",
            subject=run.id,
            details={"columns": {f.column: f.entity for f in findings if f.entity}},
        )
        with run.stage("mask", {}) as folder:
            masked = st.mask(data, findings, pre.pii_policy, spec, folder, seed=seed)
        schema = st.model_schema(data, masked, spec)
        privacy = PrivacyRequest(
            epsilon=spec.synthesis.privacy.epsilon,
            delta=spec.synthesis.privacy.resolve_delta(len(masked.train)),
        )
        with run.stage("synthesize", {"synthesizer": pre.synthesizer.name}) as folder:
            fit = st.synthesize(
                pre.synthesizer,
                masked,
                schema,
                privacy,
                folder,
                seed=seed,
                progress=run.progress.training_step,
            )
        budget = _spend_budget(
            ledger, audit, settings.user, pre.source_key, run.id, fit, budget_limit
        )
        rows = spec.synthesis.rows or len(data.frame)
        with run.stage("sample", {"rows": rows}) as folder:
            sampled = st.sample(
                pre.synthesizer,
                data,
                masked,
                rows,
                folder,
                seed=seed,
                rebalance=spec.synthesis.rebalance,
            )
        with run.stage("validate", {}) as folder:
            metrics, flat, validation = st.validate(
                masked,
                sampled,
                schema,
                fit.privacy,
                folder,
                spec=spec,
                source_schema=data.schema,
                seed=seed,
            )
        with run.stage("gate", {"policy": pre.policy.name}) as folder:
            decision = st.gate(pre.policy, flat, folder)
            record_policy(store, pre.policy, actor=settings.user)
        release_id = _new_id("rel")
        expires = (_parse_ts(started) + spec.release.expires_after).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        with run.stage("report", {}) as folder:
            report = {
                "run": {
                    "id": run.id,
                    "job": spec.name,
                    "requested_by": settings.user,
                    "started_at": started,
                    "finished_at": clock(),
                    "synthgate_version": __version__,
                },
                "provenance": {
                    "spec_hash": loaded.spec_hash,
                    "source": redact(spec.source.url),
                    "table": spec.source.table,
                    "snapshot_id": snapshot_id,
                    "synthesizer": pre.synthesizer.name,
                    "params": {
                        **dict(fit.params),
                        **({} if pre.synthesizer.private else {"seed": seed}),
                    },
                    "rows_source": len(data.frame),
                    "rows_train": len(masked.train),
                    "rows_holdout": len(masked.holdout),
                    "rows_synthetic": len(sampled.release),
                    "target": redact(spec.target.url),
                    "target_table": spec.target_table,
                    "target_mode": spec.target.mode.value,
                    "stage_seconds": run.seconds,
                },
                "pii": {
                    "inventory": [f.to_dict() for f in findings],
                    "actions": [a.to_dict() for a in masked.plan.actions],
                },
                "privacy": {"spent": fit.privacy.to_dict(), "budget": budget},
                "metrics": [m.to_dict() for m in metrics],
                "validation": validation,
                "gate": {
                    "policy": pre.policy.name,
                    "status": decision.status.value,
                    "outcomes": [o.to_dict() for o in decision.outcomes],
                },
                "release": {
                    "id": release_id,
                    "status": decision.status.value,
                    "expires_at": expires,
                },
            }
            report_json, report_html = write_report(report, folder)
        now = clock()
        store.add_release(
            ReleaseRow(
                id=release_id,
                run_id=run.id,
                job_name=spec.name,
                source_key=pre.source_key,
                status=decision.status.value,
                requested_by=settings.user,
                created_at=now,
                updated_at=now,
                expires_at=expires,
                policy=pre.policy.name,
                target_url=redact(spec.target.url),
                target_table=spec.target_table,
                target_mode=spec.target.mode.value,
                rows=len(sampled.release),
                gate=json.dumps([o.to_dict() for o in decision.outcomes], default=str),
                report_path=str(report_html),
                version=1,
                approvals_required=pre.policy.required_approvals,
                artifact_sha256=file_sha256(sampled.path),
                target_fingerprint=target_fingerprint(
                    spec.target.url, spec.target_table, spec.target.mode.value
                ),
            )
        )
        audit.append(
            actor=settings.user,
            action="gate.evaluated",
            subject=release_id,
            details={
                "run": run.id,
                "policy": pre.policy.name,
                "status": decision.status.value,
                "failed": [o.rule_id for o in decision.outcomes if not o.passed],
                "outcomes": [
                    {k: v for k, v in o.to_dict().items() if k != "reason"}
                    for o in decision.outcomes
                ],
            },
        )
        audit.append(
            actor=settings.user,
            action="release.created",
            subject=release_id,
            details={"run": run.id, "status": decision.status.value, "rows": len(sampled.release)},
        )
        status = decision.status
        if status is ReleaseStatus.AWAITING_APPROVAL and pre.policy.auto_approve:
            status = auto_approve(store, release_id, policy=pre.policy)
        store.finish_run(run.id, status="succeeded", snapshot_id=snapshot_id)
        audit.append(
            actor=settings.user,
            action="run.finished",
            subject=run.id,
            details={"release": release_id, "status": status.value},
        )
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, SynthgateError) else type(exc).__name__
        if isinstance(exc, KeyboardInterrupt):
            reason = "interrupted"
        # a failed run leaves no release and no synthetic table behind
        shutil.rmtree(run.dir / "sample", ignore_errors=True)
        shutil.rmtree(run.dir / "report", ignore_errors=True)
        store.finish_run(run.id, status="failed", snapshot_id=snapshot_id, error=reason)
        audit.append(
            actor=settings.user, action="run.failed", subject=run.id, details={"error": reason}
        )
        if isinstance(exc, SynthgateError | KeyboardInterrupt):
            raise
        raise SynthesisError(
            f"run {run.id} failed with an internal error ({type(exc).__name__})",
            hint="rerun with --debug for the traceback",
        ) from exc
    finally:
        pre.close()
    return RunOutcome(
        run_id=run.id,
        run_dir=run.dir,
        release_id=release_id,
        status=status,
        report_html=report_html,
        report_json=report_json,
        synthetic_path=sampled.path,
        rows=len(sampled.release),
        stage_seconds=run.seconds,
        failed_rules=[o.rule_id for o in decision.blocking_failures],
        warnings=[o.rule_id for o in decision.warnings],
    )


def _spend_budget(
    ledger: BudgetLedger,
    audit: AuditLog,
    actor: str,
    source: str,
    run_id: str,
    fit: FitResult,
    limit: float,
) -> dict[str, Any]:
    """Record a private fit's ε against its source; return the budget figures."""
    before = ledger.status(source, limit=limit)
    spent = fit.privacy
    if spent.private and spent.epsilon is not None and spent.delta is not None:
        ledger.record(
            source,
            run_id,
            epsilon=spent.epsilon,
            delta=spent.delta,
            accountant=spent.accountant or "prv",
            stages=spent.stages,
        )
        audit.append(
            actor=actor,
            action="budget.spent",
            subject=run_id,
            details={
                "source": source,
                "epsilon": spent.epsilon,
                "delta": spent.delta,
                "accountant": spent.accountant,
            },
        )
    after = ledger.status(source, limit=limit)
    return {
        "source": source,
        "limit_epsilon": limit,
        "spent_before": before.spent_epsilon,
        "spent_after": after.spent_epsilon,
        "remaining": after.remaining,
        "releases_counted": after.runs,
    }


def _parse_ts(ts: str) -> Any:
    from datetime import UTC, datetime

    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
