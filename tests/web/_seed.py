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
from synthgate.release._service import tables_fingerprint
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


# --------------------------------------------------------------------------- multi-table

#: publishing order of the CRM release: the public table, then the unit and its descendants
CRM_TABLES = ("products", "customers", "orders", "order_items")
CRM_SOURCE = "sqlite:////data/crm.db#main.customers"
#: cell values of the real and the synthetic CRM tables: none of them may reach a page
REAL_CELLS = ("Ottoline Quarrie", "quarrie@example.org", "Zanzibar-Nord", "sku-Glimmerwick")
SYNTHETIC_CELLS = ("Bartholomew Xylo", "xylo@example.net", "Vexholm-Sud", "sku-Thornquill")
MULTI_GATE: tuple[dict[str, Any], ...] = (
    {
        "table": None,
        "rule_id": "multitable-integrity",
        "metric": "multitable.referential_integrity",
        "comparator": ">=",
        "threshold": 1.0,
        "observed": 1.0,
        "passed": True,
        "severity": "block",
        "reason": "every foreign key of a released table names a released parent row",
    },
    *(
        {
            "table": table,
            "rule_id": "no-copied-rows",
            "metric": "privacy.exact_match_share",
            "comparator": "<=",
            "threshold": 0.05,
            "observed": 0.0,
            "passed": True,
            "severity": "block",
            "reason": "few exact copies",
        }
        for table in CRM_TABLES[1:]
    ),
    {
        "table": "order_items",
        "rule_id": "fidelity",
        "metric": "fidelity.quality",
        "comparator": ">=",
        "threshold": 0.7,
        "observed": 0.421,
        "passed": False,
        "severity": "warn",
        "reason": "fidelity.quality is 0.421, needs >= 0.7: looks like the real table",
    },
)


def multi_table_section() -> dict[str, Any]:
    """The ``multi_table`` section of a CRM release's report, as the pipeline writes it."""
    return {
        "unit": "customers",
        "public": ["products"],
        "rows": {"customers": 630, "order_items": 1777, "orders": 995, "products": 40},
        "referential_integrity": 1.0,
        "unique_keys": {"customers": True, "order_items": True, "orders": True},
        "relationships": {
            "order_items -> orders": {
                "cap": 3,
                "children_per_parent_tvd": 0.19,
                "integrity": 1.0,
                "synthetic_max_children": 3,
            },
            "order_items -> products": {"integrity": 1.0},
            "orders -> customers": {
                "cap": 9,
                "children_per_parent_tvd": 0.31,
                "integrity": 1.0,
                "synthetic_max_children": 4,
            },
        },
        "quality": {
            "score": 0.68,
            "properties": {
                "Column Shapes": 0.76,
                "Column Pair Trends": 1.0,
                "Cardinality": 0.57,
                "Intertable Trends": 0.38,
            },
        },
        "ledger": {
            "unit": "customers",
            "adjacency": "add/remove one unit row with every row below it",
            "epsilon": 2.9999999943732987,
            "delta": 1e-05,
            "accountant": "rdp",
            "tables": {
                "customers": {"epsilon_alone": 1.2128, "rows_per_person": 1, "mechanisms": 22},
                "orders": {"epsilon_alone": 1.4945, "rows_per_person": 9, "mechanisms": 16},
                "order_items": {"epsilon_alone": 1.735, "rows_per_person": 27, "mechanisms": 18},
            },
            "caps": {
                "orders": {"cap": 9, "declared": False, "clipped_rows_estimate": 0},
                "order_items": {"cap": 3, "declared": True, "clipped_rows_estimate": 40},
            },
            "mechanisms": [{"mechanism": "row-count", "sigma": 14.9, "stage": "preprocess"}],
        },
    }


def _crm_frame(table: str, cells: tuple[str, ...], rows: int) -> pd.DataFrame:
    name, email, region, sku = cells
    if table == "products":
        return pd.DataFrame({"product_id": [f"{sku}-{i}" for i in range(rows)], "price": 9.5})
    if table == "customers":
        return pd.DataFrame(
            {"customer_id": range(rows), "name": name, "email": email, "region": region}
        )
    if table == "orders":
        return pd.DataFrame({"order_id": range(rows), "customer_id": 0, "channel": region})
    return pd.DataFrame({"item_id": range(rows), "order_id": 0, "product_id": f"{sku}-0"})


def make_multitable_release(
    seeded: Seeded,
    release_id: str = "rel-mt",
    *,
    status: ReleaseStatus = ReleaseStatus.AWAITING_APPROVAL,
    requested_by: str = "alice",
    gate: tuple[dict[str, Any], ...] = MULTI_GATE,
    section: dict[str, Any] | None = None,
    with_report_json: bool = True,
) -> ReleaseRow:
    """A multi-table release of the CRM as the pipeline leaves it: one parquet file per
    table with ``tables.json``, the real tables beside the run, the report (its
    ``multi_table`` *section*, default :func:`multi_table_section`; *gate* with each
    outcome's table) and the release row, whose target names every table and whose gate
    is the outcomes without their tables, as the store keeps them."""
    tmp = seeded.root
    run_id = f"run-{release_id}"
    run_dir = tmp / "runs" / run_id
    for stage in ("sample", "extract", "report"):
        (run_dir / stage).mkdir(parents=True, exist_ok=True)
    part = multi_table_section() if section is None else section
    counts = {"products": 40, "customers": 630, "orders": 995, "order_items": 1777}
    manifest = []
    real_dir = tmp / "crm-real"
    real_dir.mkdir(exist_ok=True)
    for index, table in enumerate(CRM_TABLES):
        path = run_dir / "sample" / f"table-{index}.parquet"
        frame = _crm_frame(table, SYNTHETIC_CELLS, counts[table])
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        manifest.append(
            {"table": table, "file": path.name, "rows": len(frame), "sha256": file_sha256(path)}
        )
        _crm_frame(table, REAL_CELLS, counts[table]).to_csv(real_dir / f"{table}.csv")
    artifact = run_dir / "sample" / "tables.json"
    artifact.write_text(json.dumps({"tables": manifest}), "utf-8")
    report = run_dir / "report" / "report.html"
    report.write_text(REPORT, "utf-8")
    facts = {
        "release": {"id": release_id, "status": status.value},
        "gate": {"policy": "default", "outcomes": list(gate)},
        "validation": {"tables": {t: {"areas": {}} for t in CRM_TABLES[1:]}},
        "privacy": {"spent": {"private": True, "epsilon": 2.9999999943732987, "delta": 1e-5}},
        "provenance": {"synthesizer": "multitable", "target_tables": list(CRM_TABLES)},
        "multi_table": part,
    }
    if with_report_json:
        (report.parent / "report.json").write_text(json.dumps(facts), "utf-8")
    now = utcnow()
    store = seeded.store
    store.create_run(
        RunRow(
            id=run_id,
            job_name="crm-weekly",
            spec_hash="0" * 64,
            source_key=CRM_SOURCE,
            snapshot_id=None,
            synthesizer="multitable",
            status="succeeded",
            requested_by=requested_by,
            started_at=now,
            finished_at=now,
            error=None,
            run_dir=str(run_dir),
            spec_path=None,
        )
    )
    BudgetLedger(store).record(
        CRM_SOURCE, run_id, epsilon=2.9999999943732987, delta=1e-5, accountant="rdp", stages=()
    )
    row = ReleaseRow(
        id=release_id,
        run_id=run_id,
        job_name="crm-weekly",
        source_key=CRM_SOURCE,
        status=status.value,
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
        expires_at=FUTURE,
        policy="default",
        target_url="sqlite:///released.db",
        target_table=", ".join(CRM_TABLES),
        target_mode="replace",
        rows=sum(counts.values()),
        gate=json.dumps([{k: v for k, v in o.items() if k != "table"} for o in gate]),
        report_path=str(report),
        version=1,
        approvals_required=1,
        artifact_sha256=file_sha256(artifact),
        target_fingerprint=tables_fingerprint(CRM_TABLES, "sqlite:///released.db", "replace"),
    )
    store.add_release(row)
    return row
