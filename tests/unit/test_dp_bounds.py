"""DP bounds of a numeric column: a thin real tail is kept, an empty range is not made up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from synthgate.synth._dp_histograms import dp_bounds


def _ages(rng: np.random.Generator) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Like a court table's ages: dense from 18 to 35, then a long thin tail to 96."""
    dense = rng.integers(18, 36, 5_000)
    tail = np.minimum(36 + rng.exponential(12.0, 2_200), 96).round()
    ages: np.ndarray[Any, np.dtype[np.float64]] = np.concatenate([dense, tail]).astype(np.float64)
    return ages


@pytest.mark.parametrize(("sigma", "reaches"), [(5.0, 70.0), (25.0, 50.0)])
def test_a_long_thin_tail_is_kept_where_single_bins_sink_under_the_noise(
    sigma: float, reaches: float
) -> None:
    x = _ages(np.random.default_rng(1))
    uppers = []
    for seed in range(10):
        found = dp_bounds(x, sigma, np.random.default_rng(seed))
        assert found is not None
        lo, hi, _ = found
        assert 10 <= lo <= 22
        uppers.append(hi)
    # bin by bin the ages past 40 hold fewer rows than the noise floor; added up they
    # do not: the bound lands well inside the tail, not at the edge of the dense part
    assert float(np.median(uppers)) >= reaches


def test_an_empty_stretch_beyond_the_data_is_not_released() -> None:
    x = np.random.default_rng(2).uniform(100, 200, 5_000)
    for seed in range(20):
        found = dp_bounds(x, 20.0, np.random.default_rng(seed))
        assert found is not None
        lo, hi, _ = found
        assert 95 <= lo <= 110
        assert 190 <= hi <= 215


def test_pooled_projection_puts_less_noise_on_empty_cells_and_keeps_the_tail() -> None:
    from synthgate.synth._dp_histograms import norm_sub
    from synthgate.synth.dp_mst._domain import POOL, _pooled_norm_sub

    truth = np.concatenate([np.full(40, 300.0), np.full(24, 12.0), np.zeros(36), [0.0]])
    tail, empty = slice(40, 64), slice(64, 100)  # the last cell: nulls
    spread = {"cellwise": [0.0, 0.0], "pooled": [0.0, 0.0]}
    for seed in range(10):
        noisy = truth + np.random.default_rng(seed).normal(0.0, 14.0, truth.size)
        for name, out in (
            ("cellwise", norm_sub(noisy)),
            ("pooled", _pooled_norm_sub(noisy, truth.size - 1)),
        ):
            assert (out >= 0).all()
            assert out.sum() == pytest.approx(norm_sub(noisy).sum())
            spread[name][0] += out[tail].sum()
            spread[name][1] += out[empty].sum()
    assert POOL > 1
    assert spread["pooled"][1] < 0.5 * spread["cellwise"][1]  # fewer values where none were
    assert spread["pooled"][0] > 0.9 * spread["cellwise"][0]  # the thin tail as before


def test_a_mostly_missing_number_keeps_its_share_of_missing_values() -> None:
    """Trimming and projecting the value cells must not move mass off the null cell:
    rescaling by the clipped (positive-biased) sum of 64 noisy value cells had taken
    about 4 points of missing share from a column 81% missing."""
    from synthgate.contracts import LogicalType
    from synthgate.synth.dp_mst._domain import CellKind, ColumnDomain, noise_floor, trim_noise

    edges = np.linspace(0.0, 3000.0, 65).tolist()
    dom = ColumnDomain("referred_by", CellKind.NUMBER, LogicalType.FLOAT, True, edges=edges)
    weights = np.linspace(2.0, 0.0, 64)  # thinning out: its upper tail is trimmed
    truth = np.concatenate([460 * weights / weights.sum(), [1950.0]])  # 19% values, 81% missing
    sigma = 10.0  # most value cells under the noise floor: trimmed, then rescaled
    shares = []
    for seed in range(200):
        noisy = truth + np.random.default_rng(seed).normal(0.0, sigma, truth.size)
        out = trim_noise(dom, noisy, noise_floor(sigma, truth.size))
        shares.append(out[-1] / out.sum())
    assert abs(float(np.mean(shares)) - 1950 / 2410) < 0.01
