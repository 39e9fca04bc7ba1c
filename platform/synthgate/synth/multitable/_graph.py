"""Which tables are synthesized, in which order, and what refuses a set of tables.

The unit table's rows are the people protected. Every other private table hangs
below it: the tree is found breadth first from the unit along foreign keys, and
a table's *parent* is the private table through which it is reached first
(customers → orders → order_items). Every other foreign key between private
tables (a self-reference, a second private parent, a key that closes a cycle)
is a *link*: its rows belong to the person of their tree parent; only the
link's kind (not set, the same person's row, another person's row) is learned,
and its target is drawn among the released rows. Public tables are reference
data, copied as they are, that private tables may point at. Every problem found
is one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from synthgate.contracts import Relationship
from synthgate.errors import ConfigError

__all__ = ["TablePlan", "describe_plans", "plan_tables"]


@dataclass(frozen=True, slots=True)
class TablePlan:
    """One private table: its foreign key to its private parent (None for the unit),
    its foreign keys into public tables, the relationships it is the parent of, the
    columns that are keys (regenerated, never modelled) and its links: foreign keys
    to private tables other than its parent (itself included)."""

    name: str
    parent: Relationship | None
    public_links: tuple[Relationship, ...]
    children: tuple[Relationship, ...]
    key: tuple[str, ...]
    links: tuple[Relationship, ...] = ()

    @property
    def key_columns(self) -> set[str]:
        cols = set(self.key)
        if self.parent is not None:
            cols.update(self.parent.child_columns)
        for rel in (*self.public_links, *self.links):
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


def _structure_problems(
    private: set[str], public: set[str], rels: Sequence[Relationship]
) -> list[str]:
    return [
        f"public table {rel.child_table!r} references private table {rel.parent_table!r}: "
        f"make {rel.child_table!r} private or leave the relationship out"
        for rel in rels
        if rel.child_table in public and rel.parent_table in private
    ]


def _reachable(unit: str, rels: Sequence[Relationship], private: set[str]) -> list[str]:
    """Private tables breadth first from the unit, parents before children."""
    order = [unit]
    for table in order:
        for rel in rels:
            if (
                rel.parent_table == table
                and rel.child_table in private
                and rel.child_table not in order
            ):  # a self-reference is found here too, and skipped: the table is in order
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
    problems = _structure_problems(private, public_set, relationships)
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
    parents = _tree_parents(order, relationships)
    return [_table_plan(t, parents, relationships, private, public_set, keys) for t in order]


def _tree_parents(order: list[str], rels: Sequence[Relationship]) -> dict[str, Relationship]:
    """Each table's parent: its foreign key to the earliest table in *order* before it."""
    rank = {t: i for i, t in enumerate(order)}
    parents: dict[str, Relationship] = {}
    for rel in rels:
        child, parent = rel.child_table, rel.parent_table
        if child not in rank or parent not in rank or rank[parent] >= rank[child]:
            continue
        if child not in parents or rank[parent] < rank[parents[child].parent_table]:
            parents[child] = rel
    return parents


def _table_plan(
    table: str,
    parents: Mapping[str, Relationship],
    rels: Sequence[Relationship],
    private: set[str],
    public: set[str],
    keys: Mapping[str, Sequence[str]],
) -> TablePlan:
    tree = set(parents.values())
    inner = [r for r in rels if r.child_table in private and r.parent_table in private]
    links = tuple(r for r in inner if r.child_table == table and r not in tree)
    children = tuple(r for r in inner if r.parent_table == table and r in tree)
    referenced = [r for r in inner if r.parent_table == table]
    key = tuple(keys.get(table, ()))
    for rel in referenced:
        key += tuple(c for c in rel.parent_columns if c not in key)
    public_links = tuple(r for r in rels if r.child_table == table and r.parent_table in public)
    return TablePlan(table, parents.get(table), public_links, children, key, links)


def describe_plans(plans: Sequence[TablePlan], public: Sequence[str]) -> list[str]:
    """One line per table: how it is synthesized (or copied), for preflight."""
    lines = []
    for plan in plans:
        if plan.parent is None:
            line = f"{plan.name}: the unit, one row per person"
        else:
            line = f"{plan.name}: below {plan.parent.parent_table} through {_show(plan.parent)}"
        for rel in plan.links:
            what = "references itself" if rel.parent_table == plan.name else "also references"
            line += (
                f"; {what} ({', '.join(rel.child_columns)} -> {rel.parent_table}): "
                "the target is drawn among released rows, only whether it is set and "
                "whether it is the same person's is learned"
            )
        lines.append(line)
    lines += [f"{name}: public, copied as given (no budget)" for name in public]
    return lines


def _refusal(problems: list[str]) -> ConfigError:
    return ConfigError(f"cannot synthesize these tables: {'; '.join(problems)}", problems=problems)
