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


def _as_doc(value: Any) -> Any:
    if isinstance(value, Section):
        return value.as_doc()
    return [_as_doc(item) for item in value] if isinstance(value, list) else value


def _settings(value: Any) -> Any:
    if isinstance(value, Section):
        return value.settings()
    return [_settings(item) for item in value] if isinstance(value, list) else value


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
        return {name: _settings(getattr(self, name)) for name in self.known_keys()}

    def as_doc(self) -> dict[str, Any]:
        """As stored: the known keys and those read but not known."""
        return {**self.unknown, **{name: _as_doc(getattr(self, name)) for name in self.known_keys()}}


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
class ProvisioningAction(Section):
    """One step run on a new desktop once its instance is built, after waiting `wait_value` units."""

    prov_action_action: str = ""  # start, poweroff, set_available, set_unavailable
    prov_action_wait_value: int = 0
    prov_action_wait_unit: str = "seconds"  # seconds, minutes, hours


@dataclass(frozen=True, kw_only=True)
class ProvisionCenter(Section):
    """Where and how the pool's instances are created, over the center type's defaults
    (domain/center_defaults.py)."""

    type: str = ""  # openstack or virtuozzo
    id: int = 0
    image: str = ""
    flavor: str = ""
    network: str = ""  # "": the center's network
    availability_zone: str = ""  # "": the center type's default
    assign_floating_ip: str = ""  # "": none; "1": from any external network; else that network
    security_groups: list[str] = field(default_factory=list)
    create_new_volume: int | None = None  # None: the center type's default
    delete_volume_on_instance_delete: int = 1
    new_volume_size: int | None = None  # GB; None: the flavor's disk
    new_volume_type: str = ""
    provisioning_actions: list[ProvisioningAction] = field(default_factory=list)

    def __post_init__(self) -> None:
        _set(self, "id", int(self.id or 0))
        # "" is what a body that leaves the size out stores (the schema's default): the flavor's disk too
        size = self.new_volume_size
        _set(self, "new_volume_size", None if size is None or size == "" else int(size))
        _set(self, "security_groups", list(self.security_groups or ()))
        _set(self, "provisioning_actions", [
            action if isinstance(action, ProvisioningAction) else ProvisioningAction.from_doc(action)
            for action in self.provisioning_actions or ()])


@dataclass(frozen=True, kw_only=True)
class Provision(Section):
    """How the pool keeps itself stocked (docs/provisioning.md): the threshold and maximum, or those of
    the time range in force (`time_limits`, read by domain/time_limits.py), the names of new desktops, and
    the center they are created in (None: none chosen, so nothing is created)."""

    provision_on_off: int = 0
    provision_threshold: int = 0
    provision_max: int = 0
    provision_vm_name: str = ""
    provision_vm_name_next_value: int = 1
    provision_vm_display_name: str = ""  # "": the instance name's template
    mark_deletable: int = 0
    mark_unavailable: int = 0
    provision_limits_enforce: int = 0
    time_limits: list[dict[str, Any]] = field(default_factory=list)
    provision_time_zone: str = ""  # "": the tenant's default zone
    provision_forecast_auto: int = 0
    provision_forecast_max_cap: int = 0  # 0: none
    center: ProvisionCenter | None = None

    def __post_init__(self) -> None:
        _set(self, "provision_threshold", int(self.provision_threshold or 0))
        _set(self, "provision_max", int(self.provision_max or 0))
        _set(self, "time_limits", list(self.time_limits or ()))
        _set(self, "provision_time_zone", self.provision_time_zone or "")
        _set(self, "provision_forecast_max_cap", int(self.provision_forecast_max_cap or 0))
        if not isinstance(self.center, ProvisionCenter):
            _set(self, "center", ProvisionCenter.from_doc(self.center) if self.center else None)


@dataclass(frozen=True, kw_only=True)
class Pool(Entity):
    """The admin's settings, and the jobs' side attributes read with them."""

    display_name: str = ""
    notes: str = ""
    running_desktops_threshold: int = 0
    pool_definition: PoolDefinition = field(default_factory=PoolDefinition)
    provision: Provision | None = None  # None: the pool does not provision
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
        if not isinstance(self.provision, Provision):
            # an empty section reads as none, as every reader did
            _set(self, "provision", Provision.from_doc(self.provision) if self.provision else None)
        _set(self, "stats", dict(self.stats or {}))
        _set(self, "broker_state", dict(self.broker_state or {}))

    def stored_doc(self) -> dict[str, Any]:
        return {name: _as_doc(value) for name, value in super().stored_doc().items()}

    @property
    def parent_pool_id(self) -> int:
        return self.pool_definition.parent_pool_id

    @property
    def provision_center_id(self) -> int | None:
        """The center the pool provisions in, if it names one."""
        center = self.provision.center if self.provision else None
        return center.id if center and center.id else None

    def uses_center(self, center_id: int) -> bool:
        """Whether the pool's definition lists the center or it provisions there."""
        return center_id in self.pool_definition.server_ids or self.provision_center_id == center_id
