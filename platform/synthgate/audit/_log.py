from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from synthgate.errors import StoreError, redact
from synthgate.store import Store, utcnow
from synthgate.store.models import AuditEvent

__all__ = ["GENESIS_HASH", "AuditLog", "ChainReport", "EventRecord", "canonical_json"]

GENESIS_HASH = "0" * 64
AUDIT_KEY_ENV = "SYNTHGATE_AUDIT_KEY"
_APPEND_TRIES = 5


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


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


class AuditLog:
    """Appends events to, and verifies, the chain kept in the metadata store.

    Each event's hash is SHA-256 over the previous hash and the canonical JSON
    of the event (seq, time, actor, action, subject, details). With
    ``SYNTHGATE_AUDIT_KEY`` set, it is an HMAC-SHA256 under that key instead, so
    that someone with write access to the database cannot rebuild the chain.
    """

    def __init__(self, store: Store, *, key: bytes | None = None) -> None:
        self.store = store
        env_key = os.environ.get(AUDIT_KEY_ENV)
        self._key = key if key is not None else (env_key.encode() if env_key else None)

    def _digest(self, prev_hash: str, body: str) -> str:
        payload = (prev_hash + body).encode()
        if self._key:
            return hmac.new(self._key, payload, hashlib.sha256).hexdigest()
        return hashlib.sha256(payload).hexdigest()

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

    def append(
        self, *, actor: str, action: str, subject: str, details: Mapping[str, Any] | None = None
    ) -> EventRecord:
        """Append one event. Concurrent writers are serialised by the seq key."""
        detail_json = redact(canonical_json(dict(details or {})))
        for _ in range(_APPEND_TRIES):
            try:
                with self.store.session() as s:
                    last = s.scalar(
                        select(AuditEvent)
                        .order_by(AuditEvent.seq.desc())
                        .limit(1)
                        .with_for_update()
                    )
                    seq = (last.seq + 1) if last else 1
                    prev = last.hash if last else GENESIS_HASH
                    ts = utcnow()
                    digest = self._digest(
                        prev, self._body(seq, ts, actor, action, subject, detail_json)
                    )
                    s.add(
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
                return EventRecord(
                    seq, ts, actor, action, subject, json.loads(detail_json), prev, digest
                )
            except IntegrityError:
                continue  # another writer took this seq; read the new head and retry
        raise StoreError("audit log is busy: could not append an event after several tries")

    def events(
        self, *, since: str | None = None, subject: str | None = None, action: str | None = None
    ) -> Iterator[EventRecord]:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if since:
            query = query.where(AuditEvent.ts >= since)
        if subject:
            query = query.where(AuditEvent.subject == subject)
        if action:
            query = query.where(AuditEvent.action == action)
        with self.store.session() as s:
            rows = list(s.scalars(query))
        for row in rows:
            yield EventRecord(
                row.seq,
                row.ts,
                row.actor,
                row.action,
                row.subject,
                json.loads(row.details),
                row.prev_hash,
                row.hash,
            )

    def verify(self) -> ChainReport:
        """Walk the whole chain; name the first event that does not check out."""
        expected_prev = GENESIS_HASH
        checked = 0
        with self.store.session() as s:
            rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        for expected_seq, row in enumerate(rows, start=1):
            checked += 1
            if row.seq != expected_seq:
                reason = (
                    f"event {expected_seq} is missing (found {row.seq} next)"
                    if row.seq > expected_seq
                    else f"sequence goes back to {row.seq} after {expected_seq - 1}"
                )
                return ChainReport(False, checked, expected_seq, reason)
            if row.prev_hash != expected_prev:
                return ChainReport(
                    False,
                    checked,
                    row.seq,
                    "its previous-hash link does not match the event before",
                )
            try:
                body = self._body(row.seq, row.ts, row.actor, row.action, row.subject, row.details)
            except json.JSONDecodeError:
                return ChainReport(False, checked, row.seq, "its details are not valid JSON")
            if not hmac.compare_digest(self._digest(row.prev_hash, body), row.hash):
                return ChainReport(False, checked, row.seq, "its content does not match its hash")
            expected_prev = row.hash
        return ChainReport(True, checked)
