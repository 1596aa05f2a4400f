"""Five failed logins within five minutes lock a login out with 429 and Retry-After."""

from __future__ import annotations

import time

import pytest

from chalicelib.store.assignments import failures_key
from chalicelib.store.models import MarkerRecord
from tests.integration.client.conftest import USER_PASSWORD, ClientApi, ClientWorld


def prepare(world: ClientWorld) -> None:
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.desktop(pool)
    world.user("alice")


def test_five_failures_lock_even_the_right_password_out(world: ClientWorld, client: ClientApi) -> None:
    prepare(world)
    for _ in range(5):
        client.login("alice", "wrong-password", expect=401)
    locked = client.login("alice", USER_PASSWORD, expect=429)
    assert locked.body["error_status"] == "TOO_MANY_ATTEMPTS"
    assert 290 <= int(locked.headers["Retry-After"]) <= 300
    assert "try again in" in locked.body["error_message"]
    # no desktop was handed out while locked
    assert all(world.desktop_record(d.id).assigned_user_id is None for d in world.desktops)


def test_an_unknown_user_is_locked_out_the_same_way(world: ClientWorld, client: ClientApi) -> None:
    prepare(world)
    answers = [client.login("ghost", "whatever", expect=401).body for _ in range(5)]
    assert len({str(a) for a in answers}) == 1
    assert client.login("ghost", "whatever", expect=429).headers["Retry-After"]


def test_four_failures_then_success_clear_the_count(world: ClientWorld, client: ClientApi) -> None:
    prepare(world)
    for _ in range(4):
        client.login("alice", "wrong", expect=401)
    client.login("alice")
    assert MarkerRecord.count(failures_key(world.tenant.tenant_id, "alice")) == 0
    for _ in range(4):
        client.login("alice", "wrong", expect=401)
    client.login("alice")


def test_the_lock_is_per_login_and_per_tenant(world: ClientWorld, client: ClientApi) -> None:
    prepare(world)
    world.user("bob")
    for _ in range(5):
        client.login("alice", "wrong", expect=401)
    client.login("alice", expect=429)
    client.login("ALICE ", expect=429)  # the same login, typed differently
    client.login("bob")


def test_the_limits_come_from_the_settings(
    world: ClientWorld, client: ClientApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(world)
    monkeypatch.setenv("BROKER_LOGIN_MAX_FAILURES", "2")
    monkeypatch.setenv("BROKER_LOGIN_LOCKOUT_SECONDS", "1")
    client.login("alice", "wrong", expect=401)
    client.login("alice", "wrong", expect=401)
    assert client.login("alice", expect=429).headers["Retry-After"] == "1"
    time.sleep(1.1)
    client.login("alice")  # the lock ran out


def test_failures_outside_the_window_do_not_add_up(
    world: ClientWorld, client: ClientApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(world)
    monkeypatch.setenv("BROKER_LOGIN_MAX_FAILURES", "2")
    monkeypatch.setenv("BROKER_LOGIN_FAILURE_WINDOW_SECONDS", "1")
    client.login("alice", "wrong", expect=401)
    time.sleep(1.1)
    client.login("alice", "wrong", expect=401)  # a new window: one failure in it
    client.login("alice")


def test_a_locked_login_is_audited(world: ClientWorld, client: ClientApi) -> None:
    from chalicelib.store.repos import AuditStore

    prepare(world)
    for _ in range(6):
        client.login("alice", "wrong", expect=None)
    types = [e.type for e in AuditStore().list(world.tenant.tenant_id, limit=100)]
    assert types.count("client.login_failed") == 5 and "client.login_locked" in types
