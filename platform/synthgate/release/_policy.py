"""Policy packs: PII actions per class and gate rules over report metrics.

A pack is YAML. Packs ship in plugins (entry points ``synthgate.policies``,
each returning the path of its YAML file: *installed* packs) and companies add
their own by registering them in the metadata store (:mod:`synthgate.release._registry`,
``synthgate policy register``): a job may use only installed and registered packs.

Rules read the flat ``area.metric`` map that validation produces. The names a
rule may use come from the validation registry (:func:`known_metrics`), so a
metric declared there is known to ``synthgate policy lint`` at once.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from synthgate.config import OutputMode, format_problems
from synthgate.contracts import RuleOutcome, Severity
from synthgate.errors import ConfigError
from synthgate.pii import (
    ENTITIES,
    GENERALIZABLE,
    CustomPattern,
    CustomRecognizer,
    DatePrecision,
    Generalization,
    MaskAction,
    PiiClass,
    check_regex,
)
from synthgate.plugins import PluginGroup, load, names
from synthgate.release._lifecycle import ReleaseStatus
from synthgate.safe_yaml import load_yaml

__all__ = [
    "DEFAULT_DELTA_PER_SOURCE",
    "DEFAULT_INDEPENDENCE_DAYS",
    "Comparator",
    "GateDecision",
    "MetricInfo",
    "MetricKind",
    "PolicyPack",
    "Rule",
    "evaluate_gate",
    "installed_names",
    "installed_policy",
    "is_pack_path",
    "known_metrics",
    "parse_policy",
    "policy_path",
    "read_policy_file",
]


class MetricKind(enum.StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What a policy author needs to know about a metric a rule can read."""

    kind: MetricKind
    description: str
    bounds: tuple[float, float] | None = None  # the values it can take, for numbers
    explanation: str = ""


#: Ranges of the run-level names of the flat map that are not validation metrics.
_RUN_LEVEL_BOUNDS: dict[str, tuple[float, float]] = {
    "privacy.epsilon": (0.0, math.inf),
    "privacy.delta": (0.0, 1.0),
    "privacy.exact_matches": (0.0, math.inf),
    "multitable.referential_integrity": (0.0, 1.0),
    "multitable.children_tvd": (0.0, 1.0),
    "multitable.quality": (0.0, 1.0),
}
#: the metrics measured across the tables of a multi-table release (mirrors
#: synthgate.validate.MULTI_TABLE, kept here so this module imports no validation)
MULTI_TABLE = "multitable."


@cache
def known_metrics() -> dict[str, MetricInfo]:
    """Every name a policy rule may read, with its kind, meaning and range.

    Read from the validation registry (:func:`synthgate.validate.default_registry`,
    where each metric is declared) plus the run-level names of the flat map
    (:data:`synthgate.validate.FLAT_ONLY`): a metric added there is known here.
    """
    from synthgate.validate import FLAT_ONLY, default_registry
    from synthgate.validate import MetricKind as ValidationKind

    known: dict[str, MetricInfo] = {}
    for metric in default_registry():
        boolean = metric.kind is ValidationKind.BOOLEAN
        known[metric.name] = MetricInfo(
            MetricKind.BOOLEAN if boolean else MetricKind.NUMBER,
            metric.title,
            None if boolean else metric.bounds,
            metric.explanation,
        )
    for name, (kind, description) in FLAT_ONLY.items():
        boolean = kind is ValidationKind.BOOLEAN
        known.setdefault(
            name,
            MetricInfo(
                MetricKind.BOOLEAN if boolean else MetricKind.NUMBER,
                description,
                None if boolean else _RUN_LEVEL_BOUNDS.get(name),
            ),
        )
    return known


class Comparator(enum.StrEnum):
    LE = "<="
    LT = "<"
    GE = ">="
    GT = ">"
    EQ = "=="
    NE = "!="

    @property
    def fn(self) -> Callable[[Any, Any], bool]:
        ops: dict[Comparator, Callable[[Any, Any], bool]] = {
            Comparator.LE: operator.le,
            Comparator.LT: operator.lt,
            Comparator.GE: operator.ge,
            Comparator.GT: operator.gt,
            Comparator.EQ: operator.eq,
            Comparator.NE: operator.ne,
        }
        return ops[self]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    metric: str = Field(pattern=r"^[a-z_]+\.[a-z_0-9.]+$")
    op: Comparator
    threshold: float | bool | str
    severity: Severity = Severity.BLOCK
    explain: str = Field(min_length=1)
    applies_to: tuple[OutputMode, ...] = Field(
        default=tuple(OutputMode),
        min_length=1,
        description=(
            "the job modes whose releases the rule judges (synthetic, masked-copy); for a "
            "release of another mode its outcome is recorded as passed, 'not applicable'"
        ),
    )

    def applies(self, mode: OutputMode) -> bool:
        return mode in self.applies_to


#: what a policy may choose per class (``keep`` for direct identifiers has its own message)
_CLASS_ACTIONS: dict[PiiClass, frozenset[MaskAction]] = {
    PiiClass.DIRECT: frozenset(
        {MaskAction.DROP, MaskAction.FAKE, MaskAction.PSEUDONYMIZE, MaskAction.KEEP}
    ),
    PiiClass.QUASI: frozenset(
        {
            MaskAction.KEEP,
            MaskAction.DROP,
            MaskAction.FAKE,
            MaskAction.PSEUDONYMIZE,
            MaskAction.GENERALIZE,
        }
    ),
    PiiClass.FREE_TEXT: frozenset({MaskAction.DROP, MaskAction.REDACT}),
}


class PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    regex: str = Field(min_length=1)
    score: float = Field(gt=0, le=1)
    name: str = ""


class RecognizerSpec(BaseModel):
    """A company's own entity, found by regular expressions (Presidio pattern recognizer)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")
    pii_class: PiiClass = Field(default=PiiClass.DIRECT, alias="class")
    patterns: list[PatternSpec] = Field(min_length=1)
    context: list[str] = Field(default_factory=list)
    column_names: str | None = Field(
        default=None, description="regex over the snake_case column name that announces it"
    )
    label: str = ""

    @model_validator(mode="after")
    def _regexes(self) -> RecognizerSpec:
        for i, pattern in enumerate(self.patterns):
            why = check_regex(pattern.regex)
            if why is not None:
                raise ValueError(f"recognizer {self.entity}: patterns[{i}].regex is {why}")
        if self.column_names is not None:
            why = check_regex(self.column_names)
            if why is not None:
                raise ValueError(f"recognizer {self.entity}: column_names is {why}")
        if self.pii_class is PiiClass.NONE:
            raise ValueError(f"recognizer {self.entity}: class cannot be 'none'")
        return self

    def recognizer(self) -> CustomRecognizer:
        return CustomRecognizer(
            entity=self.entity,
            pii_class=self.pii_class,
            patterns=tuple(CustomPattern(p.regex, p.score, p.name) for p in self.patterns),
            context=tuple(self.context),
            name_pattern=self.column_names,
            label=self.label or self.entity.replace("_", " ").lower(),
        )


class GeneralizePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: DatePrecision = DatePrecision.MONTH
    zip_digits: int = Field(default=3, ge=1, le=5)
    age_band: int = Field(default=10, ge=2, le=50)


class RedactWith(enum.StrEnum):
    PLACEHOLDER = "placeholder"  # <PERSON>, <EMAIL_ADDRESS> …
    SURROGATE = "surrogate"  # a keyed surrogate of the span (needs the pseudonym key)


def _entity_problem(
    entity: str, action: MaskAction, custom: Mapping[str, RecognizerSpec]
) -> str | None:
    if entity in ENTITIES:
        cls = ENTITIES[entity].pii_class
    elif entity in custom:
        cls = custom[entity].pii_class
    else:
        return (
            f"pii.entities.{entity}: unknown entity; known: built-in entities and "
            "those of pii.recognizers"
        )
    if action is MaskAction.KEEP and cls is PiiClass.DIRECT:
        return (
            f"pii.entities.{entity} cannot be 'keep'; direct identifiers never reach a synthesizer"
        )
    if action is MaskAction.GENERALIZE and entity not in GENERALIZABLE:
        return f"pii.entities.{entity}: 'generalize' applies to {', '.join(sorted(GENERALIZABLE))}"
    if action not in _CLASS_ACTIONS[cls]:
        allowed = ", ".join(sorted(a.value for a in _CLASS_ACTIONS[cls]))
        return f"pii.entities.{entity} cannot be '{action.value}'; use {allowed}"
    return None


class PiiPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direct_identifier: MaskAction = MaskAction.FAKE
    quasi_identifier: MaskAction = MaskAction.KEEP
    free_text: MaskAction = MaskAction.DROP
    entities: dict[str, MaskAction] = Field(
        default_factory=dict, description="action per entity, before the class's action"
    )
    recognizers: list[RecognizerSpec] = Field(default_factory=list)
    generalize: GeneralizePolicy = Field(default_factory=GeneralizePolicy)
    redact_with: RedactWith = RedactWith.PLACEHOLDER

    @model_validator(mode="after")
    def _actions_fit(self) -> PiiPolicy:
        problems = []
        for cls, action in self.class_actions().items():
            if action not in _CLASS_ACTIONS[cls]:
                allowed = ", ".join(sorted(a.value for a in _CLASS_ACTIONS[cls]))
                problems.append(f"pii.{cls.value} cannot be '{action.value}'; use one of {allowed}")
        custom = {r.entity: r for r in self.recognizers}
        if len(custom) < len(self.recognizers):
            problems.append("pii.recognizers: an entity is declared twice")
        for name in custom:
            if name in ENTITIES:
                problems.append(
                    f"pii.recognizers: {name} is a built-in entity; choose another name"
                )
        for entity, action in self.entities.items():
            problem = _entity_problem(entity, action, custom)
            if problem is not None:
                problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def class_actions(self) -> dict[PiiClass, MaskAction]:
        return {
            PiiClass.DIRECT: self.direct_identifier,
            PiiClass.QUASI: self.quasi_identifier,
            PiiClass.FREE_TEXT: self.free_text,
        }

    def entity_actions(self) -> dict[str, MaskAction]:
        return dict(self.entities)

    def custom_recognizers(self) -> tuple[CustomRecognizer, ...]:
        return tuple(r.recognizer() for r in self.recognizers)

    def generalization(self) -> Generalization:
        g = self.generalize
        return Generalization(g.date, g.zip_digits, g.age_band)

    @property
    def redacts_with_surrogate(self) -> bool:
        return self.redact_with is RedactWith.SURROGATE

    @property
    def needs_key(self) -> bool:
        """Whether this policy may pseudonymize, so a run needs the pseudonym key."""
        chosen = {*self.class_actions().values(), *self.entities.values()}
        return MaskAction.PSEUDONYMIZE in chosen or self.redact_with is RedactWith.SURROGATE


#: the cumulative δ of one source table when a pack sets no ``delta_per_source``: ten
#: runs at the largest automatic per-run δ (1e-5)
DEFAULT_DELTA_PER_SOURCE = 1e-4


class BudgetPolicy(BaseModel):
    """Cumulative privacy budget of one source table, across all its releases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epsilon_per_source: float = Field(default=10.0, gt=0, le=1000)
    delta_per_source: float | None = Field(
        default=None, gt=0, lt=1, description=f"cumulative δ; unset: {DEFAULT_DELTA_PER_SOURCE}"
    )

    @model_serializer(mode="wrap")
    def _omit_unset_delta(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A pack that sets no ``delta_per_source`` dumps (and hashes) as before it existed."""
        data = handler(self)
        if self.delta_per_source is None and isinstance(data, dict):
            data.pop("delta_per_source", None)
        return data

    @property
    def delta_limit(self) -> float:
        return DEFAULT_DELTA_PER_SOURCE if self.delta_per_source is None else self.delta_per_source


#: how long an account set up by a requester may not approve that requester's releases
DEFAULT_INDEPENDENCE_DAYS = 30


class PolicyPack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    pii: PiiPolicy = Field(default_factory=PiiPolicy)
    rules: list[Rule] = Field(default_factory=list)
    budget: BudgetPolicy = Field(default_factory=BudgetPolicy)
    required_approvals: int = Field(
        default=1, ge=1, le=10, description="distinct approvers a release needs"
    )
    auto_approve: bool = Field(
        default=False,
        description="a release that passes the gate is approved by the system (testing only)",
    )
    approver_independence_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="for this many days after an account was set up by the requester (created, "
        f"or its token or password set), it may not approve their releases; unset: "
        f"{DEFAULT_INDEPENDENCE_DAYS}",
    )
    source: str = Field(default="", exclude=True)

    @model_serializer(mode="wrap")
    def _omit_unset_independence(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A pack that does not set the window dumps (and hashes) as before it existed."""
        data = handler(self)
        if self.approver_independence_days is None and isinstance(data, dict):
            data.pop("approver_independence_days", None)
        return data

    @property
    def independence_days(self) -> int:
        days = self.approver_independence_days
        return DEFAULT_INDEPENDENCE_DAYS if days is None else days

    @property
    def content_hash(self) -> str:
        """sha256 of the pack's meaning (canonical JSON), not of its formatting."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


def parse_policy(data: bytes, *, origin: str, source: str) -> PolicyPack:
    """A pack from the bytes of its YAML; *origin* names it in messages (``policy file x``)."""
    # the same limits as a job spec: size, aliases, nesting
    raw = load_yaml(data, origin=origin)
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    try:
        pack = PolicyPack.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(f"{origin} is invalid", problems=format_problems(exc)) from None
    if pack.pii.direct_identifier is MaskAction.KEEP:
        raise ConfigError(
            f"{origin}: pii.direct_identifier cannot be 'keep'; "
            "direct identifiers never reach a synthesizer"
        )
    return pack


def read_policy_file(path: Path) -> PolicyPack:
    """Any pack file as it is, registered or not: for ``policy lint`` and ``policy register``.

    A job never uses a pack read this way; it uses :func:`synthgate.release.load_policy`,
    which accepts only installed and registered packs.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"policy file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"policy file {path} is a directory") from None
    return parse_policy(data, origin=f"policy file {path}", source=str(path))


def is_pack_path(name_or_path: str) -> bool:
    """Whether *name_or_path* names a file (``x.yaml``, ``dir/x``) rather than a pack."""
    return name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path


def installed_names() -> list[str]:
    """The names of the packs installed as plugins (entry points ``synthgate.policies``)."""
    return names(PluginGroup.POLICIES)


def policy_path(name_or_path: str) -> Path:
    """The YAML file of an installed pack given by name (``default``), or *name_or_path*."""
    if is_pack_path(name_or_path):
        return Path(name_or_path)
    provider = load(PluginGroup.POLICIES, name_or_path)
    return Path(provider())


def installed_policy(name: str) -> PolicyPack:
    """An installed pack by name (``default``)."""
    return read_policy_file(policy_path(name))


@dataclass(frozen=True, slots=True)
class GateDecision:
    status: ReleaseStatus
    outcomes: tuple[RuleOutcome, ...]

    @property
    def blocking_failures(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if not o.passed and o.severity is Severity.BLOCK]

    @property
    def warnings(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if not o.passed and o.severity is Severity.WARN]


def _compare(rule: Rule, observed: Any) -> bool:
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return False
    threshold = rule.threshold
    if isinstance(threshold, bool) or isinstance(observed, bool):
        return bool(rule.op.fn(bool(observed), bool(threshold)))
    if isinstance(threshold, str):
        return bool(rule.op.fn(str(observed), threshold))
    return bool(rule.op.fn(float(observed), float(threshold)))


def evaluate_gate(pack: PolicyPack, metrics: Mapping[str, Any]) -> GateDecision:
    """Evaluate every rule; a metric that was not computed fails its rule.

    A rule on a metric measured across tables (``multitable.*``) passes as not
    applicable where *metrics* holds none of them (one table, or one table of a
    multi-table release: those rules are judged once, on the release).

    A rule whose ``applies_to`` leaves out the release's mode (``release.masked_copy``
    tells a masked copy) is recorded as passed with a reason that says so: the
    exemption is written in the pack and shown in the gate, never implied.
    """
    mode = OutputMode.MASKED_COPY if metrics.get("release.masked_copy") else OutputMode.SYNTHETIC
    across = any(name.startswith(MULTI_TABLE) for name in metrics)
    outcomes = []
    for rule in pack.rules:
        observed = metrics.get(rule.metric)
        passed = _compare(rule, observed)
        if not rule.applies(mode):
            passed = True
            modes = ", ".join(m.value for m in rule.applies_to)
            reason = f"not applicable to a {mode.value} release (the rule applies to: {modes}); {rule.explain}"
        elif rule.metric.startswith(MULTI_TABLE) and not across:
            passed = True
            reason = (
                "not applicable to one table (the metric is measured across the tables of a "
                f"multi-table release); {rule.explain}"
            )
        elif rule.metric not in metrics or observed is None:
            reason = f"{rule.metric} was not computed for this run; {rule.explain}"
        elif passed:
            reason = rule.explain
        else:
            reason = f"{rule.metric} is {observed}, needs {rule.op.value} {rule.threshold}: {rule.explain}"
        outcomes.append(
            RuleOutcome(
                rule_id=rule.id,
                metric=rule.metric,
                passed=passed,
                observed=observed,
                threshold=rule.threshold,
                comparator=rule.op.value,
                severity=rule.severity,
                reason=reason,
            )
        )
    blocked = any(not o.passed and o.severity is Severity.BLOCK for o in outcomes)
    status = ReleaseStatus.BLOCKED if blocked else ReleaseStatus.AWAITING_APPROVAL
    return GateDecision(status, tuple(outcomes))
