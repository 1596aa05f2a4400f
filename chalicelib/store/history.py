"""What the forecast reads (docs/provisioning.md, "Forecast"): a pool's history samples and a tenant's
provisioning events since a moment, newest first, each bounded so that one request stays small."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.store.binding import ensure_bound
from chalicelib.store.desktops import pool_key
from chalicelib.store.models import AuditRecord, PoolHistoryRecord

# Eight weeks of samples every 5 minutes (the schedule's rate) is 16 128: the newest this many are read.
MAX_SAMPLES = 20_000
MAX_EVENTS = 5_000


def samples_since(tenant_id: int, pool_id: int, since: float,
                  max_samples: int = MAX_SAMPLES) -> Iterator[tuple[float, dict[str, Any]]]:
    """(epoch seconds, size info) of the pool's samples taken at or after `since`, newest first."""
    ensure_bound()
    for record in PoolHistoryRecord.query(pool_key(tenant_id, pool_id), PoolHistoryRecord.ts >= int(since),
                                          scan_index_forward=False, limit=max_samples):
        yield float(record.ts), dict(record.data or {})


def provisioning_events_since(tenant_id: int, since: float, max_events: int = MAX_EVENTS
                              ) -> Iterator[AuditRecord]:
    """The tenant's `provision.*` audit events recorded at or after `since`, newest first."""
    ensure_bound()
    low = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    yield from AuditRecord.query(tenant_id, AuditRecord.event_key >= low,
                                 filter_condition=AuditRecord.type.startswith("provision."),
                                 scan_index_forward=False, limit=max_events)
