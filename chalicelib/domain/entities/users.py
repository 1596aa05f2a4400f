"""A user as the store keeps it (chalicelib/services/users.py, chalicelib/store/repos.py `UserStore`).

Not an `Entity`: a user is keyed by (tenant, lower-cased login), its integer id served by an index, and
besides its settings it carries what the store guards (its password hash, the desktops it holds and the
version of that set, the time before which its tokens are refused). Services read those; only the store
writes them (`UserStore`, and the claims in chalicelib/store/claims.py for `held`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

DEFAULT_ROLE = "User"


@dataclass(frozen=True, kw_only=True)
class User:
    tenant_id: int
    login: str  # as stored: trimmed and case-folded (the store folds it on create)
    id: int = 0  # 0 until the store creates it
    # settings, kept in the record's document
    name: str = ""  # read as the login when missing or empty
    is_local: int = 1  # 1: a local user with a password here; 0: a user of an authentication server
    enabled: int = 1
    role: str = DEFAULT_ROLE  # read as "User" when missing or null
    policy_id: int | None = None  # the user's own policy; None: the tenant's rules choose
    auth_server_id: int | None = None
    auth_server_name: str | None = None
    notes: str = ""
    # the store's attributes beside the document
    password_hash: str | None = field(default=None, repr=False)  # argon2id; None: no password here
    held: frozenset[int] = frozenset()  # the desktops assigned to the user (written by the claims only)
    held_version: int | None = None  # counts the changes of `held`; None before the first
    tokens_after: int | None = None  # epoch seconds: tokens and sessions issued before it are refused
    created: str = ""
    updated: str = ""
    version: int | None = None  # the optimistic lock's value when it was read; None before its creation
    unknown: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    SETTINGS: ClassVar[tuple[str, ...]] = ("name", "is_local", "enabled", "role", "policy_id",
                                           "auth_server_id", "auth_server_name", "notes")

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], *, tenant_id: int, login: str, **record: Any) -> Self:
        """The user from its record's attributes and its stored document (missing keys: the defaults)."""
        known = set(cls.SETTINGS)
        settings = {k: v for k, v in doc.items() if k in known}
        settings["name"] = doc.get("name") or login
        settings["role"] = doc.get("role") or DEFAULT_ROLE
        return cls(tenant_id=tenant_id, login=login, **record, **settings,
                   unknown={k: v for k, v in doc.items() if k not in known})

    def stored_doc(self) -> dict[str, Any]:
        """The document the store writes: the settings, and the keys read but not known."""
        return {**self.unknown, **{name: getattr(self, name) for name in self.SETTINGS}}
