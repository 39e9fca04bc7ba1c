from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthgate.config import ColumnHint, PrivacySpec, load_job_spec, parse_job_spec
from synthgate.errors import ConfigError
from synthgate.privacy import auto_delta

VALID: dict[str, Any] = {
    "name": "crm-weekly",
    "source": {"url": "sqlite:///crm.db", "table": "customers"},
    "target": {"url": "sqlite:///out.db"},
}


def problems(raw: Any, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_job_spec(raw, env=env or {})
    return info.value.problems


def test_minimal_spec_gets_documented_defaults() -> None:
    spec = parse_job_spec(VALID, env={})
    assert spec.synthesis.privacy.epsilon == 3.0
    assert spec.synthesis.privacy.delta == "auto"
    assert spec.validation.holdout == 0.2
    assert spec.release.policy == "default"
    assert spec.release.expires_after.days == 90
    assert spec.target_table == "customers"
    assert spec.pii_policy == "default"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            {"synthesis": {"privacy": {"epsilon": -1}}},
            "synthesis.privacy.epsilon: must be > 0, got -1",
        ),
        (
            {"synthesis": {"privacy": {"epsilon": 0}}},
            "synthesis.privacy.epsilon: must be > 0, got 0",
        ),
        ({"synthesis": {"rows": 0}}, "synthesis.rows: must be >= 1, got 0"),
        (
            {"synthesis": {"privacy": {"delta": 2.0}}},
            "synthesis.privacy.delta: must be 'auto' or a number in (0, 1), got 2.0",
        ),
        ({"validation": {"holdout": 0.9}}, "validation.holdout: must be <= 0.5, got 0.9"),
        (
            {"target": {"url": "sqlite:///o.db", "mode": "upsert"}},
            "target.mode: must be one of 'replace', 'append' or 'fail', got 'upsert'",
        ),
        ({"name": "Bad Name!"}, "name: must match"),
        (
            {"release": {"expires_after": "soon"}},
            "release.expires_after: must be a duration such as 30m, 12h, 90d or 2w",
        ),
        (
            {"synthesis": {"columns": {"age": {"min": 5, "max": 1}}}},
            "synthesis.columns.age: min must be below max",
        ),
        ({"pii": {"columns": {"email": "shred"}}}, "pii.columns.email: must be one of"),
    ],
)
def test_each_bad_value_names_field_value_and_rule(patch: dict[str, Any], expected: str) -> None:
    found = problems({**VALID, **patch})
    assert any(p.startswith(expected) for p in found), found


def test_unknown_field_lists_the_allowed_ones() -> None:
    found = problems({**VALID, "synthesis": {"epsilon": 1}})
    assert found == [
        "synthesis.epsilon: unknown field; allowed here: synthesizer, privacy, rows, seed, columns, params, rebalance, constraints, caps, context"
    ]


def test_all_problems_are_reported_at_once() -> None:
    found = problems({"name": "x", "synthesis": {"privacy": {"epsilon": -1}}, "target": {}})
    assert "source: required field is missing" in found
    assert "target.url: required field is missing" in found
    assert "synthesis.privacy.epsilon: must be > 0, got -1" in found


def test_env_interpolation_and_secrets_never_printed() -> None:
    env = {"PG_PASSWORD": "hunter2-very-secret"}
    raw = {**VALID, "source": {"url": "postgresql://app:${PG_PASSWORD}@db/crm", "table": "t"}}
    spec = parse_job_spec(raw, env=env)
    assert spec.source.url == "postgresql://app:hunter2-very-secret@db/crm"
    bad = {**raw, "synthesis": {"rows": "${PG_PASSWORD}"}}
    found = problems(bad, env)
    assert found
    assert all("hunter2" not in p for p in found)


def test_plain_variables_are_not_treated_as_secrets() -> None:
    from synthgate.errors import redact

    spec = parse_job_spec(
        {**VALID, "source": {"url": "sqlite:///${DATA_DIR}/crm.db", "table": "t"}},
        env={"DATA_DIR": "/srv/plain-data-dir"},
    )
    assert redact(spec.source.url) == "sqlite:////srv/plain-data-dir/crm.db"


def test_missing_env_var_and_default() -> None:
    found = problems({**VALID, "source": {"url": "postgresql://app:${NOPE}@db/x", "table": "t"}})
    assert found == [
        "source.url: environment variable NOPE is not set; export it or write ${NOPE:-default}"
    ]
    spec = parse_job_spec(
        {**VALID, "source": {"url": "sqlite:///${DIR:-/tmp}/a.db", "table": "t"}}, env={}
    )
    assert spec.source.url == "sqlite:////tmp/a.db"


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_job_spec(["a", "b"], env={})


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_job_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsource: {url: a\n  table: [\n", "utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        load_job_spec(bad)


def test_spec_hash_is_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        "name: a\nsource: {url: 'sqlite:///a.db', table: t}\ntarget: {url: 'sqlite:///b.db'}\n"
    )
    first = load_job_spec(path, env={}).spec_hash
    path.write_text(path.read_text() + "# comment\n")
    assert load_job_spec(path, env={}).spec_hash != first


@given(st.integers(min_value=1, max_value=10**9))
def test_auto_delta_is_below_one_over_ten_n_and_its_bound(rows: int) -> None:
    delta = auto_delta(rows)
    assert 0 < delta <= PrivacySpec().delta_bound() == 1e-5
    assert delta <= 1 / (10 * rows)


@given(st.floats(allow_nan=False, allow_infinity=False, max_value=0))
def test_non_positive_epsilon_is_always_rejected(eps: float) -> None:
    found = problems({**VALID, "synthesis": {"privacy": {"epsilon": eps}}})
    assert any(p.startswith("synthesis.privacy.epsilon: must be > 0") for p in found)


@pytest.mark.parametrize(
    ("given", "days"),
    [
        ({"min": "1970-01-01", "max": "1970-01-11"}, (0.0, 10.0)),
        ({"min": date(1930, 1, 1), "max": "2010-01-01T12:00:00"}, (-14610.0, 14610.5)),
        ({"min": 0, "max": "5"}, (0.0, 5.0)),
    ],
)
def test_declared_bounds_take_numbers_dates_and_times(
    given: dict[str, Any], days: tuple[float, float]
) -> None:
    assert ColumnHint.model_validate(given).bounds() == days


def test_a_bound_that_is_neither_number_nor_date_is_one_line() -> None:
    found = problems({**VALID, "synthesis": {"columns": {"age": {"min": "young", "max": 9}}}})
    assert any(
        p.startswith("synthesis.columns.age.min: must be a number, or a date like 1990-01-31")
        for p in found
    )


def test_a_single_file_source_needs_no_table() -> None:
    spec = parse_job_spec(
        {"name": "a", "source": {"url": "/data/court cases.csv"}, "target": {"url": "out.db"}}
    )
    assert spec.source.table == "court cases"
    found = problems({"name": "a", "source": {"url": "/data/folder/"}, "target": {"url": "x"}})
    assert any(p.startswith("source: source.table missing") for p in found)
