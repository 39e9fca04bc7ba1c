"""Column-level PII classification.

For every text column a sample of distinct non-null values is analysed with
Presidio (the column name passed as context); the share of values in which each
entity is found decides the column's entity, combined with what the column's
name announces. Only counts leave this module: no sampled value is kept,
logged or returned.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import LogicalType, TableSchema
from synthgate.pii._analyzer import analyzer
from synthgate.pii._entities import ENTITIES, PiiClass, entity_from_name

__all__ = ["ColumnFinding", "PiiClass", "classify_columns"]

MIN_SCORE = 0.4  # per-value Presidio score to count a match
MIN_SHARE = 0.5  # share of sampled values that must match to classify a column
HINTED_SHARE = 0.2  # lower bar when the column name announces the same entity
FREE_TEXT_WORDS = 6  # median words per value from which a column is free text
FREE_TEXT_SHARE = 0.1  # share of free-text values holding PII to flag the column
_IGNORED = {"ORGANIZATION", "NRP", "DATE_TIME", "MEDICAL_LICENSE", "US_BANK_NUMBER", "CRYPTO"}
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class ColumnFinding:
    """What was found in one column. Never holds a sampled value."""

    column: str
    entity: str | None
    pii_class: PiiClass
    share: float
    confidence: float
    evidence: tuple[str, ...]
    sampled: int

    @property
    def label(self) -> str:
        return ENTITIES[self.entity].label if self.entity in ENTITIES else (self.entity or "")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pii_class"] = self.pii_class.value
        data["label"] = self.label
        return data


def _sample(series: pd.Series, limit: int, seed: int) -> list[str]:
    values: Any = series.dropna().astype(str).unique()
    if len(values) > limit:
        rng = np.random.default_rng(seed)
        values = rng.choice(values, size=limit, replace=False)
    return [v for v in values.tolist() if v.strip()]


def _shares(values: list[str], column: str) -> Counter[str]:
    engine = analyzer()
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=engine)
    counts: Counter[str] = Counter()
    context = [w for w in re.split(r"[^a-z0-9]+", column.lower()) if w]
    for results in batch.analyze_iterator(values, language="en", batch_size=256, context=context):
        counts.update({r.entity_type for r in results if r.score >= MIN_SCORE})
    return counts


def _classify_text(
    column: str, values: list[str], hint: str | None
) -> tuple[str | None, PiiClass, float, float, tuple[str, ...]]:
    counts = _shares(values, column)
    n = max(len(values), 1)
    words = float(np.median([len(_WORD.findall(v)) for v in values])) if values else 0.0
    candidates = [
        (round(count / n, 2), ENTITIES[e].priority if e in ENTITIES else 0, e)
        for e, count in counts.items()
        if e not in _IGNORED
    ]
    candidates.sort(reverse=True)
    if words >= FREE_TEXT_WORDS:
        direct = [
            c
            for c in candidates
            if c[2] in ENTITIES and ENTITIES[c[2]].pii_class is PiiClass.DIRECT
        ]
        if direct and direct[0][0] >= FREE_TEXT_SHARE:
            return direct[0][2], PiiClass.FREE_TEXT, direct[0][0], direct[0][0], ("presidio",)
        return None, PiiClass.NONE, 0.0, 0.0, ()
    if hint is not None:
        share = counts.get(hint, 0) / n
        if share >= HINTED_SHARE or ENTITIES[hint].pii_class is PiiClass.DIRECT:
            evidence = ("name", "presidio") if share >= HINTED_SHARE else ("name",)
            conf = min(1.0, 0.6 + share * 0.4) if share >= HINTED_SHARE else 0.6
            return hint, ENTITIES[hint].pii_class, round(share, 4), round(conf, 3), evidence
    if candidates and candidates[0][0] >= MIN_SHARE:
        share, _, entity = candidates[0]
        info = ENTITIES.get(entity)
        pii_class = info.pii_class if info else PiiClass.DIRECT
        return entity, pii_class, share, round(share, 3), ("presidio",)
    if hint is not None:
        return hint, ENTITIES[hint].pii_class, round(counts.get(hint, 0) / n, 4), 0.5, ("name",)
    return None, PiiClass.NONE, 0.0, 0.0, ()


def classify_columns(
    frame: pd.DataFrame, schema: TableSchema, *, sample_values: int = 500, seed: int = 0
) -> list[ColumnFinding]:
    """Classify every column of *frame*; one finding per column, in schema order."""
    findings: list[ColumnFinding] = []
    for col in schema.columns:
        hint = entity_from_name(col.name)
        textual = col.type in {LogicalType.TEXT, LogicalType.CATEGORICAL} or (
            col.type is LogicalType.IDENTIFIER and frame[col.name].dtype == object
        )
        if textual and col.domain is None:
            values = _sample(frame[col.name], sample_values, seed)
            entity, pii_class, share, conf, evidence = _classify_text(col.name, values, hint)
            findings.append(
                ColumnFinding(col.name, entity, pii_class, share, conf, evidence, len(values))
            )
        elif hint is not None and col.type is not LogicalType.BOOLEAN:
            info = ENTITIES[hint]
            findings.append(ColumnFinding(col.name, hint, info.pii_class, 0.0, 0.5, ("name",), 0))
        else:
            findings.append(ColumnFinding(col.name, None, PiiClass.NONE, 0.0, 0.0, (), 0))
    return findings
