"""Any deficit up to the maximum provisions (ARCHITECTURE.md invariants 2, 3 and 9), against the
in-memory cloud: a deficit of 150 in one check, no DynamoDB request above its limit, and a check that
dies between its reservation and its records repaired by the next check without an extra instance."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from chalicelib.domain import provisioning as rules
from chalicelib.services import audit, provisioning
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters
from tests.integration.provisioning.conftest import TENANT, Broker, dynamodb_request_sizes

desktops = DesktopStore()
counters = PoolCounters()
DEFICIT = 150


class CheckDied(Exception):
    """The worker's Lambda ended here (a timeout, an out-of-memory kill)."""


def names(pool_id: int) -> list[str]:
    return sorted(d.name for d in desktops.of_pool(TENANT, pool_id))


def requested_events() -> list[audit.AuditRecord]:  # type: ignore[name-defined]
    return [e for e in stores.audit.list(TENANT, limit=1000) if e.type == "provision.requested"]


def test_a_deficit_of_150_is_created_by_one_check_within_every_dynamodb_limit(broker: Broker) -> None:
    center = broker.center(build_limit=rules.MAX_CENTER_BUILD_LIMIT)
    pool_id = int(broker.pool(center, threshold=DEFICIT, maximum=DEFICIT).id)
    with dynamodb_request_sizes() as sizes:
        broker.drain(only={"pool.check"})
    assert len(broker.cloud.servers) == DEFICIT
    assert counters.total(TENANT, pool_id) == DEFICIT == len(desktops.of_pool(TENANT, pool_id))
    # Every {SEQUENCE} number used once, none skipped.
    assert names(pool_id) == [f"vd-{n:03d}" for n in range(1, DEFICIT + 1)]
    assert sorted(s.name for s in broker.cloud.servers.values()) == names(pool_id)
    assert all(d.instance_id for d in desktops.of_pool(TENANT, pool_id))
    assert sizes.largest("TransactWriteItems") <= 100, sizes.largest("TransactWriteItems")
    assert sizes.largest("BatchWriteItem") <= 25 and sizes.largest("BatchGetItem") <= 100
    assert sizes.count("TransactWriteItems") >= DEFICIT // 25  # the records went in bounded batches
    assert provisioning.check_pool(TENANT, pool_id, "again") == 0


def test_a_check_dying_between_its_reservation_and_its_records_is_repaired_without_extras(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    center = broker.center(build_limit=rules.MAX_CENTER_BUILD_LIMIT)
    pool_id = int(broker.pool(center, threshold=DEFICIT, maximum=DEFICIT).id)
    broker.drop()
    write = counters.write_reserved
    written_batches: list[int] = []

    def write_two_batches_then_die(records: list) -> list:  # type: ignore[type-arg]
        if written_batches:
            raise CheckDied()
        written_batches.append(len(records))
        write(records[:50])  # part of the records reached the table, then the Lambda ended
        raise CheckDied()

    monkeypatch.setattr(provisioning.counters, "write_reserved", write_two_batches_then_die)
    with pytest.raises(CheckDied):
        provisioning.check_pool(TENANT, pool_id, "dies")
    monkeypatch.undo()

    # The counter holds the whole reservation (never less than the records), no instance was created.
    assert counters.total(TENANT, pool_id) == DEFICIT
    assert len(desktops.of_pool(TENANT, pool_id)) == 50
    assert not broker.cloud.servers
    # While the reservation is young its writer may still be at work: another check leaves it alone.
    assert provisioning.check_pool(TENANT, pool_id, "too early") == 0
    assert not broker.cloud.servers and len(desktops.of_pool(TENANT, pool_id)) == 50

    # Once no worker can still be writing it, the next check completes it: the same ids and numbers.
    later = provisioning.clock() + rules.NO_LIVE_WORKER_AFTER_SECONDS + 1
    monkeypatch.setattr(provisioning, "clock", lambda: later)
    created = provisioning.check_pool(TENANT, pool_id, "after the crash")
    assert created == DEFICIT
    [resumed] = [e for e in stores.audit.list(TENANT, limit=1000) if e.type == "provision.resumed"]
    assert resumed.pool_id == pool_id
    assert resumed.message.endswith(f"completed an interrupted reservation of {DEFICIT} desktop(s); "
                                    f"{DEFICIT - 50} record(s) were missing")
    assert len(resumed.details["names"]) == DEFICIT - 50
    # Records that old could be taken for stuck by another check: each was claimed before its create.
    assert {d.create_claimed_at for d in desktops.of_pool(TENANT, pool_id)} == {int(later)}
    assert len(broker.cloud.servers) == DEFICIT
    assert counters.total(TENANT, pool_id) == DEFICIT == len(desktops.of_pool(TENANT, pool_id))
    assert names(pool_id) == [f"vd-{n:03d}" for n in range(1, DEFICIT + 1)]
    assert sorted(s.name for s in broker.cloud.servers.values()) == names(pool_id)
    assert counters.reservation(TENANT, pool_id) is None
    assert provisioning.check_pool(TENANT, pool_id, "again") == 0
    assert len(broker.cloud.servers) == DEFICIT


def test_a_reservation_lost_to_a_racer_burns_no_sequence_number(broker: Broker) -> None:
    """The {SEQUENCE} numbers are taken in the same transaction as the reservation: a check that loses
    the race draws none, so the names of a pool have no gaps."""
    center = broker.center()
    pool_id = int(broker.pool(center, threshold=3, maximum=6).id)
    broker.drop()
    total = counters.total(TENANT, pool_id)
    assert total is None or total == 0
    provisioning.check_pool(TENANT, pool_id, "first")
    seen = counters.total(TENANT, pool_id)
    assert seen == 3
    # A racer that read the total before the first check reserved loses, and draws nothing.
    assert counters.reserve(TENANT, pool_id, seen=0, count=3, first_id=10**9, first_value=1,
                            now=provisioning.clock()) is None
    for desktop in desktops.of_pool(TENANT, pool_id):
        desktop = desktops.save(replace(desktop, assigned_user_id=5))
    provisioning.check_pool(TENANT, pool_id, "after assignment")
    assert names(pool_id) == [f"vd-{n:03d}" for n in range(1, 7)]


def test_two_writers_of_one_reservation_write_each_record_once(broker: Broker) -> None:
    """The check that reserved and a check completing its reservation may overlap: each record is
    written by one of them (the one that then creates its instance), never overwritten."""
    center = broker.center()
    pool_id = int(broker.pool(center, threshold=0, maximum=0).id)
    ids = list(desktops.new_ids(60))

    def reservation_records() -> list:  # type: ignore[type-arg]
        return [desktops.new(TENANT, int(center.id), pool_id, f"w-{n}", display_name=f"w {n}",
                             lifecycle="provisioning", available=False, deletable=False, desktop_id=n)
                for n in ids]

    first = counters.write_reserved(reservation_records()[:30])
    assert len(first) == 30
    linked = desktops.get(TENANT, ids[3])
    linked = desktops.save(replace(linked, instance_id="made-by-the-first-writer"))

    results: list[list] = []  # type: ignore[type-arg]
    threads = [threading.Thread(target=lambda: results.append(counters.write_reserved(reservation_records())))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    second, third = ({int(d.id) for d in written} for written in results)
    assert not second & third and second | third == set(ids[30:])
    assert desktops.get(TENANT, ids[3]).instance_id == "made-by-the-first-writer"
    assert len(desktops.of_pool(TENANT, pool_id)) == 60
