"""Bulk INSERT statements for MySQL/MariaDB, built column-wise by Arrow.

pymysql escapes each value in Python, which is slow for millions of values.
Here every column of a batch becomes SQL literals in one vectorised step:
numbers and dates through Arrow casts, text as hexadecimal
``_utf8mb4 X'…'`` literals (no escaping rules to get wrong, whatever the
server's SQL mode), NULLs as ``NULL``; rows are joined into multi-row
``INSERT … VALUES`` statements below ``max_allowed_packet``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgate.errors import UnsupportedType

__all__ = ["insert_statements"]

_HEX = np.array([f"{i:02X}".encode() for i in range(256)], dtype="S2")


def _hex_text(arr: pa.Array) -> pa.Array:
    """UTF-8 strings → their bytes as upper-case hex (nulls become empty)."""
    arr = arr.cast(pa.large_string())
    validity, offsets_buf, data_buf = arr.buffers()
    del validity
    offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[start:end]
        if data_buf is not None
        else np.empty(0, np.uint8)
    )
    hexed = _HEX[data].tobytes()
    new_offsets = (offsets - start) * 2
    if new_offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(
            len(arr), pa.py_buffer(new_offsets.astype(np.int32).tobytes()), pa.py_buffer(hexed)
        ).cast(pa.large_string())
    return pa.LargeStringArray.from_buffers(
        len(arr), pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(hexed)
    )


def _quoted(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("'", text, "'", "")


def _literals(arr: pa.Array, name: str) -> pa.Array:
    kind = arr.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        lit = pc.binary_join_element_wise(
            pa.scalar("_utf8mb4 X'", pa.large_string()),
            _hex_text(arr),
            pa.scalar("'", pa.large_string()),
            pa.scalar("", pa.large_string()),
        )
    elif pa.types.is_boolean(kind):
        lit = pc.if_else(arr, "1", "0")
    elif pa.types.is_floating(kind):
        if pc.any(pc.or_(pc.is_nan(arr), pc.is_inf(arr))).as_py():
            raise UnsupportedType(
                f"column {name!r} holds NaN or infinity, which MySQL/MariaDB cannot store",
                hint="replace them with NULL before publishing",
            )
        lit = arr.cast(pa.string())
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        lit = arr.cast(pa.string())
    elif pa.types.is_timestamp(kind):
        # zoned instants are written as UTC wall time (the session time zone is UTC)
        lit = _quoted(arr.cast(pa.timestamp("us")).cast(pa.string()))
    elif pa.types.is_date(kind):
        lit = _quoted(arr.cast(pa.string()))
    else:
        raise UnsupportedType(f"column {name!r} has Arrow type {kind} that cannot be written")
    return pc.if_else(
        pc.is_null(arr), pa.scalar("NULL", pa.large_string()), lit.cast(pa.large_string())
    )


def insert_statements(
    batch: pa.RecordBatch, quoted_table: str, quoted_columns: list[str], *, max_bytes: int
) -> Iterator[str]:
    """Multi-row INSERT statements holding every row of *batch* once."""
    if batch.num_rows == 0:
        return
    lits = [_literals(batch.column(i), batch.schema.names[i]) for i in range(batch.num_columns)]
    large = [pa.scalar(t, pa.large_string()) for t in ("(", ",", ")", "")]
    joined = pc.binary_join_element_wise(*lits, large[1])
    rows = pc.binary_join_element_wise(large[0], joined, large[2], large[3])
    lengths = pc.binary_length(rows).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    ends = np.cumsum(lengths)
    head = f"INSERT INTO {quoted_table} ({', '.join(quoted_columns)}) VALUES "
    start, done = 0, 0
    while start < batch.num_rows:
        stop = max(int(np.searchsorted(ends, done + max_bytes, side="right")), start + 1)
        part = rows.slice(start, stop - start)
        listed = pa.ListArray.from_arrays(pa.array([0, len(part)], pa.int32()), part)
        body = pc.binary_join(listed, large[1])[0].as_py()
        yield head + str(body)
        done = int(ends[stop - 1])
        start = stop
