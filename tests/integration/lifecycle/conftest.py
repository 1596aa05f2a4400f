"""Desktop lifecycle end to end: the admin and client APIs (chalice.test.Client), the broker served over
HTTP on 127.0.0.1 for the reference agent (agent/broker_agent.py, run as a real subprocess), DynamoDB and
SQS in moto (in this process, where the server thread runs), and the in-memory cloud.

The desktops' addresses are records only (198.51.100.0/24, 203.0.113.0/24): nothing ever connects to
them; the agent talks to the broker, never the other way round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app import app
from chalicelib.clouds import use_cloud_factory
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.services import client_cache
from chalicelib.store.desktops import DesktopStore
from tests.fakes.cloud import InMemoryCloud
from tests.fixtures.aws import AwsStack
from tests.integration.api.builders import (
    assign_pool,
    create_center,
    create_policy,
    create_pool,
    create_user,
    fast_test_backends,
)
from tests.integration.api.conftest import (  # noqa: F401 - fixtures used by the lifecycle tests
    Api,
    Reply,
    TenantAdmin,
    api,
    make_tenant,
    other_tenant,
    system_sid,
    tenant,
)
from tests.integration.provisioning.conftest import Broker

ROOT = Path(__file__).resolve().parents[3]
AGENT = ROOT / "agent" / "broker_agent.py"
USER_PASSWORD = "user-pw-123"
desktops = DesktopStore()


@pytest.fixture(autouse=True)
def fast_and_fresh() -> Iterator[None]:
    with fast_test_backends():
        client_cache.clear_all()
        yield
        client_cache.clear_all()


@contextmanager
def served(app_object: Any) -> Iterator[str]:
    """The app on a port, served as `make run` serves it (localdev/http_server.py)."""
    from localdev.http_server import BrokerHttpServer

    server = BrokerHttpServer(app_object, "127.0.0.1", 0).start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class AgentRun:
    code: int
    lines: list[Any]
    stderr: str

    @property
    def last(self) -> Any:
        return self.lines[-1] if self.lines else None

    def commands(self) -> list[dict[str, Any]]:
        return [line["command"] for line in self.lines if isinstance(line, dict) and "command" in line
                and isinstance(line["command"], dict) and "action" in line["command"] and len(line) == 1]


@dataclass
class ReferenceAgent:
    """The reference agent of one desktop, run as a subprocess against the served broker."""

    url: str
    state: Path

    def __call__(self, *args: str, commands: str = "print", expect: int | None = 0) -> AgentRun:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        result = subprocess.run(
            [sys.executable, str(AGENT), "--state", str(self.state), "--commands", commands, *args],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )
        lines = []
        for line in result.stdout.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append(line)
        run = AgentRun(result.returncode, lines, result.stderr)
        if expect is not None:
            assert run.code == expect, (run.code, lines, result.stderr[-2000:])
        return run

    def register(self, desktop: Desktop, registration_file: Path, expect: int = 0) -> AgentRun:
        return self("register", "--broker", self.url, "--instance-uuid", str(desktop.instance_id),
                    "--registration-file", str(registration_file), expect=expect)

    def event(self, name: str, user: str | None = None, **kwargs: Any) -> AgentRun:
        return self("event", name, *(["--user", user] if user else []), **kwargs)

    def saved(self) -> dict[str, Any]:
        return json.loads(self.state.read_text())


@dataclass
class LifecycleWorld:
    """One tenant with a center on the in-memory cloud, a provisioning pool, and helpers."""

    api: Api
    tenant: TenantAdmin
    broker: Broker
    url: str
    tmp: Path
    center_id: int = 0
    agents: dict[int, ReferenceAgent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.center_id = create_center(self.api, self.tenant.sid, "lab")["id"]

    @property
    def cloud(self) -> InMemoryCloud:
        return self.broker.cloud

    @property
    def sid(self) -> str:
        return self.tenant.sid

    def pool(self, name: str = "desktops", threshold: int = 1, maximum: int = 2, deletable: int = 1,
             **center: Any) -> int:
        provision_center = {
            "type": "openstack", "id": self.center_id, "image": "cirros-fake", "flavor": "m1.tiny",
            "network": "private", "availability_zone": "nova", "security_groups": ["default"],
            "create_new_volume": 1, "new_volume_size": 1, "delete_volume_on_instance_delete": 1,
            "provisioning_actions": [], **center,
        }
        pool = create_pool(self.api, self.sid, self.center_id, name, provision={
            "provision_on_off": 1, "provision_threshold": threshold, "provision_max": maximum,
            "provision_vm_name": f"{name}-{{SEQUENCE:3}}", "provision_vm_name_next_value": 1,
            "provision_vm_display_name": "Desktop {SEQUENCE}", "mark_deletable": deletable,
            "mark_unavailable": 0, "center": provision_center,
        })
        return int(pool["id"])

    def provision(self) -> None:
        """Run the worker until the pools are stocked and every new instance is ready."""
        for _ in range(5):
            self.broker.drain()
            if not self.cloud.advance_builds():
                break
        self.broker.drain()

    def release_plan(self, name: str, **sections: Any) -> int:
        reply = self.api.call("POST", "/rest/v1/plans/release", {"name": name, **sections}, sid=self.sid)
        assert reply.status == 201, reply.body
        return int(reply.body["stored_data"]["id"])

    def power_plan(self, name: str, **sections: Any) -> int:
        reply = self.api.call("POST", "/rest/v1/plans/power-control", {"name": name, **sections},
                              sid=self.sid)
        assert reply.status == 201, reply.body
        return int(reply.body["stored_data"]["id"])

    def policy(self, pool_id: int, **assignment: Any) -> int:
        policy = create_policy(self.api, self.sid, "Default policy", is_default=1)
        assign_pool(self.api, self.sid, policy["id"], pool_id, **assignment)
        return int(policy["id"])

    def user(self, login: str) -> int:
        return create_user(self.api, self.sid, login, password=USER_PASSWORD)

    def client_login(self, login: str) -> list[dict[str, Any]]:
        reply = self.api.call("POST", "/client/v1/login",
                              {"user_login": login, "password": USER_PASSWORD, "domain": self.tenant.name})
        assert reply.status == 200, reply.body
        return reply.body["desktops"]

    def client_release(self, login: str, desktop_id: int) -> None:
        """The user gives the desktop back through the client API (it goes back to the pool)."""
        reply = self.api.call("POST", "/client/v1/login",
                              {"user_login": login, "password": USER_PASSWORD, "domain": self.tenant.name})
        assert reply.status == 200, reply.body
        released = self.api.call("POST", f"/client/v1/desktops/{desktop_id}/release",
                                 headers={"Authorization": f"Bearer {reply.body['token']}"})
        assert released.status == 200, released.body

    def desktop(self, desktop_id: int) -> Desktop:
        return desktops.get(self.tenant.tenant_id, desktop_id)

    def pool_desktops(self, pool_id: int) -> list[Desktop]:
        return desktops.of_pool(self.tenant.tenant_id, pool_id)

    def registration_file(self, desktop: Desktop) -> Path:
        """What cloud-init leaves on the instance: the registration file from the user data."""
        user_data = self.cloud.specs[str(desktop.instance_id)].user_data or ""
        assert user_data.startswith("#cloud-config\n")
        [entry] = json.loads(user_data.split("\n", 1)[1])["write_files"]
        path = self.tmp / f"registration-{desktop.id}.json"
        registration = json.loads(entry["content"])
        path.write_text(json.dumps({**registration, "broker_url": self.url}))
        return path

    def agent(self, desktop: Desktop, register: bool = True) -> ReferenceAgent:
        agent = ReferenceAgent(self.url, self.tmp / f"agent-{desktop.id}.json")
        if register:
            agent.register(desktop, self.registration_file(desktop))
        self.agents[int(desktop.id)] = agent
        return agent

    def logs(self, **query: Any) -> list[dict[str, Any]]:
        path = "/rest/v1/logs?" + "&".join(f"{k}={v}" for k, v in {"limit": 1000, **query}.items())
        reply = self.api.call("GET", path, sid=self.sid)
        assert reply.status == 200, reply.body
        return reply.body["items"]


@pytest.fixture
def served_broker(aws: AwsStack) -> Iterator[str]:
    with served(app) as url:
        yield url


@pytest.fixture
def cloud_broker(aws: AwsStack) -> Iterator[Broker]:
    cloud = InMemoryCloud()
    use_cloud_factory(lambda access: cloud)
    try:
        yield Broker(aws, cloud)
    finally:
        use_cloud_factory(None)


@pytest.fixture
def world(api: Api, tenant: TenantAdmin, cloud_broker: Broker, served_broker: str,  # noqa: F811
          tmp_path: Path) -> LifecycleWorld:
    built = LifecycleWorld(api, tenant, cloud_broker, served_broker, tmp_path)
    cloud_broker.drain()  # the center's check
    return built


@pytest.fixture
def api_world(api: Api, tenant: TenantAdmin, cloud_broker: Broker, tmp_path: Path) -> LifecycleWorld:  # noqa: F811
    """The same world without the HTTP server: for tests that call the agent API in-process."""
    built = LifecycleWorld(api, tenant, cloud_broker, "http://agent-api-in-process.invalid", tmp_path)
    cloud_broker.drain()
    return built


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
