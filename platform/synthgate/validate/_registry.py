"""The metric registry: every metric declares what it measures before it is computed.

A :class:`MetricDef` is data — name, area, goal, bounds, a one-sentence
explanation, what good looks like and an advisory reference — plus the function
that computes it from a :class:`~synthgate.validate._context.ValidationContext`.
Families (fidelity, structural validity, utility, bias, privacy, data quality)
each export a tuple of definitions; :func:`default_registry` puts them
together. Nothing registers by import side effect.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synthgate.contracts import Goal, MetricResult

if TYPE_CHECKING:
    from synthgate.validate._context import ValidationContext

__all__ = [
    "Area",
    "Measurement",
    "MetricDef",
    "MetricKind",
    "MetricRegistry",
    "Reference",
    "Verdict",
]

log = logging.getLogger(__name__)


class Area(enum.StrEnum):
    """The areas of a validation report, in reading order."""

    PRIVACY = "privacy"
    FIDELITY = "fidelity"
    STRUCTURAL = "structural"
    UTILITY = "utility"
    BIAS = "bias"
    QUALITY = "quality"

    @property
    def heading(self) -> str:
        return {
            Area.PRIVACY: "Privacy",
            Area.FIDELITY: "Fidelity",
            Area.STRUCTURAL: "Structural validity",
            Area.UTILITY: "Utility",
            Area.BIAS: "Bias and fairness",
            Area.QUALITY: "Data quality",
        }[self]


class Verdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    NOT_COMPUTED = "not computed"

    @classmethod
    def worst(cls, verdicts: Iterable[Verdict]) -> Verdict:
        order = [cls.FAIL, cls.WARN, cls.PASS]
        seen = set(verdicts)
        for v in order:
            if v in seen:
                return v
        return cls.NOT_COMPUTED


class MetricKind(enum.StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"


class RefOp(enum.StrEnum):
    LE = "<="
    GE = ">="


@dataclass(frozen=True, slots=True)
class Reference:
    """Advisory levels for a metric no gate rule reads: *good*, then *acceptable* (warn).

    A value on the right side of ``good`` passes, one on the right side of
    ``acceptable`` warns, anything else fails. The gate's own rules, when a
    policy has them, always take precedence in the report.
    """

    op: RefOp
    good: float
    acceptable: float

    def judge(self, value: float | None) -> Verdict:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return Verdict.NOT_COMPUTED
        if self._ok(value, self.good):
            return Verdict.PASS
        if self._ok(value, self.acceptable):
            return Verdict.WARN
        return Verdict.FAIL

    def _ok(self, value: float, level: float) -> bool:
        return value <= level if self.op is RefOp.LE else value >= level

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op.value, "good": self.good, "acceptable": self.acceptable}


@dataclass(frozen=True, slots=True)
class Measurement:
    """What a metric's compute function returns. ``details`` hold aggregates only."""

    value: float | None
    details: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @classmethod
    def skip(cls, reason: str) -> Measurement:
        return cls(None, {}, reason)


Compute = Callable[["ValidationContext"], Measurement]


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric: its declaration and how to compute it."""

    name: str
    area: Area
    title: str
    goal: Goal
    bounds: tuple[float, float]
    explanation: str
    good: str
    compute: Compute
    reference: Reference | None = None
    kind: MetricKind = MetricKind.NUMBER
    ideal: float | None = None

    def __post_init__(self) -> None:
        if not self.name.startswith(f"{self.area.value}."):
            raise ValueError(f"metric {self.name!r} must be named {self.area.value}.<metric>")
        if self.goal is Goal.TARGET and self.ideal is None:
            raise ValueError(f"metric {self.name!r} has goal 'target' but no ideal value")
        low, high = self.bounds
        if not low < high:
            raise ValueError(f"metric {self.name!r}: bounds must be increasing")

    def info(self) -> dict[str, Any]:
        """The declaration, for the report: everything except the function."""
        return {
            "area": self.area.value,
            "title": self.title,
            "goal": self.goal.value,
            "bounds": [_json_bound(b) for b in self.bounds],
            "explanation": self.explanation,
            "good": self.good,
            "reference": self.reference.to_dict() if self.reference else None,
            "kind": self.kind.value,
            "ideal": self.ideal,
        }

    def run(self, ctx: ValidationContext) -> MetricResult:
        """Compute; a metric that cannot be computed yields ``value=None`` and a reason."""
        try:
            m = self.compute(ctx)
        except Exception as exc:  # a metric failure must not hide the others
            if ctx.options.strict:
                raise
            log.warning("metric %s failed: %s", self.name, type(exc).__name__)
            m = Measurement.skip(f"failed with {type(exc).__name__}")
        details = dict(m.details)
        if m.skipped:
            details["skipped"] = m.skipped
        value = m.value
        if value is not None:
            value = float(value)
            if math.isnan(value):
                value = None
        return MetricResult(
            name=self.name,
            value=value,
            goal=self.goal,
            bounds=self.bounds,
            explanation=self.explanation,
            details=details,
        )


def _json_bound(b: float) -> float | str:
    return b if math.isfinite(b) else ("inf" if b > 0 else "-inf")


class MetricRegistry:
    """An ordered set of metric definitions, looked up by name."""

    def __init__(self, metrics: Iterable[MetricDef] = ()) -> None:
        self._metrics: dict[str, MetricDef] = {}
        for m in metrics:
            self.add(m)

    def add(self, metric: MetricDef) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name!r} is registered twice")
        self._metrics[metric.name] = metric

    def get(self, name: str) -> MetricDef:
        try:
            return self._metrics[name]
        except KeyError:
            known = ", ".join(sorted(self._metrics))
            raise KeyError(f"unknown metric {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return list(self._metrics)

    def area(self, area: Area) -> list[MetricDef]:
        return [m for m in self._metrics.values() if m.area is area]

    def __iter__(self) -> Iterator[MetricDef]:
        return iter(self._metrics.values())

    def __len__(self) -> int:
        return len(self._metrics)

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def run(self, ctx: ValidationContext) -> list[MetricResult]:
        return [m.run(ctx) for m in self._metrics.values()]
