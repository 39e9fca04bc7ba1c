from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from tests.conftest import base_spec

from synthgate.audit import AuditLog
from synthgate.cli import main
from synthgate.store import Store

SpecWriter = Callable[[dict[str, Any]], Path]


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err
    return lines[0]


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("synthgate ")
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    for command in ("run", "demo", "inspect", "releases", "audit"):
        assert command in help_text


@pytest.mark.slow
def test_run_end_to_end_holds_release_and_leaks_nothing(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = write_spec(base_spec(demo_db, tmp_path))
    code = main(["run", str(spec), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 4, out
    assert out["status"] == "AWAITING_APPROVAL"
    run_dir = Path(out["run_dir"])
    for stage in (
        "extract",
        "classify",
        "mask",
        "synthesize",
        "sample",
        "validate",
        "gate",
        "report",
    ):
        assert (run_dir / stage).is_dir(), stage

    synthetic = pd.read_parquet(out["synthetic_path"])
    real = pd.read_sql_table("customers", sa.create_engine(f"sqlite:///{demo_db}"))
    assert len(synthetic) == 300
    assert list(synthetic.columns) == list(real.columns)
    for col in ("name", "email", "phone", "ssn", "street_address", "ip_address"):
        assert not set(synthetic[col]) & set(real[col]), f"real {col} replayed"
    assert set(synthetic["plan"]) <= {"free", "pro", "enterprise"}

    # no real identifier anywhere in the run folder or the store
    canaries = [*real["email"].head(50), *real["ssn"].head(50), *real["name"].head(50)]
    blobs = [p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    blobs.append((home / "synthgate.db").read_bytes())
    for canary in canaries:
        assert not any(canary.encode() in b for b in blobs), (
            "a real value leaked into run artifacts"
        )

    report = json.loads(Path(out["report_json"]).read_text())
    assert report["schema_version"] == "1.0"
    assert report["provenance"]["snapshot_id"].startswith("sha256:")
    assert report["privacy"]["spent"]["private"] is False
    entities = {f["column"]: f["entity"] for f in report["pii"]["inventory"]}
    assert entities["email"] == "EMAIL_ADDRESS"
    assert entities["ssn"] == "US_SSN"
    assert "<script" not in Path(out["report_html"]).read_text()

    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    release = store.get_release(out["release_id"])
    assert release is not None
    assert release.status == "AWAITING_APPROVAL"
    assert release.requested_by == "alice"
    assert next(s.name for s in store.stages(out["run_id"])) == "extract"
    log = AuditLog(store)
    assert log.verify().ok
    assert {
        "run.started",
        "pii.classified",
        "gate.evaluated",
        "release.created",
        "run.finished",
    } <= {e.action for e in log.events()}
    assert not (tmp_path / "released.db").exists(), "nothing is published before approval"

    assert main(["releases", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [out["release_id"]]
    assert main(["releases", "show", out["release_id"]]) == 0
    assert "no-pii-replay" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mutate", "code", "message"),
    [
        (
            lambda s, d: s["synthesis"].update(privacy={"epsilon": -1}),
            2,
            "synthesis.privacy.epsilon: must be > 0, got -1",
        ),
        (
            lambda s, d: s["synthesis"].update(synthesizer="magic"),
            2,
            "unknown synthesizer 'magic'; available: dp-ctgan, dp-mst, sdv-ctgan, sdv-gaussian-copula",
        ),
        (lambda s, d: s["source"].update(table="custmers"), 2, "tables there: customers"),
        (lambda s, d: s["source"].update(url=f"sqlite:///{d / 'nope.db'}"), 2, "does not exist"),
        (
            lambda s, d: s["source"].update(url="postgresql://postgres:pw-canary@127.0.0.1:1/x"),
            1,
            "could not open the connection",
        ),
        (
            lambda s, d: s["target"].update(url=f"sqlite:///{d / 'no' / 'dir' / 'x.db'}"),
            2,
            "target directory",
        ),
        (
            lambda s, d: s["validation"].update(target_column="churn"),
            2,
            "validation.target_column: no column 'churn'",
        ),
        (lambda s, d: s.update(release={"policy": "lenient"}), 2, "unknown policy pack 'lenient'"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
    mutate: Callable[[dict[str, Any], Path], None],
    code: int,
    message: str,
) -> None:
    spec = base_spec(demo_db, tmp_path)
    mutate(spec, tmp_path)
    assert main(["run", str(write_spec(spec))]) == code
    err = capsys.readouterr().err
    assert message in err, err
    assert "pw-canary" not in err
    _one_error_line(err)
    assert not (home / "runs").exists(), "a rejected job must not start a run"


def test_missing_and_malformed_spec_files(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    assert main(["run", str(bad)]) == 2
    assert "not valid YAML at line" in _one_error_line(capsys.readouterr().err)
    assert main(["run"]) == 2
    assert "usage error" in capsys.readouterr().err


def test_dry_run_checks_without_writing(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", str(write_spec(base_spec(demo_db, tmp_path))), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert not (home / "runs").exists()


def test_inspect_lists_tables_and_describes_one(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", f"sqlite:///{demo_db}", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["tables"] == ["customers"]
    assert listed["keys"]["customers"]["primary_key"] == ["customer_id"]
    assert listed["foreign_keys"] == []
    assert (
        main(["inspect", f"sqlite:///{demo_db}", "--table", "customers", "--no-pii", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 300
    plan = next(c for c in data["schema"]["columns"] if c["name"] == "plan")
    assert plan["domain"] == ["free", "pro", "enterprise"]
    assert main(["inspect", f"sqlite:///{demo_db}", "--table", "nope"]) == 2


def test_releases_show_unknown_id(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["releases", "show", "rel-missing"]) == 2
    assert "no release 'rel-missing'" in capsys.readouterr().err
