"""Structural validity on hand-made tables: impossible values, drifted nulls, collapsed columns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthgate.contracts import ColumnSchema, LogicalType, PrivacySpent, TableSchema
from synthgate.release import ReleaseStatus, evaluate_gate, load_policy
from synthgate.validate import (
    Area,
    MetricRegistry,
    RowConstraint,
    ValidationInput,
    ValidationOptions,
    ValidationOutcome,
    default_registry,
    validate_all,
)

SCHEMA = TableSchema(
    "loans",
    (
        ColumnSchema(
            "status", LogicalType.CATEGORICAL, nullable=False, domain=("open", "closed", "late")
        ),
        ColumnSchema("amount", LogicalType.FLOAT),
        ColumnSchema("score", LogicalType.INTEGER, bounds=(1, 10)),
        ColumnSchema("opened", LogicalType.DATE),
        ColumnSchema("closed", LogicalType.DATE),
        ColumnSchema("flag", LogicalType.BOOLEAN),
        ColumnSchema("note", LogicalType.CATEGORICAL),
    ),
)
NOT_PRIVATE = PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)
STRUCTURAL = MetricRegistry(m for m in default_registry() if m.area is Area.STRUCTURAL)


def loans(n: int, seed: int) -> pd.DataFrame:
    """Real-looking rows: scores 2–9 (declared 1–10), 30% missing notes, opened ≤ closed."""
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    note = rng.choice(["x", "y"], n).astype(object)
    note[rng.random(n) < 0.3] = None
    return pd.DataFrame(
        {
            "status": rng.choice(["open", "closed"], n, p=[0.6, 0.4]),
            "amount": np.round(rng.uniform(100, 1100, n), 2),
            "score": rng.integers(2, 10, n),
            "opened": opened,
            "closed": opened + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "flag": rng.random(n) < 0.5,
            "note": note,
        }
    )


REAL = loans(400, 1)


def validate(
    synthetic: pd.DataFrame,
    real: pd.DataFrame = REAL,
    *,
    constraints: tuple[RowConstraint, ...] = (),
) -> ValidationOutcome:
    data = ValidationInput(
        train=real,
        synthetic=synthetic,
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
        constraints=constraints,
        options=ValidationOptions(strict=True),
    )
    return validate_all(data, STRUCTURAL)


def columns(out: ValidationOutcome) -> dict[str, dict[str, Any]]:
    details = next(m for m in out.metrics if m.name == "structural.validity").details
    return {c["column"]: c for c in details["columns"]}


def resampled(seed: int = 2) -> pd.DataFrame:
    """Rows drawn from the real rows themselves: always inside every real range."""
    return REAL.sample(len(REAL), replace=True, random_state=seed).reset_index(drop=True)


def test_rows_drawn_from_the_real_rows_are_valid() -> None:
    out = validate(resampled())
    assert out.flat["structural.validity"] == 1.0
    assert out.flat["structural.out_of_range_share"] == 0.0
    assert out.flat["structural.collapsed_columns"] == 0
    assert out.flat["structural.null_share_drift"] < 0.1
    assert out.flat["structural.constraint_violations"] is None
    skipped = next(m for m in out.metrics if m.name == "structural.constraint_violations")
    assert skipped.details["skipped"] == "no inter-column constraint is declared"
    assert out.report["areas"]["structural"]["verdict"] == "pass"


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("amount", 1_000_000.0, "outside_range"),
        ("amount", -5_000.0, "outside_range"),
        ("opened", pd.Timestamp("2056-03-01"), "outside_range"),
        ("score", 25, "outside_range"),  # beyond the real range and the declared 1–10
        ("score", 4.5, "non_integer"),
        ("status", "written-off", "unseen_category"),
        ("flag", "maybe", "unseen_category"),
    ],
)
def test_an_impossible_value_fails_its_column(column: str, value: Any, kind: str) -> None:
    syn = resampled().astype({column: object})
    syn.loc[: len(syn) // 10, column] = value
    out = validate(syn)
    found = columns(out)[column]
    assert not found["passed"]
    assert set(found["invalid"]) == {kind}
    assert found["invalid_share"] == pytest.approx((len(syn) // 10 + 1) / len(syn))
    assert out.flat["structural.validity"] == pytest.approx(6 / 7, abs=1e-4)
    assert out.flat["structural.out_of_range_share"] == pytest.approx(found["invalid_share"])
    assert [c for c, d in columns(out).items() if not d["passed"]] == [column]


def test_values_inside_the_widened_range_or_a_declared_domain_are_valid() -> None:
    syn = resampled().astype({"flag": object, "score": float})
    lo, hi = REAL["amount"].min(), REAL["amount"].max()
    syn.loc[0, "amount"] = hi + 0.009 * (hi - lo)  # inside the 1% margin
    syn.loc[1, "amount"] = lo - 0.009 * (hi - lo)
    syn.loc[2, "score"] = 10  # never seen in the real rows, but declared (1–10)
    syn.loc[3, "status"] = "late"  # never seen, but in the declared domain
    syn.loc[4, "flag"] = 1  # the same boolean, spelled as a number
    syn.loc[5, "score"] = 7.0  # a whole number in a float dtype
    assert validate(syn).flat["structural.validity"] == 1.0
    syn.loc[0, "amount"] = hi + 0.02 * (hi - lo)  # beyond it: one bad row of 400 > 0.1%
    assert columns(validate(syn))["amount"]["invalid"] == {"outside_range": 0.0025}


def test_a_value_that_does_not_parse_and_a_null_in_a_not_null_column_are_invalid() -> None:
    syn = resampled().astype({"amount": object})
    syn.loc[:9, "amount"] = "n/a"
    syn.loc[:4, "status"] = None
    found = columns(validate(syn))
    assert found["amount"]["invalid"] == {"unparseable": 0.025}
    assert found["status"]["invalid"] == {"null_in_not_null": 0.0125}


def test_a_drifted_null_share_fails_beyond_the_noise_allowance() -> None:
    syn = resampled()
    syn.loc[: int(0.3 * len(syn)), "amount"] = np.nan  # real: never missing
    found = columns(validate(syn))["amount"]
    assert not found["passed"]
    assert found["null_share_drift"] == pytest.approx(0.3025, abs=1e-3)
    assert found["null_tolerance"] == 0.05  # no real missing value: no noise allowance
    assert any("missing values moved by" in r for r in found["reasons"])
    # the notes are ~30% missing; 8 more points on 400 rows is within sampling noise
    syn = resampled()
    missing = round((REAL["note"].isna().mean() + 0.08) * len(syn))
    syn["note"] = np.where(np.arange(len(syn)) % 2 == 0, "x", "y").astype(object)
    syn.loc[: missing - 1, "note"] = None
    found = columns(validate(syn))["note"]
    assert found["null_share_drift"] == pytest.approx(0.08, abs=0.002)
    assert found["null_tolerance"] == pytest.approx(0.05 + 2 * np.sqrt(0.3 * 0.7 / 200), abs=0.01)
    assert found["passed"]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("status", "open", "a single value, where the real column holds several"),
        ("amount", 500.0, "a single value, where the real column holds several"),
        (
            "opened",
            pd.Timestamp("2014-01-01"),
            "a single value, where the real column holds several",
        ),
        ("flag", None, "always missing, unlike the real column"),
        ("note", "x", "never missing, unlike the real column"),
    ],
)
def test_a_collapsed_column_is_named_with_its_reason(column: str, value: Any, reason: str) -> None:
    syn = resampled().astype({column: object})
    syn[column] = value
    out = validate(syn)
    assert out.flat["structural.collapsed_columns"] == 1
    collapsed = next(m for m in out.metrics if m.name == "structural.collapsed_columns")
    assert reason in collapsed.details["columns"][column]
    assert reason in columns(out)[column]["reasons"]


def test_no_collapse_where_the_real_column_barely_varies_or_the_table_is_tiny() -> None:
    real = REAL.copy()
    real["status"] = "open"
    real.loc[:1, "status"] = "closed"  # 0.5%: one value holds 99.5% of the rows
    syn = resampled()
    syn["status"] = "open"
    assert validate(syn, real).flat["structural.collapsed_columns"] == 0
    tiny = resampled().head(3).copy()  # three rows can show one value by chance
    tiny["status"] = "open"
    tiny["note"] = "x"
    assert validate(tiny).flat["structural.collapsed_columns"] == 0


def test_a_column_the_synthesizer_left_out_fails_and_breaks_nothing_else() -> None:
    out = validate(resampled().drop(columns=["note"]))
    found = columns(out)["note"]
    assert not found["passed"]
    assert found["reasons"][0] == "the synthesizer did not produce this column"
    details = next(m for m in out.metrics if m.name == "structural.validity").details
    assert details["absent_columns"] == ["note"]
    assert details["failing_columns"] == ["note"]


def test_an_empty_synthetic_table_is_not_computed_and_blocks_the_default_gate() -> None:
    out = validate(REAL.iloc[:0])
    for m in out.metrics:
        assert m.value is None, m.name
    validity = next(m for m in out.metrics if m.name == "structural.validity")
    assert validity.details["skipped"] == "the synthetic table has no rows"
    decision = evaluate_gate(load_policy("default"), out.flat)
    assert decision.status is ReleaseStatus.BLOCKED
    failed = next(o for o in decision.blocking_failures if o.rule_id == "structural-validity")
    assert "structural.validity was not computed" in failed.reason


@dataclass(frozen=True)
class NotAfter:
    """``first <= second`` where both are present (a test constraint)."""

    first: str
    second: str

    @property
    def name(self) -> str:
        return f"{self.first} <= {self.second}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.first, self.second)

    def violated(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        a, b = frame[self.first], frame[self.second]
        return (a.notna() & b.notna() & (a > b)).to_numpy(dtype=bool)


def test_a_declared_constraint_counts_violating_rows_and_fails_a_check() -> None:
    constraints = (NotAfter("opened", "closed"), NotAfter("opened", "dropped_column"))
    assert validate(resampled(), constraints=constraints).flat["structural.validity"] == 1.0
    syn = resampled()
    syn.loc[:7, "closed"] = syn.loc[:7, "opened"] - pd.Timedelta(days=1)
    out = validate(syn, constraints=constraints)
    assert out.flat["structural.constraint_violations"] == 8
    assert out.flat["structural.validity"] == pytest.approx(7 / 8)  # 7 columns + 1 checkable rule
    details = next(m for m in out.metrics if m.name == "structural.validity").details
    checked, skipped = details["constraints"]
    assert (checked["constraint"], checked["passed"], checked["violations"]) == (
        "opened <= closed",
        False,
        8,
    )
    assert skipped["skipped"] == "column(s) dropped_column not modelled"


def test_no_real_value_or_small_cell_reaches_the_details() -> None:
    real = REAL.copy()
    real.loc[5, "amount"] = 987654.32  # the real maximum: never printed
    real.loc[6, "status"] = "CANARY-STATUS"  # a category of one real row
    real.loc[:2, "flag"] = None  # three real rows miss the flag: a cell below k
    syn = resampled()
    syn.loc[:40, "amount"] = 5_000_000.0
    syn["flag"] = syn["flag"].astype(object)
    syn.loc[:150, "flag"] = None
    out = validate(syn, real)
    text = json.dumps([m.to_dict() for m in out.metrics], default=str)
    for secret in ("987654", "CANARY-STATUS", "2013-", "2015-"):
        assert secret not in text, secret
    flag = columns(out)["flag"]
    assert flag["null_figures_withheld"] is True
    assert flag["null_share_drift"] is None
    assert flag["null_tolerance"] is None
    assert "share of missing values moved beyond its allowance" in flag["reasons"]
    drift = next(m for m in out.metrics if m.name == "structural.null_share_drift")
    assert "flag" not in drift.details["per_column"]


def test_a_masked_copy_is_judged_against_every_real_row() -> None:
    holdout = loans(100, 9)
    holdout.loc[0, "amount"] = 5_000.0  # a real value beyond the training rows' range
    copy = pd.concat([REAL, holdout], ignore_index=True)
    data = ValidationInput(
        train=REAL,
        synthetic=copy,
        schema=SCHEMA,
        privacy=NOT_PRIVATE,
        pii_replay={},
        holdout=holdout,
        masked_copy=True,
        options=ValidationOptions(strict=True),
    )
    assert validate_all(data, STRUCTURAL).flat["structural.validity"] == 1.0
    synthetic = validate_all(
        ValidationInput(
            train=REAL,
            synthetic=copy,
            schema=SCHEMA,
            privacy=NOT_PRIVATE,
            pii_replay={},
            holdout=holdout,
            options=ValidationOptions(strict=True),
        ),
        STRUCTURAL,
    )
    assert columns(synthetic)["amount"]["invalid"] == {"outside_range": pytest.approx(1 / 500)}
