"""CloudPort on OpenStack and Virtuozzo Hybrid Infrastructure, through openstacksdk's proxy layer.

The adapter: what the broker asks each service (Nova, Neutron, Glance, Cinder, Keystone) and how the
answers become ServerInfo and Inventory. Its HTTP session and connection cache live in
`openstack_session.py`, the meaning of its failures in `openstack_errors.py`. These three are the only
modules under chalicelib/ that import `openstack`/`keystoneauth1`: the HTTP path never loads them (cold
start); the provisioning worker and the center scan do, via `chalicelib.clouds.open_cloud`.
See docs/clouds.md for the operations, the error mapping, the request counting and what differs on VHI.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openstack.exceptions as sdk_exceptions
from keystoneauth1 import exceptions as ksa_exceptions

from chalicelib.clouds.openstack_errors import map_cloud_error
from chalicelib.clouds.openstack_session import (
    CenterConnection,
    connection_for,
    counting_as_inventory,
    password_auth,
)
from chalicelib.clouds.request_counts import RequestCounts
from chalicelib.domain.cloud import (
    CenterAccess,
    CloudAuthFailed,
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudTransient,
    Flavor,
    Inventory,
    NamedItem,
    Network,
    PowerAction,
    ServerInfo,
    ServerSpec,
    power_state_of,
)

DELETE_WAIT_SECONDS = 120.0
POLL_INTERVAL_SECONDS = 1.0

_UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$", re.IGNORECASE)
# Cinder volume states from which a volume can be deleted, and those where it is on its way out.
_VOLUME_DELETABLE = {"available", "error", "error_restoring", "error_extending", "error_managing"}
_VOLUME_GOING = {"deleting", "deleted"}


def _looks_like_uuid(value: str) -> bool:
    return bool(_UUID_PATTERN.match(value))


def open_cloud(access: CenterAccess) -> OpenStackCloud:
    """The adapter for one center; reuses this process's connection (and token) for the same access."""
    return OpenStackCloud(connection_for(access))


class OpenStackCloud:
    """CloudPort for one OpenStack/VHI project. Cheap to create: the state lives in the cached connection."""

    def __init__(self, center: CenterConnection, delete_wait_seconds: float = DELETE_WAIT_SECONDS) -> None:
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
            self._center.session.get_token(auth=password_auth(self._access, scoped=False))
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
        with self._translated("the cloud"), counting_as_inventory():
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
        flavors = self._center.resolved(
            "flavors", "*", lambda: list(self._conn.compute.flavors(details=True))
        )
        for flavor in flavors:
            if flavor.id == ref:
                return flavor
        named = [flavor for flavor in flavors if flavor.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            raise CloudConflict(f"more than one flavor is named '{ref}'; use its id")
        self._center.forget_resolved("flavors", "*")  # a flavor added since the listing shows next time
        raise CloudNotFound(f"flavor '{ref}' not found in project '{self._access.project}'")

    def _image(self, image_id: str) -> Any:
        return self._center.resolved("image", image_id, lambda: self._conn.image.get_image(image_id))

    def _image_id(self, ref: str) -> str:
        if _looks_like_uuid(ref):
            return ref  # Nova validates it; no lookup needed
        def load() -> str:
            active = [image for image in self._conn.image.images(name=ref) if image.status == "active"]
            return self._unique("image", ref, active).id

        return self._center.resolved("image-name", ref, load)

    def _network_id(self, ref: str) -> str:
        if _looks_like_uuid(ref):
            return ref
        def load() -> str:
            return self._unique("network", ref, list(self._conn.network.networks(name=ref))).id

        return self._center.resolved("network-name", ref, load)

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
        with counting_as_inventory():
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
