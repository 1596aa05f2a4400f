"""An admin API client on moto, with the system administrator bootstrapped and helpers to log in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.services.sessions import ensure_system_admin
from tests.fixtures.aws import AwsStack

ADMIN_PASSWORD = "system-admin-pw-1"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Thin JSON helper over chalice.test.Client."""

    def __init__(self, client: Client, aws: AwsStack) -> None:
        self.client = client
        self.aws = aws

    def call(self, method: str, path: str, body: Any = None, sid: str | None = None,
             raw: bytes | str | None = None, headers: dict[str, str] | None = None) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if sid:
            all_headers["Authorization"] = sid
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=all_headers, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(response.status_code, parsed, dict(response.headers))

    def login(self, login: str, password: str, domain: str | None = None) -> str:
        body = {"user_login": login, "password": password}
        if domain:
            body["domain"] = domain
        reply = self.call("POST", "/rest/v1/session/login", body)
        assert reply.status == 200, reply.body
        return reply.body["sid"]


@pytest.fixture
def api(aws: AwsStack) -> Iterator[Api]:
    ensure_system_admin(ADMIN_PASSWORD)
    with Client(app) as client:
        yield Api(client, aws)


@pytest.fixture
def system_sid(api: Api) -> str:
    return api.login("admin", ADMIN_PASSWORD)


@dataclass
class TenantAdmin:
    tenant_id: int
    name: str
    sid: str


# The login domains the system administrator grants the `tenant` fixture, so its authentication servers
# may serve them (a tenant can only use its own name and the domains granted to it).
TEST_LOGIN_DOMAINS = ("example.org", "corp.example", "corp", "dir.example", "l.example", "other.example",
                      "moved.example", "staff.acme", "dead.example", "tls.example")


def make_tenant(api: Api, system_sid: str, name: str, login_domains: tuple[str, ...] = ()) -> TenantAdmin:
    created = api.call("POST", "/rest/v1/tenants", {"name": name, "login_domains": list(login_domains)},
                       sid=system_sid)
    assert created.status == 201, created.body
    tenant_id = created.body["stored_data"]["id"]
    user = api.call("POST", "/rest/v1/users", {"is_local": 1, "user_login": "boss", "name": f"{name} admin",
                                               "password": "tenant-admin-pw", "role_name": "Administrator",
                                               "tenant_id": tenant_id}, sid=system_sid)
    assert user.status == 201, user.body
    return TenantAdmin(tenant_id, name, api.login("boss", "tenant-admin-pw", domain=name))


@pytest.fixture
def tenant(api: Api, system_sid: str) -> TenantAdmin:
    return make_tenant(api, system_sid, "acme", TEST_LOGIN_DOMAINS)


@pytest.fixture
def other_tenant(api: Api, system_sid: str) -> TenantAdmin:
    return make_tenant(api, system_sid, "globex")
