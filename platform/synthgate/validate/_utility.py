"""Utility: does a model trained on synthetic rows work on real rows?

Train-on-synthetic / test-on-real (TSTR) against train-on-real / test-on-real
(TRTR), both tested on the real holdout the synthesizer never saw. The task
follows the target column's type: binary classification (ROC AUC),
multi-class classification (macro F1) or regression (R²), each with
scikit-learn's HistGradientBoosting and native categorical support.

Degenerate columns never break the metrics. A feature with no value in a
model's training frame (an all-missing synthetic column, say) is left out of
that model and listed in the details; a model with no usable feature predicts
a constant. When the synthetic target is empty or holds a single value, no
synthetic-trained model can be built: the real-trained score is still
reported and the synthetic-trained metrics are "not computed", with the reason.
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
    pred_syn: np.ndarray[Any, Any] | None  # None: see ``syn_skipped``
    score_real: float
    score_syn: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    #: why no model could be trained on the synthetic rows
    syn_skipped: str | None = None


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
    if real.empty:
        return "the target column has no value in the real training rows"
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
                    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                    x[~np.isfinite(x)] = np.nan  # an infinite synthetic value: unusable
                    out[i][name] = x
        else:
            cats = list(reference[name].dropna().map(value_key).value_counts().index[:_MAX_LEVELS])
            for i, f in enumerate(frames):
                keys = f[name].map(lambda v: None if is_missing(v) else value_key(v))
                out[i][name] = pd.Categorical(keys, categories=cats)
    return [pd.DataFrame(o) for o in out]


def _labels(series: pd.Series[Any]) -> np.ndarray[Any, Any]:
    return series.map(value_key).to_numpy(dtype=object)


@dataclass(frozen=True)
class _Fit:
    pred: np.ndarray[Any, Any]  # labels (classification) or values (regression)
    proba: np.ndarray[Any, Any] | None  # P(positive), binary tasks only
    unused: list[str]  # features with no value in the training frame, left out


def _fit_predict(
    target: Target,
    x_train: pd.DataFrame,
    y_train: np.ndarray[Any, Any],
    x_test: pd.DataFrame,
    seed: int,
) -> _Fit:
    """Fit on the features that hold a value in *x_train*; predict *x_test*."""
    usable = [c for c in x_train.columns if x_train[c].notna().any()]
    unused = [c for c in x_train.columns if c not in usable]
    if not usable:
        pred, proba = _constant(target, y_train, len(x_test))
        return _Fit(pred, proba, unused)
    with threadpool_limits(limits=MODEL_THREADS, user_api="openmp"):
        pred, proba = _fit_predict_unlimited(target, x_train[usable], y_train, x_test[usable], seed)
    return _Fit(pred, proba, unused)


def _constant(
    target: Target, y_train: np.ndarray[Any, Any], n: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """A model without features: the mean, or the most frequent class."""
    if target.task is Task.REGRESSION:
        mean = float(np.mean(y_train.astype(float))) if len(y_train) else 0.0
        return np.full(n, mean), None
    labels, counts = np.unique(y_train, return_counts=True)
    const = labels[int(np.argmax(counts))] if len(labels) else ""
    share = float(np.mean(y_train == target.positive)) if len(y_train) else 0.0
    proba = np.full(n, share) if target.task is Task.BINARY else None
    return np.full(n, const, dtype=object), proba


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


def _synthetic_target_problem(y_syn: np.ndarray[Any, Any]) -> str | None:
    """Why no model can learn the target from the synthetic rows, if it cannot."""
    if len(y_syn) == 0:
        return "the synthetic target column is empty: no model can be trained on it"
    if len(pd.unique(y_syn)) < 2:
        return (
            "the synthetic target column holds a single value: a model trained on it "
            "can only predict a constant"
        )
    return None


def _known_target(frame: pd.DataFrame, target: Target) -> pd.DataFrame:
    """Rows whose target is known (and, for regression, a finite number)."""
    y = frame[target.column]
    keep = y.notna()
    if target.task is Task.REGRESSION:
        values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        keep &= np.isfinite(values)
    return frame[keep.to_numpy()]


def _targets(target: Target, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    if target.task is Task.REGRESSION:
        return pd.to_numeric(frame[target.column], errors="coerce").to_numpy(dtype=float)
    return _labels(frame[target.column])


def fitted_models(ctx: ValidationContext) -> Models | str:
    """TRTR and TSTR models (memoised), or the reason they cannot be built.

    When only the synthetic side is unusable (its target is empty or constant),
    the real-trained model is still built and ``syn_skipped`` says why.
    """

    def build() -> Models | str:
        target = target_of(ctx)
        if isinstance(target, str):
            return target
        if ctx.holdout is None or len(ctx.holdout) < MIN_HOLDOUT_ROWS:
            return f"fewer than {MIN_HOLDOUT_ROWS} holdout rows"
        n = ctx.options.max_model_rows
        name = target.column
        real = ctx.sample(_known_target(ctx.real, target), n, purpose="utility", salt="real")
        syn = ctx.sample(
            _known_target(ctx.synthetic, target), n, purpose="utility", salt="synthetic"
        )
        hold = ctx.sample(_known_target(ctx.holdout, target), n, purpose="utility", salt="holdout")
        if len(hold) < MIN_HOLDOUT_ROWS:
            return f"fewer than {MIN_HOLDOUT_ROWS} holdout rows with a known target"
        if target.task is Task.BINARY and hold[name].map(value_key).nunique() < 2:
            return "the holdout holds a single target class"
        features = [c for c in ctx.columns if c != name]
        if not features:
            return "the target is the only modelled column"
        x_real, x_syn, x_hold = _feature_frames(ctx, features, [real, syn, hold], real)
        y_real, y_syn, y_true = (_targets(target, f) for f in (real, syn, hold))
        seed = ctx.options.seed % 2**31
        fit_real = _fit_predict(target, x_real, y_real, x_hold, seed)
        score_real, extra_real = _score(target, y_true, fit_real.pred, fit_real.proba)
        unused = {"real": fit_real.unused}
        skipped = _synthetic_target_problem(y_syn)
        pred_syn: np.ndarray[Any, Any] | None = None
        score_syn: float | None = None
        extra_syn: dict[str, float] = {}
        if skipped is None:
            fit_syn = _fit_predict(target, x_syn, y_syn, x_hold, seed)
            pred_syn = fit_syn.pred
            score_syn, extra_syn = _score(target, y_true, fit_syn.pred, fit_syn.proba)
            unused["synthetic"] = fit_syn.unused
        return Models(
            target=target,
            features=features,
            holdout=hold,
            y_true=y_true,
            pred_real=fit_real.pred,
            pred_syn=pred_syn,
            score_real=score_real,
            score_syn=score_syn,
            extra={
                "real": extra_real,
                "synthetic": extra_syn,
                "rows": {"real": len(real), "synthetic": len(syn), "holdout": len(hold)},
                "features_without_values": {k: v for k, v in unused.items() if v},
            },
            syn_skipped=skipped,
        )

    return ctx.memo("utility.models", build)


def _common(m: Models) -> dict[str, Any]:
    t = m.target
    out = {
        "target": t.column,
        "task": t.task.value,
        "score": t.task.score_name,
        "positive_class": t.positive if t.positive_shown else None,
        "model": "HistGradientBoosting (scikit-learn), 100 iterations",
        "rows": m.extra["rows"],
    }
    if m.extra["features_without_values"]:
        out["features_without_values"] = m.extra["features_without_values"]
    return out


def _trtr(ctx: ValidationContext) -> Measurement:
    m = fitted_models(ctx)
    if isinstance(m, str):
        return Measurement.skip(m)
    return Measurement(round(m.score_real, 4), {**_common(m), **m.extra["real"]})


def _tstr(ctx: ValidationContext) -> Measurement:
    m = fitted_models(ctx)
    if isinstance(m, str):
        return Measurement.skip(m)
    if m.score_syn is None:
        return Measurement(None, _common(m), m.syn_skipped)
    return Measurement(round(m.score_syn, 4), {**_common(m), **m.extra["synthetic"]})


def _ratio(ctx: ValidationContext) -> Measurement:
    m = fitted_models(ctx)
    if isinstance(m, str):
        return Measurement.skip(m)
    if m.score_syn is None:
        return Measurement(None, {**_common(m), "trtr": round(m.score_real, 4)}, m.syn_skipped)
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
