"""Fake values per entity: realistic, formatted like the real ones, drawn
independently of any real value (and never equal to one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faker import Faker

from synthgate.pii._leak import LeakScanner

__all__ = ["fake_values"]

_MAX_TRIES = 20

_GENERATORS: dict[str, Callable[[Any], object]] = {
    "PERSON": lambda f: f.name(),
    "EMAIL_ADDRESS": lambda f: f.email(),
    "PHONE_NUMBER": lambda f: f.phone_number(),
    "US_SSN": lambda f: f.ssn(),
    "CREDIT_CARD": lambda f: f.credit_card_number(),
    "IBAN_CODE": lambda f: f.iban(),
    "IP_ADDRESS": lambda f: f.ipv4_public(),
    "STREET_ADDRESS": lambda f: f.street_address(),
    "LOCATION": lambda f: f.city(),
    "US_PASSPORT": lambda f: f.passport_number(),
    "US_DRIVER_LICENSE": lambda f: f.bothify("?#######").upper(),
    "URL": lambda f: f.url(),
    "ZIP_CODE": lambda f: f.postcode(),
    "DATE_OF_BIRTH": lambda f: f.date_of_birth(minimum_age=18, maximum_age=90),
}


def fake_values(
    entity: str | None,
    n: int,
    *,
    seed: int,
    avoid: LeakScanner | None = None,
    unique: bool = False,
) -> list[object]:
    """*n* fake values of *entity*; any that equals a real value is redrawn.

    With *unique*, a value drawn before is redrawn too (key columns).
    """
    faker: Any = Faker("en_US")
    faker.seed_instance(seed)
    generate: Callable[[Any], object] = _GENERATORS.get(
        entity or "", lambda f: f.bothify("??######").upper()
    )
    seen: set[object] = set()

    def bad(value: object) -> bool:
        return (avoid is not None and value in avoid) or (unique and value in seen)

    out: list[object] = []
    for _ in range(n):
        value = generate(faker)
        tries = 0
        while bad(value) and tries < _MAX_TRIES:
            value = generate(faker)
            tries += 1
        while bad(value):
            value = f"{value}-{faker.pystr(min_chars=4, max_chars=4)}"
        if unique:
            seen.add(value)
        out.append(value)
    return out
