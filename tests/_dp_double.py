"""Test doubles of private synthesizers, put in place of the entry points (in this
process, or in a child started with :data:`CHILD`), so that budget tests run in
seconds and can stop a fit where they need it.

``test-private`` fits a Gaussian copula and reports the requested ε and δ as spent.
When ``SYNTHGATE_TEST_HOLD_FIT`` names a FIFO, its fit writes ``fitting`` to it and
waits for a line on stdin: the test knows the run has reserved its budget and is
mid-fit, and decides when it goes on.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pandas as pd
import pytest

from synthgate import plugins
from synthgate.contracts import FitResult, PrivacyRequest, PrivacySpent, TableSchema
from synthgate.errors import SynthesisError
from synthgate.plugins import PluginGroup
from synthgate.synth.sdv_baselines import GaussianCopulaSynthesizer

HOLD_ENV = "SYNTHGATE_TEST_HOLD_FIT"


def _hold() -> None:
    fifo = os.environ.get(HOLD_ENV)
    if not fifo:
        return
    with open(fifo, "w", encoding="utf-8") as signal:
        signal.write("fitting\n")
    sys.stdin.readline()  # the test says when the fit goes on


class PrivateCopula(GaussianCopulaSynthesizer):
    """A 'private' engine for tests: spends exactly what it is asked for."""

    name: ClassVar[str] = "test-private"
    private: ClassVar[bool] = True

    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        progress: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> FitResult:
        _hold()
        self._spent = PrivacySpent(True, privacy.epsilon, privacy.delta, "test")
        result = super().fit(data, schema, privacy=privacy, seed=seed, progress=progress)
        return FitResult(result.seconds, result.params, self._spent)

    def privacy_spent(self) -> PrivacySpent:
        return self._spent


class _Stops(PrivateCopula):
    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        progress: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> FitResult:
        _hold()
        raise self.failure(privacy)

    def failure(self, privacy: PrivacyRequest) -> BaseException:
        raise NotImplementedError


class SpendsHalfThenFails(_Stops):
    """Its DP preprocessing ran (half the ε), then the fit stopped and says so."""

    name: ClassVar[str] = "test-fails-after-dp"

    def failure(self, privacy: PrivacyRequest) -> BaseException:
        return SynthesisError("the test fit stopped", spent_epsilon=privacy.epsilon / 2)


class CrashesMidFit(_Stops):
    """An internal error in the middle of the fit: it cannot say what it spent."""

    name: ClassVar[str] = "test-crashes-mid-fit"

    def failure(self, privacy: PrivacyRequest) -> BaseException:
        return RuntimeError("the test fit crashed")


class RefusesToStart(_Stops):
    """The fit refuses before any DP mechanism runs."""

    name: ClassVar[str] = "test-refuses"

    def failure(self, privacy: PrivacyRequest) -> BaseException:
        return SynthesisError("the test fit refused to start")


DOUBLES: tuple[type[Any], ...] = (PrivateCopula, SpendsHalfThenFails, CrashesMidFit, RefusesToStart)


class _EntryPoint:
    def __init__(self, obj: type) -> None:
        self.obj = obj

    def load(self) -> type:
        return self.obj


def install(setattr_: Callable[[Any, str, Any], None]) -> None:
    """Add the doubles to the synthesizer entry points (with *setattr_*, e.g. monkeypatch's)."""
    real = plugins._entry_points

    def patched(group: PluginGroup) -> Mapping[str, Any]:
        eps: dict[str, Any] = dict(real(group))
        if group is PluginGroup.SYNTHESIZERS:
            eps.update({c.name: _EntryPoint(c) for c in DOUBLES})
        return eps

    setattr_(plugins, "_entry_points", patched)


@contextlib.contextmanager
def registered(mp: pytest.MonkeyPatch) -> Iterator[None]:
    install(mp.setattr)
    yield


#: ``python -c CHILD ROOT ARGS…``: the command line with the doubles installed
CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from tests._dp_double import install
install(setattr)
from synthgate.cli import main
sys.exit(main(sys.argv[2:]))
"""
