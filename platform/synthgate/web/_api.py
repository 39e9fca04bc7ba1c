"""The JSON API under ``/api/v1``: the console's reads and actions, for automation.

Callers authenticate with a user's API token (``Authorization: Bearer``) and
name (``X-Synthgate-User``). Every action calls the function in
:mod:`synthgate.release` that the command line calls; the rules (roles,
four-eyes, versions, transitions) are theirs, mapped to 401/403/409 here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from synthgate import release as svc
from synthgate.audit import since_timestamp
from synthgate.release import Permission, ReleaseStatus
from synthgate.web import _queries as q
from synthgate.web._deps import ApiActor, config_of

__all__ = ["router"]


class ErrorOut(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "the request is not valid for this release"),
        (401, "not authenticated"),
        (403, "the user's role or the four-eyes rule forbids it"),
        (404, "no such release or run"),
        (409, "the release changed or is in the wrong state"),
        (422, "the request does not match this schema (one line naming the fields)"),
    )
}

router = APIRouter(prefix="/api/v1", responses=_ERRORS)

ReleaseId = Annotated[str, Path(max_length=64, description="Release id (rel-…).")]
RunId = Annotated[str, Path(max_length=64, description="Run id.")]


class ReleaseOut(BaseModel):
    id: str
    run_id: str
    job: str
    source: str
    status: ReleaseStatus
    version: int
    requested_by: str
    created_at: str
    updated_at: str
    expires_at: str
    policy: str
    approvals_required: int
    rows: int
    target_url: str = Field(description="The target without its password.")
    target_table: str
    target_mode: str
    published_at: str | None
    published_by: str | None
    closed_at: str | None
    closed_by: str | None
    closed_reason: str | None


class DecisionOut(BaseModel):
    approver: str
    decision: str
    comment: str
    at: str
    reviewed_version: int


class BudgetOut(BaseModel):
    source: str
    spent_epsilon: float
    limit_epsilon: float
    remaining_epsilon: float
    runs: int
    policy: str


class VerdictOut(BaseModel):
    area: str
    title: str
    verdict: str = Field(description="pass, warn, fail or not computed, as in the report")
    basis: str = Field(description="gate: a policy rule decided it; else the advisory levels")
    advisory: str | None = Field(default=None, description="The advisory verdict.")


class TableOut(BaseModel):
    name: str
    kind: str = Field(
        description="unit: its rows are the people; private: rows that belong to them "
        "through foreign keys; public: reference data copied as given, no budget."
    )
    rows: int | None = Field(description="Rows released in this table.")
    rows_per_person: int | None = Field(
        description="Most rows of this table one person owns (the caps multiplied); "
        "null for a public table."
    )
    epsilon_alone: float | None = Field(
        description="ε of this table's mechanisms composed on their own; the release's "
        "ε composes every table, so these do not add up to it. Null for a public table."
    )
    unique_key: bool | None = Field(
        description="Whether its key is unique in the synthetic table; null without a key."
    )


class RelationshipOut(BaseModel):
    name: str = Field(description="child -> parent, as the report names it.")
    child: str
    parent: str
    columns: str | None = Field(
        description="The child's foreign key columns, where the report names them (links)."
    )
    link: bool = Field(
        description="A further foreign key between private tables, filled with a row the "
        "tables already hold: it has an integrity and no cap."
    )
    integrity: float | None = Field(
        description="Share of the child's foreign keys that name a released parent row."
    )
    cap: int | None = Field(
        description="Children one parent keeps; null under a public parent or for a link."
    )
    cap_declared: bool | None = Field(
        description="true: declared in the spec (synthesis.caps); false: chosen under DP."
    )
    clipped_rows_estimate: int | None = Field(
        description="DP estimate of the child rows the cap dropped (two significant figures)."
    )
    children_per_parent_tvd: float | None = Field(
        description="Total-variation distance between the real and synthetic counts of "
        "children per parent (counts above the cap at the cap), rounded to two decimals."
    )
    synthetic_max_children: int | None = Field(
        description="The largest number of children of one synthetic parent row."
    )


class QualityOut(BaseModel):
    score: float | None = Field(description="SDMetrics' multi-table quality score (0 to 1).")
    properties: dict[str, float | None] = Field(description="Its score per property.")


class TablesOut(BaseModel):
    unit: str | None = Field(description="The table whose rows are the people.")
    epsilon: float | None = Field(description="ε composed for the person over every table.")
    delta: float | None
    referential_integrity: float | None = Field(
        description="The lowest integrity of any relationship (1.0: no dangling key)."
    )
    quality: QualityOut | None = Field(
        description="SDMetrics' multi-table quality; null where it could not run."
    )
    per_table: list[TableOut] = Field(description="Every table, in publishing order.")
    relationships: list[RelationshipOut]


class ReleaseDetailOut(ReleaseOut):
    gate: list[dict[str, Any]]
    decisions: list[DecisionOut]
    epsilon: float | None = Field(description="ε the release's run spent on its source.")
    budget: BudgetOut
    report_url: str
    verdict: str = Field(description="One line: the blocking rule, or the failing areas.")
    verdicts: list[VerdictOut] = Field(description="The verdict per area.")
    synthesizer: str | None
    tables: TablesOut | None = Field(
        default=None,
        description="A multi-table release's tables and relationships, from its report "
        "(statistics only); null for a one-table release or when the report is not on "
        "this server.",
    )


class ApproveIn(BaseModel):
    comment: str = Field(max_length=4000, description="Why it may be released (required).")
    expected_version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The version you reviewed."
    )


class ReasonIn(BaseModel):
    reason: str = Field(max_length=4000, description="Why (required).")
    expected_version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class PublishIn(BaseModel):
    retry: bool = Field(default=False, description="Take over the claim of a crashed publish.")


class DecisionResultOut(BaseModel):
    release_id: str
    status: ReleaseStatus
    version: int
    approvals: int
    required: int


class PublishOut(BaseModel):
    release_id: str
    status: ReleaseStatus
    table: str
    rows: int
    mode: str
    content_hash: str
    published_at: str


class AuditEventOut(BaseModel):
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class ChainOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None
    head_seq: int | None
    head_hash: str | None
    algorithm: str | None = Field(description="sha256, or hmac-sha256 for a keyed log.")
    first_seq: int = Field(description="The first event checked.")
    last_seq: int = Field(description="The last event checked.")


class StageOut(BaseModel):
    name: str
    status: str
    started_at: str
    finished_at: str | None
    seconds: float | None


class RunOut(BaseModel):
    id: str
    job: str
    source: str
    synthesizer: str
    status: str
    requested_by: str
    started_at: str
    finished_at: str | None
    error: str | None


class RunDetailOut(RunOut):
    stages: list[StageOut]
    epsilon: float | None


class MeOut(BaseModel):
    name: str
    role: str
    permissions: list[str]


def _release(request: Request, release_id: str) -> Any:
    row = config_of(request).store.get_release(release_id)
    if row is None:
        raise HTTPException(404, f"no release {release_id!r}")
    return row


def _read(actor: svc.Actor) -> None:
    svc.require(actor, Permission.READ)


def release_detail(request: Request, release_id: str) -> dict[str, Any]:
    store = config_of(request).store
    row = _release(request, release_id)
    summary = q.release_summaries(store, [row])[row.id]
    facts = q.report_facts(row.report_path)
    multi = facts.multi if facts is not None else None
    return {
        **q.release_dict(row),
        "verdict": summary["line"],
        "verdicts": summary["verdicts"],
        "synthesizer": summary["synthesizer"],
        "gate": q.gate_outcomes(row),
        "decisions": q.decisions(store, release_id),
        "epsilon": q.run_epsilon(store, row.run_id),
        "budget": q.budget_of(store, row.source_key, policy=row.policy).to_dict(),
        "report_url": f"/releases/{release_id}/report",
        "tables": q.tables_view(multi) if multi is not None else None,
    }


@router.get("/me", response_model=MeOut, summary="Who the token belongs to")
def me(actor: ApiActor) -> dict[str, Any]:
    assert actor.role is not None  # api_actor refuses bootstrap actors
    return {
        "name": actor.name,
        "role": actor.role.value,
        "permissions": sorted(p.name.lower() for p in Permission if actor.can(p)),
    }


@router.get("/releases", response_model=list[ReleaseOut], summary="Releases, newest first")
def releases(
    request: Request,
    actor: ApiActor,
    status: ReleaseStatus | None = None,
    source: Annotated[str | None, Query(max_length=512)] = None,
    requester: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    _read(actor)
    rows = q.list_releases(
        config_of(request).store, status=status, source=source, requester=requester, limit=limit
    )
    return [q.release_dict(r) for r in rows]


@router.get("/releases/{release_id}", response_model=ReleaseDetailOut, summary="One release")
def release(request: Request, actor: ApiActor, release_id: ReleaseId) -> dict[str, Any]:
    _read(actor)
    return release_detail(request, release_id)


@router.post(
    "/releases/{release_id}/approve",
    response_model=DecisionResultOut,
    summary="Approve (approvers; never your own release)",
)
def approve(
    request: Request, actor: ApiActor, release_id: ReleaseId, body: ApproveIn
) -> dict[str, Any]:
    _release(request, release_id)
    decision = svc.approve(
        config_of(request).store,
        actor,
        release_id,
        comment=body.comment,
        expected_version=body.expected_version,
    )
    return decision.to_dict()


@router.post(
    "/releases/{release_id}/reject",
    response_model=DecisionResultOut,
    summary="Reject (approvers; final)",
)
def reject(
    request: Request, actor: ApiActor, release_id: ReleaseId, body: ReasonIn
) -> dict[str, Any]:
    _release(request, release_id)
    decision = svc.reject(
        config_of(request).store,
        actor,
        release_id,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return decision.to_dict()


@router.post(
    "/releases/{release_id}/publish",
    response_model=PublishOut,
    summary="Publish an approved release to its target (engineers, admins)",
    responses={502: {"model": ErrorOut, "description": "the target could not be written"}},
)
def publish(
    request: Request, actor: ApiActor, release_id: ReleaseId, body: PublishIn
) -> dict[str, Any]:
    _release(request, release_id)
    result = svc.publish(config_of(request).store, actor, release_id, retry=body.retry)
    return result.to_dict()


@router.post(
    "/releases/{release_id}/revoke",
    response_model=ReleaseOut,
    summary="Revoke (approvers, admins, or the engineer who requested it)",
)
def revoke(
    request: Request, actor: ApiActor, release_id: ReleaseId, body: ReasonIn
) -> dict[str, Any]:
    _release(request, release_id)
    row = svc.revoke(
        config_of(request).store,
        actor,
        release_id,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return q.release_dict(row)


@router.get("/audit", response_model=list[AuditEventOut], summary="Audit events, newest first")
def audit(
    request: Request,
    actor: ApiActor,
    who: Annotated[str | None, Query(alias="actor", max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[
        str | None, Query(max_length=40, description="ISO date/time or an age: 7d, 12h.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[dict[str, Any]]:
    _read(actor)
    start = since_timestamp(since) if since else None
    events = q.audit_events(
        config_of(request).store,
        actor=who,
        action=action,
        subject=subject,
        since=start,
        limit=limit,
    )
    return [e.to_dict() for e in events]


@router.get("/audit/verify", response_model=ChainOut, summary="Verify the audit hash chain")
def audit_verify(request: Request, actor: ApiActor) -> dict[str, Any]:
    _read(actor)
    return q.verify_chain(config_of(request).store).to_dict()


@router.get("/budget", response_model=list[BudgetOut], summary="Privacy budget per source")
def budget(request: Request, actor: ApiActor) -> list[dict[str, Any]]:
    _read(actor)
    return [b.to_dict() for b in q.budgets(config_of(request).store)]


@router.get("/runs", response_model=list[RunOut], summary="Runs, newest first")
def runs(
    request: Request,
    actor: ApiActor,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    _read(actor)
    return [
        q.run_dict(r) for r in q.list_runs(config_of(request).store, status=status, limit=limit)
    ]


@router.get("/runs/{run_id}", response_model=RunDetailOut, summary="One run with stage timings")
def run(request: Request, actor: ApiActor, run_id: RunId) -> dict[str, Any]:
    _read(actor)
    store = config_of(request).store
    row = store.get_run(run_id)
    if row is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return {
        **q.run_dict(row),
        "stages": q.stage_dicts(store.stages(run_id)),
        "epsilon": q.run_epsilon(store, run_id),
    }
