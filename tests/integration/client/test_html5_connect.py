"""`POST /client/v1/desktops/{id}/connect` for HTML5 plans, on moto (the desktops are records; nothing
behind their addresses is contacted): the Guacamole document the link carries, and the plain 503s when the
plan's gateway or its key is missing. The noVNC link against a real gateway: tests/integration/gateway."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from chalicelib import clock
from chalicelib.domain import gateway_tokens
from chalicelib.services.gateways import gateway_secret_name
from chalicelib.store.secrets import SecretStore
from tests.integration.client.conftest import ClientApi, ClientWorld, as_json

SHARED_KEY = "8f3c2a1b9d7e6f5a4c3b2a1908f7e6d5"


def _guacamole_world(world: ClientWorld, client: ClientApi) -> tuple[dict, dict]:
    gateway = world.api.call("POST", "/rest/v1/gateways", {
        "name": "guac", "address": "guac.example.net", "type": "guacamole",
        "url": "https://guac.example.net/guacamole/", "shared_key": SHARED_KEY}, sid=world.tenant.sid)
    assert gateway.status == 201, gateway.body
    plan = world.plan("guac rdp", "html5", gateway_id=gateway.body["stored_data"]["id"],
                      options={"remote_protocol": "rdp", "ignore-cert": "true"})
    pool = world.pool()
    world.assign(world.policy(), pool, plan_protocol_id=plan)
    world.desktop(pool, display_name="Desk one")
    world.user("alice")
    [desktop] = client.login("alice").body["desktops"]
    return gateway.body["stored_data"], desktop


def test_a_guacamole_link_carries_one_single_use_connection_for_a_minute(world: ClientWorld,
                                                                          client: ClientApi) -> None:
    gateway, desktop = _guacamole_world(world, client)
    with clock.controlled(start=clock.time()) as now:
        reply = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect")
        assert reply.status == 200, reply.body
        link = as_json(reply)
        issued = now()
    url = urlsplit(link["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://guac.example.net/guacamole/"
    [data] = parse_qs(url.query)["data"]
    document = json.loads(gateway_tokens.open_guacamole(SHARED_KEY, data) or b"null")
    assert document == {
        "username": "alice", "expires": int(issued * 1000) + 60_000, "singleUse": True,
        "connections": {desktop["name"]: {"protocol": "rdp", "singleUse": True, "parameters": {
            "hostname": desktop["address"], "port": "3389", "username": "alice", "ignore-cert": "true"}}},
    }
    assert link["url_expires_at"] == int(issued) + 60
    assert gateway_tokens.open_guacamole("00" * 16, data) is None  # only the tenant's key opens it
    again = as_json(client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect"))
    assert again["url"] != link["url"]  # every connect makes a new document
    assert SHARED_KEY not in json.dumps([link, again]) and gateway["shared_key_set"] == 1


def test_a_missing_gateway_or_key_is_a_plain_503(world: ClientWorld, client: ClientApi) -> None:
    gateway, desktop = _guacamole_world(world, client)
    SecretStore().delete(gateway_secret_name(world.tenant.tenant_id, gateway["id"]))
    reply = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect")
    assert reply.status == 503, reply.body
    assert "missing" in reply.body["error_message"] and "gateway/" not in reply.body["error_message"]
