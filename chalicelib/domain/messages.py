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


MAX_DELAY_SECONDS = 900  # SQS's longest delay of one message: a longer wait is a chain of them


def desktop_follow(
    tenant_id: int, desktop_id: int, attempt: int = 0, step: int = 0, wait_left: int = 0
) -> dict[str, Any]:
    """`wait_left`: seconds the action at `step` still waits after this message's own delay."""
    message = {
        "type": DESKTOP_FOLLOW,
        "tenant_id": tenant_id,
        "desktop_id": desktop_id,
        "attempt": attempt,
        "step": step,
    }
    return {**message, "wait_left": wait_left} if wait_left > 0 else message


def waiting_follow(tenant_id: int, desktop_id: int, step: int, wait: int) -> tuple[dict[str, Any], int]:
    """The follow that resumes at `step` once `wait` seconds have passed, and its delay: the first link of a
    chain of messages when the wait is longer than one message can be delayed."""
    delay = min(wait, MAX_DELAY_SECONDS)
    return desktop_follow(tenant_id, desktop_id, 0, step, wait - delay), delay


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
