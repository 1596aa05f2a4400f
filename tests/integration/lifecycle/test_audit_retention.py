"""Audit events are kept 30 days unless BROKER_AUDIT_RETENTION_DAYS says otherwise: each event's TTL is
set 30 days ahead, and the log shows nothing older, even what DynamoDB's lazy TTL has not removed yet."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.domain.caller import Caller
from chalicelib.schemas.lifecycle import LogQuery
from chalicelib.services import audit, logs
from chalicelib.settings import reset_settings
from chalicelib.store.models import AuditRecord
from chalicelib.store.repos import AuditStore
from tests.fixtures.aws import AwsStack

TENANT = 6
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")
DAY = 86400
DEFAULT_RETENTION_DAYS = 30  # docs/lifecycle.md, "Logs"


@pytest.fixture
def default_retention(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROKER_AUDIT_RETENTION_DAYS", raising=False)
    reset_settings()


def old_event(days_ago: float) -> None:
    """An event written `days_ago` days ago whose TTL DynamoDB has not acted on yet."""
    at = datetime.fromtimestamp(time.time() - days_ago * DAY, UTC)
    AuditRecord(tenant_id=TENANT, event_key=f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{uuid.uuid4().hex[:12]}",
                type="test.old", message=f"{days_ago} days ago", details={},
                expires_at=datetime.fromtimestamp(time.time() + DAY, UTC)).save()


def test_an_event_expires_30_days_after_it_was_written(default_retention: None) -> None:
    before = time.time()
    audit.record(TENANT, "test.event", "something happened")
    after = time.time()
    [event] = AuditStore().list(TENANT)
    kept = DEFAULT_RETENTION_DAYS * DAY
    assert before + kept - 1 <= event.expires_at.timestamp() <= after + kept + 1


def test_the_log_shows_nothing_older_than_30_days(default_retention: None) -> None:
    old_event(29)
    old_event(31)
    events, _ = logs.list_events(ADMIN, LogQuery())
    assert [e.message for e in events] == ["29 days ago"]


def test_the_retention_follows_the_setting(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_AUDIT_RETENTION_DAYS", "400")
    reset_settings()
    old_event(31)
    before = time.time()
    audit.record(TENANT, "test.event", "now")
    after = time.time()
    events, _ = logs.list_events(ADMIN, LogQuery())
    assert sorted(e.message for e in events) == ["31 days ago", "now"]
    [recorded] = [e for e in events if e.type == "test.event"]
    assert before + 400 * DAY - 1 <= recorded.expires_at.timestamp() <= after + 400 * DAY + 1
