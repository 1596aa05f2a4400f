"""Admin power actions and deletion, carried out by the worker against the in-memory cloud."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Conflict
from chalicelib.services import desktop_actions, releases
from chalicelib.store import stores
from chalicelib.store.claims import DesktopClaims
from chalicelib.store.desktops import DesktopStore, PoolCounters
from chalicelib.store.repos import AuditStore
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()


def ready_pool(broker: Broker, **settings: object) -> tuple[int, list[int]]:
    return broker.ready_pool(threshold=2, maximum=2, **settings)


def test_stop_and_start_go_through_the_worker(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")
    assert desktops.get(TENANT, desktop_id).pending_action == "stop"
    broker.drain(only={"desktop.power"})
    stopped = desktops.get(TENANT, desktop_id)
    assert stopped.power_state == "stopped" and stopped.pending_action is None
    assert broker.cloud.servers[stopped.instance_id].status == "SHUTOFF"
    desktop_actions.request_action(ADMIN, desktop_id, "start")
    broker.drain(only={"desktop.power"})
    assert desktops.get(TENANT, desktop_id).power_state == "running"


def test_a_failed_power_action_is_visible_on_the_desktop(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "resume")  # not suspended: Nova says conflict
    broker.drain(only={"desktop.power"})
    assert desktops.get(TENANT, desktop_id).last_action_error


def test_a_desktop_that_is_not_deletable_is_never_deleted(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    with pytest.raises(Conflict):
        desktop_actions.request_action(ADMIN, desktop_id, "delete")
    desktop_actions.handle_delete({"tenant_id": TENANT, "desktop_id": desktop_id})  # forged message
    assert desktops.get(TENANT, desktop_id).lifecycle == "active"
    assert len(broker.cloud.servers) == 2


def test_deleting_a_deletable_desktop_removes_instance_and_volume_and_refills(broker: Broker) -> None:
    pool_id, (desktop_id, _) = ready_pool(broker, create_new_volume=1, delete_volume_on_instance_delete=1)
    desktop = desktops.get(TENANT, desktop_id)
    desktop = desktops.save(replace(desktop, deletable=True))
    instance = desktop.instance_id
    assert any(v.server_id == instance for v in broker.cloud.volumes.values())
    desktop_actions.request_action(ADMIN, desktop_id, "delete")
    handled = broker.drain(only={"desktop.delete", "pool.check"})
    assert [m["type"] for m in handled][:2] == ["desktop.delete", "pool.check"]
    assert instance not in broker.cloud.servers
    assert not any(v.server_id == instance for v in broker.cloud.volumes.values())
    assert desktops.get(TENANT, desktop_id).lifecycle == "deleted"
    assert PoolCounters().total(TENANT, pool_id) == 2  # the check made a replacement
    assert len(broker.cloud.servers) == 2


# --- an action asked for before a claim (docs/lifecycle.md, "Actions queued before a claim")

claims = DesktopClaims()


def user_42() -> User:
    """The end user who claims the desktops below (created once per test)."""
    user = stores.users.find_by_login(TENANT, "user42")
    if user is None:
        stores.users.create(User(tenant_id=TENANT, login="user42", name="User 42", is_local=1, role="User"))
        user = stores.users.find_by_login(TENANT, "user42")
    assert user is not None
    return user


def claim(desktop_id: int, at: float | None = None) -> int:
    """Claim the desktop for user 42 as a login does (at the given time); the user's id."""
    user = user_42()
    with clock.controlled(at if at is not None else clock.time()):
        assert claims.claim(user, desktop_id)
    return int(user.id)


def audited(event_type: str) -> list[Any]:
    return [e for e in AuditStore().list(TENANT, limit=1000) if e.type == event_type]


@pytest.mark.parametrize("action", ["stop", "suspend", "reboot", "delete"])
def test_an_action_asked_for_before_a_claim_is_refused_once_the_desktop_is_claimed(
    broker: Broker, action: str
) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    desktop = desktops.get(TENANT, desktop_id)
    desktop = desktops.save(replace(desktop, deletable=True))
    desktop_actions.request_action(ADMIN, desktop_id, action)  # queued while the desktop is free
    user_id = claim(desktop_id)  # a login claims it before the worker runs
    calls = dict(broker.cloud.calls)

    broker.drain(only={"desktop.power", "desktop.delete"})

    assert dict(broker.cloud.calls) == calls, "the cloud was asked to act on the new user's desktop"
    untouched = desktops.get(TENANT, desktop_id)
    assert untouched.lifecycle == "active" and untouched.power_state == "running"
    assert untouched.assigned_user_id == user_id
    assert broker.cloud.servers[untouched.instance_id].status == "ACTIVE"
    assert untouched.pending_action is None and "Refused" in untouched.last_action_error
    [refusal] = audited("desktop.action_refused")
    assert refusal.desktop_id == desktop_id and refusal.details["action"] == action
    assert refusal.details["holder_now"]["user_id"] == user_id
    assert refusal.details["holder_asked"]["user_id"] is None


def test_an_action_asked_for_the_user_who_still_holds_the_desktop_is_carried_out(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    user_id = claim(desktop_id)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")  # the admin stops user 42's desktop
    broker.drain(only={"desktop.power"})
    stopped = desktops.get(TENANT, desktop_id)
    assert stopped.power_state == "stopped" and stopped.assigned_user_id == user_id
    assert not audited("desktop.action_refused")


def test_the_same_user_claiming_again_since_is_a_new_holding(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    claim(desktop_id, at=1_000)
    desktop_actions.request_action(ADMIN, desktop_id, "reboot")
    assert releases.release_held(user_42(), desktop_id) is not None
    claim(desktop_id, at=2_000)  # a new session of the same user
    broker.drain(only={"desktop.power"})
    assert broker.cloud.calls["power"] == 0
    assert len(audited("desktop.action_refused")) == 1


def test_a_start_asked_for_before_a_claim_is_still_carried_out(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")
    broker.drain(only={"desktop.power"})
    desktop_actions.request_action(ADMIN, desktop_id, "start")
    claim(desktop_id)  # a stopped desktop is offered, then started
    broker.drain(only={"desktop.power"})
    assert desktops.get(TENANT, desktop_id).power_state == "running"
    assert not audited("desktop.action_refused")
