"""Pending pool checks: at most one queued provisioning check per pool (a login that finds a pool short
queues one only when no other is pending; the worker clears the marker when the check starts)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from chalicelib import clock
from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import MarkerRecord
from chalicelib.store.transactions import condition_failed, unavailable_as_broker_error


def pending_check_key(tenant_id: int, pool_id: int) -> str:
    return f"check-pending#{tenant_id}#{pool_id}"


class PendingChecks:
    """At most one queued provisioning check per pool: a marker that expires by itself."""

    def try_mark(self, tenant_id: int, pool_id: int, seconds: int, now: float | None = None) -> bool:
        """True when no check was pending (so the caller should queue one); the marker lasts `seconds`."""
        ensure_bound()
        now = int(now if now is not None else clock.time())
        nonce = secrets.randbelow(2**52)  # makes a retried write of this same marker pass its condition
        marker = MarkerRecord(
            key=pending_check_key(tenant_id, pool_id),
            value=nonce,
            until=now + seconds,
            expires_at=datetime.fromtimestamp(now + seconds + 3600, UTC),
        )
        free = MarkerRecord.key.does_not_exist() | (MarkerRecord.until <= now) | (MarkerRecord.value == nonce)
        try:
            with unavailable_as_broker_error():
                marker.save(condition=free)
        except PutError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def clear(self, tenant_id: int, pool_id: int) -> None:
        """StoreUnavailable when the database does not answer (the marker then expires by itself)."""
        ensure_bound()
        with unavailable_as_broker_error():
            MarkerRecord(key=pending_check_key(tenant_id, pool_id)).delete()


def clear_pending_check(tenant_id: int, pool_id: int) -> None:
    """For the worker: call at the start of a pool check, so a login after it queues the next one."""
    PendingChecks().clear(tenant_id, pool_id)
