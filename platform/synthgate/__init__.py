"""synthgate: privacy-preserving synthetic data releases.

The Python API (see docs/python-api.md):

- :func:`run` runs a job spec, as ``synthgate run`` does;
- :func:`inspect` classifies a DataFrame's or a table's columns under a policy pack;
- :func:`synthesize` turns a DataFrame into a synthetic one through a whole job
  (PII policy, DP engine, validation, gate, audit log, budget ledger);
- :func:`synthesize_tables` synthesizes related tables with one ε per person.

Plugins import :mod:`synthgate.contracts` and :mod:`synthgate.errors`; the API is
loaded on first use, so ``import synthgate`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ColumnFinding",
    "Inventory",
    "MultiTableSynthesis",
    "Synthesis",
    "__version__",
    "inspect",
    "run",
    "synthesize",
    "synthesize_tables",
]

if TYPE_CHECKING:
    from synthgate.api import (
        ColumnFinding,
        Inventory,
        MultiTableSynthesis,
        Synthesis,
        inspect,
        run,
        synthesize,
        synthesize_tables,
    )

_API = {
    "ColumnFinding",
    "Inventory",
    "MultiTableSynthesis",
    "Synthesis",
    "inspect",
    "run",
    "synthesize",
    "synthesize_tables",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        from synthgate import api

        return getattr(api, name)
    raise AttributeError(f"module 'synthgate' has no attribute {name!r}")
