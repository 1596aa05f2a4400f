"""`/agent/v1` in-process: who may register, what an agent token opens, what an event costs."""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import time
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.clock import epoch_of
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.errors import Unauthorized
from chalicelib.schemas.agent import AgentEvent, AgentRegister
from chalicelib.services import agents, pool_stats
from chalicelib.settings import get_settings, reset_settings
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.metrics import count_requests
from tests.fixtures.settings import set_setting
from tests.integration.api.conftest import Reply
from tests.integration.lifecycle.conftest import LifecycleWorld, make_tenant

desktops = DesktopStore()
READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


def ready(world: LifecycleWorld, **assignment: Any) -> Desktop:
    pool_id = world.pool("office", threshold=1, maximum=1, deletable=0)
    world.policy(pool_id, **assignment)
    world.user("alice")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    world.client_login("alice")
    return world.desktop(int(desktop.id))


def registration_token(world: LifecycleWorld, desktop: Desktop) -> str:
    return json.loads(world.registration_file(desktop).read_text())["registration_token"]


def register(world: LifecycleWorld, desktop: Desktop, token: str, instance: str | None = None) -> Reply:
    return world.api.call("POST", "/agent/v1/register",
                          {"instance_uuid": instance or desktop.instance_id, "registration_token": token,
                           "hostname": "desk", "agent_version": "test"})


def event(world: LifecycleWorld, token: str | None, body: dict[str, Any]) -> Reply:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return world.api.call("POST", "/agent/v1/events", body, headers=headers)


def test_registration_needs_the_desktops_own_unused_token(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    token = registration_token(world, desktop)
    assert desktop.registration_hash and token not in json.dumps(desktop.stored_doc())
    forged = f"{world.tenant.tenant_id}.{desktop.id}.{secrets.token_urlsafe(32)}"
    for bad in (register(world, desktop, forged), register(world, desktop, "not-a-token"),
                register(world, desktop, token, instance="00000000-0000-4000-8000-999999999999")):
        assert bad.status == 401 and bad.body["error_status"] == "UNAUTHORIZED", bad.body
    good = register(world, desktop, token)
    assert good.status == 201 and good.headers.get("Cache-Control") == "no-store"
    assert good.body["desktop_id"] == desktop.id and good.body["agent_token"].startswith(
        f"{world.tenant.tenant_id}.{desktop.id}.")
    reused = register(world, desktop, token)
    assert reused.status == 401
    record = world.desktop(int(desktop.id))
    assert record.registration_hash is None and (record.agent or {}).get("hostname") == "desk"
    assert good.body["agent_token"] not in json.dumps(record.stored_doc())
    assert len(world.logs(type="agent.register_refused")) == 3  # the garbage token names no desktop
    assert len(world.logs(type="agent.registered")) == 1


def test_a_flood_of_forged_registrations_cannot_fill_the_audit_log(
        api_world: LifecycleWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Desktop ids are guessable; a forged registration token naming one is audited within the tenant's
    budget of unauthenticated events, then counted only."""
    world = api_world
    desktop = ready(world)
    set_setting(monkeypatch, "audit_unauthenticated_per_minute", 4)
    with clock.controlled():
        for _ in range(10):
            forged = f"{world.tenant.tenant_id}.{desktop.id}.{secrets.token_urlsafe(32)}"
            assert register(world, desktop, forged).status == 401
        assert len(world.logs(type="agent.register_refused")) == 4
        assert len(world.logs(type="audit.suppressed")) == 1


def test_one_token_registers_once_even_when_two_agents_race(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    body = AgentRegister(instance_uuid=str(desktop.instance_id),
                         registration_token=registration_token(world, desktop))
    outcomes: list[str] = []
    barrier = threading.Barrier(3)

    def attempt() -> None:
        barrier.wait()
        try:
            agents.register(body)
            outcomes.append("registered")
        except Unauthorized:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "refused", "registered"]


def test_events_need_the_agent_token_and_valid_bodies(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    token = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    assert event(world, None, {"event": "heartbeat"}).status == 401
    forged = f"{world.tenant.tenant_id}.{desktop.id}.{'x' * 43}"
    assert event(world, forged, {"event": "heartbeat"}).status == 401
    bad = event(world, token, {"event": "explode"})
    assert bad.status == 400 and bad.body["errors"][0]["path"] == "/body/event"
    late = event(world, token, {"event": "login", "user": "alice", "time": "yesterday"})
    assert late.status == 400 and late.body["errors"][0]["path"] == "/body/time"
    ok = event(world, token, {"event": "login", "user": "alice", "time": time.time() - 5})
    assert ok.status == 200 and ok.body == {"accepted": True, "heartbeat_seconds": 30,
                                            "session": {**ok.body["session"], "state": "connected"}}
    stale = event(world, token, {"event": "logout", "user": "alice", "time": time.time() - 60})
    assert stale.status == 200 and stale.body["accepted"] is False
    assert stale.body["session"]["state"] == "connected"
    again = event(world, token, {"event": "login", "user": "alice", "time": ok.body["session"]["since"]})
    assert again.body["accepted"] is False
    shown = world.api.call("GET", f"/rest/v1/desktops/{desktop.id}", sid=world.sid).body
    assert shown["agent_running"] == 1 and shown["session"]["user"] == "alice"


def test_an_admin_issues_a_new_registration_and_the_old_agent_token_stops(api_world: LifecycleWorld,
                                                                          system_sid: str) -> None:
    world = api_world
    desktop = ready(world)
    old = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    issued = world.api.call("POST", f"/rest/v1/desktops/{desktop.id}/agent-registration", sid=world.sid)
    assert issued.status == 201 and issued.body["instance_id"] == desktop.instance_id
    assert event(world, old, {"event": "heartbeat"}).status == 401
    fresh = register(world, desktop, issued.body["registration_token"])
    assert fresh.status == 201
    assert event(world, fresh.body["agent_token"], {"event": "heartbeat"}).status == 200
    other = make_tenant(world.api, system_sid, "globex")
    foreign = world.api.call("POST", f"/rest/v1/desktops/{desktop.id}/agent-registration", sid=other.sid)
    assert foreign.status == 404


def test_an_event_costs_at_most_two_reads(api_world: LifecycleWorld) -> None:
    world = api_world
    plan = world.release_plan("timers", on_disconnect={"action": "logout", "after_minutes": 5})
    power = world.power_plan("power", on_disconnect={"action": "suspend", "after_minutes": 60})
    desktop = ready(world, plan_release_id=plan, plan_power_control_id=power)
    token = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    event(world, token, {"event": "login", "user": "alice"})  # records the desktop's assignment
    assignment = world.desktop(int(desktop.id)).assignment
    assert assignment is not None and assignment["plan_release_id"] == plan
    for body in ({"event": "heartbeat"}, {"event": "disconnect", "user": "alice"},
                 {"event": "reconnect", "user": "alice"}, {"event": "disconnect", "user": "alice"}):
        time.sleep(0.01)
        with count_requests() as counted:
            reply = event(world, token, body)
        assert reply.status == 200, reply.body
        reads = {op: n for op, n in counted.by_operation.items() if op in READS}
        assert sum(reads.values()) <= 2, counted.calls
        writes = counted.by_operation.get("PutItem", 0) + counted.by_operation.get("UpdateItem", 0)
        assert counted.by_operation.get("GetItem") == 1 and writes >= 0
    timers = world.desktop(int(desktop.id)).timers
    assert {t["kind"] for t in timers} == {"disconnect", "power_disconnect"}


def test_a_deleted_desktops_agent_is_refused(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    token = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    desktops.save(dataclasses.replace(world.desktop(int(desktop.id)), lifecycle=DesktopLifecycle.DELETED))
    assert event(world, token, {"event": "heartbeat"}).status == 401


def test_the_agent_window_is_a_setting(api_world: LifecycleWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world = api_world
    desktop = ready(world)
    token = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    event(world, token, {"event": "heartbeat"})
    record = world.desktop(int(desktop.id))
    assert pool_stats.view_of(record, time.time() + 170).agent_running
    monkeypatch.setenv("BROKER_AGENT_WINDOW_SECONDS", "60")
    reset_settings()
    try:
        assert not pool_stats.view_of(record, time.time() + 70).agent_running
        assert pool_stats.view_of(record, time.time() + 30).agent_running
    finally:
        monkeypatch.delenv("BROKER_AGENT_WINDOW_SECONDS")
        reset_settings()


# ----------------------------------------------------------------------------- token lifetimes


def test_a_registration_token_expires_hours_after_it_was_issued(api_world: LifecycleWorld,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    world = api_world
    before = time.time()
    desktop = ready(world)
    expires_at = float(desktop.registration_expires_at or 0)
    assert before + 4 * 3600 <= expires_at <= time.time() + 4 * 3600  # issued with the record
    body = AgentRegister(instance_uuid=str(desktop.instance_id),
                         registration_token=registration_token(world, desktop), hostname="desk")
    with pytest.raises(Unauthorized):
        agents.register(body, now=expires_at)  # the clock of the call, not a sleep
    still = world.desktop(int(desktop.id))
    assert still.registration_hash == desktop.registration_hash is not None
    assert still.agent_tokens is None
    [refused] = world.logs(type="agent.register_refused")
    assert "expired" in refused["message"]
    assert agents.register(body, now=expires_at - 1)["desktop_id"] == desktop.id

    # The lifetime is a setting; an administrator's new registration counts from its issue.
    shorter = dataclasses.replace(get_settings(), agent_registration_seconds=600)
    monkeypatch.setattr(agents, "get_settings", lambda: shorter)
    issued_at = time.time()
    issued = world.api.call("POST", f"/rest/v1/desktops/{desktop.id}/agent-registration", sid=world.sid)
    assert issued.status == 201
    again = AgentRegister(instance_uuid=str(desktop.instance_id),
                          registration_token=issued.body["registration_token"])
    expires_at = float(world.desktop(int(desktop.id)).registration_expires_at or 0)
    assert issued_at + 600 <= expires_at <= time.time() + 600
    with pytest.raises(Unauthorized):
        agents.register(again, now=expires_at + 1)
    assert agents.register(again, now=expires_at - 1)["desktop_id"] == desktop.id


def test_the_registration_lifetime_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_AGENT_REGISTRATION_SECONDS", "600")
    reset_settings()
    try:
        assert get_settings().agent_registration_seconds == 600
    finally:
        monkeypatch.delenv("BROKER_AGENT_REGISTRATION_SECONDS")
        reset_settings()
    assert get_settings().agent_registration_seconds == 4 * 3600


def test_a_registration_token_from_before_expiry_counts_from_the_record(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    record = desktops.save(dataclasses.replace(world.desktop(int(desktop.id)), registration_expires_at=None))
    body = AgentRegister(instance_uuid=str(desktop.instance_id),
                         registration_token=registration_token(world, desktop))
    created = epoch_of(record.created)
    assert created is not None
    with pytest.raises(Unauthorized):
        agents.register(body, now=created + 4 * 3600 + 1)
    assert agents.register(body, now=created + 4 * 3600 - 60)["desktop_id"] == desktop.id


def test_release_rotates_the_agent_token_and_the_old_one_stops(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    old = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    quiet = event(world, old, {"event": "heartbeat"})
    assert quiet.status == 200 and "agent_token" not in quiet.body  # same assignment: same token

    world.client_release("alice", int(desktop.id))
    offered = event(world, old, {"event": "heartbeat"})
    assert offered.status == 200 and offered.headers.get("Cache-Control") == "no-store"
    new = offered.body["agent_token"]
    assert new != old and new.startswith(f"{world.tenant.tenant_id}.{desktop.id}.")
    assert new not in json.dumps(world.desktop(int(desktop.id)).stored_doc())  # hashes only
    # The reply was lost: the old token still works and the same new token is offered again.
    assert event(world, old, {"event": "heartbeat"}).body["agent_token"] == new
    used = event(world, new, {"event": "heartbeat"})
    assert used.status == 200 and "agent_token" not in used.body
    assert event(world, old, {"event": "heartbeat"}).status == 401
    assert event(world, old, {"event": "login", "user": "mallory"}).status == 401
    assert event(world, new, {"event": "heartbeat"}).status == 200
    assert len(world.logs(type="agent.token_rotated")) == 1
    assert len(world.logs(type="agent.retired_token_used")) == 1  # once, however often the copy is tried


def test_reassignment_rotates_again_and_every_earlier_token_stops(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    world.user("bob")
    first = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    world.client_release("alice", int(desktop.id))
    second = event(world, first, {"event": "heartbeat"}).body["agent_token"]
    assert event(world, second, {"event": "heartbeat"}).status == 200  # the rotation is complete
    [offered] = world.client_login("bob")
    assert offered["id"] == desktop.id and world.desktop(int(desktop.id)).assigned_user_id is not None
    third = event(world, second, {"event": "login", "user": "bob"})
    assert third.status == 200 and third.body["session"]["user"] == "bob"  # the event itself is applied
    assert third.body["agent_token"] not in (first, second)
    assert event(world, third.body["agent_token"], {"event": "heartbeat"}).status == 200
    for stale in (first, second):
        assert event(world, stale, {"event": "heartbeat"}).status == 401


def test_two_calls_racing_at_a_rotation_get_the_same_new_token(api_world: LifecycleWorld) -> None:
    world = api_world
    desktop = ready(world)
    old = register(world, desktop, registration_token(world, desktop)).body["agent_token"]
    world.client_release("alice", int(desktop.id))
    caller = agents.authenticate(f"Bearer {old}")
    offered: list[str | None] = []
    barrier = threading.Barrier(3)

    def call() -> None:
        barrier.wait()
        fresh = agents.authenticate(f"Bearer {old}")
        offered.append(agents.report_event(fresh, AgentEvent(event="heartbeat"))["agent_token"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(offered) == 3 and len(set(offered)) == 1 and offered[0] not in (None, old)
    assert agents.report_event(caller, AgentEvent(event="heartbeat"))["agent_token"] == offered[0]
