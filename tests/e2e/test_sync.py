"""``synthgate sync``: incremental skips, summary and worst-outcome exit code,
job-level retry of a transient PostgreSQL failure, terminal failures isolated."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from tests._dbservers import PG_HOST, PG_PORT, PgDb, pg_database
from tests.conftest import base_spec, register_pack

from synthgate.cli import main
from synthgate.pipeline._sync import EXIT_RANK, worst_exit

SpecWriter = Callable[[dict[str, Any]], Path]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0, 99], 0),
        ([99, 99], 99),
        ([99, 75], 75),
        ([0, 4, 3], 3),
        ([4, 2], 2),
        ([2, 5], 5),
        ([5, 1, 0], 1),
        ([0, 42], 1),  # an unknown code counts as an error
        ([4], 4),
    ],
)
def test_worst_outcome_ranking(codes: list[int], expected: int) -> None:
    assert worst_exit(codes) == expected
    assert EXIT_RANK == (1, 5, 2, 3, 4, 75, 0, 99)


def test_sync_without_specs_is_a_usage_error(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "jobs"
    empty.mkdir()
    assert main(["sync", str(empty)]) == 2
    assert "no job specs" in capsys.readouterr().err
    assert main(["sync", str(tmp_path / "missing.yaml")]) == 2
    assert main(["sync", str(empty), "--jobs", "0"]) == 2


def test_duplicate_job_names_are_refused(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for name in ("a.yaml", "b.yaml"):
        (jobs / name).write_text(yaml.safe_dump(base_spec(demo_db, tmp_path)), "utf-8")
    assert main(["sync", str(jobs)]) == 2
    err = capsys.readouterr().err
    assert "job name 'test-job' is used by both" in err
    assert not (home / "runs").exists()


@pytest.mark.slow
def test_unchanged_sources_are_skipped_and_a_changed_one_retrains(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "crm.db"
    source.write_bytes(demo_db.read_bytes())
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    spec = base_spec(source, tmp_path)
    (jobs / "customers.yaml").write_text(yaml.safe_dump(spec), "utf-8")
    broken = dict(spec, name="broken-job", synthesis={"synthesizer": "no-such-synth"})
    (jobs / "broken.yaml").write_text(yaml.safe_dump(broken), "utf-8")
    (jobs / "invalid.yml").write_text("name: invalid-job\n", "utf-8")
    (jobs / "notes.txt").write_text("not a spec", "utf-8")

    assert main(["sync", str(jobs / "customers.yaml"), "--json"]) == 4
    first = json.loads(capsys.readouterr().out)
    [job] = first["jobs"]
    assert job["job"] == "test-job"
    assert job["status"] == "awaiting approval"
    assert job["mode"] == "train"
    assert job["rows"] == 300
    assert job["release_id"].startswith("rel-")
    assert job["attempts"] == 1

    # nothing changed: the job reads, hashes and stops; a bad spec fails on its own
    assert main(["sync", str(jobs), "--json"]) == 2
    second = json.loads(capsys.readouterr().out)
    by_name = {j["job"] or Path(j["spec"]).name: j for j in second["jobs"]}
    assert set(by_name) == {"test-job", "broken-job", "invalid.yml"}
    assert by_name["test-job"]["exit_code"] == 99
    assert by_name["test-job"]["status"] == "nothing to do"
    assert by_name["test-job"]["release_id"] is None
    assert by_name["test-job"]["message"].endswith(f"since run {job['run_id']}")
    assert by_name["broken-job"]["exit_code"] == 2
    assert by_name["broken-job"]["message"].startswith("unknown synthesizer 'no-such-synth'")
    assert by_name["invalid.yml"]["exit_code"] == 2
    assert by_name["invalid.yml"]["attempts"] == 0  # never started: the spec is invalid
    assert second["counts"] == {"nothing to do": 1, "config error": 2}

    # every job had nothing to do: the sync says so with 99; the table names the job
    assert main(["sync", str(jobs / "customers.yaml")]) == 99
    table = capsys.readouterr().out
    assert "test-job" in table
    assert "nothing to do" in table
    assert "exit 99 (nothing to do)" in table

    # the source changes: the job trains again
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE customers SET monthly_spend = monthly_spend + 1 WHERE rowid = 1")
    assert main(["run", str(jobs / "customers.yaml"), "--json"]) == 4
    third = json.loads(capsys.readouterr().out)
    assert third["mode"] == "train"
    assert third["run_id"] != job["run_id"]
    assert third["release_id"] != job["release_id"]


class DroppingProxy:
    """A TCP proxy to PostgreSQL that drops the first *drops* connections (the
    server looks gone: a transient failure), then forwards the rest."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.dropped = 0
        self.forwarded = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.dropped < self.drops:
                self.dropped += 1
                client.close()
                continue
            self.forwarded += 1
            upstream = socket.create_connection((PG_HOST, PG_PORT))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@pytest.fixture
def pg_source(demo_db: Path) -> Iterator[PgDb]:
    for db in pg_database():
        with sqlite3.connect(demo_db) as conn:
            frame = pd.read_sql(
                "SELECT customer_id, plan, monthly_spend, tenure_months, gender, age, churned "
                "FROM customers LIMIT 200",
                conn,
            )
        db.execute(
            "CREATE TABLE customers (customer_id integer primary key, plan text, "
            "monthly_spend double precision, tenure_months integer, gender text, age integer, "
            "churned boolean)"
        )
        rows: list[dict[str, Any]] = [
            {str(k): v for k, v in r.items()} for r in frame.to_dict("records")
        ]
        for row in rows:
            db.execute(
                "INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    int(row["customer_id"]),
                    row["plan"],
                    float(row["monthly_spend"]),
                    int(row["tenure_months"]),
                    row["gender"],
                    int(row["age"]),
                    bool(row["churned"]),
                ),
            )
        yield db


@pytest.mark.slow
def test_transient_postgresql_failure_is_retried_and_a_terminal_one_fails_alone(
    home: Path, tmp_path: Path, pg_source: PgDb, capsys: pytest.CaptureFixture[str]
) -> None:
    from synthgate_connectors.sql._engine import CONNECT_RETRY

    # the connector retries the connection itself; drop every one of its tries so
    # the first attempt of the job fails transiently and sync has to run it again
    proxy = DroppingProxy(drops=CONNECT_RETRY.attempts)
    try:
        url = pg_source.url.replace(f"{PG_HOST}:{PG_PORT}", f"127.0.0.1:{proxy.port}")
        jobs = tmp_path / "jobs"
        jobs.mkdir()
        good = {
            "name": "pg-customers",
            "source": {"url": url, "table": "customers"},
            "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "customers_syn"},
            "synthesis": {"synthesizer": "sdv-gaussian-copula", "seed": 3},
            "validation": {"target_column": "churned", "protected_attributes": ["gender"]},
        }
        missing = dict(
            good,
            name="pg-missing",
            source={"url": pg_source.url, "table": "no_such_table"},
        )
        (jobs / "a.yaml").write_text(yaml.safe_dump(good), "utf-8")
        (jobs / "b.yaml").write_text(yaml.safe_dump(missing), "utf-8")

        code = main(["sync", str(jobs), "--json", "--jobs", "2", "--retry-delay", "0"])
    finally:
        proxy.close()
    result = json.loads(capsys.readouterr().out)
    jobs_by_name = {j["job"]: j for j in result["jobs"]}
    ok = jobs_by_name["pg-customers"]
    assert ok["attempts"] == 2, ok
    assert ok["exit_code"] == 4
    assert ok["rows"] == 200
    assert proxy.dropped == CONNECT_RETRY.attempts
    assert proxy.forwarded >= 1
    terminal = jobs_by_name["pg-missing"]
    assert terminal["attempts"] == 1  # a missing table is not retried
    assert terminal["exit_code"] == 2
    # the problem is one line of the job's list of problems, under its one-line message
    assert "no_such_table" in " ".join([terminal["message"], *terminal.get("problems", [])])
    assert code == 2 == result["exit_code"]


@pytest.mark.slow
def test_retries_are_bounded(
    home: Path, tmp_path: Path, pg_source: PgDb, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = DroppingProxy(drops=10_000)
    try:
        url = pg_source.url.replace(f"{PG_HOST}:{PG_PORT}", f"127.0.0.1:{proxy.port}")
        spec = tmp_path / "job.yaml"
        spec.write_text(
            yaml.safe_dump(
                {
                    "name": "pg-down",
                    "source": {"url": url, "table": "customers"},
                    "target": {"url": f"sqlite:///{tmp_path / 'out.db'}"},
                    "synthesis": {"synthesizer": "sdv-gaussian-copula"},
                }
            ),
            "utf-8",
        )
        code = main(["sync", str(spec), "--json", "--retries", "1", "--retry-delay", "0"])
    finally:
        proxy.close()
    [job] = json.loads(capsys.readouterr().out)["jobs"]
    assert code == 1
    assert job["attempts"] == 2
    assert job["status"] == "error"
    assert "lost or could not open the connection" in job["message"]
    assert "127.0.0.1" in job["message"]


def test_an_edited_policy_pack_is_a_change_not_nothing_to_do(
    home: Path, demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from synthgate_policies.packs import default

    pack = tmp_path / "ours.yaml"
    pack.write_text(default().read_text("utf-8").replace("name: default", "name: ours"), "utf-8")
    register_pack(pack)
    spec = dict(base_spec(demo_db, tmp_path), release={"policy": str(pack)})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    assert main(["run", str(path), "--json"]) in (3, 4)
    first = json.loads(capsys.readouterr().out)
    assert main(["run", str(path), "--json"]) == 99
    capsys.readouterr()

    # the gate's rules change under the same file name: the job runs again
    pack.write_text(pack.read_text("utf-8").replace("threshold: 0.7", "threshold: 0.1"), "utf-8")
    register_pack(pack)
    assert main(["run", str(path), "--json"]) in (3, 4)
    second = json.loads(capsys.readouterr().out)
    assert second["mode"] != "skip"
    assert second["release_id"] != first["release_id"]
    assert main(["run", str(path), "--json"]) == 99
    capsys.readouterr()

    # so do its PII rules (what the model may see)
    pack.write_text(
        pack.read_text("utf-8").replace("quasi_identifier: keep", "quasi_identifier: drop"),
        "utf-8",
    )
    register_pack(pack)
    assert main(["run", str(path), "--json"]) in (3, 4)
    assert json.loads(capsys.readouterr().out)["mode"] != "skip"
