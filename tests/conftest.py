from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SYNTHGATE_HOME with a SQLite store, and a known user."""
    path = tmp_path / "home"
    monkeypatch.setenv("SYNTHGATE_HOME", str(path))
    monkeypatch.delenv("SYNTHGATE_STORE_URL", raising=False)
    monkeypatch.setenv("SYNTHGATE_USER", "alice")
    return path


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo CRM database (300 customers, fake PII), shared read-only."""
    from synthgate.demo import write_demo_db

    return write_demo_db(tmp_path_factory.mktemp("demo") / "crm.db", 300)


def base_spec(source_db: Path, target_dir: Path) -> dict[str, Any]:
    return {
        "name": "test-job",
        "source": {"url": f"sqlite:///{source_db}", "table": "customers"},
        "target": {"url": f"sqlite:///{target_dir / 'released.db'}", "table": "customers_syn"},
        "synthesis": {"synthesizer": "sdv-gaussian-copula", "seed": 7},
        "validation": {"target_column": "churned", "protected_attributes": ["gender"]},
    }


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(spec: dict[str, Any]) -> Path:
        path = tmp_path / "job.yaml"
        path.write_text(yaml.safe_dump(spec), "utf-8")
        return path

    return write


def register_pack(pack: Path, *, name: str | None = None, by: str = "compliance") -> None:
    """Register the pack file *pack* in the store of ``$SYNTHGATE_HOME``, as an approver
    *by* (not the requester ``alice``): a job may use a pack file only once it is
    registered, and an auto-approving pack registered by the requester would not approve."""
    from synthgate.release import Actor, Role, register_policy
    from synthgate.settings import Settings
    from synthgate.store import Store

    store = Store(Settings.from_env().store_url)
    try:
        register_policy(store, Actor(by, Role.APPROVER, True), pack, name=name)
    finally:
        store.dispose()


def need_chromium() -> str:
    """The Chromium that browser tests drive: a skip where it is missing, a failure in CI."""
    from synthgate.reporting import find_chromium

    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (scripts/dev test installs it)")
        pytest.skip(
            "Chromium is not installed; scripts/dev test installs it (apt-get install chromium)"
        )
    return chromium
