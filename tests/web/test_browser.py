"""The console in a real browser (Playwright driving Debian's Chromium) against uvicorn.

Screenshots go to ``$SYNTHGATE_TEST_ARTIFACTS`` (default ``test-artifacts/web``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from synthgate.audit import AuditLog
from synthgate.release import ReleaseStatus, get_release
from synthgate.reporting import CHROMIUM_ARGS
from tests.conftest import need_chromium
from tests.web._seed import (
    BLOCKING_GATE,
    CRM_TABLES,
    PASSWORD,
    REAL_CELLS,
    SYNTHETIC_CELLS,
    Seeded,
    make_multitable_release,
    make_release,
)
from tests.web._server import running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=need_chromium(), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("SYNTHGATE_TEST_ARTIFACTS") or "test-artifacts") / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def site(seeded: Seeded) -> Iterator[str]:
    make_release(seeded, "rel-1")
    with running(seeded.store) as base:
        yield base


def sign_in(page: Page, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    expect(page.locator("#whoami")).to_contain_text(user)


def test_approve_as_a_second_user_and_see_the_audit_event(
    browser: Browser, site: str, seeded: Seeded, artifacts: Path
) -> None:
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, site, "bob")
    page.screenshot(path=str(artifacts / "01-queue.png"), full_page=True)
    page.click("text=rel-1")
    expect(page.locator("#status")).to_have_text("AWAITING_APPROVAL")
    expect(page.frame_locator("iframe.report").locator("#summary")).to_contain_text("fidelity")
    page.screenshot(path=str(artifacts / "02-release.png"), full_page=True)
    page.fill("#form-approve textarea[name=text]", "report reviewed: utility and privacy fine")
    page.click("#form-approve button[type=submit]")
    # clicking Approve shows what is approved; nothing is recorded yet
    expect(page.locator("#confirm-who")).to_have_text("You are approving as bob (approver).")
    expect(page.locator("#confirm")).to_contain_text("rel-1")
    expect(page.locator("#confirm")).to_contain_text("ε = 1.5")
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    page.screenshot(path=str(artifacts / "03-confirm.png"), full_page=True)
    page.click("#form-confirm button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Your approval is recorded.")
    expect(page.locator("#status")).to_have_text("APPROVED")
    page.screenshot(path=str(artifacts / "04-approved.png"), full_page=True)
    page.goto(f"{site}/audit")
    expect(page.locator("#chain")).to_contain_text("Hash chain verified")
    row = page.locator("#events tbody tr", has_text="release.approved")
    expect(row).to_contain_text("rel-1")
    expect(row).to_contain_text("bob")
    page.screenshot(path=str(artifacts / "05-audit.png"), full_page=True)
    assert get_release(seeded.store, "rel-1").status == "APPROVED"
    assert errors == []  # no CSP violation, no script error
    context.close()


def test_the_queue_shows_each_release_verdict(
    browser: Browser, seeded: Seeded, artifacts: Path
) -> None:
    make_release(seeded, "rel-1")
    make_release(seeded, "rel-blocked", status=ReleaseStatus.BLOCKED, gate=BLOCKING_GATE)
    with running(seeded.store) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        sign_in(page, base, "dave")
        blocked = page.locator("#rows tr[data-release=rel-blocked]")
        expect(blocked).to_contain_text("blocked: fidelity.quality 0.61 < 0.75")
        waiting = page.locator("#rows tr[data-release=rel-1]")
        expect(waiting).to_contain_text("Bias and fairness fail (advisory)")
        expect(waiting).to_contain_text("sdv-gaussian-copula")
        expect(waiting).to_contain_text("1.5")
        page.screenshot(path=str(artifacts / "06-queue-verdicts.png"), full_page=True)
        page.click("text=rel-blocked")
        expect(page.locator("#failed-rules")).to_contain_text(
            "fidelity-quality: fidelity.quality 0.61 < 0.75"
        )
        expect(page.locator("#decide")).to_contain_text("A blocked release is final")
        page.screenshot(path=str(artifacts / "07-blocked.png"), full_page=True)
        context.close()


def test_clicking_approve_alone_does_not_approve(
    browser: Browser, site: str, seeded: Seeded
) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, "carol")
    page.goto(f"{site}/releases/rel-1")
    page.fill("#form-approve textarea[name=text]", "fine")
    page.click("#form-approve button[type=submit]")
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#cancel")
    expect(page.locator("#status")).to_have_text("AWAITING_APPROVAL")
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    assert not list(AuditLog(seeded.store).events(action="release.approved"))
    context.close()


def test_revoke_is_offered_only_once_approved(
    browser: Browser, seeded: Seeded, artifacts: Path
) -> None:
    make_release(seeded, "rel-1")
    make_release(seeded, "rel-ok", status=ReleaseStatus.APPROVED)
    with running(seeded.store) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, base, "bob")
        page.goto(f"{base}/releases/rel-1")
        expect(page.locator("#form-approve")).to_have_count(1)
        expect(page.locator("#form-reject")).to_have_count(1)
        expect(page.locator("#form-revoke")).to_have_count(0)
        page.goto(f"{base}/releases/rel-ok")
        expect(page.locator("#form-revoke label")).to_have_text("Reason for revoking (required)")
        expect(page.locator("#form-approve")).to_have_count(0)
        page.screenshot(path=str(artifacts / "08-approved-revoke.png"), full_page=True)
        context.close()


def test_audit_details_are_readable(browser: Browser, site: str, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, "dave")
    page.goto(f"{site}/audit")
    cell = page.locator("#events tbody tr", has_text="user.added").first.locator("td").last
    expect(cell.locator("dl.details dt").first).to_be_visible()
    text = cell.inner_text()
    assert "=" not in text
    assert "{" not in text
    times = page.locator("#events tbody tr td:nth-child(2)").all_inner_texts()
    assert times
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", t) for t in times)
    page.screenshot(path=str(artifacts / "09-audit-details.png"), full_page=True)
    context.close()


def test_htmx_filters_the_queue_without_a_reload(browser: Browser, site: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, "dave")
    page.goto(f"{site}/releases")
    page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
    page.select_option("select[name=status]", "APPROVED")
    expect(page.locator("#rows")).to_contain_text("No release matches.")
    assert "status=APPROVED" in page.url
    assert page.evaluate("window.__marker") == 1
    context.close()


def test_self_approval_is_refused(browser: Browser, seeded: Seeded, artifacts: Path) -> None:
    make_release(seeded, "rel-own", requested_by="bob")
    with running(seeded.store) as base:
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, base, "bob")
        page.goto(f"{base}/releases/rel-own")
        expect(page.locator("#form-approve")).to_have_count(0)
        expect(page.locator("#action-note")).to_contain_text("four-eyes")
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert csrf
        response = page.request.post(
            f"{base}/releases/rel-own/approve",
            form={"text": "approving my own", "csrf_token": csrf, "confirmed": "yes"},
            max_redirects=0,
        )
        assert response.status == 403
        assert "four-eyes" in response.text()
        page.screenshot(path=str(artifacts / "10-self-approval.png"), full_page=True)
        context.close()
    assert get_release(seeded.store, "rel-own").status == "AWAITING_APPROVAL"


def test_an_auditor_cannot_approve(browser: Browser, site: str, seeded: Seeded) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, "dave")
    page.goto(f"{site}/releases/rel-1")
    expect(page.locator("#form-approve")).to_have_count(0)
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert csrf
    # the button is hidden, but the server is what refuses: post the form anyway
    response = page.request.post(
        f"{site}/releases/rel-1/approve",
        form={"text": "auditors approve nothing", "csrf_token": csrf},
        max_redirects=0,
    )
    assert response.status == 403
    assert "may not approve or reject releases" in response.text()
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    context.close()


def test_a_post_without_csrf_token_is_refused(browser: Browser, site: str, seeded: Seeded) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site, "carol")
    response = page.request.post(
        f"{site}/releases/rel-1/approve", form={"text": "no token"}, max_redirects=0
    )
    assert response.status == 403
    assert "CSRF" in response.text()
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    actions = [e.action for e in AuditLog(seeded.store).events(subject="rel-1")]
    assert "release.approved" not in actions
    context.close()


def test_a_multitable_release_shows_its_tables_and_relationships(
    browser: Browser, seeded: Seeded, artifacts: Path
) -> None:
    make_multitable_release(seeded)
    make_release(seeded, "rel-1")
    with running(seeded.store) as base:
        errors: list[str] = []
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page, base, "bob")
        count = page.locator("#rows tr[data-release=rel-mt] .tables-count")
        expect(count).to_have_text("4 tables")
        expect(count).to_have_attribute("title", ", ".join(CRM_TABLES))
        expect(page.locator("#rows tr[data-release=rel-1] .tables-count")).to_have_count(0)
        page.click("text=rel-mt")
        rows = page.locator("#table-list tbody tr")
        expect(rows).to_have_count(4)
        assert [r.get_attribute("data-table") for r in rows.all()] == list(CRM_TABLES)
        expect(page.locator("#table-list tr[data-table=order_items]")).to_contain_text("1,777")
        rel = page.locator('section.relationship[data-relationship="orders -> customers"]')
        expect(rel).to_contain_text("9 per parent row, chosen under DP")
        expect(rel.locator("td.tvd")).to_have_text("0.31")
        expect(page.locator("#mt-quality")).to_contain_text("0.68")
        groups = page.locator("h3.gate-group")
        expect(groups.first).to_contain_text("Across tables")
        expect(groups).to_have_count(4)
        for box in (page.locator("#tables"), page.locator("#gate-groups")):
            assert box.bounding_box() is not None
        expect(page.frame_locator("iframe.report").locator("#summary")).to_contain_text("fidelity")
        text = page.locator("main").inner_text()
        for cell in (*REAL_CELLS, *SYNTHETIC_CELLS):
            assert cell not in text
        page.locator("iframe.report").scroll_into_view_if_needed()  # painted once on screen
        page.screenshot(path=str(artifacts / "11-multitable.png"), full_page=True)
        assert errors == []
        context.close()
