"""The Python API: what a notebook calls, with the same guarantees as a job.

``run`` runs a job spec as ``synthgate run`` does; ``inspect`` classifies a
table's columns as ``synthgate inspect`` does; ``synthesize`` turns a
DataFrame into a synthetic one through a whole job — the PII policy, the DP
engine, validation, the gate, the audit log and the budget ledger of the state
folder — and hands back the synthetic rows with their ε and report.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthgate.config import LoadedSpec, load_job_spec, parse_job_spec
from synthgate.contracts import Relationship, TableSchema
from synthgate.errors import ConfigError
from synthgate.pipeline import RunOutcome, run_job
from synthgate.settings import Settings
from synthgate.store import Store
from synthgate.synth.multitable import MultiTableSynthesis

__all__ = [
    "ColumnFinding",
    "Inventory",
    "MultiTableSynthesis",
    "Synthesis",
    "inspect",
    "run",
    "synthesize",
    "synthesize_tables",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SAMPLE_ROWS = 20_000


def run(
    spec: str | Path | Mapping[str, Any], *, home: str | Path | None = None, force: bool = False
) -> RunOutcome:
    """Run a job spec (a YAML path, or the spec as a mapping) like ``synthgate run``.

    ``home`` is the state folder (default ``$SYNTHGATE_HOME`` or ``./.synthgate``).
    Raises :class:`synthgate.errors.SynthgateError` subclasses as the CLI's exit
    codes describe; a blocked release is an outcome (``.status``), not an error.
    """
    loaded = _loaded(spec)
    return run_job(loaded, Settings.from_env(Path(home) if home is not None else None), force=force)


def _loaded(spec: str | Path | Mapping[str, Any]) -> LoadedSpec:
    if isinstance(spec, str | Path):
        return load_job_spec(Path(spec))
    raw = dict(spec)
    text = json.dumps(raw, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedSpec(spec=parse_job_spec(raw, origin="job spec"), path=None, spec_hash=digest)


# --------------------------------------------------------------------------- inspect


@dataclass(frozen=True, slots=True)
class ColumnFinding:
    """One column: its type, what personal data it holds and what the pack would do."""

    column: str
    type: str
    entity: str | None
    pii_class: str
    share: float
    action: str


@dataclass(frozen=True, slots=True)
class Inventory:
    """A table's columns and their PII classification (no value of the table)."""

    table: str
    policy: str
    columns: tuple[ColumnFinding, ...]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([_row(c) for c in self.columns])


def _row(c: ColumnFinding) -> dict[str, Any]:
    return {
        "column": c.column,
        "type": c.type,
        "entity": c.entity,
        "pii_class": c.pii_class,
        "share": c.share,
        "action": c.action,
    }


def inspect(
    data: pd.DataFrame | str, *, table: str | None = None, policy: str = "default"
) -> Inventory:
    """Classify the columns of a DataFrame, or of ``table`` at a source URL, under a
    policy pack: entity, class, share and the action the pack would take."""
    from synthgate.pii import build_plan, classify_columns
    from synthgate.release import preview_policy

    pack = preview_policy(policy, _store)
    frame, schema = _frame_and_schema(data, table)
    found = classify_columns(frame, schema, recognizers=pack.pii.custom_recognizers())
    plan = build_plan(
        found,
        schema,
        class_actions=pack.pii.class_actions(),
        overrides={},
        entity_actions=pack.pii.entity_actions(),
    )
    actions = {a.column: a.action.value for a in plan.actions}
    by_column = {f.column: f for f in found}
    columns = tuple(
        ColumnFinding(
            column=c.name,
            type=c.type.value,
            entity=by_column[c.name].entity if c.name in by_column else None,
            pii_class=by_column[c.name].pii_class.value if c.name in by_column else "none",
            share=round(by_column[c.name].share, 2) if c.name in by_column else 0.0,
            action=actions.get(c.name, "keep"),
        )
        for c in schema.columns
    )
    return Inventory(table=schema.name, policy=pack.name, columns=columns)


def _store() -> Store:
    return Store(Settings.from_env().store_url)


def _frame_and_schema(
    data: pd.DataFrame | str, table: str | None
) -> tuple[pd.DataFrame, TableSchema]:
    from synthgate.memory import schema_of
    from synthgate.sources import open_source

    if isinstance(data, pd.DataFrame):
        arrow = pa.Table.from_pandas(data, preserve_index=False)
        return data, schema_of(table or "dataframe", arrow)
    if table is None:
        raise ConfigError("inspect of a URL needs table=", hint="name the table to classify")
    source = open_source(data)
    try:
        schema = source.schema(table)
        batches = list(source.read(table, sample_rows=_SAMPLE_ROWS))
    finally:
        source.close()
    frame = pa.Table.from_batches(batches).to_pandas(date_as_object=True)
    return frame, schema


# --------------------------------------------------------------------------- synthesize


@dataclass(frozen=True)
class Synthesis:
    """What :func:`synthesize` returns: the synthetic rows and the evidence behind them.

    ``data`` holds the input's columns (personal data handled by the policy);
    ``status`` is the release decision the policy gate took (the rows are yours
    to inspect either way; publishing them anywhere still needs an approval).
    """

    data: pd.DataFrame
    epsilon: float | None
    delta: float | None
    ledger: list[dict[str, Any]]
    report: dict[str, Any]
    status: str | None
    run_id: str
    release_id: str | None
    report_html: Path | None = None
    failed_rules: list[str] = field(default_factory=list)

    def to_html(self) -> str:
        """The review report as one self-contained HTML page."""
        if self.report_html is None:
            return ""
        return self.report_html.read_text("utf-8")

    def _repr_html_(self) -> str:
        return self.to_html()


def synthesize(
    df: pd.DataFrame,
    *,
    epsilon: float,
    synthesizer: str = "auto",
    target: str | None = None,
    protected: Sequence[str] | None = None,
    seed: int | None = None,
    rows: int | None = None,
    name: str = "dataframe",
    policy: str = "default",
    home: str | Path | None = None,
) -> Synthesis:
    """A synthetic version of *df* under (ε, δ)-differential privacy.

    Runs a whole job on the frame: the policy pack's PII actions, the DP engine,
    validation against a holdout, the policy gate and the audit log. ε is charged
    to the privacy budget of the source ``name`` in the state folder ``home``
    (default ``$SYNTHGATE_HOME`` or ``./.synthgate``): repeated calls on the same
    name share one budget, as runs of one table do.
    """
    from synthgate import memory

    if not _NAME.match(name):
        raise ConfigError(
            f"name {name!r} must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
            hint="name the data set, e.g. name='customers'",
        )
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    memory.put(f"notebook-{name}", arrow, memory.schema_of(name, arrow))
    spec: dict[str, Any] = {
        "name": f"notebook-{name}",
        "source": {"url": f"memory://notebook-{name}", "table": name},
        "target": {"url": f"memory://notebook-{name}-release", "table": name},
        "pii": {"policy": policy},
        "synthesis": {
            "synthesizer": synthesizer,
            "privacy": {"epsilon": epsilon},
            **({"seed": seed} if seed is not None else {}),
            **({"rows": rows} if rows is not None else {}),
        },
        "validation": {
            **({"target_column": target} if target else {}),
            **({"protected_attributes": list(protected)} if protected else {}),
        },
        "release": {"policy": policy},
    }
    outcome = run(spec, home=home, force=True)
    return _synthesis(outcome)


def _synthesis(outcome: RunOutcome) -> Synthesis:
    report: dict[str, Any] = (
        json.loads(outcome.report_json.read_text("utf-8")) if outcome.report_json else {}
    )
    spent = report.get("privacy", {}).get("spent", {})
    data = (
        pq.read_table(outcome.synthetic_path).to_pandas()
        if outcome.synthetic_path is not None
        else pd.DataFrame()
    )
    return Synthesis(
        data=data,
        epsilon=spent.get("epsilon"),
        delta=spent.get("delta"),
        ledger=list(spent.get("stages", [])),
        report=report,
        status=outcome.status.value if outcome.status is not None else None,
        run_id=outcome.run_id,
        release_id=outcome.release_id,
        report_html=outcome.report_html,
        failed_rules=list(outcome.failed_rules),
    )


# --------------------------------------------------------------------------- synthesize_tables

RelationshipLike = Relationship | Mapping[str, str]


def synthesize_tables(
    tables: Mapping[str, pd.DataFrame] | str,
    *,
    unit: str,
    relationships: Sequence[RelationshipLike] | None = None,
    epsilon: float,
    public: Sequence[str] = (),
    keys: Mapping[str, Sequence[str]] | None = None,
    caps: Mapping[str, int] | None = None,
    seed: int | None = None,
    table_names: Sequence[str] | None = None,
    context: Mapping[str, Sequence[str]] | None = None,
) -> MultiTableSynthesis:
    """Synthetic versions of related tables under (ε, δ)-DP for each person.

    *unit* is the table whose rows are the people protected; the guarantee covers
    adding or removing one of its rows together with every row below it through
    foreign keys. *relationships* are foreign keys, as
    :class:`synthgate.contracts.Relationship` or ``{"child": "orders.customer_id",
    "parent": "customers.customer_id"}``. *public* tables are reference data,
    returned as given and spending no budget. *keys* names key columns (a parent's
    referenced columns are keys already); *caps* bounds the children one parent
    row keeps, per child table (chosen under DP when not given); *context* names, per
    child table, up to three parent columns it is modelled and sampled with (default:
    the parent's categorical column with the fewest values). δ is chosen as
    for one table. This runs the engine only: no PII policy, gate, audit log or
    budget ledger entry (see docs/multi-table.md).

    *tables* may also be a source URL with *table_names*: the tables are read
    whole, and, where the connector reads a catalog, relationships (when not
    given) and primary keys come from it.
    """
    from synthgate.synth.multitable import synthesize_related

    if isinstance(tables, str):
        tables, found, primary = _read_related(tables, table_names)
        relationships = relationships if relationships is not None else found
        keys = {**primary, **(keys or {})}
    if not relationships:
        raise ConfigError(
            "synthesize_tables needs relationships",
            hint='pass relationships=[{"child": "orders.customer_id", '
            '"parent": "customers.customer_id"}, ...]',
        )
    return synthesize_related(
        tables,
        unit=unit,
        relationships=[_relationship(r) for r in relationships],
        epsilon=epsilon,
        public=public,
        keys=keys,
        caps=caps,
        seed=seed,
        context=context,
    )


def _relationship(rel: RelationshipLike) -> Relationship:
    if isinstance(rel, Relationship):
        return rel
    if set(rel) != {"child", "parent"}:
        raise ConfigError(
            "a relationship is {'child': 'table.column', 'parent': 'table.column'}",
            hint="or pass synthgate.contracts.Relationship for composite keys",
        )
    child_table, child_col = _split(rel["child"], "child")
    parent_table, parent_col = _split(rel["parent"], "parent")
    return Relationship(child_table, (child_col,), parent_table, (parent_col,))


def _split(text: str, side: str) -> tuple[str, str]:
    table, dot, column = str(text).rpartition(".")
    if not dot or not table or not column:
        raise ConfigError(
            f"relationship {side} {text!r} is not 'table.column'",
            hint="write the table, a dot and the column, e.g. orders.customer_id",
        )
    return table, column


def _read_related(
    url: str, names: Sequence[str] | None
) -> tuple[dict[str, pd.DataFrame], list[Relationship], dict[str, Sequence[str]]]:
    """The named tables of a source, their foreign keys between them and their
    primary keys (from the catalog, where the connector reads one)."""
    from synthgate.contracts import RelationalSource
    from synthgate.sources import open_source

    if not names:
        raise ConfigError(
            "synthesize_tables of a URL needs table_names",
            hint="name the tables, e.g. table_names=['customers', 'orders']",
        )
    source = open_source(url)
    try:
        frames: dict[str, pd.DataFrame] = {
            name: pa.Table.from_batches(list(source.read(name))).to_pandas() for name in names
        }
        if not isinstance(source, RelationalSource):
            return frames, [], {}
        found = source.relationships(list(names))
    finally:
        source.close()
    rels = [r for r in found.foreign_keys if r.parent_table in frames]
    keys: dict[str, Sequence[str]] = {k.table: k.primary_key for k in found.keys if k.primary_key}
    return frames, rels, keys
