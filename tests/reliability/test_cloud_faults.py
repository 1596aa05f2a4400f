"""Cloud faults made the real way against the real local OpenStack (docs/reliability.md):

* quota exceeded (a project with a quota of 2 instances), instances that go to ERROR (a flavor no host can
  take): the desktops are marked error with Nova's own message, the pool's provisioning stops after
  FAILURES_BEFORE_STOP failures in a row (Leostream's "stopped by the broker on error"), and resumes when an
  admin turns it back on;
* a paused Nova API (SIGSTOP of its uWSGI process group) and builds that never finish (SIGSTOP of
  nova-conductor): transient, nothing is marked failed for it, the center shows offline with a reason;
  a build past the build timeout is marked error "did not finish";
* refused connections, HTTP 500s and answers that come too late, through the fault proxy in front of Nova
  (tests/reliability/fault_proxy.py): transient, retried with backoff, never a duplicate instance.

While each fault lasts, the worker runs as in production (its follow-ups with their real delays) with a
pool check every 5 s — twelve times what the pool_stats schedule sends — and the requests the center's
connection sends are counted: a loop would blow the bound. Once the fault clears, the pool converges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain import messages
from chalicelib.domain import provisioning as rules
from chalicelib.schemas.pools import PoolUpdate
from chalicelib.services import centers, pools, provisioning, scan
from chalicelib.settings import reset_settings
from chalicelib.store import stores
from tests.fixtures.aws import AwsStack
from tests.reliability.conftest import (
    ADMIN,
    OPENSTACK,
    TENANT,
    Project,
    Window,
    World,
    desktops,
    paused,
    use_queue_delays,
)
from tests.reliability.fault_proxy import FaultProxy

pytestmark = OPENSTACK

# Far above what the broker sends for one pool while a fault lasts, far below what a retry loop would.
MAX_REQUESTS_PER_MINUTE = 120
READ_TIMEOUT_SECONDS = 6  # the adapter's, for these tests (30 in production): a paused API costs 2 x 6 s
FAST = 0.2  # queue delays while converging: the follow-ups' backoff, five times faster


@pytest.fixture(autouse=True)
def short_read_timeout(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before any connection to the test's project is opened (the adapter reads it then)."""
    monkeypatch.setenv("BROKER_CLOUD_READ_TIMEOUT_SECONDS", str(READ_TIMEOUT_SECONDS))
    reset_settings()


def assert_bounded(window: Window, what: str) -> None:
    assert window.per_minute < MAX_REQUESTS_PER_MINUTE, (
        f"{what}: {window.requests} requests in {window.seconds:.0f} s ({window.by_service})")


def stopped_reason(world: World, pool_id: int) -> str | None:
    state = world.fresh_pool(pool_id).broker_state or {}
    return state.get("reason") if state.get("stopped_by_broker") else None


def errors_of(world: World) -> list[str]:
    return [d.error or "" for d in world.records() if d.lifecycle == "error"]


def pool_in_fresh_project(project: Any, aws: AwsStack, label: str, *, instances: int,
                          via: Callable[[Project], Any] | None = None,
                          **pool: Any) -> tuple[Project, World, str, int]:
    """A project with that instance quota, a broker World on it (through `via`'s access if given), a pool
    of `<label><project>-` desktops with those settings, and its first check's messages dropped."""
    cloud_project: Project = project(instances=instances)
    world = World(via(cloud_project) if via else cloud_project.access, aws.queue_url)
    prefix = f"{label}{cloud_project.id[:5]}-"
    pool_id = int(world.pool(prefix, **pool).id)
    world.worker.drop_all()
    return cloud_project, world, prefix, pool_id


def admin_turns_provisioning_back_on(world: World, pool_id: int) -> None:
    """What an admin does after fixing the cause: save the pool with provision_on_off 1."""
    provision = world.fresh_pool(pool_id).stored_doc()["provision"]
    pools.update_pool(ADMIN, pool_id, PoolUpdate.model_validate({"provision": {**provision,
                                                                               "provision_on_off": 1}}))


def converge(world: World, pool_id: int, count: int, monkeypatch: pytest.MonkeyPatch,
             scans: bool = False) -> None:
    """Run the worker (follow-ups five times faster) with a pool check, and a scan if asked, every 2 s
    until the pool has `count` active desktops. Follow-ups queued earlier with their long delays are
    doubled by fresh ones (a second follow-up of a desktop is harmless: the first to see it ready wins)."""
    use_queue_delays(FAST, monkeypatch)
    for desktop in world.members(pool_id):
        if desktop.lifecycle == "provisioning" and desktop.instance_id:
            stores.queue.send(messages.desktop_follow(TENANT, int(desktop.id)))

    def tick() -> None:
        world.queue_pool_check(pool_id)
        if scans:
            stores.queue.send(messages.center_scan(TENANT, world.center_id, "schedule"))

    world.worker.run(until=lambda: len(world.active(pool_id)) == count, tick=tick, tick_every=2.0,
                     what=f"{count} active desktops in the pool")


def assert_converged(world: World, cloud_project: Project, prefix: str, pool_id: int, count: int) -> None:
    servers = cloud_project.wait_for_servers(
        lambda found: len(found) == count and all(s.status == "ACTIVE" for s in found),
        f"{count} ACTIVE servers", prefix=prefix)
    names = [s.name for s in servers]
    assert len(set(names)) == count, f"duplicate instances: {sorted(names)}"
    active = world.active(pool_id)
    assert sorted(d.instance_id for d in active) == sorted(s.id for s in servers)
    assert world.total(pool_id) == count
    assert sorted(s.metadata[rules.METADATA_DESKTOP] for s in servers) == sorted(str(d.id) for d in active)


# --- errors the cloud reports: marked, counted, the pool stopped ---------------------------------------


def test_quota_exceeded_stops_the_pool_until_an_admin_turns_it_back_on(
    aws: AwsStack, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud_project, world, prefix, pool_id = pool_in_fresh_project(
        project, aws, "quota", instances=2, threshold=2, maximum=5)
    provisioning.check_pool(TENANT, pool_id, "pool saved")
    converge(world, pool_id, 2, monkeypatch)  # the project is now full
    # (With the project empty, a burst of creates passes Nova's API check and its conductor's recheck then
    # fails an arbitrary number of them, even all but one: the quota is hit once the project is full.)
    use_queue_delays(1, monkeypatch)

    with world.measured() as window:
        provision = world.fresh_pool(pool_id).stored_doc()["provision"]
        pools.update_pool(ADMIN, pool_id, PoolUpdate.model_validate(
            {"provision": {**provision, "provision_threshold": 5}}))  # queues a check
        world.worker.run(until=lambda: stopped_reason(world, pool_id) is not None,
                         tick=lambda: world.queue_pool_check(pool_id), what="the pool is stopped")
        world.worker.run(seconds=5, tick=lambda: world.queue_pool_check(pool_id))
    assert_bounded(window, "quota exceeded")

    reason = stopped_reason(world, pool_id)
    assert reason is not None and "Quota exceeded for instances" in reason, reason
    failed = errors_of(world)
    assert len(failed) == rules.FAILURES_BEFORE_STOP, world.describe()
    assert all("Quota exceeded for instances" in error for error in failed), failed
    assert world.total(pool_id) == 2 and len(world.active(pool_id)) == 2
    assert len(cloud_project.servers(prefix)) == 2
    # Stopped: checks create nothing and cost the cloud nothing.
    with world.measured() as idle:
        world.worker.run(seconds=6, tick=lambda: world.queue_pool_check(pool_id), tick_every=2)
        assert provisioning.check_pool(TENANT, pool_id, "still stopped") == 0
    assert idle.requests == 0, idle.by_service

    cloud_project.set_quota(instances=5)
    admin_turns_provisioning_back_on(world, pool_id)
    assert stopped_reason(world, pool_id) is None
    converge(world, pool_id, 5, monkeypatch)
    assert_converged(world, cloud_project, prefix, pool_id, 5)


def test_instances_that_go_to_error_are_marked_with_novas_fault_and_stop_the_pool(
    aws: AwsStack, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud_project, world, prefix, pool_id = pool_in_fresh_project(
        project, aws, "huge", instances=10, threshold=3, maximum=3, flavor="m1.huge")
    use_queue_delays(1, monkeypatch)

    with world.measured() as window:
        assert provisioning.check_pool(TENANT, pool_id, "pool saved") == 3  # Nova accepts, then fails them
        world.worker.run(until=lambda: stopped_reason(world, pool_id) is not None,
                         tick=lambda: world.queue_pool_check(pool_id), what="the pool is stopped")
        world.worker.run(seconds=5, tick=lambda: world.queue_pool_check(pool_id))
    assert_bounded(window, "instances in ERROR")

    failed = errors_of(world)
    assert len(failed) == 3 and all("No valid host" in e for e in failed), failed
    assert "No valid host" in (stopped_reason(world, pool_id) or "")
    assert world.total(pool_id) == 0 and world.active(pool_id) == []
    cloud_project.wait_for_servers(lambda found: found == [], "the failed instances are deleted", prefix)
    assert provisioning.check_pool(TENANT, pool_id, "still stopped") == 0
    assert cloud_project.servers(prefix) == []


# --- faults that pass: nothing marked failed, bounded retries, convergence -----------------------------


def test_builds_that_never_finish_time_out_with_bounded_polling(
    aws: AwsStack, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud_project, world, prefix, pool_id = pool_in_fresh_project(
        project, aws, "stuck", instances=5, threshold=1, maximum=1)
    assert scan.check_center(TENANT, world.center_id)  # token and inventory before the fault
    monkeypatch.setenv("BROKER_BUILD_TIMEOUT_SECONDS", "8")
    use_queue_delays(1, monkeypatch)

    with paused("nova-conductor"), world.measured() as window:  # nothing gets scheduled: BUILD for ever
        assert provisioning.check_pool(TENANT, pool_id, "pool saved") == 1
        world.worker.run(until=lambda: bool(errors_of(world)), tick=lambda: world.queue_pool_check(pool_id),
                         timeout=90, what="the build is given up")
    assert_bounded(window, "a build that never finishes")
    assert world.worker.handled[messages.DESKTOP_FOLLOW] <= 3, world.worker.handled  # at 5 s and 15 s

    assert errors_of(world) == ["The build did not finish within 8 seconds"]
    assert stopped_reason(world, pool_id) is None and world.failures(pool_id) == 1
    monkeypatch.setenv("BROKER_BUILD_TIMEOUT_SECONDS", "1800")
    converge(world, pool_id, 1, monkeypatch)
    assert_converged(world, cloud_project, prefix, pool_id, 1)


def test_a_paused_nova_api_leaves_desktops_provisioning_and_the_center_offline(
    aws: AwsStack, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud_project, world, prefix, pool_id = pool_in_fresh_project(
        project, aws, "pause", instances=5, threshold=2, maximum=3)
    assert provisioning.check_pool(TENANT, pool_id, "pool saved") == 2  # warm: token, names resolved
    world.worker.drop_all()
    first, second = sorted(world.members(pool_id), key=lambda d: d.name)
    second = desktops.save(replace(second, assigned_user_id=99))  # a user took one: the pool wants one more
    use_queue_delays(1, monkeypatch)

    follow = messages.desktop_follow(TENANT, int(first.id))
    sent: list[tuple[dict[str, Any], int]] = []  # what the worker queues during the fault, with its delay
    send = stores.queue.send
    monkeypatch.setattr(stores.queue, "send", lambda message, delay_seconds=0: (
        sent.append((message, delay_seconds)), send(message, delay_seconds=delay_seconds))[1])
    with paused("nova-api"), world.measured() as window, ThreadPoolExecutor(4) as threads:
        checked = threads.submit(scan.check_center, TENANT, world.center_id)
        scanned = threads.submit(scan.scan_center, TENANT, world.center_id)
        created = threads.submit(provisioning.check_pool, TENANT, pool_id, "user assigned")
        followed = threads.submit(provisioning.follow_desktop, follow)
        outcomes = (checked.result(), scanned.result(), created.result(), followed.result())
    assert_bounded(window, "a paused Nova API")

    assert outcomes[0] is False and outcomes[2] == 0
    center = stores.centers.get(TENANT, world.center_id)
    assert center.status == centers.STATUS_OFFLINE
    assert "did not answer in time" in center.status_message, center.status_message
    assert errors_of(world) == [] and world.failures(pool_id) == 0 and stopped_reason(world, pool_id) is None
    members = {d.name: d for d in world.members(pool_id)}
    assert all(d.lifecycle == "provisioning" for d in members.values())
    assert members[first.name].instance_id == first.instance_id  # the scan marked nothing gone
    [third] = [d for d in members.values() if d.id not in (first.id, second.id)]
    assert third.instance_id is None  # the create is unconfirmed: left for the scan or a later check
    assert [(m["attempt"], delay) for m, delay in sent if m["type"] == messages.DESKTOP_FOLLOW] == [(1, 5)]

    # Nova answers again: its late create is linked by the scan (a check after STUCK_AFTER_SECONDS would
    # redo it if it had been lost), the center goes back online, every desktop finishes.
    monkeypatch.setattr(provisioning, "STUCK_AFTER_SECONDS", 30)
    converge(world, pool_id, 3, monkeypatch, scans=True)
    assert scan.check_center(TENANT, world.center_id)
    assert_converged(world, cloud_project, prefix, pool_id, 3)


@pytest.fixture
def nova_proxy() -> Iterator[tuple[FaultProxy, FaultProxy]]:
    """(nova, keystone): Keystone's catalog sends the center's compute requests through `nova`."""
    nova = FaultProxy("http://127.0.0.1:8774").start()
    keystone = FaultProxy("http://127.0.0.1:5000", rewrite={"http://127.0.0.1:8774": nova.url}).start()
    try:
        yield nova, keystone
    finally:
        keystone.stop()
        nova.stop()


def through(cloud_project: Project, keystone: FaultProxy) -> Any:
    """The project's access with Keystone (and so Nova) reached through the proxies."""
    return replace(cloud_project.access, auth_url=f"{keystone.url}/v3")


def test_refused_connections_and_http_500s_are_retried_with_backoff_and_then_converge(
    aws: AwsStack, project: Any, monkeypatch: pytest.MonkeyPatch, nova_proxy: tuple[FaultProxy, FaultProxy]
) -> None:
    nova, keystone = nova_proxy
    cloud_project, world, prefix, pool_id = pool_in_fresh_project(
        project, aws, "e500", instances=5, threshold=2, maximum=2, via=lambda made: through(made, keystone))
    use_queue_delays(1, monkeypatch)

    nova.refuse()  # Nova stopped: connection refused
    with world.measured() as refused:
        assert not scan.check_center(TENANT, world.center_id)
        assert provisioning.check_pool(TENANT, pool_id, "pool saved") == 0
        world.worker.run(seconds=8, tick=lambda: world.queue_pool_check(pool_id))
    assert_bounded(refused, "Nova refusing connections")
    assert "connection refused" in stores.centers.get(TENANT, world.center_id).status_message

    nova.clear()
    nova.fail(status=500)  # Nova up, answering 500 to everything
    monkeypatch.setattr(provisioning, "STUCK_AFTER_SECONDS", 0)  # every check retries the unconfirmed creates
    with world.measured() as failing:
        world.worker.run(seconds=10, tick=lambda: world.queue_pool_check(pool_id))
    assert_bounded(failing, "Nova answering 500")
    assert nova.count("500") >= 2
    members = world.members(pool_id)
    assert len(members) == 2 and all(d.lifecycle == "provisioning" and not d.instance_id for d in members)
    assert errors_of(world) == [] and world.failures(pool_id) == 0 and stopped_reason(world, pool_id) is None

    nova.clear()
    nova.fail(status=500, fraction=0.3)  # flaky: about one request in three fails
    converge(world, pool_id, 2, monkeypatch)
    nova.clear()
    assert errors_of(world) == [], "a 5xx must never mark a desktop failed"
    assert scan.check_center(TENANT, world.center_id)
    assert_converged(world, cloud_project, prefix, pool_id, 2)
    assert nova.count("forwarded", method="POST", path="/servers") == 2


def test_a_create_answered_too_late_is_sent_once_and_linked_by_the_scan(
    aws: AwsStack, project: Any, monkeypatch: pytest.MonkeyPatch, nova_proxy: tuple[FaultProxy, FaultProxy]
) -> None:
    nova, keystone = nova_proxy
    cloud_project, world, prefix, pool_id = pool_in_fresh_project(
        project, aws, "late", instances=5, threshold=1, maximum=1, via=lambda made: through(made, keystone))

    # Nova builds the server but its answer comes after the adapter stopped waiting.
    nova.hang(seconds=READ_TIMEOUT_SECONDS + 4, count=1, method="POST", path="/servers")
    assert provisioning.check_pool(TENANT, pool_id, "pool saved") == 0
    [desktop] = world.members(pool_id)
    assert desktop.lifecycle == "provisioning" and desktop.instance_id is None
    assert nova.count(method="POST", path="/servers") == 1, "a POST without an answer must not be sent again"
    [server] = cloud_project.wait_for_servers(lambda found: len(found) == 1, "Nova built it", prefix)

    assert scan.scan_center(TENANT, world.center_id)["updated"] == 1
    converge(world, pool_id, 1, monkeypatch)
    assert_converged(world, cloud_project, prefix, pool_id, 1)
    assert [s.id for s in cloud_project.servers(prefix)] == [server.id]
