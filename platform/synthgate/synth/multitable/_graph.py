"""Which tables are synthesized, in which order, and what refuses a set of tables.

The unit table's rows are the people protected. Every other private table must
hang below it through exactly one foreign key to one private parent (a tree:
customers → orders → order_items); public tables are reference data, copied as
they are, that private tables may point at. Every problem found is one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from synthgate.contracts import Relationship
from synthgate.errors import ConfigError

__all__ = ["TablePlan", "plan_tables"]


@dataclass(frozen=True, slots=True)
class TablePlan:
    """One private table: its foreign key to its private parent (None for the unit),
    its foreign keys into public tables, the relationships it is the parent of, and
    the columns that are keys (regenerated, never modelled)."""

    name: str
    parent: Relationship | None
    public_links: tuple[Relationship, ...]
    children: tuple[Relationship, ...]
    key: tuple[str, ...]

    @property
    def key_columns(self) -> set[str]:
        cols = set(self.key)
        if self.parent is not None:
            cols.update(self.parent.child_columns)
        for rel in self.public_links:
            cols.update(rel.child_columns)
        return cols


def _column_problems(rels: Sequence[Relationship], tables: Mapping[str, pd.DataFrame]) -> list[str]:
    problems = []
    for rel in rels:
        for table, cols in (
            (rel.child_table, rel.child_columns),
            (rel.parent_table, rel.parent_columns),
        ):
            if table not in tables:
                problems.append(
                    f"relationship {_show(rel)} names table {table!r}, which is not among the "
                    "tables given: pass it or leave the relationship out"
                )
                continue
            missing = [c for c in cols if c not in tables[table].columns]
            if missing:
                problems.append(
                    f"relationship {_show(rel)}: table {table!r} has no column "
                    f"{', '.join(repr(c) for c in missing)}: check the column names"
                )
        if len(rel.child_columns) != len(rel.parent_columns) or not rel.child_columns:
            problems.append(
                f"relationship {_show(rel)} pairs {len(rel.child_columns)} child columns with "
                f"{len(rel.parent_columns)} parent columns: give as many of each"
            )
    return problems


def _show(rel: Relationship) -> str:
    child = ", ".join(rel.child_columns)
    parent = ", ".join(rel.parent_columns)
    return f"{rel.child_table} ({child}) -> {rel.parent_table} ({parent})"


def _cycle(private: set[str], rels: Sequence[Relationship]) -> list[str]:
    """Tables on a cycle of foreign keys between private tables (self-references aside)."""
    edges: dict[str, set[str]] = {t: set() for t in private}
    for rel in rels:
        if rel.child_table != rel.parent_table:
            edges[rel.parent_table].add(rel.child_table)
    state: dict[str, int] = {}
    on_cycle: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                on_cycle.extend(t for t in path[path.index(nxt) :] if t not in on_cycle)
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for table in sorted(private):
        if table not in state:
            visit(table, [table])
    return on_cycle


def _structure_problems(
    unit: str, private: set[str], public: set[str], rels: Sequence[Relationship]
) -> list[str]:
    problems = []
    inner = [r for r in rels if r.child_table in private and r.parent_table in private]
    for rel in rels:
        if rel.child_table == rel.parent_table:
            problems.append(
                f"table {rel.child_table!r} references itself ({_show(rel)}): self-references "
                "are not supported yet; leave that relationship out"
            )
        elif rel.child_table in public and rel.parent_table in private:
            problems.append(
                f"public table {rel.child_table!r} references private table "
                f"{rel.parent_table!r}: make {rel.child_table!r} private or leave the "
                "relationship out"
            )
    cycle = _cycle(private, inner)
    if cycle:
        problems.append(
            f"the foreign keys between {', '.join(repr(t) for t in cycle)} form a cycle: "
            "leave one of those relationships out"
        )
    parents: dict[str, list[str]] = {}
    for rel in inner:
        if rel.child_table != rel.parent_table:
            parents.setdefault(rel.child_table, []).append(rel.parent_table)
    if unit in parents:
        problems.append(
            f"the unit table {unit!r} references private table(s) "
            f"{', '.join(repr(p) for p in parents[unit])}: the unit must be a root; make "
            "them public or choose another unit"
        )
    for table, ps in sorted(parents.items()):
        if table != unit and len(ps) > 1:
            problems.append(
                f"table {table!r} has {len(ps)} foreign keys to private tables "
                f"({', '.join(repr(p) for p in ps)}): keep one, make the others public, "
                "or leave them out"
            )
    return problems


def _reachable(unit: str, rels: Sequence[Relationship], private: set[str]) -> list[str]:
    """Private tables breadth first from the unit, parents before children."""
    order = [unit]
    for table in order:
        for rel in rels:
            if (
                rel.parent_table == table
                and rel.child_table in private
                and rel.child_table not in order
            ):
                order.append(rel.child_table)
    return order


def plan_tables(
    tables: Mapping[str, pd.DataFrame],
    *,
    unit: str,
    relationships: Sequence[Relationship],
    public: Sequence[str],
    keys: Mapping[str, Sequence[str]],
) -> list[TablePlan]:
    """The private tables in synthesis order, or a ConfigError listing every problem."""
    names = set(tables)
    problems = [
        f"public table {p!r} is not among the tables given: pass it or leave it out of public"
        for p in public
        if p not in names
    ]
    problems += [
        f"keys are given for {t!r}, which is not among the tables given"
        for t in keys
        if t not in names
    ]
    problems += [
        f"key column {c!r} is not a column of {t!r}: check the keys"
        for t, cols in keys.items()
        if t in names
        for c in cols
        if c not in tables[t].columns
    ]
    if unit not in names:
        problems.append(
            f"unit table {unit!r} is not among the tables given "
            f"({', '.join(sorted(names)) or 'none'}): name the table whose rows are the people"
        )
    elif unit in public:
        problems.append(f"the unit table {unit!r} cannot be public: its rows are the people")
    problems += _column_problems(relationships, tables)
    if problems:
        raise _refusal(problems)
    public_set = set(public)
    private = names - public_set
    problems = _structure_problems(unit, private, public_set, relationships)
    if problems:
        raise _refusal(problems)
    order = _reachable(unit, relationships, private)
    problems = [
        f"table {t!r} is not reachable from the unit {unit!r} through foreign keys: "
        "declare its relationship, make it public, or leave it out"
        for t in sorted(private - set(order))
    ]
    if problems:
        raise _refusal(problems)
    return [_table_plan(t, unit, relationships, private, public_set, keys) for t in order]


def _table_plan(
    table: str,
    unit: str,
    rels: Sequence[Relationship],
    private: set[str],
    public: set[str],
    keys: Mapping[str, Sequence[str]],
) -> TablePlan:
    parent = next(
        (r for r in rels if r.child_table == table and r.parent_table in private and table != unit),
        None,
    )
    links = tuple(r for r in rels if r.child_table == table and r.parent_table in public)
    children = tuple(
        r
        for r in rels
        if r.parent_table == table and r.child_table in private and r.child_table != table
    )
    key = tuple(keys.get(table, ()))
    for rel in children:
        key += tuple(c for c in rel.parent_columns if c not in key)
    return TablePlan(table, parent, links, children, key)


def _refusal(problems: list[str]) -> ConfigError:
    return ConfigError(f"cannot synthesize these tables: {'; '.join(problems)}", problems=problems)
