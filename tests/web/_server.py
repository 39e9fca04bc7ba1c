"""A real uvicorn server on a free port, in a thread, ready once /healthz answers."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from synthgate.store import Store
from synthgate.web import create_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(store: Store, *, secure_cookies: bool = True) -> Iterator[str]:
    """The base URL of a console for *store*; stopped on exit."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(store, secure_cookies=secure_cookies),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        while not server.started:  # poll: the server sets this once it listens
            if not thread.is_alive():
                raise RuntimeError("the console server did not start")
            thread.join(0.05)
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
            assert answer.read() == b"ok"
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
