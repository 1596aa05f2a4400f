"""The reference agent drives real session flows against the broker served over HTTP."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chalicelib.services import timers
from chalicelib.store.models import DesktopRecord
from tests.integration.lifecycle.conftest import LifecycleWorld


def test_single_use_desktop_is_deleted_with_its_volume_after_logout_and_the_pool_refilled(
        world: LifecycleWorld) -> None:
    pool_id = world.pool("single", threshold=1, maximum=2)
    plan = world.release_plan("single-use", on_logout={"action": "release"}, on_release={"action": "delete"})
    world.policy(pool_id, plan_release_id=plan)
    world.user("alice")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    instance = str(desktop.instance_id)
    [volume] = [v.id for v in world.cloud.volumes.values() if v.server_id == instance]
    [offered] = world.client_login("alice")
    assert offered["id"] == desktop.id

    agent = world.agent(desktop)
    assert agent.saved()["desktop_id"] == desktop.id
    assert agent.event("login", "alice").last["session"]["state"] == "connected"
    reply = agent.event("logout", "alice").last
    assert reply["session"]["state"] == "logged_out"
    released = world.desktop(desktop.id)
    assert released.assigned_user_id is None and not released.available
    assert released.pending_action == "delete"

    world.provision()
    assert instance not in world.cloud.servers
    assert volume not in world.cloud.volumes
    assert world.desktop(desktop.id).lifecycle == "deleted"
    live = [d for d in world.pool_desktops(pool_id) if d.lifecycle != "deleted"]
    assert len(live) == 1 and live[0].id != desktop.id and live[0].lifecycle == "active"
    types = [e["type"] for e in world.logs(desktop_id=desktop.id, order="asc")]
    for expected in ("agent.registered", "session.login", "session.logout", "desktop.released",
                     "desktop.delete_requested", "desktop.deleted"):
        assert expected in types, types
    # The deleted desktop's agent is refused from now on.
    assert agent("heartbeat", expect=3).code == 3


def test_a_persistent_desktop_stays_assigned_across_logins_and_is_stopped_between_them(
        world: LifecycleWorld) -> None:
    pool_id = world.pool("persistent", threshold=1, maximum=1, deletable=0)
    keep = world.release_plan("persistent", on_logout={"action": "keep"}, on_release={"action": "delete"})
    power = world.power_plan("stop when out", on_logout={"action": "stop", "after_minutes": 0})
    world.policy(pool_id, plan_release_id=keep, plan_power_control_id=power, start_if_stopped=1)
    world.user("alice")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    [first] = world.client_login("alice")
    agent = world.agent(desktop)
    for _ in range(2):
        agent.event("login", "alice")
        agent.event("logout", "alice")
        world.broker.drain()  # the plan's stop, then the start of the next login
        stopped = world.desktop(desktop.id)
        assert stopped.assigned_user_id is not None and stopped.power_state == "stopped"
        [again] = world.client_login("alice")
        assert again["id"] == first["id"] == desktop.id
        world.broker.drain()
        assert world.desktop(desktop.id).power_state == "running"
    assert world.desktop(desktop.id).lifecycle == "active"  # never deleted: kept, and not deletable
    assert len(world.cloud.servers) == 1


def _race(function: Callable[[], int], runs: int = 2) -> list[int]:
    """Run `function` in `runs` threads released at the same moment; their results."""
    barrier = threading.Barrier(runs)
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        value = function()
        with lock:
            results.append(value)

    threads = [threading.Thread(target=one) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_disconnect_and_idle_timers_fire_once_and_reach_the_agent(world: LifecycleWorld) -> None:
    pool_id = world.pool("timers", threshold=1, maximum=1, deletable=0)
    plan = world.release_plan("timers", on_disconnect={"action": "logout", "after_minutes": 5},
                              on_idle={"action": "lock", "after_minutes": 10})
    world.policy(pool_id, plan_release_id=plan)
    world.user("alice")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    world.client_login("alice")
    agent = world.agent(desktop)
    agent.event("login", "alice")

    # Disconnected: in 5 minutes the plan logs the user out, through the agent.
    started = time.time()
    agent.event("disconnect", "alice")
    pending = world.desktop(desktop.id)
    assert DesktopRecord.get(pending.tenant_id, pending.id, consistent_read=True).due_bucket  # by_due
    assert pending.due_at is not None and started + 290 <= pending.due_at <= time.time() + 310
    assert timers.run_due(time.time() + 60) == 0  # not yet
    assert sorted(_race(lambda: timers.run_due(time.time() + 301))) == [0, 1]
    assert timers.run_due(time.time() + 302) == 0
    fired = world.desktop(desktop.id)
    assert (fired.agent_command or {}).get("action") == "logout" and fired.due_at is None
    run = agent("heartbeat", commands="simulate")
    assert [c["action"] for c in run.commands()] == ["logout"]
    after = world.desktop(desktop.id)
    assert after.agent_session.state == "logged_out" and after.agent_command is None
    assert "agent_command" not in after.stored_doc()
    assert after.assigned_user_id is not None  # the plan keeps it assigned at logout
    assert len(world.logs(desktop_id=desktop.id, type="lifecycle.timer_fired")) == 1
    assert len(world.logs(desktop_id=desktop.id, type="agent.command_done")) == 1

    # Idle: in 10 minutes the plan locks the session.
    agent.event("login", "alice")
    agent.event("idle", "alice")
    assert sorted(_race(lambda: timers.run_due(time.time() + 601))) == [0, 1]
    run = agent("heartbeat", commands="simulate")
    assert [c["action"] for c in run.commands()] == ["lock"]
    assert world.desktop(desktop.id).agent_session.state == "locked"
    assert len(world.logs(desktop_id=desktop.id, type="lifecycle.timer_fired")) == 2

    # Back before the timer: nothing fires.
    agent.event("unlock", "alice")
    agent.event("disconnect", "alice")
    assert world.desktop(desktop.id).due_at is not None
    agent.event("reconnect", "alice")
    assert world.desktop(desktop.id).due_at is None
    assert timers.run_due(time.time() + 3600) == 0
    assert world.desktop(desktop.id).agent_session.state == "connected"


SESSIONS_SCRIPT = """
import json, pathlib, sys
here = pathlib.Path(sys.argv[1])
steps = json.loads((here / "steps.json").read_text())
counter = here / "counter"
index = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(index + 1))
print(json.dumps(steps[min(index, len(steps) - 1)]))
"""


def test_the_agent_service_reports_what_it_sees_on_the_desktop(world: LifecycleWorld, tmp_path: Path) -> None:
    pool_id = world.pool("watched", threshold=1, maximum=1, deletable=0)
    world.policy(pool_id)
    world.user("alice")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    world.client_login("alice")
    agent = world.agent(desktop)
    alice = {"id": "c1", "user": "alice", "locked": False, "idle": False, "connected": True}
    away = {**alice, "locked": True, "connected": False}
    steps = [[], [alice], [{**alice, "locked": True}], [away], [], []]
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    script = tmp_path / "sessions.py"
    script.write_text(SESSIONS_SCRIPT)
    agent("run", "--every", "0.05", "--iterations", str(len(steps)),
          "--sessions-command", f"{sys.executable} {script} {tmp_path}")
    seen = [e["type"] for e in world.logs(desktop_id=desktop.id, type="session.*", order="asc")]
    assert seen == ["session.startup", "session.login", "session.lock", "session.disconnect",
                    "session.logout"]
    record = world.desktop(desktop.id)
    assert (record.agent_session.state, record.agent_session.user) == ("logged_out", "alice")
    assert record.agent_started_at


def test_the_reference_agent_keeps_working_across_token_rotations(world: LifecycleWorld) -> None:
    pool_id = world.pool("shared", threshold=1, maximum=1, deletable=0)
    world.policy(pool_id)
    world.user("alice")
    world.user("bob")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    world.client_login("alice")
    agent = world.agent(desktop)
    first = agent.saved()["agent_token"]
    agent.event("login", "alice")

    world.client_release("alice", desktop.id)  # the desktop changes hands: released ...
    run = agent.event("logout", "alice")
    assert run.last["agent_token_rotated"] is True and "agent_token" not in run.last
    second = agent.saved()["agent_token"]
    assert second != first and first not in json.dumps(run.lines) + run.stderr
    assert second not in json.dumps(run.lines) + run.stderr  # never printed (stdout goes to the journal)
    agent("heartbeat")  # the first call with the new token completes the rotation

    [offered] = world.client_login("bob")  # ... and assigned to someone else
    assert offered["id"] == desktop.id
    # The agent's service mode takes the new token at its first call and goes on with it.
    agent("run", "--every", "0.05", "--iterations", "3", "--sessions-command", "echo []")
    third = agent.saved()["agent_token"]
    assert third not in (first, second)
    assert len(world.logs(desktop_id=desktop.id, type="agent.token_rotated")) == 2  # both completed
    assert agent.event("login", "bob").last["session"]["user"] == "bob"
    for stale in (first, second):
        refused = world.api.call("POST", "/agent/v1/events", {"event": "heartbeat"},
                                 headers={"Authorization": f"Bearer {stale}"})
        assert refused.status == 401
    assert agent("heartbeat").code == 0 and agent.saved()["agent_token"] == third
