"""Resuming killed runs and re-sampling saved generators (dp-ctgan)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import base_spec, register_pack

from synthgate.cli import main
from synthgate.store import Store
from synthgate.store.models import BudgetEntry, RunRow, StageRow

SpecWriter = Callable[[dict[str, Any]], Path]
KEEP = ["customer_id", "name", "plan", "monthly_spend", "tenure_months", "gender", "age", "churned"]


def _dp_spec(demo_db: Path, tmp_path: Path, *, epochs: int, epsilon: float) -> dict[str, Any]:
    spec = base_spec(demo_db, tmp_path)
    spec["source"]["columns"] = KEEP
    spec["synthesis"] = {
        "synthesizer": "dp-ctgan",
        "seed": 11,
        "privacy": {"epsilon": epsilon},
        "params": {"epochs": epochs, "batch_size": 60, "generator_dims": [16], "critic_dims": [16]},
        "columns": {
            "monthly_spend": {"min": 0, "max": 1000},
            "age": {"min": 18, "max": 90},
            "tenure_months": {"min": 0, "max": 130},
        },
    }
    return spec


def _stages(store: Store, run_id: str) -> dict[str, str]:
    with store.session() as s:
        rows = s.scalars(select(StageRow).where(StageRow.run_id == run_id))
        return {r.name: r.status for r in rows}


def _totals(store: Store) -> list[tuple[str, float, str]]:
    with store.session() as s:
        rows = s.scalars(select(BudgetEntry).where(BudgetEntry.stage == "total"))
        return [(r.run_id, r.epsilon, r.mechanism) for r in rows]


def _only_run(store: Store) -> RunRow:
    with store.session() as s:
        runs = list(s.scalars(select(RunRow)))
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0]


def _start(spec: Path, home: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, SYNTHGATE_HOME=str(home), SYNTHGATE_USER="alice")
    env.pop("SYNTHGATE_STORE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "synthgate.cli", "run", str(spec), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _kill_when(
    proc: subprocess.Popen[str], store: Store, stage: str, status: str, *, deadline: float = 240
) -> str:
    """SIGKILL *proc* as soon as the store shows *stage* with *status*; return the run id."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with store.session() as s:
            row = s.scalars(
                select(StageRow).where(StageRow.name == stage, StageRow.status == status)
            ).first()
        if row is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return row.run_id
        try:
            proc.wait(timeout=0.02)  # the pause between polls; also notices an early exit
        except subprocess.TimeoutExpired:
            continue
        _out, err = proc.communicate()
        pytest.fail(f"the run ended (rc {proc.returncode}) before {stage} was {status}: {err}")
    proc.kill()
    pytest.fail(f"{stage} was not {status} within {deadline}s")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_finished_stages_and_charges_the_budget_once(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter
) -> None:
    spec = write_spec(_dp_spec(demo_db, tmp_path, epochs=30, epsilon=2.0))
    store = Store(f"sqlite:///{home / 'synthgate.db'}")  # migrated before any child opens it

    # 1. killed in the middle of training
    first = _start(spec, home)
    run_id = _kill_when(first, store, "synthesize", "running")
    assert first.returncode == -signal.SIGKILL
    assert _only_run(store).status == "running"
    stages = _stages(store, run_id)
    assert stages["mask"] == "succeeded"
    assert stages["synthesize"] == "running"
    assert _totals(store) == []  # nothing trained to the end, nothing charged

    # 2. the rerun continues the same run, trains, and is killed while validating
    second = _start(spec, home)
    assert _kill_when(second, store, "validate", "running") == run_id
    assert _stages(store, run_id)["synthesize"] == "succeeded"
    charged = _totals(store)
    assert len(charged) == 1
    assert charged[0][0] == run_id
    sample = home / "runs" / run_id / "sample" / "synthetic.parquet"
    before_crash = _sha(sample)
    model = home / "runs" / run_id / "synthesize" / "model" / "generator.pt"
    model_sha = _sha(model)

    # 3. the third try finishes: same run, the trained model re-used, the same sample
    third = _start(spec, home)
    out, err = third.communicate(timeout=300)
    assert third.returncode in (3, 4), err
    result = json.loads(out)
    assert result["run_id"] == run_id
    assert result["mode"] == "resume"
    assert result["model_run"] == run_id
    assert _sha(Path(result["synthetic_path"])) == before_crash
    assert _sha(model) == model_sha  # not retrained
    assert _totals(store) == charged  # charged exactly once, by the run that trained
    assert result["epsilon_spent"] == pytest.approx(charged[0][1])
    run = _only_run(store)
    assert run.status == "succeeded"
    assert set(_stages(store, run_id).values()) == {"succeeded"}
    report = json.loads(Path(result["report_json"]).read_text("utf-8"))
    assert report["run"]["mode"] == "resume"
    assert report["privacy"]["budget"]["spent_before"] == pytest.approx(charged[0][1])

    # 4. nothing changed since: nothing to do
    fourth = _start(spec, home)
    out, err = fourth.communicate(timeout=300)
    assert fourth.returncode == 99, err
    assert json.loads(out)["model_run"] == run_id
    assert _totals(store) == charged


@pytest.mark.slow
def test_asking_for_more_rows_resamples_the_saved_model_without_spending_budget(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack = tmp_path / "one-run.yaml"
    pack.write_text(
        "name: one-run\nbudget: {epsilon_per_source: 1.5}\nrules:\n"
        "  - {id: replay, metric: privacy.pii_replay, op: '==', threshold: 0, explain: no replay}\n"
    )
    raw = _dp_spec(demo_db, tmp_path, epochs=2, epsilon=1.5)
    register_pack(pack)
    raw["release"] = {"policy": str(pack)}
    spec = write_spec(raw)
    assert main(["run", str(spec), "--json"]) == 4
    trained = json.loads(capsys.readouterr().out)
    assert trained["mode"] == "train"
    assert trained["epsilon_spent"] == pytest.approx(1.5, rel=0.05)
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    assert len(_totals(store)) == 1

    # the budget is used up: training again would stop with exit 5 …
    raw["synthesis"]["rows"] = 120
    spec = write_spec(raw)
    # … but more rows from the same model is post-processing
    assert main(["run", str(spec), "--json"]) == 4
    resampled = json.loads(capsys.readouterr().out)
    assert resampled["mode"] == "resample"
    assert resampled["model_run"] == trained["run_id"]
    assert resampled["epsilon_spent"] == 0.0
    assert resampled["rows"] == 120
    totals = _totals(store)
    assert sorted(t[1] for t in totals) == [0.0, pytest.approx(trained["epsilon_spent"])]
    assert (resampled["run_id"], 0.0, "post-processing") in totals
    report = json.loads(Path(resampled["report_json"]).read_text("utf-8"))
    note = report["privacy"]["budget"]["note"]
    assert note.startswith(
        f"re-sampled from model of run {trained['run_id']}; no privacy budget spent"
    )
    assert report["privacy"]["budget"]["spent_this_run"] == 0.0
    assert report["privacy"]["spent"]["epsilon"] == pytest.approx(trained["epsilon_spent"])
    copied = Path(resampled["run_dir"]) / "synthesize" / "model" / "generator.pt"
    original = Path(trained["run_dir"]) / "synthesize" / "model" / "generator.pt"
    assert _sha(copied) == _sha(original)

    # a change to what the model learns from needs budget again, and there is none
    raw["synthesis"]["privacy"]["epsilon"] = 1.0
    spec = write_spec(raw)
    assert main(["run", str(spec)]) == 5
    assert "privacy budget" in capsys.readouterr().err
    assert len(_totals(store)) == 2

    # so does a new question about the real rows: grouping them by another column is a
    # new statistic, which a free re-sample may not compute
    raw["synthesis"]["privacy"]["epsilon"] = 1.5
    raw["validation"]["protected_attributes"] = ["plan"]
    spec = write_spec(raw)
    assert main(["run", str(spec)]) == 5
    assert "privacy budget" in capsys.readouterr().err
    assert len(_totals(store)) == 2
