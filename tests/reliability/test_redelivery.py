"""SQS delivers at least once: every message type the worker handles, delivered twice in a row, changes
nothing the second time — no second instance, no second audit event of its kind, no count moved twice,
no follow-up message sent twice (in-memory cloud, DynamoDB and SQS in moto)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import ServerSpec
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.jobs.worker import handle_message
from chalicelib.services import desktop_actions
from chalicelib.store.desktops import DesktopStore, PoolCounters
from chalicelib.store.repos import AuditStore
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()
counters = PoolCounters()


def audit_counts() -> Counter[str]:
    return Counter(event.type for event in AuditStore().list(TENANT, limit=10_000))


def state_of(record: Desktop) -> tuple[Any, ...]:
    doc = {k: v for k, v in record.stored_doc().items() if not k.endswith("_at")}
    return (record.lifecycle, record.power_state, record.instance_id, record.pool_id, record.available,
            record.assigned_user_id, json.dumps(doc, sort_keys=True, default=str))


def snapshot(broker: Broker, pool_id: int) -> dict[str, Any]:
    records = list(desktops.of_tenant(TENANT))
    return {
        "servers": sorted((s.name, s.status) for s in broker.cloud.servers.values()),
        "records": sorted((int(d.id), state_of(d)) for d in records),
        "total": counters.total(TENANT, pool_id),
        "failures": counters._read(counters._key("failures", TENANT, pool_id)),
        "audit": audit_counts(),
    }


def twice(broker: Broker, message: dict[str, Any], pool_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deliver the message, note the state and what it queued; deliver it again: (first, second)."""
    handle_message(json.dumps(message))
    first = {**snapshot(broker, pool_id), "queued": broker.aws.queued()}
    handle_message(json.dumps(message))
    second = {**snapshot(broker, pool_id), "queued": broker.aws.queued()}
    return first, second


def assert_nothing_twice(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert second["servers"] == first["servers"]
    assert second["records"] == first["records"]
    assert second["total"] == first["total"]
    assert second["failures"] == first["failures"]
    assert second["audit"] == first["audit"], second["audit"] - first["audit"]
    assert second["queued"] == [], "the second delivery queued follow-ups again"


def queued_of(broker: Broker, message_type: str) -> list[dict[str, Any]]:
    """The queued messages of one type (the others are dropped)."""
    return [m for m in broker.aws.queued() if m["type"] == message_type]


def ready_pool(broker: Broker, threshold: int, maximum: int, **settings: Any) -> tuple[int, list[int]]:
    center = broker.center()
    pool = broker.pool(center, threshold=threshold, maximum=maximum, **settings)
    broker.drain(only={"pool.check"})
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    broker.drop()
    return int(pool.id), sorted(int(d.id) for d in desktops.of_pool(TENANT, int(pool.id)))


def test_pool_check_twice_creates_the_deficit_once(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=3)
    [check] = queued_of(broker, messages.POOL_CHECK)
    first, second = twice(broker, check, int(pool.id))
    assert len(first["servers"]) == 2 and first["total"] == 2
    assert first["audit"]["provision.requested"] == 1
    assert [m["type"] for m in first["queued"]] == [messages.DESKTOP_FOLLOW] * 2
    assert_nothing_twice(first, second)


def test_follow_of_a_ready_instance_twice_finishes_it_once(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=1, maximum=1, assign_floating_ip=1)
    broker.drain(only={"pool.check"})
    [follow] = queued_of(broker, messages.DESKTOP_FOLLOW)
    broker.cloud.advance_builds()
    first, second = twice(broker, follow, int(pool.id))
    [desktop] = desktops.of_pool(TENANT, int(pool.id))
    assert desktop.lifecycle == "active" and desktop.floating_ip
    assert first["audit"]["provision.completed"] == 1
    assert broker.cloud.calls["associate_floating_ip"] == 1
    assert_nothing_twice(first, second)


def test_follow_of_an_errored_instance_twice_counts_one_failure(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=1, maximum=1)
    broker.drain(only={"pool.check"})
    [follow] = queued_of(broker, messages.DESKTOP_FOLLOW)
    [server_id] = broker.cloud.servers
    broker.cloud.fail_build(server_id, "No valid host was found.")
    first, second = twice(broker, follow, int(pool.id))
    [failed] = [d for d in desktops.of_tenant(TENANT) if d.lifecycle == "error"]
    assert failed.error == "No valid host was found."
    assert first["failures"] == 1 and first["total"] == 0 and first["servers"] == []
    assert first["audit"]["provision.failed"] == 1
    assert_nothing_twice(first, second)


def test_power_action_twice_is_carried_out_once(broker: Broker) -> None:
    pool_id, (desktop_id, _) = ready_pool(broker, threshold=2, maximum=2)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")
    [power] = queued_of(broker, messages.DESKTOP_POWER)
    first, second = twice(broker, power, pool_id)
    stopped = desktops.get(TENANT, desktop_id)
    assert stopped.power_state == "stopped" and not stopped.last_action_error
    assert broker.cloud.servers[stopped.instance_id].status == "SHUTOFF"
    assert first["audit"]["desktop.power"] == 1
    assert broker.cloud.calls["power"] == 1, "the second delivery asked the cloud to stop it again"
    assert_nothing_twice(first, second)


def test_delete_twice_deletes_once_and_moves_the_count_once(broker: Broker) -> None:
    pool_id, (desktop_id, _) = ready_pool(broker, threshold=2, maximum=2, create_new_volume=1,
                                          delete_volume_on_instance_delete=1)
    desktop = desktops.get(TENANT, desktop_id)
    desktop = desktops.save(replace(desktop, deletable=True))
    desktop_actions.request_action(ADMIN, desktop_id, "delete")
    [delete] = queued_of(broker, messages.DESKTOP_DELETE)
    first, second = twice(broker, delete, pool_id)
    assert len(first["servers"]) == 1 and first["total"] == 1
    assert first["audit"]["desktop.deleted"] == 1
    assert [m["type"] for m in first["queued"]] == [messages.POOL_CHECK]  # the refill, once
    assert broker.cloud.calls["delete_server"] == 1
    assert_nothing_twice(first, second)


def _foreign_and_orphan(broker: Broker, pool_id: int) -> None:
    """A server made by hand in the project, and one the broker made whose desktop record is missing."""
    broker.cloud.create_server(ServerSpec(name="by-hand", metadata={}, image="cirros-fake", flavor="m1.tiny",
                                          network="private"))
    broker.cloud.create_server(ServerSpec(
        name="vd-lost", image="cirros-fake", flavor="m1.tiny", network="private",
        metadata={rules.METADATA_DESKTOP: "987654", rules.METADATA_POOL: str(pool_id),
                  rules.METADATA_TENANT: str(TENANT)}))
    broker.cloud.advance_builds()


def test_center_scan_twice_adds_and_adopts_once(broker: Broker) -> None:
    pool_id, _ = ready_pool(broker, threshold=1, maximum=1)
    _foreign_and_orphan(broker, pool_id)
    center_id = int(desktops.of_pool(TENANT, pool_id)[0].center_id)
    first, second = twice(broker, messages.center_scan(TENANT, center_id, "schedule"), pool_id)
    found = {d.name: d for d in desktops.of_tenant(TENANT)}
    assert sorted(found) == ["by-hand", "vd-001", "vd-lost"]
    assert first["audit"]["desktop.adopted"] == 1
    # The broker's own instance comes back under the id it carries, deletable and out of the offer; the one
    # made by hand is offered and never deleted by the broker.
    adopted, by_hand = found["vd-lost"], found["by-hand"]
    assert (int(adopted.id), adopted.available, adopted.deletable, adopted.adopted) == (
        987654, False, True, True)
    assert (by_hand.available, by_hand.deletable, by_hand.adopted) == (True, False, False)
    assert_nothing_twice(first, second)


def test_center_check_twice_goes_online_once(broker: Broker) -> None:
    pool_id, _ = ready_pool(broker, threshold=1, maximum=1)
    _foreign_and_orphan(broker, pool_id)
    center_id = int(desktops.of_pool(TENANT, pool_id)[0].center_id)
    first, second = twice(broker, messages.center_check(TENANT, center_id, "saved"), pool_id)
    assert len(first["records"]) == 3
    assert first["audit"]["center.online"] == 1
    assert_nothing_twice(first, second)
