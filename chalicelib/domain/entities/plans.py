"""Protocol, release and power-control plans as the store keeps them (docs/lifecycle.md, docs/gateway.md).

The three kinds share one table; the record's `kind` attribute says which, and the store reads each
record as the entity of its kind (`PlanEntity.from_stored`). Each entity completes its settings when it
is made (`__post_init__`), so a plan reads the same whether it was stored by a request that gave every
field or by one that left some out, and whether it was just made or read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from chalicelib.domain.entities.base import Entity
from chalicelib.domain.kinds import KIND_POWER_CONTROL, KIND_PROTOCOL, KIND_RELEASE
from chalicelib.domain.offer import DEFAULT_PROTOCOL, default_port

Step = dict[str, Any]  # {"action": ..., "after_minutes": ...}; release plans' on_logout: {"action": ...}


def _step(given: Mapping[str, Any] | None) -> Step:
    return {"action": "none", "after_minutes": 0, **(given or {})}


@dataclass(frozen=True, kw_only=True)
class PlanEntity(Entity):
    """What every plan has; a record of a kind this broker does not know is read as this (notes only)."""

    kind: str = ""
    notes: str = ""

    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset({"kind"})

    def __post_init__(self) -> None:
        self._set("notes", self.notes or "")

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # completing a frozen entity while it is made

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], **record: Any) -> Self:
        """The entity of the record's kind (the store reads every plan through the base class)."""
        kind_class = PLAN_CLASSES.get(str(record.get("kind") or ""), PlanEntity)
        if cls is PlanEntity and kind_class is not PlanEntity:
            return kind_class.from_stored(doc, **record)  # type: ignore[return-value]
        return super().from_stored(doc, **record)


@dataclass(frozen=True, kw_only=True)
class ProtocolPlanEntity(PlanEntity):
    """How clients connect to the desktops of an assignment; port 0 (or none given): the protocol's
    usual one (an html5 plan's: that of its `options.remote_protocol`)."""

    kind: str = KIND_PROTOCOL
    protocol: str = DEFAULT_PROTOCOL
    port: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    gateway_id: int = 0  # html5: the gateway the desktops are reached through

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("protocol", str(self.protocol or DEFAULT_PROTOCOL))
        self._set("options", dict(self.options or {}))
        self._set("port", int(self.port or default_port(self.protocol, self.options)))
        self._set("gateway_id", int(self.gateway_id or 0))


@dataclass(frozen=True, kw_only=True)
class LifecyclePlanEntity(PlanEntity):
    """A release or power-control plan: a step (action, after how many minutes) per section."""

    on_disconnect: Step = field(default_factory=dict)
    on_logout: Step = field(default_factory=dict)
    on_release: Step = field(default_factory=dict)

    SECTIONS: ClassVar[tuple[str, ...]] = ()

    def steps(self) -> dict[str, Step]:
        return {section: getattr(self, section) for section in self.SECTIONS}


@dataclass(frozen=True, kw_only=True)
class ReleasePlanEntity(LifecyclePlanEntity):
    """What happens when the user disconnects, goes idle, logs out, and when the desktop is released."""

    kind: str = KIND_RELEASE
    on_idle: Step = field(default_factory=dict)

    SECTIONS: ClassVar[tuple[str, ...]] = ("on_disconnect", "on_idle", "on_logout", "on_release")

    def __post_init__(self) -> None:
        super().__post_init__()
        for section in ("on_disconnect", "on_idle", "on_release"):
            self._set(section, _step(getattr(self, section)))
        self._set("on_logout", {"action": (self.on_logout or {}).get("action") or "keep"})


@dataclass(frozen=True, kw_only=True)
class PowerControlPlanEntity(LifecyclePlanEntity):
    """What happens to the instance when the user disconnects, logs out, and when it is released."""

    kind: str = KIND_POWER_CONTROL

    SECTIONS: ClassVar[tuple[str, ...]] = ("on_disconnect", "on_logout", "on_release")

    def __post_init__(self) -> None:
        super().__post_init__()
        for section in self.SECTIONS:
            self._set(section, _step(getattr(self, section)))


PLAN_CLASSES: dict[str, type[PlanEntity]] = {
    KIND_PROTOCOL: ProtocolPlanEntity,
    KIND_RELEASE: ReleasePlanEntity,
    KIND_POWER_CONTROL: PowerControlPlanEntity,
}
