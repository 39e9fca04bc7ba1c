from __future__ import annotations

import pandas as pd
import pytest
from faker import Faker

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.pii import (
    LeakScanner,
    MaskAction,
    PiiClass,
    build_plan,
    classify_columns,
    refill,
)
from synthgate.pii._entities import entity_from_name, id_from_name, weak_person_hint
from synthgate.pii._fake import fake_values


@pytest.mark.parametrize(
    ("column", "entity"),
    [
        ("email", "EMAIL_ADDRESS"),
        ("E_Mail", "EMAIL_ADDRESS"),
        ("customerEmail", "EMAIL_ADDRESS"),
        ("phone", "PHONE_NUMBER"),
        ("ssn", "US_SSN"),
        ("first_name", "FIRST_NAME"),
        ("fname", "FIRST_NAME"),
        ("given_name", "FIRST_NAME"),
        ("name_given", "FIRST_NAME"),
        ("Vorname", "FIRST_NAME"),
        ("Prénom", "FIRST_NAME"),
        ("voornaam", "FIRST_NAME"),
        ("customer_first_name", "FIRST_NAME"),
        ("surname", "LAST_NAME"),
        ("last_name", "LAST_NAME"),
        ("name_family", "LAST_NAME"),
        ("Nachname", "LAST_NAME"),
        ("apellido", "LAST_NAME"),
        ("cognome", "LAST_NAME"),
        ("name", "PERSON"),
        ("full_name", "PERSON"),
        ("patient_name", "PERSON"),
        ("date_of_birth", "DATE_OF_BIRTH"),
        ("zip", "ZIP_CODE"),
        ("ip_address", "IP_ADDRESS"),
        ("street_address", "STREET_ADDRESS"),
        # negatives: names that must not announce PII
        ("product_name", None),
        ("plan", None),
        ("company", None),
        ("username_count", None),
        ("page", None),
        ("region", None),
        ("first_seen", None),
        ("last_login", None),
        # bare words are weak hints (values must agree), not entities by name
        ("first", None),
        ("last", None),
        ("nom", None),
        # identifiers are found by values; a name alone never makes one
        ("c_case_number", None),
        ("id", None),
    ],
)
def test_column_name_hints(column: str, entity: str | None) -> None:
    assert entity_from_name(column) == entity


@pytest.mark.parametrize(
    ("column", "weak", "identifier"),
    [
        ("first", "FIRST_NAME", False),
        ("given", "FIRST_NAME", False),
        ("last", "LAST_NAME", False),
        ("nom", "LAST_NAME", False),
        ("id", None, True),
        ("rownames", None, True),
        ("Unnamed: 0", None, True),
        ("c_case_number", None, True),
        ("customer_id", None, True),
        ("order_ref", None, True),
        # negatives
        ("first_seen", None, False),
        ("identity_verified", None, False),
        ("video", None, False),
        ("name", None, False),
    ],
)
def test_weak_and_identifier_name_hints(column: str, weak: str | None, identifier: bool) -> None:
    assert weak_person_hint(column) == weak
    assert id_from_name(column) is identifier


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    fake = Faker("en_US")
    fake.seed_instance(3)
    n = 150
    return pd.DataFrame(
        {
            "col_a": [fake.name() for _ in range(n)],
            "col_b": [fake.email() for _ in range(n)],
            "col_c": [fake.ssn() for _ in range(n)],
            "col_d": [fake.ipv4_public() for _ in range(n)],
            "col_e": [fake.street_address() for _ in range(n)],
            "tier": [["free", "pro", "enterprise"][i % 3] for i in range(n)],
            "product": [fake.catch_phrase() for _ in range(n)],
            "spend": [float(i) for i in range(n)],
        }
    )


def _schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(
        "t",
        tuple(
            ColumnSchema(c, LogicalType.FLOAT if frame[c].dtype.kind == "f" else LogicalType.TEXT)
            for c in frame.columns
        ),
    )


@pytest.mark.slow
def test_presidio_finds_entities_from_values_alone(people: pd.DataFrame) -> None:
    found = {f.column: f for f in classify_columns(people, _schema(people), sample_values=100)}
    assert found["col_a"].entity == "PERSON"
    assert found["col_b"].entity == "EMAIL_ADDRESS"
    assert found["col_c"].entity == "US_SSN"
    assert found["col_d"].entity == "IP_ADDRESS"
    assert found["col_e"].entity == "STREET_ADDRESS"
    for col in ("col_a", "col_b", "col_c", "col_d", "col_e"):
        assert found[col].pii_class is PiiClass.DIRECT
        assert found[col].share >= 0.5
    for col in ("tier", "spend"):
        assert found[col].pii_class is PiiClass.NONE, col
    # 150 distinct catch phrases of three words: free text, never an identifier
    assert found["product"].pii_class is PiiClass.FREE_TEXT
    assert found["product"].entity is None


@pytest.mark.slow
def test_findings_never_hold_sampled_values(people: pd.DataFrame) -> None:
    findings = classify_columns(people, _schema(people), sample_values=50)
    dumped = repr([f.to_dict() for f in findings])
    for value in people["col_a"].tolist() + people["col_b"].tolist():
        assert value not in dumped


def test_direct_identifiers_never_kept_even_when_asked() -> None:
    from synthgate.pii import ColumnFinding

    schema = TableSchema(
        "t", (ColumnSchema("email", LogicalType.TEXT), ColumnSchema("x", LogicalType.FLOAT))
    )
    findings = [
        ColumnFinding("email", "EMAIL_ADDRESS", PiiClass.DIRECT, 1.0, 1.0, ("presidio",), 10),
        ColumnFinding("x", None, PiiClass.NONE, 0.0, 0.0, (), 0),
    ]
    actions = {PiiClass.DIRECT: MaskAction.FAKE}
    plan = build_plan(findings, schema, class_actions=actions, overrides={"email": MaskAction.KEEP})
    assert plan.action("email").action is MaskAction.FAKE
    assert "refused" in plan.action("email").reason
    assert plan.columns(MaskAction.KEEP) == ["x"]


def test_fake_values_never_equal_a_real_value() -> None:
    real = fake_values("PERSON", 300, seed=1)
    scanner = LeakScanner()
    scanner.add(real)
    # the same seed would reproduce every real value; the scanner forces redraws
    out = fake_values("PERSON", 300, seed=1, avoid=scanner)
    assert not any(v in scanner for v in out)


def test_leak_scan_counts_replayed_identifiers_without_keeping_them() -> None:
    scanner = LeakScanner()
    scanner.add(["Ada Lovelace", "ada@example.com"])
    synthetic = pd.DataFrame(
        {"n": ["ADA  lovelace", "Grace Hopper"], "m": ["x", "ada@example.com"], "k": [1, 2]}
    )
    assert scanner.scan(synthetic) == {"n": 1, "m": 1}
    assert "Ada Lovelace" not in repr(vars(scanner))


def test_refill_rekeys_and_fakes_in_source_order() -> None:
    from synthgate.pii import ColumnFinding

    schema = TableSchema(
        "t",
        (
            ColumnSchema("id", LogicalType.IDENTIFIER, native_type="INTEGER"),
            ColumnSchema("name", LogicalType.TEXT),
            ColumnSchema("x", LogicalType.FLOAT),
        ),
        primary_key=("id",),
    )
    findings = [
        ColumnFinding("id", None, PiiClass.NONE, 0, 0, (), 0),
        ColumnFinding("name", "PERSON", PiiClass.DIRECT, 1, 1, ("name",), 5),
        ColumnFinding("x", None, PiiClass.NONE, 0, 0, (), 0),
    ]
    plan = build_plan(
        findings, schema, class_actions={PiiClass.DIRECT: MaskAction.FAKE}, overrides={}
    )
    assert [a.action for a in plan.actions] == [MaskAction.REKEY, MaskAction.FAKE, MaskAction.KEEP]
    out = refill(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), plan, schema, seed=0)
    assert list(out.columns) == ["id", "name", "x"]
    assert out["id"].tolist() == [1, 2, 3]
    assert all(isinstance(v, str) for v in out["name"])
