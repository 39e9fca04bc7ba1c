"""A release's report follows its decisions: re-rendered with the status and a decisions
section after each one, each decision's audit event holding the sha256 of the report it
was made on, earlier renderings kept, and ``audit verify --report`` finding them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from tests.unit.test_release_service import BOB, CAROL, PAST, make_release

from synthgate.audit import AuditLog
from synthgate.cli import main
from synthgate.release import (
    Actor,
    Role,
    approve,
    auto_approve,
    expire_due,
    load_policy,
    publish,
    reject,
    revoke,
)
from synthgate.reporting import write_report
from synthgate.store import Store
from synthgate.store.models import ReleaseRow

ENG = Actor("erin", Role.ENGINEER, True)
ROOT = Actor("root", Role.ADMIN, True)
CANARY = "ZQX-CANARY-VALUE"


@pytest.fixture(autouse=True)
def _no_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Chromium: a decision renders JSON and HTML only (a PDF is printed on request)."""
    monkeypatch.setenv("SYNTHGATE_CHROMIUM", str(tmp_path / "no-such-browser"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def with_report(store: Store, tmp_path: Path, **release: Any) -> Path:
    """A release whose run left a report, as the pipeline writes it; its report folder."""
    row = make_release(store, tmp_path, **release)
    folder = tmp_path / "runs" / row.run_id / "report"
    write_report(
        {
            "run": {
                "id": row.run_id,
                "job": "test-job",
                "requested_by": row.requested_by,
                "finished_at": "2026-12-05T03:10:11.123456Z",
            },
            "provenance": {"synthesizer": "sdv-gaussian-copula", "rows_synthetic": 40},
            "gate": {"policy": "default", "status": row.status, "outcomes": []},
            "release": {"id": row.id, "status": row.status, "expires_at": row.expires_at},
        },
        folder,
    )
    with store.session() as s:
        s.execute(
            update(ReleaseRow)
            .where(ReleaseRow.id == row.id)
            .values(report_path=str(folder / "report.html"))
        )
    return folder


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def report_of(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "report.json").read_text("utf-8"))
    return data


def event(store: Store, action: str) -> dict[str, Any]:
    [found] = list(AuditLog(store).events(action=action))
    return found.details


# --------------------------------------------------------------------------- re-rendering


def test_approval_renders_the_report_again_with_status_and_decision(
    store: Store, tmp_path: Path
) -> None:
    folder = with_report(store, tmp_path)
    shown = (folder / "report.json").read_bytes()
    approve(store, BOB, "rel-1", comment="reviewed <b>privacy</b> and fidelity")
    data = report_of(folder)
    assert data["release"]["status"] == "APPROVED"
    assert (data["release"]["version"], data["release"]["approvals"]) == (2, 1)
    assert data["decisions"]["requested_by"] == {"name": "alice", "role": None}
    [row] = data["decisions"]["events"]
    assert (row["event"], row["actor"], row["role"], row["version"]) == (
        "release.approved",
        "bob",
        "approver",
        2,
    )
    assert row["comment"] == "reviewed <b>privacy</b> and fidelity"
    assert row["report_sha256"] == hashlib.sha256(shown).hexdigest()
    assert row["report_version"] == 1
    html = (folder / "report.html").read_text("utf-8")
    summary = html.split('<section id="decisions">')[0]
    assert 'class="pill pass">APPROVED</span>' in summary
    assert "approved by bob (approver) on " in summary
    assert "AWAITING_APPROVAL" not in html
    decisions = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert "reviewed &lt;b&gt;privacy&lt;/b&gt; and fidelity" in decisions
    assert "<b>privacy</b>" not in html
    assert "Signature block" in decisions
    assert f"sha256 {row['report_sha256']}" in decisions
    # what the decision was made on is kept, byte for byte
    assert (folder / "history" / "report.v1.json").read_bytes() == shown


def test_a_first_of_two_approvals_is_a_decision_row_and_the_status_stays(
    store: Store, tmp_path: Path
) -> None:
    folder = with_report(store, tmp_path, required=2)
    approve(store, BOB, "rel-1", comment="first look fine")
    data = report_of(folder)
    assert data["release"]["status"] == "AWAITING_APPROVAL"
    assert [d["event"] for d in data["decisions"]["events"]] == ["release.approval_recorded"]
    v2 = sha(folder / "report.json")
    approve(store, CAROL, "rel-1", comment="second look fine")
    data = report_of(folder)
    assert data["release"]["status"] == "APPROVED"
    assert [(d["actor"], d["report_sha256"]) for d in data["decisions"]["events"]][1] == (
        "carol",
        v2,
    )
    assert sorted(p.name for p in (folder / "history").iterdir()) == [
        "report.v1.html",
        "report.v1.json",
        "report.v2.html",
        "report.v2.json",
    ]


@pytest.mark.parametrize(
    ("decide", "action", "status"),
    [
        ("approve", "release.approved", "APPROVED"),
        ("reject", "release.rejected", "REJECTED"),
        ("revoke", "release.revoked", "REVOKED"),
    ],
)
def test_each_decision_event_holds_the_hash_of_the_report_shown_before_it(
    store: Store, tmp_path: Path, decide: str, action: str, status: str
) -> None:
    folder = with_report(store, tmp_path)
    json_before, html_before = sha(folder / "report.json"), sha(folder / "report.html")
    if decide == "approve":
        approve(store, BOB, "rel-1", comment="fine")
    elif decide == "reject":
        reject(store, BOB, "rel-1", reason="too close to real rows")
    else:
        revoke(store, ROOT, "rel-1", reason="withdrawn")
    details = event(store, action)
    assert details["report_sha256"] == json_before
    assert details["report_html_sha256"] == html_before
    assert details["report_version"] == 1
    assert sha(folder / "report.json") != json_before  # rendered again …
    assert report_of(folder)["release"]["status"] == status  # … with the new status
    assert sha(folder / "history" / "report.v1.json") == json_before
    assert AuditLog(store).verify().ok


def test_publishing_is_recorded_on_the_approved_report_and_shown(
    store: Store, tmp_path: Path
) -> None:
    folder = with_report(store, tmp_path)
    approve(store, BOB, "rel-1", comment="fine")
    approved = sha(folder / "report.json")
    publish(store, ENG, "rel-1")
    assert event(store, "release.published")["report_sha256"] == approved
    data = report_of(folder)
    assert data["release"]["status"] == "PUBLISHED"
    assert data["release"]["published_rows"] == 40
    assert [d["event"] for d in data["decisions"]["events"]] == [
        "release.approved",
        "release.published",
    ]
    assert data["decisions"]["events"][1]["report_sha256"] == approved
    assert data["decisions"]["events"][1]["status"] == "PUBLISHED"
    assert "40 rows written to table customers_syn" in (folder / "report.html").read_text()
    assert sha(folder / "history" / "report.v2.json") == approved


def test_auto_approval_and_expiry_are_rendered_and_hashed(store: Store, tmp_path: Path) -> None:
    folder = with_report(store, tmp_path)
    before = sha(folder / "report.json")
    auto_approve(store, "rel-1", policy=load_policy("internal-testing"))
    assert event(store, "release.approved")["report_sha256"] == before
    [row] = report_of(folder)["decisions"]["events"]
    assert (row["actor"], row["role"]) == ("system", "system")
    assert row["comment"].startswith("approved automatically")

    other = with_report(store, tmp_path, release_id="rel-2", expires_at=PAST)
    shown = sha(other / "report.json")
    assert expire_due(store) == ["rel-2"]
    assert event(store, "release.expired")["report_sha256"] == shown
    data = report_of(other)
    assert data["release"]["status"] == "EXPIRED"
    assert data["decisions"]["events"][0]["actor"] == "system"


def test_a_stale_pdf_is_not_left_beside_a_newer_rendering(store: Store, tmp_path: Path) -> None:
    folder = with_report(store, tmp_path)
    (folder / "report.pdf").write_bytes(b"%PDF- awaiting approval")
    approve(store, BOB, "rel-1", comment="fine")
    assert not (folder / "report.pdf").exists()  # printed again on request
    assert (folder / "history" / "report.v1.pdf").read_bytes() == b"%PDF- awaiting approval"


def test_with_chromium_each_decision_prints_the_pdf(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synthgate.reporting as reporting

    printed: list[tuple[str, str]] = []

    def fake_pdf(html: Path, pdf: Path | None = None, *, footer: str = "") -> Path:
        assert pdf is not None
        printed.append(
            (json.loads(html.with_suffix(".json").read_text())["release"]["status"], footer)
        )
        pdf.write_bytes(b"%PDF-")
        return pdf

    monkeypatch.setattr(reporting, "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(reporting, "write_pdf", fake_pdf)
    folder = with_report(store, tmp_path)
    approve(store, BOB, "rel-1", comment="fine")
    assert printed == [("APPROVED", "synthgate report · run-rel-1 · rel-1")]
    assert (folder / "report.pdf").is_file()


def test_a_release_without_a_report_is_decided_as_before(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path)
    approve(store, BOB, "rel-1", comment="fine")
    details = event(store, "release.approved")
    assert "report_sha256" not in details


def test_decisions_put_no_real_value_in_the_report(store: Store, tmp_path: Path) -> None:
    folder = with_report(store, tmp_path)
    approve(store, BOB, "rel-1", comment="fine")
    for path in (folder / "report.json", folder / "report.html"):
        assert CANARY not in path.read_text("utf-8")
        # nothing from the synthetic table either: the report holds no row
        assert "monthly_spend" not in path.read_text("utf-8")


# --------------------------------------------------------------------------- audit verify --report


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], store: Store, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("SYNTHGATE_STORE_URL", str(store.engine.url))
    monkeypatch.setenv("SYNTHGATE_USER", "dave")
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_audit_verify_report_names_the_decisions_made_on_a_file(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = with_report(store, tmp_path)
    approve(store, BOB, "rel-1", comment="fine")
    publish(store, ENG, "rel-1")
    shown = folder / "history" / "report.v1.json"
    code, out, err = run_cli(monkeypatch, capsys, store, "audit", "verify", "--report", str(shown))
    assert code == 0, err
    assert out.count("\n") == 1
    assert out.startswith(f"ok: {shown} (sha256 {sha(shown)[:12]}…) is the report rel-1 approved")
    assert "by bob at 20" in out
    # the approved rendering is what publishing was decided on; its HTML works too
    html = folder / "history" / "report.v2.html"
    code, out, _ = run_cli(monkeypatch, capsys, store, "audit", "verify", "--report", str(html))
    assert code == 0
    assert "rel-1 published by erin" in out
    code, out, _ = run_cli(
        monkeypatch, capsys, store, "audit", "verify", "--report", str(shown), "--json"
    )
    data = json.loads(out)
    assert (code, data["ok"], data["decisions"][0]["matched"]) == (0, True, "report_sha256")


def test_audit_verify_report_refuses_a_changed_or_undecided_file(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = with_report(store, tmp_path)
    approve(store, BOB, "rel-1", comment="fine")
    tampered = tmp_path / "tampered.json"
    text = (folder / "history" / "report.v1.json").read_text("utf-8")
    tampered.write_text(text.replace('"AWAITING_APPROVAL"', '"APPROVED"'), "utf-8")
    for path in (tampered, folder / "report.json"):  # changed; rendered after the last decision
        code, out, _ = run_cli(monkeypatch, capsys, store, "audit", "verify", "--report", str(path))
        assert code == 1
        assert out.count("\n") == 1
        assert "no decision in the audit log was made on this report" in out
    code, out, err = run_cli(
        monkeypatch, capsys, store, "audit", "verify", "--report", str(tmp_path / "nope.json")
    )
    assert code == 2
    assert "no report file" in err
    assert "Traceback" not in out + err
