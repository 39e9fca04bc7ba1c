"""Entities synthgate knows: their class, name hints and how to fake them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["ENTITIES", "EntityInfo", "PiiClass", "entity_from_name", "normalise_column"]


class PiiClass(enum.StrEnum):
    DIRECT = "direct_identifier"
    QUASI = "quasi_identifier"
    FREE_TEXT = "free_text"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class EntityInfo:
    name: str
    pii_class: PiiClass
    label: str
    name_pattern: str | None  # regex over the normalised column name
    priority: int  # higher wins a tie between entities matched by one value set
    # Presidio's pattern for the entity also matches common non-PII values (any
    # 10-digit number passes the NHS checksum one time in eleven; any 8-17 digit
    # integer looks like a bank account): counted only when the column name says so
    hint_only: bool = False


ENTITIES: dict[str, EntityInfo] = {
    e.name: e
    for e in (
        EntityInfo(
            "US_SSN",
            PiiClass.DIRECT,
            "US social security number",
            r"^(ssn|social_?security(_?number)?|sin)$",
            100,
        ),
        EntityInfo(
            "CREDIT_CARD",
            PiiClass.DIRECT,
            "credit card number",
            r"^(credit_?card(_?number)?|card_?number|cc_?number|pan)$",
            95,
        ),
        EntityInfo("IBAN_CODE", PiiClass.DIRECT, "IBAN", r"^iban(_?code)?$", 95),
        EntityInfo(
            "US_PASSPORT", PiiClass.DIRECT, "passport number", r"^passport(_?(no|number))?$", 90
        ),
        EntityInfo(
            "US_DRIVER_LICENSE",
            PiiClass.DIRECT,
            "driver licence",
            r"^drivers?_?licen[cs]e(_?(no|number))?$",
            85,
        ),
        EntityInfo(
            "EMAIL_ADDRESS",
            PiiClass.DIRECT,
            "email address",
            r"^(e_?mail|email_?address|mail)$|_email$",
            80,
        ),
        EntityInfo(
            "IP_ADDRESS",
            PiiClass.DIRECT,
            "IP address",
            r"^(ip|ip_?addr(ess)?|ipv[46]|client_?ip|last_?login_?ip)$",
            75,
        ),
        EntityInfo(
            "PHONE_NUMBER",
            PiiClass.DIRECT,
            "phone number",
            r"^(phone|phone_?number|mobile|cell|tel|telephone|fax)$|_phone$",
            70,
        ),
        EntityInfo(
            "STREET_ADDRESS",
            PiiClass.DIRECT,
            "street address",
            r"^(street_?)?address(_?line_?\d)?$|^street$|^home_?address$",
            65,
        ),
        EntityInfo(
            "PERSON",
            PiiClass.DIRECT,
            "person name",
            r"^(name|full_?name|first_?name|last_?name|given_?name|family_?name|surname|"
            r"customer_?name|patient_?name|contact_?name|middle_?name)$",
            60,
        ),
        EntityInfo(
            "UK_NHS",
            PiiClass.DIRECT,
            "UK NHS number",
            r"^nhs(_?(no|num|number|id))?$",
            88,
            hint_only=True,
        ),
        EntityInfo(
            "US_ITIN",
            PiiClass.DIRECT,
            "US taxpayer id (ITIN)",
            r"^(itin|tax_?id|taxpayer_?id)$",
            87,
        ),
        EntityInfo(
            "US_BANK_NUMBER",
            PiiClass.DIRECT,
            "bank account number",
            r"^(bank_?account(_?(no|number))?|account_?number|acct_?(no|number))$",
            86,
            hint_only=True,
        ),
        EntityInfo(
            "NATIONAL_ID",
            PiiClass.DIRECT,
            "national id number",
            r"^(national_?id(_?number)?|nino|ni_?number|insee|steuer_?id|personal_?id(_?number)?)$",
            84,
            hint_only=True,
        ),
        EntityInfo(
            "DATE_OF_BIRTH",
            PiiClass.QUASI,
            "date of birth",
            r"^(dob|birth_?date|date_?of_?birth|birthday)$",
            50,
        ),
        EntityInfo(
            "ZIP_CODE",
            PiiClass.QUASI,
            "postal code",
            r"^(zip|zip_?code|post_?code|postal_?code)$",
            45,
        ),
        EntityInfo("GENDER", PiiClass.QUASI, "gender", r"^(gender|sex)$", 40),
        EntityInfo("AGE", PiiClass.QUASI, "age", r"^age(_?years)?$", 40),
        EntityInfo("LOCATION", PiiClass.QUASI, "place name", r"^(city|town|county)$", 20),
        EntityInfo("URL", PiiClass.QUASI, "URL", r"^(url|website|homepage)$", 10),
    )
}

_COMPILED = {name: re.compile(e.name_pattern) for name, e in ENTITIES.items() if e.name_pattern}


def normalise_column(column: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def entity_from_name(column: str) -> str | None:
    """The entity a column's name announces, if any (``e_mail`` → EMAIL_ADDRESS)."""
    norm = normalise_column(column)
    best: tuple[int, str] | None = None
    for name, pattern in _COMPILED.items():
        if pattern.search(norm):
            prio = ENTITIES[name].priority
            if best is None or prio > best[0]:
                best = (prio, name)
    return best[1] if best else None
