"""`/rest/v1/pools/{id}/forecast` and `.../forecast/apply` (issue 15 §2), the automatic mode run by the
`pool_history_stats` job, and the tenant's default time zone (§1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.services import audit, pool_stats
from chalicelib.store import stores
from chalicelib.store.desktops import pool_key
from chalicelib.store.models import AuditRecord, PoolHistoryRecord
from tests.integration.api.builders import (
    create_center,
    created,
    fast_backends,  # noqa: F401 - autouse
    pool_body,
)
from tests.integration.api.conftest import Api, TenantAdmin

NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
WEEK = 7 * 86400


@pytest.fixture
def center(api: Api, tenant: TenantAdmin) -> dict:
    return create_center(api, tenant.sid)


@pytest.fixture
def pool(api: Api, tenant: TenantAdmin, center: dict) -> dict:
    body = pool_body(center["id"])
    body["provision"].update({"provision_threshold": 1, "provision_max": 5})
    return created(api.call("POST", "/rest/v1/pools", body, sid=tenant.sid))


def monday_morning(minute_of_week: int) -> int:
    """Mondays 08:00-10:00: 40 desktops, reached over the first half hour; nobody otherwise."""
    day, minute = divmod(minute_of_week, 1440)
    if day == 0 and 8 * 60 <= minute < 10 * 60:
        return min(40, 10 + (minute - 8 * 60))
    return 0


def write_history(tenant_id: int, pool_id: int, weeks: int, until: float = NOW) -> None:
    """Samples every 30 minutes for `weeks` weeks before `until`, as the pool_history_stats job writes."""
    expires = datetime.fromtimestamp(until + 365 * 86400, UTC)
    with PoolHistoryRecord.batch_write() as batch:
        for slot in range(weeks * WEEK // 1800):
            at = until - weeks * WEEK + slot * 1800
            value = monday_morning(int((at - NOW) % WEEK) // 60)
            batch.save(PoolHistoryRecord(pool_key=pool_key(tenant_id, pool_id), ts=int(at),
                                         expires_at=expires,
                                         data={"assigned_vm": value, "total_connected": value}))


def write_ready_events(tenant_id: int, pool_id: int, center_id: int, count: int = 5,
                       until: float = NOW) -> None:
    for index in range(count):
        with clock.controlled(until - 86400 * (index + 1)):
            audit.record(tenant_id, "provision.completed", f"Desktop 'desk-{index:03d}' is ready",
                         pool_id=pool_id, desktop_id=1000 + index,
                         details={"center_id": center_id, "seconds_to_ready": 420.0})


def events(tenant_id: int, event_type: str) -> list[AuditRecord]:
    return [e for e in AuditRecord.query(tenant_id) if e.type == event_type]


def test_too_little_history_says_so_and_apply_changes_nothing(
    api: Api, tenant: TenantAdmin, pool: dict, center: dict
) -> None:
    write_history(tenant.tenant_id, pool["id"], weeks=2)
    write_ready_events(tenant.tenant_id, pool["id"], center["id"])
    with clock.controlled(NOW):
        reply = api.call("GET", f"/rest/v1/pools/{pool['id']}/forecast", sid=tenant.sid)
        assert reply.status == 200, reply.body
        assert reply.body["enough_history"] == 0 and reply.body["weeks"] == 2
        assert reply.body["message"].startswith("Too little history: 2 week(s) of samples")
        assert reply.body["time_limits"] == [] and reply.body["ranges"] == []
        assert any(cell["assigned_p90"] == 40 for cell in reply.body["profile"])  # the profile is still shown
        applied = api.call("POST", f"/rest/v1/pools/{pool['id']}/forecast/apply", sid=tenant.sid)
    assert applied.status == 409 and "Too little history" in applied.body["error_message"]
    stored = api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body
    assert stored["provision"]["time_limits"] == [] and stored["updated"] == pool["updated"]
    assert events(tenant.tenant_id, "pool.forecast_applied") == []


def test_the_forecast_from_history_and_the_provisioning_log_and_apply(
    api: Api, tenant: TenantAdmin, pool: dict, center: dict
) -> None:
    write_history(tenant.tenant_id, pool["id"], weeks=5)
    write_ready_events(tenant.tenant_id, pool["id"], center["id"])
    with clock.controlled(NOW):
        reply = api.call("GET", f"/rest/v1/pools/{pool['id']}/forecast", sid=tenant.sid)
    assert reply.status == 200, reply.body
    forecast = reply.body
    assert forecast["enough_history"] == 1 and forecast["weeks"] == 5 and forecast["time_zone"] == "UTC"
    assert forecast["ready"] == {"count": 5, "median_seconds": 420.0, "p90_seconds": 420.0,
                                 "lead_minutes": 10}
    monday_eight = next(c for c in forecast["profile"] if (c["day"], c["hour"]) == (0, 8))
    assert monday_eight["weeks"] == 5 and monday_eight["assigned_p90"] == 40
    first = forecast["ranges"][0]
    limit = first["time_limit"]
    assert (limit["provision_time_day"], limit["provision_time_start"]) == (0, "07:50")
    assert first["sentence"].startswith("Mondays 08:00\u201309:00: demand reaches 40 at the 90th percentile "
                                        "over 5 weeks; desktops take 7 min to be ready here; start at 07:50")
    assert forecast["time_limits"] == [r["time_limit"] for r in forecast["ranges"]]

    with clock.controlled(NOW):
        applied = api.call("POST", f"/rest/v1/pools/{pool['id']}/forecast/apply", sid=tenant.sid)
    assert applied.status == 200, applied.body
    assert applied.body["stored_data"]["provision"]["time_limits"] == forecast["time_limits"]
    stored = api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body
    assert stored["provision"]["time_limits"] == forecast["time_limits"]
    [event] = events(tenant.tenant_id, "pool.forecast_applied")
    assert event.user == "boss" and event.pool_id == pool["id"] and event.details["mode"] == "manual"
    assert event.details["sentences"] == [r["sentence"] for r in forecast["ranges"]]


def test_another_tenant_s_pool_is_not_found(
    api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin, pool: dict, center: dict
) -> None:
    write_history(tenant.tenant_id, pool["id"], weeks=5)
    write_ready_events(tenant.tenant_id, pool["id"], center["id"])
    with clock.controlled(NOW):
        seen = api.call("GET", f"/rest/v1/pools/{pool['id']}/forecast", sid=other_tenant.sid)
        applied = api.call("POST", f"/rest/v1/pools/{pool['id']}/forecast/apply", sid=other_tenant.sid)
    assert (seen.status, applied.status) == (404, 404)
    assert _time_limits(tenant, pool["id"]) == []


def test_the_durations_are_this_center_s(api: Api, tenant: TenantAdmin, pool: dict, center: dict) -> None:
    write_history(tenant.tenant_id, pool["id"], weeks=5)
    write_ready_events(tenant.tenant_id, pool["id"], center["id"] + 1)  # another center's desktops
    with clock.controlled(NOW):
        reply = api.call("GET", f"/rest/v1/pools/{pool['id']}/forecast", sid=tenant.sid)
    assert reply.body["enough_history"] == 0 and reply.body.get("ready") is None
    assert "0 desktop(s) seen from create request to ready" in reply.body["message"]


def test_the_automatic_mode_needs_a_cap(api: Api, tenant: TenantAdmin, pool: dict) -> None:
    reply = api.call("PUT", f"/rest/v1/pools/{pool['id']}", {"provision": {"provision_forecast_auto": 1}},
                     sid=tenant.sid)
    assert reply.status == 400
    assert [e["path"] for e in reply.body["errors"]] == ["/body/provision/provision_forecast_max_cap"]
    reply = api.call("PUT", f"/rest/v1/pools/{pool['id']}",
                     {"provision": {"provision_forecast_auto": 2, "provision_forecast_max_cap": 20}},
                     sid=tenant.sid)
    assert reply.status == 400
    assert [e["path"] for e in reply.body["errors"]] == ["/body/provision/provision_forecast_auto"]


def _time_limits(tenant: TenantAdmin, pool_id: int) -> list[dict[str, Any]]:
    return stores.pools.get(tenant.tenant_id, pool_id).provision.time_limits


def test_the_automatic_mode_applies_weekly_and_never_above_the_cap(
    api: Api, tenant: TenantAdmin, pool: dict, center: dict
) -> None:
    reply = api.call("PUT", f"/rest/v1/pools/{pool['id']}",
                     {"provision": {"provision_forecast_auto": 1, "provision_forecast_max_cap": 20}},
                     sid=tenant.sid)
    assert reply.status == 200, reply.body
    assert reply.body["stored_data"]["provision"]["provision_forecast_max_cap"] == 20
    write_history(tenant.tenant_id, pool["id"], weeks=5, until=NOW + WEEK)
    write_ready_events(tenant.tenant_id, pool["id"], center["id"])

    with clock.controlled(NOW):
        pool_stats.run_pool_history(NOW)
    applied = _time_limits(tenant, pool["id"])
    assert applied and all(item["provision_time_max_size"] <= 20 for item in applied)
    assert [e.details["mode"] for e in events(tenant.tenant_id, "pool.forecast_applied")] == ["automatic"]

    with clock.controlled(NOW + 3600):
        pool_stats.run_pool_history(NOW + 3600)  # within the week: nothing again
    assert len(events(tenant.tenant_id, "pool.forecast_applied")) == 1

    with clock.controlled(NOW + WEEK):
        pool_stats.run_pool_history(NOW + WEEK)
    assert len(events(tenant.tenant_id, "pool.forecast_applied")) == 2


def test_the_automatic_mode_waits_a_day_on_too_little_history(
    api: Api, tenant: TenantAdmin, pool: dict, center: dict
) -> None:
    api.call("PUT", f"/rest/v1/pools/{pool['id']}",
             {"provision": {"provision_forecast_auto": 1, "provision_forecast_max_cap": 20}}, sid=tenant.sid)
    write_ready_events(tenant.tenant_id, pool["id"], center["id"])
    with clock.controlled(NOW):
        pool_stats.run_pool_history(NOW)
    assert _time_limits(tenant, pool["id"]) == []
    due = stores.pools.get(tenant.tenant_id, pool["id"]).broker_state["forecast_due_at"]
    assert due == NOW + 86400


def test_the_tenant_s_default_time_zone(api: Api, system_sid: str, tenant: TenantAdmin, pool: dict) -> None:
    bad = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"time_zone": "Mars/Base"}, sid=system_sid)
    assert bad.status == 400 and [e["path"] for e in bad.body["errors"]] == ["/body/time_zone"]
    refused = api.call("POST", "/rest/v1/tenants", {"name": "initech", "time_zone": "../etc/passwd"},
                       sid=system_sid)
    assert refused.status == 400 and [e["path"] for e in refused.body["errors"]] == ["/body/time_zone"]
    assert "initech" not in [t["name"] for t in api.call("GET", "/rest/v1/tenants", sid=system_sid).body]
    made = api.call("POST", "/rest/v1/tenants", {"name": "initech", "time_zone": "America/New_York"},
                    sid=system_sid)
    assert made.status == 201 and made.body["stored_data"]["time_zone"] == "America/New_York"
    reply = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"time_zone": "Europe/Berlin"},
                     sid=system_sid)
    assert reply.status == 200 and reply.body["time_zone"] == "Europe/Berlin"
    shown = api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body["provision"]
    assert shown["provision_time_zone"] == "" and shown["limits_in_force"]["time_zone"] == "Europe/Berlin"
    own = api.call("PUT", f"/rest/v1/pools/{pool['id']}",
                   {"provision": {"provision_time_zone": "Asia/Tokyo"}}, sid=tenant.sid).body["stored_data"]
    own = own["provision"]
    assert own["limits_in_force"]["time_zone"] == "Asia/Tokyo"  # the pool's own zone comes first
    with clock.controlled(NOW):
        assert api.call("GET", f"/rest/v1/pools/{pool['id']}/forecast",
                        sid=tenant.sid).body["time_zone"] == "Asia/Tokyo"


def test_a_tenant_s_zone_moves_its_ranges(api: Api, system_sid: str, tenant: TenantAdmin,
                                          center: dict) -> None:
    """A range Monday 08:00-10:00 in a pool without a zone is read in the tenant's zone: in Berlin (UTC+1
    in March) it is in force at 07:30 UTC and over at 09:30 UTC, in the pool's answer and for the
    pool_stats schedule, which queues the check the range asks for (outside it the pool wants nothing)."""
    api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"time_zone": "Europe/Berlin"}, sid=system_sid)
    body = pool_body(center["id"])
    body["provision"].update({"provision_threshold": 0, "provision_max": 0})
    body["provision"]["time_limits"] = [{"provision_time_day": 0, "provision_time_start": "08:00",
                                         "provision_time_stop": "10:00", "provision_time_threshold": 3,
                                         "provision_time_max_size": 5}]
    made = created(api.call("POST", "/rest/v1/pools", body, sid=tenant.sid))
    api.aws.queued()
    for moment, index in ((NOW + 7.5 * 3600, 0), (NOW + 9.5 * 3600, -1)):
        with clock.controlled(moment):
            shown = api.call("GET", f"/rest/v1/pools/{made['id']}", sid=tenant.sid).body
            pool_stats.run_pool_stats()
        assert shown["provision"]["limits_in_force"]["time_limit"] == index
        checks = [m for m in api.aws.queued() if m["type"] == "pool.check" and m["pool_id"] == made["id"]]
        assert len(checks) == (1 if index == 0 else 0)
