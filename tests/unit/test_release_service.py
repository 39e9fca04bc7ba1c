"""Release actions (approve, reject, revoke, expire, auto-approve) on real SQLite stores.

Releases are inserted directly (no pipeline run) so that each rule is tested on
its own; ``tests/e2e/test_release_flow.py`` runs the whole thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from synthgate.audit import AuditLog
from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import (
    ConfigError,
    ConflictError,
    PermissionDenied,
    ReleaseStateError,
    register_secret,
)
from synthgate.release import (
    SYSTEM,
    Actor,
    ReleaseStatus,
    Role,
    approvals_of,
    approve,
    auto_approve,
    expire_due,
    file_sha256,
    get_release,
    load_policy,
    read_policy_file,
    record_policy,
    reject,
    revoke,
    target_fingerprint,
)
from synthgate.store import Store, utcnow
from synthgate.store.models import ReleaseRow, RunRow

FUTURE = "2999-01-01T00:00:00.000000Z"
PAST = "2000-01-01T00:00:00.000000Z"

ALICE = Actor("alice", Role.ENGINEER, True)  # requests releases
BOB = Actor("bob", Role.APPROVER, True)
CAROL = Actor("carol", Role.APPROVER, True)
DAVE = Actor("dave", Role.AUDITOR, True)
ROOT = Actor("root", Role.ADMIN, True)

SCHEMA = TableSchema(
    "customers",
    (
        ColumnSchema("customer_id", LogicalType.INTEGER, nullable=False, native_type="INTEGER"),
        ColumnSchema("plan", LogicalType.CATEGORICAL, domain=("free", "pro")),
        ColumnSchema("monthly_spend", LogicalType.FLOAT),
        ColumnSchema("churned", LogicalType.BOOLEAN),
    ),
    primary_key=("customer_id",),
)


def synthetic_frame(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": range(1, rows + 1),
            "plan": ["free" if i % 3 else "pro" for i in range(rows)],
            "monthly_spend": [round(i * 1.5, 2) for i in range(rows)],
            "churned": [i % 4 == 0 for i in range(rows)],
        }
    )


def make_release(
    store: Store,
    tmp_path: Path,
    *,
    release_id: str = "rel-1",
    status: ReleaseStatus = ReleaseStatus.AWAITING_APPROVAL,
    requested_by: str = "alice",
    required: int = 1,
    expires_at: str = FUTURE,
    target_url: str | None = None,
    target_table: str = "customers_syn",
    mode: str = "replace",
) -> ReleaseRow:
    """A run folder as the pipeline leaves it (spec, schema, synthetic table) and its release."""
    run_id = f"run-{release_id}"
    run_dir = tmp_path / "runs" / run_id
    (run_dir / "sample").mkdir(parents=True)
    (run_dir / "extract").mkdir(parents=True)
    artifact = run_dir / "sample" / "synthetic.parquet"
    pq.write_table(pa.Table.from_pandas(synthetic_frame(), preserve_index=False), artifact)
    (run_dir / "extract" / "schema.json").write_text(json.dumps(SCHEMA.to_dict()))
    target_url = target_url or f"sqlite:///{tmp_path / 'target.db'}"
    spec = {
        "name": "test-job",
        "source": {"url": "sqlite:///source.db", "table": "customers"},
        "target": {"url": target_url, "table": target_table, "mode": mode},
    }
    spec_path = tmp_path / f"{release_id}.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    from synthgate.config import load_job_spec

    loaded = load_job_spec(spec_path)
    now = utcnow()
    store.create_run(
        RunRow(
            id=run_id,
            job_name="test-job",
            spec_hash=loaded.spec_hash,
            source_key="sqlite:///source.db#customers",
            snapshot_id=None,
            synthesizer="sdv-gaussian-copula",
            status="succeeded",
            requested_by=requested_by,
            started_at=now,
            finished_at=now,
            error=None,
            run_dir=str(run_dir),
            spec_path=str(spec_path),
        )
    )
    row = ReleaseRow(
        id=release_id,
        run_id=run_id,
        job_name="test-job",
        source_key="sqlite:///source.db#customers",
        status=status.value,
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        policy="default",
        target_url="redacted",
        target_table=target_table,
        target_mode=mode,
        rows=40,
        gate="[]",
        report_path="report.html",
        version=1,
        approvals_required=required,
        artifact_sha256=file_sha256(artifact),
        target_fingerprint=target_fingerprint(
            loaded.spec.target.url, loaded.spec.target_table, mode
        ),
    )
    store.add_release(row)
    return row


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def actions(store: Store, subject: str = "rel-1") -> list[str]:
    return [e.action for e in AuditLog(store).events(subject=subject)]


# --------------------------------------------------------------------------- approve / reject


def test_approval_by_a_second_person_approves_and_is_audited(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path)
    decision = approve(store, BOB, "rel-1", comment="report reviewed, looks fine")
    assert decision.status is ReleaseStatus.APPROVED
    assert (decision.approvals, decision.required, decision.version) == (1, 1, 2)
    release = get_release(store, "rel-1")
    assert (release.status, release.version) == ("APPROVED", 2)
    [row] = approvals_of(store, "rel-1")
    assert (row.approver, row.decision, row.comment, row.release_version) == (
        "bob",
        "approve",
        "report reviewed, looks fine",
        1,
    )
    [event] = list(AuditLog(store).events(action="release.approved"))
    assert event.actor == "bob"
    assert event.details["comment"] == "report reviewed, looks fine"
    assert event.details["actor_role"] == "approver"
    assert AuditLog(store).verify().ok


@pytest.mark.parametrize("decide", ["approve", "reject"])
def test_nobody_decides_on_their_own_release(store: Store, tmp_path: Path, decide: str) -> None:
    make_release(store, tmp_path, requested_by="bob")
    calls = {
        "approve": lambda: approve(store, BOB, "rel-1", comment="mine, but fine"),
        "reject": lambda: reject(store, BOB, "rel-1", reason="mine"),
    }
    with pytest.raises(PermissionDenied, match=r"bob requested release rel-1; .*four-eyes"):
        calls[decide]()
    release = get_release(store, "rel-1")
    assert (release.status, release.version) == ("AWAITING_APPROVAL", 1)
    assert approvals_of(store, "rel-1") == []


def test_admin_is_bound_by_four_eyes_too(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, requested_by="root")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        approve(store, ROOT, "rel-1", comment="ok")
    assert approve(store, BOB, "rel-1", comment="ok").status is ReleaseStatus.APPROVED


@pytest.mark.parametrize("actor", [ALICE, DAVE])
def test_only_approvers_and_admins_decide(store: Store, tmp_path: Path, actor: Actor) -> None:
    make_release(store, tmp_path, requested_by="someone-else")
    with pytest.raises(PermissionDenied, match=r"may not approve or reject releases"):
        approve(store, actor, "rel-1", comment="ok")
    assert get_release(store, "rel-1").status == "AWAITING_APPROVAL"


def test_bootstrap_actor_may_decide_but_not_on_their_own_release(
    store: Store, tmp_path: Path
) -> None:
    make_release(store, tmp_path, requested_by="alice")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        approve(store, Actor("alice", None, False), "rel-1", comment="ok")
    approve(store, Actor("bob", None, False), "rel-1", comment="ok")
    [event] = list(AuditLog(store).events(action="release.approved"))
    assert event.details["bootstrap"] is True
    assert event.details["authenticated"] is False


@pytest.mark.parametrize("text", ["", "   ", None])
def test_a_comment_is_required(store: Store, tmp_path: Path, text: str | None) -> None:
    make_release(store, tmp_path)
    with pytest.raises(ConfigError, match="a comment is required"):
        approve(store, BOB, "rel-1", comment=text)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="a reason is required"):
        reject(store, BOB, "rel-1", reason=text)  # type: ignore[arg-type]
    assert get_release(store, "rel-1").version == 1


def test_n_distinct_approvers(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, required=2)
    first = approve(store, BOB, "rel-1", comment="first look")
    assert (first.status, first.approvals, first.required) == (
        ReleaseStatus.AWAITING_APPROVAL,
        1,
        2,
    )
    with pytest.raises(PermissionDenied, match="bob has already decided on release rel-1"):
        approve(store, BOB, "rel-1", comment="again")
    second = approve(store, CAROL, "rel-1", comment="second look")
    assert (second.status, second.approvals) == (ReleaseStatus.APPROVED, 2)
    assert actions(store) == ["release.approval_recorded", "release.approved"]
    assert [a.approver for a in approvals_of(store, "rel-1")] == ["bob", "carol"]


def test_rejection_is_final(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, required=2)
    approve(store, BOB, "rel-1", comment="fine by me")
    decision = reject(store, CAROL, "rel-1", reason="fidelity too low for this use")
    assert decision.status is ReleaseStatus.REJECTED
    release = get_release(store, "rel-1")
    assert (release.closed_by, release.closed_reason) == ("carol", "fidelity too low for this use")
    with pytest.raises(
        ReleaseStateError, match="release rel-1 is REJECTED; it cannot become APPROVED"
    ):
        approve(store, ROOT, "rel-1", comment="overrule")
    assert actions(store)[-1] == "release.rejected"


@pytest.mark.parametrize(
    "status",
    [ReleaseStatus.BLOCKED, ReleaseStatus.APPROVED, ReleaseStatus.PUBLISHED, ReleaseStatus.REVOKED],
)
def test_only_releases_awaiting_approval_can_be_approved(
    store: Store, tmp_path: Path, status: ReleaseStatus
) -> None:
    make_release(store, tmp_path, status=status)
    with pytest.raises(ReleaseStateError, match=f"release rel-1 is {status.value}; it cannot"):
        approve(store, BOB, "rel-1", comment="ok")
    assert get_release(store, "rel-1").status == status.value


def test_unknown_release_is_a_clear_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="no release 'rel-nope'"):
        approve(store, BOB, "rel-nope", comment="ok")


def test_a_stale_version_is_a_conflict(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, required=2)
    approve(store, BOB, "rel-1", comment="first", expected_version=1)
    with pytest.raises(ConflictError, match="since you reviewed version 1: it is now"):
        approve(store, CAROL, "rel-1", comment="second", expected_version=1)
    assert approve(store, CAROL, "rel-1", comment="second", expected_version=2).status is (
        ReleaseStatus.APPROVED
    )


# --------------------------------------------------------------------------- expiry, revoke


def test_expired_release_cannot_be_approved_and_is_marked(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, expires_at=PAST)
    with pytest.raises(ReleaseStateError, match="release rel-1 is EXPIRED"):
        approve(store, BOB, "rel-1", comment="too late")
    assert get_release(store, "rel-1").status == "EXPIRED"
    [event] = list(AuditLog(store).events(action="release.expired"))
    assert event.actor == SYSTEM


def test_sweep_expires_only_what_is_due(store: Store, tmp_path: Path) -> None:
    for rid, status, expires in [
        ("rel-a", ReleaseStatus.AWAITING_APPROVAL, PAST),
        ("rel-b", ReleaseStatus.APPROVED, PAST),
        ("rel-c", ReleaseStatus.PUBLISHED, PAST),
        ("rel-d", ReleaseStatus.AWAITING_APPROVAL, FUTURE),
        ("rel-e", ReleaseStatus.REJECTED, PAST),
        ("rel-f", ReleaseStatus.BLOCKED, PAST),
    ]:
        make_release(store, tmp_path / rid, release_id=rid, status=status, expires_at=expires)
    assert expire_due(store, dry_run=True) == ["rel-a", "rel-b", "rel-c"]
    assert get_release(store, "rel-a").status == "AWAITING_APPROVAL"
    assert expire_due(store, actor=ROOT) == ["rel-a", "rel-b", "rel-c"]
    statuses = {r.id: r.status for r in store.list_releases()}
    assert statuses == {
        "rel-a": "EXPIRED",
        "rel-b": "EXPIRED",
        "rel-c": "EXPIRED",
        "rel-d": "AWAITING_APPROVAL",
        "rel-e": "REJECTED",
        "rel-f": "BLOCKED",
    }
    events = list(AuditLog(store).events(action="release.expired"))
    assert [(e.subject, e.details["swept_by"]) for e in events] == [
        ("rel-a", "root"),
        ("rel-b", "root"),
        ("rel-c", "root"),
    ]
    assert events[2].details["was_published"] is True
    assert expire_due(store) == []  # a second sweep finds nothing


def test_revoke_needs_a_reason_and_the_right_person(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, requested_by="alice")
    with pytest.raises(ConfigError, match="a reason is required"):
        revoke(store, BOB, "rel-1", reason=" ")
    with pytest.raises(PermissionDenied, match="may not revoke releases"):
        revoke(store, Actor("erin", Role.ENGINEER, True), "rel-1", reason="not mine")
    with pytest.raises(PermissionDenied):
        revoke(store, DAVE, "rel-1", reason="auditors read only")
    row = revoke(store, ALICE, "rel-1", reason="wrong source table")  # the requester may
    assert (row.status, row.closed_by, row.closed_reason) == (
        "REVOKED",
        "alice",
        "wrong source table",
    )
    with pytest.raises(
        ReleaseStateError, match="release rel-1 is REVOKED; it cannot become REVOKED"
    ):
        revoke(store, BOB, "rel-1", reason="again")
    [event] = list(AuditLog(store).events(action="release.revoked"))
    assert event.details["previous"] == "APPROVED"


def test_auto_approve_only_where_the_policy_allows(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path)
    with pytest.raises(PermissionDenied, match="does not allow auto-approval"):
        auto_approve(store, "rel-1", policy=load_policy("default"))
    assert auto_approve(store, "rel-1", policy=load_policy("internal-testing")) is (
        ReleaseStatus.APPROVED
    )
    [row] = approvals_of(store, "rel-1")
    assert row.approver == SYSTEM
    [event] = list(AuditLog(store).events(action="release.approved"))
    assert (event.actor, event.details["auto"], event.details["policy"]) == (
        SYSTEM,
        True,
        "internal-testing",
    )
    make_release(store, tmp_path / "b", release_id="rel-b", status=ReleaseStatus.BLOCKED)
    with pytest.raises(ReleaseStateError, match="BLOCKED"):
        auto_approve(store, "rel-b", policy=load_policy("internal-testing"))


# --------------------------------------------------------------------------- policy versions


def test_policy_first_use_and_changes_are_audited(store: Store, tmp_path: Path) -> None:
    pack = load_policy("default")
    assert record_policy(store, pack, actor="alice") == "policy.recorded"
    assert record_policy(store, pack, actor="alice") is None  # unchanged: no event
    changed_file = tmp_path / "default.yaml"
    raw: dict[str, Any] = yaml.safe_load(Path(pack.source).read_text())
    rules = {r["id"]: r for r in raw["rules"]}
    rules["fidelity"]["threshold"] = 0.8
    raw["rules"].remove(rules["no-pii-replay"])
    raw["required_approvals"] = 2
    changed_file.write_text(yaml.safe_dump(raw))
    assert record_policy(store, read_policy_file(changed_file), actor="bob") == "policy.changed"
    events = list(AuditLog(store).events(subject="policy:default"))
    assert [e.action for e in events] == ["policy.recorded", "policy.changed"]
    change = events[1].details
    assert change["previous_sha256"] == pack.content_hash
    assert change["removed_rules"] == ["no-pii-replay"]
    assert "rule fidelity: threshold 0.7 -> 0.8" in change["changes"]
    assert "required_approvals: 1 -> 2" in change["changes"]
    assert events[1].actor == "bob"


def test_decision_texts_never_carry_a_registered_secret(store: Store, tmp_path: Path) -> None:
    register_secret("svc-canary-8d1f")
    make_release(store, tmp_path)
    approve(store, BOB, "rel-1", comment="password svc-canary-8d1f looked fine")
    assert approvals_of(store, "rel-1")[0].comment == "password *** looked fine"
    store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))  # the WAL too
    assert b"looked fine" in raw  # the check below reads the right bytes
    assert b"svc-canary-8d1f" not in raw
    assert AuditLog(store).verify().ok


# --------------------------------------------------------------------------- four-eyes by person


def _users(store: Store) -> tuple[Actor, Actor]:
    """root (first admin, added in bootstrap mode) and alice (an admin root added)."""
    from synthgate.release import add_user

    add_user(store, Actor("installer", None, False), "root", Role.ADMIN)
    root = Actor("root", Role.ADMIN, True)
    add_user(store, root, "alice", Role.ADMIN)
    return root, Actor("alice", Role.ADMIN, True)


def _days_later(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_an_approver_the_requester_created_may_not_approve(store: Store, tmp_path: Path) -> None:
    from synthgate.release import add_user

    root, _ = _users(store)
    make_release(store, tmp_path, requested_by="root")
    add_user(store, root, "mint", Role.APPROVER)  # the requester mints an approver
    mint = Actor("mint", Role.APPROVER, True)
    with pytest.raises(PermissionDenied) as info:
        approve(store, mint, "rel-1", comment="looks fine")
    message = str(info.value)
    assert "mint may not approve release rel-1 of root: mint's account was created by root" in (
        message
    )
    assert "for 30 days" in message
    assert get_release(store, "rel-1").status == "AWAITING_APPROVAL"
    # after the window the account counts as independent
    assert approve(store, mint, "rel-1", comment="ok", now=_days_later(31)).status.value == (
        "APPROVED"
    )


def test_set_up_through_another_account_counts_too(store: Store, tmp_path: Path) -> None:
    from synthgate.release import add_user

    _, alice = _users(store)
    make_release(store, tmp_path, requested_by="alice")
    add_user(store, alice, "helper", Role.ADMIN)
    add_user(store, Actor("helper", Role.ADMIN, True), "mint", Role.APPROVER)
    with pytest.raises(
        PermissionDenied,
        match=r"mint's account was created by helper on .*; helper's account was created by alice",
    ):
        approve(store, Actor("mint", Role.APPROVER, True), "rel-1", comment="fine")


def test_an_approver_whose_token_the_requester_set_may_not_approve(
    store: Store, tmp_path: Path
) -> None:
    from synthgate.release import add_user, rotate_token, set_password

    root, alice = _users(store)
    add_user(store, root, "bob", Role.APPROVER)  # independent of alice
    make_release(store, tmp_path, requested_by="alice")
    make_release(store, tmp_path / "b", release_id="rel-2", requested_by="alice")
    rotate_token(store, alice, "bob")  # alice now holds bob's token
    with pytest.raises(PermissionDenied, match="bob's account was given a new API token by alice"):
        approve(store, BOB, "rel-1", comment="fine")
    set_password(store, Actor("bob", Role.APPROVER, True), "bob", "bob's own new password")
    with pytest.raises(PermissionDenied, match="new API token by alice"):
        approve(store, BOB, "rel-2", comment="fine")  # setting it himself does not undo that


def test_the_window_comes_from_the_pack_and_bootstrap_steps_are_no_links(
    store: Store, tmp_path: Path
) -> None:
    from synthgate.release import add_user

    root, _ = _users(store)
    add_user(store, root, "mint", Role.APPROVER)
    mint = Actor("mint", Role.APPROVER, True)
    make_release(store, tmp_path, requested_by="root")
    pack = load_policy("default").model_copy(update={"approver_independence_days": 2})
    record_policy(store, pack, actor="root")
    with pytest.raises(PermissionDenied, match="for 2 days"):
        approve(store, mint, "rel-1", comment="fine", now=_days_later(1))
    assert approve(store, mint, "rel-1", comment="fine", now=_days_later(3)).approvals == 1
    # root was added by "installer" in bootstrap mode, unchecked: root may approve its releases
    make_release(store, tmp_path / "i", release_id="rel-i", requested_by="installer")
    assert approve(store, root, "rel-i", comment="fine").status.value == "APPROVED"
    assert load_policy("default").model_dump().get("approver_independence_days", "unset") == (
        "unset"
    )
