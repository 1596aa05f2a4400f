"""Policies (`PolicyFull`) and their pool assignments (`PoolAssignmentAdd` / `PoolAssignmentFull`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from chalicelib.schemas.common import (
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

SessionExpire = Literal[-1, 1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 480, 720, 1440, 2880]

# The reference's display_mode codes that apply here: "0" desktop name, "5" desktop display name.
_DISPLAY_MODE_CODES = {"0": "name", "5": "display_name"}


def _display_mode_code(value: Any) -> Any:
    return _DISPLAY_MODE_CODES.get(value, value) if isinstance(value, str) else value


DisplayMode = Annotated[Literal["name", "display_name"], BeforeValidator(_display_mode_code)]
# 0 = no limit beyond the assignments; the reference writes "no limit" as -1, stored here as 0.
MaxDesktops = Annotated[int, Field(ge=-1, le=1000), AfterValidator(lambda value: max(value, 0))]


class PolicyBody(StrictModel):
    name: Name
    is_default: Flag = 0
    max_desktops: MaxDesktops = 0
    session_expire_delay: SessionExpire = -1
    single_desktop_only: Flag = 0
    offer_empty_pools: Flag = 0
    notes: Notes = ""


class PolicyUpdate(UpdateModel):
    """Every field optional: what is not given keeps its value."""

    id: int | None = None
    name: Name | None = None
    is_default: Flag | None = None
    max_desktops: MaxDesktops | None = None
    session_expire_delay: SessionExpire | None = None
    single_desktop_only: Flag | None = None
    offer_empty_pools: Flag | None = None
    notes: Notes | None = None


class PoolAssignmentBody(StrictModel):
    policy_id: int | None = None  # if given, must be the policy of the path
    pool_id: Id
    backup_pool_id: OptionalRef = 0
    offer_quantity: Annotated[int, Field(ge=1, le=100)] = 1
    favor_previous_assigned: Annotated[int, Field(ge=0, le=4)] = 0
    power_on: Flag = 0
    start_if_stopped: Flag = 0
    kiosk: Flag = 0
    display_mode: DisplayMode = "name"
    plan_protocol_id: OptionalRef = 0
    plan_power_control_id: OptionalRef = 0
    plan_release_id: OptionalRef = 0
    prevent_release: Flag = 0  # the reference's: 1 = the user may not release the desktop themselves


class PoolAssignmentUpdate(UpdateModel):
    nullable_fields = frozenset({"id", "policy_id"})

    id: int | None = None
    policy_id: int | None = None
    pool_id: Id | None = None
    backup_pool_id: OptionalRef | None = None
    offer_quantity: Annotated[int, Field(ge=1, le=100)] | None = None
    favor_previous_assigned: Annotated[int, Field(ge=0, le=4)] | None = None
    power_on: Flag | None = None
    start_if_stopped: Flag | None = None
    kiosk: Flag | None = None
    display_mode: DisplayMode | None = None
    plan_protocol_id: OptionalRef | None = None
    plan_power_control_id: OptionalRef | None = None
    plan_release_id: OptionalRef | None = None
    prevent_release: Flag | None = None


class PoolAssignmentOut(OutModel):
    id: int
    policy_id: int
    pool_id: int
    pool_name: str | None = None
    backup_pool_id: int
    offer_quantity: int
    favor_previous_assigned: int
    power_on: FlagOut
    start_if_stopped: FlagOut
    kiosk: FlagOut
    display_mode: str
    plan_protocol_id: int
    plan_power_control_id: int
    plan_release_id: int
    prevent_release: FlagOut = 0
    created: str
    updated: str


class PoolAssignmentItemOut(OutModel):
    id: int
    pool_id: int
    pool_name: str | None = None


class PolicyOut(OutModel):
    id: int
    name: str
    is_default: FlagOut
    max_desktops: int
    session_expire_delay: int
    single_desktop_only: FlagOut
    offer_empty_pools: FlagOut
    notes: str
    pool_assignments: list[PoolAssignmentItemOut]
    created: str
    updated: str


class PolicyItemOut(OutModel):
    id: int
    name: str


class RespPolicyCreated(OutModel):
    stored_data: PolicyOut


class RespPoolAssignmentCreated(OutModel):
    stored_data: PoolAssignmentOut
