"""Policy packs, the release gate and the release lifecycle."""

from synthgate.release._lifecycle import TRANSITIONS, ReleaseStatus, check_transition
from synthgate.release._policy import (
    Comparator,
    GateDecision,
    PolicyPack,
    Rule,
    evaluate_gate,
    load_policy,
)

__all__ = [
    "TRANSITIONS",
    "Comparator",
    "GateDecision",
    "PolicyPack",
    "ReleaseStatus",
    "Rule",
    "check_transition",
    "evaluate_gate",
    "load_policy",
]
