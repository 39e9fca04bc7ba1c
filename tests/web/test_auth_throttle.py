"""What a caller with a list of guesses gets from the API and the sign-in form (issue #16).

No timing: the checks count argon2 verifications, responses and audit events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from synthgate.audit import AuditLog
from synthgate.errors import NotAuthenticated
from synthgate.release import (
    ADDRESS_FAILURE_LIMIT,
    Actor,
    Role,
    _throttle,
    authenticate,
    disable_user,
)
from synthgate.release import _users as users
from synthgate.release._throttle import AuthGuard
from synthgate.web import create_app
from tests.web._seed import Seeded
from tests.web.test_console import login_token

BAD = {"Authorization": "Bearer sgt_not-a-real-token", "X-Synthgate-User": "bob"}


class CountingHasher:
    """The argon2 hasher, counting verifications."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.verifications = 0

    def verify(self, digest: str, secret: str) -> bool:
        self.verifications += 1
        return bool(self.real.verify(digest, secret))

    def hash(self, secret: str) -> str:
        return str(self.real.hash(secret))


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher(users._HASHER)
    monkeypatch.setattr(users, "_HASHER", counting)
    return counting


MINUTE = datetime(2026, 2, 1, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def guard(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> AuthGuard:
    """The store's guard with its clocks stopped: allowances do not refill, the minute stays."""
    frozen = AuthGuard(seeded.store, clock=lambda: 1000.0, now=lambda: MINUTE)
    monkeypatch.setitem(_throttle._GUARDS, seeded.store.url, frozen)
    return frozen


@pytest.fixture
def api(seeded: Seeded, guard: AuthGuard) -> Iterator[TestClient]:
    app = create_app(seeded.store, secure_cookies=False)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def failures(seeded: Seeded) -> tuple[int, Counter[str]]:
    """auth.failed events so far, and their failures summed by reason."""
    reasons: Counter[str] = Counter()
    events = list(AuditLog(seeded.store).events(action="auth.failed"))
    for event in events:
        reasons.update(event.details["reasons"])
    return len(events), reasons


def test_unknown_and_disabled_users_cost_one_argon2_check_like_a_wrong_token(
    seeded: Seeded, hasher: CountingHasher
) -> None:
    disable_user(seeded.store, Actor("root", Role.ADMIN, True), "dave")
    for name in ("bob", "nobody-by-this-name", "dave"):
        before = hasher.verifications
        with pytest.raises(NotAuthenticated, match="could not be authenticated"):
            authenticate(seeded.store, name, "sgt_a-wrong-token")
        assert hasher.verifications - before == 1, name


def test_bad_tokens_are_throttled_per_address_before_any_check(
    api: TestClient, seeded: Seeded, hasher: CountingHasher
) -> None:
    client = api
    good = seeded.headers("root")
    assert client.get("/api/v1/me", headers=good).status_code == 200  # known to this process
    for _ in range(ADDRESS_FAILURE_LIMIT):
        assert client.get("/api/v1/releases", headers=BAD).status_code == 401
    checked = hasher.verifications
    refused = client.get("/api/v1/releases", headers=BAD)
    assert refused.status_code == 429
    assert "too many failed authentications from this address" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    for _ in range(30):
        assert client.get("/api/v1/releases", headers=BAD).status_code == 429
    assert hasher.verifications == checked  # nothing more was checked
    # a client that authenticated before goes on; health checks are not throttled
    assert client.get("/api/v1/releases", headers=good).status_code == 200
    assert client.get("/healthz").status_code == 200
    # until the allowance refills, a token this process has not seen verify waits too
    assert client.get("/api/v1/me", headers=seeded.headers("dave")).status_code == 429


def test_failures_are_aggregated_per_address_and_minute(
    api: TestClient, seeded: Seeded, guard: AuthGuard
) -> None:
    for _ in range(ADDRESS_FAILURE_LIMIT + 80):
        api.get("/api/v1/releases", headers=BAD)
    written, _ = failures(seeded)
    assert written == 1  # the first failure of the minute, at once
    guard.flush()  # what the app does at shutdown: what was counted since, as one event
    written, reasons = failures(seeded)
    assert written == 2
    assert reasons == {
        "unknown user, disabled user or wrong token": ADDRESS_FAILURE_LIMIT,
        "throttled: refused unchecked": 80,
    }
    [first, rest] = list(AuditLog(seeded.store).events(action="auth.failed"))
    assert (first.subject, first.details["client"], first.details["via"]) == (
        "bob",
        "testclient",
        "api",
    )
    assert rest.details["failures"] == ADDRESS_FAILURE_LIMIT + 80 - 1


def test_the_next_minute_gets_one_event_with_the_rest(seeded: Seeded) -> None:
    minutes = iter([MINUTE, MINUTE, MINUTE, MINUTE.replace(minute=1), MINUTE.replace(minute=1)])
    guard = AuthGuard(seeded.store, now=lambda: next(minutes))
    for _ in range(3):
        guard.failed("192.0.2.1", name="bob", reason="wrong token", via="api")
    guard.failed("192.0.2.1", name="carol", reason="wrong token", via="api")
    guard.failed("192.0.2.1", name="carol", reason="wrong token", via="api")
    events = list(AuditLog(seeded.store).events(action="auth.failed"))
    assert [(e.subject, e.details["failures"]) for e in events] == [
        ("bob", 1),
        ("<several names>", 3),  # two more of minute 0 and the first of minute 1
    ]
    assert events[1].details["users"] == ["bob", "carol"]


def test_sign_ins_are_throttled_per_address(api: TestClient, seeded: Seeded) -> None:
    client = api
    for i in range(ADDRESS_FAILURE_LIMIT):  # spraying names: no single name is locked out
        response = client.post(
            "/login",
            data={
                "username": f"user{i}",
                "password": "a wrong password",
                "csrf_token": login_token(client),
            },
        )
        assert response.status_code == 401
    refused = client.post(
        "/login",
        data={"username": "carol", "password": "whatever it is", "csrf_token": login_token(client)},
    )
    assert refused.status_code == 429
    assert "Too many failed sign-ins from this address" in refused.text


def test_parallel_bad_tokens_check_at_most_the_allowance(
    api: TestClient, seeded: Seeded, hasher: CountingHasher
) -> None:
    import threading

    calls = ADDRESS_FAILURE_LIMIT * 2
    barrier = threading.Barrier(calls)
    codes: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        headers = {"Authorization": f"Bearer sgt_guess-{i}", "X-Synthgate-User": "bob"}
        barrier.wait()
        code = api.get("/api/v1/releases", headers=headers).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sorted(Counter(codes).items()) == [
        (401, ADDRESS_FAILURE_LIMIT),
        (429, calls - ADDRESS_FAILURE_LIMIT),
    ]
    assert hasher.verifications == ADDRESS_FAILURE_LIMIT
