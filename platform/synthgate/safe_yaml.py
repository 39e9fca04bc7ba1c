"""YAML read with limits, so a small file cannot take a process's time or memory.

PyYAML's safe loader still expands aliases: 309 bytes of nested ``*a`` took 92 s
and 3.5 GiB, and an alias inside its own anchor is a recursive structure that
ends in RecursionError. :func:`load_yaml` refuses, each with a one-line
:class:`~synthgate.errors.ConfigError` (exit 2):

* a file over :data:`MAX_BYTES`;
* more than :data:`MAX_ALIASES` aliases, or an alias to a node that holds it;
* nesting deeper than :data:`MAX_DEPTH`, aliases expanded;
* more than :data:`MAX_NODES` values once aliases are expanded.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from synthgate.errors import ConfigError

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "load_yaml"]

MAX_BYTES = 1 << 20  # 1 MiB: a job spec is a few KiB
MAX_ALIASES = 64
MAX_DEPTH = 40
MAX_NODES = 100_000


class _Limited(yaml.SafeLoader):
    """A safe loader whose composer counts aliases, depth and expanded size."""

    def __init__(self, stream: bytes, origin: str) -> None:
        super().__init__(stream)
        self.origin = origin
        self.aliases = 0
        self.depth = 0
        self.open_anchors: set[str] = set()
        # per composed node: (values once aliases are expanded, levels once expanded)
        self.sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self.refused(f"uses more than {MAX_ALIASES} YAML aliases (*name)")
            if event.anchor in self.open_anchors:
                raise self.refused(
                    f"has a YAML alias *{event.anchor} inside its own anchor &{event.anchor}"
                )
            return super().compose_node(parent, index)
        anchor = event.anchor
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.refused(f"nests deeper than {MAX_DEPTH} levels")
        if anchor is not None:
            self.open_anchors.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.discard(anchor)
        if node is not None:
            self.measure(node)
        return node

    def measure(self, node: Node) -> None:
        """Record *node*'s expanded size and depth; its children are measured already."""
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        measured = [self.sizes.get(id(child), (1, 1)) for child in children]
        size = 1 + sum(s for s, _ in measured)
        depth = 1 + max((d for _, d in measured), default=0)
        if size > MAX_NODES:
            raise self.refused(f"expands to more than {MAX_NODES:,} values through its aliases")
        if depth > MAX_DEPTH:
            raise self.refused(f"nests deeper than {MAX_DEPTH} levels once aliases are expanded")
        self.sizes[id(node)] = (size, depth)

    def refused(self, why: str) -> ConfigError:
        return ConfigError(
            f"{self.origin} {why}", hint="write the values out plainly, without deep nesting"
        )


def load_yaml(data: bytes, *, origin: str) -> Any:
    """The single YAML document in *data*; *origin* names it in errors ("job spec x.yaml")."""
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"{origin} is larger than {MAX_BYTES:,} bytes (1 MiB), the most that is read",
            hint="a job spec holds settings, not data: move long lists out of it",
        )
    loader = _Limited(data, origin)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(
            f"{origin} is not valid YAML at {where}: {exc.problem}",
            hint="check indentation and quoting there",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(
            f"{origin} nests too deeply to read", hint="write the values out plainly"
        ) from None
    finally:
        loader.dispose()
