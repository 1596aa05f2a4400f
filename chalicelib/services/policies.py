"""Policies and their pool assignments. Assignments live inside the policy record, so a login reads a
policy with everything it offers in one request; their ids come from their own counter."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.clock import utc_iso
from chalicelib.domain.caller import Caller
from chalicelib.domain.entities.policies import Policy, PoolAssignment
from chalicelib.domain.errors import BadData, ErrorList, NotFound
from chalicelib.schemas.policies import PolicyBody, PolicyUpdate, PoolAssignmentBody, PoolAssignmentUpdate
from chalicelib.services import audit
from chalicelib.store import stores
from chalicelib.store.repos import next_id


def create_policy(caller: Caller, body: PolicyBody) -> Policy:
    settings = body.model_dump(exclude={"name"})
    policy = stores.policies.create(Policy(tenant_id=caller.tenant_id, name=body.name, **settings))
    if body.is_default:
        _clear_other_defaults(caller.tenant_id, policy.id)
    audit.record(caller.tenant_id, "policy.created", f"Policy '{policy.name}' created", user=caller.login)
    return policy


def update_policy(caller: Caller, policy_id: int, body: PolicyUpdate) -> Policy:
    before = stores.policies.get(caller.tenant_id, policy_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id", "name"})
    policy = stores.policies.update(before, replace(before, name=body.name or before.name, **changes))
    if changes.get("is_default"):
        _clear_other_defaults(caller.tenant_id, policy_id)
    audit.record(caller.tenant_id, "policy.updated", f"Policy '{policy.name}' updated", user=caller.login)
    return policy


def delete_policy(caller: Caller, policy_id: int) -> None:
    policy = stores.policies.get(caller.tenant_id, policy_id)
    stores.policies.delete(policy)
    audit.record(caller.tenant_id, "policy.deleted", f"Policy '{policy.name}' deleted", user=caller.login)


def _clear_other_defaults(tenant_id: int, keep_id: int) -> None:
    """One default policy per tenant: the newest one saved as default wins."""
    for other in stores.policies.iterate(tenant_id):
        if other.id != keep_id and other.is_default:
            stores.policies.update(other, replace(other, is_default=0))


def _check_assignment_refs(caller: Caller, assignment: PoolAssignment) -> None:
    errors = ErrorList()
    pool_ids = [assignment.pool_id] + ([assignment.backup_pool_id] if assignment.backup_pool_id else [])
    found = stores.pools.batch_get(caller.tenant_id, pool_ids)
    if assignment.pool_id not in found:
        errors.add("/body/pool_id", f"Pool {assignment.pool_id} does not exist")
    if assignment.backup_pool_id:
        if assignment.backup_pool_id not in found:
            errors.add("/body/backup_pool_id", f"Pool {assignment.backup_pool_id} does not exist")
        elif assignment.backup_pool_id == assignment.pool_id:
            errors.add("/body/backup_pool_id", "The backup pool must differ from the pool")
    plan_fields = {
        "plan_protocol_id": "protocol",
        "plan_power_control_id": "power_control",
        "plan_release_id": "release",
    }
    plan_ids = [getattr(assignment, f) for f in plan_fields if getattr(assignment, f)]
    plans = stores.plans.batch_get(caller.tenant_id, plan_ids)
    for field, kind in plan_fields.items():
        plan_id = getattr(assignment, field)
        if plan_id and (plan_id not in plans or plans[plan_id].kind != kind):
            errors.add(f"/body/{field}", f"No {kind.replace('_', '-')} plan with id {plan_id}")
    errors.raise_if_any("Pool assignment cannot be saved, some input data is not valid.")


def _find_assignment(policy: Policy, assignment_id: int) -> PoolAssignment:
    assignment = policy.assignment(assignment_id)
    if assignment is None:
        raise NotFound(f"Pool assignment {assignment_id} not found in policy {policy.id}")
    return assignment


def add_assignment(caller: Caller, policy_id: int, body: PoolAssignmentBody) -> tuple[Policy, PoolAssignment]:
    before = stores.policies.get(caller.tenant_id, policy_id)
    if body.policy_id is not None and body.policy_id != policy_id:
        raise BadData.field("/body/policy_id", "does not match the policy in the path")
    draft = PoolAssignment(**body.model_dump(exclude={"policy_id"}))
    _check_assignment_refs(caller, draft)
    if any(a.pool_id == draft.pool_id for a in before.pool_assignments):
        raise BadData.field("/body/pool_id", f"Pool {draft.pool_id} is already assigned in this policy")
    now = utc_iso()
    assignment = replace(draft, id=next_id("pool_assignment"), created=now, updated=now)
    policy = stores.policies.update(
        before, replace(before, pool_assignments=(*before.pool_assignments, assignment)))
    audit.record(
        caller.tenant_id,
        "policy.assignment_added",
        f"Pool {assignment.pool_id} assigned in policy '{policy.name}'",
        user=caller.login,
        pool_id=assignment.pool_id,
    )
    return policy, assignment


def update_assignment(
    caller: Caller, policy_id: int, assignment_id: int, body: PoolAssignmentUpdate
) -> tuple[Policy, PoolAssignment]:
    before = stores.policies.get(caller.tenant_id, policy_id)
    current = _find_assignment(before, assignment_id)
    if body.policy_id is not None and body.policy_id != policy_id:
        raise BadData.field("/body/policy_id", "does not match the policy in the path")
    changed = replace(current, **body.model_dump(exclude_unset=True, exclude={"id", "policy_id"}))
    _check_assignment_refs(caller, changed)
    if any(a.pool_id == changed.pool_id and a.id != assignment_id for a in before.pool_assignments):
        raise BadData.field("/body/pool_id", f"Pool {changed.pool_id} is already assigned in this policy")
    changed = replace(changed, updated=utc_iso())
    policy = stores.policies.update(before, replace(before, pool_assignments=tuple(
        changed if a.id == assignment_id else a for a in before.pool_assignments)))
    return policy, changed


def delete_assignment(caller: Caller, policy_id: int, assignment_id: int) -> None:
    before = stores.policies.get(caller.tenant_id, policy_id)
    _find_assignment(before, assignment_id)
    stores.policies.update(before, replace(before, pool_assignments=tuple(
        a for a in before.pool_assignments if a.id != assignment_id)))


def get_assignment(caller: Caller, policy_id: int, assignment_id: int) -> tuple[Policy, PoolAssignment]:
    policy = stores.policies.get(caller.tenant_id, policy_id)
    return policy, _find_assignment(policy, assignment_id)


def list_policies(caller: Caller) -> list[Policy]:
    return stores.policies.list(caller.tenant_id)


def get_policy(caller: Caller, policy_id: int) -> Policy:
    return stores.policies.get(caller.tenant_id, policy_id)


def pool_names(caller: Caller, pool_ids: list[int]) -> dict[int, str]:
    return {
        pool_id: record.name for pool_id, record in stores.pools.batch_get(caller.tenant_id, pool_ids).items()
    }
