"""The admin side of the lifecycle: release and power-control plans, the audit log and pool history."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from chalicelib.services import audit, pool_stats
from tests.integration.api.builders import assign_pool, create_center, create_policy, create_pool
from tests.integration.api.conftest import Api, TenantAdmin


def test_release_plans_round_trip_and_validate(api: Api, tenant: TenantAdmin) -> None:
    sid = tenant.sid
    created = api.call("POST", "/rest/v1/plans/release", {
        "name": "Single use", "on_logout": {"action": "release"}, "on_release": {"action": "delete"},
        "on_idle": {"action": "lock", "after_minutes": 15}}, sid=sid)
    assert created.status == 201, created.body
    plan = created.body["stored_data"]
    assert plan["on_disconnect"] == {"action": "none", "after_minutes": 0}
    assert plan["on_logout"] == {"action": "release"} and plan["on_idle"]["after_minutes"] == 15
    plan_id = plan["id"]
    assert api.call("GET", "/rest/v1/plans/release", sid=sid).body == [{"id": plan_id, "name": "Single use"}]
    got = api.call("GET", f"/rest/v1/plans/release/{plan_id}", sid=sid)
    assert got.body["on_release"]["action"] == "delete"
    updated = api.call("PUT", f"/rest/v1/plans/release/{plan_id}",
                       {"on_disconnect": {"action": "logout", "after_minutes": 30}}, sid=sid)
    assert updated.status == 200, updated.body
    assert updated.body["stored_data"]["on_disconnect"] == {"action": "logout", "after_minutes": 30}
    assert updated.body["stored_data"]["on_release"]["action"] == "delete"  # untouched sections stay

    bad = api.call("POST", "/rest/v1/plans/release", {"name": "x", "on_release": {"action": "explode"},
                                                     "on_idle": {"action": "lock", "after_minutes": 99999}},
                   sid=sid)
    assert bad.status == 400
    assert {e["path"] for e in bad.body["errors"]} == {"/body/on_release/action",
                                                       "/body/on_idle/after_minutes"}
    delay = api.call("POST", "/rest/v1/plans/release", {"name": "y", "on_idle": {"after_minutes": 5}},
                     sid=sid)
    assert delay.status == 400 and delay.body["errors"][0]["path"] == "/body/on_idle/after_minutes"
    same_name = api.call("POST", "/rest/v1/plans/release", {"name": "single use"}, sid=sid)
    assert same_name.status == 409  # names are unique per tenant and kind
    assert api.call("GET", f"/rest/v1/plans/power-control/{plan_id}", sid=sid).status == 404


def test_power_control_plans_and_plans_in_use(api: Api, tenant: TenantAdmin) -> None:
    sid = tenant.sid
    created = api.call("POST", "/rest/v1/plans/power-control", {
        "name": "Save power", "on_disconnect": {"action": "suspend", "after_minutes": 60},
        "on_release": {"action": "stop"}}, sid=sid)
    assert created.status == 201, created.body
    plan_id = created.body["stored_data"]["id"]
    assert created.body["stored_data"]["on_logout"] == {"action": "none", "after_minutes": 0}
    bad = api.call("PUT", f"/rest/v1/plans/power-control/{plan_id}", {"on_logout": {"action": "delete"}},
                   sid=sid)
    assert bad.status == 400 and bad.body["errors"][0]["path"] == "/body/on_logout/action"
    center = create_center(api, sid)
    pool = create_pool(api, sid, center["id"])
    policy = create_policy(api, sid)
    assign_pool(api, sid, policy["id"], pool["id"], plan_power_control_id=plan_id)
    wrong_kind = api.call("POST", f"/rest/v1/policies/{policy['id']}/pool-assignments",
                          {"pool_id": pool["id"], "plan_release_id": plan_id}, sid=sid)
    assert wrong_kind.status == 400
    in_use = api.call("DELETE", f"/rest/v1/plans/power-control/{plan_id}", sid=sid)
    assert in_use.status == 409
    spare = api.call("POST", "/rest/v1/plans/power-control", {"name": "spare"}, sid=sid)
    spare = spare.body["stored_data"]["id"]
    assert api.call("DELETE", f"/rest/v1/plans/power-control/{spare}", sid=sid).status == 204
    assert api.call("GET", f"/rest/v1/plans/power-control/{spare}", sid=sid).status == 404


def test_logs_filter_and_page(api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin) -> None:
    tenant_id = tenant.tenant_id
    start = time.time()
    for n in range(7):
        audit.record(tenant_id, "desktop.released" if n % 2 else "session.login", f"event {n}",
                     user="alice" if n < 4 else "bob", pool_id=5, desktop_id=100 + n % 3)
    audit.record(other_tenant.tenant_id, "session.login", "not yours", user="alice")

    def logs(query: str) -> dict:
        reply = api.call("GET", f"/rest/v1/logs?{query}", sid=tenant.sid)
        assert reply.status == 200, reply.body
        return reply.body

    mine = logs(f"from={int(start) - 1}&type=session.login")
    assert [e["message"] for e in mine["items"]] == ["event 6", "event 4", "event 2", "event 0"]
    assert mine["next"] is None
    assert [e["message"] for e in logs("user=bob&order=asc")["items"]] == ["event 4", "event 5", "event 6"]
    assert [e["message"] for e in logs("desktop_id=101")["items"]] == ["event 4", "event 1"]
    assert len(logs("type=session.*&pool_id=5")["items"]) == 4
    pages, query = [], "limit=3&user=alice"
    while True:
        page = logs(query)
        pages.append([e["message"] for e in page["items"]])
        if page["next"] is None:
            break
        query = f"limit=3&user=alice&next={page['next']}"
    assert pages == [["event 3", "event 2", "event 1"], ["event 0"]]
    future = datetime.fromtimestamp(start + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert logs(f"from={future}")["items"] == []
    for query, path in (("from=yesterday", "/query/from"), ("limit=0", "/query/limit"),
                        ("next=bm90LWEta2V5", "/query/next"),
                        (f"from={future}&to={int(start)}", "/query/to")):
        reply = api.call("GET", f"/rest/v1/logs?{query}", sid=tenant.sid)
        assert reply.status == 400 and reply.body["errors"][0]["path"] == path, (query, reply.body)
    event = logs("limit=1")["items"][0]
    assert set(event) >= {"id", "time", "type", "message"}


def test_pool_history_series(api: Api, tenant: TenantAdmin, other_tenant: TenantAdmin) -> None:
    center = create_center(api, tenant.sid)
    pool = create_pool(api, tenant.sid, center["id"], provision={"provision_on_off": 0})
    api.aws.queued()
    base = 1_750_000_000
    for step in range(4):
        assert pool_stats.run_pool_history(now=base + step * 900) >= 1
    path = f"/rest/v1/pools/{pool['id']}/history"
    everything = api.call("GET", path, sid=tenant.sid)
    assert everything.status == 200, everything.body
    assert [p["ts"] for p in everything.body["items"]] == [base + n * 900 for n in range(4)]
    assert everything.body["items"][0]["time"] == "2025-06-15T15:06:40Z"
    assert everything.body["items"][0]["total_vm"] == 0
    iso_from = datetime.fromtimestamp(base + 900, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = api.call("GET", f"{path}?from={iso_from}&to={base + 1800}", sid=tenant.sid)
    assert [p["ts"] for p in window.body["items"]] == [base + 900, base + 1800]
    assert api.call("GET", f"{path}?from=soon", sid=tenant.sid).status == 400
    reversed_range = api.call("GET", f"{path}?from={base + 1800}&to={base}", sid=tenant.sid)
    assert reversed_range.status == 400 and reversed_range.body["errors"][0]["path"] == "/query/to"
    foreign = api.call("GET", path, sid=other_tenant.sid)
    assert foreign.status == 404 and foreign.body["error_status"] == "NOT_FOUND"
