"""Connector throughput against the databases' own bulk tools, in the same run.

For a table of N rows × 10 mixed columns (default 1,000,000):

* PostgreSQL: read into Arrow and write (staging + swap) through the
  connector, each as a ratio to ``psql``'s ``\\copy`` of the same table
  (``\\copy t TO file`` / ``\\copy t FROM file``);
* MariaDB: the same against the ``mariadb`` client (``SELECT *`` to a file in
  ``--batch`` mode / ``LOAD DATA LOCAL INFILE``);
* Parquet: the same against ``pyarrow.parquet`` reading and writing directly.

A ratio above 1 means the connector is faster than the tool. Reads run in a
child process that reports its peak resident memory while reading (the
kernel's high-water mark, reset just before the read) next to the size of the
table it holds in memory. Needs the servers at 127.0.0.1 (PostgreSQL user
postgres, database test; MariaDB user root); creates and drops its own schema
and database.

    .venv/bin/python benchmarks/connectors_throughput.py [--rows N] [--only postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root"}

COLUMNS = (
    "id bigint NOT NULL, qty integer NOT NULL, price numeric(12,2), score double precision, "
    "flag boolean, born date, seen timestamp, name text, tier varchar(12), note text"
)
MY_COLUMNS = (
    "id bigint NOT NULL, qty int NOT NULL, price decimal(12,2), score double, flag tinyint(1), "
    "born date, seen datetime(6), name text, tier varchar(12), note text"
)
PG_FILL = """
INSERT INTO bench
SELECT g, g % 1000, round((random() * 100000)::numeric, 2), random() * 1000, g % 2 = 0,
       date '1950-01-01' + (g % 25000), timestamp '2020-01-01' + g * interval '1.5 second',
       md5(g::text), (ARRAY['free','pro','enterprise'])[1 + g % 3],
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'note number ' || g END
FROM generate_series(1, %s) g
"""


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = action()
    return time.perf_counter() - start, out


def _machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem} RAM, "
        f"load average {load[0]:.1f}, Python {platform.python_version()}"
    )


# --------------------------------------------------------------------------- child: one read


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _child_read(url: str, table: str) -> None:
    """Read *table* through its connector, holding every batch (as extract does)."""
    import pyarrow as pa

    from synthgate.sources import open_source

    src = open_source(url)
    src.schema(table)  # imports and connections outside the measurement
    base = _status_kb("VmRSS")
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    start = time.perf_counter()
    batches = list(src.read(table, chunk_rows=50_000))
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM")
    data = pa.Table.from_batches(batches)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": data.num_rows,
                "table_bytes": data.nbytes,
                "peak_rss_bytes": (peak - base) * 1024,
            }
        )
    )


def _read_in_child(url: str, table: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child-read", url, table],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report


def _line(system: str, rows: int, ours: float, tool: float, what: str, tool_name: str) -> str:
    return (
        f"{system:<10} {what:<5} connector {rows / ours:>10,.0f} rows/s ({ours:6.2f} s)   "
        f"{tool_name} {rows / tool:>10,.0f} rows/s ({tool:6.2f} s)   ratio {tool / ours:4.2f}x"
    )


def _rss_line(system: str, child: dict[str, Any]) -> str:
    table = child["table_bytes"]
    peak = child["peak_rss_bytes"]
    return (
        f"{system:<10} peak RSS during the read {peak / 2**20:7.1f} MiB for a table of "
        f"{table / 2**20:7.1f} MiB in memory: {peak / table:4.2f}x"
    )


# --------------------------------------------------------------------------- PostgreSQL


def bench_postgres(rows: int, work: Path) -> list[str]:
    import psycopg

    from synthgate.contracts import WriteMode
    from synthgate.sources import open_sink, open_source

    schema = f"sg_bench_{secrets.token_hex(4)}"
    url = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    env = {**os.environ, "PGOPTIONS": f"-csearch_path={schema}"}
    psql = ["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c"]
    admin = psycopg.connect(**PG, autocommit=True)  # type: ignore[arg-type]
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        admin.execute(f"SET search_path TO {schema}")
        admin.execute(
            f"CREATE TABLE bench ({COLUMNS}, CHECK (tier IN ('free','pro','enterprise')))"
        )
        admin.execute(PG_FILL.replace("%s", str(rows)))
        admin.execute("VACUUM ANALYZE bench")
        dump = work / "pg.csv"

        def copy_out() -> None:
            subprocess.run([*psql, f"\\copy bench TO '{dump}' CSV"], check=True, env=env)

        tool_read, _ = _timed(copy_out)
        child = _read_in_child(url, "bench")
        assert child["rows"] == rows
        src = open_source(url)
        schema_obj = src.schema("bench")
        import pyarrow as pa

        data = pa.Table.from_batches(list(src.read("bench")))
        src.close()
        admin.execute("CREATE TABLE bench_copy (LIKE bench INCLUDING ALL)")

        def copy_in() -> None:
            subprocess.run([*psql, f"\\copy bench_copy FROM '{dump}' CSV"], check=True, env=env)

        tool_write, _ = _timed(copy_in)
        sink = open_sink(url)
        ours_write, result = _timed(
            lambda: sink.write(
                "bench_out",
                iter(data.to_batches(50_000)),
                schema=schema_obj,
                mode=WriteMode.REPLACE,
            )
        )
        sink.close()
        assert result.rows == rows
        (count,) = admin.execute("SELECT count(*) FROM bench_out").fetchone() or (0,)
        assert count == rows
        return [
            _line("PostgreSQL", rows, child["seconds"], tool_read, "read", "psql \\copy"),
            _line("PostgreSQL", rows, ours_write, tool_write, "write", "psql \\copy"),
            _rss_line("PostgreSQL", child),
        ]
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


# --------------------------------------------------------------------------- MariaDB


def bench_mariadb(rows: int, work: Path) -> list[str]:
    import psycopg
    import pymysql

    from synthgate.contracts import WriteMode
    from synthgate.sources import open_sink, open_source

    client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
    db = f"sg_bench_{secrets.token_hex(4)}"
    url = f"mysql://root@127.0.0.1:3306/{db}"
    base = [client, "-h", "127.0.0.1", "-P", "3306", "-u", "root"]
    # the same rows as in PostgreSQL, exported once (booleans as 0/1)
    source_csv = work / "my_in.csv"
    with psycopg.connect(**PG, autocommit=True) as pg:  # type: ignore[arg-type]
        pg.execute("CREATE TEMP TABLE bench (" + COLUMNS + ")")
        pg.execute(PG_FILL.replace("%s", str(rows)))
        with (
            source_csv.open("wb") as fh,
            pg.cursor().copy(
                "COPY (SELECT id, qty, price, score, flag::int, born, seen, name, tier, note "
                "FROM bench) TO STDOUT (FORMAT csv, NULL '\\N')"
            ) as copy,
        ):
            for block in copy:
                fh.write(block)
    admin = pymysql.connect(**MY, autocommit=True, local_infile=True)
    load = (
        "LOAD DATA LOCAL INFILE '{file}' INTO TABLE {table} FIELDS TERMINATED BY ',' "
        "OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\'"
    )
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
            cur.execute(f"USE {db}")
            cur.execute(f"CREATE TABLE bench ({MY_COLUMNS})")
            cur.execute(f"CREATE TABLE bench_copy ({MY_COLUMNS})")
            cur.execute(load.format(file=source_csv, table="bench"))
        dump = work / "my_out.tsv"

        def dump_out() -> None:
            with dump.open("wb") as fh:
                subprocess.run(
                    [*base, "--batch", "--quick", db, "-e", "SELECT * FROM bench"],
                    check=True,
                    stdout=fh,
                )

        tool_read, _ = _timed(dump_out)
        child = _read_in_child(url, "bench")
        assert child["rows"] == rows

        def load_in() -> None:
            subprocess.run(
                [
                    *base,
                    "--local-infile=1",
                    db,
                    "-e",
                    load.format(file=source_csv, table="bench_copy"),
                ],
                check=True,
            )

        tool_write, _ = _timed(load_in)
        src = open_source(url)
        schema_obj = src.schema("bench")
        import pyarrow as pa

        data = pa.Table.from_batches(list(src.read("bench")))
        src.close()
        sink = open_sink(url)
        ours_write, result = _timed(
            lambda: sink.write(
                "bench_out",
                iter(data.to_batches(50_000)),
                schema=schema_obj,
                mode=WriteMode.REPLACE,
            )
        )
        sink.close()
        assert result.rows == rows
        return [
            _line("MariaDB", rows, child["seconds"], tool_read, "read", "mariadb -e"),
            _line("MariaDB", rows, ours_write, tool_write, "write", "LOAD DATA"),
            _rss_line("MariaDB", child),
        ]
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.close()


# --------------------------------------------------------------------------- Parquet


def bench_parquet(rows: int, work: Path) -> list[str]:
    import psycopg
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthgate.contracts import WriteMode
    from synthgate.sources import open_sink, open_source

    folder = work / "pq"
    folder.mkdir()
    with psycopg.connect(**PG, autocommit=True) as pg:  # type: ignore[arg-type]
        schema = f"sg_bench_{secrets.token_hex(4)}"
        pg.execute(f"CREATE SCHEMA {schema}")
        try:
            pg.execute(f"SET search_path TO {schema}")
            pg.execute(f"CREATE TABLE bench ({COLUMNS})")
            pg.execute(PG_FILL.replace("%s", str(rows)))
            src_url = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
            src = open_source(src_url)
            schema_obj = src.schema("bench")
            data = pa.Table.from_batches(list(src.read("bench")))
            src.close()
        finally:
            pg.execute(f"DROP SCHEMA {schema} CASCADE")
    direct = folder / "direct.parquet"
    tool_write, _ = _timed(lambda: pq.write_table(data, direct))
    sink = open_sink(str(folder) + "/")
    ours_write, _ = _timed(
        lambda: sink.write(
            "bench", iter(data.to_batches(50_000)), schema=schema_obj, mode=WriteMode.REPLACE
        )
    )
    tool_read, _ = _timed(lambda: pq.read_table(folder / "bench.parquet"))
    child = _read_in_child(str(folder / "bench.parquet"), "bench")
    assert child["rows"] == rows
    return [
        _line("Parquet", rows, child["seconds"], tool_read, "read", "pq.read_table"),
        _line("Parquet", rows, ours_write, tool_write, "write", "pq.write_table"),
        _rss_line("Parquet", child),
    ]


BENCHES: dict[str, Callable[[int, Path], list[str]]] = {
    "postgresql": bench_postgres,
    "mariadb": bench_mariadb,
    "parquet": bench_parquet,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--only", choices=sorted(BENCHES), action="append", help="run only these systems"
    )
    parser.add_argument("--child-read", nargs=2, metavar=("URL", "TABLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_read:
        _child_read(*args.child_read)
        return 0
    print(f"machine: {_machine()}")
    print(
        f"table: {args.rows:,} rows x 10 columns (bigint, int, numeric(12,2), double, bool, "
        "date, timestamp, 2 text, varchar with a declared domain)"
    )
    with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp:
        work = Path(tmp)
        for name, bench in BENCHES.items():
            if args.only and name not in args.only:
                continue
            for line in bench(args.rows, work):
                print(line, flush=True)
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
