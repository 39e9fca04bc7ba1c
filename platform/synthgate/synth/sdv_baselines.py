"""Non-private baselines from SDV. They give NO differential-privacy guarantee:
they fit on raw values (category lists, min/max, marginals), and every report
and policy sees ``private = False``."""

from __future__ import annotations

import abc
import logging
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
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
from synthgate.synth.frames import SDV_SDTYPES, to_model_frame, to_schema_frame

__all__ = ["CTGANSynthesizer", "GaussianCopulaSynthesizer"]

_TABLE = "table"


def _sdv_metadata(schema: TableSchema) -> Any:
    from sdv.metadata import Metadata

    columns = {}
    for col in schema.columns:
        if col.type is LogicalType.IDENTIFIER:
            raise SynthesisError(f"key column {col.name!r} must not reach the synthesizer")
        columns[col.name] = {"sdtype": SDV_SDTYPES[col.type]}
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


class CTGANParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=30, ge=1, le=2000)
    batch_size: int = Field(default=500, ge=10, le=100_000)
    enforce_min_max_values: bool = True


class _SdvBaseline(abc.ABC):
    """Template for SDV single-table synthesizers: subclasses build the model."""

    name: ClassVar[str]
    private: ClassVar[bool] = False
    params: BaseModel

    def __init__(self) -> None:
        self._model: Any = None
        self._schema: TableSchema | None = None
        self._seed = 0

    @abc.abstractmethod
    def _build(self, metadata: Any) -> Any:
        """The SDV synthesizer for *metadata*."""

    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        progress: Any = None,
    ) -> FitResult:
        _quiet()
        start = time.perf_counter()
        self._schema = schema
        self._seed = seed
        np.random.seed(seed % 2**32)
        torch_seed(seed)
        model = self._build(_sdv_metadata(schema))
        frame = to_model_frame(data, schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit({_TABLE: frame})
        self._model = model
        return FitResult(
            seconds=time.perf_counter() - start,
            params={**self.params.model_dump(), "seed": seed},
            privacy=self.privacy_spent(),
        )

    def sample(
        self, n: int, *, conditions: Mapping[str, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        if self._model is None or self._schema is None:
            raise SynthesisError("sample() called before fit()")
        if conditions:
            raise SynthesisError(f"{self.name} does not support conditional sampling")
        np.random.seed(((self._seed if seed is None else seed) + 1) % 2**32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self._model.sample(num_rows=n)
        frame = out[_TABLE] if isinstance(out, dict) else out
        return to_schema_frame(frame.reset_index(drop=True), self._schema)

    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)

    def save(self, folder: Path) -> list[Path]:
        """Non-private models are not persisted: they hold raw-value statistics."""
        del folder
        return []


def torch_seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


class GaussianCopulaSynthesizer(_SdvBaseline):
    """SDV GaussianCopula: fast marginals + Gaussian dependence. Not private."""

    name: ClassVar[str] = "sdv-gaussian-copula"

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.params = GaussianCopulaParams(**params)

    def _build(self, metadata: Any) -> Any:
        from sdv.single_table import GaussianCopulaSynthesizer as SdvGaussianCopula

        p = self.params
        assert isinstance(p, GaussianCopulaParams)
        return SdvGaussianCopula(
            metadata,
            enforce_min_max_values=p.enforce_min_max_values,
            default_distribution=p.default_distribution,
        )


class CTGANSynthesizer(_SdvBaseline):
    """SDV CTGAN: the non-private GAN baseline (mode-specific normalisation fitted
    on raw values; category lists copied from the data). Not private."""

    name: ClassVar[str] = "sdv-ctgan"

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.params = CTGANParams(**params)

    def _build(self, metadata: Any) -> Any:
        from sdv.single_table import CTGANSynthesizer as SdvCTGAN

        p = self.params
        assert isinstance(p, CTGANParams)
        return SdvCTGAN(
            metadata,
            epochs=p.epochs,
            batch_size=p.batch_size,
            enforce_min_max_values=p.enforce_min_max_values,
            enable_gpu=False,
        )
