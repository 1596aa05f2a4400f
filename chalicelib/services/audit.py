"""Audit events: one call records who did what, kept for the configured retention.

Events that a request without credentials can cause (failed logins, refused agent registrations) go
through `record_unauthenticated`: at most BROKER_AUDIT_UNAUTHENTICATED_PER_MINUTE (60) of them per tenant
and minute reach the log, then one `audit.suppressed` event says that more were dropped, so a flood of
guesses cannot fill a tenant's log (or its bill). What such an event names is what the request named
of an existing record only: a login as typed is often a password typed into the wrong field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib import clock
from chalicelib.settings import get_settings
from chalicelib.store.repos import AuditBudget, AuditEvent, AuditStore
from chalicelib.store.transactions import Transaction

log = logging.getLogger("broker.audit")
_store = AuditStore()
_budget = AuditBudget()


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
        _store.write([AuditEvent(tenant_id, event_type, message, user, pool_id, desktop_id, details or {})],
                     get_settings().audit_retention_days)
    except Exception:  # the action already happened; losing its log line must not undo it
        log.exception("could not record audit event %s", event_type)


def record_many(events: list[AuditEvent], also: Callable[[Transaction], None] | None = None) -> None:
    """Several events in one write; with `also`, in one transaction with the caller's items."""
    try:
        _store.write(events, get_settings().audit_retention_days, also=also)
    except Exception:  # as in record()
        log.exception("could not record %s audit event(s)", len(events))


def unauthenticated_limit() -> int:
    return get_settings().audit_unauthenticated_per_minute


def record_unauthenticated(tenant_id: int, event_type: str, message: str, *, user: str | None = None,
                           pool_id: int | None = None, desktop_id: int | None = None,
                           details: dict[str, Any] | None = None) -> None:
    """An event caused by a request without credentials, within the tenant's budget of the minute."""
    minute = int(clock.time() // 60)
    limit = unauthenticated_limit()
    try:
        count = _budget.take(tenant_id, minute)
    except Exception:
        log.exception("could not count an unauthenticated audit event")
        return
    if count <= limit:
        record(tenant_id, event_type, message, user=user, pool_id=pool_id, desktop_id=desktop_id,
               details=details)
    elif count == limit + 1:
        record(tenant_id, "audit.suppressed",
               f"More than {limit} events from requests without credentials this minute; the rest of the "
               "minute's are not logged", details={"limit": limit, "minute": minute * 60})
