"""Multi-table synthesis: refusals, contribution caps, composed ε, conditional sampling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgate import synthesize_tables
from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, Relationship
from synthgate.errors import ConfigError
from synthgate.memory import schema_of
from synthgate.privacy import GaussianMechanism, compose
from synthgate.synth.dp_mst import DPMSTSynthesizer
from synthgate.synth.dp_mst import _synthesizer as mst_module
from synthgate.synth.multitable import describe_plans, plan_tables
from synthgate.synth.multitable._caps import clip_children
from synthgate.synth.multitable._checks import tvd
from synthgate.synth.multitable._keys import fresh_values

SECRET = "SECRET-VALUE-4711"


@pytest.fixture(autouse=True)
def _seeded_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mst_module, "noise_generator", lambda: np.random.default_rng(3))


def _rel(child: str, ccol: str, parent: str, pcol: str) -> Relationship:
    return Relationship(child, (ccol,), parent, (pcol,))


def _small(n: int = 40) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    people = pd.DataFrame({"pid": np.arange(n), "kind": rng.choice([SECRET, "b"], size=n)})
    per = rng.integers(0, 4, size=n)
    per[0] = 60  # one person with very many rows
    visits = pd.DataFrame(
        {
            "vid": np.arange(int(per.sum())),
            "pid": np.repeat(people["pid"].to_numpy(), per),
            "ward": rng.choice([SECRET, "w2", "w3"], size=int(per.sum())),
        }
    )
    return {"people": people, "visits": visits}


def _refusal(tables: dict[str, pd.DataFrame], **kw: object) -> str:
    with pytest.raises(ConfigError) as err:
        plan_tables(tables, **{"public": (), "keys": {}, **kw})  # type: ignore[arg-type]
    text = str(err.value)
    assert "\n" not in text
    assert SECRET not in text
    assert err.value.exit_code == 2
    return text


def test_unknown_unit_is_refused_naming_the_tables() -> None:
    text = _refusal(_small(), unit="patients", relationships=[])
    assert "unit table 'patients' is not among the tables given (people, visits)" in text


def test_unreachable_table_is_refused() -> None:
    text = _refusal(_small(), unit="people", relationships=[])
    assert "table 'visits' is not reachable from the unit 'people'" in text
    assert "declare its relationship, make it public, or leave it out" in text


def test_cycle_self_reference_and_second_parent_become_links() -> None:
    tables = _small()
    tables["visits"]["next_vid"] = tables["visits"]["vid"]
    tables["notes"] = pd.DataFrame({"nid": [1], "vid": [0], "also": [0]})
    tables["visits"]["nid"] = 1
    rels = [
        _rel("visits", "pid", "people", "pid"),
        _rel("visits", "next_vid", "visits", "vid"),
        _rel("notes", "vid", "visits", "vid"),
        _rel("visits", "nid", "notes", "nid"),
    ]
    plans = plan_tables(tables, unit="people", relationships=rels, public=(), keys={})
    by_name = {p.name: p for p in plans}
    assert [p.name for p in plans] == ["people", "visits", "notes"]
    assert by_name["visits"].parent == rels[0]
    assert set(by_name["visits"].links) == {rels[1], rels[3]}  # itself, and the cycle's back edge
    assert by_name["notes"].parent == rels[2]
    assert {"next_vid", "nid"} <= by_name["visits"].key_columns  # never modelled as values
    assert "nid" in by_name["notes"].key  # a link's target key is regenerated
    lines = describe_plans(plans, ["wards"])
    assert lines[0] == "people: the unit, one row per person"
    assert "references itself (next_vid -> visits)" in lines[1]
    assert "also references (nid -> notes)" in lines[1]
    assert lines[-1] == "wards: public, copied as given (no budget)"
    assert all(SECRET not in line for line in lines)


def _linked(n: int = 400) -> tuple[dict[str, pd.DataFrame], list[Relationship]]:
    """people (referred_by another person), accounts and cards per person, and
    transactions of an account paid by a card of the same person, following the
    person's previous transaction."""
    rng = np.random.default_rng(5)
    people = pd.DataFrame({"pid": np.arange(n), "tier": rng.choice(["a", "b"], size=n)})
    people["referred_by"] = np.where(rng.random(n) < 0.3, rng.integers(0, n, size=n), np.nan)
    accounts = pd.DataFrame({"aid": np.arange(n), "pid": np.arange(n)})
    cards = pd.DataFrame({"cid": np.arange(2 * n), "pid": np.repeat(np.arange(n), 2)})
    per = rng.integers(0, 4, size=n)
    owner = np.repeat(np.arange(n), per)
    m = len(owner)
    txns = pd.DataFrame(
        {
            "tid": np.arange(m),
            "aid": owner,
            "amount": rng.choice(["low", "high"], size=m),
            "cid": np.where(rng.random(m) < 0.9, 2 * owner, np.nan),
        }
    )
    first = np.r_[True, owner[1:] != owner[:-1]]
    txns["prev"] = np.where(first, np.nan, np.arange(m) - 1)
    rels = [
        _rel("people", "referred_by", "people", "pid"),
        _rel("accounts", "pid", "people", "pid"),
        _rel("cards", "pid", "people", "pid"),
        _rel("txns", "aid", "accounts", "aid"),
        _rel("txns", "cid", "cards", "cid"),
        _rel("txns", "prev", "txns", "tid"),
    ]
    return {"people": people, "accounts": accounts, "cards": cards, "txns": txns}, rels


def test_links_point_at_released_rows_of_the_learned_kind() -> None:
    tables, rels = _linked()
    result = synthesize_tables(
        tables,
        unit="people",
        relationships=rels,
        keys={"txns": ["tid"], "cards": ["cid"], "accounts": ["aid"]},
        epsilon=8.0,
        caps={"accounts": 1, "cards": 2, "txns": 3},
        seed=0,
    )
    out = result.tables
    assert result.checks["referential_integrity"] == 1.0
    assert all(result.checks["unique_keys"].values())
    links = {k: v for k, v in result.checks["relationships"].items() if v.get("link")}
    assert set(links) == {
        "people -> people (referred_by)",
        "txns -> cards (cid)",
        "txns -> txns (prev)",
    }
    assert set(result.ledger["links"]) == {"people.referred_by", "txns.cid", "txns.prev"}
    people, txns = out["people"], out["txns"]
    assert abs(people["referred_by"].notna().mean() - 0.3) < 0.1  # the share set is learned
    # a self-reference points at an earlier row (fresh keys count up): no chain loops
    referred = people.dropna(subset=["referred_by"])
    assert (referred["referred_by"].astype(int) <= referred["pid"]).all()
    following = txns.dropna(subset=["prev"])
    assert (following["prev"].astype(int) < following["tid"]).all()
    # the card paying a transaction is the same person's, as in the source
    account_person = dict(zip(out["accounts"]["aid"], out["accounts"]["pid"], strict=True))
    card_person = dict(zip(out["cards"]["cid"], out["cards"]["pid"], strict=True))
    paid = txns.dropna(subset=["cid"])
    same = [
        account_person[a] == card_person[int(c)]
        for a, c in zip(paid["aid"], paid["cid"], strict=True)
    ]
    assert np.mean(same) > 0.8
    assert abs(txns["cid"].notna().mean() - 0.9) < 0.1


def test_unknown_column_and_public_pointing_at_private_are_refused() -> None:
    text = _refusal(
        _small(), unit="people", relationships=[_rel("visits", "nope", "people", "pid")]
    )
    assert "table 'visits' has no column 'nope'" in text
    text = _refusal(
        _small(),
        unit="people",
        relationships=[_rel("visits", "pid", "people", "pid")],
        public=("visits",),
    )
    assert "public table 'visits' references private table 'people'" in text


def test_api_refuses_missing_and_malformed_relationships() -> None:
    with pytest.raises(ConfigError, match="needs relationships"):
        synthesize_tables(_small(), unit="people", epsilon=1.0)
    with pytest.raises(ConfigError, match=r"is not 'table\.column'"):
        synthesize_tables(
            _small(), unit="people", epsilon=1.0, relationships=[{"child": "pid", "parent": "x"}]
        )


def test_declared_cap_bounds_every_synthetic_parent() -> None:
    result = synthesize_tables(
        _small(200),
        unit="people",
        relationships=[{"child": "visits.pid", "parent": "people.pid"}],
        epsilon=4.0,
        keys={"visits": ["vid"]},
        caps={"visits": 3},
        seed=1,
    )
    visits, people = result.tables["visits"], result.tables["people"]
    assert visits.groupby("pid").size().max() <= 3
    assert set(visits["pid"]) <= set(people["pid"])
    assert people["pid"].is_unique
    assert visits["vid"].is_unique
    assert list(visits.columns) == ["vid", "pid", "ward"]
    assert result.ledger["caps"]["visits"] == {
        "cap": 3,
        "declared": True,
        "clipped_rows_estimate": None,
    }
    assert result.ledger["tables"]["visits"]["rows_per_person"] == 3
    assert result.checks["referential_integrity"] == 1.0
    assert result.epsilon <= 4.0 * 1.001


def test_clip_children_keeps_at_most_cap_per_parent() -> None:
    parents = np.array([0, 0, 0, 1, 0, 2, 2, 0])
    keep = clip_children(parents, 2, np.random.default_rng(0).permutation(len(parents)))
    assert np.bincount(parents[keep]).tolist() == [2, 1, 2]


def test_tvd_counts_above_the_cap_at_the_cap() -> None:
    assert tvd(np.array([1, 9, 9]), np.array([1, 3, 3]), 3) == 0.0
    assert tvd(np.array([0, 0]), np.array([2, 2]), 3) == 1.0


def test_fresh_keys_are_unique_and_shaped_like_the_source() -> None:
    ints = fresh_values(5, pd.Series([10, 20], dtype="int64"), np.random.default_rng(0))
    assert ints.tolist() == [1, 2, 3, 4, 5]
    text = fresh_values(1000, pd.Series(["a"]), np.random.default_rng(0))
    assert text.is_unique
    assert all(len(v) == 36 and v[14] == "4" for v in text)


def test_sample_given_draws_each_row_for_its_value() -> None:
    rng = np.random.default_rng(0)
    ctx = rng.choice(["0", "1"], size=3000)
    frame = pd.DataFrame({"ctx": ctx, "x": np.where(ctx == "1", "hi", "lo")})
    schema = schema_of("t", pa.Table.from_pandas(frame))
    schema = schema.replace_columns(
        [
            c
            if c.name != "ctx"
            else ColumnSchema("ctx", LogicalType.CATEGORICAL, False, "", ("0", "1"))
            for c in schema.columns
        ]
    )
    synth = DPMSTSynthesizer(target="ctx")
    synth.fit(frame, schema, privacy=PrivacyRequest(50.0, 1e-6), seed=0)
    values = ["1"] * 300 + ["0"] * 300
    out = synth.sample_given("ctx", values, seed=2)
    assert out["ctx"].tolist() == values
    assert (out["x"][:300] == "hi").mean() > 0.9
    assert (out["x"][300:] == "lo").mean() > 0.9


def _chain(levels: int, seed: int) -> tuple[dict[str, pd.DataFrame], list[Relationship]]:
    rng = np.random.default_rng(seed)
    tables = {"t0": pd.DataFrame({"id": np.arange(30), "c": rng.choice(["a", "b"], size=30)})}
    rels = []
    for level in range(1, levels + 1):
        parent = tables[f"t{level - 1}"]
        per = rng.integers(0, 4, size=len(parent))
        n = int(per.sum())
        tables[f"t{level}"] = pd.DataFrame(
            {
                "id": np.arange(n),
                "up": np.repeat(parent["id"].to_numpy(), per),
                "v": rng.integers(0, 5, size=n),
            }
        )
        rels.append(_rel(f"t{level}", "up", f"t{level - 1}", "id"))
    return tables, rels


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    levels=st.integers(1, 3),
    caps=st.lists(st.integers(1, 40), min_size=3, max_size=3),
    declared=st.lists(st.booleans(), min_size=3, max_size=3),
    epsilon=st.floats(0.3, 8.0),
)
def test_composed_epsilon_never_exceeds_the_request(
    levels: int, caps: list[int], declared: list[bool], epsilon: float
) -> None:
    tables, rels = _chain(levels, seed=levels)
    given_caps = {f"t{i + 1}": caps[i] for i in range(levels) if declared[i]}
    try:
        result = synthesize_tables(
            tables, unit="t0", relationships=rels, epsilon=epsilon, caps=given_caps, seed=0
        )
    except ConfigError as err:  # a person owning very many rows is refused, never under-noised
        refused = str(err)
    else:
        refused = ""
    if refused:
        assert "rows per person" in refused
        assert levels > 1
        return
    assert result.epsilon <= epsilon * 1.001
    ledger = result.ledger
    mechs = [GaussianMechanism(**m) for m in ledger["mechanisms"]]
    assert compose(mechs, delta=result.delta).epsilon == pytest.approx(result.epsilon)
    k = 1
    for i in range(1, levels + 1):
        k *= ledger["caps"][f"t{i}"]["cap"]
        assert ledger["tables"][f"t{i}"]["rows_per_person"] == k
        if f"t{i}" in given_caps:
            assert ledger["caps"][f"t{i}"]["cap"] == given_caps[f"t{i}"]


def test_composite_foreign_key_points_at_a_released_parent() -> None:
    rng = np.random.default_rng(1)
    orders = pd.DataFrame(
        {
            "region": rng.choice(["eu", "us"], size=150),
            "no": np.arange(150),
            "size": rng.choice(["s", "l"], size=150),
        }
    )
    per = rng.integers(0, 3, size=150)
    lines = pd.DataFrame(
        {
            "o_region": np.repeat(orders["region"].to_numpy(), per),
            "o_no": np.repeat(orders["no"].to_numpy(), per),
            "line": np.arange(int(per.sum())),
        }
    )
    rel = Relationship("lines", ("o_region", "o_no"), "orders", ("region", "no"))
    result = synthesize_tables(
        {"orders": orders, "lines": lines},
        unit="orders",
        relationships=[rel],
        keys={"lines": ["o_region", "o_no", "line"]},
        epsilon=5.0,
        caps={"lines": 2},
        seed=0,
    )
    out_orders, out_lines = result.tables["orders"], result.tables["lines"]
    assert not out_orders.duplicated(subset=["region", "no"]).any()
    assert not out_lines.duplicated(subset=["o_region", "o_no", "line"]).any()
    parents = set(out_orders[["region", "no"]].itertuples(index=False, name=None))
    assert set(out_lines[["o_region", "o_no"]].itertuples(index=False, name=None)) <= parents
    assert result.checks["referential_integrity"] == 1.0
    assert result.checks["unique_keys"] == {"orders": True, "lines": True}


def test_dates_held_as_python_objects_are_synthesized_within_their_range() -> None:
    """Sources read dates as Python objects: they were taken for categories, found no
    value frequent enough to release, and came out always missing."""
    import datetime as dt

    rng = np.random.default_rng(2)
    n = 600
    start = dt.date(2020, 1, 1)
    people = pd.DataFrame(
        {
            "pid": np.arange(n),
            "joined": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
            "tier": rng.choice(["a", "b"], n),
        }
    )
    per = rng.integers(0, 3, n)
    visits = pd.DataFrame(
        {
            "vid": np.arange(int(per.sum())),
            "pid": np.repeat(np.arange(n), per),
            "day": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, per.sum())],
        }
    )
    result = synthesize_tables(
        {"people": people, "visits": visits},
        unit="people",
        relationships=[_rel("visits", "pid", "people", "pid")],
        keys={"visits": ["vid"]},
        epsilon=4.0,
        caps={"visits": 2},
        seed=0,
    )
    for name, col in (("people", "joined"), ("visits", "day")):
        out = pd.to_datetime(result.tables[name][col])
        assert out.notna().mean() > 0.95, name
        assert out.min() >= pd.Timestamp("2019-06-01")
        assert out.max() <= pd.Timestamp("2022-12-31")
    quality = result.checks["quality"]
    assert quality is not None
    assert quality["properties"]["Column Shapes"] > 0.7


def _home_region_share(tables: dict[str, pd.DataFrame]) -> float:
    sales = tables["sales"].merge(tables["customers"][["customer_id", "region"]], on="customer_id")
    sales = sales.merge(
        tables["stores"][["store_id", "region"]], on="store_id", suffixes=("", "_store")
    )
    return float((sales["region"] == sales["region_store"]).mean())


def test_a_declared_context_keeps_what_a_second_parent_attribute_decides() -> None:
    """A sale's store is in its customer's region 90% of the time; by default a child
    table sees one parent attribute (the segment), naming the region keeps it."""
    from tests._crm import STAR_KEYS, STAR_PUBLIC, STAR_RELATIONSHIPS, star

    tables = star(4000, seed=1)
    kwargs: dict[str, Any] = {
        "unit": "customers",
        "relationships": STAR_RELATIONSHIPS,
        "public": STAR_PUBLIC,
        "keys": STAR_KEYS,
        "epsilon": 8.0,
        "caps": {"sales": 12},
        "seed": 0,
    }
    plain = synthesize_tables(tables, **kwargs)
    named = synthesize_tables(tables, context={"sales": ["segment", "region"]}, **kwargs)
    assert _home_region_share(tables) > 0.85
    assert _home_region_share(plain.tables) < 0.5
    assert _home_region_share(named.tables) > 0.7
    assert named.checks["referential_integrity"] == 1.0
    with pytest.raises(ConfigError) as err:
        synthesize_tables(tables, context={"sales": ["customer_id", "nope"]}, **kwargs)
    assert "'customer_id', a key of 'customers'" in str(err.value)
    assert "'nope', which is not a column of 'customers'" in str(err.value)
