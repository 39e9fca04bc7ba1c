"""Where synthgate keeps its state, read from the environment once per call."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]

HOME_ENV = "SYNTHGATE_HOME"
STORE_URL_ENV = "SYNTHGATE_STORE_URL"
USER_ENV = "SYNTHGATE_USER"
DEFAULT_HOME = ".synthgate"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    store_url: str
    user: str

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @classmethod
    def from_env(cls, home: Path | None = None) -> Settings:
        base = (home or Path(os.environ.get(HOME_ENV) or DEFAULT_HOME)).expanduser().resolve()
        store = os.environ.get(STORE_URL_ENV) or f"sqlite:///{base / 'synthgate.db'}"
        user = os.environ.get(USER_ENV) or _os_user()
        return cls(home=base, store_url=store, user=user)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid-{os.getuid()}"
