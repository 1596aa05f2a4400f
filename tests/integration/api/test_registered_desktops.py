"""Uncategorized centers (the reference's `/centers/uncategorized`) and the desktops registered in them by
name and address (`POST /rest/v1/desktops`): in the reference's shape, joined to pools by their definitions,
never checked, scanned or provisioned against a cloud, bad input refused, tenants apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.clouds import use_cloud_factory
from chalicelib.services import pool_stats, provisioning, scan
from chalicelib.store.desktops import PoolCounters
from tests.integration.api.builders import Snapshot, create_center, fast_backends  # noqa: F401 - autouse
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.api.test_reference_shapes import assert_matches, example, schema


class CloudOpened(AssertionError):
    pass


@pytest.fixture
def no_cloud() -> Iterator[list[Any]]:
    """Any attempt to open a cloud is recorded and fails: an uncategorized center has none."""
    opened: list[Any] = []

    def refuse(access: Any) -> Any:
        opened.append(access)
        raise CloudOpened(f"a cloud was opened for {access.auth_url}")

    use_cloud_factory(refuse)
    yield opened
    use_cloud_factory(None)


def uncategorized(api: Api, sid: str, name: str = "Enrolled", **fields: Any) -> dict[str, Any]:
    body = {"center_definition": {"name": name, **fields}}
    reply = api.call("POST", "/rest/v1/centers/uncategorized", body, sid=sid)
    assert reply.status == 201, reply.body
    return reply.body["stored_data"]


def pool_of(api: Api, sid: str, center_id: int, name: str = "live") -> dict[str, Any]:
    body = {"name": name, "pool_definition": {"restrict_by": "C", "server_ids": [center_id]}}
    reply = api.call("POST", "/rest/v1/pools", body, sid=sid)
    assert reply.status == 201, reply.body
    return reply.body["stored_data"]


def register(api: Api, sid: str, center_id: int, name: str = "desk-1", address: str = "127.0.0.1",
             expect: int = 201, **fields: Any) -> Any:
    reply = api.call("POST", "/rest/v1/desktops", {"center_id": center_id, "name": name, "address": address,
                                                   **fields}, sid=sid)
    assert reply.status == expect, reply.body
    return reply.body["stored_data"] if expect == 201 else reply.body


def test_the_reference_example_makes_an_uncategorized_center(api: Api, tenant: TenantAdmin) -> None:
    body = example("UncategorizedCenterAdd")
    assert_matches(body, schema("UncategorizedCenterAdd"))
    reply = api.call("POST", "/rest/v1/centers/uncategorized", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert_matches(reply.body, schema("RespCenterCreated"))
    center = reply.body["stored_data"]
    assert (center["type"], center["flavor"], center["type_label"]) == ("uncategorized", "U",
                                                                        "Uncategorized Desktops")
    assert center["status_label"] == "Online" and center["center_definition"]["poll_interval"] == 0
    assert "vc_url" not in center["center_definition"] and "vc_name" not in center["center_definition"]
    assert api.aws.queued() == []  # nothing to check: no credentials check is queued
    one = api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).body
    assert_matches(one, schema("CenterFull"))
    updated = api.call("PUT", f"/rest/v1/centers/uncategorized/{center['id']}",
                       {"center_definition": {"notes": "lab", "init_unavailable": 1}}, sid=tenant.sid)
    assert updated.status == 200, updated.body
    assert_matches(updated.body, schema("RespCenterCreated"))
    assert updated.body["stored_data"]["center_definition"]["init_unavailable"] == 1
    # an OpenStack center is not one to update on this path, nor the reverse
    openstack = create_center(api, tenant.sid)
    wrong_path = api.call("PUT", f"/rest/v1/centers/uncategorized/{openstack['id']}", {}, sid=tenant.sid)
    assert wrong_path.status == 404
    assert api.call("PUT", f"/rest/v1/centers/openstack/{center['id']}",
                    {"center_definition": {"notes": "x"}},
                    sid=tenant.sid).status == 404


def test_a_registered_desktop_joins_the_pool_its_center_defines(api: Api, tenant: TenantAdmin) -> None:
    center = uncategorized(api, tenant.sid)
    pool = pool_of(api, tenant.sid, center["id"])
    desktop = register(api, tenant.sid, center["id"], display_name="Live desktop")
    assert (desktop["pool_id"], desktop["address"], desktop["status"], desktop["registered"]) == (
        pool["id"], "127.0.0.1", "running", 1)
    assert desktop["available"] == 1 and "instance_id" not in desktop
    assert PoolCounters().total(tenant.tenant_id, pool["id"]) == 1
    again = register(api, tenant.sid, center["id"], name="DESK-1", expect=409)
    assert again["error_status"] == "NOT_UNIQUE"
    # a center whose definition says so makes its desktops unavailable at first
    api.call("PUT", f"/rest/v1/centers/uncategorized/{center['id']}",
             {"center_definition": {"init_unavailable": 1}}, sid=tenant.sid)
    assert register(api, tenant.sid, center["id"], name="desk-2")["available"] == 0


def test_bad_registrations_name_the_field_and_change_nothing(api: Api, tenant: TenantAdmin,
                                                            other_tenant: TenantAdmin) -> None:
    center = uncategorized(api, tenant.sid)
    openstack = create_center(api, tenant.sid)
    theirs = uncategorized(api, other_tenant.sid)
    bad = [
        ({"center_id": openstack["id"], "name": "d", "address": "127.0.0.1"}, "/body/center_id"),
        ({"center_id": theirs["id"], "name": "d", "address": "127.0.0.1"}, "/body/center_id"),
        ({"center_id": 987654, "name": "d", "address": "127.0.0.1"}, "/body/center_id"),
        ({"center_id": center["id"], "name": "d", "address": "http://127.0.0.1"}, "/body/address"),
        ({"center_id": center["id"], "name": "d", "address": "127.0.0.1:5900"}, "/body/address"),
        ({"center_id": center["id"], "name": "", "address": "127.0.0.1"}, "/body/name"),
        ({"center_id": center["id"], "name": "a\nb", "address": "127.0.0.1"}, "/body/name"),
        ({"center_id": center["id"], "address": "127.0.0.1"}, "/body/name"),
        ({"center_id": center["id"], "name": "d", "address": "127.0.0.1", "power": "on"}, "/body/power"),
        ({"center_id": "1", "name": "d", "address": "127.0.0.1"}, "/body/center_id"),
    ]
    bad_centers = [
        ({"name": "flat"}, "/body/center_definition"),
        ({"center_definition": {}}, "/body/center_definition/name"),
        ({"center_definition": {"name": "x", "type": "openstack"}}, "/body/center_definition/type"),
        ({"center_definition": {"name": "x", "auth_url": "http://k/v3"}}, "/body/center_definition/auth_url"),
    ]
    with Snapshot(api):
        for body, path in bad:
            reply = api.call("POST", "/rest/v1/desktops", body, sid=tenant.sid)
            assert reply.status == 400, (body, reply.body)
            assert path in [e["path"] for e in reply.body["errors"]], (body, reply.body)
        for body, path in bad_centers:
            reply = api.call("POST", "/rest/v1/centers/uncategorized", body, sid=tenant.sid)
            assert reply.status == 400, (body, reply.body)
            assert path in [e["path"] for e in reply.body["errors"]], (body, reply.body)
        # the other tenant can neither register in mine nor see my desktops
        reply = api.call("POST", "/rest/v1/desktops", {"center_id": center["id"], "name": "d",
                                                       "address": "127.0.0.1"}, sid=other_tenant.sid)
        assert reply.status == 400 and reply.body["errors"][0]["path"] == "/body/center_id"


def test_an_uncategorized_center_is_never_checked_scanned_or_provisioned_against_a_cloud(
        api: Api, tenant: TenantAdmin, no_cloud: list[Any]) -> None:
    center = uncategorized(api, tenant.sid)
    desktop = register(api, tenant.sid, center["id"])  # before any pool: in none
    assert desktop.get("pool_id") is None
    pool = pool_of(api, tenant.sid, center["id"])
    # a provisioning pool cannot provision in it
    refused = api.call("POST", "/rest/v1/pools", {
        "name": "prov", "pool_definition": {"restrict_by": "C", "server_ids": [center["id"]]},
        "provision": {"provision_on_off": 1, "provision_threshold": 1, "provision_max": 2,
                      "provision_vm_name": "x-{SEQUENCE}", "center": {"type": "openstack", "id": center["id"],
                                                                      "image": "i", "flavor": "f"}}},
        sid=tenant.sid)
    assert refused.status == 400 and refused.body["errors"][0]["path"] == "/body/provision/center/type"
    api.aws.queued()
    # the schedule polls no uncategorized center; a scan asked for moves desktops to their pools only
    assert pool_stats.due_center_scans() == 0
    assert api.call("POST", f"/rest/v1/centers/{center['id']}/scan", sid=tenant.sid).status == 202
    [message] = api.aws.queued()
    scan.handle_center_scan(message)
    assert scan.check_center(tenant.tenant_id, center["id"]) is False
    assert provisioning.check_pool(tenant.tenant_id, pool["id"], "test") == 0
    moved = api.call("GET", f"/rest/v1/desktops/{desktop['id']}", sid=tenant.sid).body
    assert moved["pool_id"] == pool["id"] and PoolCounters().total(tenant.tenant_id, pool["id"]) == 1
    assert no_cloud == []
    # no power control either: the broker knows the machine by its address only
    for action in ("start", "stop", "delete"):
        reply = api.call("POST", f"/rest/v1/desktops/{desktop['id']}/actions", {"action": action},
                         sid=tenant.sid)
        assert reply.status == 409, reply.body
    assert api.aws.queued() == [] and no_cloud == []


def test_removing_a_registered_desktop(api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin) -> None:
    center = uncategorized(api, tenant.sid)
    pool = pool_of(api, tenant.sid, center["id"])
    desktop = register(api, tenant.sid, center["id"])
    refused = api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid)
    assert refused.status == 409
    assert api.call("DELETE", f"/rest/v1/desktops/{desktop['id']}", sid=other_tenant.sid).status == 404
    assert api.call("DELETE", f"/rest/v1/desktops/{desktop['id']}", sid=tenant.sid).status == 204
    assert api.call("GET", f"/rest/v1/desktops/{desktop['id']}", sid=tenant.sid).status == 404
    assert PoolCounters().total(tenant.tenant_id, pool["id"]) == 0
    register(api, tenant.sid, center["id"])  # the name is free again
