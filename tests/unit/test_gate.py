from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from synthgate.contracts import Severity
from synthgate.errors import ConfigError, PluginError, ReleaseStateError
from synthgate.release import (
    ReleaseStatus,
    check_transition,
    evaluate_gate,
    load_policy,
    read_policy_file,
)

GOOD = {
    "privacy.pii_replay": 0.0,
    "privacy.exact_match_share": 0.0,
    "fidelity.quality": 0.9,
    "structural.validity": 1.0,
    "synthesizer.private": False,
    "privacy.epsilon": None,
    "release.masked_copy": False,
    "bias.erased_groups": 0.0,
    "bias.amplified_attributes": 0.0,
    "quality.gx_success": True,
}


def test_default_pack_holds_non_private_release_for_approval_with_a_warning() -> None:
    decision = evaluate_gate(load_policy("default"), GOOD)
    assert decision.status is ReleaseStatus.AWAITING_APPROVAL
    assert [o.rule_id for o in decision.warnings] == ["differentially-private"]


def test_strict_pack_blocks_non_private_release() -> None:
    decision = evaluate_gate(load_policy("strict"), GOOD)
    assert decision.status is ReleaseStatus.BLOCKED
    assert {o.rule_id for o in decision.blocking_failures} == {"differentially-private", "epsilon"}


@pytest.mark.parametrize(
    ("metric", "value"),
    [("privacy.pii_replay", 1.0), ("fidelity.quality", 0.2), ("structural.validity", 0.75)],
)
def test_a_failing_blocking_rule_blocks(metric: str, value: float) -> None:
    decision = evaluate_gate(load_policy("default"), {**GOOD, metric: value})
    assert decision.status is ReleaseStatus.BLOCKED
    failed = decision.blocking_failures[0]
    assert failed.metric == metric
    assert failed.severity is Severity.BLOCK
    assert str(value) in failed.reason


def test_a_metric_that_was_not_computed_fails_closed() -> None:
    metrics = {k: v for k, v in GOOD.items() if k != "privacy.pii_replay"}
    decision = evaluate_gate(load_policy("default"), metrics)
    assert decision.status is ReleaseStatus.BLOCKED
    assert "not computed" in decision.blocking_failures[0].reason


def test_unknown_pack_lists_known_ones() -> None:
    with pytest.raises(PluginError, match="available: default, internal-testing, strict"):
        load_policy("nope")


def test_custom_pack_file_is_validated(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "name: p\nrules:\n  - {id: r, metric: fidelity.quality, op: '=~', threshold: 1, explain: x}\n"
    )
    with pytest.raises(ConfigError) as info:
        read_policy_file(pack)
    assert any(p.startswith("rules[0].op: must be one of") for p in info.value.problems)
    pack.write_text("name: p\npii: {direct_identifier: keep}\n")
    with pytest.raises(ConfigError, match="cannot be 'keep'"):
        read_policy_file(pack)


def test_lifecycle_transitions() -> None:
    check_transition(ReleaseStatus.AWAITING_APPROVAL, ReleaseStatus.APPROVED)
    check_transition(ReleaseStatus.APPROVED, ReleaseStatus.PUBLISHED)
    with pytest.raises(ReleaseStateError, match="release is BLOCKED"):
        check_transition(ReleaseStatus.BLOCKED, ReleaseStatus.APPROVED)
    with pytest.raises(ReleaseStateError, match="release is AWAITING_APPROVAL"):
        check_transition(ReleaseStatus.AWAITING_APPROVAL, ReleaseStatus.PUBLISHED)


def test_a_masked_copy_is_blocked_by_default_and_warned_by_internal_testing() -> None:
    copied = {**GOOD, "release.masked_copy": True, "privacy.exact_match_share": 0.8}
    default = evaluate_gate(load_policy("default"), copied)
    assert default.status is ReleaseStatus.BLOCKED
    assert {o.rule_id for o in default.blocking_failures} == {"no-masked-copy", "no-copied-rows"}
    testing = evaluate_gate(load_policy("internal-testing"), copied)
    assert testing.status is ReleaseStatus.AWAITING_APPROVAL
    assert {o.rule_id for o in testing.warnings} == {"masked-copy", "differentially-private"}
    rule = next(o for o in testing.outcomes if o.rule_id == "no-copied-rows")
    assert rule.passed
    assert rule.reason.startswith("not applicable to a masked-copy release")
    # for a synthetic release the same rule judges the copied rows
    synthetic = evaluate_gate(
        load_policy("internal-testing"), {**copied, "release.masked_copy": False}
    )
    assert [o.rule_id for o in synthetic.blocking_failures] == ["no-copied-rows"]


@pytest.mark.parametrize(
    ("pack", "severity", "status"),
    [
        ("default", Severity.BLOCK, ReleaseStatus.BLOCKED),
        ("strict", Severity.BLOCK, ReleaseStatus.BLOCKED),
        ("internal-testing", Severity.WARN, ReleaseStatus.AWAITING_APPROVAL),
    ],
)
def test_every_shipped_pack_gates_on_structural_validity(
    pack: str, severity: Severity, status: ReleaseStatus
) -> None:
    private = {**GOOD, "synthesizer.private": True, "privacy.epsilon": 1.0}
    passed = evaluate_gate(load_policy(pack), private)
    assert next(o for o in passed.outcomes if o.rule_id == "structural-validity").passed
    one_bad_column = evaluate_gate(load_policy(pack), {**private, "structural.validity": 0.9})
    assert one_bad_column.status is status
    failed = [o for o in one_bad_column.outcomes if not o.passed]
    assert [(o.rule_id, o.severity) for o in failed] == [("structural-validity", severity)]
    assert "structural.validity is 0.9, needs >= 1.0" in failed[0].reason


def test_structural_validity_that_was_not_computed_blocks() -> None:
    """A family that could not run (an empty synthetic table) must not pass silently."""
    missing = {k: v for k, v in GOOD.items() if k != "structural.validity"}
    for metrics in (missing, {**GOOD, "structural.validity": None}):
        decision = evaluate_gate(load_policy("default"), metrics)
        assert decision.status is ReleaseStatus.BLOCKED
        (failed,) = decision.blocking_failures
        assert failed.rule_id == "structural-validity"
        assert failed.reason.startswith("structural.validity was not computed for this run")


def test_structural_validity_does_not_judge_a_masked_copy() -> None:
    copied = {**GOOD, "release.masked_copy": True, "structural.validity": 0.5}
    for pack in ("default", "strict", "internal-testing"):
        decision = evaluate_gate(load_policy(pack), copied)
        rule = next(o for o in decision.outcomes if o.rule_id == "structural-validity")
        assert rule.passed, pack
        assert rule.reason.startswith("not applicable to a masked-copy release"), pack


def _failed(pack: str, metrics: Mapping[str, object]) -> dict[str, Severity]:
    decision = evaluate_gate(load_policy(pack), metrics)
    return {o.rule_id: o.severity for o in decision.outcomes if not o.passed}


PRIVATE = {**GOOD, "synthesizer.private": True, "privacy.epsilon": 1.0}


def test_default_blocks_an_erased_group_and_warns_on_amplified_bias() -> None:
    assert _failed("default", PRIVATE) == {}
    erased = {**PRIVATE, "bias.erased_groups": 1.0}
    assert _failed("default", erased) == {"no-erased-groups": Severity.BLOCK}
    assert evaluate_gate(load_policy("default"), erased).status is ReleaseStatus.BLOCKED
    amplified = {**PRIVATE, "bias.amplified_attributes": 2.0}
    assert _failed("default", amplified) == {"bias-not-amplified": Severity.WARN}
    assert evaluate_gate(load_policy("default"), amplified).status is (
        ReleaseStatus.AWAITING_APPROVAL
    )
    # data quality is the reviewer's call under default
    assert _failed("default", {**PRIVATE, "quality.gx_success": False}) == {}


def test_default_blocks_a_job_whose_groups_were_not_checked() -> None:
    """Protected attributes that could not be analysed: erased groups fail closed."""
    unchecked = {**PRIVATE, "bias.erased_groups": None, "bias.amplified_attributes": None}
    decision = evaluate_gate(load_policy("default"), unchecked)
    assert decision.status is ReleaseStatus.BLOCKED
    (failed,) = decision.blocking_failures
    assert failed.rule_id == "no-erased-groups"
    assert failed.reason.startswith("bias.erased_groups was not computed for this run")
    assert "validation.protected_attributes" in failed.reason
    assert [o.rule_id for o in decision.warnings] == ["bias-not-amplified"]


def test_strict_needs_two_approvers_and_blocks_bias_and_data_quality() -> None:
    pack = load_policy("strict")
    assert pack.required_approvals == 2
    assert not pack.auto_approve
    assert _failed("strict", PRIVATE) == {}
    for metric, value, rule in (
        ("bias.erased_groups", 1.0, "no-erased-groups"),
        ("bias.amplified_attributes", 1.0, "bias-not-amplified"),
        ("quality.gx_success", False, "data-quality"),
        ("quality.gx_success", None, "data-quality"),
    ):
        assert _failed("strict", {**PRIVATE, metric: value}) == {rule: Severity.BLOCK}, metric


def test_bias_rules_do_not_judge_a_masked_copy() -> None:
    copied = {**GOOD, "release.masked_copy": True, "bias.erased_groups": None}
    for pack in ("default", "strict"):
        decision = evaluate_gate(load_policy(pack), copied)
        for rule_id in ("no-erased-groups", "bias-not-amplified"):
            rule = next(o for o in decision.outcomes if o.rule_id == rule_id)
            assert rule.passed, (pack, rule_id)
            assert rule.reason.startswith("not applicable to a masked-copy release")


def test_rules_across_tables_pass_as_not_applicable_to_one_table() -> None:
    decision = evaluate_gate(load_policy("default"), GOOD)
    across = {o.rule_id: o for o in decision.outcomes if o.metric.startswith("multitable.")}
    assert set(across) == {"referential-integrity", "unique-keys", "children-per-parent"}
    assert all(o.passed for o in across.values())
    assert all(o.reason.startswith("not applicable to one table") for o in across.values())
