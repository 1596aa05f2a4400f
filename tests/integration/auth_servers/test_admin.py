"""/rest/v1/auth-servers: create, read, update, delete; the bind password is write-only; a server serves
one login name of its own tenant (tests/integration/api/test_login_names.py covers the namespace)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chalicelib.domain.entities.auth_servers import AuthServer
from chalicelib.services.auth_servers import server_secret_name
from chalicelib.store import stores
from tests.fixtures.aws import AwsStack
from tests.integration.api.builders import Snapshot
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.auth_servers.conftest import minimal_ldap_body
from tests.integration.client.conftest import make_tenant

SECRET = "Bind-Secret-never-shown"


def create(api: Api, sid: str, body: dict[str, Any], status: int = 201) -> Any:
    reply = api.call("POST", "/rest/v1/auth-servers", body, sid=sid)
    assert reply.status == status, reply.body
    return reply.body


def policy(api: Api, sid: str, name: str = "Staff") -> int:
    reply = api.call("POST", "/rest/v1/policies", {"name": name}, sid=sid)
    assert reply.status == 201, reply.body
    return reply.body["stored_data"]["id"]


def test_crud_with_write_only_password(api: Api, tenant: TenantAdmin, aws: AwsStack) -> None:
    staff = policy(api, tenant.sid)
    body = minimal_ldap_body(
        rules=[
            {"group": "cn=vdi-users,ou=groups,dc=dir,dc=example", "policy_id": staff},
            {"any_user": 1, "policy_id": staff, "role_name": "read-only administrator"},
        ]
    )
    stored = create(api, tenant.sid, body)["stored_data"]
    assert SECRET not in str(stored)
    assert stored["bind_password_set"] == 1 and "bind_password" not in stored
    assert stored["login_attribute"] == "uid" and stored["domain"] == "dir.example"
    assert stored["rules"] == [
        {
            "group": "cn=vdi-users,ou=groups,dc=dir,dc=example",
            "any_user": 0,
            "policy_id": staff,
            "role_name": "User",
        },
        {"any_user": 1, "policy_id": staff, "role_name": "Read-only Administrator"},
    ]
    server_id = stored["id"]
    assert stores.secrets.get(server_secret_name(tenant.tenant_id, server_id)) == SECRET
    read = api.call("GET", f"/rest/v1/auth-servers/{server_id}", sid=tenant.sid).body
    assert read == stored and SECRET not in str(read)
    assert api.call("GET", "/rest/v1/auth-servers", sid=tenant.sid).body == [
        {"id": server_id, "name": "dir", "type": "ldap", "domain": "dir.example"}
    ]

    updated = api.call(
        "PUT",
        f"/rest/v1/auth-servers/{server_id}",
        {"bind_password": "New-Bind-Secret", "urls": ["ldaps://198.51.100.251"], "rules": []},
        sid=tenant.sid,
    )
    assert updated.status == 200, updated.body
    assert updated.body["stored_data"]["urls"] == ["ldaps://198.51.100.251"]
    assert "New-Bind-Secret" not in str(updated.body)
    assert stores.secrets.get(server_secret_name(tenant.tenant_id, server_id)) == "New-Bind-Secret"

    assert api.call("DELETE", f"/rest/v1/auth-servers/{server_id}", sid=tenant.sid).status == 204
    assert api.call("GET", f"/rest/v1/auth-servers/{server_id}", sid=tenant.sid).status == 404
    assert stores.secrets.get(server_secret_name(tenant.tenant_id, server_id)) is None
    # the domain is free again
    create(api, tenant.sid, minimal_ldap_body(name="dir2"))


def test_a_server_serves_only_a_free_login_name_of_its_tenant(
    api: Api, system_sid: str, tenant: TenantAdmin
) -> None:
    """A tenant may bind its own name or a domain granted to it, each to one server; another tenant's
    name or domain, or a name nobody was granted, is refused with the same answer (no enumeration)."""
    other = make_tenant(api, system_sid, "globex", ("globex.example",))
    create(api, tenant.sid, minimal_ldap_body())
    second = create(api, tenant.sid, minimal_ldap_body(name="second", domain="DIR.example"), status=400)
    assert second["errors"][0]["path"] == "/body/domain"
    answers = [create(api, tenant.sid, minimal_ldap_body(name="x", domain=domain), status=400)
               for domain in ("globex", "globex.example", "nobody-granted.example")]
    assert {a["errors"][0]["path"] for a in answers} == {"/body/domain"}
    assert len({a["errors"][0]["message"].split("'")[2] for a in answers}) == 1  # the same words
    assert create(api, other.sid, minimal_ldap_body(name="theirs", domain="dir.example"), status=400)
    create(
        api,
        tenant.sid,
        {
            "name": "locals",
            "type": "local",
            "domain": "acme",
            "rules": [{"any_user": 1, "policy_id": policy(api, tenant.sid)}],
        },
    )
    # moving a server to another of the tenant's domains frees the old one for another server
    mover = create(api, tenant.sid, minimal_ldap_body(name="mover", domain="other.example"))["stored_data"]
    path = f"/rest/v1/auth-servers/{mover['id']}"
    moved = api.call("PUT", path, {"domain": "moved.example"}, sid=tenant.sid)
    assert moved.status == 200, moved.body
    create(api, tenant.sid, minimal_ldap_body(name="reuse", domain="other.example"))
    clash = api.call("PUT", path, {"domain": "dir.example"}, sid=tenant.sid)
    assert clash.status == 400 and clash.body["errors"][0]["path"] == "/body/domain"
    assert api.call("GET", path, sid=tenant.sid).body["domain"] == "moved.example"
    # deleting a server frees its domain
    assert api.call("DELETE", path, sid=tenant.sid).status == 204
    create(api, tenant.sid, minimal_ldap_body(name="after", domain="moved.example"))


def test_tenants_never_see_each_others_servers(api: Api, system_sid: str, tenant: TenantAdmin) -> None:
    other = make_tenant(api, system_sid, "globex")
    mine = create(api, tenant.sid, minimal_ldap_body())["stored_data"]["id"]
    assert api.call("GET", "/rest/v1/auth-servers", sid=other.sid).body == []
    for method, body in (("GET", None), ("PUT", {"notes": "x"}), ("DELETE", None)):
        assert api.call(method, f"/rest/v1/auth-servers/{mine}", body, sid=other.sid).status == 404
    assert api.call("POST", f"/rest/v1/auth-servers/{mine}/test", sid=other.sid).status == 404


BAD: list[tuple[dict[str, Any], str]] = [
    ({"name": "x", "type": "ldap"}, "/body/domain"),
    (minimal_ldap_body(type="kerberos"), "/body/type"),
    (minimal_ldap_body(domain="bad domain"), "/body/domain"),
    (minimal_ldap_body(domain="-x"), "/body/domain"),
    (minimal_ldap_body(domain="system"), "/body/domain"),
    (minimal_ldap_body(urls=[]), "/body/urls"),
    (minimal_ldap_body(urls=["http://x"]), "/body/urls/0"),
    (minimal_ldap_body(urls=["ldap://"]), "/body/urls/0"),
    (minimal_ldap_body(urls=["ldap://a:99999"]), "/body/urls"),
    (minimal_ldap_body(urls="ldap://x"), "/body/urls"),
    (minimal_ldap_body(bind_dn=None), "/body/bind_dn"),
    (minimal_ldap_body(bind_password=None), "/body/bind_password"),
    (minimal_ldap_body(bind_password=""), "/body/bind_password"),
    (minimal_ldap_body(search_base=None), "/body/search_base"),
    (minimal_ldap_body(group_membership="nested"), "/body/group_membership"),
    (minimal_ldap_body(group_membership="group_search"), "/body/group_search_base"),
    (minimal_ldap_body(group_member_attribute="owner"), "/body/group_member_attribute"),
    (minimal_ldap_body(login_attribute="uid)(x"), "/body/login_attribute"),
    (minimal_ldap_body(connect_timeout_seconds=0), "/body/connect_timeout_seconds"),
    (minimal_ldap_body(receive_timeout_seconds=1000), "/body/receive_timeout_seconds"),
    (minimal_ldap_body(start_tls=2), "/body/start_tls"),
    (minimal_ldap_body(rules=[{"policy_id": 1}]), "/body/rules/0"),
    (minimal_ldap_body(rules=[{"group": "g", "any_user": 1, "policy_id": 1}]), "/body/rules/0"),
    (minimal_ldap_body(rules=[{"group": "g", "policy_id": 0}]), "/body/rules/0/policy_id"),
    (minimal_ldap_body(rules=[{"group": "g", "policy_id": 999}]), "/body/rules/0/policy_id"),
    (
        minimal_ldap_body(rules=[{"group": "g", "policy_id": 1, "role_name": "King"}]),
        "/body/rules/0/role_name",
    ),
    (minimal_ldap_body(rules="any"), "/body/rules"),
    (minimal_ldap_body(extra=1), "/body"),
    (
        {"name": "l", "type": "local", "domain": "l.example", "rules": [{"group": "g", "policy_id": 1}]},
        "/body/rules/0/group",
    ),
]


def test_bad_input_names_the_field_and_changes_nothing(api: Api, tenant: TenantAdmin, aws: AwsStack) -> None:
    policy(api, tenant.sid)  # policy 1 exists
    for body, path in BAD:
        reply = api.call("POST", "/rest/v1/auth-servers", body, sid=tenant.sid)
        assert reply.status == 400, (body, reply.body)
        assert reply.body["error_status"] == "BAD_DATA"
        assert any(e["path"].startswith(path) for e in reply.body["errors"]), (path, reply.body)
    assert api.call("GET", "/rest/v1/auth-servers", sid=tenant.sid).body == []
    assert stores.secrets.get(server_secret_name(tenant.tenant_id, 1)) is None
    server = create(api, tenant.sid, minimal_ldap_body())["stored_data"]
    for body in (
        {"urls": []},
        {"domain": None},
        {"type": "x"},
        {"id": server["id"] + 1},
        {"bind_dn": None},
        {"rules": [{"group": "g", "policy_id": 404}]},
        {"bind_password": ""},
    ):
        reply = api.call("PUT", f"/rest/v1/auth-servers/{server['id']}", body, sid=tenant.sid)
        assert reply.status == 400, (body, reply.body)
    assert api.call("GET", f"/rest/v1/auth-servers/{server['id']}", sid=tenant.sid).body == server


def test_switching_to_local_drops_the_directory_settings_and_secret(api: Api, tenant: TenantAdmin) -> None:
    server = create(api, tenant.sid, minimal_ldap_body())["stored_data"]
    reply = api.call("PUT", f"/rest/v1/auth-servers/{server['id']}", {"type": "local"}, sid=tenant.sid)
    assert reply.status == 200, reply.body
    assert reply.body["stored_data"]["bind_password_set"] == 0 and reply.body["stored_data"]["urls"] == []
    assert stores.secrets.get(server_secret_name(tenant.tenant_id, server["id"])) is None
    back = api.call(
        "PUT",
        f"/rest/v1/auth-servers/{server['id']}",
        {
            "type": "ldap",
            **{k: v for k, v in minimal_ldap_body().items() if k in ("urls", "bind_dn", "search_base")},
        },
        sid=tenant.sid,
    )
    assert back.status == 400 and back.body["errors"][0]["path"] == "/body/bind_password"


def test_admin_rights(api: Api, tenant: TenantAdmin) -> None:
    assert api.call("GET", "/rest/v1/auth-servers").status == 401
    assert api.call("POST", "/rest/v1/auth-servers", minimal_ldap_body()).status == 401
    api.call(
        "POST",
        "/rest/v1/users",
        {
            "is_local": 1,
            "user_login": "viewer",
            "name": "V",
            "password": "viewer-pw",
            "role_name": "Read-only Administrator",
        },
        sid=tenant.sid,
    )
    viewer = api.login("viewer", "viewer-pw", domain="acme")
    assert api.call("GET", "/rest/v1/auth-servers", sid=viewer).status == 200
    assert api.call("POST", "/rest/v1/auth-servers", minimal_ldap_body(), sid=viewer).status == 403


# ------------------------------------------------------------- the bind password and its recipient

TWO_URLS = ["ldaps://dir1.example:636", "ldaps://dir2.example"]
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
MOVES: list[tuple[dict[str, Any], str]] = [
    ({"urls": ["ldaps://dir.attacker.example"]}, "another host"),
    ({"urls": [*TWO_URLS, "ldaps://dir3.example"]}, "one more host"),
    ({"urls": ["ldaps://dir1.example:1636"]}, "another port"),
    ({"urls": ["ldap://dir1.example:636"], "start_tls": 1}, "another scheme"),
    ({"bind_dn": "cn=admin,dc=dir,dc=example"}, "another account"),
    ({"verify_tls": 0}, "verification off"),
    ({"ca_certificate_pem": None}, "another trust anchor"),
]


def tls_server(api: Api, sid: str) -> dict[str, Any]:
    body = minimal_ldap_body(urls=TWO_URLS, allow_cleartext_password=0, ca_certificate_pem=CA)
    return create(api, sid, body)["stored_data"]


@pytest.mark.parametrize(("change", "why"), MOVES, ids=[why for _, why in MOVES])
def test_the_bind_password_never_follows_a_new_recipient(
    api: Api, tenant: TenantAdmin, change: dict[str, Any], why: str
) -> None:
    server = tls_server(api, tenant.sid)
    path = f"/rest/v1/auth-servers/{server['id']}"
    secret = server_secret_name(tenant.tenant_id, server["id"])
    with Snapshot(api):
        reply = api.call("PUT", path, {**change, "notes": "moved"}, sid=tenant.sid)
        assert reply.status == 400, reply.body
        assert reply.body["error_status"] == "BAD_DATA"
        assert [e["path"] for e in reply.body["errors"]] == ["/body/bind_password"], reply.body
        assert "again" in reply.body["errors"][0]["message"]
    assert api.call("GET", path, sid=tenant.sid).body == server
    assert stores.secrets.get(secret) == SECRET
    moved = api.call("PUT", path, {**change, "bind_password": "Given-Again-Bind-9"}, sid=tenant.sid)
    assert moved.status == 200, moved.body
    assert all(moved.body["stored_data"].get(k) == v for k, v in change.items())
    assert stores.secrets.get(secret) == "Given-Again-Bind-9"


def test_fewer_urls_or_another_order_need_no_password(api: Api, tenant: TenantAdmin) -> None:
    server = tls_server(api, tenant.sid)
    path = f"/rest/v1/auth-servers/{server['id']}"
    for urls in (list(reversed(TWO_URLS)), ["LDAPS://DIR2.example:636/"], ["ldaps://dir2.example."]):
        reply = api.call("PUT", path, {"urls": urls, "search_base": "ou=people,dc=dir,dc=example"},
                         sid=tenant.sid)
        assert reply.status == 200, (urls, reply.body)
    assert stores.secrets.get(server_secret_name(tenant.tenant_id, server["id"])) == SECRET
    # What was dropped is a new recipient again: the stored settings, not their history, are compared.
    again = api.call("PUT", path, {"urls": TWO_URLS}, sid=tenant.sid)
    assert again.status == 400 and again.body["errors"][0]["path"] == "/body/bind_password"


def test_cleartext_ldap_needs_the_flag_which_is_shown(api: Api, tenant: TenantAdmin) -> None:
    plain = ["ldaps://dir1.example", "ldap://dir2.example"]
    with Snapshot(api):
        refused = api.call("POST", "/rest/v1/auth-servers",
                           minimal_ldap_body(urls=plain, allow_cleartext_password=0), sid=tenant.sid)
        assert refused.status == 400, refused.body
        assert [e["path"] for e in refused.body["errors"]] == ["/body/urls/1"]
        assert "allow_cleartext_password" in refused.body["errors"][0]["message"]
    start_tls = create(api, tenant.sid, minimal_ldap_body(name="tls", domain="tls.example", urls=plain,
                                                          start_tls=1, allow_cleartext_password=0))
    assert start_tls["stored_data"]["allow_cleartext_password"] == 0
    flagged = create(api, tenant.sid, minimal_ldap_body(urls=plain))["stored_data"]
    shown = api.call("GET", f"/rest/v1/auth-servers/{flagged['id']}", sid=tenant.sid).body
    assert shown["allow_cleartext_password"] == 1
    logged = api.call("GET", "/rest/v1/logs?type=auth_server.created", sid=tenant.sid).body["items"]
    [audited] = [e for e in logged if e["details"]["auth_server_id"] == flagged["id"]]
    assert audited["details"]["allow_cleartext_password"] == 1
    with Snapshot(api):
        off = api.call("PUT", f"/rest/v1/auth-servers/{start_tls['stored_data']['id']}", {"start_tls": 0},
                       sid=tenant.sid)
        assert off.status == 400 and "/body/urls/1" in [e["path"] for e in off.body["errors"]], off.body


def test_a_cleartext_server_saved_before_the_flag_is_not_used(api: Api, tenant: TenantAdmin,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.domain.errors import ServiceUnavailable
    from chalicelib.services import auth_servers

    server = create(api, tenant.sid, minimal_ldap_body())["stored_data"]
    record = stores.auth_servers.get(tenant.tenant_id, server["id"])
    caplog.set_level(logging.WARNING, logger="broker.auth_servers")
    assert auth_servers.directory_settings(record).bind_password == SECRET
    assert auth_servers.directory_settings(record).bind_password == SECRET  # cached: logged once
    [used] = [r for r in caplog.records if r.name == "broker.auth_servers"]
    assert "in clear" in used.getMessage() and used.__dict__["auth_server_id"] == server["id"]
    # Saved before the flag existed: the stored document lacks it, which reads as its default, 0.
    before_the_flag = AuthServer.from_stored(
        {k: v for k, v in record.stored_doc().items() if k != "allow_cleartext_password"},
        tenant_id=record.tenant_id, id=record.id, name=record.name)
    assert before_the_flag.allow_cleartext_password == 0
    with pytest.raises(ServiceUnavailable, match="allow_cleartext_password"):
        auth_servers.directory_settings(before_the_flag)


def test_secrets_manager_failing_leaves_the_old_password_with_the_old_urls(
    api: Api, tenant: TenantAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.errors import ServiceUnavailable

    server = tls_server(api, tenant.sid)
    path = f"/rest/v1/auth-servers/{server['id']}"

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ServiceUnavailable("Secrets Manager is unavailable")

    monkeypatch.setattr(type(stores.secrets), "put", unavailable)
    with Snapshot(api):
        reply = api.call("PUT", path, {"urls": ["ldaps://dir.new.example"], "bind_password": "New-Pw-77"},
                         sid=tenant.sid)
        assert reply.status == 503, reply.body
    assert api.call("GET", path, sid=tenant.sid).body == server
