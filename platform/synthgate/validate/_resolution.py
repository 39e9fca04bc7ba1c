"""What a DP release can be expected to keep: the noise of the counts a fit measured.

A value (or a group, or a column's present cells) held by fewer real rows than a
few noise standard deviations of its count may vanish from a DP release by
design; the checks that would call it lost (an erased group, a collapsed column)
say so instead of failing. The noise is read from the run's ledger, never from
the rows.
"""

from __future__ import annotations

import math

from synthgate.validate._context import ValidationContext

__all__ = ["KEEP_SIGMAS", "column_sigma", "keep_floor"]

#: a count this many noise standard deviations above zero survives a DP release (the
#: engines' trimming floors are about 3.8 σ)
KEEP_SIGMAS = 4.0
#: partition selection keeps a value whose noisy count passes 1 + σ·Φ⁻¹(1 − δ), about
#: 5 to 6 σ: a value this many σ above zero passes it almost surely
SELECTION_SIGMAS = 8.0
#: the mechanisms that count a column's values over the whole table
_COUNTING = frozenset({"1-way", "histogram"})
_SELECTION = "partition-selection"


def _sigmas(ctx: ValidationContext, name: str, kinds: frozenset[str]) -> list[float]:
    return [
        float(s.details["sigma"])
        for s in ctx.input.privacy.stages
        if s.mechanism.endswith(f":{name}")
        and s.mechanism.split(":", 1)[0] in kinds
        and float(s.details.get("sample_rate", 1.0)) >= 1.0
        and "sigma" in s.details
    ]


def column_sigma(ctx: ValidationContext, name: str) -> float | None:
    """The smallest noise standard deviation of the full-batch counts the fit measured
    on column *name* (dp-mst's 1-way and partition selection, dp-ctgan's
    histograms); None for a fit without."""
    sigmas = _sigmas(ctx, name, _COUNTING | {_SELECTION})
    return min(sigmas) if sigmas else None


def keep_floor(ctx: ValidationContext, name: str, values: int) -> float:
    """The real rows below which a DP release cannot be expected to keep *values*
    distinct values of column *name*: each its own noisy count, and first the
    partition selection's threshold where one chose the column's values; 0 for a fit
    that measured the column without noise."""
    if not ctx.input.privacy.private:
        return 0.0
    counts = _sigmas(ctx, name, _COUNTING)
    selection = _sigmas(ctx, name, frozenset({_SELECTION}))
    floors = [KEEP_SIGMAS * min(counts) * math.sqrt(max(values, 1))] if counts else []
    floors += [SELECTION_SIGMAS * min(selection)] if selection else []
    return max(floors, default=0.0)
