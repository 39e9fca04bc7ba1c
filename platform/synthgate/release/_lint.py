"""``synthgate policy lint``: find what is wrong with a policy pack, with line numbers.

Checks, each reported at the line of the YAML node it is about:

- the file is YAML and a mapping; no key appears twice in one mapping;
- the pack validates (unknown fields, bad comparators, missing fields …);
- every rule reads a known metric (:func:`known_metrics`), with a comparator
  and a threshold that fit the metric's kind and range;
- rule ids are unique; no two rules on one metric contradict each other
  (``x >= 0.8`` and ``x <= 0.5``), and no rule can never pass;
- settings that do not go together (``auto_approve`` with ``required_approvals``).

Errors make a pack unusable or its gate meaningless; warnings are worth a look.
"""

from __future__ import annotations

import difflib
import enum
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from synthgate.config import format_problems
from synthgate.errors import ConfigError
from synthgate.release._policy import Comparator, MetricKind, PolicyPack, known_metrics
from synthgate.safe_yaml import load_yaml

__all__ = ["LintProblem", "LintSeverity", "lint_policy", "lint_policy_text"]

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class LintSeverity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class LintProblem:
    line: int | None
    severity: LintSeverity
    code: str
    message: str

    def format(self, origin: str) -> str:
        where = f"{origin}:{self.line}" if self.line else origin
        return f"{where}: {self.severity.value}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
        }


# --------------------------------------------------------------------------- node positions


@dataclass
class _Lines:
    """Line (1-based) of every node, by path (``("rules", 0, "op")``)."""

    value: dict[tuple[str | int, ...], int] = field(default_factory=dict)
    key: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def of(self, path: tuple[str | int, ...], *, key: bool = False) -> int | None:
        while True:
            table = self.key if key else self.value
            if path in table:
                return table[path]
            if not path:
                return None
            path = path[:-1]


def _walk(
    node: yaml.Node, path: tuple[str | int, ...], lines: _Lines, dup: list[LintProblem]
) -> None:
    lines.value[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                where = ".".join(str(p) for p in (*path, key))
                dup.append(
                    LintProblem(
                        line,
                        LintSeverity.ERROR,
                        "duplicate-key",
                        f"{where}: key {key!r} appears twice in one mapping (first on line "
                        f"{seen[key]}); YAML keeps only the last",
                    )
                )
            seen[key] = line
            lines.key[(*path, key)] = line
            _walk(value_node, (*path, key), lines, dup)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, dup)


def _path(text: str) -> tuple[str | int, ...]:
    return tuple(
        int(m.group(2)) if m.group(2) is not None else m.group(1) for m in _PATH_PART.finditer(text)
    )


# --------------------------------------------------------------------------- feasible sets


@dataclass(frozen=True, slots=True)
class _Range:
    """The values a number may take under some rules: an interval minus some points."""

    lo: float = -math.inf
    lo_open: bool = True
    hi: float = math.inf
    hi_open: bool = True
    excluded: frozenset[float] = frozenset()

    @classmethod
    def of(cls, op: Comparator, x: float) -> _Range:
        return {
            Comparator.LE: cls(hi=x, hi_open=False),
            Comparator.LT: cls(hi=x),
            Comparator.GE: cls(lo=x, lo_open=False),
            Comparator.GT: cls(lo=x),
            Comparator.EQ: cls(lo=x, lo_open=False, hi=x, hi_open=False),
            Comparator.NE: cls(excluded=frozenset({x})),
        }[op]

    def __and__(self, other: _Range) -> _Range:
        if self.lo > other.lo or (self.lo == other.lo and self.lo_open):
            lo, lo_open = self.lo, self.lo_open
        else:
            lo, lo_open = other.lo, other.lo_open
        if self.hi < other.hi or (self.hi == other.hi and self.hi_open):
            hi, hi_open = self.hi, self.hi_open
        else:
            hi, hi_open = other.hi, other.hi_open
        return _Range(lo, lo_open, hi, hi_open, self.excluded | other.excluded)

    @property
    def empty(self) -> bool:
        if self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open)):
            return True
        return self.lo == self.hi and self.lo in self.excluded


def _bool_set(op: Comparator, value: bool) -> frozenset[bool]:
    return frozenset({value}) if op is Comparator.EQ else frozenset({not value})


@dataclass(frozen=True, slots=True)
class _Checked:
    index: int
    id: str
    metric: str
    op: Comparator
    threshold: Any
    kind: MetricKind

    def text(self) -> str:
        shown = str(self.threshold).lower() if isinstance(self.threshold, bool) else self.threshold
        return f"{self.metric} {self.op.value} {shown}"


# --------------------------------------------------------------------------- the checks


def _kind_problem(
    i: int, metric: str, op: Comparator, threshold: Any, lines: _Lines
) -> LintProblem | None:
    """A comparator or threshold that does not fit the metric's kind."""
    at = ("rules", i)
    if known_metrics()[metric].kind is MetricKind.BOOLEAN:
        if op not in (Comparator.EQ, Comparator.NE):
            return LintProblem(
                lines.of((*at, "op")),
                LintSeverity.ERROR,
                "bad-comparator",
                f"rules[{i}].op: {op.value!r} does not apply to {metric}, a true/false "
                "metric; use == or !=",
            )
        if not isinstance(threshold, bool):
            return LintProblem(
                lines.of((*at, "threshold")),
                LintSeverity.ERROR,
                "bad-threshold",
                f"rules[{i}].threshold: {metric} is true or false, got {threshold!r}",
            )
    elif isinstance(threshold, bool) or not isinstance(threshold, int | float):
        return LintProblem(
            lines.of((*at, "threshold")),
            LintSeverity.ERROR,
            "bad-threshold",
            f"rules[{i}].threshold: {metric} is a number, got {threshold!r}",
        )
    return None


def _rule_checks(raw_rules: Any, lines: _Lines) -> Iterator[LintProblem | _Checked]:
    if not isinstance(raw_rules, list):
        return
    ids: dict[str, int] = {}
    for i, rule in enumerate(raw_rules):
        if not isinstance(rule, dict):
            continue
        at = ("rules", i)
        rid = rule.get("id")
        if isinstance(rid, str):
            if rid in ids:
                yield LintProblem(
                    lines.of((*at, "id")),
                    LintSeverity.ERROR,
                    "duplicate-id",
                    f"rules[{i}]: rule id {rid!r} is already used on line {ids[rid]}; "
                    "ids name outcomes in reports, so they must be unique",
                )
            else:
                ids[rid] = lines.of((*at, "id")) or 0
        metric, op_text, threshold = rule.get("metric"), rule.get("op"), rule.get("threshold")
        if not isinstance(metric, str):
            continue
        info = known_metrics().get(metric)
        if info is None:
            close = difflib.get_close_matches(metric, known_metrics(), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            yield LintProblem(
                lines.of((*at, "metric")),
                LintSeverity.ERROR,
                "unknown-metric",
                f"rules[{i}].metric: unknown metric {metric!r}; {hint}"
                "the gate would fail it as not computed (see: synthgate policy metrics)",
            )
            continue
        try:
            op = Comparator(str(op_text))
        except ValueError:
            continue  # reported by the schema check, with the allowed comparators
        problem = _kind_problem(i, metric, op, threshold, lines)
        if problem is not None:
            yield problem
            continue
        yield _Checked(i, str(rid), metric, op, threshold, info.kind)


def _bounds_checks(rule: _Checked, lines: _Lines) -> Iterator[LintProblem]:
    info = known_metrics()[rule.metric]
    if rule.kind is not MetricKind.NUMBER or info.bounds is None:
        return
    lo, hi = info.bounds
    domain = _Range(lo, False, hi, not math.isfinite(hi))
    feasible = domain & _Range.of(rule.op, float(rule.threshold))
    at = lines.of(("rules", rule.index, "threshold"))
    shown = f"[{lo:g}, {hi:g}]" if math.isfinite(hi) else f"[{lo:g}, ∞)"
    if feasible.empty:
        yield LintProblem(
            at,
            LintSeverity.ERROR,
            "never-passes",
            f"rules[{rule.index}]: {rule.text()} can never hold; {rule.metric} takes values in "
            f"{shown}",
        )
    elif feasible == domain and rule.op is not Comparator.NE:
        yield LintProblem(
            at,
            LintSeverity.WARNING,
            "always-passes",
            f"rules[{rule.index}]: {rule.text()} always holds ({rule.metric} takes values in "
            f"{shown}); the rule checks nothing",
        )


def _contradictions(rules: list[_Checked], lines: _Lines) -> Iterator[LintProblem]:
    by_metric: dict[str, list[_Checked]] = {}
    for rule in rules:
        by_metric.setdefault(rule.metric, []).append(rule)
    for metric, group in by_metric.items():
        reported = False
        for a, b in itertools.combinations(group, 2):
            at = lines.of(("rules", b.index))
            if (a.op, a.threshold) == (b.op, b.threshold):
                yield LintProblem(
                    at,
                    LintSeverity.WARNING,
                    "duplicate-rule",
                    f"rules[{b.index}] ({b.id!r}) repeats rule {a.id!r}: {b.text()}",
                )
                continue
            if a.kind is MetricKind.BOOLEAN:
                empty = not (
                    _bool_set(a.op, bool(a.threshold)) & _bool_set(b.op, bool(b.threshold))
                )
            else:
                ra = _Range.of(a.op, float(a.threshold))
                empty = (ra & _Range.of(b.op, float(b.threshold))).empty
            if empty:
                reported = True
                yield LintProblem(
                    at,
                    LintSeverity.ERROR,
                    "contradiction",
                    f"rules[{b.index}] ({b.id!r}) contradicts rule {a.id!r} on line "
                    f"{lines.of(('rules', a.index))}: {a.text()} and {b.text()} can never "
                    "both hold",
                )
        if not reported and len(group) > 2 and group[0].kind is MetricKind.NUMBER:
            joint = _Range()
            for rule in group:
                joint = joint & _Range.of(rule.op, float(rule.threshold))
            if joint.empty:
                yield LintProblem(
                    lines.of(("rules", group[-1].index)),
                    LintSeverity.ERROR,
                    "contradiction",
                    f"the rules on {metric} ({', '.join(repr(r.id) for r in group)}) can "
                    "never all hold together",
                )


def _pii_checks(raw: Any, pack: PolicyPack | None, lines: _Lines) -> list[LintProblem]:
    problems = []
    pii = raw.get("pii")
    if isinstance(pii, dict) and pii.get("direct_identifier") == "keep":
        problems.append(
            LintProblem(
                lines.of(("pii", "direct_identifier")),
                LintSeverity.ERROR,
                "pii",
                "pii.direct_identifier cannot be 'keep'; direct identifiers never reach a "
                "synthesizer",
            )
        )
    if pack is not None and pack.pii.needs_key:
        problems.append(
            LintProblem(
                lines.of(("pii",), key=True) or 1,
                LintSeverity.WARNING,
                "pii-key",
                "the pack pseudonymizes: every job using it needs a pseudonym key "
                "(pii.key_env or pii.key_file), or it stops before reading any row",
            )
        )
    return problems


def _over_limits(text: str) -> list[LintProblem]:
    """The job spec's YAML limits (size, aliases, nesting), checked before anything else;
    plain syntax errors are left to the line-aware parse."""
    try:
        load_yaml(text.encode("utf-8"), origin="the pack")
    except ConfigError as exc:
        if "not valid YAML" not in exc.message:
            return [LintProblem(None, LintSeverity.ERROR, "yaml", exc.message)]
    return []


def lint_policy_text(text: str) -> list[LintProblem]:
    """Problems of a pack given as YAML text, errors first, then by line."""
    if over := _over_limits(text):
        return over
    try:
        root = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        return [
            LintProblem(
                mark.line + 1 if mark else None,
                LintSeverity.ERROR,
                "yaml",
                f"not valid YAML: {exc.problem}",
            )
        ]
    except yaml.YAMLError as exc:
        return [LintProblem(None, LintSeverity.ERROR, "yaml", f"not valid YAML: {exc}")]
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        return [
            LintProblem(line, LintSeverity.ERROR, "shape", "expected a mapping at the top level")
        ]
    lines = _Lines()
    problems: list[LintProblem] = []
    _walk(root, (), lines, problems)
    raw = yaml.safe_load(text)
    pack: PolicyPack | None = None
    try:
        pack = PolicyPack.model_validate(raw)
    except ValidationError as exc:
        for problem in format_problems(exc):
            where, _, _ = problem.partition(": ")
            problems.append(
                LintProblem(lines.of(_path(where)), LintSeverity.ERROR, "schema", problem)
            )
    checked: list[_Checked] = []
    for item in _rule_checks(raw.get("rules"), lines):
        if isinstance(item, LintProblem):
            problems.append(item)
        else:
            checked.append(item)
            problems.extend(_bounds_checks(item, lines))
    problems.extend(_contradictions(checked, lines))
    problems.extend(_pii_checks(raw, pack, lines))
    if pack is not None:
        if pack.auto_approve and pack.required_approvals > 1:
            problems.append(
                LintProblem(
                    lines.of(("required_approvals",)),
                    LintSeverity.WARNING,
                    "auto-approve",
                    "auto_approve is on, so required_approvals "
                    f"({pack.required_approvals}) is never used",
                )
            )
        if not pack.rules:
            problems.append(
                LintProblem(
                    lines.of(("rules",), key=True) or 1,
                    LintSeverity.WARNING,
                    "no-rules",
                    "the pack has no rules: every release passes the gate unchecked",
                )
            )
    order = {LintSeverity.ERROR: 0, LintSeverity.WARNING: 1}
    return sorted(problems, key=lambda p: (order[p.severity], p.line or 0))


def lint_policy(path: Path) -> list[LintProblem]:
    """Problems of the pack in *path* (a missing file is a ConfigError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"policy file {path} does not exist", hint="check the path") from None
    except OSError as exc:
        raise ConfigError(f"policy file {path} cannot be read: {exc.strerror}") from None
    return lint_policy_text(text)
