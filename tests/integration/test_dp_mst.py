"""dp-mst: its ε, its artifact and the validity of every value it samples,
checked on a table that carries the hazards of real ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthgate.synth.dp_mst._synthesizer as mst_module
from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
from synthgate.privacy import GaussianMechanism, compose, planned_count, rdp_rho_for_epsilon
from synthgate.synth import create_synthesizer
from synthgate.synth.dp_mst import DPMSTSynthesizer
from synthgate.synth.dp_mst._synthesizer import _Plan

N = 6000
CANARY = "ZQX-CANARY-7731"
OUTLIER = 987_654.321


def _hazards(seed: int = 0) -> tuple[pd.DataFrame, TableSchema]:
    rng = np.random.default_rng(seed)
    status = rng.choice(["current", "late"], N, p=[0.94, 0.06])
    amount = np.where(rng.random(N) < 0.9, 0.0, np.round(rng.lognormal(8, 1.5, N), 2))
    mostly_empty = np.where(rng.random(N) < 0.89, np.nan, rng.integers(1, 11, N))
    half_empty = pd.Series(rng.choice(["a", "b", "c"], N), dtype=object)
    half_empty[rng.random(N) < 0.52] = None
    days = rng.integers(0, 4 * 365, N)
    opened = pd.to_datetime("2013-01-01") + pd.to_timedelta(days, unit="D")
    frame = pd.DataFrame(
        {
            "status": status,
            "flag": rng.random(N) < 0.3,
            "score": rng.integers(1, 11, N),
            "amount": amount,
            "mostly_empty": mostly_empty,
            "half_empty": half_empty,
            "opened": opened,
            "constant": "x",
            "never": pd.Series([None] * N, dtype=object),
            "city": rng.choice([f"c{i}" for i in range(30)], N),
        }
    )
    frame.loc[0, "city"] = CANARY
    frame.loc[1, "amount"] = OUTLIER
    schema = TableSchema(
        "t",
        (
            ColumnSchema("status", LogicalType.CATEGORICAL),
            ColumnSchema("flag", LogicalType.BOOLEAN),
            ColumnSchema("score", LogicalType.INTEGER),
            ColumnSchema("amount", LogicalType.FLOAT),
            ColumnSchema("mostly_empty", LogicalType.INTEGER),
            ColumnSchema("half_empty", LogicalType.CATEGORICAL),
            ColumnSchema("opened", LogicalType.DATE),
            ColumnSchema("constant", LogicalType.CATEGORICAL),
            ColumnSchema("never", LogicalType.FLOAT),
            ColumnSchema("city", LogicalType.CATEGORICAL),
        ),
    )
    return frame, schema


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[DPMSTSynthesizer, pd.DataFrame, Path]:
    frame, schema = _hazards()
    synth = DPMSTSynthesizer()
    with pytest.MonkeyPatch.context() as mp:  # reproducible noise for a reproducible test
        mp.setattr(mst_module, "noise_generator", lambda: np.random.default_rng(11))
        synth.fit(frame, schema, privacy=PrivacyRequest(epsilon=3.0, delta=1e-5), seed=7)
    folder = tmp_path_factory.mktemp("mst") / "model"
    synth.save(folder)
    return synth, frame, folder


def test_noise_is_drawn_from_fresh_entropy_not_the_job_seed() -> None:
    first = mst_module.noise_generator().random(4)
    second = mst_module.noise_generator().random(4)
    assert not np.array_equal(first, second)


def test_registered_as_a_plugin() -> None:
    assert create_synthesizer("dp-mst", {}).name == "dp-mst"


def test_epsilon_is_composed_from_every_mechanism_and_stays_within_the_request(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    synth, _, _ = fitted
    spent = synth.privacy_spent()
    assert spent.epsilon is not None
    assert spent.epsilon <= 3.0  # never above the request, not even by rounding
    assert spent.accountant == "rdp"  # the exponential mechanism has no PRV form
    names = [s.mechanism for s in spent.stages]
    d = 10
    assert sum(n.startswith("1-way:") for n in names) == d
    assert sum(n.startswith("tree-edge:") for n in names) == d - 1
    assert sum(n.startswith("2-way:") for n in names) == d - 1
    # declared nothing: every categorical is discovered, every number bounded under DP
    assert sum(n.startswith("partition-selection:") for n in names) == 4
    assert sum(n.startswith("bounds:") for n in names) == 5
    recomputed = compose(
        [GaussianMechanism(**s.details) for s in spent.stages], delta=spent.delta or 0.0
    )
    assert recomputed.epsilon == pytest.approx(spent.epsilon)


def test_every_value_stays_inside_its_domain(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    synth, _real, _ = fitted
    fake = synth.sample(20_000, seed=1)
    assert set(fake["status"].dropna()) <= {"current", "late"}
    assert fake["score"].dropna().between(1, 10).all()
    assert (fake["score"].dropna() % 1 == 0).all()
    opened = pd.to_datetime(fake["opened"].dropna())
    assert opened.min() >= pd.Timestamp("2012-12-01")
    assert opened.max() <= pd.Timestamp("2017-02-01")
    assert fake["amount"].dropna().min() >= 0
    assert fake["amount"].dropna().max() < OUTLIER  # one extreme row is not released
    assert CANARY not in set(fake["city"].dropna())  # nor is a unique category
    assert set(fake["constant"].dropna()) == {"x"}


def test_shapes_that_real_tables_have_survive(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    synth, _real, _ = fitted
    fake = synth.sample(20_000, seed=2)
    # the minority class of an imbalanced target does not collapse
    assert (fake["status"] == "late").mean() == pytest.approx(0.06, abs=0.02)
    # binary flags are not constant
    assert fake["flag"].mean() == pytest.approx(0.3, abs=0.05)
    # null shares are learned per column, and nulls never appear where there are none
    assert fake["mostly_empty"].isna().mean() == pytest.approx(0.89, abs=0.03)
    assert fake["half_empty"].isna().mean() == pytest.approx(0.52, abs=0.03)
    assert fake["status"].isna().mean() == 0.0
    assert fake["never"].isna().all()
    # a 90% point mass at zero stays a point mass
    assert (fake["amount"] == 0).mean() == pytest.approx(0.9, abs=0.03)


def test_artifact_holds_released_statistics_only(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    _, _, folder = fitted
    assert [p.name for p in folder.iterdir()] == ["model.json"]
    text = (folder / "model.json").read_text("utf-8")
    assert CANARY not in text
    assert "987654" not in text
    assert json.loads(text)["synthesizer"] == "dp-mst"


def test_a_loaded_model_samples_what_the_fitted_one_does(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    synth, _, folder = fitted
    loaded = DPMSTSynthesizer.load(folder, sample_seed=5)
    pd.testing.assert_frame_equal(loaded.sample(500, seed=3), synth.sample(500, seed=3))
    assert loaded.privacy_spent().epsilon == synth.privacy_spent().epsilon


def test_conditional_sampling_returns_only_the_condition(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    synth, _, _ = fitted
    rows = synth.sample(300, conditions={"status": "late"}, seed=4)
    assert len(rows) == 300
    assert set(rows["status"]) == {"late"}


def test_a_single_column_table_is_synthesized() -> None:
    frame = pd.DataFrame({"x": np.arange(2000) % 7})
    schema = TableSchema("t", (ColumnSchema("x", LogicalType.INTEGER, nullable=False),))
    synth = DPMSTSynthesizer()
    fit = synth.fit(frame, schema, privacy=PrivacyRequest(epsilon=1.0, delta=1e-6), seed=0)
    assert fit.privacy.epsilon is not None
    assert fit.privacy.epsilon <= 1.001
    out = synth.sample(1000)
    assert out["x"].between(0, 6).all()


@settings(max_examples=12, deadline=None)
@given(
    epsilon=st.floats(0.05, 20.0),
    delta=st.floats(1e-9, 1e-4),
    columns=st.integers(1, 30),
    declared=st.booleans(),
    auto=st.booleans(),
    rows=st.integers(1, 10**8),
)
def test_the_plan_composes_to_the_requested_epsilon(
    epsilon: float, delta: float, columns: int, declared: bool, auto: bool, rows: int
) -> None:
    cols = tuple(
        ColumnSchema(
            f"c{i}",
            LogicalType.CATEGORICAL if i % 2 else LogicalType.FLOAT,
            domain=("a", "b") if declared and i % 2 else None,
            bounds=(0.0, 1.0) if declared and not i % 2 else None,
        )
        for i in range(columns)
    )
    count = planned_count(rows, PrivacyRequest(epsilon, 1e-5 if auto else delta, auto))
    privacy = count.privacy  # δ auto resolved from the (here noiseless) row count
    plan = _Plan(DPMSTSynthesizer().params, TableSchema("t", cols), privacy, count.mechanism)
    assert plan.mechanisms[0] is count.mechanism  # the row count is composed like the rest
    account = compose(plan.mechanisms, delta=privacy.delta)
    assert account.epsilon <= epsilon * 1.001
    if columns > 1:  # calibrated on the RDP curve, which is then the accountant of record
        assert account.epsilon >= epsilon * 0.98  # the budget is used, not wasted


@settings(max_examples=15, deadline=None)
@given(epsilon=st.floats(0.01, 50.0), delta=st.floats(1e-10, 1e-3))
def test_rho_for_epsilon_never_overshoots(epsilon: float, delta: float) -> None:
    rho = rdp_rho_for_epsilon(epsilon, delta)
    sigma = (1.0 / (2.0 * rho)) ** 0.5
    account = compose([GaussianMechanism("t", "g", sigma)], delta=delta)
    assert account.rdp_epsilon <= epsilon * 1.0001


def test_the_default_row_count_is_a_dp_estimate_not_the_exact_count(
    fitted: tuple[DPMSTSynthesizer, pd.DataFrame, Path],
) -> None:
    synth, real, folder = fitted
    estimate = synth.released_rows()
    assert estimate == pytest.approx(len(real), rel=0.05)
    assert DPMSTSynthesizer.load(folder).released_rows() == estimate


def test_a_target_column_anchors_every_measurement(tmp_path: Path) -> None:
    frame, schema = _hazards(seed=3)
    synth = DPMSTSynthesizer(target="status")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mst_module, "noise_generator", lambda: np.random.default_rng(5))
        fit = synth.fit(frame, schema, privacy=PrivacyRequest(epsilon=3.0, delta=1e-5), seed=1)
    names = [s.mechanism for s in fit.privacy.stages]
    assert sum(n.startswith("2-way:target-") for n in names) == 9  # every column x target
    assert sum(n.startswith("3-way:edge-") for n in names) == 8  # a tree over the other nine
    assert sum(n.startswith("tree-edge:") for n in names) == 8
    assert fit.privacy.epsilon is not None
    assert fit.privacy.epsilon <= 3.0
    fake = synth.sample(20_000, seed=2)
    assert (fake["status"] == "late").mean() == pytest.approx(0.06, abs=0.02)
    assert fake["score"].dropna().between(1, 10).all()
    synth.save(tmp_path / "model")
    loaded = DPMSTSynthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.sample(300, seed=4), synth.sample(300, seed=4))
