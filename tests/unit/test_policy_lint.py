"""``synthgate policy lint`` and ``policy show``: each finding at the right line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from synthgate.cli import main
from synthgate.plugins import PluginGroup, names
from synthgate.release import (
    LintSeverity,
    known_metrics,
    lint_policy,
    lint_policy_text,
    policy_path,
)

HEAD = "name: p\nrules:\n"


def rule(rid: str, metric: str, op: str, threshold: str, severity: str = "block") -> str:
    return textwrap.indent(
        f'- id: {rid}\n  metric: {metric}\n  op: "{op}"\n  threshold: {threshold}\n'
        f"  severity: {severity}\n  explain: why\n",
        "  ",
    )


def codes(text: str) -> list[tuple[str, int | None, LintSeverity]]:
    return [(p.code, p.line, p.severity) for p in lint_policy_text(text)]


@pytest.mark.parametrize("name", names(PluginGroup.POLICIES))
def test_shipped_packs_are_clean(name: str) -> None:
    assert lint_policy(policy_path(name)) == []


# Each rule block is 6 lines; the first rule starts on line 3 (its id), the
# second on line 9. Lines point at the node the finding is about.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            HEAD + rule("a", "fidelity.qualty", ">=", "0.8"),
            [("unknown-metric", 4, LintSeverity.ERROR)],
            id="unknown-metric",
        ),
        pytest.param(
            HEAD + rule("a", "fidelity.quality", "=>", "0.8"),
            [("schema", 5, LintSeverity.ERROR)],
            id="bad-comparator-syntax",
        ),
        pytest.param(
            HEAD + rule("a", "synthesizer.private", ">=", "true"),
            [("bad-comparator", 5, LintSeverity.ERROR)],
            id="ordering-a-boolean",
        ),
        pytest.param(
            HEAD + rule("a", "synthesizer.private", "==", "1"),
            [("bad-threshold", 6, LintSeverity.ERROR)],
            id="boolean-metric-number-threshold",
        ),
        pytest.param(
            HEAD + rule("a", "fidelity.quality", ">=", "high"),
            [("bad-threshold", 6, LintSeverity.ERROR)],
            id="number-metric-text-threshold",
        ),
        pytest.param(
            HEAD
            + rule("a", "fidelity.quality", ">=", "0.8")
            + rule("b", "fidelity.quality", "<=", "0.5"),
            [("contradiction", 9, LintSeverity.ERROR)],
            id="contradiction",
        ),
        pytest.param(
            HEAD
            + rule("a", "privacy.pii_replay", "==", "0")
            + rule("b", "privacy.pii_replay", ">", "0"),
            [("contradiction", 9, LintSeverity.ERROR)],
            id="contradiction-open-bound",
        ),
        pytest.param(
            HEAD
            + rule("a", "synthesizer.private", "==", "true")
            + rule("b", "synthesizer.private", "!=", "true", "warn"),
            [("contradiction", 9, LintSeverity.ERROR)],
            id="contradiction-boolean",
        ),
        pytest.param(
            HEAD
            + rule("a", "privacy.epsilon", ">=", "1")
            + rule("b", "privacy.epsilon", "<=", "1")
            + rule("c", "privacy.epsilon", "!=", "1"),
            [("contradiction", 15, LintSeverity.ERROR)],
            id="contradiction-of-three",
        ),
        pytest.param(
            HEAD
            + rule("a", "fidelity.quality", ">=", "0.8")
            + rule("a", "privacy.pii_replay", "==", "0"),
            [("duplicate-id", 9, LintSeverity.ERROR)],
            id="duplicate-id",
        ),
        pytest.param(
            HEAD + rule("a", "fidelity.quality", ">=", "1.5"),
            [("never-passes", 6, LintSeverity.ERROR)],
            id="outside-the-metric-range",
        ),
        pytest.param(
            HEAD + rule("a", "privacy.pii_replay", ">=", "0"),
            [("always-passes", 6, LintSeverity.WARNING)],
            id="always-holds",
        ),
        pytest.param(
            HEAD
            + rule("a", "fidelity.quality", ">=", "0.8")
            + rule("b", "fidelity.quality", ">=", "0.8"),
            [("duplicate-rule", 9, LintSeverity.WARNING)],
            id="duplicate-rule",
        ),
        pytest.param(
            "name: p\nauto_approve: true\nrequired_approvals: 2\nrules: []\n",
            [("auto-approve", 3, LintSeverity.WARNING), ("no-rules", 4, LintSeverity.WARNING)],
            id="settings-that-do-not-go-together",
        ),
        pytest.param(
            "name: p\nrequired_approvals: 0\nrules: []\n",
            [("schema", 2, LintSeverity.ERROR)],
            id="approvals-at-least-one",
        ),
        pytest.param(
            "name: p\nrules: []\nrulez: []\n",
            [("schema", 3, LintSeverity.ERROR)],
            id="unknown-field",
        ),
        pytest.param(
            "name: p\nname: q\nrules: []\n",
            [("duplicate-key", 2, LintSeverity.ERROR), ("no-rules", 3, LintSeverity.WARNING)],
            id="duplicate-key",
        ),
        pytest.param(
            "name: p\npii: {direct_identifier: keep}\nrules: []\n",
            [("pii", 2, LintSeverity.ERROR), ("no-rules", 3, LintSeverity.WARNING)],
            id="direct-identifiers-kept",
        ),
        pytest.param("name: [unclosed\n", [("yaml", 2, LintSeverity.ERROR)], id="not-yaml"),
        pytest.param("- a\n- b\n", [("shape", 1, LintSeverity.ERROR)], id="not-a-mapping"),
    ],
)
def test_lint_findings_and_their_lines(
    text: str, expected: list[tuple[str, int | None, LintSeverity]]
) -> None:
    assert codes(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # negatives: what must NOT be reported
        HEAD
        + rule("a", "fidelity.quality", ">=", "0.8")
        + rule("b", "fidelity.quality", "<=", "0.95"),
        HEAD + rule("a", "privacy.epsilon", ">=", "1") + rule("b", "privacy.epsilon", "<=", "1"),
        HEAD + rule("a", "privacy.epsilon", "<=", "3") + rule("b", "privacy.epsilon", "!=", "5"),
        HEAD
        + rule("a", "synthesizer.private", "==", "true")
        + rule("b", "quality.gx_success", "==", "true"),
        HEAD
        + rule("a", "fidelity.quality", ">=", "0.7")
        + rule("b", "fidelity.quality", ">=", "0.8", "warn"),
    ],
)
def test_consistent_rules_are_not_flagged(text: str) -> None:
    assert lint_policy_text(text) == []


def test_unknown_metric_suggests_the_close_one() -> None:
    [problem] = lint_policy_text(HEAD + rule("a", "fidelity.qualty", ">=", "0.8"))
    assert "did you mean 'fidelity.quality'" in problem.message


def test_every_known_metric_is_namespaced_and_described() -> None:
    for name, info in known_metrics().items():
        area, _, metric = name.partition(".")
        assert area, name
        assert metric, name
        assert info.description


def test_cli_lint_prints_file_line_and_fails_on_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        HEAD
        + rule("a", "fidelity.quality", ">=", "0.8")
        + rule("b", "fidelity.quality", "<=", "0.5")
    )
    assert main(["policy", "lint", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:9: error: rules[1] ('b') contradicts rule 'a' on line 3" in out
    assert main(["policy", "lint", str(bad), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert [p["line"] for p in data["problems"]] == [9]


def test_cli_lint_warnings_pass_unless_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warn = tmp_path / "warn.yaml"
    warn.write_text(HEAD + rule("a", "privacy.pii_replay", ">=", "0"))
    assert main(["policy", "lint", str(warn)]) == 0
    assert main(["policy", "lint", str(warn), "--strict"]) == 1
    assert "always holds" in capsys.readouterr().out
    assert main(["policy", "lint", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_show_and_list(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "show", "internal-testing", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["auto_approve"] is True
    assert data["required_approvals"] == 1
    assert {r["id"] for r in data["rules"]} >= {
        "no-pii-replay",
        "no-copied-rows",
        "structural-validity",
    }
    assert main(["policy", "show", "strict"]) == 0
    text = capsys.readouterr().out
    assert "privacy.epsilon <= 3" in text
    assert "only differentially private synthesizers" in text
    assert main(["policy", "list"]) == 0
    assert "internal-testing" in capsys.readouterr().out
    assert main(["policy", "show", "nope"]) == 2
    assert "unknown policy pack 'nope'" in capsys.readouterr().err
    assert main(["policy", "metrics", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert "fidelity.quality" in listed
    assert "structural.validity" in listed


_BOMB = "\n".join(
    [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        *(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdef", "bcdefg", strict=True)
        ),
    ]
)


def test_a_pack_with_an_alias_bomb_is_refused_by_lint_and_by_loading(tmp_path: Path) -> None:
    from synthgate.errors import ConfigError
    from synthgate.release import read_policy_file

    path = tmp_path / "bomb.yaml"
    path.write_text(_BOMB, "utf-8")
    (problem,) = lint_policy_text(_BOMB)
    assert "aliases" in problem.message
    with pytest.raises(ConfigError, match="aliases"):
        read_policy_file(path)
