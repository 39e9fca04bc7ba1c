"""Structural validity: could every synthetic value have come from its real column?

Checked per modelled column, on the real training rows and the synthetic rows
(model dtypes), and per declared inter-column constraint. A masked copy holds
every real row, so it is judged against the training and holdout rows. A column
passes when all three hold:

- **values in domain**: at most 0.1% of synthetic rows hold an invalid value:
  a number or date outside the real column's observed range widened by 1% of
  that range on each side (a value inside the schema's declared bounds is valid
  too), a category or boolean the real column never holds and no declared
  domain lists, a fraction in an integer column, a value that does not parse as
  the column's type, or a missing value in a column declared NOT NULL;
- **null share kept**: the real and synthetic shares of missing values differ by
  at most 0.05 plus a noise allowance of two standard errors of that difference,
  2·√(p(1−p)·(1/n_real + 1/n_synthetic)) with p the real share: about 0.13 in
  all at p = 0.5 with 300 rows on each side, 0.064 with 10,000, and exactly 0.05
  when the real column has no missing value;
- **not collapsed**: the synthetic column is not a single value, or entirely
  missing, where the real column holds at least two values with 1% of the rows
  each (numbers and dates also count as varied when 1% of the rows lie on each
  side of the median); and it is not never or always missing where 2–98% of the
  real rows are missing. A collapse counts only when a sample of the synthetic
  table's size, drawn from the real column, would look like that with a
  probability under 0.1%, so a tiny table is not failed for bad luck.

A declared constraint (:class:`~synthgate.validate.RowConstraint`) passes when no
synthetic row breaks it; one that reads a column the synthesizer did not model
(dropped, faked) is listed as skipped and not counted. ``structural.validity``
is the share of these checks that pass. The real range and categories stay in memory: details
hold column names, synthetic-side shares and, where every real cell behind them
holds at least k rows, the null-share figures.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import ColumnSchema, Goal, LogicalType
from synthgate.validate._binning import value_key
from synthgate.validate._constraints import RowConstraint
from synthgate.validate._context import ValidationContext
from synthgate.validate._registry import Area, Measurement, MetricDef, Reference, RefOp
from synthgate.validate._resolution import keep_floor

__all__ = [
    "CHANCE",
    "METRICS",
    "MIN_VALUE_SHARE",
    "NOISE_Z",
    "NULL_BAND",
    "NULL_DRIFT_LIMIT",
    "OUT_OF_RANGE_LIMIT",
    "RANGE_MARGIN",
    "ColumnCheck",
    "ConstraintCheck",
    "Invalid",
    "StructuralChecks",
    "check_column",
    "reference",
    "structural_checks",
]

#: largest share of synthetic rows with an invalid value a valid column may have
OUT_OF_RANGE_LIMIT = 0.001
#: null-share drift allowed before the noise allowance
NULL_DRIFT_LIMIT = 0.05
#: standard errors of the null-share difference added to NULL_DRIFT_LIMIT
NOISE_Z = 2.0
#: the real range is widened by this fraction of itself on each side
RANGE_MARGIN = 0.01
#: a real value with at least this share of rows makes a column "varied"
MIN_VALUE_SHARE = 0.01
#: real null shares inside this band must not come out as never or always missing
NULL_BAND = (0.02, 0.98)
#: a collapse counts only when chance alone would explain it less often than this
CHANCE = 0.001

Array = np.ndarray[Any, Any]
_BOOL_KEYS = {"1": "True", "0": "False", "true": "True", "false": "False"}


class Invalid(enum.StrEnum):
    """Why a synthetic value is invalid (the keys of a column's ``invalid`` shares)."""

    OUTSIDE_RANGE = "outside_range"
    UNSEEN_CATEGORY = "unseen_category"
    NON_INTEGER = "non_integer"
    UNPARSEABLE = "unparseable"
    NULL_IN_NOT_NULL = "null_in_not_null"

    @property
    def words(self) -> str:
        return {
            Invalid.OUTSIDE_RANGE: "outside the real range",
            Invalid.UNSEEN_CATEGORY: "a category the real column does not hold",
            Invalid.NON_INTEGER: "not a whole number",
            Invalid.UNPARSEABLE: "does not parse as the column's type",
            Invalid.NULL_IN_NOT_NULL: "missing in a NOT NULL column",
        }[self]


@dataclass(frozen=True, slots=True)
class ColumnCheck:
    """The structural findings of one column (synthetic-side figures, plus drift)."""

    column: str
    type: LogicalType
    rows: int
    invalid: dict[Invalid, int]
    real_null_share: float
    synthetic_null_share: float
    null_tolerance: float
    collapsed: tuple[str, ...] = ()
    absent: bool = False
    #: the real missing or present cell holds fewer than k rows: drift is not shown
    withheld: bool = False
    #: released empty where the real values are fewer than the DP noise can keep
    dp_empty: bool = False

    @property
    def invalid_share(self) -> float:
        return sum(self.invalid.values()) / self.rows if self.rows else 0.0

    @property
    def null_drift(self) -> float:
        return abs(self.real_null_share - self.synthetic_null_share)

    @property
    def in_domain(self) -> bool:
        return self.invalid_share <= OUT_OF_RANGE_LIMIT

    @property
    def null_kept(self) -> bool:
        return self.null_drift <= self.null_tolerance + 1e-12

    @property
    def passed(self) -> bool:
        null_kept = self.null_kept or self.dp_empty
        return self.in_domain and null_kept and not self.collapsed and not self.absent

    def reasons(self) -> list[str]:
        """Why the column fails, in words; figures are synthetic-side or drift."""
        out: list[str] = []
        if self.dp_empty:
            return [DP_EMPTY]
        if self.absent:
            out.append("the synthesizer did not produce this column")
        if not self.in_domain:
            parts = ", ".join(
                f"{kind.words}: {_pct(n / self.rows)}" for kind, n in self.invalid.items() if n
            )
            out.append(f"{_pct(self.invalid_share)} of rows hold an invalid value ({parts})")
        if not self.null_kept:
            if self.withheld:
                out.append("share of missing values moved beyond its allowance")
            else:
                out.append(
                    f"share of missing values moved by {self.null_drift:.3f} "
                    f"(allowed {self.null_tolerance:.3f})"
                )
        out.extend(self.collapsed)
        return out

    def to_dict(self) -> dict[str, Any]:
        hide = self.withheld
        return {
            "column": self.column,
            "type": self.type.value,
            "passed": self.passed,
            "reasons": self.reasons(),
            "invalid_share": round(self.invalid_share, 6),
            "invalid": {k.value: round(n / self.rows, 6) for k, n in self.invalid.items() if n},
            "synthetic_null_share": round(self.synthetic_null_share, 4),
            "null_share_drift": None if hide else round(self.null_drift, 4),
            "null_tolerance": None if hide else round(self.null_tolerance, 4),
            "null_figures_withheld": hide,
            "collapsed": list(self.collapsed),
            "below_dp_resolution": self.dp_empty,
        }


@dataclass(frozen=True, slots=True)
class ConstraintCheck:
    name: str
    columns: tuple[str, ...]
    violations: int
    rows: int
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and self.violations == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraint": self.name,
            "columns": list(self.columns),
            "passed": self.passed,
            "violations": self.violations,
            "share": round(self.violations / self.rows, 6) if self.rows else 0.0,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class StructuralChecks:
    columns: list[ColumnCheck]
    constraints: list[ConstraintCheck] = field(default_factory=list)
    violating_rows: int = 0

    @property
    def checks(self) -> int:
        """Columns plus the constraints that could be checked (all their columns modelled)."""
        return len(self.columns) + sum(c.skipped is None for c in self.constraints)

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.columns) + sum(c.passed for c in self.constraints)


def _pct(share: float) -> str:
    return f"{100 * share:.2g}%" if share < 0.01 else f"{100 * share:.1f}%"


# --------------------------------------------------------------------------- values


def _numbers(series: pd.Series[Any]) -> Array:
    """Floats (dates as nanoseconds), NaN where missing."""
    if pd.api.types.is_datetime64_any_dtype(series):
        ns = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        ns[series.isna().to_numpy()] = np.nan
        return ns
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _numeric_invalid(col: ColumnSchema, real: Array, syn: Array) -> dict[Invalid, int]:
    present = ~np.isnan(syn)
    seen = real[~np.isnan(real)]
    inside = np.zeros(len(syn), dtype=bool)
    if len(seen):
        lo, hi = float(seen.min()), float(seen.max())
        margin = RANGE_MARGIN * (hi - lo) + 1e-9 * max(1.0, abs(lo), abs(hi))
        with np.errstate(invalid="ignore"):
            inside |= (syn >= lo - margin) & (syn <= hi + margin)
    if col.bounds is not None and col.type.is_numeric:
        with np.errstate(invalid="ignore"):
            inside |= (syn >= col.bounds[0]) & (syn <= col.bounds[1])
    outside = present & ~inside
    fraction = np.zeros(len(syn), dtype=bool)
    if col.type is LogicalType.INTEGER:
        ok = present & ~outside & np.isfinite(syn)
        fraction[ok] = np.abs(syn[ok] - np.round(syn[ok])) > 1e-9 * np.maximum(1.0, np.abs(syn[ok]))
    return {
        Invalid.OUTSIDE_RANGE: int(outside.sum()),
        Invalid.NON_INTEGER: int(fraction.sum()),
    }


def _keys(series: pd.Series[Any], boolean: bool) -> tuple[Array, list[str]]:
    """Factorised category keys: codes per row (-1 missing) and the key of each code."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = [value_key(v) for v in uniques]
    if boolean:
        keys = [_BOOL_KEYS.get(k.lower(), k) for k in keys]
    return np.asarray(codes), keys


def _category_invalid(col: ColumnSchema, real: pd.Series[Any], syn: pd.Series[Any]) -> int:
    boolean = col.type is LogicalType.BOOLEAN
    _, real_keys = _keys(real, boolean)
    allowed = set(real_keys) | set(col.domain or ())
    codes, syn_keys = _keys(syn, boolean)
    unseen = np.array([k not in allowed for k in syn_keys], dtype=bool)
    present = codes >= 0
    return int(unseen[codes[present]].sum()) if len(syn_keys) else 0


def _unparseable(raw: pd.DataFrame, name: str, model: pd.Series[Any]) -> int:
    if name not in raw.columns:
        return 0
    given = raw[name].notna().to_numpy()
    return int((given & model.isna().to_numpy()).sum())


def _invalid(ctx: ValidationContext, col: ColumnSchema) -> dict[Invalid, int]:
    real, syn = reference(ctx)[col.name], ctx.synthetic[col.name]
    unparseable = _unparseable(ctx.input.synthetic, col.name, syn)
    out: dict[Invalid, int] = {Invalid.UNPARSEABLE: unparseable}
    if not col.nullable:
        out[Invalid.NULL_IN_NOT_NULL] = int(syn.isna().sum()) - unparseable
    if col.type.is_numeric or col.type.is_temporal:
        out.update(_numeric_invalid(col, _numbers(real), _numbers(syn)))
    elif col.type is not LogicalType.IDENTIFIER:
        out[Invalid.UNSEEN_CATEGORY] = _category_invalid(col, real, syn)
    return out


# --------------------------------------------------------------------------- collapse


def _varied(col: ColumnSchema, real: pd.Series[Any], counts: Array) -> bool:
    """At least two values with ≥ 1% of rows (numbers, dates: or 1% each side of the median)."""
    n = len(real)
    if int((counts >= MIN_VALUE_SHARE * n).sum()) >= 2:
        return True
    if not (col.type.is_numeric or col.type.is_temporal):
        return False
    x = _numbers(real)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return False
    median = float(np.median(x))
    return bool(
        (x < median).sum() >= MIN_VALUE_SHARE * n and (x > median).sum() >= MIN_VALUE_SHARE * n
    )


def _chance_of_one_value(counts: Array, real_rows: int, null_share: float, draws: int) -> float:
    """Probability that *draws* rows drawn from the real column show at most one value."""
    p = counts / real_rows
    none = null_share**draws
    return float(min(1.0, none + float(np.sum((p + null_share) ** draws - none))))


def _collapsed(
    col: ColumnSchema, real: pd.Series[Any], syn: pd.Series[Any], real_null: float
) -> list[str]:
    n_syn = len(syn)
    syn_null = float(syn.isna().mean())
    codes, _ = pd.factorize(real, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0)
    single = syn.nunique(dropna=True) <= 1
    value_collapse = (
        single
        and _varied(col, real, counts)
        and _chance_of_one_value(counts, len(real), real_null, n_syn) < CHANCE
    )
    low, high = NULL_BAND
    in_band = low <= real_null <= high
    out: list[str] = []
    if syn_null == 1.0:
        if value_collapse or (in_band and real_null**n_syn < CHANCE):
            out.append("always missing, unlike the real column")
        return out
    if value_collapse:
        out.append("a single value, where the real column holds several")
    if syn_null == 0.0 and in_band and (1 - real_null) ** n_syn < CHANCE:
        out.append("never missing, unlike the real column")
    return out


# --------------------------------------------------------------------------- per column


def _null_tolerance(p: float, n_real: int, n_syn: int) -> float:
    se = math.sqrt(p * (1 - p) * (1 / n_real + 1 / n_syn))
    return NULL_DRIFT_LIMIT + NOISE_Z * se


def _withheld(real: pd.Series[Any], k: int) -> bool:
    missing = int(real.isna().sum())
    present = len(real) - missing
    return 0 < missing < k or 0 < present < k


def reference(ctx: ValidationContext) -> pd.DataFrame:
    """The real rows a synthetic value is judged against: the training rows, or, for a
    masked copy (which holds every real row), the training and holdout rows."""

    def build() -> pd.DataFrame:
        if ctx.input.masked_copy and ctx.holdout is not None:
            return pd.concat([ctx.real, ctx.holdout], ignore_index=True)
        return ctx.real

    return ctx.memo("structural.reference", build)


DP_EMPTY = (
    "released empty: the real column holds fewer values than the DP noise can keep at "
    "this epsilon (not a fault of the release; declare its categories or raise epsilon "
    "to keep it)"
)
_BY_VALUE = (LogicalType.CATEGORICAL, LogicalType.TEXT, LogicalType.BOOLEAN)


def _dp_empty(
    ctx: ValidationContext, col: ColumnSchema, real: pd.Series[Any], syn: pd.Series[Any]
) -> bool:
    """The synthetic column is empty, and the real one too thin for DP to keep: its most
    frequent value (a column of categories, each its own noisy count) or its present
    cells (numbers, dates) fewer than the noise floor of the fit's counts."""
    present = real.dropna()
    if len(syn) == 0 or not syn.isna().all() or present.empty:
        return False
    held = int(present.value_counts().iloc[0]) if col.type in _BY_VALUE else len(present)
    return held < keep_floor(ctx, col.name, 1)


def check_column(ctx: ValidationContext, col: ColumnSchema) -> ColumnCheck:
    real, syn = reference(ctx)[col.name], ctx.synthetic[col.name]
    real_null = float(real.isna().mean())
    dp_empty = _dp_empty(ctx, col, real, syn)
    return ColumnCheck(
        column=col.name,
        type=col.type,
        rows=len(syn),
        invalid=_invalid(ctx, col),
        real_null_share=real_null,
        synthetic_null_share=float(syn.isna().mean()),
        null_tolerance=_null_tolerance(real_null, len(real), len(syn)),
        collapsed=() if dp_empty else tuple(_collapsed(col, real, syn, real_null)),
        absent=col.name in ctx.absent_columns,
        withheld=_withheld(real, ctx.options.k_min),
        dp_empty=dp_empty,
    )


def _check_constraint(ctx: ValidationContext, c: RowConstraint) -> ConstraintCheck:
    rows = len(ctx.synthetic)
    unknown = [name for name in c.columns if name not in ctx.columns]
    if unknown:
        why = f"column(s) {', '.join(unknown)} not modelled"
        return ConstraintCheck(c.name, tuple(c.columns), 0, rows, why)
    flags = np.asarray(c.violated(ctx.synthetic), dtype=bool)
    return ConstraintCheck(c.name, tuple(c.columns), int(flags.sum()), rows)


def _violating_rows(ctx: ValidationContext, constraints: Sequence[RowConstraint]) -> int:
    usable = [c for c in constraints if set(c.columns) <= set(ctx.columns)]
    if not usable:
        return 0
    flags = np.zeros(len(ctx.synthetic), dtype=bool)
    for c in usable:
        flags |= np.asarray(c.violated(ctx.synthetic), dtype=bool)
    return int(flags.sum())


def structural_checks(ctx: ValidationContext) -> StructuralChecks | str:
    """Every column's and constraint's checks (memoised), or why there are none."""

    def build() -> StructuralChecks | str:
        if not ctx.columns:
            return "no modelled column"
        if len(ctx.real) == 0:
            return "no real training rows to compare with"
        if len(ctx.synthetic) == 0:
            return "the synthetic table has no rows"
        constraints = list(ctx.input.constraints)
        return StructuralChecks(
            columns=[check_column(ctx, col) for col in ctx.schema.columns],
            constraints=[_check_constraint(ctx, c) for c in constraints],
            violating_rows=_violating_rows(ctx, constraints),
        )

    return ctx.memo("structural.checks", build)


# --------------------------------------------------------------------------- metrics


def _limits() -> dict[str, Any]:
    return {
        "out_of_range_share": OUT_OF_RANGE_LIMIT,
        "null_share_drift": NULL_DRIFT_LIMIT,
        "noise_allowance": f"{NOISE_Z:g} standard errors of the null-share difference",
        "range_margin": RANGE_MARGIN,
        "collapse_chance": CHANCE,
    }


def _validity(ctx: ValidationContext) -> Measurement:
    s = structural_checks(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    return Measurement(
        round(s.passed / s.checks, 4),
        {
            "checks": s.checks,
            "passed": s.passed,
            "columns": [c.to_dict() for c in s.columns],
            "failing_columns": [c.column for c in s.columns if not c.passed],
            "constraints": [c.to_dict() for c in s.constraints],
            "absent_columns": list(ctx.absent_columns),
            "limits": _limits(),
            "k_min": ctx.options.k_min,
        },
    )


def _worst(values: dict[str, float]) -> Measurement:
    """The largest per-column value, with the column it belongs to."""
    worst = max(values, key=lambda k: values[k])
    return Measurement(values[worst], {"per_column": values, "column": worst})


def _out_of_range(ctx: ValidationContext) -> Measurement:
    s = structural_checks(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    return _worst({c.column: round(c.invalid_share, 6) for c in s.columns})


def _null_drift(ctx: ValidationContext) -> Measurement:
    s = structural_checks(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    m = _worst({c.column: round(c.null_drift, 4) for c in s.columns})
    shown = {c.column: round(c.null_drift, 4) for c in s.columns if not c.withheld}
    return Measurement(m.value, {**m.details, "per_column": shown})


def _collapsed_count(ctx: ValidationContext) -> Measurement:
    s = structural_checks(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    collapsed = {c.column: list(c.collapsed) for c in s.columns if c.collapsed}
    return Measurement(float(len(collapsed)), {"columns": collapsed})


def _constraint_violations(ctx: ValidationContext) -> Measurement:
    if not ctx.input.constraints:
        return Measurement.skip("no inter-column constraint is declared")
    s = structural_checks(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    rows = len(ctx.synthetic)
    return Measurement(
        float(s.violating_rows),
        {
            "share": round(s.violating_rows / rows, 6) if rows else 0.0,
            "constraints": [c.to_dict() for c in s.constraints],
        },
    )


METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        name="structural.validity",
        area=Area.STRUCTURAL,
        title="Structurally valid columns",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "Share of structural checks passed: one per column (values inside the real range "
            "or declared domain, integers whole, the share of missing values kept, not "
            "collapsed to one value) and one per declared inter-column constraint."
        ),
        good="1: every column could have come from the real table; each failure is listed.",
        compute=_validity,
        reference=Reference(RefOp.GE, 1.0, 1.0),
    ),
    MetricDef(
        name="structural.out_of_range_share",
        area=Area.STRUCTURAL,
        title="Invalid values (worst column)",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "The largest share, over columns, of synthetic rows holding a value the real column "
            "could not hold: outside its range widened by 1%, an unseen category, a fraction in "
            "an integer column, an unparseable value or a missing value in a NOT NULL column."
        ),
        good=f"{OUT_OF_RANGE_LIMIT:g} or less; impossible values mislead every analysis.",
        compute=_out_of_range,
        reference=Reference(RefOp.LE, OUT_OF_RANGE_LIMIT, 0.01),
    ),
    MetricDef(
        name="structural.null_share_drift",
        area=Area.STRUCTURAL,
        title="Missing-value share drift (worst column)",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "The largest difference, over columns, between the real and the synthetic share "
            "of missing values."
        ),
        good=(
            f"{NULL_DRIFT_LIMIT:g} or less, plus a noise allowance of two standard errors on "
            "small tables."
        ),
        compute=_null_drift,
        reference=Reference(RefOp.LE, NULL_DRIFT_LIMIT, 0.1),
    ),
    MetricDef(
        name="structural.collapsed_columns",
        area=Area.STRUCTURAL,
        title="Collapsed columns",
        goal=Goal.MINIMIZE,
        bounds=(0.0, math.inf),
        explanation=(
            "Columns whose synthetic values collapsed: a single value or none where the real "
            "column varies, or never or always missing where the real column is sometimes."
        ),
        good="0.",
        compute=_collapsed_count,
        reference=Reference(RefOp.LE, 0.0, 0.0),
    ),
    MetricDef(
        name="structural.constraint_violations",
        area=Area.STRUCTURAL,
        title="Rows breaking a declared constraint",
        goal=Goal.MINIMIZE,
        bounds=(0.0, math.inf),
        explanation="Synthetic rows that break at least one declared inter-column constraint.",
        good="0: declared constraints hold on every row.",
        compute=_constraint_violations,
        reference=Reference(RefOp.LE, 0.0, 0.0),
    ),
)
