"""Pure rules: dynamic names, pool definition and provisioning checks, roles, errors (no I/O)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import naming
from chalicelib.domain import pools as rules
from chalicelib.domain.entities.pools import PoolDefinition
from chalicelib.domain.errors import BadData, ErrorList, FieldError, NotUnique
from chalicelib.domain.roles import ROLE_NAMES, Role, parse_role

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ naming


@pytest.mark.parametrize(
    ("template", "sequence", "name"),
    [
        ("desk-{SEQUENCE}", 7, "desk-7"),
        ("desk-{SEQUENCE:3}", 7, "desk-007"),
        ("desk-{SEQUENCE:3}", 12345, "desk-12345"),
        ("{SEQUENCE:2}-{SEQUENCE}", 5, "05-5"),
        ("plain", 9, "plain"),
    ],
)
def test_render(template: str, sequence: int, name: str) -> None:
    assert naming.render(template, sequence) == name


def test_template_problems() -> None:
    assert naming.template_problems("desk-{SEQUENCE:4}") == []
    assert naming.template_problems("") == []
    assert len(naming.template_problems("desk-{USER}")) == 1
    assert len(naming.template_problems("{SEQUENCE:0}")) == 1
    assert len(naming.template_problems("{sequence}")) == 1
    assert naming.has_sequence("a{SEQUENCE}b") and not naming.has_sequence("a{SEQ}b")


# ---------------------------------------------------------------------------------- pool definition


def _errors(check: Any, *args: Any) -> list[tuple[str, str]]:
    errors = ErrorList()
    check(*args, errors)
    return [(e.path, e.message) for e in errors.errors]


def test_definition_problems() -> None:
    assert _errors(rules.definition_problems, {"restrict_by": "C", "server_ids": [1, 2]}) == []
    assert [p for p, _ in _errors(rules.definition_problems, {"restrict_by": "C", "server_ids": []})] == [
        "/body/pool_definition/server_ids"
    ]
    assert [p for p, _ in _errors(rules.definition_problems, {"restrict_by": "A", "attributes": []})] == [
        "/body/pool_definition/attributes"
    ]
    assert [
        p for p, _ in _errors(rules.definition_problems, {"restrict_by": "C", "server_ids": [4, 5, 4]})
    ] == ["/body/pool_definition/server_ids/2"]


def _provision(**overrides: Any) -> dict[str, Any]:
    provision = {
        "provision_on_off": 1,
        "provision_threshold": 1,
        "provision_max": 4,
        "provision_vm_name": "d-{SEQUENCE}",
        "provision_vm_display_name": "",
        "center": {"id": 1},
    }
    provision.update(overrides)
    return provision


def test_provisioning_problems() -> None:
    assert _errors(rules.provisioning_problems, None) == []
    assert _errors(rules.provisioning_problems, _provision()) == []
    assert _errors(rules.provisioning_problems, _provision(provision_threshold=5)) == [
        (
            "/body/provision/provision_max",
            "Maximum pool size must be greater than or equal to provisioning threshold",
        )
    ]
    paths = [
        p for p, _ in _errors(rules.provisioning_problems, _provision(center=None, provision_vm_name=""))
    ]
    assert paths == ["/body/provision/center", "/body/provision/provision_vm_name"]
    assert [p for p, _ in _errors(rules.provisioning_problems, _provision(provision_vm_name="desk"))] == [
        "/body/provision/provision_vm_name"
    ]
    # One desktop needs no sequence; provisioning off needs neither a center nor a name.
    assert _errors(rules.provisioning_problems, _provision(provision_vm_name="desk", provision_max=1)) == []
    assert (
        _errors(
            rules.provisioning_problems, _provision(provision_on_off=0, center=None, provision_vm_name="")
        )
        == []
    )
    assert [
        p for p, _ in _errors(rules.provisioning_problems, _provision(provision_vm_display_name="{X}"))
    ] == ["/body/provision/provision_vm_display_name"]


def test_the_last_provisioning_action_sets_availability() -> None:
    def actions(*names: str) -> dict[str, Any]:
        return _provision(
            center={"id": 1, "provisioning_actions": [{"prov_action_action": n} for n in names]}
        )

    assert _errors(rules.provisioning_problems, actions("start", "set_available")) == []
    assert _errors(rules.provisioning_problems, actions("set_unavailable")) == []
    assert [p for p, _ in _errors(rules.provisioning_problems, actions("set_available", "start"))] == [
        "/body/provision/center/provisioning_actions/1/prov_action_action"
    ]


def test_log_thresholds() -> None:
    assert _errors(rules.log_problems, None) == []
    assert _errors(rules.log_problems, {"log_error_threshold": 0, "log_warning_threshold": 0}) == []
    assert (
        _errors(
            rules.log_problems,
            {"log_error_threshold": 1, "log_warning_threshold": 2, "log_information_threshold": 3},
        )
        == []
    )
    found = [
        p
        for p, _ in _errors(
            rules.log_problems,
            {"log_error_threshold": 3, "log_warning_threshold": 2, "log_information_threshold": 1},
        )
    ]
    assert found == [
        "/body/log/log_error_threshold",
        "/body/log/log_error_threshold",
        "/body/log/log_warning_threshold",
    ]
    # 0 is "off": it orders against nothing.
    assert (
        _errors(
            rules.log_problems,
            {"log_error_threshold": 5, "log_warning_threshold": 0, "log_information_threshold": 0},
        )
        == []
    )


def test_merge_update() -> None:
    stored = {
        "name": "p",
        "notes": "n",
        "pool_definition": {"restrict_by": "C", "server_ids": [1]},
        "provision": {"provision_on_off": 1, "provision_max": 4, "center": {"id": 1, "image": "a"}},
    }
    merged = rules.merge_update(stored, {"notes": "m", "provision": {"provision_on_off": 0}})
    assert merged["notes"] == "m" and merged["pool_definition"] == stored["pool_definition"]
    assert merged["provision"] == {
        "provision_on_off": 0,
        "provision_max": 4,
        "center": {"id": 1, "image": "a"},
    }
    replaced = rules.merge_update(stored, {"provision": {"center": {"id": 2}}})
    assert replaced["provision"]["center"] == {"id": 2}  # the center is replaced as a whole
    assert rules.merge_update(stored, {"provision": None})["provision"] is None
    assert stored["provision"]["provision_on_off"] == 1, "the stored document must not be modified"


@pytest.mark.parametrize(
    ("pool", "parent", "parents", "cycle"),
    [
        (1, 0, {}, False),
        (1, 2, {2: 0}, False),
        (1, 1, {}, True),
        (1, 2, {2: 1}, True),
        (1, 2, {2: 3, 3: 1}, True),
        (1, 2, {2: 3, 3: 4}, False),
        (5, 2, {2: 3, 3: 2}, True),  # a loop already stored does not hang the check
    ],
)
def test_parent_cycles(pool: int, parent: int, parents: dict[int, int], cycle: bool) -> None:
    assert rules.parent_chain_has_cycle(pool, parent, parents) is cycle


# ------------------------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("Administrator", Role.ADMINISTRATOR),
        (" administrator ", Role.ADMINISTRATOR),
        ("READ-ONLY ADMINISTRATOR", Role.READ_ONLY_ADMINISTRATOR),
        ("user", Role.USER),
        ("Admin", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_role(name: str | None, role: Role | None) -> None:
    assert parse_role(name) is role


def test_what_each_role_may_do() -> None:
    assert (Role.ADMINISTRATOR.api_access, Role.ADMINISTRATOR.may_write) == (True, True)
    assert (Role.READ_ONLY_ADMINISTRATOR.api_access, Role.READ_ONLY_ADMINISTRATOR.may_write) == (True, False)
    assert (Role.USER.api_access, Role.USER.may_write) == (False, False)
    assert ROLE_NAMES == ("Administrator", "Read-only Administrator", "User")


# ------------------------------------------------------------------------------------------ errors


def test_not_unique_names_the_body_field() -> None:
    error = NotUnique("taken", "name")
    assert error.errors == [FieldError("/body/name", "taken")] and error.field == "name"
    error = NotUnique("taken", "/body/user_login")
    assert error.errors == [FieldError("/body/user_login", "taken")] and error.field == "user_login"
    assert error.status == "NOT_UNIQUE"
    error = NotUnique("taken")  # most callers name no field: it is the resource's name
    assert error.errors == [FieldError("/body/name", "taken")] and error.field == "name"


def test_error_list_reports_everything_at_once() -> None:
    errors = ErrorList()
    errors.raise_if_any()
    errors.add("/body/a", "bad")
    errors.add("/body/b", "worse")
    with pytest.raises(BadData) as caught:
        errors.raise_if_any("Cannot save")
    assert caught.value.message == "Cannot save"
    assert [e.path for e in caught.value.errors] == ["/body/a", "/body/b"]
    assert BadData.field("/body/x", "no").errors == [FieldError("/body/x", "no")]


def test_the_api_error_body() -> None:
    from chalicelib.api.framework import error_body, error_response

    assert error_body(NotUnique("A pool named 'p' already exists", "name")) == {
        "error_status": "NOT_UNIQUE",
        "error_message": "A pool named 'p' already exists",
        "errors": [{"path": "/body/name", "message": "A pool named 'p' already exists"}],
        "items": ["name"],
    }
    response = error_response(BadData.field("/body/x", "no"))
    assert response.status_code == 400
    assert json.loads(response.body) == {
        "error_status": "BAD_DATA",
        "error_message": "/body/x: no",
        "errors": [{"path": "/body/x", "message": "no"}],
    }


# ------------------------------------------------------------------------------- layering of domain

FORBIDDEN = ("boto3", "botocore", "pynamodb", "chalice", "openstack", "ldap3")


@pytest.mark.parametrize(
    "module", sorted(p.stem for p in (ROOT / "chalicelib" / "domain").glob("*.py") if p.stem != "__init__")
)
def test_domain_modules_import_no_io_library(module: str) -> None:
    code = (
        f"import sys; import chalicelib.domain.{module}; "
        f"print([m for m in {FORBIDDEN!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"chalicelib.domain.{module} pulls in {result.stdout.strip()}"


def test_queue_messages_carry_their_fields_by_name() -> None:
    from chalicelib.domain import messages

    assert messages.pool_check(1, 2, "saved") == {"type": "pool.check", "tenant_id": 1, "pool_id": 2,
                                                  "reason": "saved"}
    assert messages.center_check(1, 3, "saved") == {"type": "center.check", "tenant_id": 1, "center_id": 3,
                                                    "reason": "saved"}
    assert messages.center_scan(1, 3, "timer") == {"type": "center.scan", "tenant_id": 1, "center_id": 3,
                                                   "reason": "timer"}


def test_center_type_labels_and_retry_hints() -> None:
    from chalicelib.domain import kinds
    from chalicelib.domain.errors import LoginBusy, ServiceUnavailable, TooManyAttempts

    assert kinds.center_type_label("uncategorized") == "Uncategorized Desktops"
    assert kinds.center_type_label("virtuozzo") == "Virtuozzo Hybrid Infrastructure"
    assert kinds.center_type_label("openstack") == "OpenStack"
    locked = TooManyAttempts("wait", 30)
    assert (locked.message, locked.retry_after, locked.status) == ("wait", 30, "TOO_MANY_ATTEMPTS")
    assert LoginBusy("busy", 1).retry_after == 1
    down = ServiceUnavailable("down", 30)
    assert (down.message, down.retry_after, ServiceUnavailable("down").retry_after) == ("down", 30, None)


# ------------------------------------------------------------------------ pool membership, inventory


def _pool(restrict_by: str, **definition: Any) -> PoolDefinition:
    return PoolDefinition(restrict_by=restrict_by, **definition)


def test_a_desktop_belongs_to_the_lowest_pool_that_matches_it() -> None:
    by_name = _pool("A", attributes=[{"vm_table_field": "name", "condition_type": "bw",
                                      "text_to_match": "win-"}])
    by_display = _pool("A", attributes=[{"vm_table_field": "display_name", "condition_type": "eq",
                                         "text_to_match": "Front Desk"}])
    by_ip = _pool("A", attributes=[
        {"vm_table_field": "ip", "condition_type": "eq", "text_to_match": "10.0.0.9"},
        {"vm_table_field": "name", "condition_type": "eq", "text_to_match": "nope"}], pool_attribute_join="O")
    pools = [(9, by_name), (4, _pool("C", server_ids=[2, 3])), (7, by_display), (8, by_ip),
             (1, PoolDefinition())]

    def pool(center: int, name: str, display: str = "", addresses: tuple[str, ...] = ()) -> int | None:
        return rules.pool_for_desktop(pools, center, name, display, list(addresses))

    assert pool(3, "win-1") == 4  # both 4 (its center) and 9 (its name) match: the lower id
    assert pool(5, "win-1") == 9
    assert pool(5, "x", "front desk") == 7
    assert pool(5, "x", "", ("10.0.0.1", "10.0.0.9")) == 8  # any of its addresses; any rule (O)
    assert pool(5, "x", "", ("10.0.0.1",)) is None
    assert pool(5, "x", "Front Desk", ("10.0.0.9",)) == 7
    assert rules.pool_for_desktop([(2, _pool("A", attributes=[]))], 1, "a", "", []) is None
    assert rules.pool_for_desktop([(2, _pool("C"))], 1, "a", "", []) is None


INVENTORY = {"inventory_updated": "2026-12-06T10:00:00Z",
             "images": [{"id": "img-1", "name": "ubuntu"}], "flavors": [{"id": "fl-1", "name": "m1.small"}],
             "networks": [{"id": "net-1", "name": "private"}], "availability_zones": ["nova"],
             "security_groups": [{"id": "sg-1", "name": "default"}],
             "volume_types": [{"id": "vt-1", "name": "ssd"}]}


def _inventory_errors(settings: dict[str, Any], inventory: dict[str, Any] | None = INVENTORY
                      ) -> list[tuple[str, str]]:
    errors = ErrorList()
    rules.inventory_problems(settings, inventory, errors)
    return [(e.path, e.message) for e in errors.errors]


def test_the_center_must_offer_what_the_pool_asks_for_by_id_or_name() -> None:
    good = {"image": "ubuntu", "flavor": "fl-1", "network": "private", "availability_zone": "nova",
            "security_groups": ["default", "sg-1"], "new_volume_type": "vt-1"}
    assert _inventory_errors(good) == []
    assert _inventory_errors({**good, "image": "img-1", "flavor": "m1.small", "new_volume_type": "ssd"}) == []
    assert _inventory_errors({}) == []
    bad = {"image": "centos", "flavor": "m1.huge", "network": "public", "availability_zone": "az-9",
           "security_groups": ["default", "open"], "new_volume_type": "gold"}
    assert _inventory_errors(bad) == [
        ("/body/provision/center/image", "The center has no image 'centos'"),
        ("/body/provision/center/flavor", "The center has no flavor 'm1.huge'"),
        ("/body/provision/center/network", "The center has no network 'public'"),
        ("/body/provision/center/availability_zone", "The center has no availability zone 'az-9'"),
        ("/body/provision/center/security_groups/1", "The center has no security group 'open'"),
        ("/body/provision/center/new_volume_type", "The center has no volume type 'gold'"),
    ]
    # Before the center's first check there is nothing to check against.
    assert _inventory_errors(bad, None) == []
    assert _inventory_errors(bad, {**INVENTORY, "inventory_updated": None}) == []
    assert len(_inventory_errors(bad, {"inventory_updated": "2026-12-06T10:00:00Z"})) == 7  # all unknown


# ---------------------------------------------------------------------- provisioning, each message


def test_each_provisioning_problem_names_its_field_and_says_what_to_do() -> None:
    assert _errors(rules.provisioning_problems, _provision(center=None, provision_vm_name="")) == [
        ("/body/provision/center", "Provisioning is on: choose the center to provision in"),
        ("/body/provision/provision_vm_name", "Provisioning is on: give the name of new desktops")]
    assert _errors(rules.provisioning_problems, _provision(provision_vm_name="desk", provision_max=2)) == [
        ("/body/provision/provision_vm_name",
         "Use the {SEQUENCE} tag so that the desktops of this pool get distinct names")]
    assert _errors(rules.provisioning_problems, _provision(provision_vm_name="d-{X}-{SEQUENCE}")) == [
        ("/body/provision/provision_vm_name",
         "unknown tag {X}: use {SEQUENCE} or {SEQUENCE:n} with n from 1 to 9")]
    assert _errors(rules.provisioning_problems, _provision(provision_forecast_auto=True)) == [
        ("/body/provision/provision_forecast_max_cap",
         "The automatic forecast needs a cap: the highest maximum it may set (1 or more)")]
    assert _errors(rules.provisioning_problems,
                   _provision(provision_forecast_auto=True, provision_forecast_max_cap=9)) == []
    assert _errors(rules.provisioning_problems, _provision(provision_time_zone="Mars/Olympus")) == [
        ("/body/provision/provision_time_zone", "Unknown time zone 'Mars/Olympus'")]
    assert _errors(rules.provisioning_problems, _provision(provision_time_zone="Europe/Berlin")) == []
    limits = [{"provision_time_day": 0, "provision_time_start": "8h", "provision_time_stop": "10:00"}]
    assert [p for p, _ in _errors(rules.provisioning_problems, _provision(time_limits=limits))] == [
        "/body/provision/time_limits/0/provision_time_start"]
    last = _provision(center={"id": 1, "provisioning_actions": [{"prov_action_action": "start"}]})
    assert _errors(rules.provisioning_problems, last) == [
        ("/body/provision/center/provisioning_actions/0/prov_action_action",
         "The last provisioning action must be set_available or set_unavailable")]


def test_each_definition_and_log_problem_says_what_is_wrong() -> None:
    assert _errors(rules.definition_problems, {"restrict_by": "C", "server_ids": [4, 4]}) == [
        ("/body/pool_definition/server_ids/1", "Center 4 is listed twice")]
    assert _errors(rules.definition_problems, {"restrict_by": "C"}) == [
        ("/body/pool_definition/server_ids", "restrict_by 'C' needs at least one center id in server_ids")]
    assert _errors(rules.definition_problems, {"restrict_by": "A"}) == [
        ("/body/pool_definition/attributes", "restrict_by 'A' needs at least one rule in attributes")]
    rule = {"vm_table_field": "name", "condition_type": "ct", "text_to_match": "d"}
    assert _errors(rules.definition_problems, {"restrict_by": "A", "attributes": [rule]}) == []
    # equal thresholds are not ordered either
    assert _errors(rules.log_problems, {"log_error_threshold": 2, "log_warning_threshold": 2,
                                        "log_information_threshold": 2}) == [
        ("/body/log/log_error_threshold", "Error threshold must be less than warning threshold"),
        ("/body/log/log_error_threshold", "Error threshold must be less than information threshold"),
        ("/body/log/log_warning_threshold", "Warning threshold must be less than information threshold")]
    assert _errors(rules.log_problems, {"log_warning_threshold": 1, "log_information_threshold": 2}) == []


def test_attribute_rules_without_a_join_must_all_match() -> None:
    both = _pool("A", attributes=[{"vm_table_field": "name", "condition_type": "bw", "text_to_match": "win-"},
                                  {"vm_table_field": "name", "condition_type": "ew", "text_to_match": "-7"}])
    assert rules.pool_for_desktop([(1, both)], 1, "win-7", "", []) == 1
    assert rules.pool_for_desktop([(1, both)], 1, "win-8", "", []) is None


def test_desktop_messages_carry_their_fields_and_the_holder_and_request_only_when_given() -> None:
    from chalicelib.domain import messages

    assert messages.desktop_follow(1, 5) == {"type": "desktop.follow", "tenant_id": 1, "desktop_id": 5,
                                             "attempt": 0, "step": 0}
    later = messages.desktop_follow(1, 5, attempt=2, step=1)
    assert (later["attempt"], later["step"]) == (2, 1)
    assert messages.desktop_follow(1, 5, step=1, wait_left=60)["wait_left"] == 60
    holder = {"user_id": 9, "claimed": 100}
    assert messages.desktop_power(1, 5, "start", "login", holder=holder, request="r-1") == {
        "type": "desktop.power", "tenant_id": 1, "desktop_id": 5, "action": "start", "reason": "login",
        "holder": holder, "request": "r-1"}
    assert messages.desktop_power(1, 5, "stop") == {"type": "desktop.power", "tenant_id": 1, "desktop_id": 5,
                                                    "action": "stop", "reason": ""}
    assert messages.desktop_delete(1, 5, "too many", holder=holder, request="r-2") == {
        "type": "desktop.delete", "tenant_id": 1, "desktop_id": 5, "reason": "too many", "holder": holder,
        "request": "r-2"}
    assert messages.desktop_delete(1, 5) == {"type": "desktop.delete", "tenant_id": 1, "desktop_id": 5,
                                             "reason": ""}


def test_error_texts() -> None:
    from chalicelib.domain.errors import NotFound

    assert str(NotFound("No pool 7")) == "No pool 7"
    assert naming.template_problems("{SEQUENCE:0}") == ["{SEQUENCE:0} pads to no digits: use 1 to 9"]
    errors = ErrorList()
    errors.add("/body/name", "Give a name")
    with pytest.raises(BadData) as raised:
        errors.raise_if_any()
    assert raised.value.message == "Invalid data"
    assert raised.value.errors == [FieldError("/body/name", "Give a name")]


def test_a_wait_longer_than_one_message_s_delay_is_a_chain_of_delays() -> None:
    from chalicelib.domain import messages

    assert messages.waiting_follow(1, 5, 2, 120) == (messages.desktop_follow(1, 5, 0, 2), 120)
    assert messages.waiting_follow(1, 5, 2, 900) == (messages.desktop_follow(1, 5, 0, 2), 900)
    first, delay = messages.waiting_follow(1, 5, 2, 2 * 3600)
    assert (first["step"], first["attempt"], first["wait_left"], delay) == (2, 0, 2 * 3600 - 900, 900)
