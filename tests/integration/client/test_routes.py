"""The other /client/v1 routes (desktops, connect, release, logout) and bad input on every client route."""

from __future__ import annotations

import time

import jwt
import pytest

from chalicelib.services import tokens
from chalicelib.settings import get_settings, reset_settings
from tests.fixtures.aws import AwsStack
from tests.integration.client.conftest import ClientApi, ClientWorld, as_json


def setup_one(world: ClientWorld, **assignment: object) -> int:
    pool = world.pool()
    policy = world.policy()
    world.assign(policy, pool, **assignment)
    world.desktop(pool)
    world.desktop(pool)
    world.user("alice")
    world.user("bob")
    return pool


def test_list_my_desktops(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    offered = client.login("alice").body["desktops"]
    listed = client.call("GET", "/client/v1/desktops")
    assert listed.status == 200
    assert listed.body == {"desktops": offered}


def test_connect_rdp_gives_a_file_that_names_the_address(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    [desktop] = client.login("alice").body["desktops"]
    reply = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/x-rdp"
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{desktop["name"]}.rdp"'
    lines = reply.body.split("\r\n")
    assert lines[0] == f"full address:s:{desktop['address']}:3389"
    assert "username:s:alice" in lines


def test_connect_rdp_with_plan_options(world: ClientWorld, client: ClientApi) -> None:
    plan = world.plan("rdp-wide", "rdp", port=3390, options={"screen mode id": 2, "redirectclipboard": True})
    setup_one(world, plan_protocol_id=plan)
    [desktop] = client.login("alice").body["desktops"]
    text = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect").body
    assert f"full address:s:{desktop['address']}:3390" in text
    assert "screen mode id:i:2" in text and "redirectclipboard:i:1" in text


@pytest.mark.parametrize(("protocol", "port"), [("vnc", 5900), ("ssh", 22)])
def test_connect_vnc_and_ssh_give_host_and_port(
    world: ClientWorld, client: ClientApi, protocol: str, port: int
) -> None:
    plan = world.plan(protocol, protocol)
    setup_one(world, plan_protocol_id=plan)
    [desktop] = client.login("alice").body["desktops"]
    reply = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    assert as_json(reply) == {
        "id": desktop["id"],
        "name": desktop["name"],
        "protocol": protocol,
        "host": desktop["address"],
        "port": port,
        "username": "alice",
        "options": {},
    }


def test_connect_to_a_desktop_that_became_unavailable_is_409(world: ClientWorld, client: ClientApi) -> None:
    from dataclasses import replace

    from chalicelib.store.desktops import DesktopStore

    setup_one(world)
    [desktop] = client.login("alice").body["desktops"]
    record = world.desktop_record(desktop["id"])
    DesktopStore().save(replace(record, available=False))
    reply = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect")
    assert reply.status == 409 and reply.body["error_status"] == "CONFLICT"


def test_someone_elses_desktop_is_404_for_connect_and_release(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    [bobs] = client.login("bob").body["desktops"]
    client.login("alice")
    for action in ("connect", "release"):
        reply = client.call("POST", f"/client/v1/desktops/{bobs['id']}/{action}")
        assert reply.status == 404, reply.body
    assert world.desktop_record(bobs["id"]).assigned_user_id is not None


def test_release_frees_the_desktop_for_someone_else(
    world: ClientWorld, client: ClientApi, aws: AwsStack
) -> None:
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.desktop(pool)
    world.user("alice")
    world.user("bob")
    [desktop] = client.login("alice").body["desktops"]
    assert client.login("bob").body["desktops"] == []
    client.login("alice")
    released = client.call("POST", f"/client/v1/desktops/{desktop['id']}/release")
    assert released.status == 200 and "released" in released.body["message"]
    assert client.call("GET", "/client/v1/desktops").body == {"desktops": []}
    record = world.desktop_record(desktop["id"])
    assert record.assigned_user_id is None and world.stored_user_key(record.id) is None
    # releasing again is not an error (a retried request must not fail)...
    assert client.call("POST", f"/client/v1/desktops/{desktop['id']}/release").status == 200
    alice = client.token
    assert [d["id"] for d in client.login("bob").body["desktops"]] == [desktop["id"]]
    # ...but once someone else holds it, it is not alice's to release
    assert client.call("POST", f"/client/v1/desktops/{desktop['id']}/release", token=alice).status == 404
    assert world.desktop_record(desktop["id"]).assigned_user_id is not None


def test_logout_revokes_the_token_only(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    first = client.login("alice").body["token"]
    second = client.login("alice").body["token"]
    assert client.call("POST", "/client/v1/logout", token=first).status == 200
    refused = client.call("GET", "/client/v1/desktops", token=first)
    assert refused.status == 401 and refused.body["error_status"] == "UNAUTHORIZED"
    assert client.call("POST", "/client/v1/logout", token=first).status == 401
    assert client.call("GET", "/client/v1/desktops", token=second).status == 200


def _forged(claims: dict, key: str = "not-the-key" * 6) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def test_expired_forged_and_foreign_tokens_are_401(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    real = client.login("alice").body["token"]
    claims = jwt.decode(real, options={"verify_signature": False})
    key = tokens._signing_key()
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, key, algorithm="HS256")
    admin_sid = world.tenant.sid
    for token in (expired, _forged(claims), real + "x", real.replace(".", "", 1), admin_sid, "x" * 5000):
        reply = client.call("GET", "/client/v1/desktops", token=token)
        assert reply.status == 401, (token[:20], reply.body)
        assert reply.body["error_status"] == "UNAUTHORIZED"


def test_token_lifetime_comes_from_the_setting(
    world: ClientWorld, client: ClientApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_one(world)
    monkeypatch.setenv("BROKER_CLIENT_TOKEN_MINUTES", "5")
    reset_settings()
    get_settings()  # read now, outside a request (see test_sessions.py)
    try:
        body = client.login("alice").body
    finally:
        monkeypatch.delenv("BROKER_CLIENT_TOKEN_MINUTES")
        reset_settings()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300 == body["expires_at"] - claims["iat"]
    assert claims["tid"] == world.tenant.tenant_id and claims["sub"] == "alice"


def test_the_admin_sid_does_not_open_client_routes_and_the_token_not_admin_routes(
    world: ClientWorld, client: ClientApi
) -> None:
    setup_one(world)
    token = client.login("alice").body["token"]
    assert client.call("GET", "/client/v1/desktops", token=world.tenant.sid).status == 401
    assert (
        client.api.call("GET", "/rest/v1/pools", headers={"Authorization": f"Bearer {token}"}).status == 401
    )


# ----------------------------------------------------------------------------------------- bad input

LOGIN_BAD_BODIES = [
    ({}, "/body/user_login"),
    ({"user_login": "alice"}, "/body/password"),
    ({"password": "x"}, "/body/user_login"),
    ({"user_login": "", "password": "x"}, "/body/user_login"),
    ({"user_login": "   ", "password": "x"}, "/body/user_login"),
    ({"user_login": "alice", "password": ""}, "/body/password"),
    ({"user_login": 7, "password": "x"}, "/body/user_login"),
    ({"user_login": "alice", "password": 12345}, "/body/password"),
    ({"user_login": ["alice"], "password": "x"}, "/body/user_login"),
    ({"user_login": "alice", "password": None}, "/body/password"),
    ({"user_login": "alice", "password": "x", "domain": 5}, "/body/domain"),
    ({"user_login": "a" * 257, "password": "x"}, "/body/user_login"),
    ({"user_login": "alice", "password": "x" * 1025}, "/body/password"),
    ({"user_login": "alice", "password": "x", "domain": "d" * 254}, "/body/domain"),
    ({"user_login": "alice", "password": "x", "remember": True}, "/body/remember"),
]


def test_login_bad_bodies_name_the_field(world: ClientWorld, client: ClientApi) -> None:
    for body, path in LOGIN_BAD_BODIES:
        reply = client.api.call("POST", "/client/v1/login", body)
        assert reply.status == 400, (body, reply.body)
        assert reply.body["error_status"] == "BAD_DATA"
        paths = [e["path"] for e in reply.body["errors"]]
        # (schemas/validation.py currently names an unknown key's parent, "/body", not "/body/remember")
        assert path in paths or (path == "/body/remember" and paths == ["/body"]), (body, reply.body)


MALFORMED = [
    b"",
    b"not json",
    b"[1,2]",
    b'"alice"',
    b"null",
    b'{"user_login": "a", ',
    b"\xff\xfe",
    b'{"user_login": "a", "password": NaN}',
    b'{"user_login": "a", "password": "b"}{}',
]


def test_login_malformed_bodies_are_400(world: ClientWorld, client: ClientApi) -> None:
    for raw in MALFORMED:
        reply = client.api.call("POST", "/client/v1/login", raw=raw)
        assert reply.status == 400, (raw, reply.body)
        assert reply.body["error_status"] == "BAD_DATA"


def test_bad_input_changes_nothing(world: ClientWorld, client: ClientApi, aws: AwsStack) -> None:
    from chalicelib.store.repos import AuditStore

    setup_one(world)
    aws.queued()
    before = len(AuditStore().list(world.tenant.tenant_id, limit=1000))
    for body, _ in LOGIN_BAD_BODIES:
        client.api.call("POST", "/client/v1/login", body)
    for raw in MALFORMED:
        client.api.call("POST", "/client/v1/login", raw=raw)
    assert all(world.desktop_record(d.id).assigned_user_id is None for d in world.desktops)
    assert aws.queued() == []
    assert len(AuditStore().list(world.tenant.tenant_id, limit=1000)) == before


CLIENT_ROUTES = [
    ("GET", "/client/v1/desktops"),
    ("POST", "/client/v1/desktops/1/connect"),
    ("POST", "/client/v1/desktops/1/release"),
    ("POST", "/client/v1/logout"),
]
BAD_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer   ",
    "Basic YWxpY2U6eA==",
    "token-only",
    "Bearer a.b.c",
    "Bearer " + "x" * 5000,
    "Bearer \u00e9\u00e9",
]


def test_client_routes_without_a_valid_token_are_401(world: ClientWorld, client: ClientApi) -> None:
    for method, path in CLIENT_ROUTES:
        for authorization in BAD_AUTHORIZATIONS:
            headers = {} if authorization is None else {"Authorization": authorization}
            reply = client.api.call(method, path, headers=headers)
            assert reply.status == 401, (method, path, authorization, reply.body)
            assert reply.body["error_status"] == "UNAUTHORIZED"


def test_bad_and_unknown_desktop_ids_are_404(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    client.login("alice")
    for desktop_id in ["0", "-1", "abc", "1.5", "9" * 17, "%20", "\u0661\u0662", "999999"]:
        for action in ("connect", "release"):
            reply = client.call("POST", f"/client/v1/desktops/{desktop_id}/{action}")
            assert reply.status == 404, (desktop_id, action, reply.body)
            assert reply.body["error_status"] == "NOT_FOUND"


def test_a_body_on_body_less_routes_is_ignored(world: ClientWorld, client: ClientApi) -> None:
    setup_one(world)
    [desktop] = client.login("alice").body["desktops"]
    for method, path in [
        ("POST", f"/client/v1/desktops/{desktop['id']}/connect"),
        ("GET", "/client/v1/desktops"),
        ("POST", f"/client/v1/desktops/{desktop['id']}/release"),
        ("POST", "/client/v1/logout"),
    ]:
        reply = client.call(method, path, raw=b"{garbage")
        assert reply.status == 200, (path, reply.body)


def test_wrong_methods_are_4xx(world: ClientWorld, client: ClientApi) -> None:
    for method, path in [
        ("GET", "/client/v1/login"),
        ("PUT", "/client/v1/desktops"),
        ("DELETE", "/client/v1/logout"),
        ("GET", "/client/v1/desktops/1/connect"),
    ]:
        assert 400 <= client.api.call(method, path).status < 500, (method, path)
