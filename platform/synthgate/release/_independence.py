"""Four-eyes by person: an approver must not be an account the requester set up.

Four-eyes by name stops ``alice`` from approving ``alice``'s release, but an
admin who requests a release can create another account (or give an existing
one a new token or console password), sign in as it and approve. So an
approval is refused when the approver's account was *set up* by the requester
within the release pack's ``approver_independence_days`` (default
:data:`DEFAULT_INDEPENDENCE_DAYS`): created by them, or given a token or a
password by them, directly or through accounts they set up in that window
(alice creates admin ``a2``, ``a2`` creates approver ``b``: ``b`` may not
approve alice's release).

The facts come from the audit log (``user.added``, ``user.token_rotated``,
``user.password_set``), which is hash-chained: changing who set up whom breaks
the chain. Steps taken in bootstrap mode, when identities were not checked,
are not links.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthgate.errors import ConfigError, PermissionDenied
from synthgate.release._policy import DEFAULT_INDEPENDENCE_DAYS, parse_policy
from synthgate.store.models import AuditEvent, PolicyRecord, PolicyVersionRow, ReleaseRow

__all__ = [
    "SET_UP_ACTIONS",
    "SetUp",
    "check_independent",
    "independence_days",
    "registrant_link",
    "set_up_chain",
]

SET_UP_ACTIONS = ("user.added", "user.token_rotated", "user.password_set")
_VERBS = {
    "user.added": "created",
    "user.token_rotated": "given a new API token",
    "user.password_set": "given a console password",
}
_MAX_HOPS = 8


@dataclass(frozen=True, slots=True)
class SetUp:
    """*by* created *account*, or set its token or password, at *at*."""

    account: str
    by: str
    action: str
    at: str

    def describe(self) -> str:
        return f"{self.account}'s account was {_VERBS[self.action]} by {self.by} on {self.at[:10]}"


def _registered_days(s: Session, policy: str, version: int) -> int | None:
    row = s.scalar(
        select(PolicyVersionRow).where(
            PolicyVersionRow.name == policy, PolicyVersionRow.version == version
        )
    )
    if row is None:
        return None
    try:
        pack = parse_policy(row.content.encode("utf-8"), origin=f"pack {policy}", source="")
    except ConfigError:
        return None
    return pack.independence_days


def independence_days(s: Session, policy: str, version: int | None = None) -> int:
    """The window of the pack *policy*: of its registered *version* when the release
    names one (a later version does not change it), else as its runs recorded it
    (audited), else the default."""
    if version is not None:
        days = _registered_days(s, policy, version)
        if days is not None:
            return days
    record = s.get(PolicyRecord, policy)
    if record is not None:
        try:
            value = json.loads(record.content).get("approver_independence_days")
        except (ValueError, AttributeError):
            value = None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return DEFAULT_INDEPENDENCE_DAYS


def _checked_identity(details: str) -> bool:
    try:
        parsed = json.loads(details)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("authenticated") is True


def _set_ups(s: Session, account: str, since: str) -> Iterator[SetUp]:
    rows = s.execute(
        select(AuditEvent.actor, AuditEvent.action, AuditEvent.ts, AuditEvent.details)
        .where(
            AuditEvent.subject == account,
            AuditEvent.action.in_(SET_UP_ACTIONS),
            AuditEvent.ts >= since,
            AuditEvent.actor != account,
        )
        .order_by(AuditEvent.seq)
    )
    for actor, action, ts, details in rows:
        if _checked_identity(details):
            yield SetUp(account, actor, action, ts)


def set_up_chain(s: Session, approver: str, requester: str, *, since: str) -> list[SetUp] | None:
    """How *requester* set up *approver*'s account since *since*, step by step; None if not."""
    frontier: list[tuple[str, list[SetUp]]] = [(approver, [])]
    seen = {approver}
    for _ in range(_MAX_HOPS):
        following: list[tuple[str, list[SetUp]]] = []
        for account, path in frontier:
            for step in _set_ups(s, account, since):
                chain = [*path, step]
                if step.by == requester:
                    return chain
                if step.by not in seen:
                    seen.add(step.by)
                    following.append((step.by, chain))
        if not following:
            return None
        frontier = following
    return None


def _days_before(now: str, days: int) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_independent(s: Session, approver: str, release: ReleaseRow, *, now: str) -> None:
    """Refuse (:class:`PermissionDenied`) an approver whose account the requester set up."""
    requester = release.requested_by
    days = independence_days(s, release.policy, release.policy_version)
    chain = set_up_chain(s, approver, requester, since=_days_before(now, days))
    if chain is None:
        return
    how = "; ".join(step.describe() for step in chain)
    raise PermissionDenied(
        f"{approver} may not approve release {release.id} of {requester}: {how} "
        f"(four-eyes by person: for {days} days an account its requester set up may not "
        "approve their releases)",
        hint=f"ask an approver whose account {requester} did not set up",
    )


def registrant_link(s: Session, registrant: str, release: ReleaseRow, *, now: str) -> str | None:
    """Why the person who registered *release*'s pack cannot stand in for an approver of
    it (the pack's ``auto_approve``), or None when they can.

    The registrant takes an approver's responsibility for an automatically approved
    release, so the same rules hold: not the requester, and not an account the
    requester set up within the pack's window.
    """
    requester = release.requested_by
    if registrant == requester:
        return f"{requester} registered pack {release.policy} and requested the release"
    days = independence_days(s, release.policy, release.policy_version)
    chain = set_up_chain(s, registrant, requester, since=_days_before(now, days))
    if chain is None:
        return None
    how = "; ".join(step.describe() for step in chain)
    return f"pack {release.policy} was registered by {registrant}: {how}"
