"""The kinds the HTTP layer names when it declares its routes, kept apart so that declaring them loads
no service: center types and plan kinds."""

from __future__ import annotations

from enum import Enum


class CenterType(str, Enum):
    OPENSTACK = "openstack"
    VIRTUOZZO = "virtuozzo"


CENTER_TYPE_LABELS = {CenterType.OPENSTACK.value: "OpenStack",
                      CenterType.VIRTUOZZO.value: "Virtuozzo Hybrid Infrastructure"}

# The reference's uncategorized center: desktops registered by hand (by name and address), no cloud behind
# it, so never checked, scanned or provisioned against one. Not a CenterType (those open a cloud).
UNCATEGORIZED = "uncategorized"
UNCATEGORIZED_LABEL = "Uncategorized Desktops"


def center_type_label(center_type: str) -> str:
    return UNCATEGORIZED_LABEL if center_type == UNCATEGORIZED else CENTER_TYPE_LABELS[center_type]

KIND_PROTOCOL = "protocol"
KIND_RELEASE = "release"
KIND_POWER_CONTROL = "power_control"
