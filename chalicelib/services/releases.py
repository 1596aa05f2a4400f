"""The one release of a desktop, whoever asks for it: its user (client API), an admin (REST API), or a
plan (a logout or a disconnect timer, through `timers.Changes.release`).

A release does the same every time (docs/design.md, "One release"):
- the desktop record: holder cleared and remembered as the last one, the release's time stamped, the
  agent's session kept (`store/claims.take_back`);
- the user's `held` set loses the desktop in the same transaction, so the per-user limit counts it free at
  once (`DesktopClaims.save_released`);
- the release plan's steps (stop, suspend, delete) or the power-control plan's `on_release` are set in the
  same write;
- after the write: one audit event and a pool check, so a pool that refills on release refills.
"""

from __future__ import annotations

from chalicelib import clock
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Conflict
from chalicelib.services import timers
from chalicelib.store.claims import released_by
from chalicelib.store.desktops import DesktopStore

WRITE_ATTEMPTS = 5  # a desktop written by someone else meanwhile (a heartbeat) is read again
_desktops = DesktopStore()


def release(desktop: Desktop, reason: str, *, holder: User | None = None, by: str | None = None,
            event: str = timers.RELEASED_EVENT, now: float | None = None) -> Desktop | None:
    """Release the desktop (as read) from whoever holds it, or only from `holder` when given. The desktop
    as written, or None when it is not (or no longer) held (by `holder`)."""
    at = clock.time() if now is None else now
    for _ in range(WRITE_ATTEMPTS):
        if desktop.assigned_user_id is None or (holder is not None and desktop.assigned_user_id != holder.id):
            return None
        changes = timers.Changes(desktop, at)
        changes.release(reason, None, event=event, by=by, holder=holder)
        try:
            changes.save()
        except Conflict:
            found = _desktops.find(desktop.tenant_id, desktop.id)
            if found is None:
                return None
            desktop = found
            continue
        changes.announce()
        return changes.desktop
    raise Conflict(f"Desktop {desktop.id} keeps changing; try again")


def release_held(user: User, desktop_id: int, *, reason: str = "released by its user",
                 by: str | None = None, event: str = timers.RELEASED_EVENT) -> Desktop | None:
    """The user gives the desktop back. None when it is not theirs; a release sent again after it was
    applied (a retried request) gets the same answer as the first time."""
    current = _desktops.find(user.tenant_id, desktop_id)
    if current is None:
        return None
    if current.assigned_user_id != user.id:
        return current if released_by(current, user) else None
    released = release(current, reason, holder=user, by=by, event=event)
    if released is None:  # someone else released it meanwhile
        again = _desktops.find(user.tenant_id, desktop_id)
        return again if again is not None and released_by(again, user) else None
    return released
