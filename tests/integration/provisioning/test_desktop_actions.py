"""Admin power actions and deletion, carried out by the worker against the in-memory cloud."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.services import desktop_actions
from chalicelib.store.desktops import DesktopStore, PoolCounters
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()


def ready_pool(broker: Broker, **settings: object) -> tuple[int, list[int]]:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=2, **settings)
    broker.drain(only={"pool.check"})
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    return int(pool.id), [int(d.id) for d in desktops.of_pool(TENANT, int(pool.id))]


def test_stop_and_start_go_through_the_worker(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")
    assert desktops.get(TENANT, desktop_id).doc["pending_action"] == "stop"
    broker.drain(only={"desktop.power"})
    stopped = desktops.get(TENANT, desktop_id)
    assert stopped.power_state == "stopped" and stopped.doc["pending_action"] is None
    assert broker.cloud.servers[stopped.instance_id].status == "SHUTOFF"
    desktop_actions.request_action(ADMIN, desktop_id, "start")
    broker.drain(only={"desktop.power"})
    assert desktops.get(TENANT, desktop_id).power_state == "running"


def test_a_failed_power_action_is_visible_on_the_desktop(broker: Broker) -> None:
    _, (desktop_id, _) = ready_pool(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "resume")  # not suspended: Nova says conflict
    broker.drain(only={"desktop.power"})
    assert desktops.get(TENANT, desktop_id).doc["last_action_error"]


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
    desktop.deletable = True
    desktops.save(desktop)
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
