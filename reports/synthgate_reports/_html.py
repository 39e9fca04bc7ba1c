"""Small HTML helpers shared by the report sections. Everything printed is escaped."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from synthgate.contracts import REPORT_AREA_PREFIXES as AREA_PREFIXES
from synthgate.contracts import area_of, area_status

__all__ = [
    "AREA_PREFIXES",
    "STATUS_PILL",
    "advisory_counts",
    "advisory_text",
    "area_of",
    "area_status",
    "bar",
    "e",
    "explain",
    "fmt",
    "fmt_delta",
    "fmt_sig",
    "fmt_time",
    "kv_table",
    "metric",
    "metric_info",
    "pill",
    "reference_text",
    "table",
    "verdict_pill",
]

STATUS_PILL = {
    "AWAITING_APPROVAL": "warn",
    "APPROVED": "pass",
    "PUBLISHED": "pass",
    "BLOCKED": "fail",
    "REJECTED": "fail",
    "EXPIRED": "info",
    "REVOKED": "fail",
}
VERDICT_PILL = {"pass": "pass", "warn": "warn", "fail": "fail"}


def e(value: Any) -> str:
    return escape("" if value is None else str(value))


def pill(text: str, kind: str) -> str:
    return f'<span class="pill {e(kind)}">{e(text)}</span>'


def verdict_pill(verdict: str, suffix: str = "") -> str:
    kind = VERDICT_PILL.get(verdict, "info")
    return pill(f"{verdict}{suffix}", kind)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """*rows* hold HTML that is already escaped; headers are escaped here."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    klass = f' class="{e(cls)}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value.is_integer() and abs(value) < 1e12:
            return str(int(value))
        return f"{value:.{digits}f}"
    return e(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def fmt_sig(value: Any, digits: int = 3) -> str:
    """*value* with *digits* significant digits: ``2.5`` → ``2.50``, ``12.345`` → ``12.3``."""
    number = _number(value)
    if number is None:
        return fmt(value)
    if number == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(number)))
    if magnitude < -4 or magnitude >= 6:
        return fmt_delta(number)
    decimals = max(0, digits - 1 - magnitude)
    return f"{number:.{decimals}f}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_delta(value: Any) -> str:
    """A small probability as people write it: ``1e-05`` → ``1×10⁻⁵``, ``2.5e-06`` → ``2.5×10⁻⁶``."""
    number = _number(value)
    if number is None:
        return fmt(value)
    if number == 0:
        return "0"
    mantissa, _, exponent = f"{number:.2e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = int(exponent)
    if power == 0:
        return mantissa
    head = "" if mantissa == "1" else f"{mantissa}×"
    return f"{head}10{str(power).translate(_SUPERSCRIPT)}"


def fmt_time(value: Any) -> str:
    """An ISO-8601 time as ``2026-12-05 03:14 UTC``; a bare date stays a date."""
    if value is None or value == "":
        return "—"
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return e(text)
    if len(text) <= 10:  # a date without a time
        return parsed.strftime("%Y-%m-%d")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M UTC")


def _param_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{e(k)} = {_param_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_param_value(v) for v in value) or "—"
    if isinstance(value, float) and 0 < abs(value) < 1e-3:
        return fmt_delta(value)
    if isinstance(value, float):
        return fmt_sig(value, 4)
    return fmt(value)


def kv_table(values: Mapping[str, Any], *, empty: str = "—") -> str:
    """Key/value rows (escaped), for parameters; nested values on one line."""
    if not values:
        return e(empty)
    rows = "".join(
        f"<tr><td><code>{e(k)}</code></td><td>{_param_value(v)}</td></tr>"
        for k, v in values.items()
    )
    return f'<table class="kv small params"><tbody>{rows}</tbody></table>'


def pct(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return f"{100 * float(value):.1f}%"


def bar(value: Any) -> str:
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
    width = max(0.0, min(1.0, number)) * 100
    return f'<div class="bar"><span style="width:{width:.0f}%"></span></div>'


def explain(text: Any) -> str:
    return f'<p class="explain">{e(text)}</p>' if text else ""


def metric(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for m in report.get("metrics", []) or []:
        if isinstance(m, Mapping) and m.get("name") == name:
            return m
    return {}


def metric_info(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    info = (report.get("validation") or {}).get("metrics", {})
    found = info.get(name) if isinstance(info, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def reference_text(info: Mapping[str, Any]) -> str:
    ref = info.get("reference")
    if not isinstance(ref, Mapping):
        return ""
    op = e(str(ref.get("op", "")).replace("<=", "≤").replace(">=", "≥"))
    good, ok = _short(ref.get("good")), _short(ref.get("acceptable"))
    if good == ok:
        return f"{op} {good}"
    return f"{op} {good} good · {op} {ok} acceptable"


def _short(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):g}"
    return e(value)


def advisory_counts(report: Mapping[str, Any], area: str) -> dict[str, int]:
    """How many of the area's advisory checks are at each level (``pass``, ``warn``, ``fail``)."""
    validation = report.get("validation")
    areas = validation.get("areas") if isinstance(validation, Mapping) else None
    entry = areas.get(area) if isinstance(areas, Mapping) else None
    judged = entry.get("metrics") if isinstance(entry, Mapping) else None
    counts: dict[str, int] = {}
    if isinstance(judged, Mapping):
        for verdict in judged.values():
            counts[str(verdict)] = counts.get(str(verdict), 0) + 1
    return counts


def advisory_text(report: Mapping[str, Any], area: str) -> str:
    """``advisory checks: 1 failure, 2 warnings of 5`` or ``advisory checks: all 4 pass``."""
    counts = advisory_counts(report, area)
    total = sum(counts.values())
    if not total:
        return ""
    warn, fail = counts.get("warn", 0), counts.get("fail", 0)
    if not warn and not fail:
        return f"advisory checks: all {total} pass"
    parts = []
    if fail:
        parts.append(f"{fail} failure{'s' if fail != 1 else ''}")
    if warn:
        parts.append(f"{warn} warning{'s' if warn != 1 else ''}")
    return f"advisory checks: {', '.join(parts)} of {total}"
