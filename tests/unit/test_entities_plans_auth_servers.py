"""Plans and authentication servers as typed entities: each stored plan read as the entity of its kind,
and the defaults the readers used to re-apply to a stored document applied once, when it is read."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities.auth_servers import AuthServer
from chalicelib.domain.entities.plans import (
    PlanEntity,
    PowerControlPlanEntity,
    ProtocolPlanEntity,
    ReleasePlanEntity,
)

RECORD = {"tenant_id": 3, "id": 7, "name": "Default"}


def test_a_plan_is_read_as_the_entity_of_its_kind() -> None:
    assert type(PlanEntity.from_stored({}, kind="protocol", **RECORD)) is ProtocolPlanEntity
    assert type(PlanEntity.from_stored({}, kind="release", **RECORD)) is ReleasePlanEntity
    assert type(PlanEntity.from_stored({}, kind="power_control", **RECORD)) is PowerControlPlanEntity
    unknown_kind = PlanEntity.from_stored({"notes": "n", "x": 1}, kind="later", **RECORD)
    assert type(unknown_kind) is PlanEntity and unknown_kind.stored_doc() == {"notes": "n", "x": 1}


def test_the_kind_is_an_attribute_of_the_record_not_a_key_of_its_document() -> None:
    plan = ReleasePlanEntity(tenant_id=3, name="r")
    assert plan.kind == "release" and "kind" not in plan.stored_doc()


def test_a_release_plan_stored_without_some_steps_reads_them_as_their_defaults() -> None:
    plan = PlanEntity.from_stored({"on_disconnect": {"action": "logout"}, "on_logout": {}, "notes": None},
                                  kind="release", **RECORD)
    assert isinstance(plan, ReleasePlanEntity)
    assert plan.steps() == {"on_disconnect": {"action": "logout", "after_minutes": 0},
                            "on_idle": {"action": "none", "after_minutes": 0},
                            "on_logout": {"action": "keep"},
                            "on_release": {"action": "none", "after_minutes": 0}}
    assert plan.notes == ""


def test_a_power_plan_reads_its_three_steps() -> None:
    plan = PowerControlPlanEntity(tenant_id=3, name="p", on_logout={"action": "stop", "after_minutes": 5})
    assert list(plan.steps()) == ["on_disconnect", "on_logout", "on_release"]
    assert plan.on_logout == {"action": "stop", "after_minutes": 5}
    assert plan.on_release == {"action": "none", "after_minutes": 0}


def test_a_protocol_plan_without_a_port_uses_its_protocols_usual_one() -> None:
    rdp = ProtocolPlanEntity(tenant_id=3, name="p", port=None)  # type: ignore[arg-type]
    assert (rdp.protocol, rdp.port, rdp.options, rdp.gateway_id) == ("rdp", 3389, {}, 0)
    assert replace(rdp, protocol="ssh", port=0).port == 22
    assert replace(rdp, protocol="ssh").port == 3389  # a port given stays
    html5 = ProtocolPlanEntity.from_stored({"protocol": "html5", "options": {"remote_protocol": "rdp"},
                                            "gateway_id": "4"}, kind="protocol", **RECORD)
    assert (html5.port, html5.gateway_id) == (3389, 4)


def test_an_auth_server_reads_the_directory_defaults_of_what_its_document_lacks() -> None:
    server = AuthServer.from_stored({"type": "ldap", "domain": "example.org", "group_membership": None,
                                     "connect_timeout_seconds": None, "notes": None}, **RECORD)
    assert server.is_directory and server.urls == [] and server.rules == []
    assert (server.group_membership, server.group_member_attribute) == ("memberOf", "member")
    assert (server.connect_timeout_seconds, server.receive_timeout_seconds) == (5.0, 10.0)
    assert (server.verify_tls, server.start_tls, server.allow_cleartext_password) == (1, 0, 0)
    assert server.login_attribute is None and server.notes == ""
    local = AuthServer.from_stored({"type": "local", "domain": "acme"}, **RECORD)
    assert not local.is_directory
