"""Release and power-control plans, the audit log and pool history (our extensions, in the reference's
style): `/rest/v1/plans/release`, `/rest/v1/plans/power-control`, `/rest/v1/logs`,
`/rest/v1/pools/{id}/history`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from chalicelib.schemas.common import Name, Notes, OutModel, QueryModel, StrictModel, UpdateModel
from chalicelib.schemas.pools import PoolSizes

Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]

# --------------------------------------------------------------------------------------- release plans


class DisconnectStep(StrictModel):
    """When the user disconnects: after `after_minutes`, log the user out, release the desktop, or nothing."""

    action: Literal["none", "logout", "release"] = "none"
    after_minutes: Minutes = 0


class IdleStep(StrictModel):
    """When the session is idle: after `after_minutes`, lock it, disconnect it, log the user out, or
    nothing."""

    action: Literal["none", "lock", "disconnect", "logout"] = "none"
    after_minutes: Minutes = 0


class LogoutStep(StrictModel):
    """When the user logs out: release the desktop to its pool, or keep it assigned (persistent)."""

    action: Literal["keep", "release"] = "keep"


class ReleaseStep(StrictModel):
    """When the desktop is released: after `after_minutes`, stop, suspend or delete it (only if it is
    deletable), or nothing."""

    action: Literal["none", "stop", "suspend", "delete"] = "none"
    after_minutes: Minutes = 0


class ReleasePlanBody(StrictModel):
    name: Name
    on_disconnect: DisconnectStep = Field(default_factory=DisconnectStep)
    on_idle: IdleStep = Field(default_factory=IdleStep)
    on_logout: LogoutStep = Field(default_factory=LogoutStep)
    on_release: ReleaseStep = Field(default_factory=ReleaseStep)
    notes: Notes = ""


class ReleasePlanUpdate(UpdateModel):
    """Fields left out keep their values; a section given replaces that section."""

    id: int | None = None
    name: Name | None = None
    on_disconnect: DisconnectStep | None = None
    on_idle: IdleStep | None = None
    on_logout: LogoutStep | None = None
    on_release: ReleaseStep | None = None
    notes: Notes | None = None


class StepOut(OutModel):
    action: str
    after_minutes: int = 0


class LogoutStepOut(OutModel):
    action: str


class ReleasePlanOut(OutModel):
    id: int
    name: str
    on_disconnect: StepOut
    on_idle: StepOut
    on_logout: LogoutStepOut
    on_release: StepOut
    notes: str
    created: str
    updated: str


class RespReleasePlanCreated(OutModel):
    stored_data: ReleasePlanOut


# --------------------------------------------------------------------------------- power-control plans


class PowerStep(StrictModel):
    """After `after_minutes`: suspend, stop or reboot the desktop, or nothing."""

    action: Literal["none", "suspend", "stop", "reboot"] = "none"
    after_minutes: Minutes = 0


class PowerPlanBody(StrictModel):
    name: Name
    on_disconnect: PowerStep = Field(default_factory=PowerStep)
    on_logout: PowerStep = Field(default_factory=PowerStep)
    on_release: PowerStep = Field(default_factory=PowerStep)
    notes: Notes = ""


class PowerPlanUpdate(UpdateModel):
    id: int | None = None
    name: Name | None = None
    on_disconnect: PowerStep | None = None
    on_logout: PowerStep | None = None
    on_release: PowerStep | None = None
    notes: Notes | None = None


class PowerPlanOut(OutModel):
    id: int
    name: str
    on_disconnect: StepOut
    on_logout: StepOut
    on_release: StepOut
    notes: str
    created: str
    updated: str


class RespPowerPlanCreated(OutModel):
    stored_data: PowerPlanOut


class PlanItemOut(OutModel):
    id: int
    name: str


# ------------------------------------------------------------------------------------------- times


def parse_time(value: Any) -> float | None:
    """Epoch seconds (`1718000000`, `1718000000.5`) or an ISO 8601 time (`2024-06-10T08:00:00Z`; a
    time without an offset is UTC; a date alone is its midnight UTC)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("z", "Z"))
            except ValueError:
                raise ValueError("Expected epoch seconds or an ISO 8601 time such as 2024-06-10T08:00:00Z") \
                    from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            number = parsed.timestamp()
    if not 0 <= number < 253402300800:  # up to the year 9999
        raise ValueError("Time out of range")
    return number


TimeParam = Annotated[str, StringConstraints(max_length=64)]


class _TimeRange(QueryModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: TimeParam | None = Field(default=None, alias="from",
                                    description="Epoch seconds or ISO 8601 time (inclusive)")
    to: TimeParam | None = Field(default=None, description="Epoch seconds or ISO 8601 time (inclusive)")

    @field_validator("from_", "to")
    @classmethod
    def _valid_time(cls, value: str | None) -> str | None:
        parse_time(value)
        return value

    @property
    def start(self) -> float | None:
        return parse_time(self.from_)

    @property
    def end(self) -> float | None:
        return parse_time(self.to)


# --------------------------------------------------------------------------------------------- logs


class LogQuery(_TimeRange):
    type: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="An event type (`desktop.deleted`) or a prefix ending in `*` (`agent.*`)")
    user: Annotated[str, StringConstraints(max_length=255)] | None = None
    pool_id: Annotated[int, Field(ge=1, le=2**53 - 1)] | None = None
    desktop_id: Annotated[int, Field(ge=1, le=2**53 - 1)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    order: Literal["desc", "asc"] = "desc"
    next: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        default=None, description="The `next` of the previous page")


class LogEventOut(OutModel):
    id: str
    time: str
    type: str
    message: str
    user: str | None = None
    pool_id: int | None = None
    desktop_id: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class LogPageOut(OutModel):
    items: list[LogEventOut]
    next: str | None = None

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:  # `next: null` is part of the contract
        data = super().model_dump(**kwargs)
        data.setdefault("next", self.next)
        return data


# ------------------------------------------------------------------------------------- pool history


class PoolHistoryQuery(_TimeRange):
    limit: Annotated[int, Field(ge=1, le=5000)] = 5000


class PoolHistoryPoint(PoolSizes):
    ts: int
    time: str


class PoolHistoryOut(OutModel):
    pool_id: int
    items: list[PoolHistoryPoint]


# ------------------------------------------------------------------------------ agent registration


class AgentRegistrationOut(OutModel):
    """A new one-time registration token for a desktop's agent (shown once; only its hash is kept)."""

    desktop_id: int
    instance_id: str | None = None
    registration_token: str
    message: str
