"""The kinds the HTTP layer names when it declares its routes, kept apart so that declaring them loads
no service: center types and plan kinds."""

from __future__ import annotations

from enum import Enum


class CenterType(str, Enum):
    OPENSTACK = "openstack"
    VIRTUOZZO = "virtuozzo"


CENTER_TYPE_LABELS = {CenterType.OPENSTACK.value: "OpenStack",
                      CenterType.VIRTUOZZO.value: "Virtuozzo Hybrid Infrastructure"}

KIND_PROTOCOL = "protocol"
KIND_RELEASE = "release"
KIND_POWER_CONTROL = "power_control"
