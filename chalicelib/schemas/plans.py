"""Protocol plans (`/rest/v1/plans/protocol`): how clients connect to the desktops of an assignment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.schemas.common import Name, Notes, OptionalRef, OutModel, StrictModel, UpdateModel

Protocol = Literal["rdp", "vnc", "ssh", "html5"]
Port = Annotated[int, Field(ge=1, le=65535)]
OptionName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
OptionValue = Annotated[str, StringConstraints(max_length=1000)] | int | bool
Options = Annotated[dict[OptionName, OptionValue], Field(max_length=50)]


class ProtocolPlanBody(StrictModel):
    name: Name
    protocol: Protocol = "rdp"
    # default: 3389 rdp, 5900 vnc, 22 ssh; html5: the port of options.remote_protocol (vnc by default)
    port: Port | None = None
    options: Options = Field(default_factory=dict)
    # html5: the gateway (`/rest/v1/gateways`) the desktops are reached through; 0 for the others
    gateway_id: OptionalRef = 0
    notes: Notes = ""


class ProtocolPlanUpdate(UpdateModel):
    id: int | None = None
    name: Name | None = None
    protocol: Protocol | None = None
    port: Port | None = None
    options: Options | None = None
    gateway_id: OptionalRef | None = None
    notes: Notes | None = None


class ProtocolPlanOut(OutModel):
    id: int
    name: str
    protocol: str
    port: int
    options: dict[str, str | int | bool]
    gateway_id: int = 0
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
