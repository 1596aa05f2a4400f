"""Center checks and scans (worker side): credentials and inventory, then servers become desktops.

A scan is idempotent and safe to run twice at once: every desktop write is a versioned save or a
transaction with the pool's count, so a concurrent second scan either sees the first one's result or
fails its write and leaves it to the next run.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from chalicelib import clock
from chalicelib.clock import epoch_of, utc_iso
from chalicelib.clouds import cloud_for
from chalicelib.domain import messages
from chalicelib.domain import pools as pool_rules
from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import CloudError, Inventory, PowerState, ServerInfo
from chalicelib.domain.desktop_lifecycle import GONE_OR_FAILED, DesktopLifecycle
from chalicelib.domain.entities.centers import STATUS_OFFLINE, STATUS_ONLINE, Center
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.pools import Pool
from chalicelib.domain.errors import Conflict
from chalicelib.services import audit
from chalicelib.services import retire as retirement
from chalicelib.services.centers import center_access, has_cloud
from chalicelib.services.provisioning import apply_server, counters, desktops
from chalicelib.settings import get_settings
from chalicelib.store import stores
from chalicelib.store.desktops import instance_guard
from chalicelib.store.orphan_markers import OrphanMarkers

log = logging.getLogger("broker.scan")
_orphans = OrphanMarkers()


def inventory_doc(inventory: Inventory) -> dict[str, Any]:
    return {
        "inventory_updated": utc_iso(),
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


def _save_center_status(center: Center, **changes: Any) -> Center:
    """Write status fields; re-read and retry once if an admin saved the center meanwhile."""
    for _ in range(2):
        try:
            return stores.centers.update(center, replace(center, **changes))
        except Conflict:
            fresh = stores.centers.find(center.tenant_id, center.id)
            if fresh is None:
                return center
            center = fresh
    return center


def check_center(tenant_id: int, center_id: int) -> bool:
    """Verify the credentials and refresh the inventory; the status and message show in the API."""
    center = stores.centers.find(tenant_id, center_id)
    if center is None or not has_cloud(center):
        return False
    try:
        cloud = cloud_for(center_access(center))
        cloud.check()
        inventory = cloud.inventory()
    except CloudError as error:
        _save_center_status(center, status=STATUS_OFFLINE, status_message=error.message,
                            last_checked=utc_iso())
        audit.record(tenant_id, "center.offline", f"Center '{center.name}' is offline: {error.message}")
        return False
    was_online = center.status == STATUS_ONLINE
    _save_center_status(
        center,
        status=STATUS_ONLINE,
        status_message="",
        last_checked=utc_iso(),
        inventory=inventory_doc(inventory),
    )
    if not was_online:
        audit.record(tenant_id, "center.online", f"Center '{center.name}' is online")
    return True


def _pool_for_new_desktop(pools: list[Pool], center_id: int, server: ServerInfo) -> int | None:
    """The pool a desktop found in a center belongs to (chalicelib/domain/pools.py)."""
    addresses = [*server.fixed_addresses, *server.floating_addresses]
    return pool_rules.pool_for_desktop([(p.id, p.pool_definition) for p in pools], center_id, server.name,
                                       server.name, addresses)


def scan_center(tenant_id: int, center_id: int, now: float | None = None) -> dict[str, int]:
    """Servers become desktops or update them; desktops whose instance is gone are marked deleted;
    instances with our metadata but no record are adopted (or, with BROKER_ORPHAN_POLICY=remove, removed
    after a grace period if their pool makes deletable desktops); desktops deleted long enough ago are
    purged. Returns counts of what changed."""
    center = stores.centers.find(tenant_id, center_id)
    result = {"new": 0, "updated": 0, "adopted": 0, "gone": 0, "purged": 0, "orphans_removed": 0,
              "skipped": 0}
    if center is None:
        return result
    if not has_cloud(center):  # desktops registered by hand: their pools follow the definitions, no cloud
        result["updated"] = _refresh_memberships(center)
        return result
    now = clock.time() if now is None else now
    try:
        cloud = cloud_for(center_access(center))
        servers = cloud.list_servers()
    except CloudError as error:
        result["purged"] = len(_purge_deleted(desktops.of_center(tenant_id, center_id), now))
        _save_center_status(center, status=STATUS_OFFLINE, status_message=error.message,
                            last_checked=utc_iso())
        return result
    # Read after the listing, so that every record written before an instance it lists is among them; one
    # read serves the purge too (it is the scan's largest: every desktop of the center).
    records = desktops.of_center(tenant_id, center_id)
    purged = _purge_deleted(records, now)
    result["purged"] = len(purged)
    records = [d for d in records if d.id not in purged]
    by_instance = {d.instance_id: d for d in records if d.instance_id}
    by_id = {d.id: d for d in records}
    pools = stores.pools.list(tenant_id)
    seen: set[str] = set()
    for server in servers:
        seen.add(server.id)
        desktop = by_instance.get(server.id)
        marks = rules.BrokerMarks()
        if desktop is None:
            try:
                marks = rules.broker_marks(server.metadata)
            except rules.BadMetadata as error:
                # Set by hand in the project: neither ours for sure nor foreign. Skipped until corrected,
                # never a reason to stop the scan of the other instances.
                log.warning("center %s: skipping instance %s (%r): %s",
                            center_id, server.id, server.name, error)
                result["skipped"] += 1
                continue
        ours = marks.tenant_id == tenant_id
        if desktop is None and ours and marks.desktop_id is not None:
            desktop = by_id.get(marks.desktop_id)
        try:
            if desktop is not None:
                if _refresh(desktop, server, cloud, pools):
                    result["updated"] += 1
            elif ours:
                outcome = _orphan(tenant_id, center_id, server, marks, pools, cloud, now)
                if outcome == "adopt":
                    _adopt(tenant_id, center_id, server, marks, pools)
                    result["adopted"] += 1
                elif outcome == "removed":
                    result["orphans_removed"] += 1
            else:
                _discover(tenant_id, center_id, server, pools)
                result["new"] += 1
        except Conflict:
            log.info("desktop for %s changed concurrently; the next scan settles it", server.id)
    for desktop in records:
        if (
            desktop.instance_id
            and desktop.instance_id not in seen
            and desktop.lifecycle not in GONE_OR_FAILED
        ):
            try:
                if _mark_gone(desktop):
                    result["gone"] += 1
            except Conflict:
                pass
    _save_center_status(center, last_scan=utc_iso(), status=STATUS_ONLINE, status_message="")
    return result


def _refresh_memberships(center: Center) -> int:
    """Move the center's desktops to the pools their definitions name now; how many moved."""
    tenant_id, center_id = center.tenant_id, center.id
    pools = [(p.id, p.pool_definition) for p in stores.pools.list(tenant_id)]
    moved = 0
    for desktop in desktops.of_center(tenant_id, center_id):
        if desktop.lifecycle != DesktopLifecycle.ACTIVE:
            continue
        addresses = list(desktop.fixed_addresses)
        membership = pool_rules.pool_for_desktop(pools, center_id, desktop.name,
                                                 desktop.display_name or desktop.name, addresses)
        if membership != desktop.pool_id:
            try:
                counters.move(desktop, membership)
                moved += 1
            except Conflict:
                log.info("desktop %s changed concurrently; the next scan settles it", desktop.id)
    _save_center_status(center, last_scan=utc_iso())
    return moved


def _refresh(desktop: Desktop, server: ServerInfo, cloud: Any, pools: list[Pool]) -> bool:
    if (desktop.lifecycle == DesktopLifecycle.ERROR and cloud is not None
            and server.metadata.get(rules.METADATA_DESKTOP)):
        # The leftover instance of a failed provisioning: remove it (it was never offered).
        try:
            cloud.delete_server(server.id, delete_volumes=desktop.delete_volume_on_instance_delete)
            audit.record(
                desktop.tenant_id,
                "desktop.cleanup",
                f"Removed the instance of failed desktop '{desktop.name}'",
                desktop_id=desktop.id,
            )
        except CloudError as error:
            log.warning("could not remove failed instance %s: %s", server.id, error.message)
        return False
    if desktop.lifecycle == DesktopLifecycle.PROVISIONING:
        if not desktop.instance_id:  # a worker died before recording the instance: link it now
            desktops.save(replace(desktop, instance_id=server.id, power_state=server.power_state))
            stores.queue.send(messages.desktop_follow(desktop.tenant_id, desktop.id))
            return True
        return False  # the follow-up messages own it until it is ready
    refreshed = apply_server(desktop, server)
    membership = desktop.pool_id
    if not desktop.created_by_broker and desktop.lifecycle == DesktopLifecycle.ACTIVE:
        # Desktops found in the center follow the pools' definitions as they are now.
        membership = _pool_for_new_desktop(pools, desktop.center_id, server)
    if membership != desktop.pool_id:
        counters.move(refreshed, membership)
        return True
    if _seen(refreshed) != _seen(desktop):
        desktops.save(refreshed)
        return True
    return False


def _seen(desktop: Desktop) -> tuple[Any, ...]:
    """What a scan compares to tell whether the instance changed: its power state, addresses and fault."""
    return desktop.power_state, desktop.fixed_addresses, desktop.floating_addresses, desktop.fault


def _adopt(
    tenant_id: int, center_id: int, server: ServerInfo, marks: rules.BrokerMarks, pools: list[Pool]
) -> None:
    """An instance we created whose desktop record is missing: give it one (never create it again)."""
    pool_id = marks.pool_id
    if pool_id is not None and not any(int(p.id) == pool_id for p in pools):
        pool_id = None
    # The record gets back the id the instance carries, so two scans adopting it at once write one record
    # (the second one's create is refused) instead of two.
    desktop = _record_of(tenant_id, center_id, server, created_by_broker=True, desktop_id=marks.desktop_id)
    _create_once(desktop, pool_id, None)
    audit.record(
        tenant_id,
        "desktop.adopted",
        f"Instance '{server.name}' adopted (its record was missing)",
        pool_id=pool_id,
        desktop_id=desktop.id,
        details={"instance_id": server.id},
    )


def _discover(tenant_id: int, center_id: int, server: ServerInfo, pools: list[Pool]) -> None:
    """An instance the broker did not create (e.g. made by hand in the project)."""
    desktop = _record_of(tenant_id, center_id, server, created_by_broker=False)
    # The instance's guard makes a second scan running at the same time fail instead of adding it twice.
    pool_id = _pool_for_new_desktop(pools, center_id, server)
    guard = instance_guard(tenant_id, center_id, server.id)
    try:
        _create_once(desktop, pool_id, guard)
    except Conflict:
        desktops.drop_stale_guard(tenant_id, guard)
        raise


def _record_of(tenant_id: int, center_id: int, server: ServerInfo, *, created_by_broker: bool,
               desktop_id: int | None = None) -> Desktop:
    """A new record for an instance the scan found without one: adopted (the broker made it: deletable, out
    of the offer until an admin or its pool says otherwise) or discovered (made by hand: offered, kept)."""
    still_building = created_by_broker and server.power_state is PowerState.BUILDING
    desktop = desktops.new(
        tenant_id, center_id, None, server.name, display_name=server.name,
        lifecycle=DesktopLifecycle.PROVISIONING if still_building else DesktopLifecycle.ACTIVE,
        available=not created_by_broker, deletable=created_by_broker, power_state=server.power_state,
        instance_id=server.id, adopted=created_by_broker, created_by_broker=created_by_broker,
        desktop_id=desktop_id)
    return apply_server(desktop, server)


def _create_once(desktop: Desktop, pool_id: int | None, guard: str | None) -> None:
    desktops.add_counted(desktop, pool_id, guard)


def _orphan(tenant_id: int, center_id: int, server: ServerInfo, marks: rules.BrokerMarks,
            pools: list[Pool], cloud: Any, now: float) -> str:
    """What to do with an instance that carries our metadata but has no desktop record: "adopt" (the
    default), or with BROKER_ORPHAN_POLICY=remove, "wait" through the grace period and then "removed" —
    only if its pool makes deletable desktops; an orphan whose pool is gone or keeps its desktops is
    adopted, never deleted."""
    settings = get_settings()
    if settings.orphan_policy != "remove":
        return "adopt"
    pool_id = marks.pool_id
    pool = next((p for p in pools if pool_id is not None and p.id == pool_id), None)
    provision = pool.provision if pool is not None else None
    if provision is None or not provision.mark_deletable:
        return "adopt"
    since = _orphans.first_seen(tenant_id, server.id, now)
    if now - since < settings.orphan_grace_minutes * 60:
        return "wait"
    # Claim the removal, so that of two scans at once only one deletes and records it.
    if not _orphans.claim_removal(tenant_id, server.id, now):
        return "wait"  # another scan is removing it (or did a moment ago)
    delete_volume = bool(provision.center.delete_volume_on_instance_delete if provision.center else 1)
    try:
        cloud.delete_server(server.id, delete_volumes=delete_volume)
    except CloudError as error:
        log.warning("could not remove orphan instance %s: %s", server.id, error.message)
        return "wait"
    audit.record(
        tenant_id,
        "desktop.orphan_removed",
        f"Instance '{server.name}' removed: it carried the broker's metadata but had no desktop record for "
        f"{settings.orphan_grace_minutes} minute(s)",
        pool_id=pool_id,
        details={"instance_id": server.id, "center_id": center_id, "desktop_id": marks.desktop_id},
    )
    return "removed"


def _purge_deleted(records: list[Desktop], now: float) -> set[int]:
    """Remove the records of desktops deleted more than BROKER_PURGE_DELETED_DAYS ago (0: never); the ids
    of those removed."""
    days = get_settings().purge_deleted_days
    if days <= 0:
        return set()
    purged: set[int] = set()
    for desktop in records:
        if desktop.lifecycle != DesktopLifecycle.DELETED:
            continue
        deleted_at = epoch_of(desktop.deleted_at) or epoch_of(desktop.updated)
        if deleted_at is None or now - deleted_at < days * 86400:
            continue
        if not desktops.purge(desktop):  # conditional on its version: a second scan's is refused
            continue
        audit.record(
            desktop.tenant_id,
            "desktop.purged",
            f"Record of desktop '{desktop.name}' purged ({days} day(s) after its deletion)",
            desktop_id=desktop.id,
        )
        purged.add(desktop.id)
    return purged


def _mark_gone(desktop: Desktop) -> bool:
    """Retire a desktop whose instance the center no longer lists. False: another scan did meanwhile."""
    retired = retirement.retire(desktop, "desktop gone")
    if retired is None:
        return False
    desktop = retired.desktop
    audit.record(
        desktop.tenant_id,
        "desktop.gone",
        f"Instance of desktop '{desktop.name}' is gone",
        desktop_id=desktop.id,
    )
    return True


def handle_center_check(message: dict[str, Any]) -> None:
    if check_center(int(message["tenant_id"]), int(message["center_id"])):
        scan_center(int(message["tenant_id"]), int(message["center_id"]))


def handle_center_scan(message: dict[str, Any]) -> None:
    scan_center(int(message["tenant_id"]), int(message["center_id"]))
