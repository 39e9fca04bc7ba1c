"""The thin CLI over release actions: reject, revoke, expire, show and the audit commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.test_release_service import PAST, make_release

from synthgate.cli import main
from synthgate.release import ReleaseStatus
from synthgate.store import Store


@pytest.fixture
def store(home: Path) -> Store:
    return Store(f"sqlite:///{home / 'synthgate.db'}")


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("SYNTHGATE_USER", user)
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_reject_and_revoke_through_the_cli(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_release(store, tmp_path / "a", release_id="rel-a")
    make_release(store, tmp_path / "b", release_id="rel-b", status=ReleaseStatus.APPROVED)
    code, _, err = run(monkeypatch, capsys, "bob", "reject", "rel-a")
    assert code == 2
    assert "--reason" in err
    code, out, _ = run(monkeypatch, capsys, "bob", "reject", "rel-a", "--reason", "too noisy")
    assert code == 0
    assert "now REJECTED" in out
    code, _, err = run(monkeypatch, capsys, "bob", "approve", "rel-a", "-m", "changed my mind")
    assert code == 2
    assert "release rel-a is REJECTED; it cannot become APPROVED" in err
    assert len(err.strip().splitlines()) == 1

    code, out, _ = run(
        monkeypatch, capsys, "bob", "revoke", "rel-b", "--reason", "source was wrong", "--json"
    )
    assert code == 0
    assert json.loads(out)["status"] == "REVOKED"
    code, out, _ = run(monkeypatch, capsys, "dave", "releases", "show", "rel-b", "--json")
    shown = json.loads(out)
    assert shown["closed"] == {
        "at": shown["closed"]["at"],
        "by": "bob",
        "reason": "source was wrong",
    }


def test_if_version_guards_a_stale_review(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_release(store, tmp_path, release_id="rel-a", required=2)
    assert (
        run(monkeypatch, capsys, "bob", "approve", "rel-a", "-m", "ok", "--if-version", "1")[0] == 0
    )
    code, _, err = run(
        monkeypatch, capsys, "carol", "approve", "rel-a", "-m", "ok", "--if-version", "1"
    )
    assert code == 1
    assert "changed by someone else since you reviewed version 1" in err
    assert "synthgate releases show rel-a" in err


def test_expire_sweep_and_audit_queries(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_release(store, tmp_path / "a", release_id="rel-a", expires_at=PAST)
    make_release(store, tmp_path / "b", release_id="rel-b")
    code, out, _ = run(monkeypatch, capsys, "cron", "releases", "expire", "--dry-run", "--json")
    assert json.loads(out) == {"expired": [], "due": ["rel-a"], "dry_run": True}
    code, out, _ = run(monkeypatch, capsys, "cron", "releases", "expire")
    assert code == 0
    assert out.strip() == "1 release(s) expired: rel-a"

    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "log", "--release", "rel-a", "--json")
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["release.expired"]
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "log", "--since", "1h")
    assert "release.expired" in out
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "log", "--since", "2999-01-01")
    assert out == ""
    code, _, err = run(monkeypatch, capsys, "dave", "audit", "log", "--since", "soon")
    assert code == 2
    assert "--since 'soon' is not a time" in err
    code, _, err = run(monkeypatch, capsys, "dave", "audit", "log", "--release", "rel-zzz")
    assert code == 2
    assert "no release 'rel-zzz'" in err

    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "export", "-")
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["release.expired"]
    code, _, err = run(monkeypatch, capsys, "dave", "audit", "export", str(tmp_path / "no" / "x"))
    assert code == 2
    assert "cannot write the audit export" in err
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "verify", "--json")
    assert json.loads(out)["ok"] is True


def test_audit_key_rekey_and_verify_through_the_cli(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    make_release(store, tmp_path / "b", release_id="rel-b")
    run(monkeypatch, capsys, "bob", "reject", "rel-b", "--reason", "not needed")
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "verify")
    assert code == 0
    assert out.startswith("audit log intact (sha256): events 1 to 1 verified; head 1 ")

    key = "a-fresh-audit-key-0001"
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    code, out, err = run(monkeypatch, capsys, "root", "audit", "rekey", "--new-key-stdin")
    assert code == 0, err
    assert "1 events moved from sha256 to hmac-sha256, recorded as event 2" in out
    assert key not in out + err

    # a process started without the key refuses to write, in one line, and writes nothing
    make_release(store, tmp_path / "c", release_id="rel-c")
    code, _, err = run(monkeypatch, capsys, "bob", "approve", "rel-c", "-m", "fine")
    assert code == 2
    assert err.count("\n") == 1
    assert "keyed (hmac-sha256) but SYNTHGATE_AUDIT_KEY is not set; nothing was written" in err
    monkeypatch.setenv("SYNTHGATE_AUDIT_KEY", "the-wrong-key-00001")
    code, _, err = run(monkeypatch, capsys, "bob", "approve", "rel-c", "-m", "fine")
    assert code == 2
    assert "not the key this store's audit log is keyed with" in err
    assert "the-wrong-key" not in err
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "verify")
    assert code == 1
    assert "not the key" in out

    monkeypatch.setenv("SYNTHGATE_AUDIT_KEY", key)
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "verify", "--json")
    report = json.loads(out)
    assert report["ok"] is True
    assert (report["algorithm"], report["first_seq"], report["last_seq"]) == ("hmac-sha256", 1, 2)
    code, _, _ = run(monkeypatch, capsys, "bob", "approve", "rel-c", "-m", "fine")
    assert code == 0
    code, out, _ = run(monkeypatch, capsys, "dave", "audit", "log", "--json")
    assert [json.loads(line)["action"] for line in out.splitlines()] == [
        "release.rejected",
        "audit.rekeyed",
        "release.approved",
    ]
