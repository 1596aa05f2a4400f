"""`/rest/v1/pools` in the reference's shapes (`pool_array`, `PoolFull`, `RespPoolCreated`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.entities.pools import Pool
    from chalicelib.domain.forecast import Forecast
    from chalicelib.schemas.pools import (
        ForecastApplied,
        ForecastOut,
        PoolItemOut,
        PoolOut,
        ProvisionOut,
        RespPoolCreated,
    )


router = Router("/rest/v1", "Pools", schemas="chalicelib.schemas.pools")


def pool_item(pool: Pool) -> PoolItemOut:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    stats = pools.size_info(pool)
    return schemas.PoolItemOut(
        id=pool.id,
        name=pool.name,
        parent_pool_id=pool.parent_pool_id,
        **{f: int(stats.get(f, 0)) for f in schemas.PoolSizes.model_fields},
    )


def _provision_out(pool: Pool) -> ProvisionOut | None:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    provision = pool.provision
    if provision is None:
        return None
    state, error = pools.provision_state(pool)
    center = provision.center
    center_out = None
    if center is not None:
        size = center.new_volume_size
        center_out = {**center.settings(), "name": pools.provision_center_name(pool),
                      "new_volume_size": "" if size is None else str(size),
                      "create_new_volume": int(center.create_new_volume or 0)}
    return schemas.ProvisionOut.model_validate({**provision.settings(), "center": center_out,
                                                "provision_state": state, "provision_error": error,
                                                "limits_in_force": pools.limits_now(pool)})


def pool_out(pool: Pool) -> PoolOut:
    from chalicelib.schemas import pools as schemas
    from chalicelib.services import pools
    return schemas.PoolOut(
        id=pool.id,
        name=pool.name,
        display_name=pool.display_name,
        notes=pool.notes,
        running_desktops_threshold=pool.running_desktops_threshold,
        pool_definition=pool.pool_definition.settings(),
        provision=_provision_out(pool),
        log=pool.log.settings(),
        pool_stats=schemas.PoolStats.model_validate(pools.size_info(pool)),
        created=pool.created,
        updated=pool.updated,
    )


@router.route("GET", "/pools", access=Access.ADMIN_READ, summary="List pools with their size info",
              response=list["PoolItemOut"])
def list_pools(request: ApiRequest) -> list[PoolItemOut]:
    from chalicelib.services import pools
    return [pool_item(pool) for pool in pools.list_pools(request.who)]


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
    return schemas.RespPoolCreated(stored_data=pool_out(pools.update_pool(request.who, request.ids["id"],
                                                                          request.body)))


@router.route("DELETE", "/pools/{id}", access=Access.ADMIN_WRITE, summary="Delete a pool", status=204,
              responses={409: "The pool is in use"})
def delete_pool(request: ApiRequest) -> Reply:
    from chalicelib.services import pools
    pools.delete_pool(request.who, request.ids["id"])
    return Reply(None, status=204)


def forecast_out(pool: Pool, zone: str, result: Forecast) -> ForecastOut:
    from chalicelib.schemas import pools as schemas
    ready = result.readiness
    return schemas.ForecastOut(
        pool_id=pool.id,
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
    pool, zone, result = forecasts.apply(request.who, request.ids["id"])
    return schemas.ForecastApplied(forecast=forecast_out(pool, zone, result), stored_data=pool_out(pool))
