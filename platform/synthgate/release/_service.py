"""Release actions: one function per action, each taking the acting user.

The command line and a web console call these; they hold every rule. Each
state change is one transaction that checks the release's ``version`` against
the version the actor reviewed (optimistic lock: when two people decide at
once, exactly one wins and the other gets :class:`ConflictError`), moves the
state through :data:`TRANSITIONS`, records the decision and appends the audit
event — all of it or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import Session

from synthgate.audit import AuditLog, canonical_json
from synthgate.audit._log import HEAD_ID
from synthgate.contracts import CardSink, MultiTableSink, TableSchema, TableWrite, WriteMode
from synthgate.errors import (
    ConfigError,
    ConflictError,
    PermissionDenied,
    ReleaseStateError,
    SynthgateError,
    redact,
)
from synthgate.release._card import build_card, read_card, render_card
from synthgate.release._independence import check_independent, registrant_link
from synthgate.release._lifecycle import TRANSITIONS, ReleaseStatus, check_transition
from synthgate.release._policy import PolicyPack
from synthgate.release._report import refresh_report, report_digest
from synthgate.release._users import SYSTEM, SYSTEM_ACTOR, Actor, Permission, require
from synthgate.store import Store, process_lock, utcnow
from synthgate.store.models import (
    ApprovalRow,
    AuditHead,
    PolicyRecord,
    PolicyVersionRow,
    ReleaseRow,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from synthgate.config import LoadedSpec

__all__ = [
    "Decision",
    "PublishResult",
    "PublishStopped",
    "approvals_of",
    "approve",
    "auto_approve",
    "expire_due",
    "file_sha256",
    "get_release",
    "publish",
    "record_policy",
    "reject",
    "revoke",
    "target_fingerprint",
]

_MAX_TEXT = 2000
_BATCH_ROWS = 50_000
_APPROVE = "approve"
_REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Decision:
    """What an approve or reject did."""

    release_id: str
    status: ReleaseStatus
    version: int
    approvals: int
    required: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "status": self.status.value,
            "version": self.version,
            "approvals": self.approvals,
            "required": self.required,
        }


@dataclass(frozen=True, slots=True)
class PublishResult:
    release_id: str
    table: str
    rows: int
    mode: str
    content_hash: str
    published_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "status": ReleaseStatus.PUBLISHED.value,
            "table": self.table,
            "rows": self.rows,
            "mode": self.mode,
            "content_hash": self.content_hash,
            "published_at": self.published_at,
        }


# --------------------------------------------------------------------------- helpers


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _normal_target(url: str) -> str:
    if "://" not in url or url.startswith("file://"):
        path = url.removeprefix("file://")
        return "file://" + str(Path(path).expanduser().resolve())
    try:
        parsed = make_url(url).set(password=None)
    except ArgumentError:
        return url
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(str(parsed.database)).expanduser().resolve()))
    return parsed.render_as_string(hide_password=False)


def target_fingerprint(url: str, table: str, mode: str) -> str:
    """sha256 of where a release goes — URL without its password, table, mode.

    Stored on the release when it is created and compared before publishing,
    so that an edited job spec cannot send an approved table somewhere else.
    """
    body = canonical_json({"url": _normal_target(url), "table": table, "mode": mode})
    return hashlib.sha256(body.encode()).hexdigest()


def tables_fingerprint(tables: Collection[str], url: str, mode: str) -> str:
    """A multi-table release's target: every table, in publishing order, at one target."""
    return target_fingerprint(url, "\0".join(tables), mode)


#: a multi-table run's list of its synthetic tables, under ``sample/``
TABLES_MANIFEST = "tables.json"


def _text(value: str | None, what: str, command: str) -> str:
    """A decision's comment or reason: one line, required, registered secrets masked."""
    text = redact(" ".join((value or "").split()))
    if not text:
        raise ConfigError(f"a {what} is required", hint=f"add --{what} '…' to synthgate {command}")
    if len(text) > _MAX_TEXT:
        raise ConfigError(f"the {what} is {len(text)} characters long; keep it under {_MAX_TEXT}")
    return text


def get_release(store: Store, release_id: str) -> ReleaseRow:
    release = store.get_release(release_id)
    if release is None:
        raise ConfigError(
            f"no release {release_id!r}", hint="list them with: synthgate releases list"
        )
    return release


def approvals_of(store: Store, release_id: str) -> list[ApprovalRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(ApprovalRow)
                .where(ApprovalRow.release_id == release_id)
                .order_by(ApprovalRow.id)
            )
        )


def _load(s: Session, release_id: str, *, lock: bool = False) -> ReleaseRow:
    """The release as stored now; with *lock*, its row is locked until the transaction ends.

    That row lock is *the release lock*: revoke, expiry and the last step of a
    publish take it (on SQLite every write transaction is exclusive anyway).
    """
    release = s.get(ReleaseRow, release_id, populate_existing=True, with_for_update=lock)
    if release is None:
        raise ConfigError(
            f"no release {release_id!r}", hint="list them with: synthgate releases list"
        )
    return release


def _conflict(release_id: str, detail: str) -> ConflictError:
    return ConflictError(
        f"release {release_id} was changed by someone else {detail}",
        hint=f"review it again with: synthgate releases show {release_id}, then retry",
    )


def _check_version(release: ReleaseRow, expected: int) -> None:
    if release.version != expected:
        raise _conflict(
            release.id,
            f"since you reviewed version {expected}: it is now {release.status}, "
            f"version {release.version}",
        )


def _bump(s: Session, release: ReleaseRow, expected: int, **values: Any) -> int:
    """Write *values* only if the release is still at *expected*; the new version."""
    result = cast(
        "CursorResult[Any]",
        s.execute(
            update(ReleaseRow)
            .where(ReleaseRow.id == release.id, ReleaseRow.version == expected)
            .values(version=expected + 1, **values)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise _conflict(release.id, "at the same time")
    return expected + 1


def _status(release: ReleaseRow) -> ReleaseStatus:
    return ReleaseStatus(release.status)


# --------------------------------------------------------------------------- decisions


def approve(
    store: Store,
    actor: Actor,
    release_id: str,
    *,
    comment: str,
    expected_version: int | None = None,
    now: str | None = None,
) -> Decision:
    """Record *actor*'s approval; the release is APPROVED once enough distinct people approved.

    Nobody approves a release they requested, nor through an account the
    requester set up within the pack's independence window
    (:mod:`synthgate.release._independence`). *expected_version* is the
    version the actor reviewed; without it, the version read now.
    """
    return _decide(store, actor, release_id, _APPROVE, comment, expected_version, now)


def reject(
    store: Store,
    actor: Actor,
    release_id: str,
    *,
    reason: str,
    expected_version: int | None = None,
    now: str | None = None,
) -> Decision:
    """Reject the release (final). One reviewer's rejection is enough."""
    return _decide(store, actor, release_id, _REJECT, reason, expected_version, now)


def _decide(
    store: Store,
    actor: Actor,
    release_id: str,
    decision: str,
    text: str | None,
    expected_version: int | None,
    now: str | None,
) -> Decision:
    what, command = ("comment", "approve") if decision == _APPROVE else ("reason", "reject")
    note = _text(text, what, f"{command} {release_id}")
    require(actor, Permission.DECIDE)
    now = now or utcnow()
    expire_due(store, now=now, release_ids=[release_id])
    if expected_version is None:
        expected_version = get_release(store, release_id).version
    target = ReleaseStatus.APPROVED if decision == _APPROVE else ReleaseStatus.REJECTED
    try:
        with store.session() as s:
            release = _load(s, release_id)
            _check_version(release, expected_version)
            check_transition(_status(release), target, release_id=release_id)
            if actor.name == release.requested_by:
                raise PermissionDenied(
                    f"{actor.name} requested release {release_id}; nobody approves or rejects "
                    "their own release (four-eyes)",
                    hint="ask someone with the approver role to review it",
                )
            if decision == _APPROVE:
                check_independent(s, actor.name, release, now=now)
            prior = list(s.scalars(select(ApprovalRow).where(ApprovalRow.release_id == release_id)))
            if any(p.approver == actor.name for p in prior):
                raise PermissionDenied(
                    f"{actor.name} has already decided on release {release_id}; it needs "
                    f"{release.approvals_required} distinct approvers",
                    hint="ask another approver",
                )
            approvals = sum(p.decision == _APPROVE for p in prior) + (decision == _APPROVE)
            required = release.approvals_required
            if decision == _REJECT:
                new = ReleaseStatus.REJECTED
            elif approvals >= required:
                new = ReleaseStatus.APPROVED
            else:
                new = ReleaseStatus.AWAITING_APPROVAL
            closing = (
                {"closed_by": actor.name, "closed_at": now, "closed_reason": note}
                if new is ReleaseStatus.REJECTED
                else {}
            )
            version = _bump(
                s, release, expected_version, status=new.value, updated_at=now, **closing
            )
            s.add(
                ApprovalRow(
                    release_id=release_id,
                    approver=actor.name,
                    decision=decision,
                    comment=note,
                    release_version=expected_version,
                    created_at=now,
                )
            )
            s.flush()
            action = {
                ReleaseStatus.APPROVED: "release.approved",
                ReleaseStatus.REJECTED: "release.rejected",
                ReleaseStatus.AWAITING_APPROVAL: "release.approval_recorded",
            }[new]
            AuditLog(store).append_in(
                s,
                actor=actor.name,
                action=action,
                subject=release_id,
                details={
                    what: note,
                    "status": new.value,
                    "approvals": approvals,
                    "required": required,
                    "version": version,
                    **report_digest(release),
                    **actor.audit_details(),
                },
            )
    except IntegrityError:
        raise _conflict(release_id, "at the same time") from None
    refresh_report(store, release_id)
    return Decision(release_id, new, version, approvals, required)


def _registrant(s: Session, release: ReleaseRow) -> str | None:
    """Who registered the version of the release's pack; None for an installed pack."""
    if release.policy_version is None:
        return None
    return s.scalar(
        select(PolicyVersionRow.registered_by).where(
            PolicyVersionRow.name == release.policy,
            PolicyVersionRow.version == release.policy_version,
        )
    )


def auto_approve(store: Store, release_id: str, *, policy: PolicyPack) -> ReleaseStatus:
    """Approve a release that passed the gate, as ``system``, when *policy* allows it.

    A registered pack's ``auto_approve`` is its registrant's approval given in
    advance, so four-eyes holds for it: when the requester registered that version
    of the pack (or set up the account that did, within the pack's independence
    window), the release is left AWAITING_APPROVAL for a person, and
    ``release.auto_approval_withheld`` records why.
    """
    if not policy.auto_approve:
        raise PermissionDenied(f"policy {policy.name!r} does not allow auto-approval")
    now = utcnow()
    with store.session() as s:
        release = _load(s, release_id)
        check_transition(_status(release), ReleaseStatus.APPROVED, release_id=release_id)
        registrant = _registrant(s, release)
        why = None if registrant is None else registrant_link(s, registrant, release, now=now)
        if why is not None:
            AuditLog(store).append_in(
                s,
                actor=SYSTEM,
                action="release.auto_approval_withheld",
                subject=release_id,
                details={
                    "policy": release.policy,
                    "policy_version": release.policy_version,
                    "reason": f"{why}; four-eyes: a person approves it",
                    "status": release.status,
                },
            )
            return _status(release)
        version = _bump(
            s, release, release.version, status=ReleaseStatus.APPROVED.value, updated_at=now
        )
        comment = f"approved automatically: policy {policy.name} allows auto-approval"
        s.add(
            ApprovalRow(
                release_id=release_id,
                approver=SYSTEM,
                decision=_APPROVE,
                comment=comment,
                release_version=release.version,
                created_at=now,
            )
        )
        AuditLog(store).append_in(
            s,
            actor=SYSTEM,
            action="release.approved",
            subject=release_id,
            details={
                "comment": comment,
                "policy": policy.name,
                "auto": True,
                "status": ReleaseStatus.APPROVED.value,
                "version": version,
                **report_digest(release),
            },
        )
    refresh_report(store, release_id)
    return ReleaseStatus.APPROVED


def revoke(
    store: Store,
    actor: Actor,
    release_id: str,
    *,
    reason: str,
    expected_version: int | None = None,
    now: str | None = None,
) -> ReleaseRow:
    """Withdraw a release. Approvers and admins may; so may the engineer who requested it.

    A published table stays in the target: whoever owns the target removes it.
    """
    note = _text(reason, "reason", f"revoke {release_id}")
    now = now or utcnow()
    with store.session() as s:
        # under the release lock: a publish past its last check finishes first
        release = _load(s, release_id, lock=True)
        own = actor.name == release.requested_by and actor.can(Permission.RUN)
        if not own:
            require(actor, Permission.REVOKE)
        if expected_version is None:
            expected_version = release.version
        _check_version(release, expected_version)
        before = _status(release)
        check_transition(before, ReleaseStatus.REVOKED, release_id=release_id)
        version = _bump(
            s,
            release,
            expected_version,
            status=ReleaseStatus.REVOKED.value,
            updated_at=now,
            closed_by=actor.name,
            closed_at=now,
            closed_reason=note,
        )
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="release.revoked",
            subject=release_id,
            details={
                "reason": note,
                "previous": before.value,
                "was_published": before is ReleaseStatus.PUBLISHED,
                # a publish in flight stops before its write commits
                "publish_in_flight": release.publish_claim is not None,
                "version": version,
                **report_digest(release),
                **actor.audit_details(),
            },
        )
    refresh_report(store, release_id)
    return get_release(store, release_id)


def expire_due(
    store: Store,
    *,
    now: str | None = None,
    release_ids: Collection[str] | None = None,
    dry_run: bool = False,
    actor: Actor = SYSTEM_ACTOR,
) -> list[str]:
    """Mark every release past its ``expires_at`` EXPIRED; the ids, oldest first.

    Expiry is a matter of time, not of judgement, so it is recorded as the
    ``system`` actor; *actor* is kept in the event as who ran the sweep.
    """
    now = now or utcnow()
    expirable = [s.value for s, moves in TRANSITIONS.items() if ReleaseStatus.EXPIRED in moves]
    query = (
        select(ReleaseRow)
        .where(ReleaseRow.status.in_(expirable), ReleaseRow.expires_at <= now)
        .order_by(ReleaseRow.id)
        .with_for_update()
    )
    if release_ids is not None:
        query = query.where(ReleaseRow.id.in_(list(release_ids)))
    with store.session() as s:
        due = list(s.scalars(query))
        if dry_run:
            return [r.id for r in due]
        for release in due:
            before = _status(release)
            version = _bump(
                s,
                release,
                release.version,
                status=ReleaseStatus.EXPIRED.value,
                updated_at=now,
                closed_by=SYSTEM,
                closed_at=now,
                closed_reason=f"expired at {release.expires_at}",
            )
            AuditLog(store).append_in(
                s,
                actor=SYSTEM,
                action="release.expired",
                subject=release.id,
                details={
                    "expires_at": release.expires_at,
                    "previous": before.value,
                    "was_published": before is ReleaseStatus.PUBLISHED,
                    "swept_by": actor.name,
                    "version": version,
                    **report_digest(release),
                },
            )
        expired = [r.id for r in due]
    for release_id in expired:
        refresh_report(store, release_id)
    return expired


# --------------------------------------------------------------------------- publishing


@dataclass(frozen=True, slots=True)
class _Plan:
    url: str
    table: str
    mode: WriteMode
    artifact: Path
    schema: TableSchema
    spec_changed: bool
    #: a multi-table release: (table, artifact, schema) in publishing order, parents first
    tables: tuple[tuple[str, Path, TableSchema], ...] = ()


def _reread_spec(spec_path: Path, rid: str, env: Mapping[str, str] | None) -> LoadedSpec:
    """The job spec as this process's environment reads it. A variable the spec needs
    and this process lacks (a console started without the target's password) is
    named in the message itself, which is all a browser shows."""
    from synthgate.config import load_job_spec

    try:
        return load_job_spec(spec_path, env=env)
    except ConfigError as exc:
        missing = sorted(
            set(re.findall(r"environment variable (\w+) is not set", " ".join(exc.problems)))
        )
        if not missing:
            raise
        names = ", ".join(missing)
        raise ConfigError(
            f"publishing release {rid} re-reads job spec {spec_path}, which needs the "
            f"environment variable(s) {names}, not set in this process",
            hint=f"start the console or CLI that publishes with {names} set (they are never "
            "stored), or publish from a shell that has them",
        ) from None


def _plan(store: Store, release: ReleaseRow, env: Mapping[str, str] | None) -> _Plan:
    """Everything publishing needs, checked before anything is written."""

    rid = release.id
    run = store.get_run(release.run_id)
    if run is None or not run.spec_path or not release.target_fingerprint:
        raise ReleaseStateError(
            f"release {rid} was created before publishing was supported; it has no job spec "
            "or target on record",
            hint="run the job again for a release that can be published",
        )
    spec_path = Path(run.spec_path)
    if not spec_path.is_file():
        raise ConfigError(
            f"job spec {spec_path} of release {rid} is gone; publishing re-reads it for the "
            "target's credentials",
            hint="restore the file at that path",
        )
    loaded = _reread_spec(spec_path, rid, env)
    spec = loaded.spec
    if spec.multi_table:
        return _tables_plan(release, Path(run.run_dir), loaded, run.spec_hash)
    fingerprint = target_fingerprint(spec.target.url, spec.target_table, spec.target.mode.value)
    if fingerprint != release.target_fingerprint:
        raise ConfigError(
            f"job spec {spec_path} now resolves to a different target than release {rid} was "
            f"approved for ({release.target_table}, mode {release.target_mode})",
            hint="restore the spec's target and the environment it reads (e.g. "
            "SYNTHGATE_DEMO_DIR), or run the job again for a new release",
        )
    run_dir = Path(run.run_dir)
    artifact = run_dir / "sample" / "synthetic.parquet"
    if not artifact.is_file():
        raise ReleaseStateError(
            f"the synthetic table of release {rid} is missing ({artifact})",
            hint="run the job again for a new release",
        )
    if release.artifact_sha256 != file_sha256(artifact):
        raise ReleaseStateError(
            f"the synthetic table of release {rid} is not the one that was approved "
            "(its sha256 changed); it will not be published",
            hint="run the job again for a new release",
        )
    try:
        schema = TableSchema.from_dict(
            json.loads((run_dir / "extract" / "schema.json").read_text("utf-8"))
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ReleaseStateError(
            f"the schema of release {rid}'s run cannot be read ({type(exc).__name__})",
            hint="run the job again for a new release",
        ) from None
    return _Plan(
        url=spec.target.url,
        table=spec.target_table,
        mode=spec.target.mode,
        artifact=artifact,
        schema=schema,
        spec_changed=loaded.spec_hash != run.spec_hash,
    )


def _stale(rid: str, what: str) -> ReleaseStateError:
    return ReleaseStateError(
        f"{what} of release {rid} {'is' if what.startswith('the') else 'are'} missing "
        "or not the one that was approved; it will not be published",
        hint="run the job again for a new release",
    )


def _tables_plan(release: ReleaseRow, run_dir: Path, loaded: LoadedSpec, spec_hash: str) -> _Plan:
    """A multi-table release: every table's file as approved (the manifest's sha256 is
    the release's, each file's is in the manifest) and its schema."""
    rid, spec = release.id, loaded.spec
    manifest = run_dir / "sample" / TABLES_MANIFEST
    if not manifest.is_file() or release.artifact_sha256 != file_sha256(manifest):
        raise _stale(rid, "the synthetic tables")
    try:
        listed = json.loads(manifest.read_text("utf-8"))["tables"]
        schemas = json.loads((run_dir / "extract" / "schemas.json").read_text("utf-8"))
        parts = tuple(
            (
                str(t["table"]),
                run_dir / "sample" / str(t["file"]),
                TableSchema.from_dict(schemas[t["table"]]),
            )
            for t in listed
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReleaseStateError(
            f"the tables of release {rid}'s run cannot be read ({type(exc).__name__})",
            hint="run the job again for a new release",
        ) from None
    for (_, path, _), entry in zip(parts, listed, strict=True):
        if not path.is_file() or file_sha256(path) != entry.get("sha256"):
            raise _stale(rid, "the synthetic tables")
    names = [name for name, _, _ in parts]
    if (
        tables_fingerprint(names, spec.target.url, spec.target.mode.value)
        != release.target_fingerprint
    ):
        raise ConfigError(
            f"job spec {loaded.path} now resolves to a different target than release {rid} was "
            f"approved for ({release.target_table}, mode {release.target_mode})",
            hint="restore the spec's target, or run the job again for a new release",
        )
    unit = spec.source.table
    return _Plan(
        url=spec.target.url,
        table=unit,
        mode=spec.target.mode,
        artifact=manifest,
        schema=next(schema for name, _, schema in parts if name == unit),
        spec_changed=loaded.spec_hash != spec_hash,
        tables=parts,
    )


def _batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    return iter(table.to_batches(max_chunksize=_BATCH_ROWS))


def _then(batches: Iterator[pa.RecordBatch], last: Callable[[], None]) -> Iterator[pa.RecordBatch]:
    """*batches*, then *last*: called when the sink asks for more after the last batch."""
    yield from batches
    last()


def _write(
    plan: _Plan, release_id: str, before_commit: Callable[[], None] | None = None
) -> tuple[int, str]:
    """Write the release's table; *before_commit* runs inside the write, before it commits.

    A sink reads every batch before it commits (the staging table is loaded,
    then swapped in or appended), so a callable run when the batches run out
    runs inside the write's transaction: when it raises, nothing is written.
    """
    import pyarrow.parquet as pq

    from synthgate.sources import open_sink

    if plan.tables:
        return _write_tables(plan, release_id, before_commit)
    table = pq.read_table(plan.artifact)
    names = list(table.column_names)
    missing = [n for n in names if n not in plan.schema.column_names]
    if missing:
        raise ReleaseStateError(
            f"the synthetic table of release {release_id} has columns its run's schema lacks: "
            f"{', '.join(missing)}"
        )
    schema = plan.schema.replace_columns([plan.schema.column(n) for n in names])
    batches = _batches(table)
    if before_commit is not None:
        batches = _then(batches, before_commit)
    sink = open_sink(plan.url)
    try:
        # the release id as idempotency key: a retried publish never writes the table twice
        result = sink.write(
            plan.table, batches, schema=schema, mode=plan.mode, idempotency_key=release_id
        )
    finally:
        sink.close()
    return result.rows, result.content_hash


def _write_tables(
    plan: _Plan, release_id: str, before_commit: Callable[[], None] | None
) -> tuple[int, str]:
    """Every table of a multi-table release as one write (parents first); *before_commit*
    runs once the last table's rows are loaded, inside the write."""
    import pyarrow.parquet as pq

    from synthgate.sources import open_sink

    parts = []
    for index, (name, path, schema) in enumerate(plan.tables):
        batches = _batches(pq.read_table(path))
        if before_commit is not None and index == len(plan.tables) - 1:
            batches = _then(batches, before_commit)
        parts.append(TableWrite(name, batches, schema))
    sink = open_sink(plan.url)
    try:
        if not isinstance(sink, MultiTableSink):
            raise ReleaseStateError(
                f"the target of release {release_id} cannot write several tables as one",
                hint="publish a multi-table release to PostgreSQL, MySQL/MariaDB or SQLite",
            )
        results = sink.write_tables(parts, mode=plan.mode, idempotency_key=release_id)
    finally:
        sink.close()
    digest = hashlib.sha256("".join(r.content_hash for r in results).encode("ascii"))
    return sum(r.rows for r in results), digest.hexdigest()


def _card(store: Store, plan: _Plan, release_id: str) -> dict[str, Any]:
    """The run's release card with the decisions that let it be published."""
    run_dir = plan.artifact.parent.parent
    card = read_card(run_dir / "report") or _card_of_old_run(run_dir, plan.artifact)
    return {
        **card,
        "status": ReleaseStatus.PUBLISHED.value,
        "approvals": [
            {"by": a.approver, "decision": a.decision, "at": a.created_at}
            for a in approvals_of(store, release_id)
        ],
    }


def _publish_card(plan: _Plan, release_id: str, card: dict[str, Any]) -> str:
    """Put the release card beside the written table (the review report never goes
    there); return where it went. A sink that cannot hold one is a publish error."""
    from synthgate.sources import open_sink

    sink = open_sink(plan.url)
    try:
        if not isinstance(sink, CardSink):
            raise ReleaseStateError(
                f"the target of release {release_id} cannot hold a release card",
                hint="publish to a database or a file target",
            )
        return sink.write_card(plan.table, release_id, card, render_card(card))
    finally:
        sink.close()


def _card_of_old_run(run_dir: Path, artifact: Path) -> dict[str, Any]:
    """The card of a run made before runs wrote one: from its report and released table."""
    import pyarrow.parquet as pq

    path = run_dir / "report" / "report.json"
    report = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    return build_card(report, pq.read_table(artifact).to_pandas(), rows_estimate=None)


class PublishStopped(ReleaseStateError):
    """The release was revoked or expired while it was being published; nothing was written."""


class _CommitGate:
    """The release lock, taken inside the write just before it commits and held until the
    outcome is recorded.

    :meth:`check` runs when the sink has loaded every row and before its
    transaction commits: it locks the release (the lock revoke and expiry take)
    and refuses unless the release is still APPROVED, under this publish's
    claim and not past its expiry. The lock is held while the sink commits and
    the store records PUBLISHED with its audit event in the same transaction, so
    a revoke either stops the write or comes after it, never in between.
    """

    def __init__(self, store: Store, release_id: str, claimed: int, stack: ExitStack) -> None:
        self._store = store
        self._id = release_id
        self._claimed = claimed
        self._stack = stack
        self.session: Session | None = None
        self.release: ReleaseRow | None = None
        self.landed = False

    def check(self) -> None:
        rid = self._id
        s = self._stack.enter_context(self._store.session())
        current = _load(s, rid, lock=True)
        now = utcnow()
        if current.status != ReleaseStatus.APPROVED.value or current.version != self._claimed:
            raise PublishStopped(
                f"release {rid} became {current.status} while it was being published; "
                "nothing was written to the target",
                hint=f"see: synthgate releases show {rid}",
            )
        if current.expires_at <= now:
            raise PublishStopped(
                f"release {rid} expired at {current.expires_at} while it was being published; "
                "nothing was written to the target",
                hint="run the job again for a new release",
            )
        self.session, self.release = s, current

    def held(self) -> tuple[Session, ReleaseRow]:
        """The locked session and release after the write; checked now if the sink did not
        ask (it found this very write already recorded under the idempotency key)."""
        if self.session is None or self.release is None:
            self.check()
        if self.session is None or self.release is None:  # pragma: no cover - check() sets them
            raise ReleaseStateError(f"release {self._id} could not be locked")
        return self.session, self.release


def publish(
    store: Store,
    actor: Actor,
    release_id: str,
    *,
    env: Mapping[str, str] | None = None,
    retry: bool = False,
) -> PublishResult:
    """Write an APPROVED release to its target through the connectors; → PUBLISHED.

    The target URL with its credentials comes from the run's job spec, read
    again now with *env* (default: the process environment); it must still
    name the target the release was approved for. The synthetic table must be
    byte-identical to the approved one. A publish holds the release's lock
    (:func:`synthgate.store.process_lock`, freed by the operating system or the
    server when its process dies) and claims the release, so two publishers
    cannot both write; a PUBLISHED release is never written again. A claim
    whose lock is free was left by a publish that died midway: it is taken over
    (and audited). The release id is the sink's idempotency key, so a write
    that did land before the crash is not repeated. *retry* is kept for
    scripts written before claims were taken over by themselves.

    A revoke or an expiry while the table is being written stops the write:
    just before the sink commits, the release is checked again under the
    release lock that revoke and expiry take (:class:`_CommitGate`), and that
    lock is held until PUBLISHED and its audit event are recorded. A stopped
    publish raises :class:`PublishStopped` and is audited as
    ``release.publish_stopped``; a write that landed is always audited.
    """
    require(actor, Permission.PUBLISH)

    def busy(holder: str) -> SynthgateError:
        return ConflictError(
            f"release {release_id} is being published by another process ({holder})",
            hint=f"wait for it to finish, then: synthgate releases show {release_id}",
        )

    with process_lock(f"publish:{release_id}", store, None, busy=busy):
        return _publish_locked(store, actor, release_id, env=env, retry=retry)


def _publish_locked(
    store: Store,
    actor: Actor,
    release_id: str,
    *,
    env: Mapping[str, str] | None,
    retry: bool,
) -> PublishResult:
    now = utcnow()
    expire_due(store, now=now, release_ids=[release_id])
    release = get_release(store, release_id)
    check_transition(_status(release), ReleaseStatus.PUBLISHED, release_id=release_id)
    audit = AuditLog(store)
    stale_claim = release.publish_claim
    if stale_claim:
        # we hold the release's lock, so the process that claimed it is gone
        audit.append(
            actor=actor.name,
            action="release.publish_claim_taken_over",
            subject=release_id,
            details={"claim": stale_claim, **actor.audit_details()},
        )
    try:
        plan = _plan(store, release, os.environ if env is None else env)
    except SynthgateError as exc:
        audit.append(
            actor=actor.name,
            action="release.publish_refused",
            subject=release_id,
            details={"error": str(exc), **actor.audit_details()},
        )
        raise
    with store.session() as s:
        current = _load(s, release_id, lock=True)
        _check_version(current, release.version)
        claim = f"{actor.name} at {now}"
        claimed = _bump(s, current, release.version, publish_claim=claim)
        audit.append_in(
            s,
            actor=actor.name,
            action="release.publish_started",
            subject=release_id,
            details={
                "retry": retry or bool(stale_claim),
                "version": claimed,
                **actor.audit_details(),
            },
        )
    card = _card(store, plan, release_id)  # read now: the gate below holds the store
    stack = ExitStack()
    gate = _CommitGate(store, release_id, claimed, stack)
    try:
        with stack:
            rows, content_hash = _write(plan, release_id, gate.check)
            gate.landed = True
            session, current = gate.held()
            published_at = utcnow()
            card_at = _publish_card(plan, release_id, {**card, "published_at": published_at})
            version = _bump(
                session,
                current,
                claimed,
                status=ReleaseStatus.PUBLISHED.value,
                updated_at=published_at,
                publish_claim=None,
                published_at=published_at,
                published_by=actor.name,
                published_hash=content_hash,
                published_rows=rows,
            )
            audit.append_in(
                session,
                actor=actor.name,
                action="release.published",
                subject=release_id,
                details={
                    "target": redact(plan.url),
                    "table": plan.table,
                    **({"tables": [name for name, _, _ in plan.tables]} if plan.tables else {}),
                    "mode": plan.mode.value,
                    "rows": rows,
                    "content_hash": content_hash,
                    "spec_changed_since_run": plan.spec_changed,
                    "version": version,
                    "release_card": card_at,
                    **report_digest(current),
                    **actor.audit_details(),
                },
            )
    except BaseException as exc:
        _publish_failed(store, actor, release_id, (claimed, claim), exc, landed=gate.landed)
        raise
    refresh_report(store, release_id)
    return PublishResult(release_id, plan.table, rows, plan.mode.value, content_hash, published_at)


def _publish_failed(
    store: Store,
    actor: Actor,
    release_id: str,
    claimed: tuple[int, str],
    exc: BaseException,
    *,
    landed: bool,
) -> None:
    """Record a publish that did not end PUBLISHED: stopped, failed, or written but unrecorded.

    *claimed* is the version and claim this publish set; the claim is withdrawn.
    """
    reason = str(exc) if isinstance(exc, SynthgateError) else type(exc).__name__
    stopped = isinstance(exc, PublishStopped) and not landed
    version, claim = claimed
    with store.session() as s:
        current = _load(s, release_id, lock=True)
        if current.version == version:
            _bump(s, current, version, publish_claim=None)  # APPROVED: it may be published again
        elif current.publish_claim == claim:
            current.publish_claim = None  # revoked or expired meanwhile: final, version kept
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="release.publish_stopped" if stopped else "release.publish_failed",
            subject=release_id,
            details={"error": redact(reason), "target_written": landed, **actor.audit_details()},
        )
    if stopped:
        expire_due(store, release_ids=[release_id])  # one that ran out of time is marked so


# --------------------------------------------------------------------------- policies


def _policy_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    old_rules = {r["id"]: r for r in old.get("rules", [])}
    new_rules = {r["id"]: r for r in new.get("rules", [])}
    changes: list[str] = []
    for rid in sorted(old_rules.keys() & new_rules.keys()):
        for key in sorted(old_rules[rid].keys() | new_rules[rid].keys()):
            before, after = old_rules[rid].get(key), new_rules[rid].get(key)
            if before != after:
                changes.append(f"rule {rid}: {key} {before} -> {after}")
    for key in sorted((old.keys() | new.keys()) - {"rules", "name"}):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            for sub in sorted(before.keys() | after.keys()):
                if before.get(sub) != after.get(sub):
                    changes.append(f"{key}.{sub}: {before.get(sub)} -> {after.get(sub)}")
        elif before != after:
            changes.append(f"{key}: {before} -> {after}")
    return {
        "added_rules": sorted(new_rules.keys() - old_rules.keys()),
        "removed_rules": sorted(old_rules.keys() - new_rules.keys()),
        "changes": changes,
    }


def record_policy(store: Store, pack: PolicyPack, *, actor: str) -> str | None:
    """Remember the version of *pack* a run used; audit its first use and every change.

    Returns the audit action written (``policy.recorded`` the first time a run uses
    the pack, ``policy.changed`` when a run uses other content under its name) or
    ``None`` when the pack is unchanged. (Registering a pack is ``policy.registered``,
    see :func:`synthgate.release.register_policy`.)
    """
    content = pack.model_dump(mode="json")
    digest = pack.content_hash
    with store.session() as s:
        s.scalar(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update())
        row = s.get(PolicyRecord, pack.name)
        if row is not None and row.sha256 == digest:
            return None
        details: dict[str, Any] = {"policy": pack.name, "sha256": digest}
        if row is None:
            action = "policy.recorded"
            details["rules"] = [r.id for r in pack.rules]
            row = PolicyRecord(name=pack.name)
            s.add(row)
        else:
            action = "policy.changed"
            details["previous_sha256"] = row.sha256
            details.update(_policy_changes(json.loads(row.content), content))
        row.sha256 = digest
        row.content = canonical_json(content)
        row.recorded_at = utcnow()
        row.recorded_by = actor
        AuditLog(store).append_in(
            s, actor=actor, action=action, subject=f"policy:{pack.name}", details=details
        )
    return action
