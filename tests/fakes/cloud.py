"""InMemoryCloud: a CloudPort in a dict, for unit tests of provisioning, scan and release rules.

It behaves like Nova/Neutron/Cinder where the broker's rules depend on it: create returns BUILD and
stays there until the test calls `advance_builds`; the instance quota raises CloudQuotaExceeded; power
actions from the wrong state raise CloudConflict; boot-from-volume volumes outlive their server unless
delete_on_termination; floating IPs are reused before new ones are allocated. As Nova and Cinder do, a
create that names no security group gets `default`, and a volume that names no type gets Cinder's
default type (`__DEFAULT__`), so a setting that was dropped is told from one that was applied. Errors can
be injected per operation, and `calls` counts every call by operation name. tests/contract checks all this
against the real cloud.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import TypeVar

from chalicelib.domain.cloud import (
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudQuotaExceeded,
    Flavor,
    Inventory,
    NamedItem,
    Network,
    PowerAction,
    ServerInfo,
    ServerSpec,
    power_state_of,
)

_Item = TypeVar("_Item", NamedItem, Flavor, Network)

DEFAULT_INVENTORY = Inventory(
    images=[NamedItem("11111111-1111-4111-8111-111111111111", "cirros-fake")],
    flavors=[Flavor("f-tiny", "m1.tiny", 1, 512, 1), Flavor("f-nodisk", "m1.nodisk", 1, 512, 0)],
    networks=[Network("22222222-2222-4222-8222-222222222222", "private", False),
              Network("33333333-3333-4333-8333-333333333333", "public", True)],
    availability_zones=["nova"],
    security_groups=[NamedItem("44444444-4444-4444-8444-444444444444", "default"),
                     NamedItem("44444444-4444-4444-8444-444444444445", "web")],
    volume_types=[NamedItem("55555555-5555-4555-8555-555555555554", "__DEFAULT__"),
                  NamedItem("55555555-5555-4555-8555-555555555555", "fake"),
                  NamedItem("55555555-5555-4555-8555-555555555556", "ssd")],
)
DEFAULT_SECURITY_GROUP = "default"
DEFAULT_VOLUME_TYPE = "__DEFAULT__"  # Cinder's own default type, as the local OpenStack has it

# From which Nova statuses each action is accepted, and the status it leads to.
_POWER_TRANSITIONS: dict[PowerAction, tuple[frozenset[str], str]] = {
    PowerAction.START: (frozenset({"SHUTOFF"}), "ACTIVE"),
    # Nova stops only ACTIVE or ERROR servers, and a soft reboot needs ACTIVE (tests/contract checks both).
    PowerAction.STOP: (frozenset({"ACTIVE", "ERROR"}), "SHUTOFF"),
    PowerAction.REBOOT: (frozenset({"ACTIVE"}), "ACTIVE"),
    PowerAction.SUSPEND: (frozenset({"ACTIVE"}), "SUSPENDED"),
    PowerAction.RESUME: (frozenset({"SUSPENDED"}), "ACTIVE"),
}


# Nova names the vm_state in its refusals; a few differ from the status.
_VM_STATES = {"SHUTOFF": "stopped"}


@dataclass
class FakeVolume:
    id: str
    size_gb: int
    volume_type: str | None
    server_id: str | None
    delete_on_termination: bool


@dataclass
class _Injected:
    error: CloudError
    after_effect: bool  # True: the operation happens, then the error is raised (a worker dying mid-way)


@dataclass
class InMemoryCloud:
    """Thread-safe enough for tests that drive the port from a few worker threads."""

    inventory_data: Inventory = field(default_factory=lambda: DEFAULT_INVENTORY)
    max_instances: int | None = None
    floating_ip_pool: list[str] = field(default_factory=lambda: [f"203.0.113.{n}" for n in range(10, 250)])
    servers: dict[str, ServerInfo] = field(default_factory=dict)
    volumes: dict[str, FakeVolume] = field(default_factory=dict)
    specs: dict[str, ServerSpec] = field(default_factory=dict)
    # The security groups each server was created in, as Nova applies them.
    security_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Allocated to the project and not attached to any server: reused before allocating more.
    free_floating_ips: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._fixed_ips = itertools.count(10)
        self._injected: dict[str, deque[_Injected]] = {}

    # -- test controls

    def fail_next(self, operation: str, error: CloudError, times: int = 1) -> None:
        """The next `times` calls of `operation` (a CloudPort method name) raise `error` and do nothing."""
        self._injected.setdefault(operation, deque()).extend(_Injected(error, False) for _ in range(times))

    def fail_after_next(self, operation: str, error: CloudError) -> None:
        """The next call of `operation` takes effect in the cloud, then raises (the caller never learns)."""
        self._injected.setdefault(operation, deque()).append(_Injected(error, True))

    def advance_builds(self, *server_ids: str) -> list[str]:
        """BUILD -> ACTIVE for the given servers (all building ones when none given); returns their ids."""
        with self._lock:
            building = tuple(sid for sid, server in self.servers.items() if server.status == "BUILD")
            targets = server_ids or building
            advanced = []
            for server_id in targets:
                if self.servers[server_id].status == "BUILD":
                    self._set_status(server_id, "ACTIVE")
                    advanced.append(server_id)
            return advanced

    def fail_build(self, server_id: str, fault: str = "No valid host was found. ") -> None:
        with self._lock:
            self.servers[server_id] = replace(self._set_status(server_id, "ERROR"), fault=fault.strip())

    def vanish(self, server_id: str) -> None:
        """The server disappears behind the broker's back (deleted in the cloud's own console)."""
        with self._lock:
            self.servers.pop(server_id, None)

    # -- CloudPort

    def check(self) -> None:
        self._enter("check")

    def inventory(self) -> Inventory:
        self._enter("inventory")
        return self.inventory_data

    def list_servers(self) -> list[ServerInfo]:
        self._enter("list_servers")
        with self._lock:
            return list(self.servers.values())

    def get_server(self, server_id: str) -> ServerInfo | None:
        self._enter("get_server")
        with self._lock:
            return self.servers.get(server_id)

    def find_servers(self, name: str) -> list[ServerInfo]:
        self._enter("find_servers")
        with self._lock:
            return [server for server in self.servers.values() if server.name == name]

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        injected = self._enter("create_server")
        with self._lock:
            image = self._resolve("image", spec.image, self.inventory_data.images)
            flavor = self._resolve("flavor", spec.flavor, self.inventory_data.flavors)
            self._resolve("network", spec.network, self.inventory_data.networks)
            if self.max_instances is not None and len(self.servers) >= self.max_instances:
                raise CloudQuotaExceeded(
                    f"Quota exceeded for instances: Requested 1, but already used {len(self.servers)} "
                    f"of {self.max_instances} instances"
                )
            # Nova refuses these with a 400 (CloudError), not a 404, in its own words.
            zones = self.inventory_data.availability_zones
            if spec.availability_zone and spec.availability_zone not in zones:
                raise CloudError("The requested availability zone is not available")
            groups = tuple(self._refused_unless_known(
                group, self.inventory_data.security_groups,
                f"Unable to find security_group with name or id '{group}'").name
                for group in spec.security_groups) or (DEFAULT_SECURITY_GROUP,)
            volume_type = self._refused_unless_known(
                spec.volume_type or DEFAULT_VOLUME_TYPE, self.inventory_data.volume_types,
                f"Volume type {spec.volume_type} could not be found.").name
            server_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
            volume_ids: tuple[str, ...] = ()
            if spec.boot_from_volume:
                volume = FakeVolume(
                    id=f"00000000-0000-4000-9000-{next(self._ids):012d}",
                    size_gb=spec.volume_size_gb or getattr(flavor, "disk_gb", 0) or 1,
                    volume_type=volume_type, server_id=server_id,
                    delete_on_termination=spec.delete_volume_on_termination,
                )
                self.volumes[volume.id] = volume
                volume_ids = (volume.id,)
            server = ServerInfo(
                id=server_id, name=spec.name, status="BUILD", power_state=power_state_of("BUILD"),
                metadata=dict(spec.metadata), fixed_addresses=(f"198.51.100.{next(self._fixed_ips)}",),
                availability_zone=spec.availability_zone or "nova", flavor=flavor.name,
                image=None if spec.boot_from_volume else image.id, volume_ids=volume_ids,
            )
            self.servers[server_id] = server
            self.specs[server_id] = spec
            self.security_groups[server_id] = groups
        self._raise_after(injected)
        # Nova's 202 carries only the id: like the adapter, answer with what was asked for (no addresses,
        # no volumes, the zone as named); get_server shows the rest.
        return replace(server, fixed_addresses=(), volume_ids=(), availability_zone=spec.availability_zone)

    def associate_floating_ip(self, server_id: str) -> str:
        injected = self._enter("associate_floating_ip")
        with self._lock:
            server = self._existing(server_id)
            if server.status in ("BUILD", "ERROR"):
                raise CloudConflict(
                    f"server {server_id} is {server.status}; a floating IP needs an ACTIVE server"
                )
            if server.floating_addresses:
                return server.floating_addresses[0]
            if self.free_floating_ips:
                address = self.free_floating_ips.pop(0)
            elif self.floating_ip_pool:
                address = self.floating_ip_pool.pop(0)
            else:
                raise CloudQuotaExceeded("Quota exceeded for resources: ['floatingip'].")
            self.servers[server_id] = replace(server, floating_addresses=(address,))
        self._raise_after(injected)
        return address

    def power(self, server_id: str, action: PowerAction) -> None:
        injected = self._enter("power")
        with self._lock:
            server = self._existing(server_id)
            allowed_from, target = _POWER_TRANSITIONS[action]
            if server.status not in allowed_from:
                raise CloudConflict(
                    f"Cannot '{action.value}' instance {server_id} while it is in vm_state "
                    f"{_VM_STATES.get(server.status, server.status.lower())}"
                )
            self._set_status(server_id, target)
        self._raise_after(injected)

    def delete_server(self, server_id: str, delete_volumes: bool) -> None:
        injected = self._enter("delete_server")
        with self._lock:
            server = self.servers.pop(server_id, None)
            if server is not None:
                # A deleted server's floating IP stays allocated to the project, free for reuse.
                self.free_floating_ips.extend(server.floating_addresses)
                for volume_id in server.volume_ids:
                    volume = self.volumes.get(volume_id)
                    if volume is None:
                        continue
                    if volume.delete_on_termination or delete_volumes:
                        del self.volumes[volume_id]
                    else:
                        volume.server_id = None
        self._raise_after(injected)

    # -- internals

    def _enter(self, operation: str) -> _Injected | None:
        with self._lock:
            self.calls[operation] += 1
            queue = self._injected.get(operation)
            injected = queue.popleft() if queue else None
        if injected is not None and not injected.after_effect:
            raise injected.error
        return injected

    @staticmethod
    def _raise_after(injected: _Injected | None) -> None:
        if injected is not None:
            raise injected.error

    def _existing(self, server_id: str) -> ServerInfo:
        server = self.servers.get(server_id)
        if server is None:
            raise CloudNotFound(f"Instance {server_id} could not be found.")
        return server

    def _set_status(self, server_id: str, status: str) -> ServerInfo:
        server = replace(self.servers[server_id], status=status, power_state=power_state_of(status))
        self.servers[server_id] = server
        return server

    @staticmethod
    def _refused_unless_known(ref: str, items: list[_Item], refusal: str) -> _Item:
        matches = [item for item in items if ref in (item.id, item.name)]
        if not matches:
            raise CloudError(refusal)
        return matches[0]

    @staticmethod
    def _resolve(kind: str, ref: str, items: list[_Item]) -> _Item:
        matches = [item for item in items if ref in (item.id, item.name)]
        if not matches:
            raise CloudNotFound(f"{kind} '{ref}' not found")
        return matches[0]
