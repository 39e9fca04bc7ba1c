"""How the console writes times, privacy figures and audit details (Jinja filters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from math import floor
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

__all__ = ["count", "delta", "details", "epsilon", "install", "share", "when"]

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_MAX_DEPTH = 4  # deeper structures are written on one line


def when(value: Any) -> str:
    """``2026-12-05 03:14 UTC`` from a stored timestamp; text that is none, as it is."""
    if not isinstance(value, str) or not _ISO.match(value):
        return "" if value is None else str(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def epsilon(value: Any) -> str:
    """ε with three significant digits (``1.5``, ``0.123``); ``—`` when none was recorded."""
    if not _is_number(value):
        return "—" if value is None else str(value)
    return f"{float(value):.3g}"


def delta(value: Any) -> str:
    """δ in scientific notation without padding: ``1e-5``, ``2.5e-7``; ``0`` for none."""
    if not _is_number(value):
        return "—" if value is None else str(value)
    if value == 0:
        return "0"
    mantissa, _, exponent = f"{float(value):.2g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def count(value: Any) -> str:
    """A count with thousands separators (``1,777``); ``—`` when none was recorded."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


def share(value: Any) -> str:
    """A share from 0 to 1: ``1`` only when it is exactly 1, else at most four decimals
    rounded down (``0.9999``), so that a share short of 1 never reads as 1."""
    if not _is_number(value):
        return "—" if value is None else str(value)
    if value == 1:
        return "1"
    ten_thousandths = floor(round(float(value) * 10_000, 6))  # 0.57 is 5699.999…
    if value < 1:
        ten_thousandths = min(ten_thousandths, 9_999)
    return f"{ten_thousandths / 10_000:.4f}".rstrip("0").rstrip(".")


def _scalar(key: str, value: Any) -> str:
    name = key.lower()
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_number(value) and ("epsilon" in name or name in {"eps", "ε"}):
        return epsilon(value)
    if _is_number(value) and ("delta" in name or name == "δ"):
        return delta(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        return when(value)
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _inline(value: Any) -> bool:
    if isinstance(value, Mapping):
        return False
    if isinstance(value, list | tuple):
        return all(not isinstance(v, Mapping | list | tuple) for v in value)
    return True


def _is_digest(key: str) -> bool:
    name = key.lower()
    return "sha256" in name or "hash" in name or name.endswith("digest")


def _value(key: str, value: Any, depth: int) -> Markup:
    if isinstance(value, Mapping):
        if not value:
            return Markup('<span class="muted">none</span>')
        if depth >= _MAX_DEPTH:
            return escape(", ".join(f"{_label(str(k))}: {v}" for k, v in value.items()))
        return _dl(value, depth + 1)
    if isinstance(value, list | tuple):
        if not value:
            return Markup('<span class="muted">none</span>')
        if _inline(value):
            return escape(", ".join(_scalar(key, v) for v in value))
        items = Markup("").join(
            Markup("<li>{}</li>").format(_value(key, v, depth + 1)) for v in value
        )
        return Markup('<ol class="details">{}</ol>').format(items)
    if _is_digest(key) and isinstance(value, str):
        return Markup('<span class="mono">{}</span>').format(value)
    return escape(_scalar(key, value))


def _dl(mapping: Mapping[Any, Any], depth: int) -> Markup:
    rows = Markup("").join(
        Markup("<dt>{}</dt><dd>{}</dd>").format(_label(str(k)), _value(str(k), v, depth))
        for k, v in sorted(mapping.items(), key=lambda kv: str(kv[0]))
    )
    return Markup('<dl class="details">{}</dl>').format(rows)


def details(value: Any) -> Markup:
    """An audit event's details as a definition list: nested values as nested lists,
    timestamps as ``2026-12-05 03:14 UTC``, ε and δ in their short forms."""
    if not isinstance(value, Mapping) or not value:
        return Markup('<span class="muted">—</span>')
    return _dl(value, 0)


def install(env: Environment) -> None:
    """Register the filters ``when``, ``epsilon``, ``delta``, ``count``, ``share`` and
    ``details`` on *env*."""
    env.filters["when"] = when
    env.filters["count"] = count
    env.filters["share"] = share
    env.filters["epsilon"] = epsilon
    env.filters["delta"] = delta
    env.filters["details"] = details
