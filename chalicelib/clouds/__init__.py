"""Clouds behind the CloudPort (chalicelib/domain/cloud.py).

Importing this package is cheap and never loads openstacksdk: the HTTP path imports it for the types,
and only a call to `open_cloud` (worker, scan) pulls in `chalicelib.clouds.openstack`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.clouds.request_counts import RequestCounts

if TYPE_CHECKING:
    from chalicelib.clouds.openstack import OpenStackCloud
    from chalicelib.domain.cloud import CenterAccess

__all__ = ["RequestCounts", "open_cloud"]


def open_cloud(access: CenterAccess) -> OpenStackCloud:
    """The OpenStack/VHI adapter for one center (imports openstacksdk on first use)."""
    from chalicelib.clouds.openstack import open_cloud as open_openstack_cloud

    return open_openstack_cloud(access)
