"""Data quality with Great Expectations.

An expectation suite is built from what is known about the real table without
printing any of its values: the schema (columns and their order, types,
nullability, declared ranges, declared category sets, primary and unique keys),
a privacy-safe profile of the real training rows (each column's share of
missing values, rounded up to the next percent, plus a 5-point tolerance), and
the expectations the job spec declares under ``validation.expectations``.
The released synthetic table is validated against it in an ephemeral context
(nothing is written by Great Expectations itself, nothing goes over the network).

Great Expectations' validation-result JSON is the source of truth; synthgate
stores it, with the fields that would print table values removed
(``partial_unexpected_*``, ``unexpected_list`` … and numeric observed values).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from synthgate.contracts import ColumnSchema, Goal, LogicalType, TableSchema
from synthgate.validate._context import ValidationContext
from synthgate.validate._registry import (
    Area,
    Measurement,
    MetricDef,
    MetricKind,
    Reference,
    RefOp,
)

__all__ = ["METRICS", "QualityRun", "build_suite", "known_expectation", "run_quality"]

NULL_TOLERANCE = 0.05
SUITE_NAME = "synthgate-release"
_KEEP_RESULT_KEYS = {
    "element_count",
    "missing_count",
    "missing_percent",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
}
_TEXT_NATIVE = ("CHAR", "TEXT", "STRING", "CLOB", "ENUM", "UUID", "JSON", "XML")

_TYPES: dict[LogicalType, list[str]] = {
    LogicalType.INTEGER: [
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
    ],
    LogicalType.FLOAT: ["float", "float16", "float32", "float64", "int", "int64", "int32"],
    LogicalType.DECIMAL: ["float", "float32", "float64", "Decimal", "int", "int64"],
    LogicalType.BOOLEAN: ["bool", "bool_"],
    LogicalType.DATE: ["date", "datetime", "Timestamp", "datetime64", "datetime64[ns]"],
    LogicalType.DATETIME: [
        "datetime",
        "Timestamp",
        "datetime64",
        "datetime64[ns]",
        "datetime64[us]",
    ],
    LogicalType.TEXT: ["str"],
}


def _gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx

    return gx


def known_expectation(name: str) -> bool:
    """Whether Great Expectations knows an expectation type (``expect_…``)."""
    _gx()
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        get_expectation_impl(name)
    except Exception:
        return False
    return True


def _type_list(col: ColumnSchema) -> list[str] | None:
    if col.type in _TYPES:
        return _TYPES[col.type]
    native = col.native_type.upper()
    textual = not native or any(t in native for t in _TEXT_NATIVE)
    if col.type is LogicalType.CATEGORICAL:
        return ["str"] if textual else None
    if col.type is LogicalType.IDENTIFIER:
        return ["str"] if textual else _TYPES[LogicalType.INTEGER]
    return None


def _value_set(domain: Sequence[str]) -> list[Any]:
    values: list[Any] = list(domain)
    for v in domain:
        for parse in (int, float):
            try:
                values.append(parse(v))
                break
            except ValueError:
                continue
    return list(dict.fromkeys(values))


def _bound_value(col: ColumnSchema, bound: float) -> float | datetime:
    """A range bound as GX compares it: a date or time column's bound (days since
    1970-01-01, as the engines keep it) as a time, a number as it is."""
    if col.type.is_temporal:
        return datetime(1970, 1, 1) + timedelta(days=bound)
    return bound


def _config(kind: str, kwargs: Mapping[str, Any], source: str, why: str) -> dict[str, Any]:
    return {"type": kind, "kwargs": dict(kwargs), "meta": {"source": source, "why": why}}


def _column_expectations(col: ColumnSchema, null_share: float | None) -> list[dict[str, Any]]:
    out = []
    types = _type_list(col)
    if types:
        out.append(
            _config(
                "expect_column_values_to_be_in_type_list",
                {"column": col.name, "type_list": types},
                "schema",
                f"values have the column's type ({col.type.value})",
            )
        )
    if not col.nullable:
        out.append(
            _config(
                "expect_column_values_to_not_be_null",
                {"column": col.name},
                "schema",
                "the column is declared NOT NULL",
            )
        )
    elif null_share is not None:
        ceiling = math.ceil(null_share * 100) / 100 + NULL_TOLERANCE
        if ceiling < 1:
            out.append(
                _config(
                    "expect_column_values_to_not_be_null",
                    {"column": col.name, "mostly": round(1 - ceiling, 2)},
                    "profile",
                    "no more missing values than the real column, within 5 points",
                )
            )
    if col.bounds is not None:
        low, high = (_bound_value(col, b) for b in col.bounds)
        out.append(
            _config(
                "expect_column_values_to_be_between",
                {"column": col.name, "min_value": low, "max_value": high},
                "declared",
                "values stay within the declared range",
            )
        )
    if col.domain:
        out.append(
            _config(
                "expect_column_values_to_be_in_set",
                {"column": col.name, "value_set": _value_set(col.domain)},
                "declared",
                "values come from the declared category set",
            )
        )
    return out


def _key_expectations(schema: TableSchema) -> list[dict[str, Any]]:
    keys: list[tuple[str, ...]] = []
    if schema.primary_key:
        keys.append(tuple(schema.primary_key))
    keys.extend(tuple(u) for u in schema.unique)
    out = []
    for key in dict.fromkeys(keys):
        if not set(key) <= set(schema.column_names):
            continue
        if len(key) == 1:
            out.append(
                _config(
                    "expect_column_values_to_be_unique",
                    {"column": key[0]},
                    "schema",
                    "key values are unique",
                )
            )
        else:
            out.append(
                _config(
                    "expect_compound_columns_to_be_unique",
                    {"column_list": list(key)},
                    "schema",
                    "key value combinations are unique",
                )
            )
    return out


def _declared(d: Mapping[str, Any]) -> dict[str, Any]:
    meta = d.get("meta")
    notes = meta.get("notes") if isinstance(meta, Mapping) else None
    return _config(
        str(d["type"]),
        dict(d.get("kwargs", {})),
        "job spec",
        str(notes) if notes else "declared in validation.expectations",
    )


def build_suite(
    schema: TableSchema,
    null_shares: Mapping[str, float],
    declared: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Expectation configurations (GX JSON form) for a released table.

    *schema* is the release's schema; *null_shares* the real share of missing
    values per column (from the privacy-safe profile); *declared* the job's own.
    """
    out = [
        _config(
            "expect_table_columns_to_match_ordered_list",
            {"column_list": schema.column_names},
            "schema",
            "the release has the source's columns, in order, minus dropped ones",
        ),
        _config(
            "expect_table_row_count_to_be_between",
            {"min_value": 1},
            "schema",
            "the release is not empty",
        ),
    ]
    for col in schema.columns:
        out.extend(_column_expectations(col, null_shares.get(col.name)))
    out.extend(_key_expectations(schema))
    out.extend(_declared(d) for d in declared)
    return out


def _gx_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable extension dtypes become object columns GX can type-check per value."""
    out = {}
    for name in frame.columns:
        s = frame[name]
        if _holds_dates(s):  # date objects: as times, which GX compares with range bounds
            out[name] = pd.to_datetime(s, errors="coerce")
        elif isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
            s.dtype, pd.DatetimeTZDtype
        ):
            values = s.astype(object).to_numpy()
            values[s.isna().to_numpy()] = None
            out[name] = pd.Series(values, index=frame.index, dtype=object)
        else:
            out[name] = s
    return pd.DataFrame(out, index=frame.index)


def _holds_dates(s: pd.Series[Any]) -> bool:
    """Whether an object column holds dates or times (and nulls) only."""
    if s.dtype != object:
        return False
    values = s.dropna()
    return bool(len(values)) and all(isinstance(v, date) for v in values.iloc[:100])


def _clean_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """Drop everything in a result that could print a value of the table."""
    kept = {k: v for k, v in result.items() if k in _KEEP_RESULT_KEYS}
    observed = result.get("observed_value")
    if isinstance(observed, str) or (
        isinstance(observed, list) and all(isinstance(v, str) for v in observed)
    ):
        kept["observed_value"] = observed
    elif "observed_value" in result:
        kept["observed_value_withheld"] = True
    return kept


def _sanitise(results: Mapping[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    out = dict(results)
    clean = []
    for r in results.get("results", []):
        item = dict(r)
        item["result"] = _clean_result(r.get("result") or {})
        info = dict(item.get("exception_info") or {})
        if "exception_traceback" in info:
            info["exception_traceback"] = None
        if info.get("exception_message"):
            info["exception_message"] = str(info["exception_message"]).splitlines()[0][:200]
        item["exception_info"] = info
        clean.append(item)
    out["results"] = clean
    return out


@dataclass(frozen=True)
class QualityRun:
    suite: dict[str, Any]  # GX suite JSON
    results: dict[str, Any]  # GX validation-result JSON, sanitised
    build_errors: list[dict[str, Any]]  # declared expectations GX refused


def run_quality(frame: pd.DataFrame, configs: Sequence[Mapping[str, Any]]) -> QualityRun:
    """Validate *frame* with the suite *configs* in an ephemeral GX context."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = gx.ExpectationSuite(name=SUITE_NAME)
    errors: list[dict[str, Any]] = []
    for cfg in configs:
        try:
            suite.add_expectation_configuration(
                ExpectationConfiguration(
                    type=cfg["type"], kwargs=dict(cfg["kwargs"]), meta=dict(cfg.get("meta", {}))
                )
            )
        except Exception as exc:
            errors.append(
                {
                    "type": cfg["type"],
                    "kwargs": dict(cfg["kwargs"]),
                    "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                }
            )
    asset = context.data_sources.add_pandas("synthgate").add_dataframe_asset("release")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": _gx_frame(frame)}
    )
    result = batch.validate(
        suite,
        result_format={
            "result_format": "SUMMARY",
            "partial_unexpected_count": 0,
            "include_unexpected_rows": False,
        },
    )
    return QualityRun(
        suite=suite.to_json_dict(),
        results=_sanitise(result.to_json_dict(), list(frame.columns)),
        build_errors=errors,
    )


def _null_shares(ctx: ValidationContext) -> dict[str, float]:
    train = ctx.input.train
    if len(train) == 0:
        return {}
    return {c: float(train[c].isna().mean()) for c in train.columns}


def quality_run(ctx: ValidationContext) -> QualityRun | str:
    def build() -> QualityRun | str:
        release = ctx.input.release if ctx.input.release is not None else ctx.input.synthetic
        schema = ctx.input.release_schema or ctx.schema
        configs = build_suite(schema, _null_shares(ctx), ctx.input.expectations)
        return run_quality(release, configs)

    return ctx.memo("quality.gx", build)


def _stats(run: QualityRun) -> dict[str, Any]:
    stats = dict(run.results.get("statistics", {}))
    return {
        "evaluated": int(stats.get("evaluated_expectations", 0)) + len(run.build_errors),
        "successful": int(stats.get("successful_expectations", 0)),
        "failed": int(stats.get("unsuccessful_expectations", 0)) + len(run.build_errors),
        "build_errors": len(run.build_errors),
    }


def _success(ctx: ValidationContext) -> Measurement:
    run = quality_run(ctx)
    if isinstance(run, str):
        return Measurement.skip(run)
    ok = bool(run.results.get("success")) and not run.build_errors
    return Measurement(1.0 if ok else 0.0, _stats(run))


def _share(ctx: ValidationContext) -> Measurement:
    run = quality_run(ctx)
    if isinstance(run, str):
        return Measurement.skip(run)
    s = _stats(run)
    return Measurement(round(s["successful"] / s["evaluated"], 4) if s["evaluated"] else None, s)


def _failed(ctx: ValidationContext) -> Measurement:
    run = quality_run(ctx)
    if isinstance(run, str):
        return Measurement.skip(run)
    failed = [
        {
            "type": r["expectation_config"]["type"],
            "column": r["expectation_config"]["kwargs"].get("column"),
        }
        for r in run.results.get("results", [])
        if not r.get("success")
    ]
    failed += [{"type": e["type"], "column": e["kwargs"].get("column")} for e in run.build_errors]
    return Measurement(float(len(failed)), {"failed": failed})


METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        name="quality.gx_success",
        area=Area.QUALITY,
        title="Expectation suite passed",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        kind=MetricKind.BOOLEAN,
        explanation=(
            "Whether the released table meets every expectation of the Great Expectations suite "
            "built from the real table's schema, its privacy-safe profile and the job spec."
        ),
        good="Passed (1).",
        compute=_success,
        reference=Reference(RefOp.GE, 1.0, 1.0),
    ),
    MetricDef(
        name="quality.gx_success_share",
        area=Area.QUALITY,
        title="Expectations met",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation="Share of the suite's expectations the released table meets.",
        good="1; every unmet expectation is listed in the data-quality section.",
        compute=_share,
        reference=Reference(RefOp.GE, 1.0, 0.95),
    ),
    MetricDef(
        name="quality.gx_failed",
        area=Area.QUALITY,
        title="Expectations not met",
        goal=Goal.MINIMIZE,
        bounds=(0.0, math.inf),
        explanation="Number of expectations the released table does not meet.",
        good="0.",
        compute=_failed,
    ),
)
