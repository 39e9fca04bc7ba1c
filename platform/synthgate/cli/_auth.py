"""Who is at the keyboard: SYNTHGATE_USER plus SYNTHGATE_TOKEN, checked against the store."""

from __future__ import annotations

from synthgate.release import Actor, authenticate, token_from_env
from synthgate.settings import Settings
from synthgate.store import Store

__all__ = ["current_actor"]


def current_actor(cfg: Settings, store: Store) -> Actor:
    """The authenticated user; in bootstrap mode (no users yet) SYNTHGATE_USER as given."""
    return authenticate(store, cfg.user, token_from_env())
