"""Properties of the accountant: what the ε in a report rests on."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgate.errors import ConfigError
from synthgate.privacy import (
    GaussianMechanism,
    calibrate_sgd_noise,
    compose,
    gaussian_epsilon,
    gaussian_sigma_for_rho,
)

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
