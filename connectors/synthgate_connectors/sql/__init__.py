"""SQL databases through SQLAlchemy: SQLite, PostgreSQL (psycopg 3), MySQL/MariaDB."""

from synthgate_connectors.sql._connector import SqlConnector, SqlSink, SqlSource

__all__ = ["SqlConnector", "SqlSink", "SqlSource"]
