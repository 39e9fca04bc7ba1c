"""The JSON API's role matrix: every route, every role, allowed and refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from synthgate.audit import AuditLog
from synthgate.release import ReleaseStatus, get_release
from tests.web._seed import Seeded, make_release

ROLES = ("root", "alice", "bob", "dave")  # admin, engineer, approver, auditor

READS = [
    "/api/v1/me",
    "/api/v1/releases",
    "/api/v1/releases?status=AWAITING_APPROVAL&source=source.db&requester=alice",
    "/api/v1/releases/rel-1",
    "/api/v1/audit?action=release.&limit=5",
    "/api/v1/audit/verify",
    "/api/v1/budget",
    "/api/v1/runs",
    "/api/v1/runs/run-rel-1",
]


@pytest.mark.parametrize("path", READS)
def test_every_role_reads_and_nobody_else(client: TestClient, seeded: Seeded, path: str) -> None:
    make_release(seeded)
    for user in ROLES:
        assert client.get(path, headers=seeded.headers(user)).status_code == 200, user
    assert client.get(path).status_code == 401
    wrong = {"Authorization": "Bearer sgt_wrong", "X-Synthgate-User": "bob"}
    assert client.get(path, headers=wrong).status_code == 401
    other = {"Authorization": f"Bearer {seeded.tokens['bob']}", "X-Synthgate-User": "carol"}
    assert client.get(path, headers=other).status_code == 401


# action, body, who requested it, status it starts in → expected status per user
MATRIX: list[tuple[str, dict[str, Any], str, ReleaseStatus, dict[str, int]]] = [
    (
        "approve",
        {"comment": "reviewed the report"},
        "alice",
        ReleaseStatus.AWAITING_APPROVAL,
        {"root": 200, "alice": 403, "bob": 200, "dave": 403},
    ),
    (
        "reject",
        {"reason": "fidelity too low"},
        "alice",
        ReleaseStatus.AWAITING_APPROVAL,
        {"root": 200, "alice": 403, "bob": 200, "dave": 403},
    ),
    (
        "publish",
        {},
        "alice",
        ReleaseStatus.APPROVED,
        {"root": 200, "alice": 200, "bob": 403, "dave": 403},
    ),
    (
        "revoke",
        {"reason": "superseded"},
        "carol",
        ReleaseStatus.APPROVED,
        {"root": 200, "alice": 403, "bob": 200, "dave": 403},
    ),
]


@pytest.mark.parametrize(("action", "body", "requester", "start", "expected"), MATRIX)
def test_action_role_matrix(
    client: TestClient,
    seeded: Seeded,
    action: str,
    body: dict[str, Any],
    requester: str,
    start: ReleaseStatus,
    expected: dict[str, int],
) -> None:
    for user, code in expected.items():
        rid = f"rel-{action}-{user}"
        make_release(seeded, rid, status=start, requested_by=requester)
        response = client.post(
            f"/api/v1/releases/{rid}/{action}", json=body, headers=seeded.headers(user)
        )
        assert response.status_code == code, (user, response.text)
        after = get_release(seeded.store, rid).status
        if code == 200:
            assert after != start.value
        else:
            assert after == start.value
            assert "may not" in response.json()["detail"]
            assert "\n" not in response.json()["detail"]
        anonymous = client.post(f"/api/v1/releases/{rid}/{action}", json=body)
        assert anonymous.status_code == 401


def test_the_requester_may_revoke_their_own_release(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded, status=ReleaseStatus.APPROVED, requested_by="alice")
    response = client.post(
        "/api/v1/releases/rel-1/revoke",
        json={"reason": "wrong table"},
        headers=seeded.headers("alice"),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "REVOKED"


def test_self_approval_is_refused_with_four_eyes(client: TestClient, seeded: Seeded) -> None:
    make_release(seeded, requested_by="bob")
    response = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "mine"}, headers=seeded.headers("bob")
    )
    assert response.status_code == 403
    assert "four-eyes" in response.json()["detail"]
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"
    ok = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "fine"}, headers=seeded.headers("carol")
    )
    assert ok.status_code == 200


def test_an_admin_cannot_approve_their_release_through_an_account_they_made(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, requested_by="root")  # root made every other account of the seed
    minted = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("bob")
    )
    assert minted.status_code == 403
    detail = minted.json()["detail"]
    assert "bob may not approve release rel-1 of root: bob's account was created by root" in detail
    assert "four-eyes by person" in detail
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"


def test_two_approvals_needed_and_the_same_person_twice_is_refused(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, required=2)
    first = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("bob")
    )
    assert first.json()["status"] == "AWAITING_APPROVAL"
    again = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("bob")
    )
    assert again.status_code == 403
    second = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("carol")
    )
    assert second.json() == {
        "release_id": "rel-1",
        "status": "APPROVED",
        "version": 3,
        "approvals": 2,
        "required": 2,
    }


def test_comment_is_mandatory_and_stale_versions_conflict(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded)
    blank = client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "  "}, headers=seeded.headers("bob")
    )
    assert blank.status_code == 400
    assert "comment is required" in blank.json()["detail"]
    stale = client.post(
        "/api/v1/releases/rel-1/approve",
        json={"comment": "ok", "expected_version": 7},
        headers=seeded.headers("bob"),
    )
    assert stale.status_code == 409
    wrong_state = client.post(
        "/api/v1/releases/rel-1/publish", json={}, headers=seeded.headers("alice")
    )
    assert wrong_state.status_code == 409
    assert get_release(seeded.store, "rel-1").status == "AWAITING_APPROVAL"


def test_unknown_release_and_run_are_404(client: TestClient, seeded: Seeded) -> None:
    h = seeded.headers("bob")
    assert client.get("/api/v1/releases/rel-nope", headers=h).status_code == 404
    assert client.get("/api/v1/runs/run-nope", headers=h).status_code == 404
    assert (
        client.post(
            "/api/v1/releases/rel-nope/approve", json={"comment": "x"}, headers=h
        ).status_code
        == 404
    )


def test_release_detail_carries_gate_decisions_and_budget(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded, epsilon=2.5)
    client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("bob")
    )
    body = client.get("/api/v1/releases/rel-1", headers=seeded.headers("dave")).json()
    assert body["status"] == "APPROVED"
    assert body["gate"][0]["rule_id"] == "fidelity-min"
    assert [d["approver"] for d in body["decisions"]] == ["bob"]
    assert body["epsilon"] == 2.5
    assert body["budget"]["spent_epsilon"] == 2.5
    assert body["budget"]["limit_epsilon"] > 2.5
    assert body["report_url"] == "/releases/rel-1/report"
    # the verdict per area, as the report's first page and the console show it
    areas = [v["area"] for v in body["verdicts"]]
    assert {"fidelity", "privacy"} <= set(areas)
    assert all(v["verdict"] for v in body["verdicts"])
    assert body["verdict"]


def test_api_actions_are_audited_with_the_authenticated_actor(
    client: TestClient, seeded: Seeded
) -> None:
    make_release(seeded)
    client.post(
        "/api/v1/releases/rel-1/approve", json={"comment": "ok"}, headers=seeded.headers("bob")
    )
    events = list(AuditLog(seeded.store).events(subject="rel-1"))
    assert events[-1].action == "release.approved"
    assert events[-1].actor == "bob"
    assert events[-1].details["authenticated"] is True
    api = client.get("/api/v1/audit?subject=rel-1", headers=seeded.headers("dave")).json()
    assert api[0]["action"] == "release.approved"
    assert client.get("/api/v1/audit/verify", headers=seeded.headers("dave")).json()["ok"] is True


def test_bootstrap_stores_refuse_the_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from synthgate.store import Store
    from synthgate.web import create_app

    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(store, secure_cookies=False)) as c:
        response = c.get(
            "/api/v1/releases", headers={"Authorization": "Bearer x", "X-Synthgate-User": "anyone"}
        )
    assert response.status_code == 401
    assert "no users yet" in response.json()["detail"]
    store.dispose()


def test_openapi_schema_lists_the_api_and_no_pages(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert "/api/v1/releases/{release_id}/approve" in paths
    assert "/api/v1/audit/verify" in paths
    assert not any(p.startswith(("/releases", "/login", "/metrics")) for p in paths)
    assert {"token", "user"} <= set(schema["components"]["securitySchemes"])
