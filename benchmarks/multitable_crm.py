"""Multi-table synthesis of a generated CRM or star schema: time, memory, integrity, distances.

``--schema crm`` (the default): customers (a segment that sets how many orders
they place) → orders → order_items → products (public). ``--schema star``:
customers → sales, the fact table, whose rows also point into three public
dimensions (stores, products, dates); a customer's region sets the store of
most of their sales. Both come from ``tests/_crm.py``. Each size runs in a
fresh process, so peak memory (ru_maxrss, the source tables included) is that
run's own. Not a test: figures for docs/multi-table.md.

    python benchmarks/multitable_crm.py --customers 10000,100000 --epsilon 3
    python benchmarks/multitable_crm.py --schema star --customers 10000
    python benchmarks/multitable_crm.py --customers 1000,10000 --peer sdv-hma \\
        --sdv-python /tmp/venv-sdv/bin/python [--peer-timeout 1800]

Without ``--peer`` each size prints one JSON line: synthgate's own checks.

With ``--peer sdv-hma`` each size's tables are written as parquet to a temporary
folder; synthgate (ε-DP) and SDV's ``HMASynthesizer`` (not private; run by
``benchmarks/_peers/sdv_hma.py`` in its own environment) each read them in a
fresh process that gets ``--peer-timeout`` seconds, and write their synthetic
tables back. One evaluator, here, scores both outputs with synthgate's own
checks (``run_checks`` and ``quality`` of the multi-table engine): referential
integrity, children-per-parent total variation distance per relationship (the
whole distributions: the cap is the largest count on either side, so what a
cap clips counts as error) and SDMetrics' multi-table quality report. One JSON
line per (engine, size), then a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from synthgate.contracts import Relationship

ROOT = Path(__file__).resolve().parents[1]
PEERS = {"sdv-hma": ROOT / "benchmarks" / "_peers" / "sdv_hma.py"}


@dataclass(frozen=True, slots=True)
class Schema:
    """A generated set of tables and what synthesize_tables is told about it."""

    name: str
    unit: str
    relationships: Sequence[Relationship]
    keys: Mapping[str, Sequence[str]]
    public: Sequence[str]
    generate: Callable[[int], dict[str, pd.DataFrame]]


def _schema(name: str) -> Schema:
    sys.path.insert(0, str(ROOT))
    from tests import _crm

    if name == "star":
        return Schema(
            "star",
            "customers",
            _crm.STAR_RELATIONSHIPS,
            _crm.STAR_KEYS,
            _crm.STAR_PUBLIC,
            lambda n: _crm.star(n, seed=1),
        )
    return Schema(
        "crm",
        "customers",
        _crm.RELATIONSHIPS,
        _crm.KEYS,
        ("products",),
        lambda n: _crm.crm(n, seed=1),
    )


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    import pandas as pd

    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def _write(tables: Mapping[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)


def _dependence(schema: str, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """What the generator built in, measured on a set of tables (real or synthetic).

    crm: orders per customer by segment. star: by segment, sales per customer,
    the share of sales of hardware and the share made at weekends; and the share
    of sales made in a store of the customer's own region (0.925 in the
    generator; 0.25 where store and customer are independent)."""
    cust = tables["customers"]
    child = "sales" if schema == "star" else "orders"
    per = tables[child].groupby("customer_id").size()
    counts = cust["customer_id"].map(per).fillna(0)
    segments = sorted(cust["segment"].dropna().unique())
    out = {
        f"{child}/customer {seg}": round(float(counts[cust["segment"] == seg].mean()), 2)
        for seg in segments
    }
    if schema != "star":
        return out
    sales = tables["sales"]
    segment = _lookup(sales["customer_id"], cust, "customer_id", "segment")
    hardware = _lookup(sales["product_id"], tables["products"], "product_id", "category")
    weekday = _lookup(sales["date_id"], tables["dates"], "date_id", "weekday")
    for name, flag in (
        ("hardware share", hardware == "hardware"),
        ("weekend share", weekday.isin(["Sat", "Sun"])),
    ):
        out.update(
            {f"{name} {seg}": round(float(flag[segment == seg].mean()), 3) for seg in segments}
        )
    home = _lookup(sales["customer_id"], cust, "customer_id", "region")
    store = _lookup(sales["store_id"], tables["stores"], "store_id", "region")
    out["home-region share"] = round(float((home == store).mean()), 3)
    return out


def _lookup(keys: pd.Series[Any], table: pd.DataFrame, key: str, column: str) -> pd.Series[Any]:
    """*column* of the row of *table* each key names (the first where keys repeat)."""
    import pandas as pd

    rows = table.drop_duplicates(subset=[key])
    return keys.map(pd.Series(rows[column].to_numpy(), index=rows[key].to_numpy()))


# ---------------------------------------------------------------------- synthgate, in a child


def _child(
    customers: int,
    epsilon: float,
    schema_name: str = "crm",
    data: Path | None = None,
    out: Path | None = None,
) -> dict[str, object]:
    schema = _schema(schema_name)

    from synthgate import synthesize_tables

    tables = _read(data) if data is not None else schema.generate(customers)
    rows = sum(len(t) for t in tables.values())
    start = time.perf_counter()
    result = synthesize_tables(
        tables,
        unit=schema.unit,
        relationships=list(schema.relationships),
        epsilon=epsilon,
        public=list(schema.public),
        keys={t: list(c) for t, c in schema.keys.items()},
        seed=0,
    )
    seconds = time.perf_counter() - start
    checks = result.checks
    report: dict[str, object] = {
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
    if schema_name != "crm":
        report = {"schema": schema_name, **report}
        report["dependence"] = {
            "real": _dependence(schema_name, tables),
            "synthetic": _dependence(schema_name, result.tables),
        }
    if out is not None:
        _write(result.tables, out)
    return report


# ---------------------------------------------------------------------- side by side


def _evaluate(
    schema: Schema, real: Mapping[str, pd.DataFrame], synthetic: Mapping[str, pd.DataFrame]
) -> dict[str, Any]:
    """One evaluator for every engine: the multi-table engine's own checks, with
    the cap of each relationship the largest children count on either side."""
    from synthgate.synth.multitable import plan_tables
    from synthgate.synth.multitable._checks import children_counts, quality, run_checks

    plans = plan_tables(
        real,
        unit=schema.unit,
        relationships=list(schema.relationships),
        public=list(schema.public),
        keys=schema.keys,
    )
    caps: dict[str, int] = {}
    for plan in plans:
        if plan.parent is not None:
            rel = plan.parent
            sides = (real, synthetic)
            most = [children_counts(s[rel.child_table], s[rel.parent_table], rel) for s in sides]
            caps[plan.name] = max([1, *(int(c.max()) for c in most if len(c))])
    checks = run_checks(synthetic, real, plans, caps, list(schema.public))
    return {
        "integrity": checks["referential_integrity"],
        "integrity_by_relationship": {
            n: r["integrity"] for n, r in checks["relationships"].items()
        },
        "unique_keys": checks["unique_keys"],
        "tvd": {
            n: r["children_per_parent_tvd"]
            for n, r in checks["relationships"].items()
            if "children_per_parent_tvd" in r
        },
        "quality": quality(synthetic, real, plans, list(schema.public)),
        "dependence": {
            "real": _dependence(schema.name, real),
            "synthetic": _dependence(schema.name, synthetic),
        },
    }


def _run_child(command: list[str], timeout: float) -> dict[str, Any]:
    """A child's last stdout line (JSON), its wall seconds, or why there is none."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish in {timeout:g} s"}
    wall = round(time.perf_counter() - start, 1)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        err = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": f"failed (exit {done.returncode}): {err}", "wall_seconds": wall}
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_seconds"] = wall
    return result


def _side_by_side(args: argparse.Namespace, sizes: list[int]) -> list[dict[str, Any]]:
    schema = _schema(args.schema)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="multitable-bench-") as tmp:
            folder = Path(tmp)
            real = schema.generate(size)
            _write(real, folder / "real")
            keys = {t: next(iter(c)) for t, c in schema.keys.items()}
            for rel in schema.relationships:
                keys.setdefault(rel.parent_table, rel.parent_columns[0])
            hand_off = {
                "tables": {t: {"primary_key": keys[t]} for t in real},
                "relationships": [
                    {
                        "parent_table_name": r.parent_table,
                        "parent_primary_key": r.parent_columns[0],
                        "child_table_name": r.child_table,
                        "child_foreign_key": r.child_columns[0],
                    }
                    for r in schema.relationships
                ],
            }
            (folder / "schema.json").write_text(json.dumps(hand_off))
            commands = {
                "synthgate": [
                    sys.executable,
                    __file__,
                    "--child",
                    str(size),
                    "--epsilon",
                    str(args.epsilon),
                    "--schema",
                    schema.name,
                    "--data",
                    str(folder / "real"),
                    "--out",
                    str(folder / "synthgate"),
                ],
                args.peer: [
                    str(args.sdv_python),
                    str(PEERS[args.peer]),
                    "--data",
                    str(folder / "real"),
                    "--schema",
                    str(folder / "schema.json"),
                    "--out",
                    str(folder / args.peer),
                    "--seed",
                    "0",
                ],
            }
            for engine, command in commands.items():
                row: dict[str, Any] = {
                    "engine": engine,
                    "schema": schema.name,
                    "customers": size,
                    "source_rows": sum(len(t) for t in real.values()),
                    "private": engine == "synthgate",
                }
                row.update(_run_child(command, args.peer_timeout))
                if "status" not in row and "refused" not in row:
                    synthetic = _read(folder / engine)
                    row["synthetic_rows"] = sum(len(t) for t in synthetic.values())
                    row["evaluator"] = _evaluate(schema, real, synthetic)
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    rels = next((list(r["evaluator"]["tvd"]) for r in rows if "evaluator" in r), [])
    tvd_head = ", ".join(n.split(" -> ")[0] for n in rels)
    lines = [
        f"| engine | customers | rows in | rows out | fit s | sample s | wall s | peak RSS "
        f"| integrity | TVD ({tvd_head}) | SDMetrics quality |",
        "| --- " * 11 + "|",
    ]
    for r in rows:
        head = f"| {r['engine']} | {r['customers']:,} | {r['source_rows']:,} |"
        if "evaluator" not in r:
            refused = str(r.get("refused", "")).split(".")[0]
            why = r.get("status") or f"refused by SDV {r.get('sdv', '')}: {refused}"
            lines.append(f"{head} {why} |" + " |" * 7)
            continue
        ev = r["evaluator"]
        q = f"{ev['quality']['score']:.2f}" if ev["quality"] else "n/a"
        tvd = ", ".join(f"{ev['tvd'].get(n, float('nan')):.2f}" for n in rels)
        lines.append(
            f"{head} {r['synthetic_rows']:,} | {r['fit_seconds']:.1f} | {r['sample_seconds']:.1f} "
            f"| {r['wall_seconds']:.1f} | {r['maxrss_mb']:,} MB | {ev['integrity']:.3f} "
            f"| {tvd} | {q} |"
        )
    return "\n".join(lines)


def _dependence_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per engine and size: what the generator built in, real → synthetic."""
    lines = []
    for r in rows:
        if "evaluator" in r:
            dep = r["evaluator"]["dependence"]
            pairs = ", ".join(
                f"{k} {v} → {dep['synthetic'].get(k)}" for k, v in dep["real"].items()
            )
            lines.append(f"- {r['engine']}, {r['customers']:,} customers: {pairs}")
    return lines


def _machine_line() -> str:
    """The machine, as ``benchmarks/_eval.py`` describes it, and the platform.

    ``_eval.py`` is loaded from its file: opacus installs a top-level package
    named ``benchmarks`` that would shadow this folder.
    """
    name = "synthgate_benchmarks_eval"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_eval.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    ev = sys.modules[name]
    line: str = ev.machine_line(ev.machine())
    return f"{line} · {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="\n".join(__doc__.splitlines()[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--customers", default="10000")
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--schema", choices=("crm", "star"), default="crm")
    parser.add_argument(
        "--peer", choices=sorted(PEERS), help="also run this non-private engine, side by side"
    )
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=1800.0,
        help="seconds each engine gets per size with --peer (default 1800)",
    )
    parser.add_argument(
        "--sdv-python",
        type=Path,
        default=Path("/tmp/venv-sdv/bin/python"),
        help="the interpreter of an environment with sdv and pyarrow",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.epsilon, args.schema, args.data, args.out)))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")  # fmt: skip
    sizes = [int(s) for s in args.customers.split(",")]
    if args.peer:
        print(f"# {_machine_line()}")
        rows = _side_by_side(args, sizes)
        print()
        print(_table(rows))
        print()
        print("real → synthetic:")
        print("\n".join(_dependence_lines(rows)))
        return
    for size in sizes:
        command = [sys.executable, __file__, "--child", str(size), "--epsilon", str(args.epsilon)]
        if args.schema != "crm":
            command += ["--schema", args.schema]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
