"""Custom recognizers as data: a company's own identifiers, declared in a policy pack.

A recognizer is an entity name, one or more regular expressions with a score,
context words that raise the score when they appear next to a match (or in
the column's name), an optional column-name pattern, and the PII class the
entity belongs to. No code is needed to add one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthgate.pii._entities import PiiClass

__all__ = ["CustomPattern", "CustomRecognizer", "check_regex"]


def check_regex(regex: str) -> str | None:
    """Why *regex* cannot be used (one line), or None when it compiles and matches text."""
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        return f"not a valid regular expression ({exc.msg} at position {exc.pos})"
    if compiled.match("") is not None:
        return "matches the empty string, so it would flag every value"
    return None


@dataclass(frozen=True, slots=True)
class CustomPattern:
    regex: str
    score: float
    name: str = ""


@dataclass(frozen=True, slots=True)
class CustomRecognizer:
    """One entity a pack adds: how to find it and what class of PII it is."""

    entity: str
    pii_class: PiiClass
    patterns: tuple[CustomPattern, ...]
    context: tuple[str, ...] = ()
    name_pattern: str | None = None  # regex over the normalised column name
    label: str = ""

    def presidio(self) -> Any:
        """The Presidio ``PatternRecognizer`` for this entity."""
        from presidio_analyzer import Pattern, PatternRecognizer

        return PatternRecognizer(
            supported_entity=self.entity,
            name=f"custom_{self.entity.lower()}",
            patterns=[
                Pattern(name=p.name or f"{self.entity.lower()}_{i}", regex=p.regex, score=p.score)
                for i, p in enumerate(self.patterns)
            ],
            context=list(self.context),
        )

    def matches_name(self, normalised_column: str) -> bool:
        return (
            self.name_pattern is not None
            and re.search(self.name_pattern, normalised_column) is not None
        )


def presidio_recognizers(recognizers: Sequence[CustomRecognizer]) -> list[Any]:
    return [r.presidio() for r in recognizers]
