"""A policy as the store keeps it, with its pool assignments inside (docs/design.md, "Typed entities"), so
that a login reads everything a policy offers in one request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

from chalicelib.domain.entities.base import Entity


@dataclass(frozen=True, kw_only=True)
class PoolAssignment:
    """One pool a policy offers, in the reference's fields (chalicelib/domain/offer.py reads them)."""

    id: int = 0
    pool_id: int = 0
    backup_pool_id: int = 0
    offer_quantity: int = 1
    favor_previous_assigned: int = 0
    power_on: int = 0
    start_if_stopped: int = 0
    kiosk: int = 0
    display_mode: str = "name"
    plan_protocol_id: int = 0
    plan_power_control_id: int = 0
    plan_release_id: int = 0
    prevent_release: int = 0
    created: str = ""
    updated: str = ""
    unknown: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any]) -> Self:
        known = cls.settings_fields()
        return cls(**{k: v for k, v in doc.items() if k in known},
                   unknown={k: v for k, v in doc.items() if k not in known})

    @classmethod
    def settings_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "unknown")

    def stored_doc(self) -> dict[str, Any]:
        return {**self.unknown, **{name: getattr(self, name) for name in self.settings_fields()}}


@dataclass(frozen=True, kw_only=True)
class Policy(Entity):
    """What a user is offered at login: from which pools (its assignments, in order) and how many."""

    is_default: int = 0
    max_desktops: int = 0  # 0: no limit beyond the assignments
    session_expire_delay: int = -1
    single_desktop_only: int = 0
    offer_empty_pools: int = 0
    notes: str = ""
    pool_assignments: tuple[PoolAssignment, ...] = ()

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], **record: Any) -> Self:
        # Entries that are not objects were never written by the broker: skipped (the plans' lookup did).
        assignments = tuple(PoolAssignment.from_stored(a) for a in doc.get("pool_assignments") or ()
                            if isinstance(a, Mapping))
        return super().from_stored({**doc, "pool_assignments": assignments}, **record)

    def stored_doc(self) -> dict[str, Any]:
        return {**super().stored_doc(), "pool_assignments": [a.stored_doc() for a in self.pool_assignments]}

    def assignment(self, assignment_id: int) -> PoolAssignment | None:
        return next((a for a in self.pool_assignments if a.id == assignment_id), None)

    def assigns(self, pool_id: int) -> bool:
        """Whether one of its assignments offers desktops of `pool_id`, as the pool or as the backup."""
        return any(pool_id in (a.pool_id, a.backup_pool_id) for a in self.pool_assignments)
