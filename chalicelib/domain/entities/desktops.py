"""A desktop as the store keeps it: one instance in a center as the broker knows it (ARCHITECTURE.md,
"desktop").

The record's attributes (its pool, instance, power state, holder, ...) and the keys the broker writes into
its document are all fields here, read once with the defaults their readers used to re-apply. The index
keys (`pool_key`, `center_key`, `user_key`, `due_bucket`) are derived by the store from these fields.

Nested values whose rules live in the domain stay in their stored shape and are read through it: the
agent's `session` (domain/sessions.Session, here `agent_session`), its `agent_tokens`
(domain/agent_tokens.AgentTokens, here `tokens`), the plan `timers` (domain/lifecycle.TimerSet). A stored
session keeps its state as written (`"logged_in"` of older records is counted by pool_stats).

The stored document holds only what differs from the defaults (docs/design.md, "Typed entities"): a
desktop's item stays as small as before, and a key absent and a key holding its default read the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

from chalicelib.domain.agent_tokens import AgentTokens
from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.sessions import Session

_WAITED = re.compile(r"^waited_(\d+)$")  # a provisioning action's wait, done (`waited_<index>`)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _power_state(value: Any) -> PowerState:
    try:
        return PowerState(value or PowerState.BUILDING)
    except ValueError:
        return PowerState.UNKNOWN


def _lifecycle(value: Any) -> DesktopLifecycle:
    """A value no broker writes (a hand-edited item) reads as an error: never offered nor counted, and one
    bad item does not fail the read of every desktop listed with it."""
    try:
        return DesktopLifecycle(value or DesktopLifecycle.ACTIVE)
    except ValueError:
        return DesktopLifecycle.ERROR


@dataclass(frozen=True, kw_only=True)
class Desktop:
    """A desktop record and its document, typed. `version` is the optimistic lock's value when it was
    read (None before its creation): the store writes a changed copy only under that version."""

    tenant_id: int
    id: int
    name: str
    center_id: int
    display_name: str | None = None
    pool_id: int | None = None
    instance_id: str | None = None
    power_state: PowerState = PowerState.BUILDING
    available: bool = True
    deletable: bool = False
    lifecycle: DesktopLifecycle = DesktopLifecycle.ACTIVE
    assigned_user_id: int | None = None
    last_user_id: int | None = None  # the last user it was assigned to ("favor previously assigned")
    last_offered: int | None = None  # epoch seconds of the last claim by a login
    due_at: int | None = None  # epoch seconds the earliest pending plan timer is due
    created: str = ""
    updated: str = ""
    version: int | None = None

    # -- the document: how it was made
    sequence: int | None = None  # its {SEQUENCE} number in its pool
    created_by_broker: bool = False
    adopted: bool = False  # the scan gave a record back to an instance the broker made
    registered: bool = False  # registered by hand in an uncategorized center
    delete_volume_on_instance_delete: bool = True
    create_claimed_at: int | None = None  # the check creating its instance stamped it then
    waited_steps: frozenset[int] = frozenset()  # provisioning actions whose wait is done
    # -- what the cloud says
    nova_status: str | None = None
    fault: str | None = None
    fixed_addresses: tuple[str, ...] = ()
    floating_addresses: tuple[str, ...] = ()
    floating_ip: str | None = None  # the one the broker associated (Nova's view lags behind)
    availability_zone: str | None = None
    flavor: str | None = None
    image: str | None = None
    volume_ids: tuple[str, ...] = ()
    error: str | None = None  # why its creation failed
    failed_pool_id: int | None = None
    deleted_at: str | None = None
    # -- its agent
    registration_hash: str | None = None
    registration_expires_at: float | None = None
    agent_tokens: Mapping[str, Any] | None = None
    agent_token_hash: str | None = None  # before token rotation existed
    agent: Mapping[str, Any] | None = None  # what the agent said when it registered
    agent_seen_at: float | None = None
    agent_started_at: str | None = None
    agent_last_event: tuple[str, float] | None = None
    agent_command: Mapping[str, Any] | None = None
    session: Mapping[str, Any] | None = None
    # -- its plans and actions
    assignment: Mapping[str, Any] | None = None  # the pool assignment it was claimed under
    timers: tuple[Mapping[str, Any], ...] = ()
    released_at: str | None = None
    release_handled: str | None = None
    pending_action: str | None = None
    pending_since: str | None = None
    pending_request: str | None = None
    last_action: str | None = None
    last_action_at: str | None = None
    last_action_error: str | None = None

    unknown: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    RECORD_FIELDS: ClassVar[frozenset[str]] = frozenset({
        "tenant_id", "id", "name", "center_id", "display_name", "pool_id", "instance_id", "power_state",
        "available", "deletable", "lifecycle", "assigned_user_id", "last_user_id", "last_offered", "due_at",
        "created", "updated", "version", "unknown"})

    def __post_init__(self) -> None:
        # Given as their stored strings (a caller that builds one), read as their enums.
        object.__setattr__(self, "power_state", _power_state(self.power_state))
        object.__setattr__(self, "lifecycle", _lifecycle(self.lifecycle))

    @classmethod
    def document_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name not in cls.RECORD_FIELDS)

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], **record: Any) -> Self:
        """The desktop from its record's attributes and its stored document."""
        known = set(cls.document_fields()) - {"waited_steps"}  # stored as `waited_<n>` keys
        settings = {k: v for k, v in doc.items() if k in known and v is not None}
        unknown = {k: v for k, v in doc.items() if k not in known and not _WAITED.match(k)}
        waited = frozenset(int(m.group(1)) for k, v in doc.items() if (m := _WAITED.match(k)) and v)
        for name in ("created_by_broker", "adopted", "registered", "delete_volume_on_instance_delete"):
            if name in settings:
                settings[name] = bool(settings[name])
        for name in ("fixed_addresses", "floating_addresses", "volume_ids"):
            if name in settings:
                settings[name] = _strings(settings[name])
        timers = settings.get("timers")
        settings["timers"] = (tuple(t for t in timers if isinstance(t, Mapping)) if isinstance(timers, list)
                              else ())
        last = settings.pop("agent_last_event", None)
        if isinstance(last, list | tuple) and len(last) == 2 and isinstance(last[1], int | float):
            settings["agent_last_event"] = (str(last[0]), float(last[1]))
        for name in ("agent_tokens", "agent", "agent_command", "session", "assignment"):
            if name in settings and not isinstance(settings[name], Mapping):
                unknown[name] = settings.pop(name)  # not ours to read: kept as it was
        fixed = {
            **record,
            "power_state": _power_state(record.get("power_state")),
            "lifecycle": _lifecycle(record.get("lifecycle")),
            "available": True if record.get("available") is None else bool(record["available"]),
            "deletable": bool(record.get("deletable")),
        }
        return cls(**fixed, **settings, waited_steps=waited, unknown=unknown)

    def stored_doc(self) -> dict[str, Any]:
        """The document the store writes: what differs from the defaults, and the keys read but not known."""
        doc = dict(self.unknown)
        for f in fields(self):
            if f.name in self.RECORD_FIELDS or f.name == "waited_steps":
                continue
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if isinstance(value, tuple):
                value = [dict(v) if isinstance(v, Mapping) else v for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            doc[f.name] = value
        doc.update({f"waited_{step}": True for step in sorted(self.waited_steps)})
        return doc

    # -- readings of the nested values through their domain rules

    @property
    def agent_session(self) -> Session:
        """The session as its agent reported it (logged out when none is known)."""
        return Session.from_doc(dict(self.session) if self.session is not None else None)

    @property
    def tokens(self) -> AgentTokens:
        return AgentTokens.stored(self.agent_tokens, self.agent_token_hash)
