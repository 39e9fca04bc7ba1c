"""The console and the API on a multi-table release: its tables, relationships, multi-table
quality and gate outcomes by table; statistics only, never a cell of a table."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from synthgate.release import ReleaseStatus
from synthgate.web import _format
from tests.web._seed import (
    CRM_TABLES,
    MULTI_GATE,
    REAL_CELLS,
    SYNTHETIC_CELLS,
    Seeded,
    make_multitable_release,
    make_release,
    multi_table_section,
)
from tests.web.test_console import sign_in


def _section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


def _rows(html: str, attribute: str) -> dict[str, str]:
    return dict(re.findall(rf'<tr {attribute}="([^"]+)">(.*?)</tr>', html, re.S))


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def _relationships(page: str) -> dict[str, str]:
    found = re.findall(
        r'<section class="relationship" data-relationship="([^"]+)">(.*?)</section>', page, re.S
    )
    return {name.replace("&gt;", ">"): body for name, body in found}


def test_the_release_page_shows_each_table_in_publishing_order(
    client: TestClient, seeded: Seeded
) -> None:
    make_multitable_release(seeded)
    sign_in(client, "bob")
    page = client.get("/releases/rel-mt").text
    order = [page.index(f'id="{i}"') for i in ("summary", "tables", "report-card", "decide")]
    assert order == sorted(order)
    tables = _section(page, 'id="table-list"', "</table>")
    rows = _rows(tables, "data-table")
    assert list(rows) == list(CRM_TABLES)
    assert _cells(rows["products"]) == ["1", "products", "public", "40", "—", "no budget", "—"]
    assert _cells(rows["customers"]) == ["2", "customers", "unit", "630", "1", "1.21", "yes"]
    assert _cells(rows["orders"]) == ["3", "orders", "private", "995", "9", "1.49", "yes"]
    assert _cells(rows["order_items"]) == [
        "4",
        "order_items",
        "private",
        "1,777",
        "27",
        "1.74",
        "yes",
    ]
    lede = _section(page, 'id="tables-lede"', "</p>")
    assert "<b>4 tables</b>" in lede
    assert '<span class="nowrap">ε = 3, δ = 1e-5</span> for all tables together' in lede
    assert re.search(r"<td>Rows</td><td>3442 in 4 tables</td>", page)


def test_each_relationship_shows_its_cap_distance_and_integrity(
    client: TestClient, seeded: Seeded
) -> None:
    make_multitable_release(seeded)
    sign_in(client, "dave")
    page = client.get("/releases/rel-mt").text
    found = _relationships(page)
    assert set(found) == {"orders -> customers", "order_items -> orders", "order_items -> products"}
    chosen = dict(_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", found["orders -> customers"]))
    assert chosen == {
        "Integrity": "1",
        "Cap": "9 per parent row, chosen under DP",
        "Dropped by the cap": "none (DP estimate)",
        "Most children": "4 (synthetic)",
        "Children per parent TVD": "0.31",
    }
    declared = found["order_items -> orders"]
    assert "3 per parent row, declared in the spec" in declared
    assert "about 40 rows (DP estimate)" in declared
    assert '<td class="tvd">0.19</td>' in declared
    public = found["order_items -> products"]
    assert "none: the parent is public, copied as given" in public
    assert "TVD" not in public
    assert re.search(
        r'id="integrity">Referential integrity:\s*<span class="pill pass">1</span>', page
    )
    quality = _section(page, 'id="mt-quality"', "</table>")
    assert "<td>SDMetrics score</td><td><b>0.68</b></td>" in quality
    for name, shown in [
        ("Column Shapes", "0.76"),
        ("Column Pair Trends", "1"),
        ("Cardinality", "0.57"),
        ("Intertable Trends", "0.38"),
    ]:
        assert f"<td>{name}</td><td>{shown}</td>" in quality


def test_gate_outcomes_are_grouped_by_table_integrity_first(
    client: TestClient, seeded: Seeded
) -> None:
    make_multitable_release(seeded)
    sign_in(client, "dave")
    page = client.get("/releases/rel-mt").text
    assert 'id="gate"' not in page  # the one-table list is replaced, not repeated
    groups = re.findall(r'<table class="gate" data-table="([^"]*)">(.*?)</table>', page, re.S)
    assert [g for g, _ in groups] == ["", "customers", "orders", "order_items"]
    across = groups[0][1]
    assert "multitable-integrity" in across
    assert "no-copied-rows" not in across
    items = groups[3][1]
    assert items.count("<tr><td>") == 2
    assert '<span class="pill warn">warn</span>' in items
    assert re.search(r'data-table="">Across tables <span class="muted small">1 rule\(s\)', page)
    assert "2 rule(s), 1 not met" in page
    # the summary names the table of a failed rule
    failed = _section(page, 'id="failed-rules"', "</ul>")
    assert "order_items: fidelity.quality 0.421 &lt; 0.7" in failed


def test_a_blocked_multitable_release_names_the_rule_across_tables(
    client: TestClient, seeded: Seeded
) -> None:
    dangling = {
        **MULTI_GATE[0],
        "observed": 0.98,
        "passed": False,
        "reason": "multitable.referential_integrity is 0.98, needs >= 1.0: a foreign key names no released row",
    }
    section = {**multi_table_section(), "referential_integrity": 0.98}
    make_multitable_release(
        seeded, status=ReleaseStatus.BLOCKED, gate=(dangling, *MULTI_GATE[1:]), section=section
    )
    sign_in(client, "root")
    page = client.get("/releases/rel-mt").text
    assert "blocked: multitable.referential_integrity 0.98 &lt; 1<" in page
    assert re.search(
        r'id="integrity">Referential integrity:\s*<span class="pill fail">0.98</span>', page
    )
    queue = _rows(client.get("/releases").text, "data-release")["rel-mt"]
    assert "blocked: multitable.referential_integrity 0.98 &lt; 1<" in queue


def test_the_queue_shows_the_number_of_tables_with_their_names(
    client: TestClient, seeded: Seeded
) -> None:
    make_multitable_release(seeded)
    make_release(seeded, "rel-1")
    sign_in(client, "dave")
    rows = _rows(client.get("/releases").text, "data-release")
    multi = rows["rel-mt"]
    assert re.search(
        r'<span class="tables-count[^"]*" title="products, customers, orders, order_items">'
        r"4 tables</span>",
        multi,
    )
    assert "tables-count" not in rows["rel-1"]
    assert "tables" not in re.sub(r"<[^>]+>", " ", rows["rel-1"])


def test_a_one_table_release_has_no_tables_section(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded)
    sign_in(client, "bob")
    page = client.get("/releases/rel-1").text
    for absent in ('id="tables"', "gate-groups", "Relationships", "Multi-table quality"):
        assert absent not in page, absent
    assert '<table id="gate">' in page
    assert re.search(r"<td>Rows</td><td>20</td>", page)
    detail = client.get("/api/v1/releases/rel-1", headers=seeded.headers("dave")).json()
    assert detail["tables"] is None


def test_no_cell_of_a_table_reaches_the_console(client: TestClient, seeded: Seeded) -> None:
    make_multitable_release(seeded)
    csrf = sign_in(client, "bob")
    shown = [
        client.get("/releases/rel-mt").text,
        client.get("/releases").text,
        client.get("/runs/run-rel-mt").text,
        client.post("/releases/rel-mt/approve", data={"text": "ok", "csrf_token": csrf}).text,
        client.get("/api/v1/releases/rel-mt", headers=seeded.headers("bob")).text,
        client.get("/api/v1/releases", headers=seeded.headers("bob")).text,
    ]
    assert "You are approving" in shown[3]
    for text in shown:
        for cell in (*REAL_CELLS, *SYNTHETIC_CELLS):
            assert cell not in text, cell
            assert cell.lower() not in text.lower(), cell


def test_the_api_detail_has_a_tables_object(client: TestClient, seeded: Seeded) -> None:
    make_multitable_release(seeded)
    response = client.get("/api/v1/releases/rel-mt", headers=seeded.headers("dave"))
    assert response.status_code == 200
    detail = response.json()
    # the fields every release has are kept
    assert detail["target_table"] == ", ".join(CRM_TABLES)
    assert detail["rows"] == 3442
    assert len(detail["gate"]) == len(MULTI_GATE)
    assert "table" not in detail["gate"][0]  # the store's outcomes, as they were
    tables = detail["tables"]
    assert tables["unit"] == "customers"
    assert tables["epsilon"] == pytest.approx(3.0)
    assert tables["delta"] == 1e-5
    assert tables["referential_integrity"] == 1.0
    assert tables["quality"] == multi_table_section()["quality"]
    assert [(t["name"], t["kind"], t["rows"]) for t in tables["per_table"]] == [
        ("products", "public", 40),
        ("customers", "unit", 630),
        ("orders", "private", 995),
        ("order_items", "private", 1777),
    ]
    items = tables["per_table"][3]
    assert items == {
        "name": "order_items",
        "kind": "private",
        "rows": 1777,
        "rows_per_person": 27,
        "epsilon_alone": 1.735,
        "unique_key": True,
    }
    assert tables["per_table"][0]["epsilon_alone"] is None
    rels = {r["name"]: r for r in tables["relationships"]}
    assert rels["orders -> customers"] == {
        "name": "orders -> customers",
        "child": "orders",
        "parent": "customers",
        "columns": None,
        "link": False,
        "integrity": 1.0,
        "cap": 9,
        "cap_declared": False,
        "clipped_rows_estimate": 0,
        "children_per_parent_tvd": 0.31,
        "synthetic_max_children": 4,
    }
    assert rels["order_items -> orders"]["cap_declared"] is True
    public = rels["order_items -> products"]
    assert public["cap"] is None
    assert public["cap_declared"] is None
    assert public["children_per_parent_tvd"] is None
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "tables" in schema["ReleaseDetailOut"]["properties"]
    assert "per_table" in schema["TablesOut"]["properties"]


def test_a_link_between_private_tables_shows_its_columns_and_no_cap(
    client: TestClient, seeded: Seeded
) -> None:
    section = multi_table_section()
    section["relationships"]["order_items -> customers (buyer_id)"] = {
        "integrity": 0.5,
        "link": True,
    }
    make_multitable_release(seeded, section=section)
    sign_in(client, "dave")
    page = client.get("/releases/rel-mt").text
    found = _relationships(page)
    assert list(found) == [
        "orders -> customers",
        "order_items -> orders",
        "order_items -> products",
        "order_items -> customers (buyer_id)",
    ]
    link = found["order_items -> customers (buyer_id)"]
    assert '<span class="muted small mono">(buyer_id)</span>' in link
    assert ">link</span>" in link
    assert "none: a link names a row the tables already hold" in link
    assert '<span class="pill fail">0.5</span>' in link
    detail = client.get("/api/v1/releases/rel-mt", headers=seeded.headers("dave")).json()
    (shown,) = [r for r in detail["tables"]["relationships"] if r["link"]]
    assert (shown["child"], shown["parent"], shown["columns"]) == (
        "order_items",
        "customers",
        "buyer_id",
    )
    assert shown["cap"] is None


def test_unknown_keys_are_ignored_and_odd_values_do_not_break_the_page(
    client: TestClient, seeded: Seeded
) -> None:
    section: dict[str, Any] = {
        **multi_table_section(),
        "links": {"order_items -> customers": {"integrity": 1.0, "note": "link-marker-7f3a"}},
        "future_key": ["future-marker-19bc"],
        "rows": {"customers": "many", "orders": 12.0, "order_items": None, "products": True},
        "quality": None,
        "relationships": {
            "orders -> customers": "not a mapping",
            "no arrow here": {"integrity": "high", "cap": 2.5},
        },
    }
    section["ledger"] = {**section["ledger"], "tables": [], "caps": {"orders": "nine"}}
    make_multitable_release(seeded, section=section)
    sign_in(client, "dave")
    page = client.get("/releases/rel-mt")
    assert page.status_code == 200
    for marker in ("link-marker-7f3a", "future-marker-19bc", "future_key"):
        assert marker not in page.text
    rows = _rows(_section(page.text, 'id="table-list"', "</table>"), "data-table")
    assert list(rows) == list(CRM_TABLES)
    assert _cells(rows["orders"])[3:6] == ["12", "—", "—"]
    assert _cells(rows["customers"])[3] == "—"
    assert "could not run on these tables" in page.text
    assert set(_relationships(page.text)) == {"orders -> customers", "no arrow here"}
    detail = client.get("/api/v1/releases/rel-mt", headers=seeded.headers("dave"))
    assert detail.status_code == 200
    tables = detail.json()["tables"]
    assert tables["quality"] is None
    assert "links" not in json.dumps(tables)


def test_without_its_report_a_multitable_release_is_listed_as_the_store_has_it(
    client: TestClient, seeded: Seeded
) -> None:
    make_multitable_release(seeded, with_report_json=False)
    sign_in(client, "dave")
    page = client.get("/releases/rel-mt").text
    assert 'id="tables"' not in page
    assert '<table id="gate">' in page
    assert page.count("<tr><td>no-copied-rows</td>") == 3
    assert (
        client.get("/api/v1/releases/rel-mt", headers=seeded.headers("dave")).json()["tables"]
        is None
    )


def test_report_outcomes_that_are_not_the_stores_are_not_grouped(
    client: TestClient, seeded: Seeded
) -> None:
    row = make_multitable_release(seeded)
    report = row.report_path.replace("report.html", "report.json")
    with open(report, encoding="utf-8") as f:
        facts = json.load(f)
    facts["gate"]["outcomes"][-1]["passed"] = True  # the report says more than the store
    with open(report, "w", encoding="utf-8") as f:
        json.dump(facts, f)
    sign_in(client, "dave")
    page = client.get("/releases/rel-mt").text
    assert 'id="tables"' in page
    assert "gate-groups" not in page
    assert '<table id="gate">' in page
    failed = _section(page, 'id="failed-rules"', "</ul>")
    assert "<b>fidelity.quality 0.421 &lt; 0.7</b>" in failed  # the store's, without a table


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.0, "1"), (1, "1"), (0.57, "0.57"), (0.99999, "0.9999"), (1 - 1e-12, "0.9999"), (0.0, "0")],
)
def test_a_share_short_of_one_never_reads_as_one(value: float, shown: str) -> None:
    assert _format.share(value) == shown


def test_counts_have_thousands_separators() -> None:
    assert _format.count(1777) == "1,777"
    assert _format.count(None) == "—"
