"""Bodies the parser cannot take, at every route that reads one (public, admin, system and agent):
400 BAD_DATA naming /body, never a 5xx, and nothing changed. And bodies that parse but that no field
can hold (numbers out of any range, huge strings, objects of thousands of keys): 400 naming the field.

Through the real Chalice routing (chalice.test.Client), on one shared world (see test_errors.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib.api.framework import (
    MAX_BODY_BYTES,
    MAX_INTEGER_DIGITS,
    MAX_JSON_DEPTH,
    MAX_OBJECT_MEMBERS,
    OPERATIONS,
    Access,
    Operation,
    path_params_of,
)
from tests.integration.api.builders import (
    Snapshot,
    World,
    fast_backends,  # noqa: F401 - autouse
    world_context,
)
from tests.integration.api.conftest import Reply

DEEP = 100_000


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with world_context() as built:
        yield built


@pytest.fixture(scope="module")
def agent_token(world: World) -> str:
    """An agent's token, registered the way a desktop's agent registers."""
    api, sid = world.api, world.mine.admin.sid
    [desktop] = api.call("GET", "/rest/v1/desktops", sid=sid).body
    issued = api.call("POST", f"/rest/v1/desktops/{desktop['id']}/agent-registration", sid=sid)
    assert issued.status == 201, issued.body
    body = {key: issued.body[field] for key, field in
            (("instance_uuid", "instance_id"), ("registration_token", "registration_token"))}
    registered = api.call("POST", "/agent/v1/register", body)
    assert registered.status == 201, registered.status
    return str(registered.body["agent_token"])


def routes_with_a_body() -> list[Operation]:
    found = [op for op in OPERATIONS if op.body_ref is not None]
    kinds = {op.access for op in found}
    assert {Access.PUBLIC, Access.ADMIN_WRITE, Access.SYSTEM, Access.AGENT} <= kinds, kinds
    return found


def send(world: World, agent_token: str, operation: Operation, raw: str) -> Reply:
    """The route's request with its caller's credentials (ids: any well-formed one; the body is read
    before the record is looked up)."""
    headers: dict[str, str] = {}
    sid = None
    if operation.access is Access.SYSTEM:
        sid = world.system_sid
    elif operation.access in (Access.ADMIN_READ, Access.ADMIN_WRITE):
        sid = world.mine.admin.sid
    elif operation.access is Access.AGENT:
        headers["Authorization"] = f"Bearer {agent_token}"
    else:
        assert operation.access is Access.PUBLIC, operation.access
    path = operation.path.format(**{name: "1" for name in path_params_of(operation.path)})
    return world.api.call(operation.method, path, sid=sid, raw=raw, headers=headers)


def nested_arrays(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


UNPARSEABLE = {
    "100,000 nested arrays": nested_arrays(DEEP),
    "20,000 nested objects": '{"a":' * 20_000 + "1" + "}" * 20_000,
    "100,000 nested arrays, unclosed": "[" * DEEP,
    f"{MAX_JSON_DEPTH + 1} levels (parseable, deeper than the limit)": json.dumps(
        {"name": json.loads(nested_arrays(MAX_JSON_DEPTH))}
    ),
    "a body over the size limit": json.dumps({"name": "x" * MAX_BODY_BYTES}),
    f"an object of {MAX_OBJECT_MEMBERS + 1} members": json.dumps(
        {f"field_{i}": i for i in range(MAX_OBJECT_MEMBERS + 1)}
    ),
}


@pytest.mark.parametrize("operation", routes_with_a_body(), ids=lambda op: f"{op.method} {op.path}")
def test_a_body_the_parser_cannot_take_is_bad_data_at_every_route(
    world: World, agent_token: str, operation: Operation
) -> None:
    with Snapshot(world.api):
        for name, raw in UNPARSEABLE.items():
            reply = send(world, agent_token, operation, raw)
            assert reply.status == 400, (name, reply.status, reply.body)
            assert reply.body["error_status"] == "BAD_DATA", name
            assert [e["path"] for e in reply.body["errors"]] == ["/body"], (name, reply.body)
            assert "Traceback" not in json.dumps(reply.body)


def test_the_limits_leave_room_for_every_real_body(world: World) -> None:
    """Exactly at the depth limit, a body is parsed and its fields validated as usual."""
    reply = world.api.call(
        "POST",
        "/rest/v1/policies",
        raw=json.dumps({"name": json.loads(nested_arrays(MAX_JSON_DEPTH - 1))}),
        sid=world.mine.admin.sid,
    )
    assert reply.status == 400
    assert [e["path"] for e in reply.body["errors"]] == ["/body/name"]


def test_a_wide_object_inside_a_field_is_named(world: World) -> None:
    wide = {f"k{i}": "v" for i in range(MAX_OBJECT_MEMBERS + 1)}
    with Snapshot(world.api):
        reply = world.api.call(
            "POST", "/rest/v1/plans/protocol", {"name": "wide", "options": wide}, sid=world.mine.admin.sid
        )
    assert reply.status == 400, reply.body
    assert [e["path"] for e in reply.body["errors"]] == ["/body/options"]


HUGE_INTEGER = "9" * 100_000  # Python refuses to convert more than 4,300 digits
# (route, body as raw JSON, the field that must be named)
UNHOLDABLE = [
    ("POST", "/rest/v1/policies", '{"name": "p", "max_desktops": 1e999999}', "max_desktops"),
    ("POST", "/rest/v1/policies", '{"name": "p", "max_desktops": -1e999999}', "max_desktops"),
    ("POST", "/rest/v1/policies", '{"name": "p", "max_desktops": ' + HUGE_INTEGER + "}", "max_desktops"),
    ("POST", "/rest/v1/policies", '{"name": "p", "max_desktops": 1' + "0" * MAX_INTEGER_DIGITS + "}",
     "max_desktops"),
    ("POST", "/rest/v1/policies", '{"name": "p", "notes": ' + HUGE_INTEGER + "}", "notes"),
    ("POST", "/rest/v1/policies", json.dumps({"name": "n" * 200_000}), "name"),
    ("POST", "/rest/v1/auth-servers",
     '{"name": "d", "type": "ldap", "domain": "d.example", "connect_timeout_seconds": 1e999999}',
     "connect_timeout_seconds"),
    ("POST", "/rest/v1/users", '{"user_login": "u", "tenant_id": ' + HUGE_INTEGER + "}", "tenant_id"),
    ("POST", "/client/v1/login", '{"user_login": "u", "password": ' + HUGE_INTEGER + "}", "password"),
    ("POST", "/rest/v1/session/login", '{"user_login": 1e999999, "password": "p"}', "user_login"),
    ("POST", "/agent/v1/events", '{"event": "heartbeat", "time": 1e999999}', "time"),
    ("POST", "/agent/v1/events", '{"event": "heartbeat", "time": ' + HUGE_INTEGER + "}", "time"),
]


@pytest.mark.parametrize(
    ("method", "path", "raw", "field"), UNHOLDABLE, ids=[f"{c[1]} {c[3]} {c[2][-40:]}" for c in UNHOLDABLE]
)
def test_a_value_no_field_can_hold_is_bad_data_naming_the_field(
    world: World, agent_token: str, method: str, path: str, raw: str, field: str
) -> None:
    operation = next(op for op in OPERATIONS if (op.method, op.path) == (method, path))
    with Snapshot(world.api):
        reply = send(world, agent_token, operation, raw)
    assert reply.status == 400, reply.body
    assert reply.body["error_status"] == "BAD_DATA"
    assert f"/body/{field}" in [e["path"] for e in reply.body["errors"]], reply.body
    assert HUGE_INTEGER[:50] not in json.dumps(reply.body)  # the value is not echoed back


def test_numbers_within_range_still_work(world: World) -> None:
    api, sid = world.api, world.mine.admin.sid
    created = api.call("POST", "/rest/v1/policies", raw='{"name": "ten", "max_desktops": 10}', sid=sid)
    assert created.status == 201, created.body
    assert api.call("DELETE", f"/rest/v1/policies/{created.body['stored_data']['id']}", sid=sid).status == 204
