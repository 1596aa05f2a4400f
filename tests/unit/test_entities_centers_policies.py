"""The Center and Policy entities (chalicelib/domain/entities/): read once with the defaults their readers
applied, nested pool assignments typed, nothing unknown lost on a write-back."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities.centers import STATUS_PENDING, Center
from chalicelib.domain.entities.policies import Policy, PoolAssignment
from chalicelib.domain.provisioning import DEFAULT_CENTER_BUILD_LIMIT


def test_a_center_stored_before_its_later_fields_reads_as_their_defaults() -> None:
    center = Center.from_stored({"type": "virtuozzo", "auth_url": "https://k.example/v3", "project": "p"},
                                tenant_id=3, id=9, name="lab")
    assert (center.type, center.auth_url, center.project) == ("virtuozzo", "https://k.example/v3", "p")
    assert center.active == 1 and center.status == STATUS_PENDING and center.poll_interval == 5
    assert center.build_limit == DEFAULT_CENTER_BUILD_LIMIT and center.allow_cleartext_password == 0
    assert center.domain == "Default" and center.project_domain == "" and center.inventory is None
    assert center.last_scan is None and center.offer_vms == 1 and center.init_unavailable == 0


def test_a_center_keeps_what_it_does_not_know() -> None:
    center = Center.from_stored({"type": "openstack", "from_a_newer_broker": [1]}, tenant_id=3, id=9,
                                name="c")
    assert replace(center, status_message="x").stored_doc()["from_a_newer_broker"] == [1]


def test_a_policy_reads_its_assignments_typed_with_their_defaults() -> None:
    policy = Policy.from_stored({"is_default": 1, "pool_assignments": [
        {"id": 4, "pool_id": 7, "kiosk": 1},
        "not an assignment",
        {"id": 5, "pool_id": 8, "backup_pool_id": 7, "display_mode": "display_name"},
    ]}, tenant_id=3, id=2, name="p")
    assert policy.is_default == 1 and policy.max_desktops == 0 and policy.session_expire_delay == -1
    first, second = policy.pool_assignments
    assert first == PoolAssignment(id=4, pool_id=7, kiosk=1)
    assert first.offer_quantity == 1 and first.display_mode == "name" and first.plan_release_id == 0
    assert second.backup_pool_id == 7 and second.display_mode == "display_name"
    assert policy.assignment(5) == second and policy.assignment(6) is None
    assert policy.assigns(7) and policy.assigns(8) and not policy.assigns(9)


def test_a_policy_is_written_back_with_its_assignments_as_documents_and_their_unknown_keys() -> None:
    policy = Policy.from_stored({"notes": "n", "pool_assignments": [{"id": 4, "pool_id": 7, "later": "x"}]},
                                tenant_id=3, id=2, name="p")
    added = PoolAssignment(id=5, pool_id=8, offer_quantity=2)
    doc = replace(policy, pool_assignments=(*policy.pool_assignments, added)).stored_doc()
    assert doc["notes"] == "n"
    assert [a["id"] for a in doc["pool_assignments"]] == [4, 5]
    assert doc["pool_assignments"][0]["later"] == "x" and doc["pool_assignments"][0]["pool_id"] == 7
    assert doc["pool_assignments"][1]["offer_quantity"] == 2
    assert Policy.from_stored(doc, tenant_id=3, id=2, name="p").pool_assignments[1] == added
