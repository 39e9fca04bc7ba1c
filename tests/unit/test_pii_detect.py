"""Column classification per entity: positives, negatives and known false positives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from faker import Faker

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.pii import (
    ColumnFinding,
    CustomPattern,
    CustomRecognizer,
    PiiClass,
    classify_columns,
)

pytestmark = pytest.mark.slow

N = 80


def _column(make: Callable[[Any, int], object], locale: str = "en_US", seed: int = 7) -> list[str]:
    fake: Any = Faker(locale)
    fake.seed_instance(seed)
    return [str(make(fake, i)) for i in range(N)]


def _classify(
    columns: dict[str, list[str]], recognizers: tuple[CustomRecognizer, ...] = ()
) -> dict[str, ColumnFinding]:
    frame = pd.DataFrame(columns)
    schema = TableSchema("t", tuple(ColumnSchema(c, LogicalType.TEXT) for c in columns))
    found = classify_columns(frame, schema, sample_values=N, recognizers=recognizers)
    return {f.column: f for f in found}


def _nhs(fake: Any) -> str:
    """A valid NHS number (modulus-11 check digit), printed 3-3-4."""
    while True:
        body = [int(d) for d in fake.numerify("#########")]
        check = 11 - sum(d * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            digits = "".join(map(str, [*body, check]))
            return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


# (column name, values, expected entity, expected class); neutral names ("col") test
# the values alone, real names test the name hint combined with the values
POSITIVES: list[tuple[str, Callable[[Any, int], object], str, PiiClass]] = [
    ("col", lambda f, i: f.name(), "PERSON", PiiClass.DIRECT),
    ("col", lambda f, i: f.email(), "EMAIL_ADDRESS", PiiClass.DIRECT),
    ("col", lambda f, i: f.ssn(), "US_SSN", PiiClass.DIRECT),
    ("col", lambda f, i: f.credit_card_number(), "CREDIT_CARD", PiiClass.DIRECT),
    ("col", lambda f, i: f.iban(), "IBAN_CODE", PiiClass.DIRECT),
    ("col", lambda f, i: f.ipv4_public(), "IP_ADDRESS", PiiClass.DIRECT),
    ("col", lambda f, i: f.street_address(), "STREET_ADDRESS", PiiClass.DIRECT),
    ("phone", lambda f, i: f.phone_number(), "PHONE_NUMBER", PiiClass.DIRECT),
    ("nhs_number", lambda f, i: _nhs(f), "UK_NHS", PiiClass.DIRECT),
    ("date_of_birth", lambda f, i: f.date_of_birth().isoformat(), "DATE_OF_BIRTH", PiiClass.QUASI),
    ("zip", lambda f, i: f.zipcode(), "ZIP_CODE", PiiClass.QUASI),
    ("gender", lambda f, i: ["F", "M", "X"][i % 3], "GENDER", PiiClass.QUASI),
]


@pytest.mark.parametrize(
    ("column", "make", "entity", "pii_class"),
    POSITIVES,
    ids=[p[2] for p in POSITIVES],
)
def test_entity_is_found(
    column: str, make: Callable[[Any, int], object], entity: str, pii_class: PiiClass
) -> None:
    finding = _classify({column: _column(make)})[column]
    assert finding.entity == entity
    assert finding.pii_class is pii_class


NEGATIVES: list[tuple[str, Callable[[Any, int], object]]] = [
    ("tier", lambda f, i: ["free", "pro", "enterprise"][i % 3]),
    ("status", lambda f, i: ["active", "churned", "paused"][i % 3]),
    # product codes of order lines repeat; a catalogue's unique SKUs are no one's id either
    ("sku", lambda f, i: f"SKU-{1000 + i % 17 * 37}-{'ABCD'[i % 4]}{i % 7}"),
    ("product_code", lambda f, i: f.bothify("PRD-####-??").upper()),
    ("colour", lambda f, i: f.color_name()),
    ("amount", lambda f, i: f"{f.pyfloat(min_value=1, max_value=900, right_digits=2)}"),
    ("visits", lambda f, i: str(i % 13)),
    ("diagnosis", lambda f, i: ["E11.9", "I10", "J45.909", "M54.5", "K21.9"][i % 5]),
    ("day", lambda f, i: f.date_between("-2y").isoformat()),
]


@pytest.mark.parametrize(("column", "make"), NEGATIVES, ids=[n[0] for n in NEGATIVES])
def test_no_pii_is_found_in_ordinary_columns(
    column: str, make: Callable[[Any, int], object]
) -> None:
    finding = _classify({column: _column(make)})[column]
    assert finding.pii_class is PiiClass.NONE, finding.entity
    assert finding.entity is None
    assert not finding.suspected


# many distinct values of several words: free text (dropped or redacted), never an identifier
PHRASES: list[tuple[str, Callable[[Any, int], object]]] = [
    ("product", lambda f, i: f.catch_phrase()),
    # a number then words is an address only with capitals ("12 Baker Street")
    ("line", lambda f, i: f"{i % 9 + 1} {f.word()} of {f.word()} {f.word()}"),
    ("emp_title", lambda f, i: f.job()),
]


@pytest.mark.parametrize(("column", "make"), PHRASES, ids=[n[0] for n in PHRASES])
def test_many_distinct_phrases_are_free_text(
    column: str, make: Callable[[Any, int], object]
) -> None:
    finding = _classify({column: _column(make)})[column]
    assert finding.pii_class is PiiClass.FREE_TEXT
    assert finding.entity is None


PRODUCTS = [
    "Tesla Model 3",
    "Dyson V11",
    "Bose QuietComfort",
    "Herman Miller Aeron",
    "Jordan Retro",
    "Karl Lagerfeld Bag",
    "Ray Ban Wayfarer",
    "Calvin Klein Jeans",
    "Tommy Hilfiger Shirt",
    "Apple iPhone 12",
    "Samsung Galaxy S21",
    "Nike Air Max",
    "Ford Mustang",
    "Canon EOS R5",
    "Hugo Boss Suit",
    "Lenovo ThinkPad",
]


def test_known_false_positives() -> None:
    fake: Any = Faker("en_US")
    fake.seed_instance(11)
    found = _classify(
        {
            # ten-digit phone numbers pass the NHS checksum one time in eleven
            "contact": [fake.numerify("##########") for _ in range(N)],
            # a string id column looks like a bank account number to Presidio
            "customer_id": [str(10_000_000 + 7919 * i) for i in range(N)],
            # brands that spaCy reads as people
            "product_name": [PRODUCTS[i % len(PRODUCTS)] for i in range(N)],
            "product": [PRODUCTS[i % len(PRODUCTS)] for i in range(N)],
        }
    )
    assert found["contact"].entity != "UK_NHS"
    # a unique id is an identifier, but of the record, not a bank account
    assert found["customer_id"].entity == "RECORD_ID"
    assert found["product_name"].entity != "PERSON"
    assert found["product"].entity != "PERSON"


def test_phone_numbers_of_several_shapes_are_phones_not_nhs() -> None:
    found = _classify({"col": _column(lambda f, i: f.phone_number(), seed=3)})["col"]
    assert found.entity == "PHONE_NUMBER"
    assert "UK_NHS" not in (found.entity, *found.also)


def test_hint_only_entities_need_their_column_name() -> None:
    digits = [str(40_000_000_000 + 104_729 * i) for i in range(N)]
    found = _classify({"bank_account": digits, "reference": digits})
    assert found["bank_account"].entity == "US_BANK_NUMBER"
    assert found["bank_account"].pii_class is PiiClass.DIRECT
    assert found["reference"].entity == "RECORD_ID"  # unique numbers: a record id


CUSTOMER = CustomRecognizer(
    entity="CUSTOMER_ID",
    pii_class=PiiClass.DIRECT,
    patterns=(CustomPattern(r"\bCUS-\d{3}-[A-Z]{2}\b", 0.9),),
    context=("customer",),
)


def test_custom_recognizer_from_values_alone() -> None:
    values = _column(lambda f, i: f.bothify("CUS-###-??").upper())
    found = _classify({"ref": values}, (CUSTOMER,))["ref"]
    assert found.entity == "CUSTOMER_ID"
    assert found.pii_class is PiiClass.DIRECT
    assert found.share >= 0.9
    # without the pack's recognizer the same unique codes are record identifiers
    assert _classify({"ref": values})["ref"].entity == "RECORD_ID"


def test_custom_recognizer_does_not_match_near_misses() -> None:
    values = _column(lambda f, i: f.bothify("CUS-####-?").upper())
    # unique codes are record identifiers, but not the pack's customer ids
    assert _classify({"ref": values}, (CUSTOMER,))["ref"].entity == "RECORD_ID"


def test_custom_recognizer_by_column_name() -> None:
    named = CustomRecognizer(
        entity="LOYALTY_NO",
        pii_class=PiiClass.QUASI,
        patterns=(CustomPattern(r"\bL\d{8}\b", 0.8),),
        name_pattern=r"^loyalty",
    )
    found = _classify({"loyalty_card": ["x"] * N}, (named,))["loyalty_card"]
    assert found.entity == "LOYALTY_NO"
    assert found.pii_class is PiiClass.QUASI


def test_free_text_with_pii_is_free_text() -> None:
    def note(f: Any, i: int) -> str:
        return f"Customer {f.name()} called about the invoice, reach at {f.email()} tomorrow"

    found = _classify({"notes": _column(note)})["notes"]
    assert found.pii_class is PiiClass.FREE_TEXT


def test_free_text_without_detected_pii_is_still_free_text() -> None:
    found = _classify({"notes": _column(lambda f, i: f.sentence(nb_words=10))})["notes"]
    assert found.pii_class is PiiClass.FREE_TEXT
    assert found.entity is None
    assert found.evidence == ("free text",)


def test_repeated_sentences_are_not_free_text() -> None:
    texts = ["Delivered on time and in good order", "Returned by the customer for a refund"]
    found = _classify({"outcome": [texts[i % 2] for i in range(N)]})["outcome"]
    assert found.pii_class is PiiClass.NONE


@pytest.mark.parametrize("locale", ["en_GB", "de_DE", "fr_FR"])
def test_names_and_emails_in_other_locales(locale: str) -> None:
    found = _classify(
        {
            "name": _column(lambda f, i: f.name(), locale),
            "col": _column(lambda f, i: f.email(), locale),
            "col2": _column(lambda f, i: f.street_address(), locale),
        }
    )
    assert found["name"].entity == "PERSON"
    assert found["col"].entity == "EMAIL_ADDRESS"
    # house number first (en_GB), street then number (de_DE), "12, rue …" (fr_FR)
    assert found["col2"].entity == "STREET_ADDRESS"


def test_sampling_reads_distinct_values_only() -> None:
    frame = pd.DataFrame({"tier": ["pro"] * 5000 + ["free"] * 5000})
    schema = TableSchema("t", (ColumnSchema("tier", LogicalType.TEXT),))
    (finding,) = classify_columns(frame, schema, sample_values=1000)
    assert finding.sampled == 2
