"""DP bounds of a numeric column and post-processing of noisy histograms, shared by
the engines.

Three Gaussian histograms of sensitivity 1 (one row adds one count to one bin
of each): magnitudes on a fixed log grid (two bins a decade), then two zoom
passes that split the outermost bins into ZOOM_BINS and keep, at each end, the
outermost sub-bin that rises above the noise on its own or where the mass
counted from that end does (so a long thin tail is kept, not cut where single
sub-bins sink under the floor). Empty bins pass with chance about BOUND_FALSE_BIN per histogram.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri

__all__ = [
    "BOUNDS_PASSES",
    "BOUND_FALSE_BIN",
    "GRID",
    "HEAVY_SPAN",
    "dp_bounds",
    "norm_sub",
    "null_floor",
    "trim_tails",
]

_DECADES = np.arange(-4.0, 15.0 + 1e-9, 0.5)
GRID = np.concatenate([-(10.0 ** _DECADES[::-1]), [0.0], 10.0**_DECADES])
ZOOM_BINS = 64  # each zoom pass splits the outermost bins into this many
ZOOM_PASSES = 2
#: the mechanisms one column's bounds run, in order (names in the ledger)
BOUNDS_PASSES = ("bounds", *(f"bounds-zoom-{k + 1}" for k in range(ZOOM_PASSES)))
BOUND_FALSE_BIN = 0.01
HEAVY_SPAN = 10.0  # median this far below the upper bound: heavy-tailed


def _floored(noisy: np.ndarray[Any, Any], sigma: float) -> np.ndarray[Any, Any]:
    """Bins below the noise floor emptied: an empty bin passes with chance BOUND_FALSE_BIN."""
    floor = sigma * float(ndtri(1.0 - BOUND_FALSE_BIN / len(noisy)))
    out: np.ndarray[Any, Any] = np.where(noisy > floor, noisy, 0.0)
    return out


def _noisy_histogram(
    x: np.ndarray[Any, Any], edges: np.ndarray[Any, Any], sigma: float, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """Counts of the values inside [edges[0], edges[-1]] plus Gaussian noise (sensitivity 1)."""
    inside = x[(x >= edges[0]) & (x <= edges[-1])]
    raw = np.histogram(inside, bins=edges)[0].astype(np.float64)
    noisy: np.ndarray[Any, Any] = raw + rng.normal(0.0, sigma, size=raw.shape)
    return noisy


Bin = tuple[float, float]


def _first_reached(noisy: np.ndarray[Any, Any], floor: float) -> int | None:
    """Counting from index 0: the first bin where the noisy mass of the bins so far
    reaches floor·√k. The noise of k bins adds up to σ√k, so empty bins rarely get
    there, while a thin real tail, under the floor bin by bin, does once it has
    added up. None when the mass never gets there."""
    reached = np.cumsum(noisy) >= floor * np.sqrt(np.arange(1, noisy.size + 1))
    return int(np.argmax(reached)) if reached.any() else None


def _outermost(noisy: np.ndarray[Any, Any], floor: float) -> int | None:
    """Counting from index 0: the first bin above the floor on its own (a spike, such
    as one integer value) or where the mass so far has added up (a thin tail),
    whichever comes first; None when neither happens."""
    alone = np.flatnonzero(noisy > floor)
    found = (int(alone[0]) if alone.size else None, _first_reached(noisy, floor))
    return min((i for i in found if i is not None), default=None)


def _zoom(
    x: np.ndarray[Any, Any], low: Bin, high: Bin, sigma: float, rng: np.random.Generator
) -> tuple[Bin, Bin]:
    """Split the outermost bins into ZOOM_BINS each and keep, at each end, the
    outermost sub-bin where a spike or the mass counted from that end rises above
    the noise (:func:`_outermost`), or the bin itself when neither does. The two
    histograms count disjoint rows, so together they have sensitivity 1."""
    lo_edges = np.linspace(low[0], low[1], ZOOM_BINS + 1)
    if low == high:
        noisy = _noisy_histogram(x, lo_edges, sigma, rng)
        floor = sigma * float(ndtri(1.0 - BOUND_FALSE_BIN / len(noisy)))
        first = _outermost(noisy, floor)
        last = _outermost(noisy[::-1], floor)
        if first is None or last is None or first > noisy.size - 1 - last:
            return low, high
        last = noisy.size - 1 - last
        return (float(lo_edges[first]), float(lo_edges[first + 1])), (
            float(lo_edges[last]),
            float(lo_edges[last + 1]),
        )
    hi_edges = np.linspace(high[0], high[1], ZOOM_BINS + 1)
    lo_noisy = _noisy_histogram(x, lo_edges, sigma, rng)
    hi_noisy = _noisy_histogram(x, hi_edges, sigma, rng)
    floor = sigma * float(ndtri(1.0 - BOUND_FALSE_BIN / (2 * ZOOM_BINS)))
    first = _outermost(lo_noisy, floor)
    last = _outermost(hi_noisy[::-1], floor)
    if first is not None:
        low = (float(lo_edges[first]), float(lo_edges[first + 1]))
    if last is not None:
        k = ZOOM_BINS - 1 - last
        high = (float(hi_edges[k]), float(hi_edges[k + 1]))
    return low, high


def dp_bounds(
    x: np.ndarray[Any, Any], sigma: float, rng: np.random.Generator
) -> tuple[float, float, bool] | None:
    """DP bounds: a noisy histogram on a fixed log grid (two bins a decade) gives the
    outermost bins above the noise floor; ZOOM_PASSES passes then split those two
    bins linearly and keep the outermost sub-bins above the floor. Each pass is a
    Gaussian mechanism with sensitivity 1. None when nothing rises above the noise.
    Also says whether the mass is heavy-tailed (its DP median a decade or more
    below the upper bound): post-processing, free."""
    counts = _floored(_noisy_histogram(x, GRID, sigma, rng), sigma)
    kept = np.flatnonzero(counts)
    if not kept.size:
        return None
    low = (float(GRID[kept[0]]), float(GRID[kept[0] + 1]))
    high = (float(GRID[kept[-1]]), float(GRID[kept[-1] + 1]))
    cdf = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
    median = float(np.interp(0.5, cdf, GRID))
    for _ in range(ZOOM_PASSES):
        low, high = _zoom(x, low, high, sigma, rng)
    lo, hi = low[0], high[1]
    heavy = bool(lo >= 0 and hi > 0 and max(median, 1.0) * HEAVY_SPAN <= hi)
    return lo, hi, heavy


def norm_sub(noisy: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The non-negative array with the same (unbiased) total nearest to *noisy*:
    subtract one constant and clip at zero. Clipping alone would add the positive
    half of the noise of every empty cell and smear mass over them."""
    total = float(noisy.sum())
    if total <= 0:
        return np.zeros_like(noisy, dtype=np.float64)
    desc = np.sort(noisy.ravel())[::-1]
    steps = (np.cumsum(desc) - total) / np.arange(1, desc.size + 1)
    k = int(np.flatnonzero(desc - steps > 0)[-1])
    out: np.ndarray[Any, Any] = np.maximum(noisy - steps[k], 0.0)
    return out


def trim_tails(values: np.ndarray[Any, Any], floor: float) -> np.ndarray[Any, Any]:
    """Empty the outermost bins, at each end, until the noisy mass of the k outermost
    bins reaches floor·√k: k empty bins reach it by noise alone rarely, while a
    thin real tail does once it has added up. Values then never land in a stretch
    of the range that holds no data. When the two ends would meet (a column too
    thin to tell its tails from noise), nothing is trimmed: the DP range holds."""
    cuts = []
    for order in (np.arange(values.size), np.arange(values.size)[::-1]):
        reached = np.cumsum(values[order]) >= floor * np.sqrt(np.arange(1, values.size + 1))
        cuts.append(int(np.argmax(reached)) if reached.any() else values.size)
    out = values.copy()
    if cuts[0] + cuts[1] >= values.size:
        return out
    out[: cuts[0]] = 0.0
    out[values.size - cuts[1] :] = 0.0
    return out


def null_floor(sigma: float) -> float:
    """A noisy null count below this is noise (an empty null cell passes with chance 1%):
    the column is then released without nulls."""
    return sigma * float(ndtri(0.99))
