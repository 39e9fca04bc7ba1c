"""Through the CLI: a job uses only installed packs and packs an admin or approver registered.

A pack sets the budget, auto-approval and the number of approvers, so a pack file
of one's own must not carry a release past the gate: it is refused (exit 2) before
the source is read, until an admin or approver registers it; a file changed after
its registration is refused again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests._cli import Cli
from tests.conftest import base_spec, register_pack

from synthgate.audit import AuditLog
from synthgate.store import Store
from synthgate.store.models import BudgetEntry, ReleaseRow, RunRow, StageRow

SpecWriter = Callable[[dict[str, Any]], Path]

#: an engineer's own pack: no rules, a huge budget, approved by the system
GENEROUS = "name: generous\nbudget: {epsilon_per_source: 1000}\nauto_approve: true\nrules: []\n"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


def _store(home: Path) -> Store:
    return Store(f"sqlite:///{home / 'synthgate.db'}")


def _count(store: Store, table: type[Any]) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _spec(demo_db: Path, tmp_path: Path, policy: str) -> dict[str, Any]:
    spec = base_spec(demo_db, tmp_path)
    spec["release"] = {"policy": policy}
    spec["pii"] = {"sample_values": 40}
    return spec


def test_an_own_pack_file_is_refused_before_the_source_is_read_until_an_approver_registers_it(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    cli.users(alice="engineer", carol="approver")
    pack = tmp_path / "generous.yaml"
    pack.write_text(GENEROUS, "utf-8")
    job = write_spec(_spec(demo_db, tmp_path, str(pack)))
    expected = (
        f"release.policy: pack file '{pack}' is not registered (sha256 {_sha(pack)[:8]}…); "
        f"an admin or approver registers it with: synthgate policy register {pack}"
    )

    for extra in ([], ["--dry-run"]):
        code, out, err = cli("alice", "run", str(job), *extra, "--json")
        assert code == 2, err
        assert json.loads(out)["problems"] == [expected]
        assert "Traceback" not in err
    code, _, err = cli("alice", "run", str(job))
    assert code == 2
    assert expected in err
    store = _store(home)
    # nothing was read: no stage ran (a refused attempt is at most a failed run without
    # stages), no release, the ledger untouched, no run folder
    assert (_count(store, StageRow), _count(store, ReleaseRow), _count(store, BudgetEntry)) == (
        0,
        0,
        0,
    )
    with store.session() as s:
        assert all(r.status == "failed" for r in s.scalars(select(RunRow)))
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())

    # an engineer cannot register it; nothing is registered or audited
    code, _, err = cli("alice", "policy", "register", str(pack))
    assert code == 1
    assert "may not register policy packs" in err
    assert "generous" not in {p["name"] for p in cli.json("alice", "policy", "list")}
    assert "policy.registered" not in {e.action for e in AuditLog(store).events()}

    done = cli.json("carol", "policy", "register", str(pack))
    assert done == {
        "name": "generous",
        "version": 1,
        "sha256": _sha(pack),
        "created": True,
        "previous_version": None,
    }
    (event,) = [e for e in AuditLog(store).events() if e.action == "policy.registered"]
    assert event.actor == "carol"
    assert event.subject == "policy:generous"
    assert {k: event.details[k] for k in ("name", "version", "sha256", "auto_approve")} == {
        "name": "generous",
        "version": 1,
        "sha256": _sha(pack),
        "auto_approve": True,
    }
    assert event.details["actor_role"] == "approver"
    code, out, _ = cli("alice", "audit", "verify")
    assert code == 0, out

    # registered: the same file is accepted, and the release names the registered version
    outcome = cli.json("alice", "run", str(job), expect=0)
    assert outcome["status"] == "APPROVED"  # carol's registration allowed auto-approval
    release = store.get_release(outcome["release_id"])
    assert release is not None
    assert (release.policy, release.policy_version) == ("generous", 1)
    report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
    assert report["gate"]["policy"] == "generous"
    assert report["gate"]["policy_version"] == 1
    assert report["gate"]["policy_sha256"] == _sha(pack)
    assert "<code>generous v1</code>" in Path(outcome["report_html"]).read_text("utf-8")
    (created,) = [e for e in AuditLog(store).events() if e.action == "release.created"]
    assert (created.details["policy"], created.details["policy_version"]) == ("generous", 1)


def test_a_pack_file_changed_after_registration_is_refused_until_registered_again(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    pack = tmp_path / "tight.yaml"
    pack.write_text("name: tight\nbudget: {epsilon_per_source: 5}\nrules: []\n", "utf-8")
    register_pack(pack)
    first = _sha(pack)
    job = write_spec(_spec(demo_db, tmp_path, str(pack)))
    assert cli.json("alice", "run", str(job), "--dry-run", expect=0)

    pack.write_text("name: tight\nbudget: {epsilon_per_source: 1000}\nrules: []\n", "utf-8")
    problems = cli.json("alice", "run", str(job), expect=2)["problems"]
    assert problems == [
        f"release.policy: pack file '{pack}' is not registered (sha256 {_sha(pack)[:8]}…); "
        f"an admin or approver registers it with: synthgate policy register {pack}"
    ]
    code, _, err = cli("alice", "policy", "show", str(pack))
    assert code == 2
    assert "is not registered" in err
    # the registered name still means what was registered
    shown = cli.json("alice", "policy", "show", "tight")
    assert (shown["version"], shown["sha256"], shown["budget"]["epsilon_per_source"]) == (
        1,
        first,
        5,
    )
    # `policy lint` reads any file, registered or not
    code, out, _ = cli("alice", "policy", "lint", str(pack))
    assert code == 0, out

    again = cli.json("alice", "policy", "register", str(pack))
    assert (again["version"], again["previous_version"], again["created"]) == (2, 1, True)
    assert cli.json("alice", "run", str(job), "--dry-run", expect=0)
    listed = {p["name"]: p for p in cli.json("alice", "policy", "list")}
    assert (listed["tight"]["version"], listed["tight"]["sha256"]) == (2, _sha(pack))
    assert listed["tight"]["versions"] == 2
    assert (listed["default"]["kind"], listed["default"]["version"]) == ("installed", None)


def test_registering_identical_content_again_changes_nothing(
    home: Path, tmp_path: Path, cli: Cli
) -> None:
    pack = tmp_path / "same.yaml"
    pack.write_text("name: same\nrules: []\n", "utf-8")
    code, out, _ = cli("alice", "policy", "register", str(pack))
    assert code == 0
    assert f"registered same v1, sha256 {_sha(pack)[:12]}" in out
    code, out, _ = cli("alice", "policy", "register", str(pack))
    assert code == 0
    assert "same v1 already has this content" in out
    assert "nothing changed" in out
    again = cli.json("alice", "policy", "register", str(pack))
    assert (again["created"], again["version"]) == (False, 1)
    store = _store(home)
    events = [e for e in AuditLog(store).events() if e.action == "policy.registered"]
    assert len(events) == 1
    listed = {p["name"]: p for p in cli.json("alice", "policy", "list")}
    assert (listed["same"]["version"], listed["same"]["sha256"]) == (1, _sha(pack))
    assert listed["same"]["registered_by"] == "alice"
    assert listed["same"]["registered_at"]
    # the same content under another name would make a file lead to two packs
    code, _, err = cli("alice", "policy", "register", str(pack), "--name", "other")
    assert code == 2
    assert "already registered as same v1" in err
    # an installed pack's name cannot be taken
    code, _, err = cli("alice", "policy", "register", str(pack), "--name", "default")
    assert code == 2
    assert "'default' is an installed policy pack" in err
    code, out, _ = cli("alice", "audit", "verify")
    assert code == 0, out


def test_a_pack_with_lint_errors_is_not_registered(home: Path, tmp_path: Path, cli: Cli) -> None:
    pack = tmp_path / "bad.yaml"
    pack.write_text(
        "name: bad\nrules:\n"
        "  - {id: a, metric: fidelity.quality, op: '>=', threshold: 0.8, explain: x}\n"
        "  - {id: b, metric: fidelity.quality, op: '<=', threshold: 0.5, explain: y}\n",
        "utf-8",
    )
    code, _, err = cli("alice", "policy", "register", str(pack))
    assert code == 2
    assert "lint error" in err
    assert "bad" not in {p["name"] for p in cli.json("alice", "policy", "list")}


def test_the_registrant_of_an_auto_approving_pack_does_not_approve_their_own_release(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    cli.users()
    pack = tmp_path / "generous.yaml"
    pack.write_text(GENEROUS, "utf-8")
    assert cli.json("root", "policy", "register", str(pack))["created"]
    job = write_spec(_spec(demo_db, tmp_path, "generous"))  # by name, not by file
    outcome = cli.json("root", "run", str(job), expect=4)
    assert outcome["status"] == "AWAITING_APPROVAL"
    store = _store(home)
    (withheld,) = [
        e for e in AuditLog(store).events() if e.action == "release.auto_approval_withheld"
    ]
    assert withheld.subject == outcome["release_id"]
    assert "root registered pack generous and requested the release" in withheld.details["reason"]
    assert not [
        e
        for e in AuditLog(store).events()
        if e.action == "release.approved" and e.subject == outcome["release_id"]
    ]


def test_an_unregistered_pii_pack_file_is_refused_too(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    pack = tmp_path / "keep-all.yaml"
    pack.write_text("name: keep-all\npii: {quasi_identifier: keep, free_text: redact}\n", "utf-8")
    spec = _spec(demo_db, tmp_path, "default")
    spec["pii"] = {"policy": str(pack)}
    job = write_spec(spec)
    problems = cli.json("alice", "run", str(job), "--dry-run", expect=2)["problems"]
    assert problems == [
        f"pii.policy: pack file '{pack}' is not registered (sha256 {_sha(pack)[:8]}…); "
        f"an admin or approver registers it with: synthgate policy register {pack}"
    ]
    register_pack(pack)
    assert cli.json("alice", "run", str(job), "--dry-run", expect=0)
