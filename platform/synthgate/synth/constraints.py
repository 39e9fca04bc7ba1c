"""Declared constraints between columns, held by construction for every engine.

A constraint is a public rule the job spec declares, never one learned from
rows. Each one rewrites the training frame before any engine sees it and
rewrites every sampled frame back, so no synthetic row can break it:

- ``inequality`` (``low <= high``): the model learns the gap ``high − low``
  (≥ 0) instead of ``high``; sampling adds the gap back.
- ``age`` (a whole-year age derived from a date and a reference date or date
  column): the model never learns the age; sampling computes it.
- ``combination`` (``city`` within ``state``): the columns are modelled as one
  categorical column, so only combinations that pass DP discovery (or are
  declared) come out.

Each rewrite is a function of one row, so a row still contributes to the model
exactly once and the privacy accounting is unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import ConfigError
from synthgate.synth.frames import to_schema_frame

__all__ = [
    "Constraint",
    "ConstraintKind",
    "build_constraints",
    "constraint_columns",
    "constraint_problems",
    "learnable",
    "restore",
]

_SEP = "\x1f"  # joins the values of a combination
_NULL = "\x00"  # stands for a missing value inside a combination
_DAYS_PER_YEAR = 365.2425


class ConstraintKind(enum.StrEnum):
    INEQUALITY = "inequality"
    AGE = "age"
    COMBINATION = "combination"


class Constraint(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        """The frame and schema the engine learns from."""
        ...

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A sampled frame with the original columns back, the rule held on every row."""
        ...

    def violated(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]: ...


def _numbers(series: pd.Series[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Numbers as floats; dates and timestamps as days since 1970 (NaN for missing)."""
    out: np.ndarray[Any, np.dtype[np.float64]]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        out = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    ts = pd.to_datetime(series, errors="coerce")
    days = (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    out = np.asarray(days.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    return out


def _from_days(days: np.ndarray[Any, Any], like: ColumnSchema) -> pd.Series[Any]:
    if like.type.is_temporal:
        return pd.Series(pd.Timestamp("1970-01-01") + pd.to_timedelta(days, unit="D"))
    return pd.Series(days)


def _replace(schema: TableSchema, name: str, new: ColumnSchema | None) -> TableSchema:
    cols = [new if c.name == name else c for c in schema.columns]
    return schema.replace_columns([c for c in cols if c is not None])


@dataclass(frozen=True, slots=True)
class Inequality:
    low: str
    high: str
    high_schema: ColumnSchema

    @property
    def name(self) -> str:
        return f"{self.low} <= {self.high}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.low, self.high)

    @property
    def _gap(self) -> str:
        return f"{self.high}__gap"

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        gap = np.maximum(_numbers(frame[self.high]) - _numbers(frame[self.low]), 0.0)
        out = frame.drop(columns=[self.high]).assign(**{self._gap: gap})
        integer = self.high_schema.type in {LogicalType.INTEGER, LogicalType.DATE}
        col = ColumnSchema(
            self._gap,
            LogicalType.INTEGER if integer else LogicalType.FLOAT,
            self.high_schema.nullable,
        )
        return out, _replace(schema, self.high, col)

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        gap = np.maximum(_numbers(frame[self._gap]), 0.0)
        high = _from_days(_numbers(frame[self.low]) + gap, self.high_schema)
        return frame.drop(columns=[self._gap]).assign(**{self.high: high.to_numpy()})

    def violated(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        low, high = _numbers(frame[self.low]), _numbers(frame[self.high])
        with np.errstate(invalid="ignore"):
            broken: np.ndarray[Any, np.dtype[np.bool_]] = high < low
        return broken


@dataclass(frozen=True, slots=True)
class Age:
    column: str
    born: str
    at: str  # a date literal, or the name of a date column
    at_is_column: bool

    @property
    def name(self) -> str:
        return f"{self.column} = whole years from {self.born} to {self.at}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.born, *((self.at,) if self.at_is_column else ()))

    def _age(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        born = pd.to_datetime(frame[self.born], errors="coerce")
        if self.at_is_column:
            at = pd.to_datetime(frame[self.at], errors="coerce")
        else:
            at = pd.Series(pd.Timestamp(self.at), index=frame.index)
        years = at.dt.year - born.dt.year
        before_birthday = (at.dt.month * 100 + at.dt.day) < (born.dt.month * 100 + born.dt.day)
        age = years - before_birthday.astype("float64")
        return np.asarray(age.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        return frame.drop(columns=[self.column]), _replace(schema, self.column, None)

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{self.column: self._age(frame)})

    def violated(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        want = self._age(frame)
        have = _numbers(frame[self.column])
        both = ~np.isnan(want) & ~np.isnan(have)
        broken: np.ndarray[Any, np.dtype[np.bool_]] = both & (want != have)
        return broken


@dataclass(frozen=True, slots=True)
class Combination:
    parts: tuple[ColumnSchema, ...]

    @property
    def name(self) -> str:
        return "one of the declared or observed combinations of " + ", ".join(self.columns)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)

    @property
    def _joined(self) -> str:
        return "__".join(self.columns) + "__combination"

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        values = [frame[c].to_numpy(dtype=object) for c in self.columns]
        present = [frame[c].notna().to_numpy() for c in self.columns]
        joined = [
            _SEP.join(str(v) if ok else _NULL for v, ok in zip(row, oks, strict=True))
            for row, oks in zip(zip(*values, strict=True), zip(*present, strict=True), strict=True)
        ]
        out = frame.drop(columns=list(self.columns)).assign(**{self._joined: joined})
        col = ColumnSchema(self._joined, LogicalType.CATEGORICAL, nullable=False)
        first, *rest = self.columns
        schema = _replace(schema, first, col)
        for name in rest:
            schema = _replace(schema, name, None)
        return out, schema

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        width = len(self.parts)
        split = [
            v.split(_SEP) if isinstance(v, str) else [_NULL] * width
            for v in frame[self._joined].to_numpy(dtype=object)
        ]
        out = frame.drop(columns=[self._joined])
        for i, part in enumerate(self.parts):
            column = [p[i] if len(p) > i and p[i] != _NULL else None for p in split]
            out[part.name] = np.array(column, dtype=object)
        return out

    def violated(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        # by construction: a combination is only ever sampled whole
        return np.zeros(len(frame), dtype=bool)


def constraint_problems(specs: Sequence[Any], schema: TableSchema) -> list[str]:
    """One line per declared constraint that cannot apply to *schema* (the model's columns)."""
    problems: list[str] = []
    known = set(schema.column_names)
    for i, spec in enumerate(specs):
        where = f"synthesis.constraints[{i}]"
        missing = [c for c in constraint_columns(spec) if c not in known]
        if missing:
            problems.append(
                f"{where}: no modelled column {', '.join(repr(m) for m in missing)} "
                "(dropped, masked or not in the source); fix the name or the PII action"
            )
            continue
        problems.extend(f"{where}: {p}" for p in _type_problems(spec, schema))
    return problems


def constraint_columns(spec: Any) -> list[str]:
    kind = ConstraintKind(spec.type)
    if kind is ConstraintKind.INEQUALITY:
        return [spec.low, spec.high]
    if kind is ConstraintKind.AGE:
        return [spec.column, spec.born, *([spec.at] if spec.at_column else [])]
    return list(spec.columns)


def _type_problems(spec: Any, schema: TableSchema) -> list[str]:
    kind = ConstraintKind(spec.type)
    if kind is ConstraintKind.INEQUALITY:
        low, high = schema.column(spec.low).type, schema.column(spec.high).type
        both_numbers = low.is_numeric and high.is_numeric
        both_dates = low.is_temporal and high.is_temporal
        if not (both_numbers or both_dates):
            return [f"{spec.low} and {spec.high} must both be numbers or both be dates"]
    if kind is ConstraintKind.AGE and not schema.column(spec.born).type.is_temporal:
        return [f"{spec.born} must be a date column to derive {spec.column} from it"]
    return []


def build_constraints(specs: Sequence[Any], schema: TableSchema) -> list[Constraint]:
    """Constraint objects for the model schema; raises ConfigError listing every problem."""
    problems = constraint_problems(specs, schema)
    if problems:
        raise ConfigError("synthesis.constraints do not fit the table", problems=problems)
    built: list[Constraint] = []
    for spec in specs:
        kind = ConstraintKind(spec.type)
        if kind is ConstraintKind.INEQUALITY:
            built.append(Inequality(spec.low, spec.high, schema.column(spec.high)))
        elif kind is ConstraintKind.AGE:
            at = spec.at_column or str(spec.at)
            built.append(Age(spec.column, spec.born, at, spec.at_column is not None))
        else:
            built.append(Combination(tuple(schema.column(c) for c in spec.columns)))
    return built


def learnable(
    frame: pd.DataFrame, schema: TableSchema, constraints: Sequence[Constraint]
) -> tuple[pd.DataFrame, TableSchema]:
    """The frame and schema an engine trains on, every constraint rewritten in."""
    for constraint in constraints:
        frame, schema = constraint.forward(frame, schema)
    return frame, schema


def restore(
    frame: pd.DataFrame, schema: TableSchema, constraints: Sequence[Constraint]
) -> pd.DataFrame:
    """A sampled frame back in *schema*'s columns and types, every constraint held."""
    if not constraints:
        return frame
    for constraint in reversed(constraints):
        frame = constraint.inverse(frame)
    return to_schema_frame(frame[schema.column_names], schema)
