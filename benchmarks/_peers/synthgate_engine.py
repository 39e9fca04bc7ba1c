"""Worker: fit one synthgate engine from the plugin registry and sample a table.

Run by ``benchmarks/synth_adult.py`` in a child process of the synthgate
environment, so each engine's peak memory is its own and the engines see the
same interface as the peers::

    .venv/bin/python benchmarks/_peers/synthgate_engine.py --engine dp-ctgan \\
        --train train.parquet --kinds kinds.json --out synthetic.parquet \\
        --epsilon 3 --delta 1e-5 [--params '{"epochs": 5}'] [--seed 0]

Any engine registered under the ``synthgate.synthesizers`` entry points works
without a change here. The schema declares types only (no domains, no
bounds): everything else is learned under DP. The last stdout line is JSON:
fit seconds, sampling rows/s and the privacy the engine reports it spent.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument(
        "--kinds", type=Path, required=True, help="JSON: integer/float/categorical column lists"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--rows", type=int, default=None, help="rows to sample (default: as many as trained on)"
    )
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--params", default="{}", help="synthesis.params as JSON")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

    from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
    from synthgate.synth import create_synthesizer

    train = pd.read_parquet(args.train)
    kinds = json.loads(args.kinds.read_text())
    types = dict.fromkeys(kinds.get("integer", []), LogicalType.INTEGER)
    types.update(dict.fromkeys(kinds.get("float", []), LogicalType.FLOAT))
    types.update(dict.fromkeys(kinds.get("categorical", []), LogicalType.CATEGORICAL))
    schema = TableSchema("table", tuple(ColumnSchema(c, types[c]) for c in train.columns))
    synth = create_synthesizer(args.engine, json.loads(args.params))
    t0 = time.perf_counter()
    fit = synth.fit(
        train,
        schema,
        privacy=PrivacyRequest(epsilon=args.epsilon, delta=args.delta),
        seed=args.seed,
    )
    fit_s = time.perf_counter() - t0
    rows = args.rows or len(train)
    t0 = time.perf_counter()
    synthetic = synth.sample(rows)
    sample_s = time.perf_counter() - t0
    synthetic.to_parquet(args.out, index=False)
    spent = fit.privacy
    print(
        json.dumps(
            {
                "fit_seconds": fit_s,
                "sample_seconds": sample_s,
                "rows_per_second": len(synthetic) / sample_s if sample_s > 0 else None,
                "rows": len(synthetic),
                "private": spent.private,
                "epsilon_spent": spent.epsilon,
                "delta": spent.delta,
                "accountant": spent.accountant,
                "params": {
                    k: v for k, v in fit.params.items() if isinstance(v, int | float | str | bool)
                },
            }
        )
    )


if __name__ == "__main__":
    main()
