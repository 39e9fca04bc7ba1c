"""PII detection (Presidio + column-name hints), masking plans and the leak scan."""

from synthgate.pii._classify import ColumnFinding, PiiClass, classify_columns
from synthgate.pii._leak import LeakScanner
from synthgate.pii._mask import ColumnAction, MaskAction, MaskPlan, apply_plan, build_plan, refill

__all__ = [
    "ColumnAction",
    "ColumnFinding",
    "LeakScanner",
    "MaskAction",
    "MaskPlan",
    "PiiClass",
    "apply_plan",
    "build_plan",
    "classify_columns",
    "refill",
]
