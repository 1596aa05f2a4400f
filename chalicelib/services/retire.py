"""The one way a desktop is marked deleted: after the worker deleted its instance (an admin's or a plan's
delete, services/desktop_actions.py) and when the scan finds its instance gone (services/scan.py).

Retiring a desktop: lifecycle and power state `deleted`, unavailable, no holder, nothing pending, the time
stamped (the scan purges the record some days later); it leaves its pool's count in the same transaction,
and a pool check is queued so that a provisioning pool replaces it. Each caller records its own audit event
(a deletion and a vanished instance are different news to an admin).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.clock import utc_iso
from chalicelib.domain import messages
from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.errors import Conflict
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters
from chalicelib.store.models import DesktopRecord

WRITE_ATTEMPTS = 5  # a desktop written meanwhile (a heartbeat) is read again: its instance is still gone
_desktops = DesktopStore()
_counters = PoolCounters()


def _mark_retired(desktop: DesktopRecord, deleted_at: str) -> None:
    desktop.lifecycle = DesktopLifecycle.DELETED
    desktop.power_state = PowerState.DELETED.value
    desktop.available = False
    desktop.assigned_user_id = None
    desktop.user_key = None
    desktop.doc = {**desktop.doc, "pending_action": None, "deleted_at": deleted_at}


@dataclass(frozen=True)
class Retired:
    desktop: DesktopRecord  # as written
    pool_id: int | None  # the pool it left


def retire(desktop: DesktopRecord, reason: str) -> Retired | None:
    """Mark the desktop (as read) deleted and take it out of its pool; `reason` goes with the pool check.
    None when there was nothing to do: retired already (another delivery, another scan), its record gone,
    or it names another instance now."""
    instance_id = desktop.instance_id
    for _ in range(WRITE_ATTEMPTS):
        pool_id = int(desktop.pool_id) if desktop.pool_id else None
        _mark_retired(desktop, utc_iso())
        try:
            _counters.move(desktop, None)
            break
        except Conflict:  # written meanwhile: its instance is still gone, say so again
            found = _desktops.find(int(desktop.tenant_id), int(desktop.id))
            if (found is None or found.lifecycle == DesktopLifecycle.DELETED
                    or found.instance_id != instance_id):
                return None
            desktop = found
    else:
        raise Conflict(f"Desktop {desktop.id} keeps changing; the next attempt retires it")
    if pool_id:
        stores.queue.send(messages.pool_check(int(desktop.tenant_id), pool_id, reason))
    return Retired(desktop, pool_id)
