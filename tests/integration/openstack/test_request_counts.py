"""Request counting: what one call costs in HTTP requests, and that the token is reused."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.clouds.openstack import open_cloud
from chalicelib.clouds.openstack_session import forget_cached_connections
from chalicelib.domain.cloud import ServerSpec
from tests.fixtures.openstack import RealOpenStack
from tests.integration.openstack.helpers import OPENSTACK_TEST_MARKS, Leftovers

pytestmark = OPENSTACK_TEST_MARKS


def test_requests_are_counted_by_category_and_the_token_is_reused(
    real_openstack: RealOpenStack, plain_spec: ServerSpec, leftovers: Leftovers
) -> None:
    forget_cached_connections()
    cloud = open_cloud(real_openstack.demo)
    assert cloud.request_counts.total == 0

    cloud.list_servers()  # first call: one token, the listing, maybe Nova's version discovery
    first = cloud.request_counts
    assert first.token == 1
    assert 1 <= first.by_service["compute"] <= 2

    before = cloud.request_counts
    cloud.list_servers()
    assert (cloud.request_counts - before).as_dict() == {
        "total": 1,
        "token": 0,
        "inventory": 0,
        "other": 1,
        "service:compute": 1,
    }

    cloud.inventory()
    before = cloud.request_counts
    cloud.inventory()  # images, flavors, networks, zones, security groups, volume types
    assert (cloud.request_counts - before).as_dict() == {"total": 6, "token": 0, "inventory": 6, "other": 0}

    leftovers.server(cloud.create_server(plain_spec))  # resolves the names once
    before = cloud.request_counts
    leftovers.server(cloud.create_server(replace(plain_spec, name=f"{plain_spec.name}-2")))
    per_desktop = cloud.request_counts - before
    assert (per_desktop.total, per_desktop.by_service) == (1, {"compute": 1})  # just the POST

    assert cloud.request_counts.token == 1  # the token was valid throughout
    open_cloud(real_openstack.demo).list_servers()  # another adapter, same access: same connection and token
    assert cloud.request_counts.token == 1

    cloud.reset_request_counts()
    assert cloud.request_counts.total == 0
