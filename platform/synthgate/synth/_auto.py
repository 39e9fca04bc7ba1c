"""``synthesizer: auto``: the DP engine for a table, chosen from public facts only.

The choice reads the schema (column count, declared domains) and the requested
ε — never a row, a row count or a result computed on real data — so it spends
no budget and cannot leak. It is recorded with its reason in the run's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthgate.contracts import TableSchema

__all__ = ["AUTO", "EngineChoice", "choose_engine"]

AUTO = "auto"
#: above this many modelled columns the tree search (all column pairs) is slow
MST_MAX_COLUMNS = 400


@dataclass(frozen=True, slots=True)
class EngineChoice:
    synthesizer: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


def choose_engine(
    schema: TableSchema, *, epsilon: float, target: str | None = None
) -> EngineChoice:
    """dp-mst for every table it can hold, conditioned on the spec's target column
    when there is one; dp-ctgan for very wide tables."""
    width = len(schema.columns)
    if width > MST_MAX_COLUMNS:
        return EngineChoice(
            "dp-ctgan",
            f"auto chose dp-ctgan: {width} columns exceed dp-mst's {MST_MAX_COLUMNS} "
            "(it scores every pair of columns)",
        )
    around = f", every measurement conditioned on the target column {target!r}" if target else ""
    return EngineChoice(
        "dp-mst",
        f"auto chose dp-mst for {width} columns at epsilon {epsilon:g}{around}: a "
        "marginal-based engine that keeps every column's distribution and the strongest "
        "pairs, and measured ahead of dp-ctgan on every benchmark table (docs/synthesis.md)",
        {"target": target} if target else {},
    )
