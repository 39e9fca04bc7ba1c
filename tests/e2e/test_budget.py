from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import base_spec, register_pack

from synthgate.cli import main
from synthgate.store import Store

SpecWriter = Callable[[dict[str, Any]], Path]


@pytest.mark.slow
def test_repeated_private_runs_accumulate_and_the_one_over_budget_stops(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack = tmp_path / "tight.yaml"
    pack.write_text(
        "name: tight\nbudget: {epsilon_per_source: 5}\nrules:\n"
        "  - {id: replay, metric: privacy.pii_replay, op: '==', threshold: 0, explain: no replay}\n"
    )
    spec = base_spec(demo_db, tmp_path)
    spec["synthesis"] = {
        "synthesizer": "dp-ctgan",
        "privacy": {"epsilon": 2.0},
        "params": {"epochs": 1, "batch_size": 60, "generator_dims": [16], "critic_dims": [16]},
        "columns": {
            "monthly_spend": {"min": 0, "max": 1000},
            "age": {"min": 18, "max": 90},
            "tenure_months": {"min": 0, "max": 130},
        },
    }
    keep = [
        "customer_id",
        "name",
        "email",
        "plan",
        "monthly_spend",
        "tenure_months",
        "region",
        "gender",
        "age",
        "churned",
    ]
    spec["source"]["columns"] = keep
    register_pack(pack)
    spec["release"] = {"policy": str(pack)}
    path = write_spec(spec)

    assert main(["run", str(path), "--json"]) == 4
    first = json.loads(capsys.readouterr().out)
    report = json.loads(Path(first["report_json"]).read_text())
    spent = report["privacy"]["spent"]
    assert spent["private"] is True
    assert spent["epsilon"] <= 2.0
    assert report["privacy"]["budget"]["spent_after"] == pytest.approx(spent["epsilon"])
    assert (Path(first["run_dir"]) / "synthesize" / "model" / "generator.pt").is_file()

    # unchanged source and spec: retraining must be asked for (otherwise exit 99)
    assert main(["run", str(path), "--json", "--force"]) == 4
    capsys.readouterr()
    runs_before = len(list((home / "runs").iterdir()))

    assert main(["run", str(path), "--force"]) == 5
    err = capsys.readouterr().err
    assert "privacy budget" in err
    assert "limit ε=5" in err
    assert len(list((home / "runs").iterdir())) == runs_before, "no run starts over budget"

    assert main(["budget", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["limit_epsilon"] == 5
    assert shown["runs"] == 2
    assert shown["spent_epsilon"] <= 4.0
    totals = [e for e in shown["entries"] if e["stage"] == "total"]
    assert len(totals) == 2
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    from synthgate.audit import AuditLog

    assert sum(1 for e in AuditLog(store).events() if e.action == "budget.spent") == 2
