"""Fidelity: how closely the synthetic table reproduces the real one.

SDMetrics' quality report (column shapes, column-pair trends), privacy-safe
binned distributions per column, and an association matrix (Spearman for two
numbers, Cramér's V for two categories, the correlation ratio η for one of
each) whose real-minus-synthetic difference the report draws as a heatmap.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import Goal, MetricResult, TableSchema
from synthgate.synth.frames import SDV_SDTYPES
from synthgate.validate._binning import build_binning, distribution, is_missing
from synthgate.validate._context import ValidationContext
from synthgate.validate._registry import Area, Measurement, MetricDef, Reference, RefOp

__all__ = ["METRICS", "association_matrix", "fidelity_quality"]

#: columns drawn in the association heatmap (the first ones of the table)
MAX_HEATMAP_COLUMNS = 30
_MAX_LEVELS = 50


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, 4)


# --------------------------------------------------------------------------- SDMetrics


def _quality_report(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> Any:
    from sdmetrics.reports import QualityReport

    logging.getLogger("sdmetrics").setLevel(logging.ERROR)
    columns = {
        c.name: {"sdtype": SDV_SDTYPES[c.type]} for c in schema.columns if c.type in SDV_SDTYPES
    }
    metadata = {"tables": {"table": {"columns": columns}}}
    cols = list(columns)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"table": real[cols]}, {"table": synthetic[cols]}, metadata, verbose=False)
    return report


def _sdmetrics(ctx: ValidationContext) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        n = ctx.options.max_model_rows
        real = ctx.sample(ctx.real, n, purpose="fidelity", salt="real")
        syn = ctx.sample(ctx.synthetic, n, purpose="fidelity", salt="synthetic")
        report = _quality_report(real, syn, ctx.schema)
        props = {
            str(r["Property"]): _num(r["Score"]) for _, r in report.get_properties().iterrows()
        }
        shapes = report.get_details("Column Shapes", table_name="table")
        per_column = {str(r["Column"]): _num(r["Score"]) for _, r in shapes.iterrows()}
        pairs_df = report.get_details("Column Pair Trends", table_name="table")
        pairs: list[dict[str, Any]] = []
        if len(pairs_df):
            for _, r in pairs_df.iterrows():
                score = _num(r.get("Score"))
                if score is not None:
                    pairs.append(
                        {"columns": [str(r["Column 1"]), str(r["Column 2"])], "score": score}
                    )
        pairs.sort(key=lambda p: p["score"])
        return {
            "score": _num(report.get_score()),
            "properties": props,
            "column_shapes": per_column,
            "worst_pairs": pairs[:5],
        }

    return ctx.memo("fidelity.sdmetrics", build)


def fidelity_quality(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
) -> MetricResult:
    """SDMetrics' quality score of two frames (kept as a stand-alone helper)."""
    from synthgate.synth.frames import to_model_frame

    cols = [c.name for c in schema.columns if c.type in SDV_SDTYPES]
    sub = schema.select(cols)
    report = _quality_report(
        to_model_frame(real[cols], sub), to_model_frame(synthetic[cols], sub), sub
    )
    props = report.get_properties()
    shapes = report.get_details("Column Shapes", table_name="table")
    return MetricResult(
        name=QUALITY.name,
        value=_num(report.get_score()),
        goal=QUALITY.goal,
        bounds=QUALITY.bounds,
        explanation=QUALITY.explanation,
        details={
            "properties": {str(r["Property"]): _num(r["Score"]) for _, r in props.iterrows()},
            "column_shapes": {str(r["Column"]): _num(r["Score"]) for _, r in shapes.iterrows()},
        },
    )


def _no_rows(ctx: ValidationContext) -> str | None:
    """Why no distribution can be compared at all (SDMetrics scores empty frames 0.5)."""
    if len(ctx.synthetic) == 0:
        return "the synthetic table has no rows"
    if len(ctx.real) == 0:
        return "no real training rows to compare with"
    return None


def _quality(ctx: ValidationContext) -> Measurement:
    if why := _no_rows(ctx):
        return Measurement.skip(why)
    sd = _sdmetrics(ctx)
    details = {"properties": sd["properties"], "column_shapes": sd["column_shapes"]}
    if sd["score"] is None:
        return Measurement(None, details, "SDMetrics could not score the table")
    return Measurement(sd["score"], details)


def _column_shapes(ctx: ValidationContext) -> Measurement:
    if why := _no_rows(ctx):
        return Measurement.skip(why)
    sd = _sdmetrics(ctx)
    n = ctx.options.max_model_rows
    real = ctx.sample(ctx.real, n, purpose="fidelity", salt="real")
    syn = ctx.sample(ctx.synthetic, n, purpose="fidelity", salt="synthetic")
    plots = []
    for col in ctx.schema.columns:
        binning = build_binning(col, real[col.name], k=ctx.options.k_min)
        if binning is not None:
            plots.append(distribution(binning, syn[col.name]))
    score = sd["properties"].get("Column Shapes")
    details = {
        "per_column": sd["column_shapes"],
        "distributions": plots,
        "k_min": ctx.options.k_min,
    }
    if score is None:  # e.g. every synthetic column is entirely missing
        return Measurement(None, details, "SDMetrics could not score any column's shape")
    return Measurement(score, details)


def _pair_trends(ctx: ValidationContext) -> Measurement:
    if len(ctx.columns) < 2:
        return Measurement.skip("the table has fewer than two modelled columns")
    if why := _no_rows(ctx):
        return Measurement.skip(why)
    sd = _sdmetrics(ctx)
    score = sd["properties"].get("Column Pair Trends")
    if score is None:
        return Measurement.skip("SDMetrics could not score any pair of columns")
    return Measurement(score, {"worst_pairs": sd["worst_pairs"]})


def _min_column_shape(ctx: ValidationContext) -> Measurement:
    if why := _no_rows(ctx):
        return Measurement.skip(why)
    shapes = {k: v for k, v in _sdmetrics(ctx)["column_shapes"].items() if v is not None}
    if not shapes:
        return Measurement.skip("no column could be scored")
    worst = min(shapes, key=lambda k: shapes[k])
    return Measurement(shapes[worst], {"column": worst})


# --------------------------------------------------------------------------- associations


def _codes(series: pd.Series[Any]) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int]:
    keys = series.map(lambda v: None if is_missing(v) else str(v))
    counts = keys.value_counts(dropna=True)
    top = {c: i for i, c in enumerate(counts.index[:_MAX_LEVELS])}
    other = len(top)
    missing = other + 1
    codes = keys.map(lambda v: missing if v is None else top.get(v, other)).to_numpy(dtype=np.int64)
    return codes, missing + 1


def _cramers_v(a: np.ndarray[Any, Any], ra: int, b: np.ndarray[Any, Any], rb: int) -> float:
    table = np.bincount(a * rb + b, minlength=ra * rb).reshape(ra, rb).astype(float)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    r, c = table.shape
    if r < 2 or c < 2:
        return 0.0
    n = table.sum()
    expected = table.sum(1)[:, None] * table.sum(0)[None, :] / n
    phi2 = float(((table - expected) ** 2 / expected).sum() / n)
    return float(min(1.0, math.sqrt(phi2 / (min(r, c) - 1))))


def _eta(x: np.ndarray[Any, Any], g: np.ndarray[Any, Any], levels: int) -> float:
    ok = ~np.isnan(x)
    x, g = x[ok], g[ok]
    if len(x) < 2:
        return 0.0
    total = float(((x - x.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    n = np.bincount(g, minlength=levels).astype(float)
    sums = np.bincount(g, weights=x, minlength=levels)
    present = n > 0
    means = sums[present] / n[present]
    between = float((n[present] * (means - x.mean()) ** 2).sum())
    return float(min(1.0, math.sqrt(between / total)))


def _spearman(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3:
        return 0.0
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def association_matrix(frame: pd.DataFrame, schema: TableSchema) -> np.ndarray[Any, Any]:
    """Pairwise association of *schema*'s columns in *frame* (1 on the diagonal)."""
    cols = schema.columns
    numeric: dict[str, np.ndarray[Any, Any]] = {}
    codes: dict[str, tuple[np.ndarray[Any, Any], int]] = {}
    for col in cols:
        s = frame[col.name]
        if col.type.is_numeric or col.type.is_temporal:
            if pd.api.types.is_datetime64_any_dtype(s):
                x = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
                x[s.isna().to_numpy()] = np.nan
            else:
                x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            numeric[col.name] = x
        else:
            codes[col.name] = _codes(s)
    n = len(cols)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = cols[i].name, cols[j].name
            if a in numeric and b in numeric:
                v = _spearman(numeric[a], numeric[b])
            elif a in codes and b in codes:
                v = _cramers_v(codes[a][0], codes[a][1], codes[b][0], codes[b][1])
            elif a in numeric:
                v = _eta(numeric[a], codes[b][0], codes[b][1])
            else:
                v = _eta(numeric[b], codes[a][0], codes[a][1])
            out[i, j] = out[j, i] = v
    return out


def _correlation_diff(ctx: ValidationContext) -> Measurement:
    if len(ctx.columns) < 2:
        return Measurement.skip("the table has fewer than two modelled columns")
    if why := _no_rows(ctx):
        return Measurement.skip(why)
    n = ctx.options.max_model_rows
    schema = ctx.schema.select(ctx.columns[:MAX_HEATMAP_COLUMNS])
    real = ctx.sample(ctx.real, n, purpose="fidelity", salt="real")
    syn = ctx.sample(ctx.synthetic, n, purpose="fidelity", salt="synthetic")
    a = association_matrix(real, schema)
    b = association_matrix(syn, schema)
    diff = np.abs(a - b)
    upper = diff[np.triu_indices(len(schema.columns), 1)]
    return Measurement(
        float(upper.max()),
        {
            "columns": schema.column_names,
            "real": np.round(a, 3).tolist(),
            "synthetic": np.round(b, 3).tolist(),
            "difference": np.round(diff, 3).tolist(),
            "mean_difference": round(float(upper.mean()), 4),
            "measures": "Spearman ρ (number–number), Cramér's V (category–category), "
            "correlation ratio η (number–category)",
        },
    )


QUALITY = MetricDef(
    name="fidelity.quality",
    area=Area.FIDELITY,
    title="Overall quality",
    goal=Goal.MAXIMIZE,
    bounds=(0.0, 1.0),
    explanation=(
        "How closely the synthetic table reproduces each column's distribution and the "
        "relationships between pairs of columns (SDMetrics quality score; 1 is identical)."
    ),
    good="0.8 or more; below 0.7 analyses on the synthetic table will often mislead.",
    compute=_quality,
    reference=Reference(RefOp.GE, 0.8, 0.7),
)

METRICS: tuple[MetricDef, ...] = (
    QUALITY,
    MetricDef(
        name="fidelity.column_shapes",
        area=Area.FIDELITY,
        title="Column shapes",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "Average similarity of each column's distribution, real versus synthetic "
            "(Kolmogorov–Smirnov for numbers, total variation for categories)."
        ),
        good="0.85 or more, with no single column far below the rest.",
        compute=_column_shapes,
        reference=Reference(RefOp.GE, 0.85, 0.75),
    ),
    MetricDef(
        name="fidelity.pair_trends",
        area=Area.FIDELITY,
        title="Column pair trends",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "Average similarity of how pairs of columns move together "
            "(correlations and contingency tables), real versus synthetic."
        ),
        good="0.8 or more; lower means relationships between columns were lost.",
        compute=_pair_trends,
        reference=Reference(RefOp.GE, 0.8, 0.65),
    ),
    MetricDef(
        name="fidelity.min_column_shape",
        area=Area.FIDELITY,
        title="Worst column shape",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation="The shape similarity of the column the synthetic table reproduces worst.",
        good="0.7 or more; a lower column should not be relied on.",
        compute=_min_column_shape,
        reference=Reference(RefOp.GE, 0.7, 0.5),
    ),
    MetricDef(
        name="fidelity.correlation_diff",
        area=Area.FIDELITY,
        title="Largest association difference",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 2.0),
        explanation=(
            "The largest absolute difference, over all column pairs, between the strength of "
            "association in the real and in the synthetic table."
        ),
        good="0.1 or less; above 0.2 some relationship between two columns is clearly off.",
        compute=_correlation_diff,
        reference=Reference(RefOp.LE, 0.1, 0.2),
    ),
)
