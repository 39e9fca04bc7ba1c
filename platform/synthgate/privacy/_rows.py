"""The table's size under differential privacy, and the δ that follows from it.

synthgate's guarantee is for adding or removing one row (add/remove adjacency),
under which the exact row count N is not public. Every number a release derives
from the table's size (a sampling rate, a step count, δ, the default synthetic
row count, the row count in a model or a release card) is derived from one
noisy count Ñ instead: a Gaussian mechanism on N (sensitivity 1), run first by
each private engine and composed into its total like every other mechanism.

Its noise is fixed before a row is read: a ``COUNT_SHARE`` of the zCDP budget
that the run's ε gives at the largest δ ``auto`` can choose (or the declared
δ). δ ``auto`` is then min(1e-5, 1 / (10·Ñ)), post-processing of Ñ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from synthgate.contracts import PrivacyRequest
from synthgate.privacy._accounting import (
    ROW_COUNT_MECHANISM,
    GaussianMechanism,
    gaussian_sigma_for_rho,
    rdp_rho_for_epsilon,
)

#: share of the run's zCDP budget spent on the row count
COUNT_SHARE = 0.01
#: the largest δ that ``auto`` resolves to (for tables under 10,000 rows)
AUTO_DELTA_MAX = 1e-5


def auto_delta(rows: int) -> float:
    """``auto`` δ for a table of *rows* (a DP estimate): min(1e-5, 1/(10·rows))."""
    return min(AUTO_DELTA_MAX, 1.0 / (10.0 * max(rows, 1)))


def count_sigma(privacy: PrivacyRequest) -> float:
    """The row count's noise multiplier: a fixed share of the run's zCDP budget."""
    delta = AUTO_DELTA_MAX if privacy.delta_auto else privacy.delta
    return gaussian_sigma_for_rho(COUNT_SHARE * rdp_rho_for_epsilon(privacy.epsilon, delta))


@dataclass(frozen=True, slots=True)
class RowCount:
    """A DP row count, the mechanism that produced it and the request it resolves."""

    rows: int
    mechanism: GaussianMechanism
    privacy: PrivacyRequest


def count_rows(n: int, privacy: PrivacyRequest, rng: np.random.Generator) -> RowCount:
    """Ñ = N + Gaussian noise (never below 1), and *privacy* with δ ``auto`` resolved
    from Ñ. The only place an engine may read the exact count."""
    sigma = count_sigma(privacy)
    return _counted(max(1, round(n + float(rng.normal(0.0, sigma)))), privacy, sigma)


def planned_count(n: int, privacy: PrivacyRequest) -> RowCount:
    """What :func:`count_rows` would give without its noise, for checks that refuse a
    fit before any mechanism runs. Never released: a refusal's message holds no count."""
    return _counted(n, privacy, count_sigma(privacy))


def _counted(rows: int, privacy: PrivacyRequest, sigma: float) -> RowCount:
    """*rows* as the count, its mechanism, and *privacy* with δ ``auto`` resolved."""
    resolved = privacy
    if privacy.delta_auto:
        resolved = dataclasses.replace(privacy, delta=auto_delta(rows), delta_auto=False)
    return RowCount(rows, GaussianMechanism("preprocess", ROW_COUNT_MECHANISM, sigma), resolved)


def count_rho(mechanism: GaussianMechanism) -> float:
    """The zCDP cost ρ = 1/(2σ²) of a full-batch Gaussian mechanism."""
    return 1.0 / (2.0 * mechanism.sigma**2)
