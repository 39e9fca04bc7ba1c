"""Console passwords: argon2 hashes only, who may set them, and ``synthgate users passwd``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from synthgate.cli import main
from synthgate.errors import ConfigError, NotAuthenticated, PermissionDenied
from synthgate.release import Actor, Role, add_user, password_login, set_password
from synthgate.store import Store

BOOT = Actor("setup", None, False)
ROOT = Actor("root", Role.ADMIN, True)
LONG = "a long enough passphrase"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    add_user(s, BOOT, "root", Role.ADMIN)
    add_user(s, ROOT, "bob", Role.APPROVER)
    add_user(s, ROOT, "dave", Role.AUDITOR)
    return s


def test_password_is_stored_as_argon2_hash_only(store: Store, tmp_path: Path) -> None:
    set_password(store, ROOT, "bob", LONG)
    assert password_login(store, "bob", LONG, client="1.2.3.4").role is Role.APPROVER
    store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert LONG.encode() not in raw
    assert raw.count(b"$argon2id$") >= 4  # 3 tokens + 1 password


def test_who_may_set_a_password_and_what_is_refused(store: Store) -> None:
    with pytest.raises(PermissionDenied):
        set_password(store, Actor("dave", Role.AUDITOR, True), "bob", LONG)
    set_password(store, Actor("dave", Role.AUDITOR, True), "dave", LONG)  # their own
    with pytest.raises(ConfigError, match="at least 12"):
        set_password(store, ROOT, "bob", "short")
    with pytest.raises(ConfigError, match="must not be the user name"):
        set_password(store, ROOT, "dave", "DAVE".ljust(12, " "))
    with pytest.raises(ConfigError, match="no user"):
        set_password(store, ROOT, "nobody", LONG)


def test_users_without_a_password_cannot_sign_in(store: Store) -> None:
    with pytest.raises(NotAuthenticated):
        password_login(store, "bob", "", client="c")
    with pytest.raises(NotAuthenticated):
        password_login(store, "system", LONG, client="c")
    with pytest.raises(NotAuthenticated):
        password_login(store, "no such user", LONG, client="c")


def _cli(
    home: Path, monkeypatch: pytest.MonkeyPatch, token: str, args: list[str], stdin: str
) -> int:
    monkeypatch.setenv("SYNTHGATE_USER", "root")
    monkeypatch.setenv("SYNTHGATE_TOKEN", token)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--home", str(home), *args])


def test_cli_passwd_reads_stdin_never_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.delenv("SYNTHGATE_STORE_URL", raising=False)
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    _, token = add_user(store, BOOT, "root", Role.ADMIN)
    add_user(store, ROOT, "bob", Role.APPROVER)
    assert (
        _cli(home, monkeypatch, token, ["users", "passwd", "bob", "--password-stdin"], LONG + "\n")
        == 0
    )
    assert "console password set for bob" in capsys.readouterr().out
    assert password_login(store, "bob", LONG, client="c").name == "bob"
    # no terminal and no --password-stdin: refused, nothing changed
    assert _cli(home, monkeypatch, token, ["users", "passwd", "bob"], "other password!!\n") == 2
    assert "--password-stdin" in capsys.readouterr().err
    # there is no option that takes the password as an argument
    assert _cli(home, monkeypatch, token, ["users", "passwd", "bob", "--password", LONG], "") == 2
    assert password_login(store, "bob", LONG, client="c").name == "bob"
    # a wrong admin token changes nothing
    assert (
        _cli(
            home, monkeypatch, "sgt_wrong", ["users", "passwd", "bob", "--password-stdin"], "x" * 20
        )
        != 0
    )
    assert password_login(store, "bob", LONG, client="c").name == "bob"
