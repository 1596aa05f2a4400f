"""Building blocks of the request and response models (Leostream REST API v1 conventions)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)


class StrictModel(BaseModel):
    """Request bodies: unknown fields, wrong JSON types and out-of-range values are BAD_DATA."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


def _drop_null_from_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The document says what the API accepts: null only where the model allows it."""
    nullable = getattr(model, "nullable_fields", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable or "anyOf" not in prop:
            continue
        options = [option for option in prop["anyOf"] if option != {"type": "null"}]
        if len(options) != len(prop["anyOf"]):
            prop.pop("default", None)
            if len(options) == 1:
                prop.pop("anyOf")
                prop.update(options[0])
            else:
                prop["anyOf"] = options


class UpdateModel(StrictModel):
    """PUT bodies: every field optional, and a field left out keeps its stored value.

    An explicit `null` is refused (BAD_DATA naming the field) instead of silently meaning "keep" or,
    worse, being stored where a value is required; `nullable_fields` lists the fields where null is a
    value of its own (as it is in the create body)."""

    model_config = ConfigDict(json_schema_extra=_drop_null_from_schema)
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable_fields:
            raise ValueError("must not be null; leave the field out to keep its value")
        return value


class OutModel(BaseModel):
    """Response bodies: documented fields only, serialised without nulls."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


def _as_int_flag(value: int | bool) -> int:
    return int(value)


# The reference's BooleanOrInt0To1: 0/1 or false/true, stored and returned as 0/1.
Flag = Annotated[Annotated[int, Field(ge=0, le=1)] | bool, AfterValidator(_as_int_flag)]
FlagOut = Annotated[int, Field(ge=0, le=1)]

Id = Annotated[int, Field(ge=1, le=2**53 - 1)]
OptionalRef = Annotated[int, Field(ge=0, le=2**53 - 1)]  # 0 means "none", as in the reference
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# What users type as their domain at login: a DNS name (corp.example) or a NetBIOS-style name (CORP).
LoginDomain = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253,
                                               pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")]
Text255 = Annotated[str, StringConstraints(max_length=255)]

# A DNS name or an IP address (v4, or v6 without brackets): a gateway's or a registered desktop's address.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}\.?$")


def host_or_empty(value: str) -> str:
    if not value or _DNS_NAME.match(value):
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be a DNS name or an IP address, without scheme, port or path") from None
    return value


HostAddress = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
                        AfterValidator(host_or_empty)]
Notes = Annotated[str, StringConstraints(max_length=4095)]
Count = Annotated[int, Field(ge=0, le=100_000)]


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

    model_config = ConfigDict(extra="ignore", defer_build=True)
