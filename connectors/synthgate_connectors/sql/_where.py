"""``source.where``: one condition, parsed and written anew before it reaches a database.

The filter is parsed with sqlglot in the database's dialect and refused unless it
is a single expression built from columns, literals, operators and function
calls: no second statement, no subquery, no parameter placeholder. What the
database receives is sqlglot's rendering of that expression (without comments),
never the spec's text, so a comment or a quote the database reads differently
than the parser (MySQL's ``/*! … */``, PostgreSQL's dollar quotes) cannot smuggle
in a statement. Reads also run in a read-only transaction (see ``_read``).
"""

from __future__ import annotations

import logging
from typing import Any

from synthgate.errors import ConfigError

__all__ = ["where_sql"]

# sqlglot's names for the backends synthgate connects to; others parse as generic SQL
_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_EXAMPLE = "signup_date >= DATE '2024-01-01' AND country = 'DE'"

# sqlglot logs the text it could not parse; the one-line error below says it instead
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def where_sql(where: str, backend: str) -> str:
    """The filter *where* as SQL for *backend*, or a :class:`ConfigError` (exit 2)
    when it is not exactly one condition."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    dialect = _DIALECTS.get(backend)
    try:
        parsed = [e for e in sqlglot.parse(where, read=dialect) if e is not None]
    except ParseError as exc:
        raise _refused(f"it does not parse{_position(exc)}") from None
    except TokenError:
        raise _refused("it has an unterminated quote or comment") from None
    if len(parsed) != 1:
        raise _refused(f"it holds {len(parsed)} statements")
    problem = _not_a_condition(parsed[0])
    if problem:
        raise _refused(problem)
    return str(parsed[0].sql(dialect=dialect, comments=False))


def _not_a_condition(expr: Any) -> str | None:
    """Why *expr* is not a single condition over the table's columns, or None."""
    from sqlglot import exp

    allowed = (
        exp.Condition,
        exp.Identifier,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        exp.Var,
    )
    if isinstance(expr, exp.Literal | exp.Null):
        return "it is a bare value, not a condition"
    if not isinstance(expr, exp.Condition):
        return f"it is a statement ({_kind(expr)}), not a condition"
    for node in expr.walk():
        if isinstance(node, exp.Placeholder | exp.Parameter):
            return "it holds a parameter placeholder; write the value itself"
        if isinstance(node, exp.Query | exp.Subquery):
            return "it holds a subquery; put the query in a view and read the view"
        if not isinstance(node, allowed):
            return f"it holds {_kind(node)}, which a filter cannot hold"
    return None


def _kind(node: Any) -> str:
    return str(getattr(node, "key", "") or type(node).__name__).upper()


def _position(exc: Any) -> str:
    errors = getattr(exc, "errors", None) or [{}]
    line, col = errors[0].get("line"), errors[0].get("col")
    return f" (line {line}, column {col})" if line and col else ""


def _refused(why: str) -> ConfigError:
    return ConfigError(
        f"source.where must be one SQL condition on the table's columns: {why}",
        hint=f"write a filter such as {_EXAMPLE}",
    )
