"""Bad input, route by route: 400 BAD_DATA naming exactly the bad fields, and NOTHING changed.

Each case runs against one shared world (two tenants with one of everything): the assertion that a case
changed nothing (every table, every secret, the queue) is also what makes sharing the world safe.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.api.framework import OPERATIONS, Access, path_params_of
from tests.integration.api.builders import (
    Snapshot,
    World,
    center_body,
    fast_backends,  # noqa: F401 - autouse
    pool_body,
    provision_center,
    user_body,
    world_context,
)

Body = Callable[[dict[str, int], dict[str, int]], Any]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with world_context() as built:
        yield built


@dataclass
class Case:
    name: str
    method: str
    path: str  # with {center}, {pool}, {policy}, {assignment}, {user}, {vhi_center} of the caller's tenant
    body: Body | None = None  # (mine, other) ids -> JSON value
    paths: list[str] = field(default_factory=list)  # exactly the errors[].path expected
    raw: str | None = None
    headers: dict[str, str] | None = None
    as_system: bool = False


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `base` with nested keys set (`provision__center__image="x"`, list items by index:
    `provision__center__provisioning_actions__0__...`) or, for the value DROP, removed."""
    result = copy.deepcopy(base)
    for nested, value in changes.items():
        *parents, last = nested.split("__")
        target = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is DROP:
            del target[last]
        else:
            target[last] = value
    return result


DROP = object()


D = "/body/center_definition"


def in_definition(fields: dict[str, Any]) -> Body:
    return fixed({"center_definition": fields})

CENTER_TOP_LEVEL = {"id", "active", "colour", "a/b~c"}  # the rest goes into the definition


def center(**changes: Any) -> Body:
    changes = {(k if k in CENTER_TOP_LEVEL else f"center_definition__{k}"): v for k, v in changes.items()}
    return lambda mine, other: _with(center_body("new-center"), **changes)


def pool(**changes: Any) -> Body:
    return lambda mine, other: _with(pool_body(mine["center"], "new-pool"), **changes)


def pool_with(build: Callable[[dict[str, int], dict[str, int]], dict[str, Any]]) -> Body:
    return lambda mine, other: _with(pool_body(mine["center"], "new-pool"), **build(mine, other))


def fixed(value: Any) -> Body:
    return lambda mine, other: value


OS = "/rest/v1/centers/openstack"
VZ = "/rest/v1/centers/virtuozzo"
LONG = "x" * 10_000

CASES = [
    # ------------------------------------------------------------------ any body
    Case("empty body", "POST", "/rest/v1/pools", raw="", paths=["/body"]),
    Case("whitespace body", "POST", "/rest/v1/policies", raw="  \n ", paths=["/body"]),
    Case("malformed JSON", "POST", "/rest/v1/pools", raw='{"name": "x",', paths=["/body"]),
    Case(
        "NaN is not JSON",
        "POST",
        "/rest/v1/policies",
        raw='{"name": "x", "max_desktops": NaN}',
        paths=["/body"],
    ),
    Case(
        "not UTF-8",
        "POST",
        "/rest/v1/policies",
        raw=b'{"name": "\xff\xfe"}'.decode("latin-1"),
        headers={"Content-Type": "application/json; charset=latin-1"},
        paths=[],
    ),
    Case("array instead of object", "POST", "/rest/v1/pools", body=fixed([1, 2]), paths=["/body"]),
    Case("string instead of object", "POST", OS, body=fixed("center"), paths=["/body"]),
    Case("null body", "POST", "/rest/v1/policies", raw="null", paths=["/body"]),
    Case(
        "XML with an XML content type",
        "POST",
        "/rest/v1/pools",
        raw="<pool><name>x</name></pool>",
        headers={"Content-Type": "application/xml"},
        paths=["/body"],
    ),
    Case(
        "form data",
        "POST",
        "/rest/v1/policies",
        raw="name=x&notes=y",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        paths=["/body"],
    ),
    Case("array body on PUT", "PUT", "/rest/v1/pools/{pool}", body=fixed([]), paths=["/body"]),
    # ------------------------------------------------------------------ centers
    Case("center: nothing", "POST", OS, body=fixed({}), paths=[D]),
    Case("center: the flat names of before", "POST", OS,
         body=fixed({"name": "n", "auth_url": "https://k/v3", "project": "p", "username": "u",
                     "password": "x"}),
         paths=[D, "/body/name", "/body/auth_url", "/body/project", "/body/username", "/body/password"]),
    Case(
        "center: empty definition",
        "POST",
        OS,
        body=in_definition({}),
        paths=[f"{D}/name", f"{D}/vc_url", f"{D}/vc_datacenter", f"{D}/vc_name", f"{D}/vc_password"],
    ),
    Case("center: definition a list", "POST", VZ, body=fixed({"center_definition": []}), paths=[D]),
    Case("center: project domain of 201 chars", "POST", OS, body=center(vc_project_domain="d" * 201),
         paths=[f"{D}/vc_project_domain"]),
    Case("center PUT: null definition", "PUT", OS + "/{center}", body=fixed({"center_definition": None}),
         paths=[D]),
    Case("center: unknown field", "POST", OS, body=center(colour="red"), paths=["/body/colour"]),
    Case("center: id in a create body", "POST", OS, body=center(id=5), paths=["/body/id"]),
    Case(
        "center: unknown key with a slash", "POST", OS, body=center(**{"a/b~c": 1}), paths=["/body/a~1b~0c"]
    ),
    Case(
        "center: Keystone v2",
        "POST",
        OS,
        body=center(vc_url="http://keystone:5000/v2.0"),
        paths=[f"{D}/vc_url"],
    ),
    Case("center: not a URL", "POST", VZ, body=center(vc_url="keystone"), paths=[f"{D}/vc_url"]),
    Case("center: ftp URL", "POST", OS, body=center(vc_url="ftp://keystone/v3"), paths=[f"{D}/vc_url"]),
    Case(
        "center: URL with credentials",
        "POST",
        OS,
        body=center(vc_url="http://u:p@keystone/v3"),
        paths=[f"{D}/vc_url"],
    ),
    Case(
        "center: URL too long",
        "POST",
        OS,
        body=center(vc_url="http://k/" + "a" * 300 + "/v3"),
        paths=[f"{D}/vc_url"],
    ),
    Case(
        "center: network not a UUID",
        "POST",
        OS,
        body=center(network_uuid="private-net"),
        paths=[f"{D}/network_uuid"],
    ),
    Case("center: poll interval 0", "POST", OS, body=center(poll_interval=0), paths=[f"{D}/poll_interval"]),
    Case(
        "center: poll interval a day and a minute",
        "POST",
        OS,
        body=center(poll_interval=1441),
        paths=[f"{D}/poll_interval"],
    ),
    Case(
        "center: poll interval as text",
        "POST",
        OS,
        body=center(poll_interval="5"),
        paths=[f"{D}/poll_interval"],
    ),
    Case(
        "center: poll interval as float",
        "POST",
        OS,
        body=center(poll_interval=5.5),
        paths=[f"{D}/poll_interval"],
    ),
    Case("center: build limit 0", "POST", OS, body=center(build_limit=0), paths=[f"{D}/build_limit"]),
    Case("center PUT: build limit 501", "PUT", OS + "/{center}", body=in_definition({"build_limit": 501}),
         paths=[f"{D}/build_limit"]),
    Case("center: name of 10k chars", "POST", OS, body=center(name=LONG), paths=[f"{D}/name"]),
    Case("center: blank name", "POST", VZ, body=center(name="   "), paths=[f"{D}/name"]),
    Case("center: null name", "POST", OS, body=center(name=None), paths=[f"{D}/name"]),
    Case("center: null password", "POST", OS, body=center(vc_password=None), paths=[f"{D}/vc_password"]),
    Case("center: empty password", "POST", OS, body=center(vc_password=""), paths=[f"{D}/vc_password"]),
    Case("center: numeric password", "POST", OS, body=center(vc_password=12345), paths=[f"{D}/vc_password"]),
    Case("center: active 2", "POST", OS, body=center(active=2), paths=["/body/active"]),
    Case("center: active yes", "POST", OS, body=center(active="yes"), paths=["/body/active"]),
    Case(
        "center: type of the other endpoint", "POST", OS, body=center(type="virtuozzo"), paths=[f"{D}/type"]
    ),
    Case("center: unknown type", "POST", OS, body=center(type="vmware"), paths=[f"{D}/type"]),
    Case(
        "center: many bad fields at once",
        "POST",
        OS,
        body=center(name="", vc_url="nope", poll_interval=-1, colour=1, vc_datacenter=DROP),
        paths=[f"{D}/name", f"{D}/vc_url", f"{D}/poll_interval", "/body/colour", f"{D}/vc_datacenter"],
    ),
    Case("center PUT: null name", "PUT", OS + "/{center}", body=in_definition({"name": None}),
         paths=[f"{D}/name"]),
    Case("center PUT: null notes", "PUT", OS + "/{center}", body=in_definition({"notes": None}),
         paths=[f"{D}/notes"]),
    Case(
        "center PUT: another id",
        "PUT",
        OS + "/{center}",
        body=lambda m, o: {"id": m["center"] + 1, "center_definition": {"notes": "x"}},
        paths=["/body/id"],
    ),
    Case(
        "center PUT: bad URL",
        "PUT",
        VZ + "/{vhi_center}",
        body=in_definition({"vc_url": "http://x/v2"}),
        paths=[f"{D}/vc_url"],
    ),
    Case(
        "center PUT: empty password",
        "PUT",
        OS + "/{center}",
        body=in_definition({"vc_password": ""}),
        paths=[f"{D}/vc_password"],
    ),
    Case(
        "center PUT: unknown field",
        "PUT",
        OS + "/{center}",
        body=in_definition({"notes": "x", "secret": "y"}),
        paths=[f"{D}/secret"],
    ),
    Case(
        "center PUT: type mismatch",
        "PUT",
        OS + "/{center}",
        body=in_definition({"type": "virtuozzo"}),
        paths=[f"{D}/type"],
    ),
    Case("center GET: short=yes", "GET", "/rest/v1/centers/{center}?short=yes", paths=["/query/short"]),
    # ------------------------------------------------------------------ pools
    Case(
        "pool: nothing",
        "POST",
        "/rest/v1/pools",
        body=fixed({}),
        paths=["/body/name", "/body/pool_definition"],
    ),
    Case("pool: id in a create body", "POST", "/rest/v1/pools", body=pool(id=1), paths=["/body/id"]),
    Case(
        "pool: unknown nested field",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__colour="red"),
        paths=["/body/pool_definition/colour"],
    ),
    Case("pool: name of 10k chars", "POST", "/rest/v1/pools", body=pool(name=LONG), paths=["/body/name"]),
    Case("pool: null name", "POST", "/rest/v1/pools", body=pool(name=None), paths=["/body/name"]),
    Case(
        "pool: display name too long",
        "POST",
        "/rest/v1/pools",
        body=pool(display_name="d" * 256),
        paths=["/body/display_name"],
    ),
    Case("pool: notes of 10k chars", "POST", "/rest/v1/pools", body=pool(notes=LONG), paths=["/body/notes"]),
    Case(
        "pool: negative running threshold",
        "POST",
        "/rest/v1/pools",
        body=pool(running_desktops_threshold=-1),
        paths=["/body/running_desktops_threshold"],
    ),
    Case(
        "pool: null definition",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition=None),
        paths=["/body/pool_definition"],
    ),
    Case(
        "pool: definition as a list",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition=[]),
        paths=["/body/pool_definition"],
    ),
    Case(
        "pool: restrict by tag",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__restrict_by="T"),
        paths=["/body/pool_definition/restrict_by"],
    ),
    Case(
        "pool: centers but no center",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__server_ids=[]),
        paths=["/body/pool_definition/server_ids"],
    ),
    Case(
        "pool: attributes but no rule",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__restrict_by="A"),
        paths=["/body/pool_definition/attributes"],
    ),
    Case(
        "pool: a center that does not exist",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"pool_definition__server_ids": [m["center"], 987654321]}),
        paths=["/body/pool_definition/server_ids/1"],
    ),
    Case(
        "pool: a center of another tenant",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"pool_definition__server_ids": [o["center"]]}),
        paths=["/body/pool_definition/server_ids/0"],
    ),
    Case(
        "pool: a center listed twice",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"pool_definition__server_ids": [m["center"], m["center"]]}),
        paths=["/body/pool_definition/server_ids/1"],
    ),
    Case(
        "pool: center id as text",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__server_ids=["1"]),
        paths=["/body/pool_definition/server_ids/0"],
    ),
    Case(
        "pool: negative center id",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__server_ids=[-1]),
        paths=["/body/pool_definition/server_ids/0"],
    ),
    Case(
        "pool: huge center id",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__server_ids=[2**63]),
        paths=["/body/pool_definition/server_ids/0"],
    ),
    Case(
        "pool: unknown attribute field",
        "POST",
        "/rest/v1/pools",
        body=pool(
            pool_definition={
                "restrict_by": "A",
                "attributes": [{"vm_table_field": "num_disks", "condition_type": "eq", "text_to_match": "1"}],
            }
        ),
        paths=["/body/pool_definition/attributes/0/vm_table_field"],
    ),
    Case(
        "pool: a parent that does not exist",
        "POST",
        "/rest/v1/pools",
        body=pool(pool_definition__parent_pool_id=987654321),
        paths=["/body/pool_definition/parent_pool_id"],
    ),
    Case(
        "pool: a parent of another tenant",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"pool_definition__parent_pool_id": o["pool"]}),
        paths=["/body/pool_definition/parent_pool_id"],
    ),
    Case(
        "pool: provision is a string",
        "POST",
        "/rest/v1/pools",
        body=pool(provision="on"),
        paths=["/body/provision"],
    ),
    Case(
        "pool: provisioning on/off missing",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_on_off=DROP),
        paths=["/body/provision/provision_on_off"],
    ),
    Case(
        "pool: provisioning on/off yes",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_on_off="yes"),
        paths=["/body/provision/provision_on_off"],
    ),
    Case(
        "pool: provisioning on/off 2",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_on_off=2),
        paths=["/body/provision/provision_on_off"],
    ),
    Case(
        "pool: provisioning on/off null",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_on_off=None),
        paths=["/body/provision/provision_on_off"],
    ),
    Case(
        "pool: negative maximum",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_max=-1),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool: maximum out of range",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_max=100_001),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool: maximum as float",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_max=1.5),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool: maximum of 2**64",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_max=2**64),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool: threshold above maximum",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_threshold=6, provision__provision_max=5),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool: provisioning on without center and name",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center=DROP, provision__provision_vm_name=""),
        paths=["/body/provision/center", "/body/provision/provision_vm_name"],
    ),
    Case(
        "pool: several desktops without {SEQUENCE}",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_vm_name="desk"),
        paths=["/body/provision/provision_vm_name"],
    ),
    Case(
        "pool: unknown tag",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_vm_display_name="{USER}"),
        paths=["/body/provision/provision_vm_display_name"],
    ),
    Case(
        "pool: name of 256 chars",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_vm_name="d" * 250 + "{SEQUENCE}"),
        paths=["/body/provision/provision_vm_name"],
    ),
    Case(
        "pool: negative next value",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__provision_vm_name_next_value=-1),
        paths=["/body/provision/provision_vm_name_next_value"],
    ),
    Case(
        "pool: provision center of another tenant",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"provision__center": provision_center(o["center"])}),
        paths=["/body/provision/center/id"],
    ),
    Case(
        "pool: provision center that does not exist",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"provision__center": provision_center(987654321)}),
        paths=["/body/provision/center/id"],
    ),
    Case(
        "pool: provision center of the wrong type",
        "POST",
        "/rest/v1/pools",
        body=pool_with(lambda m, o: {"provision__center": provision_center(m["center"], "virtuozzo")}),
        paths=["/body/provision/center/type"],
    ),
    Case(
        "pool: provision center type azure",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__type="azure"),
        paths=["/body/provision/center/type"],
    ),
    Case(
        "pool: provision center without image and flavor",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__image=DROP, provision__center__flavor=""),
        paths=["/body/provision/center/image", "/body/provision/center/flavor"],
    ),
    Case(
        "pool: security groups as a string",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__security_groups="default"),
        paths=["/body/provision/center/security_groups"],
    ),
    Case(
        "pool: an empty security group",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__security_groups=["default", ""]),
        paths=["/body/provision/center/security_groups/1"],
    ),
    Case(
        "pool: volume size not a number",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__new_volume_size="big"),
        paths=["/body/provision/center/new_volume_size"],
    ),
    Case(
        "pool: negative volume size",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__new_volume_size=-5),
        paths=["/body/provision/center/new_volume_size"],
    ),
    Case(
        "pool: floating IP as a list",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__assign_floating_ip=[1]),
        paths=["/body/provision/center/assign_floating_ip"],
    ),
    Case(
        "pool: create new volume 3",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__create_new_volume=3),
        paths=["/body/provision/center/create_new_volume"],
    ),
    Case(
        "pool: last action powers on",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__provisioning_actions=[{"prov_action_action": "start"}]),
        paths=["/body/provision/center/provisioning_actions/0/prov_action_action"],
    ),
    Case(
        "pool: wait of 56",
        "POST",
        "/rest/v1/pools",
        body=pool(provision__center__provisioning_actions__0__prov_action_wait_value=56),
        paths=["/body/provision/center/provisioning_actions/0/prov_action_wait_value"],
    ),
    Case(
        "pool: history kept for 366 days",
        "POST",
        "/rest/v1/pools",
        body=pool(log__retain_history__pool_history_age=366),
        paths=["/body/log/retain_history/pool_history_age"],
    ),
    Case(
        "pool: error threshold above warning",
        "POST",
        "/rest/v1/pools",
        body=pool(log={"log_error_threshold": 5, "log_warning_threshold": 3}),
        paths=["/body/log/log_error_threshold"],
    ),
    Case(
        "pool PUT: null name",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=fixed({"name": None}),
        paths=["/body/name"],
    ),
    Case(
        "pool PUT: another id",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=lambda m, o: {"id": m["pool"] + 1},
        paths=["/body/id"],
    ),
    Case(
        "pool PUT: a center of another tenant",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=lambda m, o: {"pool_definition": {"restrict_by": "C", "server_ids": [o["center"]]}},
        paths=["/body/pool_definition/server_ids/0"],
    ),
    Case(
        "pool PUT: its own parent",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=lambda m, o: {
            "pool_definition": {"restrict_by": "C", "server_ids": [m["center"]], "parent_pool_id": m["pool"]}
        },
        paths=["/body/pool_definition/parent_pool_id"],
    ),
    Case(
        "pool PUT: threshold above the stored maximum",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=fixed({"provision": {"provision_threshold": 50}}),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool PUT: null inside provision",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=fixed({"provision": {"provision_max": None}}),
        paths=["/body/provision/provision_max"],
    ),
    Case(
        "pool PUT: incomplete center",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=lambda m, o: {"provision": {"center": {"id": m["center"]}}},
        paths=[
            "/body/provision/center/type",
            "/body/provision/center/image",
            "/body/provision/center/flavor",
        ],
    ),
    Case(
        "pool PUT: definition without restrict_by",
        "PUT",
        "/rest/v1/pools/{pool}",
        body=fixed({"pool_definition": {"server_ids": [1]}}),
        paths=["/body/pool_definition/restrict_by"],
    ),
    # ------------------------------------------------------------------ policies and pool assignments
    Case("policy: nothing", "POST", "/rest/v1/policies", body=fixed({}), paths=["/body/name"]),
    Case(
        "policy: id in a create body",
        "POST",
        "/rest/v1/policies",
        body=fixed({"name": "p", "id": 3}),
        paths=["/body/id"],
    ),
    Case(
        "policy: too many desktops",
        "POST",
        "/rest/v1/policies",
        body=fixed({"name": "p", "max_desktops": 1001}),
        paths=["/body/max_desktops"],
    ),
    Case(
        "policy: -2 desktops",
        "POST",
        "/rest/v1/policies",
        body=fixed({"name": "p", "max_desktops": -2}),
        paths=["/body/max_desktops"],
    ),
    Case(
        "policy: session expiry of 3 minutes",
        "POST",
        "/rest/v1/policies",
        body=fixed({"name": "p", "session_expire_delay": 3}),
        paths=["/body/session_expire_delay"],
    ),
    Case(
        "policy: default 5",
        "POST",
        "/rest/v1/policies",
        body=fixed({"name": "p", "is_default": 5}),
        paths=["/body/is_default"],
    ),
    Case(
        "policy: reference fields that do not apply",
        "POST",
        "/rest/v1/policies",
        body=fixed({"name": "p", "usb_enabled": 1, "ha_power_on": 1}),
        paths=["/body/usb_enabled", "/body/ha_power_on"],
    ),
    Case(
        "policy PUT: null notes",
        "PUT",
        "/rest/v1/policies/{policy}",
        body=fixed({"notes": None}),
        paths=["/body/notes"],
    ),
    Case(
        "policy PUT: desktops as text",
        "PUT",
        "/rest/v1/policies/{policy}",
        body=fixed({"max_desktops": "3"}),
        paths=["/body/max_desktops"],
    ),
    Case(
        "policy PUT: null name",
        "PUT",
        "/rest/v1/policies/{policy}",
        body=fixed({"name": None}),
        paths=["/body/name"],
    ),
    Case(
        "assignment: nothing",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=fixed({}),
        paths=["/body/pool_id"],
    ),
    Case(
        "assignment: pool 0",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=fixed({"pool_id": 0}),
        paths=["/body/pool_id"],
    ),
    Case(
        "assignment: a pool that does not exist",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=fixed({"pool_id": 987654321}),
        paths=["/body/pool_id"],
    ),
    Case(
        "assignment: a pool of another tenant",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": o["pool"]},
        paths=["/body/pool_id"],
    ),
    Case(
        "assignment: a pool already assigned",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": m["pool"]},
        paths=["/body/pool_id"],
    ),
    Case(
        "assignment: backup of another tenant",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": m["pool"], "backup_pool_id": o["pool"]},
        paths=["/body/backup_pool_id"],
    ),
    Case(
        "assignment: offer none",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": m["pool"], "offer_quantity": 0},
        paths=["/body/offer_quantity"],
    ),
    Case(
        "assignment: display mode 3",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": m["pool"], "display_mode": "3"},
        paths=["/body/display_mode"],
    ),
    Case(
        "assignment: a plan that does not exist",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": m["pool"] + 100000, "plan_protocol_id": 987654},
        paths=["/body/pool_id", "/body/plan_protocol_id"],
    ),
    Case(
        "assignment: another policy in the body",
        "POST",
        "/rest/v1/policies/{policy}/pool-assignments",
        body=lambda m, o: {"pool_id": m["pool"], "policy_id": o["policy"]},
        paths=["/body/policy_id"],
    ),
    Case(
        "assignment PUT: null quantity",
        "PUT",
        "/rest/v1/policies/{policy}/pool-assignments/{assignment}",
        body=fixed({"offer_quantity": None}),
        paths=["/body/offer_quantity"],
    ),
    Case(
        "assignment PUT: a pool of another tenant",
        "PUT",
        "/rest/v1/policies/{policy}/pool-assignments/{assignment}",
        body=lambda m, o: {"pool_id": o["pool"]},
        paths=["/body/pool_id"],
    ),
    Case(
        "assignment PUT: kiosk 2",
        "PUT",
        "/rest/v1/policies/{policy}/pool-assignments/{assignment}",
        body=fixed({"kiosk": 2}),
        paths=["/body/kiosk"],
    ),
    # ------------------------------------------------------------------ users, tenants, sessions
    Case(
        "user: nothing",
        "POST",
        "/rest/v1/users",
        body=fixed({}),
        paths=["/body/is_local", "/body/user_login", "/body/name"],
    ),
    Case(
        "user: id in a create body",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", id=9)),
        paths=["/body/id"],
    ),
    Case(
        "user: local without password",
        "POST",
        "/rest/v1/users",
        body=fixed({"is_local": 1, "user_login": "u1", "name": "U"}),
        paths=["/body/password"],
    ),
    Case(
        "user: password of 2 chars",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", password="ab")),
        paths=["/body/password"],
    ),
    Case(
        "user: password of 101 chars",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", password="p" * 101)),
        paths=["/body/password"],
    ),
    Case(
        "user: unknown role",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", "Emperor")),
        paths=["/body/role_name"],
    ),
    Case(
        "user: unknown policy",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", policy_name="nope")),
        paths=["/body/policy_name"],
    ),
    Case(
        "user: directory user without server",
        "POST",
        "/rest/v1/users",
        body=fixed({"is_local": 0, "user_login": "u1", "name": "U"}),
        paths=["/body/auth_server"],
    ),
    Case(
        "user: login of 65 chars",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u" * 65)),
        paths=["/body/user_login"],
    ),
    Case(
        "user: is_local as text",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", is_local="1")),
        paths=["/body/is_local"],
    ),
    Case(
        "user: negative tenant",
        "POST",
        "/rest/v1/users",
        body=fixed(user_body("u1", tenant_id=-1)),
        paths=["/body/tenant_id"],
    ),
    Case("tenant: nothing", "POST", "/rest/v1/tenants", body=fixed({}), paths=["/body/name"], as_system=True),
    Case(
        "tenant: name of 101 chars",
        "POST",
        "/rest/v1/tenants",
        body=fixed({"name": "t" * 101}),
        paths=["/body/name"],
        as_system=True,
    ),
    Case(
        "tenant: unknown field",
        "POST",
        "/rest/v1/tenants",
        body=fixed({"name": "t", "plan": "gold"}),
        paths=["/body/plan"],
        as_system=True,
    ),
    Case(
        "login: nothing",
        "POST",
        "/rest/v1/session/login",
        body=fixed({}),
        paths=["/body/user_login", "/body/password"],
    ),
    Case(
        "login: unknown field",
        "POST",
        "/rest/v1/session/login",
        body=fixed({"user_login": "a", "password": "b", "remember": True}),
        paths=["/body/remember"],
    ),
    Case(
        "login: password of 10k chars",
        "POST",
        "/rest/v1/session/login",
        body=fixed({"user_login": "admin", "password": LONG}),
        paths=["/body/password"],
    ),
]


def _fill(path: str, world: World) -> str:
    return path.format(**world.mine.ids)


def _send(world: World, case: Case) -> Any:
    sid = world.system_sid if case.as_system else world.mine.admin.sid
    if case.path == "/rest/v1/session/login":
        sid = None
    body = case.body(world.mine.ids, world.other.ids) if case.body else None
    return world.api.call(
        case.method, _fill(case.path, world), body, sid=sid, raw=case.raw, headers=case.headers
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.paths], ids=lambda c: c.name)
def test_bad_input_is_bad_data_naming_each_field_and_changes_nothing(world: World, case: Case) -> None:
    with Snapshot(world.api):
        reply = _send(world, case)
    assert reply.status == 400, reply.body
    body = reply.body
    assert body["error_status"] == "BAD_DATA"
    assert isinstance(body["error_message"], str) and body["error_message"]
    assert set(body) <= {"error_status", "error_message", "errors"}
    paths = [error["path"] for error in body["errors"]]
    assert len(paths) == len(set(paths)), f"a field is named twice: {paths}"
    assert sorted(paths) == sorted(case.paths)
    for error in body["errors"]:
        assert set(error) == {"path", "message"}
        assert isinstance(error["message"], str) and error["message"].strip()
        assert "constrained" not in error["message"] and "function-after" not in error["message"]
    assert "Traceback" not in reply.body["error_message"]


def test_text_that_is_not_utf8_json_is_still_a_string(world: World) -> None:
    """Latin-1 bytes declared as such: either accepted as text or refused as /body, never a 5xx."""
    case = next(c for c in CASES if c.name == "not UTF-8")
    with Snapshot(world.api):
        reply = _send(world, case)
        assert reply.status in (201, 400), reply.body
        if reply.status == 201:
            policy_id = reply.body["stored_data"]["id"]
            assert (
                world.api.call("DELETE", f"/rest/v1/policies/{policy_id}", sid=world.mine.admin.sid).status
                == 204
            )
        else:
            assert [e["path"] for e in reply.body["errors"]] == ["/body"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json; charset=utf-8", "application/xml", "application/octet-stream", ""],
)
def test_a_json_body_is_read_whatever_the_content_type(world: World, content_type: str) -> None:
    """Not Chalice's bare 415: the body is JSON or it is BAD_DATA."""
    api, sid = world.api, world.mine.admin.sid
    reply = api.call(
        "POST",
        "/rest/v1/policies",
        {"name": f"typed {content_type}"},
        sid=sid,
        headers={"Content-Type": content_type},
    )
    assert reply.status == 201, reply.body
    policy_id = reply.body["stored_data"]["id"]
    assert api.call("DELETE", f"/rest/v1/policies/{policy_id}", sid=sid).status == 204
    bad = api.call(
        "POST", "/rest/v1/policies", raw="<policy/>", sid=sid, headers={"Content-Type": content_type}
    )
    assert bad.status == 400 and bad.body["error_status"] == "BAD_DATA"


BAD_IDS = [
    "0",
    "-1",
    "abc",
    "1.5",
    "1e3",
    "0x10",
    "99999999999999999999",
    "9007199254740992",
    "\u00b2",
    "\u0661",
    "%F0%9F%98%80",
    "000000000000000000001",
]


def _admin_routes() -> list[Any]:
    return [
        op
        for op in OPERATIONS
        if path_params_of(op.path)
        and op.path.startswith("/rest/v1/")
        and op.access in (Access.ADMIN_READ, Access.ADMIN_WRITE, Access.SYSTEM)
    ]


@pytest.mark.parametrize("operation", _admin_routes(), ids=lambda op: f"{op.method} {op.path}")
def test_ids_that_name_nothing_are_not_found(world: World, operation: Any) -> None:
    """Every route with an id, including routes added later: an id that is not a positive JSON-safe
    integer names nothing, so it answers 404 (before the body is even read) and changes nothing.
    Well-formed ids of no record, and of another tenant's, are in test_tenant_isolation.py."""
    api = world.api
    sid = world.system_sid if operation.access is Access.SYSTEM else world.mine.admin.sid
    params = path_params_of(operation.path)
    with Snapshot(api):
        for bad in BAD_IDS:
            for position in range(len(params)):
                values = {
                    name: (bad if i == position else str(_existing(world, operation.path, name)))
                    for i, name in enumerate(params)
                }
                path = operation.path.format(**values)
                reply = api.call(operation.method, path, {}, sid=sid)
                assert reply.status == 404, (path, reply.body)
                assert reply.body["error_status"] == "NOT_FOUND"


def _existing(world: World, path: str, name: str) -> int:
    """An id of the caller's tenant for the parent parameter of a nested route."""
    if name == "policy_id":
        return world.mine.ids["policy"]
    return world.mine.ids.get(path.split("/")[3].rstrip("s"), 1)
