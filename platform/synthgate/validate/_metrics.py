"""Running the registry: metric results, the flat map policies read, the report part."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from synthgate.contracts import MetricResult, PrivacySpent
from synthgate.validate import _bias, _fidelity, _privacy, _quality, _structural, _utility
from synthgate.validate._context import ValidationContext, ValidationInput
from synthgate.validate._fidelity import fidelity_quality
from synthgate.validate._privacy import ANONYMETER_NOTE, exact_matches
from synthgate.validate._registry import Area, MetricKind, MetricRegistry, Verdict

__all__ = [
    "FLAT_ONLY",
    "MULTI_TABLE",
    "ValidationOutcome",
    "default_registry",
    "exact_matches",
    "fidelity_quality",
    "flatten",
    "known_metric_names",
    "run_validation",
    "validate_all",
]

#: Names in the flat map that are not metrics of the registry (bool/number, meaning).
FLAT_ONLY: dict[str, tuple[MetricKind, str]] = {
    "synthesizer.private": (
        MetricKind.BOOLEAN,
        "the synthesizer gives a differential-privacy guarantee",
    ),
    "privacy.epsilon": (MetricKind.NUMBER, "total privacy loss ε of the run"),
    "privacy.delta": (MetricKind.NUMBER, "δ of the run's guarantee"),
    "privacy.exact_matches": (
        MetricKind.NUMBER,
        "number of synthetic rows identical to a training row no other training row shares",
    ),
    "release.masked_copy": (
        MetricKind.BOOLEAN,
        "the release is a masked copy of the real rows (job mode masked-copy): "
        "not synthetic, not differentially private",
    ),
    "multitable.referential_integrity": (
        MetricKind.NUMBER,
        "smallest share, over a multi-table release's foreign keys, of non-null keys that "
        "name a released row",
    ),
    "multitable.unique_keys": (
        MetricKind.BOOLEAN,
        "every table of a multi-table release has unique key columns",
    ),
    "multitable.children_tvd": (
        MetricKind.NUMBER,
        "largest total-variation distance, over a multi-table release's parent-child "
        "relationships, between the real and synthetic numbers of children per parent",
    ),
    "multitable.quality": (
        MetricKind.NUMBER,
        "SDMetrics' multi-table quality score of a multi-table release",
    ),
}

#: the namespace of the metrics measured across the tables of a multi-table release
MULTI_TABLE = "multitable."


@cache
def default_registry() -> MetricRegistry:
    """Every built-in metric, by area: privacy, fidelity, structural validity, utility,
    bias, data quality."""
    return MetricRegistry(
        (
            *_privacy.METRICS,
            *_fidelity.METRICS,
            *_structural.METRICS,
            *_utility.METRICS,
            *_bias.METRICS,
            *_quality.METRICS,
        )
    )


def known_metric_names() -> list[str]:
    """Every name :func:`flatten` can produce (for policy linting)."""
    return sorted({*default_registry().names(), *FLAT_ONLY})


@dataclass(frozen=True)
class ValidationOutcome:
    metrics: list[MetricResult]
    flat: dict[str, Any]
    report: dict[str, Any]  # the run report's ``validation`` part
    artifacts: dict[str, Any] = field(default_factory=dict)  # file name → JSON


def flatten(
    results: Sequence[MetricResult],
    privacy: PrivacySpent,
    registry: MetricRegistry | None = None,
    *,
    masked_copy: bool = False,
) -> dict[str, Any]:
    """The flat ``area.metric`` → value map that policy rules read."""
    registry = registry or default_registry()
    flat: dict[str, Any] = {}
    for r in results:
        value: Any = r.value
        if r.name in registry and registry.get(r.name).kind is MetricKind.BOOLEAN:
            value = None if r.value is None else bool(r.value)
        flat[r.name] = value
        if r.name == "privacy.exact_match_share":
            flat["privacy.exact_matches"] = r.details.get("count")
    flat["synthesizer.private"] = privacy.private
    flat["privacy.epsilon"] = privacy.epsilon if privacy.private else None
    flat["privacy.delta"] = privacy.delta if privacy.private else None
    flat["release.masked_copy"] = masked_copy
    return flat


def _areas(results: Sequence[MetricResult], registry: MetricRegistry) -> dict[str, Any]:
    """Advisory verdict per area from each metric's reference levels."""
    by_name = {r.name: r for r in results}
    out: dict[str, Any] = {}
    for area in Area:
        verdicts: dict[str, str] = {}
        for m in registry.area(area):
            r = by_name.get(m.name)
            if r is None or m.reference is None:
                continue
            verdicts[m.name] = m.reference.judge(r.value).value
        judged = [Verdict(v) for v in verdicts.values() if v != Verdict.NOT_COMPUTED.value]
        out[area.value] = {
            "title": area.heading,
            "verdict": Verdict.worst(judged).value,
            "metrics": verdicts,
        }
    return out


def validate_all(
    data: ValidationInput,
    registry: MetricRegistry | None = None,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> ValidationOutcome:
    """Run every metric of *registry* (default: all built-in ones) on *data*;
    ``progress(done, total, metric)`` before each metric and once when all are done."""
    registry = registry or default_registry()
    ctx = ValidationContext(data)
    seconds: dict[str, float] = {}
    results: list[MetricResult] = []
    metrics = list(registry)
    for done, m in enumerate(metrics):
        if progress is not None:
            progress(done, len(metrics), m.name)
        t0 = time.perf_counter()
        results.append(m.run(ctx))
        seconds[m.area.value] = round(seconds.get(m.area.value, 0.0) + time.perf_counter() - t0, 3)
    if progress is not None:
        progress(len(metrics), len(metrics), "")
    flat = flatten(results, data.privacy, registry, masked_copy=data.masked_copy)
    report: dict[str, Any] = {
        "metrics": {m.name: m.info() for m in registry},
        "areas": _areas(results, registry),
        "k_min": data.options.k_min,
        "sampling": ctx.sampling,
        "limits": {
            "max_model_rows": data.options.max_model_rows,
            "max_query_rows": data.options.max_query_rows,
            "max_reference_rows": data.options.max_reference_rows,
            "attacks": data.options.attacks,
        },
        "seconds": seconds,
        "target_column": data.target_column,
        "protected_attributes": list(data.protected_attributes),
        "rebalance": dict(data.rebalance) if data.rebalance else None,
        "methods": {"anonymeter": ANONYMETER_NOTE},
    }
    artifacts: dict[str, Any] = {}
    gx = ctx.cached("quality.gx")
    if isinstance(gx, _quality.QualityRun):
        report["quality"] = {
            "suite": gx.suite,
            "results": gx.results,
            "build_errors": gx.build_errors,
        }
        artifacts["gx_suite.json"] = gx.suite
        artifacts["gx_results.json"] = {**gx.results, "synthgate_build_errors": gx.build_errors}
    return ValidationOutcome(results, flat, report, artifacts)


def run_validation(data: ValidationInput) -> list[MetricResult]:
    """Every built-in metric's result (see :func:`validate_all` for the rest)."""
    return validate_all(data).metrics
