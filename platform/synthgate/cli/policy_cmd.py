"""``synthgate policy``: list, show and lint policy packs; list the metrics rules can read."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.markup import escape

from synthgate.cli._common import EXIT_ERROR, out, print_json
from synthgate.plugins import PluginGroup, names
from synthgate.release import (
    LintSeverity,
    PolicyPack,
    known_metrics,
    lint_policy,
    load_policy,
    policy_path,
)

__all__ = ["app"]

app = typer.Typer(help="Show and check policy packs.", no_args_is_help=True)

Pack = Annotated[
    str, typer.Argument(help="A registered pack name (default) or a YAML file.", show_default=False)
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _summary(pack: PolicyPack) -> dict[str, object]:
    return {
        "name": pack.name,
        "description": pack.description,
        "file": pack.source,
        "sha256": pack.content_hash,
        "required_approvals": pack.required_approvals,
        "auto_approve": pack.auto_approve,
        "pii": pack.pii.model_dump(mode="json"),
        "budget": pack.budget.model_dump(mode="json"),
        "rules": [r.model_dump(mode="json") for r in pack.rules],
    }


@app.command("list")
def list_packs(json_out: JsonOut = False) -> None:
    """The registered packs."""
    packs = [load_policy(name) for name in names(PluginGroup.POLICIES)]
    if json_out:
        print_json(
            [{"name": p.name, "file": p.source, "description": p.description} for p in packs]
        )
        return
    for p in packs:
        auto = " · auto-approve" if p.auto_approve else ""
        out.print(
            f"{p.name:<18} {len(p.rules)} rules · {p.required_approvals} approval(s){auto}",
            markup=False,
        )


@app.command("show")
def show(pack: Pack, json_out: JsonOut = False) -> None:
    """Show a pack: approvals, PII actions, budget and every rule with its explanation."""
    loaded = load_policy(pack)
    data = _summary(loaded)
    if json_out:
        print_json(data)
        return
    out.print(f"policy     {loaded.name}  (sha256 {loaded.content_hash[:16]}…)", markup=False)
    out.print(f"file       {loaded.source}", markup=False)
    if loaded.description:
        out.print(f"about      {escape(loaded.description)}")
    approvals = f"{loaded.required_approvals} distinct approver(s), never the requester"
    if loaded.auto_approve:
        approvals = "automatic: a release that passes the gate is approved by the system"
    out.print(f"approval   {approvals}")
    pii = loaded.pii
    out.print(
        f"pii        direct identifiers: {pii.direct_identifier.value} · quasi-identifiers: "
        f"{pii.quasi_identifier.value} · free text: {pii.free_text.value}"
    )
    out.print(f"budget     ε ≤ {loaded.budget.epsilon_per_source:g} per source table")
    out.print(f"rules      {len(loaded.rules)}")
    for r in loaded.rules:
        mark = "[red]block[/]" if r.severity.value == "block" else "[yellow]warn [/]"
        rule = f"{r.id:<24} {r.metric} {r.op.value} {_value(r.threshold)}"
        out.print(f"  {mark}  {escape(rule)}")
        out.print(f"         {escape(r.explain)}", style="dim")


def _value(threshold: float | bool | str) -> str:
    if isinstance(threshold, bool):
        return str(threshold).lower()
    if isinstance(threshold, float):
        return f"{threshold:g}"
    return threshold


@app.command("lint")
def lint(
    pack: Pack,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    json_out: JsonOut = False,
) -> None:
    """Check a pack: schema, unknown metrics, bad comparators and thresholds, contradictory
    or duplicate rules — each with its line number. Exits 1 when it finds errors."""
    path = policy_path(pack)
    problems = lint_policy(path)
    errors = [p for p in problems if p.severity is LintSeverity.ERROR]
    failed = bool(errors) or (strict and bool(problems))
    if json_out:
        print_json(
            {"file": str(path), "ok": not failed, "problems": [p.to_dict() for p in problems]}
        )
    else:
        for p in problems:
            color = "red" if p.severity is LintSeverity.ERROR else "yellow"
            out.print(f"[{color}]{escape(p.format(str(path)))}[/]")
        warnings = len(problems) - len(errors)
        verdict = "[red]failed[/]" if failed else "[green]ok[/]"
        out.print(f"{escape(str(path))}: {verdict} ({len(errors)} error(s), {warnings} warning(s))")
    if failed:
        raise typer.Exit(EXIT_ERROR)


@app.command("metrics")
def metrics(json_out: JsonOut = False) -> None:
    """The metrics a rule may read."""
    if json_out:
        print_json(
            {
                name: {
                    "kind": info.kind.value,
                    "description": info.description,
                    "explanation": info.explanation,
                    "bounds": [str(b) if not math.isfinite(b) else b for b in info.bounds]
                    if info.bounds
                    else None,
                }
                for name, info in sorted(known_metrics().items())
            }
        )
        return
    width = max(len(name) for name in known_metrics())
    for name, info in sorted(known_metrics().items()):
        if info.bounds:
            lo, hi = info.bounds
            if math.isfinite(lo) and math.isfinite(hi):
                kind = f"number in [{lo:g}, {hi:g}]"
            elif math.isfinite(lo):
                kind = f"number ≥ {lo:g}"
            else:
                kind = f"number ≤ {hi:g}"
        else:
            kind = "true/false"
        out.print(f"{name:<{width}}  {kind:<18} {info.description}", markup=False)
