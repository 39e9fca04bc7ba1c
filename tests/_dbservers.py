"""Throw-away databases on the PostgreSQL and MariaDB servers of this machine.

Each fixture creates its own schema (PostgreSQL) or database (MariaDB) with a
random name and drops it afterwards; nothing depends on what another test
left. When a server is not running the tests that need it are skipped with a
line that says how to start it.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
MY_HOST, MY_PORT = "127.0.0.1", 3306
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
MY_START = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class PgDb:
    schema: str
    url: str

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user="postgres", dbname="test", autocommit=True
        ) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            cur = conn.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []


@dataclass
class MyDb:
    database: str
    url: str

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import pymysql

        conn = pymysql.connect(
            host=MY_HOST, port=MY_PORT, user="root", database=self.database, autocommit=True
        )
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()


def pg_database() -> Iterator[PgDb]:
    """Use as ``yield from pg_database()`` in a fixture."""
    if not _listening(PG_HOST, PG_PORT):
        pytest.skip(f"PostgreSQL is not running on {PG_HOST}:{PG_PORT}; start it: {PG_START}")
    import psycopg

    schema = f"sg_test_{secrets.token_hex(5)}"
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", dbname="test", autocommit=True
    ) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = (
        f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
        f"?options=-csearch_path%3D{schema}&application_name={schema}"
    )
    try:
        yield PgDb(schema, url)
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user="postgres", dbname="test", autocommit=True
        ) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def mysql_database() -> Iterator[MyDb]:
    """Use as ``yield from mysql_database()`` in a fixture."""
    if not _listening(MY_HOST, MY_PORT):
        pytest.skip(f"MariaDB is not running on {MY_HOST}:{MY_PORT}; start it: {MY_START}")
    import pymysql

    name = f"sg_test_{secrets.token_hex(5)}"
    admin = pymysql.connect(host=MY_HOST, port=MY_PORT, user="root", autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        admin.close()
    try:
        yield MyDb(name, f"mysql://root@{MY_HOST}:{MY_PORT}/{name}")
    finally:
        admin = pymysql.connect(host=MY_HOST, port=MY_PORT, user="root", autocommit=True)
        try:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            admin.close()
