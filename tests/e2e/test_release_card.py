"""The release card travels with published data; the review report never does.

Each test runs the real pipeline (dp-mst, the default engine) on the 300-row demo
table, publishes, and reads what landed in the target.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from tests.conftest import base_spec

from synthgate.cli import main
from synthgate.privacy import GaussianMechanism, compose, replace_one

SpecWriter = Callable[[dict[str, Any]], Path]
OUTLIER = 987_654.32
pytestmark = pytest.mark.slow


def _run_and_publish(spec: dict[str, Any], write_spec: SpecWriter, capsys: Any) -> str:
    # declared ranges: 300 rows are too few to find every range under DP at this ε
    columns = {
        "monthly_spend": {"min": 0, "max": 1000},
        "age": {"min": 18, "max": 90},
        "tenure_months": {"min": 0, "max": 130},
    }
    spec["source"]["columns"] = ["customer_id", "name", "email", "plan", "region", *columns]
    spec["source"]["columns"] += ["gender", "churned"]
    spec["synthesis"] = {"synthesizer": "dp-mst", "privacy": {"epsilon": 2.0}, "columns": columns}
    spec["release"] = {"policy": "internal-testing"}  # auto-approves: the card is the point
    assert main(["run", str(write_spec(spec)), "--json"]) == 0
    release_id = str(json.loads(capsys.readouterr().out)["release_id"])
    assert main(["publish", release_id, "--json"]) == 0
    capsys.readouterr()
    return release_id


def _source_texts(demo_db: Path) -> set[str]:
    """Every text value of the source table long enough to be recognisable."""
    engine = sa.create_engine(f"sqlite:///{demo_db}")
    try:
        frame = pd.read_sql_table("customers", engine)
    finally:
        engine.dispose()
    texts = {str(v) for c in frame.select_dtypes("object") for v in frame[c].dropna()}
    return {t for t in texts if len(t) >= 6}


def _check_card(card: dict[str, Any], release_id: str, rows: int) -> None:
    assert card["document"] == "synthgate release card"
    assert card["release"] == release_id
    assert card["status"] == "PUBLISHED"
    assert card["table"]["rows"] == rows
    privacy = card["privacy"]
    assert privacy["private"] is True
    assert 0 < privacy["epsilon"] <= 2.0 * 1.001
    assert privacy["replace_one"]["epsilon"] > privacy["epsilon"]
    mechanisms = [line["mechanism"] for line in privacy["ledger"]]
    assert mechanisms[0] == "row-count"  # the size is a DP count, composed like the rest
    assert isinstance(privacy["training_rows_dp_estimate"], int)
    assert [a["decision"] for a in card["approvals"]] == ["approve"]


def test_a_database_target_gets_the_card_and_no_real_value(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    release_id = _run_and_publish(base_spec(demo_db, tmp_path), write_spec, capsys)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'released.db'}")
    try:
        cards = pd.read_sql_table("synthgate_release_cards", engine)
        released = pd.read_sql_table("customers_syn", engine)
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    # the data, its card and the sink's idempotency records: no review report
    assert tables == {"customers_syn", "synthgate_release_cards", "_synthgate_writes"}
    [row] = cards.to_dict("records")
    assert (row["release_id"], row["target_table"]) == (release_id, "customers_syn")
    _check_card(json.loads(row["card_json"]), release_id, len(released))
    leaked = {t for t in _source_texts(demo_db) if t in row["card_json"] or t in row["card_html"]}
    assert leaked <= set(released.columns)  # column names only, never a value


def test_a_file_target_gets_card_files_beside_it(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    out = tmp_path / "export"
    out.mkdir()
    spec = base_spec(demo_db, tmp_path)
    spec["target"] = {"url": str(out / "customers.csv")}
    release_id = _run_and_publish(spec, write_spec, capsys)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "customers.csv",
        "customers.csv.card.html",
        "customers.csv.card.json",
    ]
    card = json.loads((out / "customers.csv.card.json").read_text("utf-8"))
    _check_card(card, release_id, len(pd.read_csv(out / "customers.csv")))
    page = (out / "customers.csv.card.html").read_text("utf-8")
    assert "replace one row" in page
    names = {c["name"] for c in card["table"]["columns"]}
    assert not {t for t in _source_texts(demo_db) if t in page} - names


def _numbers(value: Any) -> list[float]:
    """Every number in a JSON document, however nested."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def test_an_outlier_cannot_be_read_back_from_what_is_released(
    home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    """One income of 987,654.32 among 2,000 near 50,000: neither the published table nor
    its card holds a figure within 20% of it. The review report, which stays inside
    synthgate and may show group statistics of the real rows, says it is internal."""
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["north", "south", "east", "west"], 2_000),
            "income": np.round(rng.lognormal(10.8, 0.3, 2_000), 2),
        }
    )
    frame.loc[1_234, "income"] = OUTLIER
    source = tmp_path / "people.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "export"
    out.mkdir()
    spec = {
        "name": "outlier",
        "source": {"url": str(source), "table": "people"},
        "target": {"url": str(out / "people.csv")},
        "synthesis": {"synthesizer": "dp-mst", "privacy": {"epsilon": 3.0}},
        "release": {"policy": "internal-testing"},
    }
    assert main(["run", str(write_spec(spec)), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert main(["publish", outcome["release_id"], "--json"]) == 0
    capsys.readouterr()

    released = pd.read_csv(out / "people.csv")["income"].dropna().to_numpy()
    card = json.loads((out / "people.csv.card.json").read_text("utf-8"))
    near = [x for x in [*released, *_numbers(card)] if abs(x - OUTLIER) < 0.2 * OUTLIER]
    assert not near
    assert released.max() < 0.5 * OUTLIER  # DP bounds cut the tail the outlier makes
    review = Path(outcome["report_html"]).read_text("utf-8")
    assert "contains statistics of the real data" in review

    # both relations' ε, recomputed from the parameters the ledger recorded
    spent = json.loads(Path(outcome["report_json"]).read_text("utf-8"))["privacy"]["spent"]
    recorded = [GaussianMechanism(**s["details"]) for s in spent["stages"]]
    account = compose(recorded, delta=spent["delta"])
    assert account.epsilon == pytest.approx(spent["epsilon"], rel=1e-6)
    assert replace_one(account) == pytest.approx(
        (spent["replace_one_epsilon"], spent["replace_one_delta"]), rel=1e-6
    )
    assert card["privacy"]["replace_one"]["epsilon"] == spent["replace_one_epsilon"]
