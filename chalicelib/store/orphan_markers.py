"""Orphan markers: when a scan first saw an instance the broker created but has no record of, and which
scan removes it (docs/clouds.md; ARCHITECTURE.md invariant 3)."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import MarkerRecord
from chalicelib.store.transactions import condition_failed

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
