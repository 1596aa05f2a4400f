"""`/rest/v1/tenants` (our extension) and `/rest/v1/users` (the reference's UserAdd, plus list/get/delete)."""

from __future__ import annotations

import json

from tests.integration.api.builders import (
    Snapshot,
    create_policy,
    create_user,
    fast_backends,  # noqa: F401 - autouse
    user_body,
)
from tests.integration.api.conftest import Api, TenantAdmin, make_tenant


def test_the_system_administrator_creates_lists_and_reads_tenants(api: Api, system_sid: str) -> None:
    reply = api.call(
        "POST", "/rest/v1/tenants", {"name": "  initech ", "notes": "DaaS customer"}, sid=system_sid
    )
    assert reply.status == 201, reply.body
    stored = reply.body["stored_data"]
    assert isinstance(stored["id"], int) and stored["id"] > 0
    assert stored["name"] == "initech" and stored["notes"] == "DaaS customer"
    assert stored["created"] and stored["updated"]
    listed = api.call("GET", "/rest/v1/tenants", sid=system_sid)
    assert listed.status == 200
    assert listed.body == [{"id": stored["id"], "name": "initech"}]
    one = api.call("GET", f"/rest/v1/tenants/{stored['id']}", sid=system_sid)
    assert one.status == 200 and one.body == stored
    assert api.call("GET", f"/rest/v1/tenants/{stored['id'] + 1000}", sid=system_sid).status == 404


def test_tenant_names_are_unique_and_system_is_reserved(api: Api, system_sid: str) -> None:
    make_tenant(api, system_sid, "acme")
    for name in ("acme", "ACME", " Acme ", "System", "system"):
        with Snapshot(api):
            reply = api.call("POST", "/rest/v1/tenants", {"name": name}, sid=system_sid)
            assert reply.status == 409, (name, reply.body)
            assert reply.body["error_status"] == "NOT_UNIQUE"
            assert reply.body["items"] == ["name"]
            assert [e["path"] for e in reply.body["errors"]] == ["/body/name"]
    assert [t["name"] for t in api.call("GET", "/rest/v1/tenants", sid=system_sid).body] == ["acme"]


def test_a_tenant_administrator_logs_in_with_the_tenant_as_domain(api: Api, tenant: TenantAdmin) -> None:
    users = api.call("GET", "/rest/v1/users", sid=tenant.sid)
    assert users.status == 200
    assert [(u["user_login"], u["role_name"]) for u in users.body] == [("boss", "Administrator")]


def test_users_as_the_reference_writes_them(api: Api, tenant: TenantAdmin) -> None:
    policy = create_policy(api, tenant.sid, "Engineering")
    body = {
        "is_local": 1,
        "user_login": "jdoe",
        "name": "John Doe",
        "password": "john-pw-123",
        "role_name": "User",
        "policy_name": "engineering",
        "notes": "from the reference",
    }
    reply = api.call("POST", "/rest/v1/users", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert set(reply.body) == {"stored_data"} and set(reply.body["stored_data"]) == {"id"}
    user_id = reply.body["stored_data"]["id"]
    one = api.call("GET", f"/rest/v1/users/{user_id}", sid=tenant.sid)
    assert one.status == 200
    assert one.body["user_login"] == "jdoe" and one.body["name"] == "John Doe"
    assert one.body["role_name"] == "User" and one.body["is_local"] == 1
    assert one.body["policy_id"] == policy["id"] and one.body["policy_name"] == "Engineering"
    assert one.body["tenant_id"] == tenant.tenant_id and one.body["notes"] == "from the reference"
    for reply in (one, api.call("GET", "/rest/v1/users", sid=tenant.sid)):
        text = json.dumps(reply.body)
        assert "john-pw-123" not in text and "argon2" not in text and "password" not in text


def test_role_names_are_matched_case_insensitively(api: Api, tenant: TenantAdmin) -> None:
    create_user(api, tenant.sid, "second", "administrator", password="second-pw")
    sid = api.login("second", "second-pw", domain="acme")
    assert api.call("POST", "/rest/v1/policies", {"name": "p"}, sid=sid).status == 201


def test_user_logins_are_unique_in_a_tenant_only(
    api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin
) -> None:
    create_user(api, tenant.sid, "carol")
    with Snapshot(api):
        reply = api.call("POST", "/rest/v1/users", user_body("CAROL"), sid=tenant.sid)
        assert reply.status == 409, reply.body
        assert reply.body["error_status"] == "NOT_UNIQUE" and reply.body["items"] == ["user_login"]
    assert api.call("POST", "/rest/v1/users", user_body("carol"), sid=other_tenant.sid).status == 201


def test_only_the_system_administrator_names_another_tenant(
    api: Api, system_sid: str, tenant: TenantAdmin, other_tenant: TenantAdmin
) -> None:
    with Snapshot(api):
        for tenant_id in (other_tenant.tenant_id, 0):
            body = user_body("intruder", "Administrator", tenant_id=tenant_id)
            reply = api.call("POST", "/rest/v1/users", body, sid=tenant.sid)
            assert reply.status == 403, reply.body
            assert reply.body["error_status"] == "INSUFFICIENT_PERMISSIONS"
    own = api.call("POST", "/rest/v1/users", user_body("dave", tenant_id=tenant.tenant_id), sid=tenant.sid)
    assert own.status == 201, own.body
    # The system administrator may, for an existing tenant only.
    reply = api.call(
        "POST", "/rest/v1/users", user_body("eve", tenant_id=other_tenant.tenant_id), sid=system_sid
    )
    assert reply.status == 201, reply.body
    assert "eve" in [u["user_login"] for u in api.call("GET", "/rest/v1/users", sid=other_tenant.sid).body]
    with Snapshot(api):
        reply = api.call("POST", "/rest/v1/users", user_body("ghost", tenant_id=987654), sid=system_sid)
        assert reply.status == 400
        assert [e["path"] for e in reply.body["errors"]] == ["/body/tenant_id"]


def test_the_system_tenant_holds_administrators_only(api: Api, system_sid: str) -> None:
    reply = api.call("POST", "/rest/v1/users", user_body("plain", "User"), sid=system_sid)
    assert reply.status == 400, reply.body
    assert [e["path"] for e in reply.body["errors"]] == ["/body/role_name"]


def test_users_are_listed_read_and_deleted_in_their_tenant_only(
    api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin
) -> None:
    mine = create_user(api, tenant.sid, "frank", password="frank-pw-1")
    theirs = create_user(api, other_tenant.sid, "grace")
    assert "grace" not in [u["user_login"] for u in api.call("GET", "/rest/v1/users", sid=tenant.sid).body]
    assert api.call("GET", f"/rest/v1/users/{theirs}", sid=tenant.sid).status == 404
    assert api.call("DELETE", f"/rest/v1/users/{theirs}", sid=tenant.sid).status == 404
    assert api.call("GET", f"/rest/v1/users/{theirs}", sid=other_tenant.sid).status == 200

    assert api.call("DELETE", f"/rest/v1/users/{mine}", sid=tenant.sid).status == 204
    assert api.call("GET", f"/rest/v1/users/{mine}", sid=tenant.sid).status == 404
    assert api.call("DELETE", f"/rest/v1/users/{mine}", sid=tenant.sid).status == 404


def test_an_administrator_cannot_delete_themselves(api: Api, tenant: TenantAdmin) -> None:
    me = next(
        u["id"] for u in api.call("GET", "/rest/v1/users", sid=tenant.sid).body if u["user_login"] == "boss"
    )
    with Snapshot(api):
        reply = api.call("DELETE", f"/rest/v1/users/{me}", sid=tenant.sid)
        assert reply.status == 400 and reply.body["error_status"] == "BAD_DATA"


def test_a_deleted_administrator_can_no_longer_log_in(api: Api, tenant: TenantAdmin) -> None:
    user_id = create_user(api, tenant.sid, "temp", "Administrator", password="temp-pw-1")
    api.login("temp", "temp-pw-1", domain="acme")
    assert api.call("DELETE", f"/rest/v1/users/{user_id}", sid=tenant.sid).status == 204
    reply = api.call(
        "POST", "/rest/v1/session/login", {"user_login": "temp", "password": "temp-pw-1", "domain": "acme"}
    )
    assert reply.status == 401
