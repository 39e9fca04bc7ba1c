"""Contracts shared by the core and every plugin.

Plugins (connectors, synthesizers, policies, report sections) import this
module and :mod:`synthgate.errors`, nothing else from the core. Data crossing a
contract is plain: Arrow record batches, pandas frames, frozen dataclasses and
JSON-compatible dictionaries.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa

__all__ = [
    "REPORT_AREAS",
    "REPORT_AREA_PREFIXES",
    "ColumnSchema",
    "Connector",
    "FitResult",
    "ForeignKey",
    "Goal",
    "LogicalType",
    "MetricResult",
    "MultiTableSink",
    "PrivacyRequest",
    "PrivacySpent",
    "RelationalSource",
    "Relationship",
    "Relationships",
    "ReportSection",
    "RuleOutcome",
    "Severity",
    "Sink",
    "Source",
    "StageSpend",
    "Synthesizer",
    "TableKeys",
    "TableSchema",
    "TableWrite",
    "WriteMode",
    "WriteResult",
    "area_of",
    "area_status",
    "area_verdicts",
    "batch_fingerprint",
]


class LogicalType(enum.StrEnum):
    """What a column means, independent of the database that stores it."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    DATE = "date"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"

    @property
    def is_numeric(self) -> bool:
        return self in {LogicalType.INTEGER, LogicalType.FLOAT, LogicalType.DECIMAL}

    @property
    def is_temporal(self) -> bool:
        return self in {LogicalType.DATE, LogicalType.DATETIME}


@dataclass(frozen=True, slots=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """One column. ``domain`` and ``bounds`` are *public* metadata.

    A domain or bound here was declared by the database (an enum type, a
    ``CHECK … IN (…)`` list) or by the job spec: a synthesizer may use it
    without spending privacy budget. Nothing derived from the rows belongs here.
    """

    name: str
    type: LogicalType
    nullable: bool = True
    native_type: str = ""
    domain: tuple[str, ...] | None = None
    bounds: tuple[float, float] | None = None

    def with_type(self, new_type: LogicalType) -> ColumnSchema:
        return ColumnSchema(
            self.name, new_type, self.nullable, self.native_type, self.domain, self.bounds
        )


@dataclass(frozen=True, slots=True)
class TableSchema:
    name: str
    columns: tuple[ColumnSchema, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def select(self, names: Sequence[str]) -> TableSchema:
        keep = set(names)
        return TableSchema(
            self.name,
            tuple(c for c in self.columns if c.name in keep),
            tuple(c for c in self.primary_key if c in keep),
            tuple(fk for fk in self.foreign_keys if set(fk.columns) <= keep),
            tuple(u for u in self.unique if set(u) <= keep),
        )

    def replace_columns(self, columns: Sequence[ColumnSchema]) -> TableSchema:
        return TableSchema(
            self.name, tuple(columns), self.primary_key, self.foreign_keys, self.unique
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSchema:
        cols = tuple(
            ColumnSchema(
                name=c["name"],
                type=LogicalType(c["type"]),
                nullable=bool(c.get("nullable", True)),
                native_type=str(c.get("native_type", "")),
                domain=tuple(c["domain"]) if c.get("domain") is not None else None,
                bounds=(float(c["bounds"][0]), float(c["bounds"][1]))
                if c.get("bounds") is not None
                else None,
            )
            for c in data["columns"]
        )
        fks = tuple(
            ForeignKey(tuple(f["columns"]), f["ref_table"], tuple(f["ref_columns"]))
            for f in data.get("foreign_keys", ())
        )
        return cls(
            name=data["name"],
            columns=cols,
            primary_key=tuple(data.get("primary_key", ())),
            foreign_keys=fks,
            unique=tuple(tuple(u) for u in data.get("unique", ())),
        )


# --------------------------------------------------------------------------- connectors


class WriteMode(enum.StrEnum):
    REPLACE = "replace"
    APPEND = "append"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class WriteResult:
    table: str
    rows: int
    mode: WriteMode
    content_hash: str


def batch_fingerprint(batch: pa.RecordBatch) -> bytes:
    """Bytes that identify a batch's schema and content (Arrow IPC stream)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


@runtime_checkable
class Source(Protocol):
    """A readable system holding tables."""

    def list_tables(self) -> list[str]: ...

    def schema(self, table: str) -> TableSchema: ...

    def row_count(self, table: str) -> int: ...

    def read(
        self,
        table: str,
        *,
        chunk_rows: int = 50_000,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        sample_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream *table* in batches of at most *chunk_rows* rows.

        *where* is a boolean SQL expression the source evaluates (sources that
        cannot evaluate SQL raise ``ConfigError``); *sample_rows* asks for a
        uniform random sample of that many rows (all rows when there are fewer).
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TableKeys:
    """A table's primary key and unique keys, as the catalog declares them."""

    table: str
    primary_key: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Relationship:
    """A foreign key: ``child_columns`` of ``child_table`` reference ``parent_columns``
    of ``parent_table``, position by position (a composite key has several)."""

    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Relationships:
    """Keys and foreign keys between tables, read from a catalog, never from rows.

    Table names are the ones ``Source.list_tables`` gives (schema-qualified where
    the table is not in the connection's default schema)."""

    keys: tuple[TableKeys, ...] = ()
    foreign_keys: tuple[Relationship, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class RelationalSource(Protocol):
    """A source that can also read keys and relationships from its catalog (optional).

    ``relationships(tables)`` gives the keys of *tables* (all tables when None)
    and every foreign key whose child is one of them."""

    def relationships(self, tables: Sequence[str] | None = None) -> Relationships: ...


@runtime_checkable
class Sink(Protocol):
    """A writable system. ``write`` is all-or-nothing."""

    def check_writable(self, table: str, *, mode: WriteMode) -> None: ...

    def write(
        self,
        table: str,
        batches: Iterator[pa.RecordBatch],
        *,
        schema: TableSchema,
        mode: WriteMode,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Write all *batches* or nothing.

        A repeat with the same *idempotency_key* and the same content returns the
        first write's result without writing again.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class CardSink(Protocol):
    """A sink that can put a release card beside the table it wrote (optional)."""

    def write_card(self, table: str, release_id: str, card: Mapping[str, Any], html: str) -> str:
        """Store *card* (JSON-able) and its *html* rendering with *table*, replacing an
        earlier card of *release_id*; return where it went, for people."""
        ...


@dataclass(frozen=True, slots=True)
class TableWrite:
    """One table of a multi-table write: its name, rows and schema."""

    table: str
    batches: Iterator[pa.RecordBatch]
    schema: TableSchema


@runtime_checkable
class MultiTableSink(Protocol):
    """A sink that writes several tables as one (optional): every table lands, in the
    order given (parents before children), or none does."""

    def write_tables(
        self, tables: Sequence[TableWrite], *, mode: WriteMode, idempotency_key: str | None
    ) -> list[WriteResult]: ...


class Connector(Protocol):
    """Entry point ``synthgate.connectors``: turns a URL into a source or sink."""

    name: ClassVar[str]

    def accepts(self, url: str) -> bool: ...

    def source(self, url: str, *, options: Mapping[str, Any]) -> Source: ...

    def sink(self, url: str, *, options: Mapping[str, Any]) -> Sink: ...


# --------------------------------------------------------------------------- synthesis


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    """What the job asks of a synthesizer. ``epsilon`` is the total for the run.

    With ``delta_auto`` the job left δ to the engine: ``delta`` is then the largest
    it may use, and a private engine resolves it from its DP row count.
    """

    epsilon: float
    delta: float
    delta_auto: bool = False


@dataclass(frozen=True, slots=True)
class StageSpend:
    """One ledger line: a stage that read real rows and what it spent."""

    stage: str
    mechanism: str
    epsilon: float
    delta: float
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PrivacySpent:
    """Privacy cost of a fit. ``private=False`` means no DP guarantee at all."""

    private: bool
    epsilon: float | None
    delta: float | None
    accountant: str | None
    stages: tuple[StageSpend, ...] = ()
    #: the same mechanisms' guarantee when one row is replaced by another (both
    #: neighbouring relations are reported; the guarantee of record is add/remove)
    replace_one_epsilon: float | None = None
    replace_one_delta: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FitResult:
    seconds: float
    params: Mapping[str, Any]
    privacy: PrivacySpent


class Synthesizer(Protocol):
    """Entry point ``synthgate.synthesizers``: a class built with keyword params."""

    name: ClassVar[str]
    private: ClassVar[bool]

    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        progress: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> FitResult:
        """Train on *data*. ``progress(step, total, info)`` is called as training goes."""
        ...

    def sample(
        self, n: int, *, conditions: Mapping[str, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """*n* rows; with *conditions*, every row has those column values."""
        ...

    def privacy_spent(self) -> PrivacySpent: ...

    def save(self, folder: Path) -> list[Path]:
        """Persist what may leave the training process; return the files written."""
        ...


# --------------------------------------------------------------------------- validation


class Goal(enum.StrEnum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"
    TARGET = "target"


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One computed metric. ``details`` must never hold real values."""

    name: str
    value: float | None
    goal: Goal
    bounds: tuple[float, float]
    explanation: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- policies


class Severity(enum.StrEnum):
    BLOCK = "block"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    rule_id: str
    metric: str
    passed: bool
    observed: Any
    threshold: Any
    comparator: str
    severity: Severity
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- reports


class ReportSection(Protocol):
    """Entry point ``synthgate.report_sections``: renders one part of a report.

    ``report`` is the run's JSON report (see ``synthgate.reporting``); a section
    returns an HTML fragment, or ``None`` when it has nothing to show. Sections
    must escape everything they print and never receive real rows.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    order: ClassVar[int]

    def render(self, report: Mapping[str, Any]) -> str | None: ...


#: the report's areas, in the order of its first page: (id, title)
REPORT_AREAS: tuple[tuple[str, str], ...] = (
    ("privacy", "Privacy"),
    ("fidelity", "Fidelity"),
    ("structural", "Structural validity"),
    ("utility", "Utility"),
    ("bias", "Bias and fairness"),
    ("quality", "Data quality"),
)
#: metric-name prefixes per report area (``synthesizer.private`` is a privacy fact)
REPORT_AREA_PREFIXES: dict[str, tuple[str, ...]] = {
    "privacy": ("privacy.", "synthesizer."),
    "fidelity": ("fidelity.",),
    "structural": ("structural.",),
    "utility": ("utility.",),
    "bias": ("bias.",),
    "quality": ("quality.",),
}


def area_of(metric_name: str) -> str | None:
    """The report area a metric belongs to, by its name's prefix."""
    for area, prefixes in REPORT_AREA_PREFIXES.items():
        if metric_name.startswith(prefixes):
            return area
    return None


_ADVISORY_RANK = {"fail": 3, "warn": 2, "pass": 1}


def _advisory(validation: Any, area: str) -> str | None:
    """The area's advisory verdict: the validation's own, or for a multi-table report
    the worst over its tables (``validation.tables``)."""
    if not isinstance(validation, Mapping):
        return None
    tables = validation.get("tables")
    parts = [validation, *(tables.values() if isinstance(tables, Mapping) else ())]
    found: list[str] = []
    for part in parts:
        areas = part.get("areas") if isinstance(part, Mapping) else None
        entry = areas.get(area) if isinstance(areas, Mapping) else None
        verdict = entry.get("verdict") if isinstance(entry, Mapping) else None
        if isinstance(verdict, str):
            found.append(verdict)
    return max(found, key=lambda v: _ADVISORY_RANK.get(v, 0), default=None)


def area_status(report: Mapping[str, Any], area: str) -> dict[str, Any]:
    """The area's verdict in the JSON *report*: the gate's when a rule reads one of its
    metrics, else the advisory one from the metrics' reference levels.

    Keys: ``verdict`` (pass, warn, fail or not computed), ``basis`` (gate or advisory),
    ``outcomes`` (the gate outcomes that read the area) and ``advisory``.
    """
    gate = report.get("gate")
    found = (gate.get("outcomes") if isinstance(gate, Mapping) else None) or []
    outcomes = [
        o
        for o in (found if isinstance(found, list) else [])
        if isinstance(o, Mapping) and area_of(str(o.get("metric", ""))) == area
    ]
    advisory = _advisory(report.get("validation"), area)
    if outcomes:
        if any(not o.get("passed") and o.get("severity") == "block" for o in outcomes):
            verdict = "fail"
        elif any(not o.get("passed") for o in outcomes):
            verdict = "warn"
        else:
            verdict = "pass"
        return {"verdict": verdict, "basis": "gate", "outcomes": outcomes, "advisory": advisory}
    return {
        "verdict": advisory or "not computed",
        "basis": "advisory",
        "outcomes": [],
        "advisory": advisory,
    }


def area_verdicts(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every area's verdict as the report's first page shows it, in its order.

    Each item: ``area``, ``title``, ``verdict``, ``basis`` and ``advisory``
    (see :func:`area_status`).
    """
    verdicts = []
    for area, title in REPORT_AREAS:
        st = area_status(report, area)
        verdicts.append(
            {
                "area": area,
                "title": title,
                "verdict": st["verdict"],
                "basis": st["basis"],
                "advisory": st["advisory"],
            }
        )
    return verdicts
