"""``synthgate`` run in-process as a given user, for end-to-end tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synthgate.cli import main


class Cli:
    """Runs ``synthgate`` in-process as a given user, with that user's token if known."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.tokens: dict[str, str] = {}

    def __call__(self, user: str, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.setenv("SYNTHGATE_USER", user)
        if user in self.tokens:
            self.monkeypatch.setenv("SYNTHGATE_TOKEN", self.tokens[user])
        else:
            self.monkeypatch.delenv("SYNTHGATE_TOKEN", raising=False)
        code = main(list(args))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, user: str, *args: str, expect: int = 0) -> Any:
        code, out, err = self(user, *args, "--json")
        assert code == expect, err
        return json.loads(out)

    def users(self, **roles: str) -> None:
        """An admin ``root``, then one user per *roles* item (name=role), with tokens."""
        self.tokens["root"] = self.json("root", "users", "add", "root", "--role", "admin")["token"]
        for name, role in roles.items():
            self.tokens[name] = self.json("root", "users", "add", name, "--role", role)["token"]
