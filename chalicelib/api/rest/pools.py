"""`/rest/v1/pools` in the reference's shapes (`pool_array`, `PoolFull`, `RespPoolCreated`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.forecast import Forecast
    from chalicelib.schemas.pools import (
        ForecastApplied,
        ForecastOut,
        PoolItemOut,
        PoolOut,
        ProvisionOut,
        RespPoolCreated,
    )
    from chalicelib.store.models import PoolRecord


router = Router("/rest/v1", "Pools", schemas="chalicelib.schemas.pools")


def pool_item(record: PoolRecord) -> PoolItemOut:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    stats = pools.size_info(record)
    return schemas.PoolItemOut(
        id=int(record.id),
        name=record.name,
        parent_pool_id=int(record.doc["pool_definition"].get("parent_pool_id") or 0),
        **{f: int(stats.get(f, 0)) for f in schemas.PoolSizes.model_fields},
    )


def _provision_out(record: PoolRecord) -> ProvisionOut | None:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    doc = record.doc
    provision = doc.get("provision")
    if not provision:
        return None
    state, error = pools.provision_state(record)
    center = provision.get("center")
    center_out = None
    if center:
        size = center.get("new_volume_size")
        center_out = {**center, "name": pools.provision_center_name(record),
                      "new_volume_size": "" if size is None else str(size),
                      "create_new_volume": int(center.get("create_new_volume") or 0)}
    return schemas.ProvisionOut.model_validate({**provision, "center": center_out, "provision_state": state,
                                        "provision_error": error,
                                        "limits_in_force": pools.limits_now(record)})


def pool_out(record: PoolRecord) -> PoolOut:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    doc = record.doc
    return schemas.PoolOut(
        id=int(record.id),
        name=record.name,
        display_name=doc.get("display_name", ""),
        notes=doc.get("notes", ""),
        running_desktops_threshold=int(doc.get("running_desktops_threshold", 0)),
        pool_definition=doc["pool_definition"],
        provision=_provision_out(record),
        log=doc.get("log") or {},
        pool_stats=schemas.PoolStats.model_validate(pools.size_info(record)),
        created=record.created,
        updated=record.updated,
    )


@router.route("GET", "/pools", access=Access.ADMIN_READ, summary="List pools with their size info",
              response=list["PoolItemOut"])
def list_pools(request: ApiRequest) -> list[PoolItemOut]:
    from chalicelib.services import pools
    return [pool_item(r) for r in pools.list_pools(request.who)]


@router.route("POST", "/pools", access=Access.ADMIN_WRITE, summary="Add a pool", body="PoolBody",
              response="RespPoolCreated", status=201)
def create_pool(request: ApiRequest) -> RespPoolCreated:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    return schemas.RespPoolCreated(stored_data=pool_out(pools.create_pool(request.who, request.body)))


@router.route("GET", "/pools/{id}", access=Access.ADMIN_READ, summary="Get a pool (PoolFull)",
              response="PoolOut")
def get_pool(request: ApiRequest) -> PoolOut:
    from chalicelib.services import pools
    return pool_out(pools.get_pool(request.who, request.ids["id"]))


@router.route("PUT", "/pools/{id}", access=Access.ADMIN_WRITE, body_id_matches_path=True,
              summary="Update a pool (fields not given keep their values)", body="PoolUpdate",
              response="RespPoolCreated")
def update_pool(request: ApiRequest) -> RespPoolCreated:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    record = pools.update_pool(request.who, request.ids["id"], request.body)
    return schemas.RespPoolCreated(stored_data=pool_out(record))


@router.route("DELETE", "/pools/{id}", access=Access.ADMIN_WRITE, summary="Delete a pool", status=204,
              responses={409: "The pool is in use"})
def delete_pool(request: ApiRequest) -> Reply:
    from chalicelib.services import pools
    pools.delete_pool(request.who, request.ids["id"])
    return Reply(None, status=204)


def forecast_out(record: PoolRecord, zone: str, result: Forecast) -> ForecastOut:
    from chalicelib.schemas import pools as schemas
    ready = result.readiness
    return schemas.ForecastOut(
        pool_id=int(record.id),
        time_zone=zone,
        enough_history=int(result.enough_history),
        message=result.reason or f"{len(result.ranges)} time limit(s) recommended from {result.weeks} weeks",
        weeks=result.weeks,
        ready=None if ready is None else ready.as_doc(),
        profile=[cell.as_doc() for cell in result.cells],
        time_limits=result.time_limits,
        ranges=[{"time_limit": r.as_time_limit(), "sentence": r.sentence} for r in result.ranges],
    )


@router.route("GET", "/pools/{id}/forecast", access=Access.ADMIN_READ,
              summary="The pool's learned week: demand profile, ready time, recommended time_limits",
              response="ForecastOut")
def get_forecast(request: ApiRequest) -> ForecastOut:
    from chalicelib.services import forecast as forecasts
    return forecast_out(*forecasts.forecast_of(request.who, request.ids["id"]))


@router.route("POST", "/pools/{id}/forecast/apply", access=Access.ADMIN_WRITE,
              summary="Write the forecast's time_limits into the pool", response="ForecastApplied",
              responses={409: "Too little history, or the pool does not provision"})
def apply_forecast(request: ApiRequest) -> ForecastApplied:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import forecast as forecasts
    record, zone, result = forecasts.apply(request.who, request.ids["id"])
    return schemas.ForecastApplied(forecast=forecast_out(record, zone, result), stored_data=pool_out(record))
