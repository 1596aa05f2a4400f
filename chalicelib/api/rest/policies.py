"""`/rest/v1/policies` and `/rest/v1/policies/{policy_id}/pool-assignments`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.schemas.policies import (
        PolicyItemOut,
        PolicyOut,
        PoolAssignmentItemOut,
        PoolAssignmentOut,
        RespPolicyCreated,
        RespPoolAssignmentCreated,
    )
    from chalicelib.store.models import PolicyRecord


router = Router("/rest/v1", "Policies", schemas="chalicelib.schemas.policies")


def policy_out(request: ApiRequest, record: PolicyRecord) -> PolicyOut:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    doc = record.doc
    assignments = doc.get("pool_assignments", [])
    names = policies.pool_names(request.who, [a["pool_id"] for a in assignments])
    return schemas.PolicyOut(
        id=int(record.id),
        name=record.name,
        **{
            f: doc.get(f, 0)
            for f in ("is_default", "max_desktops", "single_desktop_only", "offer_empty_pools")
        },
        session_expire_delay=doc.get("session_expire_delay", -1),
        notes=doc.get("notes", ""),
        pool_assignments=[
            schemas.PoolAssignmentItemOut(id=a["id"], pool_id=a["pool_id"], pool_name=names.get(a["pool_id"]))
            for a in assignments
        ],
        created=record.created,
        updated=record.updated,
    )


def assignment_out(
    request: ApiRequest, record: PolicyRecord, assignment: dict[str, Any]
) -> PoolAssignmentOut:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    names = policies.pool_names(request.who, [assignment["pool_id"]])
    return schemas.PoolAssignmentOut(
        policy_id=int(record.id), pool_name=names.get(assignment["pool_id"]), **assignment
    )


@router.route(
    "GET", "/policies", access=Access.ADMIN_READ, summary="List policies", response=list["PolicyItemOut"]
)
def list_policies(request: ApiRequest) -> list[PolicyItemOut]:
    from chalicelib.schemas import policies as schemas
    from chalicelib.services import policies
    return [schemas.PolicyItemOut(id=int(r.id), name=r.name) for r in policies.list_policies(request.who)]


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
    record = policies.update_policy(request.who, request.ids["id"], request.body)
    return schemas.RespPolicyCreated(stored_data=policy_out(request, record))


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
    record, assignment = policies.add_assignment(request.who, request.ids["policy_id"], request.body)
    return schemas.RespPoolAssignmentCreated(stored_data=assignment_out(request, record, assignment))


@router.route(
    "GET",
    "/policies/{policy_id}/pool-assignments/{id}",
    access=Access.ADMIN_READ,
    summary="Get a pool assignment",
    response="PoolAssignmentOut",
)
def get_assignment(request: ApiRequest) -> PoolAssignmentOut:
    from chalicelib.services import policies
    record, assignment = policies.get_assignment(request.who, request.ids["policy_id"], request.ids["id"])
    return assignment_out(request, record, assignment)


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
    record, assignment = policies.update_assignment(
        request.who, request.ids["policy_id"], request.ids["id"], request.body
    )
    return schemas.RespPoolAssignmentCreated(stored_data=assignment_out(request, record, assignment))


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
