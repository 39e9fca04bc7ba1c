"""Values in the report are written for people: times, ε, δ, parameters, verdict wording,
and the charts of privacy and utility evidence."""

from __future__ import annotations

import math
from typing import Any

import pytest

from synthgate.reporting import render_html
from synthgate_reports._html import advisory_text, fmt_delta, fmt_sig, fmt_time, kv_table
from synthgate_reports._svg import paired_bars, quantile_chart


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-05T03:14:15.123456Z", "2026-12-05 03:14 UTC"),
        ("2026-12-05T04:14:59+01:00", "2026-12-05 03:14 UTC"),
        ("2026-12-05T03:14:15", "2026-12-05 03:14 UTC"),
        ("2026-04-01", "2026-04-01"),
        (None, "—"),
        ("t0 <b>", "t0 &lt;b&gt;"),  # not a time: printed as it is, escaped
    ],
)
def test_times_are_minutes_in_utc(value: Any, shown: str) -> None:
    assert fmt_time(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1e-05, "10⁻⁵"),
        (2.5e-06, "2.5×10⁻⁶"),
        (1.234e-9, "1.23×10⁻⁹"),
        (0.0, "0"),
        (None, "—"),
        (math.nan, "—"),
    ],
)
def test_delta_is_a_power_of_ten(value: Any, shown: str) -> None:
    assert fmt_delta(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(2.5, "2.50"), (12.3456, "12.3"), (0.123456, "0.123"), (150.0, "150"), (3, "3.00")],
)
def test_epsilon_has_three_significant_digits(value: Any, shown: str) -> None:
    assert fmt_sig(value) == shown


def test_parameters_are_a_key_value_table_with_values_escaped() -> None:
    out = kv_table({"epochs": 300, "delta": 1e-05, "lr": 0.0002, "columns": ["a", "<b>"]})
    assert "<td><code>epochs</code></td><td>300</td>" in out
    assert "<td>10⁻⁵</td>" in out
    assert "<td>2×10⁻⁴</td>" in out
    assert "<td>a, &lt;b&gt;</td>" in out
    assert "{" not in out  # never a Python dict
    assert kv_table({}) == "—"


def _validation(*verdicts: str) -> dict[str, Any]:
    metrics = {f"privacy.m{i}": v for i, v in enumerate(verdicts)}
    return {"validation": {"areas": {"privacy": {"verdict": "warn", "metrics": metrics}}}}


def test_advisory_wording_counts_warnings_and_failures() -> None:
    assert advisory_text(_validation("pass", "warn", "warn", "fail"), "privacy") == (
        "advisory checks: 1 failure, 2 warnings of 4"
    )
    assert advisory_text(_validation("pass", "pass"), "privacy") == "advisory checks: all 2 pass"
    assert advisory_text({}, "privacy") == ""


def test_summary_says_gate_verdict_and_advisory_checks_apart() -> None:
    report = {
        **_validation("pass", "warn", "fail"),
        "gate": {
            "outcomes": [
                {"metric": "privacy.m0", "passed": True, "severity": "block", "rule_id": "r"}
            ]
        },
        "release": {"id": "rel-1", "status": "AWAITING_APPROVAL", "expires_at": "2026-12-19"},
    }
    summary = render_html(report).split('<section id="summary">')[1].split("</section>")[0]
    row = summary.split('href="#privacy"')[1].split("</tr>")[0]
    assert 'class="pill pass">pass</span> <span class="muted">(gate)</span>' in row
    assert "advisory checks: 1 failure, 1 warning of 3" in row
    assert "advisory: fail" not in row
    assert "no decision yet" in summary
    assert "It expires on 2026-12-19." in summary


def test_privacy_and_utility_charts_draw_summary_figures_only() -> None:
    svg = quantile_chart(
        "NNDR <x>",
        [("synthetic", 0.2, 0.6, 0.6), ("holdout", None, None, 0.7)],
        low_name="5th percentile to mean",
        marker_name="mean",
    )
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "NNDR &lt;x&gt;" in svg
    assert svg.count("<circle") == 3  # two rows and the legend
    scores = paired_bars("scores", ["ROC AUC"], [0.82], [-0.1], percent=False)
    assert "0.820" in scores
    assert "-0.100" in scores
    assert 'width="-' not in scores  # a negative score draws no bar


def test_report_has_no_forced_page_breaks_but_keeps_blocks_whole() -> None:
    html = render_html({"release": {"id": "rel-1", "status": "APPROVED"}})
    assert "break-after:page" not in html
    assert "break-inside:avoid" in html
