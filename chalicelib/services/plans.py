"""Plans: protocol, release and power-control plans share one table and one set of use cases; `kind`
says which. How each kind's settings are checked is one table beside the kinds (`VALIDATORS`), so a plan
is checked whatever module was imported first, and a plan that a pool assignment uses cannot be deleted.
Names are unique per tenant across all kinds.

Protocol plans are read at every login; they are cached in-process (chalicelib/services/client_cache.py)
and the cache entry is dropped when a plan is changed through this process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib.domain import connection
from chalicelib.domain import lifecycle as lifecycle_rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.connection import ProtocolPlan
from chalicelib.domain.entities.plans import (
    PLAN_CLASSES,
    PlanEntity,
    PowerControlPlanEntity,
    ProtocolPlanEntity,
    ReleasePlanEntity,
)
from chalicelib.domain.errors import Conflict, ErrorList, NotFound
from chalicelib.domain.kinds import KIND_POWER_CONTROL, KIND_PROTOCOL, KIND_RELEASE
from chalicelib.services import audit, gateways
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores

LABELS = {KIND_PROTOCOL: "Protocol plan", KIND_RELEASE: "Release plan",
          KIND_POWER_CONTROL: "Power control plan"}
ASSIGNMENT_FIELDS = {KIND_PROTOCOL: "plan_protocol_id", KIND_RELEASE: "plan_release_id",
                     KIND_POWER_CONTROL: "plan_power_control_id"}

_protocol_cache: TtlCache[ProtocolPlan] = TtlCache("protocol-plans")


def _validate_protocol(tenant_id: int, plan: PlanEntity, errors: ErrorList) -> None:
    assert isinstance(plan, ProtocolPlanEntity)
    for key, message in connection.option_problems(plan.protocol, plan.options):
        errors.add(f"/body/options/{key.replace('~', '~0').replace('/', '~1')}", message)
    gateways.plan_problems(tenant_id, plan, errors)


def _validate_release(_tenant_id: int, plan: PlanEntity, errors: ErrorList) -> None:
    assert isinstance(plan, ReleasePlanEntity)
    lifecycle_rules.delay_problems(plan.steps(), lifecycle_rules.RELEASE_DELAYED_SECTIONS, errors)


def _validate_power(_tenant_id: int, plan: PlanEntity, errors: ErrorList) -> None:
    assert isinstance(plan, PowerControlPlanEntity)
    lifecycle_rules.delay_problems(plan.steps(), lifecycle_rules.POWER_DELAYED_SECTIONS, errors)


# kind -> function(tenant_id, plan, errors) adding field errors for settings of that kind
VALIDATORS: dict[str, Callable[[int, PlanEntity, ErrorList], None]] = {
    KIND_PROTOCOL: _validate_protocol,
    KIND_RELEASE: _validate_release,
    KIND_POWER_CONTROL: _validate_power,
}


def _label(kind: str) -> str:
    return LABELS.get(kind, "Plan")


def _check(tenant_id: int, plan: PlanEntity) -> None:
    errors = ErrorList()
    VALIDATORS[plan.kind](tenant_id, plan, errors)
    errors.raise_if_any(f"{_label(plan.kind)} cannot be saved, some input data is not valid.")


def list_plans(caller: Caller, kind: str) -> list[PlanEntity]:
    return [plan for plan in stores.plans.iterate(caller.tenant_id) if plan.kind == kind]


def get_plan(caller: Caller, kind: str, plan_id: int) -> PlanEntity:
    plan = stores.plans.find(caller.tenant_id, plan_id)
    if plan is None or plan.kind != kind:
        raise NotFound(f"{_label(kind)} {plan_id} not found")
    return plan


def create_plan(caller: Caller, kind: str, name: str, settings: dict[str, Any]) -> PlanEntity:
    """A new plan of `kind` with `settings` (what a request gave; the entity completes the rest)."""
    plan = PLAN_CLASSES[kind](tenant_id=caller.tenant_id, name=name, **settings)
    _check(caller.tenant_id, plan)
    plan = stores.plans.create(plan)
    audit.record(caller.tenant_id, f"plan.{kind}.created", f"{_label(kind)} '{name}' created",
                 user=caller.login, details={"plan_id": plan.id})
    return plan


def update_plan(caller: Caller, kind: str, plan_id: int, name: str | None,
                changes: dict[str, Any]) -> PlanEntity:
    """Apply `changes` to the stored settings (the entity completes what follows from them)."""
    before = get_plan(caller, kind, plan_id)
    after = replace(before, name=name or before.name, **changes)
    _check(caller.tenant_id, after)
    plan = stores.plans.update(before, after)
    _forget(caller.tenant_id, plan_id)
    audit.record(caller.tenant_id, f"plan.{kind}.updated", f"{_label(kind)} '{plan.name}' updated",
                 user=caller.login, details={"plan_id": plan_id, "fields": sorted(changes)})
    return plan


def create_protocol_plan(caller: Caller, name: str, settings: dict[str, Any]) -> PlanEntity:
    return create_plan(caller, KIND_PROTOCOL, name, settings)


def update_protocol_plan(caller: Caller, plan_id: int, name: str | None,
                         changes: dict[str, Any]) -> PlanEntity:
    if "protocol" in changes and "port" not in changes:
        changes = {**changes, "port": None}  # a new protocol without a port takes that protocol's usual port
    return update_plan(caller, KIND_PROTOCOL, plan_id, name, changes)


def delete_plan(caller: Caller, kind: str, plan_id: int) -> None:
    plan = get_plan(caller, kind, plan_id)
    field = ASSIGNMENT_FIELDS.get(kind)
    users = sorted({p.id for p in stores.policies.iterate(caller.tenant_id)
                    for a in p.pool_assignments if field and getattr(a, field) == plan_id})
    if users:
        raise Conflict(f"{_label(kind)} {plan_id} is used by policy(ies) {', '.join(map(str, users))}")
    stores.plans.delete(plan)
    _forget(caller.tenant_id, plan_id)
    audit.record(caller.tenant_id, f"plan.{kind}.deleted", f"{_label(kind)} '{plan.name}' deleted",
                 user=caller.login, details={"plan_id": plan_id})


def _forget(tenant_id: int, plan_id: int) -> None:
    _protocol_cache.drop((tenant_id, plan_id))


def protocol_plan(tenant_id: int, plan_id: int) -> ProtocolPlan:
    """The protocol plan a pool assignment names (cached), or RDP on 3389 when it names none."""
    if not plan_id:
        return connection.DEFAULT_PLAN

    def load() -> ProtocolPlan | None:
        plan = stores.plans.find(tenant_id, plan_id)
        if not isinstance(plan, ProtocolPlanEntity):
            return None
        return ProtocolPlan.from_plan(plan)

    return _protocol_cache.get((tenant_id, plan_id), load) or connection.DEFAULT_PLAN
