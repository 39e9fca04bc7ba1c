"""Columns that look like protected attributes, told by their names only.

Used where a job spec names no ``validation.protected_attributes``: the bias
checks then compare the groups of these columns, and the report says the
attributes were recognised by name. Names only — never values — so the
suggestion reveals nothing about the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["suggest_protected"]

_PROTECTED_NAME = re.compile(
    r"(^|_)(gender|sex|race|ethnicity|ethnic_group|religion|nationality|citizenship|"
    r"age|age_band|age_group|age_cat|disability|disabled|marital_status|pregnant|pregnancy|"
    r"sexual_orientation|orientation)(_|$)"
)


def suggest_protected(names: Iterable[str]) -> list[str]:
    """The names among *names* that read as protected attributes (case and
    separators ignored: ``Gender``, ``marital-status``, ``age_cat``)."""
    return [n for n in names if _PROTECTED_NAME.search(re.sub(r"[^a-z0-9]+", "_", n.lower()))]
