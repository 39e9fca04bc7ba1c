"""Console sessions: server-side rows, cookies, CSRF tokens.

A session is a row in the store holding the sha256 of a random cookie value,
the user name, a CSRF token and an absolute expiry. Server-side rows rather
than signed cookies: signing out, a password change and disabling a user end
a session at once, several server processes share them through the store, and
there is no signing secret to keep. The cookie is HttpOnly, SameSite=Strict
and Secure (``__Host-`` prefix) unless the console runs with
``--insecure-http``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import delete, select

from synthgate.release import Actor, Role
from synthgate.store import Store
from synthgate.store.models import UserRow, WebSession

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_CSRF_COOKIE",
    "SessionInfo",
    "cookie_name",
    "end_session",
    "load_session",
    "new_login_csrf",
    "start_session",
    "tokens_match",
]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_CSRF_COOKIE = "sg_login_csrf"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def cookie_name(secure: bool) -> str:
    return "__Host-sg_session" if secure else "sg_session"


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True, slots=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    expires_at: str


def start_session(
    store: Store, response: Response, actor: Actor, *, secure: bool, hours: float
) -> SessionInfo:
    """A new session for *actor*; its cookie is set on *response*."""
    value = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + timedelta(hours=hours)
    csrf = secrets.token_urlsafe(32)
    with store.session() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < _stamp(now)))
        s.add(
            WebSession(
                id_hash=_digest(value),
                user_name=actor.name,
                csrf_token=csrf,
                created_at=_stamp(now),
                last_seen_at=_stamp(now),
                expires_at=_stamp(expires),
            )
        )
    response.set_cookie(
        cookie_name(secure),
        value,
        max_age=int(hours * 3600),
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return SessionInfo(actor, csrf, _stamp(expires))


def load_session(store: Store, request: Request, *, secure: bool) -> SessionInfo | None:
    """The live session the request's cookie names, with its user still active; else None."""
    value = request.cookies.get(cookie_name(secure))
    if not value or len(value) > 256:
        return None
    now = _stamp(datetime.now(UTC))
    with store.session() as s:
        row = s.get(WebSession, _digest(value))
        if row is None or row.expires_at <= now:
            return None
        user = s.scalar(select(UserRow).where(UserRow.name == row.user_name))
        if user is None or not user.active:
            return None
        return SessionInfo(Actor(user.name, Role(user.role), True), row.csrf_token, row.expires_at)


def end_session(store: Store, request: Request, response: Response, *, secure: bool) -> None:
    value = request.cookies.get(cookie_name(secure))
    if value:
        with store.session() as s:
            s.execute(delete(WebSession).where(WebSession.id_hash == _digest(value)))
    response.delete_cookie(
        cookie_name(secure), path="/", secure=secure, httponly=True, samesite="strict"
    )


def new_login_csrf(response: Response, *, secure: bool) -> str:
    """A token for the sign-in form, mirrored in a short-lived cookie (double submit)."""
    token = secrets.token_urlsafe(32)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return token
