"""Database URLs, engines, connections with retry, and typed driver errors.

Driver errors become one-line synthgate errors: *terminal* ones (wrong
password, unknown database or table, a constraint violated) and *transient*
ones (connection refused or reset, server starting or shutting down, deadlock,
serialization failure), which :func:`connect` retries with backoff. Messages
keep the driver's first line with every quoted literal masked, and a data
error (a value that does not convert: it is quoted in the driver's message)
is named by its code alone, so no data value and no secret can reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from synthgate.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    SinkError,
    SourceError,
    SourceNotFound,
    SynthgateError,
    TableNotFound,
    TargetNotWritable,
    redact,
    register_secret,
)
from synthgate_connectors._retry import RetryPolicy, retry

__all__ = [
    "SinkConnectionLost",
    "backend",
    "connect",
    "make_engine",
    "normalise",
    "safe_url",
    "sink_error",
    "source_error",
    "sqlite_path",
]

CONNECT_RETRY = RetryPolicy(attempts=3, base_delay=0.25, factor=4.0, max_delay=4.0)


class SinkConnectionLost(SinkError):
    """The target database went away during a write; nothing was committed (transient)."""

    transient = True


# PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers, by what they mean.
_PG_AUTH = {"28P01", "28000"}
_PG_NO_DB = {"3D000"}
_PG_NO_TABLE = {"42P01"}
_PG_TRANSIENT_CLASSES = ("08", "53", "57")  # connection, resources, operator intervention
_PG_TRANSIENT = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available
_MY_AUTH = {1044, 1045, 1698}
_MY_NO_DB = {1049}
_MY_NO_TABLE = {1146}
_PG_DATA_CLASS = "22"  # data exception: invalid text, out of range, bad date …
_MY_DATA = {
    1264: "a value is out of range",
    1265: "data truncated",
    1292: "a value is incorrect for its type",
    1366: "a value is incorrect for its column",
    1367: "an illegal value",
    1406: "data too long",
    1411: "a value is incorrect for a function",
}
_GENERIC = {"DataError", "Error", "DatabaseError", "OperationalError", "ProgrammingError"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_MY_TRANSIENT = {1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013, 2055}
_TEXT_AUTH = re.compile(r"password authentication failed|access denied", re.I)
_TEXT_NO_DB = re.compile(r"database \S+ does not exist|unknown database", re.I)
_TEXT_TRANSIENT = re.compile(
    r"connection refused|could not connect|can't connect|timeout|timed out|server closed|"
    r"connection reset|starting up|shutting down|deadlock|lost connection|terminating connection|"
    r"too many connections|connection is closed|consuming input failed|database is locked",
    re.I,
)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_TRAILING_VALUE = re.compile(r':\s*"[^"]*"\s*$')


def normalise(url: str) -> URL:
    """Parse a URL, register its password as a secret and pick the driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{redact(url)!r} is not a valid database URL") from None
    if parsed.password:
        register_secret(str(parsed.password))
    if parsed.host and "@" in parsed.host:
        # user:p@ss@host parses as password 'p', host 'ss@host': the rest is password too
        register_secret(f"{parsed.password or ''}@{parsed.host.rpartition('@')[0]}")
        raise ConfigError(
            f"{redact(url)!r}: the user or password holds an unencoded '@'",
            hint="write it as %40 in the URL, or put the password in password_file",
        )
    driver = parsed.drivername
    if driver in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif driver in {"mysql", "mariadb"}:
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def backend(url: URL) -> str:
    """``postgresql``, ``mysql`` or ``sqlite`` (or another SQLAlchemy backend name)."""
    return url.get_backend_name()


def sqlite_path(url: URL) -> Path | None:
    db = url.database
    if backend(url) != "sqlite" or not db or db == ":memory:":
        return None
    return Path(db)


def make_engine(url: URL) -> Engine:
    try:
        if backend(url) == "sqlite":
            engine = sa.create_engine(url)
            _transactional_ddl(engine)
            return engine
        return sa.create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url))
    except NoSuchModuleError:
        raise ConfigError(f"no SQLAlchemy driver for {safe_url(url)}") from None
    except ImportError as exc:
        raise ConfigError(f"the driver for {safe_url(url)} is not installed: {exc.name}") from None


def _transactional_ddl(engine: Engine) -> None:
    """pysqlite commits before DDL by default; take over BEGIN so that the staging
    table, the swap and the drop are all one transaction."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def _connect_args(url: URL) -> dict[str, Any]:
    if backend(url) == "postgresql":
        args: dict[str, Any] = {"connect_timeout": 10}
        if "application_name" not in url.query:
            args["application_name"] = "synthgate"
        return args
    if backend(url) == "mysql":
        return {
            "connect_timeout": 10,
            "charset": "utf8mb4",
            # strict: a value that does not fit is an error, never a silent truncation
            "init_command": "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION',"
            " time_zone = '+00:00'",
        }
    return {}


# --------------------------------------------------------------------------- errors


def _driver_code(exc: BaseException) -> tuple[str | None, int | None]:
    sqlstate = getattr(exc, "sqlstate", None)
    code: int | None = None
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        code = args[0]
    return (str(sqlstate) if sqlstate else None), code


def _driver_text(exc: BaseException) -> str:
    sqlstate, code = _driver_code(exc)
    if (sqlstate or "").startswith(_PG_DATA_CLASS) or code in _MY_DATA:
        # these messages quote the value itself, in any quotes and anywhere in the line
        return _data_error(exc, sqlstate, code)
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    raw = args[1] if len(args) > 1 and isinstance(args[0], int) else str(exc)
    lines = [ln for ln in str(raw).strip().splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    first = _TRAILING_VALUE.sub("", _QUOTED.sub("'…'", first))
    return redact(first.strip())


def _data_error(exc: BaseException, sqlstate: str | None, code: int | None) -> str:
    """A data error named by its condition (psycopg's class name) and code, no value."""
    if sqlstate:
        name = type(exc).__name__
        words = _CAMEL.sub(" ", name).lower() if name not in _GENERIC else "data exception"
        return f"{words} (SQLSTATE {sqlstate})"
    return f"{_MY_DATA.get(code or 0, 'incorrect value')} (error {code})"


def _kind(exc: BaseException) -> str:
    """``auth``, ``no_db``, ``no_table``, ``transient`` or ``other``."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate, code = _driver_code(orig)
    text = _driver_text(orig)
    if sqlstate in _PG_AUTH or code in _MY_AUTH or _TEXT_AUTH.search(text):
        return "auth"
    if sqlstate in _PG_NO_DB or code in _MY_NO_DB or _TEXT_NO_DB.search(text):
        return "no_db"
    if sqlstate in _PG_NO_TABLE or code in _MY_NO_TABLE:
        return "no_table"
    if (
        (sqlstate is not None and (sqlstate.startswith(_PG_TRANSIENT_CLASSES)))
        or sqlstate in _PG_TRANSIENT
        or code in _MY_TRANSIENT
        or _TEXT_TRANSIENT.search(text)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
    ):
        return "transient"
    return "other"


def source_error(exc: BaseException, url: URL, *, what: str) -> SourceError:
    """A driver error met while reading → a typed, one-line, secret-free error."""
    where = safe_url(url)
    text = _driver_text(getattr(exc, "orig", None) or exc)
    match _kind(exc):
        case "auth":
            return AuthenticationFailed(
                f"{where} refused the credentials while {what}",
                hint="check the user and the password (environment variable or password_file)",
            )
        case "no_db":
            return SourceNotFound(f"{where}: the database does not exist", hint="check the URL")
        case "no_table":
            return TableNotFound(f"{where}: a table named while {what} does not exist: {text}")
        case "transient":
            return ConnectionFailed(
                f"lost or could not open the connection to {where} while {what}: {text}"
            )
        case _:
            return SourceError(f"{where} failed while {what}: {text}")


def sink_error(exc: BaseException, url: URL, *, table: str) -> SinkError:
    """A driver error met while writing → a typed error; the target is unchanged."""
    where = safe_url(url)
    text = _driver_text(getattr(exc, "orig", None) or exc)
    head = f"writing {table!r} to {where} failed and the target is unchanged"
    match _kind(exc):
        case "auth":
            return TargetNotWritable(
                f"{where} refused the credentials",
                hint="check the user and the password (environment variable or password_file)",
            )
        case "no_db":
            return TargetNotWritable(
                f"{where}: the database does not exist", hint="create it first"
            )
        case "transient":
            return SinkConnectionLost(
                f"{head}: the connection was lost ({text})", hint="run it again"
            )
        case _:
            return SinkError(f"{head}: {text}")


@contextmanager
def connect(engine: Engine, url: URL, *, what: str) -> Iterator[Connection]:
    """A connection, retried with backoff while the failure is transient."""

    def attempt() -> Connection:
        try:
            return engine.connect()
        except SQLAlchemyError as exc:
            raise source_error(exc, url, what=what) from None

    conn = retry(attempt, policy=CONNECT_RETRY)
    try:
        yield conn
    finally:
        conn.close()


def is_synthgate(exc: BaseException) -> bool:
    return isinstance(exc, SynthgateError)
