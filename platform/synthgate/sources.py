"""Find the connector for a URL and open sources and sinks through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synthgate.contracts import Connector, Sink, Source
from synthgate.errors import ConfigError, redact
from synthgate.plugins import PluginGroup, load_all

__all__ = ["connector_for", "open_sink", "open_source", "source_key"]


def connector_for(url: str) -> Connector:
    connectors: dict[str, Any] = load_all(PluginGroup.CONNECTORS)
    for name, factory in connectors.items():
        conn: Connector = factory()
        if conn.accepts(url):
            return conn
        del name
    raise ConfigError(
        f"no connector accepts {redact(url)!r}",
        hint="use a SQLAlchemy URL (sqlite:///f.db, postgresql://…, mysql://…) or a path to a "
        ".csv/.parquet file or directory; installed connectors: " + ", ".join(sorted(connectors)),
    )


def open_source(url: str, options: Mapping[str, Any] | None = None) -> Source:
    return connector_for(url).source(url, options=options or {})


def open_sink(url: str, options: Mapping[str, Any] | None = None) -> Sink:
    return connector_for(url).sink(url, options=options or {})


def source_key(url: str, table: str) -> str:
    """Stable, secret-free identity of a source table for the budget ledger."""
    return f"{redact(url)}#{table}"
