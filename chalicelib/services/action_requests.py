"""Power actions and deletions asked for by an admin or a plan, as queued for the worker.

The message carries who held the desktop when the action was asked for and the request's id. The worker
refuses a stop, suspend, reboot or delete if the desktop has been claimed since (by another user, or by
the same user again): the action was meant for a desktop nobody used, or for that user's session, never
for the session of whoever holds it now. The id makes a redelivered message a no-op: only the desktop's
pending request is carried out (docs/lifecycle.md, "Actions queued before a claim").
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.entities.desktops import Desktop

# What would take the desktop away from whoever uses it. Start and resume never hurt a new holder.
DESTRUCTIVE_ACTIONS = frozenset({"stop", "suspend", "reboot", "delete"})


def holder_of(desktop: Desktop) -> dict[str, Any]:
    """Who holds the desktop: the user and the time of their claim (a later claim is another holding)."""
    if desktop.assigned_user_id is None:
        return {"user_id": None, "claimed_at": None}
    return {"user_id": desktop.assigned_user_id, "claimed_at": desktop.last_offered}


def claimed_since(message: dict[str, Any], desktop: Desktop) -> bool:
    """True when someone holds the desktop now who did not hold it when the action was asked for. A
    message without a holder (queued before holders were recorded) counts as asked for a free desktop."""
    now = holder_of(desktop)
    if now["user_id"] is None:
        return False
    queued = message.get("holder") or {"user_id": None, "claimed_at": None}
    return (queued.get("user_id"), queued.get("claimed_at")) != (now["user_id"], now["claimed_at"])


def refused(message: dict[str, Any], desktop: Desktop, action: str) -> bool:
    return action in DESTRUCTIVE_ACTIONS and claimed_since(message, desktop)


def mark_requested(desktop: Desktop, action: str, reason: str, since: str) -> tuple[Desktop, dict[str, Any]]:
    """The desktop showing the action as pending (the caller writes it), and the message that carries
    it out."""
    request = uuid.uuid4().hex[:16]
    marked = replace(desktop, pending_action=action, pending_since=since, pending_request=request,
                     last_action_error=None)
    tenant_id, desktop_id, holder = desktop.tenant_id, desktop.id, holder_of(desktop)
    if action == "delete":
        return marked, messages.desktop_delete(tenant_id, desktop_id, reason, holder=holder, request=request)
    return marked, messages.desktop_power(tenant_id, desktop_id, action, reason, holder=holder,
                                          request=request)
