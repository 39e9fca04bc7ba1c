"""Schema-qualified table names: parsing, job spec fields and budget identity."""

from __future__ import annotations

from typing import Any

import pytest

from synthgate.config import parse_job_spec
from synthgate.errors import ConfigError
from synthgate.sources import source_key
from synthgate_connectors.sql._catalog import TableName, parse_table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customers", TableName(None, "customers")),
        ("crm.customers", TableName("crm", "customers")),
        ("Crm.Odd Name-1", TableName("Crm", "Odd Name-1")),
        ("ünï.cødé", TableName("ünï", "cødé")),
    ],
)
def test_table_or_schema_table(text: str, expected: TableName) -> None:
    assert parse_table(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a.b.c", "is not table or schema.table"),
        (".t", "is not table or schema.table"),
        ("s.", "is not table or schema.table"),
        (" .t", "is not table or schema.table"),
        ('"s.t"', "holds a quote"),
        ("`s`.t", "holds a quote"),
        ("s.t'", "holds a quote"),
        ("s.t\n", "control character"),
    ],
)
def test_other_names_are_refused_in_one_line(text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as info:
        parse_table(text)
    assert "\n" not in info.value.message


def test_the_listed_name_is_bare_in_the_default_schema() -> None:
    assert TableName("crm", "t").qualified("public") == "crm.t"
    assert TableName("public", "t").qualified("public") == "t"
    assert TableName(None, "t").qualified("public") == "t"


def _spec(source: dict[str, Any], target: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "j",
        "source": {"url": "postgresql://u@h/db", **source},
        "target": {"url": "sqlite:///out.db", **(target or {})},
    }


def test_source_and_target_schema_fold_into_the_table() -> None:
    spec = parse_job_spec(_spec({"schema": "crm", "table": "customers"}, {"schema": "out"}))
    assert spec.source.table == "crm.customers"
    assert spec.target_table == "out.customers"
    spec = parse_job_spec(_spec({"table": "crm.customers"}, {"schema": "out", "table": "c"}))
    assert (spec.source.table, spec.target_table) == ("crm.customers", "out.c")
    # without target.schema or target.table, the target is named as the source is
    assert parse_job_spec(_spec({"table": "crm.customers"})).target_table == "crm.customers"
    assert "schema" not in parse_job_spec(_spec({"schema": "crm", "table": "t"})).model_dump()


@pytest.mark.parametrize(
    ("source", "target", "problem"),
    [
        ({"schema": "a.b", "table": "t"}, {}, "source.schema must be one schema name"),
        ({"schema": "", "table": "t"}, {}, "source.schema must be one schema name"),
        ({"schema": "crm", "table": "x.t"}, {}, "source.table 'x.t' names its schema already"),
        ({"table": "t"}, {"schema": "o", "table": "x.t"}, "target.table 'x.t' names its schema"),
    ],
)
def test_contradicting_schema_fields_are_refused(
    source: dict[str, Any], target: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_job_spec(_spec(source, target))
    assert any(problem in p for p in info.value.problems)


def test_a_registered_source_takes_no_schema() -> None:
    raw = {"version": 1, "name": "j", "source": {"name": "crm", "schema": "x"}}
    with pytest.raises(ConfigError) as info:
        parse_job_spec({**raw, "target": {"url": "sqlite:///o.db"}})
    assert any("a registered source holds its table" in p for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        parse_job_spec(
            {**raw, "source": {"name": "crm"}, "target": {"url": "sqlite:///o.db", "schema": "o"}}
        )
    assert any("target.schema needs target.table" in p for p in info.value.problems)


def test_budget_identity_of_a_qualified_table() -> None:
    pg = "postgresql://u@db.example:5432/sales"
    assert source_key(pg, "crm.customers") == "postgresql://db.example:5432/sales#crm.customers"
    assert source_key(pg, "public.customers") == source_key(pg, "customers")
    my = "mysql://u@db.example/sales"
    assert source_key(my, "crm.customers") == "mysql://db.example:3306/crm#crm.customers"
    assert source_key(my, "sales.customers") == source_key(my, "customers")
    assert source_key("sqlite:////data/x.db", "main.t") == source_key("sqlite:////data/x.db", "t")
