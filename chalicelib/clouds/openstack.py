"""CloudPort on OpenStack and Virtuozzo Hybrid Infrastructure, through openstacksdk's proxy layer.

The only module under chalicelib/ that imports `openstack`/`keystoneauth1`: the HTTP path never loads
it (cold start); the provisioning worker and the center scan do, via `chalicelib.clouds.open_cloud`.
See docs/clouds.md for the error mapping, the request counting and what differs on VHI.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import openstack.connection
import openstack.exceptions as sdk_exceptions
import requests
import requests.adapters
import urllib3.exceptions
from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3 as ksa_v3

from chalicelib.clouds.request_counts import INVENTORY, TOKEN, RequestCounter, RequestCounts
from chalicelib.domain.cloud import (
    CenterAccess,
    CloudAuthFailed,
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudQuotaExceeded,
    CloudTransient,
    CloudUnreachable,
    Flavor,
    Inventory,
    NamedItem,
    Network,
    PowerAction,
    ServerInfo,
    ServerSpec,
    power_state_of,
)
from chalicelib.settings import get_settings

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0  # default; BROKER_CLOUD_READ_TIMEOUT_SECONDS (settings) sets it per connection
# One retry on a refused/reset connection smooths over an API worker restart; never more.
CONNECT_RETRIES = 1
# Name lookups (image/flavor/network) are cached this long per connection: long enough that a burst of
# creates resolves once, short enough that a re-uploaded image under the same name is picked up.
RESOLUTION_TTL_SECONDS = 300.0
DELETE_WAIT_SECONDS = 120.0
POLL_INTERVAL_SECONDS = 1.0
CONNECTION_CACHE_SIZE = 32
APP_NAME = "vdi-broker"

_UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$", re.IGNORECASE)
_QUOTA_PATTERN = re.compile(r"quota|limit ?exceeded|over ?limit", re.IGNORECASE)
# Cinder volume states from which a volume can be deleted, and those where it is on its way out.
_VOLUME_DELETABLE = {"available", "error", "error_restoring", "error_extending", "error_managing"}
_VOLUME_GOING = {"deleting", "deleted"}

# The category the current HTTP request is counted under; set by _CountingSession.request and read by
# the transport, which sees every request (retries and redirects included) exactly once.
_request_category: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_category", default=None
)
# Set while the adapter lists or resolves inventory, so those requests count as `inventory`.
_inventory_scope: contextvars.ContextVar[bool] = contextvars.ContextVar("inventory_scope", default=False)


def _looks_like_uuid(value: str) -> bool:
    return bool(_UUID_PATTERN.match(value))


# --- error mapping -------------------------------------------------------------------------------------


def _http_error_message(error: Exception) -> str:
    details = getattr(error, "details", None)
    text = str(details).strip() if details else ""
    if not text:
        text = (getattr(error, "message", None) or str(error)).strip()
    return text or error.__class__.__name__


def _from_status(status: int | None, message: str) -> CloudError:
    if status == 401:
        return CloudAuthFailed(message)
    if status in (403, 409, 413) and _QUOTA_PATTERN.search(message):
        # Nova: 403 "Quota exceeded for instances" (413 in older releases); Cinder: 413 VolumeLimitExceeded;
        # Neutron: 409 "Quota exceeded for resources: ['floatingip']".
        return CloudQuotaExceeded(message)
    if status == 403:
        return CloudAuthFailed(message)  # policy forbids it: the center's account lacks a role
    if status == 404:
        return CloudNotFound(message)
    if status in (409, 412):
        return CloudConflict(message)
    if status in (413, 429) or (status is not None and status >= 500):
        return CloudTransient(message)
    return CloudError(message)


def _connection_failure_reason(error: Exception) -> str:
    text = str(error)
    for marker, reason in (("refused", "connection refused"), ("Name or service not known", "unknown host"),
                           ("No route to host", "no route to host"), ("reset", "connection reset")):
        if marker in text:
            return reason
    return text


def map_cloud_error(error: Exception, where: str) -> CloudError:
    """Turn an SDK or keystoneauth exception into the broker's CloudError family.

    `where` names what was being called ("Nova at http://...") for failures that carry no text of the
    cloud's own; HTTP errors keep the cloud's message verbatim.
    """
    if isinstance(error, CloudError):
        return error
    if isinstance(error, ksa_exceptions.ConnectTimeout):
        # keystoneauth reports both connect and read timeouts as ConnectTimeout; the cause tells them apart.
        if isinstance(error.__context__, requests.exceptions.ConnectTimeout):
            return CloudUnreachable(f"cannot reach {where}: connection timed out")
        return CloudTransient(f"{where} did not answer in time: {error}")
    if isinstance(error, ksa_exceptions.ConnectFailure | requests.exceptions.ConnectionError):
        return CloudUnreachable(f"cannot reach {where}: {_connection_failure_reason(error)}")
    if isinstance(error, ksa_exceptions.EndpointNotFound | sdk_exceptions.ServiceDiscoveryException):
        return CloudNotFound(f"the service catalog has no endpoint for {where}: {error}")
    if isinstance(error, ksa_exceptions.HttpError):
        return _from_status(error.http_status, _http_error_message(error))
    if isinstance(error, sdk_exceptions.HttpException):
        return _from_status(error.status_code, _http_error_message(error))
    if isinstance(error, sdk_exceptions.DuplicateResource):
        return CloudConflict(str(error))
    if isinstance(error, sdk_exceptions.ResourceTimeout):
        return CloudTransient(str(error))
    if isinstance(error, ksa_exceptions.UnknownConnectionError) and isinstance(
        error.original, SentNotAnswered
    ):
        return CloudTransient(f"{where} did not answer in time (the request may have been carried out): "
                              f"{error.original}")
    if isinstance(error, ksa_exceptions.ClientException | sdk_exceptions.SDKException):
        return CloudError(str(error) or error.__class__.__name__)
    raise error


# --- the counted, time-limited HTTP session ------------------------------------------------------------

# A repeated POST (or PATCH) is not harmless: Nova would build a second server under the same name.
_NOT_IDEMPOTENT = frozenset({"POST", "PATCH"})


class SentNotAnswered(requests.exceptions.RequestException):
    """A POST/PATCH went out and no answer came back (read timeout, connection lost): the cloud may have
    carried it out, so it is never sent again. keystoneauth retries timeouts and connection failures
    (CONNECT_RETRIES) but not this; map_cloud_error makes it a CloudTransient."""


def _never_connected(error: requests.exceptions.RequestException) -> bool:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.exceptions.ConnectTimeout) or isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


class _TimeoutCountingAdapter(requests.adapters.HTTPAdapter):
    """requests transport: default (connect, read) timeouts and one count per request actually sent."""

    def __init__(self, counter: RequestCounter, read_timeout: float = READ_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self._counter = counter
        self._read_timeout = read_timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (CONNECT_TIMEOUT_SECONDS, self._read_timeout)
        category = _request_category.get() or "unknown"
        self._counter.record(category)
        try:
            return super().send(request, **kwargs)
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as error:
            # Safe to retry: nothing was sent, or a token request (asking for a token twice is harmless).
            if request.method not in _NOT_IDEMPOTENT or category == TOKEN or _never_connected(error):
                raise
            raise SentNotAnswered(f"{request.method} {request.url}: {error}") from error


class _CountingSession(ksa_session.Session):
    """keystoneauth session that labels each request with its category before it is sent."""

    def __init__(
        self, auth: ksa_v3.Password, counter: RequestCounter, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> None:
        http = requests.Session()
        transport = _TimeoutCountingAdapter(counter, read_timeout)
        http.mount("http://", transport)
        http.mount("https://", transport)
        super().__init__(auth=auth, session=http, app_name=APP_NAME)
        self._identity_prefix = _url_prefix(auth.auth_url)

    def request(self, url: str, method: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        category = self._categorise(url, kwargs.get("endpoint_filter"))
        reset_token = _request_category.set(category)
        try:
            return super().request(url, method, **kwargs)
        finally:
            _request_category.reset(reset_token)

    def _categorise(self, url: str, endpoint_filter: dict[str, Any] | None) -> str:
        service_type = (endpoint_filter or {}).get("service_type")
        if service_type == "identity" or (not service_type and url.startswith(self._identity_prefix)):
            return TOKEN
        if _inventory_scope.get():
            return INVENTORY
        return _canonical_service(service_type) if service_type else self._service_of_url(url)

    def _service_of_url(self, url: str) -> str:
        # Version discovery (GET of a service's root) carries no endpoint_filter: find it in the catalog.
        access = getattr(self.auth, "auth_ref", None)
        if access is not None and access.service_catalog is not None:
            prefix = _url_prefix(url)
            for service_type, endpoints in access.service_catalog.get_endpoints().items():
                if any(_url_prefix(endpoint.get("url", "")) == prefix for endpoint in endpoints):
                    return _canonical_service(service_type)
        return "unknown"


def _url_prefix(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _canonical_service(service_type: str) -> str:
    return {"volumev3": "block-storage", "volumev2": "block-storage", "volume": "block-storage"}.get(
        service_type, service_type
    )


# --- connection cache ----------------------------------------------------------------------------------


@dataclass
class _Resolved:
    value: Any
    expires_at: float


@dataclass
class _CenterConnection:
    """What one process keeps per center: the SDK connection (and so its token), counts, resolved names."""

    access: CenterAccess
    connection: openstack.connection.Connection
    session: _CountingSession
    counter: RequestCounter
    resolved: dict[tuple[str, str], _Resolved] = field(default_factory=dict)
    # Held while a name is resolved, so that a burst of creates on several threads resolves it once.
    resolving: threading.RLock = field(default_factory=threading.RLock)


_connections: OrderedDict[tuple[str, ...], _CenterConnection] = OrderedDict()
_connections_lock = threading.Lock()


def _cache_key(access: CenterAccess) -> tuple[str, ...]:
    # The password is part of the key (hashed, never kept in clear in the key) so a changed password
    # opens a new connection instead of reusing a token minted with the old one.
    password_hash = hashlib.sha256(access.password.encode()).hexdigest()
    return (access.auth_url.rstrip("/"), access.domain, access.project, access.username, password_hash,
            access.region or "", access.center_type.value, access.project_domain_name)


def _password_auth(access: CenterAccess, scoped: bool = True) -> ksa_v3.Password:
    scope: dict[str, str] = {}
    if scoped:
        # The project's domain, not the user's: users often live in another (an LDAP-backed one).
        scope = {"project_name": access.project, "project_domain_name": access.project_domain_name}
    return ksa_v3.Password(auth_url=access.auth_url, username=access.username, password=access.password,
                           user_domain_name=access.domain, **scope)


def _connect(access: CenterAccess) -> _CenterConnection:
    counter = RequestCounter()
    session = _CountingSession(_password_auth(access), counter, get_settings().cloud_read_timeout_seconds)
    # Passing a session makes the SDK skip clouds.yaml and OS_* variables entirely.
    connection = openstack.connection.Connection(
        session=session, region_name=access.region, app_name=APP_NAME,
        connect_retries=CONNECT_RETRIES, status_code_retries=0, image_status_code_retries=0,
    )
    return _CenterConnection(access=access, connection=connection, session=session, counter=counter)


def open_cloud(access: CenterAccess) -> OpenStackCloud:
    """The adapter for one center; reuses this process's connection (and token) for the same access."""
    key = _cache_key(access)
    with _connections_lock:
        center = _connections.get(key)
        if center is None:
            center = _connect(access)
            _connections[key] = center
            while len(_connections) > CONNECTION_CACHE_SIZE:
                _connections.popitem(last=False)
        _connections.move_to_end(key)
    return OpenStackCloud(center)


def forget_cached_connections() -> None:
    """Drop every cached connection (tests; a credential rotation)."""
    with _connections_lock:
        _connections.clear()


# --- the adapter ---------------------------------------------------------------------------------------


class OpenStackCloud:
    """CloudPort for one OpenStack/VHI project. Cheap to create: the state lives in the cached connection."""

    def __init__(self, center: _CenterConnection, delete_wait_seconds: float = DELETE_WAIT_SECONDS) -> None:
        self._center = center
        self._conn = center.connection
        self._access = center.access
        self._delete_wait_seconds = delete_wait_seconds

    # -- request counting

    @property
    def request_counts(self) -> RequestCounts:
        """Requests sent on this center's connection so far (shared by every adapter of that access)."""
        return self._center.counter.reading()

    def reset_request_counts(self) -> None:
        self._center.counter.reset()

    # -- plumbing

    def _where(self, service: str) -> str:
        if service == "Keystone":
            return f"Keystone at {self._access.auth_url}"
        return f"{service} of project '{self._access.project}'"

    @contextmanager
    def _translated(self, service: str) -> Iterator[None]:
        try:
            yield
        except CloudError:
            raise
        except Exception as error:  # every SDK/keystoneauth failure leaves as a CloudError
            raise map_cloud_error(error, self._where(service)) from error

    @contextmanager
    def _counting_as_inventory(self) -> Iterator[None]:
        reset_token = _inventory_scope.set(True)
        try:
            yield
        finally:
            _inventory_scope.reset(reset_token)

    def _cached(self, kind: str, ref: str, load: Callable[[], Any]) -> Any:
        key = (kind, ref)
        entry = self._center.resolved.get(key)
        if entry is not None and entry.expires_at > time.monotonic():
            return entry.value
        with self._center.resolving:
            entry = self._center.resolved.get(key)  # another thread may have resolved it meanwhile
            now = time.monotonic()
            if entry is not None and entry.expires_at > now:
                return entry.value
            with self._counting_as_inventory():
                value = load()
            self._center.resolved[key] = _Resolved(value, now + RESOLUTION_TTL_SECONDS)
            return value

    # -- CloudPort

    def check(self) -> None:
        """Authenticate afresh (a cached token proves nothing about today's password); confirm the project."""
        auth = self._center.session.auth
        with self._translated("Keystone"):
            try:
                auth.invalidate()
                access_info = auth.get_access(self._center.session)
            except ksa_exceptions.Unauthorized as error:
                raise self._explain_unauthorized() from error
        if not access_info.project_id:  # Keystone scoped it by name in our domain: that is the project
            raise CloudAuthFailed(f"the token is not scoped to project '{self._access.project}'")

    def _explain_unauthorized(self) -> CloudAuthFailed:
        # Keystone answers 401 both for a bad password and for a project the user cannot scope to; an
        # unscoped authentication with the same credentials tells the two apart.
        try:
            self._center.session.get_token(auth=_password_auth(self._access, scoped=False))
        except ksa_exceptions.Unauthorized:
            return CloudAuthFailed(f"wrong user name or password (user '{self._access.username}' "
                                   f"in domain '{self._access.domain}')")
        except Exception as error:
            reason = map_cloud_error(error, self._where("Keystone"))
            return CloudAuthFailed(f"authentication failed: {reason}")
        return CloudAuthFailed(
            f"project '{self._access.project}' not found in domain '{self._access.project_domain_name}' "
            f"(or user '{self._access.username}' has no role on it)"
        )

    def inventory(self) -> Inventory:
        with self._translated("the cloud"), self._counting_as_inventory():
            images = [NamedItem(image.id, image.name or image.id)
                      for image in self._conn.image.images(status="active")]
            flavors = [Flavor(flavor.id, flavor.name, flavor.vcpus or 0, flavor.ram or 0, flavor.disk or 0)
                       for flavor in self._conn.compute.flavors(details=True)]
            networks = [Network(net.id, net.name or net.id, bool(net.is_router_external))
                        for net in self._conn.network.networks()]
            zones = [zone.name for zone in self._conn.compute.availability_zones(details=False)
                     if (zone.state or {}).get("available")]
            groups = [NamedItem(group.id, group.name)
                      for group in self._conn.network.security_groups(project_id=self._project_id())]
            volume_types = self._volume_types()
        return Inventory(
            images=sorted(images, key=lambda item: item.name),
            flavors=sorted(flavors, key=lambda item: (item.vcpus, item.ram_mb, item.name)),
            networks=sorted(networks, key=lambda item: item.name),
            availability_zones=sorted(zones),
            security_groups=sorted(groups, key=lambda item: item.name),
            volume_types=sorted(volume_types, key=lambda item: item.name),
        )

    def _volume_types(self) -> list[NamedItem]:
        try:
            return [NamedItem(kind.id, kind.name) for kind in self._conn.block_storage.types()]
        except (ksa_exceptions.EndpointNotFound, sdk_exceptions.ServiceDiscoveryException,
                ksa_exceptions.CatalogException):
            return []  # a project without Cinder simply offers no volume types

    def _project_id(self) -> str:
        return self._conn.current_project_id

    def list_servers(self) -> list[ServerInfo]:
        with self._translated("Nova"):
            return [_server_info(server) for server in self._conn.compute.servers(details=True)]

    def get_server(self, server_id: str) -> ServerInfo | None:
        with self._translated("Nova"):
            try:
                return _server_info(self._conn.compute.get_server(server_id))
            except sdk_exceptions.NotFoundException:
                return None

    def find_servers(self, name: str) -> list[ServerInfo]:
        # Nova treats `name` as a (database) regular expression, case-insensitive on MySQL: anchor and
        # escape it so "desk-1" does not match "desk-10", then compare exactly.
        with self._translated("Nova"):
            candidates = self._conn.compute.servers(details=True, name=f"^{re.escape(name)}$")
            return [_server_info(server) for server in candidates if server.name == name]

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        with self._translated("Nova"):
            image_id = self._image_id(spec.image)
            flavor = self._flavor(spec.flavor)
            attributes: dict[str, Any] = {
                "name": spec.name,
                "flavor_id": flavor.id,
                "networks": [{"uuid": self._network_id(spec.network)}],
                "metadata": dict(spec.metadata),
            }
            if spec.availability_zone:
                attributes["availability_zone"] = spec.availability_zone
            if spec.security_groups:
                attributes["security_groups"] = [{"name": group} for group in spec.security_groups]
            if spec.user_data:
                attributes["user_data"] = base64.b64encode(spec.user_data.encode()).decode("ascii")
            if spec.boot_from_volume:
                attributes["block_device_mapping"] = [self._root_volume_mapping(spec, image_id)]
            else:
                attributes["image_id"] = image_id
            created = self._conn.compute.create_server(**attributes)
        # Nova's 202 carries only the id; what we asked for is what it is building (shaped like get_server).
        return ServerInfo(
            id=created.id, name=spec.name, status="BUILD", power_state=power_state_of("BUILD"),
            metadata=dict(spec.metadata), availability_zone=spec.availability_zone,
            flavor=flavor.name, image=None if spec.boot_from_volume else image_id,
        )

    def _root_volume_mapping(self, spec: ServerSpec, image_id: str) -> dict[str, Any]:
        mapping: dict[str, Any] = {
            "boot_index": 0,
            "uuid": image_id,
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": spec.volume_size_gb or self._default_volume_size(spec, image_id),
            "delete_on_termination": spec.delete_volume_on_termination,
        }
        if spec.volume_type:
            mapping["volume_type"] = spec.volume_type  # Nova microversion 2.67+, negotiated by the SDK
        return mapping

    def _default_volume_size(self, spec: ServerSpec, image_id: str) -> int:
        flavor_disk = self._flavor(spec.flavor).disk or 0
        if flavor_disk > 0:
            return flavor_disk
        return max(self._image(image_id).min_disk or 0, 1)

    def _flavor(self, ref: str) -> Any:
        # Flavor ids are not always UUIDs ("1", "m1.tiny" on some clouds): list once, match id then name.
        flavors = self._cached("flavors", "*", lambda: list(self._conn.compute.flavors(details=True)))
        for flavor in flavors:
            if flavor.id == ref:
                return flavor
        named = [flavor for flavor in flavors if flavor.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            raise CloudConflict(f"more than one flavor is named '{ref}'; use its id")
        self._center.resolved.pop(("flavors", "*"), None)  # a flavor added since the listing shows next time
        raise CloudNotFound(f"flavor '{ref}' not found in project '{self._access.project}'")

    def _image(self, image_id: str) -> Any:
        return self._cached("image", image_id, lambda: self._conn.image.get_image(image_id))

    def _image_id(self, ref: str) -> str:
        if _looks_like_uuid(ref):
            return ref  # Nova validates it; no lookup needed
        def load() -> str:
            active = [image for image in self._conn.image.images(name=ref) if image.status == "active"]
            return self._unique("image", ref, active).id

        return self._cached("image-name", ref, load)

    def _network_id(self, ref: str) -> str:
        if _looks_like_uuid(ref):
            return ref
        def load() -> str:
            return self._unique("network", ref, list(self._conn.network.networks(name=ref))).id

        return self._cached("network-name", ref, load)

    def _unique(self, kind: str, ref: str, matches: list[Any]) -> Any:
        if not matches:
            raise CloudNotFound(f"{kind} '{ref}' not found in project '{self._access.project}'")
        if len(matches) > 1:
            raise CloudConflict(f"more than one {kind} is named '{ref}'; use its id")
        return matches[0]

    def associate_floating_ip(self, server_id: str) -> str:
        with self._translated("Neutron"):
            server = self._conn.compute.get_server(server_id)
            if server.status in ("BUILD", "ERROR") or (server.status or "").startswith("DELETE"):
                raise CloudConflict(
                    f"server {server_id} is {server.status}; a floating IP needs an ACTIVE server"
                )
            ports = [port for port in self._conn.network.ports(device_id=server_id) if port.fixed_ips]
            if not ports:
                raise CloudConflict(f"server {server_id} has no network port yet")
            floating = list(self._conn.network.ips(port_id=[port.id for port in ports]))
            if floating:
                return floating[0].floating_ip_address  # already has one: idempotent
            port = min(ports, key=lambda candidate: candidate.created_at or "")
            external_network_id = self._external_network_for(port.network_id)
            return self._attach_floating_ip(port.id, external_network_id)

    def _external_network_for(self, network_id: str) -> str:
        with self._counting_as_inventory():
            externals = list(self._conn.network.networks(is_router_external=True))
            if not externals:
                raise CloudNotFound(
                    f"project '{self._access.project}' sees no external network for floating IPs"
                )
            if len(externals) == 1:
                return externals[0].id
            # Several external networks: the one the private network's router uses as gateway.
            interfaces = self._conn.network.ports(
                network_id=network_id, device_owner="network:router_interface"
            )
            for interface in interfaces:
                router = self._conn.network.get_router(interface.device_id)
                gateway = (router.external_gateway_info or {}).get("network_id")
                if gateway:
                    return gateway
        raise CloudNotFound(f"no router connects network {network_id} to an external network")

    def _attach_floating_ip(self, port_id: str, external_network_id: str) -> str:
        project_ips = self._conn.network.ips(
            project_id=self._project_id(), floating_network_id=external_network_id
        )
        free = [ip for ip in project_ips if not ip.port_id]
        for candidate in free:
            try:
                # If-Match on the revision: when two workers grab the same free address, one gets 412.
                updated = self._conn.network.update_ip(candidate, port_id=port_id,
                                                       if_revision=candidate.revision_number)
                return updated.floating_ip_address
            except (sdk_exceptions.PreconditionFailedException, sdk_exceptions.ConflictException,
                    sdk_exceptions.NotFoundException):
                continue  # taken or released meanwhile: try the next one
        created = self._conn.network.create_ip(floating_network_id=external_network_id, port_id=port_id)
        return created.floating_ip_address

    def power(self, server_id: str, action: PowerAction) -> None:
        compute = self._conn.compute
        operations: dict[PowerAction, Callable[[], Any]] = {
            PowerAction.START: lambda: compute.start_server(server_id),
            PowerAction.STOP: lambda: compute.stop_server(server_id),
            PowerAction.REBOOT: lambda: compute.reboot_server(server_id, "SOFT"),
            PowerAction.SUSPEND: lambda: compute.suspend_server(server_id),
            PowerAction.RESUME: lambda: compute.resume_server(server_id),
        }
        with self._translated("Nova"):
            operations[action]()

    def delete_server(self, server_id: str, delete_volumes: bool) -> None:
        with self._translated("Nova"):
            try:
                server = self._conn.compute.get_server(server_id) if delete_volumes else None
                self._conn.compute.delete_server(server_id, ignore_missing=True)
            except sdk_exceptions.NotFoundException:
                return
            if server is None:
                return
            volume_ids = [attachment.id for attachment in server.attached_volumes or []]
            deadline = time.monotonic() + self._delete_wait_seconds
            self._wait_until_server_gone(server_id, deadline)
            for volume_id in volume_ids:
                self._delete_leftover_volume(volume_id, deadline)

    def _wait_until_server_gone(self, server_id: str, deadline: float) -> None:
        while True:
            try:
                server = self._conn.compute.get_server(server_id)
            except sdk_exceptions.NotFoundException:
                return
            if (server.status or "").upper() in ("DELETED", "SOFT_DELETED"):
                return
            if time.monotonic() >= deadline:
                raise CloudTransient(
                    f"server {server_id} is still {server.status} after {self._delete_wait_seconds:.0f} s; "
                    "its volumes were left for a later pass"
                )
            time.sleep(POLL_INTERVAL_SECONDS)

    def _delete_leftover_volume(self, volume_id: str, deadline: float) -> None:
        # Volumes created with delete_on_termination are already going; the others detach, then go.
        while True:
            try:
                volume = self._conn.block_storage.get_volume(volume_id)
            except sdk_exceptions.NotFoundException:
                return
            if volume.status in _VOLUME_GOING:
                return
            if volume.status in _VOLUME_DELETABLE:
                try:
                    self._conn.block_storage.delete_volume(volume_id, ignore_missing=True)
                    return
                except sdk_exceptions.BadRequestException:
                    pass  # its state changed under us (still detaching): look again
            if time.monotonic() >= deadline:
                raise CloudTransient(f"volume {volume_id} is still {volume.status}; not deleted")
            time.sleep(POLL_INTERVAL_SECONDS)


def _server_info(server: Any) -> ServerInfo:
    fixed: list[str] = []
    floating: list[str] = []
    for addresses in (server.addresses or {}).values():
        for address in addresses:
            is_floating = address.get("OS-EXT-IPS:type") == "floating"
            (floating if is_floating else fixed).append(address.get("addr", ""))
    fault = server.fault or {}
    flavor = server.flavor
    image = server.image
    return ServerInfo(
        id=server.id,
        name=server.name,
        status=server.status or "",
        power_state=power_state_of(server.status),
        metadata=dict(server.metadata or {}),
        fault=(str(fault.get("message", "")).strip() or None) if fault else None,
        fixed_addresses=tuple(fixed),
        floating_addresses=tuple(floating),
        availability_zone=server.availability_zone,
        flavor=(flavor.original_name or flavor.name or flavor.id) if flavor else None,
        image=(image.id or None) if image else None,
        volume_ids=tuple(attachment.id for attachment in server.attached_volumes or []),
        created_at=server.created_at,
    )
