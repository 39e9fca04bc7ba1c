"""The release card: the document that travels with released data.

Two documents, two audiences. The **review report** is for approvers and
auditors inside synthgate: it holds aggregate statistics of the real data
(fidelity against real rows, utility, privacy attacks, the PII inventory) and
never leaves the store or the console. The **release card** goes wherever the
data goes (beside a published file, a table in the target database): the
privacy guarantee and its ledger, the governance record, and figures computed
from the released table alone. It holds no figure computed from real rows
except DP outputs (the noisy row count); the table's size appears only as that
count and as the number of rows released.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

CARD_JSON = "card.json"
CARD_HTML = "card.html"
CARD_KIND = "synthgate release card"
_NO_GUARANTEE = (
    "a masked copy: real rows with identifiers masked. It carries no formal privacy "
    "guarantee; no statistics of its columns are given here."
)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _column(frame: pd.DataFrame, name: str) -> dict[str, Any]:
    """Figures of one released column: computed from released rows only."""
    series = frame[name]
    return {
        "name": name,
        "type": str(series.dtype),
        "null_share": round(float(series.isna().mean()), 4) if len(series) else None,
        "distinct": int(series.nunique(dropna=True)),
    }


def _ledger(spent: Mapping[str, Any]) -> list[dict[str, Any]]:
    stages = [s for s in spent.get("stages") or () if isinstance(s, Mapping)]
    keep = ("stage", "mechanism", "epsilon", "delta")
    return [{k: s.get(k) for k in keep} for s in stages]


def _privacy(report: Mapping[str, Any], rows_estimate: int | None) -> dict[str, Any]:
    spent = _mapping(_mapping(report.get("privacy")).get("spent"))
    if not spent.get("private"):
        return {"private": False}
    return {
        "private": True,
        "guarantee": "(epsilon, delta)-differential privacy for adding or removing one row "
        "of the source table",
        "epsilon": spent.get("epsilon"),
        "delta": spent.get("delta"),
        "accountant": spent.get("accountant"),
        "replace_one": {
            "epsilon": spent.get("replace_one_epsilon"),
            "delta": spent.get("replace_one_delta"),
        },
        "ledger": _ledger(spent),
        "training_rows_dp_estimate": rows_estimate,
    }


def build_card(
    report: Mapping[str, Any], released: pd.DataFrame, *, rows_estimate: int | None
) -> dict[str, Any]:
    """The card of the release *report* describes, whose released table is *released*.

    *rows_estimate* is the engine's DP row count of the training table (None for an
    engine without one). Nothing else here reads real rows.
    """
    run = _mapping(report.get("run"))
    provenance = _mapping(report.get("provenance"))
    gate = _mapping(report.get("gate"))
    copy = run.get("output") == "masked-copy"
    card: dict[str, Any] = {
        "document": CARD_KIND,
        "release": _mapping(report.get("release")).get("id"),
        "run": run.get("id"),
        "job": run.get("job"),
        "requested_by": run.get("requested_by"),
        "created_at": run.get("finished_at"),
        "synthgate_version": run.get("synthgate_version"),
        "output": run.get("output"),
        "synthesizer": provenance.get("synthesizer"),
        "policy": {"name": gate.get("policy"), "version": gate.get("policy_version")},
        "privacy": _privacy(report, None if copy else rows_estimate),
        "table": {
            "rows": len(released),
            "columns": [{"name": c} for c in released.columns]
            if copy
            else [_column(released, str(c)) for c in released.columns],
        },
        "notes": [_NO_GUARANTEE] if copy else [],
    }
    card["notes"].append(
        "Statistics of the real data (fidelity, utility, privacy tests) are in the review "
        "report, which stays with synthgate; this card holds only the privacy accounting, "
        "the governance record and figures of the released table."
    )
    return card


def _rows(pairs: Sequence[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in pairs
    )
    return f"<table>{body}</table>"


def render_card(card: Mapping[str, Any]) -> str:
    """A self-contained HTML page of *card*; every value escaped."""
    privacy = _mapping(card.get("privacy"))
    head = [
        ("Release", card.get("release")),
        ("Job", card.get("job")),
        ("Created", card.get("created_at")),
        ("Output", card.get("output")),
        ("Synthesizer", card.get("synthesizer")),
        ("Policy", f"{_mapping(card.get('policy')).get('name')}"),
        ("Rows released", _mapping(card.get("table")).get("rows")),
    ]
    if privacy.get("private"):
        replaced = _mapping(privacy.get("replace_one"))
        head += [
            ("Guarantee", privacy.get("guarantee")),
            ("ε (add or remove one row)", privacy.get("epsilon")),
            ("δ", privacy.get("delta")),
            ("ε (replace one row)", f"{replaced.get('epsilon')} at δ {replaced.get('delta')}"),
            ("Training rows (DP estimate)", privacy.get("training_rows_dp_estimate")),
        ]
    else:
        head.append(("Guarantee", "none"))
    columns = _mapping(card.get("table")).get("columns") or []
    col_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c.get(k, '')))}</td>" for k in _COLS) + "</tr>"
        for c in columns
    )
    ledger = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(s.get(k)))}</td>" for k in _LEDGER) + "</tr>"
        for s in privacy.get("ledger") or ()
    )
    notes = "".join(f"<p>{html.escape(str(n))}</p>" for n in card.get("notes") or ())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Release card {html.escape(str(card.get('release')))}</title>"
        f"<style>{_CSS}</style></head><body><h1>Release card</h1>{_rows(head)}{notes}"
        f"<h2>Columns released</h2><table><tr>{_header(_COLS)}</tr>{col_rows}</table>"
        + (
            f"<h2>Privacy ledger</h2><table><tr>{_header(_LEDGER)}</tr>{ledger}</table>"
            if ledger
            else ""
        )
        + "</body></html>"
    )


_COLS = ("name", "type", "null_share", "distinct")
_LEDGER = ("stage", "mechanism", "epsilon", "delta")
_CSS = (
    "body{font:14px system-ui,sans-serif;margin:2rem;max-width:60rem}"
    "table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;"
    "padding:.25rem .5rem;text-align:left}th{background:#f4f4f4}"
)


def _header(keys: Sequence[str]) -> str:
    return "".join(f"<th>{html.escape(k)}</th>" for k in keys)


def write_card(card: Mapping[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write card.json and card.html into *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    as_json, as_html = folder / CARD_JSON, folder / CARD_HTML
    as_json.write_text(json.dumps(card, indent=2, sort_keys=True, default=str), "utf-8")
    as_html.write_text(render_card(card), "utf-8")
    return as_json, as_html


def read_card(folder: Path) -> dict[str, Any] | None:
    path = folder / CARD_JSON
    if not path.is_file():
        return None
    data = json.loads(path.read_text("utf-8"))
    return data if isinstance(data, dict) else None
