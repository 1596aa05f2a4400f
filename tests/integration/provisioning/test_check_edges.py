"""A pool check and a build's follow at their edges: a pool the broker stopped, a center switched off or
gone, a pool deleted or left while its desktop builds, the reason a check was asked for, the failures a
build counts, the precision of "seconds to ready", and a clock in another time zone (in-memory cloud,
moto). Written from the fourth run's mutation survivors of `chalicelib/services/provisioning.py`
(docs/reliability.md, "Mutation testing")."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.clock import epoch_of
from chalicelib.domain import messages
from chalicelib.domain.cloud import CloudConflict, CloudTransient, PowerState
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.token_digest import token_hash
from chalicelib.services import pools, provisioning
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters
from chalicelib.store.models import AuditRecord
from chalicelib.store.pending_checks import PendingChecks
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker
from tests.integration.provisioning.test_enforce_maximum import enforced_pool
from tests.integration.provisioning.test_follow import building
from tests.integration.provisioning.test_provisioning_actions import action, built

desktops = DesktopStore()
counters = PoolCounters()


def the_desktop() -> Desktop:
    (desktop,) = desktops.of_tenant(TENANT)
    return desktop


def events(kind: str) -> list[AuditRecord]:
    return [e for e in AuditRecord.query(TENANT) if e.type == kind]


def saved_pool(broker: Broker, **center_settings: Any) -> int:
    """A pool of three whose first check is left on the queue: the pool's id."""
    center = broker.center()
    broker.drain(only={"center.check"})
    return int(broker.pool(center, threshold=3, maximum=3, **center_settings).id)


def test_a_check_clears_its_pending_mark_and_its_audit_says_why_it_ran(broker: Broker) -> None:
    pool_id = saved_pool(broker)
    marks = PendingChecks()
    assert marks.try_mark(TENANT, pool_id, 300) is True
    assert marks.try_mark(TENANT, pool_id, 300) is False  # the login burst queues one check, not many
    provisioning.handle_pool_check(messages.pool_check(TENANT, pool_id, "login"))
    assert marks.try_mark(TENANT, pool_id, 300) is True  # the next login after this check queues again
    [event] = events("provision.requested")
    assert event.message.endswith("creating 3 desktop(s) (login)")
    assert event.pool_id == pool_id
    assert sorted(event.details["names"]) == sorted(d.name for d in desktops.of_pool(TENANT, pool_id))


@pytest.mark.parametrize("ask", [
    lambda pool_id: provisioning.check_pool(TENANT, pool_id),
    lambda pool_id: provisioning.handle_pool_check(
        {"type": "pool.check", "tenant_id": TENANT, "pool_id": pool_id}),
], ids=["called", "message without a reason"])
def test_a_check_asked_without_a_reason_says_check(broker: Broker, ask: Any) -> None:
    pool_id = saved_pool(broker)
    ask(pool_id)
    [event] = events("provision.requested")
    assert event.message.endswith("creating 3 desktop(s) (check)")


def test_a_pool_the_broker_stopped_creates_nothing(broker: Broker) -> None:
    pool_id = saved_pool(broker)
    provisioning.stop_pool_provisioning(stores.pools.get(TENANT, pool_id), "three failures")
    assert provisioning.check_pool(TENANT, pool_id, "login") == 0
    assert broker.cloud.servers == {} and desktops.of_pool(TENANT, pool_id) == []


def test_a_pool_whose_center_is_switched_off_creates_nothing(broker: Broker) -> None:
    pool_id = saved_pool(broker)
    (center,) = stores.centers.list(TENANT)
    stores.centers.update(center, dataclasses.replace(center, active=0))
    assert provisioning.check_pool(TENANT, pool_id, "login") == 0
    assert broker.cloud.servers == {} and desktops.of_pool(TENANT, pool_id) == []


def test_a_pool_whose_center_is_gone_creates_nothing(broker: Broker) -> None:
    pool_id = saved_pool(broker)
    (center,) = stores.centers.list(TENANT)
    stores.centers.delete(center)
    assert provisioning.check_pool(TENANT, pool_id, "login") == 0
    assert broker.cloud.servers == {} and desktops.of_pool(TENANT, pool_id) == []


def test_a_desktop_whose_pool_was_deleted_while_it_built_still_becomes_ready(broker: Broker) -> None:
    pool_id, _, follow = building(broker)
    pools.delete_pool(ADMIN, pool_id)
    broker.cloud.advance_builds()
    provisioning.follow_desktop(follow)
    desktop = the_desktop()
    assert (desktop.lifecycle, desktop.available, desktop.power_state) == ("active", True, "running")


def test_a_desktop_that_left_its_pool_while_it_built_fails_without_a_pool(broker: Broker) -> None:
    pool_id, server_id, follow = building(broker)
    counters.move(the_desktop(), None)
    broker.cloud.vanish(server_id)
    provisioning.follow_desktop(follow)
    failed = the_desktop()
    assert (failed.lifecycle, failed.failed_pool_id) == ("error", None)
    [event] = events("provision.failed")
    assert event.pool_id is None
    assert counters.add_failure(TENANT, pool_id) == 1  # the pool it left counts no failure of it


def test_an_instance_gone_during_its_build_counts_a_failure_of_its_pool(broker: Broker) -> None:
    pool_id, server_id, follow = building(broker)
    broker.cloud.vanish(server_id)
    provisioning.follow_desktop(follow)
    assert counters.add_failure(TENANT, pool_id) == 2


def test_a_build_past_its_timeout_counts_a_failure_of_its_pool(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_id, _, follow = building(broker)
    monkeypatch.setattr(provisioning, "clock", lambda: time.time() + 31 * 60)
    provisioning.follow_desktop(follow)
    assert the_desktop().lifecycle == "error"
    assert counters.add_failure(TENANT, pool_id) == 2


@pytest.fixture
def tokyo() -> Iterator[None]:
    """The process's local time zone nine hours ahead of UTC (Lambda runs in UTC, a laptop may not)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        yield
    time.tzset()


def test_a_build_s_age_is_the_same_in_any_local_time_zone(
    broker: Broker, tokyo: None, sent: list[tuple[dict[str, Any], int]]
) -> None:
    _, server_id, follow = building(broker)
    sent.clear()
    provisioning.follow_desktop(follow)
    assert the_desktop().lifecycle == "provisioning"  # a fresh build, not nine hours old
    assert server_id in broker.cloud.servers and len(sent) == 1


@pytest.mark.parametrize(("took", "told"), [(12.34, 12.3), (0.25, 0.2)])
def test_seconds_to_ready_are_told_to_a_tenth(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, took: float, told: float
) -> None:
    _, _, follow = building(broker)
    created = epoch_of(the_desktop().created)
    assert created is not None
    monkeypatch.setattr(provisioning, "clock", lambda: created + took)
    broker.cloud.advance_builds()
    provisioning.follow_desktop(follow)
    [event] = events("provision.completed")
    assert event.details["seconds_to_ready"] == told


@pytest.mark.parametrize("after_the_refusal", ["stopped", "gone"])
def test_a_start_refused_while_the_instance_does_not_show_it_running_is_tried_again(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, sent: list[tuple[dict[str, Any], int]],
    after_the_refusal: str,
) -> None:
    """A 409 counts as done only when the server then shows the action's state; an instance still stopped
    (Nova busy stopping it) or gone meanwhile makes the follow try again."""
    pool_id, _ = built(broker, [action("start"), action("set_available")])
    refusals: list[str] = []
    read = broker.cloud.get_server

    def server_read(server_id: str) -> Any:
        if not refusals:
            return read(server_id)
        return None if after_the_refusal == "gone" else dataclasses.replace(
            read(server_id), power_state=PowerState.STOPPED)

    def refused(server_id: str, *_: Any) -> None:
        refusals.append(server_id)
        raise CloudConflict("Cannot 'start' instance while it is in task_state powering-off")

    monkeypatch.setattr(broker.cloud, "get_server", server_read)
    monkeypatch.setattr(broker.cloud, "power", refused)
    (follow,) = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_FOLLOW]
    sent.clear()
    provisioning.follow_desktop(follow)
    (desktop,) = desktops.of_pool(TENANT, pool_id)
    assert desktop.lifecycle == "provisioning" and len(refusals) == 1
    [(again, delay)] = sent
    assert (again["type"], again["step"], delay) == (messages.DESKTOP_FOLLOW, 0, 5)


def test_a_retried_follow_keeps_the_step_it_was_at(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    """A follow that resumed at an action after its wait and then met a cloud error retries that action,
    not the list from the start."""
    built(broker, [action("poweroff"), action("set_available", wait=30)])
    broker.cloud.fail_next("get_server", CloudTransient("Nova is restarting"))
    sent.clear()
    provisioning.follow_desktop(messages.desktop_follow(TENANT, int(the_desktop().id), 0, 1))
    [(again, _)] = sent
    assert (again["attempt"], again["step"]) == (1, 1)


def test_a_shrink_says_why_and_since_when_on_the_desktop_and_its_delete(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, _ = enforced_pool(broker, count=2, maximum=1)
    pool_id = int(pool.id)
    now = time.time() - 7200.0  # the check's own clock, not the wall's
    monkeypatch.setattr(provisioning, "clock", lambda: now)
    [desktop_id] = provisioning.enforce_maximum(pool, desktops.of_pool(TENANT, pool_id))
    assert epoch_of(desktops.get(TENANT, desktop_id).pending_since) == int(now)
    [delete] = [m for m in broker.aws.queued() if m["type"] == "desktop.delete"]
    assert (delete["desktop_id"], delete["reason"]) == (desktop_id, "above the pool's maximum")


def test_only_power_actions_cost_a_second_read_of_the_server(broker: Broker) -> None:
    """The server is read again after the actions only when one of them changed its power state."""
    built(broker, [action("set_unavailable"), action("set_available")])
    (follow,) = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_FOLLOW]
    before = broker.cloud.calls["get_server"]
    provisioning.follow_desktop(follow)
    assert the_desktop().lifecycle == "active"
    assert broker.cloud.calls["get_server"] - before == 1


def test_a_check_counts_no_create_the_cloud_refused_or_that_was_handed_back(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check_pool answers how many creates the cloud accepted: three refused (the pool then stops) and two
    handed back unsent are none."""
    monkeypatch.setattr(provisioning, "CREATE_CONCURRENCY", 1)
    center = broker.center()
    broker.drain(only={"center.check"})
    broker.cloud.max_instances = 0
    pool_id = int(broker.pool(center, threshold=5, maximum=5).id)
    assert provisioning.check_pool(TENANT, pool_id, "test") == 0
    assert desktops.of_pool(TENANT, pool_id) == []  # all five failed, out of the pool


def test_the_creates_of_a_check_s_own_new_records_cost_no_claim(broker: Broker) -> None:
    """Records this check just wrote cannot be taken for stuck by another, nor have an instance yet: no
    conditional stamp and no search of the cloud before their creates."""
    pool_id = saved_pool(broker)
    assert provisioning.check_pool(TENANT, pool_id, "test") == 3
    assert [d.create_claimed_at for d in desktops.of_pool(TENANT, pool_id)] == [None] * 3
    assert broker.cloud.calls["find_servers"] == 0



def test_each_assigned_desktop_counts_once_against_the_threshold(broker: Broker) -> None:
    """Two desktops, one assigned, threshold 2 (maximum 6, out of the way): one more makes two unassigned."""
    center = broker.center()
    broker.drain(only={"center.check"})
    pool_id = int(broker.pool(center, threshold=2, maximum=6).id)
    broker.drain(only={"pool.check"})
    first, _ = desktops.of_pool(TENANT, pool_id)
    desktops.save(dataclasses.replace(first, assigned_user_id=99))
    assert provisioning.check_pool(TENANT, pool_id, "user assigned") == 1
    assert provisioning.check_pool(TENANT, pool_id, "again") == 0
    assert len(broker.cloud.servers) == 3


def test_a_pool_without_a_network_builds_on_its_center_s_network(broker: Broker) -> None:
    private = "22222222-2222-4222-8222-222222222222"  # the in-memory cloud's "private" network
    center = broker.center(network_uuid=private)
    broker.drain(only={"center.check"})
    pool_id = int(broker.pool(center, threshold=1, maximum=1, network="").id)
    assert provisioning.check_pool(TENANT, pool_id, "test") == 1
    assert [spec.network for spec in broker.cloud.specs.values()] == [private]


def test_a_new_instance_carries_its_desktop_s_registration_in_its_user_data(broker: Broker) -> None:
    """What the agent registers with (tests/integration/lifecycle registers real agents with it)."""
    pool_id = saved_pool(broker)
    provisioning.check_pool(TENANT, pool_id, "test")
    for desktop in desktops.of_pool(TENANT, pool_id):
        user_data = broker.cloud.specs[str(desktop.instance_id)].user_data or ""
        assert user_data.startswith("#cloud-config\n")
        [entry] = json.loads(user_data.split("\n", 1)[1])["write_files"]
        registration = json.loads(entry["content"])
        assert (registration["tenant_id"], registration["desktop_id"]) == (TENANT, desktop.id)
        assert token_hash(registration["registration_token"]) == desktop.registration_hash
