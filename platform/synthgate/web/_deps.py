"""What every route needs: the configuration, who is asking, and how errors map to HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from synthgate.errors import (
    ConfigError,
    ConflictError,
    NotAuthenticated,
    PermissionDenied,
    ReleaseStateError,
    SinkError,
    SourceError,
    SynthgateError,
)
from synthgate.release import Actor, LoginLocked, authenticate
from synthgate.store import Store
from synthgate.web._session import SessionInfo, load_session

__all__ = [
    "USER_HEADER",
    "ApiActor",
    "WebConfig",
    "api_actor",
    "client_address",
    "config_of",
    "http_status",
    "session_of",
]

USER_HEADER = "X-Synthgate-User"


@dataclass(frozen=True, slots=True)
class WebConfig:
    """How one console instance runs.

    *secure_cookies*: the session cookie is ``Secure`` (HTTPS, or a browser
    on localhost); only ``--insecure-http`` turns it off. *metrics_token*:
    when set, ``/metrics`` needs ``Authorization: Bearer <metrics_token>``.
    """

    store: Store
    secure_cookies: bool = True
    session_hours: float = 8.0
    metrics_token: str | None = None


def client_address(request: Request) -> str:
    """The caller's address (the real one behind a proxy with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


def config_of(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config


def http_status(exc: SynthgateError) -> int:
    """The HTTP status of a service error (checked most specific first)."""
    if isinstance(exc, LoginLocked):
        return 429
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, ConflictError | ReleaseStateError):
        return 409
    if isinstance(exc, SinkError | SourceError):
        return 502
    if isinstance(exc, ConfigError):
        return 400
    return 400


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A user's API token (synthgate users add / synthgate users token), sent with "
    f"the user name in {USER_HEADER}.",
)
_user = APIKeyHeader(
    name=USER_HEADER,
    auto_error=False,
    scheme_name="user",
    description="The name of the user whose API token is in Authorization.",
)


def api_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    user: Annotated[str | None, Depends(_user)],
) -> Actor:
    """The user an API call authenticates as: bearer token plus user-name header."""
    config = config_of(request)
    if credentials is None or not user:
        raise HTTPException(
            401,
            f"send Authorization: Bearer <API token> and {USER_HEADER}: <user name>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        actor = authenticate(
            config.store, user, credentials.credentials, client=client_address(request), via="api"
        )
    except NotAuthenticated as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    if actor.bootstrap:
        raise HTTPException(
            401,
            "the store has no users yet; add the first admin with: synthgate users add NAME "
            "--role admin",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]


class LoginRequired(Exception):
    """Raised by :func:`session_of`; answered with a redirect to the sign-in page."""


def session_of(request: Request) -> SessionInfo:
    config = config_of(request)
    info = load_session(config.store, request, secure=config.secure_cookies)
    if info is None:
        raise LoginRequired
    return info


def htmx(hx_request: Annotated[str | None, Header()] = None) -> bool:
    return hx_request == "true"
