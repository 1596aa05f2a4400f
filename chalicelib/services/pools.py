"""Pools: validate against the tenant's centers and pools, store, and ask for a provisioning check."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from chalicelib import clock
from chalicelib.domain import messages, time_limits
from chalicelib.domain import pools as rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.entities.pools import Pool, PoolDefinition, PoolLog, Provision
from chalicelib.domain.errors import Conflict, ErrorList, ServiceUnavailable
from chalicelib.domain.provisioning import PoolSize
from chalicelib.schemas.pools import PoolBody, PoolUpdate
from chalicelib.schemas.validation import pydantic_errors
from chalicelib.services import audit, tenants
from chalicelib.store import stores
from chalicelib.store.desktops import PoolCounters, set_pool_side_state

log = logging.getLogger("broker.pools")

PROVISION_RUNNING, PROVISION_STOPPED, PROVISION_STOPPED_BY_BROKER = "running", "stopped", "stopped_by_broker"


def _validate_references(caller: Caller, body: PoolBody, pool_id: int | None) -> None:
    errors = ErrorList()
    definition = body.pool_definition
    wanted_centers = set(definition.server_ids)
    provision_center = body.provision.center if body.provision else None
    if provision_center is not None:
        wanted_centers.add(provision_center.id)
    centers = stores.centers.batch_get(caller.tenant_id, list(wanted_centers))
    for index, center_id in enumerate(definition.server_ids):
        if center_id not in centers:
            errors.add(f"/body/pool_definition/server_ids/{index}", f"Center {center_id} does not exist")
    if provision_center is not None:
        center = centers.get(provision_center.id)
        if center is None:
            errors.add("/body/provision/center/id", f"Center {provision_center.id} does not exist")
        elif center.type != provision_center.type:
            errors.add("/body/provision/center/type", f"Center {center.id} is of type '{center.type}'")
        else:
            rules.inventory_problems(provision_center.model_dump(), center.inventory, errors)
    parent_id = definition.parent_pool_id
    if parent_id:
        parents = {p.id: p.parent_pool_id for p in stores.pools.iterate(caller.tenant_id)}
        if parent_id not in parents:
            errors.add("/body/pool_definition/parent_pool_id", f"Pool {parent_id} does not exist")
        elif pool_id is not None and rules.parent_chain_has_cycle(pool_id, parent_id, parents):
            errors.add("/body/pool_definition/parent_pool_id", "A pool cannot be its own ancestor")
    rules.definition_problems(definition.model_dump(), errors)
    rules.provisioning_problems(body.provision.model_dump() if body.provision else None, errors)
    rules.log_problems(body.log.model_dump(), errors)
    errors.raise_if_any("Pool cannot be saved, some input data is not valid.")


def settings_of(body: PoolBody) -> dict[str, Any]:
    """The admin's settings only, as the entity's fields: the size info and "stopped by the broker" are
    the jobs' side attributes of the record (`stats`, `broker_state`), so that a job never makes an
    admin's save conflict."""
    doc = body.model_dump(exclude={"name"})
    if doc.get("provision"):
        doc["provision"]["time_limits"] = time_limits.normalized(doc["provision"].get("time_limits") or [])
    return {**doc, "pool_definition": PoolDefinition.from_doc(doc["pool_definition"]),
            "provision": Provision.from_doc(doc["provision"]) if doc["provision"] else None,
            "log": PoolLog.from_doc(doc["log"])}


def with_settings(pool: Pool, body: PoolBody) -> Pool:
    """The pool with the settings of `body` (keys of its document this broker does not know are kept)."""
    return replace(pool, name=body.name, **settings_of(body))


# What "stopped by the broker on error" puts in `broker_state` (other keys there belong to the jobs).
_STOPPED_KEYS = ("stopped_by_broker", "reason", "at")


def _restart_if_stopped_by_broker(pool: Pool, changes: dict[str, Any]) -> Pool:
    """An admin who sets provisioning on (`provision.provision_on_off: 1` in the PUT) takes the pool out
    of "stopped by the broker", as in the reference, and the count of failures in a row starts again.
    A save that does not name `provision_on_off` (a new note, say) leaves a stopped pool stopped.
    The pool as it is then."""
    state = pool.broker_state
    if not ((changes.get("provision") or {}).get("provision_on_off") and state.get("stopped_by_broker")):
        return pool
    kept = {k: v for k, v in state.items() if k not in _STOPPED_KEYS}
    set_pool_side_state(pool, broker_state=kept)
    PoolCounters().reset_failures(pool.tenant_id, pool.id)
    return replace(pool, broker_state=kept)


def _zero_stats() -> dict[str, Any]:
    """A new pool's size info: no desktop belongs to it before a scan or the pool_stats job counts one."""
    return {**PoolSize().as_dict(), "counts_updated": clock.utc_iso()}


def create_pool(caller: Caller, body: PoolBody) -> Pool:
    _validate_references(caller, body, None)
    pool = stores.pools.create(Pool(tenant_id=caller.tenant_id, name=body.name, **settings_of(body)))
    pool = replace(pool, stats=_zero_stats())
    set_pool_side_state(pool, stats=pool.stats)
    audit.record(caller.tenant_id, "pool.created", f"Pool '{pool.name}' created", user=caller.login,
                 pool_id=pool.id)
    request_check(pool, "pool saved")
    return pool


def with_changes(pool: Pool, changes: dict[str, Any]) -> PoolBody:
    """The pool's settings with `changes` merged in (domain/pools.merge_update), checked as a save is."""
    stored_input = {"display_name": pool.display_name, "notes": pool.notes,
                    "running_desktops_threshold": pool.running_desktops_threshold,
                    "pool_definition": pool.pool_definition.settings(),
                    "provision": pool.provision.settings() if pool.provision else None,
                    "log": pool.log.settings()}
    try:
        return PoolBody.model_validate(rules.merge_update({"name": pool.name, **stored_input}, changes))
    except ValidationError as error:
        raise pydantic_errors(error, "body") from error


def update_pool(caller: Caller, pool_id: int, body: PoolUpdate) -> Pool:
    current = stores.pools.get(caller.tenant_id, pool_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id"})
    full = with_changes(current, changes)
    _validate_references(caller, full, pool_id)
    pool = stores.pools.update(current, with_settings(current, full))
    pool = _restart_if_stopped_by_broker(pool, changes)
    audit.record(caller.tenant_id, "pool.updated", f"Pool '{pool.name}' updated", user=caller.login,
                 pool_id=pool_id, details={"fields": sorted(changes)})
    request_check(pool, "pool saved")
    return pool


def delete_pool(caller: Caller, pool_id: int) -> None:
    pool = stores.pools.get(caller.tenant_id, pool_id)
    children = [p.id for p in stores.pools.iterate(caller.tenant_id) if p.parent_pool_id == pool_id]
    if children:
        raise Conflict(f"Pool {pool_id} is the parent of pool(s) {', '.join(map(str, children))}")
    used_by = [p.id for p in stores.policies.iterate(caller.tenant_id) if p.assigns(pool_id)]
    if used_by:
        raise Conflict(f"Pool {pool_id} is assigned in policy(ies) {', '.join(map(str, used_by))}")
    stores.pools.delete(pool)
    audit.record(caller.tenant_id, "pool.deleted", f"Pool '{pool.name}' deleted", user=caller.login,
                 pool_id=pool_id)


def request_check(pool: Pool, reason: str) -> None:
    """Queue a provisioning check; the worker decides whether anything needs creating.

    The pool is already saved when this runs: a queue that cannot be reached must not turn that
    success into an error (the caller would retry a create and get NOT_UNIQUE). The scheduled
    pool_stats run queues the check of every provisioning pool, so a missed message is made up."""
    try:
        stores.queue.send(messages.pool_check(pool.tenant_id, pool.id, reason))
    except ServiceUnavailable:
        log.warning("pool check not queued; the next pool_stats run will queue it",
                    extra={"tenant_id": pool.tenant_id, "pool_id": pool.id})


def provision_state(pool: Pool) -> tuple[str, str | None]:
    state = pool.broker_state
    if state.get("stopped_by_broker"):
        return PROVISION_STOPPED_BY_BROKER, state.get("reason")
    running = bool(pool.provision and pool.provision.provision_on_off)
    return (PROVISION_RUNNING if running else PROVISION_STOPPED), None


def size_info(pool: Pool) -> Mapping[str, Any]:
    """The pool size info as the pool_stats job last counted it."""
    return pool.stats


def provision_center_name(pool: Pool) -> str | None:
    """The name of the center the pool provisions in (the reference echoes it in `provision.center`)."""
    center_id = pool.provision_center_id
    if not center_id:
        return None
    center = stores.centers.find(pool.tenant_id, center_id)
    return center.name if center else None


def list_pools(caller: Caller) -> list[Pool]:
    return stores.pools.list(caller.tenant_id)


def get_pool(caller: Caller, pool_id: int) -> Pool:
    return stores.pools.get(caller.tenant_id, pool_id)


def limits_now(pool: Pool) -> dict[str, Any]:
    """The pool's limits in force now, for its answer (`provision.limits_in_force`)."""
    zone, limits = time_limits.for_provision(pool.provision, clock.time(),
                                             tenants.default_time_zone(pool.tenant_id))
    return {
        "time_zone": zone,
        "provision_threshold": limits.threshold,
        "provision_max": limits.maximum,
        "time_limit": limits.time_limit.index if limits.time_limit else -1,
        "until": clock.utc_iso(limits.until.timestamp()) if limits.until else None,
        "next_time_limit": limits.next_limit.index if limits.next_limit else None,
        "next_start": clock.utc_iso(limits.next_start.timestamp()) if limits.next_start else None,
        "over_max": int(pool.broker_state.get("over_max") or 0),
    }
