"""Preprocessing under differential privacy or from public metadata.

Nothing here fits on raw values without noise: category domains are declared
(schema, spec) or discovered by DP partition selection; numeric bounds are
declared or come from DP bounds (a fixed logarithmic grid, then two zoom
passes: ``synth/_dp_histograms``); the quantile transform is a noisy histogram
inside those bounds whose last cell counts the nulls (a column whose noisy null
count is below the noise floor is released without nulls; categorical columns
count their nulls the same way); conditional-vector frequencies are noisy counts. Each of these is a
Gaussian mechanism with L2 sensitivity 1 (one row adds one count to one bin of
the column's histogram) and is returned to the caller for accounting.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import SynthesisError
from synthgate.privacy import GaussianMechanism
from synthgate.synth._dp_histograms import (
    BOUND_FALSE_BIN,
    BOUNDS_PASSES,
    dp_bounds,
    norm_sub,
    null_floor,
    trim_tails,
)

__all__ = ["ColumnKind", "DPTransformer", "PreprocessingFailed", "Span", "TransformBudget"]

_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")
_US_PER_DAY = 86_400_000_000
FINE_BINS = 64
Z_CLIP = 5.0
_PSEUDO = 0.5  # public pseudo-count per bin: a flat prior, not data


class PreprocessingFailed(SynthesisError):
    """Preprocessing stopped at a column after that column's noise was drawn.

    ``ran`` lists every mechanism that ran on real rows before it stopped, the
    failing column's included, so the caller can charge exactly that.
    """

    def __init__(self, message: str, *, hint: str, ran: Sequence[GaussianMechanism]) -> None:
        self.ran = list(ran)
        super().__init__(message, hint=hint)


class ColumnKind(enum.StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class TransformBudget:
    """Noise multipliers of the preprocessing mechanisms."""

    histogram_sigma: float
    bounds_sigma: float
    quantile_sigma: float
    selection_delta: float  # per discovered column
    max_categories: int = 200


@dataclass(slots=True)
class ColumnInfo:
    name: str
    kind: ColumnKind
    type: LogicalType
    nullable: bool
    # categorical
    categories: list[Any] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)  # noisy counts, ≥ 0
    has_other: bool = False
    declared: bool = False
    # numeric
    edges: list[float] = field(default_factory=list)
    cdf: list[float] = field(default_factory=list)
    integer: bool = False
    bounds_declared: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["type"] = self.type.value
        data["categories"] = [_jsonable(c) for c in self.categories]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnInfo:
        info = cls(**{**data, "kind": ColumnKind(data["kind"]), "type": LogicalType(data["type"])})
        if info.type is LogicalType.BOOLEAN:
            info.categories = [bool(c) for c in info.categories]
        return info


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True, slots=True)
class Span:
    """A slice of the encoded row: one numeric value or one softmax group."""

    column: str
    start: int
    width: int
    activation: str  # "linear" | "softmax"
    role: str  # "value" | "null" | "category"


def _to_number(series: pd.Series[Any], ltype: LogicalType) -> np.ndarray[Any, np.dtype[np.float64]]:
    if ltype.is_temporal:
        ts = pd.to_datetime(series, errors="coerce")
        us = ts.to_numpy(dtype="datetime64[us]")
        days = (us - _EPOCH).astype("timedelta64[us]").astype(np.float64) / _US_PER_DAY
        days[pd.isna(ts).to_numpy()] = np.nan
        return days
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


class DPTransformer:
    """Encodes rows for the GAN and decodes generator output back to a table."""

    def __init__(self, columns: list[ColumnInfo]) -> None:
        self.columns = columns
        self.spans: list[Span] = []
        self.cond_spans: list[tuple[str, int, int]] = []  # column, cond offset, K
        self._layout()

    # ------------------------------------------------------------------ layout

    def _layout(self) -> None:
        pos = 0
        cond = 0
        for col in self.columns:
            if col.kind is ColumnKind.NUMERIC:
                self.spans.append(Span(col.name, pos, 1, "linear", "value"))
                pos += 1
                if col.nullable:
                    self.spans.append(Span(col.name, pos, 2, "softmax", "null"))
                    pos += 2
            else:
                width = len(col.categories) + int(col.has_other) + int(col.nullable)
                self.spans.append(Span(col.name, pos, width, "softmax", "category"))
                self.cond_spans.append((col.name, cond, len(col.categories)))
                pos += width
                cond += len(col.categories)
        self.width = pos
        self.cond_width = cond

    def column(self, name: str) -> ColumnInfo:
        return next(c for c in self.columns if c.name == name)

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        schema: TableSchema,
        *,
        budget: TransformBudget,
        rng: np.random.Generator,
    ) -> tuple[DPTransformer, list[GaussianMechanism]]:
        """Fit under DP. Returns the transformer and the mechanisms it ran."""
        columns: list[ColumnInfo] = []
        mechanisms: list[GaussianMechanism] = []
        for col in schema.columns:
            try:
                if col.type in {LogicalType.CATEGORICAL, LogicalType.TEXT, LogicalType.BOOLEAN}:
                    info, mechs = _fit_categorical(frame[col.name], col, budget, rng)
                elif col.type.is_numeric or col.type.is_temporal:
                    info, mechs = _fit_numeric(frame[col.name], col, budget, rng)
                else:
                    raise PreprocessingFailed(
                        f"column {col.name!r} of type {col.type.value} cannot be modelled by "
                        "dp-ctgan",
                        hint=f"declare a type under synthesis.columns.{col.name}.type",
                        ran=(),
                    )
            except PreprocessingFailed as exc:
                raise PreprocessingFailed(
                    exc.message, hint=exc.hint or "", ran=[*mechanisms, *exc.ran]
                ) from None
            columns.append(info)
            mechanisms.extend(mechs)
        return cls(columns), mechanisms

    # ------------------------------------------------------------------ encode / decode

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Rows → (encoded matrix, per-column category index or -1 for other/null)."""
        n = len(frame)
        out = np.zeros((n, self.width), dtype=np.float32)
        cats = np.full((n, len(self.cond_spans)), -1, dtype=np.int64)
        k = 0
        for span in self.spans:
            col = self.column(span.column)
            if span.role == "value":
                x = _to_number(frame[col.name], col.type)
                missing = np.isnan(x)
                z = ndtri(np.clip(np.interp(np.nan_to_num(x), col.edges, col.cdf), 1e-4, 1 - 1e-4))
                out[:, span.start] = np.where(missing, 0.0, z)
            elif span.role == "null":
                missing = frame[col.name].isna().to_numpy()
                out[np.arange(n), span.start + missing.astype(np.int64)] = 1.0
            else:
                idx = _category_index(frame[col.name], col)
                slot = np.where(idx >= 0, idx, 0)
                if col.has_other:
                    slot = np.where(idx == -1, len(col.categories), slot)
                if col.nullable:
                    slot = np.where(idx == -2, span.width - 1, slot)
                elif not col.has_other:
                    slot = np.where(idx < 0, int(np.argmax(col.counts)), slot)
                out[np.arange(n), span.start + slot] = 1.0
                cats[:, k] = np.where(idx >= 0, idx, -1)
                k += 1
        return out, cats

    def decode(self, data: np.ndarray[Any, Any]) -> pd.DataFrame:
        """Generator output (activated) → table with the schema's logical types."""
        result: dict[str, Any] = {}
        nulls: dict[str, np.ndarray[Any, Any]] = {}
        for span in self.spans:
            col = self.column(span.column)
            block = data[:, span.start : span.start + span.width]
            if span.role == "value":
                u = ndtr(np.clip(block[:, 0], -Z_CLIP, Z_CLIP))
                x = np.interp(u, col.cdf, col.edges)
                if col.integer:
                    x = np.round(x)
                result[col.name] = x
            elif span.role == "null":
                nulls[col.name] = block.argmax(axis=1) == 1
            else:
                k = len(col.categories)
                choice = block[:, :k].argmax(axis=1)  # never emit "other"
                values = np.asarray(col.categories, dtype=object)[choice]
                if col.nullable:
                    is_null = block[:, span.width - 1] >= block[:, :k].max(axis=1)
                    values[is_null] = None
                result[col.name] = values
        frame = pd.DataFrame(result)
        for name, mask in nulls.items():
            frame.loc[mask, name] = np.nan
        for col in self.columns:
            if col.kind is ColumnKind.NUMERIC and col.type.is_temporal:
                days = frame[col.name].to_numpy(dtype=np.float64)
                us = np.where(np.isnan(days), 0, np.round(days * _US_PER_DAY)).astype("int64")
                ts = pd.Series(_EPOCH + us.astype("timedelta64[us]"))
                ts[np.isnan(days)] = pd.NaT
                frame[col.name] = ts
        return frame

    # ------------------------------------------------------------------ conditions

    def cond_for_rows(
        self, cats: np.ndarray[Any, Any], rng: np.random.Generator
    ) -> np.ndarray[Any, Any]:
        """A condition per real row, taken from the row itself: one discrete
        column chosen at random and the row's own category in it (zero when the
        row's value there is rare or missing)."""
        n = cats.shape[0]
        cond = np.zeros((n, self.cond_width), dtype=np.float32)
        if not self.cond_spans or n == 0:
            return cond
        pick = rng.integers(0, len(self.cond_spans), size=n)
        offsets = np.array([o for _, o, _ in self.cond_spans])
        chosen = cats[np.arange(n), pick]
        ok = chosen >= 0
        cond[np.arange(n)[ok], offsets[pick[ok]] + chosen[ok]] = 1.0
        return cond

    def sample_cond(
        self, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Conditions for fake rows, distributed like the real rows' own
        conditions (a column picked uniformly, its category in proportion to the
        released noisy counts) so that the critic cannot tell real from fake by
        the condition alone. Returns the condition matrix, the chosen span
        index and the category index per row."""
        cond = np.zeros((n, self.cond_width), dtype=np.float32)
        if not self.cond_spans:
            return cond, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        pick = rng.integers(0, len(self.cond_spans), size=n)
        cat = np.zeros(n, dtype=np.int64)
        for k, (name, offset, width) in enumerate(self.cond_spans):
            rows = np.flatnonzero(pick == k)
            if rows.size == 0:
                continue
            counts = np.maximum(np.asarray(self.column(name).counts[:width], dtype=np.float64), 0.0)
            p = counts + 1e-6
            cat[rows] = rng.choice(width, size=rows.size, p=p / p.sum())
            cond[rows, offset + cat[rows]] = 1.0
        return cond, pick, cat

    def fixed_cond(self, conditions: Mapping[str, Any], n: int) -> np.ndarray[Any, Any]:
        cond = np.zeros((n, self.cond_width), dtype=np.float32)
        for name, value in conditions.items():
            spans = [s for s in self.cond_spans if s[0] == name]
            if not spans:
                discrete = ", ".join(s[0] for s in self.cond_spans) or "none"
                raise SynthesisError(
                    f"cannot condition on {name!r}: it is not a modelled categorical column "
                    f"(categorical columns: {discrete})"
                )
            col = self.column(name)
            if value not in col.categories:
                raise SynthesisError(
                    f"cannot condition on {name}={value!r}: it is not in the column's released "
                    f"domain ({len(col.categories)} values)"
                )
            cond[:, spans[0][1] + col.categories.index(value)] = 1.0
        return cond

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DPTransformer:
        return cls([ColumnInfo.from_dict(c) for c in data["columns"]])


# ---------------------------------------------------------------------- fitting helpers


def _noisy(
    counts: np.ndarray[Any, Any], sigma: float, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    noisy: np.ndarray[Any, Any] = counts + rng.normal(0.0, sigma, size=counts.shape)
    return noisy


def _category_index(series: pd.Series[Any], col: ColumnInfo) -> np.ndarray[Any, Any]:
    """Index of each value in the released domain; -1 rare (other), -2 missing."""
    lookup: dict[Any, int] = {c: i for i, c in enumerate(col.categories)}
    present = series.notna().to_numpy()
    values: np.ndarray[Any, Any] = series.to_numpy(dtype=object)
    if col.type is not LogicalType.BOOLEAN:
        values = np.array([str(v) for v in values], dtype=object)
    idx = np.array([lookup.get(v, -1) for v in values], dtype=np.int64)
    idx[~present] = -2
    return idx


def _fit_categorical(
    series: pd.Series[Any], col: ColumnSchema, budget: TransformBudget, rng: np.random.Generator
) -> tuple[ColumnInfo, list[GaussianMechanism]]:
    values = series.dropna()
    if col.type is LogicalType.BOOLEAN:
        domain: Sequence[Any] | None = (False, True)
        values = values.astype(bool)
    else:
        domain = col.domain
        values = values.astype(str)
    counts_by_value = values.value_counts()
    sigma = budget.histogram_sigma
    # the nulls are one more cell of the same histogram (each row counts once)
    noisy_nulls = float(len(series) - len(values)) + float(rng.normal(0.0, sigma))
    nullable = col.nullable and noisy_nulls > null_floor(sigma)
    if domain is not None:
        categories = list(domain)
        raw = np.array([float(counts_by_value.get(c, 0)) for c in categories])
        noisy = np.maximum(_noisy(raw, sigma, rng), 0.0)
        info = ColumnInfo(
            col.name,
            ColumnKind.CATEGORICAL,
            col.type,
            nullable,
            categories,
            noisy.tolist(),
            has_other=False,
            declared=True,
        )
        return info, [GaussianMechanism("preprocess", f"histogram:{col.name}", sigma)]
    # DP partition selection (Gaussian thresholding): each row touches one value;
    # a value seen once passes the threshold with probability selection_delta.
    threshold = 1.0 + sigma * float(ndtri(1.0 - budget.selection_delta))
    keys = counts_by_value.index.to_numpy()
    noisy = _noisy(counts_by_value.to_numpy(dtype=np.float64), sigma, rng)
    keep = noisy > threshold
    order = np.argsort(-noisy[keep], kind="stable")[: budget.max_categories]
    categories = [str(k) for k in keys[keep][order]]
    kept_counts = noisy[keep][order]
    mech = GaussianMechanism(
        "preprocess", f"partition-selection:{col.name}", sigma, extra_delta=budget.selection_delta
    )
    if not categories:
        raise PreprocessingFailed(
            f"no value of column {col.name!r} is frequent enough to be released under "
            f"differential privacy (threshold {threshold:.0f} rows at this epsilon)",
            hint=f"declare its categories under synthesis.columns.{col.name}.categories, "
            "raise the epsilon, or leave the column out",
            ran=[mech],
        )
    info = ColumnInfo(
        col.name,
        ColumnKind.CATEGORICAL,
        col.type,
        nullable,
        categories,
        kept_counts.tolist(),
        has_other=True,
        declared=False,
    )
    return info, [mech]


def _fit_numeric(
    series: pd.Series[Any], col: ColumnSchema, budget: TransformBudget, rng: np.random.Generator
) -> tuple[ColumnInfo, list[GaussianMechanism]]:
    x = _to_number(series, col.type)
    x = x[~np.isnan(x)]
    mechs: list[GaussianMechanism] = []
    if col.bounds is not None:
        lo, hi = float(col.bounds[0]), float(col.bounds[1])
        declared = True
    else:
        found = dp_bounds(x, budget.bounds_sigma, rng)
        mechs += [
            GaussianMechanism("preprocess", f"{kind}:{col.name}", budget.bounds_sigma)
            for kind in BOUNDS_PASSES
        ]
        if found is None:
            raise PreprocessingFailed(
                f"column {col.name!r} has too few rows to find its range under differential "
                "privacy at this epsilon",
                hint=f"declare synthesis.columns.{col.name}.min and .max, or raise the epsilon",
                ran=mechs,
            )
        lo, hi, _ = found
        declared = False
    integer = col.type in {LogicalType.INTEGER} or col.type is LogicalType.DATE
    if integer:  # the integers inside the range
        lo, hi = math.ceil(lo), math.floor(hi)
    if not hi > lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, FINE_BINS + 1)
    # one histogram: the bins inside the range, then the nulls (each row in one cell)
    raw = np.histogram(np.clip(x, lo, hi), bins=edges)[0].astype(np.float64)
    noisy = _noisy(np.append(raw, float(len(series) - len(x))), budget.quantile_sigma, rng)
    mechs.append(GaussianMechanism("preprocess", f"quantiles:{col.name}", budget.quantile_sigma))
    floor = budget.quantile_sigma * float(ndtri(1.0 - BOUND_FALSE_BIN / FINE_BINS))
    shape = norm_sub(trim_tails(noisy[:-1], floor))
    shape = shape + _PSEUDO * (shape > 0) if shape.sum() > 0 else np.ones(FINE_BINS)
    cdf = np.concatenate([[0.0], np.cumsum(shape)])
    cdf /= cdf[-1]
    nullable = col.nullable and bool(noisy[-1] > null_floor(budget.quantile_sigma))
    info = ColumnInfo(
        col.name,
        ColumnKind.NUMERIC,
        col.type,
        nullable,
        edges=edges.tolist(),
        cdf=cdf.tolist(),
        integer=integer,
        bounds_declared=declared,
    )
    return info, mechs
