"""Empty, all-missing, constant and single-class columns: metrics say why, never crash."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthgate.contracts import ColumnSchema, LogicalType, PrivacySpent, TableSchema
from synthgate.release import ReleaseStatus, evaluate_gate, load_policy, read_policy_file
from synthgate.validate import (
    Area,
    MetricRegistry,
    ValidationInput,
    ValidationOptions,
    ValidationOutcome,
    default_registry,
    validate_all,
)

SCHEMA = TableSchema(
    "people",
    (
        ColumnSchema("group", LogicalType.CATEGORICAL, domain=("a", "b", "c")),
        ColumnSchema("x", LogicalType.FLOAT),
        ColumnSchema("band", LogicalType.CATEGORICAL),
        ColumnSchema("count", LogicalType.INTEGER),
        ColumnSchema("joined", LogicalType.DATE),
        ColumnSchema("outcome", LogicalType.BOOLEAN),
    ),
)
NOT_PRIVATE = PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)
FAST = MetricRegistry(
    m for m in default_registry() if m.area in (Area.UTILITY, Area.BIAS, Area.STRUCTURAL)
)


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n)
    return pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c"], size=n, p=[0.45, 0.4, 0.15]),
            "x": x,
            "band": np.where(x + rng.normal(0, 3, n) > 50, "high", "low"),
            "count": rng.poisson(3, n),
            "joined": [date(2015, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 3000, n)],
            "outcome": rng.random(n) < 1 / (1 + np.exp(-(x - 50) / 6)),
        }
    )


TRAIN, HOLDOUT, FRESH = people(400, 1), people(200, 2), people(400, 3)


def run(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    registry: MetricRegistry = FAST,
    *,
    target: str = "outcome",
) -> ValidationOutcome:
    data = ValidationInput(
        train=train,
        synthetic=synthetic,
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
        holdout=HOLDOUT,
        target_column=target,
        protected_attributes=("group",),
        options=ValidationOptions(strict=True, seed=1),  # strict: any exception fails
    )
    return validate_all(data, registry)


def degrade(frame: pd.DataFrame, column: str, how: str) -> pd.DataFrame:
    out = frame.astype({column: object})
    out[column] = None if how == "missing" else frame[column].iloc[0]
    return out


def result(out: ValidationOutcome, name: str) -> tuple[Any, dict[str, Any]]:
    m = next(m for m in out.metrics if m.name == name)
    return m.value, dict(m.details)


def assert_reported(out: ValidationOutcome) -> None:
    """Every metric has a value or a reason; none merely 'failed'."""
    for m in out.metrics:
        if m.value is None:
            assert m.details.get("skipped"), m.name
            assert not str(m.details["skipped"]).startswith("failed with"), m.name


@pytest.mark.parametrize("how", ["missing", "constant"])
@pytest.mark.parametrize("column", ["outcome", "group", "x", "joined"])
@pytest.mark.parametrize("side", ["synthetic", "real"])
def test_a_degenerate_column_on_either_side_never_breaks_a_metric(
    side: str, column: str, how: str
) -> None:
    if side == "synthetic":
        out = run(TRAIN, degrade(FRESH, column, how))
    else:
        out = run(degrade(TRAIN, column, how), FRESH)
    assert_reported(out)


@pytest.mark.parametrize(
    "synthetic",
    [FRESH.iloc[:0], FRESH.astype(object).map(lambda _: None)],
    ids=["no-rows", "every-value-missing"],
)
def test_an_empty_synthetic_table_leaves_every_metric_with_a_value_or_a_reason(
    synthetic: pd.DataFrame,
) -> None:
    out = run(TRAIN, synthetic, default_registry())
    assert_reported(out)
    assert out.flat["structural.validity"] in (None, 0.0)
    assert out.flat["utility.tstr_ratio"] is None
    _, details = result(out, "utility.tstr_ratio")
    assert details["skipped"].startswith("the synthetic target column is empty")


def test_an_all_missing_numeric_feature_is_left_out_of_that_model_only() -> None:
    out = run(TRAIN, degrade(FRESH, "x", "missing"))
    value, details = result(out, "utility.tstr_score")
    assert value is not None
    assert details["features_without_values"] == {"synthetic": ["x"]}
    real_value, real_details = result(out, "utility.trtr_score")
    assert real_value is not None
    assert real_details["features_without_values"] == {"synthetic": ["x"]}
    assert out.flat["structural.validity"] < 1.0  # and structural validity names it
    _, structural = result(out, "structural.validity")
    assert "x" in structural["failing_columns"]


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("missing", "the synthetic target column is empty: no model can be trained on it"),
        ("constant", "the synthetic target column holds a single value"),
    ],
)
def test_an_unusable_synthetic_target_keeps_the_real_score_and_explains_the_rest(
    how: str, reason: str
) -> None:
    out = run(TRAIN, degrade(FRESH, "outcome", how))
    trtr, _ = result(out, "utility.trtr_score")
    assert trtr is not None
    assert trtr > 0.6
    for name in ("utility.tstr_score", "utility.tstr_ratio"):
        value, details = result(out, name)
        assert value is None, name
        assert details["skipped"].startswith(reason), name
        assert details["target"] == "outcome"
    for name in ("bias.max_parity_gap_delta", "bias.max_eodds_gap_delta"):
        value, details = result(out, name)
        assert value is None, name
        assert details["skipped"].startswith(reason), name
    gap, details = result(out, "bias.max_outcome_gap_delta")
    if how == "missing":
        assert gap is None
        assert details["skipped"] == "the synthetic outcome column is empty"
    else:
        assert gap is not None  # a constant outcome has rates per group: all 0 or all 1


def test_an_empty_synthetic_protected_attribute_is_skipped_with_its_reason() -> None:
    out = run(TRAIN, degrade(FRESH, "group", "missing"))
    for name in ("bias.max_share_gap", "bias.erased_groups", "bias.amplified_attributes"):
        value, details = result(out, name)
        assert value is None, name
        assert "group: the synthetic column has no value" in details["skipped"], name
    # a constant synthetic attribute is a finding, not a failure to compute
    out = run(TRAIN, degrade(FRESH, "group", "constant"))
    assert out.flat["bias.erased_groups"] == 2


def test_empty_real_columns_are_explained() -> None:
    out = run(degrade(TRAIN, "outcome", "missing"), FRESH)
    _, details = result(out, "utility.tstr_ratio")
    assert details["skipped"] == "the target column has no value in the real training rows"
    out = run(degrade(TRAIN, "group", "missing"), FRESH)
    _, details = result(out, "bias.max_share_gap")
    assert "group: the real column has no value" in details["skipped"]


def test_a_regression_target_with_infinite_or_constant_synthetic_values() -> None:
    synthetic = FRESH.copy()
    synthetic.loc[:20, "x"] = np.inf
    out = run(TRAIN, synthetic, target="x")
    assert_reported(out)
    assert out.flat["utility.tstr_score"] is not None
    assert out.flat["structural.out_of_range_share"] > 0.05  # infinities are impossible values
    out = run(TRAIN, degrade(FRESH, "x", "constant"), target="x")
    _, details = result(out, "utility.tstr_ratio")
    assert details["skipped"].startswith("the synthetic target column holds a single value")


def test_a_metric_that_was_not_computed_fails_a_blocking_rule(tmp_path: Path) -> None:
    pack = tmp_path / "utility.yaml"
    pack.write_text(
        "name: utility\nrules:\n"
        "  - {id: useful, metric: utility.tstr_ratio, op: '>=', threshold: 0.8, explain: useful}\n"
    )
    out = run(TRAIN, degrade(FRESH, "outcome", "constant"))
    decision = evaluate_gate(read_policy_file(pack), out.flat)
    assert decision.status is ReleaseStatus.BLOCKED
    assert decision.blocking_failures[0].reason.startswith(
        "utility.tstr_ratio was not computed for this run"
    )
    default = evaluate_gate(load_policy("default"), out.flat)
    structural = next(o for o in default.outcomes if o.rule_id == "structural-validity")
    assert not structural.passed  # the collapsed target is a structural failure too
