"""What happens to classified and suspected columns: fakes of the same kind, the masked
copy's refusal, the pack's actions for names, and the leak scan's per-column rule."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import ConfigError
from synthgate.pii import (
    ColumnFinding,
    LeakScanner,
    MaskAction,
    MaskPlan,
    PiiClass,
    Pseudonymizer,
    build_plan,
    masked_copy,
    refill,
)
from synthgate.pii._fake import fake_values
from synthgate.pii._names import fold, name_dictionary
from synthgate.release import read_policy_file

KEY = b"a test key that is long enough"
DIRECT = {PiiClass.DIRECT: MaskAction.FAKE, PiiClass.FREE_TEXT: MaskAction.DROP}
N = 120

REAL = pd.DataFrame(
    {
        "id": pd.array(range(1, N + 1), dtype="Int64"),
        "first": ["miguel", "kevon", "ed", "marsha"] * (N // 4),
        "last": ["HERNANDEZ", "DIXON", "PHILO", "MILES"] * (N // 4),
        "case_no": [f"13{i:06d}CF10A" for i in range(N)],
        "score_text": ["Low", "Medium", "High"] * (N // 3),
        "handle": [f"user{i}x" for i in range(N)],
    }
)
SCHEMA = TableSchema(
    "t",
    (
        ColumnSchema("id", LogicalType.INTEGER, native_type="INTEGER"),
        ColumnSchema("first", LogicalType.TEXT),
        ColumnSchema("last", LogicalType.TEXT),
        ColumnSchema("case_no", LogicalType.TEXT),
        ColumnSchema("score_text", LogicalType.TEXT),
        ColumnSchema("handle", LogicalType.TEXT),
    ),
)


def _finding(
    column: str,
    entity: str | None,
    *,
    suspected: bool = False,
    case: str | None = None,
    locale: str | None = None,
    shapes: tuple[str, ...] = (),
) -> ColumnFinding:
    cls = PiiClass.DIRECT if entity else PiiClass.NONE
    return ColumnFinding(
        column,
        entity,
        cls,
        1.0,
        0.9,
        ("test",),
        10,
        suspected=suspected,
        case=case,
        locale=locale,
        shapes=shapes,
    )


FINDINGS = [
    _finding("id", "RECORD_ID"),
    _finding("first", "FIRST_NAME", case="lower", locale="es_MX"),
    _finding("last", "LAST_NAME", case="upper"),
    _finding("case_no", "RECORD_ID", shapes=("99999999AA99A",)),
    _finding("score_text", None),
    _finding("handle", "RECORD_ID", suspected=True, shapes=("aaaa99a", "aaaa9a", "aaaa999a")),
]


def _plan(**overrides: MaskAction) -> MaskPlan:
    return build_plan(FINDINGS, SCHEMA, class_actions=DIRECT, overrides=overrides)


# --------------------------------------------------------------------------- fakes


def _known(values: list[object], kind: str) -> float:
    names = name_dictionary()
    table = names.first if kind == "first" else names.last
    return sum(fold(str(v)) in table for v in values) / len(values)


@pytest.mark.parametrize(
    ("entity", "kind", "locale"),
    [
        ("FIRST_NAME", "first", "en_US"),
        ("LAST_NAME", "last", "de_DE"),
        ("FIRST_NAME", "first", "fr_FR"),
    ],
)
def test_fake_names_keep_the_kind(entity: str, kind: str, locale: str) -> None:
    values = fake_values(entity, 200, seed=3, locale=locale)
    assert _known(values, kind) == 1.0


def test_fakes_are_written_like_the_real_values() -> None:
    lower = fake_values("FIRST_NAME", 50, seed=1, case="lower")
    upper = fake_values("LAST_NAME", 50, seed=1, case="upper")
    assert all(str(v).islower() for v in lower)
    assert all(str(v).isupper() for v in upper)


@pytest.mark.parametrize(
    ("shape", "pattern"),
    [
        ("99999999AA99A", r"\d{8}[A-Z]{2}\d{2}[A-Z]"),
        ("99-999999", r"\d{2}-\d{6}"),
        ("AAA-999999", r"[A-Z]{3}-\d{6}"),
        ("xxxx9", r"[a-z0-9]{4}\d"),
        ("uuid", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ],
)
def test_fake_codes_have_the_same_shape(shape: str, pattern: str) -> None:
    values = fake_values("RECORD_ID", 300, seed=2, shapes=(shape,), unique=True)
    assert all(re.fullmatch(pattern, str(v)) for v in values)
    assert len(set(values)) == 300


def test_fake_codes_never_equal_a_real_one() -> None:
    real = [f"{i:02d}" for i in range(100)]  # every code of the shape but one … all of them
    scanner = LeakScanner()
    scanner.add(real[:99])
    values = fake_values("RECORD_ID", 30, seed=4, shapes=("99",), avoid=scanner)
    assert not any(v in scanner for v in values)


# --------------------------------------------------------------------------- masked copy


def test_masked_copy_refuses_undecided_suspected_columns_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        masked_copy(REAL, _plan(), Pseudonymizer(KEY), seed=0)
    message = str(caught.value)
    assert "\n" not in message
    assert "handle" in message
    assert "pii.columns: {handle: fake}" in message
    for value in REAL["handle"]:
        assert value not in message


def test_masked_copy_with_the_spec_deciding_copies_no_identifier() -> None:
    plan = _plan(handle=MaskAction.FAKE)
    leak = LeakScanner()
    leak.add_frame(REAL, plan.direct_identifiers)
    out = masked_copy(REAL, plan, Pseudonymizer(KEY), seed=0, avoid=leak)
    for col in ("first", "last", "case_no", "handle"):
        assert not set(out[col]) & set(REAL[col]), col
    assert out["score_text"].tolist() == REAL["score_text"].tolist()
    # kinds, case and shape kept
    assert _known(out["first"].tolist(), "first") == 1.0
    assert all(str(v).islower() for v in out["first"])
    assert _known(out["last"].tolist(), "last") == 1.0
    assert all(str(v).isupper() for v in out["last"])
    assert all(re.fullmatch(r"\d{8}[A-Z]{2}\d{2}[A-Z]", v) for v in out["case_no"])
    assert out["case_no"].is_unique
    # integer ids: fresh unique integers, none of them a real id
    assert pd.api.types.is_integer_dtype(out["id"].dtype)
    assert out["id"].is_unique
    assert not set(out["id"].tolist()) & set(REAL["id"].tolist())
    assert sum(leak.scan(out).values()) == 0


def test_keep_from_the_spec_clears_a_suspected_column() -> None:
    plan = _plan(handle=MaskAction.KEEP)
    act = plan.action("handle")
    assert act.action is MaskAction.KEEP
    assert act.pii_class is PiiClass.NONE
    assert act.from_spec
    assert "suspected" in act.reason
    assert "handle" not in plan.direct_identifiers
    out = masked_copy(REAL, plan, Pseudonymizer(KEY), seed=0)
    assert out["handle"].tolist() == REAL["handle"].tolist()


def test_keep_from_the_spec_is_refused_for_a_classified_identifier() -> None:
    act = _plan(first=MaskAction.KEEP, handle=MaskAction.FAKE).action("first")
    assert act.action is MaskAction.FAKE
    assert "refused" in act.reason


def test_a_synthetic_release_treats_suspected_columns_as_identifiers() -> None:
    plan = _plan()
    act = plan.action("handle")
    assert act.action is MaskAction.FAKE
    assert "pii.columns.handle" in act.reason
    out = refill(pd.DataFrame({"score_text": ["Low"] * 40}), plan, SCHEMA, seed=1)
    assert len(out) == 40
    assert _known(out["first"].tolist(), "first") == 1.0
    assert out["id"].is_unique


def test_a_pack_action_for_person_covers_first_and_last_names(tmp_path: Path) -> None:
    pack_file = tmp_path / "pack.yaml"
    pack_file.write_text(
        "name: mine\npii:\n  direct_identifier: fake\n  entities: {PERSON: pseudonymize}\n"
        "rules: []\n"
    )
    pii = read_policy_file(pack_file).pii
    plan = build_plan(
        FINDINGS,
        SCHEMA,
        class_actions=pii.class_actions(),
        overrides={},
        entity_actions=pii.entity_actions(),
    )
    assert plan.action("first").action is MaskAction.PSEUDONYMIZE
    assert plan.action("last").action is MaskAction.PSEUDONYMIZE
    assert plan.action("case_no").action is MaskAction.FAKE
    decided = build_plan(
        FINDINGS,
        SCHEMA,
        class_actions=pii.class_actions(),
        overrides={"handle": MaskAction.DROP},
        entity_actions=pii.entity_actions(),
    )
    out = masked_copy(REAL, decided, Pseudonymizer(KEY), seed=0)
    # keyed surrogates of the same kind and case
    assert _known(out["first"].tolist(), "first") == 1.0
    assert all(str(v).islower() for v in out["first"])
    assert _known(out["last"].tolist(), "last") == 1.0
    assert all(str(v).isupper() for v in out["last"])


def test_shipped_packs_accept_the_new_entities(tmp_path: Path) -> None:
    pack_file = tmp_path / "pack.yaml"
    pack_file.write_text(
        "name: mine\npii:\n  entities: {FIRST_NAME: drop, LAST_NAME: pseudonymize, "
        "RECORD_ID: fake, UK_NINO: drop}\nrules: []\n"
    )
    assert read_policy_file(pack_file).pii.entity_actions()["RECORD_ID"] is MaskAction.FAKE


# --------------------------------------------------------------------------- leak scan


def test_leak_scan_counts_copied_names_but_not_a_column_own_values() -> None:
    real = pd.DataFrame(
        {
            "last": ["Low", "Hernandez", "Dixon", "Brown"],
            "score_text": ["Low", "High", "Medium", "Low"],
            "colour": ["Brown", "Olive", "Teal", "Red"],
            "notes": ["x", "y", "z", "w"],
        }
    )
    scanner = LeakScanner()
    scanner.add_frame(real, ["last"])
    released = pd.DataFrame(
        {
            "last": ["Hernandez", "Smith", "low"],  # two copied surnames
            "score_text": ["Low", "Low", "High"],  # its own values: no replay
            "colour": ["Brown", "Teal", "Olive"],  # its own values: no replay
            "notes": ["Dixon", "x", "y"],  # a surname in another column: a replay
        }
    )
    assert scanner.scan(released) == {"last": 2, "score_text": 0, "colour": 0, "notes": 1}


def test_leak_scan_checks_integer_ids_against_their_own_column_only() -> None:
    real = pd.DataFrame({"id": [1, 2, 3, 4], "visits": [1, 2, 2, 3]})
    scanner = LeakScanner()
    scanner.add_frame(real, ["id"])
    released = pd.DataFrame({"id": [3, 900_001, 900_002, 900_003], "visits": [1, 2, 3, 4]})
    assert scanner.scan(released) == {"id": 1}


def test_an_integer_column_stays_integer_when_faked() -> None:
    schema = TableSchema(
        "t",
        (
            ColumnSchema("ssn", LogicalType.INTEGER, native_type="INTEGER"),
            ColumnSchema("row_id", LogicalType.INTEGER, native_type="INTEGER"),
        ),
    )
    findings = [_finding("ssn", "US_SSN"), _finding("row_id", "RECORD_ID")]
    plan = build_plan(findings, schema, class_actions=DIRECT, overrides={})
    out = refill(pd.DataFrame(index=range(50)), plan, schema, seed=3)
    assert pd.api.types.is_integer_dtype(out["ssn"].dtype)
    assert out["ssn"].between(1, 999_999_999).all()  # the nine digits of a fake SSN
    assert pd.api.types.is_integer_dtype(out["row_id"].dtype)
    assert out["row_id"].is_unique
