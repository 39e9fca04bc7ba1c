"""Bias: do protected groups keep their place in the synthetic table?

For each ``protected_attributes`` column the groups are the cells of a
privacy-safe partition (every group holds ≥ k real rows; numbers are banded).
Reported per attribute:

- group shares, real versus synthetic, and groups the synthetic table erased;
- the outcome rate per group (binary targets; the target's mean for
  regression), real versus synthetic, and whether the spread between groups
  grew (amplification);
- demographic-parity and equalized-odds differences (as in fairlearn) of the
  synthetic-trained model versus the real-trained model, both on the real
  holdout (binary targets);
- when the job asks for rebalancing, how far each group's share moved toward
  the requested one.

Degenerate columns are reported, never fatal: an attribute that is entirely
missing (real or synthetic) is skipped with the reason; outcome rates count
only rows whose target is known, and are withheld where a group has none; the
fairness gaps are skipped, with the reason, when no model could be trained on
the synthetic rows (an empty or single-valued synthetic target).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import Goal
from synthgate.validate._binning import build_binning, value_key
from synthgate.validate._context import ValidationContext
from synthgate.validate._registry import Area, Measurement, MetricDef, Reference, RefOp
from synthgate.validate._resolution import KEEP_SIGMAS, column_sigma, keep_floor
from synthgate.validate._utility import Models, Target, Task, fitted_models, target_of

__all__ = ["AMPLIFICATION", "ERASED_RATIO", "METRICS", "analyse_bias"]

#: a gap that grows by more than this (absolute) is flagged as amplified
AMPLIFICATION = 0.05
#: a group whose synthetic share falls below this fraction of its real share is erased
ERASED_RATIO = 0.1


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _spread(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(max(present) - min(present)) if len(present) >= 2 else None


def _spread_se(values: Sequence[float | None], counts: Sequence[int]) -> float | None:
    """Standard error of the spread: of the difference between the extreme groups' rates."""
    present = [(v, n) for v, n in zip(values, counts, strict=True) if v is not None and n > 0]
    if len(present) < 2:
        return None
    hi = max(present, key=lambda p: p[0])
    lo = min(present, key=lambda p: p[0])
    var = sum(min(max(p, 0.0), 1.0) * (1 - min(max(p, 0.0), 1.0)) / n for p, n in (hi, lo))
    return float(np.sqrt(var))


def _noise(*ses: float | None) -> float:
    """Two standard errors of a difference of two independent gaps."""
    present = [x for x in ses if x is not None]
    return float(2 * np.sqrt(sum(x * x for x in present))) if present else 0.0


def _grew(delta: float | None, noise: float) -> bool:
    return delta is not None and delta > max(AMPLIFICATION, noise)


def _rebalanced(spec: Mapping[str, Any] | None, attribute: str) -> Any:
    """The rebalance request for *attribute*, if the job makes one (shape-tolerant)."""
    if not spec:
        return None
    if attribute in spec:
        return spec[attribute] if spec[attribute] is not None else "balanced"
    for key in ("column", "attribute"):
        if spec.get(key) == attribute:
            return spec.get("target") or spec.get("shares") or spec.get("strategy") or "balanced"
    for key in ("columns", "attributes"):
        value = spec.get(key)
        if isinstance(value, Mapping) and attribute in value:
            return value[attribute]
        if isinstance(value, Sequence) and not isinstance(value, str) and attribute in value:
            return spec.get("target") or spec.get("strategy") or "balanced"
    return None


def _rebalance_effect(
    request: Any, labels: Sequence[str], real: np.ndarray[Any, Any], syn: np.ndarray[Any, Any]
) -> dict[str, Any]:
    """Total variation distance to the requested shares, before and after."""
    if isinstance(request, Mapping):
        wanted = np.array([float(request.get(label, 0.0) or 0.0) for label in labels])
        if wanted.sum() <= 0:
            return {"request": "unrecognised", "note": "no requested share matches a group"}
        wanted = wanted / wanted.sum()
        kind = "requested shares"
    else:
        wanted = np.full(len(labels), 1.0 / max(len(labels), 1))
        kind = "equal shares"
    r = np.asarray(real, dtype=float)
    s = np.asarray(syn, dtype=float)
    before = float(np.abs(r - wanted).sum() / 2)
    after = float(np.abs(s - wanted).sum() / 2)
    return {
        "request": kind,
        "distance_real": round(before, 4),
        "distance_synthetic": round(after, 4),
        "moved_toward_target": after < before,
    }


def _fairness(
    models: Models, cells: np.ndarray[Any, Any], n_groups: int, k: int
) -> dict[str, Any] | None:
    """Demographic-parity and equalized-odds differences of both models on the holdout."""
    t = models.target
    if t.task is not Task.BINARY:
        return None
    if models.pred_syn is None:
        return {"skipped": models.syn_skipped or "no model was trained on the synthetic rows"}
    truth = models.y_true == t.positive
    rows: list[dict[str, Any]] = []
    gaps: dict[str, dict[str, float | None]] = {}
    for which, pred_labels in (("real", models.pred_real), ("synthetic", models.pred_syn)):
        pred = pred_labels == t.positive
        sel: list[float | None] = []
        tpr: list[float | None] = []
        fpr: list[float | None] = []
        n_all: list[int] = []
        n_pos: list[int] = []
        n_neg: list[int] = []
        for g in range(n_groups):
            in_g = cells == g
            n = int(in_g.sum())
            pos = int((in_g & truth).sum())
            neg = n - pos
            n_all.append(n)
            n_pos.append(pos)
            n_neg.append(neg)
            sel.append(float(pred[in_g].mean()) if n >= k else None)
            tpr.append(float(pred[in_g & truth].mean()) if pos >= k else None)
            fpr.append(float(pred[in_g & ~truth].mean()) if neg >= k else None)
        tpr_gap, fpr_gap = _spread(tpr), _spread(fpr)
        eo = None if tpr_gap is None and fpr_gap is None else max(tpr_gap or 0.0, fpr_gap or 0.0)
        eo_se = (
            _spread_se(tpr, n_pos)
            if (tpr_gap or 0.0) >= (fpr_gap or 0.0)
            else _spread_se(fpr, n_neg)
        )
        gaps[which] = {
            "parity": _spread(sel),
            "parity_se": _spread_se(sel, n_all),
            "equalized_odds": eo,
            "equalized_odds_se": eo_se,
        }
        rows.append({"model": which, "selection_rate": [_r(v) for v in sel]})
    dp_delta = _delta(gaps["real"]["parity"], gaps["synthetic"]["parity"])
    eo_delta = _delta(gaps["real"]["equalized_odds"], gaps["synthetic"]["equalized_odds"])
    dp_noise = _noise(gaps["real"]["parity_se"], gaps["synthetic"]["parity_se"])
    eo_noise = _noise(gaps["real"]["equalized_odds_se"], gaps["synthetic"]["equalized_odds_se"])
    return {
        "parity_gap_real": _r(gaps["real"]["parity"]),
        "parity_gap_synthetic": _r(gaps["synthetic"]["parity"]),
        "parity_gap_delta": _r(dp_delta),
        "parity_noise": _r(dp_noise),
        "parity_amplified": _grew(dp_delta, dp_noise),
        "eodds_gap_real": _r(gaps["real"]["equalized_odds"]),
        "eodds_gap_synthetic": _r(gaps["synthetic"]["equalized_odds"]),
        "eodds_gap_delta": _r(eo_delta),
        "eodds_noise": _r(eo_noise),
        "eodds_amplified": _grew(eo_delta, eo_noise),
        "selection_rates": rows,
        "holdout_groups_used": [int((cells == g).sum()) >= k for g in range(n_groups)],
    }


def _outcomes(
    ctx: ValidationContext,
    target: Target,
    real_cells: np.ndarray[Any, Any],
    syn_cells: np.ndarray[Any, Any],
    g: int,
    out: dict[str, Any],
) -> list[str]:
    """Outcome rate (or mean) per group, real versus synthetic; returns amplification flags."""
    k = ctx.options.k_min
    tname = target.column
    real_y, syn_y = ctx.real[tname], ctx.synthetic[tname]
    real_rates: list[float | None] = []
    syn_rates: list[float | None] = []
    real_counts = [int((real_cells == i).sum()) for i in range(g)]
    syn_counts = [int((syn_cells == i).sum()) for i in range(g)]
    real_known, syn_known = real_y.notna().to_numpy(), syn_y.notna().to_numpy()
    if target.task is Task.BINARY:
        real_pos = (real_y.map(value_key, na_action="ignore") == target.positive).to_numpy()
        syn_pos = (syn_y.map(value_key, na_action="ignore") == target.positive).to_numpy()
        for i in range(g):
            in_r, in_s = (real_cells == i) & real_known, (syn_cells == i) & syn_known
            pos = int((in_r & real_pos).sum())
            neg = int(in_r.sum()) - pos
            if pos >= k and neg >= k:  # both cells of the group × outcome table ≥ k
                real_rates.append(pos / int(in_r.sum()))
                syn_rates.append(float(syn_pos[in_s].mean()) if in_s.any() else None)
            else:
                real_rates.append(None)
                syn_rates.append(None)
        out["outcome"] = (
            f"share with {tname} = {target.positive}"
            if target.positive_shown
            else f"share in the positive class of {tname}"
        )
    elif target.task is Task.REGRESSION:
        ry = pd.to_numeric(real_y, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        sy = pd.to_numeric(syn_y, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        real_known, syn_known = np.isfinite(ry), np.isfinite(sy)
        for i in range(g):
            in_r, in_s = (real_cells == i) & real_known, (syn_cells == i) & syn_known
            real_rates.append(float(ry[in_r].mean()) if in_r.sum() >= k else None)
            syn_rates.append(float(sy[in_s].mean()) if in_s.any() else None)
        out["outcome"] = f"mean of {tname}"
    if not real_rates:
        return []
    if not syn_known.any():
        out["outcome_skipped"] = f"the synthetic {tname} column is empty"
    spread_r, spread_s = _spread(real_rates), _spread(syn_rates)
    delta = _delta(spread_r, spread_s)
    noise = 0.0
    if target.task is Task.REGRESSION and delta is not None:
        present = pd.to_numeric(real_y, errors="coerce").dropna()
        scale = float(present.std(ddof=0)) if len(present) else 0.0
        scale = scale if math.isfinite(scale) and scale > 0 else 1.0
        delta = delta / scale  # in standard deviations of the target
    elif target.task is Task.BINARY:
        noise = _noise(_spread_se(real_rates, real_counts), _spread_se(syn_rates, syn_counts))
    out.update(
        real_outcome=[_r(v) for v in real_rates],
        synthetic_outcome=[_r(v) for v in syn_rates],
        outcome_gap_real=_r(spread_r),
        outcome_gap_synthetic=_r(spread_s),
        outcome_gap_delta=_r(delta),
        outcome_noise=_r(noise),
    )
    return ["outcome gap between groups grew"] if _grew(delta, noise) else []


def _dp_resolution(
    ctx: ValidationContext, name: str, real: pd.Series[Any], cells: np.ndarray[Any, Any], g: int
) -> list[float]:
    """Per group, the real rows below which a DP release cannot be expected to keep it:
    KEEP_SIGMAS noise standard deviations of the group's count, summed over the
    distinct values it spans (each its own noisy cell at most). Zero for a fit
    that measured the column without noise."""
    if column_sigma(ctx, name) is None:
        return [0.0] * g
    keys = real.map(value_key).to_numpy()
    spans = [len({keys[j] for j in np.flatnonzero(cells == i)}) for i in range(g)]
    return [keep_floor(ctx, name, c) for c in spans]


def _attribute(ctx: ValidationContext, name: str) -> dict[str, Any]:
    k = ctx.options.k_min
    if name not in ctx.columns:
        return {"attribute": name, "skipped": "not modelled (dropped or replaced by fake values)"}
    if ctx.real[name].isna().all():
        return {"attribute": name, "skipped": "the real column has no value"}
    if ctx.synthetic[name].isna().all():
        return {
            "attribute": name,
            "skipped": "the synthetic column has no value, so no group can be compared "
            "(see structural validity)",
        }
    col = ctx.schema.column(name)
    binning = build_binning(col, ctx.real[name], k=k, max_bins=6, max_categories=20)
    if binning is None or len(binning.labels) < 2:
        return {"attribute": name, "skipped": f"fewer than two groups with {k} or more real rows"}
    labels = list(binning.labels)
    g = len(labels)
    real_cells = binning.assign(ctx.real[name])
    syn_cells = binning.assign(ctx.synthetic[name])
    real_n = np.bincount(real_cells, minlength=g + 2)[:g]
    syn_all = np.bincount(syn_cells, minlength=g + 2)
    syn_n = syn_all[:g]
    real_share = real_n / max(len(real_cells), 1)
    syn_share = syn_n / max(len(syn_cells), 1)
    vanished = [
        i for i in range(g) if real_n[i] >= k and syn_share[i] < ERASED_RATIO * real_share[i]
    ]
    resolution = _dp_resolution(ctx, name, ctx.real[name], real_cells, g)
    erased = [labels[i] for i in vanished if real_n[i] >= resolution[i]]
    under_noise = [labels[i] for i in vanished if real_n[i] < resolution[i]]
    out: dict[str, Any] = {
        "attribute": name,
        "groups": labels,
        "real_share": [_r(v) for v in real_share],
        "synthetic_share": [_r(v) for v in syn_share],
        "synthetic_outside_groups": _r(syn_all[g:].sum() / max(len(syn_cells), 1)),
        "max_share_gap": _r(float(np.abs(real_share - syn_share).max())),
        "erased": erased,
        # vanished, but smaller than the DP noise lets a release keep: the price of the
        # guarantee at this ε, reported, not counted as erased
        "below_dp_resolution": under_noise,
    }
    request = _rebalanced(ctx.input.rebalance, name)
    if request is not None:
        out["rebalance"] = _rebalance_effect(request, labels, real_share, syn_share)
    flags: list[str] = []  # amplification findings
    target = target_of(ctx)
    if not isinstance(target, str):
        flags += _outcomes(ctx, target, real_cells, syn_cells, g, out)
        models = fitted_models(ctx)
        fair = None
        if not isinstance(models, str):
            fair = _fairness(models, binning.assign(models.holdout[name]), g, k)
        if fair is not None and "skipped" in fair:
            out["fairness_skipped"] = fair["skipped"]
        elif fair is not None:
            out["fairness"] = fair
            if fair["parity_amplified"]:
                flags.append("the synthetic-trained model is less fair (demographic parity)")
            if fair["eodds_amplified"]:
                flags.append("the synthetic-trained model is less fair (equalized odds)")
    out["amplified"] = bool(flags)
    out["flags"] = flags + ([f"{len(erased)} group(s) erased"] if erased else [])
    return out


def analyse_bias(ctx: ValidationContext) -> list[dict[str, Any]]:
    """Per-attribute bias analysis (memoised)."""
    return ctx.memo(
        "bias.attributes",
        lambda: [_attribute(ctx, a) for a in ctx.input.protected_attributes],
    )


def _analysed(ctx: ValidationContext) -> list[dict[str, Any]] | str:
    if not ctx.input.protected_attributes:
        return "no validation.protected_attributes in the job spec"
    attrs = analyse_bias(ctx)
    done = [a for a in attrs if "skipped" not in a]
    if not done:
        why = "; ".join(f"{a['attribute']}: {a['skipped']}" for a in attrs)
        return f"no protected attribute could be analysed ({why})"
    return done


def _max_of(ctx: ValidationContext, key: str, *, nested: str | None = None) -> Measurement:
    attrs = _analysed(ctx)
    if isinstance(attrs, str):
        return Measurement.skip(attrs)
    values: dict[str, float] = {}
    for a in attrs:
        if key == "max_share_gap" and "rebalance" in a:
            continue  # a requested change of shares is not a gap
        source = a.get(nested, {}) if nested else a
        v = source.get(key) if isinstance(source, Mapping) else None
        if v is not None:
            values[a["attribute"]] = float(v)
    if not values:
        return Measurement.skip(_why_not(attrs, nested or key))
    return Measurement(max(values.values()), {"per_attribute": values})


def _why_not(attrs: Sequence[Mapping[str, Any]], key: str) -> str:
    """The attributes' own reasons for a figure none of them has, else a general one."""
    field = {"fairness": "fairness_skipped", "outcome_gap_delta": "outcome_skipped"}.get(key)
    reasons = sorted({str(a[field]) for a in attrs if field and a.get(field)})
    if reasons:
        return "; ".join(reasons)
    return "not computable for any protected attribute"


def _share_gap(ctx: ValidationContext) -> Measurement:
    m = _max_of(ctx, "max_share_gap")
    attrs = analyse_bias(ctx) if ctx.input.protected_attributes else []
    return Measurement(m.value, {**m.details, "attributes": attrs}, m.skipped)


_NO_ATTRIBUTES = (
    "no protected attribute: none declared in validation.protected_attributes and no "
    "column named like one (sex, gender, race, ethnicity, age, religion, nationality, "
    "marital status, disability); no group can vanish"
)


def _erased(ctx: ValidationContext) -> Measurement:
    if not ctx.input.protected_attributes:
        return Measurement(0.0, {"per_attribute": {}, "note": _NO_ATTRIBUTES})
    attrs = _analysed(ctx)
    if isinstance(attrs, str):
        return Measurement.skip(attrs)
    per = {a["attribute"]: list(a["erased"]) for a in attrs}
    small = {a["attribute"]: list(a.get("below_dp_resolution", [])) for a in attrs}
    details: dict[str, Any] = {"per_attribute": per}
    if any(small.values()):
        details["below_dp_resolution"] = small
        details["note"] = (
            "groups listed under below_dp_resolution vanished but hold fewer real rows than "
            f"{KEEP_SIGMAS:g} noise standard deviations of their count: at this epsilon no DP "
            "release can be expected to keep them; raise the epsilon or declare fewer columns "
            "to keep them"
        )
    return Measurement(float(sum(len(v) for v in per.values())), details)


def _amplified(ctx: ValidationContext) -> Measurement:
    if not ctx.input.protected_attributes:
        return Measurement(0.0, {"flags": {}, "note": _NO_ATTRIBUTES})
    attrs = _analysed(ctx)
    if isinstance(attrs, str):
        return Measurement.skip(attrs)
    flagged = {a["attribute"]: a["flags"] for a in attrs if a["amplified"]}
    return Measurement(float(len(flagged)), {"flags": flagged, "threshold": AMPLIFICATION})


_GAP_GOOD = (
    "0.05 or less. Only a growth beyond both 0.05 and the sampling noise (two standard "
    "errors, shown per attribute) is flagged as amplification."
)

METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        name="bias.max_share_gap",
        area=Area.BIAS,
        title="Largest group-share difference",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "The largest difference, over protected groups, between a group's share of the "
            "real table and its share of the synthetic table."
        ),
        good="0.05 or less; requested rebalancing is excluded.",
        compute=_share_gap,
        reference=Reference(RefOp.LE, 0.05, 0.1),
    ),
    MetricDef(
        name="bias.max_outcome_gap_delta",
        area=Area.BIAS,
        title="Growth of the outcome gap",
        goal=Goal.MINIMIZE,
        bounds=(-1.0, 1.0),
        explanation=(
            "How much the difference in outcome rate between the best- and worst-off groups grew "
            "from the real to the synthetic table (negative means it shrank)."
        ),
        good=_GAP_GOOD,
        compute=lambda ctx: _max_of(ctx, "outcome_gap_delta"),
    ),
    MetricDef(
        name="bias.max_parity_gap_delta",
        area=Area.BIAS,
        title="Growth of the demographic-parity gap",
        goal=Goal.MINIMIZE,
        bounds=(-1.0, 1.0),
        explanation=(
            "Demographic-parity difference of the synthetic-trained model minus that of the "
            "real-trained model, on the real holdout (positive means less fair)."
        ),
        good=_GAP_GOOD,
        compute=lambda ctx: _max_of(ctx, "parity_gap_delta", nested="fairness"),
    ),
    MetricDef(
        name="bias.max_eodds_gap_delta",
        area=Area.BIAS,
        title="Growth of the equalized-odds gap",
        goal=Goal.MINIMIZE,
        bounds=(-1.0, 1.0),
        explanation=(
            "Equalized-odds difference of the synthetic-trained model minus that of the "
            "real-trained model, on the real holdout (positive means less fair)."
        ),
        good=_GAP_GOOD,
        compute=lambda ctx: _max_of(ctx, "eodds_gap_delta", nested="fairness"),
    ),
    MetricDef(
        name="bias.erased_groups",
        area=Area.BIAS,
        title="Erased groups",
        goal=Goal.MINIMIZE,
        bounds=(0.0, np.inf),
        explanation=(
            "Protected groups that hold at least k real rows but almost vanish from the "
            "synthetic table (under a tenth of their real share)."
        ),
        good="0.",
        compute=_erased,
        reference=Reference(RefOp.LE, 0.0, 0.0),
    ),
    MetricDef(
        name="bias.amplified_attributes",
        area=Area.BIAS,
        title="Attributes with amplified bias",
        goal=Goal.MINIMIZE,
        bounds=(0.0, np.inf),
        explanation=(
            "Protected attributes for which the synthetic table widens an outcome gap or makes "
            "a model trained on it less fair, by more than 0.05 and more than sampling noise."
        ),
        good="0.",
        compute=_amplified,
        reference=Reference(RefOp.LE, 0.0, 0.0),
    ),
)
