"""Request models and the translation of their errors into the reference's BAD_DATA body (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from chalicelib.domain.errors import BadData
from chalicelib.schemas.admin import SessionLogin, UserAdd
from chalicelib.schemas.centers import CenterCreate, CenterDefinition, CenterDefinitionUpdate, CenterUpdate
from chalicelib.schemas.common import StrictModel
from chalicelib.schemas.policies import PolicyBody, PolicyUpdate, PoolAssignmentBody, PoolAssignmentUpdate
from chalicelib.schemas.pools import PoolBody, PoolUpdate, ProvisionCenter
from chalicelib.schemas.validation import _is_union_tag, pydantic_errors

DEFINITION = {
    "name": "lab",
    "vc_url": "https://keystone.example.com:5000/v3",
    "vc_datacenter": "demo",
    "vc_name": "demo",
    "vc_password": "pw",
}
AT = "/body/center_definition"


def center(**fields: Any) -> dict[str, Any]:
    return {"center_definition": {**DEFINITION, **fields}}
POOL = {"name": "p", "pool_definition": {"restrict_by": "C", "server_ids": [1]}}
PROVISION_CENTER = {"type": "openstack", "id": 1, "image": "img", "flavor": "small"}


def bad_data(model: type[BaseModel], data: Any, where: str = "body") -> BadData:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return pydantic_errors(caught.value, where)


def paths(model: type[BaseModel], data: Any) -> list[str]:
    return [item.path for item in bad_data(model, data).errors]


# ------------------------------------------------------------------------------- error translation


@pytest.mark.parametrize("value", ["yes", 2, -1, 1.0, None, [1], {"a": 1}])
def test_a_flag_is_one_error_at_its_own_path(value: Any) -> None:
    error = bad_data(PoolBody, {**POOL, "provision": {"provision_on_off": value}})
    assert [item.path for item in error.errors] == ["/body/provision/provision_on_off"]
    message = error.errors[0].message
    assert "constrained" not in message and "function-after" not in message and message


def test_a_union_reports_the_member_that_came_closest() -> None:
    # 2 is an integer, so "at most 1" says more than "not a boolean".
    error = bad_data(PoolBody, {**POOL, "provision": {"provision_on_off": 2}})
    assert error.errors[0].message == "Input should be less than or equal to 1"
    error = bad_data(PoolBody, {**POOL, "provision": {"provision_on_off": "yes"}})
    assert error.errors[0].message == "Input should be a valid integer or a valid boolean"


def test_union_members_of_a_nested_field_are_merged() -> None:
    center = {**PROVISION_CENTER, "assign_floating_ip": [1], "new_volume_size": -5}
    error = bad_data(PoolBody, {**POOL, "provision": {"provision_on_off": 0, "center": center}})
    assert sorted(item.path for item in error.errors) == [
        "/body/provision/center/assign_floating_ip",
        "/body/provision/center/new_volume_size",
    ]


def test_missing_unknown_and_wrong_fields_are_named_each() -> None:
    body = {"center_definition": {"name": "", "vc_url": "http://k/v2.0"}, "colour": 1}
    error = bad_data(CenterCreate, body)
    found = {item.path: item.message for item in error.errors}
    assert found == {
        f"{AT}/name": "String should have at least 1 character",
        f"{AT}/vc_url": "Must be a Keystone v3 endpoint, ending in /v3",
        f"{AT}/vc_datacenter": "Field is required",
        f"{AT}/vc_name": "Field is required",
        f"{AT}/vc_password": "Field is required",
        "/body/colour": "Unknown field",
    }
    assert error.status == "BAD_DATA"
    assert error.message.startswith("Invalid input data: ")


@pytest.mark.parametrize("key", ["int", "str", "Foo-Bar", "literal['x']", "CamelCase", "a b", "x[0]"])
def test_an_unknown_key_is_named_even_when_it_looks_like_a_union_tag(key: str) -> None:
    assert paths(PolicyBody, {"name": "p", key: 1}) == [f"/body/{key}"]


def test_a_key_with_a_slash_or_tilde_is_escaped_as_a_json_pointer() -> None:
    assert paths(PolicyBody, {"name": "p", "a/b~c": 1}) == ["/body/a~1b~0c"]


def test_list_items_are_named_by_index() -> None:
    data = {**POOL, "pool_definition": {"restrict_by": "C", "server_ids": [1, "2", 0]}}
    assert paths(PoolBody, data) == [
        "/body/pool_definition/server_ids/1",
        "/body/pool_definition/server_ids/2",
    ]


def test_a_body_that_is_not_an_object() -> None:
    for value in ([], "x", 3, None):
        error = bad_data(PoolBody, value)
        assert [(i.path, i.message) for i in error.errors] == [("/body", "Input should be a JSON object")]


def test_query_errors_are_under_query() -> None:
    from chalicelib.schemas.centers import CenterGetQuery

    assert [item.path for item in bad_data(CenterGetQuery, {"short": "yes"}, "query").errors] == [
        "/query/short"
    ]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("int", True),
        ("bool", True),
        ("str", True),
        ("constrained-int", True),
        ("constrained-str", True),
        ("function-after[_as_int_flag(), union[constrained-int,bool]]", True),
        ("literal['a','b']", True),
        ("ProvisionCenter", True),
        ("provision_on_off", False),
        ("name", False),
        ("server_ids", False),
        (0, False),
        (3, False),
    ],
)
def test_is_union_tag(part: Any, expected: bool) -> None:
    assert _is_union_tag(part) is expected


# ---------------------------------------------------------------------------------------- models


def test_request_models_refuse_coercion() -> None:
    assert paths(CenterCreate, center(poll_interval="5")) == [f"{AT}/poll_interval"]
    assert paths(CenterCreate, center(poll_interval=5.0)) == [f"{AT}/poll_interval"]
    assert paths(PolicyBody, {"name": 5}) == ["/body/name"]
    assert paths(UserAdd, {"is_local": "1", "user_login": "u", "name": "U"}) == ["/body/is_local"]


def test_every_request_model_forbids_unknown_fields() -> None:
    for model in (
        CenterCreate,
        CenterDefinition,
        CenterUpdate,
        CenterDefinitionUpdate,
        PoolBody,
        PoolUpdate,
        PolicyBody,
        PolicyUpdate,
        PoolAssignmentBody,
        PoolAssignmentUpdate,
        UserAdd,
        SessionLogin,
    ):
        assert issubclass(model, StrictModel)
        assert model.model_config.get("extra") == "forbid", model


@pytest.mark.parametrize(("value", "stored"), [(0, 0), (1, 1), (True, 1), (False, 0)])
def test_flags_are_stored_as_0_or_1(value: Any, stored: int) -> None:
    assert PolicyBody.model_validate({"name": "p", "is_default": value}).is_default == stored


def test_keystone_urls() -> None:
    assert (
        CenterCreate.model_validate(center(vc_url=" https://k:5000/v3/ ")).center_definition.vc_url
        == "https://k:5000/v3"
    )
    for url in (
        "https://k:5000/v2.0",
        "https://k:5000",
        "ftp://k/v3",
        "k/v3",
        "https://user:pw@k/v3",
        "https:///v3",
    ):
        assert paths(CenterCreate, center(vc_url=url)) == [f"{AT}/vc_url"], url


def test_network_uuid() -> None:
    assert CenterCreate.model_validate(center(network_uuid="")).center_definition.network_uuid == ""
    uuid = "3f1c2a8e-9b7d-4e55-8a21-6c0d9e4f7b10"
    assert CenterCreate.model_validate(center(network_uuid=uuid)).center_definition.network_uuid == uuid
    assert paths(CenterCreate, center(network_uuid="net-1")) == [f"{AT}/network_uuid"]


def test_the_reference_center_definition() -> None:
    """The reference's names and bounds: vc_project_domain has 200 characters, the other vc_* 255."""
    definition = CenterCreate.model_validate(center(vc_domain="ldap", vc_project_domain="projects"))
    assert definition.center_definition.vc_project_domain == "projects"
    assert CenterCreate.model_validate(center()).center_definition.vc_project_domain is None  # the user's
    assert paths(CenterCreate, center(vc_project_domain="x" * 201)) == [f"{AT}/vc_project_domain"]
    longest = CenterCreate.model_validate(center(vc_project_domain="x" * 200))
    assert longest.center_definition.vc_project_domain == "x" * 200
    assert paths(CenterCreate, center(vc_datacenter="x" * 256)) == [f"{AT}/vc_datacenter"]
    assert paths(CenterCreate, center(name="x" * 101)) == [f"{AT}/name"]
    assert paths(CenterCreate, {**center(), "x": 1}) == ["/body/x"]
    assert paths(CenterCreate, {"center_definition": {**DEFINITION, "auth_url": "https://k/v3"}}) == [
        f"{AT}/auth_url"]


@pytest.mark.parametrize(("value", "size"), [("", None), (None, None), ("20", 20), (20, 20), (" 7 ", 7)])
def test_volume_size(value: Any, size: int | None) -> None:
    assert (
        ProvisionCenter.model_validate({**PROVISION_CENTER, "new_volume_size": value}).new_volume_size == size
    )


@pytest.mark.parametrize("value", ["0", "abc", "1.5", 0, 16385, "-3", -3])
def test_bad_volume_sizes(value: Any) -> None:
    assert paths(ProvisionCenter, {**PROVISION_CENTER, "new_volume_size": value}) == ["/body/new_volume_size"]


@pytest.mark.parametrize(
    ("value", "choice"), [(0, ""), ("", ""), ("0", ""), (1, "1"), ("1", "1"), ("public", "public")]
)
def test_floating_ip_choice(value: Any, choice: str) -> None:
    assert (
        ProvisionCenter.model_validate({**PROVISION_CENTER, "assign_floating_ip": value}).assign_floating_ip
        == choice
    )


def test_the_reference_never_rogue_flag_is_accepted() -> None:
    body = PoolBody.model_validate({**POOL, "pool_definition": {**POOL["pool_definition"], "never_rogue": 0}})
    assert body.pool_definition.never_rogue == 0


def test_policy_reference_values() -> None:
    assert PolicyBody.model_validate({"name": "p", "max_desktops": -1}).max_desktops == 0
    assert paths(PolicyBody, {"name": "p", "max_desktops": -2}) == ["/body/max_desktops"]
    assert PoolAssignmentBody.model_validate({"pool_id": 1, "display_mode": "0"}).display_mode == "name"
    assert (
        PoolAssignmentBody.model_validate({"pool_id": 1, "display_mode": "5"}).display_mode == "display_name"
    )
    assert paths(PoolAssignmentBody, {"pool_id": 1, "display_mode": "3"}) == ["/body/display_mode"]


# ----------------------------------------------------------------------------- updates and null


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (CenterUpdate, "center_definition"),
        (CenterUpdate, "active"),
        (CenterDefinitionUpdate, "name"),
        (CenterDefinitionUpdate, "notes"),
        (CenterDefinitionUpdate, "vc_password"),
        (CenterDefinitionUpdate, "vc_project_domain"),
        (CenterDefinitionUpdate, "poll_interval"),
        (PoolUpdate, "name"),
        (PoolUpdate, "pool_definition"),
        (PoolUpdate, "log"),
        (PolicyUpdate, "name"),
        (PolicyUpdate, "notes"),
        (PolicyUpdate, "max_desktops"),
        (PoolAssignmentUpdate, "offer_quantity"),
        (PoolAssignmentUpdate, "pool_id"),
    ],
)
def test_null_is_refused_in_updates(model: type[BaseModel], field: str) -> None:
    error = bad_data(model, {field: None})
    assert [item.path for item in error.errors] == [f"/body/{field}"]
    assert "null" in error.errors[0].message


def test_null_is_a_value_where_the_create_body_allows_it() -> None:
    assert PoolUpdate.model_validate({"provision": None}).model_dump(exclude_unset=True) == {
        "provision": None
    }
    assert PoolUpdate.model_validate({"provision": {"center": None}}).model_dump(exclude_unset=True) == {
        "provision": {"center": None}
    }
    assert CenterDefinitionUpdate.model_validate({"type": None}).type is None
    assert CenterUpdate.model_validate({"id": None}).id is None
    assert paths(PoolUpdate, {"provision": {"provision_max": None}}) == ["/body/provision/provision_max"]


def test_an_update_keeps_what_it_does_not_name() -> None:
    assert PoolUpdate.model_validate({"notes": "x"}).model_dump(exclude_unset=True) == {"notes": "x"}
    assert PoolUpdate.model_validate({"provision": {"provision_threshold": 3}}).model_dump(
        exclude_unset=True
    ) == {"provision": {"provision_threshold": 3}}
    assert CenterUpdate.model_validate({}).model_dump(exclude_unset=True) == {}


def test_the_documented_update_schemas_allow_null_only_where_it_is_accepted() -> None:
    schema = PolicyUpdate.model_json_schema()
    assert "anyOf" not in schema["properties"]["notes"] and schema["properties"]["notes"]["type"] == "string"
    pool = PoolUpdate.model_json_schema()
    assert {"type": "null"} in pool["properties"]["provision"]["anyOf"]
    assert {"type": "null"} not in pool["properties"]["name"].get("anyOf", [])
