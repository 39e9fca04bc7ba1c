"""Console pages over a real session: sign-in, CSRF, throttling, roles, headers, /metrics."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from synthgate.audit import AuditLog
from synthgate.release import (
    LOCK_AFTER_FAILURES,
    Actor,
    ReleaseStatus,
    Role,
    approvals_of,
    get_release,
    guard_for,
    set_password,
)
from synthgate.store import Store, utcnow
from synthgate.store.models import RunRow
from synthgate.web import CONSOLE_CSP, create_app
from synthgate.web import _queries as q
from tests.web._seed import BLOCKING_GATE, PASSWORD, Seeded, make_release

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login_token(client: TestClient) -> str:
    match = _CSRF.search(client.get("/login").text)
    assert match
    return match.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> str:
    """Sign in; the session's CSRF token."""
    response = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": login_token(client)},
    )
    assert response.status_code == 303, response.text
    match = _CSRF.search(client.get("/releases").text)
    assert match
    return match.group(1)


def test_pages_need_a_session(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    for path in (
        "/releases",
        "/releases/rel-1",
        "/releases/rel-1/report",
        "/audit",
        "/budget",
        "/runs",
    ):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert client.post("/releases/rel-1/approve", data={"text": "x"}).status_code == 401
    assert client.get("/healthz").text == "ok"


def test_sign_in_open_pages_and_sign_out(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    csrf = sign_in(client, "dave")
    for path in ("/releases", "/releases/rel-1", "/audit", "/budget", "/runs", "/runs/run-rel-1"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "dave" in response.text
    assert "rel-1" in client.get("/releases?status=AWAITING_APPROVAL&requester=alice").text
    assert "rel-1" not in client.get("/releases?status=APPROVED").text
    assert "rel-1" not in client.get("/releases?requester=bob").text
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/releases").status_code == 303


def test_session_cookie_flags(seeded: Seeded) -> None:
    with TestClient(
        create_app(seeded.store), base_url="https://testserver", follow_redirects=False
    ) as c:
        response = c.post(
            "/login", data={"username": "bob", "password": PASSWORD, "csrf_token": login_token(c)}
        )
    cookies = response.headers.get_list("set-cookie")
    (cookie,) = [c for c in cookies if c.startswith("__Host-sg_session=")]
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert "Strict-Transport-Security" in response.headers


def test_login_without_the_form_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "bob", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/releases").status_code == 303


def test_wrong_password_is_refused_and_audited(client: TestClient, seeded: Seeded) -> None:
    response = client.post(
        "/login",
        data={"username": "bob", "password": "nope nope nope", "csrf_token": login_token(client)},
    )
    assert response.status_code == 401
    assert "wrong user name or password" in response.text
    failed = list(AuditLog(seeded.store).events(action="auth.failed"))
    assert failed[-1].subject == "bob"
    assert failed[-1].details["via"] == "console"
    assert "nope" not in str(failed[-1].details)


def test_login_throttling_locks_the_user_and_address_out(
    client: TestClient, seeded: Seeded
) -> None:
    for _ in range(LOCK_AFTER_FAILURES):
        client.post(
            "/login",
            data={
                "username": "bob",
                "password": "wrong password!",
                "csrf_token": login_token(client),
            },
        )
    locked = client.post(
        "/login", data={"username": "bob", "password": PASSWORD, "csrf_token": login_token(client)}
    )
    assert locked.status_code == 429
    assert "too many failed sign-ins" in locked.text
    assert client.get("/releases").status_code == 303
    # another user from the same address is not locked out
    sign_in(client, "carol")
    guard_for(seeded.store).flush()
    reasons: Counter[str] = Counter()
    for event in AuditLog(seeded.store).events(action="auth.failed"):
        reasons.update(event.details["reasons"])
    assert reasons["locked out after repeated failures"] == 1
    assert sum(reasons.values()) == LOCK_AFTER_FAILURES + 1


def test_post_without_csrf_is_refused(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    csrf = sign_in(client, "bob")
    refused = client.post("/releases/rel-1/approve", data={"text": "looks fine"})
    assert refused.status_code == 403
    forged = client.post(
        "/releases/rel-1/approve", data={"text": "looks fine", "csrf_token": "x" + csrf}
    )
    assert forged.status_code == 403
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    via_header = client.post(
        "/releases/rel-1/approve",
        data={"text": "looks fine", "confirmed": "yes"},
        headers={"X-CSRF-Token": csrf},
    )
    assert via_header.status_code == 303
    assert get_release(seeded.store, "rel-1").status == "APPROVED"


def test_page_actions_follow_the_service_rules(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded, requested_by="bob")
    csrf = sign_in(client, "bob")
    unconfirmed = client.post("/releases/rel-1/approve", data={"text": "mine", "csrf_token": csrf})
    assert unconfirmed.status_code == 403
    assert "four-eyes" in unconfirmed.text
    assert "You are approving" not in unconfirmed.text
    own = client.post(
        "/releases/rel-1/approve", data={"text": "mine", "csrf_token": csrf, "confirmed": "yes"}
    )
    assert own.status_code == 403
    assert "four-eyes" in own.text
    blank = client.post("/releases/rel-1/reject", data={"text": " ", "csrf_token": csrf})
    assert blank.status_code == 403  # their own release: refused before the text is read
    client.cookies.clear()
    csrf = sign_in(client, "dave")
    auditor = client.post(
        "/releases/rel-1/approve", data={"text": "ok", "csrf_token": csrf, "confirmed": "yes"}
    )
    assert auditor.status_code == 403
    assert "may not approve or reject releases" in auditor.text
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    client.cookies.clear()
    csrf = sign_in(client, "carol")
    done = client.post(
        "/releases/rel-1/approve",
        data={"text": "ok", "csrf_token": csrf, "expected_version": "1", "confirmed": "yes"},
    )
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "Your approval is recorded." in page.text
    assert "APPROVED" in page.text
    assert client.get("/audit?action=release.approved").text.count("rel-1") >= 1


def test_approve_buttons_are_shown_only_to_deciders(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    sign_in(client, "dave")
    assert 'action="/releases/rel-1/approve"' not in client.get("/releases/rel-1").text
    client.cookies.clear()
    sign_in(client, "bob")
    assert 'action="/releases/rel-1/approve"' in client.get("/releases/rel-1").text


def test_security_headers(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    sign_in(client, "dave")
    page = client.get("/releases/rel-1")
    assert page.headers["content-security-policy"] == CONSOLE_CSP
    assert "frame-ancestors 'none'" in CONSOLE_CSP
    assert "'unsafe-inline'" not in CONSOLE_CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # only <script src=...>
    report = client.get("/releases/rel-1/report")
    assert report.status_code == 200
    assert "synthgate report" in report.text
    assert report.headers["cache-control"] == "no-store"
    assert "sandbox" in report.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in report.headers["content-security-policy"]
    static = client.get("/static/htmx.min.js")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")


def test_open_redirects_are_not_followed(client: TestClient) -> None:
    response = client.post(
        "/login",
        data={
            "username": "bob",
            "password": PASSWORD,
            "csrf_token": login_token(client),
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/releases"


def test_disabling_a_user_or_changing_the_password_ends_sessions(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, "bob")
    assert client.get("/releases").status_code == 200
    set_password(seeded.store, Actor("root", Role.ADMIN, True), "bob", "another long password")
    assert client.get("/releases").status_code == 303


def test_metrics_are_read_from_the_store(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded, "rel-1")
    make_release(seeded, "rel-2", epsilon=0.5)
    text = client.get("/metrics").text
    assert 'synthgate_releases{status="AWAITING_APPROVAL"} 2.0' in text
    assert "synthgate_release_queue_length 2.0" in text
    assert 'synthgate_epsilon_spent{source="sqlite:///source.db#customers"} 2.0' in text
    assert 'synthgate_runs{status="succeeded"} 2.0' in text
    client.post(
        "/api/v1/releases/rel-1/reject", json={"reason": "no"}, headers=seeded.headers("bob")
    )
    text = client.get("/metrics").text
    assert "synthgate_release_queue_length 1.0" in text
    assert 'synthgate_releases{status="REJECTED"} 1.0' in text


def test_metrics_token_when_configured(seeded: Seeded) -> None:
    with TestClient(
        create_app(seeded.store, secure_cookies=False, metrics_token="s3cret-metrics")
    ) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
        assert ok.status_code == 200
        assert "synthgate_release_queue_length" in ok.text


def test_report_of_a_missing_file_is_404(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    row = make_release(seeded)
    Path(row.report_path).unlink()
    sign_in(client, "dave")
    assert client.get("/releases/rel-1/report").status_code == 404
    assert client.get("/releases/rel-nope").status_code == 404
    assert client.get("/runs/nope").status_code == 404


@pytest.mark.parametrize("since", ["7d", "2000-01-01"])
def test_audit_filters(client: TestClient, seeded: Seeded, since: str) -> None:
    make_release(seeded)
    client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("bob")
    )
    sign_in(client, "dave")
    page = client.get(f"/audit?actor=bob&action=release.&since={since}")
    assert page.status_code == 200
    assert "release.approved" in page.text
    assert "Hash chain verified" in page.text
    assert "user.added" not in page.text
    assert client.get("/audit?since=yesterday-ish").status_code == 400


def test_the_audit_page_verifies_from_its_last_checkpoint(
    client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthgate.audit import AuditLog as Log

    walked: list[int] = []
    real = Log._verify_in

    def counting(self: Log, s: Any, start: Any) -> Any:
        report = real(self, s, start)
        walked.append(report.checked)
        return report

    monkeypatch.setattr(Log, "_verify_in", counting)
    sign_in(client, "dave")
    total = len(list(AuditLog(seeded.store).events()))
    first = client.get("/audit")
    assert "all " in first.text
    assert walked == [total]  # the first view walks the whole chain
    for i in range(3):
        AuditLog(seeded.store).append(actor="x", action="test.event", subject=str(i))
    second = client.get("/audit")
    assert walked[-1] == 3  # only what came after the checkpoint
    assert f"events {total + 1} to {total + 3} checked now" in second.text
    assert "Check the whole chain" in second.text
    client.get("/audit")
    assert walked[-1] == 0
    client.get("/audit?full=1")
    assert walked[-1] == total + 3
    # an event rewritten after it was verified is found at the checkpoint
    with seeded.store.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE audit_events SET hash = 'x' WHERE seq = {total + 3}")
    broken = client.get("/audit")
    assert f"Hash chain BROKEN at event {total + 3}" in broken.text


def test_a_console_with_the_wrong_audit_key_does_not_start(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthgate.audit import AuditKeyError

    monkeypatch.setenv("SYNTHGATE_AUDIT_KEY", "a-key-this-log-never-had")
    with pytest.raises(AuditKeyError, match=r"not keyed \(sha256\) but SYNTHGATE_AUDIT_KEY is set"):
        create_app(seeded.store)
    monkeypatch.delenv("SYNTHGATE_AUDIT_KEY")
    assert create_app(seeded.store) is not None


# --------------------------------------------------------------------------- the review flow


def _forms(html: str) -> set[str]:
    """The release actions a page offers (``form-approve``, …)."""
    return set(re.findall(r'id="form-(approve|reject|publish|revoke)"', html))


def test_the_queue_shows_verdicts_rule_epsilon_synthesizer(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, "rel-ok")
    make_release(seeded, "rel-blocked-0123456789", status=ReleaseStatus.BLOCKED, gate=BLOCKING_GATE)
    sign_in(client, "dave")
    page = client.get("/releases").text
    rows = dict(re.findall(r'<tr data-release="([^"]+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {"rel-ok", "rel-blocked-0123456789"}  # full ids
    blocked = rows["rel-blocked-0123456789"]
    assert "blocked: fidelity.quality 0.61 &lt; 0.75" in blocked
    assert "BLOCKED" in blocked
    ok = rows["rel-ok"]
    # the report's advisory failures are in the queue, not only a green gate
    assert "fail: bias (advisory), quality (advisory)" in ok
    assert "Bias and fairness" in ok
    assert "fail (advisory)" in ok
    for row in rows.values():
        assert ">1.5<" in row  # ε
        assert "sdv-gaussian-copula" in row
        assert "alice" in row
        assert "test-job" in row


def test_the_release_page_leads_from_summary_to_report_to_decision(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded)
    sign_in(client, "bob")
    page = client.get("/releases/rel-1").text
    summary, frame, decide = (
        page.index('id="summary"'),
        page.index("<iframe"),
        page.index('id="decide"'),
    )
    assert summary < frame < decide
    verdicts = page[page.index('id="verdicts"') : page.index("</table>", summary)]
    assert re.search(r"Bias and fairness</td><td><span[^>]*>fail \(advisory\)", verdicts)
    assert re.search(r"Data quality</td><td><span[^>]*>fail \(advisory\)", verdicts)
    assert re.search(r"Fidelity</td><td><span[^>]*>pass</span>", verdicts)  # the gate's
    assert "ε = 1.5, δ = 1e-5" in page
    # approve and reject: separate forms, each with its own labelled reason
    assert _forms(page) == {"approve", "reject"}
    assert '<label for="text-approve">Approval comment (required)</label>' in page
    assert '<label for="text-reject">Reason for rejecting (required)</label>' in page
    assert page.count("(required)") == 2


def test_a_blocked_release_names_its_failed_rule_and_offers_nothing(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, status=ReleaseStatus.BLOCKED, gate=BLOCKING_GATE)
    sign_in(client, "root")
    page = client.get("/releases/rel-1").text
    failed = page[page.index('id="failed-rules"') :]
    assert "fidelity-quality" in failed
    assert "fidelity.quality 0.61 &lt; 0.75" in failed
    assert _forms(page) == set()
    assert "A blocked release is final" in page


def test_approving_needs_a_confirmation(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    csrf = sign_in(client, "bob")
    form = {"text": "utility fine", "csrf_token": csrf, "expected_version": "1"}
    first = client.post("/releases/rel-1/approve", data=form)
    assert first.status_code == 200
    assert "You are approving as <b>bob</b>" in first.text
    for shown in ("rel-1", "test-job", "ε = 1.5", "fail: bias (advisory)", "utility fine"):
        assert shown in first.text, shown
    assert 'name="confirmed" value="yes"' in first.text
    assert f'name="csrf_token" value="{csrf}"' in first.text
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    assert not list(AuditLog(seeded.store).events(action="release.approved"))
    # the confirmation is a form post like any other: no CSRF token, no decision
    assert (
        client.post("/releases/rel-1/approve", data={**form, "csrf_token": "", "confirmed": "yes"})
    ).status_code == 403
    confirmed = client.post("/releases/rel-1/approve", data={**form, "confirmed": "yes"})
    assert confirmed.status_code == 303
    assert get_release(seeded.store, "rel-1").status == "APPROVED"


def test_a_confirmation_of_an_outdated_version_is_refused(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, required=2)
    csrf = sign_in(client, "bob")
    form = {"text": "fine", "csrf_token": csrf, "expected_version": "1"}
    assert client.post("/releases/rel-1/approve", data=form).status_code == 200
    # meanwhile carol approves: the release's version moves on
    client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("carol")
    )
    late = client.post("/releases/rel-1/approve", data={**form, "confirmed": "yes"})
    assert late.status_code == 409
    assert [d.approver for d in approvals_of(seeded.store, "rel-1")] == ["carol"]


def test_a_decision_without_a_reason_is_not_confirmed(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    csrf = sign_in(client, "bob")
    blank = client.post("/releases/rel-1/reject", data={"text": "  ", "csrf_token": csrf})
    assert blank.status_code == 400
    assert "reason is required" in blank.text
    assert "You are rejecting" not in blank.text


@pytest.mark.parametrize(
    ("status", "user", "offered"),
    [
        (ReleaseStatus.AWAITING_APPROVAL, "bob", {"approve", "reject"}),
        (ReleaseStatus.AWAITING_APPROVAL, "alice", set()),  # the requester: four-eyes
        (ReleaseStatus.AWAITING_APPROVAL, "dave", set()),
        (ReleaseStatus.APPROVED, "bob", {"revoke"}),
        (ReleaseStatus.APPROVED, "alice", {"publish", "revoke"}),
        (ReleaseStatus.PUBLISHED, "bob", {"revoke"}),
        (ReleaseStatus.REJECTED, "root", set()),
        (ReleaseStatus.REVOKED, "root", set()),
        (ReleaseStatus.EXPIRED, "root", set()),
        (ReleaseStatus.BLOCKED, "root", set()),
    ],
)
def test_actions_follow_the_release_state(
    client: TestClient, seeded: Seeded, status: ReleaseStatus, user: str, offered: set[str]
) -> None:
    make_release(seeded, status=status)
    sign_in(client, user)
    assert _forms(client.get("/releases/rel-1").text) == offered


def test_revoke_is_refused_while_a_release_awaits_approval(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded)
    for user in ("alice", "bob"):  # the requester and an approver
        client.cookies.clear()
        csrf = sign_in(client, user)
        for confirmed in ("", "yes"):
            refused = client.post(
                "/releases/rel-1/revoke",
                data={"text": "withdraw", "csrf_token": csrf, "confirmed": confirmed},
            )
            assert refused.status_code == 409
            assert "only an approved or published release is revoked" in refused.text
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (ReleaseStatus.REJECTED, "approve"),
        (ReleaseStatus.APPROVED, "reject"),
        (ReleaseStatus.REVOKED, "revoke"),
        (ReleaseStatus.EXPIRED, "approve"),
    ],
)
def test_actions_in_a_wrong_state_are_refused(
    client: TestClient, seeded: Seeded, status: ReleaseStatus, action: str
) -> None:
    make_release(seeded, status=status)
    csrf = sign_in(client, "root")
    for confirmed in ("", "yes"):
        refused = client.post(
            f"/releases/rel-1/{action}",
            data={"text": "why", "csrf_token": csrf, "confirmed": confirmed},
        )
        assert refused.status_code == 409, refused.text
        assert "You are " not in refused.text  # no confirmation of what cannot happen
    assert get_release(seeded.store, "rel-1").status == status.value


def test_the_header_shows_the_status_now_and_the_report_its_own(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, status=ReleaseStatus.APPROVED, report_status="AWAITING_APPROVAL")
    sign_in(client, "dave")
    page = client.get("/releases/rel-1").text
    assert re.search(r'id="status"[^>]*>APPROVED<', page)
    assert (
        "This report was rendered when the release was <b>AWAITING_APPROVAL</b>; "
        "the release is <b>APPROVED</b> now."
    ) in page


def test_audit_details_are_readable(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    AuditLog(seeded.store).append(
        actor="alice",
        action="budget.charged",
        subject="rel-1",
        details={
            "epsilon": 1.23456789,
            "delta": 1e-05,
            "at": "2026-12-05T03:14:22.123456Z",
            "stages": {"train": {"epsilon": 0.5}},
            "failed": ["a", "b"],
        },
    )
    sign_in(client, "dave")
    page = client.get("/audit?action=budget.").text
    row = page[page.index("budget.charged") :]
    row = row[: row.index("</tr>")]
    assert "<dt>epsilon</dt><dd>1.23</dd>" in row
    assert "<dt>delta</dt><dd>1e-5</dd>" in row
    assert "<dt>at</dt><dd>2026-12-05 03:14 UTC</dd>" in row
    assert "<dt>train</dt><dd><dl" in row  # nested: a list in the list
    assert "<dt>failed</dt><dd>a, b</dd>" in row
    assert "=" not in re.sub(r"<[^>]+>", "", row)  # no key=value, no dict dump
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", page)  # no microseconds anywhere


# --------------------------------------------------------------------------- runs


def _run_row(run_id: str, *, status: str, error: str | None = None) -> RunRow:
    now = utcnow()
    return RunRow(
        id=run_id,
        job_name="test-job",
        spec_hash="0" * 64,
        source_key="sqlite:///source.db#customers",
        snapshot_id=None,
        synthesizer="dp-ctgan",
        status=status,
        requested_by="alice",
        started_at=now,
        finished_at=now,
        error=error,
        run_dir="/nonexistent/runs/" + run_id,
        spec_path=None,
    )


def test_the_runs_page_shows_every_run_with_its_outcome(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded, "rel-blocked", status=ReleaseStatus.BLOCKED, gate=BLOCKING_GATE)
    make_release(seeded, "rel-waits")
    seeded.store.create_run(
        _run_row(
            "run-refused",
            status="failed",
            error="privacy budget exceeded for sqlite:///source.db#customers\nmore",
        )
    )
    sign_in(client, "dave")
    page = client.get("/runs").text
    rows = dict(re.findall(r'<tr data-run="([^"]+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {"run-rel-blocked", "run-rel-waits", "run-refused"}
    assert re.search(r'class="pill s-blocked">blocked<', rows["run-rel-blocked"])
    assert "succeeded" not in page
    assert re.search(r">awaiting approval<", rows["run-rel-waits"])
    refused = rows["run-refused"]
    assert re.search(r">failed<", refused)
    assert "before it started" in refused
    assert "privacy budget exceeded for sqlite:///source.db#customers" in refused
    assert "more" not in refused  # the first line only
    detail = client.get("/runs/run-refused").text
    assert "Refused before it started" in detail


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        ({"release": {"policy": "no-such-pack"}}, 2, "no-such-pack"),
        (
            {"synthesis": {"synthesizer": "dp-ctgan", "privacy": {"epsilon": 12.0}}},
            5,
            "budget",
        ),
    ],
)
def test_a_run_refused_before_it_starts_is_listed(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: Any,
    change: dict[str, Any],
    code: int,
    named: str,
) -> None:
    from synthgate.cli import main
    from tests.conftest import base_spec

    spec = {**base_spec(demo_db, tmp_path), **change}
    assert main(["run", str(write_spec(spec))]) == code
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    try:
        (run,) = q.list_runs(store)
        assert run.status == "failed"
        assert named in (run.error or "")
        assert not Path(run.run_dir).exists()
        (outcome,) = q.run_outcomes(store, [run]).values()
        assert outcome["outcome"] == "failed"
        assert outcome["before_start"]
        (event,) = AuditLog(store).events(action="run.refused")
        assert event.subject == run.id
        assert event.details["exit_code"] == code
    finally:
        store.dispose()
