"""The console in a real browser (Playwright driving Debian's Chromium) against uvicorn.

Screenshots go to ``$SYNTHGATE_TEST_ARTIFACTS`` (default ``test-artifacts/web``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from synthgate.audit import AuditLog
from synthgate.release import get_release
from synthgate.reporting import CHROMIUM_ARGS
from tests.conftest import need_chromium
from tests.web._seed import PASSWORD, Seeded, make_release
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
    expect(page.locator("#notice")).to_have_text("Your approval is recorded.")
    expect(page.locator("#status")).to_have_text("APPROVED")
    page.screenshot(path=str(artifacts / "03-approved.png"), full_page=True)
    page.goto(f"{site}/audit")
    expect(page.locator("#chain")).to_contain_text("Hash chain verified")
    row = page.locator("#events tbody tr", has_text="release.approved")
    expect(row).to_contain_text("rel-1")
    expect(row).to_contain_text("bob")
    page.screenshot(path=str(artifacts / "04-audit.png"), full_page=True)
    assert get_release(seeded.store, "rel-1").status == "APPROVED"
    assert errors == []  # no CSP violation, no script error
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
        page.fill("#form-approve textarea[name=text]", "approving my own")
        page.click("#form-approve button[type=submit]")
        expect(page.locator("#error")).to_contain_text("four-eyes")
        page.screenshot(path=str(artifacts / "05-self-approval.png"), full_page=True)
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
