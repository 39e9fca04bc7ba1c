"""``synthgate approve | reject | publish | revoke``: thin wrappers over synthgate.release."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from synthgate import release as svc
from synthgate.cli._auth import current_actor
from synthgate.cli._common import err, out, print_json, settings
from synthgate.errors import ReleaseStateError
from synthgate.store import Store

__all__ = ["approve", "publish", "reject", "revoke"]

ReleaseId = Annotated[str, typer.Argument(help="Release id (rel-…).", show_default=False)]
IfVersion = Annotated[
    int | None,
    typer.Option(
        "--if-version",
        min=1,
        help="Fail with a conflict unless the release is still at this version "
        "(the one you reviewed with: synthgate releases show).",
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print_decision(decision: svc.Decision, verb: str) -> None:
    out.print(
        f"{verb} {decision.release_id}: now {decision.status.value} "
        f"({decision.approvals} of {decision.required} approvals, version {decision.version})",
        markup=False,
    )


def approve(
    ctx: typer.Context,
    release_id: ReleaseId,
    comment: Annotated[
        str, typer.Option("--comment", "-m", help="Why you approve (required, recorded).")
    ],
    if_version: IfVersion = None,
    json_out: JsonOut = False,
) -> None:
    """Approve a release AWAITING_APPROVAL. Nobody approves a release they requested.

    A policy may require several distinct approvers; the release becomes
    APPROVED with the last one. Needs the approver or admin role.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    decision = svc.approve(
        store, current_actor(cfg, store), release_id, comment=comment, expected_version=if_version
    )
    if json_out:
        print_json(decision.to_dict())
        return
    _print_decision(decision, "approved")
    if decision.status is svc.ReleaseStatus.APPROVED:
        err.print(f"next: synthgate publish {release_id}", markup=False)


def reject(
    ctx: typer.Context,
    release_id: ReleaseId,
    reason: Annotated[
        str,
        typer.Option("--reason", "--comment", "-m", help="Why you reject (required, recorded)."),
    ],
    if_version: IfVersion = None,
    json_out: JsonOut = False,
) -> None:
    """Reject a release AWAITING_APPROVAL (final). Needs the approver or admin role."""
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    decision = svc.reject(
        store, current_actor(cfg, store), release_id, reason=reason, expected_version=if_version
    )
    if json_out:
        print_json(decision.to_dict())
        return
    _print_decision(decision, "rejected")


def publish(
    ctx: typer.Context,
    release_id: ReleaseId,
    retry: Annotated[
        bool,
        typer.Option(
            "--retry",
            help="Accepted for older scripts: a publish that crashed midway is now taken "
            "over by the next publish on its own (the connector's idempotency key keeps a "
            "write that landed from being repeated).",
        ),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Write an APPROVED release to its target; it becomes PUBLISHED.

    The target's credentials are read again from the run's job spec and the
    environment (as for the run). A PUBLISHED release is never written twice:
    publishing it again writes nothing and exits 0 ("already published"), so a
    scheduler may retry. Anything else not APPROVED is refused. Needs the
    engineer or admin role.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    actor = current_actor(cfg, store)
    svc.require(actor, svc.Permission.PUBLISH)
    env = dict(os.environ)
    env.setdefault("SYNTHGATE_DEMO_DIR", str(cfg.home / "demo"))  # as `synthgate demo` sets it
    result = _published(store, release_id)
    already = result is not None
    if result is None:
        try:
            result = svc.publish(store, actor, release_id, env=env, retry=retry)
        except ReleaseStateError:
            result = _published(store, release_id)  # another publish finished first
            if result is None:
                raise
            already = True
    if json_out:
        print_json({**result.to_dict(), "already_published": already})
        return
    if already:
        out.print(
            f"already published {release_id}: table {result.table} ({result.rows} rows, "
            f"mode {result.mode}) at {result.published_at}; nothing written",
            markup=False,
        )
    else:
        out.print(
            f"published {release_id}: table {result.table} ({result.rows} rows, mode {result.mode})",
            markup=False,
        )
    out.print(f"content sha256 {result.content_hash}", markup=False)


def _published(store: Store, release_id: str) -> svc.PublishResult | None:
    """The earlier publish of a PUBLISHED release, None for a release in any other state."""
    row = svc.get_release(store, release_id)
    if row.status != svc.ReleaseStatus.PUBLISHED.value:
        return None
    return svc.PublishResult(
        release_id=row.id,
        table=row.target_table,
        rows=int(row.published_rows or 0),
        mode=row.target_mode,
        content_hash=row.published_hash or "",
        published_at=row.published_at or "",
    )


def revoke(
    ctx: typer.Context,
    release_id: ReleaseId,
    reason: Annotated[
        str, typer.Option("--reason", "-m", help="Why it is withdrawn (required, recorded).")
    ],
    if_version: IfVersion = None,
    json_out: JsonOut = False,
) -> None:
    """Withdraw a release (AWAITING_APPROVAL, APPROVED or PUBLISHED); final.

    A published table stays in the target until its owner removes it. Needs
    the approver or admin role, or being the engineer who requested it.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    row = svc.revoke(
        store, current_actor(cfg, store), release_id, reason=reason, expected_version=if_version
    )
    if json_out:
        print_json({"release_id": row.id, "status": row.status, "version": row.version})
        return
    out.print(f"revoked {release_id}", markup=False)
    if row.published_at:
        err.print(
            f"the table {row.target_table} is still in the target; remove it there", markup=False
        )
