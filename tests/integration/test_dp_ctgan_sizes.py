"""DP-CTGAN on small tables, and what a fit that stops has spent."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
from synthgate.errors import ConfigError, SynthesisError
from synthgate.synth.dp_ctgan import DPCTGANSynthesizer
from synthgate.synth.dp_ctgan._synthesizer import DPCTGANParams, batch_size_for

warnings.simplefilter("ignore")
SMALL = {"epochs": 2, "generator_dims": (16,), "critic_dims": (16,)}
PRIVACY = PrivacyRequest(epsilon=3.0, delta=1e-5)


def _table(rows: int, *, with_code: bool = False) -> tuple[pd.DataFrame, TableSchema]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["free", "pro"], rows),
            "spend": np.round(rng.uniform(0, 100, rows), 2),
        }
    )
    cols = [
        ColumnSchema("plan", LogicalType.CATEGORICAL, domain=("free", "pro")),
        # declared: a hundred rows are too few for DP bounds at this epsilon
        ColumnSchema("spend", LogicalType.FLOAT, bounds=(0.0, 100.0)),
    ]
    if with_code:  # every value unique: partition selection releases none of them
        frame["code"] = [f"K-{i:05d}" for i in range(rows)]
        cols.append(ColumnSchema("code", LogicalType.CATEGORICAL))
    return frame, TableSchema("t", tuple(cols))


@pytest.mark.parametrize(
    ("rows", "batch"), [(5, 5), (100, 16), (400, 40), (5000, 500), (50_000, 1000)]
)
def test_default_batch_follows_the_row_count(rows: int, batch: int) -> None:
    assert batch_size_for(rows) == batch
    assert "min(1000, max(16, n // 10), n)" in str(
        DPCTGANParams.model_fields["batch_size"].description
    )


def test_a_100_row_table_trains_with_the_default_batch_and_flushed_denormals() -> None:
    flushing = torch.set_flush_denormal(False)  # False where the CPU cannot flush them
    tiny = torch.tensor([1e-40], dtype=torch.float32)
    seen: list[float] = []

    spent: list[float] = []

    def progress(step: int, total: int, info: dict[str, float]) -> None:
        seen.append(float((tiny * 1.0)[0]))
        spent.append(info["epsilon"])  # ε so far, for the progress line

    frame, schema = _table(100)
    synth = DPCTGANSynthesizer(**SMALL)
    fit = synth.fit(frame, schema, privacy=PRIVACY, seed=0, progress=progress)
    rows = synth.released_rows()  # the DP row count: batch and steps follow it, not N
    assert fit.params["batch_size"] == batch_size_for(rows)
    assert fit.params["steps"] == 2 * math.ceil(rows / fit.params["batch_size"])
    assert fit.params["sample_rate"] == 1 / math.ceil(rows / fit.params["batch_size"])
    assert fit.privacy.epsilon is not None
    assert fit.privacy.epsilon <= 3.0 * 1.001
    assert len(synth.sample(50)) == 50
    assert 0 < spent[0] <= spent[-1] <= 3.0  # grows with the steps, never above the run's ε
    assert spent == sorted(spent)
    if flushing:
        assert seen
        assert all(v == 0.0 for v in seen)
        assert float((tiny * 1.0)[0]) > 0.0  # and not after


def test_an_explicit_batch_larger_than_the_table_is_a_config_error() -> None:
    frame, schema = _table(100)
    with pytest.raises(ConfigError) as info:
        DPCTGANSynthesizer(batch_size=500, **SMALL).fit(frame, schema, privacy=PRIVACY, seed=0)
    message = str(info.value)
    assert "synthesis.params.batch_size 500 is larger than the training table" in message
    assert "100" not in message  # the exact size is not public (add/remove adjacency)
    assert "remove synthesis.params.batch_size" in message
    assert "\n" not in message


def test_a_fit_stopped_in_preprocessing_reports_what_ran() -> None:
    frame, schema = _table(200, with_code=True)
    with pytest.raises(SynthesisError) as info:
        DPCTGANSynthesizer(**SMALL).fit(frame, schema, privacy=PRIVACY, seed=0)
    assert "no value of column 'code' is frequent enough" in str(info.value)
    spent = info.value.spent_epsilon
    assert spent is not None
    assert 0 < spent < 0.5 * PRIVACY.epsilon  # preprocessing only: a small share of ε


def test_a_fit_stopped_mid_training_reports_the_steps_taken() -> None:
    frame, schema = _table(400)

    def stop_at(step: int, total: int, info: dict[str, float]) -> None:
        if step == 3:
            raise RuntimeError("worker lost")

    with pytest.raises(SynthesisError, match=r"training failed \(RuntimeError\)") as info:
        DPCTGANSynthesizer(**SMALL).fit(frame, schema, privacy=PRIVACY, seed=0, progress=stop_at)
    spent = info.value.spent_epsilon
    assert spent is not None
    assert 0 < spent < PRIVACY.epsilon
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize(
    ("params", "schema_type"),
    [({"batch_size": 5000}, LogicalType.FLOAT), ({}, LogicalType.IDENTIFIER)],
)
def test_errors_before_any_mechanism_spend_nothing(
    params: dict[str, Any], schema_type: LogicalType
) -> None:
    frame, schema = _table(100)
    cols = (schema.columns[0], ColumnSchema("spend", schema_type))
    with pytest.raises(ConfigError) as info:
        DPCTGANSynthesizer(**{**SMALL, **params}).fit(
            frame, TableSchema("t", cols), privacy=PRIVACY, seed=0
        )
    assert not isinstance(info.value, SynthesisError)
