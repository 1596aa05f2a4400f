"""The broker's own view of a cloud (OpenStack or VHI): records, errors and the port.

Services talk to `CloudPort`; `chalicelib/clouds/` implements it with openstacksdk and the tests
implement it in memory. Nothing here imports the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Protocol

from chalicelib.domain.kinds import CenterType


class PowerState(StrEnum):
    """A desktop's power state (`Desktop.power_state`), as the cloud reports it; stored as its value."""

    RUNNING = "running"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    BUILDING = "building"
    ERROR = "error"
    DELETED = "deleted"
    UNKNOWN = "unknown"


class PowerAction(str, Enum):
    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    SUSPEND = "suspend"
    RESUME = "resume"


# Nova server status -> our power state (ARCHITECTURE.md, "desktop").
NOVA_STATUS_TO_POWER_STATE: dict[str, PowerState] = {
    "ACTIVE": PowerState.RUNNING,
    "SHUTOFF": PowerState.STOPPED,
    "STOPPED": PowerState.STOPPED,
    "SUSPENDED": PowerState.SUSPENDED,
    "PAUSED": PowerState.SUSPENDED,
    "SHELVED": PowerState.STOPPED,
    "SHELVED_OFFLOADED": PowerState.STOPPED,
    "BUILD": PowerState.BUILDING,
    "REBUILD": PowerState.BUILDING,
    "REBOOT": PowerState.RUNNING,
    "HARD_REBOOT": PowerState.RUNNING,
    "RESIZE": PowerState.BUILDING,
    "VERIFY_RESIZE": PowerState.RUNNING,
    "MIGRATING": PowerState.RUNNING,
    "ERROR": PowerState.ERROR,
    "DELETED": PowerState.DELETED,
    "SOFT_DELETED": PowerState.DELETED,
}


def power_state_of(nova_status: str | None) -> PowerState:
    return NOVA_STATUS_TO_POWER_STATE.get((nova_status or "").upper(), PowerState.UNKNOWN)


@dataclass(frozen=True)
class CenterAccess:
    """What it takes to reach one center: Keystone v3 password auth, project scoped. `domain` is the user's;
    the project may live in another (`project_domain`, the user's when None)."""

    auth_url: str
    domain: str
    project: str
    username: str
    password: str
    region: str | None = None
    center_type: CenterType = CenterType.OPENSTACK
    project_domain: str | None = None

    @property
    def project_domain_name(self) -> str:
        return self.project_domain or self.domain

    def __repr__(self) -> str:  # never print the password
        return (
            f"CenterAccess(auth_url={self.auth_url!r}, domain={self.domain!r}, project={self.project!r}, "
            f"username={self.username!r}, region={self.region!r}, center_type={self.center_type.value!r}, "
            f"project_domain={self.project_domain_name!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class NamedItem:
    id: str
    name: str


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    external: bool


@dataclass(frozen=True)
class Inventory:
    """What the Edit Pool form's drop-downs offer for one center."""

    images: list[NamedItem] = field(default_factory=list)
    flavors: list[Flavor] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    availability_zones: list[str] = field(default_factory=list)
    security_groups: list[NamedItem] = field(default_factory=list)
    volume_types: list[NamedItem] = field(default_factory=list)


@dataclass(frozen=True)
class ServerSpec:
    """Everything needed to create one desktop's instance. Image, flavor and network are ids or names."""

    name: str
    metadata: dict[str, str]
    image: str
    flavor: str
    network: str
    availability_zone: str | None = None
    security_groups: tuple[str, ...] = ()
    boot_from_volume: bool = False
    volume_size_gb: int | None = None  # None: the flavor's disk
    volume_type: str | None = None
    delete_volume_on_termination: bool = True
    user_data: str | None = None  # plain text; the adapter encodes it


@dataclass(frozen=True)
class ServerInfo:
    """One instance as the cloud reports it."""

    id: str
    name: str
    status: str  # Nova's status, e.g. ACTIVE
    power_state: PowerState
    metadata: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    fixed_addresses: tuple[str, ...] = ()
    floating_addresses: tuple[str, ...] = ()
    availability_zone: str | None = None
    flavor: str | None = None
    image: str | None = None
    volume_ids: tuple[str, ...] = ()
    created_at: str | None = None


class CloudError(Exception):
    """Base of every cloud failure; `message` is readable by an admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CloudAuthFailed(CloudError):
    """Wrong password, unknown user, or project/domain not found or not accessible."""


class CloudNotFound(CloudError):
    pass


class CloudQuotaExceeded(CloudError):
    pass


class CloudConflict(CloudError):
    pass


class CloudTransient(CloudError):
    """5xx, timeouts, connection refused: worth retrying later."""


class CloudUnreachable(CloudTransient):
    """The endpoint does not answer at all."""


class CloudPort(Protocol):
    """The operations the broker needs from one center. Implementations are not thread-safe."""

    def check(self) -> None:
        """Authenticate and confirm the project is reachable; raise a CloudError subclass if not."""

    def inventory(self) -> Inventory: ...

    def list_servers(self) -> list[ServerInfo]:
        """Every server of the project, all pages."""

    def get_server(self, server_id: str) -> ServerInfo | None: ...

    def find_servers(self, name: str) -> list[ServerInfo]:
        """Servers whose name is exactly `name` (used to stay idempotent before a create)."""

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        """Ask the cloud to create; return at once (status BUILD), never wait for ACTIVE."""

    def associate_floating_ip(self, server_id: str) -> str:
        """Reuse a free floating IP of the project or allocate one on the external network; return it."""

    def power(self, server_id: str, action: PowerAction) -> None: ...

    def delete_server(self, server_id: str, delete_volumes: bool) -> None:
        """Delete the instance (and, when asked, volumes not already deleted with it). Missing is fine."""
