"""Desktop lifecycle for admins (our extensions, in the reference's style): release plans
(`/rest/v1/plans/release`), power-control plans (`/rest/v1/plans/power-control`), the audit log
(`/rest/v1/logs`), a pool's history (`/rest/v1/pools/{id}/history`) and a new agent registration
token for a desktop (`/rest/v1/desktops/{id}/agent-registration`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.framework import Access, ApiRequest, Reply, Router
from chalicelib.domain.errors import BadData
from chalicelib.domain.kinds import KIND_POWER_CONTROL as POWER
from chalicelib.domain.kinds import KIND_RELEASE as RELEASE
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.schemas.lifecycle import (
        LogPageOut,
        PlanItemOut,
        PoolHistoryOut,
        PoolHistoryQuery,
        PowerPlanBody,
        PowerPlanOut,
        ReleasePlanBody,
        ReleasePlanOut,
        RespPowerPlanCreated,
        RespReleasePlanCreated,
    )
    from chalicelib.store.models import PlanRecord

schemas = lazy_module("chalicelib.schemas.lifecycle")
sessions = lazy_module("chalicelib.domain.sessions")
agents = lazy_module("chalicelib.services.agents")
lifecycle_plans = lazy_module("chalicelib.services.lifecycle_plans")
logs = lazy_module("chalicelib.services.logs")
pool_stats = lazy_module("chalicelib.services.pool_stats")
stores = lazy_module("chalicelib.store.stores")

router = Router("/rest/v1", "Lifecycle", schemas="chalicelib.schemas.lifecycle")



def _plan_fields(record: PlanRecord) -> dict[str, Any]:
    doc = lifecycle_plans.complete_doc(record.kind, record.doc)
    return {"id": int(record.id), "name": record.name, "created": record.created, "updated": record.updated,
            **doc}


def release_plan_out(record: PlanRecord) -> ReleasePlanOut:
    return schemas.ReleasePlanOut.model_validate(_plan_fields(record))


def power_plan_out(record: PlanRecord) -> PowerPlanOut:
    return schemas.PowerPlanOut.model_validate(_plan_fields(record))


def _changes(body: BaseModel, path_id: int) -> dict[str, Any]:
    if getattr(body, "id", None) is not None and body.id != path_id:  # type: ignore[attr-defined]
        raise BadData.field("/body/id", "does not match the id in the path")
    return body.model_dump(exclude_unset=True, exclude={"id", "name"})


# ------------------------------------------------------------------------------------ release plans


@router.route("GET", "/plans/release", access=Access.ADMIN_READ, summary="List release plans",
              response=list["PlanItemOut"])
def list_release_plans(request: ApiRequest) -> list[PlanItemOut]:
    return [schemas.PlanItemOut(id=int(r.id), name=r.name)
            for r in lifecycle_plans.list_plans(request.who, RELEASE)]


@router.route("POST", "/plans/release", access=Access.ADMIN_WRITE, body="ReleasePlanBody", status=201,
              summary="Add a release plan (disconnect, idle, logout and release steps)",
              response="RespReleasePlanCreated")
def create_release_plan(request: ApiRequest) -> RespReleasePlanCreated:
    body: ReleasePlanBody = request.body
    record = lifecycle_plans.create_plan(request.who, RELEASE, body.name, body.model_dump(exclude={"name"}))
    return schemas.RespReleasePlanCreated(stored_data=release_plan_out(record))


@router.route("GET", "/plans/release/{id}", access=Access.ADMIN_READ, summary="Get a release plan",
              response="ReleasePlanOut")
def get_release_plan(request: ApiRequest) -> ReleasePlanOut:
    return release_plan_out(lifecycle_plans.get_plan(request.who, RELEASE, request.ids["id"]))


@router.route("PUT", "/plans/release/{id}", access=Access.ADMIN_WRITE, body="ReleasePlanUpdate",
              summary="Update a release plan (sections not given keep their values)",
              response="RespReleasePlanCreated")
def update_release_plan(request: ApiRequest) -> RespReleasePlanCreated:
    plan_id = request.ids["id"]
    record = lifecycle_plans.update_plan(request.who, RELEASE, plan_id, request.body.name,
                                         _changes(request.body, plan_id))
    return schemas.RespReleasePlanCreated(stored_data=release_plan_out(record))


@router.route("DELETE", "/plans/release/{id}", access=Access.ADMIN_WRITE, summary="Delete a release plan",
              status=204, responses={409: "A pool assignment uses the plan"})
def delete_release_plan(request: ApiRequest) -> Reply:
    lifecycle_plans.delete_plan(request.who, RELEASE, request.ids["id"])
    return Reply(None, status=204)


# ------------------------------------------------------------------------------ power-control plans


@router.route("GET", "/plans/power-control", access=Access.ADMIN_READ, summary="List power-control plans",
              response=list["PlanItemOut"])
def list_power_control_plans(request: ApiRequest) -> list[PlanItemOut]:
    return [schemas.PlanItemOut(id=int(r.id), name=r.name)
            for r in lifecycle_plans.list_plans(request.who, POWER)]


@router.route("POST", "/plans/power-control", access=Access.ADMIN_WRITE, body="PowerPlanBody", status=201,
              summary="Add a power-control plan (disconnect, logout and release steps)",
              response="RespPowerPlanCreated")
def create_power_control_plan(request: ApiRequest) -> RespPowerPlanCreated:
    body: PowerPlanBody = request.body
    record = lifecycle_plans.create_plan(request.who, POWER, body.name, body.model_dump(exclude={"name"}))
    return schemas.RespPowerPlanCreated(stored_data=power_plan_out(record))


@router.route("GET", "/plans/power-control/{id}", access=Access.ADMIN_READ,
              summary="Get a power-control plan", response="PowerPlanOut")
def get_power_control_plan(request: ApiRequest) -> PowerPlanOut:
    return power_plan_out(lifecycle_plans.get_plan(request.who, POWER, request.ids["id"]))


@router.route("PUT", "/plans/power-control/{id}", access=Access.ADMIN_WRITE, body="PowerPlanUpdate",
              summary="Update a power-control plan (sections not given keep their values)",
              response="RespPowerPlanCreated")
def update_power_control_plan(request: ApiRequest) -> RespPowerPlanCreated:
    plan_id = request.ids["id"]
    record = lifecycle_plans.update_plan(request.who, POWER, plan_id, request.body.name,
                                         _changes(request.body, plan_id))
    return schemas.RespPowerPlanCreated(stored_data=power_plan_out(record))


@router.route("DELETE", "/plans/power-control/{id}", access=Access.ADMIN_WRITE,
              summary="Delete a power-control plan", status=204,
              responses={409: "A pool assignment uses the plan"})
def delete_power_control_plan(request: ApiRequest) -> Reply:
    lifecycle_plans.delete_plan(request.who, POWER, request.ids["id"])
    return Reply(None, status=204)


# --------------------------------------------------------------------------------------------- logs


@router.route("GET", "/logs", access=Access.ADMIN_READ, query="LogQuery", response="LogPageOut",
              summary="Audit events (filters: from, to, type, user, pool_id, desktop_id; pages by `next`)")
def list_logs(request: ApiRequest) -> LogPageOut:
    items, next_token = logs.list_events(request.who, request.query)
    return schemas.LogPageOut.model_validate({"items": [logs.event_out(r) for r in items],
                                              "next": next_token})


# ------------------------------------------------------------------------------------- pool history


@router.route("GET", "/pools/{id}/history", access=Access.ADMIN_READ, query="PoolHistoryQuery",
              response="PoolHistoryOut",
              summary="A pool's size info over time (from, to: epoch seconds or ISO 8601)")
def get_pool_history(request: ApiRequest) -> PoolHistoryOut:
    query: PoolHistoryQuery = request.query
    pool = stores.pools.get(request.who.tenant_id, request.ids["id"])
    start, end = query.start, query.end
    if start is not None and end is not None and start > end:
        raise BadData.field("/query/to", "`to` is before `from`")
    samples = pool_stats.pool_history(request.who.tenant_id, int(pool.id),
                                      None if start is None else int(start) + (start % 1 > 0),
                                      None if end is None else int(end))
    points = []
    for sample in samples[: query.limit]:
        data = {k: v for k, v in (sample.data or {}).items() if k in schemas.PoolHistoryPoint.model_fields}
        ts = int(sample.ts)
        points.append(schemas.PoolHistoryPoint.model_validate({**data, "ts": ts, "time": sessions.iso(ts)}))
    return schemas.PoolHistoryOut(pool_id=int(pool.id), items=points)


# ------------------------------------------------------------------------------- agent registration


@router.route("POST", "/desktops/{id}/agent-registration", access=Access.ADMIN_WRITE, status=201,
              response="AgentRegistrationOut", responses={409: "The desktop is deleted"},
              summary="A new one-time registration token for the desktop's agent (revokes its agent token)")
def reset_agent_registration(request: ApiRequest) -> Reply:
    desktop, token = agents.issue_registration(request.who, request.ids["id"])
    body = schemas.AgentRegistrationOut(desktop_id=int(desktop.id), instance_id=desktop.instance_id,
                                registration_token=token,
                                message="Give this token to the desktop's agent (register); it works once.")
    return Reply(body, status=201, headers={"Cache-Control": "no-store"})

