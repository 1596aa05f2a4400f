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
