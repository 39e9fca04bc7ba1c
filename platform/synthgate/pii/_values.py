"""What a column's values look like, from a row sample: uniqueness, words, code shapes.

Every figure here is a share or a shape; a value never leaves this module except as
the distinct sample :mod:`synthgate.pii._classify` hands to Presidio. Shapes are
character classes per position (``99999999AA99A`` for ``13011352CF10A``): they say
how a code is written, never which code.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Profile",
    "counter_like",
    "floor_share",
    "is_code",
    "profile",
    "row_sample",
    "shape_of",
]

ROWS_PER_VALUE = 20  # rows read per distinct value sampled (1,000 values → 20,000 rows)
MAX_SHAPES = 3
# a word has a letter: "+33 1 23 45 67 89" is no sentence, "J. Smith" two words
_WORD = re.compile(r"\S*[^\W\d_]\S*", re.UNICODE)
# letters and digits, joined by single separators: CUS-004211, 17-000003, 13011352CF10A
_CODE = re.compile(r"[A-Za-z0-9]+(?:[-_/.:#][A-Za-z0-9]+)*")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")
_ALPHA = re.compile(r"[^\W\d_]+(?:[-'.][^\W\d_]+)*", re.UNICODE)
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def is_code(value: str) -> bool:
    """Whether *value* is written like an identifier: letters and digits with single
    separators, at least one digit, 4 to 64 characters; not a date or a decimal
    number, and a plain number only with six digits or more or a leading zero."""
    if not 4 <= len(value) <= 64 or not any(c.isdigit() for c in value):
        return False
    if _CODE.fullmatch(value) is None or _DATE.fullmatch(value) is not None:
        return False
    if value.isdigit():
        return len(value) >= 6 or value.startswith("0")
    return _NUMBER.fullmatch(value) is None


def _class(ch: str) -> str:
    if ch.isdigit():
        return "9"
    if ch.isalpha():
        return "A" if ch.isupper() else "a"
    return ch


def shape_of(values: list[str]) -> str:
    """One shape for values of one length: per position ``9`` (digits), ``A``/``a``
    (letters), ``X``/``x`` (letters or digits), or the separator found there."""
    out = []
    for chars in zip(*values, strict=True):
        kinds = {_class(c) for c in chars}
        if len(kinds) == 1:
            out.append(kinds.pop())
        elif kinds <= {"9", "A", "a"}:
            out.append("x" if "a" in kinds and "A" not in kinds else "X")
        else:
            out.append(Counter(_class(c) for c in chars).most_common(1)[0][0])
    return "".join(out)


def _shapes(codes: list[str]) -> tuple[str, ...]:
    if codes and sum(_UUID.fullmatch(c) is not None for c in codes) >= 0.9 * len(codes):
        return ("uuid",)
    by_length: dict[int, list[str]] = {}
    for code in codes:
        by_length.setdefault(len(code), []).append(code)
    common = sorted(by_length.values(), key=len, reverse=True)[:MAX_SHAPES]
    return tuple(shape_of(group) for group in common)


def floor_share(share: float, step: float = 0.1) -> float:
    """*share* rounded down to *step*: a bucket, not a measurement."""
    return round(math.floor(share / step + 1e-9) * step, 2)


def row_sample(series: pd.Series, rows: int, seed: int) -> pd.Series:
    """Up to *rows* non-null rows of *series*, drawn uniformly (all when fewer)."""
    present = series.dropna()
    if len(present) > rows:
        rng = np.random.default_rng(seed)
        present = present.iloc[np.sort(rng.choice(len(present), size=rows, replace=False))]
    return present


def counter_like(series: pd.Series, table_rows: int, seed: int) -> bool:
    """Whether integers look like a row counter: distinct in a row sample, not
    negative, and dense (their range at most three times the table's rows)."""
    sample = row_sample(series, 20_000, seed)
    if len(sample) < 20 or not sample.is_unique:
        return False
    low, high = int(sample.min()), int(sample.max())
    return low >= 0 and high - low + 1 <= 3 * max(table_rows, len(sample))


@dataclass(frozen=True, slots=True)
class Profile:
    """A text column's sample: distinct values (for Presidio) and figures."""

    values: list[str]  # up to *limit* distinct non-empty values
    counts: dict[str, int]  # value → rows, over the row sample
    rows: int  # non-null rows in the row sample
    uniqueness: float  # distinct values / rows, in the row sample
    words: float  # median words (tokens with a letter) per distinct value
    multiword: float  # share of distinct values with two words or more
    code_like: float  # share of distinct values written like identifiers
    alpha: float  # share of distinct values made of letters only (words, handles)
    case: str | None  # "lower" or "upper" when ≥ 90 % of the values are
    shapes: tuple[str, ...]  # how the code-like values are written

    @property
    def distinct(self) -> int:
        return len(self.counts)


def _case(values: list[str]) -> str | None:
    cased = [v for v in values if v.lower() != v.upper()]
    if not cased:
        return None
    if sum(v.islower() for v in cased) >= 0.9 * len(cased):
        return "lower"
    if sum(v.isupper() for v in cased) >= 0.9 * len(cased):
        return "upper"
    return None


def profile(series: pd.Series, limit: int, seed: int) -> Profile:
    """Figures of a text column from a row sample of ``limit × 20`` rows, and up to
    *limit* of its distinct non-empty values."""
    sample = row_sample(series, limit * ROWS_PER_VALUE, seed)
    texts = sample.astype(str)
    counts = {str(k): int(v) for k, v in texts.value_counts(sort=False).items() if str(k).strip()}
    distinct = list(counts)
    values: Any = distinct
    if len(distinct) > limit:
        values = np.random.default_rng(seed).choice(np.array(distinct, dtype=object), limit, False)
        values = values.tolist()
    n = max(len(values), 1)
    words = [len(_WORD.findall(v)) for v in values]
    codes = [v for v in values if is_code(v)]
    return Profile(
        values=list(values),
        counts=counts,
        rows=int(sum(counts.values())),
        uniqueness=len(counts) / max(sum(counts.values()), 1),
        words=float(np.median(words)) if words else 0.0,
        multiword=sum(w >= 2 for w in words) / n,
        code_like=len(codes) / n,
        alpha=sum(_ALPHA.fullmatch(v) is not None for v in values) / n,
        case=_case(list(values)),
        shapes=_shapes(codes),
    )
