"""Provisioning defaults per center type (pure). The pool service fills unset pool parameters from here.

Virtuozzo Hybrid Infrastructure speaks the OpenStack APIs, so the same adapter drives it; what differs
is how a VHI project is normally set up (reference/vhi-provisioning-new-instances.txt):
- its compute availability zone is `nova`, and the guide says to select exactly that;
- instances should boot from a new volume made from the image ("Create new volume"), because VHI's
  storage is its own block storage behind Cinder and ephemeral disks are not the recommended layout;
- the volume type comes from Cinder's list for the project (no hard-coded name: VHI names them after
  its storage policies), so the default leaves it unset and the form offers Cinder's types.
Plain OpenStack keeps the Leostream defaults: no zone (Nova's default schedule zone), ephemeral disk.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.cloud import CenterType

VHI_AVAILABILITY_ZONE = "nova"


def provisioning_defaults(center_type: CenterType) -> dict[str, Any]:
    """Defaults for a pool's provisioning parameters, keyed by ServerSpec field names.

    Returns a new dict each call, so a caller may update it freely.
    """
    if center_type is CenterType.VIRTUOZZO:
        return {
            "availability_zone": VHI_AVAILABILITY_ZONE,
            "boot_from_volume": True,
            "volume_size_gb": None,  # None: the flavor's disk (or the image's min_disk when that is 0)
            "volume_type": None,  # chosen from the project's Cinder volume types
            "delete_volume_on_termination": True,
        }
    return {
        "availability_zone": None,
        "boot_from_volume": False,
        "volume_size_gb": None,
        "volume_type": None,
        "delete_volume_on_termination": True,
    }
