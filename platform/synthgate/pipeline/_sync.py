"""``synthgate sync``: many jobs, a few at a time, each in its own process.

Each job runs as ``python -m synthgate.cli run SPEC --json`` in a child
process. A process per job isolates what a job can break (a crash, a kill by
the out-of-memory killer, torch's global thread pools and random state) and
lets jobs use separate CPU cores; the child's JSON outcome on stdout is the
only channel back, and its logs go straight to this process's stderr.

A job that fails with a *transient* error (the error says so in its JSON, or
the process died from a signal) is started again after a backoff, at most
``retries`` more times; a resumed run continues from its finished stages.
Terminal failures fail that job only; the others go on.

The sync's exit code is its worst job's, ranked (worst first)::

    1 error > 5 budget exhausted > 2 config error > 3 blocked > 4 awaiting approval
      > 75 running elsewhere > 0 ok > 99 nothing to do

so a sync in which every job had nothing to do exits 99, and one in which some
jobs ran and the rest had nothing to do exits 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthgate.config import load_job_spec
from synthgate.errors import ConfigError, SynthgateError, redact
from synthgate.logs import log_event
from synthgate.pipeline._runner import EXIT_NOTHING_TO_DO
from synthgate.store import EXIT_LOCKED

__all__ = [
    "EXIT_RANK",
    "JobResult",
    "SyncOptions",
    "SyncResult",
    "collect_specs",
    "status_label",
    "sync_jobs",
    "worst_exit",
]

# worst first; a code not listed ranks as an error
EXIT_RANK: tuple[int, ...] = (1, 5, 2, 3, 4, EXIT_LOCKED, 0, EXIT_NOTHING_TO_DO)

_LABELS = {
    0: "ok",
    1: "error",
    2: "config error",
    3: "blocked",
    4: "awaiting approval",
    5: "budget exhausted",
    EXIT_LOCKED: "running elsewhere",
    EXIT_NOTHING_TO_DO: "nothing to do",
}


def status_label(code: int) -> str:
    return _LABELS.get(code, "error")


def _rank(code: int) -> int:
    return EXIT_RANK.index(code) if code in EXIT_RANK else 0


def worst_exit(codes: Sequence[int]) -> int:
    """The exit code of a sync whose jobs ended with *codes* (see the module doc)."""
    if not codes:
        raise ValueError("no job outcomes")
    code = min(codes, key=_rank)
    return code if code in EXIT_RANK else 1


def collect_specs(paths: Sequence[Path]) -> list[Path]:
    """Job spec files named directly or found (``*.yaml``, ``*.yml``) in folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".yaml", ".yml"})
            )
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"job spec {path} does not exist", hint="check the path")
    if not found:
        raise ConfigError(
            f"no job specs (*.yaml, *.yml) in {', '.join(str(p) for p in paths)}",
            hint="name job spec files or a folder that holds them",
        )
    return list(dict.fromkeys(p.resolve() for p in found))


@dataclass(frozen=True)
class SyncOptions:
    jobs: int = 1
    retries: int = 2
    retry_delay: float = 5.0  # seconds before the first retry; doubles each time
    max_retry_delay: float = 300.0
    force: bool = False
    home: Path | None = None
    command: tuple[str, ...] = (sys.executable, "-m", "synthgate.cli")


@dataclass
class JobResult:
    spec: str
    job: str | None
    exit_code: int
    status: str
    attempts: int = 0
    seconds: float = 0.0
    run_id: str | None = None
    release_id: str | None = None
    release_status: str | None = None
    mode: str | None = None
    rows: int | None = None
    epsilon_spent: float | None = None
    message: str | None = None
    problems: list[str] = field(default_factory=list)  # every problem of a failed job

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncResult:
    jobs: list[JobResult]
    seconds: float
    exit_code: int = field(init=False)

    def __post_init__(self) -> None:
        self.exit_code = worst_exit([j.exit_code for j in self.jobs])

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "status": status_label(self.exit_code),
            "seconds": round(self.seconds, 3),
            "counts": dict(Counter(j.status for j in self.jobs)),
            "jobs": [j.to_dict() for j in self.jobs],
        }


def _parse(stdout: str) -> dict[str, Any]:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _one_line(text: str | None) -> str | None:
    if not text:
        return None
    first = text.strip().splitlines()
    return redact(first[0]) if first else None


def _problems(raw: Any) -> list[str]:
    """A child's list of problems, each one redacted line."""
    if not isinstance(raw, list):
        return []
    return [line for line in (_one_line(str(p)) for p in raw) if line]


def _attempt(spec: Path, job: str, opts: SyncOptions) -> tuple[int, dict[str, Any]]:
    cmd = [*opts.command, "run", str(spec), "--json", *(["--force"] if opts.force else [])]
    env = dict(os.environ)
    if opts.home is not None:
        env["SYNTHGATE_HOME"] = str(opts.home)
    proc = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env, check=False
    )
    doc = _parse(proc.stdout)
    if proc.returncode < 0:
        doc = {
            "error": f"job {job}: its process was killed by signal {-proc.returncode}",
            "transient": True,
        }
        return 1, doc
    return proc.returncode, doc


def run_one(
    spec: Path, job: str, opts: SyncOptions, *, wait: Callable[[float], Any] | None = None
) -> JobResult:
    """Run one job, retrying transient failures with exponential backoff."""
    pause = wait or threading.Event().wait
    t0 = time.perf_counter()
    attempts = 0
    while True:
        attempts += 1
        log_event("sync.job.started", job=job, attempt=attempts)
        code, doc = _attempt(spec, job, opts)
        transient = code == 1 and bool(doc.get("transient"))
        if not transient or attempts > opts.retries:
            break
        delay = min(opts.max_retry_delay, opts.retry_delay * 2 ** (attempts - 1))
        log_event(
            "sync.job.retry",
            job=job,
            attempt=attempts,
            delay=delay,
            error=_one_line(str(doc.get("error"))),
        )
        pause(delay)
    result = JobResult(
        spec=str(spec),
        job=job,
        exit_code=code,
        status=status_label(code),
        attempts=attempts,
        seconds=round(time.perf_counter() - t0, 3),
        run_id=doc.get("run_id"),
        release_id=doc.get("release_id"),
        release_status=doc.get("status"),
        mode=doc.get("mode"),
        rows=doc.get("rows"),
        epsilon_spent=doc.get("epsilon_spent"),
        message=_one_line(doc.get("error") or doc.get("message")),
        problems=_problems(doc.get("problems")),
    )
    if code not in _LABELS and result.message is None:
        result.message = f"exited with code {code}"
    log_event(
        "sync.job.finished",
        job=job,
        run_id=result.run_id,
        exit_code=code,
        status=result.status,
        attempts=attempts,
        duration=result.seconds,
    )
    return result


def sync_jobs(specs: Sequence[Path], opts: SyncOptions) -> SyncResult:
    """Run every job of *specs*, at most ``opts.jobs`` at a time."""
    t0 = time.perf_counter()
    planned: list[tuple[Path, str | None, JobResult | None]] = []
    names: dict[str, Path] = {}
    for spec in specs:
        try:
            name = load_job_spec(spec).spec.name
        except SynthgateError as exc:
            planned.append(
                (
                    spec,
                    None,
                    JobResult(
                        str(spec),
                        None,
                        exc.exit_code,
                        status_label(exc.exit_code),
                        message=_one_line(str(exc)),
                        problems=_problems(getattr(exc, "problems", [])),
                    ),
                )
            )
            continue
        if name in names:
            raise ConfigError(
                f"job name {name!r} is used by both {names[name]} and {spec}",
                hint="job names must be unique: each job has one lock and one history",
            )
        names[name] = spec
        planned.append((spec, name, None))
    log_event("sync.started", jobs=len(planned), workers=opts.jobs)
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        futures = [
            pool.submit(run_one, spec, name, opts) if done is None and name is not None else None
            for spec, name, done in planned
        ]
        results = [
            future.result() if future is not None else done
            for future, (_, _, done) in zip(futures, planned, strict=True)
        ]
    outcome = SyncResult([r for r in results if r is not None], time.perf_counter() - t0)
    log_event(
        "sync.finished",
        jobs=len(outcome.jobs),
        exit_code=outcome.exit_code,
        duration=round(outcome.seconds, 3),
    )
    return outcome
