"""What every run writes to the store and the audit log as it starts and as its release
is made, one-table or multi-table alike."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthgate.audit import AuditLog
from synthgate.config import LoadedSpec
from synthgate.logs import log_event
from synthgate.release import GateDecision, PolicyPack, ResolvedPolicy
from synthgate.store import Store
from synthgate.store.models import RunRow

__all__ = ["policy_names", "record_release_made", "record_run_started"]


def policy_names(policy: PolicyPack, source: ResolvedPolicy | None) -> dict[str, Any]:
    """The release pack as the gate stage, report and audit name it: its name, and for a
    registered pack its version and the sha256 of the registered file."""
    names: dict[str, Any] = {"policy": policy.name}
    if source is not None and source.version is not None:
        names["policy_version"] = source.version
        names["policy_sha256"] = source.sha256
    return names


def record_run_started(
    store: Store,
    audit: AuditLog,
    loaded: LoadedSpec,
    *,
    run_id: str,
    run_dir: Path,
    source_key: str,
    synthesizer: str,
    user: str,
    started: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """The run's row (status running) and its ``run.started`` event and log line."""
    spec = loaded.spec
    store.create_run(
        RunRow(
            id=run_id,
            job_name=spec.name,
            spec_hash=loaded.spec_hash,
            source_key=source_key,
            snapshot_id=None,
            synthesizer=synthesizer,
            status="running",
            requested_by=user,
            started_at=started,
            finished_at=None,
            error=None,
            run_dir=str(run_dir),
            spec_path=str(loaded.path.resolve()) if loaded.path else None,
        )
    )
    audit.append(
        actor=user,
        action="run.started",
        subject=run_id,
        details={
            "job": spec.name,
            "spec_hash": loaded.spec_hash,
            "source": source_key,
            "synthesizer": synthesizer,
            **(extra or {}),
        },
    )
    log_event("run.started", job=spec.name, run_id=run_id, synthesizer=synthesizer)


def record_release_made(
    audit: AuditLog,
    user: str,
    release_id: str,
    *,
    run_id: str,
    names: Mapping[str, Any],
    decision: GateDecision,
    made: Mapping[str, Any],
) -> None:
    """The ``gate.evaluated`` and ``release.created`` events of a new release; *made*
    adds what was released (rows, or rows per table)."""
    details = {"run": run_id, **names, "status": decision.status.value}
    audit.append(
        actor=user,
        action="gate.evaluated",
        subject=release_id,
        details={
            **details,
            "failed": [o.rule_id for o in decision.outcomes if not o.passed],
            "outcomes": [
                {k: v for k, v in o.to_dict().items() if k != "reason"} for o in decision.outcomes
            ],
        },
    )
    audit.append(
        actor=user, action="release.created", subject=release_id, details={**details, **made}
    )
