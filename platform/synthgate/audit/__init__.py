"""Tamper-evident audit log: an append-only, hash-chained list of events."""

from synthgate.audit._log import (
    AUDIT_KEY_ENV,
    GENESIS_HASH,
    HMAC_SHA256,
    SHA256,
    AuditKeyError,
    AuditLog,
    ChainReport,
    ChainWatch,
    Checkpoint,
    EventRecord,
    RekeyResult,
    canonical_json,
    since_timestamp,
)

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "HMAC_SHA256",
    "SHA256",
    "AuditKeyError",
    "AuditLog",
    "ChainReport",
    "ChainWatch",
    "Checkpoint",
    "EventRecord",
    "RekeyResult",
    "canonical_json",
    "since_timestamp",
]
