"""Pure provisioning rules: the threshold rule and names, with hypothesis properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import naming
from chalicelib.domain import provisioning as rules


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
    spec = rules.server_spec(provision, {}, "v-1", {})
    assert spec.availability_zone == "nova" and spec.boot_from_volume
    plain = rules.server_spec(
        {**provision, "center": {**provision["center"], "type": "openstack"}}, {}, "v-1", {}
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
