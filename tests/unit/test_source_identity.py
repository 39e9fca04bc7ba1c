"""A source table's identity is what it is, not how its URL is spelled."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from synthgate.sources import canonical_key, source_key


@pytest.fixture
def base_db(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    db = tmp_path / "data" / "base.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    return db


def test_three_spellings_of_one_sqlite_file_are_one_source(
    base_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path)
    spellings = [
        f"sqlite:///{root}/data/base.db",
        f"sqlite:///{root}/data/./base.db",
        f"sqlite:///{root}//data/base.db",
        f"sqlite:///{root}/data/../data/base.db",
        f"sqlite+pysqlite:///{root}/data/base.db",
    ]
    monkeypatch.chdir(tmp_path)
    spellings.append("sqlite:///data/base.db")  # relative to the current folder
    link = tmp_path / "link.db"
    link.symlink_to(base_db)
    spellings.append(f"sqlite:///{link}")
    keys = {source_key(url, "customers") for url in spellings}
    assert keys == {f"sqlite:///{os.path.realpath(base_db)}#main.customers"}
    # another table of the same file is another source
    assert source_key(spellings[0], "orders") not in keys


def test_files_are_their_resolved_real_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    csv = data / "people.csv"
    csv.write_text("a\n1\n", "utf-8")
    real = f"file://{os.path.realpath(csv)}"
    for url, table in [
        (str(csv), "people"),
        (f"{tmp_path}/data/./people.csv", "people"),
        (f"{tmp_path}//data/people.csv", "people"),
        (f"file://{csv}", "people"),
        (str(data), "people"),  # a folder of tables: the table's file
        (f"{data}/", "people"),
    ]:
        assert source_key(url, table) == real, url
    link = tmp_path / "alias.csv"
    link.symlink_to(csv)
    assert source_key(str(link), "alias") == real  # a symlink is the file it points to
    # a copy is another file: another source (registering it is how copies share a budget)
    copy = tmp_path / "copy.csv"
    shutil.copyfile(csv, copy)
    assert source_key(str(copy), "copy") != real


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # credentials, driver and letter case of the host are not the source
        (
            "postgresql://alice:s3cret@DB.example.com/crm",
            "postgresql+psycopg://bob@db.example.com/crm",
        ),
        # the default port is the port
        ("postgresql://app@db/crm", "postgresql://app@db:5432/crm"),
        ("mysql+pymysql://root@127.0.0.1/shop", "mariadb://app@localhost:3306/shop"),
        # the default schema is the schema
        ("postgresql://app@db/crm", "postgresql://app@db/crm?options=-csearch_path%3Dpublic"),
        # query options other than the schema are not the source
        ("postgresql://app@db/crm?application_name=x&sslmode=require", "postgresql://app@db/crm"),
    ],
)
def test_server_spellings_of_one_table_share_a_key(a: str, b: str) -> None:
    assert source_key(a, "customers") == source_key(b, "customers")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("postgresql://app@db/crm", "postgresql://app@db:5433/crm"),  # another server
        ("postgresql://app@db/crm", "postgresql://app@db/crm_copy"),  # another database
        ("postgresql://app@db/crm", "postgresql://app@db/crm?options=-csearch_path%3Dsales"),
        ("postgresql://app@db/crm", "mysql://app@db/crm"),  # another kind of server
        ("postgresql://app@db-a/crm", "postgresql://app@db-b/crm"),
    ],
)
def test_different_tables_keep_different_keys(a: str, b: str) -> None:
    assert source_key(a, "customers") != source_key(b, "customers")


def test_a_key_holds_no_credentials() -> None:
    key = source_key("postgresql://alice:hunter2-secret@db.example.com/crm", "customers")
    assert key == "postgresql://db.example.com:5432/crm#public.customers"
    assert "hunter2" not in key
    assert "alice" not in key


def test_old_spelled_keys_fold_into_canonical_ones(base_db: Path, tmp_path: Path) -> None:
    real = f"sqlite:///{os.path.realpath(base_db)}#main.customers"
    assert canonical_key(f"sqlite:///{tmp_path}/data/./base.db#customers") == real
    assert canonical_key("sqlite:///data/base.db#customers", relative_base=tmp_path) == real
    assert (
        canonical_key("postgresql://app:***@db/crm#customers")
        == "postgresql://db:5432/crm#public.customers"
    )
    # a relative path that does not resolve here is left alone, as is a key without '#'
    assert canonical_key("sqlite:///nowhere/x.db#customers", relative_base=tmp_path) is None
    assert canonical_key("not a key") is None
