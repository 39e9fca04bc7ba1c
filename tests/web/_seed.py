"""A store with one user per role and releases inserted directly (no pipeline run)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from synthgate.config import load_job_spec
from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.privacy import BudgetLedger
from synthgate.release import (
    Actor,
    ReleaseStatus,
    Role,
    add_user,
    file_sha256,
    set_password,
    target_fingerprint,
)
from synthgate.store import Store, utcnow
from synthgate.store.models import ReleaseRow, RunRow

FUTURE = "2999-01-01T00:00:00.000000Z"
PASSWORD = "correct horse battery staple"
SOURCE = "sqlite:///source.db#customers"
#: user → role; alice requests the releases
USERS = {
    "root": Role.ADMIN,
    "alice": Role.ENGINEER,
    "bob": Role.APPROVER,
    "carol": Role.APPROVER,
    "dave": Role.AUDITOR,
}
SCHEMA = TableSchema(
    "customers",
    (
        ColumnSchema("customer_id", LogicalType.INTEGER, nullable=False, native_type="INTEGER"),
        ColumnSchema("plan", LogicalType.CATEGORICAL, domain=("free", "pro")),
    ),
    primary_key=("customer_id",),
)
#: the advisory verdicts of a release's report unless a test gives others
ADVISORY = {
    "privacy": "pass",
    "fidelity": "pass",
    "structural": "pass",
    "utility": "pass",
    "bias": "fail",
    "quality": "fail",
}
PASSING_GATE: tuple[dict[str, Any], ...] = (
    {
        "rule_id": "fidelity-min",
        "metric": "fidelity.overall",
        "comparator": ">=",
        "threshold": 0.8,
        "observed": 0.91,
        "passed": True,
        "severity": "block",
        "reason": "fidelity.overall 0.91 >= 0.8",
    },
)
BLOCKING_GATE: tuple[dict[str, Any], ...] = (
    {
        "rule_id": "fidelity-quality",
        "metric": "fidelity.quality",
        "comparator": ">=",
        "threshold": 0.75,
        "observed": 0.61,
        "passed": False,
        "severity": "block",
        "reason": "fidelity.quality 0.61 is below 0.75",
    },
)
REPORT = (
    "<!doctype html><html><head><meta charset=utf-8><title>report</title>"
    "<style>h1{color:#333}</style></head><body><h1>synthgate report</h1>"
    "<p id=summary>fidelity 0.91 · ε 2.0</p></body></html>"
)


@dataclass(frozen=True)
class Seeded:
    store: Store
    root: Path
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", "X-Synthgate-User": user}


def build_template(folder: Path) -> dict[str, str]:
    """Users with passwords and tokens in ``folder/store.db``; their tokens."""
    store = Store(f"sqlite:///{folder / 'store.db'}")
    tokens: dict[str, str] = {}
    _, tokens["root"] = add_user(store, Actor("setup", None, False), "root", Role.ADMIN)
    root = Actor("root", Role.ADMIN, True)
    for name, role in USERS.items():
        if name != "root":
            _, tokens[name] = add_user(store, root, name, role)
        set_password(store, root, name, PASSWORD)
    store.dispose()
    return tokens


def copy_template(template: Path, tokens: dict[str, str], folder: Path) -> Seeded:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template / "store.db", folder / "store.db")
    return Seeded(Store(f"sqlite:///{folder / 'store.db'}"), folder, dict(tokens))


def make_release(
    seeded: Seeded,
    release_id: str = "rel-1",
    *,
    status: ReleaseStatus = ReleaseStatus.AWAITING_APPROVAL,
    requested_by: str = "alice",
    required: int = 1,
    epsilon: float | None = 1.5,
    gate: tuple[dict[str, Any], ...] = PASSING_GATE,
    advisory: dict[str, str] | None = None,
    report_status: str | None = None,
) -> ReleaseRow:
    """A run folder as the pipeline leaves it (spec, schema, synthetic table, report) and its
    release. The report's JSON gives *gate*, the *advisory* verdicts (default: ADVISORY) and
    the status it was rendered with (*report_status*, default: the release's)."""
    tmp = seeded.root
    run_id = f"run-{release_id}"
    run_dir = tmp / "runs" / run_id
    for stage in ("sample", "extract", "report"):
        (run_dir / stage).mkdir(parents=True, exist_ok=True)
    artifact = run_dir / "sample" / "synthetic.parquet"
    frame = pd.DataFrame({"customer_id": range(1, 21), "plan": ["free", "pro"] * 10})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), artifact)
    (run_dir / "extract" / "schema.json").write_text(json.dumps(SCHEMA.to_dict()))
    report = run_dir / "report" / "report.html"
    report.write_text(REPORT, "utf-8")
    facts = {
        "release": {"id": release_id, "status": report_status or status.value},
        "gate": {"policy": "default", "outcomes": list(gate)},
        "validation": {
            "areas": {k: {"verdict": v} for k, v in (advisory or ADVISORY).items()},
        },
        "privacy": {
            "spent": {"private": epsilon is not None, "epsilon": epsilon, "delta": 1e-5},
        },
        "provenance": {"synthesizer": "sdv-gaussian-copula"},
    }
    (report.parent / "report.json").write_text(json.dumps(facts), "utf-8")
    table = f"syn_{release_id.replace('-', '_')}"
    spec = {
        "name": "test-job",
        "source": {"url": "sqlite:///source.db", "table": "customers"},
        "target": {
            "url": f"sqlite:///{tmp / 'target.db'}",
            "table": table,
            "mode": "replace",
        },
    }
    spec_path = tmp / f"{release_id}.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    loaded = load_job_spec(spec_path)
    now = utcnow()
    store = seeded.store
    store.create_run(
        RunRow(
            id=run_id,
            job_name="test-job",
            spec_hash=loaded.spec_hash,
            source_key=SOURCE,
            snapshot_id=None,
            synthesizer="sdv-gaussian-copula",
            status="succeeded",
            requested_by=requested_by,
            started_at=now,
            finished_at=now,
            error=None,
            run_dir=str(run_dir),
            spec_path=str(spec_path),
        )
    )
    for i, name in enumerate(("extract", "train", "sample")):
        store.record_stage(
            run_id,
            name,
            status="succeeded",
            started_at=now,
            seconds=0.5 + i,
            artifact=None,
            summary={},
        )
    if epsilon is not None:
        BudgetLedger(store).record(
            SOURCE, run_id, epsilon=epsilon, delta=1e-5, accountant="prv", stages=()
        )
    row = ReleaseRow(
        id=release_id,
        run_id=run_id,
        job_name="test-job",
        source_key=SOURCE,
        status=status.value,
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
        expires_at=FUTURE,
        policy="default",
        target_url="sqlite:///target.db",
        target_table=table,
        target_mode="replace",
        rows=20,
        gate=json.dumps(list(gate)),
        report_path=str(report),
        version=1,
        approvals_required=required,
        artifact_sha256=file_sha256(artifact),
        target_fingerprint=target_fingerprint(
            loaded.spec.target.url, loaded.spec.target_table, "replace"
        ),
    )
    store.add_release(row)
    return row
