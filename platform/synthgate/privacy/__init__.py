"""Differential-privacy accounting: mechanisms, composition, budget ledger.

Every step of a private fit that reads real rows is a Gaussian mechanism
(possibly subsampled): noisy histograms and quantiles in preprocessing, DP-SGD
in training. The total is composed by an accountant (PRV, with an RDP
cross-check), never summed by hand; the extra δ of DP partition selection is
added to the accountant's δ.
"""

from synthgate.privacy._accounting import (
    GaussianMechanism,
    PrivacyAccount,
    calibrate_sgd_noise,
    compose,
    exponential_mechanism,
    gaussian_epsilon,
    gaussian_sigma_for_rho,
    rdp_rho_for_epsilon,
    running_epsilon,
    stage_split,
)
from synthgate.privacy._budget import BudgetLedger, BudgetStatus

__all__ = [
    "BudgetLedger",
    "BudgetStatus",
    "GaussianMechanism",
    "PrivacyAccount",
    "calibrate_sgd_noise",
    "compose",
    "exponential_mechanism",
    "gaussian_epsilon",
    "gaussian_sigma_for_rho",
    "rdp_rho_for_epsilon",
    "running_epsilon",
    "stage_split",
]
