"""The pipeline: one function per stage, run by :func:`run_job`.

extract → classify → mask → synthesize → sample → validate → gate → report.
Each stage writes its artifact under ``runs/<run-id>/<stage>/`` and is recorded
in the metadata store with its timing. No stage writes real rows to disk.
:func:`sync_jobs` runs many jobs, each in its own process.
"""

from synthgate.pipeline._runner import (
    EXIT_NOTHING_TO_DO,
    DryRun,
    Preflight,
    Progress,
    RunMode,
    RunOutcome,
    dry_run,
    preflight,
    run_job,
)
from synthgate.store import EXIT_LOCKED, JobLocked, job_lock

__all__ = [
    "EXIT_LOCKED",
    "EXIT_NOTHING_TO_DO",
    "DryRun",
    "JobLocked",
    "Preflight",
    "Progress",
    "RunMode",
    "RunOutcome",
    "dry_run",
    "job_lock",
    "preflight",
    "run_job",
]
