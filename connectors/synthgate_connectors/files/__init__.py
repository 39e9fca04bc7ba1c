"""CSV and Parquet files: a single file, or a directory with one file per table."""

from synthgate_connectors.files._connector import FileConnector, FileSink, FileSource

__all__ = ["FileConnector", "FileSink", "FileSource"]
