"""The masking plan: what happens to each column before and after synthesis."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synthgate.contracts import LogicalType, TableSchema
from synthgate.pii._classify import ColumnFinding, PiiClass
from synthgate.pii._fake import fake_values
from synthgate.pii._leak import LeakScanner

__all__ = ["ColumnAction", "MaskAction", "MaskPlan", "apply_plan", "build_plan", "refill"]


class MaskAction(enum.StrEnum):
    KEEP = "keep"  # goes to the synthesizer
    DROP = "drop"  # absent from the release
    FAKE = "fake"  # never seen by the synthesizer; independent fake values in the output
    REKEY = "rekey"  # a key column: fresh unique keys in the output, never learned


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
    def direct_identifiers(self) -> list[str]:
        return [a.column for a in self.actions if a.pii_class is PiiClass.DIRECT]

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "column_order": list(self.column_order),
        }


def build_plan(
    findings: list[ColumnFinding],
    schema: TableSchema,
    *,
    class_actions: Mapping[PiiClass, MaskAction],
    overrides: Mapping[str, MaskAction],
) -> MaskPlan:
    """Decide per column. Direct identifiers can never be KEEP."""
    actions = []
    for finding in findings:
        col = schema.column(finding.column)
        if finding.column in overrides:
            action = overrides[finding.column]
            reason = "set in the job spec (pii.columns)"
            if action is MaskAction.KEEP and finding.pii_class is PiiClass.DIRECT:
                action = MaskAction.FAKE
                reason = "direct identifiers never reach the synthesizer; 'keep' refused"
        elif finding.pii_class is not PiiClass.NONE:
            action = class_actions.get(finding.pii_class, MaskAction.DROP)
            reason = f"policy action for {finding.pii_class.value.replace('_', ' ')}s"
        elif col.type is LogicalType.IDENTIFIER:
            action = MaskAction.REKEY
            reason = "key column: fresh keys are generated, real keys are never learned"
        else:
            action = MaskAction.KEEP
            reason = "no PII found"
        actions.append(
            ColumnAction(finding.column, action, finding.entity, finding.pii_class, reason)
        )
    return MaskPlan(tuple(actions), tuple(schema.column_names))


def apply_plan(frame: pd.DataFrame, plan: MaskPlan) -> pd.DataFrame:
    """Only the KEEP columns go on to the synthesizer."""
    return frame[plan.columns(MaskAction.KEEP)]


def refill(
    synthetic: pd.DataFrame,
    plan: MaskPlan,
    schema: TableSchema,
    *,
    seed: int,
    avoid: LeakScanner | None = None,
) -> pd.DataFrame:
    """Add FAKE and REKEY columns to a sampled frame, in the source's column order."""
    out = synthetic.copy()
    n = len(out)
    for i, act in enumerate(plan.actions):
        if act.action is MaskAction.FAKE:
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
    keep = [c for c in plan.column_order if c in out.columns]
    return out[keep]
