"""Which policy and role a user gets at login (chalicelib/domain/policy_rules.py). No I/O."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.policy_rules import (
    DEFAULT_ROLE,
    SOURCE_DEFAULT,
    SOURCE_RULE,
    SOURCE_USER,
    AssignmentRule,
    PolicyChoice,
    choose_policy,
    first_matching_rule,
    no_groups,
)


def in_groups(*groups: str) -> Callable[[str], bool]:
    return lambda group: group in groups


RULES = [AssignmentRule(10, "Administrator", "cn=admins"), AssignmentRule(20, "User", "cn=staff"),
         AssignmentRule(30, "Read-only Administrator", None)]


def test_a_stored_rule_is_read_with_its_policy_role_and_group() -> None:
    assert AssignmentRule.from_doc({"policy_id": "7", "role_name": "Administrator", "group": "cn=a"}) == (
        AssignmentRule(7, "Administrator", "cn=a"))
    assert AssignmentRule.from_doc({"policy_id": 7}) == AssignmentRule(7, DEFAULT_ROLE, None)
    assert AssignmentRule.from_doc({"policy_id": 7, "group": "cn=a", "any_user": True}).any_user
    assert AssignmentRule.from_doc({"policy_id": 7, "group": ""}).any_user
    assert not AssignmentRule.from_doc({"policy_id": 7, "group": "cn=a"}).any_user
    assert DEFAULT_ROLE == "User"


def test_the_first_matching_rule_decides_in_order() -> None:
    assert first_matching_rule(RULES, in_groups("cn=staff", "cn=admins")) == (0, RULES[0])
    assert first_matching_rule(RULES, in_groups("cn=staff")) == (1, RULES[1])
    assert first_matching_rule(RULES, no_groups) == (2, RULES[2])  # "any user"
    assert first_matching_rule(RULES[:2], no_groups) is None
    assert not no_groups("cn=admins")


def test_the_user_s_own_policy_wins_but_the_rule_still_gives_the_role() -> None:
    assert choose_policy(5, RULES, in_groups("cn=admins")) == PolicyChoice(5, "Administrator", SOURCE_USER)
    assert choose_policy(None, RULES, in_groups("cn=staff")) == PolicyChoice(20, "User", SOURCE_RULE)
    assert choose_policy(None, RULES[:2], no_groups) == PolicyChoice(None, None, SOURCE_DEFAULT)
    assert choose_policy(5, RULES[:2], no_groups) == PolicyChoice(5, None, SOURCE_USER)
    assert (SOURCE_USER, SOURCE_RULE, SOURCE_DEFAULT) == ("user", "rule", "default")
