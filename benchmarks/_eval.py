"""One evaluator for every synthesizer in the benchmarks: synthgate's engines and the peers.

Everything here reads a real table, a holdout table and a synthetic table
(pandas frames with the same columns) and returns plain numbers:

- SDMetrics ``QualityReport``: overall score, Column Shapes, Column Pair Trends;
- TSTR: a fixed ``HistGradientBoostingClassifier`` (``random_state=0``) trained on
  the synthetic rows and tested on real test rows (accuracy, ROC AUC); the same
  model trained on the real rows is the reference;
- DCR share: of the synthetic rows, the share whose nearest real training row is
  strictly closer than their nearest holdout row (one-hot categories, numbers
  scaled by the training table's standard deviation, equal-size subsamples);
  about 0.5 means the synthetic rows are no closer to the training rows than to
  unseen rows of the same population; near 1 means copies of training rows;
- structure: per column, the share of synthetic values outside the real range
  (numbers outside [min, max], categories never seen), non-integer values in an
  integer column, and the null share against the real null share;
- the machine: cores, CPU model, load average, memory.

The module imports only pandas, numpy, scikit-learn and SDMetrics (all in the
synthgate environment); peers run elsewhere and hand back files.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ColumnKinds",
    "dcr_share",
    "machine",
    "machine_line",
    "markdown_table",
    "quality",
    "structure",
    "total_variation",
    "tstr",
]


@dataclass(frozen=True, slots=True)
class ColumnKinds:
    """Which columns are numbers (``integer`` or ``float``) and which are categories."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    integer: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """The facts that make timings comparable: cores, CPU model, load, memory."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": model or "unknown",
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def json_clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def revision(root: Path) -> str:
    """The commit the engines ran from, and whether the engine code differed from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "platform"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted changes under platform/" if dirty else head


def machine_line(info: Mapping[str, Any]) -> str:
    load = " ".join(f"{x:.2f}" for x in info["load_average"])
    return (
        f"machine: {info['cpu_model']} · {info['cores']} cores ({info['usable_cores']} usable) · "
        f"{info['memory_gib']} GiB · load average {load} · Python {info['python']}"
    )


# --------------------------------------------------------------------------- fidelity


def _sdmetrics_quiet() -> None:
    for name in ("sdmetrics", "rdt", "copulas"):
        logging.getLogger(name).setLevel(logging.ERROR)


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: ColumnKinds) -> dict[str, float]:
    """SDMetrics QualityReport: overall score and its two properties."""
    from sdmetrics.reports import QualityReport

    _sdmetrics_quiet()
    cols = kinds.columns
    columns: dict[str, dict[str, str]] = {c: {"sdtype": "numerical"} for c in kinds.numeric}
    columns.update({c: {"sdtype": "categorical"} for c in kinds.categorical})
    metadata = {"tables": {"table": {"columns": columns}}}
    syn = _aligned(synthetic, real, kinds)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"table": real[cols]}, {"table": syn[cols]}, metadata, verbose=False)
    props = {str(r["Property"]): float(r["Score"]) for _, r in report.get_properties().iterrows()}
    return {
        "quality": float(report.get_score()),
        "column_shapes": props.get("Column Shapes", float("nan")),
        "column_pair_trends": props.get("Column Pair Trends", float("nan")),
    }


def _aligned(synthetic: pd.DataFrame, real: pd.DataFrame, kinds: ColumnKinds) -> pd.DataFrame:
    """*synthetic* with the real table's column dtypes where they can be had.

    Numbers become floats (a peer may write strings); categories keep their
    text form so an unseen value stays unseen instead of raising.
    """
    out = synthetic.copy()
    for c in kinds.numeric:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    for c in kinds.categorical:
        values = out[c]
        if real[c].dtype == object or isinstance(real[c].dtype, pd.StringDtype):
            out[c] = values.astype(object).map(lambda v: None if pd.isna(v) else str(v))
    return out


def total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation distance between two categorical marginals (nulls as a category)."""
    p = real.astype(object).where(real.notna(), "<null>").astype(str).value_counts(normalize=True)
    q = (
        synthetic.astype(object)
        .where(synthetic.notna(), "<null>")
        .astype(str)
        .value_counts(normalize=True)
    )
    keys = p.index.union(q.index)
    return float(0.5 * np.abs(p.reindex(keys, fill_value=0) - q.reindex(keys, fill_value=0)).sum())


# --------------------------------------------------------------------------- utility


def tstr(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    target: str,
    kinds: ColumnKinds,
    positive: Any,
    random_state: int = 0,
) -> dict[str, float]:
    """Train on *train* (real or synthetic), test on real *test*: accuracy and ROC AUC.

    The model is a fixed ``HistGradientBoostingClassifier``; categories are the
    union of those in *test* and *train* (unseen ones are its missing value).
    Rows whose target is null are dropped; a single-class target gives NaN.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score

    features = [c for c in kinds.columns if c != target]
    cats = [c for c in features if c in kinds.categorical]
    train = _aligned(train, test, kinds)
    train = train[train[target].notna()]
    y = train[target].astype(str) == str(positive)
    nan = {"accuracy": float("nan"), "roc_auc": float("nan"), "positive_share": float("nan")}
    if len(train) == 0:
        return nan
    if y.nunique() < 2:
        return {**nan, "positive_share": float(y.mean())}
    categories = {
        c: sorted(set(test[c].dropna().astype(str)) | set(train[c].dropna().astype(str)))
        for c in cats
    }

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[features].copy()
        for c in cats:
            out[c] = pd.Categorical(out[c].astype("string"), categories=categories[c])
        for c in features:
            if c not in cats:
                out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
        return out

    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=random_state
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(encode(train), y)
        proba = model.predict_proba(encode(test))[:, 1]
    truth = test[target].astype(str) == str(positive)
    return {
        "accuracy": float(accuracy_score(truth, proba > 0.5)),
        "roc_auc": float(roc_auc_score(truth, proba)),
        "positive_share": float(y.mean()),
    }


# --------------------------------------------------------------------------- privacy


def _encoder(reference: pd.DataFrame, kinds: ColumnKinds) -> Any:
    """One-hot categories (nulls a category of their own), numbers by the reference's std."""
    stats = {}
    for c in kinds.numeric:
        x = pd.to_numeric(reference[c], errors="coerce").astype(float)
        std = float(x.std()) if x.notna().sum() > 1 else 0.0
        stats[c] = (float(x.mean()) if x.notna().any() else 0.0, std if std > 0 else 1.0)
    levels = {
        c: sorted(
            set(reference[c].astype(object).where(reference[c].notna(), "<null>").astype(str))
        )
        for c in kinds.categorical
    }

    def encode(frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        parts: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        for c in kinds.numeric:
            mean, std = stats[c]
            x = pd.to_numeric(frame[c], errors="coerce").astype(float).to_numpy()
            isnull = np.isnan(x)
            parts.append(np.where(isnull, 0.0, (x - mean) / std)[:, None])
            parts.append(isnull.astype(float)[:, None])
        for c in kinds.categorical:
            values = frame[c].astype(object).where(frame[c].notna(), "<null>").astype(str)
            cat = pd.Categorical(values, categories=levels[c])
            onehot = np.zeros((len(frame), len(levels[c])))
            codes = np.asarray(cat.codes)
            known = codes >= 0
            onehot[np.nonzero(known)[0], codes[known]] = 1.0
            parts.append(onehot)
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    return encode


def dcr_share(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: ColumnKinds,
    *,
    rows: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """Share of synthetic rows closer (strictly) to a training row than to any holdout row.

    Training and holdout subsamples have the same size (the smaller of *rows*
    and both tables), so a generator that never saw the training rows scores
    about 0.5 (ties, exact matches in both, are reported apart).
    """
    from sklearn.neighbors import NearestNeighbors

    n = min(rows, len(train), len(holdout))
    if n == 0 or len(synthetic) == 0:
        return {"dcr_share": float("nan"), "dcr_ties": float("nan"), "dcr_rows": 0}
    rng = np.random.default_rng(seed)
    tr = train.iloc[rng.choice(len(train), n, replace=False)]
    ho = holdout.iloc[rng.choice(len(holdout), n, replace=False)]
    sy = synthetic.iloc[rng.choice(len(synthetic), min(n, len(synthetic)), replace=False)]
    encode = _encoder(tr, kinds)
    sy_x = encode(sy)
    d_train = NearestNeighbors(n_neighbors=1).fit(encode(tr)).kneighbors(sy_x)[0][:, 0]
    d_hold = NearestNeighbors(n_neighbors=1).fit(encode(ho)).kneighbors(sy_x)[0][:, 0]
    return {
        "dcr_share": float(np.mean(d_train < d_hold)),
        "dcr_ties": float(np.mean(np.isclose(d_train, d_hold))),
        "dcr_rows": int(n),
    }


# --------------------------------------------------------------------------- structure


def structure(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: ColumnKinds) -> dict[str, Any]:
    """Per column: values outside the real range, non-integers, null shares; and the worst of each.

    ``out_of_range`` is over the non-null synthetic values: numbers below the
    real minimum or above the real maximum, categories that never occur in
    the real column. ``tv`` is the total variation of a categorical marginal.
    """
    columns: dict[str, dict[str, float]] = {}
    for c in kinds.columns:
        r, s = real[c], synthetic[c] if c in synthetic else pd.Series([None] * len(synthetic))
        entry: dict[str, float] = {
            "null_real": float(r.isna().mean()),
            "null_synthetic": float(s.isna().mean()) if len(s) else float("nan"),
        }
        present = s.dropna()
        if c in kinds.numeric:
            x = pd.to_numeric(present, errors="coerce").astype(float)
            rx = pd.to_numeric(r, errors="coerce").astype(float)
            lo, hi = float(rx.min()), float(rx.max())
            bad = x.isna() | (x < lo) | (x > hi)
            entry["out_of_range"] = float(bad.mean()) if len(x) else 0.0
            entry["synthetic_min"] = float(x.min()) if len(x) else float("nan")
            entry["synthetic_max"] = float(x.max()) if len(x) else float("nan")
            entry["real_min"], entry["real_max"] = lo, hi
            if c in kinds.integer:
                xs = x.dropna()
                entry["non_integer"] = float((xs != np.round(xs)).mean()) if len(xs) else 0.0
        else:
            seen = set(r.dropna().astype(str))
            values = present.astype(str)
            entry["out_of_range"] = float((~values.isin(seen)).mean()) if len(values) else 0.0
            entry["categories_real"] = float(len(seen))
            entry["categories_synthetic"] = float(values.nunique())
            entry["tv"] = total_variation(r, s)
        entry["null_drift"] = abs(entry["null_synthetic"] - entry["null_real"])
        columns[c] = entry

    def worst(key: str) -> tuple[float, str]:
        best = (0.0, "")
        for name, entry in columns.items():
            value = entry.get(key, 0.0)
            if np.isfinite(value) and value > best[0]:
                best = (float(value), name)
        return best

    oor, oor_col = worst("out_of_range")
    drift, drift_col = worst("null_drift")
    nonint, nonint_col = worst("non_integer")
    tv, tv_col = worst("tv")
    return {
        "max_out_of_range": oor,
        "max_out_of_range_column": oor_col,
        "max_null_drift": drift,
        "max_null_drift_column": drift_col,
        "max_non_integer": nonint,
        "max_non_integer_column": nonint_col,
        "max_tv": tv,
        "max_tv_column": tv_col,
        "columns": columns,
    }


# --------------------------------------------------------------------------- output


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats with three decimals, None and NaN as a dash."""

    def cell(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            if not np.isfinite(v):
                return "—"
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3f}"
        return str(v)

    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)
