"""The HTML/JSON report: complete, self-contained, escaped, and free of real values."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthgate.contracts import ColumnSchema, LogicalType, PrivacySpent, TableSchema
from synthgate.errors import ConfigError
from synthgate.reporting import REPORT_SCHEMA_VERSION, render_html, render_pdf, write_report
from synthgate.validate import (
    ValidationInput,
    ValidationOptions,
    ValidationOutcome,
    validate_all,
)

SCHEMA = TableSchema(
    "customers",
    (
        ColumnSchema("region", LogicalType.CATEGORICAL, domain=("north", "south")),
        ColumnSchema("spend", LogicalType.FLOAT),
        ColumnSchema("age", LogicalType.INTEGER),
        ColumnSchema("churned", LogicalType.BOOLEAN),
    ),
)
CANARY_CATEGORY = "ZQX-CANARY-REGION"
CANARY_NUMBER = 7777777.25


def customers(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    return pd.DataFrame(
        {
            "region": rng.choice(["north", "south"], n),
            "spend": np.round(rng.gamma(2, 20, n) + age, 2),
            "age": age,
            "churned": rng.random(n) < 1 / (1 + np.exp((age - 45) / 10)),
        }
    )


def _canary_train() -> pd.DataFrame:
    train = customers(300, 1)
    train.loc[[5, 6], "region"] = CANARY_CATEGORY  # a category of two real people
    train.loc[7, "spend"] = CANARY_NUMBER  # one outlier
    return train


@cache
def _validated(synthetic: str = "copy") -> ValidationOutcome:
    train = _canary_train()
    return validate_all(
        ValidationInput(
            train=train,
            synthetic=_synthetic(train, synthetic),
            schema=SCHEMA,
            privacy=PrivacySpent(private=True, epsilon=2.5, delta=1e-6, accountant="prv"),
            pii_replay={"email": 0},
            holdout=customers(100, 2),
            target_column="churned",
            protected_attributes=("region", "age"),
            options=ValidationOptions(strict=True),
        )
    )


def _synthetic(train: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A copy (every canary reaches the synthetic side too), or a structurally broken one."""
    syn = train.copy()
    if kind == "broken":
        syn["age"] = syn["age"] + 0.5  # fractions in an integer column
        syn.loc[:30, "spend"] = -CANARY_NUMBER  # far outside the real range
        syn["churned"] = True  # collapsed to one class
    if kind == "empty-target":
        syn["churned"] = None
    if kind == "empty-feature":
        syn["spend"] = np.nan
    return syn


def make_report(
    *,
    gate: list[dict[str, Any]] | None = None,
    budget: bool = True,
    synthetic: str = "copy",
) -> dict[str, Any]:
    outcome = _validated(synthetic)
    return {
        "run": {"id": "run-1", "job": "crm", "requested_by": "alice", "started_at": "t0"},
        "provenance": {"synthesizer": "dp-ctgan", "rows_synthetic": 300, "spec_hash": "ab12"},
        "pii": {
            "inventory": [{"column": "email", "label": "email address", "share": 1.0}],
            "actions": [
                {
                    "column": "email",
                    "action": "fake",
                    "pii_class": "direct_identifier",
                    "reason": "policy",
                },
                {"column": "notes", "action": "drop", "pii_class": "free_text", "reason": "policy"},
                {"column": "region", "action": "keep", "pii_class": "none", "reason": "no PII"},
            ],
        },
        "privacy": {
            "spent": {
                "private": True,
                "epsilon": 2.5,
                "delta": 1e-6,
                "accountant": "prv",
                "stages": [
                    {"stage": "training", "mechanism": "dp-sgd", "epsilon": 2.0, "delta": 1e-6}
                ],
                "replace_one_epsilon": 5.0,
                "replace_one_delta": 1.3e-5,
            },
            **(
                {
                    "budget": {
                        "source": "crm#customers",
                        "limit_epsilon": 10.0,
                        "spent_before": 0.0,
                        "spent_after": 2.5,
                        "remaining": 7.5,
                        "releases_counted": 1,
                    }
                }
                if budget
                else {}
            ),
        },
        "metrics": copy.deepcopy([m.to_dict() for m in outcome.metrics]),
        "validation": copy.deepcopy(outcome.report),
        "gate": {"policy": "default", "status": "BLOCKED", "outcomes": gate or []},
        "release": {"id": "rel-1", "status": "BLOCKED", "expires_at": "2026-04-01"},
    }


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return make_report(
        gate=[
            {
                "rule_id": "no-copied-rows",
                "metric": "privacy.exact_match_share",
                "passed": False,
                "observed": 1.0,
                "threshold": 0.01,
                "comparator": "<=",
                "severity": "block",
                "reason": "copies",
            },
            {
                "rule_id": "fidelity",
                "metric": "fidelity.quality",
                "passed": True,
                "observed": 1.0,
                "threshold": 0.7,
                "comparator": ">=",
                "severity": "block",
                "reason": "ok",
            },
        ]
    )


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    return render_html(report)


def test_every_area_has_a_section_and_a_summary_row(html: str) -> None:
    for section in (
        "summary",
        "provenance",
        "pii",
        "privacy",
        "fidelity",
        "utility",
        "bias",
        "quality",
        "gate",
        "notes",
    ):
        assert f'<section id="{section}">' in html, section
    summary = html.split('<section id="provenance">', maxsplit=1)[0]
    for area in (
        "Privacy",
        "Fidelity",
        "Structural validity",
        "Utility",
        "Bias and fairness",
        "Data quality",
    ):
        assert f">{area}</a>" in summary, area
    assert '<h3 id="structural">Structural validity</h3>' in html  # the summary's anchor


def test_summary_uses_the_gate_where_a_rule_exists_and_advice_elsewhere(html: str) -> None:
    summary = html.split('<section id="provenance">', maxsplit=1)[0]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r'href="#(\w+)">[^<]+</a></td><td>(.*?)</td>', summary)
    }
    assert 'class="pill fail">fail</span>' in rows["privacy"]  # the gate blocked on copies
    assert 'class="pill pass">pass</span>' in rows["fidelity"]  # gated and passed
    assert "(advisory)" in rows["utility"]
    assert "(advisory)" in rows["quality"]
    assert "privacy.exact_match_share &lt;= 0.01" in summary
    assert "Rules not met" in summary
    assert "no-copied-rows" in summary


def test_summary_shows_budget_pii_requester_and_status(html: str, report: dict[str, Any]) -> None:
    summary = html.split('<section id="provenance">', maxsplit=1)[0]
    assert "this run ε = 2.50, δ = 10⁻⁶" in summary  # ε to 3 significant digits
    assert "remaining ε 7.50" in summary
    assert "2 column(s) with personal data: 1 dropped, 1 replaced with fake values" in summary
    assert ">alice<" in summary
    assert "BLOCKED" in summary
    without = render_html(make_report(budget=False)).split('<section id="provenance">')[0]
    assert "remaining ε" not in without


def test_the_review_report_says_it_is_internal_and_shows_both_relations(html: str) -> None:
    head = html.split("<nav>", maxsplit=1)[0]
    assert "review report" in head
    assert "contains statistics of the real data" in head
    assert "it is not released" in head
    privacy = html.split('<section id="privacy">')[1].split("</section>", maxsplit=1)[0]
    assert "add or remove one row (the guarantee)" in privacy
    assert "replace one row by another" in privacy


def test_page_is_self_contained_and_script_free(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<link" not in lowered
    assert "@import" not in lowered
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", lowered)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "default-src 'none'" in html  # and a CSP that forbids anything else
    assert "@media print" in html


def test_charts_are_inline_svg(html: str) -> None:
    fidelity = html.split('<section id="fidelity">')[1].split("</section>", maxsplit=1)[0]
    assert fidelity.count("<svg") == len(SCHEMA.columns) + 1  # a chart per column + heatmap
    bias = html.split('<section id="bias">')[1].split("</section>", maxsplit=1)[0]
    assert bias.count("<svg") == 2  # one per protected attribute
    # each distribution chart carries its column's shape similarity
    assert fidelity.count("shape similarity of <code>") == len(SCHEMA.columns)
    privacy = html.split('<section id="privacy">')[1].split("</section>", maxsplit=1)[0]
    assert privacy.count("<svg") == 2  # distance to closest record, NNDR
    assert "Distance to closest record (median)" in privacy
    utility = html.split('<section id="utility">')[1].split("</section>", maxsplit=1)[0]
    assert utility.count("<svg") == 1  # real-trained versus synthetic-trained scores
    assert "trained on synthetic" in utility


def test_no_real_value_or_small_group_appears(report: dict[str, Any], tmp_path: Path) -> None:
    json_path, html_path = write_report(report, tmp_path)
    for path in (json_path, html_path):
        text = path.read_text("utf-8")
        assert CANARY_CATEGORY not in text, path.name
        assert "7777777" not in text, path.name
    data = json.loads(json_path.read_text("utf-8"), parse_constant=_refuse)
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    k = data["validation"]["k_min"]
    shapes = next(m for m in data["metrics"] if m["name"] == "fidelity.column_shapes")
    for dist in shapes["details"]["distributions"]:
        for share in dist["real"]:
            assert share == 0 or share * 300 >= k - 1e-6, dist["column"]


def _refuse(token: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {token}")


def test_sections_escape_hostile_names() -> None:
    evil = "<img src=x onerror=alert(1)>"
    report = make_report()
    for m in report["metrics"]:
        if m["name"] == "fidelity.column_shapes":
            m["details"]["distributions"][0]["labels"][0] = evil
            m["details"]["distributions"][0]["column"] = evil
        if m["name"] == "bias.max_share_gap":
            m["details"]["attributes"][0]["groups"][0] = evil
            m["details"]["attributes"][0]["flags"] = [evil]
    report["validation"]["quality"]["results"]["results"][0]["expectation_config"]["kwargs"][
        "column"
    ] = evil
    report["validation"]["methods"]["anonymeter"] = evil
    out = render_html(report)
    assert "<img" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out


def test_pdf_needs_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHGATE_CHROMIUM", str(tmp_path / "no-such-browser"))
    page = tmp_path / "r.html"
    page.write_text("<html></html>")
    with pytest.raises(ConfigError, match="needs Chromium"):
        render_pdf(page)


def test_a_resampled_release_says_it_spent_no_budget(report: dict[str, Any]) -> None:
    resampled = copy.deepcopy(report)
    note = "re-sampled from model of run run-1; no privacy budget spent"
    resampled["privacy"]["budget"]["note"] = note
    out = render_html(resampled)
    summary, _, details = out.partition('<section id="provenance">')
    assert note in summary
    assert note in details.split('<section id="privacy">')[1]
    assert note not in render_html(report)


STRUCTURAL_FAILED = {
    "rule_id": "structural-validity",
    "metric": "structural.validity",
    "passed": False,
    "observed": 0.25,
    "threshold": 1.0,
    "comparator": ">=",
    "severity": "block",
    "reason": "structural.validity is 0.25, needs >= 1.0",
}


def _part(html: str) -> str:
    return html.split('<h3 id="structural">')[1].split("<h3>", maxsplit=1)[0]


def test_structural_validity_is_one_line_when_every_column_is_valid(html: str) -> None:
    part = _part(html)
    assert "All 4 modelled columns are structurally valid." in part
    assert "(advisory)" in part  # no rule reads it in this report
    assert "Columns that fail" not in part
    assert "structural.collapsed_columns" in part  # the metric table


def test_structural_validity_lists_failing_columns_with_reasons_and_no_value(
    tmp_path: Path,
) -> None:
    report = make_report(gate=[STRUCTURAL_FAILED], synthetic="broken")
    out = render_html(report)
    part = _part(out)
    assert 'class="pill fail">fail · gate</span>' in part
    assert "3 of 4 columns are not valid: <code>spend</code>, <code>age</code>, " in part
    rows = part.split("Columns that fail")[1]
    assert "not a whole number: 100.0%" in rows
    assert "outside the real range: 10.3%" in rows
    assert "a single value, where the real column holds several" in rows
    assert "<code>region</code>" not in rows  # the valid column is not listed
    summary = out.split('<section id="provenance">', maxsplit=1)[0]
    row = summary.split('href="#structural"')[1].split("</tr>")[0]
    assert 'class="pill fail">fail</span>' in row
    assert "1 of 4 checks passed" in row
    assert "structural.validity &gt;= 1.0" in row
    json_path, html_path = write_report(report, tmp_path)
    for path in (json_path, html_path):
        text = path.read_text("utf-8")
        assert "7777777" not in text, path.name
        assert CANARY_CATEGORY not in text, path.name


def test_structural_part_says_why_it_was_not_computed() -> None:
    report = make_report()
    for m in report["metrics"]:
        if m["name"].startswith("structural."):
            m["value"] = None
            m["details"] = {"skipped": "the synthetic table has no rows"}
    out = render_html(report)
    assert "Not computed: the synthetic table has no rows." in _part(out)
    summary = out.split('<section id="provenance">', maxsplit=1)[0]
    assert "the synthetic table has no rows" in summary.split('href="#structural"')[1]


def test_structural_rows_escape_hostile_column_names() -> None:
    evil = "<img src=x onerror=alert(1)>"
    report = make_report(synthetic="broken")
    for m in report["metrics"]:
        if m["name"] == "structural.validity":
            m["details"]["columns"][1]["column"] = evil
            m["details"]["columns"][1]["reasons"] = [evil]
            m["details"]["constraints"] = [
                {"constraint": evil, "passed": False, "violations": 3, "share": 0.01}
            ]
    out = render_html(report)
    assert "<img" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in _part(out)


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">')[1].split("</section>", maxsplit=1)[0]


def test_metrics_not_computed_on_an_empty_synthetic_target_say_why() -> None:
    out = render_html(make_report(synthetic="empty-target"))
    assert "not computed: the synthetic target column is empty" in _section(out, "utility")
    bias = _section(out, "bias")
    assert "Fairness of the two models not compared: the synthetic target column is empty" in bias
    assert "Outcome rates of the synthetic table not compared: the synthetic churned column" in bias
    row = _section(out, "summary").split('href="#utility"')[1].split("</tr>")[0]
    assert "the synthetic target column is empty" in row
    assert "1 of 4 columns are not valid: <code>churned</code>" in _part(out)


def test_a_feature_left_out_of_a_model_is_named() -> None:
    utility = _section(render_html(make_report(synthetic="empty-feature")), "utility")
    assert "Left out of the model trained on synthetic rows, having no value there: spend." in (
        utility
    )
    assert "not computed" not in utility
