"""The center scan's lifecycle duties: purging deleted desktops, orphans (adopted by default, removed
after a grace period when asked and only if deletable), and two scans at once changing nothing twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import ServerSpec
from chalicelib.domain.entities.centers import Center
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import pools as pool_service
from chalicelib.services import scan
from chalicelib.settings import reset_settings
from chalicelib.store.desktops import DesktopStore, PoolCounters
from chalicelib.store.models import AuditRecord
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker

desktops = DesktopStore()
DAY = 86400


def race(function: Callable[[], Any], runs: int = 2) -> list[Any]:
    barrier = threading.Barrier(runs)
    results: list[Any] = []
    errors: list[BaseException] = []

    def one() -> None:
        barrier.wait()
        try:
            results.append(function())
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def make_pool(center: Center, name: str, deletable: int) -> int:
    pool = pool_service.create_pool(ADMIN, PoolBody.model_validate({
        "name": name,
        "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
        "provision": {
            "provision_on_off": 0, "provision_threshold": 0, "provision_max": 5,
            "provision_vm_name": f"{name}-{{SEQUENCE:3}}", "provision_vm_name_next_value": 1,
            "mark_deletable": deletable,
            "center": {"type": "openstack", "id": int(center.id), "image": "cirros-fake", "flavor": "m1.tiny",
                       "network": "private", "create_new_volume": 1, "delete_volume_on_instance_delete": 1},
        },
    }))
    return int(pool.id)


def orphan(broker: Broker, name: str, pool_id: int, desktop_id: int) -> str:
    """An instance the broker made whose desktop record is missing."""
    metadata = {rules.METADATA_DESKTOP: str(desktop_id), rules.METADATA_POOL: str(pool_id),
                rules.METADATA_TENANT: str(TENANT)}
    spec = ServerSpec(name=name, metadata=metadata, image="cirros-fake", flavor="m1.tiny", network="private",
                      boot_from_volume=True)
    server = broker.cloud.create_server(spec)
    broker.cloud.advance_builds(server.id)
    return server.id


def events(event_type: str) -> list[AuditRecord]:
    return [e for e in AuditRecord.query(TENANT) if e.type == event_type]


def records_of(instance_id: str) -> list[Desktop]:
    return [d for d in desktops.of_tenant(TENANT) if d.instance_id == instance_id]


def deleted_long_ago(center: Center, days: float) -> Desktop:
    deleted_at = datetime.fromtimestamp(time.time() - days * DAY, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = desktops.new(TENANT, int(center.id), None, "old-desktop", display_name="old",
                          lifecycle="deleted", available=False, deletable=True, power_state="deleted",
                          instance_id="gone-instance", deleted_at=deleted_at)
    return desktops.save(record)


@pytest.fixture
def orphan_removal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BROKER_ORPHAN_POLICY", "remove")
    monkeypatch.setenv("BROKER_ORPHAN_GRACE_MINUTES", "30")
    reset_settings()
    yield
    reset_settings()


def test_two_scans_at_once_adopt_discover_and_purge_once(cloud_broker: Broker) -> None:
    broker = cloud_broker
    center = broker.center()
    pool_id = make_pool(center, "office", deletable=1)
    lost = orphan(broker, "office-lost", pool_id, 987_654)
    by_hand = broker.cloud.create_server(ServerSpec(name="made-by-hand", metadata={}, image="cirros-fake",
                                                    flavor="m1.tiny", network="private")).id
    old = deleted_long_ago(center, days=8)
    recent = deleted_long_ago(center, days=2)

    results = race(lambda: scan.scan_center(TENANT, int(center.id)))
    assert sum(r["adopted"] for r in results) == 1 and sum(r["new"] for r in results) == 1
    assert sum(r["purged"] for r in results) == 1

    [adopted] = records_of(lost)
    assert int(adopted.id) == 987_654 and int(adopted.pool_id) == pool_id  # the id the instance carries
    [found] = records_of(by_hand)
    assert int(found.pool_id) == pool_id
    assert desktops.find(TENANT, int(old.id)) is None
    assert desktops.find(TENANT, int(recent.id)) is not None  # 7 days by default
    assert len(events("desktop.adopted")) == 1 and len(events("desktop.purged")) == 1
    live = [d for d in desktops.of_pool(TENANT, pool_id) if d.lifecycle != "deleted"]
    assert PoolCounters().total(TENANT, pool_id) == len(live) == 2

    again = scan.scan_center(TENANT, int(center.id))
    assert (again["adopted"], again["new"], again["purged"]) == (0, 0, 0)
    assert len(records_of(lost)) == len(records_of(by_hand)) == 1


def test_orphans_are_removed_after_the_grace_period_only_if_their_pool_deletes(
        cloud_broker: Broker, orphan_removal: None) -> None:
    broker = cloud_broker
    center = broker.center()
    deletable_pool = make_pool(center, "single", deletable=1)
    kept_pool = make_pool(center, "kept", deletable=0)
    doomed = orphan(broker, "single-lost", deletable_pool, 555_001)
    volume = broker.cloud.servers[doomed].volume_ids[0]
    kept = orphan(broker, "kept-lost", kept_pool, 555_002)
    now = time.time()

    first = scan.scan_center(TENANT, int(center.id), now=now)
    assert first["orphans_removed"] == 0 and doomed in broker.cloud.servers and not records_of(doomed)
    [adopted] = records_of(kept)  # its pool keeps its desktops: adopted, never deleted
    assert int(adopted.pool_id) == kept_pool

    results = race(lambda: scan.scan_center(TENANT, int(center.id), now=now + 31 * 60))
    assert sum(r["orphans_removed"] for r in results) == 1
    assert doomed not in broker.cloud.servers and volume not in broker.cloud.volumes
    assert broker.cloud.calls["delete_server"] == 1
    assert len(events("desktop.orphan_removed")) == 1
    assert kept in broker.cloud.servers and len(records_of(kept)) == 1


def test_purging_can_be_turned_off(cloud_broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = cloud_broker
    monkeypatch.setenv("BROKER_PURGE_DELETED_DAYS", "0")
    reset_settings()
    center = broker.center()
    old = deleted_long_ago(center, days=400)
    assert scan.scan_center(TENANT, int(center.id))["purged"] == 0
    assert desktops.find(TENANT, int(old.id)) is not None
    reset_settings()
