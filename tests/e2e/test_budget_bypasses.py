"""One budget per real source, whatever its spelling or name, reserved before a row is
read: each test here is a way around the per-source budget that used to work."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests._dp_double import CHILD, HOLD_ENV, registered

from synthgate.audit import AuditLog
from synthgate.cli import main
from synthgate.privacy import BudgetLedger
from synthgate.sources import source_key
from synthgate.store import Store

ROOT = Path(__file__).resolve().parents[2]
KEEP = ["customer_id", "plan", "monthly_spend", "region", "gender", "age", "churned"]


@pytest.fixture
def base_db(demo_db: Path, tmp_path: Path) -> Path:
    """A private copy of the demo database at <tmp>/data/base.db."""
    (tmp_path / "data").mkdir()
    return Path(shutil.copyfile(demo_db, tmp_path / "data" / "base.db"))


def _spec(name: str, source: dict[str, Any], tmp_path: Path, **synthesis: Any) -> Path:
    spec: dict[str, Any] = {
        "name": name,
        "source": {**source, "columns": KEEP},
        "target": {"url": f"sqlite:///{tmp_path / 'released.db'}", "table": f"{name}_syn"},
        "pii": {"sample_values": 40},
        "synthesis": {"seed": 7, **synthesis},
        "validation": {"target_column": "churned", "protected_attributes": ["gender"]},
        "release": {"policy": "internal-testing"},  # ε 20 per source, auto-approves
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def _spelled(tmp_path: Path, spelling: str) -> dict[str, Any]:
    return {"url": f"sqlite:///{tmp_path}{spelling}", "table": "customers"}


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in captured.err
    assert len(lines) == 1, captured.err
    return lines[0]


def _show(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["budget", "show", *args, "--json"]) == 0
    shown: dict[str, Any] = json.loads(capsys.readouterr().out)
    return shown


def _ledger(home: Path) -> BudgetLedger:
    return BudgetLedger(Store(f"sqlite:///{home / 'synthgate.db'}"))


@pytest.mark.slow
def test_three_spellings_of_one_sqlite_file_share_one_budget(
    home: Path,
    base_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spellings = ["/data/base.db", "/data/./base.db", "//data/base.db"]
    with registered(monkeypatch):
        # each fit spends 6 of the 12 it asks for, then stops (charged what it spent)
        for i, spelling in enumerate(spellings[:2]):
            spec = _spec(
                f"spelling-{i}",
                _spelled(tmp_path, spelling),
                tmp_path,
                synthesizer="test-fails-after-dp",
                privacy={"epsilon": 12.0},
            )
            assert main(["run", str(spec)]) == 1
            assert _error(capsys).endswith("epsilon 6 of this run was charged")
        third = _spec(
            "spelling-2",
            _spelled(tmp_path, spellings[2]),
            tmp_path,
            synthesizer="test-fails-after-dp",
            privacy={"epsilon": 12.0},
        )
        assert main(["run", str(third)]) == 5
    line = _error(capsys)
    key = f"sqlite:///{os.path.realpath(base_db)}#main.customers"
    assert f"privacy budget of {key} would be exceeded: spent ε=12 over 2 run(s)" in line
    assert "limit ε=20" in line
    for spelling in spellings:
        shown = _show(capsys, f"sqlite:///{tmp_path}{spelling}", "--table", "customers")
        assert (shown["source"], shown["spent_epsilon"], shown["runs"]) == (key, 12.0, 2)
    assert _show(capsys, str(third))["source"] == key
    assert _ledger(home).sources() == [key]


@pytest.mark.slow
def test_a_registered_source_and_its_spelled_out_url_share_one_ledger(
    home: Path,
    base_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path}/data/base.db"
    assert main(["sources", "add", "crm", url, "--table", "customers", "--epsilon-limit", "5"]) == 0
    assert (
        main(
            [
                "sources",
                "add",
                "crm-alias",
                f"sqlite:///{tmp_path}//data/base.db",
                "--table",
                "customers",
                "--epsilon-limit",
                "8",
            ]
        )
        == 0
    )
    assert "same table as crm: one ledger" in capsys.readouterr().out
    key = source_key(url, "customers")
    with registered(monkeypatch):
        named = _spec(
            "named", {"name": "crm"}, tmp_path, synthesizer="test-private", privacy={"epsilon": 3.0}
        )
        assert main(["run", str(named), "--dry-run"]) == 0
        assert "source table and target are reachable" in capsys.readouterr().out
        assert main(["run", str(named), "--json"]) in (0, 3)
        first = json.loads(capsys.readouterr().out)
        assert first["epsilon_spent"] == 3.0
        spelled = _spec(
            "spelled",
            _spelled(tmp_path, "/data/../data/base.db"),
            tmp_path,
            synthesizer="test-private",
            privacy={"epsilon": 3.0},
        )
        # the registered limit (5, the lowest of its names) holds for every spelling
        assert main(["run", str(spelled)]) == 5
        assert "spent ε=3 over 1 run(s), this run asks ε=3, limit ε=5" in _error(capsys)
        alias = _spec(
            "alias",
            {"name": "crm-alias"},
            tmp_path,
            synthesizer="test-private",
            privacy={"epsilon": 3.0},
        )
        assert main(["run", str(alias)]) == 5
    capsys.readouterr()
    for args in (
        ["crm"],
        ["crm-alias"],
        [url, "--table", "customers"],
        [f"{url}#customers"],
        [str(named)],
        [str(spelled)],
    ):
        shown = _show(capsys, *args)
        assert (shown["source"], shown["spent_epsilon"], shown["limit_epsilon"]) == (
            key,
            3.0,
            5.0,
        ), args
        assert shown["names"] == ["crm", "crm-alias"]
    assert main(["sources", "show", "crm", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["aliases"] == ["crm-alias"]
    assert main(["run", str(_spec("ghost", {"name": "nobody"}, tmp_path)), "--dry-run"]) == 2
    assert "no source named 'nobody' is registered" in _error(capsys)


def test_registering_needs_an_admin_or_approver_and_a_table_that_exists(
    home: Path,
    base_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["users", "add", "root", "--role", "admin"]) == 0
    token = capsys.readouterr().out.split("token for root: ")[1].split()[0]
    monkeypatch.setenv("SYNTHGATE_USER", "root")
    monkeypatch.setenv("SYNTHGATE_TOKEN", token)
    assert main(["users", "add", "eve", "--role", "engineer"]) == 0
    eve = capsys.readouterr().out.split("token for eve: ")[1].split()[0]
    url = f"sqlite:///{base_db}"
    monkeypatch.setenv("SYNTHGATE_USER", "eve")
    monkeypatch.setenv("SYNTHGATE_TOKEN", eve)
    assert (
        main(["sources", "add", "crm", url, "--table", "customers", "--epsilon-limit", "500"]) == 1
    )
    assert "user 'eve' (role engineer) may not register sources" in _error(capsys)
    monkeypatch.setenv("SYNTHGATE_USER", "root")
    monkeypatch.setenv("SYNTHGATE_TOKEN", token)
    assert main(["sources", "add", "crm", url, "--table", "nope", "--epsilon-limit", "5"]) == 2
    assert "table 'nope' does not exist" in _error(capsys)
    assert (
        main(
            [
                "sources",
                "add",
                "pg",
                "postgresql://app:hunter2-pass@db/crm",
                "--table",
                "t",
                "--epsilon-limit",
                "5",
            ]
        )
        == 2
    )
    line = _error(capsys)
    assert "may not hold a password" in line
    assert "hunter2" not in line
    assert (
        main(["sources", "add", "crm", url, "--table", "customers", "--epsilon-limit", "30"]) == 0
    )
    capsys.readouterr()
    # an admin's registration raises the pack's limit (default: 10)
    assert _show(capsys, "crm", "--policy", "default")["limit_epsilon"] == 30.0
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    [event] = [e for e in AuditLog(store).events() if e.action == "source.registered"]
    assert (event.actor, event.subject, event.details["epsilon_limit"]) == ("root", "crm", 30.0)


def _wait_for_line(fifo: Path, proc: subprocess.Popen[str], seconds: float) -> str:
    """The first line written to *fifo*, or a failure naming what *proc* said."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text("utf-8")), daemon=True)
    reader.start()
    reader.join(seconds)
    if reader.is_alive():
        proc.kill()
        with fifo.open("w", encoding="utf-8") as unblock:
            unblock.write("")
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"the holding run never reached its fit: {err[-2000:]}")
    return got[0]


@pytest.mark.slow
def test_two_processes_on_one_source_cannot_together_pass_the_limit(
    home: Path, base_db: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, SYNTHGATE_HOME=str(home), SYNTHGATE_USER="alice")
    env.pop("SYNTHGATE_STORE_URL", None)
    first = _spec(
        "first",
        _spelled(tmp_path, "/data/base.db"),
        tmp_path,
        synthesizer="test-private",
        privacy={"epsilon": 12.0},
    )
    second = _spec(
        "second",
        _spelled(tmp_path, "/data/./base.db"),
        tmp_path,
        synthesizer="test-private",
        privacy={"epsilon": 12.0},
    )
    fifo = tmp_path / "fitting.fifo"
    os.mkfifo(fifo)
    holder = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT), "run", str(first), "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, HOLD_ENV: str(fifo)},
    )
    assert holder.stdin is not None
    try:
        # the first job has passed the budget check and is fitting; nothing is charged yet
        assert _wait_for_line(fifo, holder, 300) == "fitting\n"
        other = subprocess.run(
            [sys.executable, "-c", CHILD, str(ROOT), "run", str(second)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert other.returncode == 5, other.stderr
        assert (
            "and ε=12 reserved by 1 running job(s), this run asks ε=12, limit ε=20" in other.stderr
        )
        holder.stdin.write("go on\n")
        holder.stdin.flush()
        out, err = holder.communicate(timeout=300)
    finally:
        holder.kill()
    assert holder.returncode in (0, 3), err
    assert json.loads(out)["epsilon_spent"] == 12.0
    status = _ledger(home).status(source_key(f"sqlite:///{base_db}", "customers"), limit=20.0)
    assert (status.spent_epsilon, status.runs, status.reservations) == (12.0, 1, 0)


@pytest.mark.slow
def test_a_fit_that_failed_is_charged_or_released_as_it_deserves(
    home: Path,
    base_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = _spelled(tmp_path, "/data/base.db")
    key = source_key(source["url"], "customers")
    with registered(monkeypatch):
        # crashed mid-fit: it cannot say what its mechanisms spent, so all it reserved
        crash = _spec(
            "crash", source, tmp_path, synthesizer="test-crashes-mid-fit", privacy={"epsilon": 2.5}
        )
        assert main(["run", str(crash)]) == 1
        assert _error(capsys).endswith("epsilon 2.5 of this run was charged")
        [line] = _ledger(home).entries(key)
        assert (line.stage, line.epsilon, line.mechanism) == ("total", 2.5, "interrupted-fit")
        # refused before any mechanism ran: its reservation is released, no line stays
        refuse = _spec(
            "refuse", source, tmp_path, synthesizer="test-refuses", privacy={"epsilon": 2.5}
        )
        assert main(["run", str(refuse)]) == 1
        assert _error(capsys).endswith(
            "the test fit refused to start; no privacy budget was charged"
        )
        assert len(_ledger(home).entries(key)) == 1
    events = [e.action for e in AuditLog(Store(f"sqlite:///{home / 'synthgate.db'}")).events()]
    assert events.count("budget.reserved") == 2
    assert events.count("budget.released") == 1
    assert events.count("budget.spent") == 1


def test_a_masked_copy_is_in_the_ledger_with_infinite_epsilon(
    home: Path,
    base_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", "masked-copy-key-for-the-budget-test")
    spec = yaml.safe_load(
        _spec("copy", _spelled(tmp_path, "/data/base.db"), tmp_path).read_text("utf-8")
    )
    spec["mode"] = "masked-copy"
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    assert main(["run", str(path), "--json"]) == 0  # internal-testing permits masked copies
    out = json.loads(capsys.readouterr().out)
    assert out["epsilon_spent"] == 0.0
    key = source_key(f"sqlite:///{base_db}", "customers")
    [line] = _ledger(home).entries(key)
    assert (line.run_id, line.stage) == (out["run_id"], "masked-copy")
    assert math.isinf(line.epsilon)
    shown = _show(capsys, str(path))
    assert (shown["masked_copies"], shown["spent_epsilon"], shown["no_runs_yet"]) == (1, 0.0, False)
    assert shown["entries"][0]["epsilon"] is None  # JSON has no infinity
    assert shown["entries"][0]["masked_copy"] is True
    assert main(["budget", "show", str(path)]) == 0
    text = capsys.readouterr().out
    assert "1 masked copy (ε = ∞): real rows, not differentially private" in text
    assert "ε = ∞  masked copy of the real rows" in text
    report = json.loads(Path(out["report_json"]).read_text("utf-8"))
    assert "recorded in the ledger as a masked copy" in report["privacy"]["budget"]["note"]


@pytest.mark.slow
def test_delta_is_accumulated_per_source_and_limited(
    home: Path,
    base_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{base_db}"
    assert (
        main(
            [
                "sources",
                "add",
                "crm",
                url,
                "--table",
                "customers",
                "--epsilon-limit",
                "20",
                "--delta-limit",
                "1.5e-5",
            ]
        )
        == 0
    )
    with registered(monkeypatch):
        privacy = {"epsilon": 1.0, "delta": 1e-5}
        first = _spec(
            "first", {"name": "crm"}, tmp_path, synthesizer="test-private", privacy=privacy
        )
        assert main(["run", str(first), "--json"]) in (0, 3)
        capsys.readouterr()
        second = _spec(
            "second",
            _spelled(tmp_path, "/data/base.db"),
            tmp_path,
            synthesizer="test-private",
            privacy=privacy,
        )
        assert main(["run", str(second)]) == 5
    line = _error(capsys)
    assert "spent δ=1e-05 over 1 run(s), this run asks δ=1e-05, limit δ=1.5e-05" in line
    shown = _show(capsys, "crm")
    assert (shown["spent_delta"], shown["limit_delta"]) == (1e-5, 1.5e-5)


def test_budget_show_names_a_source_without_spend_and_refuses_one_that_does_not_exist(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("age\n42\n", "utf-8")
    shown = _show(capsys, f"{tmp_path}/./people.csv")
    assert shown["source"] == f"file://{os.path.realpath(csv)}"
    assert (shown["no_runs_yet"], shown["spent_epsilon"], shown["runs"]) == (True, 0.0, 0)
    assert main(["budget", "show", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "no runs yet" in text
    assert main(["budget", "show", str(tmp_path / "missing.csv")]) == 2
    assert "is no job spec, registered source, ledger key or existing file" in _error(capsys)
    assert main(["budget", "show", f"sqlite:///{tmp_path / 'missing.db'}", "--table", "t"]) == 2
    _error(capsys)
    assert main(["budget", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # looking spends nothing and records nothing
