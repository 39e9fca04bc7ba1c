from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthgate.cli._common import out, print_json, settings
from synthgate.config import load_job_spec
from synthgate.privacy import BudgetLedger
from synthgate.release import load_policy
from synthgate.sources import source_key
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(help="Privacy budget spent per source table.", no_args_is_help=True)


def _resolve(source: str, policy: str | None) -> tuple[str, float]:
    """A job spec path → its source key and its policy's limit; else a key as given."""
    path = Path(source)
    if source.endswith((".yaml", ".yml")) and path.exists():
        spec = load_job_spec(path).spec
        pack = load_policy(policy or spec.release.policy)
        return source_key(spec.source.url, spec.source.table), pack.budget.epsilon_per_source
    return source, load_policy(policy or "default").budget.epsilon_per_source


@app.command("show")
def show(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="A job spec (YAML) or a source key as listed by 'budget list'.")
    ],
    policy: Annotated[str | None, typer.Option(help="Policy whose limit applies.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """ε spent on one source table, per run and per stage, against its limit."""
    key, limit = _resolve(source, policy)
    ledger = BudgetLedger(Store(settings(ctx).store_url))
    status = ledger.status(key, limit=limit)
    entries = ledger.entries(key)
    if json_out:
        print_json(
            {
                "source": key,
                "limit_epsilon": limit,
                "spent_epsilon": status.spent_epsilon,
                "remaining_epsilon": status.remaining,
                "runs": status.runs,
                "entries": [
                    {
                        "run": e.run_id,
                        "stage": e.stage,
                        "mechanism": e.mechanism,
                        "epsilon": e.epsilon,
                        "delta": e.delta,
                        "at": e.created_at,
                    }
                    for e in entries
                ],
            }
        )
        return
    out.print(f"source     {key}")
    out.print(f"spent      ε = {status.spent_epsilon:.4g} over {status.runs} run(s)")
    out.print(f"limit      ε = {limit:.4g}   remaining ε = {status.remaining:.4g}")
    for e in entries:
        if e.stage == "total":
            out.print(
                f"  {e.created_at[:19]}  {e.run_id}  ε = {e.epsilon:.4g}  δ = {e.delta:.2g}  ({e.mechanism})"
            )


@app.command("list")
def list_sources(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every source table that has spent privacy budget."""
    ledger = BudgetLedger(Store(settings(ctx).store_url))
    keys = ledger.sources()
    if json_out:
        print_json(keys)
        return
    if not keys:
        out.print("no privacy budget spent yet")
    for key in keys:
        out.print(key)
