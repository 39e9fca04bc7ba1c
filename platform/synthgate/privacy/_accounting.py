from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from synthgate.contracts import PrivacySpent, StageSpend
from synthgate.errors import ConfigError

__all__ = [
    "GaussianMechanism",
    "PrivacyAccount",
    "calibrate_sgd_noise",
    "compose",
    "exponential_mechanism",
    "gaussian_epsilon",
    "gaussian_sigma_for_rho",
    "rdp_rho_for_epsilon",
    "running_epsilon",
    "spent_of",
    "stage_split",
]

#: Rényi orders the RDP conversion searches: Opacus's defaults (up to 63) and
#: larger ones, which small ε and small δ need
RDP_ORDERS = (
    [1 + x / 10.0 for x in range(1, 100)]
    + list(range(12, 64))
    + [int(64 * 1.25**k) for k in range(1, 40)]
)
ROW_COUNT_MECHANISM = "row-count"  # its replace-one sensitivity is 0
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
    # a ρ-zCDP mechanism that is not Gaussian (the exponential mechanism), entered as
    # the Gaussian with the same Rényi curve (σ = 1/√(2ρ)): only RDP composes it soundly
    rdp_only: bool = False

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"noise multiplier must be > 0, got {self.sigma}")
        if not 0 < self.sample_rate <= 1:
            raise ValueError(f"sample rate must be in (0, 1], got {self.sample_rate}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exponential_mechanism(stage: str, mechanism: str, epsilon0: float) -> GaussianMechanism:
    """The exponential mechanism at ε₀ (score sensitivity 1) as an accountant entry.

    It is ε₀²/8-zCDP (Cesar & Rogers 2021, bounded range), so its Rényi divergence
    of every order α is at most α·ε₀²/8: that of a Gaussian with σ = 2/ε₀.
    """
    if not epsilon0 > 0:
        raise ValueError(f"epsilon0 must be > 0, got {epsilon0}")
    return GaussianMechanism(stage, mechanism, 2.0 / epsilon0, rdp_only=True)


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


def gaussian_epsilon(sigma: float, delta: float) -> float:
    """Exact ε of one Gaussian mechanism (sensitivity 1, noise σ) at δ.

    The analytic Gaussian mechanism (Balle & Wang 2018): δ(ε) = Φ(μ/2 − ε/μ) −
    e^ε Φ(−μ/2 − ε/μ) with μ = 1/σ, solved for ε by bisection.
    """
    from scipy.stats import norm

    mu = 1.0 / sigma

    def delta_at(eps: float) -> float:
        return float(norm.cdf(mu / 2 - eps / mu) - math.exp(eps) * norm.cdf(-mu / 2 - eps / mu))

    if delta_at(0.0) <= delta:
        return 0.0
    lo, hi = 0.0, 1.0
    while delta_at(hi) > delta:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if delta_at(mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def _epsilon(history: list[tuple[float, float, int]], delta: float, accountant: str) -> float:
    from opacus.accountants import PRVAccountant, RDPAccountant

    if accountant == "prv" and len(history) == 1 and history[0][1] >= 1.0:
        return gaussian_epsilon(history[0][0], delta)  # exact; PRV would approximate it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if accountant == "prv":
            prv = PRVAccountant()
            prv.history = list(history)
            return float(prv.get_epsilon(delta))
        rdp = RDPAccountant()
        rdp.history = list(history)
        # the large orders only for full-batch mechanisms: a subsampled Gaussian's RDP
        # at order α sums α terms, and its optimum lies among the default orders
        full = all(q >= 1.0 for _, q, _ in history)
        return float(rdp.get_epsilon(delta, alphas=RDP_ORDERS if full else None))


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacyAccount:
        return cls(
            epsilon=data["epsilon"],
            delta=data["delta"],
            accountant=data["accountant"],
            rdp_epsilon=data["rdp_epsilon"],
            accountant_delta=data["accountant_delta"],
            mechanisms=tuple(GaussianMechanism(**m) for m in data["mechanisms"]),
        )


def rdp_rho_for_epsilon(epsilon: float, delta: float) -> float:
    """The largest zCDP ρ whose RDP conversion at *delta* is at most *epsilon*.

    Tighter than ε = ρ + 2√(ρ ln 1/δ): the accountant's own conversion is used,
    so a plan built on this ρ composes to the requested ε.
    """
    if delta <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")

    def eps(rho: float) -> float:
        return _epsilon([(gaussian_sigma_for_rho(rho), 1.0, 1)], delta, "rdp")

    lo, hi = 1e-9, 1.0
    while eps(hi) < epsilon:
        hi *= 2.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if eps(mid) <= epsilon * (1.0 - 1e-9) else (lo, mid)
    return lo


def spent_of(
    account: PrivacyAccount | None, *, stages: tuple[StageSpend, ...] | None = None
) -> PrivacySpent:
    """What a private engine reports as spent: nothing before a fit, else the composed
    account with each mechanism's own ε (*stages*, computed when not given) and the
    same mechanisms' guarantee under replace-one adjacency."""
    if account is None:
        return PrivacySpent(private=True, epsilon=0.0, delta=0.0, accountant=None)
    replaced_epsilon, replaced_delta = replace_one(account)
    return PrivacySpent(
        private=True,
        epsilon=account.epsilon,
        delta=account.delta,
        accountant=account.accountant,
        stages=stages if stages is not None else stage_split(account),
        replace_one_epsilon=replaced_epsilon,
        replace_one_delta=replaced_delta,
    )


def _replaced(mech: GaussianMechanism) -> GaussianMechanism:
    """*mech* when one row is replaced by another instead of added or removed.

    The row count does not change (sensitivity 0: dropped); a histogram's row
    leaves one cell and enters another (L2 sensitivity √2); the exponential
    mechanism's score moves by up to twice its add/remove sensitivity (ε₀ → 2ε₀,
    ρ × 4); partition selection may both drop the old and admit the new value
    (its δ doubles).
    """
    scale = 2.0 if mech.rdp_only else math.sqrt(2.0)
    return replace(mech, sigma=mech.sigma / scale, extra_delta=2.0 * mech.extra_delta)


def replace_one(account: PrivacyAccount) -> tuple[float, float]:
    """(ε, δ) of *account*'s mechanisms under replace-one adjacency.

    Full-batch mechanisms are recomposed with their replace-one sensitivities at the
    same δ. With Poisson-subsampled mechanisms (DP-SGD) the accountants here only
    know add/remove, so group privacy over the two steps remove-then-add gives the
    bound: (2ε, (1 + e^ε)·δ).
    """
    if any(m.sample_rate < 1.0 for m in account.mechanisms):
        return 2.0 * account.epsilon, (1.0 + math.exp(account.epsilon)) * account.delta
    kept = [_replaced(m) for m in account.mechanisms if m.mechanism != ROW_COUNT_MECHANISM]
    # the accountant keeps its δ; partition selection's doubled δ is added to it
    delta = account.delta + sum(m.extra_delta for m in account.mechanisms)
    if not kept:
        return 0.0, delta
    return compose(kept, delta=delta).epsilon, delta


def stage_split(account: PrivacyAccount) -> tuple[StageSpend, ...]:
    """Each mechanism's own ε (informational); the total is composed, not summed."""
    return tuple(
        StageSpend(
            stage=mech.stage,
            mechanism=mech.mechanism,
            epsilon=compose([mech], delta=account.delta).epsilon,
            delta=mech.extra_delta,
            details=mech.to_dict(),
        )
        for mech in account.mechanisms
    )


def compose(mechanisms: Sequence[GaussianMechanism], *, delta: float) -> PrivacyAccount:
    """Compose *mechanisms* at total *delta*: PRV ε (RDP ε recorded beside it).

    The thresholding δ of partition selection is spent first; the accountant
    gets the rest. When a mechanism is only known by its Rényi curve
    (``rdp_only``), RDP is the accountant of record and no PRV figure is given.
    """
    extra = sum(m.extra_delta for m in mechanisms)
    acc_delta = delta - extra
    if acc_delta <= 0:
        raise ValueError(f"delta {delta} is used up by partition selection ({extra})")
    history = _history(mechanisms)
    rdp = _epsilon(history, acc_delta, "rdp")
    rdp_only = any(m.rdp_only for m in mechanisms)
    return PrivacyAccount(
        epsilon=rdp if rdp_only else _epsilon(history, acc_delta, "prv"),
        delta=delta,
        accountant="rdp" if rdp_only else "prv",
        rdp_epsilon=rdp,
        accountant_delta=acc_delta,
        mechanisms=tuple(mechanisms),
    )


def running_epsilon(mechanisms: Sequence[GaussianMechanism], *, delta: float) -> float:
    """A fast (RDP) estimate of ε so far, for progress display only."""
    extra = sum(m.extra_delta for m in mechanisms)
    return _epsilon(_history(mechanisms), max(delta - extra, 1e-12), "rdp")


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
    if eps(MAX_SGD_NOISE) > target_epsilon:
        raise ConfigError(
            f"epsilon {target_epsilon} is too small for {steps} training steps at sampling "
            f"rate {sample_rate:.4f}: the noise multiplier would exceed {MAX_SGD_NOISE:.0f}",
            hint="raise synthesis.privacy.epsilon, lower synthesis.params.epochs or raise "
            "synthesis.params.batch_size",
        )

    def rdp(sigma: float) -> float:
        return _epsilon([*base, (sigma, sample_rate, steps)], acc_delta, "rdp")

    # RDP is looser than PRV, so its answer is an upper bracket for the PRV search
    lo, hi = 0.3, MAX_SGD_NOISE
    while hi - lo > 1e-3 * hi:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if rdp(mid) > target_epsilon else (lo, mid)
    hi = min(hi, MAX_SGD_NOISE)
    lo = max(0.3, hi * 0.75)
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
