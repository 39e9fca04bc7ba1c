"""Find the connector for a URL and open sources and sinks through it; the canonical
identity of a source table.

A source table's identity (the key of its privacy-budget ledger) is what it *is*,
never how its URL is spelled: database servers by backend, host, port, database,
schema and table (no user, no password, no driver, no query options other than the
schema); SQLite databases and CSV/Parquet files by their resolved real path
(symlinks, ``.``, ``..`` and doubled slashes resolved). A CSV copied to another path
is another file: an admin ties copies to one budget by registering them (see
:func:`synthgate.privacy.register_source`), never by spelling.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from synthgate.contracts import Connector, Sink, Source
from synthgate.errors import ConfigError, redact
from synthgate.plugins import PluginGroup, load_all

__all__ = [
    "SourceIdentity",
    "canonical_key",
    "connector_for",
    "open_sink",
    "open_source",
    "source_identity",
    "source_key",
]


def connector_for(url: str) -> Connector:
    connectors: dict[str, Any] = load_all(PluginGroup.CONNECTORS)
    for name, factory in connectors.items():
        conn: Connector = factory()
        if conn.accepts(url):
            return conn
        del name
    raise ConfigError(
        f"no connector accepts {redact(url)!r}",
        hint="use a SQLAlchemy URL (sqlite:///f.db, postgresql://…, mysql://…) or a path to a "
        ".csv/.parquet file or directory; installed connectors: " + ", ".join(sorted(connectors)),
    )


def open_source(url: str, options: Mapping[str, Any] | None = None) -> Source:
    return connector_for(url).source(url, options=options or {})


def open_sink(url: str, options: Mapping[str, Any] | None = None) -> Sink:
    return connector_for(url).sink(url, options=options or {})


# --------------------------------------------------------------------------- identity

#: default ports of the servers synthgate reads (a URL without a port means this one)
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}
#: the schema a table name without one resolves to
_DEFAULT_SCHEMAS = {"postgresql": "public", "mssql": "dbo"}
_BACKEND_ALIASES = {"mariadb": "mysql"}
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_FILE_SUFFIXES = {".csv", ".parquet", ".pq"}
_SEARCH_PATH = re.compile(r"search_path\s*=\s*\"?([^\s,\"]+)")


@dataclass(frozen=True, slots=True)
class SourceIdentity:
    """What a source table is: a table on a database server, in a SQLite file, or a file."""

    backend: str  # postgresql, mysql, mssql, sqlite, file …
    host: str | None
    port: int | None
    database: str  # server: the database; sqlite and file: the resolved real path
    schema: str | None
    table: str

    @property
    def key(self) -> str:
        """The ledger key: ``postgresql://host:5432/db#schema.table``,
        ``sqlite:////real/path.db#main.table`` or ``file:///real/path.csv``."""
        if self.backend == "file":
            return f"file://{self.database}"
        qualified = f"{self.schema}.{self.table}" if self.schema else self.table
        if self.backend == "sqlite":
            return f"sqlite://{'/' if self.database.startswith('/') else ''}{self.database}#{qualified}"
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.backend}://{self.host or ''}{port}/{self.database}#{qualified}"


def _is_file_url(url: str) -> bool:
    return url.startswith("file://") or "://" not in url


def _real(path: Path) -> str:
    return os.path.realpath(path.expanduser())


def _file_identity(url: str, table: str) -> SourceIdentity:
    """A file is its resolved real path; a directory's table is the file named by it."""
    root = Path(unquote(urlparse(url).path)) if url.startswith("file://") else Path(url)
    root = root.expanduser()
    path = root
    if root.is_dir():
        matches = sorted(
            p
            for p in root.iterdir()
            if p.is_file() and p.stem == table and p.suffix.lower() in _FILE_SUFFIXES
        )
        path = matches[-1] if matches else root / table
    return SourceIdentity("file", None, None, _real(path), None, table)


def _sqlite_identity(parsed: URL, table: str) -> SourceIdentity:
    database = parsed.database or ""
    if table.startswith("main.") and table.count(".") == 1:
        table = table.removeprefix("main.")
    if database in ("", ":memory:"):
        return SourceIdentity("sqlite", None, None, ":memory:", "main", table)
    if database.startswith("file:"):  # sqlite:///file:path?mode=ro&uri=true
        database = database.removeprefix("file:").partition("?")[0]
    return SourceIdentity("sqlite", None, None, _real(Path(database)), "main", table)


def _server_identity(parsed: URL, backend: str, table: str) -> SourceIdentity:
    host = (parsed.host or "").lower()
    query_host = parsed.query.get("host")
    if not host and isinstance(query_host, str):
        host = query_host.lower()
    if not host or host in _LOOPBACK or host.startswith("/"):  # unix sockets are local
        host = "localhost"
    port = parsed.port or _DEFAULT_PORTS.get(backend)
    database = parsed.database or (parsed.username if backend == "postgresql" else None) or ""
    schema = _DEFAULT_SCHEMAS.get(backend)
    options = parsed.query.get("options")
    if backend == "postgresql" and isinstance(options, str):
        found = _SEARCH_PATH.search(unquote(options))
        schema = found.group(1) if found else schema
    if backend == "mysql":
        schema = database  # a MySQL schema is its database
    named, dot, bare = table.partition(".")
    if dot and named and bare and "." not in bare:  # schema.table names its schema
        schema, table = named, bare
        if backend == "mysql":
            database = named
    return SourceIdentity(backend, host, port, database, schema, table)


def source_identity(url: str, table: str) -> SourceIdentity | None:
    """The identity of *table* at *url*; None for a URL no connector could read."""
    if _is_file_url(url):
        return _file_identity(url, table)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    backend = parsed.get_backend_name()
    backend = _BACKEND_ALIASES.get(backend, backend)
    if backend == "sqlite":
        return _sqlite_identity(parsed, table)
    return _server_identity(parsed, backend, table)


def source_key(url: str, table: str) -> str:
    """Canonical, secret-free identity of a source table: the budget ledger's key."""
    identity = source_identity(url, table)
    return identity.key if identity is not None else f"{redact(url)}#{table}"


def canonical_key(spelled: str, *, relative_base: Path | None = None) -> str | None:
    """The canonical key of a key spelled the old way (``URL#table``, password masked),
    or None when it cannot be told: no ``#``, or a relative file path that does not
    resolve to an existing file from *relative_base* (default: the current folder)."""
    url, sep, table = spelled.rpartition("#")
    if not sep or not url or not table:
        return None
    path_text = _local_path(url)
    if path_text is not None and not Path(path_text).expanduser().is_absolute():
        base = relative_base or Path.cwd()
        if not (base / path_text).exists():
            return None
        url = url.replace(path_text, str(base / path_text), 1)
    return source_key(url, table)


def _local_path(url: str) -> str | None:
    """The file path inside a file or SQLite URL, as spelled; None for a server."""
    if url.startswith("file://"):
        return unquote(urlparse(url).path)
    if "://" not in url:
        return url
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1].partition("?")[0]
        return path or None
    return None
