"""Plugin discovery through entry points.

Four groups exist: ``synthgate.connectors``, ``synthgate.synthesizers``,
``synthgate.policies`` and ``synthgate.report_sections``. Nothing registers by
import side effect: a plugin is whatever its distribution declares.
"""

from __future__ import annotations

import enum
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from synthgate.errors import PluginError

__all__ = ["PluginGroup", "load", "load_all", "names"]


class PluginGroup(enum.StrEnum):
    CONNECTORS = "synthgate.connectors"
    SYNTHESIZERS = "synthgate.synthesizers"
    POLICIES = "synthgate.policies"
    REPORT_SECTIONS = "synthgate.report_sections"

    @property
    def noun(self) -> str:
        return {
            PluginGroup.CONNECTORS: "connector",
            PluginGroup.SYNTHESIZERS: "synthesizer",
            PluginGroup.POLICIES: "policy pack",
            PluginGroup.REPORT_SECTIONS: "report section",
        }[self]


@cache
def _entry_points(group: PluginGroup) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group.value)}


def names(group: PluginGroup) -> list[str]:
    """Sorted names registered in *group*."""
    return sorted(_entry_points(group))


def load(group: PluginGroup, name: str) -> Any:
    """Load the object registered as *name*; unknown names list the known ones."""
    eps = _entry_points(group)
    if name not in eps:
        known = ", ".join(names(group)) or "none installed"
        raise PluginError(f"unknown {group.noun} {name!r}; available: {known}")
    return eps[name].load()


def load_all(group: PluginGroup) -> dict[str, Any]:
    return {name: load(group, name) for name in names(group)}
