"""Streaming reads into Arrow record batches of bounded size.

* PostgreSQL: ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` through psycopg's
  libpq binding. The server streams rows as it produces them (no client-side
  result set); every *chunk_rows* rows are parsed by Arrow's CSV reader straight
  into the column types, in a worker thread while the next chunk arrives, so the
  rows never become Python objects.
* MySQL/MariaDB: an unbuffered server-side cursor (pymysql ``SSCursor``) read
  *chunk_rows* rows at a time; values arrive as text and Arrow casts them.
* SQLite and others: a DBAPI cursor read with ``fetchmany``.

Memory stays bounded by one chunk (its raw text plus its batch) whatever the
table size. A value that does not fit its column's type is a clear error
naming the table, the column and the row's number in read order, never the
value.

Every read runs in a read-only transaction (PostgreSQL ``SET TRANSACTION READ
ONLY``, MySQL ``START TRANSACTION READ ONLY``, SQLite ``PRAGMA query_only``), and
PostgreSQL's ``COPY`` is sent through the extended protocol, which carries
exactly one statement. The ``where`` filter arrives already parsed and
re-rendered as one condition (see ``_where``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy.engine import URL, Connection

from synthgate.contracts import ColumnSchema, TableSchema
from synthgate.errors import SynthgateError, UnsupportedType
from synthgate_connectors._arrow import (
    arrow_schema,
    column_to_array,
    first_unreadable,
    unreadable_value,
)
from synthgate_connectors.sql._engine import backend, source_error
from synthgate_connectors.sql._types import ReadAs

__all__ = ["read_rows", "select_sql"]

_RANDOM = {"postgresql": "random()", "mysql": "RAND()", "sqlite": "random()"}
_TEXT_CAST = {"mysql": "CAST({} AS CHAR)", "sqlite": "CAST({} AS TEXT)"}
_CSV_COLUMN = re.compile(r"CSV column #(\d+)")


def select_sql(
    conn: Connection,
    table_sql: str,
    schema: TableSchema,
    read_as: dict[str, ReadAs],
    *,
    where: str | None,
    sample_rows: int | None,
) -> str:
    """``SELECT`` of the schema's columns, filtered and sampled as asked.

    *table_sql* is the table's quoted name (``TableName.sql``); *where* is a
    condition already checked and rendered by :func:`where_sql`."""
    kind = conn.dialect.name
    quote = conn.dialect.identifier_preparer.quote
    exprs = []
    for col in schema.columns:
        name = quote(col.name)
        cast = _TEXT_CAST.get(kind)
        if read_as.get(col.name) is ReadAs.TEXT and cast is not None:
            name = cast.format(name)
        exprs.append(name)
    sql = f"SELECT {', '.join(exprs)} FROM {table_sql}"
    if where is not None:
        sql += f" WHERE ({where})"
    if sample_rows is not None:
        # a uniform sample: every subset of sample_rows rows is equally likely
        sql += f" ORDER BY {_RANDOM.get(kind, 'random()')} LIMIT {int(sample_rows)}"
    return sql


def read_rows(
    conn: Connection, url: URL, sql: str, schema: TableSchema, *, chunk_rows: int, what: str
) -> Iterator[pa.RecordBatch]:
    try:
        match backend(url):
            case "postgresql":
                yield from _read_postgres(conn, sql, schema, chunk_rows)
            case "mysql":
                yield from _read_mysql(conn, sql, schema, chunk_rows)
            case _:
                yield from _read_dbapi(conn, sql, schema, chunk_rows)
    except SynthgateError:
        raise
    except Exception as exc:
        if _is_driver_error(exc):
            raise source_error(exc, url, what=what) from None
        raise


def _is_driver_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("psycopg", "pymysql", "sqlite3", "sqlalchemy"))


# --------------------------------------------------------------------------- PostgreSQL


def _read_postgres(
    conn: Connection, sql: str, schema: TableSchema, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    target = arrow_schema(schema)
    read_opts = pacsv.ReadOptions(column_names=target.names, block_size=1 << 24)
    # an empty line is a row whose only column is NULL
    parse_opts = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert_opts = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in target},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["t"],
        false_values=["f"],
    )
    dbapi: Any = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        # text forms Arrow parses exactly: ISO dates, UTC instants, shortest exact floats
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        cur.execute("SET LOCAL extra_float_digits = 1")
    finished = False
    # Arrow parses one chunk (without the GIL) while the next one is received
    with ThreadPoolExecutor(max_workers=1) as parser:
        try:
            pending: Future[pa.RecordBatch] | None = None
            copy = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
            for index, chunk in enumerate(_copy_out(dbapi, copy, chunk_rows)):
                options = (read_opts, parse_opts, convert_opts)
                nxt = parser.submit(_parse_csv, chunk, schema, target, options, index * chunk_rows)
                if pending is not None:
                    yield pending.result()
                pending = nxt
            if pending is not None:
                yield pending.result()
            finished = True
        finally:
            if not finished:
                # a COPY cut short leaves the connection mid-protocol: never reuse it
                conn.invalidate()


def _copy_out(dbapi: Any, command: str, chunk_rows: int) -> Iterator[bytearray]:
    """Rows of a ``COPY … TO STDOUT``, joined *chunk_rows* at a time.

    libpq's copy interface is used directly (one C call per row message); the
    per-row overhead of the Python copy object would cost more than parsing.
    """
    from psycopg import pq

    pgconn = dbapi.pgconn
    # the extended protocol runs one statement: a second one is a syntax error
    pgconn.send_query_params(command.encode(), None)
    first = pgconn.get_result()
    if first is None or first.status != pq.ExecStatus.COPY_OUT:
        _raise_result(first, pgconn)
    get = pgconn.get_copy_data
    done = False
    while not done:
        chunk = bytearray()  # copying each row out frees libpq's buffer at once
        for _ in range(chunk_rows):
            size, data = get(0)  # blocks until a row message arrives
            if size <= 0:
                done = True
                break
            chunk += data
        if chunk:
            yield chunk
    if size == -2:  # libpq reports an error
        _raise_result(None, pgconn)
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            _raise_result(result, pgconn)


def _raise_result(result: Any, pgconn: Any) -> None:
    import psycopg
    from psycopg import pq

    message = pgconn.error_message.decode("utf-8", "replace")
    sqlstate = None
    if result is not None:
        raw = result.error_field(pq.DiagnosticField.SQLSTATE)
        sqlstate = raw.decode() if raw else None
        message = (result.error_message or b"").decode("utf-8", "replace") or message
    cls = psycopg.errors.lookup(sqlstate) if sqlstate else psycopg.OperationalError
    raise cls(message.strip() or "COPY failed")


_CsvOptions = tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]


def _parse_csv(
    data: bytes | bytearray,
    schema: TableSchema,
    target: pa.Schema,
    options: _CsvOptions,
    first_row: int,
) -> pa.RecordBatch:
    """One chunk of ``COPY`` output as a batch; *first_row* rows were read before it."""
    read_opts, parse_opts, convert_opts = options
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=read_opts,
            parse_options=parse_opts,
            convert_options=convert_opts,
        )
    except pa.ArrowInvalid as exc:
        match = _CSV_COLUMN.search(str(exc))
        if match is None:
            raise UnsupportedType(
                f"table {schema.name!r}: a row read from it is not well-formed",
                hint="exclude unusual columns with source.columns or cast them in a view",
            ) from None
        col = schema.columns[int(match[1])]
        row = _csv_row(data, col, target.field(col.name).type, options)
        raise unreadable_value(
            schema.name, col, None if row is None else first_row + row + 1
        ) from None
    return table.cast(target).combine_chunks().to_batches()[0]


def _csv_row(
    data: bytes | bytearray, col: ColumnSchema, target: pa.DataType, options: _CsvOptions
) -> int | None:
    """Index of the first value of *col* in a chunk that Arrow refuses as *target*."""
    read_opts, parse_opts, convert_opts = options
    as_text = pacsv.ConvertOptions(
        include_columns=[col.name],
        column_types={col.name: pa.string()},
        null_values=convert_opts.null_values,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    try:
        text = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=read_opts,
            parse_options=parse_opts,
            convert_options=as_text,
        ).column(0)
    except pa.ArrowInvalid:
        return None
    values = text.to_pylist()
    return first_unreadable(values, col, target)


# --------------------------------------------------------------------------- MySQL


def _read_mysql(
    conn: Connection, sql: str, schema: TableSchema, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    import pymysql.cursors

    target = arrow_schema(schema)
    dbapi: Any = conn.connection.driver_connection
    saved = dbapi.decoders
    dbapi.decoders = {}  # every value as text; Arrow casts in bulk
    try:
        with dbapi.cursor() as plain:
            plain.execute("START TRANSACTION READ ONLY")
        cur = dbapi.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(sql)
            read = 0
            while rows := cur.fetchmany(chunk_rows):
                yield _text_batch(rows, schema, target, read)
                read += len(rows)
        finally:
            cur.close()
    finally:
        dbapi.decoders = saved


def _text_batch(
    rows: Sequence[Sequence[Any]], schema: TableSchema, target: pa.Schema, first_row: int
) -> pa.RecordBatch:
    arrays = []
    for values, col, field in zip(zip(*rows, strict=True), schema.columns, target, strict=True):
        try:
            text = pa.array(values, type=pa.string())
            arrays.append(text if field.type == pa.string() else text.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arrays.append(_column(values, col, field.type, schema.name, first_row))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _column(
    values: Sequence[Any], col: ColumnSchema, target: pa.DataType, table: str, first_row: int
) -> pa.Array:
    """:func:`column_to_array`, whose error names the table and the row in read order."""
    try:
        return column_to_array(values, col, target)
    except UnsupportedType:
        row = first_unreadable(values, col, target)
        raise unreadable_value(table, col, None if row is None else first_row + row + 1) from None


# --------------------------------------------------------------------------- SQLite and others


def _read_dbapi(
    conn: Connection, sql: str, schema: TableSchema, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    target = arrow_schema(schema)
    dbapi: Any = conn.connection.driver_connection
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:  # this connection writes nothing until the read ends
        dbapi.execute("PRAGMA query_only = ON")
    cur = dbapi.cursor()
    try:
        cur.execute(sql)
        read = 0
        while rows := cur.fetchmany(chunk_rows):
            arrays = [
                _column(values, col, field.type, schema.name, read)
                for values, col, field in zip(
                    zip(*rows, strict=True), schema.columns, target, strict=True
                )
            ]
            read += len(rows)
            yield pa.RecordBatch.from_arrays(arrays, schema=target)
    finally:
        cur.close()
        if sqlite:
            dbapi.execute("PRAGMA query_only = OFF")
