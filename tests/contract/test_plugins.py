"""Every registered plugin honours its contract."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from synthgate import memory
from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
from synthgate.plugins import PluginGroup, load, names
from synthgate.reporting import render_html


@pytest.mark.parametrize("name", names(PluginGroup.CONNECTORS))
def test_connectors_declare_a_name_and_reject_foreign_urls(name: str) -> None:
    conn = load(PluginGroup.CONNECTORS, name)()
    assert conn.name == name
    assert not conn.accepts("gopher://nowhere")


def test_expected_plugins_are_registered() -> None:
    assert {"sql", "files", "memory"} <= set(names(PluginGroup.CONNECTORS))
    assert "sdv-gaussian-copula" in names(PluginGroup.SYNTHESIZERS)
    assert {"default", "strict"} <= set(names(PluginGroup.POLICIES))


@pytest.mark.parametrize("name", names(PluginGroup.SYNTHESIZERS))
def test_synthesizers_fit_sample_and_report_privacy(name: str) -> None:
    schema = TableSchema(
        "t",
        (
            ColumnSchema("cat", LogicalType.CATEGORICAL, domain=("a", "b")),
            ColumnSchema("num", LogicalType.FLOAT),
            ColumnSchema("flag", LogicalType.BOOLEAN),
        ),
    )
    frame = pd.DataFrame(
        {
            "cat": ["a", "b"] * 100,
            "num": [float(i) for i in range(200)],
            "flag": [True, False] * 100,
        }
    )
    small = {
        "dp-ctgan": {"epochs": 1, "batch_size": 50},
        "sdv-ctgan": {"epochs": 1, "batch_size": 50},
    }
    synth = load(PluginGroup.SYNTHESIZERS, name)(**small.get(name, {}))
    assert synth.name == name
    fit = synth.fit(frame, schema, privacy=PrivacyRequest(epsilon=3.0, delta=1e-5), seed=1)
    assert fit.privacy.private is synth.private
    out = synth.sample(50)
    assert list(out.columns) == ["cat", "num", "flag"]
    assert len(out) == 50
    assert set(out["cat"].dropna()) <= {"a", "b"}


@pytest.mark.parametrize("name", names(PluginGroup.REPORT_SECTIONS))
def test_report_sections_escape_what_they_print(name: str) -> None:
    section = load(PluginGroup.REPORT_SECTIONS, name)()
    evil = "<script>alert(1)</script>"
    report: dict[str, Any] = {
        "run": {"id": evil, "job": evil, "requested_by": evil},
        "provenance": {"source": evil, "table": evil},
        "pii": {
            "inventory": [{"column": evil, "label": evil, "share": 1.0, "evidence": [evil]}],
            "actions": [
                {"column": evil, "action": "fake", "pii_class": "direct_identifier", "reason": evil}
            ],
        },
        "privacy": {"spent": {"private": False}},
        "metrics": [
            {
                "name": "fidelity.quality",
                "value": 0.5,
                "goal": "maximize",
                "explanation": evil,
                "details": {"properties": {evil: 0.5}, "column_shapes": {evil: 0.5}},
            }
        ],
        "gate": {
            "policy": evil,
            "status": "BLOCKED",
            "outcomes": [
                {
                    "rule_id": evil,
                    "metric": "privacy.x",
                    "passed": False,
                    "observed": evil,
                    "threshold": 1,
                    "comparator": "<=",
                    "severity": "block",
                    "reason": evil,
                }
            ],
        },
        "release": {"id": evil, "status": "BLOCKED"},
    }
    html = section.render(report) or ""
    assert "<script>" not in html
    assert "<script>" not in render_html(report)


def test_memory_connector_round_trip() -> None:
    table = pa.table({"a": [1, 2, 3]})
    memory.put("contract", table, memory.schema_of("t", table))
    conn = load(PluginGroup.CONNECTORS, "memory")()
    src = conn.source("memory://contract", options={})
    assert src.list_tables() == ["t"]
    assert pa.Table.from_batches(list(src.read("t", chunk_rows=2))).equals(table)
    memory.drop("contract")
