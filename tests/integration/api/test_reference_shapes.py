"""Our requests and responses against the REFERENCE's schemas (reference/leostream-rest-api-v1.json, read from
../shared/reference/ beside the repository; a missing reference fails these tests, it never skips them):
automation written for the Leostream REST API v1 must keep working for the fields we share.

Our extra fields are fine where the reference allows additional properties (it almost always does);
types, enums, bounds and required fields of the shared fields must agree. Two kinds of checks:
* payloads: what we send and what we answer validates against the reference schema (types, bounds, and the
  required fields of that payload);
* declarations: for every operation of the reference that we implement, every field the reference marks
  required, at any depth, is declared by our OpenAPI document and required there too (a request without it
  is refused, a response always has it), except the deliberate differences listed in DIFFERENCES with why.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.integration.api.builders import (
    center_body,
    create_center,
    create_policy,
    create_pool,
    fast_backends,  # noqa: F401 - autouse
    pool_body,
    user_body,
)
from tests.integration.api.conftest import ADMIN_PASSWORD, Api, TenantAdmin

REPOSITORY = Path(__file__).resolve().parents[3]
REFERENCE = REPOSITORY.parent / "shared" / "reference" / "leostream-rest-api-v1.json"
URI = "urn:leostream-rest-api-v1"


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        pytest.fail(f"the reference is missing: {REFERENCE} (shared/ must lie beside the repository)")
    return json.loads(REFERENCE.read_text())


def test_the_reference_is_read_beside_the_repository() -> None:
    assert reference()["info"]["title"]


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(
        URI, Resource.from_contents(reference(), default_specification=DRAFT202012)
    )


def problems(instance: Any, pointer: str) -> list[str]:
    """Every way `instance` breaks the reference schema at `pointer` (`#/components/schemas/PoolFull`)."""
    validator = Draft202012Validator(
        {"$ref": f"{URI}{pointer}"}, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(instance)]


def schema(name: str) -> str:
    return f"#/components/schemas/{name}"


def response_schema(path: str, method: str, status: str) -> str:
    """The pointer of a path's inline response schema (`/session/login` has no named one)."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"


def example(name: str) -> Any:
    return copy.deepcopy(reference()["components"]["examples"][name]["value"])


def assert_matches(instance: Any, pointer: str) -> None:
    found = problems(instance, pointer)
    assert found == [], f"{pointer}: " + "; ".join(found[:8])


def test_the_checker_does_check() -> None:
    """A wrong type in a shared field is caught (or every other test here would prove nothing)."""
    assert problems({"id": "7", "name": "p", "parent_pool_id": 0}, schema("pool_item"))
    assert problems({"name": "p", "pool_definition": {"restrict_by": "Q"}}, schema("PoolFull"))
    assert problems({"stored_data": {"id": "x"}}, schema("RespUserCreated"))


def test_session_login_and_logout(api: Api) -> None:
    body = {"user_login": "admin", "password": ADMIN_PASSWORD}
    assert_matches(body, schema("SessionLogin"))
    reply = api.call("POST", "/rest/v1/session/login", body)
    assert reply.status == 200
    assert_matches(reply.body, response_schema("/session/login", "post", "200"))
    assert isinstance(reply.body["sid"], str)
    bad = api.call("POST", "/rest/v1/session/login", {**body, "password": "wrong-password"})
    assert bad.status == 401
    assert_matches(
        bad.body,
        schema("INVALID_CREDENTIALS")
        if bad.body["error_status"] == "INVALID_CREDENTIALS"
        else schema("UNAUTHORIZED"),
    )
    out = api.call("POST", "/rest/v1/session/logout", sid=reply.body["sid"])
    assert out.status == 200
    assert_matches(out.body, response_schema("/session/logout", "post", "200"))
    gone = api.call("GET", "/rest/v1/pools", sid=reply.body["sid"])
    assert gone.status == 401
    assert_matches(gone.body, schema("UNAUTHORIZED"))


def test_pools_in_the_reference_shapes(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    body = pool_body(center["id"])
    assert_matches(body, schema("PoolAdd"))  # what we send is written from the reference
    created = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert created.status == 201
    assert_matches(created.body, schema("RespPoolCreated"))
    pool_id = created.body["stored_data"]["id"]

    one = api.call("GET", f"/rest/v1/pools/{pool_id}", sid=tenant.sid)
    assert_matches(one.body, schema("PoolFull"))
    assert_matches(one.body["provision"]["center"], schema("CenterOpenStack"))
    stats = one.body["pool_stats"]
    for field in (
        "total_vm",
        "total_agent_running",
        "total_vm_running",
        "total_vm_stopped",
        "total_vm_suspended",
        "total_logged_in",
        "total_connected",
        "assigned_vm",
        "available_vm",
        "unavailable_vm",
    ):
        assert isinstance(stats[field], int), field

    listed = api.call("GET", "/rest/v1/pools", sid=tenant.sid)
    assert_matches(listed.body, schema("pool_array"))
    for item in listed.body:
        assert_matches(item, schema("pool_item"))

    update = {"provision": {"provision_on_off": 1, "provision_threshold": 1}}
    assert_matches(update, schema("PoolUpdate"))
    updated = api.call("PUT", f"/rest/v1/pools/{pool_id}", update, sid=tenant.sid)
    assert updated.status == 200
    assert_matches(updated.body, schema("RespPoolCreated"))


def test_the_reference_pool_add_example_is_accepted(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    body = example("PoolAdd")
    body["pool_definition"]["server_ids"] = [center["id"]]  # the example's center 2 is theirs
    reply = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert_matches(reply.body, schema("RespPoolCreated"))
    stored = reply.body["stored_data"]
    assert stored["name"] == body["name"] and stored["pool_definition"]["never_rogue"] == 0
    assert stored["provision"]["provision_on_off"] == 0


def test_an_attribute_pool_written_like_the_reference_update_example(api: Api, tenant: TenantAdmin) -> None:
    """The PoolUpdate example's definition, minus what does not apply here (its num_disks rule, its Azure
    center): attribute rules, their join and a parent pool."""
    center = create_center(api, tenant.sid)
    parent = create_pool(api, tenant.sid, center["id"], "parent")
    definition = example("PoolUpdate")["pool_definition"]
    definition["attributes"] = [rule for rule in definition["attributes"] if rule["vm_table_field"] == "name"]
    definition["parent_pool_id"] = parent["id"]
    body = {"name": "Attribute pool", "display_name": "", "pool_definition": definition}
    assert_matches(body, schema("PoolAdd"))
    reply = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert_matches(reply.body, schema("RespPoolCreated"))
    assert reply.body["stored_data"]["pool_definition"]["attributes"] == definition["attributes"]


def test_policies_and_assignments_in_the_reference_shapes(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    pool = create_pool(api, tenant.sid, center["id"])
    policy_body = {
        "name": "Test example Policy",
        "is_default": 0,
        "max_desktops": -1,
        "session_expire_delay": 2880,
        "single_desktop_only": 0,
        "offer_empty_pools": 0,
        "notes": "",
    }
    assert_matches(policy_body, schema("PolicyFull"))
    created = api.call("POST", "/rest/v1/policies", policy_body, sid=tenant.sid)
    assert created.status == 201, created.body
    assert_matches(created.body, schema("RespPolicyCreated"))
    policy_id = created.body["stored_data"]["id"]
    assert_matches(
        api.call("GET", f"/rest/v1/policies/{policy_id}", sid=tenant.sid).body, schema("PolicyFull")
    )
    assert_matches(api.call("GET", "/rest/v1/policies", sid=tenant.sid).body, schema("policies_array"))

    assignment_body = {
        "pool_id": pool["id"],
        "offer_quantity": 1,
        "power_on": 0,
        "start_if_stopped": 1,
        "kiosk": 0,
        "display_mode": "0",
        "backup_pool_id": 0,
    }
    assert_matches(assignment_body, schema("PoolAssignmentAdd"))
    base = f"/rest/v1/policies/{policy_id}/pool-assignments"
    added = api.call("POST", base, assignment_body, sid=tenant.sid)
    assert added.status == 201, added.body
    assert_matches(added.body, schema("RespPoolAssignmentCreated"))
    assignment_id = added.body["stored_data"]["id"]
    assert_matches(
        api.call("GET", f"{base}/{assignment_id}", sid=tenant.sid).body, schema("PoolAssignmentFull")
    )
    assert_matches(api.call("GET", base, sid=tenant.sid).body, schema("pool_assignments_array"))
    policy = api.call("GET", f"/rest/v1/policies/{policy_id}", sid=tenant.sid).body
    for item in policy["pool_assignments"]:
        assert_matches(item, schema("pool_assignments_item"))


def test_users_as_the_reference_adds_them(api: Api, tenant: TenantAdmin) -> None:
    create_policy(api, tenant.sid, "Default")
    body = user_body("jdoe", "User", policy_name="Default", notes="")
    assert_matches(body, schema("UserAdd"))
    reply = api.call("POST", "/rest/v1/users", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    assert_matches(reply.body, schema("RespUserCreated"))
    assert set(reply.body) == set(example("UserCreated")) and set(reply.body["stored_data"]) == {"id"}
    again = api.call("POST", "/rest/v1/users", body, sid=tenant.sid)
    assert again.status == 409
    assert_matches(again.body, schema("NotUnique"))


def test_system_health(api: Api, tenant: TenantAdmin) -> None:
    reply = api.call("GET", "/rest/v1/system/health", sid=tenant.sid)
    assert reply.status == 200
    assert_matches(reply.body, schema("SystemHealth"))
    assert reply.body["broker"]["msg"] == "OK"
    assert reply.body["components"]["db_internal"] == {"msg": "OK", "reachable": 1}
    assert reply.body["components"]["work_queue"] == {"msg": "OK", "running": 1}


def test_centers_in_the_reference_shapes(api: Api, tenant: TenantAdmin) -> None:
    created = api.call("POST", "/rest/v1/centers/openstack", center_body(), sid=tenant.sid)
    assert created.status == 201
    assert_matches(created.body, schema("RespStandard"))
    center = created.body["stored_data"]
    assert_matches(center, schema("CenterFull"))
    assert center["flavor"] == "K"  # the reference's flavor of an OpenStack center
    assert_matches(
        api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).body, schema("CenterFull")
    )
    listed = api.call("GET", "/rest/v1/centers", sid=tenant.sid)
    assert_matches(listed.body, schema("center_array"))


def test_errors_in_the_reference_shapes(api: Api, tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    create_pool(api, tenant.sid, center["id"])
    reader = api.call(
        "POST",
        "/rest/v1/users",
        user_body("reader", "Read-only Administrator", password="reader-pw"),
        sid=tenant.sid,
    )
    assert reader.status == 201
    reader_sid = api.login("reader", "reader-pw", domain="acme")

    bad = api.call("POST", "/rest/v1/pools", {"name": "", "id": 4}, sid=tenant.sid)
    assert bad.status == 400
    assert_matches(bad.body, schema("BAD_DATA"))
    assert_matches(bad.body["errors"], schema("ErrorsArray"))
    not_unique = api.call("POST", "/rest/v1/centers/openstack", center_body(), sid=tenant.sid)
    assert not_unique.status == 409
    assert_matches(not_unique.body, schema("NotUnique"))
    assert not_unique.body["items"] == ["name"]
    conflict = api.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=tenant.sid)
    assert conflict.status == 409
    assert_matches(conflict.body, schema("Conflict"))
    denied = api.call("POST", "/rest/v1/policies", {"name": "x"}, sid=reader_sid)
    assert denied.status == 403
    assert_matches(denied.body, schema("INSUFFICIENT_PERMISSIONS"))
    missing = api.call("GET", "/rest/v1/pools")
    assert missing.status == 401
    assert_matches(missing.body, schema("UNAUTHORIZED"))


# --- declarations: every field the reference requires, declared and required by us ------------------------

# Where the reference has one schema per kind of center (anyOf), ours are OpenStack's (Virtuozzo's too).
CHOSEN_BRANCH = {"#/components/schemas/ProvisionCenter": "#/components/schemas/CenterOpenStack"}
_PARTIAL_UPDATE = "PUT updates only the fields it is given (our documented choice): nothing is required in it"
_DEFAULTED_WAIT = ("a provisioning action without a wait gets 0 seconds (requests), and our answers always "
                   "carry the value (the model fills the default), which the payload checks above validate")
# (operation, where, field) -> why we differ from the reference on purpose.
DIFFERENCES: dict[tuple[str, str, str], str] = {
    ("PUT /pools/{id}", "request.provision", "provision_on_off"): _PARTIAL_UPDATE,
    ("PUT /policies/{id}", "request", "name"): _PARTIAL_UPDATE,
    ("PUT /policies/{policy_id}/pool-assignments/{id}", "request", "pool_id"): _PARTIAL_UPDATE,
    **{
        (operation, f"{side}.provision.center.provisioning_actions[]", field): _DEFAULTED_WAIT
        for operation, sides in (
            ("POST /pools", ("request", "response 201.stored_data")),
            ("PUT /pools/{id}", ("request", "response 200.stored_data")),
            ("GET /pools/{id}", ("response 200",)),
        )
        for side in sides
        for field in ("prov_action_wait_value", "prov_action_wait_unit")
    },
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        reference_to = schema["$ref"]
        if document is reference():
            reference_to = CHOSEN_BRANCH.get(reference_to, reference_to)
        node: Any = document
        for part in reference_to.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


@dataclass
class Declared:
    """A schema seen as its object fields: merged through $ref, allOf and a nullable anyOf."""

    properties: dict[str, Any]
    required: set[str]
    items: dict[str, Any] | None


def _declared(document: dict[str, Any], schema: dict[str, Any]) -> Declared:
    schema = _resolve(document, schema)
    merged = Declared(dict(schema.get("properties", {})), set(schema.get("required", [])),
                      schema.get("items"))
    branches = [_resolve(document, b) for b in schema.get("anyOf", []) + schema.get("oneOf", [])]
    for part in schema.get("allOf", []) + [b for b in branches if b.get("type") != "null"]:
        inner = _declared(document, part)
        merged.properties.update(inner.properties)
        merged.required |= inner.required
        merged.items = merged.items or inner.items
    return merged


def required_differences(theirs: dict[str, Any], ours: dict[str, Any] | None, where: str,
                         document: dict[str, Any], depth: int = 0) -> list[tuple[str, str, str]]:
    """(where, field, "missing" or "optional") for each field the reference requires that we do not."""
    reference_side = _declared(reference(), theirs)
    our_side = _declared(document, ours) if ours is not None else Declared({}, set(), None)
    found = [(where, field, "missing" if field not in our_side.properties else "optional")
             for field in sorted(reference_side.required) if field not in our_side.required]
    if depth < 8:
        for field, schema_of_field in reference_side.properties.items():
            if field in our_side.properties:
                found += required_differences(schema_of_field, our_side.properties[field], f"{where}.{field}",
                                              document, depth + 1)
        if reference_side.items is not None and our_side.items is not None:
            found += required_differences(reference_side.items, our_side.items, f"{where}[]", document,
                                          depth + 1)
    return found


def _json_schema(part: dict[str, Any] | None) -> dict[str, Any] | None:
    return ((part or {}).get("content") or {}).get("application/json", {}).get("schema")


def declared_differences() -> dict[tuple[str, str, str], str]:
    from chalicelib.api.openapi import openapi_document

    ours = openapi_document()
    found: dict[tuple[str, str, str], str] = {}
    for path, operations in reference()["paths"].items():
        our_operations = ours["paths"].get(f"/rest/v1{path}", {})
        for method, operation in operations.items():
            if method not in our_operations:
                continue  # not implemented here (their other center types, gateways, licences)
            name, our_operation = f"{method.upper()} {path}", our_operations[method]
            sides = [("request", _json_schema(operation.get("requestBody")),
                      _json_schema(our_operation.get("requestBody")))]
            our_success = next((s for s in our_operation.get("responses", {}) if s.startswith("2")), None)
            for status, answer in operation.get("responses", {}).items():
                if status.startswith("2"):
                    sides.append((f"response {status}", _json_schema(answer),
                                  _json_schema(our_operation["responses"].get(our_success or ""))))
            for where, theirs, our_schema in sides:
                if theirs is not None:
                    for at, field, how in required_differences(theirs, our_schema, where, ours):
                        found[(name, at, field)] = how
    return found


def test_every_field_the_reference_requires_is_required_by_us() -> None:
    found = declared_differences()
    unexplained = {key: how for key, how in found.items() if key not in DIFFERENCES}
    assert unexplained == {}, "required by the reference, not by us (fix it, or list it in DIFFERENCES: why)"
    stale = sorted(set(DIFFERENCES) - set(found))
    assert stale == [], "listed as a difference but no longer one: remove it from DIFFERENCES"


def test_the_declaration_check_does_check() -> None:
    """An operation we implement whose required field we dropped, or made optional, is reported."""
    user_add = reference()["components"]["schemas"]["UserAdd"]
    loose = {"type": "object", "properties": {"user_login": {"type": "string"}, "name": {"type": "string"}},
             "required": ["user_login"]}
    assert required_differences(user_add, loose, "request", {}) == [
        ("request", "is_local", "missing"), ("request", "name", "optional")]
    same = {"$ref": "#/components/schemas/UserAdd"}
    assert required_differences(user_add, same, "request", reference()) == []


# --- required fields of the answers we share, and of the center the reference would add -------------------

def _reference_required(name: str) -> set[str]:
    return _declared(reference(), {"$ref": schema(name)}).required


def test_answers_carry_every_field_the_reference_requires(api: Api, tenant: TenantAdmin) -> None:
    """CenterFull, PoolFull, PolicyFull and the pool-assignment schemas: each required field is in our
    answer, and taking it out makes the check fail (so the payload checks above test presence, not only
    types)."""
    center = create_center(api, tenant.sid)
    pool = create_pool(api, tenant.sid, center["id"])
    policy = create_policy(api, tenant.sid, "Required")
    base = f"/rest/v1/policies/{policy['id']}/pool-assignments"
    added = api.call("POST", base, {"pool_id": pool["id"]}, sid=tenant.sid)
    assert added.status == 201, added.body
    answers = {
        "CenterFull": api.call("GET", f"/rest/v1/centers/{center['id']}", sid=tenant.sid).body,
        "PoolFull": api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body,
        "PolicyFull": api.call("GET", f"/rest/v1/policies/{policy['id']}", sid=tenant.sid).body,
        "PoolAssignmentFull": api.call("GET", f"{base}/{added.body['stored_data']['id']}",
                                       sid=tenant.sid).body,
    }
    answers["pool_assignments_item"] = answers["PolicyFull"]["pool_assignments"][0]
    expected = {"CenterFull": {"center_definition"}, "PoolFull": {"name", "pool_definition"},
                "PolicyFull": {"name"}, "PoolAssignmentFull": {"pool_id"},
                "pool_assignments_item": {"pool_id"}}
    for name, answer in answers.items():
        required = _reference_required(name)
        assert required == expected[name], name  # the reference as read here: a change is seen
        assert_matches(answer, schema(name))
        for field in required:
            assert field in answer, (name, field)
            assert problems({k: v for k, v in answer.items() if k != field}, schema(name)), (name, field)


def test_a_center_written_from_the_reference_is_required_like_theirs(api: Api, tenant: TenantAdmin) -> None:
    """The reference has no OpenStack center body of its own: the VMware one (VMwareCenterAdd) requires
    name, vc_url, vc_name and vc_password in `center_definition`, and so does ours (with the project,
    vc_datacenter, which an OpenStack center cannot do without). The body validates against the
    reference's center, and what we answer shows the same fields back, the password excepted."""
    from chalicelib.api.openapi import openapi_document

    ours = openapi_document()
    our_body = _json_schema(ours["paths"]["/rest/v1/centers/openstack"]["post"]["requestBody"])
    theirs = {"$ref": schema("VMwareCenterAdd")}
    assert [d for d in required_differences(theirs, our_body, "request", ours)
            if d[1] != "type"] == []
    assert _declared(ours, _declared(ours, our_body).properties["center_definition"]).required == {
        "name", "vc_url", "vc_name", "vc_password", "vc_datacenter"}
    body = center_body("from-the-reference", vc_domain="ldap", vc_project_domain="Default")
    assert_matches(body, schema("CenterBasicAll"))
    created = api.call("POST", "/rest/v1/centers/openstack", body, sid=tenant.sid)
    assert created.status == 201, created.body
    assert_matches(created.body["stored_data"], schema("CenterFull"))
    shown = created.body["stored_data"]["center_definition"]
    sent = {k: v for k, v in body["center_definition"].items() if k != "vc_password"}
    assert {k: shown[k] for k in sent} == sent and "vc_password" not in shown
