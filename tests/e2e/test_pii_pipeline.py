"""PII through the whole pipeline: key checks, pseudonyms, generalization, no leaks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from tests.conftest import base_spec, register_pack

from synthgate.cli import main

SpecWriter = Callable[[dict[str, Any]], Path]
KEY = "pseudonym-key-for-the-e2e-test-0123"

PACK = """\
name: pseudo
pii:
  direct_identifier: pseudonymize
  quasi_identifier: generalize
  free_text: drop
  entities: {GENDER: keep}
  recognizers:
    - entity: CRM_REGION
      class: quasi_identifier
      patterns: [{regex: '^(north|south|east|west)$', score: 0.2}]
      column_names: '^region$'
rules:
  - {id: no-pii-replay, metric: privacy.pii_replay, op: '==', threshold: 0, explain: no replay}
"""


def test_missing_key_stops_before_any_row_is_read(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SYNTHGATE_PSEUDONYM_KEY", raising=False)
    spec = base_spec(demo_db, tmp_path)
    spec["pii"] = {"columns": {"email": "pseudonymize"}}
    assert main(["run", str(write_spec(spec))]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    # preflight's header, then the problem on a line of its own
    assert any("SYNTHGATE_PSEUDONYM_KEY" in ln for ln in lines[:2])
    assert "Traceback" not in err
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "a run was started"


def test_short_key_is_refused_without_printing_it(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MY_KEY", "tiny-k3y")
    spec = base_spec(demo_db, tmp_path)
    spec["pii"] = {"columns": {"email": "pseudonymize"}, "key_env": "MY_KEY"}
    assert main(["run", str(write_spec(spec))]) == 2
    err = capsys.readouterr().err
    assert "too short" in err
    assert "tiny-k3y" not in err


def _run(spec_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["run", str(spec_path), "--json"])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code in (3, 4), out
    return out


@pytest.mark.slow
def test_pseudonymized_and_generalized_release_leaks_nothing(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", KEY)
    pack = tmp_path / "pseudo.yaml"
    pack.write_text(PACK)
    spec = base_spec(demo_db, tmp_path)
    register_pack(pack)
    spec["release"] = {"policy": str(pack)}
    spec["pii"] = {"sample_values": 100, "columns": {"customer_id": "pseudonymize"}}
    first = _run(write_spec(spec), capsys)
    # another run (a changed spec, so it is not skipped as already done), same key
    second = _run(write_spec({**spec, "description": "again"}), capsys)

    real = pd.read_sql_table("customers", sa.create_engine(f"sqlite:///{demo_db}"))
    syn = pd.read_parquet(first["synthetic_path"])
    again = pd.read_parquet(second["synthetic_path"])
    assert list(syn.columns) == list(real.columns)
    for col in ("customer_id", "name", "email", "phone", "ssn", "street_address", "ip_address"):
        assert not set(syn[col]) & set(real[col]), f"real {col} in the release"
        assert syn[col].is_unique, col
        # same key, same row count: the same surrogates in every run
        assert syn[col].tolist() == again[col].tolist(), col
    # quasi-identifiers were generalized before the synthesizer learned them
    # (first day of the month, ten-year bands), keeping the columns' types
    assert (pd.to_datetime(syn["date_of_birth"]).dropna().dt.day == 1).all()
    assert (syn["age"].dropna() % 10 == 0).all()
    assert set(syn["gender"].dropna()) <= set(real["gender"])

    run_dir = Path(first["run_dir"])
    inventory = json.loads((run_dir / "classify" / "inventory.json").read_text())
    assert {f["column"]: f["entity"] for f in inventory}["region"] == "CRM_REGION"
    plan = json.loads((run_dir / "mask" / "plan.json").read_text())
    actions = {a["column"]: a["action"] for a in plan["actions"]}
    assert actions["email"] == "pseudonymize"
    assert actions["customer_id"] == "pseudonymize"
    assert actions["date_of_birth"] == "generalize"
    assert actions["gender"] == "keep"

    report = json.loads(Path(first["report_json"]).read_text())
    replay = next(m for m in report["metrics"] if m["name"] == "privacy.pii_replay")
    assert replay["value"] == 0
    html = Path(first["report_html"]).read_text()
    assert "pseudonymize" in html
    assert "generalize" in html

    # canaries: no real identifier and not the key in any artifact or the store
    canaries = [KEY, *real["email"].head(50), *real["ssn"].head(50), *real["phone"].head(50)]
    blobs = [p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    blobs.append((home / "synthgate.db").read_bytes())
    for canary in canaries:
        assert not any(canary.encode() in b for b in blobs), "a real value or the key leaked"


@pytest.mark.slow
def test_inspect_shows_inventory_and_actions_without_values(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "inspect",
            f"sqlite:///{demo_db}",
            "--table",
            "customers",
            "--sample-values",
            "60",
            "--policy",
            "strict",
            "--json",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    data = json.loads(text)
    assert data["pii_policy"] == "strict"
    rows = {r["column"]: r for r in data["pii"]}
    assert rows["email"]["entity"] == "EMAIL_ADDRESS"
    assert rows["email"]["action"] == "fake"
    assert rows["date_of_birth"]["action"] == "generalize"
    assert {"share", "pii_class", "confidence"} <= set(rows["ssn"])
    real = pd.read_sql_table("customers", sa.create_engine(f"sqlite:///{demo_db}"))
    for value in [*real["email"], *real["ssn"], *real["name"]]:
        assert value not in text
