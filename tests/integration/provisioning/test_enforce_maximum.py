"""`provision_limits_enforce`: which desktops `enforce_maximum` takes for deletion, what it writes on
them, and the volume of a failed build (in-memory cloud, moto). Written from the mutation-testing
survivors of `chalicelib/services/provisioning.py` (docs/reliability.md, "Mutation testing")."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.clock import utc_iso
from chalicelib.domain import time_limits
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.pools import Pool
from chalicelib.services import provisioning, tenants
from chalicelib.store import stores
from chalicelib.store.aws import client
from chalicelib.store.desktops import DesktopStore, record_of
from chalicelib.store.models import AuditRecord
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()


def enforced_pool(broker: Broker, count: int, maximum: int) -> tuple[Pool, list[int]]:
    """A pool of `count` built, idle, deletable desktops whose enforced maximum is now `maximum`."""
    pool_id, ids = broker.ready_pool(threshold=count, maximum=count, provision={"mark_deletable": 1})
    pool = stores.pools.get(TENANT, pool_id)
    assert pool.provision is not None
    pool = replace(pool, provision=replace(pool.provision, provision_threshold=0, provision_max=maximum,
                                           provision_limits_enforce=1))
    return pool, ids


def members(pool: Pool) -> list[Desktop]:
    return desktops.of_pool(TENANT, int(pool.id))


def edit(desktop_id: int, **doc: Any) -> None:
    """Write keys into the desktop's document: its fields, or keys it does not know."""
    desktop = desktops.get(TENANT, desktop_id)
    known = {k: v for k, v in doc.items() if k in Desktop.document_fields()}
    other = {k: v for k, v in doc.items() if k not in known}
    desktops.save(replace(desktop, **known, unknown={**desktop.unknown, **other}))


def queued_deletes(broker: Broker) -> list[int]:
    sqs = client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=broker.aws.queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in batch:
            body = json.loads(message["Body"])
            if body["type"] == "desktop.delete":
                found.append(int(body["desktop_id"]))
            sqs.delete_message(QueueUrl=broker.aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return sorted(found)


def test_a_desktop_taken_for_deletion_leaves_the_offer_and_shows_the_request(broker: Broker) -> None:
    pool, ids = enforced_pool(broker, count=2, maximum=1)
    requested = provisioning.enforce_maximum(pool, members(pool))
    assert len(requested) == 1 and requested[0] in ids
    taken = desktops.get(TENANT, requested[0])
    assert taken.available is False  # never offered while its deletion waits in the queue
    assert taken.pending_action == "delete"
    assert taken.pending_since
    (kept,) = [i for i in ids if i != requested[0]]
    assert desktops.get(TENANT, kept).available is True
    assert queued_deletes(broker) == requested
    (event,) = [e for e in AuditRecord.query(TENANT) if e.type == "desktop.delete_requested"]
    assert (event.pool_id, event.desktop_id) == (int(pool.id), requested[0])
    assert taken.name in event.message


def test_deleted_and_failed_desktops_do_not_count_against_the_maximum(broker: Broker) -> None:
    pool, ids = enforced_pool(broker, count=3, maximum=1)
    for desktop_id, lifecycle in zip(ids[:2], ("deleted", "error"), strict=True):
        desktop = desktops.get(TENANT, desktop_id)
        desktop = desktops.save(replace(desktop, lifecycle=lifecycle))
    assert provisioning.enforce_maximum(pool, members(pool)) == []
    assert desktops.get(TENANT, ids[2]).available is True


def test_a_registered_desktop_is_never_removed(broker: Broker) -> None:
    """A registered desktop is not the broker's to delete (no cloud of ours behind it)."""
    pool, ids = enforced_pool(broker, count=2, maximum=0)
    edit(ids[0], registered=True)
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]
    assert desktops.get(TENANT, ids[0]).available is True
    assert stores.pools.get(TENANT, int(pool.id)).broker_state["over_max"] == 1


def test_a_desktop_with_a_pending_power_action_is_left_alone(broker: Broker) -> None:
    pool, ids = enforced_pool(broker, count=2, maximum=0)
    edit(ids[0], pending_action="stop")
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]
    assert desktops.get(TENANT, ids[0]).pending_action == "stop"


def test_a_pending_delete_counts_as_already_on_its_way_out(broker: Broker) -> None:
    """A second check while the first one's delete is queued asks for nothing more."""
    pool, _ = enforced_pool(broker, count=3, maximum=2)
    first = provisioning.enforce_maximum(pool, members(pool))
    assert len(first) == 1
    assert provisioning.enforce_maximum(pool, members(pool)) == []


def test_a_desktop_with_a_session_is_kept(broker: Broker) -> None:
    pool, ids = enforced_pool(broker, count=2, maximum=0)
    edit(ids[0], session={"state": "connected", "user": "alice", "since": "2026-01-01T00:00:00Z"})
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]


def test_the_desktop_idle_longest_goes_first(broker: Broker) -> None:
    """The later desktop was released first: it goes, though the other one has the lower id."""
    pool, ids = enforced_pool(broker, count=2, maximum=1)
    edit(ids[0], released_at=utc_iso(time.time() + 120))  # later than their creation
    edit(ids[1], released_at=utc_iso(time.time() + 60))
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]


def test_a_session_that_ended_later_keeps_its_desktop(broker: Broker) -> None:
    """The agent's last session change is use: of two desktops logged out, the one left earlier goes
    (both were released and offered at the same earlier time: the latest of all four moments counts)."""
    pool, ids = enforced_pool(broker, count=2, maximum=1)
    for desktop_id, since in zip(ids, (time.time() + 120, time.time() + 60), strict=True):
        desktop = desktops.get(TENANT, desktop_id)
        desktop = desktops.save(replace(desktop, last_offered=int(time.time() + 30)))
        edit(desktop_id, released_at=utc_iso(time.time() + 30),
             session={"state": "logged_out", "user": None, "since": utc_iso(since)})
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]


def test_a_desktop_offered_later_is_kept(broker: Broker) -> None:
    """A claim by a login is use too: the desktop offered earlier goes."""
    pool, ids = enforced_pool(broker, count=2, maximum=1)
    for desktop_id, offered in zip(ids, (time.time() + 120, time.time() + 60), strict=True):
        desktop = desktops.get(TENANT, desktop_id)
        desktop = desktops.save(replace(desktop, last_offered=int(offered)))
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]


def test_a_desktop_never_used_is_idle_since_its_creation(broker: Broker) -> None:
    """Neither was released, offered or logged into: the one created earlier goes."""
    pool, ids = enforced_pool(broker, count=2, maximum=1)
    older = desktops.get(TENANT, ids[1])
    older = desktops.save(replace(older, created=utc_iso(time.time() - 3600)))
    assert {d.last_offered for d in members(pool)} == {None}
    assert provisioning.enforce_maximum(pool, members(pool)) == [ids[1]]


def test_the_maximum_in_force_is_read_in_the_tenant_s_zone(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool naming no zone reads its ranges in its tenant's: Monday 08:00-10:00 in Berlin, maximum 1,
    is in force at 07:30 UTC in March (UTC+1); read in UTC it would not be, and the maximum is then 2."""
    monkeypatch.setattr(tenants, "default_time_zone", lambda tenant_id: "Europe/Berlin")
    pool, _ = enforced_pool(broker, count=2, maximum=2)
    assert pool.provision is not None
    pool = replace(pool, provision=replace(pool.provision, time_limits=time_limits.normalized([
        {"provision_time_day": 0, "provision_time_start": "08:00", "provision_time_stop": "10:00",
         "provision_time_threshold": 0, "provision_time_max_size": 1}])))
    monday = 1772409600  # 2026-03-02 00:00 UTC, a Monday
    with clock.controlled(monday + 7.5 * 3600):
        assert len(provisioning.enforce_maximum(pool, members(pool))) == 1


def test_a_desktop_written_meanwhile_is_skipped_and_the_next_one_still_goes(broker: Broker) -> None:
    """The first choice was saved after the check read it (a claim, a heartbeat): its write conflicts,
    it is left for the next check, and the other surplus desktop is still requested."""
    pool, ids = enforced_pool(broker, count=2, maximum=0)
    edit(ids[1], released_at=utc_iso(time.time() + 60))  # ids[0] is idle longest: first in line
    read = members(pool)
    edit(ids[0], heartbeat="2026-01-03T00:00:00Z")  # the check's copy is now stale
    assert provisioning.enforce_maximum(pool, read) == [ids[1]]
    assert desktops.get(TENANT, ids[0]).pending_action is None


def test_the_pool_records_how_many_stay_above_and_clears_it_when_back_under(broker: Broker) -> None:
    pool, ids = enforced_pool(broker, count=2, maximum=0)
    kept = desktops.get(TENANT, ids[0])
    kept = desktops.save(replace(kept, assigned_user_id=5))
    provisioning.enforce_maximum(pool, members(pool))
    assert stores.pools.get(TENANT, int(pool.id)).broker_state["over_max"] == 1
    kept = desktops.save(replace(desktops.get(TENANT, ids[0]), assigned_user_id=None, lifecycle="deleted"))
    pool = stores.pools.get(TENANT, int(pool.id))
    assert pool.provision is not None
    pool = replace(pool, provision=replace(pool.provision, provision_threshold=0, provision_max=0,
                                           provision_limits_enforce=1))
    provisioning.enforce_maximum(pool, members(pool))
    assert stores.pools.get(TENANT, int(pool.id)).broker_state["over_max"] == 0


def test_the_volume_of_a_failed_build_is_deleted_even_if_the_cloud_would_keep_it(broker: Broker) -> None:
    """Nova may leave a failed build's boot volume behind whatever its delete-on-termination says; the
    broker asks for it to go too (the adapter deletes the leftover), so no volume leaks per failed build."""
    center = broker.center()
    broker.drain(only={"center.check"})
    broker.pool(center, threshold=1, maximum=1, create_new_volume=1)
    broker.drain(only={"pool.check"})
    (server_id,) = broker.cloud.servers
    (volume,) = broker.cloud.volumes.values()
    volume.delete_on_termination = False  # what the cloud would do on its own: keep it
    broker.cloud.fail_build(server_id, "No valid host was found.")
    broker.drain(only={"desktop.follow"})
    assert server_id not in broker.cloud.servers
    assert broker.cloud.volumes == {}


def test_a_failed_build_keeps_its_volume_when_the_pool_says_so(broker: Broker) -> None:
    center = broker.center()
    broker.drain(only={"center.check"})
    broker.pool(center, threshold=1, maximum=1, create_new_volume=1, delete_volume_on_instance_delete=0)
    broker.drain(only={"pool.check"})
    (server_id,) = broker.cloud.servers
    broker.cloud.fail_build(server_id, "No valid host was found.")
    broker.drain(only={"desktop.follow"})
    assert server_id not in broker.cloud.servers
    (volume,) = broker.cloud.volumes.values()
    assert volume.server_id is None


def test_a_failed_build_of_a_record_without_the_volume_setting_deletes_its_volume(broker: Broker) -> None:
    """A record adopted by the scan (`_adopt`) carries no `delete_volume_on_instance_delete`: the default
    is to delete the volume, so an adopted build that fails leaks nothing either."""
    center = broker.center()
    broker.drain(only={"center.check"})
    broker.pool(center, threshold=1, maximum=1, create_new_volume=1)
    broker.drain(only={"pool.check"})
    (server_id,) = broker.cloud.servers
    (volume,) = broker.cloud.volumes.values()
    volume.delete_on_termination = False
    (desktop,) = [d for d in desktops.of_tenant(TENANT) if d.instance_id == server_id]
    # a record of before the setting existed: no `delete_volume_on_instance_delete` key, read as True
    stored = record_of(desktop)
    stored.doc = {k: v for k, v in stored.doc.items() if k != "delete_volume_on_instance_delete"}
    stored.save()
    assert desktops.get(TENANT, desktop.id).delete_volume_on_instance_delete is True
    broker.cloud.fail_build(server_id, "No valid host was found.")
    broker.drain(only={"desktop.follow"})
    assert broker.cloud.volumes == {}
