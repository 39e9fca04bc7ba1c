"""The YAML job spec: pydantic models, ``${ENV}`` interpolation, readable errors.

A spec is read in three steps: YAML is parsed, every ``${VAR}`` /
``${VAR:-default}`` in a string is replaced from the environment (values of
variables named like a secret — PASSWORD, TOKEN, KEY, SECRET … — are registered
so no message can print them; URL passwords are always masked), then the result
is validated. Every problem is reported at once, one line each, in the form
``synthesis.privacy.epsilon: must be > 0, got -1``.

Limits, each a one-line error (exit 2): the YAML itself (size, aliases, depth:
see :mod:`synthgate.safe_yaml`); durations at most :data:`MAX_DURATION_DAYS`
days; every number finite (no NaN or infinity, in ``synthesis.params`` and
expectation arguments too); ``synthesis.rows`` at most :data:`MAX_ROWS`; and,
once the source is known, at most :data:`MAX_COLUMNS` columns read and
:data:`MAX_CELLS` synthetic cells (rows × columns), see :func:`size_problems`.
"""

from __future__ import annotations

import enum
import hashlib
import math
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from synthgate.contracts import LogicalType, Relationship, WriteMode
from synthgate.errors import ConfigError, redact, register_secret
from synthgate.safe_yaml import MAX_BYTES, load_yaml

__all__ = [
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_DURATION_DAYS",
    "MAX_ROWS",
    "ColumnHint",
    "ConstraintSpec",
    "ExpectationSpec",
    "JobSpec",
    "LoadedSpec",
    "OutputMode",
    "PiiAction",
    "PiiSpec",
    "PrivacySpec",
    "RebalanceSpec",
    "ReleaseSpec",
    "SourceSpec",
    "SynthesisSpec",
    "TargetSpec",
    "ValidationSpec",
    "expand_env",
    "format_problems",
    "load_job_spec",
    "parse_job_spec",
    "size_problems",
    "with_registered_source",
]

_ENV_REF = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_DURATION = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# values of these variables are secrets: masked in every message, report and event
# (passwords inside URLs are masked whatever variable they come from)
_SECRET_NAME = re.compile(r"PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


#: the longest duration a spec may give (about 100 years)
MAX_DURATION_DAYS = 36_500
#: synthetic rows a job may ask for (synthesis.rows)
MAX_ROWS = 10_000_000
#: columns a job may read: a wider table needs source.columns
MAX_COLUMNS = 1_000
#: synthetic rows × columns read: about 1 to 4 GiB of memory while sampling and validating
MAX_CELLS = 100_000_000


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"must be a duration such as 30m, 12h, 90d or 2w, got {_show(value)}")
        digits = match["n"].lstrip("0")
        # a 13-digit count of seconds is already over the cap: never parse a longer one
        seconds = int(digits or "0") * _UNIT_SECONDS[match["unit"]] if len(digits) < 13 else -1
        if not 0 <= seconds <= MAX_DURATION_DAYS * 86_400:
            raise ValueError(
                f"must be at most {MAX_DURATION_DAYS}d (about 100 years), got {_show(value)}"
            )
        return timedelta(seconds=seconds)
    return value


def _non_finite(node: Any) -> bool:
    """Whether *node* (a number, or a mapping or list of them) holds NaN or infinity."""
    if isinstance(node, float):
        return not math.isfinite(node)
    if isinstance(node, dict):
        return any(_non_finite(v) for v in node.values())
    if isinstance(node, list):
        return any(_non_finite(v) for v in node)
    return False


def _finite(value: dict[str, Any]) -> dict[str, Any]:
    if _non_finite(value):
        raise ValueError("every number must be finite (not NaN or infinity)")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


class PiiAction(enum.StrEnum):
    """What happens to a column classified as PII."""

    DROP = "drop"  # removed from the release
    FAKE = "fake"  # removed before training, refilled with independent fake values
    KEEP = "keep"  # passed to the synthesizer (never for direct identifiers or free text)
    PSEUDONYMIZE = "pseudonymize"  # removed before training, refilled with keyed surrogates
    GENERALIZE = "generalize"  # date → month/year, postcode → prefix, age → band; then learned
    REDACT = "redact"  # free text with each detected identifier replaced; then learned


class OutputMode(enum.StrEnum):
    """What a job releases."""

    SYNTHETIC = "synthetic"  # rows sampled from a model trained on the masked rows
    # the real rows with the masking plan applied: NOT synthetic, NOT differentially private
    MASKED_COPY = "masked-copy"


class _Spec(BaseModel):
    # NaN and infinity pass every bound check and fail deep inside training
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_enum_values=False, allow_inf_nan=False
    )


def _password_into_url(data: Any) -> Any:
    """Read ``password_file`` (a secret) and put the password into the URL.

    The file holds the password alone (a trailing newline is ignored); its value
    is registered as a secret so no message can print it.
    """
    if not isinstance(data, dict) or not data.get("password_file"):
        return data
    path = Path(str(data["password_file"])).expanduser()
    try:
        password = path.read_text("utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"password_file {path} cannot be read ({exc.strerror})") from None
    if not password:
        raise ValueError(f"password_file {path} is empty")
    register_secret(password)
    quoted = quote(password, safe="")
    register_secret(quoted)
    head, sep, rest = str(data.get("url", "")).partition("://")
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not sep or not at or not userinfo:
        raise ValueError(
            "password_file needs a database URL with a user, such as postgresql://USER@host/db"
        )
    if ":" in userinfo:
        raise ValueError("the URL has a password already; remove it or drop password_file")
    return {**data, "url": f"{head}://{userinfo}:{quoted}@{hostport}{slash}{tail}"}


def _fold_schema(data: Any, where: str) -> Any:
    """``schema: crm`` with ``table: customers`` becomes ``table: crm.customers``."""
    if not isinstance(data, dict) or "schema" not in data:
        return data
    data = dict(data)
    schema = data.pop("schema")
    if schema is None:
        return data
    if not isinstance(schema, str) or not schema.strip() or "." in schema:
        raise ValueError(f"{where}.schema must be one schema name without a dot, such as crm")
    table = data.get("table")
    if where == "source" and data.get("name"):
        raise ValueError(
            "source.schema goes with source.url and source.table; a registered source "
            "holds its table (register it as schema.table)"
        )
    if not isinstance(table, str) or not table:
        raise ValueError(f"{where}.schema needs {where}.table, the table in that schema")
    if "." in table:
        raise ValueError(
            f"{where}.table {table!r} names its schema already; drop {where}.schema or the prefix"
        )
    data["table"] = f"{schema}.{table}"
    return data


def _target_table_from_source(data: Any) -> Any:
    """A ``target.schema`` without ``target.table`` names the source table's name."""
    if not isinstance(data, dict):
        return data
    target, source = data.get("target"), data.get("source")
    if not isinstance(target, dict) or not target.get("schema") or target.get("table"):
        return data
    if not isinstance(source, dict) or not isinstance(source.get("table"), str):
        return data
    bare = source["table"] if source.get("schema") else source["table"].rpartition(".")[2]
    return {**data, "target": {**target, "table": bare}}


def _column_ref(text: str, side: str) -> tuple[str, str]:
    table, dot, column = text.rpartition(".")
    if not dot or not table or not column:
        raise ValueError(
            f"relationship {side} {text!r} is not table.column; write e.g. orders.customer_id"
        )
    return table, column


class RelationshipSpec(_Spec):
    """A declared foreign key: ``child: orders.customer_id``, ``parent:
    customers.customer_id``; a composite key lists its columns on both sides, paired
    by position."""

    child: str | list[str]
    parent: str | list[str]

    @model_validator(mode="after")
    def _well_formed(self) -> RelationshipSpec:
        self.relationship()
        return self

    def relationship(self) -> Relationship:
        child = [self.child] if isinstance(self.child, str) else self.child
        parent = [self.parent] if isinstance(self.parent, str) else self.parent
        if not child or len(child) != len(parent):
            raise ValueError(
                "a relationship pairs child and parent columns position by position: "
                "give as many parent columns as child columns"
            )
        sides = []
        for name, refs in (("child", child), ("parent", parent)):
            parts = [_column_ref(r, name) for r in refs]
            if len({t for t, _ in parts}) != 1:
                raise ValueError(f"a relationship's {name} columns must all be of one table")
            sides.append((parts[0][0], tuple(c for _, c in parts)))
        (ct, cc), (pt, pc) = sides
        return Relationship(ct, cc, pt, pc)


class SourceSpec(_Spec):
    """Where the real table lives. ``url`` is a SQLAlchemy URL or a file path, or
    ``name`` names a source registered with ``synthgate sources add`` (its URL and
    table are filled in from the metadata store when the job runs).

    ``table`` is ``table`` or ``schema.table`` (on MySQL/MariaDB the schema is
    a database); ``schema`` is the other way to name the schema, folded into
    ``table``. ``where`` is a SQL filter the source evaluates; ``sample_rows``
    reads a uniform random sample of that many rows; ``password_file`` names a
    file holding the database password (kept out of the spec and the URL text).
    """

    name: str | None = Field(default=None, pattern=_NAME_PATTERN)
    url: str = Field(default="", min_length=1)
    table: str = Field(default="", min_length=1)
    columns: list[str] | None = Field(default=None, min_length=1)
    chunk_rows: int = Field(default=50_000, ge=1, le=10_000_000)
    where: str | None = Field(default=None, min_length=1)
    sample_rows: int | None = Field(default=None, ge=1, le=100_000_000)
    password_file: Path | None = None
    #: related tables (a multi-table job): ``table`` is then the privacy unit
    tables: list[str] | None = Field(default=None, min_length=1)
    public: list[str] = Field(default_factory=list)
    relationships: list[RelationshipSpec] = Field(default_factory=list)
    #: key columns per table (a table's primary or unique key), for sources without a
    #: catalog (CSV/Parquet folders); they add to the catalog's, and replace a table's
    keys: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _password(cls, data: Any) -> Any:
        # a registered source gets its password when its URL is filled in
        if isinstance(data, dict) and data.get("name") and not data.get("url"):
            return data
        return _password_into_url(data)

    @model_validator(mode="before")
    @classmethod
    def _schema(cls, data: Any) -> Any:
        return _fold_schema(data, "source")

    @model_validator(mode="before")
    @classmethod
    def _file_table(cls, data: Any) -> Any:
        """A single CSV or Parquet file holds one table, named by the file: its name
        without the extension, which ``table`` may leave out."""
        if isinstance(data, dict) and not data.get("table") and isinstance(data.get("url"), str):
            stem = single_file_table(data["url"])
            if stem is not None:
                return {**data, "table": stem}
        return data

    @model_validator(mode="after")
    def _named_or_spelled(self) -> SourceSpec:
        if self.name is not None and {"url", "table"} & self.model_fields_set:
            raise ValueError(
                "give the name of a registered source, or url and table, not both "
                "(the registered source holds its url and table)"
            )
        if self.name is None and not (self.url and self.table):
            missing = " and ".join(f for f in ("url", "table") if not getattr(self, f))
            raise ValueError(
                f"source.{missing.replace(' and ', ' and source.')} missing: give url and "
                "table, or the name of a registered source (synthgate sources list)"
            )
        return self


_DATA_FILE = re.compile(r"(?i)\.(csv|parquet|pq)$")


def single_file_table(url: str) -> str | None:
    """The table a URL naming one CSV or Parquet file holds (the file's name without its
    extension, as the files connector names it); None for anything else (a folder, a database, a ``${VAR}`` yet to fill)."""
    text = url.strip()
    if "://" in text and not text.lower().startswith("file://"):
        return None
    if "${" in text or not _DATA_FILE.search(text):
        return None
    name = PurePath(text.removeprefix("file://")).name
    return _DATA_FILE.sub("", name) or None


def expand_env(text: str, *, where: str, env: Mapping[str, str] | None = None) -> str:
    """*text* with its ``${VAR}`` references filled in as a spec's are, or a ConfigError."""
    problems: list[str] = []
    filled = _interpolate(text, where, os.environ if env is None else env, problems)
    if problems:
        raise ConfigError(problems[0])
    return str(filled)


def with_registered_source(
    spec: JobSpec, url: str, table: str, *, env: Mapping[str, str] | None = None
) -> JobSpec:
    """*spec* with its named source's registered *url* and *table* filled in: the URL's
    ``${VAR}`` references read from *env* (default: the environment), the spec's
    ``source.password_file`` applied. The name stays, so reports can show it."""
    try:
        filled = expand_env(url, where="source.url", env=env)
    except ConfigError as exc:
        raise ConfigError(f"registered source {spec.source.name!r}: {exc}") from None
    data = {"url": filled, "password_file": spec.source.password_file}
    try:
        filled = _password_into_url(data)["url"]
    except ValueError as exc:
        raise ConfigError(f"source.password_file: {exc}") from None
    source = spec.source.model_copy(update={"url": filled, "table": table})
    return spec.model_copy(update={"source": source})


class TargetSpec(_Spec):
    """Where an approved release is written. ``table`` (default: the source's) is
    ``table`` or ``schema.table``; ``schema`` alone names the source table's
    name in that schema."""

    url: str = Field(min_length=1)
    table: str | None = Field(default=None, min_length=1)
    mode: WriteMode = WriteMode.REPLACE
    password_file: Path | None = None

    _password = model_validator(mode="before")(_password_into_url)

    @model_validator(mode="before")
    @classmethod
    def _schema(cls, data: Any) -> Any:
        return _fold_schema(data, "target")


class PiiSpec(_Spec):
    """PII handling. ``columns`` overrides the policy's action per column.

    The pseudonym key (needed by ``pseudonymize``) is read from ``key_file``
    when set, else from the environment variable ``key_env``; it never appears
    in the spec, a log or a report.
    """

    policy: str | None = Field(
        default=None, description="policy pack for PII actions; defaults to release.policy"
    )
    key_env: str = Field(default="SYNTHGATE_PSEUDONYM_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    key_file: Path | None = None
    columns: dict[str, PiiAction] = Field(default_factory=dict)
    sample_values: int = Field(
        default=1000, ge=10, le=100_000, description="distinct values sampled per column"
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bound_days(value: float | date) -> float:
    """A declared bound as the engines see it: a number as it is, a date or a time as
    days since 1970-01-01 (UTC; a time without a zone is read as UTC)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - _EPOCH).total_seconds() / 86_400
    if isinstance(value, date):
        return float((value - _EPOCH.date()).days)
    return float(value)


def _bound(value: Any) -> Any:
    """A number, a date or a time; an ISO text (``1990-01-31``) is read as a date."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {_show(value)}")
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"must be a number, or a date like 1990-01-31 for a date column, got {_show(value)}"
            ) from None
    return value


class ColumnHint(_Spec):
    """Public facts about a column, declared by its owner: they cost no budget.

    ``min``/``max`` of a date or time column may be dates (``1930-01-01``) or times.
    """

    type: LogicalType | None = None
    categories: list[str | int | float | bool] | None = Field(default=None, min_length=1)
    min: float | datetime | date | None = None
    max: float | datetime | date | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        return _bound(value)

    @property
    def dated(self) -> bool:
        """Whether a bound was given as a date or a time."""
        return isinstance(self.min, date) or isinstance(self.max, date)

    def bounds(self) -> tuple[float, float] | None:
        """Both bounds as the engines see them, or None unless both are declared."""
        if self.min is None or self.max is None:
            return None
        return bound_days(self.min), bound_days(self.max)

    @field_validator("categories", mode="before")
    @classmethod
    def _finite_categories(cls, value: Any) -> Any:
        if _non_finite(value):
            raise ValueError(
                "every category must be a text or a finite number, not NaN or infinity"
            )
        return value

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ColumnHint:
        bounds = self.bounds()
        if bounds is None:
            return self
        low, high = bounds
        if low >= high:
            raise ValueError(f"min must be below max, got min={self.min} max={self.max}")
        if not math.isfinite(high - low):
            raise ValueError("min and max are too far apart: max - min must be a finite number")
        return self


class PrivacySpec(_Spec):
    epsilon: float = Field(default=3.0, gt=0, le=100)
    delta: float | Literal["auto"] = "auto"
    #: with ``source.tables``: the table whose rows are the people protected
    unit: str | None = Field(default=None, min_length=1)

    @field_validator("delta")
    @classmethod
    def _delta_range(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 < value < 1:
            raise ValueError(f"must be 'auto' or a number in (0, 1), got {value}")
        return value

    @property
    def delta_auto(self) -> bool:
        return not isinstance(self.delta, float)

    def delta_bound(self) -> float:
        """The most δ a run may spend, known before a row is read: the declared δ, or
        for ``auto`` its largest value, 1e-5 (a private engine resolves ``auto`` to
        min(1e-5, 1/(10·Ñ)) from its DP row count Ñ)."""
        return self.delta if isinstance(self.delta, float) else 1e-5


class RebalanceTarget(enum.StrEnum):
    UNIFORM = "uniform"


class RebalanceSpec(_Spec):
    """Sample every category of *column* equally often (conditional sampling).

    A documented way to augment under-represented groups in the released data;
    it is post-processing of the trained model and costs no privacy budget.
    """

    column: str = Field(min_length=1)
    to: RebalanceTarget = RebalanceTarget.UNIFORM


class ConstraintSpec(_Spec):
    """A declared rule between columns, held on every synthetic row.

    ``{type: inequality, low: opened, high: closed}`` · ``{type: age, column: age,
    born: dob, at: 2024-06-30}`` (or ``at_column: visit_date``) ·
    ``{type: combination, columns: [city, state]}``.
    """

    type: Literal["inequality", "age", "combination"]
    low: str | None = None
    high: str | None = None
    column: str | None = None
    born: str | None = None
    at: date | None = None
    at_column: str | None = None
    columns: list[str] | None = Field(default=None, min_length=2, max_length=8)

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> ConstraintSpec:
        need = {
            "inequality": ("low", "high"),
            "age": ("column", "born"),
            "combination": ("columns",),
        }[self.type]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"this {self.type} constraint needs {', '.join(missing)}")
        if self.type == "age" and (self.at is None) == (self.at_column is None):
            raise ValueError("an age constraint needs exactly one of at (a date) or at_column")
        return self


class SynthesisSpec(_Spec):
    """``synthesizer: auto`` (the default) picks a DP engine from public facts."""

    synthesizer: str = "auto"
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    rows: int | None = Field(default=None, ge=1, le=MAX_ROWS)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    columns: dict[str, ColumnHint] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    rebalance: RebalanceSpec | None = None
    constraints: list[ConstraintSpec] = Field(default_factory=list, max_length=50)
    #: with ``source.tables``: children one parent row keeps, keyed ``child_table.column``
    caps: dict[str, Annotated[int, Field(ge=1, le=256)]] = Field(default_factory=dict)
    #: with ``source.tables``: per child table, the parent columns it is modelled with
    context: dict[str, Annotated[list[str], Field(min_length=1, max_length=3)]] = Field(
        default_factory=dict
    )

    _finite_params = field_validator("params")(_finite)

    @model_validator(mode="after")
    def _params_need_an_engine(self) -> SynthesisSpec:
        if self.params and self.synthesizer == "auto":
            raise ValueError(
                "synthesis.params apply to one engine: name it in synthesis.synthesizer "
                "(dp-mst or dp-ctgan), or remove synthesis.params"
            )
        return self


class ExpectationSpec(_Spec):
    """A Great Expectations expectation, in GX's own JSON form (``type`` + ``kwargs``)."""

    type: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)

    _finite_kwargs = field_validator("kwargs", "meta")(_finite)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        from synthgate.validate import known_expectation

        if not known_expectation(value):
            raise ValueError(
                f"Great Expectations has no expectation {value!r}; "
                "see https://greatexpectations.io/expectations/"
            )
        return value


class ValidationSpec(_Spec):
    target_column: str | None = None
    protected_attributes: list[str] = Field(default_factory=list)
    holdout: float = Field(default=0.2, ge=0.05, le=0.5)
    expectations: list[ExpectationSpec] = Field(default_factory=list)


class ReleaseSpec(_Spec):
    policy: str = Field(default="default", min_length=1)
    expires_after: Duration = timedelta(days=90)


#: the synthesis settings a masked copy uses: the seed (fake values, the holdout split)
#: and declared column facts (the release schema that validation checks)
_MASKED_COPY_SYNTHESIS = frozenset({"seed", "columns"})


class JobSpec(_Spec):
    version: Literal[1] = 1
    name: str = Field(pattern=_NAME_PATTERN)
    description: str = ""
    mode: OutputMode = OutputMode.SYNTHETIC
    source: SourceSpec
    target: TargetSpec
    pii: PiiSpec = Field(default_factory=PiiSpec)
    synthesis: SynthesisSpec = Field(default_factory=SynthesisSpec)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)

    @model_validator(mode="before")
    @classmethod
    def _target_schema(cls, data: Any) -> Any:
        return _target_table_from_source(_unit_as_table(data))

    @model_validator(mode="after")
    def _tables_fit(self) -> JobSpec:
        problems = tables_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _masked_copy_trains_nothing(self) -> JobSpec:
        """A masked copy trains no model: every synthesis setting but the seed contradicts it."""
        if self.mode is OutputMode.MASKED_COPY:
            contradicting = sorted(self.synthesis.model_fields_set - _MASKED_COPY_SYNTHESIS)
            if contradicting:
                fields = ", ".join(f"synthesis.{name}" for name in contradicting)
                raise ValueError(
                    f"mode masked-copy copies the real rows and trains no model; remove {fields} "
                    "(only synthesis.seed and synthesis.columns apply) or use mode synthetic"
                )
        return self

    @property
    def masked_copy(self) -> bool:
        return self.mode is OutputMode.MASKED_COPY

    @property
    def multi_table(self) -> bool:
        return self.source.tables is not None

    @property
    def target_table(self) -> str:
        return self.target.table or self.source.table

    @property
    def pii_policy(self) -> str:
        return self.pii.policy or self.release.policy


def _unit_as_table(data: Any) -> Any:
    """With ``source.tables``, ``source.table`` is the privacy unit (the budget's table)."""
    if not isinstance(data, dict):
        return data
    source = data.get("source")
    if not isinstance(source, dict) or source.get("tables") is None:
        return data
    if source.get("table"):
        raise ValueError(
            "source.table and source.tables are both given: use source.table for one table "
            "or source.tables for related tables"
        )
    if source.get("name") or source.get("schema"):
        raise ValueError(
            "source.tables goes with source.url: qualify each table as schema.table "
            "(source.name and source.schema name one table)"
        )
    synthesis = data.get("synthesis")
    privacy = synthesis.get("privacy") if isinstance(synthesis, dict) else None
    unit = privacy.get("unit") if isinstance(privacy, dict) else None
    if not isinstance(unit, str) or not unit:
        raise ValueError(
            "synthesis.privacy.unit is required with source.tables: name the table whose "
            "rows are the people protected (one of source.tables)"
        )
    return {**data, "source": {**source, "table": unit}}


#: settings of a one-table job that a multi-table job does not take (yet)
_ONE_TABLE_ONLY: tuple[tuple[str, Callable[[JobSpec], bool]], ...] = (
    ("source.columns", lambda s: s.source.columns is not None),
    ("source.where", lambda s: s.source.where is not None),
    ("source.sample_rows", lambda s: s.source.sample_rows is not None),
    ("target.table", lambda s: s.target.table is not None),
    ("synthesis.rows", lambda s: s.synthesis.rows is not None),
    ("synthesis.columns", lambda s: bool(s.synthesis.columns)),
    ("synthesis.constraints", lambda s: bool(s.synthesis.constraints)),
    ("synthesis.rebalance", lambda s: s.synthesis.rebalance is not None),
    ("synthesis.params", lambda s: bool(s.synthesis.params)),
    ("pii.columns", lambda s: bool(s.pii.columns)),
    ("validation.target_column", lambda s: s.validation.target_column is not None),
    ("validation.protected_attributes", lambda s: bool(s.validation.protected_attributes)),
    ("validation.expectations", lambda s: bool(s.validation.expectations)),
)


def tables_problems(spec: JobSpec) -> list[str]:
    """What is wrong with a spec's multi-table settings, one line each (no value)."""
    src, synthesis = spec.source, spec.synthesis
    if src.tables is None:
        given = [
            name
            for name, on in (
                ("source.public", bool(src.public)),
                ("source.relationships", bool(src.relationships)),
                ("source.keys", bool(src.keys)),
                ("synthesis.privacy.unit", synthesis.privacy.unit is not None),
                ("synthesis.caps", bool(synthesis.caps)),
                ("synthesis.context", bool(synthesis.context)),
            )
            if on
        ]
        return (
            [f"{', '.join(given)}: only with source.tables; remove or list the tables"]
            if given
            else []
        )
    return _multi_problems(spec, src.tables)


def _multi_problems(spec: JobSpec, tables: list[str]) -> list[str]:
    names = set(tables)
    unit = spec.synthesis.privacy.unit
    problems = [
        f"{field} applies to a one-table job; remove it from a job with source.tables"
        for field, given in _ONE_TABLE_ONLY
        if given(spec)
    ]
    if spec.masked_copy:
        problems.append("mode masked-copy copies one table; use mode synthetic with source.tables")
    if spec.synthesis.synthesizer not in ("auto", "dp-mst"):
        problems.append("synthesis.synthesizer: related tables are synthesized by dp-mst; use auto")
    if len(names) != len(tables):
        problems.append("source.tables names a table twice; list each table once")
    if unit not in names:
        problems.append(
            f"synthesis.privacy.unit {unit!r} is not one of source.tables: {', '.join(tables)}"
        )
    problems += [
        f"source.public {p!r} is not one of source.tables; add it there or remove it"
        for p in spec.source.public
        if p not in names
    ]
    if unit in spec.source.public:
        problems.append("synthesis.privacy.unit cannot be public: its rows are the people")
    for i, rel in enumerate(spec.source.relationships):
        link = rel.relationship()
        problems += [
            f"source.relationships[{i}]: table {t!r} is not one of source.tables"
            for t in (link.child_table, link.parent_table)
            if t not in names
        ]
    problems += [
        f"synthesis.context.{table}: not one of source.tables"
        for table in spec.synthesis.context
        if table not in names
    ]
    problems += [
        f"source.keys.{table}: not one of source.tables"
        if table not in names
        else f"source.keys.{table}: list its key columns, e.g. [order_id]"
        for table, columns in spec.source.keys.items()
        if table not in names or not columns
    ]
    problems += [
        f"synthesis.caps.{key}: name a child table's foreign key as table.column "
        "(the table one of source.tables)"
        for key in spec.synthesis.caps
        if cap_table(key) not in names
    ]
    return problems


def cap_table(key: str) -> str:
    """The child table a ``synthesis.caps`` key names (``orders.customer_id`` → orders)."""
    return key.rpartition(".")[0] or key


class LoadedSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    spec: JobSpec
    path: Path | None
    spec_hash: str


# --------------------------------------------------------------------------- loading


def _interpolate(node: Any, path: str, env: Mapping[str, str], problems: list[str]) -> Any:
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match["name"], match["default"]
            if name in env:
                if _SECRET_NAME.search(name):
                    register_secret(env[name])
                return env[name]
            if default is not None:
                return default
            problems.append(
                f"{path or '<root>'}: environment variable {name} is not set; "
                f"export it or write ${{{name}:-default}}"
            )
            return ""

        return _ENV_REF.sub(sub, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, _join(path, str(k)), env, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", env, problems) for i, v in enumerate(node)]
    return node


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, dict | list):
        text = type(value).__name__
    text = redact(text)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = JobSpec
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return model


_NUMBER_KINDS = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
}


def _problem(err: ErrorDetails) -> str:
    loc = err["loc"]
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
    ctx = err.get("ctx") or {}
    kind = err["type"]
    got = _show(err.get("input"))
    if kind == "missing":
        return f"{path}: required field is missing"
    if kind == "extra_forbidden":
        parent = _model_at(tuple(loc[:-1]))
        allowed = ", ".join(parent.model_fields) if parent else "see the documentation"
        return f"{path}: unknown field; allowed here: {allowed}"
    bounds = {
        "greater_than": ("gt", ">"),
        "greater_than_equal": ("ge", ">="),
        "less_than": ("lt", "<"),
        "less_than_equal": ("le", "<="),
    }
    if kind in bounds:
        key, op = bounds[kind]
        limit = ctx.get(key)
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"{path}: must be {op} {limit}, got {got}"
    if kind in {"enum", "literal_error"}:
        return f"{path}: must be one of {ctx.get('expected')}, got {got}"
    if kind in _NUMBER_KINDS:
        return f"{path}: {_NUMBER_KINDS[kind]}, got {got}"
    if kind == "string_pattern_mismatch":
        return f"{path}: must match {ctx.get('pattern')}, got {got}"
    if kind in {"string_too_short", "too_short"}:
        return f"{path}: must not be empty"
    if kind in {"model_type", "dict_type"}:
        return f"{path}: must be a mapping of fields, got {got}"
    if kind == "value_error":
        message = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
        return f"{path}: {message}" if path else message
    return f"{path}: {err['msg'][:1].lower() + err['msg'][1:]}, got {got}"


def format_problems(exc: ValidationError) -> list[str]:
    """One line per validation problem, deduplicated, in document order."""
    seen: dict[str, None] = {}
    for raw in exc.errors(include_url=False):
        err = raw
        # pydantic reports each member of a union; name the field, not the member
        if err["loc"] and err["loc"][-1] in {"float", "str", "literal['auto']"}:
            err = {**err, "loc": err["loc"][:-1]}
        seen.setdefault(redact(_problem(err)), None)
    return list(seen)


def parse_job_spec(
    raw: Any, *, env: Mapping[str, str] | None = None, origin: str = "job spec"
) -> JobSpec:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}: expected a mapping of fields at the top level, got {type(raw).__name__}",
            hint="see examples/demo/job.yaml for the shape of a job spec",
        )
    problems: list[str] = []
    data = _interpolate(raw, "", os.environ if env is None else env, problems)
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(format_problems(exc))
        spec = None
    if problems or spec is None:
        raise ConfigError(f"{origin} is invalid ({len(problems)} problem(s))", problems=problems)
    return spec


def load_job_spec(path: Path, *, env: Mapping[str, str] | None = None) -> LoadedSpec:
    """Read and validate a job spec file; every failure is a :class:`ConfigError`."""
    try:
        with path.open("rb") as file:
            raw_bytes = file.read(MAX_BYTES + 1)  # a larger file is refused, unread
    except FileNotFoundError:
        raise ConfigError(f"job spec {path} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"job spec {path} is a directory, expected a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"job spec {path} cannot be read: {exc.strerror}") from None
    raw = load_yaml(raw_bytes, origin=f"job spec {path}")
    spec = parse_job_spec(raw, env=env, origin=f"job spec {path}")
    return LoadedSpec(spec=spec, path=path, spec_hash=hashlib.sha256(raw_bytes).hexdigest())


def size_problems(spec: JobSpec, columns: int) -> list[str]:
    """What is too large in a job that reads *columns* columns: one line each.

    The caps keep a job within a machine's memory and time; the column cap is
    checked on what is read, so ``source.columns`` is the way to a wide table.
    """
    problems = []
    if columns > MAX_COLUMNS:
        problems.append(
            f"source.table: a job reads at most {MAX_COLUMNS} columns, and this one would read "
            f"{columns}; list the columns to release in source.columns"
        )
    rows = spec.synthesis.rows
    if rows is not None and rows * columns > MAX_CELLS:
        problems.append(
            f"synthesis.rows: {rows} rows × {columns} columns is more than {MAX_CELLS:,} cells; "
            f"ask for at most {max(MAX_CELLS // max(columns, 1), 1):,} rows or read fewer columns"
        )
    return problems
