"""The pipeline: one function per stage, run by :func:`run_job`.

extract → classify → mask → synthesize → sample → validate → gate → report.
Each stage writes its artifact under ``runs/<run-id>/<stage>/`` and is recorded
in the metadata store with its timing. No stage writes real rows to disk.
"""

from synthgate.pipeline._runner import (
    Preflight,
    Progress,
    RunOutcome,
    preflight,
    run_job,
)

__all__ = ["Preflight", "Progress", "RunOutcome", "preflight", "run_job"]
