"""The three releases (the user's, an admin's, a plan's) do the same thing to the desktop and to its user
(docs/design.md, "One release"): holder cleared, the user's `held` set updated in the same write, the
agent's session kept, a pool check queued."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib import clock
from chalicelib.domain import lifecycle as rules
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.sessions import CONNECTED, Session
from chalicelib.services import timers
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import DesktopRecord
from tests.integration.lifecycle.conftest import LifecycleWorld

desktops = DesktopStore()


def _held_by_alice(world: LifecycleWorld) -> Desktop:
    """One desktop in one pool, claimed by alice (the policy allows her one), whose agent reports her
    logged in."""
    pool_id = world.pool("office", threshold=1, maximum=1, deletable=0)
    policy = world.policy(pool_id)
    limited = world.api.call("PUT", f"/rest/v1/policies/{policy}", {"max_desktops": 1}, sid=world.sid)
    assert limited.status == 200
    world.user("alice")
    world.provision()
    [offered] = world.client_login("alice")
    desktop = world.desktop(int(offered["id"]))
    desktop = desktops.save(replace(desktop, session=Session(CONNECTED, "alice", clock.utc_iso()).as_doc()))
    assert _held(world) == {int(desktop.id)}
    world.broker.aws.queued()  # what the login queued
    return world.desktop(int(desktop.id))


def _held(world: LifecycleWorld) -> set[int]:
    user = stores.users.find_by_login(world.tenant.tenant_id, "alice")
    assert user is not None
    return {int(i) for i in user.held or ()}


def _by_admin(world: LifecycleWorld, desktop: Desktop) -> None:
    reply = world.api.call("POST", f"/rest/v1/desktops/{desktop.id}/actions", {"action": "release"},
                           sid=world.sid)
    assert reply.status == 202, reply.body


def _by_user(world: LifecycleWorld, desktop: Desktop) -> None:
    world.client_release("alice", int(desktop.id))


def _by_plan(world: LifecycleWorld, desktop: Desktop) -> None:
    """What a logout (release plan `on_logout: release`) or a disconnect timer does: a release effect."""
    changes = timers.Changes(desktop, clock.time())
    changes.effect(rules.Effect(rules.E_RELEASE, "", "user logged out"), None)
    changes.save()
    changes.announce()


def _check_release(world: LifecycleWorld, release: Callable[[LifecycleWorld, Desktop], None]) -> None:
    desktop = _held_by_alice(world)
    alice = desktop.assigned_user_id
    release(world, desktop)
    after = world.desktop(int(desktop.id))
    assert after.assigned_user_id is None and after.last_user_id == alice
    stored = DesktopRecord.get(world.tenant.tenant_id, after.id, consistent_read=True)
    assert stored.user_key is None and stored.last_user_key == f"{world.tenant.tenant_id}#{alice}"
    assert _held(world) == set()  # the per-user limit counts it free at once, not at the next login
    assert after.agent_session.user == "alice"  # the agent still sees her logged in
    assert after.released_at
    checks = [m for m in world.broker.aws.queued() if m["type"] == "pool.check"]
    assert [m["pool_id"] for m in checks] == [int(desktop.pool_id)]  # the pool refills
    events = [e for e in stores.audit.list(world.tenant.tenant_id, limit=100)
              if e.type in ("desktop.released", "client.release")]
    assert [int(e.desktop_id) for e in events] == [int(desktop.id)]
    [again] = world.client_login("alice")  # within her limit of one: she gets a desktop again
    assert int(again["id"]) == int(desktop.id)


def test_an_admin_release_frees_the_users_place(api_world: LifecycleWorld) -> None:
    _check_release(api_world, _by_admin)


def test_the_users_release_queues_a_pool_check(api_world: LifecycleWorld) -> None:
    _check_release(api_world, _by_user)


def test_a_plans_release_frees_the_users_place(api_world: LifecycleWorld) -> None:
    _check_release(api_world, _by_plan)
