"""Masking plans, transforms before the synthesizer, refill after it, and policy rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import ConfigError
from synthgate.pii import (
    ColumnFinding,
    DatePrecision,
    Generalization,
    LeakScanner,
    MaskAction,
    PiiClass,
    Pseudonymizer,
    apply_plan,
    build_plan,
    generalize,
    masked_copy,
    redact_texts,
    refill,
)
from synthgate.release import load_policy, read_policy_file

KEY = b"a test key that is long enough"

SCHEMA = TableSchema(
    "t",
    (
        ColumnSchema("id", LogicalType.IDENTIFIER, native_type="INTEGER"),
        ColumnSchema("email", LogicalType.TEXT),
        ColumnSchema("dob", LogicalType.DATE),
        ColumnSchema("zip", LogicalType.TEXT),
        ColumnSchema("age", LogicalType.INTEGER),
        ColumnSchema("gender", LogicalType.CATEGORICAL),
        ColumnSchema("notes", LogicalType.TEXT),
        ColumnSchema("spend", LogicalType.FLOAT),
    ),
    primary_key=("id",),
)
FINDINGS = [
    ColumnFinding("id", None, PiiClass.NONE, 0, 0, (), 0),
    ColumnFinding("email", "EMAIL_ADDRESS", PiiClass.DIRECT, 1, 1, ("presidio",), 9),
    ColumnFinding("dob", "DATE_OF_BIRTH", PiiClass.QUASI, 0, 0.5, ("name",), 0),
    ColumnFinding("zip", "ZIP_CODE", PiiClass.QUASI, 1, 1, ("name",), 9),
    ColumnFinding("age", "AGE", PiiClass.QUASI, 0, 0.5, ("name",), 0),
    ColumnFinding("gender", "GENDER", PiiClass.QUASI, 0, 0.5, ("name",), 0),
    ColumnFinding("notes", "PERSON", PiiClass.FREE_TEXT, 0.5, 0.5, ("presidio",), 9),
    ColumnFinding("spend", None, PiiClass.NONE, 0, 0, (), 0),
]
CLASSES = {
    PiiClass.DIRECT: MaskAction.PSEUDONYMIZE,
    PiiClass.QUASI: MaskAction.GENERALIZE,
    PiiClass.FREE_TEXT: MaskAction.REDACT,
}


def _plan(**overrides: MaskAction) -> dict[str, MaskAction]:
    plan = build_plan(FINDINGS, SCHEMA, class_actions=CLASSES, overrides=overrides)
    return {a.column: a.action for a in plan.actions}


def test_policy_actions_per_class() -> None:
    assert _plan() == {
        "id": MaskAction.REKEY,
        "email": MaskAction.PSEUDONYMIZE,
        "dob": MaskAction.GENERALIZE,
        "zip": MaskAction.GENERALIZE,
        "age": MaskAction.GENERALIZE,
        "gender": MaskAction.KEEP,  # no generalization for gender: learned as is
        "notes": MaskAction.REDACT,
        "spend": MaskAction.KEEP,
    }


@pytest.mark.parametrize(
    ("column", "asked", "got"),
    [
        ("email", MaskAction.KEEP, MaskAction.FAKE),
        ("email", MaskAction.REDACT, MaskAction.FAKE),
        ("email", MaskAction.DROP, MaskAction.DROP),
        ("notes", MaskAction.KEEP, MaskAction.REDACT),
        ("notes", MaskAction.DROP, MaskAction.DROP),
        ("id", MaskAction.PSEUDONYMIZE, MaskAction.PSEUDONYMIZE),
        ("dob", MaskAction.KEEP, MaskAction.KEEP),
    ],
)
def test_job_spec_overrides_and_what_is_refused(
    column: str, asked: MaskAction, got: MaskAction
) -> None:
    assert _plan(**{column: asked})[column] is got


@pytest.mark.parametrize(
    ("column", "asked", "message"),
    [
        ("spend", MaskAction.GENERALIZE, "'generalize' applies to"),
        ("gender", MaskAction.GENERALIZE, "'generalize' applies to"),
        ("spend", MaskAction.REDACT, "'redact' applies to text columns"),
    ],
)
def test_impossible_overrides_are_one_line_config_errors(
    column: str, asked: MaskAction, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _plan(**{column: asked})
    assert f"pii.columns.{column}" in str(info.value)
    assert "\n" not in str(info.value)


def test_policy_entity_action_comes_before_the_class_action() -> None:
    plan = build_plan(
        FINDINGS,
        SCHEMA,
        class_actions=CLASSES,
        overrides={},
        entity_actions={"ZIP_CODE": MaskAction.DROP},
    )
    assert plan.action("zip").action is MaskAction.DROP
    assert plan.action("dob").action is MaskAction.GENERALIZE


def _frame(n: int = 40) -> pd.DataFrame:
    fake = Faker("en_US")
    fake.seed_instance(5)
    return pd.DataFrame(
        {
            "id": pd.array(range(1, n + 1), dtype="Int64"),
            "email": [fake.email() for _ in range(n)],
            "dob": [fake.date_of_birth() for _ in range(n)],
            "zip": [fake.zipcode() for _ in range(n)],
            "age": [20 + i % 50 for i in range(n)],
            "gender": [["F", "M"][i % 2] for i in range(n)],
            "notes": [f"Call {fake.name()} on {fake.phone_number()}" for _ in range(n)],
            "spend": [float(i) for i in range(n)],
        }
    )


def test_the_synthesizer_never_sees_a_direct_identifier() -> None:
    frame = _frame()
    plan = build_plan(FINDINGS, SCHEMA, class_actions=CLASSES, overrides={})
    model = apply_plan(frame, plan)
    assert list(model.columns) == ["dob", "zip", "age", "gender", "notes", "spend"]
    real = set(frame["email"])
    assert not any(v in real for col in model.columns for v in model[col].astype(str))
    # generalized before the model sees them, keeping each column's kind
    assert all(d.day == 1 for d in model["dob"])
    assert model["zip"].str.len().max() == 3
    assert model["age"].dtype == "Int64"
    assert (model["age"] % 10 == 0).all()


def test_generalizations() -> None:
    dates = pd.Series([dt.date(1980, 5, 17), None, dt.date(1980, 5, 2)], dtype=object)
    assert generalize("DATE_OF_BIRTH", dates, Generalization()).tolist() == [
        dt.date(1980, 5, 1),
        None,
        dt.date(1980, 5, 1),
    ]
    years = generalize("DATE_OF_BIRTH", dates, Generalization(date=DatePrecision.YEAR))
    assert years.tolist() == [dt.date(1980, 1, 1), None, dt.date(1980, 1, 1)]
    stamps = pd.Series([pd.Timestamp("1980-05-17 10:00"), pd.NaT])
    out = generalize(None, stamps, Generalization())
    assert out.dtype == stamps.dtype
    assert out.iloc[0] == pd.Timestamp("1980-05-01")
    assert pd.isna(out.iloc[1])
    text = pd.Series(["1980-05-17", "not a date"])
    assert generalize("DATE_OF_BIRTH", text, Generalization()).tolist() == ["1980-05", None]
    zips = pd.Series(["SW1A 1AA", "02139", None])
    assert generalize("ZIP_CODE", zips, Generalization(zip_digits=2)).tolist() == ["SW", "02", None]
    ages = pd.Series(["0", "9", "10", "47", None], dtype=object)
    assert generalize("AGE", ages, Generalization(age_band=10)).tolist() == [
        "0-9",
        "0-9",
        "10-19",
        "40-49",
        None,
    ]
    numbers = pd.Series(pd.array([0, 9, 10, 47, None], dtype="Int64"))
    banded = generalize("AGE", numbers, Generalization(age_band=10))
    assert banded.dtype == "Int64"
    assert banded.tolist()[:4] == [0, 0, 10, 40]
    assert pd.isna(banded.iloc[4])
    with pytest.raises(ValueError, match="no generalization"):
        generalize("PERSON", zips, Generalization())


@pytest.mark.slow
def test_redaction_leaves_no_detected_span() -> None:
    fake = Faker("en_US")
    fake.seed_instance(9)
    # phone numbers of a valid plan (Faker's often have impossible area codes)
    people = [(fake.name(), fake.email(), fake.numerify("(212) 7##-####")) for _ in range(20)]
    texts = [f"Spoke with {n} ({e}), phone {p}, about the renewal." for n, e, p in people]
    out = redact_texts(texts)
    for (name, email, phone), text in zip(people, out, strict=True):
        assert email not in text
        assert phone not in text
        assert name not in text
        assert "<EMAIL_ADDRESS>" in text
    # what is left is clean: analysing the redacted text finds nothing
    from synthgate.pii._transform import detected_spans

    assert not any(detected_spans(out))


@pytest.mark.slow
def test_redaction_with_keyed_surrogates() -> None:
    p = Pseudonymizer(KEY)
    text = "Write to ada.lovelace@example.com today."
    (out,) = redact_texts([text], surrogate=p.surrogate)
    assert "ada.lovelace@example.com" not in out
    assert p.surrogate("EMAIL_ADDRESS", "ada.lovelace@example.com") in out


def test_redaction_maps_distinct_values_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgate.pii import _mask

    calls: list[int] = []

    def fake_redact(texts: list[str], **_: object) -> list[str]:
        calls.append(len(texts))
        return ["<REDACTED>"] * len(texts)

    monkeypatch.setattr(_mask, "redact_texts", fake_redact)
    frame = pd.DataFrame({"notes": ["a b", "c d", "a b", None] * 250})
    schema = TableSchema("t", (ColumnSchema("notes", LogicalType.TEXT),))
    finding = ColumnFinding("notes", "PERSON", PiiClass.FREE_TEXT, 1, 1, (), 2)
    plan = build_plan(
        [finding], schema, class_actions={PiiClass.FREE_TEXT: MaskAction.REDACT}, overrides={}
    )
    out = apply_plan(frame, plan)
    assert calls == [2]
    assert out["notes"].isna().sum() == 250
    assert set(out["notes"].dropna()) == {"<REDACTED>"}


def test_refill_pseudonymizes_synthetic_rows_under_the_key() -> None:
    frame = _frame()
    plan = build_plan(
        FINDINGS, SCHEMA, class_actions=CLASSES, overrides={"id": MaskAction.PSEUDONYMIZE}
    )
    leak = LeakScanner()
    leak.add_frame(frame, plan.direct_identifiers)
    synthetic = apply_plan(frame, plan).iloc[:30].reset_index(drop=True)
    a = refill(synthetic, plan, SCHEMA, seed=1, avoid=leak, pseudonymizer=Pseudonymizer(KEY))
    b = refill(synthetic, plan, SCHEMA, seed=2, avoid=leak, pseudonymizer=Pseudonymizer(KEY))
    c = refill(
        synthetic,
        plan,
        SCHEMA,
        seed=1,
        avoid=leak,
        pseudonymizer=Pseudonymizer(b"yet another key, long enough"),
    )
    assert list(a.columns) == list(SCHEMA.column_names)
    assert a["email"].tolist() == b["email"].tolist()  # the key decides, not the seed
    assert a["id"].tolist() == b["id"].tolist()
    assert a["email"].tolist() != c["email"].tolist()
    assert a["email"].is_unique
    assert a["id"].is_unique
    assert sum(leak.scan(a).values()) == 0
    with pytest.raises(ConfigError, match="no key"):
        refill(synthetic, plan, SCHEMA, seed=1)


def test_masked_copy_transforms_real_rows() -> None:
    frame = _frame()
    plan = build_plan(FINDINGS, SCHEMA, class_actions=CLASSES, overrides={"notes": MaskAction.DROP})
    out = masked_copy(frame, plan, Pseudonymizer(KEY), seed=0)
    assert "notes" not in out.columns
    assert out["spend"].tolist() == frame["spend"].tolist()
    assert not set(out["email"]) & set(frame["email"])
    assert out["email"].nunique() == frame["email"].nunique()
    again = masked_copy(frame.iloc[::-1], plan, Pseudonymizer(KEY), seed=0)
    assert again["email"].tolist() == out["email"].tolist()[::-1]


# --------------------------------------------------------------------------- policy


def _pack(tmp_path: Path, pii: str) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(f"name: mine\npii:\n{pii}\nrules: []\n")
    return path


def test_pack_recognizers_become_custom_recognizers(tmp_path: Path) -> None:
    pack = read_policy_file(
        _pack(
            tmp_path,
            "  recognizers:\n"
            "    - entity: CUSTOMER_ID\n"
            "      class: direct_identifier\n"
            "      patterns: [{regex: 'CUS-\\d{6}', score: 0.9}]\n"
            "      context: [customer]\n"
            "      column_names: '^cust'\n"
            "  entities: {CUSTOMER_ID: pseudonymize}\n",
        )
    )
    (rec,) = pack.pii.custom_recognizers()
    assert rec.entity == "CUSTOMER_ID"
    assert rec.pii_class is PiiClass.DIRECT
    assert rec.context == ("customer",)
    assert pack.pii.needs_key


@pytest.mark.parametrize(
    ("pii", "message"),
    [
        (
            "  recognizers: [{entity: CUSTOMER_ID, patterns: [{regex: 'CUS-(\\d', score: 0.9}]}]",
            "recognizer CUSTOMER_ID: patterns[0].regex is not a valid regular expression",
        ),
        (
            "  recognizers: [{entity: CUSTOMER_ID, patterns: [{regex: '\\d*', score: 0.9}]}]",
            "matches the empty string",
        ),
        (
            "  recognizers: [{entity: PERSON, patterns: [{regex: 'x+', score: 0.9}]}]",
            "PERSON is a built-in entity",
        ),
        ("  direct_identifier: generalize", "pii.direct_identifier cannot be 'generalize'"),
        ("  free_text: keep", "pii.free_text cannot be 'keep'"),
        ("  entities: {EMAIL_ADDRESS: keep}", "pii.entities.EMAIL_ADDRESS cannot be 'keep'"),
        ("  entities: {PERSON: generalize}", "'generalize' applies to"),
        ("  entities: {NOPE: drop}", "pii.entities.NOPE: unknown entity"),
        ("  quasi_identifier: rekey", "pii.quasi_identifier cannot be 'rekey'"),
    ],
)
def test_bad_pii_policies_are_rejected(tmp_path: Path, pii: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_policy_file(_pack(tmp_path, pii))
    text = " ".join([str(info.value), *info.value.problems])
    assert message in text
    assert str(tmp_path / "pack.yaml") in str(info.value)
    assert info.value.exit_code == 2


def test_shipped_packs_load_and_lint_clean() -> None:
    from synthgate.release import lint_policy, policy_path

    for name in ("default", "strict", "internal-testing"):
        pack = load_policy(name)
        assert not pack.pii.needs_key, name  # no shipped pack demands a key by default
        errors = [p for p in lint_policy(policy_path(name)) if p.severity.value == "error"]
        assert errors == [], name
    assert load_policy("strict").pii.quasi_identifier is MaskAction.GENERALIZE


def test_policy_lint_names_a_bad_recognizer(tmp_path: Path) -> None:
    from synthgate.release import lint_policy

    path = _pack(
        tmp_path,
        "  recognizers: [{entity: ACCT, patterns: [{regex: '[unclosed', score: 0.5}]}]",
    )
    problems = lint_policy(path)
    assert any("recognizer ACCT" in p.message and p.line == 3 for p in problems), problems


@pytest.mark.slow
def test_text_scan_counts_identifiers_left_in_output_text() -> None:
    from synthgate.pii import scan_text_columns

    out = pd.DataFrame(
        {
            "notes": [
                "Renewal call, write to <EMAIL_ADDRESS> about the invoice",
                "Renewal call, write to grace.hopper@navy.mil about the invoice",
                "Meeting in Paris with Acme Corp",  # a place and a company are not leaks
                None,
            ],
            "other": ["ada@example.com"] * 4,
        }
    )
    assert scan_text_columns(out, ["notes", "missing"]) == {"notes": 1}
    dumped = repr(scan_text_columns(out, ["notes"]))
    assert "grace" not in dumped


def test_policy_lint_warns_that_a_pseudonymizing_pack_needs_a_key(tmp_path: Path) -> None:
    from synthgate.release import lint_policy

    warned = lint_policy(_pack(tmp_path, "  direct_identifier: pseudonymize"))
    assert [p.code for p in warned if p.code == "pii-key"] == ["pii-key"]
    assert all(p.severity.value == "warning" for p in warned if p.code == "pii-key")
    quiet = lint_policy(_pack(tmp_path, "  direct_identifier: fake"))
    assert not [p for p in quiet if p.code == "pii-key"]


@settings(max_examples=60, deadline=None)
@given(
    dates=st.lists(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31))),
    ages=st.lists(st.integers(min_value=0, max_value=120)),
    band=st.integers(min_value=2, max_value=50),
)
def test_generalized_values_contain_the_real_ones(
    dates: list[dt.date], ages: list[int], band: int
) -> None:
    how = Generalization(age_band=band)
    months = generalize("DATE_OF_BIRTH", pd.Series(dates, dtype=object), how).tolist()
    assert months == [d.replace(day=1) for d in dates]
    texts = pd.Series([str(a) for a in ages], dtype=object)
    for age, label in zip(ages, generalize("AGE", texts, how).tolist(), strict=True):
        low, high = (int(x) for x in label.split("-"))
        assert low <= age <= high
        assert high - low == band - 1


def test_refill_coarsens_generalized_columns_of_the_sample_again() -> None:
    plan = build_plan(FINDINGS, SCHEMA, class_actions=CLASSES, overrides={})
    # a continuous synthesizer samples any day and any age, whatever grain it learned
    sampled = pd.DataFrame(
        {
            "dob": [dt.date(1971, 3, 14), dt.date(1990, 12, 31)],
            "zip": ["021", "946"],
            "age": pd.array([37, 52], dtype="Int64"),
            "gender": ["F", "M"],
            "notes": ["<PERSON> called", "<PERSON> wrote"],
            "spend": [1.0, 2.0],
        }
    )
    out = refill(
        sampled,
        plan,
        SCHEMA,
        seed=0,
        pseudonymizer=Pseudonymizer(KEY),
        generalization=Generalization(date=DatePrecision.YEAR),
    )
    assert out["dob"].tolist() == [dt.date(1971, 1, 1), dt.date(1990, 1, 1)]
    assert out["age"].tolist() == [30, 50]
    assert out["zip"].tolist() == ["021", "946"]


@pytest.mark.slow
def test_text_scan_does_not_count_the_surrogates_redaction_wrote() -> None:
    from synthgate.pii import scan_text_columns

    p = Pseudonymizer(KEY)
    text = "Renewal call: email jane.doe@example.com or call 212-555-0199 about the invoice"
    (redacted,) = redact_texts([text], surrogate=p.surrogate)
    assert "jane.doe@example.com" not in redacted
    assert p.issued  # surrogates (never the inputs) are remembered
    assert not {"jane.doe@example.com", "212-555-0199"} & p.issued
    leaked = "Renewal call: email grace.hopper@navy.mil about the invoice"
    out = pd.DataFrame({"notes": [redacted, leaked]})
    # without the issued surrogates, the made-up email and phone read as identifiers
    assert scan_text_columns(out, ["notes"]) == {"notes": 2}
    # with them, only the real address that no redaction touched counts
    assert scan_text_columns(out, ["notes"], issued=p.issued) == {"notes": 1}
