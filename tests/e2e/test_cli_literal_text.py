"""Text from a user or a table is printed as it is: rich markup in it is not interpreted.

A table named ``[/x]`` used to end in a traceback (exit 1), an approval comment
holding ``[/x]`` made ``releases show`` fail for everyone, and ``[link=…]`` or
``[bold]`` in a name rendered as a link or a style.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.unit.test_release_service import make_release

from synthgate.cli import main
from synthgate.store import Store

CLOSE = "[/x]"
LINK = "[link=http://e]x[/link]"
BOLD = "[bold]b"


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("SYNTHGATE_USER", user)
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def _database(tmp_path: Path) -> str:
    db = tmp_path / "odd.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            f'CREATE TABLE "{CLOSE}" (id integer PRIMARY KEY, "{LINK}" text, "{BOLD}" int)'
        )
        conn.execute(f"INSERT INTO \"{CLOSE}\" VALUES (1, 'a', 2)")
    return f"sqlite:///{db}"


def test_inspect_prints_table_and_column_names_literally(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _database(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")  # room for every name in the table grid
    code, out, _ = _run(monkeypatch, capsys, "alice", "inspect", url)
    assert code == 0
    assert CLOSE in [line.split()[0] for line in out.splitlines() if line.strip()]
    code, out, _ = _run(monkeypatch, capsys, "alice", "inspect", url, "--table", CLOSE, "--no-pii")
    assert code == 0
    for text in (CLOSE, LINK, BOLD):
        assert text in out


def test_an_error_naming_a_table_prints_it_literally(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _database(tmp_path)
    missing = f"{CLOSE}{LINK}"
    code, _, err = _run(monkeypatch, capsys, "alice", "inspect", url, "--table", missing)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert missing in lines[0]
    assert CLOSE in err  # the known tables are listed as they are too


def test_release_texts_from_users_are_printed_literally(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    requester = f"{BOLD}-alice"
    make_release(store, tmp_path, release_id="rel-a", requested_by=requester, target_table=CLOSE)
    comment = f"looked at it {CLOSE} {LINK} {BOLD}"
    code, out, _ = _run(monkeypatch, capsys, "bob", "approve", "rel-a", "-m", comment)
    assert code == 0
    for user in ("bob", "dave"):  # everyone can read it
        code, out, _ = _run(monkeypatch, capsys, user, "releases", "show", "rel-a")
        assert code == 0
        assert comment in out
        assert f"table {CLOSE}" in out
    code, out, _ = _run(monkeypatch, capsys, "dave", "releases", "list")
    assert code == 0
    assert BOLD in out
    code, out, _ = _run(monkeypatch, capsys, "bob", "revoke", "rel-a", "-m", f"gone {CLOSE}")
    assert code == 0
    code, out, _ = _run(monkeypatch, capsys, "dave", "releases", "show", "rel-a")
    assert f"gone {CLOSE}" in out
