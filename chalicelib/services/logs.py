"""The audit log for admins (`GET /rest/v1/logs`): one Query on the tenant's partition, the time range
as the key condition (`event_key` starts with the event's ISO time), the other filters in the Query's
FilterExpression, and pagination by an opaque `next` (the last event_key returned, base64url).

Events are kept `BROKER_AUDIT_RETENTION_DAYS` (default 30) through the table's TTL; as TTL deletion is
lazy, and the retention may have been shortened since an event was written, the listing never reaches
further back than the retention itself.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from chalicelib import clock
from chalicelib.domain.caller import Caller
from chalicelib.domain.errors import BadData
from chalicelib.schemas.lifecycle import LogQuery
from chalicelib.settings import get_settings
from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import AuditRecord

_EVENT_KEY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z#[0-9a-f]{1,32}$")
_HIGH = "\uffff"


def key_time(epoch: float) -> str:
    """The event_key prefix of a moment (event keys are `<ISO time with microseconds>Z#<random>`)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_next(event_key: str) -> str:
    return base64.urlsafe_b64encode(event_key.encode()).decode().rstrip("=")


def decode_next(token: str) -> str:
    try:
        key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = ""
    if not _EVENT_KEY.match(key):
        raise BadData.field("/query/next", "Not a `next` value this API returned")
    return key


def _type_condition(value: str) -> Any:
    if value.endswith("*"):
        return AuditRecord.type.startswith(value[:-1])
    return AuditRecord.type == value


def list_events(caller: Caller, query: LogQuery,
                now: float | None = None) -> tuple[list[AuditRecord], str | None]:
    """One page of the caller's tenant's events, newest first unless `order=asc`."""
    ensure_bound()
    now = clock.time() if now is None else now
    start, end = query.start, query.end
    if start is not None and end is not None and start > end:
        raise BadData.field("/query/to", "`to` is before `from`")
    oldest = now - get_settings().audit_retention_days * 86400
    low = key_time(max(start if start is not None else 0.0, oldest))
    high = (key_time(end) + "#" + _HIGH) if end is not None else _HIGH
    newest_first = query.order == "desc"
    after = decode_next(query.next) if query.next else None
    if after is not None:
        # Strictly beyond the last event of the previous page (it is dropped below if it is read again).
        if newest_first:
            high = min(high, after)
        else:
            low = max(low, after)
    if low > high:
        return [], None
    condition = None
    for part in (
        _type_condition(query.type) if query.type else None,
        AuditRecord.user == query.user if query.user else None,
        AuditRecord.pool_id == query.pool_id if query.pool_id is not None else None,
        AuditRecord.desktop_id == query.desktop_id if query.desktop_id is not None else None,
    ):
        if part is not None:
            condition = part if condition is None else condition & part
    results = AuditRecord.query(
        caller.tenant_id, AuditRecord.event_key.between(low, high), filter_condition=condition,
        scan_index_forward=not newest_first, page_size=max(query.limit * 2, 100),
    )
    items: list[AuditRecord] = []
    for record in results:
        if record.event_key == after:
            continue
        items.append(record)
        if len(items) > query.limit:
            break
    if len(items) > query.limit:
        return items[: query.limit], encode_next(items[query.limit - 1].event_key)
    return items, None


def event_out(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.event_key,
        "time": record.event_key.split("#", 1)[0],
        "type": record.type,
        "message": record.message,
        "user": record.user,
        "pool_id": int(record.pool_id) if record.pool_id is not None else None,
        "desktop_id": int(record.desktop_id) if record.desktop_id is not None else None,
        "details": record.details or {},
    }
