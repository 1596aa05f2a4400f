"""A plain openstacksdk connection for tools and tests (admin chores on the local cloud, checks of what
the broker did). The broker itself goes through chalicelib/clouds; this is for looking behind it.

`scratch_project` is the one way tests and the bench get an OpenStack project of their own: the demo user
a member (as a center's account would be), the quotas asked for, and everything in it deleted with the
project on the way out (`delete_project_and_contents`), whatever happened inside.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import openstack
import openstack.exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from chalicelib.domain.cloud import CenterAccess
from localdev.openstack import stack

SETTLE_SECONDS = 180.0  # how long a server gets to go away at teardown
SECURITY_GROUP_IN_USE_RETRIES = 30  # one a second: a group stays in use until Neutron drops the last port


def connect(access: CenterAccess) -> openstack.connection.Connection:
    auth = v3.Password(auth_url=access.auth_url, username=access.username, password=access.password,
                       project_name=access.project, user_domain_name=access.domain,
                       project_domain_name=access.project_domain_name)
    return openstack.connection.Connection(session=ksa_session.Session(auth=auth), region_name=access.region)


def demo_access(project: str = stack.DEMO_PROJECT) -> CenterAccess:
    """The demo user in `project`: what a center on the local cloud is configured with."""
    return CenterAccess(auth_url=stack.KEYSTONE_URL, domain=stack.DOMAIN, project=project,
                        username=stack.DEMO_USER, password=stack.PASSWORD, region=stack.REGION)


def admin() -> openstack.connection.Connection:
    return connect(CenterAccess(auth_url=stack.KEYSTONE_URL, domain=stack.DOMAIN, project=stack.ADMIN_PROJECT,
                                username=stack.ADMIN_USER, password=stack.PASSWORD))


@dataclass(frozen=True)
class ScratchProject:
    id: str
    name: str
    access: CenterAccess  # the demo user in this project (`demo_access(name)`)


@contextmanager
def scratch_project(prefix: str, *, instances: int, cores: int = -1, ram: int = -1, ports: int | None = None,
                    security_groups: Sequence[str] = (),
                    late_creates: bool = False) -> Iterator[ScratchProject]:
    """A new project `<prefix>-<6 hex>` in the stack's domain, the demo user a member, Nova's quota set to
    `instances`, `cores` and `ram` (MiB; -1: unlimited), Neutron's port quota to `ports` if given, and the
    named security groups created in it (no rules). Deleted with everything in it on the way out; with
    `late_creates` (a test that made Nova's answers fail or hang), its servers are looked for twice."""
    conn = admin()
    identity = conn.identity
    domain = identity.find_domain(stack.DOMAIN, ignore_missing=False)
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    project = identity.create_project(name=name, domain_id=domain.id)
    try:
        demo_user = identity.find_user(stack.DEMO_USER, domain_id=domain.id, ignore_missing=False)
        member = identity.find_role("member", ignore_missing=False)
        identity.assign_project_role_to_user(project, demo_user, member)
        conn.compute.update_quota_set(project.id, instances=instances, cores=cores, ram=ram)
        if ports is not None:
            conn.network.update_quota(project.id, port=ports)
        for group in security_groups:
            conn.network.create_security_group(name=group, project_id=project.id)
        yield ScratchProject(project.id, name, demo_access(name))
    finally:
        delete_project_and_contents(conn, project.id, late_creates=late_creates)


def delete_project_and_contents(
    admin: openstack.connection.Connection, project_id: str, late_creates: bool = True
) -> None:
    """Servers, volumes, floating IPs, leftover ports and security groups of the project, then the project.
    Only what carries the project's id is deleted, should a service ever ignore the project filter."""
    compute, storage, network = admin.compute, admin.block_storage, admin.network
    # Twice where a create Nova received during a fault may only now become a server (2 s more each time:
    # not paid by the tests that inject no fault).
    for attempt in range(2 if late_creates else 1):
        if attempt:
            time.sleep(2)
        servers = _owned(compute.servers(all_projects=True, project_id=project_id), project_id)
        for server in servers:
            compute.delete_server(server, ignore_missing=True)
        for server in servers:
            compute.wait_for_delete(server, wait=SETTLE_SECONDS)
    for volume in _owned(storage.volumes(all_projects=True, project_id=project_id), project_id):
        storage.delete_volume(volume, ignore_missing=True)
    for floating_ip in _owned(network.ips(project_id=project_id), project_id):
        network.delete_ip(floating_ip, ignore_missing=True)
    # Nova unbinds a deleted server's port a moment after the server is gone: remove what is left first.
    for port in _owned(network.ports(project_id=project_id), project_id):
        if (port.device_owner or "").startswith("compute:"):
            network.delete_port(port, ignore_missing=True)
    for group in _owned(network.security_groups(project_id=project_id), project_id):
        for _ in range(SECURITY_GROUP_IN_USE_RETRIES):
            try:
                network.delete_security_group(group, ignore_missing=True)
                break
            except openstack.exceptions.ConflictException:  # still used by a port on its way out
                time.sleep(1)
    admin.identity.delete_project(project_id, ignore_missing=True)


def _owned(resources: Iterable[Any], project_id: str) -> list[Any]:
    return [resource for resource in resources if resource.project_id == project_id]
