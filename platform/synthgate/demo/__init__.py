"""The demo: a realistic CRM ``customers`` table in SQLite, generated with Faker.

Every value is fake (fixed seed); the table looks like real customer data so
that PII detection, masking and synthesis can be seen working.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

__all__ = ["DEMO_SEED", "demo_job_path", "generate_customers", "write_demo_db"]

DEMO_SEED = 20240607
PLANS = ("free", "pro", "enterprise")
REGIONS = ("north", "south", "east", "west", "central")
GENDERS = ("female", "male", "nonbinary")


def demo_job_path() -> Path:
    return Path(str(resources.files(__name__) / "job.yaml"))


def generate_customers(rows: int, *, seed: int = DEMO_SEED) -> pd.DataFrame:
    """*rows* customers with PII and correlated business columns."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    today = date(2026, 1, 1)
    plan = rng.choice(PLANS, size=rows, p=[0.55, 0.35, 0.10])
    base = np.select([plan == "free", plan == "pro"], [0.0, 49.0], 399.0)
    spend = np.round(base + rng.gamma(2.0, np.where(plan == "free", 2.0, 15.0)), 2)
    tenure = rng.integers(1, 121, size=rows)
    region = rng.choice(REGIONS, size=rows, p=[0.25, 0.2, 0.2, 0.2, 0.15])
    gender = rng.choice(GENDERS, size=rows, p=[0.49, 0.48, 0.03])
    dobs = [fake.date_of_birth(minimum_age=18, maximum_age=85) for _ in range(rows)]
    age = np.array([(today - d).days // 365 for d in dobs])
    logit = 0.8 - 0.035 * tenure + np.where(plan == "free", 0.9, -0.4) - 0.01 * (age - 45)
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "name": [fake.name() for _ in range(rows)],
            "email": [fake.unique.email() for _ in range(rows)],
            "phone": [fake.phone_number() for _ in range(rows)],
            "street_address": [fake.street_address() for _ in range(rows)],
            "ssn": [fake.unique.ssn() for _ in range(rows)],
            "date_of_birth": dobs,
            "ip_address": [fake.ipv4_public() for _ in range(rows)],
            "plan": plan,
            "monthly_spend": spend,
            "tenure_months": tenure,
            "region": region,
            "gender": gender,
            "age": age,
            "churned": churned,
        }
    )


def _table(meta: sa.MetaData) -> sa.Table:
    def one_of(col: str, values: tuple[str, ...]) -> sa.CheckConstraint:
        items = ", ".join(f"'{v}'" for v in values)
        return sa.CheckConstraint(f"{col} IN ({items})", name=f"ck_customers_{col}")

    return sa.Table(
        "customers",
        meta,
        sa.Column("customer_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("phone", sa.Text),
        sa.Column("street_address", sa.Text),
        sa.Column("ssn", sa.Text, nullable=False),
        sa.Column("date_of_birth", sa.Date, nullable=False),
        sa.Column("ip_address", sa.Text),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("monthly_spend", sa.Float, nullable=False),
        sa.Column("tenure_months", sa.Integer, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("gender", sa.Text),
        sa.Column("age", sa.Integer, nullable=False),
        sa.Column("churned", sa.Boolean, nullable=False),
        one_of("plan", PLANS),
        one_of("region", REGIONS),
        one_of("gender", GENDERS),
    )


def write_demo_db(path: Path, rows: int, *, seed: int = DEMO_SEED) -> Path:
    """Create (or recreate) the demo SQLite database at *path* atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{tmp}")
    meta = sa.MetaData()
    table = _table(meta)
    frame = generate_customers(rows, seed=seed)
    with engine.begin() as conn:
        meta.create_all(conn)
        frame.to_sql(table.name, conn, if_exists="append", index=False, chunksize=5000)
    engine.dispose()
    tmp.replace(path)
    return path
