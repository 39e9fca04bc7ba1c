"""A canary membership-inference audit of dp-mst: an empirical lower bound on ε.

    .venv/bin/python benchmarks/canary_mia.py --seeds 400 --epsilons 1,3,8
    # quick look while developing
    .venv/bin/python benchmarks/canary_mia.py --seeds 20 --epsilons 8 --no-ledger

The table D is generated from ``--seed`` (no download): ``--rows`` rows of
``country`` (DE, FR, US, UK, CH), ``currency`` (the country's: EUR, USD, GBP,
CHF), ``age`` (integer, 18–79) and ``spend`` (lognormal, two decimals). The
canary is one row whose pair (country US, currency CHF) never occurs in D; its
age and spend are ordinary. Each value of the canary is common, so it survives
DP partition selection: only the combination is unique.

For each trial and each ε, dp-mst (the engine ``synthesizer: auto`` picks for
this table, run through the plugin registry as ``benchmarks/synth_adult.py``
does) is fitted once on D and once on D ∪ {canary}, both with δ = 1e-5
(synthgate's min(1e-5, 1/(10·rows))), and samples ``--sample-rows`` rows. The
score is the number of synthetic rows with the canary's pair, or 0 where the
synthetic table lost the country → currency link (fewer than half of its US
rows in USD: the tree left that edge out and the pair turns up by chance);
"member" is guessed when the score reaches a threshold. dp-mst draws its noise
from the operating system's entropy (the seed only fixes the sampling), so
every fit is an independent run of the mechanism. The plugin is used rather
than ``synthgate.synthesize`` because a job keeps about a fifth of the rows,
drawn at random, as a validation holdout, which could hold the canary out of
training; one ``synthesize`` call per ε reads the ε and δ the ledger records.
With ``--no-ledger``, or when that call fails, the table shows the ε the
engine's accountant reports for its fits (the figure the ledger's total line
records).

The trials are split: the first ``--select-share`` choose the threshold (the
one with the largest lower confidence bound on ε there), the rest measure it.
On the measured trials the script reports the true-positive rate, the
false-positive rate, the advantage TPR − FPR and the empirical ε,
max(ln((TPR − δ)/FPR), ln((1 − FPR − δ)/(1 − TPR))) (Jagielski et al. 2020;
Nasr et al. 2021), with its Clopper–Pearson interval: each rate's two-sided
interval at ``--confidence``, the lower end from the least favourable ends.
An exact-copy baseline (the "synthetic" table is the training table itself)
shows the attack finds the canary when nothing protects it, and gives the
largest lower bound this many trials can show at all.

What it can show: a lower bound on the ε of this mechanism on this pair of
tables; a lower bound above the ledger's ε would be a bug. What it cannot: it
does not prove the guarantee (a bound below the ledger's ε is consistent with
a correct and with a broken mechanism that this attack misses); one attack,
one canary, one table, a finite number of trials. A script that prints
figures, not a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from scipy.stats import beta

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DELTA = 1e-5
COUNTRIES = ("DE", "FR", "US", "UK", "CH")
SHARES = (0.3, 0.2, 0.25, 0.15, 0.1)
CURRENCY = {"DE": "EUR", "FR": "EUR", "US": "USD", "UK": "GBP", "CH": "CHF"}
PAIR = ("US", "CHF")  # (country, currency): the canary's combination, absent from D
CANARY = {"country": PAIR[0], "currency": PAIR[1], "age": 45, "spend": 20.09}
LINK = 0.5  # share of US rows in USD above which a synthetic table keeps the link

Scorer = Callable[[pd.DataFrame, int], int]


def _eval() -> Any:
    """``benchmarks/_eval.py`` from its file (opacus ships a package named ``benchmarks``)."""
    name = "synthgate_benchmarks_eval"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "_eval.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# --------------------------------------------------------------------------- data


def make_table(rows: int, seed: int) -> pd.DataFrame:
    """D: country, its currency, age and spend; the canary's pair never occurs."""
    rng = np.random.default_rng(seed)
    country = rng.choice(COUNTRIES, size=rows, p=SHARES)
    table = pd.DataFrame(
        {
            "country": country,
            "currency": [CURRENCY[str(c)] for c in country],
            "age": rng.integers(18, 80, size=rows),
            "spend": np.round(rng.lognormal(3.0, 1.0, size=rows), 2),
        }
    )
    assert canary_matches(table) == 0
    return table


def with_canary(table: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([table, pd.DataFrame([CANARY])], ignore_index=True)


def canary_matches(frame: pd.DataFrame) -> int:
    """Rows holding the canary's rare pair."""
    hit = (frame["country"] == PAIR[0]) & (frame["currency"] == PAIR[1])
    return int(hit.sum())


def attack_score(frame: pd.DataFrame) -> int:
    """Rows with the canary's pair, counted only where the released table keeps the
    country → currency link (most of its US rows pay in USD): a table that lost the
    link (its tree left that edge out) mixes the pair in by chance and says nothing."""
    us = frame["country"] == PAIR[0]
    usd = frame["currency"] == CURRENCY[PAIR[0]]
    if not us.any() or (us & usd).sum() < LINK * us.sum():
        return 0
    return canary_matches(frame)


# --------------------------------------------------------------------------- worlds


def dp_mst_scorer(epsilon: float, sample_rows: int) -> tuple[Scorer, list[float]]:
    """Fit dp-mst on a table and score a sample; the second value collects each fit's ε."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
    from synthgate.synth import create_synthesizer

    schema = TableSchema(
        "customers",
        (
            ColumnSchema("country", LogicalType.CATEGORICAL),
            ColumnSchema("currency", LogicalType.CATEGORICAL),
            ColumnSchema("age", LogicalType.INTEGER),
            ColumnSchema("spend", LogicalType.FLOAT),
        ),
    )
    privacy = PrivacyRequest(epsilon=epsilon, delta=DELTA)
    spent: list[float] = []

    def score(table: pd.DataFrame, seed: int) -> int:
        synth = create_synthesizer("dp-mst", {})
        fit = synth.fit(table, schema, privacy=privacy, seed=seed)
        if fit.privacy.epsilon is not None:
            spent.append(float(fit.privacy.epsilon))
        return attack_score(synth.sample(sample_rows))

    return score, spent


def exact_copy(table: pd.DataFrame, seed: int) -> int:
    """No protection: the released table is the training table."""
    del seed
    return attack_score(table)


def run_trials(
    score: Scorer, out_table: pd.DataFrame, in_table: pd.DataFrame, seeds: int
) -> tuple[list[int], list[int], float]:
    """Scores without and with the canary, interleaved so load drifts hit both alike."""
    outs: list[int] = []
    ins: list[int] = []
    t0 = time.perf_counter()
    for seed in range(seeds):
        outs.append(score(out_table, seed))
        ins.append(score(in_table, seed))
    return outs, ins, time.perf_counter() - t0


# --------------------------------------------------------------------------- statistics


def clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact binomial interval for k successes in n."""
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def _log_ratio(num: float, den: float) -> float:
    if num <= 0:
        return 0.0
    if den <= 0:
        return math.inf
    return max(math.log(num / den), 0.0)


def epsilon_of(tpr: float, fpr: float, delta: float) -> float:
    """The ε an (ε, δ)-DP mechanism needs for a test with these rates (0 if none)."""
    return max(_log_ratio(tpr - delta, fpr), _log_ratio(1 - fpr - delta, 1 - tpr))


@dataclass(frozen=True, slots=True)
class Audit:
    threshold: int
    trials: int
    tpr: float
    fpr: float
    advantage: float
    epsilon_hat: float
    epsilon_low: float
    epsilon_high: float


def audit(
    outs: Sequence[int], ins: Sequence[int], threshold: int, confidence: float, delta: float
) -> Audit:
    """Rates of the rule "member when score ≥ threshold", and ε with its interval."""
    n_out, n_in = len(outs), len(ins)
    k_out = sum(s >= threshold for s in outs)
    k_in = sum(s >= threshold for s in ins)
    tpr, fpr = k_in / n_in, k_out / n_out
    tpr_lo, tpr_hi = clopper_pearson(k_in, n_in, confidence)
    fpr_lo, fpr_hi = clopper_pearson(k_out, n_out, confidence)
    return Audit(
        threshold=threshold,
        trials=min(n_out, n_in),
        tpr=tpr,
        fpr=fpr,
        advantage=tpr - fpr,
        epsilon_hat=epsilon_of(tpr, fpr, delta),
        epsilon_low=max(
            _log_ratio(tpr_lo - delta, fpr_hi), _log_ratio(1 - fpr_hi - delta, 1 - tpr_lo)
        ),
        epsilon_high=max(
            _log_ratio(tpr_hi - delta, fpr_lo), _log_ratio(1 - fpr_lo - delta, 1 - tpr_hi)
        ),
    )


def choose_threshold(
    outs: Sequence[int], ins: Sequence[int], confidence: float, delta: float
) -> int:
    """The threshold with the largest lower bound on ε (then the largest advantage)."""
    candidates = sorted({*outs, *ins, max([*outs, *ins], default=0) + 1})
    return max(
        candidates,
        key=lambda t: (
            (a := audit(outs, ins, t, confidence, delta)).epsilon_low,
            a.advantage,
        ),
    )


def held_out_audit(
    outs: Sequence[int], ins: Sequence[int], select_share: float, confidence: float
) -> tuple[Audit, Audit]:
    """Threshold from the first trials, rates from the rest; then the ceiling (TPR 1, FPR 0)."""
    cut = round(len(outs) * select_share)
    threshold = choose_threshold(outs[:cut], ins[:cut], confidence, DELTA)
    measured = audit(outs[cut:], ins[cut:], threshold, confidence, DELTA)
    n = len(outs) - cut
    ceiling = audit([0] * n, [1] * n, 1, confidence, DELTA)
    return measured, ceiling


# --------------------------------------------------------------------------- ledger


def ledger_epsilon(table: pd.DataFrame, epsilon: float, seed: int) -> tuple[float, float] | None:
    """ε and δ the ledger records for one ``synthgate.synthesize`` run of this table
    (None, with a line saying why, when the run fails)."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import synthgate
    from synthgate.errors import SynthgateError

    try:
        with tempfile.TemporaryDirectory() as home:
            result = synthgate.synthesize(
                table, epsilon=epsilon, seed=seed, name="canary-audit", home=home
            )
    except SynthgateError as exc:
        print(f"  ledger at ε={epsilon:g}: synthesize failed ({exc}); showing the accountant's ε")
        return None
    if result.epsilon is None or result.delta is None:
        print(f"  ledger at ε={epsilon:g}: the report holds no ε; showing the accountant's ε")
        return None
    return float(result.epsilon), float(result.delta)


def recorded_epsilon(
    table: pd.DataFrame, epsilon: float, seed: int, spent: Sequence[float], *, ledger: bool
) -> tuple[float, float, str]:
    """(ε, δ, where from): the ledger's, or the engine's accountant's (the figure the
    ledger's total line records) with --no-ledger or when synthesize fails."""
    found = ledger_epsilon(table, epsilon, seed) if ledger else None
    if found is not None:
        return found[0], found[1], "ledger"
    return max(spent, default=epsilon), DELTA, "accountant"


# --------------------------------------------------------------------------- output


def _eps(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f}"


def table_row(label: str, ledger: str, a: Audit) -> list[str]:
    return [
        label,
        ledger,
        str(a.trials),
        str(a.threshold),
        f"{a.tpr:.3f}",
        f"{a.fpr:.3f}",
        f"{a.advantage:.3f}",
        _eps(a.epsilon_hat),
        f"[{_eps(a.epsilon_low)}, {_eps(a.epsilon_high)}]",
    ]


def usage_error(message: str) -> NoReturn:
    """One line on stderr naming the bad option and what it wants; exit code 2."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def parse_epsilons(text: str) -> list[float]:
    """``1,3,8`` → [1.0, 3.0, 8.0]; anything else stops with a line naming it."""
    try:
        values = [float(e) for e in text.split(",") if e.strip()]
    except ValueError:
        values = []
    if not values or not all(0 < v < math.inf for v in values):
        usage_error(f"--epsilons {text!r}: give positive numbers separated by commas, e.g. 1,3,8")
    return values


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=400, help="trials per world and ε")
    parser.add_argument("--epsilons", default="1,3,8", help="ε of each dp-mst fit")
    parser.add_argument("--rows", type=int, default=1000, help="rows of D (without the canary)")
    parser.add_argument(
        "--sample-rows", type=int, default=20_000, help="synthetic rows the attack reads"
    )
    parser.add_argument(
        "--select-share", type=float, default=0.5, help="share of trials choosing the threshold"
    )
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0, help="seed of the table D")
    parser.add_argument(
        "--ledger",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one synthesize() run per ε to read the ledger's ε and δ (about 10 s each)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="default benchmarks/out/canary_mia/<time>"
    )
    args = parser.parse_args()
    if args.seeds < 4:
        usage_error(f"--seeds {args.seeds}: needs at least 4 trials per world")
    if args.rows < 100 or args.sample_rows < 1:
        usage_error("--rows needs at least 100 and --sample-rows at least 1")
    args.epsilons = parse_epsilons(args.epsilons)
    if not 0 < args.select_share < 1:
        usage_error(f"--select-share {args.select_share}: must lie strictly between 0 and 1")
    if not 0 < args.confidence < 1:
        usage_error(f"--confidence {args.confidence}: must lie strictly between 0 and 1")
    return args


def main() -> None:
    args = parse_args()
    warnings.simplefilter("ignore")
    ev = _eval()
    machine = ev.machine()
    rev = ev.revision(ROOT)
    print(ev.machine_line(machine), flush=True)
    print(f"synthgate {rev}", flush=True)
    out = args.out or HERE / "out" / "canary_mia" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    epsilons: list[float] = args.epsilons
    d_out = make_table(args.rows, args.seed)
    d_in = with_canary(d_out)
    print(
        f"D: {len(d_out):,} rows (country, currency, age, spend), seed {args.seed}; canary: "
        f"the pair (country {PAIR[0]}, currency {PAIR[1]}), in D 0 times; "
        f"δ = {DELTA:g}; {args.seeds} trials per world, first {args.select_share:.0%} choose "
        f"the threshold; score: rows with the pair among {args.sample_rows:,} sampled",
        flush=True,
    )
    headers = [
        "release",
        "ε (δ) recorded",
        "trials",
        "threshold",
        "TPR",
        "FPR",
        "TPR − FPR",
        "ε̂",
        f"{args.confidence:.0%} CI of ε̂ (Clopper–Pearson)",
    ]
    rows: list[list[str]] = []
    results: list[dict[str, Any]] = []
    for eps in epsilons:
        score, spent = dp_mst_scorer(eps, args.sample_rows)
        outs, ins, seconds = run_trials(score, d_out, d_in, args.seeds)
        measured, _ = held_out_audit(outs, ins, args.select_share, args.confidence)
        eps_recorded, delta_recorded, source = recorded_epsilon(
            d_in, eps, args.seed, spent, ledger=args.ledger
        )
        label = f"dp-mst ε={eps:g}"
        recorded = f"{eps_recorded:.3f} ({delta_recorded:.0e}, {source})"
        rows.append(table_row(label, recorded, measured))
        results.append(
            {
                "release": label,
                "epsilon_requested": eps,
                "epsilon_recorded": eps_recorded,
                "delta_recorded": delta_recorded,
                "recorded_by": source,
                "accountant_epsilon_max": max(spent, default=None),
                "seconds": seconds,
                "seconds_per_fit": seconds / (2 * args.seeds),
                "audit": asdict(measured),
                "scores_without_canary": outs,
                "scores_with_canary": ins,
            }
        )
        print(
            f"  {label}: {2 * args.seeds} fits in {seconds:.0f} s "
            f"({seconds / (2 * args.seeds):.2f} s each); TPR {measured.tpr:.3f}, "
            f"FPR {measured.fpr:.3f}, ε̂ {_eps(measured.epsilon_hat)}, "
            f"lower bound {_eps(measured.epsilon_low)} ({source} ε {eps_recorded:.3f})",
            flush=True,
        )
    outs, ins, _ = run_trials(exact_copy, d_out, d_in, args.seeds)
    copy, ceiling = held_out_audit(outs, ins, args.select_share, args.confidence)
    rows.append(table_row("exact copy (not private)", "∞", copy))
    results.append({"release": "exact copy", "audit": asdict(copy)})
    markdown = ev.markdown_table(headers, rows)
    notes = (
        f"ε̂ = max(ln((TPR − δ)/FPR), ln((1 − FPR − δ)/(1 − TPR))) on the held-out trials; "
        f"the lower end of its interval is the empirical lower bound on ε at "
        f"{args.confidence:.0%} confidence per rate. With {ceiling.trials} held-out trials per "
        f"world no attack can show more than {_eps(ceiling.epsilon_low)}.\n"
        "A lower bound at or below the ledger's ε means the guarantee was not violated by "
        "this attack; it does not prove the guarantee (one attack, one canary, one table, "
        "finite trials)."
    )
    header = (
        f"{ev.machine_line(machine)}\n\ncanary audit of dp-mst: D {len(d_out):,} rows, "
        f"{args.seeds} trials per world, {args.sample_rows:,} synthetic rows scored, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, synthgate {rev}\n"
    )
    print()
    print(header)
    print(markdown)
    print()
    print(notes)
    (out / "results.md").write_text(f"{header}\n{markdown}\n\n{notes}\n")
    document = {
        "machine": machine,
        "machine_after": ev.machine(),
        "synthgate_revision": rev,
        "rows": len(d_out),
        "canary": CANARY,
        "delta": DELTA,
        "seeds": args.seeds,
        "sample_rows": args.sample_rows,
        "select_share": args.select_share,
        "confidence": args.confidence,
        "ceiling": asdict(ceiling),
        "results": results,
    }
    (out / "results.json").write_text(
        json.dumps(ev.json_clean(document), indent=2, allow_nan=False)
    )
    print(f"\nfigures: {out / 'results.json'}")


if __name__ == "__main__":
    main()
