"""Properties of the accountant: what the ε in a report rests on."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgate.contracts import PrivacyRequest
from synthgate.errors import ConfigError
from synthgate.privacy import (
    COUNT_SHARE,
    GaussianMechanism,
    auto_delta,
    calibrate_sgd_noise,
    compose,
    count_rows,
    exponential_mechanism,
    gaussian_epsilon,
    gaussian_sigma_for_rho,
    planned_count,
    rdp_rho_for_epsilon,
    replace_one,
    spent_of,
)
from synthgate.privacy._accounting import ROW_COUNT_MECHANISM

warnings.simplefilter("ignore")


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=0.3, max_value=200), st.floats(min_value=1e-9, max_value=1e-3))
def test_analytic_gaussian_epsilon_meets_delta_and_is_tight(sigma: float, delta: float) -> None:
    from scipy.stats import norm

    eps = gaussian_epsilon(sigma, delta)
    mu = 1 / sigma

    def delta_at(e: float) -> float:
        return float(norm.cdf(mu / 2 - e / mu) - math.exp(e) * norm.cdf(-mu / 2 - e / mu))

    assert delta_at(eps) <= delta * (1 + 1e-6)
    if eps > 1e-6:
        assert delta_at(eps * 0.99) > delta


@settings(max_examples=8, deadline=None)
@given(st.lists(st.floats(min_value=2, max_value=100), min_size=1, max_size=6))
def test_full_batch_gaussians_compose_exactly(sigmas: list[float]) -> None:
    """k Gaussian mechanisms = one Gaussian with 1/σ² = Σ 1/σᵢ² (GDP), checked
    against the analytic formula; the RDP cross-check is never below it."""
    mechs = [GaussianMechanism("preprocess", f"m{i}", s) for i, s in enumerate(sigmas)]
    account = compose(mechs, delta=1e-5)
    sigma_eff = 1 / math.sqrt(sum(1 / s**2 for s in sigmas))
    assert account.epsilon == pytest.approx(gaussian_epsilon(sigma_eff, 1e-5), rel=1e-6)
    assert account.rdp_epsilon >= account.epsilon


@settings(max_examples=5, deadline=None)
@given(
    st.floats(min_value=0.5, max_value=8),
    st.sampled_from([0.01, 0.05, 0.2]),
    st.integers(min_value=10, max_value=2000),
)
def test_calibrated_noise_meets_the_target_epsilon(eps: float, rate: float, steps: int) -> None:
    pre = [GaussianMechanism("preprocess", "h", 40.0), GaussianMechanism("preprocess", "q", 40.0)]
    try:
        sigma = calibrate_sgd_noise(
            target_epsilon=eps, delta=1e-5, fixed=pre, sample_rate=rate, steps=steps
        )
    except ConfigError:
        return  # an honest refusal: the noise would be absurd
    sgd = GaussianMechanism("train", "dp-sgd", sigma, rate, steps)
    total = compose([*pre, sgd], delta=1e-5)
    assert total.epsilon <= eps * 1.001
    # and the noise is not wastefully large: 10% less noise would break the target
    if sigma > 0.31:
        louder = compose(
            [*pre, GaussianMechanism("train", "dp-sgd", sigma * 0.9, rate, steps)], delta=1e-5
        )
        assert louder.epsilon > eps


def test_more_noise_or_fewer_steps_never_costs_more() -> None:
    base = compose([GaussianMechanism("t", "sgd", 1.0, 0.05, 500)], delta=1e-5).epsilon
    assert compose([GaussianMechanism("t", "sgd", 1.5, 0.05, 500)], delta=1e-5).epsilon < base
    assert compose([GaussianMechanism("t", "sgd", 1.0, 0.05, 250)], delta=1e-5).epsilon < base


def test_partition_selection_delta_is_charged() -> None:
    mech = GaussianMechanism("preprocess", "sel", 10.0, extra_delta=4e-6)
    account = compose([mech], delta=1e-5)
    assert account.accountant_delta == pytest.approx(6e-6)
    assert account.epsilon == pytest.approx(gaussian_epsilon(10.0, 6e-6), rel=1e-6)
    with pytest.raises(ValueError, match="used up"):
        compose([mech], delta=3e-6)


def test_absurd_noise_is_refused_before_training() -> None:
    with pytest.raises(ConfigError, match="too small for 100000 training steps"):
        calibrate_sgd_noise(
            target_epsilon=0.01, delta=1e-5, fixed=[], sample_rate=0.5, steps=100_000
        )


def test_rho_to_sigma() -> None:
    assert gaussian_sigma_for_rho(0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rho"):
        gaussian_sigma_for_rho(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": 0}, "noise multiplier"),
        ({"sigma": 1, "sample_rate": 0}, "sample rate"),
        ({"sigma": 1, "steps": 0}, "steps"),
    ],
)
def test_mechanism_parameters_are_bounded(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GaussianMechanism("s", "m", **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------- neighbouring relations


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.floats(min_value=0.5, max_value=50), min_size=1, max_size=6),
    st.floats(min_value=0.2, max_value=20),
    st.floats(min_value=1e-9, max_value=1e-4),
)
def test_replace_one_costs_more_than_add_remove_but_at_most_group_privacy(
    sigmas: list[float], em_epsilon: float, delta: float
) -> None:
    mechs = [GaussianMechanism("measure", f"h{i}", s) for i, s in enumerate(sigmas)]
    mechs.append(exponential_mechanism("select", "em", em_epsilon))
    account = compose(mechs, delta=delta)
    epsilon, replaced_delta = replace_one(account)
    assert replaced_delta == delta
    assert epsilon >= account.epsilon
    # zCDP group privacy for two steps (remove, then add) bounds any replacement: ρ × 4
    grouped = compose([replace(m, sigma=m.sigma / 2) for m in mechs], delta=delta)
    assert epsilon <= grouped.epsilon * (1 + 1e-9)


def test_replace_one_drops_the_row_count_and_doubles_selection_delta() -> None:
    count = GaussianMechanism("preprocess", ROW_COUNT_MECHANISM, 10.0)
    selection = GaussianMechanism("preprocess", "partition-selection:c", 5.0, extra_delta=1e-6)
    account = compose([count, selection], delta=1e-5)
    epsilon, delta = replace_one(account)
    assert delta == pytest.approx(1e-5 + 1e-6)
    alone = compose([replace(selection, sigma=5.0 / math.sqrt(2), extra_delta=2e-6)], delta=delta)
    assert epsilon == pytest.approx(alone.epsilon)


def test_replace_one_with_dp_sgd_is_the_group_privacy_bound() -> None:
    sgd = GaussianMechanism("train", "dp-sgd", 1.1, sample_rate=0.01, steps=300)
    account = compose([sgd], delta=1e-5)
    epsilon, delta = replace_one(account)
    assert epsilon == pytest.approx(2 * account.epsilon)
    assert delta == pytest.approx((1 + math.exp(account.epsilon)) * 1e-5)


def test_a_private_fit_reports_both_relations() -> None:
    account = compose([GaussianMechanism("measure", "h", 3.0)], delta=1e-6)
    spent = spent_of(account)
    assert spent.epsilon == account.epsilon
    assert spent.replace_one_epsilon is not None
    assert spent.replace_one_epsilon > spent.epsilon
    assert spent.replace_one_delta == 1e-6


# --------------------------------------------------------------- the DP row count


@settings(max_examples=20, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**9),
    st.floats(min_value=0.05, max_value=20),
    st.booleans(),
)
def test_the_row_count_is_noisy_and_resolves_auto_delta(n: int, epsilon: float, auto: bool) -> None:
    request = PrivacyRequest(epsilon, 1e-5 if auto else 1e-7, auto)
    count = count_rows(n, request, np.random.default_rng(n))
    assert count.rows >= 1
    assert count.mechanism.mechanism == ROW_COUNT_MECHANISM
    assert not count.privacy.delta_auto
    if auto:  # from the noisy count only: δ ≤ 1e-5 and ≤ 1/(10·Ñ)
        assert count.privacy.delta == auto_delta(count.rows)
    else:
        assert count.privacy.delta == 1e-7
    # a fixed, small share of the run's budget, chosen before any row is read
    assert count.mechanism.sigma == planned_count(n + 1, request).mechanism.sigma
    share = (
        1 / (2 * count.mechanism.sigma**2) / rdp_rho_for_epsilon(epsilon, 1e-5 if auto else 1e-7)
    )
    assert share == pytest.approx(COUNT_SHARE)


def test_the_row_count_varies_with_its_noise() -> None:
    request = PrivacyRequest(3.0, 1e-5, True)
    counts = {count_rows(5_000, request, np.random.default_rng(s)).rows for s in range(20)}
    assert len(counts) > 10
    assert all(
        abs(c - 5_000) < 10 * count_rows(0, request, np.random.default_rng()).mechanism.sigma
        for c in counts
    )
