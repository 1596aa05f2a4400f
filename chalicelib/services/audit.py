"""Audit events: one call records who did what, kept for the configured retention."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store.repos import AuditStore

log = logging.getLogger("broker.audit")
_store = AuditStore()


def record(
    tenant_id: int,
    event_type: str,
    message: str,
    *,
    user: str | None = None,
    pool_id: int | None = None,
    desktop_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Store the event; an audit failure is logged but never fails the action it describes."""
    try:
        _store.record(
            tenant_id,
            event_type,
            message,
            retention_days=get_settings().audit_retention_days,
            user=user,
            pool_id=pool_id,
            desktop_id=desktop_id,
            details=details,
        )
    except Exception:  # the action already happened; losing its log line must not undo it
        log.exception("could not record audit event %s", event_type)
