"""Value transforms applied before the synthesizer: generalization and redaction.

Each works on the distinct values of a column and maps them back, so the cost
grows with the number of distinct values, not with the number of rows.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgate.pii._analyzer import analyzer
from synthgate.pii._entities import ENTITIES, PiiClass
from synthgate.pii._recognizers import CustomRecognizer, presidio_recognizers

__all__ = [
    "GENERALIZABLE",
    "DatePrecision",
    "Generalization",
    "detected_spans",
    "generalize",
    "map_unique",
    "redact_texts",
]

GENERALIZABLE = frozenset({"DATE_OF_BIRTH", "ZIP_CODE", "AGE"})


class DatePrecision(enum.StrEnum):
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Generalization:
    date: DatePrecision = DatePrecision.MONTH
    zip_digits: int = 3
    age_band: int = 10


def map_unique(series: pd.Series, fn: Callable[[list[Any]], list[Any]]) -> pd.Series:
    """*fn* applied once per distinct non-null value of *series*, mapped back to every row."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) == 0:
        return series.copy()
    mapped = np.array([*fn(list(uniques)), None], dtype=object)
    return pd.Series(mapped[codes], index=series.index, dtype=object)


_BAND = re.compile(r"\d+-\d+")


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date)


def generalize(entity: str | None, series: pd.Series, how: Generalization) -> pd.Series:
    """Date of birth → month or year, postcode → prefix, age → band.

    The column keeps its kind, so the synthesizer and the target table see the
    same type as before: a date becomes the first day of its month (or year), a
    numeric age the lower bound of its band (``37`` → ``30`` for ten-year bands).
    Text keeps text: ``1980-05-17`` → ``1980-05``, ``37`` → ``30-39``.
    """
    if entity == "DATE_OF_BIRTH" or (
        entity is None and pd.api.types.is_datetime64_any_dtype(series)
    ):
        return _dates(series, how.date)
    if entity == "ZIP_CODE":

        def prefix(values: list[Any]) -> list[Any]:
            out = []
            for v in values:
                text = "".join(str(v).split()).upper()
                out.append(text[: how.zip_digits] if text else None)
            return out

        return map_unique(series, prefix)
    if entity == "AGE":
        return _ages(series, how.age_band)
    raise ValueError(f"no generalization for {entity or 'this column'}")


def _dates(series: pd.Series, precision: DatePrecision) -> pd.Series:
    month = precision is DatePrecision.MONTH

    def truncate(values: list[Any]) -> list[Any]:
        parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")
        out: list[Any] = []
        for raw, v in zip(values, parsed, strict=True):
            if pd.isna(v):
                out.append(None)
            elif _is_date(raw):
                out.append(dt.date(v.year, v.month if month else 1, 1))
            else:
                out.append(v.strftime("%Y-%m" if month else "%Y"))
        return out

    mapped = map_unique(series, truncate)
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(mapped).astype(series.dtype)
    return mapped


def _ages(series: pd.Series, width: int) -> pd.Series:
    numeric = pd.api.types.is_numeric_dtype(series)

    def band(values: list[Any]) -> list[Any]:
        nums = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        out: list[Any] = []
        for raw, v in zip(values, nums, strict=True):
            if isinstance(raw, str) and _BAND.fullmatch(raw.strip()):
                out.append(raw.strip())  # already a band (generalizing again changes nothing)
                continue
            if pd.isna(v):
                out.append(None)
                continue
            low = int(v) // width * width
            out.append(low if numeric else f"{low}-{low + width - 1}")
        return out

    mapped = map_unique(series, band)
    return (
        pd.Series(pd.array(mapped.tolist(), dtype="Int64"), index=series.index)
        if numeric
        else mapped
    )


def _direct_entities(recognizers: Sequence[CustomRecognizer]) -> list[str]:
    built_in = [e for e, info in ENTITIES.items() if info.pii_class is PiiClass.DIRECT]
    # spaCy's small model often labels a person in a sentence as an organisation:
    # free text loses organisations and places too (over-redaction is the safe error)
    return [*built_in, "LOCATION", "ORGANIZATION", *(r.entity for r in recognizers)]


def detected_spans(
    texts: Sequence[str], *, recognizers: Sequence[CustomRecognizer] = ()
) -> list[list[Any]]:
    """Presidio's results (direct identifiers, places, organisations; score ≥ 0.4) per text."""
    from presidio_analyzer import BatchAnalyzerEngine

    engine = BatchAnalyzerEngine(analyzer_engine=analyzer())
    extra = presidio_recognizers(recognizers) or None
    return [
        list(results)
        for results in engine.analyze_iterator(
            list(texts),
            language="en",
            batch_size=64,
            entities=_direct_entities(recognizers),
            ad_hoc_recognizers=extra,
            score_threshold=0.4,
        )
    ]


def redact_texts(
    texts: Sequence[str],
    *,
    recognizers: Sequence[CustomRecognizer] = (),
    surrogate: Callable[[str, str], str] | None = None,
) -> list[str]:
    """Each text with every detected identifier span replaced.

    By a placeholder such as ``<PERSON>``, or, with *surrogate* (entity, span →
    replacement), by a surrogate value. The detected spans are never returned.
    """
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]
    out: list[str] = []
    for text, results in zip(texts, detected_spans(texts, recognizers=recognizers), strict=True):
        if not results:
            out.append(text)
            continue
        spans = [RecognizerResult(r.entity_type, r.start, r.end, r.score) for r in results]
        if surrogate is None:
            operators = {
                e: OperatorConfig("replace", {"new_value": f"<{e}>"})
                for e in {r.entity_type for r in results}
            }
        else:
            operators = {
                e: OperatorConfig("custom", {"lambda": _replacer(surrogate, e)})
                for e in {r.entity_type for r in results}
            }
        out.append(anonymizer.anonymize(text, spans, operators).text)
    return out


def _replacer(surrogate: Callable[[str, str], str], entity: str) -> Callable[[str], str]:
    return lambda span: surrogate(entity, span)
