"""The parent attributes a child table is modelled and sampled with.

A few of the parent's modelled columns, coarsened, combined into one
categorical code per parent row. The scheme (which columns, which categories,
which bin edges) is read from the *synthetic* parent table, an output of DP,
so it costs no budget; the real parent rows are coded with the same scheme to
train the child, the synthetic ones to sample it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_DECLARED", "ContextScheme", "context_scheme"]

ATTRIBUTES = 1  # parent columns in the context, unless the caller names them
MAX_DECLARED = 3  # parent columns a caller may name (each multiplies the context's cells)
CATEGORIES = 6  # the most frequent synthetic categories kept; the rest share one code
BINS = 3  # quantile bins of a numeric column (plus one for nulls)
OTHER = "\x00other"


@dataclass(frozen=True, slots=True)
class _Part:
    column: str
    categories: tuple[Any, ...] | None  # categorical: the kept values
    edges: tuple[float, ...] | None  # numeric: inner bin edges

    @property
    def cells(self) -> int:
        if self.categories is not None:
            return len(self.categories) + 1
        return len(self.edges or ()) + 2

    def code(self, series: pd.Series[Any]) -> np.ndarray[Any, Any]:
        if self.categories is not None:
            lookup = {v: i for i, v in enumerate(self.categories)}
            other = len(self.categories)
            return np.array([lookup.get(v, other) for v in series.tolist()], dtype=np.int64)
        x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        codes = np.searchsorted(np.asarray(self.edges), x, side="right").astype(np.int64)
        codes[np.isnan(x)] = self.cells - 1
        return codes


@dataclass(frozen=True, slots=True)
class ContextScheme:
    parts: tuple[_Part, ...]

    @property
    def cells(self) -> int:
        return int(np.prod([p.cells for p in self.parts])) if self.parts else 0

    @property
    def columns(self) -> list[str]:
        return [p.column for p in self.parts]

    def domain(self) -> tuple[str, ...]:
        return tuple(str(i) for i in range(self.cells))

    def code(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The context code (as text) of every row of a parent frame."""
        out = np.zeros(len(frame), dtype=np.int64)
        for part in self.parts:
            out = out * part.cells + part.code(frame[part.column])
        return out.astype(str).astype(object)


def _part(series: pd.Series[Any]) -> _Part | None:
    values = series.dropna()
    if values.empty:
        return None
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        top = values.astype(object).value_counts().index[:CATEGORIES]
        return _Part(str(series.name), tuple(top), None) if len(top) > 1 else None
    x = values.to_numpy(dtype=np.float64)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1)[1:-1]))
    return _Part(str(series.name), None, tuple(float(e) for e in edges)) if len(edges) else None


def context_scheme(
    synthetic: pd.DataFrame, candidates: list[str], declared: Sequence[str] = ()
) -> ContextScheme:
    """The *declared* parent columns, in their order; else up to ATTRIBUTES of the
    candidates, categorical ones first (fewest categories), then numeric."""
    if declared:
        chosen = [p for c in declared if (p := _part(synthetic[c])) is not None]
        return ContextScheme(tuple(chosen))
    parts = [p for c in candidates if (p := _part(synthetic[c])) is not None]
    parts.sort(key=lambda p: (p.categories is None, p.cells))
    return ContextScheme(tuple(parts[:ATTRIBUTES]))
