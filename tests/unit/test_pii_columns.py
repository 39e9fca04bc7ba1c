"""Column-level classification: names in any case and language, identifiers by uniqueness
and shape, suspected columns, lookalikes that must not match, and rounded evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.pii import ColumnFinding, PiiClass, classify_columns
from synthgate.pii._classify import about

pytestmark = pytest.mark.slow

N = 200

Make = Callable[[Any, int], object]


def _values(make: Make, locale: str = "en_US", seed: int = 5) -> list[object]:
    fake: Any = Faker(locale)
    fake.seed_instance(seed)
    return [make(fake, i) for i in range(N)]


def _classify(
    columns: dict[str, Any], types: dict[str, LogicalType] | None = None
) -> dict[str, ColumnFinding]:
    frame = pd.DataFrame(columns)
    types = types or {}
    schema = TableSchema(
        "t", tuple(ColumnSchema(c, types.get(c, LogicalType.TEXT)) for c in columns)
    )
    return {f.column: f for f in classify_columns(frame, schema, sample_values=N)}


def _lower(make: Make) -> Make:
    return lambda f, i: str(make(f, i)).lower()


def _upper(make: Make) -> Make:
    return lambda f, i: str(make(f, i)).upper()


def _first(f: Any, i: int) -> str:
    return str(f.first_name())


def _last(f: Any, i: int) -> str:
    return str(f.last_name())


# (column, values, locale, entity): telling names in several languages, neutral names
# that leave it to the values, one word per cell in lower case and ALL CAPS
NAMES: list[tuple[str, Make, str, str]] = [
    ("first", _lower(_first), "en_US", "FIRST_NAME"),
    ("last", _lower(_last), "en_US", "LAST_NAME"),
    ("fname", _first, "en_US", "FIRST_NAME"),
    ("given_name", _first, "en_GB", "FIRST_NAME"),
    ("name_given", _upper(_first), "en_US", "FIRST_NAME"),
    ("name_family", _last, "en_US", "LAST_NAME"),
    ("Vorname", _first, "de_DE", "FIRST_NAME"),
    ("Nachname", _upper(_last), "de_DE", "LAST_NAME"),
    ("prénom", _first, "fr_FR", "FIRST_NAME"),
    ("nom", _last, "fr_FR", "LAST_NAME"),
    ("surname", _last, "en_GB", "LAST_NAME"),
    ("apellido", _last, "es_ES", "LAST_NAME"),
    ("c1", _lower(_first), "en_US", "FIRST_NAME"),
    ("c2", _upper(_last), "de_DE", "LAST_NAME"),
    ("c3", _lower(_last), "it_IT", "LAST_NAME"),
    ("c4", _upper(lambda f, i: f.name()), "en_GB", "PERSON"),
    ("c5", lambda f, i: f"{f.last_name().upper()}, {f.first_name()}", "es_ES", "PERSON"),
    ("c6", lambda f, i: f"{f.first_name()[0]}. {f.last_name()}", "en_US", "PERSON"),
    ("c7", _lower(lambda f, i: f.name()), "fr_FR", "PERSON"),
]


@pytest.mark.parametrize(
    ("column", "make", "locale", "entity"),
    NAMES,
    ids=[f"{n[0]}-{n[2]}" for n in NAMES],
)
def test_name_columns_are_direct_identifiers(
    column: str, make: Make, locale: str, entity: str
) -> None:
    finding = _classify({column: _values(make, locale)})[column]
    assert finding.entity == entity, finding.signals.text()
    assert finding.pii_class is PiiClass.DIRECT
    assert not finding.suspected


def test_a_name_column_records_its_case_and_locale() -> None:
    found = _classify(
        {
            "c1": _values(_lower(_first), "de_DE"),
            "c2": _values(_upper(_last), "fr_FR"),
            "c3": _values(_first, "en_US"),
        }
    )
    assert found["c1"].case == "lower"
    assert (found["c1"].locale or "").startswith("de")
    assert found["c2"].case == "upper"
    assert (found["c2"].locale or "").startswith("fr")
    assert found["c3"].case is None


# values that look like names or codes but identify no one
LOOKALIKES: list[tuple[str, Make]] = [
    ("c_colour", lambda f, i: f.color_name()),
    ("race", lambda f, i: ["White", "Black", "Asian", "Other"][i % 7 % 4]),
    ("sex", lambda f, i: ["Male", "Female"][i % 2]),
    ("score_text", lambda f, i: ["Low", "Medium", "High"][i % 3]),
    ("c_city", lambda f, i: f.city()),  # Spanish cities, many of them surnames
    ("c_country", lambda f, i: f.country()),
    ("city", lambda f, i: f.last_name()),  # a city column full of surnames is a city column
    (
        "c_charge",
        lambda f, i: ["Felony Battery", "Grand Theft", "Driving License Suspended"][i % 3],
    ),
    ("c_codes", lambda f, i: f"PRD-{i % 30:04d}-{'ABC'[i % 3]}"),
    ("c_icd", lambda f, i: ["E11.9", "I10", "J45.909", "M54.5", "K21.9"][i % 5]),
    ("c_count", lambda f, i: str(i % 11)),
    ("c_date", lambda f, i: f.date_between("-2y").isoformat()),
    ("c_amount", lambda f, i: f"{f.pyfloat(min_value=1, max_value=999, right_digits=2)}"),
]


@pytest.mark.parametrize(("column", "make"), LOOKALIKES, ids=[n[0] for n in LOOKALIKES])
def test_lookalikes_are_not_direct_identifiers(column: str, make: Make) -> None:
    finding = _classify({column: _values(make, "es_ES")})[column]
    assert finding.pii_class is not PiiClass.DIRECT, finding.signals.text()
    assert finding.entity not in {"PERSON", "FIRST_NAME", "LAST_NAME", "RECORD_ID"}


# unique (or nearly) per row and written like codes: record identifiers
IDENTIFIERS: list[tuple[str, Make, str]] = [
    ("c_case_number", lambda f, i: f"13{i * 7919 % 999999:06d}CF10A", "99999999AA99A"),
    ("ref", lambda f, i: f"17-{i:06d}", "99-999999"),
    ("c1", lambda f, i: f"CUS-{i * 104729 % 1_000_000:06d}", "AAA-999999"),
    ("c2", lambda f, i: str(f.uuid4()), "uuid"),
    ("c3", lambda f, i: f.bothify("??######").upper(), "AA999999"),
]


@pytest.mark.parametrize(("column", "make", "shape"), IDENTIFIERS, ids=[n[2] for n in IDENTIFIERS])
def test_unique_codes_are_record_identifiers(column: str, make: Make, shape: str) -> None:
    finding = _classify({column: _values(make)})[column]
    assert finding.entity == "RECORD_ID"
    assert finding.pii_class is PiiClass.DIRECT
    assert not finding.suspected
    assert finding.shapes[0] == shape


def test_integer_identifiers_by_name_or_by_counting_rows() -> None:
    rng = np.random.default_rng(1)
    ints = LogicalType.INTEGER
    columns = {
        "id": rng.permutation(N * 40)[:N] + 1,  # unique, sparse: an id by its name
        "rownames": np.arange(1, N + 1),
        "c_counter": rng.permutation(N) + 1_000,  # unique and dense: counts rows
        "c_sparse": rng.choice(10**9, N, replace=False),  # unique, no name, no density
        "priors_count": rng.integers(0, 30, N),
        "plan_id": rng.integers(1, 4, N),  # an id name, but three values
    }
    found = _classify(columns, dict.fromkeys(columns, ints))
    for col in ("id", "rownames", "c_counter"):
        assert found[col].entity == "RECORD_ID", col
        assert found[col].pii_class is PiiClass.DIRECT
    for col in ("c_sparse", "priors_count", "plan_id"):
        assert found[col].pii_class is PiiClass.NONE, col


def test_a_declared_key_is_left_to_the_plan() -> None:
    frame = pd.DataFrame({"customer_ref": [f"C-{i:08d}" for i in range(N)]})
    schema = TableSchema(
        "t",
        (ColumnSchema("customer_ref", LogicalType.IDENTIFIER),),
        primary_key=("customer_ref",),
    )
    (finding,) = classify_columns(frame, schema, sample_values=N)
    assert finding.pii_class is PiiClass.NONE  # rekeyed by the plan, not faked


def test_suspected_columns() -> None:
    def half_names(f: Any, i: int) -> str:
        return f.first_name().lower() if i % 5 < 2 else f"{f.word()}{f.word()}"

    found = _classify(
        {
            "c_mixed": _values(half_names),  # 40 % known first names
            "c_handle": _values(lambda f, i: f.user_name()),  # unique logins
            "first": _values(lambda f, i: f"{f.word()}{f.word()}x"),  # a bare "first"
        }
    )
    assert found["c_mixed"].suspected
    assert found["c_mixed"].entity == "FIRST_NAME"
    assert found["c_handle"].suspected
    assert found["c_handle"].entity == "RECORD_ID"
    assert found["first"].suspected
    assert found["first"].entity == "FIRST_NAME"
    for finding in found.values():
        assert finding.pii_class is PiiClass.DIRECT  # treated as identifiers meanwhile
        assert finding.confidence == 0.5


def test_bare_first_and_last_need_name_like_values() -> None:
    found = _classify(
        {
            "first": [["yes", "no"][i % 2] for i in range(N)],
            "last": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=i) for i in range(N)],
        },
        {"last": LogicalType.DATE},
    )
    assert found["first"].pii_class is PiiClass.NONE
    assert found["last"].pii_class is PiiClass.NONE


def test_evidence_is_rounded_and_holds_no_value() -> None:
    values = [f"13{i:06d}CF10A" for i in range(N)]
    values[1] = values[0]  # 199 distinct of 200: 0.995, shown as "≥ 0.9"
    names = _values(_lower(_first))
    found = _classify({"case_no": values, "first": names})
    signals = found["case_no"].signals
    assert signals.uniqueness == 0.9
    assert signals.code_like == 1.0
    assert signals.name_hint == "identifier"
    first = found["first"].signals
    assert first.name_hint == "FIRST_NAME"
    assert first.dictionary == "first"
    assert first.dictionary_share == round(first.dictionary_share, 2)
    assert "dictionary first" in first.text()
    dumped = repr([f.to_dict() for f in found.values()])
    for value in [*values, *names]:
        assert f"'{value}'" not in dumped


def test_hand_typed_titles_are_free_text_and_picked_labels_are_not() -> None:
    fake: Any = Faker("en_US")
    fake.seed_instance(9)
    titles = [fake.job().lower() for _ in range(220)]  # many, some repeated
    charges = [f"{fake.word()} {fake.word()} charge" for _ in range(30)]  # a short list
    rows = 600
    found = _classify(
        {
            "emp_title": [titles[i * 7 % 220] if i % 3 else titles[i % 40] for i in range(rows)],
            "charge_desc": [charges[i * 11 % 30] for i in range(rows)],
        }
    )
    assert found["emp_title"].pii_class is PiiClass.FREE_TEXT
    assert found["charge_desc"].pii_class is PiiClass.NONE


@given(st.integers(min_value=0, max_value=10**7))
def test_inventory_counts_are_rounded(count: int) -> None:
    shown = about(count)
    assert shown >= 0
    assert (shown == 0) == (count == 0)
    if count >= 10:
        assert abs(shown - count) <= 0.05 * count + 5


def test_one_more_value_does_not_move_the_stored_counts() -> None:
    def finding(sampled: int, share: float) -> dict[str, Any]:
        found = ColumnFinding("city", None, PiiClass.NONE, share, share, (), sampled)
        return ColumnFinding.to_dict(replace(found, analysed=sampled))

    four, five = finding(4, 0.5), finding(5, 0.52)
    assert four == five  # counts rounded to tens, shares to steps of 0.05
    assert (four["sampled"], four["analysed"], four["share"]) == (10, 10, 0.5)
    assert finding(1234, 0.5)["analysed"] == 1200
