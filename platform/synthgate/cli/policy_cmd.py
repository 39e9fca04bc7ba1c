"""``synthgate policy``: list, show, register and lint policy packs; list the metrics rules
can read."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthgate.cli._auth import current_actor
from synthgate.cli._common import EXIT_ERROR, Column, err, out, print_json, print_table, settings
from synthgate.release import (
    INSTALLED,
    LintSeverity,
    ResolvedPolicy,
    installed_names,
    is_pack_path,
    known_metrics,
    lint_policy,
    list_packs,
    pack_versions,
    policy_path,
    register_policy,
    resolve_policy,
)
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(
    help="Show, register and check policy packs. A job may use installed packs and packs an "
    "admin or approver registered.",
    no_args_is_help=True,
)

Pack = Annotated[
    str,
    typer.Argument(
        help="An installed or registered pack's name, or a registered pack file.",
        show_default=False,
    ),
]
LintPack = Annotated[
    str,
    typer.Argument(
        help="A pack file (registered or not) or an installed pack's name.", show_default=False
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _store(ctx: typer.Context) -> Store:
    return Store(settings(ctx).store_url)


def _summary(resolved: ResolvedPolicy) -> dict[str, object]:
    pack = resolved.pack
    return {
        "name": pack.name,
        "kind": resolved.kind,
        "version": resolved.version,
        "registered_by": resolved.registered_by,
        "description": pack.description,
        "file": pack.source,
        "sha256": resolved.sha256,
        "content_sha256": pack.content_hash,
        "required_approvals": pack.required_approvals,
        "auto_approve": pack.auto_approve,
        "pii": pack.pii.model_dump(mode="json"),
        "budget": pack.budget.model_dump(mode="json"),
        "rules": [r.model_dump(mode="json") for r in pack.rules],
    }


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """The installed packs and the registered ones (latest version), with their sha256."""
    packs = list_packs(_store(ctx))
    if json_out:
        print_json([p.to_dict() for p in packs])
        return
    rows = [
        [
            p.name,
            p.kind,
            "" if p.version is None else f"v{p.version}",
            p.sha256[:12],
            p.registered_by or "",
            (p.registered_at or "")[:16].replace("T", " "),
        ]
        for p in packs
    ]
    print_table(
        [
            Column("NAME"),
            Column("KIND"),
            Column("VERSION"),
            Column("SHA256"),
            Column("REGISTERED BY"),
            Column("AT (UTC)"),
        ],
        rows,
    )


@app.command("register")
def register(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The pack's YAML file.", show_default=False)],
    name: Annotated[
        str | None,
        typer.Option("--name", help="The name jobs use (default: the pack's name: field)."),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Register a pack file so that jobs may use it (admin or approver).

    The file's content and sha256 are stored as a new version of the pack and the
    registration is audited (policy.registered). Identical content is registered once;
    a changed file is a new version. A job names the pack (release.policy: NAME) or
    gives a file whose sha256 is that of a registered version.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    done = register_policy(store, current_actor(cfg, store), file, name=name)
    if json_out:
        print_json(done.to_dict())
        return
    if not done.created:
        out.print(
            f"{done.name} v{done.version} already has this content (sha256 {done.sha256[:12]}…); "
            "nothing changed",
            markup=False,
        )
        return
    was = "" if done.previous_version is None else f" (was v{done.previous_version})"
    out.print(
        f"registered {done.name} v{done.version}{was}, sha256 {done.sha256[:12]}…", markup=False
    )
    err.print(f"jobs may use it as: release.policy: {done.name}", markup=False)


def _resolve(ctx: typer.Context, pack: str) -> ResolvedPolicy:
    """An installed pack needs no store; a registered name or a pack file does."""
    if not is_pack_path(pack) and pack in installed_names():
        return resolve_policy(pack, None)
    return resolve_policy(pack, _store(ctx))


@app.command("show")
def show(ctx: typer.Context, pack: Pack, json_out: JsonOut = False) -> None:
    """Show a pack: approvals, PII actions, budget and every rule with its explanation."""
    resolved = _resolve(ctx, pack)
    loaded = resolved.pack
    data = _summary(resolved)
    if json_out:
        if resolved.kind != INSTALLED:
            data["versions"] = [v.to_dict() for v in pack_versions(_store(ctx), loaded.name)]
        print_json(data)
        return
    out.print(f"policy     {resolved.label}  (sha256 {resolved.sha256[:16]}…)", markup=False)
    if resolved.kind == INSTALLED:
        out.print(f"file       {loaded.source}  (installed)", markup=False)
    else:
        versions = pack_versions(_store(ctx), loaded.name)
        info = next(v for v in versions if v.version == resolved.version)
        at = (info.registered_at or "")[:16].replace("T", " ")
        out.print(f"file       {info.file}", markup=False)
        out.print(
            f"registered by {info.registered_by} at {at} UTC (version {info.version} of "
            f"{len(versions)})",
            markup=False,
        )
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
    pack: LintPack,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    json_out: JsonOut = False,
) -> None:
    """Check a pack file, registered or not: schema, unknown metrics, bad comparators and
    thresholds, contradictory or duplicate rules — each with its line number. Exits 1 when
    it finds errors."""
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
