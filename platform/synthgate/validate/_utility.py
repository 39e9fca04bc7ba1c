"""Utility: does a model trained on synthetic rows work on real rows?

Train-on-synthetic / test-on-real (TSTR) against train-on-real / test-on-real
(TRTR), both tested on the real holdout the synthesizer never saw. The task
follows the target column's type: binary classification (ROC AUC),
multi-class classification (macro F1) or regression (R²), each with
scikit-learn's HistGradientBoosting and native categorical support.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from synthgate.contracts import Goal, LogicalType
from synthgate.validate._binning import is_missing, value_key
from synthgate.validate._context import ValidationContext
from synthgate.validate._registry import Area, Measurement, MetricDef, Reference, RefOp

__all__ = ["METRICS", "Models", "Target", "Task", "fitted_models", "target_of"]

_MAX_LEVELS = 250  # HistGradientBoosting handles at most 255 categories per feature
MIN_HOLDOUT_ROWS = 20
#: threads for the gradient-boosting fits. One: with the row caps above the fits
#: take seconds, and OpenMP's spinning threads make them several times slower,
#: not faster, as soon as the machine is shared with other work
MODEL_THREADS = 1


class Task(enum.StrEnum):
    BINARY = "binary classification"
    MULTICLASS = "multi-class classification"
    REGRESSION = "regression"

    @property
    def score_name(self) -> str:
        return {
            Task.BINARY: "ROC AUC",
            Task.MULTICLASS: "macro F1",
            Task.REGRESSION: "R²",
        }[self]


@dataclass(frozen=True, slots=True)
class Target:
    column: str
    task: Task
    positive: str | None = None  # key of the positive class (binary tasks)
    positive_shown: bool = False  # the class holds ≥ k real rows, so it may be named


@dataclass(frozen=True)
class Models:
    """The two fitted models and their predictions on the real holdout."""

    target: Target
    features: list[str]
    holdout: pd.DataFrame  # real holdout rows with a known target (in memory only)
    y_true: np.ndarray[Any, Any]
    pred_real: np.ndarray[Any, Any]  # labels (classification) or values (regression)
    pred_syn: np.ndarray[Any, Any]
    score_real: float
    score_syn: float
    extra: dict[str, Any] = field(default_factory=dict)


def target_of(ctx: ValidationContext) -> Target | str:
    """The target and its task, or the reason there is none (memoised)."""
    return ctx.memo("utility.target", lambda: _target_of(ctx))


def _target_of(ctx: ValidationContext) -> Target | str:
    name = ctx.input.target_column
    if not name:
        return "no validation.target_column in the job spec"
    if name not in ctx.columns:
        return f"target column {name!r} was not modelled (dropped or replaced by fake values)"
    col = ctx.schema.column(name)
    real = ctx.real[name].dropna()
    keys = real.map(value_key)
    counts = keys.value_counts()
    if col.type.is_temporal:
        return "date targets are not supported"
    if col.type.is_numeric and not (
        col.type is LogicalType.INTEGER and set(counts.index) <= {"0", "1"}
    ):
        if real.nunique() < 2:
            return "the target has a single value in the real data"
        return Target(name, Task.REGRESSION)
    if len(counts) < 2:
        return "the target has a single value in the real data"
    if len(counts) == 2:
        positive = "True" if "True" in counts.index else ("1" if "1" in counts.index else None)
        if positive is None:
            positive = str(counts.index[-1])  # the less frequent class
        return Target(
            name, Task.BINARY, positive, bool(counts.get(positive, 0) >= ctx.options.k_min)
        )
    return Target(name, Task.MULTICLASS)


def _feature_frames(
    ctx: ValidationContext, features: list[str], frames: list[pd.DataFrame], reference: pd.DataFrame
) -> list[pd.DataFrame]:
    out: list[dict[str, Any]] = [{} for _ in frames]
    for name in features:
        col = ctx.schema.column(name)
        if col.type.is_numeric or col.type.is_temporal:
            for i, f in enumerate(frames):
                s = f[name]
                if pd.api.types.is_datetime64_any_dtype(s):
                    x = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
                    x[s.isna().to_numpy()] = np.nan
                    out[i][name] = x / 86_400e9
                else:
                    out[i][name] = pd.to_numeric(s, errors="coerce").to_numpy(
                        dtype=float, na_value=np.nan
                    )
        else:
            cats = list(reference[name].dropna().map(value_key).value_counts().index[:_MAX_LEVELS])
            for i, f in enumerate(frames):
                keys = f[name].map(lambda v: None if is_missing(v) else value_key(v))
                out[i][name] = pd.Categorical(keys, categories=cats)
    return [pd.DataFrame(o) for o in out]


def _labels(series: pd.Series[Any]) -> np.ndarray[Any, Any]:
    return series.map(value_key).to_numpy(dtype=object)


def _fit_predict(
    target: Target,
    x_train: pd.DataFrame,
    y_train: np.ndarray[Any, Any],
    x_test: pd.DataFrame,
    seed: int,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """Predictions (labels or values) and, for binary tasks, P(positive)."""
    with threadpool_limits(limits=MODEL_THREADS, user_api="openmp"):
        return _fit_predict_unlimited(target, x_train, y_train, x_test, seed)


def _fit_predict_unlimited(
    target: Target,
    x_train: pd.DataFrame,
    y_train: np.ndarray[Any, Any],
    x_test: pd.DataFrame,
    seed: int,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    n = len(x_test)
    if target.task is Task.REGRESSION:
        if len(y_train) == 0:
            return np.zeros(n), None
        reg = HistGradientBoostingRegressor(
            max_iter=100, categorical_features="from_dtype", random_state=seed, early_stopping=False
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reg.fit(x_train, y_train.astype(float))
        return np.asarray(reg.predict(x_test), dtype=float), None
    classes = np.unique(y_train)
    if len(classes) < 2:  # a synthesizer that produced one class: a constant model
        const = classes[0] if len(classes) else ""
        constant = np.full(n, 1.0 if const == target.positive else 0.0)
        return np.full(n, const, dtype=object), constant
    clf = HistGradientBoostingClassifier(
        max_iter=100, categorical_features="from_dtype", random_state=seed, early_stopping=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(x_train, y_train)
    pred = np.asarray(clf.predict(x_test), dtype=object)
    proba: np.ndarray[Any, Any] | None = None
    if target.task is Task.BINARY:
        pos = list(clf.classes_).index(target.positive) if target.positive in clf.classes_ else None
        proba = clf.predict_proba(x_test)[:, pos] if pos is not None else np.zeros(n)
    return pred, proba


def _score(
    target: Target,
    y_true: np.ndarray[Any, Any],
    pred: np.ndarray[Any, Any],
    proba: np.ndarray[Any, Any] | None,
) -> tuple[float, dict[str, float]]:
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        mean_absolute_error,
        r2_score,
        roc_auc_score,
    )

    if target.task is Task.REGRESSION:
        yt = y_true.astype(float)
        return float(r2_score(yt, pred)), {"mae": float(mean_absolute_error(yt, pred))}
    acc = float(accuracy_score(y_true, pred))
    if target.task is Task.BINARY:
        assert proba is not None
        truth = (y_true == target.positive).astype(int)
        return float(roc_auc_score(truth, proba)), {"accuracy": acc}
    return float(f1_score(y_true, pred, average="macro", zero_division=0)), {"accuracy": acc}


def fitted_models(ctx: ValidationContext) -> Models | str:
    """TRTR and TSTR models (memoised), or the reason they cannot be built."""

    def build() -> Models | str:
        target = target_of(ctx)
        if isinstance(target, str):
            return target
        if ctx.holdout is None or len(ctx.holdout) < MIN_HOLDOUT_ROWS:
            return f"fewer than {MIN_HOLDOUT_ROWS} holdout rows"
        n = ctx.options.max_model_rows
        name = target.column
        real = ctx.sample(ctx.real[ctx.real[name].notna()], n, purpose="utility", salt="real")
        syn = ctx.sample(
            ctx.synthetic[ctx.synthetic[name].notna()], n, purpose="utility", salt="synthetic"
        )
        hold = ctx.sample(
            ctx.holdout[ctx.holdout[name].notna()], n, purpose="utility", salt="holdout"
        )
        if target.task is Task.BINARY and hold[name].map(value_key).nunique() < 2:
            return "the holdout holds a single target class"
        features = [c for c in ctx.columns if c != name]
        if not features:
            return "the target is the only modelled column"
        x_real, x_syn, x_hold = _feature_frames(ctx, features, [real, syn, hold], real)
        if target.task is Task.REGRESSION:
            y_real = real[name].to_numpy(dtype=float)
            y_syn = pd.to_numeric(syn[name], errors="coerce").to_numpy(dtype=float)
            y_true = hold[name].to_numpy(dtype=float)
        else:
            y_real, y_syn, y_true = _labels(real[name]), _labels(syn[name]), _labels(hold[name])
        seed = ctx.options.seed % 2**31
        pred_real, proba_real = _fit_predict(target, x_real, y_real, x_hold, seed)
        pred_syn, proba_syn = _fit_predict(target, x_syn, y_syn, x_hold, seed)
        score_real, extra_real = _score(target, y_true, pred_real, proba_real)
        score_syn, extra_syn = _score(target, y_true, pred_syn, proba_syn)
        return Models(
            target=target,
            features=features,
            holdout=hold,
            y_true=y_true,
            pred_real=pred_real,
            pred_syn=pred_syn,
            score_real=score_real,
            score_syn=score_syn,
            extra={
                "real": extra_real,
                "synthetic": extra_syn,
                "rows": {"real": len(real), "synthetic": len(syn), "holdout": len(hold)},
            },
        )

    return ctx.memo("utility.models", build)


def _common(m: Models) -> dict[str, Any]:
    t = m.target
    return {
        "target": t.column,
        "task": t.task.value,
        "score": t.task.score_name,
        "positive_class": t.positive if t.positive_shown else None,
        "model": "HistGradientBoosting (scikit-learn), 100 iterations",
        "rows": m.extra["rows"],
    }


def _trtr(ctx: ValidationContext) -> Measurement:
    m = fitted_models(ctx)
    if isinstance(m, str):
        return Measurement.skip(m)
    return Measurement(round(m.score_real, 4), {**_common(m), **m.extra["real"]})


def _tstr(ctx: ValidationContext) -> Measurement:
    m = fitted_models(ctx)
    if isinstance(m, str):
        return Measurement.skip(m)
    return Measurement(round(m.score_syn, 4), {**_common(m), **m.extra["synthetic"]})


def _ratio(ctx: ValidationContext) -> Measurement:
    m = fitted_models(ctx)
    if isinstance(m, str):
        return Measurement.skip(m)
    if m.score_real <= 0:
        return Measurement.skip("the model trained on real data has no skill on the holdout")
    return Measurement(
        round(max(0.0, m.score_syn) / m.score_real, 4),
        {**_common(m), "tstr": round(m.score_syn, 4), "trtr": round(m.score_real, 4)},
    )


METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        name="utility.trtr_score",
        area=Area.UTILITY,
        title="Model trained on real data",
        goal=Goal.MAXIMIZE,
        bounds=(-np.inf, 1.0),
        explanation=(
            "Score on the real holdout of a model trained on the real training rows: the "
            "benchmark the synthetic-trained model is compared with."
        ),
        good="Context only: it shows how predictable the target is at all.",
        compute=_trtr,
    ),
    MetricDef(
        name="utility.tstr_score",
        area=Area.UTILITY,
        title="Model trained on synthetic data",
        goal=Goal.MAXIMIZE,
        bounds=(-np.inf, 1.0),
        explanation=(
            "Score on the same real holdout of the same model trained on the synthetic table "
            "instead (train on synthetic, test on real)."
        ),
        good="Close to the real-trained score.",
        compute=_tstr,
    ),
    MetricDef(
        name="utility.tstr_ratio",
        area=Area.UTILITY,
        title="Synthetic / real model score",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, np.inf),
        explanation=(
            "The synthetic-trained model's score divided by the real-trained model's score "
            "(1 means the synthetic table is as useful for this prediction task)."
        ),
        good="0.9 or more; below 0.8 models built on the synthetic table lose much accuracy.",
        compute=_ratio,
        reference=Reference(RefOp.GE, 0.9, 0.8),
    ),
)
