"""Who is at the keyboard: SYNTHGATE_USER plus SYNTHGATE_TOKEN, checked against the store."""

from __future__ import annotations

import click

from synthgate.release import Actor, authenticate, token_from_env
from synthgate.settings import Settings
from synthgate.store import Store

__all__ = ["current_actor", "current_store"]


def current_actor(cfg: Settings, store: Store) -> Actor:
    """The authenticated user; in bootstrap mode (no users yet) SYNTHGATE_USER as given."""
    return authenticate(store, cfg.user, token_from_env())


def current_store() -> Store:
    """The store of the running command: its ``--home``, else the environment's."""
    ctx = click.get_current_context(silent=True)
    home = (ctx.obj or {}).get("home") if ctx is not None else None
    return Store(Settings.from_env(home).store_url)
