"""The generated CRM (customers → orders → order_items → public products) at ε = 3."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests._crm import KEYS, RELATIONSHIPS, crm

from synthgate import MultiTableSynthesis, synthesize_tables
from synthgate.synth.dp_mst import _synthesizer as mst_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result() -> MultiTableSynthesis:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mst_module, "noise_generator", lambda: np.random.default_rng(7))
        tables = crm(2000, seed=1, heavy_orders=500)
        return synthesize_tables(
            tables,
            unit="customers",
            relationships=RELATIONSHIPS,
            epsilon=3.0,
            public=["products"],
            keys=KEYS,
            seed=3,
        )


def test_keys_are_unique_and_every_foreign_key_points_at_a_released_row(
    result: MultiTableSynthesis,
) -> None:
    t = result.tables
    assert result.checks["referential_integrity"] == 1.0
    assert t["customers"]["customer_id"].is_unique
    assert t["orders"]["order_id"].is_unique
    assert t["order_items"]["item_id"].is_unique
    assert set(t["orders"]["customer_id"]) <= set(t["customers"]["customer_id"])
    assert set(t["order_items"]["order_id"]) <= set(t["orders"]["order_id"])
    assert set(t["order_items"]["product_id"]) <= set(crm(10)["products"]["product_id"])
    assert t["products"].equals(crm(2000, seed=1, heavy_orders=500)["products"])
    assert all(result.checks["unique_keys"].values())


def test_fresh_keys_never_reuse_source_keys(result: MultiTableSynthesis) -> None:
    customers = result.tables["customers"]["customer_id"]
    assert customers.tolist() == list(range(1, len(customers) + 1))  # the source's start at 1001


def test_enterprise_customers_have_more_orders(result: MultiTableSynthesis) -> None:
    t = result.tables
    per = t["orders"].groupby("customer_id").size()
    by_segment = (
        t["customers"]
        .set_index("customer_id")["segment"]
        .to_frame()
        .assign(orders=per)
        .fillna({"orders": 0})
        .groupby("segment")["orders"]
        .mean()
    )
    assert by_segment["enterprise"] > by_segment["mid"] > by_segment["smb"]


def test_children_per_parent_close_and_within_the_cap(result: MultiTableSynthesis) -> None:
    for name in ("orders -> customers", "order_items -> orders"):
        rel = result.checks["relationships"][name]
        assert rel["children_per_parent_tvd"] < 0.15
        assert rel["synthetic_max_children"] <= rel["cap"]
    # the customer with 500 orders did not move the cap, and no synthetic customer has 500
    cap = result.ledger["caps"]["orders"]["cap"]
    assert cap < 50
    assert result.tables["orders"].groupby("customer_id").size().max() <= cap


def test_one_epsilon_for_the_person_with_every_table_in_it(result: MultiTableSynthesis) -> None:
    ledger = result.ledger
    assert result.epsilon <= 3.0 * 1.001
    assert result.delta == 1e-5
    assert ledger["unit"] == "customers"
    assert set(ledger["tables"]) == {"customers", "orders", "order_items"}
    prefixes = {m["mechanism"].split("/")[0] for m in ledger["mechanisms"]}
    assert {"customers", "orders", "order_items", "contribution-cap:orders"} <= prefixes
    assert ledger["tables"]["order_items"]["rows_per_person"] == (
        ledger["caps"]["orders"]["cap"] * ledger["caps"]["order_items"]["cap"]
    )
    estimate = ledger["caps"]["orders"]["clipped_rows_estimate"]
    assert estimate is None or estimate % 10 == 0 or estimate < 100


def test_sdmetrics_multi_table_quality_is_reported_rounded(result: MultiTableSynthesis) -> None:
    quality = result.checks["quality"]
    assert quality is not None
    assert set(quality["properties"]) >= {"Cardinality", "Intertable Trends"}
    assert quality["score"] == round(quality["score"], 2)
    assert quality["score"] > 0.7


def test_ledger_and_checks_are_plain_json(result: MultiTableSynthesis) -> None:
    ledger = json.loads(json.dumps(result.ledger))
    assert ledger["epsilon"] == result.epsilon
    assert json.loads(json.dumps(result.checks))["referential_integrity"] == 1.0
