"""Provisioning defaults per center type."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.center_defaults import provisioning_defaults
from chalicelib.domain.cloud import CenterType, ServerSpec


def test_vhi_boots_from_a_new_volume_in_zone_nova() -> None:
    defaults = provisioning_defaults(CenterType.VIRTUOZZO)
    assert defaults["availability_zone"] == "nova"
    assert defaults["boot_from_volume"] is True
    assert defaults["volume_type"] is None  # picked from Cinder's list, never guessed


def test_openstack_keeps_nova_default_zone_and_ephemeral_disk() -> None:
    defaults = provisioning_defaults(CenterType.OPENSTACK)
    assert defaults["availability_zone"] is None
    assert defaults["boot_from_volume"] is False


@pytest.mark.parametrize("center_type", list(CenterType))
def test_defaults_apply_to_a_server_spec_and_are_a_fresh_copy(center_type: CenterType) -> None:
    base = ServerSpec(name="d", metadata={}, image="i", flavor="f", network="n")
    applied = replace(base, **provisioning_defaults(center_type))
    assert applied.boot_from_volume is provisioning_defaults(center_type)["boot_from_volume"]
    provisioning_defaults(center_type)["availability_zone"] = "changed"
    assert provisioning_defaults(center_type)["availability_zone"] != "changed"
