"""Entry points of the shipped packs: each returns the path of its YAML file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["default", "internal_testing", "strict"]


def _path(name: str) -> Path:
    return Path(str(resources.files(__name__) / f"{name}.yaml"))


def default() -> Path:
    return _path("default")


def strict() -> Path:
    return _path("strict")


def internal_testing() -> Path:
    return _path("internal_testing")
