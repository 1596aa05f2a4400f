"""Desktops for admins: list with filters, read, and change availability, deletability, display name."""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.domain.caller import Caller
from chalicelib.domain.errors import BadData
from chalicelib.schemas.desktops import DesktopListQuery, DesktopUpdate
from chalicelib.services import audit
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import DesktopRecord

_store = DesktopStore()


def list_desktops(caller: Caller, query: DesktopListQuery) -> Iterator[DesktopRecord]:
    if query.pool_id is not None:
        source = iter(_store.of_pool(caller.tenant_id, query.pool_id))
    elif query.center_id is not None:
        source = iter(_store.of_center(caller.tenant_id, query.center_id))
    else:
        source = _store.of_tenant(caller.tenant_id)
    for desktop in source:
        if query.center_id is not None and int(desktop.center_id) != query.center_id:
            continue
        if query.status is not None and desktop.power_state != query.status:
            continue
        if query.assigned is not None and (desktop.assigned_user_id is not None) != bool(query.assigned):
            continue
        if not query.include_deleted and desktop.lifecycle == "deleted" and query.status != "deleted":
            continue
        yield desktop


def get_desktop(caller: Caller, desktop_id: int) -> DesktopRecord:
    return _store.get(caller.tenant_id, desktop_id)


def update_desktop(caller: Caller, desktop_id: int, body: DesktopUpdate) -> DesktopRecord:
    desktop = _store.get(caller.tenant_id, desktop_id)
    if body.id is not None and body.id != desktop_id:
        raise BadData.field("/body/id", "does not match the id in the path")
    changes = body.model_dump(exclude_unset=True, exclude={"id"})
    if "display_name" in changes:
        desktop.display_name = changes["display_name"]
    if "available" in changes:
        desktop.available = bool(changes["available"])
    if "deletable" in changes:
        desktop.deletable = bool(changes["deletable"])
    _store.save(desktop)
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
