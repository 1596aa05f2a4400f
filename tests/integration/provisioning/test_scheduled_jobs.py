"""The scheduled functions, invoked as EventBridge invokes them (the app's handler with a scheduled
event), keep pools stocked: a pool whose own check was lost is provisioned by the next pool_stats or
pool_history_stats run (in-memory cloud, moto)."""

from __future__ import annotations

import time

from app import app
from chalicelib.jobs.schedules import scheduled_event
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import TenantRecord
from chalicelib.store.repos import utc_now_iso
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()


def fire(rule_name: str) -> None:
    app.handler_map[rule_name](scheduled_event(rule_name), None)


def two_pools(broker: Broker) -> tuple[int, int]:
    """A provisioning pool and one with provisioning off, whose checks queued at save were lost."""
    now = utc_now_iso()  # the jobs go through the tenants: the test's tenant is one
    TenantRecord(tenant_id=0, id=TENANT, name="jobs", doc={}, created=now, updated=now).save()
    center = broker.center()
    on = broker.pool(center, threshold=2, maximum=2, name="on")
    off = broker.pool(center, threshold=2, maximum=2, name="off", provision={"provision_on_off": 0})
    broker.drop()
    return int(on.id), int(off.id)


def test_the_pool_stats_schedule_checks_every_provisioning_pool(broker: Broker) -> None:
    on, off = two_pools(broker)
    fire("pool_stats_job")
    broker.drain()
    assert len(desktops.of_pool(TENANT, on)) == 2 and len(broker.cloud.servers) == 2
    assert desktops.of_pool(TENANT, off) == []
    assert stores.pools.get(TENANT, on).stats["total_vm"] == 0  # counted before its check ran


def test_the_pool_history_schedule_checks_every_pool_it_samples(broker: Broker) -> None:
    on, off = two_pools(broker)
    fire("pool_history_stats_job")
    broker.drain()
    assert len(desktops.of_pool(TENANT, on)) == 2 and len(broker.cloud.servers) == 2
    assert desktops.of_pool(TENANT, off) == []
    sampled = stores.pools.get(TENANT, on).broker_state["history_sampled_at"]
    assert abs(sampled - time.time()) < 600
