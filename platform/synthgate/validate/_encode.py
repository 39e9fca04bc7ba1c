"""Numeric encodings of mixed-type rows, and nearest-neighbour search over them.

Distances follow the Gower idea: a numeric column contributes its difference
divided by the column's robust range (1st–99th percentile of the reference
rows), a categorical column contributes 1 when the categories differ. One-hot
blocks are scaled by 1/√2 so that a mismatch adds exactly 1 to the squared
Euclidean distance. Encoders are fitted on real training rows in memory; the
ranges and category lists they hold never leave the process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import TableSchema

__all__ = ["TableEncoder", "nearest"]

Matrix = np.ndarray[Any, np.dtype[np.float64]]
_HALF = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class _NumericBlock:
    column: str
    offset: float
    scale: float
    fill: float
    has_missing: bool


@dataclass(frozen=True, slots=True)
class _CategoryBlock:
    column: str
    categories: tuple[str, ...]


def _as_float(series: pd.Series[Any]) -> Matrix:
    if pd.api.types.is_datetime64_any_dtype(series):
        ns = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        ns[series.isna().to_numpy()] = np.nan
        return ns / 86_400e9
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _as_keys(series: pd.Series[Any]) -> pd.Series[Any]:
    """Category keys: ``str`` of each value, one key for every kind of missing value."""
    keys = series.astype(object).astype(str)
    return keys.where(series.notna(), "\x00missing")


class TableEncoder:
    """Encodes rows of a schema's columns as float vectors (see module docstring)."""

    def __init__(
        self, schema: TableSchema, reference: pd.DataFrame, *, max_categories: int = 50
    ) -> None:
        self._blocks: list[_NumericBlock | _CategoryBlock] = []
        for col in schema.columns:
            s = reference[col.name]
            if col.type.is_numeric or col.type.is_temporal:
                x = _as_float(s)
                present = x[~np.isnan(x)]
                if len(present):
                    lo, hi = np.quantile(present, [0.01, 0.99])
                    med = float(np.median(present))
                else:
                    lo, hi, med = 0.0, 1.0, 0.0
                scale = float(hi - lo) if hi > lo else 1.0
                self._blocks.append(
                    _NumericBlock(col.name, float(lo), scale, med, bool(np.isnan(x).any()))
                )
            else:
                counts = _as_keys(s).value_counts()
                cats = tuple(str(c) for c in counts.index[:max_categories])
                self._blocks.append(_CategoryBlock(col.name, cats))

    @property
    def columns(self) -> list[str]:
        return [b.column for b in self._blocks]

    def index(self, columns: Sequence[str]) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Positions, in an encoded matrix, of the features of *columns*."""
        keep = set(columns)
        out: list[int] = []
        at = 0
        for block in self._blocks:
            if isinstance(block, _NumericBlock):
                width = 2 if block.has_missing else 1
            else:
                width = len(block.categories) + 1
            if block.column in keep:
                out.extend(range(at, at + width))
            at += width
        return np.asarray(out, dtype=np.int64)

    def transform(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> Matrix:
        """The encoded matrix of *frame* (restricted to *columns* when given)."""
        keep = set(columns) if columns is not None else None
        parts: list[Matrix] = []
        for block in self._blocks:
            if keep is not None and block.column not in keep:
                continue
            s = frame[block.column]
            if isinstance(block, _NumericBlock):
                x = _as_float(s)
                missing = np.isnan(x)
                x = np.where(missing, block.fill, x)
                parts.append(((x - block.offset) / block.scale)[:, None])
                if block.has_missing:
                    parts.append(missing.astype(float)[:, None])
            else:
                width = len(block.categories) + 1  # the last column: any other category
                raw = pd.Categorical(_as_keys(s), categories=block.categories).codes
                codes = np.where(raw < 0, width - 1, raw)
                onehot = np.zeros((len(s), width))
                onehot[np.arange(len(s)), codes] = _HALF
                parts.append(onehot)
        if not parts:
            return np.zeros((len(frame), 0))
        return np.hstack(parts)


def nearest(
    queries: Matrix, reference: Matrix, *, k: int = 1, budget: int = 4_000_000
) -> tuple[Matrix, np.ndarray[Any, np.dtype[np.int64]]]:
    """Euclidean distances to, and indices of, the *k* nearest reference rows.

    Brute force in chunks of about *budget* pairs: candidates are found with
    float32 matrix products (BLAS), then their distances are recomputed exactly
    in float64, so identical rows are at distance 0.
    """
    n, m = len(queries), len(reference)
    k = min(k, m)
    idx: np.ndarray[Any, np.dtype[np.int64]] = np.zeros((n, k), dtype=np.int64)
    if n == 0 or m == 0 or k == 0:
        return np.zeros((n, k)), idx
    q32 = np.ascontiguousarray(queries, dtype=np.float32)
    r32 = np.ascontiguousarray(reference, dtype=np.float32)
    ref_sq = np.einsum("ij,ij->i", r32, r32)
    chunk = max(1, budget // m)
    for start in range(0, n, chunk):
        q = q32[start : start + chunk]
        d2 = q @ r32.T  # |q|² is the same along a row: it does not change the order
        d2 *= -2.0
        d2 += ref_sq
        rows = np.arange(len(q))
        for j in range(k):
            best = d2.argmin(axis=1)
            idx[start : start + len(q), j] = best
            if j + 1 < k:
                d2[rows, best] = np.inf
    dist: Matrix = np.empty((n, k))
    step = max(1, budget // max(k * queries.shape[1], 1))
    for start in range(0, n, step):
        diff = queries[start : start + step, None, :] - reference[idx[start : start + step]]
        dist[start : start + step] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    if k > 1:
        order = np.argsort(dist, axis=1, kind="stable")
        dist = np.take_along_axis(dist, order, axis=1)
        idx = np.take_along_axis(idx, order, axis=1)
    return dist, idx
