"""Power actions and deletion of desktops: requested on the HTTP path, carried out by the worker.

A desktop that is not deletable is never deleted: the request is refused, and the worker checks again.
A stop, suspend, reboot or delete is refused by the worker if the desktop was claimed after it was asked
for, and each request is carried out once however often its message is delivered (action_requests.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib.clock import utc_iso
from chalicelib.clouds import cloud_for
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CloudError, CloudNotFound, PowerAction, PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.errors import Conflict
from chalicelib.services import action_requests, audit, releases
from chalicelib.services import retire as retirement
from chalicelib.services.centers import center_access
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters

log = logging.getLogger("broker.desktops")
desktops = DesktopStore()
counters = PoolCounters()
POWER_ACTIONS = {action.value for action in PowerAction}
WRITE_ATTEMPTS = 5  # a desktop written by someone else meanwhile (a heartbeat, a claim) is re-read
# What each action leads to. A message without a request id (a login's start) asking for what the desktop
# already shows, with no request of it pending, was delivered again or asks for what is already so.
_RESULT_OF = {
    PowerAction.START: PowerState.RUNNING,
    PowerAction.RESUME: PowerState.RUNNING,
    PowerAction.STOP: PowerState.STOPPED,
    PowerAction.SUSPEND: PowerState.SUSPENDED,
}


def request_action(caller: Caller, desktop_id: int, action: str) -> Desktop:
    """Queue a power action or a deletion (or release at once); the desktop shows it as pending."""
    desktop = desktops.get(caller.tenant_id, desktop_id)
    if desktop.lifecycle == DesktopLifecycle.DELETED:
        raise Conflict(f"Desktop {desktop_id} is deleted")
    if action == "release":
        return releases.release(desktop, f"released by {caller.login}", by=caller.login) or desktop
    if desktop.registered:
        raise Conflict(f"Desktop {desktop_id} was registered by hand: the broker has no power control over "
                       "it (remove it with DELETE /rest/v1/desktops/{id})")
    if not desktop.instance_id:
        raise Conflict(f"Desktop {desktop_id} has no instance yet")
    if action == "delete" and not desktop.deletable:
        raise Conflict(f"Desktop {desktop_id} is not deletable; mark it deletable first")
    desktop, message = action_requests.mark_requested(desktop, action, f"requested by {caller.login}",
                                                      utc_iso())
    desktop = desktops.save(desktop)
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


def _cloud_of(desktop: Desktop) -> Any:
    center = stores.centers.get(desktop.tenant_id, desktop.center_id)
    return cloud_for(center_access(center))


def _write(desktop: Desktop, change: Callable[[Desktop], Desktop | None]) -> Desktop | None:
    """Save the desktop `change` makes of it, under the version it was read at; if the desktop was written
    meanwhile, re-read it and apply `change` again. None when `change` says there is nothing to write
    (None), or the desktop is gone."""
    for _ in range(WRITE_ATTEMPTS):
        changed = change(desktop)
        if changed is None:
            return None
        try:
            return desktops.save(changed)
        except Conflict:
            pass  # written meanwhile: read it again
        found = desktops.find(desktop.tenant_id, desktop.id)
        if found is None:
            return None
        desktop = found
    raise Conflict(f"Desktop {desktop.id} keeps changing; the message is delivered again later")


def _take(message: dict[str, Any], desktop: Desktop, action: str) -> Desktop | None:
    """The desktop to carry the action out on, or None when there is nothing to do. A message with a
    request id is carried out only while that request is the desktop's pending one (a redelivery after
    it was carried out or refused, or a request replaced by a later one, does nothing), and it is taken
    off the desktop with a version-checked write, so of two deliveries at once only one goes on. A
    destructive action on a desktop claimed since it was asked for is refused, and the refusal audited."""
    request = message.get("request")
    verdict = ""

    def take(current: Desktop) -> Desktop | None:
        nonlocal verdict
        verdict = "nothing"
        replaced_or_done = request is not None and current.pending_request != request
        if current.lifecycle == DesktopLifecycle.DELETED or replaced_or_done:
            return None
        if action_requests.refused(message, current, action):
            verdict = "refused"
            holder = action_requests.holder_of(current)["user_id"]
            return replace(current, pending_action=None, pending_request=None,
                           last_action_error=f"Refused: the desktop was claimed by user {holder} after the "
                                             f"{action} was asked for ({message.get('reason', '')})")
        verdict = "go"
        if request is None:
            return None  # nothing to take off the desktop
        return replace(current, pending_request=None)

    written = _write(desktop, take)
    if verdict == "refused" and written is not None:
        holder = action_requests.holder_of(written)
        audit.record(
            written.tenant_id,
            "desktop.action_refused",
            f"{action} of '{written.name}' refused: claimed by user {holder['user_id']} after it was asked "
            f"for ({message.get('reason', '')})",
            pool_id=written.pool_id,
            desktop_id=written.id,
            details={"action": action, "holder_now": holder, "holder_asked": message.get("holder")},
        )
    if verdict != "go":
        return None
    return written or desktop


def handle_power(message: dict[str, Any]) -> None:
    desktop = desktops.find(int(message["tenant_id"]), int(message["desktop_id"]))
    if desktop is None or not desktop.instance_id or desktop.lifecycle == DesktopLifecycle.DELETED:
        return
    action = PowerAction(message["action"])
    result = _RESULT_OF.get(action)
    if (
        message.get("request") is None
        and result is not None
        and desktop.power_state == result
        and desktop.pending_action != action.value
    ):
        return
    taken = _take(message, desktop, action.value)
    if taken is None:
        return
    desktop = taken
    cloud = _cloud_of(desktop)
    error_text = None
    power_state: PowerState | None = None
    try:
        cloud.power(desktop.instance_id, action)
        server = cloud.get_server(desktop.instance_id)
        if server is not None:
            power_state = server.power_state
    except CloudError as error:
        error_text = error.message

    def outcome(current: Desktop) -> Desktop:
        return replace(
            current,
            power_state=current.power_state if power_state is None else power_state,
            # a later request of another action stays pending
            pending_action=None if current.pending_request is None else current.pending_action,
            last_action=action.value,
            last_action_at=utc_iso(),
            last_action_error=error_text,
        )

    if _write(desktop, outcome) is None:
        return
    outcome_text = f"failed: {error_text}" if error_text else "done"
    audit.record(
        desktop.tenant_id,
        "desktop.power" if not error_text else "desktop.power_failed",
        f"{action.value} of '{desktop.name}' {outcome_text} ({message.get('reason', '')})",
        pool_id=desktop.pool_id,
        desktop_id=desktop.id,
    )


def handle_delete(message: dict[str, Any]) -> None:
    """Terminate the instance (with its volume when the pool said so) and retire the desktop."""
    desktop = desktops.find(int(message["tenant_id"]), int(message["desktop_id"]))
    if desktop is None or desktop.lifecycle == DesktopLifecycle.DELETED:
        return
    if not desktop.deletable:
        log.warning("refusing to delete desktop %s: not deletable", desktop.id)
        return
    taken = _take(message, desktop, "delete")
    if taken is None:
        return
    desktop = taken
    if desktop.instance_id:
        try:
            _cloud_of(desktop).delete_server(
                desktop.instance_id,
                delete_volumes=desktop.delete_volume_on_instance_delete,
            )
        except CloudNotFound:
            pass
        except CloudError as error:
            failure = error.message

            def still_pending(current: Desktop) -> Desktop:
                # SQS delivers the message again later: its request must still be the pending one then
                pending = current.pending_request
                return replace(current, last_action_error=failure,
                               pending_request=pending if pending is not None else message.get("request"))

            _write(desktop, still_pending)
            audit.record(
                desktop.tenant_id,
                "desktop.delete_failed",
                f"Deleting '{desktop.name}' failed: {failure}",
                desktop_id=desktop.id,
            )
            raise
    retired = retirement.retire(desktop, "desktop deleted")
    if retired is None:
        return  # already retired by another delivery, or its record is gone
    desktop, pool_id = retired.desktop, retired.pool_id
    audit.record(
        desktop.tenant_id,
        "desktop.deleted",
        f"Desktop '{desktop.name}' deleted ({message.get('reason', '')})",
        pool_id=pool_id,
        desktop_id=desktop.id,
    )
