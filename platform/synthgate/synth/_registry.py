from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from synthgate.config import format_problems
from synthgate.contracts import Synthesizer
from synthgate.errors import ConfigError
from synthgate.plugins import PluginGroup, load, names

__all__ = ["available", "create_synthesizer"]


def available() -> list[str]:
    return names(PluginGroup.SYNTHESIZERS)


def create_synthesizer(name: str, params: Mapping[str, Any]) -> Synthesizer:
    """Build the synthesizer registered as *name* with its ``synthesis.params``."""
    factory = load(PluginGroup.SYNTHESIZERS, name)
    try:
        synth: Synthesizer = factory(**params)
    except ValidationError as exc:
        problems = [f"synthesis.params.{p}" for p in format_problems(exc)]
        raise ConfigError(f"synthesis.params are invalid for {name}", problems=problems) from None
    return synth
