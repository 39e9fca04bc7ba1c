"""Tables of the metadata store.

Times are stored as ISO-8601 UTC strings (``2026-01-31T12:00:00.000000Z``):
they sort correctly, compare equal across SQLite and PostgreSQL, and hash the
same in the audit chain on every backend.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApprovalRow",
    "AuditEvent",
    "AuditHead",
    "Base",
    "BudgetEntry",
    "LoginThrottle",
    "PolicyRecord",
    "PolicyVersionRow",
    "ReleaseRow",
    "RunRow",
    "SourceRow",
    "StageRow",
    "UserRow",
    "WebSession",
]


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(64), index=True)
    spec_hash: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(512), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(80))
    synthesizer: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[str] = mapped_column(String(32))
    finished_at: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    run_dir: Mapped[str] = mapped_column(Text)
    # absolute path of the job spec; publish re-reads it for the target credentials
    spec_path: Mapped[str | None] = mapped_column(Text, default=None)


class StageRow(Base):
    __tablename__ = "stages"
    __table_args__ = (Index("ix_stages_run_name", "run_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[str] = mapped_column(String(32))
    finished_at: Mapped[str | None] = mapped_column(String(32))
    seconds: Mapped[float | None]
    artifact: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="{}")


class ReleaseRow(Base):
    __tablename__ = "releases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), unique=True)
    job_name: Mapped[str] = mapped_column(String(64), index=True)
    source_key: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(String(128))
    target_url: Mapped[str] = mapped_column(Text)
    target_table: Mapped[str] = mapped_column(String(128))
    target_mode: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    gate: Mapped[str] = mapped_column(Text, default="[]")
    report_path: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    # sha256 of runs/<run>/sample/synthetic.parquet, checked again before publishing
    artifact_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # sha256 of the target without its password (see release._service.target_fingerprint)
    target_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    publish_claim: Mapped[str | None] = mapped_column(String(200), default=None)
    published_at: Mapped[str | None] = mapped_column(String(32), default=None)
    published_by: Mapped[str | None] = mapped_column(String(128), default=None)
    published_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    published_rows: Mapped[int | None] = mapped_column(Integer, default=None)
    closed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    closed_at: Mapped[str | None] = mapped_column(String(32), default=None)
    closed_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # the registered version of the release's pack (policy_versions); None: an installed pack
    policy_version: Mapped[int | None] = mapped_column(Integer, default=None)


class ApprovalRow(Base):
    """One reviewer's decision on a release; a reviewer decides once per release."""

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("release_id", "approver", name="uq_approvals_release_approver"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"), index=True)
    approver: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    release_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32))


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(128))
    disabled_at: Mapped[str | None] = mapped_column(String(32), default=None)
    # argon2id hash of the web console password; None: the user cannot sign in to the console
    password_hash: Mapped[str | None] = mapped_column(Text, default=None)


class WebSession(Base):
    """A signed-in console session. Only the sha256 of the cookie value is stored."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    last_seen_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32), index=True)


class LoginThrottle(Base):
    """Failed console sign-ins per user name and client address, and the lock they caused."""

    __tablename__ = "login_throttle"

    user_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[str] = mapped_column(String(32))
    locked_until: Mapped[str | None] = mapped_column(String(32), default=None)


class PolicyRecord(Base):
    """The last version of each policy pack a run used; a change is audited."""

    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[str] = mapped_column(String(32))
    recorded_by: Mapped[str] = mapped_column(String(128))


class PolicyVersionRow(Base):
    """One registered version of a policy pack (``synthgate policy register``).

    ``content`` is the pack file as registered, ``sha256`` the sha256 of its
    bytes: a job that names a pack file is accepted only when the file's sha256
    is that of a registered version, and then the stored content is what runs.
    """

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_policy_versions_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)  # the file it was registered from
    registered_by: Mapped[str] = mapped_column(String(128))
    registered_role: Mapped[str | None] = mapped_column(String(16), default=None)
    registered_at: Mapped[str] = mapped_column(String(32))


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The anchor of the audit chain: last seq and hash, sealed (HMAC with the key).

    A bare chain cannot show that its last events were deleted; the head can,
    because it is updated in the same transaction as every append. ``algorithm``
    is the store's one audit algorithm (``sha256`` or ``hmac-sha256``), changed
    only by a rekey; ``key_check`` tells whether a process holds the key.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(16))
    seal: Mapped[str] = mapped_column(String(64))
    key_check: Mapped[str | None] = mapped_column(String(64), default=None)


class BudgetEntry(Base):
    """One line of a source's privacy-budget ledger.

    ``stage`` tells what the line is: ``total`` (a run's settled charge, what the
    budget counts), a stage name (the per-stage split of a total), ``reserved`` (a
    run's open reservation: counted until the run settles or releases it) or
    ``masked-copy`` (real rows released with masking only: ε is infinite, counted
    apart from the finite sum).
    """

    __tablename__ = "budget_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_key: Mapped[str] = mapped_column(String(512), index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    stage: Mapped[str] = mapped_column(String(64))
    mechanism: Mapped[str] = mapped_column(String(64))
    epsilon: Mapped[float]
    delta: Mapped[float]
    created_at: Mapped[str] = mapped_column(String(32))


class SourceRow(Base):
    """A source table registered under a name, with its budget limits (``sources add``)."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(512), index=True)
    url: Mapped[str] = mapped_column(Text)  # never a literal password
    table_name: Mapped[str] = mapped_column(String(256))
    epsilon_limit: Mapped[float]
    delta_limit: Mapped[float | None] = mapped_column(default=None)
    registered_by: Mapped[str] = mapped_column(String(128))
    registered_role: Mapped[str | None] = mapped_column(String(16), default=None)
    registered_at: Mapped[str] = mapped_column(String(32))
