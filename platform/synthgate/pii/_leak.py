"""Leak scan: does any real direct-identifier value appear in an output?

Real values are never kept in plain text: the scanner holds HMAC-SHA256
digests under a key drawn for this scan and discarded with it, and compares
digests of the output's values against them. Every released text column is
checked against the values of every column classified or suspected as a direct
identifier, except the values that column itself holds in the real table ("Low"
in a risk-score column is no replay of the surname Low).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LeakScanner", "normalise", "scan_text_columns"]


def normalise(value: object) -> str:
    return " ".join(str(value).split()).casefold()


class LeakScanner:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._digests: set[bytes] = set()
        # per column: identifier digests that are also that column's own real values
        self._own: dict[str, set[bytes]] = {}
        # integer identifier columns, checked against their own real values only (a small
        # number in any other column says nothing)
        self._integers: dict[str, set[bytes]] = {}

    def digest(self, value: object) -> bytes:
        return hmac.new(self._key, normalise(value).encode(), hashlib.sha256).digest()

    def add(self, values: Iterable[object]) -> None:
        self._digests.update(
            self.digest(v)
            for v in values
            if v is not None and not (isinstance(v, float) and math.isnan(v))
        )

    def add_frame(self, frame: pd.DataFrame, columns: Iterable[str]) -> None:
        """The real values of *columns* (identifiers). The other text columns' own real
        values are noted so that a value a column holds anyway does not count as a
        replay there ("Low" in a risk-score column, "Brown" in a colour column, the
        surnames Low and Brown elsewhere); any other identifier value still does."""
        chosen = list(columns)
        for col in chosen:
            values = frame[col].dropna().unique().tolist()
            self.add(values)
            if pd.api.types.is_integer_dtype(frame[col].dtype):
                self._integers[str(col)] = {self.digest(v) for v in values}
        if not self._digests:
            return
        for col in frame.columns:
            if col in chosen or not _textual(frame[col]):
                continue
            own = {self.digest(v) for v in frame[col].dropna().unique().tolist()}
            shared = own & self._digests
            if shared:
                self._own[str(col)] = shared

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, value: object) -> bool:
        return self.digest(value) in self._digests

    def scan(self, frame: pd.DataFrame) -> dict[str, int]:
        """Per text column of *frame* (and integer identifier column), how many cells
        equal a real identifier."""
        counts: dict[str, int] = {}
        for col in frame.columns:
            series = frame[col]
            ints = self._integers.get(str(col))
            if ints is not None and pd.api.types.is_integer_dtype(series.dtype):
                counts[str(col)] = sum(
                    1 for v in series.dropna().tolist() if self.digest(v) in ints
                )
                continue
            if not _textual(series):
                continue
            own = self._own.get(str(col), set())
            counts[str(col)] = sum(
                1
                for v in series.dropna().tolist()
                if (d := self.digest(v)) in self._digests and d not in own
            )
        return counts


def _textual(series: pd.Series) -> bool:
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


_NOT_LEAKS = frozenset({"LOCATION", "ORGANIZATION"})


def scan_text_columns(
    frame: pd.DataFrame,
    columns: Iterable[str],
    *,
    recognizers: Sequence[Any] = (),
    limit: int = 1000,
    seed: int = 0,
    issued: Collection[str] = frozenset(),
) -> dict[str, int]:
    """Per free-text column of an output, how many of (up to *limit*) distinct values
    Presidio still finds a direct identifier in. Only counts are returned.

    A span whose text is a surrogate that redaction wrote (*issued*) is not a leak."""
    from synthgate.pii._transform import detected_spans

    counts: dict[str, int] = {}
    for col in columns:
        if col not in frame.columns:
            continue
        values: Any = frame[col].dropna().astype(str).unique()
        if len(values) > limit:
            values = np.random.default_rng(seed).choice(values, size=limit, replace=False)
        texts = [v for v in values.tolist() if v.strip()]
        found = detected_spans(texts, recognizers=recognizers)
        # places and organisations are not identifiers of a person: not a leak
        counts[col] = sum(
            1
            for text, spans in zip(texts, found, strict=True)
            if any(
                s.entity_type not in _NOT_LEAKS and text[s.start : s.end] not in issued
                for s in spans
            )
        )
    return counts
