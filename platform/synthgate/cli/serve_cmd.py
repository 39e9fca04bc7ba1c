"""``synthgate serve``: the web console, its JSON API and /metrics (uvicorn)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from synthgate.cli._common import err, settings
from synthgate.errors import register_secret
from synthgate.logs import current_format, server_log_config
from synthgate.store import Store

__all__ = ["METRICS_TOKEN_ENV", "serve"]

METRICS_TOKEN_ENV = "SYNTHGATE_METRICS_TOKEN"  # noqa: S105 - the variable name, not a token


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http",
            help="Send the session cookie without the Secure flag, for plain HTTP on a host "
            "other than localhost (browsers accept Secure cookies from http://localhost and "
            "http://127.0.0.1). Put the console behind HTTPS instead where you can.",
        ),
    ] = False,
    session_hours: Annotated[
        float, typer.Option(min=0.1, max=24 * 7, help="A console session ends after this long.")
    ] = 8.0,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Trust X-Forwarded-For/-Proto from the proxy at --forwarded-allow-ips "
            "(client addresses for login throttling).",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted.")
    ] = "127.0.0.1",
) -> None:
    """Run the web console: releases, approvals, audit log, privacy budget, runs.

    Users sign in with a console password (synthgate users passwd NAME); the
    JSON API under /api/v1 takes a user's API token (Authorization: Bearer …,
    plus X-Synthgate-User: NAME); /healthz answers "ok"; /metrics serves
    Prometheus gauges read from the store, without authentication unless
    SYNTHGATE_METRICS_TOKEN is set (then it needs Authorization: Bearer <that token>).
    """
    import uvicorn

    from synthgate.web import create_app

    cfg = settings(ctx)
    store = Store(cfg.store_url)
    metrics_token = os.environ.get(METRICS_TOKEN_ENV) or None
    register_secret(metrics_token)
    app = create_app(
        store,
        secure_cookies=not insecure_http,
        session_hours=session_hours,
        metrics_token=metrics_token,
    )
    err.print(
        f"synthgate console on http://{host}:{port}/ (store {store.dialect}); Ctrl-C stops it",
        markup=False,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_level="info",
        log_config=server_log_config(current_format()),
    )
