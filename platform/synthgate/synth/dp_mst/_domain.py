"""Each column as a small discrete domain, found under differential privacy.

A column becomes *cells*: its categories (declared, or discovered by DP
partition selection), or numeric bins inside its bounds (declared, or DP
bounds on a fixed logarithmic grid), plus one cell for nulls when the column
may hold them. One noisy 1-way histogram per column (a Gaussian mechanism,
sensitivity 1) gives the column's shape; pairs are measured on *coarse* cells
(neighbouring bins merged into groups of roughly equal noisy mass) and decoded
back to fine bins through the 1-way histogram, so every value stays inside the
released domain:

- a small integer range (≤ ``INTEGER_CELLS`` values) gets one cell per value,
  so integers come back exact and never leave their observed range;
- zero gets a cell of its own, so a point mass at zero survives;
- heavy-tailed columns (the DP median of the bounds histogram a decade or more below the
  upper bound) get log-spaced bins;
- cells whose noisy count is below the noise floor are emptied, so tails that
  were only noise are never sampled.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from synthgate.contracts import ColumnSchema, LogicalType
from synthgate.errors import SynthesisError
from synthgate.privacy import GaussianMechanism
from synthgate.synth._dp_histograms import (
    BOUNDS_PASSES,
    dp_bounds,
    norm_sub,
    trim_tails,
)
from synthgate.synth.dp_ctgan._transform import (
    TransformBudget,
    _fit_categorical,
    _to_number,
)

__all__ = ["CellKind", "ColumnDomain", "fit_domain", "noise_floor"]

POOL = 8  # value cells made non-negative together (see _pooled_norm_sub)
INTEGER_CELLS = 256  # integer ranges up to this size get one cell per value
FINE_BINS = 64
COARSE_CELLS = 16
FALSE_CELL = 0.01  # chance that an empty cell survives the noise floor, per column
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")
_US_PER_DAY = 86_400_000_000


class CellKind(enum.StrEnum):
    CATEGORY = "category"
    NUMBER = "number"
    EMPTY = "empty"  # nothing survived DP discovery: released as nulls


def noise_floor(sigma: float, cells: int) -> float:
    """Noisy counts below this are noise: an empty cell passes with chance FALSE_CELL."""
    return sigma * float(ndtri(1.0 - FALSE_CELL / max(cells, 1)))


def trim_noise(
    dom: ColumnDomain, noisy: np.ndarray[Any, Any], floor: float
) -> np.ndarray[Any, Any]:
    """Post-process a noisy 1-way histogram: the null and 'other' cells are emptied
    when below *floor* (noise there would put nulls or stray values into a column
    that has none); numeric tails are trimmed by :func:`trim_tails`; then
    :func:`norm_sub` makes the counts non-negative."""
    out: np.ndarray[Any, Any] = noisy.astype(np.float64).copy()
    special = [
        c for c in (dom.null_cell, len(dom.categories) if dom.has_other else None) if c is not None
    ]
    for cell in special:
        if out[cell] < floor:
            out[cell] = 0.0
    if dom.kind is CellKind.NUMBER:
        values = out[: dom.value_cells]
        kept = trim_tails(values, floor)
        # the trimmed mass was real rows with values: it stays with the values, not the
        # nulls. Noisy sums, not clipped ones: clipping adds the positive half of every
        # empty cell's noise, which took mass from the null cell (a mostly-empty column
        # at ε = 1.7 came out 75% missing where the real one is 81%)
        before, after = float(values.sum()), float(kept.sum())
        out[: dom.value_cells] = kept * (before / after) if after > 0 and before > 0 else kept
        return _pooled_norm_sub(out, dom.value_cells)
    return norm_sub(out)


def _pooled_norm_sub(noisy: np.ndarray[Any, Any], value_cells: int) -> np.ndarray[Any, Any]:
    """:func:`norm_sub` on blocks of POOL neighbouring value cells (and the null cell
    alone), then each block's mass spread over its cells by their clipped noisy counts.

    Cell by cell, every empty value cell whose noise came out positive keeps some
    mass, so values appear where the table has none (ages of 95 in a table that
    stops at 90); a block's noise grows only as √POOL while the constant norm_sub
    subtracts is paid once per block, so empty stretches stay empty and thin real
    stretches keep their mass. Post-processing."""
    values, rest = noisy[:value_cells], noisy[value_cells:]
    starts = np.arange(0, value_cells, POOL)
    blocks = np.add.reduceat(values, starts) if value_cells else values
    projected = norm_sub(np.concatenate([blocks, rest]))
    out = np.zeros_like(noisy, dtype=np.float64)
    for b, first in enumerate(starts.tolist()):
        start, stop = int(first), min(int(first) + POOL, value_cells)
        weights = np.maximum(values[start:stop], 0.0)
        if weights.sum() <= 0:
            weights = np.ones(stop - start)
        out[start:stop] = projected[b] * weights / weights.sum()
    out[value_cells:] = projected[len(starts) :]
    return out


@dataclass(slots=True)
class ColumnDomain:
    """The released, public-after-DP description of one column."""

    name: str
    kind: CellKind
    type: LogicalType
    nullable: bool
    categories: list[Any] = field(default_factory=list)
    has_other: bool = False
    # numbers: fine bins [edges[i], edges[i+1]); a bin with equal edges is a point
    edges: list[float] = field(default_factory=list)
    integer: bool = False
    log_scale: bool = False
    # filled by the 1-way measurement: noisy fine counts and the coarse grouping
    fine_counts: list[float] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)  # fine cell → coarse cell

    # ------------------------------------------------------------------ layout

    @property
    def value_cells(self) -> int:
        if self.kind is CellKind.CATEGORY:
            return len(self.categories) + int(self.has_other)
        if self.kind is CellKind.NUMBER:
            return len(self.edges) - 1
        return 0

    @property
    def fine_cells(self) -> int:
        return self.value_cells + int(self.nullable or self.kind is CellKind.EMPTY)

    @property
    def null_cell(self) -> int | None:
        return self.value_cells if (self.nullable or self.kind is CellKind.EMPTY) else None

    @property
    def coarse_cells(self) -> int:
        return max(self.groups) + 1 if self.groups else self.fine_cells

    # ------------------------------------------------------------------ encode

    def encode_fine(self, series: pd.Series[Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Fine cell of every value (nulls to the null cell, rare values to 'other')."""
        n = len(series)
        null = self.null_cell
        if self.kind is CellKind.EMPTY:
            return np.zeros(n, dtype=np.int64)
        if self.kind is CellKind.CATEGORY:
            codes = _category_codes(series, self)
        else:
            x = _to_number(series, self.type)
            missing = np.isnan(x)
            codes = self._bin(np.nan_to_num(x))
            codes[missing] = -2
        if null is not None:
            codes[codes == -2] = null
        else:  # a null in a column declared NOT NULL: the most common value cell
            codes[codes == -2] = 0
        return codes

    def _bin(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
        edges = np.asarray(self.edges)
        x = np.clip(x, edges[0], edges[-1])
        idx = np.searchsorted(edges, x, side="right") - 1
        idx = np.clip(idx, 0, len(edges) - 2)
        # point bins (equal edges) take exactly their value
        points = np.flatnonzero(edges[:-1] == edges[1:])
        for p in points:
            idx[x == edges[p]] = p
        return idx.astype(np.int64)

    def encode_coarse(self, fine: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.asarray(self.groups, dtype=np.int64)[fine] if self.groups else fine

    # ------------------------------------------------------------------ decode

    def fine_given_coarse(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Row-stochastic matrix: P(fine cell | coarse cell), from the noisy 1-way counts."""
        groups = np.asarray(self.groups or list(range(self.fine_cells)), dtype=np.int64)
        counts = np.maximum(np.asarray(self.fine_counts, dtype=np.float64), 0.0)
        matrix = np.zeros((self.coarse_cells, self.fine_cells))
        matrix[groups, np.arange(self.fine_cells)] = counts
        for g in np.flatnonzero(matrix.sum(axis=1) <= 0):
            matrix[g, groups == g] = 1.0  # nothing measured there: uniform over the group
        out: np.ndarray[Any, np.dtype[np.float64]] = matrix / matrix.sum(axis=1, keepdims=True)
        return out

    def decode(self, fine: np.ndarray[Any, Any], rng: np.random.Generator) -> pd.Series[Any]:
        """Fine cells → values of the column's logical type."""
        null = self.null_cell
        is_null = fine == null if null is not None else np.zeros(len(fine), dtype=bool)
        if self.kind is CellKind.EMPTY:
            return pd.Series([None] * len(fine), dtype=object)
        if self.kind is CellKind.CATEGORY:
            return self._decode_category(fine, is_null, rng)
        return self._decode_number(fine, is_null, rng)

    def _decode_category(
        self, fine: np.ndarray[Any, Any], is_null: np.ndarray[Any, Any], rng: np.random.Generator
    ) -> pd.Series[Any]:
        k = len(self.categories)
        codes = fine.copy()
        other = (codes == k) & ~is_null if self.has_other else np.zeros(len(codes), dtype=bool)
        if other.any():
            # rare values are never released: 'other' draws a released category
            weights = np.maximum(np.asarray(self.fine_counts[:k], dtype=np.float64), 0.0) + 1e-9
            codes[other] = rng.choice(k, size=int(other.sum()), p=weights / weights.sum())
        values = np.empty(len(codes), dtype=object)
        if k:
            cats = np.empty(k, dtype=object)
            cats[:] = self.categories
            ok = ~is_null
            values[ok] = cats[np.clip(codes[ok], 0, k - 1)]
        values[is_null] = None
        if not k:
            values[:] = None
        return pd.Series(values, dtype=object)

    def _decode_number(
        self, fine: np.ndarray[Any, Any], is_null: np.ndarray[Any, Any], rng: np.random.Generator
    ) -> pd.Series[Any]:
        edges = np.asarray(self.edges, dtype=np.float64)
        bins = np.clip(fine, 0, len(edges) - 2)
        lo, hi = edges[bins], edges[bins + 1]
        u = rng.random(len(fine))
        if self.log_scale:
            x = np.expm1(np.log1p(lo) + u * (np.log1p(hi) - np.log1p(lo)))
        else:
            x = lo + u * (hi - lo)
        if self.integer:
            # bins are [lo, hi); the last one is closed; a point bin is its value
            last = bins == len(edges) - 2
            top = np.where(last | (hi == lo), np.floor(hi), np.ceil(hi) - 1.0)
            x = np.clip(np.floor(x), np.ceil(lo), np.maximum(top, np.ceil(lo)))
        x[is_null] = np.nan
        if self.type.is_temporal:
            us = np.where(np.isnan(x), 0, np.round(x * _US_PER_DAY)).astype("int64")
            ts = pd.Series(_EPOCH + us.astype("timedelta64[us]"))
            ts[np.isnan(x)] = pd.NaT
            return ts
        return pd.Series(x)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["type"] = self.type.value
        data["categories"] = [c.item() if isinstance(c, np.generic) else c for c in self.categories]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnDomain:
        dom = cls(**{**data, "kind": CellKind(data["kind"]), "type": LogicalType(data["type"])})
        if dom.type is LogicalType.BOOLEAN:
            dom.categories = [bool(c) for c in dom.categories]
        return dom


def _category_codes(series: pd.Series[Any], dom: ColumnDomain) -> np.ndarray[Any, Any]:
    """Index in the released categories; k for 'other', -2 for missing."""
    k = len(dom.categories)
    lookup: dict[Any, int] = {c: i for i, c in enumerate(dom.categories)}
    present = series.notna().to_numpy()
    raw = series.to_numpy(dtype=object)
    cast: Any = bool if dom.type is LogicalType.BOOLEAN else str
    keys = [cast(v) if p else None for v, p in zip(raw, present, strict=True)]
    fallback = k if dom.has_other else 0
    codes = np.array([lookup.get(v, fallback) for v in keys], dtype=np.int64)
    codes[~present] = -2
    return codes


# ---------------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class DomainBudget:
    """Noise of the discovery mechanisms (noise multipliers, sensitivity 1)."""

    selection_sigma: float
    bounds_sigma: float
    selection_delta: float
    max_categories: int = 200


def discovery_mechanisms(col: ColumnSchema, budget: DomainBudget) -> list[GaussianMechanism]:
    """What :func:`fit_domain` will run on *col* (declared facts cost nothing)."""
    if col.type is LogicalType.BOOLEAN:
        return []
    if col.type in {LogicalType.CATEGORICAL, LogicalType.TEXT}:
        if col.domain is not None:
            return []
        return [
            GaussianMechanism(
                "preprocess",
                f"partition-selection:{col.name}",
                budget.selection_sigma,
                extra_delta=budget.selection_delta,
            )
        ]
    if col.bounds is not None:
        return []
    return [
        GaussianMechanism("preprocess", f"{kind}:{col.name}", budget.bounds_sigma)
        for kind in BOUNDS_PASSES
    ]


def fit_domain(
    series: pd.Series[Any], col: ColumnSchema, budget: DomainBudget, rng: np.random.Generator
) -> tuple[ColumnDomain, list[GaussianMechanism]]:
    """Discover the column's cells under DP (or from declared facts)."""
    if col.type is LogicalType.BOOLEAN:
        return ColumnDomain(col.name, CellKind.CATEGORY, col.type, col.nullable, [False, True]), []
    if col.type in {LogicalType.CATEGORICAL, LogicalType.TEXT}:
        return _categorical_domain(series, col, budget, rng)
    return _numeric_domain(series, col, budget, rng)


def _categorical_domain(
    series: pd.Series[Any], col: ColumnSchema, budget: DomainBudget, rng: np.random.Generator
) -> tuple[ColumnDomain, list[GaussianMechanism]]:
    if col.domain is not None:
        cats = [str(c) for c in col.domain]
        return ColumnDomain(col.name, CellKind.CATEGORY, col.type, col.nullable, cats), []
    tb = TransformBudget(
        histogram_sigma=budget.selection_sigma,
        bounds_sigma=budget.bounds_sigma,
        quantile_sigma=budget.selection_sigma,
        selection_delta=budget.selection_delta,
        max_categories=budget.max_categories,
    )
    mechs = discovery_mechanisms(col, budget)
    try:
        info, _ = _fit_categorical(series, col, tb, rng)
    except SynthesisError:  # no value rose above the DP threshold
        return ColumnDomain(col.name, CellKind.EMPTY, col.type, True), mechs
    dom = ColumnDomain(
        col.name, CellKind.CATEGORY, col.type, col.nullable, list(info.categories), has_other=True
    )
    return dom, mechs


def _numeric_domain(
    series: pd.Series[Any], col: ColumnSchema, budget: DomainBudget, rng: np.random.Generator
) -> tuple[ColumnDomain, list[GaussianMechanism]]:
    integer = col.type in {LogicalType.INTEGER, LogicalType.DATE}
    mechs = discovery_mechanisms(col, budget)
    heavy = False
    if col.bounds is not None:
        lo, hi = float(col.bounds[0]), float(col.bounds[1])
    else:
        x = _to_number(series, col.type)
        x = x[~np.isnan(x)]
        found = dp_bounds(x, budget.bounds_sigma, rng)
        if found is None:
            return ColumnDomain(col.name, CellKind.EMPTY, col.type, True), mechs
        lo, hi, heavy = found
    if integer:  # the integers inside the released range
        lo, hi = math.ceil(lo), math.floor(hi)
    if not hi > lo:
        hi = lo + 1.0
    log_scale = heavy and lo >= 0 and not col.type.is_temporal
    log_scale = log_scale and not integer_cells(lo, hi, integer)
    dom = ColumnDomain(
        col.name,
        CellKind.NUMBER,
        col.type,
        col.nullable,
        edges=_edges(lo, hi, integer=integer, log_scale=log_scale),
        integer=integer,
        log_scale=log_scale,
    )
    return dom, mechs


def integer_cells(lo: float, hi: float, integer: bool) -> bool:
    return integer and (hi - lo + 1) <= INTEGER_CELLS


def _edges(lo: float, hi: float, *, integer: bool, log_scale: bool) -> list[float]:
    if integer_cells(lo, hi, integer):
        return [float(v) for v in np.arange(lo - 0.5, hi + 1.0, 1.0)]
    if log_scale:
        inner = np.expm1(np.linspace(np.log1p(lo), np.log1p(hi), FINE_BINS + 1))
    else:
        inner = np.linspace(lo, hi, FINE_BINS + 1)
    if not lo <= 0.0 <= hi:
        return [float(e) for e in inner]
    # zero as a cell of its own, [0, 0]: a point mass at zero survives
    left = [float(e) for e in inner if e < 0.0]
    right = [float(e) for e in inner if e > 0.0]
    return [*left, 0.0, 0.0, *right]


def group_cells(dom: ColumnDomain, counts: Sequence[float]) -> list[int]:
    """Merge neighbouring numeric bins into at most about COARSE_CELLS groups of
    roughly equal noisy mass; points (zero) and the null cell keep groups of their own."""
    n = dom.fine_cells
    if dom.kind is not CellKind.NUMBER or dom.value_cells <= COARSE_CELLS:
        return list(range(n))
    edges = np.asarray(dom.edges)
    points = edges[:-1] == edges[1:]
    mass = np.maximum(np.asarray(counts[: dom.value_cells], dtype=np.float64), 0.0)
    if mass.sum() <= 0:
        mass = np.ones(dom.value_cells)
    share = mass.sum() / COARSE_CELLS
    groups: list[int] = []
    g, acc = -1, 0.0
    for i in range(dom.value_cells):
        if g < 0 or points[i] or (i > 0 and points[i - 1]) or acc >= share:
            g, acc = g + 1, 0.0
        groups.append(g)
        acc += float(mass[i])
    if dom.null_cell is not None:
        groups.append(g + 1)
    return groups
