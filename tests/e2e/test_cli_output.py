"""The command line off a terminal and for machines: piped tables in full, every
``--json`` error with its problems, JSON logs that hold only JSON, help that reads
well, ``--dry-run`` that checks the budget as the run does, an idempotent publish,
the demo's next command for the store's state, and a light start."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import base_spec

from synthgate.cli import main
from synthgate.cli.demo import approve_steps
from synthgate.logs import FORMAT_ENV, configure
from synthgate.privacy import BudgetLedger
from synthgate.release import Actor, ReleaseStatus, Role, add_user
from synthgate.settings import Settings
from synthgate.sources import source_key
from synthgate.store import Store, utcnow
from synthgate.store.models import ReleaseRow, RunRow

SpecWriter = Callable[[dict[str, Any]], Path]
LONG_JOB = "customers-weekly-export-for-the-analytics-warehouse-eu-west"
ROOT = Actor("root", Role.ADMIN, True)
RELEASE = "rel-20261205-0a1b2c3d"


def _store() -> Store:
    return Store(Settings.from_env().store_url)


def _run(store: Store, run_id: str, key: str = "sqlite:///s.db#customers") -> None:
    now = utcnow()
    store.create_run(
        RunRow(
            id=run_id,
            job_name=LONG_JOB,
            spec_hash="x",
            source_key=key,
            snapshot_id=None,
            synthesizer="dp-mst",
            status="succeeded",
            requested_by="alice",
            started_at=now,
            finished_at=now,
            error=None,
            run_dir="/nonexistent",
            spec_path=None,
        )
    )


def _release(store: Store, status: ReleaseStatus = ReleaseStatus.AWAITING_APPROVAL) -> None:
    _run(store, "run-20261205-0a1b2c3d")
    now = utcnow()
    published = status is ReleaseStatus.PUBLISHED
    store.add_release(
        ReleaseRow(
            id=RELEASE,
            run_id="run-20261205-0a1b2c3d",
            job_name=LONG_JOB,
            source_key="sqlite:///s.db#customers",
            status=status.value,
            requested_by="alice",
            created_at=now,
            updated_at=now,
            expires_at="2099-01-01T00:00:00.000000Z",
            policy="default",
            target_url="sqlite:///released.db",
            target_table="customers_syn",
            target_mode="replace",
            rows=300,
            report_path="report.html",
            published_at=now if published else None,
            published_by="alice" if published else None,
            published_rows=300 if published else None,
            published_hash="ab" * 32 if published else None,
        )
    )


@pytest.fixture
def text_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs back to text after a test that switches them to JSON."""
    monkeypatch.setenv(FORMAT_ENV, "text")
    yield
    configure("text")


# --------------------------------------------------------------------------- help, start


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["sync"],
        ["publish"],
        ["inspect"],
        ["releases", "list"],
        ["audit", "verify"],
        ["policy", "lint"],
        ["users", "add"],
        ["budget", "show"],
        [],
    ],
)
def test_help_shows_flags_without_a_value_type(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "<bool>" not in text
    assert "--help" in text


@pytest.mark.parametrize("group", [[], ["releases"], ["audit"]])
def test_a_command_group_alone_prints_its_help(
    group: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(group) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"Usage: {' '.join(['synthgate', *group])} [OPTIONS] COMMAND")
    assert "usage error" not in captured.err
    assert captured.out == ""


def test_run_help_names_its_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--json", "--dry-run", "--force"):
        assert f"  {flag} " in text


HEAVY = ("torch", "opacus", "presidio_analyzer", "great_expectations", "sdv", "sdmetrics")


def _imported(code: str) -> dict[str, Any]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    lines = out.strip().splitlines()
    return {"stdout": lines[:-1], "modules": set(json.loads(lines[-1]))}


def test_version_answers_without_loading_the_commands() -> None:
    seen = _imported("from synthgate.cli import main\nmain(['--version'])")
    assert seen["stdout"][0].startswith("synthgate ")
    loaded = seen["modules"]
    assert "synthgate.cli._app" not in loaded
    assert not {"pandas", "sqlalchemy", "typer", *HEAVY} & loaded


def test_a_run_with_nothing_to_do_loads_no_heavy_library() -> None:
    """What a sync child imports up to the extract stage of a dp-mst job."""
    seen = _imported(
        "import synthgate.cli._app, synthgate.pipeline\n"
        "from synthgate.synth import create_synthesizer\n"
        "create_synthesizer('dp-mst', {})"
    )
    assert not set(HEAVY) & seen["modules"]


# --------------------------------------------------------------------------- piped tables


@pytest.mark.parametrize("force_color", [None, "1"])
def test_piped_release_list_keeps_every_id_and_name_whole(
    home: Path,
    force_color: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if force_color:  # as CI systems set it: a pipe is still a pipe
        monkeypatch.setenv("FORCE_COLOR", force_color)
    _release(_store())
    assert main(["releases", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["release", "status", "job", "rows", "requested", "by", "created"]
    assert "…" not in "".join(lines)
    (row,) = [ln for ln in lines if RELEASE in ln]  # `releases list | grep rel-…` finds it
    assert row.split()[:5] == [RELEASE, "AWAITING_APPROVAL", LONG_JOB, "300", "alice"]


def test_piped_inspect_prints_full_names_and_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_name = "direct_identifier_of_the_customer_as_entered_by_the_call_centre"
    csv = tmp_path / "people.csv"
    csv.write_text(f"{long_name},plan\n1,free\n2,pro\n", "utf-8")
    assert main(["inspect", str(csv), "--table", "people", "--no-pii"]) == 0
    text = capsys.readouterr().out
    assert "…" not in text
    assert long_name in text
    header = next(ln for ln in text.splitlines() if ln.startswith("column"))
    assert header.split()[:4] == ["column", "type", "native", "null"]


def test_piped_user_list_is_plain_columns(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store()
    _, token = add_user(store, ROOT, "root-administrator-of-the-store", Role.ADMIN)
    monkeypatch.setenv("SYNTHGATE_USER", "root-administrator-of-the-store")
    monkeypatch.setenv("SYNTHGATE_TOKEN", token)
    assert main(["users", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["user", "role", "active", "created", "by"]
    assert lines[1].split()[:3] == ["root-administrator-of-the-store", "admin", "yes"]


# --------------------------------------------------------------------------- JSON errors


def _bad_spec(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "source": {"url": "sqlite:///nope.db", "table": "t"},
                "target": {"url": "sqlite:///o.db"},
                "synthesis": {"privacy": {"epsilon": -1}, "rows": 0},
            }
        ),
        "utf-8",
    )
    return path


def _error(capsys: pytest.CaptureFixture[str], code: int) -> dict[str, Any]:
    captured = capsys.readouterr()
    doc: dict[str, Any] = json.loads(captured.out)
    assert doc["exit_code"] == code
    assert doc["error"]
    assert isinstance(doc["problems"], list)
    assert "Traceback" not in captured.err
    return doc


def test_a_json_error_holds_every_problem_of_the_spec(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = str(_bad_spec(tmp_path))
    expected = [
        "synthesis.privacy.epsilon: must be > 0, got -1",
        "synthesis.rows: must be >= 1, got 0",
    ]
    for command in (["run", bad], ["run", bad, "--dry-run"]):
        code = main([*command, "--json"])
        doc = _error(capsys, code)
        assert code == 2
        assert doc["error_type"] == "ConfigError"
        assert doc["problems"] == expected
    assert main(["sync", bad, "--json"]) == 2
    (job,) = json.loads(capsys.readouterr().out)["jobs"]
    assert job["problems"] == expected


def test_a_json_error_lists_every_problem_preflight_found(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["validation"] = {"target_column": "nope", "protected_attributes": ["sex"]}
    spec["release"] = {"policy": "lenient"}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    for extra in ([], ["--dry-run"]):
        code = main(["run", str(path), *extra, "--json"])
        assert code == 2
        problems = _error(capsys, code)["problems"]
        assert [p.split(":")[0] for p in problems] == [
            "release.policy",
            "validation.target_column",
            "validation.protected_attributes",
        ]


@pytest.mark.parametrize(
    ("argv", "code", "error_type"),
    [
        (["releases", "show", "rel-nope"], 2, "ConfigError"),
        (["releases", "list", "--status", "NOPE"], 2, "UsageError"),
        (["approve", "rel-nope", "--comment", "ok"], 2, "ConfigError"),
        (["publish", "rel-nope"], 2, "ConfigError"),
        (["revoke", "rel-nope", "--reason", "x"], 2, "ConfigError"),
        (["policy", "show", "nope"], 2, "PluginError"),
        (["audit", "log", "--release", "rel-nope"], 2, "ConfigError"),
        (["users", "add", "x", "--role", "king"], 2, "UsageError"),
        (["inspect", "sqlite:///nowhere.db", "--table", "t"], 2, None),
        (["run", "missing.yaml"], 2, "ConfigError"),
        (["run", "--no-such-flag"], 2, "UsageError"),
    ],
)
def test_every_command_with_json_prints_its_error_as_json(
    home: Path,
    argv: list[str],
    code: int,
    error_type: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*argv, "--json"]) == code
    doc = _error(capsys, code)
    if error_type is not None:
        assert doc["error_type"] == error_type


def test_without_json_an_error_prints_nothing_on_stdout(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(_bad_spec(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[1:] == [
        "  synthesis.privacy.epsilon: must be > 0, got -1",
        "  synthesis.rows: must be >= 1, got 0",
    ]


# --------------------------------------------------------------------------- JSON logs


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_hold_only_json_errors_and_messages_included(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text_logs: None
) -> None:
    assert main(["--log-format", "json", "run", str(_bad_spec(tmp_path))]) == 2
    (failed,) = [e for e in _json_lines(capsys.readouterr().err) if e["event"] == "command.failed"]
    assert failed["level"] == "error"
    assert failed["exit_code"] == 2
    assert len(failed["problems"]) == 2

    assert main(["--log-format", "json", "users", "add", "root", "--role", "admin"]) == 0
    captured = capsys.readouterr()
    assert "token for root: sgt_" in captured.out
    messages = [e["message"] for e in _json_lines(captured.err) if e["event"] == "cli.message"]
    assert any("shown once" in m for m in messages)


def test_a_sync_child_reports_its_error_as_a_json_line(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    text_logs: None,
) -> None:
    spec = dict(base_spec(demo_db, tmp_path), source={"url": f"sqlite:///{demo_db}", "table": "x"})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    assert main(["--log-format", "json", "sync", str(path)]) == 2
    captured = capfd.readouterr()
    events = _json_lines(captured.err)  # the parent's and the child's lines: JSON only
    (failed,) = [e for e in events if e["event"] == "command.failed"]
    assert failed["exit_code"] == 2
    assert any(p.startswith("source.table:") for p in failed["problems"])
    assert {"sync.started", "sync.job.finished", "sync.finished"} <= {e["event"] for e in events}
    assert "source.table:" in captured.out  # the summary lists the job's problems


# --------------------------------------------------------------------------- progress


@pytest.mark.slow
def test_a_run_on_a_pipe_draws_no_progress(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(base_spec(demo_db, tmp_path)), "utf-8")
    assert main(["run", str(path)]) in (3, 4)
    captured = capsys.readouterr()
    assert "release    rel-" in captured.out
    for drawn in ("✓", "run [", "extract", "━"):
        assert drawn not in captured.err
    assert main(["run", str(path)]) == 99
    captured = capsys.readouterr()
    assert "nothing to do" in captured.out
    assert captured.err == ""


# --------------------------------------------------------------------------- dry run


def _private_spec(demo_db: Path, tmp_path: Path, epsilon: float) -> Path:
    spec = base_spec(demo_db, tmp_path)
    spec["synthesis"] = {"synthesizer": "dp-mst", "privacy": {"epsilon": epsilon}}
    path = tmp_path / "private.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def _spend(demo_db: Path, epsilon: float) -> str:
    store = _store()
    key = source_key(f"sqlite:///{demo_db}", "customers")
    _run(store, "run-20261205-spent", key)
    BudgetLedger(store).record(
        key, "run-20261205-spent", epsilon=epsilon, delta=1e-6, accountant="prv", stages=()
    )
    return key


def test_dry_run_checks_the_budget_as_the_run_does(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _spend(demo_db, 8.0)  # of the default pack's 10
    spec = str(_private_spec(demo_db, tmp_path, 3.0))
    assert main(["run", spec, "--dry-run"]) == 5
    assert "privacy budget of" in capsys.readouterr().err
    assert main(["run", spec, "--dry-run", "--json"]) == 5
    assert _error(capsys, 5)["error_type"] == "PrivacyBudgetError"
    assert main(["run", spec]) == 5  # the real run refuses it the same way, before reading
    capsys.readouterr()

    fits = str(_private_spec(demo_db, tmp_path, 2.0))
    assert main(["run", fits, "--dry-run", "--json"]) == 0
    budget = json.loads(capsys.readouterr().out)["budget"]
    assert budget["source"] == key
    assert budget["remaining_epsilon"] == pytest.approx(2.0)
    assert budget["epsilon"] == 2.0
    assert main(["run", fits, "--dry-run"]) == 0
    assert "this run asks ε = 2 of the 2 left" in capsys.readouterr().out
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


def test_dry_run_of_a_non_private_job_charges_nothing(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _spend(demo_db, 10.0)  # nothing left, and nothing asked
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(base_spec(demo_db, tmp_path)), "utf-8")
    assert main(["run", str(path), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["budget"] is None


# --------------------------------------------------------------------------- publish, demo


def test_publishing_a_published_release_again_is_ok_and_writes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store()
    _release(store, ReleaseStatus.PUBLISHED)
    assert main(["publish", RELEASE]) == 0
    out = capsys.readouterr().out
    assert f"already published {RELEASE}: table customers_syn (300 rows" in out
    assert "nothing written" in out
    assert main(["publish", RELEASE, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["already_published"] is True
    assert doc["status"] == "PUBLISHED"
    assert doc["content_hash"] == "ab" * 32


def test_publishing_a_release_awaiting_approval_is_still_refused(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(_store())
    assert main(["publish", RELEASE]) == 2
    assert "it cannot become PUBLISHED" in capsys.readouterr().err


def test_the_demo_names_the_approve_command_for_the_stores_state(home: Path) -> None:
    store = _store()
    (bootstrap,) = approve_steps(store, "alice", RELEASE)
    assert bootstrap.startswith(f"SYNTHGATE_USER=<anyone but alice> synthgate approve {RELEASE}")

    add_user(store, ROOT, "root", Role.ADMIN)
    add_user(store, ROOT, "alice", Role.ENGINEER)
    assert approve_steps(store, "alice", RELEASE) == [
        f"SYNTHGATE_USER=root SYNTHGATE_TOKEN=<their token> synthgate approve {RELEASE} "
        "--comment '…'"
    ]
    # the only admin requested it: someone who may approve must be added first
    add_user_step, approve = approve_steps(store, "root", RELEASE)
    assert add_user_step.startswith("synthgate users add <approver> --role approver")
    assert approve.startswith("SYNTHGATE_USER=<approver> SYNTHGATE_TOKEN=<their token>")

    add_user(store, ROOT, "bob", Role.APPROVER)
    listed, approve = approve_steps(store, "alice", RELEASE)
    assert listed == "# approvers: bob, root"
    assert approve.startswith("SYNTHGATE_USER=<approver> SYNTHGATE_TOKEN=<their token>")
