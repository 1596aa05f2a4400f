"""What the pool asks for reaches the cloud, and what it says about new desktops holds (in-memory cloud,
which applies `default` and the `fake` volume type when a create names none, as Nova and Cinder do)."""

from __future__ import annotations

from typing import Any

from chalicelib.services import desktop_actions
from chalicelib.store.desktops import DesktopStore
from tests.fakes.cloud import DEFAULT_SECURITY_GROUP, DEFAULT_VOLUME_TYPE
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()


def ready(broker: Broker, provision: dict[str, Any] | None = None, **center_settings: Any) -> int:
    """A pool of one desktop, built and finished; its desktop's id."""
    _, (desktop_id,) = broker.ready_pool(threshold=1, maximum=1, provision=provision, **center_settings)
    assert desktops.get(TENANT, desktop_id).lifecycle == "active"
    return desktop_id


PERSISTENT_VOLUME = {"create_new_volume": 1, "new_volume_size": 2, "new_volume_type": "ssd",
                     "delete_volume_on_instance_delete": 0}


def test_the_security_groups_and_the_volume_of_the_pool_reach_the_cloud(broker: Broker) -> None:
    desktop = desktops.get(TENANT, ready(broker, security_groups=["web"], **PERSISTENT_VOLUME))
    assert broker.cloud.security_groups[desktop.instance_id] == ("web",) != (DEFAULT_SECURITY_GROUP,)
    [volume] = broker.cloud.volumes.values()
    assert volume.server_id == desktop.instance_id
    assert (volume.volume_type, volume.size_gb) == ("ssd", 2) and volume.volume_type != DEFAULT_VOLUME_TYPE
    assert volume.delete_on_termination is False


def test_a_persistent_volume_outlives_its_deleted_desktop(broker: Broker) -> None:
    desktop_id = ready(broker, provision={"mark_deletable": 1}, **PERSISTENT_VOLUME)
    instance = desktops.get(TENANT, desktop_id).instance_id
    [volume_id] = broker.cloud.volumes
    desktop_actions.request_action(ADMIN, desktop_id, "delete")
    broker.drain(only={"desktop.delete"})
    assert desktops.get(TENANT, desktop_id).lifecycle == "deleted"
    assert instance not in broker.cloud.servers
    assert volume_id in broker.cloud.volumes, "the persistent volume was destroyed with its instance"
    assert broker.cloud.volumes[volume_id].server_id is None


def test_a_volume_deleted_with_its_instance_goes(broker: Broker) -> None:
    desktop_id = ready(broker, provision={"mark_deletable": 1}, create_new_volume=1,
                       delete_volume_on_instance_delete=1)
    [volume] = broker.cloud.volumes.values()
    assert volume.delete_on_termination is True
    desktop_actions.request_action(ADMIN, desktop_id, "delete")
    broker.drain(only={"desktop.delete"})
    assert not broker.cloud.volumes


def test_initialise_as_unavailable_keeps_new_desktops_out_of_the_offer(broker: Broker) -> None:
    hidden = desktops.get(TENANT, ready(broker, provision={"mark_unavailable": 1}))
    assert hidden.lifecycle == "active" and hidden.power_state == "running"
    assert hidden.available is False


def test_new_desktops_are_available_unless_the_pool_says_otherwise(broker: Broker) -> None:
    shown = desktops.get(TENANT, ready(broker, provision={"mark_unavailable": 0}))
    assert shown.available is True
