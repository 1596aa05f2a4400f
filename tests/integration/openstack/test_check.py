"""check(): authentication and project confirmation against the real Keystone."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from chalicelib.clouds.openstack import OpenStackCloud, open_cloud
from chalicelib.domain.cloud import CloudAuthFailed, CloudUnreachable
from tests.fixtures.openstack import RealOpenStack
from tests.integration.openstack.helpers import OPENSTACK_TEST_MARKS

pytestmark = OPENSTACK_TEST_MARKS


def free_loopback_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_check_accepts_the_demo_credentials_with_one_token_request(cloud: OpenStackCloud) -> None:
    before = cloud.request_counts
    cloud.check()
    spent = cloud.request_counts - before
    assert (spent.token, spent.total) == (1, 1)


def test_check_reports_a_wrong_password(real_openstack: RealOpenStack) -> None:
    with pytest.raises(
        CloudAuthFailed, match=r"^wrong user name or password \(user 'demo' in domain 'Default'\)$"
    ):
        open_cloud(replace(real_openstack.demo, password="not-the-password")).check()


def test_check_reports_an_unknown_project(real_openstack: RealOpenStack) -> None:
    with pytest.raises(CloudAuthFailed, match=r"^project 'no-such-project' not found in domain 'Default'"):
        open_cloud(replace(real_openstack.demo, project="no-such-project")).check()


def test_check_reports_a_project_the_user_has_no_role_on_like_an_unknown_one(
    real_openstack: RealOpenStack,
) -> None:
    with pytest.raises(
        CloudAuthFailed, match=r"^project 'admin' not found in domain 'Default' \(or user 'demo'"
    ):
        open_cloud(replace(real_openstack.demo, project="admin")).check()


def test_check_reports_an_unreachable_keystone(real_openstack: RealOpenStack) -> None:
    port = free_loopback_port()
    auth_url = f"http://127.0.0.1:{port}/v3"
    with pytest.raises(CloudUnreachable) as raised:
        open_cloud(replace(real_openstack.demo, auth_url=auth_url)).check()
    assert raised.value.message == f"cannot reach Keystone at {auth_url}: connection refused"


def test_a_changed_password_is_not_served_from_the_cached_connection(real_openstack: RealOpenStack) -> None:
    open_cloud(real_openstack.demo).check()
    with pytest.raises(CloudAuthFailed):
        open_cloud(replace(real_openstack.demo, password="rotated-but-wrong")).check()


def test_a_user_of_another_domain_reaches_a_project_of_its_own_domain(real_openstack: RealOpenStack) -> None:
    """A user living in one domain (as LDAP-backed users do) with a role on a project of another: the
    project is scoped in the project's domain, not the user's."""
    import uuid

    from localdev.openstack import sdk

    admin = sdk.admin()
    identity = admin.identity
    domain = identity.create_domain(name=f"users-{uuid.uuid4().hex[:6]}")
    try:
        user = identity.create_user(name="apart", password=real_openstack.demo.password, domain_id=domain.id)
        project = identity.find_project(real_openstack.demo.project, domain_id=identity.find_domain(
            real_openstack.demo.domain, ignore_missing=False).id, ignore_missing=False)
        member = identity.find_role("member", ignore_missing=False)
        identity.assign_project_role_to_user(project, user, member)
        apart = replace(real_openstack.demo, username="apart", domain=domain.name,
                        project_domain=real_openstack.demo.domain)
        open_cloud(apart).check()
        assert open_cloud(apart).inventory().flavors  # the project's services answer too
        with pytest.raises(CloudAuthFailed, match=f"not found in domain '{domain.name}'"):
            open_cloud(replace(apart, project_domain=None)).check()  # the old rule: the user's domain
    finally:
        for found in identity.users(domain_id=domain.id):
            identity.delete_user(found, ignore_missing=True)
        identity.update_domain(domain, is_enabled=False)
        identity.delete_domain(domain, ignore_missing=True)
