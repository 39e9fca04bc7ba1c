"""End to end through the CLI: run → AWAITING_APPROVAL → four-eyes → approve → publish → audit.

Each test runs the real pipeline on the 300-row demo table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from tests._cli import Cli
from tests.conftest import base_spec

from synthgate.store import Store

SpecWriter = Callable[[dict[str, Any]], Path]
pytestmark = pytest.mark.slow


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


def test_four_eyes_release_flow_with_users(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    # bootstrap: the first user is an admin, who then adds the others
    cli.tokens["root"] = cli.json("root", "users", "add", "root", "--role", "admin")["token"]
    for name, role in [("alice", "engineer"), ("bob", "approver"), ("dave", "auditor")]:
        cli.tokens[name] = cli.json("root", "users", "add", name, "--role", role)["token"]
    spec = write_spec(base_spec(demo_db, tmp_path))

    # with users in the store, nobody runs anonymously
    code, _, err = cli("mallory", "run", str(spec))
    assert code == 1
    assert "SYNTHGATE_TOKEN is not set" in err
    assert not (home / "runs").exists()

    outcome = cli.json("alice", "run", str(spec), expect=4)
    assert outcome["status"] == "AWAITING_APPROVAL"
    rid = outcome["release_id"]

    # the requester cannot approve, an auditor cannot either, a comment is required
    code, _, err = cli("alice", "approve", rid, "--comment", "my own work is great")
    assert code == 1
    assert "may not approve or reject releases" in err
    code, _, err = cli("dave", "approve", rid, "--comment", "ok")
    assert code == 1
    assert "role auditor" in err
    code, _, err = cli("bob", "approve", rid)
    assert code == 2
    assert "--comment" in err
    code, _, err = cli("alice", "publish", rid)
    assert code == 2
    assert f"release {rid} is AWAITING_APPROVAL; it cannot become PUBLISHED" in err

    shown = cli.json("dave", "releases", "show", rid)
    decision = cli.json(
        "bob",
        "approve",
        rid,
        "--comment",
        "report reviewed: no replayed PII",
        "--if-version",
        str(shown["version"]),
    )
    assert decision["status"] == "APPROVED"

    code, _, err = cli("bob", "publish", rid)  # approvers decide, engineers ship
    assert code == 1
    assert "may not publish releases" in err
    published = cli.json("alice", "publish", rid)
    assert published["status"] == "PUBLISHED"
    assert published["rows"] == 300

    # the target holds exactly the approved synthetic table
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'released.db'}")
    written = pd.read_sql_table("customers_syn", engine)
    engine.dispose()
    synthetic = pd.read_parquet(outcome["synthetic_path"])
    assert list(written.columns) == list(synthetic.columns)
    assert sorted(written["email"]) == sorted(synthetic["email"])
    assert written["monthly_spend"].sum() == pytest.approx(synthetic["monthly_spend"].sum())

    # publishing again (a scheduler's retry) writes nothing and succeeds
    code, out, err = cli("alice", "publish", rid)
    assert code == 0, err
    assert f"already published {rid}" in out
    assert "nothing written" in out
    again = cli.json("alice", "publish", rid)
    assert again["already_published"] is True
    assert again["content_hash"] == published["content_hash"]
    assert published["already_published"] is False
    code, _, err = cli("dave", "publish", rid)  # the check of the role comes first
    assert code == 1
    assert "may not publish releases" in err

    shown = cli.json("dave", "releases", "show", rid)
    assert shown["status"] == "PUBLISHED"
    assert shown["published"]["content_hash"] == published["content_hash"]
    assert [(d["approver"], d["decision"]) for d in shown["decisions"]] == [("bob", "approve")]

    # the audit trail of this release, in order
    code, out, _ = cli("dave", "audit", "log", "--release", rid, "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    actions = [e["action"] for e in events]
    assert actions[0] == "run.started"
    for earlier, later in [
        ("gate.evaluated", "release.created"),
        ("release.created", "release.approved"),
        ("release.approved", "release.publish_started"),
        ("release.publish_started", "release.published"),
    ]:
        assert actions.index(earlier) < actions.index(later)
    approved = next(e for e in events if e["action"] == "release.approved")
    assert (approved["actor"], approved["details"]["actor_role"]) == ("bob", "approver")
    assert {e["action"] for e in events} >= {"stage.finished", "pii.classified", "run.finished"}

    export = tmp_path / "audit.jsonl"
    code, _, _ = cli("dave", "audit", "export", str(export))
    assert code == 0
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert {"user.added", "auth.failed", "policy.recorded", "release.published"} <= {
        e["action"] for e in exported
    }
    tokens = list(cli.tokens.values())
    exported_text = export.read_text()
    assert not any(t in exported_text for t in tokens), "a token reached the audit log"
    engine = sa.create_engine(f"sqlite:///{demo_db}")
    real = pd.read_sql_table("customers", engine)
    engine.dispose()
    canaries = [*real["email"], *real["ssn"], *real["name"], *real["phone"]]
    assert not any(c in exported_text for c in canaries), "a real value reached the audit log"

    code, out, _ = cli("dave", "audit", "verify")
    assert code == 0
    assert "audit log intact" in out

    # tampering with the approval is detected and located
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE audit_events SET actor = 'alice' WHERE action = 'release.approved'"
        )
    store.dispose()
    code, out, _ = cli("dave", "audit", "verify", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["first_bad_seq"] == approved["seq"]


def test_bootstrap_demo_flow_self_approval_refused(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    spec = write_spec(base_spec(demo_db, tmp_path))
    rid = cli.json("alice", "run", str(spec), expect=4)["release_id"]
    code, _, err = cli("alice", "approve", rid, "--comment", "looks fine to me")
    assert code == 1
    assert "alice requested release" in err
    assert "four-eyes" in err
    assert cli.json("bob", "approve", rid, "--comment", "second pair of eyes")["status"] == (
        "APPROVED"
    )
    assert cli.json("alice", "publish", rid)["rows"] == 300
    assert (tmp_path / "released.db").exists()
    code, _, _ = cli("carol", "audit", "verify")
    assert code == 0
    with sa.create_engine(f"sqlite:///{home / 'synthgate.db'}").begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)"
        )
    code, out, _ = cli("carol", "audit", "verify")
    assert code == 1
    assert "missing" in out


def test_internal_testing_pack_auto_approves(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["release"] = {"policy": "internal-testing", "expires_after": "1d"}
    outcome = cli.json("alice", "run", str(write_spec(spec)), expect=0)
    assert outcome["status"] == "APPROVED"
    shown = cli.json("alice", "releases", "show", outcome["release_id"])
    assert [(d["approver"], d["decision"]) for d in shown["decisions"]] == [("system", "approve")]
    assert cli.json("alice", "publish", outcome["release_id"])["status"] == "PUBLISHED"


def test_blocked_release_exits_3_and_cannot_be_approved(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["release"] = {"policy": "strict"}  # a non-private synthesizer is blocked
    outcome = cli.json("alice", "run", str(write_spec(spec)), expect=3)
    assert outcome["status"] == "BLOCKED"
    code, _, err = cli("bob", "approve", outcome["release_id"], "--comment", "override")
    assert code == 2
    assert "is BLOCKED; it cannot become APPROVED" in err
    code, out, _ = cli("bob", "releases", "expire", "--dry-run")
    assert code == 0
    assert "0 release(s) due" in out
