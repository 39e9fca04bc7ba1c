from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synthgate.contracts import Goal, LogicalType, MetricResult, PrivacySpent, TableSchema
from synthgate.synth.frames import to_model_frame

__all__ = ["ValidationInput", "exact_matches", "fidelity_quality", "flatten", "run_validation"]

_SDTYPES = {
    LogicalType.INTEGER: "numerical",
    LogicalType.FLOAT: "numerical",
    LogicalType.DECIMAL: "numerical",
    LogicalType.BOOLEAN: "boolean",
    LogicalType.CATEGORICAL: "categorical",
    LogicalType.TEXT: "categorical",
    LogicalType.DATE: "datetime",
    LogicalType.DATETIME: "datetime",
}


@dataclass(frozen=True, slots=True)
class ValidationInput:
    """What validation sees: the model columns of train/synthetic, and counts."""

    train: pd.DataFrame
    synthetic: pd.DataFrame
    schema: TableSchema  # the columns the synthesizer modelled
    privacy: PrivacySpent
    pii_replay: Mapping[str, int]


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, 4)


def fidelity_quality(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
) -> MetricResult:
    """SDMetrics' quality score: column shapes and column-pair trends."""
    from sdmetrics.reports import QualityReport

    logging.getLogger("sdmetrics").setLevel(logging.ERROR)
    columns = {c.name: {"sdtype": _SDTYPES[c.type]} for c in schema.columns if c.type in _SDTYPES}
    metadata = {"tables": {"table": {"columns": columns}}}
    cols = list(columns)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(
            {"table": to_model_frame(real[cols], schema.select(cols))},
            {"table": to_model_frame(synthetic[cols], schema.select(cols))},
            metadata,
            verbose=False,
        )
    props = report.get_properties()
    shapes = report.get_details("Column Shapes", table_name="table")
    per_column = {str(r["Column"]): _num(r["Score"]) for _, r in shapes.iterrows()}
    return MetricResult(
        name="fidelity.quality",
        value=_num(report.get_score()),
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "How closely the synthetic table reproduces each column's distribution and the "
            "relationships between pairs of columns (SDMetrics quality score; 1 is identical)."
        ),
        details={
            "properties": {str(r["Property"]): _num(r["Score"]) for _, r in props.iterrows()},
            "column_shapes": per_column,
        },
    )


def exact_matches(
    train: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
) -> MetricResult:
    """Synthetic rows that are exact copies of a training row."""
    cols = schema.column_names
    if not cols or synthetic.empty:
        count, share = 0, 0.0
    else:
        real_h = set(pd.util.hash_pandas_object(to_model_frame(train[cols], schema), index=False))
        syn_h = pd.util.hash_pandas_object(to_model_frame(synthetic[cols], schema), index=False)
        count = int(syn_h.isin(real_h).sum())
        share = count / len(synthetic)
    return MetricResult(
        name="privacy.exact_match_share",
        value=round(share, 6),
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation="Share of synthetic rows identical to a row of the training data (0 is ideal).",
        details={"count": count, "rows": len(synthetic)},
    )


def run_validation(data: ValidationInput) -> list[MetricResult]:
    replay_total = int(sum(data.pii_replay.values()))
    return [
        fidelity_quality(data.train, data.synthetic, data.schema),
        exact_matches(data.train, data.synthetic, data.schema),
        MetricResult(
            name="privacy.pii_replay",
            value=float(replay_total),
            goal=Goal.MINIMIZE,
            bounds=(0.0, math.inf),
            explanation=(
                "Cells of the synthetic table equal to a real direct identifier (names, emails, "
                "phone numbers …) of the source; must be 0."
            ),
            details={"per_column": dict(data.pii_replay)},
        ),
    ]


def flatten(results: Sequence[MetricResult], privacy: PrivacySpent) -> dict[str, Any]:
    """The flat ``area.metric`` → value map that policy rules read."""
    flat: dict[str, Any] = {r.name: r.value for r in results}
    for r in results:
        if r.name == "privacy.exact_match_share":
            flat["privacy.exact_matches"] = r.details.get("count")
    flat["synthesizer.private"] = privacy.private
    flat["privacy.epsilon"] = privacy.epsilon if privacy.private else None
    flat["privacy.delta"] = privacy.delta if privacy.private else None
    return flat
