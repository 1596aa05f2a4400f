"""Center checks and scans (worker side): credentials and inventory, then servers become desktops.

A scan is idempotent and safe to run twice at once: every desktop write is a versioned save or a
transaction with the pool's count, so a concurrent second scan either sees the first one's result or
fails its write and leaves it to the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError

from chalicelib.clouds import cloud_for
from chalicelib.domain import messages
from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import CloudError, Inventory, PowerState, ServerInfo
from chalicelib.domain.errors import Conflict
from chalicelib.services import audit
from chalicelib.services.centers import STATUS_OFFLINE, STATUS_ONLINE, center_access
from chalicelib.services.provisioning import apply_server, counters, desktops
from chalicelib.store import stores
from chalicelib.store.models import CenterRecord, DesktopRecord, PoolRecord

log = logging.getLogger("broker.scan")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def inventory_doc(inventory: Inventory) -> dict[str, Any]:
    return {
        "inventory_updated": _now(),
        "images": [{"id": i.id, "name": i.name} for i in inventory.images],
        "flavors": [
            {"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb}
            for f in inventory.flavors
        ],
        "networks": [{"id": n.id, "name": n.name, "external": n.external} for n in inventory.networks],
        "availability_zones": list(inventory.availability_zones),
        "security_groups": [{"id": s.id, "name": s.name} for s in inventory.security_groups],
        "volume_types": [{"id": v.id, "name": v.name} for v in inventory.volume_types],
    }


def _save_center_status(center: CenterRecord, **changes: Any) -> CenterRecord:
    """Write status fields; re-read and retry once if an admin saved the center meanwhile."""
    for _ in range(2):
        center.doc = {**center.doc, **changes}
        try:
            return stores.centers.save_doc(center)
        except Conflict:
            fresh = stores.centers.find(int(center.tenant_id), int(center.id))
            if fresh is None:
                return center
            center = fresh
    return center


def check_center(tenant_id: int, center_id: int) -> bool:
    """Verify the credentials and refresh the inventory; the status and message show in the API."""
    center = stores.centers.find(tenant_id, center_id)
    if center is None:
        return False
    try:
        cloud = cloud_for(center_access(center))
        cloud.check()
        inventory = cloud.inventory()
    except CloudError as error:
        _save_center_status(center, status=STATUS_OFFLINE, status_message=error.message, last_checked=_now())
        audit.record(tenant_id, "center.offline", f"Center '{center.name}' is offline: {error.message}")
        return False
    was_online = center.doc.get("status") == STATUS_ONLINE
    _save_center_status(
        center,
        status=STATUS_ONLINE,
        status_message="",
        last_checked=_now(),
        inventory=inventory_doc(inventory),
    )
    if not was_online:
        audit.record(tenant_id, "center.online", f"Center '{center.name}' is online")
    return True


def _pool_for_new_desktop(pools: list[PoolRecord], center_id: int, server: ServerInfo) -> int | None:
    """The pool a desktop found in a center belongs to: the first pool (lowest id) whose definition
    matches it — by center, or by attribute rules on name, display name and addresses."""
    values = {
        "name": server.name,
        "display_name": server.name,
        "ip": ",".join((*server.fixed_addresses, *server.floating_addresses)),
    }
    for pool in sorted(pools, key=lambda p: int(p.id)):
        definition = pool.doc.get("pool_definition") or {}
        if definition.get("restrict_by") == "C" and center_id in (definition.get("server_ids") or []):
            return int(pool.id)
        if definition.get("restrict_by") == "A" and rules.matches_attribute_rules(
            definition.get("attributes") or [], definition.get("pool_attribute_join", "A"), values
        ):
            return int(pool.id)
    return None


def scan_center(tenant_id: int, center_id: int) -> dict[str, int]:
    """Servers become desktops or update them; desktops whose instance is gone are marked deleted;
    instances with our metadata but no record are adopted. Returns counts of what changed."""
    center = stores.centers.find(tenant_id, center_id)
    result = {"new": 0, "updated": 0, "adopted": 0, "gone": 0}
    if center is None:
        return result
    try:
        cloud = cloud_for(center_access(center))
        servers = cloud.list_servers()
    except CloudError as error:
        _save_center_status(center, status=STATUS_OFFLINE, status_message=error.message, last_checked=_now())
        return result
    records = desktops.of_center(tenant_id, center_id)
    by_instance = {d.instance_id: d for d in records if d.instance_id}
    by_id = {int(d.id): d for d in records}
    pools = stores.pools.list(tenant_id)
    seen: set[str] = set()
    for server in servers:
        seen.add(server.id)
        desktop = by_instance.get(server.id)
        ours = server.metadata.get(rules.METADATA_TENANT) == str(tenant_id)
        if desktop is None and ours:
            desktop = by_id.get(int(server.metadata.get(rules.METADATA_DESKTOP, "0") or 0))
        try:
            if desktop is not None:
                if _refresh(desktop, server, cloud, pools):
                    result["updated"] += 1
            elif ours:
                _adopt(tenant_id, center_id, server, pools)
                result["adopted"] += 1
            else:
                _discover(tenant_id, center_id, server, pools)
                result["new"] += 1
        except (PutError, TransactWriteError):
            log.info("desktop for %s changed concurrently; the next scan settles it", server.id)
    for desktop in records:
        if (
            desktop.instance_id
            and desktop.instance_id not in seen
            and desktop.lifecycle not in ("deleted", "error")
        ):
            try:
                _mark_gone(desktop)
                result["gone"] += 1
            except (PutError, TransactWriteError):
                pass
    _save_center_status(center, last_scan=_now(), status=STATUS_ONLINE, status_message="")
    return result


def _refresh(desktop: DesktopRecord, server: ServerInfo, cloud: Any, pools: list[PoolRecord]) -> bool:
    if desktop.lifecycle == "error" and cloud is not None and server.metadata.get(rules.METADATA_DESKTOP):
        # The leftover instance of a failed provisioning: remove it (it was never offered).
        try:
            cloud.delete_server(
                server.id, delete_volumes=bool(desktop.doc.get("delete_volume_on_instance_delete", True))
            )
            audit.record(
                int(desktop.tenant_id),
                "desktop.cleanup",
                f"Removed the instance of failed desktop '{desktop.name}'",
                desktop_id=int(desktop.id),
            )
        except CloudError as error:
            log.warning("could not remove failed instance %s: %s", server.id, error.message)
        return False
    before = (
        desktop.power_state,
        desktop.doc.get("fixed_addresses"),
        desktop.doc.get("floating_addresses"),
        desktop.doc.get("fault"),
    )
    if desktop.lifecycle == "provisioning":
        if not desktop.instance_id:  # a worker died before recording the instance: link it now
            desktop.instance_id = server.id
            desktop.power_state = server.power_state.value
            desktops.save(desktop)
            stores.queue.send(messages.desktop_follow(int(desktop.tenant_id), int(desktop.id)))
            return True
        return False  # the follow-up messages own it until it is ready
    apply_server(desktop, server)
    after = (
        desktop.power_state,
        desktop.doc.get("fixed_addresses"),
        desktop.doc.get("floating_addresses"),
        desktop.doc.get("fault"),
    )
    membership = desktop.pool_id
    if not desktop.doc.get("created_by_broker") and desktop.lifecycle == "active":
        # Desktops found in the center follow the pools' definitions as they are now.
        membership = _pool_for_new_desktop(pools, int(desktop.center_id), server)
    if membership != desktop.pool_id:
        counters.move(desktop, membership)
        return True
    if before != after:
        desktops.save(desktop)
        return True
    return False


def _adopt(tenant_id: int, center_id: int, server: ServerInfo, pools: list[PoolRecord]) -> None:
    """An instance we created whose desktop record is missing: give it one (never create it again)."""
    pool_id = int(server.metadata.get(rules.METADATA_POOL) or 0) or None
    if pool_id is not None and not any(int(p.id) == pool_id for p in pools):
        pool_id = None
    desktop = desktops.new(
        tenant_id,
        center_id,
        None,
        server.name,
        display_name=server.name,
        lifecycle="active" if server.power_state is not PowerState.BUILDING else "provisioning",
        available=False,
        deletable=True,
        power_state=server.power_state.value,
        instance_id=server.id,
        doc={"adopted": True, "created_by_broker": True},
    )
    apply_server(desktop, server)
    counters.move(desktop, pool_id)
    audit.record(
        tenant_id,
        "desktop.adopted",
        f"Instance '{server.name}' adopted (its record was missing)",
        pool_id=pool_id,
        desktop_id=int(desktop.id),
        details={"instance_id": server.id},
    )


def _discover(tenant_id: int, center_id: int, server: ServerInfo, pools: list[PoolRecord]) -> None:
    """An instance the broker did not create (e.g. made by hand in the project)."""
    desktop = desktops.new(
        tenant_id,
        center_id,
        None,
        server.name,
        display_name=server.name,
        lifecycle="active",
        available=True,
        deletable=False,
        power_state=server.power_state.value,
        instance_id=server.id,
        doc={},
    )
    apply_server(desktop, server)
    counters.move(desktop, _pool_for_new_desktop(pools, center_id, server))


def _mark_gone(desktop: DesktopRecord) -> None:
    desktop.lifecycle = "deleted"
    desktop.power_state = PowerState.DELETED.value
    desktop.available = False
    desktop.assigned_user_id = None
    desktop.user_key = None
    desktop.doc = {**desktop.doc, "deleted_at": _now()}
    counters.move(desktop, None)
    audit.record(
        int(desktop.tenant_id),
        "desktop.gone",
        f"Instance of desktop '{desktop.name}' is gone",
        desktop_id=int(desktop.id),
    )


def handle_center_check(message: dict[str, Any]) -> None:
    if check_center(int(message["tenant_id"]), int(message["center_id"])):
        scan_center(int(message["tenant_id"]), int(message["center_id"]))


def handle_center_scan(message: dict[str, Any]) -> None:
    scan_center(int(message["tenant_id"]), int(message["center_id"]))
