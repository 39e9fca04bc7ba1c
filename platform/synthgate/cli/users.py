"""``synthgate users``: add, list and disable users; rotate API tokens; set console passwords."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from synthgate import release as svc
from synthgate.cli._auth import current_actor
from synthgate.cli._common import Column, err, out, print_json, print_table, settings
from synthgate.errors import ConfigError
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Users, roles and API tokens (admin only). While the store has no users it is in "
        "bootstrap mode: SYNTHGATE_USER is taken at its word. The first user, who must be an "
        "admin, ends bootstrap mode; from then on SYNTHGATE_USER and SYNTHGATE_TOKEN are checked."
    ),
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="User name.", show_default=False)]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _show_token(name: str, token: str) -> None:
    out.print(f"token for {name}: {token}", markup=False)
    err.print("it is shown once and stored only as a hash; give it to the user as SYNTHGATE_TOKEN")


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    role: Annotated[svc.Role, typer.Option(help="engineer, approver, auditor or admin.")],
    json_out: JsonOut = False,
) -> None:
    """Add a user and print their API token once. The first user must be an admin."""
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    info, token = svc.add_user(store, current_actor(cfg, store), name, role)
    if json_out:
        print_json({**info.to_dict(), "token": token})
        return
    out.print(f"added {info.name} ({info.role.value})", markup=False)
    _show_token(info.name, token)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """List users and their roles."""
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    users = svc.list_users(store, current_actor(cfg, store))
    if json_out:
        print_json([u.to_dict() for u in users])
        return
    if not users:
        out.print("no users: the store is in bootstrap mode; add the first admin with:")
        out.print("  synthgate users add NAME --role admin")
        return
    print_table(
        [Column(h) for h in ("user", "role", "active", "created", "by")],
        [
            (u.name, u.role.value, "yes" if u.active else "no", u.created_at[:19], u.created_by)
            for u in users
        ],
    )


@app.command("disable")
def disable(ctx: typer.Context, name: Name, json_out: JsonOut = False) -> None:
    """Disable a user; their token stops working at once."""
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    info = svc.disable_user(store, current_actor(cfg, store), name)
    if json_out:
        print_json(info.to_dict())
        return
    out.print(f"disabled {info.name}", markup=False)


@app.command("token")
def token(ctx: typer.Context, name: Name, json_out: JsonOut = False) -> None:
    """Give a user a new API token (admins, or users for themselves); the old one stops working."""
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    new = svc.rotate_token(store, current_actor(cfg, store), name)
    if json_out:
        print_json({"name": name, "token": new})
        return
    _show_token(name, new)


def _read_password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigError(
            "no terminal to prompt for the password on",
            hint=f"pipe it in with: synthgate users passwd {name} --password-stdin",
        )
    first = typer.prompt(f"new console password for {name}", hide_input=True, err=True)
    second = typer.prompt("repeat it", hide_input=True, err=True)
    if first != second:
        raise ConfigError("the two passwords differ; nothing was changed")
    return str(first)


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: Name,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
) -> None:
    """Set a user's web console password (admins, or users for themselves).

    The password is prompted for on the terminal, or read from standard input
    with --password-stdin; never from the command line. Only an argon2 hash is
    stored, and the user's open console sessions end.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    actor = current_actor(cfg, store)
    password = _read_password(name, password_stdin)
    svc.set_password(store, actor, name, password)
    out.print(f"console password set for {name}", markup=False)


@app.command("whoami")
def whoami(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Show who SYNTHGATE_USER / SYNTHGATE_TOKEN identify (or that the store is in bootstrap mode)."""
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    actor = current_actor(cfg, store)
    data = {
        "name": actor.name,
        "role": actor.role.value if actor.role else None,
        "authenticated": actor.authenticated,
        "bootstrap": actor.bootstrap,
    }
    if json_out:
        print_json(data)
    elif actor.bootstrap:
        out.print(
            f"{actor.name} (bootstrap mode: no users yet, identities are not checked)", markup=False
        )
    else:
        out.print(f"{actor.name} ({data['role']})", markup=False)
