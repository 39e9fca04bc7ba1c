"""Tamper-evident audit log: an append-only, hash-chained list of events."""

from synthgate.audit._log import (
    GENESIS_HASH,
    AuditLog,
    ChainReport,
    EventRecord,
    canonical_json,
)

__all__ = ["GENESIS_HASH", "AuditLog", "ChainReport", "EventRecord", "canonical_json"]
