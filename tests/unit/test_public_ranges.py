"""Ranges everyone knows, by what a column's name says it holds."""

from __future__ import annotations

from datetime import date

import pytest

from synthgate.contracts import ColumnSchema, LogicalType
from synthgate.synth.public_ranges import AGE_RANGE, public_range


@pytest.mark.parametrize("name", ["age", "Age", "age_years"])
def test_a_number_named_age_lies_between_0_and_100(name: str) -> None:
    assert public_range(ColumnSchema(name, LogicalType.INTEGER)) == AGE_RANGE


def test_a_date_of_birth_lies_between_1900_and_today() -> None:
    found = public_range(ColumnSchema("dob", LogicalType.DATE), today=date(1970, 1, 11))
    assert found == (-25567.0, 11.0)  # days since 1970-01-01, today included


@pytest.mark.parametrize(
    "col",
    [
        ColumnSchema("age", LogicalType.INTEGER, bounds=(18.0, 99.0)),  # declared wins
        ColumnSchema("age", LogicalType.CATEGORICAL),  # "30-39" bands
        ColumnSchema("dob", LogicalType.TEXT),
        ColumnSchema("page", LogicalType.INTEGER),
        ColumnSchema("amount", LogicalType.FLOAT),
    ],
)
def test_no_public_range_elsewhere(col: ColumnSchema) -> None:
    assert public_range(col) is None
