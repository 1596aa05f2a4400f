"""Fixtures for the adapter's tests against the real services (the stack: tests/fixtures/openstack.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace

import openstack.connection
import pytest

from chalicelib.clouds.openstack import OpenStackCloud, open_cloud
from chalicelib.domain.cloud import ServerSpec
from tests.fixtures.openstack import RealOpenStack
from tests.integration.openstack.helpers import (
    SETTLE_TIMEOUT_SECONDS,
    IsolatedProject,
    Leftovers,
    sdk_connection,
)


@pytest.fixture(scope="session")
def admin_sdk(real_openstack: RealOpenStack) -> openstack.connection.Connection:
    return sdk_connection(real_openstack.admin)


@pytest.fixture
def demo_sdk(real_openstack: RealOpenStack) -> openstack.connection.Connection:
    return sdk_connection(real_openstack.demo)


@pytest.fixture
def cloud(real_openstack: RealOpenStack) -> OpenStackCloud:
    return open_cloud(real_openstack.demo)


@pytest.fixture
def leftovers(admin_sdk: openstack.connection.Connection) -> Iterator[Leftovers]:
    tracker = Leftovers(admin_sdk)
    yield tracker
    tracker.clean()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """it-<test>-<random>: unique per test run, recognisable in `openstack server list`."""
    test_part = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:24].strip("-")
    return f"it-{test_part}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def plain_spec(unique_name: str) -> ServerSpec:
    return ServerSpec(
        name=unique_name,
        metadata={"broker_desktop_id": unique_name},
        image="cirros-fake",
        flavor="m1.tiny",
        network="private",
    )


@pytest.fixture
def isolated_project(
    real_openstack: RealOpenStack, admin_sdk: openstack.connection.Connection, unique_name: str
) -> Iterator[IsolatedProject]:
    """A fresh project the demo user is a member of: floating IP and quota tests own it entirely, so they
    neither see nor disturb what other tests (or engineers) leave in `demo`."""
    identity = admin_sdk.identity
    domain = identity.get_domain("default")
    project = identity.create_project(name=unique_name, domain_id=domain.id)
    demo_user = next(identity.users(domain_id=domain.id, name="demo"))
    member_role = next(identity.roles(name="member"))
    identity.assign_project_role_to_user(project, demo_user, member_role)
    # RAM as generous as demo's, so an oversized flavor fails where it does in real life: in the scheduler.
    admin_sdk.compute.update_quota_set(project.id, instances=20, cores=400, ram=2 * 1024 * 1024)
    yield IsolatedProject(replace(real_openstack.demo, project=unique_name), project.id)
    for server in admin_sdk.compute.servers(all_projects=True, project_id=project.id):
        admin_sdk.compute.delete_server(server, ignore_missing=True)
        admin_sdk.compute.wait_for_delete(server, wait=SETTLE_TIMEOUT_SECONDS)
    for floating_ip in admin_sdk.network.ips(project_id=project.id):
        admin_sdk.network.delete_ip(floating_ip, ignore_missing=True)
    for group in admin_sdk.network.security_groups(project_id=project.id):
        admin_sdk.network.delete_security_group(group, ignore_missing=True)
    identity.delete_project(project, ignore_missing=True)
