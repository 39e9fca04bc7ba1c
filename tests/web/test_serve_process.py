"""``synthgate serve`` as a real process: it starts, answers and logs in the chosen format."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.web._server import _free_port


def _wait_healthy(proc: subprocess.Popen[str], base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                assert answer.read() == b"ok"
                return
        except (urllib.error.URLError, ConnectionError):
            try:
                proc.wait(timeout=0.1)  # the pause between polls; also notices an early exit
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"serve exited with {proc.returncode}") from None
    raise AssertionError("serve did not answer /healthz in time")


def test_serve_logs_requests_as_json_lines(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SYNTHGATE_HOME": str(tmp_path / "home")}
    env.pop("SYNTHGATE_STORE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synthgate.cli",
            "--log-format",
            "json",
            "serve",
            "--port",
            f"{port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(proc, base, time.monotonic() + 60)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/v1/releases?status=BLOCKED", timeout=5)
        assert refused.value.code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    structured = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    prose = [line for line in stderr.splitlines() if line and not line.startswith("{")]
    # with JSON logs even the start-up line is a JSON line: nothing else on stderr
    assert prose == []
    started = f"synthgate console on {base}/ (store sqlite); Ctrl-C stops it"
    assert any(started in json.dumps(event) for event in structured)
    requests = [r for r in structured if r["event"] == "http.request"]
    assert {"method": "GET", "path": "/healthz", "status": 200}.items() <= requests[0].items()
    assert any(
        r["path"] == "/api/v1/releases?status=BLOCKED" and r["status"] == 401 for r in requests
    )
    assert all({"ts", "level", "event"} <= r.keys() for r in structured)
    assert any("Uvicorn running" in r["event"] for r in structured)
