"""A commented job-spec draft from a table's catalog and PII inventory (``synthgate init``),
or from several related tables' (``synthgate init --tables``).

Everything here is built from public facts only: column names, logical types,
nullability, keys, the domains and bounds the catalog declares (enum types,
``CHECK … IN`` lists), the policy pack, and the PII inventory (entity, class,
share of sampled values). No value read from the table's rows reaches the text.

Questions only the spec's author can answer (the target column, protected
attributes, ε, who approves) are written as comments, so the YAML is valid and
``synthgate run`` accepts it unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import yaml

from synthgate.config import PiiAction
from synthgate.contracts import ColumnSchema, LogicalType, Relationship, TableSchema
from synthgate.protected import suggest_protected

__all__ = [
    "PASSWORD_ENV",
    "ColumnPlan",
    "DraftInput",
    "PolicyFacts",
    "TableDraft",
    "TablesDraftInput",
    "guess_keys",
    "guess_relationships",
    "job_name",
    "render_draft",
    "render_tables_draft",
    "secret_free_url",
    "singular",
]

#: the variable a drafted source URL reads its password from
PASSWORD_ENV = "SYNTHGATE_SOURCE_PASSWORD"  # noqa: S105 - a variable name, not a password
DEFAULT_EPSILON = 3.0
#: the actions whose columns are learned as they are (a declared domain still applies)
_LEARNED_AS_IS = frozenset({"keep"})
#: the actions whose columns the synthesizer learns (kept, coarsened or redacted)
_LEARNED = frozenset({"keep", "generalize", "redact"})
_TARGET_TYPES = frozenset(
    {
        LogicalType.BOOLEAN,
        LogicalType.CATEGORICAL,
        LogicalType.INTEGER,
        LogicalType.FLOAT,
        LogicalType.DECIMAL,
        LogicalType.TEXT,
    }
)
_URL_PASSWORD = re.compile(r"^(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pwd)=)(?P<pw>[^&#]+)", re.IGNORECASE)
_ENV_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")
#: plural endings and their singular, tried in order (``categories`` → ``category``)
_PLURALS = (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("s", ""))
#: the example cap a drafted ``# caps:`` line shows
_EXAMPLE_CAP = 10


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """What the policy pack would do with one column, and why (no value)."""

    name: str
    action: str  # a MaskAction value: keep, drop, fake, rekey, pseudonymize, generalize, redact
    entity: str | None = None
    pii_class: str = "none"  # a PiiClass value
    share: float = 0.0
    evidence: tuple[str, ...] = ()  # "name" (the column name), "presidio" (sampled values)

    @property
    def is_pii(self) -> bool:
        return self.pii_class != "none" or self.entity is not None


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """The parts of a policy pack a draft mentions."""

    ref: str  # the pack's name or path, as the job spec will name it
    name: str
    epsilon_per_source: float
    required_approvals: int
    auto_approve: bool
    needs_key: bool


@dataclass(frozen=True, slots=True)
class DraftInput:
    url: str  # the source URL as the user gave it
    schema: TableSchema
    plans: tuple[ColumnPlan, ...]  # one per readable column, when PII was classified
    policy: PolicyFacts
    spec_dir: PurePath  # the folder the spec is written to (the target file goes next to it)
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TableDraft:
    """One table of a multi-table draft: its catalog, what the pack does per column,
    and the columns that only link rows (they get fresh keys in the release)."""

    schema: TableSchema
    plans: tuple[ColumnPlan, ...]
    keys: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TablesDraftInput:
    """A multi-table draft: the tables, the relationships and the synthesis plan."""

    url: str  # the source URL as the user gave it
    tables: tuple[TableDraft, ...]  # in the order of source.tables
    unit: str
    public: tuple[str, ...]
    relationships: tuple[Relationship, ...]
    guessed: bool  # True: guessed from column names (written); False: the catalog's (comments)
    plan: tuple[str, ...]  # one line per table: how it is synthesized
    problems: tuple[str, ...]  # why the tables cannot be synthesized as drafted
    children: tuple[Relationship, ...]  # each private child table's link to its parent
    policy: PolicyFacts
    spec_dir: PurePath
    keys: tuple[tuple[str, str], ...] = ()  # (table, key column) guessed from column names


# --------------------------------------------------------------------------- small facts


def job_name(table: str) -> str:
    """A job name matching the spec's name pattern, derived from the table's name."""
    slug = _NAME_CHARS.sub("-", table.lower()).lstrip("._-")[:64].rstrip("._-")
    return slug or "job"


def secret_free_url(url: str) -> tuple[str, bool]:
    """*url* with a password replaced by ``${SYNTHGATE_SOURCE_PASSWORD}``, and whether one was.

    Both places a URL holds one are read: ``user:PASSWORD@host`` and a
    ``?password=`` query parameter. A password that is already a ``${VAR}``
    reference is kept.
    """
    replaced = False

    def swap(match: re.Match[str]) -> str:
        nonlocal replaced
        if _ENV_REFERENCE.match(match["pw"]):
            return match[0]
        replaced = True
        tail = "@" if match[0].endswith("@") else ""
        return f"{match['head']}${{{PASSWORD_ENV}}}{tail}"

    url = _QUERY_PASSWORD.sub(swap, _URL_PASSWORD.sub(swap, url, count=1))
    return url, replaced


def _literal(text: str) -> str:
    """*text* protected from the spec's ``${VAR}`` interpolation."""
    return text.replace("$", "$$")


def _scalar(value: str) -> str:
    """One YAML string: plain where that reads back as the same string, else quoted."""
    if _PLAIN.match(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> str:
    """*text* safe inside a YAML comment (one line, printable)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _names(names: Sequence[str]) -> str:
    return ", ".join(_comment(n) for n in names)


def _number(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- sections


def _header(draft: DraftInput) -> Iterator[str]:
    table = _comment(draft.schema.name)
    yield f"# Job spec draft for table {table}, written by `synthgate init` from the"
    yield "# catalog (columns, types, keys, declared domains) and the PII inventory under"
    yield f"# policy pack {_comment(draft.policy.name)!r}. No value read from the rows is written here;"
    yield "# the categories below are declared by the schema. It is a valid job spec as it"
    yield "# is: answer the QUESTION comments, check it with `synthgate run THIS_FILE"
    yield "# --dry-run`, then run it."
    yield "#"
    yield "# columns (catalog):"
    keys = set(draft.schema.primary_key)
    for col in draft.schema.columns:
        yield f"#   {_column_summary(col, keys)}"
    yield "version: 1"
    yield f"name: {_scalar(job_name(draft.schema.name))}"
    yield f"description: {_scalar(_literal(f'Synthetic replacement of {draft.schema.name}'))}"


def _column_summary(col: ColumnSchema, keys: set[str]) -> str:
    facts = [col.type.value, "nullable" if col.nullable else "not null"]
    if col.name in keys:
        facts.append("primary key")
    if col.domain:
        facts.append(f"declared domain of {len(col.domain)}")
    if col.bounds:
        facts.append(f"declared bounds {_number(col.bounds[0])}..{_number(col.bounds[1])}")
    if col.native_type:
        facts.append(f"native {col.native_type}")
    return f"{_comment(col.name)}: {', '.join(_comment(f) for f in facts)}"


def _url_lines(given: str) -> Iterator[str]:
    url, replaced = secret_free_url(given)
    if replaced:
        yield "  # The URL you gave held a password; it is not written here. Export it before"
        yield f"  # running: export {PASSWORD_ENV}=... (URL-encoded as in the URL), or drop it"
        yield "  # from the URL and name a file that holds it with password_file: PATH."
    yield f"  url: {_scalar(url)}"


def _source(draft: DraftInput) -> Iterator[str]:
    yield "source:"
    yield from _url_lines(draft.url)
    yield f"  table: {_scalar(_literal(draft.schema.name))}"
    if draft.unreadable:
        readable = [c for c in draft.schema.column_names if c not in draft.unreadable]
        yield f"  # left out: {_names(draft.unreadable)} (a type synthgate cannot read)"
        yield "  columns:"
        yield from (f"    - {_scalar(_literal(name))}" for name in readable)


def _target_url(spec_dir: PurePath) -> str:
    path = (spec_dir / "released.db").as_posix()
    return f"  url: {_scalar(_literal(f'sqlite:///{path}'))}"


def _target(draft: DraftInput) -> Iterator[str]:
    yield "target:"
    yield "  # Where an approved release is published (nothing is written before approval);"
    yield "  # any database URL or .csv/.parquet path. A relative path is read from the"
    yield "  # folder synthgate runs in."
    yield _target_url(draft.spec_dir)
    yield f"  table: {_scalar(_literal(draft.schema.name + '_synthetic'))}"
    yield "  mode: replace"


def _pii(draft: DraftInput) -> Iterator[str]:
    yield "pii:"
    yield f"  policy: {_scalar(_literal(draft.policy.ref))}"
    if draft.policy.needs_key:
        yield f"  # pack {_comment(draft.policy.name)!r} may pseudonymize: export SYNTHGATE_PSEUDONYM_KEY"
        yield "  # (a long random secret) or set key_file: PATH before running (docs/pii.md)."
    rekeyed = [p.name for p in draft.plans if p.action == "rekey"]
    if rekeyed:
        yield f"  # key columns get fresh keys in the release, never learned: {_names(rekeyed)}"
    flagged = _flagged(draft.plans)
    if not draft.plans:
        yield "  # PII was not classified; the run classifies every column under the pack."
    if not flagged:
        yield "  columns: {}"
        return
    yield f"  # What pack {_comment(draft.policy.name)!r} does with each column where PII was found on a"
    yield "  # sample of rows. Change an action to override the pack (drop | fake |"
    yield "  # pseudonymize | keep | generalize | redact); delete a line to follow it."
    yield "  # Direct identifiers are never learned, whatever is set."
    yield "  columns:"
    yield from _pii_lines(flagged, "    ")


def _flagged(plans: Sequence[ColumnPlan], keys: Sequence[str] = ()) -> list[ColumnPlan]:
    """The columns where PII was found whose action the pack decides (keys aside)."""
    actions = {a.value for a in PiiAction}
    return [p for p in plans if p.is_pii and p.action in actions and p.name not in keys]


def _pii_lines(flagged: Sequence[ColumnPlan], indent: str) -> Iterator[str]:
    """``column: action  # entity, class, share`` per column, the notes aligned."""
    lines = [(f"{indent}{_scalar(p.name)}: {p.action}", _pii_note(p)) for p in flagged]
    width = max((len(line) for line, _ in lines), default=0)
    yield from (f"{line.ljust(width)}  # {note}" for line, note in lines)


def _pii_note(plan: ColumnPlan) -> str:
    kind = plan.pii_class.replace("_", " ")
    found = (
        f"in {plan.share:.0%} of sampled values"
        if "presidio" in plan.evidence or "name" not in plan.evidence
        else "by its column name"
    )
    return _comment(f"{plan.entity or 'no entity'}, {kind}, {found}")


def _synthesis(draft: DraftInput) -> Iterator[str]:
    facts = draft.policy
    yield "synthesis:"
    yield "  # No synthesizer is named: the default engine is chosen from public facts."
    yield "  privacy:"
    yield "    # QUESTION: how much privacy loss may one release spend? A smaller epsilon"
    yield "    # protects people more and keeps less detail. Every run spends it from the"
    yield f"    # table's total budget: epsilon {_number(facts.epsilon_per_source)} under pack {_comment(facts.name)!r}."
    yield f"    epsilon: {DEFAULT_EPSILON}"
    hints = list(_column_hints(draft))
    if not hints:
        yield "  # The catalog declares no domain or bound for the learned columns; declaring"
        yield "  # public ones under columns: {COLUMN: {categories: [...]}} or {min: .., max: ..}"
        yield "  # saves privacy budget."
        return
    yield "  # Declared by the schema (enum types, CHECK ... IN lists): public, no budget spent."
    yield "  columns:"
    yield from hints


def _column_hints(draft: DraftInput) -> Iterator[str]:
    planned = {p.name: p.action for p in draft.plans}
    for col in draft.schema.columns:
        if col.name in draft.unreadable or planned.get(col.name, "keep") not in _LEARNED_AS_IS:
            continue
        if col.type is LogicalType.IDENTIFIER:
            continue
        parts = []
        if col.domain:
            values = ", ".join(_scalar(_literal(v)) for v in col.domain)
            parts.append(f"categories: [{values}]")
        if col.bounds and col.type.is_numeric and col.bounds[0] < col.bounds[1]:
            parts.append(f"min: {float(col.bounds[0])!r}, max: {float(col.bounds[1])!r}")
        if parts:
            yield f"    {_scalar(col.name)}: {{{', '.join(parts)}}}"


def _learned(draft: DraftInput) -> list[ColumnSchema]:
    planned = {p.name: p.action for p in draft.plans}
    return [
        col
        for col in draft.schema.columns
        if col.name not in draft.unreadable
        and col.type is not LogicalType.IDENTIFIER
        and planned.get(col.name, "keep") in _LEARNED
    ]


def _validation(draft: DraftInput) -> Iterator[str]:
    learned = _learned(draft)
    targets = [c.name for c in learned if c.type in _TARGET_TYPES]
    named = suggest_protected(c.name for c in learned)
    yield "validation:"
    yield "  holdout: 0.2"
    yield "  # QUESTION: which column should a model trained on the synthetic rows predict?"
    yield "  # It adds the train-on-synthetic, test-on-real utility check to the report."
    yield f"  # target_column: <one of: {_names(targets) or 'no learned column'}>"
    yield "  # QUESTION: which columns are protected attributes (gender, age, ethnicity ...)"
    yield "  # whose groups the bias checks compare, real against synthetic?"
    if named:
        yield f"  # protected_attributes: [{_names(named)}]   # suggested by their names"
    else:
        yield f"  # protected_attributes: [<some of: {_names([c.name for c in learned])}>]"


def _release(draft: DraftInput) -> Iterator[str]:
    return _release_lines(draft.policy)


def _release_lines(facts: PolicyFacts) -> Iterator[str]:
    yield "release:"
    yield f"  policy: {_scalar(_literal(facts.ref))}"
    yield "  expires_after: 90d"
    if facts.auto_approve:
        yield f"  # QUESTION: who approves? Nobody: pack {_comment(facts.name)!r} approves a release"
        yield "  # that passes the gate by itself (testing only); choose another pack otherwise."
    else:
        yield "  # QUESTION: who approves? A release that passes the gate waits for"
        yield f"  # {facts.required_approvals} approver(s) other than whoever runs the job, under pack"
        yield f"  # {_comment(facts.name)!r}: `synthgate approve RELEASE_ID` or the web console."


def render_draft(draft: DraftInput) -> str:
    """The draft job spec: valid YAML, every question a comment."""
    sections = (_header, _source, _target, _pii, _synthesis, _validation, _release)
    return "\n".join(line for section in sections for line in section(draft)) + "\n"


# --------------------------------------------------------------------------- several tables


def singular(table: str) -> str:
    """The singular of a table's name, lower case, its schema left off
    (``crm.Categories`` → ``category``); names only, English plurals only."""
    bare = table.rpartition(".")[2].lower()
    for plural, one in _PLURALS:
        if bare.endswith(plural) and len(bare) > len(plural):
            if plural == "s" and bare.endswith(("ss", "us")):
                continue
            return bare[: -len(plural)] + one
    return bare


def _key_candidates(schema: TableSchema, declared: Sequence[Sequence[str]]) -> list[str]:
    """The columns that look like *schema*'s own single-column key: a declared primary
    or unique key, else ``id`` or ``<singular>_id``."""
    cols = {c.lower(): c for c in schema.column_names}
    found = [k[0] for k in declared if len(k) == 1 and k[0] in schema.column_names]
    one, bare = singular(schema.name), schema.name.rpartition(".")[2].lower()
    for name in (f"{one}_id", f"{bare}_id", f"{one}id", "id"):
        if name in cols and cols[name] not in found:
            found.append(cols[name])
    return found


def _referring_names(table: str, key: str) -> set[str]:
    """The lower-case column names another table would give a reference to *key*:
    the key's own name when it names the table (``customer_id``), else the table's
    singular joined to it (``id`` → ``customer_id``, ``code`` → ``country_code``)."""
    one, bare = singular(table), table.rpartition(".")[2].lower()
    low = key.lower()
    names = {f"{one}_{low}", f"{bare}_{low}"}
    if low != "id" and low.startswith((one, bare)):
        names.add(low)
    return names


def guess_relationships(
    schemas: Sequence[TableSchema], keys: Mapping[str, Sequence[Sequence[str]]] | None = None
) -> list[Relationship]:
    """Foreign keys guessed from column names only: a column of one table named like
    another table's single-column key (``orders.customer_id`` → ``customers.customer_id``,
    or → ``customers.id`` when that is the key). *keys* are the keys a catalog declares
    per table (primary and unique). Each child column refers to one parent, the first
    of *schemas* that matches; every column named exists."""
    keys = keys or {}
    parents = [(s, k) for s in schemas for k in _key_candidates(s, keys.get(s.name, ()))]
    found: list[Relationship] = []
    for child in schemas:
        for column in child.column_names:
            for parent, key in parents:
                if parent.name == child.name:
                    continue
                if column.lower() in _referring_names(parent.name, key):
                    found.append(Relationship(child.name, (column,), parent.name, (key,)))
                    break
    return found


def guess_keys(
    schemas: Sequence[TableSchema],
    relationships: Sequence[Relationship],
    known: Mapping[str, Sequence[str]],
    public: Sequence[str],
) -> list[tuple[str, str]]:
    """Each private table's own key guessed from its column names (``id`` or
    ``<singular>_id``, else a leading column named ``…id`` that refers to no other
    table) where the catalog gives none and no relationship names it: a leaf's key,
    which would otherwise be learned as an ordinary column."""
    named = {(r.parent_table, c) for r in relationships for c in r.parent_columns}
    links = {(r.child_table, c) for r in relationships for c in r.child_columns}
    found = []
    for schema in schemas:
        if schema.name in public or known.get(schema.name) or not schema.column_names:
            continue
        candidates = _key_candidates(schema, ())
        first = schema.column_names[0]
        if not candidates and first.lower().endswith("id") and (schema.name, first) not in links:
            candidates = [first]  # a leading ``item_id`` that refers to no other table
        if candidates and (schema.name, candidates[0]) not in named:
            found.append((schema.name, candidates[0]))
    return found


def _ref(table: str, columns: Sequence[str]) -> str:
    refs = [_scalar(_literal(f"{table}.{c}")) for c in columns]
    return refs[0] if len(refs) == 1 else f"[{', '.join(refs)}]"


def _relationship(rel: Relationship) -> str:
    child = _ref(rel.child_table, rel.child_columns)
    parent = _ref(rel.parent_table, rel.parent_columns)
    return f"{{child: {child}, parent: {parent}}}"


def _table_summary(table: TableDraft) -> str:
    schema = table.schema
    facts = [f"{len(schema.columns)} columns"]
    if schema.primary_key:
        facts.append(f"primary key {_names(schema.primary_key)}")
    declared = sum(1 for c in schema.columns if c.domain or c.bounds)
    if declared:
        facts.append(f"{declared} declared domain(s)")
    return f"{_comment(schema.name)}: {'; '.join(facts)}"


def _tables_header(draft: TablesDraftInput) -> Iterator[str]:
    names = [t.schema.name for t in draft.tables]
    yield f"# Job spec draft for tables {_names(names)}, written by"
    yield "# `synthgate init` from the catalog (columns, types, keys, foreign keys) and the"
    yield f"# PII inventory under policy pack {_comment(draft.policy.name)!r}."
    yield "# No value read from the rows is written here. It is a valid job spec as it is:"
    yield "# answer the QUESTION comments, check it with `synthgate run THIS_FILE"
    yield "# --dry-run`, then run it."
    yield "#"
    yield "# tables (catalog):"
    yield from (f"#   {_table_summary(t)}" for t in draft.tables)
    yield "#"
    if draft.problems:
        yield "# plan: these tables cannot be synthesized as drafted; change what each FIX"
        yield "# line says (source.tables, source.public, source.relationships or"
        yield "# synthesis.privacy.unit), then check with `synthgate run THIS_FILE --dry-run`:"
        yield from (f"# FIX: {_comment(p)}" for p in draft.problems)
    else:
        yield f"# plan (unit {_comment(draft.unit)}), as `synthgate run THIS_FILE --dry-run` shows it:"
        yield from (f"#   {_comment(line)}" for line in draft.plan)
    yield "version: 1"
    yield f"name: {_scalar(job_name('-'.join(names)))}"
    yield f"description: {_scalar(_literal('Synthetic replacement of ' + ', '.join(names)))}"


def _tables_source(draft: TablesDraftInput) -> Iterator[str]:
    yield "source:"
    yield from _url_lines(draft.url)
    yield f"  tables: [{', '.join(_scalar(_literal(t.schema.name)) for t in draft.tables)}]"
    if draft.public:
        yield "  # reference data: copied as given, no budget spent; the rows are not people"
        yield f"  public: [{', '.join(_scalar(_literal(t)) for t in draft.public)}]"
    else:
        yield "  # QUESTION: is any table reference data, not about people (a product list)?"
        yield "  # List it under public: [...] to copy it as given, spending no budget."
    unreadable = [f"{t.schema.name}.{c}" for t in draft.tables for c in t.unreadable]
    if unreadable:
        yield f"  # of a type synthgate cannot read: {_names(unreadable)}"
    if not draft.relationships:
        yield "  # No relationship was found: the catalog declares no foreign key between these"
        yield "  # tables and no column is named like another table's key. Declare them:"
        yield "  # relationships:"
        yield "  #   - {child: orders.customer_id, parent: customers.customer_id}"
        return
    if draft.guessed:
        yield "  # relationships guessed from column names: check them (a wrong one links"
        yield "  # unrelated rows; a composite key lists its columns on both sides)."
        yield "  relationships:"
        yield from (f"    - {_relationship(r)}" for r in draft.relationships)
        yield from _keys_lines(draft)
        return
    yield "  # relationships: the catalog's foreign keys between these tables, read when the"
    yield "  # job runs. Declaring relationships: [...] here replaces them all:"
    yield "  # relationships:"
    yield from (f"  #   - {_comment(_relationship(r))}" for r in draft.relationships)


def _keys_lines(draft: TablesDraftInput) -> Iterator[str]:
    if not draft.keys:
        return
    yield "  # each table's own key guessed from column names (no relationship names it):"
    yield "  # it gets fresh unique values, never learned; check them"
    pairs = (f"{_scalar(_literal(t))}: [{_scalar(_literal(c))}]" for t, c in draft.keys)
    yield f"  keys: {{{', '.join(pairs)}}}"


def _tables_target(draft: TablesDraftInput) -> Iterator[str]:
    yield "target:"
    yield "  # Where an approved release is published (nothing is written before approval):"
    yield "  # a database (PostgreSQL, MySQL/MariaDB or SQLite); each table is written under"
    yield "  # its own name. A relative path is read from the folder synthgate runs in."
    yield _target_url(draft.spec_dir)
    yield "  mode: replace"


def _tables_pii(draft: TablesDraftInput) -> Iterator[str]:
    facts = draft.policy
    yield "pii:"
    yield f"  policy: {_scalar(_literal(facts.ref))}"
    if facts.needs_key:
        yield f"  # pack {_comment(facts.name)!r} may pseudonymize: export SYNTHGATE_PSEUDONYM_KEY"
        yield "  # (a long random secret) or set key_file: PATH before running (docs/pii.md)."
    yield f"  # What pack {_comment(facts.name)!r} does with each column where PII was found on a"
    yield "  # sample of rows, per table. A job with several tables follows its pack (choose"
    yield "  # another pack to change an action). Keys only link rows: every released row of"
    yield "  # a private table gets a fresh key; they are never learned."
    for table in draft.tables:
        name = _comment(table.schema.name)
        flagged = _flagged(table.plans, table.keys)
        keys = f"keys: {_names(table.keys)}" if table.keys else "no key column"
        if not table.plans:
            yield f"  # {name}: PII not classified; the run classifies every column; {keys}"
        elif not flagged:
            yield f"  # {name}: no PII found; {keys}"
        else:
            yield f"  # {name}: {keys}"
            yield from _pii_lines(flagged, "  #   ")


def _tables_synthesis(draft: TablesDraftInput) -> Iterator[str]:
    facts = draft.policy
    yield "synthesis:"
    yield "  # No synthesizer is named: related tables are synthesized by the default engine."
    yield "  privacy:"
    yield "    # QUESTION: how much privacy loss may one release spend, per person? A smaller"
    yield "    # epsilon protects people more and keeps less detail. Every run spends it from"
    yield (
        f"    # the unit table's total budget: epsilon {_number(facts.epsilon_per_source)} "
        f"under pack {_comment(facts.name)!r}."
    )
    yield f"    epsilon: {_number(DEFAULT_EPSILON)}"
    yield "    # the table whose rows are the people protected (one row per person)"
    yield f"    unit: {_scalar(_literal(draft.unit))}"
    if not draft.children:
        return
    yield "  # caps: how many children one parent row keeps at most (1 to 256); left out,"
    yield "  # each is chosen under DP. To set some, uncomment one line and put every cap"
    yield "  # in that one mapping:"
    lines = [
        (
            f"  # caps: {{{_comment(_scalar(_literal(f'{r.child_table}.{r.child_columns[0]}')))}: "
            f"{_EXAMPLE_CAP}}}",
            f"{_comment(r.child_table)} rows per {_comment(r.parent_table)} row",
        )
        for r in draft.children
    ]
    width = max(len(line) for line, _ in lines)
    yield from (f"{line.ljust(width)}  # {note}" for line, note in lines)


def _tables_validation(_draft: TablesDraftInput) -> Iterator[str]:
    yield "validation:"
    yield "  # Each private table's learned columns are checked against a holdout of whole"
    yield "  # persons (a unit row and every row below it)."
    yield "  holdout: 0.2"


def _tables_release(draft: TablesDraftInput) -> Iterator[str]:
    return _release_lines(draft.policy)


def render_tables_draft(draft: TablesDraftInput) -> str:
    """The draft job spec for several related tables: valid YAML, every question a comment."""
    sections = (
        _tables_header,
        _tables_source,
        _tables_target,
        _tables_pii,
        _tables_synthesis,
        _tables_validation,
        _tables_release,
    )
    return "\n".join(line for section in sections for line in section(draft)) + "\n"
