"""Column-level PII classification.

For every text column a sample of distinct non-null values is analysed with
Presidio (the column name passed as context); the share of values in which each
entity is found decides the column's entity, combined with what the column's
name announces. Only counts leave this module: no sampled value is kept,
logged or returned.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import LogicalType, TableSchema
from synthgate.pii._analyzer import analyzer
from synthgate.pii._entities import ENTITIES, PiiClass, entity_from_name, normalise_column
from synthgate.pii._recognizers import CustomRecognizer, presidio_recognizers

__all__ = ["ColumnFinding", "PiiClass", "classify_columns"]

MIN_SCORE = 0.4  # per-value Presidio score to count a match
MIN_SHARE = 0.5  # share of sampled values that must match to classify a column
PERSON_SHARE = 0.7  # higher bar for spaCy's PERSON without a name hint (brands, products)
HINTED_SHARE = 0.2  # lower bar when the column name announces the same entity
FREE_TEXT_WORDS = 6  # median words per value from which a column is free text
FREE_TEXT_SHARE = 0.1  # share of free-text values holding PII to flag the column
BATCHES = (100, 400)  # values analysed first; more only while the column is undecided
ALSO_SHARE = 0.2  # other entities at this share are listed beside the main one
_IGNORED = {"ORGANIZATION", "NRP", "DATE_TIME", "MEDICAL_LICENSE", "CRYPTO", "ID", "UUID", "AGE"}
# words in a column's name that say its values are things, not people
_NOT_PEOPLE = re.compile(
    r"(^|_)(product|item|brand|model|sku|company|org|organisation|organization|vendor|"
    r"merchant|title|category|plan|tier|team|project|device|app|service|store|shop)(_|$)"
)
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
    also: tuple[str, ...] = ()  # other entities found in at least ALSO_SHARE of the values
    analysed: int = 0  # values Presidio read (a first batch decides clear columns)

    @property
    def label(self) -> str:
        return ENTITIES[self.entity].label if self.entity in ENTITIES else (self.entity or "")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pii_class"] = self.pii_class.value
        data["label"] = self.label
        return data


def _sample(series: pd.Series, limit: int, seed: int) -> list[str]:
    """Up to *limit* distinct non-empty values, drawn from a row sample (not all rows)."""
    rng = np.random.default_rng(seed)
    present = series.dropna()
    if len(present) > limit * 20:
        present = present.iloc[rng.choice(len(present), size=limit * 20, replace=False)]
    values: Any = present.astype(str).unique()
    if len(values) > limit:
        values = rng.choice(values, size=limit, replace=False)
    return [v for v in values.tolist() if v.strip()]


@dataclass(frozen=True)
class _Catalog:
    """Built-in entities plus a pack's custom recognizers."""

    recognizers: tuple[CustomRecognizer, ...]

    def pii_class(self, entity: str) -> PiiClass:
        if entity in ENTITIES:
            return ENTITIES[entity].pii_class
        custom = next((r for r in self.recognizers if r.entity == entity), None)
        return custom.pii_class if custom else PiiClass.DIRECT

    def priority(self, entity: str) -> int:
        # a company's own identifier is more specific than any built-in pattern
        return (
            200
            if self.is_custom(entity)
            else ENTITIES[entity].priority
            if entity in ENTITIES
            else 0
        )

    def is_custom(self, entity: str) -> bool:
        return any(r.entity == entity for r in self.recognizers)

    def hint(self, column: str) -> str | None:
        norm = normalise_column(column)
        for rec in self.recognizers:
            if rec.matches_name(norm):
                return rec.entity
        return entity_from_name(column)


def _shares(values: list[str], column: str, catalog: _Catalog) -> Counter[str]:
    """How many of *values* hold each entity (each value counted once per entity)."""
    engine = analyzer()
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=engine)
    counts: Counter[str] = Counter()
    context = [w for w in re.split(r"[^a-z0-9]+", column.lower()) if w]
    extra = presidio_recognizers(catalog.recognizers) or None
    for results in batch.analyze_iterator(
        values,
        language="en",
        batch_size=256,
        context=context,
        ad_hoc_recognizers=extra,
        entities=_entities(engine, catalog),
    ):
        counts.update({r.entity_type for r in results if r.score >= MIN_SCORE})
    return counts


def _entities(engine: Any, catalog: _Catalog) -> list[str]:
    """The entities worth looking for (skipping ignored recognizers saves a quarter)."""
    supported = {e for r in engine.registry.recognizers for e in r.supported_entities}
    return sorted((supported - _IGNORED) | {r.entity for r in catalog.recognizers})


def _threshold(entity: str) -> float:
    return PERSON_SHARE if entity == "PERSON" else MIN_SHARE


def _undecided(
    counts: Counter[str], n: int, hint: str | None, free_text: bool, catalog: _Catalog
) -> bool:
    """Whether a batch of *n* values leaves the decision open: a share that decides it
    lies within three standard errors of its threshold, or two entities are close."""
    margin = 3 * math.sqrt(0.25 / max(n, 1))
    shares = {e: c / n for e, c in counts.items() if e not in _IGNORED}
    if free_text:
        direct = [v for e, v in shares.items() if catalog.pii_class(e) is PiiClass.DIRECT]
        return any(abs(v - FREE_TEXT_SHARE) < margin for v in direct)
    if hint is not None:
        hinted = shares.get(hint, 0.0)
        if abs(hinted - HINTED_SHARE) < margin:
            return True
        if hinted >= HINTED_SHARE or catalog.pii_class(hint) is PiiClass.DIRECT:
            return False
    ranked = sorted(((v, e) for e, v in shares.items() if _allowed(e, hint)), reverse=True)
    if any(abs(v - _threshold(e)) < margin for v, e in ranked):
        return True
    passing = [(v, e) for v, e in ranked if v >= _threshold(e)]
    # a close runner-up matters only if it would win a tie (higher priority)
    return (
        len(passing) > 1
        and passing[1][0] > passing[0][0] - 2 * margin
        and catalog.priority(passing[1][1]) > catalog.priority(passing[0][1])
    )


def _counted(
    column: str, values: list[str], hint: str | None, free_text: bool, catalog: _Catalog
) -> tuple[Counter[str], int]:
    """Entity counts over *values* (scaled to all of them) and how many were analysed:
    growing batches (100, 400, all), stopping as soon as the column is decided."""
    counts: Counter[str] = Counter()
    done = 0
    for size in (*BATCHES, len(values)):
        upto = min(size, len(values))
        if upto > done:
            counts += _shares(values[done:upto], column, catalog)
            done = upto
        if done == len(values) or not _undecided(counts, done, hint, free_text, catalog):
            break
    if done == len(values):
        return counts, done
    # scale the analysed values' counts to the whole sample so shares are comparable
    scaled = Counter({e: round(c * len(values) / done) for e, c in counts.items()})
    return scaled, done


def _allowed(entity: str, hint: str | None) -> bool:
    info = ENTITIES.get(entity)
    return not (info is not None and info.hint_only and hint != entity)


def _eligible(entity: str, share: float, column: str, hint: str | None, catalog: _Catalog) -> bool:
    """Whether an entity matched by values alone may name the column."""
    if entity in _IGNORED or not _allowed(entity, hint):
        return False
    if entity == "PERSON" and hint != "PERSON":
        return share >= PERSON_SHARE and not _NOT_PEOPLE.search(normalise_column(column))
    return share >= MIN_SHARE


_Result = tuple[str | None, PiiClass, float, float, tuple[str, ...], tuple[str, ...]]


def _classify_text(
    column: str, values: list[str], hint: str | None, catalog: _Catalog
) -> tuple[_Result, int]:
    words = float(np.median([len(_WORD.findall(v)) for v in values])) if values else 0.0
    counts, analysed = _counted(column, values, hint, words >= FREE_TEXT_WORDS, catalog)
    return _decide(column, values, hint, catalog, counts), analysed


def _decide(
    column: str, values: list[str], hint: str | None, catalog: _Catalog, counts: Counter[str]
) -> _Result:
    n = max(len(values), 1)
    words = float(np.median([len(_WORD.findall(v)) for v in values])) if values else 0.0
    candidates = [
        (round(count / n, 2), catalog.priority(e), e)
        for e, count in counts.items()
        if e not in _IGNORED
    ]
    candidates.sort(reverse=True)
    also = tuple(e for share, _, e in candidates if share >= ALSO_SHARE)
    if words >= FREE_TEXT_WORDS:
        direct = [c for c in candidates if catalog.pii_class(c[2]) is PiiClass.DIRECT]
        if direct and direct[0][0] >= FREE_TEXT_SHARE:
            share = direct[0][0]
            return direct[0][2], PiiClass.FREE_TEXT, share, share, ("presidio",), also
        return None, PiiClass.NONE, 0.0, 0.0, (), also
    if hint is not None:
        share = counts.get(hint, 0) / n
        if share >= HINTED_SHARE or catalog.pii_class(hint) is PiiClass.DIRECT:
            evidence = ("name", "presidio") if share >= HINTED_SHARE else ("name",)
            conf = min(1.0, 0.6 + share * 0.4) if share >= HINTED_SHARE else 0.6
            return hint, catalog.pii_class(hint), round(share, 4), round(conf, 3), evidence, also
    for share, _, entity in candidates:
        if _eligible(entity, share, column, hint, catalog):
            return entity, catalog.pii_class(entity), share, round(share, 3), ("presidio",), also
    if hint is not None:
        share = round(counts.get(hint, 0) / n, 4)
        return hint, catalog.pii_class(hint), share, 0.5, ("name",), also
    return None, PiiClass.NONE, 0.0, 0.0, (), also


def classify_columns(
    frame: pd.DataFrame,
    schema: TableSchema,
    *,
    sample_values: int = 1000,
    seed: int = 0,
    recognizers: Sequence[CustomRecognizer] = (),
) -> list[ColumnFinding]:
    """Classify every column of *frame*; one finding per column, in schema order.

    *recognizers* are a policy pack's own entities; they are matched in values
    and, through their name patterns, in column names.
    """
    catalog = _Catalog(tuple(recognizers))
    findings: list[ColumnFinding] = []
    for col in schema.columns:
        hint = catalog.hint(col.name)
        textual = col.type in {LogicalType.TEXT, LogicalType.CATEGORICAL} or (
            col.type is LogicalType.IDENTIFIER and frame[col.name].dtype == object
        )
        if textual and col.domain is None:
            values = _sample(frame[col.name], sample_values, seed)
            result, analysed = _classify_text(col.name, values, hint, catalog)
            entity, pii_class, share, conf, evidence, also = result
            others = tuple(a for a in also if a != entity)
            findings.append(
                ColumnFinding(
                    col.name,
                    entity,
                    pii_class,
                    share,
                    conf,
                    evidence,
                    len(values),
                    others,
                    analysed,
                )
            )
        elif hint is not None and col.type is not LogicalType.BOOLEAN:
            findings.append(
                ColumnFinding(col.name, hint, catalog.pii_class(hint), 0.0, 0.5, ("name",), 0)
            )
        else:
            findings.append(ColumnFinding(col.name, None, PiiClass.NONE, 0.0, 0.0, (), 0))
    return findings
