"""Boot from a new volume: size, type, and what happens to the volume when the instance goes."""

from __future__ import annotations

from dataclasses import replace

import openstack.connection
import pytest

from chalicelib.clouds.openstack import OpenStackCloud
from chalicelib.domain.cloud import ServerSpec
from tests.integration.openstack.helpers import (
    OPENSTACK_TEST_MARKS,
    Leftovers,
    volume_gone,
    volume_settled,
    wait_for_status,
    wait_until,
)

pytestmark = OPENSTACK_TEST_MARKS


def boot_from_volume(cloud: OpenStackCloud, leftovers: Leftovers, spec: ServerSpec) -> str:
    created = leftovers.server(cloud.create_server(replace(spec, boot_from_volume=True)))
    active = wait_for_status(cloud, created.id, "ACTIVE")
    assert active.image is None  # booted from the volume, not the image
    assert len(active.volume_ids) == 1
    leftovers.volume_ids.extend(active.volume_ids)
    return active.volume_ids[0]


def test_volume_size_defaults_to_the_flavor_disk_and_goes_with_the_instance(
    cloud: OpenStackCloud,
    plain_spec: ServerSpec,
    leftovers: Leftovers,
    admin_sdk: openstack.connection.Connection,
) -> None:
    spec = replace(plain_spec, volume_type="fake", delete_volume_on_termination=True)
    volume_id = boot_from_volume(cloud, leftovers, spec)
    server_id = leftovers.server_ids[-1]

    volume = admin_sdk.block_storage.get_volume(volume_id)
    assert (volume.size, volume.volume_type, volume.is_bootable) == (1, "fake", True)

    cloud.delete_server(server_id, delete_volumes=False)
    wait_until(
        lambda: volume_gone(admin_sdk.block_storage, volume_id),
        "Nova deleted the volume with the instance",
    )


def test_a_kept_volume_outlives_its_instance_unless_delete_volumes_is_asked(
    cloud: OpenStackCloud,
    plain_spec: ServerSpec,
    leftovers: Leftovers,
    admin_sdk: openstack.connection.Connection,
) -> None:
    storage = admin_sdk.block_storage
    kept_spec = replace(plain_spec, delete_volume_on_termination=False)
    kept_volume = boot_from_volume(cloud, leftovers, replace(kept_spec, name=f"{plain_spec.name}-kept"))
    kept_server = leftovers.server_ids[-1]
    removed_volume = boot_from_volume(cloud, leftovers, replace(kept_spec, name=f"{plain_spec.name}-removed"))
    removed_server = leftovers.server_ids[-1]

    cloud.delete_server(kept_server, delete_volumes=False)
    wait_until(lambda: cloud.get_server(kept_server) is None, "the first server is gone")
    wait_until(lambda: volume_settled(storage, kept_volume), "its volume is detached")
    assert storage.get_volume(kept_volume).status == "available"  # kept, as asked

    cloud.delete_server(removed_server, delete_volumes=True)
    assert cloud.get_server(removed_server) is None  # delete_volumes waits for the server to go
    wait_until(
        lambda: volume_gone(storage, removed_volume),
        "the second volume is deleted",
    )


@pytest.mark.parametrize(
    ("flavor", "image", "explicit_size", "expected_size"),
    [
        ("m1.nodisk", "cirros-fake-min2", None, 2),  # flavor disk 0: the image's min_disk
        ("m1.nodisk", "cirros-fake", None, 1),  # neither says: 1 GiB
        ("m1.tiny", "cirros-fake", 3, 3),  # an explicit size wins
    ],
)
def test_volume_size_when_the_flavor_has_no_disk_or_a_size_is_given(
    cloud: OpenStackCloud,
    plain_spec: ServerSpec,
    leftovers: Leftovers,
    admin_sdk: openstack.connection.Connection,
    flavor: str,
    image: str,
    explicit_size: int | None,
    expected_size: int,
) -> None:
    spec = replace(plain_spec, flavor=flavor, image=image, volume_size_gb=explicit_size)
    volume_id = boot_from_volume(cloud, leftovers, spec)
    assert admin_sdk.block_storage.get_volume(volume_id).size == expected_size
