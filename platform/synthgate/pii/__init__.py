"""PII detection (column names, Presidio, name dictionaries, uniqueness and shape),
masking plans and the leak scan."""

from synthgate.pii._classify import ColumnFinding, PiiClass, Signals, classify_columns
from synthgate.pii._entities import ENTITIES, entity_from_name
from synthgate.pii._leak import LeakScanner, scan_text_columns
from synthgate.pii._mask import (
    MODEL_ACTIONS,
    ColumnAction,
    MaskAction,
    MaskPlan,
    apply_plan,
    build_plan,
    check_masked_copy,
    masked_copy,
    refill,
)
from synthgate.pii._pseudo import MIN_KEY_CHARS, Pseudonymizer, load_key
from synthgate.pii._recognizers import CustomPattern, CustomRecognizer, check_regex
from synthgate.pii._transform import (
    GENERALIZABLE,
    DatePrecision,
    Generalization,
    generalize,
    redact_texts,
)

__all__ = [
    "ENTITIES",
    "GENERALIZABLE",
    "MIN_KEY_CHARS",
    "MODEL_ACTIONS",
    "ColumnAction",
    "ColumnFinding",
    "CustomPattern",
    "CustomRecognizer",
    "DatePrecision",
    "Generalization",
    "LeakScanner",
    "MaskAction",
    "MaskPlan",
    "PiiClass",
    "Pseudonymizer",
    "Signals",
    "apply_plan",
    "build_plan",
    "check_masked_copy",
    "check_regex",
    "classify_columns",
    "entity_from_name",
    "generalize",
    "load_key",
    "masked_copy",
    "redact_texts",
    "refill",
    "scan_text_columns",
]
