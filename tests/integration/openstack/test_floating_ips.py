"""associate_floating_ip(): reuse a free address of the project, else allocate one (own project)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.clouds.openstack import open_cloud
from chalicelib.domain.cloud import CloudConflict, ServerSpec
from tests.integration.openstack.helpers import (
    OPENSTACK_TEST_MARKS,
    IsolatedProject,
    sdk_connection,
    wait_for_status,
)

pytestmark = OPENSTACK_TEST_MARKS


def test_allocates_a_floating_ip_when_the_project_has_none_free(
    isolated_project: IsolatedProject, plain_spec: ServerSpec
) -> None:
    cloud = open_cloud(isolated_project.access)
    project_sdk = sdk_connection(isolated_project.access)
    server_id = cloud.create_server(plain_spec).id
    wait_for_status(cloud, server_id, "ACTIVE")
    assert list(project_sdk.network.ips()) == []

    address = cloud.associate_floating_ip(server_id)

    floating_ips = list(project_sdk.network.ips())
    assert [ip.floating_ip_address for ip in floating_ips] == [address]
    server_port = next(project_sdk.network.ports(device_id=server_id))
    assert floating_ips[0].port_id == server_port.id
    assert address.startswith("203.0.113.")
    # Asking again is harmless: same address, nothing new allocated.
    assert cloud.associate_floating_ip(server_id) == address
    assert len(list(project_sdk.network.ips())) == 1


def test_reuses_a_free_floating_ip_of_the_project(
    isolated_project: IsolatedProject, plain_spec: ServerSpec
) -> None:
    cloud = open_cloud(isolated_project.access)
    project_sdk = sdk_connection(isolated_project.access)
    public = project_sdk.network.find_network("public", ignore_missing=False)
    free = project_sdk.network.create_ip(floating_network_id=public.id)
    server_id = cloud.create_server(plain_spec).id
    wait_for_status(cloud, server_id, "ACTIVE")

    address = cloud.associate_floating_ip(server_id)

    assert address == free.floating_ip_address
    assert [ip.id for ip in project_sdk.network.ips()] == [free.id]
    assert (
        project_sdk.network.get_ip(free.id).port_id == next(project_sdk.network.ports(device_id=server_id)).id
    )


def test_a_server_in_error_gets_no_floating_ip(
    isolated_project: IsolatedProject, plain_spec: ServerSpec
) -> None:
    cloud = open_cloud(isolated_project.access)
    server_id = cloud.create_server(replace(plain_spec, flavor="m1.huge")).id
    wait_for_status(cloud, server_id, "ERROR")
    with pytest.raises(CloudConflict, match="is ERROR"):
        cloud.associate_floating_ip(server_id)
    assert list(sdk_connection(isolated_project.access).network.ips()) == []
