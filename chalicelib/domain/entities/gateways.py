"""A gateway as the store keeps it (docs/gateway.md)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.entities.base import Entity


@dataclass(frozen=True, kw_only=True)
class Gateway(Entity):
    """An HTML5 gateway (docs/gateway.md); its key is in Secrets Manager, only the public half here."""

    type: str = "novnc"
    address: str = ""
    url: str = ""
    address_private: str = ""
    load_balancer_id: int = 0
    use_src_ip: int = 0
    forward_to: str = ""
    signature: str = ""
    notes: str = ""
    allow_cleartext: int = 0
    key_version: int = 1
    verification_key: str | None = None  # novnc: the public half of the signing key
    key_id: str | None = None  # novnc: the key's fingerprint
