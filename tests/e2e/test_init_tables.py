"""`synthgate init --tables`: a commented multi-table job-spec draft that `synthgate run
--dry-run` accepts unchanged, from a SQLite catalog or a CSV folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tests._cli import Cli
from tests.e2e.test_multitable_job import TABLES, _crm_db

from synthgate.config import JobSpec, load_job_spec, parse_job_spec
from synthgate.contracts import ColumnSchema, LogicalType, Relationship, TableSchema
from synthgate.draft import guess_relationships, singular

# planted in one cell of each table: it may reach neither the draft nor stderr
SENTINEL = "Sentinel Quxbarrow 7Z4K"
SENTINEL_CELLS = {
    "customers": "segment",
    "orders": "channel",
    "order_items": "item_id",
    "products": "category",
}
PLAN = [
    "customers: the unit, one row per person",
    "orders: below customers through orders (customer_id) -> customers (customer_id)",
    "order_items: below orders through order_items (order_id) -> orders (order_id)",
    "products: public, copied as given (no budget)",
]
GUESSED = [
    Relationship("orders", ("customer_id",), "customers", ("customer_id",)),
    Relationship("order_items", ("order_id",), "orders", ("order_id",)),
    Relationship("order_items", ("product_id",), "products", ("product_id",)),
]


@pytest.fixture(scope="module")
def crm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CRM of the multi-table job (foreign keys declared), a sentinel in each table."""
    db = _crm_db(tmp_path_factory.mktemp("crm") / "crm.db", customers=200)
    con = sqlite3.connect(db)
    try:
        for table, column in SENTINEL_CELLS.items():
            first = f"(SELECT MIN(rowid) FROM {table})"
            con.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = {first}", (SENTINEL,))
        con.commit()
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def crm_csv(crm_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tables as a folder of CSV files: no catalog, no declared key."""
    folder = tmp_path_factory.mktemp("csv") / "crm"
    folder.mkdir()
    con = sqlite3.connect(crm_db)
    try:
        for name in TABLES:
            pd.read_sql(f"SELECT * FROM {name}", con).to_csv(folder / f"{name}.csv", index=False)
    finally:
        con.close()
    for name in SENTINEL_CELLS:  # planted in every table, read by init
        assert SENTINEL in (folder / f"{name}.csv").read_text("utf-8")
    return folder


@pytest.fixture
def cli(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


def _init(cli: Cli, url: str, out: Path, *args: str) -> tuple[str, str]:
    code, stdout, stderr = cli("alice", "init", url, *args, "-o", str(out))
    assert code == 0, stderr
    assert stdout == ""
    return out.read_text("utf-8"), stderr


def _spec(path: Path) -> JobSpec:
    return load_job_spec(path, env={}).spec


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


def _dry_run(cli: Cli, path: Path) -> str:
    code, stdout, stderr = cli("alice", "run", str(path), "--dry-run")
    assert code == 0, stderr
    return stdout


# --------------------------------------------------------------------------- SQLite


def test_sqlite_catalog_draft_passes_a_dry_run(crm_db: Path, tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "job.yaml"
    text, stderr = _init(
        cli, f"sqlite:///{crm_db}", out, "--tables", ",".join(TABLES), "--public", "products"
    )
    spec = _spec(out)

    assert spec.source.url == f"sqlite:///{crm_db}"
    assert spec.source.tables == TABLES
    assert spec.source.public == ["products"]
    assert spec.source.relationships == []  # the run reads the catalog's foreign keys itself
    assert spec.synthesis.privacy.unit == "customers"  # the first of --tables
    assert spec.synthesis.privacy.epsilon == 3
    assert spec.synthesis.caps == {}
    assert spec.target.url == f"sqlite:///{tmp_path / 'released.db'}"
    assert spec.target.table is None
    assert spec.release.policy == spec.pii.policy == "default"
    # every foreign key, as a comment
    for line in (
        "#   - {child: orders.customer_id, parent: customers.customer_id}",
        "#   - {child: order_items.order_id, parent: orders.order_id}",
        "#   - {child: order_items.product_id, parent: products.product_id}",
    ):
        assert line in text
    # the plan, one comment line per table, as the dry run prints it
    for line in PLAN:
        assert f"#   {line}\n" in text
    assert "FIX:" not in text
    # a caps line per child table, commented
    assert "# caps: {orders.customer_id: 10}" in text
    assert "# caps: {order_items.order_id: 10}" in text
    # the PII summary per table: column -> action, keys named
    assert "# customers: keys: customer_id" in text
    assert "age: keep" in text
    assert "QUESTION: who approves?" in text
    assert "3 relationship(s) from the catalog" in stderr

    printed = _dry_run(cli, out)
    for line in PLAN:
        assert line in printed


def test_uncommented_caps_and_unit_are_taken(crm_db: Path, tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "job.yaml"
    text, _ = _init(
        cli,
        f"sqlite:///{crm_db}",
        out,
        "--tables",
        "orders, customers,order_items,products",
        "--unit",
        "customers",
        "--public",
        "products",
    )
    assert _spec(out).synthesis.privacy.unit == "customers"
    out.write_text(
        text.replace("# caps: {orders.customer_id: 10}", "caps: {orders.customer_id: 10}")
    )
    assert _spec(out).synthesis.caps == {"orders.customer_id": 10}
    _dry_run(cli, out)


def test_a_refused_plan_is_written_as_fix_comments(crm_db: Path, tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "job.yaml"
    text, stderr = _init(cli, f"sqlite:///{crm_db}", out, "--tables", ",".join(TABLES))
    fixes = [ln for ln in text.splitlines() if ln.startswith("# FIX: ")]
    assert fixes == [
        "# FIX: table 'products' is not reachable from the unit 'customers' through foreign "
        "keys: declare its relationship, make it public, or leave it out"
    ]
    assert "1 FIX comment(s)" in stderr
    assert _spec(out).source.public == []  # still a valid spec
    code, _, stderr = cli("alice", "run", str(out), "--dry-run")
    assert code == 2
    assert "'products' is not reachable" in stderr


# --------------------------------------------------------------------------- CSV


def test_csv_folder_relationships_are_guessed(crm_csv: Path, tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "job.yaml"
    text, stderr = _init(
        cli, str(crm_csv), out, "--tables", ",".join(TABLES), "--public", "products"
    )
    spec = _spec(out)
    assert [r.relationship() for r in spec.source.relationships] == GUESSED
    assert spec.source.keys == {"order_items": ["item_id"]}  # the leaf's own key
    assert "guessed from column names: check them" in text
    assert "guessed from column names (check them)" in stderr
    for line in PLAN:
        assert f"#   {line}\n" in text

    printed = _dry_run(cli, out)
    for line in PLAN:
        assert line in printed


def test_guessed_relationships_name_existing_columns() -> None:
    def table(name: str, *columns: str) -> TableSchema:
        return TableSchema(name, tuple(ColumnSchema(c, LogicalType.INTEGER) for c in columns))

    schemas = [
        table("customers", "id", "country_code"),
        table("orders", "id", "customer_id", "note"),
        table("order_lines", "order_id", "category_id", "qty"),
        table("categories", "category_id"),
        table("countries", "code"),
        table("addresses", "address_id", "customer_id"),
    ]
    found = guess_relationships(schemas, {"countries": [("code",)]})
    assert found == [
        Relationship("customers", ("country_code",), "countries", ("code",)),
        Relationship("orders", ("customer_id",), "customers", ("id",)),
        Relationship("order_lines", ("order_id",), "orders", ("id",)),
        Relationship("order_lines", ("category_id",), "categories", ("category_id",)),
        Relationship("addresses", ("customer_id",), "customers", ("id",)),
    ]
    columns = {s.name: set(s.column_names) for s in schemas}
    for rel in found:
        assert set(rel.child_columns) <= columns[rel.child_table]
        assert set(rel.parent_columns) <= columns[rel.parent_table]
    # a key named like the table, without a catalog: no 'code' column is guessed
    assert guess_relationships([table("countries", "code"), table("airports", "code")]) == []
    assert [singular(n) for n in ("categories", "addresses", "boxes", "crm.Orders", "status")] == [
        "category",
        "address",
        "box",
        "order",
        "status",
    ]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--tables", "customers,orders", "--table", "customers"],
            "--table and --tables cannot be combined",
        ),
        (
            ["--tables", "customers,nope"],
            "table 'nope' not in the source; tables there: customers, order_items, orders, "
            "products",
        ),
        (
            ["--tables", "customers,orders,products", "--unit", "products", "--public", "products"],
            "the unit 'products' cannot be public",
        ),
        (["--tables", "customers,products", "--public", "customers"], "cannot be public"),
        (["--tables", "customers,orders", "--unit", "people"], "--unit 'people' is not one of"),
        (["--unit", "customers", "--table", "customers"], "--unit and --public go with --tables"),
    ],
)
def test_bad_tables_options_are_one_line_and_exit_2(
    crm_db: Path, tmp_path: Path, cli: Cli, args: list[str], message: str
) -> None:
    out = tmp_path / "job.yaml"
    code, stdout, stderr = cli("alice", "init", f"sqlite:///{crm_db}", *args, "-o", str(out))
    assert code == 2
    assert message in _one_line(stderr)
    assert stdout == ""
    assert not out.exists()


def test_help_names_the_tables_options(cli: Cli) -> None:
    code, stdout, _ = cli("alice", "init", "--help")
    assert code == 0
    for word in ("--tables", "--unit", "--public", "FIX"):
        assert word in stdout


# --------------------------------------------------------------------------- no value


def test_no_value_from_the_tables_is_in_the_draft(
    crm_db: Path, crm_csv: Path, tmp_path: Path, cli: Cli
) -> None:
    tables = ["--tables", ",".join(TABLES)]
    for i, url in enumerate((f"sqlite:///{crm_db}", str(crm_csv))):
        for extra in (["--public", "products"], []):  # a planned draft and a refused one
            out = tmp_path / f"job{i}-{len(extra)}.yaml"
            text, stderr = _init(cli, url, out, *tables, *extra)
            for word in (SENTINEL, *SENTINEL.split()[1:]):
                assert word not in text + stderr
            parse_job_spec(yaml.safe_load(text), env={})
        code, stdout, stderr = cli("alice", "init", url, *tables, "--public", "products")
        assert code == 0, stderr
        assert "version: 1" in stdout
        assert SENTINEL not in stdout + stderr
