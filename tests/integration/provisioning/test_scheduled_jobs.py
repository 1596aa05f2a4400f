"""The scheduled functions, invoked as EventBridge invokes them (the app's handler with a scheduled
event), keep pools stocked: a pool whose own check was lost is provisioned by the next pool_stats or
pool_history_stats run (in-memory cloud, moto)."""

from __future__ import annotations

import time
from dataclasses import replace

from app import app
from chalicelib.clock import utc_iso
from chalicelib.jobs.schedules import scheduled_event
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import TenantRecord
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()


def fire(rule_name: str) -> None:
    app.handler_map[rule_name](scheduled_event(rule_name), None)


def two_pools(broker: Broker) -> tuple[int, int]:
    """A provisioning pool and one with provisioning off, whose checks queued at save were lost."""
    now = utc_iso()  # the jobs go through the tenants: the test's tenant is one
    TenantRecord(tenant_id=0, id=TENANT, name="jobs", doc={}, created=now, updated=now).save()
    center = broker.center()
    on = broker.pool(center, threshold=2, maximum=2, name="on")
    off = broker.pool(center, threshold=2, maximum=2, name="off", provision={"provision_on_off": 0})
    broker.drop()
    return int(on.id), int(off.id)


def test_the_pool_stats_schedule_checks_every_pool_short_of_desktops(broker: Broker) -> None:
    on, off = two_pools(broker)
    fire("pool_stats_job")
    broker.drain()
    assert len(desktops.of_pool(TENANT, on)) == 2 and len(broker.cloud.servers) == 2
    assert desktops.of_pool(TENANT, off) == []
    assert stores.pools.get(TENANT, on).stats["total_vm"] == 0  # counted before its check ran


def test_the_pool_history_schedule_checks_the_pools_it_samples_short_of_desktops(broker: Broker) -> None:
    on, off = two_pools(broker)
    fire("pool_history_stats_job")
    broker.drain()
    assert len(desktops.of_pool(TENANT, on)) == 2 and len(broker.cloud.servers) == 2
    assert desktops.of_pool(TENANT, off) == []
    sampled = stores.pools.get(TENANT, on).broker_state["history_sampled_at"]
    assert abs(sampled - time.time()) < 600


def test_a_stocked_pool_costs_the_schedule_no_check(broker: Broker) -> None:
    """Counted with nothing to create (no deficit, no record waiting for an instance): no message."""
    on, _ = two_pools(broker)
    fire("pool_stats_job")
    broker.drain()
    broker.cloud.advance_builds()
    broker.drain()
    fire("pool_stats_job")
    fire("pool_history_stats_job")
    assert [m for m in broker.aws.queued() if m["type"] == "pool.check"] == []
    desktop = desktops.of_pool(TENANT, on)[0]
    # a user took one: unassigned 1 < threshold 2, total 2 = maximum
    desktop = desktops.save(replace(desktop, assigned_user_id=5))
    fire("pool_stats_job")
    assert [m for m in broker.aws.queued() if m["type"] == "pool.check"] == []  # at its maximum


def test_a_record_waiting_for_its_instance_is_checked_by_the_schedule(broker: Broker) -> None:
    """A create whose answer was lost leaves a record without an instance: the schedule keeps checking
    the pool, so that it is created again once stuck."""
    from chalicelib.domain.cloud import CloudTransient

    on, _ = two_pools(broker)
    broker.cloud.fail_next("create_server", CloudTransient("no answer"))
    fire("pool_stats_job")
    broker.drain()
    assert len(broker.cloud.servers) == 1
    fire("pool_stats_job")
    assert [m["pool_id"] for m in broker.aws.queued() if m["type"] == "pool.check"] == [on]


def test_a_time_range_takes_effect_at_its_start_with_only_the_schedule_running(broker: Broker) -> None:
    """A pool whose own threshold is 0 and whose range (in Berlin time) starts two minutes ahead with a
    threshold of 3: nothing before the range starts; the pool_stats run of its first minute provisions
    3, with no save and no login in between (the controlled clock moves; the job runs as EventBridge runs
    it). The clock starts at the real time, so that the records' ages stay true."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from chalicelib import clock

    now = utc_iso()
    TenantRecord(tenant_id=0, id=TENANT, name="jobs", doc={}, created=now, updated=now).save()
    center = broker.center()
    start_at = (int(time.time()) // 60 + 2) * 60
    local = datetime.fromtimestamp(start_at, ZoneInfo("Europe/Berlin"))
    stop = local + timedelta(hours=1)
    with clock.controlled(start_at - 60) as moving:
        pool = broker.pool(center, threshold=0, maximum=0, provision={
            "provision_time_zone": "Europe/Berlin",
            "time_limits": [{"provision_time_day": local.weekday(),
                             "provision_time_start": local.strftime("%H:%M"),
                             "provision_time_stop": stop.strftime("%H:%M"), "provision_time_threshold": 3,
                             "provision_time_max_size": 4}]})
        broker.drain()
        fire("pool_stats_job")
        broker.drain()
        assert desktops.of_pool(TENANT, int(pool.id)) == []
        from chalicelib.services import pools as pool_service
        shown = pool_service.limits_now(stores.pools.get(TENANT, int(pool.id)))
        assert (shown["time_limit"], shown["next_time_limit"]) == (-1, 0)
        assert shown["next_start"] == clock.utc_iso(start_at)
        moving.advance(60)
        fire("pool_stats_job")
        broker.drain()
        assert len(desktops.of_pool(TENANT, int(pool.id))) == 3 and len(broker.cloud.servers) == 3
        shown = pool_service.limits_now(stores.pools.get(TENANT, int(pool.id)))
        assert (shown["time_limit"], shown["provision_threshold"], shown["provision_max"]) == (0, 3, 4)


def test_enforced_limits_delete_idle_deletable_desktops_and_never_an_assigned_one(broker: Broker) -> None:
    """Three deletable desktops, one assigned; the maximum drops to 1 with provision_limits_enforce on:
    the two unassigned ones are deleted through the worker's deletion path, the assigned one stays and
    the pool says it stays one above."""
    from chalicelib.schemas.pools import PoolUpdate
    from chalicelib.services import pools as pool_service
    from tests.integration.provisioning.conftest import ADMIN

    pool_id, ids = broker.ready_pool(threshold=3, maximum=3, provision={"mark_deletable": 1})
    kept = desktops.get(TENANT, ids[0])
    kept = desktops.save(replace(kept, assigned_user_id=5))
    pool_service.update_pool(ADMIN, pool_id, PoolUpdate.model_validate(
        {"provision": {"provision_threshold": 0, "provision_max": 0, "provision_limits_enforce": 1}}))
    broker.drain()
    alive = [d for d in desktops.of_pool(TENANT, pool_id) if d.lifecycle != "deleted"]
    assert [int(d.id) for d in alive] == [ids[0]]
    assert len(broker.cloud.servers) == 1
    assert pool_service.limits_now(stores.pools.get(TENANT, pool_id))["over_max"] == 1


def test_when_a_range_ends_the_schedule_alone_shrinks_an_enforced_pool(broker: Broker) -> None:
    """A range (Berlin time) in force now asks for 2 desktops; the pool's own maximum is 0. When the range
    ends, the pool_stats run deletes the two idle desktops, with no other request."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from chalicelib import clock

    now = utc_iso()
    TenantRecord(tenant_id=0, id=TENANT, name="jobs", doc={}, created=now, updated=now).save()
    start_at = int(time.time()) // 60 * 60
    local = datetime.fromtimestamp(start_at, ZoneInfo("Europe/Berlin"))
    with clock.controlled(start_at + 10) as moving:
        pool_id, ids = broker.ready_pool(threshold=0, maximum=0, provision={
            "mark_deletable": 1, "provision_limits_enforce": 1, "provision_time_zone": "Europe/Berlin",
            "time_limits": [{"provision_time_day": local.weekday(),
                             "provision_time_start": local.strftime("%H:%M"),
                             "provision_time_stop": (local + timedelta(minutes=2)).strftime("%H:%M"),
                             "provision_time_threshold": 2, "provision_time_max_size": 2}]})
        assert len(ids) == 2
        fire("pool_stats_job")
        broker.drain()
        assert len(broker.cloud.servers) == 2  # still in the range
        moving.advance(120)
        fire("pool_stats_job")
        broker.drain()
        assert [d for d in desktops.of_pool(TENANT, pool_id) if d.lifecycle != "deleted"] == []
        assert len(broker.cloud.servers) == 0
