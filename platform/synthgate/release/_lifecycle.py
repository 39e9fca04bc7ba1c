from __future__ import annotations

import enum

from synthgate.errors import ReleaseStateError

__all__ = ["TRANSITIONS", "ReleaseStatus", "check_transition"]


class ReleaseStatus(enum.StrEnum):
    BLOCKED = "BLOCKED"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    PUBLISHED = "PUBLISHED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


S = ReleaseStatus
TRANSITIONS: dict[ReleaseStatus, frozenset[ReleaseStatus]] = {
    S.BLOCKED: frozenset(),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.REVOKED}),
    S.APPROVED: frozenset({S.PUBLISHED, S.EXPIRED, S.REVOKED}),
    S.REJECTED: frozenset(),
    S.PUBLISHED: frozenset({S.REVOKED}),
    S.EXPIRED: frozenset(),
    S.REVOKED: frozenset(),
}


def check_transition(current: ReleaseStatus, new: ReleaseStatus) -> None:
    """Raise :class:`ReleaseStateError` naming the current state if not allowed."""
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        raise ReleaseStateError(
            f"release is {current.value}; it cannot become {new.value} "
            f"(allowed from {current.value}: {allowed})"
        )
