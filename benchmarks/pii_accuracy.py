"""PII detection accuracy: column-level precision and recall per entity.

A labelled fixture of our own, generated with Faker in several locales
(en_US, en_GB, de_DE, fr_FR): for each entity, one column with a telling name
(``email``) and one with a neutral name (``col_07``) so the values alone must
carry it, plus columns without PII (products, plans, SKUs, amounts, colours,
job titles, companies) and a unique order reference (a record identifier).
Each column is classified by
:func:`synthgate.pii.classify_columns`; a column counts as a hit for the
entity it is labelled with. Entities that values alone cannot reveal (a date
of birth is a date, a postcode a number) are labelled only in their named
column; their neutral twin is labelled as no PII.

Goal (issue #5): precision and recall ≥ 0.95 for each entity on this fixture.

    .venv/bin/python benchmarks/pii_accuracy.py [--values 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR")
NONE = "none"

Make = Callable[[Any], object]

#: entity → (column name, generator, whether the values alone reveal it)
ENTITIES: dict[str, tuple[str, Make, bool]] = {
    "PERSON": ("full_name", lambda f: f.name(), True),
    "EMAIL_ADDRESS": ("email", lambda f: f.email(), True),
    "PHONE_NUMBER": ("phone", lambda f: f.phone_number(), True),
    "STREET_ADDRESS": ("street_address", lambda f: f.street_address(), True),
    "IBAN_CODE": ("iban", lambda f: f.iban(), True),
    "CREDIT_CARD": ("card_number", lambda f: f.credit_card_number(), True),
    "IP_ADDRESS": ("ip_address", lambda f: f.ipv4_public(), True),
    "DATE_OF_BIRTH": (
        "date_of_birth",
        lambda f: f.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
        False,
    ),
    "ZIP_CODE": ("postcode", lambda f: f.postcode(), False),
}
US_ONLY: dict[str, tuple[str, Make, bool]] = {
    "US_SSN": ("ssn", lambda f: f.ssn(), True),
}
NEGATIVES: dict[str, Make] = {
    "product": lambda f: f.catch_phrase(),
    "plan": lambda f: f.random_element(["free", "pro", "enterprise"]),
    "sku": lambda f: f.bothify("SKU-####-??").upper(),
    "amount": lambda f: f"{f.pyfloat(min_value=1, max_value=5000, right_digits=2)}",
    "colour": lambda f: f.color_name(),
    "job_title": lambda f: f.job(),
    "company": lambda f: f.company(),
}
#: unique per row and written like codes: record identifiers (issue #17)
IDENTIFIERS: dict[str, Make] = {
    "order_ref": lambda f: f.numerify("########"),
}


def fixture(locale: str, n: int, seed: int) -> tuple[Any, dict[str, str]]:
    """A frame of *n* rows for *locale* and each column's label."""
    import pandas as pd
    from faker import Faker

    fake: Any = Faker(locale)
    fake.seed_instance(seed)
    columns: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    entities = {**ENTITIES, **(US_ONLY if locale == "en_US" else {})}
    for i, (entity, (name, make, by_value)) in enumerate(entities.items()):
        columns[name] = [str(make(fake)) for _ in range(n)]
        labels[name] = entity
        neutral = f"col_{i:02d}"
        columns[neutral] = [str(make(fake)) for _ in range(n)]
        labels[neutral] = entity if by_value else NONE
    for name, make in NEGATIVES.items():
        columns[name] = [str(make(fake)) for _ in range(n)]
        labels[name] = NONE
    for name, make in IDENTIFIERS.items():
        columns[name] = [str(make(fake)) for _ in range(n)]
        labels[name] = "RECORD_ID"
    return pd.DataFrame(columns), labels


def evaluate(values: int, seed: int = 0) -> dict[str, Any]:
    from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
    from synthgate.pii import classify_columns

    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    mistakes: list[dict[str, str]] = []
    t0 = time.perf_counter()
    for k, locale in enumerate(LOCALES):
        frame, labels = fixture(locale, values, seed + k)
        schema = TableSchema(
            locale, tuple(ColumnSchema(c, LogicalType.TEXT) for c in frame.columns)
        )
        for finding in classify_columns(frame, schema, sample_values=values, seed=seed):
            truth = labels[finding.column]
            got = finding.entity or NONE
            if got == truth:
                tp[truth] += 1
                continue
            fp[got] += 1
            fn[truth] += 1
            mistakes.append(
                {"locale": locale, "column": finding.column, "label": truth, "found": got}
            )
    per: dict[str, dict[str, float | int]] = {}
    for entity in sorted({*ENTITIES, *US_ONLY, NONE, "RECORD_ID"}):
        t, p, n = tp[entity], fp[entity], fn[entity]
        per[entity] = {
            "columns": t + n,
            "precision": round(t / (t + p), 3) if t + p else 1.0,
            "recall": round(t / (t + n), 3) if t + n else 1.0,
        }
    return {
        "locales": list(LOCALES),
        "values_per_column": values,
        "seconds": round(time.perf_counter() - t0, 1),
        "per_entity": per,
        "mistakes": mistakes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--values", type=int, default=200, help="distinct values per column")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = evaluate(args.values)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"column-level detection on {', '.join(result['locales'])} "
        f"({result['values_per_column']} values per column, {result['seconds']} s)"
    )
    print(f"{'entity':<16}{'columns':>8}{'precision':>11}{'recall':>8}")
    for entity, m in result["per_entity"].items():
        flag = "" if min(m["precision"], m["recall"]) >= 0.95 else "  < 0.95"
        print(f"{entity:<16}{m['columns']:>8}{m['precision']:>11.3f}{m['recall']:>8.3f}{flag}")
    for miss in result["mistakes"]:
        print(f"  miss: {miss['locale']} {miss['column']}: {miss['label']} → {miss['found']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
