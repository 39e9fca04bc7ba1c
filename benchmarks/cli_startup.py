"""How long the command line takes to start, and what it imports on the way.

    .venv/bin/python benchmarks/cli_startup.py [--repeat 3] [--rows 2000]

Times, each as the best of --repeat runs in a fresh process:

- ``import synthgate`` (what a plugin or a notebook pays first);
- ``synthgate --version``;
- ``synthgate run JOB.yaml`` on a job whose source and spec are unchanged since its
  last success (exit 99, nothing to do): what every ``synthgate sync`` child pays
  for a job with nothing to do.

The job is a small demo table (``--rows``) synthesized once (``--synthesizer``, by
default ``auto``, which picks dp-mst) before timing. Then, per command, which heavy libraries the process
imported (``python -X importtime``), so a regression names its culprit. Seconds are
wall-clock and only comparable within one run on one machine; on a busy machine
compare the CPU seconds (user + system of the child) too.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

HEAVY = (
    "torch",
    "opacus",
    "presidio_analyzer",
    "spacy",
    "great_expectations",
    "sdv",
    "sdmetrics",
    "sklearn",
    "scipy",
    "pandas",
    "pyarrow",
    "sqlalchemy",
    "alembic",
    "faker",
    "fastapi",
    "jinja2",
)
EXIT_NOTHING_TO_DO = 99


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: Sequence[str], env: dict[str, str], expect: int) -> tuple[float, float]:
    """Wall and CPU seconds of one run of *cmd*, which must exit with *expect*."""
    cpu0 = _cpu_of_children()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != expect:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}, expected {expect}: {tail}")
    return wall, _cpu_of_children() - cpu0


def _heavy_imports(cmd: Sequence[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level packages *cmd* imports (``-X importtime`` on stderr)."""
    proc = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True, check=False
    )
    loaded = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            loaded.add(name.split(".")[0])
    return [h for h in HEAVY if h in loaded]


def _job(folder: Path, rows: int, synthesizer: str) -> Path:
    from synthgate.demo import write_demo_db

    db = write_demo_db(folder / "crm.db", rows)
    spec = {
        "name": "startup-bench",
        "source": {"url": f"sqlite:///{db}", "table": "customers"},
        "target": {"url": f"sqlite:///{folder / 'released.db'}", "table": "customers_syn"},
        "synthesis": {"synthesizer": synthesizer, "seed": 7},
        "release": {"policy": "internal-testing"},
    }
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument(
        "--synthesizer", default="auto", help="The job's engine (auto is dp-mst here)."
    )
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "SYNTHGATE_HOME": str(folder / "home"),
            "SYNTHGATE_USER": "bench",
            "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
            "GX_ANALYTICS_ENABLED": "False",
            # byte-code cached as an installed package has it, outside the source tree
            "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
        }
        env.pop("SYNTHGATE_STORE_URL", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        job = _job(folder, args.rows, args.synthesizer)
        cli = [py, "-m", "synthgate.cli"]
        first = subprocess.run(
            [*cli, "run", str(job), "--json"], env=env, capture_output=True, check=False
        )
        if first.returncode not in (0, 3, 4):
            raise SystemExit(f"the first run failed (exit {first.returncode})")
        cases = {
            "import synthgate": ([py, "-c", "import synthgate"], 0),
            "synthgate --version": ([*cli, "--version"], 0),
            "synthgate run (nothing to do)": ([*cli, "run", str(job), "--json"], 99),
        }
        print(
            f"machine: {platform.machine()} · {os.cpu_count()} cores · "
            f"Python {platform.python_version()} · load {os.getloadavg()[0]:.1f}"
        )
        for label, (cmd, expect) in cases.items():
            runs = [_timed(cmd, env, expect) for _ in range(args.repeat)]
            wall, cpu = min(runs)
            heavy = _heavy_imports(cmd, env)
            print(
                f"{label:<32} {wall:6.2f}s wall  {cpu:6.2f}s cpu  "
                f"imports: {', '.join(heavy) or 'none of the heavy ones'}"
            )


if __name__ == "__main__":
    main()
