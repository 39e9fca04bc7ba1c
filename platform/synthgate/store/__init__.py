"""The metadata store: runs, stages, releases, audit events, budget ledger.

SQLite under ``$SYNTHGATE_HOME`` by default, PostgreSQL when
``SYNTHGATE_STORE_URL`` points at one. The schema is versioned with Alembic and
upgraded when the store is opened.
"""

from synthgate.store._locks import EXIT_LOCKED, JobLocked, job_lock, process_lock
from synthgate.store._store import Store, utcnow

__all__ = ["EXIT_LOCKED", "JobLocked", "Store", "job_lock", "process_lock", "utcnow"]
