"""`/rest/v1/pools`: the reference's shapes, partial updates, and the provisioning check on every save."""

from __future__ import annotations

import pytest

from tests.integration.api.builders import (
    Snapshot,
    assign_pool,
    create_center,
    create_policy,
    create_pool,
    fast_backends,  # noqa: F401 - autouse
    pool_body,
    provision_center,
)
from tests.integration.api.conftest import Api, TenantAdmin


@pytest.fixture
def center(api: Api, tenant: TenantAdmin) -> dict:
    return create_center(api, tenant.sid)


def _checks(api: Api) -> list[tuple[str, int, int]]:
    return [(m["type"], m.get("tenant_id"), m.get("pool_id")) for m in api.aws.queued()]


def test_create_stores_what_was_sent_and_queues_one_check(
    api: Api, tenant: TenantAdmin, center: dict
) -> None:
    api.aws.queued()
    body = pool_body(center["id"])
    reply = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    pool = reply.body["stored_data"]
    assert _checks(api) == [("pool.check", tenant.tenant_id, pool["id"])]
    assert pool["name"] == body["name"] and pool["display_name"] == body["display_name"]
    assert pool["pool_definition"]["restrict_by"] == "C"
    assert pool["pool_definition"]["server_ids"] == [center["id"]]
    provision = pool["provision"]
    for field in (
        "provision_on_off",
        "provision_threshold",
        "provision_max",
        "provision_vm_name",
        "provision_vm_name_next_value",
        "provision_vm_display_name",
        "mark_deletable",
        "mark_unavailable",
    ):
        assert provision[field] == body["provision"][field], field
    assert provision["provision_state"] == "running"
    sent_center = body["provision"]["center"]
    for field in (
        "type",
        "id",
        "image",
        "flavor",
        "network",
        "availability_zone",
        "security_groups",
        "provisioning_actions",
    ):
        assert provision["center"][field] == sent_center[field], field
    assert provision["center"]["name"] == center["name"]
    assert pool["log"]["retain_history"] == body["log"]["retain_history"]
    assert set(pool["pool_stats"]) >= {"total_vm", "available_vm", "unavailable_vm", "assigned_vm"}
    assert all(value == 0 for key, value in pool["pool_stats"].items() if key != "counts_updated")
    assert api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body == pool


def test_list_is_the_reference_pool_array(api: Api, tenant: TenantAdmin, center: dict) -> None:
    first = create_pool(api, tenant.sid, center["id"], "first")
    second = create_pool(
        api,
        tenant.sid,
        center["id"],
        "second",
        pool_definition={"restrict_by": "C", "server_ids": [center["id"]], "parent_pool_id": first["id"]},
    )
    listed = api.call("GET", "/rest/v1/pools", sid=tenant.sid)
    assert listed.status == 200
    assert [(p["id"], p["name"], p["parent_pool_id"]) for p in listed.body] == [
        (first["id"], "first", 0),
        (second["id"], "second", first["id"]),
    ]
    for item in listed.body:
        assert set(item) == {
            "id",
            "name",
            "parent_pool_id",
            "assigned_vm",
            "available_vm",
            "unavailable_vm",
            "total_agent_running",
            "total_connected",
            "total_logged_in",
            "total_vm",
            "total_vm_running",
            "total_vm_stopped",
            "total_vm_suspended",
        }


def test_an_attribute_pool_without_provisioning(api: Api, tenant: TenantAdmin) -> None:
    body = {
        "name": "by-name",
        "pool_definition": {
            "restrict_by": "A",
            "pool_attribute_join": "O",
            "attributes": [
                {"vm_table_field": "name", "condition_type": "ct", "text_to_match": "desktop"},
                {"vm_table_field": "ip", "condition_type": "bw", "text_to_match": "10.0."},
            ],
        },
    }
    api.aws.queued()
    reply = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    pool = reply.body["stored_data"]
    assert pool["pool_definition"]["attributes"] == body["pool_definition"]["attributes"]
    assert pool["pool_definition"]["pool_attribute_join"] == "O"
    assert "provision" not in pool
    # Every save asks for a check; the worker decides there is nothing to do.
    assert _checks(api) == [("pool.check", tenant.tenant_id, pool["id"])]


def test_put_keeps_the_fields_not_given(api: Api, tenant: TenantAdmin, center: dict) -> None:
    pool = create_pool(api, tenant.sid, center["id"])
    api.aws.queued()
    reply = api.call("PUT", f"/rest/v1/pools/{pool['id']}", {"notes": "for the night shift"}, sid=tenant.sid)
    assert reply.status == 200, reply.body
    updated = reply.body["stored_data"]
    assert _checks(api) == [("pool.check", tenant.tenant_id, pool["id"])]
    assert updated["notes"] == "for the night shift"
    assert {k: v for k, v in updated.items() if k not in ("notes", "updated")} == {
        k: v for k, v in pool.items() if k not in ("notes", "updated")
    }


def test_put_merges_provision_one_level_deep(api: Api, tenant: TenantAdmin, center: dict) -> None:
    pool = create_pool(api, tenant.sid, center["id"])
    reply = api.call(
        "PUT", f"/rest/v1/pools/{pool['id']}", {"provision": {"provision_on_off": 0}}, sid=tenant.sid
    )
    assert reply.status == 200, reply.body
    provision = reply.body["stored_data"]["provision"]
    assert provision["provision_on_off"] == 0 and provision["provision_state"] == "stopped"
    assert provision["center"] == pool["provision"]["center"]
    assert provision["provision_max"] == pool["provision"]["provision_max"]
    reply = api.call(
        "PUT",
        f"/rest/v1/pools/{pool['id']}",
        {"provision": {"provision_max": 9, "provision_on_off": 1}},
        sid=tenant.sid,
    )
    assert reply.status == 200, reply.body
    provision = reply.body["stored_data"]["provision"]
    assert provision["provision_max"] == 9 and provision["provision_threshold"] == 2
    assert provision["provision_state"] == "running"
    # The center is replaced as a whole when given.
    new_center = provision_center(center["id"], image="debian-12", flavor="m1.large")
    del new_center["provisioning_actions"]
    reply = api.call(
        "PUT", f"/rest/v1/pools/{pool['id']}", {"provision": {"center": new_center}}, sid=tenant.sid
    )
    assert reply.status == 200, reply.body
    assert reply.body["stored_data"]["provision"]["center"]["image"] == "debian-12"
    assert reply.body["stored_data"]["provision"]["center"]["provisioning_actions"] == []


def test_put_replaces_the_definition(api: Api, tenant: TenantAdmin, center: dict) -> None:
    other = create_center(api, tenant.sid, "other")
    pool = create_pool(api, tenant.sid, center["id"])
    reply = api.call(
        "PUT",
        f"/rest/v1/pools/{pool['id']}",
        {"pool_definition": {"restrict_by": "C", "server_ids": [other["id"], center["id"]]}},
        sid=tenant.sid,
    )
    assert reply.status == 200, reply.body
    assert reply.body["stored_data"]["pool_definition"]["server_ids"] == [other["id"], center["id"]]


def test_put_provision_null_removes_provisioning(api: Api, tenant: TenantAdmin, center: dict) -> None:
    pool = create_pool(api, tenant.sid, center["id"])
    reply = api.call("PUT", f"/rest/v1/pools/{pool['id']}", {"provision": None}, sid=tenant.sid)
    assert reply.status == 200, reply.body
    assert "provision" not in reply.body["stored_data"]


def test_rename_to_a_taken_name_is_not_unique(api: Api, tenant: TenantAdmin, center: dict) -> None:
    first = create_pool(api, tenant.sid, center["id"], "first")
    create_pool(api, tenant.sid, center["id"], "second")
    with Snapshot(api):
        reply = api.call(
            "PUT", f"/rest/v1/pools/{first['id']}", {"name": "Second", "notes": "x"}, sid=tenant.sid
        )
        assert reply.status == 409, reply.body
        assert reply.body["error_status"] == "NOT_UNIQUE" and reply.body["items"] == ["name"]
        assert [e["path"] for e in reply.body["errors"]] == ["/body/name"]
        reply = api.call("POST", "/rest/v1/pools", pool_body(center["id"], "FIRST"), sid=tenant.sid)
        assert reply.status == 409 and reply.body["items"] == ["name"]
    reply = api.call("PUT", f"/rest/v1/pools/{first['id']}", {"name": "third"}, sid=tenant.sid)
    assert reply.status == 200
    assert api.call("POST", "/rest/v1/pools", pool_body(center["id"], "first"), sid=tenant.sid).status == 201


def test_volume_size_is_a_string_of_gigabytes(api: Api, tenant: TenantAdmin) -> None:
    vhi = create_center(api, tenant.sid, "vhi", center_type="virtuozzo")
    body = pool_body(vhi["id"])
    body["provision"]["center"] = provision_center(
        vhi["id"], "virtuozzo", create_new_volume=1, new_volume_size=20, new_volume_type="fast"
    )
    reply = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    center = reply.body["stored_data"]["provision"]["center"]
    assert center["new_volume_size"] == "20" and center["create_new_volume"] == 1
    assert center["new_volume_type"] == "fast"


def test_delete_a_pool_assigned_in_a_policy_is_a_conflict(
    api: Api, tenant: TenantAdmin, center: dict
) -> None:
    pool = create_pool(api, tenant.sid, center["id"], "primary")
    backup = create_pool(api, tenant.sid, center["id"], "backup")
    policy = create_policy(api, tenant.sid)
    assignment = assign_pool(api, tenant.sid, policy["id"], pool["id"], backup_pool_id=backup["id"])
    with Snapshot(api):
        for pool_id in (pool["id"], backup["id"]):
            reply = api.call("DELETE", f"/rest/v1/pools/{pool_id}", sid=tenant.sid)
            assert reply.status == 409, reply.body
            assert reply.body["error_status"] == "CONFLICT"
    path = f"/rest/v1/policies/{policy['id']}/pool-assignments/{assignment['id']}"
    assert api.call("DELETE", path, sid=tenant.sid).status == 204
    assert api.call("DELETE", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).status == 204
    assert api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).status == 404
    assert [p["name"] for p in api.call("GET", "/rest/v1/pools", sid=tenant.sid).body] == ["backup"]


def parent_and_child(api: Api, tenant: TenantAdmin, center: dict) -> tuple[dict, dict]:
    parent = create_pool(api, tenant.sid, center["id"], "parent")
    child = create_pool(
        api,
        tenant.sid,
        center["id"],
        "child",
        pool_definition={"restrict_by": "C", "server_ids": [center["id"]], "parent_pool_id": parent["id"]},
    )
    return parent, child


def test_delete_a_parent_pool_is_a_conflict(api: Api, tenant: TenantAdmin, center: dict) -> None:
    parent, child = parent_and_child(api, tenant, center)
    with Snapshot(api):
        assert api.call("DELETE", f"/rest/v1/pools/{parent['id']}", sid=tenant.sid).status == 409
    assert api.call("DELETE", f"/rest/v1/pools/{child['id']}", sid=tenant.sid).status == 204
    assert api.call("DELETE", f"/rest/v1/pools/{parent['id']}", sid=tenant.sid).status == 204


def test_a_parent_cycle_is_refused(api: Api, tenant: TenantAdmin, center: dict) -> None:
    parent, child = parent_and_child(api, tenant, center)
    with Snapshot(api):
        for pool_id, parent_id in ((parent["id"], child["id"]), (parent["id"], parent["id"])):
            reply = api.call(
                "PUT",
                f"/rest/v1/pools/{pool_id}",
                {
                    "pool_definition": {
                        "restrict_by": "C",
                        "server_ids": [center["id"]],
                        "parent_pool_id": parent_id,
                    }
                },
                sid=tenant.sid,
            )
            assert reply.status == 400, reply.body
            assert [e["path"] for e in reply.body["errors"]] == ["/body/pool_definition/parent_pool_id"]


def test_a_save_succeeds_even_when_the_queue_is_down(
    api: Api, tenant: TenantAdmin, center: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check message goes after the write: an unreachable queue must not turn a saved pool into an
    error (a retried create would then be NOT_UNIQUE); the scheduled pool_stats run makes the check up."""
    from chalicelib.domain.errors import ServiceUnavailable
    from chalicelib.store import stores

    def down(*args: object, **kwargs: object) -> None:
        raise ServiceUnavailable("The provisioning queue is not reachable", retry_after=5)

    monkeypatch.setattr(stores.queue, "send", down)
    reply = api.call("POST", "/rest/v1/pools", pool_body(center["id"], "offline"), sid=tenant.sid)
    assert reply.status == 201, reply.body
    pool_id = reply.body["stored_data"]["id"]
    assert api.call("PUT", f"/rest/v1/pools/{pool_id}", {"notes": "x"}, sid=tenant.sid).status == 200
    center_notes = {"center_definition": {"notes": "x"}}
    center_url = f"/rest/v1/centers/openstack/{center['id']}"
    assert api.call("PUT", center_url, center_notes, sid=tenant.sid).status == 200
    assert api.call("GET", f"/rest/v1/pools/{pool_id}", sid=tenant.sid).body["notes"] == "x"


def test_the_size_info_is_what_the_pool_stats_job_counted(
    api: Api, tenant: TenantAdmin, center: dict
) -> None:
    from chalicelib.services import pool_stats
    from chalicelib.store.desktops import DesktopStore

    pool = create_pool(api, tenant.sid, center["id"])
    assert pool["pool_stats"]["total_vm"] == 0 and pool["pool_stats"]["counts_updated"]
    store = DesktopStore()
    for number, (power, available) in enumerate((("running", True), ("stopped", False)), start=1):
        desktop = store.new(
            tenant.tenant_id,
            center["id"],
            pool["id"],
            f"desk-{number}",
            display_name="",
            lifecycle="active",
            available=available,
            deletable=False,
            power_state=power,
            instance_id=f"instance-{number}",
        )
        store.save(desktop)
    pool_stats.run_pool_stats()
    stats = api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body["pool_stats"]
    assert (stats["total_vm"], stats["available_vm"], stats["unavailable_vm"]) == (2, 1, 1)
    assert (stats["total_vm_running"], stats["total_vm_stopped"]) == (1, 1)
    assert stats["counts_updated"] >= pool["pool_stats"]["counts_updated"]
    item = next(p for p in api.call("GET", "/rest/v1/pools", sid=tenant.sid).body if p["id"] == pool["id"])
    assert (item["total_vm"], item["available_vm"], item["total_vm_running"]) == (2, 1, 1)
    # An admin's save neither loses nor resets the counts.
    api.call("PUT", f"/rest/v1/pools/{pool['id']}", {"notes": "x"}, sid=tenant.sid)
    assert api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body["pool_stats"] == stats


def test_stopped_by_the_broker_until_an_admin_turns_provisioning_on(
    api: Api, tenant: TenantAdmin, center: dict
) -> None:
    from chalicelib.services import provisioning
    from chalicelib.store import stores
    from chalicelib.store.desktops import PoolCounters

    pool = create_pool(api, tenant.sid, center["id"])
    record = stores.pools.get(tenant.tenant_id, pool["id"])
    for _ in range(3):
        PoolCounters().add_failure(tenant.tenant_id, pool["id"])
    provisioning.stop_pool_provisioning(record, "3 provisioning errors in a row; last: quota exceeded")
    shown = api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body["provision"]
    assert shown["provision_state"] == "stopped_by_broker"
    assert "quota exceeded" in shown["provision_error"]
    # Saving something else leaves it stopped...
    api.call("PUT", f"/rest/v1/pools/{pool['id']}", {"notes": "looking into it"}, sid=tenant.sid)
    record = stores.pools.get(tenant.tenant_id, pool["id"])
    assert provisioning.provisioning_blocked(record) is not None
    assert (
        api.call("GET", f"/rest/v1/pools/{pool['id']}", sid=tenant.sid).body["provision"]["provision_state"]
        == "stopped_by_broker"
    )
    # ...turning provisioning on starts it again, with the failure count back to zero.
    api.aws.queued()
    reply = api.call(
        "PUT", f"/rest/v1/pools/{pool['id']}", {"provision": {"provision_on_off": 1}}, sid=tenant.sid
    )
    assert reply.status == 200, reply.body
    assert reply.body["stored_data"]["provision"]["provision_state"] == "running"
    assert "provision_error" not in reply.body["stored_data"]["provision"]
    assert _checks(api) == [("pool.check", tenant.tenant_id, pool["id"])]
    record = stores.pools.get(tenant.tenant_id, pool["id"])
    assert provisioning.provisioning_blocked(record) is None
    assert PoolCounters().add_failure(tenant.tenant_id, pool["id"]) == 1


def _time_limit(day: int, start: str, stop: str, threshold: int = 2, maximum: int = 5) -> dict:
    return {"provision_time_day": day, "provision_time_start": start, "provision_time_stop": stop,
            "provision_time_threshold": threshold, "provision_time_max_size": maximum}


def test_time_limits_are_stored_returned_and_bad_ones_named(
    api: Api, tenant: TenantAdmin, center: dict
) -> None:
    body = pool_body(center["id"])
    body["provision"].update({
        "provision_limits_enforce": 1, "provision_time_zone": "America/New_York",
        "time_limits": [_time_limit(0, "8:00", "10:00", 3, 6), _time_limit(4, "22:00", "06:00", 0, 1)]})
    reply = api.call("POST", "/rest/v1/pools", body, sid=tenant.sid)
    assert reply.status == 201, reply.body
    provision = reply.body["stored_data"]["provision"]
    assert provision["time_limits"][0]["provision_time_start"] == "08:00"
    assert provision["provision_limits_enforce"] == 1
    assert provision["provision_time_zone"] == "America/New_York"
    shown = provision["limits_in_force"]
    assert shown["time_zone"] == "America/New_York" and shown["next_start"]
    pool_id = reply.body["stored_data"]["id"]
    for limits, zone, path in (
        ([_time_limit(0, "08:00", "10:00"), _time_limit(0, "12:00", "13:00"),
          _time_limit(0, "07:00", "08:30")], "UTC", "/body/provision/time_limits/2/provision_time_stop"),
        ([_time_limit(0, "08:00", "25:00")], "UTC", "/body/provision/time_limits/0/provision_time_stop"),
        ([_time_limit(7, "08:00", "10:00")], "UTC", "/body/provision/time_limits/0/provision_time_day"),
        ([], "Mars/Base", "/body/provision/provision_time_zone"),
    ):
        reply = api.call("PUT", f"/rest/v1/pools/{pool_id}",
                         {"provision": {"time_limits": limits, "provision_time_zone": zone}}, sid=tenant.sid)
        assert reply.status == 400, reply.body
        assert [e["path"] for e in reply.body["errors"]] == [path]
    stored = api.call("GET", f"/rest/v1/pools/{pool_id}", sid=tenant.sid).body["provision"]
    assert len(stored["time_limits"]) == 2  # nothing changed
