"""Servers: create (image boot), find, list, power, failures; verified against Nova itself."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace

import openstack.connection
import pytest

from chalicelib.clouds.openstack import OpenStackCloud
from chalicelib.domain.cloud import CloudConflict, CloudNotFound, PowerAction, PowerState, ServerSpec
from tests.integration.openstack.helpers import OPENSTACK_TEST_MARKS, Leftovers, wait_for_status, wait_until

pytestmark = OPENSTACK_TEST_MARKS


def test_create_boots_from_the_image_with_metadata_zone_groups_and_user_data(
    cloud: OpenStackCloud,
    plain_spec: ServerSpec,
    leftovers: Leftovers,
    admin_sdk: openstack.connection.Connection,
) -> None:
    user_data = "#cloud-config\nhostname: desktop-1\n"
    spec = replace(plain_spec, availability_zone="az1", security_groups=("web",), user_data=user_data)

    created = leftovers.server(cloud.create_server(spec))

    assert (created.status, created.power_state) == ("BUILD", PowerState.BUILDING)  # did not wait
    active = wait_for_status(cloud, created.id, "ACTIVE")
    cirros_id = next(admin_sdk.image.images(name="cirros-fake")).id
    assert active.name == spec.name
    assert active.metadata == spec.metadata
    assert active.availability_zone == "az1"
    assert active.image == cirros_id
    assert active.flavor == "m1.tiny"
    assert active.volume_ids == ()
    assert len(active.fixed_addresses) == 1 and active.fixed_addresses[0].startswith("198.51.100.")
    as_nova_has_it = admin_sdk.compute.get_server(created.id)
    assert base64.b64decode(as_nova_has_it.user_data).decode() == user_data
    assert [group["name"] for group in as_nova_has_it.security_groups] == ["web"]


def test_create_accepts_ids_as_well_as_names(
    cloud: OpenStackCloud,
    plain_spec: ServerSpec,
    leftovers: Leftovers,
    admin_sdk: openstack.connection.Connection,
) -> None:
    spec = replace(
        plain_spec,
        image=next(admin_sdk.image.images(name="cirros-fake")).id,
        flavor=admin_sdk.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        network=admin_sdk.network.find_network("private", ignore_missing=False).id,
    )
    created = leftovers.server(cloud.create_server(spec))
    assert wait_for_status(cloud, created.id, "ACTIVE").flavor == "m1.tiny"


def test_an_unknown_image_name_is_reported_as_not_found(
    cloud: OpenStackCloud, plain_spec: ServerSpec
) -> None:
    with pytest.raises(CloudNotFound, match="image 'no-such-image' not found"):
        cloud.create_server(replace(plain_spec, image="no-such-image"))


def test_a_flavor_too_large_for_any_host_ends_in_error_with_the_fault(
    cloud: OpenStackCloud, plain_spec: ServerSpec, leftovers: Leftovers
) -> None:
    created = leftovers.server(cloud.create_server(replace(plain_spec, flavor="m1.huge")))

    wait_until(lambda: cloud.get_server(created.id).status == "ERROR", "the oversized boot fails")  # type: ignore[union-attr]
    failed = cloud.get_server(created.id)
    assert failed is not None
    assert failed.power_state is PowerState.ERROR
    assert failed.fault is not None and "No valid host was found" in failed.fault


def test_find_servers_matches_the_exact_name_only(
    cloud: OpenStackCloud, unique_name: str, leftovers: Leftovers, plain_spec: ServerSpec
) -> None:
    # Unescaped, "x.1" is a regex matching "x-1"; unanchored, "x-1" matches "x-10" too.
    names = [f"{unique_name}-1", f"{unique_name}-10", f"{unique_name}.1"]
    ids = {name: leftovers.server(cloud.create_server(replace(plain_spec, name=name))).id for name in names}

    assert [server.id for server in cloud.find_servers(f"{unique_name}-1")] == [ids[f"{unique_name}-1"]]
    assert [server.id for server in cloud.find_servers(f"{unique_name}.1")] == [ids[f"{unique_name}.1"]]
    assert cloud.find_servers(f"{unique_name}-1".upper()) == []  # MySQL matches case-insensitively; we do not
    assert cloud.find_servers(unique_name) == []
    assert set(ids.values()) <= {server.id for server in cloud.list_servers()}


def test_power_actions_change_what_nova_reports(
    cloud: OpenStackCloud, plain_spec: ServerSpec, leftovers: Leftovers
) -> None:
    server_id = leftovers.server(cloud.create_server(plain_spec)).id
    wait_for_status(cloud, server_id, "ACTIVE")

    cloud.power(server_id, PowerAction.STOP)
    assert wait_for_status(cloud, server_id, "SHUTOFF").power_state is PowerState.STOPPED
    with pytest.raises(CloudConflict, match="Cannot 'stop' instance"):
        cloud.power(server_id, PowerAction.STOP)
    cloud.power(server_id, PowerAction.START)
    assert wait_for_status(cloud, server_id, "ACTIVE").power_state is PowerState.RUNNING
    cloud.power(server_id, PowerAction.SUSPEND)
    assert wait_for_status(cloud, server_id, "SUSPENDED").power_state is PowerState.SUSPENDED
    cloud.power(server_id, PowerAction.RESUME)
    wait_for_status(cloud, server_id, "ACTIVE")
    cloud.power(server_id, PowerAction.REBOOT)
    wait_for_status(cloud, server_id, "ACTIVE")


def test_delete_removes_the_server_and_a_missing_one_is_fine(
    cloud: OpenStackCloud, plain_spec: ServerSpec, leftovers: Leftovers
) -> None:
    server_id = leftovers.server(cloud.create_server(plain_spec)).id
    wait_for_status(cloud, server_id, "ACTIVE")

    cloud.delete_server(server_id, delete_volumes=False)

    wait_until(lambda: cloud.get_server(server_id) is None, "the server is gone")
    missing = str(uuid.uuid4())
    assert cloud.get_server(missing) is None
    cloud.delete_server(missing, delete_volumes=True)
    cloud.delete_server(server_id, delete_volumes=True)
