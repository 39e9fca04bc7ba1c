"""Worker: SDV's CTGAN, NOT differentially private: the non-private reference.

    .venv/bin/python benchmarks/_peers/sdv_ctgan.py --train train.parquet \\
        --kinds kinds.json --out synthetic.parquet [--epochs 300]

Runs in any environment with ``sdv`` (synthgate's has it). Metadata is built
from the same integer/float/categorical lists as the other engines get; SDV's
defaults otherwise (300 epochs, batch 500), on the CPU. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--kinds", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=300, help="SDV's default is 300")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=None, help="ignored: not private")
    parser.add_argument("--delta", type=float, default=None, help="ignored: not private")
    parser.add_argument(
        "--params", default="{}", help="extra CTGANSynthesizer keyword arguments (JSON)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name in ("sdv", "rdt", "copulas", "ctgan", "SingleTableSynthesizer"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer

    torch.manual_seed(args.seed)
    train = pd.read_parquet(args.train)
    kinds = json.loads(args.kinds.read_text())
    sdtypes = dict.fromkeys([*kinds.get("integer", []), *kinds.get("float", [])], "numerical")
    sdtypes.update(dict.fromkeys(kinds.get("categorical", []), "categorical"))
    metadata = Metadata.load_from_dict(
        {"tables": {"table": {"columns": {c: {"sdtype": sdtypes[c]} for c in train.columns}}}}
    )
    # verbose: CTGAN's per-epoch progress (with seconds per epoch) goes to the log
    model = CTGANSynthesizer(
        metadata, epochs=args.epochs, enable_gpu=False, verbose=True, **json.loads(args.params)
    )
    t0 = time.perf_counter()
    processed = model.preprocess({"table": train})  # SDV 2.0: a dict of tables, dict metadata
    preprocess_s = time.perf_counter() - t0
    model.fit_processed_data(processed)
    fit_s = time.perf_counter() - t0
    rows = args.rows or len(train)
    t0 = time.perf_counter()
    sampled = model.sample(num_rows=rows)
    synthetic = sampled["table"] if isinstance(sampled, dict) else sampled
    sample_s = time.perf_counter() - t0
    synthetic.to_parquet(args.out, index=False)
    print(
        json.dumps(
            {
                "fit_seconds": fit_s,
                "sample_seconds": sample_s,
                "rows_per_second": len(synthetic) / sample_s if sample_s > 0 else None,
                "rows": len(synthetic),
                "private": False,
                "epsilon_spent": None,
                "delta": None,
                "accountant": None,
                "params": {"epochs": args.epochs},
                "preprocess_seconds": preprocess_s,
            }
        )
    )


if __name__ == "__main__":
    main()
