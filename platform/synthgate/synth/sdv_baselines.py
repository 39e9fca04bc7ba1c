"""Non-private baselines from SDV. They give NO differential-privacy guarantee:
they fit on raw values (category lists, min/max, marginals), and every report
and policy sees ``private = False``."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthgate.contracts import (
    FitResult,
    LogicalType,
    PrivacyRequest,
    PrivacySpent,
    TableSchema,
)
from synthgate.errors import SynthesisError
from synthgate.synth.frames import to_model_frame, to_schema_frame

__all__ = ["GaussianCopulaSynthesizer"]

_TABLE = "table"
_SDTYPES = {
    LogicalType.INTEGER: "numerical",
    LogicalType.FLOAT: "numerical",
    LogicalType.DECIMAL: "numerical",
    LogicalType.BOOLEAN: "boolean",
    LogicalType.CATEGORICAL: "categorical",
    LogicalType.TEXT: "categorical",
    LogicalType.DATE: "datetime",
    LogicalType.DATETIME: "datetime",
}


def _sdv_metadata(schema: TableSchema) -> Any:
    from sdv.metadata import Metadata

    columns = {}
    for col in schema.columns:
        if col.type is LogicalType.IDENTIFIER:
            raise SynthesisError(f"key column {col.name!r} must not reach the synthesizer")
        columns[col.name] = {"sdtype": _SDTYPES[col.type]}
    return Metadata.load_from_dict({"tables": {_TABLE: {"columns": columns}}})


def _quiet() -> None:
    for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer", "MultiTableSynthesizer"):
        logging.getLogger(name).setLevel(logging.ERROR)


class GaussianCopulaParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_distribution: str = Field(
        default="beta", pattern="^(norm|beta|truncnorm|uniform|gamma|gaussian_kde)$"
    )
    enforce_min_max_values: bool = True


class GaussianCopulaSynthesizer:
    """SDV GaussianCopula: fast marginals + Gaussian dependence. Not private."""

    name: ClassVar[str] = "sdv-gaussian-copula"
    private: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = GaussianCopulaParams(**params)
        self._model: Any = None
        self._schema: TableSchema | None = None
        self._seed = 0

    def fit(
        self, data: pd.DataFrame, schema: TableSchema, *, privacy: PrivacyRequest, seed: int
    ) -> FitResult:
        from sdv.single_table import GaussianCopulaSynthesizer as SdvGaussianCopula

        _quiet()
        start = time.perf_counter()
        self._schema = schema
        self._seed = seed
        np.random.seed(seed % 2**32)
        model = SdvGaussianCopula(
            _sdv_metadata(schema),
            enforce_min_max_values=self.params.enforce_min_max_values,
            default_distribution=self.params.default_distribution,
        )
        frame = to_model_frame(data, schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit({_TABLE: frame})
        self._model = model
        return FitResult(
            seconds=time.perf_counter() - start,
            params=self.params.model_dump(),
            privacy=self.privacy_spent(),
        )

    def sample(self, n: int, *, conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if self._model is None or self._schema is None:
            raise SynthesisError("sample() called before fit()")
        if conditions:
            raise SynthesisError(f"{self.name} does not support conditional sampling")
        np.random.seed((self._seed + 1) % 2**32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self._model.sample(num_rows=n)
        frame = out[_TABLE] if isinstance(out, dict) else out
        return to_schema_frame(frame.reset_index(drop=True), self._schema)

    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)
