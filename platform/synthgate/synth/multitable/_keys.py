"""Fresh keys for synthetic tables, and foreign keys that point at released rows.

Key columns are never modelled: a table's own key columns get fresh unique
values (integers 1..n for an integer key, UUID-shaped text otherwise), a
foreign key to a private parent takes its synthetic parent's key, and a
foreign key into a public table takes a key value of that table (its row was
drawn by the model from the public table's rows).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from synthgate.synth.multitable._graph import TablePlan

__all__ = ["assign_keys", "fresh_values", "link_column"]


class SynthesizedTable(Protocol):
    plan: TablePlan
    synthetic: pd.DataFrame
    parent_index: np.ndarray[Any, Any] | None
    public_values: dict[str, list[tuple[Any, ...]]]
    empty_columns: list[str]


def link_column(parent_table: str, child_columns: Sequence[str]) -> str:
    return f"__link__:{parent_table}:{','.join(child_columns)}"


def fresh_values(n: int, like: pd.Series[Any], rng: np.random.Generator) -> pd.Series[Any]:
    """*n* unique values shaped like the source key: 1..n for numbers, UUIDs for text."""
    if pd.api.types.is_numeric_dtype(like) and not pd.api.types.is_bool_dtype(like):
        return pd.Series(np.arange(1, n + 1), dtype=like.dtype)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        raw = rng.bytes(16 * (n - len(out)))
        for i in range(0, len(raw), 16):
            text = str(uuid.UUID(bytes=raw[i : i + 16], version=4))
            if text not in seen:
                seen.add(text)
                out.append(text)
    return pd.Series(out, dtype=object)


def assign_keys(
    state: Mapping[str, SynthesizedTable],
    tables: Mapping[str, pd.DataFrame],
    public: Sequence[str],
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """Every output table with the input's columns: private ones with keys, public
    ones as given."""
    out: dict[str, pd.DataFrame] = {}
    for name, table in state.items():  # parents first
        out[name] = _with_keys(table, tables[name], out, rng)
    for name in public:
        out[name] = tables[name].reset_index(drop=True).copy()
    return {name: out[name] for name in tables}


def _with_keys(
    table: SynthesizedTable,
    source: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
) -> pd.DataFrame:
    plan = table.plan
    synth = table.synthetic.reset_index(drop=True)
    n = len(synth)
    columns: dict[str, pd.Series[Any]] = {}
    if plan.parent is not None:
        assert table.parent_index is not None
        parent = done[plan.parent.parent_table]
        for child_col, parent_col in zip(
            plan.parent.child_columns, plan.parent.parent_columns, strict=True
        ):
            columns[child_col] = parent[parent_col].iloc[table.parent_index].reset_index(drop=True)
    for rel in plan.public_links:
        values = table.public_values[link_column(rel.parent_table, rel.child_columns)]
        codes = synth[link_column(rel.parent_table, rel.child_columns)]
        for pos, child_col in enumerate(rel.child_columns):
            if child_col not in columns:
                columns[child_col] = pd.Series(
                    [None if pd.isna(c) else values[int(c)][pos] for c in codes], dtype=object
                )
    for col in plan.key:
        if col not in columns:
            columns[col] = fresh_values(n, source[col], rng)
    for col in source.columns:
        if col in columns:
            continue
        if col in table.empty_columns or col not in synth.columns:
            columns[col] = pd.Series([None] * n, dtype=object)
        else:
            columns[col] = synth[col]
    frame = pd.DataFrame({c: columns[c].reset_index(drop=True) for c in source.columns})
    return _cast(frame, source)


def _cast(frame: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """The source's dtypes where the synthetic values allow them."""
    for col in frame.columns:
        try:
            frame[col] = frame[col].astype(source[col].dtype)
        except (TypeError, ValueError):
            continue
    return frame
