"""The masking plan: what happens to each column before and after synthesis.

Columns the synthesizer learns are KEEP, GENERALIZE (transformed first) and
REDACT (free text with every detected identifier replaced). Direct
identifiers never are: they are dropped, faked or pseudonymized, and come
back into the output only as values drawn without looking at the real ones.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synthgate.contracts import LogicalType, TableSchema
from synthgate.errors import ConfigError
from synthgate.pii._classify import ColumnFinding, PiiClass
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "action": self.action.value,
            "entity": self.entity,
            "pii_class": self.pii_class.value,
            "reason": self.reason,
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


def build_plan(
    findings: list[ColumnFinding],
    schema: TableSchema,
    *,
    class_actions: Mapping[PiiClass, MaskAction],
    overrides: Mapping[str, MaskAction],
    entity_actions: Mapping[str, MaskAction] | None = None,
) -> MaskPlan:
    """Decide per column: the job spec's override, else the policy's action for the
    entity, else for the class. Direct identifiers are never learned."""
    entity_actions = entity_actions or {}
    actions = []
    for finding in findings:
        col = schema.column(finding.column)
        if finding.column in overrides:
            wanted = overrides[finding.column]
            origin = f"pii.columns.{finding.column}"
            reason = "set in the job spec (pii.columns)"
        elif finding.entity is not None and finding.entity in entity_actions:
            wanted = entity_actions[finding.entity]
            origin = f"policy pii.entities.{finding.entity}"
            reason = f"policy action for {_label(finding)}"
        elif finding.pii_class is not PiiClass.NONE:
            wanted = class_actions.get(finding.pii_class, MaskAction.DROP)
            origin = f"policy pii.{finding.pii_class.value}"
            reason = f"policy action for {finding.pii_class.value.replace('_', ' ')}s"
            if wanted is MaskAction.GENERALIZE and not _can_generalize(finding, col.type):
                wanted = MaskAction.KEEP
                reason = (
                    f"no generalization for {_label(finding)}; learned as is "
                    "(differential privacy covers quasi-identifiers)"
                )
        elif col.type is LogicalType.IDENTIFIER:
            wanted = MaskAction.REKEY
            origin = ""
            reason = "key column: fresh keys are generated, real keys are never learned"
        else:
            wanted = MaskAction.KEEP
            origin = ""
            reason = "no PII found"
        action, refused = _checked(wanted, finding, col.type, origin)
        actions.append(
            ColumnAction(
                finding.column, action, finding.entity, finding.pii_class, refused or reason
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


def _keyed_column(
    act: ColumnAction,
    schema: TableSchema,
    n: int,
    pseudonymizer: Pseudonymizer,
    avoid: LeakScanner | None,
) -> Any:
    """Surrogates for synthetic rows 1..n, drawn under the key: unique, the same for the
    same key and row count in every run and table, and never derived from a real value."""
    native = schema.column(act.column).native_type.upper()
    if act.entity is None and "INT" in native:
        tokens = [f"{i:012d}" for i in range(1, n + 1)]
        numbers = pseudonymizer.surrogates("SEQUENCE", tokens)
        return pd.array([int(t) for t in numbers], dtype="Int64")
    label = act.entity or "KEY"
    return pd.Series(
        fake_values(
            act.entity, n, seed=pseudonymizer.sequence_seed(label), avoid=avoid, unique=True
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
            out[act.column] = pd.Series(
                fake_values(act.entity, n, seed=seed + i, avoid=avoid),
                index=out.index,
                dtype=object,
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

    Pseudonymized and key (REKEY) columns keep referential integrity: the same
    value gets the same keyed surrogate in every table masked under the same key,
    so a masked copy always needs the key. Faked columns get independent values;
    free text is redacted (identifiers replaced by keyed surrogates, or by entity
    placeholders when *redact_with_surrogate* is false); kept columns are copied
    as they are.
    """
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
            out[act.column] = pd.Series(
                fake_values(act.entity, len(frame), seed=seed + i, avoid=avoid),
                index=frame.index,
                dtype=object,
            )
    return pd.DataFrame(out, index=frame.index)
