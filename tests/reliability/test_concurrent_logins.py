"""Invariant 1 under load: N simultaneous logins of different users against a pool of M desktops give
exactly min(N, M) assignments, never one desktop twice, and a plain "none available" to the others,
with no 5xx — across threads of one process and across processes sharing one DynamoDB endpoint (as
concurrent Lambda instances do)."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.store.models import DesktopRecord
from tests.fixtures.moto_server import SharedAws
from tests.fixtures.settings import set_setting
from tests.reliability.login_world import LOGIN_PASSWORD as PASSWORD
from tests.reliability.login_world import LOGIN_TENANT as TENANT
from tests.reliability.login_world import seed_login_world


@pytest.fixture(autouse=True)
def long_pending_checks(shared_aws: SharedAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count queued checks; on a loaded machine they may outlast a pending check's 60 s."""
    set_setting(monkeypatch, "pool_check_pending_seconds", 3600)
    shared_aws.env["BROKER_POOL_CHECK_PENDING_SECONDS"] = "3600"


def _login_by_service(login: str) -> dict[str, Any]:
    from chalicelib.domain.errors import BrokerError
    from chalicelib.services import client_login

    try:
        result = client_login.login(client_login.LoginRequest(login, PASSWORD, TENANT))
    except BrokerError as error:
        return {"login": login, "status": error.status}
    except Exception as error:
        return {"login": login, "status": "CRASH", "error": repr(error)}
    return {
        "login": login,
        "status": 200,
        "user_id": result.user_id,
        "desktops": [d.id for d in result.offer.desktops],
        "reason": result.offer.empty_reason,
        "retry_after": result.offer.retry_after,
        "message": result.offer.message,
    }


def _process_logins(
    env: dict[str, str], logins: list[str], use_http: bool, threads: int
) -> list[dict[str, Any]]:
    """Runs in a child process: one Lambda-like broker instance logging its share of the users in."""
    from tests.fixtures.moto_server import apply_env

    apply_env(env)
    if not use_http:
        with ThreadPoolExecutor(threads) as executor:
            return list(executor.map(_login_by_service, logins))
    import json

    from chalice.test import Client

    from app import app

    results = []
    with Client(app) as client:
        for login in logins:
            response = client.http.post(
                "/client/v1/login",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"user_login": login, "password": PASSWORD, "domain": TENANT}),
            )
            body = json.loads(response.body)
            if response.status_code == 200:
                results.append(
                    {
                        "login": login,
                        "status": 200,
                        "desktops": [d["id"] for d in body["desktops"]],
                        "reason": "none_available" if not body["desktops"] else None,
                        "retry_after": body.get("retry_after"),
                        "message": body.get("message"),
                        "retry_after_header": response.headers.get("Retry-After"),
                    }
                )
            else:
                results.append({"login": login, "status": response.status_code, "body": body})
    return results


def _check(results: list[dict[str, Any]], users: int, desktops: int, tenant_id: int) -> None:
    assert len(results) == users
    failures = [r for r in results if r["status"] != 200]
    assert failures == [], failures[:5]
    got = [r["desktops"] for r in results]
    assert all(len(d) <= 1 for d in got)
    assigned = [d[0] for d in got if d]
    assert len(assigned) == min(users, desktops)
    assert len(set(assigned)) == len(assigned), Counter(assigned).most_common(3)
    for result in results:
        if not result["desktops"]:
            assert result["reason"] == "none_available"
            assert result["retry_after"] == 30
            assert "No desktop is available right now" in result["message"]
    # the table agrees: every desktop handed out is assigned to exactly the user who got it
    rows = {int(r.id): r for r in DesktopRecord.query(tenant_id, consistent_read=True)}
    held = {i: int(r.assigned_user_id) for i, r in rows.items() if r.assigned_user_id is not None}
    assert sorted(held) == sorted(assigned)
    assert len(set(held.values())) == len(held)


# favor 0: random order (the default); favor 2: oldest first, where every login races for the same desktops
@pytest.mark.parametrize("favor", [0])
def test_threads_in_one_process(shared_aws: SharedAws, favor: int) -> None:
    from chalicelib.services import client_cache

    users, desktops = 120, 40
    world = seed_login_world(users, desktops, favor)
    client_cache.clear_all()
    with ThreadPoolExecutor(16) as executor:
        results = list(executor.map(_login_by_service, [f"user{i:03d}" for i in range(users)]))
    _check(results, users, desktops, world["tenant_id"])
    checks = [m for m in shared_aws.queued() if m["type"] == "pool.check"]
    assert len(checks) == 1  # a burst of logins queues one check per pool


@pytest.mark.parametrize("favor", [2])
def test_200_logins_from_several_processes_on_50_desktops(shared_aws: SharedAws, favor: int) -> None:
    users, desktops, processes = 200, 50, 4
    world = seed_login_world(users, desktops, favor)
    logins = [f"user{i:03d}" for i in range(users)]
    shares = [logins[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        # half the instances go through the HTTP layer, half call the service from 8 threads each
        jobs = [
            pool.apply_async(_process_logins, (shared_aws.env, share, index % 2 == 0, 8))
            for index, share in enumerate(shares)
        ]
        results = [r for job in jobs for r in job.get(timeout=600)]
    _check(results, users, desktops, world["tenant_id"])
    http_empty = [r for r in results if "retry_after_header" in r and not r["desktops"]]
    assert all(r["retry_after_header"] == "30" for r in http_empty)
    checks = [m for m in shared_aws.queued() if m["type"] == "pool.check"]
    assert len(checks) == 1
