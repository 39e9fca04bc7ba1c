"""What validation sees, and the shared, cached preparation every metric family uses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from synthgate.contracts import PrivacySpent, TableSchema
from synthgate.synth.frames import to_model_frame
from synthgate.validate._constraints import RowConstraint

__all__ = ["K_MIN", "ValidationContext", "ValidationInput", "ValidationOptions"]

#: The smallest number of real rows a report cell (category, bin, group) may hold.
K_MIN = 10

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """Knobs of a validation run. Row caps keep large tables fast; every cap
    that bites is recorded in the report (``validation.sampling``)."""

    k_min: int = K_MIN
    #: rows used by SDMetrics, association matrices and the utility/bias models (per frame)
    max_model_rows: int = 50_000
    #: synthetic rows whose nearest real neighbours are searched (DCR, NNDR)
    max_query_rows: int = 10_000
    #: real rows per reference set (training sample, holdout sample) in distance metrics
    max_reference_rows: int = 10_000
    #: training rows searched for a synthetic row's two nearest neighbours (NNDR)
    max_neighbour_rows: int = 30_000
    #: attacks per anonymeter-style evaluation
    attacks: int = 500
    #: one-hot width per categorical column in distance encodings
    max_categories: int = 50
    seed: int = 0
    #: raise instead of recording a metric that failed to compute (tests use it)
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ValidationInput:
    """What validation sees.

    ``train`` and ``holdout`` are real rows restricted to the columns the
    synthesizer saw (``schema``); they are used in memory and never written.
    ``release`` is the full released table (PII refilled, keys re-generated)
    and ``release_schema`` its schema; the data-quality suite validates it.
    ``masked_copy`` says the "synthetic" rows are the real rows, masked.
    ``constraints`` are declared inter-column rules the synthetic rows must hold.
    """

    train: pd.DataFrame
    synthetic: pd.DataFrame
    schema: TableSchema
    privacy: PrivacySpent
    pii_replay: Mapping[str, int]
    holdout: pd.DataFrame | None = None
    target_column: str | None = None
    protected_attributes: Sequence[str] = ()
    release: pd.DataFrame | None = None
    release_schema: TableSchema | None = None
    expectations: Sequence[Mapping[str, Any]] = ()
    rebalance: Mapping[str, Any] | None = None
    options: ValidationOptions = field(default_factory=ValidationOptions)
    #: the "synthetic" table is a masked copy of the real rows (release.masked_copy)
    masked_copy: bool = False
    constraints: Sequence[RowConstraint] = ()


class ValidationContext:
    """Prepared frames plus a memo, so that families share expensive work."""

    def __init__(self, data: ValidationInput) -> None:
        self.input = data
        self.options = data.options
        self.schema = data.schema
        self._memo: dict[str, Any] = {}
        self.sampling: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ frames

    @cached_property
    def real(self) -> pd.DataFrame:
        """Real training rows, model dtypes (float, datetime64, object)."""
        return to_model_frame(self.input.train, self.schema).reset_index(drop=True)

    @cached_property
    def synthetic(self) -> pd.DataFrame:
        """Synthetic rows, model dtypes; a modelled column the synthesizer left out is
        all-missing here (listed in :attr:`absent_columns`), so no metric breaks on it."""
        frame = self.input.synthetic
        if self.absent_columns:
            frame = frame.assign(**dict.fromkeys(self.absent_columns))
        return to_model_frame(frame, self.schema).reset_index(drop=True)

    @cached_property
    def absent_columns(self) -> list[str]:
        """Modelled columns missing from the synthetic frame."""
        present = set(self.input.synthetic.columns)
        return [c for c in self.columns if c not in present]

    @cached_property
    def holdout(self) -> pd.DataFrame | None:
        if self.input.holdout is None or self.input.holdout.empty:
            return None
        return to_model_frame(self.input.holdout, self.schema).reset_index(drop=True)

    @property
    def columns(self) -> list[str]:
        return self.schema.column_names

    # ------------------------------------------------------------------ helpers

    def rng(self, salt: str) -> np.random.Generator:
        """A generator seeded by the run's seed and *salt*: reproducible, independent."""
        digest = hashlib.sha256(f"{self.options.seed}:{salt}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def sample(self, frame: pd.DataFrame, n: int, *, purpose: str, salt: str) -> pd.DataFrame:
        """At most *n* rows of *frame*, chosen at random; records the cap when it bites."""
        if len(frame) <= n:
            return frame
        self.sampling.setdefault(purpose, {})[salt] = n
        self.sampling[purpose][f"{salt}_of"] = len(frame)
        idx = self.rng(f"{purpose}:{salt}").choice(len(frame), size=n, replace=False)
        idx.sort()
        return frame.iloc[idx].reset_index(drop=True)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Compute once per validation run; later calls return the same object."""
        if key not in self._memo:
            self._memo[key] = build()
        value: T = self._memo[key]
        return value

    def cached(self, key: str) -> Any:
        """What :meth:`memo` stored under *key*, or ``None``."""
        return self._memo.get(key)
