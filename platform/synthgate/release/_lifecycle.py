"""The release state machine: the states and the one table of allowed moves.

```
            gate ──▶ BLOCKED (final)
              │
              ▼
     AWAITING_APPROVAL ──reject──▶ REJECTED (final)
              │ approve (N distinct approvers, never the requester)
              ▼
          APPROVED ──publish──▶ PUBLISHED
              │                     │
   expire / revoke from AWAITING_APPROVAL, APPROVED and PUBLISHED
              ▼                     ▼
         EXPIRED (final)      REVOKED (final)
```
"""

from __future__ import annotations

import enum

from synthgate.errors import ReleaseStateError

__all__ = ["FINAL_STATES", "TRANSITIONS", "ReleaseStatus", "check_transition"]


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
    # a published table past its expiry date is marked EXPIRED: consumers must stop using it
    S.PUBLISHED: frozenset({S.EXPIRED, S.REVOKED}),
    S.EXPIRED: frozenset(),
    S.REVOKED: frozenset(),
}
FINAL_STATES = frozenset(state for state, moves in TRANSITIONS.items() if not moves)

_HINTS: dict[ReleaseStatus, str] = {
    S.BLOCKED: "a blocked release is final; fix what the gate reported and run the job again",
    S.AWAITING_APPROVAL: "it needs approval first: synthgate approve ID --comment …",
    S.APPROVED: "it is approved; publish it with: synthgate publish ID",
    S.REJECTED: "a rejected release is final; run the job again for a new release",
    S.PUBLISHED: "it was already published; nothing is written twice",
    S.EXPIRED: "an expired release is final; run the job again for a new release",
    S.REVOKED: "a revoked release is final; run the job again for a new release",
}


def check_transition(current: ReleaseStatus, new: ReleaseStatus, *, release_id: str = "") -> None:
    """Raise :class:`ReleaseStateError` naming the current state if not allowed."""
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        name = f"release {release_id}" if release_id else "release"
        hint = _HINTS[current].replace("ID", release_id or "ID")
        raise ReleaseStateError(
            f"{name} is {current.value}; it cannot become {new.value} "
            f"(allowed from {current.value}: {allowed})",
            hint=hint,
        )
