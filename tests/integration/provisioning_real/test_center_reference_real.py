"""A center created over the admin API with a `center_definition` written from the reference comes online
against the real local OpenStack, for a user who lives in another domain than the project."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from chalicelib.clouds import use_cloud_factory
from chalicelib.domain.cloud import CenterAccess
from localdev.openstack import sdk
from tests.fixtures.aws import AwsStack
from tests.integration.api.conftest import Api, TenantAdmin, api, system_sid, tenant  # noqa: F401 - fixtures
from tests.integration.provisioning_real.test_real_provisioning import run_worker

pytestmark = [pytest.mark.openstack,
              pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning")]


@pytest.fixture
def user_of_another_domain(openstack_demo: CenterAccess) -> Iterator[tuple[str, str]]:
    """(user, domain): a user in a domain of its own, a member of the demo project (in `Default`)."""
    identity = sdk.admin().identity
    domain = identity.create_domain(name=f"ldap-{uuid.uuid4().hex[:6]}")
    try:
        user = identity.create_user(name="apart", password=openstack_demo.password, domain_id=domain.id)
        home = identity.find_domain(openstack_demo.domain, ignore_missing=False)
        project = identity.find_project(openstack_demo.project, domain_id=home.id, ignore_missing=False)
        member = identity.find_role("member", ignore_missing=False)
        identity.assign_project_role_to_user(project, user, member)
        yield "apart", domain.name
    finally:
        for found in identity.users(domain_id=domain.id):
            identity.delete_user(found, ignore_missing=True)
        identity.update_domain(domain, is_enabled=False)
        identity.delete_domain(domain, ignore_missing=True)


def test_a_center_written_from_the_reference_comes_online(
    aws: AwsStack, api: Api, tenant: TenantAdmin, openstack_demo: CenterAccess,  # noqa: F811
    user_of_another_domain: tuple[str, str],
) -> None:
    use_cloud_factory(None)
    username, user_domain = user_of_another_domain
    body = {"center_definition": {
        "name": "from the reference",
        "vc_url": openstack_demo.auth_url,
        "vc_name": username,
        "vc_password": openstack_demo.password,
        "vc_domain": user_domain,
        "vc_project_domain": openstack_demo.domain,
        "vc_datacenter": openstack_demo.project,
        "vc_version": openstack_demo.region,
        "allow_cleartext_password": 1,  # the local Keystone is http:// on loopback
    }}
    created = api.call("POST", "/rest/v1/centers/openstack", body, sid=tenant.sid)
    assert created.status == 201, created.body
    center_id = created.body["stored_data"]["id"]

    def online() -> bool:
        return api.call("GET", f"/rest/v1/centers/{center_id}", sid=tenant.sid).body["online"] == 1

    run_worker(aws, online)
    shown = api.call("GET", f"/rest/v1/centers/{center_id}", sid=tenant.sid).body
    assert shown["status_label"] == "Online"
    assert shown["center_definition"]["vc_domain"] == user_domain
    assert shown["center_definition"]["vc_project_domain"] == openstack_demo.domain
    assert "m1.tiny" in [f["name"] for f in shown["center_info"]["flavors"]]
