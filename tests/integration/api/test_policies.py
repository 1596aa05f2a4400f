"""`/rest/v1/policies` and `/rest/v1/policies/{policy_id}/pool-assignments[/{id}]`."""

from __future__ import annotations

import pytest

from tests.integration.api.builders import (
    Snapshot,
    assign_pool,
    create_center,
    create_policy,
    create_pool,
    fast_backends,  # noqa: F401 - autouse
)
from tests.integration.api.conftest import Api, TenantAdmin


@pytest.fixture
def pools(api: Api, tenant: TenantAdmin) -> list[dict]:
    center = create_center(api, tenant.sid)
    return [create_pool(api, tenant.sid, center["id"], name) for name in ("alpha", "beta")]


def test_create_get_list_and_update_a_policy(api: Api, tenant: TenantAdmin) -> None:
    body = {
        "name": "Engineering",
        "is_default": True,
        "max_desktops": 2,
        "session_expire_delay": 60,
        "single_desktop_only": 1,
        "offer_empty_pools": 0,
        "notes": "eng",
    }
    reply = api.call("POST", "/rest/v1/policies", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    policy = reply.body["stored_data"]
    assert {k: policy[k] for k in body} == {**body, "is_default": 1}
    assert policy["pool_assignments"] == []
    assert api.call("GET", f"/rest/v1/policies/{policy['id']}", sid=tenant.sid).body == policy
    assert api.call("GET", "/rest/v1/policies", sid=tenant.sid).body == [
        {"id": policy["id"], "name": "Engineering"}
    ]

    reply = api.call("PUT", f"/rest/v1/policies/{policy['id']}", {"max_desktops": 3}, sid=tenant.sid)
    assert reply.status == 200, reply.body
    updated = reply.body["stored_data"]
    assert updated["max_desktops"] == 3
    assert {k: v for k, v in updated.items() if k not in ("max_desktops", "updated")} == {
        k: v for k, v in policy.items() if k not in ("max_desktops", "updated")
    }


def test_the_reference_no_limit_is_accepted(api: Api, tenant: TenantAdmin) -> None:
    reply = api.call("POST", "/rest/v1/policies", {"name": "unlimited", "max_desktops": -1}, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert reply.body["stored_data"]["max_desktops"] == 0  # stored as "no limit beyond the assignments"


def test_one_default_policy_per_tenant(api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin) -> None:
    first = create_policy(api, tenant.sid, "first", is_default=1)
    theirs = create_policy(api, other_tenant.sid, "theirs", is_default=1)
    second = create_policy(api, tenant.sid, "second", is_default=1)
    assert api.call("GET", f"/rest/v1/policies/{first['id']}", sid=tenant.sid).body["is_default"] == 0
    assert api.call("GET", f"/rest/v1/policies/{second['id']}", sid=tenant.sid).body["is_default"] == 1
    assert api.call("GET", f"/rest/v1/policies/{theirs['id']}", sid=other_tenant.sid).body["is_default"] == 1
    api.call("PUT", f"/rest/v1/policies/{first['id']}", {"is_default": 1}, sid=tenant.sid)
    assert api.call("GET", f"/rest/v1/policies/{second['id']}", sid=tenant.sid).body["is_default"] == 0


def test_policy_names_are_unique(api: Api, tenant: TenantAdmin) -> None:
    first = create_policy(api, tenant.sid, "first")
    create_policy(api, tenant.sid, "second")
    with Snapshot(api):
        reply = api.call("POST", "/rest/v1/policies", {"name": "FIRST"}, sid=tenant.sid)
        assert reply.status == 409 and reply.body["error_status"] == "NOT_UNIQUE"
        assert reply.body["items"] == ["name"]
        reply = api.call("PUT", f"/rest/v1/policies/{first['id']}", {"name": "second"}, sid=tenant.sid)
        assert reply.status == 409 and reply.body["items"] == ["name"]


def test_pool_assignments(api: Api, tenant: TenantAdmin, pools: list[dict]) -> None:
    alpha, beta = pools
    policy = create_policy(api, tenant.sid)
    body = {
        "pool_id": alpha["id"],
        "backup_pool_id": beta["id"],
        "offer_quantity": 2,
        "favor_previous_assigned": 1,
        "power_on": 1,
        "start_if_stopped": True,
        "kiosk": 0,
        "display_mode": "display_name",
    }
    reply = api.call("POST", f"/rest/v1/policies/{policy['id']}/pool-assignments", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assignment = reply.body["stored_data"]
    assert {k: assignment[k] for k in body} == {**body, "start_if_stopped": 1}
    assert assignment["policy_id"] == policy["id"] and assignment["pool_name"] == "alpha"
    base = f"/rest/v1/policies/{policy['id']}/pool-assignments"
    assert api.call("GET", f"{base}/{assignment['id']}", sid=tenant.sid).body == assignment
    listed = api.call("GET", base, sid=tenant.sid).body
    assert listed == [{"id": assignment["id"], "pool_id": alpha["id"], "pool_name": "alpha"}]
    assert (
        api.call("GET", f"/rest/v1/policies/{policy['id']}", sid=tenant.sid).body["pool_assignments"]
        == listed
    )

    # A partial update keeps the rest; the reference's display_mode code "0" means the desktop name.
    reply = api.call(
        "PUT", f"{base}/{assignment['id']}", {"offer_quantity": 1, "display_mode": "0"}, sid=tenant.sid
    )
    assert reply.status == 200, reply.body
    updated = reply.body["stored_data"]
    assert updated["offer_quantity"] == 1 and updated["display_mode"] == "name"
    assert updated["backup_pool_id"] == beta["id"] and updated["power_on"] == 1

    # The same pool twice in one policy is refused.
    with Snapshot(api):
        reply = api.call("POST", base, {"pool_id": alpha["id"]}, sid=tenant.sid)
        assert reply.status == 400 and [e["path"] for e in reply.body["errors"]] == ["/body/pool_id"]

    assert api.call("DELETE", f"{base}/{assignment['id']}", sid=tenant.sid).status == 204
    assert api.call("GET", f"{base}/{assignment['id']}", sid=tenant.sid).status == 404
    assert api.call("GET", base, sid=tenant.sid).body == []


def test_an_assignment_is_found_only_under_its_own_policy(
    api: Api, tenant: TenantAdmin, pools: list[dict]
) -> None:
    one = create_policy(api, tenant.sid, "one")
    two = create_policy(api, tenant.sid, "two")
    assignment = assign_pool(api, tenant.sid, one["id"], pools[0]["id"])
    with Snapshot(api):
        for method, body in (("GET", None), ("PUT", {"offer_quantity": 3}), ("DELETE", None)):
            reply = api.call(
                method,
                f"/rest/v1/policies/{two['id']}/pool-assignments/{assignment['id']}",
                body,
                sid=tenant.sid,
            )
            assert reply.status == 404, (method, reply.body)


def test_deleting_a_policy_frees_its_pools(api: Api, tenant: TenantAdmin, pools: list[dict]) -> None:
    policy = create_policy(api, tenant.sid)
    assign_pool(api, tenant.sid, policy["id"], pools[0]["id"])
    assert api.call("DELETE", f"/rest/v1/pools/{pools[0]['id']}", sid=tenant.sid).status == 409
    assert api.call("DELETE", f"/rest/v1/policies/{policy['id']}", sid=tenant.sid).status == 204
    assert api.call("GET", f"/rest/v1/policies/{policy['id']}", sid=tenant.sid).status == 404
    assert api.call("GET", f"/rest/v1/policies/{policy['id']}/pool-assignments", sid=tenant.sid).status == 404
    assert api.call("DELETE", f"/rest/v1/pools/{pools[0]['id']}", sid=tenant.sid).status == 204


def test_a_user_gets_a_policy_by_name(api: Api, tenant: TenantAdmin) -> None:
    policy = create_policy(api, tenant.sid, "Sales")
    reply = api.call(
        "POST",
        "/rest/v1/users",
        {"is_local": 1, "user_login": "sam", "name": "Sam", "password": "sam-pw-1", "policy_name": "sales"},
        sid=tenant.sid,
    )
    assert reply.status == 201, reply.body
    user = api.call("GET", f"/rest/v1/users/{reply.body['stored_data']['id']}", sid=tenant.sid).body
    assert user["policy_id"] == policy["id"] and user["policy_name"] == "Sales"


def test_each_plan_kind_has_its_own_names(api: Api, tenant: TenantAdmin) -> None:
    """As in the reference, where a pool assignment points at a protocol, a power-control and a release
    plan each named "Default": names are unique within a kind, not across kinds."""
    kinds = ("protocol", "power-control", "release")
    for kind in kinds:
        reply = api.call("POST", f"/rest/v1/plans/{kind}", {"name": "Default"}, sid=tenant.sid)
        assert reply.status == 201, (kind, reply.body)
    with Snapshot(api):
        for kind in kinds:
            reply = api.call("POST", f"/rest/v1/plans/{kind}", {"name": "default"}, sid=tenant.sid)
            assert reply.status == 409, (kind, reply.body)
            assert reply.body["error_status"] == "NOT_UNIQUE" and reply.body["items"] == ["name"]
