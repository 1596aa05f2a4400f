"""A plan's power action queued for a desktop nobody held is refused by the worker once a user has
claimed the desktop meanwhile (docs/lifecycle.md, "Actions queued before a claim")."""

from __future__ import annotations

from tests.integration.lifecycle.conftest import LifecycleWorld


def test_a_release_plan_stop_queued_before_the_next_claim_leaves_the_new_user_running(
        world: LifecycleWorld) -> None:
    pool_id = world.pool("shared", threshold=1, maximum=1, deletable=0)
    plan = world.release_plan("stop on release", on_logout={"action": "release"},
                              on_release={"action": "stop", "after_minutes": 0})
    world.policy(pool_id, plan_release_id=plan)
    world.user("alice")
    world.user("bob")
    world.provision()
    [desktop] = world.pool_desktops(pool_id)
    [offered] = world.client_login("alice")
    agent = world.agent(desktop)
    agent.event("login", "alice")
    agent.event("logout", "alice")  # released; the plan queues its stop (nobody holds the desktop)
    released = world.desktop(desktop.id)
    assert released.assigned_user_id is None and released.pending_action == "stop"

    [for_bob] = world.client_login("bob")  # bob claims it before the worker carries the stop out
    assert for_bob["id"] == offered["id"] == desktop.id
    world.broker.drain()

    held = world.desktop(desktop.id)
    assert held.assigned_user_id is not None and held.power_state == "running"
    assert world.cloud.servers[str(held.instance_id)].status == "ACTIVE"
    assert world.cloud.calls["power"] == 0
    types = [e["type"] for e in world.logs(desktop_id=desktop.id, order="asc")]
    assert "desktop.action_refused" in types and "desktop.power" not in types, types
