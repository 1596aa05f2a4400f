"""Desktops for admins: list with filters, read, and change availability, deletability, display name; and
desktops registered by hand in an uncategorized center (by name and address; the broker never touches a
cloud for them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from chalicelib.domain import pools as pool_rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.errors import BadData, Conflict, NotUnique
from chalicelib.domain.kinds import UNCATEGORIZED
from chalicelib.schemas.desktops import DesktopListQuery, DesktopRegister, DesktopUpdate
from chalicelib.services import audit
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, registered_guard

_store = DesktopStore()


def list_desktops(caller: Caller, query: DesktopListQuery) -> Iterator[Desktop]:
    if query.pool_id is not None:
        source = iter(_store.of_pool(caller.tenant_id, query.pool_id))
    elif query.center_id is not None:
        source = iter(_store.of_center(caller.tenant_id, query.center_id))
    else:
        source = _store.of_tenant(caller.tenant_id)
    for desktop in source:
        if query.center_id is not None and desktop.center_id != query.center_id:
            continue
        if query.status is not None and desktop.power_state != query.status:
            continue
        if query.assigned is not None and (desktop.assigned_user_id is not None) != bool(query.assigned):
            continue
        deleted = desktop.lifecycle == DesktopLifecycle.DELETED
        if not query.include_deleted and deleted and query.status != DesktopLifecycle.DELETED:
            continue
        yield desktop


def get_desktop(caller: Caller, desktop_id: int) -> Desktop:
    return _store.get(caller.tenant_id, desktop_id)


def update_desktop(caller: Caller, desktop_id: int, body: DesktopUpdate) -> Desktop:
    desktop = _store.get(caller.tenant_id, desktop_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id"})
    if "display_name" in changes:
        desktop = replace(desktop, display_name=changes["display_name"])
    if "available" in changes:
        desktop = replace(desktop, available=bool(changes["available"]))
    if "deletable" in changes:
        desktop = replace(desktop, deletable=bool(changes["deletable"]))
    desktop = _store.save(desktop)
    audit.record(
        caller.tenant_id,
        "desktop.updated",
        f"Desktop '{desktop.name}' updated",
        user=caller.login,
        pool_id=desktop.pool_id,
        desktop_id=desktop_id,
        details={"fields": sorted(changes)},
    )
    return desktop


# ------------------------------------------------------------------------------- registered by hand


def register_desktop(caller: Caller, body: DesktopRegister) -> Desktop:
    """Add a desktop of an uncategorized center; it joins the pool whose definition matches it."""
    center = stores.centers.find(caller.tenant_id, body.center_id)
    if center is None:
        raise BadData.field("/body/center_id", f"Center {body.center_id} does not exist")
    if center.type != UNCATEGORIZED:
        raise BadData.field("/body/center_id", "Desktops are registered by hand in an uncategorized center "
                                               "only; a cloud's desktops come from its scans")
    display_name = body.display_name or body.name
    available = bool(body.available) if body.available is not None else not center.init_unavailable
    desktop = _store.new(caller.tenant_id, body.center_id, None, body.name, display_name=display_name,
                         lifecycle=DesktopLifecycle.ACTIVE, available=available, deletable=False,
                         power_state=PowerState.RUNNING, fixed_addresses=(body.address,), registered=True)
    pools = [(p.id, p.pool_definition) for p in stores.pools.list(caller.tenant_id)]
    pool_id = pool_rules.pool_for_desktop(pools, body.center_id, body.name, display_name, [body.address])
    try:
        desktop = _store.add_counted(desktop, pool_id,
                                     registered_guard(caller.tenant_id, body.center_id, body.name))
    except Conflict as error:
        message = f"Center {body.center_id} already has a desktop named '{body.name}'"
        raise NotUnique(message, "name") from error
    audit.record(caller.tenant_id, "desktop.registered", f"Desktop '{desktop.name}' registered by hand",
                 user=caller.login, pool_id=pool_id, desktop_id=desktop.id,
                 details={"center_id": body.center_id, "address": body.address})
    return desktop


def unregister_desktop(caller: Caller, desktop_id: int) -> None:
    """Remove a desktop registered by hand (a cloud's desktops are deleted through their actions)."""
    desktop = _store.get(caller.tenant_id, desktop_id)
    if not desktop.registered:
        raise Conflict(f"Desktop {desktop_id} belongs to a cloud: delete it with the 'delete' action")
    if desktop.assigned_user_id is not None:
        raise Conflict(f"Desktop {desktop_id} is assigned to a user; release it first")
    try:
        guard = registered_guard(caller.tenant_id, desktop.center_id, desktop.name)
        _store.remove_counted(desktop, guard)
    except Conflict as error:
        raise Conflict(f"Desktop {desktop_id} was changed meanwhile; try again") from error
    audit.record(caller.tenant_id, "desktop.unregistered", f"Desktop '{desktop.name}' removed",
                 user=caller.login, pool_id=desktop.pool_id, desktop_id=desktop_id)


def registered_in(tenant_id: int, center_id: int) -> list[Desktop]:
    return [d for d in _store.of_center(tenant_id, center_id) if d.registered]
