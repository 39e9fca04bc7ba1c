"""A column the DP noise could not keep is released empty without failing the release;
one it could have kept still fails as collapsed."""

from __future__ import annotations

from tests.unit.test_degenerate_columns import FAST, FRESH, HOLDOUT, SCHEMA, TRAIN, degrade, result

from synthgate.contracts import PrivacySpent, StageSpend
from synthgate.validate import ValidationInput, ValidationOptions, validate_all
from synthgate.validate._resolution import SELECTION_SIGMAS


def _selected(sigma: float) -> PrivacySpent:
    stage = StageSpend(
        "preprocess", "partition-selection:band", 0.1, 0.0, {"sigma": sigma, "sample_rate": 1.0}
    )
    return PrivacySpent(True, 3.0, 1e-6, "rdp", stages=(stage,))


def _band(privacy: PrivacySpent) -> dict[str, object]:
    data = ValidationInput(
        train=TRAIN,
        synthetic=degrade(FRESH, "band", "missing"),  # released always missing
        schema=SCHEMA,
        privacy=privacy,
        pii_replay={},
        holdout=HOLDOUT,
        options=ValidationOptions(strict=True, seed=1),
    )
    _, details = result(validate_all(data, FAST), "structural.validity")
    columns = details["columns"]
    assert isinstance(columns, list)
    return next(c for c in columns if c["column"] == "band")


def test_a_column_thinner_than_the_selection_noise_is_released_empty_and_passes() -> None:
    top = int(TRAIN["band"].value_counts().iloc[0])
    band = _band(_selected(sigma=top / SELECTION_SIGMAS * 1.5))
    assert band["passed"] is True
    assert band["below_dp_resolution"] is True
    assert str(band["reasons"][0]).startswith("released empty")  # type: ignore[index]


def test_a_column_the_noise_could_have_kept_still_fails_as_always_missing() -> None:
    top = int(TRAIN["band"].value_counts().iloc[0])
    for privacy in (
        _selected(sigma=top / SELECTION_SIGMAS / 3),
        PrivacySpent(True, 3.0, 1e-6, "rdp"),
    ):
        band = _band(privacy)
        assert band["passed"] is False
        assert band["below_dp_resolution"] is False
        assert "always missing, unlike the real column" in band["reasons"]  # type: ignore[operator]
