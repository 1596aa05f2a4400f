"""`GET /rest/v1/openapi.json`: every route of every prefix, a valid OpenAPI 3.1 document, and the
responses of a walkthrough match the schemas it declares."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from app import app
from chalicelib.api.framework import OPERATIONS
from tests.integration.api.builders import (
    center_body,
    fast_backends,  # noqa: F401 - autouse
    pool_body,
    user_body,
)
from tests.integration.api.conftest import Api, Reply, TenantAdmin

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _document(api: Api) -> dict[str, Any]:
    reply = api.call("GET", "/rest/v1/openapi.json")
    assert reply.status == 200, reply.body
    return reply.body


def test_every_chalice_route_is_in_the_document(api: Api) -> None:
    document = _document(api)
    routes = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert routes, "no routes: the test would prove nothing"
    assert routes - documented == set(), "routes missing from openapi.json"
    assert documented - routes == set(), "openapi.json documents routes that do not exist"
    assert {p.split("/")[1] for p, _ in routes} >= {"rest"}
    # Every declared operation is a route too (nothing registered behind the framework's back).
    assert {(op.path, op.method.lower()) for op in OPERATIONS} == routes


def test_the_document_is_valid_openapi_3_1(api: Api) -> None:
    document = _document(api)
    assert document["openapi"].startswith("3.1")
    validate_spec(document)
    operation_ids = [
        op["operationId"]
        for item in document["paths"].values()
        for m, op in item.items()
        if m in HTTP_METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert sorted(params) == sorted(re.findall(r"{(\w+)}", path)), (method, path)
            assert operation["responses"], (method, path)
            for schema in _schemas_in(operation):
                Draft202012Validator.check_schema(schema)


def test_every_reference_in_the_document_resolves(api: Api) -> None:
    document = _document(api)
    schemas = document["components"]["schemas"]
    dangling = sorted({ref for ref in _refs(document) if ref.rsplit("/", 1)[-1] not in schemas})
    assert dangling == []


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _schemas_in(operation: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for response in operation["responses"].values():
        for content in response.get("content", {}).values():
            found.append(content["schema"])
    for content in operation.get("requestBody", {}).get("content", {}).values():
        found.append(content["schema"])
    return found


class Recorder:
    """Wraps the Api helper and remembers every exchange for validation against the document."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.exchanges: list[tuple[str, str, Reply]] = []

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        reply = self.api.call(method, path, body, **kwargs)
        self.exchanges.append((method, path, reply))
        return reply


def _walkthrough(api: Api, system_sid: str, tenant: TenantAdmin) -> Recorder:
    rec = Recorder(api)
    sid = tenant.sid
    rec.call("POST", "/rest/v1/session/login", {"user_login": "admin", "password": "wrong"})
    rec.call("POST", "/rest/v1/session/login", {})
    rec.call("GET", "/rest/v1/tenants", sid=system_sid)
    rec.call("GET", f"/rest/v1/tenants/{tenant.tenant_id}", sid=system_sid)
    rec.call("GET", "/rest/v1/tenants", sid=sid)
    rec.call("GET", "/rest/v1/pools")
    center = rec.call("POST", "/rest/v1/centers/openstack", center_body(), sid=sid).body["stored_data"]
    rec.call("POST", "/rest/v1/centers/virtuozzo", center_body("vhi"), sid=sid)
    rec.call("POST", "/rest/v1/centers/openstack", center_body(), sid=sid)  # 409
    rec.call("GET", "/rest/v1/centers", sid=sid)
    rec.call("GET", f"/rest/v1/centers/{center['id']}", sid=sid)
    rec.call("GET", f"/rest/v1/centers/{center['id']}?short=1", sid=sid)
    rec.call("PUT", f"/rest/v1/centers/openstack/{center['id']}", {"center_definition": {"notes": "n"}},
             sid=sid)
    rec.call("POST", f"/rest/v1/centers/{center['id']}/scan", sid=sid)
    pool = rec.call("POST", "/rest/v1/pools", pool_body(center["id"]), sid=sid).body["stored_data"]
    rec.call(
        "POST",
        "/rest/v1/pools",
        {
            "name": "a",
            "pool_definition": {
                "restrict_by": "A",
                "attributes": [{"vm_table_field": "name", "condition_type": "ct", "text_to_match": "desk"}],
            },
        },
        sid=sid,
    )
    rec.call("POST", "/rest/v1/pools", {"name": ""}, sid=sid)  # 400
    rec.call("GET", "/rest/v1/pools", sid=sid)
    rec.call("GET", f"/rest/v1/pools/{pool['id']}", sid=sid)
    rec.call("PUT", f"/rest/v1/pools/{pool['id']}", {"provision": {"provision_on_off": 0}}, sid=sid)
    rec.call("GET", f"/rest/v1/pools/{pool['id'] + 1000}", sid=sid)  # 404
    policy = rec.call("POST", "/rest/v1/policies", {"name": "Default"}, sid=sid).body["stored_data"]
    rec.call("GET", "/rest/v1/policies", sid=sid)
    rec.call("GET", f"/rest/v1/policies/{policy['id']}", sid=sid)
    rec.call("PUT", f"/rest/v1/policies/{policy['id']}", {"notes": "n"}, sid=sid)
    base = f"/rest/v1/policies/{policy['id']}/pool-assignments"
    assignment = rec.call("POST", base, {"pool_id": pool["id"]}, sid=sid).body["stored_data"]
    rec.call("GET", base, sid=sid)
    rec.call("GET", f"{base}/{assignment['id']}", sid=sid)
    rec.call("PUT", f"{base}/{assignment['id']}", {"offer_quantity": 2}, sid=sid)
    rec.call("DELETE", f"/rest/v1/pools/{pool['id']}", sid=sid)  # 409
    rec.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=sid)  # 409
    user = rec.call("POST", "/rest/v1/users", user_body("u1", policy_name="Default"), sid=sid).body[
        "stored_data"
    ]
    rec.call("GET", "/rest/v1/users", sid=sid)
    rec.call("GET", f"/rest/v1/users/{user['id']}", sid=sid)
    rec.call("GET", "/rest/v1/system/health", sid=sid)
    rec.call("DELETE", f"{base}/{assignment['id']}", sid=sid)
    rec.call("DELETE", f"/rest/v1/users/{user['id']}", sid=sid)
    rec.call("DELETE", f"/rest/v1/policies/{policy['id']}", sid=sid)
    rec.call("DELETE", f"/rest/v1/pools/{pool['id']}", sid=sid)
    rec.call("DELETE", f"/rest/v1/centers/{center['id']}", sid=sid)
    rec.call("POST", "/rest/v1/session/logout", sid=sid)
    rec.call("GET", "/rest/v1/pools", sid=sid)  # 401
    return rec


def _template_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    bare = path.split("?", 1)[0]
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\{\w+\\}", r"[^/]+", re.escape(template)) + "$"
        if re.match(pattern, bare) and method.lower() in item:
            # A literal segment wins over a parameter (/centers/openstack vs /centers/{id}).
            literal = [t for t, i in document["paths"].items() if t == bare and method.lower() in i]
            return document["paths"][literal[0] if literal else template][method.lower()]
    raise AssertionError(f"{method} {path} is not in the document")


def test_walkthrough_responses_match_the_documented_schemas(
    api: Api, system_sid: str, tenant: TenantAdmin
) -> None:
    document = _document(api)
    recorder = _walkthrough(api, system_sid, tenant)
    statuses = set()
    for method, path, reply in recorder.exchanges:
        operation = _template_of(document, method, path)
        documented = operation["responses"].get(str(reply.status))
        assert documented is not None, f"{method} {path} answered {reply.status}, which is not documented"
        statuses.add(reply.status)
        content = documented.get("content")
        if not content:
            assert reply.body in (None, ""), (method, path, reply.body)
            continue
        schema = {**next(iter(content.values()))["schema"], "components": document["components"]}
        errors = sorted(Draft202012Validator(schema).iter_errors(reply.body), key=lambda e: e.json_path)
        assert not errors, f"{method} {path} {reply.status}: " + "; ".join(
            f"{e.json_path}: {e.message}" for e in errors[:5]
        )
    assert statuses >= {200, 201, 202, 204, 400, 401, 403, 404, 409}


@pytest.mark.parametrize(
    "schema_name",
    [
        "ErrorBody",
        "PoolOut",
        "PoolItemOut",
        "CenterOut",
        "PolicyOut",
        "PoolAssignmentOut",
        "UserOut",
        "SystemHealth",
    ],
)
def test_response_schemas_forbid_undocumented_fields(api: Api, schema_name: str) -> None:
    """Responses are closed: a field the document does not declare would fail the walkthrough."""
    schemas = _document(api)["components"]["schemas"]
    assert schemas[schema_name].get("additionalProperties") is False
