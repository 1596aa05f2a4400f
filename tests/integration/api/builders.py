"""Request bodies, record builders and state snapshots shared by the admin API tests.

`world()` builds, once per module, a moto stack with two tenants that each own one of everything
(center, pool, policy with a pool assignment, user): tests that only send bad or foreign requests
change nothing, so they can share it, which keeps the suite fast.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from argon2 import PasswordHasher
from chalice.test import Client
from pynamodb.connection import base as pynamodb_base

from chalicelib.auth import passwords
from tests.fixtures.aws import AwsStack, aws_stack_context
from tests.integration.api.conftest import ADMIN_PASSWORD, Api, TenantAdmin, make_tenant

CENTER_PASSWORD = "Center-Pa55word-never-shown"
AUTH_URL = "http://127.0.0.1:5000/v3"
USER_PASSWORD = "user-pw-123"
NETWORK_UUID = "3f1c2a8e-9b7d-4e55-8a21-6c0d9e4f7b10"


def _cheap_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


_SHARED_LOADER = botocore.loaders.create_loader()


def _session_with_shared_loader() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _SHARED_LOADER)
    return session


@contextmanager
def fast_test_backends() -> Iterator[None]:
    """Make the tests fast without changing what they test:
    - argon2id with tiny costs (the tests log in hundreds of times; the algorithm is the same);
    - pynamodb's per-model botocore sessions share one loader, so DynamoDB's service model is parsed
      once per process instead of once per table (about 0.3 s each)."""
    original_hasher = passwords._hasher
    original_get_session = pynamodb_base.get_session
    passwords._hasher = _cheap_hasher  # type: ignore[assignment]
    pynamodb_base.get_session = _session_with_shared_loader  # type: ignore[assignment]
    try:
        yield
    finally:
        passwords._hasher = original_hasher
        pynamodb_base.get_session = original_get_session


@pytest.fixture(autouse=True)
def fast_backends() -> Iterator[None]:
    """Import this into a test module (it is autouse) to make its setup and logins cheap."""
    with fast_test_backends():
        yield


# ----------------------------------------------------------------------------------------- bodies


def center_body(name: str = "lab", **overrides: Any) -> dict[str, Any]:
    """A center as Leostream automation writes it: `{"center_definition": {...}}` in the reference's names;
    `overrides` go into the definition (None: the field left out)."""
    definition = {
        "name": name,
        "vc_url": AUTH_URL,
        "vc_domain": "Default",
        "vc_project_domain": "Default",
        "vc_datacenter": "demo",
        "vc_name": "demo",
        "vc_password": CENTER_PASSWORD,
        "vc_version": "RegionOne",
        "network_uuid": NETWORK_UUID,
        "notes": "lab cloud",
        "poll_interval": 5,
        # The local OpenStack's Keystone is plain http:// on loopback: the risk is accepted explicitly.
        "allow_cleartext_password": 1,
    }
    definition.update(overrides)
    return {"center_definition": {k: v for k, v in definition.items() if v is not None}}


def provision_center(center_id: int, center_type: str = "openstack", **overrides: Any) -> dict[str, Any]:
    center = {
        "type": center_type,
        "id": center_id,
        "image": "ubuntu-22.04",
        "flavor": "m1.small",
        "network": "private",
        "availability_zone": "nova",
        "assign_floating_ip": "",
        "security_groups": ["default"],
        "create_new_volume": 0,
        "new_volume_size": "",
        "provisioning_actions": [
            {
                "prov_action_action": "set_available",
                "prov_action_wait_value": 0,
                "prov_action_wait_unit": "seconds",
            }
        ],
    }
    center.update(overrides)
    return center


def pool_body(center_id: int, name: str = "desktops", **overrides: Any) -> dict[str, Any]:
    """A center-based pool with provisioning on, written with the reference's PoolBasicModel fields."""
    body = {
        "name": name,
        "display_name": "Office desktops",
        "notes": "",
        "running_desktops_threshold": 0,
        "pool_definition": {"restrict_by": "C", "server_ids": [center_id], "never_rogue": 0},
        "provision": {
            "provision_on_off": 1,
            "provision_threshold": 2,
            "provision_max": 5,
            "provision_vm_name": "desk-{SEQUENCE:3}",
            "provision_vm_name_next_value": 1,
            "provision_vm_display_name": "Desktop {SEQUENCE}",
            "mark_deletable": 1,
            "mark_unavailable": 0,
            "center": provision_center(center_id),
        },
        "log": {"retain_history": {"pool_history_age": 7, "pool_history_interval": 15}},
    }
    body.update(overrides)
    return body


def user_body(
    login: str, role: str = "User", password: str = USER_PASSWORD, **overrides: Any
) -> dict[str, Any]:
    body = {
        "is_local": 1,
        "user_login": login,
        "name": login.title(),
        "password": password,
        "role_name": role,
    }
    body.update(overrides)
    return body


# --------------------------------------------------------------------------------------- builders


def created(reply: Any, status: int = 201) -> dict[str, Any]:
    assert reply.status == status, reply.body
    return reply.body["stored_data"]


def create_center(
    api: Api, sid: str, name: str = "lab", center_type: str = "openstack", **overrides: Any
) -> dict[str, Any]:
    return created(
        api.call("POST", f"/rest/v1/centers/{center_type}", center_body(name, **overrides), sid=sid)
    )


def create_pool(
    api: Api, sid: str, center_id: int, name: str = "desktops", **overrides: Any
) -> dict[str, Any]:
    return created(api.call("POST", "/rest/v1/pools", pool_body(center_id, name, **overrides), sid=sid))


def create_policy(api: Api, sid: str, name: str = "Default policy", **fields: Any) -> dict[str, Any]:
    return created(api.call("POST", "/rest/v1/policies", {"name": name, **fields}, sid=sid))


def assign_pool(api: Api, sid: str, policy_id: int, pool_id: int, **fields: Any) -> dict[str, Any]:
    return created(
        api.call(
            "POST", f"/rest/v1/policies/{policy_id}/pool-assignments", {"pool_id": pool_id, **fields}, sid=sid
        )
    )


def create_user(api: Api, sid: str, login: str, role: str = "User", **overrides: Any) -> int:
    return created(api.call("POST", "/rest/v1/users", user_body(login, role, **overrides), sid=sid))["id"]


def login_as(api: Api, tenant: TenantAdmin, login: str, role: str, password: str = USER_PASSWORD) -> str:
    create_user(api, tenant.sid, login, role, password=password)
    return api.login(login, password, domain=tenant.name)


# -------------------------------------------------------------------------------------- snapshots


# What a rejected request may still change: its session's idle deadline, the audit log, id counters.
UNTRACKED_TABLES = frozenset({"sessions", "audit", "counters"})


def stored_state() -> dict[str, list[str]]:
    """Every item of every broker table (but the untracked ones), as sorted JSON lines."""
    from chalicelib.store import aws as aws_clients
    from chalicelib.store.binding import table_models

    dynamodb = aws_clients.client("dynamodb")
    state: dict[str, list[str]] = {}
    for model in table_models():
        if model.Meta.short_name in UNTRACKED_TABLES:
            continue
        items = [
            json.dumps(item, sort_keys=True)
            for page in dynamodb.get_paginator("scan").paginate(TableName=model.Meta.table_name)
            for item in page["Items"]
        ]
        state[model.Meta.short_name] = sorted(items)
    return state


def secrets_state(aws: AwsStack) -> dict[str, str]:
    from chalicelib.store import aws as aws_clients

    sm = aws_clients.client("secretsmanager")
    names = [s["Name"] for page in sm.get_paginator("list_secrets").paginate() for s in page["SecretList"]]
    return {name: sm.get_secret_value(SecretId=name)["SecretString"] for name in names}


@dataclass
class Snapshot:
    """What a rejected request must leave as it was: every table, every secret, the queue.

    with Snapshot(api):
        ...requests that must change nothing...
    """

    api: Api
    before: dict[str, Any] = field(default_factory=dict)

    def take(self) -> dict[str, Any]:
        return {"tables": stored_state(), "secrets": secrets_state(self.api.aws)}

    def __enter__(self) -> Snapshot:
        self.api.aws.queued()  # start from an empty queue
        self.before = copy.deepcopy(self.take())
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            return
        assert self.api.aws.queued() == [], "a rejected request queued a message"
        after = self.take()
        for kind in ("tables", "secrets"):
            for name in sorted(set(after[kind]) | set(self.before[kind])):
                assert after[kind].get(name) == self.before[kind].get(name), (
                    f"a rejected request changed {kind[:-1]} {name}"
                )


# ------------------------------------------------------------------------------------------ world


@dataclass
class TenantWorld:
    admin: TenantAdmin
    center: dict[str, Any]
    vhi_center: dict[str, Any]
    pool: dict[str, Any]
    policy: dict[str, Any]
    assignment: dict[str, Any]
    user_id: int

    @property
    def ids(self) -> dict[str, int]:
        return {
            "center": self.center["id"],
            "vhi_center": self.vhi_center["id"],
            "pool": self.pool["id"],
            "policy": self.policy["id"],
            "assignment": self.assignment["id"],
            "user": self.user_id,
            "tenant": self.admin.tenant_id,
        }


@dataclass
class World:
    api: Api
    system_sid: str
    mine: TenantWorld
    other: TenantWorld


def _populate(api: Api, system_sid: str, name: str) -> TenantWorld:
    admin = make_tenant(api, system_sid, name)
    center = create_center(api, admin.sid, "lab")
    vhi = create_center(api, admin.sid, "vhi", center_type="virtuozzo")
    pool = create_pool(api, admin.sid, center["id"])
    policy = create_policy(api, admin.sid)
    assignment = assign_pool(api, admin.sid, policy["id"], pool["id"])
    user_id = create_user(api, admin.sid, "alice")
    _add_desktop(admin.tenant_id, center["id"], pool["id"])
    return TenantWorld(admin, center, vhi, pool, policy, assignment, user_id)


def _add_desktop(tenant_id: int, center_id: int, pool_id: int) -> None:
    """Desktops come from scans, not from the admin API: write one the way the scan does, if the store
    offers it (the isolation test then covers /desktops/{id} with a real record of each tenant)."""
    try:
        from chalicelib.store.desktops import DesktopStore
    except ImportError:
        return
    store = DesktopStore()
    record = store.new(
        tenant_id,
        center_id,
        pool_id,
        "desk-001",
        display_name="Desk 1",
        lifecycle="active",
        available=True,
        deletable=False,
        power_state="running",
        instance_id=f"instance-{tenant_id}",
    )
    store.save(record)


@contextmanager
def world_context() -> Iterator[World]:
    from app import app
    from chalicelib.services.sessions import ensure_system_admin

    with fast_test_backends(), aws_stack_context() as aws:
        ensure_system_admin(ADMIN_PASSWORD)
        with Client(app) as client:
            api = Api(client, aws)
            system_sid = api.login("admin", ADMIN_PASSWORD)
            mine = _populate(api, system_sid, "acme")
            other = _populate(api, system_sid, "globex")
            aws.queued()
            yield World(api, system_sid, mine, other)
