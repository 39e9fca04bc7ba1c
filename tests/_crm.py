"""A generated CRM: customers (segment-dependent order counts) → orders →
order_items, which reference products, a public reference table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgate.contracts import Relationship

SEGMENTS = ("enterprise", "mid", "smb")
ORDER_RATE = {"enterprise": 8.0, "mid": 4.0, "smb": 1.5}
RELATIONSHIPS = [
    Relationship("orders", ("customer_id",), "customers", ("customer_id",)),
    Relationship("order_items", ("order_id",), "orders", ("order_id",)),
    Relationship("order_items", ("product_id",), "products", ("product_id",)),
]
KEYS = {"order_items": ["item_id"]}


def crm(customers: int, *, seed: int = 0, heavy_orders: int = 0) -> dict[str, pd.DataFrame]:
    """The four tables; *heavy_orders* > 0 gives the first customer that many orders."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(SEGMENTS, size=customers, p=[0.15, 0.35, 0.5])
    cust = pd.DataFrame(
        {
            "customer_id": np.arange(1001, 1001 + customers),
            "segment": segment,
            "region": rng.choice(["north", "south", "east", "west"], size=customers),
            "age": rng.integers(20, 80, size=customers),
        }
    )
    per = rng.poisson([ORDER_RATE[s] for s in segment])
    if heavy_orders:
        per[0] = heavy_orders
    owner = np.repeat(cust["customer_id"].to_numpy(), per)
    big = np.repeat(segment == "enterprise", per)
    orders = pd.DataFrame(
        {
            "order_id": np.arange(1, len(owner) + 1) * 7,
            "customer_id": owner,
            "channel": rng.choice(["web", "phone", "partner"], size=len(owner)),
            "amount": np.round(rng.gamma(2.0, np.where(big, 400.0, 60.0)), 2),
        }
    )
    products = pd.DataFrame(
        {
            "product_id": [f"P{i:03d}" for i in range(40)],
            "category": rng.choice(["hardware", "software", "service"], size=40),
            "price": np.round(rng.uniform(5, 500, size=40), 2),
        }
    )
    lines = 1 + rng.poisson(1.0, size=len(orders))
    items = pd.DataFrame(
        {
            "item_id": [f"I{i}" for i in range(int(lines.sum()))],
            "order_id": np.repeat(orders["order_id"].to_numpy(), lines),
            "product_id": rng.choice(products["product_id"].to_numpy(), size=int(lines.sum())),
            "quantity": rng.integers(1, 10, size=int(lines.sum())),
        }
    )
    return {"customers": cust, "orders": orders, "order_items": items, "products": products}


# ---------------------------------------------------------------------- star schema

REGIONS = ("north", "south", "east", "west")
CATEGORIES = ("hardware", "software", "service", "accessories")
# the category mix of a segment's purchases: enterprise buys hardware and service
CATEGORY_MIX = {
    "enterprise": (0.45, 0.15, 0.35, 0.05),
    "mid": (0.25, 0.35, 0.20, 0.20),
    "smb": (0.10, 0.45, 0.05, 0.40),
}
HOME_REGION_SHARE = 0.9  # of a customer's sales, the share made in a store of their region
STAR_PUBLIC = ("stores", "products", "dates")
STAR_RELATIONSHIPS = [
    Relationship("sales", ("customer_id",), "customers", ("customer_id",)),
    Relationship("sales", ("store_id",), "stores", ("store_id",)),
    Relationship("sales", ("product_id",), "products", ("product_id",)),
    Relationship("sales", ("date_id",), "dates", ("date_id",)),
]
STAR_KEYS = {"sales": ["sale_id"]}


def star(customers: int, *, seed: int = 0) -> dict[str, pd.DataFrame]:
    """A star schema: customers (the people) → sales (the fact table), whose rows
    also reference three public dimensions: stores (50), products (200), dates (730).

    What there is to learn: a customer's segment sets how many sales they make
    (as in :func:`crm`), which product categories they buy, how many units, and
    whether they buy at weekends; their region sets the store (a store of their
    own region for 90 % of the sales)."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(SEGMENTS, size=customers, p=[0.15, 0.35, 0.5])
    region = rng.choice(REGIONS, size=customers)
    cust = pd.DataFrame(
        {
            "customer_id": np.arange(1001, 1001 + customers),
            "segment": segment,
            "region": region,
            "age": rng.integers(20, 80, size=customers),
        }
    )
    stores = pd.DataFrame(
        {
            "store_id": np.arange(1, 51),
            "region": np.resize(np.array(REGIONS), 50),
            "format": rng.choice(["mall", "street", "outlet"], size=50, p=[0.3, 0.5, 0.2]),
        }
    )
    product_category = rng.choice(CATEGORIES, size=200)
    products = pd.DataFrame(
        {
            "product_id": [f"P{i:03d}" for i in range(200)],
            "category": product_category,
            "price": np.round(rng.uniform(5, 500, size=200), 2),
        }
    )
    days = pd.date_range("2023-01-01", periods=730, freq="D")
    dates = pd.DataFrame(
        {
            "date_id": days.strftime("%Y%m%d").astype(int),
            "weekday": days.strftime("%a"),
            "month": days.month.astype(np.int64),
            "year": days.year.astype(np.int64),
        }
    )
    per = rng.poisson([ORDER_RATE[s] for s in segment])
    n = int(per.sum())
    seg = np.repeat(segment, per)
    home = np.repeat(region, per)
    # store: one of the customer's region's stores, else any store
    by_region = {r: stores.loc[stores["region"] == r, "store_id"].to_numpy() for r in REGIONS}
    store = rng.choice(stores["store_id"].to_numpy(), size=n)
    local = rng.random(n) < HOME_REGION_SHARE
    for r in REGIONS:
        rows = np.flatnonzero(local & (home == r))
        store[rows] = rng.choice(by_region[r], size=len(rows))
    # product: a category from the segment's mix, then a product of that category
    by_category = {c: np.flatnonzero(product_category == c) for c in CATEGORIES}
    product = np.empty(n, dtype=np.int64)
    for s in SEGMENTS:
        rows = np.flatnonzero(seg == s)
        cats = rng.choice(len(CATEGORIES), size=len(rows), p=CATEGORY_MIX[s])
        for i, c in enumerate(CATEGORIES):
            picked = rows[cats == i]
            product[picked] = rng.choice(by_category[c], size=len(picked))
    # date: enterprise and mid customers seldom buy at weekends
    weekend = dates["weekday"].isin(["Sat", "Sun"]).to_numpy()
    business = np.where(weekend, 0.2, 1.0)
    business /= business.sum()
    any_day = np.full(len(dates), 1 / len(dates))
    day = np.where(
        seg == "smb",
        rng.choice(len(dates), size=n, p=any_day),
        rng.choice(len(dates), size=n, p=business),
    )
    big = seg == "enterprise"
    quantity = 1 + rng.poisson(np.where(big, 4.0, 1.0))
    price = products["price"].to_numpy()[product]
    sales = pd.DataFrame(
        {
            "sale_id": np.arange(1, n + 1),
            "customer_id": np.repeat(cust["customer_id"].to_numpy(), per),
            "store_id": store,
            "product_id": products["product_id"].to_numpy()[product],
            "date_id": dates["date_id"].to_numpy()[day],
            "quantity": quantity,
            "amount": np.round(quantity * price * rng.uniform(0.8, 1.0, size=n), 2),
        }
    )
    return {
        "customers": cust,
        "sales": sales,
        "stores": stores,
        "products": products,
        "dates": dates,
    }
