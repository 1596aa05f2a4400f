"""Who is calling: always scoped to one tenant (ARCHITECTURE.md invariant 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The owner of tenants and of the system administrator.
SYSTEM_TENANT_ID = 0


@dataclass(frozen=True)
class Caller:
    tenant_id: int
    user_id: int
    login: str
    role: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_system_admin(self) -> bool:
        return self.tenant_id == SYSTEM_TENANT_ID
