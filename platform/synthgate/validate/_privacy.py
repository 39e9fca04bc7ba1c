"""Privacy: could a reader of the synthetic table learn about the real people?

Distance-based checks use equal-sized random samples of the training rows and
of the holdout rows (the real rows the synthesizer never saw), so that a
synthesizer that generalises scores the same against both:

- **DCR share**: share of synthetic rows whose closest real row is a training
  row rather than a holdout row (about 0.5 when nothing was memorised);
- **NNDR**: distance to the closest training row over distance to the second
  closest (near 0 means a synthetic row sits on one specific person);
- **membership inference**: an attacker scores each real row by its distance
  to the closest synthetic row and guesses "was in training" for the closest
  ones; the ROC AUC of that guess (0.5 is chance);
- **singling-out, linkability and attribute-inference risks** after Giomi et
  al., "A Unified Framework for Quantifying Privacy Risk in Synthetic Data"
  (PoPETs 2023), the definitions behind the ``anonymeter`` library. The library
  itself requires numpy < 1.27, which conflicts with this project's numpy 2, so
  the published definitions are implemented here: each attack runs against
  training rows and, as a control, against holdout rows, and the risk is
  (attack success − control success) / (1 − control success).

Exact copies and replayed direct identifiers are counted on the full tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import Goal, MetricResult, TableSchema
from synthgate.synth.frames import to_model_frame
from synthgate.validate._binning import value_key
from synthgate.validate._context import ValidationContext
from synthgate.validate._encode import TableEncoder, nearest
from synthgate.validate._registry import Area, Measurement, MetricDef, Reference, RefOp

__all__ = ["ANONYMETER_NOTE", "METRICS", "exact_matches"]

ANONYMETER_NOTE = (
    "Singling-out, linkability and attribute-inference risks follow Giomi et al. (PoPETs 2023), "
    "the definitions of the anonymeter library; the library is not used because it requires "
    "numpy < 1.27, so synthgate implements the published definitions."
)
MIN_HOLDOUT_ROWS = 20
_TOLERANCE = 0.05  # attribute inference: a numeric guess within 5 % counts as correct
_Z = 1.959963984540054  # 95 % two-sided


@dataclass(frozen=True)
class _Samples:
    encoder: TableEncoder
    train: pd.DataFrame  # equal-sized samples of real rows (memory only)
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    e_train: np.ndarray[Any, Any]
    e_holdout: np.ndarray[Any, Any]
    e_synthetic: np.ndarray[Any, Any]


def _samples(ctx: ValidationContext) -> _Samples | str:
    def build() -> _Samples | str:
        hold = ctx.holdout
        if hold is None or len(hold) < MIN_HOLDOUT_ROWS:
            return f"fewer than {MIN_HOLDOUT_ROWS} holdout rows to compare with"
        if ctx.synthetic.empty:
            return "the synthetic table is empty"
        m = min(len(hold), len(ctx.real), ctx.options.max_reference_rows)
        train = ctx.sample(ctx.real, m, purpose="privacy", salt="train")
        holdout = ctx.sample(hold, m, purpose="privacy", salt="holdout")
        syn = ctx.sample(
            ctx.synthetic, ctx.options.max_query_rows, purpose="privacy", salt="synthetic"
        )
        enc = TableEncoder(ctx.schema, ctx.real, max_categories=ctx.options.max_categories)
        return _Samples(
            enc,
            train,
            holdout,
            syn,
            enc.transform(train),
            enc.transform(holdout),
            enc.transform(syn),
        )

    return ctx.memo("privacy.samples", build)


@dataclass(frozen=True)
class _Distances:
    to_train: np.ndarray[Any, Any]  # per synthetic row: nearest distance, training sample
    to_holdout: np.ndarray[Any, Any]  # per synthetic row: nearest distance, holdout sample


def _distances(ctx: ValidationContext, s: _Samples) -> _Distances:
    def build() -> _Distances:
        d_train, _ = nearest(s.e_synthetic, s.e_train, k=1)
        d_hold, _ = nearest(s.e_synthetic, s.e_holdout, k=1)
        return _Distances(d_train[:, 0], d_hold[:, 0])

    return ctx.memo("privacy.distances", build)


def _sizes(s: _Samples) -> dict[str, int]:
    return {"synthetic_rows": len(s.synthetic), "reference_rows": len(s.train)}


# --------------------------------------------------------------------------- distance metrics


def _dcr_share(ctx: ValidationContext) -> Measurement:
    s = _samples(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    d = _distances(ctx, s)
    train, hold = d.to_train, d.to_holdout
    closer = float((train < hold).mean() + 0.5 * (train == hold).mean())
    return Measurement(
        round(closer, 4),
        {
            **_sizes(s),
            "median_dcr_train": round(float(np.median(train)), 4),
            "median_dcr_holdout": round(float(np.median(hold)), 4),
            "share_at_distance_zero": round(float((train == 0).mean()), 4),
        },
    )


def _nndr(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    first, second = values[:, 0], values[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(second > 0, first / np.where(second > 0, second, 1.0), 1.0)
    return np.clip(ratio, 0.0, 1.0)


def _nndr_metric(ctx: ValidationContext) -> Measurement:
    s = _samples(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    # against (a large sample of) all training rows: NNDR asks about the closest person
    train = ctx.sample(ctx.real, ctx.options.max_neighbour_rows, purpose="privacy", salt="nndr")
    if len(train) < 2:
        return Measurement.skip("fewer than two training rows")
    e_train = s.encoder.transform(train)
    d_syn, _ = nearest(s.e_synthetic, e_train, k=2)
    ref_rows = s.e_holdout[: ctx.options.max_query_rows // 4 or 1]
    d_ref, _ = nearest(ref_rows, e_train, k=2)
    syn, ref = _nndr(d_syn), _nndr(d_ref)
    return Measurement(
        round(float(syn.mean()), 4),
        {
            "synthetic_rows": len(s.synthetic),
            "reference_rows": len(train),
            "p5": round(float(np.quantile(syn, 0.05)), 4),
            "holdout_mean": round(float(ref.mean()), 4),
            "holdout_p5": round(float(np.quantile(ref, 0.05)), 4),
        },
    )


def _mia(ctx: ValidationContext) -> Measurement:
    from sklearn.metrics import roc_auc_score

    s = _samples(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    d_members, _ = nearest(s.e_train, s.e_synthetic, k=1)
    d_others, _ = nearest(s.e_holdout, s.e_synthetic, k=1)
    labels = np.r_[np.ones(len(d_members)), np.zeros(len(d_others))]
    scores = -np.r_[d_members[:, 0], d_others[:, 0]]
    auc = float(roc_auc_score(labels, scores))
    return Measurement(
        round(auc, 4),
        {
            **_sizes(s),
            "attack": "distance to the closest synthetic row",
            "advantage": round(max(0.0, 2 * auc - 1), 4),
        },
    )


# --------------------------------------------------------------------------- anonymeter-style


def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + _Z**2 / n
    centre = (p + _Z**2 / (2 * n)) / denom
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _risk(attack: int, control: int, n: int, baseline: float | None = None) -> Measurement:
    """Giomi et al.: risk = (attack rate − control rate) / (1 − control rate)."""
    if n == 0:
        return Measurement.skip("no attack could be run")
    ra, rc = attack / n, control / n

    def risk(a: float) -> float:
        return 0.0 if rc >= 1 else max(0.0, min(1.0, (a - rc) / (1 - rc)))

    lo, hi = _wilson(attack, n)
    details: dict[str, Any] = {
        "attacks": n,
        "attack_rate": round(ra, 4),
        "control_rate": round(rc, 4),
        "risk_ci95": [round(risk(lo), 4), round(risk(hi), 4)],
        "method": ANONYMETER_NOTE,
    }
    if baseline is not None:
        details["baseline_rate"] = round(baseline, 4)
        details["attack_beats_random"] = ra > baseline
    return Measurement(round(risk(ra), 4), details)


_Query = tuple[str, str, Any]  # column, operator, value


def _queries(
    syn: pd.DataFrame, schema: TableSchema, n: int, rng: np.random.Generator
) -> list[_Query]:
    """Univariate singling-out predicates that isolate one synthetic row."""
    out: list[_Query] = []
    for col in schema.columns:
        s = syn[col.name]
        present = s.dropna()
        if len(present) == 0:
            continue
        if col.type.is_numeric or col.type.is_temporal:
            out.append((col.name, "<=", present.min()))
            out.append((col.name, ">=", present.max()))
        keys = present.map(value_key)
        counts = keys.value_counts()
        unique = set(counts.index[counts == 1])
        for v in present[keys.isin(unique)].tolist():
            out.append((col.name, "==", v))
    order = rng.permutation(len(out))[:n]
    return [out[i] for i in order]


class _Matcher:
    """Counts the rows of a frame a predicate matches (category keys pre-coded)."""

    def __init__(self, frame: pd.DataFrame, schema: TableSchema) -> None:
        self.frame = frame
        self.codes: dict[str, np.ndarray[Any, Any]] = {}
        self.vocab: dict[str, dict[str, int]] = {}
        for col in schema.columns:
            keys = frame[col.name].map(value_key, na_action="ignore")
            codes, uniques = pd.factorize(keys)
            self.codes[col.name] = codes
            self.vocab[col.name] = {str(u): i for i, u in enumerate(uniques)}

    def count(self, q: _Query) -> int:
        col, op, value = q
        if op == "==":
            code = self.vocab[col].get(value_key(value))
            return 0 if code is None else int((self.codes[col] == code).sum())
        s = self.frame[col]
        return int((s <= value).sum()) if op == "<=" else int((s >= value).sum())


def _singling_out(ctx: ValidationContext) -> Measurement:
    s = _samples(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    rng = ctx.rng("singling-out")
    queries = _queries(s.synthetic, ctx.schema, ctx.options.attacks, rng)
    if not queries:
        return Measurement.skip("no synthetic value singles out a row")
    train, holdout = _Matcher(s.train, ctx.schema), _Matcher(s.holdout, ctx.schema)
    attack = sum(train.count(q) == 1 for q in queries)
    control = sum(holdout.count(q) == 1 for q in queries)
    # baseline: predicates on random synthetic values, not chosen to be rare
    cols = ctx.columns
    base = 0
    for _ in range(len(queries)):
        c = cols[int(rng.integers(len(cols)))]
        values = s.synthetic[c].dropna()
        if len(values):
            v = values.iloc[int(rng.integers(len(values)))]
            base += train.count((c, "==", v)) == 1
    m = _risk(attack, control, len(queries), base / len(queries))
    return Measurement(m.value, {**m.details, "mode": "univariate"}, m.skipped)


def _linkability(ctx: ValidationContext) -> Measurement:
    s = _samples(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    cols = ctx.columns
    if len(cols) < 2:
        return Measurement.skip("fewer than two modelled columns")
    a_cols, b_cols = cols[0::2], cols[1::2]
    n = min(ctx.options.attacks, len(s.train))
    rng = ctx.rng("linkability")
    t_idx = rng.choice(len(s.train), size=n, replace=False)
    c_idx = rng.choice(len(s.holdout), size=n, replace=False)
    ia_cols, ib_cols = s.encoder.index(a_cols), s.encoder.index(b_cols)
    syn_a, syn_b = s.e_synthetic[:, ia_cols], s.e_synthetic[:, ib_cols]

    def linked(rows: np.ndarray[Any, Any]) -> int:
        _, ia = nearest(rows[:, ia_cols], syn_a, k=1)
        _, ib = nearest(rows[:, ib_cols], syn_b, k=1)
        return int((ia[:, 0] == ib[:, 0]).sum())

    attack = linked(s.e_train[t_idx])
    control = linked(s.e_holdout[c_idx])
    m = _risk(attack, control, n, 1.0 / max(len(s.synthetic), 1))
    return Measurement(m.value, {**m.details, "columns_a": a_cols, "columns_b": b_cols}, m.skipped)


def _secrets(ctx: ValidationContext) -> list[str]:
    wanted = [*ctx.input.protected_attributes]
    if ctx.input.target_column:
        wanted.append(ctx.input.target_column)
    chosen = [c for c in dict.fromkeys(wanted) if c in ctx.columns]
    return chosen or ctx.columns[:3]


def _correct(
    col_numeric: bool, guess: pd.Series[Any], truth: pd.Series[Any]
) -> np.ndarray[Any, Any]:
    g_missing, t_missing = guess.isna().to_numpy(), truth.isna().to_numpy()
    both = g_missing & t_missing
    if col_numeric:
        g = _floats(guess)
        t = _floats(truth)
        with np.errstate(invalid="ignore"):
            ok = np.abs(g - t) <= _TOLERANCE * np.abs(t)
        return np.where(g_missing | t_missing, both, ok)
    gk = guess.map(value_key, na_action="ignore").to_numpy(dtype=object)
    tk = truth.map(value_key, na_action="ignore").to_numpy(dtype=object)
    return np.where(g_missing | t_missing, both, gk == tk).astype(bool)


def _floats(s: pd.Series[Any]) -> np.ndarray[Any, Any]:
    if pd.api.types.is_datetime64_any_dtype(s):
        x = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        x[s.isna().to_numpy()] = np.nan
        return x / 86_400e9
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _inference(ctx: ValidationContext) -> Measurement:
    s = _samples(ctx)
    if isinstance(s, str):
        return Measurement.skip(s)
    if len(ctx.columns) < 2:
        return Measurement.skip("fewer than two modelled columns")
    n = min(ctx.options.attacks, len(s.train))
    rng = ctx.rng("inference")
    t_idx = rng.choice(len(s.train), size=n, replace=False)
    c_idx = rng.choice(len(s.holdout), size=n, replace=False)
    targets = (s.e_train[t_idx], s.train.iloc[t_idx].reset_index(drop=True))
    controls = (s.e_holdout[c_idx], s.holdout.iloc[c_idx].reset_index(drop=True))
    per: dict[str, dict[str, Any]] = {}
    for secret in _secrets(ctx):
        aux = s.encoder.index([c for c in ctx.columns if c != secret])
        syn_aux = s.e_synthetic[:, aux]
        col = ctx.schema.column(secret)
        numeric = col.type.is_numeric or col.type.is_temporal

        def hits(
            rows: tuple[np.ndarray[Any, Any], pd.DataFrame],
            secret: str = secret,
            aux: np.ndarray[Any, Any] = aux,
            syn_aux: np.ndarray[Any, Any] = syn_aux,
            numeric: bool = numeric,
        ) -> int:
            encoded, frame = rows
            _, idx = nearest(encoded[:, aux], syn_aux, k=1)
            guess = s.synthetic[secret].iloc[idx[:, 0]].reset_index(drop=True)
            return int(_correct(numeric, guess, frame[secret]).sum())

        m = _risk(hits(targets), hits(controls), n)
        per[secret] = {"risk": m.value, **{k: v for k, v in m.details.items() if k != "method"}}
    worst = max(per, key=lambda k: per[k]["risk"] or 0.0)
    return Measurement(
        per[worst]["risk"],
        {"per_secret": per, "worst": worst, "tolerance": _TOLERANCE, "method": ANONYMETER_NOTE},
    )


# --------------------------------------------------------------------------- counts


def _exact(train: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> Measurement:
    """Synthetic rows identical to a training row that no other training row shares.

    A row whose every value combination many real rows hold (a table of two
    categorical columns) is no one's: copying it discloses nothing, and a small
    domain makes such matches certain. A copy of a row unique in the training
    data is what identifies someone. ``any_matches`` counts both."""
    cols = schema.column_names
    if not cols or synthetic.empty:
        count, matches, share = 0, 0, 0.0
    else:
        real_h = pd.util.hash_pandas_object(to_model_frame(train[cols], schema), index=False)
        counts = real_h.value_counts()
        unique = set(counts.index[counts.to_numpy() == 1])
        syn_h = pd.util.hash_pandas_object(to_model_frame(synthetic[cols], schema), index=False)
        count = int(syn_h.isin(unique).sum())
        matches = int(syn_h.isin(set(counts.index)).sum())
        share = count / len(synthetic)
    details = {"count": count, "any_matches": matches, "rows": len(synthetic)}
    return Measurement(round(share, 6), details)


def _pii_replay(ctx: ValidationContext) -> Measurement:
    per = {k: int(v) for k, v in ctx.input.pii_replay.items()}
    # "notes (presidio)" entries come from the Presidio re-scan of redacted free text
    text = {k: v for k, v in per.items() if k.endswith(" (presidio)")}
    return Measurement(
        float(sum(per.values())),
        {"per_column": per, "presidio_text_hits": sum(text.values())},
    )


EXACT = MetricDef(
    name="privacy.exact_match_share",
    area=Area.PRIVACY,
    title="Copied rows",
    goal=Goal.MINIMIZE,
    bounds=(0.0, 1.0),
    explanation=(
        "Share of synthetic rows identical to a training row that no other training row "
        "shares (0 is ideal); copies of combinations many real rows hold identify no one "
        "and are counted apart (any_matches)."
    ),
    good="0; a few copies can be chance in tables with few distinct rows.",
    compute=lambda ctx: _exact(ctx.real, ctx.synthetic, ctx.schema),
    reference=Reference(RefOp.LE, 0.001, 0.01),
)


def exact_matches(
    train: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
) -> MetricResult:
    """Synthetic rows that are exact copies of a training row (stand-alone helper)."""
    m = _exact(train, synthetic, schema)
    return MetricResult(
        EXACT.name, m.value, EXACT.goal, EXACT.bounds, EXACT.explanation, dict(m.details)
    )


_RISK_GOOD = "0.05 or less; above 0.2 the attack clearly works on the people in the training data."

METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        name="privacy.pii_replay",
        area=Area.PRIVACY,
        title="Replayed identifiers",
        goal=Goal.MINIMIZE,
        bounds=(0.0, math.inf),
        explanation=(
            "Cells of the synthetic table equal to a real direct identifier (names, emails, "
            "phone numbers …) of the source, compared as keyed hashes, plus redacted free-text "
            "values in which Presidio still finds an identifier; must be 0."
        ),
        good="0, always.",
        compute=_pii_replay,
        reference=Reference(RefOp.LE, 0.0, 0.0),
    ),
    EXACT,
    MetricDef(
        name="privacy.dcr_share",
        area=Area.PRIVACY,
        title="Closer to training than to holdout",
        goal=Goal.TARGET,
        ideal=0.5,
        bounds=(0.0, 1.0),
        explanation=(
            "Share of synthetic rows whose closest real row is a training row rather than an "
            "equally large sample of holdout rows the synthesizer never saw (distance to "
            "closest record)."
        ),
        good="About 0.5; well above 0.5 means the synthesizer memorised training rows.",
        compute=_dcr_share,
        reference=Reference(RefOp.LE, 0.55, 0.6),
    ),
    MetricDef(
        name="privacy.nndr",
        area=Area.PRIVACY,
        title="Nearest-neighbour distance ratio",
        goal=Goal.MAXIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "Average ratio of a synthetic row's distance to its closest training row over the "
            "distance to the second closest; near 0 means rows sit on specific people."
        ),
        good="Close to the same ratio for holdout rows (shown as the reference).",
        compute=_nndr_metric,
    ),
    MetricDef(
        name="privacy.mia_auc",
        area=Area.PRIVACY,
        title="Membership-inference attack",
        goal=Goal.TARGET,
        ideal=0.5,
        bounds=(0.0, 1.0),
        explanation=(
            "How well an attacker holding the synthetic table tells training rows from holdout "
            "rows (ROC AUC of a distance-based attack; 0.5 is guessing)."
        ),
        good="0.55 or less; above 0.6 membership in the source can be inferred.",
        compute=_mia,
        reference=Reference(RefOp.LE, 0.55, 0.6),
    ),
    MetricDef(
        name="privacy.singling_out_risk",
        area=Area.PRIVACY,
        title="Singling-out risk",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "How often a predicate written from the synthetic table isolates exactly one "
            "training person, beyond how often it does so for people not in training."
        ),
        good=_RISK_GOOD,
        compute=_singling_out,
        reference=Reference(RefOp.LE, 0.05, 0.2),
    ),
    MetricDef(
        name="privacy.linkability_risk",
        area=Area.PRIVACY,
        title="Linkability risk",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "How often the synthetic table lets an attacker join two halves of a training "
            "person's record held in different places, beyond the control rate."
        ),
        good=_RISK_GOOD,
        compute=_linkability,
        reference=Reference(RefOp.LE, 0.05, 0.2),
    ),
    MetricDef(
        name="privacy.inference_risk",
        area=Area.PRIVACY,
        title="Attribute-inference risk",
        goal=Goal.MINIMIZE,
        bounds=(0.0, 1.0),
        explanation=(
            "How often the synthetic table lets an attacker who knows all other columns of a "
            "training person guess a sensitive column, beyond the control rate (worst column)."
        ),
        good=_RISK_GOOD,
        compute=_inference,
        reference=Reference(RefOp.LE, 0.05, 0.2),
    ),
)
