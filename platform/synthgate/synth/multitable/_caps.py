"""Contribution bounds: each parent keeps at most ``cap`` children per relationship.

An undeclared cap is chosen under DP: a noisy histogram of children-per-parent
on a fixed grid (every count up to ``EXACT``, then doubling buckets up to
``MAX_CAP``), and the cap is the grid value under which ``QUANTILE`` of the
noisy mass lies. One parent row sits in one bucket; a person owns up to ``k``
parent rows, so the histogram's L2 sensitivity is ``k`` and its noise is
``k × σ``; buckets below the noise floor are emptied. How many children the cap drops is estimated from the same noisy
histogram (post-processing) and released rounded, never exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtri

from synthgate.privacy import GaussianMechanism

__all__ = ["MAX_CAP", "CapChoice", "choose_cap", "clip_children", "grid"]

EXACT = 32
MAX_CAP = 256  # the count column is then one exact integer cell per value
QUANTILE = 0.98
FALSE_BUCKET = 0.05  # chance that some empty bucket survives the noise floor
Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class CapChoice:
    """A relationship's cap, whether it was declared, and the DP estimate of the
    children it drops (rounded to two significant figures)."""

    cap: int
    declared: bool
    clipped_estimate: int | None
    mechanism: GaussianMechanism | None


def grid() -> Array:
    """Lower edges of the histogram's buckets: 0..EXACT-1, then doubling to MAX_CAP."""
    edges = list(range(EXACT))
    value = EXACT
    while value <= MAX_CAP:
        edges.append(value)
        value *= 2
    return np.asarray(edges, dtype=np.int64)


def _round2(x: float) -> int:
    if x <= 0:
        return 0
    digits = max(0, int(np.floor(np.log10(x))) - 1)
    return int(round(x / 10**digits) * 10**digits)


def choose_cap(
    counts: Array, *, name: str, sigma: float, k: int, rng: np.random.Generator
) -> CapChoice:
    """The DP cap of a relationship from *counts* (children of each kept parent row).

    *sigma* is the mechanism's noise multiplier per person; a person owns up to *k*
    parent rows, so the noise drawn is ``sigma × k``."""
    edges = grid()
    bucket = np.searchsorted(edges, np.minimum(counts, edges[-1]), side="right") - 1
    hist = np.bincount(bucket, minlength=len(edges)).astype(np.float64)
    noisy = hist + rng.normal(0.0, sigma * k, size=hist.shape)
    floor = sigma * k * float(ndtri(1.0 - FALSE_BUCKET / len(edges)))
    noisy = np.where(noisy < floor, 0.0, noisy)  # buckets that are only noise
    mech = GaussianMechanism("preprocess", f"contribution-cap:{name}", sigma)
    total = noisy.sum()
    if total <= 0:
        return CapChoice(1, False, None, mech)
    share = np.cumsum(noisy) / total
    top = int(np.searchsorted(share, QUANTILE))
    top = min(top, len(edges) - 1)
    cap = int(edges[top + 1] - 1) if top + 1 < len(edges) else MAX_CAP
    cap = max(1, min(cap, MAX_CAP))
    mids = np.append((edges[:-1] + edges[1:] - 1) / 2.0, float(edges[-1]))
    dropped = float(np.sum(noisy * np.maximum(mids - cap, 0.0)))
    return CapChoice(cap, False, _round2(dropped), mech)


def clip_children(parent_ids: Array, cap: int, order: Array) -> Array:
    """A mask keeping at most *cap* children per parent (the first in *order*, a
    random permutation of the child rows)."""
    ranked = parent_ids[order]
    starts = np.zeros(len(ranked), dtype=np.int64)
    sort = np.argsort(ranked, kind="stable")
    sorted_ids = ranked[sort]
    group_start = np.searchsorted(sorted_ids, sorted_ids, side="left")
    rank_sorted = np.arange(len(ranked)) - group_start
    starts[sort] = rank_sorted
    keep = np.zeros(len(parent_ids), dtype=bool)
    keep[order] = starts < cap
    return keep
