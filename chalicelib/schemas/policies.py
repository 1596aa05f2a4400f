"""Policies (`PolicyFull`) and their pool assignments (`PoolAssignmentAdd` / `PoolAssignmentFull`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.schemas.common import Flag, FlagOut, Id, Name, Notes, OptionalRef, OutModel, StrictModel

SessionExpire = Literal[-1, 1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 480, 720, 1440, 2880]
DisplayMode = Literal["name", "display_name"]


class PolicyBody(StrictModel):
    name: Name
    is_default: Flag = 0
    max_desktops: Annotated[int, Field(ge=0, le=1000)] = 0  # 0: no limit beyond the assignments
    session_expire_delay: SessionExpire = -1
    single_desktop_only: Flag = 0
    offer_empty_pools: Flag = 0
    notes: Notes = ""


class PolicyUpdate(StrictModel):
    id: int | None = None
    name: Name | None = None
    is_default: Flag | None = None
    max_desktops: Annotated[int, Field(ge=0, le=1000)] | None = None
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


class PoolAssignmentUpdate(StrictModel):
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
