"""Validation metrics on hand-made tables whose right answers are known."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthgate.contracts import (
    ColumnSchema,
    Goal,
    LogicalType,
    MetricResult,
    PrivacySpent,
    TableSchema,
)
from synthgate.reporting import json_safe
from synthgate.validate import (
    Area,
    Measurement,
    MetricDef,
    MetricRegistry,
    Reference,
    RefOp,
    ValidationInput,
    ValidationOptions,
    ValidationOutcome,
    Verdict,
    build_binning,
    default_registry,
    distribution,
    exact_matches,
    flatten,
    known_metric_names,
    validate_all,
)

SCHEMA = TableSchema(
    "people",
    (
        ColumnSchema("group", LogicalType.CATEGORICAL, nullable=False, domain=("a", "b", "c")),
        ColumnSchema("x", LogicalType.FLOAT, nullable=False),
        ColumnSchema("y", LogicalType.FLOAT),
        ColumnSchema("band", LogicalType.CATEGORICAL),
        ColumnSchema("count", LogicalType.INTEGER),
        ColumnSchema("joined", LogicalType.DATE),
        ColumnSchema("outcome", LogicalType.BOOLEAN, nullable=False),
    ),
)
NOT_PRIVATE = PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)


def people(n: int, seed: int) -> pd.DataFrame:
    """Correlated columns: y follows x, band follows x, outcome follows x (not group)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n)
    y = 2 * x + rng.normal(0, 4, n)
    y[rng.random(n) < 0.05] = np.nan
    start = date(2015, 1, 1)
    return pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c"], size=n, p=[0.45, 0.4, 0.15]),
            "x": x,
            "y": y,
            "band": np.where(x + rng.normal(0, 3, n) > 50, "high", "low"),
            "count": rng.poisson(3, n),
            "joined": [start + timedelta(days=int(d)) for d in rng.integers(0, 3000, n)],
            "outcome": rng.random(n) < 1 / (1 + np.exp(-(x - 50) / 6)),
        }
    )


def run(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    registry: MetricRegistry | None = None,
    **extra: Any,
) -> ValidationOutcome:
    data = ValidationInput(
        train=train,
        synthetic=synthetic,
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={"email": 0},
        holdout=holdout,
        target_column="outcome",
        protected_attributes=("group",),
        options=ValidationOptions(strict=True, seed=1),
        **extra,
    )
    return validate_all(data, registry)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    # equal-sized training and holdout sets: a copy of the training set then sits
    # entirely in the distance metrics' training sample
    return {"train": people(500, 1), "holdout": people(500, 2), "fresh": people(500, 3)}


@pytest.fixture(scope="module")
def copied(frames: dict[str, pd.DataFrame]) -> ValidationOutcome:
    return run(frames["train"], frames["train"].copy(), frames["holdout"])


@pytest.fixture(scope="module")
def fresh(frames: dict[str, pd.DataFrame]) -> ValidationOutcome:
    """A new sample of the same population: what an ideal synthesizer produces."""
    return run(frames["train"], frames["fresh"], frames["holdout"])


def only(*areas: Area) -> MetricRegistry:
    return MetricRegistry(m for m in default_registry() if m.area in areas)


# --------------------------------------------------------------------------- registry


def test_every_metric_declares_goal_bounds_and_a_one_sentence_explanation() -> None:
    registry = default_registry()
    assert len(registry) >= 20
    for m in registry:
        assert m.name.startswith(f"{m.area.value}."), m.name
        low, high = m.bounds
        assert low < high
        assert m.explanation.endswith("."), m.name
        assert m.explanation.count(". ") == 0, f"{m.name}: one sentence"
        assert m.good
        assert m.title
        if m.goal is Goal.TARGET:
            assert m.ideal is not None
            assert low <= m.ideal <= high


def test_registry_refuses_duplicates_and_misnamed_metrics() -> None:
    registry = default_registry()
    first = next(iter(registry))
    with pytest.raises(ValueError, match="registered twice"):
        MetricRegistry([first, first])
    with pytest.raises(ValueError, match="must be named privacy"):
        MetricDef("fidelity.x", Area.PRIVACY, "t", Goal.MAXIMIZE, (0, 1), "e.", "g", _skip)
    with pytest.raises(ValueError, match="no ideal"):
        MetricDef("privacy.x", Area.PRIVACY, "t", Goal.TARGET, (0, 1), "e.", "g", _skip)
    with pytest.raises(KeyError, match=r"unknown metric 'privacy\.nope'"):
        registry.get("privacy.nope")


def _skip(ctx: Any) -> Measurement:
    return Measurement.skip("test")


def test_reference_levels_judge_pass_warn_fail() -> None:
    le = Reference(RefOp.LE, 0.55, 0.6)
    assert [le.judge(v) for v in (0.5, 0.58, 0.7, None)] == [
        Verdict.PASS,
        Verdict.WARN,
        Verdict.FAIL,
        Verdict.NOT_COMPUTED,
    ]
    ge = Reference(RefOp.GE, 0.9, 0.8)
    assert [ge.judge(v) for v in (0.95, 0.85, 0.1)] == [Verdict.PASS, Verdict.WARN, Verdict.FAIL]
    assert Verdict.worst([Verdict.PASS, Verdict.WARN]) is Verdict.WARN
    assert Verdict.worst([]) is Verdict.NOT_COMPUTED


def test_a_failing_metric_is_recorded_not_fatal_unless_strict(
    frames: dict[str, pd.DataFrame],
) -> None:
    def boom(ctx: Any) -> Measurement:
        raise RuntimeError("secret-value-in-message")

    broken = MetricRegistry(
        [
            MetricDef(
                "privacy.boom", Area.PRIVACY, "Boom", Goal.MINIMIZE, (0, 1), "Breaks.", "0", boom
            )
        ]
    )
    data = ValidationInput(
        train=frames["train"],
        synthetic=frames["fresh"],
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
    )
    outcome = validate_all(data, broken)
    assert outcome.metrics[0].value is None
    assert outcome.metrics[0].details["skipped"] == "failed with RuntimeError"
    assert "secret-value" not in json.dumps(outcome.report)
    with pytest.raises(RuntimeError):
        validate_all(replace(data, options=ValidationOptions(strict=True)), broken)


def test_flatten_keeps_the_names_policies_already_use(copied: ValidationOutcome) -> None:
    flat = copied.flat
    for name in (
        "fidelity.quality",
        "privacy.exact_match_share",
        "privacy.exact_matches",
        "privacy.pii_replay",
        "synthesizer.private",
        "privacy.epsilon",
        "privacy.delta",
        "privacy.dcr_share",
        "privacy.mia_auc",
        "utility.tstr_ratio",
        "bias.max_parity_gap_delta",
        "quality.gx_success",
    ):
        assert name in flat, name
    assert flat["synthesizer.private"] is False
    assert flat["privacy.epsilon"] is None
    assert isinstance(flat["quality.gx_success"], bool)
    assert set(flat) <= set(known_metric_names())
    private = PrivacySpent(private=True, epsilon=2.0, delta=1e-6, accountant="prv")
    assert flatten(copied.metrics, private)["privacy.epsilon"] == 2.0


# --------------------------------------------------------------------------- fidelity


def test_identical_tables_score_perfect_fidelity(copied: ValidationOutcome) -> None:
    flat = copied.flat
    assert flat["fidelity.quality"] == pytest.approx(1.0, abs=1e-3)
    assert flat["fidelity.column_shapes"] == pytest.approx(1.0, abs=1e-3)
    assert flat["fidelity.correlation_diff"] == pytest.approx(0.0, abs=1e-9)
    assert copied.report["areas"]["fidelity"]["verdict"] == "pass"


def test_shuffled_columns_keep_shapes_but_lose_pair_trends(frames: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(7)
    train = frames["train"]
    shuffled = pd.DataFrame(
        {c: train[c].to_numpy()[rng.permutation(len(train))] for c in train.columns}
    )
    flat = run(train, shuffled, frames["holdout"], registry=only(Area.FIDELITY)).flat
    assert flat["fidelity.column_shapes"] == pytest.approx(1.0, abs=1e-3)
    assert flat["fidelity.pair_trends"] < 0.85
    assert flat["fidelity.correlation_diff"] > 0.8  # x ~ y correlation ≈ 0.98 is gone


def test_independent_noise_fails_fidelity(frames: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(11)
    n = 500
    noise = pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c"], n),
            "x": rng.uniform(-1000, 1000, n),
            "y": rng.uniform(-1000, 1000, n),
            "band": rng.choice(["high", "low"], n),
            "count": rng.integers(0, 1000, n),
            "joined": [
                date(1990, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 20000, n)
            ],
            "outcome": rng.random(n) < 0.5,
        }
    )
    out = run(frames["train"], noise, frames["holdout"], registry=only(Area.FIDELITY, Area.UTILITY))
    assert out.flat["fidelity.quality"] < 0.7
    assert out.report["areas"]["fidelity"]["verdict"] == "fail"
    assert out.flat["utility.tstr_ratio"] < 0.8
    assert out.report["areas"]["utility"]["verdict"] == "fail"


def test_fresh_sample_passes_fidelity_and_utility(fresh: ValidationOutcome) -> None:
    assert fresh.flat["fidelity.quality"] > 0.85
    assert fresh.flat["utility.tstr_ratio"] > 0.9
    details = next(m for m in fresh.metrics if m.name == "utility.tstr_ratio").details
    assert details["task"] == "binary classification"
    assert details["score"] == "ROC AUC"


@pytest.mark.parametrize(
    ("target", "task", "score"),
    [
        ("x", "regression", "R²"),
        ("band", "binary classification", "ROC AUC"),
        ("group", "multi-class classification", "macro F1"),
    ],
)
def test_utility_task_follows_the_target_type(
    frames: dict[str, pd.DataFrame], target: str, task: str, score: str
) -> None:
    data = ValidationInput(
        train=frames["train"],
        synthetic=frames["fresh"],
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
        holdout=frames["holdout"],
        target_column=target,
        options=ValidationOptions(strict=True),
    )
    out = validate_all(data, only(Area.UTILITY))
    ratio = next(m for m in out.metrics if m.name == "utility.tstr_ratio")
    assert (ratio.details["task"], ratio.details["score"]) == (task, score)
    assert ratio.value is not None
    assert ratio.value > 0.8


def test_utility_without_target_is_not_computed_with_a_reason(
    frames: dict[str, pd.DataFrame],
) -> None:
    data = ValidationInput(
        train=frames["train"],
        synthetic=frames["fresh"],
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
        holdout=frames["holdout"],
        options=ValidationOptions(strict=True),
    )
    out = validate_all(data, only(Area.UTILITY, Area.BIAS))
    by_name = {m.name: m for m in out.metrics}
    # no protected attribute at all: no group can vanish or be amplified, and the
    # report says why; the other utility and bias figures are not computed
    for name in ("bias.erased_groups", "bias.amplified_attributes"):
        assert by_name[name].value == 0.0
        assert "no protected attribute" in by_name[name].details["note"]
    others = [
        m for m in out.metrics if m.name not in {"bias.erased_groups", "bias.amplified_attributes"}
    ]
    assert all(m.value is None for m in others)
    assert "target_column" in out.metrics[0].details["skipped"]


# --------------------------------------------------------------------------- privacy


def test_a_copied_training_set_fails_every_privacy_check(copied: ValidationOutcome) -> None:
    flat = copied.flat
    assert flat["privacy.exact_match_share"] == 1.0
    assert flat["privacy.exact_matches"] == 500
    assert flat["privacy.dcr_share"] == pytest.approx(1.0)
    assert flat["privacy.nndr"] == pytest.approx(0.0)
    assert flat["privacy.mia_auc"] > 0.95
    assert flat["privacy.singling_out_risk"] > 0.3
    assert flat["privacy.linkability_risk"] > 0.8
    assert flat["privacy.inference_risk"] > 0.5
    verdicts = copied.report["areas"]["privacy"]["metrics"]
    for name in (
        "privacy.dcr_share",
        "privacy.mia_auc",
        "privacy.exact_match_share",
        "privacy.linkability_risk",
        "privacy.inference_risk",
    ):
        assert verdicts[name] == "fail", name
    assert copied.report["areas"]["privacy"]["verdict"] == "fail"


def test_a_fresh_sample_passes_the_privacy_checks(fresh: ValidationOutcome) -> None:
    flat = fresh.flat
    assert flat["privacy.exact_match_share"] == 0.0
    assert 0.4 < flat["privacy.dcr_share"] < 0.6
    assert 0.4 < flat["privacy.mia_auc"] < 0.6
    assert flat["privacy.nndr"] > 0.5
    assert flat["privacy.linkability_risk"] < 0.05
    assert flat["privacy.singling_out_risk"] < 0.1


def test_exact_match_helper_counts_copies_and_ignores_row_order() -> None:
    schema = TableSchema(
        "t", (ColumnSchema("a", LogicalType.INTEGER), ColumnSchema("b", LogicalType.TEXT))
    )
    train = pd.DataFrame({"a": [1, 2, 3, 4], "b": ["w", "x", "y", "z"]})
    syn = pd.DataFrame({"a": [4, 2, 9, 2], "b": ["z", "x", "y", "y"]})
    r = exact_matches(train, syn, schema)
    assert isinstance(r, MetricResult)
    assert r.details == {"count": 2, "any_matches": 2, "rows": 4}
    assert r.value == 0.5


def test_copies_of_a_combination_many_real_rows_hold_identify_no_one() -> None:
    schema = TableSchema(
        "t", (ColumnSchema("kind", LogicalType.TEXT), ColumnSchema("n", LogicalType.INTEGER))
    )
    train = pd.DataFrame({"kind": ["cur"] * 50 + ["sav"] * 49 + ["rare"], "n": [1] * 99 + [7]})
    syn = pd.DataFrame({"kind": ["cur", "sav", "cur", "rare"], "n": [1, 1, 1, 7]})
    r = exact_matches(train, syn, schema)
    assert r.details == {"count": 1, "any_matches": 4, "rows": 4}  # only the unique row
    assert r.value == 0.25


def test_distance_metrics_need_a_holdout(frames: dict[str, pd.DataFrame]) -> None:
    data = ValidationInput(
        train=frames["train"],
        synthetic=frames["fresh"],
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
        options=ValidationOptions(strict=True),
    )
    out = validate_all(data, only(Area.PRIVACY))
    dcr = next(m for m in out.metrics if m.name == "privacy.dcr_share")
    assert dcr.value is None
    assert "holdout" in dcr.details["skipped"]
    assert out.flat["privacy.exact_match_share"] == 0.0


# --------------------------------------------------------------------------- bias


def test_an_unbiased_sample_raises_no_bias_flag(fresh: ValidationOutcome) -> None:
    assert fresh.flat["bias.erased_groups"] == 0
    assert fresh.flat["bias.amplified_attributes"] == 0
    assert fresh.flat["bias.max_share_gap"] < 0.06


def test_a_biased_sample_is_flagged(frames: dict[str, pd.DataFrame]) -> None:
    biased = frames["fresh"].copy()
    in_b = biased["group"] == "b"
    biased.loc[in_b, "outcome"] = False  # group b never gets the outcome any more
    out = run(frames["train"], biased, frames["holdout"], registry=only(Area.BIAS, Area.UTILITY))
    assert out.flat["bias.amplified_attributes"] == 1
    assert out.flat["bias.max_outcome_gap_delta"] > 0.3
    assert out.flat["bias.max_parity_gap_delta"] > 0.2
    attrs = next(m for m in out.metrics if m.name == "bias.max_share_gap").details["attributes"]
    assert "outcome gap between groups grew" in attrs[0]["flags"]
    assert out.report["areas"]["bias"]["verdict"] == "fail"


def test_an_erased_group_is_named(frames: dict[str, pd.DataFrame]) -> None:
    erased = frames["fresh"][frames["fresh"]["group"] != "c"].reset_index(drop=True)
    out = run(frames["train"], erased, frames["holdout"], registry=only(Area.BIAS))
    assert out.flat["bias.erased_groups"] == 1
    per = next(m for m in out.metrics if m.name == "bias.erased_groups").details["per_attribute"]
    assert per == {"group": ["c"]}


def test_rebalancing_is_reported_and_not_counted_as_a_share_gap(
    frames: dict[str, pd.DataFrame],
) -> None:
    rng = np.random.default_rng(5)
    balanced = frames["fresh"].copy()
    balanced["group"] = rng.choice(["a", "b", "c"], len(balanced))
    out = run(
        frames["train"],
        balanced,
        frames["holdout"],
        registry=only(Area.BIAS),
        rebalance={"column": "group", "to": "uniform"},
    )
    attrs = next(m for m in out.metrics if m.name == "bias.max_share_gap")
    effect = attrs.details["attributes"][0]["rebalance"]
    assert effect["request"] == "equal shares"
    assert effect["moved_toward_target"] is True
    assert effect["distance_synthetic"] < effect["distance_real"]
    assert attrs.value is None  # the only attribute was rebalanced on purpose


# --------------------------------------------------------------------------- binning


@pytest.mark.parametrize("seed", range(5))
def test_every_shown_cell_holds_at_least_k_real_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    values = pd.Series(np.r_[rng.lognormal(3, 1, n), [987654.321]])
    cats = pd.Series([*rng.choice(["p", "q", "r", "s"], n, p=[0.6, 0.3, 0.07, 0.03]), "CANARY"])
    for col, series in (
        (ColumnSchema("v", LogicalType.FLOAT), values),
        (ColumnSchema("c", LogicalType.CATEGORICAL), cats),
    ):
        binning = build_binning(col, series, k=10)
        assert binning is not None
        assert all(c >= 10 for c in binning.real_counts), binning
        assert sum(binning.real_counts) == len(series)
        dist = distribution(binning, series.sample(frac=1, random_state=seed))
        assert math.isclose(sum(dist["real"]), 1.0, abs_tol=1e-3)
        text = json.dumps(dist)
        assert "987654" not in text
        assert "CANARY" not in text


def test_small_tables_show_no_distribution() -> None:
    assert build_binning(ColumnSchema("v", LogicalType.FLOAT), pd.Series([1.0] * 9), k=10) is None


def test_synthetic_values_outside_real_cells_are_counted_apart() -> None:
    binning = build_binning(
        ColumnSchema("c", LogicalType.CATEGORICAL), pd.Series(["a"] * 20 + ["b"] * 20), k=10
    )
    assert binning is not None
    dist = distribution(binning, pd.Series(["a", "zz-invented", None, "b"]))
    assert dist["labels"] == ["a", "b", "other values", "(missing)"]
    assert dist["real"] == [0.5, 0.5, 0.0, 0.0]
    assert dist["synthetic"] == [0.25, 0.25, 0.25, 0.25]


# --------------------------------------------------------------------------- data quality


def test_expectation_suite_comes_from_schema_profile_and_spec(
    frames: dict[str, pd.DataFrame],
) -> None:
    release_schema = TableSchema(
        "people",
        (
            ColumnSchema("id", LogicalType.IDENTIFIER, nullable=False, native_type="INTEGER"),
            *SCHEMA.columns,
        ),
        primary_key=("id",),
    )
    release = frames["fresh"].copy()
    release.insert(0, "id", pd.Series(range(1, len(release) + 1), dtype="Int64"))
    release.loc[3, "group"] = "zz-not-declared"
    declared = [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "count", "min_value": 0, "max_value": 5},
        }
    ]
    out = run(
        frames["train"],
        frames["fresh"],
        frames["holdout"],
        registry=only(Area.QUALITY),
        release=release,
        release_schema=release_schema,
        expectations=declared,
    )
    assert out.flat["quality.gx_success"] is False
    failed = next(m for m in out.metrics if m.name == "quality.gx_failed").details["failed"]
    assert {"type": "expect_column_values_to_be_in_set", "column": "group"} in failed
    assert {"type": "expect_column_values_to_be_between", "column": "count"} in failed
    suite = out.artifacts["gx_suite.json"]
    kinds = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_be_unique", "id") in kinds
    assert ("expect_column_values_to_not_be_null", "x") in kinds  # declared NOT NULL
    assert ("expect_column_values_to_not_be_null", "y") in kinds  # from the profile
    assert ("expect_column_values_to_be_in_type_list", "joined") in kinds
    results = json.dumps(out.artifacts["gx_results.json"])
    assert "zz-not-declared" not in results  # GX's unexpected-value lists are stripped
    assert "partial_unexpected_list" not in results
    passed = run(
        frames["train"],
        frames["fresh"],
        frames["holdout"],
        registry=only(Area.QUALITY),
        release=release.drop(index=3),
        release_schema=release_schema,
    )
    assert passed.flat["quality.gx_success"] is True
    assert passed.flat["quality.gx_success_share"] == 1.0


def test_job_spec_rejects_an_unknown_expectation() -> None:
    from synthgate.config import parse_job_spec
    from synthgate.errors import ConfigError

    spec: dict[str, Any] = {
        "name": "x",
        "source": {"url": "sqlite:///x.db", "table": "t"},
        "target": {"url": "sqlite:///y.db"},
        "validation": {"expectations": [{"type": "expect_column_to_be_magic", "kwargs": {}}]},
    }
    with pytest.raises(ConfigError) as info:
        parse_job_spec(spec)
    assert any("no expectation 'expect_column_to_be_magic'" in p for p in info.value.problems)
    spec["validation"]["expectations"][0]["type"] = "expect_column_values_to_not_be_null"
    assert (
        parse_job_spec(spec).validation.expectations[0].type
        == "expect_column_values_to_not_be_null"
    )


# --------------------------------------------------------------------------- privacy of the output


def test_no_real_value_reaches_the_validation_output(frames: dict[str, pd.DataFrame]) -> None:
    train = frames["train"].copy()
    canaries: dict[str, Any] = {"band": "CANARY-BAND-7Q", "x": 98765.4321, "count": 4242424}
    for i, (col, value) in enumerate(canaries.items()):
        train.loc[[10 + i, 11 + i], col] = value  # two rows: below any k
    out = run(train, train.copy(), frames["holdout"])  # the copy holds the canaries too
    blob = json.dumps(
        {
            "metrics": [m.to_dict() for m in out.metrics],
            "report": out.report,
            "artifacts": out.artifacts,
        },
        default=str,
    )
    for value in ("CANARY-BAND-7Q", "98765.4", "4242424"):
        assert value not in blob, value


def test_validation_outcome_is_json_serialisable(fresh: ValidationOutcome) -> None:
    data = json_safe({"m": [m.to_dict() for m in fresh.metrics], "r": fresh.report})
    text = json.dumps(data, allow_nan=False, default=str)  # strict JSON or ValueError
    assert '"inf"' in text  # open-ended bounds are spelled out
