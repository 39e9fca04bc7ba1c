"""Time each pipeline stage of the demo job at a given size, in one process.

    .venv/bin/python benchmarks/pipeline_stages.py --rows 10000 50000

Prints the machine, then per size: seconds per stage, total, and peak RSS.
Figures are only comparable within one run on one machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000])
    args = parser.parse_args()
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

    from synthgate.config import load_job_spec
    from synthgate.demo import demo_job_path, write_demo_db
    from synthgate.pipeline import run_job
    from synthgate.settings import Settings

    print(
        f"machine: {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}"
    )
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            t0 = time.perf_counter()
            write_demo_db(home / "demo" / "crm.db", rows)
            gen = time.perf_counter() - t0
            os.environ["SYNTHGATE_DEMO_DIR"] = str(home / "demo")
            t0 = time.perf_counter()
            outcome = run_job(load_job_spec(demo_job_path()), Settings.from_env(home))
            total = time.perf_counter() - t0
        stages = " ".join(f"{k}={v:.2f}s" for k, v in outcome.stage_seconds.items())
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"rows={rows} generate={gen:.1f}s run={total:.1f}s {stages} peak_rss={rss_mb:.0f}MiB")


if __name__ == "__main__":
    main()
