"""``synthgate budget``: the privacy budget of a source table, by any of its names."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy import select

from synthgate.cli._common import out, print_json, settings
from synthgate.config import load_job_spec
from synthgate.errors import ConfigError, SynthgateError
from synthgate.privacy import (
    MASKED_COPY,
    RESERVED,
    TOTAL,
    BudgetLedger,
    BudgetLimits,
    BudgetStatus,
    RegisteredSource,
    find_source,
    registered_for,
    registered_sources,
    resolve_named_source,
    source_limits,
)
from synthgate.release import PolicyPack, load_policy
from synthgate.sources import open_source, source_key
from synthgate.store import Store
from synthgate.store.models import BudgetEntry, ReleaseRow

__all__ = ["app"]

app = typer.Typer(help="Privacy budget spent per source table.", no_args_is_help=True)

JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        help="Policy whose limits apply (default: the job's, else the policy of the source's "
        "latest release, else default)."
    ),
]
_DEFAULT_POLICY = "default"


@dataclass(frozen=True, slots=True)
class _Target:
    key: str
    pack: PolicyPack | None  # None: the pack of the source's latest release


def _pack_for(store: Store, key: str, chosen: str | None) -> PolicyPack:
    """*chosen*, else the policy of *key*'s latest release, else the default pack."""
    if chosen is not None:
        return load_policy(chosen, store=store)
    with store.session() as s:
        latest = s.scalar(
            select(ReleaseRow.policy)
            .where(ReleaseRow.source_key == key)
            .order_by(ReleaseRow.created_at.desc())
            .limit(1)
        )
    try:
        return load_policy(latest or _DEFAULT_POLICY, store=store)
    except SynthgateError:  # a pack that is gone since
        return load_policy(_DEFAULT_POLICY)


def _from_spec(store: Store, path: Path, policy: str | None) -> _Target:
    loaded = resolve_named_source(load_job_spec(path), store)
    spec = loaded.spec
    pack = load_policy(policy or spec.release.policy, store=store)
    return _Target(source_key(spec.source.url, spec.source.table), pack)


def _known(ledger: BudgetLedger, store: Store, key: str) -> bool:
    return key in ledger.sources() or bool(registered_for(store, key))


def _check_exists(url: str, table: str) -> None:
    """A source nobody has spent on must exist: no figures for a typo."""
    source = open_source(url)
    try:
        source.schema(table)
    finally:
        source.close()


def _from_url(store: Store, ledger: BudgetLedger, spelled: str, table: str | None) -> str:
    url, sep, hashed = spelled.rpartition("#")
    if not sep or table is not None:
        url, hashed = spelled, table or ""
    if not hashed:
        if "://" in url and not url.startswith("file://"):
            raise ConfigError(
                f"which table of {spelled!r}?",
                hint="give --table T (or URL#T), a registered source name, or a job spec",
            )
        hashed = Path(url).stem
    key = source_key(url, hashed)
    if not _known(ledger, store, key):
        _check_exists(url, hashed)
    return key


def _resolve(
    store: Store, ledger: BudgetLedger, source: str, table: str | None, policy: str | None
) -> _Target:
    """A job spec, a registered name, a key as listed, or any spelling of a URL → its key."""
    if source.endswith((".yaml", ".yml")) and Path(source).is_file():
        return _from_spec(store, Path(source), policy)
    pack = load_policy(policy, store=store) if policy is not None else None
    registered = find_source(store, source) if table is None else None
    if registered is not None:
        return _Target(registered.key, pack)
    if table is None and _known(ledger, store, source):
        return _Target(source, pack)  # a key exactly as `budget list` prints it
    if "://" not in source and not Path(source).exists():
        raise ConfigError(
            f"{source!r} is no job spec, registered source, ledger key or existing file",
            hint="see: synthgate budget list, synthgate sources list",
        )
    return _Target(_from_url(store, ledger, source, table), pack)


def _eps(value: float) -> float | None:
    """JSON has no infinity: a masked copy's ε is null, marked by its stage."""
    return None if math.isinf(value) else value


def _entry(e: BudgetEntry) -> dict[str, Any]:
    return {
        "run": e.run_id,
        "stage": e.stage,
        "mechanism": e.mechanism,
        "epsilon": _eps(e.epsilon),
        "delta": e.delta,
        "masked_copy": e.stage == MASKED_COPY,
        "reserved": e.stage == RESERVED,
        "at": e.created_at,
    }


def _figures(
    status: BudgetStatus, limits: BudgetLimits, names: list[RegisteredSource]
) -> dict[str, Any]:
    return {
        "source": status.source_key,
        "names": [r.name for r in names],
        "limits_from": limits.origin,
        "limit_epsilon": limits.epsilon,
        "limit_delta": limits.delta,
        "spent_epsilon": status.spent_epsilon,
        "spent_delta": status.spent_delta,
        "reserved_epsilon": status.reserved_epsilon,
        "reserved_delta": status.reserved_delta,
        "remaining_epsilon": status.remaining,
        "remaining_delta": status.remaining_delta,
        "runs": status.runs,
        "running": status.reservations,
        "masked_copies": status.masked_copies,
        "no_runs_yet": status.empty,
    }


def _line(e: BudgetEntry) -> str | None:
    at = f"  {e.created_at[:19]}  {e.run_id}"
    if e.stage == TOTAL:
        return f"{at}  ε = {e.epsilon:.4g}  δ = {e.delta:.2g}  ({e.mechanism})"
    if e.stage == RESERVED:
        return f"{at}  ε = {e.epsilon:.4g}  δ = {e.delta:.2g}  reserved: the run is under way"
    if e.stage == MASKED_COPY:
        return f"{at}  ε = ∞  masked copy of the real rows: not differentially private"
    return None  # the per-stage split: see --json


def _print_show(data: dict[str, Any], entries: list[BudgetEntry]) -> None:
    out.print(f"source     {escape(data['source'])}")
    if data["names"]:
        out.print(f"names      {', '.join(data['names'])}")
    if data["no_runs_yet"]:
        out.print("spent      no runs yet")
    else:
        out.print(
            f"spent      ε = {data['spent_epsilon']:.4g} over {data['runs']} run(s)   "
            f"δ = {data['spent_delta']:.2g}"
        )
    if data["running"]:
        out.print(
            f"reserved   ε = {data['reserved_epsilon']:.4g}   δ = {data['reserved_delta']:.2g}   "
            f"by {data['running']} running job(s)"
        )
    out.print(
        f"limit      ε = {data['limit_epsilon']:.4g}   remaining ε = "
        f"{data['remaining_epsilon']:.4g}   (from {escape(data['limits_from'])})"
    )
    out.print(
        f"           δ = {data['limit_delta']:.2g}   remaining δ = {data['remaining_delta']:.2g}"
    )
    if data["masked_copies"]:
        out.print(
            f"masked     {data['masked_copies']} masked cop{'y' if data['masked_copies'] == 1 else 'ies'}"
            " (ε = ∞): real rows, not differentially private"
        )
    for e in entries:
        text = _line(e)
        if text is not None:
            out.print(escape(text))


@app.command("show")
def show(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A job spec (YAML), a registered source name, a source key as listed by "
            "'budget list', or any spelling of the source's URL (with --table, or URL#table; "
            "a file's table is its name).",
            show_default=False,
        ),
    ],
    table: Annotated[str | None, typer.Option(help="The table, when SOURCE is a URL.")] = None,
    policy: PolicyOpt = None,
    json_out: JsonOut = False,
) -> None:
    """ε and δ spent on one source table, per run, against its limits: the one canonical
    key whatever the spelling, with every name it is registered under."""
    store = Store(settings(ctx).store_url)
    ledger = BudgetLedger(store)
    target = _resolve(store, ledger, source, table, policy)
    pack = target.pack or _pack_for(store, target.key, None)
    limits = source_limits(store, target.key, pack)
    status = ledger.status(target.key, limit=limits.epsilon, delta_limit=limits.delta)
    entries = ledger.entries(target.key)
    data = _figures(status, limits, registered_for(store, target.key))
    if json_out:
        print_json({**data, "entries": [_entry(e) for e in entries]})
        return
    _print_show(data, entries)


@app.command("list")
def list_sources(ctx: typer.Context, policy: PolicyOpt = None, json_out: JsonOut = False) -> None:
    """Every source table that has spent, reserved or copied, or is registered, with its
    figures (limits under --policy, else its latest release's policy, else default; a
    registration lowers them)."""
    store = Store(settings(ctx).store_url)
    ledger = BudgetLedger(store)
    keys = sorted({*ledger.sources(), *(r.key for r in registered_sources(store))})
    rows = []
    for key in keys:
        limits = source_limits(store, key, _pack_for(store, key, policy))
        status = ledger.status(key, limit=limits.epsilon, delta_limit=limits.delta)
        rows.append(_figures(status, limits, registered_for(store, key)))
    if json_out:
        print_json(rows)
        return
    if not rows:
        out.print("no privacy budget spent yet")
    for row in rows:
        names = f"  ({', '.join(row['names'])})" if row["names"] else ""
        masked = (
            f"  · {row['masked_copies']} masked copy(ies), ε = ∞" if row["masked_copies"] else ""
        )
        running = f"  · ε {row['reserved_epsilon']:.4g} reserved" if row["running"] else ""
        out.print(
            escape(
                f"{row['source']}{names}\n  ε {row['spent_epsilon']:.4g} of "
                f"{row['limit_epsilon']:.4g} over {row['runs']} run(s){running}  · "
                f"δ {row['spent_delta']:.2g} of {row['limit_delta']:.2g}{masked}"
            )
        )
