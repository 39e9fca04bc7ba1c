"""A run as a graph of stage nodes, executed in dependency order.

A node is one stage of one table (``mask:orders``) or of the whole run
(``synthesize``): a small function that reads the artifacts named in its
``inputs`` and produces those named in its ``outputs``. The graph checks that
every input is some node's output and that nothing depends on itself, and
orders the nodes so that each runs after what it reads.

Artifacts that are files (synthetic tables, the ledger, validation results,
the report) are written in the node's folder; a node with a ``load`` function
can be resumed: when a run whose process died is continued, each node that had
finished is re-read from its folder instead of run again. Real rows are never
written to a run's folder: the nodes that hold them (extract, classify, mask)
have no ``load`` and run again, on the same snapshot, with the run's seed.

:meth:`Graph.to_dict` is the plan a scheduler needs: names, stages, tables,
inputs, outputs and folders, all plain JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Artifacts", "Graph", "Node", "NodeRun", "StopGraph", "execute"]


class StopGraph(Exception):
    """Raised by a node that finds nothing left to do: its own stage is recorded as
    finished (with *summary*), no later node runs, and the exception reaches the
    caller."""

    def __init__(self, message: str = "", summary: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = dict(summary or {})


class NodeRun(Protocol):
    """What records a node: a stage context manager with the node's position."""

    def stage(
        self,
        name: str,
        summary: dict[str, Any],
        *,
        position: tuple[int, int] | None = None,
        folder: str | None = None,
    ) -> Any: ...

    def reused(self, name: str, position: tuple[int, int]) -> None: ...

    def skip(
        self, name: str, summary: dict[str, Any], *, position: tuple[int, int] | None = None
    ) -> None: ...


class Artifacts:
    """The values nodes hand on, by name; each is set once per run."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def put(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def matching(self, prefix: str) -> Iterator[tuple[str, Any]]:
        """(suffix, value) of every artifact named ``prefix`` + suffix, in the order set."""
        for name, value in self._values.items():
            if name.startswith(prefix):
                yield name[len(prefix) :], value


Step = Callable[[Artifacts, Path], Mapping[str, Any] | None]
Load = Callable[[Artifacts, Path], None]
Skip = Callable[[Artifacts], Mapping[str, Any] | None]
Then = Callable[[Artifacts], None]


@dataclass(frozen=True)
class Node:
    """One stage of one table (or of the run): what it reads and what it makes."""

    name: str
    stage: str
    folder: str  # relative to the run's folder
    run: Step
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    load: Load | None = None  # re-reads the outputs of a finished node (a resumed run)
    table: str | None = None
    skip: Skip | None = None  # why the node does not apply to this run (None: it runs)
    then: Then | None = None  # what follows the node, run or skipped, outside its stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "table": self.table,
            "folder": self.folder,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "resumable": self.load is not None,
        }


class Graph:
    """Nodes in dependency order (ties keep the order they were given in)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = self._ordered(list(nodes))

    @staticmethod
    def _producers(nodes: Sequence[Node]) -> dict[str, Node]:
        made: dict[str, Node] = {}
        names: set[str] = set()
        for node in nodes:
            if node.name in names:
                raise ValueError(f"two nodes are named {node.name!r}")
            names.add(node.name)
            for out in node.outputs:
                if out in made:
                    raise ValueError(f"{out!r} is made by {made[out].name!r} and {node.name!r}")
                made[out] = node
        return made

    @classmethod
    def _ordered(cls, nodes: list[Node]) -> list[Node]:
        made = cls._producers(nodes)
        for node in nodes:
            missing = [i for i in node.inputs if i not in made]
            if missing:
                raise ValueError(f"node {node.name!r} reads {missing[0]!r}, which no node makes")
        ordered: list[Node] = []
        done: set[str] = set()
        while len(ordered) < len(nodes):
            ready = next(
                (
                    n
                    for n in nodes
                    if n.name not in done and all(made[i].name in done for i in n.inputs)
                ),
                None,
            )
            if ready is None:
                waiting = sorted(n.name for n in nodes if n.name not in done)
                raise ValueError(f"the nodes {', '.join(waiting)} depend on each other")
            ordered.append(ready)
            done.add(ready.name)
        return ordered

    def to_dict(self) -> list[dict[str, Any]]:
        return [n.to_dict() for n in self.nodes]


def execute(
    graph: Graph,
    run: NodeRun,
    artifacts: Artifacts,
    folder_of: Callable[[str], Path],
    *,
    finished: Mapping[str, str] | None = None,
) -> list[str]:
    """Run every node in order; a node listed ``succeeded`` in *finished* (a resumed
    run's record) that can be re-read is loaded instead. Returns the reused nodes."""
    finished = finished or {}
    total = len(graph.nodes)
    reused = []
    for index, node in enumerate(graph.nodes, start=1):
        position = (index, total)
        why = node.skip(artifacts) if node.skip is not None else None
        if why is not None:
            run.skip(node.name, dict(why), position=position)
        elif node.load is not None and finished.get(node.name) == "succeeded":
            node.load(artifacts, folder_of(node.folder))
            run.reused(node.name, position)
            reused.append(node.name)
        else:
            _run_node(node, run, artifacts, position)
        if node.then is not None:
            node.then(artifacts)
    return reused


def _run_node(node: Node, run: NodeRun, artifacts: Artifacts, position: tuple[int, int]) -> None:
    summary: dict[str, Any] = {}
    stop: StopGraph | None = None
    with run.stage(node.name, summary, position=position, folder=node.folder) as at:
        try:
            summary.update(node.run(artifacts, at) or {})
        except StopGraph as exc:
            summary.update(exc.summary)
            stop = exc
    if stop is not None:
        raise stop
    missing = [o for o in node.outputs if o not in artifacts]
    if missing:
        raise RuntimeError(f"node {node.name!r} did not make {', '.join(missing)}")
