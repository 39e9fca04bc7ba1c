from __future__ import annotations

import enum
import json
import logging
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import select

from synthgate import __version__
from synthgate.audit import AuditLog
from synthgate.config import JobSpec, LoadedSpec, size_problems
from synthgate.contracts import (
    FitResult,
    MetricResult,
    PrivacyRequest,
    PrivacySpent,
    Sink,
    Source,
    Synthesizer,
    TableSchema,
)
from synthgate.errors import ConfigError, SynthesisError, SynthgateError, redact
from synthgate.logs import log_event
from synthgate.pii import ColumnFinding, Pseudonymizer
from synthgate.pipeline import _stages as st
from synthgate.pipeline._graph import Artifacts, execute
from synthgate.pipeline._records import policy_names, record_release_made, record_run_started
from synthgate.pipeline._resume import (
    History,
    SavedModel,
    abandoned_runs,
    budget_charged,
    load_history,
    model_hash,
)
from synthgate.privacy import (
    BudgetLedger,
    BudgetLimits,
    BudgetStatus,
    resolve_named_source,
    source_limits,
)
from synthgate.release import (
    GateDecision,
    Permission,
    PolicyPack,
    ReleaseStatus,
    ResolvedPolicy,
    auto_approve,
    file_sha256,
    identify,
    load_policy,
    resolve_policy,
    target_fingerprint,
    token_from_env,
)
from synthgate.settings import Settings
from synthgate.sources import open_sink, open_source, source_key
from synthgate.store import JobLocked, Store, job_lock, utcnow
from synthgate.store.models import ReleaseRow, RunRow, StageRow
from synthgate.synth import AUTO, choose_engine, create_synthesizer
from synthgate.synth.constraints import constraint_columns

__all__ = [
    "EXIT_NOTHING_TO_DO",
    "STAGES",
    "DryRun",
    "Preflight",
    "Progress",
    "RunMode",
    "RunOutcome",
    "dry_run",
    "preflight",
    "run_job",
    "skipped_run",
]

STAGES = ("extract", "classify", "mask", "synthesize", "sample", "validate", "gate", "report")


class Progress(Protocol):
    """What a run tells its caller as it goes (the command line draws it on a terminal)."""

    def stage_started(self, name: str, index: int, total: int) -> None: ...

    def stage_finished(self, name: str, seconds: float) -> None: ...

    def training_step(self, step: int, total: int, info: dict[str, float]) -> None:
        """A synthesizer's fit: step *step* of *total*; *info* may hold ``epsilon``
        (spent so far) and ``loss_*`` figures where the engine can tell them."""

    def stage_step(self, name: str, step: int, total: int, label: str) -> None:
        """Stage *name* has done *step* of its *total* sub-steps and starts *label*
        (validation: one step per metric)."""


class _NoProgress:
    def stage_started(self, name: str, index: int, total: int) -> None:
        return None

    def stage_finished(self, name: str, seconds: float) -> None:
        return None

    def training_step(self, step: int, total: int, info: dict[str, float]) -> None:
        return None

    def stage_step(self, name: str, step: int, total: int, label: str) -> None:
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
    pseudonymizer: Pseudonymizer | None  # the key, loaded once, when the job may use it
    engine_choice: str | None = None  # why `synthesizer: auto` chose its engine
    #: where the release pack comes from: installed, or a registered name and version
    policy_source: ResolvedPolicy | None = None

    def close(self) -> None:
        self.source.close()
        self.sink.close()


def _check_columns(spec_path: str, names: list[str], known: list[str], problems: list[str]) -> None:
    for name in names:
        if name not in known:
            problems.append(
                f"{spec_path}: no column {name!r} in the source table; columns: {', '.join(known)}"
            )


def _check_spec_columns(
    spec: JobSpec, schema: TableSchema, synthesizer: Synthesizer, problems: list[str]
) -> None:
    """Every column the spec names exists in the source table."""
    known = schema.column_names
    if spec.source.columns:
        _check_columns("source.columns", spec.source.columns, known, problems)
        known = [c for c in known if c in spec.source.columns]
    _check_columns("pii.columns", list(spec.pii.columns), known, problems)
    _check_columns("synthesis.columns", list(spec.synthesis.columns), known, problems)
    for name, hint in spec.synthesis.columns.items():
        kind = hint.type or (schema.column(name).type if name in known else None)
        if hint.dated and kind is not None and not kind.is_temporal:
            problems.append(
                f"synthesis.columns.{name}: min/max are dates but the column is {kind.value}; "
                "give numbers"
            )
    for i, constraint in enumerate(spec.synthesis.constraints):
        where = f"synthesis.constraints[{i}]"
        _check_columns(where, constraint_columns(constraint), known, problems)
    if spec.validation.target_column:
        _check_columns("validation.target_column", [spec.validation.target_column], known, problems)
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


_T = TypeVar("_T")


def _attempt(problems: list[str], where: str, check: Callable[[], _T]) -> _T | None:
    """*check*'s result, or None with its problem added to *problems* when the spec is
    at fault (exit code 2); any other error (worth a retry) is raised as it is."""
    try:
        return check()
    except SynthgateError as exc:
        if exc.exit_code != ConfigError.exit_code:
            raise
        problems.append(f"{where}: {exc}")
        problems.extend(f"{where}: {p}" for p in getattr(exc, "problems", ()))
        return None


def _writable_sink(spec: JobSpec) -> Sink:
    sink = open_sink(spec.target.url)
    try:
        sink.check_writable(spec.target_table, mode=spec.target.mode)
    except BaseException:
        sink.close()
        raise
    return sink


def _spec_error(loaded: LoadedSpec, problems: list[str]) -> ConfigError:
    return ConfigError(
        f"job spec {loaded.path} does not fit its source, target or policies "
        f"({len(problems)} problem(s))",
        problems=problems,
    )


Packs = tuple[ResolvedPolicy | None, PolicyPack | None, PolicyPack | None, Pseudonymizer | None]


def check_packs(spec: JobSpec, store: Store | None, problems: list[str]) -> Packs:
    """The release pack (as resolved, and its pack), the PII pack and the pseudonym key,
    each None with its problem added to *problems*; checked before any row is read."""
    resolved = _attempt(
        problems, "release.policy", lambda: resolve_policy(spec.release.policy, store)
    )
    policy = resolved.pack if resolved is not None else None
    pii_policy = (
        policy
        if spec.pii_policy == spec.release.policy
        else _attempt(problems, "pii.policy", lambda: load_policy(spec.pii_policy, store=store))
    )
    pseudonymizer = None
    if pii_policy is not None:
        pseudonymizer = _attempt(problems, "pii", lambda: st.require_pii_key(spec, pii_policy))
    return resolved, policy, pii_policy, pseudonymizer


def preflight(loaded: LoadedSpec, store: Store | None = None) -> Preflight:
    """Resolve plugins, open the source and sink, check names — or raise one ConfigError
    that lists every problem found. An error worth retrying (a database that cannot be
    reached) is raised as it is.

    The packs must be installed or registered in *store* (a pack file only when its
    sha256 is that of a registered version); without a store only installed packs are."""
    spec = loaded.spec
    auto = spec.synthesis.synthesizer == AUTO
    synthesizer = (
        None if auto else create_synthesizer(spec.synthesis.synthesizer, spec.synthesis.params)
    )
    problems: list[str] = []
    resolved, policy, pii_policy, pseudonymizer = check_packs(spec, store, problems)
    source = _attempt(problems, "source.url", lambda: open_source(spec.source.url))
    sink: Sink | None = None
    try:
        sink = _attempt(problems, "target", lambda: _writable_sink(spec))
        schema = (
            _attempt(problems, "source.table", lambda: source.schema(spec.source.table))
            if source is not None
            else None
        )
        if schema is None:
            raise _spec_error(loaded, problems)
        choice = (
            choose_engine(
                schema,
                epsilon=spec.synthesis.privacy.epsilon,
                target=spec.validation.target_column,
            )
            if auto
            else None
        )
        if synthesizer is None:
            assert choice is not None
            synthesizer = create_synthesizer(choice.synthesizer, choice.params)
        _check_spec_columns(spec, schema, synthesizer, problems)
        problems.extend(size_problems(spec, len(spec.source.columns or schema.columns)))
        if problems:
            raise _spec_error(loaded, problems)
    except BaseException:
        for opened in (source, sink):
            if opened is not None:
                opened.close()
        raise
    assert source is not None
    assert sink is not None
    assert policy is not None
    assert pii_policy is not None
    return Preflight(
        loaded,
        source,
        sink,
        schema,
        synthesizer,
        policy,
        pii_policy,
        source_key(spec.source.url, spec.source.table),
        pseudonymizer,
        choice.reason if choice is not None else None,
        resolved,
    )


@dataclass
class DryRun:
    """What :func:`dry_run` checked; close it to close the source and target."""

    preflight: Preflight
    #: the source's budget before the run (a training run asks spec ε on top);
    #: None when the run charges none (a non-private synthesizer, a masked copy)
    budget: BudgetStatus | None

    def close(self) -> None:
        self.preflight.close()


def dry_run(loaded: LoadedSpec, settings: Settings, *, store: Store | None = None) -> DryRun:
    """Everything a run checks before it reads a row, writing nothing: the requester's
    right to run, a registered source's name, the source table, target, packs and
    columns (:func:`preflight`), and the source's privacy budget. The budget check is
    a training run's: a spec that passes here is never refused for budget (exit 5) by
    :func:`run_job`, which may spend less (re-using a saved model)."""
    store = store or Store(settings.store_url)
    identify(store, settings.user, token_from_env(), Permission.RUN)
    loaded = resolve_named_source(loaded, store)
    pre = preflight(loaded, store)
    try:
        spec = loaded.spec
        status = None
        if pre.synthesizer.private and not spec.masked_copy:
            limits = source_limits(store, pre.source_key, pre.policy)
            status = BudgetLedger(store).require(
                pre.source_key,
                spec.synthesis.privacy.epsilon,
                limit=limits.epsilon,
                delta=_delta_bound(spec),
                delta_limit=limits.delta,
            )
    except BaseException:
        pre.close()
        raise
    return DryRun(pre, status)


EXIT_NOTHING_TO_DO = 99
#: the synthesizer name runs and reports show for a masked copy (no synthesizer ran)
MASKED_COPY = "masked-copy"
_NOT_PRIVATE = PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)


class RunMode(enum.StrEnum):
    """How a run got its model."""

    TRAIN = "train"  # trained on the snapshot (spends budget when private)
    RESUME = "resume"  # continued a run whose process died, re-using finished stages
    RESAMPLE = "resample"  # sampled from the saved generator of an earlier run (no budget)
    SKIP = "skip"  # source snapshot and spec unchanged since the last success: nothing to do
    # job mode masked-copy: the real rows with the masking plan applied; no model, no budget
    MASKED_COPY = "masked-copy"


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
    mode: RunMode = RunMode.TRAIN
    epsilon_spent: float | None = None  # charged to the source's budget by this run
    model_run: str | None = None  # the run whose model was re-used (resample, resume)
    message: str | None = None

    @property
    def exit_code(self) -> int:
        if self.mode is RunMode.SKIP:
            return EXIT_NOTHING_TO_DO
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
            "mode": self.mode.value,
            "epsilon_spent": self.epsilon_spent,
            "model_run": self.model_run,
            "message": self.message,
            "exit_code": self.exit_code,
        }


def _new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"


_STAGE_EVENTS = {
    "running": "stage.started",
    "succeeded": "stage.finished",
    "failed": "stage.failed",
    "skipped": "stage.skipped",
}
_TIMED = {"succeeded", "failed"}  # the states whose log event carries a duration


class _Run:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        audit: AuditLog,
        run_id: str,
        progress: Progress,
        job: str,
    ):
        self.settings = settings
        self.store = store
        self.audit = audit
        self.id = run_id
        self.job = job
        self.dir = settings.runs_dir / run_id
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def folder(self, stage: str) -> Path:
        path = self.dir / stage
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resumed(self, finished: list[str]) -> None:
        """This run carries on a run whose process died (*finished*: its stages that
        had succeeded): the audit event and the log line."""
        details = {"job": self.job, "finished_stages": finished}
        self.audit.append(
            actor=self.settings.user, action="run.resumed", subject=self.id, details=details
        )
        log_event("run.resumed", job=self.job, run_id=self.id, finished_stages=finished)

    def failed(self, reason: str, snapshot_id: str | None) -> None:
        """Record the run failed; it leaves no release and no synthetic table behind."""
        shutil.rmtree(self.dir / "sample", ignore_errors=True)
        shutil.rmtree(self.dir / "report", ignore_errors=True)
        self.store.finish_run(self.id, status="failed", snapshot_id=snapshot_id, error=reason)
        self.audit.append(
            actor=self.settings.user,
            action="run.failed",
            subject=self.id,
            details={"error": reason},
        )

    def reused(self, name: str, position: tuple[int, int]) -> None:
        """A finished node of a resumed run, re-read from its folder: progress only
        (its record stays as the run that made it left it)."""
        self.progress.stage_started(name, *position)
        log_event("stage.reused", job=self.job, run_id=self.id, stage=name)
        self.progress.stage_finished(name, 0.0)

    def skip(
        self, name: str, summary: dict[str, Any], *, position: tuple[int, int] | None = None
    ) -> None:
        """Record a stage that does not apply to this run (status ``skipped``)."""
        self.progress.stage_started(name, *(position or (STAGES.index(name) + 1, len(STAGES))))
        self._record(name, "skipped", utcnow(), 0.0, None, summary)
        self.audit.append(
            actor=self.settings.user,
            action="stage.skipped",
            subject=self.id,
            details={"stage": name, **summary},
        )
        self.progress.stage_finished(name, 0.0)

    def _record(
        self,
        name: str,
        status: str,
        started: str,
        seconds: float | None,
        artifact: str | None,
        summary: dict[str, Any],
        *,
        error: str | None = None,
    ) -> None:
        """A stage's state in the store, and the matching log event."""
        self.store.record_stage(
            self.id,
            name,
            status=status,
            started_at=started,
            seconds=seconds,
            artifact=artifact,
            summary=summary,
        )
        timed = {"duration": round(seconds, 3)} if status in _TIMED and seconds is not None else {}
        log_event(
            _STAGE_EVENTS[status],
            level=logging.WARNING if status == "failed" else logging.INFO,
            job=self.job,
            run_id=self.id,
            stage=name,
            **timed,
            **({"error": error} if error else {}),
        )

    @contextmanager
    def stage(
        self,
        name: str,
        summary: dict[str, Any],
        *,
        position: tuple[int, int] | None = None,
        folder: str | None = None,
    ) -> Iterator[Path]:
        """Time a stage, record it in the store (running, then its outcome) and the
        audit log. *summary* may be filled in inside the block. A graph's node gives
        its *position* among the nodes and its *folder*."""
        self.progress.stage_started(name, *(position or (STAGES.index(name) + 1, len(STAGES))))
        started = utcnow()
        t0 = time.perf_counter()
        path = self.folder(folder or name)
        self._record(name, "running", started, None, str(path), summary)
        try:
            yield path
        except BaseException as exc:
            error = type(exc).__name__
            seconds = time.perf_counter() - t0
            self._record(name, "failed", started, seconds, str(path), {"error": error}, error=error)
            raise
        seconds = time.perf_counter() - t0
        self.seconds[name] = round(seconds, 3)
        self._record(name, "succeeded", started, seconds, str(path), summary)
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
    force: bool = False,
) -> RunOutcome:
    """Run one job end to end, holding the job's lock. Raises :class:`SynthgateError`
    on failure and :class:`JobLocked` when another process runs the same job.

    Incremental: when the source snapshot and the spec are unchanged since the
    job's last successful run, the run stops after reading (``RunMode.SKIP``,
    exit 99); when only sampling parameters changed, it re-samples the saved
    generator without spending budget; a run whose process died is resumed.
    ``force`` retrains in every case.
    """
    store = store or Store(settings.store_url)
    # once the store has users, the requester proves who they are (four-eyes relies on it)
    identify(store, settings.user, token_from_env(), Permission.RUN)
    loaded = resolve_named_source(loaded, store)  # source: {name: …} → its URL and table
    t0 = time.perf_counter()
    try:
        with job_lock(loaded.spec.name, store, settings.home):
            outcome = _run_locked_any(
                loaded, settings, store, progress or _NoProgress(), clock, force
            )
    except SynthgateError as exc:
        log_event(
            "run.locked" if isinstance(exc, JobLocked) else "run.failed",
            # the command line prints the error itself; the event is for JSON log collectors
            job=loaded.spec.name,
            error=str(exc),
            exit_code=exc.exit_code,
            duration=round(time.perf_counter() - t0, 3),
        )
        raise
    log_event(
        "run.finished",
        job=loaded.spec.name,
        run_id=outcome.run_id,
        mode=outcome.mode.value,
        status=outcome.status.value if outcome.status else None,
        rows=outcome.rows,
        epsilon_spent=outcome.epsilon_spent,
        exit_code=outcome.exit_code,
        duration=round(time.perf_counter() - t0, 3),
    )
    return outcome


def _run_locked_any(
    loaded: LoadedSpec,
    settings: Settings,
    store: Store,
    progress: Progress,
    clock: Callable[[], str],
    force: bool,
) -> RunOutcome:
    """A multi-table job (``source.tables``) runs its graph of nodes per table; one
    table, the one-table graph."""
    if loaded.spec.multi_table:
        from synthgate.pipeline._multi import run_tables

        return run_tables(loaded, settings, store, progress, clock, force)
    return _run_locked(loaded, settings, store, progress, clock, force)


def _record_refused(
    store: Store,
    loaded: LoadedSpec,
    settings: Settings,
    clock: Callable[[], str],
    exc: SynthgateError,
    pre: Preflight | None = None,
) -> None:
    """A run refused before it started (its configuration, the source's privacy budget):
    a failed run without stages and a ``run.refused`` event, so that every attempt is
    listed. Its folder is never made; no row was read into it."""
    if isinstance(exc, JobLocked):  # another process runs the job: not an attempt of its own
        return
    spec = loaded.spec
    if spec.masked_copy:
        engine = MASKED_COPY
    elif pre is not None:
        engine = pre.synthesizer.name
    else:
        engine = spec.synthesis.synthesizer
    run_id = _new_id("run")
    now = clock()
    problems = [str(p) for p in getattr(exc, "problems", ())]
    reason = "\n".join([str(exc), *problems])  # the first line is the error's headline
    with suppress(SynthgateError):  # the store failing too: the first error is the one to tell
        store.create_run(
            RunRow(
                id=run_id,
                job_name=spec.name,
                spec_hash=loaded.spec_hash,
                source_key=(
                    pre.source_key
                    if pre is not None
                    else f"{redact(spec.source.url)}#{spec.source.table}"
                ),
                snapshot_id=None,
                synthesizer=engine,
                status="failed",
                requested_by=settings.user,
                started_at=now,
                finished_at=now,
                error=reason,
                run_dir=str(settings.runs_dir / run_id),
                spec_path=str(loaded.path.resolve()) if loaded.path else None,
            )
        )
        AuditLog(store).append(
            actor=settings.user,
            action="run.refused",
            subject=run_id,
            details={
                "job": spec.name,
                "error": str(exc),
                "problems": problems,
                "exit_code": exc.exit_code,
            },
        )


def _abandon(store: Store, audit: AuditLog, actor: str, run_id: str, reason: str) -> None:
    store.finish_run(run_id, status="failed", error=reason)
    audit.append(actor=actor, action="run.failed", subject=run_id, details={"error": reason})
    run = store.get_run(run_id)
    if run is not None:  # its reservation: charged if its fit may have run, else released
        _close_reservation(
            BudgetLedger(store),
            audit,
            actor,
            run.source_key,
            run_id,
            charge=_fit_started(store, run_id),
        )


@dataclass
class _Job:
    """One one-table run as its stages share it: what preflight found, and what the
    run has learnt so far (its folder, snapshot, privacy request, whether a fit began)."""

    loaded: LoadedSpec
    settings: Settings
    store: Store
    audit: AuditLog
    pre: Preflight
    clock: Callable[[], str]
    limits: BudgetLimits
    ledger: BudgetLedger
    mhash: str
    copy: bool
    private: bool
    loader: Callable[..., Synthesizer] | None
    run: _Run | None = None
    started: str = ""
    snapshot_id: str | None = None
    privacy: PrivacyRequest | None = None  # known once the training rows are
    fit_began: bool = False  # by this process: DP mechanisms may have read rows

    @property
    def spec(self) -> JobSpec:
        return self.loaded.spec

    @property
    def synthesizer_name(self) -> str:
        return MASKED_COPY if self.copy else self.pre.synthesizer.name

    @property
    def user(self) -> str:
        return self.settings.user

    @property
    def the_run(self) -> _Run:
        assert self.run is not None
        return self.run


@dataclass
class _Prior:
    """What earlier runs of the job leave this one: its history, a dead run to resume,
    the models it may re-use, and whether the budget was checked before reading."""

    history: History
    stale: RunRow | None
    resume_model: SavedModel | None
    prior_model: SavedModel | None
    budget_checked: bool


@dataclass
class _Made:
    """The synthesize and sample stages' results (or the masked copy's)."""

    fit: FitResult
    budget: dict[str, Any]
    epsilon_spent: float | None
    sampled: st.Sampled
    rows_estimate: int | None  # the engine's DP row count, for the release card


def _run_locked(
    loaded: LoadedSpec,
    settings: Settings,
    store: Store,
    progress: Progress,
    clock: Callable[[], str],
    force: bool,
) -> RunOutcome:
    """One table's run: preflight, the job's history, then its graph of stage nodes
    (:mod:`synthgate.pipeline._table_nodes`) and the release."""
    from synthgate.pipeline._table_nodes import Skipped, one_table_graph

    try:
        pre = preflight(loaded, store)
    except SynthgateError as exc:
        _record_refused(store, loaded, settings, clock, exc)
        raise
    job = _job_of(loaded, settings, store, pre, clock)
    try:
        prior = _prior_of(job, force)
    except BaseException as exc:
        pre.close()
        if isinstance(exc, SynthgateError):
            _record_refused(store, loaded, settings, clock, exc, pre)
        raise
    _open_run(job, prior, progress)
    run = job.the_run
    art = Artifacts()
    try:
        if prior.budget_checked:  # reserved under the source's lock before any row is read
            _reserve_for(job)
        try:
            execute(one_table_graph(job, prior, force), run, art, run.folder)
        except Skipped:
            return _skipped(job, prior.history.last_ok, RunMode.SKIP)
        status = _release_made(job, art)
        store.finish_run(run.id, status="succeeded", snapshot_id=job.snapshot_id)
        audit_details = {
            "release": art["release"][0],
            "status": status.value,
            "mode": art["mode"].value,
        }
        job.audit.append(
            actor=settings.user, action="run.finished", subject=run.id, details=audit_details
        )
    except BaseException as exc:
        raised = _run_failed(job, exc)
        if raised is exc:
            raise
        raise raised from exc
    finally:
        pre.close()
    return _outcome(job, art, status)


def _release_made(job: _Job, art: Artifacts) -> ReleaseStatus:
    """The run's release: made now, or the one its dead process had made."""
    release_id, expires, existing = art["release"]
    if existing is not None:
        return ReleaseStatus(existing.status)
    return _new_release(
        job, release_id, expires, art["sampled"], art["decision"], art["report_html"]
    )


def _outcome(job: _Job, art: Artifacts, status: ReleaseStatus) -> RunOutcome:
    run, mode, decision = job.the_run, art["mode"], art["decision"]
    model_from = art["model_from"]
    model_run = model_from.run_id if model_from is not None else None
    return RunOutcome(
        run_id=run.id,
        run_dir=run.dir,
        release_id=art["release"][0],
        status=status,
        report_html=art["report_html"],
        report_json=art["report_json"],
        synthetic_path=art["sampled"].path,
        rows=len(art["sampled"].release),
        stage_seconds=run.seconds,
        failed_rules=[o.rule_id for o in decision.blocking_failures],
        warnings=[o.rule_id for o in decision.warnings],
        mode=mode,
        epsilon_spent=art["epsilon_spent"],
        model_run=model_run,
        message=_outcome_note(job, mode, run.id, model_run),
    )


def _job_of(
    loaded: LoadedSpec,
    settings: Settings,
    store: Store,
    pre: Preflight,
    clock: Callable[[], str],
) -> _Job:
    spec = loaded.spec
    # the model hash keeps the URL's spelling: models saved before sources had a canonical
    # identity stay re-usable (a new spelling of one source only retrains, as before)
    spelled = f"{redact(spec.source.url)}#{spec.source.table}"
    copy = spec.masked_copy  # no model: nothing to re-use, nothing to charge
    return _Job(
        loaded=loaded,
        settings=settings,
        store=store,
        audit=AuditLog(store),
        pre=pre,
        clock=clock,
        limits=source_limits(store, pre.source_key, pre.policy),
        ledger=BudgetLedger(store),
        mhash=model_hash(spec, spelled, pii_rules=pre.pii_policy.pii.model_dump(mode="json")),
        copy=copy,
        private=pre.synthesizer.private and not copy,
        loader=None if copy else getattr(type(pre.synthesizer), "load", None),
    )


def _prior_of(job: _Job, force: bool) -> _Prior:
    """The job's history, its dead runs abandoned (or the one to resume), the models it
    may re-use; and, for a fit that will read rows, the budget checked before reading."""
    spec, store = job.spec, job.store
    history = load_history(store, spec.name, job.loaded.spec_hash, job.pre.source_key)
    stale = history.stale
    if stale is not None and force:
        _abandon(store, job.audit, job.user, stale.id, "abandoned: rerun with --force")
        stale = None
    for other in abandoned_runs(store, spec.name):
        if stale is None or other != stale.id:
            # still 'running' while we hold the lock: its process died
            _abandon(store, job.audit, job.user, other, "abandoned: its process ended mid-run")
    resume_model = (
        history.saved_model(stale, history.stale_stages)
        if stale is not None and job.loader is not None
        else None
    )
    prior_model = (
        history.saved_model(history.last_ok, history.last_ok_stages)
        if not force and stale is None and job.loader is not None
        else None
    )
    if prior_model is not None and prior_model.model_hash != job.mhash:
        prior_model = None
    budget_checked = False
    if job.private and resume_model is None and prior_model is None:
        # stop before any real row is read when the source's budget cannot cover the run
        job.ledger.require(
            job.pre.source_key,
            spec.synthesis.privacy.epsilon,
            limit=job.limits.epsilon,
            delta=_delta_bound(spec),
            delta_limit=job.limits.delta,
        )
        budget_checked = True
    return _Prior(history, stale, resume_model, prior_model, budget_checked)


def _open_run(job: _Job, prior: _Prior, progress: Progress) -> None:
    """Resume the dead run, or start a new one (its row and its audit event)."""
    spec, stale = job.spec, prior.stale
    if stale is not None:
        job.run = _Run(job.settings, job.store, job.audit, stale.id, progress, spec.name)
        job.started = stale.started_at
        job.run.resumed(
            [n for n, r in prior.history.stale_stages.items() if r.status == "succeeded"]
        )
        # the dead process's reservation stays with the run: its fit settles it once
        return
    job.run = _Run(job.settings, job.store, job.audit, _new_id("run"), progress, spec.name)
    job.started = job.clock()
    record_run_started(
        job.store,
        job.audit,
        job.loaded,
        run_id=job.run.id,
        run_dir=job.run.dir,
        source_key=job.pre.source_key,
        synthesizer=job.synthesizer_name,
        user=job.user,
        started=job.started,
    )


def _reserve_for(job: _Job) -> None:
    _reserve(
        job.ledger, job.audit, job.user, job.pre.source_key, job.the_run.id, job.spec, job.limits
    )


def _skipped(job: _Job, last_ok: RunRow | None, mode: RunMode) -> RunOutcome:
    """Nothing changed since the last success: the run is recorded as skipped."""
    assert last_ok is not None
    return skipped_run(job.the_run, job.ledger, job.pre.source_key, job.snapshot_id, last_ok.id)


def skipped_run(
    run: _Run, ledger: BudgetLedger, source: str, snapshot_id: str | None, since: str
) -> RunOutcome:
    """Record *run* as skipped (its reservation released: nothing was spent) and its
    outcome: nothing changed since run *since*."""
    run.store.finish_run(run.id, status="skipped", snapshot_id=snapshot_id)
    user = run.settings.user
    _close_reservation(ledger, run.audit, user, source, run.id, charge=False)
    run.audit.append(
        actor=user,
        action="run.skipped",
        subject=run.id,
        details={"job": run.job, "unchanged_since": since},
    )
    return RunOutcome(
        run_id=run.id,
        run_dir=run.dir,
        release_id=None,
        status=None,
        report_html=None,
        report_json=None,
        synthetic_path=None,
        rows=0,
        stage_seconds=run.seconds,
        mode=RunMode.SKIP,
        epsilon_spent=0.0,
        model_run=since,
        message=f"nothing to do: source snapshot and spec unchanged since run {since}",
    )


def _report_doc(
    job: _Job,
    data: st.Extracted,
    findings: list[ColumnFinding],
    masked: st.Masked,
    made: _Made,
    metrics: Sequence[MetricResult],
    validation: dict[str, Any],
    decision: GateDecision,
    mode: RunMode,
    seed: int,
    model_from: SavedModel | None,
    release_id: str,
    expires: str,
) -> dict[str, Any]:
    """The run's review report, as JSON: every figure the HTML shows."""
    spec, pre, run = job.spec, job.pre, job.the_run
    return {
        "run": {
            "id": run.id,
            "job": spec.name,
            "requested_by": job.user,
            "started_at": job.started,
            "finished_at": job.clock(),
            "synthgate_version": __version__,
            "mode": mode.value,
            # what the release is: synthetic rows, or a masked copy of real rows
            "output": spec.mode.value,
        },
        "provenance": {
            "spec_hash": job.loaded.spec_hash,
            "model_spec_hash": job.mhash,
            "model_run": model_from.run_id if model_from is not None else None,
            "source": redact(spec.source.url),
            "table": spec.source.table,
            "snapshot_id": job.snapshot_id,
            "synthesizer": job.synthesizer_name,
            "synthesizer_choice": pre.engine_choice,
            "params": {**dict(made.fit.params), **({} if job.private else {"seed": seed})},
            "rows_source": len(data.frame),
            "rows_train": len(masked.train),
            "rows_holdout": len(masked.holdout),
            "rows_synthetic": len(made.sampled.release),
            "target": redact(spec.target.url),
            "target_table": spec.target_table,
            "target_mode": spec.target.mode.value,
            "stage_seconds": run.seconds,
        },
        "pii": {
            "inventory": [f.to_dict() for f in findings],
            "actions": [a.to_dict() for a in masked.plan.actions],
        },
        "privacy": {
            "spent": made.fit.privacy.to_dict(),
            "budget": made.budget,
            **({"note": st.MASKED_COPY_NOTE} if job.copy else {}),
        },
        "metrics": [m.to_dict() for m in metrics],
        "validation": validation,
        "gate": {
            **_policy_names(pre),
            "status": decision.status.value,
            "outcomes": [o.to_dict() for o in decision.outcomes],
        },
        "release": {"id": release_id, "status": decision.status.value, "expires_at": expires},
    }


def _new_release(
    job: _Job,
    release_id: str,
    expires: str,
    sampled: st.Sampled,
    decision: GateDecision,
    report_html: Path,
) -> ReleaseStatus:
    """The run's release (its row and events), auto-approved where the pack says so."""
    spec, pre = job.spec, job.pre
    now = job.clock()
    job.store.add_release(
        ReleaseRow(
            id=release_id,
            run_id=job.the_run.id,
            job_name=spec.name,
            source_key=pre.source_key,
            status=decision.status.value,
            requested_by=job.user,
            created_at=now,
            updated_at=now,
            expires_at=expires,
            policy=pre.policy.name,
            policy_version=_policy_version(pre),
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
    record_release_made(
        job.audit,
        job.user,
        release_id,
        run_id=job.the_run.id,
        names=_policy_names(pre),
        decision=decision,
        made={"rows": len(sampled.release)},
    )
    status = decision.status
    if status is ReleaseStatus.AWAITING_APPROVAL and pre.policy.auto_approve:
        status = auto_approve(job.store, release_id, policy=pre.policy)
    return status


def _run_failed(job: _Job, exc: BaseException) -> BaseException:
    """Record a run that failed (what its fit spent is charged) and return what to raise:
    the error itself, or an internal error that names its type only."""
    run = job.the_run
    cost = _failure_cost(
        exc,
        job.ledger,
        job.audit,
        job.user,
        job.pre.source_key,
        run.id,
        job.privacy,
        private=job.private,
        fit_began=job.fit_began,
    )
    if cost is not None and isinstance(exc, SynthgateError):
        _end_with(exc, cost)
    reason = str(exc) if isinstance(exc, SynthgateError) else type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        reason = "interrupted" + (f"; {cost}" if cost else "")
    run.failed(reason, job.snapshot_id)
    if isinstance(exc, SynthgateError | KeyboardInterrupt):
        return exc
    return SynthesisError(
        f"run {run.id} failed with an internal error ({type(exc).__name__})",
        hint="rerun with --debug for the traceback" + (f"; {cost}" if cost else ""),
    )


def _outcome_note(job: _Job, mode: RunMode, run_id: str, model_run: str | None) -> str | None:
    if job.copy:
        return st.MASKED_COPY_NOTE + "; no privacy budget charged"
    if mode is RunMode.RESAMPLE:
        return f"re-sampled from model of run {model_run}; no privacy budget spent"
    if mode is RunMode.RESUME:
        return f"resumed run {run_id}" + (
            "; re-used its trained model" if model_run is not None else ""
        )
    return None


def _policy_version(pre: Preflight) -> int | None:
    return pre.policy_source.version if pre.policy_source is not None else None


def _policy_names(pre: Preflight) -> dict[str, Any]:
    return policy_names(pre.policy, pre.policy_source)


def _dp_rows(synth: Synthesizer) -> int | None:
    """The engine's DP count of the training rows, where it has one."""
    estimate = getattr(synth, "released_rows", None)
    return int(estimate()) if callable(estimate) and synth.private else None


def _default_rows(synth: Synthesizer, real_rows: int, holdout: float) -> int:
    """The synthetic row count when the spec sets none: the engine's DP estimate of the
    training rows scaled to the whole table (the holdout share is public), where it
    has one, so no exact count leaves; else the real count."""
    estimate = getattr(synth, "released_rows", None)
    if not callable(estimate):
        return real_rows
    return max(1, round(int(estimate()) / (1.0 - holdout)))


def _fresh_seed(loaded: LoadedSpec) -> int:
    seed = loaded.spec.synthesis.seed
    return seed if seed is not None else secrets.randbits(32)


def _decide(
    loaded: LoadedSpec,
    history: History,
    snapshot_id: str,
    resume_model: SavedModel | None,
    prior_model: SavedModel | None,
    *,
    force: bool,
    model: str,
    policy: str,
) -> tuple[RunMode, int, SavedModel | None]:
    """Once the snapshot is known: what this run does, its seed, the model it re-uses.

    Nothing to do needs the same snapshot, spec, model hash (which covers the PII
    rules of the pack in force) and release policy content as the last success;
    an edited pack re-samples (new gate, no budget) or retrains (new PII rules)."""
    last_ok = history.last_ok
    if history.stale is not None and not force:
        seed = history.seed_of(history.stale_stages)
        earlier = history.snapshot_of(history.stale_stages)
        reuse = resume_model if earlier in (None, snapshot_id) else None
        return RunMode.RESUME, _fresh_seed(loaded) if seed is None else seed, reuse
    if (
        not force
        and last_ok is not None
        and last_ok.snapshot_id == snapshot_id
        and last_ok.spec_hash == loaded.spec_hash
        and history.unchanged(history.last_ok_stages, model=model, policy=policy)
    ):
        return RunMode.SKIP, history.seed_of(history.last_ok_stages) or 0, None
    if prior_model is not None and prior_model.snapshot_id == snapshot_id:
        seed = prior_model.seed if prior_model.seed is not None else _fresh_seed(loaded)
        return RunMode.RESAMPLE, seed, prior_model
    return RunMode.TRAIN, _fresh_seed(loaded), None


def _load_model(
    loader: Callable[..., Synthesizer], saved: SavedModel, folder: Path, seed: int
) -> tuple[Synthesizer, FitResult]:
    """The generator saved by *saved*'s run, copied into this run's folder when it
    came from another run, with the fit facts it was trained under."""
    target = folder / "model"
    if saved.folder.resolve() != target.resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(saved.folder, target)
        fit_json = saved.folder.parent / "fit.json"
        if fit_json.is_file():
            shutil.copyfile(fit_json, folder / "fit.json")
    try:
        facts = json.loads((folder / "fit.json").read_text("utf-8"))
    except (OSError, ValueError):
        facts = {}
    synth = loader(target, sample_seed=seed)
    fit = FitResult(seconds=0.0, params=facts.get("params", {}), privacy=synth.privacy_spent())
    return synth, fit


def _charge(
    ledger: BudgetLedger,
    audit: AuditLog,
    actor: str,
    source: str,
    run_id: str,
    fit: FitResult,
    limit: float,
    *,
    mode: RunMode,
    model_run: str | None,
) -> tuple[dict[str, Any], float | None]:
    """Charge the run's ε to the source once; return the report's budget figures and
    the ε this run spent (0 for a re-sample, None for a non-private model)."""
    epsilon: float | None = fit.privacy.epsilon if fit.privacy.private else None
    if mode is RunMode.RESAMPLE:
        budget = _post_processing(ledger, audit, actor, source, run_id, limit, model_run)
        budget["note"] = (
            f"re-sampled from model of run {model_run}; no privacy budget spent "
            "(post-processing of a differentially private model)"
        )
        epsilon = 0.0
    elif model_run is not None and budget_charged(ledger.store, run_id):
        # resumed after the model was trained and charged: charged exactly once
        budget = _budget_figures(ledger, source, limit)
    else:
        budget = _spend_budget(ledger, audit, actor, source, run_id, fit, limit)
    ledger.release(source, run_id)  # settled above, or nothing was spent
    if model_run is not None:
        budget["model_run"] = model_run
    budget["spent_this_run"] = epsilon
    return budget, epsilon


def _failure_cost(
    exc: BaseException,
    ledger: BudgetLedger,
    audit: AuditLog,
    actor: str,
    source: str,
    run_id: str,
    privacy: PrivacyRequest | None,
    *,
    private: bool,
    fit_began: bool = False,
) -> str | None:
    """What a failed private run cost, as the sentence its error ends with (None for a
    run without a DP synthesizer). A fit that failed after its DP mechanisms touched
    rows is charged what it spent (``SynthesisError.spent_epsilon``) before the error
    is raised on, which settles the run's reservation: the ledger never under-counts.
    A fit stopped by anything else (an internal error, an interrupt) cannot say what
    it spent and is charged its whole reservation; a run that stopped before its fit
    began, or whose fit refused to start, releases its reservation."""
    if not private:
        return None
    spent = exc.spent_epsilon if isinstance(exc, SynthesisError) else None
    if spent:
        delta = privacy.delta if privacy is not None else 0.0
        ledger.record(
            source, run_id, epsilon=spent, delta=delta, accountant="failed-fit", stages=()
        )
        audit.append(
            actor=actor,
            action="budget.spent",
            subject=run_id,
            details={"source": source, "epsilon": spent, "delta": delta, "failed_fit": True},
        )
    else:
        unknown = fit_began and not isinstance(exc, SynthgateError)
        _close_reservation(ledger, audit, actor, source, run_id, charge=unknown)
    charged = sum(
        e.epsilon for e in ledger.entries(source) if e.run_id == run_id and e.stage == "total"
    )
    if charged > 0:
        return f"epsilon {charged:.3g} of this run was charged"
    return "no privacy budget was charged"


def _end_with(exc: SynthgateError, sentence: str) -> None:
    """Append *sentence* to the error's one line (after its hint, when it has one)."""
    if exc.hint:
        exc.hint = f"{exc.hint}; {sentence}"
    else:
        exc.message = f"{exc.message}; {sentence}"


def _not_charged(
    ledger: BudgetLedger, audit: AuditLog, actor: str, source: str, run_id: str, limit: float
) -> tuple[dict[str, Any], float]:
    """A masked copy charges nothing finite: no differential privacy mechanism ran, so no
    finite ε can describe it. The ledger gets a ``masked-copy`` line with ε = ∞ (never
    an ε of 0, which would read as perfect privacy), counted apart from the finite sum;
    the audit log and the report say why."""
    ledger.record_masked_copy(source, run_id)
    budget = _budget_figures(ledger, source, limit)
    budget["note"] = (
        "not differentially private: masked copy of real rows; recorded in the ledger as "
        "a masked copy (epsilon infinite), no finite budget charged"
    )
    budget["spent_this_run"] = 0.0
    budget["masked_copies"] = ledger.status(source, limit=limit).masked_copies
    audit.append(
        actor=actor,
        action="budget.not_charged",
        subject=run_id,
        details={"source": source, "reason": budget["note"], "masked_copy": True},
    )
    return budget, 0.0


def _delta_bound(spec: JobSpec) -> float:
    """The δ a run may spend, known before any row is read."""
    return spec.synthesis.privacy.delta_bound()


def _reserve(
    ledger: BudgetLedger,
    audit: AuditLog,
    actor: str,
    source: str,
    run_id: str,
    spec: JobSpec,
    limits: BudgetLimits,
) -> None:
    """Reserve the run's ε and δ on its source under the source's lock (exit 5 when the
    source's spent and reserved budget cannot cover it); settled after the fit."""
    epsilon, delta = spec.synthesis.privacy.epsilon, _delta_bound(spec)
    ledger.reserve(
        source, run_id, epsilon=epsilon, delta=delta, limit=limits.epsilon, delta_limit=limits.delta
    )
    audit.append(
        actor=actor,
        action="budget.reserved",
        subject=run_id,
        details={"source": source, "epsilon": epsilon, "delta": delta, "limits": limits.origin},
    )


def _fit_started(store: Store, run_id: str) -> bool:
    """Whether the run's fit began (so DP mechanisms may have read rows)."""
    with store.session() as s:
        row = s.scalar(
            select(StageRow.status).where(StageRow.run_id == run_id, StageRow.name == "synthesize")
        )
    return row in ("running", "failed", "succeeded")


def _close_reservation(
    ledger: BudgetLedger, audit: AuditLog, actor: str, source: str, run_id: str, *, charge: bool
) -> None:
    """Settle an open reservation whole (*charge*: the fit may have spent it and cannot
    say how much) or release it (no DP mechanism ran). Nothing when none is open."""
    if not ledger.reserved(source, run_id):
        return
    if charge:
        epsilon = ledger.charge_reserved(source, run_id, accountant="interrupted-fit")
        audit.append(
            actor=actor,
            action="budget.spent",
            subject=run_id,
            details={"source": source, "epsilon": epsilon, "failed_fit": True, "as_reserved": True},
        )
        return
    epsilon = ledger.release(source, run_id)
    audit.append(
        actor=actor,
        action="budget.released",
        subject=run_id,
        details={"source": source, "epsilon": epsilon},
    )


def _budget_figures(ledger: BudgetLedger, source: str, limit: float) -> dict[str, Any]:
    status = ledger.status(source, limit=limit)
    return {
        "source": source,
        "limit_epsilon": limit,
        "spent_before": status.spent_epsilon,
        "spent_after": status.spent_epsilon,
        "remaining": status.remaining,
        "releases_counted": status.runs,
    }


def _post_processing(
    ledger: BudgetLedger,
    audit: AuditLog,
    actor: str,
    source: str,
    run_id: str,
    limit: float,
    model_run: str | None,
) -> dict[str, Any]:
    """A re-sample costs nothing: the ledger gets a 0-ε line that says why."""
    figures = _budget_figures(ledger, source, limit)
    ledger.record(source, run_id, epsilon=0.0, delta=0.0, accountant="post-processing", stages=())
    audit.append(
        actor=actor,
        action="budget.post_processing",
        subject=run_id,
        details={"source": source, "epsilon": 0.0, "model_run": model_run},
    )
    return figures


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
