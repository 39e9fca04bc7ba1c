"""A multi-table run killed (SIGKILL) mid-graph continues from its finished nodes."""

from __future__ import annotations

import hashlib
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_multitable_job import _crm_db, _pack, _spec
from tests.integration.test_resume import _kill_when, _only_run, _stages, _start, _totals

from synthgate.store import Store

pytestmark = pytest.mark.slow

SpecWriter = Callable[[dict[str, Any]], Path]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_killed_multitable_run_resumes_node_by_node_and_charges_once(
    home: Path, tmp_path: Path, write_spec: SpecWriter
) -> None:
    db = _crm_db(tmp_path / "crm.db", customers=2000)
    spec = write_spec(_spec(db, tmp_path / "released.db", _pack(tmp_path)))
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    try:
        # 1. killed while its mechanisms run: nothing charged yet, the run stays open
        first = _start(spec, home)
        run_id = _kill_when(first, store, "synthesize", "running")
        assert first.returncode == -signal.SIGKILL
        stages = _stages(store, run_id)
        assert stages["mask:order_items"] == "succeeded"
        assert stages["synthesize"] == "running"
        assert _totals(store) == []
        assert not list((home / "runs" / run_id).rglob("*.parquet"))  # no real rows on disk

        # 2. the rerun carries the same run on, synthesizes, and is killed validating
        second = _start(spec, home)
        assert _kill_when(second, store, "validate:orders", "running") == run_id
        stages = _stages(store, run_id)
        assert stages["synthesize"] == stages["budget"] == stages["sample:orders"] == "succeeded"
        charged = _totals(store)
        assert [c[0] for c in charged] == [run_id]
        made = _digest(home / "runs" / run_id / "synthesize")
        sampled = _digest(home / "runs" / run_id / "sample")

        # 3. the third try finishes from the finished nodes: nothing synthesized again
        third = _start(spec, home)
        out, err = third.communicate(timeout=300)
        assert third.returncode in (3, 4), err
        result = json.loads(out)
        assert result["run_id"] == run_id
        assert result["mode"] == "resume"
        assert _digest(home / "runs" / run_id / "synthesize") == made
        assert _digest(home / "runs" / run_id / "sample") == sampled
        assert _totals(store) == charged  # charged once, by the process that synthesized
        assert result["epsilon_spent"] == pytest.approx(charged[0][1])
        assert _only_run(store).status == "succeeded"
        assert set(_stages(store, run_id).values()) == {"succeeded"}
        graph = json.loads((home / "runs" / run_id / "graph.json").read_text("utf-8"))
        assert {n["name"] for n in graph} >= {"extract:customers", "validate:order_items"}

        # 4. nothing changed since: nothing to do, nothing spent
        fourth = _start(spec, home)
        out, err = fourth.communicate(timeout=300)
        assert fourth.returncode == 99, err
        assert json.loads(out)["model_run"] == run_id
        assert _totals(store) == charged
    finally:
        store.dispose()
