"""HTML5 gateways (`/rest/v1/gateways`) in the reference's `GatewayAdd` / `GatewayFull` shapes, plus what
this broker needs: the kind of gateway, the URL browsers open, and its key.

The keys are write-only. A noVNC gateway's signing key is made by the broker and never leaves it: the API
shows its public half (`verification_key`) for the gateway's websockify. A Guacamole gateway's
`shared_key` (the `json-secret-key` of guacamole.properties) is given by the administrator and never
returned (`shared_key_set` says whether one is stored).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.schemas.common import (
    Flag,
    FlagOut,
    HostAddress,
    Name,
    Notes,
    OutModel,
    StrictModel,
    UpdateModel,
    host_or_empty,
)

GatewayType = Literal["novnc", "guacamole"]

def _gateway_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise ValueError("must be an https:// URL") from error
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL (http:// only with allow_cleartext = 1)")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    if parts.query or parts.fragment or "#" in value or "?" in value:
        raise ValueError("must have no query or fragment: the broker adds what the gateway needs")
    return value


PrivateAddress = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255),
                           AfterValidator(host_or_empty)]
GatewayUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500),
                       AfterValidator(_gateway_url)]
SharedKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=32, max_length=32,
                                             pattern=r"^[0-9A-Fa-f]{32}$")]
# The reference's gateway clusters (`/gateway-clusters`) are not part of this broker: 0 only.
NoCluster = Annotated[int, Field(ge=0, le=0, description="0: gateway clusters are not supported")]
SourceIpMode = Annotated[int, Field(ge=0, le=2)]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Signature = Annotated[str, StringConstraints(max_length=100)]


class GatewayBody(StrictModel):
    name: Name
    address: HostAddress = Field(description="The DNS name or IP address of the gateway's public side")
    address_private: PrivateAddress = ""
    load_balancer_id: NoCluster = 0
    use_src_ip: SourceIpMode = Field(0, description="Kept for the reference's clients; not used here")
    forward_to: Text255 = Field("", description="Kept for the reference's clients; not used here")
    signature: Signature = Field("", description="Kept for the reference's clients; not used here")
    notes: Notes = ""
    type: GatewayType = "novnc"
    url: GatewayUrl | None = Field(None, description="What users' browsers open; https://<address>/ if not "
                                                     "given. Its host must be the address.")
    shared_key: SharedKey | None = Field(None, description="guacamole: the 32 hex digits of json-secret-key "
                                                           "(write-only)")
    allow_cleartext: Flag = Field(0, description="1: an http:// URL is accepted (tokens and the display "
                                                 "travel in clear)")


class GatewayUpdate(UpdateModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    id: int | None = None
    name: Name | None = None
    address: HostAddress | None = None
    address_private: PrivateAddress | None = None
    load_balancer_id: NoCluster | None = None
    use_src_ip: SourceIpMode | None = None
    forward_to: Text255 | None = None
    signature: Signature | None = None
    notes: Notes | None = None
    type: GatewayType | None = None
    url: GatewayUrl | None = None
    shared_key: SharedKey | None = None
    allow_cleartext: Flag | None = None
    rotate_key: Flag | None = Field(None, description="novnc: 1 makes a new signing key (the gateway needs "
                                                      "the new verification_key)")


class GatewayOut(OutModel):
    id: int
    name: str
    address: str
    address_private: str
    load_balancer_id: int
    use_src_ip: int
    forward_to: str
    signature: str
    notes: str
    version: str = ""
    type: GatewayType
    url: str
    verification_key: str | None = Field(None, description="novnc: the public key (PEM) websockify's "
                                                           "JWTTokenApi verifies tokens with")
    key_id: str | None = Field(None, description="novnc: the key's fingerprint, the `kid` of its tokens")
    shared_key_set: FlagOut | None = None
    allow_cleartext: FlagOut
    created: str
    updated: str


class GatewayItemOut(OutModel):
    id: int
    name: str
    type: GatewayType
    url: str


class RespGatewayCreated(OutModel):
    stored_data: GatewayOut
