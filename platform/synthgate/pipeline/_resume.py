"""What earlier runs of a job left behind: the facts incremental runs, re-sampling
and resuming decide on. Everything here reads the store; nothing writes.

- a *stale* run is one still marked ``running`` while this process holds the
  job's lock: its process died (``kill -9``, a lost machine) mid-way;
- the *model hash* covers the parts of a spec that shape the trained model
  (source selection, PII handling, synthesizer, privacy, declared columns,
  seed, and the output mode when it is not ``synthetic``) and every
  validation setting (holdout, target column, protected attributes, ...): a
  re-sample costs no budget, so it may not compute statistics of the real rows
  that its model's run did not (a new grouping of the real rows is a new
  query). Sampling parameters (``synthesis.rows``, ``synthesis.rebalance``) and
  gate rules are left out, so a spec that only asks for different rows or a
  different gate can re-use a saved generator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from synthgate.config import JobSpec, OutputMode
from synthgate.store import Store
from synthgate.store.models import BudgetEntry, ReleaseRow, RunRow, StageRow

__all__ = [
    "History",
    "SavedModel",
    "abandoned_runs",
    "budget_charged",
    "load_history",
    "model_hash",
    "release_of",
]


def model_hash(spec: JobSpec, source_key: str, *, pii_rules: Mapping[str, Any]) -> str:
    """sha256 of the spec parts that affect training (see the module doc), with the
    PII section of the policy pack in force (*pii_rules*): a pack edited under the
    same name changes what the model may see."""
    synthesis = spec.synthesis.model_dump(mode="json", exclude={"rows", "rebalance"})
    parts: dict[str, Any] = {
        "source_key": source_key,
        "source": spec.source.model_dump(
            mode="json", include={"table", "columns", "where", "sample_rows"}
        ),
        "pii": spec.pii.model_dump(mode="json"),
        "pii_policy": spec.pii_policy,
        "pii_rules": pii_rules,
        "synthesis": synthesis,
        "holdout": spec.validation.holdout,
        "validation": spec.validation.model_dump(mode="json", exclude={"holdout"}),
    }
    if spec.mode is not OutputMode.SYNTHETIC:
        # a masked copy has no model: its hash never matches a synthetic run's saved
        # generator (synthetic specs hash as before, so their saved models stay usable)
        parts["mode"] = spec.mode.value
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _summary(row: StageRow | None) -> dict[str, Any]:
    if row is None:
        return {}
    try:
        data = json.loads(row.summary or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class SavedModel:
    """A generator saved by a finished ``synthesize`` stage."""

    run_id: str
    folder: Path
    snapshot_id: str | None
    seed: int | None
    model_hash: str | None


@dataclass(frozen=True)
class History:
    stale: RunRow | None
    stale_stages: dict[str, StageRow]
    last_ok: RunRow | None
    last_ok_stages: dict[str, StageRow]

    def seed_of(self, stages: dict[str, StageRow]) -> int | None:
        seed = _summary(stages.get("extract")).get("seed")
        return int(seed) if isinstance(seed, int) else None

    def unchanged(self, stages: dict[str, StageRow], *, model: str, policy: str) -> bool:
        """Whether the run was made under this model hash and release policy content."""
        summary = _summary(stages.get("extract"))
        return summary.get("model_hash") == model and summary.get("policy_hash") == policy

    def snapshot_of(self, stages: dict[str, StageRow]) -> str | None:
        snap = _summary(stages.get("extract")).get("snapshot_id")
        return str(snap) if snap else None

    def saved_model(self, run: RunRow | None, stages: dict[str, StageRow]) -> SavedModel | None:
        row = stages.get("synthesize")
        if run is None or row is None or row.status != "succeeded":
            return None
        folder = Path(run.run_dir) / "synthesize" / "model"
        summary = _summary(row)
        if not folder.is_dir() or not summary.get("saved"):
            return None
        return SavedModel(
            run_id=run.id,
            folder=folder,
            snapshot_id=run.snapshot_id or self.snapshot_of(stages),
            seed=self.seed_of(stages),
            model_hash=summary.get("model_hash"),
        )


def _stages(store: Store, run_id: str) -> dict[str, StageRow]:
    return {row.name: row for row in store.stages(run_id)}


def load_history(store: Store, job: str, spec_hash: str, source_key: str) -> History:
    """The job's stale run with this spec (if any) and its last successful run.

    Call it while holding the job's lock: only then is a ``running`` row stale.
    """
    with store.session() as s:
        stale = s.scalars(
            select(RunRow)
            .where(
                RunRow.job_name == job,
                RunRow.status == "running",
                RunRow.spec_hash == spec_hash,
                RunRow.source_key == source_key,
            )
            .order_by(RunRow.started_at.desc())
            .limit(1)
        ).first()
        last_ok = s.scalars(
            select(RunRow)
            .where(
                RunRow.job_name == job,
                RunRow.status == "succeeded",
                RunRow.source_key == source_key,
            )
            .order_by(RunRow.started_at.desc())
            .limit(1)
        ).first()
    return History(
        stale=stale,
        stale_stages=_stages(store, stale.id) if stale else {},
        last_ok=last_ok,
        last_ok_stages=_stages(store, last_ok.id) if last_ok else {},
    )


def abandoned_runs(store: Store, job: str) -> list[str]:
    """Ids of the job's runs still marked ``running`` (stale under the lock)."""
    with store.session() as s:
        return list(
            s.scalars(select(RunRow.id).where(RunRow.job_name == job, RunRow.status == "running"))
        )


def budget_charged(store: Store, run_id: str) -> bool:
    """Whether the ledger already holds this run's ``total`` line."""
    with store.session() as s:
        found = s.scalars(
            select(BudgetEntry.id)
            .where(BudgetEntry.run_id == run_id, BudgetEntry.stage == "total")
            .limit(1)
        ).first()
    return found is not None


def release_of(store: Store, run_id: str) -> ReleaseRow | None:
    with store.session() as s:
        return s.scalars(select(ReleaseRow).where(ReleaseRow.run_id == run_id)).first()
