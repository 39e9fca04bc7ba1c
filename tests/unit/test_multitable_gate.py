"""The gate of a multi-table release: pack rules read the metrics across tables once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from tests.unit.test_gate import GOOD

from synthgate.pipeline._multi import TablesPreflight, _gate, cross_table_metrics
from synthgate.release import PolicyPack, ReleaseStatus, load_policy


def _checks(integrity: float, tvd: float, unique: bool = True) -> dict[str, Any]:
    return {
        "referential_integrity": integrity,
        "unique_keys": {"customers": True, "orders": unique},
        "relationships": {
            "orders -> customers": {"integrity": integrity, "children_per_parent_tvd": tvd},
            "orders -> products": {"integrity": 1.0},  # a public parent: no distance
        },
        "quality": {"score": 0.83},
    }


def _pre(pack: PolicyPack) -> TablesPreflight:
    return cast(TablesPreflight, SimpleNamespace(policy=pack))


def test_metrics_across_tables_are_the_worst_relationship_and_the_report_score() -> None:
    assert cross_table_metrics(_checks(0.98, 0.3, unique=False)) == {
        "multitable.referential_integrity": 0.98,
        "multitable.unique_keys": False,
        "multitable.children_tvd": 0.3,
        "multitable.quality": 0.83,
    }


def test_the_default_pack_blocks_a_dangling_key_once_and_warns_on_child_counts() -> None:
    flats = {"customers": GOOD, "orders": GOOD}
    decision, shown = _gate(_pre(load_policy("default")), flats, _checks(0.98, 0.3))
    assert decision.status is ReleaseStatus.BLOCKED
    assert [o.rule_id for o in decision.blocking_failures] == ["referential-integrity"]
    assert "children-per-parent" in [o.rule_id for o in decision.warnings]
    across = [s for s in shown if s["table"] is None]
    assert [s["rule_id"] for s in across] == [
        "referential-integrity",
        "unique-keys",
        "children-per-parent",
    ]
    per_table = [s for s in shown if s["table"] is not None]
    assert not [s for s in per_table if s["metric"].startswith("multitable.")]


def test_a_pack_without_an_integrity_rule_still_blocks_a_dangling_key() -> None:
    pack = load_policy("default")
    bare = pack.model_copy(
        update={"rules": [r for r in pack.rules if not r.metric.startswith("multitable.")]}
    )
    decision, shown = _gate(_pre(bare), {"customers": GOOD}, _checks(0.5, 0.0))
    assert decision.status is ReleaseStatus.BLOCKED
    assert shown[0]["rule_id"] == "multitable-integrity"
    decision, _ = _gate(_pre(bare), {"customers": GOOD}, _checks(1.0, 0.0))
    assert decision.status is ReleaseStatus.AWAITING_APPROVAL


def test_a_multi_table_report_gives_each_area_the_worst_verdict_of_its_tables() -> None:
    from synthgate.contracts import area_status

    report = {
        "gate": {"outcomes": []},
        "validation": {
            "tables": {
                "customers": {"areas": {"utility": {"verdict": "pass"}}},
                "orders": {"areas": {"utility": {"verdict": "warn"}, "bias": {"verdict": "fail"}}},
            }
        },
    }
    assert area_status(report, "utility")["verdict"] == "warn"
    assert area_status(report, "bias")["verdict"] == "fail"
    assert area_status(report, "quality")["verdict"] == "not computed"
    one_table = {"validation": {"areas": {"utility": {"verdict": "pass"}}}}
    assert area_status(one_table, "utility")["verdict"] == "pass"
