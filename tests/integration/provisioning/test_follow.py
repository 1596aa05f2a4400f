"""From BUILD to ready or to a visible error (`follow_desktop`), and the pool stopped after failures in a
row (in-memory cloud, moto). Written from the mutation-testing survivors of
`chalicelib/services/provisioning.py` (docs/reliability.md, "Mutation testing")."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from chalicelib.clock import epoch_of
from chalicelib.domain import messages
from chalicelib.domain.cloud import CloudTransient
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.services import provisioning
from chalicelib.settings import reset_settings
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters
from chalicelib.store.models import AuditRecord
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()
counters = PoolCounters()


def building(broker: Broker, **settings: Any) -> tuple[int, str, dict[str, Any]]:
    """A pool of one desktop whose create was sent: the pool's id, the server's id and the first follow
    (taken off the queue)."""
    center = broker.center()
    broker.drain(only={"center.check"})
    pool = broker.pool(center, threshold=1, maximum=1, **settings)
    broker.drain(only={"pool.check"})
    (server_id,) = broker.cloud.servers
    (follow,) = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_FOLLOW]
    return int(pool.id), server_id, follow


def the_desktop() -> Desktop:
    (desktop,) = desktops.of_tenant(TENANT)
    return desktop


def events(kind: str) -> list[AuditRecord]:
    return [e for e in AuditRecord.query(TENANT) if e.type == kind]


def test_a_build_is_polled_with_growing_delays_up_to_a_minute(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    _, _, follow = building(broker)
    sent.clear()
    for _ in range(6):
        provisioning.follow_desktop(follow)
        follow, _ = sent[-1]
        assert follow["type"] == messages.DESKTOP_FOLLOW
    assert [(m["attempt"], m["step"], d) for m, d in sent] == [
        (1, 0, 5), (2, 0, 10), (3, 0, 20), (4, 0, 40), (5, 0, 60), (6, 0, 60)]
    assert {(m["tenant_id"], m["desktop_id"]) for m, _ in sent} == {(TENANT, int(the_desktop().id))}
    assert the_desktop().lifecycle == "provisioning"


def test_a_follow_that_cannot_reach_the_cloud_tries_again_later(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    _, _, follow = building(broker)
    broker.cloud.advance_builds()
    broker.cloud.fail_next("get_server", CloudTransient("Nova is restarting"))
    sent.clear()
    provisioning.follow_desktop({**follow, "attempt": 2})
    [(again, delay)] = sent
    assert (again["type"], again["attempt"], again["step"], delay) == (messages.DESKTOP_FOLLOW, 3, 0, 20)
    assert the_desktop().lifecycle == "provisioning"
    provisioning.follow_desktop(again)
    assert the_desktop().lifecycle == "active"


def test_a_build_past_the_timeout_fails_and_its_instance_is_deleted(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_id, server_id, follow = building(broker)
    monkeypatch.setattr(provisioning, "clock", lambda: time.time() + 30 * 60 - 30)
    provisioning.follow_desktop(follow)
    assert the_desktop().lifecycle == "provisioning" and server_id in broker.cloud.servers
    monkeypatch.setattr(provisioning, "clock", lambda: time.time() + 30 * 60 + 30)
    provisioning.follow_desktop(follow)
    failed = the_desktop()
    assert (failed.lifecycle, failed.power_state, failed.available) == ("error", "error", False)
    assert failed.error == "The build did not finish within 30 minutes"
    assert failed.failed_pool_id == pool_id
    assert server_id not in broker.cloud.servers
    assert counters.total(TENANT, pool_id) == 0


@pytest.mark.parametrize(("timeout", "told"), [(90, "90 seconds"), (120, "2 minutes")])
def test_a_short_build_timeout_is_told_in_seconds_below_two_minutes(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, timeout: int, told: str
) -> None:
    monkeypatch.setenv("BROKER_BUILD_TIMEOUT_SECONDS", str(timeout))
    reset_settings()
    _, _, follow = building(broker)
    monkeypatch.setattr(provisioning, "clock", lambda: time.time() + timeout + 30)
    provisioning.follow_desktop(follow)
    assert the_desktop().error == f"The build did not finish within {told}"


def test_an_instance_gone_during_its_build_fails_the_desktop(broker: Broker) -> None:
    pool_id, server_id, follow = building(broker)
    broker.cloud.vanish(server_id)
    provisioning.follow_desktop(follow)
    failed = the_desktop()
    assert failed.lifecycle == "error"
    assert failed.error == "The instance disappeared while it was being built"
    [event] = events("provision.failed")
    assert (event.pool_id, event.desktop_id) == (pool_id, int(failed.id))
    assert event.message == (
        f"Desktop '{failed.name}' failed: The instance disappeared while it was being built")


def test_an_instance_in_error_without_a_fault_says_so(broker: Broker) -> None:
    _, server_id, follow = building(broker)
    broker.cloud.fail_build(server_id, "")
    provisioning.follow_desktop(follow)
    assert the_desktop().error == "The instance went to ERROR"
    assert server_id not in broker.cloud.servers


def test_three_failures_in_a_row_stop_the_pool_and_say_why(broker: Broker) -> None:
    center = broker.center()
    broker.drain(only={"center.check"})
    broker.cloud.max_instances = 0
    pool = broker.pool(center, threshold=3, maximum=3)
    broker.drain(only={"pool.check"})
    failed = [d for d in desktops.of_tenant(TENANT) if d.lifecycle == "error"]
    assert len(failed) == 3 and {d.failed_pool_id for d in failed} == {int(pool.id)}
    assert sorted((e.pool_id, e.desktop_id) for e in events("provision.failed")) == sorted(
        (int(pool.id), int(d.id)) for d in failed)
    state = stores.pools.get(TENANT, int(pool.id)).broker_state
    assert state["stopped_by_broker"] is True
    assert state["reason"].startswith("3 provisioning errors in a row; last: ")
    assert abs(epoch_of(state["at"]) - time.time()) < 600
    [stopped] = events("provision.stopped")
    assert stopped.pool_id == int(pool.id)
    assert stopped.message == f"Pool '{pool.name}': provisioning stopped: {state['reason']}"


def test_a_ready_desktop_records_what_the_cloud_reports(broker: Broker) -> None:
    _, server_id, follow = building(broker, create_new_volume=1)
    broker.cloud.advance_builds()
    provisioning.follow_desktop(follow)
    desktop, server = the_desktop(), broker.cloud.servers[server_id]
    assert (desktop.lifecycle, desktop.instance_id, desktop.power_state) == ("active", server_id, "running")
    assert server.fixed_addresses and server.volume_ids and server.flavor  # no image: it boots a volume
    assert {k: getattr(desktop, k) for k in ("nova_status", "fault", "fixed_addresses", "floating_addresses",
                                              "availability_zone", "flavor", "image", "volume_ids")} == {
        "nova_status": "ACTIVE", "fault": None, "fixed_addresses": tuple(server.fixed_addresses),
        "floating_addresses": (), "availability_zone": server.availability_zone, "flavor": server.flavor,
        "image": server.image, "volume_ids": tuple(server.volume_ids)}
    [event] = events("provision.completed")
    assert (event.pool_id, event.desktop_id) == (desktop.pool_id, int(desktop.id))
    assert event.message == f"Desktop '{desktop.name}' is ready"
    assert event.details["instance_id"] == server_id
    assert event.details["addresses"] == list(server.fixed_addresses)


def test_a_failed_floating_ip_association_is_tried_again(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    _, server_id, follow = building(broker, assign_floating_ip=1)
    broker.cloud.advance_builds()
    broker.cloud.fail_next("associate_floating_ip", CloudTransient("Neutron did not answer"))
    sent.clear()
    provisioning.follow_desktop(follow)
    [(again, delay)] = sent
    assert (again["type"], again["desktop_id"], again["attempt"], again["step"], delay) == (
        messages.DESKTOP_FOLLOW, int(the_desktop().id), 1, 0, 5)
    assert the_desktop().lifecycle == "provisioning"
    provisioning.follow_desktop(again)
    desktop = the_desktop()
    (address,) = broker.cloud.servers[server_id].floating_addresses
    assert desktop.lifecycle == "active"
    assert desktop.floating_addresses == (address,)
    [event] = events("provision.completed")  # the server read again after the association
    assert event.details["addresses"] == [*broker.cloud.servers[server_id].fixed_addresses, address]


def test_a_ready_desktop_restarts_the_count_of_failures_in_a_row(broker: Broker) -> None:
    pool_id, _, follow = building(broker)
    counters.add_failure(TENANT, pool_id)
    counters.add_failure(TENANT, pool_id)
    broker.cloud.advance_builds()
    provisioning.follow_desktop(follow)
    assert the_desktop().lifecycle == "active"
    assert counters.add_failure(TENANT, pool_id) == 1  # two more would not stop the pool


def test_a_floating_ip_not_yet_shown_by_nova_is_kept(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nova's view of a new floating IP lags behind Neutron's: the address associated is recorded even
    when the server read just after does not show it yet."""
    _, server_id, follow = building(broker, assign_floating_ip=1)
    broker.cloud.advance_builds()
    read = broker.cloud.get_server
    monkeypatch.setattr(broker.cloud, "get_server",
                        lambda sid: dataclasses.replace(read(sid), floating_addresses=()))
    provisioning.follow_desktop(follow)
    desktop = the_desktop()
    (address,) = read(server_id).floating_addresses
    assert desktop.lifecycle == "active"
    assert (desktop.floating_ip, desktop.floating_addresses) == (address, (address,))


def test_creates_left_when_the_pool_stops_are_handed_back_not_counted_as_failures(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One create at a time: the third refusal stops the pool, and the two reservations not yet used are
    failed as "stopped" without counting: the pool's reason stays the cloud's, stopped once."""
    monkeypatch.setattr(provisioning, "CREATE_CONCURRENCY", 1)
    center = broker.center()
    broker.drain(only={"center.check"})
    broker.cloud.max_instances = 0
    pool = broker.pool(center, threshold=5, maximum=5)
    broker.drain(only={"pool.check"})
    errors = sorted(d.error for d in desktops.of_tenant(TENANT) if d.lifecycle == "error")
    assert len(errors) == 5
    assert errors.count("Provisioning stopped before this desktop was created") == 2
    state = stores.pools.get(TENANT, int(pool.id)).broker_state
    assert state["reason"].startswith("3 provisioning errors in a row; last: ")
    assert "stopped before" not in state["reason"]
    assert len(events("provision.stopped")) == 1
