"""Validation before any release: fidelity, structural validity, utility, bias, privacy
and data quality.

Metrics live in a registry (:func:`default_registry`); each declares its area,
goal, bounds, a one-sentence explanation, what good looks like and advisory
levels. :func:`validate_all` runs them on a :class:`ValidationInput` and returns
the results, the flat ``area.metric`` map policy rules read, and the report's
``validation`` part. Nothing computed here carries a real value: distributions
and groups are cells of at least ``K_MIN`` real rows.
"""

from synthgate.validate._binning import Binning, build_binning, distribution
from synthgate.validate._constraints import RowConstraint
from synthgate.validate._context import (
    K_MIN,
    ValidationContext,
    ValidationInput,
    ValidationOptions,
)
from synthgate.validate._metrics import (
    FLAT_ONLY,
    MULTI_TABLE,
    ValidationOutcome,
    default_registry,
    exact_matches,
    fidelity_quality,
    flatten,
    known_metric_names,
    run_validation,
    validate_all,
)
from synthgate.validate._quality import known_expectation
from synthgate.validate._registry import (
    Area,
    Measurement,
    MetricDef,
    MetricKind,
    MetricRegistry,
    Reference,
    RefOp,
    Verdict,
)

__all__ = [
    "FLAT_ONLY",
    "K_MIN",
    "MULTI_TABLE",
    "Area",
    "Binning",
    "Measurement",
    "MetricDef",
    "MetricKind",
    "MetricRegistry",
    "RefOp",
    "Reference",
    "RowConstraint",
    "ValidationContext",
    "ValidationInput",
    "ValidationOptions",
    "ValidationOutcome",
    "Verdict",
    "build_binning",
    "default_registry",
    "distribution",
    "exact_matches",
    "fidelity_quality",
    "flatten",
    "known_expectation",
    "known_metric_names",
    "run_validation",
    "validate_all",
]
