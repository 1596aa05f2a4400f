"""Messages on the provisioning queue. The worker is the only consumer; senders never wait."""

from __future__ import annotations

from typing import Any

POOL_CHECK = "pool.check"  # is the pool below its threshold? create what is missing
CENTER_CHECK = "center.check"  # verify credentials, refresh inventory
CENTER_SCAN = "center.scan"  # turn servers into desktops


def pool_check(tenant_id: int, pool_id: int, reason: str) -> dict[str, Any]:
    return {"type": POOL_CHECK, "tenant_id": tenant_id, "pool_id": pool_id, "reason": reason}


def center_check(tenant_id: int, center_id: int, reason: str) -> dict[str, Any]:
    return {"type": CENTER_CHECK, "tenant_id": tenant_id, "center_id": center_id, "reason": reason}


def center_scan(tenant_id: int, center_id: int, reason: str) -> dict[str, Any]:
    return {"type": CENTER_SCAN, "tenant_id": tenant_id, "center_id": center_id, "reason": reason}


DESKTOP_FOLLOW = "desktop.follow"  # follow a new instance from BUILD to ACTIVE, then finish it


def desktop_follow(tenant_id: int, desktop_id: int, attempt: int = 0, step: int = 0) -> dict[str, Any]:
    return {
        "type": DESKTOP_FOLLOW,
        "tenant_id": tenant_id,
        "desktop_id": desktop_id,
        "attempt": attempt,
        "step": step,
    }


DESKTOP_POWER = "desktop.power"  # start, stop, reboot, suspend, resume one desktop's instance
DESKTOP_DELETE = "desktop.delete"  # terminate a deletable desktop's instance (and its volume when asked)


def _requested(message: dict[str, Any], holder: dict[str, Any] | None, request: str | None) -> dict[str, Any]:
    """`holder`: who held the desktop when the action was asked for (services/action_requests.py);
    `request`: the request's id, so that a redelivered message is carried out once. Absent when the
    sender has none (a login's start)."""
    if holder is not None:
        message["holder"] = holder
    if request is not None:
        message["request"] = request
    return message


def desktop_power(
    tenant_id: int,
    desktop_id: int,
    action: str,
    reason: str = "",
    *,
    holder: dict[str, Any] | None = None,
    request: str | None = None,
) -> dict[str, Any]:
    message = {"type": DESKTOP_POWER, "tenant_id": tenant_id, "desktop_id": desktop_id, "action": action,
               "reason": reason}
    return _requested(message, holder, request)


def desktop_delete(
    tenant_id: int,
    desktop_id: int,
    reason: str = "",
    *,
    holder: dict[str, Any] | None = None,
    request: str | None = None,
) -> dict[str, Any]:
    message = {"type": DESKTOP_DELETE, "tenant_id": tenant_id, "desktop_id": desktop_id, "reason": reason}
    return _requested(message, holder, request)
