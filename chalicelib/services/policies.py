"""Policies and their pool assignments. Assignments live inside the policy record, so a login reads a
policy with everything it offers in one request; their ids come from their own counter."""

from __future__ import annotations

from typing import Any

from chalicelib.clock import utc_iso
from chalicelib.domain.caller import Caller
from chalicelib.domain.errors import BadData, ErrorList, NotFound
from chalicelib.schemas.policies import PolicyBody, PolicyUpdate, PoolAssignmentBody, PoolAssignmentUpdate
from chalicelib.services import audit
from chalicelib.store import stores
from chalicelib.store.models import PolicyRecord
from chalicelib.store.repos import next_id


def create_policy(caller: Caller, body: PolicyBody) -> PolicyRecord:
    doc = body.model_dump(exclude={"name"})
    doc["pool_assignments"] = []
    record = stores.policies.create(caller.tenant_id, body.name, doc)
    if body.is_default:
        _clear_other_defaults(caller.tenant_id, int(record.id))
    audit.record(caller.tenant_id, "policy.created", f"Policy '{record.name}' created", user=caller.login)
    return record


def update_policy(caller: Caller, policy_id: int, body: PolicyUpdate) -> PolicyRecord:
    record = stores.policies.get(caller.tenant_id, policy_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id", "name"})
    record = stores.policies.update(record, body.name or record.name, {**record.doc, **changes})
    if changes.get("is_default"):
        _clear_other_defaults(caller.tenant_id, policy_id)
    audit.record(caller.tenant_id, "policy.updated", f"Policy '{record.name}' updated", user=caller.login)
    return record


def delete_policy(caller: Caller, policy_id: int) -> None:
    record = stores.policies.get(caller.tenant_id, policy_id)
    stores.policies.delete(record)
    audit.record(caller.tenant_id, "policy.deleted", f"Policy '{record.name}' deleted", user=caller.login)


def _clear_other_defaults(tenant_id: int, keep_id: int) -> None:
    """One default policy per tenant: the newest one saved as default wins."""
    for other in stores.policies.iterate(tenant_id):
        if int(other.id) != keep_id and other.doc.get("is_default"):
            other.doc = {**other.doc, "is_default": 0}
            stores.policies.save_doc(other)


def _check_assignment_refs(caller: Caller, assignment: dict[str, Any]) -> None:
    errors = ErrorList()
    pool_ids = [assignment["pool_id"]] + (
        [assignment["backup_pool_id"]] if assignment["backup_pool_id"] else []
    )
    found = stores.pools.batch_get(caller.tenant_id, pool_ids)
    if assignment["pool_id"] not in found:
        errors.add("/body/pool_id", f"Pool {assignment['pool_id']} does not exist")
    if assignment["backup_pool_id"]:
        if assignment["backup_pool_id"] not in found:
            errors.add("/body/backup_pool_id", f"Pool {assignment['backup_pool_id']} does not exist")
        elif assignment["backup_pool_id"] == assignment["pool_id"]:
            errors.add("/body/backup_pool_id", "The backup pool must differ from the pool")
    plan_fields = {
        "plan_protocol_id": "protocol",
        "plan_power_control_id": "power_control",
        "plan_release_id": "release",
    }
    plan_ids = [assignment[f] for f in plan_fields if assignment.get(f)]
    plans = stores.plans.batch_get(caller.tenant_id, plan_ids)
    for field, kind in plan_fields.items():
        plan_id = assignment.get(field)
        if plan_id and (plan_id not in plans or plans[plan_id].kind != kind):
            errors.add(f"/body/{field}", f"No {kind.replace('_', '-')} plan with id {plan_id}")
    errors.raise_if_any("Pool assignment cannot be saved, some input data is not valid.")


def _find_assignment(record: PolicyRecord, assignment_id: int) -> dict[str, Any]:
    for assignment in record.doc.get("pool_assignments", []):
        if assignment["id"] == assignment_id:
            return assignment
    raise NotFound(f"Pool assignment {assignment_id} not found in policy {record.id}")


def add_assignment(caller: Caller, policy_id: int, body: PoolAssignmentBody) -> tuple[PolicyRecord, dict]:
    record = stores.policies.get(caller.tenant_id, policy_id)
    if body.policy_id is not None and body.policy_id != policy_id:
        raise BadData.field("/body/policy_id", "does not match the policy in the path")
    assignment = body.model_dump(exclude={"policy_id"})
    _check_assignment_refs(caller, assignment)
    if any(a["pool_id"] == assignment["pool_id"] for a in record.doc.get("pool_assignments", [])):
        raise BadData.field(
            "/body/pool_id", f"Pool {assignment['pool_id']} is already assigned in this policy"
        )
    now = utc_iso()
    assignment.update(id=next_id("pool_assignment"), created=now, updated=now)
    record.doc = {**record.doc, "pool_assignments": [*record.doc.get("pool_assignments", []), assignment]}
    stores.policies.save_doc(record)
    audit.record(
        caller.tenant_id,
        "policy.assignment_added",
        f"Pool {assignment['pool_id']} assigned in policy '{record.name}'",
        user=caller.login,
        pool_id=assignment["pool_id"],
    )
    return record, assignment


def update_assignment(
    caller: Caller, policy_id: int, assignment_id: int, body: PoolAssignmentUpdate
) -> tuple[PolicyRecord, dict]:
    record = stores.policies.get(caller.tenant_id, policy_id)
    current = _find_assignment(record, assignment_id)
    if body.policy_id is not None and body.policy_id != policy_id:
        raise BadData.field("/body/policy_id", "does not match the policy in the path")
    changed = {**current, **body.model_dump(exclude_unset=True, exclude={"id", "policy_id"})}
    _check_assignment_refs(caller, changed)
    if any(
        a["pool_id"] == changed["pool_id"] and a["id"] != assignment_id
        for a in record.doc.get("pool_assignments", [])
    ):
        raise BadData.field("/body/pool_id", f"Pool {changed['pool_id']} is already assigned in this policy")
    changed["updated"] = utc_iso()
    record.doc = {
        **record.doc,
        "pool_assignments": [
            changed if a["id"] == assignment_id else a for a in record.doc.get("pool_assignments", [])
        ],
    }
    stores.policies.save_doc(record)
    return record, changed


def delete_assignment(caller: Caller, policy_id: int, assignment_id: int) -> None:
    record = stores.policies.get(caller.tenant_id, policy_id)
    _find_assignment(record, assignment_id)
    record.doc = {
        **record.doc,
        "pool_assignments": [a for a in record.doc.get("pool_assignments", []) if a["id"] != assignment_id],
    }
    stores.policies.save_doc(record)


def get_assignment(caller: Caller, policy_id: int, assignment_id: int) -> tuple[PolicyRecord, dict]:
    record = stores.policies.get(caller.tenant_id, policy_id)
    return record, _find_assignment(record, assignment_id)


def list_policies(caller: Caller) -> list[PolicyRecord]:
    return stores.policies.list(caller.tenant_id)


def get_policy(caller: Caller, policy_id: int) -> PolicyRecord:
    return stores.policies.get(caller.tenant_id, policy_id)


def pool_names(caller: Caller, pool_ids: list[int]) -> dict[int, str]:
    return {
        pool_id: record.name for pool_id, record in stores.pools.batch_get(caller.tenant_id, pool_ids).items()
    }
