"""Which service handles which queue message: one table the worker reads (`jobs/worker.py` imports this
module with its first message, never with the app, so the HTTP handler module never loads the services
that create instances). This module does not import the worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain import messages
from chalicelib.services import desktop_actions, provisioning, scan

MessageHandler = Callable[[dict[str, Any]], None]

HANDLERS: dict[str, MessageHandler] = {
    messages.POOL_CHECK: provisioning.handle_pool_check,
    messages.DESKTOP_FOLLOW: provisioning.follow_desktop,
    messages.CENTER_CHECK: scan.handle_center_check,
    messages.CENTER_SCAN: scan.handle_center_scan,
    messages.DESKTOP_POWER: desktop_actions.handle_power,
    messages.DESKTOP_DELETE: desktop_actions.handle_delete,
}
