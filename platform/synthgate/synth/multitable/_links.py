"""Links: foreign keys between private tables that are not the table's parent.

A self-reference (employees.manager_id), a second private parent
(transactions.card_id beside transactions.account_id) or a key that closes a
cycle is not a branch of the person's tree: the row belongs to the person of
its parent. What the model learns of a link is its *kind*, one categorical
column of the row: ``none`` (not set), ``same`` (a row of the same person) or
``other`` (another person's row). The released target is drawn at random
among the released rows of that kind, so which row a person's row pointed at
is never learned. A self-reference points at an earlier row of its table, so its chains
never loop; in the unit table, where a person has one row, ``same`` is the row
itself, as it was in the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from synthgate.contracts import Relationship
from synthgate.errors import ConfigError
from synthgate.synth.multitable._graph import TablePlan

__all__ = [
    "KIND_DOMAIN",
    "fill_links",
    "is_kind_column",
    "kind_column",
    "link_kinds",
    "require_unique_key",
]

KIND_PREFIX = "__linkkind__:"
KIND_DOMAIN = ("none", "same", "other")
_TARGET = "__link_target_person__"


class _LinkedTable(Protocol):
    plan: TablePlan
    real: pd.DataFrame
    synthetic: pd.DataFrame
    parent_index: np.ndarray[Any, Any] | None


def kind_column(rel: Relationship) -> str:
    return f"{KIND_PREFIX}{rel.parent_table}:{','.join(rel.child_columns)}"


def is_kind_column(name: str) -> bool:
    return name.startswith(KIND_PREFIX)


def link_kinds(state: Mapping[str, _LinkedTable], unit_column: str) -> None:
    """Add each link's kind column to its table's real rows (the rows' persons are in
    *unit_column* of every table)."""
    for table in state.values():
        for rel in table.plan.links:
            target = state[rel.parent_table].real
            table.real[kind_column(rel)] = _kinds(table.real, target, rel, unit_column)


def _kinds(
    rows: pd.DataFrame, target: pd.DataFrame, rel: Relationship, unit_column: str
) -> np.ndarray[Any, Any]:
    require_unique_key(target, rel)
    right = target[[*rel.parent_columns, unit_column]].copy()
    right.columns = [*rel.child_columns, _TARGET]
    left = rows[list(rel.child_columns)].reset_index(drop=True)
    joined = left.merge(right, how="left", on=list(rel.child_columns), sort=False)
    unset = left.isna().any(axis=1).to_numpy()
    same = joined[_TARGET].to_numpy() == rows[unit_column].to_numpy()
    return np.where(unset, "none", np.where(same, "same", "other"))


def require_unique_key(parent: pd.DataFrame, rel: Relationship) -> None:
    """A foreign key must name one row: the referenced columns may not repeat."""
    if parent.duplicated(subset=list(rel.parent_columns)).any():
        raise ConfigError(
            f"the key ({', '.join(rel.parent_columns)}) of {rel.parent_table!r} repeats, so "
            f"rows of {rel.child_table!r} cannot be matched to one row of it",
            hint="reference a primary or unique key of the table",
        )


def _persons(state: Mapping[str, _LinkedTable]) -> dict[str, np.ndarray[Any, Any]]:
    """The synthetic person of every synthetic row (tables in tree order)."""
    persons: dict[str, np.ndarray[Any, Any]] = {}
    for name, table in state.items():
        if table.plan.parent is None:
            persons[name] = np.arange(len(table.synthetic))
        else:
            assert table.parent_index is not None
            persons[name] = persons[table.plan.parent.parent_table][table.parent_index]
    return persons


def fill_links(
    state: Mapping[str, _LinkedTable],
    out: dict[str, pd.DataFrame],
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """Write every link's columns into the keyed tables *out*: each row's target is
    drawn among the released rows of the kind its model gave it."""
    persons = _persons(state)
    for name, table in state.items():
        for rel in table.plan.links:
            kinds = table.synthetic[kind_column(rel)].astype(object).to_numpy()
            target = _targets(
                kinds,
                persons[name],
                persons[rel.parent_table],
                rel.parent_table == name,
                table.plan.parent is None,
                rng,
            )
            _write(out[name], out[rel.parent_table], rel, target)
    return out


def _write(
    frame: pd.DataFrame, target: pd.DataFrame, rel: Relationship, rows: np.ndarray[Any, Any]
) -> None:
    unset = rows < 0
    for child_col, parent_col in zip(rel.child_columns, rel.parent_columns, strict=True):
        values = target[parent_col].to_numpy(dtype=object)
        picked = values[np.maximum(rows, 0)] if len(values) else np.full(len(rows), None)
        picked[unset] = None
        column = pd.Series(picked, index=frame.index, dtype=object)
        if not unset.any():
            column = column.astype(target[parent_col].dtype)
        frame[child_col] = column


def _targets(
    kinds: np.ndarray[Any, Any],
    mine: np.ndarray[Any, Any],
    theirs: np.ndarray[Any, Any],
    self_reference: bool,
    unit: bool,
    rng: np.random.Generator,
) -> np.ndarray[Any, Any]:
    """Each row's target row in the target table, or -1 (not set)."""
    rows: np.ndarray[Any, Any] = np.full(len(kinds), -1, dtype=np.int64)
    if not len(theirs) or not len(kinds):
        return rows
    if self_reference:
        return _self_targets(kinds, mine, unit, rng)
    order = np.argsort(theirs, kind="stable")
    starts = np.searchsorted(theirs[order], mine, side="left")
    count = np.searchsorted(theirs[order], mine, side="right") - starts
    own = order[np.minimum(starts + _uniform(rng, np.maximum(count, 1)), len(order) - 1)]
    others = len(theirs) - count
    drawn = _uniform(rng, np.maximum(others, 1))
    other = order[np.minimum(np.where(drawn < starts, drawn, drawn + count), len(order) - 1)]
    want_same, want_other = kinds == "same", kinds == "other"
    # a kind with no row to point at takes the other kind's row
    rows = np.where(want_same & (count > 0), own, rows)
    rows = np.where(want_same & (count == 0), other, rows)
    rows = np.where(want_other & (others > 0), other, rows)
    return np.where(want_other & (others == 0), own, rows)


def _self_targets(
    kinds: np.ndarray[Any, Any],
    persons: np.ndarray[Any, Any],
    unit: bool,
    rng: np.random.Generator,
) -> np.ndarray[Any, Any]:
    """Targets within the table itself: an earlier row, or in the unit table the row
    itself for ``same``; -1 where there is none."""
    n = len(kinds)
    index = np.arange(n)
    order = np.argsort(persons, kind="stable")
    starts = np.searchsorted(persons[order], persons, side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    earlier = rank - starts  # rows of the same person before this one
    none = index if unit else np.full(n, -1, dtype=np.int64)
    own = np.where(earlier > 0, order[starts + _uniform(rng, np.maximum(earlier, 1))], none)
    other = _uniform(rng, np.maximum(index, 1))
    rows = np.where(kinds == "same", own, -1)
    return np.where((kinds == "other") & (index > 0), other, rows)


def _uniform(rng: np.random.Generator, sizes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One uniform integer in [0, size) per entry."""
    drawn: np.ndarray[Any, Any] = (rng.random(len(sizes)) * sizes).astype(np.int64)
    capped: np.ndarray[Any, Any] = np.minimum(drawn, sizes - 1)
    return capped
