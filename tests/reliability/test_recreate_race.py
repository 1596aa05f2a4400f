"""Invariant 3 for records left without an instance (a create whose answer was lost): two checks of the
pool (the one-minute pool_stats job and the five-minute history job make that routine) both find the
record stuck; only the check that stamps it first creates it again, so one create reaches the cloud.
In-memory cloud and moto, checks on threads."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest

from chalicelib.domain.cloud import CloudTransient, ServerInfo
from chalicelib.services import provisioning
from chalicelib.store.desktops import DesktopStore, PoolCounters
from tests.integration.provisioning.conftest import TENANT, Broker, run_together

desktops = DesktopStore()
counters = PoolCounters()
LOOK_UP_WAIT_SECONDS = 2.0  # how long the first look-up waits for a second one (only ever one, if right)


def stuck_record(broker: Broker) -> tuple[int, int]:
    """A pool of one whose create was sent and not answered, and that Nova never carried out."""
    center = broker.center()
    broker.cloud.fail_next("create_server", CloudTransient("the cloud did not answer in time"))
    pool_id = int(broker.pool(center, threshold=1, maximum=1).id)
    broker.drain(only={"pool.check"})
    [record] = desktops.of_pool(TENANT, pool_id)
    assert record.instance_id is None and record.lifecycle == "provisioning"
    assert not broker.cloud.servers
    return pool_id, int(record.id)


def move_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    now = provisioning.clock() + seconds
    monkeypatch.setattr(provisioning, "clock", lambda: now)


def test_two_checks_racing_for_a_stuck_record_send_exactly_one_create(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_id, desktop_id = stuck_record(broker)
    move_clock(monkeypatch, provisioning.STUCK_AFTER_SECONDS + 1)
    creates_before = broker.cloud.calls["create_server"]

    # Both checks read the pool's records before either acts on them...
    both_read = threading.Barrier(2, timeout=60)
    of_pool = provisioning.desktops.of_pool

    def read_then_wait(tenant_id: int, pool: int) -> list[Any]:
        members = of_pool(tenant_id, pool)
        both_read.wait()
        return members

    monkeypatch.setattr(provisioning.desktops, "of_pool", read_then_wait)
    # ...and a check that looks the name up waits a moment for a second one, so that without the claim
    # both would find nothing and both would create.
    both_looking = threading.Barrier(2, timeout=LOOK_UP_WAIT_SECONDS)
    find_servers = broker.cloud.find_servers

    def look_up_together(name: str) -> list[ServerInfo]:
        with contextlib.suppress(threading.BrokenBarrierError):  # alone: go on after the wait
            both_looking.wait()
        return find_servers(name)

    monkeypatch.setattr(broker.cloud, "find_servers", look_up_together)
    results, errors = run_together(lambda: provisioning.check_pool(TENANT, pool_id, "pool_stats"))
    assert broker.cloud.calls["create_server"] - creates_before == 1, "two instances for one desktop"
    assert not errors, errors
    assert sorted(results) == [0, 1]
    [server] = broker.cloud.servers.values()
    assert desktops.get(TENANT, desktop_id).instance_id == server.id
    monkeypatch.setattr(provisioning.desktops, "of_pool", of_pool)
    assert provisioning.check_pool(TENANT, pool_id, "again") == 0
    assert len(broker.cloud.servers) == 1 and counters.total(TENANT, pool_id) == 1


def test_the_stamp_of_a_check_that_died_ages_out(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    pool_id, desktop_id = stuck_record(broker)
    move_clock(monkeypatch, provisioning.STUCK_AFTER_SECONDS + 1)
    create_instance = provisioning._create_instance

    class Died(Exception):
        pass

    def die(*args: Any, **kwargs: Any) -> bool:
        raise Died()  # the check stamped the record, then its Lambda ended before the create

    monkeypatch.setattr(provisioning, "_create_instance", die)
    with pytest.raises(Died):
        provisioning.check_pool(TENANT, pool_id, "dies after the stamp")
    monkeypatch.setattr(provisioning, "_create_instance", create_instance)
    assert desktops.get(TENANT, desktop_id).create_claimed_at

    move_clock(monkeypatch, provisioning.STUCK_AFTER_SECONDS - 10)  # the stamp still holds
    assert provisioning.check_pool(TENANT, pool_id, "stamp held") == 0
    assert not broker.cloud.servers
    move_clock(monkeypatch, 11)  # now older than STUCK_AFTER_SECONDS: no live check holds it
    assert provisioning.check_pool(TENANT, pool_id, "stamp aged out") == 1
    [server] = broker.cloud.servers.values()
    assert desktops.get(TENANT, desktop_id).instance_id == server.id
