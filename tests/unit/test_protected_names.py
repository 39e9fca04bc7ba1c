"""Protected attributes recognised by column name when a spec declares none."""

from __future__ import annotations

import pytest

from synthgate.protected import suggest_protected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Gender", "plan"], ["Gender"]),
        (["marital-status", "relationship"], ["marital-status"]),
        (["age_cat", "age", "race", "sex"], ["age_cat", "age", "race", "sex"]),
        (["customer_age", "Ethnicity"], ["customer_age", "Ethnicity"]),
        # what must not match: words that merely contain the letters
        (["average", "stage", "sextant", "racecar", "usage", "page_views"], []),
    ],
)
def test_names_that_read_as_protected_attributes(names: list[str], expected: list[str]) -> None:
    assert suggest_protected(names) == expected
