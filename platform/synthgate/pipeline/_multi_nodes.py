"""The nodes of a multi-table run, one per stage and table, and the graph they form.

    extract:T → extract → classify:T → mask:T → split → synthesize → budget
        → sample:T → manifest → validate:T → gate → report

``extract:T``, ``classify:T``, ``mask:T`` and ``sample:T`` exist for every
table, ``validate:T`` for every private one. ``extract`` joins the tables'
digests into the run's snapshot (and stops an unchanged run); ``split`` holds
out whole persons; ``synthesize`` runs every DP mechanism of every table (one
accountant composes them into the person's ε, so they are one node);
``budget`` charges that ε on the unit's source once. Nodes from
``synthesize`` on write their outputs as files and can be resumed; the ones
before hold real rows in memory only and run again on a resumed run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthgate.audit import AuditLog
from synthgate.contracts import PrivacySpent, StageSpend, TableSchema
from synthgate.errors import SourceError
from synthgate.pii import ColumnFinding, classify_columns, refill
from synthgate.pipeline import _stages as st
from synthgate.pipeline import _tables as tb
from synthgate.pipeline._graph import Artifacts, Graph, Node, StopGraph
from synthgate.pipeline._resume import budget_charged
from synthgate.privacy import BudgetLedger
from synthgate.release import file_sha256
from synthgate.release._service import TABLES_MANIFEST
from synthgate.reporting import json_safe
from synthgate.store import Store
from synthgate.synth.multitable import MultiTableSynthesis, synthesize_related

if TYPE_CHECKING:
    from synthgate.pipeline._multi import TablesPreflight

__all__ = ["NodeContext", "Unchanged", "spent_of", "tables_graph"]


class Unchanged(StopGraph):
    """The source snapshot and the spec are those of the job's last success."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


@dataclass
class NodeContext:
    """What every node of one run shares: its preflight, seed and records."""

    pre: TablesPreflight
    seed: int
    run_id: str
    user: str
    store: Store
    audit: AuditLog
    ledger: BudgetLedger
    limit: float
    unchanged_since: tuple[str, str] | None = None  # (run id, snapshot id) of the last success
    resumed_snapshot: str | None = None  # the snapshot a resumed run was made from
    reserve: Callable[[], None] | None = None  # the budget, once the snapshot is new

    @property
    def spec_hash(self) -> str:
        return self.pre.loaded.spec_hash

    def index(self, table: str) -> int:
        return list(self.pre.schemas).index(table)


def publish_order(pre: TablesPreflight) -> list[str]:
    """Public tables (parents of private ones only), then private ones from the unit down."""
    private = pre.private
    return [t for t in pre.schemas if t not in private] + private


def spent_of(result: MultiTableSynthesis, table: str | None = None) -> PrivacySpent:
    """The release's guarantee, with each table's ε share as a stage line; for *table*,
    with that table's noise per count instead (what its validation reads)."""
    if table is not None:
        noise = result.ledger["tables"][table].get("noise", [])
        counts = tuple(
            StageSpend(
                stage=str(n["stage"]),
                mechanism=str(n["mechanism"]),
                epsilon=0.0,
                delta=0.0,
                details={"sigma": float(n["sigma"]), "sample_rate": 1.0},
            )
            for n in noise
        )
        whole = spent_of(result)
        return PrivacySpent(True, whole.epsilon, whole.delta, whole.accountant, counts)
    stages = tuple(
        StageSpend(
            stage=f"table:{name}",
            mechanism="dp-mst",
            epsilon=float(part["epsilon_alone"]),
            delta=0.0,
            details={"rows_per_person": part["rows_per_person"], "composed": False},
        )
        for name, part in result.ledger["tables"].items()
    )
    return PrivacySpent(
        True, result.epsilon, result.delta, str(result.ledger["accountant"]), stages
    )


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


# --------------------------------------------------------------------------- real rows


def _extract_node(ctx: NodeContext, table: str) -> Node:
    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        spec = ctx.pre.loaded.spec
        frame, digest = tb.extract_table(ctx.pre.source, spec, table)
        art.put(f"frame:{table}", frame)
        art.put(f"digest:{table}", digest)  # the schemas are written once, by "extract"
        return {"table": table, "rows": len(frame)}

    folder = f"extract/table-{ctx.index(table)}"
    return Node(f"extract:{table}", "extract", folder, run, (), (f"frame:{table}", f"digest:{table}"), table=table)  # fmt: skip


def _snapshot_node(ctx: NodeContext) -> Node:
    tables = list(ctx.pre.schemas)

    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        snapshot = tb.snapshot_of([art[f"digest:{t}"] for t in tables])
        art.put("snapshot", snapshot)
        if ctx.resumed_snapshot is not None and snapshot != ctx.resumed_snapshot:
            raise SourceError(
                "the source tables changed since this run stopped; its synthesis does not "
                "match them",
                hint="rerun with --force to start a new run",
            )
        if ctx.unchanged_since is not None and ctx.unchanged_since[1] == snapshot:
            raise Unchanged(ctx.unchanged_since[0])
        if ctx.reserve is not None:
            ctx.reserve()
        st.write_json(folder / "snapshot.json", {"snapshot_id": snapshot, "tables": tables})
        schemas = {t: ctx.pre.schemas[t].to_dict() for t in tables}
        st.write_json(folder / "schemas.json", schemas)  # what publish writes each table as
        return {
            "snapshot_id": snapshot,
            "seed": ctx.seed,
            "model_hash": ctx.spec_hash,
            "policy_hash": ctx.pre.policy.content_hash,
            "mode": "train",
        }

    inputs = tuple(f"digest:{t}" for t in tables)
    return Node("extract", "extract", "extract", run, inputs, ("snapshot",))


def _classify_node(ctx: NodeContext, table: str) -> Node:
    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        spec = ctx.pre.loaded.spec
        found = classify_columns(
            art[f"frame:{table}"],
            ctx.pre.schemas[table],
            sample_values=spec.pii.sample_values,
            seed=ctx.seed,
            recognizers=ctx.pre.pii_policy.pii.custom_recognizers(),
        )
        art.put(f"findings:{table}", found)
        st.write_json(folder / "inventory.json", [f.to_dict() for f in found])
        entities = {f.column: f.entity for f in found if f.entity}
        ctx.audit.append(
            actor=ctx.user,
            action="pii.classified",
            subject=ctx.run_id,
            details={"tables": {table: entities}},
        )
        return {"table": table}

    folder = f"classify/table-{ctx.index(table)}"
    return Node(f"classify:{table}", "classify", folder, run, (f"frame:{table}", "snapshot"), (f"findings:{table}",), table=table)  # fmt: skip


def _mask_node(ctx: NodeContext, table: str) -> Node:
    keep = tb.keep_columns(ctx.pre.plans, ctx.pre.relationships).get(table, set())

    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        masked = tb.mask_table(
            art[f"frame:{table}"],
            ctx.pre.schemas[table],
            art[f"findings:{table}"],
            ctx.pre.pii_policy,
            keep,
            ctx.pre.pseudonymizer,
            ctx.pre.loaded.spec,
        )
        art.put(f"masked:{table}", masked)
        st.write_json(folder / "plan.json", masked.masked.plan.to_dict())
        return {"table": table}

    folder = f"mask/table-{ctx.index(table)}"
    inputs = (f"frame:{table}", f"findings:{table}")
    return Node(f"mask:{table}", "mask", folder, run, inputs, (f"masked:{table}",), table=table)


def _split_node(ctx: NodeContext) -> Node:
    tables = list(ctx.pre.schemas)

    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        frames = {t: art[f"masked:{t}"].masked.train for t in tables}
        held = tb.person_holdout(
            frames, ctx.pre.plans, ctx.pre.loaded.spec.validation.holdout, ctx.seed
        )
        art.put("held", held)
        counts = {t: {"holdout_rows": int(h.sum()), "rows": len(h)} for t, h in held.items()}
        st.write_json(folder / "split.json", counts)
        return {}

    inputs = tuple(f"masked:{t}" for t in tables)
    return Node("split", "mask", "split", run, inputs, ("held",))


# --------------------------------------------------------------------------- DP


def _synthesize_node(ctx: NodeContext) -> Node:
    tables = list(ctx.pre.schemas)

    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        spec = ctx.pre.loaded.spec
        held = art["held"]
        train = {}
        for t in tables:
            frame = art[f"masked:{t}"].masked.train
            train[t] = (frame[~held[t]] if t in held else frame).reset_index(drop=True)
        result = synthesize_related(
            train,
            unit=spec.source.table,
            relationships=ctx.pre.relationships,
            epsilon=spec.synthesis.privacy.epsilon,
            public=spec.source.public,
            keys=ctx.pre.keys,
            caps=tb.caps_by_table(spec),
            seed=ctx.seed,
            # the holdout share is public: the release is about as large as the whole table
            unit_rows_scale=1.0 / (1.0 - spec.validation.holdout),
            context=spec.synthesis.context,
        )
        _save_synthesis(result, tables, folder)
        art.put("synthesis", result)
        return {"synthesizer": "dp-mst (multi-table)", "saved": True}

    def load(art: Artifacts, folder: Path) -> None:
        art.put("synthesis", _load_synthesis(tables, folder))

    inputs = (*(f"masked:{t}" for t in tables), "held")
    return Node("synthesize", "synthesize", "synthesize", run, inputs, ("synthesis",), load)


def _save_synthesis(result: MultiTableSynthesis, tables: list[str], folder: Path) -> None:
    for index, name in enumerate(tables):
        _write_parquet(result.tables[name], folder / f"table-{index}.parquet")
    st.write_json(folder / "ledger.json", json_safe(result.ledger))
    st.write_json(folder / "checks.json", json_safe(result.checks))
    st.write_json(folder / "result.json", {"epsilon": result.epsilon, "delta": result.delta})


def _load_synthesis(tables: list[str], folder: Path) -> MultiTableSynthesis:
    frames = {
        name: pq.read_table(folder / f"table-{index}.parquet").to_pandas()
        for index, name in enumerate(tables)
    }
    figures = _read_json(folder / "result.json")
    return MultiTableSynthesis(
        frames,
        float(figures["epsilon"]),
        float(figures["delta"]),
        _read_json(folder / "ledger.json"),
        _read_json(folder / "checks.json"),
    )


def _budget_node(ctx: NodeContext) -> Node:
    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        figures = charge(ctx, art["synthesis"])
        st.write_json(folder / "budget.json", figures)
        art.put("budget", figures)
        return {"spent_this_run": figures["spent_this_run"]}

    def load(art: Artifacts, folder: Path) -> None:
        art.put("budget", _read_json(folder / "budget.json"))

    return Node("budget", "synthesize", "budget", run, ("synthesis",), ("budget",), load)


def charge(ctx: NodeContext, result: MultiTableSynthesis) -> dict[str, Any]:
    """Charge the composed ε on the unit's source once (its per-table shares as stage
    lines: they are informational, the total is composed). A resumed run whose dead
    process charged already is not charged again."""
    spent = spent_of(result)
    key, ledger = ctx.pre.source_key, ctx.ledger
    assert spent.epsilon is not None
    assert spent.delta is not None
    if not budget_charged(ctx.store, ctx.run_id):
        ledger.record(
            key,
            ctx.run_id,
            epsilon=spent.epsilon,
            delta=spent.delta,
            accountant=spent.accountant or "rdp",
            stages=spent.stages,
        )
        ledger.release(key, ctx.run_id)
        ctx.audit.append(
            actor=ctx.user,
            action="budget.spent",
            subject=ctx.run_id,
            details={
                "source": key,
                "epsilon": spent.epsilon,
                "delta": spent.delta,
                "accountant": spent.accountant,
                "unit": ctx.pre.loaded.spec.source.table,
            },
        )
    after = ledger.status(key, limit=ctx.limit)
    return {
        "source": key,
        "limit_epsilon": ctx.limit,
        "spent_before": after.spent_epsilon - spent.epsilon,
        "spent_after": after.spent_epsilon,
        "remaining": after.remaining,
        "releases_counted": after.runs,
        "spent_this_run": spent.epsilon,
    }


# --------------------------------------------------------------------------- outputs


def _sample_node(ctx: NodeContext, table: str, index: int) -> Node:
    """Refill the synthetic table's masked columns, scan it for real identifiers,
    write it."""

    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        masked = art[f"masked:{table}"].masked
        released = refill(
            art["synthesis"].tables[table],
            masked.plan,
            ctx.pre.schemas[table],
            seed=ctx.seed,
            avoid=masked.leak,
            pseudonymizer=masked.pseudonymizer,
            generalization=masked.generalization,
        )
        released = released[[c for c in ctx.pre.schemas[table].column_names if c in released]]
        replay = st._replay(released, masked, ctx.seed)
        _write_parquet(released, folder / f"table-{index}.parquet")
        st.write_json(folder / f"table-{index}.replay.json", replay)
        art.put(f"released:{table}", released)
        art.put(f"replay:{table}", replay)
        return {"table": table, "rows": len(released)}

    def load(art: Artifacts, folder: Path) -> None:
        released = pq.read_table(folder / f"table-{index}.parquet").to_pandas()
        art.put(f"released:{table}", released)
        art.put(f"replay:{table}", _read_json(folder / f"table-{index}.replay.json"))

    outputs = (f"released:{table}", f"replay:{table}")
    inputs = ("synthesis", f"masked:{table}", "budget")
    return Node(f"sample:{table}", "sample", "sample", run, inputs, outputs, load, table)


def _manifest_node(ctx: NodeContext) -> Node:
    order = publish_order(ctx.pre)

    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        manifest = []
        for index, name in enumerate(order):
            path = folder / f"table-{index}.parquet"
            rows = len(art[f"released:{name}"])
            manifest.append(
                {"table": name, "file": path.name, "rows": rows, "sha256": file_sha256(path)}
            )
        st.write_json(folder / TABLES_MANIFEST, {"tables": manifest})
        art.put("manifest", folder / TABLES_MANIFEST)
        return {"tables": len(manifest)}

    def load(art: Artifacts, folder: Path) -> None:
        art.put("manifest", folder / TABLES_MANIFEST)

    inputs = tuple(f"released:{t}" for t in order)
    return Node("manifest", "sample", "sample", run, inputs, ("manifest",), load)


def _validate_node(ctx: NodeContext, table: str, index: int) -> Node:
    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        metrics, flat, report = validate_table(ctx, art, table, folder)
        found = {"metrics": [m.to_dict() for m in metrics], "flat": flat, "report": report}
        (folder / "validation.json").write_text(json.dumps(json_safe(found)), "utf-8")
        art.put(f"validation:{table}", found)
        return {"table": table}

    def load(art: Artifacts, folder: Path) -> None:
        art.put(f"validation:{table}", _read_json(folder / "validation.json"))

    inputs = ("synthesis", "held", f"masked:{table}", f"released:{table}", f"replay:{table}")
    folder = f"validate/table-{index}"
    return Node(f"validate:{table}", "validate", folder, run, inputs, (f"validation:{table}",), load, table)  # fmt: skip


def validate_table(
    ctx: NodeContext, art: Artifacts, name: str, folder: Path
) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Every metric family on one private table's modelled columns (keys left out:
    they are regenerated, not learned)."""
    result: MultiTableSynthesis = art["synthesis"]
    table: tb.MaskedTable = art[f"masked:{name}"]
    keys = tb.keep_columns(ctx.pre.plans, ctx.pre.relationships).get(name, set())
    columns = [c for c in table.schema.column_names if c not in keys]
    schema: TableSchema = table.schema.select(columns)
    held = art["held"][name]
    train = table.masked.train
    masked = st.Masked(
        table.masked.plan,
        train[~held][columns].reset_index(drop=True),
        train[held][columns].reset_index(drop=True),
        table.masked.leak,
        table.masked.pseudonymizer,
        table.masked.recognizers,
        table.masked.generalization,
    )
    model = result.tables[name][columns]
    sampled = st.Sampled(model, art[f"released:{name}"], art[f"replay:{name}"], folder)
    return st.validate(masked, sampled, schema, spent_of(result, name), folder, seed=ctx.seed)


def tables_graph(ctx: NodeContext) -> Graph:
    """Every node of a multi-table run (the gate and report follow the graph)."""
    tables = list(ctx.pre.schemas)
    order = publish_order(ctx.pre)
    nodes = [_extract_node(ctx, t) for t in tables]
    nodes.append(_snapshot_node(ctx))
    nodes += [_classify_node(ctx, t) for t in tables]
    nodes += [_mask_node(ctx, t) for t in tables]
    nodes += [_split_node(ctx), _synthesize_node(ctx), _budget_node(ctx)]
    nodes += [_sample_node(ctx, t, order.index(t)) for t in tables]
    nodes.append(_manifest_node(ctx))
    nodes += [_validate_node(ctx, t, i) for i, t in enumerate(ctx.pre.private)]
    return Graph(nodes)


def findings_of(art: Artifacts) -> dict[str, list[ColumnFinding]]:
    return dict(art.matching("findings:"))


def validations_of(art: Artifacts) -> Mapping[str, dict[str, Any]]:
    return dict(art.matching("validation:"))
