"""Pools in the reference's `PoolBasicModel` / `PoolFull` shapes, limited to what applies here."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.schemas.common import (
    Count,
    Flag,
    FlagOut,
    Id,
    Name,
    Notes,
    OptionalRef,
    OutModel,
    StrictModel,
    UpdateModel,
)

Text = Annotated[str, StringConstraints(max_length=255)]
CloudRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class PoolAttributeRule(StrictModel):
    vm_table_field: Literal["name", "display_name", "ip"]
    condition_type: Literal["eq", "ne", "ct", "nc", "bw", "ew"]
    text_to_match: Text


class PoolDefinition(StrictModel):
    """Which desktops belong to the pool. That `restrict_by` has its list (centers or rules) is checked
    with the other cross-field rules in `domain.pools`, so the error names the list."""

    restrict_by: Literal["C", "A"]
    server_ids: Annotated[list[Id], Field(max_length=100)] = []
    attributes: Annotated[list[PoolAttributeRule], Field(max_length=50)] = []
    pool_attribute_join: Literal["A", "O"] = "A"
    parent_pool_id: OptionalRef = 0
    never_rogue: Flag = 0  # accepted and kept for the reference's clients; rogue users do not apply here


class ProvisioningAction(StrictModel):
    prov_action_action: Literal["start", "poweroff", "set_available", "set_unavailable"]
    prov_action_wait_value: Annotated[int, Field(ge=0, le=55)] = 0
    prov_action_wait_unit: Literal["seconds", "minutes", "hours"] = "seconds"


def _floating_ip_choice(value: int | str) -> str:
    """`assign_floating_ip`: 0/""/"0" none, 1/"1" from any external network, else that network's name
    or id."""
    text = str(value).strip()
    return "" if text in ("", "0") else text


def _volume_size(value: int | str | None) -> int | None:
    text = "" if value is None else str(value).strip()
    if text == "":
        return None  # the flavor's disk size
    if not text.isdigit() or not 1 <= int(text) <= 16384:
        raise ValueError("must be a size in GB between 1 and 16384, or empty for the flavor's disk")
    return int(text)


class ProvisionCenter(StrictModel):
    type: Literal["openstack", "virtuozzo"]
    id: Id
    image: CloudRef
    flavor: CloudRef
    network: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = ""
    availability_zone: Text = ""
    assign_floating_ip: Annotated[
        Annotated[int, Field(ge=0, le=1)] | Annotated[str, StringConstraints(max_length=255)],
        AfterValidator(_floating_ip_choice),
    ] = ""
    security_groups: Annotated[list[CloudRef], Field(max_length=20)] = []
    create_new_volume: Flag | None = None  # None: the center type's default (on for VHI)
    delete_volume_on_instance_delete: Flag = 1
    new_volume_size: Annotated[
        Annotated[int, Field(ge=0)] | Annotated[str, StringConstraints(max_length=10)] | None,
        AfterValidator(_volume_size),
    ] = ""
    new_volume_type: Text = ""
    provisioning_actions: Annotated[list[ProvisioningAction], Field(max_length=10)] = []



class TimeLimitItem(StrictModel):
    """The reference's `time_limits` item; times and overlaps are checked in `domain.time_limits`."""

    provision_time_day: Annotated[int, Field(ge=0, le=6)]
    provision_time_start: Text
    provision_time_stop: Text
    provision_time_threshold: Count
    provision_time_max_size: Count


TimeLimits = Annotated[list[TimeLimitItem], Field(max_length=100)]
ZoneName = Annotated[str, StringConstraints(max_length=64)]


class Provision(StrictModel):
    provision_on_off: Flag
    provision_threshold: Count = 0
    provision_max: Count = 0
    provision_vm_name: Text = ""
    provision_vm_name_next_value: Annotated[int, Field(ge=0, le=999_999_999)] = 1
    provision_vm_display_name: Text = ""
    mark_deletable: Flag = 0
    mark_unavailable: Flag = 0
    provision_limits_enforce: Flag = 0
    time_limits: TimeLimits = []
    provision_time_zone: ZoneName = ""  # our extension: IANA name; "" = the tenant's default, else UTC
    provision_forecast_auto: Flag = 0  # our extension: re-apply the forecast's time limits weekly
    provision_forecast_max_cap: Count = 0  # our extension: no forecast maximum above this (0 = none)
    center: ProvisionCenter | None = None


class ProvisionUpdate(UpdateModel):
    """`provision` in a PUT: merged into the stored one, so the fields left out keep their values."""

    nullable_fields = frozenset({"center"})

    provision_on_off: Flag | None = None
    provision_threshold: Count | None = None
    provision_max: Count | None = None
    provision_vm_name: Text | None = None
    provision_vm_name_next_value: Annotated[int, Field(ge=0, le=999_999_999)] | None = None
    provision_vm_display_name: Text | None = None
    mark_deletable: Flag | None = None
    mark_unavailable: Flag | None = None
    provision_limits_enforce: Flag | None = None
    time_limits: TimeLimits | None = None
    provision_time_zone: ZoneName | None = None
    provision_forecast_auto: Flag | None = None
    provision_forecast_max_cap: Count | None = None
    center: ProvisionCenter | None = None


class RetainHistory(StrictModel):
    pool_history_age: Annotated[int, Field(ge=0, le=365)] = 7  # days
    pool_history_interval: Annotated[int, Field(ge=0, le=1440)] = 15  # minutes, 0 = off


class PoolLog(StrictModel):
    # The reference's thresholds of available desktops for information, warning and error events.
    log_information_threshold: Count = 0
    log_warning_threshold: Count = 0
    log_error_threshold: Count = 0
    retain_history: RetainHistory = RetainHistory()


class PoolBody(StrictModel):
    """A create body, and what an update body is merged into before the same checks run."""

    name: Name
    display_name: Text = ""
    notes: Notes = ""
    running_desktops_threshold: Count = 0
    pool_definition: PoolDefinition
    provision: Provision | None = None
    log: PoolLog = PoolLog()


class PoolUpdate(UpdateModel):
    """Every field optional; given objects replace the stored ones, except `provision`, which is merged
    one level deep (its `center` is replaced as a whole). `provision: null` removes provisioning."""

    nullable_fields = frozenset({"id", "provision"})

    id: int | None = None
    name: Name | None = None
    display_name: Text | None = None
    notes: Notes | None = None
    running_desktops_threshold: Count | None = None
    pool_definition: PoolDefinition | None = None
    provision: ProvisionUpdate | None = None
    log: PoolLog | None = None


class PoolSizes(OutModel):
    """A pool's size info (the reference's `pool_stats` counts), as counted and as sampled in its history."""

    total_vm: int = 0
    total_agent_running: int = 0
    total_vm_running: int = 0
    total_vm_stopped: int = 0
    total_vm_suspended: int = 0
    total_logged_in: int = 0
    total_connected: int = 0
    assigned_vm: int = 0
    available_vm: int = 0
    unavailable_vm: int = 0


class PoolStats(PoolSizes):
    counts_updated: str | None = None


class ProvisionCenterOut(OutModel):
    type: str
    id: int
    name: str | None = None
    image: str
    flavor: str
    network: str
    availability_zone: str
    assign_floating_ip: str
    security_groups: list[str]
    create_new_volume: FlagOut
    delete_volume_on_instance_delete: FlagOut
    new_volume_size: str
    new_volume_type: str
    provisioning_actions: list[ProvisioningAction]


class LimitsInForceOut(OutModel):
    """Our extension: what applies now (`time_limit` is the index of the range in force, -1 outside every
    range), until when, and when the next range starts (UTC ISO times)."""

    time_zone: str
    provision_threshold: int
    provision_max: int
    time_limit: int
    until: str | None = None
    next_time_limit: int | None = None
    next_start: str | None = None
    over_max: int = 0  # enforce on: desktops above the maximum that are assigned or in use, kept


class ProvisionOut(OutModel):
    provision_on_off: FlagOut
    provision_threshold: int
    provision_max: int
    provision_vm_name: str
    provision_vm_name_next_value: int
    provision_vm_display_name: str
    mark_deletable: FlagOut
    mark_unavailable: FlagOut
    provision_limits_enforce: FlagOut = 0
    time_limits: list[TimeLimitItem] = []
    provision_time_zone: str = ""
    provision_forecast_auto: FlagOut = 0
    provision_forecast_max_cap: int = 0
    limits_in_force: LimitsInForceOut | None = None
    center: ProvisionCenterOut | None = None
    provision_state: Literal["running", "stopped", "stopped_by_broker"]
    provision_error: str | None = None


class PoolOut(OutModel):
    id: int
    name: str
    display_name: str
    notes: str
    running_desktops_threshold: int
    pool_definition: PoolDefinition
    provision: ProvisionOut | None = None
    log: PoolLog
    pool_stats: PoolStats
    created: str
    updated: str


class PoolItemOut(OutModel):
    """One row of the reference's `pool_array`."""

    id: int
    name: str
    parent_pool_id: int
    assigned_vm: int
    available_vm: int
    unavailable_vm: int
    total_agent_running: int
    total_connected: int
    total_logged_in: int
    total_vm: int
    total_vm_running: int
    total_vm_stopped: int
    total_vm_suspended: int


class RespPoolCreated(OutModel):
    stored_data: PoolOut


class ForecastCellOut(OutModel):
    """One weekday (0 Monday) x hour (local) of the demand profile, and the weeks behind it."""

    day: int
    hour: int
    weeks: int
    assigned_median: float
    assigned_p90: float
    connected_median: float
    connected_p90: float


class ForecastReadyOut(OutModel):
    """Create request to ready desktop, in this pool's center."""

    count: int
    median_seconds: float
    p90_seconds: float
    lead_minutes: int


class ForecastRangeOut(OutModel):
    time_limit: TimeLimitItem
    sentence: str


class ForecastOut(OutModel):
    """Our extension: `GET /rest/v1/pools/{id}/forecast` (docs/provisioning.md, "Forecast")."""

    pool_id: int
    time_zone: str
    enough_history: FlagOut
    message: str
    weeks: int
    ready: ForecastReadyOut | None = None
    profile: list[ForecastCellOut]
    time_limits: list[TimeLimitItem]
    ranges: list[ForecastRangeOut]


class ForecastApplied(OutModel):
    forecast: ForecastOut
    stored_data: PoolOut
