"""Tamper-evident audit log: an append-only, hash-chained list of events."""

from synthgate.audit._log import (
    AUDIT_KEY_ENV,
    GENESIS_HASH,
    AuditLog,
    ChainReport,
    EventRecord,
    canonical_json,
    since_timestamp,
)

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "AuditLog",
    "ChainReport",
    "EventRecord",
    "canonical_json",
    "since_timestamp",
]
