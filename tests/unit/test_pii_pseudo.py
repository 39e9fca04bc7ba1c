"""Keyed pseudonyms: consistency, key separation, no collisions, referential integrity."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgate.errors import ConfigError, redact
from synthgate.pii import MIN_KEY_CHARS, Pseudonymizer, load_key

KEY = b"a test key that is long enough"
OTHER = b"another key, also long enough!"

SAMPLES = {
    "US_SSN": ["123-45-6789", "987-65-4321", "001-02-0003"],
    "PHONE_NUMBER": ["(555) 123-4567", "+44 20 7946 0958", "555.987.0011"],
    "CREDIT_CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "IBAN_CODE": ["DE89370400440532013000", "GB82WEST12345698765432"],
    "CUSTOMER_ID": ["CUST-000042", "CUST-999999"],
    "EMAIL_ADDRESS": ["ada@example.com", "Grace.Hopper@navy.mil"],
    "PERSON": ["Ada Lovelace", "Grace Brewster Hopper", "ADA"],
    "STREET_ADDRESS": ["12 Baker Street"],
    "IP_ADDRESS": ["192.168.0.1", "2001:db8::1"],
}


@pytest.mark.parametrize("entity", sorted(SAMPLES))
def test_same_key_same_surrogate_and_never_the_input(entity: str) -> None:
    values = SAMPLES[entity]
    first = Pseudonymizer(KEY).surrogates(entity, values)
    again = Pseudonymizer(KEY).surrogates(entity, list(reversed(values)))
    assert first == list(reversed(again))
    assert not set(first) & set(values)
    other = Pseudonymizer(OTHER).surrogates(entity, values)
    assert all(a != b for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize(
    ("entity", "value", "shape"),
    [
        ("US_SSN", "123-45-6789", r"^\d{3}-\d{2}-\d{4}$"),
        ("PHONE_NUMBER", "(555) 123-4567", r"^\(\d{3}\) \d{3}-\d{4}$"),
        ("IBAN_CODE", "DE89370400440532013000", r"^DE\d{20}$"),
        ("CUSTOMER_ID", "CUST-000042", r"^CUST-\d{6}$"),
        ("EMAIL_ADDRESS", "ada@example.com", r"^[a-z]+\.[a-z]+\d+@[a-z.]+$"),
        ("PERSON", "Ada Lovelace", r"^[A-Z][a-z]+ [A-Z][a-z'-]+$"),
        ("PERSON", "ADA", r"^[A-Z'-]+$"),
        ("IP_ADDRESS", "10.0.0.1", r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"),
    ],
)
def test_surrogates_keep_the_format(entity: str, value: str, shape: str) -> None:
    assert re.match(shape, Pseudonymizer(KEY).surrogate(entity, value))


def test_different_keys_give_unrelated_surrogates() -> None:
    values = [f"{i:03d}-{i % 97:02d}-{i:04d}" for i in range(2000)]
    a = Pseudonymizer(KEY).surrogates("US_SSN", values)
    b = Pseudonymizer(OTHER).surrogates("US_SSN", values)
    same_digit = sum(x[0] == y[0] for x, y in zip(a, b, strict=True)) / len(a)
    assert sum(x == y for x, y in zip(a, b, strict=True)) == 0
    assert 0.05 < same_digit < 0.15  # first digits agree about one time in ten


@pytest.mark.slow
def test_no_collisions_on_a_million_distinct_inputs() -> None:
    ids = [f"C{i:09d}" for i in range(1_000_000)]
    out = Pseudonymizer(KEY).surrogates("CUSTOMER_ID", ids)
    assert len(set(out)) == len(ids)
    emails = [f"user{i}@corp.example" for i in range(1_000_000)]
    assert len(set(Pseudonymizer(KEY).surrogates("EMAIL_ADDRESS", emails))) == len(emails)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**12 - 1), min_size=2, max_size=50, unique=True)
)
def test_digit_surrogates_are_a_permutation(numbers: list[int]) -> None:
    values = [f"{n:012d}" for n in numbers]
    out = Pseudonymizer(KEY).surrogates("ACCOUNT", values)
    assert len(set(out)) == len(values)
    assert all(len(v) == 12 and v.isdigit() for v in out)


def test_referential_integrity_across_two_tables() -> None:
    customers = pd.DataFrame({"customer_id": ["C-001", "C-002", "C-003"], "x": [1, 2, 3]})
    orders = pd.DataFrame({"customer_id": ["C-003", "C-001", "C-001", None, "C-002"]})
    p = Pseudonymizer(KEY)
    masked_c = customers.assign(customer_id=p.map("CUSTOMER_ID", customers["customer_id"]))
    # another run, another process: a fresh pseudonymizer under the same key
    masked_o = orders.assign(
        customer_id=Pseudonymizer(KEY).map("CUSTOMER_ID", orders["customer_id"])
    )
    joined = masked_o.dropna().merge(masked_c, on="customer_id", how="left")
    assert joined["x"].tolist() == [3, 1, 1, 2]
    assert masked_o["customer_id"].isna().tolist() == [False, False, False, True, False]
    assert not set(masked_c["customer_id"]) & set(customers["customer_id"])


def test_the_key_is_not_in_the_repr() -> None:
    assert "test key" not in repr(Pseudonymizer(KEY))
    assert "test key" not in repr(vars(Pseudonymizer(KEY)).keys())


def test_short_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=f"at least {MIN_KEY_CHARS}"):
        Pseudonymizer(b"short")


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_key(env="MY_PSEUDO_KEY", key_file=None, environ={})
    assert "MY_PSEUDO_KEY" in str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_key_from_env_is_registered_as_a_secret() -> None:
    secret = "env-key-0123456789-abcdef"
    assert load_key(env="K", key_file=None, environ={"K": secret}) == secret.encode()
    assert secret not in redact(f"oops {secret}")


def test_key_from_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("file-key-0123456789-abcdef\n")
    assert load_key(env="UNSET", key_file=path, environ={}) == b"file-key-0123456789-abcdef"
    with pytest.raises(ConfigError, match="cannot be read"):
        load_key(env="UNSET", key_file=tmp_path / "missing", environ={})
    path.write_text("k3y-9\n")
    with pytest.raises(ConfigError, match="too short") as info:
        load_key(env="UNSET", key_file=path, environ={})
    assert "k3y-9" not in str(info.value)


def test_integer_keys_stay_distinct_integers() -> None:
    from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
    from synthgate.pii import ColumnFinding, MaskAction, PiiClass, build_plan, masked_copy

    frame = pd.DataFrame({"id": pd.array([1, 2, 3, 10**9], dtype="Int64")})
    schema = TableSchema("t", (ColumnSchema("id", LogicalType.IDENTIFIER, native_type="INTEGER"),))
    plan = build_plan(
        [ColumnFinding("id", None, PiiClass.NONE, 0, 0, (), 0)],
        schema,
        class_actions={},
        overrides={"id": MaskAction.PSEUDONYMIZE},
    )
    out = masked_copy(frame, plan, Pseudonymizer(KEY), seed=0)
    assert out["id"].dtype == "Int64"
    assert out["id"].nunique() == 4
    assert not set(out["id"]) & set(frame["id"])


@settings(max_examples=80, deadline=None)
@given(key=st.binary(min_size=16, max_size=100), messages=st.lists(st.binary(max_size=200)))
def test_batched_hmac_is_hmac_sha256(key: bytes, messages: list[bytes]) -> None:
    import hmac

    from synthgate.pii._pseudo import hmac_sha256_many

    assert hmac_sha256_many(key, messages) == [hmac.digest(key, m, "sha256") for m in messages]
