"""The in-memory CloudPort behaves like the real one where provisioning rules depend on it."""

from __future__ import annotations

import pytest

from chalicelib.domain.cloud import (
    CloudConflict,
    CloudNotFound,
    CloudPort,
    CloudQuotaExceeded,
    CloudTransient,
    PowerAction,
    PowerState,
    ServerSpec,
)
from tests.fakes import InMemoryCloud


def spec(name: str = "desk-1", **changes: object) -> ServerSpec:
    fields: dict[str, object] = {
        "name": name,
        "metadata": {"desktop_id": name},
        "image": "cirros-fake",
        "flavor": "m1.tiny",
        "network": "private",
    }
    fields.update(changes)
    return ServerSpec(**fields)  # type: ignore[arg-type]


def test_it_is_a_cloud_port() -> None:
    port: CloudPort = InMemoryCloud()
    port.check()


def test_create_returns_building_and_stays_so_until_advanced() -> None:
    cloud = InMemoryCloud()
    created = cloud.create_server(spec())
    assert (created.status, created.power_state) == ("BUILD", PowerState.BUILDING)
    assert cloud.get_server(created.id).status == "BUILD"  # type: ignore[union-attr]

    assert cloud.advance_builds() == [created.id]

    active = cloud.get_server(created.id)
    assert active is not None and active.power_state is PowerState.RUNNING
    assert cloud.advance_builds() == []


def test_instance_quota_counts_every_server_including_failed_ones() -> None:
    cloud = InMemoryCloud(max_instances=2)
    first = cloud.create_server(spec("a"))
    cloud.create_server(spec("b"))
    cloud.fail_build(first.id)
    with pytest.raises(CloudQuotaExceeded, match="already used 2 of 2 instances"):
        cloud.create_server(spec("c"))
    cloud.delete_server(first.id, delete_volumes=False)
    assert cloud.create_server(spec("c")).name == "c"


def test_unknown_references_are_not_found() -> None:
    with pytest.raises(CloudNotFound, match="image 'nope'"):
        InMemoryCloud().create_server(spec(image="nope"))


def test_find_servers_is_exact() -> None:
    cloud = InMemoryCloud()
    wanted_id = cloud.create_server(spec("desk-1")).id
    wanted = cloud.get_server(wanted_id)  # the create's answer, like Nova's, has no addresses yet
    cloud.create_server(spec("desk-10"))
    assert cloud.find_servers("desk-1") == [wanted]
    assert cloud.find_servers("desk") == []


def test_power_actions_follow_nova_states_and_refuse_the_wrong_ones() -> None:
    cloud = InMemoryCloud()
    server_id = cloud.create_server(spec()).id
    with pytest.raises(CloudConflict):
        cloud.power(server_id, PowerAction.STOP)  # still building
    cloud.advance_builds()
    cloud.power(server_id, PowerAction.STOP)
    assert cloud.get_server(server_id).power_state is PowerState.STOPPED  # type: ignore[union-attr]
    with pytest.raises(CloudConflict, match="Cannot 'suspend'"):
        cloud.power(server_id, PowerAction.SUSPEND)
    cloud.power(server_id, PowerAction.START)
    cloud.power(server_id, PowerAction.SUSPEND)
    assert cloud.get_server(server_id).status == "SUSPENDED"  # type: ignore[union-attr]
    with pytest.raises(CloudNotFound):
        cloud.power("missing", PowerAction.START)


def test_floating_ips_are_reused_after_their_server_is_deleted() -> None:
    cloud = InMemoryCloud(floating_ip_pool=["203.0.113.10", "203.0.113.11"])
    first = cloud.create_server(spec("a")).id
    second = cloud.create_server(spec("b")).id
    with pytest.raises(CloudConflict):
        cloud.associate_floating_ip(first)  # not ACTIVE yet
    cloud.advance_builds()
    assert cloud.associate_floating_ip(first) == "203.0.113.10"
    assert cloud.associate_floating_ip(first) == "203.0.113.10"  # idempotent
    cloud.delete_server(first, delete_volumes=False)
    assert cloud.associate_floating_ip(second) == "203.0.113.10"  # the freed one, not a new one
    assert cloud.floating_ip_pool == ["203.0.113.11"]


def test_boot_volumes_go_with_the_server_only_when_asked() -> None:
    cloud = InMemoryCloud()
    kept = cloud.create_server(spec("kept", boot_from_volume=True, delete_volume_on_termination=False))
    dropped = cloud.create_server(spec("dropped", boot_from_volume=True))
    also_kept_then_deleted = cloud.create_server(
        spec("x", boot_from_volume=True, delete_volume_on_termination=False)
    )
    # The create's answer, like Nova's, names no volume yet: the server shows it.
    kept = cloud.get_server(kept.id)  # type: ignore[assignment]
    assert kept is not None
    assert cloud.volumes[kept.volume_ids[0]].size_gb == 1  # the flavor's disk

    cloud.delete_server(kept.id, delete_volumes=False)
    cloud.delete_server(dropped.id, delete_volumes=False)
    cloud.delete_server(also_kept_then_deleted.id, delete_volumes=True)

    assert list(cloud.volumes) == [kept.volume_ids[0]]
    assert cloud.volumes[kept.volume_ids[0]].server_id is None


def test_injected_errors_fire_once_and_count_as_calls() -> None:
    cloud = InMemoryCloud()
    cloud.fail_next("create_server", CloudTransient("nova is restarting"), times=2)
    for _ in range(2):
        with pytest.raises(CloudTransient):
            cloud.create_server(spec())
    assert cloud.servers == {}
    cloud.create_server(spec())
    assert cloud.calls["create_server"] == 3


def test_an_error_after_the_effect_leaves_the_server_behind() -> None:
    # The worker that dies between Nova's 202 and its database write: the instance exists regardless.
    cloud = InMemoryCloud()
    cloud.fail_after_next("create_server", CloudTransient("read timed out"))
    with pytest.raises(CloudTransient):
        cloud.create_server(spec("orphan"))
    assert [server.name for server in cloud.list_servers()] == ["orphan"]
