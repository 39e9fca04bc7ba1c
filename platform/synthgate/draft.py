"""A commented job-spec draft from a table's catalog and PII inventory (``synthgate init``).

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import yaml

from synthgate.config import PiiAction
from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.protected import suggest_protected

__all__ = [
    "PASSWORD_ENV",
    "ColumnPlan",
    "DraftInput",
    "PolicyFacts",
    "job_name",
    "render_draft",
    "secret_free_url",
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


def _source(draft: DraftInput) -> Iterator[str]:
    url, replaced = secret_free_url(draft.url)
    yield "source:"
    if replaced:
        yield "  # The URL you gave held a password; it is not written here. Export it before"
        yield f"  # running: export {PASSWORD_ENV}=... (URL-encoded as in the URL), or drop it"
        yield "  # from the URL and name a file that holds it with password_file: PATH."
    yield f"  url: {_scalar(url)}"
    yield f"  table: {_scalar(_literal(draft.schema.name))}"
    if draft.unreadable:
        readable = [c for c in draft.schema.column_names if c not in draft.unreadable]
        yield f"  # left out: {_names(draft.unreadable)} (a type synthgate cannot read)"
        yield "  columns:"
        yield from (f"    - {_scalar(_literal(name))}" for name in readable)


def _target(draft: DraftInput) -> Iterator[str]:
    path = (draft.spec_dir / "released.db").as_posix()
    yield "target:"
    yield "  # Where an approved release is published (nothing is written before approval);"
    yield "  # any database URL or .csv/.parquet path. A relative path is read from the"
    yield "  # folder synthgate runs in."
    yield f"  url: {_scalar(_literal(f'sqlite:///{path}'))}"
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
    flagged = [p for p in draft.plans if p.is_pii and p.action in {a.value for a in PiiAction}]
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
    lines = [(f"    {_scalar(p.name)}: {p.action}", _pii_note(p)) for p in flagged]
    width = max(len(line) for line, _ in lines)
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
    facts = draft.policy
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
