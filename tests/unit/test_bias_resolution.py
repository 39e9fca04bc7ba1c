"""Groups too small for the DP noise to keep are reported apart, not counted as erased."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from tests.unit.test_degenerate_columns import (
    FAST,
    FRESH,
    HOLDOUT,
    SCHEMA,
    TRAIN,
    degrade,
    result,
)

from synthgate.contracts import PrivacySpent, StageSpend
from synthgate.validate import ValidationInput, ValidationOptions, validate_all
from synthgate.validate._resolution import KEEP_SIGMAS


def _private(sigma: float) -> PrivacySpent:
    stage = StageSpend(
        "measure", "1-way:group", 0.1, 0.0, {"sigma": sigma, "sample_rate": 1.0, "steps": 1}
    )
    return PrivacySpent(True, 3.0, 1e-6, "rdp", stages=(stage,))


def _erased(privacy: PrivacySpent) -> tuple[float, dict[str, object]]:
    data = ValidationInput(
        train=TRAIN,
        synthetic=degrade(FRESH, "group", "constant"),  # every row in group "a"
        schema=SCHEMA,
        privacy=privacy,
        pii_replay={},
        holdout=HOLDOUT,
        target_column="outcome",
        protected_attributes=("group",),
        options=ValidationOptions(strict=True, seed=1),
    )
    value, details = result(validate_all(data, FAST), "bias.erased_groups")
    return float(value), details


def test_a_group_under_the_noise_is_below_resolution_and_a_large_one_is_erased() -> None:
    kept = degrade(FRESH, "group", "constant")["group"].iloc[0]
    counts = TRAIN["group"].value_counts().drop(kept).sort_values()
    (small, n_small), (large, n_large) = counts.items()
    assert n_large > n_small
    # σ such that the smaller vanished group holds fewer rows than KEEP_SIGMAS·σ
    sigma = (n_small + n_large) / 2 / KEEP_SIGMAS
    value, details = _erased(_private(sigma))
    assert value == 1.0
    assert details["per_attribute"] == {"group": [large]}
    assert details["below_dp_resolution"] == {"group": [small]}
    assert "raise the epsilon" in str(details["note"])


def test_without_a_noise_figure_every_vanished_group_counts() -> None:
    plain = PrivacySpent(True, 3.0, 1e-6, "rdp")  # no ledger line for the column
    value, details = _erased(plain)
    assert value == 2.0
    assert "below_dp_resolution" not in details
    sgd = replace(_private(5.0), stages=())
    assert _erased(sgd)[0] == 2.0
    assert np.isfinite(value)
