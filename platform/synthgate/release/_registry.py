"""Which policy packs a job may use: installed packs and registered packs.

A pack decides a source's privacy budget, whether a release is approved by the
system (``auto_approve``) and how many people approve it. So a job may not
bring its own: it uses an *installed* pack (shipped as a plugin, entry points
``synthgate.policies``) or a pack *registered* in the metadata store by an
admin or approver (``synthgate policy register FILE``).

Registering stores the file's content and its sha256 as a new version of the
pack's name, audited as ``policy.registered``. A job's ``release.policy`` (and
``pii.policy``) may then name the pack, or give the path of a file whose sha256
is that of a registered version: that registered version is what runs, and the
release records its name and version. A file changed after its registration
is refused until it is registered again, so a pack edited on disk never
changes a limit silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthgate.audit import AuditLog
from synthgate.audit._log import HEAD_ID
from synthgate.errors import ConfigError, PluginError
from synthgate.release._lint import LintSeverity, lint_policy_text
from synthgate.release._policy import (
    PolicyPack,
    installed_names,
    installed_policy,
    is_pack_path,
    parse_policy,
    policy_path,
    read_policy_file,
)
from synthgate.release._users import Actor, Permission, require
from synthgate.store import Store, utcnow
from synthgate.store.models import AuditHead, PolicyVersionRow

__all__ = [
    "INSTALLED",
    "REGISTERED",
    "PackInfo",
    "Registration",
    "ResolvedPolicy",
    "list_packs",
    "load_policy",
    "pack_versions",
    "preview_policy",
    "register_policy",
    "registered_version",
    "resolve_policy",
]

INSTALLED = "installed"
REGISTERED = "registered"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"policy file {path} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"policy file {path} is a directory; name a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"policy file {path} cannot be read: {exc.strerror}") from None


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    """A pack a job may use, and where it comes from."""

    pack: PolicyPack
    kind: str  # INSTALLED or REGISTERED
    version: int | None  # the registered version; None for an installed pack
    sha256: str  # of the pack file (the registered content, or the installed file)
    registered_by: str | None = None

    @property
    def name(self) -> str:
        return self.pack.name

    @property
    def label(self) -> str:
        """``name`` for an installed pack, ``name v2`` for a registered one."""
        return self.name if self.version is None else f"{self.name} v{self.version}"


@dataclass(frozen=True, slots=True)
class PackInfo:
    """One line of ``synthgate policy list``."""

    name: str
    kind: str
    version: int | None
    sha256: str
    description: str
    file: str
    registered_by: str | None
    registered_at: str | None
    versions: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "versions": self.versions,
            "sha256": self.sha256,
            "description": self.description,
            "file": self.file,
            "registered_by": self.registered_by,
            "registered_at": self.registered_at,
        }


@dataclass(frozen=True, slots=True)
class Registration:
    """What ``policy register`` did: a new version, or nothing (identical content)."""

    name: str
    version: int
    sha256: str
    created: bool
    previous_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "created": self.created,
            "previous_version": self.previous_version,
        }


# --------------------------------------------------------------------------- reading


def _from_row(row: PolicyVersionRow) -> ResolvedPolicy:
    data = row.content.encode("utf-8")
    if _sha256(data) != row.sha256:
        raise ConfigError(
            f"registered policy pack {row.name} v{row.version} does not match its sha256 "
            "in the store; it will not be used",
            hint="register the pack file again (an admin or approver): synthgate policy "
            "register FILE",
        )
    pack = parse_policy(
        data, origin=f"registered policy pack {row.name} v{row.version}", source=row.source
    )
    return ResolvedPolicy(
        pack.model_copy(update={"name": row.name}),
        REGISTERED,
        row.version,
        row.sha256,
        row.registered_by,
    )


def _latest(s: Session, name: str) -> PolicyVersionRow | None:
    return s.scalar(
        select(PolicyVersionRow)
        .where(PolicyVersionRow.name == name)
        .order_by(PolicyVersionRow.version.desc())
        .limit(1)
    )


def _by_sha(s: Session, digest: str) -> PolicyVersionRow | None:
    return s.scalar(
        select(PolicyVersionRow)
        .where(PolicyVersionRow.sha256 == digest)
        .order_by(PolicyVersionRow.id.desc())
        .limit(1)
    )


def _installed(name: str) -> ResolvedPolicy:
    path = policy_path(name)
    return ResolvedPolicy(installed_policy(name), INSTALLED, None, _sha256(_read(path)))


def _by_file(ref: str, store: Store | None) -> ResolvedPolicy:
    digest = _sha256(_read(Path(ref)))
    row = None
    if store is not None:
        with store.session() as s:
            row = _by_sha(s, digest)
    if row is None:
        raise ConfigError(
            f"pack file {ref!r} is not registered (sha256 {digest[:8]}…)",
            hint=f"an admin or approver registers it with: synthgate policy register {ref}",
        )
    return _from_row(row)


def _unknown(name: str, store: Store | None) -> PluginError:
    registered = []
    if store is not None:
        with store.session() as s:
            registered = sorted(set(s.scalars(select(PolicyVersionRow.name))))
    known = f"available: {', '.join(installed_names()) or 'none installed'}"
    if registered:
        known += f"; registered: {', '.join(registered)}"
    return PluginError(f"unknown policy pack {name!r}; {known}")


def resolve_policy(ref: str, store: Store | None) -> ResolvedPolicy:
    """The pack *ref* names, if a job may use it — or a one-line ConfigError.

    *ref* is an installed pack's name, a registered pack's name (its latest
    version), or the path of a file whose sha256 is that of a registered
    version (that version). Without a *store* only installed packs resolve.
    """
    if is_pack_path(ref):
        return _by_file(ref, store)
    if ref in installed_names():
        return _installed(ref)
    if store is not None:
        with store.session() as s:
            row = _latest(s, ref)
        if row is not None:
            return _from_row(row)
    raise _unknown(ref, store)


def load_policy(ref: str, *, store: Store | None = None) -> PolicyPack:
    """The pack *ref* names, if a job may use it (see :func:`resolve_policy`)."""
    return resolve_policy(ref, store).pack


def preview_policy(ref: str, store: Callable[[], Store] | None = None) -> PolicyPack:
    """A pack to look at what it would do, for commands that release nothing (``inspect``,
    ``init``): an installed pack, a registered one (*store* opens the store only then),
    or any pack file as it is — a job still needs that file registered."""
    if is_pack_path(ref):
        return read_policy_file(Path(ref))
    if ref in installed_names() or store is None:
        return resolve_policy(ref, None).pack
    return resolve_policy(ref, store()).pack


def registered_version(store: Store, name: str, version: int) -> ResolvedPolicy | None:
    """One registered version of *name*, or None."""
    with store.session() as s:
        row = s.scalar(
            select(PolicyVersionRow).where(
                PolicyVersionRow.name == name, PolicyVersionRow.version == version
            )
        )
    return None if row is None else _from_row(row)


def pack_versions(store: Store, name: str) -> list[PackInfo]:
    """Every registered version of *name*, oldest first."""
    with store.session() as s:
        rows = list(
            s.scalars(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.name == name)
                .order_by(PolicyVersionRow.version)
            )
        )
    return [_info(row, len(rows)) for row in rows]


def _info(row: PolicyVersionRow, versions: int) -> PackInfo:
    return PackInfo(
        name=row.name,
        kind=REGISTERED,
        version=row.version,
        sha256=row.sha256,
        description=_from_row(row).pack.description,
        file=row.source,
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        versions=versions,
    )


def list_packs(store: Store) -> list[PackInfo]:
    """The installed packs, then the latest version of each registered pack."""
    listed = []
    for name in installed_names():
        resolved = _installed(name)
        listed.append(
            PackInfo(
                name=name,
                kind=INSTALLED,
                version=None,
                sha256=resolved.sha256,
                description=resolved.pack.description,
                file=str(policy_path(name)),
                registered_by=None,
                registered_at=None,
                versions=0,
            )
        )
    with store.session() as s:
        rows = list(
            s.scalars(
                select(PolicyVersionRow).order_by(
                    PolicyVersionRow.name, PolicyVersionRow.version.desc()
                )
            )
        )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.name] = counts.get(row.name, 0) + 1
    latest: dict[str, PolicyVersionRow] = {}
    for row in rows:
        latest.setdefault(row.name, row)
    listed.extend(_info(row, counts[name]) for name, row in latest.items())
    return listed


# --------------------------------------------------------------------------- registering


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"policy pack name {name!r} is not allowed",
            hint="use lower-case letters, digits and . _ - (up to 64 characters), starting "
            "with a letter or digit; give one with --name",
        )
    if name in installed_names():
        raise ConfigError(
            f"{name!r} is an installed policy pack; a registered pack needs another name",
            hint="give one with --name, or set the pack's name: field",
        )


def _check_lint(path: Path, text: str) -> None:
    errors = [p for p in lint_policy_text(text) if p.severity is LintSeverity.ERROR]
    if errors:
        first = errors[0].format(str(path))
        raise ConfigError(
            f"policy file {path} has {len(errors)} lint error(s), first: {first}",
            hint=f"see them all with: synthgate policy lint {path}",
        )


def register_policy(
    store: Store, actor: Actor, path: Path, *, name: str | None = None
) -> Registration:
    """Register the pack in *path* under *name* (default: the pack's ``name:``).

    Admins and approvers may. Content identical to the name's latest version
    changes nothing; otherwise it becomes the next version, audited as
    ``policy.registered``. The registered pack is known by *name* everywhere
    (its ``name:`` field is replaced). Content registered under another name is
    refused: a file path must lead to one pack.
    """
    require(actor, Permission.REGISTER_POLICIES)
    data = _read(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"policy file {path} is not UTF-8 text") from None
    pack = parse_policy(data, origin=f"policy file {path}", source=str(path.resolve()))
    _check_lint(path, text)
    name = name or pack.name
    _check_name(name)
    digest = _sha256(data)
    with store.session() as s:
        # one registration at a time, in the order of the audit chain
        s.scalar(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update())
        latest = _latest(s, name)
        if latest is not None and latest.sha256 == digest:
            return Registration(name, latest.version, digest, created=False)
        other = _by_sha(s, digest)
        if other is not None and other.name != name:
            raise ConfigError(
                f"policy file {path} is already registered as {other.name} "
                f"v{other.version}; a file leads to one pack",
                hint=f"use release.policy: {other.name}, or change the file",
            )
        version = 1 if latest is None else latest.version + 1
        row = PolicyVersionRow(
            name=name,
            version=version,
            sha256=digest,
            content=text,
            source=str(path.resolve()),
            registered_by=actor.name,
            registered_role=actor.role.value if actor.role else None,
            registered_at=utcnow(),
        )
        s.add(row)
        s.flush()
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="policy.registered",
            subject=f"policy:{name}",
            details={
                "name": name,
                "version": version,
                "sha256": digest,
                "previous_version": None if latest is None else latest.version,
                "file": str(path.resolve()),
                "auto_approve": pack.auto_approve,
                "required_approvals": pack.required_approvals,
                "epsilon_per_source": pack.budget.epsilon_per_source,
                "delta_per_source": pack.budget.delta_limit,
                "rules": [r.id for r in pack.rules],
                **actor.audit_details(),
            },
        )
    return Registration(
        name,
        version,
        digest,
        created=True,
        previous_version=None if latest is None else latest.version,
    )
