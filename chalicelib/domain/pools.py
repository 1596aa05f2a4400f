"""Pure rules about pool settings: what makes a pool definition or its provisioning valid."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.domain import naming, time_limits
from chalicelib.domain.entities.pools import PoolDefinition, Provision
from chalicelib.domain.errors import ErrorList
from chalicelib.domain.provisioning import matches_attribute_rules

AVAILABILITY_ACTIONS = ("set_available", "set_unavailable")


def provisioning_blocked(provision: Provision | None, broker_state: Mapping[str, Any] | None) -> str | None:
    """The one answer to "is this pool provisioning?": why it is not, or None when it is. A pool
    provisions when its provisioning is on, the broker has not stopped it on error, and it names a
    center to create in. (The worker's check, the login's "provisioning is under way" hint and the
    scheduled run that queues checks all ask this.)"""
    if provision is None or not provision.provision_on_off:
        return "provisioning is off"
    if (broker_state or {}).get("stopped_by_broker"):
        return "provisioning was stopped by the broker on error"
    if provision.center is None:
        return "no center to provision in"
    return None


def pool_for_desktop(pools: Iterable[tuple[int, PoolDefinition]], center_id: int, name: str,
                     display_name: str, addresses: list[str]) -> int | None:
    """The pool a desktop found in (or registered with) a center belongs to: the first pool (lowest id)
    whose definition matches it, by center or by attribute rules on name, display name and addresses.
    `pools`: (id, definition) of the tenant's pools."""
    values = {"name": name, "display_name": display_name, "ip": ",".join(addresses)}
    for pool_id, definition in sorted(pools, key=lambda p: p[0]):
        if definition.restrict_by == "C" and center_id in definition.server_ids:
            return pool_id
        if definition.restrict_by == "A" and matches_attribute_rules(
            definition.attributes, definition.pool_attribute_join, values
        ):
            return pool_id
    return None


def definition_problems(definition: dict[str, Any], errors: ErrorList) -> None:
    """A pool defined by centers lists them; one defined by attributes has rules (reference paths)."""
    base = "/body/pool_definition"
    server_ids = definition.get("server_ids") or []
    if definition.get("restrict_by") == "C" and not server_ids:
        errors.add(f"{base}/server_ids", "restrict_by 'C' needs at least one center id in server_ids")
    if definition.get("restrict_by") == "A" and not definition.get("attributes"):
        errors.add(f"{base}/attributes", "restrict_by 'A' needs at least one rule in attributes")
    seen: set[int] = set()
    for index, center_id in enumerate(server_ids):
        if center_id in seen:
            errors.add(f"{base}/server_ids/{index}", f"Center {center_id} is listed twice")
        seen.add(center_id)


def log_problems(log: dict[str, Any] | None, errors: ErrorList) -> None:
    """Event thresholds (0 = off) must be ordered: error < warning < information, as in the reference."""
    log = log or {}
    base = "/body/log"
    error = log.get("log_error_threshold") or 0
    warning = log.get("log_warning_threshold") or 0
    information = log.get("log_information_threshold") or 0
    if error and warning and error >= warning:
        errors.add(f"{base}/log_error_threshold", "Error threshold must be less than warning threshold")
    if error and information and error >= information:
        errors.add(f"{base}/log_error_threshold", "Error threshold must be less than information threshold")
    if warning and information and warning >= information:
        errors.add(
            f"{base}/log_warning_threshold", "Warning threshold must be less than information threshold"
        )


def provisioning_problems(provision: dict[str, Any] | None, errors: ErrorList) -> None:
    """Cross-field checks of `provision` that a schema cannot express (paths as in the reference)."""
    if not provision:
        return
    base = "/body/provision"
    if provision["provision_max"] < provision["provision_threshold"]:
        errors.add(
            f"{base}/provision_max",
            "Maximum pool size must be greater than or equal to provisioning threshold",
        )
    for field in ("provision_vm_name", "provision_vm_display_name"):
        for problem in naming.template_problems(provision.get(field) or ""):
            errors.add(f"{base}/{field}", problem)
    time_limits.problems(provision.get("time_limits") or [], errors, f"{base}/time_limits")
    zone = provision.get("provision_time_zone") or ""
    if zone and (problem := time_limits.zone_problem(zone)):
        errors.add(f"{base}/provision_time_zone", problem)
    if provision.get("provision_forecast_auto") and not provision.get("provision_forecast_max_cap"):
        errors.add(f"{base}/provision_forecast_max_cap",
                   "The automatic forecast needs a cap: the highest maximum it may set (1 or more)")
    actions = (provision.get("center") or {}).get("provisioning_actions") or []
    if actions and actions[-1].get("prov_action_action") not in AVAILABILITY_ACTIONS:
        errors.add(
            f"{base}/center/provisioning_actions/{len(actions) - 1}/prov_action_action",
            "The last provisioning action must be set_available or set_unavailable",
        )
    if provision["provision_on_off"]:
        if provision.get("center") is None:
            errors.add(f"{base}/center", "Provisioning is on: choose the center to provision in")
        name = provision.get("provision_vm_name") or ""
        if not name:
            errors.add(f"{base}/provision_vm_name", "Provisioning is on: give the name of new desktops")
        elif provision["provision_max"] > 1 and not naming.has_sequence(name):
            errors.add(
                f"{base}/provision_vm_name",
                "Use the {SEQUENCE} tag so that the desktops of this pool get distinct names",
            )


def merge_update(stored: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """An update replaces the top-level fields it names; `provision` is merged one level deep so that
    provisioning can be switched on or off without sending the center again."""
    merged = dict(stored)
    for key, value in changes.items():
        if key == "provision" and isinstance(value, dict) and isinstance(stored.get("provision"), dict):
            merged["provision"] = {**stored["provision"], **value}
        else:
            merged[key] = value
    return merged


def parent_chain_has_cycle(pool_id: int, parent_id: int, parents: dict[int, int]) -> bool:
    """Would making `parent_id` the parent of `pool_id` close a loop? `parents` maps pool -> parent."""
    seen = {pool_id}
    current = parent_id
    while current:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current, 0)
    return False


def inventory_problems(
    center_settings: dict[str, Any], inventory: dict[str, Any] | None, errors: ErrorList
) -> None:
    """Does the center offer what the pool asks for? Each item may be named by id or by name. With no
    inventory yet (the center's first check has not run), nothing can be checked here; the cloud's own
    refusal then shows on the failed desktop instead."""
    if not inventory or not inventory.get("inventory_updated"):
        return
    base = "/body/provision/center"

    def known(kind: str, value: str) -> bool:
        return any(value in (item.get("id"), item.get("name")) for item in inventory.get(kind) or [])

    for field, kind in (("image", "images"), ("flavor", "flavors"), ("network", "networks")):
        value = center_settings.get(field) or ""
        if value and not known(kind, value):
            errors.add(f"{base}/{field}", f"The center has no {field} '{value}'")
    zone = center_settings.get("availability_zone") or ""
    if zone and zone not in (inventory.get("availability_zones") or []):
        errors.add(f"{base}/availability_zone", f"The center has no availability zone '{zone}'")
    for index, group in enumerate(center_settings.get("security_groups") or []):
        if not known("security_groups", group):
            errors.add(f"{base}/security_groups/{index}", f"The center has no security group '{group}'")
    volume_type = center_settings.get("new_volume_type") or ""
    if volume_type and not known("volume_types", volume_type):
        errors.add(f"{base}/new_volume_type", f"The center has no volume type '{volume_type}'")
