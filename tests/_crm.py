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
