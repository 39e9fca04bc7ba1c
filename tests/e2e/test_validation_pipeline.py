"""Validation through the whole pipeline, with synthesizers that misbehave on purpose.

The test synthesizers are registered for these tests only, by patching the
entry-point lookup of :mod:`synthgate.plugins` (the package declares none):
``test-copy`` returns the training rows, ``test-noise`` returns independent
noise, ``test-biased`` is the Gaussian copula with one group's outcome erased.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from tests.conftest import base_spec, register_pack

from synthgate import plugins
from synthgate.cli import main
from synthgate.contracts import FitResult, LogicalType, PrivacyRequest, PrivacySpent, TableSchema
from synthgate.plugins import PluginGroup
from synthgate.synth.frames import to_schema_frame
from synthgate.synth.sdv_baselines import GaussianCopulaSynthesizer

NOT_PRIVATE = PrivacySpent(private=False, epsilon=None, delta=None, accountant=None)

POLICY = {
    "name": "validation-e2e",
    "rules": [
        {
            "id": "no-pii-replay",
            "metric": "privacy.pii_replay",
            "op": "==",
            "threshold": 0,
            "explain": "no real identifier may be replayed",
        },
        {
            "id": "no-copied-rows",
            "metric": "privacy.exact_match_share",
            "op": "<=",
            "threshold": 0.01,
            "explain": "at most 1% copied rows",
        },
        {
            "id": "membership",
            "metric": "privacy.mia_auc",
            "op": "<=",
            "threshold": 0.6,
            "explain": "membership must not be inferable",
        },
        {
            "id": "fidelity",
            "metric": "fidelity.quality",
            "op": ">=",
            "threshold": 0.7,
            "explain": "columns keep their distributions",
        },
        {
            "id": "no-amplified-bias",
            "metric": "bias.amplified_attributes",
            "op": "==",
            "threshold": 0,
            "explain": "the synthetic table must not amplify a bias",
        },
        {
            "id": "data-quality",
            "metric": "quality.gx_success",
            "op": "==",
            "threshold": True,
            "severity": "warn",
            "explain": "the release meets its expectation suite",
        },
    ],
}


AGE_RANGE = {
    "type": "expect_column_values_to_be_between",
    "kwargs": {"column": "age", "min_value": 0, "max_value": 120},
    "meta": {"notes": "ages are plausible"},
}


class _Base:
    private: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.data = pd.DataFrame()
        self.schema: TableSchema | None = None

    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        **_: Any,
    ) -> FitResult:
        self.data, self.schema = data.reset_index(drop=True), schema
        return FitResult(seconds=0.0, params={}, privacy=NOT_PRIVATE)

    def privacy_spent(self) -> PrivacySpent:
        return NOT_PRIVATE

    def save(self, folder: Path) -> list[Path]:
        return []


class CopySynthesizer(_Base):
    """Presents the training rows as synthetic (repeated to fill *n*)."""

    name: ClassVar[str] = "test-copy"

    def sample(self, n: int, **_: Any) -> pd.DataFrame:
        return self.data.iloc[np.arange(n) % len(self.data)].reset_index(drop=True)


class NoiseSynthesizer(_Base):
    """Independent uniform noise in every column; categories from the declared domain."""

    name: ClassVar[str] = "test-noise"

    def sample(self, n: int, **_: Any) -> pd.DataFrame:
        assert self.schema is not None
        rng = np.random.default_rng(3)
        out: dict[str, Any] = {}
        for col in self.schema.columns:
            if col.type.is_temporal:
                out[col.name] = pd.Timestamp("1900-01-01") + pd.to_timedelta(
                    rng.integers(0, 70_000, n), unit="D"
                )
            elif col.type.is_numeric:
                out[col.name] = rng.uniform(-1000, 1000, n)
            elif col.type is LogicalType.BOOLEAN:
                out[col.name] = rng.random(n) < 0.5
            else:
                values = list(col.domain or ("u", "v", "w"))
                out[col.name] = rng.choice(values, n)
        return to_schema_frame(pd.DataFrame(out), self.schema)


class BiasedSynthesizer(GaussianCopulaSynthesizer):
    """A reasonable synthesizer whose output never lets women churn."""

    name: ClassVar[str] = "test-biased"

    def sample(self, n: int, **kwargs: Any) -> pd.DataFrame:
        out = super().sample(n)
        out.loc[out["gender"] == "female", "churned"] = False
        return out


class _EntryPoint:
    def __init__(self, name: str, obj: type) -> None:
        self.name = name
        self.obj = obj

    def load(self) -> type:
        return self.obj


TEST_SYNTHESIZERS: dict[str, type] = {
    c.name: c for c in (CopySynthesizer, NoiseSynthesizer, BiasedSynthesizer)
}


@contextlib.contextmanager
def registered_synthesizers(mp: pytest.MonkeyPatch) -> Iterator[None]:
    real = plugins._entry_points

    def patched(group: PluginGroup) -> Mapping[str, Any]:
        eps: dict[str, Any] = dict(real(group))
        if group is PluginGroup.SYNTHESIZERS:
            eps.update({n: _EntryPoint(n, c) for n, c in TEST_SYNTHESIZERS.items()})
        return eps

    mp.setattr(plugins, "_entry_points", patched)
    yield


def run_cli(argv: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return code, buffer.getvalue()


@pytest.fixture(scope="module")
def runs(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One pipeline run per test synthesizer, under the e2e policy."""
    base = tmp_path_factory.mktemp("validation-e2e")
    policy = base / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), "utf-8")
    results: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHGATE_HOME", str(base / "home"))
        mp.delenv("SYNTHGATE_STORE_URL", raising=False)
        mp.setenv("SYNTHGATE_USER", "alice")
        register_pack(policy)
        with registered_synthesizers(mp):
            for name in TEST_SYNTHESIZERS:
                spec = base_spec(demo_db, base)
                spec["name"] = f"e2e-{name}"
                spec["synthesis"]["synthesizer"] = name
                spec["release"] = {"policy": str(policy)}
                spec["validation"]["expectations"] = [AGE_RANGE]
                spec["pii"] = {"sample_values": 40}  # PII detection is not under test here
                path = base / f"{name}.yaml"
                path.write_text(yaml.safe_dump(spec), "utf-8")
                code, out = run_cli(["run", str(path), "--json"])
                outcome = json.loads(out)
                report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
                results[name] = {
                    "code": code,
                    "outcome": outcome,
                    "report": report,
                    "flat": json.loads(
                        (Path(outcome["run_dir"]) / "validate" / "metrics.json").read_text()
                    )["flat"],
                    "html": Path(outcome["report_html"]).read_text("utf-8"),
                }
            yield results


def _summary_row(html: str, area: str) -> str:
    summary = html.split('<section id="summary">')[1].split("</section>", maxsplit=1)[0]
    return summary.split(f'href="#{area}"')[1].split("</tr>")[0]


def test_a_copy_of_the_training_data_fails_the_privacy_section(runs: dict[str, Any]) -> None:
    r = runs["test-copy"]
    assert r["code"] == 3
    assert r["outcome"]["status"] == "BLOCKED"
    assert {"no-copied-rows", "membership"} <= set(r["outcome"]["failed_rules"])
    flat = r["flat"]
    assert flat["privacy.exact_match_share"] == 1.0
    assert flat["privacy.mia_auc"] > 0.8
    # only a quarter of the training rows face an equally large holdout sample (80/20 split)
    assert flat["privacy.dcr_share"] > 0.55
    assert flat["privacy.nndr"] < 0.1
    assert r["report"]["validation"]["areas"]["privacy"]["verdict"] == "fail"
    assert 'class="pill fail">fail</span>' in _summary_row(r["html"], "privacy")
    # the fidelity of a copy is perfect: the privacy section is what stops it
    assert 'class="pill pass">pass</span>' in _summary_row(r["html"], "fidelity")


def test_independent_noise_fails_the_fidelity_section(runs: dict[str, Any]) -> None:
    r = runs["test-noise"]
    assert r["code"] == 3
    assert "fidelity" in r["outcome"]["failed_rules"]
    assert r["flat"]["fidelity.quality"] < 0.7
    assert r["flat"]["utility.tstr_ratio"] < 0.9
    assert 'class="pill fail">fail</span>' in _summary_row(r["html"], "fidelity")
    assert r["flat"]["privacy.exact_match_share"] == 0.0


def test_a_biased_synthesizer_is_flagged_and_blocked(runs: dict[str, Any]) -> None:
    r = runs["test-biased"]
    assert r["code"] == 3
    assert r["outcome"]["failed_rules"] == ["no-amplified-bias"]
    assert r["flat"]["bias.amplified_attributes"] == 1
    bias = next(m for m in r["report"]["metrics"] if m["name"] == "bias.max_share_gap")
    gender = bias["details"]["attributes"][0]
    assert gender["attribute"] == "gender"
    assert "outcome gap between groups grew" in gender["flags"]
    assert 'class="pill fail">fail</span>' in _summary_row(r["html"], "bias")


def test_release_quality_is_checked_and_stored(runs: dict[str, Any]) -> None:
    for name, r in runs.items():
        folder = Path(r["outcome"]["run_dir"]) / "validate"
        suite = json.loads((folder / "gx_suite.json").read_text())
        results = json.loads((folder / "gx_results.json").read_text())
        assert results["statistics"]["evaluated_expectations"] == len(suite["expectations"])
        kinds = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
        assert ("expect_column_values_to_be_unique", "customer_id") in kinds, name
        assert ("expect_column_values_to_be_in_set", "plan") in kinds, name
        declared = [e for e in suite["expectations"] if e["meta"]["source"] == "job spec"]
        assert [(e["type"], e["kwargs"]["column"]) for e in declared] == [
            ("expect_column_values_to_be_between", "age")
        ]
    assert runs["test-copy"]["flat"]["quality.gx_success"] is True
    noise = runs["test-noise"]
    assert noise["flat"]["quality.gx_success"] is False  # ages from -1000 to 1000
    assert "data-quality" in noise["outcome"]["warnings"]
    quality = noise["html"].split('<section id="quality">')[1].split("</section>")[0]
    assert "ages are plausible" in quality


def test_no_real_value_reaches_a_report_or_run_artifact(
    runs: dict[str, Any], demo_db: Path
) -> None:
    real = pd.read_sql_table("customers", sa.create_engine(f"sqlite:///{demo_db}"))
    canaries = [
        *real["email"].head(20),
        *real["name"].head(20),
        f"{real['monthly_spend'].max():.2f}",  # the biggest spender's exact spend
    ]
    for name, r in runs.items():
        run_dir = Path(r["outcome"]["run_dir"])
        for path in run_dir.rglob("*"):
            if path.is_file() and path.suffix != ".parquet" and path.parent.name != "model":
                text = path.read_text("utf-8", errors="ignore")
                for canary in canaries:
                    assert canary not in text, f"{name}: {path.name} holds a real value"
