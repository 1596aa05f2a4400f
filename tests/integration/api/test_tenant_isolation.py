"""Tenants never see each other: every admin route with an id answers another tenant's id exactly as it
answers an id of no record (404), and changes nothing.

The routes come from `chalicelib.api.framework.OPERATIONS`, so a route added later is covered without
touching this file: the other tenant's id is found by listing the route's collection as that tenant.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import app  # noqa: F401 - registers every route in OPERATIONS
from chalicelib.api.framework import OPERATIONS, Access, Operation, path_params_of
from tests.integration.api.builders import (
    Snapshot,
    TenantWorld,
    World,
    fast_backends,  # noqa: F401 - autouse
    world_context,
)

MISSING_ID = 987_654_321_987
ADMIN = (Access.ADMIN_READ, Access.ADMIN_WRITE)
# The collections the world fills for both tenants: routes under them must be covered for real.
CORE = ("/rest/v1/centers", "/rest/v1/pools", "/rest/v1/policies", "/rest/v1/users")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with world_context() as built:
        yield built


def _routes_with_ids() -> list[Operation]:
    return [
        op
        for op in OPERATIONS
        if op.path.startswith("/rest/v1/") and path_params_of(op.path) and op.access in ADMIN
    ]


def _known_ids(tenant: TenantWorld, collection: str) -> int | None:
    known = {
        "/rest/v1/centers": tenant.center["id"],
        "/rest/v1/centers/openstack": tenant.center["id"],
        "/rest/v1/centers/virtuozzo": tenant.vhi_center["id"],
        "/rest/v1/pools": tenant.pool["id"],
        "/rest/v1/policies": tenant.policy["id"],
        f"/rest/v1/policies/{tenant.policy['id']}/pool-assignments": tenant.assignment["id"],
        "/rest/v1/users": tenant.user_id,
    }
    return known.get(collection)


def _listed_id(world: World, tenant: TenantWorld, collection: str) -> int | None:
    """The first record of `collection` (or of its parent collection) as `tenant` lists it."""
    candidate = collection
    while candidate.count("/") >= 3:
        reply = world.api.call("GET", candidate, sid=tenant.admin.sid)
        if reply.status == 200 and isinstance(reply.body, list):
            ids = [
                item["id"]
                for item in reply.body
                if isinstance(item, dict) and isinstance(item.get("id"), int)
            ]
            return ids[0] if ids else None
        candidate = candidate.rsplit("/", 1)[0]
    return None


def _minimal(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The smallest instance a request schema accepts, as far as a JSON schema can say."""
    if "$ref" in schema:
        return _minimal(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if o.get("type") != "null"]
        if options:
            return _minimal(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        return {name: _minimal(schema["properties"][name], defs) for name in schema.get("required", [])}
    if kind == "array":
        return [_minimal(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "isolation-probe"[: schema.get("maxLength", 100)].ljust(schema.get("minLength", 0), "x")


def _created_id(world: World, tenant: TenantWorld, collection: str) -> int | None:
    """For a collection the world does not fill: create a record with the smallest body its POST takes."""
    creator = next(
        (op for op in OPERATIONS if op.method == "POST" and op.path == collection and op.body), None
    )
    if creator is None or "{" in collection:
        return None
    schema = creator.body.model_json_schema(ref_template="#/$defs/{model}")
    body = _minimal(schema, schema.get("$defs", {}))
    if isinstance(body, dict) and "name" in body:
        body["name"] = "probe " + collection.rsplit("/", 1)[-1]  # names may be unique across collections
    reply = world.api.call("POST", collection, body, sid=tenant.admin.sid)
    world.api.aws.queued()
    if reply.status in (200, 201) and isinstance(reply.body, dict):
        stored = reply.body.get("stored_data", reply.body)
        return stored.get("id") if isinstance(stored, dict) else None
    return None


def _ids_of(world: World, tenant: TenantWorld, operation: Operation) -> dict[str, int] | None:
    """A record of `tenant` for each path parameter, resolving parents first; None if it has none."""
    ids: dict[str, int] = {}
    for name in path_params_of(operation.path):
        collection = operation.path.split("{" + name + "}")[0].rstrip("/").format(**ids)
        found = (
            _known_ids(tenant, collection)
            or _listed_id(world, tenant, collection)
            or _created_id(world, tenant, collection)
        )
        if found is None:
            return None
        ids[name] = found
    return ids


def _body(world: World, operation: Operation) -> Any:
    if operation.body is None:
        return None
    if operation.body.__name__ == "PoolAssignmentBody":
        return {"pool_id": world.mine.pool["id"]}  # a pool of the caller's: only the policy is foreign
    schema = operation.body.model_json_schema(ref_template="#/$defs/{model}")
    return _minimal(schema, schema.get("$defs", {}))


def _normalised(reply: Any, ids: dict[str, int]) -> tuple[int, Any]:
    body = reply.body
    if isinstance(body, dict) and isinstance(body.get("error_message"), str):
        message = body["error_message"]
        for value in sorted({str(v) for v in ids.values()}, key=len, reverse=True):
            message = re.sub(rf"\b{value}\b", "<id>", message)
        body = {**body, "error_message": message}
    return reply.status, body


@pytest.mark.parametrize("operation", _routes_with_ids(), ids=lambda op: f"{op.method} {op.path}")
def test_another_tenants_id_is_not_found_and_changes_nothing(world: World, operation: Operation) -> None:
    api = world.api
    foreign = _ids_of(world, world.other, operation)
    if foreign is None:
        assert not operation.path.startswith(tuple(c + "/" for c in CORE)), (
            f"the world should hold a record for {operation.path}"
        )
        warnings.warn(
            f"{operation.method} {operation.path}: the other tenant has no such record; only an id "
            f"of no record is checked",
            stacklevel=1,
        )
    # The caller's own parent ids, so that only the id under test is foreign.
    path = operation.path
    body = _body(world, operation)
    missing = dict.fromkeys(path_params_of(path), MISSING_ID)
    with Snapshot(api):
        absent = api.call(operation.method, path.format(**missing), body, sid=world.mine.admin.sid)
        if foreign is not None:
            theirs = api.call(operation.method, path.format(**foreign), body, sid=world.mine.admin.sid)
    assert absent.status == 404, absent.body
    assert absent.body["error_status"] == "NOT_FOUND"
    if foreign is None:
        return
    assert theirs.status == 404, theirs.body
    # Indistinguishable from an id of no record at all.
    assert _normalised(theirs, foreign) == _normalised(absent, missing)


@pytest.mark.parametrize(
    "operation",
    [op for op in _routes_with_ids() if len(path_params_of(op.path)) > 1],
    ids=lambda op: f"{op.method} {op.path}",
)
def test_a_foreign_parent_hides_the_child_even_with_the_right_child_id(
    world: World, operation: Operation
) -> None:
    """`/policies/{theirs}/pool-assignments/{mine}` and the reverse: 404 too."""
    params = path_params_of(operation.path)
    foreign = _ids_of(world, world.other, operation)
    if foreign is None:
        pytest.skip("the other tenant has no such record")
    mine = _ids_of(world, world.mine, operation)
    assert mine is not None
    with Snapshot(world.api):
        for mixed in ({**foreign, params[-1]: mine[params[-1]]}, {**mine, params[0]: foreign[params[0]]}):
            reply = world.api.call(
                operation.method,
                operation.path.format(**mixed),
                _body(world, operation),
                sid=world.mine.admin.sid,
            )
            assert reply.status == 404, (mixed, reply.body)


def test_the_core_routes_are_all_covered_with_a_real_foreign_record(world: World) -> None:
    covered = [op for op in _routes_with_ids() if op.path.startswith(tuple(c + "/" for c in CORE))]
    assert len(covered) >= 17
    for operation in covered:
        foreign = _ids_of(world, world.other, operation)
        assert foreign is not None, operation.path
        # The ids really are the other tenant's: it reads them.
        get_path = operation.path if operation.method == "GET" else None
        if get_path and "{" in get_path:
            reply = world.api.call("GET", get_path.format(**foreign), sid=world.other.admin.sid)
            assert reply.status == 200, (get_path, reply.body)


def test_lists_show_only_the_callers_records(world: World) -> None:
    api = world.api
    for collection in ("centers", "pools", "policies", "users", "policies/{policy}/pool-assignments"):
        listed = {}
        for tenant in (world.mine, world.other):
            reply = api.call(
                "GET", "/rest/v1/" + collection.format(policy=tenant.policy["id"]), sid=tenant.admin.sid
            )
            assert reply.status == 200, reply.body
            listed[tenant.admin.name] = {item["id"] for item in reply.body}
        assert listed["acme"] and listed["globex"], collection
        assert not listed["acme"] & listed["globex"], collection


def test_a_tenant_administrator_cannot_reach_tenants(world: World) -> None:
    for operation in OPERATIONS:
        if operation.access is not Access.SYSTEM:
            continue
        ids = dict.fromkeys(path_params_of(operation.path), world.other.admin.tenant_id)
        reply = world.api.call(
            operation.method,
            operation.path.format(**ids),
            {"name": "x"} if operation.body else None,
            sid=world.mine.admin.sid,
        )
        assert reply.status == 403, (operation.path, reply.body)
