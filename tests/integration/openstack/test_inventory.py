"""inventory(): what the Edit Pool form offers, read from the real services."""

from __future__ import annotations

import openstack.connection
import pytest

from chalicelib.clouds.openstack import OpenStackCloud, open_cloud
from chalicelib.domain.cloud import CenterType, Flavor
from tests.fixtures.openstack import RealOpenStack
from tests.integration.openstack.helpers import OPENSTACK_TEST_MARKS

pytestmark = OPENSTACK_TEST_MARKS


def test_inventory_lists_the_seeded_cloud(cloud: OpenStackCloud) -> None:
    inventory = cloud.inventory()

    assert {"cirros-fake", "cirros-fake-min2"} <= {image.name for image in inventory.images}
    flavors = {flavor.name: flavor for flavor in inventory.flavors}
    assert flavors["m1.tiny"] == Flavor(flavors["m1.tiny"].id, "m1.tiny", vcpus=1, ram_mb=512, disk_gb=1)
    assert flavors["m1.nodisk"].disk_gb == 0
    networks = {network.name: network.external for network in inventory.networks}
    assert networks["public"] is True
    assert networks["private"] is False
    assert "az1" in inventory.availability_zones
    assert {"default", "web"} <= {group.name for group in inventory.security_groups}
    assert "fake" in {kind.name for kind in inventory.volume_types}


@pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK60Warning")  # create_image's own find
def test_inventory_offers_only_active_images(
    cloud: OpenStackCloud, demo_sdk: openstack.connection.Connection, unique_name: str
) -> None:
    # An image record without data stays `queued`: it must not be offered for provisioning.
    queued = demo_sdk.image.create_image(name=unique_name, disk_format="raw", container_format="bare")
    try:
        assert demo_sdk.image.get_image(queued.id).status == "queued"
        assert unique_name not in {image.name for image in cloud.inventory().images}
    finally:
        demo_sdk.image.delete_image(queued.id, ignore_missing=True)


def test_inventory_shows_security_groups_of_the_project_only(
    cloud: OpenStackCloud, admin_sdk: openstack.connection.Connection
) -> None:
    demo_project_id = admin_sdk.identity.find_project("demo", ignore_missing=False).id
    expected = {group.id for group in admin_sdk.network.security_groups(project_id=demo_project_id)}
    assert {group.id for group in cloud.inventory().security_groups} == expected


def test_a_vhi_center_uses_the_same_adapter_and_reads_volume_types_from_cinder(
    real_openstack: RealOpenStack, admin_sdk: openstack.connection.Connection
) -> None:
    vhi = open_cloud(real_openstack.access_for(CenterType.VIRTUOZZO))
    cinder_types = {kind.name for kind in admin_sdk.block_storage.types()}
    assert {kind.name for kind in vhi.inventory().volume_types} == cinder_types
