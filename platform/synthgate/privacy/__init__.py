"""Differential-privacy accounting: mechanisms, composition, budget ledger.

Every step of a private fit that reads real rows is a Gaussian mechanism
(possibly subsampled): noisy histograms and quantiles in preprocessing, DP-SGD
in training. The total is composed by an accountant (PRV, with an RDP
cross-check), never summed by hand; the extra δ of DP partition selection is
added to the accountant's δ.

The budget ledger keeps each source table's cumulative ε and δ (reserved
before a run reads a row, settled after its fit); sources may be registered
under a name with their own limits.
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
    replace_one,
    running_epsilon,
    spent_of,
    stage_split,
)
from synthgate.privacy._budget import (
    MASKED_COPY,
    RESERVED,
    TOTAL,
    BudgetLedger,
    BudgetLimits,
    BudgetStatus,
    SourceBusy,
)
from synthgate.privacy._registry import (
    RegisteredSource,
    check_registration,
    find_source,
    may_register,
    register_source,
    registered_for,
    registered_sources,
    resolve_named_source,
    source_limits,
)
from synthgate.privacy._rows import (
    AUTO_DELTA_MAX,
    COUNT_SHARE,
    RowCount,
    auto_delta,
    count_rho,
    count_rows,
    planned_count,
)

__all__ = [
    "AUTO_DELTA_MAX",
    "COUNT_SHARE",
    "MASKED_COPY",
    "RESERVED",
    "TOTAL",
    "BudgetLedger",
    "BudgetLimits",
    "BudgetStatus",
    "GaussianMechanism",
    "PrivacyAccount",
    "RegisteredSource",
    "RowCount",
    "SourceBusy",
    "auto_delta",
    "calibrate_sgd_noise",
    "check_registration",
    "compose",
    "count_rho",
    "count_rows",
    "exponential_mechanism",
    "find_source",
    "gaussian_epsilon",
    "gaussian_sigma_for_rho",
    "may_register",
    "planned_count",
    "rdp_rho_for_epsilon",
    "register_source",
    "registered_for",
    "registered_sources",
    "replace_one",
    "resolve_named_source",
    "running_epsilon",
    "source_limits",
    "spent_of",
    "stage_split",
]
