"""Pure provisioning rules (ARCHITECTURE.md, "Provisioning, as the reference describes it").

Unassigned = total - assigned (available or unavailable both count). A check creates the whole deficit
at once: while unassigned is below the threshold and until the total reaches the maximum, bounded by
how many more instances the center may be building at the same time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import naming
from chalicelib.domain.center_defaults import provisioning_defaults
from chalicelib.domain.cloud import CenterType, PowerState, ServerSpec
from chalicelib.domain.entities.pools import Provision, ProvisionCenter, ProvisioningAction

DEFAULT_CENTER_BUILD_LIMIT = 10  # a center's `build_limit` unless its admin sets one
MAX_CENTER_BUILD_LIMIT = 500
FAILURES_BEFORE_STOP = 3

METADATA_DESKTOP = "broker_desktop_id"
METADATA_POOL = "broker_pool_id"
METADATA_TENANT = "broker_tenant_id"


MAX_ID = 2**53  # ids are JSON numbers: beyond this they lose precision


class BadMetadata(ValueError):
    """An instance carries one of the broker's metadata keys with a value that is not an id."""


@dataclass(frozen=True)
class BrokerMarks:
    """The ids the broker wrote into an instance's metadata (None: the key is absent or empty)."""

    tenant_id: int | None = None
    desktop_id: int | None = None
    pool_id: int | None = None


def broker_marks(metadata: Mapping[str, str]) -> BrokerMarks:
    """Read the broker's ids from an instance's metadata. Anyone with access to the project can set
    metadata: a value that is not a positive integer below 2**53 raises BadMetadata naming the key."""

    def id_of(key: str) -> int | None:
        raw = metadata.get(key)
        if raw is None or raw == "":
            return None
        text = str(raw)
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) < MAX_ID:
            raise BadMetadata(f"{key}={text[:40]!r} is not an id")
        return int(text)

    return BrokerMarks(id_of(METADATA_TENANT), id_of(METADATA_DESKTOP), id_of(METADATA_POOL))


# No worker can still be at work on something it began this long ago: the worker's Lambda timeout is
# 120 s (.chalice/config.json) and a create request waits at most 30 s for its answer; the rest is margin
# for a cloud that is slow to carry out a request it received. Past it, an open reservation is abandoned
# and a record without an instance is stuck (docs/provisioning.md, "Never one too many").
NO_LIVE_WORKER_AFTER_SECONDS = 300


@dataclass(frozen=True)
class Reservation:
    """A check's claim on `count` more desktops of a pool, written on the pool's total in the same
    transaction that raises it: the desktop ids and the {SEQUENCE} numbers its records get (consecutive),
    and when it was made (epoch seconds). It is open until all its records are written."""

    first_id: int
    first_sequence: int
    count: int
    at: int

    def slots(self) -> list[tuple[int, int]]:
        """(desktop id, sequence number) of each record of the reservation."""
        return [(self.first_id + n, self.first_sequence + n) for n in range(self.count)]

    def abandoned(self, now: float, after: float = NO_LIVE_WORKER_AFTER_SECONDS) -> bool:
        """True once the check that made it can no longer be writing its records."""
        return now - self.at > after

    def as_doc(self) -> dict[str, int]:
        return {"first_id": self.first_id, "first_sequence": self.first_sequence, "count": self.count,
                "at": self.at}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Reservation:
        return cls(int(doc["first_id"]), int(doc["first_sequence"]), int(doc["count"]), int(doc["at"]))


def first_sequence(last_used: int | None, first_value: int) -> int:
    """The next {SEQUENCE} number: after the last one handed out, and no lower than the pool's "next
    value" (an admin may raise it later; lowering it never reuses a number)."""
    return max(last_used or 0, first_value - 1) + 1


def deficit(total: int, assigned: int, threshold: int, maximum: int) -> int:
    """How many desktops one check creates. Never negative, never past the maximum."""
    unassigned = total - assigned
    if unassigned >= threshold:
        return 0
    return max(0, min(threshold - unassigned, maximum - total))


def has_work(total: int, assigned: int, threshold: int, maximum: int, without_instance: int) -> bool:
    """Whether a check of the pool could create anything: a deficit, or records still waiting for an
    instance (a check creates them again once they are stuck). `total` counts the pool's live desktops,
    those being created included, as the pool's counter does."""
    return without_instance > 0 or deficit(total, assigned, threshold, maximum) > 0


def bounded_by_center(wanted: int, building_in_center: int, limit: int = DEFAULT_CENTER_BUILD_LIMIT) -> int:
    """At most `limit` instances of one center are being built at once."""
    return max(0, min(wanted, limit - building_in_center))


@dataclass(frozen=True)
class DesktopView:
    """What pool size info needs to know of one desktop."""

    power_state: str
    available: bool
    assigned: bool
    agent_running: bool = False
    logged_in: bool = False
    connected: bool = False


@dataclass(frozen=True)
class PoolSize:
    total_vm: int = 0
    assigned_vm: int = 0
    available_vm: int = 0
    unavailable_vm: int = 0
    total_vm_running: int = 0
    total_vm_stopped: int = 0
    total_vm_suspended: int = 0
    total_agent_running: int = 0
    total_logged_in: int = 0
    total_connected: int = 0

    @property
    def unassigned(self) -> int:
        return self.total_vm - self.assigned_vm

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def size_of(desktops: Iterable[DesktopView]) -> PoolSize:
    counts = dict.fromkeys(PoolSize.__dataclass_fields__, 0)
    for desktop in desktops:
        counts["total_vm"] += 1
        counts["assigned_vm"] += desktop.assigned
        counts["available_vm" if desktop.available else "unavailable_vm"] += 1
        counts["total_vm_running"] += desktop.power_state == PowerState.RUNNING.value
        counts["total_vm_stopped"] += desktop.power_state == PowerState.STOPPED.value
        counts["total_vm_suspended"] += desktop.power_state == PowerState.SUSPENDED.value
        counts["total_agent_running"] += desktop.agent_running
        counts["total_logged_in"] += desktop.logged_in
        counts["total_connected"] += desktop.connected
    return PoolSize(**counts)


def desktop_names(provision: Provision, sequence: int) -> tuple[str, str]:
    """(instance name, display name) of the desktop with this sequence number."""
    name = naming.render(provision.provision_vm_name, sequence)
    display_template = provision.provision_vm_display_name or provision.provision_vm_name
    return name, naming.render(display_template, sequence)


def server_spec(
    center: ProvisionCenter,
    center_network: str,
    name: str,
    metadata: dict[str, str],
    user_data: str | None = None,
) -> ServerSpec:
    """The create request for one desktop: the pool's parameters (`center`, its `provision.center`) over the
    center type's defaults (the network: over the center's `network_uuid`, `center_network`)."""
    defaults = provisioning_defaults(CenterType(center.type))
    create_volume = center.create_new_volume
    return ServerSpec(
        name=name,
        metadata=metadata,
        image=center.image,
        flavor=center.flavor,
        network=center.network or center_network or "",
        availability_zone=center.availability_zone or defaults["availability_zone"],
        security_groups=tuple(center.security_groups),
        boot_from_volume=bool(defaults["boot_from_volume"] if create_volume is None else create_volume),
        volume_size_gb=center.new_volume_size or defaults["volume_size_gb"],
        volume_type=center.new_volume_type or defaults["volume_type"],
        delete_volume_on_termination=bool(center.delete_volume_on_instance_delete),
        user_data=user_data,
    )


def initially_available(provision: Provision) -> bool:
    """A new desktop is available unless the pool says "initialise as unavailable" or its last
    provisioning action is set_unavailable."""
    actions = provision.center.provisioning_actions if provision.center else []
    if actions:
        return actions[-1].prov_action_action == "set_available"
    return not provision.mark_unavailable


def wait_seconds(action: ProvisioningAction) -> int:
    unit = {"seconds": 1, "minutes": 60, "hours": 3600}[action.prov_action_wait_unit]
    return int(action.prov_action_wait_value) * unit


def should_stop_after(consecutive_failures: int, limit: int = FAILURES_BEFORE_STOP) -> bool:
    return consecutive_failures >= limit


def matches_attribute_rules(rules: list[dict[str, Any]], join: str, values: dict[str, str]) -> bool:
    """Pool membership by attributes: eq/ne/ct/nc/bw/ew on name, display_name or ip (case-insensitive),
    all rules (`A`) or any rule (`O`)."""
    if not rules:
        return False
    results = []
    for rule in rules:
        candidates = [v.casefold() for v in values.get(rule["vm_table_field"], "").split(",") if v] or [""]
        text = rule["text_to_match"].casefold()
        test = {
            "eq": lambda v, t=text: v == t,
            "ne": lambda v, t=text: v != t,
            "ct": lambda v, t=text: t in v,
            "nc": lambda v, t=text: t not in v,
            "bw": lambda v, t=text: v.startswith(t),
            "ew": lambda v, t=text: v.endswith(t),
        }[rule["condition_type"]]
        negative = rule["condition_type"] in ("ne", "nc")
        results.append(all(map(test, candidates)) if negative else any(map(test, candidates)))
    return all(results) if join == "A" else any(results)
