"""A release's report follows its decisions.

Every decision (approve, reject, auto-approve, revoke, expire, publish) is
recorded with the sha256 of the report as it stood when the decision was made
(:func:`report_digest`: ``report_sha256`` of ``report.json``, the source of
truth, and ``report_html_sha256`` of ``report.html``); afterwards the report is
rendered again (:func:`refresh_report`) with the release's status and every
decision, and the rendering it replaces is kept as
``history/report.v<version>.json`` / ``.html`` / ``.pdf`` beside it, so the
report a decision was made on stays available and verifiable
(``synthgate audit verify --report FILE``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from synthgate.audit import AuditLog, EventRecord
from synthgate.errors import SynthgateError
from synthgate.store import Store
from synthgate.store.models import ReleaseRow, UserRow

__all__ = [
    "DECISION_ACTIONS",
    "HISTORY_FOLDER",
    "decisions_referencing",
    "refresh_report",
    "report_digest",
    "report_folder",
    "sha256_of",
]

log = logging.getLogger(__name__)

#: the audit actions that are decisions on a release, shown in its report
DECISION_ACTIONS = (
    "release.approval_recorded",
    "release.approved",
    "release.rejected",
    "release.revoked",
    "release.expired",
    "release.published",
)
#: the status a decision leaves, for events that do not record it
_STATUS_AFTER = {
    "release.revoked": "REVOKED",
    "release.expired": "EXPIRED",
    "release.published": "PUBLISHED",
}
HISTORY_FOLDER = "history"
_RENDERINGS = ("json", "html", "pdf")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def report_folder(release: ReleaseRow) -> Path | None:
    """The folder holding the release's ``report.json``, if it has one."""
    if not release.report_path:
        return None
    folder = Path(release.report_path).parent
    return folder if (folder / "report.json").is_file() else None


def _report_version(folder: Path) -> int | None:
    try:
        data = json.loads((folder / "report.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    release = data.get("release") if isinstance(data, dict) else None
    version = release.get("version", 1) if isinstance(release, dict) else 1
    return version if isinstance(version, int) else None


def report_digest(release: ReleaseRow) -> dict[str, Any]:
    """What a decision's audit event records about the report it was made on.

    The report as it stands now (the latest rendering, which the decider was
    shown): ``report_sha256`` of report.json, ``report_html_sha256`` of
    report.html and ``report_version``, the release version that rendering
    shows. Empty for a release without a report.
    """
    folder = report_folder(release)
    if folder is None:
        return {}
    out: dict[str, Any] = {"report_sha256": sha256_of(folder / "report.json")}
    if (folder / "report.html").is_file():
        out["report_html_sha256"] = sha256_of(folder / "report.html")
    version = _report_version(folder)
    if version is not None:
        out["report_version"] = version
    return out


def _role_of(store: Store, name: str) -> str | None:
    with store.session() as s:
        role = s.scalar(select(UserRow.role).where(UserRow.name == name))
    return str(role) if role else None


def _decision(event: EventRecord) -> dict[str, Any]:
    d = event.details
    comment = d.get("comment") or d.get("reason")
    if event.action == "release.expired":
        comment = f"expired at {d.get('expires_at')}"
    elif event.action == "release.published":
        comment = f"{d.get('rows')} rows written to table {d.get('table')} ({d.get('mode')})"
    role = d.get("actor_role") or ("system" if d.get("auto") or event.actor == "system" else None)
    return {
        "event": event.action,
        "seq": event.seq,
        "actor": event.actor,
        "role": role,
        "at": event.ts,
        "comment": comment,
        "status": d.get("status") or _STATUS_AFTER.get(event.action),
        "version": d.get("version"),
        "report_version": d.get("report_version"),
        "report_sha256": d.get("report_sha256"),
        "report_html_sha256": d.get("report_html_sha256"),
    }


def _decisions(store: Store, release: ReleaseRow) -> dict[str, Any]:
    events = AuditLog(store).events(subject=release.id)
    return {
        "requested_by": {
            "name": release.requested_by,
            "role": _role_of(store, release.requested_by),
        },
        "events": [_decision(ev) for ev in events if ev.action in DECISION_ACTIONS],
    }


def _release_block(release: ReleaseRow, previous: Mapping[str, Any]) -> dict[str, Any]:
    block = {
        **previous,
        "id": release.id,
        "status": release.status,
        "version": release.version,
        "expires_at": release.expires_at,
        "updated_at": release.updated_at,
        "approvals_required": release.approvals_required,
    }
    for key, value in (
        ("closed_by", release.closed_by),
        ("closed_at", release.closed_at),
        ("published_at", release.published_at),
        ("published_by", release.published_by),
        ("published_rows", release.published_rows),
    ):
        if value is not None:
            block[key] = value
    return block


def _archive(folder: Path, version: int) -> None:
    """Keep the current rendering as ``history/report.v<version>.*`` (once per version)."""
    history = folder / HISTORY_FOLDER
    history.mkdir(exist_ok=True)
    for ext in _RENDERINGS:
        current = folder / f"report.{ext}"
        kept = history / f"report.v{version}.{ext}"
        if current.is_file() and not kept.exists():
            tmp = kept.with_name(kept.name + ".tmp")
            shutil.copy2(current, tmp)
            os.replace(tmp, kept)


def _approvals(store: Store, release_id: str) -> int:
    from synthgate.store.models import ApprovalRow

    with store.session() as s:
        rows = s.scalars(select(ApprovalRow.decision).where(ApprovalRow.release_id == release_id))
        return sum(1 for d in rows if d == "approve")


def refresh_report(store: Store, release_id: str) -> Path | None:
    """Render the release's report again with its status and decisions; its folder.

    The rendering it replaces is kept in ``history/``. A PDF is printed when
    Chromium is available (:func:`synthgate.reporting.find_chromium`); without
    it a PDF is made on request, as before. A failure is logged, never raised:
    the decision it follows is recorded already.
    """
    try:
        return _refresh(store, release_id)
    except (OSError, ValueError, SynthgateError) as exc:
        log.warning(
            "the report of release %s was not rendered again: %s", release_id, type(exc).__name__
        )
        return None


def _refresh(store: Store, release_id: str) -> Path | None:
    from synthgate.reporting import find_chromium, write_pdf, write_report

    release = store.get_release(release_id)
    if release is None:
        return None
    folder = report_folder(release)
    if folder is None:
        return None
    data = json.loads((folder / "report.json").read_text("utf-8"))
    if not isinstance(data, dict):
        return None
    previous = data.get("release") if isinstance(data.get("release"), dict) else {}
    shown = previous.get("version", 1) if isinstance(previous, dict) else 1
    _archive(folder, shown if isinstance(shown, int) else 1)
    data["release"] = {
        **_release_block(release, previous or {}),
        "approvals": _approvals(store, release_id),
    }
    data["decisions"] = _decisions(store, release)
    _, html_path = write_report(data, folder)
    pdf = folder / "report.pdf"
    if pdf.is_file():
        pdf.unlink()  # it shows an earlier state (kept in history/); printed again on request
    if find_chromium() is not None:
        found = data.get("run")
        run: dict[str, Any] = found if isinstance(found, dict) else {}
        footer = " · ".join(
            x for x in ("synthgate report", str(run.get("id", "")), release_id) if x
        )
        try:
            write_pdf(html_path, pdf, footer=footer)
        except Exception as exc:  # a browser failure must not undo the decision
            log.warning("the PDF report of release %s was not printed: %s", release_id, exc)
    return folder


def refresh_reports(store: Store, release_ids: Iterable[str]) -> None:
    for release_id in release_ids:
        refresh_report(store, release_id)


def decisions_referencing(store: Store, digest: str) -> list[tuple[EventRecord, str]]:
    """Decision events whose report hash is *digest*, with the key that matched."""
    found = []
    for event in AuditLog(store).events():
        if event.action not in DECISION_ACTIONS:
            continue
        for key in ("report_sha256", "report_html_sha256"):
            if event.details.get(key) == digest:
                found.append((event, key))
                break
    return found
