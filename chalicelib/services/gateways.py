"""HTML5 gateways: the admin records, their keys in Secrets Manager, and the signed link a user's browser
opens to reach one desktop through one (docs/gateway.md).

A gateway's key lives under `<prefix>gateway/<tenant>/<id>`: a noVNC gateway's ES256 private key, made
here and never shown (the record keeps its public half for the gateway's websockify), or a Guacamole
gateway's shared `json-secret-key`, given by the administrator and never returned. Like a center's
password, a key never follows a change of the gateway's URL to another origin
(chalicelib/domain/endpoints.py): the change needs `rotate_key = 1` (noVNC) or the shared key again
(Guacamole), so an administrator's session cannot make the broker sign tokens for a new host with a
key that an existing gateway trusts.

Which gateway a desktop is reached through is its pool assignment's protocol plan (`gateway_id` of an
`html5` plan, docs/decisions.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chalicelib import clock
from chalicelib.domain import gateway_tokens as tokens
from chalicelib.domain.caller import Caller
from chalicelib.domain.connection import ProtocolPlan
from chalicelib.domain.endpoints import endpoint_of, sends_in_clear, why_secret_needed_again
from chalicelib.domain.entities.gateways import Gateway
from chalicelib.domain.entities.plans import ProtocolPlanEntity
from chalicelib.domain.errors import Conflict, ErrorList, ServiceUnavailable
from chalicelib.services import audit
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores
from chalicelib.store.secrets import secret_name

if TYPE_CHECKING:
    from chalicelib.schemas.gateways import GatewayBody, GatewayUpdate

log = logging.getLogger("broker.gateways")

NOVNC, GUACAMOLE = "novnc", "guacamole"
CLEARTEXT_FLAG = "allow_cleartext"
# What each kind of gateway can carry to the desktop (a plan's options.remote_protocol).
REMOTE_PROTOCOLS = {NOVNC: ("vnc",), GUACAMOLE: ("rdp", "vnc", "ssh")}
DEFAULT_REMOTE_PROTOCOL = "vnc"
# Settings the broker writes into a Guacamole connection itself; a plan's options may not replace them.
GUACAMOLE_RESERVED = frozenset({"hostname", "port"})
# Plan options that mean something to the broker, not to the gateway.
BROKER_OPTIONS = frozenset({"remote_protocol"})

# The signing key per (tenant, gateway, key version): a rotated key has a new version in the record, which
# every connect reads fresh, so no process signs with a key the record no longer names.
_keys: TtlCache[str] = TtlCache("gateway-keys")


def gateway_secret_name(tenant_id: int, gateway_id: int) -> str:
    return secret_name("gateway", tenant_id, gateway_id)


def default_url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/"


# ------------------------------------------------------------------------------------------- admin API


def list_gateways(caller: Caller) -> list[Gateway]:
    return stores.gateways.list(caller.tenant_id)


def get_gateway(caller: Caller, gateway_id: int) -> Gateway:
    return stores.gateways.get(caller.tenant_id, gateway_id)


def create_gateway(caller: Caller, body: GatewayBody) -> Gateway:
    settings = body.model_dump(exclude={"name", "shared_key"})
    settings["url"] = settings["url"] or default_url(settings["address"])
    draft = Gateway(tenant_id=caller.tenant_id, name=body.name, **settings)
    errors = ErrorList()
    _check_settings(draft, errors)
    if draft.type == GUACAMOLE and body.shared_key is None:
        errors.add("/body/shared_key", "Give the gateway's json-secret-key (32 hexadecimal digits)")
    if draft.type == NOVNC and body.shared_key is not None:
        errors.add("/body/shared_key", "A noVNC gateway's key is made by the broker: leave shared_key out")
    errors.raise_if_any("Gateway cannot be saved, some input data is not valid.")
    secret, public_key = _new_secret(draft.type, body.shared_key)
    gateway = stores.gateways.create(replace(draft, key_version=1, **public_key))
    try:
        stores.secrets.put(gateway_secret_name(caller.tenant_id, gateway.id), secret)
    except ServiceUnavailable:
        stores.gateways.delete(gateway)  # no gateway without its key
        raise
    audit.record(caller.tenant_id, "gateway.created", f"Gateway '{gateway.name}' created", user=caller.login,
                 details={"gateway_id": gateway.id, "type": gateway.type, "url": gateway.url})
    return gateway


def update_gateway(caller: Caller, gateway_id: int, body: GatewayUpdate) -> Gateway:
    before = stores.gateways.get(caller.tenant_id, gateway_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id", "name", "shared_key", "rotate_key"})
    after = replace(before, name=body.name or before.name, **changes)
    if "address" in changes and "url" not in changes:
        after = replace(after, url=_moved_to(before.url, before.address, after.address))
    errors = ErrorList()
    if after.type != before.type:
        errors.add("/body/type", "A gateway keeps its type; add a new gateway instead")
    _check_settings(after, errors)
    new_key = _check_key_change(before, after, body, errors)
    errors.raise_if_any("Gateway cannot be saved, some input data is not valid.")
    if new_key:
        # Before the settings: if Secrets Manager fails, the old key never meets the new URL.
        secret, public_key = _new_secret(after.type, body.shared_key)
        stores.secrets.put(gateway_secret_name(caller.tenant_id, gateway_id), secret)
        after = replace(after, key_version=before.key_version + 1, **public_key)
    gateway = stores.gateways.update(before, after)
    fields = sorted({*changes, *(["key"] if new_key else [])})
    audit.record(caller.tenant_id, "gateway.updated", f"Gateway '{gateway.name}' updated", user=caller.login,
                 details={"gateway_id": gateway_id, "fields": fields, "url": gateway.url})
    return gateway


def delete_gateway(caller: Caller, gateway_id: int) -> None:
    gateway = stores.gateways.get(caller.tenant_id, gateway_id)
    users = sorted(plan.id for plan in stores.plans.iterate(caller.tenant_id)
                   if isinstance(plan, ProtocolPlanEntity) and plan.gateway_id == gateway_id)
    if users:
        raise Conflict(f"Gateway {gateway_id} is used by protocol plan(s) {', '.join(map(str, users))}; "
                       "change them first")
    stores.gateways.delete(gateway)
    stores.secrets.delete(gateway_secret_name(caller.tenant_id, gateway_id))
    audit.record(caller.tenant_id, "gateway.deleted", f"Gateway '{gateway.name}' deleted", user=caller.login,
                 details={"gateway_id": gateway_id})


def _new_secret(kind: str, shared_key: str | None) -> tuple[str, dict[str, str]]:
    """The key to store, and what the record shows of it (a noVNC gateway's public half and its id)."""
    if kind == GUACAMOLE:
        assert shared_key is not None
        return shared_key.lower(), {}
    private_pem, public_pem = tokens.new_signing_key()
    return private_pem, {"verification_key": public_pem, "key_id": tokens.key_id(public_pem)}


def _moved_to(url: str, old_address: str, new_address: str) -> str:
    """The URL after the address changed: the same URL on the new host, when it was on the old one."""
    endpoint = endpoint_of(url)
    if endpoint is None or endpoint.host != _host_key(old_address):
        return url  # the URL names another host: the check below asks for it
    scheme, rest = url.split("://", 1)
    path = rest[len(rest.split("/", 1)[0]):] or "/"
    host = f"[{new_address}]" if ":" in new_address else new_address
    default_port = {"https": 443, "http": 80}.get(endpoint.scheme)
    port = "" if endpoint.port == default_port else f":{endpoint.port}"
    return f"{scheme}://{host}{port}{path}"


def _host_key(address: str) -> str:
    return address.strip().rstrip(".").lower()


def _check_settings(gateway: Gateway, errors: ErrorList) -> None:
    endpoint = endpoint_of(gateway.url)
    if endpoint is None or endpoint.host != _host_key(gateway.address):
        errors.add("/body/url", f"The URL's host must be the gateway's address '{gateway.address}'")
    if sends_in_clear(gateway.url) and not gateway.allow_cleartext:
        errors.add("/body/url", f"http:// sends each token and the whole display in clear; use https://, or "
                                f"set {CLEARTEXT_FLAG} = 1 to accept that risk")


def _check_key_change(before: Gateway, after: Gateway, body: GatewayUpdate, errors: ErrorList) -> bool:
    """Whether the update brings a new key; a key never follows the URL to another origin."""
    kind = before.type
    if kind == NOVNC and body.shared_key is not None:
        errors.add("/body/shared_key", "A noVNC gateway's key is made by the broker: use rotate_key = 1")
    if kind == GUACAMOLE and body.rotate_key:
        errors.add("/body/rotate_key", "A Guacamole gateway's key is its shared_key: give the new one")
    new_key = bool(body.rotate_key) if kind == NOVNC else body.shared_key is not None
    reason = why_secret_needed_again([before.url], [after.url], [], [])
    if reason and not new_key:
        if kind == NOVNC:
            errors.add("/body/rotate_key", f"Set rotate_key = 1: the signing key would now sign for "
                                           f"{reason.removeprefix('it would now be sent to ')}; the gateway "
                                           "there then needs the new verification_key")
        else:
            errors.add("/body/shared_key", f"Give the shared key again: {reason}")
    return new_key


# ---------------------------------------------------------------------------------- protocol plans


def plan_problems(tenant_id: int, plan: ProtocolPlanEntity, errors: ErrorList) -> None:
    """An html5 plan names a gateway of the tenant that can carry its remote protocol; other plans none."""
    gateway_id = plan.gateway_id
    remote = remote_protocol(plan.options)
    if plan.protocol != "html5":
        if gateway_id:
            errors.add("/body/gateway_id", "Only an html5 plan goes through a gateway: set it to 0")
        return
    if not gateway_id:
        errors.add("/body/gateway_id", "An html5 plan names the gateway its desktops are reached through")
        return
    gateway = stores.gateways.find(tenant_id, gateway_id)
    if gateway is None:
        errors.add("/body/gateway_id", f"Gateway {gateway_id} does not exist")
        return
    allowed = REMOTE_PROTOCOLS[gateway.type]
    if remote not in allowed:
        errors.add("/body/options/remote_protocol",
                   f"A {gateway.type} gateway carries {', '.join(allowed)} only")
    if gateway.type == GUACAMOLE:
        for key in plan.options:
            if key in GUACAMOLE_RESERVED:
                errors.add(f"/body/options/{key}", "The broker sets this Guacamole parameter itself")


def remote_protocol(options: dict[str, Any]) -> str:
    return str(options.get("remote_protocol") or DEFAULT_REMOTE_PROTOCOL)


# ---------------------------------------------------------------------------------------- connect


@dataclass(frozen=True)
class GatewayLink:
    url: str
    expires_at: int
    gateway_id: int
    token_id: str | None = None  # the noVNC token's jti, for the audit (never the token itself)


def link_for(tenant_id: int, plan: ProtocolPlan, *, desktop_id: int, desktop_name: str, host: str,
             user: str) -> GatewayLink:
    """The URL that opens this one desktop through the plan's gateway, valid for about a minute."""
    gateway = stores.gateways.find(tenant_id, plan.gateway_id) if plan.gateway_id else None
    if gateway is None:
        raise ServiceUnavailable(f"The protocol plan '{plan.name}' names no HTML5 gateway; ask your "
                                 "administrator")
    remote = remote_protocol(plan.options)
    if remote not in REMOTE_PROTOCOLS[gateway.type] or (sends_in_clear(gateway.url)
                                                        and not gateway.allow_cleartext):
        raise ServiceUnavailable(f"Gateway '{gateway.name}' cannot open this desktop as configured; ask your "
                                 "administrator")
    key = _key_of(gateway)
    now = clock.time()
    if gateway.type == NOVNC:
        claims = tokens.novnc_claims(host=host, port=plan.port, desktop_id=desktop_id, user=user,
                                     gateway_id=gateway.id, tenant_id=tenant_id, now=now)
        token = tokens.sign_novnc_token(key, claims)
        url = tokens.novnc_viewer_url(gateway.url, token, plan.options)
        return GatewayLink(url, int(claims["exp"]), gateway.id, claims["jti"])
    parameters = {k: v for k, v in plan.options.items()
                  if k not in BROKER_OPTIONS and k not in GUACAMOLE_RESERVED and not k.startswith("novnc_")}
    parameters.update(hostname=host, port=str(plan.port))
    if remote in ("rdp", "ssh"):
        parameters.setdefault("username", user)
    document = tokens.guacamole_document(username=user, connection_name=desktop_name, protocol=remote,
                                         parameters=parameters, now=now)
    url = tokens.guacamole_url(gateway.url, tokens.seal_guacamole(key, document))
    return GatewayLink(url, int(now) + tokens.GUACAMOLE_SECONDS, gateway.id)


def _key_of(gateway: Gateway) -> str:
    tenant_id, gateway_id, version = gateway.tenant_id, gateway.id, gateway.key_version

    def load() -> str | None:
        return stores.secrets.get(gateway_secret_name(tenant_id, gateway_id))

    key = _keys.get((tenant_id, gateway_id, version), load)
    if key is None:
        _keys.drop((tenant_id, gateway_id, version))
        raise ServiceUnavailable(f"The key of gateway '{gateway.name}' is missing from Secrets Manager; an "
                                 "administrator must set it again")
    if gateway.type == NOVNC and tokens.key_id(tokens.public_key_of(key)) != gateway.key_id:
        # Read between a rotation's new secret and its record: never sign with a key the record does not name.
        _keys.drop((tenant_id, gateway_id, version))
        raise ServiceUnavailable("The gateway's key is being changed; try again in a moment", retry_after=2)
    return key
