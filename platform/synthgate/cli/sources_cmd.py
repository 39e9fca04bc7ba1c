"""``synthgate sources``: register a source table under a name with its budget limits."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from synthgate.cli._auth import current_actor
from synthgate.cli._common import out, print_json, settings
from synthgate.config import expand_env
from synthgate.errors import ConfigError
from synthgate.privacy import (
    BudgetLedger,
    RegisteredSource,
    check_registration,
    find_source,
    may_register,
    register_source,
    registered_for,
    registered_sources,
)
from synthgate.sources import open_source, source_key
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Source tables registered under a name with their privacy budget. Every name of a "
        "table and every spelling of its URL share the table's one ledger."
    ),
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The source's name.", show_default=False)]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _check_table(url: str, table: str) -> None:
    """The table must exist now: a registration of a typo would hold no budget."""
    source = open_source(url)
    try:
        source.schema(table)
    finally:
        source.close()


def _describe(r: RegisteredSource) -> str:
    delta = f"δ ≤ {r.delta_limit:.2g}" if r.delta_limit is not None else "δ: the pack's"
    role = r.registered_role or "bootstrap"
    return (
        f"{r.name}  {r.key}\n  ε ≤ {r.epsilon_limit:g} · {delta} · registered by "
        f"{r.registered_by} ({role}) at {r.registered_at[:19]}"
    )


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    url: Annotated[
        str,
        typer.Argument(
            help="SQLAlchemy URL or file path; a password only as ${ENV_VAR} (quote it).",
            show_default=False,
        ),
    ],
    table: Annotated[str, typer.Option("--table", help="The table.", show_default=False)],
    epsilon_limit: Annotated[
        float,
        typer.Option("--epsilon-limit", help="Cumulative ε of the table.", show_default=False),
    ],
    delta_limit: Annotated[
        float | None,
        typer.Option("--delta-limit", help="Cumulative δ (default: the policy pack's)."),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Register URL's table as NAME with its budget limits (admin or approver; audited).

    A job may then say source: {name: NAME}. A registered limit lowers the policy
    pack's epsilon_per_source (and delta_per_source); only an admin's registration
    may raise it. A copy of a file at another path is another source: register each
    copy under a name with the same limits to keep one account of them.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    actor = current_actor(cfg, store)
    may_register(actor)  # both before the source is opened
    check_registration(name, url, epsilon_limit, delta_limit)
    filled = expand_env(url, where="url")
    _check_table(filled, table)
    registered = register_source(
        store,
        actor,
        name,
        url,
        table,
        key=source_key(filled, table),
        epsilon_limit=epsilon_limit,
        delta_limit=delta_limit,
    )
    if json_out:
        print_json(registered.to_dict())
        return
    out.print(escape(f"registered {_describe(registered)}"))
    others = [r.name for r in registered_for(store, registered.key) if r.name != name]
    if others:
        out.print(escape(f"same table as {', '.join(others)}: one ledger, the lowest limit"))


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Every registered source with its limits."""
    store = Store(settings(ctx).store_url)
    regs = registered_sources(store)
    if json_out:
        print_json([r.to_dict() for r in regs])
        return
    if not regs:
        out.print(
            "no sources registered; an admin or approver adds one with: synthgate sources add"
        )
    for r in regs:
        out.print(escape(_describe(r)))


@app.command("show")
def show(ctx: typer.Context, name: Name, json_out: JsonOut = False) -> None:
    """One registered source: its canonical key, URL (no password), limits, other names
    and what its ledger holds."""
    store = Store(settings(ctx).store_url)
    registered = find_source(store, name)
    if registered is None:
        raise ConfigError(
            f"no source named {name!r} is registered", hint="list them with: synthgate sources list"
        )
    status = BudgetLedger(store).status(
        registered.key,
        limit=registered.epsilon_limit,
        delta_limit=registered.delta_limit or float("inf"),
    )
    aliases = [r.name for r in registered_for(store, registered.key) if r.name != name]
    data = {
        **registered.to_dict(),
        "aliases": aliases,
        "spent_epsilon": status.spent_epsilon,
        "spent_delta": status.spent_delta,
        "reserved_epsilon": status.reserved_epsilon,
        "runs": status.runs,
        "masked_copies": status.masked_copies,
    }
    if json_out:
        print_json(data)
        return
    out.print(escape(_describe(registered)))
    out.print(escape(f"  url {data['url']} · table {registered.table}"))
    if aliases:
        out.print(escape(f"  also registered as {', '.join(aliases)} (one ledger)"))
    spent = (
        "no runs yet"
        if status.empty
        else f"ε {status.spent_epsilon:.4g} over {status.runs} run(s), δ {status.spent_delta:.2g}"
    )
    out.print(f"  spent {spent}; see: synthgate budget show {name}")
