"""Protocol plans (`/rest/v1/plans/protocol`): how clients connect to the desktops of an assignment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.schemas.common import Name, Notes, OutModel, StrictModel, UpdateModel

Protocol = Literal["rdp", "vnc", "ssh", "html5"]
Port = Annotated[int, Field(ge=1, le=65535)]
OptionName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
OptionValue = Annotated[str, StringConstraints(max_length=1000)] | int | bool
Options = Annotated[dict[OptionName, OptionValue], Field(max_length=50)]


class ProtocolPlanBody(StrictModel):
    name: Name
    protocol: Protocol = "rdp"
    port: Port | None = None  # default: 3389 rdp, 5900 vnc, 22 ssh, 443 html5
    options: Options = Field(default_factory=dict)
    notes: Notes = ""


class ProtocolPlanUpdate(UpdateModel):
    id: int | None = None
    name: Name | None = None
    protocol: Protocol | None = None
    port: Port | None = None
    options: Options | None = None
    notes: Notes | None = None


class ProtocolPlanOut(OutModel):
    id: int
    name: str
    protocol: str
    port: int
    options: dict[str, str | int | bool]
    notes: str
    created: str
    updated: str


class ProtocolPlanItemOut(OutModel):
    id: int
    name: str
    protocol: str
    port: int


class RespProtocolPlanCreated(OutModel):
    stored_data: ProtocolPlanOut
