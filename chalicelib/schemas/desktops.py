"""Desktops (our extension in the Leostream style): what the broker knows of each instance."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.schemas.common import Flag, FlagOut, HostAddress, Id, OutModel, QueryModel, StrictModel

DesktopStatus = Literal["running", "stopped", "suspended", "building", "error", "deleted", "unknown"]


class DesktopListQuery(QueryModel):
    pool_id: Annotated[int, Field(ge=1)] | None = None
    center_id: Annotated[int, Field(ge=1)] | None = None
    status: DesktopStatus | None = None
    assigned: Annotated[int, Field(ge=0, le=1)] | None = None
    include_deleted: Annotated[int, Field(ge=0, le=1)] = 0


class DesktopUpdate(StrictModel):
    id: int | None = None
    display_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    available: Flag | None = None
    deletable: Flag | None = None


DesktopName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255,
                                               pattern=r"^[^\x00-\x1f\x7f]+$")]


class DesktopRegister(StrictModel):
    """A desktop registered by hand in an uncategorized center: a machine the broker knows by its name and
    address only (no cloud: no power control, no provisioning)."""

    center_id: Id
    name: DesktopName
    address: HostAddress
    display_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    available: Flag | None = None  # default: 1, or 0 when the center says init_unavailable


class SessionOut(OutModel):
    state: str | None = None
    user: str | None = None
    since: str | None = None


class DesktopOut(OutModel):
    id: int
    name: str
    display_name: str
    center_id: int
    pool_id: int | None = None
    instance_id: str | None = None
    status: str
    lifecycle: str
    available: FlagOut
    deletable: FlagOut
    assigned_user_id: int | None = None
    fixed_addresses: list[str]
    floating_addresses: list[str]
    address: str | None = None
    availability_zone: str | None = None
    flavor: str | None = None
    image: str | None = None
    nova_status: str | None = None
    error: str | None = None
    session: SessionOut | None = None
    agent_running: FlagOut = 0
    registered: FlagOut = Field(0, description="1: registered by hand in an uncategorized center")
    created: str
    updated: str


class RespDesktopUpdated(OutModel):
    stored_data: DesktopOut


class DesktopAction(StrictModel):
    action: Literal["start", "stop", "reboot", "suspend", "resume", "release", "delete"]


class RespDesktopAction(OutModel):
    id: int
    action: str
    message: str
