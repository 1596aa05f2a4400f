"""One contract, two clouds: every test runs against InMemoryCloud (tests/fakes/cloud.py) and against the
real OpenStackCloud on the local OpenStack (a scratch project per test), so the fake the reliability tests
rest on behaves as the real cloud does for what the broker uses. Where they disagreed, the fake was fixed
(docs/clouds.md, "The contract suite")."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest

from chalicelib.domain.cloud import (
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudPort,
    CloudQuotaExceeded,
    PowerAction,
    PowerState,
    ServerInfo,
    ServerSpec,
)
from tests.fakes.cloud import InMemoryCloud

SETTLE_SECONDS = 120.0
MISSING_ID = "00000000-0000-4000-8000-000000000999"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class CloudUnderTest:
    """A cloud in a fresh project, and the backend-specific ways to wait for it and look behind it."""

    cloud: CloudPort
    settle: Callable[[str, str], ServerInfo]  # (server id, Nova status) -> the server once it shows it
    gone: Callable[[str], None]
    security_groups_of: Callable[[str], tuple[str, ...]]
    volume_of: Callable[[str], tuple[int, str] | None]  # (size GB, type) or None once deleted
    with_instance_quota: Callable[[int], AbstractContextManager[CloudPort]]

    def spec(self, name: str = "desk", **overrides: Any) -> ServerSpec:
        base = ServerSpec(name=f"{name}-{uuid.uuid4().hex[:6]}", metadata={"broker_desktop_id": name},
                          image="cirros-fake", flavor="m1.tiny", network="private")
        return replace(base, **overrides)


def _memory() -> Iterator[CloudUnderTest]:
    cloud = InMemoryCloud()

    def settle(server_id: str, status: str) -> ServerInfo:
        if status == "ACTIVE":
            cloud.advance_builds(server_id)
        server = cloud.get_server(server_id)
        assert server is not None and server.status == status, server
        return server

    def gone(server_id: str) -> None:
        assert cloud.get_server(server_id) is None

    def volume_of(volume_id: str) -> tuple[int, str] | None:
        volume = cloud.volumes.get(volume_id)
        return None if volume is None else (volume.size_gb, volume.volume_type or "")

    @contextmanager
    def with_instance_quota(instances: int) -> Iterator[CloudPort]:
        yield InMemoryCloud(max_instances=instances)

    yield CloudUnderTest(cloud, settle, gone, lambda server_id: cloud.security_groups[server_id], volume_of,
                         with_instance_quota)


def _until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"timed out waiting until {what}")


def _openstack(request: pytest.FixtureRequest) -> Iterator[CloudUnderTest]:
    import openstack.exceptions

    from chalicelib.clouds.openstack import open_cloud
    from localdev.openstack import sdk

    request.getfixturevalue("real_openstack")
    admin = sdk.admin()

    def or_none(fetch: Callable[[], Any]) -> Any:
        try:
            return fetch()
        except openstack.exceptions.NotFoundException:
            return None

    with sdk.scratch_project("contract", instances=20, cores=400, ram=2 * 1024 * 1024,
                             security_groups=("web",)) as project:
        cloud = open_cloud(project.access)

        def settle(server_id: str, status: str) -> ServerInfo:
            def shows() -> ServerInfo | None:
                server = cloud.get_server(server_id)
                assert server is not None, f"{server_id} vanished"
                assert server.status != "ERROR" or status == "ERROR", server.fault
                return server if server.status == status else None

            return _until(shows, f"{server_id} is {status}")  # type: ignore[no-any-return]

        def gone(server_id: str) -> None:
            _until(lambda: cloud.get_server(server_id) is None, f"{server_id} is gone")

        def security_groups_of(server_id: str) -> tuple[str, ...]:
            return tuple(group["name"] for group in admin.compute.get_server(server_id).security_groups or [])

        def volume_of(volume_id: str) -> tuple[int, str] | None:
            volume = or_none(lambda: admin.block_storage.get_volume(volume_id))
            if volume is None or volume.status in ("deleting", "deleted"):
                return None
            return (volume.size, volume.volume_type)

        @contextmanager
        def with_instance_quota(instances: int) -> Iterator[CloudPort]:
            with sdk.scratch_project("contract-quota", instances=instances) as limited:
                yield open_cloud(limited.access)

        yield CloudUnderTest(cloud, settle, gone, security_groups_of, volume_of, with_instance_quota)


@pytest.fixture(params=["memory", pytest.param("openstack", marks=pytest.mark.openstack)])
def under_test(request: pytest.FixtureRequest) -> Iterator[CloudUnderTest]:
    yield from (_memory() if request.param == "memory" else _openstack(request))


def test_check_passes_and_inventory_offers_what_the_specs_name(under_test: CloudUnderTest) -> None:
    under_test.cloud.check()
    inventory = under_test.cloud.inventory()
    assert "cirros-fake" in [image.name for image in inventory.images]
    assert "m1.tiny" in [flavor.name for flavor in inventory.flavors]
    assert {network.name: network.external for network in inventory.networks}.items() >= {
        ("private", False), ("public", True)}
    assert {"default", "web"} <= {group.name for group in inventory.security_groups}
    assert "fake" in [kind.name for kind in inventory.volume_types]
    assert inventory.availability_zones


def test_create_returns_at_once_and_the_server_carries_metadata_zone_and_groups(
    under_test: CloudUnderTest,
) -> None:
    cloud = under_test.cloud
    zone = cloud.inventory().availability_zones[0]
    image_id = next(image.id for image in cloud.inventory().images if image.name == "cirros-fake")
    spec = under_test.spec(availability_zone=zone, security_groups=("web",))

    created = cloud.create_server(spec)

    assert (created.status, created.power_state) == ("BUILD", PowerState.BUILDING)
    assert (created.name, created.metadata, created.flavor, created.image) == (
        spec.name, spec.metadata, "m1.tiny", image_id)
    assert (created.availability_zone, created.fixed_addresses, created.volume_ids) == (zone, (), ())
    active = under_test.settle(created.id, "ACTIVE")
    assert (active.name, active.metadata, active.availability_zone) == (spec.name, spec.metadata, zone)
    assert (active.power_state, active.flavor, active.image, active.volume_ids) == (
        PowerState.RUNNING, "m1.tiny", image_id, ())
    assert len(active.fixed_addresses) == 1 and active.floating_addresses == ()
    assert under_test.security_groups_of(created.id) == ("web",)


def test_a_server_without_zone_or_groups_gets_the_clouds_defaults(under_test: CloudUnderTest) -> None:
    cloud = under_test.cloud
    created = cloud.create_server(under_test.spec())
    active = under_test.settle(created.id, "ACTIVE")
    assert active.availability_zone in cloud.inventory().availability_zones
    assert under_test.security_groups_of(created.id) == ("default",)


def test_list_and_find_see_the_projects_servers_by_exact_name(under_test: CloudUnderTest) -> None:
    cloud = under_test.cloud
    assert cloud.list_servers() == []
    stem = f"desk-{uuid.uuid4().hex[:6]}"
    names = [stem, f"{stem}0", stem.upper()]  # Nova's name filter is a regex; MySQL ignores case
    specs = [replace(under_test.spec(), name=name, metadata={"broker_desktop_id": name}) for name in names]
    created = {cloud.create_server(spec).id: spec.name for spec in specs}
    listed = {server.id: server for server in cloud.list_servers()}
    assert set(listed) == set(created)
    assert {server.metadata["broker_desktop_id"] for server in listed.values()} == set(names)
    assert [server.name for server in cloud.find_servers(stem)] == [stem]
    assert cloud.find_servers("desk") == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("image", "no-such-image", CloudNotFound),
        ("flavor", "no-such-flavor", CloudNotFound),
        ("network", "no-such-network", CloudNotFound),
        # Nova answers 400 for these (not 404): a CloudError, not a CloudNotFound.
        ("security_groups", ("no-such-group",), CloudError),
        ("availability_zone", "no-such-zone", CloudError),
        ("volume_type", "no-such-type", CloudError),
    ],
)
def test_unknown_references_are_refused_and_nothing_is_created(
    under_test: CloudUnderTest, field: str, value: Any, expected: type[CloudError]
) -> None:
    extra: dict[str, Any] = {"boot_from_volume": True} if field == "volume_type" else {}
    with pytest.raises(CloudError) as raised:
        under_test.cloud.create_server(under_test.spec(**{field: value}, **extra))
    assert type(raised.value) is expected, raised.value
    assert under_test.cloud.list_servers() == []


def test_power_actions_follow_novas_states_and_refuse_the_wrong_ones(under_test: CloudUnderTest) -> None:
    cloud = under_test.cloud
    server_id = cloud.create_server(under_test.spec()).id
    under_test.settle(server_id, "ACTIVE")
    steps: list[tuple[PowerAction, str | None]] = [
        (PowerAction.START, None), (PowerAction.RESUME, None),
        (PowerAction.SUSPEND, "SUSPENDED"), (PowerAction.STOP, None), (PowerAction.REBOOT, None),
        (PowerAction.RESUME, "ACTIVE"), (PowerAction.REBOOT, "ACTIVE"),
        (PowerAction.STOP, "SHUTOFF"), (PowerAction.STOP, None), (PowerAction.SUSPEND, None),
        (PowerAction.REBOOT, None), (PowerAction.START, "ACTIVE"),
    ]
    for action, reaches in steps:
        if reaches is None:
            with pytest.raises(CloudConflict, match=f"Cannot '{action.value}' instance"):
                cloud.power(server_id, action)
        else:
            cloud.power(server_id, action)
            under_test.settle(server_id, reaches)
            time.sleep(1.0 if not isinstance(cloud, InMemoryCloud) else 0)  # Nova clears the task state


def test_a_missing_server_is_none_not_found_or_already_deleted(under_test: CloudUnderTest) -> None:
    cloud = under_test.cloud
    assert cloud.get_server(MISSING_ID) is None
    with pytest.raises(CloudNotFound):
        cloud.power(MISSING_ID, PowerAction.START)
    with pytest.raises(CloudNotFound):
        cloud.associate_floating_ip(MISSING_ID)
    cloud.delete_server(MISSING_ID, delete_volumes=True)  # missing is fine


def test_a_floating_ip_needs_an_active_server_is_idempotent_and_is_reused(under_test: CloudUnderTest) -> None:
    cloud = under_test.cloud
    first = cloud.create_server(under_test.spec()).id
    with pytest.raises(CloudConflict, match="needs an ACTIVE server"):
        cloud.associate_floating_ip(first)
    under_test.settle(first, "ACTIVE")
    address = cloud.associate_floating_ip(first)
    assert cloud.associate_floating_ip(first) == address
    cloud.delete_server(first, delete_volumes=False)
    under_test.gone(first)
    second = cloud.create_server(under_test.spec()).id
    under_test.settle(second, "ACTIVE")
    assert cloud.associate_floating_ip(second) == address


def test_boot_volumes_take_size_and_type_and_go_as_asked(under_test: CloudUnderTest) -> None:
    cloud = under_test.cloud
    kept = cloud.create_server(under_test.spec(boot_from_volume=True, volume_size_gb=2, volume_type="fake",
                                               delete_volume_on_termination=False))
    going = cloud.create_server(under_test.spec(boot_from_volume=True))
    assert kept.image is None
    kept_volumes = under_test.settle(kept.id, "ACTIVE").volume_ids
    going_volumes = under_test.settle(going.id, "ACTIVE").volume_ids
    assert len(kept_volumes) == len(going_volumes) == 1
    assert under_test.volume_of(kept_volumes[0]) == (2, "fake")
    # The flavor's disk, and Cinder's default type (the fake said `fake` before this suite).
    assert under_test.volume_of(going_volumes[0]) == (1, "__DEFAULT__")

    cloud.delete_server(kept.id, delete_volumes=False)
    cloud.delete_server(going.id, delete_volumes=False)
    under_test.gone(kept.id)
    under_test.gone(going.id)
    _until(lambda: under_test.volume_of(going_volumes[0]) is None, "the volume goes with its server")
    assert under_test.volume_of(kept_volumes[0]) == (2, "fake")


def test_the_instance_quota_is_refused_as_such(under_test: CloudUnderTest) -> None:
    with under_test.with_instance_quota(1) as limited:
        first = limited.create_server(under_test.spec()).id
        # Nova counts an instance once the conductor wrote it: wait, so the refusal is the synchronous one.
        _until(lambda: (limited.get_server(first) or ServerInfo("", "", "", PowerState.UNKNOWN)).status
               == "ACTIVE" or (isinstance(limited, InMemoryCloud) and limited.advance_builds(first)),
               "the first instance is ACTIVE")
        with pytest.raises(CloudQuotaExceeded, match="Quota exceeded for instances"):
            limited.create_server(under_test.spec())
        assert [server.id for server in limited.list_servers()] == [first]
