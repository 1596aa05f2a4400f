"""`/rest/v1/plans/protocol`: protocol plans (our extension, in the reference's style). Release and
power-control plans follow the same pattern on `/rest/v1/plans/release` and `/plans/power-control`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router
from chalicelib.domain.kinds import KIND_PROTOCOL as KIND

if TYPE_CHECKING:
    from chalicelib.domain.entities.plans import PlanEntity
    from chalicelib.schemas.plans import (
        ProtocolPlanBody,
        ProtocolPlanItemOut,
        ProtocolPlanOut,
        ProtocolPlanUpdate,
        RespProtocolPlanCreated,
    )


router = Router("/rest/v1", "Plans", schemas="chalicelib.schemas.plans")


def protocol_plan_out(plan: PlanEntity) -> ProtocolPlanOut:
    from chalicelib.domain.entities.plans import ProtocolPlanEntity
    from chalicelib.schemas import plans as schemas
    assert isinstance(plan, ProtocolPlanEntity)  # the service returns protocol plans only here
    return schemas.ProtocolPlanOut(id=plan.id, name=plan.name, protocol=plan.protocol, port=plan.port,
                                   options=plan.options, gateway_id=plan.gateway_id, notes=plan.notes,
                                   created=plan.created, updated=plan.updated)


@router.route("GET", "/plans/protocol", access=Access.ADMIN_READ, summary="List protocol plans",
              response=list["ProtocolPlanItemOut"])
def list_protocol_plans(request: ApiRequest) -> list[ProtocolPlanItemOut]:
    from chalicelib.domain.entities.plans import ProtocolPlanEntity
    from chalicelib.schemas import plans as schemas
    from chalicelib.services import plans
    return [schemas.ProtocolPlanItemOut(id=plan.id, name=plan.name, protocol=plan.protocol, port=plan.port)
            for plan in plans.list_plans(request.who, KIND) if isinstance(plan, ProtocolPlanEntity)]


@router.route("POST", "/plans/protocol", access=Access.ADMIN_WRITE, summary="Add a protocol plan",
              body="ProtocolPlanBody", response="RespProtocolPlanCreated", status=201)
def create_protocol_plan(request: ApiRequest) -> RespProtocolPlanCreated:
    from chalicelib.schemas import plans as schemas
    from chalicelib.services import plans
    body: ProtocolPlanBody = request.body
    plan = plans.create_protocol_plan(request.who, body.name, body.model_dump(exclude={"name"}))
    return schemas.RespProtocolPlanCreated(stored_data=protocol_plan_out(plan))


@router.route("GET", "/plans/protocol/{id}", access=Access.ADMIN_READ, summary="Get a protocol plan",
              response="ProtocolPlanOut")
def get_protocol_plan(request: ApiRequest) -> ProtocolPlanOut:
    from chalicelib.services import plans
    return protocol_plan_out(plans.get_plan(request.who, KIND, request.ids["id"]))


@router.route("PUT", "/plans/protocol/{id}", access=Access.ADMIN_WRITE, body_id_matches_path=True,
              summary="Update a protocol plan (fields not given keep their values)",
              body="ProtocolPlanUpdate", response="RespProtocolPlanCreated")
def update_protocol_plan(request: ApiRequest) -> RespProtocolPlanCreated:
    from chalicelib.schemas import plans as schemas
    from chalicelib.services import plans
    body: ProtocolPlanUpdate = request.body
    changes = body.model_dump(exclude_unset=True, exclude={"id", "name"})
    plan = plans.update_protocol_plan(request.who, request.ids["id"], body.name, changes)
    return schemas.RespProtocolPlanCreated(stored_data=protocol_plan_out(plan))


@router.route("DELETE", "/plans/protocol/{id}", access=Access.ADMIN_WRITE, summary="Delete a protocol plan",
              status=204, responses={409: "A pool assignment uses the plan"})
def delete_protocol_plan(request: ApiRequest) -> Reply:
    from chalicelib.services import plans
    plans.delete_plan(request.who, KIND, request.ids["id"])
    return Reply(None, status=204)
