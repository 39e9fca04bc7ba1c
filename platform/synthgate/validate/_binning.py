"""Privacy-safe partitions of a column: every cell holds at least k real rows.

Reports show real-versus-synthetic distributions and per-group figures. Each
bar or group shown is a *cell* of a partition built here from the real rows:

- numbers get "nice" rounded bin edges between the 2nd and 98th percentile,
  with open-ended outer bins, so no extreme or exact real value is printed;
- bins, categories and the missing-value bucket with fewer than ``k`` real
  rows are merged into a neighbour (the smallest one), never dropped, so the
  shown cells always add up to the whole table and nothing can be recovered
  by subtraction;
- category names are printed only for categories with at least ``k`` real rows.

Synthetic values are then counted in the same cells; a synthetic value no real
cell covers lands in an "other values" cell that holds no real row.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import ColumnSchema, LogicalType

__all__ = ["Binning", "Unit", "build_binning", "distribution", "is_missing", "value_key"]

_MISSING = "(missing)"
_OTHER = "other values"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_NS = 86_400 * 10**9
_DAY_STEPS = (1.0, 2.0, 7.0, 14.0, 28.0, 56.0, 91.0, 182.0, 365.0)


class Unit(enum.StrEnum):
    INTEGER = "integer"
    FLOAT = "float"
    YEAR = "year"  # dates with a span of years: edges on whole years
    DAY = "day"  # dates with a short span: edges on days


@dataclass(frozen=True, slots=True)
class Binning:
    """A partition of a column into labelled cells (see the module docstring)."""

    column: str
    kind: str  # "numeric" or "categorical"
    labels: tuple[str, ...]
    real_counts: tuple[int, ...]
    unit: Unit | None = None
    edges: tuple[float, ...] = ()
    fine_to_cell: tuple[int, ...] = ()
    categories: dict[str, int] = field(default_factory=dict)
    other_cell: int | None = None
    missing_cell: int | None = None

    def assign(self, series: pd.Series[Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Cell index of every value. Values no real cell covers get
        ``len(labels)`` (a category the real data lacks) or ``len(labels) + 1``
        (a missing value where the real data had none)."""
        n = len(series)
        out = np.full(n, len(self.labels), dtype=np.int64)
        missing = series.isna().to_numpy()
        out[missing] = len(self.labels) + 1 if self.missing_cell is None else self.missing_cell
        present = ~missing
        if self.kind == "numeric":
            assert self.unit is not None
            x = _to_float(series[present], self.unit)
            fine = np.searchsorted(np.asarray(self.edges, dtype=float), x, side="right")
            out[present] = np.asarray(self.fine_to_cell, dtype=np.int64)[fine]
        elif present.any():
            fallback = len(self.labels) if self.other_cell is None else self.other_cell
            keys = series[present].map(value_key)
            out[present] = keys.map(lambda k: self.categories.get(k, fallback)).to_numpy(
                dtype=np.int64
            )
        return out


def is_missing(value: Any) -> bool:
    """``None``, ``NaN``, ``NaT`` or ``pd.NA`` (a scalar check)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def value_key(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- numbers


def _unit_for(col: ColumnSchema, values: pd.Series[Any]) -> Unit:
    if col.type.is_temporal:
        days = _to_float(values.dropna(), Unit.DAY)
        span = float(np.nanmax(days) - np.nanmin(days)) if len(days) else 0.0
        return Unit.YEAR if span >= 3 * 365.25 else Unit.DAY
    if col.type is LogicalType.INTEGER:
        return Unit.INTEGER
    return Unit.FLOAT


def _to_float(values: pd.Series[Any], unit: Unit) -> np.ndarray[Any, np.dtype[np.float64]]:
    if unit in (Unit.YEAR, Unit.DAY):
        ts = pd.to_datetime(values, errors="coerce")
        missing = ts.isna().to_numpy()
        if unit is Unit.YEAR:
            years = (
                ts.dt.year.to_numpy(dtype=float, na_value=np.nan)
                + (ts.dt.dayofyear.to_numpy(dtype=float, na_value=np.nan) - 1) / 366.0
            )
            return np.asarray(years, dtype=float)
        ns = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        ns[missing] = np.nan
        return ns / _DAY_NS
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _nice_step(span: float, bins: int, *, whole: bool) -> float:
    raw = span / max(bins, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    steps = (1.0, 2.0, 5.0, 10.0) if whole else (1.0, 2.0, 2.5, 5.0, 10.0)
    for m in steps:
        if m * mag >= raw * (1 - 1e-9):
            step = m * mag
            break
    else:  # pragma: no cover - 10 always qualifies
        step = 10.0 * mag
    return max(1.0, round(step)) if whole else step


def _edges(x: np.ndarray[Any, np.dtype[np.float64]], unit: Unit, max_bins: int) -> list[float]:
    lo, hi = (float(v) for v in np.quantile(x, [0.02, 0.98]))
    whole = unit in (Unit.INTEGER, Unit.YEAR, Unit.DAY)
    if hi <= lo:
        # (nearly) one value: cells below, at and above it
        step = 1.0 if whole else max(abs(lo) * 1e-6, 1e-9)
        return [lo, lo + step]
    if unit is Unit.DAY:
        raw = (hi - lo) / max(max_bins - 2, 1)
        step = next((d for d in _DAY_STEPS if d >= raw), _DAY_STEPS[-1])
    else:
        step = _nice_step(hi - lo, max_bins - 2, whole=whole)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    if stop <= start:
        stop = start + step
    count = min(round((stop - start) / step), 40)
    return [start + i * step for i in range(count + 1)]


def _fmt_edge(value: float, unit: Unit) -> str:
    if unit is Unit.INTEGER:
        return str(round(value))
    if unit is Unit.YEAR:
        return str(math.floor(value + 1e-9))
    if unit is Unit.DAY:
        return (_EPOCH + timedelta(days=round(value))).date().isoformat()
    return f"{value:.6g}"


def _label(lower: float | None, upper: float | None, unit: Unit) -> str:
    if lower is None and upper is None:
        return "all values"
    if lower is None:
        assert upper is not None
        return f"< {_fmt_edge(upper, unit)}"
    if upper is None:
        return f"≥ {_fmt_edge(lower, unit)}"
    if unit in (Unit.INTEGER, Unit.YEAR):
        last = round(upper) - 1
        first = round(lower)
        return str(first) if last <= first else f"{first}–{last}"
    return f"{_fmt_edge(lower, unit)} to <{_fmt_edge(upper, unit)}"


def _merge_small(counts: list[int], k: int) -> list[tuple[int, int, int]]:
    """Merge adjacent cells until each holds ≥ k rows (or one cell is left)."""
    cells = [(i, i, c) for i, c in enumerate(counts)]
    while len(cells) > 1:
        small = [(c, i) for i, (_, _, c) in enumerate(cells) if c < k]
        if not small:
            break
        _, i = min(small)
        if i == 0:
            j = 1
        elif i == len(cells) - 1:
            j = i - 1
        else:
            j = i - 1 if cells[i - 1][2] <= cells[i + 1][2] else i + 1
        a, b = sorted((i, j))
        cells[a] = (cells[a][0], cells[b][1], cells[a][2] + cells[b][2])
        del cells[b]
    return cells


def _numeric(col: ColumnSchema, real: pd.Series[Any], k: int, max_bins: int) -> Binning:
    unit = _unit_for(col, real)
    x_all = _to_float(real, unit)
    present = ~np.isnan(x_all)
    x = x_all[present]
    n_missing = int((~present).sum())
    if len(x) == 0:
        edges: list[float] = []
        cells: list[tuple[int, int, int]] = [(0, 0, 0)]
    else:
        edges = _edges(x, unit, max_bins)
        fine = np.searchsorted(np.asarray(edges), x, side="right")
        counts = np.bincount(fine, minlength=len(edges) + 1).tolist()
        cells = _merge_small([int(c) for c in counts], k)
    fine_to_cell = [0] * (len(edges) + 1)
    labels: list[str] = []
    real_counts: list[int] = []
    for ci, (a, b, c) in enumerate(cells):
        for f in range(a, b + 1):
            fine_to_cell[f] = ci
        lower = edges[a - 1] if a > 0 and edges else None
        upper = edges[b] if b < len(edges) else None
        labels.append(_label(lower, upper, unit) if edges else "all values")
        real_counts.append(c)
    missing_cell = _place_missing(labels, real_counts, n_missing, k)
    return Binning(
        column=col.name,
        kind="numeric",
        labels=tuple(labels),
        real_counts=tuple(real_counts),
        unit=unit,
        edges=tuple(edges),
        fine_to_cell=tuple(fine_to_cell),
        missing_cell=missing_cell,
    )


def _place_missing(labels: list[str], counts: list[int], n_missing: int, k: int) -> int | None:
    """Own cell when there are ≥ k missing values, else merged into the smallest cell."""
    if n_missing == 0:
        return None
    if n_missing >= k or not labels or (len(labels) == 1 and counts[0] == 0):
        labels.append(_MISSING)
        counts.append(n_missing)
        return len(labels) - 1
    i = int(np.argmin(counts))
    labels[i] = f"{labels[i]} or missing"
    counts[i] += n_missing
    return i


# --------------------------------------------------------------------------- categories


def _categorical(col: ColumnSchema, real: pd.Series[Any], k: int, max_categories: int) -> Binning:
    present = real.dropna()
    n_missing = len(real) - len(present)
    counts = present.map(value_key).value_counts()
    shown = [(str(v), int(c)) for v, c in counts.items() if c >= k][:max_categories]
    rest = int(len(present) - sum(c for _, c in shown))
    labels = [v for v, _ in shown]
    real_counts = [c for _, c in shown]
    categories = {v: i for i, v in enumerate(labels)}
    other_cell: int | None = None
    if rest >= k or (rest > 0 and not labels):
        labels.append(_OTHER)
        real_counts.append(rest)
        other_cell = len(labels) - 1
    elif rest > 0:
        i = int(np.argmin(real_counts))
        labels[i] = f"{labels[i]} or other values"
        real_counts[i] += rest
        other_cell = i
    missing_cell = _place_missing(labels, real_counts, n_missing, k)
    if len(labels) == 1 or sum(real_counts) < k:
        labels = ["all values"]
        real_counts = [len(real)]
        categories = {}
        other_cell = 0
        missing_cell = 0
    return Binning(
        column=col.name,
        kind="categorical",
        labels=tuple(labels),
        real_counts=tuple(real_counts),
        categories=categories,
        other_cell=other_cell,
        missing_cell=missing_cell,
    )


# --------------------------------------------------------------------------- public


def build_binning(
    col: ColumnSchema,
    real: pd.Series[Any],
    *,
    k: int,
    max_bins: int = 10,
    max_categories: int = 20,
) -> Binning | None:
    """The partition of *col* from its real values; ``None`` if the table has < k rows."""
    if len(real) < k:
        return None
    if col.type.is_numeric or col.type.is_temporal:
        return _numeric(col, real, k, max_bins)
    return _categorical(col, real, k, max_categories)


def distribution(binning: Binning, synthetic: pd.Series[Any]) -> dict[str, Any]:
    """Real and synthetic shares per cell, ready for a report (no counts below k)."""
    labels = list(binning.labels)
    n = len(labels)
    real_total = max(sum(binning.real_counts), 1)
    real = [c / real_total for c in binning.real_counts]
    counts = np.bincount(binning.assign(synthetic), minlength=n + 2)
    syn = [int(c) for c in counts[:n]]
    for extra, label in ((n, _OTHER), (n + 1, _MISSING)):
        if counts[extra] > 0:  # synthetic values outside every real cell
            labels.append(label if label not in labels else f"{label} (synthetic only)")
            real.append(0.0)
            syn.append(int(counts[extra]))
    syn_total = max(sum(syn), 1)
    return {
        "column": binning.column,
        "kind": binning.kind,
        "labels": labels,
        "real": [round(v, 4) for v in real],
        "synthetic": [round(c / syn_total, 4) for c in syn],
    }
