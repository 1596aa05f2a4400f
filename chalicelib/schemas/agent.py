"""The desktop agent API (`/agent/v1`): registration and session events (docs/agent-protocol.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from chalicelib.domain import sessions
from chalicelib.schemas.common import OutModel, StrictModel
from chalicelib.schemas.lifecycle import parse_time

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
EventName = Literal["startup", "login", "logout", "disconnect", "reconnect", "lock", "unlock", "idle",
                    "active", "heartbeat"]
assert set(EventName.__args__) == set(sessions.EVENTS)  # type: ignore[attr-defined]


class AgentRegister(StrictModel):
    instance_uuid: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    registration_token: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    hostname: Short | None = None
    agent_version: Annotated[str, StringConstraints(max_length=64)] | None = None
    os: Annotated[str, StringConstraints(max_length=255)] | None = None


class AgentRegistered(OutModel):
    desktop_id: int
    agent_token: str = Field(description="Send as `Authorization: Bearer <agent_token>`; shown once")
    heartbeat_seconds: int
    agent_window_seconds: int


class AgentEvent(StrictModel):
    event: EventName
    user: Short | None = None
    time: Annotated[str, StringConstraints(max_length=64)] | int | float | None = Field(
        default=None, description="When it happened: epoch seconds or ISO 8601 (default: when received)")
    command_done: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="The id of a command the agent carried out (or gave up on)")
    details: Annotated[dict[str, Annotated[str, StringConstraints(max_length=255)] | int | bool],
                       Field(max_length=20)] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _valid_time(cls, value: Any) -> Any:
        parse_time(value)
        return value

    @property
    def at(self) -> float | None:
        return parse_time(self.time)


class AgentSessionOut(OutModel):
    state: str
    user: str | None = None
    since: str | None = None


class AgentCommandOut(OutModel):
    id: str
    action: str = Field(description="logout, lock or disconnect")
    reason: str = ""
    issued_at: str


class AgentEventReply(OutModel):
    accepted: bool = Field(description="False when the event was older than one already applied, or repeated "
                                       "(a heartbeat is always accepted)")
    session: AgentSessionOut
    heartbeat_seconds: int
    command: AgentCommandOut | None = None
    agent_token: str | None = Field(
        default=None, description="A new agent token, sent when the desktop's assignment changed (released, "
                                  "assigned, reassigned): store it and use it from the next request on. The "
                                  "previous token keeps working until the new one has been used once")
