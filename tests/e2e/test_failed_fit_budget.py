"""A run whose private fit fails is charged what the fit spent, and says so; a run
that fails before any DP mechanism ran is charged nothing, and says that."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from tests.conftest import base_spec

from synthgate import plugins
from synthgate.audit import AuditLog
from synthgate.cli import main
from synthgate.contracts import FitResult, PrivacyRequest, PrivacySpent, TableSchema
from synthgate.errors import SynthesisError
from synthgate.plugins import PluginGroup
from synthgate.privacy import BudgetLedger
from synthgate.store import Store
from synthgate.synth.dp_ctgan import _synthesizer as dp_ctgan_module

SpecWriter = Callable[[dict[str, Any]], Path]


class _FailingFit:
    """A private synthesizer whose fit stops with a SynthesisError."""

    name: ClassVar[str] = "test-failing"
    private: ClassVar[bool] = True
    spent: ClassVar[float | None] = None

    def __init__(self, **params: Any) -> None:
        return None

    def fit(
        self, data: pd.DataFrame, schema: TableSchema, *, privacy: PrivacyRequest, **_: Any
    ) -> FitResult:
        raise SynthesisError("the test fit stopped", spent_epsilon=self.spent)

    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(private=True, epsilon=0.0, delta=0.0, accountant="prv")


class SpentSome(_FailingFit):
    name: ClassVar[str] = "test-fails-after-dp"
    spent: ClassVar[float | None] = 0.31


class SpentNothing(_FailingFit):
    name: ClassVar[str] = "test-fails-before-dp"


class _EntryPoint:
    def __init__(self, obj: type) -> None:
        self.obj = obj

    def load(self) -> type:
        return self.obj


@contextlib.contextmanager
def _registered(mp: pytest.MonkeyPatch) -> Iterator[None]:
    real = plugins._entry_points

    def patched(group: PluginGroup) -> Mapping[str, Any]:
        eps: dict[str, Any] = dict(real(group))
        if group is PluginGroup.SYNTHESIZERS:
            eps.update({c.name: _EntryPoint(c) for c in (SpentSome, SpentNothing)})
        return eps

    mp.setattr(plugins, "_entry_points", patched)
    yield


def _entries(home: Path) -> list[tuple[str, str, float, str]]:
    ledger = BudgetLedger(Store(f"sqlite:///{home / 'synthgate.db'}"))
    return [
        (e.run_id, e.stage, e.epsilon, e.mechanism)
        for source in ledger.sources()
        for e in ledger.entries(source)
    ]


def _run(spec: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, Any]]:
    code = main(["run", str(spec), "--json"])
    captured = capsys.readouterr()
    errors = [ln for ln in captured.err.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in captured.err
    assert len(errors) == 1, captured.err
    return code, errors[0], json.loads(captured.out)


@pytest.mark.slow
def test_a_failed_fit_is_charged_what_it_spent_and_says_so(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["pii"] = {"sample_values": 40}
    spec["release"] = {"policy": "internal-testing"}
    with _registered(monkeypatch):
        spec["synthesis"] = {"synthesizer": "test-fails-after-dp", "privacy": {"epsilon": 1.0}}
        code, line, doc = _run(write_spec(spec), capsys)
        assert code == 1
        assert line.endswith("the test fit stopped; epsilon 0.31 of this run was charged")
        assert doc["error"].endswith("epsilon 0.31 of this run was charged")
        [(run_id, stage, epsilon, mechanism)] = _entries(home)
        assert (stage, epsilon, mechanism) == ("total", 0.31, "failed-fit")

        spec["synthesis"] = {"synthesizer": "test-fails-before-dp", "privacy": {"epsilon": 1.0}}
        code, line, _ = _run(write_spec(spec), capsys)
        assert code == 1
        assert line.endswith("the test fit stopped; no privacy budget was charged")
        assert len(_entries(home)) == 1  # nothing added

    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "failed"
    assert run.error is not None
    assert run.error.endswith("epsilon 0.31 of this run was charged")
    charged = [e for e in AuditLog(store).events() if e.action == "budget.spent"]
    assert [(e.subject, e.details["epsilon"], e.details["failed_fit"]) for e in charged] == [
        (run_id, 0.31, True)
    ]


def _sparse_csv(path: Path) -> Path:
    rng = np.random.default_rng(2)
    rare = np.full(200, np.nan)
    rare[:3] = [1.5, 2.5, 3.5]  # three values: no bin of a DP histogram rises above noise
    pd.DataFrame(
        {
            "plan": rng.choice(["free", "pro"], 200),
            "spend": np.round(rng.uniform(0, 100, 200), 2),
            "rare": rare,
        }
    ).to_csv(path, index=False)
    return path


class _FixedNoise:
    """dp-ctgan's source of noise seeds, fixed: a draw where no bin of ``rare`` rises
    above the noise (with fresh entropy about one run in four would find a range)."""

    @staticmethod
    def randbits(k: int) -> int:
        return 20261205 % (1 << k)


@pytest.mark.slow
def test_dp_ctgan_stopped_in_preprocessing_is_charged_what_it_spent(
    home: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dp_ctgan_module, "secrets", _FixedNoise)
    csv = _sparse_csv(tmp_path / "codes.csv")
    params: dict[str, Any] = {"epochs": 1, "generator_dims": [16], "critic_dims": [16]}
    spec: dict[str, Any] = {
        "name": "free-text",
        "source": {"url": str(csv), "table": "codes"},
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "codes_syn"},
        "pii": {"sample_values": 40},
        "synthesis": {
            "synthesizer": "dp-ctgan",
            "privacy": {"epsilon": 2.0},
            "params": params,
            # declared: plan's categories and spend's range cost nothing, so the only
            # column that can stop the fit is rare
            "columns": {
                "plan": {"categories": ["free", "pro"]},
                "spend": {"min": 0, "max": 100},
            },
        },
        "release": {"policy": "internal-testing"},
    }
    spec["synthesis"]["seed"] = 5  # the split too
    code, line, _ = _run(write_spec(spec), capsys)
    assert code == 1
    assert "column 'rare' has too few rows to find its range" in line
    assert " of this run was charged" in line
    [(_, stage, epsilon, mechanism)] = _entries(home)
    assert (stage, mechanism) == ("total", "failed-fit")
    assert 0 < epsilon < 2.0
    assert f"epsilon {epsilon:.3g} of this run was charged" in line

    params["batch_size"] = 5000  # refused before any mechanism runs
    code, line, _ = _run(write_spec(spec), capsys)
    assert code == 2
    assert "batch_size 5000 is larger than the training table" in line
    assert line.endswith("no privacy budget was charged")
    assert len(_entries(home)) == 1
