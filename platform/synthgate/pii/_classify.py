"""Column-level PII classification.

Each column is judged as a whole, from several kinds of evidence:

* its **name** (``e_mail``, ``vorname``, ``case_number`` …; see :mod:`._entities`);
* **recognizers**: Presidio's (and a pack's own) over a sample of distinct values,
  the column name passed as context;
* **name dictionaries**: the share of sampled rows holding a known first, last or
  full name (Faker's lists for every locale, case and accents ignored;
  :mod:`._names`), so a column of ``miguel``/``HERNANDEZ`` is a name column even
  where spaCy sees no person;
* **uniqueness and shape**: distinct values per row in a row sample, and whether the
  values are written like codes (``13011352CF10A``, ``CUS-004211``, UUIDs): a column
  unique per row and code-like is a record identifier; integers counting rows too.

A column is classified, or **suspected** when the evidence is partial (PERSON in
some values, nearly unique codes): suspected columns are treated as direct
identifiers, and a masked copy refuses them until the job spec decides.

Only rounded figures leave this module: no sampled value is kept, logged or
returned, and uniqueness is floored to a tenth.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from synthgate.contracts import LogicalType, TableSchema
from synthgate.pii._analyzer import analyzer
from synthgate.pii._entities import (
    ENTITIES,
    PERSON_KINDS,
    PiiClass,
    entity_from_name,
    id_from_name,
    normalise_column,
    weak_person_hint,
)
from synthgate.pii._names import NameShares, name_shares
from synthgate.pii._recognizers import CustomRecognizer, presidio_recognizers
from synthgate.pii._values import Profile, counter_like, floor_share, profile, row_sample

__all__ = ["ColumnFinding", "PiiClass", "Signals", "classify_columns"]

MIN_SCORE = 0.4  # per-value Presidio score to count a match
MIN_SHARE = 0.5  # share of sampled values that must match to classify a column
PERSON_SHARE = 0.7  # higher bar for spaCy's PERSON without a name hint (brands, products)
HINTED_SHARE = 0.2  # lower bar when the column name announces the same entity
FREE_TEXT_WORDS = 6  # median words per value from which a column is free text
FREE_TEXT_SHARE = 0.1  # share of free-text values holding PII to flag the column
BATCHES = (100, 400)  # values analysed first; more only while the column is undecided
ALSO_SHARE = 0.2  # other entities at this share are listed beside the main one
NAME_SHARE = 0.5  # rows holding known names for a name column without a name hint
SUSPECT_NAME_SHARE = 0.3  # … for a suspected one
SINGLE_WORD = 0.8  # share of one-word rows from which a name column is first or last names
MIN_DISTINCT = 20  # distinct values a column needs before its values alone say "names"
SUSPECT_DISTINCT = 100  # … before partial evidence makes it suspected (or half unique)
UNIQUE = 0.9  # distinct values per row from which a code column is an identifier
CODE_SHARE = 0.9  # share of code-like values for an identifier without a telling name
FREE_TEXT_UNIQUE = 0.5  # distinct per row from which sentences without PII are free text
FREE_TEXT_MULTIWORD = 0.3  # share of values with two words or more, for the same
PHRASES_DISTINCT = 50  # … and at least this many distinct values
PHRASES_UNIQUE = 0.3  # … and this many distinct values per row (typed by hand, not picked)
_IGNORED = {"ORGANIZATION", "NRP", "DATE_TIME", "MEDICAL_LICENSE", "CRYPTO", "ID", "UUID", "AGE"}
# words in a column's name that say its values are things, not people
_NOT_PEOPLE = re.compile(
    r"(^|_)(product|item|brand|model|sku|company|org|organisation|organization|vendor|"
    r"merchant|title|category|plan|tier|team|project|device|app|service|store|shop|"
    r"city|town|country|state|region|street|colou?r|race|ethnicity|religion|language|"
    r"nationality|diagnosis|drug|charge|offen[cs]e|disease|species|breed)(_|$)"
)
# codes of things, not of people or their records, even when unique in a catalogue
_NOT_PERSONAL_CODE = re.compile(
    r"(^|_)(sku|product|item|part|model|isbn|issn|ean|upc|gtin|asin|mpn|catalog(ue)?|"
    r"article|barcode)(_|$)"
)


@dataclass(frozen=True, slots=True)
class Signals:
    """The evidence that decided a column, rounded: never a value or an exact count."""

    name_hint: str | None = None  # what the column's name announces
    recognizer: str | None = None  # the entity recognizers found most often
    recognizer_share: float = 0.0  # its share of the sampled values (2 decimals)
    dictionary: str | None = None  # first | last | full: the name lists that matched most
    dictionary_share: float = 0.0  # share of sampled rows holding such names (2 decimals)
    uniqueness: float | None = None  # distinct values per row in a row sample, floored to 0.1
    code_like: float | None = None  # share of values written like codes, floored to 0.1
    words: float | None = None  # median words per value

    def text(self) -> str:
        """One line for a terminal or a report: ``name first · dictionary first 0.82``."""
        parts = []
        if self.name_hint:
            parts.append(f"name: {self.name_hint.lower()}")
        if self.dictionary:
            parts.append(f"dictionary {self.dictionary} {self.dictionary_share:.2f}")
        if self.recognizer:
            parts.append(f"{self.recognizer} {self.recognizer_share:.2f}")
        if self.uniqueness:
            parts.append(f"unique ≥{self.uniqueness:.1f}")
        if self.code_like:
            parts.append(f"code-like ≥{self.code_like:.1f}")
        return " · ".join(parts)


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
    suspected: bool = False  # partial evidence: treated as PII until the job spec decides
    signals: Signals = field(default_factory=Signals)
    locale: str | None = None  # the Faker locale whose name lists hold most of the names
    case: str | None = None  # "lower" / "upper" when nearly every value is written so
    shapes: tuple[str, ...] = ()  # how code-like values are written (``AAA-999999``)

    @property
    def label(self) -> str:
        return ENTITIES[self.entity].label if self.entity in ENTITIES else (self.entity or "")

    def to_dict(self) -> dict[str, Any]:
        """What a report or a stage artifact keeps: counts rounded (:func:`about`) and
        shares to steps of 0.05, so one value more or less in a column rarely moves a
        figure; the classification itself used the exact figures in memory."""
        data = asdict(self)
        data["pii_class"] = self.pii_class.value
        data["label"] = self.label
        data["sampled"] = about(self.sampled)
        data["analysed"] = about(self.analysed)
        data["share"] = _step(self.share)
        data["confidence"] = _step(self.confidence)
        return data


def about(count: int) -> int:
    """*count* rounded for display: 0 stays 0, under 100 to the nearest ten (at least
    10), above to two significant figures."""
    if count <= 0:
        return 0
    if count < 100:
        return max(10, round(count, -1))
    return round(count, 2 - len(str(count)))


def _step(share: float) -> float:
    return round(round(share * 20) / 20, 2)


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


def _presidio_entity(hint: str | None) -> str | None:
    """The entity Presidio reports for what a hint announces (names are all PERSON)."""
    return "PERSON" if hint in PERSON_KINDS else hint


@dataclass(frozen=True, slots=True)
class _Verdict:
    entity: str | None
    pii_class: PiiClass
    share: float
    confidence: float
    evidence: tuple[str, ...]
    suspected: bool = False


_NONE = _Verdict(None, PiiClass.NONE, 0.0, 0.0, ())


@dataclass(frozen=True)
class _Column:
    """Everything known about one text column while it is judged."""

    name: str
    hint: str | None  # a strong name hint (an entity)
    weak_hint: str | None  # FIRST_NAME / LAST_NAME for a bare "first", "last", "nom" …
    id_hint: bool  # the name says identifier (id, case_number, rownames …)
    key: bool  # declared primary or unique key: the plan rekeys it
    profile: Profile
    counts: Counter[str]  # Presidio: values per entity, over the distinct sample
    names: NameShares
    catalog: _Catalog

    @property
    def n(self) -> int:
        return max(len(self.profile.values), 1)

    def share(self, entity: str) -> float:
        return self.counts.get(entity, 0) / self.n

    @property
    def people(self) -> bool:
        """Whether the column's name allows people's names (not product, city …)."""
        hint_class = ENTITIES[self.hint].pii_class if self.hint in ENTITIES else None
        other = self.hint is not None and self.hint not in PERSON_KINDS and hint_class is not None
        return not other and not _NOT_PEOPLE.search(normalise_column(self.name))

    @property
    def many(self) -> bool:
        return self.profile.distinct >= MIN_DISTINCT

    def person_kind(self) -> str:
        """PERSON, or FIRST_NAME / LAST_NAME when nearly every row is one known word."""
        if self.names.single < SINGLE_WORD or self.names.best_single == 0:
            return "PERSON"
        return "FIRST_NAME" if self.names.first >= self.names.last else "LAST_NAME"

    def name_share(self) -> float:
        return max(self.share("PERSON"), self.names.any)


def _free_text(c: _Column) -> _Verdict | None:
    """Sentences: free text when identifiers are in them, or when nearly every value
    differs (notes Presidio may read wrong); else nothing personal."""
    if c.profile.words < FREE_TEXT_WORDS:
        return None
    direct = sorted(
        ((c.share(e), e) for e in c.counts if c.catalog.pii_class(e) is PiiClass.DIRECT),
        reverse=True,
    )
    if direct and direct[0][0] >= FREE_TEXT_SHARE:
        share = round(direct[0][0], 2)
        return _Verdict(direct[0][1], PiiClass.FREE_TEXT, share, share, ("presidio",))
    if c.many and c.profile.uniqueness >= FREE_TEXT_UNIQUE:
        return _Verdict(None, PiiClass.FREE_TEXT, 0.0, 0.5, ("free text",))
    return _NONE


def _hinted(c: _Column) -> _Verdict | None:
    """The column's name announces an entity; values confirm it or do not contradict."""
    if c.hint is None:
        return None
    if c.hint in PERSON_KINDS:
        share = c.name_share()
        entity = c.person_kind() if c.hint == "PERSON" else c.hint
        evidence = ("name", "dictionary") if c.names.any >= HINTED_SHARE else ("name",)
        return _Verdict(entity, PiiClass.DIRECT, round(share, 2), _confidence(share), evidence)
    share = c.share(c.hint)
    if share >= HINTED_SHARE or c.catalog.pii_class(c.hint) is PiiClass.DIRECT:
        evidence = ("name", "presidio") if share >= HINTED_SHARE else ("name",)
        conf = _confidence(share) if share >= HINTED_SHARE else 0.6
        return _Verdict(c.hint, c.catalog.pii_class(c.hint), round(share, 4), conf, evidence)
    return None


def _confidence(share: float) -> float:
    return round(min(1.0, 0.6 + share * 0.4), 3) if share >= HINTED_SHARE else 0.6


def _weakly_hinted(c: _Column) -> _Verdict | None:
    """A bare ``first`` / ``last`` / ``nom``: a name column when values look like names,
    suspected when they might."""
    if c.weak_hint is None or c.hint is not None:
        return None
    share = c.name_share()
    if share >= HINTED_SHARE:
        evidence = ("name", "dictionary") if c.names.any >= HINTED_SHARE else ("name", "presidio")
        return _Verdict(c.weak_hint, PiiClass.DIRECT, round(share, 2), _confidence(share), evidence)
    if c.profile.distinct >= 10 and c.profile.code_like < 0.5 and c.profile.words <= 3:
        return _Verdict(c.weak_hint, PiiClass.DIRECT, round(share, 2), 0.5, ("name",), True)
    return None


def _recognized(c: _Column) -> _Verdict | None:
    """An entity matched in enough values. spaCy's PERSON needs 70 % and the name
    lists' support; without it (brands, products) the column is only suspected."""
    candidates = sorted(
        ((round(c.share(e), 2), c.catalog.priority(e), e) for e in c.counts if e not in _IGNORED),
        reverse=True,
    )
    for share, _, entity in candidates:
        if not _allowed(entity, c.hint):
            continue
        if entity == "PERSON":
            if share < PERSON_SHARE or not c.people:
                continue
            if c.names.any >= HINTED_SHARE:
                kind = c.person_kind()
                return _Verdict(kind, PiiClass.DIRECT, share, share, ("presidio", "dictionary"))
            return _Verdict("PERSON", PiiClass.DIRECT, share, 0.5, ("presidio",), True)
        if share >= MIN_SHARE:
            return _Verdict(entity, c.catalog.pii_class(entity), share, share, ("presidio",))
    return None


def _dictionary(c: _Column) -> _Verdict | None:
    """Mostly known first, last or full names: a name column, whatever its case."""
    if not c.people or not c.many or c.key:
        return None
    names = c.names
    single = names.single >= SINGLE_WORD
    share = names.best_single if single else names.full
    kind = c.person_kind() if single else "PERSON"
    evidence = ("dictionary", "presidio") if c.share("PERSON") >= HINTED_SHARE else ("dictionary",)
    if share >= NAME_SHARE:
        return _Verdict(kind, PiiClass.DIRECT, round(share, 2), round(share, 3), evidence)
    partly = share >= SUSPECT_NAME_SHARE or (
        not single and share >= HINTED_SHARE and c.share("PERSON") >= HINTED_SHARE
    )
    # partial evidence on a short list of values is a list of places or labels
    varied = c.profile.distinct >= SUSPECT_DISTINCT or c.profile.uniqueness >= FREE_TEXT_UNIQUE
    if partly and varied:
        return _Verdict(kind, PiiClass.DIRECT, round(share, 2), 0.5, evidence, True)
    return None


def _identifier(c: _Column) -> _Verdict | None:
    """Unique (or nearly) per row and written like a code: a record identifier.
    Nearly unique single words or codes that are no names (handles, logins) are
    suspected."""
    p = c.profile
    if c.key or p.rows < MIN_DISTINCT or _NOT_PERSONAL_CODE.search(normalise_column(c.name)):
        return None
    unique = p.uniqueness >= UNIQUE
    evidence = ("uniqueness", "shape")
    if (unique and p.code_like >= CODE_SHARE) or (
        c.id_hint and p.uniqueness >= 0.5 and p.code_like >= 0.8
    ):
        return _Verdict("RECORD_ID", PiiClass.DIRECT, round(p.code_like, 2), 0.9, evidence)
    if c.id_hint and unique and p.words <= 1:
        return _Verdict(
            "RECORD_ID", PiiClass.DIRECT, round(p.code_like, 2), 0.8, ("name", *evidence)
        )
    if unique and p.code_like >= 0.5:
        return _Verdict("RECORD_ID", PiiClass.DIRECT, round(p.code_like, 2), 0.5, evidence, True)
    if p.uniqueness >= 0.95 and p.alpha + p.code_like >= CODE_SHARE and p.distinct >= 50:
        return _Verdict("RECORD_ID", PiiClass.DIRECT, round(p.code_like, 2), 0.5, evidence, True)
    return None


def _many_phrases(c: _Column) -> _Verdict | None:
    """Many distinct values of several words (job titles typed by hand): free text."""
    p = c.profile
    if c.key or p.distinct < PHRASES_DISTINCT or p.uniqueness < PHRASES_UNIQUE:
        return None
    if p.multiword < FREE_TEXT_MULTIWORD:
        return None
    return _Verdict(None, PiiClass.FREE_TEXT, 0.0, 0.5, ("free text",))


def _hint_only(c: _Column) -> _Verdict | None:
    """A quasi-identifier announced by the name whose values did not say otherwise."""
    if c.hint is None:
        return None
    share = round(c.share(c.hint), 4)
    return _Verdict(c.hint, c.catalog.pii_class(c.hint), share, 0.5, ("name",))


#: the rules, in order; the first that decides wins
_RULES: tuple[Callable[[_Column], _Verdict | None], ...] = (
    _free_text,
    _hinted,
    _weakly_hinted,
    _recognized,
    _hint_only,
    _dictionary,
    _identifier,
    _many_phrases,
)


def _signals(c: _Column) -> Signals:
    top = max(((c.share(e), e) for e in c.counts if e not in _IGNORED), default=(0.0, None))
    kinds = {"first": c.names.first, "last": c.names.last, "full": c.names.full}
    kind, share = max(kinds.items(), key=lambda kv: kv[1])
    p = c.profile
    return Signals(
        name_hint=c.hint or c.weak_hint or ("identifier" if c.id_hint else None),
        recognizer=top[1],
        recognizer_share=round(top[0], 2),
        dictionary=kind if share >= 0.05 else None,
        dictionary_share=round(share, 2) if share >= 0.05 else 0.0,
        uniqueness=floor_share(p.uniqueness),
        code_like=floor_share(p.code_like),
        words=round(p.words, 1),
    )


def _judge_text(
    column: str,
    series: pd.Series,
    *,
    key: bool,
    catalog: _Catalog,
    limit: int,
    seed: int,
) -> ColumnFinding:
    hint = catalog.hint(column)
    prof = profile(series, limit, seed)
    free_text = prof.words >= FREE_TEXT_WORDS
    weak = weak_person_hint(column) if hint is None else None
    counts, analysed = _counted(
        column, prof.values, _presidio_entity(hint or weak), free_text, catalog
    )
    names = name_shares(prof.counts) if not free_text else NameShares()
    c = _Column(column, hint, weak, id_from_name(column), key, prof, counts, names, catalog)
    verdict = next((v for rule in _RULES if (v := rule(c)) is not None), _NONE)
    also = tuple(
        e
        for e in sorted(counts, key=lambda e: -counts[e])
        if e not in _IGNORED and c.share(e) >= ALSO_SHARE and e != verdict.entity
    )
    person = verdict.entity in PERSON_KINDS
    return ColumnFinding(
        column,
        verdict.entity,
        verdict.pii_class,
        verdict.share,
        verdict.confidence,
        verdict.evidence,
        len(prof.values),
        also,
        analysed,
        suspected=verdict.suspected,
        signals=_signals(c),
        locale=names.locale if person else None,
        case=prof.case if verdict.pii_class is PiiClass.DIRECT else None,
        shapes=prof.shapes if verdict.entity == "RECORD_ID" else (),
    )


def _judge_other(
    column: str,
    series: pd.Series,
    col_type: LogicalType,
    *,
    key: bool,
    catalog: _Catalog,
    table_rows: int,
    seed: int,
) -> ColumnFinding:
    """A number, a date or a boolean: its name may announce an entity (age, zip, dob);
    integers unique per row and named like ids, or counting rows, are identifiers
    (a declared key is rekeyed by the plan instead)."""
    hint = catalog.hint(column)
    by_name = hint is not None and (hint not in ENTITIES or not ENTITIES[hint].text_only)
    if hint is not None and by_name and col_type is not LogicalType.BOOLEAN:
        signals = Signals(name_hint=hint)
        cls = catalog.pii_class(hint)
        return ColumnFinding(column, hint, cls, 0.0, 0.5, ("name",), 0, signals=signals)
    if not key and col_type is LogicalType.INTEGER and pd.api.types.is_integer_dtype(series.dtype):
        named = id_from_name(column)
        sample = row_sample(series, 20_000, seed)
        uniqueness = sample.nunique() / max(len(sample), 1)
        signals = Signals(
            name_hint="identifier" if named else None, uniqueness=floor_share(uniqueness)
        )
        if len(sample) >= MIN_DISTINCT and (
            (named and uniqueness >= 0.95) or counter_like(series, table_rows, seed)
        ):
            evidence = ("name", "uniqueness") if named else ("uniqueness", "shape")
            return ColumnFinding(
                column, "RECORD_ID", PiiClass.DIRECT, 1.0, 0.9, evidence, 0, signals=signals
            )
        return ColumnFinding(column, None, PiiClass.NONE, 0.0, 0.0, (), 0, signals=signals)
    return ColumnFinding(column, None, PiiClass.NONE, 0.0, 0.0, (), 0)


def _declared_domain(column: str, col_type: LogicalType, catalog: _Catalog) -> ColumnFinding:
    """A column whose values the schema declares (a CHECK … IN list): its name only."""
    hint = catalog.hint(column)
    if hint is None or col_type is LogicalType.BOOLEAN:
        return ColumnFinding(column, None, PiiClass.NONE, 0.0, 0.0, (), 0)
    return ColumnFinding(column, hint, catalog.pii_class(hint), 0.0, 0.5, ("name",), 0)


def classify_columns(
    frame: pd.DataFrame,
    schema: TableSchema,
    *,
    sample_values: int = 1000,
    seed: int = 0,
    recognizers: Sequence[CustomRecognizer] = (),
    rows: int | None = None,
) -> list[ColumnFinding]:
    """Classify every column of *frame*; one finding per column, in schema order.

    *recognizers* are a policy pack's own entities; they are matched in values
    and, through their name patterns, in column names. *rows* is the table's row
    count when *frame* is a sample of it (integers counting rows are judged
    against it).
    """
    catalog = _Catalog(tuple(recognizers))
    table_rows = rows if rows is not None else len(frame)
    findings: list[ColumnFinding] = []
    for col in schema.columns:
        series = frame[col.name]
        key = col.type is LogicalType.IDENTIFIER
        textual = col.type in {LogicalType.TEXT, LogicalType.CATEGORICAL} or (
            key and series.dtype == object
        )
        if col.domain is not None:
            finding = _declared_domain(col.name, col.type, catalog)
        elif textual:
            finding = _judge_text(
                col.name, series, key=key, catalog=catalog, limit=sample_values, seed=seed
            )
        else:
            finding = _judge_other(
                col.name,
                series,
                col.type,
                key=key,
                catalog=catalog,
                table_rows=table_rows,
                seed=seed,
            )
        findings.append(finding)
    return findings
