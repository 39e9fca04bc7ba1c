"""Name dictionaries: is a column's content mostly first names, last names or full names?

The dictionaries are Faker's own per-locale lists of first and last names (Faker is
already a dependency; nothing is downloaded): every locale's person provider, about
31,000 first and 28,500 last names, folded to lower case without accents, loaded once
per process (under a second, about 25 MB). ``names-dataset`` was measured and not
taken: 17 s and 1.9 GB to load, and its 1.7 million entries hold words such as
"teacher", "battery" or "paris" (see docs/pii.md).

Matching ignores case and accents, so ``miguel``, ``MIGUEL`` and ``Miguel`` are the
same name. Only shares leave this module, never a value.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

__all__ = ["NameShares", "Names", "fold", "name_dictionary", "name_shares"]

#: the locale preferred when several hold a column's names equally often
_FIRST_LOCALE = "en_US"
_FIRST_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
_LAST_ATTRS = ("last_names", "last_names_male", "last_names_female")
# words around a name that are not part of it
_TITLES = frozenset(
    re.split(
        r"\s+",
        "mr mrs ms miss mx dr prof sir dame lady lord herr frau mme mlle sr jr ii iii iv md "
        "phd dds dvm esq univ dipl ing mag dott sig sra srta don dona rev fr hon",
    )
)
_PARTICLES = frozenset(
    re.split(
        r"\s+", "van von der den de del della di da du la le st bin ibn al el ten ter dos das y"
    )
)
# words that make a "name" a firm, not a person ("Smith, Jones and Lee", "Berger GmbH")
_FIRM = frozenset(
    re.split(
        r"\s+",
        "and und et y inc llc ltd plc gmbh ag kg sa sarl sas srl spa bv nv co corp group "
        "company associates partners",
    )
)
_SPLIT = re.compile(r"[\s,;]+")
_INITIAL = re.compile(r"[^\W\d_]\.?", re.UNICODE)
_NOT_NAME = re.compile(r"[\d@/\\#:=+_|<>()\[\]{}]")


def fold(word: str) -> str:
    """Lower case without accents: ``Müller`` → ``muller``."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Names:
    """Folded first and last names, each with the locales (bit i = ``locales[i]``)
    whose list holds it."""

    first: Mapping[str, int]
    last: Mapping[str, int]
    locales: tuple[str, ...]

    def known(self, token: str, table: Mapping[str, int]) -> bool:
        if token in table:
            return True
        parts = [p for p in token.split("-") if p]
        return len(parts) > 1 and all(p in table for p in parts)

    def any_name(self, token: str) -> bool:
        return self.known(token, self.first) or self.known(token, self.last)


def _words(provider: type, attrs: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for attr in attrs:
        value = vars(provider).get(attr)
        if value is None:
            value = next((vars(b)[attr] for b in provider.__mro__ if attr in vars(b)), None)
        if isinstance(value, Mapping):
            value = list(value.keys())
        if isinstance(value, list | tuple):
            out.update(fold(str(v)) for v in value)
    # multi-word entries ("le gall", "da silva") also count word by word
    for entry in [w for w in out if " " in w]:
        out.update(p for p in entry.split() if len(p) > 2)
    return out


@cache
def name_dictionary() -> Names:
    """Every Faker locale's first and last names (loaded once per process)."""
    from faker.providers import person

    modules = sorted(m.name for m in pkgutil.iter_modules(person.__path__))
    modules.sort(key=lambda name: name != _FIRST_LOCALE)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    locales: list[str] = []
    for name in modules:
        provider = getattr(importlib.import_module(f"{person.__name__}.{name}"), "Provider", None)
        if provider is None:
            continue
        bit = 1 << len(locales)
        locales.append(name)
        for word in _words(provider, _FIRST_ATTRS):
            first[word] = first.get(word, 0) | bit
        for word in _words(provider, _LAST_ATTRS):
            last[word] = last.get(word, 0) | bit
    return Names(first, last, tuple(locales))


@dataclass(frozen=True, slots=True)
class NameShares:
    """Shares of sampled rows (weighted by how often each value occurs)."""

    first: float = 0.0  # one word, a known first name
    last: float = 0.0  # one word, a known last name
    full: float = 0.0  # two to four words shaped like a person's name
    single: float = 0.0  # rows holding one word
    locale: str | None = None  # the Faker locale whose lists hold most of the names

    @property
    def best_single(self) -> float:
        return max(self.first, self.last)

    @property
    def any(self) -> float:
        return max(self.first, self.last, self.full)


def _tokens(value: str) -> list[str] | None:
    """The words of a value that may be a name (titles dropped), or None if it cannot be."""
    if _NOT_NAME.search(value):
        return None
    words = [fold(w).strip(".'’") for w in _SPLIT.split(value.strip()) if w.strip(".'’")]
    words = [w for w in words if w.replace(".", "") not in _TITLES or len(words) == 1]
    if not words or len(words) > 6 or any(w in _FIRM for w in words):
        return None
    return words


def _is_initial(word: str) -> bool:
    return _INITIAL.fullmatch(word) is not None


def _full_name(words: list[str], names: Names, comma: bool) -> int:
    """The locale bits of a full name (0 if *words* are not shaped like one; 1 when
    the name's parts share no locale)."""
    core = [w for w in words if w not in _PARTICLES]
    if not 2 <= len(core) <= 4:
        return 0
    head, tail = (core[-1], core[0]) if comma else (core[0], core[-1])  # "Smith, John"
    if _is_initial(tail):
        head, tail = tail, head  # "Smith J."
    if _is_initial(tail):
        return 0
    if _is_initial(head):  # "J. Smith"
        return (names.last.get(tail, 0) or 1) if names.known(tail, names.last) else 0
    # given name then family name, or the other way round ("HERNANDEZ MIGUEL")
    if names.known(head, names.first) and names.known(tail, names.last):
        return (names.first.get(head, 0) & names.last.get(tail, 0)) or 1
    if names.known(head, names.last) and names.known(tail, names.first):
        return (names.last.get(head, 0) & names.first.get(tail, 0)) or 1
    return 0


def name_shares(counts: Mapping[str, int], names: Names | None = None) -> NameShares:
    """How many of the rows behind *counts* (value → rows) hold known names."""
    names = names or name_dictionary()
    total = sum(counts.values())
    if total == 0:
        return NameShares()
    first = last = full = single = 0
    by_bits: Counter[int] = Counter()
    for value, n in counts.items():
        words = _tokens(value)
        if words is None:
            continue
        bits = 0
        if len(words) == 1:
            single += n
            word = words[0]
            if names.known(word, names.first):
                first += n
                bits |= names.first.get(word, 0)
            if names.known(word, names.last):
                last += n
                bits |= names.last.get(word, 0)
        else:
            bits = _full_name(words, names, "," in value)
            full += n if bits else 0
        if bits:
            by_bits[bits] += n
    return NameShares(
        first / total, last / total, full / total, single / total, _locale(by_bits, names)
    )


def _locale(by_bits: Mapping[int, int], names: Names) -> str | None:
    """The locale whose lists hold the most rows' names (the first listed on a tie)."""
    votes = [0] * len(names.locales)
    for bits, n in by_bits.items():
        for i in range(bits.bit_length()):
            if bits >> i & 1:
                votes[i] += n
    if not votes or max(votes) == 0:
        return None
    return names.locales[votes.index(max(votes))]
