"""Plans: protocol, release and power-control plans share one table and one set of use cases; `kind`
says which. How each kind's settings are checked is one table beside the kinds (`VALIDATORS`), so a plan
is checked whatever module was imported first, and a plan that a pool assignment uses cannot be deleted.
Names are unique per tenant across all kinds.

Protocol plans are read at every login; they are cached in-process (chalicelib/services/client_cache.py)
and the cache entry is dropped when a plan is changed through this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain import connection
from chalicelib.domain import lifecycle as lifecycle_rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.connection import ProtocolPlan
from chalicelib.domain.errors import Conflict, ErrorList, NotFound
from chalicelib.domain.kinds import KIND_POWER_CONTROL, KIND_PROTOCOL, KIND_RELEASE
from chalicelib.services import audit, gateways
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores
from chalicelib.store.models import PlanRecord

LABELS = {KIND_PROTOCOL: "Protocol plan", KIND_RELEASE: "Release plan",
          KIND_POWER_CONTROL: "Power control plan"}
ASSIGNMENT_FIELDS = {KIND_PROTOCOL: "plan_protocol_id", KIND_RELEASE: "plan_release_id",
                     KIND_POWER_CONTROL: "plan_power_control_id"}

_protocol_cache: TtlCache[ProtocolPlan] = TtlCache("protocol-plans")


def _validate_protocol(tenant_id: int, doc: dict[str, Any], errors: ErrorList) -> None:
    for key, message in connection.option_problems(doc["protocol"], doc.get("options") or {}):
        errors.add(f"/body/options/{key.replace('~', '~0').replace('/', '~1')}", message)
    gateways.plan_problems(tenant_id, doc, errors)


def _validate_release(_tenant_id: int, doc: dict[str, Any], errors: ErrorList) -> None:
    lifecycle_rules.delay_problems(doc, lifecycle_rules.RELEASE_DELAYED_SECTIONS, errors)


def _validate_power(_tenant_id: int, doc: dict[str, Any], errors: ErrorList) -> None:
    lifecycle_rules.delay_problems(doc, lifecycle_rules.POWER_DELAYED_SECTIONS, errors)


# kind -> function(tenant_id, doc, errors) adding field errors for settings of that kind
VALIDATORS: dict[str, Callable[[int, dict[str, Any], ErrorList], None]] = {
    KIND_PROTOCOL: _validate_protocol,
    KIND_RELEASE: _validate_release,
    KIND_POWER_CONTROL: _validate_power,
}


def _label(kind: str) -> str:
    return LABELS.get(kind, "Plan")


def _check(tenant_id: int, kind: str, doc: dict[str, Any]) -> None:
    errors = ErrorList()
    VALIDATORS[kind](tenant_id, doc, errors)
    errors.raise_if_any(f"{_label(kind)} cannot be saved, some input data is not valid.")


def list_plans(caller: Caller, kind: str) -> list[PlanRecord]:
    return [r for r in stores.plans.iterate(caller.tenant_id) if r.kind == kind]


def get_plan(caller: Caller, kind: str, plan_id: int) -> PlanRecord:
    record = stores.plans.find(caller.tenant_id, plan_id)
    if record is None or record.kind != kind:
        raise NotFound(f"{_label(kind)} {plan_id} not found")
    return record


def create_plan(caller: Caller, kind: str, name: str, doc: dict[str, Any]) -> PlanRecord:
    _check(caller.tenant_id, kind, doc)
    record = stores.plans.create(caller.tenant_id, name, doc, kind=kind)
    audit.record(caller.tenant_id, f"plan.{kind}.created", f"{_label(kind)} '{name}' created",
                 user=caller.login, details={"plan_id": int(record.id)})
    return record


def update_plan(caller: Caller, kind: str, plan_id: int, name: str | None, changes: dict[str, Any],
                complete: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> PlanRecord:
    """Apply `changes` to the stored settings; `complete` may fill in what follows from them (ports)."""
    record = get_plan(caller, kind, plan_id)
    doc = {**record.doc, **changes}
    if complete is not None:
        doc = complete(doc)
    _check(caller.tenant_id, kind, doc)
    record = stores.plans.update(record, name or record.name, doc)
    _forget(caller.tenant_id, plan_id)
    audit.record(caller.tenant_id, f"plan.{kind}.updated", f"{_label(kind)} '{record.name}' updated",
                 user=caller.login, details={"plan_id": plan_id, "fields": sorted(changes)})
    return record


def _with_port(doc: dict[str, Any]) -> dict[str, Any]:
    """A protocol plan without a port uses its protocol's usual one."""
    return {**doc, "port": doc.get("port") or connection.default_port(doc["protocol"], doc.get("options"))}


def create_protocol_plan(caller: Caller, name: str, doc: dict[str, Any]) -> PlanRecord:
    return create_plan(caller, KIND_PROTOCOL, name, _with_port(doc))


def update_protocol_plan(caller: Caller, plan_id: int, name: str | None,
                         changes: dict[str, Any]) -> PlanRecord:
    if "protocol" in changes and "port" not in changes:
        changes = {**changes, "port": None}  # a new protocol without a port takes that protocol's usual port
    return update_plan(caller, KIND_PROTOCOL, plan_id, name, changes, complete=_with_port)


def delete_plan(caller: Caller, kind: str, plan_id: int) -> None:
    record = get_plan(caller, kind, plan_id)
    field = ASSIGNMENT_FIELDS.get(kind)
    users = sorted({p.id for p in stores.policies.iterate(caller.tenant_id)
                    for a in p.pool_assignments if field and getattr(a, field) == plan_id})
    if users:
        raise Conflict(f"{_label(kind)} {plan_id} is used by policy(ies) {', '.join(map(str, users))}")
    stores.plans.delete(record)
    _forget(caller.tenant_id, plan_id)
    audit.record(caller.tenant_id, f"plan.{kind}.deleted", f"{_label(kind)} '{record.name}' deleted",
                 user=caller.login, details={"plan_id": plan_id})


def _forget(tenant_id: int, plan_id: int) -> None:
    _protocol_cache.drop((tenant_id, plan_id))


def protocol_plan(tenant_id: int, plan_id: int) -> ProtocolPlan:
    """The protocol plan a pool assignment names (cached), or RDP on 3389 when it names none."""
    if not plan_id:
        return connection.DEFAULT_PLAN

    def load() -> ProtocolPlan | None:
        record = stores.plans.find(tenant_id, plan_id)
        if record is None or record.kind != KIND_PROTOCOL:
            return None
        return ProtocolPlan.from_doc(int(record.id), record.name, record.doc)

    return _protocol_cache.get((tenant_id, plan_id), load) or connection.DEFAULT_PLAN
