"""`/rest/v1/gateways`: HTML5 gateways in the reference's shape, their write-only keys in Secrets Manager, a
key that never follows the URL to another origin, bad input, and tenants kept apart."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest

from chalicelib.domain import gateway_tokens
from chalicelib.services.gateways import gateway_secret_name
from tests.integration.api.builders import Snapshot, fast_backends, secrets_state  # noqa: F401 - autouse
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.api.test_reference_shapes import assert_matches, example, schema

GUAC_KEY = "4c0b569e4c96df157eee1b65dd0e4d41"
OTHER_GUAC_KEY = "00112233445566778899aabbccddeeff"


def novnc_body(name: str = "gw", **fields: Any) -> dict[str, Any]:
    return {"name": name, "address": "gw.example.net", **fields}


def guac_body(name: str = "guac", **fields: Any) -> dict[str, Any]:
    return {"name": name, "address": "guac.example.net", "type": "guacamole",
            "url": "https://guac.example.net/guacamole", "shared_key": GUAC_KEY.upper(), **fields}


def create(api: Api, sid: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.call("POST", "/rest/v1/gateways", body, sid=sid)
    assert reply.status == 201, reply.body
    return reply.body["stored_data"]


def stored_key(api: Api, tenant: TenantAdmin, gateway_id: int) -> str | None:
    return secrets_state(api.aws).get(gateway_secret_name(tenant.tenant_id, gateway_id))


def test_the_reference_example_makes_a_novnc_gateway_whose_private_key_only_the_broker_holds(
        api: Api, tenant: TenantAdmin) -> None:
    body = example("GatewayAdd")
    assert_matches(body, schema("GatewayAdd"))
    reply = api.call("POST", "/rest/v1/gateways", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert_matches(reply.body, schema("RespGatewayCreated"))
    gateway = reply.body["stored_data"]
    assert (gateway["type"], gateway["url"], gateway["address"]) == ("novnc", "https://dev-gw.example.net/",
                                                                     "dev-gw.example.net")
    private_pem = stored_key(api, tenant, gateway["id"])
    assert private_pem is not None and "PRIVATE KEY" in private_pem
    # The record shows the public half, which verifies what the stored private key signs.
    assert gateway["verification_key"] == gateway_tokens.public_key_of(private_pem)
    assert gateway["key_id"] == gateway_tokens.key_id(gateway["verification_key"])
    signed = jwt.encode({"host": "h", "port": 1}, private_pem, algorithm="ES256")
    assert jwt.decode(signed, gateway["verification_key"], algorithms=["ES256"]) == {"host": "h", "port": 1}

    one = api.call("GET", f"/rest/v1/gateways/{gateway['id']}", sid=tenant.sid).body
    assert one == gateway
    assert_matches(one, schema("GatewayFull"))
    listed = api.call("GET", "/rest/v1/gateways", sid=tenant.sid).body
    assert_matches(listed, schema("gateway_array"))
    assert listed == [{"id": gateway["id"], "name": body["name"], "type": "novnc", "url": gateway["url"]}]
    everything = json.dumps([reply.body, one, listed])
    assert "PRIVATE" not in everything and private_pem.splitlines()[1] not in everything


def test_a_guacamole_shared_key_is_write_only(api: Api, tenant: TenantAdmin) -> None:
    bodies = []
    created = api.call("POST", "/rest/v1/gateways", guac_body(), sid=tenant.sid)
    assert created.status == 201, created.body
    gateway = created.body["stored_data"]
    bodies += [created.body, api.call("GET", f"/rest/v1/gateways/{gateway['id']}", sid=tenant.sid).body]
    assert stored_key(api, tenant, gateway["id"]) == GUAC_KEY  # kept in lower case, as given otherwise
    assert gateway["shared_key_set"] == 1 and "verification_key" not in gateway
    updated = api.call("PUT", f"/rest/v1/gateways/{gateway['id']}", {"shared_key": OTHER_GUAC_KEY},
                       sid=tenant.sid)
    assert updated.status == 200, updated.body
    bodies.append(updated.body)
    assert stored_key(api, tenant, gateway["id"]) == OTHER_GUAC_KEY
    text = json.dumps(bodies).lower()
    assert GUAC_KEY not in text and OTHER_GUAC_KEY not in text and "shared_key\"" not in text


def test_put_changes_only_what_it_names(api: Api, tenant: TenantAdmin) -> None:
    gateway = create(api, tenant.sid, novnc_body(notes="first"))
    key = stored_key(api, tenant, gateway["id"])
    reply = api.call("PUT", f"/rest/v1/gateways/{gateway['id']}", {"notes": "second", "name": "gw2"},
                     sid=tenant.sid)
    assert reply.status == 200, reply.body
    after = reply.body["stored_data"]
    assert (after["notes"], after["name"], after["url"]) == ("second", "gw2", gateway["url"])
    assert after["verification_key"] == gateway["verification_key"] and stored_key(api, tenant,
                                                                                   gateway["id"]) == key


def test_a_signing_key_never_follows_the_url_to_another_origin(api: Api, tenant: TenantAdmin) -> None:
    gateway = create(api, tenant.sid, novnc_body())
    path = f"/rest/v1/gateways/{gateway['id']}"
    key = stored_key(api, tenant, gateway["id"])
    with Snapshot(api):
        for change in ({"address": "evil.example.org"},
                       {"url": "https://gw.example.net:8443/"},
                       {"address": "evil.example.org", "url": "https://evil.example.org/"}):
            refused = api.call("PUT", path, change, sid=tenant.sid)
            assert refused.status == 400, (change, refused.body)
            assert [e["path"] for e in refused.body["errors"]] == ["/body/rotate_key"], refused.body
    # The same origin (a new path) is the same gateway: nothing to rotate.
    moved = api.call("PUT", path, {"url": "https://gw.example.net/novnc/"}, sid=tenant.sid)
    assert moved.status == 200 and stored_key(api, tenant, gateway["id"]) == key
    # A new origin with a new key: the old key is gone, the record shows the new public half.
    rotated = api.call("PUT", path, {"address": "gw2.example.net", "rotate_key": 1}, sid=tenant.sid)
    assert rotated.status == 200, rotated.body
    after = rotated.body["stored_data"]
    assert after["url"] == "https://gw2.example.net/novnc/"  # the URL followed its host
    new_key = stored_key(api, tenant, gateway["id"])
    assert new_key != key and after["verification_key"] == gateway_tokens.public_key_of(new_key)
    assert after["key_id"] != gateway["key_id"]


def test_a_shared_key_never_follows_the_url_to_another_origin(api: Api, tenant: TenantAdmin) -> None:
    gateway = create(api, tenant.sid, guac_body())
    path = f"/rest/v1/gateways/{gateway['id']}"
    with Snapshot(api):
        refused = api.call("PUT", path, {"url": "http://guac.example.net/guacamole", "allow_cleartext": 1},
                           sid=tenant.sid)
        assert refused.status == 400
        assert [e["path"] for e in refused.body["errors"]] == ["/body/shared_key"]
    given = api.call("PUT", path, {"address": "guac2.example.net", "shared_key": OTHER_GUAC_KEY},
                     sid=tenant.sid)
    assert given.status == 200, given.body
    assert given.body["stored_data"]["url"] == "https://guac2.example.net/guacamole"
    assert stored_key(api, tenant, gateway["id"]) == OTHER_GUAC_KEY


BAD_CREATE = [
    ({"address": "gw.example.net"}, "/body/name"),
    ({"name": "gw"}, "/body/address"),
    (novnc_body(address="https://gw.example.net"), "/body/address"),
    (novnc_body(address="gw.example.net:443"), "/body/address"),
    (novnc_body(type="spice"), "/body/type"),
    (novnc_body(url="ftp://gw.example.net/"), "/body/url"),
    (novnc_body(url="https://gw.example.net/?a=1"), "/body/url"),
    (novnc_body(url="https://gw.example.net/#x"), "/body/url"),
    (novnc_body(url="https://user:pw@gw.example.net/"), "/body/url"),
    (novnc_body(url="https://other.example.net/"), "/body/url"),
    (novnc_body(url="http://gw.example.net/"), "/body/url"),
    (novnc_body(shared_key=GUAC_KEY), "/body/shared_key"),
    (novnc_body(load_balancer_id=3), "/body/load_balancer_id"),
    (novnc_body(use_src_ip=3), "/body/use_src_ip"),
    (novnc_body(colour="red"), "/body/colour"),
    (guac_body(shared_key=None), "/body/shared_key"),
    ({k: v for k, v in guac_body().items() if k != "shared_key"}, "/body/shared_key"),
    (guac_body(shared_key="not-hex-not-hex-not-hex-not-hex!"), "/body/shared_key"),
    (guac_body(shared_key=GUAC_KEY[:30]), "/body/shared_key"),
    (guac_body(shared_key=123), "/body/shared_key"),
]


def test_bad_input_names_the_field_and_changes_nothing(api: Api, tenant: TenantAdmin) -> None:
    gateway = create(api, tenant.sid, novnc_body())
    guac = create(api, tenant.sid, guac_body())
    bad_updates = [
        (gateway["id"], {"type": "guacamole"}, "/body/type"),
        (gateway["id"], {"shared_key": GUAC_KEY}, "/body/shared_key"),
        (gateway["id"], {"name": None}, "/body/name"),
        (gateway["id"], {"id": gateway["id"] + 1}, "/body/id"),
        (guac["id"], {"rotate_key": 1}, "/body/rotate_key"),
        (guac["id"], {"url": "https://guac.example.net:8443/"}, "/body/shared_key"),
        (gateway["id"], {"name": "guac"}, "name"),  # taken: 409 NOT_UNIQUE
    ]
    with Snapshot(api):
        for body, path in BAD_CREATE:
            reply = api.call("POST", "/rest/v1/gateways", body, sid=tenant.sid)
            assert reply.status == 400, (body, reply.body)
            assert path in [e["path"] for e in reply.body["errors"]], (body, reply.body)
        for gateway_id, body, path in bad_updates:
            reply = api.call("PUT", f"/rest/v1/gateways/{gateway_id}", body, sid=tenant.sid)
            if path == "name":
                assert reply.status == 409 and reply.body["items"] == ["name"], reply.body
                continue
            assert reply.status == 400, (body, reply.body)
            assert path in [e["path"] for e in reply.body["errors"]], (body, reply.body)
        taken = api.call("POST", "/rest/v1/gateways", novnc_body(name="GW"), sid=tenant.sid)
        assert taken.status == 409 and taken.body["error_status"] == "NOT_UNIQUE"


def test_cleartext_needs_the_flag_which_is_shown(api: Api, tenant: TenantAdmin) -> None:
    gateway = create(api, tenant.sid, novnc_body(address="127.0.0.1", url="http://127.0.0.1:6080/",
                                                 allow_cleartext=1))
    assert (gateway["allow_cleartext"], gateway["url"]) == (1, "http://127.0.0.1:6080/")
    refused = api.call("PUT", f"/rest/v1/gateways/{gateway['id']}", {"allow_cleartext": 0}, sid=tenant.sid)
    assert refused.status == 400 and refused.body["errors"][0]["path"] == "/body/url"


def test_tenants_never_see_each_others_gateways(api: Api, tenant: TenantAdmin,
                                                other_tenant: TenantAdmin) -> None:
    mine = create(api, tenant.sid, novnc_body())
    theirs = create(api, other_tenant.sid, novnc_body())  # the same name in another tenant is fine
    listed = api.call("GET", "/rest/v1/gateways", sid=other_tenant.sid).body
    assert [g["id"] for g in listed] == [theirs["id"]]
    with Snapshot(api):
        for method, body in (("GET", None), ("PUT", {"notes": "x"}), ("DELETE", None)):
            reply = api.call(method, f"/rest/v1/gateways/{mine['id']}", body, sid=other_tenant.sid)
            assert reply.status == 404, (method, reply.body)
        # nor can a protocol plan of theirs name my gateway
        plan = api.call("POST", "/rest/v1/plans/protocol", {"name": "web", "protocol": "html5",
                                                            "gateway_id": mine["id"]}, sid=other_tenant.sid)
        assert plan.status == 400 and plan.body["errors"][0]["path"] == "/body/gateway_id"


def test_a_gateway_in_use_cannot_be_deleted_then_goes_with_its_key(api: Api, tenant: TenantAdmin) -> None:
    gateway = create(api, tenant.sid, novnc_body())
    plan = api.call("POST", "/rest/v1/plans/protocol", {"name": "web", "protocol": "html5",
                                                        "gateway_id": gateway["id"]}, sid=tenant.sid)
    assert plan.status == 201, plan.body
    assert plan.body["stored_data"]["port"] == 5900  # the desktop's VNC port behind the gateway
    refused = api.call("DELETE", f"/rest/v1/gateways/{gateway['id']}", sid=tenant.sid)
    assert refused.status == 409 and refused.body["error_status"] == "CONFLICT"
    api.call("DELETE", f"/rest/v1/plans/protocol/{plan.body['stored_data']['id']}", sid=tenant.sid)
    assert api.call("DELETE", f"/rest/v1/gateways/{gateway['id']}", sid=tenant.sid).status == 204
    assert stored_key(api, tenant, gateway["id"]) is None
    assert api.call("GET", f"/rest/v1/gateways/{gateway['id']}", sid=tenant.sid).status == 404


@pytest.mark.parametrize(("plan", "path"), [
    ({"protocol": "html5"}, "/body/gateway_id"),
    ({"protocol": "html5", "gateway_id": 999999}, "/body/gateway_id"),
    ({"protocol": "rdp", "gateway_id": "novnc"}, "/body/gateway_id"),
    ({"protocol": "html5", "gateway_id": "novnc", "options": {"remote_protocol": "rdp"}},
     "/body/options/remote_protocol"),
    ({"protocol": "html5", "gateway_id": "guacamole", "options": {"remote_protocol": "spice"}},
     "/body/options/remote_protocol"),
    ({"protocol": "html5", "gateway_id": "guacamole", "options": {"hostname": "10.0.0.1"}},
     "/body/options/hostname"),
])
def test_a_protocol_plan_names_a_gateway_that_can_carry_it(api: Api, tenant: TenantAdmin,
                                                           plan: dict[str, Any], path: str) -> None:
    ids = {"novnc": create(api, tenant.sid, novnc_body())["id"],
           "guacamole": create(api, tenant.sid, guac_body())["id"]}
    body = {"name": "web", **plan}
    if isinstance(body.get("gateway_id"), str):
        body["gateway_id"] = ids[body["gateway_id"]]
    with Snapshot(api):
        reply = api.call("POST", "/rest/v1/plans/protocol", body, sid=tenant.sid)
        assert reply.status == 400, reply.body
        assert path in [e["path"] for e in reply.body["errors"]], reply.body
    good = {"name": "guac rdp", "protocol": "html5", "gateway_id": ids["guacamole"],
            "options": {"remote_protocol": "rdp", "ignore-cert": "true"}}
    created = api.call("POST", "/rest/v1/plans/protocol", good, sid=tenant.sid)
    assert created.status == 201 and created.body["stored_data"]["port"] == 3389
