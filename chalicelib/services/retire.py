"""The one way a desktop is marked deleted: after the worker deleted its instance (an admin's or a plan's
delete, services/desktop_actions.py) and when the scan finds its instance gone (services/scan.py).

Retiring a desktop: lifecycle and power state `deleted`, unavailable, no holder, nothing pending, the time
stamped (the scan purges the record some days later); it leaves its pool's count in the same transaction,
and a pool check is queued so that a provisioning pool replaces it. Each caller records its own audit event
(a deletion and a vanished instance are different news to an admin).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.clock import utc_iso
from chalicelib.domain import messages
from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.errors import Conflict
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters

WRITE_ATTEMPTS = 5  # a desktop written meanwhile (a heartbeat) is read again: its instance is still gone
_desktops = DesktopStore()
_counters = PoolCounters()


def _retired(desktop: Desktop, deleted_at: str) -> Desktop:
    return replace(desktop, lifecycle=DesktopLifecycle.DELETED, power_state=PowerState.DELETED,
                   available=False, assigned_user_id=None, pending_action=None, deleted_at=deleted_at)


@dataclass(frozen=True)
class Retired:
    desktop: Desktop  # as written
    pool_id: int | None  # the pool it left


def retire(desktop: Desktop, reason: str) -> Retired | None:
    """Mark the desktop (as read) deleted and take it out of its pool; `reason` goes with the pool check.
    None when there was nothing to do: retired already (another delivery, another scan), its record gone,
    or it names another instance now."""
    instance_id = desktop.instance_id
    for _ in range(WRITE_ATTEMPTS):
        pool_id = desktop.pool_id
        try:
            desktop = _counters.move(_retired(desktop, utc_iso()), None)
            break
        except Conflict:  # written meanwhile: its instance is still gone, say so again
            found = _desktops.find(desktop.tenant_id, desktop.id)
            if (found is None or found.lifecycle == DesktopLifecycle.DELETED
                    or found.instance_id != instance_id):
                return None
            desktop = found
    else:
        raise Conflict(f"Desktop {desktop.id} keeps changing; the next attempt retires it")
    if pool_id:
        stores.queue.send(messages.pool_check(desktop.tenant_id, pool_id, reason))
    return Retired(desktop, pool_id)
