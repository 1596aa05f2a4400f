"""`/rest/v1/session/*`: the sid, raw or Bearer; logout; idle expiry; roles without API access or writes."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib import clock
from chalicelib.domain.token_digest import token_hash
from chalicelib.settings import get_settings, reset_settings
from chalicelib.store import stores
from chalicelib.store.models import SessionRecord
from chalicelib.store.repos import SessionStore
from tests.integration.api.builders import (
    Snapshot,
    center_body,
    create_center,
    create_policy,
    create_user,
    fast_backends,  # noqa: F401 - autouse
    login_as,
    pool_body,
)
from tests.integration.api.conftest import ADMIN_PASSWORD, Api, TenantAdmin

LOGIN = "/rest/v1/session/login"


def _session(sid: str) -> SessionRecord:
    return SessionRecord.get(token_hash(sid), consistent_read=True)


def _assert_error(reply, status: int, error_status: str) -> None:
    assert reply.status == status, reply.body
    assert reply.body["error_status"] == error_status
    assert reply.body["error_message"]


def test_login_returns_only_a_sid_that_is_never_stored(api: Api) -> None:
    reply = api.call("POST", LOGIN, {"user_login": "admin", "password": ADMIN_PASSWORD})
    assert reply.status == 200, reply.body
    assert set(reply.body) == {"sid"}
    sid = reply.body["sid"]
    assert isinstance(sid, str) and len(sid) >= 32
    record = _session(sid)
    assert record.sid_hash != sid and sid not in record.sid_hash
    assert record.login == "admin" and record.tenant_id == 0


def test_login_is_case_insensitive_on_login_and_domain(api: Api, tenant: TenantAdmin) -> None:
    sid = api.login("BOSS", "tenant-admin-pw", domain="ACME")
    assert api.call("GET", "/rest/v1/pools", sid=sid).status == 200


def test_the_sid_is_accepted_raw_or_as_bearer(api: Api, system_sid: str) -> None:
    for scheme in ("{sid}", "Bearer {sid}", "bearer {sid}", "BEARER {sid}", "  Bearer   {sid}  "):
        reply = api.call("GET", "/rest/v1/tenants", headers={"Authorization": scheme.format(sid=system_sid)})
        assert reply.status == 200, (scheme, reply.body)


UNKNOWN_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "not-a-session",
    "Bearer not-a-session",
    "x" * 10_000,
    "Bearer " + "y" * 201,
    "Basic YWRtaW46cGFzc3dvcmQ=",
    "Bearer \u00e9\u00e8",
    "Bearer Bearer",
]


def test_missing_or_unknown_sid_is_401(api: Api, system_sid: str) -> None:
    for authorization in [*UNKNOWN_AUTHORIZATIONS, system_sid[:-1], system_sid + "x", system_sid.upper()]:
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, path in (
            ("GET", "/rest/v1/pools"),
            ("POST", "/rest/v1/session/logout"),
            ("GET", "/rest/v1/system/health"),
            ("GET", "/rest/v1/tenants"),
        ):
            reply = api.call(method, path, headers=headers)
            assert reply.status == 401, (authorization and authorization[:40], path, reply.body)
            _assert_error(reply, 401, "UNAUTHORIZED")


def test_a_write_without_a_session_changes_nothing(api: Api, tenant: TenantAdmin) -> None:
    with Snapshot(api):
        reply = api.call("POST", "/rest/v1/centers/openstack", center_body())
        _assert_error(reply, 401, "UNAUTHORIZED")


def test_bad_credentials_get_one_answer(api: Api, tenant: TenantAdmin) -> None:
    for body in (
        {"user_login": "admin", "password": "wrong-password"},
        {"user_login": "nobody", "password": ADMIN_PASSWORD},
        {"user_login": "boss", "password": "tenant-admin-pw", "domain": "no-such-tenant"},
        {"user_login": "boss", "password": "tenant-admin-pw"},  # right user, but in the system tenant
        {"user_login": "boss", "password": "TENANT-ADMIN-PW", "domain": "acme"},
    ):
        reply = api.call("POST", LOGIN, body)
        assert reply.status == 401, (body, reply.body)
        assert reply.body["error_status"] in ("INVALID_CREDENTIALS", "UNAUTHORIZED")
        assert reply.body["error_message"] == "Invalid user name or password"
        assert "sid" not in reply.body


def test_logout_ends_only_that_session(api: Api, tenant: TenantAdmin) -> None:
    second = api.login("boss", "tenant-admin-pw", domain="acme")
    reply = api.call("POST", "/rest/v1/session/logout", sid=f"Bearer {tenant.sid}")
    assert reply.status == 200, reply.body
    assert reply.body == {"message": "Logged out"}
    _assert_error(api.call("GET", "/rest/v1/pools", sid=tenant.sid), 401, "UNAUTHORIZED")
    _assert_error(api.call("POST", "/rest/v1/session/logout", sid=tenant.sid), 401, "UNAUTHORIZED")
    assert api.call("GET", "/rest/v1/pools", sid=second).status == 200


def test_a_session_idle_too_long_is_refused(api: Api, tenant: TenantAdmin) -> None:
    record = _session(tenant.sid)
    past = int(time.time()) - 5
    record.update(actions=[SessionRecord.expires_at.set(datetime.fromtimestamp(past, UTC))])
    _assert_error(api.call("GET", "/rest/v1/pools", sid=tenant.sid), 401, "UNAUTHORIZED")
    _assert_error(api.call("GET", "/rest/v1/pools", sid=f"Bearer {tenant.sid}"), 401, "UNAUTHORIZED")


def _use_idle_minutes(monkeypatch: pytest.MonkeyPatch, minutes: str) -> None:
    """Settings are read once and cached; read them now, outside a request (chalice.test.Client
    applies the stage's environment from .chalice/config.json while it runs one)."""
    monkeypatch.setenv("BROKER_SESSION_IDLE_MINUTES", minutes)
    reset_settings()
    assert get_settings().session_idle_minutes == int(minutes)


def test_the_idle_time_comes_from_the_setting(
    api: Api, tenant: TenantAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the broker's clock, moved by the test, not by the machine (chalicelib/clock.py)."""
    _use_idle_minutes(monkeypatch, "3")
    try:
        with clock.controlled(float(int(time.time()))) as now:
            sid = api.login("boss", "tenant-admin-pw", domain="acme")
            started = now()
            assert _session(sid).expires_at.timestamp() == started + 180
            # Used within the minute after the last refresh: one read, the deadline stays.
            now.advance(59)
            assert api.call("GET", "/rest/v1/pools", sid=sid).status == 200
            assert _session(sid).expires_at.timestamp() == started + 180
            # Used after two minutes of idling (within 3): the deadline moves forward.
            now.advance(61)
            assert api.call("GET", "/rest/v1/pools", sid=sid).status == 200
            assert _session(sid).expires_at.timestamp() == started + 120 + 180
            assert int(_session(sid).last_seen) == started + 120
            # Idle for exactly the setting: gone.
            now.advance(180)
            _assert_error(api.call("GET", "/rest/v1/pools", sid=sid), 401, "UNAUTHORIZED")
    finally:
        monkeypatch.delenv("BROKER_SESSION_IDLE_MINUTES")
        reset_settings()


def test_a_zero_idle_time_expires_sessions_at_once(
    api: Api, tenant: TenantAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_idle_minutes(monkeypatch, "0")
    try:
        sid = api.login("boss", "tenant-admin-pw", domain="acme")
        _assert_error(api.call("GET", "/rest/v1/pools", sid=sid), 401, "UNAUTHORIZED")
    finally:
        monkeypatch.delenv("BROKER_SESSION_IDLE_MINUTES")
        reset_settings()


def test_the_store_refuses_an_expired_record_even_before_the_ttl_deletes_it(
    api: Api, tenant: TenantAdmin
) -> None:
    record = _session(tenant.sid)
    record.update(actions=[SessionRecord.expires_at.set(datetime.fromtimestamp(time.time() - 1, UTC))])
    assert SessionStore().find_live(tenant.sid, 1800, 12 * 3600) is None


def test_a_user_role_cannot_log_in_to_the_api(api: Api, tenant: TenantAdmin) -> None:
    """The right password of a role without API access reads exactly like a wrong one (the admin login
    must not tell an attacker which end-user password is right)."""
    create_user(api, tenant.sid, "enduser", "User", password="user-pw-123")
    right = api.call("POST", LOGIN, {"user_login": "enduser", "password": "user-pw-123", "domain": "acme"})
    wrong = api.call("POST", LOGIN, {"user_login": "enduser", "password": "nope-nope", "domain": "acme"})
    _assert_error(right, 401, "INVALID_CREDENTIALS")
    assert right.body == wrong.body and "sid" not in right.body


def test_an_absolute_lifetime_ends_even_a_busy_session(api: Api, tenant: TenantAdmin) -> None:
    with clock.controlled() as now:
        sid = api.login("boss", "tenant-admin-pw", domain="acme")
        created = _session(sid).created
        while now() + 25 * 60 - created < 12 * 3600:  # used every 25 minutes, never idle for 30
            now.advance(25 * 60)
            assert api.call("GET", "/rest/v1/pools", sid=sid).status == 200
        now.advance(created + 12 * 3600 - now())  # twelve hours after the login, to the second
        _assert_error(api.call("GET", "/rest/v1/pools", sid=sid), 401, "UNAUTHORIZED")
        again = api.login("boss", "tenant-admin-pw", "acme")
        assert api.call("GET", "/rest/v1/pools", sid=again).status == 200


def test_a_role_changed_after_login_applies_at_once(api: Api, tenant: TenantAdmin) -> None:
    user = stores.users.find_by_login(tenant.tenant_id, "boss")
    assert user is not None
    stores.users.update(user, replace(user, role="Read-only Administrator"))
    assert api.call("GET", "/rest/v1/pools", sid=tenant.sid).status == 200
    _assert_error(
        api.call("POST", "/rest/v1/policies", {"name": "p"}, sid=tenant.sid), 403, "INSUFFICIENT_PERMISSIONS"
    )
    user = stores.users.find_by_login(tenant.tenant_id, "boss")
    assert user is not None
    stores.users.update(user, replace(user, role="User"))
    _assert_error(api.call("GET", "/rest/v1/pools", sid=tenant.sid), 403, "INSUFFICIENT_PERMISSIONS")


def test_the_sessions_of_a_deleted_user_end_at_once(api: Api, tenant: TenantAdmin) -> None:
    sid = login_as(api, tenant, "leaver", "Administrator")
    assert api.call("GET", "/rest/v1/pools", sid=sid).status == 200
    user_id = stores.users.find_by_login(tenant.tenant_id, "leaver").id  # type: ignore[union-attr]
    assert api.call("DELETE", f"/rest/v1/users/{user_id}", sid=tenant.sid).status == 204
    _assert_error(api.call("GET", "/rest/v1/pools", sid=sid), 401, "UNAUTHORIZED")
    # A new user with the same login is someone else: the old session does not become theirs.
    create_user(api, tenant.sid, "leaver", "Administrator", password="new-pw-123")
    _assert_error(api.call("GET", "/rest/v1/pools", sid=sid), 401, "UNAUTHORIZED")


def test_read_only_administrator_reads_but_never_writes(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    policy = create_policy(api, tenant.sid)
    pool = api.call("POST", "/rest/v1/pools", pool_body(center["id"]), sid=tenant.sid).body["stored_data"]
    reader = login_as(api, tenant, "auditor", "Read-only Administrator")
    for path in (
        "/rest/v1/centers",
        f"/rest/v1/centers/{center['id']}",
        "/rest/v1/pools",
        f"/rest/v1/pools/{pool['id']}",
        "/rest/v1/policies",
        f"/rest/v1/policies/{policy['id']}",
        f"/rest/v1/policies/{policy['id']}/pool-assignments",
        "/rest/v1/users",
        "/rest/v1/system/health",
    ):
        reply = api.call("GET", path, sid=reader)
        assert reply.status == 200, (path, reply.body)
    writes = [
        ("POST", "/rest/v1/centers/openstack", center_body("other")),
        ("PUT", f"/rest/v1/centers/openstack/{center['id']}", {"notes": "changed"}),
        ("DELETE", f"/rest/v1/centers/{center['id']}", None),
        ("POST", "/rest/v1/pools", pool_body(center["id"], "second")),
        ("PUT", f"/rest/v1/pools/{pool['id']}", {"notes": "changed"}),
        ("DELETE", f"/rest/v1/pools/{pool['id']}", None),
        ("POST", "/rest/v1/policies", {"name": "second"}),
        ("PUT", f"/rest/v1/policies/{policy['id']}", {"notes": "changed"}),
        ("DELETE", f"/rest/v1/policies/{policy['id']}", None),
        ("POST", f"/rest/v1/policies/{policy['id']}/pool-assignments", {"pool_id": pool["id"]}),
        ("POST", "/rest/v1/users", {"is_local": 1, "user_login": "x", "name": "X", "password": "pw-pw-pw"}),
        ("POST", "/rest/v1/tenants", {"name": "evil"}),
    ]
    api.aws.queued()
    with Snapshot(api):
        for method, path, body in writes:
            reply = api.call(method, path, body, sid=reader)
            _assert_error(reply, 403, "INSUFFICIENT_PERMISSIONS")
    # Logging out is not a write: a read-only administrator may end their own session.
    assert api.call("POST", "/rest/v1/session/logout", sid=reader).status == 200


def test_only_the_system_administrator_manages_tenants(api: Api, tenant: TenantAdmin) -> None:
    for method, path, body in (
        ("GET", "/rest/v1/tenants", None),
        ("POST", "/rest/v1/tenants", {"name": "x"}),
        ("GET", f"/rest/v1/tenants/{tenant.tenant_id}", None),
    ):
        _assert_error(api.call(method, path, body, sid=tenant.sid), 403, "INSUFFICIENT_PERMISSIONS")


def test_the_system_administrator_is_bootstrapped_once(api: Api) -> None:
    from chalicelib.services.sessions import ensure_system_admin

    assert ensure_system_admin("another-password") is False
    assert api.call("POST", LOGIN, {"user_login": "admin", "password": "another-password"}).status == 401
    assert api.login("admin", ADMIN_PASSWORD)


def test_the_system_administrator_is_created_from_the_deployment_secret(aws) -> None:
    from chalice.test import Client

    from app import app
    from chalicelib.store import stores
    from chalicelib.store.secrets import secret_name

    stores.secrets.put(secret_name("admin-password"), "from-the-secret-1")
    with Client(app) as client:
        api = Api(client, aws)
        assert api.call("POST", LOGIN, {"user_login": "admin", "password": "wrong"}).status == 401
        sid = api.login("admin", "from-the-secret-1")
        assert api.call("GET", "/rest/v1/tenants", sid=sid).status == 200
