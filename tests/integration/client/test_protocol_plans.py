"""/rest/v1/plans/protocol: protocol plans in the reference's style, with bad input."""

from __future__ import annotations

from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.client.conftest import ClientApi, ClientWorld, make_tenant


def test_create_read_update_delete(api: Api, tenant: TenantAdmin) -> None:
    sid = tenant.sid
    created = api.call(
        "POST", "/rest/v1/plans/protocol", {"name": "RDP wide", "options": {"screen mode id": 2}}, sid=sid
    )
    assert created.status == 201, created.body
    plan = created.body["stored_data"]
    assert (plan["protocol"], plan["port"], plan["options"]) == ("rdp", 3389, {"screen mode id": 2})
    listed = api.call("GET", "/rest/v1/plans/protocol", sid=sid).body
    assert listed == [{"id": plan["id"], "name": "RDP wide", "protocol": "rdp", "port": 3389}]
    assert api.call("GET", f"/rest/v1/plans/protocol/{plan['id']}", sid=sid).body == plan
    moved = api.call(
        "PUT", f"/rest/v1/plans/protocol/{plan['id']}", {"protocol": "vnc", "options": {}}, sid=sid
    )
    assert moved.status == 200, moved.body
    assert (moved.body["stored_data"]["protocol"], moved.body["stored_data"]["port"]) == ("vnc", 5900)
    ported = api.call("PUT", f"/rest/v1/plans/protocol/{plan['id']}", {"port": 5901, "name": "VNC"}, sid=sid)
    assert (ported.body["stored_data"]["port"], ported.body["stored_data"]["name"]) == (5901, "VNC")
    assert api.call("DELETE", f"/rest/v1/plans/protocol/{plan['id']}", sid=sid).status == 204
    assert api.call("GET", f"/rest/v1/plans/protocol/{plan['id']}", sid=sid).status == 404


def test_a_plan_in_use_cannot_be_deleted_and_changes_reach_the_next_login(
    world: ClientWorld, client: ClientApi
) -> None:
    plan = world.plan("ssh", "ssh")
    pool = world.pool()
    world.assign(world.policy(), pool, plan_protocol_id=plan)
    world.desktop(pool)
    world.user("alice")
    assert client.login("alice").body["desktops"][0]["protocol"] == "ssh"
    refused = world.api.call("DELETE", f"/rest/v1/plans/protocol/{plan}", sid=world.tenant.sid)
    assert refused.status == 409 and refused.body["error_status"] == "CONFLICT"
    world.api.call("PUT", f"/rest/v1/plans/protocol/{plan}", {"port": 2222}, sid=world.tenant.sid)
    assert client.login("alice").body["desktops"][0]["port"] == 2222


def test_names_are_unique_and_plans_are_per_tenant(api: Api, system_sid: str, tenant: TenantAdmin) -> None:
    assert api.call("POST", "/rest/v1/plans/protocol", {"name": "p"}, sid=tenant.sid).status == 201
    again = api.call("POST", "/rest/v1/plans/protocol", {"name": "P "}, sid=tenant.sid)
    assert again.status == 409 and again.body["error_status"] == "NOT_UNIQUE"
    other = make_tenant(api, system_sid, "globex")
    assert api.call("GET", "/rest/v1/plans/protocol", sid=other.sid).body == []
    mine = api.call("GET", "/rest/v1/plans/protocol", sid=tenant.sid).body[0]["id"]
    for method in ("GET", "DELETE"):
        assert api.call(method, f"/rest/v1/plans/protocol/{mine}", sid=other.sid).status == 404
    assert api.call("PUT", f"/rest/v1/plans/protocol/{mine}", {"port": 1}, sid=other.sid).status == 404


BAD = [
    ({}, "/body/name"),
    ({"name": ""}, "/body/name"),
    ({"name": "p", "protocol": "spice"}, "/body/protocol"),
    ({"name": "p", "port": 0}, "/body/port"),
    ({"name": "p", "port": 65536}, "/body/port"),
    ({"name": "p", "port": "3389"}, "/body/port"),
    ({"name": "p", "options": []}, "/body/options"),
    ({"name": "p", "options": {"full address": "x"}}, "/body/options/full address"),
    ({"name": "p", "options": {"bad:key": 1}}, "/body/options/bad:key"),
    ({"name": "p", "options": {"note": "two\nlines"}}, "/body/options/note"),
    ({"name": "p", "options": {"nested": {"a": 1}}}, "/body/options/nested"),
    ({"name": "p", "options": {f"k{i}": i for i in range(51)}}, "/body/options"),
]


def test_bad_input_names_the_field_and_stores_nothing(api: Api, tenant: TenantAdmin) -> None:
    for body, path in BAD:
        reply = api.call("POST", "/rest/v1/plans/protocol", body, sid=tenant.sid)
        assert reply.status == 400, (body, reply.body)
        assert any(e["path"].startswith(path) for e in reply.body["errors"]), (body, reply.body)
    assert api.call("GET", "/rest/v1/plans/protocol", sid=tenant.sid).body == []
    plan = api.call("POST", "/rest/v1/plans/protocol", {"name": "ok"}, sid=tenant.sid).body["stored_data"]
    for body in ({"port": None}, {"protocol": "x"}, {"options": {"username": "x"}}, {"id": plan["id"] + 1}):
        reply = api.call("PUT", f"/rest/v1/plans/protocol/{plan['id']}", body, sid=tenant.sid)
        assert reply.status == 400, (body, reply.body)
    assert api.call("GET", f"/rest/v1/plans/protocol/{plan['id']}", sid=tenant.sid).body == plan


def test_admin_only(api: Api, tenant: TenantAdmin) -> None:
    assert api.call("GET", "/rest/v1/plans/protocol").status == 401
    assert api.call("POST", "/rest/v1/plans/protocol", {"name": "p"}).status == 401
