"""Sources registered under a name, with their own budget limits.

An admin or an approver registers a source table (``synthgate sources add``); a
job may then name it (``source: {name: crm-customers}``). Every name of one
table and every spelling of its URL share the table's one ledger, because the
ledger is keyed by the table's canonical identity, not by the name. A
registered limit lowers the policy pack's ``epsilon_per_source`` /
``delta_per_source``; only an admin's registration may raise it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from synthgate.audit import AuditLog
from synthgate.config import LoadedSpec, with_registered_source
from synthgate.errors import ConfigError, PermissionDenied, redact
from synthgate.privacy._budget import BudgetLimits
from synthgate.release import Actor, PolicyPack, Role
from synthgate.store import Store, utcnow
from synthgate.store.models import SourceRow

__all__ = [
    "RegisteredSource",
    "check_registration",
    "find_source",
    "may_register",
    "register_source",
    "registered_for",
    "registered_sources",
    "resolve_named_source",
    "source_limits",
]

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_REGISTRARS = (Role.ADMIN, Role.APPROVER)
# user:password@ where the password is not a ${VAR} reference
_LITERAL_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:(?!\$\{)[^@\s]+@")


@dataclass(frozen=True, slots=True)
class RegisteredSource:
    """A source table registered under a name, with its own budget limits."""

    name: str
    key: str
    url: str  # as registered: never a literal password (``${VAR}`` references allowed)
    table: str
    epsilon_limit: float
    delta_limit: float | None
    registered_by: str
    registered_role: str | None  # the registrant's role; only an admin may raise a limit
    registered_at: str

    @classmethod
    def of(cls, row: SourceRow) -> RegisteredSource:
        return cls(
            row.name,
            row.source_key,
            row.url,
            row.table_name,
            row.epsilon_limit,
            row.delta_limit,
            row.registered_by,
            row.registered_role,
            row.registered_at,
        )

    @property
    def by_admin(self) -> bool:
        return self.registered_role == Role.ADMIN.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.key,
            "url": redact(self.url),
            "table": self.table,
            "epsilon_limit": self.epsilon_limit,
            "delta_limit": self.delta_limit,
            "registered_by": self.registered_by,
            "registered_role": self.registered_role,
            "registered_at": self.registered_at,
        }


def may_register(actor: Actor) -> None:
    """Raise PermissionDenied unless *actor* may register sources (admin or approver)."""
    if actor.bootstrap or actor.role in _REGISTRARS:
        return
    role = actor.role.value if actor.role else "no role"
    raise PermissionDenied(
        f"user {actor.name!r} (role {role}) may not register sources",
        hint="roles that may: " + ", ".join(r.value for r in _REGISTRARS),
    )


def check_registration(name: str, url: str, epsilon: float, delta: float | None) -> None:
    """Raise ConfigError for a name, URL (a literal password) or limit not allowed."""
    if not _SOURCE_NAME.match(name):
        raise ConfigError(
            f"source name {name!r} is not allowed",
            hint="use lower-case letters, digits and . _ - (up to 64 characters), starting "
            "with a letter or digit",
        )
    if _LITERAL_PASSWORD.match(url):
        raise ConfigError(
            "a registered source URL may not hold a password",
            hint="write it as an environment reference, e.g. "
            "'postgresql://app:${PG_PASSWORD}@db/crm', or give the job's source.password_file",
        )
    if not 0 < epsilon <= 1000:
        raise ConfigError(f"--epsilon-limit must be > 0 and at most 1000, got {epsilon}")
    if delta is not None and not 0 < delta < 1:
        raise ConfigError(f"--delta-limit must be between 0 and 1, got {delta}")


def register_source(
    store: Store,
    actor: Actor,
    name: str,
    url: str,
    table: str,
    *,
    key: str,
    epsilon_limit: float,
    delta_limit: float | None = None,
) -> RegisteredSource:
    """Register *table* at *url* as *name* with its limits (admin or approver; audited).

    *key* is the table's canonical key, computed by the caller from the URL with its
    ``${VAR}`` references filled in. A name is registered once."""
    may_register(actor)
    check_registration(name, url, epsilon_limit, delta_limit)
    row = SourceRow(
        name=name,
        source_key=key,
        url=url,
        table_name=table,
        epsilon_limit=epsilon_limit,
        delta_limit=delta_limit,
        registered_by=actor.name,
        registered_role=actor.role.value if actor.role else None,
        registered_at=utcnow(),
    )
    registered = RegisteredSource.of(row)
    with store.session() as s:
        if s.get(SourceRow, name) is not None:
            raise ConfigError(
                f"source {name!r} is registered already",
                hint=f"see it with: synthgate sources show {name}",
            )
        s.add(row)
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="source.registered",
            subject=name,
            details={
                "source": key,
                "table": table,
                "epsilon_limit": epsilon_limit,
                "delta_limit": delta_limit,
                **actor.audit_details(),
            },
        )
    return registered


def registered_sources(store: Store) -> list[RegisteredSource]:
    with store.session() as s:
        return [
            RegisteredSource.of(r) for r in s.scalars(select(SourceRow).order_by(SourceRow.name))
        ]


def find_source(store: Store, name: str) -> RegisteredSource | None:
    with store.session() as s:
        row = s.get(SourceRow, name)
        return RegisteredSource.of(row) if row is not None else None


def registered_for(store: Store, key: str) -> list[RegisteredSource]:
    """Every name *key* is registered under (its aliases: they share its one ledger)."""
    with store.session() as s:
        rows = s.scalars(
            select(SourceRow).where(SourceRow.source_key == key).order_by(SourceRow.name)
        )
        return [RegisteredSource.of(r) for r in rows]


def _bounded(pack_limit: float, registered: float | None, by_admin: bool) -> float:
    if registered is None:
        return pack_limit
    return registered if by_admin else min(pack_limit, registered)


def source_limits(store: Store, key: str, pack: PolicyPack) -> BudgetLimits:
    """The limits of *key* under *pack*: the pack's, lowered by each registration of the
    source (an admin's registration replaces the pack's limit, upward too); with
    several names the lowest wins."""
    epsilon = pack.budget.epsilon_per_source
    delta = pack.budget.delta_limit
    regs = registered_for(store, key)
    if not regs:
        return BudgetLimits(epsilon, delta, f"policy {pack.name}")
    return BudgetLimits(
        min(_bounded(epsilon, r.epsilon_limit, r.by_admin) for r in regs),
        min(_bounded(delta, r.delta_limit, r.by_admin) for r in regs),
        "registered source " + ", ".join(r.name for r in regs) + f" under policy {pack.name}",
    )


def resolve_named_source(loaded: LoadedSpec, store: Store) -> LoadedSpec:
    """*loaded* with a ``source: {name: …}`` filled in from the registry (unchanged
    when the spec spells out its URL and table)."""
    spec = loaded.spec
    if spec.source.name is None or spec.source.url:
        return loaded
    registered = find_source(store, spec.source.name)
    if registered is None:
        raise ConfigError(
            f"source.name: no source named {spec.source.name!r} is registered",
            hint="list them with: synthgate sources list",
        )
    filled = with_registered_source(spec, registered.url, registered.table)
    return LoadedSpec(spec=filled, path=loaded.path, spec_hash=loaded.spec_hash)
