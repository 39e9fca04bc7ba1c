"""HTML sections of the run report, registered under ``synthgate.report_sections``.

Each section receives the run's JSON report (counts, scores, column names,
privacy-safe cells, decisions — never real values) and escapes everything it
prints. The first section is a one-page summary for the compliance officer;
the others give each area's figures with what they mean and what good looks like
(structural validity is a part of the fidelity section, anchored ``#structural``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from synthgate.contracts import REPORT_AREAS
from synthgate_reports._html import (
    STATUS_PILL,
    advisory_text,
    area_status,
    bar,
    e,
    explain,
    fmt,
    fmt_delta,
    fmt_sig,
    fmt_time,
    kv_table,
    metric,
    metric_info,
    pct,
    pill,
    reference_text,
    table,
    verdict_pill,
)
from synthgate_reports._svg import heatmap, paired_bars, quantile_chart

__all__ = [
    "MASKED_COPY_BADGE",
    "BiasSection",
    "DecisionsSection",
    "FidelitySection",
    "GateSection",
    "NotesSection",
    "PiiSection",
    "PrivacySection",
    "ProvenanceSection",
    "QualitySection",
    "SummarySection",
    "UtilitySection",
    "is_masked_copy",
]

_AREAS = REPORT_AREAS
_ACTION_WORDS = {
    "fake": "replaced with fake values",
    "drop": "dropped",
    "keep": "kept for the synthesizer",
    "rekey": "given fresh keys",
}


#: the first line of every masked-copy report (job mode masked-copy)
MASKED_COPY_BADGE = "MASKED COPY — real rows, not synthetic, no differential privacy"


def is_masked_copy(report: Mapping[str, Any]) -> bool:
    """Whether the release is a masked copy of real rows, not synthetic data."""
    run = _mapping(report.get("run"))
    return "masked-copy" in (run.get("output"), run.get("mode"))


def _masked_copy_banner() -> str:
    return (
        f'<p class="masked-copy">{pill("MASKED COPY", "fail")} <b>{e(MASKED_COPY_BADGE)}.</b> '
        "Every row of this release is a real row of the source with the masking plan applied: "
        "identifiers pseudonymized or faked, quasi-identifiers as the plan says, other columns "
        "copied as they are. No model was trained and no privacy budget was charged; the "
        "privacy figures below measure the copied rows.</p>"
    )


def _m(report: Mapping[str, Any], name: str) -> Any:
    return metric(report, name).get("value")


def _details(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    d = metric(report, name).get("details")
    return d if isinstance(d, Mapping) else {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _metric_verdict(report: Mapping[str, Any], name: str) -> str:
    for o in _list(_mapping(report.get("gate")).get("outcomes")):
        if isinstance(o, Mapping) and o.get("metric") == name:
            if o.get("passed"):
                return verdict_pill("pass", " · gate")
            return verdict_pill("fail" if o.get("severity") == "block" else "warn", " · gate")
    info = metric_info(report, name)
    area = str(info.get("area", name.split(".", maxsplit=1)[0]))
    advisory = _mapping(_mapping(_mapping(report.get("validation")).get("areas")).get(area))
    verdict = _mapping(advisory.get("metrics")).get(name)
    return verdict_pill(str(verdict)) if verdict else '<span class="muted">—</span>'


def _metric_table(report: Mapping[str, Any], names: Iterable[str], digits: int = 3) -> str:
    rows = []
    for name in names:
        m = metric(report, name)
        if not m:
            continue
        info = metric_info(report, name)
        details = _mapping(m.get("details"))
        value = fmt(m.get("value"), digits)
        if details.get("skipped"):
            value = f'<span class="muted">not computed: {e(details["skipped"])}</span>'
        ref = reference_text(info)
        good = e(info.get("good", ""))
        if ref:
            good += f'<br><span class="muted">advisory: {ref}</span>'
        rows.append(
            [
                f"<b>{e(info.get('title') or name)}</b><br><code>{e(name)}</code>",
                value,
                _metric_verdict(report, name),
                good,
                f'<span class="explain">{e(m.get("explanation"))}</span>',
            ]
        )
    if not rows:
        return ""
    return table(["Metric", "Value", "Verdict", "What good looks like", "What it measures"], rows)


def _names(report: Mapping[str, Any], prefix: str) -> list[str]:
    return [
        str(m.get("name"))
        for m in _list(report.get("metrics"))
        if isinstance(m, Mapping) and str(m.get("name", "")).startswith(prefix)
    ]


# --------------------------------------------------------------------------- summary


def _key_figures(report: Mapping[str, Any], area: str) -> str:
    spent = _mapping(_mapping(report.get("privacy")).get("spent"))
    if area == "privacy":
        eps = (
            f"ε {fmt_sig(spent.get('epsilon'))}"
            if spent.get("private") and spent.get("epsilon") is not None
            else "no differential privacy"
        )
        return (
            f"{eps} · copied rows {pct(_m(report, 'privacy.exact_match_share'))} · "
            f"closer-to-training {fmt(_m(report, 'privacy.dcr_share'), 2)} · "
            f"membership attack AUC {fmt(_m(report, 'privacy.mia_auc'), 2)} · "
            f"replayed identifiers {fmt(_m(report, 'privacy.pii_replay'))}"
        )
    if area == "fidelity":
        worst = _details(report, "fidelity.min_column_shape").get("column")
        return (
            f"quality {fmt(_m(report, 'fidelity.quality'), 2)} · worst column "
            f"{fmt(_m(report, 'fidelity.min_column_shape'), 2)}"
            + (f" (<code>{e(worst)}</code>)" if worst else "")
        )
    if area == "structural":
        return _structural_figures(report)
    if area == "utility":
        d = _details(report, "utility.tstr_ratio")
        if d.get("skipped"):
            return f'<span class="muted">{e(d["skipped"])}</span>'
        return (
            f"synthetic-trained {e(d.get('score', 'score'))} {fmt(d.get('tstr'), 2)} vs "
            f"real-trained {fmt(d.get('trtr'), 2)} (ratio {fmt(_m(report, 'utility.tstr_ratio'), 2)})"
        )
    if area == "bias":
        d = _details(report, "bias.max_share_gap")
        if d.get("skipped"):
            return f'<span class="muted">{e(d["skipped"])}</span>'
        return (
            f"erased groups {fmt(_m(report, 'bias.erased_groups'))} · attributes with amplified "
            f"bias {fmt(_m(report, 'bias.amplified_attributes'))} · largest share gap "
            f"{fmt(_m(report, 'bias.max_share_gap'), 2)}"
        )
    d = _details(report, "quality.gx_success_share")
    if d.get("skipped") or not d:
        return '<span class="muted">not run</span>'
    return f"{fmt(d.get('successful'))} of {fmt(d.get('evaluated'))} expectations met"


def _rule_lines(outcomes: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per rule: a multi-table release judges a rule once per table, and the
    line names the tables where it did not pass."""
    lines: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for o in outcomes:
        key = (str(o.get("metric")), str(o.get("comparator")), str(o.get("threshold")),
               str(o.get("severity")))  # fmt: skip
        lines.setdefault(key, []).append(o)
    out = []
    for (name, op, threshold, severity), seen in lines.items():
        failed = [str(o["table"]) for o in seen if o.get("table") and not o.get("passed")]
        where = f"; not met in {', '.join(failed)}" if failed else ""
        times = f", {len(seen)} tables" if len(seen) > 1 else ""
        out.append(
            f"<code>{e(name)} {e(op)} {e(threshold)}</code> "
            f'<span class="muted">({e(severity)}{e(times)}{e(where)})</span>'
        )
    return out


def _thresholds(report: Mapping[str, Any], status: Mapping[str, Any], area: str) -> str:
    if status["basis"] == "gate":
        return "<br>".join(_rule_lines(status["outcomes"]))
    areas = _mapping(_mapping(report.get("validation")).get("areas"))
    judged = _mapping(_mapping(areas.get(area)).get("metrics"))
    items = []
    for name in judged:
        ref = reference_text(metric_info(report, name))
        if ref:
            items.append(f"<code>{e(name.split('.', 1)[1])}</code> {ref}")
    if not items:
        return '<span class="muted">no rule</span>'
    return '<span class="muted">no gate rule; advisory levels:</span><br>' + "<br>".join(items[:4])


def _verdict_cell(report: Mapping[str, Any], area: str, st: Mapping[str, Any]) -> str:
    """``pass (gate)`` and, on its own line, ``advisory checks: 2 warnings of 5``."""
    advice = advisory_text(report, area)
    if st["basis"] == "gate":
        cell = f'{verdict_pill(str(st["verdict"]))} <span class="muted">(gate)</span>'
        return cell + (f'<br><span class="muted">{e(advice)}</span>' if advice else "")
    cell = verdict_pill(str(st["verdict"]), " (advisory)")
    return cell + (f'<br><span class="muted">{e(advice)}</span>' if advice else "")


#: what a decision is called in the report, by its audit action
DECISION_WORDS = {
    "release.approved": "approved",
    "release.approval_recorded": "approved (more approvals needed)",
    "release.rejected": "rejected",
    "release.revoked": "revoked",
    "release.expired": "expired",
    "release.published": "published",
}


def _decision_events(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        d for d in _list(_mapping(report.get("decisions")).get("events")) if isinstance(d, Mapping)
    ]


def _who(decision: Mapping[str, Any]) -> str:
    role = decision.get("role")
    return f"{e(decision.get('actor'))}" + (f" ({e(role)})" if role else "")


def _decision_banner(report: Mapping[str, Any]) -> str:
    """The release's status and its latest decision, first on the first page."""
    release = _mapping(report.get("release"))
    status = str(release.get("status", "—"))
    text = f"<b>Status</b> {pill(status, STATUS_PILL.get(status, 'info'))}"
    required = release.get("approvals_required")
    if required is not None:
        text += (
            f' <span class="muted">{fmt(release.get("approvals", 0))} of {fmt(required)} '
            "approval(s)</span>"
        )
    events = _decision_events(report)
    if events:
        last = events[-1]
        word = DECISION_WORDS.get(str(last.get("event")), str(last.get("event")))
        text += (
            f" · {e(word)} by {_who(last)} on {fmt_time(last.get('at'))}"
            + (f" — “{e(last.get('comment'))}”" if last.get("comment") else "")
            + ' <a href="#decisions">(decisions)</a>'
        )
    elif status == "AWAITING_APPROVAL":
        text += " · no decision yet"
    return f'<p class="status-line">{text}</p>'


class SummarySection:
    """First page: the verdict a compliance officer reads in a minute."""

    id: ClassVar[str] = "summary"
    title: ClassVar[str] = "Summary"
    order: ClassVar[int] = 10

    def render(self, report: Mapping[str, Any]) -> str | None:
        release = _mapping(report.get("release"))
        status = str(release.get("status", "—"))
        copy = is_masked_copy(report)
        html = (_masked_copy_banner() if copy else "") + _decision_banner(report)
        html += _verdict_table(report) + _rules_not_met(report) + _summary_cards(report, copy)
        if status == "AWAITING_APPROVAL":
            html += (
                "<p>This release waits for a compliance officer, who must be someone other than "
                f"the requester, to approve it. It expires on {fmt_time(release.get('expires_at'))}."
                "</p>"
            )
        html += (
            '<p class="explain">A verdict comes from the release policy\'s rules where one reads '
            "the area's figures; otherwise it is advisory, from each metric's reference levels "
            "(listed in the area's section). No real row, identifier or group of fewer than "
            f"{fmt(_mapping(report.get('validation')).get('k_min', 10))} real people appears "
            "in this report.</p>"
        )
        return html


def _pii_text(report: Mapping[str, Any]) -> str:
    """How many columns held personal data, and what was done with them."""
    actions = [
        a
        for a in _list(_mapping(report.get("pii")).get("actions"))
        if isinstance(a, Mapping) and a.get("pii_class") != "none"
    ]
    if not actions:
        return "no personal data found"
    counts: dict[str, int] = {}
    for a in actions:
        counts[str(a.get("action"))] = counts.get(str(a.get("action")), 0) + 1
    return f"{len(actions)} column(s) with personal data: " + ", ".join(
        f"{n} {_ACTION_WORDS.get(k, k)}" for k, n in sorted(counts.items())
    )


def _budget_card(report: Mapping[str, Any], copy: bool) -> str:
    """The run's ε and δ, and the source budget's state (HTML)."""
    privacy = _mapping(report.get("privacy"))
    spent = _mapping(privacy.get("spent"))
    budget = _mapping(privacy.get("budget"))
    if spent.get("private") and spent.get("epsilon") is not None:
        eps = f"this run ε = {fmt_sig(spent.get('epsilon'))}, δ = {fmt_delta(spent.get('delta'))}"
    elif copy:
        eps = "this run: no differential privacy — a masked copy of real rows"
    else:
        eps = "this run: no differential privacy (ε not bounded)"
    if budget:
        eps += (
            f"<br>source budget: spent ε {fmt_sig(budget.get('spent_after'))} of "
            f"{fmt_sig(budget.get('limit_epsilon'))} · remaining ε "
            f"{fmt_sig(budget.get('remaining'))}"
        )
        if budget.get("note"):
            tag = pill("masked copy", "fail") if copy else pill("re-sampled", "info")
            eps += f"<br>{tag} {e(budget.get('note'))}"
    return eps


def _summary_cards(report: Mapping[str, Any], copy: bool) -> str:
    release = _mapping(report.get("release"))
    prov = _mapping(report.get("provenance"))
    status = str(release.get("status", "—"))
    rows = fmt(prov.get("rows_synthetic"))
    output = (
        ("Output", f"masked copy, no synthesizer<br>{rows} real rows, masked")
        if copy
        else ("Synthesizer", f"{e(prov.get('synthesizer', '—'))}<br>{rows} synthetic rows")
    )
    cards = [
        (
            "Release",
            f"{e(release.get('id', '—'))}<br>{pill(status, STATUS_PILL.get(status, 'info'))}",
        ),
        ("Requested by", e(_mapping(report.get("run")).get("requested_by"))),
        ("Privacy budget", _budget_card(report, copy)),
        ("Personal data", e(_pii_text(report))),
        output,
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><span class="muted">{e(k)}</span><b>{v}</b></div>' for k, v in cards
        )
        + "</div>"
    )


def _verdict_table(report: Mapping[str, Any]) -> str:
    rows = []
    for area, title in _AREAS:
        st = area_status(report, area)
        rows.append(
            [
                f'<a href="#{e(area)}">{e(title)}</a>',
                _verdict_cell(report, area, st),
                _key_figures(report, area),
                _thresholds(report, st, area),
            ]
        )
    return "<h3>Verdict per area</h3>" + table(
        ["Area", "Verdict", "Key figures", "Thresholds"], rows, cls="verdicts"
    )


def _rules_not_met(report: Mapping[str, Any]) -> str:
    failures = [
        o
        for o in _list(_mapping(report.get("gate")).get("outcomes"))
        if isinstance(o, Mapping) and not o.get("passed")
    ]
    if not failures:
        return ""
    return (
        "<h3>Rules not met</h3><ul>"
        + "".join(
            f"<li>{pill(str(o.get('severity')), 'fail' if o.get('severity') == 'block' else 'warn')} "
            f"<code>{e(o.get('rule_id'))}</code>: {e(o.get('reason'))}</li>"
            for o in failures
        )
        + "</ul>"
    )


class _Html(str):
    """HTML built (and escaped) already: a provenance value printed as it is."""


def _kv_cell(value: Any) -> str:
    if isinstance(value, _Html):
        return str(value)
    return f"<code>{e(value)}</code>"


def _reviewed(decision: Mapping[str, Any]) -> str:
    digest = decision.get("report_sha256")
    if not digest:
        return '<span class="muted">no report on record</span>'
    version = decision.get("report_version")
    head = f"version {fmt(version)}<br>" if version is not None else ""
    return f'{head}<code class="hash">sha256 {e(digest)}</code>'


class DecisionsSection:
    """Who decided what, when, on which rendering of this report; the signature block."""

    id: ClassVar[str] = "decisions"
    title: ClassVar[str] = "Decisions and signatures"
    order: ClassVar[int] = 15

    def render(self, report: Mapping[str, Any]) -> str | None:
        release = _mapping(report.get("release"))
        decisions = _mapping(report.get("decisions"))
        events = _decision_events(report)
        requester = _mapping(decisions.get("requested_by"))
        name = requester.get("name") or _mapping(report.get("run")).get("requested_by")
        if not name and not events:
            return None
        if events:
            html = table(
                [
                    "Time",
                    "Decision",
                    "By",
                    "Comment or reason",
                    "Release version",
                    "Report reviewed",
                ],
                (
                    [
                        fmt_time(d.get("at")),
                        e(DECISION_WORDS.get(str(d.get("event")), str(d.get("event")))),
                        _who(d),
                        e(d.get("comment") or "—"),
                        fmt(d.get("version")),
                        _reviewed(d),
                    ]
                    for d in events
                ),
                cls="small decisions",
            )
        else:
            html = (
                f"<p>No decision has been recorded on release {e(release.get('id', '—'))} yet.</p>"
            )
        rows = [
            [
                "Requester",
                f"{e(name)}" + (f" ({e(requester.get('role'))})" if requester.get("role") else ""),
                "requested the release",
                fmt_time(_mapping(report.get("run")).get("finished_at")),
                '<span class="muted">—</span>',
            ]
        ]
        for d in events:
            if d.get("event") not in (
                "release.approved",
                "release.approval_recorded",
                "release.rejected",
            ):
                continue
            rows.append(
                [
                    "Approver" if d.get("event") != "release.rejected" else "Reviewer",
                    _who(d),
                    e(DECISION_WORDS.get(str(d.get("event")), "")),
                    fmt_time(d.get("at")),
                    _reviewed(d),
                ]
            )
        html += '<div class="signatures"><h3>Signature block</h3>' + table(
            ["Signed as", "Name (role)", "Decision", "Time", "Report reviewed"],
            rows,
            cls="small",
        )
        html += (
            explain(
                "Every decision is an event of the tamper-evident audit log. Its report_sha256 is the "
                "sha256 of report.json as it stood when the decision was made (report_html_sha256: "
                "of report.html). Each rendering is kept as history/report.vN.json and .html in the "
                "report's folder; check a copy with: synthgate audit verify --report FILE."
            )
            + "</div>"
        )
        return html


class ProvenanceSection:
    id: ClassVar[str] = "provenance"
    title: ClassVar[str] = "Provenance"
    order: ClassVar[int] = 20

    def render(self, report: Mapping[str, Any]) -> str | None:
        run = _mapping(report.get("run"))
        prov = _mapping(report.get("provenance"))
        rows = [
            ("Run", run.get("id")),
            ("Job", run.get("job")),
            ("Requested by", run.get("requested_by")),
            (
                "Started / finished",
                f"{fmt_time(run.get('started_at'))} / {fmt_time(run.get('finished_at'))}",
            ),
            ("synthgate version", run.get("synthgate_version")),
            ("Job spec SHA-256", prov.get("spec_hash")),
            ("Source", f"{prov.get('source')} · {_tables_named(prov, 'table', 'tables')}"),
            ("Source snapshot id", prov.get("snapshot_id")),
            ("Synthesizer", prov.get("synthesizer")),
            ("Synthesizer parameters", _Html(kv_table(_mapping(prov.get("params"))))),
            _rows_line(prov),
            (
                "Target",
                f"{prov.get('target')} · {_tables_named(prov, 'target_table', 'target_tables')}"
                f" · mode {prov.get('target_mode')}",
            ),
            ("Report schema", report.get("schema_version")),
        ]
        kv = table(["", ""], ([e(k), _kv_cell(v)] for k, v in rows), cls="kv")
        return kv + _multi_table(_mapping(report.get("multi_table")))


def _tables_named(prov: Mapping[str, Any], one: str, several: str) -> str:
    """``table t`` for one table, ``tables a, b, c`` for a multi-table release."""
    names = _list(prov.get(several))
    if names:
        return "tables " + ", ".join(str(n) for n in names)
    return f"table {prov.get(one)}"


def _rows_line(prov: Mapping[str, Any]) -> tuple[str, Any]:
    source, synthetic = prov.get("rows_source"), prov.get("rows_synthetic")
    if isinstance(source, Mapping):  # a multi-table release: per table
        made = _mapping(synthetic)
        parts = [f"{t} {fmt_int(n)} → {fmt_int(made.get(t))}" for t, n in source.items()]
        return ("Rows per table: source → synthetic", "; ".join(parts))
    return (
        "Rows: source / training / holdout / synthetic",
        f"{source} / {prov.get('rows_train')} / {prov.get('rows_holdout')} / {synthetic}",
    )


def fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def _relationship_row(name: str, r: Mapping[str, Any]) -> list[str]:
    if r.get("link"):  # a self-reference or second private parent
        return [e(name), e(r.get("integrity")), "link", "—", "kind learned, target drawn"]
    return [
        e(name),
        e(r.get("integrity")),
        e(r.get("cap", "no cap: public parent")),
        e(r.get("synthetic_max_children", "—")),
        e(r.get("children_per_parent_tvd", "—")),
    ]


def _multi_table(part: Mapping[str, Any]) -> str:
    """A multi-table run: each table's synthetic rows and ε share, each relationship's
    integrity, cap and children-per-parent distance (rounded)."""
    if not part:
        return ""
    ledger = _mapping(part.get("ledger"))
    shares = _mapping(ledger.get("tables"))
    rows = _mapping(part.get("rows"))
    tables = table(
        ["Table", "Synthetic rows", "Rows per person", "ε alone (informational)"],
        (
            [
                e(name),
                e(count),
                e(_mapping(shares.get(name)).get("rows_per_person", "public")),
                e(_mapping(shares.get(name)).get("epsilon_alone", "—")),
            ]
            for name, count in rows.items()
        ),
    )
    links = table(
        ["Relationship", "Integrity", "Cap", "Largest child count", "Children-per-parent TVD"],
        (
            _relationship_row(name, _mapping(r))
            for name, r in _mapping(part.get("relationships")).items()
        ),
    )
    head = (
        f"<h3>Tables</h3><p>Unit {e(part.get('unit'))}: one ε = "
        f"{fmt_sig(ledger.get('epsilon'))} for each person (a unit row with every row "
        f"below it); referential integrity {e(part.get('referential_integrity'))}.</p>"
    )
    plan = _list(part.get("plan"))
    how = "".join(f"<li>{e(line)}</li>" for line in plan)
    return head + (f"<ul>{how}</ul>" if how else "") + tables + links


class PiiSection:
    id: ClassVar[str] = "pii"
    title: ClassVar[str] = "Personal data found and what was done"
    order: ClassVar[int] = 30

    def render(self, report: Mapping[str, Any]) -> str | None:
        pii = _mapping(report.get("pii"))
        actions, inventory = pii.get("actions"), pii.get("inventory")
        if isinstance(actions, Mapping):  # a multi-table release: one table per table
            parts = [
                f"<h3>{e(name)}</h3>"
                + self._table(_list(acts), _list(_mapping(inventory).get(name)))
                for name, acts in actions.items()
            ]
            flat = [a for acts in actions.values() for a in _list(acts)]
            return self._note(report) + "".join(parts) + self._legend(report, flat)
        body = self._table(_list(actions), _list(inventory))
        return self._note(report) + body + self._legend(report, _list(actions))

    @staticmethod
    def _table(actions: list[Any], inventory: list[Any]) -> str:
        findings = {f.get("column"): f for f in inventory if isinstance(f, Mapping)}
        rows = []
        for act in actions:
            if not isinstance(act, Mapping):
                continue
            f = _mapping(findings.get(act.get("column")))
            suspected = " (suspected)" if f.get("suspected") else ""
            rows.append(
                [
                    f"<code>{e(act.get('column'))}</code>",
                    e(f.get("label") or "—"),
                    e(str(act.get("pii_class", "")).replace("_", " ") + suspected),
                    fmt(f.get("share"), 2),
                    e(_evidence_text(f) or "—"),
                    f"<b>{e(act.get('action'))}</b>",
                    e(act.get("reason")),
                ]
            )
        return table(["Column", "Entity", "Class", "Share", "Evidence", "Action", "Why"], rows)

    @staticmethod
    def _legend(report: Mapping[str, Any], actions: list[Any]) -> str:
        used = {str(a.get("action")) for a in actions if isinstance(a, Mapping)}
        words = {**_PII_ACTIONS, **_COPY_ACTIONS} if is_masked_copy(report) else _PII_ACTIONS
        legend = "".join(
            f"<li><b>{e(action)}</b>: {e(text)}</li>"
            for action, text in words.items()
            if action in used
        )
        return f"<ul>{legend}</ul>" if legend else ""

    @staticmethod
    def _note(report: Mapping[str, Any]) -> str:
        note = explain(
            "Each column is judged as a whole: its name (in several languages), Presidio's "
            "recognizers on a sample of distinct values, name dictionaries (the share of sampled "
            "rows holding known first, last or full names, any case), and uniqueness and shape "
            "(a column unique per row and written like a code is a record identifier). Share is "
            "the fraction of sampled values in which the entity was found; every figure is "
            "rounded, uniqueness down to a tenth. A suspected column is treated as a direct "
            "identifier until the job spec decides. No sampled value is stored or shown, and no "
            "value of a personal-data column appears anywhere in this report."
        )
        if is_masked_copy(report):
            note = (
                f"<p>{pill('masked copy', 'fail')} No synthesizer ran: the actions were applied "
                "to the real rows themselves, and the result is the release.</p>" + note
            )
        return note


def _evidence_text(finding: Mapping[str, Any]) -> str:
    """What decided a column, from its rounded signals: ``name: first_name · dictionary
    first 0.82 · PERSON 0.25 · unique ≥0.3``."""
    sig = _mapping(finding.get("signals"))
    parts = []
    if sig.get("name_hint"):
        parts.append(f"name: {str(sig['name_hint']).lower()}")
    if sig.get("dictionary"):
        parts.append(f"dictionary {sig['dictionary']} {fmt(sig.get('dictionary_share'), 2)}")
    if sig.get("recognizer"):
        parts.append(f"{sig['recognizer']} {fmt(sig.get('recognizer_share'), 2)}")
    if sig.get("uniqueness"):
        parts.append(f"unique ≥{fmt(sig['uniqueness'], 1)}")
    if sig.get("code_like"):
        parts.append(f"code-like ≥{fmt(sig['code_like'], 1)}")
    if not parts:
        return ", ".join(str(x) for x in _list(finding.get("evidence")))
    return " · ".join(parts)


_PII_ACTIONS = {
    "keep": "learned by the synthesizer as it is",
    "drop": "not in the release",
    "fake": "never learned; filled with independent fake values of the same kind",
    "rekey": "key column never learned; filled with fresh unique keys",
    "pseudonymize": (
        "never learned; filled with surrogates drawn under the pseudonym key (the same key "
        "gives the same surrogates in every run and table)"
    ),
    "generalize": "coarsened before the synthesizer learned it (month or year, prefix, band)",
    "redact": "free text with every detected identifier replaced before it was learned",
}


#: what an action means in a masked copy, where nothing is learned
_COPY_ACTIONS = {
    "keep": "copied from the real rows as it is",
    "rekey": "key column replaced by keyed surrogates (joins with tables masked under the "
    "same key still work)",
    "pseudonymize": "replaced by keyed surrogates of the real values (the same value gets the "
    "same surrogate in every table masked under the same key)",
    "fake": "replaced by independent fake values of the same kind",
    "generalize": "coarsened in the real rows (month or year, prefix, band)",
    "redact": "real free text with every detected identifier replaced",
}


def _relations(spent: Mapping[str, Any], unit: Any = None) -> str:
    """Both neighbouring relations' ε: the guarantee of record, and replace-one."""
    if unit is not None:  # a multi-table release: the person is a unit row and its rows
        return (
            "<h3>Neighbouring releases</h3><p>Two sources are neighbours when they differ by "
            f"one person: one row of {e(unit)} together with every row that belongs to it "
            "through foreign keys. Each table's mechanisms are calibrated to the rows one "
            "person can own there (the caps multiplied down the tree), and one accountant "
            "composes them all into the ε above.</p>"
        )
    rows = [
        [
            "add or remove one row (the guarantee)",
            fmt_sig(spent.get("epsilon")),
            fmt_delta(spent.get("delta")),
        ]
    ]
    if spent.get("replace_one_epsilon") is not None:
        rows.append(
            [
                "replace one row by another",
                fmt_sig(spent.get("replace_one_epsilon")),
                fmt_delta(spent.get("replace_one_delta")),
            ]
        )
    return (
        "<h3>Neighbouring tables</h3><p>The table's size enters every released figure "
        "(sampling rate, steps, δ, the default row count) only through a DP row count, "
        "so adding or removing one person's row is what ε bounds.</p>"
        + table(["Two tables are neighbours when they differ by", "ε", "δ"], rows)
    )


class PrivacySection:
    id: ClassVar[str] = "privacy"
    title: ClassVar[str] = "Privacy"
    order: ClassVar[int] = 40

    def render(self, report: Mapping[str, Any]) -> str | None:
        privacy = _mapping(report.get("privacy"))
        spent = _mapping(privacy.get("spent"))
        if spent.get("private"):
            head = (
                f"<p>Differentially private: total ε = {fmt_sig(spent.get('epsilon'))}, "
                f"δ = {fmt_delta(spent.get('delta'))} ({e(spent.get('accountant'))}).</p>"
            )
            head += _relations(spent, _mapping(report.get("multi_table")).get("unit"))
            stages = [s for s in _list(spent.get("stages")) if isinstance(s, Mapping)]
            if stages:
                head += "<h3>Privacy ledger</h3>" + table(
                    ["Stage", "Mechanism", "ε", "δ"],
                    (
                        [
                            e(s.get("stage")),
                            e(s.get("mechanism")),
                            fmt_sig(s.get("epsilon")),
                            fmt_delta(s.get("delta")),
                        ]
                        for s in stages
                    ),
                )
        elif is_masked_copy(report):
            head = (
                f"<p>{pill('not private', 'fail')} <b>{e(MASKED_COPY_BADGE)}.</b> This release "
                "is a masked copy: the real rows with identifiers masked. It carries <b>no formal "
                "privacy guarantee</b> and no privacy budget was charged. Copied-row, distance "
                "and membership figures below show real rows by design; only the replayed-"
                "identifier count says whether masking worked.</p>"
            )
        else:
            head = (
                f"<p>{pill('not private', 'warn')} This synthesizer gives <b>no formal privacy "
                "guarantee</b>: it learns directly from real values. Use a differentially private "
                "synthesizer for data leaving the company.</p>"
            )
        budget = _mapping(privacy.get("budget"))
        if budget.get("note"):
            tag = (
                pill("masked copy", "fail")
                if is_masked_copy(report)
                else pill("re-sampled", "info")
            )
            head += f"<p>{tag} {e(budget.get('note'))}</p>"
        if budget:
            head += "<h3>Source budget</h3>" + table(
                [
                    "Source",
                    "Limit ε",
                    "Spent before",
                    "Spent after",
                    "Remaining",
                    "Releases counted",
                ],
                [
                    [
                        f"<code>{e(budget.get('source'))}</code>",
                        fmt_sig(budget.get("limit_epsilon")),
                        fmt_sig(budget.get("spent_before")),
                        fmt_sig(budget.get("spent_after")),
                        fmt_sig(budget.get("remaining")),
                        fmt(budget.get("releases_counted")),
                    ]
                ],
            )
        names = _names(report, "privacy.")
        html = head + "<h3>Empirical checks</h3>" + _metric_table(report, names, 4)
        dcr = _details(report, "privacy.dcr_share")
        if dcr and not dcr.get("skipped"):
            html += explain(
                f"Distance to closest record over {fmt(dcr.get('synthetic_rows'))} synthetic rows, "
                f"against {fmt(dcr.get('reference_rows'))} training and as many holdout rows: "
                f"median distance {fmt(dcr.get('median_dcr_train'))} to training, "
                f"{fmt(dcr.get('median_dcr_holdout'))} to holdout; "
                f"{pct(dcr.get('share_at_distance_zero'))} of synthetic rows sit exactly on a "
                "training row."
            )
        nndr = _details(report, "privacy.nndr")
        html += _privacy_charts(dcr, nndr, _m(report, "privacy.nndr"))
        if nndr and not nndr.get("skipped"):
            html += explain(
                f"Nearest-neighbour distance ratio: synthetic mean {fmt(_m(report, 'privacy.nndr'))} "
                f"(5th percentile {fmt(nndr.get('p5'))}); holdout rows, which the synthesizer never "
                f"saw, give {fmt(nndr.get('holdout_mean'))} (5th percentile "
                f"{fmt(nndr.get('holdout_p5'))}). Much lower synthetic values mean memorised rows."
            )
        inference = _details(report, "privacy.inference_risk")
        per = _mapping(inference.get("per_secret"))
        if per:
            html += "<h3>Attribute inference, per sensitive column</h3>" + table(
                ["Column guessed", "Risk", "Attack success", "Control success", "95% interval"],
                (
                    [
                        f"<code>{e(col)}</code>",
                        fmt(_mapping(r).get("risk")),
                        pct(_mapping(r).get("attack_rate")),
                        pct(_mapping(r).get("control_rate")),
                        e(" – ".join(fmt(x) for x in _list(_mapping(r).get("risk_ci95")))),
                    ]
                    for col, r in per.items()
                ),
            )
        methods = _mapping(_mapping(report.get("validation")).get("methods"))
        if methods.get("anonymeter"):
            html += explain(methods["anonymeter"])
        return html


def _privacy_charts(dcr: Mapping[str, Any], nndr: Mapping[str, Any], nndr_mean: Any) -> str:
    """Distance evidence as summary figures (medians, means, 5th percentiles): never a row."""
    charts = []
    if dcr and not dcr.get("skipped"):
        charts.append(
            quantile_chart(
                "Distance to closest record (median)",
                [
                    ("synthetic → training", None, None, dcr.get("median_dcr_train")),
                    ("synthetic → holdout", None, None, dcr.get("median_dcr_holdout")),
                ],
                low_name="",
                marker_name="median distance",
            )
        )
    if nndr and not nndr.get("skipped"):
        holdout_mean = nndr.get("holdout_mean")
        charts.append(
            quantile_chart(
                "Nearest-neighbour distance ratio",
                [
                    ("synthetic rows", nndr.get("p5"), nndr_mean, nndr_mean),
                    (
                        "holdout rows (reference)",
                        nndr.get("holdout_p5"),
                        holdout_mean,
                        holdout_mean,
                    ),
                ],
                low_name="5th percentile to mean",
                marker_name="mean",
            )
        )
    if not charts:
        return ""
    return (
        '<div class="charts">'
        + "".join(f"<figure>{c}</figure>" for c in charts)
        + "</div>"
        + explain(
            "Synthetic rows as far from the training rows as from holdout rows the synthesizer "
            "never saw are what a model that did not memorise gives; a synthetic band well "
            "left of the holdout band means rows close to real people. Only summary figures "
            "of the distances are kept."
        )
    )


# --------------------------------------------------------------------------- structural


def _structural_figures(report: Mapping[str, Any]) -> str:
    d = _details(report, "structural.validity")
    if not d:
        return '<span class="muted">not run</span>'
    if d.get("skipped"):
        return f'<span class="muted">{e(d["skipped"])}</span>'
    return (
        f"{fmt(d.get('passed'))} of {fmt(d.get('checks'))} checks passed · invalid values "
        f"{pct(_m(report, 'structural.out_of_range_share'))} (worst column) · missing-share "
        f"drift {fmt(_m(report, 'structural.null_share_drift'), 2)} · collapsed columns "
        f"{fmt(_m(report, 'structural.collapsed_columns'))}"
    )


def _structural_verdict(report: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """One line: how many columns (and constraints) are valid, and which are not."""
    st = area_status(report, "structural")
    basis = "" if st["basis"] == "gate" else " (advisory)"
    if details.get("skipped"):
        return f"{verdict_pill('not computed')} Not computed: {e(details['skipped'])}."
    cols = [c for c in _list(details.get("columns")) if isinstance(c, Mapping)]
    failing = [str(c.get("column")) for c in cols if not c.get("passed")]
    broken = [
        str(c.get("constraint"))
        for c in _list(details.get("constraints"))
        if isinstance(c, Mapping) and not c.get("passed") and not c.get("skipped")
    ]
    if not failing and not broken:
        text = f"All {len(cols)} modelled columns are structurally valid"
        text += " and every declared constraint holds." if details.get("constraints") else "."
    else:
        parts = []
        if failing:
            names = ", ".join(f"<code>{e(n)}</code>" for n in failing)
            parts.append(f"{len(failing)} of {len(cols)} columns are not valid: {names}")
        if broken:
            parts.append(f"{len(broken)} declared constraint(s) broken: {e('; '.join(broken))}")
        text = "; ".join(parts) + "."
    return f"{verdict_pill(st['verdict'], basis)} {text}"


def _structural_rows(details: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for c in _list(details.get("columns")):
        if not isinstance(c, Mapping) or c.get("passed"):
            continue
        drift = (
            '<span class="muted">withheld</span>'
            if c.get("null_figures_withheld")
            else f"{fmt(c.get('null_share_drift'))} (allowed {fmt(c.get('null_tolerance'))})"
        )
        rows.append(
            [
                f"<code>{e(c.get('column'))}</code>",
                e(c.get("type")),
                "<br>".join(e(r) for r in _list(c.get("reasons"))),
                pct(c.get("invalid_share")),
                pct(c.get("synthetic_null_share")),
                drift,
            ]
        )
    return rows


def _structural_part(report: Mapping[str, Any]) -> str:
    """The structural-validity part of the fidelity section (anchor ``#structural``)."""
    names = _names(report, "structural.")
    if not names:
        return ""
    d = _details(report, "structural.validity")
    html = '<h3 id="structural">Structural validity</h3>'
    html += f"<p>{_structural_verdict(report, d)}</p>"
    html += explain(
        "Each column is checked against the real training rows: numbers and dates must lie "
        "inside the real range widened by 1% on each side (or inside declared bounds), "
        "categories and booleans must be ones the real column holds or the schema declares, "
        "integers must be whole; at most 0.1% of rows may break this. The share of missing "
        "values may move by 0.05 plus two standard errors of sampling noise, and a column "
        "must not collapse to a single value (or never/always missing) where the real one "
        "varies. No real value, range or category is shown; a missing-share figure is "
        "withheld where fewer than "
        f"{fmt(d.get('k_min', 10))} real rows are missing, or present."
    )
    html += _metric_table(report, names, 4)
    rows = _structural_rows(d)
    if rows:
        html += "<h4>Columns that fail</h4>" + table(
            [
                "Column",
                "Type",
                "Why",
                "Invalid values",
                "Missing (synthetic)",
                "Missing-share drift",
            ],
            rows,
        )
    constraints = [c for c in _list(d.get("constraints")) if isinstance(c, Mapping)]
    if constraints:
        html += "<h4>Declared constraints</h4>" + table(
            ["", "Constraint", "Rows breaking it"],
            (
                [
                    verdict_pill("not computed")
                    if c.get("skipped")
                    else verdict_pill("pass" if c.get("passed") else "fail"),
                    f"<code>{e(c.get('constraint'))}</code>"
                    + (
                        f' <span class="muted">{e(c["skipped"])}</span>' if c.get("skipped") else ""
                    ),
                    f"{fmt(c.get('violations'))} ({pct(c.get('share'))})",
                ]
                for c in constraints
            ),
        )
    return html


def _distribution_figure(plot: Mapping[str, Any], shapes: Mapping[str, Any]) -> str:
    column = str(plot.get("column"))
    score = shapes.get(column)
    caption = (
        f'<figcaption><span class="muted">shape similarity of <code>{e(column)}</code></span> '
        f"<b>{fmt(score)}</b>{bar(score)}</figcaption>"
        if score is not None
        else ""
    )
    chart = paired_bars(
        column,
        [str(x) for x in _list(plot.get("labels"))],
        _list(plot.get("real")),
        _list(plot.get("synthetic")),
    )
    return f'<figure class="dist">{caption}{chart}</figure>'


class FidelitySection:
    id: ClassVar[str] = "fidelity"
    title: ClassVar[str] = "Fidelity"
    order: ClassVar[int] = 50

    def render(self, report: Mapping[str, Any]) -> str | None:
        m = metric(report, "fidelity.quality")
        if not m:
            return _structural_part(report) or None
        details = _mapping(m.get("details"))
        props = _mapping(details.get("properties"))
        html = f"<p>Overall quality <b>{fmt(m.get('value'))}</b></p>" + _metric_table(
            report, _names(report, "fidelity.")
        )
        html += _structural_part(report)
        if props:
            html += "<h3>SDMetrics properties</h3>" + table(
                ["Property", "Score", ""], ([e(k), fmt(v), bar(v)] for k, v in props.items())
            )
        shapes = _mapping(details.get("column_shapes"))
        plots = [
            p
            for p in _list(_details(report, "fidelity.column_shapes").get("distributions"))
            if isinstance(p, Mapping)
        ]
        if shapes and not plots:
            html += "<h3>Per column</h3>" + table(
                ["Column", "Shape similarity", ""],
                ([f"<code>{e(k)}</code>", fmt(v), bar(v)] for k, v in shapes.items()),
            )
        if plots:
            k = _details(report, "fidelity.column_shapes").get("k_min", 10)
            html += "<h3>Distributions, real versus synthetic</h3>" + explain(
                f"Shares of rows per bin or category. Bins have rounded edges and open-ended "
                f"outer bins; any bin, category or missing-value group with fewer than {fmt(k)} "
                "real rows is merged into a neighbour, so no small group is shown. Above each "
                "chart: the column's shape similarity (1 is identical)."
            )
            html += (
                '<div class="charts">'
                + "".join(_distribution_figure(p, shapes) for p in plots)
                + "</div>"
            )
        corr = _details(report, "fidelity.correlation_diff")
        cols = [str(c) for c in _list(corr.get("columns"))]
        if cols and _list(corr.get("difference")):
            html += (
                "<h3>Association differences</h3>"
                + explain(
                    "Each cell is the absolute difference between the real and the synthetic "
                    f"strength of association of two columns ({corr.get('measures', '')}). "
                    f"White is identical; red is a difference of 0.5 or more. Mean difference "
                    f"{fmt(corr.get('mean_difference'))}."
                )
                + f'<figure class="wide">{heatmap("Association difference |real − synthetic|", cols, _list(corr.get("difference")))}</figure>'
            )
        return html


class UtilitySection:
    id: ClassVar[str] = "utility"
    title: ClassVar[str] = "Utility"
    order: ClassVar[int] = 60

    def render(self, report: Mapping[str, Any]) -> str | None:
        names = _names(report, "utility.")
        if not names:
            return None
        d = _details(report, "utility.tstr_ratio")
        intro = explain(
            "A model is trained twice — on the real training rows and on the synthetic table — "
            "and both are scored on the real holdout rows the synthesizer never saw."
        )
        if d and not d.get("skipped"):
            rows = _mapping(d.get("rows"))
            positive = d.get("positive_class")
            intro += (
                f"<p>Target <code>{e(d.get('target'))}</code>, {e(d.get('task'))}"
                + (f" (positive class <code>{e(positive)}</code>)" if positive else "")
                + f", scored by {e(d.get('score'))}; {e(d.get('model'))}; trained on "
                f"{fmt(rows.get('real'))} real and {fmt(rows.get('synthetic'))} synthetic rows, "
                f"tested on {fmt(rows.get('holdout'))} holdout rows.</p>"
            )
        unused = _mapping(_details(report, "utility.trtr_score").get("features_without_values"))
        for side, cols in unused.items():
            intro += explain(
                f"Left out of the model trained on {side} rows, having no value there: "
                + ", ".join(str(c) for c in _list(cols))
                + "."
            )
        return intro + _utility_chart(report) + _metric_table(report, names, 4)


def _utility_chart(report: Mapping[str, Any]) -> str:
    """The real-trained and synthetic-trained model's scores, side by side."""
    real, syn = _details(report, "utility.trtr_score"), _details(report, "utility.tstr_score")
    if not real or real.get("skipped"):
        return ""
    labels = [str(real.get("score") or "score")]
    real_values: list[Any] = [_m(report, "utility.trtr_score")]
    syn_values: list[Any] = [_m(report, "utility.tstr_score")]
    for key, value in real.items():
        other = syn.get(key)
        if key in ("rows", "positive_class") or not _is_share(value) or not _is_share(other):
            continue
        labels.append(str(key))
        real_values.append(value)
        syn_values.append(other)
    chart = paired_bars(
        "Model scores on the real holdout (1 is best)",
        labels,
        real_values,
        syn_values,
        series=("trained on real", "trained on synthetic"),
        percent=False,
    )
    return f"<figure>{chart}</figure>"


def _is_share(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


class BiasSection:
    id: ClassVar[str] = "bias"
    title: ClassVar[str] = "Bias and fairness"
    order: ClassVar[int] = 70

    def render(self, report: Mapping[str, Any]) -> str | None:
        names = _names(report, "bias.")
        if not names:
            return None
        html = _metric_table(report, names, 4)
        attrs = _list(_details(report, "bias.max_share_gap").get("attributes"))
        for a in attrs:
            if not isinstance(a, Mapping):
                continue
            name = str(a.get("attribute"))
            html += f"<h3>Protected attribute <code>{e(name)}</code></h3>"
            if a.get("skipped"):
                html += f'<p class="muted">Not analysed: {e(a["skipped"])}.</p>'
                continue
            flags = [str(f) for f in _list(a.get("flags"))]
            html += (
                "<p>"
                + (
                    " ".join(pill(f, "fail") for f in flags)
                    if flags
                    else pill("no amplification, no erased group", "pass")
                )
                + "</p>"
            )
            small = [str(g) for g in _list(a.get("below_dp_resolution"))]
            if small:
                html += (
                    f"<p>{pill('below DP resolution', 'warn')} Vanished, but smaller than "
                    "the differential-privacy noise lets a release keep at this ε (not "
                    f"counted as erased): {e(', '.join(small))}. A higher ε or fewer "
                    "columns keeps them.</p>"
                )
            groups = [str(g) for g in _list(a.get("groups"))]
            html += f"<figure>{paired_bars(f'{name}: share of rows per group', groups, _list(a.get('real_share')), _list(a.get('synthetic_share')))}</figure>"
            real_o, syn_o = _list(a.get("real_outcome")), _list(a.get("synthetic_outcome"))
            real_s, syn_s = _list(a.get("real_share")), _list(a.get("synthetic_share"))
            rows = [
                [
                    e(g),
                    pct(_at(real_s, i)),
                    pct(_at(syn_s, i)),
                    _outcome_cell(real_o, i),
                    fmt(_at(syn_o, i)),
                ]
                for i, g in enumerate(groups)
            ]
            outcome = e(a.get("outcome") or "outcome")
            html += table(
                [
                    "Group",
                    "Real share",
                    "Synthetic share",
                    f"Real {outcome}",
                    f"Synthetic {outcome}",
                ],
                rows,
            )
            if real_o:
                html += explain(
                    f"Outcome gap between groups: real {fmt(a.get('outcome_gap_real'))}, synthetic "
                    f"{fmt(a.get('outcome_gap_synthetic'))} (change {fmt(a.get('outcome_gap_delta'))}; "
                    f"sampling noise ±{fmt(a.get('outcome_noise'))}). A rate is withheld where a "
                    "group holds fewer than 10 real rows with, or without, the outcome."
                )
            for key, what in (
                ("outcome_skipped", "Outcome rates of the synthetic table not compared"),
                ("fairness_skipped", "Fairness of the two models not compared"),
            ):
                if a.get(key):
                    html += f'<p class="muted">{e(what)}: {e(a[key])}.</p>'
            fair = _mapping(a.get("fairness"))
            if fair:
                html += table(
                    [
                        "Model trained on",
                        "Demographic-parity difference",
                        "Equalized-odds difference",
                    ],
                    [
                        [
                            "real rows",
                            fmt(fair.get("parity_gap_real")),
                            fmt(fair.get("eodds_gap_real")),
                        ],
                        [
                            "synthetic rows",
                            fmt(fair.get("parity_gap_synthetic")),
                            fmt(fair.get("eodds_gap_synthetic")),
                        ],
                        [
                            "<b>change</b>",
                            f"{fmt(fair.get('parity_gap_delta'))} (noise ±{fmt(fair.get('parity_noise'))})",
                            f"{fmt(fair.get('eodds_gap_delta'))} (noise ±{fmt(fair.get('eodds_noise'))})",
                        ],
                    ],
                )
            rebalance = _mapping(a.get("rebalance"))
            if rebalance:
                html += explain(
                    f"The job asked to rebalance this attribute ({e(rebalance.get('request'))}). "
                    f"Distance of group shares from the requested ones (total variation): real "
                    f"{fmt(rebalance.get('distance_real'))}, synthetic "
                    f"{fmt(rebalance.get('distance_synthetic'))} — "
                    + (
                        "moved toward the request."
                        if rebalance.get("moved_toward_target")
                        else "not moved toward the request."
                    )
                )
        return html


def _at(values: Sequence[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def _outcome_cell(values: Sequence[Any], i: int) -> str:
    if not values:
        return "—"
    value = _at(values, i)
    return '<span class="muted">withheld</span>' if value is None else fmt(value)


def _kwargs_text(kwargs: Mapping[str, Any]) -> str:
    parts = []
    for key, value in kwargs.items():
        if key in {"column", "batch_id", "column_list"}:
            continue
        if isinstance(value, list):
            items = [str(v) for v in value[:8]]
            if len(value) > 8:
                items.append(f"… {len(value) - 8} more")
            shown = ", ".join(items)
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


class QualitySection:
    id: ClassVar[str] = "quality"
    title: ClassVar[str] = "Data quality (Great Expectations)"
    order: ClassVar[int] = 80

    def render(self, report: Mapping[str, Any]) -> str | None:
        quality = _mapping(_mapping(report.get("validation")).get("quality"))
        names = _names(report, "quality.")
        if not quality and not names:
            return None
        results = _mapping(quality.get("results"))
        stats = _mapping(results.get("statistics"))
        html = explain(
            "The expectation suite is built from the real table's schema (columns, types, "
            "NOT NULL, declared ranges and category sets, keys), a privacy-safe profile (each "
            "column's share of missing values, rounded up, plus 5 points) and the job spec's own "
            "expectations; the released synthetic table is validated against it. The rows below "
            "render Great Expectations' result JSON, stored beside this report."
        ) + _metric_table(report, names, 4)
        if stats:
            html += (
                f"<p>{fmt(stats.get('successful_expectations'))} of "
                f"{fmt(stats.get('evaluated_expectations'))} expectations met "
                f"({fmt(stats.get('success_percent'), 1)}%), Great Expectations "
                f"{e(_mapping(results.get('meta')).get('great_expectations_version'))}.</p>"
            )
        items = [r for r in _list(results.get("results")) if isinstance(r, Mapping)]
        items.sort(
            key=lambda r: (
                bool(r.get("success")),
                str(
                    _mapping(_mapping(r.get("expectation_config")).get("kwargs")).get("column", "")
                ),
            )
        )
        rows = []
        for r in items:
            cfg = _mapping(r.get("expectation_config"))
            kwargs = _mapping(cfg.get("kwargs"))
            res = _mapping(r.get("result"))
            meta = _mapping(cfg.get("meta"))
            column = kwargs.get("column") or ", ".join(
                str(c) for c in _list(kwargs.get("column_list"))
            )
            unexpected = res.get("unexpected_percent")
            rows.append(
                [
                    verdict_pill("pass" if r.get("success") else "fail"),
                    f"<code>{e(cfg.get('type'))}</code>",
                    f"<code>{e(column)}</code>" if column else "table",
                    f'<span class="muted">{e(_kwargs_text(kwargs))}</span>',
                    e(f"{meta.get('source', '')}: {meta.get('why', '')}".strip(": ")),
                    "—" if unexpected is None else f"{float(unexpected):.1f}%",
                ]
            )
        for raw in _list(quality.get("build_errors")):
            err = _mapping(raw)
            rows.insert(
                0,
                [
                    verdict_pill("fail"),
                    f"<code>{e(err.get('type'))}</code>",
                    e(_mapping(err.get("kwargs")).get("column", "")),
                    e(err.get("error")),
                    "job spec: could not be built",
                    "—",
                ],
            )
        if rows:
            html += table(
                ["", "Expectation", "Column", "Parameters", "Why", "Unexpected"], rows, cls="small"
            )
        return html


class GateSection:
    id: ClassVar[str] = "gate"
    title: ClassVar[str] = "Release gate"
    order: ClassVar[int] = 90

    def render(self, report: Mapping[str, Any]) -> str | None:
        gate = _mapping(report.get("gate"))
        rows = []
        for o in _list(gate.get("outcomes")):
            if not isinstance(o, Mapping):
                continue
            kind = (
                "pass" if o.get("passed") else ("fail" if o.get("severity") == "block" else "warn")
            )
            rows.append(
                [
                    pill("pass" if o.get("passed") else str(o.get("severity")), kind),
                    f"<code>{e(o.get('rule_id'))}</code>",
                    f"<code>{e(o.get('metric'))} {e(o.get('comparator'))} {e(o.get('threshold'))}</code>",
                    fmt(o.get("observed"), 4),
                    e(o.get("reason")),
                ]
            )
        status = str(gate.get("status"))
        outcome = (
            f"{pill('passed', 'pass')} the release went to approval"
            if status == "AWAITING_APPROVAL"
            else pill(status, STATUS_PILL.get(status, "info"))
        )
        # a registered pack: the version the release was made under
        version = "" if gate.get("policy_version") is None else f" v{e(gate['policy_version'])}"
        return (
            f"<p>Policy <code>{e(gate.get('policy'))}{version}</code> · gate outcome {outcome}</p>"
            + table(["", "Rule", "Requirement", "Observed", "Reason"], rows)
        )


class NotesSection:
    id: ClassVar[str] = "notes"
    title: ClassVar[str] = "How this report was made"
    order: ClassVar[int] = 95

    def render(self, report: Mapping[str, Any]) -> str | None:
        v = _mapping(report.get("validation"))
        if not v:
            return None
        items = [
            f"No category, bin or group with fewer than {fmt(v.get('k_min'))} real rows is shown: "
            "small cells are merged into a neighbour. No real row or identifier is stored in "
            "this report.",
            "Distances between rows mix numbers (scaled by their robust range) and categories "
            "(1 when different), in the spirit of the Gower distance.",
        ]
        limits = _mapping(v.get("limits"))
        sampling = _mapping(v.get("sampling"))
        if sampling:
            parts = []
            for purpose, raw in sampling.items():
                caps = _mapping(raw)
                for key, n in caps.items():
                    if not str(key).endswith("_of"):
                        parts.append(
                            f"{e(purpose)}: {fmt(n)} of {fmt(caps.get(f'{key}_of'))} {e(key)} rows"
                        )
            items.append(
                "Large tables are sampled at random (seeded) for some metrics: "
                + "; ".join(parts)
                + "."
            )
        elif limits:
            items.append(
                "No sampling was needed: every metric used all rows, within the limits "
                + ", ".join(f"{e(k)} {fmt(x)}" for k, x in limits.items())
                + "."
            )
        items.extend(e(x) for x in _mapping(v.get("methods")).values())
        seconds = _mapping(v.get("seconds"))
        if seconds:
            items.append(
                "Validation time per area: "
                + ", ".join(f"{e(k)} {fmt(x, 1)} s" for k, x in seconds.items())
                + "."
            )
        # every dynamic part above is escaped where it is built
        return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
