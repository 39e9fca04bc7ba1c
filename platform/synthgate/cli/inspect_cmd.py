from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from synthgate.cli._common import out, print_json
from synthgate.sources import open_source

__all__ = ["inspect"]


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
    ] = 500,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe a source: its tables, or one table's schema, row count and PII. Writes nothing."""
    source = open_source(url)
    try:
        if table is None:
            tables = source.list_tables()
            if json_out:
                print_json({"tables": tables})
            else:
                for name in tables:
                    out.print(name)
            return
        schema = source.schema(table)
        rows = source.row_count(table)
        findings: dict[str, Any] = {}
        if pii:
            import pyarrow as pa

            from synthgate.pii import classify_columns

            frame = pa.Table.from_batches(list(source.read(table))).to_pandas(date_as_object=True)
            findings = {
                f.column: f for f in classify_columns(frame, schema, sample_values=sample_values)
            }
    finally:
        source.close()
    if json_out:
        print_json(
            {
                "table": table,
                "rows": rows,
                "schema": schema.to_dict(),
                "pii": [f.to_dict() for f in findings.values()] if pii else None,
            }
        )
        return
    out.print(f"[bold]{table}[/]  {rows} rows  primary key: {', '.join(schema.primary_key) or '—'}")
    grid = Table(show_edge=False)
    for head in ("column", "type", "native", "null", "declared domain", "PII", "share", "class"):
        grid.add_column(head)
    for col in schema.columns:
        f = findings.get(col.name)
        grid.add_row(
            col.name,
            col.type.value,
            col.native_type,
            "yes" if col.nullable else "no",
            ", ".join(col.domain) if col.domain else "",
            (f.entity or "") if f else "",
            f"{f.share:.2f}" if f and f.entity else "",
            f.pii_class.value if f and f.entity else "",
        )
    out.print(grid)
