from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from synthgate.cli._auth import current_store
from synthgate.cli._common import Column, out, print_json, print_table
from synthgate.contracts import RelationalSource, Relationships, Source, TableSchema
from synthgate.errors import UnsupportedType
from synthgate.release import preview_policy
from synthgate.sources import open_source

__all__ = ["inspect", "rename_note", "renamed_columns"]


def inspect(
    url: Annotated[
        str, typer.Argument(help="SQLAlchemy URL or path to a CSV/Parquet file or folder.")
    ],
    table: Annotated[str | None, typer.Option("--table", "-t", help="Table to describe.")] = None,
    pii: Annotated[
        bool, typer.Option("--pii/--no-pii", help="Classify PII (reads a sample).")
    ] = True,
    sample_values: Annotated[
        int, typer.Option(min=10, max=100_000, help="Distinct values sampled per column for PII.")
    ] = 1000,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="Policy pack for recognizers and actions: an installed or registered "
            "pack's name, or any pack file (a run needs it registered).",
        ),
    ] = "default",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe a source: its tables, keys and foreign keys, or one table's schema, row
    count, declared domains and PII.

    A database lists the tables of every non-system schema, schema-qualified
    outside the default one (on MySQL/MariaDB a schema is a database).

    PII is classified on a uniform random sample of the rows; the action shown is
    what the policy pack would do with each column, and the evidence what decided it
    (name hint, name-dictionary and recognizer shares, uniqueness; rounded). No value
    is printed. Writes nothing.
    """
    pack = preview_policy(policy, current_store) if pii and table is not None else None
    source = open_source(url)
    try:
        if table is None:
            _print_tables(source, json_out=json_out)
            return
        schema = source.schema(table)
        rows = source.row_count(table)
        renamed = renamed_columns(source, table)
        findings: dict[str, Any] = {}
        actions: dict[str, Any] = {}
        unreadable: list[str] = []
        if pack is not None:
            from synthgate.pii import build_plan, classify_columns

            frame, unreadable = _sample_frame(source, schema, rows=max(10_000, sample_values * 20))
            readable = schema.select([c for c in schema.column_names if c not in unreadable])
            found = classify_columns(
                frame,
                readable,
                sample_values=sample_values,
                recognizers=pack.pii.custom_recognizers(),
                rows=rows,
            )
            findings = {f.column: f for f in found}
            plan = build_plan(
                found,
                readable,
                class_actions=pack.pii.class_actions(),
                overrides={},
                entity_actions=pack.pii.entity_actions(),
            )
            actions = {a.column: a for a in plan.actions}
    finally:
        source.close()
    domains = {c.name: list(c.domain) for c in schema.columns if c.domain}
    if json_out:
        print_json(
            {
                "table": table,
                "rows": rows,
                "schema": schema.to_dict(),
                "declared_domains": domains,
                "unreadable_columns": unreadable,
                "renamed_columns": renamed,
                "pii": [
                    {
                        **f.to_dict(),
                        "action": actions[f.column].action.value,
                        "reason": actions[f.column].reason,
                    }
                    for f in findings.values()
                ]
                if pii
                else None,
                "pii_policy": pack.name if pack is not None else None,
            }
        )
        return
    key = ", ".join(schema.primary_key) or "—"
    out.print(f"[bold]{escape(table)}[/]  {rows} rows  primary key: {escape(key)}")
    heads = ("column", "type", "native", "null", "declared domain", "PII", "share", "class")
    grid: list[tuple[str, ...]] = []
    for col in schema.columns:
        f = findings.get(col.name)
        act = actions.get(col.name)
        cells = (
            col.name,
            col.type.value,
            col.native_type,
            "yes" if col.nullable else "no",
            ", ".join(col.domain) if col.domain else "",
            (f.entity or "") if f else "",
            f"{f.share:.2f}" if f and f.entity else "",
            _class_cell(f),
            act.action.value if act else "",
            f.signals.text() if f else "",
        )
        grid.append(tuple(str(c) for c in cells))
    print_table([Column(h) for h in (*heads, "action", "evidence")], grid)
    _print_notes(pack.name if pack is not None else None, findings, unreadable, renamed)


def _print_tables(source: Source, *, json_out: bool) -> None:
    """Every table with its primary and unique keys, then the foreign keys between them."""
    tables = source.list_tables()
    found: Relationships | None = None
    if isinstance(source, RelationalSource):
        found = source.relationships(tables)
    if json_out:
        print_json(
            {
                "tables": tables,
                "keys": None
                if found is None
                else {
                    k.table: {
                        "primary_key": list(k.primary_key),
                        "unique": [list(u) for u in k.unique],
                    }
                    for k in found.keys
                },
                "foreign_keys": None
                if found is None
                else [
                    {
                        "child_table": r.child_table,
                        "child_columns": list(r.child_columns),
                        "parent_table": r.parent_table,
                        "parent_columns": list(r.parent_columns),
                    }
                    for r in found.foreign_keys
                ],
            }
        )
        return
    keys = {k.table: k for k in found.keys} if found is not None else {}
    grid = [
        (
            name,
            ", ".join(keys[name].primary_key) if name in keys else "",
            "; ".join(", ".join(u) for u in keys[name].unique) if name in keys else "",
        )
        for name in tables
    ]
    print_table([Column("table"), Column("primary key"), Column("unique")], grid)
    if found is None:
        out.print("foreign keys: this connector does not read them", markup=False)
        return
    if not found.foreign_keys:
        out.print("foreign keys: none", markup=False)
        return
    out.print("foreign keys:", markup=False)
    for r in found.foreign_keys:
        child = f"{r.child_table} ({', '.join(r.child_columns)})"
        parent = f"{r.parent_table} ({', '.join(r.parent_columns)})"
        out.print(f"  {child} -> {parent}", markup=False, highlight=False)


def _print_notes(
    pack: str | None, findings: dict[str, Any], unreadable: list[str], renamed: dict[str, str]
) -> None:
    if pack is not None:
        out.print(
            f"actions: policy pack {pack!r} (no sampled value is shown or stored)",
            markup=False,
        )
    note = _suspected_note(list(findings.values()))
    if note:
        out.print(note, markup=False)
    for name in unreadable:
        out.print(
            f"[yellow]{escape(name)}: not read for PII (its type cannot be read; "
            "see its native type)[/]"
        )
    if renamed:
        out.print(f"[yellow]{escape(rename_note(renamed))}[/]", highlight=False)


def _class_cell(finding: Any) -> str:
    if finding is None or finding.pii_class.value == "none":
        return ""
    return f"{finding.pii_class.value}{' (suspected)' if finding.suspected else ''}"


def _suspected_note(findings: list[Any]) -> str:
    """One line naming the suspected columns and the job-spec line that decides them."""
    suspected = [f.column for f in findings if f.suspected]
    if not suspected:
        return ""
    line = ", ".join(f"{c}: fake" for c in suspected)
    return (
        f"suspected identifiers: {', '.join(suspected)}; treated as direct identifiers, and "
        f"a masked copy refuses them until the job spec decides, e.g. pii.columns: {{{line}}}"
    )


def renamed_columns(source: Source, table: str) -> dict[str, str]:
    """Columns a file source renamed (empty or repeated header names): new → old."""
    lookup = getattr(source, "renamed_columns", None)
    return dict(lookup(table)) if callable(lookup) else {}


def rename_note(renamed: dict[str, str]) -> str:
    parts = [
        f"{new} (header {old!r} repeated)" if old.strip() else f"{new} (empty header)"
        for new, old in renamed.items()
    ]
    return "renamed columns, use these names in the job spec: " + ", ".join(parts)


def _sample_frame(source: Source, schema: TableSchema, *, rows: int) -> tuple[Any, list[str]]:
    """A uniform sample of *rows* rows as a frame, and the columns that cannot be read."""
    import pandas as pd
    import pyarrow as pa

    def read(columns: list[str]) -> pa.Table:
        return pa.Table.from_batches(
            list(source.read(schema.name, columns=columns, sample_rows=rows))
        )

    try:
        return read(schema.column_names).to_pandas(date_as_object=True), []
    except UnsupportedType:
        pass
    parts: dict[str, Any] = {}
    unreadable: list[str] = []
    for name in schema.column_names:
        try:
            parts[name] = read([name]).column(name).to_pandas(date_as_object=True)
        except UnsupportedType:
            unreadable.append(name)
    # columns of separate samples: fine for per-column PII detection, not for joint analysis
    width = max((len(v) for v in parts.values()), default=0)
    frame = pd.DataFrame({k: v.reindex(range(width)) for k, v in parts.items()})
    return frame, unreadable
