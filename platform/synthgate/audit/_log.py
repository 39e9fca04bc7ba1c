from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synthgate.errors import ConfigError, StoreError, redact
from synthgate.store import Store, utcnow
from synthgate.store.models import AuditEvent, AuditHead

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "HEAD_ID",
    "HMAC_SHA256",
    "SHA256",
    "AuditKeyError",
    "AuditLog",
    "ChainReport",
    "ChainWatch",
    "Checkpoint",
    "EventRecord",
    "RekeyResult",
    "audit_key_from_env",
    "canonical_json",
    "key_check",
    "seal_head",
    "since_timestamp",
]

GENESIS_HASH = "0" * 64
HEAD_ID = 1
AUDIT_KEY_ENV = "SYNTHGATE_AUDIT_KEY"
SHA256 = "sha256"
HMAC_SHA256 = "hmac-sha256"
MIN_KEY_LENGTH = 16
_APPEND_TRIES = 5
_KEY_CHECK_TEXT = b"synthgate audit key check v1"
_REKEY_HINT = "key the log with: synthgate audit rekey (it needs the current key, if any)"


class AuditKeyError(ConfigError):
    """This process's ``SYNTHGATE_AUDIT_KEY`` does not fit the store's audit log."""


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


def _algorithm(key: bytes | None) -> str:
    return HMAC_SHA256 if key else SHA256


def key_check(key: bytes) -> str:
    """A value that tells whether a process holds a store's key, without revealing the key."""
    return _mac(key, _KEY_CHECK_TEXT)


def seal_head(key: bytes | None, seq: int, digest: str) -> tuple[str, str]:
    """``(algorithm, seal)`` of the chain head *seq*/*digest*.

    With a key the seal is an HMAC: whoever can write the database but does
    not hold the key can neither delete the last events and move the head back,
    nor rebuild the chain.
    """
    payload = canonical_json({"head": {"hash": digest, "seq": seq}}).encode()
    return _algorithm(key), _mac(key, payload)


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


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
class Checkpoint:
    """An event already verified, with its hash: verification can go on from there."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What a verification found. Events *first_seq* to *last_seq* were checked this time."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    algorithm: str | None = None
    first_seq: int = 1
    last_seq: int = 0

    @property
    def checkpoint(self) -> Checkpoint | None:
        if not self.ok or self.head_seq is None or self.head_hash is None:
            return None
        return Checkpoint(self.head_seq, self.head_hash)

    def describe(self) -> str:
        """One line: the algorithm and the range checked, or where and why it broke."""
        algorithm = self.algorithm or "unknown algorithm"
        if not self.ok:
            where = f" at event {self.first_bad_seq}" if self.first_bad_seq is not None else ""
            return f"audit log broken{where} ({algorithm}): {self.reason}"
        if self.checked == 0:
            span = "no new events" if self.first_seq > 1 else "no events yet"
        else:
            span = f"events {self.first_seq} to {self.last_seq} verified"
        head = f"head {self.head_seq} {(self.head_hash or '')[:16]}…"
        return f"audit log intact ({algorithm}): {span}; {head}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "algorithm": self.algorithm,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
        }


@dataclass(frozen=True, slots=True)
class RekeyResult:
    events: int
    from_algorithm: str
    to_algorithm: str
    event: EventRecord


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


_ROW = (
    AuditEvent.seq,
    AuditEvent.ts,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.subject,
    AuditEvent.details,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


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


def _quick_body(seq: int, ts: str, actor: str, action: str, subject: str, details: str) -> str:
    """:func:`_body` for *details* stored in canonical form, as appends store them, without
    parsing and re-serialising them (a third of the time of a full chain walk)."""
    return (
        f'{{"action":{_text(action)},"actor":{_text(actor)},"details":{details},'
        f'"seq":{int(seq)},"subject":{_text(subject)},"ts":{_text(ts)}}}'
    )


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


class AuditLog:
    """Appends events to, and verifies, the chain kept in the metadata store.

    Each event's hash is SHA-256 over the previous hash and the canonical JSON
    of the event (seq, time, actor, action, subject, details) — or an
    HMAC-SHA256 under ``SYNTHGATE_AUDIT_KEY`` when the store's log is keyed, so
    that someone with write access to the database cannot rebuild the chain.

    **One algorithm per store.** The ``audit_head`` row records it, with a check
    value of the key. A process whose key does not fit (none for a keyed log, a
    wrong one, or one for an unkeyed log) refuses to append
    (:class:`AuditKeyError`); an empty log takes the algorithm of its first
    writer, and :meth:`rekey` moves a log to another key.

    The head also holds the last seq and hash, sealed the same way, and moves
    in the same transaction as each append: deleting the newest events
    (truncation) is detected too. Appends are serialised by locking that row.
    """

    _body = staticmethod(_body)  # what each event's hash covers

    def __init__(self, store: Store, *, key: bytes | None = None) -> None:
        self.store = store
        self._key = key if key is not None else audit_key_from_env()

    # ------------------------------------------------------------------ keys

    def _key_problem(self, head: AuditHead) -> str | None:
        """Why this process cannot use its key on the log *head* anchors; None when it can."""
        if head.algorithm == SHA256:
            if self._key:
                return (
                    f"the audit log of this store is not keyed ({SHA256}) but {AUDIT_KEY_ENV} "
                    "is set"
                )
            return None
        if not self._key:
            return f"the audit log of this store is keyed ({HMAC_SHA256}) but {AUDIT_KEY_ENV} is not set"
        if head.key_check is not None:
            if not _same(key_check(self._key), head.key_check):
                return f"{AUDIT_KEY_ENV} is not the key this store's audit log is keyed with"
            return None
        if not _same(seal_head(self._key, head.seq, head.hash)[1], head.seal):
            return (
                f"{AUDIT_KEY_ENV} does not verify this store's audit head: it is not the log's key, "
                "or the head was altered"
            )
        return None

    def _refusal(self, head: AuditHead) -> AuditKeyError | None:
        problem = self._key_problem(head)
        if problem is None:
            return None
        hint = (
            f"unset {AUDIT_KEY_ENV}, or {_REKEY_HINT}"
            if head.algorithm == SHA256
            else f"set {AUDIT_KEY_ENV} to the key every synthgate process of this store uses"
        )
        return AuditKeyError(f"{problem}; nothing was written to the audit log", hint=hint)

    def _writer_key(self, head: AuditHead) -> bytes | None:
        """The key to append with; adopts this process's algorithm while the log is empty."""
        if head.seq == 0 and head.hash == GENESIS_HASH:
            head.algorithm = _algorithm(self._key)
            head.key_check = key_check(self._key) if self._key else None
            return self._key
        refusal = self._refusal(head)
        if refusal is not None:
            raise refusal
        if self._key and head.key_check is None:
            head.key_check = key_check(self._key)  # proven by the seal: remember it
        return self._key

    def check_key(self) -> None:
        """Raise :class:`AuditKeyError` now if this process could not append to the log."""
        with self.store.session() as s:
            head = s.get(AuditHead, HEAD_ID)
        if head is not None and not (head.seq == 0 and head.hash == GENESIS_HASH):
            refusal = self._refusal(head)
            if refusal is not None:
                raise refusal

    # ------------------------------------------------------------------ appending

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
        key = self._writer_key(head)
        seq = head.seq + 1
        prev = head.hash
        ts = utcnow()
        digest = _mac(key, (prev + _body(seq, ts, actor, action, subject, detail_json)).encode())
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
        head.seal = seal_head(key, seq, digest)[1]
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

    # ------------------------------------------------------------------ reading

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

    # ------------------------------------------------------------------ verifying

    def verify(self, *, since: Checkpoint | None = None) -> ChainReport:
        """Check the chain against the head; name the first bad event.

        With *since* (an event verified before, and its hash), only the events
        after it are checked, after making sure that event still has that hash.
        """
        with self.store.session() as s:
            return self._verify_in(s, since or Checkpoint(0, GENESIS_HASH))

    def _verify_in(self, s: Session, start: Checkpoint) -> ChainReport:
        head = s.get(AuditHead, HEAD_ID)
        anchor = (
            s.scalar(select(AuditEvent.hash).where(AuditEvent.seq == start.seq))
            if start.seq
            else GENESIS_HASH
        )
        rows = s.execute(
            select(*_ROW).where(AuditEvent.seq > start.seq).order_by(AuditEvent.seq)
        ).all()
        algorithm = head.algorithm if head is not None else _algorithm(self._key)
        base = _Base(head, algorithm, start.seq + 1)
        if head is not None and head.algorithm == HMAC_SHA256:
            problem = self._key_problem(head)
            if problem is not None:
                return base.broken(None, f"{problem}, so it cannot be verified", 0)
        if anchor != start.hash:
            return base.broken(start.seq, f"event {start.seq} changed since it was verified", 0)
        # an unkeyed log verifies without a key, even when this process has one
        key = self._key if algorithm == HMAC_SHA256 else None
        return _walk(rows, base, start, key)

    def note(self) -> str | None:
        """A remark about this process's key that does not make the log broken."""
        with self.store.session() as s:
            head = s.get(AuditHead, HEAD_ID)
        if head is not None and head.algorithm == SHA256 and self._key:
            return f"{AUDIT_KEY_ENV} is set but this log is not keyed; {_REKEY_HINT}"
        return None

    # ------------------------------------------------------------------ rekeying

    def rekey(self, new_key: bytes, *, actor: str, details: Mapping[str, Any]) -> RekeyResult:
        """Move the whole chain to *new_key* (HMAC-SHA256) and record that as an event.

        The chain must verify with this process's (current) key first. Every
        event's hash is recomputed under the new key, the head is re-sealed and
        an ``audit.rekeyed`` event, itself keyed, records the previous head.
        """
        if len(new_key) < MIN_KEY_LENGTH:
            raise ConfigError(f"the new audit key must be at least {MIN_KEY_LENGTH} characters")
        with self.store.session() as s:
            head = s.scalar(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update())
            report = self._verify_in(s, Checkpoint(0, GENESIS_HASH))
            if head is not None and _same(head.key_check, key_check(new_key)):
                raise ConfigError("the new audit key is the key the log already has")
            if not report.ok or head is None:
                raise ConfigError(
                    f"the audit log is not rekeyed: {report.describe()}",
                    hint="only an intact log is moved to a new key",
                )
            before = head.algorithm
            previous = {"seq": head.seq, "hash": head.hash}
            count = _rehash(s, new_key)
            head.algorithm = HMAC_SHA256
            head.key_check = key_check(new_key)
            head.seal = seal_head(new_key, head.seq, head.hash)[1]
            event = AuditLog(self.store, key=new_key).append_in(
                s,
                actor=actor,
                action="audit.rekeyed",
                subject="audit",
                details={
                    "from": before,
                    "to": HMAC_SHA256,
                    "events": count,
                    "previous_head": previous,
                    **details,
                },
            )
        return RekeyResult(count, before, HMAC_SHA256, event)


@dataclass(frozen=True, slots=True)
class _Base:
    head: AuditHead | None
    algorithm: str
    first_seq: int

    def report(self, ok: bool, checked: int, bad: int | None, reason: str | None) -> ChainReport:
        head = self.head
        return ChainReport(
            ok,
            checked,
            bad,
            reason,
            head.seq if head else None,
            head.hash if head else None,
            self.algorithm,
            self.first_seq,
            self.first_seq + checked - 1,
        )

    def broken(self, bad: int | None, reason: str, checked: int) -> ChainReport:
        return self.report(False, checked, bad, reason)


def _head_problem(head: AuditHead, key: bytes | None) -> bool:
    algorithm, seal = seal_head(key, head.seq, head.hash)
    return head.algorithm != algorithm or not _same(seal, head.seal)


def _walk(rows: Sequence[Any], base: _Base, start: Checkpoint, key: bytes | None) -> ChainReport:
    expected_prev = start.hash
    checked = 0
    for expected_seq, row in enumerate(rows, start=start.seq + 1):
        seq, ts, actor, action, subject, details, prev_hash, digest = row
        checked += 1
        if seq != expected_seq:
            reason = (
                f"event {expected_seq} is missing (found {seq} next)"
                if seq > expected_seq
                else f"sequence goes back to {seq} after {expected_seq - 1}"
            )
            return base.broken(expected_seq, reason, checked)
        if prev_hash != expected_prev:
            return base.broken(
                seq, "its previous-hash link does not match the event before", checked
            )
        quick = _quick_body(seq, ts, actor, action, subject, details)
        if not _same(_mac(key, (prev_hash + quick).encode()), digest):
            try:  # details not stored canonically: hash them as appends did
                body = _body(seq, ts, actor, action, subject, details)
            except json.JSONDecodeError:
                return base.broken(seq, "its details are not valid JSON", checked)
            if not _same(_mac(key, (prev_hash + body).encode()), digest):
                return base.broken(seq, "its content does not match its hash", checked)
        expected_prev = digest
    last_seq = rows[-1][0] if rows else start.seq
    head = base.head
    if head is None:
        return base.broken(last_seq + 1, "the audit head (the chain's anchor) is missing", checked)
    if _head_problem(head, key):
        bad = min(head.seq, last_seq) + 1
        return base.broken(bad, "the audit head's seal does not match its content", checked)
    if head.seq > last_seq:
        first = last_seq + 1
        span = f"event {first}" if first == head.seq else f"events {first} to {head.seq}"
        return base.broken(
            first, f"{span} are missing: the log was cut after event {last_seq}", checked
        )
    if head.seq < last_seq:
        return base.broken(
            head.seq + 1,
            f"events after {head.seq} were added outside synthgate (the head ends there)",
            checked,
        )
    if head.hash != expected_prev:
        return base.broken(last_seq, "the last event's hash does not match the audit head", checked)
    return base.report(True, checked, None, None)


def _rehash(session: Session, key: bytes) -> int:
    """Recompute every event's links and hash under *key*; the number of events."""
    rows = session.execute(select(*_ROW).order_by(AuditEvent.seq)).all()
    prev = GENESIS_HASH
    changes = []
    for seq, ts, actor, action, subject, details, _prev, _hash in rows:
        digest = _mac(key, (prev + _body(seq, ts, actor, action, subject, details)).encode())
        changes.append({"b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    if changes:
        table = cast("Table", AuditEvent.__table__)
        session.connection().execute(
            update(table)
            .where(table.c.seq == bindparam("b_seq"))
            .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
            changes,
        )
    head = session.get_one(AuditHead, HEAD_ID)
    head.hash = prev
    return len(rows)


class ChainWatch:
    """Verifies a store's chain from the last point it verified (the console's audit page).

    The first check, and every check after a failure, walks the whole chain;
    later ones check that the last verified event still has its hash and walk
    only the events after it. :meth:`verify` with ``full=True`` walks it all.
    """

    def __init__(self, store: Store, *, key: bytes | None = None) -> None:
        self._log = AuditLog(store, key=key)
        self._lock = threading.Lock()
        self._checkpoint: Checkpoint | None = None
        self.full_at: str | None = None

    def verify(self, *, full: bool = False) -> ChainReport:
        with self._lock:
            since = None if full else self._checkpoint
            report = self._log.verify(since=since)
            self._checkpoint = report.checkpoint
            if since is None and report.ok:
                self.full_at = utcnow()
            return report


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
