"""Worker: SDV's HMASynthesizer, NOT differentially private: the non-private multi-table reference.

    /tmp/venv-sdv/bin/python benchmarks/_peers/sdv_hma.py --data real/ \\
        --schema schema.json --out synthetic/ [--seed 0] [--scale 1.0]

Runs in any environment with ``sdv`` and ``pyarrow``. ``--data`` holds one
``<table>.parquet`` per table; ``--schema`` is JSON with each table's primary key
and the foreign keys (``{"tables": {"orders": {"primary_key": "order_id"}, ...},
"relationships": [{"parent_table_name": ..., "parent_primary_key": ...,
"child_table_name": ..., "child_foreign_key": ...}]}``). Key columns are
``id``, other numeric columns ``numerical``, the rest ``categorical``; SDV's
defaults otherwise. Every table is modelled, reference tables included. The
synthetic tables are written to ``--out`` as ``<table>.parquet``. The last
stdout line is JSON: fit and sample seconds, this process's peak RSS, rows per
table; or, where SDV refuses the schema, ``{"refused": "<its message>"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _metadata(tables: dict[str, pd.DataFrame], schema: dict[str, Any]) -> dict[str, Any]:
    ids = {(t, spec["primary_key"]) for t, spec in schema["tables"].items()}
    ids |= {(r["child_table_name"], r["child_foreign_key"]) for r in schema["relationships"]}
    out: dict[str, Any] = {}
    for name, frame in tables.items():
        columns: dict[str, dict[str, str]] = {}
        for col in frame.columns:
            if (name, col) in ids:
                columns[col] = {"sdtype": "id"}
            elif pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(
                frame[col]
            ):
                columns[col] = {"sdtype": "numerical"}
            else:
                columns[col] = {"sdtype": "categorical"}
        out[name] = {"columns": columns, "primary_key": schema["tables"][name]["primary_key"]}
    return {"tables": out, "relationships": schema["relationships"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of <table>.parquet")
    parser.add_argument("--schema", type=Path, required=True, help="keys and relationships (JSON)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the synthetic tables")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="rows out / rows in")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer", "MultiTableSynthesizer"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import sdv
    from sdv.errors import SynthesizerInputError
    from sdv.metadata import Metadata
    from sdv.multi_table import HMASynthesizer

    np.random.seed(args.seed)
    schema = json.loads(args.schema.read_text())
    tables = {name: pd.read_parquet(args.data / f"{name}.parquet") for name in schema["tables"]}
    metadata = Metadata.load_from_dict(_metadata(tables, schema))
    try:
        model = HMASynthesizer(metadata, verbose=False)
    except SynthesizerInputError as exc:  # SDV 1.38+ refuses deeper or wider schemas
        print(json.dumps({"refused": " ".join(str(exc).split()), "sdv": sdv.__version__}))
        return
    t0 = time.perf_counter()
    model.fit(tables)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if hasattr(model, "sample_scale"):  # SDV 2.0; before, sample(scale=...)
        synthetic = model.sample_scale(scale=args.scale)
    else:
        synthetic = model.sample(scale=args.scale)
    sample_s = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in synthetic.items():
        frame.to_parquet(args.out / f"{name}.parquet", index=False)
    print(
        json.dumps(
            {
                "fit_seconds": fit_s,
                "sample_seconds": sample_s,
                "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "rows": {name: len(frame) for name, frame in synthetic.items()},
                "private": False,
                "sdv": sdv.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
