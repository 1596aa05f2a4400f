"""`/rest/v1/policies` and `/rest/v1/policies/{policy_id}/pool-assignments`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.entities.policies import Policy, PoolAssignment
    from chalicelib.schemas.policies import (
        PolicyItemOut,
        PolicyOut,
        PoolAssignmentItemOut,
        PoolAssignmentOut,
        RespPolicyCreated,
        RespPoolAssignmentCreated,
    )


router = Router("/rest/v1", "Policies", schemas="chalicelib.schemas.policies")


def policy_out(request: ApiRequest, policy: Policy) -> PolicyOut:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    assignments = policy.pool_assignments
    names = policies.pool_names(request.who, [a.pool_id for a in assignments])
    return schemas.PolicyOut(
        id=policy.id,
        name=policy.name,
        is_default=policy.is_default,
        max_desktops=policy.max_desktops,
        single_desktop_only=policy.single_desktop_only,
        offer_empty_pools=policy.offer_empty_pools,
        session_expire_delay=policy.session_expire_delay,
        notes=policy.notes,
        pool_assignments=[
            schemas.PoolAssignmentItemOut(id=a.id, pool_id=a.pool_id, pool_name=names.get(a.pool_id))
            for a in assignments
        ],
        created=policy.created,
        updated=policy.updated,
    )


def assignment_out(request: ApiRequest, policy: Policy, assignment: PoolAssignment) -> PoolAssignmentOut:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    names = policies.pool_names(request.who, [assignment.pool_id])
    a = assignment
    return schemas.PoolAssignmentOut(
        id=a.id, policy_id=policy.id, pool_id=a.pool_id, pool_name=names.get(a.pool_id),
        backup_pool_id=a.backup_pool_id, offer_quantity=a.offer_quantity,
        favor_previous_assigned=a.favor_previous_assigned, power_on=a.power_on,
        start_if_stopped=a.start_if_stopped, kiosk=a.kiosk, display_mode=a.display_mode,
        plan_protocol_id=a.plan_protocol_id, plan_power_control_id=a.plan_power_control_id,
        plan_release_id=a.plan_release_id, prevent_release=a.prevent_release, created=a.created,
        updated=a.updated,
    )


@router.route(
    "GET", "/policies", access=Access.ADMIN_READ, summary="List policies", response=list["PolicyItemOut"]
)
def list_policies(request: ApiRequest) -> list[PolicyItemOut]:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    return [schemas.PolicyItemOut(id=p.id, name=p.name) for p in policies.list_policies(request.who)]


@router.route(
    "POST",
    "/policies",
    access=Access.ADMIN_WRITE,
    summary="Add a policy",
    body="PolicyBody",
    response="RespPolicyCreated",
    status=201,
)
def create_policy(request: ApiRequest) -> RespPolicyCreated:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    return schemas.RespPolicyCreated(
        stored_data=policy_out(request, policies.create_policy(request.who, request.body))
    )


@router.route("GET", "/policies/{id}", access=Access.ADMIN_READ, summary="Get a policy", response="PolicyOut")
def get_policy(request: ApiRequest) -> PolicyOut:
    from chalicelib.services import policies
    return policy_out(request, policies.get_policy(request.who, request.ids["id"]))


@router.route(
    "PUT",
    "/policies/{id}",
    access=Access.ADMIN_WRITE,
    body_id_matches_path=True,
    summary="Update a policy",
    body="PolicyUpdate",
    response="RespPolicyCreated",
)
def update_policy(request: ApiRequest) -> RespPolicyCreated:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    policy = policies.update_policy(request.who, request.ids["id"], request.body)
    return schemas.RespPolicyCreated(stored_data=policy_out(request, policy))


@router.route("DELETE", "/policies/{id}", access=Access.ADMIN_WRITE, summary="Delete a policy", status=204)
def delete_policy(request: ApiRequest) -> Reply:
    from chalicelib.services import policies
    policies.delete_policy(request.who, request.ids["id"])
    return Reply(None, status=204)


@router.route(
    "GET",
    "/policies/{policy_id}/pool-assignments",
    access=Access.ADMIN_READ,
    summary="List a policy's pool assignments",
    response=list["PoolAssignmentItemOut"],
)
def list_assignments(request: ApiRequest) -> list[PoolAssignmentItemOut]:
    from chalicelib.services import policies
    return policy_out(request, policies.get_policy(request.who, request.ids["policy_id"])).pool_assignments


@router.route(
    "POST",
    "/policies/{policy_id}/pool-assignments",
    access=Access.ADMIN_WRITE,
    summary="Assign a pool in a policy",
    body="PoolAssignmentBody",
    response="RespPoolAssignmentCreated",
    status=201,
)
def add_assignment(request: ApiRequest) -> RespPoolAssignmentCreated:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    policy, assignment = policies.add_assignment(request.who, request.ids["policy_id"], request.body)
    return schemas.RespPoolAssignmentCreated(stored_data=assignment_out(request, policy, assignment))


@router.route(
    "GET",
    "/policies/{policy_id}/pool-assignments/{id}",
    access=Access.ADMIN_READ,
    summary="Get a pool assignment",
    response="PoolAssignmentOut",
)
def get_assignment(request: ApiRequest) -> PoolAssignmentOut:
    from chalicelib.services import policies
    policy, assignment = policies.get_assignment(request.who, request.ids["policy_id"], request.ids["id"])
    return assignment_out(request, policy, assignment)


@router.route(
    "PUT",
    "/policies/{policy_id}/pool-assignments/{id}",
    access=Access.ADMIN_WRITE,
    body_id_matches_path=True,
    summary="Update a pool assignment",
    body="PoolAssignmentUpdate",
    response="RespPoolAssignmentCreated",
)
def update_assignment(request: ApiRequest) -> RespPoolAssignmentCreated:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    policy, assignment = policies.update_assignment(
        request.who, request.ids["policy_id"], request.ids["id"], request.body
    )
    return schemas.RespPoolAssignmentCreated(stored_data=assignment_out(request, policy, assignment))


@router.route(
    "DELETE",
    "/policies/{policy_id}/pool-assignments/{id}",
    access=Access.ADMIN_WRITE,
    summary="Remove a pool assignment",
    status=204,
)
def delete_assignment(request: ApiRequest) -> Reply:
    from chalicelib.services import policies
    policies.delete_assignment(request.who, request.ids["policy_id"], request.ids["id"])
    return Reply(None, status=204)
