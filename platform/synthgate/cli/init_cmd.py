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
from synthgate.contracts import RelationalSource, Relationship
from synthgate.draft import (
    PASSWORD_ENV,
    ColumnPlan,
    DraftInput,
    PolicyFacts,
    TableDraft,
    TablesDraftInput,
    guess_keys,
    guess_relationships,
    render_draft,
    render_tables_draft,
    secret_free_url,
)
from synthgate.errors import ConfigError, TableNotFound
from synthgate.release import preview_policy
from synthgate.sources import open_source

if TYPE_CHECKING:
    from collections.abc import Sequence

    from synthgate.contracts import Source, TableSchema
    from synthgate.release import PolicyPack
    from synthgate.synth.multitable import TablePlan

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
    tables: Annotated[
        str,
        typer.Option(
            "--tables",
            help="Related tables to draft one job for, comma-separated "
            "(customers,orders,order_items): a multi-table job; not with --table.",
            show_default=False,
        ),
    ] = "",
    unit: Annotated[
        str,
        typer.Option(
            "--unit",
            help="With --tables: the table whose rows are the people protected "
            "(default: the first of --tables).",
            show_default=False,
        ),
    ] = "",
    public: Annotated[
        str,
        typer.Option(
            "--public",
            help="With --tables: reference tables copied as given (no budget), comma-separated.",
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
    """Write a commented job-spec draft for one table, or for several related
    tables (--tables), ready for `synthgate run`.

    The draft is built from the table's catalog (columns, types, keys, declared
    domains) and its PII inventory under the policy pack (classified on a sample
    of rows, as `synthgate inspect` does): the action per PII column, the
    declared categories and bounds, ε = 3, and the questions only you can
    answer (target column, protected attributes, ε, who approves) as comments.

    With --tables a,b,c [--unit a] [--public c] it drafts a multi-table job:
    source.tables and source.public, the unit, the relationships (the catalog's
    foreign keys as comments, or, for files, guessed from column names and
    written for you to check), the synthesis plan `synthgate run --dry-run`
    shows (or what to FIX), a commented caps line per child table and the PII
    actions per table.

    No value from the tables is written. A password in the URL is replaced by
    ${SYNTHGATE_SOURCE_PASSWORD}. Refuses to overwrite a file without --force.
    """
    path = None if output == _STDOUT else Path(output)
    if tables:
        if table:
            raise ConfigError(
                "--table and --tables cannot be combined: give --table for "
                "one table or --tables for several related tables"
            )
        names, unit, public_names = _table_options(tables, unit, public)
        if path is not None:
            _check_writable(path, force=force)
        pack = preview_policy(policy, current_store)
        _init_tables(url, names, unit, public_names, pack, _facts(policy, pack), path, force)
        return
    if unit or public:
        raise ConfigError("--unit and --public go with --tables; list the related tables there")
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


# --------------------------------------------------------------------------- several tables


def _split(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _table_options(tables: str, unit: str, public: str) -> tuple[list[str], str, list[str]]:
    """--tables, --unit and --public read and checked against each other (one line each)."""
    names, public_names = _split(tables), _split(public)
    if not names:
        raise ConfigError("--tables names no table; list them comma-separated: a,b,c")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"--tables names {', '.join(doubled)} twice; list each table once")
    unit = unit.strip() or names[0]
    if unit not in names:
        raise ConfigError(f"--unit {unit!r} is not one of --tables: {', '.join(names)}")
    stray = [p for p in public_names if p not in names]
    if stray:
        raise ConfigError(
            f"--public {', '.join(stray)} {'is' if len(stray) == 1 else 'are'} not one of "
            f"--tables: {', '.join(names)}; "
            "add it there or leave it out"
        )
    if unit in public_names:
        raise ConfigError(
            f"the unit {unit!r} cannot be public: its rows are the people protected; "
            "name another --unit or leave it out of --public"
        )
    return names, unit, public_names


def _init_tables(
    url: str,
    names: list[str],
    unit: str,
    public: list[str],
    pack: PolicyPack,
    facts: PolicyFacts,
    path: Path | None,
    force: bool,
) -> None:
    source = open_source(_openable_url(url, unit))
    try:
        _check_tables(source, names)
        schemas = {name: source.schema(name) for name in names}
        rels, guessed, keys, problems = _relationships(source, names, schemas)
        own = guess_keys(list(schemas.values()), rels, keys, public) if guessed else []
        keys.update({t: (c,) for t, c in own})
        plans = _plan(schemas, unit, rels, public, keys, problems)
        linking = _key_columns(plans, rels, keys)
        drafts = []
        for name, schema in schemas.items():
            column_plans, unreadable = _classify(source, schema, pack)
            drafts.append(TableDraft(schema, column_plans, linking.get(name, ()), unreadable))
    finally:
        source.close()
    draft = TablesDraftInput(
        url=url,
        tables=tuple(drafts),
        unit=unit,
        public=tuple(public),
        relationships=tuple(rels),
        guessed=guessed,
        plan=tuple(_describe(plans, public)),
        problems=tuple(problems),
        children=tuple(p.parent for p in plans if p.parent is not None),
        policy=facts,
        spec_dir=PurePath(".") if path is None else path.parent,
        keys=tuple(own),
    )
    text = render_tables_draft(draft)
    _check_draft(text)
    if path is None:
        sys.stdout.write(text)
    else:
        _write(path, text, force=force)
    _tables_summary(path, draft)


def _check_tables(source: Source, names: Sequence[str]) -> None:
    """Every name a table of the source, or a one-line error naming the tables there."""
    listed = source.list_tables()
    unknown = []
    for name in names:
        if name in listed:
            continue
        try:  # a name the listing spells otherwise (schema-qualified) may still be there
            source.schema(name)
        except TableNotFound:
            unknown.append(name)
    if unknown:
        shown = ", ".join(listed[:20]) + (
            f" and {len(listed) - 20} more" if len(listed) > 20 else ""
        )
        what = "table" if len(unknown) == 1 else "tables"
        raise ConfigError(
            f"{what} {', '.join(repr(n) for n in unknown)} not in the source; "
            f"tables there: {shown or 'none'}"
        )


def _relationships(
    source: Source, names: Sequence[str], schemas: dict[str, TableSchema]
) -> tuple[list[Relationship], bool, dict[str, tuple[str, ...]], list[str]]:
    """The catalog's foreign keys between *names*, else relationships guessed from the
    column names; whether they were guessed; the catalog's primary keys (what a run
    reads); and the problems met, one line each."""
    problems: list[str] = []
    if not isinstance(source, RelationalSource):
        return guess_relationships(list(schemas.values())), True, {}, problems
    try:
        found = source.relationships(list(names))
    except ConfigError as exc:
        problems.append(f"the catalog's keys cannot be read: {exc}")
        return guess_relationships(list(schemas.values())), True, {}, problems
    listed = set(names)
    fks = [r for r in found.foreign_keys if r.child_table in listed and r.parent_table in listed]
    keys = {k.table: tuple(k.primary_key) for k in found.keys if k.primary_key}
    if fks:
        return fks, False, keys, problems
    declared = {k.table: [k.primary_key, *k.unique] for k in found.keys}
    return guess_relationships(list(schemas.values()), declared), True, keys, problems


def _plan(
    schemas: dict[str, TableSchema],
    unit: str,
    rels: Sequence[Relationship],
    public: Sequence[str],
    keys: dict[str, tuple[str, ...]],
    problems: list[str],
) -> list[TablePlan]:
    """The synthesis order `synthgate run` would take, or its refusals added to *problems*."""
    import pandas as pd

    from synthgate.synth.multitable import plan_tables

    if problems:
        return []
    if not rels:
        problems.append(
            "no relationship between these tables: the catalog declares no foreign key "
            "between them and no column is named like another table's key; declare them "
            "under source.relationships"
        )
        return []
    empty = {name: pd.DataFrame(columns=s.column_names) for name, s in schemas.items()}
    try:
        return plan_tables(empty, unit=unit, relationships=rels, public=public, keys=keys)
    except ConfigError as exc:
        problems.extend(exc.problems or [str(exc)])
        return []


def _describe(plans: Sequence[TablePlan], public: Sequence[str]) -> list[str]:
    from synthgate.synth.multitable import describe_plans

    return describe_plans(plans, public) if plans else []


def _key_columns(
    plans: Sequence[TablePlan], rels: Sequence[Relationship], keys: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """Per table, the columns that only link rows: the plan's keys and every column a
    relationship names (a run keeps them and gives every released row a fresh key)."""
    found: dict[str, list[str]] = {t: list(k) for t, k in keys.items()}

    def add(table: str, columns: Sequence[str]) -> None:
        have = found.setdefault(table, [])
        have.extend(c for c in columns if c not in have)

    for plan in plans:
        add(plan.name, sorted(plan.key_columns))
    for rel in rels:
        add(rel.child_table, rel.child_columns)
        add(rel.parent_table, rel.parent_columns)
    return {t: tuple(cols) for t, cols in found.items()}


def _tables_summary(path: Path | None, draft: TablesDraftInput) -> None:
    flagged = sum(1 for t in draft.tables for p in t.plans if p.is_pii and p.name not in t.keys)
    where = "stdout" if path is None else str(path)
    origin = "guessed from column names (check them)" if draft.guessed else "from the catalog"
    relationships = (
        f"{len(draft.relationships)} relationship(s) {origin}"
        if draft.relationships
        else "no relationship"
    )
    err.print(
        f"wrote a job spec draft for {len(draft.tables)} tables (unit {draft.unit!r}) to "
        f"{where}: {relationships}, {flagged} PII column(s); answer its QUESTION comments, "
        f"then `synthgate run {path or 'JOB.yaml'} --dry-run`",
        markup=False,
    )
    if draft.problems:
        err.print(
            f"the tables cannot be synthesized as drafted: {len(draft.problems)} FIX "
            "comment(s) in the draft say what to change",
            markup=False,
        )
    if secret_free_url(draft.url)[1]:
        err.print(
            f"the URL's password is not in the draft: export {PASSWORD_ENV} before running",
            markup=False,
        )
