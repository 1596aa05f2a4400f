"""Desktop lifecycle for admins (our extensions, in the reference's style): release plans
(`/rest/v1/plans/release`), power-control plans (`/rest/v1/plans/power-control`), the audit log
(`/rest/v1/logs`), a pool's history (`/rest/v1/pools/{id}/history`) and a new agent registration
token for a desktop (`/rest/v1/desktops/{id}/agent-registration`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.api.framework import Access, ApiRequest, Reply, Router
from chalicelib.domain.kinds import KIND_POWER_CONTROL, KIND_RELEASE

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.domain.entities.plans import PlanEntity
    from chalicelib.schemas.lifecycle import (
        LogPageOut,
        PlanItemOut,
        PoolHistoryOut,
        PoolHistoryQuery,
    )


router = Router("/rest/v1", "Lifecycle", schemas="chalicelib.schemas.lifecycle")


def _plan_fields(plan: PlanEntity) -> dict[str, Any]:
    from chalicelib.domain.entities.plans import PowerControlPlanEntity, ReleasePlanEntity
    assert isinstance(plan, ReleasePlanEntity | PowerControlPlanEntity)  # the routes' kinds only
    return {"id": plan.id, "name": plan.name, "created": plan.created, "updated": plan.updated,
            "notes": plan.notes, **plan.steps()}


def _changes(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True, exclude={"id", "name"})


# ------------------------------------------------------------------- release and power-control plans


@dataclass(frozen=True)
class PlanKind:
    """One kind of lifecycle plan: the same five routes, each kind with its own models."""

    kind: str  # as stored
    slug: str  # in operation names: list_{slug}_plans, ...
    path: str
    label: str
    model: str  # the models are {model}Body, {model}Update, {model}Out and Resp{model}Created
    steps: str


PLAN_KINDS = (
    PlanKind(KIND_RELEASE, "release", "/plans/release", "release plan", "ReleasePlan",
             "disconnect, idle, logout and release steps"),
    PlanKind(KIND_POWER_CONTROL, "power_control", "/plans/power-control", "power-control plan", "PowerPlan",
             "disconnect, logout and release steps"),
)


def _plan_out(plan: PlanKind, stored: PlanEntity) -> BaseModel:
    from chalicelib.schemas import lifecycle as schemas
    return getattr(schemas, f"{plan.model}Out").model_validate(_plan_fields(stored))


def _created(plan: PlanKind, stored: PlanEntity) -> BaseModel:
    from chalicelib.schemas import lifecycle as schemas
    return getattr(schemas, f"Resp{plan.model}Created")(stored_data=_plan_out(plan, stored))


def _named(name: str, handler: Callable[[ApiRequest], Any]) -> Callable[[ApiRequest], Any]:
    handler.__name__ = handler.__qualname__ = name
    return handler


def _declare_plan_routes(plan: PlanKind) -> None:
    def list_plans(request: ApiRequest) -> list[PlanItemOut]:
        from chalicelib.schemas import lifecycle as schemas
        from chalicelib.services import lifecycle_plans
        return [schemas.PlanItemOut(id=stored.id, name=stored.name)
                for stored in lifecycle_plans.list_plans(request.who, plan.kind)]

    def create_plan(request: ApiRequest) -> BaseModel:
        from chalicelib.services import lifecycle_plans
        body = request.body
        stored = lifecycle_plans.create_plan(request.who, plan.kind, body.name,
                                             body.model_dump(exclude={"name"}))
        return _created(plan, stored)

    def get_plan(request: ApiRequest) -> BaseModel:
        from chalicelib.services import lifecycle_plans
        return _plan_out(plan, lifecycle_plans.get_plan(request.who, plan.kind, request.ids["id"]))

    def update_plan(request: ApiRequest) -> BaseModel:
        from chalicelib.services import lifecycle_plans
        plan_id = request.ids["id"]
        stored = lifecycle_plans.update_plan(request.who, plan.kind, plan_id, request.body.name,
                                             _changes(request.body))
        return _created(plan, stored)

    def delete_plan(request: ApiRequest) -> Reply:
        from chalicelib.services import lifecycle_plans
        lifecycle_plans.delete_plan(request.who, plan.kind, request.ids["id"])
        return Reply(None, status=204)

    one = f"{plan.path}/{{id}}"
    router.route("GET", plan.path, access=Access.ADMIN_READ, summary=f"List {plan.label}s",
                 response=list["PlanItemOut"])(_named(f"list_{plan.slug}_plans", list_plans))
    router.route("POST", plan.path, access=Access.ADMIN_WRITE, body=f"{plan.model}Body", status=201,
                 summary=f"Add a {plan.label} ({plan.steps})",
                 response=f"Resp{plan.model}Created")(_named(f"create_{plan.slug}_plan", create_plan))
    router.route("GET", one, access=Access.ADMIN_READ, summary=f"Get a {plan.label}",
                 response=f"{plan.model}Out")(_named(f"get_{plan.slug}_plan", get_plan))
    router.route("PUT", one, access=Access.ADMIN_WRITE, body_id_matches_path=True, body=f"{plan.model}Update",
                 summary=f"Update a {plan.label} (sections not given keep their values)",
                 response=f"Resp{plan.model}Created")(_named(f"update_{plan.slug}_plan", update_plan))
    router.route("DELETE", one, access=Access.ADMIN_WRITE, summary=f"Delete a {plan.label}", status=204,
                 responses={409: "A pool assignment uses the plan"})(_named(f"delete_{plan.slug}_plan",
                                                                           delete_plan))


for _plan in PLAN_KINDS:
    _declare_plan_routes(_plan)


# --------------------------------------------------------------------------------------------- logs


@router.route("GET", "/logs", access=Access.ADMIN_READ, query="LogQuery", response="LogPageOut",
              summary="Audit events (filters: from, to, type, user, pool_id, desktop_id; pages by `next`)")
def list_logs(request: ApiRequest) -> LogPageOut:
    from chalicelib.schemas import lifecycle as schemas
    from chalicelib.services import logs
    items, next_token = logs.list_events(request.who, request.query)
    return schemas.LogPageOut.model_validate({"items": [logs.event_out(r) for r in items],
                                              "next": next_token})


# ------------------------------------------------------------------------------------- pool history


@router.route("GET", "/pools/{id}/history", access=Access.ADMIN_READ, query="PoolHistoryQuery",
              response="PoolHistoryOut",
              summary="A pool's size info over time (from, to: epoch seconds or ISO 8601)")
def get_pool_history(request: ApiRequest) -> PoolHistoryOut:
    from chalicelib.schemas import lifecycle as schemas
    from chalicelib.services import pool_stats
    query: PoolHistoryQuery = request.query
    pool_id = request.ids["id"]
    samples = pool_stats.history_of(request.who, pool_id, query.start, query.end, query.limit)
    fields = schemas.PoolHistoryPoint.model_fields
    points = [schemas.PoolHistoryPoint.model_validate({k: v for k, v in sample.items() if k in fields})
              for sample in samples]
    return schemas.PoolHistoryOut(pool_id=pool_id, items=points)


# ------------------------------------------------------------------------------- agent registration


@router.route("POST", "/desktops/{id}/agent-registration", access=Access.ADMIN_WRITE, status=201,
              response="AgentRegistrationOut", responses={409: "The desktop is deleted"},
              summary="A new one-time registration token for the desktop's agent (revokes its agent token)")
def reset_agent_registration(request: ApiRequest) -> Reply:
    from chalicelib.schemas import lifecycle as schemas
    from chalicelib.services import agents
    desktop, token = agents.issue_registration(request.who, request.ids["id"])
    body = schemas.AgentRegistrationOut(desktop_id=int(desktop.id), instance_id=desktop.instance_id,
                                registration_token=token,
                                message="Give this token to the desktop's agent (register); it works once.")
    return Reply(body, status=201, headers={"Cache-Control": "no-store"})

