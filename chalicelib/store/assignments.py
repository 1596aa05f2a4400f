"""Pending pool checks: at most one queued provisioning check per pool (claims are in claims.py,
login attempts in login_attempts.py, login names in login_names.py, client tokens in client_tokens.py)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import MarkerRecord
from chalicelib.store.transactions import condition_failed, unavailable_as_broker_error

# ------------------------------------------------------------------------------------------ pool checks


def pending_check_key(tenant_id: int, pool_id: int) -> str:
    return f"check-pending#{tenant_id}#{pool_id}"


class PendingChecks:
    """At most one queued provisioning check per pool: a marker that expires by itself."""

    def try_mark(self, tenant_id: int, pool_id: int, seconds: int, now: float | None = None) -> bool:
        """True when no check was pending (so the caller should queue one); the marker lasts `seconds`."""
        ensure_bound()
        now = int(now if now is not None else time.time())
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


# ------------------------------------------------------------------------------------------ orphans

ORPHAN_MARKER_DAYS = 30
REMOVAL_CLAIM_SECONDS = 600  # a removal claimed this recently is another scan's (or was just done)


class OrphanMarkers:
    """When a scan first saw an instance with the broker's metadata and no record (`orphan#<tenant>#<id>`,
    `since`), and which scan removes it (`until`), so that of two scans at once only one does."""

    @staticmethod
    def _key(tenant_id: int, instance_id: str) -> str:
        return f"orphan#{tenant_id}#{instance_id}"

    def first_seen(self, tenant_id: int, instance_id: str, now: float) -> float:
        """When the orphan was first seen (now, if this is the first time: the marker is written)."""
        ensure_bound()
        key = self._key(tenant_id, instance_id)
        marker = MarkerRecord(key=key, since=int(now),
                              expires_at=datetime.fromtimestamp(now + ORPHAN_MARKER_DAYS * 86400, UTC))
        try:
            marker.save(condition=MarkerRecord.key.does_not_exist())
            return now
        except PutError as error:
            if not condition_failed(error):
                raise
        return float(MarkerRecord.get(key, consistent_read=True).since or now)

    def claim_removal(self, tenant_id: int, instance_id: str, now: float) -> bool:
        """Take the removal of the orphan unless another scan took it less than REMOVAL_CLAIM_SECONDS ago
        (a compare-and-set on `until`)."""
        ensure_bound()
        marker = MarkerRecord.get(self._key(tenant_id, instance_id), consistent_read=True)
        claimed_before = marker.until
        if claimed_before is not None and now - float(claimed_before) < REMOVAL_CLAIM_SECONDS:
            return False
        condition = MarkerRecord.until.does_not_exist() if claimed_before is None else (
            MarkerRecord.until == claimed_before)
        try:
            marker.update(actions=[MarkerRecord.until.set(int(now))], condition=condition)
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True
