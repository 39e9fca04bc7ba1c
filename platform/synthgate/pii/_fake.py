"""Fake values per entity: realistic, of the same kind and written like the real ones,
drawn independently of any real value (and never equal to one).

The kind comes from the classification: first names for a first-name column, last
names for a last-name column (in the column's locale when its names told it), codes
of the same shape for an identifier column (``99999999AA99A`` → ``48213907QK52C``),
in lower or upper case when the real values are.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from faker import Faker
from faker.config import AVAILABLE_LOCALES

from synthgate.pii._leak import LeakScanner

__all__ = ["fake_code", "fake_values"]

_MAX_TRIES = 20
DEFAULT_LOCALE = "en_US"
# when a real column holds most of its locale's names, fakes come from these too
_WIDER = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL")

_GENERATORS: dict[str, Callable[[Any], object]] = {
    "PERSON": lambda f: f.name(),
    "FIRST_NAME": lambda f: f.first_name(),
    "LAST_NAME": lambda f: f.last_name(),
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
    "UK_NINO": lambda f: f.bothify("??######?", letters="ABCEGHJKLMNPRSTWXYZ").upper(),
    "URL": lambda f: f.url(),
    "ZIP_CODE": lambda f: f.postcode(),
    "DATE_OF_BIRTH": lambda f: f.date_of_birth(minimum_age=18, maximum_age=90),
}
_DEFAULT_SHAPE = "AA999999"
#: what each character of a shape stands for
_CLASSES = {
    "9": string.digits,
    "A": string.ascii_uppercase,
    "a": string.ascii_lowercase,
    "X": string.ascii_uppercase + string.digits,
    "x": string.ascii_lowercase + string.digits,
}


def fake_code(rng: random.Random, shapes: Sequence[str]) -> str:
    """A code written like one of *shapes* (``AAA-999999``, or ``uuid``)."""
    shape = rng.choice(list(shapes) or [_DEFAULT_SHAPE])
    if shape == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return "".join(rng.choice(_CLASSES[ch]) if ch in _CLASSES else ch for ch in shape)


def _written(case: str | None) -> Callable[[object], object]:
    if case == "lower":
        return lambda v: v.lower() if isinstance(v, str) else v
    if case == "upper":
        return lambda v: v.upper() if isinstance(v, str) else v
    return lambda v: v


def fake_values(
    entity: str | None,
    n: int,
    *,
    seed: int,
    avoid: LeakScanner | None = None,
    unique: bool = False,
    locale: str | None = None,
    case: str | None = None,
    shapes: Sequence[str] = (),
) -> list[object]:
    """*n* fake values of *entity*; any that equals a real value is redrawn.

    With *unique*, a value drawn before is redrawn too (key columns). *locale*,
    *case* and *shapes* come from the column's classification (never its values).
    """
    faker: Any = Faker(locale if locale in AVAILABLE_LOCALES else DEFAULT_LOCALE)
    faker.seed_instance(seed)
    # seeded like Faker itself: fakes are independent of real values, not secrets
    rng = random.Random(seed)  # noqa: S311
    base = _GENERATORS.get(entity or "")
    write = _written(case)
    wider: Any = None  # other locales, for when the column's locale is used up

    def generate(tries: int) -> object:
        nonlocal wider
        if base is None:
            return fake_code(rng, shapes)
        if tries < _MAX_TRIES:
            return write(base(faker))
        if wider is None:
            wider = Faker(list(_WIDER))
            wider.seed_instance(seed)
        return write(base(wider))

    seen: set[object] = set()

    def bad(value: object) -> bool:
        return (avoid is not None and value in avoid) or (unique and value in seen)

    out: list[object] = []
    for _ in range(n):
        tries = 0
        value = generate(tries)
        while bad(value) and tries < 2 * _MAX_TRIES:
            tries += 1
            value = generate(tries)
        while bad(value):
            value = f"{value}-{faker.pystr(min_chars=4, max_chars=4)}"
        if unique:
            seen.add(value)
        out.append(value)
    return out
