"""Registered policy packs: resolution by name and by file hash, versions, and pinning."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from tests.unit.test_release_service import _days_later, make_release

from synthgate.errors import ConfigError, PermissionDenied
from synthgate.release import (
    Actor,
    Role,
    add_user,
    approve,
    load_policy,
    register_policy,
    resolve_policy,
)
from synthgate.store import Store
from synthgate.store.models import PolicyVersionRow, ReleaseRow

APPROVER = Actor("carol", Role.APPROVER, True)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def _pack(path: Path, days: int) -> Path:
    path.write_text(f"name: pinned\napprover_independence_days: {days}\nrules: []\n", "utf-8")
    return path


def test_a_file_resolves_to_the_version_whose_sha256_it_has(store: Store, tmp_path: Path) -> None:
    old = _pack(tmp_path / "old.yaml", 2)
    new = _pack(tmp_path / "new.yaml", 40)
    assert register_policy(store, APPROVER, old).version == 1
    assert register_policy(store, APPROVER, new, name="pinned").version == 2
    assert resolve_policy(str(old), store).label == "pinned v1"
    assert resolve_policy(str(new), store).label == "pinned v2"
    assert resolve_policy("pinned", store).pack.independence_days == 40  # the name: latest
    # without a store a file cannot be shown registered; an installed name needs none
    with pytest.raises(ConfigError, match="is not registered"):
        load_policy(str(old))
    assert load_policy("default").name == "default"


def test_an_engineer_may_not_register(store: Store, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied, match="may not register policy packs"):
        register_policy(store, Actor("eve", Role.ENGINEER, True), _pack(tmp_path / "p.yaml", 2))
    with pytest.raises(PermissionDenied):
        register_policy(store, Actor("dave", Role.AUDITOR, True), _pack(tmp_path / "p.yaml", 2))


def test_stored_content_that_no_longer_matches_its_sha256_is_not_used(
    store: Store, tmp_path: Path
) -> None:
    pack = _pack(tmp_path / "p.yaml", 2)
    register_policy(store, APPROVER, pack)
    with store.session() as s:
        s.execute(
            update(PolicyVersionRow).values(content="name: pinned\nauto_approve: true\nrules: []\n")
        )
    with pytest.raises(ConfigError, match="does not match its sha256"):
        resolve_policy("pinned", store)
    with pytest.raises(ConfigError, match="does not match its sha256"):
        resolve_policy(str(pack), store)


def test_approval_uses_the_window_of_the_release_version_not_a_later_one(
    store: Store, tmp_path: Path
) -> None:
    add_user(store, Actor("installer", None, False), "root", Role.ADMIN)
    root = Actor("root", Role.ADMIN, True)
    add_user(store, root, "mint", Role.APPROVER)  # root sets up an approver
    register_policy(store, APPROVER, _pack(tmp_path / "v1.yaml", 2))
    make_release(store, tmp_path, requested_by="root")
    with store.session() as s:
        s.execute(update(ReleaseRow).values(policy="pinned", policy_version=1))
    # a later version with a long window does not change the release's window
    register_policy(store, APPROVER, _pack(tmp_path / "v2.yaml", 3650), name="pinned")
    mint = Actor("mint", Role.APPROVER, True)
    with pytest.raises(PermissionDenied, match="for 2 days"):
        approve(store, mint, "rel-1", comment="fine", now=_days_later(1))
    assert approve(store, mint, "rel-1", comment="fine", now=_days_later(3)).approvals == 1
