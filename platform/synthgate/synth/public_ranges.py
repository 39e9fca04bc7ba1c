"""Ranges known to everyone, by what a column's name says it holds.

A DP range costs budget and, on a wide table where each column's share is small,
cuts long thin tails (ages past 40 in a court table). Some ranges need no data at
all: an age lies in [0, 100] (an older age is kept at 100), a date of birth
between 1900-01-01 and today. A
column whose *name* announces an age or a date of birth, with no range declared
in the spec or the catalog, gets that range as a public fact: no row is read to
choose it, so it costs nothing. A declared range always wins.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from synthgate.contracts import ColumnSchema
from synthgate.pii import entity_from_name

__all__ = ["AGE_RANGE", "BIRTH_START", "public_range"]

#: ages past 100 are rare enough to be kept at 100: a wider range is mostly empty
#: cells, whose noise would hide a thin real tail of old ages from the trimming
AGE_RANGE = (0.0, 100.0)
BIRTH_START = date(1900, 1, 1)
_EPOCH = date(1970, 1, 1)


def _days(day: date) -> float:
    return float((day - _EPOCH).days)


def public_range(col: ColumnSchema, *, today: date | None = None) -> tuple[float, float] | None:
    """The public range of *col* by its name, in the engines' units (a date as days
    since 1970-01-01), or None (also when *col* has a range already)."""
    if col.bounds is not None:
        return None
    entity = entity_from_name(col.name)
    if entity == "AGE" and col.type.is_numeric:
        return AGE_RANGE
    if entity == "DATE_OF_BIRTH" and col.type.is_temporal:
        end = today or datetime.now(UTC).date()
        return _days(BIRTH_START), _days(end) + 1.0
    return None
