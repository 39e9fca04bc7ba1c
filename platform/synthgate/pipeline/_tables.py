"""The tables of a multi-table job: what preflight resolves and the per-table steps.

Everything here works on one table at a time or on the relationships between
them; :mod:`synthgate.pipeline._multi` runs the stages in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from synthgate.config import JobSpec, cap_table
from synthgate.contracts import (
    RelationalSource,
    Relationship,
    Sink,
    Source,
    TableSchema,
)
from synthgate.errors import ConfigError
from synthgate.pii import (
    ColumnFinding,
    LeakScanner,
    MaskAction,
    MaskPlan,
    PiiClass,
    Pseudonymizer,
    apply_plan,
)
from synthgate.pii import build_plan as build_mask_plan
from synthgate.pipeline import _stages as st
from synthgate.release import PolicyPack
from synthgate.synth.multitable import TablePlan, check_context, plan_tables

__all__ = [
    "MaskedTable",
    "caps_by_table",
    "extract_table",
    "keep_columns",
    "mask_table",
    "person_holdout",
    "resolve_graph",
    "snapshot_of",
]


def _declared(spec: JobSpec) -> list[Relationship]:
    return [r.relationship() for r in spec.source.relationships]


def _catalog(
    source: Source, tables: Sequence[str], problems: list[str]
) -> tuple[list[Relationship], dict[str, tuple[str, ...]]]:
    """The foreign keys between *tables* and their primary keys, from the catalog."""
    if not isinstance(source, RelationalSource):
        return [], {}
    try:
        found = source.relationships(list(tables))
    except ConfigError as exc:
        problems.append(f"source.relationships: {exc}")
        return [], {}
    names = set(tables)
    rels = [r for r in found.foreign_keys if r.child_table in names and r.parent_table in names]
    keys = {k.table: tuple(k.primary_key) for k in found.keys if k.primary_key}
    return rels, keys


def resolve_graph(
    source: Source, spec: JobSpec, schemas: Mapping[str, TableSchema], problems: list[str]
) -> tuple[list[Relationship], dict[str, tuple[str, ...]], list[TablePlan]]:
    """Relationships (declared, else the catalog's), key columns and the synthesis order;
    each problem is added to *problems* as one line."""
    tables = list(schemas)
    found, keys = _catalog(source, tables, problems)
    keys.update({t: tuple(cols) for t, cols in spec.source.keys.items()})
    rels = _declared(spec) or found
    if not rels:
        problems.append(
            "source.relationships: no foreign keys between source.tables in the catalog; "
            "declare them, e.g. {child: orders.customer_id, parent: customers.customer_id}"
        )
        return [], keys, []
    empty = {t: pd.DataFrame(columns=s.column_names) for t, s in schemas.items()}
    unit = spec.synthesis.privacy.unit or spec.source.table
    try:
        plans = plan_tables(
            empty, unit=unit, relationships=rels, public=spec.source.public, keys=keys
        )
    except ConfigError as exc:
        problems.extend(f"source.tables: {p}" for p in (exc.problems or [str(exc)]))
        return rels, keys, []
    problems.extend(_cap_problems(spec, plans))
    try:
        check_context(spec.synthesis.context, plans, empty)
    except ConfigError as exc:
        problems.extend(f"synthesis.context: {p}" for p in (exc.problems or [str(exc)]))
    return rels, keys, plans


def _cap_problems(spec: JobSpec, plans: Sequence[TablePlan]) -> list[str]:
    children = {p.name: p.parent for p in plans if p.parent is not None}
    problems = []
    for key in spec.synthesis.caps:
        table = cap_table(key)
        rel = children.get(table)
        column = key[len(table) + 1 :]
        if rel is None:
            problems.append(
                f"synthesis.caps.{key}: {table!r} is not a private child table; "
                "caps bound the children of a private parent"
            )
        elif column and column not in rel.child_columns:
            problems.append(
                f"synthesis.caps.{key}: {table!r} refers to its parent through "
                f"{', '.join(rel.child_columns)}; name that column"
            )
    return problems


def caps_by_table(spec: JobSpec) -> dict[str, int]:
    """``synthesis.caps`` keyed as the engine takes them: by child table."""
    return {cap_table(k): v for k, v in spec.synthesis.caps.items()}


def check_targets(sink: Sink, spec: JobSpec) -> None:
    for table in spec.source.tables or ():
        sink.check_writable(table, mode=spec.target.mode)


# --------------------------------------------------------------------------- extract


def extract_table(source: Source, spec: JobSpec, name: str) -> tuple[pd.DataFrame, str]:
    """One table whole, in chunks, and the digest of its contents."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\0")
    batches = source.read(name, chunk_rows=spec.source.chunk_rows)
    frame = st.read_hashed(batches, digest, name, hint="check source.tables")
    return frame, digest.hexdigest()


def snapshot_of(digests: Sequence[str]) -> str:
    """One snapshot id over every table's digest (in the order of source.tables)."""
    return "sha256:" + hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()


# --------------------------------------------------------------------------- mask


def keep_columns(plans: Sequence[TablePlan], rels: Sequence[Relationship]) -> dict[str, set[str]]:
    """Key columns per table: regenerated or linked by the engine, never masked."""
    keep: dict[str, set[str]] = {}
    for plan in plans:
        keep.setdefault(plan.name, set()).update(plan.key_columns)
    for rel in rels:
        keep.setdefault(rel.child_table, set()).update(rel.child_columns)
        keep.setdefault(rel.parent_table, set()).update(rel.parent_columns)
    return keep


KEY_REASON = "key column: links rows; every released row gets a fresh key (never modelled)"


@dataclass(frozen=True)
class MaskedTable:
    masked: st.Masked  # train: the whole masked table (the holdout is split per person)
    schema: TableSchema  # the modelled columns


def mask_table(
    frame: pd.DataFrame,
    schema: TableSchema,
    findings: list[ColumnFinding],
    policy: PolicyPack,
    keep: set[str],
    pseudonymizer: Pseudonymizer | None,
    spec: JobSpec,
) -> MaskedTable:
    """The pack's masking plan for one table, with its key columns kept as they are."""
    # key columns only link rows: the engine gives every released row a fresh key, so
    # their real values never reach the output (a public table's keys are copied as given)
    plan = build_mask_plan(
        [replace(f, pii_class=PiiClass.NONE, suspected=False) if f.column in keep else f
         for f in findings],
        schema,
        class_actions=policy.pii.class_actions(),
        overrides=dict.fromkeys(keep, MaskAction.KEEP),
        entity_actions=policy.pii.entity_actions(),
    )  # fmt: skip
    plan = MaskPlan(
        tuple(replace(a, reason=KEY_REASON) if a.column in keep else a for a in plan.actions),
        plan.column_order,
    )
    if plan.needs_key and pseudonymizer is None:
        raise ConfigError("the masking plan pseudonymizes, but no pseudonym key was loaded")
    leak = LeakScanner()
    leak.add_frame(frame, plan.direct_identifiers)
    surrogate = (
        pseudonymizer.surrogate
        if pseudonymizer is not None and policy.pii.redacts_with_surrogate
        else None
    )
    kept = apply_plan(
        frame,
        plan,
        generalization=policy.pii.generalization(),
        recognizers=policy.pii.custom_recognizers(),
        surrogate=surrogate,
    )
    masked = st.Masked(
        plan,
        kept,
        kept.iloc[0:0],
        leak,
        pseudonymizer,
        policy.pii.custom_recognizers(),
        policy.pii.generalization(),
        redact_with_surrogate=surrogate is not None,
    )
    model = st.model_schema(st.Extracted(frame, schema, ""), masked, spec)
    return MaskedTable(masked, model)


def _tuples(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series[Any]:
    return pd.Series(list(frame[list(columns)].itertuples(index=False, name=None)))


def person_holdout(
    frames: Mapping[str, pd.DataFrame], plans: Sequence[TablePlan], share: float, seed: int
) -> dict[str, np.ndarray[Any, Any]]:
    """Held-out rows per private table: a unit row's own coin, and every row below it
    goes with its parent (so one person is in the training tables or in the holdout)."""
    held: dict[str, np.ndarray[Any, Any]] = {}
    for plan in plans:
        frame = frames[plan.name]
        if plan.parent is None:
            held[plan.name] = st.holdout_rows(frame, share, seed=seed)
            continue
        rel = plan.parent
        parent = frames[rel.parent_table]
        out = set(_tuples(parent[held[rel.parent_table]], rel.parent_columns))
        held[plan.name] = _tuples(frame, rel.child_columns).isin(out).to_numpy()
    return held
