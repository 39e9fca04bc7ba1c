"""Small HTML helpers shared by the report sections. Everything printed is escaped."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

__all__ = [
    "AREA_PREFIXES",
    "STATUS_PILL",
    "area_of",
    "area_status",
    "bar",
    "e",
    "explain",
    "fmt",
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
#: metric-name prefixes per report area (``synthesizer.private`` is a privacy fact)
AREA_PREFIXES: dict[str, tuple[str, ...]] = {
    "privacy": ("privacy.", "synthesizer."),
    "fidelity": ("fidelity.",),
    "structural": ("structural.",),
    "utility": ("utility.",),
    "bias": ("bias.",),
    "quality": ("quality.",),
}


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


def area_of(metric_name: str) -> str | None:
    for area, prefixes in AREA_PREFIXES.items():
        if metric_name.startswith(prefixes):
            return area
    return None


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


def area_status(report: Mapping[str, Any], area: str) -> dict[str, Any]:
    """The area's verdict: the gate's when a rule reads one of its metrics, else advisory."""
    outcomes = [
        o
        for o in (report.get("gate") or {}).get("outcomes", []) or []
        if isinstance(o, Mapping) and area_of(str(o.get("metric", ""))) == area
    ]
    advisory = (((report.get("validation") or {}).get("areas") or {}).get(area) or {}).get(
        "verdict"
    )
    if outcomes:
        if any(not o.get("passed") and o.get("severity") == "block" for o in outcomes):
            verdict = "fail"
        elif any(not o.get("passed") for o in outcomes):
            verdict = "warn"
        else:
            verdict = "pass"
        return {"verdict": verdict, "basis": "gate", "outcomes": outcomes, "advisory": advisory}
    return {
        "verdict": advisory or "not computed",
        "basis": "advisory",
        "outcomes": [],
        "advisory": advisory,
    }
