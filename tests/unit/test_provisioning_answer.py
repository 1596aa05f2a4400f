"""The one answer to "is this pool provisioning?" (domain/pools.provisioning_blocked)."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities.pools import Provision
from chalicelib.domain.pools import provisioning_blocked

ON = Provision.from_doc({"provision_on_off": 1, "center": {"id": 1}})


def test_a_pool_provisions_when_on_not_stopped_and_with_a_center() -> None:
    assert provisioning_blocked(ON, None) is None
    assert provisioning_blocked(ON, {"stopped_by_broker": False}) is None


def test_each_reason_not_to_provision() -> None:
    assert provisioning_blocked(None, None) == "provisioning is off"
    assert provisioning_blocked(replace(ON, provision_on_off=0), None) == "provisioning is off"
    assert provisioning_blocked(ON, {"stopped_by_broker": True}) == (
        "provisioning was stopped by the broker on error")
    assert provisioning_blocked(Provision(provision_on_off=1), None) == "no center to provision in"
