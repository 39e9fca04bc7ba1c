"""Multi-table synthesis of a generated CRM: time, memory, integrity, distances.

customers (a segment that sets how many orders they place) → orders →
order_items → products (public). Each size runs in a fresh process, so peak
memory (ru_maxrss, the generated source tables included) is that run's own.
Not a test: figures for docs/multi-table.md.

    python benchmarks/multitable_crm.py --customers 10000,100000 --epsilon 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(customers: int, epsilon: float) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from tests._crm import KEYS, RELATIONSHIPS, crm

    from synthgate import synthesize_tables

    tables = crm(customers, seed=1)
    rows = sum(len(t) for t in tables.values())
    start = time.perf_counter()
    result = synthesize_tables(
        tables,
        unit="customers",
        relationships=RELATIONSHIPS,
        epsilon=epsilon,
        public=["products"],
        keys=KEYS,
        seed=0,
    )
    seconds = time.perf_counter() - start
    checks = result.checks
    return {
        "customers": customers,
        "source_rows": rows,
        "synthetic_rows": sum(checks["rows"].values()),
        "seconds": round(seconds, 1),
        "fit_seconds": round(sum(s.get("fit", 0.0) for s in checks["seconds"].values()), 1),
        "sample_seconds": round(sum(s.get("sample", 0.0) for s in checks["seconds"].values()), 1),
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "epsilon": round(result.epsilon, 3),
        "integrity": checks["referential_integrity"],
        "quality": checks["quality"],
        "caps": {t: c["cap"] for t, c in result.ledger["caps"].items()},
        "tvd": {
            name: rel["children_per_parent_tvd"]
            for name, rel in checks["relationships"].items()
            if "children_per_parent_tvd" in rel
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="10000")
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.epsilon)))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")  # fmt: skip
    for size in (int(s) for s in args.customers.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--epsilon", str(args.epsilon)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
