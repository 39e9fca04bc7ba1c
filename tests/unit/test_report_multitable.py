"""The report of a multi-table release reads as one: rows and personal data per table,
each relationship and link, and each rule once with the tables that missed it."""

from __future__ import annotations

from typing import Any

from synthgate_reports.sections import PiiSection, PrivacySection, ProvenanceSection, _rule_lines


def _report() -> dict[str, Any]:
    finding = {"column": "name", "label": "person name", "share": 0.9, "signals": {}}
    return {
        "run": {"id": "run-1", "job": "crm"},
        "provenance": {
            "source": "sqlite:///crm.db",
            "table": "customers",
            "tables": ["customers", "orders"],
            "rows_source": {"customers": 3000, "orders": 8227},
            "rows_synthetic": {"customers": 2989, "orders": 8181},
            "target": "sqlite:///released.db",
            "target_tables": ["customers", "orders"],
            "target_mode": "replace",
        },
        "pii": {
            "inventory": {"customers": [finding], "orders": []},
            "actions": {
                "customers": [{"column": "name", "action": "fake", "pii_class": "direct"}],
                "orders": [{"column": "order_id", "action": "keep", "reason": "key column"}],
            },
        },
        "privacy": {
            "spent": {"private": True, "epsilon": 2.999999994, "delta": 1e-5, "stages": []}
        },
        "multi_table": {
            "unit": "customers",
            "plan": ["customers: the unit, one row per person"],
            "rows": {"customers": 2989, "orders": 8181},
            "relationships": {
                "orders -> customers": {
                    "integrity": 1.0,
                    "cap": 10,
                    "children_per_parent_tvd": 0.04,
                },
                "customers -> customers (referred_by)": {"integrity": 1.0, "link": True},
            },
            "ledger": {"epsilon": 2.999999994, "tables": {}},
        },
    }


def test_provenance_names_every_table_and_its_rows_without_python_reprs() -> None:
    html = ProvenanceSection().render(_report()) or ""
    assert "customers 3,000 → 2,989; orders 8,227 → 8,181" in html
    assert "tables customers, orders · mode replace" in html
    assert "table None" not in html
    assert "{'" not in html
    assert "ε = 3.00 for each person" in html
    assert "customers: the unit, one row per person" in html
    assert "kind learned, target drawn" in html


def test_personal_data_is_listed_table_by_table() -> None:
    html = PiiSection().render(_report()) or ""
    assert html.index("<h3>customers</h3>") < html.index("<code>name</code>")
    assert html.index("<h3>orders</h3>") < html.index("<code>order_id</code>")
    assert "person name" in html


def test_the_privacy_section_says_who_the_neighbours_are() -> None:
    html = PrivacySection().render(_report()) or ""
    assert "one row of customers together with every row that belongs to it" in html


def test_a_rule_judged_per_table_is_one_line_naming_the_tables_that_missed_it() -> None:
    rule = {"metric": "fidelity.quality", "comparator": ">=", "threshold": 0.7}
    outcomes = [
        {**rule, "severity": "block", "table": "customers", "passed": True},
        {**rule, "severity": "block", "table": "orders", "passed": False},
    ]
    (line,) = _rule_lines(outcomes)
    assert "fidelity.quality &gt;= 0.7" in line
    assert "block, 2 tables; not met in orders" in line
