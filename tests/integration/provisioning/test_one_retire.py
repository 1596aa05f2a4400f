"""One way to mark a desktop deleted (services/retire.py) and one answer to "is this pool provisioning?"
(domain/pools.provisioning_blocked); docs/design.md, "One retire, one provisioning answer"."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.entities.desktops import Desktop
from chalicelib.services import desktop_actions, pool_stats, scan
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, set_pool_side_state
from chalicelib.store.models import DesktopRecord
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()


def _ready_pool(broker: Broker) -> tuple[Any, Any]:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=2, provision={"mark_deletable": 1})
    broker.drain(only={"pool.check"})
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    broker.aws.queued()
    return center, pool


def _retired_fields(record: Desktop) -> tuple[Any, ...]:
    stored = DesktopRecord.get(record.tenant_id, record.id, consistent_read=True)
    return (record.lifecycle, record.power_state, record.available, record.assigned_user_id, stored.user_key,
            record.pool_id, record.pending_action, bool(record.deleted_at))


def test_the_scan_and_a_deletion_retire_a_desktop_alike(broker: Broker) -> None:
    center, pool = _ready_pool(broker)
    deleted, vanished = desktops.of_pool(TENANT, int(pool.id))
    desktop_actions.request_action(ADMIN, int(deleted.id), "delete")
    broker.drain(only={"desktop.delete"})
    vanished = desktops.get(TENANT, int(vanished.id))
    # asked for; its instance vanishes first
    vanished = desktops.save(replace(vanished, pending_action="stop"))
    broker.cloud.vanish(str(vanished.instance_id))
    broker.aws.queued()

    assert scan.scan_center(TENANT, int(center.id))["gone"] == 1

    by_delete, by_scan = desktops.get(TENANT, int(deleted.id)), desktops.get(TENANT, int(vanished.id))
    assert _retired_fields(by_scan) == _retired_fields(by_delete) == (
        "deleted", "deleted", False, None, None, None, None, True)
    checks = [m for m in broker.aws.queued() if m["type"] == "pool.check"]
    assert [m["pool_id"] for m in checks] == [int(pool.id)]  # the pool replaces what vanished


def test_the_scheduled_run_queues_no_check_for_a_pool_the_broker_stopped(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_stats, "tenant_zones", lambda: {TENANT: ""})  # this world has no tenant record
    _, pool = _ready_pool(broker)
    for desktop in desktops.of_pool(TENANT, int(pool.id)):
        desktop_actions.request_action(ADMIN, int(desktop.id), "delete")
    broker.drain(only={"desktop.delete"})
    broker.aws.queued()
    record = stores.pools.get(TENANT, int(pool.id))
    set_pool_side_state(record, broker_state={"stopped_by_broker": True, "reason": "quota"})

    pool_stats.run_pool_stats("test")
    assert not [m for m in broker.aws.queued() if m["type"] == "pool.check"]  # the worker would refuse it

    set_pool_side_state(stores.pools.get(TENANT, int(pool.id)), clear_broker_state=True)
    pool_stats.run_pool_stats("test")
    assert [m["pool_id"] for m in broker.aws.queued() if m["type"] == "pool.check"] == [int(pool.id)]
