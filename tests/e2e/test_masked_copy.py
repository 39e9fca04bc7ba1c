"""Masked-copy mode: the real rows with the masking plan applied, labelled as such."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from tests.conftest import base_spec

from synthgate.cli import main
from synthgate.pii import Pseudonymizer
from synthgate.privacy import BudgetLedger
from synthgate.sources import source_key
from synthgate.store import Store

SpecWriter = Callable[[dict[str, Any]], Path]
KEY = "masked-copy-key-for-the-e2e-test-42"
BADGE = "MASKED COPY — real rows, not synthetic, no differential privacy"


def _spec(demo_db: Path, tmp_path: Path, policy: str) -> dict[str, Any]:
    spec = base_spec(demo_db, tmp_path)
    spec["mode"] = "masked-copy"
    spec["synthesis"] = {"seed": 7}  # no synthesizer: only the seed applies
    spec["pii"] = {"sample_values": 100, "columns": {"email": "pseudonymize"}}
    spec["release"] = {"policy": policy}
    return spec


def _run(spec_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["run", str(spec_path), "--json"])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, out


def _real(demo_db: Path) -> pd.DataFrame:
    return pd.read_sql_table("customers", sa.create_engine(f"sqlite:///{demo_db}"))


def test_masked_copy_under_internal_testing_keeps_rows_and_joins_and_leaks_nothing(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", KEY)
    code, out = _run(write_spec(_spec(demo_db, tmp_path, "internal-testing")), capsys)
    assert code == 0, out
    assert out["status"] == "APPROVED"  # internal-testing auto-approves what passes its gate
    assert out["mode"] == "masked-copy"
    assert out["epsilon_spent"] == 0.0
    assert "MASKED COPY" in out["message"]
    assert set(out["warnings"]) == {"masked-copy", "differentially-private"}

    real = _real(demo_db)
    copy = pd.read_parquet(out["synthetic_path"])
    assert len(copy) == len(real) == 300
    assert list(copy.columns) == list(real.columns)
    # the file says what it is
    meta = pq.read_schema(out["synthetic_path"]).metadata
    assert meta[b"synthgate.mode"] == b"masked-copy"

    # keys and pseudonymized identifiers: keyed surrogates of the real values, so a
    # second table masked under the same key joins (the key column is REKEYed)
    pseudo = Pseudonymizer(KEY.encode())
    ids = real["customer_id"].map(lambda v: f"{int(v):018d}")
    expected_ids = pd.to_numeric(pseudo.map(None, ids)).astype("Int64")
    assert copy["customer_id"].tolist() == expected_ids.tolist()
    assert copy["email"].tolist() == pseudo.map("EMAIL_ADDRESS", real["email"]).tolist()
    assert copy["customer_id"].is_unique
    assert not set(copy["customer_id"]) & set(real["customer_id"])
    # a different key gives other surrogates: the key, not the value, decides
    other = Pseudonymizer(b"another-key-of-sixteen-chars")
    assert copy["email"].tolist() != other.map("EMAIL_ADDRESS", real["email"]).tolist()
    # non-PII columns are the real values, row for row
    for col in ("plan", "monthly_spend", "tenure_months", "region", "gender", "churned"):
        assert copy[col].tolist() == real[col].tolist(), col
    # faked direct identifiers: no real value anywhere in the copy
    for col in ("name", "email", "phone", "ssn", "street_address", "ip_address"):
        assert not set(copy[col]) & set(real[col]), f"real {col} in the masked copy"

    report = json.loads(Path(out["report_json"]).read_text())
    assert report["run"]["mode"] == "masked-copy"
    assert report["run"]["output"] == "masked-copy"
    assert report["privacy"]["spent"]["private"] is False
    assert "not differentially private" in report["privacy"]["budget"]["note"]
    replay = next(m for m in report["metrics"] if m["name"] == "privacy.pii_replay")
    assert replay["value"] == 0  # the leak scan ran and found no real identifier
    outcomes = {o["rule_id"]: o for o in report["gate"]["outcomes"]}
    assert outcomes["no-pii-replay"]["passed"] is True
    # copied rows are the point of a masked copy: the pack says the rule is for synthetic data
    copied = outcomes["no-copied-rows"]
    assert copied["passed"] is True
    assert copied["observed"] > 0.5
    assert copied["reason"].startswith("not applicable to a masked-copy release")
    assert outcomes["masked-copy"]["passed"] is False
    assert outcomes["masked-copy"]["severity"] == "warn"
    html = Path(out["report_html"]).read_text()
    summary = html[: html.index('id="provenance"')] if 'id="provenance"' in html else html
    assert BADGE in summary

    # no finite budget charged: the ledger marks the run as a masked copy (ε = ∞),
    # counted apart from the finite sum
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    ledger = BudgetLedger(store)
    status = ledger.status(source_key(f"sqlite:///{demo_db}", "customers"), limit=20)
    assert status.spent_epsilon == 0
    assert status.runs == 0
    assert status.masked_copies == 1
    stages = {s.name: s for s in store.stages(out["run_id"])}
    assert stages["synthesize"].status == "skipped"
    assert not (Path(out["run_dir"]) / "synthesize").exists()

    # canaries: no real identifier and not the key in any artifact or the store
    run_dir = Path(out["run_dir"])
    blobs = [p.read_bytes() for p in run_dir.rglob("*") if p.is_file()]
    blobs.append((home / "synthgate.db").read_bytes())
    canaries = [KEY, *real["email"], *real["ssn"], *real["phone"].head(100)]
    for canary in canaries:
        assert not any(canary.encode() in b for b in blobs), "a real value or the key leaked"


@pytest.mark.parametrize("policy", ["default", "strict"])
def test_default_and_strict_packs_block_a_masked_copy(
    policy: str,
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", KEY)
    code, out = _run(write_spec(_spec(demo_db, tmp_path, policy)), capsys)
    assert code == 3, out
    assert out["status"] == "BLOCKED"
    assert "no-masked-copy" in out["failed_rules"]
    report = json.loads(Path(out["report_json"]).read_text())
    rule = next(o for o in report["gate"]["outcomes"] if o["rule_id"] == "no-masked-copy")
    assert rule["observed"] is True
    assert "not synthetic" in rule["reason"]


def test_default_pack_lets_a_synthetic_run_past_no_masked_copy(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SYNTHGATE_PSEUDONYM_KEY", raising=False)  # synthetic needs no key here
    spec = base_spec(demo_db, tmp_path)
    spec["pii"] = {"sample_values": 100}
    code, out = _run(write_spec(spec), capsys)
    assert code in (3, 4), out
    assert "no-masked-copy" not in out["failed_rules"]
    assert out["mode"] == "train"
    report = json.loads(Path(out["report_json"]).read_text())
    assert report["run"]["output"] == "synthetic"
    rule = next(o for o in report["gate"]["outcomes"] if o["rule_id"] == "no-masked-copy")
    assert rule["passed"] is True
    assert rule["observed"] is False
    assert BADGE not in Path(out["report_html"]).read_text()


def test_masked_copy_without_a_key_stops_before_any_row_is_read(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SYNTHGATE_PSEUDONYM_KEY", raising=False)
    spec = _spec(demo_db, tmp_path, "internal-testing")
    spec["pii"] = {}  # nothing pseudonymized by name: the key columns still need the key
    assert main(["run", str(write_spec(spec))]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    # preflight's header, then one line for the one problem
    problems = [ln for ln in lines if "masked-copy" in ln]
    assert len(problems) == 1
    assert "SYNTHGATE_PSEUDONYM_KEY" in problems[0]
    assert len(lines) <= 2
    assert "Traceback" not in err
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "a run was started"


@pytest.mark.parametrize(
    ("synthesis", "named"),
    [
        ({"seed": 7, "rows": 50}, "synthesis.rows"),
        ({"rebalance": {"column": "gender"}}, "synthesis.rebalance"),
        ({"synthesizer": "sdv-gaussian-copula"}, "synthesis.synthesizer"),
        ({"privacy": {"epsilon": 1.0}}, "synthesis.privacy"),
    ],
)
def test_synthesis_settings_contradict_a_masked_copy(
    synthesis: dict[str, Any],
    named: str,
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", KEY)
    spec = _spec(demo_db, tmp_path, "internal-testing")
    spec["synthesis"] = synthesis
    assert main(["run", str(write_spec(spec))]) == 2
    err = capsys.readouterr().err
    problem = next(ln for ln in err.splitlines() if named in ln)
    assert "mode masked-copy" in problem
    assert "use mode synthetic" in problem
    assert "synthesis.seed" in problem
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "a run was started"


def test_seed_and_mode_synthetic_are_no_contradiction(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter
) -> None:
    from synthgate.config import OutputMode, load_job_spec

    spec = base_spec(demo_db, tmp_path)
    spec["mode"] = "synthetic"
    spec["synthesis"]["rows"] = 50
    assert load_job_spec(write_spec(spec)).spec.mode is OutputMode.SYNTHETIC
    copy = _spec(demo_db, tmp_path, "internal-testing")
    assert load_job_spec(write_spec(copy)).spec.masked_copy


# --------------------------------------------------------------------------- real-looking tables


def _court_table(path: Path, rows: int = 300, *, logins: bool = False) -> pd.DataFrame:
    """A table shaped like COMPAS: lower-case single-word names, case numbers, a row id."""
    from faker import Faker

    fake: Any = Faker("en_US")
    fake.seed_instance(11)
    first = [fake.first_name().lower() for _ in range(rows)]
    last = [fake.last_name().lower() for _ in range(rows)]
    frame = pd.DataFrame(
        {
            "id": [1 + 3 * i + i % 2 for i in range(rows)],
            "name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
            "first": first,
            "last": last,
            "c_case_number": [f"13{(i * 7919) % 999_999:06d}CF10A" for i in range(rows)],
            "sex": [["Male", "Female"][i % 3 % 2] for i in range(rows)],
            "race": [
                ["African-American", "Caucasian", "Hispanic", "Other"][i % 4] for i in range(rows)
            ],
            "priors_count": [i * 7 % 13 for i in range(rows)],
            "decile_score": [1 + i * 3 % 10 for i in range(rows)],
            "two_year_recid": [i * 5 % 3 % 2 for i in range(rows)],
        }
    )
    if logins:
        # unique logins without digits: not code-like, not names: suspected identifiers
        frame["login"] = [
            f"{a[0]}{b}{fake.lexify('???')}" for a, b in zip(first, last, strict=True)
        ]
    frame.to_csv(path, index=False)
    return frame


def _court_spec(csv: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "name": "court-copy",
        "mode": "masked-copy",
        "source": {"url": str(csv), "table": csv.stem},
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "court_copy"},
        "synthesis": {"seed": 7},
        "pii": {"sample_values": 300},
        "validation": {"target_column": "two_year_recid", "protected_attributes": ["sex"]},
        "release": {"policy": "internal-testing"},
    }


def test_masked_copy_of_a_court_table_copies_no_name_or_case_number(
    home: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", KEY)
    csv = tmp_path / "court.csv"
    real = _court_table(csv)
    code, out = _run(write_spec(_court_spec(csv, tmp_path)), capsys)
    assert code == 0, out

    run_dir = Path(out["run_dir"])
    inventory = json.loads((run_dir / "classify" / "inventory.json").read_text())
    entities = {f["column"]: f["entity"] for f in inventory}
    assert entities["first"] == "FIRST_NAME"
    assert entities["last"] == "LAST_NAME"
    assert entities["name"] == "PERSON"
    assert entities["c_case_number"] == "RECORD_ID"
    assert entities["id"] == "RECORD_ID"
    for col in ("priors_count", "decile_score", "race"):
        assert entities[col] is None, col

    copy = pd.read_parquet(out["synthetic_path"])
    for col in ("name", "first", "last", "c_case_number"):
        assert not set(copy[col]) & set(real[col]), f"real {col} in the masked copy"
    assert copy["c_case_number"].str.fullmatch(r"\d{8}[A-Z]{2}\d{2}[A-Z]").all()
    assert copy["first"].str.islower().all()  # first names, written like the real ones
    assert not set(copy["id"]) & set(real["id"])
    assert copy["id"].is_unique
    for col in ("priors_count", "decile_score", "race", "sex"):
        assert copy[col].tolist() == real[col].tolist(), col

    report = json.loads(Path(out["report_json"]).read_text())
    replay = next(m for m in report["metrics"] if m["name"] == "privacy.pii_replay")
    assert replay["value"] == 0
    # no real name anywhere: not in the report (no top-20 list), an artifact or the store
    names = {v for col in ("first", "last") for v in real[col] if len(v) >= 6}
    blobs = [p.read_text("utf-8", "ignore").lower() for p in run_dir.rglob("*.json")]
    blobs += [p.read_text("utf-8", "ignore").lower() for p in run_dir.rglob("*.html")]
    blobs.append(Path(out["report_html"]).read_text().lower())
    for value in names:
        pattern = re.compile(rf"\b{re.escape(value)}\b")
        assert not any(pattern.search(b) for b in blobs), "a real name reached an artifact"


def test_masked_copy_refuses_a_suspected_column_until_the_spec_decides(
    home: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", KEY)
    csv = tmp_path / "court.csv"
    real = _court_table(csv, logins=True)
    spec = _court_spec(csv, tmp_path)
    assert main(["run", str(write_spec(spec))]) == 2
    err = capsys.readouterr().err
    refusal = [ln for ln in err.splitlines() if "masked copy refused" in ln]
    assert len(refusal) == 1, err
    assert "login" in refusal[0]
    assert "pii.columns: {login: fake}" in refusal[0]
    assert "Traceback" not in err
    assert not any(v in err for v in real["login"])

    spec["pii"]["columns"] = {"login": "fake"}
    code, out = _run(write_spec(spec), capsys)
    assert code == 0, out
    copy = pd.read_parquet(out["synthetic_path"])
    assert not set(copy["login"]) & set(real["login"])
