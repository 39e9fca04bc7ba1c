"""Users, roles, API tokens and bootstrap mode — in the core and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgate.audit import AuditLog
from synthgate.cli import main
from synthgate.errors import ConfigError, NotAuthenticated, PermissionDenied, redact
from synthgate.release import (
    ROLE_PERMISSIONS,
    TOKEN_ENV,
    Actor,
    Permission,
    Role,
    add_user,
    authenticate,
    disable_user,
    guard_for,
    has_users,
    hash_token,
    identify,
    list_users,
    rotate_token,
    token_from_env,
    verify_token,
)
from synthgate.store import Store

BOOT = Actor("someone", None, False)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def admin(store: Store) -> tuple[Actor, str]:
    _, token = add_user(store, BOOT, "root", Role.ADMIN)
    return authenticate(store, "root", token), token


def test_tokens_are_stored_as_argon2_hashes_only(store: Store, tmp_path: Path) -> None:
    _, token = add_user(store, BOOT, "root", Role.ADMIN)
    assert token.startswith("sgt_")
    assert len(token) > 40
    store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert b"$argon2id$" in raw
    assert token.encode() not in raw
    assert verify_token(hash_token("abc"), "abc")
    assert not verify_token(hash_token("abc"), "abd")
    assert not verify_token("not-a-hash", "abc")


def test_bootstrap_mode_until_the_first_admin(store: Store) -> None:
    assert not has_users(store)
    actor = authenticate(store, "anyone", None)
    assert actor.bootstrap
    assert all(actor.can(p) for p in Permission)
    with pytest.raises(PermissionDenied, match="the first user must be an admin"):
        add_user(store, actor, "eve", Role.ENGINEER)
    assert not has_users(store)
    add_user(store, actor, "root", Role.ADMIN)
    assert has_users(store)
    with pytest.raises(NotAuthenticated, match="SYNTHGATE_TOKEN is not set"):
        authenticate(store, "anyone", None)
    with pytest.raises(NotAuthenticated, match="this store has users now"):
        add_user(store, actor, "eve", Role.ADMIN)  # a stale bootstrap identity


def test_authentication(store: Store, admin: tuple[Actor, str]) -> None:
    root, token = admin
    assert (root.name, root.role, root.authenticated, root.bootstrap) == (
        "root",
        Role.ADMIN,
        True,
        False,
    )
    for name, wrong in [("root", token + "x"), ("root", "sgt_guess"), ("nobody", token)]:
        with pytest.raises(NotAuthenticated, match="could not be authenticated") as info:
            authenticate(store, name, wrong)
        assert token not in str(info.value)
    # one event for the first failure of the minute; the others follow with their count
    first = next(iter(AuditLog(store).events(action="auth.failed")))
    assert (first.subject, first.details["failures"], first.details["client"]) == (
        "root",
        1,
        "local",
    )
    guard_for(store).flush()
    failed = list(AuditLog(store).events(action="auth.failed"))
    assert sum(e.details["failures"] for e in failed) == 3
    assert {u for e in failed for u in e.details["users"]} == {"root", "nobody"}
    assert all(token not in json.dumps(e.details) for e in failed)
    with pytest.raises(NotAuthenticated, match="reserved"):
        authenticate(store, "system", token)


def test_only_a_verified_token_joins_the_masked_secrets(
    store: Store, admin: tuple[Actor, str]
) -> None:
    _, token = admin
    assert redact(f"x {token} x") == "x *** x"  # verified in the fixture
    planted = "approved-release-word"  # what anyone could send as a token to the API
    with pytest.raises(NotAuthenticated):
        authenticate(store, "root", planted)
    assert redact(f"status {planted}") == f"status {planted}"


def test_the_process_own_token_is_masked_even_when_it_does_not_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "sgt_my-own-mistyped-token")
    assert token_from_env() == "sgt_my-own-mistyped-token"
    assert redact("sgt_my-own-mistyped-token") == "***"
    monkeypatch.delenv(TOKEN_ENV)
    assert token_from_env() is None


def test_admins_manage_users_and_others_do_not(store: Store, admin: tuple[Actor, str]) -> None:
    root, _ = admin
    _, eng_token = add_user(store, root, "alice", Role.ENGINEER)
    alice = authenticate(store, "alice", eng_token)
    with pytest.raises(PermissionDenied, match="'alice' \\(role engineer\\) may not manage users"):
        add_user(store, alice, "mallory", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        list_users(store, alice)
    with pytest.raises(ConfigError, match="already exists"):
        add_user(store, root, "alice", Role.APPROVER)
    with pytest.raises(ConfigError, match="is not allowed"):
        add_user(store, root, "bad name", Role.APPROVER)
    with pytest.raises(ConfigError, match="reserved"):
        add_user(store, root, "system", Role.APPROVER)
    assert [(u.name, u.role) for u in list_users(store, root)] == [
        ("alice", Role.ENGINEER),
        ("root", Role.ADMIN),
    ]
    added = list(AuditLog(store).events(action="user.added"))
    assert [(e.actor, e.subject, e.details["role"]) for e in added] == [
        ("someone", "root", "admin"),
        ("root", "alice", "engineer"),
    ]
    assert added[0].details["first_admin"] is True


def test_disable_stops_the_token_and_keeps_the_last_admin(
    store: Store, admin: tuple[Actor, str]
) -> None:
    root, _ = admin
    _, token = add_user(store, root, "bob", Role.APPROVER)
    disable_user(store, root, "bob")
    with pytest.raises(NotAuthenticated):
        authenticate(store, "bob", token)
    with pytest.raises(ConfigError, match="already disabled"):
        disable_user(store, root, "bob")
    with pytest.raises(PermissionDenied, match="last active admin"):
        disable_user(store, root, "root")
    [event] = list(AuditLog(store).events(action="user.disabled"))
    assert (event.actor, event.subject) == ("root", "bob")


def test_rotate_token_by_self_or_admin(store: Store, admin: tuple[Actor, str]) -> None:
    root, _ = admin
    _, old = add_user(store, root, "bob", Role.APPROVER)
    bob = authenticate(store, "bob", old)
    new = rotate_token(store, bob, "bob")
    assert new != old
    with pytest.raises(NotAuthenticated):
        authenticate(store, "bob", old)
    assert authenticate(store, "bob", new).name == "bob"
    with pytest.raises(PermissionDenied):
        rotate_token(store, bob, "root")
    assert rotate_token(store, root, "bob") != new


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ENGINEER, {Permission.RUN, Permission.PUBLISH, Permission.EXPIRE, Permission.READ}),
        (
            Role.APPROVER,
            {
                Permission.DECIDE,
                Permission.REVOKE,
                Permission.EXPIRE,
                Permission.REGISTER_POLICIES,
                Permission.READ,
            },
        ),
        (Role.AUDITOR, {Permission.READ}),
        (Role.ADMIN, set(Permission)),
    ],
)
def test_role_permissions(role: Role, allowed: set[Permission]) -> None:
    assert ROLE_PERMISSIONS[role] == allowed
    actor = Actor("x", role, True)
    assert {p for p in Permission if actor.can(p)} == allowed


def test_identify_checks_the_permission(store: Store, admin: tuple[Actor, str]) -> None:
    root, _ = admin
    _, token = add_user(store, root, "dave", Role.AUDITOR)
    assert identify(store, "dave", token, Permission.READ).name == "dave"
    with pytest.raises(PermissionDenied, match="may not run jobs"):
        identify(store, "dave", token, Permission.RUN)


# --------------------------------------------------------------------------- CLI


def test_cli_users_flow(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNTHGATE_USER", "root")
    monkeypatch.delenv("SYNTHGATE_TOKEN", raising=False)
    assert main(["users", "whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bootstrap"] is True
    assert main(["users", "add", "root", "--role", "admin", "--json"]) == 0
    root_token = json.loads(capsys.readouterr().out)["token"]

    # tokens are required from now on
    assert main(["users", "list"]) == 1
    err = capsys.readouterr().err
    assert "SYNTHGATE_TOKEN is not set" in err
    assert "synthgate users add" in err
    monkeypatch.setenv("SYNTHGATE_TOKEN", root_token)
    assert main(["users", "add", "bob", "--role", "approver"]) == 0
    captured = capsys.readouterr()
    assert "token for bob: sgt_" in captured.out
    assert "shown once" in captured.err
    assert main(["users", "add", "carol", "--role", "wizard"]) == 2
    assert "usage error" in capsys.readouterr().err
    assert main(["users", "list", "--json"]) == 0
    assert [u["name"] for u in json.loads(capsys.readouterr().out)] == ["bob", "root"]
    assert main(["users", "disable", "bob"]) == 0
    assert capsys.readouterr().out == "disabled bob\n"
    assert main(["users", "list", "--json"]) == 0
    assert [u["active"] for u in json.loads(capsys.readouterr().out)] == [False, True]
    monkeypatch.setenv("SYNTHGATE_TOKEN", "sgt_wrong")
    assert main(["users", "list"]) == 1
    err = capsys.readouterr().err
    assert "'root' could not be authenticated" in err
    assert "sgt_wrong" not in err
    assert len(err.strip().splitlines()) == 1
