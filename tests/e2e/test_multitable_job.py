"""A multi-table job through the CLI: spec → dry run → run → four-eyes → publish.

A generated CRM (customers → orders → order_items, public products) in SQLite
with declared foreign keys; one release for all four tables, one ε for the
person on the customers' source, all tables published in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from tests._cli import Cli
from tests._crm import crm
from tests.conftest import register_pack

from synthgate.pipeline._resume import abandoned_runs
from synthgate.privacy import BudgetLedger
from synthgate.settings import Settings
from synthgate.store import Store

pytestmark = pytest.mark.slow

SpecWriter = Callable[[dict[str, Any]], Path]
TABLES = ["customers", "orders", "order_items", "products"]
DDL = """
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, segment TEXT, region TEXT,
                        age INTEGER, balance REAL);
CREATE TABLE products (product_id TEXT PRIMARY KEY, category TEXT, price REAL);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY,
                     customer_id INTEGER REFERENCES customers(customer_id),
                     channel TEXT, amount REAL);
CREATE TABLE order_items (item_id TEXT PRIMARY KEY,
                          order_id INTEGER REFERENCES orders(order_id),
                          product_id TEXT REFERENCES products(product_id),
                          quantity INTEGER, discount REAL);
"""
#: the default pack's blocking rules on copies and identifiers; quality only warns (a
#: 600-customer CRM at ε = 3 is small)
PACK = """
name: crm-test
description: multi-table test pack
pii: {direct_identifier: fake, quasi_identifier: keep, free_text: drop}
budget: {epsilon_per_source: 5}
rules:
  - {id: no-pii-replay, metric: privacy.pii_replay, op: "==", threshold: 0, severity: block,
     explain: no real identifier may appear}
  - {id: no-copied-rows, metric: privacy.exact_match_share, op: "<=", threshold: 0.05,
     severity: block, explain: few exact copies}
  - {id: fidelity, metric: fidelity.quality, op: ">=", threshold: 0.7, severity: warn,
     explain: looks like the real table}
"""


def _crm_db(path: Path, customers: int = 600) -> Path:
    tables = crm(customers, seed=3)
    rng = np.random.default_rng(4)
    tables["customers"]["balance"] = np.round(rng.gamma(2.0, 300.0, len(tables["customers"])), 2)
    items = tables["order_items"]
    items["discount"] = np.round(rng.uniform(0, 0.3, len(items)), 3)
    con = sqlite3.connect(path)
    try:
        con.executescript(DDL)
        for name in ("customers", "products", "orders", "order_items"):
            tables[name].to_sql(name, con, if_exists="append", index=False)
        con.commit()
    finally:
        con.close()
    return path


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


@pytest.fixture
def source_db(tmp_path: Path) -> Path:
    return _crm_db(tmp_path / "crm.db")


def _spec(source: Path, target: Path, pack: Path, **synthesis: Any) -> dict[str, Any]:
    return {
        "name": "crm-weekly",
        "source": {"url": f"sqlite:///{source}", "tables": TABLES, "public": ["products"]},
        "target": {"url": f"sqlite:///{target}", "mode": "replace"},
        "synthesis": {"privacy": {"epsilon": 3, "unit": "customers"}, **synthesis},
        "release": {"policy": str(pack)},
    }


def _pack(tmp_path: Path) -> Path:
    pack = tmp_path / "crm-pack.yaml"
    pack.write_text(PACK, "utf-8")
    register_pack(pack)
    return pack


def _frames(db: Path) -> dict[str, pd.DataFrame]:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return {t: pd.read_sql_table(t, conn) for t in TABLES}
    finally:
        engine.dispose()


def _ledger_totals(home: Path) -> list[Any]:
    store = Store(Settings.from_env().store_url)
    try:
        ledger = BudgetLedger(store)
        return [e for k in ledger.sources() for e in ledger.entries(k) if e.stage == "total"]
    finally:
        store.dispose()


def _approved(cli: Cli, spec: Path) -> str:
    return _approved_run(cli, spec)["release_id"]  # type: ignore[no-any-return]


def _approved_run(cli: Cli, spec: Path) -> dict[str, Any]:
    outcome: dict[str, Any] = cli.json("alice", "run", str(spec), expect=4)
    assert outcome["status"] == "AWAITING_APPROVAL"
    rid = str(outcome["release_id"])
    code, _, err = cli("alice", "approve", rid, "--comment", "mine")  # four eyes
    assert code == 1
    assert "approve" in err
    decision = cli.json("bob", "approve", rid, "--comment", "tables reviewed")
    assert decision["status"] == "APPROVED"
    return outcome


def test_run_approve_publish_every_table_with_keys_intact(
    home: Path, source_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    cli.users(alice="engineer", bob="approver")
    target = tmp_path / "released.db"
    spec = write_spec(_spec(source_db, target, _pack(tmp_path)))

    checked = cli.json("alice", "run", str(spec), "--dry-run")
    assert checked["private"] == ["customers", "orders", "order_items"]
    assert checked["plan"][0] == "customers: the unit, one row per person"
    assert checked["plan"][-1] == "products: public, copied as given (no budget)"
    assert checked["budget"]["source"].endswith("#main.customers")
    assert not (home / "runs").exists()  # a dry run reads and writes nothing

    outcome = _approved_run(cli, spec)
    rid = outcome["release_id"]
    report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
    part = report["multi_table"]
    assert part["referential_integrity"] == 1.0
    assert set(part["rows"]) == set(TABLES)
    tvd = part["relationships"]["orders -> customers"]["children_per_parent_tvd"]
    assert tvd == round(tvd, 2)
    assert {o["table"] for o in report["gate"]["outcomes"]} == {None, *TABLES[:3]}
    page = Path(outcome["report_html"]).read_text("utf-8")
    assert "Children-per-parent TVD" in page
    published = cli.json("alice", "publish", rid)
    assert published["status"] == "PUBLISHED"

    out = _frames(target)
    assert set(out) == set(TABLES)
    for table, key in [("customers", "customer_id"), ("orders", "order_id")]:
        assert out[table][key].is_unique
    assert out["order_items"]["item_id"].is_unique
    assert out["orders"]["customer_id"].isin(out["customers"]["customer_id"]).all()
    assert out["order_items"]["order_id"].isin(out["orders"]["order_id"]).all()
    assert out["order_items"]["product_id"].isin(out["products"]["product_id"]).all()
    real = _frames(source_db)
    pd.testing.assert_frame_equal(out["products"], real["products"])  # public: as given
    # fresh keys: no synthetic order carries a real order's key
    assert not out["orders"]["order_id"].isin(real["orders"]["order_id"]).all()
    # as many people as the whole table (the holdout share is public), not the training share
    assert 0.85 < len(out["customers"]) / len(real["customers"]) < 1.15

    totals = _ledger_totals(home)
    assert len(totals) == 1
    assert totals[0].source_key.endswith("#main.customers")
    assert 0 < totals[0].epsilon <= 3.0

    shown = cli.json("alice", "releases", "show", rid)
    assert shown["status"] == "PUBLISHED"
    con = sqlite3.connect(target)
    try:  # one card for the release, listing every table
        cards = con.execute("SELECT release_id, card_json FROM synthgate_release_cards").fetchall()
    finally:
        con.close()
    assert [c[0] for c in cards] == [rid]
    card = json.loads(cards[0][1])
    assert {t: v["rows"] for t, v in card["tables"].items()} == {t: len(f) for t, f in out.items()}


def test_a_run_over_the_unit_budget_exits_5_before_reading(
    home: Path, source_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    cli.users(alice="engineer", bob="approver")
    spec = write_spec(_spec(source_db, tmp_path / "released.db", _pack(tmp_path)))
    first = cli.json("alice", "run", str(spec), expect=4)  # ε 3 of the pack's 5
    again = cli.json("alice", "run", str(spec), expect=99)  # nothing changed: nothing spent
    assert again["model_run"] == first["run_id"]
    assert again["epsilon_spent"] == 0.0
    runs_before = sorted(p.name for p in (home / "runs").iterdir())
    spec = write_spec(_spec(source_db, tmp_path / "released.db", _pack(tmp_path), seed=5))
    code, _, err = cli("alice", "run", str(spec))  # a new spec asks again: 3 + 3 > 5
    assert code == 5
    assert "customers" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (home / "runs").iterdir()) == runs_before  # nothing read
    assert len(_ledger_totals(home)) == 1


def test_a_fault_between_two_tables_leaves_every_target_as_it_was(
    home: Path,
    source_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synthgate_connectors.sql import _write

    cli.users(alice="engineer", bob="approver")
    target = tmp_path / "released.db"
    con = sqlite3.connect(target)  # what was there before: one old table of each name
    for table in TABLES:
        con.execute(f'CREATE TABLE "{table}" (old INTEGER)')
        con.execute(f'INSERT INTO "{table}" VALUES (1)')
    con.commit()
    con.close()
    spec = write_spec(_spec(source_db, target, _pack(tmp_path)))
    rid = _approved(cli, spec)

    swap = _write._swap_in_transaction
    swapped: list[str] = []

    def failing(conn: Any, job: Any, staging: str) -> None:
        if swapped:  # the second table's swap: after the first one landed
            raise RuntimeError("fault between two tables")
        swapped.append(job.table)
        swap(conn, job, staging)

    monkeypatch.setattr(_write, "_swap_in_transaction", failing)
    code, _, _ = cli("alice", "publish", rid)
    assert code != 0
    assert swapped == ["products"]  # parents first; the fault came after the first swap
    for table, frame in _frames(target).items():
        assert list(frame.columns) == ["old"], table
        assert frame["old"].tolist() == [1], table
    leftovers = sa.inspect(sa.create_engine(f"sqlite:///{target}")).get_table_names()
    assert not [t for t in leftovers if t.startswith("_sg_stage_")]

    monkeypatch.setattr(_write, "_swap_in_transaction", swap)
    assert cli.json("alice", "publish", rid)["status"] == "PUBLISHED"
    assert set(_frames(target)) == set(TABLES)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unit": None}, "synthesis.privacy.unit is required with source.tables"),
        ({"unit": "nope"}, "synthesis.privacy.unit 'nope' is not one of source.tables"),
        ({"table": "customers"}, "source.table and source.tables are both given"),
        ({"public": ["customers"]}, "synthesis.privacy.unit cannot be public"),
        ({"rows": 10}, "synthesis.rows applies to a one-table job"),
        ({"caps": {"nope.customer_id": 3}}, "synthesis.caps.nope.customer_id"),
        (
            {"relationships": [{"child": "orders", "parent": "customers.customer_id"}]},
            "relationship child 'orders' is not table.column",
        ),
    ],
)
def test_spec_errors_are_one_line_and_exit_2(
    home: Path,
    source_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    cli: Cli,
    change: dict[str, Any],
    expected: str,
) -> None:
    spec = _spec(source_db, tmp_path / "released.db", tmp_path / "pack.yaml")
    spec["release"] = {"policy": "default"}
    for key, value in change.items():
        if key in ("unit",):
            spec["synthesis"]["privacy"][key] = value
        elif key in ("rows", "caps"):
            spec["synthesis"][key] = value
        else:
            spec["source"][key] = value
    code, _, err = cli("alice", "run", str(write_spec(spec)))
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert not (home / "runs").exists()


def test_preflight_names_every_graph_problem_before_reading(
    home: Path, source_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    spec = _spec(source_db, tmp_path / "released.db", tmp_path / "pack.yaml")
    spec["release"] = {"policy": "default"}
    spec["source"]["public"] = []  # products: private, but nothing leads to it from customers
    spec["source"]["relationships"] = [
        {"child": "orders.customer_id", "parent": "customers.customer_id"},
        {"child": "order_items.order_id", "parent": "orders.nope"},
    ]
    code, _, err = cli("alice", "run", str(write_spec(spec)), "--dry-run")
    assert code == 2
    assert "source.tables: relationship order_items (order_id) -> orders (nope)" in err
    assert "table 'orders' has no column 'nope'" in err
    spec["source"]["relationships"][1] = {
        "child": "order_items.order_id",
        "parent": "orders.order_id",
    }
    code, _, err = cli("alice", "run", str(write_spec(spec)), "--dry-run")
    assert code == 2
    assert "table 'products' is not reachable from the unit 'customers'" in err
    assert not (home / "runs").exists()
    spec["source"]["public"] = ["products"]
    spec["synthesis"]["context"] = {"orders": ["nope"], "customers": ["segment"]}
    code, _, err = cli("alice", "run", str(write_spec(spec)), "--dry-run")
    assert code == 2
    assert "synthesis.context: the context of 'orders' names 'nope', which is not a column" in err
    assert "context is given for 'customers', which is not a child of a private table" in err
    del spec["synthesis"]["context"]
    spec["source"]["public"] = []
    # declared relationships into a table out of source.tables are refused by the spec
    spec["source"]["relationships"] = [{"child": "orders.customer_id", "parent": "x.id"}]
    code, _, err = cli("alice", "run", str(write_spec(spec)))
    assert code == 2
    assert "source.relationships[0]: table 'x' is not one of source.tables" in err


def test_yaml_spec_of_the_docs_parses(tmp_path: Path) -> None:
    from synthgate.config import parse_job_spec

    text = """
    name: crm-weekly
    source:
      url: "sqlite:///crm.db"
      tables: [customers, orders, order_items, products]
      public: [products]
      relationships:
        - {child: orders.customer_id, parent: customers.customer_id}
        - {child: [order_items.o_region, order_items.o_no], parent: [orders.region, orders.no]}
    target: {url: "sqlite:///released.db", mode: replace}
    synthesis:
      privacy: {epsilon: 3, unit: customers}
      caps: {orders.customer_id: 10}
    release: {policy: default}
    """
    spec = parse_job_spec(yaml.safe_load(text))
    assert spec.multi_table
    assert spec.source.table == "customers"  # the unit: the budget's table
    composite = spec.source.relationships[1].relationship()
    assert composite.child_columns == ("o_region", "o_no")
    assert composite.parent_table == "orders"


def test_a_run_whose_process_died_is_abandoned_and_its_reservation_released(
    home: Path,
    source_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synthgate.pipeline import _multi

    cli.users(alice="engineer", bob="approver")
    spec = write_spec(_spec(source_db, tmp_path / "released.db", _pack(tmp_path)))

    class Killed(BaseException):
        pass

    def killed(*_: Any) -> None:
        raise Killed  # the process ends after reserving, before a row is read

    graph, failed = _multi.tables_graph, _multi._failed  # type: ignore[attr-defined]
    monkeypatch.setattr(_multi, "tables_graph", killed)
    monkeypatch.setattr(_multi, "_failed", lambda *_: None)  # nothing recorded: kill -9
    code, _, _ = cli("alice", "run", str(spec))
    assert code == 1
    store = Store(Settings.from_env().store_url)
    try:
        stale = abandoned_runs(store, "crm-weekly")
        assert len(stale) == 1
        row = store.get_run(stale[0])
        assert row is not None
        assert BudgetLedger(store).reserved(row.source_key, row.id) == 3.0
    finally:
        store.dispose()
    monkeypatch.setattr(_multi, "tables_graph", graph)
    monkeypatch.setattr(_multi, "_failed", failed)
    cli.json("alice", "run", str(spec), expect=4)  # ε 3 of 5: the stale 3 was released
    store = Store(Settings.from_env().store_url)
    try:
        after = store.get_run(stale[0])
        assert after is not None
        assert after.status == "failed"
    finally:
        store.dispose()
    assert len(_ledger_totals(home)) == 1


def test_csv_folder_with_declared_relationships_keeps_keys_out_of_the_pii_plan(
    home: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    for name, frame in crm(400, seed=8).items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    spec = _spec(folder, tmp_path / "released.db", tmp_path / "unused.yaml")
    spec["release"] = {"policy": "default"}
    spec["source"]["url"] = str(folder)
    spec["source"]["relationships"] = [
        {"child": "orders.customer_id", "parent": "customers.customer_id"},
        {"child": "order_items.order_id", "parent": "orders.order_id"},
        {"child": "order_items.product_id", "parent": "products.product_id"},
    ]
    spec["synthesis"]["caps"] = {"orders.customer_id": 12}
    spec["source"]["keys"] = {"order_items": ["item_id"]}  # a leaf's key: files have no catalog
    code, out, err = cli("alice", "run", str(write_spec(spec)), "--json")
    assert code in (3, 4), err  # released for review or blocked by the default pack
    outcome = json.loads(out)
    report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
    # a customer id reads as a record id, yet only links rows: kept for the engine's
    # fresh keys, never faked, and no real id is replayed (a fresh key is no real one)
    actions = {a["column"]: a for a in report["pii"]["actions"]["customers"]}
    assert actions["customer_id"]["action"] == "keep"
    assert "fresh key" in actions["customer_id"]["reason"]
    replay = [o for o in report["gate"]["outcomes"] if o["metric"] == "privacy.pii_replay"]
    assert replay
    assert all(o["passed"] for o in replay)
    assert report["multi_table"]["ledger"]["caps"]["orders"] == {
        "cap": 12,
        "declared": True,
        "clipped_rows_estimate": report["multi_table"]["ledger"]["caps"]["orders"][
            "clipped_rows_estimate"
        ],
    }
    assert report["multi_table"]["referential_integrity"] == 1.0
    assert report["multi_table"]["unique_keys"]["order_items"] is True
    items = {a["column"]: a for a in report["pii"]["actions"]["order_items"]}
    assert items["item_id"]["action"] == "keep"  # a fresh key, never learned or faked
    items_out = pd.read_parquet(Path(outcome["run_dir"]) / "sample" / "table-3.parquet")
    assert items_out["item_id"].is_unique
    spec["source"]["keys"] = {"nope": ["x"], "orders": []}
    code, _, err = cli("alice", "run", str(write_spec(spec)), "--dry-run")
    assert code == 2
    assert "source.keys.nope: not one of source.tables" in err
    assert "source.keys.orders: list its key columns" in err


def test_a_file_target_is_refused_in_preflight(
    home: Path, source_db: Path, tmp_path: Path, write_spec: SpecWriter, cli: Cli
) -> None:
    spec = _spec(source_db, tmp_path / "released.db", tmp_path / "unused.yaml")
    spec["release"] = {"policy": "default"}
    spec["target"] = {"url": str(tmp_path / "out"), "mode": "replace"}
    (tmp_path / "out").mkdir()
    code, _, err = cli("alice", "run", str(write_spec(spec)), "--dry-run")
    assert code == 2
    assert "target: this target cannot write several tables as one" in err
