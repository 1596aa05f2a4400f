"""Roles and what they may do through the admin API (Leostream's "Access to API" role permission)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMINISTRATOR = "Administrator"
    READ_ONLY_ADMINISTRATOR = "Read-only Administrator"
    USER = "User"

    @property
    def api_access(self) -> bool:
        return self in (Role.ADMINISTRATOR, Role.READ_ONLY_ADMINISTRATOR)

    @property
    def may_write(self) -> bool:
        return self is Role.ADMINISTRATOR


ROLE_NAMES = tuple(role.value for role in Role)


def parse_role(name: str | None) -> Role | None:
    """Role names are matched case-insensitively, as an admin would type them."""
    if name is None:
        return None
    wanted = name.strip().casefold()
    for role in Role:
        if role.value.casefold() == wanted:
            return role
    return None
