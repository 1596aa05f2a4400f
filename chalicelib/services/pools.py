"""Pools: validate against the tenant's centers and pools, store, and ask for a provisioning check."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.domain import messages
from chalicelib.domain import pools as rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.errors import BadData, Conflict, ErrorList
from chalicelib.schemas.pools import PoolBody, PoolUpdate
from chalicelib.schemas.validation import pydantic_errors
from chalicelib.services import audit
from chalicelib.store import stores
from chalicelib.store.models import PoolRecord

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
        elif center.doc.get("type") != provision_center.type:
            errors.add("/body/provision/center/type", f"Center {center.id} is of type '{center.doc.get('type')}'")
    parent_id = definition.parent_pool_id
    if parent_id:
        parents = {int(p.id): int(p.doc["pool_definition"].get("parent_pool_id") or 0)
                   for p in stores.pools.iterate(caller.tenant_id)}
        if parent_id not in parents:
            errors.add("/body/pool_definition/parent_pool_id", f"Pool {parent_id} does not exist")
        elif pool_id is not None and rules.parent_chain_has_cycle(pool_id, parent_id, parents):
            errors.add("/body/pool_definition/parent_pool_id", "A pool cannot be its own ancestor")
    rules.provisioning_problems(body.provision.model_dump() if body.provision else None, errors)
    errors.raise_if_any("Pool cannot be saved, some input data is not valid.")


def _stored_doc(body: PoolBody, previous: dict[str, Any] | None) -> dict[str, Any]:
    doc = body.model_dump(exclude={"name"})
    previous = previous or {}
    doc["pool_stats"] = previous.get("pool_stats", {})
    state = previous.get("provision_state", {})
    if body.provision and body.provision.provision_on_off:
        state = {}  # an admin turning provisioning on clears "stopped by the broker"
    doc["provision_state"] = state
    return doc


def create_pool(caller: Caller, body: PoolBody) -> PoolRecord:
    _validate_references(caller, body, None)
    record = stores.pools.create(caller.tenant_id, body.name, _stored_doc(body, None))
    audit.record(caller.tenant_id, "pool.created", f"Pool '{record.name}' created", user=caller.login,
                 pool_id=int(record.id))
    request_check(record, "pool saved")
    return record


def update_pool(caller: Caller, pool_id: int, body: PoolUpdate) -> PoolRecord:
    record = stores.pools.get(caller.tenant_id, pool_id)
    if body.id is not None and body.id != pool_id:
        raise BadData.field("/body/id", "does not match the id in the path")
    changes = body.model_dump(exclude_unset=True, exclude={"id"})
    stored_input = {k: v for k, v in record.doc.items() if k not in ("pool_stats", "provision_state")}
    merged = rules.merge_update({"name": record.name, **stored_input}, changes)
    try:
        full = PoolBody.model_validate(merged)
    except ValidationError as error:
        raise pydantic_errors(error, "body") from error
    _validate_references(caller, full, pool_id)
    record = stores.pools.update(record, full.name, _stored_doc(full, record.doc))
    audit.record(caller.tenant_id, "pool.updated", f"Pool '{record.name}' updated", user=caller.login,
                 pool_id=pool_id, details={"fields": sorted(changes)})
    request_check(record, "pool saved")
    return record


def delete_pool(caller: Caller, pool_id: int) -> None:
    record = stores.pools.get(caller.tenant_id, pool_id)
    children = [int(p.id) for p in stores.pools.iterate(caller.tenant_id)
                if int(p.doc["pool_definition"].get("parent_pool_id") or 0) == pool_id]
    if children:
        raise Conflict(f"Pool {pool_id} is the parent of pool(s) {', '.join(map(str, children))}")
    used_by = [int(p.id) for p in stores.policies.iterate(caller.tenant_id)
               if any(pool_id in (a.get("pool_id"), a.get("backup_pool_id"))
                      for a in p.doc.get("pool_assignments", []))]
    if used_by:
        raise Conflict(f"Pool {pool_id} is assigned in policy(ies) {', '.join(map(str, used_by))}")
    stores.pools.delete(record)
    audit.record(caller.tenant_id, "pool.deleted", f"Pool '{record.name}' deleted", user=caller.login,
                 pool_id=pool_id)


def request_check(record: PoolRecord, reason: str) -> None:
    """Queue a provisioning check; the worker decides whether anything needs creating."""
    stores.queue.send(messages.pool_check(int(record.tenant_id), int(record.id), reason))


def provision_state(doc: dict[str, Any]) -> tuple[str, str | None]:
    provision = doc.get("provision") or {}
    state = doc.get("provision_state") or {}
    if state.get("stopped_by_broker"):
        return PROVISION_STOPPED_BY_BROKER, state.get("reason")
    return (PROVISION_RUNNING if provision.get("provision_on_off") else PROVISION_STOPPED), None


def list_pools(caller: Caller) -> list[PoolRecord]:
    return stores.pools.list(caller.tenant_id)


def get_pool(caller: Caller, pool_id: int) -> PoolRecord:
    return stores.pools.get(caller.tenant_id, pool_id)
