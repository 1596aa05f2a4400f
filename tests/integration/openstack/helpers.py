"""Helpers for the adapter's tests against the real services: SDK handles, waiting, cleanup."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openstack.connection
import openstack.exceptions
import pytest
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3 as ksa_v3

from chalicelib.clouds.openstack import OpenStackCloud
from chalicelib.domain.cloud import CenterAccess, ServerInfo

SETTLE_TIMEOUT_SECONDS = 120.0
# openstacksdk 4.22 warns about its own internals on nearly every call; only that noise is silenced.
OPENSTACK_TEST_MARKS = [
    pytest.mark.openstack,
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
]

_Found = TypeVar("_Found")


def sdk_connection(access: CenterAccess) -> openstack.connection.Connection:
    """A plain SDK connection for checking what the adapter did (never used by the adapter itself)."""
    auth = ksa_v3.Password(
        auth_url=access.auth_url,
        username=access.username,
        password=access.password,
        user_domain_name=access.domain,
        project_name=access.project,
        project_domain_name=access.project_domain_name,
    )
    return openstack.connection.Connection(session=ksa_session.Session(auth=auth), region_name=access.region)


def or_none(fetch: Callable[[], _Found]) -> _Found | None:
    try:
        return fetch()
    except openstack.exceptions.NotFoundException:
        return None


def wait_until(
    condition: Callable[[], bool], description: str, timeout: float = SETTLE_TIMEOUT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting until {description}")


def wait_for_status(
    cloud: OpenStackCloud, server_id: str, status: str, timeout: float = SETTLE_TIMEOUT_SECONDS
) -> ServerInfo:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        server = cloud.get_server(server_id)
        assert server is not None, f"server {server_id} vanished while waiting for {status}"
        if not seen or seen[-1] != server.status:
            seen.append(server.status)
        if server.status == status:
            return server
        if server.status == "ERROR":
            pytest.fail(f"server {server_id} went to ERROR ({server.fault}) while waiting for {status}")
        time.sleep(0.3)
    pytest.fail(f"server {server_id} never reached {status}; statuses seen {seen}")


def volume_settled(storage: Any, volume_id: str) -> bool:
    """Gone, or in a state where it can be deleted (or is being deleted)."""
    volume = or_none(lambda: storage.get_volume(volume_id))
    return volume is None or volume.status in ("available", "error", "deleting")


def volume_gone(storage: Any, volume_id: str) -> bool:
    return or_none(lambda: storage.get_volume(volume_id)) is None


@dataclass
class Leftovers:
    """What a test created; removed with admin rights at teardown, whatever the test's outcome."""

    admin: openstack.connection.Connection
    server_ids: list[str] = field(default_factory=list)
    volume_ids: list[str] = field(default_factory=list)
    floating_ip_ids: list[str] = field(default_factory=list)

    def server(self, created: ServerInfo) -> ServerInfo:
        self.server_ids.append(created.id)
        return created

    def clean(self) -> None:
        compute, storage, network = self.admin.compute, self.admin.block_storage, self.admin.network
        for server_id in self.server_ids:
            server = or_none(lambda server_id=server_id: compute.get_server(server_id))
            if server is not None:
                self.volume_ids.extend(attachment.id for attachment in server.attached_volumes or [])
                compute.delete_server(server_id, ignore_missing=True)
        for server_id in self.server_ids:
            wait_until(
                lambda server_id=server_id: or_none(lambda: compute.get_server(server_id)) is None,
                f"server {server_id} deleted",
            )
        for floating_ip_id in self.floating_ip_ids:
            network.delete_ip(floating_ip_id, ignore_missing=True)
        for volume_id in self.volume_ids:
            wait_until(
                lambda volume_id=volume_id: volume_settled(storage, volume_id), f"volume {volume_id} detached"
            )
            storage.delete_volume(volume_id, ignore_missing=True)


@dataclass(frozen=True)
class IsolatedProject:
    access: CenterAccess
    project_id: str
