"""Metrics computed before a release: fidelity and first privacy checks."""

from synthgate.validate._metrics import (
    ValidationInput,
    exact_matches,
    fidelity_quality,
    flatten,
    run_validation,
)

__all__ = ["ValidationInput", "exact_matches", "fidelity_quality", "flatten", "run_validation"]
