"""Threshold provisioning as the reference describes it, against an in-memory cloud."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import CloudQuotaExceeded, CloudTransient
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.schemas.centers import CenterDefinitionUpdate, CenterUpdate
from chalicelib.schemas.pools import PoolUpdate
from chalicelib.services import centers, pools, provisioning, scan
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters, set_pool_side_state
from chalicelib.store.models import AuditRecord
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()
counters = PoolCounters()


def live(pool_id: int) -> list[Desktop]:
    return [d for d in desktops.of_pool(TENANT, pool_id) if d.lifecycle not in ("deleted", "error")]


def test_saving_a_pool_queues_a_check_that_creates_the_whole_deficit(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=3, maximum=5)
    handled = broker.drain(only={"pool.check"})
    assert [m["pool_id"] for m in handled] == [int(pool.id)]
    assert sorted(s.name for s in broker.cloud.servers.values()) == ["vd-001", "vd-002", "vd-003"]
    for server in broker.cloud.servers.values():
        assert server.metadata[rules.METADATA_POOL] == str(pool.id)
        assert server.metadata[rules.METADATA_TENANT] == str(TENANT)
        record = desktops.get(TENANT, int(server.metadata[rules.METADATA_DESKTOP]))
        assert record.instance_id == server.id and record.name == server.name
    assert counters.total(TENANT, int(pool.id)) == 3


def test_a_center_has_at_most_its_build_limit_of_instances_building(broker: Broker) -> None:
    center = broker.center()
    assert centers.definition_of(center)["build_limit"] == rules.DEFAULT_CENTER_BUILD_LIMIT
    limited = CenterUpdate(center_definition=CenterDefinitionUpdate(build_limit=3))
    center = centers.update_center(ADMIN, "openstack", int(center.id), limited)
    assert centers.definition_of(center)["build_limit"] == 3
    pool_id = int(broker.pool(center, threshold=5, maximum=5).id)
    broker.drain(only={"pool.check"})
    assert len(broker.cloud.servers) == 3  # the other 2 wait for builds to finish
    assert provisioning.check_pool(TENANT, pool_id, "again") == 0
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    provisioning.check_pool(TENANT, pool_id, "builds finished")
    assert len(broker.cloud.servers) == 5 and len(live(pool_id)) == 5


def test_build_to_active_makes_desktops_available_with_floating_ip(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=4, assign_floating_ip=1)
    broker.drain(only={"pool.check"})
    broker.drain(only={"desktop.follow"}, rounds=1)  # still BUILD: re-queued, nothing finished
    assert all(d.lifecycle == "provisioning" for d in live(int(pool.id)))
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    members = live(int(pool.id))
    assert len(members) == 2
    assert all(d.lifecycle == "active" and d.available and d.power_state == "running" for d in members)
    assert all(d.floating_addresses for d in members)
    assert members[0].display_name.startswith("Desktop ")


def test_a_ready_desktop_says_how_long_it_took_from_the_create_request(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forecast's ready time (docs/provisioning.md, "Forecast"): `provision.completed` carries the
    center and the seconds from the record's creation (the create request) to ready."""
    center = broker.center()
    pool = broker.pool(center, threshold=1, maximum=1)
    broker.drain(only={"pool.check"})
    later = time.time() + 420
    monkeypatch.setattr(provisioning, "clock", lambda: later)
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    [event] = [e for e in AuditRecord.query(TENANT) if e.type == "provision.completed"]
    assert event.pool_id == int(pool.id) and event.details["center_id"] == int(center.id)
    assert 420 <= event.details["seconds_to_ready"] < 480


def test_a_check_reads_the_time_limits_in_the_tenant_s_zone(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool naming no zone reads its ranges in its tenant's (issue 15 §1): Monday 08:00-10:00 in Berlin
    is in force at 07:30 UTC in March (UTC+1), when the same range read in UTC would not be."""
    from chalicelib import clock
    from chalicelib.services import tenants

    monkeypatch.setattr(tenants, "default_time_zone", lambda tenant_id: "Europe/Berlin")
    center = broker.center()
    pool = broker.pool(center, threshold=0, maximum=0, provision={"time_limits": [
        {"provision_time_day": 0, "provision_time_start": "08:00", "provision_time_stop": "10:00",
         "provision_time_threshold": 2, "provision_time_max_size": 2}]})
    monday = 1772409600  # 2026-03-02 00:00 UTC, a Monday
    with clock.controlled(monday + 7.5 * 3600):
        assert provisioning.check_pool(TENANT, int(pool.id), "range") == 2


def test_a_check_reads_the_tenant_only_when_a_time_limit_needs_its_zone(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tenant's zone costs a read: a pool without time limits, or with a zone of its own, never reads
    it; a pool whose ranges are read in it reads it once per check."""
    from chalicelib.services import tenants

    reads: list[int] = []
    monkeypatch.setattr(tenants, "default_time_zone", lambda tenant_id: reads.append(tenant_id) or "")
    center = broker.center()
    ranges = [{"provision_time_day": 0, "provision_time_start": "08:00", "provision_time_stop": "10:00",
               "provision_time_threshold": 1, "provision_time_max_size": 1}]
    plain = broker.pool(center, threshold=1, maximum=1, name="plain")
    own_zone = broker.pool(center, threshold=1, maximum=1, name="own-zone",
                           provision={"time_limits": ranges, "provision_time_zone": "Europe/Berlin"})
    tenant_zone = broker.pool(center, threshold=1, maximum=1, name="tenant-zone",
                              provision={"time_limits": ranges})
    for pool in (plain, own_zone):
        assert provisioning.check_pool(TENANT, int(pool.id), "saved") == 1
    assert reads == []
    assert provisioning.check_pool(TENANT, int(tenant_zone.id), "saved") == 1
    assert reads == [TENANT]


def test_assignment_makes_the_pool_grow_until_its_maximum(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=3)
    broker.drain(only={"pool.check"})
    assert len(live(int(pool.id))) == 2
    for desktop in live(int(pool.id)):
        desktop = desktops.save(replace(desktop, assigned_user_id=99))
    assert provisioning.check_pool(TENANT, int(pool.id), "user assigned") == 1  # max 3, not 4
    assert provisioning.check_pool(TENANT, int(pool.id), "again") == 0
    assert len(broker.cloud.servers) == 3


def test_the_reference_numbers_46_total_1_assigned_is_45_unassigned() -> None:
    views = [rules.DesktopView("running", True, assigned=i == 0) for i in range(46)]
    size = rules.size_of(views)
    assert (size.total_vm, size.assigned_vm, size.unassigned) == (46, 1, 45)
    assert rules.deficit(46, 1, threshold=45, maximum=60) == 0
    assert rules.deficit(46, 2, threshold=45, maximum=60) == 1
    assert rules.deficit(46, 10, threshold=45, maximum=50) == 4


def test_racing_checks_never_exceed_the_maximum_nor_duplicate_an_instance(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=8, maximum=8)
    broker.drop()  # the save's own check: the race below makes its own
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def race() -> None:
        try:
            barrier.wait()
            provisioning.check_pool(TENANT, int(pool.id), "race")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    names = [s.name for s in broker.cloud.servers.values()]
    assert len(names) == len(set(names)) == 8
    assert counters.total(TENANT, int(pool.id)) == 8 == len(live(int(pool.id)))


def test_a_redelivered_check_changes_nothing_twice(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=5)
    message = {"type": "pool.check", "tenant_id": TENANT, "pool_id": int(pool.id), "reason": "x"}
    provisioning.handle_pool_check(message)
    provisioning.handle_pool_check(message)
    assert len(broker.cloud.servers) == 2


def test_a_worker_dying_after_the_create_leaves_one_instance_after_a_scan(broker: Broker) -> None:
    center = broker.center()
    broker.cloud.fail_after_next("create_server", CloudTransient("connection reset after the request"))
    pool = broker.pool(center, threshold=1, maximum=1)
    broker.drain(only={"pool.check"})
    # The cloud made the instance; the worker never learned its id.
    assert len(broker.cloud.servers) == 1
    (record,) = desktops.of_center(TENANT, int(center.id))
    assert record.instance_id is None and record.lifecycle == "provisioning"
    scan.scan_center(TENANT, int(center.id))
    (record,) = desktops.of_center(TENANT, int(center.id))
    assert record.instance_id == next(iter(broker.cloud.servers))
    provisioning.check_pool(TENANT, int(pool.id), "after scan")  # the pool is full: nothing more
    scan.scan_center(TENANT, int(center.id))
    assert len(broker.cloud.servers) == 1
    assert len(desktops.of_center(TENANT, int(center.id))) == 1
    assert counters.total(TENANT, int(pool.id)) == 1


def test_quota_exhaustion_stops_the_pool_with_its_reason(broker: Broker) -> None:
    center = broker.center()
    broker.cloud.max_instances = 2
    pool = broker.pool(center, threshold=6, maximum=6)
    broker.drain(only={"pool.check"})
    assert len(broker.cloud.servers) == 2
    fresh = provisioning.stores.pools.get(TENANT, int(pool.id))
    assert fresh.broker_state["stopped_by_broker"] is True
    assert "quota" in fresh.broker_state["reason"].lower() or "Quota" in fresh.broker_state["reason"]
    failed = [d for d in desktops.of_tenant(TENANT) if d.lifecycle == "error"]
    assert failed and all(d.error for d in failed)
    assert provisioning.check_pool(TENANT, int(pool.id), "still stopped") == 0
    assert counters.total(TENANT, int(pool.id)) == 2


def test_an_admin_turning_provisioning_on_resumes_a_pool_stopped_by_the_broker(broker: Broker) -> None:
    center = broker.center()
    broker.cloud.max_instances = 2
    pool_id = int(broker.pool(center, threshold=5, maximum=5).id)  # 3 refused: stopped
    broker.drain(only={"pool.check"})
    assert stores.pools.get(TENANT, pool_id).broker_state["stopped_by_broker"] is True

    pools.update_pool(ADMIN, pool_id, PoolUpdate.model_validate({"notes": "quota asked for"}))
    assert stores.pools.get(TENANT, pool_id).broker_state["stopped_by_broker"] is True  # still stopped
    assert provisioning.check_pool(TENANT, pool_id, "a note saved") == 0

    broker.cloud.max_instances = 10
    provision = stores.pools.get(TENANT, pool_id).provision
    assert provision is not None
    pools.update_pool(ADMIN, pool_id, PoolUpdate.model_validate({"provision": {**provision.settings(),
                                                                               "provision_on_off": 1}}))
    assert not (stores.pools.get(TENANT, pool_id).broker_state or {}).get("stopped_by_broker")
    broker.drain(only={"pool.check"})
    assert len(live(pool_id)) == 5 and len(broker.cloud.servers) == 5


def test_an_admin_save_from_a_stale_read_keeps_what_the_jobs_wrote_meanwhile(broker: Broker) -> None:
    """The admin read the pool, then a job counted it and the worker stopped it: the admin's save writes
    the settings only, never the stale size info or an undone stop."""
    pool = broker.pool(broker.center(), threshold=0, maximum=0)
    stale = stores.pools.get(TENANT, int(pool.id))
    counted = {**(stale.stats or {}), "total_vm": 7, "counts_updated": "2026-11-21T10:00:00Z"}
    set_pool_side_state(stale, stats=counted, broker_state={"stopped_by_broker": True, "reason": "quota"})

    saved = stores.pools.update(stale, replace(stale, name="renamed", notes="edited"))

    fresh = stores.pools.get(TENANT, int(pool.id))
    assert (fresh.name, fresh.notes) == ("renamed", "edited")
    assert fresh.stats == counted
    assert fresh.broker_state == {"stopped_by_broker": True, "reason": "quota"}
    assert fresh.version == saved.version  # the copy the save returned follows it: a second save is allowed
    stores.pools.update(saved, replace(saved, name="renamed again"))


def test_quota_error_is_recognised_as_quota(broker: Broker) -> None:
    center = broker.center()
    broker.cloud.fail_next("create_server", CloudQuotaExceeded("Quota exceeded for instances: Requested 1"))
    pool = broker.pool(center, threshold=1, maximum=1)
    broker.drain(only={"pool.check"})
    failed = [d for d in desktops.of_tenant(TENANT) if d.lifecycle == "error"]
    assert failed[0].error.startswith("Quota exceeded")
    assert counters.total(TENANT, int(pool.id)) == 0


def test_an_instance_in_error_is_removed_and_marked(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=1, maximum=1)
    broker.drain(only={"pool.check"})
    (server_id,) = broker.cloud.servers
    broker.cloud.fail_build(server_id, "No valid host was found.")
    broker.drain(only={"desktop.follow"})
    assert server_id not in broker.cloud.servers
    (failed,) = [d for d in desktops.of_tenant(TENANT) if d.lifecycle == "error"]
    assert "No valid host" in failed.error
    assert counters.total(TENANT, int(pool.id)) == 0


def test_scan_marks_vanished_instances_deleted_and_discovers_foreign_ones(broker: Broker) -> None:
    center = broker.center()
    pool = broker.pool(center, threshold=2, maximum=2)
    broker.drain(only={"pool.check"})
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    gone = next(iter(broker.cloud.servers))
    broker.cloud.vanish(gone)
    from chalicelib.domain.cloud import ServerSpec

    foreign = broker.cloud.create_server(
        ServerSpec(name="hand-made", metadata={}, image="cirros-fake", flavor="m1.tiny", network="private")
    )
    result = scan.scan_center(TENANT, int(center.id))
    assert result["gone"] == 1 and result["new"] == 1
    (marked,) = [d for d in desktops.of_center(TENANT, int(center.id)) if d.instance_id == gone]
    assert marked.lifecycle == "deleted" and marked.pool_id is None
    (found,) = [d for d in desktops.of_center(TENANT, int(center.id)) if d.instance_id == foreign.id]
    assert found.pool_id == int(pool.id)  # the pool is defined by this center
    assert counters.total(TENANT, int(pool.id)) == 2  # one left, one found
    again = scan.scan_center(TENANT, int(center.id))
    assert not any(again.values()), again


def test_saving_a_pool_checks_its_parameters_against_the_center_inventory(broker: Broker) -> None:
    import pytest

    from chalicelib.domain.errors import BadData

    center = broker.center()
    broker.drain(only={"center.check"})  # the first check reads the inventory of the in-memory cloud
    with pytest.raises(BadData) as refused:
        broker.pool(
            center,
            threshold=1,
            maximum=1,
            image="no-such-image",
            security_groups=["default", "nope"],
            new_volume_type="gold",
            availability_zone="mars",
        )
    paths = {e.path for e in refused.value.errors}
    assert paths == {
        "/body/provision/center/image",
        "/body/provision/center/security_groups/1",
        "/body/provision/center/new_volume_type",
        "/body/provision/center/availability_zone",
    }
    assert broker.pool(center, threshold=1, maximum=1, security_groups=["default"], availability_zone="nova")
