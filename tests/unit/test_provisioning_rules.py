"""Pure provisioning rules: the threshold rule and names, with hypothesis properties."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import naming
from chalicelib.domain import provisioning as rules
from chalicelib.domain.entities.pools import Provision, ProvisionCenter, ProvisioningAction


@given(
    total=st.integers(0, 500),
    assigned_share=st.floats(0, 1),
    threshold=st.integers(0, 500),
    maximum=st.integers(0, 500),
)
def test_deficit_never_passes_the_maximum_and_fills_the_threshold(
    total: int, assigned_share: float, threshold: int, maximum: int
) -> None:
    assigned = int(total * assigned_share)
    created = rules.deficit(total, assigned, threshold, maximum)
    assert created >= 0
    assert total + created <= max(total, maximum)  # never past the maximum (never negative either)
    if created:
        assert total - assigned < threshold  # only when unassigned is below the threshold
        # all of it at once: either the threshold is met or the maximum is reached
        assert total - assigned + created == threshold or total + created == maximum
    else:
        assert total - assigned >= threshold or total >= maximum


@given(wanted=st.integers(0, 100), building=st.integers(0, 30), limit=st.integers(1, 20))
def test_center_limit_bounds_builds_at_once(wanted: int, building: int, limit: int) -> None:
    allowed = rules.bounded_by_center(wanted, building, limit)
    assert 0 <= allowed <= wanted
    assert building + allowed <= max(limit, building)


@given(st.integers(0, 10**9), st.integers(1, 9))
def test_sequence_names_are_distinct_and_padded(sequence: int, width: int) -> None:
    name = naming.render(f"desk-{{SEQUENCE:{width}}}", sequence)
    assert name.startswith("desk-")
    digits = name[len("desk-") :]
    assert int(digits) == sequence and len(digits) >= width
    assert naming.render(f"desk-{{SEQUENCE:{width}}}", sequence + 1) != name


def test_template_problems_name_unknown_tags() -> None:
    assert naming.template_problems("vm-{SEQUENCE}") == []
    assert naming.template_problems("vm-{SEQUENCE:3}") == []
    assert naming.template_problems("vm-{USER}")
    assert naming.template_problems("vm-{SEQUENCE:0}")


def test_vhi_defaults_boot_from_volume_in_zone_nova() -> None:
    provision = {
        "provision_vm_name": "v-{SEQUENCE}",
        "center": {"type": "virtuozzo", "id": 1, "image": "img", "flavor": "f", "network": "net"},
    }
    spec = rules.server_spec(Provision.from_doc(provision).center, "", "v-1", {})
    assert spec.availability_zone == "nova" and spec.boot_from_volume
    plain = rules.server_spec(
        ProvisionCenter.from_doc({**provision["center"], "type": "openstack"}), "", "v-1", {}
    )
    assert plain.availability_zone is None and not plain.boot_from_volume


def test_attribute_rules_match_like_the_reference() -> None:
    rule = [{"vm_table_field": "name", "condition_type": "ct", "text_to_match": "desktop"}]
    assert rules.matches_attribute_rules(rule, "A", {"name": "win-Desktop-7"})
    assert not rules.matches_attribute_rules(rule, "A", {"name": "server-1"})
    both = [*rule, {"vm_table_field": "ip", "condition_type": "bw", "text_to_match": "198.51.100."}]
    assert rules.matches_attribute_rules(both, "A", {"name": "desktop-1", "ip": "10.0.0.5,198.51.100.7"})
    assert not rules.matches_attribute_rules(both, "A", {"name": "desktop-1", "ip": "10.0.0.5"})
    assert rules.matches_attribute_rules(both, "O", {"name": "desktop-1", "ip": "10.0.0.5"})


def test_broker_marks_read_ids_and_refuse_anything_else() -> None:
    import pytest

    from chalicelib.domain.provisioning import (
        METADATA_DESKTOP,
        METADATA_POOL,
        METADATA_TENANT,
        BadMetadata,
        BrokerMarks,
        broker_marks,
    )

    assert broker_marks({}) == BrokerMarks()
    marks = broker_marks({METADATA_TENANT: "7", METADATA_DESKTOP: "12", METADATA_POOL: ""})
    assert marks == BrokerMarks(7, 12)
    assert broker_marks({"other": "x", METADATA_POOL: "3"}) == BrokerMarks(pool_id=3)
    for bad in ("abc", "-1", "0", "1.5", "²", str(2**53), " 7", "7e3"):
        with pytest.raises(BadMetadata, match=METADATA_DESKTOP):
            broker_marks({METADATA_DESKTOP: bad})


# Found by `make mutate` (docs/reliability.md, "Mutation testing"): behaviour no test pinned before.


def test_a_deficit_of_one_desktop_is_work_for_a_check() -> None:
    assert rules.has_work(total=1, assigned=1, threshold=1, maximum=5, without_instance=0)
    assert not rules.has_work(total=2, assigned=1, threshold=1, maximum=5, without_instance=0)


def test_a_reservation_is_abandoned_only_once_strictly_older_than_the_limit() -> None:
    reservation = rules.Reservation(first_id=1, first_sequence=1, count=1, at=1000)
    assert not reservation.abandoned(1000 + rules.NO_LIVE_WORKER_AFTER_SECONDS)
    assert reservation.abandoned(1000 + rules.NO_LIVE_WORKER_AFTER_SECONDS + 1)


def test_a_last_set_unavailable_action_leaves_a_new_desktop_unavailable() -> None:
    unavailable = {"center": {"provisioning_actions": [{"prov_action_action": "set_unavailable"}]}}
    assert not rules.initially_available(Provision.from_doc(unavailable))
    # The actions decide over the pool's "initialise as unavailable".
    available = {"mark_unavailable": 1,
                 "center": {"provisioning_actions": [{"prov_action_action": "set_available"}]}}
    assert rules.initially_available(Provision.from_doc(available))


def test_the_pool_size_counts_each_desktop_under_each_of_its_states() -> None:
    view = rules.DesktopView
    size = rules.size_of([
        view("running", available=True, assigned=True, agent_running=True, logged_in=True, connected=True),
        view("running", available=True, assigned=False, agent_running=True),
        view("stopped", available=False, assigned=False),
        view("suspended", available=False, assigned=True, logged_in=True),
        view("building", available=False, assigned=False),
    ])
    assert size.as_dict() == {
        "total_vm": 5, "assigned_vm": 2, "available_vm": 2, "unavailable_vm": 3,
        "total_vm_running": 2, "total_vm_stopped": 1, "total_vm_suspended": 1,
        "total_agent_running": 2, "total_logged_in": 2, "total_connected": 1,
    }
    assert size.unassigned == 3


def _rule(field: str, condition: str, text: str) -> dict[str, str]:
    return {"vm_table_field": field, "condition_type": condition, "text_to_match": text}


def test_each_attribute_condition_like_the_reference() -> None:
    """eq/ne/ct/nc/bw/ew, case-insensitive; a positive condition holds when any address matches, a
    negative one when no address does; no rules match nothing."""
    desktop = {"name": "Win-Desk-07", "display_name": "Desk 7", "ip": "10.0.0.5,198.51.100.7"}

    def match(condition: str, text: str, field: str = "name") -> bool:
        return rules.matches_attribute_rules([_rule(field, condition, text)], "A", desktop)

    assert match("eq", "win-desk-07") and not match("eq", "win-desk")
    assert match("ne", "win-desk") and not match("ne", "WIN-DESK-07")
    assert match("nc", "server") and not match("nc", "desk")
    assert match("ew", "-07") and not match("ew", "win")
    assert match("bw", "win-") and not match("bw", "desk")
    assert match("eq", "desk 7", "display_name")
    assert match("eq", "10.0.0.5", "ip") and match("ew", ".7", "ip")  # any address
    assert not match("ne", "10.0.0.5", "ip") and not match("nc", "198.51", "ip")  # every address
    assert match("ne", "10.0.0.6", "ip") and match("nc", "172.16", "ip")
    assert not rules.matches_attribute_rules([], "A", desktop)
    assert not rules.matches_attribute_rules([], "O", desktop)


def test_a_desktop_without_addresses_has_an_empty_address() -> None:
    """`ip eq ""` picks the desktops with no address, `ip ne ""` those with one."""
    no_ip = {"name": "desk-1", "display_name": "desk-1", "ip": ""}
    with_ip = {**no_ip, "ip": "10.0.0.5"}
    assert rules.matches_attribute_rules([_rule("ip", "eq", "")], "A", no_ip)
    assert not rules.matches_attribute_rules([_rule("ip", "ne", "")], "A", no_ip)
    assert rules.matches_attribute_rules([_rule("ip", "ne", "")], "A", with_ip)
    assert not rules.matches_attribute_rules([_rule("ip", "ct", "x")], "A", no_ip)
    assert rules.matches_attribute_rules([_rule("ip", "nc", "x")], "A", no_ip)


def test_a_provisioning_action_waits_in_its_unit() -> None:
    def wait(action: dict[str, Any]) -> int:
        return rules.wait_seconds(ProvisioningAction.from_doc(action))

    assert wait({"prov_action_wait_value": 3, "prov_action_wait_unit": "seconds"}) == 3
    assert wait({"prov_action_wait_value": 3, "prov_action_wait_unit": "minutes"}) == 180
    assert wait({"prov_action_wait_value": 2, "prov_action_wait_unit": "hours"}) == 7200
    assert wait({"prov_action_wait_value": 4}) == 4  # seconds unless said
    assert wait({}) == 0


def test_the_next_sequence_number_follows_the_last_and_the_pool_s_next_value() -> None:
    assert rules.first_sequence(None, 1) == 1
    assert rules.first_sequence(5, 1) == 6
    assert rules.first_sequence(None, 10) == 10  # the admin's "next value"
    assert rules.first_sequence(3, 10) == 10
    assert rules.first_sequence(12, 10) == 13  # lowering it never reuses a number


def test_a_reservation_hands_out_consecutive_ids_and_numbers_and_is_stored_as_is() -> None:
    reservation = rules.Reservation(first_id=100, first_sequence=7, count=3, at=1000)
    assert reservation.slots() == [(100, 7), (101, 8), (102, 9)]
    doc = {"first_id": 100, "first_sequence": 7, "count": 3, "at": 1000}
    assert reservation.as_doc() == doc
    assert rules.Reservation.from_doc(doc) == reservation
    assert rules.Reservation.from_doc({k: str(v) for k, v in doc.items()}) == reservation  # stored numbers


def test_the_threshold_met_exactly_is_no_deficit_and_a_record_without_instance_is_work() -> None:
    assert rules.deficit(total=4, assigned=2, threshold=2, maximum=10) == 0
    assert rules.deficit(total=4, assigned=3, threshold=2, maximum=10) == 1
    assert rules.has_work(total=4, assigned=2, threshold=2, maximum=10, without_instance=1)


def test_id_one_is_an_id_and_a_bad_value_is_quoted_cut_at_40_characters() -> None:
    import pytest

    from chalicelib.domain.provisioning import METADATA_DESKTOP, BadMetadata, BrokerMarks, broker_marks

    assert broker_marks({METADATA_DESKTOP: "1"}) == BrokerMarks(desktop_id=1)
    with pytest.raises(BadMetadata) as raised:
        broker_marks({METADATA_DESKTOP: "x" * 60})
    assert str(raised.value) == f"{METADATA_DESKTOP}={'x' * 40!r} is not an id"


def test_a_desktop_s_names_come_from_the_pool_s_templates() -> None:
    provision = {"provision_vm_name": "d-{SEQUENCE:3}", "provision_vm_display_name": "Desk {SEQUENCE}"}
    assert rules.desktop_names(Provision.from_doc(provision), 7) == ("d-007", "Desk 7")
    assert rules.desktop_names(Provision.from_doc({**provision, "provision_vm_display_name": ""}), 7) == (
        "d-007", "d-007")


def test_the_create_request_carries_the_pool_s_parameters_over_the_center_type_s_defaults() -> None:
    from chalicelib.domain.cloud import ServerSpec

    center = {"type": "openstack", "image": "img-1", "flavor": "fl-1", "network": "net-1",
              "availability_zone": "az-2", "security_groups": ["default", "rdp"], "create_new_volume": True,
              "new_volume_size": 40, "new_volume_type": "ssd", "delete_volume_on_instance_delete": 0}
    spec = rules.server_spec(ProvisionCenter.from_doc(center), "net-c", "d-1", {"k": "v"}, "#!/bin/sh")
    assert spec == ServerSpec(name="d-1", metadata={"k": "v"}, image="img-1", flavor="fl-1", network="net-1",
                              availability_zone="az-2", security_groups=("default", "rdp"),
                              boot_from_volume=True, volume_size_gb=40, volume_type="ssd",
                              delete_volume_on_termination=False, user_data="#!/bin/sh")
    bare = {"type": "virtuozzo", "image": "img-1", "flavor": "fl-1"}
    assert rules.server_spec(ProvisionCenter.from_doc(bare), "net-c", "d-2", {}) == ServerSpec(
        name="d-2", metadata={}, image="img-1", flavor="fl-1", network="net-c", availability_zone="nova",
        security_groups=(), boot_from_volume=True, volume_size_gb=None, volume_type=None,
        delete_volume_on_termination=True, user_data=None)
    no_volume = rules.server_spec(ProvisionCenter.from_doc({**bare, "create_new_volume": False}), "", "d-3",
                                  {})
    assert (no_volume.boot_from_volume, no_volume.network) == (False, "")


def test_a_new_desktop_is_available_unless_the_pool_says_otherwise() -> None:
    assert rules.initially_available(Provision())
    assert not rules.initially_available(Provision(mark_unavailable=1))


def test_provisioning_stops_at_the_third_failure_in_a_row() -> None:
    assert [rules.should_stop_after(n) for n in (2, 3, 4)] == [False, True, True]
