"""Power actions and deletion of desktops: requested on the HTTP path, carried out by the worker.

A desktop that is not deletable is never deleted: the request is refused, and the worker checks again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from chalicelib.clouds import cloud_for
from chalicelib.domain import messages
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CloudError, CloudNotFound, PowerAction, PowerState
from chalicelib.domain.errors import Conflict
from chalicelib.services import audit, timers
from chalicelib.services.centers import center_access
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters, user_key
from chalicelib.store.models import DesktopRecord

log = logging.getLogger("broker.desktops")
desktops = DesktopStore()
counters = PoolCounters()
POWER_ACTIONS = {action.value for action in PowerAction}
# What each action leads to. A message asking for what the desktop already shows, with no request of it
# pending, was delivered again (SQS delivers at least once) or asks for what is already so: nothing to do.
# A reboot has no such state: a redelivered reboot message reboots again.
_RESULT_OF = {
    PowerAction.START: PowerState.RUNNING,
    PowerAction.RESUME: PowerState.RUNNING,
    PowerAction.STOP: PowerState.STOPPED,
    PowerAction.SUSPEND: PowerState.SUSPENDED,
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_action(caller: Caller, desktop_id: int, action: str) -> DesktopRecord:
    """Queue a power action or a deletion (or release at once); the desktop shows it as pending."""
    desktop = desktops.get(caller.tenant_id, desktop_id)
    if desktop.lifecycle == "deleted":
        raise Conflict(f"Desktop {desktop_id} is deleted")
    if action == "release":
        release(desktop, f"released by {caller.login}")
        return desktop
    if desktop.doc.get("registered"):
        raise Conflict(f"Desktop {desktop_id} was registered by hand: the broker has no power control over "
                       "it (remove it with DELETE /rest/v1/desktops/{id})")
    if not desktop.instance_id:
        raise Conflict(f"Desktop {desktop_id} has no instance yet")
    if action == "delete":
        if not desktop.deletable:
            raise Conflict(f"Desktop {desktop_id} is not deletable; mark it deletable first")
        message = messages.desktop_delete(caller.tenant_id, desktop_id, f"requested by {caller.login}")
    else:
        message = messages.desktop_power(caller.tenant_id, desktop_id, action, f"requested by {caller.login}")
    desktop.doc = {
        **desktop.doc,
        "pending_action": action,
        "pending_since": _now(),
        "last_action_error": None,
    }
    desktops.save(desktop)
    stores.queue.send(message)
    audit.record(
        caller.tenant_id,
        f"desktop.{action}_requested",
        f"{action} of '{desktop.name}' requested",
        user=caller.login,
        pool_id=desktop.pool_id,
        desktop_id=desktop_id,
    )
    return desktop


def release(desktop: DesktopRecord, reason: str) -> None:
    """Unassign the desktop (it goes back to the pool) and queue a provisioning check of its pool."""
    if desktop.assigned_user_id is None:
        return
    user_id = int(desktop.assigned_user_id)
    desktop.assigned_user_id = None
    desktop.user_key = None
    desktop.last_user_key = user_key(int(desktop.tenant_id), user_id)  # for "favor previously assigned"
    desktop.doc = {**desktop.doc, "session": None, "released_at": _now()}
    desktops.save(desktop)
    audit.record(
        int(desktop.tenant_id),
        "desktop.released",
        f"Desktop '{desktop.name}' released: {reason}",
        pool_id=desktop.pool_id,
        desktop_id=int(desktop.id),
        details={"user_id": user_id},
    )
    timers.desktop_released(int(desktop.tenant_id), int(desktop.id))  # the release plan's steps start now
    if desktop.pool_id:
        stores.queue.send(
            messages.pool_check(int(desktop.tenant_id), int(desktop.pool_id), "desktop released")
        )


def _cloud_of(desktop: DesktopRecord) -> Any:
    center = stores.centers.get(int(desktop.tenant_id), int(desktop.center_id))
    return cloud_for(center_access(center))


def handle_power(message: dict[str, Any]) -> None:
    desktop = desktops.find(int(message["tenant_id"]), int(message["desktop_id"]))
    if desktop is None or not desktop.instance_id or desktop.lifecycle == "deleted":
        return
    action = PowerAction(message["action"])
    result = _RESULT_OF.get(action)
    if (
        result is not None
        and desktop.power_state == result.value
        and (desktop.doc.get("pending_action") != action.value)
    ):
        return
    cloud = _cloud_of(desktop)
    error_text = None
    try:
        cloud.power(desktop.instance_id, action)
        server = cloud.get_server(desktop.instance_id)
        if server is not None:
            desktop.power_state = server.power_state.value
    except CloudError as error:
        error_text = error.message
    desktop.doc = {
        **desktop.doc,
        "pending_action": None,
        "last_action": action.value,
        "last_action_at": _now(),
        "last_action_error": error_text,
    }
    desktops.save(desktop)
    outcome = f"failed: {error_text}" if error_text else "done"
    audit.record(
        int(desktop.tenant_id),
        "desktop.power" if not error_text else "desktop.power_failed",
        f"{action.value} of '{desktop.name}' {outcome} ({message.get('reason', '')})",
        pool_id=desktop.pool_id,
        desktop_id=int(desktop.id),
    )


def handle_delete(message: dict[str, Any]) -> None:
    """Terminate the instance (with its volume when the pool said so) and retire the desktop."""
    desktop = desktops.find(int(message["tenant_id"]), int(message["desktop_id"]))
    if desktop is None or desktop.lifecycle == "deleted":
        return
    if not desktop.deletable:
        log.warning("refusing to delete desktop %s: not deletable", desktop.id)
        return
    if desktop.instance_id:
        try:
            _cloud_of(desktop).delete_server(
                desktop.instance_id,
                delete_volumes=bool(desktop.doc.get("delete_volume_on_instance_delete", True)),
            )
        except CloudNotFound:
            pass
        except CloudError as error:
            desktop.doc = {**desktop.doc, "pending_action": None, "last_action_error": error.message}
            desktops.save(desktop)
            audit.record(
                int(desktop.tenant_id),
                "desktop.delete_failed",
                f"Deleting '{desktop.name}' failed: {error.message}",
                desktop_id=int(desktop.id),
            )
            raise  # SQS delivers it again later
    pool_id = desktop.pool_id
    desktop.lifecycle = "deleted"
    desktop.power_state = PowerState.DELETED.value
    desktop.available = False
    desktop.assigned_user_id = None
    desktop.user_key = None
    desktop.doc = {**desktop.doc, "pending_action": None, "deleted_at": _now()}
    counters.move(desktop, None)
    audit.record(
        int(desktop.tenant_id),
        "desktop.deleted",
        f"Desktop '{desktop.name}' deleted ({message.get('reason', '')})",
        pool_id=pool_id,
        desktop_id=int(desktop.id),
    )
    if pool_id:
        stores.queue.send(messages.pool_check(int(desktop.tenant_id), int(pool_id), "desktop deleted"))
