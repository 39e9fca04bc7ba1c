"""The Python API: a DataFrame in, synthetic rows out, with the guarantees of a job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgate
from synthgate.errors import ConfigError

N = 1500


def _customers(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "email": [f"person{i}@example.org" for i in range(N)],
            "plan": rng.choice(["free", "pro", "enterprise"], N, p=[0.6, 0.3, 0.1]),
            "spend": np.round(rng.gamma(2.0, 40.0, N), 2),
            "age": rng.integers(18, 80, N),
            "churned": rng.random(N) < 0.2,
        }
    )


def test_the_api_is_public_and_lazy() -> None:
    for name in ("run", "inspect", "synthesize", "Synthesis", "Inventory"):
        assert name in synthgate.__all__
        assert getattr(synthgate, name) is not None
    with pytest.raises(AttributeError):
        _ = synthgate.no_such_thing


def test_inspect_a_dataframe_names_its_personal_data() -> None:
    inventory = synthgate.inspect(_customers())
    by_column = {c.column: c for c in inventory.columns}
    assert by_column["email"].entity == "EMAIL_ADDRESS"
    assert by_column["email"].action != "keep"
    assert by_column["plan"].entity is None
    frame = inventory.to_frame()
    assert list(frame["column"]) == list(_customers().columns)
    assert not frame.isin(list(_customers()["email"])).any().any()


@pytest.mark.slow
def test_synthesize_runs_a_whole_job_and_charges_the_budget(tmp_path: Path) -> None:
    real = _customers()
    result = synthgate.synthesize(
        real, epsilon=2.0, target="churned", name="customers", home=tmp_path, seed=3
    )
    assert list(result.data.columns) == list(real.columns)
    assert len(result.data) == pytest.approx(len(real), rel=0.1)
    assert not set(result.data["email"]) & set(real["email"])  # identifiers never copied
    assert set(result.data["plan"].dropna()) <= {"free", "pro", "enterprise"}
    assert result.epsilon is not None
    assert result.epsilon <= 2.0
    assert result.ledger
    assert result.status in {"AWAITING_APPROVAL", "BLOCKED"}
    assert "<html" in result.to_html().lower()
    assert result.report["provenance"]["synthesizer"] == "dp-mst"
    budget = result.report["privacy"]["budget"]
    assert budget["spent_after"] == pytest.approx(result.epsilon, rel=1e-6)
    again = synthgate.synthesize(real, epsilon=1.0, name="customers", home=tmp_path, seed=4)
    assert again.report["privacy"]["budget"]["spent_after"] == pytest.approx(
        budget["spent_after"] + (again.epsilon or 0.0), rel=1e-6
    )  # one source, one ledger


def test_a_bad_name_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="name"):
        synthgate.synthesize(_customers(), epsilon=1.0, name="Not OK!", home=tmp_path)
