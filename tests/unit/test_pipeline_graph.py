"""The pipeline graph: dependency order, refused graphs, resumed nodes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from synthgate.pipeline._graph import Artifacts, Graph, Node, StopGraph, execute


def _node(
    name: str, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (), **kw: Any
) -> Node:
    def run(art: Artifacts, folder: Path) -> dict[str, Any]:
        for out in outputs:
            art.put(out, "+".join([name, *(str(art[i]) for i in inputs)]))
        return {"made": list(outputs)}

    return Node(
        name, name.split(":", maxsplit=1)[0], name.replace(":", "/"), run, inputs, outputs, **kw
    )


class _Recorder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: list[tuple[str, str, tuple[int, int] | None]] = []

    @contextmanager
    def stage(
        self,
        name: str,
        summary: dict[str, Any],
        *,
        position: tuple[int, int] | None = None,
        folder: str | None = None,
    ) -> Iterator[Path]:
        self.events.append(("run", name, position))
        path = self.root / (folder or name)
        path.mkdir(parents=True, exist_ok=True)
        yield path

    def reused(self, name: str, position: tuple[int, int]) -> None:
        self.events.append(("reused", name, position))

    def skip(
        self, name: str, summary: dict[str, Any], *, position: tuple[int, int] | None = None
    ) -> None:
        self.events.append(("skipped", name, position))


def test_nodes_run_after_what_they_read_ties_in_given_order(tmp_path: Path) -> None:
    graph = Graph(
        [
            _node("sample:a", ("model",), ("rows:a",)),
            _node("extract:a", (), ("frame:a",)),
            _node("synthesize", ("frame:a", "frame:b"), ("model",)),
            _node("extract:b", (), ("frame:b",)),
        ]
    )
    assert [n.name for n in graph.nodes] == ["extract:a", "extract:b", "synthesize", "sample:a"]
    art, rec = Artifacts(), _Recorder(tmp_path)
    execute(graph, rec, art, lambda f: tmp_path / f)
    assert art["rows:a"] == "sample:a+synthesize+extract:a+extract:b"
    assert [e[2] for e in rec.events] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    plan = json.loads(json.dumps(graph.to_dict()))  # plain JSON, for a scheduler
    assert plan[2] == {
        "name": "synthesize",
        "stage": "synthesize",
        "table": None,
        "folder": "synthesize",
        "inputs": ["frame:a", "frame:b"],
        "outputs": ["model"],
        "resumable": False,
    }


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([_node("a", ("x",), ("y",))], "node 'a' reads 'x', which no node makes"),
        ([_node("a", (), ("x",)), _node("b", (), ("x",))], "'x' is made by 'a' and 'b'"),
        ([_node("a", ("y",), ("x",)), _node("b", ("x",), ("y",))], "the nodes a, b depend on"),
        ([_node("a"), _node("a")], "two nodes are named 'a'"),
    ],
)
def test_a_graph_that_cannot_run_is_refused(nodes: list[Node], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Graph(nodes)


def test_a_resumed_run_loads_finished_nodes_and_reruns_the_rest(tmp_path: Path) -> None:
    loaded: list[str] = []

    def load(art: Artifacts, folder: Path) -> None:
        loaded.append(folder.name)
        art.put("model", "saved")

    graph = Graph(
        [
            _node("extract", (), ("frame",)),  # holds real rows: no load, always runs
            _node("synthesize", ("frame",), ("model",), load=load),
            _node("sample", ("model",), ("rows",), load=None),
        ]
    )
    art, rec = Artifacts(), _Recorder(tmp_path)
    finished = {"extract": "succeeded", "synthesize": "succeeded", "sample": "running"}
    reused = execute(graph, rec, art, lambda f: tmp_path / f, finished=finished)
    assert reused == ["synthesize"]
    assert loaded == ["synthesize"]
    assert [(kind, name) for kind, name, _ in rec.events] == [
        ("run", "extract"),
        ("reused", "synthesize"),
        ("run", "sample"),
    ]
    assert art["rows"] == "sample+saved"


def test_a_node_that_does_not_make_its_outputs_fails_the_run(tmp_path: Path) -> None:
    def lazy(art: Artifacts, folder: Path) -> None:
        return None

    graph = Graph([Node("a", "a", "a", lazy, (), ("x",))])
    with pytest.raises(RuntimeError, match="node 'a' did not make x"):
        execute(graph, _Recorder(tmp_path), Artifacts(), lambda f: tmp_path / f)


def test_a_node_that_stops_the_graph_finishes_its_own_stage_and_runs_no_later_node(
    tmp_path: Path,
) -> None:
    finished: list[str] = []

    class _Done(StopGraph):
        pass

    def stop(art: Artifacts, folder: Path) -> None:
        raise _Done("unchanged")

    class _Tracking(_Recorder):
        @contextmanager
        def stage(self, name: str, summary: dict[str, Any], **kw: Any) -> Iterator[Path]:
            with super().stage(name, summary, **kw) as path:
                yield path
            finished.append(name)  # reached only when the block raised nothing

    graph = Graph([Node("check", "extract", "check", stop, (), ()), _node("later", (), ("x",))])
    with pytest.raises(_Done):
        execute(graph, _Tracking(tmp_path), Artifacts(), lambda f: tmp_path / f)
    assert finished == ["check"]


def test_a_skipped_node_is_recorded_as_skipped_and_what_follows_it_still_runs(
    tmp_path: Path,
) -> None:
    followed: list[str] = []

    def then(art: Artifacts) -> None:
        followed.append("charged" if "model" in art else "not charged")
        art.put("model", art.get("model", "none"))

    graph = Graph(
        [
            _node("synthesize", (), ("model",), skip=lambda art: {"why": "no model"}, then=then),
            _node("sample", ("model",), ("rows",)),
        ]
    )
    art, rec = Artifacts(), _Recorder(tmp_path)
    execute(graph, rec, art, lambda f: tmp_path / f)
    assert [(kind, name) for kind, name, _ in rec.events] == [
        ("skipped", "synthesize"),
        ("run", "sample"),
    ]
    assert followed == ["not charged"]
    assert art["rows"] == "sample+none"
