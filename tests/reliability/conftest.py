"""Helpers of the reliability suite (docs/reliability.md).

* `project`: a factory of OpenStack projects on the real local cloud, one per test, with the quotas the
  test asks for; the demo user is a member, as a center's account would be. Everything in them is deleted
  with admin rights at teardown, whatever the outcome.
* `World`: a center and pools saved through the services (as an admin would), a worker that drains the
  queue (`Worker`), the cloud's request counter over a window of time (`measured`).
* `paused(service)`: SIGSTOP of one service's process group of the local stack, SIGCONT on the way out.
* `broker`: the in-memory cloud fixture of tests/integration/provisioning (re-exported here).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import openstack.connection
import pytest

from chalicelib.clouds import cloud_for
from chalicelib.domain import messages
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CenterAccess
from chalicelib.domain.entities.centers import Center
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.pools import Pool
from chalicelib.jobs.worker import handle_message
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import centers, pools
from chalicelib.services.centers import center_access
from chalicelib.settings import reset_settings
from chalicelib.store import stores
from chalicelib.store.aws import client
from chalicelib.store.desktops import DesktopStore, PoolCounters
from localdev.openstack import sdk, stack
from tests.fixtures.openstack import RealOpenStack
from tests.integration.provisioning.conftest import Broker, broker  # noqa: F401 - the fixture, re-exported

TENANT = 9
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")
# openstacksdk 4.x warns about its own internals on nearly every call; only that noise is silenced.
OPENSTACK = [
    pytest.mark.openstack,
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
]
SETTLE_SECONDS = 180.0

desktops = DesktopStore()
counters = PoolCounters()


# --- projects on the real cloud ----------------------------------------------------------------------


@dataclass
class Project:
    access: CenterAccess  # the demo user in this project: what the center is configured with
    id: str
    admin: openstack.connection.Connection

    def servers(self, prefix: str = "") -> list[Any]:
        """Nova's truth, seen by the admin (never through the broker's adapter)."""
        found = self.admin.compute.servers(all_projects=True, project_id=self.id)
        return [server for server in found if server.name.startswith(prefix)]

    def set_quota(self, **quota: int) -> None:
        self.admin.compute.update_quota_set(self.id, **quota)

    def wait_for_servers(self, condition: Callable[[list[Any]], bool], what: str,
                         prefix: str = "", timeout: float = SETTLE_SECONDS) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            servers = self.servers(prefix)
            if condition(servers):
                return servers
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting until {what}; servers: "
                            f"{[(s.name, s.status) for s in servers]}")
            time.sleep(1)


@pytest.fixture
def project(
    real_openstack: RealOpenStack, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Project]]:
    """`project(instances=N)`: a fresh project (rel-<test>-<random>) with that instance quota; cores and RAM
    unlimited, so that only the instance count (or the scheduler) refuses."""
    admin = sdk.admin()
    test_part = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:20].strip("-")
    with contextlib.ExitStack() as made:

        def make(instances: int = 20) -> Project:
            scratch = made.enter_context(
                sdk.scratch_project(f"rel-{test_part}", instances=instances, late_creates=True)
            )
            return Project(scratch.access, scratch.id, admin)

        yield make


# --- paused services ---------------------------------------------------------------------------------

_paused_groups: set[int] = set()


def _resume_all() -> None:
    for group in list(_paused_groups):
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGCONT)
        _paused_groups.discard(group)


atexit.register(_resume_all)  # a test run that ends abruptly never leaves a service of the stack stopped


@contextlib.contextmanager
def paused(service: str) -> Iterator[None]:
    """Freeze one daemon of the local stack (its whole process group: uWSGI master and workers, or the
    service and its forks), as a hung host or a stuck API worker would be; it resumes on the way out."""
    pid_file = stack.stack_paths().run_dir / "pids" / f"{service}.pid"
    group = int(pid_file.read_text().strip())
    _paused_groups.add(group)
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)
        _paused_groups.discard(group)


# --- the broker's side: centers, pools, the worker ----------------------------------------------------


def use_queue_delays(factor: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scale the delays the broker puts on its own follow-up messages (the test env says 0: none)."""
    monkeypatch.setenv("BROKER_QUEUE_DELAY_FACTOR", str(factor))
    reset_settings()


@dataclass
class Worker:
    """Delivers the queue's messages to the worker's handlers, as the SQS trigger does (delayed messages
    arrive when their delay is over). Counts what it handled by type; a handler's exception is kept in
    `errors` (SQS would deliver the message again)."""

    queue_url: str
    handled: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    describe: Callable[[], str] = lambda: ""  # what to show when the worker does not get there

    def receive(self) -> list[dict[str, Any]]:
        sqs = client("sqs")
        batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in batch]

    def drop_all(self) -> list[dict[str, Any]]:
        dropped: list[dict[str, Any]] = []
        while batch := self.receive():
            dropped.extend(batch)
        return dropped

    def run(self, until: Callable[[], bool] | None = None, seconds: float | None = None,
            tick: Callable[[], None] | None = None, tick_every: float = 5.0, timeout: float = SETTLE_SECONDS,
            what: str = "the condition holds") -> None:
        """Handle messages until `until()` holds (fails after `timeout`), or for `seconds`. `tick` runs
        every `tick_every` seconds (a scheduled job, e.g. pool_stats queueing a pool check)."""
        started = time.monotonic()
        next_tick = started
        while True:
            now = time.monotonic()
            if until is not None and until():
                return
            if seconds is not None and now - started >= seconds:
                return
            if until is not None and now - started > timeout:
                pytest.fail(f"the worker did not get there in {timeout:.0f} s: {what}\n"
                            f"handled {dict(self.handled)}, errors {self.errors}\n{self.describe()}")
            if tick is not None and now >= next_tick:
                tick()
                next_tick = now + tick_every
            batch = self.receive()
            for body in batch:
                self.handled[body.get("type", "?")] += 1
                try:
                    handle_message(json.dumps(body))
                except Exception as error:  # the handler asks SQS to try again later
                    self.errors.append(f"{body.get('type')}: {error!r}")
            if not batch:
                time.sleep(0.3)


@dataclass
class Window:
    requests: int = 0
    seconds: float = 0.0
    by_service: dict[str, int] = field(default_factory=dict)

    @property
    def per_minute(self) -> float:
        return self.requests * 60.0 / max(self.seconds, 1.0)


@dataclass
class World:
    """One test's broker: a center on a project of the real cloud, pools in it, its queue and worker."""

    access: CenterAccess
    queue_url: str
    tenant_id: int = TENANT
    center: Center | None = None
    worker: Worker = field(init=False)

    def __post_init__(self) -> None:
        self.worker = Worker(self.queue_url)
        self.worker.describe = self.describe
        suffix = uuid.uuid4().hex[:6]
        self.center = centers.create_center(
            ADMIN,
            "openstack",
            CenterCreate(center_definition=CenterDefinition(
                name=f"rel-{suffix}", vc_url=self.access.auth_url, vc_domain=self.access.domain,
                vc_datacenter=self.access.project, vc_name=self.access.username,
                vc_password=self.access.password, vc_version=self.access.region or "",
                allow_cleartext_password=int(self.access.auth_url.startswith("http://")))),
        )

    @property
    def center_id(self) -> int:
        assert self.center is not None
        return int(self.center.id)

    def pool(self, prefix: str, threshold: int, maximum: int, flavor: str = "m1.tiny",
             **center_settings: Any) -> Pool:
        return pools.create_pool(
            ADMIN,
            PoolBody.model_validate({
                "name": f"pool-{prefix}",
                "pool_definition": {"restrict_by": "C", "server_ids": [self.center_id]},
                "provision": {
                    "provision_on_off": 1,
                    "provision_threshold": threshold,
                    "provision_max": maximum,
                    "provision_vm_name": prefix + "{SEQUENCE:2}",
                    "provision_vm_name_next_value": 1,
                    "center": {"type": "openstack", "id": self.center_id, "image": "cirros-fake",
                               "flavor": flavor, "network": "private", **center_settings},
                },
            }),
        )

    def describe(self) -> str:
        """The broker's view, for failure messages."""
        lines = [f"desktop {d.id} {d.name}: {d.lifecycle} pool={d.pool_id} instance={d.instance_id} "
                 f"power={d.power_state} error={d.error!r}" for d in self.records()]
        for pool in stores.pools.list(self.tenant_id):
            lines.append(f"pool {pool.id}: total={self.total(int(pool.id))} "
                         f"failures={self.failures(int(pool.id))} broker_state={pool.broker_state}")
        return "\n".join(lines)

    def cloud(self) -> Any:
        """The adapter the worker uses for this center (same cached connection, so the same counter)."""
        return cloud_for(center_access(stores.centers.get(self.tenant_id, self.center_id)))

    def members(self, pool_id: int) -> list[Desktop]:
        """The pool's desktop records, read consistently."""
        return [d for d in desktops.of_tenant(self.tenant_id) if d.pool_id is not None
                and int(d.pool_id) == pool_id]

    def records(self) -> list[Desktop]:
        return list(desktops.of_tenant(self.tenant_id))

    def fresh_pool(self, pool_id: int) -> Pool:
        return stores.pools.get(self.tenant_id, pool_id)

    def total(self, pool_id: int) -> int | None:
        return counters.total(self.tenant_id, pool_id)

    def failures(self, pool_id: int) -> int:
        return counters._read(counters._key("failures", self.tenant_id, pool_id)) or 0

    def active(self, pool_id: int) -> list[Desktop]:
        return [d for d in self.members(pool_id) if d.lifecycle == "active"]

    def queue_pool_check(self, pool_id: int) -> None:
        """What pool_stats does every minute for a provisioning pool."""
        stores.queue.send(messages.pool_check(self.tenant_id, pool_id, "pool_stats"))

    @contextlib.contextmanager
    def measured(self) -> Iterator[Window]:
        """Requests this center's connection sends (retries included) while the block runs."""
        cloud = self.cloud()
        before, started = cloud.request_counts, time.monotonic()
        window = Window()
        try:
            yield window
        finally:
            spent = cloud.request_counts - before
            window.requests, window.seconds = spent.total, time.monotonic() - started
            window.by_service = spent.as_dict()
