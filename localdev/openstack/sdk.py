"""A plain openstacksdk connection for tools and tests (admin chores on the local cloud, checks of what
the broker did). The broker itself goes through chalicelib/clouds; this is for looking behind it."""

from __future__ import annotations

import openstack
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from chalicelib.domain.cloud import CenterAccess
from localdev.openstack import stack


def connect(access: CenterAccess) -> openstack.connection.Connection:
    auth = v3.Password(auth_url=access.auth_url, username=access.username, password=access.password,
                       project_name=access.project, user_domain_name=access.domain,
                       project_domain_name=access.domain)
    return openstack.connection.Connection(session=ksa_session.Session(auth=auth), region_name=access.region)


def admin() -> openstack.connection.Connection:
    return connect(CenterAccess(auth_url=stack.KEYSTONE_URL, domain=stack.DOMAIN, project="admin",
                                username="admin", password=stack.PASSWORD))
