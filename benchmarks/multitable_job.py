"""Time a whole multi-table job (`synthgate run`) on the generated CRM, per size.

customers → orders → order_items (private) and products (public) in SQLite with
declared foreign keys, the default pack, ε = 3: every stage the job runs (read,
PII classification and masking of each table, the multi-table engine, refill,
validation of each table, gate, report). Each size runs in a fresh process and
a fresh SYNTHGATE_HOME; its peak RSS is that process's own. Not a test: figures
for docs/multi-table.md.

    .venv/bin/python benchmarks/multitable_job.py --customers 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DDL = """
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, segment TEXT, region TEXT,
                        age INTEGER);
CREATE TABLE products (product_id TEXT PRIMARY KEY, category TEXT, price REAL);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY,
                     customer_id INTEGER REFERENCES customers(customer_id),
                     channel TEXT, amount REAL);
CREATE TABLE order_items (item_id TEXT PRIMARY KEY,
                          order_id INTEGER REFERENCES orders(order_id),
                          product_id TEXT REFERENCES products(product_id),
                          quantity INTEGER);
"""
TABLES = ["customers", "orders", "order_items", "products"]


def _database(path: Path, customers: int) -> int:
    sys.path.insert(0, str(ROOT))
    from tests._crm import crm

    tables = crm(customers, seed=1)
    con = sqlite3.connect(path)
    try:
        con.executescript(DDL)
        for name in ("customers", "products", "orders", "order_items"):
            tables[name].to_sql(name, con, if_exists="append", index=False)
        con.commit()
    finally:
        con.close()
    return sum(len(t) for t in tables.values())


def _spec(folder: Path, source: Path) -> Path:
    spec = {
        "name": "crm-bench",
        "source": {"url": f"sqlite:///{source}", "tables": TABLES, "public": ["products"]},
        "target": {"url": f"sqlite:///{folder / 'released.db'}", "mode": "replace"},
        "synthesis": {"privacy": {"epsilon": 3, "unit": "customers"}},
        "release": {"policy": "default"},
    }
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def _run(customers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = _database(folder / "crm.db", customers)
        env = dict(
            os.environ,
            SYNTHGATE_HOME=str(folder / "home"),
            SYNTHGATE_USER="bench",
            TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        )
        env.pop("SYNTHGATE_STORE_URL", None)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "synthgate.cli", "run", str(_spec(folder, folder / "crm.db")),
             "--json"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode not in (3, 4):
            raise SystemExit(f"run failed (exit {done.returncode}): {done.stderr[-2000:]}")
        outcome = json.loads(done.stdout)
        report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
        part = report["multi_table"]
        return {
            "customers": customers,
            "rows_in": rows,
            "rows_out": outcome["rows"],
            "wall_seconds": round(wall, 1),
            "stage_seconds": _by_stage(outcome["stage_seconds"]),
            "peak_rss_mb": round(peak),
            "status": outcome["status"],
            "integrity": part["referential_integrity"],
            "quality": (part.get("quality") or {}).get("score"),
        }


def _by_stage(seconds: dict[str, float]) -> dict[str, float]:
    """Node seconds summed per stage (``mask:orders`` counts under mask)."""
    out: dict[str, float] = {}
    for node, value in seconds.items():
        stage = node.split(":", 1)[0]
        out[stage] = round(out.get(stage, 0.0) + value, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000])
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        flush=True,
    )
    for customers in args.customers:
        # a fresh interpreter per size: RUSAGE_CHILDREN is the largest child so far
        if len(args.customers) > 1:
            subprocess.run([sys.executable, __file__, "--customers", str(customers)], check=True)
            continue
        print(json.dumps(_run(customers)), flush=True)


if __name__ == "__main__":
    main()
