"""The masking plan: what happens to each column before and after synthesis.

Columns the synthesizer learns are KEEP, GENERALIZE (transformed first) and
REDACT (free text with every detected identifier replaced). Direct
identifiers never are: they are dropped, faked or pseudonymized, and come
back into the output only as values drawn without looking at the real ones.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import LogicalType, TableSchema
from synthgate.errors import ConfigError
from synthgate.pii._classify import ColumnFinding, PiiClass
from synthgate.pii._entities import ENTITIES
from synthgate.pii._fake import fake_values
from synthgate.pii._leak import LeakScanner
from synthgate.pii._pseudo import Pseudonymizer
from synthgate.pii._recognizers import CustomRecognizer
from synthgate.pii._transform import (
    GENERALIZABLE,
    Generalization,
    generalize,
    map_unique,
    redact_texts,
)

__all__ = [
    "MODEL_ACTIONS",
    "ColumnAction",
    "MaskAction",
    "MaskPlan",
    "apply_plan",
    "build_plan",
    "check_masked_copy",
    "masked_copy",
    "refill",
]


class MaskAction(enum.StrEnum):
    KEEP = "keep"  # goes to the synthesizer
    DROP = "drop"  # absent from the release
    FAKE = "fake"  # never seen by the synthesizer; independent fake values in the output
    REKEY = "rekey"  # a key column: fresh unique keys in the output, never learned
    PSEUDONYMIZE = "pseudonymize"  # never learned; keyed surrogates (consistent under one key)
    GENERALIZE = "generalize"  # coarsened (month, prefix, band), then learned
    REDACT = "redact"  # free text with identifier spans replaced, then learned


#: the actions whose columns the synthesizer learns
MODEL_ACTIONS = frozenset({MaskAction.KEEP, MaskAction.GENERALIZE, MaskAction.REDACT})
_TEXT_TYPES = frozenset({LogicalType.TEXT, LogicalType.CATEGORICAL})


@dataclass(frozen=True, slots=True)
class ColumnAction:
    column: str
    action: MaskAction
    entity: str | None
    pii_class: PiiClass
    reason: str
    suspected: bool = False  # classified on partial evidence
    from_spec: bool = False  # the job spec's pii.columns decided it
    locale: str | None = None  # for fake values of the same kind (names)
    case: str | None = None  # "lower" / "upper": fake values are written the same way
    shapes: tuple[str, ...] = ()  # for fake codes of the same shape

    @property
    def undecided(self) -> bool:
        """Suspected, and the job spec has not said what to do with it."""
        return self.suspected and not self.from_spec

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "action": self.action.value,
            "entity": self.entity,
            "pii_class": self.pii_class.value,
            "reason": self.reason,
            "suspected": self.suspected,
            "from_spec": self.from_spec,
            "locale": self.locale,
            "case": self.case,
            "shapes": list(self.shapes),
        }


@dataclass(frozen=True, slots=True)
class MaskPlan:
    actions: tuple[ColumnAction, ...]
    column_order: tuple[str, ...]

    def columns(self, action: MaskAction) -> list[str]:
        return [a.column for a in self.actions if a.action is action]

    def action(self, column: str) -> ColumnAction:
        return next(a for a in self.actions if a.column == column)

    @property
    def model_columns(self) -> list[str]:
        """The columns the synthesizer learns, in source order."""
        return [a.column for a in self.actions if a.action in MODEL_ACTIONS]

    @property
    def needs_key(self) -> bool:
        return any(a.action is MaskAction.PSEUDONYMIZE for a in self.actions)

    @property
    def direct_identifiers(self) -> list[str]:
        return [a.column for a in self.actions if a.pii_class is PiiClass.DIRECT]

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "column_order": list(self.column_order),
        }


def _label(finding: ColumnFinding) -> str:
    return finding.label or finding.entity or "no recognised entity"


def _can_generalize(finding: ColumnFinding, col_type: LogicalType) -> bool:
    return finding.entity in GENERALIZABLE or (
        finding.entity is None and col_type in {LogicalType.DATE, LogicalType.DATETIME}
    )


def _checked(
    action: MaskAction, finding: ColumnFinding, col_type: LogicalType, origin: str
) -> tuple[MaskAction, str | None]:
    """*action* made safe for the column: the action to use and, if changed, why."""
    direct = finding.pii_class is PiiClass.DIRECT
    if direct and action in MODEL_ACTIONS:
        return (
            MaskAction.FAKE,
            f"direct identifiers never reach the synthesizer; '{action.value}' refused",
        )
    if finding.pii_class is PiiClass.FREE_TEXT and action is MaskAction.KEEP:
        return MaskAction.REDACT, "free text never reaches the synthesizer as is; 'keep' refused"
    if action is MaskAction.GENERALIZE and not _can_generalize(finding, col_type):
        raise ConfigError(
            f"{origin}: 'generalize' applies to dates of birth, postcodes, ages and dates; "
            f"column {finding.column!r} holds {_label(finding)}",
            hint="use keep, drop, fake or pseudonymize for it",
        )
    if action is MaskAction.REDACT and col_type not in _TEXT_TYPES:
        raise ConfigError(
            f"{origin}: 'redact' applies to text columns; column {finding.column!r} is "
            f"{col_type.value}",
            hint="use drop, fake or pseudonymize for it",
        )
    return action, None


def _entity_action(
    entity: str | None, entity_actions: Mapping[str, MaskAction]
) -> tuple[str, MaskAction] | None:
    """The pack's action for *entity*, or for the entity it belongs to (FIRST_NAME → PERSON)."""
    while entity is not None:
        if entity in entity_actions:
            return entity, entity_actions[entity]
        entity = ENTITIES[entity].parent if entity in ENTITIES else None
    return None


def _suspicion(finding: ColumnFinding) -> str:
    return f"suspected {_label(finding)} ({', '.join(finding.evidence) or 'partial evidence'})"


def _decide(
    finding: ColumnFinding,
    col_type: LogicalType,
    class_actions: Mapping[PiiClass, MaskAction],
    overrides: Mapping[str, MaskAction],
    entity_actions: Mapping[str, MaskAction],
) -> tuple[MaskAction, str, str]:
    """The wanted action, where it comes from (for messages) and why."""
    if finding.column in overrides:
        reason = "set in the job spec (pii.columns)"
        if finding.suspected:
            reason = f"{_suspicion(finding)}; {reason}"
        return overrides[finding.column], f"pii.columns.{finding.column}", reason
    by_entity = _entity_action(finding.entity, entity_actions)
    if by_entity is not None:
        entity, wanted = by_entity
        return wanted, f"policy pii.entities.{entity}", f"policy action for {_label(finding)}"
    if finding.pii_class is not PiiClass.NONE:
        wanted = class_actions.get(finding.pii_class, MaskAction.DROP)
        reason = f"policy action for {finding.pii_class.value.replace('_', ' ')}s"
        if finding.suspected:
            reason = (
                f"{_suspicion(finding)}: treated as a direct identifier until "
                f"pii.columns.{finding.column} decides"
            )
        if wanted is MaskAction.GENERALIZE and not _can_generalize(finding, col_type):
            wanted = MaskAction.KEEP
            reason = (
                f"no generalization for {_label(finding)}; learned as is "
                "(differential privacy covers quasi-identifiers)"
            )
        return wanted, f"policy pii.{finding.pii_class.value}", reason
    if col_type is LogicalType.IDENTIFIER:
        return (
            MaskAction.REKEY,
            "",
            "key column: fresh keys are generated, real keys are never learned",
        )
    return MaskAction.KEEP, "", "no PII found"


def build_plan(
    findings: list[ColumnFinding],
    schema: TableSchema,
    *,
    class_actions: Mapping[PiiClass, MaskAction],
    overrides: Mapping[str, MaskAction],
    entity_actions: Mapping[str, MaskAction] | None = None,
) -> MaskPlan:
    """Decide per column: the job spec's override, else the policy's action for the
    entity (or the entity it belongs to), else for the class. Direct identifiers are
    never learned; a suspected one is, only when the job spec says so explicitly."""
    entity_actions = entity_actions or {}
    actions = []
    for finding in findings:
        col = schema.column(finding.column)
        wanted, origin, reason = _decide(
            finding, col.type, class_actions, overrides, entity_actions
        )
        from_spec = finding.column in overrides
        pii_class = finding.pii_class
        if finding.suspected and from_spec and wanted in MODEL_ACTIONS:
            # the spec owner says the suspicion is wrong: the column is no PII for the plan
            pii_class = PiiClass.NONE
        checked = replace(finding, pii_class=pii_class)
        action, refused = _checked(wanted, checked, col.type, origin)
        actions.append(
            ColumnAction(
                finding.column,
                action,
                finding.entity,
                pii_class,
                refused or reason,
                suspected=finding.suspected,
                from_spec=from_spec,
                locale=finding.locale,
                case=finding.case,
                shapes=finding.shapes,
            )
        )
    return MaskPlan(tuple(actions), tuple(schema.column_names))


def apply_plan(
    frame: pd.DataFrame,
    plan: MaskPlan,
    *,
    generalization: Generalization | None = None,
    recognizers: Sequence[CustomRecognizer] = (),
    surrogate: Callable[[str, str], str] | None = None,
) -> pd.DataFrame:
    """The frame the synthesizer learns: KEEP columns as they are, GENERALIZE and
    REDACT columns transformed (once per distinct value). Nothing else."""
    how = generalization or Generalization()
    out: dict[str, pd.Series] = {}
    for act in plan.actions:
        if act.action is MaskAction.KEEP:
            out[act.column] = frame[act.column]
        elif act.action is MaskAction.GENERALIZE:
            out[act.column] = generalize(act.entity, frame[act.column], how)
        elif act.action is MaskAction.REDACT:
            out[act.column] = map_unique(
                frame[act.column],
                lambda values: redact_texts(
                    [str(v) for v in values], recognizers=recognizers, surrogate=surrogate
                ),
            )
    return pd.DataFrame(out, index=frame.index)


def _fake_column(
    act: ColumnAction, n: int, *, integer: bool, seed: int, avoid: LeakScanner | None
) -> Any:
    """*n* fake values for a FAKE column: of the column's kind, locale, case and shape.
    In an integer column, identifiers get fresh unique numbers (:func:`_fresh_integers`)
    and other entities the digits of a fake value (a phone number's, an SSN's)."""
    if integer and act.entity in _KEY_ENTITIES:
        return _fresh_integers(n, seed=seed, avoid=avoid)
    if integer:
        drawn = fake_values(act.entity, n, seed=seed, avoid=avoid, locale=act.locale)
        digits = ["".join(ch for ch in str(v) if ch.isdigit()) for v in drawn]
        return pd.array([int(d) if d else None for d in digits], dtype="Int64")
    return pd.Series(
        fake_values(
            act.entity,
            n,
            seed=seed,
            avoid=avoid,
            unique=act.entity in _KEY_ENTITIES,
            locale=act.locale,
            case=act.case,
            shapes=act.shapes,
        ),
        dtype=object,
    )


def _fresh_integers(n: int, *, seed: int, avoid: LeakScanner | None) -> Any:
    """*n* distinct random integers, each with two more digits than *n* has (at least
    six), none equal to a real identifier: fresh ids that say nothing about the real
    ones, not even their range."""
    digits = max(6, len(str(max(n, 1))) + 2)
    low, high = 10 ** (digits - 1), 10**digits
    rng = np.random.default_rng(seed)
    drawn = (rng.choice(high - low, size=n, replace=False) + low).tolist()
    if avoid is not None:
        taken = set(drawn)
        for i, first in enumerate(drawn):
            value = first
            while value in avoid or (value != first and value in taken):
                value = int(rng.integers(low, high))
            if value != first:
                taken.add(value)
                drawn[i] = value
    return pd.array(drawn, dtype="Int64")


_SINGLE_NAMES = frozenset({"FIRST_NAME", "LAST_NAME"})
#: entities whose values are unique per row: fakes and surrogates stay unique
_KEY_ENTITIES = frozenset({None, "RECORD_ID"})


def _integer(schema: TableSchema, column: str) -> bool:
    col = schema.column(column)
    return col.type is LogicalType.INTEGER or (
        col.type is LogicalType.IDENTIFIER and "INT" in col.native_type.upper()
    )


def _keyed_column(
    act: ColumnAction,
    schema: TableSchema,
    n: int,
    pseudonymizer: Pseudonymizer,
    avoid: LeakScanner | None,
) -> Any:
    """Surrogates for synthetic rows 1..n, drawn under the key: the same for the same key
    and row count in every run and table, never derived from a real value, and unique
    for keys and identifiers."""
    native = schema.column(act.column).native_type.upper()
    if act.entity in _KEY_ENTITIES and ("INT" in native or _integer(schema, act.column)):
        tokens = [f"{i:012d}" for i in range(1, n + 1)]
        numbers = pseudonymizer.surrogates("SEQUENCE", tokens)
        return pd.array([int(t) for t in numbers], dtype="Int64")
    label = act.entity or "KEY"
    return pd.Series(
        fake_values(
            act.entity,
            n,
            seed=pseudonymizer.sequence_seed(label),
            avoid=avoid,
            # unique, except single first or last names (a list of a few thousand)
            unique=act.entity not in _SINGLE_NAMES,
            locale=act.locale,
            case=act.case,
            shapes=act.shapes,
        ),
        dtype=object,
    )


def refill(
    synthetic: pd.DataFrame,
    plan: MaskPlan,
    schema: TableSchema,
    *,
    seed: int,
    avoid: LeakScanner | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    generalization: Generalization | None = None,
) -> pd.DataFrame:
    """Add FAKE, REKEY and PSEUDONYMIZE columns to a sampled frame, in source order.

    GENERALIZE columns are generalized again: the model learned months and bands,
    but a continuous synthesizer samples any day or age; coarsening its output is
    post-processing (no privacy cost) and keeps the release at the same grain.
    """
    out = synthetic.copy()
    n = len(out)
    for i, act in enumerate(plan.actions):
        if act.action is MaskAction.GENERALIZE and act.column in out.columns:
            out[act.column] = generalize(
                act.entity, out[act.column], generalization or Generalization()
            )
        elif act.action is MaskAction.FAKE:
            values = _fake_column(
                act, n, integer=_integer(schema, act.column), seed=seed + i, avoid=avoid
            )
            out[act.column] = (
                values if not isinstance(values, pd.Series) else values.set_axis(out.index)
            )
        elif act.action is MaskAction.REKEY:
            native = schema.column(act.column).native_type.upper()
            if "INT" in native:
                out[act.column] = pd.array(range(1, n + 1), dtype="Int64")
            else:
                out[act.column] = [f"SYN-{k:08d}" for k in range(1, n + 1)]
        elif act.action is MaskAction.PSEUDONYMIZE:
            if pseudonymizer is None:
                raise ConfigError(
                    f"column {act.column!r} is to be pseudonymized but no key was given"
                )
            values = _keyed_column(act, schema, n, pseudonymizer, avoid)
            out[act.column] = (
                values if not isinstance(values, pd.Series) else values.set_axis(out.index)
            )
    keep = [c for c in plan.column_order if c in out.columns]
    return out[keep]


def _pseudonymized(pseudonymizer: Pseudonymizer, entity: str | None, series: pd.Series) -> Any:
    if pd.api.types.is_integer_dtype(series):
        # integers as 18 digits: a permutation of [0, 10^18), so ints stay distinct ints
        padded = series.map(lambda v: None if pd.isna(v) else f"{int(v):018d}")
        return pd.to_numeric(pseudonymizer.map(entity, padded)).astype("Int64")
    return pseudonymizer.map(entity, series)


def check_masked_copy(plan: MaskPlan) -> None:
    """Refuse a masked copy while a suspected identifier is undecided: one line naming
    the columns and the job-spec line that decides them."""
    undecided = [a for a in plan.actions if a.undecided]
    if not undecided:
        return
    kinds = ", ".join(f"{a.column} ({_entity_label(a.entity)})" for a in undecided)
    line = ", ".join(f"{a.column}: fake" for a in undecided)
    raise ConfigError(
        f"masked copy refused: {kinds} may identify people and would be copied unless the "
        f"job spec decides; add pii.columns: {{{line}}} (pseudonymize keeps joins; keep "
        "only a column that holds no personal data)"
    )


def _entity_label(entity: str | None) -> str:
    return ENTITIES[entity].label if entity in ENTITIES else (entity or "identifier")


def masked_copy(
    frame: pd.DataFrame,
    plan: MaskPlan,
    pseudonymizer: Pseudonymizer,
    *,
    seed: int,
    generalization: Generalization | None = None,
    recognizers: Sequence[CustomRecognizer] = (),
    avoid: LeakScanner | None = None,
    redact_with_surrogate: bool = True,
) -> pd.DataFrame:
    """The real rows with the plan applied column by column: NOT differentially private.

    Refused (:func:`check_masked_copy`) while a suspected identifier is undecided.
    Pseudonymized and key (REKEY) columns keep referential integrity: the same
    value gets the same keyed surrogate in every table masked under the same key,
    so a masked copy always needs the key. Faked columns get independent values of
    the same kind; free text is redacted (identifiers replaced by keyed surrogates,
    or by entity placeholders when *redact_with_surrogate* is false); kept columns
    are copied as they are.
    """
    check_masked_copy(plan)
    model = apply_plan(
        frame,
        plan,
        generalization=generalization,
        recognizers=recognizers,
        surrogate=pseudonymizer.surrogate if redact_with_surrogate else None,
    )
    out = {}
    for i, act in enumerate(plan.actions):
        if act.action in MODEL_ACTIONS:
            out[act.column] = model[act.column]
        elif act.action in {MaskAction.PSEUDONYMIZE, MaskAction.REKEY}:
            out[act.column] = _pseudonymized(pseudonymizer, act.entity, frame[act.column])
        elif act.action is MaskAction.FAKE:
            integer = pd.api.types.is_integer_dtype(frame[act.column].dtype)
            values = _fake_column(act, len(frame), integer=integer, seed=seed + i, avoid=avoid)
            out[act.column] = (
                values.set_axis(frame.index)
                if isinstance(values, pd.Series)
                else pd.Series(values, index=frame.index)
            )
    return pd.DataFrame(out, index=frame.index)
