from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from synthgate.errors import ConfigError

__all__ = [
    "GaussianMechanism",
    "PrivacyAccount",
    "calibrate_sgd_noise",
    "compose",
    "gaussian_sigma_for_rho",
]

MAX_SGD_NOISE = 50.0  # beyond this the model learns nothing: refuse before training


@dataclass(frozen=True, slots=True)
class GaussianMechanism:
    """A (Poisson-subsampled) Gaussian mechanism with L2 sensitivity 1.

    ``sigma`` is the noise multiplier (noise std / sensitivity), ``sample_rate``
    the Poisson rate (1.0: every row), ``steps`` how often it runs.
    """

    stage: str
    mechanism: str
    sigma: float
    sample_rate: float = 1.0
    steps: int = 1
    extra_delta: float = 0.0  # e.g. partition selection's thresholding failure

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"noise multiplier must be > 0, got {self.sigma}")
        if not 0 < self.sample_rate <= 1:
            raise ValueError(f"sample rate must be in (0, 1], got {self.sample_rate}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gaussian_sigma_for_rho(rho: float) -> float:
    """Noise multiplier of a Gaussian mechanism that is ρ-zCDP (ρ = 1 / 2σ²)."""
    if rho <= 0:
        raise ValueError("rho must be > 0")
    return math.sqrt(1.0 / (2.0 * rho))


def _history(mechanisms: Sequence[GaussianMechanism]) -> list[tuple[float, float, int]]:
    """Accountant history. Full-batch Gaussian mechanisms compose exactly into
    one Gaussian with 1/σ² = Σ 1/σᵢ² (Gaussian DP), which keeps PRV fast."""
    full = [m for m in mechanisms if m.sample_rate >= 1.0]
    sub = [m for m in mechanisms if m.sample_rate < 1.0]
    history: list[tuple[float, float, int]] = []
    if full:
        inv = sum(m.steps / (m.sigma**2) for m in full)
        history.append((1.0 / math.sqrt(inv), 1.0, 1))
    history.extend((m.sigma, m.sample_rate, m.steps) for m in sub)
    return history


def _epsilon(history: list[tuple[float, float, int]], delta: float, accountant: str) -> float:
    from opacus.accountants import PRVAccountant, RDPAccountant

    acc = PRVAccountant() if accountant == "prv" else RDPAccountant()
    acc.history = list(history)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(acc.get_epsilon(delta))


@dataclass(frozen=True, slots=True)
class PrivacyAccount:
    """The composed guarantee of a set of mechanisms."""

    epsilon: float
    delta: float
    accountant: str
    rdp_epsilon: float
    accountant_delta: float
    mechanisms: tuple[GaussianMechanism, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "accountant": self.accountant,
            "rdp_epsilon": self.rdp_epsilon,
            "accountant_delta": self.accountant_delta,
            "mechanisms": [m.to_dict() for m in self.mechanisms],
        }


def compose(mechanisms: Sequence[GaussianMechanism], *, delta: float) -> PrivacyAccount:
    """Compose *mechanisms* at total *delta*: PRV ε (RDP ε recorded beside it).

    The thresholding δ of partition selection is spent first; the accountant
    gets the rest.
    """
    extra = sum(m.extra_delta for m in mechanisms)
    acc_delta = delta - extra
    if acc_delta <= 0:
        raise ValueError(f"delta {delta} is used up by partition selection ({extra})")
    history = _history(mechanisms)
    return PrivacyAccount(
        epsilon=_epsilon(history, acc_delta, "prv"),
        delta=delta,
        accountant="prv",
        rdp_epsilon=_epsilon(history, acc_delta, "rdp"),
        accountant_delta=acc_delta,
        mechanisms=tuple(mechanisms),
    )


def calibrate_sgd_noise(
    *,
    target_epsilon: float,
    delta: float,
    fixed: Sequence[GaussianMechanism],
    sample_rate: float,
    steps: int,
    tolerance: float = 0.01,
) -> float:
    """The smallest DP-SGD noise multiplier so that *fixed* + SGD stays ≤ target ε."""
    extra = sum(m.extra_delta for m in fixed)
    acc_delta = delta - extra
    base = _history(fixed)

    def eps(sigma: float) -> float:
        return _epsilon([*base, (sigma, sample_rate, steps)], acc_delta, "prv")

    if base and _epsilon(base, acc_delta, "prv") >= target_epsilon:
        raise ConfigError(
            f"preprocessing alone spends more than epsilon {target_epsilon}",
            hint="raise synthesis.privacy.epsilon or declare more column domains and bounds",
        )
    lo, hi = 0.3, MAX_SGD_NOISE
    if eps(hi) > target_epsilon:
        raise ConfigError(
            f"epsilon {target_epsilon} is too small for {steps} training steps at sampling "
            f"rate {sample_rate:.4f}: the noise multiplier would exceed {MAX_SGD_NOISE:.0f}",
            hint="raise synthesis.privacy.epsilon, lower synthesis.params.epochs or raise "
            "synthesis.params.batch_size",
        )
    if eps(lo) <= target_epsilon:
        return lo
    while hi - lo > 1e-3 * hi:
        mid = math.sqrt(lo * hi)
        value = eps(mid)
        if value > target_epsilon:
            lo = mid
        else:
            hi = mid
            if target_epsilon - value < tolerance:
                break
    return hi
