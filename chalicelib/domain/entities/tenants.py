"""A tenant as the store keeps it (chalicelib/services/tenants.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from chalicelib.domain.entities.base import Entity


@dataclass(frozen=True, kw_only=True)
class Tenant(Entity):
    """One customer or organisation; it belongs to the system tenant (`tenant_id` 0). Its name is its own
    login domain; `login_domains` are the further ones the system administrator granted it."""

    notes: str = ""
    login_domains: tuple[str, ...] = ()
    listed_at_login: int = 0  # 1: the portal's sign-in page lists its name and login domains
    time_zone: str = ""  # IANA name of its pools' time limits when a pool names none; "" = UTC

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], **record: Any) -> Self:
        # Tenants saved before these settings existed lack them (or hold null).
        return super().from_stored({**doc, "login_domains": tuple(doc.get("login_domains") or ()),
                                    "listed_at_login": int(doc.get("listed_at_login") or 0),
                                    "time_zone": doc.get("time_zone") or ""}, **record)

    def stored_doc(self) -> dict[str, Any]:
        return {**super().stored_doc(), "login_domains": list(self.login_domains)}
