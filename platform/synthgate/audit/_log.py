from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synthgate.errors import ConfigError, StoreError, redact
from synthgate.store import Store, utcnow
from synthgate.store.models import AuditEvent, AuditHead

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "HEAD_ID",
    "AuditLog",
    "ChainReport",
    "EventRecord",
    "audit_key_from_env",
    "canonical_json",
    "seal_head",
    "since_timestamp",
]

GENESIS_HASH = "0" * 64
HEAD_ID = 1
AUDIT_KEY_ENV = "SYNTHGATE_AUDIT_KEY"
_APPEND_TRIES = 5
_SHA256 = "sha256"
_HMAC = "hmac-sha256"


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_key_from_env() -> bytes | None:
    value = os.environ.get(AUDIT_KEY_ENV)
    return value.encode() if value else None


def _mac(key: bytes | None, payload: bytes) -> str:
    if key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


def seal_head(key: bytes | None, seq: int, digest: str) -> tuple[str, str]:
    """``(algorithm, seal)`` of the chain head *seq*/*digest*.

    With a key the seal is an HMAC: whoever can write the database but does
    not hold the key can neither delete the last events and move the head back,
    nor rebuild the chain.
    """
    payload = canonical_json({"head": {"hash": digest, "seq": seq}}).encode()
    return (_HMAC if key else _SHA256), _mac(key, payload)


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
        }


def _record(row: AuditEvent) -> EventRecord:
    return EventRecord(
        row.seq,
        row.ts,
        row.actor,
        row.action,
        row.subject,
        json.loads(row.details),
        row.prev_hash,
        row.hash,
    )


class AuditLog:
    """Appends events to, and verifies, the chain kept in the metadata store.

    Each event's hash is SHA-256 over the previous hash and the canonical JSON
    of the event (seq, time, actor, action, subject, details). With
    ``SYNTHGATE_AUDIT_KEY`` set, it is an HMAC-SHA256 under that key instead, so
    that someone with write access to the database cannot rebuild the chain.

    The ``audit_head`` row holds the last seq and hash, sealed the same way,
    and moves in the same transaction as each append: deleting the newest
    events (truncation) is detected too. Appends are serialised by locking
    that row.
    """

    def __init__(self, store: Store, *, key: bytes | None = None) -> None:
        self.store = store
        self._key = key if key is not None else audit_key_from_env()

    def _digest(self, prev_hash: str, body: str) -> str:
        return _mac(self._key, (prev_hash + body).encode())

    @staticmethod
    def _body(seq: int, ts: str, actor: str, action: str, subject: str, details: str) -> str:
        return canonical_json(
            {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": json.loads(details),
            }
        )

    def append_in(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Append one event inside the caller's transaction (committed with it)."""
        detail_json = redact(canonical_json(dict(details or {})))
        head = session.scalar(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update())
        if head is None:
            raise StoreError(
                "the audit head is missing, so the log may have been tampered with; "
                "nothing more is appended",
                hint="run: synthgate audit verify",
            )
        seq = head.seq + 1
        prev = head.hash
        ts = utcnow()
        digest = self._digest(prev, self._body(seq, ts, actor, action, subject, detail_json))
        session.add(
            AuditEvent(
                seq=seq,
                ts=ts,
                actor=actor,
                action=action,
                subject=subject,
                details=detail_json,
                prev_hash=prev,
                hash=digest,
            )
        )
        head.seq, head.hash = seq, digest
        head.algorithm, head.seal = seal_head(self._key, seq, digest)
        session.flush()
        return EventRecord(seq, ts, actor, action, subject, json.loads(detail_json), prev, digest)

    def append(
        self, *, actor: str, action: str, subject: str, details: Mapping[str, Any] | None = None
    ) -> EventRecord:
        """Append one event in its own transaction."""
        for _ in range(_APPEND_TRIES):
            try:
                with self.store.session() as s:
                    return self.append_in(
                        s, actor=actor, action=action, subject=subject, details=details
                    )
            except IntegrityError:
                continue  # another writer took this seq; read the new head and retry
        raise StoreError("audit log is busy: could not append an event after several tries")

    def events(
        self,
        *,
        since: str | None = None,
        subject: str | None = None,
        subjects: Collection[str] | None = None,
        action: str | None = None,
    ) -> Iterator[EventRecord]:
        """Events oldest first; *subjects* keeps events about any of those ids."""
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if since:
            query = query.where(AuditEvent.ts >= since)
        if subject:
            query = query.where(AuditEvent.subject == subject)
        if subjects is not None:
            query = query.where(AuditEvent.subject.in_(list(subjects)))
        if action:
            query = query.where(AuditEvent.action == action)
        with self.store.session() as s:
            rows = list(s.scalars(query))
        for row in rows:
            yield _record(row)

    def export(self, path: Path, *, since: str | None = None) -> int:
        """Write events as JSON lines (one event per line, for a SIEM); returns the count.

        The file is written next to *path* and renamed into place, so a reader
        never sees half an export.
        """
        tmp = path.with_name(f".{path.name}.tmp")
        count = 0
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                for event in self.events(since=since):
                    fh.write(json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False))
                    fh.write("\n")
                    count += 1
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ConfigError(
                f"cannot write the audit export {path}: {exc.strerror}",
                hint="check that the folder exists and is writable",
            ) from None
        return count

    def verify(self) -> ChainReport:
        """Walk the whole chain and check it against the head; name the first bad event."""
        expected_prev = GENESIS_HASH
        checked = 0
        with self.store.session() as s:
            rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
            head = s.get(AuditHead, HEAD_ID)
        head_seq = head.seq if head else None
        head_hash = head.hash if head else None

        def broken(seq: int, reason: str) -> ChainReport:
            return ChainReport(False, checked, seq, reason, head_seq, head_hash)

        for expected_seq, row in enumerate(rows, start=1):
            checked += 1
            if row.seq != expected_seq:
                reason = (
                    f"event {expected_seq} is missing (found {row.seq} next)"
                    if row.seq > expected_seq
                    else f"sequence goes back to {row.seq} after {expected_seq - 1}"
                )
                return broken(expected_seq, reason)
            if row.prev_hash != expected_prev:
                return broken(row.seq, "its previous-hash link does not match the event before")
            try:
                body = self._body(row.seq, row.ts, row.actor, row.action, row.subject, row.details)
            except json.JSONDecodeError:
                return broken(row.seq, "its details are not valid JSON")
            if not hmac.compare_digest(self._digest(row.prev_hash, body), row.hash):
                return broken(row.seq, "its content does not match its hash" + self._key_hint(head))
            expected_prev = row.hash
        last_seq = rows[-1].seq if rows else 0
        if head is None:
            return broken(last_seq + 1, "the audit head (the chain's anchor) is missing")
        algorithm, seal = seal_head(self._key, head.seq, head.hash)
        if head.algorithm != algorithm or not hmac.compare_digest(seal, head.seal):
            return broken(
                min(head.seq, last_seq) + 1,
                "the audit head's seal does not match its content" + self._key_hint(head),
            )
        if head.seq > last_seq:
            first = last_seq + 1
            span = f"event {first}" if first == head.seq else f"events {first} to {head.seq}"
            return broken(first, f"{span} are missing: the log was cut after event {last_seq}")
        if head.seq < last_seq:
            return broken(
                head.seq + 1,
                f"events after {head.seq} were added outside synthgate (the head ends there)",
            )
        if head.hash != expected_prev:
            return broken(last_seq, "the last event's hash does not match the audit head")
        return ChainReport(True, checked, None, None, head_seq, head_hash)

    def _key_hint(self, head: AuditHead | None) -> str:
        if head is not None and head.algorithm == _HMAC and not self._key:
            return f" (the log is keyed: set {AUDIT_KEY_ENV} to verify it)"
        return ""


_RELATIVE = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[mhdw])\s*$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_timestamp(text: str, *, now: datetime | None = None) -> str:
    """``--since`` as the store writes times: an ISO date or time, or an age (``7d``, ``12h``)."""
    match = _RELATIVE.match(text)
    if match:
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNIT[match["unit"]]: int(match["n"])})
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"--since {text!r} is not a time",
                hint="use an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z) or an age "
                "such as 30m, 12h, 7d, 2w",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
