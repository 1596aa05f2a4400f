"""Building blocks of the request and response models (Leostream REST API v1 conventions)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class StrictModel(BaseModel):
    """Request bodies: unknown fields, wrong JSON types and out-of-range values are BAD_DATA."""

    model_config = ConfigDict(extra="forbid", strict=True)


class OutModel(BaseModel):
    """Response bodies: documented fields only, serialised without nulls."""

    model_config = ConfigDict(extra="forbid")


def _as_int_flag(value: int | bool) -> int:
    return int(value)


# The reference's BooleanOrInt0To1: 0/1 or false/true, stored and returned as 0/1.
Flag = Annotated[Annotated[int, Field(ge=0, le=1)] | bool, AfterValidator(_as_int_flag)]
FlagOut = Annotated[int, Field(ge=0, le=1)]

Id = Annotated[int, Field(ge=1, le=2**53 - 1)]
OptionalRef = Annotated[int, Field(ge=0, le=2**53 - 1)]  # 0 means "none", as in the reference
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Notes = Annotated[str, StringConstraints(max_length=4095)]
Count = Annotated[int, Field(ge=0, le=100_000)]


class StoredData(OutModel):
    id: int


class RespStandard(OutModel):
    """The reference's answer to a write: what was stored, with its id."""

    stored_data: dict[str, Any]


class RespStoredId(OutModel):
    stored_data: StoredData


class ErrorItem(OutModel):
    path: str
    message: str


class ErrorBody(OutModel):
    error_status: str
    error_message: str
    errors: list[ErrorItem] | None = None
    items: list[str] | None = None


class QueryModel(BaseModel):
    """Query strings arrive as text: numbers are parsed, unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")
