"""Server-rendered console pages (Jinja2, HTMX for filtering without reloads).

Which buttons a page shows is a convenience; whether an action is allowed is
decided by the functions in :mod:`synthgate.release` that each POST calls.
Every POST carries the session's CSRF token (form field or ``X-CSRF-Token``).
"""

from __future__ import annotations

from math import ceil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from synthgate import release as svc
from synthgate.audit import since_timestamp
from synthgate.errors import NotAuthenticated, PermissionDenied, SynthgateError
from synthgate.release import (
    TRANSITIONS,
    Actor,
    Permission,
    ReleaseStatus,
    check_transition,
    guard_for,
)
from synthgate.store.models import ReleaseRow
from synthgate.web import _format
from synthgate.web import _queries as q
from synthgate.web._api import release_detail
from synthgate.web._deps import client_address, config_of, http_status, session_of
from synthgate.web._session import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    SessionInfo,
    end_session,
    load_session,
    new_login_csrf,
    start_session,
    tokens_match,
)

__all__ = ["REPORT_CSP", "router", "templates"]

#: the report page: inline CSS and data: images only, framed by the console only, sandboxed
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
_format.install(templates.env)
router = APIRouter(include_in_schema=False)
Session = Annotated[SessionInfo, Depends(session_of)]

_DONE = {
    "approve": "Your approval is recorded.",
    "reject": "The release is rejected.",
    "publish": "The release is published.",
    "revoke": "The release is revoked.",
}


def _page(
    request: Request,
    name: str,
    session: SessionInfo | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("notice", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "actor": session.actor if session else None,
            "csrf": session.csrf_token if session else None,
            **context,
        },
        status_code=status_code,
    )


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/releases"


# --------------------------------------------------------------------------- sign-in


@router.get("/login")
def login_form(request: Request, next: str = "/releases") -> Response:
    config = config_of(request)
    if load_session(config.store, request, secure=config.secure_cookies) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    carrier = HTMLResponse()
    token = new_login_csrf(carrier, secure=config.secure_cookies)
    return _with_login_token(request, carrier, token, next=next, username="")


def _with_login_token(
    request: Request,
    response: HTMLResponse,
    token: str,
    *,
    next: str,
    username: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render the sign-in page again with *token* in its form (the cookie is on *response*)."""
    config = config_of(request)
    page = _page(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        next=_safe_next(next),
        username=username,
        error=error,
        no_users=not svc.has_users(config.store),
    )
    for key, value in response.headers.items():
        if key.lower() == "set-cookie":
            page.headers.append("set-cookie", value)
    return page


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/releases",
) -> Response:
    config = config_of(request)
    fresh = HTMLResponse()
    token = new_login_csrf(fresh, secure=config.secure_cookies)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _with_login_token(
            request,
            fresh,
            token,
            next=next,
            username=username,
            error="The sign-in form expired or did not come from this site; please sign in again.",
            status_code=403,
        )
    guard, client = guard_for(config.store), client_address(request)
    wait = guard.reserve(client)  # held while the password is checked
    if wait is not None:
        return _with_login_token(
            request,
            fresh,
            token,
            next=next,
            username=username,
            error=f"Too many failed sign-ins from this address; try again in {ceil(wait)} s.",
            status_code=429,
        )
    try:
        actor = svc.password_login(config.store, username, password, client=client)
    except NotAuthenticated as exc:
        return _with_login_token(
            request,
            fresh,
            token,
            next=next,
            username=username,
            error=str(exc),
            status_code=http_status(exc),
        )
    finally:
        guard.release(client)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path="/", secure=config.secure_cookies, httponly=True, samesite="strict"
    )
    start_session(
        config.store, response, actor, secure=config.secure_cookies, hours=config.session_hours
    )
    return response


async def _checked_form(request: Request, session: SessionInfo) -> dict[str, str]:
    """The POSTed form, after its CSRF token (field or header) matched the session's."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    given = fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not tokens_match(session.csrf_token, given):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
    return fields


@router.post("/logout")
async def logout(request: Request, session: Session) -> Response:
    await _checked_form(request, session)
    config = config_of(request)
    response = RedirectResponse("/login", status_code=303)
    # store calls block: off the event loop, so other requests go on meanwhile
    await run_in_threadpool(
        end_session, config.store, request, response, secure=config.secure_cookies
    )
    return response


# --------------------------------------------------------------------------- releases


def _require_read(actor: Actor) -> None:
    svc.require(actor, Permission.READ)  # a refusal is a 403 page (see create_app)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/releases", status_code=303)


@router.get("/releases")
def releases(
    request: Request,
    session: Session,
    status: str = "",
    source: str = "",
    requester: str = "",
) -> HTMLResponse:
    _require_read(session.actor)
    store = config_of(request).store
    wanted = ReleaseStatus(status) if status in set(ReleaseStatus) else None
    rows = q.list_releases(
        store, status=wanted, source=source[:512] or None, requester=requester[:128] or None
    )
    summaries = q.release_summaries(store, rows)
    return _page(
        request,
        "releases.html",
        session,
        section="releases",
        releases=[{**q.release_dict(r), "summary": summaries[r.id]} for r in rows],
        statuses=list(ReleaseStatus),
        queue=q.queue_length(store),
        f={"status": wanted.value if wanted else "", "source": source, "requester": requester},
    )


#: the decisions that need a confirmation step, and what the confirmation says
_CONFIRM = {
    "approve": ("approving", "Confirm approval", "comment"),
    "reject": ("rejecting", "Confirm rejection", "reason"),
    "revoke": ("revoking", "Confirm revocation", "reason"),
}
#: revoking withdraws what was approved or published; a release awaiting approval is rejected
_REVOCABLE = frozenset({ReleaseStatus.APPROVED, ReleaseStatus.PUBLISHED})


def _may_revoke(actor: Actor, row: ReleaseRow) -> bool:
    own = actor.name == row.requested_by and actor.can(Permission.RUN)
    return own or actor.can(Permission.REVOKE)


def _actions(
    actor: Actor, row: ReleaseRow, decided_by: set[str]
) -> tuple[list[dict[str, str]], str | None]:
    """The actions *actor* is offered on *row* in its state, and why none is, when it helps."""
    status = ReleaseStatus(row.status)
    shown: list[dict[str, str]] = []
    note = None
    if status is ReleaseStatus.AWAITING_APPROVAL and actor.can(Permission.DECIDE):
        if actor.name == row.requested_by:
            note = "You requested this release; someone else approves or rejects it (four-eyes)."
        elif actor.name in decided_by:
            note = (
                f"You have decided on this release already; it needs {row.approvals_required} "
                "distinct approvers."
            )
        else:
            shown.append(
                {
                    "name": "approve",
                    "label": "Approve…",
                    "field": "Approval comment (required)",
                    "style": "primary",
                    "help": "Why this release may go out; recorded in the audit log.",
                }
            )
            shown.append(
                {
                    "name": "reject",
                    "label": "Reject…",
                    "field": "Reason for rejecting (required)",
                    "style": "danger",
                    "help": "Rejecting is final: the job must run again for a new release.",
                }
            )
    if ReleaseStatus.PUBLISHED in TRANSITIONS[status] and actor.can(Permission.PUBLISH):
        shown.append(
            {
                "name": "publish",
                "label": "Publish",
                "field": "",
                "style": "primary",
                "help": "Writes the synthetic table to its target.",
            }
        )
    if status in _REVOCABLE and _may_revoke(actor, row):
        shown.append(
            {
                "name": "revoke",
                "label": "Revoke…",
                "field": "Reason for revoking (required)",
                "style": "danger",
                "help": "Withdraws the release; a published table stays until its owner removes it.",
            }
        )
    return shown, note


def _gate_groups(row: ReleaseRow) -> list[dict[str, Any]] | None:
    """A multi-table release's gate outcomes by table; None for one table, or when its
    report's outcomes are not known (the page then lists the store's, as for one table)."""
    facts = q.report_facts(row.report_path)
    multi = facts.multi if facts is not None else None
    outcomes = q.tabled_outcomes(row, multi)
    if multi is None or outcomes is None:
        return None
    return q.gate_groups(multi, outcomes)


def _release_context(request: Request, session: SessionInfo, row: ReleaseRow) -> dict[str, Any]:
    store = config_of(request).store
    detail = release_detail(request, row.id)
    return {
        "section": "releases",
        "r": detail,
        "summary": q.release_summaries(store, [row])[row.id],
        "gate": detail["gate"],
        "decisions": detail["decisions"],
        "budget": detail["budget"],
        "epsilon": detail["epsilon"],
        "tables": detail["tables"],
        "gate_groups": _gate_groups(row),
    }


def _release_row(request: Request, release_id: str) -> ReleaseRow:
    row = config_of(request).store.get_release(release_id)
    if row is None:
        raise HTTPException(404, f"no release {release_id!r}")
    return row


def _release_page(
    request: Request,
    session: SessionInfo,
    release_id: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    row = _release_row(request, release_id)
    context = _release_context(request, session, row)
    actions, note = _actions(session.actor, row, {d["approver"] for d in context["decisions"]})
    return _page(
        request,
        "release.html",
        session,
        status_code=status_code,
        actions=actions,
        action_note=note,
        error=error,
        notice=notice,
        **context,
    )


@router.get("/releases/{release_id}")
def release(request: Request, session: Session, release_id: str, done: str = "") -> HTMLResponse:
    _require_read(session.actor)
    return _release_page(request, session, release_id, notice=_DONE.get(done))


@router.post("/releases/{release_id}/{action}")
async def act(request: Request, session: Session, release_id: str, action: str) -> Response:
    if action not in _DONE:
        raise HTTPException(404, f"no action {action!r}")
    fields = await _checked_form(request, session)
    # the services block (a publish writes a whole table): off the event loop
    return await run_in_threadpool(_act, request, session, release_id, action, fields)


def _version(fields: dict[str, str]) -> int | None:
    text = fields.get("expected_version", "")
    return int(text) if text.isdigit() and len(text) < 10 else None


def _confirm_page(
    request: Request, session: SessionInfo, row: ReleaseRow, action: str, fields: dict[str, str]
) -> HTMLResponse:
    """The step before a decision: what is decided, by whom, on which version. Nothing changes."""
    doing, button, what = _CONFIRM[action]
    return _page(
        request,
        "confirm.html",
        session,
        action=action,
        doing=doing,
        button=button,
        what=what,
        text=fields.get("text", ""),
        expected_version=_version(fields) or row.version,
        **_release_context(request, session, row),
    )


_TARGET = {
    "approve": ReleaseStatus.APPROVED,
    "reject": ReleaseStatus.REJECTED,
    "revoke": ReleaseStatus.REVOKED,
}


def _precheck(actor: Actor, row: ReleaseRow, action: str) -> None:
    """Before a confirmation is shown: the role and state checks the service makes again when
    the decision is confirmed (a confirmation of what would be refused helps nobody)."""
    if action == "revoke":
        if not _may_revoke(actor, row):
            svc.require(actor, Permission.REVOKE)
    else:
        svc.require(actor, Permission.DECIDE)
    check_transition(ReleaseStatus(row.status), _TARGET[action], release_id=row.id)
    if action != "revoke" and actor.name == row.requested_by:
        raise PermissionDenied(
            f"{actor.name} requested release {row.id}; nobody approves or rejects their own "
            "release (four-eyes)",
            hint="ask someone with the approver role to review it",
        )


def _act(
    request: Request, session: SessionInfo, release_id: str, action: str, fields: dict[str, str]
) -> Response:
    store = config_of(request).store
    row = _release_row(request, release_id)
    text = fields.get("text", "")
    version = _version(fields)
    actor = session.actor
    if action == "revoke" and ReleaseStatus(row.status) not in _REVOCABLE:
        return _release_page(
            request,
            session,
            release_id,
            error=(
                f"release {release_id} is {row.status}: only an approved or published release "
                "is revoked; reject a release that awaits approval"
            ),
            status_code=409,
        )
    if action in _CONFIRM and fields.get("confirmed") != "yes":
        try:
            _precheck(actor, row, action)
        except SynthgateError as exc:
            return _release_page(
                request, session, release_id, error=str(exc), status_code=http_status(exc)
            )
        if not text.strip():
            return _release_page(
                request,
                session,
                release_id,
                error=f"{_CONFIRM[action][2]} is required: write why, then {action} again",
                status_code=400,
            )
        return _confirm_page(request, session, row, action, fields)
    try:
        if action == "approve":
            svc.approve(store, actor, release_id, comment=text, expected_version=version)
        elif action == "reject":
            svc.reject(store, actor, release_id, reason=text, expected_version=version)
        elif action == "revoke":
            svc.revoke(store, actor, release_id, reason=text, expected_version=version)
        else:
            svc.publish(store, actor, release_id)
    except SynthgateError as exc:
        return _release_page(
            request, session, release_id, error=str(exc), status_code=http_status(exc)
        )
    return RedirectResponse(f"/releases/{release_id}?done={action}", status_code=303)


@router.get("/releases/{release_id}/report")
def report(request: Request, session: Session, release_id: str) -> Response:
    _require_read(session.actor)
    row = config_of(request).store.get_release(release_id)
    if row is None:
        raise HTTPException(404, f"no release {release_id!r}")
    path = Path(row.report_path)
    if path.name != "report.html" or not path.is_file():
        raise HTTPException(404, f"the report of release {release_id} is not on this server")
    return HTMLResponse(
        path.read_text("utf-8"),
        headers={
            "Content-Security-Policy": REPORT_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


# --------------------------------------------------------------------------- audit, budget, runs


@router.get("/audit")
def audit(
    request: Request,
    session: Session,
    actor: str = "",
    action: str = "",
    subject: str = "",
    since: str = "",
    full: bool = False,
) -> HTMLResponse:
    _require_read(session.actor)
    store = config_of(request).store
    error = None
    start = None
    if since:
        try:
            start = since_timestamp(since[:40])
        except SynthgateError as exc:
            error = str(exc)
    events = q.audit_events(
        store,
        actor=actor[:128] or None,
        action=action[:64] or None,
        subject=subject[:128] or None,
        since=start,
    )
    return _page(
        request,
        "audit.html",
        session,
        status_code=400 if error else 200,
        section="audit",
        events=events,
        chain=q.verify_chain_since_checkpoint(store, full=full),
        full_at=q.watch_of(store).full_at,
        error=error,
        f={"actor": actor, "action": action, "subject": subject, "since": since},
    )


@router.get("/budget")
def budget(request: Request, session: Session) -> HTMLResponse:
    _require_read(session.actor)
    views = q.budgets(config_of(request).store)
    return _page(request, "budget.html", session, section="budget", budgets=views)


@router.get("/runs")
def runs(request: Request, session: Session) -> HTMLResponse:
    _require_read(session.actor)
    store = config_of(request).store
    rows = q.list_runs(store)
    outcomes = q.run_outcomes(store, rows)
    return _page(
        request,
        "runs.html",
        session,
        section="runs",
        runs=[{**q.run_dict(r), **outcomes[r.id]} for r in rows],
    )


@router.get("/runs/{run_id}")
def run(request: Request, session: Session, run_id: str) -> HTMLResponse:
    _require_read(session.actor)
    store = config_of(request).store
    row = store.get_run(run_id)
    if row is None:
        raise HTTPException(404, f"no run {run_id!r}")
    stages = q.stage_dicts(store.stages(run_id))
    longest = max((st["seconds"] or 0.0 for st in stages), default=0.0) or 1.0
    return _page(
        request,
        "run.html",
        session,
        section="runs",
        run={**q.run_dict(row), **q.run_outcomes(store, [row])[row.id]},
        stages=stages,
        longest=longest,
        epsilon=q.run_epsilon(store, run_id),
    )
