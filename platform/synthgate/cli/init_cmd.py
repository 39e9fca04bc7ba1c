from __future__ import annotations

import os
import sys
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from synthgate.cli._auth import current_store
from synthgate.cli._common import err
from synthgate.config import parse_job_spec, single_file_table
from synthgate.draft import (
    PASSWORD_ENV,
    ColumnPlan,
    DraftInput,
    PolicyFacts,
    render_draft,
    secret_free_url,
)
from synthgate.errors import ConfigError
from synthgate.release import preview_policy
from synthgate.sources import open_source

if TYPE_CHECKING:
    from synthgate.contracts import Source, TableSchema
    from synthgate.release import PolicyPack

__all__ = ["init"]

_STDOUT = "-"
_SAMPLE_VALUES = 1000  # distinct values per column Presidio reads, as `synthgate inspect`


def init(
    url: Annotated[
        str,
        typer.Argument(
            help="Source: a SQLAlchemy URL or a path to a CSV/Parquet file or folder.",
            show_default=False,
        ),
    ],
    table: Annotated[
        str,
        typer.Option(
            "--table",
            "-t",
            help="Table to draft a job for; may be left out when the source holds one "
            "(a CSV or Parquet file).",
            show_default=False,
        ),
    ] = "",
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="File to write the draft to; '-' prints it."),
    ] = _STDOUT,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="Policy pack for PII actions and gate: an installed or registered pack's "
            "name, or a pack file (a run needs it registered).",
        ),
    ] = "default",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output file if it exists.")
    ] = False,
) -> None:
    """Write a commented job-spec draft for one table, ready for `synthgate run`.

    The draft is built from the table's catalog (columns, types, keys, declared
    domains) and its PII inventory under the policy pack (classified on a sample
    of rows, as `synthgate inspect` does): the action per PII column, the
    declared categories and bounds, ε = 3, and the questions only you can
    answer (target column, protected attributes, ε, who approves) as comments.
    No value from the table is written. A password in the URL is replaced by
    ${SYNTHGATE_SOURCE_PASSWORD}. Refuses to overwrite a file without --force.
    """
    path = None if output == _STDOUT else Path(output)
    if path is not None:
        _check_writable(path, force=force)
    pack = preview_policy(policy, current_store)
    table = table or _only_table(url)
    schema, plans, unreadable = _read_catalog(_openable_url(url, table), table, pack)
    draft = DraftInput(
        url=url,
        schema=schema,
        plans=plans,
        policy=_facts(policy, pack),
        spec_dir=PurePath(".") if path is None else path.parent,
        unreadable=unreadable,
    )
    text = render_draft(draft)
    _check_draft(text)
    if path is None:
        sys.stdout.write(text)
    else:
        _write(path, text, force=force)
    _summary(path, draft)


def _check_writable(path: Path, *, force: bool) -> None:
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; name the file to write with -o")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise ConfigError(f"folder {path.parent} does not exist; create it first")


def _only_table(url: str) -> str:
    """The one table the source holds, or a one-line error listing them."""
    stem = single_file_table(url)
    if stem is not None:
        return stem
    source = open_source(_openable_url(url, "t"))
    try:
        tables = source.list_tables()
    finally:
        source.close()
    if len(tables) == 1:
        return tables[0]
    shown = ", ".join(tables[:20]) + (f" and {len(tables) - 20} more" if len(tables) > 20 else "")
    raise ConfigError(
        f"the source holds {len(tables)} tables; name one with --table",
        hint=f"tables there: {shown or 'none'}",
    )


def _openable_url(url: str, table: str) -> str:
    """*url* with its ``${VAR}`` references read from the environment, as a run reads it."""
    raw = {"name": "init", "source": {"url": url, "table": table}, "target": {"url": url}}
    return parse_job_spec(raw, origin="source URL").source.url


def _read_catalog(
    url: str, table: str, pack: PolicyPack
) -> tuple[TableSchema, tuple[ColumnPlan, ...], tuple[str, ...]]:
    """The table's schema, what the pack does per column, and the columns that cannot be read."""
    source = open_source(url)
    try:
        schema = source.schema(table)
        plans, unreadable = _classify(source, schema, pack)
    finally:
        source.close()
    return schema, plans, unreadable


def _classify(
    source: Source, schema: TableSchema, pack: PolicyPack
) -> tuple[tuple[ColumnPlan, ...], tuple[str, ...]]:
    """PII findings and the pack's action per column, on a uniform sample; no value kept."""
    from synthgate.cli.inspect_cmd import _sample_frame
    from synthgate.pii import build_plan, classify_columns

    frame, unreadable = _sample_frame(source, schema, rows=max(10_000, _SAMPLE_VALUES * 20))
    readable = schema.select([c for c in schema.column_names if c not in unreadable])
    found = classify_columns(
        frame,
        readable,
        sample_values=_SAMPLE_VALUES,
        recognizers=pack.pii.custom_recognizers(),
    )
    plan = build_plan(
        found,
        readable,
        class_actions=pack.pii.class_actions(),
        overrides={},
        entity_actions=pack.pii.entity_actions(),
    )
    findings = {f.column: f for f in found}
    plans = tuple(
        ColumnPlan(
            name=a.column,
            action=a.action.value,
            entity=a.entity,
            pii_class=a.pii_class.value,
            share=findings[a.column].share,
            evidence=findings[a.column].evidence,
        )
        for a in plan.actions
    )
    return plans, tuple(unreadable)


def _facts(ref: str, pack: PolicyPack) -> PolicyFacts:
    return PolicyFacts(
        ref=ref,
        name=pack.name,
        epsilon_per_source=pack.budget.epsilon_per_source,
        required_approvals=pack.required_approvals,
        auto_approve=pack.auto_approve,
        needs_key=pack.pii.needs_key,
    )


def _check_draft(text: str) -> None:
    """The draft must be a valid job spec as written (the password variable aside)."""
    env = {**os.environ, PASSWORD_ENV: "x"}  # too short to be registered as a secret
    parse_job_spec(yaml.safe_load(text), env=env, origin="the drafted job spec")


def _write(path: Path, text: str, *, force: bool) -> None:
    try:
        with path.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be written: {exc.strerror}") from None


def _summary(path: Path | None, draft: DraftInput) -> None:
    flagged = sum(1 for p in draft.plans if p.is_pii)
    declared = sum(1 for c in draft.schema.columns if c.domain or c.bounds)
    where = "stdout" if path is None else str(path)
    err.print(
        f"wrote a job spec draft for {draft.schema.name!r} to {where}: {flagged} PII column(s), "
        f"{declared} declared domain(s); answer its QUESTION comments, then "
        f"`synthgate run {path or 'JOB.yaml'}`",
        markup=False,
    )
    if secret_free_url(draft.url)[1]:
        err.print(
            f"the URL's password is not in the draft: export {PASSWORD_ENV} before running",
            markup=False,
        )
