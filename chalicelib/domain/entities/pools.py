"""A pool as the store keeps it (docs/design.md, "Typed entities"): which desktops belong to it, how it
provisions, its event thresholds; and, read beside them, what the jobs last wrote (`stats`,
`broker_state`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

from chalicelib.domain.entities.base import Entity


def _set(section: Any, name: str, value: Any) -> None:
    object.__setattr__(section, name, value)  # completing a frozen object while it is made


@dataclass(frozen=True, kw_only=True)
class Section:
    """A nested part of the pool's document: its known keys typed with their defaults, the others kept
    in `unknown` and written back unchanged."""

    unknown: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "unknown")

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Self:
        doc = doc or {}
        known = cls.known_keys()
        return cls(**{k: v for k, v in doc.items() if k in known},
                   unknown={k: v for k, v in doc.items() if k not in known})

    def settings(self) -> dict[str, Any]:
        """The known keys (nested sections too), without those this broker does not know."""
        return {name: value.settings() if isinstance(value := getattr(self, name), Section) else value
                for name in self.known_keys()}

    def as_doc(self) -> dict[str, Any]:
        """As stored: the known keys and those read but not known."""
        doc = dict(self.unknown)
        for name in self.known_keys():
            value = getattr(self, name)
            doc[name] = value.as_doc() if isinstance(value, Section) else value
        return doc


@dataclass(frozen=True, kw_only=True)
class PoolDefinition(Section):
    """Which desktops belong to the pool: those of the centers `server_ids` (restrict_by "C"), or those
    matching the attribute rules (restrict_by "A", all rules with join "A", any with "O")."""

    restrict_by: str = ""  # "": matches no desktop (a request always gives one)
    server_ids: list[int] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    pool_attribute_join: str = "A"
    parent_pool_id: int = 0  # 0: none
    never_rogue: int = 0

    def __post_init__(self) -> None:
        _set(self, "restrict_by", self.restrict_by or "")
        _set(self, "server_ids", [int(i) for i in self.server_ids or ()])
        _set(self, "attributes", list(self.attributes or ()))
        _set(self, "parent_pool_id", int(self.parent_pool_id or 0))


@dataclass(frozen=True, kw_only=True)
class RetainHistory(Section):
    pool_history_age: int = 7  # days
    pool_history_interval: int = 15  # minutes, 0: no samples


@dataclass(frozen=True, kw_only=True)
class PoolLog(Section):
    """Thresholds of available desktops for information, warning and error events (0: off), and how
    the pool's size history is sampled and kept."""

    log_information_threshold: int = 0
    log_warning_threshold: int = 0
    log_error_threshold: int = 0
    retain_history: RetainHistory = field(default_factory=RetainHistory)

    def __post_init__(self) -> None:
        if not isinstance(self.retain_history, RetainHistory):
            _set(self, "retain_history", RetainHistory.from_doc(self.retain_history))


@dataclass(frozen=True, kw_only=True)
class Pool(Entity):
    """The admin's settings, and the jobs' side attributes read with them.

    `provision` (None: the pool does not provision) stays the mapping the domain's provisioning rules read
    (domain/provisioning.py, domain/time_limits.py, domain/pools.py): docs/design.md, "Typed entities"."""

    display_name: str = ""
    notes: str = ""
    running_desktops_threshold: int = 0
    pool_definition: PoolDefinition = field(default_factory=PoolDefinition)
    provision: Mapping[str, Any] | None = None
    log: PoolLog = field(default_factory=PoolLog)
    # Written by the jobs beside the document, outside the version (store/desktops.set_pool_side_state):
    # the size info as last counted, and the broker's own state ("stopped by the broker", over_max...).
    stats: Mapping[str, Any] = field(default_factory=dict)
    broker_state: Mapping[str, Any] = field(default_factory=dict)

    SIDE_ATTRIBUTES: ClassVar[frozenset[str]] = frozenset({"stats", "broker_state"})

    def __post_init__(self) -> None:
        if not isinstance(self.pool_definition, PoolDefinition):
            _set(self, "pool_definition", PoolDefinition.from_doc(self.pool_definition))
        if not isinstance(self.log, PoolLog):
            _set(self, "log", PoolLog.from_doc(self.log))
        _set(self, "provision", None if self.provision is None else dict(self.provision))
        _set(self, "stats", dict(self.stats or {}))
        _set(self, "broker_state", dict(self.broker_state or {}))

    def stored_doc(self) -> dict[str, Any]:
        return {name: value.as_doc() if isinstance(value, Section) else value
                for name, value in super().stored_doc().items()}

    @property
    def parent_pool_id(self) -> int:
        return self.pool_definition.parent_pool_id

    @property
    def provision_center_id(self) -> int | None:
        """The center the pool provisions in, if it names one."""
        center_id = ((self.provision or {}).get("center") or {}).get("id")
        return int(center_id) if center_id else None

    def uses_center(self, center_id: int) -> bool:
        """Whether the pool's definition lists the center or it provisions there."""
        return center_id in self.pool_definition.server_ids or self.provision_center_id == center_id
