"""Which service handles which queue message (imported by the worker with its first message)."""

from __future__ import annotations

from chalicelib.domain import messages
from chalicelib.jobs.worker import register
from chalicelib.services import desktop_actions, provisioning, scan

register(messages.POOL_CHECK, provisioning.handle_pool_check)
register(messages.DESKTOP_FOLLOW, provisioning.follow_desktop)
register(messages.CENTER_CHECK, scan.handle_center_check)
register(messages.CENTER_SCAN, scan.handle_center_scan)
register(messages.DESKTOP_POWER, desktop_actions.handle_power)
register(messages.DESKTOP_DELETE, desktop_actions.handle_delete)
