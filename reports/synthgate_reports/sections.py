"""HTML sections of the run report, registered under ``synthgate.report_sections``.

Each section receives the run's JSON report (counts, scores, column names,
decisions — never real values) and escapes everything it prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, ClassVar

__all__ = [
    "FidelitySection",
    "GateSection",
    "PiiSection",
    "PrivacySection",
    "ProvenanceSection",
    "SummarySection",
]

_STATUS_PILL = {
    "AWAITING_APPROVAL": "warn",
    "APPROVED": "pass",
    "PUBLISHED": "pass",
    "BLOCKED": "fail",
    "REJECTED": "fail",
    "EXPIRED": "info",
    "REVOKED": "fail",
}


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _pill(text: str, kind: str) -> str:
    return f'<span class="pill {kind}">{_e(text)}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _bar(value: float | None) -> str:
    pct = 0.0 if value is None else max(0.0, min(1.0, float(value))) * 100
    return f'<div class="bar"><span style="width:{pct:.0f}%"></span></div>'


def _metric(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for m in report.get("metrics", []):
        if m.get("name") == name:
            return dict(m)
    return {}


def _area_verdict(report: Mapping[str, Any], prefix: str) -> str:
    outcomes = [
        o for o in report.get("gate", {}).get("outcomes", []) if o["metric"].startswith(prefix)
    ]
    if not outcomes:
        return _pill("not gated", "info")
    if any(not o["passed"] and o["severity"] == "block" for o in outcomes):
        return _pill("fail", "fail")
    if any(not o["passed"] for o in outcomes):
        return _pill("warn", "warn")
    return _pill("pass", "pass")


class SummarySection:
    """First page: the verdict a compliance officer reads in a minute."""

    id: ClassVar[str] = "summary"
    title: ClassVar[str] = "Summary"
    order: ClassVar[int] = 10

    def render(self, report: Mapping[str, Any]) -> str | None:
        release = report.get("release", {})
        status = str(release.get("status", "—"))
        privacy = report.get("privacy", {}).get("spent", {})
        pii = report.get("pii", {})
        handled = [a for a in pii.get("actions", []) if a.get("pii_class") != "none"]
        eps = (
            f"ε = {privacy.get('epsilon'):.3g}, δ = {privacy.get('delta'):.2g}"
            if privacy.get("private") and privacy.get("epsilon") is not None
            else "no differential privacy"
        )
        cards = [
            (
                "Release",
                f"{_e(release.get('id', '—'))}<br>{_pill(status, _STATUS_PILL.get(status, 'info'))}",
            ),
            ("Requested by", _e(report.get("run", {}).get("requested_by"))),
            (
                "Privacy",
                f"{_area_verdict(report, 'privacy.')} {_area_verdict(report, 'synthesizer.')}<br>{_e(eps)}",
            ),
            (
                "Fidelity",
                f"{_area_verdict(report, 'fidelity.')}<br>quality {_fmt(_metric(report, 'fidelity.quality').get('value'))}",
            ),
            ("PII", f"{len(handled)} column(s) found and handled"),
        ]
        html = (
            '<div class="cards">'
            + "".join(
                f'<div class="card"><span class="muted">{_e(k)}</span><b>{v}</b></div>'
                for k, v in cards
            )
            + "</div>"
        )
        failures = [o for o in report.get("gate", {}).get("outcomes", []) if not o["passed"]]
        if failures:
            html += (
                "<h3>Rules not met</h3><ul>"
                + "".join(
                    f"<li>{_pill(o['severity'], 'fail' if o['severity'] == 'block' else 'warn')} "
                    f"<code>{_e(o['rule_id'])}</code>: {_e(o['reason'])}</li>"
                    for o in failures
                )
                + "</ul>"
            )
        if status == "AWAITING_APPROVAL":
            html += (
                "<p>This release waits for a compliance officer, who must be someone other than "
                f"the requester, to approve it. It expires on {_e(release.get('expires_at'))}.</p>"
            )
        return html


class ProvenanceSection:
    id: ClassVar[str] = "provenance"
    title: ClassVar[str] = "Provenance"
    order: ClassVar[int] = 20

    def render(self, report: Mapping[str, Any]) -> str | None:
        run = report.get("run", {})
        prov = report.get("provenance", {})
        rows = [
            ("Run", run.get("id")),
            ("Job", run.get("job")),
            ("Started / finished", f"{run.get('started_at')} / {run.get('finished_at')}"),
            ("synthgate version", run.get("synthgate_version")),
            ("Job spec SHA-256", prov.get("spec_hash")),
            ("Source", f"{prov.get('source')} · table {prov.get('table')}"),
            ("Source snapshot id", prov.get("snapshot_id")),
            ("Synthesizer", prov.get("synthesizer")),
            ("Synthesizer parameters", prov.get("params")),
            (
                "Rows: source / training / holdout / synthetic",
                f"{prov.get('rows_source')} / {prov.get('rows_train')} / {prov.get('rows_holdout')} / {prov.get('rows_synthetic')}",
            ),
            (
                "Target",
                f"{prov.get('target')} · table {prov.get('target_table')} · mode {prov.get('target_mode')}",
            ),
        ]
        return _table(["", ""], ([_e(k), f"<code>{_e(v)}</code>"] for k, v in rows))


class PiiSection:
    id: ClassVar[str] = "pii"
    title: ClassVar[str] = "Personal data found and what was done"
    order: ClassVar[int] = 30

    def render(self, report: Mapping[str, Any]) -> str | None:
        pii = report.get("pii", {})
        findings = {f["column"]: f for f in pii.get("inventory", [])}
        rows = []
        for act in pii.get("actions", []):
            f = findings.get(act["column"], {})
            rows.append(
                [
                    f"<code>{_e(act['column'])}</code>",
                    _e(f.get("label") or "—"),
                    _e(act["pii_class"].replace("_", " ")),
                    _fmt(f.get("share"), 2),
                    _e(", ".join(f.get("evidence", [])) or "—"),
                    f"<b>{_e(act['action'])}</b>",
                    _e(act["reason"]),
                ]
            )
        note = (
            '<p class="explain">Detected with Presidio on a sample of distinct values per column '
            "and with column-name hints. <i>Share</i> is the fraction of sampled values in which the "
            "entity was found. No sampled value is stored or shown.</p>"
        )
        return note + _table(
            ["Column", "Entity", "Class", "Share", "Evidence", "Action", "Why"], rows
        )


class PrivacySection:
    id: ClassVar[str] = "privacy"
    title: ClassVar[str] = "Privacy"
    order: ClassVar[int] = 40

    def render(self, report: Mapping[str, Any]) -> str | None:
        spent = report.get("privacy", {}).get("spent", {})
        if spent.get("private"):
            head = (
                f"<p>Differentially private: total ε = {_fmt(spent.get('epsilon'))}, "
                f"δ = {_fmt(spent.get('delta'), 8)} ({_e(spent.get('accountant'))}).</p>"
            )
            stages = spent.get("stages", [])
            if stages:
                head += _table(
                    ["Stage", "Mechanism", "ε", "δ"],
                    (
                        [
                            _e(s["stage"]),
                            _e(s["mechanism"]),
                            _fmt(s["epsilon"]),
                            _fmt(s["delta"], 8),
                        ]
                        for s in stages
                    ),
                )
        else:
            head = (
                f"<p>{_pill('not private', 'warn')} This synthesizer gives <b>no formal privacy "
                "guarantee</b>: it learns directly from real values. Use a differentially private "
                "synthesizer for data leaving the company.</p>"
            )
        rows = []
        for name in ("privacy.pii_replay", "privacy.exact_match_share"):
            m = _metric(report, name)
            if m:
                rows.append(
                    [
                        f"<code>{_e(name)}</code>",
                        _fmt(m.get("value"), 4),
                        _e(m.get("goal")),
                        f'<span class="explain">{_e(m.get("explanation"))}</span>',
                    ]
                )
        return head + _table(["Metric", "Value", "Goal", "Meaning"], rows)


class FidelitySection:
    id: ClassVar[str] = "fidelity"
    title: ClassVar[str] = "Fidelity"
    order: ClassVar[int] = 50

    def render(self, report: Mapping[str, Any]) -> str | None:
        m = _metric(report, "fidelity.quality")
        if not m:
            return None
        details = m.get("details", {})
        props = details.get("properties", {})
        html = (
            f"<p>Overall quality <b>{_fmt(m.get('value'))}</b> "
            f'<span class="explain">{_e(m.get("explanation"))}</span></p>'
        )
        html += _table(
            ["Property", "Score", ""],
            ([_e(k), _fmt(v), _bar(v)] for k, v in props.items()),
        )
        shapes = details.get("column_shapes", {})
        if shapes:
            html += "<h3>Per column</h3>" + _table(
                ["Column", "Shape similarity", ""],
                ([f"<code>{_e(k)}</code>", _fmt(v), _bar(v)] for k, v in shapes.items()),
            )
        return html


class GateSection:
    id: ClassVar[str] = "gate"
    title: ClassVar[str] = "Release gate"
    order: ClassVar[int] = 90

    def render(self, report: Mapping[str, Any]) -> str | None:
        gate = report.get("gate", {})
        rows = []
        for o in gate.get("outcomes", []):
            kind = "pass" if o["passed"] else ("fail" if o["severity"] == "block" else "warn")
            rows.append(
                [
                    _pill("pass" if o["passed"] else o["severity"], kind),
                    f"<code>{_e(o['rule_id'])}</code>",
                    f"<code>{_e(o['metric'])} {_e(o['comparator'])} {_e(o['threshold'])}</code>",
                    _fmt(o["observed"], 4),
                    _e(o["reason"]),
                ]
            )
        return (
            f"<p>Policy <code>{_e(gate.get('policy'))}</code> · outcome "
            + _pill(str(gate.get("status")), _STATUS_PILL.get(str(gate.get("status")), "info"))
            + "</p>"
            + _table(["", "Rule", "Requirement", "Observed", "Reason"], rows)
        )
