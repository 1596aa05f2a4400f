"""Release and power-control plans: their admin use cases (through the generic plans service, which
owns the table, the unique names and "in use by a pool assignment"), and which plans apply to a desktop.

A desktop's plans are those of the pool assignment through which it was assigned. The assignment code
records that assignment on the desktop when it claims it (`Desktop.assignment`, see docs/lifecycle.md);
for a desktop without that record, `effective_plans` finds it from the user's own policy (else the
tenant's default policy) and the desktop's pool, and `remember_assignment` keeps what it found.
Plans are cached in-process for a short while (`PLAN_CACHE_SECONDS`); a change made through
this process drops the entry at once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from chalicelib.domain import lifecycle as rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.plans import PlanEntity, PowerControlPlanEntity, ReleasePlanEntity
from chalicelib.domain.entities.policies import Policy, PoolAssignment
from chalicelib.services import plans
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores

log = logging.getLogger("broker.lifecycle_plans")

PLAN_CACHE_SECONDS = 60.0

_cache: TtlCache[PlanEntity] = TtlCache("lifecycle-plans")


# ------------------------------------------------------------------------------------ admin use cases


def list_plans(caller: Caller, kind: str) -> list[PlanEntity]:
    return plans.list_plans(caller, kind)


def get_plan(caller: Caller, kind: str, plan_id: int) -> PlanEntity:
    return plans.get_plan(caller, kind, plan_id)


def create_plan(caller: Caller, kind: str, name: str, settings: dict[str, Any]) -> PlanEntity:
    """Sections the request left out read as their defaults (the entity completes them)."""
    return plans.create_plan(caller, kind, name, settings)


def update_plan(caller: Caller, kind: str, plan_id: int, name: str | None,
                changes: dict[str, Any]) -> PlanEntity:
    plan = plans.update_plan(caller, kind, plan_id, name, changes)
    _cache.drop((caller.tenant_id, plan_id))
    return plan


def delete_plan(caller: Caller, kind: str, plan_id: int) -> None:
    plans.delete_plan(caller, kind, plan_id)
    _cache.drop((caller.tenant_id, plan_id))


# ---------------------------------------------------------------------------- the plans of a desktop


def _assignment_of(policy: Policy, pool_id: int) -> PoolAssignment | None:
    """The policy's assignment a desktop of `pool_id` is offered under (primary pools before backups)."""
    for field in ("pool_id", "backup_pool_id"):
        for assignment in policy.pool_assignments:
            if int(getattr(assignment, field) or 0) == pool_id:
                return assignment
    return None


def _policy_of_user(tenant_id: int, user_id: int) -> Policy | None:
    user = stores.users.find(tenant_id, user_id)
    policy_id = int((user.policy_id if user else None) or 0)
    if policy_id:
        policy = stores.policies.find(tenant_id, policy_id)
        if policy is not None:
            return policy
    for policy in stores.policies.iterate(tenant_id):
        if policy.is_default:
            return policy
    return None


def recorded_assignment(desktop: Desktop) -> dict[str, Any] | None:
    """`Desktop.assignment` if it belongs to the desktop's current (or, once released, last) user."""
    recorded = desktop.assignment
    if recorded is None:
        return None
    owner = recorded.get("user_id")
    assigned = desktop.assigned_user_id
    if owner is not None and assigned is not None and int(owner) != assigned:
        return None  # left over from an earlier user
    return dict(recorded)


def resolve_assignment(desktop: Desktop, user_id: int | None = None) -> dict[str, Any] | None:
    """Find the assignment from the user's policy (for desktops claimed without a record); the user is
    the assigned one, or `user_id` (the last one, for a desktop already released)."""
    if desktop.assigned_user_id is not None:
        user_id = desktop.assigned_user_id
    if user_id is None or not desktop.pool_id:
        return None
    tenant_id = desktop.tenant_id
    policy = _policy_of_user(tenant_id, user_id)
    if policy is None:
        return None
    assignment = _assignment_of(policy, desktop.pool_id)
    if assignment is None:
        return None
    return {
        "policy_id": policy.id,
        "assignment_id": int(assignment.id or 0),
        "plan_release_id": int(assignment.plan_release_id or 0),
        "plan_power_control_id": int(assignment.plan_power_control_id or 0),
        "plan_protocol_id": int(assignment.plan_protocol_id or 0),
        "user_id": user_id,
        "source": "resolved",
    }


def assignment_of(desktop: Desktop, resolve: bool = True,
                  previous_user_id: int | None = None) -> dict[str, Any] | None:
    recorded = recorded_assignment(desktop)
    if recorded is not None or not resolve:
        return recorded
    return resolve_assignment(desktop, previous_user_id)


def remember_assignment(desktop: Desktop) -> Desktop:
    """The desktop with its resolved assignment recorded (not saved here); as it was when it has one
    already or none is found."""
    if recorded_assignment(desktop) is not None:
        return desktop
    found = resolve_assignment(desktop)
    if found is None:
        return desktop
    return replace(desktop, assignment=found)


def _load(tenant_id: int, plan_ids: list[int]) -> dict[int, PlanEntity]:
    """Plans by id, from the cache or one BatchGetItem."""
    found: dict[int, PlanEntity] = {}
    missing = []
    for plan_id in plan_ids:
        cached = _cache.get((tenant_id, plan_id), lambda: None, ttl=PLAN_CACHE_SECONDS)
        if cached is not None:
            found[plan_id] = cached
        else:
            missing.append(plan_id)
    if missing:
        for plan_id, plan in stores.plans.batch_get(tenant_id, missing).items():
            _cache.get((tenant_id, plan_id), lambda p=plan: p, ttl=PLAN_CACHE_SECONDS)
            found[plan_id] = plan
    return found


def plans_for(tenant_id: int, assignment: dict[str, Any] | None) -> rules.Plans:
    if not assignment:
        return rules.Plans()
    release_id = int(assignment.get("plan_release_id") or 0)
    power_id = int(assignment.get("plan_power_control_id") or 0)
    wanted = [i for i in (release_id, power_id) if i]
    if not wanted:
        return rules.Plans()
    found = _load(tenant_id, wanted)
    release, power = found.get(release_id), found.get(power_id)
    return rules.Plans(
        release=rules.ReleasePlan.from_plan(release) if isinstance(release, ReleasePlanEntity) else None,
        power=rules.PowerPlan.from_plan(power) if isinstance(power, PowerControlPlanEntity) else None)


def effective_plans(desktop: Desktop, resolve: bool = True) -> rules.Plans:
    """The release and power-control plans that apply to the desktop now."""
    return plans_for(desktop.tenant_id, assignment_of(desktop, resolve))
