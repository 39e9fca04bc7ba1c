"""What a flood of bad API tokens costs a running console, and the audit page at 100,000 events.

Starts ``synthgate serve`` (a real uvicorn process) on a fresh SQLite store with
an admin, an engineer and an auditor, then measures:

1. **Baseline**: one client with a valid token calling ``GET /api/v1/releases``
   as fast as it can for ``--seconds`` (requests/s), while another asks
   ``/healthz`` (p50, p95 latency).
2. **Under attack**: the same two while ``--threads`` threads send
   ``--bad-calls`` requests with a wrong token (from the same address as the
   real client), until all are sent. Reported: the attackers' status codes and
   rate, the real client's requests/s, ``/healthz`` p50/p95, and the
   ``auth.failed`` events and bytes of audit details those calls added — while
   the server runs and after it stopped (it writes what it counted at shutdown).
3. **Audit page**: the store is filled to ``--audit-events`` events (a valid
   chain, inserted directly), the server started again, and ``GET /audit``
   timed for the first render (walks the whole chain), the next one (nothing
   new since the checkpoint) and one after 10 new events.

Not a test and not run in CI:

    .venv/bin/python benchmarks/auth_load.py [--bad-calls 20000] [--threads 20]
        [--seconds 10] [--audit-events 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from synthgate.audit import AuditLog
from synthgate.audit._log import _body, _mac, canonical_json, seal_head
from synthgate.release import Actor, Role, add_user, set_password
from synthgate.store import Store
from synthgate.store.models import AuditEvent, AuditHead

PASSWORD = "benchmark password 0001"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(home: Path) -> dict[str, str]:
    """Users in a fresh store; their tokens."""
    store = Store(f"sqlite:///{home / 'synthgate.db'}")
    tokens: dict[str, str] = {}
    _, tokens["root"] = add_user(store, Actor("installer", None, False), "root", Role.ADMIN)
    root = Actor("root", Role.ADMIN, True)
    for name, role in (("alice", Role.ENGINEER), ("dave", Role.AUDITOR)):
        _, tokens[name] = add_user(store, root, name, role)
    set_password(store, root, "dave", PASSWORD)
    store.dispose()
    return tokens


@dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process used so far (user + system)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(home: Path) -> Iterator[Server]:
    port = _free_port()
    env = dict(os.environ, SYNTHGATE_HOME=str(home), SYNTHGATE_LOG_LEVEL="ERROR")
    env.pop("SYNTHGATE_STORE_URL", None)
    env.pop("SYNTHGATE_AUDIT_KEY", None)
    log = (home / "server.log").open("a")  # read by nobody: a pipe would fill and block it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synthgate.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--insecure-http",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            tail = (home / "server.log").read_text()[-2000:]
            raise SystemExit(f"synthgate serve exited:\n{tail}")
        time.sleep(0.2)
    try:
        yield Server(base, proc.pid)
    finally:
        proc.terminate()  # SIGTERM: uvicorn shuts down and the app flushes its counts
        proc.wait(timeout=60)
        log.close()


@dataclass
class Probe:
    """A client that repeats one request until stopped, timing each."""

    base: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    codes: Counter[int] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                code = client.get(self.path, headers=self.headers).status_code
                self.latencies.append(time.perf_counter() - t0)
                self.codes[code] += 1

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = sorted(self.latencies) or [float("nan")]
        return {
            "requests": len(self.latencies),
            "per_second": round(len(self.latencies) / seconds, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p95_ms": round(lat[int(0.95 * (len(lat) - 1))] * 1000, 1),
            "codes": dict(self.codes),
        }


def measure(
    srv: Server, tokens: dict[str, str], *, seconds: float, attack: dict[str, Any] | None
) -> dict[str, Any]:
    base = srv.base
    real = Probe(
        base,
        "/api/v1/releases",
        {"Authorization": f"Bearer {tokens['dave']}", "X-Synthgate-User": "dave"},
    )
    health = Probe(base, "/healthz")
    probes = [threading.Thread(target=p.run) for p in (real, health)]
    cpu0 = srv.cpu_seconds()
    t0 = time.perf_counter()
    for t in probes:
        t.start()
    result: dict[str, Any] = {}
    if attack is None:
        time.sleep(seconds)
    else:
        result["attack"] = flood(base, attack["calls"], attack["threads"], attack["rate"])
    elapsed = time.perf_counter() - t0
    for p in (real, health):
        p.stop.set()
    for t in probes:
        t.join()
    cpu = srv.cpu_seconds() - cpu0
    requests = len(real.latencies) + len(health.latencies) + (attack or {}).get("calls", 0)
    result["seconds"] = round(elapsed, 1)
    result["server_cpu_seconds"] = round(cpu, 1)
    result["server_cpu_ms_per_request"] = round(1000 * cpu / max(requests, 1), 2)
    result["real_client"] = real.summary(elapsed)
    result["healthz"] = health.summary(elapsed)
    return result


def _attack(base: str, calls: int, threads: int, first: int, rate: float | None) -> dict[int, int]:
    """*calls* bad-token requests from *threads* threads of this process, at most *rate* a
    second in all (None: as fast as they go); status counts."""
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    left = [calls]

    def attacker(n: int) -> None:
        bad = {"Authorization": f"Bearer sgt_guess-{n}", "X-Synthgate-User": "alice"}
        mine: Counter[int] = Counter()
        gap = threads / rate if rate else 0.0
        due = time.perf_counter()
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                with lock:
                    if left[0] <= 0:
                        break
                    left[0] -= 1
                if gap:
                    due += gap
                    time.sleep(max(0.0, due - time.perf_counter()))
                mine[client.get("/api/v1/releases", headers=bad).status_code] += 1
        with lock:
            codes.update(mine)

    workers = [threading.Thread(target=attacker, args=(first + n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return dict(codes)


def flood(base: str, calls: int, threads: int, rate: float | None) -> dict[str, Any]:
    """The attack, from up to 4 processes, so that the probes of this one keep their share."""
    processes = min(4, threads)
    shares = [
        (
            calls // processes + (i < calls % processes),
            threads // processes + (i < threads % processes),
        )
        for i in range(processes)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        futures = []
        first = 0
        for share_calls, share_threads in shares:
            share_rate = rate * share_calls / calls if rate else None
            futures.append(
                pool.submit(_attack, base, share_calls, share_threads, first, share_rate)
            )
            first += share_threads
        codes: Counter[int] = Counter()
        for future in futures:
            codes.update(future.result())
    elapsed = time.perf_counter() - t0
    return {
        "calls": calls,
        "threads": threads,
        "processes": processes,
        "rate_cap": rate,
        "seconds": round(elapsed, 1),
        "per_second": round(calls / elapsed, 1),
        "codes": dict(codes),
    }


def audit_counts(home: Path) -> dict[str, int]:
    store = Store(f"sqlite:///{home / 'synthgate.db'}", migrate=False)
    with store.engine.connect() as conn:
        total, failed, size = conn.exec_driver_sql(
            "SELECT count(*), sum(action = 'auth.failed'), "
            "coalesce(sum(CASE WHEN action = 'auth.failed' THEN length(details) END), 0) "
            "FROM audit_events"
        ).one()
        counted = conn.exec_driver_sql(
            "SELECT details FROM audit_events WHERE action = 'auth.failed'"
        ).all()
    store.dispose()
    failures = sum(json.loads(d)["failures"] for (d,) in counted)
    return {
        "events": int(total),
        "auth_failed_events": int(failed or 0),
        "auth_failed_bytes": int(size),
        "failures_counted": failures,
    }


def fill_audit(home: Path, target: int) -> int:
    """Append unkeyed events directly (a valid chain) until the log holds *target* events."""
    store = Store(f"sqlite:///{home / 'synthgate.db'}", migrate=False)
    with store.session() as s:
        head = s.get_one(AuditHead, 1)
        seq, prev = head.seq, head.hash
        rows = []
        while seq < target:
            seq += 1
            ts = f"2026-01-01T00:00:00.{seq % 1_000_000:06d}Z"
            details = canonical_json({"i": seq, "note": "benchmark filler"})
            digest = _mac(
                None,
                (prev + _body(seq, ts, "bench", "bench.filler", f"s-{seq % 97}", details)).encode(),
            )
            rows.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "actor": "bench",
                    "action": "bench.filler",
                    "subject": f"s-{seq % 97}",
                    "details": details,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        if rows:
            s.execute(insert(AuditEvent), rows)
        head.seq, head.hash = seq, prev
        head.seal = seal_head(None, seq, prev)[1]
    store.dispose()
    return seq


def time_audit_page(base: str) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=300, follow_redirects=False) as client:
        form = client.get("/login").text
        token = _CSRF.search(form)
        assert token
        signed = client.post(
            "/login", data={"username": "dave", "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert signed.status_code == 303, signed.text[:200]
        timings = {}
        for label in ("first_render_ms", "second_render_ms"):
            t0 = time.perf_counter()
            page = client.get("/audit")
            timings[label] = round((time.perf_counter() - t0) * 1000, 1)
            if page.status_code != 200 or "Hash chain verified" not in page.text:
                raise SystemExit(f"/audit did not verify: {page.status_code}")
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bad-calls", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rate", type=float, help="cap the attack at this many requests/s (default: no cap)"
    )
    parser.add_argument("--audit-events", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}
    }
    with tempfile.TemporaryDirectory(prefix="sg-auth-load-") as tmp:
        home = Path(tmp)
        tokens = setup(home)
        with server(home) as srv:
            report["baseline"] = measure(srv, tokens, seconds=args.seconds, attack=None)
            before = audit_counts(home)
            report["under_attack"] = measure(
                srv,
                tokens,
                seconds=args.seconds,
                attack={"calls": args.bad_calls, "threads": args.threads, "rate": args.rate},
            )
            during = audit_counts(home)
        after = audit_counts(home)
        report["audit"] = {
            "auth_failed_events_while_running": during["auth_failed_events"]
            - before["auth_failed_events"],
            "auth_failed_events_after_shutdown": after["auth_failed_events"]
            - before["auth_failed_events"],
            "auth_failed_bytes_after_shutdown": after["auth_failed_bytes"]
            - before["auth_failed_bytes"],
            "failures_counted_in_events": after["failures_counted"] - before["failures_counted"],
        }
        if args.audit_events > 0:
            events = fill_audit(home, args.audit_events)
            with server(home) as srv:
                timings = time_audit_page(srv.base)
                store = Store(f"sqlite:///{home / 'synthgate.db'}", migrate=False)
                for i in range(10):
                    AuditLog(store, key=b"").append(
                        actor="bench", action="bench.new", subject=str(i)
                    )
                store.dispose()
                timings.update(time_after_new(srv.base))
            report["audit_page"] = {"events": events, **timings}
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


def time_after_new(base: str) -> dict[str, Any]:
    # a new session: the page's checkpoint is per server process, not per session
    with httpx.Client(base_url=base, timeout=300, follow_redirects=False) as client:
        token = _CSRF.search(client.get("/login").text)
        assert token
        client.post(
            "/login", data={"username": "dave", "password": PASSWORD, "csrf_token": token.group(1)}
        )
        t0 = time.perf_counter()
        page = client.get("/audit")
        elapsed = round((time.perf_counter() - t0) * 1000, 1)
        assert "checked now" in page.text
        return {"render_after_10_new_events_ms": elapsed}


if __name__ == "__main__":
    main()
