"""The pool entity (chalicelib/domain/entities/pools.py): read once with the defaults its readers used to
re-apply, written back as it was stored."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from typing import Any

import pytest

from chalicelib.domain.entities.pools import (
    Pool,
    PoolDefinition,
    PoolLog,
    Provision,
    ProvisionCenter,
    ProvisioningAction,
    RetainHistory,
)
from chalicelib.schemas.pools import PoolBody
from chalicelib.services.pools import settings_of


def _stored(**changes: Any) -> dict[str, Any]:
    """A document as a save writes it (services/pools.settings_of a full body)."""
    body = PoolBody.model_validate({
        "name": "p", "display_name": "Pool P", "notes": "n", "running_desktops_threshold": 2,
        "pool_definition": {"restrict_by": "C", "server_ids": [4, 9], "parent_pool_id": 3},
        "provision": {"provision_on_off": 1, "provision_threshold": 1, "provision_max": 5,
                      "provision_vm_name": "vd-{SEQUENCE}",
                      "center": {"type": "openstack", "id": 9, "image": "img", "flavor": "small"}},
        "log": {"log_warning_threshold": 4, "retain_history": {"pool_history_interval": 0}},
        **changes})
    return Pool(tenant_id=1, name=body.name, **settings_of(body)).stored_doc()


def test_a_bare_document_is_read_with_the_defaults_its_readers_used_to_apply() -> None:
    pool = Pool.from_stored({}, tenant_id=3, id=7, name="p")
    assert (pool.display_name, pool.notes, pool.running_desktops_threshold) == ("", "", 0)
    definition = pool.pool_definition
    assert (definition.restrict_by, definition.server_ids, definition.attributes) == ("", [], [])
    assert (definition.pool_attribute_join, definition.parent_pool_id, definition.never_rogue) == ("A", 0, 0)
    assert pool.parent_pool_id == 0 and pool.provision is None and pool.provision_center_id is None
    assert (pool.log.log_information_threshold, pool.log.log_warning_threshold,
            pool.log.log_error_threshold) == (0, 0, 0)
    history = pool.log.retain_history
    assert (history.pool_history_age, history.pool_history_interval) == (7, 15)
    assert pool.stats == {} and pool.broker_state == {}


def test_empty_values_read_as_the_defaults() -> None:
    pool = Pool.from_stored({"pool_definition": {"restrict_by": None, "server_ids": None, "attributes": None,
                                                 "parent_pool_id": None}, "log": None},
                            tenant_id=3, id=7, name="p", stats=None, broker_state=None)
    assert (pool.pool_definition.restrict_by, pool.pool_definition.server_ids,
            pool.pool_definition.attributes, pool.parent_pool_id) == ("", [], [], 0)
    assert pool.log == PoolLog() and pool.stats == {} and pool.broker_state == {}


def test_a_document_as_a_save_writes_it_comes_back_unchanged() -> None:
    doc = _stored()
    pool = Pool.from_stored(doc, tenant_id=1, id=2, name="p")
    assert pool.stored_doc() == doc
    assert isinstance(pool.pool_definition, PoolDefinition) and isinstance(pool.log, PoolLog)
    assert isinstance(pool.log.retain_history, RetainHistory)
    assert pool.pool_definition.server_ids == [4, 9] and pool.parent_pool_id == 3
    assert pool.log.log_warning_threshold == 4 and pool.log.retain_history.pool_history_interval == 0
    assert pool.log.retain_history.pool_history_age == 7  # the schema's default, stored with the save
    provision = pool.provision
    assert isinstance(provision, Provision) and isinstance(provision.center, ProvisionCenter)
    assert (provision.provision_on_off, provision.provision_threshold, provision.provision_max) == (1, 1, 5)
    assert provision.center.image == "img" and provision.center.new_volume_size is None
    assert pool.provision_center_id == 9
    assert _stored(provision=None)["provision"] is None


def test_provisioning_is_read_with_the_defaults_its_readers_used_to_apply() -> None:
    provision = Provision.from_doc({"provision_on_off": 1, "provision_threshold": None, "provision_max": None,
                                    "provision_time_zone": None, "time_limits": None,
                                    "center": {"type": "openstack", "id": 4,
                                               "provisioning_actions": [{"prov_action_action": "start"}]}})
    assert (provision.provision_threshold, provision.provision_max, provision.provision_time_zone,
            provision.time_limits) == (0, 0, "", [])
    assert (provision.provision_vm_name_next_value, provision.provision_vm_display_name,
            provision.mark_deletable, provision.mark_unavailable, provision.provision_limits_enforce,
            provision.provision_forecast_auto, provision.provision_forecast_max_cap) == (1, "", 0, 0, 0, 0, 0)
    center = provision.center
    assert center is not None
    assert (center.network, center.availability_zone, center.assign_floating_ip, center.security_groups,
            center.create_new_volume, center.delete_volume_on_instance_delete, center.new_volume_size,
            center.new_volume_type) == ("", "", "", [], None, 1, None, "")
    assert center.provisioning_actions == [ProvisioningAction(prov_action_action="start")]
    assert (center.provisioning_actions[0].prov_action_wait_value,
            center.provisioning_actions[0].prov_action_wait_unit) == (0, "seconds")
    # an empty section is none, as every reader read it: nothing to provision, no center to create in
    assert Pool.from_stored({"provision": {}}, tenant_id=1, name="p").provision is None
    assert Provision.from_doc({"center": {}}).center is None


def test_keys_the_entity_does_not_know_are_written_back_unchanged_in_every_section() -> None:
    doc = _stored()
    doc["from_a_newer_broker"] = {"x": 1}
    doc["pool_definition"]["newer_rule"] = "r"
    doc["log"]["retain_history"]["newer_age"] = 3
    doc["provision"]["center"]["newer_setting"] = True
    doc["provision"]["center"]["provisioning_actions"] = [{
        "prov_action_action": "set_available", "prov_action_wait_value": 0,
        "prov_action_wait_unit": "seconds", "newer_step_key": 1}]
    pool = Pool.from_stored(doc, tenant_id=1, id=2, name="p")
    assert replace(pool, notes="edited").stored_doc() == {**doc, "notes": "edited"}
    assert not hasattr(pool, "from_a_newer_broker") and not hasattr(pool.pool_definition, "newer_rule")
    # what the routes and the save's checks read: the known keys only
    assert "newer_rule" not in pool.pool_definition.settings()
    assert "newer_age" not in pool.log.settings()["retain_history"]
    assert pool.provision is not None
    assert "newer_setting" not in pool.provision.settings()["center"]
    assert pool.provision.settings()["center"]["provisioning_actions"] == [
        {"prov_action_action": "set_available", "prov_action_wait_value": 0,
         "prov_action_wait_unit": "seconds"}]


def test_the_jobs_side_attributes_are_never_part_of_the_stored_document() -> None:
    pool = Pool.from_stored(_stored(), tenant_id=1, id=2, name="p", stats={"total_vm": 3},
                            broker_state={"stopped_by_broker": True})
    assert pool.stats == {"total_vm": 3} and pool.broker_state == {"stopped_by_broker": True}
    assert not {"stats", "broker_state"} & set(pool.stored_doc())
    assert not {"stats", "broker_state"} & set(Pool.settings_fields())


def test_a_pool_uses_the_centers_of_its_definition_and_the_one_it_provisions_in() -> None:
    pool = Pool.from_stored(_stored(), tenant_id=1, id=2, name="p")
    assert pool.uses_center(4) and pool.uses_center(9) and not pool.uses_center(5)
    elsewhere = Pool.from_stored(_stored(pool_definition={"restrict_by": "C", "server_ids": [4]}),
                                 tenant_id=1, id=2, name="p")
    assert elsewhere.uses_center(9) and not replace(elsewhere, provision=None).uses_center(9)


def test_a_pool_is_changed_only_by_making_a_new_one() -> None:
    pool = Pool.from_stored(_stored(), tenant_id=1, id=2, name="p")
    with pytest.raises(FrozenInstanceError):
        pool.notes = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        pool.pool_definition.parent_pool_id = 5  # type: ignore[misc]
