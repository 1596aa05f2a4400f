"""The end-user API on moto: a tenant with a center, pools, policies, desktops (records only: the login
path never talks to the cloud) and local users, plus a client that carries the bearer token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from chalicelib.domain.entities.desktops import Desktop
from chalicelib.services import client_cache
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import DesktopRecord
from tests.fixtures.aws import AwsStack
from tests.integration.api.builders import (
    assign_pool,
    create_center,
    create_policy,
    create_user,
    fast_test_backends,
    pool_body,
)
from tests.integration.api.conftest import (  # noqa: F401 - fixtures used by the client tests
    Api,
    Reply,
    TenantAdmin,
    api,
    make_tenant,
    other_tenant,
    system_sid,
    tenant,
)

USER_PASSWORD = "user-pw-123"
SAME = "(the client's own)"  # default of ClientApi's domain and token arguments


@pytest.fixture(autouse=True)
def fast_and_fresh() -> Iterator[None]:
    """Cheap argon2 parameters (the algorithm is the same) and empty in-process caches per test."""
    with fast_test_backends():
        client_cache.clear_all()
        yield
        client_cache.clear_all()


def add_desktop(
    tenant_id: int,
    center_id: int,
    pool_id: int | None,
    name: str,
    *,
    available: bool = True,
    lifecycle: str = "active",
    power_state: str = "running",
    fixed: str | None = "198.51.100.10",
    floating: str | None = "203.0.113.10",
    display_name: str | None = None,
    created: str | None = None,
) -> Desktop:
    """A desktop record as provisioning or the scan would leave it (nothing behind the addresses)."""
    store = DesktopStore()
    record = store.new(
        tenant_id,
        center_id,
        pool_id,
        name,
        display_name=display_name or f"Desk {name}",
        lifecycle=lifecycle,
        available=available,
        deletable=False,
        power_state=power_state,
        fixed_addresses=(fixed,) if fixed else (),
        floating_addresses=(floating,) if floating else (),
    )
    if created:
        record = replace(record, created=created)
    return store.save(record)


@dataclass
class ClientWorld:
    """One tenant's setup for end-user tests, built through the admin API."""

    api: Api
    tenant: TenantAdmin
    center_id: int = 0
    desktops: list[Desktop] = field(default_factory=list)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.center_id = create_center(self.api, self.tenant.sid)["id"]

    def pool(self, name: str = "desktops", provisioning: bool = False) -> int:
        body = pool_body(self.center_id, name)
        if not provisioning:
            body["provision"] = {"provision_on_off": 0}
        reply = self.api.call("POST", "/rest/v1/pools", body, sid=self.tenant.sid)
        assert reply.status == 201, reply.body
        return reply.body["stored_data"]["id"]

    def policy(self, name: str = "Default policy", default: bool = True, **fields: Any) -> int:
        return create_policy(self.api, self.tenant.sid, name, is_default=int(default), **fields)["id"]

    def assign(self, policy_id: int, pool_id: int, **fields: Any) -> dict[str, Any]:
        return assign_pool(self.api, self.tenant.sid, policy_id, pool_id, **fields)

    def plan(self, name: str, protocol: str, **fields: Any) -> int:
        reply = self.api.call(
            "POST",
            "/rest/v1/plans/protocol",
            {"name": name, "protocol": protocol, **fields},
            sid=self.tenant.sid,
        )
        assert reply.status == 201, reply.body
        return reply.body["stored_data"]["id"]

    def user(self, login: str, password: str = USER_PASSWORD, **overrides: Any) -> int:
        return create_user(self.api, self.tenant.sid, login, password=password, **overrides)

    def desktop(self, pool_id: int | None, name: str | None = None, **fields: Any) -> Desktop:
        self._counter += 1
        index = len(self.desktops) + 1
        fields.setdefault("fixed", f"198.51.100.{index}")
        fields.setdefault("floating", f"203.0.113.{index}")
        record = add_desktop(
            self.tenant.tenant_id, self.center_id, pool_id, name or f"desk-{index:03d}", **fields
        )
        self.desktops.append(record)
        return record

    def desktop_record(self, desktop_id: int) -> Desktop:
        record = DesktopStore().find(self.tenant.tenant_id, desktop_id)
        assert record is not None
        return record

    def stored_user_key(self, desktop_id: int) -> str | None:
        """The by_user index's key the store derived for the desktop (None: the desktop is free)."""
        return DesktopRecord.get(self.tenant.tenant_id, desktop_id, consistent_read=True).user_key


class ClientApi:
    """/client/v1 calls, with the token of the last successful login."""

    def __init__(self, http: Api, domain: str | None) -> None:
        self.api = http
        self.domain = domain
        self.token: str | None = None

    def login(
        self,
        login: str,
        password: str = USER_PASSWORD,
        domain: str | None = SAME,
        expect: int | None = 200,
    ) -> Reply:
        body: dict[str, Any] = {"user_login": login, "password": password}
        chosen = self.domain if domain == SAME else domain
        if chosen is not None:
            body["domain"] = chosen
        reply = self.api.call("POST", "/client/v1/login", body)
        if expect is not None:
            assert reply.status == expect, reply.body
        if reply.status == 200:
            self.token = reply.body["token"]
        return reply

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = SAME,
        raw: bytes | str | None = None,
    ) -> Reply:
        headers = {}
        chosen = self.token if token == SAME else token
        if chosen is not None:
            headers["Authorization"] = f"Bearer {chosen}"
        return self.api.call(method, path, body, raw=raw, headers=headers)


@pytest.fixture
def world(api: Api, tenant: TenantAdmin) -> ClientWorld:  # noqa: F811 - fixtures
    return ClientWorld(api, tenant)


@pytest.fixture
def client(api: Api, tenant: TenantAdmin) -> ClientApi:  # noqa: F811 - fixtures
    return ClientApi(api, tenant.name)


def queued_of_type(aws: AwsStack, message_type: str) -> list[dict[str, Any]]:
    return [m for m in aws.queued() if m.get("type") == message_type]


def as_json(reply: Reply) -> Any:
    return reply.body if not isinstance(reply.body, str) else json.loads(reply.body)
