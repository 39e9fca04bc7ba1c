"""The console's FastAPI application: pages, the JSON API, /healthz and /metrics."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from math import ceil
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from synthgate import __version__
from synthgate.audit import AuditLog
from synthgate.errors import SynthgateError
from synthgate.release import AuthGuard, guard_for
from synthgate.store import Store
from synthgate.web import _api, _pages
from synthgate.web._deps import (
    USER_HEADER,
    LoginRequired,
    WebConfig,
    client_address,
    http_status,
)
from synthgate.web._metrics import registry_for

__all__ = ["CONSOLE_CSP", "create_app"]

Next = Callable[[Request], Awaitable[Response]]

#: every console page: scripts and styles from this origin only, never framed
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_STATIC = Path(__file__).parent / "static"


def create_app(
    store: Store,
    *,
    secure_cookies: bool = True,
    session_hours: float = 8.0,
    metrics_token: str | None = None,
) -> FastAPI:
    """The console for *store*. See :class:`WebConfig` for the options.

    Refuses (:class:`synthgate.audit.AuditKeyError`) when this process's
    ``SYNTHGATE_AUDIT_KEY`` does not fit the store's audit log: a console that
    could not record a decision must not start.
    """
    AuditLog(store).check_key()
    guard = guard_for(store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(guard.flush)  # failures counted but not yet audited

    app = FastAPI(
        lifespan=lifespan,
        title="synthgate",
        version=__version__,
        summary="Review, approve and publish synthetic data releases; read the audit log.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN: not under this CSP
        redoc_url=None,
    )
    app.state.config = WebConfig(
        store=store,
        secure_cookies=secure_cookies,
        session_hours=session_hours,
        metrics_token=metrics_token,
    )
    registry = registry_for(store)

    async def throttled(request: Request, call_next: Next) -> Response:
        # before any token is checked, on the event loop: a throttled address costs nothing
        if not request.url.path.startswith("/api/") or _known(guard, request):
            return await call_next(request)
        client = client_address(request)
        wait = guard.reserve(client)
        if wait is not None:
            guard.refused(client, via="api")
            return _too_many(wait)
        try:
            return await call_next(request)
        finally:
            guard.release(client)

    @app.middleware("http")  # one middleware for both: each layer costs every request
    async def security_headers(request: Request, call_next: Next) -> Response:
        response = await throttled(request, call_next)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if secure_cookies:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if not request.url.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            return PlainTextResponse("sign in first", status_code=401)
        location = f"/login?next={quote(target, safe='/')}"
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        if _wants_json(request):
            return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)
        return _pages.templates.TemplateResponse(
            request,
            "error.html",
            {
                "actor": None,
                "csrf": None,
                "error": detail,
                "notice": None,
                "status_code": exc.status_code,
            },
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(SynthgateError)
    async def refused(request: Request, exc: SynthgateError) -> Response:
        # a service said no (role, four-eyes, state, version …): one line, its HTTP status
        return await http_error(request, StarletteHTTPException(http_status(exc), str(exc)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:5]
        )
        message = f"invalid request: {problems}"
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=422)
        return PlainTextResponse(message, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        # on the event loop: answered even while every worker thread is busy
        return PlainTextResponse("ok")

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if metrics_token is not None:
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {metrics_token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise HTTPException(
                    401, "metrics need the bearer token", headers={"WWW-Authenticate": "Bearer"}
                )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(_api.router)
    app.include_router(_pages.router)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    return app


def _known(guard: AuthGuard, request: Request) -> bool:
    """Whether the request carries a token that authenticated in this process before."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and guard.known_good(request.headers.get(USER_HEADER), token)


def _too_many(wait: float) -> Response:
    seconds = max(1, ceil(wait))
    return JSONResponse(
        {"detail": f"too many failed authentications from this address; try again in {seconds} s"},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/metrics"
