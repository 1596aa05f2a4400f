"""An authentication server as the store keeps it: local users, LDAP or Active Directory (docs/ldap.md).
The bind password is in Secrets Manager, never here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from chalicelib.domain.entities.base import Entity

TYPE_LOCAL = "local"
TYPE_LDAP = "ldap"
TYPE_ACTIVE_DIRECTORY = "active_directory"
DIRECTORY_TYPES = frozenset({TYPE_LDAP, TYPE_ACTIVE_DIRECTORY})


@dataclass(frozen=True, kw_only=True)
class AuthServer(Entity):
    """A server with its login domain and its assignment rules (group or "any user" -> policy and role,
    in order: dicts with `group`, `any_user`, `policy_id`, `role_name`). The directory settings mean
    something for LDAP and Active Directory only; a local server keeps their defaults."""

    type: str = TYPE_LOCAL
    domain: str = ""
    urls: list[str] = field(default_factory=list)
    start_tls: int = 0
    bind_dn: str | None = None
    search_base: str | None = None
    login_attribute: str | None = None  # None: the type's usual one (uid, sAMAccountName)
    group_membership: str = "memberOf"
    group_search_base: str | None = None
    group_member_attribute: str = "member"
    connect_timeout_seconds: float = 5.0
    receive_timeout_seconds: float = 10.0
    verify_tls: int = 1
    ca_certificate_pem: str | None = None
    allow_cleartext_password: int = 0  # 1: ldap:// without StartTLS (passwords in clear) is accepted
    rules: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""

    # The settings only a directory has: a local server is saved with their defaults.
    DIRECTORY_FIELDS: ClassVar[tuple[str, ...]] = (
        "urls", "start_tls", "bind_dn", "search_base", "login_attribute", "group_membership",
        "group_search_base", "group_member_attribute", "connect_timeout_seconds", "receive_timeout_seconds",
        "verify_tls", "ca_certificate_pem", "allow_cleartext_password")

    def __post_init__(self) -> None:
        # What the readers used to re-apply to a stored document (`doc.get(x) or default`), once here.
        completed = {
            "urls": list(self.urls or []),
            "start_tls": int(self.start_tls or 0),
            "group_membership": self.group_membership or "memberOf",
            "group_member_attribute": self.group_member_attribute or "member",
            "connect_timeout_seconds": float(self.connect_timeout_seconds or 5.0),
            "receive_timeout_seconds": float(self.receive_timeout_seconds or 10.0),
            "verify_tls": int(self.verify_tls),
            "allow_cleartext_password": int(self.allow_cleartext_password or 0),
            "rules": list(self.rules or []),
            "notes": self.notes or "",
        }
        for name, value in completed.items():
            object.__setattr__(self, name, value)

    @property
    def is_directory(self) -> bool:
        return self.type in DIRECTORY_TYPES
