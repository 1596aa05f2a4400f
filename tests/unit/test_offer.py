"""The offer rules: which desktops qualify, in which order, how many per pool assignment."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from chalicelib.domain import offer
from chalicelib.domain.entities.policies import Policy, PoolAssignment
from chalicelib.domain.offer import AssignmentTerms, DesktopFacts, PolicyTerms

USER = "1#7"


def desk(id_: int, **fields: object) -> DesktopFacts:
    base = DesktopFacts(
        id=id_,
        pool_id=1,
        name=f"desk-{id_}",
        display_name=f"Desk {id_}",
        power_state="running",
        available=True,
        lifecycle="active",
        assigned_user_id=None,
        created=f"2026-01-0{id_ % 9 + 1}",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def ids(desktops: list[DesktopFacts]) -> list[int]:
    return [d.id for d in desktops]


@pytest.mark.parametrize(
    "change",
    [
        {"available": False},
        {"lifecycle": "provisioning"},
        {"lifecycle": "error"},
        {"lifecycle": "deleted"},
        {"power_state": "error"},
        {"power_state": "building"},
        {"assigned_user_id": 3},
    ],
)
def test_only_free_available_active_desktops_are_claimable(change: dict) -> None:
    assert offer.is_claimable(desk(1))
    assert not offer.is_claimable(desk(1, **change))


@pytest.mark.parametrize("favor", [0, 1, 2, 3, 4])
def test_every_order_tries_each_claimable_desktop_once_and_skips_the_others(favor: int) -> None:
    pool = [desk(i) for i in range(1, 8)] + [desk(8, available=False), desk(9, assigned_user_id=2)]
    ordered = offer.order_candidates(pool, favor, USER, random.Random(favor))
    assert sorted(ids(ordered)) == list(range(1, 8))


def test_random_order_differs_between_logins() -> None:
    pool = [desk(i) for i in range(1, 30)]
    orders = {
        tuple(ids(offer.order_candidates(pool, offer.FAVOR_RANDOM, USER, random.Random(seed))))
        for seed in range(5)
    }
    assert len(orders) > 1


def test_previously_assigned_first() -> None:
    pool = [desk(1), desk(2, last_user_key="1#8"), desk(3, last_user_key=USER), desk(4)]
    assert ids(offer.order_candidates(pool, offer.FAVOR_PREVIOUS, USER, random.Random(1)))[0] == 3


def test_oldest_first() -> None:
    pool = [
        desk(1, created="2026-03-01T00:00:00Z"),
        desk(2, created="2026-01-01T00:00:00Z"),
        desk(3, created="2026-02-01T00:00:00Z"),
    ]
    assert ids(offer.order_candidates(pool, offer.FAVOR_OLDEST, USER)) == [2, 3, 1]


def test_least_recently_offered_first_never_offered_before_all() -> None:
    pool = [desk(1, last_offered=300), desk(2, last_offered=100), desk(3), desk(4, last_offered=200)]
    assert ids(offer.order_candidates(pool, offer.FAVOR_LEAST_RECENTLY_OFFERED, USER, random.Random(2))) == [
        3,
        2,
        4,
        1,
    ]


def test_running_first_then_suspended_then_stopped() -> None:
    pool = [desk(1, power_state="stopped"), desk(2, power_state="suspended"), desk(3, power_state="running")]
    assert ids(offer.order_candidates(pool, offer.FAVOR_RUNNING, USER)) == [3, 2, 1]


def terms(*assignments: AssignmentTerms, **policy: object) -> PolicyTerms:
    return PolicyTerms(assignments=assignments, **policy)  # type: ignore[arg-type]


def test_claims_follow_offer_quantity_per_assignment() -> None:
    policy = terms(AssignmentTerms(id=1, pool_id=1, offer_quantity=2), AssignmentTerms(id=2, pool_id=2))
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, [])] == [(1, 2), (2, 1)]


def test_held_desktops_count_towards_their_assignment_including_the_backup_pool() -> None:
    policy = terms(
        AssignmentTerms(id=1, pool_id=1, backup_pool_id=9, offer_quantity=2), AssignmentTerms(id=2, pool_id=2)
    )
    held = [desk(1, pool_id=9), desk(2, pool_id=2)]
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, held)] == [(1, 1)]


def test_max_desktops_caps_held_and_new_together() -> None:
    policy = terms(
        AssignmentTerms(id=1, pool_id=1, offer_quantity=3), AssignmentTerms(id=2, pool_id=2), max_desktops=2
    )
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, [])] == [(1, 2)]
    held = offer.held_offer(policy, [desk(i, pool_id=5) for i in range(1, 4)])
    assert len(held) == 2
    assert offer.claims_needed(policy, held) == []


def test_single_desktop_only_offers_one() -> None:
    policy = terms(AssignmentTerms(id=1, pool_id=1, offer_quantity=3), single_desktop_only=True)
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, [])] == [(1, 1)]


def test_kiosk_uses_only_kiosk_assignments_and_one_desktop() -> None:
    policy = terms(
        AssignmentTerms(id=1, pool_id=1, offer_quantity=3),
        AssignmentTerms(id=2, pool_id=2, kiosk=True, offer_quantity=4),
    )
    assert policy.cap == 1
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, [])] == [(2, 1)]
    # a held desktop of a non-kiosk pool is not what a kiosk shows
    assert offer.held_offer(policy, [desk(1, pool_id=1)]) == []
    assert ids(offer.held_offer(policy, [desk(1, pool_id=1), desk(2, pool_id=2)])) == [2]


def test_unusable_held_desktops_are_not_offered_and_do_not_count() -> None:
    policy = terms(AssignmentTerms(id=1, pool_id=1))
    held = offer.held_offer(policy, [desk(1, available=False, assigned_user_id=7)])
    assert held == []
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, held)] == [(1, 1)]


@pytest.mark.parametrize(
    ("power_state", "start_if_stopped", "power_on", "new", "expected"),
    [
        ("stopped", True, False, False, True),
        ("suspended", True, False, True, True),
        ("stopped", False, True, True, True),
        ("stopped", False, True, False, False),
        ("stopped", False, False, True, False),
        ("running", True, True, True, False),
    ],
)
def test_which_offered_desktops_are_started(
    power_state: str, start_if_stopped: bool, power_on: bool, new: bool, expected: bool
) -> None:
    assignment = AssignmentTerms(id=1, pool_id=1, start_if_stopped=start_if_stopped, power_on=power_on)
    assert offer.needs_start(desk(1, power_state=power_state), assignment, new) is expected
    assert offer.needs_start(desk(1, power_state=power_state), None, new) is False


def test_name_follows_display_mode() -> None:
    assert offer.shown_name(desk(1), "name") == "desk-1"
    assert offer.shown_name(desk(1), "display_name") == "Desk 1"
    assert offer.shown_name(desk(1, display_name=None), "display_name") == "desk-1"


def test_address_is_the_floating_ip_when_there_is_one() -> None:
    assert (
        offer.address_of(desk(1, fixed_addresses=("198.51.100.7",), floating_addresses=("203.0.113.7",)))
        == "203.0.113.7"
    )
    assert offer.address_of(desk(1, fixed_addresses=("198.51.100.7",))) == "198.51.100.7"
    assert offer.address_of(desk(1)) is None


def test_assignment_for_pool_prefers_the_primary() -> None:
    policy = terms(AssignmentTerms(id=1, pool_id=1, backup_pool_id=2), AssignmentTerms(id=2, pool_id=2))
    assert policy.assignment_for_pool(2).id == 2  # type: ignore[union-attr]
    assert policy.assignment_for_pool(3) is None


def test_assignment_terms_from_a_stored_doc() -> None:
    doc = {
        "id": 5,
        "pool_id": 3,
        "backup_pool_id": 0,
        "offer_quantity": 2,
        "favor_previous_assigned": 4,
        "power_on": 1,
        "start_if_stopped": 0,
        "kiosk": 0,
        "display_mode": "display_name",
        "plan_protocol_id": 9,
    }
    parsed = AssignmentTerms.of(PoolAssignment.from_stored(doc))
    assert (
        parsed.pool_id,
        parsed.offer_quantity,
        parsed.favor_previous_assigned,
        parsed.power_on,
        parsed.plan_protocol_id,
        parsed.pools,
    ) == (3, 2, 4, True, 9, (3,))


def test_a_stored_policy_is_read_with_every_term_its_admin_set() -> None:
    doc = {
        "max_desktops": 3,
        "single_desktop_only": 1,
        "pool_assignments": [{
            "id": 5, "pool_id": 7, "backup_pool_id": 8, "offer_quantity": 2, "favor_previous_assigned": 3,
            "power_on": 1, "start_if_stopped": 1, "kiosk": 1, "display_mode": "display_name",
            "plan_protocol_id": 4, "prevent_release": 1,
        }],
    }
    assert PolicyTerms.of(Policy.from_stored(doc, tenant_id=1, name="p")) == PolicyTerms(
        max_desktops=3, single_desktop_only=True,
        assignments=(AssignmentTerms(id=5, pool_id=7, backup_pool_id=8, offer_quantity=2,
                                     favor_previous_assigned=3, power_on=True, start_if_stopped=True,
                                     kiosk=True, display_mode="display_name", plan_protocol_id=4,
                                     prevent_release=True),),
    )


def test_a_stored_policy_without_its_optional_terms_reads_as_the_defaults() -> None:
    empty = Policy.from_stored({}, tenant_id=1, name="p")
    assert PolicyTerms.of(empty) == PolicyTerms(max_desktops=0, single_desktop_only=False, assignments=())
    def stored(doc: dict[str, object]) -> AssignmentTerms:
        return AssignmentTerms.of(PoolAssignment.from_stored(doc))

    bare = stored({"pool_id": 7, "offer_quantity": 0, "display_mode": ""})
    assert bare == AssignmentTerms(id=0, pool_id=7, backup_pool_id=0, offer_quantity=1,
                                   favor_previous_assigned=offer.FAVOR_RANDOM, power_on=False,
                                   start_if_stopped=False, kiosk=False, display_mode="name",
                                   plan_protocol_id=0, prevent_release=False)
    assert stored({"pool_id": 7, "offer_quantity": -4}).offer_quantity == 1


def test_a_capped_user_is_offered_the_held_desktop_least_recently_offered() -> None:
    policy = terms(AssignmentTerms(id=1, pool_id=1, offer_quantity=2), max_desktops=1)
    held = [desk(1, last_offered=1_800_000_200), desk(2, last_offered=1_800_000_100)]
    assert ids(offer.held_offer(policy, held)) == [2]


def test_each_held_desktop_of_a_pool_counts_towards_its_quantity() -> None:
    policy = terms(AssignmentTerms(id=1, pool_id=1, offer_quantity=3))
    held = [desk(1), desk(2)]
    assert [(n.assignment.pool_id, n.count) for n in offer.claims_needed(policy, held)] == [(1, 1)]


@pytest.mark.parametrize("seed", range(12))
def test_running_first_then_suspended_then_stopped_then_any_other_state_whatever_the_ties(seed: int) -> None:
    pool = [desk(1, power_state="unknown"), desk(2, power_state="stopped"), desk(3, power_state="suspended"),
            desk(4, power_state="running")]
    rng = random.Random(seed)
    assert ids(offer.order_candidates(pool, offer.FAVOR_RUNNING, USER, rng)) == [4, 3, 2, 1]
