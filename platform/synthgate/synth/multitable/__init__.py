"""Multi-table DP synthesis: a unit table and its descendants under one ε per person."""

from synthgate.synth.multitable._engine import (
    MultiTableSynthesis,
    check_context,
    synthesize_related,
)
from synthgate.synth.multitable._graph import TablePlan, describe_plans, plan_tables

__all__ = [
    "MultiTableSynthesis",
    "TablePlan",
    "check_context",
    "describe_plans",
    "plan_tables",
    "synthesize_related",
]
