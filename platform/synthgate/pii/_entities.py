"""Entities synthgate knows: their class, name hints and how to fake them."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "ENTITIES",
    "PERSON_KINDS",
    "EntityInfo",
    "PiiClass",
    "entity_from_name",
    "id_from_name",
    "normalise_column",
    "weak_person_hint",
]


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
    # a person name, an email, an address …: a column name announces it only for text
    text_only: bool = False
    # the broader entity a pack's ``pii.entities`` action also covers (FIRST_NAME → PERSON)
    parent: str | None = None


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
            r"^(e_?mail|email_?address|mail|courriel)$|_email$",
            80,
            text_only=True,
        ),
        EntityInfo(
            "IP_ADDRESS",
            PiiClass.DIRECT,
            "IP address",
            r"^(ip|ip_?addr(ess)?|ipv[46]|client_?ip|last_?login_?ip)$",
            75,
            text_only=True,
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
            r"^(street_?)?address(_?line_?\d)?$|^street$|^home_?address$|^(adresse|strasse)$",
            65,
            text_only=True,
        ),
        EntityInfo(
            "PERSON",
            PiiClass.DIRECT,
            "person name",
            r"^(name|names|full_?name|person|person_?name|display_?name|name_?full|"
            r"nom_?complet|nombre_?completo|nome_?completo|vollst(ae|a)ndiger_?name|"
            r"nom_?prenom|prenom_?nom)$"
            r"|(^|_)(full_?name|person_?name|customer_?name|client_?name|patient_?name|"
            r"contact_?name|employee_?name|member_?name|holder_?name|owner_?name|"
            r"kunden_?name|middle_?name|initials)(_|$)",
            60,
            text_only=True,
        ),
        EntityInfo(
            "FIRST_NAME",
            PiiClass.DIRECT,
            "first name",
            r"^(fname|f_name|first_?nm|given_?names?|forenames?|vorname|vornamen|prenom|"
            r"prenoms|primer_?nombre|primo_?nome|voornaam|imie|fornavn|fornamn|etunimi|"
            r"christian_?name|name_?given|name_?first)$"
            r"|(^|_)(first_?name|given_?name|forename|vorname|prenom|voornaam)(_|$)",
            62,
            text_only=True,
            parent="PERSON",
        ),
        EntityInfo(
            "LAST_NAME",
            PiiClass.DIRECT,
            "last name",
            r"^(lname|l_name|last_?nm|surnames?|family_?name|familienname|nachname|"
            r"nom_?de_?famille|nom_?famille|apellidos?|primer_?apellido|cognome|sobrenome|"
            r"apelido|achternaam|nazwisko|efternavn|efternamn|etternavn|sukunimi|"
            r"name_?family|name_?last)$"
            r"|(^|_)(last_?name|surname|family_?name|maiden_?name|nachname|apellidos?|cognome|"
            r"achternaam)(_|$)",
            62,
            text_only=True,
            parent="PERSON",
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
            "UK_NINO",
            PiiClass.DIRECT,
            "UK national insurance number",
            r"^(nino|ni_?(no|number)|national_?insurance(_?(no|number))?)$",
            85,
        ),
        EntityInfo(
            "NATIONAL_ID",
            PiiClass.DIRECT,
            "national id number",
            r"^(national_?id(_?number)?|insee|nir|steuer_?id|personal_?id(_?number)?|"
            r"personnummer|bsn|dni|nif|codice_?fiscale)$",
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
        EntityInfo(
            "LOCATION",
            PiiClass.QUASI,
            "place name",
            r"^(city|town|county|ville|stadt|ort|ciudad|citta)$",
            20,
            text_only=True,
        ),
        EntityInfo("URL", PiiClass.QUASI, "URL", r"^(url|website|homepage)$", 10, text_only=True),
        # a key or code unique to a row (case numbers, row ids, UUIDs): never learned or
        # copied. Found by values (unique and code-like) and by id_from_name, never by
        # entity_from_name: a name like plan_id says nothing about uniqueness
        EntityInfo("RECORD_ID", PiiClass.DIRECT, "record identifier", None, 5),
    )
}

_COMPILED = {name: re.compile(e.name_pattern) for name, e in ENTITIES.items() if e.name_pattern}


#: column names of identifiers; decisive only with unique values (see _classify)
_ID_NAME = re.compile(
    r"^(id|ids|uuid|guid|key|pk|rownames|row_?names|row_?id|row_?num(ber)?|row_?no|"
    r"record_?(id|no|num|number)|index|unnamed_0)$"
    r"|_(id|uuid|guid|no|nr|num|number|ref|reference|key)$"
)
#: bare words a form uses for a person's first or last name, but also for other things
#: ("first" visit, "last" login): they announce a name only with name-like values
_WEAK_PERSON: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("FIRST_NAME", re.compile(r"^(first|given|nombre|nome|navn|imi[eę])$")),
    ("LAST_NAME", re.compile(r"^(last|family|nom)$")),
)
PERSON_KINDS = frozenset({"PERSON", "FIRST_NAME", "LAST_NAME"})


def normalise_column(column: str) -> str:
    """``customerEmail`` → ``customer_email``; accents dropped (``Prénom`` → ``prenom``)."""
    folded = unicodedata.normalize("NFKD", column.strip())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", plain)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def id_from_name(column: str) -> bool:
    """Whether a column's name says it holds identifiers (``id``, ``case_number``)."""
    return _ID_NAME.search(normalise_column(column)) is not None


def weak_person_hint(column: str) -> str | None:
    """FIRST_NAME or LAST_NAME for a bare ``first``/``last``/``nom`` …, else None."""
    norm = normalise_column(column)
    return next((entity for entity, pattern in _WEAK_PERSON if pattern.search(norm)), None)


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
