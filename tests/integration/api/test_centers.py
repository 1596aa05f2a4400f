"""`/rest/v1/centers`: OpenStack and VHI projects; the password is write-only and lives in Secrets Manager."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.logs import JsonFormatter
from chalicelib.services.centers import center_secret_name
from tests.integration.api.builders import (
    AUTH_URL,
    CENTER_PASSWORD,
    NETWORK_UUID,
    Snapshot,
    center_body,
    create_center,
    create_pool,
    fast_backends,  # noqa: F401 - autouse
    secrets_state,
)
from tests.integration.api.conftest import Api, TenantAdmin

DEFINITION = ("vc_url", "vc_name", "vc_domain", "vc_project_domain", "vc_datacenter", "vc_version",
              "network_uuid", "notes", "poll_interval", "allow_cleartext_password")
PASSWORD_FIELDS = {"password", "vc_password"}
PASSWORD_PATH, URL_PATH = "/body/center_definition/vc_password", "/body/center_definition/vc_url"


def change(**fields: Any) -> dict[str, Any]:
    """A PUT body: the fields to change, in the center's definition."""
    return {"center_definition": fields}


def keys_in(value: Any) -> set[str]:
    """Every key of a JSON document, however deep (a field named `password` must never be returned)."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


@pytest.fixture
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything the broker logs (its own JSON formatter, at DEBUG) and everything else at INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    broker = logging.getLogger("broker")
    previous = broker.level
    broker.setLevel(logging.DEBUG)
    broker.addHandler(handler)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="broker")
    try:
        yield stream
    finally:
        broker.removeHandler(handler)
        logging.getLogger().removeHandler(handler)
        broker.setLevel(previous)


def test_create_an_openstack_center(api: Api, tenant: TenantAdmin) -> None:
    api.aws.queued()
    reply = api.call(
        "POST", "/rest/v1/centers/openstack", center_body("lab", vc_url=AUTH_URL + "/"), sid=tenant.sid
    )
    assert reply.status == 201, reply.body
    stored = reply.body["stored_data"]
    assert stored["name"] == "lab" and stored["type"] == "openstack" and stored["type_label"] == "OpenStack"
    assert stored["status_label"] == "Pending check" and stored["online"] == 0 and stored["active"] == 1
    definition = stored["center_definition"]
    expected = center_body()["center_definition"]
    assert definition["vc_url"] == AUTH_URL  # normalised: no trailing slash
    assert {f: definition[f] for f in DEFINITION if f != "vc_url"} == {
        f: expected[f] for f in DEFINITION if f != "vc_url"
    }
    assert definition["network_uuid"] == NETWORK_UUID
    assert not PASSWORD_FIELDS & keys_in(reply.body) and definition["allow_cleartext_password"] == 1
    # The password is in Secrets Manager, under the tenant and center, and nowhere else.
    assert secrets_state(api.aws) == {center_secret_name(tenant.tenant_id, stored["id"]): CENTER_PASSWORD}
    # The credentials are checked by the worker, never on the HTTP path.
    assert api.aws.queued() == [
        {
            "type": "center.check",
            "tenant_id": tenant.tenant_id,
            "center_id": stored["id"],
            "reason": "center created",
        }
    ]
    one = api.call("GET", f"/rest/v1/centers/{stored['id']}", sid=tenant.sid)
    assert one.status == 200 and one.body == stored
    listed = api.call("GET", "/rest/v1/centers", sid=tenant.sid)
    assert listed.body == [
        {
            k: stored[k]
            for k in ("id", "name", "type", "type_label", "flavor", "online", "status", "status_label")
        }
    ]


def test_create_a_virtuozzo_center_with_defaults(api: Api, tenant: TenantAdmin) -> None:
    """Only what the reference's VMwareCenterAdd requires (name, vc_url, vc_name, vc_password) and the
    project: the user's domain is `Default`, the project's is the user's."""
    body = {"center_definition": {"name": "vhi", "vc_url": "https://vhi.example.com:5000/v3",
                                  "vc_datacenter": "p", "vc_name": "u", "vc_password": "vhi-secret"}}
    reply = api.call("POST", "/rest/v1/centers/virtuozzo", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    stored = reply.body["stored_data"]
    assert stored["type"] == "virtuozzo" and stored["type_label"] == "Virtuozzo Hybrid Infrastructure"
    definition = stored["center_definition"]
    assert definition["vc_domain"] == "Default" and definition["vc_project_domain"] == "Default"
    assert definition["poll_interval"] == 5
    assert definition["vc_version"] == "" and definition["network_uuid"] == ""


def test_the_project_domain_is_its_own(api: Api, tenant: TenantAdmin) -> None:
    """A user of one domain (an LDAP-backed one) in a project of another; left out, the project domain is
    the user's at creation and stays where it is when the user moves."""
    apart = create_center(api, tenant.sid, "apart", vc_domain="ldap", vc_project_domain="projects")
    assert apart["center_definition"]["vc_domain"] == "ldap"
    assert apart["center_definition"]["vc_project_domain"] == "projects"
    same = create_center(api, tenant.sid, "same", vc_domain="ldap", vc_project_domain=None)
    assert same["center_definition"]["vc_project_domain"] == "ldap"
    api.aws.queued()
    moved = api.call("PUT", f"/rest/v1/centers/openstack/{same['id']}",
                     change(vc_domain="corp", vc_password="Again-Pw-1"), sid=tenant.sid)
    assert moved.status == 200, moved.body
    assert moved.body["stored_data"]["center_definition"]["vc_project_domain"] == "ldap"
    # Moving the project to another domain is a new access: it is checked again (no password needed:
    # the password goes to the same Keystone for the same user).
    api.aws.queued()
    again = api.call("PUT", f"/rest/v1/centers/openstack/{same['id']}", change(vc_project_domain="projects"),
                     sid=tenant.sid)
    assert again.status == 200, again.body
    assert again.body["stored_data"]["center_definition"]["vc_project_domain"] == "projects"
    assert again.body["stored_data"]["status_label"] == "Pending check"
    assert [m["type"] for m in api.aws.queued()] == ["center.check"]
    with Snapshot(api):
        bad = api.call("PUT", f"/rest/v1/centers/openstack/{same['id']}",
                       change(vc_project_domain="x" * 201), sid=tenant.sid)
        assert bad.status == 400 and [e["path"] for e in bad.body["errors"]] == [
            "/body/center_definition/vc_project_domain"]


def test_a_center_stored_before_the_project_domain_shows_the_users(api: Api, tenant: TenantAdmin) -> None:
    """Records saved before the field existed scoped the project in the user's domain; they still do, and
    a later change of the user's domain leaves the project where it was."""
    from chalicelib.services import centers
    from chalicelib.store import stores

    center = create_center(api, tenant.sid, vc_domain="ldap")
    # The document as a broker of that time wrote it: beneath the typed store.
    record = stores.centers.records.get(tenant.tenant_id, center["id"])
    stores.centers.records.update(record, record.name,
                                  {k: v for k, v in record.doc.items() if k != "project_domain"})
    shown = api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).body
    assert shown["center_definition"]["vc_project_domain"] == "ldap"
    legacy = stores.centers.get(tenant.tenant_id, center["id"])
    assert centers.center_access(legacy).project_domain_name == "ldap"
    moved = api.call("PUT", f"/rest/v1/centers/openstack/{center['id']}",
                     change(vc_domain="corp", vc_password="Again-Pw-1"), sid=tenant.sid)
    assert moved.body["stored_data"]["center_definition"]["vc_project_domain"] == "ldap"


def test_the_flat_names_of_before_are_refused(api: Api, tenant: TenantAdmin) -> None:
    """One shape, the reference's: a body with the top-level names this broker took before (auth_url,
    username, project, ...) is refused, naming what is missing and what is unknown, and nothing is saved."""
    flat = {"name": "flat", "auth_url": AUTH_URL, "project": "demo", "username": "demo",
            "password": CENTER_PASSWORD, "allow_cleartext_password": 1}
    with Snapshot(api):
        reply = api.call("POST", "/rest/v1/centers/openstack", flat, sid=tenant.sid)
        assert reply.status == 400, reply.body
        paths = {e["path"] for e in reply.body["errors"]}
        assert "/body/center_definition" in paths and "/body/auth_url" in paths
        assert CENTER_PASSWORD not in json.dumps(reply.body)


def test_botocore_does_not_log_secrets_manager_bodies_even_at_debug(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda's log level control (or an operator) may set the root logger to DEBUG; botocore would then
    write every Secrets Manager request and response body, passwords included (configure_logging)."""
    from chalicelib.store.secrets import SecretStore, secret_name

    caplog.set_level(logging.DEBUG)
    store = SecretStore()
    store.put(secret_name("center", 1, 1), "Debug-Level-Secret-1")
    assert store.get(secret_name("center", 1, 1)) == "Debug-Level-Secret-1"
    assert "botocore" in caplog.text  # botocore does log at DEBUG: the test sees its lines
    assert "Debug-Level-Secret-1" not in caplog.text


def test_the_password_is_never_echoed_nor_logged(
    api: Api,
    tenant: TenantAdmin,
    every_log_line: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    new_password = "Rotated-Secret-Pw-77"
    bodies = []
    center = api.call("POST", "/rest/v1/centers/openstack", center_body(), sid=tenant.sid)
    center_id = center.body["stored_data"]["id"]
    bodies.append(center.body)
    bodies.append(api.call("POST", "/rest/v1/centers/virtuozzo", center_body("v"), sid=tenant.sid).body)
    bodies.append(api.call("GET", "/rest/v1/centers", sid=tenant.sid).body)
    bodies.append(api.call("GET", f"/rest/v1/centers/{center_id}", sid=tenant.sid).body)
    bodies.append(
        api.call(
            "PUT", f"/rest/v1/centers/openstack/{center_id}", change(vc_password=new_password),
            sid=tenant.sid,
        ).body
    )
    # Bad requests that carry the password must not echo it in their error either.
    for bad in (
        change(vc_password=new_password, poll_interval=0),
        change(vc_password=new_password, colour="red"),
        change(vc_password=[new_password]),
        change(vc_password=new_password * 2000),
        {**change(vc_password=new_password), "colour": "red"},
    ):
        reply = api.call("PUT", f"/rest/v1/centers/openstack/{center_id}", bad, sid=tenant.sid)
        assert reply.status == 400
        bodies.append(reply.body)
    bad_create = api.call(
        "POST", "/rest/v1/centers/openstack", center_body("x", vc_url="ftp://nope"), sid=tenant.sid
    )
    assert bad_create.status == 400
    bodies.append(bad_create.body)
    bodies.append(api.call("GET", f"/rest/v1/centers/{center_id}", sid=tenant.sid).body)
    bodies.append(api.call("DELETE", f"/rest/v1/centers/{center_id}", sid=tenant.sid).body)
    captured = capsys.readouterr()
    everything = "\n".join(
        [json.dumps(bodies), every_log_line.getvalue(), caplog.text, captured.out, captured.err]
    )
    assert every_log_line.getvalue(), "the log capture saw nothing: the test would prove nothing"
    for secret in (CENTER_PASSWORD, new_password):
        assert secret not in everything
    assert not PASSWORD_FIELDS & keys_in(bodies[:4])


def test_put_changes_only_the_fields_given(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    api.aws.queued()
    reply = api.call(
        "PUT", f"/rest/v1/centers/openstack/{center['id']}", change(notes="moved to rack 2"), sid=tenant.sid
    )
    assert reply.status == 200, reply.body
    updated = reply.body["stored_data"]
    assert updated["center_definition"] == {**center["center_definition"], "notes": "moved to rack 2"}
    assert updated["name"] == center["name"] and updated["created"] == center["created"]
    # Same password, same access: still the password stored at creation.
    assert secrets_state(api.aws)[center_secret_name(tenant.tenant_id, center["id"])] == CENTER_PASSWORD
    assert [m["type"] for m in api.aws.queued()] == ["center.check"]


def test_put_a_new_password_replaces_the_secret_and_asks_for_a_check(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    api.aws.queued()
    reply = api.call(
        "PUT",
        f"/rest/v1/centers/openstack/{center['id']}",
        change(vc_password="new-center-pw", vc_name="admin2"),
        sid=tenant.sid,
    )
    assert reply.status == 200, reply.body
    assert reply.body["stored_data"]["center_definition"]["vc_name"] == "admin2"
    assert reply.body["stored_data"]["status_label"] == "Pending check"
    assert secrets_state(api.aws) == {center_secret_name(tenant.tenant_id, center["id"]): "new-center-pw"}
    messages = api.aws.queued()
    assert [(m["type"], m["center_id"]) for m in messages] == [("center.check", center["id"])]


def test_rename_to_a_taken_name_is_not_unique(api: Api, tenant: TenantAdmin) -> None:
    first = create_center(api, tenant.sid, "first")
    create_center(api, tenant.sid, "second")
    with Snapshot(api):
        for name in ("second", "SECOND", " second "):
            reply = api.call(
                "PUT",
                f"/rest/v1/centers/openstack/{first['id']}",
                change(name=name, notes="x"),
                sid=tenant.sid,
            )
            assert reply.status == 409, reply.body
            assert reply.body["error_status"] == "NOT_UNIQUE" and reply.body["items"] == ["name"]
            assert [e["path"] for e in reply.body["errors"]] == ["/body/center_definition/name"]
        reply = api.call("POST", "/rest/v1/centers/virtuozzo", center_body("First"), sid=tenant.sid)
        assert reply.status == 409 and reply.body["items"] == ["name"]
    # Renaming to its own name in another case is fine, and frees nothing else.
    reply = api.call("PUT", f"/rest/v1/centers/openstack/{first['id']}", change(name="FIRST"), sid=tenant.sid)
    assert reply.status == 200 and reply.body["stored_data"]["name"] == "FIRST"
    renamed = api.call("PUT", f"/rest/v1/centers/openstack/{first['id']}", change(name="third"),
                       sid=tenant.sid)
    assert renamed.status == 200
    assert api.call("POST", "/rest/v1/centers/openstack", center_body("first"), sid=tenant.sid).status == 201


def test_put_on_the_other_type_path_is_not_found(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    with Snapshot(api):
        reply = api.call("PUT", f"/rest/v1/centers/virtuozzo/{center['id']}", change(notes="x"),
                         sid=tenant.sid)
        assert reply.status == 404 and reply.body["error_status"] == "NOT_FOUND"


def test_delete_a_center_used_by_a_pool_is_a_conflict(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    spare = create_center(api, tenant.sid, "spare")
    pool = create_pool(api, tenant.sid, center["id"])
    with Snapshot(api):
        reply = api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid)
        assert reply.status == 409, reply.body
        assert reply.body["error_status"] == "CONFLICT"
        assert str(pool["id"]) in reply.body["error_message"]
    # A center used only as the pool's provisioning center is in use too.
    moved = api.call(
        "PUT",
        f"/rest/v1/pools/{pool['id']}",
        {"pool_definition": {"restrict_by": "C", "server_ids": [spare["id"]]}},
        sid=tenant.sid,
    )
    assert moved.status == 200, moved.body
    assert api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).status == 409
    assert api.call("DELETE", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).status == 204
    assert api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).status == 204


def test_delete_removes_the_center_and_its_secret(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    keep = create_center(api, tenant.sid, "keep")
    reply = api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid)
    assert reply.status == 204 and reply.body is None
    assert api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).status == 404
    assert api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).status == 404
    assert secrets_state(api.aws) == {center_secret_name(tenant.tenant_id, keep["id"]): CENTER_PASSWORD}
    assert [c["name"] for c in api.call("GET", "/rest/v1/centers", sid=tenant.sid).body] == ["keep"]
    # The name is free again.
    assert api.call("POST", "/rest/v1/centers/openstack", center_body("lab"), sid=tenant.sid).status == 201


def test_get_short_leaves_out_the_inventory(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    reply = api.call("GET", f"/rest/v1/centers/{center['id']}?short=1", sid=tenant.sid)
    assert reply.status == 200
    assert reply.body["center_info"] == {
        "images": [],
        "flavors": [],
        "networks": [],
        "availability_zones": [],
        "security_groups": [],
        "volume_types": [],
    }
    bad = api.call("GET", f"/rest/v1/centers/{center['id']}?short=2", sid=tenant.sid)
    assert bad.status == 400 and [e["path"] for e in bad.body["errors"]] == ["/query/short"]


def test_scan_queues_a_job(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    api.aws.queued()
    reply = api.call("POST", f"/rest/v1/centers/{center['id']}/scan", sid=tenant.sid)
    assert reply.status == 202, reply.body
    assert reply.body["is_scanning"] == 1 and isinstance(reply.body["job_id"], int)
    messages = api.aws.queued()
    assert len(messages) == 1
    assert messages[0]["type"] == "center.scan" and messages[0]["center_id"] == center["id"]
    assert messages[0]["job_id"] == reply.body["job_id"]


def test_a_center_is_polled_once_its_interval_has_passed_and_only_while_active(
    api: Api, tenant: TenantAdmin
) -> None:
    from chalicelib.clock import epoch_of
    from chalicelib.services import pool_stats
    from chalicelib.store import stores

    center = create_center(api, tenant.sid, poll_interval=10)
    stored = stores.centers.get(tenant.tenant_id, center["id"])
    stores.centers.update(stored, replace(stored, last_scan="2030-01-01T00:00:00Z"))
    scanned = epoch_of("2030-01-01T00:00:00Z") or 0
    api.aws.queued()
    assert pool_stats.due_center_scans(now=scanned + 9 * 60) == 0
    assert pool_stats.due_center_scans(now=scanned + 10 * 60) == 1
    [message] = api.aws.queued()
    assert message["type"] == "center.scan" and message["center_id"] == center["id"]
    off = api.call("PUT", f"/rest/v1/centers/openstack/{center['id']}", {"active": 0}, sid=tenant.sid)
    assert off.status == 200, off.body
    assert pool_stats.due_center_scans(now=scanned + 60 * 60) == 0


# ------------------------------------------------------------- the stored password and its recipient

MOVES = [  # (change, why it is a new recipient)
    ({"vc_url": "http://keystone.attacker.example:5000/v3"}, "another host"),
    ({"vc_url": "http://127.0.0.1:5001/v3"}, "another port"),
    ({"vc_url": "https://127.0.0.1:5000/v3"}, "another scheme"),
    ({"vc_url": "http://localhost:5000/v3"}, "a name for the same address is still another host"),
    ({"vc_name": "admin"}, "another account"),
    ({"vc_domain": "Other"}, "the account of another domain"),
    ({"vc_url": "http://keystone.attacker.example:5000/v3/", "notes": "x", "vc_datacenter": "p"},
     "with others"),
]


@pytest.mark.parametrize(("change", "why"), MOVES, ids=[why for _, why in MOVES])
def test_the_stored_password_never_follows_a_new_recipient(
    api: Api, tenant: TenantAdmin, change: dict[str, Any], why: str
) -> None:
    center = create_center(api, tenant.sid)
    path = f"/rest/v1/centers/openstack/{center['id']}"
    before = api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).body
    with Snapshot(api):
        reply = api.call("PUT", path, {"center_definition": change}, sid=tenant.sid)
        assert reply.status == 400, reply.body
        assert reply.body["error_status"] == "BAD_DATA"
        assert [e["path"] for e in reply.body["errors"]] == [PASSWORD_PATH], reply.body
        assert "again" in reply.body["errors"][0]["message"]
    assert api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).body == before
    assert secrets_state(api.aws)[center_secret_name(tenant.tenant_id, center["id"])] == CENTER_PASSWORD
    # With the password, the same change is saved and the new password replaces the old one.
    moved = api.call("PUT", path, {"center_definition": {**change, "vc_password": "Given-Again-Pw-9"}},
                     sid=tenant.sid)
    assert moved.status == 200, moved.body
    definition = moved.body["stored_data"]["center_definition"]
    assert all(definition[k] == v.rstrip("/") for k, v in change.items())
    assert secrets_state(api.aws)[center_secret_name(tenant.tenant_id, center["id"])] == "Given-Again-Pw-9"


def test_the_same_origin_is_the_same_recipient(api: Api, tenant: TenantAdmin) -> None:
    """A path moved on the same scheme, host and port, a host name in other case, or the default port
    written out reach the same party: no password is needed."""
    center = create_center(api, tenant.sid, vc_url="https://keystone.example.com/v3")
    path = f"/rest/v1/centers/openstack/{center['id']}"
    for url in ("https://keystone.example.com/identity/v3", "https://KEYSTONE.example.com:443/v3",
                "https://keystone.example.com./v3"):
        reply = api.call("PUT", path, change(vc_url=url, vc_datacenter="other", vc_version="two",
                                             vc_project_domain="elsewhere"), sid=tenant.sid)
        assert reply.status == 200, (url, reply.body)
    assert secrets_state(api.aws)[center_secret_name(tenant.tenant_id, center["id"])] == CENTER_PASSWORD


def test_cleartext_keystone_needs_the_flag_which_is_shown(api: Api, tenant: TenantAdmin) -> None:
    with Snapshot(api):
        refused = api.call("POST", "/rest/v1/centers/openstack",
                           center_body("plain", allow_cleartext_password=0), sid=tenant.sid)
        assert refused.status == 400, refused.body
        assert [e["path"] for e in refused.body["errors"]] == [URL_PATH]
        assert "allow_cleartext_password" in refused.body["errors"][0]["message"]
        default = center_body("plain")
        del default["center_definition"]["allow_cleartext_password"]  # 0 unless given
        assert api.call("POST", "/rest/v1/centers/virtuozzo", default, sid=tenant.sid).status == 400
    secure = create_center(api, tenant.sid, "secure", vc_url="https://keystone.example.com/v3",
                           allow_cleartext_password=0)
    assert secure["center_definition"]["allow_cleartext_password"] == 0
    plain = create_center(api, tenant.sid, "plain")  # the builder accepts the risk explicitly
    shown = api.call("GET", f"/rest/v1/centers/{plain['id']}", sid=tenant.sid).body
    assert shown["center_definition"]["allow_cleartext_password"] == 1
    [created] = [e for e in api.call("GET", "/rest/v1/logs?type=center.created", sid=tenant.sid).body["items"]
                 if e["details"]["center_id"] == plain["id"]]
    assert created["details"]["allow_cleartext_password"] == 1 and "in clear" in created["message"]
    # Turning the flag off, or moving a TLS center to http://, while the URL is plain: refused.
    with Snapshot(api):
        off = api.call("PUT", f"/rest/v1/centers/openstack/{plain['id']}", change(allow_cleartext_password=0),
                       sid=tenant.sid)
        assert off.status == 400 and [e["path"] for e in off.body["errors"]] == [URL_PATH]
        down = api.call("PUT", f"/rest/v1/centers/openstack/{secure['id']}",
                        change(vc_url="http://keystone.example.com/v3", vc_password="pw"), sid=tenant.sid)
        assert down.status == 400 and [e["path"] for e in down.body["errors"]] == [URL_PATH]


def test_a_cleartext_center_saved_before_the_flag_is_not_used(api: Api, tenant: TenantAdmin,
                                                              caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With the flag, using the center is logged (once per process); a record from before the flag
    existed is refused: the worker does not send its password (the center shows offline)."""
    from chalicelib.domain.cloud import CloudAuthFailed
    from chalicelib.services import centers
    from chalicelib.store import stores

    center = create_center(api, tenant.sid)
    record = stores.centers.get(tenant.tenant_id, center["id"])
    monkeypatch.setattr(centers, "_warned_cleartext", set())  # a fresh process (ids repeat across tests)
    caplog.set_level(logging.WARNING, logger="broker.centers")
    assert centers.center_access(record).password == CENTER_PASSWORD
    assert centers.center_access(record).password == CENTER_PASSWORD
    [used] = [r for r in caplog.records if r.name == "broker.centers"]
    assert "in clear" in used.getMessage() and used.__dict__["center_id"] == center["id"]
    assert used.__dict__["allow_cleartext_password"] == 1
    with pytest.raises(CloudAuthFailed, match="allow_cleartext_password"):
        centers.center_access(replace(record, allow_cleartext_password=0))  # saved before the flag existed
