"""Which policy and role a user gets at login.

The user's own policy (set by an administrator on the user) wins; otherwise the authentication
server's assignment rules are read in order and the first that matches decides; otherwise the
tenant's default policy applies. A rule names a group (a DN or a group name; how a group matches is
the directory adapter's business, passed in as `matches`) or "any user". The role comes from the first
matching rule even when the user has a policy of their own, else from the user record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

SOURCE_USER = "user"
SOURCE_RULE = "rule"
SOURCE_DEFAULT = "default"
DEFAULT_ROLE = "User"


@dataclass(frozen=True)
class AssignmentRule:
    policy_id: int
    role: str = DEFAULT_ROLE
    group: str | None = None  # None: any user

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AssignmentRule:
        group = doc.get("group")
        return cls(policy_id=int(doc["policy_id"]), role=str(doc.get("role_name") or DEFAULT_ROLE),
                   group=None if doc.get("any_user") or not group else str(group))

    @property
    def any_user(self) -> bool:
        return self.group is None


@dataclass(frozen=True)
class PolicyChoice:
    policy_id: int | None  # None: the tenant's default policy
    role: str | None  # None: keep the user's role
    source: str


def first_matching_rule(rules: Iterable[AssignmentRule],
                        matches: Callable[[str], bool]) -> tuple[int, AssignmentRule] | None:
    for index, rule in enumerate(rules):
        if rule.any_user or (rule.group is not None and matches(rule.group)):
            return index, rule
    return None


def choose_policy(own_policy_id: int | None, rules: Iterable[AssignmentRule],
                  matches: Callable[[str], bool]) -> PolicyChoice:
    found = first_matching_rule(rules, matches)
    role = found[1].role if found else None
    if own_policy_id:
        return PolicyChoice(int(own_policy_id), role, SOURCE_USER)
    if found:
        return PolicyChoice(found[1].policy_id, role, SOURCE_RULE)
    return PolicyChoice(None, role, SOURCE_DEFAULT)


def no_groups(_group: str) -> bool:
    """The matcher for users without directory groups (local users): only "any user" rules apply."""
    return False
