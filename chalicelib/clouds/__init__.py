"""Clouds behind the CloudPort (chalicelib/domain/cloud.py).

Importing this package is cheap and never loads openstacksdk: only opening a cloud (worker, scan)
pulls in `chalicelib.clouds.openstack` (the adapter) and, through it, `openstack_session` (HTTP session,
connection cache) and `openstack_errors` (SDK failures as CloudErrors). `cloud_for` is what services
call; tests may swap its factory for an in-memory cloud with `use_cloud_factory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.clouds.request_counts import RequestCounts
from chalicelib.domain.cloud import CenterAccess, CloudPort

if TYPE_CHECKING:
    from chalicelib.clouds.openstack import OpenStackCloud

__all__ = ["RequestCounts", "cloud_for", "open_cloud", "use_cloud_factory"]

CloudFactory = Callable[[CenterAccess], CloudPort]
_factory: CloudFactory | None = None


def open_cloud(access: CenterAccess) -> OpenStackCloud:
    """The OpenStack/VHI adapter for one center (imports openstacksdk on first use)."""
    from chalicelib.clouds.openstack import open_cloud as open_openstack_cloud

    return open_openstack_cloud(access)


def cloud_for(access: CenterAccess) -> CloudPort:
    return _factory(access) if _factory is not None else open_cloud(access)


def use_cloud_factory(factory: CloudFactory | None) -> None:
    """Replace how clouds are opened (tests: an in-memory cloud); None restores openstacksdk."""
    global _factory
    _factory = factory
