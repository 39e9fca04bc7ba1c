"""Checks across synthetic tables: referential integrity, unique keys, and how far
the synthetic children-per-parent distribution is from the real one.

The distance is a statistic of the real data: it is released rounded to two
decimals; integrity and uniqueness are facts of the synthetic tables alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import Relationship
from synthgate.synth.multitable._graph import TablePlan

__all__ = ["children_counts", "integrity", "run_checks", "tvd"]


def _tuples(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    return list(frame[list(columns)].itertuples(index=False, name=None))


def integrity(child: pd.DataFrame, parent: pd.DataFrame, rel: Relationship) -> float:
    """Share of the child's non-null foreign keys that name a row of the parent."""
    keys = set(_tuples(parent, rel.parent_columns))
    fks = [t for t in _tuples(child, rel.child_columns) if not any(pd.isna(v) for v in t)]
    if not fks:
        return 1.0
    return sum(t in keys for t in fks) / len(fks)


def children_counts(
    child: pd.DataFrame, parent: pd.DataFrame, rel: Relationship
) -> np.ndarray[Any, Any]:
    """Number of children of every parent row (zero included)."""
    counts = Counter(_tuples(child, rel.child_columns))
    return np.array([counts.get(t, 0) for t in _tuples(parent, rel.parent_columns)], dtype=np.int64)


def tvd(real: np.ndarray[Any, Any], synthetic: np.ndarray[Any, Any], cap: int) -> float:
    """Total-variation distance between two count distributions, counts above *cap*
    counted at *cap* (the synthetic side never exceeds it)."""
    if not len(real) or not len(synthetic):
        return 1.0
    p = np.bincount(np.minimum(real, cap), minlength=cap + 1) / len(real)
    q = np.bincount(np.minimum(synthetic, cap), minlength=cap + 1) / len(synthetic)
    return float(0.5 * np.abs(p - q).sum())


def run_checks(
    out: Mapping[str, pd.DataFrame],
    real: Mapping[str, pd.DataFrame],
    plans: Sequence[TablePlan],
    caps: Mapping[str, int],
    public: Sequence[str],
) -> dict[str, Any]:
    relationships: dict[str, dict[str, Any]] = {}
    for plan in plans:
        links = ([plan.parent] if plan.parent is not None else []) + list(plan.public_links)
        for rel in links:
            name = f"{rel.child_table} -> {rel.parent_table}"
            entry: dict[str, Any] = {
                "integrity": integrity(out[rel.child_table], out[rel.parent_table], rel)
            }
            if rel.parent_table not in public:
                synth = children_counts(out[rel.child_table], out[rel.parent_table], rel)
                truth = children_counts(real[rel.child_table], real[rel.parent_table], rel)
                cap = caps[rel.child_table]
                entry["cap"] = cap
                entry["children_per_parent_tvd"] = round(tvd(truth, synth, cap), 2)
                entry["synthetic_max_children"] = int(synth.max()) if len(synth) else 0
            relationships[name] = entry
        for rel in plan.links:
            relationships[
                f"{rel.child_table} -> {rel.parent_table} ({', '.join(rel.child_columns)})"
            ] = {
                "integrity": integrity(out[rel.child_table], out[rel.parent_table], rel),
                "link": True,
            }
    unique = {p.name: not out[p.name].duplicated(subset=list(p.key)).any() for p in plans if p.key}
    return {
        "referential_integrity": min((r["integrity"] for r in relationships.values()), default=1.0),
        "unique_keys": unique,
        "relationships": relationships,
        "rows": {name: len(frame) for name, frame in out.items()},
    }


#: above this share of distinct values a text column is an identifier or free text
#: (names, e-mail addresses, notes): SDMetrics skips it, as SDV metadata would mark it
TEXT_DISTINCT_SHARE = 0.5


def _temporal(series: pd.Series[Any]) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    return pd.api.types.infer_dtype(series, skipna=True) in ("date", "datetime", "datetime64")


def _sdtype(series: pd.Series[Any]) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numerical"
    if _temporal(series):
        return "datetime"
    present = series.dropna()
    if len(present) and present.nunique() > TEXT_DISTINCT_SHARE * len(present):
        return "text"
    return "categorical"


def _as_report_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates held as Python objects become datetimes, as SDMetrics compares them."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_datetime64_any_dtype(out[col]) and _temporal(out[col]):
            out[col] = pd.to_datetime(out[col], errors="coerce")
    return out


def _metadata(
    real: Mapping[str, pd.DataFrame], plans: Sequence[TablePlan], public: Sequence[str]
) -> dict[str, Any]:
    """SDMetrics' multi-table metadata: single-column keys and the relationships
    between them (composite ones are left out of the report)."""
    rels = [r for p in plans for r in ([p.parent] if p.parent else []) + list(p.public_links)]
    keys: dict[str, str] = {p.name: p.key[0] for p in plans if len(p.key) == 1}
    for rel in rels:
        if rel.parent_table in public and len(rel.parent_columns) == 1:
            keys.setdefault(rel.parent_table, rel.parent_columns[0])
    ids = {(r.child_table, r.child_columns[0]) for r in rels if len(r.child_columns) == 1}
    names = [p.name for p in plans] + [t for t in public if t in keys]
    tables: dict[str, Any] = {}
    for name in names:
        columns = {
            c: {
                "sdtype": "id"
                if c == keys.get(name) or (name, c) in ids
                else _sdtype(real[name][c])
            }
            for c in real[name].columns
        }
        tables[name] = {"columns": columns, **({"primary_key": keys[name]} if name in keys else {})}
    links = [
        {
            "parent_table_name": r.parent_table,
            "parent_primary_key": r.parent_columns[0],
            "child_table_name": r.child_table,
            "child_foreign_key": r.child_columns[0],
        }
        for r in rels
        if len(r.child_columns) == 1
        and keys.get(r.parent_table) == r.parent_columns[0]
        and r.parent_table in tables
    ]
    return {"tables": tables, "relationships": links}


def quality(
    out: Mapping[str, pd.DataFrame],
    real: Mapping[str, pd.DataFrame],
    plans: Sequence[TablePlan],
    public: Sequence[str],
) -> dict[str, Any] | None:
    """SDMetrics' multi-table quality report (column shapes, pair trends,
    cardinality, parent–child trends), rounded to two decimals; None where it
    cannot run on these tables."""
    import logging
    import warnings

    with warnings.catch_warnings():  # the module warns it is deprecated, on import
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.multi_table import QualityReport

    logging.getLogger("sdmetrics").setLevel(logging.ERROR)
    meta = _metadata(real, plans, public)
    names = list(meta["tables"])
    report = QualityReport()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(
                {n: _as_report_frame(real[n]) for n in names},
                {n: _as_report_frame(out[n]) for n in names},
                meta,
                verbose=False,
            )
        props = report.get_properties()
    except Exception:  # the report is optional evidence, never a failure
        return None
    return {
        "score": round(float(report.get_score()), 2),
        "properties": {
            str(r["Property"]): round(float(r["Score"]), 2) for _, r in props.iterrows()
        },
    }
