from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from synthgate.web import create_app
from tests.web._seed import Seeded, build_template, copy_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Users and password hashes are made once (argon2 is slow on purpose) and copied per test."""
    folder = tmp_path_factory.mktemp("template")
    return folder, build_template(folder)


@pytest.fixture
def seeded(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Seeded]:
    folder, tokens = template
    seeded = copy_template(folder, tokens, tmp_path / "site")
    yield seeded
    seeded.store.dispose()


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(seeded.store, secure_cookies=False)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c
