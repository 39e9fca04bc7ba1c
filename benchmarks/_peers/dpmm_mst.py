"""Worker: dpmm's MST (``dpmm==0.1.9``) on a parquet table; runs in its own environment.

    /work/bench/venvs/dpmm/bin/python benchmarks/_peers/dpmm_mst.py \\
        --train train.parquet --out synthetic.parquet --epsilon 3 --delta 1e-5

The total ε is split as dpmm splits it: ``--proc-epsilon`` (default 0.1) for
the PrivTree binning of numeric columns (DP bounds and bins, pure ε), the rest
for MST's measurements (zCDP turned into (ε, δ)); by basic composition the
whole fit is (ε, δ)-DP. What dpmm does NOT cover with DP: it takes each
categorical column's category list from the data (it logs "PrivacyLeakage"),
and the value that stands in for a null is drawn from the real column. Integer
columns are numeric (binned), text columns categorical: the same columns and
types as the synthgate engines get. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--epsilon", type=float, required=True, help="total ε of the fit")
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--proc-epsilon", type=float, default=0.1, help="part of ε for binning")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", type=Path, default=None, help="accepted for symmetry; unused")
    parser.add_argument("--params", default="{}", help="extra MSTPipeline keyword arguments (JSON)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    if not 0 < args.proc_epsilon < args.epsilon:
        parser.error("--proc-epsilon must be positive and below --epsilon")

    pipelines: Any = importlib.import_module("dpmm.pipelines")
    train = pd.read_parquet(args.train)
    model = pipelines.MSTPipeline(
        epsilon=args.epsilon - args.proc_epsilon,
        delta=args.delta,
        proc_epsilon=args.proc_epsilon,
        **json.loads(args.params),
    )
    t0 = time.perf_counter()
    model.fit(train, random_state=args.seed)
    fit_s = time.perf_counter() - t0
    rows = args.rows or len(train)
    t0 = time.perf_counter()
    synthetic = model.generate(n_records=rows, random_state=args.seed)
    sample_s = time.perf_counter() - t0
    synthetic.to_parquet(args.out, index=False)
    print(
        json.dumps(
            {
                "fit_seconds": fit_s,
                "sample_seconds": sample_s,
                "rows_per_second": len(synthetic) / sample_s if sample_s > 0 else None,
                "rows": len(synthetic),
                "private": True,
                "epsilon_spent": args.epsilon,
                "delta": args.delta,
                "accountant": "dpmm: PrivTree binning (pure ε) + MST (zCDP), basic composition",
                "params": {
                    "proc_epsilon": args.proc_epsilon,
                    "mst_epsilon": args.epsilon - args.proc_epsilon,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
