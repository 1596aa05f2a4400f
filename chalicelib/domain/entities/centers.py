"""A center as the store keeps it (docs/design.md, "Typed entities"): one OpenStack or VHI project, or the
uncategorized center of desktops registered by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.entities.base import Entity
from chalicelib.domain.provisioning import DEFAULT_CENTER_BUILD_LIMIT

# The center's last credentials check (`status`); "inactive" is the `active` flag, not a status.
STATUS_ONLINE, STATUS_OFFLINE, STATUS_PENDING = 0, 1, 2


@dataclass(frozen=True, kw_only=True)
class Center(Entity):
    """Its settings under the adapter's names (CenterAccess), its status and its inventory; its password
    is in Secrets Manager, never here."""

    type: str = "openstack"  # openstack, virtuozzo or uncategorized
    active: int = 1
    status: int = STATUS_PENDING
    status_message: str = ""
    last_checked: str | None = None
    last_scan: str | None = None
    # What the Edit Pool form offers (images, flavors, networks...), as the last check read it.
    inventory: dict[str, Any] | None = None
    auth_url: str = ""
    username: str = ""
    domain: str = "Default"  # the user's
    project_domain: str = ""  # "": stored before it existed, the user's domain
    project: str = ""
    region: str = ""
    network_uuid: str = ""
    notes: str = ""
    poll_interval: int = 5  # minutes; 0: never polled (uncategorized)
    build_limit: int = DEFAULT_CENTER_BUILD_LIMIT
    allow_cleartext_password: int = 0
    # uncategorized centers only
    init_unavailable: int = 0
    offer_vms: int = 1
